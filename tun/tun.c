/* TUN devices through /dev/net/tun ioctls (Documentation/networking/tuntap.rst). */
#include "tun/tun.h"
#include "tun/vnet.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

struct tun {
	char name[TUN_NAME_LEN];   /* kernel's name of the device */
	unsigned ifindex;
	unsigned nfds;             /* queues opened */
	int fds[TUN_MAX_QUEUES];   /* non-blocking, close-on-exec */
	unsigned flags;            /* TUN_HAS_VNET_HDR */
	unsigned offloads;         /* TUN_OFFLOAD_* granted */
};

/* linux/if_tun.h of older userspace headers lacks them (Linux 6.2). */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

static unsigned long tun_kernel_offloads(unsigned offloads)
{
	unsigned long f = 0;

	if (offloads & TUN_OFFLOAD_CSUM)
		f |= TUN_F_CSUM;
	if (offloads & TUN_OFFLOAD_TSO6)
		f |= TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (offloads & TUN_OFFLOAD_USO)
		f |= TUN_F_USO4 | TUN_F_USO6;
	return f;
}

/* Asks for the offloads wanted, dropping the newest first when the kernel
 * refuses (USO, then TSO, then checksums): what it granted. Segmentation
 * needs checksum offload, so a set without CSUM is never asked for. */
static unsigned tun_set_offloads(int fd, unsigned want)
{
	static const unsigned drop[] = { TUN_OFFLOAD_USO, TUN_OFFLOAD_TSO6, TUN_OFFLOAD_CSUM };
	size_t i = 0;

	if (!(want & TUN_OFFLOAD_CSUM))
		want = 0;
	for (;;) {
		if (ioctl(fd, TUNSETOFFLOAD, tun_kernel_offloads(want)) == 0)
			return want;
		if (i == sizeof(drop) / sizeof(drop[0]))
			break;
		want &= ~drop[i++];
		if (!(want & TUN_OFFLOAD_CSUM))
			want = 0;
	}
	return 0;
}

static int tun_open_queue(const char *name, short flags, char name_out[TUN_NAME_LEN])
{
	struct ifreq ifr;
	int fd, rc;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	if (name)
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (name_out)
		snprintf(name_out, TUN_NAME_LEN, "%s", ifr.ifr_name);
	return fd;
}

static int tun_ioctl_sock(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* A kernel without IPv6 still lets AF_INET sockets carry link ioctls. */
	if (fd < 0)
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* The device's index, or a negative errno: if_nametoindex(3) reports a
 * failure to open its own socket (EMFILE under a descriptor limit) as
 * ENOENT or not at all, and an operator must read the real reason. */
static int tun_index_of(const char *name)
{
	struct ifreq ifr;
	int fd, rc;

	fd = tun_ioctl_sock();
	if (fd < 0)
		return fd;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	rc = ioctl(fd, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
	close(fd);
	return rc;
}

/* One integer link setting (SIOCSIFMTU, SIOCSIFTXQLEN) of the device name. */
static int tun_set_link_int(const char *name, unsigned long req, unsigned value)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (!name || strlen(name) >= IFNAMSIZ || value == 0 || value > 65535)
		return -EINVAL;
	fd = tun_ioctl_sock();
	if (fd < 0)
		return fd;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (req == SIOCSIFMTU)
		ifr.ifr_mtu = (int)value;
	else
		ifr.ifr_qlen = (int)value;
	if (ioctl(fd, req, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int tun_set_mtu(const char *name, unsigned mtu)
{
	return tun_set_link_int(name, SIOCSIFMTU, mtu);
}

int tun_set_txqlen(const char *name, unsigned len)
{
	return tun_set_link_int(name, SIOCSIFTXQLEN, len);
}

int tun_set_up(const char *name, bool is_up)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (!name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	fd = tun_ioctl_sock();
	if (fd < 0)
		return fd;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		rc = -errno;
		goto cleanup;
	}
	if (is_up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
cleanup:
	close(fd);
	return rc;
}

int tun_new(const struct tun_config *cfg, struct tun **tun_out)
{
	struct tun *tun;
	short flags = IFF_TUN | IFF_NO_PI;
	unsigned want = 1, i;
	int rc;

	if (!cfg || !tun_out)
		return -EINVAL;
	if (cfg->flags & ~(TUN_IS_MULTI_QUEUE | TUN_HAS_VNET_HDR))
		return -EINVAL;
	if (cfg->flags & TUN_HAS_VNET_HDR)
		flags |= IFF_VNET_HDR;
	else if (cfg->offloads)
		return -EINVAL;
	if (cfg->name && (cfg->name[0] == '\0' || strlen(cfg->name) >= IFNAMSIZ))
		return -EINVAL;
	if (cfg->flags & TUN_IS_MULTI_QUEUE) {
		flags |= IFF_MULTI_QUEUE;
		want = cfg->queues ? cfg->queues : 1;
		if (want > TUN_MAX_QUEUES)
			return -EINVAL;
	} else if (cfg->queues > 1) {
		return -EINVAL;
	}

	tun = calloc(1, sizeof(*tun));
	if (!tun)
		return -ENOMEM;
	for (i = 0; i < TUN_MAX_QUEUES; i++)
		tun->fds[i] = -1;

	rc = tun_open_queue(cfg->name ? cfg->name : "tun%d", flags, tun->name);
	if (rc < 0)
		goto fail;
	tun->fds[0] = rc;
	tun->nfds = 1;
	/* Further queues attach by the name the kernel chose for the first. */
	for (i = 1; i < want; i++) {
		rc = tun_open_queue(tun->name, flags, NULL);
		if (rc < 0)
			goto fail;
		tun->fds[i] = rc;
		tun->nfds++;
	}
	tun->flags = cfg->flags & TUN_HAS_VNET_HDR;
	/* A device feature: asked once, through any queue. */
	if (tun->flags)
		tun->offloads = tun_set_offloads(tun->fds[0], cfg->offloads);
	rc = tun_index_of(tun->name);
	if (rc < 0)
		goto fail;
	tun->ifindex = (unsigned)rc;
	if (cfg->mtu) {
		rc = tun_set_mtu(tun->name, cfg->mtu);
		if (rc < 0)
			goto fail;
	}
	if (cfg->is_up) {
		rc = tun_set_up(tun->name, true);
		if (rc < 0)
			goto fail;
	}
	*tun_out = tun;
	return 0;
fail:
	tun_free(tun);
	return rc;
}

void tun_free(struct tun *tun)
{
	unsigned i;

	if (!tun)
		return;
	for (i = 0; i < tun->nfds; i++)
		if (tun->fds[i] >= 0)
			close(tun->fds[i]);
	free(tun);
}

const char *tun_name(const struct tun *tun)
{
	return tun->name;
}

unsigned tun_ifindex(const struct tun *tun)
{
	return tun->ifindex;
}

unsigned tun_queue_count(const struct tun *tun)
{
	return tun->nfds;
}

unsigned tun_flags(const struct tun *tun)
{
	return tun->flags;
}

unsigned tun_offloads(const struct tun *tun)
{
	return tun->offloads;
}

int tun_fd(const struct tun *tun, unsigned q)
{
	if (!tun || q >= tun->nfds)
		return -EINVAL;
	return tun->fds[q];
}

int tun_read(struct tun *tun, unsigned q, struct tun_pkt *pkts, size_t n,
	     size_t offset, unsigned *dropped_out)
{
	size_t got = 0;
	unsigned dropped = 0;
	int rc = 0;

	if (!tun || q >= tun->nfds || (n && !pkts))
		return -EINVAL;
	/* Bounded by n and by the attempts: a device flooding truncated packets
	 * cannot keep us here forever. */
	for (size_t tries = 0; got < n && tries < 2 * n; tries++) {
		struct tun_pkt *p = &pkts[got];
		ssize_t r;

		if (!p->buf || p->cap <= offset) {
			rc = -EINVAL;
			break;
		}
		r = read(tun->fds[q], p->buf + offset, p->cap - offset);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		/* read() returns the truncated length; a packet exactly filling
		 * the room may have been cut, so one byte of room is kept. */
		if ((size_t)r >= p->cap - offset) {
			dropped++;
			continue;
		}
		p->len = (size_t)r;
		got++;
	}
	if (dropped_out)
		*dropped_out = dropped;
	if (got > 0)
		return (int)got;
	return rc ? rc : -EAGAIN;
}

int tun_write(struct tun *tun, unsigned q, const struct tun_pkt *pkts,
	      size_t n, size_t offset)
{
	size_t done = 0;

	if (!tun || q >= tun->nfds || (n && !pkts))
		return -EINVAL;
	while (done < n) {
		const struct tun_pkt *p = &pkts[done];
		ssize_t r;

		if (!p->buf || offset > p->cap || p->len > p->cap - offset)
			return done ? (int)done : -EINVAL;
		r = write(tun->fds[q], p->buf + offset, p->len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return done ? (int)done : -errno;
		}
		done++;
	}
	return (int)done;
}

int tun_writev(struct tun *tun, unsigned q, const struct iovec *iov, int iovcnt)
{
	if (!tun || q >= tun->nfds || !iov || iovcnt <= 0)
		return -EINVAL;
	for (;;) {
		if (writev(tun->fds[q], iov, iovcnt) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int tun_read_split(struct tun *tun, unsigned q, uint8_t *buf, size_t buf_len,
		   struct tun_pkt *pkts, size_t n, size_t offset, size_t max_len,
		   size_t max_reads, tun_flush_fn *flush, void *ctx, struct tun_split_stats *st)
{
	size_t reads = 0, k = 0, tries;
	int rc = 0;

	if (!tun || q >= tun->nfds || !(tun->flags & TUN_HAS_VNET_HDR) || !n || !pkts ||
	    buf_len <= VNET_HDR_LEN)
		return -EINVAL;
	for (tries = 0; reads < max_reads && tries < 2 * max_reads; tries++) {
		struct vnet_hdr h;
		size_t pos = 0, nseg;
		ssize_t r = read(tun->fds[q], buf, buf_len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		reads++;
		st->reads++;
		/* A read that filled buf may have been cut (see tun_read). */
		if ((size_t)r >= buf_len || vnet_hdr_parse(buf, (size_t)r, &h) < 0) {
			st->dropped++;
			continue;
		}
		nseg = vnet_split_count(&h, buf + VNET_HDR_LEN, (size_t)r - VNET_HDR_LEN);
		if (nseg > 1)
			st->supers++;
		/* A super-packet that fits in one flush is not cut across two:
		 * the caller's sends (and the peer's coalescing) keep it whole. */
		if (k > 0 && nseg <= n && k + nseg > n) {
			flush(ctx, pkts, k);
			k = 0;
		}
		while (nseg > 0 && pos < nseg) {
			int w;

			if (k == n) {
				flush(ctx, pkts, k);
				k = 0;
			}
			w = vnet_split(&h, buf + VNET_HDR_LEN, (size_t)r - VNET_HDR_LEN, max_len, &pos,
				       pkts + k, n - k, offset);
			if (w <= 0)
				break;
			k += (size_t)w;
			st->segments += (uint64_t)w;
		}
		if (nseg == 0 || pos < nseg)
			st->dropped++;
	}
	if (k > 0)
		flush(ctx, pkts, k);
	if (reads > 0)
		return (int)reads;
	return rc ? rc : -EAGAIN;
}

void tun_write_gro(struct tun *tun, unsigned q, struct tun_pkt *pkts, size_t n, size_t offset,
		   bool *ok, struct tun_gro_stats *st)
{
	/* The kernel takes at most UIO_MAXIOV (1024) pieces per write. */
	struct iovec iov[1 + 64];
	uint8_t hb[VNET_HDR_LEN];
	size_t i = 0, j;

	iov[0].iov_base = hb;
	iov[0].iov_len = sizeof(hb);

	while (i < n) {
		uint8_t *p = pkts[i].buf + offset;
		struct vnet_gro g;
		struct vnet_hdr h;
		int iovcnt = 2, rc;

		j = i + 1;
		iov[1].iov_base = p;
		iov[1].iov_len = pkts[i].len;
		if (vnet_gro_start(&g, p, pkts[i].len)) {
			while (j < n && iovcnt < (int)(sizeof(iov) / sizeof(iov[0])) &&
			       vnet_gro_append(&g, pkts[j].buf + offset, pkts[j].len)) {
				iov[iovcnt].iov_base = pkts[j].buf + offset + g.hlen;
				iov[iovcnt].iov_len = pkts[j].len - g.hlen;
				iovcnt++;
				j++;
			}
			vnet_gro_finish(&g, pkts[j - 1].buf + offset, &h);
		} else {
			memset(&h, 0, sizeof(h));
		}
		vnet_hdr_write(hb, &h);
		rc = tun_writev(tun, q, iov, iovcnt);
		st->writes++;
		if (j - i > 1)
			st->coalesced++;
		for (; i < j; i++)
			ok[i] = rc == 0;
	}
}

int tun_destroy(const char *name)
{
	int fd, rc = 0;

	if (!name || name[0] == '\0' || strlen(name) >= IFNAMSIZ || strchr(name, '%'))
		return -EINVAL;
	/* TUNSETIFF would create a missing device: check that it exists first. */
	if (if_nametoindex(name) == 0)
		return -ENODEV;
	fd = tun_open_queue(name, IFF_TUN | IFF_NO_PI, NULL);
	if (fd == -EINVAL) /* a TUN opened with other flags, e.g. multi-queue */
		fd = tun_open_queue(name, IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, NULL);
	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETPERSIST, 0) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
