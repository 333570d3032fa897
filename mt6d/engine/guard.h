/* The kernel's side of two promises (docs/running.md, "Silent to probes and
 * fail closed"): addresses of ours answer nothing but authentic tunnel
 * packets, and nothing addressed to a tunnel address leaves in clear.
 *
 * One nftables table per daemon (rules: mt6d/core/guardrules.h), through
 * libnftables: created at start (replacing one left by a crash), deleted by
 * guard_free. Endpoints of new slots are queued and committed in one batch
 * before the loop next sleeps (an ev_prepare watcher), so a rotation costs
 * one libnftables call per boundary for all the tunnels of the daemon, and
 * no delete at all (set elements expire).
 *
 * Fail closed: every remote tunnel address or prefix given to guard_protect
 * also gets an unreachable route of metric GUARD_ROUTE_METRIC (above the
 * routes into TUNs), so that whenever no TUN carries it (between sessions,
 * while one is replaced, after revocation, after a crash) packets to it are
 * refused on the host instead of following the default route. Those routes
 * stay after the daemon stops, even cleanly: the next start takes them over
 * (they are tagged proto 0x6e; `ip -6 route flush proto 0x6e` removes them). */
#ifndef MT6D_GUARD_H
#define MT6D_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <ev.h>

#include "netlink/nladdr.h"
#include "netlink/nllink.h"

#define GUARD_ROUTE_METRIC 2147483647u /* far above the TUN routes' 1024 */
#define GUARD_MAX_PROTECTED 64         /* tunnel addresses and prefixes per daemon */
#define GUARD_MAX_QUEUE 65536          /* endpoints waiting for one commit */

struct guard;

struct guard_stats {
	uint64_t commits;                /* libnftables transactions */
	uint64_t endpoints;              /* slot endpoints added to the sets */
	uint64_t errors;                 /* transactions the kernel refused */
	uint64_t dropped;                /* endpoints lost to a full queue */
	uint64_t commit_us_total;        /* time spent in libnftables, us */
	uint64_t commit_us_max;          /* longest transaction, us */
};

/* Creates (or takes over) table inet mt6d-<role>-<ifname>. nllink is borrowed
 * and must outlive the guard. Returns 0 or -errno with the reason in msg
 * (libnftables' text). */
int guard_new(struct ev_loop *loop, struct nllink *nllink, const char *role, const char *ifname,
	      struct guard **g_out, char *msg, size_t msg_len);

/* Deletes the table (not the unreachable routes, see above). Accepts NULL. */
void guard_free(struct guard *g);

/* addr/prefix_len is a tunnel or seed address (or the tunnel prefix): it
 * lives on TUNs and is reached only through them. is_remote: the other end's
 * (or every client's), which also gets its unreachable route. Idempotent;
 * an address inside one already protected costs nothing. g NULL: 0.
 * Returns 0 or -errno (-ENOSPC beyond GUARD_MAX_PROTECTED) with msg. */
int guard_protect(struct guard *g, const struct in6_addr *addr, unsigned prefix_len,
		  bool is_remote, char *msg, size_t msg_len);

/* Drops one use of addr/prefix_len made by guard_protect. When none is
 * left, a local address (not is_remote) leaves the table: the seeds of
 * past introductions do not pile up. Remote ones and their routes stay.
 * An address guard_protect found covered by a broader one: nothing. */
void guard_release(struct guard *g, const struct in6_addr *addr, unsigned prefix_len);

/* Scale mode: every address of prefix/prefix_len is local (one route claims
 * it) and is treated as an MT6D address, except the addresses bound on
 * ifindex now (the host's own; listed through nladdr, ours excepted).
 * Returns 0 or -errno with msg. */
int guard_claim(struct guard *g, struct nladdr *nladdr, unsigned ifindex,
		const struct in6_addr *prefix, unsigned prefix_len, char *msg, size_t msg_len);

/* An MT6D address and the UDP port a tunnel serves on it for a slot, until
 * lifetime_ms from now. Queued; committed before the loop sleeps. g NULL:
 * nothing. */
void guard_add_endpoint(struct guard *g, const struct in6_addr *addr, uint16_t port,
			uint32_t lifetime_ms);

/* The same, for an endpoint served by the shared slot sockets: also in
 * the mux set that guard_tproxy's rule hands to their transparent socket. */
void guard_add_mux_endpoint(struct guard *g, const struct in6_addr *addr, uint16_t port,
			    uint32_t lifetime_ms);

/* Adds the prerouting chain that sends UDP to the mux set's endpoints to
 * the transparent socket on [::1]:port (mt6d/engine/slotmux.h). It goes
 * with the table. Returns 0 or -errno with msg (-EINVAL: g NULL). */
int guard_tproxy(struct guard *g, uint16_t port, char *msg, size_t msg_len);

/* Commits what is queued now. Returns 0 or -errno. */
int guard_flush(struct guard *g);

void guard_get_stats(const struct guard *g, struct guard_stats *stats_out);

/* The table's name, for status output. */
const char *guard_table(const struct guard *g);

/* Writes the table name and counters as "guard_*=value" lines (the
 * control socket's show). */
void guard_format_stats(const struct guard *g, char *buf, size_t buf_len);

#endif
