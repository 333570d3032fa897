/* Kademlia routing table of BEP 5 for one address family (internal to dht/).
 *
 * Buckets hold k = 8 nodes. Bucket i holds the nodes whose id shares exactly
 * i leading bits with ours; the last bucket holds everything closer, and it is
 * the only one that splits, which is the "split the bucket that contains our
 * id" rule of BEP 5 in array form. A node is good while it answered us within
 * 15 min, questionable after that (or when it has only queried us), bad after
 * ROUTING_MAX_FAILS unanswered queries. A full bucket takes a newcomer only in
 * place of a bad node; otherwise its questionable nodes are handed out to be
 * pinged and the newcomer waits in the bucket's replacement cache. */
#ifndef DHT_ROUTING_H
#define DHT_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/krpc.h"

#define ROUTING_K 8
#define ROUTING_MAX_BUCKETS 160
#define ROUTING_GOOD_MS (15 * 60 * 1000)   /* BEP 5: good for 15 min */
#define ROUTING_MAX_FAILS 3                  /* unanswered queries before bad */

struct routing_node {
	uint8_t id[KRPC_ID_LEN];
	struct krpc_addr addr;
	int64_t last_reply_ms;   /* last response from it; 0: never */
	int64_t last_query_ms;   /* last query from it; 0: never */
	uint8_t fails;           /* our queries it left unanswered, in a row */
	bool is_ping_pending;    /* we were asked to ping it before eviction */
};

struct routing_bucket {
	struct routing_node nodes[ROUTING_K];
	struct routing_node repl[ROUTING_K];   /* replacement cache, newest last */
	uint8_t n, n_repl;
	int64_t last_changed_ms;               /* last reply from or insert of a node */
};

struct routing_table {
	uint8_t self[KRPC_ID_LEN];
	uint8_t family;                        /* AF_INET or AF_INET6 */
	unsigned n_buckets;
	struct routing_bucket b[ROUTING_MAX_BUCKETS];
};

enum routing_result {
	ROUTING_IGNORED = 0,     /* self, wrong family, or id/address conflict */
	ROUTING_UPDATED,         /* known node refreshed */
	ROUTING_INSERTED,
	ROUTING_CACHED,          /* bucket full: kept as a replacement */
};

/* Times are milliseconds of any monotonic clock and must be > 0 (0 means
 * "never" in the node fields). */
void routing_init(struct routing_table *t, const uint8_t self[KRPC_ID_LEN], int family);

/* Records that node (id, addr) sent us a reply (is_reply) or a query. When the
 * bucket is full and holds questionable nodes, up to ROUTING_K of them are
 * copied to ping_out (*n_ping_out set) for the caller to ping. */
enum routing_result routing_heard(struct routing_table *t, const uint8_t id[KRPC_ID_LEN],
				  const struct krpc_addr *addr, bool is_reply, int64_t now_ms,
				  struct routing_node *ping_out, size_t *n_ping_out);

/* One of our queries to addr went unanswered: a node that reaches
 * ROUTING_MAX_FAILS is replaced by the newest cached replacement, if any. */
void routing_failed(struct routing_table *t, const struct krpc_addr *addr);

/* Copies the up to n non-bad nodes closest to target (XOR metric) to out,
 * nearest first. Returns how many. */
size_t routing_closest(const struct routing_table *t, const uint8_t target[KRPC_ID_LEN],
		       struct routing_node *out, size_t n);

/* Counts of good, questionable (incl. never answered) and bad nodes. */
void routing_count(const struct routing_table *t, int64_t now_ms, size_t *good_out,
		   size_t *questionable_out, size_t *bad_out);

/* A bucket not changed for 15 min needs a lookup of a random id in its range:
 * returns 1 and writes that id (rnd supplies the random bits) or 0. Marks the
 * bucket refreshed. */
int routing_refresh_target(struct routing_table *t, int64_t now_ms,
			   const uint8_t rnd[KRPC_ID_LEN], uint8_t target_out[KRPC_ID_LEN]);

/* Every node, good ones first, up to n. Returns how many. */
size_t routing_list(const struct routing_table *t, int64_t now_ms,
		    struct routing_node *out, size_t n);

/* 1 if a's distance to target is smaller than b's, -1 if larger, 0 equal. */
int routing_closer(const uint8_t target[KRPC_ID_LEN], const uint8_t a[KRPC_ID_LEN],
		   const uint8_t b[KRPC_ID_LEN]);

/* BEP 42: a node id for external address ext (its first 21 bits from
 * CRC32-C of the masked address and 3 random bits; the last byte is the
 * random r). rnd supplies 20 random bytes. Returns 0 or -EAFNOSUPPORT. */
int routing_id_bep42(const struct krpc_addr *ext, const uint8_t rnd[KRPC_ID_LEN],
		     uint8_t id_out[KRPC_ID_LEN]);

/* Whether id is BEP 42-conformant for address a. */
bool routing_id_is_bep42(const uint8_t id[KRPC_ID_LEN], const struct krpc_addr *a);

#endif
