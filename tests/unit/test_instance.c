/* The instance lock (mt6d/daemon/instance.h): a second holder is refused
 * and told the first one's pid; the lock goes with its holder; the lock
 * file is named after the control socket. flock locks of two open() calls
 * conflict within one process too, so no second process is needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "mt6d/daemon/instance.h"

static void test_lock_path(void **state)
{
	char p[64];

	(void)state;
	assert_int_equal(instance_lock_path("/run/mt6d/server.sock", p, sizeof(p)), 0);
	assert_string_equal(p, "/run/mt6d/server.lock");
	assert_int_equal(instance_lock_path("/tmp/ctl", p, sizeof(p)), 0);
	assert_string_equal(p, "/tmp/ctl.lock");
	assert_int_equal(instance_lock_path("/x.sock", p, 7), -ENAMETOOLONG);
	assert_int_equal(instance_lock_path("/x.sock", p, 8), 0);
}

static void test_second_holder_refused(void **state)
{
	char dir[] = "/tmp/mt6d-test-instance.XXXXXX", path[128];
	struct instance_lock a = { .fd = -1 }, b = { .fd = -1 };
	pid_t holder = -1;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.lock", dir);
	assert_int_equal(instance_lock(path, &a, &holder), 0);
	assert_int_equal(holder, 0);
	assert_int_equal(instance_lock(path, &b, &holder), -EWOULDBLOCK);
	assert_int_equal(holder, getpid());
	assert_int_equal(b.fd, -1);
	/* Released and removed: the next one gets it. */
	instance_unlock(&a);
	assert_int_equal(a.fd, -1);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(instance_lock(path, &b, &holder), 0);
	instance_unlock(&b);
	instance_unlock(&b); /* twice is fine */
	assert_int_equal(rmdir(dir), 0);
}

static void test_stale_file_is_taken(void **state)
{
	char dir[] = "/tmp/mt6d-test-instance.XXXXXX", path[128];
	struct instance_lock a = { .fd = -1 };
	pid_t holder = -1;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.lock", dir);
	/* Left by a daemon killed with SIGKILL: a pid, but no lock. */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "999999\n");
	fclose(f);
	assert_int_equal(instance_lock(path, &a, &holder), 0);
	instance_unlock(&a);
	assert_int_equal(rmdir(dir), 0);
}

static void test_symlink_refused(void **state)
{
	char dir[] = "/tmp/mt6d-test-instance.XXXXXX", path[128], target[128];
	struct instance_lock a = { .fd = -1 };
	pid_t holder = -1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.lock", dir);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(instance_lock(path, &a, &holder), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_path),
		cmocka_unit_test(test_second_holder_refused),
		cmocka_unit_test(test_stale_file_is_taken),
		cmocka_unit_test(test_symlink_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
