/* The set-up path on libnl-route-3: links up/down and MTU, the tunnel
 * addresses on TUN interfaces, /128 routes into them, macvlan children (to
 * spread MT6D addresses, see docs/PERFORMANCE.md), and the global /64
 * prefixes of the physical interface. Synchronous: used at start-up, on
 * session set-up and at shutdown, never per packet or per rotation.
 *
 * Every object created here (address, route, link) is recorded; nllink_cleanup
 * deletes them in reverse order of creation. Errors are -errno as the kernel
 * gave them, with its extended-ack text (or libnl's description) in msg.
 * Nothing here logs. */
#ifndef MT6D_NLLINK_H
#define MT6D_NLLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* rtm_protocol of our routes: same value as the address tag (nladdr.h). */
#define NLLINK_PROTO_MT6D 0x6d
/* ... of the unreachable routes that outlive the daemon on purpose
 * (nllink_add_unreachable): apart, so that nllink_purge_routes and a
 * look at what a run left behind tell them from leftovers. */
#define NLLINK_PROTO_MT6D_FAILCLOSED 0x6e

struct nllink;

/* Opens a libnl route socket with extended acks. Returns 0 or -errno. */
int nllink_new(struct nllink **nl_out);

/* Closes the socket and forgets the registry (objects stay in the kernel;
 * call nllink_cleanup first to remove them). Accepts NULL. */
void nllink_free(struct nllink *nl);

/* Interface index by name: > 0, or -ENODEV. */
int nllink_ifindex(struct nllink *nl, const char *name);

/* Admin state and MTU (bytes). Return 0 or -errno. */
int nllink_set_up(struct nllink *nl, unsigned ifindex, bool is_up, char *msg, size_t msg_len);
int nllink_set_mtu(struct nllink *nl, unsigned ifindex, unsigned mtu, char *msg, size_t msg_len);

/* Adds a permanent address addr/prefix_len (nodad, noprefixroute when
 * prefix_len is 128) on ifindex, e.g. a tunnel address on a TUN; recorded.
 * Returns 0 or -errno (-EEXIST, -ENODEV, -EPERM ...). */
int nllink_add_addr(struct nllink *nl, unsigned ifindex, const struct in6_addr *addr,
		    unsigned prefix_len, char *msg, size_t msg_len);
int nllink_del_addr(struct nllink *nl, unsigned ifindex, const struct in6_addr *addr,
		    unsigned prefix_len, char *msg, size_t msg_len);

/* Adds a route dst/prefix_len into ifindex (main table, protocol
 * NLLINK_PROTO_MT6D), e.g. the peer's /128 tunnel address into its TUN;
 * recorded. Returns 0 or -errno. */
int nllink_add_route(struct nllink *nl, unsigned ifindex, const struct in6_addr *dst,
		     unsigned prefix_len, char *msg, size_t msg_len);
int nllink_del_route(struct nllink *nl, unsigned ifindex, const struct in6_addr *dst,
		     unsigned prefix_len, char *msg, size_t msg_len);

/* Adds (or takes over) an unreachable route dst/prefix_len of the given
 * metric (main table, protocol NLLINK_PROTO_MT6D_FAILCLOSED): beside a route into a
 * TUN with a lower metric, it catches what the TUN route no longer carries
 * once the TUN is gone, so that nothing follows the default route in clear.
 * Not recorded: nllink_cleanup and nllink_purge_routes leave it.
 * Returns 0 or -errno. */
int nllink_add_unreachable(struct nllink *nl, const struct in6_addr *dst, unsigned prefix_len,
			   uint32_t metric, char *msg, size_t msg_len);

/* Scale mode (docs/PERFORMANCE.md): claims every address of prefix/prefix_len
 * as local with one route of type local in the local table (`ip -6 route add
 * local P/64 dev IF table local`), so that sockets bound with IPV6_FREEBIND to
 * any of them receive, with no per-address kernel state. Neighbour discovery
 * for them is netlink/ndresp's job. Recorded. Returns 0 or -errno. */
int nllink_add_local_prefix(struct nllink *nl, unsigned ifindex, const struct in6_addr *prefix,
			    unsigned prefix_len, char *msg, size_t msg_len);
int nllink_del_local_prefix(struct nllink *nl, unsigned ifindex, const struct in6_addr *prefix,
			    unsigned prefix_len, char *msg, size_t msg_len);

/* Keeps addr, another host's address inside a claimed prefix (the gateway),
 * reachable through ifindex: a unicast /128 in the local table, which the
 * kernel consults before the main table. Recorded; removed by cleanup. */
int nllink_add_local_exception(struct nllink *nl, unsigned ifindex, const struct in6_addr *addr,
			       char *msg, size_t msg_len);

/* Creates a macvlan child `name` (mode bridge) of parent, brings it up and
 * records it; *ifindex_out gets its index. Returns 0 or -errno. */
int nllink_add_macvlan(struct nllink *nl, unsigned parent, const char *name,
		       unsigned *ifindex_out, char *msg, size_t msg_len);

/* Deletes a link (e.g. a TUN or macvlan left by a previous run). */
int nllink_del_link(struct nllink *nl, unsigned ifindex, char *msg, size_t msg_len);

/* Writes up to max distinct global /64 prefixes of ifindex (from its
 * addresses of global scope with prefix length <= 64, host bits zeroed)
 * into prefixes_out. Returns how many there are (may exceed max) or -errno. */
int nllink_get_prefixes(struct nllink *nl, unsigned ifindex,
			struct in6_addr *prefixes_out, size_t max);

/* Writes up to max distinct IPv6 gateways of routes through ifindex (any
 * table: the default router, typically) into gws_out: the hosts that a scale
 * mode claim must keep as exceptions. Returns how many there are (may exceed
 * max; duplicates beyond max may be counted twice) or -errno. */
int nllink_get_gateways(struct nllink *nl, unsigned ifindex, struct in6_addr *gws_out, size_t max);

/* Deletes every IPv6 route tagged NLLINK_PROTO_MT6D, in any table, whoever
 * added it (leftovers of a previous run killed with SIGKILL, such as a scale
 * mode claim), and no other route. Returns the number removed or -errno. */
int nllink_purge_routes(struct nllink *nl, char *msg, size_t msg_len);

/* Deletes what was recorded, newest first (routes and addresses before the
 * links they live on). Objects already gone are not an error. Returns the
 * number deleted or the first other -errno. */
int nllink_cleanup(struct nllink *nl, char *msg, size_t msg_len);

/* Forgets every recorded object on ifindex without deleting anything: for
 * a link removed by its owner (a TUN closed with tun_free takes its
 * addresses and routes with it), so that the registry does not grow with
 * every session made and ended. Returns how many were forgotten. NULL: 0. */
size_t nllink_forget_ifindex(struct nllink *nl, unsigned ifindex);

/* Objects recorded and not yet deleted. */
size_t nllink_registry_count(const struct nllink *nl);

/* Entries allocated, those of deleted objects included until the array is
 * compacted (when full and at least half dead): at most about twice the
 * peak of live objects. */
size_t nllink_registry_capacity(const struct nllink *nl);

#endif
