/* The server's per-client window of introduction datagrams (issue 13): an
 * exact copy of an authentic datagram is found until its slot's socket is
 * gone, its first copy told from the next ones; a datagram differing in one
 * bit is not; forgeries never enter (the
 * caller adds only authentic ones); a full window of a client sending more
 * than the rate allows pushes out the entry that expires first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/core/introwin.h"

#define T0 INT64_C(1767225600000)

static bool has(struct introwin *w, const uint8_t fp[static INTROWIN_FP_LEN], int64_t now_ms)
{
	return introwin_check(w, fp, now_ms) != INTROWIN_NEW;
}

static void dgram(uint8_t *d, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(seed * 131 + i * 7);
}

static void test_copy_found_until_expiry(void **state)
{
	(void)state;
	struct introwin w;
	uint8_t d[181], fp[INTROWIN_FP_LEN], fp2[INTROWIN_FP_LEN];

	introwin_init(&w);
	dgram(d, sizeof(d), 1);
	introwin_fingerprint(fp, d, sizeof(d));
	assert_int_equal(introwin_check(&w, fp, T0), INTROWIN_NEW);
	introwin_add(&w, fp, T0 + 9000, T0);
	/* The copy, sent again and again within its three slots: the first
	 * copy is told apart (a signal counts each replayed datagram once). */
	assert_int_equal(introwin_check(&w, fp, T0 + 1), INTROWIN_REPLAY_FIRST);
	assert_int_equal(introwin_check(&w, fp, T0 + 2), INTROWIN_REPLAY_AGAIN);
	assert_int_equal(introwin_check(&w, fp, T0 + 8999), INTROWIN_REPLAY_AGAIN);
	/* Its socket is closed by then: no need to remember it. */
	assert_int_equal(introwin_check(&w, fp, T0 + 9000), INTROWIN_NEW);
	/* One bit, one byte more or less: another datagram. */
	d[100] ^= 1;
	introwin_fingerprint(fp2, d, sizeof(d));
	assert_memory_not_equal(fp, fp2, INTROWIN_FP_LEN);
	assert_false(has(&w, fp2, T0 + 1));
	d[100] ^= 1;
	introwin_fingerprint(fp2, d, sizeof(d) - 1);
	assert_false(has(&w, fp2, T0 + 1));
	introwin_fingerprint(fp2, d, sizeof(d));
	assert_memory_equal(fp, fp2, INTROWIN_FP_LEN);
}

/* The real client at the allowed rate (a burst of 4, then 1 per second)
 * for three slots of 3 s: every one of its datagrams stays refusable. */
static void test_allowed_rate_fits(void **state)
{
	(void)state;
	struct introwin w;
	uint8_t d[181], fp[13][INTROWIN_FP_LEN];
	int64_t t[13];
	unsigned i, j;

	introwin_init(&w);
	for (i = 0; i < 13; i++) {
		t[i] = T0 + (i < 4 ? 0 : (int64_t)(i - 3) * 1000);
		dgram(d, sizeof(d), 100 + i);
		introwin_fingerprint(fp[i], d, sizeof(d));
		introwin_add(&w, fp[i], t[i] + 9000, t[i]);
		for (j = 0; j <= i; j++)
			assert_true(has(&w, fp[j], t[i]) == (t[j] + 9000 > t[i]));
	}
	assert_int_equal(w.evicted, 0);
}

/* More than the window holds, all live: the entry that expires first goes
 * (counted); expired entries are reused before anything live is evicted. */
static void test_full_window(void **state)
{
	(void)state;
	struct introwin w;
	uint8_t d[64], fp[INTROWIN_LEN + 1][INTROWIN_FP_LEN];
	unsigned i;

	introwin_init(&w);
	for (i = 0; i <= INTROWIN_LEN; i++) {
		dgram(d, sizeof(d), 200 + i);
		introwin_fingerprint(fp[i], d, sizeof(d));
	}
	for (i = 0; i < INTROWIN_LEN; i++)
		introwin_add(&w, fp[i], T0 + 5000 + (int64_t)(i == 3 ? 0 : 1000 + i), T0);
	assert_int_equal(w.evicted, 0);
	introwin_add(&w, fp[INTROWIN_LEN], T0 + 9000, T0);
	assert_int_equal(w.evicted, 1);
	assert_false(has(&w, fp[3], T0));
	for (i = 0; i <= INTROWIN_LEN; i++)
		if (i != 3)
			assert_true(has(&w, fp[i], T0));
	/* Later, entry 0 (expires T0 + 6000) is dead: its place is free. */
	introwin_add(&w, fp[3], T0 + 20000, T0 + 6000);
	assert_int_equal(w.evicted, 1);
	assert_false(has(&w, fp[0], T0 + 6000));
	assert_true(has(&w, fp[3], T0 + 6000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_found_until_expiry),
		cmocka_unit_test(test_allowed_rate_fits),
		cmocka_unit_test(test_full_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
