/* Our own iterative operations on the DHT (BEP 5): find_node, get_peers,
 * announce to the k closest with their tokens, and collect (every stored
 * peer of an info_hash, for port-stuffed messages, docs/PROTOCOL.md 6).
 * Each is a struct op of candidates nearest first, stepped by dht_tick and
 * by answers that dht_input hands over. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "dht/node.h"

static int op_slot(const struct dht *d, const struct op *o)
{
	for (int i = 0; i < DHT_MAX_OPS; i++)
		if (d->op[i] == o)
			return i;
	return -1;
}

static struct cand *cand_by_addr(struct op *o, const struct krpc_addr *a)
{
	for (size_t i = 0; i < o->n_cands; i++)
		if (memcmp(&o->c[i].addr, a, sizeof(*a)) == 0)
			return &o->c[i];
	return NULL;
}

/* Position of a candidate by XOR distance; unknown ids sort last. */
static size_t cand_pos(const struct op *o, const struct cand *c)
{
	size_t pos = o->n_cands;
	while (pos > 0) {
		const struct cand *p = &o->c[pos - 1];
		if (c->has_id && (!p->has_id || routing_closer(o->target, c->id, p->id) > 0))
			pos--;
		else
			break;
	}
	return pos;
}

static void cand_insert(struct op *o, const struct cand *c)
{
	size_t pos = cand_pos(o, c);
	if (pos >= MAX_CANDS)
		return;
	size_t n = o->n_cands < MAX_CANDS ? o->n_cands : MAX_CANDS - 1;
	memmove(&o->c[pos + 1], &o->c[pos], (n - pos) * sizeof(o->c[0]));
	o->c[pos] = *c;
	if (o->n_cands < MAX_CANDS)
		o->n_cands++;
}

static void cand_add(struct dht *d, struct op *o, const uint8_t *id,
		     const struct krpc_addr *addr)
{
	struct cand c;
	if (addr->family != o->family || is_martian(addr))
		return;
	if (id && memcmp(id, d->id, DHT_ID_LEN) == 0)
		return;
	for (size_t i = 0; i < o->n_cands; i++) {
		if (memcmp(&o->c[i].addr, addr, sizeof(*addr)) == 0)
			return;
		if (id && o->c[i].has_id && memcmp(o->c[i].id, id, DHT_ID_LEN) == 0)
			return;
	}
	memset(&c, 0, sizeof(c));
	c.addr = *addr;
	if (id) {
		memcpy(c.id, id, DHT_ID_LEN);
		c.has_id = true;
	}
	cand_insert(o, &c);
}

/* Adds values to the union; marks them in c's bitmap. Returns how many were
 * new for c. */
static size_t op_add_values(struct op *o, struct cand *c, const struct krpc_msg *m)
{
	size_t n_new = 0;
	for (size_t i = 0; i < m->n_values; i++) {
		struct dht_peer p;
		size_t k;
		peer_from_addr(&m->values[i], &p);
		for (k = 0; k < o->n_values; k++)
			if (memcmp(&o->values[k], &p, sizeof(p)) == 0)
				break;
		if (k == o->n_values) {
			if (o->n_values >= DHT_MAX_VALUES)
				continue;
			o->values[o->n_values++] = p;
		}
		if (c && !(c->seen[k / 8] & (1u << (k % 8)))) {
			c->seen[k / 8] |= (uint8_t)(1u << (k % 8));
			n_new++;
		}
	}
	return n_new;
}

static int op_send(struct dht *d, struct op *o, struct cand *c, uint8_t method,
		   uint16_t port, int64_t now_ms)
{
	int slot = op_slot(d, o);
	query_init(d, &d->out, method, (uint8_t)slot, o->nonce, o->family);
	memcpy(d->out.target, o->target, DHT_ID_LEN);
	if (method == KRPC_ANNOUNCE_PEER || method == KRPC_PUT) {
		d->out.port = port;
		memcpy(d->out.token, c->token, c->token_len);
		d->out.token_len = c->token_len;
	}
	if (method == KRPC_PUT)
		items_fill_put(o, &d->out);
	pacer_note(d, &c->addr, method, now_ms);
	c->sent_ms = now_ms;
	o->n_queries++;
	return send_msg(d, &d->out, &c->addr);
}

static uint8_t lookup_method(const struct op *o)
{
	if (op_is_item(o))
		return KRPC_GET;
	return o->kind == OP_FIND_NODE || o->kind == OP_MAINT ? KRPC_FIND_NODE : KRPC_GET_PEERS;
}

/* Hands o's unanswered lookup queries (nodes it stopped waiting for as
 * slow) over to the ping table. They take at most half of it, so routing
 * pings always find room; beyond that a query is forgotten and its node
 * only misses one failure mark. */
static void op_watch_unanswered(struct dht *d, struct op *o, int slot)
{
	size_t next = 0, n_watched = 0;
	for (size_t i = 0; i < MAX_PINGS; i++)
		n_watched += d->pings[i].in_use && d->pings[i].slot != PING_SLOT;
	for (size_t i = 0; i < o->n_cands; i++) {
		const struct cand *c = &o->c[i];
		if (c->state != C_INFLIGHT)
			continue;
		while (next < MAX_PINGS && d->pings[next].in_use)
			next++;
		if (next == MAX_PINGS || n_watched >= MAX_PINGS / 2)
			return;
		n_watched++;
		struct ping *p = &d->pings[next];
		p->in_use = true;
		p->slot = (uint8_t)slot;
		p->addr = c->addr;
		p->sent_ms = c->sent_ms;
		memcpy(p->nonce, o->nonce, sizeof(p->nonce));
	}
}

static void op_free(struct dht *d, struct op *o)
{
	int slot = op_slot(d, o);
	if (slot >= 0) {
		op_watch_unanswered(d, o, slot);
		d->op[slot] = NULL;
	}
	for (int f = 0; f < 2; f++)
		if (d->maint_op[f] == o->id)
			d->maint_op[f] = 0;
	free(o);
}

static size_t op_closest_replied(const struct op *o, struct dht_node_info *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < o->n_cands && n < max; i++) {
		if (o->c[i].state != C_REPLIED || !o->c[i].has_id)
			continue;
		if (out) {
			memcpy(out[n].id, o->c[i].id, DHT_ID_LEN);
			peer_from_addr(&o->c[i].addr, &out[n].addr);
		}
		n++;
	}
	return n;
}

static void op_finish(struct dht *d, struct op *o)
{
	struct dht_node_info nodes[DHT_K];
	struct dht_result r;
	memset(&r, 0, sizeof(r));
	r.event = DHT_EVENT_DONE;
	r.op = o->id;
	r.target = o->target;
	r.n_nodes = op_closest_replied(o, nodes, DHT_K);
	r.nodes = nodes;
	r.status = r.n_nodes ? 0 : -ETIMEDOUT;
	r.peers = o->values;
	r.n_peers = o->n_values;
	r.n_queries = o->n_queries;
	r.item = o->kind == OP_GET_ITEM && o->has_item ? &o->item : NULL;
	for (size_t i = 0; i < o->n_cands; i++) {
		if (o->c[i].is_target) {
			r.n_tokens++;
			r.n_announced += o->c[i].n_acked;
			r.n_stored += (o->kind == OP_ANNOUNCE || o->kind == OP_PUT_ITEM) &&
				      o->c[i].n_acked >= o->n_ports;
		}
	}
	if (o->kind == OP_ANNOUNCE || o->kind == OP_PUT_ITEM) {
		/* A node that refused (its storage is full) will refuse a retry
		 * too: the quorum is what the others can reach. */
		size_t good, q, bad, n_refused = 0, n_silent = 0;
		for (size_t i = 0; i < o->n_cands; i++) {
			n_refused += o->c[i].is_target && o->c[i].is_refused && o->c[i].n_acked < o->n_ports;
			n_silent += o->c[i].state == C_INFLIGHT || o->c[i].state == C_FAILED;
		}
		routing_count(&d->rt[fam_index(o->family)], o->started_ms, &good, &q, &bad);
		size_t n_live = good + q;
		/* A node our put's lookup asked that never answered "get", or
		 * refused it, cannot hold the item (jech/dht has no BEP 44; a
		 * strict libtorrent refuses some ids): it does not raise the
		 * bar. In a swarm of 5 libtorrent and 3 Transmission nodes the
		 * quorum was 6 of the 5 that can store, and every publication
		 * failed and was put again 30 s later. Nodes it never asked
		 * still count. */
		if (o->kind == OP_PUT_ITEM)
			n_live = n_live > n_silent ? n_live - n_silent : 0;
		r.n_wanted = dht_store_quorum(r.n_tokens, n_live);
		r.n_wanted = r.n_wanted > n_refused ? r.n_wanted - n_refused : 1;
	}
	dbg(d, "op %d done: status %d, %zu nodes, %zu values, %zu queries",
	    o->id, r.status, r.n_nodes, r.n_peers, r.n_queries);
	/* Callbacks may cancel o: it stays allocated until they return. */
	struct op *outer = d->running;
	d->running = o;
	for (size_t i = 0; i < o->n_cands && o->cb && !o->is_cancelled; i++) {
		struct dht_node_info node;
		struct dht_result s;
		if (!o->c[i].is_target || (o->kind != OP_ANNOUNCE && o->kind != OP_PUT_ITEM))
			continue;
		memset(&s, 0, sizeof(s));
		memcpy(node.id, o->c[i].id, DHT_ID_LEN);
		peer_from_addr(&o->c[i].addr, &node.addr);
		s.event = DHT_EVENT_STORED;
		s.op = o->id;
		s.target = o->target;
		s.node = &node;
		s.n_announced = o->c[i].n_acked;
		s.error_code = o->c[i].error_code;
		o->cb(o->closure, &s);
	}
	d->running = outer;
	if (o->is_cancelled) {
		op_free(d, o);
		return;
	}
	/* The op keeps its slot during the callback (so a new op cannot take
	 * it) but no longer counts as active. */
	o->is_finished = true;
	if (o->cb)
		o->cb(o->closure, &r);
	op_free(d, o);
}

static void collect_node_done(struct dht *d, struct op *o, struct cand *c)
{
	struct dht_peer peers[DHT_MAX_VALUES];
	struct dht_node_info node;
	struct dht_result r;
	size_t n = 0;

	c->is_done = true;
	c->is_busy = false;
	if (c->is_reported)
		return;
	c->is_reported = true;
	for (size_t k = 0; k < o->n_values; k++)
		if (c->seen[k / 8] & (1u << (k % 8)))
			peers[n++] = o->values[k];
	if (!n || !o->cb)
		return;
	memset(&r, 0, sizeof(r));
	memcpy(node.id, c->id, DHT_ID_LEN);
	peer_from_addr(&c->addr, &node.addr);
	r.event = DHT_EVENT_VALUES;
	r.op = o->id;
	r.target = o->target;
	r.node = &node;
	r.peers = peers;
	r.n_peers = n;
	o->cb(o->closure, &r);
}

/* RFC 6298, 2.2-2.3: gains 1/8 and 1/4. */
void rtt_sample(struct dht *d, int64_t rtt_ms)
{
	if (rtt_ms < 0 || rtt_ms > DHT_QUERY_TIMEOUT_MS)
		return;
	int64_t r = rtt_ms * 1000;
	if (!d->has_rtt) {
		d->srtt_us = r;
		d->rttvar_us = r / 2;
		d->has_rtt = true;
		return;
	}
	int64_t err = r - d->srtt_us;
	d->rttvar_us += ((err < 0 ? -err : err) - d->rttvar_us) / 4;
	d->srtt_us += err / 8;
}

static bool op_is_store(const struct op *o)
{
	return o->kind == OP_ANNOUNCE || o->kind == OP_PUT_ITEM;
}

static int64_t query_slow_ms(const struct dht *d)
{
	if (!d->has_rtt)
		return QUERY_SLOW_MAX_MS;
	int64_t t = (d->srtt_us + 4 * d->rttvar_us + 999) / 1000;
	return t < QUERY_SLOW_MIN_MS ? QUERY_SLOW_MIN_MS : t > QUERY_SLOW_MAX_MS ? QUERY_SLOW_MAX_MS : t;
}

static bool cand_is_slow(const struct cand *c, int64_t now_ms, int64_t slow_ms)
{
	return c->state == C_INFLIGHT && now_ms - c->sent_ms >= slow_ms;
}

/* A get that holds an item waits only for what could still bring a newer
 * seq: answers within the round trip the node's answers take (RTO, no
 * 200 ms floor), for QUERY_SETTLE_MIN_MS at least. Nodes that do not
 * speak BEP 44 (Transmission's jech/dht drops "get" unanswered: a third
 * of a mixed swarm) cost a reader this, not the slow mark and then the
 * full timeout. */
static int64_t query_settle_ms(const struct dht *d)
{
	if (!d->has_rtt)
		return QUERY_SLOW_MAX_MS;
	int64_t t = (d->srtt_us + 4 * d->rttvar_us + 999) / 1000;
	return t < QUERY_SETTLE_MIN_MS ? QUERY_SETTLE_MIN_MS : t > QUERY_SLOW_MAX_MS ? QUERY_SLOW_MAX_MS : t;
}

/* The lookup is over when none of the k nearest live candidates is still
 * new or in flight; failed and slow ones are not live (a slow one that
 * answers becomes live again, in its place). With fewer than k live
 * candidates in all, the slow ones are all that is left: with fewer than
 * k/2 answers they are waited for until their full timeout (a distant
 * swarm, a slow path), rather than ending with few nodes or none; with k/2
 * answers or more, for twice the slow mark only (one is then most likely a
 * departed node: a small swarm's tables keep short-lived nodes that did not
 * say BEP 43 "ro", and waiting each out cost every lookup of a get 2 s in a
 * swarm of 8 libtorrent nodes). Returns true when finished. */
static bool lookup_step(struct dht *d, struct op *o, int64_t now_ms)
{
	size_t inflight = 0, live = 0, replied = 0;
	bool is_pending = false, is_slow_left = false, is_slow_young = false;
	/* An announce has no slow candidates, only answers and timeouts: the
	 * nodes it stores on must be the k closest, where readers' lookups
	 * converge; a slow one replaced by the next (a loaded libtorrent
	 * node, the closest to a chunk) held nothing a reader asked. An item
	 * put has: a reader needs one node of the item's k closest, and
	 * waiting out the nodes that never answer "get" (Transmission) cost
	 * every put of a fresh server 2 s. */
	bool is_settling = o->kind == OP_GET_ITEM && o->has_item;
	int64_t slow_ms = o->kind == OP_ANNOUNCE ? DHT_QUERY_TIMEOUT_MS
			  : is_settling ? query_settle_ms(d) : query_slow_ms(d);
	for (size_t i = 0; i < o->n_cands; i++) {
		if (o->c[i].state == C_INFLIGHT && !cand_is_slow(&o->c[i], now_ms, slow_ms))
			inflight++;
		replied += o->c[i].state == C_REPLIED;
	}
	for (size_t i = 0; i < o->n_cands && live < DHT_K; i++) {
		struct cand *c = &o->c[i];
		bool is_slow = cand_is_slow(c, now_ms, slow_ms);
		is_slow_left |= is_slow;
		is_slow_young |= is_slow && now_ms - c->sent_ms < 2 * slow_ms;
		if (c->state == C_FAILED || is_slow)
			continue;
		live++;
		if (c->state == C_INFLIGHT)
			is_pending = true;
		if (c->state != C_NEW)
			continue;
		is_pending = true;
		if (inflight >= o->alpha || !pacer_is_ready(d, &c->addr, lookup_method(o), now_ms))
			continue;
		c->state = C_INFLIGHT;
		dbg(d, "op %d query %02x%02x (has_id %d) at %d", o->id, c->id[0], c->id[1], c->has_id, (int)(now_ms % 1000000));
		op_send(d, o, c, lookup_method(o), 0, now_ms);
		inflight++;
	}
	if (!is_settling && live < DHT_K && (replied < DHT_K / 2 ? is_slow_left : is_slow_young))
		is_pending = true;
	return !is_pending || now_ms - o->started_ms >= LOOKUP_MAX_MS;
}

static void op_enter_second_phase(struct dht *d, struct op *o, int64_t now_ms)
{
	size_t n = 0;
	for (size_t i = 0; i < o->n_cands && n < DHT_K; i++) {
		struct cand *c = &o->c[i];
		if (c->state != C_REPLIED)
			continue;
		if (op_is_store(o) && !c->token_len)
			continue;
		c->is_target = true;
		n++;
	}
	o->phase = op_is_store(o) ? PH_ANNOUNCE : PH_COLLECT;
	o->phase_ms = now_ms;
	/* Pacing is per destination and shared by all operations: leave room
	 * for a node that several concurrent operations address. */
	o->deadline_ms = now_ms + DHT_QUERY_TIMEOUT_MS * 2 +
			 (int64_t)(op_is_store(o) ? o->n_ports : COLLECT_MAX_QUERIES) *
			 DHT_PACE_MS * PACE_SHARE;
	if (o->kind == OP_COLLECT) {
		for (size_t i = 0; i < o->n_cands; i++) {
			struct cand *c = &o->c[i];
			if (c->is_target && c->last_n_values < c->reply_budget)
				collect_node_done(d, o, c);
			else if (c->is_target)
				c->n_queries = 1;
		}
	}
}

/* Returns true when the operation is finished. */
static bool op_step(struct dht *d, struct op *o, int64_t now_ms)
{
	bool is_all_done = true;

	if (o->phase == PH_LOOKUP) {
		if (!lookup_step(d, o, now_ms))
			return false;
		if (!op_is_store(o) && o->kind != OP_COLLECT)
			return true;
		op_enter_second_phase(d, o, now_ms);
	}
	if (now_ms >= o->deadline_ms)
		return true;
	for (size_t i = 0; i < o->n_cands; i++) {
		struct cand *c = &o->c[i];
		if (!c->is_target || c->is_done)
			continue;
		if (o->phase == PH_ANNOUNCE) {
			if (c->next_port >= o->n_ports) {
				/* All sent: done once acknowledged or timed out. */
				if (c->n_acked >= o->n_ports ||
				    now_ms - c->sent_ms >= DHT_QUERY_TIMEOUT_MS)
					c->is_done = true;
				else
					is_all_done = false;
				continue;
			}
			is_all_done = false;
			/* Only from dht_tick, which steps puts before announces:
			 * an answer's op_run would take a freed slot out of turn. */
			uint8_t method = o->kind == OP_PUT_ITEM ? KRPC_PUT : KRPC_ANNOUNCE_PEER;
			if (d->is_ticking && pacer_is_ready_bulk(d, &c->addr, method, now_ms))
				op_send(d, o, c, method, o->ports[c->next_port++], now_ms);
			continue;
		}
		/* Collect. */
		is_all_done = false;
		if (c->is_busy || !pacer_is_ready_bulk(d, &c->addr, KRPC_GET_PEERS, now_ms))
			continue;
		c->is_busy = true;
		c->n_queries++;
		op_send(d, o, c, KRPC_GET_PEERS, 0, now_ms);
	}
	return is_all_done;
}

/* Steps o; frees it when finished or cancelled from its own callback. */
void op_run(struct dht *d, struct op *o, int64_t now_ms)
{
	struct op *outer = d->running;
	d->running = o;
	bool is_over = o->is_cancelled || op_step(d, o, now_ms);
	d->running = outer;
	if (o->is_cancelled)
		op_free(d, o);
	else if (is_over)
		op_finish(d, o);
}

static uint16_t reply_budget(const struct krpc_msg *m)
{
	bool is_ours = m->version_len >= 2 && m->version[0] == our_version[0] &&
		       m->version[1] == our_version[1];
	return is_ours ? PEERSTORE_MAX_VALUES : COLLECT_SMALL_REPLY;
}

void op_on_message(struct dht *d, struct op *o, const struct krpc_msg *m,
			  const struct krpc_addr *from, int64_t now_ms)
{
	struct cand *c = cand_by_addr(o, from);
	if (!c)
		return;
	if (m->type == KRPC_ERROR) {
		if (o->phase == PH_LOOKUP && c->state == C_INFLIGHT)
			c->state = C_FAILED;
		else if (o->phase == PH_ANNOUNCE && o->kind == OP_PUT_ITEM && c->is_target) {
			c->error_code = (uint16_t)m->error_code;
			c->is_refused = true;
			c->is_done = true;
		}
		else if (o->phase == PH_COLLECT && c->is_busy)
			collect_node_done(d, o, c);
		else if (o->phase == PH_ANNOUNCE && c->is_target)
			c->is_refused = true;
		op_run(d, o, now_ms);
		return;
	}
	if (o->phase == PH_LOOKUP) {
		if (c->state != C_INFLIGHT && c->state != C_FAILED)
			return;
		if (c->state == C_INFLIGHT)
			rtt_sample(d, now_ms - c->sent_ms);
		c->state = C_REPLIED;
		c->last_n_values = m->n_values;
		c->reply_budget = reply_budget(m);
		memcpy(c->token, m->token, m->token_len);
		c->token_len = m->token_len;
		if (o->kind == OP_GET_PEERS || o->kind == OP_COLLECT)
			op_add_values(o, c, m);
		/* A reply under the budget holds all the node has: a reader
		 * may open its message with it now, and cancel the rest,
		 * rather than wait for the lookup to end (in a small swarm
		 * every node holds every chunk, and the end of 11 lookups
		 * costs seconds of pacing). */
		if (o->kind == OP_COLLECT && m->n_values && m->n_values < c->reply_budget)
			collect_node_done(d, o, c);
		if (op_is_item(o))
			items_on_reply(d, o, m);
		if (!c->has_id || memcmp(c->id, m->id, DHT_ID_LEN) != 0) {
			/* A bootstrap node told us its id: move it to its place. */
			struct cand moved = *c;
			memcpy(moved.id, m->id, DHT_ID_LEN);
			moved.has_id = true;
			size_t idx = (size_t)(c - o->c);
			memmove(&o->c[idx], &o->c[idx + 1], (o->n_cands - idx - 1) * sizeof(o->c[0]));
			o->n_cands--;
			cand_insert(o, &moved);
		}
		const struct krpc_node *nodes = o->family == AF_INET ? m->nodes : m->nodes6;
		size_t n = o->family == AF_INET ? m->n_nodes : m->n_nodes6;
		dbg(d, "op %d reply from %02x%02x: %zu nodes", o->id, m->id[0], m->id[1], n);
		for (size_t i = 0; i < n; i++)
			cand_add(d, o, nodes[i].id, &nodes[i].addr);
	} else if (o->phase == PH_ANNOUNCE) {
		if (c->is_target && c->n_acked < c->next_port)
			c->n_acked++;
	} else if (o->phase == PH_COLLECT) {
		if (!c->is_target || !c->is_busy)
			return;
		rtt_sample(d, now_ms - c->sent_ms);
		c->is_busy = false;
		c->last_n_values = m->n_values;
		size_t n_new = op_add_values(o, c, m);
		c->n_stale = n_new ? 0 : (uint8_t)(c->n_stale + 1);
		if (m->n_values < c->reply_budget || c->n_stale >= COLLECT_STALE_STOP ||
		    c->n_queries >= COLLECT_MAX_QUERIES)
			collect_node_done(d, o, c);
	}
	op_run(d, o, now_ms);
}

void op_timeouts(struct dht *d, struct op *o, int64_t now_ms)
{
	for (size_t i = 0; i < o->n_cands; i++) {
		struct cand *c = &o->c[i];
		bool is_late = now_ms - c->sent_ms >= DHT_QUERY_TIMEOUT_MS;
		if (c->state == C_INFLIGHT && is_late) {
			c->state = C_FAILED;
			d->st.queries_timed_out++;
			routing_failed(&d->rt[fam_index(c->addr.family)], &c->addr);
		} else if (o->phase == PH_COLLECT && c->is_busy && is_late) {
			d->st.queries_timed_out++;
			collect_node_done(d, o, c);
		}
	}
}

int op_start(struct dht *d, uint8_t kind, const uint8_t *target, int family,
		    const uint16_t *ports, size_t n_ports, dht_result_fn *cb, void *closure,
		    int64_t now_ms)
{
	struct routing_node rn[2 * DHT_K];
	int slot = -1;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	for (int i = 0; i < DHT_MAX_OPS; i++) {
		if (!d->op[i]) {
			slot = i;
			break;
		}
	}
	if (slot < 0)
		return -EBUSY;
	struct op *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	if (d->next_op_id <= 0 || d->next_op_id == INT32_MAX)
		d->next_op_id = 1;
	o->id = d->next_op_id++;
	o->kind = kind;
	o->phase = PH_LOOKUP;
	o->family = (uint8_t)family;
	memcpy(o->target, target, DHT_ID_LEN);
	o->cb = cb;
	o->closure = closure;
	o->started_ms = now_ms;
	o->deadline_ms = now_ms + LOOKUP_MAX_MS;
	d->ops.random(d->ctx, o->nonce, sizeof(o->nonce));
	if (ports) {
		memcpy(o->ports, ports, n_ports * sizeof(ports[0]));
		o->n_ports = n_ports;
	}
	if (d->starting_item)
		o->item = *d->starting_item;
	o->has_item = kind == OP_PUT_ITEM;
	size_t good, q, bad;
	routing_count(&d->rt[fam_index(family)], now_ms, &good, &q, &bad);
	o->alpha = kind == OP_COLLECT && good + q < SMALL_TABLE ? COLLECT_ALPHA : ALPHA;
	size_t n = routing_closest(&d->rt[fam_index(family)], target, rn, 2 * DHT_K);
	for (size_t i = 0; i < n; i++)
		cand_add(d, o, rn[i].id, &rn[i].addr);
	if (n < DHT_K)
		for (size_t i = 0; i < d->n_boot; i++)
			cand_add(d, o, NULL, &d->boot[i]);
	if (o->n_cands == 0) {
		/* Nothing to ask: refuse now rather than end the operation
		 * inside this call, before the caller has its id. */
		free(o);
		return -ENETUNREACH;
	}
	d->op[slot] = o;
	dbg(d, "op %d start: kind %u, %zu seeds", o->id, kind, o->n_cands);
	int id = o->id; /* op_run may end and free the operation */
	op_run(d, o, now_ms);
	return id;
}

int dht_find_node(struct dht *d, const uint8_t target[DHT_ID_LEN], int family,
		  dht_result_fn *cb, void *closure, int64_t now_ms)
{
	return op_start(d, OP_FIND_NODE, target, family, NULL, 0, cb, closure, now_ms);
}

int dht_get_peers(struct dht *d, const uint8_t info_hash[DHT_ID_LEN], int family,
		  dht_result_fn *cb, void *closure, int64_t now_ms)
{
	return op_start(d, OP_GET_PEERS, info_hash, family, NULL, 0, cb, closure, now_ms);
}

int dht_announce(struct dht *d, const uint8_t info_hash[DHT_ID_LEN], int family,
		 const uint16_t *ports, size_t n_ports,
		 dht_result_fn *cb, void *closure, int64_t now_ms)
{
	if (!ports || n_ports == 0 || n_ports > DHT_MAX_PORTS)
		return -EINVAL;
	for (size_t i = 0; i < n_ports; i++)
		if (ports[i] == 0)
			return -EINVAL;
	return op_start(d, OP_ANNOUNCE, info_hash, family, ports, n_ports, cb, closure, now_ms);
}

int dht_collect(struct dht *d, const uint8_t info_hash[DHT_ID_LEN], int family,
		dht_result_fn *cb, void *closure, int64_t now_ms)
{
	return op_start(d, OP_COLLECT, info_hash, family, NULL, 0, cb, closure, now_ms);
}

size_t dht_store_quorum(size_t n_tokens, size_t n_live)
{
	size_t n = n_tokens > n_live ? n_tokens : n_live;
	if (n > DHT_K)
		n = DHT_K;
	return n > 3 ? n - 2 : 1;
}

int dht_cancel(struct dht *d, int op)
{
	for (int i = 0; i < DHT_MAX_OPS; i++) {
		struct op *o = d->op[i];
		if (!o || o->id != op || o->is_finished || o->is_cancelled)
			continue;
		o->cb = NULL;
		/* From its own callback: freed when its code unwinds. */
		if (d->running == o)
			o->is_cancelled = true;
		else
			op_free(d, o);
		return 0;
	}
	return -ENOENT;
}

/* --- Input ------------------------------------------------------------ */

