/* The peer-to-peer engine of mt6d-peer (docs/peer-to-peer.md): two hosts
 * with a static configuration each ([Host] and [Peer], docs/mt6d.conf.5.md)
 * and one tunnel whose outer addresses and ports rotate every slot. It
 * wires the config and the keys to a tunnel (tunnel.h) on the physical
 * interface, and undoes everything in reverse when freed. */
#ifndef MT6D_PEER_H
#define MT6D_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "mt6d/core/ctlproto.h"

#define PEER_MAX_CLOCK_OFFSET_MS (24LL * 3600 * 1000)

struct peer;

struct peer_options {
	const char *stats_path;   /* counters written here on SIGUSR1 and at exit; NULL: log only */
	int64_t clock_offset_ms;  /* testing: added to this host's clock */
	unsigned tunnel_flags;    /* TUNNEL_NO_UDP_GSO, _NO_UDP_GRO, _NO_OFFLOAD (benchmarks) */
	unsigned busy_poll_us;    /* benchmarks: busy polling after packets, 0: off */
	unsigned tun_txqlen;      /* benchmarks: TUN queue with offloads, packets; 0: default */
	unsigned queues;          /* benchmarks: TUN queues, overrides Queues; 0: the config's */
};

/* -n: the config at conf_path and its key files, as peer_new reads them.
 * Returns 0 or -errno with the reason in msg. */
int peer_check(const char *conf_path, char *msg, size_t msg_len);

/* Reads the config, purges the MT6D addresses of a previous run on its
 * Interface and brings the tunnel up on loop; SIGUSR1 writes the counters.
 * opt is copied. Returns 0 and *out, or -errno with the reason in msg and
 * nothing left behind. */
int peer_new(struct ev_loop *loop, const char *conf_path, const struct peer_options *opt,
	     struct peer **out, char *msg, size_t msg_len);

/* The control socket's handler (ctl.h), when mt6d-peer is given one (-s):
 * get=1 shows the tunnel's counters as mt6d-server shows a session's. */
int peer_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *reply);

/* Writes the counters, then removes the tunnel, the MT6D addresses, the
 * TUN's address and route. NULL is fine. */
void peer_free(struct peer *p);

#endif
