#include "mt6d/engine/slotmux.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sodium.h>

#include "mt6d/core/eptab.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/sockbuf.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78           /* linux/in6.h; glibc's netinet/in.h lacks it */
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IPV6_RECVORIGDSTADDR
#define IPV6_RECVORIGDSTADDR 74
#define IPV6_ORIGDSTADDR IPV6_RECVORIGDSTADDR
#endif

#define SLOTMUX_RX_MSGS 32         /* datagrams per recvmmsg */
#define SLOTMUX_RX_BUF_LEN 65536   /* the largest datagram */
#define SLOTMUX_TX_MSGS 64         /* datagrams per sendmmsg (TUNNEL_BATCH) */
#define SLOTMUX_ROUNDS 8           /* batches per event, then back to the loop */
#define SLOTMUX_SOCK_BUF (8 * 1024 * 1024)
#define SLOTMUX_TABLE_HINT 1024
#define UDP_HEADER_LEN 8
#define UDP_CHECKSUM_OFFSET 6

union slotmux_rx_cmsg {
	char buf[CMSG_SPACE(sizeof(struct sockaddr_in6))];
	struct cmsghdr align;
};

union slotmux_tx_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

struct slotmux {
	struct ev_loop *loop;
	struct guard *guard;             /* borrowed */
	slotmux_input_fn input;
	int rx_fd, tx_fd;
	ev_io rx_io;
	uint16_t port;
	struct eptab table;
	struct slotmux_stats stats;
	uint8_t *rx_bufs;                /* SLOTMUX_RX_MSGS of SLOTMUX_RX_BUF_LEN */
	struct mmsghdr rx_msgs[SLOTMUX_RX_MSGS];
	struct iovec rx_iov[SLOTMUX_RX_MSGS];
	union slotmux_rx_cmsg rx_cmsg[SLOTMUX_RX_MSGS];
	struct mmsghdr tx_msgs[SLOTMUX_TX_MSGS];
	struct iovec tx_iov[SLOTMUX_TX_MSGS][2];
	uint8_t tx_udp[SLOTMUX_TX_MSGS][UDP_HEADER_LEN];
	union slotmux_tx_cmsg tx_cmsg;
};

/* The original destination of a tproxied datagram, or false. */
static bool orig_dst(const struct msghdr *h, struct sockaddr_in6 *out)
{
	const struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)(uintptr_t)h,
						       (struct cmsghdr *)(uintptr_t)c)) {
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR &&
		    c->cmsg_len >= CMSG_LEN(sizeof(*out))) {
			memcpy(out, CMSG_DATA(c), sizeof(*out));
			return true;
		}
	}
	return false;
}

static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct slotmux *m = container_of(w, struct slotmux, rx_io);
	unsigned round;

	(void)loop;
	(void)revents;
	for (round = 0; round < SLOTMUX_ROUNDS; round++) {
		size_t i;
		int n;

		for (i = 0; i < SLOTMUX_RX_MSGS; i++) {
			struct msghdr *h = &m->rx_msgs[i].msg_hdr;

			m->rx_iov[i].iov_base = m->rx_bufs + i * SLOTMUX_RX_BUF_LEN;
			m->rx_iov[i].iov_len = SLOTMUX_RX_BUF_LEN;
			memset(h, 0, sizeof(*h));
			h->msg_iov = &m->rx_iov[i];
			h->msg_iovlen = 1;
			h->msg_control = m->rx_cmsg[i].buf;
			h->msg_controllen = sizeof(m->rx_cmsg[i].buf);
		}
		n = recvmmsg(m->rx_fd, m->rx_msgs, SLOTMUX_RX_MSGS, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			const struct msghdr *h = &m->rx_msgs[i].msg_hdr;
			const struct eptab_entry *e;
			struct sockaddr_in6 dst;

			m->stats.rx++;
			if ((h->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !orig_dst(h, &dst)) {
				m->stats.drops_malformed++;
				continue;
			}
			e = eptab_lookup(&m->table, &dst.sin6_addr, ntohs(dst.sin6_port));
			if (!e) {
				m->stats.drops_unknown++;
				continue;
			}
			m->input(e->owner, e->slot, m->rx_iov[i].iov_base, m->rx_msgs[i].msg_len);
		}
		if (n < SLOTMUX_RX_MSGS)
			break;
	}
}

static int open_rx(struct slotmux *m, char *msg, size_t msg_len)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t sa_len = sizeof(sa);
	int one = 1, rc;

	m->rx_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->rx_fd < 0)
		goto fail;
	if (setsockopt(m->rx_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
	    setsockopt(m->rx_fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(m->rx_fd, IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one)) < 0 ||
	    bind(m->rx_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(m->rx_fd, (struct sockaddr *)&sa, &sa_len) < 0)
		goto fail;
	(void)sockbuf_set(m->rx_fd, true, SLOTMUX_SOCK_BUF);
	m->port = ntohs(sa.sin6_port);
	return 0;
fail:
	rc = -errno;
	set_msg(msg, msg_len, "the transparent UDP socket on [::1]: %s", strerror(-rc));
	return rc;
}

static int open_tx(struct slotmux *m, char *msg, size_t msg_len)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int one = 1, csum = UDP_CHECKSUM_OFFSET, rc;

	/* ff0e:: (global scope, group 0: reserved, never assigned). */
	sa.sin6_addr.s6_addr[0] = 0xff;
	sa.sin6_addr.s6_addr[1] = 0x0e;
	m->tx_fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (m->tx_fd < 0)
		goto fail;
	if (setsockopt(m->tx_fd, IPPROTO_IPV6, IPV6_CHECKSUM, &csum, sizeof(csum)) < 0 ||
	    setsockopt(m->tx_fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0 ||
	    bind(m->tx_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	(void)sockbuf_set(m->tx_fd, false, SLOTMUX_SOCK_BUF);
	/* Nothing to read: the smallest queue, should anything match. */
	one = 0;
	(void)setsockopt(m->tx_fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	return 0;
fail:
	rc = -errno;
	set_msg(msg, msg_len, "the raw UDP socket for sending: %s", strerror(-rc));
	return rc;
}

int slotmux_new(struct ev_loop *loop, struct guard *g, slotmux_input_fn input,
		struct slotmux **out, char *msg, size_t msg_len)
{
	uint8_t key[EPTAB_KEY_LEN];
	struct slotmux *m;
	char why[256] = "";
	int rc;

	if (!g || !input)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->guard = g;
	m->input = input;
	m->rx_fd = m->tx_fd = -1;
	randombytes_buf(key, sizeof(key));
	rc = eptab_init(&m->table, SLOTMUX_TABLE_HINT, key);
	sodium_memzero(key, sizeof(key));
	m->rx_bufs = malloc((size_t)SLOTMUX_RX_MSGS * SLOTMUX_RX_BUF_LEN);
	if (rc < 0 || !m->rx_bufs) {
		rc = -ENOMEM;
		set_msg(msg, msg_len, "shared slot sockets: out of memory");
		goto fail;
	}
	rc = open_rx(m, msg, msg_len);
	if (rc == 0)
		rc = open_tx(m, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = guard_tproxy(g, m->port, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "the tproxy rule to [::1]:%u: %s", m->port, why);
		goto fail;
	}
	ev_io_init(&m->rx_io, rx_cb, m->rx_fd, EV_READ);
	ev_io_start(loop, &m->rx_io);
	*out = m;
	return 0;
fail:
	slotmux_free(m);
	return rc;
}

void slotmux_free(struct slotmux *m)
{
	if (!m)
		return;
	if (m->rx_fd >= 0) {
		ev_io_stop(m->loop, &m->rx_io);
		close(m->rx_fd);
	}
	if (m->tx_fd >= 0)
		close(m->tx_fd);
	if (m->rx_bufs) {
		sodium_memzero(m->rx_bufs, (size_t)SLOTMUX_RX_MSGS * SLOTMUX_RX_BUF_LEN);
		free(m->rx_bufs);
	}
	eptab_fini(&m->table);
	free(m);
}

int slotmux_add(struct slotmux *m, const struct in6_addr *addr, uint16_t port, void *owner,
		uint64_t slot, uint32_t lifetime_ms)
{
	int rc = eptab_add(&m->table, addr, port, owner, slot);

	if (rc == 0)
		guard_add_mux_endpoint(m->guard, addr, port, lifetime_ms);
	return rc;
}

void slotmux_del(struct slotmux *m, const struct in6_addr *addr, uint16_t port,
		 const void *owner)
{
	eptab_remove(&m->table, addr, port, owner);
}

size_t slotmux_send(struct slotmux *m, const struct in6_addr *src, uint16_t sport,
		    const struct sockaddr_in6 *dst, const struct iovec *iov, size_t n,
		    bool *failed)
{
	struct sockaddr_in6 to = *dst;
	struct in6_pktinfo pi = { .ipi6_addr = *src };
	struct cmsghdr *c;
	size_t i, sent = 0, done = 0;

	/* A raw socket reads the port field as the protocol: 0, ours. */
	to.sin6_port = 0;
	memset(&m->tx_cmsg, 0, sizeof(m->tx_cmsg));
	c = (struct cmsghdr *)m->tx_cmsg.buf;
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	if (n > SLOTMUX_TX_MSGS) {
		for (i = SLOTMUX_TX_MSGS; i < n; i++)
			failed[i] = true;
		m->stats.tx_errors += n - SLOTMUX_TX_MSGS;
		n = SLOTMUX_TX_MSGS;
	}
	for (i = 0; i < n; i++) {
		struct msghdr *h = &m->tx_msgs[i].msg_hdr;
		uint8_t *u = m->tx_udp[i];
		size_t len = UDP_HEADER_LEN + iov[i].iov_len;

		failed[i] = false;
		u[0] = (uint8_t)(sport >> 8);
		u[1] = (uint8_t)sport;
		u[2] = (uint8_t)(ntohs(dst->sin6_port) >> 8);
		u[3] = (uint8_t)ntohs(dst->sin6_port);
		u[4] = (uint8_t)(len >> 8);
		u[5] = (uint8_t)len;
		u[6] = u[7] = 0;             /* the kernel's (IPV6_CHECKSUM) */
		m->tx_iov[i][0].iov_base = u;
		m->tx_iov[i][0].iov_len = UDP_HEADER_LEN;
		m->tx_iov[i][1] = iov[i];
		memset(h, 0, sizeof(*h));
		h->msg_name = &to;
		h->msg_namelen = sizeof(to);
		h->msg_iov = m->tx_iov[i];
		h->msg_iovlen = 2;
		h->msg_control = m->tx_cmsg.buf;
		h->msg_controllen = sizeof(m->tx_cmsg.buf);
	}
	while (done < n) {
		int r = sendmmsg(m->tx_fd, m->tx_msgs + done, (unsigned)(n - done), MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* This one cannot go (full buffer, no route): the rest may. */
			failed[done++] = true;
			m->stats.tx_errors++;
			continue;
		}
		done += (size_t)r;
		sent += (size_t)r;
	}
	m->stats.tx += sent;
	return sent;
}

void slotmux_get_stats(const struct slotmux *m, struct slotmux_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!m)
		return;
	*out = m->stats;
	out->endpoints = eptab_count(&m->table);
}

uint16_t slotmux_port(const struct slotmux *m)
{
	return m ? m->port : 0;
}
