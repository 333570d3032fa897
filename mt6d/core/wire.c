#include "mt6d/core/wire.h"

#include <stdbool.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/hash.h"

#define OFF_VERSION 0
#define OFF_TYPE 1
#define OFF_INSTANCE 2
#define OFF_COUNTER 8
#define AD_LEN (WIRE_HEADER_LEN + 8)

_Static_assert(OFF_INSTANCE + WIRE_INSTANCE_LEN == OFF_COUNTER, "header layout");
_Static_assert(OFF_COUNTER + 8 == WIRE_HEADER_LEN, "header layout");
_Static_assert(WIRE_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(WIRE_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(WIRE_INNER_MTU == 1420, "documented inner MTU");

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

static void make_nonce(uint8_t nonce[static crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
		       const uint8_t *header)
{
	memset(nonce, 0, 4);
	memcpy(nonce + 4, header + OFF_COUNTER, 8);
}

static void make_ad(uint8_t ad[static AD_LEN], const uint8_t *header, uint64_t slot)
{
	memcpy(ad, header, WIRE_HEADER_LEN);
	put_be64(ad + WIRE_HEADER_LEN, slot);
}

void wire_tx_init(struct wire_tx *tx, const uint8_t dir_key[static WIRE_KEY_LEN])
{
	randombytes_buf(tx->instance, WIRE_INSTANCE_LEN);
	derive_packet_key(dir_key, tx->instance, tx->key);
	tx->counter = 0;
}

void wire_tx_fini(struct wire_tx *tx)
{
	sodium_memzero(tx, sizeof(*tx));
}

int wire_seal(struct wire_tx *tx, uint64_t slot, uint8_t *buf, size_t inner_len,
	      size_t buf_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[AD_LEN];
	uint8_t *inner = buf + WIRE_HEADER_LEN;

	if (inner_len > WIRE_MAX_INNER_LEN || buf_len < inner_len + WIRE_OVERHEAD)
		return -EMSGSIZE;
	if (tx->counter >= WIRE_COUNTER_LIMIT)
		return -EOVERFLOW;

	buf[OFF_VERSION] = MT6D_PROTO_VERSION;
	buf[OFF_TYPE] = WIRE_TYPE_DATA;
	memcpy(buf + OFF_INSTANCE, tx->instance, WIRE_INSTANCE_LEN);
	put_be64(buf + OFF_COUNTER, tx->counter);
	tx->counter++;

	make_nonce(nonce, buf);
	make_ad(ad, buf, slot);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(inner, inner + inner_len, NULL,
							   inner, inner_len, ad, sizeof(ad),
							   NULL, nonce, tx->key);
	return (int)(inner_len + WIRE_OVERHEAD);
}

void wire_rx_init(struct wire_rx *rx, const uint8_t dir_key[static WIRE_KEY_LEN])
{
	memset(rx, 0, sizeof(*rx));
	memcpy(rx->dir_key, dir_key, WIRE_KEY_LEN);
}

void wire_rx_fini(struct wire_rx *rx)
{
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
 * may try another receiver state (old and new session during a re-key). */
static int verify(const uint8_t key[static WIRE_KEY_LEN], const uint8_t *nonce,
		  const uint8_t *ad, size_t ad_len, const uint8_t *c, size_t c_len,
		  const uint8_t *tag)
{
	static const uint8_t pad[16];
	uint8_t block0[64], mac[WIRE_TAG_LEN], lens[16];
	crypto_onetimeauth_poly1305_state st;
	int rc;

	crypto_stream_chacha20_ietf(block0, sizeof(block0), nonce, key);
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
	rc = crypto_verify_16(mac, tag) == 0 ? 0 : WIRE_ERR_AUTH;
	sodium_memzero(block0, sizeof(block0));
	sodium_memzero(&st, sizeof(st));
	return rc;
}

static int authenticate(const uint8_t key[static WIRE_KEY_LEN], uint64_t slot,
			const uint8_t *buf, size_t inner_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[AD_LEN];

	make_nonce(nonce, buf);
	make_ad(ad, buf, slot);
	return verify(key, nonce, ad, sizeof(ad), buf + WIRE_HEADER_LEN, inner_len,
		      buf + WIRE_HEADER_LEN + inner_len);
}

/* Block 0 keyed Poly1305; the payload starts at block 1 (RFC 8439, 2.8). */
static void decrypt(const uint8_t key[static WIRE_KEY_LEN], uint8_t *buf, size_t inner_len)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	make_nonce(nonce, buf);
	crypto_stream_chacha20_ietf_xor_ic(buf + WIRE_HEADER_LEN, buf + WIRE_HEADER_LEN,
					   inner_len, nonce, 1, key);
}

int wire_open(struct wire_rx *rx, uint64_t slot, uint8_t *buf, size_t len)
{
	struct wire_rx_instance *e;
	uint8_t key[WIRE_KEY_LEN];
	uint64_t counter;
	size_t inner_len;
	int rc;

	if (len < WIRE_OVERHEAD || len - WIRE_OVERHEAD > WIRE_MAX_INNER_LEN)
		return WIRE_ERR_MALFORMED;
	if (buf[OFF_VERSION] != MT6D_PROTO_VERSION || buf[OFF_TYPE] != WIRE_TYPE_DATA)
		return WIRE_ERR_MALFORMED;
	inner_len = len - WIRE_OVERHEAD;
	counter = get_be64(buf + OFF_COUNTER);
	if (counter >= WIRE_COUNTER_LIMIT)
		return WIRE_ERR_MALFORMED;
	/* Rule that makes forgetting instances safe (is_expired): nothing older
	 * than two slots before the newest authentic packet is accepted. */
	if (slot < rx->max_slot && rx->max_slot - slot > 2)
		return WIRE_ERR_TOO_OLD;

	e = find_instance(rx, buf + OFF_INSTANCE);
	if (e) {
		rc = replay_check(&e->window, counter);
		if (rc != REPLAY_ACCEPT)
			return rc;
		rc = authenticate(e->key, slot, buf, inner_len);
		if (rc < 0)
			return rc;
	} else {
		/* An unknown instance: the peer restarted (or a forgery, which
		 * costs us one hash and fails authentication). */
		derive_packet_key(rx->dir_key, buf + OFF_INSTANCE, key);
		rc = authenticate(key, slot, buf, inner_len);
		if (rc < 0)
			goto cleanup;
		e = pick_victim(rx, slot > rx->max_slot ? slot : rx->max_slot);
		if (!e) {
			rc = WIRE_ERR_BUSY;
			goto cleanup;
		}
		if (e == &rx->inst[rx->n_instances])
			rx->n_instances++;
		sodium_memzero(e, sizeof(*e));
		memcpy(e->key, key, WIRE_KEY_LEN);
		memcpy(e->instance, buf + OFF_INSTANCE, WIRE_INSTANCE_LEN);
		replay_init(&e->window);
	}

	decrypt(e->key, buf, inner_len);
	replay_update(&e->window, counter);
	if (slot > e->last_slot)
		e->last_slot = slot;
	if (slot > rx->max_slot)
		rx->max_slot = slot;
	rc = (int)inner_len;
cleanup:
	sodium_memzero(key, sizeof(key));
	return rc;
}

const char *wire_strerror(int rc)
{
	switch (rc) {
	case 0: return "valid";
	case WIRE_ERR_MALFORMED: return "not a tunnel packet (length, version or type)";
	case WIRE_ERR_AUTH: return "not authentic (wrong key or slot, forged)";
	case WIRE_ERR_REPLAY: return "replayed packet (counter seen before)";
	case WIRE_ERR_TOO_OLD: return "too old for the replay window";
	case WIRE_ERR_BUSY: return "new sender instance while every tracked one is live";
	default: return strerror(-rc);
	}
}
