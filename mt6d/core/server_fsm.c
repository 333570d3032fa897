#include "mt6d/core/server_fsm.h"

#include <string.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/rotate.h"

void server_fsm_bucket_init(struct server_fsm_bucket *b)
{
	b->tokens = SERVER_FSM_REQUEST_BURST;
	b->at_mono_ms = 0;
}

bool server_fsm_take_token(struct server_fsm_bucket *b, int64_t now_mono_ms)
{
	if (b->at_mono_ms)
		b->tokens += (now_mono_ms - b->at_mono_ms) / 1000.0 * SERVER_FSM_REQUEST_RATE_PER_S;
	if (b->tokens > SERVER_FSM_REQUEST_BURST)
		b->tokens = SERVER_FSM_REQUEST_BURST;
	b->at_mono_ms = now_mono_ms;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

enum server_fsm_request server_fsm_on_request(bool has_session, uint64_t session_request_wall_ms,
					      uint64_t request_wall_ms)
{
	if (!has_session)
		return SERVER_REQ_NEW;
	return request_wall_ms <= session_request_wall_ms ? SERVER_REQ_SUPERSEDED
							  : SERVER_REQ_REPLACE;
}

void server_fsm_session_init(struct server_fsm_session *s, uint32_t rotation_ms)
{
	memset(s, 0, sizeof(*s));
	s->rotation_ms = rotation_ms;
}

unsigned server_fsm_session_tick(struct server_fsm_session *s, struct sesstab_entry *e,
				 uint64_t rx_packets, int64_t now_mono_ms, int64_t now_wall_ms,
				 uint32_t idle_ms)
{
	unsigned acts = 0;

	if (e->is_closing)
		return 0;
	if (s->rotation_at_wall_ms) {
		if (now_wall_ms < s->rotation_at_wall_ms - SERVER_FSM_ROTATION_REPEAT_UNTIL_MS)
			acts |= SERVER_DO_SEND_ROTATION;
		else
			s->rotation_at_wall_ms = 0;
	}
	sesstab_note_rx(e, rx_packets, now_mono_ms);
	if (sesstab_is_idle(e, now_mono_ms, idle_ms))
		acts |= SERVER_DO_END_IDLE;
	return acts;
}

bool server_fsm_change_rotation(struct server_fsm_session *s, uint32_t cur_rotation_ms,
				uint32_t rotation_ms, int64_t now_wall_ms, int64_t *at_wall_ms_out)
{
	int64_t at;

	if (rotation_ms == s->rotation_ms)
		return false;
	at = rotate_slot_start_ms(cur_rotation_ms,
				  rotate_slot_at(cur_rotation_ms,
						 now_wall_ms + SERVER_FSM_ROTATION_LEAD_MS) + 1);
	s->rotation_ms = rotation_ms;
	s->rotation_at_wall_ms = at;
	s->rotation_seq++;
	*at_wall_ms_out = at;
	return true;
}

bool server_fsm_keepalive_reply(struct server_fsm_session *s, int64_t now_mono_ms)
{
	if (s->last_keepalive_reply_mono_ms &&
	    now_mono_ms - s->last_keepalive_reply_mono_ms < SERVER_FSM_KEEPALIVE_REPLY_MIN_MS)
		return false;
	s->last_keepalive_reply_mono_ms = now_mono_ms;
	return true;
}

uint64_t server_fsm_intro_slot(uint32_t rotation_ms, int64_t now_wall_ms)
{
	uint64_t slot = rotate_slot_at(rotation_ms, now_wall_ms);

	if (rotate_slot_start_ms(rotation_ms, slot + 1) - now_wall_ms <= SERVER_FSM_EARLY_MS)
		slot++;
	return slot;
}

bool server_fsm_window_due(uint64_t *win_start_s, int64_t now_wall_ms, uint32_t period_s)
{
	/* A periodic timer may fire a little before the boundary: 1 s ahead. */
	uint64_t t = derive_window_start(now_wall_ms / 1000 + 1, period_s);

	if (t == *win_start_s)
		return false;
	*win_start_s = t;
	return true;
}

uint32_t server_fsm_old_k_grace_s(uint32_t period_s)
{
	return period_s < SERVER_FSM_OLD_K_GRACE_MAX_S ? period_s : SERVER_FSM_OLD_K_GRACE_MAX_S;
}

bool server_fsm_is_expired(int64_t expires_s, int64_t now_wall_s)
{
	return expires_s != 0 && now_wall_s >= expires_s;
}
