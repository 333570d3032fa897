/* mt6d-client: the control socket's answers (get=1 shows the client, its
 * session and any introduction beside it; set=1 reconnect=1 establishes
 * again). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mt6d/base/clock.h"
#include "mt6d/core/rotate.h"
#include "mt6d/engine/client_int.h"
#include "mt6d/engine/dhtident.h"
#include "mt6d/engine/tunnel.h"

static void show_endpoint(struct ctl_reply *r, const char *key, const struct in6_addr *seed,
			  const uint8_t slot_key[static 32], uint64_t slot)
{
	struct rotate_endpoint ep;
	char a[INET6_ADDRSTRLEN];

	rotate_endpoint_for(seed, slot_key, slot, &ep);
	ctl_reply_printf(r, "%s=[%s]:%u\n", key, client_addr_str(&ep.addr, a), ep.port);
}

static void show_client(struct client *c, struct ctl_reply *r)
{
	char a[INET6_ADDRSTRLEN], words[1024], *w, *save = NULL;

	ctl_reply_printf(r, "role=client\n");
	ctl_reply_printf(r, "interface=%s\n", c->tun_name);
	ctl_reply_printf(r, "link=%s\n", c->cfg.interface);
	ctl_reply_printf(r, "state=%s\n", client_fsm_state_name(c->fsm.state));
	ctl_reply_printf(r, "client_id=%u\n", c->cfg.client_id);
	ctl_reply_printf(r, "prefix=%s/64\n", client_addr_str(&c->prefix, a));
	{ /* guard */
		char g[512];

		guard_format_stats(c->guard, g, sizeof(g));
		ctl_reply_printf(r, "%s", g);
	}
	if (c->has_intro) {
		ctl_reply_printf(r, "server_seed=%s\n", client_addr_str(&c->intro.server_seed, a));
		ctl_reply_printf(r, "intro_rotation_ms=%u\n", c->intro.rotation_ms);
		ctl_reply_printf(r, "intro_changed=%.0f\n", c->intro_changed_wall_ms / 1000.0);
		ctl_reply_printf(r, "own_seed=%s\n", client_addr_str(&c->own_seed, a));
	}
	ctl_reply_printf(r, "fetches_ok=%" PRIu64 "\nfetches_failed=%" PRIu64 "\n", c->fetches_ok,
			 c->fetches_failed);
	if (c->rdv_from)
		ctl_reply_printf(r, "config_channel=%s\n", c->rdv_from);
	if (c->ident)
		dhtident_show(c->ident, r);
	ctl_reply_printf(r, "requests_sent=%" PRIu64 "\nsessions=%" PRIu64
			 "\nteardowns_rx=%" PRIu64 "\nresponses_bad=%" PRIu64
			 "\nreestablish_k=%" PRIu64 "\nreestablish_silence=%" PRIu64
			 "\nreestablish_prefix=%" PRIu64 "\nrotation_changes=%" PRIu64
			 "\nrotations_refused=%" PRIu64 "\n",
			 c->requests_sent, c->sessions, c->teardowns_rx, c->responses_bad,
			 c->fsm.reestablish_k, c->fsm.reestablish_silence, c->fsm.reestablish_prefix,
			 c->rotation_changes, c->rotations_refused);
	ctl_reply_printf(r, "renew_silence=%" PRIu64 "\n", c->fsm.renew_silence);
	if (c->renew_tunnel) {
		struct tunnel_stats st;

		/* The introduction beside the session, its counters prefixed. */
		ctl_reply_printf(r, "renewing=1\nrenew_interface=%s\n",
				 tunnel_tun_name(c->renew_tunnel));
		tunnel_get_stats(c->renew_tunnel, &st);
		tunnel_format_stats(&st, words, sizeof(words));
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			ctl_reply_printf(r, "renew_%s\n", w);
	}
	if (c->is_session_tunnel) {
		struct tunnel_stats st;
		uint64_t slot = tunnel_current_slot(c->tunnel);

		ctl_reply_printf(r, "session_interface=%s\n", c->tun_name);
		ctl_reply_printf(r, "server_tunnel_address=%s\n", client_addr_str(&c->server_tunnel, a));
		ctl_reply_printf(r, "client_tunnel_address=%s\n", client_addr_str(&c->client_tunnel, a));
		ctl_reply_printf(r, "server_session_seed=%s\n",
				 client_addr_str(&c->server_session_seed, a));
		ctl_reply_printf(r, "rotation_ms=%u\n", tunnel_rotation_ms(c->tunnel));
		ctl_reply_printf(r, "slot=%" PRIu64 "\n", slot);
		ctl_reply_printf(r, "next_rotation_ms=%" PRId64 "\n",
				 tunnel_next_move_in_ms(c->tunnel));
		show_endpoint(r, "own_endpoint", &c->session_seed, c->keys.session, slot);
		show_endpoint(r, "peer_endpoint", &c->server_session_seed, c->keys.session, slot);
		show_endpoint(r, "own_endpoint_next", &c->session_seed, c->keys.session, slot + 1);
		show_endpoint(r, "peer_endpoint_next", &c->server_session_seed, c->keys.session,
			      slot + 1);
		ctl_reply_printf(r, "started=%.0f\n", c->session_started_wall_ms / 1000.0);
		ctl_reply_printf(r, "last_rx=%.0f\n",
				 (wall_now_ms() - (mono_now_ms() - c->fsm.last_rx_mono_ms)) / 1000.0);
		tunnel_get_stats(c->tunnel, &st);
		tunnel_format_stats(&st, words, sizeof(words));
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			ctl_reply_printf(r, "%s\n", w);
	}
}

int client_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *r)
{
	struct client *c = ctx;
	size_t i;

	if (!req->is_set) {
		show_client(c, r);
		return 0;
	}
	for (i = 0; i < req->n_pairs; i++) {
		if (!strcmp(req->pairs[i].key, "reconnect") && !strcmp(req->pairs[i].value, "1")) {
			client_send_teardown(c, MSG_TEARDOWN_REPLACED);
			client_execute(c, client_fsm_on_reconnect(&c->fsm));
		} else {
			ctl_reply_printf(r, "error=unknown key '%s'\n", req->pairs[i].key);
			return -EINVAL;
		}
	}
	return 0;
}
