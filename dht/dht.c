/* Our Mainline DHT node: serving others (BEP 5 queries) and our own iterative
 * operations (find_node, get_peers, announce-many, collect). Loop-agnostic:
 * time comes in as now_ms, packets go out through ops->send. */
#include "dht/dht.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "dht/node.h"

void dbg(struct dht *d, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	if (!d->ops.debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->ops.debug(d->ctx, line);
}

int fam_index(int family)
{
	return family == AF_INET ? 0 : 1;
}

static bool addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct krpc_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		out->family = AF_INET;
		memcpy(out->ip, &s4->sin_addr, 4);
		out->port = ntohs(s4->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		out->port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			out->family = AF_INET;
			memcpy(out->ip, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->ip, &s6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

static socklen_t addr_to_sockaddr(const struct krpc_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->ip, 4);
		s4->sin_port = htons(a->port);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	memcpy(&s6->sin6_addr, a->ip, 16);
	s6->sin6_port = htons(a->port);
	return sizeof(*s6);
}

void peer_from_addr(const struct krpc_addr *a, struct dht_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->family = a->family;
	p->port = a->port;
	memcpy(p->addr, a->ip, 16);
}

bool is_martian(const struct krpc_addr *a)
{
	static const uint8_t zero[16];
	if (a->port == 0)
		return true;
	if (a->family == AF_INET)
		return a->ip[0] == 0 || a->ip[0] == 127 || a->ip[0] >= 224;
	return memcmp(a->ip, zero, 16) == 0 || a->ip[0] == 0xff ||
	       (memcmp(a->ip, zero, 15) == 0 && a->ip[15] == 1);
}

static uint32_t rand32(struct dht *d)
{
	uint32_t v;
	d->ops.random(d->ctx, (uint8_t *)&v, sizeof(v));
	return v;
}

/* --- Sending ---------------------------------------------------------- */

int send_msg(struct dht *d, const struct krpc_msg *m, const struct krpc_addr *to)
{
	struct sockaddr_storage ss;
	int n = krpc_encode(m, d->buf, sizeof(d->buf));
	if (n < 0)
		return n;
	socklen_t sl = addr_to_sockaddr(to, &ss);
	d->st.tx++;
	int rc = d->ops.send(d->ctx, d->buf, (size_t)n, (const struct sockaddr *)&ss, sl);
	if (rc < 0)
		d->st.tx_errors++;
	return rc;
}

static bool pacer_is_key(const struct pacer_slot *s, const struct krpc_addr *a)
{
	return s->key.family == a->family && memcmp(s->key.ip, a->ip, 16) == 0;
}

/* a's slot, else a reusable one among PACER_PROBES, else NULL (all busy:
 * the caller waits, so pacing never lapses on a hash collision). */
static struct pacer_slot *pacer_find(struct dht *d, const struct krpc_addr *a, int64_t now_ms)
{
	struct pacer_slot *free_slot = NULL;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < 16; i++)
		h = (h ^ a->ip[i]) * 1099511628211ull;
	for (size_t i = 0; i < PACER_PROBES; i++) {
		struct pacer_slot *s = &d->pacer[(h + i) % PACER_SLOTS];
		if (pacer_is_key(s, a))
			return s;
		if (!free_slot && (s->key.family == 0 || (s->tat_ms <= now_ms && s->reply_tat_ms <= now_ms)))
			free_slot = s;
	}
	return free_slot;
}

/* The reply budget a query of this method takes, in ms of DHT_REPLY_RATE. */
static int64_t reply_cost_ms(uint8_t method)
{
	/* A BEP 44 get reply is a get_peers reply's nodes and token with at
	 * most one item (ours: 66 bytes of v): costed alike. */
	int64_t bytes = method == KRPC_GET_PEERS || method == KRPC_GET ? DHT_REPLY_GET_PEERS
			: method == KRPC_FIND_NODE ? DHT_REPLY_FIND_NODE : DHT_REPLY_SMALL;
	return bytes * 1000 / DHT_REPLY_RATE;
}

static bool pacer_has(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms,
		      int64_t tokens)
{
	const struct pacer_slot *s = pacer_find(d, a, now_ms);
	if (!s)
		return false;
	if (!pacer_is_key(s, a))
		return true;
	return s->tat_ms - now_ms <= (DHT_PACE_BURST - tokens) * DHT_PACE_MS &&
	       s->reply_tat_ms - now_ms <= (int64_t)DHT_REPLY_BURST * 1000 / DHT_REPLY_RATE - reply_cost_ms(method);
}

bool pacer_is_ready(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms)
{
	return pacer_has(d, a, method, now_ms, 1);
}

/* Bulk traffic leaves DHT_PACE_RESERVE tokens in the bucket for lookups. */
bool pacer_is_ready_bulk(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms)
{
	return pacer_has(d, a, method, now_ms, 1 + DHT_PACE_RESERVE);
}

void pacer_note(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms)
{
	struct pacer_slot *s = pacer_find(d, a, now_ms);
	if (!s)
		return;
	if (!pacer_is_key(s, a)) {
		s->key = *a;
		s->key.port = 0;
		s->tat_ms = now_ms;
		s->reply_tat_ms = now_ms;
	}
	s->tat_ms = (s->tat_ms > now_ms ? s->tat_ms : now_ms) + DHT_PACE_MS;
	s->reply_tat_ms = (s->reply_tat_ms > now_ms ? s->reply_tat_ms : now_ms) + reply_cost_ms(method);
}

void query_init(struct dht *d, struct krpc_msg *m, uint8_t method, uint8_t slot,
		       const uint8_t nonce[3], int family)
{
	memset(m, 0, sizeof(*m));
	m->type = KRPC_QUERY;
	m->method = method;
	m->tid[0] = slot;
	memcpy(m->tid + 1, nonce, 3);
	m->tid_len = TID_LEN;
	memcpy(m->id, d->id, DHT_ID_LEN);
	m->has_id = true;
	m->want = family == AF_INET ? KRPC_WANT_N4 : KRPC_WANT_N6;
	m->is_read_only = d->is_read_only;
	memcpy(m->version, our_version, sizeof(our_version));
	m->version_len = sizeof(our_version);
}

/* A query outside any operation: ping or find_node(self) to a bootstrap. */
static void send_standalone(struct dht *d, const struct krpc_addr *to, uint8_t method, int64_t now_ms)
{
	struct ping *p = NULL;
	for (size_t i = 0; i < MAX_PINGS; i++) {
		if (d->pings[i].in_use && memcmp(&d->pings[i].addr, to, sizeof(*to)) == 0)
			return;
		if (!d->pings[i].in_use && !p)
			p = &d->pings[i];
	}
	if (!p || !pacer_is_ready(d, to, method, now_ms))
		return;
	p->in_use = true;
	p->slot = PING_SLOT;
	p->addr = *to;
	p->sent_ms = now_ms;
	p->nonce[0] = (uint8_t)(p - d->pings);
	d->ops.random(d->ctx, p->nonce + 1, 2);
	query_init(d, &d->out, method, PING_SLOT, p->nonce, to->family);
	memcpy(d->out.target, d->id, DHT_ID_LEN);
	pacer_note(d, to, method, now_ms);
	send_msg(d, &d->out, to);
}

static void heard(struct dht *d, const uint8_t *id, const struct krpc_addr *from,
		  bool is_reply, int64_t now_ms)
{
	struct routing_node ping[ROUTING_K];
	size_t n_ping = 0;
	routing_heard(&d->rt[fam_index(from->family)], id, from, is_reply, now_ms, ping, &n_ping);
	for (size_t i = 0; i < n_ping; i++)
		send_standalone(d, &ping[i].addr, KRPC_PING, now_ms);
}

/* --- Serving ---------------------------------------------------------- */

static void reply_init(struct dht *d, struct krpc_msg *m, const struct krpc_msg *q,
		       const struct krpc_addr *from)
{
	memset(m, 0, sizeof(*m));
	m->type = KRPC_RESPONSE;
	memcpy(m->tid, q->tid, q->tid_len);
	m->tid_len = q->tid_len;
	memcpy(m->id, d->id, DHT_ID_LEN);
	m->has_id = true;
	m->has_ip = true;            /* BEP 42: tell the asker its address */
	m->ip = *from;
	memcpy(m->version, our_version, sizeof(our_version));
	m->version_len = sizeof(our_version);
}

static void send_error(struct dht *d, const struct krpc_msg *q, const struct krpc_addr *to,
		       int code, const char *text)
{
	memset(&d->out, 0, sizeof(d->out));
	d->out.type = KRPC_ERROR;
	memcpy(d->out.tid, q->tid, q->tid_len);
	d->out.tid_len = q->tid_len;
	d->out.error_code = code;
	snprintf(d->out.error_msg, sizeof(d->out.error_msg), "%s", text);
	send_msg(d, &d->out, to);
}

static void fill_nodes(struct dht *d, struct krpc_msg *m, const uint8_t *target,
		       uint8_t want, int asker_family)
{
	struct routing_node rn[ROUTING_K];
	if (!want)
		want = asker_family == AF_INET ? KRPC_WANT_N4 : KRPC_WANT_N6;
	if (want & KRPC_WANT_N4) {
		size_t n = routing_closest(&d->rt[0], target, rn, ROUTING_K);
		for (size_t i = 0; i < n; i++) {
			memcpy(m->nodes[i].id, rn[i].id, DHT_ID_LEN);
			m->nodes[i].addr = rn[i].addr;
		}
		m->n_nodes = (uint8_t)n;
	}
	if (want & KRPC_WANT_N6) {
		size_t n = routing_closest(&d->rt[1], target, rn, ROUTING_K);
		for (size_t i = 0; i < n; i++) {
			memcpy(m->nodes6[i].id, rn[i].id, DHT_ID_LEN);
			m->nodes6[i].addr = rn[i].addr;
		}
		m->n_nodes6 = (uint8_t)n;
	}
}

/* Encodes within REPLY_CAP. Values come first: when they do not fit beside
 * the nodes (50 IPv6 values and 8 nodes6 do not), the nodes go, so a reply
 * holds min(stored, PEERSTORE_MAX_VALUES) values and a collector can tell a
 * complete answer from a truncated one; only then are values halved. */
static void send_capped(struct dht *d, struct krpc_msg *m, const struct krpc_addr *to)
{
	for (;;) {
		int n = krpc_encode(m, d->buf, sizeof(d->buf));
		if (n != -ENOBUFS)
			break;
		if (m->n_nodes > 0)
			m->n_nodes = 0;
		else if (m->n_nodes6 > 0)
			m->n_nodes6 = 0;
		else if (m->n_values > 0)
			m->n_values = (uint16_t)(m->n_values / 2);
		else
			return;
	}
	send_msg(d, m, to);
}

static void serve_query(struct dht *d, const struct krpc_msg *q, const struct krpc_addr *from,
			int64_t now_ms)
{
	struct krpc_msg *r = &d->out;
	reply_init(d, r, q, from);
	switch (q->method) {
	case KRPC_PING:
		break;
	case KRPC_FIND_NODE:
		fill_nodes(d, r, q->target, q->want, from->family);
		break;
	case KRPC_GET_PEERS:
		fill_nodes(d, r, q->target, q->want, from->family);
		peerstore_token(&d->ps, from, q->target, r->token);
		r->token_len = PEERSTORE_TOKEN_LEN;
		r->n_values = (uint16_t)peerstore_get(&d->ps, q->target, from->family, now_ms,
						      rand32(d), r->values, PEERSTORE_MAX_VALUES);
		break;
	case KRPC_ANNOUNCE_PEER: {
		if (!peerstore_is_token_valid(&d->ps, from, q->target, q->token, q->token_len)) {
			d->st.rx_bad_token++;
			send_error(d, q, from, KRPC_ERR_PROTOCOL, "bad token");
			return;
		}
		struct krpc_addr peer = *from;
		if (!q->implied_port)
			peer.port = q->port;
		int rc = peerstore_add(&d->ps, q->target, &peer, now_ms);
		if (rc == -EINVAL) {
			send_error(d, q, from, KRPC_ERR_PROTOCOL, "port 0");
			return;
		}
		if (rc < 0) {
			d->st.store_refused++;
			send_error(d, q, from, KRPC_ERR_SERVER, "storage full");
			return;
		}
		break;
	}
	case KRPC_GET:
		fill_nodes(d, r, q->target, q->want, from->family);
		peerstore_token(&d->ps, from, q->target, r->token);
		r->token_len = PEERSTORE_TOKEN_LEN;
		items_serve_get(d, q, r, from, now_ms);
		break;
	case KRPC_PUT: {
		int code = items_serve_put(d, q, from, now_ms);
		if (code) {
			send_error(d, q, from, code, code == KRPC_ERR_SEQ ? "old seq" :
				   code == KRPC_ERR_CAS ? "cas mismatch" :
				   code == KRPC_ERR_BAD_SIG ? "invalid signature" :
				   code == KRPC_ERR_V_TOO_BIG ? "v too big" :
				   code == KRPC_ERR_SALT_TOO_BIG ? "salt too big" :
				   code == KRPC_ERR_SERVER ? "storage full" : "bad put");
			return;
		}
		break;
	}
	default:
		send_error(d, q, from, KRPC_ERR_METHOD, "method unknown");
		return;
	}
	send_capped(d, r, from);
}

/* --- Operations ------------------------------------------------------- */

/* A late answer to a query of an operation that has ended. */
static void on_watched_response(struct dht *d, const struct krpc_msg *m,
				const struct krpc_addr *from, int64_t now_ms)
{
	for (size_t i = 0; i < MAX_PINGS; i++) {
		struct ping *p = &d->pings[i];
		if (!p->in_use || p->slot != m->tid[0] || memcmp(p->nonce, m->tid + 1, 3) != 0 ||
		    memcmp(&p->addr, from, sizeof(*from)) != 0)
			continue;
		p->in_use = false;
		rtt_sample(d, now_ms - p->sent_ms);
		if (m->type == KRPC_RESPONSE)
			heard(d, m->id, from, true, now_ms);
		return;
	}
}

static void on_response(struct dht *d, const struct krpc_msg *m, const struct krpc_addr *from,
			int64_t now_ms)
{
	if (m->tid_len != TID_LEN)
		return;
	if (m->tid[0] == PING_SLOT) {
		struct ping *p = &d->pings[m->tid[1] % MAX_PINGS];
		if (!p->in_use || p->slot != PING_SLOT || memcmp(p->nonce, m->tid + 1, 3) != 0 ||
		    memcmp(&p->addr, from, sizeof(*from)) != 0)
			return;
		p->in_use = false;
		rtt_sample(d, now_ms - p->sent_ms);
		if (m->type == KRPC_RESPONSE)
			heard(d, m->id, from, true, now_ms);
		return;
	}
	if (m->tid[0] >= DHT_MAX_OPS)
		return;
	struct op *o = d->op[m->tid[0]];
	if (!o || memcmp(o->nonce, m->tid + 1, 3) != 0) {
		on_watched_response(d, m, from, now_ms);
		return;
	}
	/* Only nodes that answered our own query enter the routing table. */
	if (m->type == KRPC_RESPONSE)
		heard(d, m->id, from, true, now_ms);
	if (o->is_finished)
		return;
	struct op *outer = d->running;
	d->running = o;
	op_on_message(d, o, m, from, now_ms);
	d->running = outer;
}

void dht_input(struct dht *d, const uint8_t *buf, size_t len,
	       const struct sockaddr *from_sa, socklen_t from_len, int64_t now_ms)
{
	struct krpc_addr from;
	struct krpc_msg *m = &d->in;

	d->st.rx++;
	if (!addr_from_sockaddr(from_sa, from_len, &from) || is_martian(&from)) {
		d->st.rx_malformed++;
		return;
	}
	int rc = krpc_parse(buf, len, m);
	if (rc == -EPROTO && m->type == KRPC_QUERY) {
		d->st.rx_malformed++;
		if (peerstore_rate_allow(&d->ps, &from, now_ms))
			send_error(d, m, &from, KRPC_ERR_PROTOCOL, "protocol error");
		return;
	}
	if (rc < 0) {
		d->st.rx_malformed++;
		return;
	}
	if (m->type == KRPC_QUERY) {
		if (!peerstore_rate_allow(&d->ps, &from, now_ms)) {
			d->st.rx_rate_limited++;
			return;
		}
		/* BEP 43: a read-only node asked not to be added. */
		if (!m->is_read_only)
			heard(d, m->id, &from, false, now_ms);
		serve_query(d, m, &from, now_ms);
		return;
	}
	on_response(d, m, &from, now_ms);
}

/* --- Timers ----------------------------------------------------------- */

static void maintain(struct dht *d, int64_t now_ms)
{
	for (int f = 0; f < 2; f++) {
		int family = f == 0 ? AF_INET : AF_INET6;
		size_t good, q, bad, n_boot = 0;
		uint8_t target[DHT_ID_LEN], rnd[DHT_ID_LEN];
		if (d->maint_op[f])
			continue;
		routing_count(&d->rt[f], now_ms, &good, &q, &bad);
		if (good >= DHT_K && !d->is_joined[f]) {
			/* Kademlia's join: once our neighbourhood is known, refresh
			 * every bucket so the far ones are populated too (without
			 * that, lookups for distant targets stall on thin tables). */
			d->is_joined[f] = true;
			for (unsigned b = 0; b < d->rt[f].n_buckets; b++)
				d->rt[f].b[b].last_changed_ms = now_ms - ROUTING_GOOD_MS;
		}
		for (size_t i = 0; i < d->n_boot; i++)
			n_boot += d->boot[i].family == family;
		if (good + q == 0 && n_boot == 0)
			continue;
		int64_t period = good < DHT_K ? MAINT_FAST_MS : MAINT_SLOW_MS;
		memcpy(target, d->id, DHT_ID_LEN);
		if (now_ms - d->last_maint_ms[f] < period) {
			d->ops.random(d->ctx, rnd, sizeof(rnd));
			if (good < DHT_K || !routing_refresh_target(&d->rt[f], now_ms, rnd, target))
				continue;
		}
		d->last_maint_ms[f] = now_ms;
		int id = op_start(d, OP_MAINT, target, family, NULL, 0, NULL, NULL, now_ms);
		/* op_start may already have finished it (no candidates). */
		for (int i = 0; i < DHT_MAX_OPS && id > 0; i++)
			if (d->op[i] && d->op[i]->id == id)
				d->maint_op[f] = id;
	}
}

int64_t dht_tick(struct dht *d, int64_t now_ms)
{
	int64_t next = now_ms + 1000;
	bool is_busy = false;

	for (size_t i = 0; i < MAX_PINGS; i++) {
		struct ping *p = &d->pings[i];
		if (p->in_use && now_ms - p->sent_ms >= DHT_QUERY_TIMEOUT_MS) {
			p->in_use = false;
			d->st.queries_timed_out++;
			routing_failed(&d->rt[fam_index(p->addr.family)], &p->addr);
		}
	}
	/* Stores send only from here (lookup.c, op_step), item puts first: a
	 * put is one message per node, an announce-many dozens, and the item
	 * channel is the one a reader opens in a few round trips. In slot
	 * order otherwise, the puts of a fresh server (started after its
	 * announces) never got a node's bulk slot before their deadline
	 * behind 40 s of port-stuffing announces in a mixed foreign swarm,
	 * and were retried only retry_s later. */
	d->is_ticking = true;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < DHT_MAX_OPS; i++) {
			struct op *o = d->op[i];
			if (!o || o->is_finished || (o->kind == OP_PUT_ITEM) != (pass == 0))
				continue;
			struct op *outer = d->running;
			d->running = o;
			op_timeouts(d, o, now_ms);
			d->running = outer;
			op_run(d, o, now_ms);
			is_busy |= d->op[i] != NULL;
		}
	}
	d->is_ticking = false;
	if (peerstore_is_rotation_due(&d->ps, now_ms)) {
		uint8_t secret[PEERSTORE_SECRET_LEN];
		d->ops.random(d->ctx, secret, sizeof(secret));
		peerstore_rotate(&d->ps, secret, now_ms);
		sodium_memzero(secret, sizeof(secret));
	}
	if (now_ms - d->last_expire_ms >= EXPIRE_EVERY_MS) {
		peerstore_expire(&d->ps, now_ms);
		itemstore_expire(&d->items, now_ms);
		d->last_expire_ms = now_ms;
	}
	/* An empty table: ask the bootstrap nodes again. */
	size_t g4, q4, b4, g6, q6, b6;
	routing_count(&d->rt[0], now_ms, &g4, &q4, &b4);
	routing_count(&d->rt[1], now_ms, &g6, &q6, &b6);
	if (g4 + g6 == 0 && now_ms - d->last_boot_ms >= MAINT_FAST_MS) {
		d->last_boot_ms = now_ms;
		for (size_t i = 0; i < d->n_boot; i++)
			send_standalone(d, &d->boot[i], KRPC_FIND_NODE, now_ms);
	}
	maintain(d, now_ms);
	for (int i = 0; i < DHT_MAX_OPS; i++)
		is_busy |= d->op[i] != NULL;
	/* Pacing runs at DHT_PACE_MS granularity; poll a few times per slot. */
	if (is_busy)
		next = now_ms + DHT_PACE_MS / 4;
	return next;
}

int dht_add_node(struct dht *d, const struct sockaddr *sa, socklen_t len, int64_t now_ms)
{
	struct krpc_addr a;
	if (!addr_from_sockaddr(sa, len, &a) || is_martian(&a))
		return -EINVAL;
	size_t i;
	for (i = 0; i < d->n_boot; i++)
		if (memcmp(&d->boot[i], &a, sizeof(a)) == 0)
			break;
	if (i == d->n_boot) {
		if (d->n_boot >= MAX_BOOTSTRAP)
			return -ENOSPC;
		d->boot[d->n_boot++] = a;
	}
	send_standalone(d, &a, KRPC_FIND_NODE, now_ms);
	return 0;
}

/* --- Life cycle and state --------------------------------------------- */

static const uint8_t state_magic[8] = { 'M', 'T', '6', 'D', 'D', 'H', 'T', '1' };

static int load_state(struct dht *d, const uint8_t *s, size_t len, bool is_id_given, int64_t now_ms)
{
	if (len < 8 + DHT_ID_LEN + 2 || memcmp(s, state_magic, 8) != 0)
		return -EINVAL;
	if (!is_id_given)
		memcpy(d->id, s + 8, DHT_ID_LEN);
	size_t off = 8 + DHT_ID_LEN;
	size_t n = (size_t)(s[off] << 8 | s[off + 1]);
	off += 2;
	for (size_t i = 0; i < n; i++) {
		struct krpc_addr a;
		if (off >= len)
			return -EINVAL;
		size_t alen = s[off] == 4 ? 6 : s[off] == 6 ? 18 : 0;
		if (!alen || len - off - 1 < DHT_ID_LEN + alen)
			return -EINVAL;
		krpc_addr_get(s + off + 1 + DHT_ID_LEN, alen, &a);
		if (!is_martian(&a))
			routing_heard(&d->rt[fam_index(a.family)], s + off + 1, &a, false, now_ms,
				      NULL, NULL);
		off += 1 + DHT_ID_LEN + alen;
	}
	return off == len ? 0 : -EINVAL;
}

/* Writes the state with at most max_nodes nodes per family: all of them
 * (good first) when max_nodes is SIZE_MAX, else drawn at random among the
 * first SAMPLE_POOL of the list (the good ones, mostly). */
#define SAMPLE_POOL 64
static int save_nodes(const struct dht *d, int64_t now_ms, size_t max_nodes, uint8_t *buf, size_t cap)
{
	static struct routing_node nodes[ROUTING_MAX_BUCKETS * ROUTING_K];
	size_t off = 8 + DHT_ID_LEN + 2, count = 0;
	if (cap < off)
		return -ENOBUFS;
	memcpy(buf, state_magic, 8);
	memcpy(buf + 8, d->id, DHT_ID_LEN);
	for (int f = 0; f < 2; f++) {
		size_t n = routing_list(&d->rt[f], now_ms, nodes, ROUTING_MAX_BUCKETS * ROUTING_K);
		if (max_nodes != SIZE_MAX) {
			if (n > SAMPLE_POOL)
				n = SAMPLE_POOL;
			for (size_t i = 0; i < n && i < max_nodes; i++) {
				uint32_t r;
				d->ops.random(d->ctx, (uint8_t *)&r, sizeof(r));
				size_t j = i + r % (n - i);
				struct routing_node t = nodes[i];
				nodes[i] = nodes[j];
				nodes[j] = t;
			}
			if (n > max_nodes)
				n = max_nodes;
		}
		for (size_t i = 0; i < n && count < 0xffff; i++) {
			size_t alen = nodes[i].addr.family == AF_INET ? 6 : 18;
			if (cap - off < 1 + DHT_ID_LEN + alen)
				return -ENOBUFS;
			buf[off] = nodes[i].addr.family == AF_INET ? 4 : 6;
			memcpy(buf + off + 1, nodes[i].id, DHT_ID_LEN);
			krpc_addr_put(buf + off + 1 + DHT_ID_LEN, &nodes[i].addr);
			off += 1 + DHT_ID_LEN + alen;
			count++;
		}
	}
	buf[8 + DHT_ID_LEN] = (uint8_t)(count >> 8);
	buf[8 + DHT_ID_LEN + 1] = (uint8_t)count;
	return (int)off;
}

int dht_save(const struct dht *d, int64_t now_ms, uint8_t *buf, size_t cap)
{
	return save_nodes(d, now_ms, SIZE_MAX, buf, cap);
}

int dht_save_sample(const struct dht *d, int64_t now_ms, size_t max_nodes, uint8_t *buf, size_t cap)
{
	return save_nodes(d, now_ms, max_nodes, buf, cap);
}

int dht_new(const struct dht_ops *ops, void *ctx, const struct dht_config *cfg,
	    int64_t now_ms, struct dht **out)
{
	uint8_t secret[PEERSTORE_SECRET_LEN];
	int rc;

	if (!ops || !ops->send || !ops->random || !out || now_ms <= 0)
		return -EINVAL;
	struct dht *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = *ops;
	d->ctx = ctx;
	d->is_read_only = cfg && cfg->is_read_only;
	ops->random(ctx, d->id, DHT_ID_LEN);
	if (cfg && cfg->id) {
		memcpy(d->id, cfg->id, DHT_ID_LEN);
	} else if (cfg && cfg->external) {
		struct krpc_addr ext;
		uint8_t rnd[DHT_ID_LEN];
		ops->random(ctx, rnd, sizeof(rnd));
		if (addr_from_sockaddr(cfg->external, cfg->external_len, &ext))
			routing_id_bep42(&ext, rnd, d->id);
	}
	ops->random(ctx, secret, sizeof(secret));
	rc = peerstore_init(&d->ps, secret, now_ms);
	itemstore_init(&d->items);
	sodium_memzero(secret, sizeof(secret));
	if (rc < 0) {
		free(d);
		return rc;
	}
	/* The routing tables need the final id: state may still change it,
	 * unless the id is given or the saved one is not BEP 42-conformant for
	 * the external address we know now (the address changed). */
	if (cfg && cfg->state) {
		bool is_id_kept = cfg->id != NULL;
		struct krpc_addr ext;
		if (!is_id_kept && cfg->external && cfg->state_len >= 8 + DHT_ID_LEN &&
		    addr_from_sockaddr(cfg->external, cfg->external_len, &ext) &&
		    !routing_id_is_bep42(cfg->state + 8, &ext))
			is_id_kept = true;
		routing_init(&d->rt[0], d->id, AF_INET);
		routing_init(&d->rt[1], d->id, AF_INET6);
		if (load_state(d, cfg->state, cfg->state_len, is_id_kept, now_ms) < 0) {
			peerstore_fini(&d->ps);
			free(d);
			return -EINVAL;
		}
		/* Reload with the restored id, then the nodes again. */
		routing_init(&d->rt[0], d->id, AF_INET);
		routing_init(&d->rt[1], d->id, AF_INET6);
		load_state(d, cfg->state, cfg->state_len, true, now_ms);
	} else {
		routing_init(&d->rt[0], d->id, AF_INET);
		routing_init(&d->rt[1], d->id, AF_INET6);
	}
	d->last_expire_ms = now_ms;
	d->last_maint_ms[0] = d->last_maint_ms[1] = now_ms - MAINT_SLOW_MS;
	d->last_boot_ms = now_ms;
	memcpy(d->st.id, d->id, DHT_ID_LEN);
	if (cfg && cfg->state) {
		/* Rejoin in one round trip: every saved node (good ones first, up
		 * to the ping slots) is pinged now; those that answer are good. */
		struct routing_node saved[MAX_PINGS / 2];
		for (int f = 0; f < 2; f++) {
			size_t n = routing_list(&d->rt[f], now_ms, saved, MAX_PINGS / 2);
			for (size_t i = 0; i < n; i++)
				send_standalone(d, &saved[i].addr, KRPC_PING, now_ms);
		}
	}
	*out = d;
	return 0;
}

void dht_free(struct dht *d)
{
	if (!d)
		return;
	for (int i = 0; i < DHT_MAX_OPS; i++)
		free(d->op[i]);
	peerstore_fini(&d->ps);
	itemstore_fini(&d->items);
	/* The routing tables hold only other nodes' public ids and addresses:
	 * wiping around them leaves their untouched pages alone (most of the
	 * node's 400 kB), so nodes stay cheap to create and free (fuzz_dht). */
	size_t rt_end = offsetof(struct dht, rt) + sizeof(d->rt);
	sodium_memzero(d, offsetof(struct dht, rt));
	sodium_memzero((char *)d + rt_end, sizeof(*d) - rt_end);
	free(d);
}

void dht_get_stats(const struct dht *d, int64_t now_ms, struct dht_stats *out)
{
	*out = d->st;
	routing_count(&d->rt[0], now_ms, &out->good4, &out->questionable4, &out->bad4);
	routing_count(&d->rt[1], now_ms, &out->good6, &out->questionable6, &out->bad6);
	out->buckets4 = d->rt[0].n_buckets;
	out->buckets6 = d->rt[1].n_buckets;
	out->stored_hashes = d->ps.n_entries;
	out->stored_peers = d->ps.n_peers;
	out->stored_items = d->items.n;
	out->rx_rate_limited = d->st.rx_rate_limited;
	out->ops_active = 0;
	for (int i = 0; i < DHT_MAX_OPS; i++)
		out->ops_active += d->op[i] != NULL;
}

int dht_id_for_address(const struct sockaddr *addr, socklen_t addr_len,
		       const uint8_t rnd[DHT_ID_LEN], uint8_t id_out[DHT_ID_LEN])
{
	struct krpc_addr a;
	if (!addr_from_sockaddr(addr, addr_len, &a))
		return -EAFNOSUPPORT;
	return routing_id_bep42(&a, rnd, id_out);
}

bool dht_id_is_valid_for(const uint8_t id[DHT_ID_LEN], const struct sockaddr *addr,
			 socklen_t addr_len)
{
	struct krpc_addr a;
	return addr_from_sockaddr(addr, addr_len, &a) && routing_id_is_bep42(id, &a);
}
