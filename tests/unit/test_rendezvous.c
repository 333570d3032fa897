#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/hash.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/rendezvous.h"
#include "tests/unit/error_table.h"

/* Known-answer vectors: tests/vectors/vectors.json, printed in
 * docs/PROTOCOL.md ("Test vectors"); tests/vectors/check_vectors.py
 * recomputes them with hashlib and PyNaCl and checks that each expected value
 * below is the one in the JSON. */
static const char kat_client_priv_hex[] =
	"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
static const char kat_server_priv_hex[] =
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
static const char kat_intro_key_hex[] = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
static const char kat_server_seed[] = "2001:db8:5:1::5eed";
#define KAT_WINDOW UINT64_C(1767225600)
#define KAT_PERIOD_S 900
#define KAT_ROTATION_MS 3000
static const char kat_descriptor_hex[] = "5615f55e65841b64e6bcb6d855ba56bb7d343dcf";
static const char kat_config_random_hex[] = "c8c9cacbcccdcecf";
static const char kat_config_plaintext_hex[] =
	"20010db8000500010000000000005eedb0b1b2b3b4b5b6b7b8b9babbbcbdbebf000bb8000384";
static const char kat_config_sealed_hex[] =
	"01c8c9cacbcccdcecf5c8896f8bd5bdfc292a5a8630b2f88b2f335cbb85944ba0ccc571581ee65a5"
	"6313a6a199902ce3ea9abbae8ea404d650418f55066c67";
static const char *const kat_chunk_ih_hex[2][3] = {
	{ "b75401d3c04485dad64f0cf50a4ba5d2b7a4d30a", "6d1cba54cd7d324f6c369cd24b68f7f8afd19e53",
	  "37b6ab401f112ef0e94eca46e9d04494699d24bb" },
	{ "956fdc447c3c88b712695dff8cc934db1a09bc8e", "73e78ff96f67945c920e8bc67e29fb1435b155ed",
	  "8231eb530d881d03af77aea99264a97da3e76f80" },
};
static const uint16_t kat_ports[3][21] = {
	{ 4097, 6856, 7625, 11210, 13003, 17356, 22221, 25806, 27855, 37468, 38792, 40342, 44792,
	  45245, 47963, 53215, 53442, 53906, 54437, 54696, 59491 },
	{ 267, 1071, 1672, 2738, 12787, 16949, 17355, 20408, 23897, 26180, 28858, 38924, 41932,
	  45655, 50965, 51585, 51950, 53861, 57509, 61027, 61971 },
	{ 8102, 12193, 13721, 15760, 15916, 17635, 24810, 24986, 25275, 26542, 27790, 28836, 29444,
	  31446, 34640, 37441, 54159, 56917, 57350, 61292, 62567 },
};
static const char kat_message_plaintext[] = "mt6d rendezvous vector";
static const char kat_message_random_hex[] = "d8d9dadbdcdddedf";
static const char kat_message_sealed_hex[] =
	"01d8d9dadbdcdddedf72aaac4f30fab99d43bb7647a0d9ad1f4d9bce2e14994c3190786b39261aa4c1"
	"c8fb7d591dee";

/* ---- the vectors' random source: pushed bytes first, then the stream
 * H_"mt6d/1 test-random"(u64 i), i = 0, 1, ... (docs/PROTOCOL.md) ---- */
static uint8_t pushed[64];
static size_t pushed_len, pushed_pos;
static uint8_t stream_block[MT6D_HASH_LEN];
static size_t stream_pos = MT6D_HASH_LEN;
static uint64_t stream_counter;

static void test_random_reset(void)
{
	pushed_len = pushed_pos = 0;
	stream_pos = MT6D_HASH_LEN;
	stream_counter = 0;
}

static void test_random_push(const uint8_t *p, size_t len)
{
	assert_true(pushed_len + len <= sizeof(pushed));
	memcpy(pushed + pushed_len, p, len);
	pushed_len += len;
}

static void test_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		if (pushed_pos < pushed_len) {
			p[i] = pushed[pushed_pos++];
			continue;
		}
		if (stream_pos == MT6D_HASH_LEN) {
			struct hash_ctx ctx;

			hash_begin(&ctx, "mt6d/1 test-random");
			hash_add_u64(&ctx, stream_counter++);
			hash_end(&ctx, stream_block);
			stream_pos = 0;
		}
		p[i] = stream_block[stream_pos++];
	}
}

/* ---- fixtures ---- */
static uint8_t c_priv[32], c_pub[32], s_priv[32], s_pub[32];
static struct rendezvous_config kat_cfg;

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static void assert_hex(const uint8_t *p, size_t len, const char *hex)
{
	uint8_t want[RENDEZVOUS_MAX_MSG_LEN];

	unhex(hex, want, len);
	assert_memory_equal(p, want, len);
}

static int setup(void **state)
{
	(void)state;
	unhex(kat_client_priv_hex, c_priv, 32);
	unhex(kat_server_priv_hex, s_priv, 32);
	keys_public_from_private(c_pub, c_priv);
	keys_public_from_private(s_pub, s_priv);
	memset(&kat_cfg, 0, sizeof(kat_cfg));
	assert_int_equal(inet_pton(AF_INET6, kat_server_seed, kat_cfg.server_seed_addr), 1);
	unhex(kat_intro_key_hex, kat_cfg.intro_key, MT6D_INTRO_KEY_LEN);
	kat_cfg.rotation_ms = KAT_ROTATION_MS;
	kat_cfg.period_s = KAT_PERIOD_S;
	test_random_reset();
	return 0;
}

static void seal_kat(uint8_t out[RENDEZVOUS_CONFIG_LEN])
{
	uint8_t r[8];

	unhex(kat_config_random_hex, r, 8);
	test_random_reset();
	test_random_push(r, 8);
	assert_int_equal(rendezvous_config_seal(out, RENDEZVOUS_CONFIG_LEN, &kat_cfg, s_priv, c_pub,
						KAT_WINDOW, 0, test_random),
			 RENDEZVOUS_CONFIG_LEN);
}

static void assert_cfg_equal(const struct rendezvous_config *a, const struct rendezvous_config *b)
{
	assert_memory_equal(a->server_seed_addr, b->server_seed_addr, 16);
	assert_memory_equal(a->intro_key, b->intro_key, MT6D_INTRO_KEY_LEN);
	assert_int_equal(a->rotation_ms, b->rotation_ms);
	assert_int_equal(a->period_s, b->period_s);
}

/* ---- peer lists ---- */
#define MAX_TEST_PEERS 1200
struct peer_lists {
	struct rendezvous_peer peers[3][MAX_TEST_PEERS];
	struct rendezvous_chunk_peers chunks[3];
};

static void lists_init(struct peer_lists *l)
{
	size_t j;

	memset(l, 0, sizeof(*l));
	for (j = 0; j < 3; j++)
		l->chunks[j].peers = l->peers[j];
}

static void lists_add(struct peer_lists *l, size_t j, const uint8_t addr[16], uint16_t port)
{
	struct rendezvous_peer *p;

	assert_true(l->chunks[j].n_peers < MAX_TEST_PEERS);
	p = &l->peers[j][l->chunks[j].n_peers++];
	memcpy(p->addr, addr, 16);
	p->port = port;
}

/* Announces msg (RENDEZVOUS_CONFIG_LEN bytes) from addr, stuffed afresh. */
static void lists_announce(struct peer_lists *l, const uint8_t addr[16], const uint8_t *msg)
{
	uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS];
	int n, i;
	size_t j;

	for (j = 0; j < 3; j++) {
		n = rendezvous_stuff_chunk(ports, msg, RENDEZVOUS_CONFIG_LEN, j, test_random);
		assert_int_equal(n, 21);
		for (i = 0; i < n; i++)
			lists_add(l, j, addr, ports[i]);
	}
}

/* Deterministic shuffle of every list (the DHT returns peers in any order). */
static void lists_shuffle(struct peer_lists *l, uint32_t seed)
{
	size_t j, i;

	for (j = 0; j < 3; j++) {
		for (i = l->chunks[j].n_peers; i > 1; i--) {
			size_t k;
			struct rendezvous_peer t;

			seed = seed * 1103515245u + 12345u;
			k = (seed >> 8) % i;
			t = l->peers[j][i - 1];
			l->peers[j][i - 1] = l->peers[j][k];
			l->peers[j][k] = t;
		}
	}
}

static void make_addr(uint8_t addr[16], uint16_t host)
{
	memset(addr, 0, 16);
	addr[0] = 0x20;
	addr[1] = 0x01;
	addr[2] = 0x0d;
	addr[3] = 0xb8;
	put_be16(addr + 14, host);
}

/* ---- known answers ---- */

static void test_known_answer_vectors(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], d[20], s[32], ih[20], plain[64], msg[64], r[8];
	uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS];
	struct rendezvous_config got;
	size_t j;
	int e;

	seal_kat(sealed);
	assert_hex(sealed, sizeof(sealed), kat_config_sealed_hex);
	memset(&got, 0, sizeof(got));
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW, 0), 0);
	assert_cfg_equal(&got, &kat_cfg);

	/* The plaintext layout, by opening the box by hand. */
	{
		uint8_t key[32], nonce[24], h[32];
		struct hash_ctx ctx;

		assert_int_equal(crypto_box_beforenm(key, s_pub, c_priv), 0);
		hash_begin(&ctx, "mt6d/1 config-nonce");
		hash_add_u8(&ctx, 1);
		hash_add_u64(&ctx, KAT_WINDOW);
		hash_add_u8(&ctx, 0);
		hash_add(&ctx, sealed + 1, 8);
		hash_end(&ctx, h);
		memcpy(nonce, h, 24);
		assert_int_equal(crypto_box_open_easy_afternm(plain, sealed + 9, 54, nonce, key), 0);
		assert_hex(plain, RENDEZVOUS_CONFIG_PLAIN_LEN, kat_config_plaintext_hex);
	}

	/* Chunk infohashes from d_T of the window, epochs 0 and 1. */
	assert_int_equal(keys_shared_secret(s, c_priv, s_pub), 0);
	derive_descriptor(d, s, KAT_WINDOW);
	assert_hex(d, 20, kat_descriptor_hex);
	for (e = 0; e < 2; e++) {
		for (j = 0; j < 3; j++) {
			rendezvous_chunk_infohash(ih, d, (uint8_t)e, (uint8_t)j);
			assert_hex(ih, 20, kat_chunk_ih_hex[e][j]);
		}
	}

	/* Stuffed ports, drawing from the vectors' stream from its start. */
	test_random_reset();
	for (j = 0; j < 3; j++) {
		assert_int_equal(rendezvous_stuff_chunk(ports, sealed, sizeof(sealed), j, test_random),
				 21);
		assert_memory_equal(ports, kat_ports[j], sizeof(kat_ports[j]));
	}

	/* A generic message, server -> client. */
	unhex(kat_message_random_hex, r, 8);
	test_random_reset();
	test_random_push(r, 8);
	assert_int_equal(rendezvous_message_seal(msg, sizeof(msg), (const uint8_t *)kat_message_plaintext,
						 strlen(kat_message_plaintext), s_priv, c_pub,
						 KAT_WINDOW, 0, test_random),
			 (int)strlen(kat_message_plaintext) + RENDEZVOUS_OVERHEAD);
	assert_hex(msg, strlen(kat_message_plaintext) + RENDEZVOUS_OVERHEAD, kat_message_sealed_hex);
	assert_int_equal(rendezvous_message_open(plain, msg,
						 strlen(kat_message_plaintext) + RENDEZVOUS_OVERHEAD,
						 c_priv, s_pub, KAT_WINDOW, 0),
			 (int)strlen(kat_message_plaintext));
	assert_memory_equal(plain, kat_message_plaintext, strlen(kat_message_plaintext));
}

/* The vector's stuffed ports, shuffled, as a reader collects them, give the
 * config back through rendezvous_find_config. */
static void test_known_ports_found(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	struct rendezvous_config got;
	uint8_t addr[16], from[16];
	size_t j, i;

	assert_non_null(l);
	lists_init(l);
	make_addr(addr, 0x5eed);
	for (j = 0; j < 3; j++)
		for (i = 0; i < 21; i++)
			lists_add(l, j, addr, kat_ports[j][i]);
	lists_shuffle(l, 7);
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						from), 0);
	assert_cfg_equal(&got, &kat_cfg);
	assert_memory_equal(from, addr, 16);
	free(l);
}

/* ---- seal and open ---- */

static void test_round_trip_fresh_randomness(void **state)
{
	(void)state;
	uint8_t a[RENDEZVOUS_CONFIG_LEN + 10], b[RENDEZVOUS_CONFIG_LEN];
	struct rendezvous_config got, cfg = kat_cfg;

	/* NULL random: randombytes_buf. Same content, two sealings: r and so
	 * every byte after it differ (one message per sealing). */
	assert_int_equal(rendezvous_config_seal(a, sizeof(a), &cfg, s_priv, c_pub, KAT_WINDOW, 3, NULL),
			 RENDEZVOUS_CONFIG_LEN);
	assert_int_equal(rendezvous_config_seal(b, sizeof(b), &cfg, s_priv, c_pub, KAT_WINDOW, 3, NULL),
			 RENDEZVOUS_CONFIG_LEN);
	assert_memory_not_equal(a + 1, b + 1, 8);
	assert_memory_not_equal(a + 9, b + 9, RENDEZVOUS_CONFIG_LEN - 9);
	assert_int_equal(rendezvous_config_open(&got, a, RENDEZVOUS_CONFIG_LEN, c_priv, s_pub,
						KAT_WINDOW, 3), 0);
	assert_cfg_equal(&got, &cfg);
	/* Extremes of the 24-bit fields. */
	cfg.rotation_ms = 1;
	cfg.period_s = RENDEZVOUS_U24_MAX;
	assert_int_equal(rendezvous_config_seal(a, sizeof(a), &cfg, s_priv, c_pub, 0, 255, NULL),
			 RENDEZVOUS_CONFIG_LEN);
	assert_int_equal(rendezvous_config_open(&got, a, RENDEZVOUS_CONFIG_LEN, c_priv, s_pub, 0, 255),
			 0);
	assert_cfg_equal(&got, &cfg);
	cfg.rotation_ms = RENDEZVOUS_U24_MAX;
	cfg.period_s = 1;
	assert_int_equal(rendezvous_config_seal(a, sizeof(a), &cfg, s_priv, c_pub, UINT64_MAX, 0, NULL),
			 RENDEZVOUS_CONFIG_LEN);
	assert_int_equal(rendezvous_config_open(&got, a, RENDEZVOUS_CONFIG_LEN, c_priv, s_pub,
						UINT64_MAX, 0), 0);
	assert_cfg_equal(&got, &cfg);
}

static void test_seal_arguments(void **state)
{
	(void)state;
	uint8_t out[RENDEZVOUS_CONFIG_LEN], low_order[32] = { 1 };
	struct rendezvous_config cfg = kat_cfg;

	assert_int_equal(rendezvous_config_seal(out, RENDEZVOUS_CONFIG_LEN - 1, &cfg, s_priv, c_pub,
						KAT_WINDOW, 0, NULL), -EMSGSIZE);
	cfg.rotation_ms = 0;
	assert_int_equal(rendezvous_config_seal(out, sizeof(out), &cfg, s_priv, c_pub, KAT_WINDOW, 0,
						NULL), -EINVAL);
	cfg.rotation_ms = RENDEZVOUS_U24_MAX + 1;
	assert_int_equal(rendezvous_config_seal(out, sizeof(out), &cfg, s_priv, c_pub, KAT_WINDOW, 0,
						NULL), -EINVAL);
	cfg = kat_cfg;
	cfg.period_s = 0;
	assert_int_equal(rendezvous_config_seal(out, sizeof(out), &cfg, s_priv, c_pub, KAT_WINDOW, 0,
						NULL), -EINVAL);
	cfg.period_s = RENDEZVOUS_U24_MAX + 1;
	assert_int_equal(rendezvous_config_seal(out, sizeof(out), &cfg, s_priv, c_pub, KAT_WINDOW, 0,
						NULL), -EINVAL);
	assert_int_equal(rendezvous_config_seal(out, sizeof(out), &kat_cfg, s_priv, low_order,
						KAT_WINDOW, 0, NULL), -EINVAL);
}

static void test_truncated_and_oversized(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], big[300];
	struct rendezvous_config got, untouched;
	size_t len;

	seal_kat(sealed);
	memset(&untouched, 0x5a, sizeof(untouched));
	memset(big, 0, sizeof(big));
	memcpy(big, sealed, sizeof(sealed));
	for (len = 0; len < sizeof(big); len++) {
		if (len == RENDEZVOUS_CONFIG_LEN)
			continue;
		got = untouched;
		assert_int_equal(rendezvous_config_open(&got, big, len, c_priv, s_pub, KAT_WINDOW, 0),
				 RENDEZVOUS_ERR_LENGTH);
		assert_memory_equal(&got, &untouched, sizeof(got));
	}
}

static void test_version(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
	struct rendezvous_config got;
	int v;

	seal_kat(sealed);
	for (v = 0; v < 256; v++) {
		if (v == RENDEZVOUS_VERSION)
			continue;
		sealed[0] = (uint8_t)v;
		assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
							KAT_WINDOW, 0), RENDEZVOUS_ERR_VERSION);
	}
}

static void test_every_bit_flip(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
	struct rendezvous_config got, untouched;
	size_t bit;

	seal_kat(sealed);
	memset(&untouched, 0x5a, sizeof(untouched));
	for (bit = 0; bit < 8 * sizeof(sealed); bit++) {
		sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		got = untouched;
		assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
							KAT_WINDOW, 0),
				 bit < 8 ? RENDEZVOUS_ERR_VERSION : RENDEZVOUS_ERR_AUTH);
		assert_memory_equal(&got, &untouched, sizeof(got));
		sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW, 0), 0);
}

static void test_wrong_keys(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], x_priv[32], x_pub[32], low_order[32] = { 0 };
	struct rendezvous_config got;

	seal_kat(sealed);
	keys_generate(x_priv, x_pub);
	/* Another client cannot open it. */
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), x_priv, s_pub,
						KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
	/* It is not from another server. */
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, x_pub,
						KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
	/* A client naming itself as the server. */
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, c_pub,
						KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
	/* A low-order "server key". */
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, low_order,
						KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
	/* Configs for two clients differ, and each opens only for its client. */
	{
		uint8_t other[RENDEZVOUS_CONFIG_LEN];

		assert_int_equal(rendezvous_config_seal(other, sizeof(other), &kat_cfg, s_priv, x_pub,
							KAT_WINDOW, 0, NULL), RENDEZVOUS_CONFIG_LEN);
		assert_int_equal(rendezvous_config_open(&got, other, sizeof(other), x_priv, s_pub,
							KAT_WINDOW, 0), 0);
		assert_int_equal(rendezvous_config_open(&got, other, sizeof(other), c_priv, s_pub,
							KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
	}
}

/* T and the epoch are not sent: a config replayed into another window or
 * epoch does not open. */
static void test_replayed_into_other_window_or_epoch(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
	struct rendezvous_config got;

	seal_kat(sealed);
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW + KAT_PERIOD_S, 0), RENDEZVOUS_ERR_AUTH);
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW - KAT_PERIOD_S, 0), RENDEZVOUS_ERR_AUTH);
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW + 1, 0), RENDEZVOUS_ERR_AUTH);
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW, 1), RENDEZVOUS_ERR_AUTH);
	assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
						KAT_WINDOW, 255), RENDEZVOUS_ERR_AUTH);
}

/* An authentic config whose Rot or n is 0 is refused as invalid: built by
 * hand with the layout of docs/PROTOCOL.md. */
static void test_authentic_but_invalid(void **state)
{
	(void)state;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], plain[RENDEZVOUS_CONFIG_PLAIN_LEN], key[32], h[32];
	struct rendezvous_config got, untouched;
	struct hash_ctx ctx;
	int which;

	memset(&untouched, 0x5a, sizeof(untouched));
	for (which = 0; which < 2; which++) {
		unhex(kat_config_plaintext_hex, plain, sizeof(plain));
		memset(plain + 32 + 3 * which, 0, 3); /* Rot, then n */
		sealed[0] = 1;
		memset(sealed + 1, 0x77, 8);
		hash_begin(&ctx, "mt6d/1 config-nonce");
		hash_add_u8(&ctx, 1);
		hash_add_u64(&ctx, KAT_WINDOW);
		hash_add_u8(&ctx, 0);
		hash_add(&ctx, sealed + 1, 8);
		hash_end(&ctx, h);
		assert_int_equal(crypto_box_beforenm(key, c_pub, s_priv), 0);
		assert_int_equal(crypto_box_easy_afternm(sealed + 9, plain, sizeof(plain), h, key), 0);
		got = untouched;
		assert_int_equal(rendezvous_config_open(&got, sealed, sizeof(sealed), c_priv, s_pub,
							KAT_WINDOW, 0), -EINVAL);
		assert_memory_equal(&got, &untouched, sizeof(got));
	}
}

/* ---- generic messages ---- */

static void test_messages(void **state)
{
	(void)state;
	uint8_t plain[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN + 1], out[RENDEZVOUS_MAX_MSG_LEN + 1];
	uint8_t back[RENDEZVOUS_MAX_MSG_LEN], sealed[RENDEZVOUS_CONFIG_LEN];
	struct rendezvous_config got;
	size_t len, bit;

	randombytes_buf(plain, sizeof(plain));
	for (len = 0; len <= RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN; len += 23) {
		int n = rendezvous_message_seal(out, sizeof(out), plain, len, s_priv, c_pub, 42, 1, NULL);

		assert_int_equal(n, (int)len + RENDEZVOUS_OVERHEAD);
		assert_int_equal(rendezvous_message_open(back, out, (size_t)n, c_priv, s_pub, 42, 1),
				 (int)len);
		assert_memory_equal(back, plain, len);
		/* Not reflected: the sender cannot open it as from the receiver. */
		assert_int_equal(rendezvous_message_open(back, out, (size_t)n, s_priv, c_pub, 42, 1),
				 RENDEZVOUS_ERR_AUTH);
		assert_int_equal(rendezvous_message_open(back, out, (size_t)n, c_priv, s_pub, 43, 1),
				 RENDEZVOUS_ERR_AUTH);
		assert_int_equal(rendezvous_message_open(back, out, (size_t)n, c_priv, s_pub, 42, 2),
				 RENDEZVOUS_ERR_AUTH);
	}
	/* Limits. */
	assert_int_equal(rendezvous_message_seal(out, sizeof(out), plain,
						 RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN + 1, s_priv, c_pub, 0,
						 0, NULL), -EINVAL);
	assert_int_equal(rendezvous_message_seal(out, 30, plain, 10, s_priv, c_pub, 0, 0, NULL),
			 -EMSGSIZE);
	assert_int_equal(rendezvous_message_open(back, out, RENDEZVOUS_OVERHEAD - 1, c_priv, s_pub, 0,
						 0), RENDEZVOUS_ERR_LENGTH);
	assert_int_equal(rendezvous_message_open(back, out, RENDEZVOUS_MAX_MSG_LEN + 1, c_priv, s_pub,
						 0, 0), RENDEZVOUS_ERR_LENGTH);
	/* Every bit flip of a message. */
	assert_int_equal(rendezvous_message_seal(out, sizeof(out), plain, 20, s_priv, c_pub, 0, 0,
						 NULL), 45);
	for (bit = 0; bit < 45 * 8; bit++) {
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(rendezvous_message_open(back, out, 45, c_priv, s_pub, 0, 0),
				 bit < 8 ? RENDEZVOUS_ERR_VERSION : RENDEZVOUS_ERR_AUTH);
		out[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A config is not a message, nor a message of config size a config. */
	seal_kat(sealed);
	assert_int_equal(rendezvous_message_open(back, sealed, sizeof(sealed), c_priv, s_pub,
						 KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
	assert_int_equal(rendezvous_message_seal(out, sizeof(out), plain, RENDEZVOUS_CONFIG_PLAIN_LEN,
						 s_priv, c_pub, KAT_WINDOW, 0, NULL),
			 RENDEZVOUS_CONFIG_LEN);
	assert_int_equal(rendezvous_config_open(&got, out, RENDEZVOUS_CONFIG_LEN, c_priv, s_pub,
						KAT_WINDOW, 0), RENDEZVOUS_ERR_AUTH);
}

/* ---- chunking and stuffing ---- */

static void test_chunk_sizes(void **state)
{
	(void)state;
	static const struct {
		size_t msg_len, count, first, last;
	} cases[] = {
		{ 0, 0, 0, 0 },    { 1, 1, 1, 1 },     { 25, 1, 25, 25 },   { 26, 2, 13, 13 },
		{ 27, 2, 14, 13 }, { 63, 3, 21, 21 },  { 64, 3, 22, 21 },   { 76, 4, 19, 19 },
		{ 250, 10, 25, 25 }, { 255, 11, 24, 23 }, { 256, 0, 0, 0 }, { 100000, 0, 0, 0 },
	};
	size_t i, j, total;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = rendezvous_chunk_count(cases[i].msg_len);

		assert_int_equal(n, cases[i].count);
		if (!n)
			continue;
		assert_int_equal(rendezvous_chunk_len(cases[i].msg_len, 0), cases[i].first);
		assert_int_equal(rendezvous_chunk_len(cases[i].msg_len, n - 1), cases[i].last);
		assert_int_equal(rendezvous_chunk_len(cases[i].msg_len, n), 0);
	}
	/* Every length: chunks cover the message, at most 25, differ by <= 1. */
	for (i = 1; i <= RENDEZVOUS_MAX_MSG_LEN; i++) {
		size_t n = rendezvous_chunk_count(i), lo = 255, hi = 0;

		assert_true(n >= 1 && n <= RENDEZVOUS_MAX_CHUNKS);
		for (j = 0, total = 0; j < n; j++) {
			size_t len = rendezvous_chunk_len(i, j);

			assert_true(len >= 1 && len <= RENDEZVOUS_CHUNK_MAX_PORTS);
			lo = len < lo ? len : lo;
			hi = len > hi ? len : hi;
			total += len;
		}
		assert_int_equal(total, i);
		assert_true(hi - lo <= 1);
		assert_int_equal(n, (i + 24) / 25);
	}
}

static void test_stuff_chunk_properties(void **state)
{
	(void)state;
	uint8_t msg[RENDEZVOUS_MAX_MSG_LEN];
	uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS];
	unsigned seen_high[256] = { 0 };
	size_t len, j, off, i;
	int n, round;

	for (round = 0; round < 40; round++) {
		randombytes_buf(msg, sizeof(msg));
		for (len = 1; len <= RENDEZVOUS_MAX_MSG_LEN; len += 1 + (size_t)round) {
			for (j = 0, off = 0; j < rendezvous_chunk_count(len); j++) {
				n = rendezvous_stuff_chunk(ports, msg, len, j,
							   round % 2 ? NULL : test_random);
				assert_int_equal(n, (int)rendezvous_chunk_len(len, j));
				for (i = 0; i < (size_t)n; i++) {
					assert_true(ports[i] >= 256); /* never 0 */
					assert_int_equal(ports[i] & 0xff, msg[off + i]);
					if (i)
						assert_true(ports[i] >> 8 > ports[i - 1] >> 8);
					seen_high[ports[i] >> 8]++;
				}
				off += (size_t)n;
			}
			assert_int_equal(off, len);
		}
	}
	/* Every high byte 1..255 gets drawn, 0 never. */
	assert_int_equal(seen_high[0], 0);
	for (i = 1; i < 256; i++)
		assert_true(seen_high[i] > 0);
	/* No such chunk. */
	assert_int_equal(rendezvous_stuff_chunk(ports, msg, 63, 3, NULL), -EINVAL);
	assert_int_equal(rendezvous_stuff_chunk(ports, msg, 0, 0, NULL), -EINVAL);
	assert_int_equal(rendezvous_stuff_chunk(ports, msg, 256, 0, NULL), -EINVAL);
}

/* ---- unstuffing, adversarial ---- */

static void test_unstuff_shuffled_with_duplicates(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t msg[RENDEZVOUS_CONFIG_LEN], out[4 * RENDEZVOUS_CONFIG_LEN], addr[16], from[16];
	size_t j, i, n, cursor = 0;

	assert_non_null(l);
	randombytes_buf(msg, sizeof(msg));
	make_addr(addr, 1);
	lists_init(l);
	lists_announce(l, addr, msg);
	/* Every port announced (or returned) twice, and ports below 256 from
	 * the same IP, which cannot be ours. */
	for (j = 0; j < 3; j++) {
		n = l->chunks[j].n_peers;
		for (i = 0; i < n; i++)
			lists_add(l, j, addr, l->peers[j][i].port);
		lists_add(l, j, addr, 0);
		lists_add(l, j, addr, 255);
	}
	lists_shuffle(l, 99);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 4), 1);
	assert_memory_equal(out, msg, sizeof(msg));
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, sizeof(msg), &cursor, out, from), 1);
	assert_memory_equal(from, addr, 16);
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, sizeof(msg), &cursor, out, from), 0);
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, sizeof(msg), &cursor, out, from), 0);
	free(l);
}

/* A publication whose chunks left from several DHT identities of one /64
 * (docs/PROTOCOL.md 6.5): read in the /64 pass, once, with a retry of a
 * chunk from a further address of the /64 (the same ports) too; chunks
 * from two /64s form no message. */
static void test_unstuff_spread_over_a_prefix(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t msg[RENDEZVOUS_CONFIG_LEN], out[4 * RENDEZVOUS_CONFIG_LEN], addr[4][16], from[16];
	uint16_t ports[3][RENDEZVOUS_CHUNK_MAX_PORTS];
	size_t j, i, cursor = 0;
	int n[3];

	assert_non_null(l);
	randombytes_buf(msg, sizeof(msg));
	for (j = 0; j < 4; j++) {
		make_addr(addr[j], (uint16_t)(0x100 + j));
		addr[j][7] = 1; /* 2001:db8:0:1::/64 */
	}
	lists_init(l);
	for (j = 0; j < 3; j++) {
		n[j] = rendezvous_stuff_chunk(ports[j], msg, sizeof(msg), j, test_random);
		for (i = 0; i < (size_t)n[j]; i++)
			lists_add(l, j, addr[j], ports[j][i]);
	}
	for (i = 0; i < (size_t)n[1]; i++) /* chunk 1 again, from a later identity */
		lists_add(l, 1, addr[3], ports[1][i]);
	lists_shuffle(l, 7);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 4), 1);
	assert_memory_equal(out, msg, sizeof(msg));
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, sizeof(msg), &cursor, out, from), 1);
	assert_memory_equal(from, addr[0], 8);
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, sizeof(msg), &cursor, out, from), 0);

	/* Chunk 2 from another /64: no group holds every chunk. */
	lists_init(l);
	addr[2][7] = 2;
	for (j = 0; j < 3; j++)
		for (i = 0; i < (size_t)n[j]; i++)
			lists_add(l, j, addr[j], ports[j][i]);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 4), 0);

	/* An IPv4 publisher is one address: no prefix pass. */
	lists_init(l);
	for (j = 0; j < 3; j++) {
		memset(addr[j], 0, 16);
		addr[j][10] = addr[j][11] = 0xff;
		addr[j][12] = 192;
		addr[j][13] = 0;
		addr[j][14] = 2;
		addr[j][15] = (uint8_t)(1 + j);
		for (i = 0; i < (size_t)n[j]; i++)
			lists_add(l, j, addr[j], ports[j][i]);
	}
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 4), 0);
	free(l);
}

static void test_unstuff_gaps_and_extras(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t msg[RENDEZVOUS_CONFIG_LEN], out[RENDEZVOUS_CONFIG_LEN], addr[16];
	size_t j;

	assert_non_null(l);
	randombytes_buf(msg, sizeof(msg));
	make_addr(addr, 1);
	for (j = 0; j < 3; j++) {
		/* A port missing from chunk j. */
		lists_init(l);
		lists_announce(l, addr, msg);
		l->peers[j][5] = l->peers[j][--l->chunks[j].n_peers];
		assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 1), 0);

		/* A whole chunk missing. */
		lists_init(l);
		lists_announce(l, addr, msg);
		l->chunks[j].n_peers = 0;
		assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 1), 0);

		/* An extra port from the same IP with an unused high byte: wrong
		 * count. */
		lists_init(l);
		lists_announce(l, addr, msg);
		{
			unsigned hi;
			size_t i;
			bool used;

			for (hi = 1; hi < 256; hi++) {
				for (i = 0, used = false; i < l->chunks[j].n_peers; i++)
					used |= (l->peers[j][i].port >> 8) == hi;
				if (!used)
					break;
			}
			lists_add(l, j, addr, (uint16_t)(hi << 8 | 0x42));
		}
		assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 1), 0);

		/* A port with a used high byte but another low byte. */
		lists_init(l);
		lists_announce(l, addr, msg);
		lists_add(l, j, addr, (uint16_t)(l->peers[j][3].port ^ 1));
		assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 1), 0);
	}
	/* Two messages announced from one IP (the republishing trap): they mix
	 * and neither decodes. */
	lists_init(l);
	lists_announce(l, addr, msg);
	msg[0] ^= 0xff;
	lists_announce(l, addr, msg);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, sizeof(msg), out, 1), 0);
	free(l);
}

static void test_unstuff_several_ip_groups(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t msgs[5][RENDEZVOUS_CONFIG_LEN], out[5 * RENDEZVOUS_CONFIG_LEN], addr[16];
	uint8_t partial[16], only_later[16];
	size_t g, i, j;
	int n;

	assert_non_null(l);
	lists_init(l);
	for (g = 0; g < 5; g++) {
		randombytes_buf(msgs[g], RENDEZVOUS_CONFIG_LEN);
		make_addr(addr, (uint16_t)(100 + g));
		lists_announce(l, addr, msgs[g]);
	}
	/* An IP with only chunks 0 and 1, and one with only chunks 1 and 2. */
	make_addr(partial, 7);
	make_addr(only_later, 8);
	for (i = 0; i < 21; i++) {
		lists_add(l, 0, partial, (uint16_t)((i + 1) << 8 | i));
		lists_add(l, 1, partial, (uint16_t)((i + 1) << 8 | i));
		lists_add(l, 1, only_later, (uint16_t)((i + 1) << 8 | i));
		lists_add(l, 2, only_later, (uint16_t)((i + 1) << 8 | i));
	}
	lists_shuffle(l, 1234);
	n = rendezvous_unstuff(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, out, 5);
	assert_int_equal(n, 5);
	/* Each group's message, once, in whatever order. */
	for (g = 0; g < 5; g++) {
		int found = 0;

		for (j = 0; j < 5; j++)
			found += memcmp(out + j * RENDEZVOUS_CONFIG_LEN, msgs[g],
					RENDEZVOUS_CONFIG_LEN) == 0;
		assert_int_equal(found, 1);
	}
	/* Bounded output. */
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, out, 2), 2);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, out, 0), 0);
	free(l);
}

static void test_unstuff_arguments(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t out[RENDEZVOUS_CONFIG_LEN], addr[16];
	size_t cursor = 0, i;

	assert_non_null(l);
	lists_init(l);
	assert_int_equal(rendezvous_unstuff(l->chunks, 2, RENDEZVOUS_CONFIG_LEN, out, 1), -EINVAL);
	assert_int_equal(rendezvous_unstuff(l->chunks, 4, RENDEZVOUS_CONFIG_LEN, out, 1), -EINVAL);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, 0, out, 1), -EINVAL);
	assert_int_equal(rendezvous_unstuff(NULL, 3, RENDEZVOUS_CONFIG_LEN, out, 1), -EINVAL);
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, NULL, 1), -EINVAL);
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, NULL, out, NULL),
			 -EINVAL);
	/* Empty lists: no candidate. */
	assert_int_equal(rendezvous_unstuff_next(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, &cursor, out,
						 NULL), 0);
	l->chunks[1].peers = NULL;
	l->chunks[1].n_peers = 1;
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, out, 1), -EINVAL);
	lists_init(l);
	make_addr(addr, 1);
	for (i = 0; i <= RENDEZVOUS_MAX_PEERS_PER_CHUNK; i++)
		lists_add(l, 2, addr, (uint16_t)(256 + i));
	assert_int_equal(rendezvous_unstuff(l->chunks, 3, RENDEZVOUS_CONFIG_LEN, out, 1), -E2BIG);
	free(l);
}

/* ---- find_config ---- */

static void test_find_config_among_junk(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], junk[RENDEZVOUS_CONFIG_LEN], addr[16], from[16];
	uint8_t x_priv[32], x_pub[32];
	struct rendezvous_config got, untouched;
	uint16_t g;

	assert_non_null(l);
	memset(&untouched, 0x5a, sizeof(untouched));
	keys_generate(x_priv, x_pub);

	/* Nothing at all. */
	lists_init(l);
	got = untouched;
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						from), -ENOENT);
	assert_memory_equal(&got, &untouched, sizeof(got));

	/* Only junk, well stuffed, from attacker IPs: candidates, none
	 * authentic. */
	for (g = 0; g < 20; g++) {
		randombytes_buf(junk, sizeof(junk));
		junk[0] = RENDEZVOUS_VERSION;
		make_addr(addr, (uint16_t)(0xbad0 + g));
		lists_announce(l, addr, junk);
	}
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						from), RENDEZVOUS_ERR_AUTH);
	assert_memory_equal(&got, &untouched, sizeof(got));

	/* A config for another client, and one from the previous window. */
	assert_int_equal(rendezvous_config_seal(sealed, sizeof(sealed), &kat_cfg, s_priv, x_pub,
						KAT_WINDOW, 0, NULL), RENDEZVOUS_CONFIG_LEN);
	make_addr(addr, 0x0001);
	lists_announce(l, addr, sealed);
	assert_int_equal(rendezvous_config_seal(sealed, sizeof(sealed), &kat_cfg, s_priv, c_pub,
						KAT_WINDOW - KAT_PERIOD_S, 0, NULL),
			 RENDEZVOUS_CONFIG_LEN);
	make_addr(addr, 0x0002);
	lists_announce(l, addr, sealed);
	lists_shuffle(l, 5);
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						from), RENDEZVOUS_ERR_AUTH);

	/* The real one, announced last among all that, is found. */
	seal_kat(sealed);
	make_addr(addr, 0x5eed);
	lists_announce(l, addr, sealed);
	lists_shuffle(l, 6);
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						from), 0);
	assert_cfg_equal(&got, &kat_cfg);
	assert_memory_equal(from, addr, 16);
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						NULL), 0);
	/* The same peers do not open for the next window, another epoch, or
	 * another client. */
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub,
						KAT_WINDOW + KAT_PERIOD_S, 0, &got, from),
			 RENDEZVOUS_ERR_AUTH);
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 1, &got,
						from), RENDEZVOUS_ERR_AUTH);
	free(l);
}

static void test_find_config_reports_version(void **state)
{
	(void)state;
	struct peer_lists *l = malloc(sizeof(*l));
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], addr[16];
	struct rendezvous_config got;

	assert_non_null(l);
	lists_init(l);
	seal_kat(sealed);
	sealed[0] = 2; /* a future server */
	make_addr(addr, 0x5eed);
	lists_announce(l, addr, sealed);
	randombytes_buf(sealed, sizeof(sealed));
	make_addr(addr, 0xbad);
	lists_announce(l, addr, sealed);
	assert_int_equal(rendezvous_find_config(l->chunks, 3, c_priv, s_pub, KAT_WINDOW, 0, &got,
						NULL), RENDEZVOUS_ERR_VERSION);
	assert_int_equal(rendezvous_find_config(l->chunks, 2, c_priv, s_pub, KAT_WINDOW, 0, &got,
						NULL), -EINVAL);
	free(l);
}

/* The audit trail and the logs say what went wrong in the protocol's words
 * (the errno values the codes alias would say "Stale file handle"). */
static void test_error_messages(void **state)
{
	static const int codes[] = { RENDEZVOUS_ERR_LENGTH, RENDEZVOUS_ERR_VERSION, RENDEZVOUS_ERR_AUTH };

	(void)state;
	check_error_table(rendezvous_strerror, codes, sizeof(codes) / sizeof(codes[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_known_answer_vectors, setup),
		cmocka_unit_test_setup(test_known_ports_found, setup),
		cmocka_unit_test_setup(test_round_trip_fresh_randomness, setup),
		cmocka_unit_test_setup(test_seal_arguments, setup),
		cmocka_unit_test_setup(test_truncated_and_oversized, setup),
		cmocka_unit_test_setup(test_version, setup),
		cmocka_unit_test_setup(test_every_bit_flip, setup),
		cmocka_unit_test_setup(test_wrong_keys, setup),
		cmocka_unit_test_setup(test_replayed_into_other_window_or_epoch, setup),
		cmocka_unit_test_setup(test_authentic_but_invalid, setup),
		cmocka_unit_test_setup(test_messages, setup),
		cmocka_unit_test_setup(test_chunk_sizes, setup),
		cmocka_unit_test_setup(test_stuff_chunk_properties, setup),
		cmocka_unit_test_setup(test_unstuff_shuffled_with_duplicates, setup),
		cmocka_unit_test_setup(test_unstuff_spread_over_a_prefix, setup),
		cmocka_unit_test_setup(test_unstuff_gaps_and_extras, setup),
		cmocka_unit_test_setup(test_unstuff_several_ip_groups, setup),
		cmocka_unit_test_setup(test_unstuff_arguments, setup),
		cmocka_unit_test_setup(test_find_config_among_junk, setup),
		cmocka_unit_test_setup(test_find_config_reports_version, setup),
		cmocka_unit_test(test_error_messages),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
