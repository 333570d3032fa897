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

#define TUN_NAME_LEN 16 /* IFNAMSIZ, terminating NUL included */
#define TUN_MAX_QUEUES 16

/* tun_config.flags */
#define TUN_IS_MULTI_QUEUE (1u << 0) /* IFF_MULTI_QUEUE: one fd per queue */
#define TUN_HAS_VNET_HDR (1u << 1)   /* IFF_VNET_HDR: reserved, -EOPNOTSUPP today */

struct tun_config {
	const char *name;  /* wanted name ("mt6d0", or a pattern "mt6d%d"); NULL = "tun%d" */
	unsigned flags;    /* TUN_* */
	unsigned queues;   /* fds to open with TUN_IS_MULTI_QUEUE; 0 or 1 otherwise */
	unsigned mtu;      /* bytes; 0 = keep the kernel default (1500) */
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

/* The non-blocking fd of queue q (0 <= q < tun_queue_count), or -EINVAL. */
int tun_fd(const struct tun *tun, unsigned q);

/* Reads up to n packets from queue q into pkts[i].buf + offset, setting
 * pkts[i].len. Returns the number read (>= 1), -EAGAIN when nothing is
 * pending, or another -errno. A packet longer than cap - offset is
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

/* Link settings by name through ioctls (no netlink): MTU in bytes, admin
 * state. Return 0 or -errno (-ENODEV for no such interface). */
int tun_set_mtu(const char *name, unsigned mtu);
int tun_set_up(const char *name, bool is_up);

/* Destroys a persistent TUN left by another process (e.g. created with
 * `ip tuntap add`): attaches, clears persistence, closes. Returns 0,
 * -ENODEV if there is no such TUN, or -errno (-EBUSY if it is attached). */
int tun_destroy(const char *name);

#endif
