#include "mt6d/core/wire.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/hash.h"

/* The header in clear (it is protected on the wire). */
#define OFF_TYPE 0
#define OFF_PAD 1
#define OFF_INSTANCE 3
#define OFF_COUNTER 9
#define COUNTER_LEN 7
#define AD_LEN (WIRE_HEADER_LEN + 8)

_Static_assert(OFF_PAD + 2 == OFF_INSTANCE, "header layout");
_Static_assert(OFF_INSTANCE + WIRE_INSTANCE_LEN == OFF_COUNTER, "header layout");
_Static_assert(OFF_COUNTER + COUNTER_LEN == WIRE_HEADER_LEN, "header layout");
_Static_assert(WIRE_COUNTER_LIMIT < (UINT64_C(1) << (8 * COUNTER_LEN)), "counter width");
_Static_assert(WIRE_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(WIRE_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(WIRE_KEY_LEN == crypto_stream_chacha20_ietf_KEYBYTES, "header key size");
_Static_assert(WIRE_TAG_LEN == 4 + crypto_stream_chacha20_ietf_NONCEBYTES, "sample size");
_Static_assert(WIRE_TAG_LEN == crypto_core_hchacha20_INPUTBYTES, "HChaCha20 input: the sample");
_Static_assert(WIRE_KEY_LEN == crypto_core_hchacha20_KEYBYTES, "HChaCha20 key: the header key");
_Static_assert(sizeof(crypto_aead_aes256gcm_state) <= WIRE_AES_STATE_LEN, "AES state size");
_Static_assert(WIRE_TAG_LEN == crypto_aead_aes256gcm_ABYTES, "AES tag size");
_Static_assert(WIRE_KEY_LEN == crypto_aead_aes256gcm_KEYBYTES, "AES key size");
_Static_assert(crypto_aead_aes256gcm_NPUBBYTES == crypto_aead_chacha20poly1305_ietf_NPUBBYTES,
	       "one nonce for both AEADs");
_Static_assert(WIRE_INNER_MTU == 1420, "documented inner MTU");
_Static_assert(WIRE_MAX_INNER_LEN <= WIRE_MAX_PAD_BUCKET, "pad fits its u16 field");

int wire_derive_direction_keys(const uint8_t shared[static WIRE_KEY_LEN],
			       const uint8_t own_id[static WIRE_ID_LEN],
			       const uint8_t peer_id[static WIRE_ID_LEN],
			       uint8_t tx_key_out[static WIRE_KEY_LEN],
			       uint8_t rx_key_out[static WIRE_KEY_LEN])
{
	struct hash_ctx ctx;

	if (memcmp(own_id, peer_id, WIRE_ID_LEN) == 0)
		return -EINVAL;
	hash_begin(&ctx, "mt6d/1 wire direction");
	hash_add(&ctx, shared, WIRE_KEY_LEN);
	hash_add(&ctx, own_id, WIRE_ID_LEN);
	hash_add(&ctx, peer_id, WIRE_ID_LEN);
	hash_end(&ctx, tx_key_out);
	hash_begin(&ctx, "mt6d/1 wire direction");
	hash_add(&ctx, shared, WIRE_KEY_LEN);
	hash_add(&ctx, peer_id, WIRE_ID_LEN);
	hash_add(&ctx, own_id, WIRE_ID_LEN);
	hash_end(&ctx, rx_key_out);
	return 0;
}

/* Packet key of one sender instance: a fresh key per start, so the counter
 * (the nonce) may restart at 0 without ever repeating under one key. */
static void derive_packet_key(const uint8_t dir_key[static WIRE_KEY_LEN],
			      const uint8_t instance[static WIRE_INSTANCE_LEN],
			      uint8_t key_out[static WIRE_KEY_LEN])
{
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 wire packet key");
	hash_add(&ctx, dir_key, WIRE_KEY_LEN);
	hash_add(&ctx, instance, WIRE_INSTANCE_LEN);
	hash_end(&ctx, key_out);
}

/* Header key of a direction: not per instance, because the receiver must
 * remove the protection before it knows which instance sent the packet. */
static void derive_header_key(const uint8_t dir_key[static WIRE_KEY_LEN],
			      uint8_t key_out[static WIRE_KEY_LEN])
{
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 wire header key");
	hash_add(&ctx, dir_key, WIRE_KEY_LEN);
	hash_end(&ctx, key_out);
}

/* The AES-256-GCM state of an instance, from its packet key: a key of its
 * own, so that no key is ever used by two ciphers. */
static void aes_state_init(unsigned char *aes, const uint8_t packet_key[static WIRE_KEY_LEN])
{
	uint8_t key[WIRE_KEY_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 wire aes-256-gcm key");
	hash_add(&ctx, packet_key, WIRE_KEY_LEN);
	hash_end(&ctx, key);
	crypto_aead_aes256gcm_beforenm((crypto_aead_aes256gcm_state *)(void *)aes, key);
	sodium_memzero(key, sizeof(key));
}

/* A zeroed AES state (aligned as libsodium's type asks), or NULL. */
static unsigned char *aes_state_new(void)
{
	unsigned char *p = aligned_alloc(16, WIRE_AES_STATE_LEN);

	if (p)
		memset(p, 0, WIRE_AES_STATE_LEN);
	return p;
}

static void aes_state_free(unsigned char **p)
{
	if (!*p)
		return;
	sodium_memzero(*p, WIRE_AES_STATE_LEN);
	free(*p);
	*p = NULL;
}

bool wire_aes_is_available(void)
{
	return crypto_aead_aes256gcm_is_available() != 0;
}

/* RFC 9001 5.4.4 with a 16-byte mask: ChaCha20 block counter = the first 4
 * bytes of the sample (little-endian), nonce = the other 12. The sample is
 * the tag: present in every packet, whatever its length (a GSO train's
 * segments each carry their own), and uniformly random per packet (the
 * Poly1305 tag adds a fresh one-time value s of each nonce).
 *
 * The first 16 bytes of a ChaCha20 block are its words 0..3 after the 20
 * rounds plus the constants there before them; HChaCha20 (libsodium's
 * crypto_core_hchacha20, input = the block's words 12..15, which are
 * counter || nonce: the sample as it is) gives those words without the
 * addition. The same mask as crypto_stream_chacha20_ietf_xor_ic makes
 * (test_wire's vectors), for about 60 % of its time on the lab VM
 * (88-121 ns against 152-186), where a block of key stream per packet and
 * direction is a few percent of each daemon. */
static void header_mask(const uint8_t hp_key[static WIRE_KEY_LEN],
			const uint8_t sample[static WIRE_TAG_LEN],
			uint8_t mask[static WIRE_HEADER_LEN])
{
	static const uint32_t sigma[4] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 };
	uint8_t out[crypto_core_hchacha20_OUTPUTBYTES];

	crypto_core_hchacha20(out, sample, hp_key, NULL);
	for (size_t i = 0; i < 4; i++) {
		uint32_t w = (uint32_t)out[4 * i] | (uint32_t)out[4 * i + 1] << 8 |
			     (uint32_t)out[4 * i + 2] << 16 | (uint32_t)out[4 * i + 3] << 24;

		w += sigma[i];
		mask[4 * i] = (uint8_t)w;
		mask[4 * i + 1] = (uint8_t)(w >> 8);
		mask[4 * i + 2] = (uint8_t)(w >> 16);
		mask[4 * i + 3] = (uint8_t)(w >> 24);
	}
	sodium_memzero(out, sizeof(out));
}

static void xor_header(uint8_t *dst, const uint8_t *src, const uint8_t *mask)
{
	for (size_t i = 0; i < WIRE_HEADER_LEN; i++)
		dst[i] = src[i] ^ mask[i];
}

static uint64_t get_counter(const uint8_t *header)
{
	uint64_t v = 0;

	for (size_t i = 0; i < COUNTER_LEN; i++)
		v = v << 8 | header[OFF_COUNTER + i];
	return v;
}

static void make_nonce(uint8_t nonce[static crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
		       const uint8_t *header)
{
	memset(nonce, 0, 12 - COUNTER_LEN);
	memcpy(nonce + 12 - COUNTER_LEN, header + OFF_COUNTER, COUNTER_LEN);
}

static void make_ad(uint8_t ad[static AD_LEN], const uint8_t *header, uint64_t slot)
{
	memcpy(ad, header, WIRE_HEADER_LEN);
	put_be64(ad + WIRE_HEADER_LEN, slot);
}

/* ChaCha20-Poly1305 (RFC 8439, 2.8) of one packet from libsodium's two
 * primitives, with one ChaCha20 call for the key stream of block 0 (the
 * Poly1305 key) and of the payload together, rounded up to a multiple of
 * KS_ROUND bytes. libsodium's AEAD makes two calls (block 0 alone, then the
 * payload from block 1), and its AVX2 ChaCha20 runs 8 blocks at a time but
 * the rest (the last 396 bytes of a 1420-byte packet, and block 0) through
 * its one-block code: a profile of one TCP stream put 30 % of each daemon's
 * CPU there against 15 % in the 8-block code (docs/perf/analysis/
 * tunnel-cpu.md). Whole 512-byte runs are cheaper than that tail; the bytes
 * sealed are the same (test_wire checks them against libsodium's AEAD).
 * Larger packets (jumbo links) than KS_MAX_PLAIN take libsodium's AEAD. */
#define KS_ROUND 512
#define KS_BUF_LEN 4096
#define KS_MAX_PLAIN (KS_BUF_LEN - 64)

struct keystream {
	uint8_t buf[KS_BUF_LEN];     /* block 0, then the payload's key stream */
	size_t len;                  /* bytes made; 0: none (packet too large) */
};

static bool keystream_make(struct keystream *ks, const uint8_t key[static WIRE_KEY_LEN],
			   const uint8_t *nonce, size_t plain_len)
{
	ks->len = 0;
	if (plain_len > KS_MAX_PLAIN)
		return false;
	ks->len = (64 + plain_len + KS_ROUND - 1) / KS_ROUND * KS_ROUND;
	if (ks->len > KS_BUF_LEN)
		ks->len = KS_BUF_LEN;
	crypto_stream_chacha20_ietf(ks->buf, ks->len, nonce, key);
	return true;
}

static void keystream_wipe(struct keystream *ks)
{
	if (ks->len)
		sodium_memzero(ks->buf, ks->len);
	ks->len = 0;
}

/* p ^= the payload's key stream (from block 1), len bytes. */
static void keystream_xor(const struct keystream *ks, uint8_t *p, size_t len)
{
	const uint8_t *k = ks->buf + 64;
	size_t i = 0, j;

	/* 32 bytes at a time through local words, which alias nothing: the
	 * compiler makes vector loads and XORs of them at -O2. */
	for (; i + 32 <= len; i += 32) {
		uint64_t x[4], y[4];

		memcpy(x, p + i, sizeof(x));
		memcpy(y, k + i, sizeof(y));
		for (j = 0; j < 4; j++)
			x[j] ^= y[j];
		memcpy(p + i, x, sizeof(x));
	}
	for (; i < len; i++)
		p[i] ^= k[i];
}

/* The Poly1305 tag of RFC 8439's AEAD over ad and the ciphertext c, keyed
 * with the first 32 bytes of block 0. */
static void aead_mac(const uint8_t block0[static 32], const uint8_t *ad, size_t ad_len,
		     const uint8_t *c, size_t c_len, uint8_t mac[static WIRE_TAG_LEN])
{
	static const uint8_t pad[16];
	uint8_t lens[16];
	crypto_onetimeauth_poly1305_state st;

	crypto_onetimeauth_poly1305_init(&st, block0);
	crypto_onetimeauth_poly1305_update(&st, ad, ad_len);
	crypto_onetimeauth_poly1305_update(&st, pad, (16 - ad_len % 16) % 16);
	crypto_onetimeauth_poly1305_update(&st, c, c_len);
	crypto_onetimeauth_poly1305_update(&st, pad, (16 - c_len % 16) % 16);
	for (int i = 0; i < 8; i++) {
		lens[i] = (uint8_t)((uint64_t)ad_len >> (8 * i));
		lens[8 + i] = (uint8_t)((uint64_t)c_len >> (8 * i));
	}
	crypto_onetimeauth_poly1305_update(&st, lens, sizeof(lens));
	crypto_onetimeauth_poly1305_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

void wire_tx_init(struct wire_tx *tx, const uint8_t dir_key[static WIRE_KEY_LEN])
{
	randombytes_buf(tx->instance, WIRE_INSTANCE_LEN);
	derive_packet_key(dir_key, tx->instance, tx->key);
	derive_header_key(dir_key, tx->hp_key);
	tx->counter = 0;
	tx->aead = WIRE_AEAD_CHACHA20_POLY1305;
	tx->aes = NULL;
	tx->pad_bucket = 0;
	tx->pad_max_len = WIRE_INNER_MTU;
}

int wire_tx_set_aead(struct wire_tx *tx, enum wire_aead aead)
{
	if (aead == WIRE_AEAD_AES256_GCM) {
		if (!wire_aes_is_available())
			return -ENOTSUP;
		if (!tx->aes && !(tx->aes = aes_state_new()))
			return -ENOMEM;
		aes_state_init(tx->aes, tx->key);
	} else if (aead != WIRE_AEAD_CHACHA20_POLY1305) {
		return -EINVAL;
	}
	tx->aead = aead;
	return 0;
}

int wire_tx_set_padding(struct wire_tx *tx, size_t bucket, size_t max_len)
{
	if (bucket && (bucket < WIRE_MIN_PAD_BUCKET || bucket > WIRE_MAX_PAD_BUCKET))
		return -EINVAL;
	tx->pad_bucket = bucket;
	tx->pad_max_len = max_len < WIRE_MAX_INNER_LEN ? max_len : WIRE_MAX_INNER_LEN;
	return 0;
}

size_t wire_padded_len(const struct wire_tx *tx, size_t inner_len)
{
	size_t len = inner_len < WIRE_MIN_PADDED_LEN ? WIRE_MIN_PADDED_LEN : inner_len;

	if (tx->pad_bucket)
		len = (len + tx->pad_bucket - 1) / tx->pad_bucket * tx->pad_bucket;
	/* The cap: a packet near the MTU goes at the MTU, one above it (a
	 * caller's own choice) unpadded. */
	if (len > tx->pad_max_len)
		len = inner_len > tx->pad_max_len ? inner_len : tx->pad_max_len;
	return len;
}

void wire_tx_fini(struct wire_tx *tx)
{
	aes_state_free(&tx->aes);
	sodium_memzero(tx, sizeof(*tx));
}

int wire_seal(struct wire_tx *tx, uint64_t slot, uint8_t *buf, size_t inner_len,
	      size_t buf_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[AD_LEN], mask[WIRE_HEADER_LEN];
	uint8_t *plain = buf + WIRE_HEADER_LEN;
	struct keystream ks;
	size_t plain_len;

	if (inner_len > WIRE_MAX_INNER_LEN)
		return -EMSGSIZE;
	plain_len = wire_padded_len(tx, inner_len);
	if (buf_len < plain_len + WIRE_OVERHEAD)
		return -EMSGSIZE;
	if (tx->counter >= WIRE_COUNTER_LIMIT)
		return -EOVERFLOW;

	memset(plain + inner_len, 0, plain_len - inner_len);
	buf[OFF_TYPE] = tx->aead == WIRE_AEAD_AES256_GCM ? WIRE_TYPE_DATA_AES : WIRE_TYPE_DATA;
	buf[OFF_PAD] = (uint8_t)((plain_len - inner_len) >> 8);
	buf[OFF_PAD + 1] = (uint8_t)(plain_len - inner_len);
	memcpy(buf + OFF_INSTANCE, tx->instance, WIRE_INSTANCE_LEN);
	for (size_t i = 0; i < COUNTER_LEN; i++)
		buf[OFF_COUNTER + i] = (uint8_t)(tx->counter >> (8 * (COUNTER_LEN - 1 - i)));
	tx->counter++;

	make_nonce(nonce, buf);
	make_ad(ad, buf, slot);
	if (tx->aead == WIRE_AEAD_AES256_GCM) {
		crypto_aead_aes256gcm_encrypt_detached_afternm(
			plain, plain + plain_len, NULL, plain, plain_len, ad, sizeof(ad), NULL, nonce,
			(const crypto_aead_aes256gcm_state *)(const void *)tx->aes);
	} else if (keystream_make(&ks, tx->key, nonce, plain_len)) {
		keystream_xor(&ks, plain, plain_len);
		aead_mac(ks.buf, ad, sizeof(ad), plain, plain_len, plain + plain_len);
		keystream_wipe(&ks);
	} else {
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(plain, plain + plain_len, NULL,
								   plain, plain_len, ad, sizeof(ad),
								   NULL, nonce, tx->key);
	}
	header_mask(tx->hp_key, plain + plain_len, mask);
	xor_header(buf, buf, mask);
	return (int)(plain_len + WIRE_OVERHEAD);
}

void wire_rx_init(struct wire_rx *rx, const uint8_t dir_key[static WIRE_KEY_LEN])
{
	memset(rx, 0, sizeof(*rx));
	memcpy(rx->dir_key, dir_key, WIRE_KEY_LEN);
	derive_header_key(dir_key, rx->hp_key);
}

void wire_rx_fini(struct wire_rx *rx)
{
	for (unsigned i = 0; i < rx->n_instances; i++)
		aes_state_free(&rx->inst[i].aes);
	sodium_memzero(rx, sizeof(*rx));
}

void wire_rx_restart(struct wire_rx *rx)
{
	uint8_t key[WIRE_KEY_LEN];

	memcpy(key, rx->dir_key, sizeof(key));
	wire_rx_fini(rx);
	wire_rx_init(rx, key);
	sodium_memzero(key, sizeof(key));
}

static struct wire_rx_instance *find_instance(struct wire_rx *rx, const uint8_t *instance)
{
	for (unsigned i = 0; i < rx->n_instances; i++)
		if (memcmp(rx->inst[i].instance, instance, WIRE_INSTANCE_LEN) == 0)
			return &rx->inst[i];
	return NULL;
}

/* Whether an entry may be replaced by a new instance. Every packet this
 * entry accepted carries a slot <= last_slot in its associated data; once
 * max_slot > last_slot + 2, wire_open refuses all of them as too old, so
 * forgetting the entry's replay window lets no replay through. */
static bool is_expired(const struct wire_rx_instance *e, uint64_t max_slot)
{
	return max_slot > e->last_slot && max_slot - e->last_slot > 2;
}

/* A free entry, else the expired entry with the oldest last_slot, else NULL. */
static struct wire_rx_instance *pick_victim(struct wire_rx *rx, uint64_t new_max_slot)
{
	struct wire_rx_instance *victim = NULL;

	if (rx->n_instances < WIRE_RX_INSTANCES)
		return &rx->inst[rx->n_instances];
	for (unsigned i = 0; i < WIRE_RX_INSTANCES; i++)
		if (is_expired(&rx->inst[i], new_max_slot) &&
		    (!victim || rx->inst[i].last_slot < victim->last_slot))
			victim = &rx->inst[i];
	return victim;
}

/* ChaCha20-Poly1305 (RFC 8439) verification without decryption. libsodium's
 * decrypt wipes the output on failure, which in place would destroy the
 * datagram; verifying first keeps buf intact on every failure, so a caller
 * may try another receiver state (old and new session during a re-key).
 * The key stream made for the check (ks, see keystream_make) is kept for
 * decrypt; with ks NULL (a sender not known yet: garbage and forgeries
 * mostly, which should cost no more than the check) or a packet too large
 * for it, the check makes block 0 alone. */
static int verify(const uint8_t key[static WIRE_KEY_LEN], const uint8_t *nonce,
		  const uint8_t *ad, size_t ad_len, const uint8_t *c, size_t c_len,
		  const uint8_t *tag, struct keystream *ks)
{
	uint8_t block0[64], mac[WIRE_TAG_LEN];
	int rc;

	if (ks && keystream_make(ks, key, nonce, c_len)) {
		aead_mac(ks->buf, ad, ad_len, c, c_len, mac);
	} else {
		crypto_stream_chacha20_ietf(block0, sizeof(block0), nonce, key);
		aead_mac(block0, ad, ad_len, c, c_len, mac);
		sodium_memzero(block0, sizeof(block0));
	}
	rc = crypto_verify_16(mac, tag) == 0 ? 0 : WIRE_ERR_AUTH;
	if (rc < 0 && ks)
		keystream_wipe(ks);
	return rc;
}

/* header: the header in clear (a copy); buf: the datagram as received. */
static int authenticate(const uint8_t key[static WIRE_KEY_LEN], uint64_t slot,
			const uint8_t *header, const uint8_t *buf, size_t plain_len,
			struct keystream *ks)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[AD_LEN];

	make_nonce(nonce, header);
	make_ad(ad, header, slot);
	return verify(key, nonce, ad, sizeof(ad), buf + WIRE_HEADER_LEN, plain_len,
		      buf + WIRE_HEADER_LEN + plain_len, ks);
}

/* The payload starts at block 1 (RFC 8439, 2.8): from the key stream the
 * check made, or (a packet too large for it) from libsodium at block 1. */
static void decrypt(const uint8_t key[static WIRE_KEY_LEN], const uint8_t *header,
		    uint8_t *buf, size_t plain_len, struct keystream *ks)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	if (ks->len) {
		keystream_xor(ks, buf + WIRE_HEADER_LEN, plain_len);
		keystream_wipe(ks);
		return;
	}
	make_nonce(nonce, header);
	crypto_stream_chacha20_ietf_xor_ic(buf + WIRE_HEADER_LEN, buf + WIRE_HEADER_LEN,
					   plain_len, nonce, 1, key);
}

/* AES-256-GCM: libsodium decrypts and verifies in one pass and wipes its
 * output on failure, so it decrypts into a copy that replaces the
 * ciphertext only once authentic: buf stays as received on every failure. */
static int open_aes(const unsigned char *aes, uint64_t slot,
		    const uint8_t *header, uint8_t *buf, size_t plain_len)
{
	uint8_t nonce[crypto_aead_aes256gcm_NPUBBYTES], ad[AD_LEN], tmp[KS_BUF_LEN];
	uint8_t *out = tmp;
	int rc;

	if (plain_len > sizeof(tmp)) {
		out = malloc(plain_len);
		if (!out)
			return -ENOMEM;
	}
	make_nonce(nonce, header);
	make_ad(ad, header, slot);
	rc = crypto_aead_aes256gcm_decrypt_detached_afternm(
		     out, NULL, buf + WIRE_HEADER_LEN, plain_len, buf + WIRE_HEADER_LEN + plain_len,
		     ad, sizeof(ad), nonce,
		     (const crypto_aead_aes256gcm_state *)(const void *)aes) == 0 ? 0 : WIRE_ERR_AUTH;
	if (rc == 0)
		memcpy(buf + WIRE_HEADER_LEN, out, plain_len);
	sodium_memzero(out, plain_len);
	if (out != tmp)
		free(out);
	return rc;
}

int wire_open(struct wire_rx *rx, uint64_t slot, uint8_t *buf, size_t len)
{
	_Alignas(16) unsigned char aes[WIRE_AES_STATE_LEN];
	bool is_aes, has_aes = false; /* has_aes: aes holds a key */
	struct wire_rx_instance *e;
	uint8_t key[WIRE_KEY_LEN], header[WIRE_HEADER_LEN];
	struct keystream ks;
	uint64_t counter;
	size_t plain_len, pad_len;
	int rc;

	ks.len = 0; /* not the whole buffer: it is written before it is read */
	if (len < WIRE_OVERHEAD || len - WIRE_OVERHEAD > WIRE_MAX_INNER_LEN)
		return WIRE_ERR_MALFORMED;
	/* Rule that makes forgetting instances safe (is_expired): nothing older
	 * than two slots before the newest authentic packet is accepted. */
	if (slot < rx->max_slot && rx->max_slot - slot > 2)
		return WIRE_ERR_TOO_OLD;
	plain_len = len - WIRE_OVERHEAD;
	header_mask(rx->hp_key, buf + len - WIRE_TAG_LEN, header);
	xor_header(header, buf, header);
	/* Cheap refusals before any authentication; the header is covered by
	 * the tag, so nothing here is trusted before step "authenticate". */
	pad_len = (size_t)header[OFF_PAD] << 8 | header[OFF_PAD + 1];
	counter = get_counter(header);
	is_aes = header[OFF_TYPE] == WIRE_TYPE_DATA_AES;
	/* A CPU without AES-NI cannot open what a peer sealed with AES: it
	 * looks like any packet that fails (the peer's setting is wrong). */
	if ((header[OFF_TYPE] != WIRE_TYPE_DATA && !is_aes) || pad_len > plain_len ||
	    counter >= WIRE_COUNTER_LIMIT || (is_aes && !wire_aes_is_available())) {
		rc = WIRE_ERR_AUTH;
		goto cleanup;
	}

	e = find_instance(rx, header + OFF_INSTANCE);
	if (e) {
		rc = replay_check(&e->window, counter);
		if (rc != REPLAY_ACCEPT)
			goto cleanup;
		if (is_aes && !e->aes) {
			e->aes = aes_state_new();
			if (!e->aes) {
				rc = -ENOMEM;
				goto cleanup;
			}
			aes_state_init(e->aes, e->key);
		}
		rc = is_aes ? open_aes(e->aes, slot, header, buf, plain_len)
			    : authenticate(e->key, slot, header, buf, plain_len, &ks);
		if (rc < 0)
			goto cleanup;
	} else {
		/* An unknown instance: the peer restarted (or a forgery, which
		 * costs us one hash and fails authentication). */
		derive_packet_key(rx->dir_key, header + OFF_INSTANCE, key);
		if (is_aes) {
			aes_state_init(aes, key);
			has_aes = true;
			rc = open_aes(aes, slot, header, buf, plain_len);
		} else {
			rc = authenticate(key, slot, header, buf, plain_len, NULL);
		}
		if (rc < 0)
			goto cleanup;
		e = pick_victim(rx, slot > rx->max_slot ? slot : rx->max_slot);
		if (!e) {
			rc = WIRE_ERR_BUSY;
			goto cleanup;
		}
		if (e == &rx->inst[rx->n_instances])
			rx->n_instances++;
		aes_state_free(&e->aes);
		sodium_memzero(e, sizeof(*e));
		memcpy(e->key, key, WIRE_KEY_LEN);
		memcpy(e->instance, header + OFF_INSTANCE, WIRE_INSTANCE_LEN);
		replay_init(&e->window);
		/* Without memory, the instance's next type-2 packet tries again. */
		if (is_aes && (e->aes = aes_state_new()) != NULL)
			memcpy(e->aes, aes, sizeof(aes));
	}

	if (!is_aes)
		decrypt(e->key, header, buf, plain_len, &ks);
	replay_update(&e->window, counter);
	if (slot > e->last_slot)
		e->last_slot = slot;
	if (slot > rx->max_slot)
		rx->max_slot = slot;
	rc = (int)(plain_len - pad_len);
cleanup:
	keystream_wipe(&ks);
	if (has_aes)
		sodium_memzero(aes, sizeof(aes));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(header, sizeof(header));
	return rc;
}

const char *wire_strerror(int rc)
{
	switch (rc) {
	case 0: return "valid";
	case WIRE_ERR_MALFORMED: return "not a tunnel packet (length)";
	case WIRE_ERR_AUTH: return "not authentic (wrong key or slot, forged, garbage)";
	case WIRE_ERR_REPLAY: return "replayed packet (counter seen before)";
	case WIRE_ERR_TOO_OLD: return "too old for the replay window";
	case WIRE_ERR_BUSY: return "new sender instance while every tracked one is live";
	default: return strerror(-rc);
	}
}
