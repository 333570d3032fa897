/* TUN devices: layer-3 interfaces whose packets the daemon reads and writes.
 *
 * Every device is IFF_TUN | IFF_NO_PI (bare IPv6 packets, no packet-info
 * header) with non-blocking fds that the caller's event loop watches. A TUN
 * created here is not persistent: it disappears when tun_free() closes its
 * last fd, so a daemon killed with SIGKILL leaves no interface behind.
 *
 * I/O takes arrays of packet buffers and an offset (headroom) so that the
 * tunnel layer can write its outer headers in place in front of the packet,
 * and so that batching (multi-queue, vnet headers) will not change callers. */
#ifndef MT6D_TUN_H
#define MT6D_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define TUN_NAME_LEN 16 /* IFNAMSIZ, terminating NUL included */
#define TUN_MAX_QUEUES 16

/* tun_config.flags */
#define TUN_IS_MULTI_QUEUE (1u << 0) /* IFF_MULTI_QUEUE: one fd per queue */
/* IFF_VNET_HDR: every packet read or written starts with a virtio-net
 * header (tun/vnet.h), and tun_config.offloads may be asked for. */
#define TUN_HAS_VNET_HDR (1u << 1)

/* tun_config.offloads (TUNSETOFFLOAD; need TUN_HAS_VNET_HDR): what the
 * kernel may hand us. Each is asked for, then dropped if the kernel
 * refuses it (tun_offloads says what was granted). */
#define TUN_OFFLOAD_CSUM (1u << 0) /* partial checksums (TUN_F_CSUM) */
#define TUN_OFFLOAD_TSO6 (1u << 1) /* TCP/IPv6 super-packets, ECN too (TUN_F_TSO6, TSO_ECN) */
#define TUN_OFFLOAD_USO (1u << 2)  /* UDP super-packets (TUN_F_USO4 | USO6, Linux 6.2) */

struct tun_config {
	const char *name;  /* wanted name ("mt6d0", or a pattern "mt6d%d"); NULL = "tun%d" */
	unsigned flags;    /* TUN_* */
	unsigned queues;   /* fds to open with TUN_IS_MULTI_QUEUE; 0 or 1 otherwise */
	unsigned mtu;      /* bytes; 0 = keep the kernel default (1500) */
	unsigned offloads; /* TUN_OFFLOAD_*, with TUN_HAS_VNET_HDR */
	bool is_up;        /* bring the link up once created */
};

/* One packet buffer. The packet is at buf + offset (the headroom given to
 * tun_read/tun_write); len counts packet bytes only, without the headroom. */
struct tun_pkt {
	uint8_t *buf;  /* caller-owned storage */
	size_t cap;    /* bytes at buf, headroom included */
	size_t len;    /* packet length in bytes */
};

struct tun;

/* Creates (or attaches to an existing, non-busy) TUN device as cfg says.
 * On success *tun_out owns the fds; returns 0 or -errno (-EPERM without
 * CAP_NET_ADMIN, -EBUSY if the name is taken by another kind of device or an
 * attached TUN, -EINVAL for a bad config). */
int tun_new(const struct tun_config *cfg, struct tun **tun_out);

/* Closes every fd; the device goes away with its last fd. Accepts NULL. */
void tun_free(struct tun *tun);

/* The kernel's name for the device (what "%d" became). */
const char *tun_name(const struct tun *tun);
unsigned tun_ifindex(const struct tun *tun);
unsigned tun_queue_count(const struct tun *tun);
/* TUN_HAS_VNET_HDR if the packets carry a virtio-net header, and the
 * TUN_OFFLOAD_* bits the kernel granted. */
unsigned tun_flags(const struct tun *tun);
unsigned tun_offloads(const struct tun *tun);

/* The non-blocking fd of queue q (0 <= q < tun_queue_count), or -EINVAL. */
int tun_fd(const struct tun *tun, unsigned q);

/* Reads up to n packets from queue q into pkts[i].buf + offset, setting
 * pkts[i].len. Returns the number read (>= 1), -EAGAIN when nothing is
 * pending, or another -errno. With TUN_HAS_VNET_HDR each packet starts
 * with its VNET_HDR_LEN-byte header. A packet longer than cap - offset is
 * truncated by the kernel and dropped here (counted in *dropped_out when
 * dropped_out is not NULL). */
int tun_read(struct tun *tun, unsigned q, struct tun_pkt *pkts, size_t n,
	     size_t offset, unsigned *dropped_out);

/* Writes n packets found at pkts[i].buf + offset (pkts[i].len bytes each)
 * into queue q. Returns the number written; the first failure stops the
 * batch and is returned as -errno if no packet was written (-EAGAIN when
 * the device queue is full, -EINVAL for a malformed packet, -EIO when the
 * link is down). */
int tun_write(struct tun *tun, unsigned q, const struct tun_pkt *pkts,
	      size_t n, size_t offset);

/* Writes one packet gathered from iov (iovcnt pieces; with
 * TUN_HAS_VNET_HDR the first bytes are its header) into queue q. Returns 0
 * or -errno as tun_write. */
int tun_writev(struct tun *tun, unsigned q, const struct iovec *iov, int iovcnt);

/* With TUN_HAS_VNET_HDR, the offloaded read path. */
struct tun_split_stats {
	uint64_t reads;    /* packets read (super-packets count once) */
	uint64_t supers;   /* ... of them super-packets (TSO, USO) */
	uint64_t segments; /* packets handed on */
	uint64_t dropped;  /* read but not handed on (unsupported, malformed, too long) */
};
typedef void tun_flush_fn(void *ctx, struct tun_pkt *pkts, size_t n);

/* Reads up to max_reads packets from queue q into buf (buf_len bytes: the
 * largest packet and its header), splits each into packets of at most
 * max_len bytes (tun/vnet.h) at pkts[i].buf + offset, and calls flush with
 * pkts whenever all n are used and once at the end (when any are), so that
 * no packet waits for a later read. Returns the packets read (>= 1),
 * -EAGAIN when nothing was pending, or another -errno. */
int tun_read_split(struct tun *tun, unsigned q, uint8_t *buf, size_t buf_len,
		   struct tun_pkt *pkts, size_t n, size_t offset, size_t max_len,
		   size_t max_reads, tun_flush_fn *flush, void *ctx, struct tun_split_stats *st);

/* With TUN_HAS_VNET_HDR, the offloaded write path: n packets at
 * pkts[i].buf + offset (writable: the first of a run is rewritten), runs of
 * in-order TCP segments of one flow written as one super-packet (GRO,
 * tun/vnet.h), the others one by one. ok[i] says whether packet i went in. */
struct tun_gro_stats {
	uint64_t writes;    /* write system calls */
	uint64_t coalesced; /* ... of them super-packets of several segments */
};
void tun_write_gro(struct tun *tun, unsigned q, struct tun_pkt *pkts, size_t n, size_t offset,
		   bool *ok, struct tun_gro_stats *st);

/* Link settings by name through ioctls (no netlink): MTU in bytes, admin
 * state. Return 0 or -errno (-ENODEV for no such interface). */
int tun_set_mtu(const char *name, unsigned mtu);
/* The length of the device's queue in packets (txqueuelen; the TUN's ring
 * of packets waiting for a read has as many slots). */
int tun_set_txqlen(const char *name, unsigned len);
int tun_set_up(const char *name, bool is_up);

/* Destroys a persistent TUN left by another process (e.g. created with
 * `ip tuntap add`): attaches, clears persistence, closes. Returns 0,
 * -ENODEV if there is no such TUN, or -errno (-EBUSY if it is attached). */
int tun_destroy(const char *name);

#endif
