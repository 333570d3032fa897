/* mt6d-client's decisions without a network: the first fetch, the
 * introduction and its first request 200 ms later, retries with jittered
 * exponential backoff and a fetch every third unanswered request,
 * keepalives, make-before-break on a new K and on a silent session (the
 * server restarted: a new introduction beside the session within 15 s), the
 * full re-establishment at the silence limit, the hold after a teardown, the
 * fetch schedule (next window, or backoff after a failure). The clock is
 * driven by the deadlines the machine returns, as the engine's timer does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/core/client_fsm.h"

#define KEEPALIVE 10000
#define SILENCE 35000
#define T0 1000000

struct run {
	struct client_fsm f;
	int64_t now;
	uint64_t rx;                     /* session packets counter */
	bool is_server_alive;            /* every keepalive gets an answer */
	unsigned requests, keepalives, fetches, ticks;
};

static void setup_run(struct run *r, bool is_file_mode)
{
	memset(r, 0, sizeof(*r));
	r->now = T0;
	client_fsm_init(&r->f, KEEPALIVE, SILENCE, 900, is_file_mode, 12345, r->now);
}

/* Ticks at the machine's deadlines until one of the actions in mask is
 * asked for (returns its time) or limit passes (returns -1). */
static int64_t run_until(struct run *r, int64_t limit, unsigned mask, unsigned *acts_out)
{
	for (;;) {
		int64_t next;
		unsigned acts = client_fsm_tick(&r->f, r->now, r->rx, &next);

		assert_true(next > r->now);
		r->ticks++;
		r->requests += !!(acts & CLIENT_DO_REQUEST);
		r->fetches += !!(acts & CLIENT_DO_FETCH);
		if (acts & CLIENT_DO_KEEPALIVE) {
			r->keepalives++;
			if (r->is_server_alive)
				r->rx++;
		}
		if (acts & mask) {
			if (acts_out)
				*acts_out = acts;
			return r->now;
		}
		if (next > limit)
			return -1;
		r->now = next;
	}
}

/* To a session: config, introduction, first request, response. */
static void establish(struct run *r)
{
	unsigned acts;
	int64_t t;

	assert_int_equal(client_fsm_on_config(&r->f, true), CLIENT_DO_INTRO);
	assert_int_equal(r->f.state, CLIENT_FSM_WAITING);
	client_fsm_on_intro_up(&r->f, r->now, false);
	assert_int_equal(r->f.state, CLIENT_FSM_INTRO);
	t = run_until(r, r->now + 10000, CLIENT_DO_REQUEST, &acts);
	assert_true(t > 0);
	client_fsm_on_session_up(&r->f, r->now);
	r->rx = 0;
	r->is_server_alive = true;
	assert_int_equal(r->f.state, CLIENT_FSM_SESSION);
}

static void test_first_fetch_and_request(void **state)
{
	struct run r;
	unsigned acts = 0;
	int64_t up, t;

	(void)state;
	setup_run(&r, false);
	assert_int_equal(run_until(&r, T0, CLIENT_DO_FETCH, NULL), T0);
	/* Nothing else until a config arrives. */
	assert_int_equal(run_until(&r, T0 + 20000, CLIENT_DO_INTRO | CLIENT_DO_REQUEST, NULL), -1);
	assert_int_equal(client_fsm_on_config(&r.f, true), CLIENT_DO_INTRO);
	assert_int_equal(client_fsm_on_config(&r.f, false), 0);
	up = r.now;
	client_fsm_on_intro_up(&r.f, up, false);
	t = run_until(&r, up + 5000, CLIENT_DO_REQUEST, &acts);
	assert_int_equal(t - up, CLIENT_FSM_FIRST_REQUEST_MS);
	assert_false(acts & CLIENT_DO_FETCH);
}

static void test_backoff_and_refetch(void **state)
{
	struct run r;
	int64_t prev, t, gap, expect = CLIENT_FSM_RETRY_MIN_MS;
	unsigned acts, i;

	(void)state;
	setup_run(&r, false);
	client_fsm_on_config(&r.f, true);
	client_fsm_on_intro_up(&r.f, r.now, false);
	prev = run_until(&r, r.now + 1000, CLIENT_DO_REQUEST, NULL);
	for (i = 1; i <= 12; i++) {
		r.now = prev + 1;
		t = run_until(&r, prev + 60000, CLIENT_DO_REQUEST, &acts);
		assert_true(t > 0);
		gap = t - prev;
		/* +-25 % jitter around a backoff growing 1.5x up to the cap. */
		assert_true(gap >= expect * 3 / 4 - 1 && gap <= expect * 5 / 4 + 1);
		/* Every third unanswered request fetches the config again. */
		assert_int_equal(!!(acts & CLIENT_DO_FETCH), i % CLIENT_FSM_REFETCH_ATTEMPTS == 0);
		expect = expect * 3 / 2 > CLIENT_FSM_RETRY_MAX_MS ? CLIENT_FSM_RETRY_MAX_MS
								  : expect * 3 / 2;
		prev = t;
	}
	assert_int_equal(expect, CLIENT_FSM_RETRY_MAX_MS);
}

static void test_keepalives_keep_session(void **state)
{
	struct run r;

	(void)state;
	setup_run(&r, false);
	establish(&r);
	r.keepalives = 0;
	r.ticks = 0;
	/* A live server: an hour of keepalives, no renewal, no re-establishment. */
	assert_int_equal(run_until(&r, r.now + 3600000, CLIENT_DO_INTRO | CLIENT_DO_RENEW, NULL),
			 -1);
	assert_true(r.keepalives >= 3600000 / KEEPALIVE - 1 &&
		    r.keepalives <= 3600000 / KEEPALIVE + 1);
	assert_int_equal(r.f.renew_silence, 0);
	assert_int_equal(r.f.state, CLIENT_FSM_SESSION);
	/* About once a second (deadlines of several phases: a few more). */
	assert_true(r.ticks <= 3600 * 6 / 5);
}

/* The server crashed and came back (new K, no session): the client starts
 * a new introduction beside the session within a few keepalive intervals
 * (not the 35 s silence limit), with a fresh fetch for the new K; the
 * session stays meanwhile. */
static void test_silence_renews_beside_session(void **state)
{
	struct run r;
	unsigned acts = 0;
	int64_t last_rx, t;

	(void)state;
	setup_run(&r, false);
	establish(&r);
	run_until(&r, r.now + 25000, 0, NULL);
	last_rx = r.f.last_rx_mono_ms;
	r.is_server_alive = false;
	r.keepalives = 0;
	r.ticks = 0;
	t = run_until(&r, r.now + 60000, CLIENT_DO_RENEW | CLIENT_DO_INTRO, &acts);
	/* Woken at its deadlines, about once a second, never spinning. */
	assert_true(r.ticks <= (t - last_rx) / 1000 * 2 + 4);
	assert_true(t > 0);
	assert_true(acts & CLIENT_DO_RENEW);
	assert_true(acts & CLIENT_DO_FETCH);
	assert_int_equal(r.f.state, CLIENT_FSM_SESSION);
	assert_true(t - last_rx <= 15000 - 2000); /* room for the fetch and handshake */
	assert_true(t - last_rx >= KEEPALIVE);
	/* Probes went out before giving up on the answers. */
	assert_true(r.keepalives >= 1 + CLIENT_FSM_RENEW_PROBES);
	assert_int_equal(r.f.renew_silence, 1);
	client_fsm_on_intro_up(&r.f, t, true);
	assert_true(r.f.is_renewing);
	assert_int_equal(r.f.state, CLIENT_FSM_SESSION);
	/* Its first request follows; the session is given up only at the
	 * silence limit. */
	r.now = t;
	assert_int_equal(run_until(&r, t + 1000, CLIENT_DO_REQUEST, NULL),
			 t + CLIENT_FSM_FIRST_REQUEST_MS);
	t = run_until(&r, r.now + 60000, CLIENT_DO_INTRO, NULL);
	assert_true(t - last_rx > SILENCE && t - last_rx <= SILENCE + CLIENT_FSM_TICK_MS);
	assert_int_equal(r.f.reestablish_silence, 1);
	assert_int_equal(r.f.renew_silence, 1);
	assert_int_equal(r.f.state, CLIENT_FSM_WAITING);
}

/* Short keepalives (the tests' -K 1000): the renewal still comes before the
 * silence limit; with no room before it, none. */
static void test_renew_threshold(void **state)
{
	struct client_fsm f;

	(void)state;
	client_fsm_init(&f, 1000, 3500, 900, true, 1, T0);
	assert_int_equal(client_fsm_renew_after_ms(&f), 1750);
	client_fsm_init(&f, KEEPALIVE, SILENCE, 900, false, 1, T0);
	assert_int_equal(client_fsm_renew_after_ms(&f), 13000);
	client_fsm_init(&f, 10000, 12000, 900, false, 1, T0);
	assert_int_equal(client_fsm_renew_after_ms(&f), 0);
}

static void test_new_config_make_before_break(void **state)
{
	struct run r;

	(void)state;
	setup_run(&r, false);
	establish(&r);
	/* In a session: beside it. */
	assert_int_equal(client_fsm_on_config(&r.f, true), CLIENT_DO_RENEW);
	assert_int_equal(r.f.state, CLIENT_FSM_SESSION);
	assert_int_equal(r.f.reestablish_k, 1);
	client_fsm_on_intro_up(&r.f, r.now, true);
	assert_true(r.f.is_renewing);
	/* Keepalives go on in the session meanwhile. */
	r.keepalives = 0;
	run_until(&r, r.now + 2 * KEEPALIVE, 0, NULL);
	assert_true(r.keepalives >= 1);
	client_fsm_on_session_up(&r.f, r.now);
	assert_false(r.f.is_renewing);
	/* While introducing (no session): start over. */
	client_fsm_on_teardown(&r.f);
	client_fsm_on_intro_up(&r.f, r.now, false);
	assert_int_equal(client_fsm_on_config(&r.f, true), CLIENT_DO_INTRO);
	assert_int_equal(r.f.state, CLIENT_FSM_WAITING);
}

static void test_teardown_holds_first_request(void **state)
{
	struct run r;
	int64_t t, up;

	(void)state;
	setup_run(&r, false);
	establish(&r);
	assert_int_equal(client_fsm_on_teardown(&r.f), CLIENT_DO_INTRO);
	up = r.now;
	client_fsm_on_intro_up(&r.f, up, false);
	t = run_until(&r, up + 5000, CLIENT_DO_REQUEST, NULL);
	assert_true(t - up >= CLIENT_FSM_TEARDOWN_HOLD_MS * 3 / 4);
	/* The next introduction is not held. */
	client_fsm_on_prefix_changed(&r.f);
	up = r.now;
	client_fsm_on_intro_up(&r.f, up, false);
	assert_int_equal(run_until(&r, up + 5000, CLIENT_DO_REQUEST, NULL) - up,
			 CLIENT_FSM_FIRST_REQUEST_MS);
	assert_int_equal(r.f.reestablish_prefix, 1);
}

static void test_intro_failure_retries(void **state)
{
	struct run r;
	int64_t t;

	(void)state;
	setup_run(&r, false);
	client_fsm_on_config(&r.f, true);
	client_fsm_on_intro_failed(&r.f, r.now);
	assert_int_equal(r.f.state, CLIENT_FSM_WAITING);
	t = run_until(&r, r.now + 5000, CLIENT_DO_INTRO, NULL);
	assert_true(t - T0 >= CLIENT_FSM_RETRY_MIN_MS * 3 / 4 &&
		    t - T0 <= CLIENT_FSM_RETRY_MIN_MS * 5 / 4);
}

/* A request the kernel refused (the tunnel address not usable yet) goes
 * again 200 ms later, uncounted, a bounded number of times; then the usual
 * backoff. */
static void test_unsent_request_retries_soon(void **state)
{
	struct run r;
	int64_t t, prev;
	unsigned i, acts;

	(void)state;
	setup_run(&r, false);
	client_fsm_on_config(&r.f, true);
	client_fsm_on_intro_up(&r.f, r.now, false);
	prev = run_until(&r, r.now + 10000, CLIENT_DO_REQUEST, &acts);
	for (i = 0; i < CLIENT_FSM_UNSENT_FAST_RETRIES; i++) {
		client_fsm_on_request_unsent(&r.f, r.now);
		r.now++;
		t = run_until(&r, r.now + 10000, CLIENT_DO_REQUEST, &acts);
		assert_int_equal(t - prev, CLIENT_FSM_FIRST_REQUEST_MS);
		assert_false(acts & CLIENT_DO_FETCH); /* never counted as unanswered */
		prev = t;
	}
	assert_int_equal(r.f.attempts, 1); /* the last one only: it left */
	/* Bounded: a lasting error falls back to the backoff. */
	client_fsm_on_request_unsent(&r.f, r.now);
	r.now++;
	t = run_until(&r, r.now + 60000, CLIENT_DO_REQUEST, NULL);
	assert_true(t - prev >= CLIENT_FSM_RETRY_MIN_MS * 3 / 4);
	/* A new introduction starts the count again. */
	client_fsm_on_intro_up(&r.f, r.now, false);
	assert_int_equal(r.f.unsent, 0);
}

static void test_fetch_schedule(void **state)
{
	struct run r;
	int64_t wall = 1800000000000 + 300000; /* 5 min into a 15 min window */
	int64_t t;
	int i;

	(void)state;
	setup_run(&r, false);
	run_until(&r, r.now, CLIENT_DO_FETCH, NULL);
	client_fsm_fetch_done(&r.f, true, r.now, wall);
	/* 10 min to the next window, 2 s after its start and a random time in
	 * its first half, for that window alone; never twice the same time. */
	assert_in_range(r.f.fetch_mono_ms - r.now, 600000 + CLIENT_FSM_FETCH_AFTER_BOUNDARY_MS,
			600000 + CLIENT_FSM_FETCH_AFTER_BOUNDARY_MS + 450000);
	assert_int_equal(r.f.fetch_window, 1800000000 + 600 + 300);
	{
		int64_t first = r.f.fetch_mono_ms, lo = INT64_MAX, hi = 0;
		for (i = 0; i < 200; i++) {
			client_fsm_fetch_done(&r.f, true, r.now, wall);
			lo = r.f.fetch_mono_ms < lo ? r.f.fetch_mono_ms : lo;
			hi = r.f.fetch_mono_ms > hi ? r.f.fetch_mono_ms : hi;
		}
		assert_true(hi - lo > 300000); /* spread over most of the half window */
		(void)first;
	}
	/* Without a session: failures are retried within a few seconds for
	 * the first two minutes of them, then the backoff grows to its cap. */
	for (i = 0; i < 8; i++)
		client_fsm_fetch_done(&r.f, false, r.now, wall);
	assert_int_equal(r.f.fetch_mono_ms - r.now, CLIENT_FSM_FETCH_RETRY_EARLY_MAX_MS);
	assert_int_equal(r.f.fetch_window, 0);
	client_fsm_fetch_done(&r.f, false, r.now + CLIENT_FSM_FETCH_FAST_FOR_MS, wall);
	assert_int_equal(r.f.fetch_mono_ms - r.now - CLIENT_FSM_FETCH_FAST_FOR_MS,
			 CLIENT_FSM_FETCH_RETRY_MAX_MS);
	client_fsm_fetch_done(&r.f, true, r.now, wall);
	client_fsm_fetch_done(&r.f, false, r.now, wall);
	assert_int_equal(r.f.fetch_mono_ms - r.now, CLIENT_FSM_FETCH_RETRY_MIN_MS);
	/* A config that gets no answer may be stale: fetched again soon. */
	setup_run(&r, false);
	establish(&r);
	client_fsm_on_config(&r.f, true);
	client_fsm_on_intro_up(&r.f, r.now, true);
	client_fsm_fetch_done(&r.f, true, r.now, wall);
	assert_int_equal(r.f.fetch_mono_ms - r.now, CLIENT_FSM_FETCH_RETRY_MIN_MS);
	client_fsm_on_session_up(&r.f, r.now);
	client_fsm_fetch_done(&r.f, true, r.now, wall);
	assert_in_range(r.f.fetch_mono_ms - r.now, 600000 + CLIENT_FSM_FETCH_AFTER_BOUNDARY_MS,
			600000 + CLIENT_FSM_FETCH_AFTER_BOUNDARY_MS + 450000);
	/* The test file is read every tick. */
	setup_run(&r, true);
	r.fetches = 0;
	t = r.now;
	run_until(&r, t + 10000, 0, NULL);
	assert_true(r.fetches >= 10 && r.fetches <= 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_fetch_and_request),
		cmocka_unit_test(test_backoff_and_refetch),
		cmocka_unit_test(test_keepalives_keep_session),
		cmocka_unit_test(test_silence_renews_beside_session),
		cmocka_unit_test(test_renew_threshold),
		cmocka_unit_test(test_new_config_make_before_break),
		cmocka_unit_test(test_teardown_holds_first_request),
		cmocka_unit_test(test_intro_failure_retries),
		cmocka_unit_test(test_unsent_request_retries_soon),
		cmocka_unit_test(test_fetch_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
