/* Kademlia routing table (BEP 5) and BEP 42 node ids. */
#include "dht/routing.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static unsigned common_prefix_bits(const uint8_t *a, const uint8_t *b)
{
	for (unsigned i = 0; i < KRPC_ID_LEN; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x) {
			unsigned n = i * 8;
			while (!(x & 0x80)) {
				x <<= 1;
				n++;
			}
			return n;
		}
	}
	return KRPC_ID_LEN * 8;
}

int routing_closer(const uint8_t target[KRPC_ID_LEN], const uint8_t a[KRPC_ID_LEN],
		   const uint8_t b[KRPC_ID_LEN])
{
	for (unsigned i = 0; i < KRPC_ID_LEN; i++) {
		uint8_t da = a[i] ^ target[i], db = b[i] ^ target[i];
		if (da != db)
			return da < db ? 1 : -1;
	}
	return 0;
}

void routing_init(struct routing_table *t, const uint8_t self[KRPC_ID_LEN], int family)
{
	/* Only bucket 0 is live: a split zeroes each bucket it opens and no loop
	 * reads past n_buckets, so the other buckets (most of the table's 160 kB)
	 * stay untouched and a new node costs a few pages (fuzz_dht). */
	memset(&t->b[0], 0, sizeof(t->b[0]));
	memcpy(t->self, self, KRPC_ID_LEN);
	t->family = (uint8_t)family;
	t->n_buckets = 1;
}

static unsigned bucket_of(const struct routing_table *t, const uint8_t *id)
{
	unsigned cpl = common_prefix_bits(t->self, id);
	return cpl < t->n_buckets - 1 ? cpl : t->n_buckets - 1;
}

static bool is_bad(const struct routing_node *n)
{
	return n->fails >= ROUTING_MAX_FAILS;
}

static bool is_good(const struct routing_node *n, int64_t now_ms)
{
	return !is_bad(n) && n->last_reply_ms > 0 && now_ms - n->last_reply_ms < ROUTING_GOOD_MS;
}

static void node_set(struct routing_node *n, const uint8_t *id, const struct krpc_addr *addr,
		     bool is_reply, int64_t now_ms)
{
	memset(n, 0, sizeof(*n));
	memcpy(n->id, id, KRPC_ID_LEN);
	n->addr = *addr;
	if (is_reply)
		n->last_reply_ms = now_ms;
	else
		n->last_query_ms = now_ms;
}

/* Moves the nodes of the last bucket that no longer belong there into a new
 * last bucket. */
static void split_last(struct routing_table *t)
{
	struct routing_bucket *old = &t->b[t->n_buckets - 1];
	struct routing_bucket tmp = *old;
	t->n_buckets++;
	memset(old, 0, sizeof(*old));
	memset(&t->b[t->n_buckets - 1], 0, sizeof(t->b[0]));
	old->last_changed_ms = tmp.last_changed_ms;
	t->b[t->n_buckets - 1].last_changed_ms = tmp.last_changed_ms;
	for (unsigned i = 0; i < tmp.n; i++) {
		struct routing_bucket *b = &t->b[bucket_of(t, tmp.nodes[i].id)];
		b->nodes[b->n++] = tmp.nodes[i];
	}
	for (unsigned i = 0; i < tmp.n_repl; i++) {
		struct routing_bucket *b = &t->b[bucket_of(t, tmp.repl[i].id)];
		if (b->n < ROUTING_K)
			b->nodes[b->n++] = tmp.repl[i];
		else
			b->repl[b->n_repl++] = tmp.repl[i];
	}
}

static void cache_add(struct routing_bucket *b, const struct routing_node *n)
{
	for (unsigned i = 0; i < b->n_repl; i++) {
		if (memcmp(b->repl[i].id, n->id, KRPC_ID_LEN) == 0) {
			memmove(&b->repl[i], &b->repl[i + 1], (b->n_repl - i - 1) * sizeof(b->repl[0]));
			b->n_repl--;
			break;
		}
	}
	if (b->n_repl == ROUTING_K) {
		memmove(&b->repl[0], &b->repl[1], (ROUTING_K - 1) * sizeof(b->repl[0]));
		b->n_repl--;
	}
	b->repl[b->n_repl++] = *n;
}

enum routing_result routing_heard(struct routing_table *t, const uint8_t id[KRPC_ID_LEN],
				  const struct krpc_addr *addr, bool is_reply, int64_t now_ms,
				  struct routing_node *ping_out, size_t *n_ping_out)
{
	struct routing_node fresh;

	if (n_ping_out)
		*n_ping_out = 0;
	if (addr->family != t->family || memcmp(id, t->self, KRPC_ID_LEN) == 0 || addr->port == 0)
		return ROUTING_IGNORED;

	for (;;) {
		struct routing_bucket *b = &t->b[bucket_of(t, id)];
		for (unsigned i = 0; i < b->n; i++) {
			struct routing_node *n = &b->nodes[i];
			bool same_id = memcmp(n->id, id, KRPC_ID_LEN) == 0;
			bool same_addr = memcmp(&n->addr, addr, sizeof(*addr)) == 0;
			if (same_id != same_addr)
				return ROUTING_IGNORED; /* a node may not take over another's slot */
			if (!same_id)
				continue;
			if (is_reply) {
				n->last_reply_ms = now_ms;
				n->fails = 0;
				n->is_ping_pending = false;
				b->last_changed_ms = now_ms;
			} else {
				n->last_query_ms = now_ms;
			}
			return ROUTING_UPDATED;
		}
		node_set(&fresh, id, addr, is_reply, now_ms);
		if (b->n < ROUTING_K) {
			b->nodes[b->n++] = fresh;
			b->last_changed_ms = now_ms;
			return ROUTING_INSERTED;
		}
		if (b == &t->b[t->n_buckets - 1] && t->n_buckets < ROUTING_MAX_BUCKETS) {
			split_last(t);
			continue;
		}
		for (unsigned i = 0; i < b->n; i++) {
			if (is_bad(&b->nodes[i])) {
				b->nodes[i] = fresh;
				b->last_changed_ms = now_ms;
				return ROUTING_INSERTED;
			}
		}
		/* Only a node that answered us is worth waiting for. */
		if (!is_reply)
			return ROUTING_IGNORED;
		cache_add(b, &fresh);
		for (unsigned i = 0; i < b->n && ping_out && n_ping_out; i++) {
			struct routing_node *n = &b->nodes[i];
			if (!is_good(n, now_ms) && !n->is_ping_pending) {
				n->is_ping_pending = true;
				ping_out[(*n_ping_out)++] = *n;
			}
		}
		return ROUTING_CACHED;
	}
}

void routing_failed(struct routing_table *t, const struct krpc_addr *addr)
{
	for (unsigned bi = 0; bi < t->n_buckets; bi++) {
		struct routing_bucket *b = &t->b[bi];
		for (unsigned i = 0; i < b->n; i++) {
			struct routing_node *n = &b->nodes[i];
			if (memcmp(&n->addr, addr, sizeof(*addr)) != 0)
				continue;
			if (n->fails < 255)
				n->fails++;
			if (is_bad(n) && b->n_repl > 0) {
				*n = b->repl[--b->n_repl];
			}
			return;
		}
	}
}

size_t routing_closest(const struct routing_table *t, const uint8_t target[KRPC_ID_LEN],
		       struct routing_node *out, size_t n)
{
	size_t have = 0;
	for (unsigned bi = 0; bi < t->n_buckets; bi++) {
		const struct routing_bucket *b = &t->b[bi];
		for (unsigned i = 0; i < b->n; i++) {
			const struct routing_node *c = &b->nodes[i];
			if (is_bad(c))
				continue;
			size_t pos = have;
			while (pos > 0 && routing_closer(target, c->id, out[pos - 1].id) > 0)
				pos--;
			if (pos >= n)
				continue;
			size_t last = have < n ? have : n - 1;
			memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof(out[0]));
			out[pos] = *c;
			if (have < n)
				have++;
		}
	}
	return have;
}

void routing_count(const struct routing_table *t, int64_t now_ms, size_t *good_out,
		   size_t *questionable_out, size_t *bad_out)
{
	size_t g = 0, q = 0, bad = 0;
	for (unsigned bi = 0; bi < t->n_buckets; bi++) {
		for (unsigned i = 0; i < t->b[bi].n; i++) {
			const struct routing_node *n = &t->b[bi].nodes[i];
			if (is_bad(n))
				bad++;
			else if (is_good(n, now_ms))
				g++;
			else
				q++;
		}
	}
	*good_out = g;
	*questionable_out = q;
	*bad_out = bad;
}

int routing_refresh_target(struct routing_table *t, int64_t now_ms,
			   const uint8_t rnd[KRPC_ID_LEN], uint8_t target_out[KRPC_ID_LEN])
{
	for (unsigned bi = 0; bi < t->n_buckets; bi++) {
		struct routing_bucket *b = &t->b[bi];
		if (now_ms - b->last_changed_ms < ROUTING_GOOD_MS)
			continue;
		/* Share bi bits with self, differ in bit bi (unless last bucket). */
		for (unsigned i = 0; i < KRPC_ID_LEN; i++) {
			unsigned lo = i * 8;
			uint8_t keep = 0;
			for (unsigned bit = 0; bit < 8; bit++)
				if (lo + bit < bi)
					keep |= (uint8_t)(0x80 >> bit);
			target_out[i] = (uint8_t)((t->self[i] & keep) | (rnd[i] & ~keep));
		}
		if (bi < t->n_buckets - 1)
			target_out[bi / 8] = (uint8_t)((target_out[bi / 8] & ~(0x80 >> (bi % 8))) |
						       (~t->self[bi / 8] & (0x80 >> (bi % 8))));
		b->last_changed_ms = now_ms;
		return 1;
	}
	return 0;
}

size_t routing_list(const struct routing_table *t, int64_t now_ms,
		    struct routing_node *out, size_t n)
{
	size_t have = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned bi = 0; bi < t->n_buckets; bi++) {
			for (unsigned i = 0; i < t->b[bi].n && have < n; i++) {
				const struct routing_node *c = &t->b[bi].nodes[i];
				if (is_bad(c) || is_good(c, now_ms) != (pass == 0))
					continue;
				out[have++] = *c;
			}
		}
	}
	return have;
}

/* CRC32-C (Castagnoli, reflected polynomial 0x82f63b78), as BEP 42 uses. */
static uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint32_t bep42_crc(const struct krpc_addr *a, uint8_t r)
{
	static const uint8_t v4_mask[] = { 0x03, 0x0f, 0x3f, 0xff };
	static const uint8_t v6_mask[] = { 0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff };
	uint8_t ip[8];
	size_t n = a->family == AF_INET ? 4 : 8;
	const uint8_t *mask = a->family == AF_INET ? v4_mask : v6_mask;
	for (size_t i = 0; i < n; i++)
		ip[i] = a->ip[i] & mask[i];
	ip[0] |= (uint8_t)((r & 7) << 5);
	return crc32c(ip, n);
}

int routing_id_bep42(const struct krpc_addr *ext, const uint8_t rnd[KRPC_ID_LEN],
		     uint8_t id_out[KRPC_ID_LEN])
{
	if (ext->family != AF_INET && ext->family != AF_INET6)
		return -EAFNOSUPPORT;
	uint8_t r = rnd[19];
	uint32_t crc = bep42_crc(ext, r);
	memcpy(id_out, rnd, KRPC_ID_LEN);
	id_out[0] = (uint8_t)(crc >> 24);
	id_out[1] = (uint8_t)(crc >> 16);
	id_out[2] = (uint8_t)(((crc >> 8) & 0xf8) | (rnd[2] & 7));
	id_out[19] = r;
	return 0;
}

bool routing_id_is_bep42(const uint8_t id[KRPC_ID_LEN], const struct krpc_addr *a)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	uint32_t crc = bep42_crc(a, id[19]);
	return id[0] == (uint8_t)(crc >> 24) && id[1] == (uint8_t)(crc >> 16) &&
	       (id[2] & 0xf8) == ((crc >> 8) & 0xf8);
}
