/* The data plane of one MT6D tunnel (docs/PROTOCOL.md, formulas 5 to 7): packets read
 * from a TUN interface are sealed (mt6d/core/wire.h) and sent in UDP from our
 * current MT6D address and port to the peer's current ones; datagrams that
 * arrive on the sockets of the slots around the current one are opened,
 * replay-checked and written to the TUN. The peer-to-peer daemon runs one;
 * the client and server sessions reuse it.
 *
 * Kernel objects: the TUN (with the tunnel address and a /128 route to the
 * peer's tunnel address, through netlink/nllink.h), one MT6D address per slot
 * of the window on the physical link (netlink/nladdr.h, lifetimes of a few
 * slots; in scale mode none: the address joins the neighbour responder's
 * set, cfg.ndresp) and one UDP socket per slot, bound with IPV6_FREEBIND so
 * that it exists before its address does and no packet waits for netlink.
 *
 * Events (libev, one loop): the TUN fd, the slot sockets, and a wall-clock
 * periodic timer at every slot boundary (slot = floor(t / Rot), so a clock
 * step re-aligns). After packets, an idle watcher may keep the loop polling
 * for a while (busy_poll_us). The netlink fds belong to the caller, who owns nladdr and
 * nllink and passes each address result back with tunnel_handle_addr_result.
 *
 * Window: reach 1 binds the previous, current and next slots (the protocol's
 * overlap: packets in flight at a boundary and a peer one slot off both
 * arrive); reach 2 also binds the slots two away, only to detect and log a
 * peer two slots off (its packets authenticate there but are dropped). */
#ifndef MT6D_TUNNEL_H
#define MT6D_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <ev.h>

#include "mt6d/core/wire.h"
#include "mt6d/engine/guard.h"
#include "mt6d/engine/slotmux.h"
#include "netlink/ndresp.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"
#include "tun/tun.h"

#define TUNNEL_KEY_LEN 32
/* Outer IPv6 + UDP + wire header and tag: TUN MTU = link MTU - this. */
#define TUNNEL_OVERHEAD (WIRE_OUTER_IP_UDP_LEN + WIRE_OVERHEAD)
#define TUNNEL_MIN_INNER_MTU 1280   /* IPv6 minimum link MTU (RFC 8200, 5) */
#define TUNNEL_BATCH 64             /* packets per TUN pass and per sendmmsg */
#define TUNNEL_RX_MSGS 16           /* datagrams (GRO: trains of them) per recvmmsg */
/* TUN queues (tunnel_config.queues): queue 0 is read by the caller's loop,
 * each further one by a thread of its own (docs/ARCHITECTURE.md), each a
 * sender instance of its own: at most half the peer's WIRE_RX_INSTANCES,
 * so that a restart's new instances fit beside the old ones. */
#define TUNNEL_MAX_QUEUES (WIRE_RX_INSTANCES / 2u)
/* Queues = auto: this many, or fewer when fewer CPUs may run the daemon
 * (tunnel_auto_queues); measured on the 2-core lab VM: two carried more
 * but cost more CPU per Gbit/s, and a receiver with two fell behind under
 * a flood (docs/perf/analysis/tunnel-cpu.md "Multi-queue TUN"). */
#define TUNNEL_AUTO_QUEUES 1

/* tunnel_config.flags: offloads are on unless turned off (benchmarks). */
#define TUNNEL_NO_UDP_GSO (1u << 0) /* one datagram per packet, no UDP_SEGMENT */
#define TUNNEL_NO_UDP_GRO (1u << 1) /* one datagram per receive, no UDP_GRO */
/* Inner packets must also be addressed to tunnel_addr (server sessions: a
 * client reaches only its own session's address, not the other addresses
 * of the host, which Linux would deliver from any interface). */
#define TUNNEL_OWN_DST_ONLY (1u << 2)
/* tunnel_new does not wait for netlink's acknowledgement of the first MT6D
 * addresses (the sockets, IPV6_FREEBIND, work before them): a server making
 * sessions keeps its loop running. A refusal still arrives, later, through
 * tunnel_handle_addr_result (counted in addr_errors and logged). */
#define TUNNEL_NO_WAIT (1u << 3)
/* The caller claims the link's /64 with one local route (AddressMode scale
 * or routed): no MT6D address is bound per slot; with cfg.ndresp the
 * responder learns each, without it (routed) nothing per address is done. */
#define TUNNEL_PREFIX_CLAIMED (1u << 4)
/* The tunnel's own TUN without its offloads (no virtio-net header, one
 * packet per read and write): `Offloads = off`. With them, a read brings a
 * TCP (or UDP) super-packet of up to 64 KiB, split here into datagrams each
 * sealed on its own for the slot it is sent in, and in-order TCP segments
 * opened from one datagram train go back to the TUN as one (tun/vnet.h). A
 * shared TUN never has them. */
#define TUNNEL_NO_OFFLOAD (1u << 5)

/* A busy polling time that hides the wake-up for the answer to a packet
 * just sent (a ping, a TCP ACK) on the lab VM (docs/PERFORMANCE.md "RTT at
 * idle"). Off unless asked for: see tunnel_config.busy_poll_us. */
#define TUNNEL_BUSY_POLL_US 200

struct tunnel_config {
	const char *tun_name;            /* TUN name or pattern ("mt6d%d") */
	unsigned link_ifindex;           /* interface that holds the MT6D addresses */
	unsigned link_mtu;               /* its MTU, bytes: the TUN gets link_mtu - TUNNEL_OVERHEAD */
	struct in6_addr own_seed;        /* our /64 prefix || seed IID */
	struct in6_addr peer_seed;       /* the peer's */
	struct in6_addr tunnel_addr;     /* our stable address, on the TUN */
	unsigned tunnel_prefix_len;      /* 1..128 */
	struct in6_addr peer_tunnel_addr; /* routed into the TUN; the only inner source accepted */
	uint8_t slot_key[TUNNEL_KEY_LEN]; /* K of formula 5 (secret, copied) */
	uint8_t tx_key[WIRE_KEY_LEN];    /* direction keys (wire.h), secret, copied */
	uint8_t rx_key[WIRE_KEY_LEN];
	uint32_t rotation_ms;            /* Rot */
	unsigned reach;                  /* 1 or 2, see above */
	int64_t clock_offset_ms;         /* added to the wall clock: tests of clock skew only */
	unsigned flags;                  /* TUNNEL_NO_* */
	unsigned busy_poll_us;           /* after packets, poll this long before sleeping; 0: off */
	unsigned tun_txqlen;             /* TUN queue length, packets, with offloads; 0: the kernel's */
	/* TUN queues, 1..TUNNEL_MAX_QUEUES (0: 1). With more
	 * than one the TUN is IFF_MULTI_QUEUE (the kernel spreads flows over
	 * the queues by their hash) and queues 1.. are each read, sealed and
	 * sent by a thread of their own; the receive side stays on loop.
	 * Threads start on loop's first iteration (after the caller has dropped
	 * its privileges, which they inherit). A shared TUN or slotmux: 1. */
	unsigned queues;
	enum wire_aead aead;             /* what we seal with; AES-256-GCM without AES-NI:
					    ChaCha20-Poly1305 (said in the log) */
	unsigned padding;                /* bucket of the padding of what we send, bytes; 0: off
					    (wire_tx_set_padding, capped at the TUN MTU) */
	/* Scale mode (docs/PERFORMANCE.md): the caller has claimed the link's
	 * /64 with one local route; the window's MT6D addresses are added to
	 * this responder's set (borrowed) instead of being bound on the link,
	 * and nladdr is not used. NULL: per-address mode. */
	struct ndresp *ndresp;
	/* Silent to probes and fail closed (guard.h), borrowed; NULL: none.
	 * The tunnel protects its two tunnel addresses (the peer's with an
	 * unreachable route) and adds the endpoint of every slot it binds. */
	struct guard *guard;
	/* A TUN shared by many tunnels (the server's SessionInterface = shared),
	 * borrowed; NULL: the tunnel makes its own. With one, the tunnel makes
	 * no TUN and no tunnel address (the owner makes tunnel_addr local), only
	 * the /128 route of peer_tunnel_addr into it (removed by tunnel_free);
	 * it writes what it opens to the shared TUN, and the owner reads the
	 * TUN and hands each tunnel its packets (tunnel_transmit). */
	struct tun *shared_tun;
	/* Shared slot sockets (mt6d/engine/slotmux.h), borrowed; NULL: one
	 * socket per slot. With one, the tunnel opens no socket: its slots'
	 * endpoints join the mux's table, datagrams arrive through
	 * tunnel_mux_input and leave through the mux's raw socket (no GSO). */
	struct slotmux *slotmux;
};

/* Counters of one tunnel, since tunnel_new. */
struct tunnel_stats {
	uint64_t tx_packets, tx_bytes;   /* inner packets and bytes sent (padding not counted) */
	uint64_t rx_packets, rx_bytes;   /* inner packets and bytes delivered to the TUN */
	uint64_t drops_auth;             /* did not authenticate (wrong key or slot, forged, garbage) */
	uint64_t drops_replay;           /* replayed, or too old for the replay window */
	uint64_t drops_malformed;        /* too short or too long for a tunnel packet */
	uint64_t drops_busy;             /* new sender instance while all slots are live */
	uint64_t drops_inner;            /* authentic, but not IPv6 from the peer's tunnel address
					    (or, TUNNEL_OWN_DST_ONLY, not to ours) */
	uint64_t drops_tx;               /* sealed but not sent (socket full, no route) */
	uint64_t drops_tun;              /* opened but the TUN refused it (queue full) */
	uint64_t rx_prev_slot;           /* authentic packets that arrived in the previous slot */
	uint64_t rx_next_slot;           /* ... in the next slot (the peer's clock is ahead) */
	uint64_t rx_far_slot;            /* ... two slots away: dropped, the clocks are off */
	uint64_t rotations;              /* slot moves */
	uint64_t rotation_late_max_us;   /* worst delay of a move after its boundary */
	uint64_t addr_errors;            /* MT6D address adds/deletes the kernel refused */
	uint64_t tx_super;               /* TUN offloads: super-packets read (split into tx_packets) */
	uint64_t rx_coalesced;           /* ... TUN writes that carried several segments */
	bool has_offload;                /* the TUN has a virtio-net header */
	unsigned offloads;               /* ... and the TUN_OFFLOAD_* the kernel granted */
	bool is_aes;                     /* we seal with AES-256-GCM (else ChaCha20-Poly1305) */
	unsigned queues;                 /* TUN queues */
	uint64_t queue_tx[TUNNEL_MAX_QUEUES]; /* ... tx_packets read from each */
};

struct tunnel;

/* Creates the TUN, its address and route, binds the MT6D addresses and
 * sockets of the current window (waiting for netlink, so traffic flows at
 * once, unless TUNNEL_NO_WAIT; with cfg.shared_tun: only the peer's route
 * into that TUN) and starts the watchers on loop. nladdr and nllink are borrowed and
 * must outlive the tunnel; every nladdr result whose cookie is the tunnel
 * must be passed to tunnel_handle_addr_result. Returns 0 or -errno with a
 * message naming the object in msg. */
int tunnel_new(struct ev_loop *loop, struct nladdr *nladdr, struct nllink *nllink,
	       const struct tunnel_config *cfg, struct tunnel **t_out, char *msg, size_t msg_len);

/* Seals and sends n packets (at most TUNNEL_BATCH; more are dropped and
 * counted) read from a shared TUN for this tunnel's peer: each at
 * pkts[i].buf + WIRE_HEADER_LEN, sealed in place (cap bytes available). The
 * same path as the tunnel's own TUN reads. */
void tunnel_transmit(struct tunnel *t, struct tun_pkt *pkts, size_t n);

/* The input of the shared slot sockets (a slotmux_input_fn): a datagram
 * for slot of the tunnel owner, handled as one read from that slot's
 * socket. */
void tunnel_mux_input(void *owner, uint64_t slot, uint8_t *buf, size_t len);

/* Stops the watchers, closes the sockets, deletes the MT6D addresses bound
 * (synchronously, up to timeout_ms), closes the TUN (its address and route go
 * with it) and wipes the keys. Accepts NULL. */
void tunnel_free(struct tunnel *t, int timeout_ms);

/* An nladdr result for one of this tunnel's requests (cookie == t). */
void tunnel_handle_addr_result(struct tunnel *t, const struct nladdr_result *res);

void tunnel_get_stats(const struct tunnel *t, struct tunnel_stats *stats_out);

/* Queues = auto: TUNNEL_AUTO_QUEUES, at most one per CPU this process may
 * run on (its affinity mask), at least 1. */
unsigned tunnel_auto_queues(void);

/* The MTU of the TUN of a tunnel over a link of link_mtu bytes. */
unsigned tunnel_inner_mtu(unsigned link_mtu);

/* The TUN_OFFLOAD_* bits as words: "csum,tso,uso", "none". */
void tunnel_offload_words(unsigned offloads, char *buf, size_t buf_len);

/* Writes the counters as "key=value" words separated by spaces; offloads=
 * says "off" for a TUN without them (Offloads = off, a shared TUN); aead=
 * what we seal with (aes-256-gcm or chacha20-poly1305). */
void tunnel_format_stats(const struct tunnel_stats *s, char *buf, size_t buf_len);

const char *tunnel_tun_name(const struct tunnel *t);
unsigned tunnel_tun_ifindex(const struct tunnel *t);
unsigned tunnel_tun_mtu(const struct tunnel *t);
/* The current slot (after the last move). */
uint64_t tunnel_current_slot(const struct tunnel *t);
/* Milliseconds until the current slot ends on the tunnel's clock (0 when the
 * move is due). */
int64_t tunnel_next_move_in_ms(const struct tunnel *t);

/* Changes Rot to rotation_ms at the first slot boundary at or after at_ms
 * (UNIX ms of our clock; a past instant: now): the window moves to the new
 * slot numbering, what was bound for the old one is dropped, and the
 * session goes on (same keys, same TUN). Both ends must change at the same
 * instant (the server tells the client, msg.h's rotation change). A later
 * call replaces a pending change. Returns 0 or -EINVAL (rotation 0). */
int tunnel_set_rotation(struct tunnel *t, uint32_t rotation_ms, int64_t at_ms);

/* Rot in force now, ms. */
uint32_t tunnel_rotation_ms(const struct tunnel *t);

#endif
