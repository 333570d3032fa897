/* mt6d-server: the control socket's answers (get=1 shows the server and
 * every session; set=1 reloads, rekeys or sets the threat level). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dht/dht.h"
#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/dhtident.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/engine/server_int.h"
#include "mt6d/engine/sessiontun.h"
#include "mt6d/engine/slotmux.h"
#include "mt6d/engine/tunnel.h"
#include "netlink/ndresp.h"
#include "tun/tun.h"

void server_get_stats(const struct server *srv, struct server_stats *stats_out)
{
	*stats_out = srv->stats;
}

unsigned server_session_count(const struct server *srv)
{
	return (unsigned)sesstab_count(&srv->table);
}

size_t server_client_count(const struct server *srv)
{
	return srv->n_clients;
}

unsigned server_fds_per_session(const struct server *srv)
{
	/* The shared TUN and the shared slot sockets cost nothing per session. */
	return (config_is_session_interface_shared(&srv->cfg) ? 0 : 1) +
	       (config_is_slot_sockets_shared(&srv->cfg) ? 0 : 3);
}

const char *server_state_dir(const struct server *srv)
{
	return srv->cfg.state_dir;
}

static void show_endpoint(struct ctl_reply *r, const char *key, const struct in6_addr *seed,
			  const uint8_t slot_key[static 32], uint64_t slot)
{
	struct rotate_endpoint ep;
	char a[INET6_ADDRSTRLEN];

	rotate_endpoint_for(seed, slot_key, slot, &ep);
	ctl_reply_printf(r, "%s=[%s]:%u\n", key, server_addr_str(&ep.addr, a), ep.port);
}

static void show_session(struct server *srv, struct ctl_reply *r, struct server_session *ss)
{
	struct tunnel_stats st;
	char a[INET6_ADDRSTRLEN], words[1024], *w, *save = NULL;
	uint64_t slot = tunnel_current_slot(ss->tunnel);

	(void)srv;
	ctl_reply_printf(r, "client=%s\n", ss->name);
	ctl_reply_printf(r, "id=%u\n", ss->id);
	ctl_reply_printf(r, "session_interface=%s\n", tunnel_tun_name(ss->tunnel));
	ctl_reply_printf(r, "server_tunnel_address=%s\n", server_addr_str(&ss->server_tunnel, a));
	ctl_reply_printf(r, "client_tunnel_address=%s\n", server_addr_str(&ss->client_tunnel, a));
	ctl_reply_printf(r, "server_seed=%s\n", server_addr_str(&ss->server_seed, a));
	ctl_reply_printf(r, "client_seed=%s\n", server_addr_str(&ss->client_seed, a));
	ctl_reply_printf(r, "rotation_ms=%u\n", tunnel_rotation_ms(ss->tunnel));
	ctl_reply_printf(r, "slot=%" PRIu64 "\n", slot);
	ctl_reply_printf(r, "next_rotation_ms=%" PRId64 "\n", tunnel_next_move_in_ms(ss->tunnel));
	show_endpoint(r, "own_endpoint", &ss->server_seed, ss->keys.session, slot);
	show_endpoint(r, "peer_endpoint", &ss->client_seed, ss->keys.session, slot);
	show_endpoint(r, "own_endpoint_next", &ss->server_seed, ss->keys.session, slot + 1);
	show_endpoint(r, "peer_endpoint_next", &ss->client_seed, ss->keys.session, slot + 1);
	ctl_reply_printf(r, "started=%.0f\n", ss->started_wall_ms / 1000.0);
	ctl_reply_printf(r, "last_rx=%.0f\n",
			 (wall_now_ms() - (mono_now_ms() - ss->ent.last_rx_ms)) / 1000.0);
	tunnel_get_stats(ss->tunnel, &st);
	tunnel_format_stats(&st, words, sizeof(words));
	for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
		ctl_reply_printf(r, "%s\n", w);
}

/* Descriptors the process holds: what the session count costs against
 * RLIMIT_NOFILE. -1 when /proc is not there. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	const struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

static void show_server(struct server *srv, struct ctl_reply *r)
{
	const struct server_stats *s = &srv->stats;
	char a[INET6_ADDRSTRLEN];
	uint64_t slot = server_intro_slot(srv->gen);
	int64_t next_ms;
	size_t i, active = 0;

	for (i = 0; i < srv->n_clients; i++)
		active += srv->is_active[i];
	ctl_reply_printf(r, "role=server\n");
	ctl_reply_printf(r, "interface=%s\n", tun_name(srv->intro_tun));
	ctl_reply_printf(r, "link=%s\n", srv->cfg.interface);
	ctl_reply_printf(r, "address_mode=%s\n", srv->cfg.is_routed_mode ? "routed" :
			 srv->ndresp ? "scale" : "per-address");
	if (srv->ndresp) {
		struct ndresp_stats ns;

		ndresp_get_stats(srv->ndresp, &ns);
		ctl_reply_printf(r, "nd_addrs=%zu\nnd_answered=%" PRIu64 "\nnd_not_ours=%" PRIu64
				 "\nnd_malformed=%" PRIu64 "\nnd_socket_drops=%" PRIu64 "\n",
				 ndresp_count(srv->ndresp), ns.answered, ns.not_ours, ns.malformed,
				 ns.socket_drops);
	} else if (srv->cfg.is_routed_mode) {
		ctl_reply_printf(r, "nd_answered=0\n"); /* no responder at all */
	}
	ctl_reply_printf(r, "seed_address=%s\n", server_addr_str(&srv->seed, a));
	{ /* guard */
		char g[512];

		guard_format_stats(srv->guard, g, sizeof(g));
		ctl_reply_printf(r, "%s", g);
	}
	ctl_reply_printf(r, "tunnel_prefix=%s/%u\n", server_addr_str(&srv->tunnel_prefix, a),
			 srv->tunnel_prefix_len);
	ctl_reply_printf(r, "session_interface_mode=%s\n", srv->stun ? "shared" : "per-client");
	if (srv->stun) {
		struct sessiontun_stats st;

		sessiontun_get_stats(srv->stun, &st);
		ctl_reply_printf(r, "shared_interface=%s\nshared_rx=%" PRIu64 "\nshared_handed=%" PRIu64
				 "\nshared_drops_no_session=%" PRIu64 "\nshared_drops_read=%" PRIu64 "\n",
				 tun_name(sessiontun_tun(srv->stun)), st.rx_packets, st.handed,
				 st.drops_no_session, st.drops_read);
	}
	ctl_reply_printf(r, "slot_sockets_mode=%s\n", srv->mux ? "shared" : "per-session");
	if (srv->mux) {
		struct slotmux_stats ms;

		slotmux_get_stats(srv->mux, &ms);
		ctl_reply_printf(r, "mux_port=%u\nmux_endpoints=%" PRIu64 "\nmux_rx=%" PRIu64
				 "\nmux_tx=%" PRIu64 "\nmux_drops_unknown=%" PRIu64
				 "\nmux_drops_malformed=%" PRIu64 "\nmux_tx_errors=%" PRIu64 "\n",
				 slotmux_port(srv->mux), ms.endpoints, ms.rx, ms.tx, ms.drops_unknown,
				 ms.drops_malformed, ms.tx_errors);
	}
	ctl_reply_printf(r, "process_fds=%d\n", count_fds());
	ctl_reply_printf(r, "rotation_ms=%u\n", srv->gen->rotation_ms);
	ctl_reply_printf(r, "threat=%s\n", threat_name(srv->threat.level));
	ctl_reply_printf(r, "threat_set=%s\n", threat_name(srv->threat.set));
	ctl_reply_printf(r, "threat_rotation_ms=%u\n", threat_rotation_ms(srv->cfg.rotation_ms, srv->threat.level));
	ctl_reply_printf(r, "config_period_s=%u\n", srv->cfg.config_period_s);
	ctl_reply_printf(r, "key_generation=%" PRIu64 "\n", srv->gen->number);
	ctl_reply_printf(r, "key_changed=%.0f\n", srv->k_changed_wall_ms / 1000.0);
	ctl_reply_printf(r, "slot=%" PRIu64 "\n", slot);
	next_ms = rotate_slot_start_ms(srv->gen->rotation_ms, slot + 1) - wall_now_ms();
	ctl_reply_printf(r, "next_rotation_ms=%" PRId64 "\n", next_ms > 0 ? next_ms : 0);
	show_endpoint(r, "intro_endpoint", &srv->seed, srv->gen->slot_key, slot);
	show_endpoint(r, "intro_endpoint_next", &srv->seed, srv->gen->slot_key, slot + 1);
	ctl_reply_printf(r, "registered_clients=%zu\n", srv->n_clients);
	ctl_reply_printf(r, "active_clients=%zu\n", active);
	ctl_reply_printf(r, "sessions=%zu\n", sesstab_count(&srv->table));
	ctl_reply_printf(r,
			 "intro_rx=%" PRIu64 "\ndrops_unknown_iid=%" PRIu64 "\ndrops_wire=%" PRIu64
			 "\ndrops_inner=%" PRIu64 "\ndrops_rate=%" PRIu64
			 "\ndrops_client_id=%" PRIu64 "\ndrops_msg=%" PRIu64
			 "\ndrops_auth=%" PRIu64 "\ndrops_stale=%" PRIu64
			 "\ndrops_replay=%" PRIu64 "\ndrops_intro_replay=%" PRIu64
			 "\nintro_replayed=%" PRIu64
			 "\ndrops_ciid=%" PRIu64 "\ndrops_superseded=%" PRIu64
			 "\nsession_errors=%" PRIu64 "\nsessions_started=%" PRIu64
			 "\nsessions_ended=%" PRIu64 "\nrekeys=%" PRIu64 "\naddr_errors=%" PRIu64
			 "\n",
			 s->intro_rx, s->drops_unknown_iid, s->drops_wire, s->drops_inner,
			 s->drops_rate, s->drops_client_id, s->drops_msg, s->drops_auth,
			 s->drops_stale, s->drops_replay, s->drops_intro_replay, s->intro_replayed,
			 s->drops_ciid, s->drops_superseded, s->session_errors,
			 s->sessions_started, s->sessions_ended, s->rekeys, s->addr_errors);
	if (srv->publisher || srv->itempub) {
		struct pubsched_stats ps;
		struct dht_stats ds;

		size_t known = 0;
		uint64_t rx = 0, tx = 0;

		for (i = 0; i < srv->n_idents; i++) {
			dht_get_stats(dhtev_dht(dhtident_current(srv->idents[i])), dhtev_now_ms(), &ds);
			known += ds.good6 + ds.questionable6;
			rx += ds.rx;
			tx += ds.tx;
		}
		ctl_reply_printf(r, "dht_nodes=%zu\ndht_rx=%" PRIu64 "\ndht_tx=%" PRIu64 "\n", known, rx,
				 tx);
		if (srv->publisher) {
			pubsched_get_stats(srv->publisher, &ps);
			ctl_reply_printf(r, "published_clients=%zu\npublications=%zu\npublish_failures=%zu"
					 "\nannounces_acked=%zu\npublish_pending=%zu\n",
					 ps.clients, ps.publications, ps.failures, ps.acked, ps.pending);
		}
		if (srv->itempub) {
			pubsched_get_stats(srv->itempub, &ps);
			ctl_reply_printf(r, "item_clients=%zu\nitem_publications=%zu\nitem_failures=%zu"
					 "\nitem_puts_acked=%zu\nitem_pending=%zu\n",
					 ps.clients, ps.publications, ps.failures, ps.acked, ps.pending);
		}
		ctl_reply_printf(r, "window=%" PRIu64 "\nepoch=%d\n", srv->win_start,
				 pubsched_get_epoch(srv->publisher ? srv->publisher : srv->itempub, srv->win_start));
		dhtident_show_lanes((const struct dhtident *const *)srv->idents, srv->n_idents, r);
	}
	for (i = 0; i < srv->n_clients; i++)
		if (server_session_of(srv, srv->clients[i].cfg.id))
			show_session(srv, r, server_session_of(srv, srv->clients[i].cfg.id));
}

int server_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *reply)
{
	struct server *srv = ctx;
	char msg[512] = "";
	size_t i;
	int rc;

	if (!req->is_set) {
		show_server(srv, reply);
		return 0;
	}
	for (i = 0; i < req->n_pairs; i++) {
		const struct ctl_pair *p = &req->pairs[i];

		if (!strcmp(p->key, "reload") && !strcmp(p->value, "1")) {
			rc = server_reload(srv, msg, sizeof(msg));
			if (rc < 0) {
				log_warnx("reload refused: %s", msg);
				ctl_reply_printf(reply, "error=%s\n", msg);
				return rc;
			}
		} else if (!strcmp(p->key, "rekey") && !strcmp(p->value, "1")) {
			server_rekey(srv, true, "operator request");
		} else if (!strcmp(p->key, "threat")) {
			enum threat_level level;

			if (threat_parse(p->value, &level) < 0) {
				ctl_reply_printf(reply, "error=threat level must be low, normal or high\n");
				return -EINVAL;
			}
			server_set_threat(srv, level, false, "operator request");
		} else {
			ctl_reply_printf(reply, "error=unknown key '%s'\n", p->key);
			return -EINVAL;
		}
	}
	return 0;
}
