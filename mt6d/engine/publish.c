/* publish: per client, per window, seal + announce-many of the config's
 * chunks, spread and jittered over the period (see publish.h). */
#include "mt6d/engine/publish.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"

#define N_CHUNKS 3            /* rendezvous_chunk_count(RENDEZVOUS_CONFIG_LEN) */
#define N_SLOTS 2             /* the current window and the next */
#define HEARTBEAT_MS 1000     /* longest sleep: due work waiting for room */
#define BUSY_RETRY_MS 1000    /* a node refused an operation (-EBUSY) */
#define ALL_CHUNKS ((1u << N_CHUNKS) - 1)
#define URGENT_SPREAD_MAX_S 5
/* Runs of one publication that may leave a chunk short of its quorum before
 * a chunk that some node stored in full counts as enough: a node that keeps
 * refusing (full) or a path that keeps losing must not cost announces
 * without end. */
#define MAX_SHORT_RUNS 3

enum slot_state { SL_IDLE = 0, SL_DUE, SL_RUNNING, SL_DONE };

/* One client's publication for one window. */
struct pub_slot {
	uint64_t window;          /* window start (UNIX s); 0: unused */
	uint8_t state;            /* enum slot_state */
	bool has_ports;           /* sealed/ports hold epoch `epoch` */
	bool is_refresh;          /* the next run announces the same ports again */
	int16_t published;        /* highest epoch announced, -1: none */
	uint8_t epoch;            /* epoch of the ports held / being announced */
	uint8_t pending;          /* chunk operations in flight */
	uint8_t stored;           /* chunks at their quorum in this run (bit j: chunk j) */
	uint8_t held;             /* chunks that at least one node took in full */
	uint8_t short_runs;       /* runs of this epoch that ended with a chunk short */
	size_t acked;             /* announces acknowledged in this run */
	int64_t due_unix_ms;
	uint8_t n_ports[N_CHUNKS];
	uint16_t ports[N_CHUNKS][RENDEZVOUS_CHUNK_MAX_PORTS];
};

struct pub_client {
	bool in_use;
	uint32_t gen;             /* bumped on removal: stale op records are ignored */
	uint16_t node;            /* every chunk leaves from this node (one source IP) */
	uint8_t pub[RENDEZVOUS_KEY_LEN];
	uint8_t s[DERIVE_SECRET_LEN];  /* shared secret: wiped on removal */
	struct pub_slot slot[N_SLOTS];
};

struct pub_window {
	bool in_use;
	uint64_t start;
	uint8_t epoch;
	struct rendezvous_config cfg;
};

/* One chunk announce in flight: the closure of its dht operation. */
struct pub_op {
	bool in_use;
	bool is_done;             /* DONE seen: the tick accounts for it */
	struct publish *p;
	uint32_t client, gen;
	uint8_t slot, chunk;
	uint16_t node;
	struct dht *dht;          /* the node it runs on (it stays there if the slot's node is replaced) */
	int op;
	size_t acked;
	size_t n_stored, n_wanted;  /* nodes that took every port; the quorum */
};

struct publish {
	struct publish_params prm;
	uint8_t server_priv[RENDEZVOUS_KEY_LEN];
	struct dht **nodes;
	size_t n_nodes;
	size_t *node_inflight;
	struct pub_client *clients;
	size_t n_clients, cap_clients, n_registered;
	struct pub_window win[N_SLOTS];
	struct pub_op *ops;
	size_t n_ops;             /* capacity: n_nodes * max_ops_per_node */
	size_t n_done_ops;        /* DONE seen, not yet accounted */
	int64_t next_due_unix_ms; /* earliest due slot found by the last scan */
	bool is_scan_needed;
	struct publish_stats st;
};

static void rnd(const struct publish *p, void *buf, size_t len)
{
	if (p->prm.random)
		p->prm.random(buf, len);
	else
		randombytes_buf(buf, len);
}

/* Uniform in [0, range) (range > 0; the bias of a 64-bit modulo is negligible). */
static int64_t rnd_below(const struct publish *p, int64_t range)
{
	uint64_t v;
	if (range <= 1)
		return 0;
	rnd(p, &v, sizeof(v));
	return (int64_t)(v % (uint64_t)range);
}

void publish_params_default(struct publish_params *out, uint32_t period_s)
{
	memset(out, 0, sizeof(*out));
	out->period_s = period_s;
	/* An announce-many takes its 21 ports x 333 ms per node and more (7 to
	 * 20 s measured in the lab): the last ones started must end before T. */
	out->lead_s = period_s / 10 < 60 ? period_s / 10 : 60;
	if (out->lead_s < 20)
		out->lead_s = period_s / 3 < 20 ? period_s / 3 : 20;
	out->spread_s = period_s / 2;
	/* A catch-up or an epoch change is needed now: its spread draws a
	 * random order, not a delay (docs/PROTOCOL.md 6.5). */
	out->urgent_spread_s = period_s / 15 < URGENT_SPREAD_MAX_S ? period_s / 15 : URGENT_SPREAD_MAX_S;
	if (out->urgent_spread_s == 0)
		out->urgent_spread_s = 1;
	out->refresh_s = 20 * 60;
	out->retry_s = period_s / 30 < 30 ? (period_s / 30 ? period_s / 30 : 1) : 30;
	/* Three chunks per client: 8 clients at a time per node, leaving room in
	 * DHT_MAX_OPS for the node's own maintenance and a local fetcher. */
	out->max_ops_per_node = 24;
	out->family = AF_INET6;
}

int publish_new(const struct publish_params *params, const uint8_t server_priv[static RENDEZVOUS_KEY_LEN],
		struct dht *const *nodes, size_t n_nodes, struct publish **out)
{
	if (!params || !nodes || n_nodes == 0 || n_nodes > UINT16_MAX || params->period_s == 0 ||
	    params->max_ops_per_node < N_CHUNKS || params->max_ops_per_node >= DHT_MAX_OPS ||
	    (params->family != AF_INET && params->family != AF_INET6) ||
	    params->lead_s + params->spread_s >= params->period_s + params->period_s)
		return -EINVAL;
	struct publish *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->prm = *params;
	if (p->prm.retry_s == 0)
		p->prm.retry_s = 1;
	memcpy(p->server_priv, server_priv, RENDEZVOUS_KEY_LEN);
	p->n_nodes = n_nodes;
	p->nodes = calloc(n_nodes, sizeof(*p->nodes));
	p->node_inflight = calloc(n_nodes, sizeof(*p->node_inflight));
	p->n_ops = n_nodes * params->max_ops_per_node;
	p->ops = calloc(p->n_ops, sizeof(*p->ops));
	if (!p->nodes || !p->node_inflight || !p->ops) {
		publish_free(p);
		return -ENOMEM;
	}
	memcpy(p->nodes, nodes, n_nodes * sizeof(*nodes));
	p->next_due_unix_ms = INT64_MAX;
	*out = p;
	return 0;
}

static void op_release(struct publish *p, struct pub_op *o)
{
	if (o->in_use && p->node_inflight[o->node] > 0)
		p->node_inflight[o->node]--;
	memset(o, 0, sizeof(*o));
}

/* Cancels the operations of one slot of a client (slot < 0: all slots). */
static void cancel_ops(struct publish *p, uint32_t client, int slot)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		struct pub_op *o = &p->ops[i];
		if (!o->in_use || o->client != client || (slot >= 0 && o->slot != slot))
			continue;
		if (!o->is_done)
			dht_cancel(o->dht, o->op);
		else if (p->n_done_ops > 0)
			p->n_done_ops--;
		op_release(p, o);
	}
}

void publish_free(struct publish *p)
{
	if (!p)
		return;
	if (p->ops)
		for (size_t i = 0; i < p->n_ops; i++)
			if (p->ops[i].in_use && !p->ops[i].is_done)
				dht_cancel(p->ops[i].dht, p->ops[i].op);
	if (p->clients)
		sodium_memzero(p->clients, p->cap_clients * sizeof(*p->clients));
	sodium_memzero(p->server_priv, sizeof(p->server_priv));
	sodium_memzero(p->win, sizeof(p->win));
	free(p->clients);
	free(p->ops);
	free(p->node_inflight);
	free(p->nodes);
	free(p);
}

static struct pub_client *client_find(struct publish *p, const uint8_t pub[RENDEZVOUS_KEY_LEN])
{
	for (size_t i = 0; i < p->n_clients; i++)
		if (p->clients[i].in_use && sodium_memcmp(p->clients[i].pub, pub, RENDEZVOUS_KEY_LEN) == 0)
			return &p->clients[i];
	return NULL;
}

int publish_add_client(struct publish *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN])
{
	uint8_t s[DERIVE_SECRET_LEN];
	struct pub_client *c = NULL;

	if (client_find(p, client_pub))
		return -EEXIST;
	if (keys_shared_secret(s, p->server_priv, client_pub) < 0)
		return -EINVAL;
	for (size_t i = 0; i < p->n_clients; i++) {
		if (!p->clients[i].in_use) {
			c = &p->clients[i];
			break;
		}
	}
	if (!c) {
		if (p->n_clients == p->cap_clients) {
			size_t cap = p->cap_clients ? p->cap_clients * 2 : 64;
			struct pub_client *nc = calloc(cap, sizeof(*nc));
			if (!nc) {
				sodium_memzero(s, sizeof(s));
				return -ENOMEM;
			}
			if (p->clients) {
				memcpy(nc, p->clients, p->n_clients * sizeof(*nc));
				sodium_memzero(p->clients, p->cap_clients * sizeof(*nc));
				free(p->clients);
			}
			p->clients = nc;
			p->cap_clients = cap;
		}
		c = &p->clients[p->n_clients++];
	}
	uint32_t gen = c->gen + 1;
	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->in_use = true;
	c->node = (uint16_t)((size_t)(c - p->clients) % p->n_nodes);
	memcpy(c->pub, client_pub, RENDEZVOUS_KEY_LEN);
	memcpy(c->s, s, sizeof(s));
	sodium_memzero(s, sizeof(s));
	p->n_registered++;
	p->is_scan_needed = true;
	return 0;
}

int publish_remove_client(struct publish *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN])
{
	struct pub_client *c = client_find(p, client_pub);
	if (!c)
		return -ENOENT;
	cancel_ops(p, (uint32_t)(c - p->clients), -1);
	uint32_t gen = c->gen;
	sodium_memzero(c, sizeof(*c));
	c->gen = gen;
	p->n_registered--;
	return 0;
}

static int slot_of(const struct publish *p, uint64_t window_start)
{
	return (int)((window_start / p->prm.period_s) % N_SLOTS);
}

int publish_set_config(struct publish *p, uint64_t window_start, const struct rendezvous_config *cfg,
		       int64_t unix_ms)
{
	uint64_t now_s = unix_ms > 0 ? (uint64_t)(unix_ms / 1000) : 0;
	uint64_t cur = derive_window_start((int64_t)now_s, p->prm.period_s);

	if (!cfg || window_start % p->prm.period_s != 0 || window_start + p->prm.period_s <= now_s ||
	    window_start > cur + p->prm.period_s || cfg->period_s == 0)
		return -EINVAL;
	int k = slot_of(p, window_start);
	struct pub_window *w = &p->win[k];
	if (w->in_use && w->start == window_start) {
		if (sodium_memcmp(&w->cfg, cfg, sizeof(*cfg)) == 0)
			return w->epoch;
		if (w->epoch == UINT8_MAX)
			return -ERANGE;
		w->epoch++;
		w->cfg = *cfg;
		/* Every client moves to the new epoch at once (urgent spread):
		 * a run in progress counts as published, so that epochs stay
		 * contiguous for the readers. */
		int64_t base = unix_ms;
		for (size_t i = 0; i < p->n_clients; i++) {
			struct pub_client *c = &p->clients[i];
			struct pub_slot *s = &c->slot[k];
			if (!c->in_use || s->window != window_start || s->state == SL_IDLE)
				continue;
			if (s->state == SL_RUNNING) {
				cancel_ops(p, (uint32_t)i, k);
				if (s->published < s->epoch)
					s->published = s->epoch;
			}
			s->state = SL_DUE;
			s->is_refresh = false;
			s->has_ports = false;
			s->due_unix_ms = base + rnd_below(p, (int64_t)p->prm.urgent_spread_s * 1000);
		}
		p->is_scan_needed = true;
		return w->epoch;
	}
	/* A new window in this slot: whatever it held is over or replaced. */
	for (size_t i = 0; i < p->n_clients; i++) {
		struct pub_slot *s = &p->clients[i].slot[k];
		if (s->window && s->window != window_start) {
			if (s->state == SL_RUNNING)
				cancel_ops(p, (uint32_t)i, k);
			memset(s, 0, sizeof(*s));
		}
	}
	sodium_memzero(w, sizeof(*w));
	w->in_use = true;
	w->start = window_start;
	w->epoch = 0;
	w->cfg = *cfg;
	p->is_scan_needed = true;
	return 0;
}

int publish_resume_window(struct publish *p, uint64_t window_start, uint8_t epoch,
			  const struct rendezvous_config *cfg, int64_t unix_ms)
{
	const struct pub_window *w = &p->win[slot_of(p, window_start)];
	if (w->in_use && w->start == window_start)
		return -EINVAL;
	int rc = publish_set_config(p, window_start, cfg, unix_ms);
	if (rc < 0)
		return rc;
	p->win[slot_of(p, window_start)].epoch = epoch;
	return epoch;
}

int publish_get_epoch(const struct publish *p, uint64_t window_start)
{
	const struct pub_window *w = &p->win[slot_of(p, window_start)];
	if (!w->in_use || w->start != window_start)
		return -ENOENT;
	return w->epoch;
}

int publish_is_window_done(const struct publish *p, uint64_t window_start)
{
	int k = slot_of(p, window_start);
	const struct pub_window *w = &p->win[k];
	if (!w->in_use || w->start != window_start)
		return 0;
	for (size_t i = 0; i < p->n_clients; i++) {
		const struct pub_client *c = &p->clients[i];
		if (c->in_use && (c->slot[k].window != window_start || c->slot[k].published < w->epoch))
			return 0;
	}
	return 1;
}

void publish_get_stats(const struct publish *p, struct publish_stats *out)
{
	*out = p->st;
	out->clients = p->n_registered;
	out->ops_in_flight = 0;
	for (size_t i = 0; i < p->n_nodes; i++)
		out->ops_in_flight += p->node_inflight[i];
}

static void on_result(void *closure, const struct dht_result *r)
{
	struct pub_op *o = closure;
	if (r->event != DHT_EVENT_DONE || !o->in_use || o->is_done)
		return;
	o->is_done = true;
	o->acked = r->n_announced;
	o->n_stored = r->n_stored;
	o->n_wanted = r->n_wanted;
	o->p->n_done_ops++;
}

/* When a slot of window w should first run: spread over the round
 * [T - lead - spread, T - lead]; a late start (catch-up) spreads over the
 * rest of the round, or over urgent_spread_s from now if it is over. */
static int64_t first_due(const struct publish *p, const struct pub_window *w, int64_t unix_ms)
{
	int64_t start = (int64_t)w->start * 1000;
	int64_t round_end = start - (int64_t)p->prm.lead_s * 1000;
	int64_t round_start = round_end - (int64_t)p->prm.spread_s * 1000;
	int64_t lo = round_start, hi = round_end;
	if (unix_ms > round_start) {
		lo = unix_ms;
		if (hi < lo + (int64_t)p->prm.urgent_spread_s * 1000)
			hi = lo + (int64_t)p->prm.urgent_spread_s * 1000;
	}
	return lo + rnd_below(p, hi - lo);
}

/* The chunks a run of s announces: all of them, except on a retry, which
 * announces only those short of their quorum (the others are stored). */
static unsigned chunks_to_run(const struct pub_slot *s)
{
	bool is_new_epoch = !s->is_refresh && (!s->has_ports || s->published >= s->epoch);
	return is_new_epoch ? ALL_CHUNKS : ALL_CHUNKS & ~(unsigned)s->stored;
}

/* Starts the chunk announces of a due slot (chunks_to_run). Returns false
 * if the client's node has no room now. */
static bool slot_start(struct publish *p, uint32_t ci, int k, int64_t now_ms)
{
	struct pub_client *c = &p->clients[ci];
	struct pub_slot *s = &c->slot[k];
	const struct pub_window *w = &p->win[k];
	uint8_t d[DERIVE_DESCRIPTOR_LEN];
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
	struct pub_op *free_ops[N_CHUNKS] = { NULL };
	size_t n_free = 0, n_run = 0;
	unsigned run = chunks_to_run(s);

	for (size_t j = 0; j < N_CHUNKS; j++)
		n_run += (run >> j) & 1u;
	if (p->node_inflight[c->node] + n_run > p->prm.max_ops_per_node)
		return false;
	/* dht_announce on a node that knows no node ends inside the call and
	 * then reads the freed operation (dht/dht.c op_start): wait until the
	 * node has a routing table. */
	struct dht_stats ds;
	dht_get_stats(p->nodes[c->node], now_ms, &ds);
	if ((p->prm.family == AF_INET6 ? ds.good6 + ds.questionable6 : ds.good4 + ds.questionable4) == 0)
		return false;
	for (size_t i = 0; i < p->n_ops && n_free < n_run; i++)
		if (!p->ops[i].in_use)
			free_ops[n_free++] = &p->ops[i];
	if (n_free < n_run)
		return false;
	if (!s->is_refresh && (!s->has_ports || s->published >= s->epoch)) {
		/* A new epoch to announce: a fresh seal, fresh ports. */
		uint8_t e = (uint8_t)(s->published + 1);
		if (rendezvous_config_seal(sealed, sizeof(sealed), &w->cfg, p->server_priv, c->pub,
					   w->start, e, p->prm.random) != RENDEZVOUS_CONFIG_LEN) {
			s->state = SL_DONE; /* cannot happen with a validated cfg */
			return true;
		}
		for (size_t j = 0; j < N_CHUNKS; j++) {
			int n = rendezvous_stuff_chunk(s->ports[j], sealed, sizeof(sealed), j, p->prm.random);
			s->n_ports[j] = (uint8_t)(n > 0 ? n : 0);
		}
		sodium_memzero(sealed, sizeof(sealed));
		s->epoch = e;
		s->has_ports = true;
		s->stored = 0;
		s->held = 0;
		s->short_runs = 0;
	}
	derive_descriptor(d, c->s, w->start);
	s->acked = 0;
	s->pending = 0;
	for (size_t j = 0, n = 0; j < N_CHUNKS && n < n_free; j++) {
		uint8_t ih[RENDEZVOUS_INFOHASH_LEN];
		if (!((run >> j) & 1u))
			continue;
		struct pub_op *o = free_ops[n++];
		rendezvous_chunk_infohash(ih, d, s->epoch, (uint8_t)j);
		o->in_use = true;
		o->p = p;
		o->client = ci;
		o->gen = c->gen;
		o->slot = (uint8_t)k;
		o->chunk = (uint8_t)j;
		o->node = c->node;
		o->dht = p->nodes[c->node];
		int op = dht_announce(p->nodes[c->node], ih, p->prm.family, s->ports[j], s->n_ports[j],
				      on_result, o, now_ms);
		if (op < 0) {
			memset(o, 0, sizeof(*o));
			cancel_ops(p, ci, k);
			s->pending = 0;
			s->due_unix_ms += BUSY_RETRY_MS;
			sodium_memzero(d, sizeof(d));
			return false;
		}
		o->op = op;
		p->node_inflight[c->node]++;
		s->pending++;
		p->st.ops_started++;
	}
	sodium_memzero(d, sizeof(d));
	s->state = SL_RUNNING;
	return true;
}

/* After a run: done when every chunk is at its quorum, or, after
 * MAX_SHORT_RUNS runs, when every chunk is held in full by some node (a
 * reader takes the union of the nodes' answers). Else the short chunks are
 * retried. */
static bool run_is_done(struct publish *p, struct pub_slot *s)
{
	if (s->stored != ALL_CHUNKS) {
		if (++s->short_runs < MAX_SHORT_RUNS || s->held != ALL_CHUNKS)
			return false;
		p->st.partial++;
	}
	/* The next run (a refresh, the next epoch) announces every chunk. */
	s->stored = 0;
	s->held = 0;
	s->short_runs = 0;
	return true;
}

/* Accounts for finished chunk operations. */
static void reap(struct publish *p, int64_t unix_ms)
{
	for (size_t i = 0; i < p->n_ops && p->n_done_ops > 0; i++) {
		struct pub_op *o = &p->ops[i];
		if (!o->in_use || !o->is_done)
			continue;
		p->n_done_ops--;
		struct pub_client *c = &p->clients[o->client];
		struct pub_slot *s = &c->slot[o->slot];
		bool is_ours = c->in_use && c->gen == o->gen && s->state == SL_RUNNING;
		size_t acked = o->acked;
		uint8_t k = o->slot;
		unsigned bit = 1u << o->chunk;
		bool is_stored = o->n_wanted > 0 && o->n_stored >= o->n_wanted;
		bool is_held = o->n_stored > 0;
		op_release(p, o);   /* o is blank from here on */
		p->is_scan_needed = true;  /* room on a node */
		if (!is_ours)
			continue;
		s->acked += acked;
		p->st.announces_acked += acked;
		if (is_stored)
			s->stored |= (uint8_t)bit;
		if (is_held)
			s->held |= (uint8_t)bit;
		if (--s->pending > 0)
			continue;
		const struct pub_window *w = &p->win[k];
		if (!run_is_done(p, s)) {
			p->st.failures++;
			s->state = SL_DUE;
			s->due_unix_ms = unix_ms + (int64_t)p->prm.retry_s * 1000;
			continue;
		}
		p->st.publications++;
		if (s->is_refresh)
			p->st.refreshes++;
		if (s->published < s->epoch)
			s->published = s->epoch;
		s->is_refresh = false;
		if (s->published < w->epoch) {
			s->state = SL_DUE;     /* the next epoch, at once */
			s->due_unix_ms = unix_ms;
			continue;
		}
		int64_t refresh = unix_ms + (int64_t)p->prm.refresh_s * 1000;
		if (refresh < (int64_t)(w->start + p->prm.period_s) * 1000) {
			s->state = SL_DUE;
			s->is_refresh = true;
			s->due_unix_ms = refresh;
		} else {
			s->state = SL_DONE;
		}
	}
}

/* Drops windows that are over, with their slots and operations. */
static void expire_windows(struct publish *p, int64_t unix_ms)
{
	for (int k = 0; k < N_SLOTS; k++) {
		struct pub_window *w = &p->win[k];
		if (!w->in_use || (int64_t)(w->start + p->prm.period_s) * 1000 > unix_ms)
			continue;
		for (size_t i = 0; i < p->n_clients; i++) {
			struct pub_slot *s = &p->clients[i].slot[k];
			if (s->window != w->start)
				continue;
			if (s->state == SL_RUNNING)
				cancel_ops(p, (uint32_t)i, k);
			memset(s, 0, sizeof(*s));
		}
		sodium_memzero(w, sizeof(*w));
	}
}

int64_t publish_tick(struct publish *p, int64_t now_ms, int64_t unix_ms)
{
	if (p->n_done_ops)
		reap(p, unix_ms);
	expire_windows(p, unix_ms);
	if (!p->is_scan_needed && unix_ms < p->next_due_unix_ms) {
		int64_t next = p->next_due_unix_ms == INT64_MAX ? now_ms + HEARTBEAT_MS
								: now_ms + (p->next_due_unix_ms - unix_ms);
		return next < now_ms + HEARTBEAT_MS ? next : now_ms + HEARTBEAT_MS;
	}
	p->is_scan_needed = false;
	int64_t next_due = INT64_MAX;
	size_t waiting = 0;
	/* The window that starts first is served first (a fresh server's
	 * clients need the current one now), and the scan starts at a random
	 * client: with more due than the nodes have room for, the order in
	 * which configs go out follows no list an observer could match. */
	int first = p->win[1].in_use && (!p->win[0].in_use || p->win[1].start < p->win[0].start);
	size_t off = (size_t)rnd_below(p, (int64_t)p->n_clients);
	for (int kk = 0; kk < N_SLOTS; kk++) {
		int k = (first + kk) % N_SLOTS;
		const struct pub_window *w = &p->win[k];
		if (!w->in_use)
			continue;
		int64_t round_start = ((int64_t)w->start - (int64_t)p->prm.lead_s - (int64_t)p->prm.spread_s) * 1000;
		if (unix_ms < round_start) {
			if (round_start < next_due)
				next_due = round_start;
			continue;
		}
		for (size_t ii = 0; ii < p->n_clients; ii++) {
			size_t i = (off + ii) % p->n_clients;
			struct pub_client *c = &p->clients[i];
			if (!c->in_use)
				continue;
			struct pub_slot *s = &c->slot[k];
			if (s->window != w->start || s->state == SL_IDLE) {
				memset(s, 0, sizeof(*s));
				s->window = w->start;
				s->published = -1;
				s->state = SL_DUE;
				s->due_unix_ms = first_due(p, w, unix_ms);
			}
			if (s->state != SL_DUE)
				continue;
			if (s->due_unix_ms <= unix_ms && !slot_start(p, (uint32_t)i, k, now_ms))
				waiting++;
			if (s->state == SL_DUE && s->due_unix_ms < next_due)
				next_due = s->due_unix_ms;
		}
	}
	p->st.pending = waiting;
	/* Work waiting for room is retried when operations end (reap asks
	 * for a scan) or at the heartbeat, not on every tick. */
	if (waiting && next_due < unix_ms + HEARTBEAT_MS)
		next_due = unix_ms + HEARTBEAT_MS;
	p->next_due_unix_ms = next_due;
	int64_t next = next_due == INT64_MAX ? now_ms + HEARTBEAT_MS : now_ms + (next_due - unix_ms);
	if (next > now_ms + HEARTBEAT_MS)
		next = now_ms + HEARTBEAT_MS;
	return next > now_ms ? next : now_ms + 1;
}

int publish_replace_node(struct publish *p, const struct dht *old, struct dht *node)
{
	int n = 0;
	for (size_t i = 0; i < p->n_nodes; i++) {
		if (p->nodes[i] == old) {
			p->nodes[i] = node;
			n++;
		}
	}
	if (n)
		p->is_scan_needed = true;
	return n ? 0 : -ENOENT;
}

size_t publish_ops_on(const struct publish *p, const struct dht *node)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_ops; i++)
		n += p->ops[i].in_use && !p->ops[i].is_done && p->ops[i].dht == node;
	return n;
}

void publish_drop_node(struct publish *p, const struct dht *node)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		struct pub_op *o = &p->ops[i];
		if (!o->in_use || o->is_done || o->dht != node)
			continue;
		uint32_t ci = o->client;
		uint8_t k = o->slot;
		struct pub_slot *s = &p->clients[ci].slot[k];
		/* The whole run again from the slot's node (the same ports: from
		 * another address they form a group of their own for readers). */
		cancel_ops(p, ci, k);
		if (s->state == SL_RUNNING) {
			s->state = SL_DUE;
			s->pending = 0;
		}
		p->is_scan_needed = true;
	}
}
