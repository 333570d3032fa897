/* The publication scheduler alone (mt6d/engine/pubsched.c): the channels'
 * policies (pubsched_peers_backend, pubsched_items_backend) with their DHT
 * operations replaced by a fake that records what is started and lets each
 * test choose how every operation ends. Covers the order of a fresh
 * server's catch-up, quorum and retries, epochs, the window switch and a
 * client removed in mid-round; test_publish and test_itempub cover the
 * same scheduler over real DHT nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sodium.h>
#include <cmocka.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/engine/pubsched_int.h"
#include "tests/rdvtest.h"

#define PERIOD 900
#define T_W 1800000000ULL        /* a window start (a multiple of PERIOD) */
#define MAX_CLIENTS 6
#define MAX_FOPS 512

/* An operation the scheduler started on the fake. */
struct fop {
	bool is_live;
	struct dht *d;
	uint64_t window;
	uint8_t epoch;
	unsigned part;
	int client;               /* index in F.secret, -1: unknown */
	bool is_peers;            /* started by the second scheduler of a pair */
	dht_result_fn *cb;
	void *closure;
};

static struct {
	struct fop op[MAX_FOPS];
	size_t n_op;
	size_t cancelled;
	bool is_refusing;         /* start fails (a busy node) */
	uint8_t secret[MAX_CLIENTS][DERIVE_SECRET_LEN];
	int n_clients;
	uint64_t rng;
} F;

static uint8_t fake_nodes[4];  /* the scheduler only compares node pointers */
#define NODE(i) ((struct dht *)(void *)&fake_nodes[i])

static void fake_random(void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		F.rng ^= F.rng << 13;
		F.rng ^= F.rng >> 7;
		F.rng ^= F.rng << 17;
		((uint8_t *)buf)[i] = (uint8_t)(F.rng >> 24);
	}
}

static int fake_start(const struct pubsched_run *r)
{
	if (F.is_refusing)
		return -EBUSY;
	assert_true(F.n_op < MAX_FOPS);
	struct fop *o = &F.op[F.n_op];
	*o = (struct fop){ .is_live = true, .d = r->dht, .window = r->window, .epoch = r->epoch,
			   .part = r->part, .client = -1, .cb = r->cb, .closure = r->closure };
	for (int i = 0; i < F.n_clients; i++)
		if (memcmp(r->secret, F.secret[i], DERIVE_SECRET_LEN) == 0)
			o->client = i;
	assert_true(o->client >= 0);
	return (int)++F.n_op;
}

static void fake_cancel(struct dht *d, int op)
{
	assert_true(op >= 1 && (size_t)op <= F.n_op);
	assert_ptr_equal(F.op[op - 1].d, d);
	assert_true(F.op[op - 1].is_live);
	F.op[op - 1].is_live = false;
	F.cancelled++;
}

static bool fake_is_ready(struct dht *d, int family, int64_t now_ms)
{
	(void)d;
	(void)family;
	(void)now_ms;
	return true;
}

/* Ends operation i: stored of wanted nodes took it. */
static void fop_end(size_t i, size_t stored, size_t wanted)
{
	struct dht_result r = { .event = DHT_EVENT_DONE, .op = (int)i + 1, .n_announced = stored * 21,
				.n_stored = stored, .n_wanted = wanted };
	assert_true(F.op[i].is_live);
	F.op[i].is_live = false;
	F.op[i].cb(F.op[i].closure, &r);
}

static size_t live_ops(void)
{
	size_t n = 0;
	for (size_t i = 0; i < F.n_op; i++)
		n += F.op[i].is_live;
	return n;
}

/* Ends every live operation at its quorum. */
static void end_all_stored(void)
{
	for (size_t i = 0; i < F.n_op; i++)
		if (F.op[i].is_live)
			fop_end(i, 8, 6);
}

static struct pubsched_backend be;
static struct pubsched *P;
static uint8_t client_pub[MAX_CLIENTS][32];

static int64_t at(int64_t s_into_window)
{
	return (int64_t)T_W * 1000 + s_into_window * 1000;
}

/* The monotonic clock the scheduler is given: any offset from UNIX time. */
static int64_t tick(int64_t unix_ms)
{
	int64_t now = unix_ms - (int64_t)T_W * 1000 + 5000000;
	int64_t next = pubsched_tick(P, now, unix_ms);
	assert_true(next > now && next <= now + 1000);
	return next;
}

/* A scheduler with a fake back end of channel ch's policy over n_nodes. */
static void start(enum pubsched_channel ch, size_t n_nodes, uint32_t max_ops, int n_clients)
{
	struct pubsched_params prm;
	struct dht *nodes[4] = { NODE(0), NODE(1), NODE(2), NODE(3) };
	struct rdvtest_keypair server, client;

	memset(&F, 0, sizeof(F));
	F.rng = 0x9e3779b97f4a7c15ULL;
	be = ch == PUBSCHED_PEERS ? pubsched_peers_backend : pubsched_items_backend;
	be.start = fake_start;
	be.cancel = fake_cancel;
	be.is_ready = fake_is_ready;
	pubsched_params_default(&prm, PERIOD);
	prm.random = fake_random;
	prm.max_ops_per_node = max_ops;
	rdvtest_keypair(&server, 0x40);
	assert_int_equal(pubsched_new_with(&be, &prm, server.priv, nodes, n_nodes, &P), 0);
	F.n_clients = n_clients;
	for (int i = 0; i < n_clients; i++) {
		rdvtest_keypair(&client, (uint8_t)(0x10 + i));
		memcpy(client_pub[i], client.pub, sizeof(client.pub));
		assert_int_equal(keys_shared_secret(F.secret[i], server.priv, client.pub), 0);
		assert_int_equal(pubsched_add_client(P, client.pub), 0);
	}
	sodium_memzero(&server, sizeof(server));
}

static void stop(void)
{
	pubsched_free(P);
	P = NULL;
	assert_int_equal(live_ops(), 0);
}

static struct pubsched_stats stats(void)
{
	struct pubsched_stats st;
	pubsched_get_stats(P, &st);
	return st;
}

/* start(), clients n_active.. removed again, config 1 for window W set 100 s
 * into it (a catch-up: due within urgent_spread_s) and a first tick. */
static void begin(enum pubsched_channel ch, size_t n_nodes, uint32_t max_ops, int n_clients, int n_active)
{
	struct rendezvous_config c;
	start(ch, n_nodes, max_ops, n_clients);
	for (int i = n_active; i < n_clients; i++)
		assert_int_equal(pubsched_remove_client(P, client_pub[i]), 0);
	rdvtest_config(&c, 1, PERIOD);
	assert_int_equal(pubsched_set_config(P, T_W, &c, at(100)), 0);
	tick(at(100));
}

/* A fresh server 500 s into a window W: the current window's configs are a
 * catch-up, the next window's round has begun. With room for one
 * publication at a time, every client of the current window goes out before
 * any of the next, each client once per window. W is an odd window, the
 * second of the scheduler's two slots, so that slot order is not enough. */
static void test_fresh_server_serves_current_window_first(void **state)
{
	(void)state;
	struct rendezvous_config c;
	const uint64_t w = T_W + PERIOD;
	start(PUBSCHED_PEERS, 1, 3, 4);
	rdvtest_config(&c, 1, PERIOD);
	assert_int_equal(pubsched_set_config(P, w + PERIOD, &c, at(PERIOD + 500)), 0);
	assert_int_equal(pubsched_set_config(P, w, &c, at(PERIOD + 500)), 0);
	tick(at(PERIOD + 500));
	/* Everything due at once: only the scan order decides. */
	int64_t t = at(PERIOD + 845);
	tick(t);
	bool seen[2][MAX_CLIENTS] = { { false } };
	size_t n_cur = 0;
	for (int round = 0; round < 8; round++) {
		assert_int_equal(live_ops(), 3);      /* one client's three chunks */
		assert_int_equal(stats().pending, 7 - (size_t)round);
		const struct fop *o = &F.op[F.n_op - 1];
		int k = o->window == w ? 0 : 1;
		assert_true(o->window == w || o->window == w + PERIOD);
		assert_false(seen[k][o->client]);
		seen[k][o->client] = true;
		if (k == 0)
			n_cur++;
		else
			assert_int_equal(n_cur, 4);   /* the next window waits for the current one */
		for (size_t i = F.n_op - 3; i < F.n_op; i++)
			assert_true(F.op[i].client == o->client && F.op[i].window == o->window);
		end_all_stored();
		t += 1000;
		tick(t);
	}
	assert_int_equal(live_ops(), 0);
	assert_true(pubsched_is_window_done(P, w));
	assert_true(pubsched_is_window_done(P, w + PERIOD));
	assert_int_equal(stats().publications, 8);
	assert_int_equal(stats().ops_started, 24);
	assert_int_equal(stats().pending, 0);
	stop();
}

/* The catch-up starts at a random client: over several fresh servers the
 * first client published is not always the same (no list an observer could
 * match). */
static void test_catch_up_starts_at_random_client(void **state)
{
	(void)state;
	struct rendezvous_config c;
	bool first[MAX_CLIENTS] = { false };
	int distinct = 0;
	rdvtest_config(&c, 1, PERIOD);
	for (int run = 0; run < 12; run++) {
		start(PUBSCHED_ITEMS, 1, 1, MAX_CLIENTS);
		F.rng += (uint64_t)run * 7919;
		assert_int_equal(pubsched_set_config(P, T_W, &c, at(100)), 0);
		tick(at(100));
		tick(at(110));
		assert_int_equal(live_ops(), 1);
		distinct += !first[F.op[0].client];
		first[F.op[0].client] = true;
		end_all_stored();
		stop();
	}
	assert_true(distinct >= 3);
}

/* Peers: the chunk short of its quorum is retried alone, after retry_s,
 * with the same epoch; three short runs with every chunk held somewhere
 * are accepted as partial. Items: a short put is retried until stored. */
static void test_quorum_not_met_is_retried(void **state)
{
	(void)state;
	struct pubsched_params d;
	pubsched_params_default(&d, PERIOD);

	begin(PUBSCHED_PEERS, 1, 24, 1, 1);
	tick(at(110));
	assert_int_equal(F.n_op, 3);
	fop_end(0, 8, 6);
	fop_end(1, 3, 6);
	fop_end(2, 6, 6);
	tick(at(111));
	assert_int_equal(stats().failures, 1);
	assert_int_equal(stats().publications, 0);
	assert_false(pubsched_is_window_done(P, T_W));
	tick(at(111 + d.retry_s) - 1);
	assert_int_equal(F.n_op, 3);           /* not before retry_s */
	tick(at(111 + d.retry_s));
	assert_int_equal(F.n_op, 4);
	assert_int_equal(F.op[3].part, 1);     /* alone */
	assert_int_equal(F.op[3].epoch, F.op[1].epoch);
	/* Short twice more, but held: accepted as partial. */
	fop_end(3, 2, 6);
	tick(at(200));
	tick(at(200 + d.retry_s));
	assert_int_equal(F.n_op, 5);
	assert_int_equal(F.op[4].part, 1);
	fop_end(4, 2, 6);
	tick(at(300));
	assert_int_equal(stats().failures, 2);
	assert_int_equal(stats().partial, 1);
	assert_int_equal(stats().publications, 1);
	assert_true(pubsched_is_window_done(P, T_W));
	stop();

	begin(PUBSCHED_ITEMS, 1, 24, 1, 1);
	tick(at(110));
	int64_t t = at(110);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(F.n_op, (size_t)i + 1);
		fop_end((size_t)i, 5, 6);      /* one node short, held: never enough */
		tick(t += 1000);
		tick(t += (int64_t)d.retry_s * 1000);
	}
	assert_int_equal(stats().failures, 5);
	assert_int_equal(stats().partial, 0);
	assert_false(pubsched_is_window_done(P, T_W));
	fop_end(5, 6, 6);
	tick(t + 1000);
	assert_true(pubsched_is_window_done(P, T_W));
	assert_int_equal(stats().publications, 1);
	stop();
}

static int fake_start_peers(const struct pubsched_run *r)
{
	int op = fake_start(r);

	if (op > 0)
		F.op[op - 1].is_peers = true;
	return op;
}

static size_t live_ops_of(bool is_peers)
{
	size_t n = 0;
	for (size_t i = 0; i < F.n_op; i++)
		n += F.op[i].is_live && F.op[i].is_peers == is_peers;
	return n;
}

/* Both channels: the items scheduler (P) before the peers one (Q). */
static int64_t tick_pair(struct pubsched *q, int64_t unix_ms)
{
	int64_t now = unix_ms - (int64_t)T_W * 1000 + 5000000;
	int64_t next = pubsched_tick_ordered(P, q, now, unix_ms);
	assert_true(next > now && next <= now + 1000);
	return next;
}

/* The port-stuffing scheduler of a pair beside P (items), with the first
 * n_clients of start()'s clients, over P's first node. */
static struct pubsched_backend be_peers;

static struct pubsched *peers_beside(int n_clients)
{
	struct pubsched_params prm;
	struct dht *nodes[1] = { NODE(0) };
	struct rdvtest_keypair server;
	struct pubsched *q = NULL;

	be_peers = pubsched_peers_backend;
	be_peers.start = fake_start_peers;
	be_peers.cancel = fake_cancel;
	be_peers.is_ready = fake_is_ready;
	pubsched_params_default(&prm, PERIOD);
	prm.random = fake_random;
	rdvtest_keypair(&server, 0x40);
	assert_int_equal(pubsched_new_with(&be_peers, &prm, server.priv, nodes, 1, &q), 0);
	sodium_memzero(&server, sizeof(server));
	for (int i = 0; i < n_clients; i++)
		assert_int_equal(pubsched_add_client(q, client_pub[i]), 0);
	return q;
}

/* Over both channels, the port-stuffing scheduler starts nothing while item
 * puts are in flight (they share the node's pacing and the foreign nodes'
 * budgets; with 12 clients the announces held the first puts back 40 s),
 * and it does not wait for items that failed and wait for their retry. */
static void test_items_go_before_peers(void **state)
{
	(void)state;
	struct rendezvous_config c;
	struct pubsched *q;
	int64_t t;

	start(PUBSCHED_ITEMS, 1, 24, 3);
	q = peers_beside(3);

	/* A fresh server: everything due within the catch-up spread. */
	rdvtest_config(&c, 1, PERIOD);
	assert_int_equal(pubsched_set_config(P, T_W, &c, at(100)), 0);
	assert_int_equal(pubsched_set_config(q, T_W, &c, at(100)), 0);
	for (t = at(100); t <= at(115); t += 250)
		tick_pair(q, t);
	assert_int_equal(live_ops_of(false), 3);
	assert_int_equal(live_ops_of(true), 0);
	/* The puts are stored: the announces start (each client at a random
	 * time of the catch-up spread from now). */
	end_all_stored();
	for (int64_t end = t + 6000; t <= end; t += 250)
		tick_pair(q, t);
	assert_int_equal(live_ops_of(true), 9);   /* 3 clients x 3 chunks */
	assert_true(pubsched_is_window_done(P, T_W));
	for (size_t i = 0; i < F.n_op; i++)
		if (F.op[i].is_live)
			fop_end(i, 8, 6);
	tick_pair(q, t += 1000);
	assert_true(pubsched_is_window_done(q, T_W));

	/* A new epoch (a revocation): the puts go first again; this time no
	 * node takes them, and the announces go while the puts wait for their
	 * retry. */
	rdvtest_config(&c, 2, PERIOD);
	assert_int_equal(pubsched_set_config(P, T_W, &c, t), 1);
	assert_int_equal(pubsched_set_config(q, T_W, &c, t), 1);
	size_t before = F.n_op;
	for (int64_t end = t + 6000; t <= end; t += 250)
		tick_pair(q, t);
	assert_int_equal(live_ops_of(false), 3);
	assert_int_equal(live_ops_of(true), 0);
	for (size_t i = before; i < F.n_op; i++)
		fop_end(i, 0, 6);
	for (int64_t end = t + 6000; t <= end; t += 250)
		tick_pair(q, t);
	assert_false(pubsched_is_window_done(P, T_W));
	assert_int_equal(live_ops_of(false), 0);
	assert_int_equal(live_ops_of(true), 9);

	pubsched_free(q);
	stop();
}

static size_t live_ops_for(bool is_peers, uint64_t window)
{
	size_t n = 0;
	for (size_t i = 0; i < F.n_op; i++)
		n += F.op[i].is_live && F.op[i].is_peers == is_peers && F.op[i].window == window;
	return n;
}

/* The hold remembers how far the window in force is done (it is asked on
 * every DHT event); a client registered in a reused entry below that point
 * makes the window not done again: its put still goes before its
 * announces while the next window's round runs. */
static void test_items_first_for_a_client_added_late(void **state)
{
	(void)state;
	struct pubsched_params prm;
	struct rendezvous_config c1, c2;
	struct pubsched *q;
	int64_t t;

	start(PUBSCHED_ITEMS, 1, 24, 4);
	assert_int_equal(pubsched_remove_client(P, client_pub[3]), 0);   /* registered later */
	q = peers_beside(3);
	pubsched_params_default(&prm, PERIOD);
	rdvtest_config(&c1, 1, PERIOD);
	rdvtest_config(&c2, 2, PERIOD);
	assert_int_equal(pubsched_set_config(P, T_W, &c1, at(100)), 0);
	assert_int_equal(pubsched_set_config(q, T_W, &c1, at(100)), 0);
	assert_int_equal(pubsched_set_config(P, T_W + PERIOD, &c2, at(100)), 0);
	assert_int_equal(pubsched_set_config(q, T_W + PERIOD, &c2, at(100)), 0);

	/* The window in force, puts then announces, all stored. */
	for (t = at(100); t <= at(110); t += 250)
		tick_pair(q, t);
	end_all_stored();
	for (int64_t end = t + 6000; t <= end; t += 250)
		tick_pair(q, t);
	end_all_stored();
	tick_pair(q, t + 1000);
	assert_true(pubsched_is_window_done(P, T_W));
	assert_true(pubsched_is_window_done(q, T_W));

	/* The next window's round: its puts in flight, the hold asked (and the
	 * window in force found done) on every tick. */
	t = at(PERIOD - prm.lead_s - prm.spread_s);
	for (int64_t end = at(PERIOD - prm.lead_s); t <= end && live_ops_for(false, T_W + PERIOD) < 3; t += 250)
		tick_pair(q, t);
	assert_true(live_ops_for(false, T_W + PERIOD) >= 1);

	/* A client replaced: the new one takes the removed one's entry. */
	assert_int_equal(pubsched_remove_client(P, client_pub[1]), 0);
	assert_int_equal(pubsched_remove_client(q, client_pub[1]), 0);
	assert_int_equal(pubsched_add_client(P, client_pub[3]), 0);
	assert_int_equal(pubsched_add_client(q, client_pub[3]), 0);
	assert_false(pubsched_is_window_done(P, T_W));
	for (int64_t end = t + 6000; t <= end; t += 250)
		tick_pair(q, t);
	assert_int_equal(live_ops_for(false, T_W), 1);
	assert_int_equal(live_ops_for(true, T_W), 0);
	/* Its put stored, its announces go. */
	for (size_t i = 0; i < F.n_op; i++)
		if (F.op[i].is_live && !F.op[i].is_peers && F.op[i].window == T_W)
			fop_end(i, 8, 6);
	for (int64_t end = t + 6000; t <= end; t += 250)
		tick_pair(q, t);
	assert_int_equal(live_ops_for(true, T_W), 3);
	assert_true(pubsched_is_window_done(P, T_W));
	/* A new epoch of the window in force (a revocation) during the round:
	 * not done any more. */
	rdvtest_config(&c1, 3, PERIOD);
	assert_int_equal(pubsched_set_config(P, T_W, &c1, t), 1);
	assert_false(pubsched_is_window_done(P, T_W));

	for (size_t i = 0; i < F.n_op; i++)
		if (F.op[i].is_live)
			fop_end(i, 8, 6);
	pubsched_free(q);
	stop();
}

/* A new config in mid-run moves the window to epoch 1 at once: peers count
 * the interrupted epoch 0 as published and announce epoch 1 (contiguous);
 * a client added then is announced in epochs 0 and 1 in turn. Items put
 * epoch 1 directly. */
static void test_epoch_change(void **state)
{
	(void)state;
	struct rendezvous_config c1, c2;
	rdvtest_config(&c1, 1, PERIOD);
	rdvtest_config(&c2, 2, PERIOD);
	for (int ch = 0; ch < 2; ch++) {
		start(ch == 0 ? PUBSCHED_PEERS : PUBSCHED_ITEMS, 1, 24, 2);
		assert_int_equal(pubsched_remove_client(P, client_pub[1]), 0);
		size_t parts = be.n_parts;
		assert_int_equal(pubsched_set_config(P, T_W, &c1, at(100)), 0);
		tick(at(100));
		tick(at(110));
		assert_int_equal(F.n_op, parts);
		assert_int_equal(pubsched_set_config(P, T_W, &c2, at(111)), 1);
		assert_int_equal(pubsched_set_config(P, T_W, &c2, at(111)), 1);
		assert_int_equal(F.cancelled, parts);
		assert_int_equal(pubsched_add_client(P, client_pub[1]), 0);
		tick(at(111));
		tick(at(120));
		size_t first = parts;
		for (size_t i = first; i < F.n_op; i++)
			assert_int_equal(F.op[i].epoch, F.op[i].client == 0 || ch == 1 ? 1 : 0);
		end_all_stored();
		tick(at(121));
		end_all_stored();
		tick(at(122));
		assert_int_equal(live_ops(), 0);
		assert_true(pubsched_is_window_done(P, T_W));
		/* Peers: client 0 in epoch 1, client 1 in epochs 0 and 1. */
		assert_int_equal(stats().publications, ch == 0 ? 3 : 2);
		assert_int_equal(F.n_op, parts * (ch == 0 ? 4 : 3));
		stop();
	}
}

/* The next window is published in its round; when the current window ends
 * its slots and operations go (get_epoch -ENOENT), and the window after
 * the next takes its slot. */
static void test_window_switch(void **state)
{
	(void)state;
	struct rendezvous_config c1, c2, c3;
	struct pubsched_params d;
	pubsched_params_default(&d, PERIOD);
	rdvtest_config(&c1, 1, PERIOD);
	rdvtest_config(&c2, 2, PERIOD);
	rdvtest_config(&c3, 3, PERIOD);
	start(PUBSCHED_ITEMS, 1, 24, 2);
	assert_int_equal(pubsched_set_config(P, T_W, &c1, at(100)), 0);
	assert_int_equal(pubsched_set_config(P, T_W + PERIOD, &c2, at(100)), 0);
	assert_int_equal(pubsched_set_config(P, T_W + 2 * PERIOD, &c3, at(100)), -EINVAL);
	tick(at(100));
	tick(at(110));
	assert_int_equal(F.n_op, 2);           /* the current window only */
	end_all_stored();
	int64_t round_start = at(PERIOD - d.lead_s - d.spread_s);
	tick(round_start - 1000);
	assert_int_equal(F.n_op, 2);           /* the next window's round has not begun */
	for (int64_t t = round_start; t <= at(PERIOD - d.lead_s); t += 1000)
		tick(t);
	assert_int_equal(F.n_op, 4);
	for (size_t i = 2; i < 4; i++)
		assert_int_equal(F.op[i].window, T_W + PERIOD);
	assert_true(pubsched_is_window_done(P, T_W));
	assert_false(pubsched_is_window_done(P, T_W + PERIOD));
	/* One put of the next window still running when the current one ends. */
	fop_end(2, 6, 6);
	tick(at(PERIOD - 1));
	tick(at(PERIOD));
	assert_int_equal(pubsched_get_epoch(P, T_W), -ENOENT);
	assert_false(pubsched_is_window_done(P, T_W));
	assert_int_equal(pubsched_get_epoch(P, T_W + PERIOD), 0);
	assert_int_equal(live_ops(), 1);
	/* The window after: its config now fits, in the slot W had. */
	assert_int_equal(pubsched_set_config(P, T_W + 2 * PERIOD, &c3, at(PERIOD)), 0);
	assert_int_equal(pubsched_set_config(P, T_W, &c1, at(PERIOD)), -EINVAL);
	fop_end(3, 6, 6);
	tick(at(PERIOD + 1));
	assert_true(pubsched_is_window_done(P, T_W + PERIOD));
	/* The next window's round: both clients, from the window after. */
	for (int64_t t = at(2 * PERIOD - d.lead_s - d.spread_s); t <= at(2 * PERIOD - d.lead_s); t += 1000)
		tick(t);
	assert_int_equal(F.n_op, 6);
	for (size_t i = 4; i < 6; i++)
		assert_int_equal(F.op[i].window, T_W + 2 * PERIOD);
	end_all_stored();
	tick(at(2 * PERIOD - 1));
	assert_true(pubsched_is_window_done(P, T_W + 2 * PERIOD));
	/* The whole period: the items refresh only after an hour. */
	assert_int_equal(stats().refreshes, 0);
	assert_int_equal(stats().publications, 6);
	stop();
}

/* A client removed while its chunks are in flight: they are cancelled, a
 * late result for them counts for nobody, the window is done without it;
 * its registry entry serves the next client. */
static void test_client_removed_mid_round(void **state)
{
	(void)state;
	begin(PUBSCHED_PEERS, 2, 24, 3, 2);
	assert_int_equal(pubsched_remove_client(P, client_pub[2]), -ENOENT);
	tick(at(110));
	assert_int_equal(F.n_op, 6);
	/* Each client from its own node, all chunks of one from the same. */
	for (size_t i = 0; i < 6; i++)
		assert_ptr_equal(F.op[i].d, NODE(F.op[i].client));
	assert_int_equal(pubsched_ops_on(P, NODE(0)), 3);
	struct dht_result late = { .event = DHT_EVENT_DONE, .n_announced = 8 * 21, .n_stored = 8, .n_wanted = 6 };
	void *closure[3] = { NULL };
	size_t n_closures = 0;
	for (size_t i = 0; i < 6; i++)
		if (F.op[i].client == 0 && n_closures < 3)
			closure[n_closures++] = F.op[i].closure;
	assert_int_equal(n_closures, 3);
	assert_int_equal(pubsched_remove_client(P, client_pub[0]), 0);
	assert_int_equal(F.cancelled, 3);
	assert_int_equal(pubsched_ops_on(P, NODE(0)), 0);
	assert_int_equal(stats().clients, 1);
	for (size_t i = 0; i < n_closures; i++)
		F.op[0].cb(closure[i], &late);
	tick(at(111));
	assert_int_equal(stats().publications, 0);
	assert_int_equal(stats().acked, 0);
	end_all_stored();
	tick(at(112));
	assert_int_equal(stats().publications, 1);
	assert_true(pubsched_is_window_done(P, T_W));
	/* Client 2 takes client 0's entry (and node): published afresh. */
	assert_int_equal(pubsched_add_client(P, client_pub[2]), 0);
	assert_false(pubsched_is_window_done(P, T_W));
	tick(at(113));
	tick(at(120));
	assert_int_equal(F.n_op, 9);
	for (size_t i = 6; i < 9; i++) {
		assert_int_equal(F.op[i].client, 2);
		assert_ptr_equal(F.op[i].d, NODE(0));
	}
	end_all_stored();
	tick(at(121));
	assert_true(pubsched_is_window_done(P, T_W));
	assert_int_equal(stats().publications, 2);
	stop();
}

/* A node replaced by a new identity: new runs leave from the new one, the
 * running one finishes on the old; dropped, the old node's runs start
 * again from the new one. A busy node delays a run by a second. */
static void test_node_replaced_and_busy(void **state)
{
	(void)state;
	begin(PUBSCHED_PEERS, 1, 24, 2, 1);
	F.is_refusing = true;
	tick(at(110));
	assert_int_equal(F.n_op, 0);
	assert_int_equal(stats().pending, 1);
	F.is_refusing = false;
	tick(at(111));
	assert_int_equal(F.n_op, 3);
	assert_int_equal(pubsched_replace_node(P, NODE(0), NODE(1)), 0);
	assert_int_equal(pubsched_replace_node(P, NODE(0), NODE(1)), -ENOENT);
	assert_int_equal(pubsched_ops_on(P, NODE(0)), 3);
	assert_int_equal(pubsched_add_client(P, client_pub[1]), 0);
	tick(at(112));
	tick(at(120));
	assert_int_equal(F.n_op, 6);
	assert_int_equal(pubsched_ops_on(P, NODE(1)), 3);
	pubsched_drop_node(P, NODE(0));
	assert_int_equal(F.cancelled, 3);
	assert_int_equal(pubsched_ops_on(P, NODE(0)), 0);
	tick(at(121));
	assert_int_equal(F.n_op, 9);
	for (size_t i = 6; i < 9; i++) {
		assert_int_equal(F.op[i].client, 0);
		assert_ptr_equal(F.op[i].d, NODE(1));
		assert_int_equal(F.op[i].epoch, F.op[i - 6].epoch);
	}
	end_all_stored();
	tick(at(122));
	assert_true(pubsched_is_window_done(P, T_W));
	stop();
}

/* Ends the live operations, checking that each client's parts leave from
 * three different nodes, part j always from node_of[client][j] if set (else
 * it is set); returns how many clients they were for and the nodes they
 * used as bits. */
static int end_lane_ops(size_t from, struct dht *node_of[MAX_CLIENTS][3], unsigned *nodes_used)
{
	bool is_seen[MAX_CLIENTS] = { false };
	int n = 0;

	for (size_t i = from; i < F.n_op; i++) {
		struct fop *o = &F.op[i];
		if (!o->is_live)
			continue;
		assert_true(o->part < 3);
		if (!node_of[o->client][o->part])
			node_of[o->client][o->part] = o->d;
		assert_ptr_equal(o->d, node_of[o->client][o->part]);
		for (unsigned j = 0; j < 3; j++)
			if (j != o->part)
				assert_ptr_not_equal(o->d, node_of[o->client][j]);
		*nodes_used |= 1u << ((uint8_t *)(void *)o->d - fake_nodes);
		n += !is_seen[o->client];
		is_seen[o->client] = true;
	}
	end_all_stored();
	return n;
}

/* A server's DHTNodes identities (docs/PROTOCOL.md 6.5): with three nodes,
 * each with room for three chunk operations at a time, a client's three
 * chunks leave from the three nodes (one each: readers group them by /64),
 * so a fresh server's catch-up runs three clients at once (the six clients
 * in two steps, not six). A new identity in one lane moves that lane's
 * chunks alone, and the epoch that follows runs side by side again. */
static void test_lanes_publish_side_by_side(void **state)
{
	(void)state;
	struct dht *node_of[MAX_CLIENTS][3] = { { NULL } };
	struct rendezvous_config c2;
	unsigned used = 0;
	size_t from = 0;
	int steps = 0, done = 0;

	begin(PUBSCHED_PEERS, 3, 3, MAX_CLIENTS, MAX_CLIENTS);
	for (int s = 0; s < 10 && done < MAX_CLIENTS; s++) {
		tick(at(110 + s));
		if (live_ops() == 0)
			continue;
		assert_int_equal(live_ops(), 9); /* three clients, three chunks each */
		done += end_lane_ops(from, node_of, &used);
		from = F.n_op;
		steps++;
	}
	assert_int_equal(done, MAX_CLIENTS);
	assert_int_equal(steps, 2);
	assert_int_equal(used, 7u);
	tick(at(120));
	assert_true(pubsched_is_window_done(P, T_W));
	/* Lane 1 takes a new identity (node 3), then a new K: a new epoch. */
	assert_int_equal(pubsched_replace_node(P, NODE(1), NODE(3)), 0);
	for (int i = 0; i < MAX_CLIENTS; i++)
		for (int j = 0; j < 3; j++)
			if (node_of[i][j] == NODE(1))
				node_of[i][j] = NODE(3);
	rdvtest_config(&c2, 2, PERIOD);
	assert_int_equal(pubsched_set_config(P, T_W, &c2, at(130)), 1);
	used = 0;
	done = 0;
	steps = 0;
	for (int s = 0; s < 10 && done < MAX_CLIENTS; s++) {
		tick(at(136 + s)); /* every new epoch's run due (urgent_spread_s) */
		if (live_ops() == 0)
			continue;
		assert_int_equal(live_ops(), 9);
		done += end_lane_ops(from, node_of, &used);
		from = F.n_op;
		steps++;
	}
	assert_int_equal(done, MAX_CLIENTS);
	assert_int_equal(steps, 2);
	assert_int_equal(used, 1u | 4u | 8u);
	tick(at(150));
	assert_true(pubsched_is_window_done(P, T_W));
	stop();
}

static void test_parameters(void **state)
{
	(void)state;
	struct pubsched_params prm;
	struct dht *nodes[1] = { NODE(0) };
	struct pubsched *p = NULL;
	uint8_t priv[32] = { 1 };
	pubsched_params_default(&prm, PERIOD);
	assert_int_equal(pubsched_new((enum pubsched_channel)7, &prm, priv, nodes, 1, &p), -EINVAL);
	prm.max_ops_per_node = 2;
	assert_int_equal(pubsched_new(PUBSCHED_PEERS, &prm, priv, nodes, 1, &p), -EINVAL);
	assert_int_equal(pubsched_new(PUBSCHED_ITEMS, &prm, priv, nodes, 1, &p), 0);
	pubsched_free(p);
	pubsched_params_default(&prm, PERIOD);
	prm.lead_s = PERIOD;
	prm.spread_s = PERIOD;
	assert_int_equal(pubsched_new(PUBSCHED_ITEMS, &prm, priv, nodes, 1, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_server_serves_current_window_first),
		cmocka_unit_test(test_catch_up_starts_at_random_client),
		cmocka_unit_test(test_quorum_not_met_is_retried),
		cmocka_unit_test(test_epoch_change),
		cmocka_unit_test(test_items_go_before_peers),
		cmocka_unit_test(test_items_first_for_a_client_added_late),
		cmocka_unit_test(test_window_switch),
		cmocka_unit_test(test_client_removed_mid_round),
		cmocka_unit_test(test_node_replaced_and_busy),
		cmocka_unit_test(test_lanes_publish_side_by_side),
		cmocka_unit_test(test_parameters),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
