#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/hash.h"
#include "mt6d/core/keys.h"

/* Known-answer vectors: tests/vectors/vectors.json, printed in
 * docs/PROTOCOL.md ("Test vectors"); tests/vectors/check_vectors.py
 * recomputes them with hashlib and PyNaCl and checks that each expected value
 * below is the one in the JSON. */
static const char kat_client_priv_hex[] =
	"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
static const char kat_server_priv_hex[] =
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
static const char kat_shared_secret_hex[] =
	"0b7480daab7ce8926aaf208e30ef89c8403f7d00aa3db0428f914ead05c85e09";
static const char kat_intro_key_hex[] = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
static const char kat_client_iid_hex[] = "56429b640adec084";
static const char kat_client_seed[] = "2001:db8:c:1:5642:9b64:ade:c084";
static const char kat_server_seed[] = "2001:db8:5:1::5eed";
#define KAT_ROTATION_MS 3000
#define KAT_SLOT_TIME_MS INT64_C(1767226000250)

static const struct {
	int64_t time_s;
	uint32_t period_s;
	uint64_t window_start;
	const char *descriptor_hex;
} kat_windows[] = {
	{ 1767226000, 900, UINT64_C(1767225600), "5615f55e65841b64e6bcb6d855ba56bb7d343dcf" },
	{ 1767226500, 900, UINT64_C(1767226500), "e181305d8b9ee657c1c43aee5c1eb7b87169c3ba" },
	{ 1767225599, 900, UINT64_C(1767224700), "c0c9d5de38559a8889aa000cce2b30c0467a0adf" },
	{ 1767226000, 60, UINT64_C(1767225960), "797138f2f66652b0f44edeb15a7209cfdedb9862" },
};

struct kat_slot {
	uint64_t slot;
	const char *address;
	uint16_t port;
};

static const struct kat_slot kat_server_slots[] = {
	{UINT64_C(589075333), "2001:db8:5:1:d1ce:5388:6505:a73b", 23765},
	{UINT64_C(589075334), "2001:db8:5:1:e93a:f9f3:1868:dd68", 53924},
	{UINT64_C(589075335), "2001:db8:5:1:612a:cb97:3e37:d204", 58907},
};

static const struct kat_slot kat_client_slots[] = {
	{UINT64_C(589075333), "2001:db8:c:1:b61e:b882:7943:bba9", 52033},
	{UINT64_C(589075334), "2001:db8:c:1:9e04:5538:d66a:c8d0", 14196},
	{UINT64_C(589075335), "2001:db8:c:1:6a61:10da:9a23:1fa5", 1092},
};

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static void kat_secret(uint8_t s[32])
{
	uint8_t c[32], spriv[32], S[32];

	unhex(kat_client_priv_hex, c, 32);
	unhex(kat_server_priv_hex, spriv, 32);
	keys_public_from_private(S, spriv);
	assert_int_equal(keys_shared_secret(s, c, S), 0);
}

static void test_window_start(void **state)
{
	(void)state;
	assert_true(derive_window_start(1767226000, 900) == UINT64_C(1767225600));
	/* A window starts at its own boundary and ends just before the next. */
	assert_true(derive_window_start(1767225600, 900) == UINT64_C(1767225600));
	assert_true(derive_window_start(1767226499, 900) == UINT64_C(1767225600));
	assert_true(derive_window_start(1767226500, 900) == UINT64_C(1767226500));
	assert_true(derive_window_start(1, 1) == 1);
	/* Before the epoch, and a zero period: window 0, never a division by 0. */
	assert_true(derive_window_start(0, 900) == 0);
	assert_true(derive_window_start(-5, 900) == 0);
	assert_true(derive_window_start(INT64_MIN, 900) == 0);
	assert_true(derive_window_start(1767226000, 0) == 0);
	assert_true(derive_window_start(INT64_MAX, UINT32_MAX) ==
		    (uint64_t)INT64_MAX - (uint64_t)INT64_MAX % UINT32_MAX);
}

static void test_descriptor_vectors(void **state)
{
	(void)state;
	uint8_t s[32], d[DERIVE_DESCRIPTOR_LEN], want[DERIVE_DESCRIPTOR_LEN];
	size_t i;

	kat_secret(s);
	for (i = 0; i < sizeof(kat_windows) / sizeof(kat_windows[0]); i++) {
		uint64_t T = derive_window_start(kat_windows[i].time_s, kat_windows[i].period_s);

		assert_true(T == kat_windows[i].window_start);
		derive_descriptor(d, s, T);
		unhex(kat_windows[i].descriptor_hex, want, sizeof(want));
		assert_memory_equal(d, want, sizeof(d));
	}
}

/* d_T is H_"mt6d/1 descriptor"(s || u64 T) truncated: recomputed by hand. */
static void test_descriptor_definition(void **state)
{
	(void)state;
	uint8_t s[32], buf[1 + 17 + 32 + 8], h[32], d[DERIVE_DESCRIPTOR_LEN];

	memset(s, 0xa5, sizeof(s));
	buf[0] = 17;
	memcpy(buf + 1, "mt6d/1 descriptor", 17);
	memcpy(buf + 18, s, 32);
	put_be64(buf + 50, UINT64_C(0x0102030405060708));
	crypto_hash_sha256(h, buf, sizeof(buf));
	derive_descriptor(d, s, UINT64_C(0x0102030405060708));
	assert_memory_equal(d, h, DERIVE_DESCRIPTOR_LEN);
	/* Consecutive windows and another secret: unrelated descriptors. */
	derive_descriptor(h, s, UINT64_C(0x0102030405060709));
	assert_memory_not_equal(d, h, DERIVE_DESCRIPTOR_LEN);
	s[31] ^= 1;
	derive_descriptor(h, s, UINT64_C(0x0102030405060708));
	assert_memory_not_equal(d, h, DERIVE_DESCRIPTOR_LEN);
}

static void test_client_iid_vector(void **state)
{
	(void)state;
	uint8_t s[32], k[16], iid[DERIVE_IID_LEN], want[DERIVE_IID_LEN], s2[32];
	struct in6_addr seed;

	kat_secret(s);
	unhex(kat_shared_secret_hex, s2, 32);
	assert_memory_equal(s, s2, 32);
	unhex(kat_intro_key_hex, k, 16);
	derive_client_iid(iid, s, k, sizeof(k));
	unhex(kat_client_iid_hex, want, sizeof(want));
	assert_memory_equal(iid, want, sizeof(iid));
	assert_int_equal(inet_pton(AF_INET6, kat_client_seed, &seed), 1);
	assert_memory_equal(seed.s6_addr + 8, iid, 8);
	/* Another K, another client: another IID. */
	k[0] ^= 1;
	derive_client_iid(want, s, k, sizeof(k));
	assert_memory_not_equal(iid, want, sizeof(iid));
	k[0] ^= 1;
	s[0] ^= 1;
	derive_client_iid(want, s, k, sizeof(k));
	assert_memory_not_equal(iid, want, sizeof(iid));
}

static void check_slots(const char *seed_text, const struct kat_slot *rows, size_t n)
{
	struct in6_addr seed, want, got;
	uint8_t k[16];
	uint16_t port;
	size_t i;

	unhex(kat_intro_key_hex, k, 16);
	assert_int_equal(inet_pton(AF_INET6, seed_text, &seed), 1);
	assert_true(derive_slot(KAT_SLOT_TIME_MS, KAT_ROTATION_MS) == rows[0].slot);
	for (i = 0; i < n; i++) {
		derive_slot_endpoint(seed.s6_addr, k, sizeof(k), rows[i].slot, &got, &port);
		assert_int_equal(inet_pton(AF_INET6, rows[i].address, &want), 1);
		assert_memory_equal(&got, &want, 16);
		assert_int_equal(port, rows[i].port);
		/* Either output may be omitted. */
		derive_slot_endpoint(seed.s6_addr, k, sizeof(k), rows[i].slot, NULL, &port);
		assert_int_equal(port, rows[i].port);
		derive_slot_endpoint(seed.s6_addr, k, sizeof(k), rows[i].slot, &got, NULL);
		assert_memory_equal(&got, &want, 16);
	}
}

static void test_slot_vectors(void **state)
{
	(void)state;
	check_slots(kat_server_seed, kat_server_slots, 3);
	check_slots(kat_client_seed, kat_client_slots, 3);
}

static void test_slot_number(void **state)
{
	(void)state;
	assert_true(derive_slot(2999, 3000) == 0);
	assert_true(derive_slot(3000, 3000) == 1);
	assert_true(derive_slot(KAT_SLOT_TIME_MS, 3000) == UINT64_C(589075333));
	assert_true(derive_slot(-1, 3000) == 0);
	assert_true(derive_slot(INT64_MIN, 3000) == 0);
	assert_true(derive_slot(12345, 0) == 0);
	assert_true(derive_slot(INT64_MAX, 1) == (uint64_t)INT64_MAX);
}

/* The address keeps the seed's /64 prefix; only IID', port and nothing else
 * depend on IID, key and slot; ports never fall below 1024. */
static void test_slot_endpoint_properties(void **state)
{
	(void)state;
	uint8_t seed[16], key[32];
	struct in6_addr a, b;
	uint16_t port, port2, min_port = 65535;
	uint64_t slot;

	memset(seed, 0x20, 8);
	memset(seed + 8, 0x77, 8);
	memset(key, 0x42, sizeof(key));
	for (slot = 0; slot < 20000; slot++) {
		derive_slot_endpoint(seed, key, sizeof(key), slot, &a, &port);
		assert_memory_equal(a.s6_addr, seed, 8);
		assert_false(derive_iid_is_reserved(a.s6_addr + 8));
		assert_true(port >= DERIVE_PORT_MIN);
		if (port < min_port)
			min_port = port;
	}
	/* 20,000 draws over 64,512 ports: the low end is reached. */
	assert_true(min_port < DERIVE_PORT_MIN + 100);
	/* The prefix is not hashed: roaming to another /64 keeps the IID. */
	derive_slot_endpoint(seed, key, sizeof(key), 7, &a, &port);
	seed[0] ^= 0xff;
	derive_slot_endpoint(seed, key, sizeof(key), 7, &b, &port2);
	assert_memory_equal(a.s6_addr + 8, b.s6_addr + 8, 8);
	assert_int_equal(port, port2);
	/* The seed IID, the key and its length all change the result. */
	seed[15] ^= 1;
	derive_slot_endpoint(seed, key, sizeof(key), 7, &b, &port2);
	assert_memory_not_equal(a.s6_addr + 8, b.s6_addr + 8, 8);
	seed[15] ^= 1;
	derive_slot_endpoint(seed, key, 16, 7, &b, &port2);
	assert_memory_not_equal(a.s6_addr + 8, b.s6_addr + 8, 8);
}

static void test_reserved_iids(void **state)
{
	(void)state;
	static const uint8_t reserved[][8] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0 },                           /* subnet-router anycast */
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },   /* all ones */
		{ 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80 },   /* RFC 2526, first */
		{ 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe },
		{ 0x02, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x00, 0x00 },   /* RFC 5453 IANA block */
		{ 0x02, 0x00, 0x5e, 0xff, 0xfe, 0xff, 0xff, 0xff },
		{ 0x02, 0x00, 0x5e, 0xff, 0xfe, 0x12, 0x34, 0x56 },
	};
	static const uint8_t allowed[][8] = {
		{ 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },   /* just below RFC 2526 */
		{ 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe },
		{ 0x02, 0x00, 0x5e, 0xff, 0xfd, 0xff, 0xff, 0xff },   /* just below the block */
		{ 0x02, 0x00, 0x5e, 0xff, 0xff, 0x00, 0x00, 0x00 },   /* just above it */
		{ 0x56, 0x42, 0x9b, 0x64, 0x0a, 0xde, 0xc0, 0x84 },
	};
	size_t i;

	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		assert_true(derive_iid_is_reserved(reserved[i]));
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		assert_false(derive_iid_is_reserved(allowed[i]));
}

/* The IID is h[0..7] unless that is reserved (then h[8..15]). No input is
 * known whose hash starts with a reserved IID (about 2^-56 per try), so the
 * rule is checked against the hash itself over many inputs. */
static void test_iid_selection_matches_hash(void **state)
{
	(void)state;
	uint8_t s[32], key[16], iid[8], h[32];
	struct hash_ctx ctx;
	int i;

	memset(s, 3, sizeof(s));
	for (i = 0; i < 1000; i++) {
		memset(key, 0, sizeof(key));
		put_be32(key, (uint32_t)i);
		derive_client_iid(iid, s, key, sizeof(key));
		hash_begin(&ctx, "mt6d/1 client-iid");
		hash_add(&ctx, s, sizeof(s));
		hash_add(&ctx, key, sizeof(key));
		hash_end(&ctx, h);
		assert_memory_equal(iid, derive_iid_is_reserved(h) ? h + 8 : h, 8);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_start),
		cmocka_unit_test(test_descriptor_vectors),
		cmocka_unit_test(test_descriptor_definition),
		cmocka_unit_test(test_client_iid_vector),
		cmocka_unit_test(test_slot_vectors),
		cmocka_unit_test(test_slot_number),
		cmocka_unit_test(test_slot_endpoint_properties),
		cmocka_unit_test(test_reserved_iids),
		cmocka_unit_test(test_iid_selection_matches_hash),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
