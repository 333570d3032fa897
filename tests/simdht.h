/* Foreign DHT nodes for the simulated network (tests/simnet.h): a swarm that
 * resembles the public Mainline DHT, made of model nodes that answer ping,
 * find_node, get_peers and announce_peer the way libtorrent 2.0 and jech/dht
 * 0.25 (Transmission) do, with their limits enforced and every trip counted
 * (docs/DHT.md, "The simulated public DHT", lists what is modelled and the
 * figures it is built from).
 *
 * libtorrent-like: 25 values per get_peers reply (a random subset), 500 peers
 * per info_hash, 2,000 info_hashes, peers kept 45 min; tokens bound to the
 * asker's IP and the info_hash, valid 5-10 min; its DoS blocker (the 50th
 * message from one IP within 10 s bans that IP for 5 min, renewed while it
 * keeps sending) and its output budget (8,000 B/s for all askers together,
 * a reply that does not fit is not sent).
 * jech-like: 50 values per reply (a run of consecutive entries from a random
 * start), 2,048 per info_hash, 16,384 info_hashes, peers kept 32-38 min; port
 * 0 refused (error 203); tokens bound to IP and UDP port, secret rotated every
 * 15-45 min; one global bucket of 100 queries/s (400 at most; a query that
 * finds it empty is dropped), and a socket buffer that overflows on bursts
 * of more than 200 datagrams within 10 ms.
 * Both acknowledge an announce they cannot store (caps reached) and drop it.
 * BEP 44 mutable items: libtorrent-like nodes serve get and put (signature,
 * seq and cas checked, token as for announces, 700 items kept until
 * displaced: the farthest from the node's id goes); jech-like nodes drop
 * both unanswered, as jech's parser knows BEP 5's four methods only.
 * Dead nodes sit in routing tables and never answer (churn).
 *
 * Routing: every model node's table holds up to 8 random nodes of each of
 * its non-empty buckets, drawn from the whole population at creation (a
 * converged Kademlia table), and answers the 8 of them closest to a target.
 * Deterministic under params.seed; memory: ~0.6 kB per node plus 8 bytes per
 * stored peer. */
#ifndef MT6D_TESTS_SIMDHT_H
#define MT6D_TESTS_SIMDHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/simnet.h"

enum simdht_kind { SIMDHT_LT = 0, SIMDHT_JECH, SIMDHT_DEAD, SIMDHT_KINDS };

struct simdht_params {
	int n_nodes;              /* model nodes: the simnet's nodes [0, n_nodes) */
	double jech_share;        /* jech-like share of the nodes */
	double dead_share;        /* silent share of the nodes */
	uint64_t seed;
	int64_t min_delay_ms, max_delay_ms; /* each node's one-way latency (added to simnet's 5-34 ms) */
	int watch_lo, watch_hi;   /* simnet nodes [lo, hi): "us", whose peak rates are recorded */
	/* Limits (0: the measured values above). */
	uint32_t lt_out_bps;      /* libtorrent output budget, bytes/s */
	uint32_t jech_qps;        /* jech global query budget per second */
};

/* A limit tripped: any of these non-zero fails a run. */
struct simdht_trips {
	uint64_t lt_bans;         /* (node, source IP) bans: the 50th message within 10 s */
	uint64_t lt_banned_drops; /* messages dropped from banned sources */
	uint64_t lt_budget_drops; /* replies not sent: output budget spent */
	uint64_t jech_budget_drops; /* queries dropped: global bucket empty */
	uint64_t jech_overflows;  /* datagrams lost to a burst */
};

struct simdht_stats {
	struct simdht_trips trips;
	uint64_t queries[SIMDHT_KINDS];   /* received, by node kind */
	uint64_t announces, stored, store_dropped; /* announce_peer accepted; kept; acknowledged but dropped (caps) */
	uint64_t bad_tokens, port0_refused, expired;
	uint64_t peers_now;       /* stored right now, all nodes */
	uint64_t hashes_now;
	/* BEP 44 (libtorrent-like nodes; jech-like ones drop get and put). */
	uint64_t puts, items_stored, item_bad_sigs, items_evicted, items_dropped, items_now;
	uint64_t jech_item_drops;
	/* Peaks over nodes, from the watched sources only. */
	uint32_t peak_src_count;  /* libtorrent DoS counter of one source at one node (ban at 50) */
	uint32_t peak_node_qps;   /* queries one node received in one second */
	uint32_t peak_node_out_bps; /* reply bytes one node sent in one second */
	uint32_t peak_jech_bucket_used; /* of one jech node's 400-query bucket, at its lowest */
};

struct simdht;

/* Builds the model over net's nodes [0, params->n_nodes), which must be
 * model nodes (simnet_init_models), and installs net->model_input and
 * model_ctx. Returns 0 and *out, or -EINVAL / -ENOMEM. */
int simdht_new(struct simnet *net, const struct simdht_params *params, struct simdht **out);
void simdht_free(struct simdht *m);

enum simdht_kind simdht_kind_of(const struct simdht *m, int node);
/* A live node at random (for bootstrapping), from the model's own stream. */
int simdht_random_live(struct simdht *m);
void simdht_get_stats(struct simdht *m, struct simdht_stats *out);

/* A census of what the swarm holds now: for each of n info_hashes, how many
 * nodes hold at least min_values[i] unexpired values under it from one
 * source node of [src_lo, src_hi) (holders[i]). 0, -EINVAL or -ENOMEM. */
int simdht_count_holders(struct simdht *m, const uint8_t (*ih)[20], const uint16_t *min_values, size_t n,
			 int src_lo, int src_hi, uint16_t *holders);

#endif
