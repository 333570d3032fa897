#include "mt6d/engine/inner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "mt6d/core/intro.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78 /* linux/in6.h; glibc's netinet/in.h lacks it */
#endif

int inner_socket_open(void)
{
	int one = 1, fd;

	fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, INTRO_NEXT_HEADER);
	if (fd < 0)
		return -errno;
	/* FREEBIND: a server with a shared session interface sends from
	 * tunnel addresses that a local route makes ours, not an address. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

int inner_send(int fd, const struct in6_addr *src, const struct in6_addr *dst,
	       const void *payload, size_t len)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_addr = *dst };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)payload, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm;
	struct in6_pktinfo pi;

	memset(&control, 0, sizeof(control));
	memset(&pi, 0, sizeof(pi));
	pi.ipi6_addr = *src;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	if (sendmsg(fd, &mh, MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

ssize_t inner_recv(int fd, void *buf, size_t len, struct in6_addr *src_out,
		   struct in6_addr *dst_out, unsigned *ifindex_out)
{
	struct sockaddr_in6 from;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	*src_out = from.sin6_addr;
	memset(dst_out, 0, sizeof(*dst_out));
	*ifindex_out = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			*dst_out = pi.ipi6_addr;
			*ifindex_out = (unsigned)pi.ipi6_ifindex;
		}
	}
	return n;
}

/* One SIOCGIF* request about an interface by name. */
static int link_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int fd, rc = 0;

	memset(ifr, 0, sizeof(*ifr));
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	if (ioctl(fd, req, ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int inner_link_mtu(const char *ifname, unsigned *mtu_out)
{
	struct ifreq ifr;
	int rc = link_ioctl(ifname, SIOCGIFMTU, &ifr);

	if (rc == 0)
		*mtu_out = (unsigned)ifr.ifr_mtu;
	return rc;
}

int inner_link_flags(const char *ifname, unsigned *flags_out)
{
	struct ifreq ifr;
	int rc = link_ioctl(ifname, SIOCGIFFLAGS, &ifr);

	if (rc == 0)
		*flags_out = (unsigned)(unsigned short)ifr.ifr_flags;
	return rc;
}
