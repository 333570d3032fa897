#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/itemkey.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/rendezvous.h"

/* Known answers: docs/PROTOCOL.md ("BEP 44 mutable items"), recomputed with
 * plain-integer Edwards arithmetic by tests/vectors/check_items.py, which
 * also checks that every value below is the one it computes. Keys and T
 * are those of tests/vectors/vectors.json. */
static const char kat_client_priv[] = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
static const char kat_server_priv[] = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";
#define KAT_T UINT64_C(1767225600)
static const char kat_identity_public[] =
	"6e815df0558ff8ecd98c2a25f92d019b16a9e08b99d46b51fd650328a9fc381b";
static const char kat_blind_factor[] =
	"f38416385c7d823f37f193464a6c9b259cd87327c629ac47f360974fcfa80b08";
static const char kat_blinded_scalar[] =
	"632eabe43fef7f092b918dc88cb8be78a0d9e8a0b0eccbbc720b821a5d370208";
static const char kat_nonce_prefix[] =
	"44054d0becc18262d19cd8a87e7c1af52ff58e1668ff02bde297528fb9b814b6";
static const char kat_blinded_public[] =
	"87d7f6355e72fdd49f703b59abde13ef126897dc612107ac1d1655e22a49f607";
static const char kat_item_target[] = "2351753998e659b1c300781956428f56d8507fa0";
static const char kat_next_window_blinded_public[] =
	"688ac48abcd119fb29474cbfa8de7cbf5d3b0fe483d49babd7f1cac6f8f0642f";
static const char kat_message_blinded_public[] =
	"f3c869262a60f661ee96683ac042e2b75ab63ce4c0b02da2f8bd923d6e966fa1";
static const char kat_item_signed_message[] =
	"333a736571693065313a7636333a01c8c9cacbcccdcecf5c8896f8bd5bdfc292a5a8630b2f88b2f335cbb85944ba0ccc571581ee65a56313a6a199902ce3ea9abbae8ea404d650418f55066c67";
static const char kat_item_signature[] =
	"de526d5a9983178632e592840b04197511411272a285d7b3778653222171b3c92bece6b934700a70c3f48cb304e797fd13ddc30959397b32e95f5f2cdf16b108";

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	size_t n = 0;
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, &n, NULL), 0);
	assert_int_equal(n, len);
}

struct pair {
	uint8_t s_priv[32], s_pub[32], c_priv[32], c_pub[32], shared[32];
};

static void kat_pair(struct pair *p)
{
	unhex(p->s_priv, 32, kat_server_priv);
	unhex(p->c_priv, 32, kat_client_priv);
	keys_public_from_private(p->s_pub, p->s_priv);
	keys_public_from_private(p->c_pub, p->c_priv);
	assert_int_equal(keys_shared_secret(p->shared, p->c_priv, p->s_pub), 0);
}

static void test_vectors(void **state)
{
	(void)state;
	struct pair p;
	struct itemkey_secret k;
	uint8_t want[64], A[32], a[32], h[32], pub[32], sig[64], msg[160];

	kat_pair(&p);
	assert_int_equal(itemkey_identity_public(A, p.s_pub), 0);
	unhex(want, 32, kat_identity_public);
	assert_memory_equal(A, want, 32);
	assert_int_equal(itemkey_identity_private(a, pub, p.s_priv), 0);
	assert_memory_equal(pub, want, 32);

	assert_int_equal(itemkey_blind_factor(h, A, p.shared, KAT_T, ITEMKEY_CONFIG), 0);
	unhex(want, 32, kat_blind_factor);
	assert_memory_equal(h, want, 32);

	assert_int_equal(itemkey_blind_public(pub, p.s_pub, p.shared, KAT_T, ITEMKEY_CONFIG), 0);
	unhex(want, 32, kat_blinded_public);
	assert_memory_equal(pub, want, 32);
	assert_int_equal(itemkey_blind_secret(&k, p.s_priv, p.shared, KAT_T, ITEMKEY_CONFIG), 0);
	assert_memory_equal(k.pub, want, 32);
	uint8_t target[20];
	dht_item_target(k.pub, NULL, 0, target);
	unhex(want, 20, kat_item_target);
	assert_memory_equal(target, want, 20);
	unhex(want, 32, kat_blinded_scalar);
	assert_memory_equal(k.scalar, want, 32);
	unhex(want, 32, kat_nonce_prefix);
	assert_memory_equal(k.prefix, want, 32);

	assert_int_equal(itemkey_blind_public(pub, p.s_pub, p.shared, KAT_T + 900, ITEMKEY_CONFIG), 0);
	unhex(want, 32, kat_next_window_blinded_public);
	assert_memory_equal(pub, want, 32);
	assert_int_equal(itemkey_blind_public(pub, p.s_pub, p.shared, KAT_T, ITEMKEY_MESSAGE), 0);
	unhex(want, 32, kat_message_blinded_public);
	assert_memory_equal(pub, want, 32);

	size_t len = strlen(kat_item_signed_message) / 2;
	assert_true(len <= sizeof(msg));
	unhex(msg, len, kat_item_signed_message);
	assert_int_equal(itemkey_sign(sig, &k, msg, len), 0);
	unhex(want, 64, kat_item_signature);
	assert_memory_equal(sig, want, 64);
	assert_int_equal(itemkey_verify(sig, k.pub, msg, len), 0);
}

/* The client's side and the server's side meet for random key pairs too,
 * including keys whose Edwards form needed the negated scalar. */
static void test_sides_agree_for_random_keys(void **state)
{
	(void)state;
	int n_negated = 0;
	for (int i = 0; i < 64; i++) {
		uint8_t s_priv[32], s_pub[32], c_priv[32], c_pub[32], s[32], pub[32], a[32], A[32];
		uint8_t A_pub[32], sig[64];
		struct itemkey_secret k;
		keys_generate(s_priv, s_pub);
		keys_generate(c_priv, c_pub);
		assert_int_equal(keys_shared_secret(s, s_priv, c_pub), 0);
		assert_int_equal(itemkey_identity_private(a, A, s_priv), 0);
		assert_int_equal(itemkey_identity_public(A_pub, s_pub), 0);
		assert_memory_equal(A, A_pub, 32);
		uint8_t wide[64] = { 0 };
		memcpy(wide, s_priv, 32);
		wide[0] &= 248;
		wide[31] = (uint8_t)((wide[31] & 127) | 64);
		uint8_t x[32];
		crypto_core_ed25519_scalar_reduce(x, wide);
		n_negated += memcmp(x, a, 32) != 0;
		assert_int_equal(itemkey_blind_secret(&k, s_priv, s, 1000 + (uint64_t)i, ITEMKEY_CONFIG), 0);
		assert_int_equal(itemkey_blind_public(pub, s_pub, s, 1000 + (uint64_t)i, ITEMKEY_CONFIG), 0);
		assert_memory_equal(k.pub, pub, 32);
		assert_int_equal(itemkey_sign(sig, &k, (const uint8_t *)"m", 1), 0);
		assert_int_equal(itemkey_verify(sig, pub, (const uint8_t *)"m", 1), 0);
		/* Another window, another client: unrelated keys. */
		uint8_t other[32];
		assert_int_equal(itemkey_blind_public(other, s_pub, s, 1001 + (uint64_t)i, ITEMKEY_CONFIG), 0);
		assert_memory_not_equal(other, pub, 32);
		assert_memory_not_equal(pub, A, 32);
	}
	/* Half of all keys need the negation: both branches ran. */
	assert_true(n_negated > 4 && n_negated < 60);
}

/* What an attacker can try: a changed message, a signature under the
 * server's unblinded identity, a signature made with another client's
 * blinded key. */
static void test_forgeries_fail(void **state)
{
	(void)state;
	struct pair p;
	struct itemkey_secret k, other;
	uint8_t sig[64], A[32], o_priv[32], o_pub[32], o_s[32];
	uint8_t msg[] = "3:seqi1e1:v3:abc";

	kat_pair(&p);
	assert_int_equal(itemkey_blind_secret(&k, p.s_priv, p.shared, KAT_T, ITEMKEY_CONFIG), 0);
	assert_int_equal(itemkey_sign(sig, &k, msg, sizeof(msg) - 1), 0);
	assert_int_equal(itemkey_verify(sig, k.pub, msg, sizeof(msg) - 1), 0);
	msg[7] = '2';
	assert_int_equal(itemkey_verify(sig, k.pub, msg, sizeof(msg) - 1), -EBADMSG);
	msg[7] = '1';
	sig[40] ^= 1;
	assert_int_equal(itemkey_verify(sig, k.pub, msg, sizeof(msg) - 1), -EBADMSG);
	sig[40] ^= 1;
	assert_int_equal(itemkey_identity_public(A, p.s_pub), 0);
	assert_int_equal(itemkey_verify(sig, A, msg, sizeof(msg) - 1), -EBADMSG);

	keys_generate(o_priv, o_pub);
	assert_int_equal(keys_shared_secret(o_s, p.s_priv, o_pub), 0);
	assert_int_equal(itemkey_blind_secret(&other, p.s_priv, o_s, KAT_T, ITEMKEY_CONFIG), 0);
	assert_memory_not_equal(other.pub, k.pub, 32);
	assert_int_equal(itemkey_sign(sig, &other, msg, sizeof(msg) - 1), 0);
	assert_int_equal(itemkey_verify(sig, k.pub, msg, sizeof(msg) - 1), -EBADMSG);
}

/* u = -1 has no Edwards point; a low-order u maps to a small-order point. */
static void test_degenerate_server_keys(void **state)
{
	(void)state;
	uint8_t u[32], A[32], s[32] = { 1 }, pub[32];
	memset(u, 0, 32);
	u[0] = 0xec;            /* p - 1 = 2^255 - 20 */
	memset(u + 1, 0xff, 30);
	u[31] = 0x7f;
	assert_int_equal(itemkey_identity_public(A, u), -EINVAL);
	memset(u, 0, 32);       /* u = 0: y = -1, order 2 */
	assert_int_equal(itemkey_identity_public(A, u), -EINVAL);
	u[0] = 1;               /* u = 1: y = 0, order 4 */
	assert_int_equal(itemkey_identity_public(A, u), -EINVAL);
	assert_int_equal(itemkey_blind_public(pub, u, s, 1, ITEMKEY_CONFIG), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_sides_agree_for_random_keys),
		cmocka_unit_test(test_forgeries_fail),
		cmocka_unit_test(test_degenerate_server_keys),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
