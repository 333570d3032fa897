/* The text of the nftables table that keeps a daemon silent to probes and
 * its tunnels closed (docs/running.md, "Silent to probes and fail closed"):
 * pure string building, so the rules are unit-tested without root;
 * mt6d/engine/guard.c hands the text to libnftables.
 *
 * The table, `table inet mt6d-<role>-<interface>`, holds five sets:
 *   tun6   tunnel and seed addresses (and the server's tunnel prefix): they
 *          live on TUNs and are reached only through a TUN or loopback, in
 *          and out, whatever Linux's weak-host model would deliver;
 *   mt6d   the MT6D addresses of the live slots (element timeouts: no
 *          deletes at rotation);
 *   ep     (address . UDP port) pairs the tunnels serve, same timeouts;
 *   claim  scale mode: the /64 the server claims as local, every address of
 *          which is an MT6D address unless in
 *   host   the addresses bound on the link at start (the host's own);
 *   mux    the endpoints of ep served by the shared slot sockets
 *          (mt6d/engine/slotmux.h): once guardrules_tproxy has added its
 *          prerouting chain, UDP to them goes to one transparent socket.
 * To MT6D addresses only UDP to a served port, neighbour discovery and
 * packet-too-big come in; from them only UDP from a served port and
 * neighbour discovery go out. Everything else is dropped, never rejected. */
#ifndef MT6D_GUARDRULES_H
#define MT6D_GUARDRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define GUARDRULES_NAME_LEN 48        /* table name, NUL included */

/* One served endpoint of a slot, for guardrules_endpoints. */
struct guardrules_ep {
	struct in6_addr addr;
	uint16_t port;                /* host order */
	uint32_t lifetime_ms;         /* the set elements expire after this */
	bool is_muxed;                /* also in mux: served by the shared slot sockets */
};

/* "mt6d-<role>-<ifname>", every byte but [A-Za-z0-9_-] of ifname replaced
 * by '_' (nft identifiers). Returns 0 or -ENAMETOOLONG. */
int guardrules_table_name(const char *role, const char *ifname, char out[static GUARDRULES_NAME_LEN]);

/* The whole table, created empty or, when a table of that name is left by
 * a run that crashed, replaced in the same transaction. Returns the length
 * written (NUL excluded) or -ENOSPC. */
int guardrules_table(const char *table, char *buf, size_t buf_len);

/* "delete table ...". Returns the length or -ENOSPC. */
int guardrules_delete(const char *table, char *buf, size_t buf_len);

/* The prerouting chain that hands UDP to the endpoints of the mux set to
 * the transparent socket bound to [::1]:port (nft tproxy: the packet keeps
 * its destination, which the socket reads as IPV6_ORIGDSTADDR; ::1 is an
 * address no packet from a link may carry, so the socket is reached in no
 * other way). Returns the length or -ENOSPC. */
int guardrules_tproxy(const char *table, uint16_t port, char *buf, size_t buf_len);

/* Elements for the mt6d and ep sets (and mux, for is_muxed ones), one command each. Returns the length or
 * -ENOSPC (n == 0: an empty string). */
int guardrules_endpoints(const char *table, const struct guardrules_ep *eps, size_t n,
			 char *buf, size_t buf_len);

/* An element addr/prefix_len of the set set_name (tun6, claim or host).
 * Returns the length or -ENOSPC, -EINVAL for a prefix length over 128. */
int guardrules_prefix(const char *table, const char *set_name, const struct in6_addr *addr,
		      unsigned prefix_len, char *buf, size_t buf_len);
/* The same element's removal. */
int guardrules_prefix_delete(const char *table, const char *set_name, const struct in6_addr *addr,
			     unsigned prefix_len, char *buf, size_t buf_len);

#endif
