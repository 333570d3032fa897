#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dht/peerstore.h"

#define MIN_MS (60 * 1000)
#define T0 1000000

static struct krpc_addr addr6(uint16_t host, uint16_t port)
{
	struct krpc_addr a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.ip[0] = 0x20; a.ip[1] = 0x01; a.ip[2] = 0x0d; a.ip[3] = 0xb8;
	a.ip[14] = (uint8_t)(host >> 8);
	a.ip[15] = (uint8_t)host;
	a.port = port;
	return a;
}

static int setup(void **state)
{
	static struct peerstore ps;
	uint8_t secret[PEERSTORE_SECRET_LEN];
	memset(secret, 0x11, sizeof(secret));
	assert_int_equal(peerstore_init(&ps, secret, T0), 0);
	*state = &ps;
	return 0;
}

static int teardown(void **state)
{
	peerstore_fini(*state);
	return 0;
}

static void test_tokens_survive_one_rotation_not_two(void **state)
{
	struct peerstore *ps = *state;
	uint8_t ih[20], other[20], tok[PEERSTORE_TOKEN_LEN], s2[32], s3[32];
	memset(ih, 1, 20);
	memset(other, 2, 20);
	memset(s2, 0x22, 32);
	memset(s3, 0x33, 32);
	struct krpc_addr a = addr6(1, 6881), b = addr6(2, 6881), a_other_port = addr6(1, 7000);

	peerstore_token(ps, &a, ih, tok);
	assert_true(peerstore_is_token_valid(ps, &a, ih, tok, sizeof(tok)));
	/* Bound to IP and info_hash, not to the port. */
	assert_true(peerstore_is_token_valid(ps, &a_other_port, ih, tok, sizeof(tok)));
	assert_false(peerstore_is_token_valid(ps, &b, ih, tok, sizeof(tok)));
	assert_false(peerstore_is_token_valid(ps, &a, other, tok, sizeof(tok)));
	assert_false(peerstore_is_token_valid(ps, &a, ih, tok, 4));

	assert_false(peerstore_is_rotation_due(ps, T0 + 5 * MIN_MS - 1));
	assert_true(peerstore_is_rotation_due(ps, T0 + 5 * MIN_MS));
	peerstore_rotate(ps, s2, T0 + 5 * MIN_MS);
	assert_true(peerstore_is_token_valid(ps, &a, ih, tok, sizeof(tok)));
	uint8_t tok2[PEERSTORE_TOKEN_LEN];
	peerstore_token(ps, &a, ih, tok2);
	assert_memory_not_equal(tok, tok2, sizeof(tok));
	peerstore_rotate(ps, s3, T0 + 10 * MIN_MS);
	assert_false(peerstore_is_token_valid(ps, &a, ih, tok, sizeof(tok)));
	assert_true(peerstore_is_token_valid(ps, &a, ih, tok2, sizeof(tok2)));
}

static void test_storage_caps_and_port_zero(void **state)
{
	struct peerstore *ps = *state;
	uint8_t ih[20];
	memset(ih, 3, 20);
	struct krpc_addr zero = addr6(1, 0);
	assert_int_equal(peerstore_add(ps, ih, &zero, T0), -EINVAL);
	/* Many ports from one address are separate entries, up to the cap. */
	for (int p = 1; p <= PEERSTORE_MAX_PER_HASH; p++) {
		struct krpc_addr a = addr6(1, (uint16_t)p);
		assert_int_equal(peerstore_add(ps, ih, &a, T0), 0);
	}
	struct krpc_addr extra = addr6(1, 9999);
	assert_int_equal(peerstore_add(ps, ih, &extra, T0), -ENOSPC);
	/* Re-announcing a stored one is a refresh, not a new entry. */
	struct krpc_addr again = addr6(1, 7);
	assert_int_equal(peerstore_add(ps, ih, &again, T0 + 1), 0);
	assert_int_equal(ps->n_peers, PEERSTORE_MAX_PER_HASH);
	assert_int_equal(ps->refused_full, 1);

	/* Total cap over many info_hashes. */
	size_t stored = ps->n_peers;
	int refused = 0;
	for (int h = 0; h < 100 && !refused; h++) {
		ih[0] = (uint8_t)(h + 10);
		for (int p = 1; p <= PEERSTORE_MAX_PER_HASH; p++) {
			struct krpc_addr a = addr6(2, (uint16_t)p);
			int rc = peerstore_add(ps, ih, &a, T0);
			if (rc == -ENOSPC) {
				refused = 1;
				break;
			}
			assert_int_equal(rc, 0);
			stored++;
		}
	}
	assert_true(refused);
	assert_int_equal(stored, PEERSTORE_MAX_TOTAL);
	assert_int_equal(ps->n_peers, PEERSTORE_MAX_TOTAL);
}

static void test_get_respects_max_family_and_expiry(void **state)
{
	struct peerstore *ps = *state;
	uint8_t ih[20];
	struct krpc_addr out[PEERSTORE_MAX_VALUES];
	memset(ih, 4, 20);
	for (int p = 1; p <= 120; p++) {
		struct krpc_addr a = addr6(1, (uint16_t)p);
		assert_int_equal(peerstore_add(ps, ih, &a, T0), 0);
	}
	struct krpc_addr v4;
	memset(&v4, 0, sizeof(v4));
	v4.family = AF_INET;
	v4.port = 1;
	assert_int_equal(peerstore_add(ps, ih, &v4, T0 + 10 * MIN_MS), 0);

	assert_int_equal(peerstore_get(ps, ih, AF_INET6, T0, 1, out, PEERSTORE_MAX_VALUES), PEERSTORE_MAX_VALUES);
	/* Different draws show different subsets, and all of them eventually. */
	int seen[121] = { 0 }, distinct = 0;
	for (uint32_t r = 1; r < 200; r++) {
		size_t n = peerstore_get(ps, ih, AF_INET6, T0, r * 2654435761u, out, PEERSTORE_MAX_VALUES);
		assert_int_equal(n, PEERSTORE_MAX_VALUES);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(out[i].family, AF_INET6);
			if (!seen[out[i].port]++)
				distinct++;
		}
	}
	assert_int_equal(distinct, 120);
	assert_int_equal(peerstore_get(ps, ih, AF_INET, T0, 1, out, 10), 1);

	/* 30 min: the IPv6 ones expire, the later IPv4 one stays. */
	assert_int_equal(peerstore_get(ps, ih, AF_INET6, T0 + PEERSTORE_TTL_MS, 1, out, 10), 0);
	peerstore_expire(ps, T0 + PEERSTORE_TTL_MS);
	assert_int_equal(ps->n_peers, 1);
	assert_int_equal(ps->n_entries, 1);
	peerstore_expire(ps, T0 + 10 * MIN_MS + PEERSTORE_TTL_MS);
	assert_int_equal(ps->n_peers, 0);
	assert_int_equal(ps->n_entries, 0);
}

static void test_rate_limit_per_source_and_global(void **state)
{
	struct peerstore *ps = *state;
	struct krpc_addr a = addr6(1, 1000), a2 = addr6(1, 2000), b = addr6(2, 1000);
	int allowed = 0;
	for (int i = 0; i < 100; i++)
		allowed += peerstore_rate_allow(ps, &a, T0);
	assert_int_equal(allowed, PEERSTORE_BURST_PER_SOURCE);
	/* Same address, other port: same bucket. Another address: its own. */
	assert_false(peerstore_rate_allow(ps, &a2, T0));
	assert_true(peerstore_rate_allow(ps, &b, T0));
	/* Refill at PEERSTORE_RATE_PER_SOURCE per second. */
	allowed = 0;
	for (int ms = 1; ms <= 10000; ms += 10)
		allowed += peerstore_rate_allow(ps, &a, T0 + ms);
	assert_true(allowed >= 10 * PEERSTORE_RATE_PER_SOURCE - 1);
	assert_true(allowed <= 10 * PEERSTORE_RATE_PER_SOURCE + 1);
	assert_true(ps->rate_limited > 0);

	/* Many sources at once hit the global bucket. */
	int64_t t = T0 + 60000;
	allowed = 0;
	for (uint16_t h = 0; h < 2000; h++) {
		struct krpc_addr s = addr6((uint16_t)(100 + h), 1);
		allowed += peerstore_rate_allow(ps, &s, t);
	}
	assert_int_equal(allowed, PEERSTORE_BURST_GLOBAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tokens_survive_one_rotation_not_two, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_caps_and_port_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_respects_max_family_and_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_per_source_and_global, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
