/* The server's session table: add, lookup, close, remove; a full table of
 * many sessions; idle expiry; revocation (close by id, a new session of the
 * same client while the old one is still closing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <errno.h>

#include "mt6d/core/sesstab.h"

#define MANY 16384

static void test_add_lookup_remove(void **state)
{
	(void)state;
	struct sesstab t;
	struct sesstab_entry a, b, c;

	assert_int_equal(sesstab_init(&t, 0), -EINVAL);
	assert_int_equal(sesstab_init(&t, 8), 0);
	assert_null(sesstab_lookup(&t, 1));
	assert_null(sesstab_first(&t));
	assert_int_equal(sesstab_add(&t, &a, 1, 1000), 0);
	assert_int_equal(sesstab_add(&t, &b, 2, 1000), 0);
	assert_int_equal(sesstab_add(&t, &c, 0xffffff, 1000), 0);
	assert_ptr_equal(sesstab_lookup(&t, 1), &a);
	assert_ptr_equal(sesstab_lookup(&t, 2), &b);
	assert_ptr_equal(sesstab_lookup(&t, 0xffffff), &c);
	assert_null(sesstab_lookup(&t, 3));
	assert_int_equal(a.client_id, 1);
	assert_int_equal(sesstab_count(&t), 3);
	assert_int_equal(sesstab_count_live(&t), 3);
	/* One live session per client. */
	{
		struct sesstab_entry dup;

		assert_int_equal(sesstab_add(&t, &dup, 2, 1000), -EEXIST);
	}
	/* Newest first. */
	assert_ptr_equal(sesstab_first(&t), &c);
	assert_ptr_equal(sesstab_next(&c), &b);
	assert_ptr_equal(sesstab_next(&b), &a);
	assert_null(sesstab_next(&a));

	sesstab_remove(&t, &b);
	assert_null(sesstab_lookup(&t, 2));
	assert_ptr_equal(sesstab_lookup(&t, 1), &a);
	assert_ptr_equal(sesstab_lookup(&t, 0xffffff), &c);
	assert_int_equal(sesstab_count(&t), 2);
	assert_ptr_equal(sesstab_next(&c), &a);
	sesstab_remove(&t, &c);
	sesstab_remove(&t, &a);
	assert_int_equal(sesstab_count(&t), 0);
	assert_int_equal(sesstab_count_live(&t), 0);
	assert_null(sesstab_first(&t));
	sesstab_fini(&t);
}

/* Revocation: the session is closed at once (no longer found), stays in
 * the table until its teardown has left, and the client may come back with
 * a new session meanwhile. */
static void test_close_and_replace(void **state)
{
	(void)state;
	struct sesstab t;
	struct sesstab_entry old, neu;

	assert_int_equal(sesstab_init(&t, 2), 0);
	assert_int_equal(sesstab_add(&t, &old, 7, 0), 0);
	sesstab_close(&t, &old);
	sesstab_close(&t, &old); /* idempotent */
	assert_true(old.is_closing);
	assert_null(sesstab_lookup(&t, 7));
	assert_int_equal(sesstab_count(&t), 1);
	assert_int_equal(sesstab_count_live(&t), 0);
	assert_false(sesstab_is_idle(&old, 1000000, 10)); /* closing: not idle */
	assert_int_equal(sesstab_add(&t, &neu, 7, 5), 0);
	assert_ptr_equal(sesstab_lookup(&t, 7), &neu);
	/* Closing sessions count against the limit. */
	{
		struct sesstab_entry x;

		assert_int_equal(sesstab_add(&t, &x, 8, 5), -ENOSPC);
	}
	sesstab_remove(&t, &old);
	assert_ptr_equal(sesstab_lookup(&t, 7), &neu);
	assert_int_equal(sesstab_count(&t), 1);
	sesstab_remove(&t, &neu);
	sesstab_fini(&t);
}

/* The server's limit: every id found, the next one refused, then half
 * removed while iterating and the rest still found. */
static void test_many_sessions(void **state)
{
	(void)state;
	struct sesstab t;
	struct sesstab_entry *e = calloc(MANY + 1, sizeof(*e)), *it, *next;
	size_t n = 0;
	uint32_t i;

	assert_non_null(e);
	assert_int_equal(sesstab_init(&t, MANY), 0);
	for (i = 0; i < MANY; i++)
		assert_int_equal(sesstab_add(&t, &e[i], i * 977 % 0x1000000, i), 0);
	assert_int_equal(sesstab_add(&t, &e[MANY], 0xfffffe, 0), -ENOSPC);
	assert_int_equal(sesstab_count(&t), MANY);
	for (i = 0; i < MANY; i++)
		assert_ptr_equal(sesstab_lookup(&t, i * 977 % 0x1000000), &e[i]);
	assert_null(sesstab_lookup(&t, 0xfffffe));
	for (it = sesstab_first(&t); it; it = next) {
		next = sesstab_next(it);
		if (it->client_id % 2 == 0)
			sesstab_remove(&t, it);
		n++;
	}
	assert_int_equal(n, MANY);
	for (i = 0; i < MANY; i++) {
		uint32_t id = i * 977 % 0x1000000;

		if (id % 2 == 0)
			assert_null(sesstab_lookup(&t, id));
		else
			assert_ptr_equal(sesstab_lookup(&t, id), &e[i]);
	}
	assert_int_equal(sesstab_count(&t), MANY / 2);
	assert_int_equal(sesstab_count_live(&t), MANY / 2);
	while (sesstab_first(&t))
		sesstab_remove(&t, sesstab_first(&t));
	sesstab_fini(&t);
	free(e);
}

/* Idle: only a change of the tunnel's counter is activity. */
static void test_idle_expiry(void **state)
{
	(void)state;
	struct sesstab t;
	struct sesstab_entry a, b;
	struct sesstab_entry *it;
	int idle;

	assert_int_equal(sesstab_init(&t, 4), 0);
	assert_int_equal(sesstab_add(&t, &a, 1, 0), 0);
	assert_int_equal(sesstab_add(&t, &b, 2, 0), 0);
	assert_false(sesstab_is_idle(&a, 120000, 120000));
	assert_true(sesstab_is_idle(&a, 120001, 120000));
	sesstab_note_rx(&a, 5, 100000);    /* traffic */
	sesstab_note_rx(&b, 0, 100000);    /* the same count: none */
	assert_false(sesstab_is_idle(&a, 200000, 120000));
	assert_true(sesstab_is_idle(&b, 200000, 120000));
	sesstab_note_rx(&a, 5, 210000);    /* unchanged since 100 s */
	assert_true(sesstab_is_idle(&a, 220001, 120000));
	/* What the server's housekeeping does: end (close) the idle ones. */
	idle = 0;
	for (it = sesstab_first(&t); it; it = sesstab_next(it))
		if (sesstab_is_idle(it, 220001, 120000)) {
			sesstab_close(&t, it);
			idle++;
		}
	assert_int_equal(idle, 2);
	assert_int_equal(sesstab_count_live(&t), 0);
	assert_int_equal(sesstab_count(&t), 2);
	sesstab_remove(&t, &a);
	sesstab_remove(&t, &b);
	sesstab_fini(&t);
}

/* A packet to a client's tunnel address takes the live session's tunnel,
 * else a closing one's (its teardown on the way out), never a removed
 * one's. */
static void test_lookup_any(void **state)
{
	struct sesstab t;
	struct sesstab_entry old, cur, other;

	(void)state;
	assert_int_equal(sesstab_init(&t, 8), 0);
	assert_null(sesstab_lookup_any(&t, 7));
	assert_int_equal(sesstab_add(&t, &old, 7, 0), 0);
	assert_int_equal(sesstab_add(&t, &other, 8, 0), 0);
	assert_ptr_equal(sesstab_lookup_any(&t, 7), &old);
	sesstab_close(&t, &old);
	assert_null(sesstab_lookup(&t, 7));
	assert_ptr_equal(sesstab_lookup_any(&t, 7), &old);
	assert_int_equal(sesstab_count_live(&t), 1);
	assert_int_equal(sesstab_add(&t, &cur, 7, 0), 0);
	assert_ptr_equal(sesstab_lookup(&t, 7), &cur);
	assert_ptr_equal(sesstab_lookup_any(&t, 7), &cur);
	sesstab_close(&t, &cur);
	assert_non_null(sesstab_lookup_any(&t, 7));
	sesstab_remove(&t, &old);
	assert_ptr_equal(sesstab_lookup_any(&t, 7), &cur);
	sesstab_remove(&t, &cur);
	assert_null(sesstab_lookup_any(&t, 7));
	assert_ptr_equal(sesstab_lookup_any(&t, 8), &other);
	assert_int_equal(sesstab_count(&t), 1);
	assert_int_equal(sesstab_count_live(&t), 1);
	sesstab_remove(&t, &other);
	sesstab_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_lookup_remove),
		cmocka_unit_test(test_close_and_replace),
		cmocka_unit_test(test_many_sessions),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_lookup_any),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
