/* BEP 44 mutable items in our DHT node: the store's rules (signature,
 * sequence numbers, cas, sizes, tokens, limits, expiry) with crafted
 * packets, the KRPC encoding, and get/put operations across a simulated
 * network of our nodes (tests/simnet.h). */
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
#include "dht/itemstore.h"
#include "dht/krpc.h"

#include "tests/simnet.h"

#define T0 1000000

static struct simnet S;
static struct {
	bool is_capture;
	size_t len;
	uint8_t data[1500];
	uint64_t max_len;
} X;

/* Nodes that drop "get" queries unanswered, as Transmission's jech/dht
 * does (it knows no BEP 44): bit i for node i. */
static uint64_t no_bep44;

static bool on_send(void *ctx, const struct simnet_node *from, int dest, const uint8_t *buf,
		    size_t len)
{
	(void)ctx;
	(void)from;
	assert_true(len <= 1400);
	if (dest >= 0 && dest < 64 && (no_bep44 >> dest & 1) && memmem(buf, len, "1:q3:get", 8))
		return false;
	if (len > X.max_len)
		X.max_len = len;
	if (X.is_capture) {
		X.len = len;
		memcpy(X.data, buf, len);
		return false;
	}
	return true;
}

static void sim_init(int n)
{
	memset(&X, 0, sizeof(X));
	no_bep44 = 0;
	assert_int_equal(simnet_init(&S, n, T0), 0);
	S.on_send = on_send;
}

static struct krpc_msg in_msg;

static void query(struct dht *d, const struct krpc_msg *q, int from_idx)
{
	uint8_t buf[1500];
	struct sockaddr_in6 from;
	simnet_addr(from_idx, &from);
	int n = krpc_encode(q, buf, sizeof(buf));
	assert_true(n > 0);
	X.len = 0;
	dht_input(d, buf, (size_t)n, (const struct sockaddr *)&from, sizeof(from), S.now);
	memset(&in_msg, 0, sizeof(in_msg));
	if (X.len)
		assert_int_equal(krpc_parse(X.data, X.len, &in_msg), 0);
}

struct writer {
	uint8_t pk[32], sk[64];
};

static void sign_item(const struct writer *w, struct krpc_msg *q, const char *salt, int64_t seq,
		      const char *v)
{
	uint8_t buf[1200];
	q->has_k = q->has_sig = q->has_seq = q->has_v = true;
	memcpy(q->k, w->pk, 32);
	q->seq = seq;
	q->salt_len = (uint8_t)strlen(salt);
	memcpy(q->salt, salt, q->salt_len);
	q->v_len = (uint16_t)strlen(v);
	memcpy(q->v, v, q->v_len);
	int n = dht_item_signed_data(buf, sizeof(buf), q->salt, q->salt_len, seq, q->v, q->v_len);
	assert_true(n > 0);
	crypto_sign_detached(q->sig, NULL, buf, (size_t)n, w->sk);
}

static void test_sha1_and_signed_data(void **state)
{
	(void)state;
	uint8_t out[20], buf[64];
	static const uint8_t abc[20] = { 0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
					 0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d };
	itemstore_sha1((const uint8_t *)"ab", 2, (const uint8_t *)"c", 1, out);
	assert_memory_equal(out, abc, 20);
	/* 56 bytes: the padding spills into a second block. */
	static const char m56[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const uint8_t d56[20] = { 0x84, 0x98, 0x3e, 0x44, 0x1c, 0x3b, 0xd2, 0x6e, 0xba, 0xae,
					 0x4a, 0xa1, 0xf9, 0x51, 0x29, 0xe5, 0xe5, 0x46, 0x70, 0xf1 };
	itemstore_sha1((const uint8_t *)m56, 56, NULL, 0, out);
	assert_memory_equal(out, d56, 20);
	/* BEP 44's example: salt "foobar", seq 1, v "12:Hello World!". */
	int n = dht_item_signed_data(buf, sizeof(buf), (const uint8_t *)"foobar", 6, 1,
				     (const uint8_t *)"12:Hello World!", 15);
	static const char want[] = "4:salt6:foobar3:seqi1e1:v12:Hello World!";
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
	assert_int_equal(dht_item_signed_data(buf, 16, NULL, 0, 1, (const uint8_t *)"3:abc", 5), 16);
	assert_int_equal(dht_item_signed_data(buf, 15, NULL, 0, 1, (const uint8_t *)"3:abc", 5),
			 -ENOBUFS);
}

/* The rules a storing node applies, each as an attacker or a confused
 * writer would meet them. */
static void test_serving_get_and_put(void **state)
{
	(void)state;
	sim_init(1);
	X.is_capture = true;
	struct dht *d = S.n[0].d;
	static struct krpc_msg q;
	struct writer w, other;
	uint8_t target[20], token[8];
	crypto_sign_keypair(w.pk, w.sk);
	crypto_sign_keypair(other.pk, other.sk);
	dht_item_target(w.pk, (const uint8_t *)"s", 1, target);

	memset(&q, 0, sizeof(q));
	q.type = KRPC_QUERY;
	q.method = KRPC_GET;
	q.tid_len = 2;
	memset(q.id, 7, 20);
	memcpy(q.target, target, 20);
	query(d, &q, 5);
	assert_int_equal(in_msg.type, KRPC_RESPONSE);
	assert_int_equal(in_msg.token_len, 8);
	assert_false(in_msg.has_v);
	assert_false(in_msg.has_seq);
	memcpy(token, in_msg.token, 8);

	memset(&q, 0, sizeof(q));
	q.type = KRPC_QUERY;
	q.method = KRPC_PUT;
	q.tid_len = 2;
	memset(q.id, 7, 20);
	q.token_len = 8;
	memcpy(q.token, token, 8);
	sign_item(&w, &q, "s", 5, "5:hello");

	/* The token of another address, or a wrong one: refused. */
	query(d, &q, 6);
	assert_int_equal(in_msg.type, KRPC_ERROR);
	assert_int_equal(in_msg.error_code, KRPC_ERR_PROTOCOL);
	/* A changed value under the old signature. */
	q.v[2] = 'j';
	query(d, &q, 5);
	assert_int_equal(in_msg.error_code, KRPC_ERR_BAD_SIG);
	q.v[2] = 'h';
	/* Another key signing for this target: its target differs, so the
	 * token (given for ours) does not hold. */
	static struct krpc_msg forged;
	forged = q;
	sign_item(&other, &forged, "s", 9, "5:hello");
	query(d, &forged, 5);
	assert_int_equal(in_msg.error_code, KRPC_ERR_PROTOCOL);
	/* Stored. */
	query(d, &q, 5);
	assert_int_equal(in_msg.type, KRPC_RESPONSE);

	/* Read back, with and without the asker's seq. */
	static struct krpc_msg g;
	memset(&g, 0, sizeof(g));
	g.type = KRPC_QUERY;
	g.method = KRPC_GET;
	g.tid_len = 2;
	memset(g.id, 8, 20);
	memcpy(g.target, target, 20);
	query(d, &g, 9);
	assert_true(in_msg.has_v && in_msg.has_k && in_msg.has_sig && in_msg.has_seq);
	assert_int_equal(in_msg.seq, 5);
	assert_int_equal(in_msg.v_len, 7);
	assert_memory_equal(in_msg.v, "5:hello", 7);
	assert_memory_equal(in_msg.k, w.pk, 32);
	g.has_seq = true;
	g.seq = 5;
	query(d, &g, 9);
	assert_true(in_msg.has_seq);
	assert_false(in_msg.has_v);
	g.seq = 4;
	query(d, &g, 9);
	assert_true(in_msg.has_v);

	/* An older seq: 302; cas that does not match: 301; a newer seq
	 * replaces; the same seq again is a refresh that keeps the value. */
	sign_item(&w, &q, "s", 4, "5:older");
	query(d, &q, 5);
	assert_int_equal(in_msg.error_code, KRPC_ERR_SEQ);
	sign_item(&w, &q, "s", 6, "5:newer");
	q.has_cas = true;
	q.cas = 4;
	query(d, &q, 5);
	assert_int_equal(in_msg.error_code, KRPC_ERR_CAS);
	q.cas = 5;
	query(d, &q, 5);
	assert_int_equal(in_msg.type, KRPC_RESPONSE);
	q.has_cas = false;
	sign_item(&w, &q, "s", 6, "5:other");
	query(d, &q, 5);
	assert_int_equal(in_msg.type, KRPC_RESPONSE);
	g.has_seq = false;
	query(d, &g, 9);
	assert_int_equal(in_msg.seq, 6);
	assert_memory_equal(in_msg.v, "5:newer", 7);

	/* Sizes: v of 1,000 bytes bencoded is the most; salt of 64. */
	static char big[1100];
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "995:", 4);
	big[999] = '\0';
	assert_int_equal(strlen(big), 999);
	uint8_t buf[1500];
	static struct krpc_msg p2;
	p2 = q;
	p2.has_cas = false;
	sign_item(&w, &p2, "s", 7, big);
	memcpy(p2.v, "996:", 4);          /* 1,000 bytes */
	p2.v[p2.v_len++] = 'x';
	int n = dht_item_signed_data(buf, sizeof(buf), p2.salt, p2.salt_len, 7, p2.v, p2.v_len);
	crypto_sign_detached(p2.sig, NULL, buf, (size_t)n, w.sk);
	query(d, &p2, 5);
	assert_int_equal(in_msg.type, KRPC_RESPONSE);
	/* 1,001 bytes: only a hand-made datagram can carry it. */
	int len = snprintf((char *)buf, sizeof(buf), "d1:ad2:id20:%.20s1:k32:", "abcdefghij0123456789");
	memcpy(buf + len, w.pk, 32);
	len += 32;
	len += snprintf((char *)buf + len, sizeof(buf) - (size_t)len, "4:salt1:s3:seqi9e3:sig64:");
	memset(buf + len, 1, 64);
	len += 64;
	len += snprintf((char *)buf + len, sizeof(buf) - (size_t)len, "5:token8:");
	memcpy(buf + len, token, 8);
	len += 8;
	len += snprintf((char *)buf + len, sizeof(buf) - (size_t)len, "1:v997:");
	memset(buf + len, 'y', 997);
	len += 997;
	len += snprintf((char *)buf + len, sizeof(buf) - (size_t)len, "e1:q3:put1:t2:aa1:y1:qe");
	struct sockaddr_in6 from;
	simnet_addr(5, &from);
	X.len = 0;
	dht_input(d, buf, (size_t)len, (const struct sockaddr *)&from, sizeof(from), S.now);
	assert_int_equal(krpc_parse(X.data, X.len, &in_msg), 0);
	assert_int_equal(in_msg.error_code, KRPC_ERR_V_TOO_BIG);
	/* A reply with the 1,000-byte item stays within our datagram cap. */
	query(d, &g, 9);
	assert_int_equal(in_msg.v_len, 1000);
	assert_true(X.len <= 1400);

	/* Expiry: 2 h after the last put. */
	S.now += ITEMSTORE_TTL_MS - 1000;
	dht_tick(d, S.now);
	query(d, &g, 9);
	assert_true(in_msg.has_v);
	S.now += 2000;
	dht_tick(d, S.now + 60000);
	query(d, &g, 9);
	assert_false(in_msg.has_v);
	struct dht_stats st;
	dht_get_stats(d, S.now, &st);
	assert_int_equal(st.stored_items, 0);
	simnet_fini(&S);
}

/* At 700 items a new one displaces the one farthest from the node's id,
 * unless it is farther itself. With self = 0 the distance is the target
 * itself: keys are drawn until their target's first byte is in range. */
static void key_with_target(struct writer *w, uint8_t lo, uint8_t hi, uint8_t t[20])
{
	do {
		crypto_sign_keypair(w->pk, w->sk);
		dht_item_target(w->pk, NULL, 0, t);
	} while (t[0] < lo || t[0] > hi);
}

static void test_store_limit(void **state)
{
	(void)state;
	struct itemstore st;
	static struct krpc_msg m;
	uint8_t self[20] = { 0 }, t[20], far[20] = { 0 };
	struct writer w;
	itemstore_init(&st);
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < ITEMSTORE_MAX_ITEMS; i++) {
		key_with_target(&w, 0x10, 0x7f, t);
		sign_item(&w, &m, "", 0, "1:x");
		assert_int_equal(itemstore_put(&st, &m, self, T0), 0);
		if (memcmp(t, far, 20) > 0)
			memcpy(far, t, 20);
	}
	assert_int_equal(st.n, ITEMSTORE_MAX_ITEMS);
	/* Farther than every stored item: refused, nothing displaced. */
	key_with_target(&w, 0x80, 0xff, t);
	sign_item(&w, &m, "", 0, "1:x");
	assert_int_equal(itemstore_put(&st, &m, self, T0), KRPC_ERR_SERVER);
	assert_int_equal(st.displaced, 0);
	/* Nearer: stored in place of the farthest. */
	key_with_target(&w, 0x00, 0x0f, t);
	sign_item(&w, &m, "", 0, "1:x");
	assert_int_equal(itemstore_put(&st, &m, self, T0), 0);
	assert_int_equal(st.n, ITEMSTORE_MAX_ITEMS);
	assert_int_equal(st.displaced, 1);
	assert_null(itemstore_get(&st, far, T0));
	assert_non_null(itemstore_get(&st, t, T0));
	itemstore_fini(&st);
}

struct res {
	bool is_done;
	int n_items, n_stored, n_acked, n_err;
	size_t done_stored, done_wanted;   /* DONE of a put */
	int64_t seq;
	size_t v_len;
	uint8_t v[DHT_ITEM_MAX_V];
	bool has_final;
};

static void on_res(void *closure, const struct dht_result *r)
{
	struct res *x = closure;
	if (r->event == DHT_EVENT_ITEM) {
		x->n_items++;
		assert_true(r->item->seq > x->seq);
		x->seq = r->item->seq;
		x->v_len = r->item->v_len;
		memcpy(x->v, r->item->v, r->item->v_len);
		return;
	}
	if (r->event == DHT_EVENT_STORED) {
		x->n_stored++;
		x->n_acked += (int)r->n_announced;
		x->n_err += r->error_code != 0;
		return;
	}
	assert_int_equal(r->event, DHT_EVENT_DONE);
	x->is_done = true;
	x->done_stored = r->n_stored;
	x->done_wanted = r->n_wanted;
	x->has_final = r->item != NULL;
}

static void make_item(struct dht_item *it, const struct writer *w, int64_t seq, const char *v)
{
	uint8_t buf[1200];
	memset(it, 0, sizeof(*it));
	memcpy(it->k, w->pk, 32);
	it->seq = seq;
	it->v_len = strlen(v);
	memcpy(it->v, v, it->v_len);
	int n = dht_item_signed_data(buf, sizeof(buf), NULL, 0, seq, it->v, it->v_len);
	crypto_sign_detached(it->sig, NULL, buf, (size_t)n, w->sk);
}

static void test_put_then_get_across_the_network(void **state)
{
	(void)state;
	sim_init(40);
	simnet_bootstrap(&S, 60000);
	struct writer w;
	crypto_sign_keypair(w.pk, w.sk);
	static struct dht_item it;
	uint8_t target[20];
	make_item(&it, &w, 0, "3:one");
	dht_item_target(w.pk, NULL, 0, target);

	/* An unsigned item is refused before any datagram. */
	it.sig[0] ^= 1;
	assert_int_equal(dht_put_item(S.n[3].d, &it, AF_INET6, on_res, NULL, S.now), -EINVAL);
	it.sig[0] ^= 1;

	struct res put = { .seq = -1 };
	uint64_t before = S.sent;
	assert_true(dht_put_item(S.n[3].d, &it, AF_INET6, on_res, &put, S.now) > 0);
	simnet_run(&S, S.now + 60000, &put.is_done);
	assert_true(put.is_done);
	assert_int_equal(put.n_stored, DHT_K);
	assert_int_equal(put.n_acked, DHT_K);
	printf("put: %llu datagrams\n", (unsigned long long)(S.sent - before));

	size_t holders = 0;
	for (int i = 0; i < S.n_nodes; i++) {
		struct dht_stats st;
		dht_get_stats(S.n[i].d, S.now, &st);
		holders += st.stored_items;
	}
	assert_int_equal(holders, DHT_K);

	struct res get = { .seq = -1 };
	assert_true(dht_get_item(S.n[20].d, target, NULL, 0, AF_INET6, on_res, &get, S.now) > 0);
	simnet_run(&S, S.now + 60000, &get.is_done);
	assert_true(get.is_done && get.has_final);
	assert_int_equal(get.seq, 0);
	assert_int_equal(get.v_len, 5);
	assert_memory_equal(get.v, "3:one", 5);

	/* A new seq replaces the value everywhere it is put. */
	make_item(&it, &w, 1, "3:two");
	struct res put2 = { .seq = -1 };
	assert_true(dht_put_item(S.n[7].d, &it, AF_INET6, on_res, &put2, S.now) > 0);
	simnet_run(&S, S.now + 60000, &put2.is_done);
	assert_int_equal(put2.n_acked, DHT_K);
	/* The old one put again: the nodes that hold seq 1 refuse it (302).
	 * Another node's lookup may end on a slightly different 8 closest:
	 * one that never got seq 1 may take seq 0, and readers still see 1. */
	make_item(&it, &w, 0, "3:one");
	struct res put3 = { .seq = -1 };
	assert_true(dht_put_item(S.n[9].d, &it, AF_INET6, on_res, &put3, S.now) > 0);
	simnet_run(&S, S.now + 60000, &put3.is_done);
	assert_true(put3.n_err >= DHT_K - 2);
	assert_int_equal(put3.n_acked + put3.n_err, put3.n_stored);

	struct res get2 = { .seq = -1 };
	assert_true(dht_get_item(S.n[30].d, target, NULL, 0, AF_INET6, on_res, &get2, S.now) > 0);
	simnet_run(&S, S.now + 60000, &get2.is_done);
	assert_int_equal(get2.seq, 1);
	assert_memory_equal(get2.v, "3:two", 5);

	/* Another salt is another target: nothing there. */
	uint8_t t2[20];
	dht_item_target(w.pk, (const uint8_t *)"x", 1, t2);
	struct res get3 = { .seq = -1 };
	assert_true(dht_get_item(S.n[30].d, t2, (const uint8_t *)"x", 1, AF_INET6, on_res, &get3,
				 S.now) > 0);
	simnet_run(&S, S.now + 60000, &get3.is_done);
	assert_true(get3.is_done);
	assert_false(get3.has_final);
	assert_int_equal(get3.n_items, 0);
	assert_int_equal(S.bad_deadlines, 0);
	simnet_fini(&S);
}

struct timed {
	struct res r;
	int64_t item_ms, done_ms;
};

static void on_timed(void *closure, const struct dht_result *r)
{
	struct timed *t = closure;
	on_res(&t->r, r);
	if (r->event == DHT_EVENT_ITEM && !t->item_ms)
		t->item_ms = S.now;
	if (r->event == DHT_EVENT_DONE)
		t->done_ms = S.now;
}

/* A reader's get holding the item ends once the closest nodes that speak
 * BEP 44 have answered, within a round trip or so, not when the silent
 * ones (a third of a mixed foreign swarm) time out (2 s); a writer's put
 * neither. */
static void test_get_does_not_wait_for_silent_nodes(void **state)
{
	(void)state;
	sim_init(12);
	simnet_bootstrap(&S, 60000);
	struct writer w;
	crypto_sign_keypair(w.pk, w.sk);
	static struct dht_item it;
	uint8_t target[20];
	make_item(&it, &w, 3, "3:one");
	dht_item_target(w.pk, NULL, 0, target);
	struct res put = { .seq = -1 };
	assert_true(dht_put_item(S.n[1].d, &it, AF_INET6, on_res, &put, S.now) > 0);
	simnet_run(&S, S.now + 60000, &put.is_done);
	assert_true(put.n_acked >= DHT_K - 2);

	/* All but 3 of the nodes that hold it drop "get": 3 answer (fewer
	 * than k/2), 8 stay silent. */
	int n_speaking = 0;
	for (int i = 1; i < S.n_nodes; i++) {
		struct dht_stats st;
		dht_get_stats(S.n[i].d, S.now, &st);
		if (st.stored_items && n_speaking < 3)
			n_speaking++;
		else
			no_bep44 |= 1ull << i;
	}
	assert_int_equal(n_speaking, 3);
	struct timed g = { .r = { .seq = -1 } };
	int64_t t0 = S.now;
	assert_true(dht_get_item(S.n[0].d, target, NULL, 0, AF_INET6, on_timed, &g, S.now) > 0);
	simnet_run(&S, S.now + 10000, &g.r.is_done);
	assert_true(g.r.is_done && g.r.has_final);
	assert_int_equal(g.r.seq, 3);
	printf("get: item after %lld ms, done after %lld ms\n", (long long)(g.item_ms - t0),
	       (long long)(g.done_ms - t0));
	assert_true(g.done_ms - g.item_ms < 600);

	/* With nothing to find, the lookup still waits out the silent ones
	 * rather than end on the few answers it has. */
	uint8_t none[20];
	dht_item_target(w.pk, (const uint8_t *)"y", 1, none);
	struct timed g2 = { .r = { .seq = -1 } };
	t0 = S.now;
	assert_true(dht_get_item(S.n[0].d, none, (const uint8_t *)"y", 1, AF_INET6, on_timed, &g2,
				 S.now) > 0);
	simnet_run(&S, S.now + 10000, &g2.r.is_done);
	assert_true(g2.r.is_done && !g2.r.has_final);
	assert_true(g2.done_ms - t0 >= DHT_QUERY_TIMEOUT_MS);

	/* A writer does not wait the silent ones out either once k/2 have
	 * answered: its puts leave within a few slow marks. */
	no_bep44 = 0x0fc0;
	make_item(&it, &w, 4, "3:two");
	struct timed p = { .r = { .seq = -1 } };
	t0 = S.now;
	assert_true(dht_put_item(S.n[2].d, &it, AF_INET6, on_timed, &p, S.now) > 0);
	simnet_run(&S, S.now + 10000, &p.r.is_done);
	printf("put: %d acknowledged after %lld ms\n", p.r.n_acked, (long long)(p.done_ms - t0));
	assert_true(p.r.n_acked >= 3);
	assert_true(p.done_ms - t0 < DHT_QUERY_TIMEOUT_MS);
	/* Stored on every node that can hold it: that is the quorum's base,
	 * not the silent ones of the routing table. */
	assert_true(p.r.done_stored >= p.r.done_wanted);
	assert_int_equal(S.bad_deadlines, 0);
	simnet_fini(&S);
}

/* An item put from a node busy with announce-many operations (a fresh
 * server's port-stuffing round to the same few nodes) gets its one put per
 * node out at once, not after the announces' backlog (which outlasts the
 * put's deadline). */
static void test_put_not_starved_by_announces(void **state)
{
	(void)state;
	sim_init(10);
	simnet_bootstrap(&S, 60000);
	uint16_t ports[60];
	for (size_t i = 0; i < 60; i++)
		ports[i] = (uint16_t)(1000 + i);
	struct res ann[6];
	for (int j = 0; j < 6; j++) {
		uint8_t ih[20];
		memset(ih, 0x11 * (j + 1), sizeof(ih));
		ann[j] = (struct res){ .seq = -1 };
		assert_true(dht_announce(S.n[1].d, ih, AF_INET6, ports, 60, on_res, &ann[j], S.now) > 0);
	}
	/* Let their lookups end and their announces fill every node's pace. */
	simnet_run(&S, S.now + 3000, NULL);
	struct writer w;
	crypto_sign_keypair(w.pk, w.sk);
	static struct dht_item it;
	make_item(&it, &w, 0, "3:one");
	struct timed p = { .r = { .seq = -1 } };
	int64_t t0 = S.now;
	assert_true(dht_put_item(S.n[1].d, &it, AF_INET6, on_timed, &p, S.now) > 0);
	simnet_run(&S, S.now + 30000, &p.r.is_done);
	assert_true(p.r.is_done);
	printf("put among announces: %d acknowledged after %lld ms\n", p.r.n_acked,
	       (long long)(p.done_ms - t0));
	assert_true(p.r.n_acked >= DHT_K - 2);
	assert_true(p.done_ms - t0 < 3000);
	for (int j = 0; j < 6; j++)
		assert_false(ann[j].is_done);
	simnet_fini(&S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_and_signed_data),
		cmocka_unit_test(test_serving_get_and_put),
		cmocka_unit_test(test_store_limit),
		cmocka_unit_test(test_put_then_get_across_the_network),
		cmocka_unit_test(test_get_does_not_wait_for_silent_nodes),
		cmocka_unit_test(test_put_not_starved_by_announces),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
