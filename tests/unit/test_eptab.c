/* The endpoint table of the shared slot sockets: add, replace, remove by
 * owner, lookup of what is not there, collisions (a table forced to its
 * smallest size), 15,000 sessions of 3 slots, and a rotation that removes
 * the oldest slot of every session while it adds the newest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include "mt6d/core/eptab.h"

#define SESSIONS 15000
#define WINDOW 3

static const uint8_t key[EPTAB_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* A distinct endpoint per (session, slot), like formula 5's: address and
 * port both move. */
static void ep_of(unsigned session, uint64_t slot, struct in6_addr *a, uint16_t *port)
{
	uint32_t x = session * 2654435761u ^ (uint32_t)(slot * 40503u);

	memset(a, 0, sizeof(*a));
	a->s6_addr[0] = 0x20;
	a->s6_addr[1] = 0x01;
	a->s6_addr[2] = 0x0d;
	a->s6_addr[3] = 0xb8;
	memcpy(a->s6_addr + 8, &session, sizeof(session));
	memcpy(a->s6_addr + 12, &slot, 4);
	*port = (uint16_t)(1024 + x % 60000);
}

static void test_basic(void **state)
{
	struct eptab t;
	struct in6_addr a, b;
	uint16_t pa, pb;
	int owner1, owner2;
	const struct eptab_entry *e;

	(void)state;
	ep_of(1, 10, &a, &pa);
	ep_of(2, 10, &b, &pb);
	assert_int_equal(eptab_init(&t, 0, key), 0);
	assert_null(eptab_lookup(&t, &a, pa));
	assert_int_equal(eptab_add(&t, &a, pa, NULL, 1), -EINVAL);
	assert_int_equal(eptab_add(&t, &a, pa, &owner1, 10), 0);
	assert_int_equal(eptab_add(&t, &b, pb, &owner2, 10), 0);
	e = eptab_lookup(&t, &a, pa);
	assert_non_null(e);
	assert_ptr_equal(e->owner, &owner1);
	assert_int_equal(e->slot, 10);
	/* The same address on another port is another endpoint. */
	assert_null(eptab_lookup(&t, &a, (uint16_t)(pa + 1)));
	/* A new session takes the endpoint over: the old one's removal then
	 * leaves it alone. */
	assert_int_equal(eptab_add(&t, &a, pa, &owner2, 11), 0);
	assert_int_equal(eptab_count(&t), 2);
	assert_int_equal(eptab_remove(&t, &a, pa, &owner1), 0);
	assert_ptr_equal(eptab_lookup(&t, &a, pa)->owner, &owner2);
	assert_int_equal(eptab_lookup(&t, &a, pa)->slot, 11);
	assert_int_equal(eptab_remove(&t, &a, pa, &owner2), 1);
	assert_null(eptab_lookup(&t, &a, pa));
	assert_int_equal(eptab_remove(&t, &a, pa, &owner2), 0);
	assert_int_equal(eptab_count(&t), 1);
	assert_ptr_equal(eptab_lookup(&t, &b, pb)->owner, &owner2);
	eptab_fini(&t);
	assert_null(eptab_lookup(&t, &b, pb));
}

/* 30 entries in a table of 64: probe runs overlap; every removal in the
 * middle of a run must keep the rest of the run reachable. */
static void test_collisions(void **state)
{
	struct eptab t;
	int owners[30];
	unsigned i, k;

	(void)state;
	assert_int_equal(eptab_init(&t, 1, key), 0);
	for (i = 0; i < 30; i++) {
		struct in6_addr a;
		uint16_t p;

		ep_of(i, 0, &a, &p);
		assert_int_equal(eptab_add(&t, &a, p, &owners[i], i), 0);
	}
	for (k = 0; k < 30; k += 2) {
		struct in6_addr a;
		uint16_t p;

		ep_of(k, 0, &a, &p);
		assert_int_equal(eptab_remove(&t, &a, p, &owners[k]), 1);
		for (i = 0; i < 30; i++) {
			const struct eptab_entry *e;

			ep_of(i, 0, &a, &p);
			e = eptab_lookup(&t, &a, p);
			if (i <= k && i % 2 == 0) {
				assert_null(e);
			} else {
				assert_non_null(e);
				assert_ptr_equal(e->owner, &owners[i]);
			}
		}
	}
	assert_int_equal(eptab_count(&t), 15);
	eptab_fini(&t);
}

/* 15,000 sessions x 3 slots, then 20 rotations: each removes slot s - 1
 * and adds slot s + 2 of every session; everything live is found, nothing
 * gone is. */
static void test_many_rotating(void **state)
{
	static char owners[SESSIONS];
	struct eptab t;
	struct in6_addr a;
	uint16_t p;
	uint64_t s;
	unsigned i;

	(void)state;
	assert_int_equal(eptab_init(&t, 16, key), 0);
	for (i = 0; i < SESSIONS; i++) {
		for (s = 0; s < WINDOW; s++) {
			ep_of(i, s, &a, &p);
			assert_int_equal(eptab_add(&t, &a, p, &owners[i], s), 0);
		}
	}
	assert_int_equal(eptab_count(&t), SESSIONS * WINDOW);
	for (s = 1; s <= 20; s++) {
		for (i = 0; i < SESSIONS; i++) {
			ep_of(i, s - 1, &a, &p);
			assert_int_equal(eptab_remove(&t, &a, p, &owners[i]), 1);
			ep_of(i, s + 2, &a, &p);
			assert_int_equal(eptab_add(&t, &a, p, &owners[i], s + 2), 0);
		}
		assert_int_equal(eptab_count(&t), SESSIONS * WINDOW);
	}
	for (i = 0; i < SESSIONS; i++) {
		const struct eptab_entry *e;

		ep_of(i, 19, &a, &p);
		assert_null(eptab_lookup(&t, &a, p));
		for (s = 20; s < 20 + WINDOW; s++) {
			ep_of(i, s, &a, &p);
			e = eptab_lookup(&t, &a, p);
			assert_non_null(e);
			assert_ptr_equal(e->owner, &owners[i]);
			assert_int_equal(e->slot, s);
		}
	}
	/* Half full at most: the table stayed near its size. */
	assert_true(t.cap <= 4 * SESSIONS * WINDOW);
	eptab_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_many_rotating),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
