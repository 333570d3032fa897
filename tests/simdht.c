/* Foreign DHT nodes of the simulated network (simdht.h). */
#include "tests/simdht.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dht/itemstore.h"
#include "dht/krpc.h"

#define ID_LEN 20
#define K 8
#define MAX_REPLY 1500

/* libtorrent 2.0.8 (settings_pack defaults, dos_blocker, dht_tracker). */
#define LT_VALUES 25
#define LT_MAX_PER_HASH 500
#define LT_MAX_HASHES 2000
#define LT_TTL_MS (45 * 60 * 1000)
#define LT_TOKEN_ROTATE_MS (5 * 60 * 1000)
#define LT_BLOCK_MSGS 50          /* 5 messages/s x 10 s */
#define LT_BLOCK_WINDOW_MS 10000
#define LT_BLOCK_MS (5 * 60 * 1000)
#define LT_OUT_BPS 8000
#define LT_MAX_ITEMS 700          /* dht_max_dht_items; items kept until displaced */

/* jech/dht 0.25. */
#define JECH_VALUES 50
#define JECH_MAX_PER_HASH 2048
#define JECH_MAX_HASHES 16384
#define JECH_TTL_MS (32 * 60 * 1000)
#define JECH_TTL_SPREAD_MS (6 * 60 * 1000)  /* expire_stuff runs every 2-6 min */
#define JECH_BUCKET_MAX 400
#define JECH_QPS 100
#define JECH_BURST 200
#define JECH_BURST_BIN_MS 10

struct mpeer {
	uint16_t src;             /* simnet node that announced (its IP) */
	uint16_t port;
	int32_t t_s;              /* stored at, virtual seconds */
};

struct mhash {
	uint8_t ih[ID_LEN];
	uint32_t n, cap;
	struct mpeer *p;
};

/* A BEP 44 mutable item (libtorrent-like nodes only). */
struct mitem {
	uint8_t target[ID_LEN];
	uint8_t k[KRPC_ITEM_KEY_LEN];
	uint8_t sig[KRPC_ITEM_SIG_LEN];
	int64_t seq;
	uint16_t v_len;
	uint8_t *v;
};

/* libtorrent's dos_blocker entry for one source IP. */
struct msrc {
	uint16_t src;
	uint32_t count;
	int64_t limit_ms;
};

struct mnode {
	uint8_t id[ID_LEN];
	uint8_t kind;
	uint32_t rt_off, rt_n;    /* routing table: m->rt[rt_off .. + rt_n) */
	uint64_t secret;          /* token secrets derive from it and the rotation number */
	int64_t rot_ms, rot_phase_ms;
	int64_t ttl_ms;
	struct msrc *src;
	uint32_t n_src, cap_src;
	double quota;             /* libtorrent send quota, bytes */
	int64_t quota_ms;
	int jtokens;              /* jech token bucket */
	int64_t jtime_s;
	int64_t burst_bin;
	uint32_t burst_n;
	struct mhash *h;
	uint32_t n_h, cap_h;
	struct mitem *it;
	uint32_t n_it, cap_it;
	int64_t sec;              /* the second sec_q and sec_out count */
	uint32_t sec_q, sec_out;
};

struct simdht {
	struct simnet *net;
	struct simdht_params prm;
	struct mnode *n;
	uint32_t *rt;
	size_t n_rt, cap_rt;
	uint64_t rng;
	struct simdht_stats st;
	struct krpc_msg in, out;  /* scratch: too big for the stack */
	uint8_t buf[MAX_REPLY];
	uint32_t pick[JECH_MAX_PER_HASH];
};

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rnd(struct simdht *m)
{
	return simnet_xorshift(&m->rng);
}

static uint64_t rnd_below(struct simdht *m, uint64_t n)
{
	return n ? rnd(m) % n : 0;
}

/* --- routing ------------------------------------------------------------ */

static const struct simdht *sort_model; /* qsort has no context argument in C11 */

static int cmp_by_id(const void *a, const void *b)
{
	return memcmp(sort_model->n[*(const uint32_t *)a].id, sort_model->n[*(const uint32_t *)b].id, ID_LEN);
}

/* Compares the first `bits` bits of a and b. */
static int prefix_cmp(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	int c = memcmp(a, b, (size_t)full);
	if (c || !rest)
		return c;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (int)(a[full] & mask) - (int)(b[full] & mask);
}

/* [*lo, *hi) of sorted: the ids whose first `bits` bits are pfx's. */
static void prefix_range(const struct simdht *m, const uint32_t *sorted, size_t n, const uint8_t *pfx,
			 int bits, size_t *lo, size_t *hi)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (prefix_cmp(m->n[sorted[mid]].id, pfx, bits) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	b = n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (prefix_cmp(m->n[sorted[mid]].id, pfx, bits) <= 0)
			a = mid + 1;
		else
			b = mid;
	}
	*hi = a;
}

static int rt_push(struct simdht *m, uint32_t v)
{
	if (m->n_rt == m->cap_rt) {
		size_t cap = m->cap_rt ? m->cap_rt * 2 : 4096;
		uint32_t *rt = realloc(m->rt, cap * sizeof(*rt));
		if (!rt)
			return -ENOMEM;
		m->rt = rt;
		m->cap_rt = cap;
	}
	m->rt[m->n_rt++] = v;
	return 0;
}

/* Every node's table: up to K random members of each non-empty bucket. */
static int build_tables(struct simdht *m)
{
	size_t n = (size_t)m->prm.n_nodes;
	uint32_t *sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = (uint32_t)i;
	sort_model = m;
	qsort(sorted, n, sizeof(*sorted), cmp_by_id);
	for (size_t x = 0; x < n; x++) {
		struct mnode *nx = &m->n[x];
		nx->rt_off = (uint32_t)m->n_rt;
		for (int b = 0; b < ID_LEN * 8; b++) {
			uint8_t pfx[ID_LEN];
			size_t lo, hi;
			memcpy(pfx, nx->id, ID_LEN);
			pfx[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
			prefix_range(m, sorted, n, pfx, b + 1, &lo, &hi);
			size_t cnt = hi - lo;
			if (cnt <= K) {
				for (size_t j = lo; j < hi; j++)
					if (rt_push(m, sorted[j]) < 0)
						goto nomem;
			} else {
				uint32_t chosen[K] = { 0 };
				size_t got = 0;
				while (got < K) {
					uint32_t c = sorted[lo + rnd_below(m, cnt)];
					bool dup = false;
					for (size_t j = 0; j < got; j++)
						dup |= chosen[j] == c;
					if (!dup)
						chosen[got++] = c;
				}
				for (size_t j = 0; j < K; j++)
					if (rt_push(m, chosen[j]) < 0)
						goto nomem;
			}
			/* Deeper buckets are empty once x is alone under its prefix. */
			prefix_range(m, sorted, n, nx->id, b + 1, &lo, &hi);
			if (hi - lo <= 1)
				break;
		}
		nx->rt_n = (uint32_t)(m->n_rt - nx->rt_off);
	}
	free(sorted);
	return 0;
nomem:
	free(sorted);
	return -ENOMEM;
}

/* The K nodes of x's table closest to target, into out (returns how many). */
static size_t closest(const struct simdht *m, const struct mnode *x, const uint8_t *target,
		      struct krpc_node *out)
{
	uint8_t dist[K][ID_LEN];
	uint32_t idx[K];
	size_t have = 0;
	for (uint32_t e = 0; e < x->rt_n; e++) {
		uint32_t c = m->rt[x->rt_off + e];
		uint8_t d[ID_LEN];
		for (int i = 0; i < ID_LEN; i++)
			d[i] = m->n[c].id[i] ^ target[i];
		size_t pos = have;
		while (pos > 0 && memcmp(d, dist[pos - 1], ID_LEN) < 0)
			pos--;
		if (pos >= K)
			continue;
		size_t last = have < K ? have : K - 1;
		for (size_t j = last; j > pos; j--) {
			memcpy(dist[j], dist[j - 1], ID_LEN);
			idx[j] = idx[j - 1];
		}
		memcpy(dist[pos], d, ID_LEN);
		idx[pos] = c;
		if (have < K)
			have++;
	}
	for (size_t j = 0; j < have; j++) {
		struct sockaddr_in6 a;
		simnet_addr((int)idx[j], &a);
		memset(&out[j], 0, sizeof(out[j]));
		memcpy(out[j].id, m->n[idx[j]].id, ID_LEN);
		out[j].addr.family = AF_INET6;
		memcpy(out[j].addr.ip, &a.sin6_addr, 16);
		out[j].addr.port = ntohs(a.sin6_port);
	}
	return have;
}

/* --- limits -------------------------------------------------------------- */

static bool is_watched(const struct simdht *m, int src)
{
	return src >= m->prm.watch_lo && src < m->prm.watch_hi;
}

/* libtorrent's dos_blocker::incoming, without its 20-entry table (every
 * source is remembered: stricter than the real one, which forgets the
 * least active sources). */
static bool lt_blocker_pass(struct simdht *m, struct mnode *x, int src, int64_t now)
{
	struct msrc *e = NULL;
	for (uint32_t i = 0; i < x->n_src; i++)
		if (x->src[i].src == src)
			e = &x->src[i];
	if (!e) {
		if (x->n_src == x->cap_src) {
			uint32_t cap = x->cap_src ? x->cap_src * 2 : 4;
			struct msrc *s = realloc(x->src, cap * sizeof(*s));
			if (!s)
				return true;
			x->src = s;
			x->cap_src = cap;
		}
		e = &x->src[x->n_src++];
		e->src = (uint16_t)src;
		e->count = 1;
		e->limit_ms = now + LT_BLOCK_WINDOW_MS;
		return true;
	}
	e->count++;
	if (is_watched(m, src) && e->count > m->st.peak_src_count && now < e->limit_ms)
		m->st.peak_src_count = e->count;
	if (e->count >= LT_BLOCK_MSGS) {
		if (now < e->limit_ms) {
			if (e->count == LT_BLOCK_MSGS)
				m->st.trips.lt_bans++;
			e->limit_ms = now + LT_BLOCK_MS;
			m->st.trips.lt_banned_drops++;
			return false;
		}
		e->count = 0;
		e->limit_ms = now + LT_BLOCK_WINDOW_MS;
	}
	return true;
}

/* jech's token_bucket(): refilled only when empty, 100 per whole second. */
static bool jech_bucket_pass(struct simdht *m, struct mnode *x, int64_t now)
{
	int64_t s = now / 1000;
	if (x->jtokens == 0) {
		int64_t t = (int64_t)m->prm.jech_qps * (s - x->jtime_s);
		x->jtokens = (int)(t < JECH_BUCKET_MAX ? t : JECH_BUCKET_MAX);
		x->jtime_s = s;
	}
	if (x->jtokens == 0)
		return false;
	x->jtokens--;
	return true;
}

static void sec_roll(struct simdht *m, struct mnode *x, int64_t now)
{
	if (x->sec == now / 1000)
		return;
	x->sec = now / 1000;
	x->sec_q = 0;
	x->sec_out = 0;
}

static void peaks_note(struct simdht *m, const struct mnode *x)
{
	if (x->sec_q > m->st.peak_node_qps)
		m->st.peak_node_qps = x->sec_q;
	if (x->sec_out > m->st.peak_node_out_bps)
		m->st.peak_node_out_bps = x->sec_out;
}

/* --- storage and tokens -------------------------------------------------- */

static void purge(struct simdht *m, struct mnode *x, struct mhash *h, int64_t now)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < h->n; i++) {
		if ((int64_t)h->p[i].t_s * 1000 + x->ttl_ms > now)
			h->p[k++] = h->p[i];
		else
			m->st.expired++;
	}
	h->n = k;
}

static struct mhash *hash_find(struct mnode *x, const uint8_t *ih)
{
	for (uint32_t i = 0; i < x->n_h; i++)
		if (memcmp(x->h[i].ih, ih, ID_LEN) == 0)
			return &x->h[i];
	return NULL;
}

/* Stores (src, port) under ih; false when a cap drops it. */
static bool store(struct simdht *m, struct mnode *x, const uint8_t *ih, int src, uint16_t port, int64_t now)
{
	bool is_lt = x->kind == SIMDHT_LT;
	struct mhash *h = hash_find(x, ih);
	if (!h) {
		/* Reuse an emptied entry before growing. */
		for (uint32_t i = 0; i < x->n_h && !h; i++) {
			purge(m, x, &x->h[i], now);
			if (x->h[i].n == 0)
				h = &x->h[i];
		}
		if (!h) {
			if (x->n_h >= (is_lt ? LT_MAX_HASHES : JECH_MAX_HASHES))
				return false;
			if (x->n_h == x->cap_h) {
				uint32_t cap = x->cap_h ? x->cap_h * 2 : 4;
				struct mhash *nh = realloc(x->h, cap * sizeof(*nh));
				if (!nh)
					return false;
				x->h = nh;
				x->cap_h = cap;
			}
			h = &x->h[x->n_h++];
			memset(h, 0, sizeof(*h));
		}
		memcpy(h->ih, ih, ID_LEN);
	}
	purge(m, x, h, now);
	for (uint32_t i = 0; i < h->n; i++) {
		if (h->p[i].src == src && h->p[i].port == port) {
			h->p[i].t_s = (int32_t)(now / 1000);
			return true;
		}
	}
	if (h->n >= (is_lt ? LT_MAX_PER_HASH : JECH_MAX_PER_HASH))
		return false;
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 32;
		struct mpeer *np = realloc(h->p, cap * sizeof(*np));
		if (!np)
			return false;
		h->p = np;
		h->cap = cap;
	}
	h->p[h->n++] = (struct mpeer){ (uint16_t)src, port, (int32_t)(now / 1000) };
	return true;
}

/* libtorrent: IP and info_hash, 5-min secrets; jech: IP and UDP port,
 * secrets rotated every 15-45 min. The previous secret stays valid. */
static void make_token(const struct mnode *x, int64_t rotation, int src, uint16_t src_port,
		       const uint8_t *ih, uint8_t *out, uint8_t *out_len)
{
	uint64_t v = mix64(x->secret ^ mix64((uint64_t)rotation)) ^ mix64((uint64_t)src << 20);
	if (x->kind == SIMDHT_LT) {
		uint64_t ihv;
		memcpy(&ihv, ih, sizeof(ihv));
		v = mix64(v ^ ihv);
		*out_len = 4;
	} else {
		v = mix64(v ^ src_port);
		*out_len = 8;
	}
	memcpy(out, &v, *out_len);
}

static int64_t rotation_of(const struct mnode *x, int64_t now)
{
	return (now + x->rot_phase_ms) / x->rot_ms;
}

static bool token_ok(const struct mnode *x, int64_t now, int src, uint16_t src_port, const uint8_t *ih,
		     const uint8_t *tok, uint8_t tok_len)
{
	int64_t r = rotation_of(x, now);
	for (int64_t k = r; k >= r - 1; k--) {
		uint8_t t[8], tl;
		make_token(x, k, src, src_port, ih, t, &tl);
		if (tl == tok_len && memcmp(t, tok, tl) == 0)
			return true;
	}
	return false;
}

/* Values for a get_peers reply: libtorrent a random subset of 25, jech a
 * run of 50 consecutive entries from a random start. */
static void fill_values(struct simdht *m, const struct mnode *x, const struct mhash *h, struct krpc_msg *r)
{
	uint32_t n = h->n, want = x->kind == SIMDHT_LT ? LT_VALUES : JECH_VALUES;
	if (want > n)
		want = n;
	if (x->kind == SIMDHT_LT) {
		for (uint32_t i = 0; i < n; i++)
			m->pick[i] = i;
		for (uint32_t i = 0; i < want; i++) {
			uint32_t j = i + (uint32_t)rnd_below(m, n - i), t = m->pick[i];
			m->pick[i] = m->pick[j];
			m->pick[j] = t;
		}
	} else {
		uint32_t start = (uint32_t)rnd_below(m, n);
		for (uint32_t i = 0; i < want; i++)
			m->pick[i] = (start + i) % n;
	}
	r->n_values = 0;
	for (uint32_t i = 0; i < want; i++) {
		const struct mpeer *p = &h->p[m->pick[i]];
		struct sockaddr_in6 a;
		struct krpc_addr *v = &r->values[r->n_values++];
		simnet_addr(p->src, &a);
		memset(v, 0, sizeof(*v));
		v->family = AF_INET6;
		memcpy(v->ip, &a.sin6_addr, 16);
		v->port = p->port;
	}
}

/* --- BEP 44 items (libtorrent's dht_default_storage) ----------------------- */

static struct mitem *item_find(struct mnode *x, const uint8_t *target)
{
	for (uint32_t i = 0; i < x->n_it; i++)
		if (memcmp(x->it[i].target, target, ID_LEN) == 0)
			return &x->it[i];
	return NULL;
}

static void item_get(struct mnode *x, const struct krpc_msg *q, struct krpc_msg *r)
{
	const struct mitem *it = item_find(x, q->target);
	if (!it)
		return;
	r->has_seq = true;
	r->seq = it->seq;
	if (q->has_seq && q->seq >= it->seq)
		return;
	r->has_k = r->has_sig = r->has_v = true;
	memcpy(r->k, it->k, sizeof(r->k));
	memcpy(r->sig, it->sig, sizeof(r->sig));
	memcpy(r->v, it->v, it->v_len);
	r->v_len = it->v_len;
}

/* Whether a's XOR distance to id is below b's. */
static bool is_closer(const uint8_t *id, const uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < ID_LEN; i++) {
		uint8_t da = a[i] ^ id[i], db = b[i] ^ id[i];
		if (da != db)
			return da < db;
	}
	return false;
}

/* A put: 0 or the KRPC error to send. At the cap the least important item
 * goes (libtorrent: fewest announcers, then farthest from the node's id;
 * every item here has one writer). */
static int item_put(struct simdht *m, struct mnode *x, const struct krpc_msg *q, int src, uint16_t src_port,
		    int64_t now)
{
	uint8_t target[ID_LEN];
	if (!q->has_k || !q->has_sig || !q->has_seq || !q->has_v)
		return KRPC_ERR_PROTOCOL;
	itemstore_sha1(q->k, sizeof(q->k), q->salt, q->salt_len, target);
	if (!token_ok(x, now, src, src_port, target, q->token, q->token_len)) {
		m->st.bad_tokens++;
		return KRPC_ERR_PROTOCOL;
	}
	if (q->is_v_too_big)
		return KRPC_ERR_V_TOO_BIG;
	if (!itemstore_is_signed(q, q->salt, q->salt_len)) {
		m->st.item_bad_sigs++;
		return KRPC_ERR_BAD_SIG;
	}
	struct mitem *it = item_find(x, target);
	if (it) {
		if (q->has_cas && q->cas != it->seq)
			return KRPC_ERR_CAS;
		if (q->seq < it->seq)
			return KRPC_ERR_SEQ;
	} else {
		if (x->n_it >= LT_MAX_ITEMS) {
			uint32_t far = 0;
			for (uint32_t i = 1; i < x->n_it; i++)
				if (is_closer(x->id, x->it[far].target, x->it[i].target))
					far = i;
			if (is_closer(x->id, x->it[far].target, target)) {
				m->st.items_dropped++;
				return 0;   /* acknowledged, not kept */
			}
			it = &x->it[far];
			m->st.items_evicted++;
		} else {
			if (x->n_it == x->cap_it) {
				uint32_t cap = x->cap_it ? x->cap_it * 2 : 4;
				struct mitem *ni = realloc(x->it, cap * sizeof(*ni));
				if (!ni)
					return KRPC_ERR_SERVER;
				x->it = ni;
				x->cap_it = cap;
			}
			it = &x->it[x->n_it++];
			memset(it, 0, sizeof(*it));
		}
		memcpy(it->target, target, ID_LEN);
	}
	uint8_t *v = realloc(it->v, q->v_len ? q->v_len : 1);
	if (!v)
		return KRPC_ERR_SERVER;
	it->v = v;
	memcpy(it->v, q->v, q->v_len);
	it->v_len = q->v_len;
	memcpy(it->k, q->k, sizeof(it->k));
	memcpy(it->sig, q->sig, sizeof(it->sig));
	it->seq = q->seq;
	m->st.items_stored++;
	return 0;
}

/* --- serving ------------------------------------------------------------- */

static void error_reply(struct krpc_msg *r, int code, const char *msg)
{
	r->type = KRPC_ERROR;
	r->error_code = code;
	strncpy(r->error_msg, msg, sizeof(r->error_msg) - 1);
}

static void model_input(void *ctx, struct simnet_node *to, const uint8_t *buf, size_t len,
			const struct sockaddr_in6 *from)
{
	struct simdht *m = ctx;
	struct mnode *x = &m->n[to->idx];
	int64_t now = m->net->now;
	int src = (from->sin6_addr.s6_addr[14] << 8 | from->sin6_addr.s6_addr[15]) - 1;
	uint16_t src_port = ntohs(from->sin6_port);

	if (to->idx >= m->prm.n_nodes || x->kind == SIMDHT_DEAD)
		return;
	if (x->kind == SIMDHT_JECH) {
		if (x->burst_bin != now / JECH_BURST_BIN_MS) {
			x->burst_bin = now / JECH_BURST_BIN_MS;
			x->burst_n = 0;
		}
		if (++x->burst_n > JECH_BURST) {
			m->st.trips.jech_overflows++;
			return;
		}
	} else if (!lt_blocker_pass(m, x, src, now)) {
		return;
	}
	struct krpc_msg *q = &m->in, *r = &m->out;
	if (krpc_parse(buf, len, q) < 0 || q->type != KRPC_QUERY)
		return;
	/* jech's parse_message knows the 4 methods of BEP 5 only: anything
	 * else is dropped unanswered. */
	if (x->kind == SIMDHT_JECH && (q->method == KRPC_GET || q->method == KRPC_PUT)) {
		m->st.jech_item_drops++;
		return;
	}
	if (x->kind == SIMDHT_JECH && !jech_bucket_pass(m, x, now)) {
		m->st.trips.jech_budget_drops++;
		return;
	}
	m->st.queries[x->kind]++;
	bool watched = is_watched(m, src);
	if (watched) {
		sec_roll(m, x, now);
		x->sec_q++;
		peaks_note(m, x);
	}
	memset(r, 0, sizeof(*r));
	r->type = KRPC_RESPONSE;
	memcpy(r->tid, q->tid, q->tid_len);
	r->tid_len = q->tid_len;
	r->has_id = true;
	memcpy(r->id, x->id, ID_LEN);
	static const uint8_t v_lt[4] = { 'L', 'T', 0x02, 0x08 }, v_jech[4] = { 'J', 'C', 0x00, 0x19 };
	memcpy(r->version, x->kind == SIMDHT_LT ? v_lt : v_jech, 4);
	r->version_len = 4;
	if (x->kind == SIMDHT_LT) {
		r->has_ip = true;
		r->ip.family = AF_INET6;
		memcpy(r->ip.ip, &from->sin6_addr, 16);
		r->ip.port = src_port;
	}
	switch (q->method) {
	case KRPC_PING:
		break;
	case KRPC_FIND_NODE:
		r->n_nodes6 = (uint8_t)closest(m, x, q->target, r->nodes6);
		break;
	case KRPC_GET_PEERS: {
		r->n_nodes6 = (uint8_t)closest(m, x, q->target, r->nodes6);
		make_token(x, rotation_of(x, now), src, src_port, q->target, r->token, &r->token_len);
		struct mhash *h = hash_find(x, q->target);
		if (h) {
			purge(m, x, h, now);
			fill_values(m, x, h, r);
		}
		break;
	}
	case KRPC_ANNOUNCE_PEER: {
		uint16_t port = q->implied_port ? src_port : q->port;
		if (!token_ok(x, now, src, src_port, q->target, q->token, q->token_len)) {
			m->st.bad_tokens++;
			error_reply(r, KRPC_ERR_PROTOCOL, "invalid token");
		} else if (port == 0 && x->kind == SIMDHT_JECH) {
			m->st.port0_refused++;
			error_reply(r, KRPC_ERR_PROTOCOL, "Announce_peer with forbidden port number");
		} else {
			m->st.announces++;
			/* Both implementations acknowledge what they drop. */
			if (store(m, x, q->target, src, port, now))
				m->st.stored++;
			else
				m->st.store_dropped++;
		}
		break;
	}
	case KRPC_GET:
		r->n_nodes6 = (uint8_t)closest(m, x, q->target, r->nodes6);
		make_token(x, rotation_of(x, now), src, src_port, q->target, r->token, &r->token_len);
		item_get(x, q, r);
		break;
	case KRPC_PUT: {
		m->st.puts++;
		int code = item_put(m, x, q, src, src_port, now);
		if (code)
			error_reply(r, code, "put refused");
		break;
	}
	default:
		error_reply(r, KRPC_ERR_METHOD, "Method Unknown");
		break;
	}
	int n = krpc_encode(r, m->buf, sizeof(m->buf));
	if (n < 0)
		return;
	if (x->kind == SIMDHT_LT) {
		double bps = m->prm.lt_out_bps;
		x->quota += bps * (double)(now - x->quota_ms) / 1000.0;
		if (x->quota > bps)
			x->quota = bps;
		x->quota_ms = now;
		if (x->quota < n) {
			m->st.trips.lt_budget_drops++;
			return;
		}
		x->quota -= n;
	}
	if (watched) {
		x->sec_out += (uint32_t)n;
		peaks_note(m, x);
	}
	struct sockaddr_in6 dst = *from;
	simnet_send(to, m->buf, (size_t)n, (const struct sockaddr *)&dst, sizeof(dst));
}

/* --- life cycle ------------------------------------------------------------ */

int simdht_new(struct simnet *net, const struct simdht_params *params, struct simdht **out)
{
	if (!net || !params || params->n_nodes < 2 || params->n_nodes > net->n_models ||
	    params->jech_share < 0 || params->dead_share < 0 || params->jech_share + params->dead_share > 1 ||
	    params->min_delay_ms < 0 || params->max_delay_ms < params->min_delay_ms)
		return -EINVAL;
	struct simdht *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->net = net;
	m->prm = *params;
	if (!m->prm.lt_out_bps)
		m->prm.lt_out_bps = LT_OUT_BPS;
	if (!m->prm.jech_qps)
		m->prm.jech_qps = JECH_QPS;
	m->rng = params->seed * 0x2545f4914f6cdd1dull + 0x9e3779b97f4a7c15ull;
	if (!m->rng)
		m->rng = 1;
	m->n = calloc((size_t)params->n_nodes, sizeof(*m->n));
	if (!m->n) {
		free(m);
		return -ENOMEM;
	}
	uint64_t jech_cut = (uint64_t)(params->jech_share * 1e6);
	uint64_t dead_cut = jech_cut + (uint64_t)(params->dead_share * 1e6);
	for (int i = 0; i < params->n_nodes; i++) {
		struct mnode *x = &m->n[i];
		for (int b = 0; b < ID_LEN; b += 8) {
			uint64_t v = rnd(m);
			memcpy(x->id + b, &v, ID_LEN - b < 8 ? (size_t)(ID_LEN - b) : 8);
		}
		uint64_t r = rnd_below(m, 1000000);
		x->kind = r < jech_cut ? SIMDHT_JECH : r < dead_cut ? SIMDHT_DEAD : SIMDHT_LT;
		x->secret = rnd(m);
		if (x->kind == SIMDHT_LT) {
			x->rot_ms = LT_TOKEN_ROTATE_MS;
			x->ttl_ms = LT_TTL_MS;
		} else {
			x->rot_ms = (int64_t)(15 + rnd_below(m, 31)) * 60 * 1000;
			x->ttl_ms = JECH_TTL_MS + (int64_t)rnd_below(m, JECH_TTL_SPREAD_MS + 1);
		}
		x->rot_phase_ms = (int64_t)rnd_below(m, (uint64_t)x->rot_ms);
		x->quota = m->prm.lt_out_bps;
		x->quota_ms = net->now;
		x->jtokens = JECH_BUCKET_MAX;
		x->jtime_s = net->now / 1000;
		x->burst_bin = -1;
		x->sec = -1;
		net->n[i].delay_ms = params->min_delay_ms +
				     (int64_t)rnd_below(m, (uint64_t)(params->max_delay_ms - params->min_delay_ms + 1));
	}
	if (build_tables(m) < 0) {
		simdht_free(m);
		return -ENOMEM;
	}
	net->model_ctx = m;
	net->model_input = model_input;
	*out = m;
	return 0;
}

void simdht_free(struct simdht *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->prm.n_nodes; i++) {
		struct mnode *x = &m->n[i];
		for (uint32_t j = 0; j < x->n_h; j++)
			free(x->h[j].p);
		free(x->h);
		for (uint32_t j = 0; j < x->n_it; j++)
			free(x->it[j].v);
		free(x->it);
		free(x->src);
	}
	free(m->n);
	free(m->rt);
	free(m);
}

enum simdht_kind simdht_kind_of(const struct simdht *m, int node)
{
	return node >= 0 && node < m->prm.n_nodes ? (enum simdht_kind)m->n[node].kind : SIMDHT_DEAD;
}

int simdht_random_live(struct simdht *m)
{
	for (;;) {
		int i = (int)rnd_below(m, (uint64_t)m->prm.n_nodes);
		if (m->n[i].kind != SIMDHT_DEAD)
			return i;
	}
}

void simdht_get_stats(struct simdht *m, struct simdht_stats *out)
{
	m->st.peers_now = 0;
	m->st.hashes_now = 0;
	m->st.items_now = 0;
	for (int i = 0; i < m->prm.n_nodes; i++) {
		struct mnode *x = &m->n[i];
		for (uint32_t j = 0; j < x->n_h; j++) {
			purge(m, x, &x->h[j], m->net->now);
			m->st.peers_now += x->h[j].n;
			m->st.hashes_now += x->h[j].n > 0;
		}
		m->st.items_now += x->n_it;
	}
	*out = m->st;
}

struct held {
	const uint8_t *ih;
	uint32_t n;
};

static int cmp_held(const void *a, const void *b)
{
	return memcmp(((const struct held *)a)->ih, ((const struct held *)b)->ih, ID_LEN);
}

int simdht_count_holders(struct simdht *m, const uint8_t (*ih)[20], const uint16_t *min_values, size_t n,
			 int src_lo, int src_hi, uint16_t *holders)
{
	size_t cnt = 0, k = 0;
	uint32_t per_src[256];
	if (src_hi <= src_lo || src_hi - src_lo > 256)
		return -EINVAL;
	for (int i = 0; i < m->prm.n_nodes; i++)
		cnt += m->n[i].n_h;
	struct held *all = malloc((cnt ? cnt : 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (int i = 0; i < m->prm.n_nodes; i++) {
		struct mnode *x = &m->n[i];
		for (uint32_t j = 0; j < x->n_h; j++) {
			struct mhash *h = &x->h[j];
			purge(m, x, h, m->net->now);
			uint32_t from_src = 0;
			memset(per_src, 0, sizeof(per_src));
			for (uint32_t e = 0; e < h->n; e++) {
				int sn = h->p[e].src;
				if (sn >= src_lo && sn < src_hi && ++per_src[sn - src_lo] > from_src)
					from_src = per_src[sn - src_lo];
			}
			if (from_src)
				all[k++] = (struct held){ h->ih, from_src };
		}
	}
	qsort(all, k, sizeof(*all), cmp_held);
	for (size_t q = 0; q < n; q++) {
		size_t a = 0, b = k;
		while (a < b) {
			size_t mid = (a + b) / 2;
			if (memcmp(all[mid].ih, ih[q], ID_LEN) < 0)
				a = mid + 1;
			else
				b = mid;
		}
		holders[q] = 0;
		for (; a < k && memcmp(all[a].ih, ih[q], ID_LEN) == 0; a++)
			holders[q] += all[a].n >= min_values[q];
	}
	free(all);
	return 0;
}
