/* Scale mode's neighbour-discovery responder: answers neighbour solicitations
 * for a set of IPv6 addresses that are not bound on the interface.
 *
 * In scale mode (docs/PERFORMANCE.md) the host's /64 is claimed with one
 * local route (nllink_add_local_prefix) and sockets bind their MT6D address
 * with IPV6_FREEBIND, so a rotation changes no kernel state at all. The
 * kernel then answers no neighbour solicitation for those addresses (it
 * answers only for addresses bound on the link, or proxy entries, each of
 * which joins a solicited-node multicast group, the quadratic cost this mode
 * avoids). This responder answers instead, and only for the addresses in its
 * set (the current slots' addresses), so a scan of the /64 finds nothing
 * outside its slot.
 *
 * It reads solicitations from a packet socket on one interface (a classic BPF
 * filter passes only ICMPv6 type 135; the link is put in all-multicast mode
 * so solicited-node multicast reaches it on real NICs too) and sends
 * neighbour advertisements with the interface's MAC address as target
 * link-layer address. Invalid solicitations (RFC 4861 7.1.1: hop limit not
 * 255, bad checksum, code not 0, truncated, multicast target) are counted
 * and dropped, never answered. Nothing here blocks or logs. */
#ifndef MT6D_NDRESP_H
#define MT6D_NDRESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Largest set of answered addresses: three live slots for 15,000 sessions
 * fit many times over; a bound all the same (docs/ARCHITECTURE.md, "Conventions"). */
#define NDRESP_MAX_ADDRS (1u << 20)

/* Length of an advertisement, IPv6 header included: 40 + 24 + 8 (option). */
#define NDRESP_NA_LEN 72

struct ndresp_stats {
	uint64_t answered;   /* advertisements sent */
	uint64_t not_ours;   /* valid solicitations for addresses not in the set */
	uint64_t malformed;  /* invalid solicitations dropped (RFC 4861 7.1.1) */
	uint64_t send_failed;/* advertisements the kernel refused to send */
	uint64_t socket_drops;/* solicitations lost in a full socket (PACKET_STATISTICS),
				 counted by ndresp_process */
};

struct ndresp;

/* Opens the responder on ifindex (needs CAP_NET_RAW). Returns 0 and sets
 * *r_out, or -errno (-ENODEV: no such interface, -EPERM). */
int ndresp_new(unsigned ifindex, struct ndresp **r_out);

/* Closes the socket (ends all-multicast mode) and frees the set. Accepts
 * NULL. */
void ndresp_free(struct ndresp *r);

/* The fd to watch for reading; call ndresp_process when readable. */
int ndresp_fd(const struct ndresp *r);

/* Start or stop answering for addr. Add returns 0 (also if already present),
 * -EINVAL for a multicast or unspecified address, -ENOSPC beyond
 * NDRESP_MAX_ADDRS, -ENOMEM; del returns 0 or -ENOENT. */
int ndresp_add(struct ndresp *r, const struct in6_addr *addr);
int ndresp_del(struct ndresp *r, const struct in6_addr *addr);

bool ndresp_has(const struct ndresp *r, const struct in6_addr *addr);
size_t ndresp_count(const struct ndresp *r);

/* Reads the pending solicitations without blocking (at most a bounded number
 * per call, so the loop stays fair) and answers those for addresses in the
 * set. Returns the number of advertisements sent (0 if none) or -errno. */
int ndresp_process(struct ndresp *r);

/* The core of ndresp_process for one received IPv6 packet, without I/O:
 * checks it and counts a drop in the stats (an answer is counted once
 * ndresp_process has sent it); when it is a valid solicitation
 * for an address of the set, writes the advertisement to send into na_out
 * and its destination MAC into dst_mac_out and returns 1; returns 0
 * otherwise. src_mac is the link-layer sender. Public for the fuzzer. */
int ndresp_input(struct ndresp *r, const uint8_t *pkt, size_t len, const uint8_t src_mac[static 6],
		 uint8_t na_out[static NDRESP_NA_LEN], uint8_t dst_mac_out[static 6]);

/* Counters since ndresp_new. */
void ndresp_get_stats(const struct ndresp *r, struct ndresp_stats *stats_out);

#endif
