/* mt6d-client: start and stop, the tunnels (introduction, session, and an
 * introduction beside the session), the messages from the server, and the
 * execution of the state machine's actions (mt6d/core/client_fsm.h). */
#include "mt6d/engine/client.h"
#include "mt6d/engine/client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/core/client_fsm.h"
#include "mt6d/core/config.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/dhtident.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/engine/inner.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/base/log.h"
#include "mt6d/core/msg.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/core/rotate.h"
#include "mt6d/engine/tunnel.h"
#include "mt6d/engine/nlsockets.h"
#include "mt6d/core/wire.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"

const char *client_addr_str(const struct in6_addr *a, char *buf)
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

bool client_has_session(const struct client *c)
{
	return c->fsm.state == CLIENT_FSM_SESSION;
}

const char *client_state_dir(const struct client *c)
{
	return c->cfg.state_dir;
}

/* ---------- introduction config ---------- */

static void check_prefix(struct client *c);

/* ---------- tunnels ---------- */

static void drop_renew_tunnel(struct client *c)
{
	if (!c->renew_tunnel)
		return;
	tunnel_free(c->renew_tunnel, CLIENT_NETLINK_TIMEOUT_MS);
	c->renew_tunnel = NULL;
}

static void drop_tunnel(struct client *c)
{
	drop_renew_tunnel(c);
	if (!c->tunnel)
		return;
	tunnel_free(c->tunnel, CLIENT_NETLINK_TIMEOUT_MS);
	c->tunnel = NULL;
}

/* The main tunnel keeps the TUN name the kernel gave it first; a renewal's
 * introduction tunnel takes the next free name of the pattern. */
static int make_tunnel(struct client *c, struct tunnel_config *tc, bool is_renewal)
{
	char msg[256] = "";
	int rc;

	tc->tun_name = !is_renewal && c->tun_name[0] ? c->tun_name : c->cfg.tunnel_name;
	tc->link_ifindex = c->link_ifindex;
	tc->link_mtu = c->link_mtu;
	tc->tunnel_prefix_len = 128;
	tc->reach = 1;
	tc->guard = c->guard;
	tc->padding = c->cfg.padding;
	tc->flags |= c->cfg.offloads_off ? TUNNEL_NO_OFFLOAD : 0;
	rc = tunnel_new(c->loop, c->nladdr, c->nllink, tc,
			is_renewal ? &c->renew_tunnel : &c->tunnel, msg, sizeof(msg));
	sodium_memzero(tc, sizeof(*tc));
	if (rc < 0) {
		log_err(rc, "starting a tunnel: %s", msg);
		return rc;
	}
	if (!is_renewal)
		snprintf(c->tun_name, sizeof(c->tun_name), "%s", tunnel_tun_name(c->tunnel));
	return 0;
}

/* Whether the introduction is in progress: alone, or beside the session. */
static bool is_introducing(const struct client *c)
{
	return c->fsm.state == CLIENT_FSM_INTRO ||
	       (c->fsm.state == CLIENT_FSM_SESSION && c->renew_tunnel);
}

static void remove_state_file(struct client *c)
{
	if (c->state_file[0])
		unlink(c->state_file);
}

static void write_state_file(struct client *c)
{
	char tmp[PATH_MAX + 8], a[INET6_ADDRSTRLEN];
	FILE *f;

	if (mkdir(c->cfg.state_dir, 0755) < 0 && errno != EEXIST) {
		log_err(-errno, "creating '%s'", c->cfg.state_dir);
		return;
	}
	snprintf(c->state_file, sizeof(c->state_file), "%s/%s.server", c->cfg.state_dir,
		 c->tun_name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->state_file);
	f = fopen(tmp, "w");
	if (!f) {
		log_err(-errno, "writing '%s'", tmp);
		return;
	}
	fprintf(f, "%s\n", client_addr_str(&c->server_tunnel, a));
	if (fclose(f) != 0 || rename(tmp, c->state_file) != 0)
		log_err(-errno, "writing '%s'", c->state_file);
}

static void send_request(struct client *c)
{
	struct msg_request req;
	uint8_t buf[MSG_REQUEST_LEN];
	int rc;

	memset(&req, 0, sizeof(req));
	req.client_id = c->cfg.client_id;
	memcpy(req.seed_addr, c->own_seed.s6_addr, 16);
	memcpy(req.tunnel_addr, c->client_tunnel.s6_addr, 16);
	rc = msg_request_seal(&c->hs, c->priv, c->pub, c->cfg.server_public_key, &req,
			      (uint64_t)wall_now_ms(), buf, sizeof(buf));
	if (rc > 0)
		rc = inner_send(c->raw_fd, &c->own_seed, &c->intro.server_seed, buf, (size_t)rc);
	if (rc < 0) {
		log_err(rc, "sending a configuration request (will retry)");
		client_fsm_on_request_unsent(&c->fsm, mono_now_ms());
	} else {
		c->requests_sent++;
	}
}

static void session_down(struct client *c)
{
	msg_session_keys_wipe(&c->keys);
	remove_state_file(c);
	c->is_session_tunnel = false;
}

/* (Re)starts the introduction: tunnel under K from our current /64 and
 * C_IID, then the first request. With keep_session, a session that is up
 * stays up (and carries traffic) until the new one replaces it: the server
 * keeps it until our new request arrives, so only the response's flight
 * and the new tunnel's set-up interrupt traffic, not the introduction and
 * its retries. That needs a second TUN, so a TunnelName without "%d" falls
 * back to ending the session first. */
static void start_intro_keep(struct client *c, bool keep_session)
{
	struct tunnel_config tc;
	uint8_t slot_key[INTRO_SLOT_KEY_LEN];
	bool is_renewal;
	int rc;

	is_renewal = keep_session && c->is_session_tunnel && c->has_intro &&
		     strstr(c->cfg.tunnel_name, "%d");
	if (is_renewal) {
		drop_renew_tunnel(c);
	} else {
		if (c->is_session_tunnel)
			session_down(c);
		drop_tunnel(c);
	}
	msg_handshake_wipe(&c->hs);
	if (!c->has_intro)
		return; /* on_intro starts it */
	derive_client_iid(c->c_iid, c->s, c->intro.key, INTRO_KEY_LEN);
	c->own_seed = c->prefix;
	memcpy(c->own_seed.s6_addr + 8, c->c_iid, INTRO_IID_LEN);
	memset(&tc, 0, sizeof(tc));
	tc.own_seed = c->own_seed;
	tc.peer_seed = c->intro.server_seed;
	tc.tunnel_addr = c->own_seed;
	tc.peer_tunnel_addr = c->intro.server_seed;
	intro_slot_key(slot_key, c->intro.key);
	memcpy(tc.slot_key, slot_key, sizeof(slot_key));
	sodium_memzero(slot_key, sizeof(slot_key));
	rc = wire_derive_direction_keys(c->s, c->own_seed.s6_addr, c->intro.server_seed.s6_addr,
					tc.tx_key, tc.rx_key);
	tc.rotation_ms = c->intro.rotation_ms;
	if (rc < 0 || make_tunnel(c, &tc, is_renewal) < 0) {
		sodium_memzero(&tc, sizeof(tc));
		if (is_renewal)
			start_intro_keep(c, false);
		else
			client_fsm_on_intro_failed(&c->fsm, mono_now_ms());
		return;
	}
	log_info("introduction tunnel %s up%s: seed %s, asking the server",
		 tunnel_tun_name(is_renewal ? c->renew_tunnel : c->tunnel),
		 is_renewal ? " beside the session" : "",
		 client_addr_str(&c->own_seed, (char[INET6_ADDRSTRLEN]){ 0 }));
	client_fsm_on_intro_up(&c->fsm, mono_now_ms(), is_renewal);
}

/* Does what the state machine asks, in its order. An action may report an
 * event whose own actions run at once (a fetch from the test file that
 * finds a new K starts the introduction): what the tick asked for the
 * introduction before it is then out of date. */
void client_execute(struct client *c, unsigned acts)
{
	uint32_t epoch = c->fsm.intro_epoch;

	if (acts & CLIENT_DO_CHECK_PREFIX)
		check_prefix(c);
	if (acts & CLIENT_DO_FETCH)
		client_rdv_fetch(c);
	if (c->fsm.intro_epoch != epoch)
		acts &= ~(unsigned)(CLIENT_DO_INTRO | CLIENT_DO_RENEW | CLIENT_DO_REQUEST);
	if (acts & CLIENT_DO_INTRO)
		start_intro_keep(c, false);
	else if (acts & CLIENT_DO_RENEW)
		start_intro_keep(c, true);
	if ((acts & CLIENT_DO_REQUEST) && is_introducing(c))
		send_request(c);
	if ((acts & CLIENT_DO_KEEPALIVE) && c->is_session_tunnel)
		inner_send(c->raw_fd, &c->client_tunnel, &c->server_tunnel, NULL, 0);
	client_reschedule(c);
}

void client_reschedule(struct client *c)
{
	int64_t now = mono_now_ms();

	if (c->is_stopping)
		return;
	ev_timer_stop(c->loop, &c->tick);
	ev_timer_set(&c->tick, (client_fsm_next_mono_ms(&c->fsm, now) - now) / 1000.0, 0);
	ev_timer_start(c->loop, &c->tick);
}

static void start_session(struct client *c, const struct msg_response *resp)
{
	struct tunnel_config tc;
	char a[INET6_ADDRSTRLEN];

	/* The server replaced our session when it answered: the old one is of
	 * no use any more. */
	if (c->is_session_tunnel)
		remove_state_file(c);
	drop_tunnel(c);
	c->is_session_tunnel = false;
	c->session_seed = c->own_seed;
	memcpy(c->server_tunnel.s6_addr, resp->server_tunnel_addr, 16);
	memcpy(c->client_tunnel.s6_addr, resp->client_tunnel_addr, 16);
	memcpy(c->server_session_seed.s6_addr, resp->server_seed_addr, 16);
	c->session_rotation_ms = resp->rotation_ms;
	c->rotation_seq = 0;
	memset(&tc, 0, sizeof(tc));
	tc.aead = c->cfg.is_cipher_aes ? WIRE_AEAD_AES256_GCM : WIRE_AEAD_CHACHA20_POLY1305;
	tc.own_seed = c->own_seed;
	tc.peer_seed = c->server_session_seed;
	tc.tunnel_addr = c->client_tunnel;
	tc.peer_tunnel_addr = c->server_tunnel;
	memcpy(tc.slot_key, c->keys.session, TUNNEL_KEY_LEN);
	memcpy(tc.tx_key, c->keys.tx, WIRE_KEY_LEN);
	memcpy(tc.rx_key, c->keys.rx, WIRE_KEY_LEN);
	tc.rotation_ms = c->session_rotation_ms;
	if (make_tunnel(c, &tc, false) < 0) {
		msg_session_keys_wipe(&c->keys);
		client_execute(c, client_fsm_on_session_failed(&c->fsm));
		return;
	}
	c->is_session_tunnel = true;
	client_fsm_on_session_up(&c->fsm, mono_now_ms());
	client_reschedule(c);
	c->sessions++;
	c->session_started_wall_ms = wall_now_ms();
	write_state_file(c);
	log_info("session up on %s: server tunnel address %s, rotation %u ms", c->tun_name,
		 client_addr_str(&c->server_tunnel, a), c->session_rotation_ms);
	printf("server tunnel address: %s\n", a);
	fflush(stdout);
}

void client_send_teardown(struct client *c, uint8_t reason)
{
	uint8_t td[MSG_TEARDOWN_LEN];
	int rc;

	if (!c->is_session_tunnel)
		return;
	rc = msg_teardown_seal(&c->keys, reason, td, sizeof(td));
	if (rc > 0)
		rc = inner_send(c->raw_fd, &c->client_tunnel, &c->server_tunnel, td, (size_t)rc);
	if (rc < 0)
		log_err(rc, "sending a teardown");
}

/* ---------- messages from the server ---------- */

/* The server changes the session's Rot (its threat level changed): both
 * ends move to the new period at the instant it names. The server sends
 * each change a few times: copies of the one pending change nothing. */
static void handle_rotation(struct client *c, const uint8_t *buf, size_t len)
{
	struct msg_rotation rot;
	int64_t now = wall_now_ms();

	if (msg_rotation_open(&c->keys, buf, len, &rot) < 0)
		return;
	if (rot.rotation_ms < CONFIG_MIN_ROTATION_MS || rot.rotation_ms > CONFIG_MAX_ROTATION_MS)
		return;
	/* issue 13: only a change newer than the last applied one (copies of
	 * it and replays of older ones are refused and counted). */
	if (msg_rotation_check(c->rotation_seq, &rot, (uint64_t)now, CLIENT_ROTATION_SKEW_MS) < 0) {
		if (rot.seq != c->rotation_seq) /* the server's own copies are not counted */
			c->rotations_refused++;
		return;
	}
	c->session_rotation_ms = rot.rotation_ms;
	c->rotation_seq = rot.seq;
	c->rotation_changes++;
	tunnel_set_rotation(c->tunnel, rot.rotation_ms, (int64_t)rot.at_ms);
	log_info("the server changes the session's rotation period to %u ms in %.1f s",
		 rot.rotation_ms, ((int64_t)rot.at_ms - now) / 1000.0);
}

static void raw_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, raw_io);
	uint8_t buf[512];
	unsigned i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 64; i++) {
		struct in6_addr src, dst;
		unsigned ifindex;
		ssize_t n = inner_recv(c->raw_fd, buf, sizeof(buf), &src, &dst, &ifindex);
		int type;

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		type = n > 0 ? msg_type(buf, (size_t)n) : -1;
		if (is_introducing(c) && type == MSG_TYPE_RESPONSE &&
		    !memcmp(&src, &c->intro.server_seed, 16) && !memcmp(&dst, &c->own_seed, 16)) {
			struct msg_response resp;
			struct msg_session_keys keys;

			/* Into a copy: the session still up keeps its keys until
			 * the response is authentic. */
			if (msg_response_open(&c->hs, c->priv, buf, (size_t)n, &resp, &keys) < 0) {
				msg_session_keys_wipe(&keys);
				c->responses_bad++;
				continue;
			}
			msg_session_keys_wipe(&c->keys);
			c->keys = keys;
			msg_session_keys_wipe(&keys);
			start_session(c, &resp);
			continue;
		}
		if (!c->is_session_tunnel || memcmp(&src, &c->server_tunnel, 16) != 0 ||
		    memcmp(&dst, &c->client_tunnel, 16) != 0)
			continue;
		if (type == MSG_TYPE_ROTATION) {
			handle_rotation(c, buf, (size_t)n);
			continue;
		}
		if (type == MSG_TYPE_TEARDOWN) {
			uint8_t reason;

			if (msg_teardown_open(&c->keys, buf, (size_t)n, &reason) < 0)
				continue;
			c->teardowns_rx++;
			log_warnx("the server ended the session (reason %u): establishing again",
				  reason);
			client_execute(c, client_fsm_on_teardown(&c->fsm));
		}
	}
}

/* ---------- periodic checks ---------- */

static void check_prefix(struct client *c)
{
	struct in6_addr prefixes[4];
	char a[INET6_ADDRSTRLEN];
	int n;

	client_rdv_set_prefix(c); /* DHT identity hook: a move that failed is tried again */
	n = nllink_get_prefixes(c->nllink, c->link_ifindex, prefixes, 4);
	if (n <= 0 || !memcmp(prefixes[0].s6_addr, c->prefix.s6_addr, 8))
		return;
	log_info("the /64 of %s changed to %s: establishing again", c->cfg.interface,
		 client_addr_str(&prefixes[0], a));
	client_send_teardown(c, MSG_TEARDOWN_ROAMING);
	c->prefix = prefixes[0];
	client_rdv_set_prefix(c); /* DHT identity hook */
	client_execute(c, client_fsm_on_prefix_changed(&c->fsm));
}

/* A config from the rendezvous: the first one starts the introduction; a
 * different one (new K, new seed) makes the client establish again. */
void client_on_config(struct client *c, struct intro_config *ic)
{
	bool had = c->has_intro;

	if (had && !sodium_memcmp(ic->key, c->intro.key, INTRO_KEY_LEN) &&
	    !memcmp(&ic->server_seed, &c->intro.server_seed, 16) &&
	    ic->rotation_ms == c->intro.rotation_ms)
		return;
	c->intro = *ic;
	c->has_intro = true;
	c->intro_changed_wall_ms = wall_now_ms();
	if (had && c->fsm.state != CLIENT_FSM_WAITING)
		log_info("the server's introduction config changed: establishing again");
	client_execute(c, client_fsm_on_config(&c->fsm, true));
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, tick);
	uint64_t rx = 0, silences = c->fsm.reestablish_silence, renewals = c->fsm.renew_silence;
	int64_t now = mono_now_ms(), last_rx = c->fsm.last_rx_mono_ms;
	unsigned acts;

	(void)loop;
	(void)revents;
	if (c->is_session_tunnel) {
		struct tunnel_stats st;

		tunnel_get_stats(c->tunnel, &st);
		rx = st.rx_packets;
	}
	acts = client_fsm_tick(&c->fsm, now, rx, NULL);
	if (c->fsm.reestablish_silence != silences)
		log_warnx("nothing from the server for %.0f s: establishing again",
			  (now - last_rx) / 1000.0);
	else if (c->fsm.renew_silence != renewals)
		log_info("nothing from the server for %.1f s: a new introduction beside the session",
			 (now - last_rx) / 1000.0);
	client_execute(c, acts);
}

/* ---------- netlink ---------- */

static void on_addr_result(const struct nladdr_result *res, void *arg)
{
	(void)arg;
	if (res->cookie)
		tunnel_handle_addr_result(res->cookie, res);
}

/* ---------- start, stop ---------- */

/* guard (mt6d/engine/guard.h): silent to probes, and the server's tunnel
 * addresses refused whenever no session carries them. The default tunnel
 * prefix is known from the server's key before any session; the tunnels
 * add what they learn (a configured TunnelPrefix, the seed addresses). */
static int client_setup_guard(struct client *c, char *msg, size_t msg_len)
{
	struct in6_addr prefix;
	char why[256] = "";
	int rc;

	rc = guard_new(c->loop, c->nllink, "client", c->cfg.interface, &c->guard, why, sizeof(why));
	intro_default_tunnel_prefix(c->cfg.server_public_key, &prefix);
	if (rc == 0)
		rc = guard_protect(c->guard, &prefix, 64, true, why, sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "setting up the guard (nftables table, routes): %s",
			why[0] ? why : strerror(-rc));
	return rc;
}

static int client_setup(struct client *c, char *msg, size_t msg_len)
{
	struct in6_addr prefixes[4];
	char why[256] = "";
	int rc;

	rc = nlsockets_open(c->loop, on_addr_result, c, &c->nllink, &c->nladdr, &c->nladdr_io, msg,
			    msg_len);
	if (rc < 0)
		return rc;
	rc = nllink_ifindex(c->nllink, c->cfg.interface);
	if (rc < 0) {
		set_msg(msg, msg_len, "%s: Interface '%s': %s", c->cfg.source, c->cfg.interface,
			strerror(-rc));
		return rc;
	}
	c->link_ifindex = (unsigned)rc;
	rc = inner_link_mtu(c->cfg.interface, &c->link_mtu);
	if (rc < 0) {
		set_msg(msg, msg_len, "reading the MTU of '%s': %s", c->cfg.interface,
			strerror(-rc));
		return rc;
	}
	rc = nllink_get_prefixes(c->nllink, c->link_ifindex, prefixes, 4);
	if (rc <= 0) {
		set_msg(msg, msg_len, "no global /64 prefix on '%s' (%s)", c->cfg.interface,
			rc < 0 ? strerror(-rc) : "none");
		return rc < 0 ? rc : -EADDRNOTAVAIL;
	}
	c->prefix = prefixes[0];
	rc = nladdr_purge(c->nladdr, c->link_ifindex, CLIENT_NETLINK_TIMEOUT_MS, why, sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D addresses of a previous run on %s%s%s", c->cfg.interface,
			why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D addresses of a previous run on %s", rc, c->cfg.interface);
	rc = client_setup_guard(c, msg, msg_len); /* guard */
	if (rc < 0)
		return rc;
	rc = inner_socket_open();
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the raw socket for session messages: %s",
			strerror(-rc));
		return rc;
	}
	c->raw_fd = rc;
	ev_io_init(&c->raw_io, raw_cb, c->raw_fd, EV_READ);
	ev_io_start(c->loop, &c->raw_io);
	return 0;
}

int client_new(struct ev_loop *loop, const char *config_path, const struct client_options *opt,
	       struct client **out, char *msg, size_t msg_len)
{
	struct client *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	(void)sodium_mlock(c, sizeof(*c)); /* issue 13: out of swap and core dumps */
	c->loop = loop;
	c->raw_fd = -1;
	snprintf(c->config_path, sizeof(c->config_path), "%s", config_path);
	if (opt)
		c->opt = *opt;
	if (!c->opt.keepalive_ms)
		c->opt.keepalive_ms = CLIENT_DEFAULT_KEEPALIVE_MS;
	if (!c->opt.silence_ms)
		c->opt.silence_ms = CLIENT_DEFAULT_SILENCE_MS;
	ev_init(&c->tick, tick_cb);
	ev_init(&c->stop_timer, NULL);
	ev_timer_init(&c->fetch_reap, client_rdv_fetch_reap_cb, 0, 0);
	rc = config_load(CONFIG_CLIENT, config_path, &c->cfg, msg, msg_len);
	if (rc < 0) {
		free(c);
		return rc;
	}
	rc = config_load_private_key(&c->cfg, c->priv, msg, msg_len);
	if (rc < 0)
		goto fail;
	keys_public_from_private(c->pub, c->priv);
	rc = keys_shared_secret(c->s, c->priv, c->cfg.server_public_key);
	if (rc < 0) {
		set_msg(msg, msg_len, "%s: the server's PublicKey is a weak (low-order) key",
			c->cfg.source);
		goto fail;
	}
	rc = client_setup(c, msg, msg_len);
	if (rc < 0)
		goto fail;
	if (!c->opt.intro_file) {
		rc = client_rdv_setup(c, msg, msg_len);
		if (rc < 0)
			goto fail;
	}
	client_fsm_init(&c->fsm, c->opt.keepalive_ms, c->opt.silence_ms, c->cfg.config_period_s,
			c->opt.intro_file != NULL, randombytes_random(), mono_now_ms());
	/* The first tick fetches the config at once. */
	client_execute(c, client_fsm_tick(&c->fsm, mono_now_ms(), 0, NULL));
	if (!c->has_intro)
		log_info("waiting for the server's config");
	*out = c;
	return 0;
fail:
	client_free(c);
	return rc;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

void client_stop(struct client *c)
{
	client_send_teardown(c, MSG_TEARDOWN_SHUTDOWN);
	c->is_stopping = true;
	ev_timer_stop(c->loop, &c->tick);
	ev_timer_init(&c->stop_timer, stop_cb, CLIENT_CLOSE_DELAY_S, 0);
	ev_timer_start(c->loop, &c->stop_timer);
}

void client_free(struct client *c)
{
	char msg[256] = "";
	int rc;

	if (!c)
		return;
	c->is_stopping = true;
	if (c->loop) {
		ev_timer_stop(c->loop, &c->tick);
		ev_timer_stop(c->loop, &c->stop_timer);
	}
	drop_tunnel(c);
	remove_state_file(c);
	if (c->loop)
		ev_timer_stop(c->loop, &c->fetch_reap);
	client_rdv_stop(c);
	dhtident_free(c->ident); /* DHT identity hook */
	c->dht = NULL;
	if (c->nladdr) {
		ev_io_stop(c->loop, &c->nladdr_io);
		rc = nladdr_remove_all(c->nladdr, CLIENT_NETLINK_TIMEOUT_MS, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing MT6D addresses%s%s", msg[0] ? ": " : "", msg);
		nladdr_free(c->nladdr);
	}
	if (c->raw_fd >= 0) {
		ev_io_stop(c->loop, &c->raw_io);
		close(c->raw_fd);
	}
	guard_free(c->guard); /* guard: after every tunnel; its routes stay */
	if (c->nllink) {
		rc = nllink_cleanup(c->nllink, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing tunnel addresses and routes%s%s", msg[0] ? ": " : "",
				msg);
		nllink_free(c->nllink);
	}
	msg_handshake_wipe(&c->hs);
	msg_session_keys_wipe(&c->keys);
	config_fini(&c->cfg);
	sodium_munlock(c, sizeof(*c)); /* wipes it too */
	free(c);
}

/* ---------- show ---------- */
