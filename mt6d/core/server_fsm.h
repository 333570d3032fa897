/* The decisions of mt6d-server (docs/PROTOCOL.md section 11, patent Algorithms
 * 1 and 2) as pure functions of their state and the time: which requests
 * are served (rate, order), when a session is told of a new Rot and when
 * it ends for idleness, when a keepalive is answered, which slot the
 * introduction is in, when a config window (and its K) begins, how long an
 * old K stays reachable. The threat policy is mt6d/core/threat.h; the
 * session table (states live and closing, idle times) mt6d/core/sesstab.h.
 * mt6d/engine/server*.c execute the actions.
 *
 * Clocks: *_wall_ms is UNIX time (slots, windows, request timestamps and
 * the instant of a change of Rot, which both ends compute); *_mono_ms is
 * CLOCK_MONOTONIC (rates, idle and keepalive timers). */
#ifndef MT6D_SERVER_FSM_H
#define MT6D_SERVER_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "mt6d/core/sesstab.h"

#define SERVER_FSM_REQUEST_BURST 4         /* requests per client before rate limiting */
#define SERVER_FSM_REQUEST_RATE_PER_S 1    /* refill of that bucket */
#define SERVER_FSM_KEEPALIVE_REPLY_MIN_MS 500
/* A change of Rot is told to the client at least this long before the
 * boundary where both ends change, and again at every tick until 500 ms
 * before it, in case one copy is lost. */
#define SERVER_FSM_ROTATION_LEAD_MS 2000
#define SERVER_FSM_ROTATION_REPEAT_UNTIL_MS 500
#define SERVER_FSM_EARLY_MS 20             /* a periodic timer firing a hair early */
#define SERVER_FSM_OLD_K_GRACE_MAX_S 120   /* the previous K stays reachable this long */

/* Per registered client: its request bucket. */
struct server_fsm_bucket {
	double tokens;
	int64_t at_mono_ms;
};

void server_fsm_bucket_init(struct server_fsm_bucket *b);
/* Whether a request may be looked at now (and takes its token). */
bool server_fsm_take_token(struct server_fsm_bucket *b, int64_t now_mono_ms);

enum server_fsm_request {
	SERVER_REQ_NEW,                  /* no session: make one */
	SERVER_REQ_REPLACE,              /* a newer request than the session's: replace it */
	SERVER_REQ_SUPERSEDED,           /* older than the session's: the client answers only its
					  * latest, so it must not replace the session */
};

/* A valid request stamped request_wall_ms, for a client whose live session
 * (if has_session) was made from a request stamped session_request_wall_ms.
 * The slot sockets are read in no particular order: a retry may be
 * handled before the request it follows. */
enum server_fsm_request server_fsm_on_request(bool has_session, uint64_t session_request_wall_ms,
					      uint64_t request_wall_ms);

/* The server's side of one live session. */
struct server_fsm_session {
	uint32_t rotation_ms;            /* Rot, or the one it changes to at rotation_at_wall_ms */
	int64_t rotation_at_wall_ms;     /* a change of Rot being told (0: none) */
	uint32_t rotation_seq;           /* msg 3: number of the latest change (issue 13) */
	int64_t last_keepalive_reply_mono_ms;
};

void server_fsm_session_init(struct server_fsm_session *s, uint32_t rotation_ms);

/* What the housekeeping tick asks for a session. */
enum server_fsm_session_action {
	SERVER_DO_SEND_ROTATION = 1 << 0, /* (again) the rotation change message */
	SERVER_DO_END_IDLE = 1 << 1,      /* teardown: idle for longer than idle_ms */
};

/* e: the session's table entry (its idle time, in the monotonic clock);
 * rx_packets: the tunnel's count of authentic packets. */
unsigned server_fsm_session_tick(struct server_fsm_session *s, struct sesstab_entry *e,
				 uint64_t rx_packets, int64_t now_mono_ms, int64_t now_wall_ms,
				 uint32_t idle_ms);

/* The threat level changes the session's Rot to rotation_ms: returns
 * whether the client must be told, and *at_wall_ms_out the boundary of the
 * current period cur_rotation_ms, at least SERVER_FSM_ROTATION_LEAD_MS
 * ahead, where both ends change. Each change gets the next rotation_seq
 * (from 1), which the client must see grow (msg_rotation_check). (Back to the period in force before a
 * pending change took effect: the same message tells the client to keep
 * it.) */
bool server_fsm_change_rotation(struct server_fsm_session *s, uint32_t cur_rotation_ms,
				uint32_t rotation_ms, int64_t now_wall_ms, int64_t *at_wall_ms_out);

/* An empty packet from the client (keepalive): whether to answer it (at
 * most one answer per SERVER_FSM_KEEPALIVE_REPLY_MIN_MS). */
bool server_fsm_keepalive_reply(struct server_fsm_session *s, int64_t now_mono_ms);

/* The slot the introduction is in at now_wall_ms, counting a timer that
 * fires up to SERVER_FSM_EARLY_MS before a boundary as after it. */
uint64_t server_fsm_intro_slot(uint32_t rotation_ms, int64_t now_wall_ms);

/* Called at the config period's boundaries (the first one may come at once
 * after start: K is brand new): whether a new window began after
 * *win_start_s, which is then moved to it (UNIX s). */
bool server_fsm_window_due(uint64_t *win_start_s, int64_t now_wall_ms, uint32_t period_s);

/* How long the previous K stays reachable after a new one (not after a
 * revocation, which drops it at once). */
uint32_t server_fsm_old_k_grace_s(uint32_t period_s);

/* Whether a client registered until expires_s (0: forever) has expired. */
bool server_fsm_is_expired(int64_t expires_s, int64_t now_wall_s);

#endif
