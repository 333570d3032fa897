/* bench_rendezvous: the server's cost of one full publication round
 * (mt6d/engine/publish.c) for C clients, against a swarm of our own DHT nodes
 * (dht/) simulated in one process: datagrams are delivered in memory with
 * 5-35 ms of latency, a virtual clock drives every node, so pacing (333 ms
 * per destination) costs no wall time.
 *
 *   bench_rendezvous CLIENTS [SWARM [SOURCES]]
 *
 * Prints one "key value" per line: the publisher's CPU time (its nodes'
 * dht_input/dht_tick and publish_tick, measured with the thread CPU clock),
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
#include "mt6d/engine/publish.h"
#include "mt6d/core/rendezvous.h"

#define MAX_NODES 512
#define RING 64                 /* ms buckets; latency < RING */
#define PERIOD 900

struct pkt {
	int to;
	struct sockaddr_in6 from;
	uint16_t len;
	uint8_t data[1400];
};

struct bucket {
	struct pkt *p;
	size_t n, cap;
};

struct simnode {
	struct dht *d;
	int idx;
	uint64_t rng;
	int64_t deadline;
	struct sockaddr_in6 addr;
	bool is_pub;
	uint64_t rx_from_pub;       /* datagrams received from the publisher */
};

static struct {
	struct simnode n[MAX_NODES];
	int n_nodes, n_swarm, n_pub;
	int64_t now;
	struct bucket ring[RING];
	uint64_t rng;
	uint64_t pub_tx, pub_tx_bytes, all_tx;
} S;

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void sim_addr(int i, struct sockaddr_in6 *a)
{
	memset(a, 0, sizeof(*a));
	a->sin6_family = AF_INET6;
	a->sin6_addr.s6_addr[0] = 0x20;
	a->sin6_addr.s6_addr[1] = 0x01;
	a->sin6_addr.s6_addr[2] = 0x0d;
	a->sin6_addr.s6_addr[3] = 0xb8;
	a->sin6_addr.s6_addr[6] = (uint8_t)(i >> 8);
	a->sin6_addr.s6_addr[7] = (uint8_t)i;
	a->sin6_addr.s6_addr[15] = 2;
	a->sin6_port = htons(6881);
}

static int node_of(const struct sockaddr_in6 *a)
{
	int i = a->sin6_addr.s6_addr[6] << 8 | a->sin6_addr.s6_addr[7];
	return i < S.n_nodes ? i : -1;
}

static int sim_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to, socklen_t tl)
{
	struct simnode *from = ctx;
	(void)tl;
	int dest = node_of((const struct sockaddr_in6 *)(const void *)to);
	S.all_tx++;
	if (from->is_pub) {
		S.pub_tx++;
		S.pub_tx_bytes += len;
	}
	if (dest < 0 || len > 1400)
		return -EHOSTUNREACH;
	if (from->is_pub)
		S.n[dest].rx_from_pub++;
	struct bucket *b = &S.ring[(S.now + 5 + (int64_t)(xs(&S.rng) % 30)) % RING];
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->p = realloc(b->p, b->cap * sizeof(*b->p));
		if (!b->p)
			abort();
	}
	struct pkt *p = &b->p[b->n++];
	p->to = dest;
	p->from = from->addr;
	p->len = (uint16_t)len;
	memcpy(p->data, buf, len);
	return 0;
}

static void sim_random(void *ctx, uint8_t *buf, size_t len)
{
	struct simnode *n = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(xs(&n->rng) >> 24);
}

static const struct dht_ops ops = { sim_send, sim_random, NULL };

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double pub_cpu;
static struct publish *pub;
static int64_t pub_deadline;
static const int64_t unix0_ms = 1800000000000LL; /* a window boundary */

/* One millisecond step: deliver the bucket, tick due nodes. */
static void sim_step(void)
{
	struct bucket *b = &S.ring[S.now % RING];
	/* Delivery may enqueue into other buckets only (latency >= 5). */
	for (size_t i = 0; i < b->n; i++) {
		struct pkt *p = &b->p[i];
		struct simnode *n = &S.n[p->to];
		double c0 = n->is_pub ? cpu_now() : 0;
		dht_input(n->d, p->data, p->len, (const struct sockaddr *)&p->from, sizeof(p->from), S.now);
		if (n->is_pub) {
			pub_cpu += cpu_now() - c0;
			n->deadline = S.now;   /* results: tick the publisher soon */
			pub_deadline = S.now;
		}
	}
	b->n = 0;
	for (int i = 0; i < S.n_nodes; i++) {
		struct simnode *n = &S.n[i];
		if (n->deadline > S.now)
			continue;
		double c0 = n->is_pub ? cpu_now() : 0;
		n->deadline = dht_tick(n->d, S.now);
		if (n->is_pub)
			pub_cpu += cpu_now() - c0;
	}
	if (pub && pub_deadline <= S.now) {
		double c0 = cpu_now();
		pub_deadline = publish_tick(pub, S.now, unix0_ms + S.now);
		pub_cpu += cpu_now() - c0;
		for (int i = S.n_swarm; i < S.n_nodes; i++)
			if (S.n[i].deadline > S.now + 20)
				S.n[i].deadline = S.now + 20;
	}
	S.now++;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_rendezvous CLIENTS [SWARM [SOURCES]]\n");
		return 2;
	}
	long n_clients = strtol(argv[1], NULL, 10);
	S.n_swarm = argc > 2 ? atoi(argv[2]) : 100;
	S.n_pub = argc > 3 ? atoi(argv[3]) : 48;
	if (n_clients <= 0 || S.n_swarm < 10 || S.n_pub < 1 || S.n_swarm + S.n_pub > MAX_NODES)
		return 2;
	if (sodium_init() < 0)
		return 1;
	S.n_nodes = S.n_swarm + S.n_pub;
	S.rng = 0x9e3779b97f4a7c15ull;
	S.now = 1;
	for (int i = 0; i < S.n_nodes; i++) {
		struct simnode *n = &S.n[i];
		n->idx = i;
		n->rng = 0x1234567ull * (uint64_t)(i + 1) + 99;
		n->is_pub = i >= S.n_swarm;
		sim_addr(i, &n->addr);
		if (dht_new(&ops, n, NULL, S.now, &n->d) < 0)
			return 1;
		if (i > 0)
			dht_add_node(n->d, (const struct sockaddr *)&S.n[i % 7 == 0 ? 0 : i / 2].addr,
				     sizeof(n->addr), S.now);
	}
	/* Join: a minute of virtual time. */
	while (S.now < 60000)
		sim_step();
	uint64_t join_tx = S.pub_tx;

	struct publish_params prm;
	struct dht *nodes[MAX_NODES];
	uint8_t spriv[32], spub[32];
	crypto_box_keypair(spub, spriv);
	publish_params_default(&prm, PERIOD);
	/* The round as fast as the nodes allow: everything due at once. */
	prm.urgent_spread_s = 1;
	for (int i = 0; i < S.n_pub; i++)
		nodes[i] = S.n[S.n_swarm + i].d;
	if (publish_new(&prm, spriv, nodes, (size_t)S.n_pub, &pub) < 0)
		return 1;
	for (long c = 0; c < n_clients; c++) {
		uint8_t cpriv[32], cpub[32];
		crypto_box_keypair(cpub, cpriv);
		if (publish_add_client(pub, cpub) < 0)
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
	if (publish_set_config(pub, w, &cfg, unix0_ms + S.now) < 0)
		return 1;
	pub_cpu += cpu_now() - c0;
	uint64_t tx0 = S.pub_tx, bytes0 = S.pub_tx_bytes;
	double pub_cpu0 = pub_cpu;
	int64_t t0 = S.now;
	struct timespec wall0, wall1;
	clock_gettime(CLOCK_MONOTONIC, &wall0);
	double cpu_round0 = cpu_now();
	for (int i = 0; i < S.n_nodes; i++)
		S.n[i].rx_from_pub = 0;
	/* Bounded: the window (900 s of virtual time). */
	while (!publish_is_window_done(pub, w) && S.now - t0 < (int64_t)PERIOD * 1000)
		sim_step();
	clock_gettime(CLOCK_MONOTONIC, &wall1);
	struct publish_stats st;
	publish_get_stats(pub, &st);
	uint64_t stored = 0, refused = 0, max_rx = 0;
	for (int i = 0; i < S.n_swarm; i++) {
		struct dht_stats ds;
		dht_get_stats(S.n[i].d, S.now, &ds);
		stored += ds.stored_peers;
		refused += ds.store_refused;
		if (S.n[i].rx_from_pub > max_rx)
			max_rx = S.n[i].rx_from_pub;
	}
	double round_s = (double)(S.now - t0) / 1000.0;
	uint64_t tx = S.pub_tx - tx0, bytes = S.pub_tx_bytes - bytes0;
	printf("clients %ld\nswarm_nodes %d\nsource_addresses %d\n", n_clients, S.n_swarm, S.n_pub);
	printf("round_done %d\nround_virtual_s %.1f\n", publish_is_window_done(pub, w), round_s);
	printf("publications %zu\nfailures %zu\nops %zu\nannounces_acked %zu\n", st.publications, st.failures,
	       st.ops_started, st.announces_acked);
	printf("pub_cpu_s %.2f\npub_datagrams %" PRIu64 "\npub_bytes %" PRIu64 "\n", pub_cpu - pub_cpu0, tx, bytes);
	printf("per_client_datagrams %.1f\nper_client_bytes %.0f\n", (double)tx / (double)n_clients,
	       (double)bytes / (double)n_clients);
	printf("swarm_stored_peers %" PRIu64 "\nswarm_store_refused %" PRIu64 "\n", stored, refused);
	printf("busiest_node_datagrams_from_pub %" PRIu64 "\nbusiest_node_rate_per_s %.1f\n", max_rx,
	       (double)max_rx / round_s);
	printf("join_datagrams %" PRIu64 "\nsim_wall_s %.1f\nsim_cpu_s %.1f\n", join_tx,
	       (double)(wall1.tv_sec - wall0.tv_sec) + (double)(wall1.tv_nsec - wall0.tv_nsec) / 1e9,
	       cpu_now() - cpu_round0);
	publish_free(pub);
	for (int i = 0; i < S.n_nodes; i++)
		dht_free(S.n[i].d);
	for (int i = 0; i < RING; i++)
		free(S.ring[i].p);
	return 0;
}
