/* Internal to dht/: the node's state and the helpers its two halves share.
 * dht.c serves other nodes (BEP 5 queries), keeps the routing table, pings
 * and pacing; lookup.c runs our own iterative operations (find_node,
 * get_peers, announce, collect). Nothing outside dht/ and its tests includes
 * this header. */
#ifndef DHT_NODE_H
#define DHT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "dht/dht.h"
#include "dht/itemstore.h"
#include "dht/krpc.h"
#include "dht/peerstore.h"
#include "dht/routing.h"

#define MAX_CANDS 64          /* candidates kept per lookup, nearest first */
#define MAX_PINGS 64          /* stand-alone queries (pings, bootstrap) in flight */
#define MAX_BOOTSTRAP 16
#define PACER_SLOTS 512
#define PACER_PROBES 8
#define ALPHA 4               /* lookup parallelism (BEP 5 / Kademlia: 3) */
/* A collect started while our table holds fewer than SMALL_TABLE live nodes
 * (a small swarm: every lookup asks the same few nodes) keeps only
 * COLLECT_ALPHA queries in flight. A reader's ~13 collects at once (a
 * message's 11 chunks, 2 scouts) sent 4 each, twice what 8 nodes' reply
 * budgets (DHT_REPLY_BURST) take at once, and the last chunks' first
 * answers waited 100 ms per round behind the others' extra queries. */
#define SMALL_TABLE (2 * DHT_K)
#define COLLECT_ALPHA 2
/* A lookup query unanswered for longer than the round trips of this node
 * usually take is "slow" (libtorrent's short timeout, which is a fixed 1 s
 * there): it stops holding one of the ALPHA slots and stops counting among
 * the k nearest, so a departed node costs this, not DHT_QUERY_TIMEOUT_MS.
 * A late answer is still used; silence until the full timeout still fails
 * the node. The limit is TCP's retransmission timeout (RFC 6298: smoothed
 * RTT + 4 x its mean deviation, over every answer we get) kept within
 * [MIN, MAX]: in the lab answers come within a few ms and a departed node
 * costs QUERY_SLOW_MIN_MS; on the Internet (RTTs of 50-500 ms) it stays
 * near libtorrent's 1 s. Marking a live node slow too early costs only an
 * extra query in parallel, not its answer. */
#define QUERY_SLOW_MIN_MS 200
#define QUERY_SLOW_MAX_MS 1000
/* The least a get holding an item waits for the other closest nodes'
 * answers (lookup.c, query_settle_ms). */
#define QUERY_SETTLE_MIN_MS 50
#define LOOKUP_MAX_MS 30000
#define COLLECT_MAX_QUERIES 16  /* per node */
#define COLLECT_STALE_STOP 2    /* replies in a row with nothing new */
/* The smallest per-reply value budget among real nodes (libtorrent: 25 to an
 * IPv6 asker, docs/LAB.md): a reply with fewer values holds all the node has.
 * Our own nodes (version "MT") answer with up to PEERSTORE_MAX_VALUES, so
 * fewer than that from them is complete too. */
#define COLLECT_SMALL_REPLY 25
#define MAINT_FAST_MS 10000   /* self-lookup period while the table is thin */
#define MAINT_SLOW_MS (5 * 60 * 1000)
#define EXPIRE_EVERY_MS 60000
#define REPLY_CAP 1400        /* our datagrams stay below common path MTUs */
#define TID_LEN 4             /* [op slot or PING_SLOT][3-byte nonce] */
#define PING_SLOT 0xff
#define SEEN_BYTES (DHT_MAX_VALUES / 8)
#define PACE_SHARE 8          /* concurrent operations one node may serve */


enum op_kind { OP_FIND_NODE = 1, OP_GET_PEERS, OP_ANNOUNCE, OP_COLLECT, OP_MAINT,
	       OP_GET_ITEM, OP_PUT_ITEM };
enum op_phase { PH_LOOKUP = 1, PH_ANNOUNCE, PH_COLLECT };
enum cand_state { C_NEW = 0, C_INFLIGHT, C_REPLIED, C_FAILED };

struct cand {
	uint8_t id[DHT_ID_LEN];
	bool has_id;                 /* false for bootstrap addresses */
	struct krpc_addr addr;
	uint8_t state;               /* enum cand_state */
	int64_t sent_ms;
	uint8_t token[KRPC_MAX_TOKEN];
	uint8_t token_len;
	uint16_t last_n_values;      /* values in its latest reply */
	uint16_t reply_budget;       /* fewer values than this: the node has no more */
	bool is_target;              /* among the k closest for announce/collect */
	bool is_busy;                /* announce/collect query in flight */
	bool is_done;                /* announce/collect finished for this node */
	bool is_refused;             /* announce: it answered one with an error (full, bad token) */
	bool is_reported;            /* collect: its VALUES went out with its lookup reply */
	uint16_t next_port;          /* announce: index of the next port to send */
	uint16_t n_acked;
	uint16_t error_code;         /* put: the node's KRPC error */
	uint8_t n_queries, n_stale;  /* collect */
	uint8_t seen[SEEN_BYTES];    /* bitmap over op->values it returned */
};

struct op {
	int id;
	uint8_t kind, phase, family;
	uint8_t alpha;               /* lookup queries in flight at most */
	bool is_finished;            /* DONE delivered or being delivered */
	bool is_cancelled;           /* cancelled from its own callback */
	uint8_t nonce[3];
	uint8_t target[DHT_ID_LEN];
	dht_result_fn *cb;
	void *closure;
	int64_t started_ms, deadline_ms, phase_ms;
	size_t n_queries;
	size_t n_cands;
	struct cand c[MAX_CANDS];
	size_t n_ports;
	uint16_t ports[DHT_MAX_PORTS];
	size_t n_values;
	struct dht_peer values[DHT_MAX_VALUES];
	/* Items (items.c): the item to put, or the best one a get has seen. */
	bool has_item;
	struct dht_item item;
};

/* A stand-alone query (slot PING_SLOT), or one left unanswered by an
 * operation that has ended (slot: the op's, nonce: its nonce), watched until
 * it is answered or times out so the routing table learns either way. */
struct ping {
	bool in_use;
	uint8_t slot;
	struct krpc_addr addr;
	uint8_t nonce[3];
	int64_t sent_ms;
};

/* Pacing per destination IP: a token bucket in GCRA form. tat_ms is the
 * theoretical arrival time of the next message; a message may leave while
 * tat_ms - now <= (DHT_PACE_BURST - 1) * DHT_PACE_MS. A slot whose tat_ms
 * has passed holds a full bucket, the same as no slot, so it can be reused. */
struct pacer_slot {
	struct krpc_addr key;        /* port zeroed; family 0: never used */
	int64_t tat_ms;
	int64_t reply_tat_ms;        /* the same over the expected reply bytes (DHT_REPLY_*) */
};

struct dht {
	struct dht_ops ops;
	void *ctx;
	uint8_t id[DHT_ID_LEN];
	struct routing_table rt[2];  /* [0] IPv4, [1] IPv6 */
	struct peerstore ps;
	struct itemstore items;
	struct op *op[DHT_MAX_OPS];
	int next_op_id;
	int maint_op[2];
	struct ping pings[MAX_PINGS];
	struct krpc_addr boot[MAX_BOOTSTRAP];
	size_t n_boot;
	struct pacer_slot pacer[PACER_SLOTS];
	int64_t last_maint_ms[2], last_expire_ms, last_boot_ms;
	struct op *running;          /* op whose code is on the stack, if any */
	bool is_joined[2];           /* first full table seen: buckets refreshed */
	bool is_read_only;           /* BEP 43: our queries say "ro" */
	bool is_ticking;             /* in dht_tick's op loop: stores may send */
	bool has_rtt;                /* srtt_us and rttvar_us hold a sample */
	int64_t srtt_us, rttvar_us;  /* answers' round trip: smoothed, mean deviation */
	struct dht_stats st;
	const struct dht_item *starting_item; /* set around op_start by items.c */
	struct krpc_msg in, out;     /* scratch: too big for the stack */
	uint8_t buf[REPLY_CAP];
};

/* The version our messages carry ("v"), by which our nodes know each other. */
static const uint8_t our_version[4] = { 'M', 'T', 0, 1 };

/* dht.c */
void dbg(struct dht *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fam_index(int family);
void peer_from_addr(const struct krpc_addr *a, struct dht_peer *p);
bool is_martian(const struct krpc_addr *a);
int send_msg(struct dht *d, const struct krpc_msg *m, const struct krpc_addr *to);
bool pacer_is_ready(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms);
bool pacer_is_ready_bulk(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms);
void pacer_note(struct dht *d, const struct krpc_addr *a, uint8_t method, int64_t now_ms);
void query_init(struct dht *d, struct krpc_msg *m, uint8_t method, uint8_t slot,
		       const uint8_t nonce[3], int family);

/* items.c: BEP 44 queries served, and the item side of our operations. */
void items_serve_get(struct dht *d, const struct krpc_msg *q, struct krpc_msg *r,
		     const struct krpc_addr *from, int64_t now_ms);
/* 0, or the KRPC error code to answer a put with. */
int items_serve_put(struct dht *d, const struct krpc_msg *q, const struct krpc_addr *from,
		    int64_t now_ms);
bool op_is_item(const struct op *o);
void items_on_reply(struct dht *d, struct op *o, const struct krpc_msg *m);
void items_fill_put(const struct op *o, struct krpc_msg *q);

/* lookup.c */
void rtt_sample(struct dht *d, int64_t rtt_ms);
void op_run(struct dht *d, struct op *o, int64_t now_ms);
void op_on_message(struct dht *d, struct op *o, const struct krpc_msg *m,
			  const struct krpc_addr *from, int64_t now_ms);
void op_timeouts(struct dht *d, struct op *o, int64_t now_ms);
int op_start(struct dht *d, uint8_t kind, const uint8_t *target, int family,
		    const uint16_t *ports, size_t n_ports, dht_result_fn *cb, void *closure,
		    int64_t now_ms);

#endif
