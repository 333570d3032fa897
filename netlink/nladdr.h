/* The address-rotation engine: IPv6 addresses bound and removed through
 * rtnetlink (libmnl), many requests per sendmsg, acknowledged asynchronously.
 *
 * Every address added here is an MT6D address:
 *   - /128, flags IFA_F_NODAD (usable at once, no duplicate detection delay)
 *     and IFA_F_NOPREFIXROUTE;
 *   - preferred lifetime 0 (deprecated: the kernel never picks it as the
 *     source of the host's unrelated traffic; a socket bound to it works);
 *   - valid lifetime given by the caller (a few rotation periods), so that
 *     the kernel removes it by itself if the daemon dies with SIGKILL;
 *   - IFA_PROTO = NLADDR_PROTO_MT6D (kernel >= 5.18), so a restart can find
 *     and purge leftovers of ours and never touch anybody else's addresses.
 *     iproute2 >= 6.2 prints it as "proto 0x6d" in `ip -6 addr`; older ones
 *     (Debian 12 has 6.1) do not print it, nladdr_dump() shows it.
 *
 * Use from an event loop: queue requests with nladdr_batch_add/_del, send
 * them with nladdr_batch_send, watch nladdr_fd() for reading and call
 * nladdr_process_acks(), which delivers each request's result (matched by
 * netlink sequence number, with the kernel's extack text) to the callback
 * given to nladdr_new and sends what is still queued. Nothing here blocks
 * except the *_sync, dump and purge helpers meant for set-up, shutdown and
 * tests. Nothing here logs.
 *
 * A registry records every address whose add was acknowledged and not yet
 * deleted, so that shutdown can remove everything (nladdr_remove_all). */
#ifndef MT6D_NLADDR_H
#define MT6D_NLADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* IFA_PROTO value that tags our addresses: 0x6d, ASCII 'm' for MT6D. The
 * kernel's own values are 0-3 (unspec, loopback, kernel_ll, kernel_ra). */
#define NLADDR_PROTO_MT6D 0x6d

/* Longest kernel extack message kept, terminating NUL included. */
#define NLADDR_MSG_LEN 128

enum nladdr_op {
	NLADDR_ADD = 1,
	NLADDR_DEL = 2,
};

/* The outcome of one request. Everything is borrowed for the callback only. */
struct nladdr_result {
	enum nladdr_op op;
	unsigned ifindex;
	struct in6_addr addr;
	int err;           /* 0, or -errno from the kernel (-EEXIST, -ENODEV, ...),
			      or -ENOBUFS if its ack was lost (state unknown) */
	const char *msg;   /* kernel's extended ack text, "" when it gave none */
	void *cookie;      /* what the caller passed with the request */
};

typedef void nladdr_done_fn(const struct nladdr_result *res, void *arg);

/* An address as the kernel reports it (nladdr_dump). */
struct nladdr_info {
	unsigned ifindex;
	struct in6_addr addr;
	uint8_t prefix_len;
	uint8_t proto;         /* IFA_PROTO; 0 when the kernel sent none */
	uint32_t flags;        /* IFA_F_* (linux/if_addr.h) */
	uint32_t valid_s;      /* remaining valid lifetime; UINT32_MAX = forever */
	uint32_t preferred_s;  /* remaining preferred lifetime */
};

typedef void nladdr_dump_fn(const struct nladdr_info *info, void *arg);

struct nladdr;

/* Opens a non-blocking rtnetlink socket with extended acks. done (may be
 * NULL) receives the result of every asynchronous request. Returns 0 and
 * sets *nl_out, or -errno. */
int nladdr_new(nladdr_done_fn *done, void *arg, struct nladdr **nl_out);

/* Closes the socket and forgets queued requests without reporting them.
 * Addresses stay bound (until their valid lifetime ends): call
 * nladdr_remove_all first for an orderly shutdown. Accepts NULL. */
void nladdr_free(struct nladdr *nl);

/* The fd to watch for reading; call nladdr_process_acks when readable. */
int nladdr_fd(const struct nladdr *nl);

/* Queue an add (valid_lft_s > 0 seconds, UINT32_MAX = forever) or a delete
 * of the /128 addr on ifindex. Nothing is sent until nladdr_batch_send.
 * Return 0, -EINVAL (ifindex 0, zero lifetime) or -ENOMEM. */
int nladdr_batch_add(struct nladdr *nl, unsigned ifindex, const struct in6_addr *addr,
		     uint32_t valid_lft_s, void *cookie);
int nladdr_batch_del(struct nladdr *nl, unsigned ifindex, const struct in6_addr *addr,
		     void *cookie);

/* Sends queued requests, as many per sendmsg as fit, every one with NLM_F_ACK
 * and its own sequence number. Requests beyond the in-flight limit (bounded
 * by the socket receive buffer that must hold their acks) stay queued and go
 * out from nladdr_process_acks. Returns the number sent or -errno. */
int nladdr_batch_send(struct nladdr *nl);

/* Reads every ack available without blocking, delivers each result, updates
 * the registry, then sends what is queued if room was freed. Returns the
 * number of results delivered (0 if none was pending) or -errno. */
int nladdr_process_acks(struct nladdr *nl);

/* Requests queued or in flight (not yet answered). */
size_t nladdr_pending(const struct nladdr *nl);

/* Sends everything and waits (poll) until every request is answered, with
 * results delivered as usual. Returns 0, -ETIMEDOUT, or -errno. */
int nladdr_sync(struct nladdr *nl, int timeout_ms);

/* Synchronous single add/delete for set-up and tests: waits for the whole
 * queue (see nladdr_sync) and returns this request's result (0 or -errno),
 * copying the kernel's message into msg when msg_len > 0. The result is
 * not passed to the done callback. */
int nladdr_add_sync(struct nladdr *nl, unsigned ifindex, const struct in6_addr *addr,
		    uint32_t valid_lft_s, char *msg, size_t msg_len);
int nladdr_del_sync(struct nladdr *nl, unsigned ifindex, const struct in6_addr *addr,
		    char *msg, size_t msg_len);

/* Lists the IPv6 addresses of ifindex (0 = every interface) as the kernel
 * has them now, sorted by (ifindex, address), each once. A dump racing
 * other changes can miss an entry, so it reads the list until two readings
 * agree (a list that never settles within ~60 ms gives the union of the last
 * two). Synchronous, on a separate socket. Returns the number listed or
 * -errno. */
int nladdr_dump(struct nladdr *nl, unsigned ifindex, nladdr_dump_fn *fn, void *arg);

/* Deletes every address of ifindex (0 = every interface) tagged
 * NLADDR_PROTO_MT6D, whoever added it (leftovers of a previous run), and
 * nothing else, dumping again until none is left (at most 4 rounds).
 * Synchronous. Returns the number removed, or -errno with the
 * kernel's message for the first failure in msg. */
int nladdr_purge(struct nladdr *nl, unsigned ifindex, int timeout_ms,
		 char *msg, size_t msg_len);

/* Deletes every address in the registry (orderly shutdown). Synchronous.
 * Returns the number removed (addresses that had already expired are not
 * counted and are not an error), or -errno of the first other failure. */
int nladdr_remove_all(struct nladdr *nl, int timeout_ms, char *msg, size_t msg_len);

/* The registry: addresses added and acknowledged, not deleted since. */
size_t nladdr_registry_count(const struct nladdr *nl);
bool nladdr_is_bound(const struct nladdr *nl, unsigned ifindex, const struct in6_addr *addr);

#endif
