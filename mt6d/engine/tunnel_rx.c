/* peer -> TUN: the slot sockets' batches (and the shared sockets' datagrams,
 * tunnel_mux_input), opened in place and written to the TUN, coalesced when
 * it has offloads. */
#include "mt6d/engine/tunnel.h"

#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/udp.h>

#include "mt6d/base/log.h"
#include "mt6d/core/flowq.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/tunnel_int.h"
#include "tun/tun.h"

/* An authentic inner packet may enter the TUN only if it is IPv6 from the
 * peer's tunnel address (the tunnel is not a path for anyone else), and
 * with TUNNEL_OWN_DST_ONLY to ours. */
static bool is_inner_acceptable(const struct tunnel *t, const uint8_t *p, size_t len)
{
	return len >= 40 && (p[0] >> 4) == 6 &&
	       memcmp(p + 8, t->peer_tunnel_addr.s6_addr, 16) == 0 &&
	       (!t->is_own_dst_only || memcmp(p + 24, t->tunnel_addr.s6_addr, 16) == 0);
}

static void count_open_error(struct tunnel *t, int rc)
{
	switch (rc) {
	case WIRE_ERR_AUTH:
		t->stats.drops_auth++;
		break;
	case WIRE_ERR_REPLAY:
	case WIRE_ERR_TOO_OLD:
		t->stats.drops_replay++;
		break;
	case WIRE_ERR_BUSY:
		t->stats.drops_busy++;
		break;
	default:
		t->stats.drops_malformed++;
		break;
	}
}

static void warn_far_slot(struct tunnel *t, int64_t off)
{
	if (!tunnel_is_time_to_log(t, &t->far_logged_at))
		return;
	log_warnx("tunnel %s: the peer's clock is %" PRId64 " slots (about %" PRId64
		  " ms) %s ours: its packets are dropped (the overlap is one slot); "
		  "check NTP on both hosts",
		  tun_name(t->tun), off < 0 ? -off : off,
		  (off < 0 ? -off : off) * (int64_t)t->rot.rotation_ms,
		  off < 0 ? "behind" : "ahead of");
}

/* Opens one datagram of the socket's slot in place; an acceptable inner
 * packet is queued in tunnel_scratch->rx_pkts[*out]. */
static void tunnel_open_one(struct tunnel *t, uint64_t slot, int64_t off, uint8_t *buf,
			    size_t len, size_t *out)
{
	int inner = wire_open(&t->rx, slot, buf, len);

	if (inner < 0) {
		count_open_error(t, inner);
		return;
	}
	if (off <= -2 || off >= 2) {
		t->stats.rx_far_slot++;
		warn_far_slot(t, off);
		return;
	}
	if (off == -1)
		t->stats.rx_prev_slot++;
	else if (off == 1)
		t->stats.rx_next_slot++;
	if (inner == 0)
		return; /* keepalive */
	if (!is_inner_acceptable(t, buf + WIRE_HEADER_LEN, (size_t)inner)) {
		t->stats.drops_inner++;
		return;
	}
	tunnel_scratch->rx_pkts[*out].buf = buf;
	tunnel_scratch->rx_pkts[*out].cap = len;
	tunnel_scratch->rx_pkts[*out].len = (size_t)inner;
	(*out)++;
}

/* The out opened packets pkts into TUN queue q (ok: room for out flags). */
static void deliver_queue(struct tunnel *t, unsigned q, struct tun_pkt *pkts, bool *ok,
			  size_t out)
{
	size_t done = 0, i;

	if (t->stats.has_offload) {
		struct tun_gro_stats st = { 0 };

		tun_write_gro(t->tun, q, pkts, out, WIRE_HEADER_LEN, ok, &st);
		t->stats.rx_coalesced += st.coalesced;
		for (i = 0; i < out; i++) {
			if (!ok[i]) {
				t->stats.drops_tun++;
				continue;
			}
			t->stats.rx_packets++;
			t->stats.rx_bytes += pkts[i].len;
		}
		return;
	}
	while (done < out) {
		int r = tun_write(t->tun, q, pkts + done, out - done, WIRE_HEADER_LEN);

		if (r < 0) {
			t->stats.drops_tun++;
			done++;
			continue;
		}
		for (i = done; i < done + (size_t)r; i++) {
			t->stats.rx_packets++;
			t->stats.rx_bytes += pkts[i].len;
		}
		done += (size_t)r;
	}
}

/* Several queues: each packet into its flow's queue (mt6d/core/flowq.h),
 * so that the kernel sends the flow's replies out of the queue whose
 * thread we chose; the order within a flow is kept. */
static void deliver_by_queue(struct tunnel *t, size_t out)
{
	struct tun_pkt sorted[TUNNEL_BATCH];
	unsigned qs[TUNNEL_BATCH], start[TUNNEL_MAX_QUEUES + 1] = { 0 };
	unsigned fill[TUNNEL_MAX_QUEUES], q;
	size_t i;

	for (i = 0; i < out; i++) {
		const struct tun_pkt *p = &tunnel_scratch->rx_pkts[i];

		qs[i] = flowq_pick(p->buf + WIRE_HEADER_LEN, p->len, t->n_queues);
		start[qs[i] + 1]++;
	}
	for (q = 0; q < t->n_queues; q++) {
		start[q + 1] += start[q];
		fill[q] = start[q];
	}
	for (i = 0; i < out; i++)
		sorted[fill[qs[i]]++] = tunnel_scratch->rx_pkts[i];
	for (q = 0; q < t->n_queues; q++) {
		if (start[q + 1] > start[q])
			deliver_queue(t, q, sorted + start[q], tunnel_scratch->rx_ok + start[q],
				      start[q + 1] - start[q]);
	}
}

static void tunnel_deliver(struct tunnel *t, size_t out)
{
	if (t->n_queues > 1)
		deliver_by_queue(t, out);
	else
		deliver_queue(t, 0, tunnel_scratch->rx_pkts, tunnel_scratch->rx_ok, out);
}

/* The segment size of a GRO train (UDP_GRO control message), or 0. */
static size_t gro_segment_len(const struct msghdr *h)
{
	const struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)(uintptr_t)h,
						       (struct cmsghdr *)(uintptr_t)c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int seg;

			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
			return seg > 0 ? (size_t)seg : 0;
		}
	}
	return 0;
}

/* peer -> TUN: one datagram of slot (with GRO, a train of seg-byte ones;
 * seg 0: one), each opened for that slot in place; what authenticates and
 * passes the inner check joins tunnel_scratch->rx_pkts (*out of them), which the
 * caller hands to the TUN (tunnel_deliver) at the end of its batch: the
 * segments of consecutive trains of a flow go back as one write (a sender's
 * GSO sends break a TCP super-packet at 64 KiB and at its batches, so a
 * train often holds part of one). A batch is one socket's, hence one slot's:
 * no coalesced write spans a rotation. The slot sockets and the shared ones
 * (tunnel_mux_input) both come here. */
static void tunnel_input_train(struct tunnel *t, uint64_t slot, uint8_t *base, size_t total,
			       size_t seg, size_t *out)
{
	int64_t off = (int64_t)(slot - t->rot.cur);
	size_t pos;

	/* An empty datagram would pass the segment loop unseen. */
	if (total == 0) {
		t->stats.drops_malformed++;
		return;
	}
	if (seg == 0 || seg > total)
		seg = total;
	if (*out + (total + seg - 1) / seg > TUNNEL_BATCH) {
		tunnel_deliver(t, *out);
		*out = 0;
	}
	for (pos = 0; pos < total && *out < TUNNEL_BATCH; pos += seg)
		tunnel_open_one(t, slot, off, base + pos, total - pos < seg ? total - pos : seg, out);
}

void tunnel_mux_input(void *owner, uint64_t slot, uint8_t *buf, size_t len)
{
	struct tunnel *t = owner;
	const struct tunnel_sock *s = &t->socks[slot % ROTATE_MAX_SLOTS];
	size_t out = 0;

	/* The table is kept with the window: this holds unless a bug broke it. */
	if (!s->is_muxed || s->slot != slot) {
		t->stats.drops_malformed++;
		return;
	}
	tunnel_busy_poll_extend(t);
	tunnel_input_train(t, slot, buf, len, 0, &out);
	tunnel_deliver(t, out);
}

/* A batch from one slot's socket. */
/* Reads up to rounds batches of socket s (fewer once it is empty) and
 * delivers what opens. */
static void sock_drain(struct tunnel *t, struct tunnel_sock *s, unsigned rounds)
{
	for (unsigned round = 0; round < rounds; round++) {
		size_t i, out;
		int n;

		for (i = 0; i < TUNNEL_RX_MSGS; i++) {
			struct msghdr *h = &tunnel_scratch->msgs[i].msg_hdr;

			tunnel_scratch->rx_iov[i].iov_base = tunnel_scratch->rx_bufs + i * TUNNEL_RX_BUF_LEN;
			tunnel_scratch->rx_iov[i].iov_len = TUNNEL_RX_BUF_LEN;
			memset(h, 0, sizeof(*h));
			h->msg_name = &tunnel_scratch->from[i];
			h->msg_namelen = sizeof(tunnel_scratch->from[i]);
			h->msg_iov = &tunnel_scratch->rx_iov[i];
			h->msg_iovlen = 1;
			h->msg_control = tunnel_scratch->cmsg[i].buf;
			h->msg_controllen = sizeof(tunnel_scratch->cmsg[i].buf);
		}
		n = recvmmsg(s->fd, tunnel_scratch->msgs, TUNNEL_RX_MSGS, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		tunnel_busy_poll_extend(t);
		out = 0;
		for (i = 0; i < (size_t)n; i++) {
			const struct msghdr *h = &tunnel_scratch->msgs[i].msg_hdr;

			if (h->msg_flags & MSG_TRUNC) {
				t->stats.drops_malformed++;
				continue;
			}
			tunnel_input_train(t, s->slot, tunnel_scratch->rx_iov[i].iov_base,
					   tunnel_scratch->msgs[i].msg_len, gro_segment_len(h), &out);
		}
		/* Before the next receive reuses the buffers they point into. */
		tunnel_deliver(t, out);
		if (n < TUNNEL_RX_MSGS)
			break;
	}
}

/* The pending socket of the oldest slot before s, or NULL. */
static struct tunnel_sock *older_pending(struct tunnel *t, const struct tunnel_sock *s)
{
	struct tunnel_sock *oldest = NULL;

	for (size_t i = 0; i < ROTATE_MAX_SLOTS; i++) {
		struct tunnel_sock *o = &t->socks[i];

		if (o != s && o->fd >= 0 && o->slot < s->slot && ev_is_pending(&o->io) &&
		    (!oldest || o->slot < oldest->slot))
			oldest = o;
	}
	return oldest;
}

/* Oldest slot first, and to its end: a sender seals its packets with one
 * counter across slots, so what waits in the previous slot's socket after a
 * rotation has lower counters than what the new slot's socket holds. Read
 * after it, a backlog deeper than the replay window (under a flood: a few
 * ms of packets) would be refused as too old, though nothing was replayed.
 * Both sockets are pending in the same loop iteration when both hold data
 * (level-triggered), so libev's pending flag tells which to read first at
 * no cost. An older slot's socket gets no new traffic once the sender has
 * moved on, so reading it to its end is bounded by its buffer
 * (TUNNEL_DRAIN_ROUNDS batches hold more than that). */
void tunnel_sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel_sock *s = container_of(w, struct tunnel_sock, io);
	struct tunnel *t = s->t;
	struct tunnel_sock *o;

	(void)revents;
	while ((o = older_pending(t, s)) != NULL) {
		ev_clear_pending(loop, &o->io);
		sock_drain(t, o, TUNNEL_DRAIN_ROUNDS);
	}
	sock_drain(t, s, TUNNEL_ROUNDS);
}
