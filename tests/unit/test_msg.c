#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mt6d/core/hash.h"
#include "mt6d/core/msg.h"
#include "tests/unit/scripted_random.h"
#include "tests/unit/error_table.h"

/* Known-answer vectors: docs/PROTOCOL.md, "Test vectors: session"; the same
 * values are recomputed independently by tests/vectors/check_session.py. */
#define KAT_NOW_MS UINT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
static const char kat_request_hex[] =
	"010000abcd23b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49f57e7c7dcd4c48233d9426"
	"2d0442a3cb3ea8edbcaefd0b1707778599e9135a1b8a3c0cf4eed468ae0fe8f60c22d9f905b02d87"
	"6a9b8218298edf440e00e2c1f0f1470c6258d72e0a1da59ee807c5bd57";
static const char kat_response_hex[] =
	"0101605a725d2a4adfeeb1a29e17edd621c1b7593ee8cdbc44ac6c4ab6e2f805d23c0cd3cb62d720"
	"1db48770b560376e4cd902a3cf4dea83d5e923466c329c8f034e288a637b1f99413c496e4395dd46"
	"2fa9a1386a24eac073718a2fae95f214d9271781f55d5fbcee1e45343f06f4362eefce9a394f";
static const char kat_ks_hex[] = "f071c847e849074a9ddc8708337a9f00720020419b07d7d8bd257940ce8991d2";
static const char kat_c2s_hex[] = "6328064e69d61300d85a31fbe8719d49bdb70b298a7188b27e0191661d6466c9";
static const char kat_s2c_hex[] = "18510b3cfd45e602a795b59f21418bf0d79fa56e75dccec1fa0531425a98779d";
static const char kat_td_c2s_hex[] = "b97b5c1b6ef698117fc9eff090bfb309eb0bddaf74790f37d518fe3bb23a3914";
static const char kat_td_s2c_hex[] = "fd7ee40d50d161e5609f8f3c839cd01d2289c7af2d6d8c1a97d87f1fd2c24403";
static const char kat_teardown_hex[] =
	"0102e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f773e6576d74488bdd011d206a0378"
	"240d5d";

struct fixture {
	uint8_t c_priv[32], c_pub[32], s_priv[32], s_pub[32];
	struct msg_request req;
	struct msg_response resp;
	struct msg_replay cache;
};

static struct fixture fx;

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static void assert_hex(const uint8_t *p, size_t len, const char *hex)
{
	uint8_t want[256];

	unhex(hex, want, len);
	assert_memory_equal(p, want, len);
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	fill(fx.c_priv, 32, 0x10);
	fill(fx.s_priv, 32, 0x40);
	crypto_scalarmult_base(fx.c_pub, fx.c_priv);
	crypto_scalarmult_base(fx.s_pub, fx.s_priv);
	fx.req.client_id = 0x00abcd;
	inet_pton(AF_INET6, "2001:db8:c:1:1122:3344:5566:7788", fx.req.seed_addr);
	inet_pton(AF_INET6, "2001:db8:ffff::c1", fx.req.tunnel_addr);
	fx.resp.rotation_ms = 3000;
	inet_pton(AF_INET6, "2001:db8:5:1::5eed", fx.resp.server_seed_addr);
	inet_pton(AF_INET6, "2001:db8:ffff::1", fx.resp.server_tunnel_addr);
	inet_pton(AF_INET6, "2001:db8:ffff::c1", fx.resp.client_tunnel_addr);
	msg_replay_init(&fx.cache, MSG_DEFAULT_MAX_SKEW_MS);
	return 0;
}

/* Runs one whole handshake at now_ms; keys of both sides out. */
static void handshake(uint64_t now_ms, struct msg_session_keys *client_keys,
		      struct msg_session_keys *server_keys)
{
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN];

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, now_ms, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, now_ms,
					  rq, sizeof(rq), &got, &hsv), 0);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), server_keys),
			 MSG_RESPONSE_LEN);
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, client_keys), 0);
}

static void test_known_answer_vectors(void **state)
{
	(void)state;
	uint8_t e_c[32], e_s[32], n_c[16], td_nonce[24];
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN], td[MSG_TEARDOWN_LEN], reason = 99;
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc, ks;

	fill(e_c, 32, 0x70);
	fill(e_s, 32, 0xa0);
	fill(n_c, 16, 0xd0);
	fill(td_nonce, 24, 0xe0);

	scripted_random_push(e_c, 32);
	scripted_random_push(n_c, 16);
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, KAT_NOW_MS,
					  rq, sizeof(rq)), MSG_REQUEST_LEN);
	assert_hex(rq, sizeof(rq), kat_request_hex);

	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub,
					  KAT_NOW_MS + 10, rq, sizeof(rq), &got, &hsv), 0);
	assert_memory_equal(got.nonce, n_c, 16);
	assert_true(got.timestamp_ms == KAT_NOW_MS);

	scripted_random_push(e_s, 32);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks), MSG_RESPONSE_LEN);
	assert_hex(rs, sizeof(rs), kat_response_hex);
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, &kc), 0);

	assert_hex(kc.session, 32, kat_ks_hex);
	assert_hex(kc.tx, 32, kat_c2s_hex);
	assert_hex(kc.rx, 32, kat_s2c_hex);
	assert_hex(kc.teardown_tx, 32, kat_td_c2s_hex);
	assert_hex(kc.teardown_rx, 32, kat_td_s2c_hex);
	assert_hex(ks.session, 32, kat_ks_hex);
	assert_hex(ks.tx, 32, kat_s2c_hex);
	assert_hex(ks.rx, 32, kat_c2s_hex);

	scripted_random_push(td_nonce, 24);
	assert_int_equal(msg_teardown_seal(&kc, MSG_TEARDOWN_SHUTDOWN, td, sizeof(td)),
			 MSG_TEARDOWN_LEN);
	assert_hex(td, sizeof(td), kat_teardown_hex);
	assert_int_equal(msg_teardown_open(&ks, td, sizeof(td), &reason), 0);
	assert_int_equal(reason, MSG_TEARDOWN_SHUTDOWN);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc, ks;
	uint8_t rq[MSG_REQUEST_LEN + 7], rs[MSG_RESPONSE_LEN], td[MSG_TEARDOWN_LEN];
	uint32_t id = 0;
	uint8_t reason = 0;

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 5000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_type(rq, MSG_REQUEST_LEN), MSG_TYPE_REQUEST);
	assert_int_equal(msg_request_peek_id(rq, MSG_REQUEST_LEN, &id), 0);
	assert_int_equal(id, 0x00abcd);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 6000, rq,
					  MSG_REQUEST_LEN, &got, &hsv), 0);
	assert_int_equal(got.client_id, 0x00abcd);
	assert_true(got.timestamp_ms == 5000);
	assert_memory_equal(got.nonce, hc.nonce, MSG_NONCE_LEN);
	assert_memory_equal(got.seed_addr, fx.req.seed_addr, 16);
	assert_memory_equal(got.tunnel_addr, fx.req.tunnel_addr, 16);

	fx.resp.rotation_ms = MSG_ROTATION_MAX_MS;
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks), MSG_RESPONSE_LEN);
	assert_int_equal(msg_type(rs, sizeof(rs)), MSG_TYPE_RESPONSE);
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, &kc), 0);
	assert_int_equal(rgot.rotation_ms, MSG_ROTATION_MAX_MS);
	assert_memory_equal(rgot.server_seed_addr, fx.resp.server_seed_addr, 16);
	assert_memory_equal(rgot.server_tunnel_addr, fx.resp.server_tunnel_addr, 16);
	assert_memory_equal(rgot.client_tunnel_addr, fx.resp.client_tunnel_addr, 16);

	/* Both sides agree, and each direction has its own key. */
	assert_memory_equal(kc.session, ks.session, 32);
	assert_memory_equal(kc.tx, ks.rx, 32);
	assert_memory_equal(kc.rx, ks.tx, 32);
	assert_memory_equal(kc.teardown_tx, ks.teardown_rx, 32);
	assert_memory_equal(kc.teardown_rx, ks.teardown_tx, 32);
	assert_memory_not_equal(kc.tx, kc.rx, 32);
	assert_memory_not_equal(kc.tx, kc.session, 32);

	/* Handshake states are wiped and refuse to be used again. */
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, &kc), -EINVAL);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks), -EINVAL);

	/* Teardown both ways, every reason value carried. */
	for (unsigned r = 0; r < 256; r += 51) {
		assert_int_equal(msg_teardown_seal(&kc, (uint8_t)r, td, sizeof(td)), MSG_TEARDOWN_LEN);
		assert_int_equal(msg_type(td, sizeof(td)), MSG_TYPE_TEARDOWN);
		assert_int_equal(msg_teardown_open(&ks, td, sizeof(td), &reason), 0);
		assert_int_equal(reason, r);
		assert_int_equal(msg_teardown_seal(&ks, (uint8_t)r, td, sizeof(td)), MSG_TEARDOWN_LEN);
		assert_int_equal(msg_teardown_open(&kc, td, sizeof(td), &reason), 0);
		assert_int_equal(reason, r);
	}
	/* A teardown reflected back to its sender does not open. */
	assert_int_equal(msg_teardown_seal(&kc, 1, td, sizeof(td)), MSG_TEARDOWN_LEN);
	assert_int_equal(msg_teardown_open(&kc, td, sizeof(td), &reason), MSG_ERR_AUTH);

	/* Rotation change, server to client: the fields come back; it is not
	 * a teardown, nor the other way round; reflected, it does not open;
	 * every bit flip is refused. */
	{
		uint8_t rm[MSG_ROTATION_LEN];
		struct msg_rotation r = { .seq = 7, .rotation_ms = 333,
					  .at_ms = UINT64_C(1767225603000) }, rgot2;

		assert_int_equal(msg_rotation_seal(&ks, &r, rm, sizeof(rm)), MSG_ROTATION_LEN);
		assert_int_equal(msg_type(rm, sizeof(rm)), MSG_TYPE_ROTATION);
		assert_int_equal(msg_rotation_open(&kc, rm, sizeof(rm), &rgot2), 0);
		assert_int_equal(rgot2.rotation_ms, 333);
		assert_int_equal(rgot2.seq, 7);
		assert_true(rgot2.at_ms == UINT64_C(1767225603000));
		assert_int_equal(msg_rotation_open(&ks, rm, sizeof(rm), &rgot2), MSG_ERR_AUTH);
		assert_int_equal(msg_teardown_open(&kc, rm, sizeof(rm), &reason), MSG_ERR_TYPE);
		assert_int_equal(msg_rotation_open(&kc, td, sizeof(td), &rgot2), MSG_ERR_TYPE);
		assert_int_equal(msg_rotation_open(&kc, rm, sizeof(rm) - 1, &rgot2), MSG_ERR_LENGTH);
		for (size_t bit = 0; bit < 8 * sizeof(rm); bit++) {
			rm[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_true(msg_rotation_open(&kc, rm, sizeof(rm), &rgot2) < 0);
			rm[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		r = (struct msg_rotation){ .seq = UINT32_MAX, .rotation_ms = MSG_ROTATION_MAX_MS };
		assert_int_equal(msg_rotation_seal(&ks, &r, rm, sizeof(rm)), MSG_ROTATION_LEN);
		assert_int_equal(msg_rotation_open(&kc, rm, sizeof(rm), &rgot2), 0);
		assert_int_equal(rgot2.rotation_ms, MSG_ROTATION_MAX_MS);
		assert_true(rgot2.seq == UINT32_MAX);
		r.rotation_ms = 0;
		assert_int_equal(msg_rotation_seal(&ks, &r, rm, sizeof(rm)), -EINVAL);
		r.rotation_ms = MSG_ROTATION_MAX_MS + 1;
		assert_int_equal(msg_rotation_seal(&ks, &r, rm, sizeof(rm)), -EINVAL);
		r.rotation_ms = 1000;
		r.seq = 0;
		assert_int_equal(msg_rotation_seal(&ks, &r, rm, sizeof(rm)), -EINVAL);
		r.seq = 1;
		assert_int_equal(msg_rotation_seal(&ks, &r, rm, sizeof(rm) - 1), -EMSGSIZE);
	}
}

/* issue 13: a rotation change applies only if newer than the last applied
 * one. The attack: the server goes high (change 1, Rot 333) and back to
 * normal (change 2, Rot 1000); whoever kept change 1 replays it within the
 * +-60 s the instant check allows. It must not switch the client's Rot. */
static void test_rotation_replay(void **state)
{
	(void)state;
	struct msg_session_keys kc, ks;
	uint8_t m1[MSG_ROTATION_LEN], m2[MSG_ROTATION_LEN];
	const uint64_t now = UINT64_C(1767225600000), skew = 60000;
	struct msg_rotation r1 = { .seq = 1, .rotation_ms = 333, .at_ms = now + 3000 };
	struct msg_rotation r2 = { .seq = 2, .rotation_ms = 1000, .at_ms = now + 6000 };
	struct msg_rotation got;
	uint32_t last = 0;

	handshake(now, &kc, &ks);
	assert_int_equal(msg_rotation_seal(&ks, &r1, m1, sizeof(m1)), MSG_ROTATION_LEN);
	assert_int_equal(msg_rotation_seal(&ks, &r2, m2, sizeof(m2)), MSG_ROTATION_LEN);

	/* The client's loop: open, check, apply (remember seq). */
	assert_int_equal(msg_rotation_open(&kc, m1, sizeof(m1), &got), 0);
	assert_int_equal(msg_rotation_check(last, &got, now, skew), 0);
	last = got.seq;
	/* The server's copy of the same change, a second later: nothing new. */
	assert_int_equal(msg_rotation_open(&kc, m1, sizeof(m1), &got), 0);
	assert_int_equal(msg_rotation_check(last, &got, now + 1000, skew), MSG_ERR_REPLAY);
	assert_int_equal(msg_rotation_open(&kc, m2, sizeof(m2), &got), 0);
	assert_int_equal(msg_rotation_check(last, &got, now + 3500, skew), 0);
	last = got.seq;
	/* Change 1 replayed 10 s later: authentic, its instant within the
	 * skew, different from the last applied: refused all the same. */
	assert_int_equal(msg_rotation_open(&kc, m1, sizeof(m1), &got), 0);
	assert_int_equal(msg_rotation_check(last, &got, now + 10000, skew), MSG_ERR_REPLAY);
	/* A newer change whose instant is far from our clock: stale. */
	got = (struct msg_rotation){ .seq = 3, .rotation_ms = 333, .at_ms = now + 10000 + skew + 1 };
	assert_int_equal(msg_rotation_check(last, &got, now + 10000, skew), MSG_ERR_STALE);
	got.at_ms = now + 10000 - skew - 1;
	assert_int_equal(msg_rotation_check(last, &got, now + 10000, skew), MSG_ERR_STALE);
	got.at_ms = now + 10000 + skew;
	assert_int_equal(msg_rotation_check(last, &got, now + 10000, skew), 0);
	/* seq 0 is never newer than anything (the server starts at 1). */
	got.seq = 0;
	assert_int_equal(msg_rotation_check(0, &got, now + 10000, skew), MSG_ERR_REPLAY);
	msg_session_keys_wipe(&kc);
	msg_session_keys_wipe(&ks);
}

/* Every length but the exact one is refused, before any crypto. */
static void test_truncated_and_oversized(void **state)
{
	(void)state;
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc, ks, kc2, ks2;
	uint8_t rq[MSG_MAX_LEN + 64] = { 0 }, rs[MSG_MAX_LEN + 64] = { 0 },
		td[MSG_MAX_LEN + 64] = { 0 };
	uint8_t reason;
	uint32_t id;

	handshake(1000, &kc, &ks);
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 9000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 9000, rq,
					  MSG_REQUEST_LEN, &got, &hsv), 0);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks2), MSG_RESPONSE_LEN);
	assert_int_equal(msg_teardown_seal(&kc, 2, td, sizeof(td)), MSG_TEARDOWN_LEN);

	for (size_t len = 0; len < sizeof(rq); len++) {
		int want = len == MSG_REQUEST_LEN ? 0 : MSG_ERR_LENGTH;

		assert_int_equal(msg_request_peek_id(rq, len, &id), want);
		if (len != MSG_REQUEST_LEN)
			assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub,
							  fx.c_pub, 9000, rq, len, &got, &hsv),
					 MSG_ERR_LENGTH);
		if (len != MSG_RESPONSE_LEN)
			assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, len, &rgot, &kc2),
					 MSG_ERR_LENGTH);
		if (len != MSG_TEARDOWN_LEN)
			assert_int_equal(msg_teardown_open(&ks, td, len, &reason), MSG_ERR_LENGTH);
	}
	/* Each still opens at its exact length: failures left no trace. */
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, MSG_RESPONSE_LEN, &rgot, &kc2), 0);
	assert_memory_equal(kc2.session, ks2.session, 32);
	assert_int_equal(msg_teardown_open(&ks, td, MSG_TEARDOWN_LEN, &reason), 0);
	assert_int_equal(reason, 2);
}

static void test_version_and_type(void **state)
{
	(void)state;
	uint8_t m[MSG_MAX_LEN] = { 0 };
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc;
	uint8_t reason;
	uint32_t id;

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 1, m,
					  sizeof(m)), MSG_REQUEST_LEN);
	for (unsigned v = 0; v < 256; v++) {
		m[0] = (uint8_t)v;
		assert_int_equal(msg_type(m, MSG_REQUEST_LEN),
				 v == MT6D_PROTO_VERSION ? MSG_TYPE_REQUEST : MSG_ERR_VERSION);
	}
	m[0] = MT6D_PROTO_VERSION;
	m[1] = MSG_TYPE_ROTATION;
	assert_int_equal(msg_type(m, MSG_REQUEST_LEN), MSG_ERR_LENGTH);
	assert_int_equal(msg_type(m, MSG_ROTATION_LEN), MSG_TYPE_ROTATION);
	for (unsigned t = 4; t < 256; t++) {
		m[1] = (uint8_t)t;
		assert_int_equal(msg_type(m, MSG_REQUEST_LEN), MSG_ERR_TYPE);
		assert_int_equal(msg_request_peek_id(m, MSG_REQUEST_LEN, &id), MSG_ERR_TYPE);
	}
	/* A message of one type handed to the decoder of another. */
	m[1] = MSG_TYPE_RESPONSE;
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 1, m,
					  MSG_RESPONSE_LEN, &got, &hsv), MSG_ERR_TYPE);
	m[1] = MSG_TYPE_REQUEST;
	assert_int_equal(msg_response_open(&hc, fx.c_priv, m, MSG_REQUEST_LEN, &rgot, &kc),
			 MSG_ERR_TYPE);
	memset(&kc, 0, sizeof(kc));
	assert_int_equal(msg_teardown_open(&kc, m, MSG_REQUEST_LEN, &reason), MSG_ERR_TYPE);
	assert_int_equal(msg_type(m, 1), MSG_ERR_LENGTH);
	assert_int_equal(msg_type(m, 0), MSG_ERR_LENGTH);
}

static void test_request_bit_flips(void **state)
{
	(void)state;
	struct msg_handshake hc, hsv;
	struct msg_request got;
	uint8_t rq[MSG_REQUEST_LEN];

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	for (size_t bit = 0; bit < 8 * sizeof(rq); bit++) {
		int rc;

		rq[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7000, rq,
				      sizeof(rq), &got, &hsv);
		if (bit < 8)
			assert_int_equal(rc, MSG_ERR_VERSION);
		else if (bit < 16)
			assert_true(rc == MSG_ERR_TYPE || rc == MSG_ERR_LENGTH);
		else
			assert_int_equal(rc, MSG_ERR_AUTH);
		rq[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_true(fx.cache.latest_ms == 0);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), 0);
}

static void test_response_bit_flips(void **state)
{
	(void)state;
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc, ks;
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN];

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), 0);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks), MSG_RESPONSE_LEN);
	for (size_t bit = 0; bit < 8 * sizeof(rs); bit++) {
		int rc;

		rs[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, &kc);
		if (bit < 8)
			assert_int_equal(rc, MSG_ERR_VERSION);
		else if (bit < 16)
			assert_true(rc == MSG_ERR_TYPE || rc == MSG_ERR_LENGTH);
		else
			assert_int_equal(rc, MSG_ERR_AUTH);
		rs[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, &kc), 0);
	assert_memory_equal(kc.session, ks.session, 32);
}

static void test_teardown_bit_flips(void **state)
{
	(void)state;
	struct msg_session_keys kc, ks;
	uint8_t td[MSG_TEARDOWN_LEN], reason = 0;

	handshake(3000, &kc, &ks);
	assert_int_equal(msg_teardown_seal(&ks, MSG_TEARDOWN_REVOKED, td, sizeof(td)),
			 MSG_TEARDOWN_LEN);
	for (size_t bit = 0; bit < 8 * sizeof(td); bit++) {
		int rc;

		td[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = msg_teardown_open(&kc, td, sizeof(td), &reason);
		if (bit < 8)
			assert_int_equal(rc, MSG_ERR_VERSION);
		else if (bit < 16)
			assert_true(rc == MSG_ERR_TYPE || rc == MSG_ERR_LENGTH);
		else
			assert_int_equal(rc, MSG_ERR_AUTH);
		td[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(msg_teardown_open(&kc, td, sizeof(td), &reason), 0);
	assert_int_equal(reason, MSG_TEARDOWN_REVOKED);
}

static void test_wrong_keys(void **state)
{
	(void)state;
	uint8_t x_priv[32], x_pub[32], zero[32] = { 0 };
	struct msg_handshake hc, hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc, ks, kc2, ks2;
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN], td[MSG_TEARDOWN_LEN], reason;

	fill(x_priv, 32, 0x33);
	crypto_scalarmult_base(x_pub, x_priv);

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	/* Another registered client's key (the id looked up the wrong key). */
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, x_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), MSG_ERR_AUTH);
	/* Another server. */
	assert_int_equal(msg_request_open(&fx.cache, x_priv, x_pub, fx.c_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), MSG_ERR_AUTH);
	/* A low-order client key. */
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, zero, 7000, rq,
					  sizeof(rq), &got, &hsv), MSG_ERR_AUTH);
	/* An impostor client with its own key claims our id. */
	assert_int_equal(msg_request_seal(&hc, x_priv, x_pub, fx.s_pub, &fx.req, 7000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), MSG_ERR_AUTH);
	/* A request with a low-order ephemeral key. */
	memset(rq + 5, 0, 32);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, x_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), MSG_ERR_AUTH);

	/* A response opened by a client holding another private key. */
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7000, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7000, rq,
					  sizeof(rq), &got, &hsv), 0);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks), MSG_RESPONSE_LEN);
	assert_int_equal(msg_response_open(&hc, x_priv, rs, sizeof(rs), &rgot, &kc), MSG_ERR_AUTH);
	/* A low-order server ephemeral key. */
	memset(rs + 2, 0, 32);
	assert_int_equal(msg_response_open(&hc, fx.c_priv, rs, sizeof(rs), &rgot, &kc),
			 MSG_ERR_AUTH);

	/* A teardown of one session does not open in another. */
	handshake(8000, &kc, &ks);
	handshake(8001, &kc2, &ks2);
	assert_int_equal(msg_teardown_seal(&kc, 0, td, sizeof(td)), MSG_TEARDOWN_LEN);
	assert_int_equal(msg_teardown_open(&ks2, td, sizeof(td), &reason), MSG_ERR_AUTH);
	assert_int_equal(msg_teardown_open(&ks, td, sizeof(td), &reason), 0);
}

/* A request replayed to the server is refused (and causes no response). */
static void test_request_replay_and_stale(void **state)
{
	(void)state;
	struct msg_handshake hc, hsv;
	struct msg_request got;
	uint8_t rq[MSG_REQUEST_LEN];
	const uint64_t t = 1000000;

	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, t, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	/* Too far in the server's past or future, by one ms over the skew. */
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub,
					  t + MSG_DEFAULT_MAX_SKEW_MS + 1, rq, sizeof(rq), &got, &hsv),
			 MSG_ERR_STALE);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub,
					  t - MSG_DEFAULT_MAX_SKEW_MS - 1, rq, sizeof(rq), &got, &hsv),
			 MSG_ERR_STALE);
	/* At the edge of the skew: accepted once, then a replay. */
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub,
					  t + MSG_DEFAULT_MAX_SKEW_MS, rq, sizeof(rq), &got, &hsv), 0);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, t, rq,
					  sizeof(rq), &got, &hsv), MSG_ERR_REPLAY);
	/* Later, once out of the skew window, the same bytes are stale. */
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub,
					  t + 10 * MSG_DEFAULT_MAX_SKEW_MS, rq, sizeof(rq), &got, &hsv),
			 MSG_ERR_STALE);
}

/* A response made for another request (another N_c and E_c) is refused. */
static void test_response_for_other_request(void **state)
{
	(void)state;
	struct msg_handshake hc1, hc2, hsv1, hsv2;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys kc, ks, ks2;
	uint8_t rq1[MSG_REQUEST_LEN], rq2[MSG_REQUEST_LEN], rs1[MSG_RESPONSE_LEN],
		rs2[MSG_RESPONSE_LEN];

	/* The client retries: only the latest request's response counts. */
	assert_int_equal(msg_request_seal(&hc1, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7000, rq1,
					  sizeof(rq1)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_seal(&hc2, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7100, rq2,
					  sizeof(rq2)), MSG_REQUEST_LEN);
	assert_memory_not_equal(hc1.nonce, hc2.nonce, MSG_NONCE_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7200,
					  rq1, sizeof(rq1), &got, &hsv1), 0);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7200,
					  rq2, sizeof(rq2), &got, &hsv2), 0);
	assert_int_equal(msg_response_seal(&hsv1, &fx.resp, rs1, sizeof(rs1), &ks),
			 MSG_RESPONSE_LEN);
	assert_int_equal(msg_response_seal(&hsv2, &fx.resp, rs2, sizeof(rs2), &ks2),
			 MSG_RESPONSE_LEN);
	assert_int_equal(msg_response_open(&hc2, fx.c_priv, rs1, sizeof(rs1), &rgot, &kc),
			 MSG_ERR_AUTH);
	assert_int_equal(msg_response_open(&hc1, fx.c_priv, rs2, sizeof(rs2), &rgot, &kc),
			 MSG_ERR_AUTH);
	/* A server that echoes a wrong N_c: its own key schedule differs too. */
	assert_int_equal(msg_request_seal(&hc1, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 7300, rq1,
					  sizeof(rq1)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 7300,
					  rq1, sizeof(rq1), &got, &hsv1), 0);
	hsv1.nonce[0] ^= 1;
	assert_int_equal(msg_response_seal(&hsv1, &fx.resp, rs1, sizeof(rs1), &ks),
			 MSG_RESPONSE_LEN);
	assert_int_equal(msg_response_open(&hc1, fx.c_priv, rs1, sizeof(rs1), &rgot, &kc),
			 MSG_ERR_AUTH);
	/* The right one opens. */
	assert_int_equal(msg_response_open(&hc2, fx.c_priv, rs2, sizeof(rs2), &rgot, &kc), 0);
	assert_memory_equal(kc.session, ks2.session, 32);
}

/* Forward secrecy as a property: with the same static keys (and even the same
 * request contents and time) every handshake yields a different K_s, and
 * changing only the server's ephemeral secret changes K_s. */
static void test_session_key_depends_on_ephemerals(void **state)
{
	(void)state;
	struct msg_session_keys kc[4], ks[4];
	uint8_t e_c[32], e_s[32], n_c[16];

	handshake(50000, &kc[0], &ks[0]);
	handshake(50001, &kc[1], &ks[1]); /* one client: each request newer */
	assert_memory_equal(kc[0].session, ks[0].session, 32);
	assert_memory_not_equal(kc[0].session, kc[1].session, 32);
	assert_memory_not_equal(kc[0].tx, kc[1].tx, 32);

	/* Same e_c and N_c, two different e_s (replay cache reset between). */
	fill(e_c, 32, 0x21);
	fill(n_c, 16, 0x42);
	for (int i = 2; i < 4; i++) {
		msg_replay_init(&fx.cache, MSG_DEFAULT_MAX_SKEW_MS);
		fill(e_s, 32, (uint8_t)(0x60 + i));
		scripted_random_push(e_c, 32);
		scripted_random_push(n_c, 16);
		scripted_random_push(e_s, 32);
		handshake(60000, &kc[i], &ks[i]);
	}
	assert_memory_not_equal(kc[2].session, kc[3].session, 32);
}

static void test_encoder_arguments(void **state)
{
	(void)state;
	struct msg_handshake hc, hsv;
	struct msg_request got, bad = fx.req;
	struct msg_response rbad = fx.resp;
	struct msg_session_keys ks;
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN], td[MSG_TEARDOWN_LEN];

	bad.client_id = MSG_CLIENT_ID_MAX + 1;
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &bad, 1, rq,
					  sizeof(rq)), -EINVAL);
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 1, rq,
					  sizeof(rq) - 1), -EMSGSIZE);
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &fx.req, 1, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	/* A client handshake cannot seal a response. */
	assert_int_equal(msg_response_seal(&hc, &fx.resp, rs, sizeof(rs), &ks), -EINVAL);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 1, rq,
					  sizeof(rq), &got, &hsv), 0);
	rbad.rotation_ms = 0;
	assert_int_equal(msg_response_seal(&hsv, &rbad, rs, sizeof(rs), &ks), -EINVAL);
	rbad.rotation_ms = MSG_ROTATION_MAX_MS + 1;
	assert_int_equal(msg_response_seal(&hsv, &rbad, rs, sizeof(rs), &ks), -EINVAL);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs) - 1, &ks), -EMSGSIZE);
	assert_int_equal(msg_response_seal(&hsv, &fx.resp, rs, sizeof(rs), &ks), MSG_RESPONSE_LEN);
	assert_int_equal(msg_teardown_seal(&ks, 0, td, sizeof(td) - 1), -EMSGSIZE);
	/* The top client id survives the 24-bit field. */
	bad.client_id = MSG_CLIENT_ID_MAX;
	assert_int_equal(msg_request_seal(&hc, fx.c_priv, fx.c_pub, fx.s_pub, &bad, 2, rq,
					  sizeof(rq)), MSG_REQUEST_LEN);
	assert_int_equal(msg_request_open(&fx.cache, fx.s_priv, fx.s_pub, fx.c_pub, 2, rq,
					  sizeof(rq), &got, &hsv), 0);
	assert_int_equal(got.client_id, MSG_CLIENT_ID_MAX);
}

/* One client's replay state (WireGuard's TAI64N rule): only a timestamp
 * greater than every one accepted, within the skew. */
static void test_replay_per_client(void **state)
{
	(void)state;
	struct msg_replay r;
	const uint64_t skew = 1000, t0 = 1000000;

	msg_replay_init(&r, skew);
	assert_int_equal(msg_replay_check_and_add(&r, t0, t0 + 500), 0);
	assert_int_equal(msg_replay_check_and_add(&r, t0, t0 + 500), MSG_ERR_REPLAY);
	/* An older request (a retry read before the one it follows) too. */
	assert_int_equal(msg_replay_check_and_add(&r, t0 - 1, t0 + 500), MSG_ERR_REPLAY);
	assert_int_equal(msg_replay_check_and_add(&r, t0 + 1, t0 + 500), 0);
	/* Outside the skew, whatever the order. */
	assert_int_equal(msg_replay_check_and_add(&r, t0 + 1502, t0 + 500), MSG_ERR_STALE);
	assert_int_equal(msg_replay_check_and_add(&r, t0 + 1500, t0 + 500), 0);
	/* A refused request moved nothing. */
	assert_true(r.latest_ms == t0 + 1500);
	/* The server's clock steps back: everything accepted stays refused. */
	assert_int_equal(msg_replay_check_and_add(&r, t0 + 1500, t0 + 900), MSG_ERR_REPLAY);
}

/* issue 13: a re-key storm of 15,000 clients (every one of them sends a
 * request within a few seconds) must not refuse a client whose clock lags
 * 5 s behind. With one global cache of 4,096 entries (the design before),
 * the evictions raised a floor over its timestamp and it was STALE; with a
 * state per client, the others' requests cannot touch it. The shared
 * variant is run as well, to show that the test tells the two apart. */
static void test_replay_storm(void **state)
{
	(void)state;
	enum { N = 15000 };
	static struct msg_replay per_client[N + 1];
	struct msg_replay shared;
	const uint64_t t0 = UINT64_C(1767225600000);
	unsigned i, refused_shared = 0;

	msg_replay_init(&shared, MSG_DEFAULT_MAX_SKEW_MS);
	for (i = 0; i <= N; i++)
		msg_replay_init(&per_client[i], MSG_DEFAULT_MAX_SKEW_MS);
	/* Clients 0..N-1 at the server's time, spread over 3 s. */
	for (i = 0; i < N; i++) {
		uint64_t t = t0 + (uint64_t)i * 3000 / N;

		assert_int_equal(msg_replay_check_and_add(&per_client[i], t, t), 0);
		refused_shared += msg_replay_check_and_add(&shared, t, t) != 0;
	}
	/* The lagging client N: its clock 5 s behind, within the 30 s skew. */
	assert_int_equal(msg_replay_check_and_add(&per_client[N], t0 + 3000 - 5000, t0 + 3000), 0);
	assert_int_not_equal(msg_replay_check_and_add(&shared, t0 + 3000 - 5000, t0 + 3000), 0);
	/* (Shared, even clients of the same ms refuse each other.) */
	assert_true(refused_shared > 0);
	/* Each client's own retry, 1 s later, still passes. */
	for (i = 0; i < N; i += 97) {
		uint64_t t = t0 + (uint64_t)i * 3000 / N + 1000;

		assert_int_equal(msg_replay_check_and_add(&per_client[i], t, t), 0);
	}
}

/* The audit trail and the logs say what went wrong in the protocol's words
 * (the errno values the codes alias would say "Stale file handle"). */
static void test_error_messages(void **state)
{
	static const int codes[] = { MSG_ERR_LENGTH, MSG_ERR_VERSION, MSG_ERR_TYPE, MSG_ERR_AUTH, MSG_ERR_STALE, MSG_ERR_REPLAY };

	(void)state;
	check_error_table(msg_strerror, codes, sizeof(codes) / sizeof(codes[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_known_answer_vectors, setup),
		cmocka_unit_test_setup(test_round_trip, setup),
		cmocka_unit_test_setup(test_truncated_and_oversized, setup),
		cmocka_unit_test_setup(test_version_and_type, setup),
		cmocka_unit_test_setup(test_request_bit_flips, setup),
		cmocka_unit_test_setup(test_response_bit_flips, setup),
		cmocka_unit_test_setup(test_teardown_bit_flips, setup),
		cmocka_unit_test_setup(test_wrong_keys, setup),
		cmocka_unit_test_setup(test_request_replay_and_stale, setup),
		cmocka_unit_test_setup(test_response_for_other_request, setup),
		cmocka_unit_test_setup(test_session_key_depends_on_ephemerals, setup),
		cmocka_unit_test_setup(test_encoder_arguments, setup),
		cmocka_unit_test_setup(test_rotation_replay, setup),
		cmocka_unit_test_setup(test_replay_per_client, setup),
		cmocka_unit_test_setup(test_replay_storm, setup),
		cmocka_unit_test(test_error_messages),
	};

	scripted_random_install();
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
