/* The data plane of one tunnel, inside: the struct tunnel and the scratch
 * space its files share (internal: only mt6d/engine/tunnel*.c include it).
 * The public interface is mt6d/engine/tunnel.h.
 *
 *   tunnel.c     the window of slots (addresses, sockets, the periodic), the
 *                TUN -> peer path (TUN reads, seal, GSO sends), life cycle
 *   tunnel_rx.c  the peer -> TUN path (socket receive, open, inner check,
 *                coalesced TUN writes)
 *   tunnel_mq.c  the threads of TUN queues 1.. (multi-queue TUN) */
#ifndef MT6D_TUNNEL_INT_H
#define MT6D_TUNNEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <ev.h>

#include "mt6d/core/rotate.h"
#include "mt6d/core/wire.h"
#include "mt6d/engine/tunnel.h"
#include "tun/tun.h"
#include "tun/vnet.h"

/* Socket buffers: a TCP window in flight through the tunnel must fit, or
 * bursts are dropped at the socket (measured: 208 KiB defaults lose packets
 * at ~1 Gbit/s). FORCE variants need CAP_NET_ADMIN, which the daemon has. */
#define TUNNEL_SOCK_BUF (8 * 1024 * 1024)
/* Batches handled per event before returning to the loop (fairness between
 * the TUN, the slot sockets and the timer). */
#define TUNNEL_ROUNDS 8
/* Batches read from an older slot's socket before a newer one's: more
 * than its buffer holds (TUNNEL_SOCK_BUF: at most ~4,000 datagrams of the
 * kernel's accounting, 64 batches without GRO), tunnel_rx.c. */
#define TUNNEL_DRAIN_ROUNDS 256
/* A periodic that fires this close before a boundary (libev's timestamps
 * are doubles) still moves to the next slot. */
#define TUNNEL_EARLY_MS 20
#define TUNNEL_LOG_INTERVAL_S 10.0
/* UDP GSO limits (linux/udp.h UDP_MAX_SEGMENTS; one UDP length field). */
#define TUNNEL_GSO_MAX_SEGS 64
#define TUNNEL_GSO_MAX_BYTES (65535 - 8)
/* A receive buffer holds the largest datagram, or one GRO train of them. */
#define TUNNEL_RX_BUF_LEN 65536
/* The largest super-packet with its header, and a byte to tell truncation. */
#define TUNNEL_VNET_BUF_LEN (VNET_HDR_LEN + VNET_MAX_PKT_LEN + 1)

union tunnel_cmsg {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

struct tunnel_sock {
	ev_io io;
	struct tunnel *t;
	int fd;                          /* -1: not open */
	bool is_muxed;                   /* the endpoint is in the slotmux's table */
	uint64_t slot;
	struct rotate_endpoint own, peer;
	struct sockaddr_in6 peer_sa;     /* where packets of this slot go */
};

struct tunnel {
	struct ev_loop *loop;
	struct nladdr *nladdr;           /* borrowed */
	struct nllink *nllink;           /* borrowed */
	struct ndresp *ndresp;           /* borrowed; scale mode, else NULL */
	bool is_claimed;                 /* TUNNEL_PREFIX_CLAIMED or ndresp: nladdr unused */
	struct guard *guard;             /* borrowed; NULL: none */
	struct slotmux *mux;             /* borrowed; NULL: a socket per slot */
	bool is_guarded;                 /* guard_protect'ed its two tunnel addresses */
	struct tun *tun;
	ev_io tun_io;
	ev_periodic tick;
	ev_idle busy_poll;               /* active: the loop polls instead of sleeping */
	ev_tstamp busy_poll_s;           /* how long after the last packet; 0: never */
	ev_tstamp busy_poll_until;
	struct rotate rot;
	struct wire_tx tx;
	struct wire_rx rx;
	struct tunnel_sock socks[ROTATE_MAX_SLOTS]; /* by slot % ROTATE_MAX_SLOTS */
	unsigned link_ifindex;
	unsigned tun_mtu;                /* bytes */
	struct in6_addr peer_tunnel_addr;
	struct in6_addr tunnel_addr;     /* ours; with is_own_dst_only the only inner destination */
	bool is_own_dst_only;
	int64_t clock_offset_ms;
	uint32_t valid_s;                /* valid lifetime of an MT6D address */
	uint32_t next_rotation_ms;       /* a change of Rot pending (0: none), ms */
	int64_t next_rotation_at_ms;     /* ... from this instant of our clock */
	ev_tstamp far_logged_at;         /* last "clock off" warning */
	/* Last warnings, one clock per kind, so that a burst of lost netlink
	 * acks cannot hide a socket that failed (EMFILE) from the log. */
	ev_tstamp err_logged_at;         /* last netlink warning */
	ev_tstamp sock_err_logged_at;    /* last slot socket warning */
	bool has_gso;                    /* send runs of equal datagrams as one (UDP_SEGMENT) */
	bool has_gro;                    /* sockets get UDP_GRO: trains of datagrams per read */
	struct tunnel_stats stats;
	bool is_tun_borrowed;            /* t->tun is the caller's shared TUN (cfg.shared_tun) */
	bool has_route;                  /* ... and ours is the route of the peer's address into it */
	bool has_scratch;                /* holds a reference to the scratch space */
	unsigned n_queues;               /* TUN queues; 1..TUNNEL_MAX_QUEUES */
	struct tunnel_worker *workers;   /* n_queues - 1 of them, for queues 1..; else NULL */
	ev_timer workers_timer;          /* starts their threads on the loop's first iteration */
	/* The main loop waits for a worker's lock (atomic): the workers hold
	 * back until it has had it (tunnel_worker_lock). */
	unsigned main_waiting;
};

/* Scratch space of the data plane: filled and used within one callback (a
 * TUN batch, a socket batch) and never across two. A process runs one event
 * loop, so every tunnel of the process shares one set: a server with
 * thousands of sessions would otherwise hold over 1 MiB of receive buffers
 * per session. Allocated with the first tunnel (grown for a larger MTU
 * between callbacks), wiped and freed with the last. */
struct tunnel_scratch {
	unsigned refs;
	size_t buf_len;                  /* bytes per TUN packet buffer */
	uint8_t *bufs;                   /* TUNNEL_BATCH TUN packet buffers */
	uint8_t *rx_bufs;                /* TUNNEL_RX_MSGS receive buffers of TUNNEL_RX_BUF_LEN */
	uint8_t *vnet_buf;               /* TUN offloads: one super-packet read, TUNNEL_VNET_BUF_LEN */
	bool rx_ok[TUNNEL_BATCH];        /* TUN offloads: which of rx_pkts went in */
	struct tun_pkt pkts[TUNNEL_BATCH];    /* TUN reads: fixed on bufs */
	struct tun_pkt rx_pkts[TUNNEL_BATCH]; /* TUN writes: point into rx_bufs */
	struct mmsghdr msgs[TUNNEL_BATCH];
	struct iovec iov[TUNNEL_BATCH];
	size_t tx_inner_len[TUNNEL_BATCH]; /* inner bytes of iov[i], padding not counted */
	size_t run_len[TUNNEL_BATCH];    /* datagrams in msgs[i] */
	union tunnel_cmsg cmsg[TUNNEL_BATCH];
	struct sockaddr_in6 from[TUNNEL_RX_MSGS];
	struct iovec rx_iov[TUNNEL_RX_MSGS];
};

/* One sender of TUN packets: the main loop (queue 0, a shared TUN) or the
 * worker of a further queue, each with its own sender instance (wire.h:
 * its own packet key and counter, so the peer keeps a replay window per
 * thread and nothing on the wire changes), scratch and TX counters. What
 * they share is the window (t->rot, t->socks), which a worker reads only
 * under its lock and the main loop changes only under every worker's. */
struct tunnel_tx {
	struct tunnel *t;
	struct wire_tx *tx;
	struct tunnel_scratch *sc;
	struct tunnel_stats *stats;      /* its TX counters (under lock) */
	bool *has_gso;
	pthread_mutex_t *lock;           /* a worker's; NULL: the main loop */
};

/* The thread of TUN queue q >= 1 (tunnel_mq.c). */
struct tunnel_worker {
	struct tunnel *t;
	unsigned q;
	struct ev_loop *loop;            /* its own (ev_loop_new) */
	ev_io tun_io;
	ev_async stop;
	pthread_t thread;
	bool has_thread;
	bool has_lock;
	pthread_mutex_t lock;            /* held while a batch is sealed and sent */
	struct wire_tx tx;               /* its sender instance */
	bool has_tx;
	struct tunnel_scratch sc;        /* its TX scratch (no receive buffers) */
	struct tunnel_stats stats;       /* tx_* and drops_tx of its queue, under lock */
	bool has_gso;
};

/* Shared by every tunnel of the process (tunnel.c owns it). */
extern struct tunnel_scratch *tunnel_scratch;

/* true at most once per TUNNEL_LOG_INTERVAL_S for the clock *last. */
bool tunnel_is_time_to_log(struct tunnel *t, ev_tstamp *last);
/* Packets moved: keep polling busy_poll_s longer (if it is on). */
void tunnel_busy_poll_extend(struct tunnel *t);
/* sc's TUN side: TUNNEL_BATCH buffers of at least buf_len bytes and the
 * super-packet buffer. Returns 0 or -ENOMEM; tunnel_scratch_wipe frees. */
int tunnel_scratch_tx_get(struct tunnel_scratch *sc, size_t buf_len);
void tunnel_scratch_wipe(struct tunnel_scratch *sc);
/* A worker takes its lock (x->lock; for the main loop's sender, which has
 * none, both calls do nothing), after the main loop if it waits for it: a
 * mutex is not fair, and a worker that takes it back at once after each
 * batch would hold back the rotation for as long as packets come
 * (measured: over two slots of 200 ms under a flood). tunnel_mq.c. */
void tunnel_worker_lock(const struct tunnel_tx *x);
void tunnel_worker_unlock(const struct tunnel_tx *x);
/* Seals and sends n packets for the current slot as x (tunnel.c). */
void tunnel_tx_batch(const struct tunnel_tx *x, struct tun_pkt *pkts, size_t n);
/* Reads queue q's batches as x, up to TUNNEL_ROUNDS, and sends them. */
void tunnel_tun_read(const struct tunnel_tx *x, unsigned q);
/* tunnel_mq.c: the workers of queues 1.. (nothing with one queue). new
 * makes them (after the TUN), start arms their threads for the loop's
 * first iteration, free joins and frees them; lock/unlock take every
 * worker's lock around a change of the window; add_stats adds their
 * counters to s. */
int tunnel_workers_new(struct tunnel *t, const struct tunnel_config *cfg, char *msg,
		       size_t msg_len);
void tunnel_workers_start(struct tunnel *t);
void tunnel_workers_free(struct tunnel *t);
void tunnel_workers_lock(struct tunnel *t);
void tunnel_workers_unlock(struct tunnel *t);
void tunnel_workers_add_stats(struct tunnel *t, struct tunnel_stats *s);
/* A slot socket readable (tunnel_rx.c). */
void tunnel_sock_cb(struct ev_loop *loop, ev_io *w, int revents);

#endif
