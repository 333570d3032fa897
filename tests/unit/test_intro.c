/* The pure part of the introduction (mt6d/core/intro.h): the IID map of one slot,
 * the inner packets, the order of the server's checks of a request, and the
 * tunnel address plan. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/hash.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/msg.h"
#include "mt6d/core/rotate.h"
#include "tests/unit/error_table.h"

#define NOW_MS UINT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

static void addr(struct in6_addr *a, const char *text)
{
	assert_int_equal(inet_pton(AF_INET6, text, a), 1);
}

/* A client's introduction IID is what its tunnel (rotate.h) binds. */
static void test_slot_iid_matches_rotate(void **state)
{
	uint8_t k[INTRO_KEY_LEN], sk[INTRO_SLOT_KEY_LEN], iid[INTRO_IID_LEN];
	struct in6_addr seed;
	struct rotate_endpoint ep;
	uint64_t slot;

	(void)state;
	memset(k, 0x4b, sizeof(k));
	intro_slot_key(sk, k);
	addr(&seed, "2001:db8:1:2:1122:3344:5566:7788");
	for (slot = 1000; slot < 1010; slot++) {
		rotate_endpoint_for(&seed, sk, slot, &ep);
		intro_slot_iid(iid, seed.s6_addr + 8, sk, slot);
		assert_memory_equal(iid, ep.addr.s6_addr + 8, INTRO_IID_LEN);
	}
	/* The slot key hashes K: another K, other addresses. */
	k[0] ^= 1;
	intro_slot_key(sk, k);
	intro_slot_iid(iid, seed.s6_addr + 8, sk, 1000);
	rotate_endpoint_for(&seed, sk, 1000, &ep);
	assert_memory_equal(iid, ep.addr.s6_addr + 8, INTRO_IID_LEN);
	intro_slot_key(sk, (uint8_t[INTRO_KEY_LEN]){ 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b,
						 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b, 0x4b });
	rotate_endpoint_for(&seed, sk, 1000, &ep);
	assert_memory_not_equal(iid, ep.addr.s6_addr + 8, INTRO_IID_LEN);
}

/* 15,000 clients (the reference's scale): every one is found by its IID of
 * the slot, by no other slot's, and unknown IIDs are not found. */
static void test_map_many_clients(void **state)
{
	enum { N = 15000 };
	uint8_t (*c_iids)[INTRO_IID_LEN] = malloc(N * INTRO_IID_LEN);
	bool *is_active = malloc(N * sizeof(bool));
	uint8_t sk[INTRO_SLOT_KEY_LEN], iid[INTRO_IID_LEN];
	struct intro_map m;
	size_t i, misses = 0;

	(void)state;
	assert_non_null(c_iids);
	assert_non_null(is_active);
	memset(sk, 7, sizeof(sk));
	for (i = 0; i < N; i++) {
		uint8_t s[32];

		memset(s, 0, sizeof(s));
		memcpy(s, &i, sizeof(i));
		derive_client_iid(c_iids[i], s, sk, INTRO_KEY_LEN);
		is_active[i] = i % 100 != 5; /* every hundredth is revoked */
	}
	assert_int_equal(intro_map_init(&m, N), 0);
	assert_true(m.cap >= 2 * N);
	assert_int_equal(intro_map_build(&m, (const uint8_t(*)[INTRO_IID_LEN])c_iids, is_active, N,
					 sk, 4242),
			 N - N / 100);
	for (i = 0; i < N; i++) {
		intro_slot_iid(iid, c_iids[i], sk, 4242);
		if (is_active[i])
			assert_int_equal(intro_map_get(&m, iid), (int64_t)i);
		else
			assert_int_equal(intro_map_get(&m, iid), -ENOENT);
		/* The same client's IID of the next slot is another one. */
		intro_slot_iid(iid, c_iids[i], sk, 4243);
		misses += intro_map_get(&m, iid) == -ENOENT;
	}
	assert_int_equal(misses, N);
	memset(iid, 0, sizeof(iid));
	assert_int_equal(intro_map_get(&m, iid), -ENOENT); /* the empty marker */
	for (i = 0; i < 1000; i++) {
		randombytes_buf(iid, sizeof(iid));
		assert_int_equal(intro_map_get(&m, iid), -ENOENT);
	}
	/* Rebuilt for another slot, the old IIDs are gone. */
	intro_map_build(&m, (const uint8_t(*)[INTRO_IID_LEN])c_iids, NULL, N, sk, 4243);
	intro_slot_iid(iid, c_iids[0], sk, 4242);
	assert_int_equal(intro_map_get(&m, iid), -ENOENT);
	intro_slot_iid(iid, c_iids[0], sk, 4243);
	assert_int_equal(intro_map_get(&m, iid), 0);
	intro_map_fini(&m);
	free(c_iids);
	free(is_active);
}

static void test_map_limits(void **state)
{
	struct intro_map m;
	uint8_t iid[INTRO_IID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	size_t i;

	(void)state;
	assert_int_equal(intro_map_init(&m, 4), 0);
	assert_int_equal(m.cap, 16);
	assert_int_equal(intro_map_put(&m, iid, 3), 0);
	/* Two clients with one IID in a slot: the first keeps it. */
	assert_int_equal(intro_map_put(&m, iid, 4), -EEXIST);
	assert_int_equal(m.collisions, 1);
	assert_int_equal(intro_map_get(&m, iid), 3);
	memset(iid, 0, sizeof(iid));
	assert_int_equal(intro_map_put(&m, iid, 1), -EINVAL);
	/* Never more than half full: lookups always terminate. */
	for (i = 1; i < 8; i++) {
		iid[0] = (uint8_t)(0x80 + i);
		assert_int_equal(intro_map_put(&m, iid, (uint32_t)i), 0);
	}
	iid[0] = 0xf0;
	assert_int_equal(intro_map_put(&m, iid, 9), -ENOSPC);
	assert_int_equal(intro_map_get(&m, iid), -ENOENT);
	intro_map_fini(&m);
}

static void test_inner_packets(void **state)
{
	uint8_t pkt[200], payload[MSG_TEARDOWN_LEN];
	struct in6_addr src, dst, s2, d2;
	const uint8_t *p;
	size_t plen;
	int len;

	(void)state;
	addr(&src, "2001:db8:1:2::aa");
	addr(&dst, "2001:db8:0:1::bb");
	memset(payload, 0x5a, sizeof(payload));
	len = intro_inner_build(pkt, sizeof(pkt), &src, &dst, payload, sizeof(payload));
	assert_int_equal(len, INTRO_IPV6_HEADER_LEN + MSG_TEARDOWN_LEN);
	assert_int_equal(pkt[0] >> 4, 6);
	assert_int_equal(pkt[6], INTRO_NEXT_HEADER);
	assert_int_equal(intro_inner_parse(pkt, (size_t)len, &s2, &d2, &p, &plen), 0);
	assert_memory_equal(&s2, &src, 16);
	assert_memory_equal(&d2, &dst, 16);
	assert_int_equal(plen, MSG_TEARDOWN_LEN);
	assert_memory_equal(p, payload, plen);
	/* An empty payload is a keepalive. */
	assert_int_equal(intro_inner_build(pkt, sizeof(pkt), &src, &dst, NULL, 0), 40);
	assert_int_equal(intro_inner_parse(pkt, 40, &s2, &d2, &p, &plen), 0);
	assert_int_equal(plen, 0);
	/* Refused: too short, not IPv6, another next header, a length that
	 * does not match, a buffer too small to build. */
	len = intro_inner_build(pkt, sizeof(pkt), &src, &dst, payload, sizeof(payload));
	assert_int_equal(intro_inner_parse(pkt, 39, &s2, &d2, &p, &plen), INTRO_ERR_INNER);
	pkt[0] = 0x45;
	assert_int_equal(intro_inner_parse(pkt, (size_t)len, &s2, &d2, &p, &plen), INTRO_ERR_INNER);
	pkt[0] = 0x60;
	pkt[6] = 17;
	assert_int_equal(intro_inner_parse(pkt, (size_t)len, &s2, &d2, &p, &plen), INTRO_ERR_INNER);
	pkt[6] = INTRO_NEXT_HEADER;
	assert_int_equal(intro_inner_parse(pkt, (size_t)len - 1, &s2, &d2, &p, &plen), INTRO_ERR_INNER);
	assert_int_equal(intro_inner_parse(pkt, (size_t)len, &s2, &d2, &p, &plen), 0);
	assert_int_equal(intro_inner_build(pkt, 50, &src, &dst, payload, sizeof(payload)), -EMSGSIZE);
}

struct request_fixture {
	uint8_t c_priv[32], c_pub[32], s_priv[32], s_pub[32], o_priv[32], o_pub[32];
	uint8_t s[32], k[INTRO_KEY_LEN], c_iid[INTRO_IID_LEN];
	struct in6_addr seed;
	struct msg_replay cache;
	uint8_t req[MSG_REQUEST_LEN];
	struct msg_handshake hs;
};

static int request_setup(void **state)
{
	struct request_fixture *f = calloc(1, sizeof(*f));
	struct msg_request r;

	keys_generate(f->c_priv, f->c_pub);
	keys_generate(f->s_priv, f->s_pub);
	keys_generate(f->o_priv, f->o_pub);
	assert_int_equal(keys_shared_secret(f->s, f->c_priv, f->s_pub), 0);
	memset(f->k, 0x33, sizeof(f->k));
	derive_client_iid(f->c_iid, f->s, f->k, INTRO_KEY_LEN);
	addr(&f->seed, "2001:db8:1:2::");
	memcpy(f->seed.s6_addr + 8, f->c_iid, INTRO_IID_LEN);
	msg_replay_init(&f->cache, MSG_DEFAULT_MAX_SKEW_MS);
	memset(&r, 0, sizeof(r));
	r.client_id = 7;
	memcpy(r.seed_addr, f->seed.s6_addr, 16);
	assert_int_equal(msg_request_seal(&f->hs, f->c_priv, f->c_pub, f->s_pub, &r, NOW_MS, f->req,
					  sizeof(f->req)),
			 MSG_REQUEST_LEN);
	*state = f;
	return 0;
}

static int request_teardown(void **state)
{
	free(*state);
	return 0;
}

static int check(struct request_fixture *f, uint32_t id, const uint8_t *pub, const uint8_t *c_iid,
		 const struct in6_addr *inner_src, const uint8_t *msg, size_t len)
{
	struct msg_request out;
	struct msg_handshake hs;

	return intro_check_request(&f->cache, f->s_priv, f->s_pub, id, pub, c_iid, inner_src, NOW_MS,
				   msg, len, &out, &hs);
}

/* Each check fails with its own result, in the documented order, and only
 * an authentic request reaches the replay cache. */
static void test_request_check_order(void **state)
{
	struct request_fixture *f = *state;
	uint8_t bad[MSG_REQUEST_LEN], other_iid[INTRO_IID_LEN];
	struct msg_request out;
	struct msg_handshake hs;

	/* 1. Not a request at all. */
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &f->seed, f->req, 1), MSG_ERR_LENGTH);
	memcpy(bad, f->req, sizeof(bad));
	bad[0] = 2;
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &f->seed, bad, sizeof(bad)), MSG_ERR_VERSION);
	bad[0] = 1;
	bad[1] = 9;
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &f->seed, bad, sizeof(bad)), MSG_ERR_TYPE);
	/* 2. Sent in client 8's introduction tunnel, naming client 7: one
	 * client cannot speak for another, even with a valid request. */
	assert_int_equal(check(f, 8, f->c_pub, f->c_iid, &f->seed, f->req, sizeof(f->req)),
			 INTRO_ERR_CLIENT_ID);
	/* 3. Not authentic: another client's key, a flipped bit. */
	assert_int_equal(check(f, 7, f->o_pub, f->c_iid, &f->seed, f->req, sizeof(f->req)),
			 MSG_ERR_AUTH);
	memcpy(bad, f->req, sizeof(bad));
	bad[60] ^= 1;
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &f->seed, bad, sizeof(bad)), MSG_ERR_AUTH);
	assert_true(f->cache.latest_ms == 0);
	/* Stale: the same request ten minutes later. */
	assert_int_equal(intro_check_request(&f->cache, f->s_priv, f->s_pub, 7, f->c_pub, f->c_iid,
					     &f->seed, NOW_MS + 600000, f->req, sizeof(f->req), &out,
					     &hs),
			 MSG_ERR_STALE);
	/* 4. Authentic, but the seed IID is not C_IID (a client that computed
	 * it under another K): refused after the client's replay state took its timestamp. */
	memcpy(other_iid, f->c_iid, sizeof(other_iid));
	other_iid[7] ^= 1;
	assert_int_equal(check(f, 7, f->c_pub, other_iid, &f->seed, f->req, sizeof(f->req)),
			 INTRO_ERR_CIID);
	assert_true(f->cache.latest_ms == NOW_MS);
	/* ... so the same request is now a replay, whatever else is right. */
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &f->seed, f->req, sizeof(f->req)),
			 MSG_ERR_REPLAY);
}

static void test_request_accepted_once(void **state)
{
	struct request_fixture *f = *state;
	struct in6_addr other;
	struct msg_request out;
	struct msg_handshake hs;
	struct msg_response resp;
	struct msg_session_keys sk, ck;
	uint8_t r[MSG_RESPONSE_LEN];

	/* The inner source must be the seed address the request names. */
	other = f->seed;
	other.s6_addr[15] ^= 1;
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &other, f->req, sizeof(f->req)),
			 INTRO_ERR_CIID);
	/* A fresh request from the right client passes, once (1 ms later:
	 * the one refused above was authentic, so its timestamp counts). */
	memset(&out, 0, sizeof(out));
	out.client_id = 7;
	memcpy(out.seed_addr, f->seed.s6_addr, 16);
	assert_int_equal(msg_request_seal(&f->hs, f->c_priv, f->c_pub, f->s_pub, &out, NOW_MS + 1,
					  f->req, sizeof(f->req)),
			 MSG_REQUEST_LEN);
	assert_int_equal(intro_check_request(&f->cache, f->s_priv, f->s_pub, 7, f->c_pub, f->c_iid,
					     &f->seed, NOW_MS, f->req, sizeof(f->req), &out, &hs),
			 0);
	assert_int_equal(out.client_id, 7);
	assert_memory_equal(out.seed_addr, f->seed.s6_addr, 16);
	assert_int_equal(check(f, 7, f->c_pub, f->c_iid, &f->seed, f->req, sizeof(f->req)),
			 MSG_ERR_REPLAY);
	/* The handshake it returns answers the client. */
	memset(&resp, 0, sizeof(resp));
	resp.rotation_ms = 3000;
	assert_int_equal(msg_response_seal(&hs, &resp, r, sizeof(r), &sk), MSG_RESPONSE_LEN);
	assert_int_equal(msg_response_open(&f->hs, f->c_priv, r, sizeof(r), &resp, &ck), 0);
	assert_memory_equal(sk.session, ck.session, 32);
	assert_memory_equal(sk.tx, ck.rx, 32);
}

static void test_tunnel_plan(void **state)
{
	struct in6_addr prefix, srv, cli, want;

	(void)state;
	addr(&prefix, "2001:db8:ffff::");
	intro_tunnel_addrs(&prefix, 5, &srv, &cli);
	addr(&want, "2001:db8:ffff::1:0:5");
	assert_memory_equal(&srv, &want, 16);
	addr(&want, "2001:db8:ffff::2:0:5");
	assert_memory_equal(&cli, &want, 16);
	intro_tunnel_addrs(&prefix, 0xabcdef, &srv, &cli);
	addr(&want, "2001:db8:ffff::1:ab:cdef");
	assert_memory_equal(&srv, &want, 16);
	assert_int_equal(intro_tunnel_addr_id(&prefix, 64, &srv), 0xabcdef);
	/* A client-side address, another prefix, a longer prefix: not ours. */
	assert_int_equal(intro_tunnel_addr_id(&prefix, 64, &cli), -ENOENT);
	addr(&want, "2001:db8:fffe::1:ab:cdef");
	assert_int_equal(intro_tunnel_addr_id(&prefix, 64, &want), -ENOENT);
	assert_int_equal(intro_tunnel_addr_id(&prefix, 48, &want), -ENOENT);
	assert_int_equal(intro_tunnel_addr_id(&prefix, 47, &want), 0xabcdef);
	assert_int_equal(intro_tunnel_addr_id(&prefix, 65, &srv), -ENOENT);
	/* The client side, and the demultiplexing of a shared session
	 * interface by inner destination. */
	assert_int_equal(intro_client_tunnel_addr_id(&prefix, 64, &cli), 0xabcdef);
	assert_int_equal(intro_client_tunnel_addr_id(&prefix, 64, &srv), -ENOENT);
	{
		uint8_t pkt[48];

		memset(pkt, 0, sizeof(pkt));
		pkt[0] = 0x60;
		memcpy(pkt + 8, srv.s6_addr, 16);
		memcpy(pkt + 24, cli.s6_addr, 16);
		assert_int_equal(intro_packet_client_id(&prefix, 64, pkt, 40), 0xabcdef);
		assert_int_equal(intro_packet_client_id(&prefix, 64, pkt, 39), -ENOENT);
		pkt[0] = 0x45; /* IPv4 */
		assert_int_equal(intro_packet_client_id(&prefix, 64, pkt, 48), -ENOENT);
		pkt[0] = 0x60;
		memcpy(pkt + 24, srv.s6_addr, 16); /* to the server side */
		assert_int_equal(intro_packet_client_id(&prefix, 64, pkt, 48), -ENOENT);
		memcpy(pkt + 24, want.s6_addr, 16); /* another prefix */
		assert_int_equal(intro_packet_client_id(&prefix, 64, pkt, 48), -ENOENT);
		intro_tunnel_addrs(&prefix, 0, NULL, &cli);
		memcpy(pkt + 24, cli.s6_addr, 16);
		assert_int_equal(intro_packet_client_id(&prefix, 64, pkt, 48), 0);
	}
}

static void test_default_prefix_and_iids(void **state)
{
	uint8_t pub[32], iid[INTRO_IID_LEN];
	struct in6_addr a, b;
	int i;

	(void)state;
	memset(pub, 1, sizeof(pub));
	intro_default_tunnel_prefix(pub, &a);
	intro_default_tunnel_prefix(pub, &b);
	assert_memory_equal(&a, &b, 16);
	assert_int_equal(a.s6_addr[0], 0xfd);
	assert_true(sodium_is_zero(a.s6_addr + 6, 10));
	pub[0] = 2;
	intro_default_tunnel_prefix(pub, &b);
	assert_memory_not_equal(&a, &b, 16);
	for (i = 0; i < 1000; i++) {
		intro_random_iid(iid);
		assert_false(derive_iid_is_reserved(iid));
	}
}

/* The audit trail and the logs say what went wrong in the protocol's words
 * (the errno values the codes alias would say "Stale file handle"). */
static void test_error_messages(void **state)
{
	static const int codes[] = { INTRO_ERR_INNER, INTRO_ERR_CLIENT_ID, INTRO_ERR_CIID, MSG_ERR_LENGTH, MSG_ERR_VERSION, MSG_ERR_TYPE, MSG_ERR_AUTH, MSG_ERR_STALE, MSG_ERR_REPLAY };

	(void)state;
	check_error_table(intro_strerror, codes, sizeof(codes) / sizeof(codes[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_iid_matches_rotate),
		cmocka_unit_test(test_map_many_clients),
		cmocka_unit_test(test_map_limits),
		cmocka_unit_test(test_inner_packets),
		cmocka_unit_test_setup_teardown(test_request_check_order, request_setup, request_teardown),
		cmocka_unit_test_setup_teardown(test_request_accepted_once, request_setup,
						request_teardown),
		cmocka_unit_test(test_tunnel_plan),
		cmocka_unit_test(test_default_prefix_and_iids),
		cmocka_unit_test(test_error_messages),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
