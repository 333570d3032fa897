/* publish + fetch over our real DHT nodes, many in one process: a simulated
 * network delivers datagrams in memory with latency, a fake clock drives
 * dht_tick, pubsched_tick and fetch_tick (the same harness as test_dht.c).
 * Covers the scheduling (spread, lead, refresh, epochs, boundaries) and the
 * fetcher's reasons for failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sodium.h>
#include <cmocka.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/core/keys.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/core/rendezvous.h"
#include "tests/rdvtest.h"
#include "tests/simnet.h"

#define MAX_NODES 48
#define T0 1000000
#define PERIOD 900
/* UNIX time at T0: a window boundary plus 100 s. */
#define UNIX0_MS (1800000000000LL + 100000LL)

/* S.n[i], S.now, S.n_nodes: the network (tests/simnet.h). */
static struct simnet S;

static struct {
	struct pubsched *pub;
	int64_t pub_deadline;
	int pub_first_node, pub_nodes;
	uint64_t pub_sent;          /* datagrams sent by publisher nodes */
	struct fetch *fetch;
	/* Announces of the chunk infohashes ih[j] sent by the publisher, and
	 * whether those of ih[drop] are lost while no run has failed yet. */
	uint8_t ih[3][RENDEZVOUS_INFOHASH_LEN];
	size_t announces[3];
	int drop;
} PB;

static int64_t unix_now(void)
{
	return UNIX0_MS + (S.now - T0);
}

/* get_peers sent by node watch_node (fetch_hold's test), and those for
 * watch_ih (when set) among them. */
static int watch_node = -1;
static size_t watched_get_peers, watched_ih;
static const uint8_t *watch_ih;

static bool on_send(void *ctx, const struct simnet_node *from, int dest, const uint8_t *buf, size_t len)
{
	if (from->idx == watch_node && memmem(buf, len, "9:get_peers", 11)) {
		watched_get_peers++;
		watched_ih += watch_ih && memmem(buf, len, watch_ih, RENDEZVOUS_INFOHASH_LEN);
	}
	if (from->idx < PB.pub_first_node || from->idx >= PB.pub_first_node + PB.pub_nodes)
		return true;
	PB.pub_sent++;
	if (!memmem(buf, len, "13:announce_peer", 16))
		return true;
	for (int j = 0; j < 3; j++) {
		if (!memmem(buf, len, PB.ih[j], RENDEZVOUS_INFOHASH_LEN))
			continue;
		PB.announces[j]++;
		if (j == PB.drop && PB.pub) {
			struct pubsched_stats st;
			pubsched_get_stats(PB.pub, &st);
			return st.failures > 0;
		}
	}
	return true;
}

static int64_t on_step(void *ctx, int64_t now)
{
	int64_t next = INT64_MAX;
	if (PB.pub) {
		PB.pub_deadline = pubsched_tick(PB.pub, now, unix_now());
		assert_true(PB.pub_deadline > now);
		next = PB.pub_deadline;
	}
	if (PB.fetch)
		fetch_tick(PB.fetch, now);
	return next;
}

static void sim_init(int n_nodes)
{
	assert_true(n_nodes <= MAX_NODES);
	assert_int_equal(simnet_init(&S, n_nodes, T0), 0);
	S.on_send = on_send;
	S.step = on_step;
	S.tick_within_ms = 50;
	memset(&PB, 0, sizeof(PB));
	PB.pub_first_node = -1;
	PB.drop = -1;
}

static void sim_fini(void)
{
	fetch_free(PB.fetch);
	pubsched_free(PB.pub);
	assert_int_equal(S.bad_deadlines, 0);
	simnet_fini(&S);
	memset(&PB, 0, sizeof(PB));
}

static void sim_run(int64_t until, const bool *stop)
{
	simnet_run(&S, until, stop);
}

static void sim_bootstrap(void)
{
	simnet_bootstrap(&S, 60000);
}

/* Deterministic randomness for seals, stuffing and timing. */
static uint64_t test_rng = 42;
static void test_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(simnet_xorshift(&test_rng) >> 24);
}

static void publisher_start(const struct rdvtest_keypair *server, int first, int n_nodes, uint32_t period,
			    const struct pubsched_params *prm_in)
{
	struct dht *nodes[8];
	struct pubsched_params prm;
	if (prm_in)
		prm = *prm_in;
	else
		pubsched_params_default(&prm, period);
	prm.random = test_random;
	for (int i = 0; i < n_nodes; i++)
		nodes[i] = S.n[first + i].d;
	PB.pub_first_node = first;
	PB.pub_nodes = n_nodes;
	assert_int_equal(pubsched_new(PUBSCHED_PEERS, &prm, server->priv, nodes, (size_t)n_nodes, &PB.pub), 0);
	S.step_deadline = S.now;
}

struct fetched {
	bool is_done;
	struct fetch_result r;
	size_t n_progress;
};

static void on_done(void *closure, const struct fetch_result *r)
{
	struct fetched *fd = closure;
	assert_false(fd->is_done);
	fd->is_done = true;
	fd->r = *r;
}

static void on_progress(void *closure, const struct fetch_progress *p)
{
	struct fetched *fd = closure;
	assert_true(p->lookups_done <= p->lookups_started);
	fd->n_progress++;
}

/* One fetch from node `from`, run to its end. */
static void fetch_run(int from, enum fetch_kind kind, const uint8_t *own_priv, const uint8_t *peer_pub,
		      uint32_t period, uint64_t window, uint32_t edge, struct fetched *out)
{
	struct fetch_params fp = { .kind = kind, .period_s = period, .window_start = window,
				   .edge_s = edge, .timeout_ms = 60000, .family = AF_INET6 };
	memset(out, 0, sizeof(*out));
	assert_int_equal(fetch_new(S.n[from].d, &fp, own_priv, peer_pub, on_done, on_progress, out, &PB.fetch), 0);
	assert_int_equal(fetch_start(PB.fetch, S.now, unix_now()), 0);
	S.n[from].deadline = S.now;
	sim_run(S.now + 70000, &out->is_done);
	assert_true(out->is_done);
	assert_true(out->n_progress > 0);
	fetch_free(PB.fetch);
	PB.fetch = NULL;
}

static uint64_t window_now(uint32_t period)
{
	return derive_window_start(unix_now() / 1000, period);
}

/* Runs until every client of window has been announced (bounded). */
static void run_until_published(uint64_t window, int64_t limit_ms)
{
	int64_t end = S.now + limit_ms;
	while (S.now < end && !pubsched_is_window_done(PB.pub, window))
		sim_run(S.now + 1000, NULL);
	assert_true(pubsched_is_window_done(PB.pub, window));
}

#define N_CLIENTS 12

static void test_publish_and_fetch_own_configs(void **state)
{
	struct rdvtest_keypair server, other_server, clients[N_CLIENTS], stranger;
	struct rendezvous_config cfg;
	struct fetched fd;
	(void)state;

	sim_init(40);
	sim_bootstrap();
	rdvtest_keypair(&server, 1);
	rdvtest_keypair(&other_server, 2);
	rdvtest_keypair(&stranger, 3);
	for (int i = 0; i < N_CLIENTS; i++)
		rdvtest_keypair(&clients[i], (uint8_t)(10 + i));
	publisher_start(&server, 0, 2, PERIOD, NULL);
	for (int i = 0; i < N_CLIENTS; i++)
		assert_int_equal(pubsched_add_client(PB.pub, clients[i].pub), 0);
	assert_int_equal(pubsched_add_client(PB.pub, clients[0].pub), -EEXIST);
	uint64_t w = window_now(PERIOD);
	rdvtest_config(&cfg, 0xa1, PERIOD);
	assert_int_equal(pubsched_set_config(PB.pub, w, &cfg, unix_now()), 0);
	assert_int_equal(pubsched_set_config(PB.pub, w, &cfg, unix_now()), 0); /* same: no new epoch */
	assert_int_equal(pubsched_set_config(PB.pub, w + 2 * PERIOD, &cfg, unix_now()), -EINVAL);
	/* A catch-up round (we are 100 s into the window): urgent spread. */
	int64_t t_start = S.now;
	run_until_published(w, 5 * 60000);
	struct pubsched_stats st;
	pubsched_get_stats(PB.pub, &st);
	assert_int_equal(st.clients, N_CLIENTS);
	assert_int_equal(st.publications, N_CLIENTS);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.ops_started, 3 * N_CLIENTS);
	assert_true(st.acked >= (size_t)N_CLIENTS * RENDEZVOUS_CONFIG_LEN * 4);
	print_message("catch-up round: %d clients in %lld ms, %llu datagrams, %zu acked\n", N_CLIENTS,
		      (long long)(S.now - t_start), (unsigned long long)PB.pub_sent, st.acked);

	/* Every client opens exactly its own config, from another node. */
	for (int i = 0; i < N_CLIENTS; i++) {
		fetch_run(30 + i % 10, FETCH_CONFIG, clients[i].priv, server.pub, PERIOD, 0, 60, &fd);
		assert_int_equal(fd.r.status, 0);
		assert_int_equal(fd.r.window_start, w);
		assert_int_equal(fd.r.epoch, 0);
		assert_memory_equal(&fd.r.cfg, &cfg, sizeof(cfg));
		assert_true(fd.r.progress.values >= RENDEZVOUS_CONFIG_LEN);
	}
	/* Wrong server key, or a client that is not registered: another
	 * descriptor, where nothing is stored. */
	fetch_run(31, FETCH_CONFIG, clients[0].priv, other_server.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOTHING);
	fetch_run(31, FETCH_CONFIG, stranger.priv, server.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOTHING);
	/* The right place read as a generic message: found, not authentic. */
	fetch_run(31, FETCH_MESSAGE, clients[1].priv, server.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOT_AUTHENTIC);
	/* The previous window, asked for explicitly: nothing there. */
	fetch_run(31, FETCH_CONFIG, clients[1].priv, server.pub, PERIOD, w - PERIOD, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOTHING);

	/* Junk under the same chunk infohashes from another IP (node 20):
	 * the real config still opens. */
	uint8_t s[32], d[20];
	assert_int_equal(keys_shared_secret(s, clients[2].priv, server.pub), 0);
	derive_descriptor(d, s, w);
	for (uint8_t j = 0; j < 3; j++) {
		uint8_t ih[20], junk[RENDEZVOUS_CONFIG_LEN];
		uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS];
		test_random(junk, sizeof(junk));
		rendezvous_chunk_infohash(ih, d, 0, j);
		int n = rendezvous_stuff_chunk(ports, junk, sizeof(junk), j, test_random);
		assert_true(n > 0);
		assert_true(dht_announce(S.n[20].d, ih, AF_INET6, ports, (size_t)n, NULL, NULL, S.now) > 0);
	}
	S.n[20].deadline = S.now;
	sim_run(S.now + 15000, NULL);
	fetch_run(33, FETCH_CONFIG, clients[2].priv, server.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_memory_equal(&fd.r.cfg, &cfg, sizeof(cfg));
	/* Announced by one of the publisher's nodes (0 and 1), not by 20. */
	assert_true(memcmp(fd.r.from_addr, &S.n[0].addr.sin6_addr, 16) == 0 ||
		    memcmp(fd.r.from_addr, &S.n[1].addr.sin6_addr, 16) == 0);

	/* Mid-window change (new K): epoch 1 for everyone; a client added
	 * afterwards is published in epochs 0 and 1; fetchers find epoch 1. */
	struct rendezvous_config cfg2;
	rdvtest_config(&cfg2, 0xb2, PERIOD);
	assert_int_equal(pubsched_set_config(PB.pub, w, &cfg2, unix_now()), 1);
	assert_int_equal(pubsched_get_epoch(PB.pub, w), 1);
	struct rdvtest_keypair late;
	rdvtest_keypair(&late, 99);
	assert_int_equal(pubsched_add_client(PB.pub, late.pub), 0);
	run_until_published(w, 5 * 60000);
	pubsched_get_stats(PB.pub, &st);
	assert_int_equal(st.publications, 2 * N_CLIENTS + 2);
	for (int i = 0; i < 3; i++) {
		fetch_run(35 + i, FETCH_CONFIG, clients[i].priv, server.pub, PERIOD, 0, 60, &fd);
		assert_int_equal(fd.r.status, 0);
		assert_int_equal(fd.r.epoch, 1);
		assert_memory_equal(&fd.r.cfg, &cfg2, sizeof(cfg2));
	}
	fetch_run(36, FETCH_CONFIG, late.priv, server.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_int_equal(fd.r.epoch, 1);
	/* Removal: nothing new is announced for it. */
	assert_int_equal(pubsched_remove_client(PB.pub, late.pub), 0);
	assert_int_equal(pubsched_remove_client(PB.pub, late.pub), -ENOENT);
	sim_fini();
}

/* A new DHT identity mid-round (engine/dhtident.h): runs in flight are
 * dropped with the old node and start again from the new one; every
 * client still finds its config, announced from the new node's address. */
static void test_node_replaced_mid_round(void **state)
{
	struct rdvtest_keypair server, clients[4];
	struct rendezvous_config cfg;
	struct fetched fd;
	(void)state;

	sim_init(32);
	sim_bootstrap();
	rdvtest_keypair(&server, 1);
	for (int i = 0; i < 4; i++)
		rdvtest_keypair(&clients[i], (uint8_t)(40 + i));
	publisher_start(&server, 0, 1, PERIOD, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pubsched_add_client(PB.pub, clients[i].pub), 0);
	uint64_t w = window_now(PERIOD);
	rdvtest_config(&cfg, 0xc3, PERIOD);
	assert_int_equal(pubsched_set_config(PB.pub, w, &cfg, unix_now()), 0);
	for (int i = 0; i < 1200 && pubsched_ops_on(PB.pub, S.n[0].d) == 0; i++)
		sim_run(S.now + 100, NULL);
	assert_true(pubsched_ops_on(PB.pub, S.n[0].d) > 0);
	assert_int_equal(pubsched_replace_node(PB.pub, S.n[0].d, S.n[1].d), 0);
	assert_int_equal(pubsched_replace_node(PB.pub, S.n[0].d, S.n[1].d), -ENOENT);
	/* The old node lingers a little, then goes with what still runs. */
	sim_run(S.now + 200, NULL);
	pubsched_drop_node(PB.pub, S.n[0].d);
	assert_int_equal(pubsched_ops_on(PB.pub, S.n[0].d), 0);
	run_until_published(w, 5 * 60000);
	int from_new = 0;
	for (int i = 0; i < 4; i++) {
		fetch_run(20 + i, FETCH_CONFIG, clients[i].priv, server.pub, PERIOD, 0, 60, &fd);
		assert_int_equal(fd.r.status, 0);
		assert_memory_equal(&fd.r.cfg, &cfg, sizeof(cfg));
		from_new += memcmp(fd.r.from_addr, &S.n[1].addr.sin6_addr, 16) == 0;
	}
	assert_true(from_new >= 1);
	sim_fini();
}

/* A short window: the next window is published before it starts, spread
 * over its round; across the boundary clients fetch the new config; the
 * old window's config, read after its end, is expired. */
static void test_window_boundary_spread_and_expiry(void **state)
{
	enum { P = 240, N = 8 };
	struct rdvtest_keypair server, clients[N];
	struct rendezvous_config c1, c2;
	struct pubsched_params prm;
	struct fetched fd;
	(void)state;

	sim_init(32);
	sim_bootstrap();
	rdvtest_keypair(&server, 5);
	for (int i = 0; i < N; i++)
		rdvtest_keypair(&clients[i], (uint8_t)(50 + i));
	pubsched_params_default(&prm, P);
	assert_int_equal(prm.lead_s, 24);
	assert_int_equal(prm.spread_s, 120);
	publisher_start(&server, 0, 2, P, &prm);
	for (int i = 0; i < N; i++)
		assert_int_equal(pubsched_add_client(PB.pub, clients[i].pub), 0);
	/* Start 2 s into a window. */
	uint64_t w = window_now(P) + P;
	while (unix_now() < (int64_t)w * 1000 + 2000)
		sim_run(S.now + 1000, NULL);
	rdvtest_config(&c1, 0x11, PERIOD);
	c1.period_s = P;
	rdvtest_config(&c2, 0x22, PERIOD);
	c2.period_s = P;
	assert_int_equal(pubsched_set_config(PB.pub, w, &c1, unix_now()), 0);
	run_until_published(w, 90000);
	assert_int_equal(pubsched_set_config(PB.pub, w + P, &c2, unix_now()), 0);
	/* The next window's round is [w+P-144, w+P-24]: nothing before it. */
	int64_t round_start_ms = (int64_t)(w + P - 144) * 1000, round_end_ms = (int64_t)(w + P - 24) * 1000;
	struct pubsched_stats st0, st;
	pubsched_get_stats(PB.pub, &st0);
	while (unix_now() < round_start_ms - 1000)
		sim_run(S.now + 1000, NULL);
	pubsched_get_stats(PB.pub, &st);
	assert_int_equal(st.ops_started, st0.ops_started);
	/* Spread: by the middle of the round some but not all have started. */
	while (unix_now() < round_start_ms + 60000)
		sim_run(S.now + 1000, NULL);
	pubsched_get_stats(PB.pub, &st);
	size_t mid = (st.ops_started - st0.ops_started) / 3;
	print_message("clients started by mid-round: %zu of %d\n", mid, N);
	assert_true(mid >= 1 && mid <= N - 1);
	while (unix_now() < round_end_ms + 20000 && !pubsched_is_window_done(PB.pub, w + P))
		sim_run(S.now + 1000, NULL);
	assert_true(pubsched_is_window_done(PB.pub, w + P));
	assert_true(unix_now() < (int64_t)(w + P) * 1000);
	/* Just before the boundary (within the edge) a client gets the
	 * current window; just after, the new one. */
	while (unix_now() < (int64_t)(w + P) * 1000 - 8000)
		sim_run(S.now + 1000, NULL);
	fetch_run(20, FETCH_CONFIG, clients[0].priv, server.pub, P, 0, 10, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_int_equal(fd.r.window_start, w);
	assert_memory_equal(&fd.r.cfg, &c1, sizeof(c1));
	while (unix_now() < (int64_t)(w + P) * 1000 + 1000)
		sim_run(S.now + 1000, NULL);
	for (int i = 0; i < N; i++) {
		fetch_run(20 + i, FETCH_CONFIG, clients[i].priv, server.pub, P, 0, 10, &fd);
		assert_int_equal(fd.r.status, 0);
		assert_int_equal(fd.r.window_start, w + P);
		assert_memory_equal(&fd.r.cfg, &c2, sizeof(c2));
	}
	/* The old window asked for after its end: expired. */
	fetch_run(21, FETCH_CONFIG, clients[1].priv, server.pub, P, w, 10, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_EXPIRED);
	assert_memory_equal(&fd.r.cfg, &c1, sizeof(c1));
	/* The publisher dropped the old window. */
	assert_int_equal(pubsched_get_epoch(PB.pub, w), -ENOENT);
	/* A window with no config for the next one: near its start a client
	 * finds only the previous window's config: expired. */
	pubsched_free(PB.pub);
	PB.pub = NULL;
	while (unix_now() < (int64_t)(w + 2 * P) * 1000 + 2000)
		sim_run(S.now + 1000, NULL);
	fetch_run(22, FETCH_CONFIG, clients[2].priv, server.pub, P, 0, 10, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_EXPIRED);
	assert_int_equal(fd.r.window_start, w + P);
	sim_fini();
}

/* A long window: configs are announced again (the same ports) before
 * stored peers expire, and are still found after the first copies are gone. */
static void test_refresh_before_expiry(void **state)
{
	enum { P = 3600 };
	struct rdvtest_keypair server, client;
	struct rendezvous_config cfg;
	struct fetched fd;
	(void)state;

	sim_init(24);
	sim_bootstrap();
	rdvtest_keypair(&server, 7);
	rdvtest_keypair(&client, 8);
	publisher_start(&server, 0, 1, P, NULL);
	assert_int_equal(pubsched_add_client(PB.pub, client.pub), 0);
	uint64_t w = window_now(P);
	rdvtest_config(&cfg, 0x33, PERIOD);
	cfg.period_s = P;
	assert_int_equal(pubsched_set_config(PB.pub, w, &cfg, unix_now()), 0);
	run_until_published(w, 120000);
	/* 45 min later: the first copies (30 min lifetime) are gone. */
	sim_run(S.now + 45 * 60000, NULL);
	struct pubsched_stats st;
	pubsched_get_stats(PB.pub, &st);
	assert_true(st.refreshes >= 2);
	fetch_run(20, FETCH_CONFIG, client.priv, server.pub, P, 0, 60, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_memory_equal(&fd.r.cfg, &cfg, sizeof(cfg));
	sim_fini();
}

/* A restart within a window: the new process resumes at the next epoch
 * (and fills epoch 0 for everyone, mixing with the old copies there):
 * readers get the new config, old and newly registered clients alike. */
static void test_restart_resumes_at_next_epoch(void **state)
{
	struct rdvtest_keypair server, clients[3], newcomer;
	struct rendezvous_config c1, c2;
	struct fetched fd;
	(void)state;

	sim_init(24);
	sim_bootstrap();
	rdvtest_keypair(&server, 30);
	rdvtest_keypair(&newcomer, 40);
	/* An odd window (the publisher keeps two window slots: this one uses
	 * the second). */
	sim_run(S.now + PERIOD * 1000, NULL);
	assert_int_equal((window_now(PERIOD) / PERIOD) % 2, 1);
	for (int i = 0; i < 3; i++)
		rdvtest_keypair(&clients[i], (uint8_t)(31 + i));
	publisher_start(&server, 0, 1, PERIOD, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pubsched_add_client(PB.pub, clients[i].pub), 0);
	uint64_t w = window_now(PERIOD);
	rdvtest_config(&c1, 0x41, PERIOD);
	rdvtest_config(&c2, 0x42, PERIOD);
	assert_int_equal(pubsched_set_config(PB.pub, w, &c1, unix_now()), 0);
	run_until_published(w, 120000);
	pubsched_free(PB.pub);
	PB.pub = NULL;
	publisher_start(&server, 0, 1, PERIOD, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pubsched_add_client(PB.pub, clients[i].pub), 0);
	assert_int_equal(pubsched_add_client(PB.pub, newcomer.pub), 0);
	assert_int_equal(pubsched_resume_window(PB.pub, w, 1, &c2, unix_now()), 1);
	assert_int_equal(pubsched_resume_window(PB.pub, w, 1, &c2, unix_now()), -EINVAL);
	run_until_published(w, 300000);
	for (int i = 0; i < 3; i++) {
		fetch_run(10 + i, FETCH_CONFIG, clients[i].priv, server.pub, PERIOD, 0, 60, &fd);
		assert_int_equal(fd.r.status, 0);
		assert_int_equal(fd.r.epoch, 1);
		assert_memory_equal(&fd.r.cfg, &c2, sizeof(c2));
	}
	fetch_run(14, FETCH_CONFIG, newcomer.priv, server.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_int_equal(fd.r.epoch, 1);
	assert_memory_equal(&fd.r.cfg, &c2, sizeof(c2));
	sim_fini();
}

static void on_announced(void *closure, const struct dht_result *r)
{
	size_t *n_done = closure;
	if (r->event == DHT_EVENT_DONE) {
		assert_true(r->n_announced > 0);
		(*n_done)++;
	}
}

/* Generic messages of several lengths (1 to 11 chunks), both directions. */
/* A chunk that ends short of its quorum (every announce of chunk 1 lost in
 * the first run): the publication is not done; the retry announces chunk 1
 * alone, with the same ports, and then it is. */
static void test_short_chunk_retried_alone(void **state)
{
	struct rdvtest_keypair server, client;
	struct rendezvous_config cfg;
	struct fetched fd;
	uint8_t s[DERIVE_SECRET_LEN], d[DERIVE_DESCRIPTOR_LEN];
	(void)state;

	sim_init(30);
	sim_bootstrap();
	rdvtest_keypair(&server, 1);
	rdvtest_keypair(&client, 10);
	publisher_start(&server, 0, 1, PERIOD, NULL);
	assert_int_equal(pubsched_add_client(PB.pub, client.pub), 0);
	uint64_t w = window_now(PERIOD);
	assert_int_equal(keys_shared_secret(s, server.priv, client.pub), 0);
	derive_descriptor(d, s, w);
	for (int j = 0; j < 3; j++)
		rendezvous_chunk_infohash(PB.ih[j], d, 0, (uint8_t)j);
	PB.drop = 1;
	rdvtest_config(&cfg, 0xa1, PERIOD);
	assert_int_equal(pubsched_set_config(PB.pub, w, &cfg, unix_now()), 0);
	run_until_published(w, 3 * 60000);
	struct pubsched_stats st;
	pubsched_get_stats(PB.pub, &st);
	assert_int_equal(st.publications, 1);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.partial, 0);
	assert_int_equal(st.ops_started, 3 + 1);
	/* 21 ports to each of the 8 closest, once for chunks 0 and 2, twice
	 * (lost, then retried) for chunk 1. */
	assert_int_equal(PB.announces[0], DHT_K * 21);
	assert_int_equal(PB.announces[2], DHT_K * 21);
	assert_int_equal(PB.announces[1], 2 * DHT_K * 21);
	fetch_run(20, FETCH_CONFIG, client.priv, server.pub, PERIOD, 0, 60, &fd);
	print_message("fetch: %lld ms, %zu queries\n", (long long)fd.r.progress.elapsed_ms, fd.r.progress.queries);
	assert_int_equal(fd.r.status, 0);
	assert_memory_equal(&fd.r.cfg, &cfg, sizeof(cfg));
	sim_fini();
}

/* Announces the sealed message's chunks (epoch, descriptor d) from node
 * `from`, and runs until every chunk is stored. */
static void announce_sealed(int from, const uint8_t *sealed, size_t len, const uint8_t d[20], uint8_t epoch)
{
	size_t n_chunks = rendezvous_chunk_count(len), n_done = 0;
	for (size_t j = 0; j < n_chunks; j++) {
		uint8_t ih[20];
		uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS];
		rendezvous_chunk_infohash(ih, d, epoch, (uint8_t)j);
		int n = rendezvous_stuff_chunk(ports, sealed, len, j, test_random);
		assert_true(dht_announce(S.n[from].d, ih, AF_INET6, ports, (size_t)n, on_announced, &n_done,
					 S.now) > 0);
	}
	S.n[from].deadline = S.now;
	while (n_done < n_chunks && S.now < T0 + 3600000)
		sim_run(S.now + 1000, NULL);
	assert_int_equal(n_done, n_chunks);
}

static void test_messages(void **state)
{
	struct rdvtest_keypair a, b, c;
	struct fetched fd;
	(void)state;

	sim_init(24);
	sim_bootstrap();
	rdvtest_keypair(&a, 20);
	rdvtest_keypair(&b, 21);
	rdvtest_keypair(&c, 22);
	uint64_t w = window_now(PERIOD);
	static const size_t lens[] = { 1, 30, RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN };
	for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		uint8_t plain[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN], sealed[RENDEZVOUS_MAX_MSG_LEN];
		for (size_t i = 0; i < lens[t]; i++)
			plain[i] = (uint8_t)('a' + (i + t) % 26);
		/* Epoch t: each message under its own infohashes. */
		int len = rendezvous_message_seal(sealed, sizeof(sealed), plain, lens[t], a.priv, b.pub, w,
						  (uint8_t)t, test_random);
		assert_true(len > 0);
		uint8_t s[32], d[20];
		assert_int_equal(keys_shared_secret(s, a.priv, b.pub), 0);
		derive_descriptor(d, s, w);
		announce_sealed(3, sealed, (size_t)len, d, (uint8_t)t);
		fetch_run(15, FETCH_MESSAGE, b.priv, a.pub, PERIOD, 0, 60, &fd);
		assert_int_equal(fd.r.status, 0);
		assert_int_equal(fd.r.epoch, t);
		assert_int_equal(fd.r.msg_len, lens[t]);
		assert_memory_equal(fd.r.msg, plain, lens[t]);
	}
	/* A third key pair cannot read it; the sender cannot read its own. */
	fetch_run(16, FETCH_MESSAGE, c.priv, a.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOTHING);
	fetch_run(16, FETCH_MESSAGE, a.priv, b.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOT_AUTHENTIC);
	sim_fini();
}

/* A message opens as soon as the answers so far open it (the nodes'
 * answers come with their lookup replies, dht.h dht_collect): the fetch
 * ends while lookups still run, and cancels them. Junk from another IP
 * under the same chunks (a message sealed by another key) does not hide
 * it; a later message of the window (epoch 1) wins over the first; and an
 * epoch whose answers do not open (junk alone) never ends a fetch early:
 * it waits for every lookup and says "not authentic". */
static void test_message_opens_early(void **state)
{
	struct rdvtest_keypair a, b, c;
	struct fetched fd;
	uint8_t plain[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN], sealed[RENDEZVOUS_MAX_MSG_LEN];
	uint8_t junk[RENDEZVOUS_MAX_MSG_LEN], s[32], d[20], d2[20];
	(void)state;

	sim_init(24);
	sim_bootstrap();
	rdvtest_keypair(&a, 30);
	rdvtest_keypair(&b, 31);
	rdvtest_keypair(&c, 32);
	uint64_t w = window_now(PERIOD);
	memset(plain, 'm', sizeof(plain));
	int len = rendezvous_message_seal(sealed, sizeof(sealed), plain, sizeof(plain), a.priv, b.pub, w, 0,
					  test_random);
	int jlen = rendezvous_message_seal(junk, sizeof(junk), plain, sizeof(plain), c.priv, b.pub, w, 0,
					   test_random);
	assert_true(len > 0 && jlen == len);
	assert_int_equal(keys_shared_secret(s, a.priv, b.pub), 0);
	derive_descriptor(d, s, w);
	derive_descriptor(d2, s, w + PERIOD);
	announce_sealed(3, sealed, (size_t)len, d, 0);
	announce_sealed(4, junk, (size_t)jlen, d, 0);
	announce_sealed(4, junk, (size_t)jlen, d2, 0);

	fetch_run(15, FETCH_MESSAGE, b.priv, a.pub, PERIOD, 0, 60, &fd);
	print_message("early: %lld ms, lookups %zu of %zu done, %zu answers\n",
		      (long long)fd.r.progress.elapsed_ms, fd.r.progress.lookups_done,
		      fd.r.progress.lookups_started, fd.r.progress.nodes);
	assert_int_equal(fd.r.status, 0);
	assert_int_equal(fd.r.epoch, 0);
	assert_int_equal(fd.r.msg_len, sizeof(plain));
	assert_memory_equal(fd.r.msg, plain, sizeof(plain));
	assert_true(fd.r.progress.lookups_done < fd.r.progress.lookups_started);
	struct dht_stats st;
	dht_get_stats(S.n[15].d, S.now, &st);
	assert_int_equal(st.ops_active, 0);

	/* A later message of the window (epoch 1): epoch 0 still opens first,
	 * but the scout of epoch 1 has found peers, and the later one wins. */
	uint8_t plain2[40], sealed2[RENDEZVOUS_MAX_MSG_LEN];
	memset(plain2, 'n', sizeof(plain2));
	int len2 = rendezvous_message_seal(sealed2, sizeof(sealed2), plain2, sizeof(plain2), a.priv, b.pub, w,
					   1, test_random);
	assert_true(len2 > 0);
	announce_sealed(3, sealed2, (size_t)len2, d, 1);
	fetch_run(16, FETCH_MESSAGE, b.priv, a.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_int_equal(fd.r.epoch, 1);
	assert_int_equal(fd.r.msg_len, sizeof(plain2));
	assert_memory_equal(fd.r.msg, plain2, sizeof(plain2));

	/* 30 s before the window's end a reader asks the next one too (its
	 * edge), but only once this one has come back without opening: this
	 * one opens, and the next window (the junk) is never asked. */
	uint8_t ih_next[RENDEZVOUS_INFOHASH_LEN];
	rendezvous_chunk_infohash(ih_next, d2, 0, 0);
	while (unix_now() < (int64_t)(w + PERIOD - 30) * 1000)
		sim_run(S.now + 10000, NULL);
	watch_node = 17;
	watch_ih = ih_next;
	watched_get_peers = watched_ih = 0;
	fetch_run(17, FETCH_MESSAGE, b.priv, a.pub, PERIOD, 0, 60, &fd);
	assert_int_equal(fd.r.status, 0);
	assert_int_equal(fd.r.epoch, 1);
	assert_true(watched_get_peers > 0);
	assert_int_equal(watched_ih, 0);
	watch_node = -1;
	watch_ih = NULL;

	/* The next window holds the junk alone. */
	fetch_run(15, FETCH_MESSAGE, b.priv, a.pub, PERIOD, w + PERIOD, 60, &fd);
	assert_int_equal(fd.r.status, FETCH_ERR_NOT_AUTHENTIC);
	assert_int_equal(fd.r.progress.lookups_done, fd.r.progress.lookups_started);
	sim_fini();
}

/* Runs the fetch of the test swarm (which holds nothing) to its end. */
static void fetch_ends_with_nothing(struct fetched *fd)
{
	sim_run(S.now + 30000, &fd->is_done);
	assert_int_equal(fd->r.status, FETCH_ERR_NOTHING);
	fetch_free(PB.fetch);
	PB.fetch = NULL;
}

/* With both channels the port-stuffing fetch holds its lookups for
 * FETCH_PEERS_HOLD_MS, or until fetch_release (the item channel failed),
 * even before fetch_start. */
static void test_fetch_hold(void **state)
{
	struct rdvtest_keypair k, srv;
	struct fetched fd = { 0 };
	(void)state;

	rdvtest_keypair(&k, 1);
	rdvtest_keypair(&srv, 2);
	sim_init(16);
	sim_bootstrap();
	watch_node = 5;
	watched_get_peers = 0;
	struct fetch_params fp = { .kind = FETCH_CONFIG, .period_s = PERIOD, .edge_s = 60,
				   .timeout_ms = 30000, .family = AF_INET6,
				   .hold_ms = FETCH_PEERS_HOLD_MS };
	assert_int_equal(fetch_new(S.n[5].d, &fp, k.priv, srv.pub, on_done, NULL, &fd, &PB.fetch), 0);
	int64_t t0 = S.now;
	assert_int_equal(fetch_start(PB.fetch, S.now, unix_now()), 0);
	sim_run(t0 + FETCH_PEERS_HOLD_MS - 100, NULL);
	assert_int_equal(watched_get_peers, 0);
	sim_run(t0 + FETCH_PEERS_HOLD_MS + 100, NULL);
	assert_true(watched_get_peers > 0);
	fetch_ends_with_nothing(&fd);

	/* Released: the lookups start at once. */
	memset(&fd, 0, sizeof(fd));
	fp.hold_ms = 60000;
	watched_get_peers = 0;
	assert_int_equal(fetch_new(S.n[5].d, &fp, k.priv, srv.pub, on_done, NULL, &fd, &PB.fetch), 0);
	assert_int_equal(fetch_start(PB.fetch, S.now, unix_now()), 0);
	assert_int_equal(watched_get_peers, 0);
	fetch_release(PB.fetch, S.now);
	assert_true(watched_get_peers > 0);
	fetch_ends_with_nothing(&fd);

	/* Released before it started: no hold. */
	memset(&fd, 0, sizeof(fd));
	watched_get_peers = 0;
	assert_int_equal(fetch_new(S.n[5].d, &fp, k.priv, srv.pub, on_done, NULL, &fd, &PB.fetch), 0);
	fetch_release(PB.fetch, S.now);
	assert_int_equal(fetch_start(PB.fetch, S.now, unix_now()), 0);
	assert_true(watched_get_peers > 0);
	watch_node = -1;
	sim_fini();
}

static void test_parameters(void **state)
{
	struct pubsched_params prm;
	struct rdvtest_keypair k;
	struct pubsched *p;
	struct dht *d;
	struct fetch *f;
	uint8_t low_order[32] = { 0 };
	(void)state;

	rdvtest_keypair(&k, 1);
	sim_init(1);
	d = S.n[0].d;
	pubsched_params_default(&prm, 900);
	assert_int_equal(prm.lead_s, 60);
	assert_int_equal(prm.spread_s, 450);
	assert_int_equal(pubsched_new(PUBSCHED_PEERS, &prm, k.priv, &d, 0, &p), -EINVAL);
	prm.max_ops_per_node = DHT_MAX_OPS;
	assert_int_equal(pubsched_new(PUBSCHED_PEERS, &prm, k.priv, &d, 1, &p), -EINVAL);
	pubsched_params_default(&prm, 900);
	assert_int_equal(pubsched_new(PUBSCHED_PEERS, &prm, k.priv, &d, 1, &p), 0);
	assert_int_equal(pubsched_add_client(p, low_order), -EINVAL);
	pubsched_free(p);
	pubsched_free(NULL);
	struct fetch_params fp = { .kind = FETCH_CONFIG, .period_s = 900, .edge_s = 450, .family = AF_INET6 };
	assert_int_equal(fetch_new(d, &fp, k.priv, k.pub, on_done, NULL, NULL, &f), -EINVAL);
	fp.edge_s = 60;
	assert_int_equal(fetch_new(d, &fp, k.priv, low_order, on_done, NULL, NULL, &f), -EINVAL);
	/* No node to ask at all: it waits for the table, then "no DHT node
	 * answered" at the time limit. */
	struct fetched fd = { 0 };
	fp.timeout_ms = 1000;
	assert_int_equal(fetch_new(d, &fp, k.priv, k.pub, on_done, NULL, &fd, &f), 0);
	assert_int_equal(fetch_start(f, S.now, unix_now()), 0);
	assert_false(fd.is_done);
	assert_int_equal(fetch_start(f, S.now, unix_now()), -EALREADY);
	fetch_tick(f, S.now + 500);
	assert_false(fd.is_done);
	fetch_tick(f, S.now + 1000);
	assert_true(fd.is_done);
	assert_int_equal(fd.r.status, FETCH_ERR_NO_NODES);
	assert_true(fetch_is_done(f));
	fetch_free(f);
	fetch_free(NULL);
	assert_string_equal(fetch_strerror(FETCH_ERR_NOTHING), "nothing found");
	sim_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parameters),
		cmocka_unit_test(test_publish_and_fetch_own_configs),
		cmocka_unit_test(test_node_replaced_mid_round),
		cmocka_unit_test(test_window_boundary_spread_and_expiry),
		cmocka_unit_test(test_refresh_before_expiry),
		cmocka_unit_test(test_restart_resumes_at_next_epoch),
		cmocka_unit_test(test_short_chunk_retried_alone),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_message_opens_early),
		cmocka_unit_test(test_fetch_hold),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
