/* Shared by the unit tests of modules with their own error codes: every
 * code has a message of its own, not the errno text it aliases, and no two
 * codes of a module share one. */
#ifndef MT6D_TEST_ERROR_TABLE_H
#define MT6D_TEST_ERROR_TABLE_H

#include <string.h>

static inline void check_error_table(const char *(*fn)(int), const int *codes, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		const char *m = fn(codes[i]);

		assert_non_null(m);
		assert_true(m[0] != '\0');
		assert_string_not_equal(m, strerror(-codes[i]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(m, fn(codes[j]));
	}
	/* A system error keeps its own words. */
	assert_string_equal(fn(-ENOMEM), strerror(ENOMEM));
}

#endif
