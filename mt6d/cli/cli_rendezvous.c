/* mt6d rendezvous: the blind rendezvous on its own, for any two key holders,
 * over the Mainline DHT (a short-lived DHT node of our own, mt6d/engine/dhtev.c):
 *
 *   mt6d rendezvous put --key PRIVFILE --to PUBKEY [options] MESSAGE|-
 *   mt6d rendezvous get --key PRIVFILE --from PUBKEY [options]
 *   mt6d rendezvous fetch --key PRIVFILE --server PUBKEY [options]
 *   mt6d rendezvous publish --key PRIVFILE --clients FILE [options]
 *
 * put/get carry a generic message (docs/PROTOCOL.md 5.4); fetch opens the
 * config a server published for us, and publish is that server side on its
 * own (for labs and tests until mt6d-server does it). Results go to stdout,
 * progress and reasons to stderr; exit codes tell the reasons apart. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/config.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/engine/itemfetch.h"
#include "mt6d/core/keys.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/engine/rdvitem.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/cli/subcommands.h"

/* Exit codes of get and fetch. */
enum {
	EXIT_FOUND = 0,
	EXIT_ERROR = 1,         /* usage, keys, sockets */
	EXIT_NOTHING = 2,
	EXIT_NOT_AUTHENTIC = 3,
	EXIT_EXPIRED = 4,
	EXIT_NO_DHT = 5,        /* no DHT node answered, or the time limit */
	EXIT_NOT_STORED = 6,    /* put: no node stored some chunk */
};

#define DEFAULT_PERIOD_S 900
#define DEFAULT_TIMEOUT_S 60
#define MAX_NODES 64           /* publish: DHT nodes (source addresses) */
#define MAX_PROBE_EPOCHS 4     /* put: epochs probed for the next free one */
#define PUT_PROBE 0xff
/* put: chunk announces running at once. A message's chunks are stored by
 * different nodes in a large swarm (parallel is faster) and by the same few
 * in a small one, where every chunk shares each node's pacing (333 ms per
 * message): a bounded window keeps the other chunks' lookups from waiting
 * behind hundreds of queued announces (dht.h, DHT_PACE_RESERVE). */
#define PUT_WINDOW 4
#define PUT_MAX_RUNS 3         /* per chunk: the first and two retries */

struct rdv_args {
	const char *cmd;
	const char *key_file, *peer, *boot, *clients_file, *seed_addr;
	char listen[1024];
	unsigned long port;
	uint64_t period_ms, rotation_ms, timeout_ms;
	bool is_timeout_set;
	int64_t window;          /* 0: from the clock; -1/+1 via prev/next */
	int window_rel;
	int epoch;               /* put: -1 auto */
	int64_t rekey_at_s;      /* publish: new K this long into each window (-1 none) */
	int64_t lead_s, spread_s; /* publish: -1 defaults */
	bool is_no_next, is_show_keys, is_quiet, is_verbose;
	enum config_rdv_channel channel;  /* --channel, both by default */
	const char *message;
};

struct rdv {
	struct rdv_args *a;
	struct ev_loop *loop;
	struct dhtev *nodes[MAX_NODES];
	size_t n_nodes;
	uint8_t priv[MT6D_KEY_LEN], peer[MT6D_KEY_LEN];
	int exit_code;
	bool is_tty;
	int64_t started_ms;
	ev_signal sig_int, sig_term;
	/* get / fetch: one fetch per channel, the first that opens wins */
	struct fetch *fetch;
	struct itemfetch *ifetch;
	int n_channels, n_failed;
	bool is_reported;
	struct fetch_result failure;     /* the most telling failure so far */
	/* put */
	int phase;               /* 0 join, 1 probing epochs, 2 announcing, 3 done */
	uint8_t d[DERIVE_DESCRIPTOR_LEN];
	uint64_t window;
	int probe_left, announce_left;
	bool has_peers[MAX_PROBE_EPOCHS];
	uint8_t sealed[RENDEZVOUS_MAX_MSG_LEN];
	size_t sealed_len;
	size_t chunk_acked[RENDEZVOUS_MAX_CHUNKS];
	size_t n_chunks;
	struct put_chunk {
		uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS]; /* the same on every run */
		size_t n_ports;
		uint8_t runs;
		bool is_running, is_stored, is_held;
		size_t n_stored, n_wanted;                  /* of its best run */
	} chunk[RENDEZVOUS_MAX_CHUNKS];
	int item_probe_epoch;    /* put: seq of the item already there, -1 none */
	bool is_item_put;        /* the item was put */
	bool is_item_running;    /* its put runs */
	size_t item_acked, item_tokens;
	/* publish */
	struct pubsched *pub;
	struct pubsched *ipub;
	uint8_t (*clients)[MT6D_KEY_LEN];
	size_t n_clients;
	uint64_t win_start[2];
	uint8_t win_key[2][MT6D_INTRO_KEY_LEN];
	int win_printed_epoch[2];
	bool win_rekeyed[2];
	uint8_t seed[16];
	int64_t last_status_ms;
};

static void rdv_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s rendezvous put --key PRIVFILE --to PUBKEY [options] MESSAGE|-\n"
		"       %s rendezvous get --key PRIVFILE --from PUBKEY [options]\n"
		"       %s rendezvous fetch --key PRIVFILE --server PUBKEY [options] [--show-keys]\n"
		"       %s rendezvous publish --key PRIVFILE --clients FILE [options]\n"
		"\n"
		"put leaves MESSAGE (or stdin with '-') for the holder of PUBKEY in the current\n"
		"window: at most %d bytes (a stuffed message holds 255, the seal takes %d). get\n"
		"finds the message from PUBKEY and writes it to stdout. fetch opens the config a\n"
		"server published for this key; publish publishes configs for the clients of\n"
		"FILE (one public key per line) every window until interrupted.\n"
		"\n"
		"Options:\n"
		"  -b, --bootstrap LIST   DHT nodes, host:port or [v6]:port, comma-separated\n"
		"                         (default %s)\n"
		"  -l, --listen ADDR      our DHT node's address (default ::); publish: a\n"
		"                         comma-separated list, one node (source address) each\n"
		"  -p, --port PORT        our DHT node's UDP port (default 0: any)\n"
		"  -n, --period N         window length (default 15min)\n"
		"  -w, --window T         the window holding UNIX time T, or 'prev'/'next'\n"
		"                         (default: now, and the neighbouring window near an edge)\n"
		"  -t, --timeout N        give up after N (default 60s)\n"
		"  -e, --epoch E          put: the epoch (default: after the last one in use)\n"
		"  --channel CH           both (default), peers (port stuffing) or items\n"
		"                         (BEP 44 mutable items): where to put, get, fetch or\n"
		"                         publish; get and fetch take the first that opens\n"
		"  -q, --quiet            no progress line\n"
		"  -v, --verbose          publish: a status line every 5 s\n"
		"  publish only: --seed-address ADDR, --rotation ROT (default 3s),\n"
		"                --rekey-at N (a new K N into each window: next epoch), --no-next,\n"
		"                --lead N (all out N before a window), --spread N (over N)\n"
		"\n"
		"Exit status: 0 found/stored, 1 error, 2 nothing found, 3 found but not\n"
		"authentic, 4 found but expired, 5 no DHT node answered or timed out,\n"
		"6 put: no node stored a chunk.\n",
		prog_name, prog_name, prog_name, prog_name, RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN,
		RENDEZVOUS_OVERHEAD, DHT_DEFAULT_BOOTSTRAP);
}

static void hexs(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int exit_for(int status)
{
	switch (status) {
	case 0: return EXIT_FOUND;
	case FETCH_ERR_NOTHING: return EXIT_NOTHING;
	case FETCH_ERR_NOT_AUTHENTIC: return EXIT_NOT_AUTHENTIC;
	case FETCH_ERR_EXPIRED: return EXIT_EXPIRED;
	default: return EXIT_NO_DHT;
	}
}

static uint64_t window_for(const struct rdv_args *a, int64_t unix_ms)
{
	uint32_t n = (uint32_t)(a->period_ms / 1000);
	if (a->window)
		return derive_window_start(a->window, n);
	uint64_t w = derive_window_start(unix_ms / 1000, n);
	if (a->window_rel < 0)
		return w - n;
	return a->window_rel > 0 ? w + n : w;
}

/* Our address as DHT nodes see it, for a BEP 42 node id (strict nodes,
 * libtorrent's dht_enforce_node_id, refuse any other with error 203): the
 * listen address when it is a specific one, else the source address
 * towards the bootstrap nodes. Returns its length, 0 when unknown (a
 * random id then). */
static socklen_t external_for(const char *listen, const char *boot, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	socklen_t len = 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, listen, &s6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr)) {
			s6->sin6_family = AF_INET6;
			return sizeof(*s6);
		}
		return dhtev_source_address(AF_INET6, boot, ss, &len) == 0 ? len : 0;
	}
	if (inet_pton(AF_INET, listen, &s4->sin_addr) == 1) {
		if (s4->sin_addr.s_addr != htonl(INADDR_ANY)) {
			s4->sin_family = AF_INET;
			return sizeof(*s4);
		}
		return dhtev_source_address(AF_INET, boot, ss, &len) == 0 ? len : 0;
	}
	return 0;
}

static void on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* --- get and fetch ------------------------------------------------------ */

static void on_progress(void *closure, const struct fetch_progress *p)
{
	struct rdv *r = closure;
	if (!r->is_tty || r->a->is_quiet)
		return;
	fprintf(stderr, "\r%s: asked %zu nodes, %zu answered with %zu values, lookups %zu/%zu, %.1f s ",
		r->a->cmd, p->queries, p->nodes, p->values, p->lookups_done, p->lookups_started,
		(double)p->elapsed_ms / 1000.0);
}

static void print_config(const struct rdv *r, const struct fetch_result *res)
{
	char addr[INET6_ADDRSTRLEN], key[2 * MT6D_INTRO_KEY_LEN + 1];
	inet_ntop(AF_INET6, res->cfg.server_seed_addr, addr, sizeof(addr));
	printf("window %" PRIu64 "\nepoch %u\nseed-address %s\n", res->window_start, res->epoch, addr);
	if (r->a->is_show_keys) {
		hexs(res->cfg.intro_key, MT6D_INTRO_KEY_LEN, key);
		printf("intro-key %s\n", key);
	} else {
		printf("intro-key (hidden)\n");
	}
	printf("rotation-ms %u\nperiod-s %u\n", res->cfg.rotation_ms, res->cfg.period_s);
	sodium_memzero(key, sizeof(key));
}

static void report(struct rdv *r, const struct fetch_result *res)
{
	char from[INET6_ADDRSTRLEN];
	const struct fetch_progress *p = &res->progress;

	if (r->is_tty && !r->a->is_quiet)
		fprintf(stderr, "\r\033[K");
	inet_ntop(AF_INET6, res->from_addr, from, sizeof(from));
	/* Since the node started (its bootstrap included), by the clock: a
	 * channel's own figure dates from its last tick. */
	if (!r->a->is_quiet)
		fprintf(stderr, "%s: %s%s%s after %.2f s (%zu queries, %zu values, %zu lookups)\n",
			r->a->cmd, fetch_strerror(res->status), res->status == 0 ? " from " : "",
			res->status != 0 ? "" : strcmp(from, "::") ? from : "a BEP 44 item", (double)(dhtev_now_ms() - r->started_ms) / 1000.0,
			p->queries, p->values, p->lookups_done);
	if (res->status == 0 || res->status == FETCH_ERR_EXPIRED) {
		if (res->status == FETCH_ERR_EXPIRED)
			fprintf(stderr, "%s: the message is for window %" PRIu64 ", which is over\n",
				r->a->cmd, res->window_start);
	}
	/* An expired config or message is shown too (it is authentic), with
	 * its own exit status. */
	if (res->status == 0 || res->status == FETCH_ERR_EXPIRED) {
		if (!strcmp(r->a->cmd, "fetch")) {
			print_config(r, res);
		} else {
			fwrite(res->msg, 1, res->msg_len, stdout);
			putchar('\n');
		}
		fflush(stdout);
	}
	r->exit_code = exit_for(res->status);
	ev_break(r->loop, EVBREAK_ALL);
}

/* How much a failure says: an authentic but expired message first, then
 * not authentic, nothing found, no node or the time limit. */
static int failure_rank(int status)
{
	return status == FETCH_ERR_EXPIRED ? 4 : status == FETCH_ERR_NOT_AUTHENTIC ? 3 :
	       status == FETCH_ERR_NOTHING ? 2 : 1;
}

/* A channel's verdict: the first that opens is reported at once; when
 * every channel failed, the most telling failure. */
static void on_fetched(void *closure, const struct fetch_result *res)
{
	struct rdv *r = closure;
	if (r->is_reported)
		return;
	if (res->status != 0) {
		if (!r->n_failed++ || failure_rank(res->status) > failure_rank(r->failure.status))
			r->failure = *res;
		if (r->n_failed < r->n_channels)
			return;
		res = &r->failure;
	}
	r->is_reported = true;
	report(r, res);
}

/* The item channel's verdict: a failure ends the port-stuffing fetch's
 * head-start hold (fetch.h, FETCH_PEERS_HOLD_MS). */
static void on_item_fetched(void *closure, const struct fetch_result *res)
{
	struct rdv *r = closure;
	if (res->status != 0 && r->fetch)
		fetch_release(r->fetch, dhtev_now_ms());
	on_fetched(closure, res);
}

static int64_t fetch_hook(void *ctx, int64_t now_ms)
{
	struct rdv *r = ctx;
	int64_t a = r->fetch && !fetch_is_done(r->fetch) ? fetch_tick(r->fetch, now_ms) : INT64_MAX;
	int64_t b = r->ifetch && !itemfetch_is_done(r->ifetch) ? itemfetch_tick(r->ifetch, now_ms)
							       : INT64_MAX;
	return a < b ? a : b;
}

static int run_fetch(struct rdv *r, enum fetch_kind kind)
{
	struct fetch_params fp = {
		.kind = kind,
		.period_s = (uint32_t)(r->a->period_ms / 1000),
		.timeout_ms = (int64_t)r->a->timeout_ms,
		.family = dhtev_family(r->nodes[0]),
	};
	int64_t unix_ms = dhtev_unix_ms();
	fp.edge_s = fp.period_s / 10 < 60 ? fp.period_s / 10 : 60;
	if (r->a->window || r->a->window_rel)
		fp.window_start = window_for(r->a, unix_ms);
	int rc = 0;
	r->n_channels = r->a->channel == CONFIG_RDV_BOTH ? 2 : 1;
	if (r->a->channel != CONFIG_RDV_PEERS)
		rc = itemfetch_new(dhtev_dht(r->nodes[0]), &fp, r->priv, r->peer, on_item_fetched, r,
				   &r->ifetch);
	if (r->ifetch)
		fp.hold_ms = FETCH_PEERS_HOLD_MS;
	if (rc == 0 && r->a->channel != CONFIG_RDV_ITEMS)
		rc = fetch_new(dhtev_dht(r->nodes[0]), &fp, r->priv, r->peer, on_fetched, on_progress, r,
			       &r->fetch);
	if (rc < 0) {
		fprintf(stderr, "%s rendezvous %s: the peer's key is not usable (low order)\n", prog_name,
			r->a->cmd);
		return EXIT_ERROR;
	}
	dhtev_set_hook(r->nodes[0], fetch_hook, r);
	r->exit_code = EXIT_NO_DHT;
	if (r->ifetch)
		rc = itemfetch_start(r->ifetch, dhtev_now_ms(), unix_ms);
	if (rc == 0 && r->fetch)
		rc = fetch_start(r->fetch, dhtev_now_ms(), unix_ms);
	if (rc < 0) {
		fprintf(stderr, "%s rendezvous %s: starting the lookups: %s\n", prog_name, r->a->cmd,
			strerror(-rc));
		return EXIT_ERROR;
	}
	if (!r->is_reported) {
		dhtev_kick(r->nodes[0]);
		ev_run(r->loop, 0);
	}
	dhtev_set_hook(r->nodes[0], NULL, NULL);
	fetch_free(r->fetch);
	r->fetch = NULL;
	itemfetch_free(r->ifetch);
	r->ifetch = NULL;
	return r->exit_code;
}

/* --- put ------------------------------------------------------------------ */

static void put_announce(struct rdv *r, int epoch, int64_t now_ms);

/* The item channel of put: a probe of the item already in the window (its
 * seq is an epoch in use), then the put itself. */
static void on_item_result(void *closure, const struct dht_result *res)
{
	struct rdv *r = closure;
	if (res->event == DHT_EVENT_ITEM && res->item->seq > r->item_probe_epoch &&
	    res->item->seq <= UINT8_MAX)
		r->item_probe_epoch = (int)res->item->seq;
	if (res->event != DHT_EVENT_DONE)
		return;
	if (r->phase == 1) {
		r->probe_left--;
	} else if (r->phase == 2) {
		r->item_acked = res->n_announced;
		r->item_tokens = res->n_tokens;
		r->is_item_running = false;
	}
}

static int item_target(struct rdv *r, uint8_t target[DHT_ID_LEN])
{
	uint8_t s[DERIVE_SECRET_LEN], pub[MT6D_KEY_LEN];
	keys_public_from_private(pub, r->priv);
	int rc = keys_shared_secret(s, r->priv, r->peer);
	if (rc == 0)
		rc = rdvitem_target(target, pub, s, r->window, ITEMKEY_MESSAGE);
	sodium_memzero(s, sizeof(s));
	return rc;
}

static int item_put(struct rdv *r, int epoch, int64_t now_ms)
{
	static struct dht_item it;
	uint8_t s[DERIVE_SECRET_LEN];
	int rc = keys_shared_secret(s, r->priv, r->peer);
	if (rc == 0)
		rc = rdvitem_make(&it, r->priv, s, r->window, ITEMKEY_MESSAGE, (uint8_t)epoch, r->sealed,
				  r->sealed_len);
	sodium_memzero(s, sizeof(s));
	if (rc == 0)
		rc = dht_put_item(dhtev_dht(r->nodes[0]), &it, dhtev_family(r->nodes[0]), on_item_result,
				  r, now_ms);
	sodium_memzero(&it, sizeof(it));
	return rc < 0 ? rc : 0;
}

static void on_put_result(void *closure, const struct dht_result *res)
{
	struct rdv *r = closure;
	if (res->event != DHT_EVENT_DONE)
		return;
	if (r->phase == 1) {
		/* A probe of chunk 0 of epoch e: the op's target tells which. */
		for (int e = 0; e < MAX_PROBE_EPOCHS; e++) {
			uint8_t ih[RENDEZVOUS_INFOHASH_LEN];
			rendezvous_chunk_infohash(ih, r->d, (uint8_t)e, 0);
			if (!memcmp(ih, res->target, sizeof(ih)) && res->n_peers)
				r->has_peers[e] = true;
		}
		r->probe_left--;
		return;
	}
	if (r->phase == 2) {
		for (size_t j = 0; j < r->n_chunks; j++) {
			uint8_t ih[RENDEZVOUS_INFOHASH_LEN];
			struct put_chunk *c = &r->chunk[j];
			rendezvous_chunk_infohash(ih, r->d, (uint8_t)r->a->epoch, (uint8_t)j);
			if (memcmp(ih, res->target, sizeof(ih)) || !c->is_running)
				continue;
			c->is_running = false;
			r->chunk_acked[j] += res->n_announced;
			if (res->n_stored >= c->n_stored) {
				c->n_stored = res->n_stored;
				c->n_wanted = res->n_wanted;
			}
			c->is_stored |= res->n_wanted > 0 && res->n_stored >= res->n_wanted;
			c->is_held |= res->n_stored > 0;
		}
		r->announce_left--;
	}
}

/* Starts the announces of chunks neither stored nor running, PUT_WINDOW at
 * a time, each at most PUT_MAX_RUNS times (a retry announces the same ports
 * again, from the same socket). Returns how many run after the call, or
 * -errno when the node refused one. */
static int put_pump(struct rdv *r, int64_t now_ms)
{
	struct dht *d = dhtev_dht(r->nodes[0]);
	int running = 0;
	for (size_t j = 0; j < r->n_chunks; j++)
		running += r->chunk[j].is_running;
	for (size_t j = 0; j < r->n_chunks && running < PUT_WINDOW; j++) {
		struct put_chunk *c = &r->chunk[j];
		uint8_t ih[RENDEZVOUS_INFOHASH_LEN];
		if (c->is_running || c->is_stored || c->runs >= PUT_MAX_RUNS)
			continue;
		rendezvous_chunk_infohash(ih, r->d, (uint8_t)r->a->epoch, (uint8_t)j);
		c->is_running = true;
		c->runs++;
		int op = dht_announce(d, ih, dhtev_family(r->nodes[0]), c->ports, c->n_ports, on_put_result, r,
				      now_ms);
		if (op < 0) {
			c->is_running = false;
			return op;
		}
		r->announce_left++;
		running += c->is_running;
	}
	return running;
}

static bool has_table(struct dhtev *n, int64_t now_ms)
{
	struct dht_stats st;
	dht_get_stats(dhtev_dht(n), now_ms, &st);
	return dhtev_family(n) == AF_INET6 ? st.good6 + st.questionable6 > 0
					   : st.good4 + st.questionable4 > 0;
}

static void put_announce(struct rdv *r, int epoch, int64_t now_ms)
{
	uint8_t plain[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN];
	size_t len = strlen(r->a->message);
	memcpy(plain, r->a->message, len);
	int n = rendezvous_message_seal(r->sealed, sizeof(r->sealed), plain, len, r->priv, r->peer,
					r->window, (uint8_t)epoch, NULL);
	sodium_memzero(plain, sizeof(plain));
	if (n < 0) {
		fprintf(stderr, "%s rendezvous put: sealing: %s\n", prog_name, strerror(-n));
		r->exit_code = EXIT_ERROR;
		ev_break(r->loop, EVBREAK_ALL);
		return;
	}
	r->a->epoch = epoch;
	r->sealed_len = (size_t)n;
	r->n_chunks = r->a->channel == CONFIG_RDV_ITEMS ? 0 : rendezvous_chunk_count(r->sealed_len);
	r->phase = 2;
	r->announce_left = 0;
	if (r->a->channel != CONFIG_RDV_PEERS) {
		int rc = item_put(r, epoch, now_ms);
		if (rc < 0) {
			fprintf(stderr, "%s rendezvous put: the item: %s\n", prog_name, strerror(-rc));
			r->exit_code = EXIT_ERROR;
			ev_break(r->loop, EVBREAK_ALL);
			return;
		}
		r->is_item_put = true;
		r->is_item_running = true;
	}
	size_t n_ports = 0;
	for (size_t j = 0; j < r->n_chunks; j++) {
		int np = rendezvous_stuff_chunk(r->chunk[j].ports, r->sealed, r->sealed_len, j, NULL);
		r->chunk[j].n_ports = np > 0 ? (size_t)np : 0;
		n_ports += r->chunk[j].n_ports;
	}
	/* In a swarm of DHT_K nodes or fewer every node stores every chunk,
	 * one port per DHT_PACE_MS: the default limit leaves room for that. */
	int64_t need_ms = now_ms - r->started_ms + (int64_t)n_ports * DHT_PACE_MS + 30000;
	if (!r->a->is_timeout_set && (int64_t)r->a->timeout_ms < need_ms)
		r->a->timeout_ms = (uint64_t)need_ms;
	/* Items first, as mt6d-server does (docs/PROTOCOL.md 12.4): the
	 * announces start when the put has ended (put_hook). */
	int rc = r->is_item_running ? 0 : put_pump(r, now_ms);
	if (rc < 0) {
		fprintf(stderr, "%s rendezvous put: announcing: %s\n", prog_name, strerror(-rc));
		r->exit_code = EXIT_ERROR;
		ev_break(r->loop, EVBREAK_ALL);
		return;
	}
	if (!r->a->is_quiet)
		fprintf(stderr, "put: %zu bytes sealed to %zu, %zu chunks, window %" PRIu64 " epoch %d\n",
			len, r->sealed_len, r->n_chunks, r->window, epoch);
}

/* Every chunk has ended its last run: stored when each is at its quorum
 * (dht_store_quorum) or, after its retries, held in full by some node. */
static int64_t put_finish(struct rdv *r, int64_t now_ms)
{
	size_t total = 0, n_short = 0, n_lost = 0;
	for (size_t j = 0; j < r->n_chunks; j++) {
		total += r->chunk_acked[j];
		n_short += !r->chunk[j].is_stored;
		n_lost += !r->chunk[j].is_held;
	}
	double took = (double)(now_ms - r->started_ms) / 1000.0;
	/* Stored when one channel in use holds all of it. */
	bool is_peers_ok = r->n_chunks && n_lost == 0, is_item_ok = r->item_acked > 0;
	r->phase = 3;
	r->exit_code = is_peers_ok || is_item_ok ? EXIT_FOUND : EXIT_NOT_STORED;
	if (r->n_chunks && (!r->a->is_quiet || n_lost))
		fprintf(stderr, "put: %s: %zu announces acknowledged in %.2f s\n",
			n_lost ? "some chunk was stored by no node" :
			n_short ? "stored (some chunk below its quorum)" : "stored",
			total, took);
	if (r->is_item_put && (!r->a->is_quiet || !is_item_ok))
		fprintf(stderr, "put: item %s: %zu of %zu nodes took it in %.2f s\n",
			is_item_ok ? "stored" : "stored by no node", r->item_acked, r->item_tokens, took);
	for (size_t j = 0; j < r->n_chunks && (n_short || r->a->is_verbose); j++)
		fprintf(stderr, "put: chunk %zu: %zu ports, on %zu nodes (quorum %zu), %u run%s\n", j,
			r->chunk[j].n_ports, r->chunk[j].n_stored, r->chunk[j].n_wanted, r->chunk[j].runs,
			r->chunk[j].runs == 1 ? "" : "s");
	ev_break(r->loop, EVBREAK_ALL);
	return INT64_MAX;
}

static int64_t put_hook(void *ctx, int64_t now_ms)
{
	struct rdv *r = ctx;
	struct dht *d = dhtev_dht(r->nodes[0]);

	if (now_ms - r->started_ms > (int64_t)r->a->timeout_ms) {
		fprintf(stderr, "%s rendezvous put: timed out after %.1f s\n", prog_name,
			(double)(now_ms - r->started_ms) / 1000.0);
		r->exit_code = EXIT_NO_DHT;
		ev_break(r->loop, EVBREAK_ALL);
		return INT64_MAX;
	}
	if (r->phase == 0) {
		/* Wait for the table (see fetch.c, is_table_empty). */
		if (!has_table(r->nodes[0], now_ms))
			return now_ms + 50;
		if (r->a->epoch >= 0) {
			put_announce(r, r->a->epoch, now_ms);
			return now_ms + 50;
		}
		r->phase = 1;
		r->item_probe_epoch = -1;
		for (int e = 0; e < MAX_PROBE_EPOCHS && r->a->channel != CONFIG_RDV_ITEMS; e++) {
			uint8_t ih[RENDEZVOUS_INFOHASH_LEN];
			rendezvous_chunk_infohash(ih, r->d, (uint8_t)e, 0);
			if (dht_collect(d, ih, dhtev_family(r->nodes[0]), on_put_result, r, now_ms) > 0)
				r->probe_left++;
		}
		uint8_t target[DHT_ID_LEN];
		if (r->a->channel != CONFIG_RDV_PEERS && item_target(r, target) == 0 &&
		    dht_get_item(d, target, NULL, 0, dhtev_family(r->nodes[0]), on_item_result, r,
				 now_ms) > 0)
			r->probe_left++;
		return now_ms + 50;
	}
	if (r->phase == 1 && r->probe_left == 0) {
		/* The reader steps while an epoch holds anything: the next one
		 * after the last in use keeps the epochs contiguous. */
		int epoch = r->item_probe_epoch + 1;
		for (int e = 0; e < MAX_PROBE_EPOCHS; e++)
			if (r->has_peers[e] && e + 1 > epoch)
				epoch = e + 1;
		if (epoch >= MAX_PROBE_EPOCHS) {
			fprintf(stderr, "%s rendezvous put: epochs 0..%d of this window are in use\n",
				prog_name, MAX_PROBE_EPOCHS - 1);
			r->exit_code = EXIT_ERROR;
			ev_break(r->loop, EVBREAK_ALL);
			return INT64_MAX;
		}
		put_announce(r, epoch, now_ms);
		return now_ms + 50;
	}
	/* While the item put runs, nothing else starts: the chunks' lookups
	 * and announces share the node's pacing and the foreign nodes'
	 * budgets, and a starved put left readers the slow channel. */
	if (r->phase == 2 && !r->is_item_running && put_pump(r, now_ms) == 0)
		return put_finish(r, now_ms);
	return now_ms + 50;
}

static int run_put(struct rdv *r)
{
	uint8_t s[DERIVE_SECRET_LEN];
	if (keys_shared_secret(s, r->priv, r->peer) < 0) {
		fprintf(stderr, "%s rendezvous put: --to: not a usable public key (low order)\n", prog_name);
		return EXIT_ERROR;
	}
	r->window = window_for(r->a, dhtev_unix_ms());
	derive_descriptor(r->d, s, r->window);
	sodium_memzero(s, sizeof(s));
	r->exit_code = EXIT_NO_DHT;
	dhtev_set_hook(r->nodes[0], put_hook, r);
	dhtev_kick(r->nodes[0]);
	ev_run(r->loop, 0);
	dhtev_set_hook(r->nodes[0], NULL, NULL);
	return r->exit_code;
}

/* --- publish ---------------------------------------------------------------- */

static int load_clients(struct rdv *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned lineno = 0;
	if (!f) {
		fprintf(stderr, "%s rendezvous publish: %s: %s\n", prog_name, path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *p = line + strspn(line, " \t");
		p[strcspn(p, " \t\r\n#")] = 0;
		if (!*p)
			continue;
		uint8_t (*nc)[MT6D_KEY_LEN] = realloc(r->clients, (r->n_clients + 1) * sizeof(*nc));
		if (!nc) {
			fclose(f);
			return -ENOMEM;
		}
		r->clients = nc;
		if (keys_from_base64(r->clients[r->n_clients], p) < 0) {
			fprintf(stderr, "%s rendezvous publish: %s:%u: not a public key: '%s'\n", prog_name,
				path, lineno, p);
			fclose(f);
			return -EINVAL;
		}
		r->n_clients++;
	}
	fclose(f);
	return 0;
}

/* The config of a window on every channel in use (their epochs move in
 * step). */
static int publish_set_config_all(struct rdv *r, uint64_t w, const struct rendezvous_config *cfg,
				  int64_t unix_ms)
{
	int e = r->pub ? pubsched_set_config(r->pub, w, cfg, unix_ms) : 0;
	if (r->ipub) {
		int ie = pubsched_set_config(r->ipub, w, cfg, unix_ms);
		e = r->pub && e < 0 ? e : ie;
	}
	return e;
}

/* A window's config: a fresh K, the seed address, Rot and n. */
static void make_config(struct rdv *r, int k, struct rendezvous_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->server_seed_addr, r->seed, 16);
	memcpy(cfg->intro_key, r->win_key[k], MT6D_INTRO_KEY_LEN);
	cfg->rotation_ms = (uint32_t)r->a->rotation_ms;
	cfg->period_s = (uint32_t)(r->a->period_ms / 1000);
}

static void publish_windows(struct rdv *r, int64_t unix_ms)
{
	uint32_t n = (uint32_t)(r->a->period_ms / 1000);
	uint64_t cur = derive_window_start(unix_ms / 1000, n);
	for (int i = 0; i < (r->a->is_no_next ? 1 : 2); i++) {
		uint64_t w = cur + (uint64_t)i * n;
		int k = (int)((w / n) % 2);
		struct rendezvous_config cfg;
		if (r->win_start[k] != w) {
			r->win_start[k] = w;
			randombytes_buf(r->win_key[k], MT6D_INTRO_KEY_LEN);
			r->win_printed_epoch[k] = -1;
			r->win_rekeyed[k] = false;
			make_config(r, k, &cfg);
			publish_set_config_all(r, w, &cfg, unix_ms);
		}
		if (i == 0 && r->a->rekey_at_s >= 0 && !r->win_rekeyed[k] &&
		    unix_ms >= (int64_t)(w + (uint64_t)r->a->rekey_at_s) * 1000) {
			r->win_rekeyed[k] = true;
			randombytes_buf(r->win_key[k], MT6D_INTRO_KEY_LEN);
			make_config(r, k, &cfg);
			int e = publish_set_config_all(r, w, &cfg, unix_ms);
			printf("rekey window %" PRIu64 " epoch %d\n", w, e);
			fflush(stdout);
		}
		int epoch = pubsched_get_epoch(r->pub ? r->pub : r->ipub, w);
		if (epoch >= 0 && epoch > r->win_printed_epoch[k] &&
		    (!r->pub || pubsched_is_window_done(r->pub, w)) &&
		    (!r->ipub || pubsched_is_window_done(r->ipub, w))) {
			char key[2 * MT6D_INTRO_KEY_LEN + 1];
			struct pubsched_stats st;
			struct pubsched_stats ist;
			memset(&st, 0, sizeof(st));
			memset(&ist, 0, sizeof(ist));
			if (r->pub)
				pubsched_get_stats(r->pub, &st);
			if (r->ipub)
				pubsched_get_stats(r->ipub, &ist);
			r->win_printed_epoch[k] = epoch;
			hexs(r->win_key[k], MT6D_INTRO_KEY_LEN, key);
			printf("published window %" PRIu64 " epoch %d clients %zu acked %zu failures %zu"
			       " items %zu item-failures %zu intro-key %s\n",
			       w, epoch, r->pub ? st.clients : ist.clients, st.acked, st.failures,
			       ist.publications, ist.failures, r->a->is_show_keys ? key : "(hidden)");
			fflush(stdout);
			sodium_memzero(key, sizeof(key));
		}
	}
}

static int64_t publish_hook(void *ctx, int64_t now_ms)
{
	struct rdv *r = ctx;
	int64_t unix_ms = dhtev_unix_ms();
	publish_windows(r, unix_ms);
	int64_t next = r->pub ? pubsched_tick(r->pub, now_ms, unix_ms) : now_ms + 200;
	if (r->ipub) {
		int64_t t = pubsched_tick(r->ipub, now_ms, unix_ms);
		next = t < next ? t : next;
	}
	if (r->a->is_verbose && now_ms - r->last_status_ms >= 5000) {
		struct pubsched_stats st;
		size_t good = 0;
		for (size_t i = 0; i < r->n_nodes; i++) {
			struct dht_stats ds;
			dht_get_stats(dhtev_dht(r->nodes[i]), now_ms, &ds);
			good += ds.good6 + ds.good4;
		}
		memset(&st, 0, sizeof(st));
		if (r->pub)
			pubsched_get_stats(r->pub, &st);
		r->last_status_ms = now_ms;
		fprintf(stderr, "publish: clients %zu publications %zu refreshes %zu failures %zu ops %zu/%zu "
			"acked %zu waiting %zu good-nodes %zu\n", st.clients, st.publications, st.refreshes,
			st.failures, st.ops_in_flight, st.ops_started, st.acked, st.pending, good);
	}
	return next < now_ms + 200 ? next : now_ms + 200;
}

/* Everything publish needs from files and arguments, before any socket. */
static int prepare_publish(struct rdv *r)
{
	if (!r->a->clients_file) {
		fprintf(stderr, "%s rendezvous publish: --clients is required\n", prog_name);
		return -EINVAL;
	}
	if (load_clients(r, r->a->clients_file) < 0)
		return -EINVAL;
	if (r->a->seed_addr) {
		if (inet_pton(AF_INET6, r->a->seed_addr, r->seed) != 1) {
			fprintf(stderr, "%s rendezvous publish: --seed-address: not an IPv6 address: '%s'\n",
				prog_name, r->a->seed_addr);
			return -EINVAL;
		}
	} else {
		static const uint8_t doc[8] = { 0x20, 0x01, 0x0d, 0xb8 };
		memcpy(r->seed, doc, 8);
		randombytes_buf(r->seed + 8, 8);
	}
	return 0;
}

static int run_publish(struct rdv *r)
{
	struct pubsched_params prm;
	struct dht *nodes[MAX_NODES];
	pubsched_params_default(&prm, (uint32_t)(r->a->period_ms / 1000));
	prm.family = dhtev_family(r->nodes[0]);
	if (r->a->lead_s >= 0)
		prm.lead_s = (uint32_t)r->a->lead_s;
	if (r->a->spread_s >= 0)
		prm.spread_s = (uint32_t)r->a->spread_s;
	for (size_t i = 0; i < r->n_nodes; i++)
		nodes[i] = dhtev_dht(r->nodes[i]);
	int rc = 0;
	if (r->a->channel != CONFIG_RDV_ITEMS)
		rc = pubsched_new(PUBSCHED_PEERS, &prm, r->priv, nodes, r->n_nodes, &r->pub);
	if (rc == 0 && r->a->channel != CONFIG_RDV_PEERS)
		rc = pubsched_new(PUBSCHED_ITEMS, &prm, r->priv, nodes, r->n_nodes, &r->ipub);
	if (rc < 0) {
		fprintf(stderr, "%s rendezvous publish: %s\n", prog_name, strerror(-rc));
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < r->n_clients; i++) {
		rc = r->pub ? pubsched_add_client(r->pub, r->clients[i]) : 0;
		if (rc == 0 && r->ipub)
			rc = pubsched_add_client(r->ipub, r->clients[i]);
		if (rc < 0 && rc != -EEXIST) {
			char b64[MT6D_KEY_B64_LEN];
			keys_to_base64(b64, r->clients[i]);
			fprintf(stderr, "%s rendezvous publish: client '%s': %s\n", prog_name, b64,
				rc == -EINVAL ? "not a usable public key" : strerror(-rc));
			return EXIT_ERROR;
		}
	}
	fprintf(stderr, "publish: %zu clients, %zu DHT nodes, window %" PRIu64 " s\n", r->n_clients,
		r->n_nodes, r->a->period_ms / 1000);
	for (size_t i = 0; i < r->n_nodes; i++) {
		dhtev_set_hook(r->nodes[i], publish_hook, r);
		dhtev_kick(r->nodes[i]);
	}
	ev_run(r->loop, 0);
	for (size_t i = 0; i < r->n_nodes; i++)
		dhtev_set_hook(r->nodes[i], NULL, NULL);
	pubsched_free(r->pub);
	r->pub = NULL;
	pubsched_free(r->ipub);
	r->ipub = NULL;
	return 0;
}

/* --- main ---------------------------------------------------------------------- */

static int read_stdin_message(char *buf, size_t cap)
{
	size_t n = fread(buf, 1, cap, stdin);
	if (ferror(stdin))
		return -EIO;
	if (!feof(stdin) && fgetc(stdin) != EOF)
		return -EMSGSIZE;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = 0;
	return (int)n;
}

int rendezvous_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "to", required_argument, NULL, 'T' },
		{ "from", required_argument, NULL, 'F' },
		{ "server", required_argument, NULL, 'S' },
		{ "clients", required_argument, NULL, 'c' },
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "period", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "epoch", required_argument, NULL, 'e' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "seed-address", required_argument, NULL, 'A' },
		{ "rotation", required_argument, NULL, 'r' },
		{ "rekey-at", required_argument, NULL, 'R' },
		{ "no-next", no_argument, NULL, 'N' },
		{ "lead", required_argument, NULL, 'L' },
		{ "spread", required_argument, NULL, 'P' },
		{ "show-keys", no_argument, NULL, 'K' },
		{ "channel", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct rdv_args a;
	static struct rdv r;
	static char stdin_msg[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN + 2];
	char msg[256];
	int opt, rc, ret = EXIT_ERROR;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	a.period_ms = DEFAULT_PERIOD_S * 1000;
	a.rotation_ms = 3000;
	a.timeout_ms = DEFAULT_TIMEOUT_S * 1000;
	a.epoch = -1;
	a.rekey_at_s = -1;
	a.lead_s = a.spread_s = -1;
	snprintf(a.listen, sizeof(a.listen), "::");
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		rdv_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_ERROR : 0;
	}
	a.cmd = argv[1];
	if (strcmp(a.cmd, "put") && strcmp(a.cmd, "get") && strcmp(a.cmd, "fetch") && strcmp(a.cmd, "publish")) {
		fprintf(stderr, "%s rendezvous: unknown command '%s'\n", prog_name, a.cmd);
		rdv_usage(stderr);
		return EXIT_ERROR;
	}
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "k:b:l:p:n:w:t:e:qvh", options, NULL)) != -1) {
		uint64_t v;
		switch (opt) {
		case 'k': a.key_file = optarg; break;
		case 'T':
		case 'F':
		case 'S': a.peer = optarg; break;
		case 'c': a.clients_file = optarg; break;
		case 'b': a.boot = optarg; break;
		case 'l': snprintf(a.listen, sizeof(a.listen), "%s", optarg); break;
		case 'p': {
			char *end;
			a.port = strtoul(optarg, &end, 10);
			if (*end || a.port > 65535 || optarg[0] == '-') {
				fprintf(stderr, "%s rendezvous: --port: not a port: '%s'\n", prog_name, optarg);
				return EXIT_ERROR;
			}
			break;
		}
		case 'n':
		case 't':
		case 'r':
		case 'R':
		case 'L':
		case 'P':
			if (config_parse_duration_ms(optarg, &v, msg, sizeof(msg)) < 0) {
				fprintf(stderr, "%s rendezvous: %s: '%s'\n", prog_name, msg, optarg);
				return EXIT_ERROR;
			}
			if (opt == 'n')
				a.period_ms = v;
			else if (opt == 't')
				a.timeout_ms = v, a.is_timeout_set = true;
			else if (opt == 'r')
				a.rotation_ms = v;
			else if (opt == 'L')
				a.lead_s = (int64_t)(v / 1000);
			else if (opt == 'P')
				a.spread_s = (int64_t)(v / 1000);
			else
				a.rekey_at_s = (int64_t)(v / 1000);
			break;
		case 'w':
			if (!strcmp(optarg, "prev") || !strcmp(optarg, "next")) {
				a.window_rel = optarg[0] == 'p' ? -1 : 1;
			} else {
				char *end;
				long long t = strtoll(optarg, &end, 10);
				if (*end || t <= 0) {
					fprintf(stderr, "%s rendezvous: --window: UNIX seconds, 'prev' or 'next': '%s'\n",
						prog_name, optarg);
					return EXIT_ERROR;
				}
				a.window = t;
			}
			break;
		case 'e': {
			char *end;
			long e = strtol(optarg, &end, 10);
			if (*end || e < 0 || e > 255) {
				fprintf(stderr, "%s rendezvous: --epoch: 0..255: '%s'\n", prog_name, optarg);
				return EXIT_ERROR;
			}
			a.epoch = (int)e;
			break;
		}
		case 'q': a.is_quiet = true; break;
		case 'v': a.is_verbose = true; break;
		case 'A': a.seed_addr = optarg; break;
		case 'N': a.is_no_next = true; break;
		case 'K': a.is_show_keys = true; break;
		case 'C':
			if (!strcmp(optarg, "both")) {
				a.channel = CONFIG_RDV_BOTH;
			} else if (!strcmp(optarg, "peers")) {
				a.channel = CONFIG_RDV_PEERS;
			} else if (!strcmp(optarg, "items")) {
				a.channel = CONFIG_RDV_ITEMS;
			} else {
				fprintf(stderr, "%s rendezvous: --channel: both, peers or items: '%s'\n",
					prog_name, optarg);
				return EXIT_ERROR;
			}
			break;
		case 'h': rdv_usage(stdout); return 0;
		default: rdv_usage(stderr); return EXIT_ERROR;
		}
	}
	optind++;  /* getopt ran on argv + 1 */
	if (!strcmp(a.cmd, "put")) {
		if (optind != argc - 1) {
			fprintf(stderr, "%s rendezvous put: one MESSAGE (or '-' for stdin) expected\n", prog_name);
			return EXIT_ERROR;
		}
		a.message = argv[optind];
		if (!strcmp(a.message, "-")) {
			rc = read_stdin_message(stdin_msg, RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN);
			if (rc < 0) {
				fprintf(stderr, "%s rendezvous put: stdin: %s (at most %d bytes)\n", prog_name,
					rc == -EMSGSIZE ? "message too long" : strerror(-rc),
					RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN);
				return EXIT_ERROR;
			}
			a.message = stdin_msg;
		}
		if (strlen(a.message) > RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN) {
			fprintf(stderr, "%s rendezvous put: the message is %zu bytes, at most %d fit\n", prog_name,
				strlen(a.message), RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN);
			return EXIT_ERROR;
		}
	} else if (optind != argc) {
		fprintf(stderr, "%s rendezvous %s: unexpected argument '%s'\n", prog_name, a.cmd, argv[optind]);
		return EXIT_ERROR;
	}
	if (a.period_ms < 20000 || a.period_ms % 1000 || a.period_ms / 1000 > RENDEZVOUS_U24_MAX) {
		fprintf(stderr, "%s rendezvous: --period: whole seconds, at least 20s\n", prog_name);
		return EXIT_ERROR;
	}
	if (!a.key_file || (!a.peer && strcmp(a.cmd, "publish"))) {
		fprintf(stderr, "%s rendezvous %s: --key and --%s are required\n", prog_name, a.cmd,
			!strcmp(a.cmd, "put") ? "to" : !strcmp(a.cmd, "get") ? "from" :
			!strcmp(a.cmd, "fetch") ? "server" : "clients");
		return EXIT_ERROR;
	}
	if (a.peer && keys_from_base64(r.peer, a.peer) < 0) {
		fprintf(stderr, "%s rendezvous %s: '%s' is not a public key (44 characters of base64)\n",
			prog_name, a.cmd, a.peer);
		return EXIT_ERROR;
	}
	rc = keys_load_private_file(a.key_file, r.priv, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "%s rendezvous %s: %s: %s\n", prog_name, a.cmd, a.key_file, msg);
		return EXIT_ERROR;
	}

	r.a = &a;
	if (!strcmp(a.cmd, "publish") && prepare_publish(&r) < 0)
		goto out;
	r.is_tty = isatty(STDERR_FILENO);
	r.loop = ev_default_loop(EVFLAG_AUTO);
	r.started_ms = dhtev_now_ms();
	char *save = NULL;
	for (char *tok = strtok_r(a.listen, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (r.n_nodes == MAX_NODES || (r.n_nodes > 0 && strcmp(a.cmd, "publish"))) {
			fprintf(stderr, "%s rendezvous %s: too many --listen addresses\n", prog_name, a.cmd);
			goto out;
		}
		/* BEP 43: a node that lives for one command asks others to
		 * leave it out of their routing tables (where it would linger,
		 * dead, and cost their lookups a timeout); publish runs on. */
		struct dht_config dc = { .is_read_only = strcmp(a.cmd, "publish") != 0 };
		struct sockaddr_storage ext;
		dc.external_len = external_for(tok, a.boot ? a.boot : DHT_DEFAULT_BOOTSTRAP, &ext);
		dc.external = dc.external_len ? (const struct sockaddr *)&ext : NULL;
		rc = dhtev_new(r.loop, tok, (uint16_t)a.port, &dc, &r.nodes[r.n_nodes], msg, sizeof(msg));
		if (rc < 0) {
			fprintf(stderr, "%s rendezvous %s: %s: %s\n", prog_name, a.cmd, msg, strerror(-rc));
			goto out;
		}
		r.n_nodes++;
		rc = dhtev_add_bootstrap(r.nodes[r.n_nodes - 1], a.boot ? a.boot : DHT_DEFAULT_BOOTSTRAP, msg,
					 sizeof(msg));
		if (rc < 0) {
			fprintf(stderr, "%s rendezvous %s: %s: %s\n", prog_name, a.cmd, msg,
				rc == -EHOSTUNREACH ? "cannot resolve" : strerror(-rc));
			goto out;
		}
	}
	ev_signal_init(&r.sig_int, on_stop, SIGINT);
	ev_signal_init(&r.sig_term, on_stop, SIGTERM);
	ev_signal_start(r.loop, &r.sig_int);
	ev_signal_start(r.loop, &r.sig_term);

	if (!strcmp(a.cmd, "put"))
		ret = run_put(&r);
	else if (!strcmp(a.cmd, "get"))
		ret = run_fetch(&r, FETCH_MESSAGE);
	else if (!strcmp(a.cmd, "fetch"))
		ret = run_fetch(&r, FETCH_CONFIG);
	else
		ret = run_publish(&r);
out:
	for (size_t i = 0; i < r.n_nodes; i++)
		dhtev_free(r.nodes[i]);
	free(r.clients);
	sodium_memzero(r.priv, sizeof(r.priv));
	sodium_memzero(r.win_key, sizeof(r.win_key));
	sodium_memzero(r.sealed, sizeof(r.sealed));
	sodium_memzero(stdin_msg, sizeof(stdin_msg));
	return ret;
}
