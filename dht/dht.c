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

#include "dht/krpc.h"
#include "dht/peerstore.h"
#include "dht/routing.h"

#define MAX_CANDS 64          /* candidates kept per lookup, nearest first */
#define MAX_PINGS 64          /* stand-alone queries (pings, bootstrap) in flight */
#define MAX_BOOTSTRAP 16
#define PACER_SLOTS 512
#define PACER_PROBES 8
#define ALPHA 4               /* lookup parallelism (BEP 5 / Kademlia: 3) */
/* A lookup query unanswered for longer than the round trips of this node
 * usually take is "slow" (libtorrent's short timeout, which is a fixed 1 s
 * there): it stops holding one of the ALPHA slots and stops counting among
 * the k nearest, so a departed node costs this, not DHT_QUERY_TIMEOUT_MS.
 * A late answer is still used; silence until the full timeout still fails
 * the node. The limit is TCP's retransmission timeout (RFC 6298: smoothed
 * RTT + 4 x its mean deviation, over every answer we get) kept within
 * [MIN, MAX]: in the lab answers come within a few ms and a departed node
 * costs QUERY_SLOW_MIN_MS; on the Internet (RTTs of 50-500 ms) it stays
 * near libtorrent's 1 s. Marking a live node slow too early costs only an
 * extra query in parallel, not its answer. */
#define QUERY_SLOW_MIN_MS 200
#define QUERY_SLOW_MAX_MS 1000
#define LOOKUP_MAX_MS 30000
#define COLLECT_MAX_QUERIES 16  /* per node */
#define COLLECT_STALE_STOP 2    /* replies in a row with nothing new */
/* The smallest per-reply value budget among real nodes (libtorrent: 25 to an
 * IPv6 asker, docs/LAB.md): a reply with fewer values holds all the node has.
 * Our own nodes (version "MT") answer with up to PEERSTORE_MAX_VALUES, so
 * fewer than that from them is complete too. */
#define COLLECT_SMALL_REPLY 25
#define MAINT_FAST_MS 10000   /* self-lookup period while the table is thin */
#define MAINT_SLOW_MS (5 * 60 * 1000)
#define EXPIRE_EVERY_MS 60000
#define REPLY_CAP 1400        /* our datagrams stay below common path MTUs */
#define TID_LEN 4             /* [op slot or PING_SLOT][3-byte nonce] */
#define PING_SLOT 0xff
#define SEEN_BYTES (DHT_MAX_VALUES / 8)
#define PACE_SHARE 8          /* concurrent operations one node may serve */

static const uint8_t our_version[4] = { 'M', 'T', 0, 1 };

enum op_kind { OP_FIND_NODE = 1, OP_GET_PEERS, OP_ANNOUNCE, OP_COLLECT, OP_MAINT };
enum op_phase { PH_LOOKUP = 1, PH_ANNOUNCE, PH_COLLECT };
enum cand_state { C_NEW = 0, C_INFLIGHT, C_REPLIED, C_FAILED };

struct cand {
	uint8_t id[DHT_ID_LEN];
	bool has_id;                 /* false for bootstrap addresses */
	struct krpc_addr addr;
	uint8_t state;               /* enum cand_state */
	int64_t sent_ms;
	uint8_t token[KRPC_MAX_TOKEN];
	uint8_t token_len;
	uint16_t last_n_values;      /* values in its latest reply */
	uint16_t reply_budget;       /* fewer values than this: the node has no more */
	bool is_target;              /* among the k closest for announce/collect */
	bool is_busy;                /* announce/collect query in flight */
	bool is_done;                /* announce/collect finished for this node */
	uint16_t next_port;          /* announce: index of the next port to send */
	uint16_t n_acked;
	uint8_t n_queries, n_stale;  /* collect */
	uint8_t seen[SEEN_BYTES];    /* bitmap over op->values it returned */
};

struct op {
	int id;
	uint8_t kind, phase, family;
	bool is_finished;            /* DONE delivered or being delivered */
	bool is_cancelled;           /* cancelled from its own callback */
	uint8_t nonce[3];
	uint8_t target[DHT_ID_LEN];
	dht_result_fn *cb;
	void *closure;
	int64_t started_ms, deadline_ms, phase_ms;
	size_t n_queries;
	size_t n_cands;
	struct cand c[MAX_CANDS];
	size_t n_ports;
	uint16_t ports[DHT_MAX_PORTS];
	size_t n_values;
	struct dht_peer values[DHT_MAX_VALUES];
};

/* A stand-alone query (slot PING_SLOT), or one left unanswered by an
 * operation that has ended (slot: the op's, nonce: its nonce), watched until
 * it is answered or times out so the routing table learns either way. */
struct ping {
	bool in_use;
	uint8_t slot;
	struct krpc_addr addr;
	uint8_t nonce[3];
	int64_t sent_ms;
};

/* Pacing per destination IP: a token bucket in GCRA form. tat_ms is the
 * theoretical arrival time of the next message; a message may leave while
 * tat_ms - now <= (DHT_PACE_BURST - 1) * DHT_PACE_MS. A slot whose tat_ms
 * has passed holds a full bucket, the same as no slot, so it can be reused. */
struct pacer_slot {
	struct krpc_addr key;        /* port zeroed; family 0: never used */
	int64_t tat_ms;
};

struct dht {
	struct dht_ops ops;
	void *ctx;
	uint8_t id[DHT_ID_LEN];
	struct routing_table rt[2];  /* [0] IPv4, [1] IPv6 */
	struct peerstore ps;
	struct op *op[DHT_MAX_OPS];
	int next_op_id;
	int maint_op[2];
	struct ping pings[MAX_PINGS];
	struct krpc_addr boot[MAX_BOOTSTRAP];
	size_t n_boot;
	struct pacer_slot pacer[PACER_SLOTS];
	int64_t last_maint_ms[2], last_expire_ms, last_boot_ms;
	struct op *running;          /* op whose code is on the stack, if any */
	bool is_joined[2];           /* first full table seen: buckets refreshed */
	bool is_read_only;           /* BEP 43: our queries say "ro" */
	bool has_rtt;                /* srtt_us and rttvar_us hold a sample */
	int64_t srtt_us, rttvar_us;  /* answers' round trip: smoothed, mean deviation */
	struct dht_stats st;
	struct krpc_msg in, out;     /* scratch: too big for the stack */
	uint8_t buf[REPLY_CAP];
};

static void dbg(struct dht *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dbg(struct dht *d, const char *fmt, ...)
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

static int fam_index(int family)
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

static void peer_from_addr(const struct krpc_addr *a, struct dht_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->family = a->family;
	p->port = a->port;
	memcpy(p->addr, a->ip, 16);
}

static bool is_martian(const struct krpc_addr *a)
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

static int send_msg(struct dht *d, const struct krpc_msg *m, const struct krpc_addr *to)
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
		if (!free_slot && (s->key.family == 0 || s->tat_ms <= now_ms))
			free_slot = s;
	}
	return free_slot;
}

static bool pacer_is_ready(struct dht *d, const struct krpc_addr *a, int64_t now_ms)
{
	const struct pacer_slot *s = pacer_find(d, a, now_ms);
	if (!s)
		return false;
	return !pacer_is_key(s, a) || s->tat_ms - now_ms <= (DHT_PACE_BURST - 1) * DHT_PACE_MS;
}

static void pacer_note(struct dht *d, const struct krpc_addr *a, int64_t now_ms)
{
	struct pacer_slot *s = pacer_find(d, a, now_ms);
	if (!s)
		return;
	if (!pacer_is_key(s, a)) {
		s->key = *a;
		s->key.port = 0;
		s->tat_ms = now_ms;
	}
	s->tat_ms = (s->tat_ms > now_ms ? s->tat_ms : now_ms) + DHT_PACE_MS;
}

static void query_init(struct dht *d, struct krpc_msg *m, uint8_t method, uint8_t slot,
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
	if (!p || !pacer_is_ready(d, to, now_ms))
		return;
	p->in_use = true;
	p->slot = PING_SLOT;
	p->addr = *to;
	p->sent_ms = now_ms;
	p->nonce[0] = (uint8_t)(p - d->pings);
	d->ops.random(d->ctx, p->nonce + 1, 2);
	query_init(d, &d->out, method, PING_SLOT, p->nonce, to->family);
	memcpy(d->out.target, d->id, DHT_ID_LEN);
	pacer_note(d, to, now_ms);
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
	default:
		send_error(d, q, from, KRPC_ERR_METHOD, "method unknown");
		return;
	}
	send_capped(d, r, from);
}

/* --- Operations ------------------------------------------------------- */

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
	if (method == KRPC_ANNOUNCE_PEER) {
		d->out.port = port;
		memcpy(d->out.token, c->token, c->token_len);
		d->out.token_len = c->token_len;
	}
	pacer_note(d, &c->addr, now_ms);
	c->sent_ms = now_ms;
	o->n_queries++;
	return send_msg(d, &d->out, &c->addr);
}

static uint8_t lookup_method(const struct op *o)
{
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
	for (size_t i = 0; i < o->n_cands; i++) {
		if (o->c[i].is_target) {
			r.n_tokens++;
			r.n_announced += o->c[i].n_acked;
		}
	}
	dbg(d, "op %d done: status %d, %zu nodes, %zu values, %zu queries",
	    o->id, r.status, r.n_nodes, r.n_peers, r.n_queries);
	/* Callbacks may cancel o: it stays allocated until they return. */
	struct op *outer = d->running;
	d->running = o;
	for (size_t i = 0; i < o->n_cands && o->cb && !o->is_cancelled; i++) {
		struct dht_node_info node;
		struct dht_result s;
		if (!o->c[i].is_target || o->kind != OP_ANNOUNCE)
			continue;
		memset(&s, 0, sizeof(s));
		memcpy(node.id, o->c[i].id, DHT_ID_LEN);
		peer_from_addr(&o->c[i].addr, &node.addr);
		s.event = DHT_EVENT_STORED;
		s.op = o->id;
		s.target = o->target;
		s.node = &node;
		s.n_announced = o->c[i].n_acked;
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
static void rtt_sample(struct dht *d, int64_t rtt_ms)
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

/* The lookup is over when none of the k nearest live candidates is still
 * new or in flight; failed and slow ones are not live (a slow one that
 * answers becomes live again, in its place). With fewer than k live
 * candidates in all, the slow ones are all that is left: they are waited
 * for until their full timeout (a small or distant swarm, a slow path),
 * rather than ending with fewer nodes or none. Returns true when finished. */
static bool lookup_step(struct dht *d, struct op *o, int64_t now_ms)
{
	size_t inflight = 0, live = 0;
	bool is_pending = false, is_slow_left = false;
	int64_t slow_ms = query_slow_ms(d);
	for (size_t i = 0; i < o->n_cands; i++)
		if (o->c[i].state == C_INFLIGHT && !cand_is_slow(&o->c[i], now_ms, slow_ms))
			inflight++;
	for (size_t i = 0; i < o->n_cands && live < DHT_K; i++) {
		struct cand *c = &o->c[i];
		bool is_slow = cand_is_slow(c, now_ms, slow_ms);
		is_slow_left |= is_slow;
		if (c->state == C_FAILED || is_slow)
			continue;
		live++;
		if (c->state == C_INFLIGHT)
			is_pending = true;
		if (c->state != C_NEW)
			continue;
		is_pending = true;
		if (inflight >= ALPHA || !pacer_is_ready(d, &c->addr, now_ms))
			continue;
		c->state = C_INFLIGHT;
		dbg(d, "op %d query %02x%02x (has_id %d) at %d", o->id, c->id[0], c->id[1], c->has_id, (int)(now_ms % 1000000));
		op_send(d, o, c, lookup_method(o), 0, now_ms);
		inflight++;
	}
	if (live < DHT_K && is_slow_left)
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
		if (o->kind == OP_ANNOUNCE && !c->token_len)
			continue;
		c->is_target = true;
		n++;
	}
	o->phase = o->kind == OP_ANNOUNCE ? PH_ANNOUNCE : PH_COLLECT;
	o->phase_ms = now_ms;
	/* Pacing is per destination and shared by all operations: leave room
	 * for a node that several concurrent operations address. */
	o->deadline_ms = now_ms + DHT_QUERY_TIMEOUT_MS * 2 +
			 (int64_t)(o->kind == OP_ANNOUNCE ? o->n_ports : COLLECT_MAX_QUERIES) *
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
		if (o->kind != OP_ANNOUNCE && o->kind != OP_COLLECT)
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
			if (pacer_is_ready(d, &c->addr, now_ms))
				op_send(d, o, c, KRPC_ANNOUNCE_PEER, o->ports[c->next_port++], now_ms);
			continue;
		}
		/* Collect. */
		is_all_done = false;
		if (c->is_busy || !pacer_is_ready(d, &c->addr, now_ms))
			continue;
		c->is_busy = true;
		c->n_queries++;
		op_send(d, o, c, KRPC_GET_PEERS, 0, now_ms);
	}
	return is_all_done;
}

/* Steps o; frees it when finished or cancelled from its own callback. */
static void op_run(struct dht *d, struct op *o, int64_t now_ms)
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

static void op_on_message(struct dht *d, struct op *o, const struct krpc_msg *m,
			  const struct krpc_addr *from, int64_t now_ms)
{
	struct cand *c = cand_by_addr(o, from);
	if (!c)
		return;
	if (m->type == KRPC_ERROR) {
		if (o->phase == PH_LOOKUP && c->state == C_INFLIGHT)
			c->state = C_FAILED;
		else if (o->phase == PH_COLLECT && c->is_busy)
			collect_node_done(d, o, c);
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

static void op_timeouts(struct dht *d, struct op *o, int64_t now_ms)
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

static int op_start(struct dht *d, uint8_t kind, const uint8_t *target, int family,
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
	for (int i = 0; i < DHT_MAX_OPS; i++) {
		struct op *o = d->op[i];
		if (!o || o->is_finished)
			continue;
		struct op *outer = d->running;
		d->running = o;
		op_timeouts(d, o, now_ms);
		d->running = outer;
		op_run(d, o, now_ms);
		is_busy |= d->op[i] != NULL;
	}
	if (peerstore_is_rotation_due(&d->ps, now_ms)) {
		uint8_t secret[PEERSTORE_SECRET_LEN];
		d->ops.random(d->ctx, secret, sizeof(secret));
		peerstore_rotate(&d->ps, secret, now_ms);
		sodium_memzero(secret, sizeof(secret));
	}
	if (now_ms - d->last_expire_ms >= EXPIRE_EVERY_MS) {
		peerstore_expire(&d->ps, now_ms);
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
