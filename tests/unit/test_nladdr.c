/* The address-rotation engine against the real kernel, inside a private
 * network namespace (unshare(CLONE_NEWNET)) holding one veth pair, so
 * nothing leaks to the machine and everything vanishes with the process.
 * Needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_addr.h>

#include "netlink/nladdr.h"

static unsigned ifx; /* veth mt6dv0, up */

static int setup_netns(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_nladdr needs root (CAP_NET_ADMIN)\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (system("ip link add mt6dv0 type veth peer name mt6dv1 && "
		   "ip link set mt6dv0 up && ip link set mt6dv1 up") != 0)
		return -1;
	ifx = if_nametoindex("mt6dv0");
	return ifx ? 0 : -1;
}

/* 2001:db8:5::<hi>:<lo> with a scrambled IID, as MT6D makes them. */
static struct in6_addr addr_n(unsigned n)
{
	struct in6_addr a;
	uint64_t iid = 0x9e3779b97f4a7c15ULL * (n + 1);

	inet_pton(AF_INET6, "2001:db8:5::", &a);
	for (int i = 0; i < 8; i++)
		a.s6_addr[8 + i] = (uint8_t)(iid >> (56 - 8 * i));
	return a;
}

struct seen {
	unsigned ours, others;
	struct nladdr_info last_ours;
	const struct in6_addr *want;   /* when set, count matches of want[0..nwant) */
	size_t nwant;
	unsigned matched;
};

static void count_cb(const struct nladdr_info *info, void *arg)
{
	struct seen *s = arg;

	if (info->proto == NLADDR_PROTO_MT6D) {
		s->ours++;
		s->last_ours = *info;
	} else {
		s->others++;
	}
	for (size_t i = 0; i < s->nwant; i++)
		if (memcmp(&s->want[i], &info->addr, 16) == 0 && info->proto == NLADDR_PROTO_MT6D)
			s->matched++;
}

static struct seen dump_dev(struct nladdr *nl, const struct in6_addr *want, size_t nwant)
{
	struct seen s = { .want = want, .nwant = nwant };

	assert_true(nladdr_dump(nl, ifx, count_cb, &s) >= 0);
	return s;
}

struct results {
	unsigned ok, failed, adds, dels;
	int last_err;
	void *last_cookie;
};

static void done_cb(const struct nladdr_result *res, void *arg)
{
	struct results *r = arg;

	if (res->err == 0)
		r->ok++;
	else
		r->failed++;
	r->last_err = res->err;
	r->last_cookie = res->cookie;
	if (res->op == NLADDR_ADD)
		r->adds++;
	else
		r->dels++;
}

static void test_batch_add_sets_tag_flags_and_lifetimes(void **state)
{
	(void)state;
	struct results r = { 0 };
	struct nladdr *nl = NULL;
	struct in6_addr a[40];
	struct seen s;
	int cookie;

	assert_int_equal(nladdr_new(done_cb, &r, &nl), 0);
	for (unsigned i = 0; i < 40; i++) {
		a[i] = addr_n(i);
		assert_int_equal(nladdr_batch_add(nl, ifx, &a[i], 30, &cookie), 0);
	}
	assert_int_equal(nladdr_pending(nl), 40);
	assert_int_equal(nladdr_batch_send(nl), 40);
	assert_int_equal(nladdr_sync(nl, 5000), 0);
	assert_int_equal(r.ok, 40);
	assert_int_equal(r.failed, 0);
	assert_ptr_equal(r.last_cookie, &cookie);
	assert_int_equal(nladdr_registry_count(nl), 40);
	assert_true(nladdr_is_bound(nl, ifx, &a[17]));

	s = dump_dev(nl, a, 40);
	assert_int_equal(s.ours, 40);
	assert_int_equal(s.matched, 40);
	assert_int_equal(s.last_ours.prefix_len, 128);
	assert_true(s.last_ours.flags & IFA_F_NODAD);
	assert_true(s.last_ours.flags & IFA_F_NOPREFIXROUTE);
	assert_true(s.last_ours.flags & IFA_F_DEPRECATED);
	assert_int_equal(s.last_ours.preferred_s, 0);
	assert_true(s.last_ours.valid_s <= 30 && s.last_ours.valid_s >= 28);

	assert_int_equal(nladdr_remove_all(nl, 5000, NULL, 0), 40);
	assert_int_equal(nladdr_registry_count(nl), 0);
	assert_int_equal(dump_dev(nl, NULL, 0).ours, 0);
	nladdr_free(nl);
}

/* One tick of rotation: bind the next slot's address, drop the expired one;
 * exactly that changes and nothing else. */
static void test_rotation_step_changes_exactly_intended(void **state)
{
	(void)state;
	struct results r = { 0 };
	struct nladdr *nl = NULL;
	struct in6_addr a[4] = { addr_n(100), addr_n(101), addr_n(102), addr_n(103) };
	struct seen s;

	assert_int_equal(system("ip -6 addr add 2001:db8:5::abcd/64 dev mt6dv0 nodad"), 0);
	assert_int_equal(nladdr_new(done_cb, &r, &nl), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nladdr_batch_add(nl, ifx, &a[i], 9, NULL), 0);
	assert_int_equal(nladdr_sync(nl, 5000), 0);
	s = dump_dev(nl, a, 4);
	assert_int_equal(s.ours, 3);
	assert_int_equal(s.matched, 3);

	/* The tick: one add, one delete, one batch, one sendmsg. */
	assert_int_equal(nladdr_batch_add(nl, ifx, &a[3], 9, NULL), 0);
	assert_int_equal(nladdr_batch_del(nl, ifx, &a[0], NULL), 0);
	assert_int_equal(nladdr_batch_send(nl), 2);
	assert_int_equal(nladdr_sync(nl, 5000), 0);
	assert_int_equal(r.ok, 5);
	assert_int_equal(r.dels, 1);
	s = dump_dev(nl, &a[1], 3);
	assert_int_equal(s.ours, 3);
	assert_int_equal(s.matched, 3);
	assert_false(nladdr_is_bound(nl, ifx, &a[0]));
	assert_true(nladdr_is_bound(nl, ifx, &a[3]));
	/* The operator's address is untouched (plus its link-local). */
	assert_true(s.others >= 1);

	assert_int_equal(nladdr_remove_all(nl, 5000, NULL, 0), 3);
	assert_int_equal(system("ip -6 addr del 2001:db8:5::abcd/64 dev mt6dv0"), 0);
	nladdr_free(nl);
}

static void test_errors_are_clear(void **state)
{
	(void)state;
	struct nladdr *nl = NULL;
	struct in6_addr a = addr_n(200);
	char msg[NLADDR_MSG_LEN];
	int rc;

	assert_int_equal(nladdr_new(NULL, NULL, &nl), 0);
	/* No such interface: the kernel says why in its extended ack. */
	rc = nladdr_add_sync(nl, 99999, &a, 10, msg, sizeof(msg));
	assert_int_equal(rc, -ENODEV);
	assert_true(strlen(msg) > 0);
	/* Address exists. */
	assert_int_equal(nladdr_add_sync(nl, ifx, &a, 10, msg, sizeof(msg)), 0);
	assert_int_equal(nladdr_add_sync(nl, ifx, &a, 10, msg, sizeof(msg)), -EEXIST);
	/* Delete twice: the second finds nothing. */
	assert_int_equal(nladdr_del_sync(nl, ifx, &a, msg, sizeof(msg)), 0);
	assert_int_equal(nladdr_del_sync(nl, ifx, &a, msg, sizeof(msg)), -EADDRNOTAVAIL);
	/* Bad arguments never reach the kernel. */
	assert_int_equal(nladdr_batch_add(nl, 0, &a, 10, NULL), -EINVAL);
	assert_int_equal(nladdr_batch_add(nl, ifx, &a, 0, NULL), -EINVAL);
	assert_int_equal(nladdr_batch_del(nl, ifx, NULL, NULL), -EINVAL);
	assert_int_equal(nladdr_pending(nl), 0);
	nladdr_free(nl);
	nladdr_free(NULL);
}

/* Without CAP_NET_ADMIN (uid nobody, in a child) the kernel refuses. */
static void test_not_permitted_is_eperm(void **state)
{
	(void)state;
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct nladdr *nl = NULL;
		struct in6_addr a = addr_n(300);
		char msg[NLADDR_MSG_LEN];

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (nladdr_new(NULL, NULL, &nl) < 0)
			_exit(11);
		_exit(nladdr_add_sync(nl, ifx, &a, 10, msg, sizeof(msg)) == -EPERM ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A previous run (another nladdr, freed without removing its addresses)
 * left addresses tagged as ours; the purge removes them and leaves the
 * operator's address, including one in the same /64, alone. */
static void test_purge_removes_ours_only(void **state)
{
	(void)state;
	struct nladdr *old = NULL, *nl = NULL;
	struct seen s;

	assert_int_equal(nladdr_new(NULL, NULL, &old), 0);
	for (unsigned i = 0; i < 25; i++) {
		struct in6_addr a = addr_n(400 + i);
		assert_int_equal(nladdr_batch_add(old, ifx, &a, 60, NULL), 0);
	}
	assert_int_equal(nladdr_sync(old, 5000), 0);
	nladdr_free(old);
	assert_int_equal(system("ip -6 addr add 2001:db8:5::1234/128 dev mt6dv0 nodad"), 0);

	assert_int_equal(nladdr_new(NULL, NULL, &nl), 0);
	s = dump_dev(nl, NULL, 0);
	assert_int_equal(s.ours, 25);
	unsigned others = s.others;
	assert_int_equal(nladdr_purge(nl, 0, 5000, NULL, 0), 25);
	s = dump_dev(nl, NULL, 0);
	assert_int_equal(s.ours, 0);
	assert_int_equal(s.others, others);
	/* Nothing left: purging again is a no-op. */
	assert_int_equal(nladdr_purge(nl, ifx, 5000, NULL, 0), 0);
	assert_int_equal(system("ip -6 addr del 2001:db8:5::1234/128 dev mt6dv0"), 0);
	nladdr_free(nl);
}

/* Thousands in one go: several sendmsg chunks, registry growth. */
static void test_large_batch(void **state)
{
	(void)state;
	enum { N = 3000 };
	struct results r = { 0 };
	struct nladdr *nl = NULL;

	assert_int_equal(nladdr_new(done_cb, &r, &nl), 0);
	for (unsigned i = 0; i < N; i++) {
		struct in6_addr a = addr_n(10000 + i);
		assert_int_equal(nladdr_batch_add(nl, ifx, &a, 60, NULL), 0);
	}
	assert_int_equal(nladdr_sync(nl, 60000), 0);
	assert_int_equal(r.ok, N);
	assert_int_equal(nladdr_registry_count(nl), N);
	assert_int_equal(dump_dev(nl, NULL, 0).ours, N);
	for (unsigned i = 0; i < N; i += 2) {
		struct in6_addr a = addr_n(10000 + i);
		assert_int_equal(nladdr_batch_del(nl, ifx, &a, NULL), 0);
	}
	assert_int_equal(nladdr_sync(nl, 60000), 0);
	assert_int_equal(nladdr_registry_count(nl), N / 2);
	for (unsigned i = 0; i < N; i++) {
		struct in6_addr a = addr_n(10000 + i);
		assert_int_equal(nladdr_is_bound(nl, ifx, &a), i % 2 == 1);
	}
	assert_int_equal(nladdr_remove_all(nl, 60000, NULL, 0), N / 2);
	assert_int_equal(dump_dev(nl, NULL, 0).ours, 0);
	nladdr_free(nl);
}

/* Another process changes the list while we dump it. The kernel flags a
 * dump interrupted (NLM_F_DUMP_INTR) when the list changed between two of
 * its parts, which libmnl reports as EINTR; nladdr_dump failed on it once in
 * CI, when DAD finished in the test's namespace mid-dump.
 *
 * The churner works as a rotation does: a burst of changes, then quiet. Every
 * dump must still list all N (dumping again in the quiet). Then it churns
 * without pause while we purge: the purge must still remove all N (it dumps
 * again until none of ours is left).
 *
 * On a NOARP veth of its own, whose addresses join no solicited-node group.
 * On the shared veth, every add walks all the device's multicast groups and,
 * for each, the MLD records of groups just left (ipv6_mc_up from
 * addrconf_add_dev): after test_large_batch's adds and deletes, these 2,000
 * adds took 50-70 s and their 60 s lifetimes ran out. */
static void churn(unsigned dev, int burst, long quiet_us)
{
	struct nladdr *nl = NULL;
	struct in6_addr a = addr_n(30000);

	if (nladdr_new(NULL, NULL, &nl) < 0)
		_exit(1);
	for (int i = 0; i < 100000; i++) { /* until killed; bounded anyway */
		if (i % 2 == 0)
			(void)nladdr_batch_add(nl, dev, &a, 60, NULL);
		else
			(void)nladdr_batch_del(nl, dev, &a, NULL);
		(void)nladdr_sync(nl, 1000);
		if (quiet_us && i % burst == burst - 1) {
			struct timespec ts = { 0, quiet_us * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	_exit(0);
}

static pid_t start_churn(unsigned dev, int burst, long quiet_us)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		churn(dev, burst, quiet_us);
	/* Let it start changing the list before we look. */
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	return pid;
}

static void test_dump_survives_churn(void **state)
{
	(void)state;
	enum { N = 2000, DUMPS = 20 };
	static struct in6_addr want[N];
	struct nladdr *nl = NULL;
	unsigned dev;
	pid_t pid;

	assert_int_equal(system("ip link add mt6dchurn type veth peer name mt6dchurnp && "
				"ip link set mt6dchurn arp off up && ip link set mt6dchurnp up"), 0);
	dev = if_nametoindex("mt6dchurn");
	assert_true(dev != 0);
	assert_int_equal(nladdr_new(NULL, NULL, &nl), 0);
	for (unsigned i = 0; i < N; i++) {
		want[i] = addr_n(20000 + i);
		assert_int_equal(nladdr_batch_add(nl, dev, &want[i], 60, NULL), 0);
	}
	assert_int_equal(nladdr_sync(nl, 60000), 0);

	pid = start_churn(dev, 20, 20000);
	for (int i = 0; i < DUMPS; i++) {
		struct seen s = { .want = want, .nwant = N };
		int rc = nladdr_dump(nl, dev, count_cb, &s);

		if (rc < 0 || s.matched != N)
			kill(pid, SIGKILL);
		assert_true(rc >= 0);
		assert_int_equal(s.matched, N);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	pid = start_churn(dev, 1, 0);
	{
		int rc = nladdr_purge(nl, dev, 60000, NULL, 0);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		assert_true(rc >= N);
	}
	{
		struct seen left = { .want = want, .nwant = N };
		assert_true(nladdr_dump(nl, dev, count_cb, &left) >= 0);
		assert_int_equal(left.matched, 0);
	}
	nladdr_free(nl);
	assert_int_equal(system("ip link del mt6dchurn"), 0);
}

/* A process that bound addresses with a 3 s valid lifetime dies by SIGKILL:
 * the kernel removes them once the lifetime has passed. */
static void test_addresses_expire_after_sigkill(void **state)
{
	(void)state;
	int pipefd[2];
	pid_t pid;
	char c;
	struct nladdr *nl = NULL;
	struct seen s;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct nladdr *child = NULL;
		int ok = nladdr_new(NULL, NULL, &child) == 0;
		for (unsigned i = 0; ok && i < 5; i++) {
			struct in6_addr a = addr_n(500 + i);
			ok = nladdr_batch_add(child, ifx, &a, 3, NULL) == 0;
		}
		ok = ok && nladdr_sync(child, 5000) == 0 && nladdr_registry_count(child) == 5;
		if (write(pipefd[1], ok ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	assert_int_equal(c, 'y');
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	assert_int_equal(nladdr_new(NULL, NULL, &nl), 0);
	s = dump_dev(nl, NULL, 0);
	assert_int_equal(s.ours, 5);
	/* Lifetimes are checked by the kernel's addrconf worker: allow slack. */
	for (int i = 0; i < 40 && s.ours > 0; i++) {
		struct timespec ts = { 0, 250 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		s = dump_dev(nl, NULL, 0);
	}
	assert_int_equal(s.ours, 0);
	nladdr_free(nl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_add_sets_tag_flags_and_lifetimes),
		cmocka_unit_test(test_rotation_step_changes_exactly_intended),
		cmocka_unit_test(test_errors_are_clear),
		cmocka_unit_test(test_not_permitted_is_eperm),
		cmocka_unit_test(test_purge_removes_ours_only),
		cmocka_unit_test(test_large_batch),
		cmocka_unit_test(test_dump_survives_churn),
		cmocka_unit_test(test_addresses_expire_after_sigkill),
	};
	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
