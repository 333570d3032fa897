/* The simulated public DHT (tests/simdht.h): each modelled behaviour and
 * limit of the foreign nodes, probed with raw KRPC queries, then a small
 * publication round per channel (tests/simround.h: 1,000 foreign nodes, 500
 * clients) that must trip no limit and leave every client's config
 * collectable; the 15,000-client round is bench_round's (make bench). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "dht/krpc.h"
#include "tests/simdht.h"
#include "tests/simnet.h"
#include "tests/simround.h"

#define N_MODEL 64
#define PROBE N_MODEL          /* a model slot outside the swarm: our raw prober */

static struct simnet S;
static struct simdht *M;
static void (*model_hook)(void *ctx, struct simnet_node *to, const uint8_t *buf, size_t len,
			  const struct sockaddr_in6 *from);
static struct krpc_msg reply;
static int n_replies;
static uint16_t probe_port = 6881;

/* Replies to the prober are kept; everything else goes to the model. */
static void hook(void *ctx, struct simnet_node *to, const uint8_t *buf, size_t len,
		 const struct sockaddr_in6 *from)
{
	if (to->idx != PROBE) {
		model_hook(ctx, to, buf, len, from);
		return;
	}
	assert_int_equal(krpc_parse(buf, len, &reply), 0);
	n_replies++;
}

static void setup(void)
{
	struct simdht_params mp = { .n_nodes = N_MODEL, .jech_share = 0.5, .seed = 7, .min_delay_ms = 1,
				    .max_delay_ms = 1, .watch_lo = PROBE, .watch_hi = PROBE + 1 };
	assert_int_equal(simnet_init_models(&S, N_MODEL + 1, N_MODEL + 1, 1000), 0);
	assert_int_equal(simdht_new(&S, &mp, &M), 0);
	model_hook = S.model_input;
	S.model_input = hook;
	n_replies = 0;
	probe_port = 6881;
}

static void teardown(void)
{
	simdht_free(M);
	simnet_fini(&S);
}

/* The first node of kind k after node `after` (-1: from the start). */
static int node_of_kind(enum simdht_kind k, int after)
{
	for (int i = after + 1; i < N_MODEL; i++)
		if (simdht_kind_of(M, i) == k)
			return i;
	fail_msg("no node of kind %d after %d", k, after);
	return -1;
}

/* Sends one query from the prober (its UDP source port probe_port). */
static void query(int to, uint8_t method, const uint8_t *target, uint16_t port, const struct krpc_msg *tok)
{
	struct krpc_msg q;
	uint8_t buf[1500];
	struct sockaddr_in6 dst;
	memset(&q, 0, sizeof(q));
	q.type = KRPC_QUERY;
	q.method = method;
	q.tid_len = 2;
	q.has_id = true;
	memset(q.id, 0x42, sizeof(q.id));
	if (target)
		memcpy(q.target, target, sizeof(q.target));
	q.port = port;
	if (tok) {
		memcpy(q.token, tok->token, tok->token_len);
		q.token_len = tok->token_len;
	}
	int n = krpc_encode(&q, buf, sizeof(buf));
	assert_true(n > 0);
	S.n[PROBE].addr.sin6_port = htons(probe_port);
	simnet_addr(to, &dst);
	assert_int_equal(simnet_send(&S.n[PROBE], buf, (size_t)n, (const struct sockaddr *)&dst, sizeof(dst)), 0);
}

static void run_ms(int64_t ms)
{
	simnet_run(&S, S.now + ms, NULL);
}

static void test_libtorrent_ban_and_budget(void **state)
{
	struct simdht_stats st;
	setup();
	int lt = node_of_kind(SIMDHT_LT, -1);
	/* 49 messages within 10 s are answered, the 50th bans the source. */
	for (int i = 0; i < 49; i++) {
		query(lt, KRPC_PING, NULL, 0, NULL);
		run_ms(100);
	}
	assert_int_equal(n_replies, 49);
	query(lt, KRPC_PING, NULL, 0, NULL);
	run_ms(100);
	assert_int_equal(n_replies, 49);
	simdht_get_stats(M, &st);
	assert_int_equal(st.trips.lt_bans, 1);
	/* Still banned 4 min later (every message renews the ban)... */
	run_ms(240000);
	query(lt, KRPC_PING, NULL, 0, NULL);
	run_ms(100);
	assert_int_equal(n_replies, 49);
	/* ...answered again after 5 min of silence. */
	run_ms(301000);
	query(lt, KRPC_PING, NULL, 0, NULL);
	run_ms(100);
	assert_int_equal(n_replies, 50);
	simdht_get_stats(M, &st);
	assert_int_equal(st.trips.lt_bans, 1);
	assert_int_equal(st.trips.lt_banned_drops, 2);

	/* 4 messages a second for a minute: never banned. */
	int lt2 = node_of_kind(SIMDHT_LT, lt);
	for (int i = 0; i < 240; i++) {
		query(lt2, KRPC_PING, NULL, 0, NULL);
		run_ms(250);
	}
	simdht_get_stats(M, &st);
	assert_int_equal(st.trips.lt_bans, 1);
	assert_int_equal(n_replies, 50 + 240);

	/* The output budget: 25-value replies (~1 kB) beyond 8,000 B in a
	 * burst are not sent. */
	uint8_t ih[20];
	memset(ih, 0xab, sizeof(ih));
	query(lt2, KRPC_GET_PEERS, ih, 0, NULL);
	run_ms(12000);
	struct krpc_msg tok = reply;
	for (uint16_t p = 1; p <= 30; p++) {
		query(lt2, KRPC_ANNOUNCE_PEER, ih, p, &tok);
		run_ms(400);
	}
	run_ms(12000);
	int before = n_replies;
	for (int i = 0; i < 12; i++)
		query(lt2, KRPC_GET_PEERS, ih, 0, NULL);
	run_ms(100);
	assert_int_equal(reply.n_values, 25);
	simdht_get_stats(M, &st);
	assert_true(st.trips.lt_budget_drops > 0);
	assert_int_equal((uint64_t)(n_replies - before) + st.trips.lt_budget_drops, 12);
	assert_true(st.peak_node_out_bps >= 7000);
	teardown();
}

static void test_jech_bucket_burst_port0_token(void **state)
{
	struct simdht_stats st;
	setup();
	int j = node_of_kind(SIMDHT_JECH, -1);
	/* 400 queries in 80 ms (no burst over 200 per 10 ms): all answered,
	 * the 401st finds the global bucket empty. */
	for (int i = 0; i < 400; i++) {
		query(j, KRPC_PING, NULL, 0, NULL);
		if (i % 5 == 4)
			run_ms(1);
	}
	query(j, KRPC_PING, NULL, 0, NULL);
	run_ms(100);
	assert_int_equal(n_replies, 400);
	simdht_get_stats(M, &st);
	assert_int_equal(st.trips.jech_budget_drops, 1);
	assert_int_equal(st.trips.jech_overflows, 0);
	/* A burst of 800 datagrams sent together (arriving over the 30 ms of
	 * the simulated latency spread) overflows its socket. */
	int j2 = node_of_kind(SIMDHT_JECH, j);
	for (int i = 0; i < 800; i++)
		query(j2, KRPC_PING, NULL, 0, NULL);
	run_ms(100);
	simdht_get_stats(M, &st);
	assert_true(st.trips.jech_overflows > 0);

	/* Port 0 refused; 60 ports stored, 50 consecutive ones per reply;
	 * the token is bound to the UDP port. */
	int j3 = node_of_kind(SIMDHT_JECH, j2);
	uint8_t ih[20];
	memset(ih, 0xcd, sizeof(ih));
	query(j3, KRPC_GET_PEERS, ih, 0, NULL);
	run_ms(100);
	struct krpc_msg tok = reply;
	assert_int_equal(tok.token_len, 8);
	query(j3, KRPC_ANNOUNCE_PEER, ih, 0, &tok);
	run_ms(100);
	assert_int_equal(reply.type, KRPC_ERROR);
	assert_int_equal(reply.error_code, KRPC_ERR_PROTOCOL);
	for (uint16_t p = 1; p <= 60; p++) {
		query(j3, KRPC_ANNOUNCE_PEER, ih, p, &tok);
		run_ms(40); /* stored in this order */
	}
	assert_int_equal(reply.type, KRPC_RESPONSE);
	query(j3, KRPC_GET_PEERS, ih, 0, NULL);
	run_ms(100);
	assert_int_equal(reply.n_values, 50);
	for (int i = 1; i < 50; i++) {
		uint16_t a = reply.values[i - 1].port, b = reply.values[i].port;
		assert_true(b == a + 1 || (a == 60 && b == 1));
	}
	probe_port = 7000;
	query(j3, KRPC_ANNOUNCE_PEER, ih, 61, &tok);
	run_ms(100);
	assert_int_equal(reply.type, KRPC_ERROR);
	simdht_get_stats(M, &st);
	assert_int_equal(st.bad_tokens, 1);
	assert_int_equal(st.port0_refused, 1);
	assert_int_equal(st.stored, 60);
	/* Stored peers expire after 32-38 min. */
	run_ms(39 * 60 * 1000);
	query(j3, KRPC_GET_PEERS, ih, 0, NULL);
	run_ms(100);
	assert_int_equal(reply.n_values, 0);
	assert_true(reply.n_nodes6 > 0);
	simdht_get_stats(M, &st);
	assert_int_equal(st.expired, 60);
	teardown();
}

/* find_node converges: asking each answer's closest node again reaches the
 * node closest to the target among all. */
static void test_routing_converges(void **state)
{
	setup();
	uint8_t target[20];
	memset(target, 0x5a, sizeof(target));
	int at = node_of_kind(SIMDHT_LT, -1), hops = 0;
	uint8_t best[20];
	memset(best, 0xff, sizeof(best));
	for (;;) {
		query(at, KRPC_FIND_NODE, target, 0, NULL);
		run_ms(100);
		assert_true(reply.n_nodes6 > 0);
		uint8_t d[20];
		for (int i = 0; i < 20; i++)
			d[i] = reply.nodes6[0].id[i] ^ target[i];
		if (memcmp(d, best, 20) >= 0)
			break;
		memcpy(best, d, 20);
		at = (reply.nodes6[0].addr.ip[14] << 8 | reply.nodes6[0].addr.ip[15]) - 1;
		if (simdht_kind_of(M, at) == SIMDHT_DEAD)
			break;
		hops++;
	}
	assert_true(hops >= 1 && hops <= 8);
	teardown();
}

static void small_round(enum simround_channel ch)
{
	struct simround_params p;
	struct simround_result r;
	simround_params_default(&p);
	p.channel = ch;
	p.n_nodes = 1000;
	p.n_clients = 400;
	p.n_samples = 40;
	p.sample_span_s = 180;  /* make check's time; the bench samples the whole window */
	assert_int_equal(simround_run(&p, &r), 0);
	simround_print(&r, stdout);
	assert_true(r.window_done);
	assert_true(r.round_s < r.window_s);
	assert_int_equal(r.trips, 0);
	assert_int_equal(r.samples, p.n_samples);
	assert_int_equal(r.opened, r.samples);
	assert_true(r.mst.peak_src_count < 50);
	assert_int_equal(r.mst.bad_tokens, 0);
	if (ch == SIMROUND_STUFFING) {
		assert_int_equal(r.clients_stored, p.n_clients);
		assert_true(r.chunk_holders_min >= 1);
	} else {
		/* Every client's item on some node, none refused or evicted. */
		assert_true(r.mst.items_now >= (uint64_t)p.n_clients);
		assert_int_equal(r.mst.item_bad_sigs, 0);
		assert_int_equal(r.mst.items_evicted + r.mst.items_dropped, 0);
	}
}

static void test_small_round(void **state)
{
	small_round(SIMROUND_STUFFING);
}

static void test_small_round_items(void **state)
{
	small_round(SIMROUND_ITEMS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libtorrent_ban_and_budget),
		cmocka_unit_test(test_jech_bucket_burst_port0_token),
		cmocka_unit_test(test_routing_converges),
		cmocka_unit_test(test_small_round),
		cmocka_unit_test(test_small_round_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
