/* Stored peers, write tokens and rate limits of our DHT node. */
#include "dht/peerstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/socket.h>

int peerstore_init(struct peerstore *ps, const uint8_t secret[PEERSTORE_SECRET_LEN], int64_t now_ms)
{
	memset(ps, 0, sizeof(*ps));
	ps->entries = calloc(PEERSTORE_MAX_HASHES, sizeof(ps->entries[0]));
	ps->rates = calloc(PEERSTORE_RATE_SLOTS, sizeof(ps->rates[0]));
	if (!ps->entries || !ps->rates) {
		free(ps->entries);
		free(ps->rates);
		return -ENOMEM;
	}
	memcpy(ps->secret[0], secret, PEERSTORE_SECRET_LEN);
	memcpy(ps->secret[1], secret, PEERSTORE_SECRET_LEN);
	ps->rotated_ms = now_ms;
	ps->global.last_ms = now_ms;
	ps->global.milli_tokens = PEERSTORE_BURST_GLOBAL * 1000;
	return 0;
}

void peerstore_fini(struct peerstore *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n_entries; i++)
		free(ps->entries[i].peers);
	free(ps->entries);
	free(ps->rates);
	sodium_memzero(ps->secret, sizeof(ps->secret));
	memset(ps, 0, sizeof(*ps));
}

bool peerstore_is_rotation_due(const struct peerstore *ps, int64_t now_ms)
{
	return now_ms - ps->rotated_ms >= PEERSTORE_ROTATE_MS;
}

void peerstore_rotate(struct peerstore *ps, const uint8_t secret[PEERSTORE_SECRET_LEN], int64_t now_ms)
{
	memcpy(ps->secret[1], ps->secret[0], PEERSTORE_SECRET_LEN);
	memcpy(ps->secret[0], secret, PEERSTORE_SECRET_LEN);
	ps->rotated_ms = now_ms;
}

static void token_with(const uint8_t *secret, const struct krpc_addr *asker,
		       const uint8_t *info_hash, uint8_t out[PEERSTORE_TOKEN_LEN])
{
	crypto_generichash_state st;
	uint8_t full[crypto_generichash_BYTES_MIN];
	crypto_generichash_init(&st, secret, PEERSTORE_SECRET_LEN, sizeof(full));
	crypto_generichash_update(&st, &asker->family, 1);
	crypto_generichash_update(&st, asker->ip, asker->family == AF_INET ? 4 : 16);
	crypto_generichash_update(&st, info_hash, KRPC_ID_LEN);
	crypto_generichash_final(&st, full, sizeof(full));
	memcpy(out, full, PEERSTORE_TOKEN_LEN);
	sodium_memzero(&st, sizeof(st));
}

void peerstore_token(const struct peerstore *ps, const struct krpc_addr *asker,
		     const uint8_t info_hash[KRPC_ID_LEN], uint8_t token_out[PEERSTORE_TOKEN_LEN])
{
	token_with(ps->secret[0], asker, info_hash, token_out);
}

bool peerstore_is_token_valid(const struct peerstore *ps, const struct krpc_addr *asker,
			      const uint8_t info_hash[KRPC_ID_LEN], const uint8_t *token, size_t len)
{
	uint8_t want[PEERSTORE_TOKEN_LEN];
	if (len != PEERSTORE_TOKEN_LEN)
		return false;
	for (int i = 0; i < 2; i++) {
		token_with(ps->secret[i], asker, info_hash, want);
		if (sodium_memcmp(want, token, PEERSTORE_TOKEN_LEN) == 0)
			return true;
	}
	return false;
}

static struct peerstore_entry *find_entry(const struct peerstore *ps, const uint8_t *info_hash)
{
	for (size_t i = 0; i < ps->n_entries; i++)
		if (memcmp(ps->entries[i].info_hash, info_hash, KRPC_ID_LEN) == 0)
			return &ps->entries[i];
	return NULL;
}

static bool same_endpoint(const struct krpc_addr *a, const struct krpc_addr *b)
{
	return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

int peerstore_add(struct peerstore *ps, const uint8_t info_hash[KRPC_ID_LEN],
		  const struct krpc_addr *peer, int64_t now_ms)
{
	struct peerstore_entry *e;

	if (peer->port == 0 || (peer->family != AF_INET && peer->family != AF_INET6))
		return -EINVAL;
	e = find_entry(ps, info_hash);
	if (e) {
		for (size_t i = 0; i < e->n; i++) {
			if (same_endpoint(&e->peers[i].addr, peer)) {
				e->peers[i].expires_ms = now_ms + PEERSTORE_TTL_MS;
				return 0;
			}
		}
	}
	if (ps->n_peers >= PEERSTORE_MAX_TOTAL || (e && e->n >= PEERSTORE_MAX_PER_HASH) ||
	    (!e && ps->n_entries >= PEERSTORE_MAX_HASHES)) {
		ps->refused_full++;
		return -ENOSPC;
	}
	if (!e) {
		e = &ps->entries[ps->n_entries++];
		memset(e, 0, sizeof(*e));
		memcpy(e->info_hash, info_hash, KRPC_ID_LEN);
	}
	if (e->n == e->cap) {
		uint16_t cap = e->cap ? (uint16_t)(e->cap * 2) : 32;
		if (cap > PEERSTORE_MAX_PER_HASH)
			cap = PEERSTORE_MAX_PER_HASH;
		struct peerstore_peer *p = realloc(e->peers, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		e->peers = p;
		e->cap = cap;
	}
	memset(&e->peers[e->n], 0, sizeof(e->peers[0]));
	e->peers[e->n].addr = *peer;
	e->peers[e->n].expires_ms = now_ms + PEERSTORE_TTL_MS;
	e->n++;
	ps->n_peers++;
	return 0;
}

size_t peerstore_get(const struct peerstore *ps, const uint8_t info_hash[KRPC_ID_LEN],
		     int family, int64_t now_ms, uint32_t rnd, struct krpc_addr *out, size_t max)
{
	const struct peerstore_entry *e = find_entry(ps, info_hash);
	size_t n = 0, seen = 0;
	uint32_t x = rnd | 1;

	if (!e)
		return 0;
	/* Reservoir sampling: every live peer of the family equally likely. */
	for (size_t i = 0; i < e->n; i++) {
		const struct peerstore_peer *p = &e->peers[i];
		if (p->addr.family != family || p->expires_ms <= now_ms)
			continue;
		seen++;
		if (n < max) {
			out[n++] = p->addr;
			continue;
		}
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		size_t j = x % seen;
		if (j < max)
			out[j] = p->addr;
	}
	return n;
}

void peerstore_expire(struct peerstore *ps, int64_t now_ms)
{
	size_t w = 0;
	for (size_t i = 0; i < ps->n_entries; i++) {
		struct peerstore_entry *e = &ps->entries[i];
		size_t k = 0;
		for (size_t j = 0; j < e->n; j++)
			if (e->peers[j].expires_ms > now_ms)
				e->peers[k++] = e->peers[j];
		ps->n_peers -= e->n - k;
		e->n = (uint16_t)k;
		if (!e->n) {
			free(e->peers);
			continue;
		}
		ps->entries[w++] = *e;
	}
	ps->n_entries = w;
}

static bool bucket_take(struct peerstore_rate *r, int64_t now_ms, int rate, int burst)
{
	int64_t dt = now_ms - r->last_ms;
	if (dt > 0) {
		int64_t t = r->milli_tokens + dt * rate;
		r->milli_tokens = (int32_t)(t > burst * 1000 ? burst * 1000 : t);
		r->last_ms = now_ms;
	}
	if (r->milli_tokens < 1000)
		return false;
	r->milli_tokens -= 1000;
	return true;
}

bool peerstore_rate_allow(struct peerstore *ps, const struct krpc_addr *src, int64_t now_ms)
{
	struct krpc_addr key = *src;
	uint64_t h = 1469598103934665603ull;

	key.port = 0;
	for (size_t i = 0; i < sizeof(key.ip); i++)
		h = (h ^ key.ip[i]) * 1099511628211ull;
	struct peerstore_rate *r = &ps->rates[h % PEERSTORE_RATE_SLOTS];
	if (memcmp(&r->src, &key, sizeof(key)) != 0 || r->last_ms == 0) {
		/* New source (or a colliding one evicting an old): full bucket. */
		r->src = key;
		r->last_ms = now_ms;
		r->milli_tokens = PEERSTORE_BURST_PER_SOURCE * 1000;
	}
	if (!bucket_take(r, now_ms, PEERSTORE_RATE_PER_SOURCE, PEERSTORE_BURST_PER_SOURCE)) {
		ps->rate_limited++;
		return false;
	}
	if (!bucket_take(&ps->global, now_ms, PEERSTORE_RATE_GLOBAL, PEERSTORE_BURST_GLOBAL)) {
		ps->rate_limited++;
		return false;
	}
	return true;
}
