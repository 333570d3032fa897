/* The decisions of mt6d-client (docs/PROTOCOL.md section 11; FIG. 5) as a pure
 * state machine: when to fetch the server's config, when to (re)start the
 * introduction, when to send a request and how to back off, when to send a
 * keepalive, when a silent session is renewed beside itself
 * (make-before-break) and when it is given up. Events and a monotonic now
 * in, actions out; mt6d/engine/client.c executes the actions (tunnels,
 * messages, fetches) and reports back with the client_fsm_on_* events.
 *
 * Clocks: every *_mono_ms is CLOCK_MONOTONIC (mt6d/base/clock.h); only
 * client_fsm_fetch_done takes the wall clock too, to find the next config
 * window (windows are UNIX time). */
#ifndef MT6D_CLIENT_FSM_H
#define MT6D_CLIENT_FSM_H

#include <stdbool.h>
#include <stdint.h>

#define CLIENT_FSM_TICK_MS 1000            /* the longest sleep: tunnel counters are polled */
#define CLIENT_FSM_PREFIX_CHECK_MS 2000    /* how often the /64 of Interface is looked at */
#define CLIENT_FSM_RETRY_MIN_MS 1000       /* first retry (above a loaded server's set-up time) */
#define CLIENT_FSM_RETRY_FACTOR 1.5        /* backoff growth per attempt */
#define CLIENT_FSM_RETRY_MAX_MS 15000      /* backoff cap */
#define CLIENT_FSM_REFETCH_ATTEMPTS 3      /* unanswered requests before fetching again */
/* Between a new introduction tunnel and its first request: the kernel
 * joins the solicited-node group of a new address a little after the add
 * (a response before that waits 1 s for a neighbour solicitation
 * retransmission; 50 ms was not always enough on a loaded machine). */
#define CLIENT_FSM_FIRST_REQUEST_MS 200
/* A request the kernel refused to send (the introduction tunnel's address
 * not usable yet on a loaded machine: EINVAL) is sent again after
 * CLIENT_FSM_FIRST_REQUEST_MS, this many times per introduction, before the
 * usual backoff takes over (a lasting error must not spin). */
#define CLIENT_FSM_UNSENT_FAST_RETRIES 10
#define CLIENT_FSM_TEARDOWN_HOLD_MS 1000   /* after the server ended it: not at once */
#define CLIENT_FSM_FETCH_TIMEOUT_MS 30000
#define CLIENT_FSM_FETCH_RETRY_MIN_MS 2000
#define CLIENT_FSM_FETCH_RETRY_MAX_MS 60000
/* A client without a session retries failed fetches at most this far apart
 * for the first CLIENT_FSM_FETCH_FAST_FOR_MS of failures: a fresh server
 * publishes within seconds of its start (docs/PROTOCOL.md 6.5), and a doubling
 * backoff would have the client look again only 30-60 s later. After that,
 * the backoff grows to RETRY_MAX (a server that is down for long costs the
 * DHT little). */
#define CLIENT_FSM_FETCH_RETRY_EARLY_MAX_MS 4000
#define CLIENT_FSM_FETCH_FAST_FOR_MS 120000
#define CLIENT_FSM_FETCH_AFTER_BOUNDARY_MS 2000 /* the next window's config is out before it */
/* A live server answers every keepalive at once. When an answer is late
 * (silence above keepalive + one probe interval) keepalives go out every
 * probe interval; after CLIENT_FSM_RENEW_PROBES unanswered probes a new
 * introduction starts beside the session, with a fresh fetch of the
 * config: a restarted server has a new K and no memory of the session, and
 * waiting for the full silence limit (35 s by default) kept clients away
 * from it for 33-44 s. The session stays until the new one replaces it, so
 * a server that was only slow costs a re-key, not an outage. */
#define CLIENT_FSM_PROBE_MAX_MS 1000
#define CLIENT_FSM_RENEW_PROBES 3

enum client_fsm_state {
	CLIENT_FSM_WAITING,   /* no introduction config yet, or no tunnel for it */
	CLIENT_FSM_INTRO,     /* introduction tunnel up, requesting */
	CLIENT_FSM_SESSION,   /* session tunnel up (maybe an introduction beside it) */
};

/* What the engine is asked to do; several at once are done in this order. */
enum client_fsm_action {
	CLIENT_DO_CHECK_PREFIX = 1 << 0, /* look at the /64 of Interface (client_fsm_on_prefix_changed) */
	CLIENT_DO_FETCH = 1 << 1,        /* get the config (client_fsm_fetch_done, on_config) */
	CLIENT_DO_INTRO = 1 << 2,        /* end any session, start the introduction */
	CLIENT_DO_RENEW = 1 << 3,        /* start the introduction beside the session */
	CLIENT_DO_REQUEST = 1 << 4,      /* send a configuration request */
	CLIENT_DO_KEEPALIVE = 1 << 5,    /* send a keepalive into the session */
};

struct client_fsm {
	enum client_fsm_state state;
	uint32_t keepalive_ms, silence_ms, period_s;
	bool is_file_mode;               /* config from a file: read at every tick */
	bool has_config;                 /* a config from the rendezvous is known */
	bool is_renewing;                /* an introduction runs beside the session */
	bool is_first_request_due;       /* the next request is the first of this introduction */
	bool is_held;                    /* the server ended the session: first request later */
	int64_t request_mono_ms;         /* next request (or introduction) due; INT64_MAX: none */
	uint32_t backoff_ms;
	unsigned attempts;               /* requests since the introduction started */
	unsigned unsent;                 /* requests the kernel refused, this introduction */
	int64_t last_rx_mono_ms, last_keepalive_mono_ms, last_prefix_check_mono_ms;
	uint64_t rx_packets;             /* session tunnel's count at last_rx_mono_ms */
	int64_t fetch_mono_ms;           /* next fetch due */
	uint64_t fetch_window;           /* the window it asks for alone (0: the window of
					  * the moment, and its neighbour near a boundary) */
	uint32_t fetch_backoff_ms;
	int64_t fetch_failing_since_ms;  /* first failure of the current run of them, 0: none */
	uint32_t intro_epoch;            /* changes at every new introduction */
	uint32_t rand_state;             /* jitter (xorshift32, seeded by the engine) */
	uint64_t reestablish_silence, renew_silence, reestablish_k, reestablish_prefix;
};

/* seed: random (the engine draws it), so that clients that lost their
 * sessions together do not retry in step. */
void client_fsm_init(struct client_fsm *f, uint32_t keepalive_ms, uint32_t silence_ms,
		     uint32_t period_s, bool is_file_mode, uint32_t seed, int64_t now_mono_ms);

/* Silence after which the session is renewed beside itself (make-before-
 * break); 0 when the keepalive settings leave no room before silence_ms. */
uint32_t client_fsm_renew_after_ms(const struct client_fsm *f);

/* Called at (or after) the deadline it returned last, and after every
 * event; rx_packets: the session tunnel's packet counter (anything from the
 * server). Returns a set of enum client_fsm_action; *next_mono_out is when
 * to call it again. */
unsigned client_fsm_tick(struct client_fsm *f, int64_t now_mono_ms, uint64_t rx_packets,
			 int64_t *next_mono_out);

/* When client_fsm_tick wants to be called next (now at the latest + 1 s:
 * the tunnel's counters are polled). */
int64_t client_fsm_next_mono_ms(const struct client_fsm *f, int64_t now_mono_ms);

/* Events, each returning the actions it calls for at once. */
/* A config arrived; is_new: it differs from the one known (or is the first). */
unsigned client_fsm_on_config(struct client_fsm *f, bool is_new);
/* The engine started the introduction tunnel (is_renewal: beside the session). */
void client_fsm_on_intro_up(struct client_fsm *f, int64_t now_mono_ms, bool is_renewal);
/* The engine could not make the tunnel: try again after a backoff. */
void client_fsm_on_intro_failed(struct client_fsm *f, int64_t now_mono_ms);
/* The request just asked for did not leave (sendmsg failed): again soon,
 * not counted as unanswered. */
void client_fsm_on_request_unsent(struct client_fsm *f, int64_t now_mono_ms);
/* An authentic response, and its session tunnel is up. */
void client_fsm_on_session_up(struct client_fsm *f, int64_t now_mono_ms);
/* The session tunnel could not be made from an authentic response. */
unsigned client_fsm_on_session_failed(struct client_fsm *f);
/* The server ended the session (authentic teardown). */
unsigned client_fsm_on_teardown(struct client_fsm *f);
/* This host's /64 changed (the engine tells the server: roaming). */
unsigned client_fsm_on_prefix_changed(struct client_fsm *f);
/* The operator asked for a new session. */
unsigned client_fsm_on_reconnect(struct client_fsm *f);
/* A fetch ended (or could not start): the next one after a backoff (also
 * after a success while an introduction goes unanswered: the config may be
 * stale), or at a random time in the first half of the next window (its
 * config is published ahead), for that window alone (fetch_window). Called
 * before the config it found is reported. */
void client_fsm_fetch_done(struct client_fsm *f, bool is_ok, int64_t now_mono_ms,
			   int64_t now_wall_ms);

const char *client_fsm_state_name(enum client_fsm_state s);

#endif
