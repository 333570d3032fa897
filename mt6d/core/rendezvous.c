#include "mt6d/core/rendezvous.h"

#include <stdbool.h>
#include <netinet/in.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/hash.h"

_Static_assert(RENDEZVOUS_MAC_LEN == crypto_box_MACBYTES, "crypto_box tag size");
_Static_assert(RENDEZVOUS_KEY_LEN == crypto_box_PUBLICKEYBYTES, "X25519 key size");
_Static_assert(RENDEZVOUS_CONFIG_LEN == 63, "config size of docs/PROTOCOL.md");
_Static_assert(RENDEZVOUS_MAX_CHUNKS * RENDEZVOUS_CHUNK_MAX_PORTS >= RENDEZVOUS_MAX_MSG_LEN,
	       "chunk limit");

#define OFF_VERSION 0
#define OFF_RANDOM 1
#define OFF_BOX (1 + RENDEZVOUS_RANDOM_LEN)

static const char config_nonce_label[] = "mt6d/1 config-nonce";
static const char message_nonce_label[] = "mt6d/1 message-nonce";

static void random_fill(rendezvous_random_fn *rng, void *buf, size_t len)
{
	if (rng)
		rng(buf, len);
	else
		randombytes_buf(buf, len);
}

/* nonce = H_label(u8 version || u64 T || u8 epoch [|| sender_pub] || r)[0..23].
 * T and epoch bind the box to where it is published; r makes every sealing
 * in one window and epoch distinct (a restart re-seals with a new r). */
static void box_nonce(uint8_t nonce_out[static crypto_box_NONCEBYTES], const char *label,
		      uint64_t window_start, uint8_t epoch, const uint8_t *sender_pub,
		      const uint8_t r[static RENDEZVOUS_RANDOM_LEN])
{
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, label);
	hash_add_u8(&ctx, RENDEZVOUS_VERSION);
	hash_add_u64(&ctx, window_start);
	hash_add_u8(&ctx, epoch);
	if (sender_pub)
		hash_add(&ctx, sender_pub, RENDEZVOUS_KEY_LEN);
	hash_add(&ctx, r, RENDEZVOUS_RANDOM_LEN);
	hash_end(&ctx, h);
	memcpy(nonce_out, h, crypto_box_NONCEBYTES);
}

/* out = version || r || crypto_box_easy_afternm(plain). */
static int box_seal(uint8_t *out, size_t out_len, const uint8_t *plain, size_t plain_len,
		    const uint8_t key[static crypto_box_BEFORENMBYTES], const char *label,
		    uint64_t window_start, uint8_t epoch, const uint8_t *sender_pub,
		    rendezvous_random_fn *rng)
{
	uint8_t nonce[crypto_box_NONCEBYTES];

	if (out_len < plain_len + RENDEZVOUS_OVERHEAD)
		return -EMSGSIZE;
	out[OFF_VERSION] = RENDEZVOUS_VERSION;
	random_fill(rng, out + OFF_RANDOM, RENDEZVOUS_RANDOM_LEN);
	box_nonce(nonce, label, window_start, epoch, sender_pub, out + OFF_RANDOM);
	if (crypto_box_easy_afternm(out + OFF_BOX, plain, plain_len, nonce, key) != 0)
		return -EINVAL;
	return (int)(plain_len + RENDEZVOUS_OVERHEAD);
}

/* The caller has checked the length; plain_out gets len - overhead bytes,
 * written only if authentic. */
static int box_open(uint8_t *plain_out, const uint8_t *sealed, size_t len,
		    const uint8_t key[static crypto_box_BEFORENMBYTES], const char *label,
		    uint64_t window_start, uint8_t epoch, const uint8_t *sender_pub)
{
	uint8_t nonce[crypto_box_NONCEBYTES];

	if (sealed[OFF_VERSION] != RENDEZVOUS_VERSION)
		return RENDEZVOUS_ERR_VERSION;
	box_nonce(nonce, label, window_start, epoch, sender_pub, sealed + OFF_RANDOM);
	if (crypto_box_open_easy_afternm(plain_out, sealed + OFF_BOX, len - OFF_BOX, nonce, key) != 0)
		return RENDEZVOUS_ERR_AUTH;
	return 0;
}

static void config_encode(uint8_t plain[static RENDEZVOUS_CONFIG_PLAIN_LEN],
			  const struct rendezvous_config *cfg)
{
	uint8_t *p = plain;

	memcpy(p, cfg->server_seed_addr, RENDEZVOUS_ADDR_LEN);
	p += RENDEZVOUS_ADDR_LEN;
	memcpy(p, cfg->intro_key, MT6D_INTRO_KEY_LEN);
	p += MT6D_INTRO_KEY_LEN;
	p[0] = (uint8_t)(cfg->rotation_ms >> 16);
	put_be16(p + 1, (uint16_t)cfg->rotation_ms);
	p[3] = (uint8_t)(cfg->period_s >> 16);
	put_be16(p + 4, (uint16_t)cfg->period_s);
}

static int config_decode(struct rendezvous_config *cfg_out,
			 const uint8_t plain[static RENDEZVOUS_CONFIG_PLAIN_LEN])
{
	const uint8_t *p = plain + RENDEZVOUS_ADDR_LEN + MT6D_INTRO_KEY_LEN;
	uint32_t rotation_ms = (uint32_t)p[0] << 16 | get_be16(p + 1);
	uint32_t period_s = (uint32_t)p[3] << 16 | get_be16(p + 4);

	if (rotation_ms == 0 || period_s == 0)
		return -EINVAL;
	memcpy(cfg_out->server_seed_addr, plain, RENDEZVOUS_ADDR_LEN);
	memcpy(cfg_out->intro_key, plain + RENDEZVOUS_ADDR_LEN, MT6D_INTRO_KEY_LEN);
	cfg_out->rotation_ms = rotation_ms;
	cfg_out->period_s = period_s;
	return 0;
}

int rendezvous_config_seal(uint8_t *out, size_t out_len, const struct rendezvous_config *cfg,
			   const uint8_t server_priv[static RENDEZVOUS_KEY_LEN],
			   const uint8_t client_pub[static RENDEZVOUS_KEY_LEN],
			   uint64_t window_start, uint8_t epoch, rendezvous_random_fn *rng)
{
	uint8_t key[crypto_box_BEFORENMBYTES], plain[RENDEZVOUS_CONFIG_PLAIN_LEN];
	int rc;

	if (out_len < RENDEZVOUS_CONFIG_LEN)
		return -EMSGSIZE;
	if (cfg->rotation_ms == 0 || cfg->rotation_ms > RENDEZVOUS_U24_MAX || cfg->period_s == 0 ||
	    cfg->period_s > RENDEZVOUS_U24_MAX)
		return -EINVAL;
	/* beforenm fails exactly when X25519 gives zero (a low-order key). */
	if (crypto_box_beforenm(key, client_pub, server_priv) != 0)
		return -EINVAL;
	config_encode(plain, cfg);
	rc = box_seal(out, out_len, plain, sizeof(plain), key, config_nonce_label, window_start,
		      epoch, NULL, rng);
	sodium_memzero(plain, sizeof(plain));
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* Opens with a precomputed box key (rendezvous_find_config tries many
 * candidates under one key). */
static int config_open_key(struct rendezvous_config *cfg_out, const uint8_t *sealed, size_t len,
			   const uint8_t key[static crypto_box_BEFORENMBYTES], uint64_t window_start,
			   uint8_t epoch)
{
	uint8_t plain[RENDEZVOUS_CONFIG_PLAIN_LEN];
	int rc;

	if (len != RENDEZVOUS_CONFIG_LEN)
		return RENDEZVOUS_ERR_LENGTH;
	rc = box_open(plain, sealed, len, key, config_nonce_label, window_start, epoch, NULL);
	if (rc == 0)
		rc = config_decode(cfg_out, plain);
	sodium_memzero(plain, sizeof(plain));
	return rc;
}

int rendezvous_config_open(struct rendezvous_config *cfg_out, const uint8_t *sealed, size_t len,
			   const uint8_t client_priv[static RENDEZVOUS_KEY_LEN],
			   const uint8_t server_pub[static RENDEZVOUS_KEY_LEN],
			   uint64_t window_start, uint8_t epoch)
{
	uint8_t key[crypto_box_BEFORENMBYTES];
	int rc;

	if (len != RENDEZVOUS_CONFIG_LEN)
		return RENDEZVOUS_ERR_LENGTH;
	if (sealed[OFF_VERSION] != RENDEZVOUS_VERSION)
		return RENDEZVOUS_ERR_VERSION;
	if (crypto_box_beforenm(key, server_pub, client_priv) != 0)
		return RENDEZVOUS_ERR_AUTH;
	rc = config_open_key(cfg_out, sealed, len, key, window_start, epoch);
	sodium_memzero(key, sizeof(key));
	return rc;
}

int rendezvous_message_seal(uint8_t *out, size_t out_len, const uint8_t *plain, size_t plain_len,
			    const uint8_t sender_priv[static RENDEZVOUS_KEY_LEN],
			    const uint8_t receiver_pub[static RENDEZVOUS_KEY_LEN],
			    uint64_t window_start, uint8_t epoch, rendezvous_random_fn *rng)
{
	uint8_t key[crypto_box_BEFORENMBYTES], sender_pub[RENDEZVOUS_KEY_LEN];
	int rc;

	if (plain_len > RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN)
		return -EINVAL;
	if (out_len < plain_len + RENDEZVOUS_OVERHEAD)
		return -EMSGSIZE;
	if (crypto_box_beforenm(key, receiver_pub, sender_priv) != 0)
		return -EINVAL;
	crypto_scalarmult_base(sender_pub, sender_priv);
	rc = box_seal(out, out_len, plain, plain_len, key, message_nonce_label, window_start, epoch,
		      sender_pub, rng);
	sodium_memzero(key, sizeof(key));
	return rc;
}

int rendezvous_message_open(uint8_t *plain_out, const uint8_t *sealed, size_t len,
			    const uint8_t receiver_priv[static RENDEZVOUS_KEY_LEN],
			    const uint8_t sender_pub[static RENDEZVOUS_KEY_LEN],
			    uint64_t window_start, uint8_t epoch)
{
	uint8_t key[crypto_box_BEFORENMBYTES];
	int rc;

	if (len < RENDEZVOUS_OVERHEAD || len > RENDEZVOUS_MAX_MSG_LEN)
		return RENDEZVOUS_ERR_LENGTH;
	if (sealed[OFF_VERSION] != RENDEZVOUS_VERSION)
		return RENDEZVOUS_ERR_VERSION;
	if (crypto_box_beforenm(key, sender_pub, receiver_priv) != 0)
		return RENDEZVOUS_ERR_AUTH;
	rc = box_open(plain_out, sealed, len, key, message_nonce_label, window_start, epoch,
		      sender_pub);
	sodium_memzero(key, sizeof(key));
	return rc < 0 ? rc : (int)(len - RENDEZVOUS_OVERHEAD);
}

size_t rendezvous_chunk_count(size_t msg_len)
{
	if (msg_len == 0 || msg_len > RENDEZVOUS_MAX_MSG_LEN)
		return 0;
	return (msg_len + RENDEZVOUS_CHUNK_MAX_PORTS - 1) / RENDEZVOUS_CHUNK_MAX_PORTS;
}

size_t rendezvous_chunk_len(size_t msg_len, size_t j)
{
	size_t n = rendezvous_chunk_count(msg_len);

	if (j >= n)
		return 0;
	return msg_len / n + (j < msg_len % n);
}

/* Offset of chunk j in the message. */
static size_t chunk_offset(size_t msg_len, size_t j)
{
	size_t n = rendezvous_chunk_count(msg_len), extra = msg_len % n;

	return j * (msg_len / n) + (j < extra ? j : extra);
}

void rendezvous_chunk_infohash(uint8_t ih_out[static RENDEZVOUS_INFOHASH_LEN],
			       const uint8_t descriptor[static RENDEZVOUS_DESCRIPTOR_LEN],
			       uint8_t epoch, uint8_t j)
{
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 chunk");
	hash_add(&ctx, descriptor, RENDEZVOUS_DESCRIPTOR_LEN);
	hash_add_u8(&ctx, epoch);
	hash_add_u8(&ctx, j);
	hash_end(&ctx, h);
	memcpy(ih_out, h, RENDEZVOUS_INFOHASH_LEN);
}

/* Uniform in 0..bound-1 (bound <= 255) from big-endian u32 draws, rejecting
 * the top 2^32 mod bound values so there is no modulo bias. */
static uint32_t random_below(rendezvous_random_fn *rng, uint32_t bound)
{
	uint32_t limit = UINT32_MAX - (uint32_t)(((uint64_t)UINT32_MAX + 1) % bound);
	uint8_t b[4];
	uint32_t x;

	do {
		random_fill(rng, b, sizeof(b));
		x = get_be32(b);
	} while (x > limit);
	return x % bound;
}

int rendezvous_stuff_chunk(uint16_t ports_out[static RENDEZVOUS_CHUNK_MAX_PORTS], const uint8_t *msg,
			   size_t msg_len, size_t j, rendezvous_random_fn *rng)
{
	size_t len = rendezvous_chunk_len(msg_len, j), off, i, k;
	uint8_t pool[255];

	if (len == 0)
		return -EINVAL;
	off = chunk_offset(msg_len, j);
	/* A partial Fisher-Yates shuffle of 1..255 draws len distinct high
	 * bytes; sorting them makes the byte order readable from the ports. */
	for (i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)(i + 1);
	for (i = 0; i < len; i++) {
		size_t r = i + random_below(rng, (uint32_t)(sizeof(pool) - i));
		uint8_t t = pool[i];

		pool[i] = pool[r];
		pool[r] = t;
	}
	for (i = 1; i < len; i++) {
		uint8_t v = pool[i];

		for (k = i; k > 0 && pool[k - 1] > v; k--)
			pool[k] = pool[k - 1];
		pool[k] = v;
	}
	for (i = 0; i < len; i++)
		ports_out[i] = (uint16_t)(pool[i] << 8 | msg[off + i]);
	return (int)len;
}

/* 0 if the chunk lists fit a message of msg_len, else -EINVAL or -E2BIG. */
static int chunks_check(const struct rendezvous_chunk_peers *chunks, size_t n_chunks,
			size_t msg_len)
{
	size_t j;

	if (!chunks || rendezvous_chunk_count(msg_len) == 0 ||
	    n_chunks != rendezvous_chunk_count(msg_len))
		return -EINVAL;
	for (j = 0; j < n_chunks; j++) {
		if (chunks[j].n_peers && !chunks[j].peers)
			return -EINVAL;
		if (chunks[j].n_peers > RENDEZVOUS_MAX_PEERS_PER_CHUNK)
			return -E2BIG;
	}
	return 0;
}

/* Reads the bytes of one chunk as announced from the group of addr (its
 * first match_len bytes: the IP, or its /64) into out, or returns false if
 * that group's ports there do not form exactly one chunk of len. */
static bool read_group_chunk(const struct rendezvous_chunk_peers *chunk, const uint8_t *addr,
			     size_t match_len, size_t len, uint8_t *out)
{
	int16_t low[256]; /* by high byte: the low byte, or -1 */
	size_t i, n = 0;
	int hi;

	for (hi = 0; hi < 256; hi++)
		low[hi] = -1;
	for (i = 0; i < chunk->n_peers; i++) {
		const struct rendezvous_peer *p = &chunk->peers[i];
		unsigned h = p->port >> 8, l = p->port & 0xff;

		if (h == 0 || memcmp(p->addr, addr, match_len) != 0)
			continue;
		if (low[h] < 0) {
			low[h] = (int16_t)l;
			if (++n > len)
				return false;
		} else if ((unsigned)low[h] != l) {
			return false; /* two messages from one group: neither decodes */
		}
	}
	if (n != len)
		return false;
	for (hi = 1, n = 0; hi < 256; hi++)
		if (low[hi] >= 0)
			out[n++] = (uint8_t)low[hi];
	return true;
}

static bool is_v4_mapped(const uint8_t a[RENDEZVOUS_ADDR_LEN])
{
	struct in6_addr in;

	memcpy(in.s6_addr, a, sizeof(in.s6_addr));
	return IN6_IS_ADDR_V4MAPPED(&in);
}

/* Whether the first match_len bytes of addr appeared earlier in chunk 0. */
static bool seen_before(const struct rendezvous_chunk_peers *chunk0, size_t i, const uint8_t *addr,
			size_t match_len)
{
	for (size_t k = 0; k < i; k++)
		if (memcmp(chunk0->peers[k].addr, addr, match_len) == 0)
			return true;
	return false;
}

/* Whether every port of addr's /64 in every chunk came from one IP: that
 * group was read in the first pass already. */
static bool prefix_is_one_ip(const struct rendezvous_chunk_peers *chunks, size_t n_chunks,
			     const uint8_t *addr)
{
	const uint8_t *first = NULL;

	for (size_t j = 0; j < n_chunks; j++) {
		for (size_t i = 0; i < chunks[j].n_peers; i++) {
			const struct rendezvous_peer *p = &chunks[j].peers[i];

			if (p->port >> 8 == 0 || memcmp(p->addr, addr, 8) != 0)
				continue;
			if (!first)
				first = p->addr;
			else if (memcmp(p->addr, first, RENDEZVOUS_ADDR_LEN) != 0)
				return false;
		}
	}
	return true;
}

int rendezvous_unstuff_next(const struct rendezvous_chunk_peers *chunks, size_t n_chunks,
			    size_t msg_len, size_t *cursor, uint8_t *msg_out,
			    uint8_t addr_out[RENDEZVOUS_ADDR_LEN])
{
	uint8_t buf[RENDEZVOUS_MAX_MSG_LEN];
	size_t n0, c, j;
	int rc;

	if (!cursor || !msg_out)
		return -EINVAL;
	rc = chunks_check(chunks, n_chunks, msg_len);
	if (rc < 0)
		return rc;
	n0 = chunks[0].n_peers;
	/* Two passes over chunk 0's list, each group tried once, at its first
	 * appearance there: first each IP (every chunk from one address), then
	 * each IPv6 /64 (the chunks of one publication may leave from several
	 * DHT identities of the publisher's /64: docs/PROTOCOL.md 6.5). The
	 * cursor runs over 0..2*n0. */
	for (c = *cursor; c < 2 * n0; c++) {
		size_t i = c < n0 ? c : c - n0, match_len = c < n0 ? RENDEZVOUS_ADDR_LEN : 8, off = 0;
		const uint8_t *addr = chunks[0].peers[i].addr;
		bool ok = true;

		if (seen_before(&chunks[0], i, addr, match_len))
			continue;
		if (c >= n0 && (is_v4_mapped(addr) || prefix_is_one_ip(chunks, n_chunks, addr)))
			continue;
		for (j = 0; j < n_chunks && ok; j++) {
			size_t len = rendezvous_chunk_len(msg_len, j);

			ok = read_group_chunk(&chunks[j], addr, match_len, len, buf + off);
			off += len;
		}
		if (!ok)
			continue;
		*cursor = c + 1;
		memcpy(msg_out, buf, msg_len);
		if (addr_out)
			memcpy(addr_out, addr, RENDEZVOUS_ADDR_LEN);
		return 1;
	}
	*cursor = 2 * n0;
	return 0;
}

int rendezvous_unstuff(const struct rendezvous_chunk_peers *chunks, size_t n_chunks, size_t msg_len,
		       uint8_t *msgs_out, size_t max_out)
{
	size_t cursor = 0, n = 0;
	int rc;

	if (!msgs_out && max_out)
		return -EINVAL;
	rc = chunks_check(chunks, n_chunks, msg_len);
	if (rc < 0)
		return rc;
	while (n < max_out) {
		rc = rendezvous_unstuff_next(chunks, n_chunks, msg_len, &cursor,
					     msgs_out + n * msg_len, NULL);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		n++;
	}
	return (int)n;
}

int rendezvous_find_config(const struct rendezvous_chunk_peers *chunks, size_t n_chunks,
			   const uint8_t client_priv[static RENDEZVOUS_KEY_LEN],
			   const uint8_t server_pub[static RENDEZVOUS_KEY_LEN],
			   uint64_t window_start, uint8_t epoch, struct rendezvous_config *cfg_out,
			   uint8_t addr_out[RENDEZVOUS_ADDR_LEN])
{
	uint8_t key[crypto_box_BEFORENMBYTES], cand[RENDEZVOUS_CONFIG_LEN];
	uint8_t addr[RENDEZVOUS_ADDR_LEN];
	size_t cursor = 0;
	bool found = false;
	int rc, worst = -ENOENT;

	rc = chunks_check(chunks, n_chunks, RENDEZVOUS_CONFIG_LEN);
	if (rc < 0)
		return rc;
	/* A low-order server key opens nothing (an all-zero box key is no
	 * one's); the candidates still tell "nothing found" from "not
	 * authentic". */
	if (crypto_box_beforenm(key, server_pub, client_priv) != 0)
		sodium_memzero(key, sizeof(key));
	while ((rc = rendezvous_unstuff_next(chunks, n_chunks, RENDEZVOUS_CONFIG_LEN, &cursor, cand,
					     addr)) == 1) {
		int orc = config_open_key(cfg_out, cand, sizeof(cand), key, window_start, epoch);

		if (orc == 0) {
			found = true;
			if (addr_out)
				memcpy(addr_out, addr, RENDEZVOUS_ADDR_LEN);
			break;
		}
		/* Keep the most telling failure: another version (upgrade
		 * needed), then an authentic but invalid config, then junk. */
		if (worst == -ENOENT || orc == RENDEZVOUS_ERR_VERSION ||
		    (orc == -EINVAL && worst == RENDEZVOUS_ERR_AUTH))
			worst = orc;
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(cand, sizeof(cand));
	if (rc < 0)
		return rc;
	return found ? 0 : worst;
}

const char *rendezvous_strerror(int rc)
{
	switch (rc) {
	case 0: return "valid";
	case RENDEZVOUS_ERR_LENGTH: return "not the length of the format";
	case RENDEZVOUS_ERR_VERSION: return "format version not ours";
	case RENDEZVOUS_ERR_AUTH:
		return "not authentic (another server, client, window or epoch, or modified)";
	default: return strerror(-rc);
	}
}
