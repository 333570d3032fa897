#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dht/bencode.h"

static int dec(const char *s, struct benc_tok *t, size_t n, unsigned flags)
{
	return bencode_decode((const uint8_t *)s, strlen(s), t, n, flags);
}

static void test_valid_inputs_decode(void **state)
{
	(void)state;
	static const struct { const char *in; int ntoks; } cases[] = {
		{ "i0e", 1 }, { "i42e", 1 }, { "i-7e", 1 }, { "0:", 1 },
		{ "4:spam", 1 }, { "le", 1 }, { "de", 1 }, { "l4:spami42ee", 3 },
		{ "d3:bar4:spam3:fooi42ee", 5 },
		{ "d1:ad1:bi1eee", 5 },
		{ "i9223372036854775807e", 1 }, { "i-9223372036854775808e", 1 },
	};
	struct benc_tok t[16];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(dec(cases[i].in, t, 16, BENC_STRICT_ORDER), cases[i].ntoks);

	assert_int_equal(dec("d3:bar4:spam3:fooi42ee", t, 16, 0), 5);
	int v = bencode_dict_get(t, 0, "foo");
	assert_int_equal(v, 4);
	assert_int_equal(t[v].type, BENC_INT);
	assert_int_equal(t[v].ival, 42);
	v = bencode_dict_get(t, 0, "bar");
	assert_true(bencode_str_is(t, v, "spam"));
	assert_int_equal(bencode_dict_get(t, 0, "baz"), -1);
	assert_int_equal(t[0].span, 5);
	assert_int_equal(t[0].count, 2);

	assert_int_equal(dec("l1:ali1ei2eed1:xi3eee", t, 16, 0), 8);
	assert_int_equal(bencode_list_item(t, 0, 0), 1);
	assert_int_equal(bencode_list_item(t, 0, 1), 2);
	assert_int_equal(bencode_list_item(t, 0, 2), 5);
	assert_int_equal(bencode_list_item(t, 0, 3), -1);
	assert_int_equal(dec("i-9223372036854775808e", t, 16, 0), 1);
	assert_true(t[0].ival == INT64_MIN);
}

static void test_malformed_inputs_rejected(void **state)
{
	(void)state;
	static const char *bad[] = {
		"", "i", "i42", "ie", "i-e", "i-0e", "i01e", "i-01e", "i00e",
		"i9223372036854775808e", "i-9223372036854775809e", "i1.5e",
		"01:a", "5:spam", "-1:a", ":", "4spam",
		"l", "l4:spam", "d", "d3:fooe", "di1ei2ee", "x",
		"d1:ai1e1:ai2ee",            /* duplicate key */
		"d1:bi1e1:ai2e1:bi3ee",      /* duplicate, not adjacent */
		"i1ei2e", "4:spamX", "dee", "lee",  /* trailing garbage */
		"99999999999:a",             /* huge length */
		"4294967296:a",              /* length beyond 32 bits */
	};
	struct benc_tok t[16];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = dec(bad[i], t, 16, 0);
		if (rc != -EINVAL)
			fail_msg("input '%s' gave %d, expected -EINVAL", bad[i], rc);
	}
	assert_int_equal(bencode_decode(NULL, 0, t, 16, 0), -EINVAL);
}

static void test_key_order_only_checked_when_strict(void **state)
{
	(void)state;
	struct benc_tok t[8];
	assert_int_equal(dec("d1:bi1e1:ai2ee", t, 8, 0), 5);
	assert_int_equal(dec("d1:bi1e1:ai2ee", t, 8, BENC_STRICT_ORDER), -EINVAL);
	/* Prefix ordering: "a" < "ab". */
	assert_int_equal(dec("d1:ai1e2:abi2ee", t, 8, BENC_STRICT_ORDER), 5);
	assert_int_equal(dec("d2:abi1e1:ai2ee", t, 8, BENC_STRICT_ORDER), -EINVAL);
}

static void test_depth_and_token_limits(void **state)
{
	(void)state;
	char buf[2 * (BENC_MAX_DEPTH + 2) + 1];
	struct benc_tok t[64];
	size_t n = 0;
	for (int i = 0; i < BENC_MAX_DEPTH; i++)
		buf[n++] = 'l';
	for (int i = 0; i < BENC_MAX_DEPTH; i++)
		buf[n++] = 'e';
	buf[n] = 0;
	assert_int_equal(dec(buf, t, 64, 0), BENC_MAX_DEPTH);
	n = 0;
	for (int i = 0; i < BENC_MAX_DEPTH + 1; i++)
		buf[n++] = 'l';
	for (int i = 0; i < BENC_MAX_DEPTH + 1; i++)
		buf[n++] = 'e';
	buf[n] = 0;
	assert_int_equal(dec(buf, t, 64, 0), -ELOOP);
	assert_int_equal(dec("li1ei2ei3ee", t, 3, 0), -E2BIG);
	assert_int_equal(dec("li1ei2ei3ee", t, 4, 0), 4);
}

static void test_truncations_of_valid_message_rejected(void **state)
{
	(void)state;
	const char *msg = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
	struct benc_tok t[32];
	size_t len = strlen(msg);
	assert_true(bencode_decode((const uint8_t *)msg, len, t, 32, BENC_STRICT_ORDER) > 0);
	for (size_t i = 1; i < len; i++)
		assert_int_equal(bencode_decode((const uint8_t *)msg, i, t, 32, 0), -EINVAL);
}

static void test_encoder_round_trip_and_overflow(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct benc_writer w;
	bencode_writer_init(&w, buf, sizeof(buf));
	bencode_put_dict(&w);
	bencode_put_cstr(&w, "a");
	bencode_put_int(&w, -12);
	bencode_put_cstr(&w, "b");
	bencode_put_list(&w);
	bencode_put_str(&w, "xyz", 3);
	bencode_put_int(&w, INT64_MIN);
	bencode_put_end(&w);
	bencode_put_end(&w);
	int n = bencode_writer_finish(&w);
	const char *want = "d1:ai-12e1:bl3:xyzi-9223372036854775808eee";
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
	struct benc_tok t[8];
	assert_int_equal(bencode_decode(buf, (size_t)n, t, 8, BENC_STRICT_ORDER), 7);

	bencode_writer_init(&w, buf, 5);
	bencode_put_cstr(&w, "hello");
	assert_int_equal(bencode_writer_finish(&w), -ENOBUFS);
	bencode_put_int(&w, 1);
	assert_int_equal(bencode_writer_finish(&w), -ENOBUFS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_inputs_decode),
		cmocka_unit_test(test_malformed_inputs_rejected),
		cmocka_unit_test(test_key_order_only_checked_when_strict),
		cmocka_unit_test(test_depth_and_token_limits),
		cmocka_unit_test(test_truncations_of_valid_message_rejected),
		cmocka_unit_test(test_encoder_round_trip_and_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
