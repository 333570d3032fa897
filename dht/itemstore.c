/* BEP 44 mutable items stored for others (itemstore.h). */
#include "dht/itemstore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "dht/routing.h"

/* --- SHA-1 --------------------------------------------------------------- */

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	uint8_t block[64];
	size_t fill;
};

static uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[80], a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t n)
{
	s->len += n;
	while (n) {
		size_t k = 64 - s->fill < n ? 64 - s->fill : n;
		memcpy(s->block + s->fill, p, k);
		s->fill += k;
		p += k;
		n -= k;
		if (s->fill == 64) {
			sha1_block(s, s->block);
			s->fill = 0;
		}
	}
}

void itemstore_sha1(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
		    uint8_t out[KRPC_ID_LEN])
{
	struct sha1 s = { { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 }, 0, { 0 }, 0 };
	uint8_t pad[72] = { 0x80 };
	sha1_update(&s, a, a_len);
	if (b_len)
		sha1_update(&s, b, b_len);
	uint64_t bits = s.len * 8;
	size_t n = (s.fill < 56 ? 56 : 120) - s.fill;
	for (int i = 0; i < 8; i++)
		pad[n + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(&s, pad, n + 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s.h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s.h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s.h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s.h[i];
	}
}

/* --- Signed data ----------------------------------------------------------- */

int itemstore_signed_data(uint8_t *buf, size_t cap, const uint8_t *salt, size_t salt_len,
			  int64_t seq, const uint8_t *v, size_t v_len)
{
	char head[128];
	int n;
	if (salt_len)
		n = snprintf(head, sizeof(head), "4:salt%zu:", salt_len);
	else
		n = 0;
	if (n < 0 || (size_t)n + salt_len > cap)
		return -ENOBUFS;
	size_t off = 0;
	memcpy(buf, head, (size_t)n);
	off += (size_t)n;
	if (salt_len)
		memcpy(buf + off, salt, salt_len);
	off += salt_len;
	n = snprintf(head, sizeof(head), "3:seqi%" PRId64 "e1:v", seq);
	if (n < 0 || (size_t)n > cap - off || v_len > cap - off - (size_t)n)
		return -ENOBUFS;
	memcpy(buf + off, head, (size_t)n);
	off += (size_t)n;
	memcpy(buf + off, v, v_len);
	return (int)(off + v_len);
}

bool itemstore_is_signed(const struct krpc_msg *m, const uint8_t *salt, size_t salt_len)
{
	uint8_t buf[KRPC_ITEM_MAX_SALT + KRPC_ITEM_MAX_V + 64];
	if (!m->has_k || !m->has_sig || !m->has_seq || !m->has_v || m->is_v_too_big ||
	    m->is_salt_too_big)
		return false;
	int n = itemstore_signed_data(buf, sizeof(buf), salt, salt_len, m->seq, m->v, m->v_len);
	return n > 0 && crypto_sign_verify_detached(m->sig, buf, (size_t)n, m->k) == 0;
}

/* --- Store ----------------------------------------------------------------- */

void itemstore_init(struct itemstore *st)
{
	memset(st, 0, sizeof(*st));
}

void itemstore_fini(struct itemstore *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->items[i]);
	free(st->items);
	memset(st, 0, sizeof(*st));
}

static struct itemstore_item *find(const struct itemstore *st, const uint8_t *target)
{
	for (size_t i = 0; i < st->n; i++)
		if (memcmp(st->items[i]->target, target, KRPC_ID_LEN) == 0)
			return st->items[i];
	return NULL;
}

const struct itemstore_item *itemstore_get(const struct itemstore *st,
					   const uint8_t target[KRPC_ID_LEN], int64_t now_ms)
{
	const struct itemstore_item *it = find(st, target);
	return it && it->expires_ms > now_ms ? it : NULL;
}

static void drop(struct itemstore *st, size_t i)
{
	sodium_memzero(st->items[i], sizeof(*st->items[i]));
	free(st->items[i]);
	st->items[i] = st->items[--st->n];
}

/* A slot for a new item: grows the array, or displaces the item farthest
 * from self when it holds ITEMSTORE_MAX_ITEMS, unless the new one is
 * farther still. NULL: no room. */
static struct itemstore_item *make_room(struct itemstore *st, const uint8_t *target,
					const uint8_t *self)
{
	if (st->n >= ITEMSTORE_MAX_ITEMS) {
		size_t far = 0;
		for (size_t i = 1; i < st->n; i++)
			if (routing_closer(self, st->items[far]->target, st->items[i]->target) > 0)
				far = i;
		if (routing_closer(self, target, st->items[far]->target) <= 0)
			return NULL;
		drop(st, far);
		st->displaced++;
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct itemstore_item **p = realloc(st->items, cap * sizeof(*p));
		if (!p)
			return NULL;
		st->items = p;
		st->cap = cap;
	}
	struct itemstore_item *it = calloc(1, sizeof(*it));
	if (it)
		st->items[st->n++] = it;
	return it;
}

int itemstore_put(struct itemstore *st, const struct krpc_msg *m, const uint8_t self[KRPC_ID_LEN],
		  int64_t now_ms)
{
	uint8_t target[KRPC_ID_LEN];
	if (m->is_v_too_big)
		return KRPC_ERR_V_TOO_BIG;
	if (m->is_salt_too_big)
		return KRPC_ERR_SALT_TOO_BIG;
	if (!m->has_k || !m->has_sig || !m->has_seq)
		return KRPC_ERR_PROTOCOL;        /* immutable items: not stored here */
	itemstore_sha1(m->k, KRPC_ITEM_KEY_LEN, m->salt, m->salt_len, target);
	struct itemstore_item *it = find(st, target);
	if (it && it->expires_ms <= now_ms) {
		it->seq = -1;                    /* expired: any seq may take its place */
	}
	if (it && m->has_cas && m->cas != it->seq)
		return KRPC_ERR_CAS;
	if (it && m->seq < it->seq)
		return KRPC_ERR_SEQ;
	if (!itemstore_is_signed(m, m->salt, m->salt_len))
		return KRPC_ERR_BAD_SIG;
	if (it && m->seq == it->seq) {
		/* libtorrent keeps the stored value of an equal seq: a refresh. */
		it->expires_ms = now_ms + ITEMSTORE_TTL_MS;
		return 0;
	}
	if (!it) {
		it = make_room(st, target, self);
		if (!it)
			return KRPC_ERR_SERVER;
	}
	memcpy(it->target, target, KRPC_ID_LEN);
	memcpy(it->k, m->k, KRPC_ITEM_KEY_LEN);
	memcpy(it->sig, m->sig, KRPC_ITEM_SIG_LEN);
	it->seq = m->seq;
	it->salt_len = m->salt_len;
	memcpy(it->salt, m->salt, m->salt_len);
	it->v_len = m->v_len;
	memcpy(it->v, m->v, m->v_len);
	it->expires_ms = now_ms + ITEMSTORE_TTL_MS;
	return 0;
}

void itemstore_expire(struct itemstore *st, int64_t now_ms)
{
	for (size_t i = 0; i < st->n;) {
		if (st->items[i]->expires_ms <= now_ms)
			drop(st, i);
		else
			i++;
	}
}
