#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mt6d/core/replay.h"

static void test_fresh_window_accepts_any_first_counter(void **state)
{
	(void)state;
	struct replay r;
	static const uint64_t firsts[] = { 0, 1, 63, 64, 2047, 2048, 1u << 20, UINT64_MAX - 1 };

	for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
		replay_init(&r);
		assert_int_equal(replay_check_and_update(&r, firsts[i]), REPLAY_ACCEPT);
		assert_int_equal(replay_check_and_update(&r, firsts[i]), REPLAY_DUPLICATE);
	}
}

static void test_in_order_accepted_once(void **state)
{
	(void)state;
	struct replay r;

	replay_init(&r);
	for (uint64_t c = 0; c < 10000; c++)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_ACCEPT);
	/* Everything still inside the window is a duplicate, below it too old. */
	for (uint64_t c = 9999 - REPLAY_WINDOW; c < 10000; c++)
		assert_int_equal(replay_check(&r, c), REPLAY_DUPLICATE);
	assert_int_equal(replay_check(&r, 9999 - REPLAY_WINDOW - 1), REPLAY_TOO_OLD);
	assert_int_equal(replay_check(&r, 0), REPLAY_TOO_OLD);
}

/* The window's edge: top - REPLAY_WINDOW is the oldest counter still decided
 * exactly; one below it is refused as too old. */
static void test_window_edge(void **state)
{
	(void)state;
	struct replay r;
	const uint64_t top = 100000;

	replay_init(&r);
	assert_int_equal(replay_check_and_update(&r, top), REPLAY_ACCEPT);
	assert_int_equal(replay_check(&r, top - REPLAY_WINDOW - 1), REPLAY_TOO_OLD);
	assert_int_equal(replay_check_and_update(&r, top - REPLAY_WINDOW), REPLAY_ACCEPT);
	assert_int_equal(replay_check_and_update(&r, top - REPLAY_WINDOW), REPLAY_DUPLICATE);
	assert_int_equal(replay_check_and_update(&r, top - REPLAY_WINDOW + 1), REPLAY_ACCEPT);
	assert_int_equal(replay_check_and_update(&r, top - 1), REPLAY_ACCEPT);
	assert_int_equal(replay_check_and_update(&r, top - 1), REPLAY_DUPLICATE);
	/* Advancing by one moves the edge by one. */
	assert_int_equal(replay_check_and_update(&r, top + 1), REPLAY_ACCEPT);
	assert_int_equal(replay_check(&r, top - REPLAY_WINDOW), REPLAY_TOO_OLD);
	assert_int_equal(replay_check(&r, top - REPLAY_WINDOW + 1), REPLAY_DUPLICATE);
	assert_int_equal(replay_check_and_update(&r, top - REPLAY_WINDOW + 2), REPLAY_ACCEPT);
}

/* Out of order within the window: a reversed and interleaved block is
 * accepted exactly once each. */
static void test_reordered_within_window(void **state)
{
	(void)state;
	struct replay r;

	replay_init(&r);
	assert_int_equal(replay_check_and_update(&r, 5000), REPLAY_ACCEPT);
	for (uint64_t c = 4999; c > 5000 - REPLAY_WINDOW; c -= 3)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_ACCEPT);
	for (uint64_t c = 4999; c > 5000 - REPLAY_WINDOW; c -= 3)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_DUPLICATE);
	/* The ones skipped are still fresh. */
	for (uint64_t c = 4998; c > 5000 - REPLAY_WINDOW; c -= 3)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_ACCEPT);
}

/* A jump forward clears the bits of counters never seen: those are accepted
 * after the jump, while the seen ones still inside the window are not. */
static void test_jump_clears_recycled_words(void **state)
{
	(void)state;
	struct replay r;

	replay_init(&r);
	for (uint64_t c = 0; c < 2048; c++)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_ACCEPT);
	/* Jump by 1000: words for 2048..3047 were last used by 0..999 and must
	 * now read as unseen. */
	assert_int_equal(replay_check_and_update(&r, 3047), REPLAY_ACCEPT);
	for (uint64_t c = 2048; c < 3047; c++)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_ACCEPT);
	for (uint64_t c = 3047 - REPLAY_WINDOW; c < 2048; c++)
		assert_int_equal(replay_check(&r, c), REPLAY_DUPLICATE);
	/* A jump of more than the whole ring clears everything. */
	assert_int_equal(replay_check_and_update(&r, 1000000), REPLAY_ACCEPT);
	for (uint64_t c = 1000000 - REPLAY_WINDOW; c < 1000000; c++)
		assert_int_equal(replay_check_and_update(&r, c), REPLAY_ACCEPT);
}

/* check alone never changes the window. */
static void test_check_does_not_update(void **state)
{
	(void)state;
	struct replay r;

	replay_init(&r);
	assert_int_equal(replay_check(&r, 7), REPLAY_ACCEPT);
	assert_int_equal(replay_check(&r, 7), REPLAY_ACCEPT);
	replay_update(&r, 7);
	assert_int_equal(replay_check(&r, 7), REPLAY_DUPLICATE);
	assert_int_equal(replay_check(&r, 1000), REPLAY_ACCEPT);
	assert_int_equal(replay_check(&r, 6), REPLAY_ACCEPT);
}

/* Compare against a naive model on a pseudo-random walk of counters around
 * the edge (fixed seed). */
static void test_matches_reference_model(void **state)
{
	(void)state;
	enum { SPAN = 20000 };
	static uint8_t seen[SPAN];
	struct replay r;
	uint64_t top = 0, x = 0x9e3779b97f4a7c15ULL;
	int has_top = 0;

	replay_init(&r);
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t base = (uint64_t)i / 12;
		uint64_t c = base + x % 2200;
		int expect;

		if (c >= SPAN)
			continue;
		if (!has_top || c > top)
			expect = REPLAY_ACCEPT;
		else if (top - c > REPLAY_WINDOW)
			expect = REPLAY_TOO_OLD;
		else
			expect = seen[c] ? REPLAY_DUPLICATE : REPLAY_ACCEPT;
		assert_int_equal(replay_check_and_update(&r, c), expect);
		if (expect == REPLAY_ACCEPT) {
			seen[c] = 1;
			if (!has_top || c > top)
				top = c;
			has_top = 1;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_window_accepts_any_first_counter),
		cmocka_unit_test(test_in_order_accepted_once),
		cmocka_unit_test(test_window_edge),
		cmocka_unit_test(test_reordered_within_window),
		cmocka_unit_test(test_jump_clears_recycled_words),
		cmocka_unit_test(test_check_does_not_update),
		cmocka_unit_test(test_matches_reference_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
