#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/core/hash.h"

/* H_L(x) must equal SHA-256(len(L) || L || x) computed in one piece. */
static void test_labeled_hash_matches_manual_encoding(void **state)
{
	(void)state;
	uint8_t buf[1 + 9 + 3 + 8], manual[32], got[32];
	struct hash_ctx ctx;

	buf[0] = 9;
	memcpy(buf + 1, "mt6d/1 xy", 9);
	memcpy(buf + 10, "abc", 3);
	put_be64(buf + 13, 0x0102030405060708ULL);
	crypto_hash_sha256(manual, buf, sizeof(buf));

	hash_begin(&ctx, "mt6d/1 xy");
	hash_add(&ctx, "abc", 3);
	hash_add_u64(&ctx, 0x0102030405060708ULL);
	hash_end(&ctx, got);
	assert_memory_equal(manual, got, 32);
}

/* A different label gives an unrelated digest for the same input. */
static void test_labels_separate_domains(void **state)
{
	(void)state;
	uint8_t a[32], b[32];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 a");
	hash_add(&ctx, "x", 1);
	hash_end(&ctx, a);
	/* Same bytes fed to SHA-256 if labels were not length-prefixed. */
	hash_begin(&ctx, "mt6d/1 ");
	hash_add(&ctx, "ax", 2);
	hash_end(&ctx, b);
	assert_memory_not_equal(a, b, 32);
}

static void test_big_endian_helpers_round_trip(void **state)
{
	(void)state;
	uint8_t b[8];

	put_be16(b, 0xbeef);
	assert_int_equal(b[0], 0xbe);
	assert_int_equal(get_be16(b), 0xbeef);
	put_be32(b, 0xdeadbeef);
	assert_int_equal(b[0], 0xde);
	assert_int_equal(get_be32(b), 0xdeadbeef);
	put_be64(b, 0x0011223344556677ULL);
	assert_int_equal(b[7], 0x77);
	assert_true(get_be64(b) == 0x0011223344556677ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labeled_hash_matches_manual_encoding),
		cmocka_unit_test(test_labels_separate_domains),
		cmocka_unit_test(test_big_endian_helpers_round_trip),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
