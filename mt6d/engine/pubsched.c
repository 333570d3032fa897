/* pubsched: per client, per window, seal + the channel's operations,
 * spread and jittered over the period, each part stored at its quorum or
 * retried (see pubsched.h; the channels in pubsched_int.h). */
#include "mt6d/engine/pubsched.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"
#include "mt6d/engine/pubsched_int.h"

#define N_SLOTS 2             /* the current window and the next */
#define HEARTBEAT_MS 1000     /* longest sleep: due work waiting for room */
#define BUSY_RETRY_MS 1000    /* a node refused an operation */
#define ORDERED_HOLD_POLL_MS 250 /* pubsched_tick_ordered: a held scheduler looks again */
#define URGENT_SPREAD_MAX_S 5
/* Runs of one peers publication that may leave a chunk short of its quorum
 * before a chunk that some node stored in full counts as enough: a node that
 * keeps refusing (full) or a path that keeps losing must not cost announces
 * without end. */
#define MAX_SHORT_RUNS 3

enum slot_state { SL_IDLE = 0, SL_DUE, SL_RUNNING, SL_DONE };

/* One client's publication for one window. */
struct pub_slot {
	uint64_t window;          /* window start (UNIX s); 0: unused */
	uint8_t state;            /* enum slot_state */
	bool has_payload;         /* payload holds epoch `epoch` */
	bool is_refresh;          /* the next run publishes the same payload again */
	int16_t published;        /* highest epoch stored, -1: none */
	uint8_t epoch;            /* epoch of the payload held / being published */
	uint8_t pending;          /* operations in flight */
	uint8_t stored;           /* parts at their quorum in this epoch (bit j: part j) */
	uint8_t held;             /* parts that at least one node took in full */
	uint8_t short_runs;       /* runs of this epoch that ended with a part short */
	int64_t due_unix_ms;
	union pubsched_payload payload;
};

struct pub_client {
	bool in_use;
	uint32_t gen;             /* bumped on removal: stale op records are ignored */
	uint16_t node;            /* its first part leaves from this node (part_node) */
	uint8_t pub[RENDEZVOUS_KEY_LEN];
	uint8_t s[DERIVE_SECRET_LEN];  /* shared secret: wiped on removal */
	struct pub_slot slot[N_SLOTS];
};

struct pub_window {
	bool in_use;
	uint64_t start;
	uint8_t epoch;
	struct rendezvous_config cfg;
	/* clients[0..done_upto) are published at epoch: where window_is_done
	 * resumes, since a client's published epoch only grows within a
	 * window. Back to 0 on a new epoch or a new client. */
	size_t done_upto;
};

/* One operation in flight: the closure of its dht operation. */
struct pub_op {
	bool in_use;
	bool is_done;             /* DONE seen: the tick accounts for it */
	struct pubsched *p;
	uint32_t client, gen;
	uint8_t slot, part;
	struct dht *dht;          /* the node it runs on (it stays there if the slot's node is replaced) */
	int op;
	size_t acked;
	size_t n_stored, n_wanted;  /* nodes that took all of it; the quorum */
};

struct pubsched {
	const struct pubsched_backend *be;
	struct pubsched_params prm;
	uint8_t server_priv[RENDEZVOUS_KEY_LEN];
	struct dht **nodes;
	size_t n_nodes;
	struct pub_client *clients;
	size_t n_clients, cap_clients, n_registered;
	struct pub_window win[N_SLOTS];
	struct pub_op *ops;
	size_t n_ops;             /* capacity: n_nodes * max_ops_per_node */
	size_t n_done_ops;        /* DONE seen, not yet accounted */
	int64_t next_due_unix_ms; /* earliest due slot found by the last scan */
	bool is_scan_needed;
	struct pubsched_stats st;
};

static int64_t rnd_below(const struct pubsched *p, int64_t range)
{
	uint64_t v;
	if (range <= 1)
		return 0;
	if (p->prm.random)
		p->prm.random(&v, sizeof(v));
	else
		randombytes_buf(&v, sizeof(v));
	/* The bias of a 64-bit modulo is negligible. */
	return (int64_t)(v % (uint64_t)range);
}

static unsigned all_parts(const struct pubsched *p)
{
	return (1u << p->be->n_parts) - 1;
}

void pubsched_params_default(struct pubsched_params *out, uint32_t period_s)
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

int pubsched_new_with(const struct pubsched_backend *be, const struct pubsched_params *params,
		      const uint8_t server_priv[static RENDEZVOUS_KEY_LEN], struct dht *const *nodes,
		      size_t n_nodes, struct pubsched **out)
{
	if (!be || !be->n_parts || be->n_parts > PUBSCHED_MAX_PARTS || !params || !nodes || n_nodes == 0 ||
	    n_nodes > UINT16_MAX || params->period_s == 0 || params->max_ops_per_node < be->n_parts ||
	    params->max_ops_per_node >= DHT_MAX_OPS ||
	    (params->family != AF_INET && params->family != AF_INET6) ||
	    params->lead_s + params->spread_s >= params->period_s + params->period_s)
		return -EINVAL;
	struct pubsched *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	*p = (struct pubsched){ .be = be, .prm = *params, .n_nodes = n_nodes,
				.n_ops = n_nodes * params->max_ops_per_node, .next_due_unix_ms = INT64_MAX };
	p->prm.retry_s = p->prm.retry_s ? p->prm.retry_s : 1;
	memcpy(p->server_priv, server_priv, RENDEZVOUS_KEY_LEN);
	p->nodes = calloc(n_nodes, sizeof(*p->nodes));
	p->ops = calloc(p->n_ops, sizeof(*p->ops));
	if (!p->nodes || !p->ops) {
		pubsched_free(p);
		return -ENOMEM;
	}
	memcpy(p->nodes, nodes, n_nodes * sizeof(*nodes));
	*out = p;
	return 0;
}

int pubsched_new(enum pubsched_channel ch, const struct pubsched_params *params,
		 const uint8_t server_priv[static RENDEZVOUS_KEY_LEN], struct dht *const *nodes, size_t n_nodes,
		 struct pubsched **out)
{
	const struct pubsched_backend *be = ch == PUBSCHED_PEERS ? &pubsched_peers_backend
				  : ch == PUBSCHED_ITEMS ? &pubsched_items_backend : NULL;
	return pubsched_new_with(be, params, server_priv, nodes, n_nodes, out);
}

static void op_cancel(struct pubsched *p, struct pub_op *o)
{
	if (!o->in_use)
		return;
	if (!o->is_done) {
		if (p->be->cancel)
			p->be->cancel(o->dht, o->op);
		else
			dht_cancel(o->dht, o->op);
	} else if (p->n_done_ops > 0) {
		p->n_done_ops--;
	}
	memset(o, 0, sizeof(*o));
}

/* Cancels the operations of one slot of a client (slot < 0: all slots). */
static void cancel_ops(struct pubsched *p, uint32_t client, int slot)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		struct pub_op *o = &p->ops[i];
		if (o->in_use && o->client == client && (slot < 0 || o->slot == slot))
			op_cancel(p, o);
	}
}

void pubsched_free(struct pubsched *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->ops && i < p->n_ops; i++)
		op_cancel(p, &p->ops[i]);
	if (p->clients)
		sodium_memzero(p->clients, p->cap_clients * sizeof(*p->clients));
	sodium_memzero(p->server_priv, sizeof(p->server_priv));
	sodium_memzero(p->win, sizeof(p->win));
	free(p->clients);
	free(p->ops);
	free(p->nodes);
	free(p);
}

static struct pub_client *client_find(struct pubsched *p, const uint8_t pub[RENDEZVOUS_KEY_LEN])
{
	for (size_t i = 0; i < p->n_clients; i++)
		if (p->clients[i].in_use && sodium_memcmp(p->clients[i].pub, pub, RENDEZVOUS_KEY_LEN) == 0)
			return &p->clients[i];
	return NULL;
}

/* A free entry of the registry (a removed client's, or a new one). */
static struct pub_client *client_entry(struct pubsched *p)
{
	for (size_t i = 0; i < p->n_clients; i++)
		if (!p->clients[i].in_use)
			return &p->clients[i];
	if (p->n_clients == p->cap_clients) {
		size_t cap = p->cap_clients ? p->cap_clients * 2 : 64;
		struct pub_client *nc = calloc(cap, sizeof(*nc));
		if (!nc)
			return NULL;
		if (p->clients) {
			memcpy(nc, p->clients, p->n_clients * sizeof(*nc));
			sodium_memzero(p->clients, p->cap_clients * sizeof(*nc));
			free(p->clients);
		}
		p->clients = nc;
		p->cap_clients = cap;
	}
	return &p->clients[p->n_clients++];
}

int pubsched_add_client(struct pubsched *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN])
{
	uint8_t s[DERIVE_SECRET_LEN];

	if (client_find(p, client_pub))
		return -EEXIST;
	if (keys_shared_secret(s, p->server_priv, client_pub) < 0)
		return -EINVAL;
	struct pub_client *c = client_entry(p);
	if (!c) {
		sodium_memzero(s, sizeof(s));
		return -ENOMEM;
	}
	uint32_t gen = c->gen + 1;
	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->in_use = true;
	c->node = (uint16_t)((size_t)(c - p->clients) % p->n_nodes);
	memcpy(c->pub, client_pub, RENDEZVOUS_KEY_LEN);
	memcpy(c->s, s, sizeof(s));
	sodium_memzero(s, sizeof(s));
	for (int k = 0; k < N_SLOTS; k++)
		p->win[k].done_upto = 0;
	p->n_registered++;
	p->is_scan_needed = true;
	return 0;
}

int pubsched_remove_client(struct pubsched *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN])
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

static int slot_of(const struct pubsched *p, uint64_t window_start)
{
	return (int)((window_start / p->prm.period_s) % N_SLOTS);
}

/* Forgets slot k of every client (its window is over or replaced). */
static void slots_clear(struct pubsched *p, int k, uint64_t keep_window)
{
	for (size_t i = 0; i < p->n_clients; i++) {
		struct pub_slot *s = &p->clients[i].slot[k];
		if (!s->window || s->window == keep_window)
			continue;
		if (s->state == SL_RUNNING)
			cancel_ops(p, (uint32_t)i, k);
		sodium_memzero(s, sizeof(*s));
	}
}

int pubsched_set_config(struct pubsched *p, uint64_t window_start, const struct rendezvous_config *cfg,
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
		w->done_upto = 0;
		w->cfg = *cfg;
		/* Every client moves to the new epoch at once (urgent spread).
		 * Stepping through epochs, a run in progress counts as
		 * published, so that epochs stay contiguous for the readers. */
		for (size_t i = 0; i < p->n_clients; i++) {
			struct pub_client *c = &p->clients[i];
			struct pub_slot *s = &c->slot[k];
			if (!c->in_use || s->window != window_start || s->state == SL_IDLE)
				continue;
			if (s->state == SL_RUNNING) {
				cancel_ops(p, (uint32_t)i, k);
				if (p->be->steps_epochs && s->published < s->epoch)
					s->published = s->epoch;
			}
			s->state = SL_DUE;
			s->is_refresh = false;
			s->has_payload = false;
			s->due_unix_ms = unix_ms + rnd_below(p, (int64_t)p->prm.urgent_spread_s * 1000);
		}
		p->is_scan_needed = true;
		return w->epoch;
	}
	/* A new window in this slot: whatever it held is over or replaced. */
	slots_clear(p, k, window_start);
	sodium_memzero(w, sizeof(*w));
	w->in_use = true;
	w->start = window_start;
	w->epoch = 0;
	w->cfg = *cfg;
	p->is_scan_needed = true;
	return 0;
}

int pubsched_resume_window(struct pubsched *p, uint64_t window_start, uint8_t epoch,
			   const struct rendezvous_config *cfg, int64_t unix_ms)
{
	const struct pub_window *w = &p->win[slot_of(p, window_start)];
	if (w->in_use && w->start == window_start)
		return -EINVAL;
	int rc = pubsched_set_config(p, window_start, cfg, unix_ms);
	if (rc < 0)
		return rc;
	p->win[slot_of(p, window_start)].epoch = epoch;
	p->win[slot_of(p, window_start)].done_upto = 0;
	return epoch;
}

int pubsched_get_epoch(const struct pubsched *p, uint64_t window_start)
{
	const struct pub_window *w = &p->win[slot_of(p, window_start)];
	if (!w->in_use || w->start != window_start)
		return -ENOENT;
	return w->epoch;
}

static bool is_client_published(const struct pub_client *c, int k, const struct pub_window *w)
{
	return !c->in_use || (c->slot[k].window == w->start && c->slot[k].published >= w->epoch);
}

int pubsched_is_window_done(const struct pubsched *p, uint64_t window_start)
{
	int k = slot_of(p, window_start);
	const struct pub_window *w = &p->win[k];
	if (!w->in_use || w->start != window_start)
		return 0;
	for (size_t i = w->done_upto; i < p->n_clients; i++) {
		if (!is_client_published(&p->clients[i], k, w))
			return 0;
	}
	return 1;
}

/* pubsched_is_window_done for the hot path (every DHT event while items
 * catch up): resumes where the last call stopped, so a window that stays
 * done costs O(1) and a catch-up O(clients) in all, not per event. */
static bool window_is_done(struct pubsched *p, int k)
{
	struct pub_window *w = &p->win[k];
	while (w->done_upto < p->n_clients && is_client_published(&p->clients[w->done_upto], k, w))
		w->done_upto++;
	return w->done_upto == p->n_clients;
}

size_t pubsched_ops_on(const struct pubsched *p, const struct dht *node)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_ops; i++)
		n += p->ops[i].in_use && !p->ops[i].is_done && (!node || p->ops[i].dht == node);
	return n;
}

void pubsched_get_stats(const struct pubsched *p, struct pubsched_stats *out)
{
	*out = p->st;
	out->clients = p->n_registered;
	out->ops_in_flight = pubsched_ops_on(p, NULL);
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
static int64_t first_due(const struct pubsched *p, const struct pub_window *w, int64_t unix_ms)
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

/* Whether the node can start operations: dht_announce on a node that knows
 * no node ends inside the call and then reads the freed operation
 * (dht/dht.c op_start), so wait until it has a routing table. */
static bool node_is_ready(const struct pubsched *p, struct dht *d, int64_t now_ms)
{
	struct dht_stats ds;
	if (p->be->is_ready)
		return p->be->is_ready(d, p->prm.family, now_ms);
	dht_get_stats(d, now_ms, &ds);
	return (p->prm.family == AF_INET6 ? ds.good6 + ds.questionable6 : ds.good4 + ds.questionable4) > 0;
}

/* The epoch a slot's next new payload is for: the next one in turn when
 * stepping through epochs, else the window's. */
static int target_epoch(const struct pubsched *p, const struct pub_slot *s, const struct pub_window *w)
{
	return p->be->steps_epochs ? s->published + 1 : w->epoch;
}

/* Seals epoch e for client c into s's payload. False: it cannot be sealed
 * (cannot happen with a validated cfg). */
static bool slot_seal(struct pubsched *p, const struct pub_client *c, struct pub_slot *s,
		      const struct pub_window *w, uint8_t e)
{
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
	if (rendezvous_config_seal(sealed, sizeof(sealed), &w->cfg, p->server_priv, c->pub, w->start, e,
				   p->prm.random) != RENDEZVOUS_CONFIG_LEN)
		return false;
	p->be->prepare(&s->payload, sealed, p->prm.random);
	sodium_memzero(sealed, sizeof(sealed));
	s->epoch = e;
	s->has_payload = true;
	s->stored = 0;
	s->held = 0;
	s->short_runs = 0;
	return true;
}

/* The node part j of client c leaves from. With as many IPv6 nodes as
 * parts or more (the server's DHTNodes identities, all of one /64) a
 * client's parts spread over them, since one node paces each destination to a message per
 * DHT_PACE_MS whoever it publishes for: three parts on three nodes store a
 * config in a third of the time. Readers group a publication's chunks by
 * /64 (docs/PROTOCOL.md 6.5). */
static struct dht *part_node(const struct pubsched *p, const struct pub_client *c, unsigned j)
{
	if (p->n_nodes < p->be->n_parts || p->prm.family != AF_INET6)
		return p->nodes[c->node];
	return p->nodes[(c->node + j * (p->n_nodes / p->be->n_parts)) % p->n_nodes];
}

/* Whether every node the parts of run leave from has room for them now. */
static bool nodes_have_room(struct pubsched *p, const struct pub_client *c, unsigned run, int64_t now_ms)
{
	for (unsigned j = 0; j < p->be->n_parts; j++) {
		struct dht *d = part_node(p, c, j);
		size_t want = 0;

		if (!((run >> j) & 1u))
			continue;
		for (unsigned i = 0; i < p->be->n_parts; i++)
			want += ((run >> i) & 1u) && part_node(p, c, i) == d;
		if (pubsched_ops_on(p, d) + want > p->prm.max_ops_per_node || !node_is_ready(p, d, now_ms))
			return false;
	}
	return true;
}

/* Starts the operations of a due slot: every part for a new payload (a new
 * epoch), else (a retry) only the parts short of their quorum. Returns false
 * if the client's nodes have no room now. */
static bool slot_start(struct pubsched *p, uint32_t ci, int k, int64_t now_ms)
{
	struct pub_client *c = &p->clients[ci];
	struct pub_slot *s = &c->slot[k];
	const struct pub_window *w = &p->win[k];
	struct pub_op *free_ops[PUBSCHED_MAX_PARTS] = { NULL };
	size_t n_free = 0, n_run = 0;
	int target = target_epoch(p, s, w);
	bool is_new = !s->has_payload || (!s->is_refresh && s->epoch != target);
	unsigned run = is_new ? all_parts(p) : all_parts(p) & ~(unsigned)s->stored;

	for (unsigned j = 0; j < p->be->n_parts; j++)
		n_run += (run >> j) & 1u;
	if (!nodes_have_room(p, c, run, now_ms))
		return false;
	for (size_t i = 0; i < p->n_ops && n_free < n_run; i++)
		if (!p->ops[i].in_use)
			free_ops[n_free++] = &p->ops[i];
	if (n_free < n_run)
		return false;
	if (is_new && !slot_seal(p, c, s, w, (uint8_t)target)) {
		s->state = SL_DONE;
		return true;
	}
	struct pubsched_run r = { .family = p->prm.family, .server_priv = p->server_priv,
				  .secret = c->s, .window = w->start, .epoch = s->epoch,
				  .payload = &s->payload, .cb = on_result, .now_ms = now_ms };
	s->pending = 0;
	for (unsigned j = 0, n = 0; j < p->be->n_parts && n < n_free; j++) {
		if (!((run >> j) & 1u))
			continue;
		struct pub_op *o = free_ops[n++];
		*o = (struct pub_op){ .in_use = true, .p = p, .client = ci, .gen = c->gen, .slot = (uint8_t)k,
				      .part = (uint8_t)j, .dht = part_node(p, c, j) };
		r.dht = o->dht;
		r.part = j;
		r.closure = o;
		int op = p->be->start(&r);
		if (op < 0) {
			memset(o, 0, sizeof(*o));
			cancel_ops(p, ci, k);
			s->pending = 0;
			if (op == -ECANCELED) {
				s->state = SL_DONE;
				return true;
			}
			s->due_unix_ms += BUSY_RETRY_MS;
			return false;
		}
		o->op = op;
		s->pending++;
		p->st.ops_started++;
	}
	s->state = SL_RUNNING;
	return true;
}

/* After a run: done when every part is at its quorum, or, after
 * max_short_runs runs, when every part is held in full by some node (a
 * reader takes the union of the nodes' answers). Else the short parts are
 * retried. */
static bool run_is_done(struct pubsched *p, struct pub_slot *s)
{
	if (s->stored != all_parts(p)) {
		if (!p->be->max_short_runs || ++s->short_runs < p->be->max_short_runs ||
		    s->held != all_parts(p))
			return false;
		p->st.partial++;
	}
	/* The next run (a refresh, the next epoch) publishes every part. */
	s->stored = 0;
	s->held = 0;
	s->short_runs = 0;
	return true;
}

/* A slot's run is over: retried, the next epoch, a refresh, or done. */
static void run_end(struct pubsched *p, struct pub_slot *s, const struct pub_window *w, int64_t unix_ms)
{
	s->state = SL_DUE;
	if (!run_is_done(p, s)) {
		p->st.failures++;
		s->due_unix_ms = unix_ms + (int64_t)p->prm.retry_s * 1000;
		return;
	}
	p->st.publications++;
	p->st.refreshes += s->is_refresh;
	if (s->published < s->epoch)
		s->published = s->epoch;
	s->is_refresh = false;
	if (s->published < w->epoch) {
		s->due_unix_ms = unix_ms;   /* the next epoch, at once */
		return;
	}
	uint32_t refresh_s = p->be->refresh_s ? p->be->refresh_s : p->prm.refresh_s;
	int64_t refresh = unix_ms + (int64_t)refresh_s * 1000;
	if (refresh < (int64_t)(w->start + p->prm.period_s) * 1000) {
		s->is_refresh = true;
		s->due_unix_ms = refresh;
	} else {
		s->state = SL_DONE;
	}
}

/* Accounts for finished operations. */
static void reap(struct pubsched *p, int64_t unix_ms)
{
	for (size_t i = 0; i < p->n_ops && p->n_done_ops > 0; i++) {
		struct pub_op *o = &p->ops[i];
		if (!o->in_use || !o->is_done)
			continue;
		struct pub_op done = *o;
		memset(o, 0, sizeof(*o));
		p->n_done_ops--;
		p->is_scan_needed = true;  /* room on a node */
		struct pub_client *c = &p->clients[done.client];
		struct pub_slot *s = &c->slot[done.slot];
		if (!c->in_use || c->gen != done.gen || s->state != SL_RUNNING)
			continue;
		p->st.acked += done.acked;
		if (done.n_wanted > 0 && done.n_stored >= done.n_wanted)
			s->stored |= (uint8_t)(1u << done.part);
		if (done.n_stored > 0)
			s->held |= (uint8_t)(1u << done.part);
		if (--s->pending == 0)
			run_end(p, s, &p->win[done.slot], unix_ms);
	}
}

/* Drops windows that are over, with their slots and operations. */
static void expire_windows(struct pubsched *p, int64_t unix_ms)
{
	for (int k = 0; k < N_SLOTS; k++) {
		struct pub_window *w = &p->win[k];
		if (!w->in_use || (int64_t)(w->start + p->prm.period_s) * 1000 > unix_ms)
			continue;
		slots_clear(p, k, 0);
		sodium_memzero(w, sizeof(*w));
	}
}

/* The next deadline (now_ms clock) for a due time on the UNIX clock. */
static int64_t deadline_of(int64_t due_unix_ms, int64_t now_ms, int64_t unix_ms)
{
	int64_t next = due_unix_ms == INT64_MAX ? now_ms + HEARTBEAT_MS : now_ms + (due_unix_ms - unix_ms);
	if (next > now_ms + HEARTBEAT_MS)
		next = now_ms + HEARTBEAT_MS;
	return next > now_ms ? next : now_ms + 1;
}

/* Scans the due slots of window k from client `off` on, starting what the
 * nodes have room for; lowers *next_due, counts the slots left waiting. */
static size_t scan_window(struct pubsched *p, int k, size_t off, int64_t now_ms, int64_t unix_ms,
			  int64_t *next_due)
{
	const struct pub_window *w = &p->win[k];
	size_t waiting = 0;
	int64_t round_start = ((int64_t)w->start - (int64_t)p->prm.lead_s - (int64_t)p->prm.spread_s) * 1000;
	if (unix_ms < round_start) {
		if (round_start < *next_due)
			*next_due = round_start;
		return 0;
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
		if (s->state == SL_DUE && s->due_unix_ms < *next_due)
			*next_due = s->due_unix_ms;
	}
	return waiting;
}

int64_t pubsched_tick(struct pubsched *p, int64_t now_ms, int64_t unix_ms)
{
	if (p->n_done_ops)
		reap(p, unix_ms);
	expire_windows(p, unix_ms);
	if (!p->is_scan_needed && unix_ms < p->next_due_unix_ms)
		return deadline_of(p->next_due_unix_ms, now_ms, unix_ms);
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
		if (p->win[k].in_use)
			waiting += scan_window(p, k, off, now_ms, unix_ms, &next_due);
	}
	p->st.pending = waiting;
	/* Work waiting for room is retried when operations end (reap asks
	 * for a scan) or at the heartbeat, not on every tick. */
	if (waiting && next_due < unix_ms + HEARTBEAT_MS)
		next_due = unix_ms + HEARTBEAT_MS;
	p->next_due_unix_ms = next_due;
	return deadline_of(next_due, now_ms, unix_ms);
}

/* Whether p is publishing the window in force now, not yet done: a fresh
 * server's catch-up or a new epoch (a revocation), with operations in
 * flight or publications due within its catch-up spread. Not a round for
 * the next window (the current one is done then), nor publications that
 * failed and wait for their retry. */
static bool is_catching_up(struct pubsched *p, int64_t unix_ms)
{
	if (pubsched_ops_on(p, NULL) == 0 &&
	    p->next_due_unix_ms > unix_ms + (int64_t)p->prm.urgent_spread_s * 1000)
		return false;
	for (int k = 0; k < N_SLOTS; k++) {
		const struct pub_window *w = &p->win[k];
		int64_t start_ms = (int64_t)w->start * 1000;

		if (w->in_use && start_ms <= unix_ms && unix_ms < start_ms + (int64_t)p->prm.period_s * 1000)
			return !window_is_done(p, k);
	}
	return false;
}

int64_t pubsched_tick_ordered(struct pubsched *first, struct pubsched *then, int64_t now_ms,
			      int64_t unix_ms)
{
	int64_t next = INT64_MAX, t;

	if (first) {
		next = pubsched_tick(first, now_ms, unix_ms);
		if (then && is_catching_up(first, unix_ms)) {
			/* Held: its finished operations are still accounted for
			 * and its windows still expire; it starts nothing. */
			if (then->n_done_ops)
				reap(then, unix_ms);
			expire_windows(then, unix_ms);
			then->is_scan_needed = true;
			t = now_ms + ORDERED_HOLD_POLL_MS;
			return t < next ? t : next;
		}
	}
	if (then) {
		t = pubsched_tick(then, now_ms, unix_ms);
		next = t < next ? t : next;
	}
	return next;
}

int pubsched_replace_node(struct pubsched *p, const struct dht *old, struct dht *node)
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

void pubsched_drop_node(struct pubsched *p, const struct dht *node)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		struct pub_op *o = &p->ops[i];
		if (!o->in_use || o->is_done || o->dht != node)
			continue;
		uint32_t ci = o->client;
		uint8_t k = o->slot;
		struct pub_slot *s = &p->clients[ci].slot[k];
		/* The whole run again from the slot's node (the same payload:
		 * from another address ports form a group of their own for
		 * readers). */
		cancel_ops(p, ci, k);
		if (s->state == SL_RUNNING) {
			s->state = SL_DUE;
			s->pending = 0;
		}
		p->is_scan_needed = true;
	}
}
