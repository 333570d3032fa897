/* mt6d/daemon: privileges really dropped (in a child, as root, in its own
 * network namespace), and signals delivered through the loop. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <cmocka.h>

#include "mt6d/daemon.h"

#define CAP_BIT(c) (1ull << (c))

/* Runs in the child; returns the failed step's number, 0 if all held. */
static int drop_and_check(const char *user, bool keep_raw)
{
	unsigned long long caps = 0, want;
	struct ifreq ifr;
	char msg[160], path[] = "/tmp/mt6d-daemon-XXXXXX";
	int fd, s;

	/* As root: a private network namespace, so the capability test below
	 * touches nothing of the host; and a root-owned file. */
	if (unshare(CLONE_NEWNET) < 0)
		return 1;
	fd = mkstemp(path);
	if (fd < 0)
		return 2;
	if (daemon_drop_privileges(user, keep_raw, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "drop: %s\n", msg);
		unlink(path);
		return 3;
	}
	if (daemon_effective_caps(&caps) < 0)
		return 4;
	want = CAP_BIT(CAP_NET_ADMIN) | (keep_raw ? CAP_BIT(CAP_NET_RAW) : 0);
	if (caps != want) {
		fprintf(stderr, "CapEff %llx, want %llx\n", caps, want);
		return 5;
	}
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
		return 6; /* bounding set not cleared */
	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw || getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid)
			return 7;
		if (getgroups(0, NULL) != 0)
			return 8;
	}
	/* CAP_NET_ADMIN still works: bring lo up in our namespace. */
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return 9;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return 10;
	close(s);
	/* Everything else is gone: no CAP_CHOWN, no CAP_DAC_OVERRIDE. */
	if (fchown(fd, 1, 1) == 0 || errno != EPERM)
		return 11;
	if (user && open("/etc/shadow", O_RDONLY) >= 0)
		return 12;
	close(fd);
	return 0;
}

static void run_child(const char *user, bool keep_raw)
{
	int status = 0;
	pid_t pid;

	assert_int_equal(geteuid(), 0); /* make check runs as root */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(drop_and_check(user, keep_raw));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_drop_to_nobody(void **state)
{
	(void)state;
	run_child("nobody", false);
}

static void test_drop_keep_raw_stay_root(void **state)
{
	(void)state;
	run_child(NULL, true);
}

static void test_unknown_user(void **state)
{
	char msg[160];

	(void)state;
	/* Fails before changing anything, so it is safe in this process. */
	assert_int_equal(daemon_drop_privileges("no-such-user-mt6d", false, msg, sizeof(msg)),
			 -ENOENT);
	assert_non_null(strstr(msg, "no-such-user-mt6d"));
}

static int stops, reloads;

static void on_stop(struct ev_loop *loop, void *ctx)
{
	(void)ctx;
	stops++;
	ev_break(loop, EVBREAK_ALL);
}

static void on_reload(struct ev_loop *loop, void *ctx)
{
	(void)loop;
	(void)ctx;
	reloads++;
	raise(SIGTERM);
}

static void test_signals(void **state)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct daemon_signals sig = { .on_stop = on_stop, .on_reload = on_reload };

	(void)state;
	daemon_signals_start(loop, &sig);
	raise(SIGHUP);
	ev_run(loop, 0);
	daemon_signals_stop(loop, &sig);
	assert_int_equal(reloads, 1);
	assert_int_equal(stops, 1);
	assert_int_equal(signal(SIGPIPE, SIG_IGN), SIG_IGN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_to_nobody),
		cmocka_unit_test(test_drop_keep_raw_stay_root),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
