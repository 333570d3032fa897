/* A simulated IPv6 network of our real DHT nodes (dht/), many in one
 * process, shared by the unit tests (test_dht, test_publish) and
 * bench_rendezvous: datagrams are delivered in memory 5-34 ms after they are
 * sent (plus the sender's delay_ms), and a virtual clock in milliseconds
 * drives dht_tick, so pacing costs no wall time. Deterministic: every random
 * number comes from xorshift streams with fixed seeds.
 *
 * Node i has the address 2001:db8::<i + 1>, port 6881. The caller owns the
 * struct; simnet_init creates the nodes, simnet_fini frees them.
 *
 * Model nodes (simnet_init_models): the first n_models nodes have no struct
 * dht; what they receive goes to the model_input hook, which answers with
 * simnet_send. They are never ticked, so a swarm of 10,000 of them costs
 * the loop nothing between datagrams (tests/simdht.h models foreign nodes
 * this way). */
#ifndef MT6D_TESTS_SIMNET_H
#define MT6D_TESTS_SIMNET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"

struct simnet_pkt;
struct simnet_qent;
struct simnet;

struct simnet_node {
	struct simnet *net;         /* its network */
	struct dht *d;
	int idx;
	bool is_alive;              /* false: receives nothing, is not ticked */
	bool is_measured;           /* add the thread CPU time of its dht_* calls to cpu_s */
	int64_t delay_ms;           /* added to everything it sends (a slow node) */
	uint64_t rng;               /* its dht_ops.random stream */
	int64_t deadline;           /* next dht_tick, virtual ms */
	struct sockaddr_in6 addr;
	uint64_t tx, tx_bytes, rx;  /* datagrams sent (and their bytes), received */
	double cpu_s;               /* when is_measured */
};

struct simnet {
	struct simnet_node *n;
	int n_nodes;
	int n_models;               /* nodes [0, n_models) are model nodes (no struct dht) */
	int64_t now;                /* virtual ms */
	uint64_t rng;               /* latencies */
	uint64_t sent;              /* every datagram any node sent */
	uint64_t bad_deadlines;     /* dht_tick returned a deadline not after now */
	int measure_every;          /* > 1: time one in that many measured calls, scaled (the clock is a syscall) */
	uint64_t measure_rng;
	int tick_within_ms;         /* > 0: after each step, every node is ticked within this */
	int debug_node;             /* its dht debug lines go to stderr; -1: none */
	/* Optional hooks, all given ctx. on_send: false drops the datagram
	 * (to is -1 for an unknown address). on_input: after a datagram was
	 * delivered to a node. step: once per step, after deliveries and node
	 * ticks; returns the hook's next deadline (INT64_MAX: none). */
	void *ctx;
	bool (*on_send)(void *ctx, const struct simnet_node *from, int to, const uint8_t *buf,
			size_t len);
	void (*on_input)(void *ctx, struct simnet_node *to);
	int64_t (*step)(void *ctx, int64_t now);
	/* Model nodes: a datagram delivered to one of them (to->d is NULL),
	 * given model_ctx. */
	void *model_ctx;
	void (*model_input)(void *model_ctx, struct simnet_node *to, const uint8_t *buf, size_t len,
			    const struct sockaddr_in6 *from);
	int64_t step_deadline;      /* step's last answer; set to now to have it called at once */
	/* Private. */
	struct simnet_qent *q;      /* min-heap by (at_ms, seq) of pool indices */
	size_t n_q, cap_q;
	struct simnet_pkt *pool;    /* datagrams in flight; free ones chained by free_pkt */
	size_t cap_pool;
	uint32_t free_pkt;
	uint64_t seq;
};

/* The dht_ops of every node (ctx: its struct simnet_node), for callers that
 * replace a node's struct dht (dht_new on a saved state). */
extern const struct dht_ops simnet_ops;

/* Creates n_nodes live nodes at virtual time now_ms; 0 or -errno. */
int simnet_init(struct simnet *net, int n_nodes, int64_t now_ms);
/* The same, nodes [0, n_models) being model nodes (no struct dht). */
int simnet_init_models(struct simnet *net, int n_nodes, int n_models, int64_t now_ms);

/* Sends a datagram from node `from` (a model node's reply), as its dht_ops.send
 * does: 0 or -errno. */
int simnet_send(struct simnet_node *from, const uint8_t *buf, size_t len, const struct sockaddr *to,
		socklen_t to_len);
void simnet_fini(struct simnet *net);

/* Runs the network until `until_ms` (absolute), or until *stop is true. */
void simnet_run(struct simnet *net, int64_t until_ms, const bool *stop);

/* Every node but node 0 learns node 0, then the network runs for_ms. */
void simnet_bootstrap(struct simnet *net, int64_t for_ms);

/* Node i's address (2001:db8::<i + 1>, port 6881). */
void simnet_addr(int i, struct sockaddr_in6 *out);

/* xorshift64: the one generator of the simulation and its tests. */
uint64_t simnet_xorshift(uint64_t *state);

#endif
