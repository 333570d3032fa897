/* mt6d-server's decisions without a network: the request bucket (burst,
 * refill), which valid request replaces a session and which is superseded,
 * the idle end of a session and activity that keeps it, a change of Rot
 * told until shortly before its boundary (and its boundary at least the
 * lead ahead, on a boundary of the current period), keepalive answers
 * rate-limited, the introduction slot of an early timer, config windows,
 * the old K's grace and client expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/core/server_fsm.h"

#define T0 5000000

static void test_request_bucket(void **state)
{
	struct server_fsm_bucket b;
	int64_t now = T0;
	int i;

	(void)state;
	server_fsm_bucket_init(&b);
	for (i = 0; i < SERVER_FSM_REQUEST_BURST; i++)
		assert_true(server_fsm_take_token(&b, now));
	assert_false(server_fsm_take_token(&b, now));
	assert_false(server_fsm_take_token(&b, now + 999 / SERVER_FSM_REQUEST_RATE_PER_S));
	now += 1000 / SERVER_FSM_REQUEST_RATE_PER_S;
	assert_true(server_fsm_take_token(&b, now));
	assert_false(server_fsm_take_token(&b, now));
	/* A long pause refills the burst, no more. */
	now += 3600000;
	for (i = 0; i < SERVER_FSM_REQUEST_BURST; i++)
		assert_true(server_fsm_take_token(&b, now));
	assert_false(server_fsm_take_token(&b, now));
}

static void test_request_order(void **state)
{
	(void)state;
	assert_int_equal(server_fsm_on_request(false, 0, 1000), SERVER_REQ_NEW);
	assert_int_equal(server_fsm_on_request(true, 1000, 1001), SERVER_REQ_REPLACE);
	/* A retry read after the request it follows, or the same one again. */
	assert_int_equal(server_fsm_on_request(true, 1000, 999), SERVER_REQ_SUPERSEDED);
	assert_int_equal(server_fsm_on_request(true, 1000, 1000), SERVER_REQ_SUPERSEDED);
}

static void test_idle_session(void **state)
{
	struct sesstab t;
	struct sesstab_entry e;
	struct server_fsm_session s;
	int64_t now = T0;
	uint64_t rx = 0;

	(void)state;
	assert_int_equal(sesstab_init(&t, 4), 0);
	assert_int_equal(sesstab_add(&t, &e, 7, now), 0);
	server_fsm_session_init(&s, 3000);
	/* Packets every 100 s keep a 120 s idle limit away for an hour. */
	for (; now < T0 + 3600000; now += 1000) {
		if ((now - T0) % 100000 == 0)
			rx++;
		assert_int_equal(server_fsm_session_tick(&s, &e, rx, now, now, 120000), 0);
	}
	rx++;
	assert_int_equal(server_fsm_session_tick(&s, &e, rx, now, now, 120000), 0);
	now += 120000;
	assert_int_equal(server_fsm_session_tick(&s, &e, rx, now, now, 120000), 0);
	now += 1;
	assert_int_equal(server_fsm_session_tick(&s, &e, rx, now, now, 120000),
			 SERVER_DO_END_IDLE);
	/* A closing session is not the tick's any more. */
	sesstab_close(&t, &e);
	assert_int_equal(server_fsm_session_tick(&s, &e, rx, now, now, 120000), 0);
	sesstab_remove(&t, &e);
	sesstab_fini(&t);
}

static void test_rotation_change(void **state)
{
	struct sesstab t;
	struct sesstab_entry e;
	struct server_fsm_session s;
	int64_t wall = 1800000000500, at = 0, t_ms;
	unsigned sends = 0;

	(void)state;
	assert_int_equal(sesstab_init(&t, 4), 0);
	assert_int_equal(sesstab_add(&t, &e, 7, T0), 0);
	server_fsm_session_init(&s, 3000);
	assert_false(server_fsm_change_rotation(&s, 3000, 3000, wall, &at));
	assert_int_equal(s.rotation_seq, 0);
	assert_true(server_fsm_change_rotation(&s, 3000, 1000, wall, &at));
	/* issue 13: each change numbered, so the client can refuse older ones. */
	assert_int_equal(s.rotation_seq, 1);
	/* On a boundary of the current period, at least the lead ahead. */
	assert_int_equal(at % 3000, 0);
	assert_true(at - wall >= SERVER_FSM_ROTATION_LEAD_MS);
	assert_true(at - wall < SERVER_FSM_ROTATION_LEAD_MS + 3000);
	assert_int_equal(s.rotation_ms, 1000);
	/* Told again at every tick until shortly before the boundary. */
	for (t_ms = wall; t_ms < at + 5000; t_ms += 250) {
		unsigned acts = server_fsm_session_tick(&s, &e, 0, T0, t_ms, 120000);

		if (acts & SERVER_DO_SEND_ROTATION) {
			assert_true(t_ms < at - SERVER_FSM_ROTATION_REPEAT_UNTIL_MS);
			sends++;
		}
	}
	assert_true(sends >= 4);
	assert_int_equal(s.rotation_at_wall_ms, 0);
	/* Resending copies does not renumber; the next change does. */
	assert_int_equal(s.rotation_seq, 1);
	assert_true(server_fsm_change_rotation(&s, 1000, 3000, at + 5000, &at));
	assert_int_equal(s.rotation_seq, 2);
	sesstab_remove(&t, &e);
	sesstab_fini(&t);
}

static void test_keepalive_reply_rate(void **state)
{
	struct server_fsm_session s;

	(void)state;
	server_fsm_session_init(&s, 3000);
	assert_true(server_fsm_keepalive_reply(&s, T0));
	assert_false(server_fsm_keepalive_reply(&s, T0 + SERVER_FSM_KEEPALIVE_REPLY_MIN_MS - 1));
	assert_true(server_fsm_keepalive_reply(&s, T0 + SERVER_FSM_KEEPALIVE_REPLY_MIN_MS));
}

static void test_slots_windows_grace(void **state)
{
	uint64_t win = 0;
	int64_t wall = 1800000000000; /* a multiple of 900 s and of 3 s */

	(void)state;
	assert_int_equal(server_fsm_intro_slot(3000, wall), wall / 3000);
	assert_int_equal(server_fsm_intro_slot(3000, wall + 2979), wall / 3000);
	/* A timer a hair early counts as the next slot. */
	assert_int_equal(server_fsm_intro_slot(3000, wall + 3000 - SERVER_FSM_EARLY_MS),
			 wall / 3000 + 1);
	assert_true(server_fsm_window_due(&win, wall + 5000, 900));
	assert_int_equal(win, wall / 1000);
	assert_false(server_fsm_window_due(&win, wall + 800000, 900));
	/* The periodic timer may fire just before the boundary. */
	assert_true(server_fsm_window_due(&win, wall + 900000 - 300, 900));
	assert_int_equal(win, wall / 1000 + 900);
	assert_int_equal(server_fsm_old_k_grace_s(900), SERVER_FSM_OLD_K_GRACE_MAX_S);
	assert_int_equal(server_fsm_old_k_grace_s(60), 60);
	assert_false(server_fsm_is_expired(0, 1 << 30));
	assert_false(server_fsm_is_expired(1000, 999));
	assert_true(server_fsm_is_expired(1000, 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_bucket),
		cmocka_unit_test(test_request_order),
		cmocka_unit_test(test_idle_session),
		cmocka_unit_test(test_rotation_change),
		cmocka_unit_test(test_keepalive_reply_rate),
		cmocka_unit_test(test_slots_windows_grace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
