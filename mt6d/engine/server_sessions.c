/* mt6d-server: sessions (made from a valid request, ended by teardown,
 * idleness, revocation or replacement), the session messages in their
 * tunnels, the housekeeping tick, and the threat level in force (decided
 * by mt6d/core/threat.h, applied here). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/inner.h"
#include "mt6d/engine/server_int.h"
#include "mt6d/engine/sessiontun.h"
#include "mt6d/engine/slotmux.h"
#include "mt6d/engine/tunnel.h"
#include "netlink/nllink.h"
#include "tun/tun.h"

struct server_session *server_session_of_entry(struct sesstab_entry *e)
{
	return e ? container_of(e, struct server_session, ent) : NULL;
}

/* The live (not closing) session of a client, or NULL. */
struct server_session *server_session_of(const struct server *srv, uint32_t id)
{
	return server_session_of_entry(sesstab_lookup(&srv->table, id));
}

void server_session_free(struct server_session *ss)
{
	struct server *srv = ss->srv;

	ev_timer_stop(srv->loop, &ss->close_timer);
	sesstab_remove(&srv->table, &ss->ent);
	tunnel_free(ss->tunnel, SERVER_NETLINK_TIMEOUT_MS);
	msg_session_keys_wipe(&ss->keys);
	srv->stats.sessions_ended++;
	sodium_munlock(ss, sizeof(*ss)); /* wipes it too */
	free(ss);
}

static void send_teardown_copy(struct server_session *ss)
{
	uint8_t td[MSG_TEARDOWN_LEN];
	int rc = msg_teardown_seal(&ss->keys, ss->teardown_reason, td, sizeof(td));

	if (rc > 0)
		rc = inner_send(ss->srv->raw_fd, &ss->server_tunnel, &ss->client_tunnel, td,
				(size_t)rc);
	/* Said once per session: the copies meet the same error. */
	if (rc < 0 && ss->teardown_copies_sent == 0)
		log_err(rc, "sending a teardown to '%s'", ss->name);
	ss->teardown_copies_sent++;
}

/* Every SERVER_CLOSE_DELAY_S / SERVER_TEARDOWN_COPIES while closing: the
 * next copy of the teardown, or, all sent, the end. */
static void close_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server_session *ss = container_of(w, struct server_session, close_timer);

	(void)revents;
	if (ss->teardown_copies_sent < SERVER_TEARDOWN_COPIES) {
		send_teardown_copy(ss);
		return;
	}
	ev_timer_stop(loop, w);
	server_session_free(ss);
}

static const char *reason_name(uint8_t reason)
{
	switch (reason) {
	case MSG_TEARDOWN_SHUTDOWN:
		return "shutdown";
	case MSG_TEARDOWN_REVOKED:
		return "revoked";
	case MSG_TEARDOWN_IDLE:
		return "idle timeout";
	case MSG_TEARDOWN_REPLACED:
		return "replaced by a new session";
	case MSG_TEARDOWN_ROAMING:
		return "roaming";
	default:
		return "unspecified";
	}
}

/* Ends a session: a teardown message to the client (unless it asked), then
 * the tunnel is freed once the message has left through it. The client's
 * slot is free at once for a new session. */
void server_session_end(struct server_session *ss, uint8_t reason, bool send_teardown)
{
	struct server *srv = ss->srv;
	char a[INET6_ADDRSTRLEN];

	if (ss->ent.is_closing)
		return;
	sesstab_close(&srv->table, &ss->ent);
	server_audit(srv, "session end: client '%s' (id %u) on %s, tunnel %s: %s", ss->name, ss->id,
	      tunnel_tun_name(ss->tunnel), server_addr_str(&ss->client_tunnel, a), reason_name(reason));
	if (send_teardown) {
		double every = SERVER_CLOSE_DELAY_S / SERVER_TEARDOWN_COPIES;

		ss->teardown_reason = reason;
		ss->teardown_copies_sent = 0;
		send_teardown_copy(ss);
		ev_timer_init(&ss->close_timer, close_cb, every, every);
		ev_timer_start(srv->loop, &ss->close_timer);
		return;
	}
	server_session_free(ss);
}

/* The session's tunnel under its keys, from the response just sealed. */
static int session_tunnel_new(struct server *srv, struct server_session *ss)
{
	struct tunnel_config tc;
	char msg[256] = "";
	int64_t t0;
	int rc;

	memset(&tc, 0, sizeof(tc));
	tc.tun_name = CONFIG_DEFAULT_TUNNEL_NAME;
	tc.link_ifindex = srv->link_ifindex;
	tc.ndresp = srv->ndresp;
	tc.guard = srv->guard;
	tc.link_mtu = srv->link_mtu;
	tc.own_seed = ss->server_seed;
	tc.peer_seed = ss->client_seed;
	tc.tunnel_addr = ss->server_tunnel;
	tc.tunnel_prefix_len = 128;
	tc.peer_tunnel_addr = ss->client_tunnel;
	memcpy(tc.slot_key, ss->keys.session, TUNNEL_KEY_LEN);
	memcpy(tc.tx_key, ss->keys.tx, WIRE_KEY_LEN);
	memcpy(tc.rx_key, ss->keys.rx, WIRE_KEY_LEN);
	tc.rotation_ms = ss->fsm.rotation_ms;
	tc.reach = 1;
	tc.flags = TUNNEL_OWN_DST_ONLY | TUNNEL_NO_WAIT |
		   (srv->cfg.is_scale_mode ? TUNNEL_PREFIX_CLAIMED : 0) |
		   (srv->cfg.offloads_off ? TUNNEL_NO_OFFLOAD : 0);
	tc.padding = srv->cfg.padding;
	tc.aead = srv->cfg.is_cipher_aes ? WIRE_AEAD_AES256_GCM : WIRE_AEAD_CHACHA20_POLY1305;
	tc.shared_tun = srv->stun ? sessiontun_tun(srv->stun) : NULL;
	tc.slotmux = srv->mux;
	t0 = mono_now_ms();
	rc = tunnel_new(srv->loop, srv->nladdr, srv->nllink, &tc, &ss->tunnel, msg, sizeof(msg));
	sodium_memzero(&tc, sizeof(tc));
	log_debug("session of '%s': tunnel made in %.0f ms", ss->name, (double)(mono_now_ms() - t0));
	if (rc < 0)
		log_err(rc, "session of '%s': %s", ss->name, msg);
	return rc;
}

/* A valid request: replaces any session of this client, seals the response
 * (which draws K_s), makes the session tunnel. Writes the response to
 * resp_out; on failure nothing is sent. */
int server_session_start(struct server *srv, struct server_client *c, const struct msg_request *req,
			 struct msg_handshake *hs, uint8_t resp_out[static MSG_RESPONSE_LEN])
{
	struct server_session *ss;
	struct msg_response resp;
	struct sesstab_entry *e, *next;
	uint8_t iid[INTRO_IID_LEN];
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], c_tun[INET6_ADDRSTRLEN];
	int rc;

	if (server_session_of(srv, c->cfg.id))
		server_audit(srv, "session of '%s' replaced by a new request", c->cfg.name);
	/* An old session (closing ones too) holds the tunnel addresses and the
	 * route the new one needs. */
	for (e = sesstab_first(&srv->table); e; e = next) {
		next = sesstab_next(e);
		if (e->client_id == c->cfg.id)
			server_session_free(server_session_of_entry(e));
	}
	if (sesstab_count(&srv->table) >= SERVER_MAX_SESSIONS) {
		log_warnx("request of '%s' refused: %zu sessions already (SERVER_MAX_SESSIONS)",
			  c->cfg.name, sesstab_count(&srv->table));
		return -ENOSPC;
	}
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	(void)sodium_mlock(ss, sizeof(*ss)); /* issue 13: out of swap and core dumps */
	ss->srv = srv;
	ss->id = c->cfg.id;
	snprintf(ss->name, sizeof(ss->name), "%s", c->cfg.name);
	server_fsm_session_init(&ss->fsm, threat_rotation_ms(srv->cfg.rotation_ms, srv->threat.level));
	ss->request_wall_ms = req->timestamp_ms;
	intro_tunnel_addrs(&srv->tunnel_prefix, c->cfg.id, &ss->server_tunnel, &ss->client_tunnel);
	ss->server_seed = srv->seed;
	intro_random_iid(iid);
	memcpy(ss->server_seed.s6_addr + 8, iid, INTRO_IID_LEN);
	memcpy(ss->client_seed.s6_addr, req->seed_addr, 16);

	memset(&resp, 0, sizeof(resp));
	resp.rotation_ms = ss->fsm.rotation_ms;
	memcpy(resp.server_seed_addr, ss->server_seed.s6_addr, 16);
	memcpy(resp.server_tunnel_addr, ss->server_tunnel.s6_addr, 16);
	memcpy(resp.client_tunnel_addr, ss->client_tunnel.s6_addr, 16);
	rc = msg_response_seal(hs, &resp, resp_out, MSG_RESPONSE_LEN, &ss->keys);
	if (rc < 0)
		goto fail;

	rc = session_tunnel_new(srv, ss);
	if (rc < 0)
		goto fail;
	ss->ifindex = tunnel_tun_ifindex(ss->tunnel);
	ss->started_wall_ms = wall_now_ms();
	ev_init(&ss->close_timer, close_cb);
	/* Cannot fail: the client's sessions were freed and the count checked. */
	sesstab_add(&srv->table, &ss->ent, c->cfg.id, mono_now_ms());
	srv->stats.sessions_started++;
	server_audit(srv, "session start: client '%s' (id %u) from %s on %s, tunnel %s <-> %s",
	      c->cfg.name, c->cfg.id, server_addr_str(&ss->client_seed, a), tunnel_tun_name(ss->tunnel),
	      server_addr_str(&ss->server_tunnel, b), server_addr_str(&ss->client_tunnel, c_tun));
	return 0;
fail:
	msg_session_keys_wipe(&ss->keys);
	sodium_munlock(ss, sizeof(*ss)); /* wipes it too */
	free(ss);
	sodium_memzero(resp_out, MSG_RESPONSE_LEN);
	return rc;
}

static void session_send_rotation(struct server *srv, struct server_session *ss)
{
	uint8_t m[MSG_ROTATION_LEN];
	struct msg_rotation rot = { .seq = ss->fsm.rotation_seq, .rotation_ms = ss->fsm.rotation_ms,
				    .at_ms = (uint64_t)ss->fsm.rotation_at_wall_ms };
	int rc = msg_rotation_seal(&ss->keys, &rot, m, sizeof(m));

	if (rc > 0)
		rc = inner_send(srv->raw_fd, &ss->server_tunnel, &ss->client_tunnel, m, (size_t)rc);
	if (rc < 0)
		log_err(rc, "telling '%s' of its new rotation period", ss->name);
}

/* Running sessions follow a new Rot without a new handshake: the client is
 * told the new period and the boundary where both ends change. */
static void session_change_rotation(struct server *srv, struct server_session *ss,
				    uint32_t rotation_ms)
{
	int64_t at_wall_ms;

	if (ss->ent.is_closing ||
	    !server_fsm_change_rotation(&ss->fsm, tunnel_rotation_ms(ss->tunnel), rotation_ms,
					wall_now_ms(), &at_wall_ms))
		return;
	tunnel_set_rotation(ss->tunnel, rotation_ms, at_wall_ms);
	session_send_rotation(srv, ss);
}

/* What the host routes into the shared TUN goes to the tunnel of the
 * session, closing ones too (a teardown on its way out), whose client's
 * tunnel address is its destination. */
static struct tunnel *shared_lookup(void *arg, const uint8_t *pkt, size_t len)
{
	struct server *srv = arg;
	int64_t id = intro_packet_client_id(&srv->tunnel_prefix, srv->tunnel_prefix_len, pkt, len);
	struct sesstab_entry *e = id >= 0 ? sesstab_lookup_any(&srv->table, (uint32_t)id) : NULL;

	return e ? server_session_of_entry(e)->tunnel : NULL;
}

int server_sessions_setup_shared(struct server *srv, char *msg, size_t msg_len)
{
	struct sessiontun_config sc = {
		.name = CONFIG_SHARED_TUNNEL_NAME, .mtu = tunnel_inner_mtu(srv->link_mtu),
		.lookup = shared_lookup, .arg = srv,
	};
	struct in6_addr block;
	char why[256] = "", a[INET6_ADDRSTRLEN];
	int rc;

	if (config_is_slot_sockets_shared(&srv->cfg)) {
		rc = slotmux_new(srv->loop, srv->guard, tunnel_mux_input, &srv->mux, msg, msg_len);
		if (rc < 0)
			return rc;
		log_info("slot sockets shared: tproxy to [::1]:%u, one raw socket for sending",
			 slotmux_port(srv->mux));
	}
	if (!config_is_session_interface_shared(&srv->cfg))
		return 0;
	rc = sessiontun_new(srv->loop, &sc, &srv->stun, msg, msg_len);
	if (rc < 0)
		return rc;
	/* Every server-side tunnel address is prefix::1:0:<id> (24-bit ids):
	 * one local route for the /104 makes them all ours on this TUN, so a
	 * session adds no address, only its client's route. */
	intro_tunnel_addrs(&srv->tunnel_prefix, 0, &block, NULL);
	rc = nllink_add_local_prefix(srv->nllink, tun_ifindex(sessiontun_tun(srv->stun)), &block,
				     SERVER_SHARED_LOCAL_PREFIX_LEN, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "making %s/%u local on %s: %s%s%s", server_addr_str(&block, a),
			SERVER_SHARED_LOCAL_PREFIX_LEN, tun_name(sessiontun_tun(srv->stun)),
			strerror(-rc), why[0] ? " (kernel: " : "", why[0] ? why : "");
		return rc;
	}
	log_info("session interface shared: %s, server tunnel addresses %s/%u local on it",
		 tun_name(sessiontun_tun(srv->stun)), server_addr_str(&block, a),
		 SERVER_SHARED_LOCAL_PREFIX_LEN);
	return 0;
}

void server_sessions_raw_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = container_of(w, struct server, raw_io);
	uint8_t buf[512];
	unsigned i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 64; i++) {
		struct in6_addr src, dst;
		struct server_session *ss;
		unsigned ifindex;
		int64_t id;
		ssize_t n = inner_recv(srv->raw_fd, buf, sizeof(buf), &src, &dst, &ifindex);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		id = intro_tunnel_addr_id(&srv->tunnel_prefix, srv->tunnel_prefix_len, &dst);
		ss = id >= 0 ? server_session_of(srv, (uint32_t)id) : NULL;
		/* Only what came out of that client's own session: its own TUN,
		 * or in shared mode the shared one, into which only this
		 * session's tunnel writes packets from this client's address
		 * (the tunnel's inner source check). */
		if (!ss || ifindex != ss->ifindex ||
		    memcmp(&src, &ss->client_tunnel, 16) != 0)
			continue;
		if (n == 0) {
			if (server_fsm_keepalive_reply(&ss->fsm, mono_now_ms()))
				inner_send(srv->raw_fd, &ss->server_tunnel, &ss->client_tunnel, NULL, 0);
			continue;
		}
		if (msg_type(buf, (size_t)n) == MSG_TYPE_TEARDOWN) {
			uint8_t reason;

			if (msg_teardown_open(&ss->keys, buf, (size_t)n, &reason) == 0) {
				log_info("client '%s' ended its session: %s", ss->name,
					 reason_name(reason));
				server_session_end(ss, reason, false);
			}
		}
	}
}

/* issue 13: only what authenticated (under a client's s_i or a session
 * key) and was refused all the same: stale or replayed requests, requests
 * over the rate, wrong inner packets; and replayed introduction datagrams,
 * each counted once however many copies come (so replays weigh at most
 * what the real client sends). Unauthenticated junk (unknown IIDs,
 * datagrams that fail the wire check, session packets that do not
 * authenticate) costs anyone nothing to send, so it is counted for
 * `mt6d show` but moves nothing: 200 junk packets per 10 s held every
 * session at Rot / 3 before. */
static uint64_t attack_signs(const struct server *srv)
{
	const struct server_stats *s = &srv->stats;
	struct sesstab_entry *e;
	uint64_t n = s->drops_inner + s->drops_rate + s->drops_client_id + s->drops_msg +
		     s->drops_auth + s->drops_stale + s->drops_replay + s->intro_replayed +
		     s->drops_ciid;

	for (e = sesstab_first(&srv->table); e; e = sesstab_next(e)) {
		struct tunnel_stats st;

		tunnel_get_stats(container_of(e, struct server_session, ent)->tunnel, &st);
		n += st.drops_inner;
	}
	return n;
}

/* The level in force changed (to srv->threat.level): the next window's
 * config (published ahead) is published again with that level's Rot;
 * running sessions change to it at a boundary a few seconds ahead, and
 * sessions made from now on get it; the introduction follows at the next
 * K. */
static void threat_apply(struct server *srv, enum threat_level was, const char *why)
{
	enum threat_level level = srv->threat.level;
	uint32_t rot = threat_rotation_ms(srv->cfg.rotation_ms, level);
	struct sesstab_entry *e;

	server_audit(srv, "threat level %s -> %s (Rot %u ms from the next window): %s",
		     threat_name(was), threat_name(level), rot, why);
	for (e = sesstab_first(&srv->table); e; e = sesstab_next(e))
		session_change_rotation(srv, server_session_of_entry(e), rot);
	server_rdv_publish(srv);
}

void server_set_threat(struct server *srv, enum threat_level level, bool is_auto,
		       const char *why)
{
	enum threat_level was = srv->threat.level;

	if (threat_set(&srv->threat, level, is_auto))
		threat_apply(srv, was, why);
}

static void threat_watch(struct server *srv, int64_t now_mono_ms)
{
	enum threat_level was = srv->threat.level;
	uint64_t delta = 0;
	char why[96];

	threat_set_clients(&srv->threat, srv->n_clients); /* a reload may change it */
	switch (threat_tick(&srv->threat, now_mono_ms, attack_signs(srv), &delta)) {
	case THREAT_RAISE:
		snprintf(why, sizeof(why), "automatic: %" PRIu64 " bad packets in %d s", delta,
			 THREAT_ATTACK_WINDOW_MS / 1000);
		threat_apply(srv, was, why);
		break;
	case THREAT_RETURN:
		snprintf(why, sizeof(why), "automatic: quiet for %d s", THREAT_QUIET_MS / 1000);
		threat_apply(srv, was, why);
		break;
	case THREAT_KEEP:
		break;
	}
}

void server_sessions_housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = container_of(w, struct server, housekeeping);
	int64_t now_wall_ms = wall_now_ms(), now_mono_ms = mono_now_ms();
	struct sesstab_entry *e, *next;
	bool has_expired = false;
	size_t i;

	(void)loop;
	(void)revents;
	for (i = 0; i < srv->n_clients; i++) {
		struct server_client *c = &srv->clients[i];
		struct server_session *ss = server_session_of(srv, c->cfg.id);

		if (srv->is_active[i] && server_fsm_is_expired(c->cfg.expires_s, now_wall_ms / 1000)) {
			srv->is_active[i] = false;
			has_expired = true;
			server_audit(srv, "client '%s' (id %u) expired: treated as revoked",
				     c->cfg.name, c->cfg.id);
			server_rdv_remove_client(srv, c->cfg.public_key);
			if (ss)
				server_session_end(ss, MSG_TEARDOWN_REVOKED, true);
		}
	}
	for (e = sesstab_first(&srv->table); e; e = next) {
		struct server_session *ss = server_session_of_entry(e);
		struct tunnel_stats st;
		unsigned acts;

		next = sesstab_next(e);
		if (e->is_closing)
			continue;
		tunnel_get_stats(ss->tunnel, &st);
		acts = server_fsm_session_tick(&ss->fsm, e, st.rx_packets, now_mono_ms, now_wall_ms,
					       srv->opt.idle_timeout_ms);
		if (acts & SERVER_DO_SEND_ROTATION)
			session_send_rotation(srv, ss);
		if (acts & SERVER_DO_END_IDLE)
			server_session_end(ss, MSG_TEARDOWN_IDLE, true);
	}
	if (has_expired)
		server_rekey(srv, true, "client expired");
	threat_watch(srv, now_mono_ms);
}
