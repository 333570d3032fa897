/* mt6d-server: the introduction tunnel under each K (a generation): its
 * sockets and addresses for the slots around the current one, the
 * validation of configuration requests and the response sent back inside
 * the client's introduction tunnel. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/server_int.h"
#include "mt6d/engine/sockbuf.h"
#include "netlink/ndresp.h"
#include "netlink/nladdr.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h; glibc's netinet/in.h lacks it */
#endif

static void count_check_error(struct server *srv, int rc)
{
	switch (rc) {
	case INTRO_ERR_CLIENT_ID:
		srv->stats.drops_client_id++;
		break;
	case MSG_ERR_AUTH:
		srv->stats.drops_auth++;
		break;
	case MSG_ERR_STALE:
		srv->stats.drops_stale++;
		break;
	case MSG_ERR_REPLAY:
		srv->stats.drops_replay++;
		break;
	case INTRO_ERR_CIID:
		srv->stats.drops_ciid++;
		break;
	default:
		srv->stats.drops_msg++;
		break;
	}
}

/* Sends the response inside client c's introduction tunnel, from the socket
 * of the slot the request came in, to where it came from. */
static void intro_reply(struct server *srv, struct server_client *c, struct intro_sock *s,
			const struct sockaddr_in6 *to, const struct in6_addr *client_seed,
			const uint8_t *tx_key, const uint8_t resp[static MSG_RESPONSE_LEN])
{
	/* Room for the padding up to the inner MTU. */
	uint8_t buf[WIRE_OVERHEAD + WIRE_INNER_MTU];
	int len;

	if (!c->has_intro_tx || sodium_memcmp(c->intro_tx_key, tx_key, WIRE_KEY_LEN) != 0) {
		if (c->has_intro_tx)
			wire_tx_fini(&c->intro_tx);
		wire_tx_init(&c->intro_tx, tx_key);
		wire_tx_set_padding(&c->intro_tx, srv->cfg.padding, WIRE_INNER_MTU);
		memcpy(c->intro_tx_key, tx_key, WIRE_KEY_LEN);
		c->has_intro_tx = true;
	}
	len = intro_inner_build(buf + WIRE_HEADER_LEN, sizeof(buf) - WIRE_HEADER_LEN, &srv->seed,
				client_seed, resp, MSG_RESPONSE_LEN);
	if (len > 0)
		len = wire_seal(&c->intro_tx, s->slot, buf, (size_t)len, sizeof(buf));
	if (len > 0 && sendto(s->fd, buf, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)to,
			      sizeof(*to)) < 0)
		log_err(-errno, "sending the response to '%s'", c->cfg.name);
	sodium_memzero(buf, sizeof(buf));
}

/* One datagram on an introduction socket. Anything invalid is counted and
 * gets no answer at all (a reply would tell a scanner a server is here). */
static void intro_datagram(struct server *srv, struct intro_sock *s, uint8_t *buf, size_t len,
			   const struct sockaddr_in6 *from)
{
	struct intro_gen *g = s->gen;
	struct server_client *c;
	struct server_session *ss;
	struct in6_addr client_seed, inner_src, inner_dst;
	struct msg_request req;
	struct msg_handshake hs;
	uint8_t tx[WIRE_KEY_LEN], rx[WIRE_KEY_LEN], resp[MSG_RESPONSE_LEN];
	uint8_t fp[INTROWIN_FP_LEN];
	const uint8_t *payload, *c_iid;
	size_t payload_len;
	int64_t idx;
	int n, rc;

	srv->stats.intro_rx++;
	idx = intro_map_get(&s->map, from->sin6_addr.s6_addr + 8);
	if (idx < 0 || (size_t)idx >= srv->n_clients || !srv->is_active[idx]) {
		srv->stats.drops_unknown_iid++;
		return;
	}
	c = &srv->clients[idx];
	c_iid = g->is_current ? srv->c_iids[idx] : srv->c_iids_old[idx];
	memcpy(client_seed.s6_addr, from->sin6_addr.s6_addr, 8);
	memcpy(client_seed.s6_addr + 8, c_iid, INTRO_IID_LEN);
	if (wire_derive_direction_keys(c->s, srv->seed.s6_addr, client_seed.s6_addr, tx, rx) < 0) {
		srv->stats.drops_wire++;
		return;
	}
	/* issue 13: a copy of a datagram of this client's that opened before
	 * (the fresh receiver below would open it again) is refused here,
	 * before it costs an AEAD, a token or an X25519. */
	introwin_fingerprint(fp, buf, len);
	rc = introwin_check(&c->win, fp, wall_now_ms());
	if (rc != INTROWIN_NEW) {
		srv->stats.drops_intro_replay++;
		srv->stats.intro_replayed += rc == INTROWIN_REPLAY_FIRST;
		goto out;
	}
	wire_rx_init(&srv->scratch_rx, rx);
	n = wire_open(&srv->scratch_rx, s->slot, buf, len);
	wire_rx_fini(&srv->scratch_rx);
	if (n < 0) {
		srv->stats.drops_wire++;
		goto out;
	}
	/* Until the socket of its slot closes (intro_gen_move), plus a second
	 * for a late tick. */
	introwin_add(&c->win, fp, rotate_slot_start_ms(g->rotation_ms, s->slot + 2) + 1000,
		     wall_now_ms());
	if (intro_inner_parse(buf + WIRE_HEADER_LEN, (size_t)n, &inner_src, &inner_dst, &payload,
			      &payload_len) < 0 ||
	    memcmp(&inner_dst, &srv->seed, 16) != 0) {
		srv->stats.drops_inner++;
		goto out;
	}
	if (!server_fsm_take_token(&c->bucket, mono_now_ms())) {
		srv->stats.drops_rate++;
		goto out;
	}
	rc = intro_check_request(&c->replay, srv->priv, srv->pub, c->cfg.id, c->cfg.public_key,
				 c_iid, &inner_src, (uint64_t)wall_now_ms(), payload, payload_len, &req,
				 &hs);
	if (log_is_debug())
		log_debug("introduction: request of '%s' from [%s]:%u slot %" PRIu64 ": %s",
			  c->cfg.name, server_addr_str(&from->sin6_addr, (char[INET6_ADDRSTRLEN]){ 0 }),
			  ntohs(from->sin6_port), s->slot, intro_strerror(rc));
	if (rc < 0) {
		count_check_error(srv, rc);
		if (rc != INTRO_ERR_CLIENT_ID && rc != MSG_ERR_LENGTH && rc != MSG_ERR_VERSION &&
		    rc != MSG_ERR_TYPE)
			server_audit(srv, "request rejected: client '%s' (id %u): %s", c->cfg.name,
				     c->cfg.id, intro_strerror(rc));
		goto out;
	}
	ss = server_session_of(srv, c->cfg.id);
	if (server_fsm_on_request(ss != NULL, ss ? ss->request_wall_ms : 0, req.timestamp_ms) ==
	    SERVER_REQ_SUPERSEDED) {
		srv->stats.drops_superseded++;
		msg_handshake_wipe(&hs);
		goto out;
	}
	c->requests_ok++;
	rc = server_session_start(srv, c, &req, &hs, resp);
	msg_handshake_wipe(&hs);
	if (rc < 0) {
		srv->stats.session_errors++;
		goto out;
	}
	intro_reply(srv, c, s, from, &client_seed, tx, resp);
out:
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(resp, sizeof(resp));
}

static void intro_sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct intro_sock *s = container_of(w, struct intro_sock, io);
	struct server *srv = s->gen->srv;
	uint8_t buf[SERVER_INTRO_BUF];
	unsigned i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 64; i++) {
		struct sockaddr_in6 from = { 0 };
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &from_len);

		if (n < 0)
			break;
		if ((size_t)n > sizeof(buf) || from.sin6_family != AF_INET6) {
			srv->stats.intro_rx++;
			srv->stats.drops_wire++;
			continue;
		}
		/* Every path of intro_datagram may return early: s may not
		 * change under it (no session set-up closes intro sockets). */
		intro_datagram(srv, s, buf, (size_t)n, &from);
	}
	sodium_memzero(buf, sizeof(buf));
}

static void intro_sock_close(struct server *srv, struct intro_sock *s, bool del_addr)
{
	if (s->fd < 0)
		return;
	ev_io_stop(srv->loop, &s->io);
	close(s->fd);
	s->fd = -1;
	if (del_addr && srv->ndresp)
		ndresp_del(srv->ndresp, &s->own.addr);
	else if (del_addr && !srv->cfg.is_scale_mode &&
		 nladdr_is_bound(srv->nladdr, srv->link_ifindex, &s->own.addr))
		nladdr_batch_del(srv->nladdr, srv->link_ifindex, &s->own.addr, srv);
}

static int intro_sock_open(struct server *srv, struct intro_gen *g, struct intro_sock *s,
			   uint64_t slot)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	uint32_t valid_s = (uint32_t)((3ull * g->rotation_ms + 999) / 1000 + 2);
	int one = 1, fd, rc;

	s->slot = slot;
	s->gen = g;
	rotate_endpoint_for(&srv->seed, g->slot_key, slot, &s->own);
	intro_map_build(&s->map, (const uint8_t(*)[INTRO_IID_LEN])(g->is_current ? srv->c_iids :
								    srv->c_iids_old),
			srv->is_active, srv->n_clients, g->slot_key, slot);
	guard_add_endpoint(srv->guard, &s->own.addr, s->own.port, valid_s * 1000u); /* guard */
	rc = 0;
	if (srv->ndresp)
		rc = ndresp_add(srv->ndresp, &s->own.addr);
	else if (!srv->cfg.is_scale_mode) /* routed: the /64 is ours by route alone */
		rc = nladdr_batch_add(srv->nladdr, srv->link_ifindex, &s->own.addr, valid_s, srv);
	if (rc < 0) {
		srv->stats.addr_errors++;
		log_err(rc, "introduction address of slot %" PRIu64, slot);
	}
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* A re-key storm brings every client's request within a second or
	 * two, while the loop makes sessions one after the other: the default
	 * buffer (about 200 requests) dropped most of them at 3,000 clients.
	 * (sockbuf.h: above the sysctl cap.) */
	(void)sockbuf_set(fd, true, SERVER_INTRO_RCVBUF);
	sa.sin6_addr = s->own.addr;
	sa.sin6_port = htons(s->own.port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	s->fd = fd;
	ev_io_init(&s->io, intro_sock_cb, fd, EV_READ);
	ev_io_start(srv->loop, &s->io);
	return 0;
}

/* Binds the window cur-1..cur+1 of generation g: closes what left it, opens
 * what entered it. */
void server_intro_gen_move(struct server *srv, struct intro_gen *g, uint64_t cur)
{
	uint64_t slot;
	size_t i;
	int rc;

	for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
		struct intro_sock *s = &g->socks[i];

		if (s->fd >= 0 && (s->slot + 1 < cur || s->slot > cur + 1))
			intro_sock_close(srv, s, true);
	}
	for (slot = cur ? cur - 1 : 0; slot <= cur + 1; slot++) {
		struct intro_sock *s = &g->socks[slot % SERVER_INTRO_SLOTS];

		if (s->fd >= 0 && s->slot == slot)
			continue;
		intro_sock_close(srv, s, true);
		rc = intro_sock_open(srv, g, s, slot);
		if (rc < 0) {
			srv->stats.addr_errors++;
			log_err(rc, "binding an introduction socket (slot %" PRIu64 ")", slot);
		}
	}
	rc = nladdr_batch_send(srv->nladdr);
	if (rc < 0)
		log_err(rc, "sending introduction address changes to the kernel");
}

void server_intro_gen_free(struct server *srv, struct intro_gen *g)
{
	size_t i;

	if (!g)
		return;
	ev_periodic_stop(srv->loop, &g->tick);
	for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
		intro_sock_close(srv, &g->socks[i], true);
		intro_map_fini(&g->socks[i].map);
	}
	nladdr_batch_send(srv->nladdr);
	sodium_munlock(g, sizeof(*g)); /* wipes it too */
	free(g);
}

static void gen_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents);

int server_intro_gen_new(struct server *srv, const uint8_t *key, uint32_t rotation_ms,
			 struct intro_gen **out)
{
	struct intro_gen *g = calloc(1, sizeof(*g));
	size_t i;
	int rc;

	if (!g)
		return -ENOMEM;
	(void)sodium_mlock(g, sizeof(*g)); /* issue 13: out of swap and core dumps */
	g->srv = srv;
	g->rotation_ms = rotation_ms;
	ev_periodic_init(&g->tick, gen_tick_cb, 0, rotation_ms / 1000.0, NULL);
	for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
		g->socks[i].fd = -1;
		rc = intro_map_init(&g->socks[i].map, srv->n_clients);
		if (rc < 0) {
			server_intro_gen_free(srv, g);
			return rc;
		}
	}
	if (key)
		memcpy(g->key, key, sizeof(g->key));
	else
		randombytes_buf(g->key, sizeof(g->key));
	intro_slot_key(g->slot_key, g->key);
	g->number = ++srv->gen_number;
	g->is_current = true;
	ev_periodic_start(srv->loop, &g->tick);
	*out = g;
	return 0;
}

uint64_t server_intro_slot(const struct intro_gen *g)
{
	return server_fsm_intro_slot(g->rotation_ms, wall_now_ms());
}

static void gen_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct intro_gen *g = container_of(w, struct intro_gen, tick);

	(void)loop;
	(void)revents;
	server_intro_gen_move(g->srv, g, server_intro_slot(g));
}

/* Testing only: the introduction config for mt6d-client -T, replaced
 * atomically. */
void server_intro_write_file(struct server *srv)
{
	char tmp[PATH_MAX], hex[2 * INTRO_KEY_LEN + 1], a[INET6_ADDRSTRLEN];
	FILE *f;
	int fd;

	if (!srv->opt.intro_file)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", srv->opt.intro_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		log_err(-errno, "writing '%s'", tmp);
		if (fd >= 0)
			close(fd);
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), srv->gen->key, INTRO_KEY_LEN);
	fprintf(f, "seed=%s\nkey=%s\nrotation_ms=%u\nperiod_s=%u\n", server_addr_str(&srv->seed, a), hex,
		srv->gen->rotation_ms, srv->cfg.config_period_s);
	sodium_memzero(hex, sizeof(hex));
	if (fclose(f) != 0 || rename(tmp, srv->opt.intro_file) != 0)
		log_err(-errno, "writing '%s'", srv->opt.intro_file);
}

void server_intro_old_gen_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *srv = container_of(w, struct server, old_gen_timer);

	(void)loop;
	(void)revents;
	server_intro_gen_free(srv, srv->old_gen);
	srv->old_gen = NULL;
}

/* After a change of the client table under the same K. */
void server_intro_rebuild(struct server *srv)
{
	struct intro_gen *gens[2] = { srv->gen, srv->old_gen };
	size_t i, j;

	server_clients_derive(srv, srv->old_gen ? srv->old_gen->key : NULL);
	for (j = 0; j < 2; j++) {
		if (!gens[j])
			continue;
		for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
			struct intro_sock *s = &gens[j]->socks[i];

			intro_map_fini(&s->map);
			if (intro_map_init(&s->map, srv->n_clients) < 0)
				continue;
			if (s->fd >= 0)
				intro_map_build(&s->map,
						(const uint8_t(*)[INTRO_IID_LEN])(gens[j]->is_current
										   ? srv->c_iids
										   : srv->c_iids_old),
						srv->is_active, srv->n_clients, gens[j]->slot_key,
						s->slot);
		}
	}
}
