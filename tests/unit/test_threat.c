/* The threat policy: names, the Rot of each level and its bounds, the
 * automatic raise on a burst of signs of attack, the return to the
 * operator's level after a quiet period (and not before, nor while signs
 * keep coming), and the operator's own level kept over automatic ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>

#include "mt6d/core/threat.h"

#define W THREAT_ATTACK_WINDOW_MS

static void test_names_and_rotation(void **state)
{
	enum threat_level l;

	(void)state;
	assert_string_equal(threat_name(THREAT_LOW), "low");
	assert_string_equal(threat_name(THREAT_HIGH), "high");
	assert_int_equal(threat_parse("normal", &l), 0);
	assert_int_equal(l, THREAT_NORMAL);
	assert_int_equal(threat_parse("HIGH", &l), -EINVAL);
	assert_int_equal(threat_parse("", &l), -EINVAL);
	assert_int_equal(threat_rotation_ms(3000, THREAT_NORMAL), 3000);
	assert_int_equal(threat_rotation_ms(3000, THREAT_HIGH), 1000);
	assert_int_equal(threat_rotation_ms(3000, THREAT_LOW), 6000);
	/* Clamped to what a config may say. */
	assert_int_equal(threat_rotation_ms(200, THREAT_HIGH), 100);
	assert_int_equal(threat_rotation_ms(50000, THREAT_LOW), 60000);
}

static void test_raise_on_attack(void **state)
{
	struct threat t;
	uint64_t delta = 0;
	int64_t now = 5000;

	(void)state;
	threat_init(&t, THREAT_NORMAL);
	assert_int_equal(threat_tick(&t, now, 0, &delta), THREAT_KEEP);
	/* Within the window: nothing is decided, whatever the count. */
	assert_int_equal(threat_tick(&t, now + W - 1, 10000, NULL), THREAT_KEEP);
	assert_int_equal(t.level, THREAT_NORMAL);
	/* One short of the threshold over a window: kept. */
	now += W;
	assert_int_equal(threat_tick(&t, now, THREAT_ATTACK_THRESHOLD - 1, &delta), THREAT_KEEP);
	assert_int_equal(delta, THREAT_ATTACK_THRESHOLD - 1);
	now += W;
	assert_int_equal(threat_tick(&t, now, 2 * THREAT_ATTACK_THRESHOLD - 1, &delta),
			 THREAT_RAISE);
	assert_int_equal(delta, THREAT_ATTACK_THRESHOLD);
	assert_int_equal(t.level, THREAT_HIGH);
	assert_int_equal(t.set, THREAT_NORMAL);
	/* Still under attack: no second raise. */
	now += W;
	assert_int_equal(threat_tick(&t, now, 3 * THREAT_ATTACK_THRESHOLD, NULL), THREAT_KEEP);
	/* Counters that went down (sessions ended) count as none. */
	now += W;
	assert_int_equal(threat_tick(&t, now, 5, &delta), THREAT_KEEP);
	assert_int_equal(delta, 0);
}

static void test_return_after_quiet(void **state)
{
	struct threat t;
	uint64_t signs = 0;
	int64_t now = 1000, start;

	(void)state;
	threat_init(&t, THREAT_LOW);
	threat_tick(&t, now, signs, NULL);
	now += W;
	signs += THREAT_ATTACK_THRESHOLD;
	assert_int_equal(threat_tick(&t, now, signs, NULL), THREAT_RAISE);
	/* A tenth of the threshold per window is not quiet. */
	for (start = now; now - start < 2 * THREAT_QUIET_MS; ) {
		now += W;
		signs += THREAT_ATTACK_THRESHOLD / 10;
		assert_int_equal(threat_tick(&t, now, signs, NULL), THREAT_KEEP);
	}
	/* Quiet: back to the operator's level after THREAT_QUIET_MS, not before. */
	start = now + W;
	for (;;) {
		enum threat_action a;

		now += W;
		signs += THREAT_ATTACK_THRESHOLD / 10 - 1;
		a = threat_tick(&t, now, signs, NULL);
		if (a == THREAT_RETURN)
			break;
		assert_int_equal(a, THREAT_KEEP);
		assert_true(now - start < THREAT_QUIET_MS);
	}
	assert_true(now - start >= THREAT_QUIET_MS);
	assert_int_equal(t.level, THREAT_LOW);
}

static void test_operator_level(void **state)
{
	struct threat t;
	int64_t now = 1000;

	(void)state;
	threat_init(&t, THREAT_NORMAL);
	assert_true(threat_set(&t, THREAT_HIGH, false));
	assert_false(threat_set(&t, THREAT_HIGH, false));
	assert_int_equal(t.set, THREAT_HIGH);
	/* The operator's high level never returns to anything lower. */
	for (int i = 0; i < 100; i++) {
		now += W;
		assert_int_equal(threat_tick(&t, now, 0, NULL), THREAT_KEEP);
	}
	assert_int_equal(t.level, THREAT_HIGH);
	/* An automatic level leaves the operator's alone. */
	assert_true(threat_set(&t, THREAT_LOW, false));
	assert_true(threat_set(&t, THREAT_HIGH, true));
	assert_int_equal(t.set, THREAT_LOW);
}

/* Many clients: their honest retries must not raise the level; the same
 * count at a small server does. */
static void test_threshold_scales_with_clients(void **state)
{
	struct threat t;
	int64_t now = 1000;
	uint64_t signs = 0;

	(void)state;
	threat_init(&t, THREAT_NORMAL);
	threat_set_clients(&t, 20); /* 40 < the floor: the floor holds */
	assert_int_equal(t.threshold, THREAT_ATTACK_THRESHOLD);
	threat_set_clients(&t, 5000);
	assert_int_equal(t.threshold, 5000 * THREAT_SIGNS_PER_CLIENT);
	assert_int_equal(threat_tick(&t, now, signs, NULL), THREAT_KEEP);
	signs += 5000 * THREAT_SIGNS_PER_CLIENT - 1;
	now += W;
	assert_int_equal(threat_tick(&t, now, signs, NULL), THREAT_KEEP);
	assert_int_equal(t.level, THREAT_NORMAL);
	signs += 5000 * THREAT_SIGNS_PER_CLIENT;
	now += W;
	assert_int_equal(threat_tick(&t, now, signs, NULL), THREAT_RAISE);
	/* Fewer clients again (a reload): the floor. */
	threat_set_clients(&t, 0);
	assert_int_equal(t.threshold, THREAT_ATTACK_THRESHOLD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_rotation),
		cmocka_unit_test(test_raise_on_attack),
		cmocka_unit_test(test_return_after_quiet),
		cmocka_unit_test(test_operator_level),
		cmocka_unit_test(test_threshold_scales_with_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
