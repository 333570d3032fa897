#include "mt6d/engine/server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/config.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/inner.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/base/log.h"
#include "mt6d/core/msg.h"
#include "mt6d/engine/publish.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/core/rotate.h"
#include "mt6d/core/sesstab.h"
#include "mt6d/engine/tunnel.h"
#include "mt6d/core/wire.h"
#include "mt6d/engine/guard.h"
#include "netlink/ndresp.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"
#include "tun/tun.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h; glibc's netinet/in.h lacks it */
#endif

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define SERVER_NETLINK_TIMEOUT_MS 5000
#define SERVER_INTRO_SLOTS 3             /* previous, current, next */
#define SERVER_INTRO_BUF 2048
#define SERVER_HOUSEKEEPING_S 1.0
#define SERVER_CLOSE_DELAY_S 0.2         /* a teardown leaves through the TUN first */
#define SERVER_KEEPALIVE_REPLY_MIN_S 0.5
#define SERVER_EARLY_MS 20
/* A change of Rot is told to the client at least this long before the
 * boundary where both ends change (and again every housekeeping second
 * until then, in case one copy is lost). */
#define SERVER_ROTATION_LEAD_MS 2000

struct server;

struct intro_sock {
	ev_io io;
	struct intro_gen *gen;
	int fd;                          /* -1: not open */
	uint64_t slot;
	struct rotate_endpoint own;
	struct intro_map map;            /* client intro IID of this slot -> client index */
};

/* The introduction under one K: its sockets and addresses for the slots
 * around the current one. */
struct intro_gen {
	struct server *srv;
	uint8_t key[INTRO_KEY_LEN];      /* K (secret) */
	uint8_t slot_key[INTRO_SLOT_KEY_LEN];
	uint64_t number;                 /* 1 for the first K of this run */
	uint32_t rotation_ms;            /* Rot of this K's config */
	ev_periodic tick;                /* its slot boundaries */
	bool is_current;
	struct intro_sock socks[SERVER_INTRO_SLOTS]; /* by slot % SERVER_INTRO_SLOTS */
};

struct server_session {
	struct server *srv;
	uint32_t id;                     /* the client's */
	char name[CONFIG_NAME_LEN];
	struct tunnel *tunnel;
	unsigned ifindex;                /* its TUN */
	struct msg_session_keys keys;    /* secret */
	struct in6_addr server_tunnel, client_tunnel, server_seed, client_seed;
	uint32_t rotation_ms;            /* Rot, or the one it changes to (next_rotation_at_ms) */
	int64_t next_rotation_at_ms;     /* a change of Rot told to the client (0: none), UNIX ms */
	uint64_t request_ms;             /* timestamp of the request that made it */
	ev_tstamp started_at, last_keepalive_reply_at;
	ev_timer close_timer;
	struct sesstab_entry ent;        /* in srv->table: by id, closing, last activity */
};

struct server_client {
	struct config_client cfg;
	uint8_t s[MT6D_KEY_LEN];          /* X25519 shared secret with the server (secret) */
	struct wire_tx intro_tx;          /* replies into its introduction tunnel */
	uint8_t intro_tx_key[WIRE_KEY_LEN]; /* direction key intro_tx was started with */
	bool has_intro_tx;
	double tokens;                    /* request bucket */
	ev_tstamp tokens_at;
	uint64_t requests_ok;
};

struct server {
	struct ev_loop *loop;
	char config_path[CONFIG_PATH_LEN];
	struct config cfg;
	struct server_options opt;
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	struct nladdr *nladdr;
	struct nllink *nllink;
	ev_io nladdr_io;
	/* AddressMode = scale: the /64 is claimed (nllink) and this responder
	 * answers neighbour discovery for the live MT6D addresses, which are
	 * not bound; NULL in per-address mode. */
	struct ndresp *ndresp;
	struct guard *guard;             /* silent to probes, fail closed (guard.h) */
	ev_io ndresp_io;
	ev_tstamp ndresp_logged_at;      /* last responder error logged */
	unsigned link_ifindex, link_mtu;
	struct in6_addr seed;            /* SeedIPv6_S */
	struct in6_addr tunnel_prefix;
	unsigned tunnel_prefix_len;
	struct tun *intro_tun;
	/* Registered clients, sorted by id; their C_IIDs under the current and
	 * the previous K, and whether each may be served. */
	struct server_client *clients;
	uint8_t (*c_iids)[INTRO_IID_LEN];
	uint8_t (*c_iids_old)[INTRO_IID_LEN];
	bool *is_active;
	size_t n_clients;
	struct intro_gen *gen, *old_gen;
	uint64_t gen_number;
	ev_tstamp k_changed_at;
	ev_periodic rekey_tick;          /* config period boundaries */
	ev_timer old_gen_timer;
	ev_timer housekeeping;
	ev_timer stop_timer;
	int raw_fd;
	ev_io raw_io;
	struct msg_replay *replay;
	struct wire_rx scratch_rx;       /* per datagram (secret) */
	struct sesstab table;            /* every session, closing ones included */
	struct server_stats stats;
	int audit_fd;
	/* The rendezvous (none with opt.intro_file): our DHT node and the
	 * publisher of every client's config for the current window (under
	 * gen->key) and the next one (under next_key, published ahead). */
	struct dhtev *dht;
	struct publish *publisher;
	uint64_t win_start;              /* T of the current window, UNIX s */
	/* Threat level: the operator's, and the one in force (raised
	 * automatically on signs of attack, lowered after a quiet period). */
	enum server_threat threat_set, threat;
	ev_tstamp threat_raised_at, attack_window_at, quiet_since;
	uint64_t attack_mark;            /* attack_signs() at attack_window_at */
	uint8_t next_key[INTRO_KEY_LEN]; /* K of the window after it (secret) */
};

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msg_len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
}

static const char *addr_str(const struct in6_addr *a, char *buf)
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

static int64_t now_ms(void)
{
	return llround(ev_time() * 1000.0);
}

/* The audit trail: one line per event, appended, never rewritten. */
static void audit(struct server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void audit(struct server *srv, const char *fmt, ...)
{
	char line[512], stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
	if (srv->audit_fd < 0)
		return;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = dprintf(srv->audit_fd, "%s %s\n", stamp, line);
	(void)n;
}

/* ---------- threat level ---------- */

const char *server_threat_name(enum server_threat level)
{
	switch (level) {
	case SERVER_THREAT_LOW:
		return "low";
	case SERVER_THREAT_NORMAL:
		return "normal";
	case SERVER_THREAT_HIGH:
		return "high";
	}
	return "?";
}

int server_threat_parse(const char *name, enum server_threat *level_out)
{
	static const enum server_threat all[] = { SERVER_THREAT_LOW, SERVER_THREAT_NORMAL,
						   SERVER_THREAT_HIGH };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, server_threat_name(all[i]))) {
			*level_out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

uint32_t server_threat_rotation_ms(const struct server *srv, enum server_threat level)
{
	uint64_t rot = srv->cfg.rotation_ms;

	if (level == SERVER_THREAT_HIGH)
		rot /= SERVER_THREAT_HIGH_DIVISOR;
	else if (level == SERVER_THREAT_LOW)
		rot *= SERVER_THREAT_LOW_FACTOR;
	if (rot < CONFIG_MIN_ROTATION_MS)
		rot = CONFIG_MIN_ROTATION_MS;
	if (rot > CONFIG_MAX_ROTATION_MS)
		rot = CONFIG_MAX_ROTATION_MS;
	return (uint32_t)rot;
}

/* ---------- registered clients ---------- */

static int client_cmp(const void *a, const void *b)
{
	const struct server_client *x = a, *y = b;

	return x->cfg.id < y->cfg.id ? -1 : x->cfg.id > y->cfg.id;
}

static bool is_expired(const struct config_client *c, int64_t now_s)
{
	return c->expires_s != 0 && now_s >= c->expires_s;
}

static void clients_free(struct server_client *clients, size_t n)
{
	size_t i;

	if (!clients)
		return;
	for (i = 0; i < n; i++)
		if (clients[i].has_intro_tx)
			wire_tx_fini(&clients[i].intro_tx);
	sodium_memzero(clients, n * sizeof(*clients));
	free(clients);
}

/* The client table of a config: shared secrets, sorted by id. */
static int clients_build(const struct config *cfg, const uint8_t priv[static MT6D_KEY_LEN],
			 struct server_client **out, char *msg, size_t msg_len)
{
	struct server_client *c;
	size_t i;

	c = calloc(cfg->clients_len ? cfg->clients_len : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (i = 0; i < cfg->clients_len; i++) {
		c[i].cfg = cfg->clients[i];
		if (keys_shared_secret(c[i].s, priv, cfg->clients[i].public_key) < 0) {
			set_msg(msg, msg_len, "%s:%u: PublicKey of '%s' is a weak (low-order) key",
				cfg->source, cfg->clients[i].line, cfg->clients[i].name);
			clients_free(c, cfg->clients_len);
			return -EINVAL;
		}
		c[i].tokens = SERVER_REQUEST_BURST;
	}
	qsort(c, cfg->clients_len, sizeof(*c), client_cmp);
	*out = c;
	return 0;
}

/* C_IID of every client under the current K (and the previous one), and who
 * is active now. */
static void clients_derive(struct server *srv, const uint8_t *old_key)
{
	int64_t now_s = (int64_t)ev_time();
	size_t i;

	for (i = 0; i < srv->n_clients; i++) {
		struct server_client *c = &srv->clients[i];

		derive_client_iid(srv->c_iids[i], c->s, srv->gen->key, INTRO_KEY_LEN);
		if (old_key)
			derive_client_iid(srv->c_iids_old[i], c->s, old_key, INTRO_KEY_LEN);
		srv->is_active[i] = !is_expired(&c->cfg, now_s);
	}
}

/* ---------- sessions ---------- */

static struct server_session *session_of_entry(struct sesstab_entry *e)
{
	return e ? container_of(e, struct server_session, ent) : NULL;
}

/* The live (not closing) session of a client, or NULL. */
static struct server_session *session_of(const struct server *srv, uint32_t id)
{
	return session_of_entry(sesstab_lookup(&srv->table, id));
}

static void session_free_now(struct server_session *ss)
{
	struct server *srv = ss->srv;

	ev_timer_stop(srv->loop, &ss->close_timer);
	sesstab_remove(&srv->table, &ss->ent);
	tunnel_free(ss->tunnel, SERVER_NETLINK_TIMEOUT_MS);
	msg_session_keys_wipe(&ss->keys);
	srv->stats.sessions_ended++;
	sodium_memzero(ss, sizeof(*ss));
	free(ss);
}

static void close_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	session_free_now(container_of(w, struct server_session, close_timer));
}

static const char *reason_name(uint8_t reason)
{
	switch (reason) {
	case MSG_TEARDOWN_SHUTDOWN:
		return "shutdown";
	case MSG_TEARDOWN_REVOKED:
		return "revoked";
	case MSG_TEARDOWN_IDLE:
		return "idle timeout";
	case MSG_TEARDOWN_REPLACED:
		return "replaced by a new session";
	case MSG_TEARDOWN_ROAMING:
		return "roaming";
	default:
		return "unspecified";
	}
}

/* Ends a session: a teardown message to the client (unless it asked), then
 * the tunnel is freed once the message has left through it. The client's
 * slot is free at once for a new session. */
static void session_end(struct server_session *ss, uint8_t reason, bool send_teardown)
{
	struct server *srv = ss->srv;
	char a[INET6_ADDRSTRLEN];

	if (ss->ent.is_closing)
		return;
	sesstab_close(&srv->table, &ss->ent);
	audit(srv, "session end: client '%s' (id %u) on %s, tunnel %s: %s", ss->name, ss->id,
	      tunnel_tun_name(ss->tunnel), addr_str(&ss->client_tunnel, a), reason_name(reason));
	if (send_teardown) {
		uint8_t td[MSG_TEARDOWN_LEN];
		int rc = msg_teardown_seal(&ss->keys, reason, td, sizeof(td));

		if (rc > 0)
			rc = inner_send(srv->raw_fd, &ss->server_tunnel, &ss->client_tunnel, td,
					(size_t)rc);
		if (rc < 0)
			log_err(rc, "sending a teardown to '%s'", ss->name);
		ev_timer_init(&ss->close_timer, close_cb, SERVER_CLOSE_DELAY_S, 0);
		ev_timer_start(srv->loop, &ss->close_timer);
		return;
	}
	session_free_now(ss);
}

/* A valid request: replaces any session of this client, seals the response
 * (which draws K_s), makes the session tunnel. Writes the response to
 * resp_out; on failure nothing is sent. */
static int session_start(struct server *srv, struct server_client *c, const struct msg_request *req,
			 struct msg_handshake *hs, uint8_t resp_out[static MSG_RESPONSE_LEN])
{
	struct server_session *ss;
	struct msg_response resp;
	struct tunnel_config tc;
	uint8_t iid[INTRO_IID_LEN];
	char msg[256] = "", a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	ev_tstamp t0;
	int rc;

	struct sesstab_entry *e, *next;

	if (session_of(srv, c->cfg.id))
		audit(srv, "session of '%s' replaced by a new request", c->cfg.name);
	/* An old session (closing ones too) holds the tunnel addresses and the
	 * route the new one needs. */
	for (e = sesstab_first(&srv->table); e; e = next) {
		next = sesstab_next(e);
		if (e->client_id == c->cfg.id)
			session_free_now(session_of_entry(e));
	}
	if (sesstab_count(&srv->table) >= SERVER_MAX_SESSIONS) {
		log_warnx("request of '%s' refused: %zu sessions already (SERVER_MAX_SESSIONS)",
			  c->cfg.name, sesstab_count(&srv->table));
		return -ENOSPC;
	}
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->srv = srv;
	ss->id = c->cfg.id;
	snprintf(ss->name, sizeof(ss->name), "%s", c->cfg.name);
	ss->rotation_ms = server_threat_rotation_ms(srv, srv->threat);
	ss->request_ms = req->timestamp_ms;
	intro_tunnel_addrs(&srv->tunnel_prefix, c->cfg.id, &ss->server_tunnel, &ss->client_tunnel);
	ss->server_seed = srv->seed;
	intro_random_iid(iid);
	memcpy(ss->server_seed.s6_addr + 8, iid, INTRO_IID_LEN);
	memcpy(ss->client_seed.s6_addr, req->seed_addr, 16);

	memset(&resp, 0, sizeof(resp));
	resp.rotation_ms = ss->rotation_ms;
	memcpy(resp.server_seed_addr, ss->server_seed.s6_addr, 16);
	memcpy(resp.server_tunnel_addr, ss->server_tunnel.s6_addr, 16);
	memcpy(resp.client_tunnel_addr, ss->client_tunnel.s6_addr, 16);
	rc = msg_response_seal(hs, &resp, resp_out, MSG_RESPONSE_LEN, &ss->keys);
	if (rc < 0)
		goto fail;

	memset(&tc, 0, sizeof(tc));
	tc.tun_name = CONFIG_DEFAULT_TUNNEL_NAME;
	tc.link_ifindex = srv->link_ifindex;
	tc.ndresp = srv->ndresp;
	tc.guard = srv->guard;
	tc.link_mtu = srv->link_mtu;
	tc.own_seed = ss->server_seed;
	tc.peer_seed = ss->client_seed;
	tc.tunnel_addr = ss->server_tunnel;
	tc.tunnel_prefix_len = 128;
	tc.peer_tunnel_addr = ss->client_tunnel;
	memcpy(tc.slot_key, ss->keys.session, TUNNEL_KEY_LEN);
	memcpy(tc.tx_key, ss->keys.tx, WIRE_KEY_LEN);
	memcpy(tc.rx_key, ss->keys.rx, WIRE_KEY_LEN);
	tc.rotation_ms = ss->rotation_ms;
	tc.reach = 1;
	tc.flags = TUNNEL_OWN_DST_ONLY;
	t0 = ev_time();
	rc = tunnel_new(srv->loop, srv->nladdr, srv->nllink, &tc, &ss->tunnel, msg, sizeof(msg));
	sodium_memzero(&tc, sizeof(tc));
	log_debug("session of '%s': tunnel made in %.1f ms", c->cfg.name, (ev_time() - t0) * 1000);
	if (rc < 0) {
		log_err(rc, "session of '%s': %s", c->cfg.name, msg);
		goto fail;
	}
	ss->ifindex = if_nametoindex(tunnel_tun_name(ss->tunnel));
	ss->started_at = ev_now(srv->loop);
	ev_init(&ss->close_timer, close_cb);
	/* Cannot fail: the client's sessions were freed and the count checked. */
	sesstab_add(&srv->table, &ss->ent, c->cfg.id, now_ms());
	srv->stats.sessions_started++;
	audit(srv, "session start: client '%s' (id %u) from %s on %s, tunnel %s <-> %s",
	      c->cfg.name, c->cfg.id, addr_str(&ss->client_seed, a), tunnel_tun_name(ss->tunnel),
	      addr_str(&ss->server_tunnel, b), addr_str(&ss->client_tunnel, msg));
	return 0;
fail:
	msg_session_keys_wipe(&ss->keys);
	sodium_memzero(ss, sizeof(*ss));
	free(ss);
	sodium_memzero(resp_out, MSG_RESPONSE_LEN);
	return rc;
}

/* ---------- the introduction tunnel ---------- */

static bool take_token(struct server *srv, struct server_client *c)
{
	ev_tstamp now = ev_now(srv->loop);

	c->tokens += (now - c->tokens_at) * SERVER_REQUEST_RATE_PER_S;
	if (c->tokens > SERVER_REQUEST_BURST)
		c->tokens = SERVER_REQUEST_BURST;
	c->tokens_at = now;
	if (c->tokens < 1)
		return false;
	c->tokens -= 1;
	return true;
}

static void count_check_error(struct server *srv, int rc)
{
	switch (rc) {
	case INTRO_ERR_CLIENT_ID:
		srv->stats.drops_client_id++;
		break;
	case MSG_ERR_AUTH:
		srv->stats.drops_auth++;
		break;
	case MSG_ERR_STALE:
		srv->stats.drops_stale++;
		break;
	case MSG_ERR_REPLAY:
		srv->stats.drops_replay++;
		break;
	case INTRO_ERR_CIID:
		srv->stats.drops_ciid++;
		break;
	default:
		srv->stats.drops_msg++;
		break;
	}
}

/* Sends the response inside client c's introduction tunnel, from the socket
 * of the slot the request came in, to where it came from. */
static void intro_reply(struct server *srv, struct server_client *c, struct intro_sock *s,
			const struct sockaddr_in6 *to, const struct in6_addr *client_seed,
			const uint8_t *tx_key, const uint8_t resp[static MSG_RESPONSE_LEN])
{
	uint8_t buf[WIRE_HEADER_LEN + INTRO_IPV6_HEADER_LEN + MSG_RESPONSE_LEN + WIRE_TAG_LEN];
	int len;

	if (!c->has_intro_tx || sodium_memcmp(c->intro_tx_key, tx_key, WIRE_KEY_LEN) != 0) {
		if (c->has_intro_tx)
			wire_tx_fini(&c->intro_tx);
		wire_tx_init(&c->intro_tx, tx_key);
		memcpy(c->intro_tx_key, tx_key, WIRE_KEY_LEN);
		c->has_intro_tx = true;
	}
	len = intro_inner_build(buf + WIRE_HEADER_LEN, sizeof(buf) - WIRE_HEADER_LEN, &srv->seed,
				client_seed, resp, MSG_RESPONSE_LEN);
	if (len > 0)
		len = wire_seal(&c->intro_tx, s->slot, buf, (size_t)len, sizeof(buf));
	if (len > 0 && sendto(s->fd, buf, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)to,
			      sizeof(*to)) < 0)
		log_err(-errno, "sending the response to '%s'", c->cfg.name);
	sodium_memzero(buf, sizeof(buf));
}

/* One datagram on an introduction socket. Anything invalid is counted and
 * gets no answer at all (a reply would tell a scanner a server is here). */
static void intro_datagram(struct server *srv, struct intro_sock *s, uint8_t *buf, size_t len,
			   const struct sockaddr_in6 *from)
{
	struct intro_gen *g = s->gen;
	struct server_client *c;
	struct in6_addr client_seed, inner_src, inner_dst;
	struct msg_request req;
	struct msg_handshake hs;
	uint8_t tx[WIRE_KEY_LEN], rx[WIRE_KEY_LEN], resp[MSG_RESPONSE_LEN];
	const uint8_t *payload, *c_iid;
	size_t payload_len;
	int64_t idx;
	int n, rc;

	srv->stats.intro_rx++;
	idx = intro_map_get(&s->map, from->sin6_addr.s6_addr + 8);
	if (idx < 0 || (size_t)idx >= srv->n_clients || !srv->is_active[idx]) {
		srv->stats.drops_unknown_iid++;
		return;
	}
	c = &srv->clients[idx];
	c_iid = g->is_current ? srv->c_iids[idx] : srv->c_iids_old[idx];
	memcpy(client_seed.s6_addr, from->sin6_addr.s6_addr, 8);
	memcpy(client_seed.s6_addr + 8, c_iid, INTRO_IID_LEN);
	if (wire_derive_direction_keys(c->s, srv->seed.s6_addr, client_seed.s6_addr, tx, rx) < 0) {
		srv->stats.drops_wire++;
		return;
	}
	wire_rx_init(&srv->scratch_rx, rx);
	n = wire_open(&srv->scratch_rx, s->slot, buf, len);
	wire_rx_fini(&srv->scratch_rx);
	if (n < 0) {
		srv->stats.drops_wire++;
		goto out;
	}
	if (intro_inner_parse(buf + WIRE_HEADER_LEN, (size_t)n, &inner_src, &inner_dst, &payload,
			      &payload_len) < 0 ||
	    memcmp(&inner_dst, &srv->seed, 16) != 0) {
		srv->stats.drops_inner++;
		goto out;
	}
	if (!take_token(srv, c)) {
		srv->stats.drops_rate++;
		goto out;
	}
	rc = intro_check_request(srv->replay, srv->priv, srv->pub, c->cfg.id, c->cfg.public_key,
				 c_iid, &inner_src, (uint64_t)now_ms(), payload, payload_len, &req,
				 &hs);
	if (log_is_debug())
		log_debug("introduction: request of '%s' from [%s]:%u slot %" PRIu64 ": %s",
			  c->cfg.name, addr_str(&from->sin6_addr, (char[INET6_ADDRSTRLEN]){ 0 }),
			  ntohs(from->sin6_port), s->slot, rc < 0 ? strerror(-rc) : "valid");
	if (rc < 0) {
		count_check_error(srv, rc);
		if (rc != INTRO_ERR_CLIENT_ID && rc != MSG_ERR_LENGTH && rc != MSG_ERR_VERSION &&
		    rc != MSG_ERR_TYPE)
			audit(srv, "request rejected: client '%s' (id %u): %s", c->cfg.name,
			      c->cfg.id, strerror(-rc));
		goto out;
	}
	/* The slot sockets are read in no particular order: a retry may be
	 * handled before the request it follows. The client answers only its
	 * latest request, so an older one must not replace the session. */
	if (session_of(srv, c->cfg.id) &&
	    req.timestamp_ms <= session_of(srv, c->cfg.id)->request_ms) {
		srv->stats.drops_superseded++;
		msg_handshake_wipe(&hs);
		goto out;
	}
	c->requests_ok++;
	rc = session_start(srv, c, &req, &hs, resp);
	msg_handshake_wipe(&hs);
	if (rc < 0) {
		srv->stats.session_errors++;
		goto out;
	}
	intro_reply(srv, c, s, from, &client_seed, tx, resp);
out:
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(resp, sizeof(resp));
}

static void intro_sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct intro_sock *s = container_of(w, struct intro_sock, io);
	struct server *srv = s->gen->srv;
	uint8_t buf[SERVER_INTRO_BUF];
	unsigned i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 64; i++) {
		struct sockaddr_in6 from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &from_len);

		if (n < 0)
			break;
		if ((size_t)n > sizeof(buf) || from.sin6_family != AF_INET6) {
			srv->stats.intro_rx++;
			srv->stats.drops_wire++;
			continue;
		}
		/* Every path of intro_datagram may return early: s may not
		 * change under it (no session set-up closes intro sockets). */
		intro_datagram(srv, s, buf, (size_t)n, &from);
	}
	sodium_memzero(buf, sizeof(buf));
}

static void intro_sock_close(struct server *srv, struct intro_sock *s, bool del_addr)
{
	if (s->fd < 0)
		return;
	ev_io_stop(srv->loop, &s->io);
	close(s->fd);
	s->fd = -1;
	if (del_addr && srv->ndresp)
		ndresp_del(srv->ndresp, &s->own.addr);
	else if (del_addr && nladdr_is_bound(srv->nladdr, srv->link_ifindex, &s->own.addr))
		nladdr_batch_del(srv->nladdr, srv->link_ifindex, &s->own.addr, srv);
}

static int intro_sock_open(struct server *srv, struct intro_gen *g, struct intro_sock *s,
			   uint64_t slot)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	uint32_t valid_s = (uint32_t)((3ull * g->rotation_ms + 999) / 1000 + 2);
	int one = 1, fd, rc;

	s->slot = slot;
	s->gen = g;
	rotate_endpoint_for(&srv->seed, g->slot_key, slot, &s->own);
	intro_map_build(&s->map, (const uint8_t(*)[INTRO_IID_LEN])(g->is_current ? srv->c_iids :
								    srv->c_iids_old),
			srv->is_active, srv->n_clients, g->slot_key, slot);
	guard_add_endpoint(srv->guard, &s->own.addr, s->own.port, valid_s * 1000u); /* guard */
	if (srv->ndresp)
		rc = ndresp_add(srv->ndresp, &s->own.addr);
	else
		rc = nladdr_batch_add(srv->nladdr, srv->link_ifindex, &s->own.addr, valid_s, srv);
	if (rc < 0)
		srv->stats.addr_errors++;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	sa.sin6_addr = s->own.addr;
	sa.sin6_port = htons(s->own.port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	s->fd = fd;
	ev_io_init(&s->io, intro_sock_cb, fd, EV_READ);
	ev_io_start(srv->loop, &s->io);
	return 0;
}

/* Binds the window cur-1..cur+1 of generation g: closes what left it, opens
 * what entered it. */
static void intro_gen_move(struct server *srv, struct intro_gen *g, uint64_t cur)
{
	uint64_t slot;
	size_t i;
	int rc;

	for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
		struct intro_sock *s = &g->socks[i];

		if (s->fd >= 0 && (s->slot + 1 < cur || s->slot > cur + 1))
			intro_sock_close(srv, s, true);
	}
	for (slot = cur ? cur - 1 : 0; slot <= cur + 1; slot++) {
		struct intro_sock *s = &g->socks[slot % SERVER_INTRO_SLOTS];

		if (s->fd >= 0 && s->slot == slot)
			continue;
		intro_sock_close(srv, s, true);
		rc = intro_sock_open(srv, g, s, slot);
		if (rc < 0) {
			srv->stats.addr_errors++;
			log_err(rc, "binding an introduction socket (slot %" PRIu64 ")", slot);
		}
	}
	rc = nladdr_batch_send(srv->nladdr);
	if (rc < 0)
		log_err(rc, "sending introduction address changes to the kernel");
}

static void intro_gen_free(struct server *srv, struct intro_gen *g)
{
	size_t i;

	if (!g)
		return;
	ev_periodic_stop(srv->loop, &g->tick);
	for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
		intro_sock_close(srv, &g->socks[i], true);
		intro_map_fini(&g->socks[i].map);
	}
	nladdr_batch_send(srv->nladdr);
	sodium_memzero(g, sizeof(*g));
	free(g);
}

static void gen_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents);

static int intro_gen_new(struct server *srv, const uint8_t *key, uint32_t rotation_ms,
			 struct intro_gen **out)
{
	struct intro_gen *g = calloc(1, sizeof(*g));
	size_t i;
	int rc;

	if (!g)
		return -ENOMEM;
	g->srv = srv;
	g->rotation_ms = rotation_ms;
	ev_periodic_init(&g->tick, gen_tick_cb, 0, rotation_ms / 1000.0, NULL);
	for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
		g->socks[i].fd = -1;
		rc = intro_map_init(&g->socks[i].map, srv->n_clients);
		if (rc < 0) {
			intro_gen_free(srv, g);
			return rc;
		}
	}
	if (key)
		memcpy(g->key, key, sizeof(g->key));
	else
		randombytes_buf(g->key, sizeof(g->key));
	intro_slot_key(g->slot_key, g->key);
	g->number = ++srv->gen_number;
	g->is_current = true;
	ev_periodic_start(srv->loop, &g->tick);
	*out = g;
	return 0;
}

static uint64_t current_slot(const struct intro_gen *g)
{
	int64_t t = now_ms();
	uint64_t slot = rotate_slot_at(g->rotation_ms, t);

	/* A periodic that fires a hair before the boundary. */
	if (rotate_slot_start_ms(g->rotation_ms, slot + 1) - t <= SERVER_EARLY_MS)
		slot++;
	return slot;
}

static void gen_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct intro_gen *g = container_of(w, struct intro_gen, tick);

	(void)loop;
	(void)revents;
	intro_gen_move(g->srv, g, current_slot(g));
}

/* Testing only: the introduction config for mt6d-client -T, replaced
 * atomically. */
static void write_intro_file(struct server *srv)
{
	char tmp[PATH_MAX], hex[2 * INTRO_KEY_LEN + 1], a[INET6_ADDRSTRLEN];
	FILE *f;
	int fd;

	if (!srv->opt.intro_file)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", srv->opt.intro_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		log_err(-errno, "writing '%s'", tmp);
		if (fd >= 0)
			close(fd);
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), srv->gen->key, INTRO_KEY_LEN);
	fprintf(f, "seed=%s\nkey=%s\nrotation_ms=%u\nperiod_s=%u\n", addr_str(&srv->seed, a), hex,
		srv->gen->rotation_ms, srv->cfg.config_period_s);
	sodium_memzero(hex, sizeof(hex));
	if (fclose(f) != 0 || rename(tmp, srv->opt.intro_file) != 0)
		log_err(-errno, "writing '%s'", srv->opt.intro_file);
}

static void old_gen_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = container_of(w, struct server, old_gen_timer);

	(void)loop;
	(void)revents;
	intro_gen_free(srv, srv->old_gen);
	srv->old_gen = NULL;
}

/* ---------- the rendezvous ---------- */

static void publish_config_of(struct server *srv, const uint8_t *key, uint32_t rotation_ms,
			      struct rendezvous_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->server_seed_addr, srv->seed.s6_addr, 16);
	memcpy(cfg->intro_key, key, INTRO_KEY_LEN);
	cfg->rotation_ms = rotation_ms;
	cfg->period_s = srv->cfg.config_period_s;
}

/* The highest epoch used in the current window, kept on disk before
 * anything is announced, so that a restart within the window moves on to a
 * fresh epoch (publish.h). */
static void epoch_save(struct server *srv, uint64_t window, int epoch)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/publish.state", srv->cfg.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%" PRIu64 " %d\n", window, epoch);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		log_err(-errno, "writing '%s'", path);
}

static int epoch_load(struct server *srv, uint64_t window)
{
	char path[PATH_MAX];
	uint64_t w = 0;
	int epoch = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/publish.state", srv->cfg.state_dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%" SCNu64 " %d", &w, &epoch) != 2 || w != window)
		epoch = -1;
	fclose(f);
	return epoch;
}

/* Publishes the current window's config (under the current K) and the
 * next one's (under next_key). */
static void publish_windows(struct server *srv)
{
	struct rendezvous_config rc_cfg;
	int64_t unix_ms = now_ms();
	uint64_t n = srv->cfg.config_period_s;
	int epoch;

	if (!srv->publisher)
		return;
	publish_config_of(srv, srv->gen->key, srv->gen->rotation_ms, &rc_cfg);
	epoch = publish_get_epoch(srv->publisher, srv->win_start);
	/* Announced before the change: the epoch it may move to is saved first. */
	epoch_save(srv, srv->win_start, epoch < 0 ? 0 : epoch + 1);
	epoch = publish_set_config(srv->publisher, srv->win_start, &rc_cfg, unix_ms);
	if (epoch < 0)
		log_err(epoch, "publishing the config of window %" PRIu64, srv->win_start);
	else
		epoch_save(srv, srv->win_start, epoch);
	/* The next window under the threat level in force now. */
	publish_config_of(srv, srv->next_key, server_threat_rotation_ms(srv, srv->threat), &rc_cfg);
	epoch = publish_set_config(srv->publisher, srv->win_start + n, &rc_cfg, unix_ms);
	if (epoch < 0)
		log_err(epoch, "publishing the config of window %" PRIu64, srv->win_start + n);
	sodium_memzero(&rc_cfg, sizeof(rc_cfg));
	dhtev_kick(srv->dht);
}

static void session_send_rotation(struct server *srv, struct server_session *ss)
{
	uint8_t m[MSG_ROTATION_LEN];
	int rc = msg_rotation_seal(&ss->keys, ss->rotation_ms, (uint64_t)ss->next_rotation_at_ms,
				   m, sizeof(m));

	if (rc > 0)
		rc = inner_send(srv->raw_fd, &ss->server_tunnel, &ss->client_tunnel, m, (size_t)rc);
	if (rc < 0)
		log_err(rc, "telling '%s' of its new rotation period", ss->name);
}

/* Running sessions follow a new Rot without a new handshake: the client is
 * told the new period and the boundary of the current one (at least
 * SERVER_ROTATION_LEAD_MS ahead) where both ends change. */
static void session_change_rotation(struct server *srv, struct server_session *ss,
				    uint32_t rotation_ms)
{
	uint32_t cur = tunnel_rotation_ms(ss->tunnel);
	int64_t at_ms;

	if (ss->ent.is_closing || rotation_ms == ss->rotation_ms)
		return;
	/* (Back to the period in force before a pending change took effect:
	 * the same message tells the client to keep it.) */
	at_ms = rotate_slot_start_ms(cur, rotate_slot_at(cur, now_ms() + SERVER_ROTATION_LEAD_MS) + 1);
	ss->rotation_ms = rotation_ms;
	ss->next_rotation_at_ms = at_ms;
	tunnel_set_rotation(ss->tunnel, rotation_ms, at_ms);
	session_send_rotation(srv, ss);
}

/* The level in force changes: the next window's config (published ahead)
 * is published again with that level's Rot; running sessions change to it
 * at a boundary a few seconds ahead, and sessions made from now on get it;
 * the introduction follows at the next K. */
static void threat_apply(struct server *srv, enum server_threat level, const char *why)
{
	enum server_threat was = srv->threat;
	struct sesstab_entry *e;

	srv->threat = level;
	if (level == was)
		return;
	audit(srv, "threat level %s -> %s (Rot %u ms from the next window): %s",
	      server_threat_name(was), server_threat_name(level),
	      server_threat_rotation_ms(srv, level), why);
	for (e = sesstab_first(&srv->table); e; e = sesstab_next(e))
		session_change_rotation(srv, session_of_entry(e), server_threat_rotation_ms(srv, level));
	publish_windows(srv);
}

void server_set_threat(struct server *srv, enum server_threat level, bool is_auto,
		       const char *why)
{
	if (!is_auto)
		srv->threat_set = level;
	else
		srv->threat_raised_at = ev_now(srv->loop);
	srv->quiet_since = 0;
	threat_apply(srv, level, why);
}

/* Everything an attacker can make the server refuse. */
static uint64_t attack_signs(const struct server *srv)
{
	const struct server_stats *s = &srv->stats;
	struct sesstab_entry *e;
	uint64_t n = s->drops_unknown_iid + s->drops_wire + s->drops_inner + s->drops_rate +
		     s->drops_client_id + s->drops_msg + s->drops_auth + s->drops_stale +
		     s->drops_replay + s->drops_ciid;

	for (e = sesstab_first(&srv->table); e; e = sesstab_next(e)) {
		struct tunnel_stats st;

		tunnel_get_stats(container_of(e, struct server_session, ent)->tunnel, &st);
		n += st.drops_auth + st.drops_malformed;
	}
	return n;
}

static void threat_watch(struct server *srv, ev_tstamp now)
{
	uint64_t signs, delta;
	char why[96];

	if (now - srv->attack_window_at < SERVER_ATTACK_WINDOW_S)
		return;
	signs = attack_signs(srv);
	/* Sessions that ended take their counters along: never negative. */
	delta = signs > srv->attack_mark ? signs - srv->attack_mark : 0;
	srv->attack_mark = signs;
	srv->attack_window_at = now;
	if (delta >= SERVER_ATTACK_THRESHOLD) {
		srv->quiet_since = 0;
		if (srv->threat < SERVER_THREAT_HIGH) {
			snprintf(why, sizeof(why), "automatic: %" PRIu64 " bad packets in %d s",
				 delta, SERVER_ATTACK_WINDOW_S);
			server_set_threat(srv, SERVER_THREAT_HIGH, true, why);
		}
		return;
	}
	if (srv->threat <= srv->threat_set || delta >= SERVER_ATTACK_THRESHOLD / 10) {
		srv->quiet_since = 0;
		return;
	}
	if (!srv->quiet_since)
		srv->quiet_since = now;
	if (now - srv->quiet_since >= SERVER_QUIET_S) {
		snprintf(why, sizeof(why), "automatic: quiet for %d s", SERVER_QUIET_S);
		threat_apply(srv, srv->threat_set, why);
		srv->quiet_since = 0;
	}
}

static int64_t publish_hook(void *ctx, int64_t now)
{
	struct server *srv = ctx;

	return publish_tick(srv->publisher, now, now_ms());
}

static int server_setup_dht(struct server *srv, char *msg, size_t msg_len)
{
	struct publish_params prm;
	struct dht *node;
	struct rendezvous_config rc_cfg;
	char list[CONFIG_MAX_BOOTSTRAP * CONFIG_HOSTPORT_LEN], why[256] = "";
	size_t i, len = 0;
	int rc, epoch;

	rc = dhtev_new(srv->loop, "::", srv->cfg.dht_port, NULL, &srv->dht, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "starting the DHT node on port %u: %s", srv->cfg.dht_port, why);
		return rc;
	}
	list[0] = '\0';
	for (i = 0; i < srv->cfg.dht_bootstrap_len; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? "," : "",
					srv->cfg.dht_bootstrap[i]);
	if (len && dhtev_add_bootstrap(srv->dht, list, why, sizeof(why)) < 0)
		log_warnx("DHT bootstrap: %s", why);
	publish_params_default(&prm, srv->cfg.config_period_s);
	prm.family = dhtev_family(srv->dht);
	node = dhtev_dht(srv->dht);
	rc = publish_new(&prm, srv->priv, &node, 1, &srv->publisher);
	if (rc < 0) {
		set_msg(msg, msg_len, "starting the publisher: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < srv->n_clients; i++)
		if (srv->is_active[i])
			publish_add_client(srv->publisher, srv->clients[i].cfg.public_key);
	/* A restart within a window: the earlier run announced its epochs. */
	epoch = epoch_load(srv, srv->win_start);
	if (epoch >= 0 && epoch < 255) {
		publish_config_of(srv, srv->gen->key, srv->gen->rotation_ms, &rc_cfg);
		epoch_save(srv, srv->win_start, epoch + 1);
		rc = publish_resume_window(srv->publisher, srv->win_start, (uint8_t)(epoch + 1), &rc_cfg,
					   now_ms());
		sodium_memzero(&rc_cfg, sizeof(rc_cfg));
		if (rc < 0)
			log_err(rc, "resuming window %" PRIu64 " at epoch %d", srv->win_start,
				epoch + 1);
	}
	dhtev_set_hook(srv->dht, publish_hook, srv);
	publish_windows(srv);
	return 0;
}

/* Makes key (NULL: a fresh one) the current K; the previous one stays
 * reachable for a grace period unless drop_old. */
static void rekey_to(struct server *srv, const uint8_t *key, bool drop_old, const char *why)
{
	struct intro_gen *g;
	uint8_t old_key[INTRO_KEY_LEN];
	double grace;
	bool is_revocation = drop_old;
	int rc;

	rc = intro_gen_new(srv, key, server_threat_rotation_ms(srv, srv->threat), &g);
	if (rc < 0) {
		log_err(rc, "drawing a new introduction key");
		return;
	}
	ev_timer_stop(srv->loop, &srv->old_gen_timer);
	intro_gen_free(srv, srv->old_gen);
	srv->old_gen = NULL;
	memcpy(old_key, srv->gen->key, sizeof(old_key));
	if (is_revocation) {
		intro_gen_free(srv, srv->gen);
	} else {
		srv->old_gen = srv->gen;
		srv->old_gen->is_current = false;
	}
	srv->gen = g;
	clients_derive(srv, old_key);
	sodium_memzero(old_key, sizeof(old_key));
	/* The old generation's maps hold indexes of the old table: rebuild. */
	if (srv->old_gen) {
		size_t i;

		for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
			struct intro_sock *s = &srv->old_gen->socks[i];

			if (s->fd >= 0)
				intro_map_build(&s->map,
						(const uint8_t(*)[INTRO_IID_LEN])srv->c_iids_old,
						srv->is_active, srv->n_clients,
						srv->old_gen->slot_key, s->slot);
		}
		grace = srv->cfg.config_period_s < SERVER_OLD_K_GRACE_MAX_S
				? srv->cfg.config_period_s
				: SERVER_OLD_K_GRACE_MAX_S;
		ev_timer_set(&srv->old_gen_timer, grace, 0);
		ev_timer_start(srv->loop, &srv->old_gen_timer);
	}
	intro_gen_move(srv, srv->gen, current_slot(srv->gen));
	srv->k_changed_at = ev_now(srv->loop);
	srv->stats.rekeys++;
	write_intro_file(srv);
	audit(srv, "new introduction key (generation %" PRIu64 "): %s", g->number, why);
}

void server_rekey(struct server *srv, bool is_revocation, const char *why)
{
	/* The next window's K was published already (to everyone registered
	 * then): replace it too. */
	randombytes_buf(srv->next_key, sizeof(srv->next_key));
	rekey_to(srv, NULL, is_revocation, why);
	publish_windows(srv);
}

/* After a change of the client table under the same K. */
static void intro_rebuild(struct server *srv)
{
	struct intro_gen *gens[2] = { srv->gen, srv->old_gen };
	size_t i, j;

	clients_derive(srv, srv->old_gen ? srv->old_gen->key : NULL);
	for (j = 0; j < 2; j++) {
		if (!gens[j])
			continue;
		for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
			struct intro_sock *s = &gens[j]->socks[i];

			intro_map_fini(&s->map);
			if (intro_map_init(&s->map, srv->n_clients) < 0)
				continue;
			if (s->fd >= 0)
				intro_map_build(&s->map,
						(const uint8_t(*)[INTRO_IID_LEN])(gens[j]->is_current
										   ? srv->c_iids
										   : srv->c_iids_old),
						srv->is_active, srv->n_clients, gens[j]->slot_key,
						s->slot);
		}
	}
}

static void rekey_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct server *srv = container_of(w, struct server, rekey_tick);

	(void)loop;
	(void)revents;
	/* The first firing may come at once after start: K is brand new. */
	uint64_t t = derive_window_start((int64_t)(ev_time() + 1.0), srv->cfg.config_period_s);
	uint8_t key[INTRO_KEY_LEN];

	if (t == srv->win_start)
		return;
	/* The new window's K is the one published ahead for it. */
	srv->win_start = t;
	memcpy(key, srv->next_key, sizeof(key));
	randombytes_buf(srv->next_key, sizeof(srv->next_key));
	rekey_to(srv, key, false, "config period");
	sodium_memzero(key, sizeof(key));
	publish_windows(srv);
}

/* ---------- session messages in the session tunnels ---------- */

static void raw_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = container_of(w, struct server, raw_io);
	uint8_t buf[512];
	unsigned i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 64; i++) {
		struct in6_addr src, dst;
		struct server_session *ss;
		unsigned ifindex;
		int64_t id;
		ssize_t n = inner_recv(srv->raw_fd, buf, sizeof(buf), &src, &dst, &ifindex);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		id = intro_tunnel_addr_id(&srv->tunnel_prefix, srv->tunnel_prefix_len, &dst);
		ss = id >= 0 ? session_of(srv, (uint32_t)id) : NULL;
		/* Only what came out of that client's own session interface. */
		if (!ss || ifindex != ss->ifindex ||
		    memcmp(&src, &ss->client_tunnel, 16) != 0)
			continue;
		if (n == 0) {
			ev_tstamp now = ev_now(srv->loop);

			if (now - ss->last_keepalive_reply_at >= SERVER_KEEPALIVE_REPLY_MIN_S) {
				ss->last_keepalive_reply_at = now;
				inner_send(srv->raw_fd, &ss->server_tunnel, &ss->client_tunnel, NULL, 0);
			}
			continue;
		}
		if (msg_type(buf, (size_t)n) == MSG_TYPE_TEARDOWN) {
			uint8_t reason;

			if (msg_teardown_open(&ss->keys, buf, (size_t)n, &reason) == 0) {
				log_info("client '%s' ended its session: %s", ss->name,
					 reason_name(reason));
				session_end(ss, reason, false);
			}
		}
	}
}

static void housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = container_of(w, struct server, housekeeping);
	ev_tstamp now = ev_now(loop);
	int64_t now_s = (int64_t)ev_time(), t_ms = llround(now * 1000.0);
	struct sesstab_entry *e, *next;
	bool has_expired = false;
	size_t i;

	(void)revents;
	for (i = 0; i < srv->n_clients; i++) {
		struct server_client *c = &srv->clients[i];
		struct server_session *ss = session_of(srv, c->cfg.id);

		if (srv->is_active[i] && is_expired(&c->cfg, now_s)) {
			srv->is_active[i] = false;
			has_expired = true;
			audit(srv, "client '%s' (id %u) expired: treated as revoked", c->cfg.name,
			      c->cfg.id);
			if (srv->publisher)
				publish_remove_client(srv->publisher, c->cfg.public_key);
			if (ss)
				session_end(ss, MSG_TEARDOWN_REVOKED, true);
		}
	}
	for (e = sesstab_first(&srv->table); e; e = next) {
		struct server_session *ss = session_of_entry(e);
		struct tunnel_stats st;

		next = sesstab_next(e);
		if (e->is_closing)
			continue;
		if (ss->next_rotation_at_ms) {
			if (now_ms() < ss->next_rotation_at_ms - 500)
				session_send_rotation(srv, ss);
			else
				ss->next_rotation_at_ms = 0;
		}
		tunnel_get_stats(ss->tunnel, &st);
		sesstab_note_rx(e, st.rx_packets, t_ms);
		if (sesstab_is_idle(e, t_ms, srv->opt.idle_timeout_ms))
			session_end(ss, MSG_TEARDOWN_IDLE, true);
	}
	if (has_expired)
		server_rekey(srv, true, "client expired");
	threat_watch(srv, now);
}

/* ---------- netlink ---------- */

static void on_addr_result(const struct nladdr_result *res, void *arg)
{
	struct server *srv = arg;

	if (res->cookie == srv) {
		if (res->err && !(res->op == NLADDR_DEL && (res->err == -EADDRNOTAVAIL ||
							   res->err == -ENOENT)))
			srv->stats.addr_errors++;
		return;
	}
	if (res->cookie)
		tunnel_handle_addr_result(res->cookie, res);
}

static void nladdr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = container_of(w, struct server, nladdr_io);
	int rc;

	(void)loop;
	(void)revents;
	rc = nladdr_process_acks(srv->nladdr);
	if (rc < 0 && rc != -EAGAIN)
		log_err(rc, "reading netlink acknowledgements");
}

/* ---------- start, stop ---------- */

static int open_audit(struct server *srv)
{
	char path[PATH_MAX];

	if (mkdir(srv->cfg.state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/audit.log", srv->cfg.state_dir);
	srv->audit_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	return srv->audit_fd < 0 ? -errno : 0;
}

static int server_setup_link(struct server *srv, char *msg, size_t msg_len)
{
	struct in6_addr prefixes[4];
	uint8_t iid[INTRO_IID_LEN];
	int rc;

	rc = nllink_ifindex(srv->nllink, srv->cfg.interface);
	if (rc < 0) {
		set_msg(msg, msg_len, "%s: Interface '%s': %s", srv->cfg.source, srv->cfg.interface,
			strerror(-rc));
		return rc;
	}
	srv->link_ifindex = (unsigned)rc;
	rc = inner_link_mtu(srv->cfg.interface, &srv->link_mtu);
	if (rc < 0) {
		set_msg(msg, msg_len, "reading the MTU of '%s': %s", srv->cfg.interface,
			strerror(-rc));
		return rc;
	}
	rc = nllink_get_prefixes(srv->nllink, srv->link_ifindex, prefixes, 4);
	if (rc <= 0) {
		set_msg(msg, msg_len, "no global /64 prefix on '%s' (%s)", srv->cfg.interface,
			rc < 0 ? strerror(-rc) : "none");
		return rc < 0 ? rc : -EADDRNOTAVAIL;
	}
	if (rc > 1)
		log_warnx("'%s' has %d global /64 prefixes: using the first", srv->cfg.interface, rc);
	srv->seed = prefixes[0];
	intro_random_iid(iid);
	memcpy(srv->seed.s6_addr + 8, iid, INTRO_IID_LEN);
	return 0;
}

static void ndresp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = container_of(w, struct server, ndresp_io);
	int rc;

	(void)loop;
	(void)revents;
	rc = ndresp_process(srv->ndresp);
	/* At most one line per 10 s: a link going down must not flood the log. */
	if (rc < 0 && rc != -EAGAIN && rc != -EINTR &&
	    (srv->ndresp_logged_at == 0 || ev_now(srv->loop) - srv->ndresp_logged_at >= 10.0)) {
		srv->ndresp_logged_at = ev_now(srv->loop);
		log_err(rc, "neighbour responder on %s", srv->cfg.interface);
	}
}

static bool is_in_prefix64(const struct in6_addr *a, const struct in6_addr *prefix)
{
	return memcmp(a->s6_addr, prefix->s6_addr, 8) == 0;
}

/* Scale mode (docs/PERFORMANCE.md): removes the claim of a previous run
 * (routes tagged 0x6d), keeps the gateways of Interface in our /64 as
 * exceptions (before the claim, so that they never turn local), claims the
 * /64 with one local route and starts the neighbour responder. */
static int server_setup_scale(struct server *srv, char *msg, size_t msg_len)
{
	struct in6_addr prefix = srv->seed, gws[16];
	char why[128] = "", a[INET6_ADDRSTRLEN];
	int rc, n, i;

	memset(prefix.s6_addr + 8, 0, 8);
	rc = nllink_purge_routes(srv->nllink, why, sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D routes of a previous run%s%s", why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D routes of a previous run", rc);
	n = nllink_get_gateways(srv->nllink, srv->link_ifindex, gws, 16);
	if (n < 0) {
		set_msg(msg, msg_len, "reading the gateways of '%s': %s", srv->cfg.interface,
			strerror(-n));
		return n;
	}
	for (i = 0; i < n && i < 16; i++) {
		if (!is_in_prefix64(&gws[i], &prefix))
			continue;
		rc = nllink_add_local_exception(srv->nllink, srv->link_ifindex, &gws[i], why,
						sizeof(why));
		if (rc < 0) {
			set_msg(msg, msg_len, "keeping the gateway %s out of the claim: %s%s%s",
				addr_str(&gws[i], a), strerror(-rc), why[0] ? " (kernel: " : "",
				why[0] ? why : "");
			return rc;
		}
	}
	rc = nllink_add_local_prefix(srv->nllink, srv->link_ifindex, &prefix, 64, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "claiming %s/64 on '%s': %s%s%s", addr_str(&prefix, a),
			srv->cfg.interface, strerror(-rc), why[0] ? " (kernel: " : "",
			why[0] ? why : "");
		return rc;
	}
	rc = ndresp_new(srv->link_ifindex, &srv->ndresp);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the neighbour responder on '%s': %s",
			srv->cfg.interface, strerror(-rc));
		return rc;
	}
	ev_io_init(&srv->ndresp_io, ndresp_cb, ndresp_fd(srv->ndresp), EV_READ);
	ev_io_start(srv->loop, &srv->ndresp_io);
	log_info("address mode scale: %s/64 claimed on %s", addr_str(&prefix, a),
		 srv->cfg.interface);
	return 0;
}

/* guard (mt6d/engine/guard.h): silent to probes; every client's tunnel
 * address, registered or revoked, refused whenever no session carries it
 * (one unreachable route for the whole tunnel prefix). After the scale
 * mode set-up, whose purge of our routes would remove that route. */
static int server_setup_guard(struct server *srv, char *msg, size_t msg_len)
{
	struct in6_addr prefix = srv->seed;
	char why[256] = "";
	int rc;

	rc = guard_new(srv->loop, srv->nllink, "server", srv->cfg.interface, &srv->guard, why,
		       sizeof(why));
	if (rc == 0)
		rc = guard_protect(srv->guard, &srv->tunnel_prefix, srv->tunnel_prefix_len, true,
				   why, sizeof(why));
	memset(prefix.s6_addr + 8, 0, 8);
	if (rc == 0 && srv->cfg.is_scale_mode)
		rc = guard_claim(srv->guard, srv->nladdr, srv->link_ifindex, &prefix, 64, why,
				 sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "setting up the guard (nftables table, routes): %s",
			why[0] ? why : strerror(-rc));
	return rc;
}

static int server_setup_intro_tun(struct server *srv, char *msg, size_t msg_len)
{
	struct tun_config tc = {
		.name = srv->cfg.tunnel_name, .queues = 1, .mtu = 1280, .is_up = true,
	};
	char why[NLADDR_MSG_LEN] = "", a[INET6_ADDRSTRLEN];
	int rc;

	rc = tun_new(&tc, &srv->intro_tun);
	if (rc < 0) {
		set_msg(msg, msg_len, "creating the introduction interface '%s': %s",
			srv->cfg.tunnel_name, strerror(-rc));
		return rc;
	}
	rc = nllink_add_addr(srv->nllink, tun_ifindex(srv->intro_tun), &srv->seed, 128, why,
			     sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "adding %s to %s: %s%s%s", addr_str(&srv->seed, a),
			tun_name(srv->intro_tun), strerror(-rc), why[0] ? " (kernel: " : "",
			why[0] ? ")" : "");
	return rc;
}

/* Loads the config and the key into srv->cfg and the client tables. */
static int server_load(struct server *srv, char *msg, size_t msg_len)
{
	int rc;

	rc = config_load(CONFIG_SERVER, srv->config_path, &srv->cfg, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = config_load_private_key(&srv->cfg, srv->priv, msg, msg_len);
	if (rc < 0)
		return rc;
	keys_public_from_private(srv->pub, srv->priv);
	return 0;
}

static int tables_alloc(size_t n, uint8_t (**c_iids)[INTRO_IID_LEN],
			uint8_t (**c_iids_old)[INTRO_IID_LEN], bool **is_active)
{
	*c_iids = calloc(n ? n : 1, INTRO_IID_LEN);
	*c_iids_old = calloc(n ? n : 1, INTRO_IID_LEN);
	*is_active = calloc(n ? n : 1, sizeof(bool));
	if (!*c_iids || !*c_iids_old || !*is_active) {
		free(*c_iids);
		free(*c_iids_old);
		free(*is_active);
		return -ENOMEM;
	}
	return 0;
}

int server_new(struct ev_loop *loop, const char *config_path, const struct server_options *opt,
	       struct server **out, char *msg, size_t msg_len)
{
	struct server *srv;
	char why[256] = "", a[INET6_ADDRSTRLEN];
	int rc;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->raw_fd = -1;
	srv->audit_fd = -1;
	srv->threat = srv->threat_set = SERVER_THREAT_NORMAL;
	snprintf(srv->config_path, sizeof(srv->config_path), "%s", config_path);
	if (opt)
		srv->opt = *opt;
	if (!srv->opt.idle_timeout_ms)
		srv->opt.idle_timeout_ms = SERVER_DEFAULT_IDLE_TIMEOUT_MS;
	ev_init(&srv->old_gen_timer, old_gen_cb);
	rc = sesstab_init(&srv->table, SERVER_MAX_SESSIONS);
	if (rc < 0) {
		free(srv);
		return rc;
	}
	rc = server_load(srv, msg, msg_len);
	if (rc < 0) {
		sodium_memzero(srv->priv, sizeof(srv->priv));
		sesstab_fini(&srv->table);
		free(srv);
		return rc;
	}
	rc = clients_build(&srv->cfg, srv->priv, &srv->clients, msg, msg_len);
	if (rc < 0)
		goto fail;
	srv->n_clients = srv->cfg.clients_len;
	rc = tables_alloc(srv->n_clients, &srv->c_iids, &srv->c_iids_old, &srv->is_active);
	if (rc < 0)
		goto fail;
	srv->replay = malloc(sizeof(*srv->replay));
	if (!srv->replay) {
		rc = -ENOMEM;
		goto fail;
	}
	msg_replay_init(srv->replay, MSG_DEFAULT_MAX_SKEW_MS);
	if (srv->cfg.has_tunnel_prefix) {
		memcpy(srv->tunnel_prefix.s6_addr, srv->cfg.tunnel_address, 16);
		srv->tunnel_prefix_len = srv->cfg.tunnel_prefix_len;
	} else {
		intro_default_tunnel_prefix(srv->pub, &srv->tunnel_prefix);
		srv->tunnel_prefix_len = 64;
	}
	rc = open_audit(srv);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the audit trail in '%s': %s", srv->cfg.state_dir,
			strerror(-rc));
		goto fail;
	}
	rc = nllink_new(&srv->nllink);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening a netlink route socket: %s", strerror(-rc));
		goto fail;
	}
	rc = nladdr_new(on_addr_result, srv, &srv->nladdr);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the netlink address socket: %s", strerror(-rc));
		goto fail;
	}
	ev_io_init(&srv->nladdr_io, nladdr_cb, nladdr_fd(srv->nladdr), EV_READ);
	ev_io_start(loop, &srv->nladdr_io);
	rc = server_setup_link(srv, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = nladdr_purge(srv->nladdr, srv->link_ifindex, SERVER_NETLINK_TIMEOUT_MS, why,
			  sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D addresses of a previous run on %s%s%s",
			srv->cfg.interface, why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D addresses of a previous run on %s", rc,
			 srv->cfg.interface);
	if (srv->cfg.is_scale_mode) {
		rc = server_setup_scale(srv, msg, msg_len);
		if (rc < 0)
			goto fail;
	}
	rc = server_setup_guard(srv, msg, msg_len); /* guard */
	if (rc < 0)
		goto fail;
	rc = inner_socket_open();
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the raw socket for session messages: %s",
			strerror(-rc));
		goto fail;
	}
	srv->raw_fd = rc;
	ev_io_init(&srv->raw_io, raw_cb, srv->raw_fd, EV_READ);
	ev_io_start(loop, &srv->raw_io);
	rc = server_setup_intro_tun(srv, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = guard_protect(srv->guard, &srv->seed, 128, false, why, sizeof(why)); /* guard */
	if (rc < 0) {
		set_msg(msg, msg_len, "guarding the seed address: %s", why);
		goto fail;
	}

	srv->win_start = derive_window_start((int64_t)ev_time(), srv->cfg.config_period_s);
	randombytes_buf(srv->next_key, sizeof(srv->next_key));
	rc = intro_gen_new(srv, NULL, srv->cfg.rotation_ms, &srv->gen);
	if (rc < 0) {
		set_msg(msg, msg_len, "out of memory");
		goto fail;
	}
	clients_derive(srv, NULL);
	intro_gen_move(srv, srv->gen, current_slot(srv->gen));
	rc = nladdr_sync(srv->nladdr, SERVER_NETLINK_TIMEOUT_MS);
	if (rc < 0) {
		set_msg(msg, msg_len, "binding the introduction addresses: %s", strerror(-rc));
		goto fail;
	}
	srv->k_changed_at = ev_now(loop);
	srv->stats.rekeys++;
	write_intro_file(srv);
	if (!srv->opt.intro_file) {
		rc = server_setup_dht(srv, msg, msg_len);
		if (rc < 0)
			goto fail;
	}

	/* New K at every window start T = t - (t mod n) (formula 1). */
	ev_periodic_init(&srv->rekey_tick, rekey_tick_cb, 0, srv->cfg.config_period_s, NULL);
	ev_periodic_start(loop, &srv->rekey_tick);
	ev_timer_init(&srv->housekeeping, housekeeping_cb, SERVER_HOUSEKEEPING_S,
		      SERVER_HOUSEKEEPING_S);
	ev_timer_start(loop, &srv->housekeeping);
	log_info("introduction interface %s: seed %s, %zu registered clients, rotation %u ms, "
		 "config period %u s, on %s", tun_name(srv->intro_tun), addr_str(&srv->seed, a),
		 srv->n_clients, srv->cfg.rotation_ms, srv->cfg.config_period_s, srv->cfg.interface);
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return rc;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

void server_stop(struct server *srv)
{
	struct sesstab_entry *e, *next;

	for (e = sesstab_first(&srv->table); e; e = next) {
		next = sesstab_next(e);
		if (!e->is_closing)
			session_end(session_of_entry(e), MSG_TEARDOWN_SHUTDOWN, true);
	}
	ev_periodic_stop(srv->loop, &srv->rekey_tick);
	ev_timer_stop(srv->loop, &srv->housekeeping);
	ev_timer_init(&srv->stop_timer, stop_cb, SERVER_CLOSE_DELAY_S + 0.05, 0);
	ev_timer_start(srv->loop, &srv->stop_timer);
}

void server_free(struct server *srv)
{
	char msg[256] = "";
	int rc;

	if (!srv)
		return;
	while (sesstab_first(&srv->table))
		session_free_now(session_of_entry(sesstab_first(&srv->table)));
	sesstab_fini(&srv->table);
	if (srv->dht)
		dhtev_set_hook(srv->dht, NULL, NULL);
	publish_free(srv->publisher);
	dhtev_free(srv->dht);
	if (srv->loop) {
		ev_periodic_stop(srv->loop, &srv->rekey_tick);
		ev_timer_stop(srv->loop, &srv->housekeeping);
		ev_timer_stop(srv->loop, &srv->old_gen_timer);
		ev_timer_stop(srv->loop, &srv->stop_timer);
	}
	if (srv->nladdr) {
		intro_gen_free(srv, srv->old_gen);
		intro_gen_free(srv, srv->gen);
		ev_io_stop(srv->loop, &srv->nladdr_io);
		rc = nladdr_remove_all(srv->nladdr, SERVER_NETLINK_TIMEOUT_MS, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing MT6D addresses%s%s", msg[0] ? ": " : "", msg);
		nladdr_free(srv->nladdr);
	}
	guard_free(srv->guard); /* guard: after every tunnel; its routes stay */
	/* After every tunnel and introduction socket (they used its set),
	 * before nllink_cleanup removes the claim. */
	if (srv->ndresp) {
		ev_io_stop(srv->loop, &srv->ndresp_io);
		ndresp_free(srv->ndresp);
		srv->ndresp = NULL;
	}
	if (srv->raw_fd >= 0) {
		ev_io_stop(srv->loop, &srv->raw_io);
		close(srv->raw_fd);
	}
	tun_free(srv->intro_tun);
	if (srv->nllink) {
		rc = nllink_cleanup(srv->nllink, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing tunnel addresses and routes%s%s", msg[0] ? ": " : "",
				msg);
		nllink_free(srv->nllink);
	}
	if (srv->opt.intro_file)
		unlink(srv->opt.intro_file);
	if (srv->audit_fd >= 0)
		close(srv->audit_fd);
	clients_free(srv->clients, srv->n_clients);
	free(srv->c_iids);
	free(srv->c_iids_old);
	free(srv->is_active);
	if (srv->replay) {
		sodium_memzero(srv->replay, sizeof(*srv->replay));
		free(srv->replay);
	}
	config_fini(&srv->cfg);
	sodium_memzero(srv, sizeof(*srv));
	free(srv);
}

/* ---------- reload ---------- */

static bool same_client(const struct config_client *a, const struct config_client *b)
{
	return a->id == b->id && sodium_memcmp(a->public_key, b->public_key, CONFIG_KEY_LEN) == 0;
}

int server_reload(struct server *srv, char *msg, size_t msg_len)
{
	struct config cfg;
	struct server_client *clients = NULL;
	uint8_t priv[MT6D_KEY_LEN];
	uint8_t (*c_iids)[INTRO_IID_LEN] = NULL, (*c_iids_old)[INTRO_IID_LEN] = NULL;
	bool *is_active = NULL;
	unsigned removed = 0;
	size_t i;
	int rc;

	rc = config_load(CONFIG_SERVER, srv->config_path, &cfg, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = config_load_private_key(&cfg, priv, msg, msg_len);
	if (rc < 0)
		goto out;
	if (sodium_memcmp(priv, srv->priv, MT6D_KEY_LEN) != 0 ||
	    strcmp(cfg.interface, srv->cfg.interface) != 0 ||
	    cfg.is_scale_mode != srv->cfg.is_scale_mode) {
		set_msg(msg, msg_len, "the private key, the interface or the address mode changed: "
			"restart the server");
		rc = -EINVAL;
		goto out;
	}
	rc = clients_build(&cfg, srv->priv, &clients, msg, msg_len);
	if (rc < 0)
		goto out;
	rc = tables_alloc(cfg.clients_len, &c_iids, &c_iids_old, &is_active);
	if (rc < 0) {
		clients_free(clients, cfg.clients_len);
		goto out;
	}
	/* Carry sessions over to the new table; end the others'. */
	for (i = 0; i < srv->n_clients; i++) {
		struct server_client *old = &srv->clients[i];
		struct server_client *now = NULL;
		size_t j;

		for (j = 0; j < cfg.clients_len; j++)
			if (same_client(&clients[j].cfg, &old->cfg))
				now = &clients[j];
		if (now) {
			struct server_session *ss = session_of(srv, old->cfg.id);

			now->tokens = old->tokens;
			now->tokens_at = old->tokens_at;
			if (ss)
				snprintf(ss->name, sizeof(ss->name), "%s", now->cfg.name);
			continue;
		}
		removed++;
		if (srv->publisher)
			publish_remove_client(srv->publisher, old->cfg.public_key);
		audit(srv, "client '%s' (id %u) revoked", old->cfg.name, old->cfg.id);
		if (session_of(srv, old->cfg.id))
			session_end(session_of(srv, old->cfg.id), MSG_TEARDOWN_REVOKED, true);
	}
	/* Sessions still closing look their client up by id: detach them. */
	clients_free(srv->clients, srv->n_clients);
	free(srv->c_iids);
	free(srv->c_iids_old);
	free(srv->is_active);
	srv->clients = clients;
	srv->n_clients = cfg.clients_len;
	srv->c_iids = c_iids;
	srv->c_iids_old = c_iids_old;
	srv->is_active = is_active;
	/* Config values that apply from now on (new sessions, next K). */
	srv->cfg.rotation_ms = cfg.rotation_ms;
	srv->cfg.config_period_s = cfg.config_period_s;
	config_fini(&srv->cfg);
	srv->cfg = cfg;
	memset(&cfg, 0, sizeof(cfg));
	if (srv->publisher)
		for (i = 0; i < srv->n_clients; i++)
			if (!is_expired(&srv->clients[i].cfg, (int64_t)ev_time()))
				publish_add_client(srv->publisher, srv->clients[i].cfg.public_key);
	/* The maps hold indexes into the table: rebuild them, under a new K
	 * if a client was removed. */
	if (removed)
		server_rekey(srv, true, "revocation");
	else
		intro_rebuild(srv);
	log_info("configuration reloaded: %zu registered clients, %u revoked", srv->n_clients,
		 removed);
	rc = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	config_fini(&cfg);
	return rc;
}

/* ---------- show ---------- */

void server_get_stats(const struct server *srv, struct server_stats *stats_out)
{
	*stats_out = srv->stats;
}

unsigned server_session_count(const struct server *srv)
{
	return (unsigned)sesstab_count(&srv->table);
}

const char *server_state_dir(const struct server *srv)
{
	return srv->cfg.state_dir;
}

static void show_endpoint(struct ctl_reply *r, const char *key, const struct in6_addr *seed,
			  const uint8_t slot_key[static 32], uint64_t slot)
{
	struct rotate_endpoint ep;
	char a[INET6_ADDRSTRLEN];

	rotate_endpoint_for(seed, slot_key, slot, &ep);
	ctl_reply_printf(r, "%s=[%s]:%u\n", key, addr_str(&ep.addr, a), ep.port);
}

static void show_session(struct server *srv, struct ctl_reply *r, struct server_session *ss)
{
	struct tunnel_stats st;
	char a[INET6_ADDRSTRLEN], words[1024], *w, *save = NULL;
	uint64_t slot = tunnel_current_slot(ss->tunnel);

	(void)srv;
	ctl_reply_printf(r, "client=%s\n", ss->name);
	ctl_reply_printf(r, "id=%u\n", ss->id);
	ctl_reply_printf(r, "session_interface=%s\n", tunnel_tun_name(ss->tunnel));
	ctl_reply_printf(r, "server_tunnel_address=%s\n", addr_str(&ss->server_tunnel, a));
	ctl_reply_printf(r, "client_tunnel_address=%s\n", addr_str(&ss->client_tunnel, a));
	ctl_reply_printf(r, "server_seed=%s\n", addr_str(&ss->server_seed, a));
	ctl_reply_printf(r, "client_seed=%s\n", addr_str(&ss->client_seed, a));
	ctl_reply_printf(r, "rotation_ms=%u\n", tunnel_rotation_ms(ss->tunnel));
	ctl_reply_printf(r, "slot=%" PRIu64 "\n", slot);
	ctl_reply_printf(r, "next_rotation_ms=%" PRId64 "\n", tunnel_next_move_in_ms(ss->tunnel));
	show_endpoint(r, "own_endpoint", &ss->server_seed, ss->keys.session, slot);
	show_endpoint(r, "peer_endpoint", &ss->client_seed, ss->keys.session, slot);
	show_endpoint(r, "own_endpoint_next", &ss->server_seed, ss->keys.session, slot + 1);
	show_endpoint(r, "peer_endpoint_next", &ss->client_seed, ss->keys.session, slot + 1);
	ctl_reply_printf(r, "started=%.0f\n", ss->started_at);
	ctl_reply_printf(r, "last_rx=%.0f\n", ss->ent.last_rx_ms / 1000.0);
	tunnel_get_stats(ss->tunnel, &st);
	tunnel_format_stats(&st, words, sizeof(words));
	for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
		ctl_reply_printf(r, "%s\n", w);
}

static void show_server(struct server *srv, struct ctl_reply *r)
{
	const struct server_stats *s = &srv->stats;
	char a[INET6_ADDRSTRLEN];
	uint64_t slot = current_slot(srv->gen);
	int64_t next_ms;
	size_t i, active = 0;

	for (i = 0; i < srv->n_clients; i++)
		active += srv->is_active[i];
	ctl_reply_printf(r, "role=server\n");
	ctl_reply_printf(r, "interface=%s\n", tun_name(srv->intro_tun));
	ctl_reply_printf(r, "link=%s\n", srv->cfg.interface);
	ctl_reply_printf(r, "address_mode=%s\n", srv->ndresp ? "scale" : "per-address");
	if (srv->ndresp) {
		struct ndresp_stats ns;

		ndresp_get_stats(srv->ndresp, &ns);
		ctl_reply_printf(r, "nd_addrs=%zu\nnd_answered=%" PRIu64 "\nnd_not_ours=%" PRIu64
				 "\nnd_malformed=%" PRIu64 "\nnd_socket_drops=%" PRIu64 "\n",
				 ndresp_count(srv->ndresp), ns.answered, ns.not_ours, ns.malformed,
				 ns.socket_drops);
	}
	ctl_reply_printf(r, "seed_address=%s\n", addr_str(&srv->seed, a));
	{ /* guard */
		char g[512];

		guard_format_stats(srv->guard, g, sizeof(g));
		ctl_reply_printf(r, "%s", g);
	}
	ctl_reply_printf(r, "tunnel_prefix=%s/%u\n", addr_str(&srv->tunnel_prefix, a),
			 srv->tunnel_prefix_len);
	ctl_reply_printf(r, "rotation_ms=%u\n", srv->gen->rotation_ms);
	ctl_reply_printf(r, "threat=%s\n", server_threat_name(srv->threat));
	ctl_reply_printf(r, "threat_set=%s\n", server_threat_name(srv->threat_set));
	ctl_reply_printf(r, "threat_rotation_ms=%u\n", server_threat_rotation_ms(srv, srv->threat));
	ctl_reply_printf(r, "config_period_s=%u\n", srv->cfg.config_period_s);
	ctl_reply_printf(r, "key_generation=%" PRIu64 "\n", srv->gen->number);
	ctl_reply_printf(r, "key_changed=%.0f\n", srv->k_changed_at);
	ctl_reply_printf(r, "slot=%" PRIu64 "\n", slot);
	next_ms = rotate_slot_start_ms(srv->gen->rotation_ms, slot + 1) - now_ms();
	ctl_reply_printf(r, "next_rotation_ms=%" PRId64 "\n", next_ms > 0 ? next_ms : 0);
	show_endpoint(r, "intro_endpoint", &srv->seed, srv->gen->slot_key, slot);
	show_endpoint(r, "intro_endpoint_next", &srv->seed, srv->gen->slot_key, slot + 1);
	ctl_reply_printf(r, "registered_clients=%zu\n", srv->n_clients);
	ctl_reply_printf(r, "active_clients=%zu\n", active);
	ctl_reply_printf(r, "sessions=%zu\n", sesstab_count(&srv->table));
	ctl_reply_printf(r,
			 "intro_rx=%" PRIu64 "\ndrops_unknown_iid=%" PRIu64 "\ndrops_wire=%" PRIu64
			 "\ndrops_inner=%" PRIu64 "\ndrops_rate=%" PRIu64
			 "\ndrops_client_id=%" PRIu64 "\ndrops_msg=%" PRIu64
			 "\ndrops_auth=%" PRIu64 "\ndrops_stale=%" PRIu64
			 "\ndrops_replay=%" PRIu64 "\ndrops_ciid=%" PRIu64 "\ndrops_superseded=%" PRIu64
			 "\nsession_errors=%" PRIu64 "\nsessions_started=%" PRIu64
			 "\nsessions_ended=%" PRIu64 "\nrekeys=%" PRIu64 "\naddr_errors=%" PRIu64
			 "\n",
			 s->intro_rx, s->drops_unknown_iid, s->drops_wire, s->drops_inner,
			 s->drops_rate, s->drops_client_id, s->drops_msg, s->drops_auth,
			 s->drops_stale, s->drops_replay, s->drops_ciid, s->drops_superseded, s->session_errors,
			 s->sessions_started, s->sessions_ended, s->rekeys, s->addr_errors);
	if (srv->publisher) {
		struct publish_stats ps;
		struct dht_stats ds;

		publish_get_stats(srv->publisher, &ps);
		dht_get_stats(dhtev_dht(srv->dht), dhtev_now_ms(), &ds);
		ctl_reply_printf(r, "dht_nodes=%zu\ndht_rx=%" PRIu64 "\ndht_tx=%" PRIu64
				 "\npublished_clients=%zu\npublications=%zu\npublish_failures=%zu"
				 "\nannounces_acked=%zu\npublish_pending=%zu\n",
				 ds.good6 + ds.questionable6, ds.rx, ds.tx, ps.clients, ps.publications,
				 ps.failures, ps.announces_acked, ps.pending);
		ctl_reply_printf(r, "window=%" PRIu64 "\nepoch=%d\n", srv->win_start,
				 publish_get_epoch(srv->publisher, srv->win_start));
	}
	for (i = 0; i < srv->n_clients; i++)
		if (session_of(srv, srv->clients[i].cfg.id))
			show_session(srv, r, session_of(srv, srv->clients[i].cfg.id));
}

int server_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *reply)
{
	struct server *srv = ctx;
	char msg[512] = "";
	size_t i;
	int rc;

	if (!req->is_set) {
		show_server(srv, reply);
		return 0;
	}
	for (i = 0; i < req->n_pairs; i++) {
		const struct ctl_pair *p = &req->pairs[i];

		if (!strcmp(p->key, "reload") && !strcmp(p->value, "1")) {
			rc = server_reload(srv, msg, sizeof(msg));
			if (rc < 0) {
				log_warnx("reload refused: %s", msg);
				ctl_reply_printf(reply, "error=%s\n", msg);
				return rc;
			}
		} else if (!strcmp(p->key, "rekey") && !strcmp(p->value, "1")) {
			server_rekey(srv, true, "operator request");
		} else if (!strcmp(p->key, "threat")) {
			enum server_threat level;

			if (server_threat_parse(p->value, &level) < 0) {
				ctl_reply_printf(reply, "error=threat level must be low, normal or high\n");
				return -EINVAL;
			}
			server_set_threat(srv, level, false, "operator request");
		} else {
			ctl_reply_printf(reply, "error=unknown key '%s'\n", p->key);
			return -EINVAL;
		}
	}
	return 0;
}
