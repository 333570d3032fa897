/* The BEP 44 item channel end to end over our real DHT nodes in one process
 * (tests/simnet.h): the scheduler's item channel (pubsched_items.c)
 * publishes, itemfetch opens; epochs as seq; what a round costs the server
 * per client on each channel, measured on the publisher's datagrams
 * (printed: docs/DHT.md quotes the method). */
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
#include "mt6d/core/keys.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/engine/itemfetch.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/engine/rdvitem.h"
#include "tests/rdvtest.h"
#include "tests/simnet.h"

#define T0 1000000
#define PERIOD 900
#define UNIX0_MS (1800000000000LL + 100000LL)   /* 100 s into a window */
#define PUB_NODE 1
#define N_CLIENTS 16

static struct simnet S;
static struct {
	struct pubsched *ip;
	struct pubsched *pp;
	struct itemfetch *f;
	uint64_t q_sent, q_bytes;    /* the publisher's publication queries */
} H;

static int64_t unix_now(void)
{
	return UNIX0_MS + (S.now - T0);
}

/* The publication's own queries: get, put (items); get_peers,
 * announce_peer (ports). Maintenance and answers to others are not its
 * cost. */
static bool on_send(void *ctx, const struct simnet_node *from, int dest, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)dest;
	if (from->idx == PUB_NODE && memmem(buf, len, "1:y1:q", 6) &&
	    (memmem(buf, len, "1:q3:get", 8) || memmem(buf, len, "1:q3:put", 8) ||
	     memmem(buf, len, "1:q9:get_peers", 14) || memmem(buf, len, "1:q13:announce_peer", 19))) {
		H.q_sent++;
		H.q_bytes += len;
	}
	return true;
}

static int64_t on_step(void *ctx, int64_t now)
{
	(void)ctx;
	int64_t next = INT64_MAX, t;
	if (H.ip && (t = pubsched_tick(H.ip, now, unix_now())) < next)
		next = t;
	if (H.pp && (t = pubsched_tick(H.pp, now, unix_now())) < next)
		next = t;
	if (H.f)
		itemfetch_tick(H.f, now);
	return next;
}

static uint64_t rng = 7;
static void test_random(void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(simnet_xorshift(&rng) >> 24);
}

static void sim_start(int n)
{
	memset(&H, 0, sizeof(H));
	assert_int_equal(simnet_init(&S, n, T0), 0);
	S.on_send = on_send;
	S.step = on_step;
	S.tick_within_ms = 50;
	simnet_bootstrap(&S, 60000);
}

static void sim_stop(void)
{
	itemfetch_free(H.f);
	pubsched_free(H.ip);
	pubsched_free(H.pp);
	assert_int_equal(S.bad_deadlines, 0);
	simnet_fini(&S);
	memset(&H, 0, sizeof(H));
}

struct got {
	bool is_done;
	struct fetch_result r;
};

static void on_done(void *closure, const struct fetch_result *r)
{
	struct got *g = closure;
	assert_false(g->is_done);
	g->is_done = true;
	g->r = *r;
}

static void fetch_items(int from, enum fetch_kind kind, const uint8_t *own_priv, const uint8_t *peer_pub,
			uint64_t window, struct got *out)
{
	struct fetch_params fp = { .kind = kind, .period_s = PERIOD, .window_start = window,
				   .edge_s = 60, .timeout_ms = 60000, .family = AF_INET6 };
	memset(out, 0, sizeof(*out));
	assert_int_equal(itemfetch_new(S.n[from].d, &fp, own_priv, peer_pub, on_done, out, &H.f), 0);
	assert_int_equal(itemfetch_start(H.f, S.now, unix_now()), 0);
	S.n[from].deadline = S.now;
	S.step_deadline = S.now;
	simnet_run(&S, S.now + 70000, &out->is_done);
	assert_true(out->is_done);
	itemfetch_free(H.f);
	H.f = NULL;
}

static void run_until(int (*is_done)(void), int64_t limit_ms)
{
	int64_t end = S.now + limit_ms;
	while (S.now < end && !is_done())
		simnet_run(&S, S.now + 1000, NULL);
	assert_true(is_done());
}

static uint64_t W;
static int items_done(void)
{
	return pubsched_is_window_done(H.ip, W);
}
static int ports_done(void)
{
	return pubsched_is_window_done(H.pp, W);
}

static void params(struct pubsched_params *prm)
{
	pubsched_params_default(prm, PERIOD);
	prm->random = test_random;
}

/* Every client opens its own config from the items; a stranger finds
 * nothing (its target is another); the cost per client is a fraction of
 * port stuffing's, measured on the same network. */
static void test_round_fetch_and_cost(void **state)
{
	(void)state;
	struct rdvtest_keypair server, clients[N_CLIENTS], stranger;
	struct rendezvous_config cfg;
	struct pubsched_params prm;
	struct dht *node;
	struct got g;

	sim_start(48);
	rdvtest_keypair(&server, 1);
	rdvtest_keypair(&stranger, 3);
	for (int i = 0; i < N_CLIENTS; i++)
		rdvtest_keypair(&clients[i], (uint8_t)(10 + i));
	params(&prm);
	node = S.n[PUB_NODE].d;
	W = derive_window_start(unix_now() / 1000, PERIOD);
	rdvtest_config(&cfg, 0xa1, PERIOD);

	/* Port stuffing first, for the comparison. */
	assert_int_equal(pubsched_new(PUBSCHED_PEERS, &prm, server.priv, &node, 1, &H.pp), 0);
	for (int i = 0; i < N_CLIENTS; i++)
		assert_int_equal(pubsched_add_client(H.pp, clients[i].pub), 0);
	assert_int_equal(pubsched_set_config(H.pp, W, &cfg, unix_now()), 0);
	S.step_deadline = S.now;
	run_until(ports_done, 10 * 60000);
	uint64_t ports_q = H.q_sent, ports_b = H.q_bytes;
	pubsched_free(H.pp);
	H.pp = NULL;

	H.q_sent = H.q_bytes = 0;
	assert_int_equal(pubsched_new(PUBSCHED_ITEMS, &prm, server.priv, &node, 1, &H.ip), 0);
	for (int i = 0; i < N_CLIENTS; i++)
		assert_int_equal(pubsched_add_client(H.ip, clients[i].pub), 0);
	assert_int_equal(pubsched_add_client(H.ip, clients[0].pub), -EEXIST);
	assert_int_equal(pubsched_set_config(H.ip, W, &cfg, unix_now()), 0);
	assert_int_equal(pubsched_set_config(H.ip, W, &cfg, unix_now()), 0);
	assert_int_equal(pubsched_set_config(H.ip, W + 2 * PERIOD, &cfg, unix_now()), -EINVAL);
	S.step_deadline = S.now;
	run_until(items_done, 10 * 60000);
	uint64_t items_q = H.q_sent, items_b = H.q_bytes;
	struct pubsched_stats st;
	pubsched_get_stats(H.ip, &st);
	assert_int_equal(st.publications, N_CLIENTS);
	assert_int_equal(st.failures, 0);
	printf("per client per round, publisher's queries: items %.1f datagrams %.0f bytes; "
	       "port stuffing %.1f datagrams %.0f bytes\n",
	       (double)items_q / N_CLIENTS, (double)items_b / N_CLIENTS,
	       (double)ports_q / N_CLIENTS, (double)ports_b / N_CLIENTS);
	assert_true(items_q * 10 < ports_q);

	for (int i = 0; i < N_CLIENTS; i += 3) {
		fetch_items(20 + i, FETCH_CONFIG, clients[i].priv, server.pub, 0, &g);
		assert_int_equal(g.r.status, 0);
		assert_int_equal(g.r.window_start, W);
		assert_int_equal(g.r.epoch, 0);
		assert_memory_equal(g.r.cfg.intro_key, cfg.intro_key, 16);
	}
	fetch_items(30, FETCH_CONFIG, stranger.priv, server.pub, 0, &g);
	assert_int_equal(g.r.status, FETCH_ERR_NOTHING);
	/* A generic message is another key: nothing there either. */
	fetch_items(30, FETCH_MESSAGE, clients[0].priv, server.pub, 0, &g);
	assert_int_equal(g.r.status, FETCH_ERR_NOTHING);
	sim_stop();
}

/* A new K within the window: the next epoch is a higher seq under the
 * same target; every storing node replaces the item and every reader
 * opens the new config, never the old one. */
static void test_epoch_is_seq(void **state)
{
	(void)state;
	struct rdvtest_keypair server, client;
	struct rendezvous_config cfg;
	struct pubsched_params prm;
	struct dht *node;
	struct got g;

	sim_start(40);
	rdvtest_keypair(&server, 1);
	rdvtest_keypair(&client, 10);
	params(&prm);
	node = S.n[PUB_NODE].d;
	W = derive_window_start(unix_now() / 1000, PERIOD);
	assert_int_equal(pubsched_new(PUBSCHED_ITEMS, &prm, server.priv, &node, 1, &H.ip), 0);
	assert_int_equal(pubsched_add_client(H.ip, client.pub), 0);
	rdvtest_config(&cfg, 0xa1, PERIOD);
	assert_int_equal(pubsched_set_config(H.ip, W, &cfg, unix_now()), 0);
	S.step_deadline = S.now;
	run_until(items_done, 5 * 60000);
	fetch_items(25, FETCH_CONFIG, client.priv, server.pub, 0, &g);
	assert_int_equal(g.r.epoch, 0);

	rdvtest_config(&cfg, 0xb2, PERIOD);
	assert_int_equal(pubsched_set_config(H.ip, W, &cfg, unix_now()), 1);
	assert_int_equal(pubsched_get_epoch(H.ip, W), 1);
	S.step_deadline = S.now;
	run_until(items_done, 5 * 60000);
	for (int from = 20; from < 40; from += 4) {
		fetch_items(from, FETCH_CONFIG, client.priv, server.pub, 0, &g);
		assert_int_equal(g.r.status, 0);
		assert_int_equal(g.r.epoch, 1);
		assert_memory_equal(g.r.cfg.intro_key, cfg.intro_key, 16);
	}
	size_t holders = 0;
	for (int i = 0; i < S.n_nodes; i++) {
		struct dht_stats ds;
		dht_get_stats(S.n[i].d, S.now, &ds);
		holders += ds.stored_items;
	}
	assert_int_equal(holders, DHT_K);     /* replaced, not added */

	/* The next window: asked for explicitly before anything is there. */
	fetch_items(33, FETCH_CONFIG, client.priv, server.pub, W + PERIOD, &g);
	assert_int_equal(g.r.status, FETCH_ERR_NOTHING);
	/* Once the window is over, its config reads as expired. */
	pubsched_free(H.ip);
	H.ip = NULL;
	simnet_run(&S, S.now + (int64_t)PERIOD * 1000, NULL);
	fetch_items(33, FETCH_CONFIG, client.priv, server.pub, W, &g);
	assert_int_equal(g.r.status, FETCH_ERR_EXPIRED);
	sim_stop();
}

/* rdvitem's value parsing: only a canonical byte string of a sealed size. */
static void test_item_value(void **state)
{
	(void)state;
	struct dht_item it;
	const uint8_t *p;
	uint8_t e, s[32] = { 1 }, sealed[RENDEZVOUS_CONFIG_LEN] = { 1 };
	struct rdvtest_keypair k;
	rdvtest_keypair(&k, 9);
	assert_int_equal(rdvitem_make(&it, k.priv, s, 900, ITEMKEY_CONFIG, 3, sealed, sizeof(sealed)), 0);
	assert_int_equal(rdvitem_sealed(&it, &p, &e), RENDEZVOUS_CONFIG_LEN);
	assert_int_equal(e, 3);
	assert_memory_equal(it.v, "63:", 3);
	it.seq = 256;
	assert_int_equal(rdvitem_sealed(&it, &p, &e), -EINVAL);
	it.seq = 3;
	it.v_len--;
	assert_int_equal(rdvitem_sealed(&it, &p, &e), -EINVAL);
	it.v_len++;
	memcpy(it.v, "063", 3);
	assert_int_equal(rdvitem_sealed(&it, &p, &e), -EINVAL);
	memcpy(it.v, "i3e", 3);
	assert_int_equal(rdvitem_sealed(&it, &p, &e), -EINVAL);
	assert_int_equal(rdvitem_make(&it, k.priv, s, 900, ITEMKEY_CONFIG, 3, sealed, 24), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item_value),
		cmocka_unit_test(test_round_fetch_and_cost),
		cmocka_unit_test(test_epoch_is_seq),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
