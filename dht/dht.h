/* dht: our BitTorrent Mainline DHT node (BEP 5, BEP 32, BEP 42, BEP 43 and
 * BEP 44 mutable items), the only public header of dht/.
 *
 * The node is a struct driven from outside: the host feeds received datagrams
 * to dht_input and calls dht_tick at the deadline it returns; the node sends
 * through ops->send and draws randomness from ops->random. It reads no clock
 * (every call takes now_ms, any monotonic milliseconds > 0), opens no socket
 * and allocates only at creation and per operation, so several nodes can run
 * in one process over a simulated network.
 *
 * Limits (compile-time): DHT_MAX_OPS concurrent operations, DHT_MAX_PORTS
 * ports per announce, DHT_MAX_VALUES values collected per operation; the
 * routing table, storage and rate limits are bounded as documented in
 * dht/routing.h and dht/peerstore.h. */
#ifndef DHT_DHT_H
#define DHT_DHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DHT_ID_LEN 20
#define DHT_MAX_OPS 32
#define DHT_MAX_PORTS 256
#define DHT_MAX_VALUES 1024
#define DHT_K 8
/* Outgoing messages to any one IP address are paced to one per DHT_PACE_MS
 * after a burst of DHT_PACE_BURST: at most 8 + 30 = 38 in any 10 s, while
 * libtorrent bans a source at its 50th message within 10 s (docs/LAB.md). */
#define DHT_PACE_MS 333
#define DHT_PACE_BURST 8
/* Of that burst, the last DHT_PACE_RESERVE messages are kept for lookup
 * queries: announces and collect's repeated get_peers (bulk) leave only while
 * the bucket holds more, so a lookup never waits behind a node's backlog of
 * announces (several announce-many operations on the same few nodes would
 * otherwise starve every later lookup until LOOKUP_MAX_MS). The bound per
 * destination (38 in 10 s) is the same for both kinds together. */
#define DHT_PACE_RESERVE 3
/* The replies we ask of any one node are paced too, by their expected size:
 * libtorrent answers everyone within an output budget of 8,000 B/s (a bucket
 * of 8,000 B: docs/LAB.md) and drops what exceeds it, so a burst of eight
 * get_peers (~1,000 B replies with values and nodes) from us alone empties
 * it and the later answers are lost (our queries then wait out their
 * timeout). We ask for at most DHT_REPLY_RATE B/s of replies, in bursts of
 * DHT_REPLY_BURST B: half of that budget, the other half for its other
 * askers. */
#define DHT_REPLY_RATE 4000
#define DHT_REPLY_BURST 4000
#define DHT_REPLY_GET_PEERS 1000   /* expected reply sizes, bytes */
#define DHT_REPLY_FIND_NODE 400
#define DHT_REPLY_SMALL 100        /* ping, announce_peer, put */
/* An unanswered query counts as failed after this long. */
#define DHT_QUERY_TIMEOUT_MS 2000
#define DHT_STATE_MAX_LEN (8 + DHT_ID_LEN + 2 + 2 * 160 * 8 * 39)

/* Public bootstrap routers of the Mainline DHT, for daemons' default
 * configuration only (tests always pass their own nodes). */
#define DHT_DEFAULT_BOOTSTRAP \
	"router.bittorrent.com:6881,dht.transmissionbt.com:6881,router.utorrent.com:6881"

struct dht;

struct dht_ops {
	/* Sends one datagram to `to`. Returns 0 or -errno (counted, not retried). */
	int (*send)(void *ctx, const uint8_t *buf, size_t len,
		    const struct sockaddr *to, socklen_t to_len);
	/* Fills buf with len unpredictable bytes (ids, secrets, transaction ids). */
	void (*random)(void *ctx, uint8_t *buf, size_t len);
	/* Optional: one line of debugging text, without newline. */
	void (*debug)(void *ctx, const char *line);
};

struct dht_config {
	/* Node id: if NULL, taken from state, else BEP 42 from external, else
	 * random. */
	const uint8_t *id;
	/* Our address as the DHT sees it, when known (for a BEP 42 id). */
	const struct sockaddr *external;
	socklen_t external_len;
	/* Output of dht_save from an earlier run, or NULL: restores the id
	 * (unless id is given, or external is given and the saved id is not
	 * BEP 42-conformant for it) and the saved nodes, pinged at once. */
	const uint8_t *state;
	size_t state_len;
	/* BEP 43: our queries carry "ro": 1, so that others leave us out of
	 * their routing tables. For short-lived clients, which would otherwise
	 * linger in tables as dead nodes after they leave. */
	bool is_read_only;
};

/* A compact peer (a stored value): family is AF_INET or AF_INET6, an IPv4
 * address in addr[0..4). */
struct dht_peer {
	int family;
	uint16_t port;
	uint8_t addr[16];
};

struct dht_node_info {
	uint8_t id[DHT_ID_LEN];
	struct dht_peer addr;
};

/* A BEP 44 mutable item: public key k, signature sig over
 * dht_item_signed_data(salt, seq, v), v bencoded (a byte string "63:..."
 * or any other value), at most DHT_ITEM_MAX_V bytes. */
#define DHT_ITEM_KEY_LEN 32
#define DHT_ITEM_SIG_LEN 64
#define DHT_ITEM_MAX_V 1000
#define DHT_ITEM_MAX_SALT 64

struct dht_item {
	uint8_t k[DHT_ITEM_KEY_LEN];
	uint8_t sig[DHT_ITEM_SIG_LEN];
	int64_t seq;                      /* >= 0 */
	uint8_t salt[DHT_ITEM_MAX_SALT];
	size_t salt_len;
	uint8_t v[DHT_ITEM_MAX_V];
	size_t v_len;
};

enum dht_event {
	DHT_EVENT_VALUES = 1, /* collect: one node's complete value set, once per node */
	DHT_EVENT_DONE,       /* the operation ended; last callback for it */
	DHT_EVENT_STORED,     /* announce, put: one node and how many it acknowledged */
	DHT_EVENT_ITEM,       /* get: an authentic item with a higher seq than before */
};

struct dht_result {
	enum dht_event event;
	int op;                           /* id returned when it was started */
	int status;                       /* DONE: 0, -ETIMEDOUT (no node answered) */
	const uint8_t *target;            /* target or info_hash, DHT_ID_LEN bytes */
	const struct dht_node_info *node; /* VALUES, STORED: the node concerned */
	const struct dht_peer *peers;     /* VALUES: that node's; DONE: the union */
	size_t n_peers;
	const struct dht_node_info *nodes; /* DONE: closest nodes that answered */
	size_t n_nodes;
	size_t n_tokens;                  /* DONE, announce: nodes that gave a token */
	size_t n_announced;               /* DONE: announces acknowledged in all;
	                                   * STORED: by this node */
	size_t n_queries;                 /* DONE: queries this operation sent */
	const struct dht_item *item;      /* ITEM; DONE of a get: the best, or NULL */
	int error_code;                   /* STORED of a put: a node's KRPC error, or 0 */
	size_t n_stored;                  /* DONE, announce, put: nodes that acknowledged every port
	                                   * (put: the item) */
	size_t n_wanted;                  /* DONE, announce, put: the quorum (dht_store_quorum()) less
	                                   * the nodes that refused an announce */
};

/* Called with results; everything it points to is borrowed for the call. */
typedef void dht_result_fn(void *closure, const struct dht_result *result);

struct dht_stats {
	uint8_t id[DHT_ID_LEN];
	size_t good4, questionable4, bad4, buckets4;  /* IPv4 routing table */
	size_t good6, questionable6, bad6, buckets6;  /* IPv6 routing table */
	size_t stored_hashes, stored_peers, stored_items;
	size_t ops_active;
	uint64_t rx, rx_malformed, rx_rate_limited, rx_bad_token;
	uint64_t tx, tx_errors, queries_timed_out, store_refused;
};

/* Creates a node. ops is copied; ctx is passed to every op. Returns 0 and
 * *out, or -ENOMEM / -EINVAL (bad state blob is -EINVAL). */
int dht_new(const struct dht_ops *ops, void *ctx, const struct dht_config *cfg,
	    int64_t now_ms, struct dht **out);
/* Frees the node; pending operations end without callbacks. NULL is fine. */
void dht_free(struct dht *d);

/* One received datagram from `from`. Malformed input is counted and dropped. */
void dht_input(struct dht *d, const uint8_t *buf, size_t len,
	       const struct sockaddr *from, socklen_t from_len, int64_t now_ms);

/* Runs timers (timeouts, pacing, maintenance); returns the time (ms, same
 * clock) at which it wants to be called again. */
int64_t dht_tick(struct dht *d, int64_t now_ms);

/* Contacts a node we know only by address (bootstrap): it is asked for the
 * nodes near our id and remembered for rejoining when the table empties.
 * Returns 0 or -EINVAL / -ENOSPC. */
int dht_add_node(struct dht *d, const struct sockaddr *sa, socklen_t len, int64_t now_ms);

/* Operations. family is AF_INET or AF_INET6 (which table and which peers).
 * Each returns an operation id > 0 or -errno (-EBUSY at DHT_MAX_OPS,
 * -EINVAL, -ENETUNREACH when no node or bootstrap address is known to ask);
 * cb is called for its events, last with DHT_EVENT_DONE. */

/* Iterative find_node for target; DONE lists the closest nodes. */
int dht_find_node(struct dht *d, const uint8_t target[DHT_ID_LEN], int family,
		  dht_result_fn *cb, void *closure, int64_t now_ms);
/* Iterative get_peers; DONE carries every value seen on the way. */
int dht_get_peers(struct dht *d, const uint8_t info_hash[DHT_ID_LEN], int family,
		  dht_result_fn *cb, void *closure, int64_t now_ms);
/* Announce-many: one get_peers lookup collects tokens from the k closest
 * nodes, then each of ports (1..DHT_MAX_PORTS of them, none 0) is announced
 * to each of those nodes, paced per node (DHT_PACE_*). Before DONE, one
 * STORED event per node that was given a token says how many it took. */
int dht_announce(struct dht *d, const uint8_t info_hash[DHT_ID_LEN], int family,
		 const uint16_t *ports, size_t n_ports,
		 dht_result_fn *cb, void *closure, int64_t now_ms);
/* Collect: a get_peers lookup, then the k closest nodes are asked again
 * while their answers still grow; VALUES per node, DONE with the union. A
 * node whose lookup reply holds fewer values than its per-reply budget has
 * no more: its VALUES comes at once, during the lookup (a reader can open
 * what it has and cancel the operation); the others' after their re-asks. */
int dht_collect(struct dht *d, const uint8_t info_hash[DHT_ID_LEN], int family,
		dht_result_fn *cb, void *closure, int64_t now_ms);
/* How many of a target's closest nodes should store an announce for it to
 * count as stored: all but two of min(DHT_K, reachable) and at least one,
 * where reachable is the larger of the nodes that gave a token and the
 * live nodes of our routing table (a lookup that lost its slots to departed
 * nodes finds fewer than there are, and must not lower the bar; for a put,
 * less the nodes its lookup asked that never answered "get" or refused it:
 * they cannot hold items). Two may miss: a node that refuses (full) or a
 * lost datagram. */
size_t dht_store_quorum(size_t n_tokens, size_t n_live);

/* Ends an operation without further callbacks. Returns 0 or -ENOENT. */
int dht_cancel(struct dht *d, int op);

/* BEP 44. The target of an item: SHA-1(k || salt). */
void dht_item_target(const uint8_t k[DHT_ITEM_KEY_LEN], const uint8_t *salt, size_t salt_len,
		     uint8_t target_out[DHT_ID_LEN]);
/* The bytes a writer signs for (salt, seq, v). Returns the length or
 * -ENOBUFS. */
int dht_item_signed_data(uint8_t *buf, size_t cap, const uint8_t *salt, size_t salt_len,
			 int64_t seq, const uint8_t *v, size_t v_len);
/* Get: a lookup of target with "get" queries; every reply holding an item
 * whose k and salt give target, whose signature holds and whose seq is
 * higher than any seen yet is an ITEM event; DONE carries the best. */
int dht_get_item(struct dht *d, const uint8_t target[DHT_ID_LEN], const uint8_t *salt,
		 size_t salt_len, int family, dht_result_fn *cb, void *closure, int64_t now_ms);
/* Put: a "get" lookup of the item's target collects tokens from the k
 * closest nodes, then each gets one "put" (paced per node). One STORED per
 * node that gave a token (n_announced 1 if it acknowledged, error_code if
 * it refused), then DONE (n_announced: acknowledgements). The item must be
 * signed (checked: -EINVAL). */
int dht_put_item(struct dht *d, const struct dht_item *item, int family,
		 dht_result_fn *cb, void *closure, int64_t now_ms);

void dht_get_stats(const struct dht *d, int64_t now_ms, struct dht_stats *out);

/* BEP 42: writes to id_out a node id valid for the address addr (AF_INET,
 * AF_INET6, or IPv4-mapped): its first 21 bits are CRC32-C of the masked
 * address (for IPv6 only the first 8 bytes count) with rnd[19]'s low 3
 * bits, the rest is rnd. Returns 0 or -EAFNOSUPPORT. */
int dht_id_for_address(const struct sockaddr *addr, socklen_t addr_len,
		       const uint8_t rnd[DHT_ID_LEN], uint8_t id_out[DHT_ID_LEN]);
/* Whether id is BEP 42-valid for addr. */
bool dht_id_is_valid_for(const uint8_t id[DHT_ID_LEN], const struct sockaddr *addr,
			 socklen_t addr_len);

/* Writes our id and routing-table nodes (good first) to buf: a small binary
 * format ("MT6DDHT1", id, count, then family byte + 20-byte id + address +
 * port per node). Returns the length or -ENOBUFS. */
int dht_save(const struct dht *d, int64_t now_ms, uint8_t *buf, size_t cap);
/* The same format with at most max_nodes nodes per family, drawn at random
 * (ops->random) among the best of the table: to start a node under a new
 * identity from a few of ours without pinging our whole table from it (a
 * DHT observer would recognise the set). Returns the length or -ENOBUFS. */
int dht_save_sample(const struct dht *d, int64_t now_ms, size_t max_nodes, uint8_t *buf, size_t cap);

#endif
