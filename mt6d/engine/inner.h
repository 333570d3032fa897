/* Session messages as the kernel sees them: IPv6 packets with next header
 * 253 (docs/PROTOCOL.md section 11) between tunnel addresses, sent and
 * received through one raw socket. A message sent to an address routed into
 * a tunnel's TUN is sealed by that tunnel; one that a tunnel opens and writes
 * to its TUN is delivered to this socket with the interface it came in on.
 *
 * The socket needs CAP_NET_RAW when it is opened (before privileges are
 * dropped), not afterwards. */
#ifndef MT6D_INNER_H
#define MT6D_INNER_H

#include <stddef.h>
#include <sys/types.h>
#include <netinet/in.h>

/* A non-blocking raw IPv6 socket for next header 253 that reports the
 * destination address and the interface of what it receives. Returns the
 * fd or -errno. */
int inner_socket_open(void);

/* Sends payload (len may be 0: a keepalive) from src to dst. Returns 0 or
 * -errno. */
int inner_send(int fd, const struct in6_addr *src, const struct in6_addr *dst,
	       const void *payload, size_t len);

/* Receives one payload into buf. Returns its length (the datagram is dropped
 * as -EMSGSIZE if it did not fit), -EAGAIN when nothing is pending, or
 * -errno. */
ssize_t inner_recv(int fd, void *buf, size_t len, struct in6_addr *src_out,
		   struct in6_addr *dst_out, unsigned *ifindex_out);

/* The MTU (bytes) and the IFF_* flags of an interface: the one home of
 * these look-ups for every engine. Return 0 or -errno. */
int inner_link_mtu(const char *ifname, unsigned *mtu_out);
int inner_link_flags(const char *ifname, unsigned *flags_out);

#endif
