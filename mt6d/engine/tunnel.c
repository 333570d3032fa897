#include "mt6d/engine/tunnel.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/core/rotate.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/sockbuf.h"
#include "mt6d/engine/tunnel_int.h"
#include "tun/tun.h"
#include "tun/vnet.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h; glibc's netinet/in.h lacks it */
#endif

struct tunnel_scratch *tunnel_scratch;

static void scratch_wipe_bufs(struct tunnel_scratch *sc)
{
	if (sc->bufs) {
		sodium_memzero(sc->bufs, TUNNEL_BATCH * sc->buf_len);
		free(sc->bufs);
		sc->bufs = NULL;
	}
	if (sc->rx_bufs) {
		sodium_memzero(sc->rx_bufs, (size_t)TUNNEL_RX_MSGS * TUNNEL_RX_BUF_LEN);
		free(sc->rx_bufs);
		sc->rx_bufs = NULL;
	}
	if (sc->vnet_buf) {
		sodium_memzero(sc->vnet_buf, TUNNEL_VNET_BUF_LEN);
		free(sc->vnet_buf);
		sc->vnet_buf = NULL;
	}
}

/* The TUN side of sc (what a TUN -> peer batch uses): packet buffers of at
 * least buf_len bytes and the super-packet buffer. Returns 0 or -ENOMEM. */
int tunnel_scratch_tx_get(struct tunnel_scratch *sc, size_t buf_len)
{
	size_t i;

	if (sc->buf_len < buf_len || !sc->bufs) {
		uint8_t *bufs = malloc(TUNNEL_BATCH * buf_len);

		if (!bufs)
			return -ENOMEM;
		if (sc->bufs) {
			sodium_memzero(sc->bufs, TUNNEL_BATCH * sc->buf_len);
			free(sc->bufs);
		}
		sc->bufs = bufs;
		sc->buf_len = buf_len;
		for (i = 0; i < TUNNEL_BATCH; i++) {
			sc->pkts[i].buf = bufs + i * buf_len;
			sc->pkts[i].cap = buf_len;
		}
	}
	if (!sc->vnet_buf) {
		sc->vnet_buf = malloc(TUNNEL_VNET_BUF_LEN);
		if (!sc->vnet_buf)
			return -ENOMEM;
	}
	return 0;
}

void tunnel_scratch_wipe(struct tunnel_scratch *sc)
{
	scratch_wipe_bufs(sc);
	sodium_memzero(sc, sizeof(*sc));
}

/* One more user of the scratch space, with TUN buffers of at least buf_len
 * bytes. Returns 0, -EINVAL or -ENOMEM. */
static int scratch_get(size_t buf_len)
{
	if (!buf_len)
		return -EINVAL;
	if (!tunnel_scratch) {
		tunnel_scratch = calloc(1, sizeof(*tunnel_scratch));
		if (!tunnel_scratch)
			return -ENOMEM;
	}
	if (tunnel_scratch_tx_get(tunnel_scratch, buf_len) < 0)
		goto fail;
	if (!tunnel_scratch->rx_bufs) {
		tunnel_scratch->rx_bufs = malloc((size_t)TUNNEL_RX_MSGS * TUNNEL_RX_BUF_LEN);
		if (!tunnel_scratch->rx_bufs)
			goto fail;
	}
	tunnel_scratch->refs++;
	return 0;
fail:
	if (!tunnel_scratch->refs) {
		scratch_wipe_bufs(tunnel_scratch);
		free(tunnel_scratch);
		tunnel_scratch = NULL;
	}
	return -ENOMEM;
}

static void scratch_put(void)
{
	if (!tunnel_scratch || --tunnel_scratch->refs > 0)
		return;
	tunnel_scratch_wipe(tunnel_scratch);
	free(tunnel_scratch);
	tunnel_scratch = NULL;
}

static int64_t tunnel_now_ms(const struct tunnel *t)
{
	return wall_now_ms() + t->clock_offset_ms; /* slots: the wall clock */
}

bool tunnel_is_time_to_log(struct tunnel *t, ev_tstamp *last)
{
	ev_tstamp now = ev_now(t->loop);

	if (*last != 0 && now - *last < TUNNEL_LOG_INTERVAL_S)
		return false;
	*last = now;
	return true;
}

static void sock_close(struct tunnel *t, struct tunnel_sock *s)
{
	if (s->is_muxed) {
		slotmux_del(t->mux, &s->own.addr, s->own.port, t);
		s->is_muxed = false;
	}
	if (s->fd < 0)
		return;
	ev_io_stop(t->loop, &s->io);
	close(s->fd);
	s->fd = -1;
}

/* A socket on our endpoint of one slot. IPV6_FREEBIND: the bind succeeds
 * before netlink has added the address, so the socket is ready whatever the
 * order in which the kernel handles our requests. */
static int sock_open(struct tunnel *t, struct tunnel_sock *s, const struct rotate_slot *rs)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int one = 1, fd, rc;

	s->slot = rs->slot;
	s->own = rs->own;
	s->peer = rs->peer;
	memset(&s->peer_sa, 0, sizeof(s->peer_sa));
	s->peer_sa.sin6_family = AF_INET6;
	s->peer_sa.sin6_addr = rs->peer.addr;
	s->peer_sa.sin6_port = htons(rs->peer.port);
	if (t->mux) {
		rc = slotmux_add(t->mux, &rs->own.addr, rs->own.port, t, rs->slot,
				 t->valid_s * 1000u);
		s->is_muxed = rc == 0;
		return rc;
	}
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0) {
		rc = -errno;
		goto fail;
	}
	/* GRO hands us trains of datagrams of one flow in one buffer; when the
	 * kernel refuses, each datagram simply comes alone. */
	if (t->has_gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0)
		t->has_gro = false;
	(void)sockbuf_set(fd, true, TUNNEL_SOCK_BUF);
	(void)sockbuf_set(fd, false, TUNNEL_SOCK_BUF);
	sa.sin6_addr = rs->own.addr;
	sa.sin6_port = htons(rs->own.port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto fail;
	}
	s->fd = fd;
	s->t = t;
	ev_io_init(&s->io, tunnel_sock_cb, fd, EV_READ);
	ev_io_start(t->loop, &s->io);
	return 0;
fail:
	close(fd);
	return rc;
}

/* Makes slot the current one: drops what left the window (socket, address)
 * and binds what entered it, in one netlink batch. */
static void tunnel_move(struct tunnel *t, uint64_t slot, int64_t now_ms)
{
	struct rotate_diff d;
	bool had = t->rot.has_slot;
	char a[INET6_ADDRSTRLEN];
	size_t i;
	int rc;

	rotate_move(&t->rot, slot, &d);
	if (d.del_len == 0 && d.add_len == 0)
		return;
	for (i = 0; i < d.del_len; i++) {
		sock_close(t, &t->socks[d.del[i].slot % ROTATE_MAX_SLOTS]);
		if (t->ndresp)
			ndresp_del(t->ndresp, &d.del[i].own.addr);
		else if (!t->is_claimed &&
			 nladdr_is_bound(t->nladdr, t->link_ifindex, &d.del[i].own.addr))
			nladdr_batch_del(t->nladdr, t->link_ifindex, &d.del[i].own.addr, t);
	}
	for (i = 0; i < d.add_len; i++) {
		struct tunnel_sock *s = &t->socks[d.add[i].slot % ROTATE_MAX_SLOTS];

		rc = 0;
		if (t->ndresp)
			rc = ndresp_add(t->ndresp, &d.add[i].own.addr);
		else if (!t->is_claimed)
			rc = nladdr_batch_add(t->nladdr, t->link_ifindex, &d.add[i].own.addr,
					      t->valid_s, t);
		if (rc < 0) {
			t->stats.addr_errors++;
			if (tunnel_is_time_to_log(t, &t->err_logged_at))
				log_err(rc, "tunnel %s: queueing %s for the kernel", tun_name(t->tun),
					inet_ntop(AF_INET6, &d.add[i].own.addr, a, sizeof(a)));
		}
		/* guard: the slot's endpoint, committed before the loop sleeps
		 * (the mux adds its own, to the mux set too) */
		if (!t->mux)
			guard_add_endpoint(t->guard, &d.add[i].own.addr, d.add[i].own.port,
					   t->valid_s * 1000u);
		sock_close(t, s);
		rc = sock_open(t, s, &d.add[i]);
		if (rc < 0) {
			t->stats.addr_errors++;
			if (tunnel_is_time_to_log(t, &t->sock_err_logged_at))
				log_err(rc, "tunnel %s: binding a socket to [%s]:%u (slot %" PRIu64 ")",
					tun_name(t->tun),
					inet_ntop(AF_INET6, &d.add[i].own.addr, a, sizeof(a)),
					d.add[i].own.port, d.add[i].slot);
		}
	}
	rc = t->is_claimed ? 0 : nladdr_batch_send(t->nladdr);
	if (rc < 0 && tunnel_is_time_to_log(t, &t->err_logged_at))
		log_err(rc, "tunnel %s: sending address changes to the kernel", tun_name(t->tun));
	if (had) {
		int64_t late_ms = now_ms - rotate_slot_start_ms(t->rot.rotation_ms, t->rot.cur);

		t->stats.rotations++;
		if (late_ms > 0 && (uint64_t)late_ms * 1000 > t->stats.rotation_late_max_us)
			t->stats.rotation_late_max_us = (uint64_t)late_ms * 1000;
	}
	if (log_is_debug())
		log_debug("tunnel %s: slot %" PRIu64 ", own [%s]:%u", tun_name(t->tun), t->rot.cur,
			  inet_ntop(AF_INET6, &rotate_get(&t->rot, t->rot.cur)->own.addr, a,
				    sizeof(a)),
			  rotate_get(&t->rot, t->rot.cur)->own.port);
}

/* The periodic at the slot boundaries of our clock (wall clock + offset),
 * in libev's wall time. */
static void tunnel_arm_tick(struct tunnel *t)
{
	double rot_s = t->rot.rotation_ms / 1000.0;
	double offset_s = fmod(-(double)t->clock_offset_ms / 1000.0, rot_s);

	if (offset_s < 0)
		offset_s += rot_s;
	ev_periodic_set(&t->tick, offset_s, rot_s, NULL);
	ev_periodic_again(t->loop, &t->tick);
}

/* The pending change of Rot, at its instant: the whole window moves to the
 * new numbering at once (what was bound for the old one is dropped). */
static void tunnel_apply_rotation(struct tunnel *t, int64_t now_ms)
{
	int64_t at_ms = now_ms > t->next_rotation_at_ms ? now_ms : t->next_rotation_at_ms;
	uint32_t rot = t->next_rotation_ms, was = t->rot.rotation_ms;

	t->next_rotation_ms = 0;
	if (rot == was || rotate_set_rotation(&t->rot, rot) < 0)
		return;
	wire_rx_restart(&t->rx);
	t->valid_s = (uint32_t)((((uint64_t)2 * t->rot.reach + 1) * rot + 999) / 1000 + 2);
	tunnel_arm_tick(t);
	tunnel_move(t, rotate_slot_at(rot, at_ms), now_ms);
	log_info("tunnel %s: rotation period %u ms -> %u ms", tun_name(t->tun), was, rot);
}

/* While an idle watcher is active, libev polls its fds with a zero timeout
 * instead of sleeping; this one stops itself once no packet came for
 * busy_poll_s. Waking a sleeping daemon costs tens of microseconds on a VM
 * (and more on a loaded one): a round trip through the tunnel has three.
 * Each poll yields the CPU: with both ends on one machine, the peer daemon
 * that has to answer may be waiting for this very core. Off by default: on
 * EEVDF each yield also pushes our deadline a slice away, which under load
 * can delay the daemon by a rotation (docs/PERFORMANCE.md). */
static void busy_poll_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct tunnel *t = container_of(w, struct tunnel, busy_poll);

	(void)revents;
	if (ev_now(loop) >= t->busy_poll_until)
		ev_idle_stop(loop, w);
	else
		sched_yield();
}

void tunnel_busy_poll_extend(struct tunnel *t)
{
	if (t->busy_poll_s <= 0)
		return;
	t->busy_poll_until = ev_now(t->loop) + t->busy_poll_s;
	if (!ev_is_active(&t->busy_poll))
		ev_idle_start(t->loop, &t->busy_poll);
}

static void tick_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct tunnel *t = container_of(w, struct tunnel, tick);
	int64_t now_ms = tunnel_now_ms(t);
	uint64_t slot = rotate_slot_at(t->rot.rotation_ms, now_ms);

	(void)loop;
	(void)revents;
	tunnel_workers_lock(t);
	if (t->next_rotation_ms && now_ms + TUNNEL_EARLY_MS >= t->next_rotation_at_ms) {
		tunnel_apply_rotation(t, now_ms);
	} else {
		/* Fired a hair before the boundary: the move is due all the same. */
		if (t->rot.has_slot && slot == t->rot.cur &&
		    rotate_slot_start_ms(t->rot.rotation_ms, slot + 1) - now_ms <= TUNNEL_EARLY_MS)
			slot++;
		tunnel_move(t, slot, now_ms);
	}
	tunnel_workers_unlock(t);
}

/* Groups the k sealed datagrams in the sender's x->sc->iov into messages:
 * with GSO, each run of equal lengths (the last one may be shorter) goes as one UDP_SEGMENT
 * send that the kernel cuts into datagrams as late as possible (veth and the
 * forwarding router carry the whole train as one packet). */
static size_t tunnel_group(const struct tunnel_tx *x, struct tunnel_sock *s, size_t k)
{
	struct tunnel_scratch *sc = x->sc;
	size_t m = 0, i = 0;

	while (i < k) {
		size_t len = sc->iov[i].iov_len, j = i + 1;
		struct msghdr *h = &sc->msgs[m].msg_hdr;

		if (*x->has_gso) {
			size_t max = TUNNEL_GSO_MAX_BYTES / len;

			if (max > TUNNEL_GSO_MAX_SEGS)
				max = TUNNEL_GSO_MAX_SEGS;
			while (j < k && j - i < max && sc->iov[j].iov_len == len)
				j++;
			if (j < k && j - i < max && sc->iov[j].iov_len < len)
				j++;
		}
		memset(h, 0, sizeof(*h));
		h->msg_name = &s->peer_sa;
		h->msg_namelen = sizeof(s->peer_sa);
		h->msg_iov = &sc->iov[i];
		h->msg_iovlen = j - i;
		if (j - i > 1) {
			struct cmsghdr *c;
			uint16_t seg = (uint16_t)len;

			h->msg_control = sc->cmsg[m].buf;
			h->msg_controllen = CMSG_SPACE(sizeof(seg));
			c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		}
		sc->run_len[m] = j - i;
		m++;
		i = j;
	}
	return m;
}

static void tunnel_send(const struct tunnel_tx *x, struct tunnel_sock *s, size_t k)
{
	struct tunnel_scratch *sc = x->sc;
	struct tunnel_stats *st = x->stats;
	size_t m = tunnel_group(x, s, k), sent = 0, i;

	while (sent < m) {
		int r = sendmmsg(s->fd, sc->msgs + sent, (unsigned)(m - sent), MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* A device without checksum offload refuses GSO (EIO):
			 * fall back to one datagram per packet from now on. */
			if (*x->has_gso && sc->run_len[sent] > 1 &&
			    (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
				*x->has_gso = false;
				log_warnx("tunnel %s: UDP GSO refused (%s): sending datagrams "
					  "one by one", tun_name(x->t->tun), strerror(errno));
			}
			/* The message at `sent` cannot go (full buffer, no route):
			 * drop it and try the rest. */
			if (log_is_debug())
				log_debug("tunnel %s: send of %zu datagrams: %s", tun_name(x->t->tun),
					  sc->run_len[sent], strerror(errno));
			st->drops_tx += sc->run_len[sent];
			sent++;
			continue;
		}
		for (i = sent; i < sent + (size_t)r; i++) {
			const struct msghdr *h = &sc->msgs[i].msg_hdr;
			size_t j;

			st->tx_packets += sc->run_len[i];
			for (j = 0; j < h->msg_iovlen; j++)
				st->tx_bytes += sc->tx_inner_len[(size_t)(h->msg_iov - sc->iov) + j];
		}
		sent += (size_t)r;
	}
}

/* The k sealed datagrams through the shared slot sockets. */
static void tunnel_send_mux(const struct tunnel_tx *x, struct tunnel_sock *s, size_t k)
{
	bool failed[TUNNEL_BATCH];
	size_t i;

	slotmux_send(x->t->mux, &s->own.addr, s->own.port, &s->peer_sa, x->sc->iov, k, failed);
	for (i = 0; i < k; i++) {
		if (failed[i]) {
			x->stats->drops_tx++;
			continue;
		}
		x->stats->tx_packets++;
		x->stats->tx_bytes += x->sc->tx_inner_len[i];
	}
}

/* Seals each packet in place for the current slot and sends the batch from
 * the current slot's socket in one sendmmsg. A batch never spans a
 * rotation: the slot is read once per batch, and the main loop runs no
 * timer in between while a worker holds its lock, which the main loop takes
 * to move the window (and to close a socket). */
void tunnel_tx_batch(const struct tunnel_tx *x, struct tun_pkt *pkts, size_t n)
{
	struct tunnel *t = x->t;
	struct tunnel_sock *s;
	size_t k = 0, i;

	tunnel_worker_lock(x);
	s = &t->socks[t->rot.cur % ROTATE_MAX_SLOTS];
	if ((s->fd < 0 && !s->is_muxed) || s->slot != t->rot.cur) {
		x->stats->drops_tx += (uint64_t)n;
		goto out;
	}
	for (i = 0; i < n; i++) {
		int len = wire_seal(x->tx, s->slot, pkts[i].buf, pkts[i].len, pkts[i].cap);

		if (len < 0) {
			x->stats->drops_tx++;
			continue;
		}
		x->sc->iov[k].iov_base = pkts[i].buf;
		x->sc->iov[k].iov_len = (size_t)len;
		x->sc->tx_inner_len[k] = pkts[i].len;
		k++;
	}
	if (s->is_muxed)
		tunnel_send_mux(x, s, k);
	else
		tunnel_send(x, s, k);
out:
	tunnel_worker_unlock(x);
	if (!x->lock)
		tunnel_busy_poll_extend(t);
}

static void tunnel_tx_flush(void *ctx, struct tun_pkt *pkts, size_t n)
{
	tunnel_tx_batch(ctx, pkts, n);
}

/* The main loop's sender: queue 0 (or a shared TUN's packets). */
static struct tunnel_tx main_tx(struct tunnel *t)
{
	return (struct tunnel_tx){ .t = t, .tx = &t->tx, .sc = tunnel_scratch, .stats = &t->stats,
				   .has_gso = &t->has_gso, .lock = NULL };
}

void tunnel_transmit(struct tunnel *t, struct tun_pkt *pkts, size_t n)
{
	struct tunnel_tx x = main_tx(t);

	if (n > TUNNEL_BATCH) {
		t->stats.drops_tx += (uint64_t)(n - TUNNEL_BATCH);
		n = TUNNEL_BATCH;
	}
	tunnel_tx_batch(&x, pkts, n);
}

/* TUN -> peer: batches read from queue q of our own TUN by the sender x. */
void tunnel_tun_read(const struct tunnel_tx *x, unsigned q)
{
	struct tunnel *t = x->t;
	struct tunnel_scratch *sc = x->sc;
	unsigned round;

	if (t->stats.has_offload) {
		struct tun_split_stats st = { 0 };

		/* Every segment of a super-packet is sealed for the slot of the
		 * flush that sends it: a GSO run never spans a rotation. */
		(void)tun_read_split(t->tun, q, sc->vnet_buf, TUNNEL_VNET_BUF_LEN, sc->pkts,
				     TUNNEL_BATCH, WIRE_HEADER_LEN, t->tun_mtu, TUNNEL_ROUNDS,
				     tunnel_tx_flush, (void *)(uintptr_t)x, &st);
		tunnel_worker_lock(x);
		x->stats->tx_super += st.supers;
		x->stats->drops_tx += st.dropped;
		tunnel_worker_unlock(x);
		return;
	}
	for (round = 0; round < TUNNEL_ROUNDS; round++) {
		unsigned dropped = 0;
		int n = tun_read(t->tun, q, sc->pkts, TUNNEL_BATCH, WIRE_HEADER_LEN, &dropped);

		if (dropped) {
			tunnel_worker_lock(x);
			x->stats->drops_tx += dropped;
			tunnel_worker_unlock(x);
		}
		if (n <= 0)
			break;
		tunnel_tx_batch(x, sc->pkts, (size_t)n);
		if (n < TUNNEL_BATCH)
			break;
	}
}

static void tun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel_tx x = main_tx(container_of(w, struct tunnel, tun_io));

	(void)loop;
	(void)revents;
	tunnel_tun_read(&x, 0);
}

void tunnel_handle_addr_result(struct tunnel *t, const struct nladdr_result *res)
{
	char a[INET6_ADDRSTRLEN];

	if (!t || res->err == 0)
		return;
	/* Deleting an address that its lifetime already removed is fine. */
	if (res->op == NLADDR_DEL && (res->err == -EADDRNOTAVAIL || res->err == -ENOENT ||
				      res->err == -ENODEV))
		return;
	t->stats.addr_errors++;
	if (tunnel_is_time_to_log(t, &t->err_logged_at))
		log_err(res->err, "tunnel %s: %s %s on ifindex %u%s%s", tun_name(t->tun),
			res->op == NLADDR_ADD ? "binding" : "removing",
			inet_ntop(AF_INET6, &res->addr, a, sizeof(a)), res->ifindex,
			res->msg[0] ? " (kernel: " : "", res->msg[0] ? res->msg : "");
}

/* What the kernel granted of the offloads asked for, said once. */
static void tunnel_log_offloads(struct tunnel *t, unsigned want)
{
	unsigned got = tun_offloads(t->tun);
	char words[64];

	t->stats.has_offload = true;
	t->stats.offloads = got;
	tunnel_offload_words(got, words, sizeof(words));
	if (got == want)
		log_info("tunnel %s: TUN offloads %s", tun_name(t->tun), words);
	else
		log_warnx("tunnel %s: the kernel refused some TUN offloads: %s granted, "
			  "%s%s%srefused", tun_name(t->tun), words,
			  want & ~got & TUN_OFFLOAD_CSUM ? "checksum " : "",
			  want & ~got & TUN_OFFLOAD_TSO6 ? "TSO " : "",
			  want & ~got & TUN_OFFLOAD_USO ? "USO " : "");
}

static int tunnel_setup_tun(struct tunnel *t, const struct tunnel_config *cfg, char *msg,
			    size_t msg_len)
{
	struct tun_config tc = {
		.name = cfg->tun_name, .queues = 1, .mtu = t->tun_mtu, .is_up = true,
	};

	/* One queue keeps the plain TUN of before (no IFF_MULTI_QUEUE). */
	if (t->n_queues > 1) {
		tc.flags |= TUN_IS_MULTI_QUEUE;
		tc.queues = t->n_queues;
	}

	if (!(cfg->flags & TUNNEL_NO_OFFLOAD)) {
		tc.flags |= TUN_HAS_VNET_HDR;
		tc.offloads = TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO6 | TUN_OFFLOAD_USO;
	}
	char a[INET6_ADDRSTRLEN], why[NLADDR_MSG_LEN] = "";
	unsigned ifindex;
	int rc;

	if (cfg->shared_tun) {
		/* Our address is local through the owner's route on its TUN
		 * (one for every session's); only the peer's route is ours. */
		t->tun = cfg->shared_tun;
		t->is_tun_borrowed = true;
		rc = 0;
	} else {
		rc = tun_new(&tc, &t->tun);
	}
	if (rc < 0) {
		set_msg(msg, msg_len, "creating TUN '%s'", cfg->tun_name ? cfg->tun_name : "");
		return rc;
	}
	ifindex = tun_ifindex(t->tun);
	if (!t->is_tun_borrowed && (tun_flags(t->tun) & TUN_HAS_VNET_HDR)) {
		tunnel_log_offloads(t, tc.offloads);
		/* A queue slot holds up to 64 KiB with TSO, so the queue in
		 * bytes (and the wait of a ping behind a stream) grows with
		 * it; measured on the lab VM, shorter queues did not lower
		 * the RTT under load (docs/PERFORMANCE.md): a knob only. */
		if (cfg->tun_txqlen)
			(void)tun_set_txqlen(tun_name(t->tun), cfg->tun_txqlen);
	}
	if (!t->is_tun_borrowed)
		rc = nllink_add_addr(t->nllink, ifindex, &cfg->tunnel_addr, cfg->tunnel_prefix_len,
				     why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "adding %s/%u to %s%s%s%s",
			inet_ntop(AF_INET6, &cfg->tunnel_addr, a, sizeof(a)),
			cfg->tunnel_prefix_len, tun_name(t->tun), why[0] ? " (kernel: " : "",
			why[0] ? why : "", why[0] ? ")" : "");
		return rc;
	}
	rc = nllink_add_route(t->nllink, ifindex, &cfg->peer_tunnel_addr, 128, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "routing %s/128 into %s%s%s%s",
			inet_ntop(AF_INET6, &cfg->peer_tunnel_addr, a, sizeof(a)),
			tun_name(t->tun), why[0] ? " (kernel: " : "", why[0] ? why : "",
			why[0] ? ")" : "");
		return rc;
	}
	t->has_route = t->is_tun_borrowed;
	/* guard: both tunnel addresses reached only through TUNs; the peer's
	 * refused (unreachable route) whenever no TUN carries it. An
	 * introduction tunnel (the seeds as tunnel addresses) carries only the
	 * daemon's own messages: the table's output rule is enough there, and
	 * no route is left behind for every seed the server draws. */
	rc = guard_protect(t->guard, &cfg->tunnel_addr, 128, false, why, sizeof(why));
	if (rc == 0) {
		rc = guard_protect(t->guard, &cfg->peer_tunnel_addr, 128,
				   !IN6_ARE_ADDR_EQUAL(&cfg->peer_tunnel_addr, &cfg->peer_seed), why,
				   sizeof(why));
		if (rc < 0)
			guard_release(t->guard, &cfg->tunnel_addr, 128);
	}
	if (rc < 0) {
		set_msg(msg, msg_len, "guarding the tunnel addresses of %s%s%s", tun_name(t->tun),
			why[0] ? ": " : "", why);
		return rc;
	}
	t->is_guarded = true;
	return 0;
}

int tunnel_new(struct ev_loop *loop, struct nladdr *nladdr, struct nllink *nllink,
	       const struct tunnel_config *cfg, struct tunnel **t_out, char *msg, size_t msg_len)
{
	struct tunnel *t;
	size_t i;
	int rc;

	if (!cfg->rotation_ms || cfg->reach < 1 || cfg->reach > ROTATE_MAX_REACH ||
	    !cfg->link_ifindex || cfg->tunnel_prefix_len < 1 || cfg->tunnel_prefix_len > 128) {
		set_msg(msg, msg_len, "invalid tunnel configuration");
		return -EINVAL;
	}
	if (cfg->link_mtu < TUNNEL_MIN_INNER_MTU + TUNNEL_OVERHEAD) {
		set_msg(msg, msg_len, "link MTU %u is below %u (IPv6's 1280 plus %u of tunnel "
			"overhead)", cfg->link_mtu, TUNNEL_MIN_INNER_MTU + TUNNEL_OVERHEAD,
			TUNNEL_OVERHEAD);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->nladdr = nladdr;
	t->nllink = nllink;
	t->ndresp = cfg->ndresp;
	t->is_claimed = cfg->ndresp || (cfg->flags & TUNNEL_PREFIX_CLAIMED);
	t->guard = cfg->guard;
	t->mux = cfg->slotmux;
	t->link_ifindex = cfg->link_ifindex;
	t->peer_tunnel_addr = cfg->peer_tunnel_addr;
	t->tunnel_addr = cfg->tunnel_addr;
	t->is_own_dst_only = cfg->flags & TUNNEL_OWN_DST_ONLY;
	t->clock_offset_ms = cfg->clock_offset_ms;
	t->tun_mtu = tunnel_inner_mtu(cfg->link_mtu);
	/* Extra queues only for a TUN of our own with sockets of our own. */
	t->n_queues = cfg->shared_tun || cfg->slotmux || !cfg->queues ? 1 : cfg->queues;
	if (t->n_queues > TUNNEL_MAX_QUEUES) {
		free(t);
		set_msg(msg, msg_len, "%u TUN queues: at most %u", cfg->queues, TUNNEL_MAX_QUEUES);
		return -EINVAL;
	}
	for (i = 0; i < ROTATE_MAX_SLOTS; i++)
		t->socks[i].fd = -1;
	/* Valid lifetime: the window's slots, plus a margin for the kernel's
	 * lifetime timer; a daemon killed with SIGKILL leaves nothing longer. */
	t->valid_s = (uint32_t)((((uint64_t)2 * cfg->reach + 1) * cfg->rotation_ms + 999) / 1000 + 2);
	wire_tx_init(&t->tx, cfg->tx_key);
	wire_rx_init(&t->rx, cfg->rx_key);
	if (cfg->aead != WIRE_AEAD_CHACHA20_POLY1305) {
		t->stats.is_aes = wire_tx_set_aead(&t->tx, cfg->aead) == 0;
		if (!t->stats.is_aes)
			log_warnx("tunnel: this CPU has no AES-NI: sealing with ChaCha20-Poly1305 "
				  "instead of AES-256-GCM (the peer opens both)");
	}
	if (wire_tx_set_padding(&t->tx, cfg->padding, t->tun_mtu) < 0) {
		rc = -EINVAL;
		set_msg(msg, msg_len, "padding bucket %u is outside %u..%u bytes", cfg->padding,
			WIRE_MIN_PAD_BUCKET, WIRE_MAX_PAD_BUCKET);
		goto fail;
	}
	rc = rotate_init(&t->rot, &cfg->own_seed, &cfg->peer_seed, cfg->slot_key,
			 cfg->rotation_ms, cfg->reach);
	if (rc < 0) {
		set_msg(msg, msg_len, "invalid rotation schedule");
		goto fail;
	}
	t->has_gso = !(cfg->flags & TUNNEL_NO_UDP_GSO);
	t->has_gro = !(cfg->flags & TUNNEL_NO_UDP_GRO);
	t->busy_poll_s = cfg->busy_poll_us / 1e6;
	ev_idle_init(&t->busy_poll, busy_poll_cb);
	/* One byte more than the largest datagram: tun_read and recvmmsg tell
	 * a packet that filled the buffer exactly from a truncated one. */
	rc = scratch_get((WIRE_OVERHEAD + t->tun_mtu + 1 + 63) & ~(size_t)63);
	if (rc < 0) {
		set_msg(msg, msg_len, "out of memory");
		goto fail;
	}
	t->has_scratch = true;
	rc = tunnel_setup_tun(t, cfg, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = tunnel_workers_new(t, cfg, msg, msg_len);
	if (rc < 0)
		goto fail;

	/* The first window is bound before any packet flows. */
	tunnel_move(t, rotate_slot_at(cfg->rotation_ms, tunnel_now_ms(t)), tunnel_now_ms(t));
	guard_flush(t->guard);
	rc = t->is_claimed || (cfg->flags & TUNNEL_NO_WAIT) ? 0 : nladdr_sync(nladdr, 5000);
	if (rc < 0) {
		set_msg(msg, msg_len, "binding the first MT6D addresses");
		goto fail;
	}

	ev_init(&t->tick, tick_cb);
	tunnel_arm_tick(t);
	/* A shared TUN is read by its owner, who hands us our packets. */
	ev_io_init(&t->tun_io, tun_cb, tun_fd(t->tun, 0), EV_READ);
	if (!t->is_tun_borrowed)
		ev_io_start(loop, &t->tun_io);
	tunnel_workers_start(t);
	*t_out = t;
	return 0;
fail:
	tunnel_free(t, 2000);
	return rc;
}

void tunnel_free(struct tunnel *t, int timeout_ms)
{
	size_t i;

	if (!t)
		return;
	/* Joined before anything they use goes. */
	tunnel_workers_free(t);
	if (t->loop) {
		ev_periodic_stop(t->loop, &t->tick);
		ev_io_stop(t->loop, &t->tun_io);
		ev_idle_stop(t->loop, &t->busy_poll);
	}
	for (i = 0; i < ROTATE_MAX_SLOTS; i++)
		sock_close(t, &t->socks[i]);
	/* Adds still in flight are acknowledged first (their results still
	 * reach t), so that the window's addresses are all in nladdr's
	 * registry and none is left to expire by itself; then the deletes,
	 * waited for too, so no result names t once it is freed. */
	if (t->ndresp && t->rot.has_slot) {
		uint64_t slot, lo = t->rot.cur > t->rot.reach ? t->rot.cur - t->rot.reach : 0;

		for (slot = lo; slot <= t->rot.cur + t->rot.reach; slot++) {
			const struct rotate_slot *rs = rotate_get(&t->rot, slot);

			if (rs)
				ndresp_del(t->ndresp, &rs->own.addr);
		}
	} else if (t->nladdr && !t->is_claimed && t->rot.has_slot) {
		uint64_t slot, lo = t->rot.cur > t->rot.reach ? t->rot.cur - t->rot.reach : 0;

		nladdr_sync(t->nladdr, timeout_ms);
		for (slot = lo; slot <= t->rot.cur + t->rot.reach; slot++) {
			const struct rotate_slot *rs = rotate_get(&t->rot, slot);

			if (rs && nladdr_is_bound(t->nladdr, t->link_ifindex, &rs->own.addr))
				nladdr_batch_del(t->nladdr, t->link_ifindex, &rs->own.addr, NULL);
		}
	}
	if (t->nladdr && !t->is_claimed)
		nladdr_sync(t->nladdr, timeout_ms);
	/* The TUN takes its tunnel address and route with it: nllink's
	 * registry forgets them, or it would grow with every session. */
	if (t->has_route) {
		char why[NLADDR_MSG_LEN] = "", a[INET6_ADDRSTRLEN];
		int rc = nllink_del_route(t->nllink, tun_ifindex(t->tun), &t->peer_tunnel_addr, 128,
					  why, sizeof(why));

		if (rc < 0 && rc != -ESRCH)
			log_err(rc, "tunnel %s: removing the route of %s%s%s", tun_name(t->tun),
				inet_ntop(AF_INET6, &t->peer_tunnel_addr, a, sizeof(a)),
				why[0] ? ": " : "", why);
	}
	if (t->tun && !t->is_tun_borrowed) {
		unsigned ifindex = tun_ifindex(t->tun);

		tun_free(t->tun);
		nllink_forget_ifindex(t->nllink, ifindex);
	}
	if (t->is_guarded) { /* guard: after the TUN, which held them */
		guard_release(t->guard, &t->tunnel_addr, 128);
		guard_release(t->guard, &t->peer_tunnel_addr, 128);
	}
	wire_tx_fini(&t->tx);
	wire_rx_fini(&t->rx);
	rotate_fini(&t->rot);
	if (t->has_scratch)
		scratch_put();
	sodium_memzero(t, sizeof(*t));
	free(t);
}

unsigned tunnel_auto_queues(void)
{
	cpu_set_t set;
	int cpus;

	/* A thread per queue gains nothing without a CPU to run it on. */
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	cpus = CPU_COUNT(&set);
	if (cpus < 1)
		return 1;
	return (unsigned)cpus < TUNNEL_AUTO_QUEUES ? (unsigned)cpus : TUNNEL_AUTO_QUEUES;
}

unsigned tunnel_inner_mtu(unsigned link_mtu)
{
	unsigned mtu = link_mtu > TUNNEL_OVERHEAD ? link_mtu - TUNNEL_OVERHEAD : 0;

	return mtu > WIRE_MAX_INNER_LEN ? WIRE_MAX_INNER_LEN : mtu;
}

void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *stats_out)
{
	*stats_out = t->stats;
	stats_out->queues = t->n_queues;
	stats_out->queue_tx[0] = t->stats.tx_packets;
	/* The workers' counters change under their locks: t is const to the
	 * caller, not to them. */
	tunnel_workers_add_stats((struct tunnel *)(uintptr_t)t, stats_out);
}

void tunnel_offload_words(unsigned offloads, char *buf, size_t buf_len)
{
	snprintf(buf, buf_len, "%s%s%s", offloads & TUN_OFFLOAD_CSUM ? "csum" : "none",
		 offloads & TUN_OFFLOAD_TSO6 ? ",tso" : "", offloads & TUN_OFFLOAD_USO ? ",uso" : "");
}

void tunnel_format_stats(const struct tunnel_stats *s, char *buf, size_t buf_len)
{
	char off[64] = "off";
	int n;

	if (s->has_offload)
		tunnel_offload_words(s->offloads, off, sizeof(off));
	n = snprintf(buf, buf_len,
		 "tx_packets=%" PRIu64 " tx_bytes=%" PRIu64 " rx_packets=%" PRIu64
		 " rx_bytes=%" PRIu64 " drops_auth=%" PRIu64 " drops_replay=%" PRIu64
		 " drops_malformed=%" PRIu64 " drops_busy=%" PRIu64 " drops_inner=%" PRIu64
		 " drops_tx=%" PRIu64 " drops_tun=%" PRIu64 " rx_prev_slot=%" PRIu64
		 " rx_next_slot=%" PRIu64 " rx_far_slot=%" PRIu64 " rotations=%" PRIu64
		 " rotation_late_max_us=%" PRIu64 " addr_errors=%" PRIu64,
		 s->tx_packets, s->tx_bytes, s->rx_packets, s->rx_bytes, s->drops_auth,
		 s->drops_replay, s->drops_malformed, s->drops_busy, s->drops_inner, s->drops_tx,
		 s->drops_tun, s->rx_prev_slot, s->rx_next_slot, s->rx_far_slot, s->rotations,
		 s->rotation_late_max_us, s->addr_errors);
	if (n > 0 && (size_t)n < buf_len)
		n += snprintf(buf + n, buf_len - (size_t)n,
			      " tx_super=%" PRIu64 " rx_coalesced=%" PRIu64 " offloads=%s aead=%s",
			      s->tx_super, s->rx_coalesced, off,
			      s->is_aes ? "aes-256-gcm" : "chacha20-poly1305");
	/* Several queues: what each carried out (queue 0 is the main loop's). */
	for (unsigned q = 0; s->queues > 1 && q < s->queues && q < TUNNEL_MAX_QUEUES; q++) {
		if (n <= 0 || (size_t)n >= buf_len)
			break;
		n += snprintf(buf + n, buf_len - (size_t)n, "%s%" PRIu64,
			      q == 0 ? " queue_tx=" : ",", s->queue_tx[q]);
	}
}

const char *tunnel_tun_name(const struct tunnel *t)
{
	return tun_name(t->tun);
}

unsigned tunnel_tun_ifindex(const struct tunnel *t)
{
	return tun_ifindex(t->tun);
}

unsigned tunnel_tun_mtu(const struct tunnel *t)
{
	return t->tun_mtu;
}

uint64_t tunnel_current_slot(const struct tunnel *t)
{
	return t->rot.cur;
}

int64_t tunnel_next_move_in_ms(const struct tunnel *t)
{
	int64_t left = rotate_slot_start_ms(t->rot.rotation_ms, t->rot.cur + 1) - tunnel_now_ms(t);

	return left > 0 ? left : 0;
}

int tunnel_set_rotation(struct tunnel *t, uint32_t rotation_ms, int64_t at_ms)
{
	int64_t now_ms = tunnel_now_ms(t);

	if (!rotation_ms)
		return -EINVAL;
	t->next_rotation_ms = rotation_ms;
	t->next_rotation_at_ms = at_ms;
	if (at_ms <= now_ms + TUNNEL_EARLY_MS) {
		tunnel_workers_lock(t);
		tunnel_apply_rotation(t, now_ms);
		tunnel_workers_unlock(t);
	}
	return 0;
}

uint32_t tunnel_rotation_ms(const struct tunnel *t)
{
	return t->rot.rotation_ms;
}
