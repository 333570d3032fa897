#include "mt6d/core/client_fsm.h"

#include <string.h>

#include "mt6d/core/derive.h"

#define NONE INT64_MAX

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static uint32_t rand_next(struct client_fsm *f)
{
	uint32_t x = f->rand_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	f->rand_state = x;
	return x;
}

/* 0.75..1.25: clients that lost their sessions together spread out. */
static double jitter(struct client_fsm *f)
{
	return 0.75 + 0.5 * (rand_next(f) % 1000) / 1000.0;
}

static void arm_retry(struct client_fsm *f, int64_t now_mono_ms)
{
	double next = f->backoff_ms * CLIENT_FSM_RETRY_FACTOR;

	f->request_mono_ms = now_mono_ms + (int64_t)(f->backoff_ms * jitter(f));
	f->backoff_ms = next > CLIENT_FSM_RETRY_MAX_MS ? CLIENT_FSM_RETRY_MAX_MS : (uint32_t)next;
}

/* Whatever ran is over: the engine ends the session and starts anew. */
static unsigned want_intro(struct client_fsm *f)
{
	f->state = CLIENT_FSM_WAITING;
	f->is_renewing = false;
	f->is_first_request_due = false;
	f->request_mono_ms = NONE;
	f->attempts = 0;
	f->intro_epoch++;
	return CLIENT_DO_INTRO;
}

static bool is_introducing(const struct client_fsm *f)
{
	return f->state == CLIENT_FSM_INTRO || (f->state == CLIENT_FSM_SESSION && f->is_renewing);
}

static uint32_t probe_ms(const struct client_fsm *f)
{
	uint32_t p = f->keepalive_ms / 4;

	return p > CLIENT_FSM_PROBE_MAX_MS ? CLIENT_FSM_PROBE_MAX_MS : p ? p : 1;
}

void client_fsm_init(struct client_fsm *f, uint32_t keepalive_ms, uint32_t silence_ms,
		     uint32_t period_s, bool is_file_mode, uint32_t seed, int64_t now_mono_ms)
{
	memset(f, 0, sizeof(*f));
	f->state = CLIENT_FSM_WAITING;
	f->keepalive_ms = keepalive_ms;
	f->silence_ms = silence_ms;
	f->period_s = period_s;
	f->is_file_mode = is_file_mode;
	f->rand_state = seed ? seed : 0x6d6d6d6du;
	f->request_mono_ms = NONE;
	f->backoff_ms = CLIENT_FSM_RETRY_MIN_MS;
	f->last_prefix_check_mono_ms = now_mono_ms;
	f->fetch_mono_ms = now_mono_ms;
	f->fetch_backoff_ms = CLIENT_FSM_FETCH_RETRY_MIN_MS;
}

uint32_t client_fsm_renew_after_ms(const struct client_fsm *f)
{
	uint64_t after = (uint64_t)f->keepalive_ms + CLIENT_FSM_RENEW_PROBES * probe_ms(f);

	return after < f->silence_ms ? (uint32_t)after : 0;
}

static unsigned tick_session(struct client_fsm *f, int64_t now, uint64_t rx_packets)
{
	unsigned acts = 0;
	uint32_t renew = client_fsm_renew_after_ms(f), probe = probe_ms(f);
	int64_t silence;

	if (rx_packets != f->rx_packets) {
		f->rx_packets = rx_packets;
		f->last_rx_mono_ms = now;
	}
	silence = now - f->last_rx_mono_ms;
	if (silence > f->silence_ms) {
		f->reestablish_silence++;
		return want_intro(f);
	}
	if (renew && !f->is_renewing && silence >= renew) {
		f->renew_silence++;
		/* The introduction under the K we know, and a fetch for a new
		 * one (a restarted server's), which renews again under it. */
		acts |= CLIENT_DO_RENEW;
		if (!f->is_file_mode) {
			acts |= CLIENT_DO_FETCH;
			f->fetch_mono_ms = now + CLIENT_FSM_FETCH_TIMEOUT_MS + 5000;
		}
	}
	if (now - f->last_keepalive_mono_ms >= f->keepalive_ms ||
	    (silence >= f->keepalive_ms + probe && now - f->last_keepalive_mono_ms >= probe)) {
		f->last_keepalive_mono_ms = now;
		acts |= CLIENT_DO_KEEPALIVE;
	}
	return acts;
}

static unsigned tick_request(struct client_fsm *f, int64_t now)
{
	unsigned acts = 0;

	if (f->request_mono_ms > now)
		return 0;
	if (f->state == CLIENT_FSM_WAITING) {
		f->request_mono_ms = NONE;
		return f->has_config ? want_intro(f) : 0;
	}
	if (!is_introducing(f)) {
		f->request_mono_ms = NONE;
		return 0;
	}
	if (f->is_first_request_due) {
		f->is_first_request_due = false;
	} else if (++f->attempts % CLIENT_FSM_REFETCH_ATTEMPTS == 0) {
		/* Unanswered: the server may have a new K since our last fetch
		 * (a revocation or rekey publishes it in a new epoch of the
		 * current window), so look again without waiting for the next
		 * window. */
		acts |= CLIENT_DO_FETCH;
	}
	arm_retry(f, now);
	return acts | CLIENT_DO_REQUEST;
}

int64_t client_fsm_next_mono_ms(const struct client_fsm *f, int64_t now)
{
	int64_t next = now + CLIENT_FSM_TICK_MS;

	next = min64(next, f->last_prefix_check_mono_ms + CLIENT_FSM_PREFIX_CHECK_MS);
	next = min64(next, f->fetch_mono_ms);
	next = min64(next, f->request_mono_ms);
	if (f->state == CLIENT_FSM_SESSION) {
		uint32_t renew = client_fsm_renew_after_ms(f);
		int64_t probe_at = f->last_rx_mono_ms + f->keepalive_ms + probe_ms(f);

		/* The first moment tick_session would probe. */
		if (probe_at < f->last_keepalive_mono_ms + probe_ms(f))
			probe_at = f->last_keepalive_mono_ms + probe_ms(f);
		next = min64(next, f->last_keepalive_mono_ms + f->keepalive_ms);
		next = min64(next, probe_at);
		if (renew && !f->is_renewing)
			next = min64(next, f->last_rx_mono_ms + renew);
		next = min64(next, f->last_rx_mono_ms + f->silence_ms + 1);
	}
	return next > now ? next : now + 1;
}

unsigned client_fsm_tick(struct client_fsm *f, int64_t now_mono_ms, uint64_t rx_packets,
			 int64_t *next_mono_out)
{
	unsigned acts = 0;

	if (now_mono_ms - f->last_prefix_check_mono_ms >= CLIENT_FSM_PREFIX_CHECK_MS) {
		f->last_prefix_check_mono_ms = now_mono_ms;
		acts |= CLIENT_DO_CHECK_PREFIX;
	}
	if (now_mono_ms >= f->fetch_mono_ms) {
		acts |= CLIENT_DO_FETCH;
		f->fetch_mono_ms = now_mono_ms + (f->is_file_mode ? CLIENT_FSM_TICK_MS
							       : CLIENT_FSM_FETCH_TIMEOUT_MS + 5000);
	}
	if (f->state == CLIENT_FSM_SESSION)
		acts |= tick_session(f, now_mono_ms, rx_packets);
	acts |= tick_request(f, now_mono_ms);
	if (next_mono_out)
		*next_mono_out = client_fsm_next_mono_ms(f, now_mono_ms);
	return acts;
}

unsigned client_fsm_on_config(struct client_fsm *f, bool is_new)
{
	if (!is_new)
		return 0;
	if (f->has_config && f->state != CLIENT_FSM_WAITING)
		f->reestablish_k++;
	f->has_config = true;
	/* Make-before-break: the session carries traffic until the new one
	 * replaces it. */
	if (f->state == CLIENT_FSM_SESSION)
		return CLIENT_DO_RENEW;
	return want_intro(f);
}

void client_fsm_on_intro_up(struct client_fsm *f, int64_t now_mono_ms, bool is_renewal)
{
	f->intro_epoch++;
	if (is_renewal && f->state == CLIENT_FSM_SESSION) {
		f->is_renewing = true;
	} else {
		f->state = CLIENT_FSM_INTRO;
		f->is_renewing = false;
	}
	f->is_first_request_due = true;
	f->attempts = 0;
	f->unsent = 0;
	f->backoff_ms = CLIENT_FSM_RETRY_MIN_MS;
	if (f->is_held) {
		/* Not at once: the server that just ended it may refuse. */
		f->is_held = false;
		f->backoff_ms = CLIENT_FSM_TEARDOWN_HOLD_MS;
		arm_retry(f, now_mono_ms);
		return;
	}
	f->request_mono_ms = now_mono_ms + CLIENT_FSM_FIRST_REQUEST_MS;
}

void client_fsm_on_intro_failed(struct client_fsm *f, int64_t now_mono_ms)
{
	f->state = CLIENT_FSM_WAITING;
	f->is_renewing = false;
	f->is_first_request_due = false;
	f->backoff_ms = CLIENT_FSM_RETRY_MIN_MS;
	arm_retry(f, now_mono_ms);
}

void client_fsm_on_request_unsent(struct client_fsm *f, int64_t now_mono_ms)
{
	if (!is_introducing(f) || f->unsent >= CLIENT_FSM_UNSENT_FAST_RETRIES)
		return; /* the backoff armed with the request stands */
	f->unsent++;
	if (f->attempts > 0)
		f->attempts--; /* nobody could answer it */
	f->request_mono_ms = now_mono_ms + CLIENT_FSM_FIRST_REQUEST_MS;
}

void client_fsm_on_session_up(struct client_fsm *f, int64_t now_mono_ms)
{
	f->state = CLIENT_FSM_SESSION;
	f->is_renewing = false;
	f->is_first_request_due = false;
	f->request_mono_ms = NONE;
	f->last_rx_mono_ms = f->last_keepalive_mono_ms = now_mono_ms;
	f->rx_packets = 0;
}

unsigned client_fsm_on_session_failed(struct client_fsm *f)
{
	return want_intro(f);
}

unsigned client_fsm_on_teardown(struct client_fsm *f)
{
	f->is_held = true;
	return want_intro(f);
}

unsigned client_fsm_on_prefix_changed(struct client_fsm *f)
{
	f->reestablish_prefix++;
	return want_intro(f);
}

unsigned client_fsm_on_reconnect(struct client_fsm *f)
{
	return want_intro(f);
}

void client_fsm_fetch_done(struct client_fsm *f, bool is_ok, int64_t now_mono_ms,
			   int64_t now_wall_ms)
{
	int64_t due_wall_ms;

	/* While an introduction goes unanswered, the config we have may be
	 * stale (a restarted server publishes its new K in a new epoch of the
	 * window, some seconds after it is back): look again soon rather than
	 * at the next window. */
	f->fetch_window = 0;
	if (!is_ok || is_introducing(f)) {
		uint32_t delay = f->fetch_backoff_ms;
		if (!f->fetch_failing_since_ms)
			f->fetch_failing_since_ms = now_mono_ms;
		if (f->state != CLIENT_FSM_SESSION &&
		    now_mono_ms - f->fetch_failing_since_ms < CLIENT_FSM_FETCH_FAST_FOR_MS &&
		    delay > CLIENT_FSM_FETCH_RETRY_EARLY_MAX_MS)
			delay = CLIENT_FSM_FETCH_RETRY_EARLY_MAX_MS;
		f->fetch_mono_ms = now_mono_ms + delay;
		f->fetch_backoff_ms = f->fetch_backoff_ms * 2 > CLIENT_FSM_FETCH_RETRY_MAX_MS
					      ? CLIENT_FSM_FETCH_RETRY_MAX_MS
					      : f->fetch_backoff_ms * 2;
		return;
	}
	f->fetch_backoff_ms = CLIENT_FSM_FETCH_RETRY_MIN_MS;
	f->fetch_failing_since_ms = 0;
	/* At a random time in the first half of the next window, for that
	 * window alone: a client's fetches do not mark the window boundaries,
	 * and one DHT identity never looks up two windows' descriptors
	 * (docs/security-dht.md). */
	f->fetch_window = derive_window_start(now_wall_ms / 1000, f->period_s) + f->period_s;
	due_wall_ms = (int64_t)f->fetch_window * 1000 + CLIENT_FSM_FETCH_AFTER_BOUNDARY_MS +
		      (int64_t)(rand_next(f) % (f->period_s * 500u + 1u));
	f->fetch_mono_ms = now_mono_ms + (due_wall_ms - now_wall_ms);
}

const char *client_fsm_state_name(enum client_fsm_state s)
{
	switch (s) {
	case CLIENT_FSM_WAITING:
		return "waiting";
	case CLIENT_FSM_INTRO:
		return "introduction";
	case CLIENT_FSM_SESSION:
		return "session";
	}
	return "?";
}
