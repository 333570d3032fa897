#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dht/routing.h"

#define MIN_MS (60 * 1000)

static uint32_t rng = 12345;
static uint8_t rnd8(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

static void rand_id(uint8_t id[20])
{
	for (int i = 0; i < 20; i++)
		id[i] = rnd8();
}

static struct krpc_addr addr6(uint16_t n)
{
	struct krpc_addr a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.ip[0] = 0x20; a.ip[1] = 0x01; a.ip[2] = 0x0d; a.ip[3] = 0xb8;
	a.ip[14] = (uint8_t)(n >> 8);
	a.ip[15] = (uint8_t)n;
	a.port = 6881;
	return a;
}

static unsigned cpl(const uint8_t *a, const uint8_t *b)
{
	unsigned n = 0;
	for (int i = 0; i < 160; i++) {
		if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
			break;
		n++;
	}
	return n;
}

static void test_buckets_split_around_own_id(void **state)
{
	(void)state;
	struct routing_table *t = calloc(1, sizeof(*t));
	uint8_t self[20], id[20];
	rand_id(self);
	routing_init(t, self, AF_INET6);
	for (uint16_t i = 0; i < 500; i++) {
		rand_id(id);
		struct krpc_addr a = addr6(i);
		routing_heard(t, id, &a, true, 1000, NULL, NULL);
	}
	/* Nodes very close to us force many splits. */
	for (uint16_t i = 0; i < 40; i++) {
		memcpy(id, self, 20);
		id[19] ^= (uint8_t)(i + 1);
		struct krpc_addr a = addr6((uint16_t)(1000 + i));
		routing_heard(t, id, &a, true, 1000, NULL, NULL);
	}
	assert_true(t->n_buckets > 10);
	size_t total = 0;
	for (unsigned b = 0; b < t->n_buckets; b++) {
		assert_true(t->b[b].n <= ROUTING_K);
		total += t->b[b].n;
		for (unsigned i = 0; i < t->b[b].n; i++) {
			unsigned c = cpl(self, t->b[b].nodes[i].id);
			if (b < t->n_buckets - 1)
				assert_int_equal(c, b);
			else
				assert_true(c >= b);
		}
	}
	/* Far buckets hold k, the nearest ones all that exist. */
	assert_int_equal(t->b[0].n, ROUTING_K);
	assert_true(total >= 8 * 8);

	/* Closest: sorted, and the 8 nearest of the 40 near nodes (XOR 1..8). */
	struct routing_node out[8];
	assert_int_equal(routing_closest(t, self, out, 8), 8);
	for (int i = 0; i < 8; i++) {
		assert_memory_equal(out[i].id, self, 19);
		assert_int_equal(out[i].id[19] ^ self[19], i + 1);
	}
	/* Self and a conflicting address are ignored. */
	struct krpc_addr a = addr6(1000);
	assert_int_equal(routing_heard(t, self, &a, true, 1000, NULL, NULL), ROUTING_IGNORED);
	memcpy(id, self, 20);
	id[19] ^= 1;
	a = addr6(4242);
	assert_int_equal(routing_heard(t, id, &a, true, 1000, NULL, NULL), ROUTING_IGNORED);
	a = addr6(1000);
	assert_int_equal(routing_heard(t, id, &a, true, 2000, NULL, NULL), ROUTING_UPDATED);
	free(t);
}

static void test_questionable_pinged_bad_replaced(void **state)
{
	(void)state;
	struct routing_table *t = calloc(1, sizeof(*t));
	uint8_t self[20] = { 0 }, id[20];
	struct routing_node ping[ROUTING_K];
	size_t n_ping = 0;
	routing_init(t, self, AF_INET6);
	/* Eight far nodes (top bit set) fill one bucket, then one near node
	 * splits it so the far bucket is no longer the splittable one. */
	for (int i = 0; i < 8; i++) {
		rand_id(id);
		id[0] |= 0x80;
		struct krpc_addr a = addr6((uint16_t)i);
		assert_int_equal(routing_heard(t, id, &a, true, 1, ping, &n_ping), ROUTING_INSERTED);
	}
	uint8_t newcomer[20];
	rand_id(newcomer);
	newcomer[0] |= 0x80;
	struct krpc_addr na = addr6(100);
	/* All good: the newcomer is only cached, nobody pinged. */
	assert_int_equal(routing_heard(t, newcomer, &na, true, 1000, ping, &n_ping), ROUTING_CACHED);
	assert_int_equal(n_ping, 0);
	assert_int_equal(t->b[0].n, ROUTING_K);
	/* 16 min later they are questionable: all handed out for pinging, once. */
	assert_int_equal(routing_heard(t, newcomer, &na, true, 16 * MIN_MS, ping, &n_ping), ROUTING_CACHED);
	assert_int_equal(n_ping, ROUTING_K);
	assert_int_equal(routing_heard(t, newcomer, &na, true, 16 * MIN_MS, ping, &n_ping), ROUTING_CACHED);
	assert_int_equal(n_ping, 0);
	/* One answers (stays), one fails three times (replaced by newcomer). */
	routing_heard(t, ping[0].id, &ping[0].addr, true, 16 * MIN_MS + 10, NULL, NULL);
	for (int i = 0; i < ROUTING_MAX_FAILS; i++)
		routing_failed(t, &ping[1].addr);
	bool has_newcomer = false, has_failed = false, has_answered = false;
	for (unsigned i = 0; i < t->b[0].n; i++) {
		has_newcomer |= memcmp(t->b[0].nodes[i].id, newcomer, 20) == 0;
		has_failed |= memcmp(t->b[0].nodes[i].id, ping[1].id, 20) == 0;
		has_answered |= memcmp(t->b[0].nodes[i].id, ping[0].id, 20) == 0;
	}
	assert_true(has_newcomer);
	assert_false(has_failed);
	assert_true(has_answered);

	/* With an empty cache a bad node stays until a newcomer takes its slot. */
	for (int i = 0; i < ROUTING_MAX_FAILS; i++)
		routing_failed(t, &ping[2].addr);
	size_t g, q, bad;
	routing_count(t, 16 * MIN_MS + 10, &g, &q, &bad);
	assert_int_equal(bad, 1);
	rand_id(id);
	id[0] |= 0x80;
	struct krpc_addr a = addr6(200);
	assert_int_equal(routing_heard(t, id, &a, false, 17 * MIN_MS, ping, &n_ping), ROUTING_INSERTED);
	routing_count(t, 17 * MIN_MS, &g, &q, &bad);
	assert_int_equal(bad, 0);
	free(t);
}

static void test_refresh_target_lies_in_stale_bucket(void **state)
{
	(void)state;
	struct routing_table *t = calloc(1, sizeof(*t));
	uint8_t self[20], id[20], target[20], rnd[20];
	rand_id(self);
	routing_init(t, self, AF_INET6);
	for (uint16_t i = 0; i < 200; i++) {
		rand_id(id);
		struct krpc_addr a = addr6(i);
		routing_heard(t, id, &a, true, 0, NULL, NULL);
	}
	unsigned seen = 0;
	for (unsigned k = 0; k < t->n_buckets; k++) {
		rand_id(rnd);
		assert_int_equal(routing_refresh_target(t, 20 * MIN_MS, rnd, target), 1);
		unsigned c = cpl(self, target);
		if (k < t->n_buckets - 1)
			assert_int_equal(c, k);
		else
			assert_true(c >= k);
		seen++;
	}
	assert_int_equal(routing_refresh_target(t, 20 * MIN_MS, rnd, target), 0);
	assert_int_equal(seen, t->n_buckets);
	free(t);
}

/* The test vectors of BEP 42 (IPv4), first 21 bits and last byte. */
static void test_bep42_vectors(void **state)
{
	(void)state;
	static const struct { uint8_t ip[4]; uint8_t r; uint8_t prefix[3]; } v[] = {
		{ { 124, 31, 75, 21 }, 1, { 0x5f, 0xbf, 0xbf } },
		{ { 21, 75, 31, 124 }, 86, { 0x5a, 0x3c, 0xe9 } },
		{ { 65, 23, 51, 170 }, 22, { 0xa5, 0xd4, 0x32 } },
		{ { 84, 124, 73, 14 }, 65, { 0x1b, 0x03, 0x21 } },
		{ { 43, 213, 53, 83 }, 90, { 0xe5, 0x6f, 0x6c } },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct krpc_addr a;
		uint8_t rnd[20], id[20];
		memset(&a, 0, sizeof(a));
		a.family = AF_INET;
		memcpy(a.ip, v[i].ip, 4);
		rand_id(rnd);
		rnd[19] = v[i].r;
		assert_int_equal(routing_id_bep42(&a, rnd, id), 0);
		assert_int_equal(id[0], v[i].prefix[0]);
		assert_int_equal(id[1], v[i].prefix[1]);
		assert_int_equal(id[2] & 0xf8, v[i].prefix[2] & 0xf8);
		assert_int_equal(id[19], v[i].r);
		assert_true(routing_id_is_bep42(id, &a));
		id[0] ^= 1;
		assert_false(routing_id_is_bep42(id, &a));
	}
	struct krpc_addr a6 = addr6(7);
	uint8_t rnd[20], id[20];
	rand_id(rnd);
	assert_int_equal(routing_id_bep42(&a6, rnd, id), 0);
	assert_true(routing_id_is_bep42(id, &a6));
	/* Only the /64 prefix counts for IPv6 (masked further by BEP 42). */
	a6.ip[15] ^= 0xff;
	assert_true(routing_id_is_bep42(id, &a6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets_split_around_own_id),
		cmocka_unit_test(test_questionable_pinged_bad_replaced),
		cmocka_unit_test(test_refresh_target_lies_in_stale_bucket),
		cmocka_unit_test(test_bep42_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
