/* Shared slot sockets: the server's session data plane in a constant
 * number of descriptors (docs/running.md, "Session interfaces"). Without
 * it each session holds one UDP socket per slot of its window (3), so
 * 15,000 sessions would need 45,000 descriptors under a hard limit of
 * 20,000 on the lab machine.
 *
 * Receive: one UDP socket with IPV6_TRANSPARENT bound to [::1]:<port>, to
 * which the guard's prerouting rule (guard_tproxy) hands UDP addressed to
 * the endpoints of its mux set; the packet keeps its destination, read
 * here as IPV6_ORIGDSTADDR and looked up in an endpoint table
 * (mt6d/core/eptab.h) kept by the tunnels at every rotation. The owner
 * (a tunnel) gets each datagram with its slot through the input callback.
 *
 * Send: one raw IPPROTO_UDP socket; the UDP header is ours (the slot's
 * source port), the source address goes in IPV6_PKTINFO (IPV6_FREEBIND: it
 * is on the claimed /64's local route, scale or routed mode, not an
 * interface), the kernel fills
 * the checksum (IPV6_CHECKSUM). No UDP GSO here: one datagram per packet.
 * The raw socket is bound to ff0e::, a reserved multicast address no
 * packet is ever sent to, so the kernel gives it no copy of incoming UDP.
 *
 * The introduction sockets are not muxed: nft's tproxy only takes what is
 * in the mux set, so everything else reaches its own socket. */
#ifndef MT6D_SLOTMUX_H
#define MT6D_SLOTMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <ev.h>

#include "mt6d/engine/guard.h"

struct slotmux;

/* A datagram of len bytes that arrived at an endpoint of owner's slot. buf
 * may be changed in place (opened); it is reused after the call. */
typedef void (*slotmux_input_fn)(void *owner, uint64_t slot, uint8_t *buf, size_t len);

struct slotmux_stats {
	uint64_t rx;                     /* datagrams received */
	uint64_t tx;                     /* datagrams sent */
	uint64_t drops_unknown;          /* to an endpoint no slot holds (any more) */
	uint64_t drops_malformed;        /* truncated, or no original destination */
	uint64_t tx_errors;              /* datagrams the kernel refused */
	uint64_t endpoints;              /* entries of the endpoint table now */
};

/* Opens both sockets and adds the guard's tproxy rule (g is borrowed and
 * must outlive the mux). Returns 0 or -errno with a message in msg. */
int slotmux_new(struct ev_loop *loop, struct guard *g, slotmux_input_fn input,
		struct slotmux **out, char *msg, size_t msg_len);

/* Closes the sockets (the rule goes with the guard's table). Accepts NULL. */
void slotmux_free(struct slotmux *m);

/* Datagrams to addr/port now belong to owner's slot; the endpoint joins
 * the guard's ep and mux sets for lifetime_ms. Returns 0 or -ENOMEM. */
int slotmux_add(struct slotmux *m, const struct in6_addr *addr, uint16_t port, void *owner,
		uint64_t slot, uint32_t lifetime_ms);

/* Forgets addr/port if owner holds it. */
void slotmux_del(struct slotmux *m, const struct in6_addr *addr, uint16_t port,
		 const void *owner);

/* Sends iov[0..n) as n UDP datagrams from src/sport to dst (its port is
 * the destination port), in one sendmmsg where it can; failed[i] tells
 * which did not go. Returns the number sent. */
size_t slotmux_send(struct slotmux *m, const struct in6_addr *src, uint16_t sport,
		    const struct sockaddr_in6 *dst, const struct iovec *iov, size_t n,
		    bool *failed);

void slotmux_get_stats(const struct slotmux *m, struct slotmux_stats *out);

/* The port of the transparent socket (on ::1), for status output. */
uint16_t slotmux_port(const struct slotmux *m);

#endif
