/* dhtev: a DHT node (dht/dht.h) on one UDP socket in a libev loop: one ev_io
 * on the socket and one ev_timer following dht_tick's deadline (docs/
 * ARCHITECTURE.md, "Conventions"). Used by mt6d-dhtnode, the mt6d CLI's rendezvous and, later, the
 * daemons.
 *
 * Users that start DHT operations, or that run their own deadline-driven
 * state on top of the node (pubsched.h, fetch.h), register a hook: it is called
 * after every batch of input and at every timer expiry with the current time,
 * and returns the time at which it wants to be called again. */
#ifndef MT6D_DHTEV_H
#define MT6D_DHTEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct dht;
struct dht_config;
struct dhtev;

/* Returns the next deadline (dhtev_now_ms clock), or INT64_MAX for none. */
typedef int64_t dhtev_hook_fn(void *ctx, int64_t now_ms);

/* The monotonic clock every dhtev node passes to dht/ (milliseconds, > 0). */
int64_t dhtev_now_ms(void);

/* UNIX time in milliseconds (CLOCK_REALTIME), for rendezvous windows. */
int64_t dhtev_unix_ms(void);

/* Opens a UDP socket bound to listen_addr (IPv6 or IPv4 literal) and port,
 * creates the node with cfg (may be NULL) and starts its watchers on loop.
 * On failure returns -errno and writes what failed to msg. */
int dhtev_new(struct ev_loop *loop, const char *listen_addr, uint16_t port,
	      const struct dht_config *cfg, struct dhtev **out, char *msg, size_t msg_len);

/* Stops the watchers, frees the node and closes the socket. NULL is fine. */
void dhtev_free(struct dhtev *n);

/* The node, borrowed (owned by n). */
struct dht *dhtev_dht(struct dhtev *n);

/* AF_INET6 or AF_INET: the family of the socket, hence of lookups. */
int dhtev_family(const struct dhtev *n);

/* Contacts bootstrap nodes: a comma-separated list of host:port or
 * [v6]:port (names resolved for the socket's family). Returns how many
 * addresses were added (> 0), or -EINVAL / -EHOSTUNREACH with the failing
 * entry in msg. */
int dhtev_add_bootstrap(struct dhtev *n, const char *list, char *msg, size_t msg_len);

/* The source address the kernel picks for a socket of family (AF_INET6 or
 * AF_INET) sending to the first reachable entry of a bootstrap list (same
 * format as dhtev_add_bootstrap): our address as the DHT sees it where
 * there is no NAT, for a BEP 42 node id when we listen on a wildcard.
 * Sends nothing. Returns 0, or -EHOSTUNREACH / -ENOMEM. */
int dhtev_source_address(int family, const char *list, struct sockaddr_storage *out,
			 socklen_t *out_len);

/* Sets the hook (NULL: none). */
void dhtev_set_hook(struct dhtev *n, dhtev_hook_fn *hook, void *ctx);

/* Runs dht_tick and the hook now and re-arms the timer: call after starting
 * operations from outside a dhtev callback. */
void dhtev_kick(struct dhtev *n);

#endif
