#include "mt6d/cli/prom.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum fam {
	F_UP, F_INFO, F_CLIENT_STATE, F_THREAT, F_THREAT_SET, F_ROTATION, F_CONFIG_PERIOD,
	F_KEY_GENERATION, F_KEY_CHANGED, F_INTRO_CHANGED, F_REGISTERED, F_ACTIVE, F_SESSIONS,
	F_SESSIONS_STARTED, F_SESSIONS_ENDED, F_SESSION_ERRORS, F_REKEYS, F_INTRO_RX,
	F_INTRO_DROPS, F_INTRO_REPLAYED, F_ADDR_ERRORS, F_REQUESTS, F_RESPONSES_BAD,
	F_TEARDOWNS, F_REESTABLISH, F_RENEWALS, F_RENEWING, F_ROT_CHANGES, F_ROT_REFUSED,
	F_FETCHES, F_PUBLICATIONS, F_PUBLISH_FAILURES, F_PUBLISHED_CLIENTS, F_PUBLISH_PENDING,
	F_ANNOUNCES_ACKED, F_DHT_NODES, F_DHT_RX, F_DHT_TX, F_DHT_IDENT_CHANGES,
	F_DHT_IDENT_FAILURES, F_DHT_LINGERING, F_DHT_LANES, F_ND_ADDRS, F_ND_ANSWERED, F_ND_DROPS,
	F_GUARD_COMMITS, F_GUARD_ENDPOINTS, F_GUARD_ERRORS, F_GUARD_DROPPED, F_GUARD_AVG,
	F_GUARD_MAX, F_SHARED_RX, F_SHARED_HANDED, F_SHARED_DROPS, F_MUX_ENDPOINTS, F_MUX_RX,
	F_MUX_TX, F_MUX_DROPS, F_MUX_TX_ERRORS, F_FDS,
	F_S_RX_PACKETS, F_S_RX_BYTES, F_S_TX_PACKETS, F_S_TX_BYTES, F_S_DROPS, F_S_OFF_SLOT,
	F_S_ROTATIONS, F_S_LATE_MAX, F_S_ADDR_ERRORS, F_S_ROTATION, F_S_STARTED, F_S_LAST_RX,
	F_COUNT
};

#define C PROM_COUNTER
#define G PROM_GAUGE
static const struct prom_family families[F_COUNT] = {
	[F_UP] = { "mt6d_up", G, "1 if the daemon answered (or its counters file was read), 0 if not" },
	[F_INFO] = { "mt6d_info", G, "The daemon's role, interfaces and modes as labels; always 1" },
	[F_CLIENT_STATE] = { "mt6d_client_state", G, "The client's state as a label; always 1" },
	[F_THREAT] = { "mt6d_threat_level", G, "Threat level in force: 0 low, 1 normal, 2 high" },
	[F_THREAT_SET] = { "mt6d_threat_level_set", G, "Threat level the operator set: 0 low, 1 normal, 2 high" },
	[F_ROTATION] = { "mt6d_rotation_period_seconds", G, "Rotation period of the introduction addresses" },
	[F_CONFIG_PERIOD] = { "mt6d_config_period_seconds", G, "Period of the introduction key and its publication" },
	[F_KEY_GENERATION] = { "mt6d_key_generation", G, "Number of the introduction key in force (one more at each rekey)" },
	[F_KEY_CHANGED] = { "mt6d_key_change_timestamp_seconds", G, "UNIX time the introduction key last changed" },
	[F_INTRO_CHANGED] = { "mt6d_intro_change_timestamp_seconds", G, "UNIX time the client last took a new introduction config" },
	[F_REGISTERED] = { "mt6d_registered_clients", G, "Clients registered in the configuration" },
	[F_ACTIVE] = { "mt6d_active_clients", G, "Registered clients not expired" },
	[F_SESSIONS] = { "mt6d_sessions", G, "Sessions established now" },
	[F_SESSIONS_STARTED] = { "mt6d_sessions_started_total", C, "Sessions established" },
	[F_SESSIONS_ENDED] = { "mt6d_sessions_ended_total", C, "Sessions ended" },
	[F_SESSION_ERRORS] = { "mt6d_session_errors_total", C, "Valid session requests whose session could not be made" },
	[F_REKEYS] = { "mt6d_rekeys_total", C, "New introduction keys drawn" },
	[F_INTRO_RX] = { "mt6d_intro_rx_packets_total", C, "Datagrams received on the introduction sockets" },
	[F_INTRO_DROPS] = { "mt6d_intro_drops_total", C, "Introduction datagrams and session requests dropped, by reason" },
	[F_INTRO_REPLAYED] = { "mt6d_intro_replayed_packets_total", C, "Authentic introduction datagrams seen copied (each counted once)" },
	[F_ADDR_ERRORS] = { "mt6d_address_errors_total", C, "Introduction address adds and deletes the kernel refused" },
	[F_REQUESTS] = { "mt6d_session_requests_sent_total", C, "Session requests the client sent" },
	[F_RESPONSES_BAD] = { "mt6d_session_responses_rejected_total", C, "Session responses the client rejected" },
	[F_TEARDOWNS] = { "mt6d_teardowns_received_total", C, "Teardowns received from the server" },
	[F_REESTABLISH] = { "mt6d_reestablishments_total", C, "Sessions established again, by reason" },
	[F_RENEWALS] = { "mt6d_renewals_total", C, "New sessions begun beside a silent one, by reason" },
	[F_RENEWING] = { "mt6d_renewing", G, "1 while a new session is being made beside the current one" },
	[F_ROT_CHANGES] = { "mt6d_rotation_changes_total", C, "Rotation period changes the server announced and the client applied" },
	[F_ROT_REFUSED] = { "mt6d_rotation_changes_refused_total", C, "Rotation period changes the client refused" },
	[F_FETCHES] = { "mt6d_fetches_total", C, "Introduction config fetches from the DHT, by outcome" },
	[F_PUBLICATIONS] = { "mt6d_publications_total", C, "Client configs announced in the DHT, refreshes included" },
	[F_PUBLISH_FAILURES] = { "mt6d_publication_failures_total", C, "Publication runs that left a chunk short of its store quorum (retried)" },
	[F_PUBLISHED_CLIENTS] = { "mt6d_published_clients", G, "Clients whose config is published" },
	[F_PUBLISH_PENDING] = { "mt6d_publications_pending", G, "Publications due but waiting for a free slot" },
	[F_ANNOUNCES_ACKED] = { "mt6d_dht_announces_acked_total", C, "DHT announces acknowledged, over all nodes and ports" },
	[F_DHT_NODES] = { "mt6d_dht_nodes", G, "Good and questionable nodes in the DHT routing table" },
	[F_DHT_RX] = { "mt6d_dht_rx_messages_total", C, "DHT messages received" },
	[F_DHT_TX] = { "mt6d_dht_tx_messages_total", C, "DHT messages sent" },
	[F_DHT_IDENT_CHANGES] = { "mt6d_dht_identity_changes_total", C, "New DHT identities (address, port, node id) taken" },
	[F_DHT_IDENT_FAILURES] = { "mt6d_dht_identity_failures_total", C, "New DHT identities that could not be taken" },
	[F_DHT_LINGERING] = { "mt6d_dht_identity_lingering", G, "DHT identities whose previous node still answers" },
	[F_DHT_LANES] = { "mt6d_dht_identities", G, "DHT identities run side by side (a server's DHTNodes)" },
	[F_ND_ADDRS] = { "mt6d_nd_addresses", G, "Addresses the neighbour responder answers for (scale mode)" },
	[F_ND_ANSWERED] = { "mt6d_nd_answered_total", C, "Neighbour solicitations answered (scale mode)" },
	[F_ND_DROPS] = { "mt6d_nd_drops_total", C, "Neighbour solicitations not answered, by reason" },
	[F_GUARD_COMMITS] = { "mt6d_guard_commits_total", C, "nftables transactions of the guard" },
	[F_GUARD_ENDPOINTS] = { "mt6d_guard_endpoints_added_total", C, "Slot endpoints added to the guard's sets" },
	[F_GUARD_ERRORS] = { "mt6d_guard_errors_total", C, "Guard transactions the kernel refused" },
	[F_GUARD_DROPPED] = { "mt6d_guard_endpoints_dropped_total", C, "Slot endpoints lost to a full guard queue" },
	[F_GUARD_AVG] = { "mt6d_guard_commit_avg_seconds", G, "Mean duration of a guard transaction" },
	[F_GUARD_MAX] = { "mt6d_guard_commit_max_seconds", G, "Longest guard transaction" },
	[F_SHARED_RX] = { "mt6d_shared_tun_rx_packets_total", C, "Packets read from the shared session interface" },
	[F_SHARED_HANDED] = { "mt6d_shared_tun_handed_packets_total", C, "Packets of the shared session interface handed to a session" },
	[F_SHARED_DROPS] = { "mt6d_shared_tun_drops_total", C, "Packets of the shared session interface dropped, by reason" },
	[F_MUX_ENDPOINTS] = { "mt6d_mux_endpoints", G, "Live session endpoints of the shared slot sockets" },
	[F_MUX_RX] = { "mt6d_mux_rx_packets_total", C, "Datagrams received on the shared slot sockets" },
	[F_MUX_TX] = { "mt6d_mux_tx_packets_total", C, "Datagrams sent on the shared slot sockets" },
	[F_MUX_DROPS] = { "mt6d_mux_drops_total", C, "Datagrams of the shared slot sockets dropped, by reason" },
	[F_MUX_TX_ERRORS] = { "mt6d_mux_tx_errors_total", C, "Datagrams the shared slot sockets failed to send" },
	[F_FDS] = { "mt6d_open_fds", G, "File descriptors the daemon holds" },
	[F_S_RX_PACKETS] = { "mt6d_session_rx_packets_total", C, "Inner packets received through the session and delivered" },
	[F_S_RX_BYTES] = { "mt6d_session_rx_bytes_total", C, "Inner bytes received through the session and delivered" },
	[F_S_TX_PACKETS] = { "mt6d_session_tx_packets_total", C, "Inner packets sent through the session" },
	[F_S_TX_BYTES] = { "mt6d_session_tx_bytes_total", C, "Inner bytes sent through the session (padding not counted)" },
	[F_S_DROPS] = { "mt6d_session_drops_total", C, "Packets of the session dropped, by reason" },
	[F_S_OFF_SLOT] = { "mt6d_session_rx_off_slot_packets_total", C, "Authentic packets that came in another slot than ours (clock skew): previous, next, far (dropped)" },
	[F_S_ROTATIONS] = { "mt6d_session_rotations_total", C, "Slot moves of the session" },
	[F_S_LATE_MAX] = { "mt6d_session_rotation_late_max_seconds", G, "Worst delay of a slot move after its boundary" },
	[F_S_ADDR_ERRORS] = { "mt6d_session_address_errors_total", C, "Session address adds and deletes the kernel refused" },
	[F_S_ROTATION] = { "mt6d_session_rotation_period_seconds", G, "Rotation period of the session" },
	[F_S_STARTED] = { "mt6d_session_start_timestamp_seconds", G, "UNIX time the session was established" },
	[F_S_LAST_RX] = { "mt6d_session_last_rx_timestamp_seconds", G, "UNIX time of the last packet received in the session" },
};
#undef C
#undef G

enum role { R_SERVER = 1, R_CLIENT = 2, R_PEER = 4, R_ANY = 7 };
/* How a value is read: an integer as it is, one in ms or us written in
 * seconds (exactly, by moving the decimal point), a threat level's name. */
enum kind { K_INT, K_MS, K_US, K_THREAT };

struct prom_key {
	unsigned roles;
	bool is_session;                 /* a session's line (labelled with its peer) */
	const char *key;
	enum fam fam;
	const char *label, *value;       /* the extra label of this key, if any */
	enum kind kind;
};

#define D(r, k, f) { r, false, k, f, NULL, NULL, K_INT }
#define DL(r, k, f, l, v) { r, false, k, f, l, v, K_INT }
#define DK(r, k, f, kind) { r, false, k, f, NULL, NULL, kind }
#define S(k, f) { R_ANY, true, k, f, NULL, NULL, K_INT }
#define SL(k, f, l, v) { R_ANY, true, k, f, l, v, K_INT }
static const struct prom_key keys[] = {
	DK(R_SERVER, "threat", F_THREAT, K_THREAT),
	DK(R_SERVER, "threat_set", F_THREAT_SET, K_THREAT),
	DK(R_SERVER, "rotation_ms", F_ROTATION, K_MS),
	D(R_SERVER, "config_period_s", F_CONFIG_PERIOD),
	D(R_SERVER, "key_generation", F_KEY_GENERATION),
	D(R_SERVER, "key_changed", F_KEY_CHANGED),
	D(R_CLIENT, "intro_changed", F_INTRO_CHANGED),
	D(R_SERVER, "registered_clients", F_REGISTERED),
	D(R_SERVER, "active_clients", F_ACTIVE),
	D(R_SERVER, "sessions", F_SESSIONS),
	D(R_SERVER, "sessions_started", F_SESSIONS_STARTED),
	D(R_CLIENT, "sessions", F_SESSIONS_STARTED),
	D(R_SERVER, "sessions_ended", F_SESSIONS_ENDED),
	D(R_SERVER, "session_errors", F_SESSION_ERRORS),
	D(R_SERVER, "rekeys", F_REKEYS),
	D(R_SERVER, "intro_rx", F_INTRO_RX),
	DL(R_SERVER, "drops_unknown_iid", F_INTRO_DROPS, "reason", "unknown_iid"),
	DL(R_SERVER, "drops_wire", F_INTRO_DROPS, "reason", "wire"),
	DL(R_SERVER, "drops_inner", F_INTRO_DROPS, "reason", "inner"),
	DL(R_SERVER, "drops_rate", F_INTRO_DROPS, "reason", "rate"),
	DL(R_SERVER, "drops_client_id", F_INTRO_DROPS, "reason", "client_id"),
	DL(R_SERVER, "drops_msg", F_INTRO_DROPS, "reason", "malformed"),
	DL(R_SERVER, "drops_auth", F_INTRO_DROPS, "reason", "auth"),
	DL(R_SERVER, "drops_stale", F_INTRO_DROPS, "reason", "stale"),
	DL(R_SERVER, "drops_replay", F_INTRO_DROPS, "reason", "replay"),
	DL(R_SERVER, "drops_intro_replay", F_INTRO_DROPS, "reason", "intro_replay"),
	DL(R_SERVER, "drops_ciid", F_INTRO_DROPS, "reason", "ciid"),
	DL(R_SERVER, "drops_superseded", F_INTRO_DROPS, "reason", "superseded"),
	D(R_SERVER, "intro_replayed", F_INTRO_REPLAYED),
	D(R_SERVER, "addr_errors", F_ADDR_ERRORS),
	D(R_CLIENT, "requests_sent", F_REQUESTS),
	D(R_CLIENT, "responses_bad", F_RESPONSES_BAD),
	D(R_CLIENT, "teardowns_rx", F_TEARDOWNS),
	DL(R_CLIENT, "reestablish_k", F_REESTABLISH, "reason", "key"),
	DL(R_CLIENT, "reestablish_silence", F_REESTABLISH, "reason", "silence"),
	DL(R_CLIENT, "reestablish_prefix", F_REESTABLISH, "reason", "prefix"),
	DL(R_CLIENT, "renew_silence", F_RENEWALS, "reason", "silence"),
	D(R_CLIENT, "renewing", F_RENEWING),
	D(R_CLIENT, "rotation_changes", F_ROT_CHANGES),
	D(R_CLIENT, "rotations_refused", F_ROT_REFUSED),
	DL(R_CLIENT, "fetches_ok", F_FETCHES, "outcome", "ok"),
	DL(R_CLIENT, "fetches_failed", F_FETCHES, "outcome", "failed"),
	D(R_SERVER, "publications", F_PUBLICATIONS),
	D(R_SERVER, "publish_failures", F_PUBLISH_FAILURES),
	D(R_SERVER, "published_clients", F_PUBLISHED_CLIENTS),
	D(R_SERVER, "publish_pending", F_PUBLISH_PENDING),
	D(R_SERVER, "announces_acked", F_ANNOUNCES_ACKED),
	D(R_SERVER, "dht_nodes", F_DHT_NODES),
	D(R_SERVER, "dht_rx", F_DHT_RX),
	D(R_SERVER, "dht_tx", F_DHT_TX),
	D(R_SERVER | R_CLIENT, "dht_identities", F_DHT_IDENT_CHANGES),
	D(R_SERVER | R_CLIENT, "dht_identity_failures", F_DHT_IDENT_FAILURES),
	D(R_SERVER | R_CLIENT, "dht_lingering", F_DHT_LINGERING),
	D(R_SERVER | R_CLIENT, "dht_lanes", F_DHT_LANES),
	D(R_SERVER, "nd_addrs", F_ND_ADDRS),
	D(R_SERVER, "nd_answered", F_ND_ANSWERED),
	DL(R_SERVER, "nd_not_ours", F_ND_DROPS, "reason", "not_ours"),
	DL(R_SERVER, "nd_malformed", F_ND_DROPS, "reason", "malformed"),
	DL(R_SERVER, "nd_socket_drops", F_ND_DROPS, "reason", "socket"),
	D(R_ANY, "guard_commits", F_GUARD_COMMITS),
	D(R_ANY, "guard_endpoints", F_GUARD_ENDPOINTS),
	D(R_ANY, "guard_errors", F_GUARD_ERRORS),
	D(R_ANY, "guard_dropped", F_GUARD_DROPPED),
	DK(R_ANY, "guard_commit_us_avg", F_GUARD_AVG, K_US),
	DK(R_ANY, "guard_commit_us_max", F_GUARD_MAX, K_US),
	D(R_SERVER, "shared_rx", F_SHARED_RX),
	D(R_SERVER, "shared_handed", F_SHARED_HANDED),
	DL(R_SERVER, "shared_drops_no_session", F_SHARED_DROPS, "reason", "no_session"),
	DL(R_SERVER, "shared_drops_read", F_SHARED_DROPS, "reason", "read"),
	D(R_SERVER, "mux_endpoints", F_MUX_ENDPOINTS),
	D(R_SERVER, "mux_rx", F_MUX_RX),
	D(R_SERVER, "mux_tx", F_MUX_TX),
	DL(R_SERVER, "mux_drops_unknown", F_MUX_DROPS, "reason", "unknown"),
	DL(R_SERVER, "mux_drops_malformed", F_MUX_DROPS, "reason", "malformed"),
	D(R_SERVER, "mux_tx_errors", F_MUX_TX_ERRORS),
	D(R_SERVER, "process_fds", F_FDS),
	/* tunnel_format_stats (mt6d/engine/tunnel.h) and the session's lines */
	S("rx_packets", F_S_RX_PACKETS),
	S("rx_bytes", F_S_RX_BYTES),
	S("tx_packets", F_S_TX_PACKETS),
	S("tx_bytes", F_S_TX_BYTES),
	SL("drops_auth", F_S_DROPS, "reason", "auth"),
	SL("drops_replay", F_S_DROPS, "reason", "replay"),
	SL("drops_malformed", F_S_DROPS, "reason", "malformed"),
	SL("drops_busy", F_S_DROPS, "reason", "busy"),
	SL("drops_inner", F_S_DROPS, "reason", "inner"),
	SL("drops_tx", F_S_DROPS, "reason", "tx"),
	SL("drops_tun", F_S_DROPS, "reason", "tun"),
	SL("rx_prev_slot", F_S_OFF_SLOT, "slot", "previous"),
	SL("rx_next_slot", F_S_OFF_SLOT, "slot", "next"),
	SL("rx_far_slot", F_S_OFF_SLOT, "slot", "far"),
	S("rotations", F_S_ROTATIONS),
	{ R_ANY, true, "rotation_late_max_us", F_S_LATE_MAX, NULL, NULL, K_US },
	S("addr_errors", F_S_ADDR_ERRORS),
	{ R_ANY, true, "rotation_ms", F_S_ROTATION, NULL, NULL, K_MS },
	S("started", F_S_STARTED),
	S("last_rx", F_S_LAST_RX),
};
#undef D
#undef DL
#undef DK
#undef S
#undef SL

/* The words of the daemon's info sample; the rest (addresses, seeds,
 * endpoints, the slot, the DHT id) are never labels. */
static const char *const info_keys[] = {
	"role", "interface", "link", "address_mode", "session_interface_mode",
	"slot_sockets_mode",
};
#define N_INFO (sizeof(info_keys) / sizeof(info_keys[0]))

#define PROM_LABELS_LEN 1024
#define PROM_VALUE_LEN 32

struct prom_sample {
	enum fam fam;
	size_t seq;                      /* order of arrival within the family */
	char *labels;                    /* 'name="value",...', escaped */
	char value[PROM_VALUE_LEN];
};

int prom_escape_label(const char *in, char *out, size_t out_len)
{
	size_t n = 0;

	for (; *in; in++) {
		const char *esc = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" : *in == '\n' ? "\\n" : NULL;
		size_t len = esc ? 2 : 1;

		if (n + len + 1 > out_len)
			return -ENAMETOOLONG;
		if (esc)
			memcpy(out + n, esc, 2);
		else
			out[n] = *in;
		n += len;
	}
	if (n + 1 > out_len)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return (int)n;
}

bool prom_is_valid_name(const char *name, bool is_label)
{
	const char *s;

	if (!name || !*name || isdigit((unsigned char)*name))
		return false;
	for (s = name; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || (*s == ':' && !is_label)) ||
		    (unsigned char)*s > 0x7e)
			return false;
	return true;
}

size_t prom_family_count(void)
{
	return F_COUNT;
}

const struct prom_family *prom_family_at(size_t i)
{
	return i < F_COUNT ? &families[i] : NULL;
}

/* Appends name="escaped value" to the labels being built. */
static int add_label(char *buf, size_t *len, const char *name, const char *value)
{
	char esc[PROM_LABELS_LEN];
	int n;

	if (prom_escape_label(value, esc, sizeof(esc)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(buf + *len, PROM_LABELS_LEN - *len, "%s%s=\"%s\"", *len ? "," : "", name, esc);
	if (n < 0 || (size_t)n >= PROM_LABELS_LEN - *len)
		return -ENAMETOOLONG;
	*len += (size_t)n;
	return 0;
}

static int push(struct prom *p, enum fam fam, const char *labels, const char *value)
{
	struct prom_sample *s;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;

		s = realloc(p->samples, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		p->samples = s;
		p->cap = cap;
	}
	s = &p->samples[p->n];
	s->labels = strdup(labels);
	if (!s->labels)
		return -ENOMEM;
	s->fam = fam;
	s->seq = p->n++;
	snprintf(s->value, sizeof(s->value), "%s", value);
	return 0;
}

/* A sample of daemon (and peer, and the key's label); a label too long to
 * write is not written (the sample goes, the others stay). */
static int push_labelled(struct prom *p, enum fam fam, const char *daemon, const char *peer,
			 const char *name, const char *lvalue, const char *value)
{
	char labels[PROM_LABELS_LEN];
	size_t len = 0;

	if (add_label(labels, &len, "daemon", daemon) < 0 ||
	    (peer && add_label(labels, &len, "peer", peer) < 0) ||
	    (name && add_label(labels, &len, name, lvalue) < 0))
		return 0;
	labels[len] = '\0';
	return push(p, fam, labels, value);
}

static bool is_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s || strlen(s) > 20)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* An integer count of 10^-digits units as a decimal number of units, exact:
 * "1500" with 3 digits is "1.500". */
static void shift_decimal(const char *v, unsigned digits, char *out, size_t out_len)
{
	const char *sign = *v == '-' ? "-" : "";
	char padded[PROM_VALUE_LEN];
	size_t n;

	v += *sign ? 1 : 0;
	n = strlen(v);
	if (n <= digits) {
		snprintf(padded, sizeof(padded), "%0*d%s", (int)(digits + 1 - n), 0, v);
		v = padded;
		n = strlen(v);
	}
	snprintf(out, out_len, "%s%.*s.%s", sign, (int)(n - digits), v, v + n - digits);
}

/* The value as the sample writes it; false when it is not what the key
 * promises (then nothing is written for it). */
static bool convert(enum kind kind, const char *v, char *out, size_t out_len)
{
	static const char *const levels[] = { "low", "normal", "high" };
	size_t i;

	switch (kind) {
	case K_THREAT:
		for (i = 0; i < 3; i++)
			if (!strcmp(v, levels[i])) {
				snprintf(out, out_len, "%zu", i);
				return true;
			}
		return false;
	case K_MS:
	case K_US:
		if (!is_integer(v))
			return false;
		shift_decimal(v, kind == K_MS ? 3 : 6, out, out_len);
		return true;
	case K_INT:
		break;
	}
	if (!is_integer(v))
		return false;
	snprintf(out, out_len, "%s", v);
	return true;
}

static const struct prom_key *find_key(unsigned role, bool is_session, const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((keys[i].roles & role) && keys[i].is_session == is_session &&
		    !strcmp(keys[i].key, key))
			return &keys[i];
	return NULL;
}

static int add_daemon(struct prom *p, const char *daemon)
{
	char **d, *copy;
	size_t i;

	for (i = 0; i < p->n_daemons; i++)
		if (!strcmp(p->daemons[i], daemon))
			return -EEXIST;
	d = realloc(p->daemons, (p->n_daemons + 1) * sizeof(*d));
	if (!d)
		return -ENOMEM;
	p->daemons = d;
	copy = strdup(daemon);
	if (!copy)
		return -ENOMEM;
	p->daemons[p->n_daemons++] = copy;
	return 0;
}

int prom_add_down(struct prom *p, const char *daemon)
{
	int rc = add_daemon(p, daemon);

	return rc < 0 ? rc : push_labelled(p, F_UP, daemon, NULL, NULL, NULL, "0");
}

static int add_info(struct prom *p, const char *daemon, const char *const info[N_INFO])
{
	char labels[PROM_LABELS_LEN];
	size_t len = 0, i;

	if (add_label(labels, &len, "daemon", daemon) < 0)
		return 0;
	for (i = 0; i < N_INFO; i++)
		if (info[i] && add_label(labels, &len, info_keys[i], info[i]) < 0)
			return 0;
	labels[len] = '\0';
	return push(p, F_INFO, labels, "1");
}

/* One line of a reply: the session it starts, an info word, or a sample. */
static int add_line(struct prom *p, const char *daemon, unsigned role, const char *key,
		    const char *value, const char **peer, const char *info[N_INFO])
{
	const struct prom_key *k;
	char out[PROM_VALUE_LEN];
	size_t i;

	if (role == R_SERVER && !strcmp(key, "client")) {
		*peer = value;
		return 0;
	}
	if (role == R_CLIENT && !strcmp(key, "session_interface"))
		*peer = "server";
	if (!*peer || role == R_PEER) {
		for (i = 0; i < N_INFO; i++)
			if (!strcmp(key, info_keys[i]) && !info[i]) {
				info[i] = value;
				return 0;
			}
		if (role == R_CLIENT && !strcmp(key, "state"))
			return push_labelled(p, F_CLIENT_STATE, daemon, NULL, "state", value, "1");
	}
	k = find_key(role, *peer != NULL, key);
	if (!k && role == R_PEER) /* one tunnel: the daemon's lines and the session's mixed */
		k = find_key(role, false, key);
	if (!k || !convert(k->kind, value, out, sizeof(out)))
		return 0;
	return push_labelled(p, k->fam, daemon, k->is_session ? *peer : NULL, k->label, k->value,
			     out);
}

int prom_add_reply(struct prom *p, const char *daemon, const char *reply, bool is_peer_file)
{
	char *text, *line, *save = NULL;
	const char *info[N_INFO] = { NULL };
	const char *peer = is_peer_file ? "peer" : NULL;
	unsigned role = is_peer_file ? R_PEER : 0;
	int rc = add_daemon(p, daemon);

	if (rc < 0)
		return rc;
	text = strdup(reply);
	if (!text)
		return -ENOMEM;
	if (is_peer_file)
		info[0] = "peer";
	for (line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (!role && !strcmp(line, "role")) {
			role = !strcmp(eq + 1, "server") ? R_SERVER :
			       !strcmp(eq + 1, "client") ? R_CLIENT :
			       !strcmp(eq + 1, "peer") ? R_PEER : 0;
			if (!role)
				continue; /* an unknown role: nothing but mt6d_up */
			if (role == R_PEER)
				peer = "peer";
		}
		if (role)
			rc = add_line(p, daemon, role, line, eq + 1, &peer, info);
	}
	if (rc == 0)
		rc = push_labelled(p, F_UP, daemon, NULL, NULL, NULL, "1");
	if (rc == 0 && role)
		rc = add_info(p, daemon, info);
	free(text);
	return rc;
}

static int by_family(const void *a, const void *b)
{
	const struct prom_sample *x = a, *y = b;

	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int prom_write(struct prom *p, FILE *f)
{
	size_t i;

	/* Sorted in place: the order of arrival is kept in seq. */
	if (p->n)
		qsort(p->samples, p->n, sizeof(p->samples[0]), by_family);
	for (i = 0; i < p->n; i++) {
		const struct prom_sample *s = &p->samples[i];
		const struct prom_family *fam = &families[s->fam];

		if (i == 0 || p->samples[i - 1].fam != s->fam)
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
				fam->type == PROM_COUNTER ? "counter" : "gauge");
		fprintf(f, "%s{%s} %s\n", fam->name, s->labels, s->value);
	}
	return ferror(f) ? -EIO : 0;
}

void prom_fini(struct prom *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->samples[i].labels);
	for (i = 0; i < p->n_daemons; i++)
		free(p->daemons[i]);
	free(p->samples);
	free(p->daemons);
	memset(p, 0, sizeof(*p));
}
