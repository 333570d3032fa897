/* One TUN for every session of a server (SessionInterface = shared,
 * docs/running.md "Session interfaces"): what the host routes to a client's
 * tunnel address (a /128 route per session into this TUN, made by the
 * session's tunnel) is read here in batches, each packet's session found by
 * its inner destination through the owner's lookup, and each run of
 * packets of one session handed to that session's tunnel
 * (tunnel_transmit), which seals and sends it as from its own TUN. The other
 * direction needs nothing here: each session's tunnel writes what it opened
 * and checked (TUNNEL_OWN_DST_ONLY: from its client's tunnel address, to its
 * own) to this TUN's fd.
 *
 * The TUN is not persistent: a killed daemon's goes with its last fd, and
 * every route into it with the device. */
#ifndef MT6D_SESSIONTUN_H
#define MT6D_SESSIONTUN_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "tun/tun.h"

struct tunnel;
struct sessiontun;

/* The tunnel of the session whose client's tunnel address is the
 * destination of pkt (an inner packet of len bytes), or NULL. */
typedef struct tunnel *(*sessiontun_lookup_fn)(void *arg, const uint8_t *pkt, size_t len);

struct sessiontun_config {
	const char *name;                /* TUN name or pattern ("mt6ds%d") */
	unsigned mtu;                    /* as the per-client TUNs (tunnel_inner_mtu) */
	sessiontun_lookup_fn lookup;
	void *arg;
};

struct sessiontun_stats {
	uint64_t rx_packets;             /* read from the TUN */
	uint64_t handed;                 /* given to a session's tunnel */
	uint64_t drops_no_session;       /* to no session's client tunnel address */
	uint64_t drops_read;             /* longer than the MTU allows (truncated) */
};

/* Creates the TUN (up, with the MTU) and starts reading it on loop.
 * Returns 0 or -errno with a message in msg. */
int sessiontun_new(struct ev_loop *loop, const struct sessiontun_config *cfg,
		   struct sessiontun **out, char *msg, size_t msg_len);

/* Stops reading, closes the TUN (its routes go with it), wipes the buffers.
 * After every tunnel that borrowed it. Accepts NULL. */
void sessiontun_free(struct sessiontun *st);

/* The TUN, for tunnel_config.shared_tun. */
struct tun *sessiontun_tun(const struct sessiontun *st);

void sessiontun_get_stats(const struct sessiontun *st, struct sessiontun_stats *out);

#endif
