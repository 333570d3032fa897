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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <grp.h>
#include <cap-ng.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <cmocka.h>

#include "mt6d/daemon/daemon.h"

#define CAP_BIT(c) (1ull << (c))

/* Runs in the child, fd a root-owned file (the parent removes it); returns
 * the failed step's number, 0 if all held. */
static int drop_and_check(const char *user, bool keep_raw, int fd)
{
	unsigned long long caps = 0, want;
	struct ifreq ifr;
	char msg[160];
	int s;

	/* As root: a private network namespace, so the capability test below
	 * touches nothing of the host. */
	if (unshare(CLONE_NEWNET) < 0)
		return 1;
	if (fd < 0)
		return 2;
	if (daemon_drop_privileges(user, keep_raw, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "drop: %s\n", msg);
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
	char path[] = "/tmp/mt6d-daemon-XXXXXX";
	int status = 0, fd;
	pid_t pid;

	assert_int_equal(geteuid(), 0); /* make check runs as root */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(drop_and_check(user, keep_raw, fd));
	close(fd);
	unlink(path);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* VmLck of /proc/self/status in kB, or -1. */
static __attribute__((unused)) long vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* In the child: issue 13's protections, before and after the drop to user. */
static int protect_and_check(const char *user)
{
	struct rlimit core;
	char msg[160] = "";
	int rc;

	if (unshare(CLONE_NEWNET) < 0)
		return 1;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		return 2; /* the test means nothing if it starts undumpable */
	getrlimit(RLIMIT_MEMLOCK, &core);
	rc = daemon_protect_memory(msg, sizeof(msg));
#if defined(__SANITIZE_ADDRESS__)
	if (rc != -EOPNOTSUPP)
		return 3;
#else
	/* Root without CAP_SYS_RESOURCE (this lab) cannot lift a finite
	 * RLIMIT_MEMLOCK: then nothing is locked here (the owners lock their
	 * key structures), and the call says so. */
	if (rc < 0 && !(rc == -ENOMEM && core.rlim_max != RLIM_INFINITY)) {
		fprintf(stderr, "protect: %s\n", msg);
		return 3;
	}
	if (rc == 0 && vmlck_kb() <= 0)
		return 4; /* nothing locked */
	if (rc < 0)
		fprintf(stderr, "(%s: the lock of every page is not tested here)\n", msg);
#endif
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 5;
	if (getrlimit(RLIMIT_CORE, &core) < 0 || core.rlim_cur != 0 || core.rlim_max != 0)
		return 6;
	/* A uid change resets the flag to fs.suid_dumpable: the drop says it again. */
	if (daemon_drop_privileges(user, false, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "drop: %s\n", msg);
		return 7;
	}
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 8;
#if !defined(__SANITIZE_ADDRESS__)
	/* Pages touched after the drop are locked too (MCL_FUTURE). */
	if (rc == 0) {
		long before = vmlck_kb();
		size_t len = 8 << 20;
		char *p = malloc(len);

		if (!p)
			return 9; /* allocation refused under the lock */
		memset(p, 1, len);
		bool is_locked = vmlck_kb() >= before + 8 * 1024 - 64;
		free(p);
		if (!is_locked)
			return 10;
	}
#endif
	return 0;
}

/* RLIMIT_NOFILE: the soft limit up to what the sessions need, never down;
 * the hard limit only with CAP_SYS_RESOURCE. */
static void test_nofile_plan(void **state)
{
	uint64_t cur, max;

	(void)state;
	assert_int_equal(daemon_nofile_need(0, 4), DAEMON_NOFILE_MARGIN);
	assert_int_equal(daemon_nofile_need(15000, 4), 60000 + DAEMON_NOFILE_MARGIN);
	/* Enough already: nothing moves. */
	daemon_nofile_plan(1000, 4096, 4096, false, &cur, &max);
	assert_int_equal(cur, 4096);
	assert_int_equal(max, 4096);
	/* The soft limit rises up to the hard one. */
	daemon_nofile_plan(20000, 1024, 524288, false, &cur, &max);
	assert_int_equal(cur, 20000);
	assert_int_equal(max, 524288);
	/* Short of the hard limit, without the capability: as far as it goes. */
	daemon_nofile_plan(60256, 256, 4096, false, &cur, &max);
	assert_int_equal(cur, 4096);
	assert_int_equal(max, 4096);
	/* With it, both. */
	daemon_nofile_plan(60256, 256, 4096, true, &cur, &max);
	assert_int_equal(cur, 60256);
	assert_int_equal(max, 60256);
	/* An unlimited hard limit stays. */
	daemon_nofile_plan(60256, 256, RLIM_INFINITY, true, &cur, &max);
	assert_int_equal(cur, 60256);
	assert_true(max == RLIM_INFINITY);
}

/* In a child (a lowered hard limit cannot be raised again without
 * CAP_SYS_RESOURCE, which containers often lack): a limit high enough is
 * kept; a higher one is reached up to the hard limit, beyond it only with
 * the capability, else -EMFILE with the limit reached. */
static int raise_nofile_child(void)
{
	struct rlimit lim = { 300, 300 };
	uint64_t limit = 0;
	bool has_cap;
	int rc;

	if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
		return 10;
	has_cap = capng_get_caps_process() == 0 &&
		  capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_RESOURCE);
	if (daemon_raise_nofile(200, &limit) != 0 || limit != 300)
		return 11;
	lim.rlim_cur = 100;
	if (setrlimit(RLIMIT_NOFILE, &lim) < 0 || daemon_raise_nofile(280, &limit) != 0 ||
	    limit != 280)
		return 12;
	rc = daemon_raise_nofile(5000, &limit);
	if (has_cap)
		return rc == 0 && limit == 5000 ? 0 : 13;
	return rc == -EMFILE && limit == 300 ? 0 : 14;
}

static void test_raise_nofile(void **state)
{
	int status = -1;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(raise_nofile_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_protect_memory(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(geteuid(), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(protect_and_check("nobody"));
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

/* The user picked for the switch, from what this machine has. */
static void test_select_user(void **state)
{
	struct passwd *nobody = getpwnam("nobody");
	const char *user = "unset";
	char msg[256];
	struct stat st;
	bool tun_ok;

	(void)state;
	assert_int_equal(daemon_select_user("root", &user, msg, sizeof(msg)), 0);
	assert_null(user);
	assert_int_equal(daemon_select_user("no-such-user-mt6d", &user, msg, sizeof(msg)), -ENOENT);
	assert_null(user);
	assert_non_null(strstr(msg, "no such user 'no-such-user-mt6d'"));
	if (!getpwnam(DAEMON_DEFAULT_USER)) {
		/* The default missing: a warning, and no switch. */
		assert_int_equal(daemon_select_user(NULL, &user, msg, sizeof(msg)), 0);
		assert_null(user);
		assert_non_null(strstr(msg, "does not exist: staying uid 0"));
	}
	/* nobody: switched to, unless it could not open /dev/net/tun. */
	assert_non_null(nobody);
	assert_int_equal(stat(DAEMON_TUN_PATH, &st), 0);
	tun_ok = (st.st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH) ||
		 (st.st_gid == nobody->pw_gid && (st.st_mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP));
	if (tun_ok) {
		assert_int_equal(daemon_select_user("nobody", &user, msg, sizeof(msg)), 0);
		assert_string_equal(user, "nobody");
	} else {
		assert_int_equal(daemon_select_user("nobody", &user, msg, sizeof(msg)), -EACCES);
		assert_null(user);
		assert_non_null(strstr(msg, "cannot open " DAEMON_TUN_PATH));
	}
}

/* Not root and without CAP_NET_ADMIN: refused with the reason; no other
 * user can be asked for. In a child that becomes nobody. */
static int select_as_nobody(void)
{
	const char *user = "unset";
	char msg[256];

	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
		return 1;
	if (daemon_select_user(NULL, &user, msg, sizeof(msg)) != -EPERM || user ||
	    !strstr(msg, "without CAP_NET_ADMIN"))
		return 2;
	if (daemon_select_user("root", &user, msg, sizeof(msg)) != -EPERM ||
	    !strstr(msg, "not root: cannot switch to user 'root'"))
		return 3;
	return 0;
}

static void test_select_user_unprivileged(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(select_as_nobody());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static uid_t owner_of(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s%s", dir, name[0] ? "/" : "", name);
	assert_int_equal(lstat(path, &st), 0);
	return st.st_uid;
}

/* The state directory and root's regular files in it go to the user; links,
 * subdirectories, shared (world-writable) directories and other users'
 * directories do not. */
static void test_give_path(void **state)
{
	char dir[] = "/tmp/mt6d-give-XXXXXX", shared[] = "/tmp/mt6d-shared-XXXXXX", path[300];
	struct passwd *nobody = getpwnam("nobody");
	int fd;

	(void)state;
	assert_non_null(nobody);
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(shared));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(shared, 01777), 0);

	assert_int_equal(daemon_give_path(NULL, dir), 0);
	assert_int_equal(owner_of(dir, ""), 0);
	assert_int_equal(daemon_give_path("nobody", dir), 0);
	assert_int_equal(owner_of(dir, ""), nobody->pw_uid);
	assert_int_equal(owner_of(dir, "audit.log"), nobody->pw_uid);
	assert_int_equal(owner_of(dir, "link"), 0);
	assert_int_equal(owner_of("/etc/hostname", ""), 0);
	assert_int_equal(owner_of(dir, "sub"), 0);
	assert_int_equal(daemon_give_path("nobody", shared), 0);
	assert_int_equal(owner_of(shared, ""), 0);
	/* Someone else's directory stays theirs. */
	assert_int_equal(chown(dir, 1, 1), 0);
	assert_int_equal(daemon_give_path("nobody", dir), 0);
	assert_int_equal(owner_of(dir, ""), 1);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(daemon_give_path("nobody", path), -ENOENT);
	assert_int_equal(daemon_give_path("no-such-user-mt6d", dir), -ENOENT);

	snprintf(path, sizeof(path), "rm -rf '%s' '%s'", dir, shared);
	assert_int_equal(system(path), 0);
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
		cmocka_unit_test(test_nofile_plan),
		cmocka_unit_test(test_raise_nofile),
		cmocka_unit_test(test_protect_memory),
		cmocka_unit_test(test_drop_to_nobody),
		cmocka_unit_test(test_drop_keep_raw_stay_root),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_select_user),
		cmocka_unit_test(test_select_user_unprivileged),
		cmocka_unit_test(test_give_path),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
