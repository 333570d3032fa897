/* One publication round of a rendezvous channel (port stuffing:
 * mt6d/engine/pubsched_peers.c and fetch.c; BEP 44 items: pubsched_items.c and
 * itemfetch.c) in a simulated swarm of
 * foreign nodes (tests/simdht.h), shared by bench_round (10,000 nodes,
 * 15,000 clients) and test_simround (a small one in make check).
 *
 * The publisher (n_sources of our real DHT nodes, one source address each)
 * joins the swarm for join_s, gets every client registered and the config
 * of the window that started 1 s ago (a fresh server's catch-up, the
 * heaviest case: every client due within urgent_spread_s); the round runs until every client's config
 * is announced or the window ends. Then n_samples fetches (mt6d/engine/
 * fetch.c, each on a fresh read-only node, for a client drawn at random) run
 * at random times over the rest of the window, at most 8 at once; a sample
 * counts as opened when it returns the current epoch's config.
 *
 * Virtual time: the round of 15,000 clients takes minutes of CPU, not of
 * wall clock per virtual second. Deterministic under seed. */
#ifndef MT6D_TESTS_SIMROUND_H
#define MT6D_TESTS_SIMROUND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mt6d/engine/pubsched.h"
#include "tests/simdht.h"

enum simround_channel { SIMROUND_STUFFING = 0, SIMROUND_ITEMS };

struct simround_params {
	enum simround_channel channel; /* port stuffing or BEP 44 items (pubsched.h) */
	int n_nodes;              /* foreign nodes */
	int n_clients;
	int n_sources;            /* publisher's nodes (source addresses) */
	int n_samples;            /* sampled fetches */
	double jech_share, dead_share;
	int64_t min_delay_ms, max_delay_ms; /* foreign nodes' one-way latency */
	uint64_t seed;
	uint32_t period_s;
	uint32_t join_s;
	uint32_t urgent_spread_s; /* pubsched_params' (0: its default, what the server uses) */
	uint32_t sample_span_s;   /* samples over this long after the round (0: the rest of the window) */
	bool verbose;             /* progress lines on stderr */
};

/* Defaults: 10,000 nodes (30 % jech-like, 5 % dead, 10-150 ms), 15,000
 * clients, 48 sources, 200 samples, a 900 s period, 60 s of join. */
void simround_params_default(struct simround_params *p);

struct simround_chan_stats {
	size_t publications;      /* client configs stored (refreshes included) */
	size_t failures;          /* retried */
	size_t ops_started;       /* chunk announces, or item puts */
	size_t acked;             /* announce_peer or put queries acknowledged */
	size_t in_flight;
};

struct simround_result {
	const char *channel;      /* "stuffing" (port stuffing) or "items" (BEP 44) */
	int floor_datagrams;      /* the fewest datagrams per client the channel can take (its stores alone) */
	struct simround_params prm;
	int window_done;          /* every client announced before the window ended */
	double round_s;           /* from the config to the last client announced (or the window's end) */
	double window_s;          /* the time the round had: the rest of the window */
	uint64_t pub_datagrams, pub_bytes;  /* the publisher's, during the round */
	uint64_t join_datagrams;
	double pub_cpu_s;         /* its nodes' dht_input/dht_tick and pubsched_tick */
	struct simround_chan_stats pst;
	struct simdht_stats mst;  /* at the end of the window */
	int samples, opened;      /* fetches done; of which opened the current config */
	int fetch_fail[6];        /* by reason: nothing, not authentic, expired, no nodes, timeout, other */
	double fetch_ms_p50, fetch_ms_p95;
	/* Census at the window's end: every client's chunks of the current
	 * epoch, complete on how many nodes (all clients, not a sample). */
	int clients_stored;       /* every chunk complete on at least one node */
	int chunk_holders_min, chunk_holders_p50;
	uint64_t trips;           /* sum of mst.trips */
	double sim_wall_s, sim_cpu_s;
	long max_rss_kb;
};

/* Runs it; 0, or -errno when the simulation could not be set up. */
int simround_run(const struct simround_params *prm, struct simround_result *out);

/* "key value" lines (bench_round's output, bench/rendezvous.sh reads them). */
void simround_print(const struct simround_result *r, FILE *f);

#endif
