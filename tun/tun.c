/* TUN devices through /dev/net/tun ioctls (Documentation/networking/tuntap.rst). */
#include "tun/tun.h"

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
};

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

int tun_set_mtu(const char *name, unsigned mtu)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (!name || strlen(name) >= IFNAMSIZ || mtu == 0 || mtu > 65535)
		return -EINVAL;
	fd = tun_ioctl_sock();
	if (fd < 0)
		return fd;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
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
		return -EOPNOTSUPP;
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
	tun->ifindex = if_nametoindex(tun->name);
	if (tun->ifindex == 0) {
		rc = -errno;
		goto fail;
	}
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
