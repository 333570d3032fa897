#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "mt6d/core/rotate.h"

static struct in6_addr own_seed, peer_seed;
static uint8_t key[ROTATE_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:a::123:4567:89ab:cdef", &own_seed), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:b::fedc:ba98:7654:3210", &peer_seed), 1);
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	return 0;
}

static void assert_addr(const struct in6_addr *a, const char *text)
{
	char buf[INET6_ADDRSTRLEN];

	assert_non_null(inet_ntop(AF_INET6, a, buf, sizeof(buf)));
	assert_string_equal(buf, text);
}

static void test_slot_follows_the_wall_clock(void **state)
{
	(void)state;
	assert_true(rotate_slot_at(3000, 0) == 0);
	assert_true(rotate_slot_at(3000, -5) == 0);
	assert_true(rotate_slot_at(3000, 2999) == 0);
	assert_true(rotate_slot_at(3000, 3000) == 1);
	assert_true(rotate_slot_at(1000, 1763884800123) == 1763884800);
	assert_true(rotate_slot_start_ms(1000, 1763884800) == 1763884800000);
	assert_true(rotate_slot_start_ms(3000, rotate_slot_at(3000, 1763884801234)) ==
		    1763884800000);
}

/* Known answers computed independently (Python hashlib, see
 * docs/PROTOCOL.md "MT6D addresses"). */
static void test_endpoint_known_answers(void **state)
{
	struct in6_addr seed;
	struct rotate_endpoint ep;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:a::123:4567:89ab:cdef", &seed), 1);
	rotate_endpoint_for(&seed, key, 1763884800, &ep);
	assert_addr(&ep.addr, "2001:db8:a:0:5d61:7018:db61:4acc");
	assert_int_equal(ep.port, 1327);
	rotate_endpoint_for(&seed, key, 1763884801, &ep);
	assert_addr(&ep.addr, "2001:db8:a:0:e819:5c06:98e8:9ce8");
	assert_int_equal(ep.port, 54931);
}

static void test_endpoints_keep_prefix_and_port_range(void **state)
{
	struct rotate_endpoint ep, prev;

	(void)state;
	memset(&prev, 0, sizeof(prev));
	for (uint64_t s = 1000; s < 3000; s++) {
		rotate_endpoint_for(&own_seed, key, s, &ep);
		assert_memory_equal(ep.addr.s6_addr, own_seed.s6_addr, 8);
		assert_true(ep.port >= 1024);
		assert_false(sodium_is_zero(ep.addr.s6_addr + 8, 8));
		assert_memory_not_equal(ep.addr.s6_addr, prev.addr.s6_addr, 16);
		prev = ep;
	}
	/* Another key gives other addresses. */
	key[0] ^= 1;
	rotate_endpoint_for(&own_seed, key, 2999, &ep);
	key[0] ^= 1;
	assert_memory_not_equal(ep.addr.s6_addr, prev.addr.s6_addr, 16);
}

static void test_init_refuses_bad_parameters(void **state)
{
	struct rotate r;

	(void)state;
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 0, 1), -EINVAL);
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 1000, 0), -EINVAL);
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 1000, 3), -EINVAL);
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 1000, 1), 0);
	assert_false(rotate_has(&r, 0));
	assert_null(rotate_get(&r, 5));
	rotate_fini(&r);
}

static void check_window(const struct rotate *r, uint64_t cur)
{
	for (uint64_t s = cur - r->reach; s <= cur + r->reach; s++) {
		const struct rotate_slot *e = rotate_get(r, s);
		struct rotate_endpoint own, peer;

		assert_non_null(e);
		assert_true(e->slot == s);
		rotate_endpoint_for(&own_seed, key, s, &own);
		rotate_endpoint_for(&peer_seed, key, s, &peer);
		assert_memory_equal(&e->own.addr, &own.addr, 16);
		assert_memory_equal(&e->peer.addr, &peer.addr, 16);
		assert_int_equal(e->own.port, own.port);
		assert_int_equal(e->peer.port, peer.port);
	}
	assert_null(rotate_get(r, cur - r->reach - 1));
	assert_null(rotate_get(r, cur + r->reach + 1));
}

static void test_moves_by_one_slot_bind_ahead(void **state)
{
	struct rotate r;
	struct rotate_diff d;
	const uint64_t t0 = 1763884800;

	(void)state;
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 1000, 1), 0);
	rotate_move(&r, t0, &d);
	assert_int_equal(d.del_len, 0);
	assert_int_equal(d.add_len, 3);
	assert_true(d.add[0].slot == t0 - 1 && d.add[1].slot == t0 && d.add[2].slot == t0 + 1);
	check_window(&r, t0);

	for (uint64_t s = t0 + 1; s < t0 + 20; s++) {
		rotate_move(&r, s, &d);
		assert_int_equal(d.del_len, 1);
		assert_int_equal(d.add_len, 1);
		assert_true(d.del[0].slot == s - 2);
		/* The next slot's endpoint enters when its predecessor starts:
		 * bound a whole slot before it is used. */
		assert_true(d.add[0].slot == s + 1);
		check_window(&r, s);
	}
	rotate_move(&r, t0 + 19, &d);
	assert_int_equal(d.del_len + d.add_len, 0);
	rotate_fini(&r);
}

/* A new Rot: slot numbers of the new period (3 s -> 1 s: three times
 * higher) replace the whole window at the next move. */
static void test_new_rotation_period(void **state)
{
	struct rotate r;
	struct rotate_diff d;
	const int64_t t_ms = INT64_C(1763884800000);

	(void)state;
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 3000, 1), 0);
	rotate_move(&r, rotate_slot_at(3000, t_ms), &d);
	assert_int_equal(rotate_set_rotation(&r, 0), -EINVAL);
	assert_int_equal(rotate_set_rotation(&r, 1000), 0);
	assert_int_equal(r.rotation_ms, 1000);
	rotate_move(&r, rotate_slot_at(r.rotation_ms, t_ms), &d);
	assert_int_equal(d.del_len, 3);
	assert_int_equal(d.add_len, 3);
	assert_true(d.add[1].slot == rotate_slot_at(1000, t_ms));
	check_window(&r, rotate_slot_at(1000, t_ms));
	rotate_fini(&r);
}

static void test_jumps_keep_the_overlap(void **state)
{
	struct rotate r;
	struct rotate_diff d;
	const uint64_t t0 = 1763884800;

	(void)state;
	assert_int_equal(rotate_init(&r, &own_seed, &peer_seed, key, 3000, 2), 0);
	rotate_move(&r, t0, &d);
	assert_int_equal(d.add_len, 5);
	check_window(&r, t0);
	/* Forward by two: t0-2, t0-1 leave; t0+3, t0+4 enter. */
	rotate_move(&r, t0 + 2, &d);
	assert_int_equal(d.del_len, 2);
	assert_int_equal(d.add_len, 2);
	assert_true(d.del[0].slot == t0 - 2 && d.del[1].slot == t0 - 1);
	assert_true(d.add[0].slot == t0 + 3 && d.add[1].slot == t0 + 4);
	check_window(&r, t0 + 2);
	/* Clock stepped back by one. */
	rotate_move(&r, t0 + 1, &d);
	assert_int_equal(d.del_len, 1);
	assert_int_equal(d.add_len, 1);
	assert_true(d.del[0].slot == t0 + 4 && d.add[0].slot == t0 - 1);
	check_window(&r, t0 + 1);
	/* A large step replaces the whole window. */
	rotate_move(&r, t0 + 100, &d);
	assert_int_equal(d.del_len, 5);
	assert_int_equal(d.add_len, 5);
	check_window(&r, t0 + 100);
	/* Near the epoch the window is clamped, never negative. */
	rotate_move(&r, 0, &d);
	assert_true(r.cur == 2);
	assert_int_equal(d.add_len, 5);
	assert_true(d.add[0].slot == 0);
	rotate_fini(&r);
	assert_true(sodium_is_zero(r.key, sizeof(r.key)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_follows_the_wall_clock),
		cmocka_unit_test(test_endpoint_known_answers),
		cmocka_unit_test(test_endpoints_keep_prefix_and_port_range),
		cmocka_unit_test(test_init_refuses_bad_parameters),
		cmocka_unit_test(test_moves_by_one_slot_bind_ahead),
		cmocka_unit_test(test_jumps_keep_the_overlap),
		cmocka_unit_test(test_new_rotation_period),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
