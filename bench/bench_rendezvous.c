/* bench_rendezvous: the server's cost of one full publication round
 * (mt6d/engine/pubsched.c, port stuffing) for C clients, against a swarm of our own DHT nodes
 * (dht/) simulated in one process: datagrams are delivered in memory with
 * 5-35 ms of latency, a virtual clock drives every node, so pacing (333 ms
 * per destination) costs no wall time.
 *
 *   bench_rendezvous CLIENTS [SWARM [SOURCES]]
 *
 * Prints one "key value" per line: the publisher's CPU time (its nodes'
 * dht_input/dht_tick and pubsched_tick, measured with the thread CPU clock),
 * its datagrams and bytes, the virtual time the round took, announces
 * acknowledged and refused, and per destination node the busiest rate. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/core/rendezvous.h"
#include "tests/simnet.h"

#define MAX_NODES 512
#define PERIOD 900

static struct simnet S;
static int n_swarm, n_pub;            /* nodes 0..n_swarm-1, then the publisher's */
static uint64_t pub_tx, pub_tx_bytes; /* datagrams (and bytes) the publisher's nodes sent */
static uint64_t rx_from_pub[MAX_NODES];

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double pub_cpu;                /* pubsched_* calls; the nodes' in S.n[i].cpu_s */
static struct pubsched *pub;
static int64_t pub_deadline;
static const int64_t unix0_ms = 1800000000000LL; /* a window boundary */

static bool is_pub(int i)
{
	return i >= n_swarm;
}

static bool on_send(void *ctx, const struct simnet_node *from, int to, const uint8_t *buf, size_t len)
{
	if (!is_pub(from->idx))
		return true;
	pub_tx++;
	pub_tx_bytes += len;
	if (to >= 0 && len <= 1400)
		rx_from_pub[to]++;
	return len <= 1400;
}

static void on_input(void *ctx, struct simnet_node *to)
{
	if (is_pub(to->idx)) {
		to->deadline = S.now;   /* results: tick the publisher soon */
		pub_deadline = S.now;
	}
}

static int64_t on_step(void *ctx, int64_t now)
{
	if (!pub)
		return INT64_MAX;
	if (pub_deadline <= now) {
		double c0 = cpu_now();
		pub_deadline = pubsched_tick(pub, now, unix0_ms + now);
		pub_cpu += cpu_now() - c0;
		for (int i = n_swarm; i < S.n_nodes; i++)
			if (S.n[i].deadline > now + 20)
				S.n[i].deadline = now + 20;
	}
	return pub_deadline;
}

static double pub_cpu_total(void)
{
	double c = pub_cpu;
	for (int i = n_swarm; i < S.n_nodes; i++)
		c += S.n[i].cpu_s;
	return c;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_rendezvous CLIENTS [SWARM [SOURCES]]\n");
		return 2;
	}
	long n_clients = strtol(argv[1], NULL, 10);
	n_swarm = argc > 2 ? atoi(argv[2]) : 100;
	n_pub = argc > 3 ? atoi(argv[3]) : 48;
	if (n_clients <= 0 || n_swarm < 10 || n_pub < 1 || n_swarm + n_pub > MAX_NODES)
		return 2;
	if (sodium_init() < 0)
		return 1;
	if (simnet_init(&S, n_swarm + n_pub, 1) < 0)
		return 1;
	S.on_send = on_send;
	S.on_input = on_input;
	S.step = on_step;
	/* The publisher's nodes are read-only (BEP 43), as mt6d-server's are:
	 * no node puts them in its table, so they store nothing and serve no
	 * one (otherwise they would be a third of this small swarm, storing and
	 * answering for each other). BENCH_PUB_FULL=1 keeps them full nodes,
	 * as before this was the server's mode: a third more storage. */
	const char *full = getenv("BENCH_PUB_FULL");
	for (int i = n_swarm; i < S.n_nodes && !(full && !strcmp(full, "1")); i++) {
		struct dht_config ro = { .is_read_only = true };
		dht_free(S.n[i].d);
		if (dht_new(&simnet_ops, &S.n[i], &ro, S.now, &S.n[i].d) < 0)
			return 1;
	}
	for (int i = 1; i < S.n_nodes; i++) {
		S.n[i].is_measured = is_pub(i);
		dht_add_node(S.n[i].d, (const struct sockaddr *)&S.n[i % 7 == 0 ? 0 : i / 2].addr,
			     sizeof(S.n[i].addr), S.now);
	}
	/* Join: a minute of virtual time. */
	simnet_run(&S, 60000, NULL);
	uint64_t join_tx = pub_tx;

	struct pubsched_params prm;
	struct dht *nodes[MAX_NODES];
	uint8_t spriv[32], spub[32];
	crypto_box_keypair(spub, spriv);
	pubsched_params_default(&prm, PERIOD);
	/* The round as fast as the nodes allow: everything due at once. */
	prm.urgent_spread_s = 1;
	for (int i = 0; i < n_pub; i++)
		nodes[i] = S.n[n_swarm + i].d;
	if (pubsched_new(PUBSCHED_PEERS, &prm, spriv, nodes, (size_t)n_pub, &pub) < 0)
		return 1;
	for (long c = 0; c < n_clients; c++) {
		uint8_t cpriv[32], cpub[32];
		crypto_box_keypair(cpub, cpriv);
		if (pubsched_add_client(pub, cpub) < 0)
			return 1;
	}
	struct rendezvous_config cfg = { .rotation_ms = 3000, .period_s = PERIOD };
	randombytes_buf(cfg.intro_key, sizeof(cfg.intro_key));
	cfg.server_seed_addr[0] = 0x20;
	cfg.server_seed_addr[1] = 0x01;
	/* The window that starts 1 s after the clock: a catch-up round. */
	uint64_t w = (uint64_t)((unix0_ms + S.now) / 1000);
	w -= w % PERIOD;
	double c0 = cpu_now();
	if (pubsched_set_config(pub, w, &cfg, unix0_ms + S.now) < 0)
		return 1;
	pub_cpu += cpu_now() - c0;
	uint64_t tx0 = pub_tx, bytes0 = pub_tx_bytes;
	double pub_cpu0 = pub_cpu_total();
	int64_t t0 = S.now;
	struct timespec wall0, wall1;
	clock_gettime(CLOCK_MONOTONIC, &wall0);
	double cpu_round0 = cpu_now();
	memset(rx_from_pub, 0, sizeof(rx_from_pub));
	/* Bounded: the window (900 s of virtual time). */
	while (!pubsched_is_window_done(pub, w) && S.now - t0 < (int64_t)PERIOD * 1000)
		simnet_run(&S, S.now + 1000, NULL);
	clock_gettime(CLOCK_MONOTONIC, &wall1);
	struct pubsched_stats st;
	pubsched_get_stats(pub, &st);
	uint64_t stored = 0, refused = 0, max_rx = 0;
	for (int i = 0; i < n_swarm; i++) {
		struct dht_stats ds;
		dht_get_stats(S.n[i].d, S.now, &ds);
		stored += ds.stored_peers;
		refused += ds.store_refused;
		if (rx_from_pub[i] > max_rx)
			max_rx = rx_from_pub[i];
	}
	double round_s = (double)(S.now - t0) / 1000.0;
	uint64_t tx = pub_tx - tx0, bytes = pub_tx_bytes - bytes0;
	printf("clients %ld\nswarm_nodes %d\nsource_addresses %d\npub_read_only %d\n", n_clients, n_swarm, n_pub,
	       !(full && !strcmp(full, "1")));
	printf("round_done %d\nround_virtual_s %.1f\n", pubsched_is_window_done(pub, w), round_s);
	printf("publications %zu\nfailures %zu\npartial %zu\nops %zu\nannounces_acked %zu\n", st.publications,
	       st.failures, st.partial, st.ops_started, st.acked);
	printf("pub_cpu_s %.2f\npub_datagrams %" PRIu64 "\npub_bytes %" PRIu64 "\n", pub_cpu_total() - pub_cpu0, tx, bytes);
	printf("per_client_datagrams %.1f\nper_client_bytes %.0f\n", (double)tx / (double)n_clients,
	       (double)bytes / (double)n_clients);
	printf("swarm_stored_peers %" PRIu64 "\nswarm_store_refused %" PRIu64 "\n", stored, refused);
	printf("busiest_node_datagrams_from_pub %" PRIu64 "\nbusiest_node_rate_per_s %.1f\n", max_rx,
	       (double)max_rx / round_s);
	printf("join_datagrams %" PRIu64 "\nsim_wall_s %.1f\nsim_cpu_s %.1f\n", join_tx,
	       (double)(wall1.tv_sec - wall0.tv_sec) + (double)(wall1.tv_nsec - wall0.tv_nsec) / 1e9,
	       cpu_now() - cpu_round0);
	pubsched_free(pub);
	simnet_fini(&S);
	return 0;
}
