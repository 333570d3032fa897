/* bench_addr_bind: the address-rotation engine (netlink/nladdr) measured and
 * driven from the command line. bench/addr_bind.sh runs it in a private
 * namespace against `ip -6 -batch`; tests/netns/t_nladdr.sh uses its small
 * subcommands to bind, rotate, show and purge addresses.
 *
 *   gen N                              N random addresses in 2001:db8:b::/64
 *   hold IF VALID_S ADDR...            bind, print "bound N", wait; SIGTERM or
 *                                      SIGINT removes them, SIGKILL leaves them
 *   step IF VALID_S (+ADDR|-ADDR)...   one batch of adds and deletes, results
 *   show IF|all                        our addresses with tag, flags, lifetimes
 *   purge IF|all [routes]              remove every address tagged as ours
 *                                      (and every route, with "routes")
 *   bind-remove IF FILE [K]            time binding then removing FILE's
 *                                      addresses, spread over K macvlan
 *                                      children of IF (K = 0: on IF itself)
 *   rotate IF S SECONDS ROT_S [K]      S sessions, each replacing one of its 3
 *                                      live addresses every ROT_S, for SECONDS
 *   scale-hold IF PREFIX/LEN [GW]      scale mode: claim the prefix (GW kept
 *                                      reachable), answer neighbour
 *                                      solicitations for the addresses that
 *                                      stdin lines "+ADDR" / "-ADDR" add and
 *                                      remove; EOF or SIGTERM ends it
 *   scale-rotate IF PREFIX/LEN S SECONDS ROT_S
 *                                      scale mode rotation: per session and
 *                                      tick, one responder entry and one
 *                                      IPV6_FREEBIND UDP socket replaced
 *                                      (PREFIX/LEN with LEN <= 64)
 *
 * IF is an interface name. Output lines are "key=value" for the driver. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_addr.h>

#include "netlink/ndresp.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"

#define MAX_CHILDREN 256

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static unsigned ifindex_of(const char *name)
{
	unsigned i = if_nametoindex(name);

	if (!i) {
		fprintf(stderr, "bench_addr_bind: no interface '%s'\n", name);
		exit(2);
	}
	return i;
}

static struct in6_addr random_addr(void)
{
	struct in6_addr a;

	inet_pton(AF_INET6, "2001:db8:b::", &a);
	if (getrandom(&a.s6_addr[8], 8, 0) != 8)
		exit(3);
	return a;
}

static const char *fmt(const struct in6_addr *a, char buf[INET6_ADDRSTRLEN])
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

static int parse_addr(const char *s, struct in6_addr *a)
{
	if (inet_pton(AF_INET6, s, a) != 1) {
		fprintf(stderr, "bench_addr_bind: bad address '%s'\n", s);
		return -1;
	}
	return 0;
}

/* ---- results ----------------------------------------------------------- */

struct tally {
	unsigned ok, failed;
	bool is_verbose;
};

static void tally_cb(const struct nladdr_result *res, void *arg)
{
	struct tally *t = arg;
	char b[INET6_ADDRSTRLEN];

	if (res->err == 0)
		t->ok++;
	else
		t->failed++;
	if (t->is_verbose || (res->err && t->failed <= 5))
		printf("%s %c%s%s%s%s%s%s\n", res->err ? "err" : "ok",
		       res->op == NLADDR_ADD ? '+' : '-', fmt(&res->addr, b),
		       res->err ? ": " : "", res->err ? strerror(-res->err) : "",
		       res->msg[0] ? " (kernel: " : "", res->msg, res->msg[0] ? ")" : "");
}

static struct nladdr *open_engine(struct tally *t)
{
	struct nladdr *nl = NULL;
	int rc = nladdr_new(tally_cb, t, &nl);

	if (rc < 0) {
		fprintf(stderr, "bench_addr_bind: netlink socket: %s\n", strerror(-rc));
		exit(2);
	}
	return nl;
}

/* ---- small subcommands ------------------------------------------------- */

static int cmd_gen(int argc, char **argv)
{
	char b[INET6_ADDRSTRLEN];
	long n;

	if (argc < 1)
		return 2;
	n = strtol(argv[0], NULL, 10);
	for (long i = 0; i < n; i++) {
		struct in6_addr a = random_addr();
		puts(fmt(&a, b));
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int cmd_hold(int argc, char **argv)
{
	struct tally t = { 0 };
	struct nladdr *nl;
	unsigned ifx;
	uint32_t valid;
	char msg[NLADDR_MSG_LEN];
	int rc;

	if (argc < 3)
		return 2;
	ifx = ifindex_of(argv[0]);
	valid = (uint32_t)strtoul(argv[1], NULL, 10);
	nl = open_engine(&t);
	for (int i = 2; i < argc; i++) {
		struct in6_addr a;
		if (parse_addr(argv[i], &a) < 0 || nladdr_batch_add(nl, ifx, &a, valid, NULL) < 0)
			return 1;
	}
	rc = nladdr_sync(nl, 60000);
	printf("bound=%zu failed=%u\n", nladdr_registry_count(nl), t.failed);
	fflush(stdout);
	if (rc < 0 || t.failed)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	while (!stop_requested)
		pause();
	rc = nladdr_remove_all(nl, 60000, msg, sizeof(msg));
	printf("removed=%d\n", rc);
	nladdr_free(nl);
	return rc < 0;
}

static int cmd_step(int argc, char **argv)
{
	struct tally t = { .is_verbose = true };
	struct nladdr *nl;
	unsigned ifx;
	uint32_t valid;
	int rc;

	if (argc < 3)
		return 2;
	ifx = ifindex_of(argv[0]);
	valid = (uint32_t)strtoul(argv[1], NULL, 10);
	nl = open_engine(&t);
	for (int i = 2; i < argc; i++) {
		struct in6_addr a;
		if ((argv[i][0] != '+' && argv[i][0] != '-') || parse_addr(argv[i] + 1, &a) < 0)
			return 2;
		rc = argv[i][0] == '+' ? nladdr_batch_add(nl, ifx, &a, valid, NULL)
				       : nladdr_batch_del(nl, ifx, &a, NULL);
		if (rc < 0)
			return 1;
	}
	/* Everything in one batch: the sendmsg count shows it. */
	rc = nladdr_batch_send(nl);
	printf("sent=%d\n", rc);
	rc = nladdr_sync(nl, 60000);
	nladdr_free(nl);
	return (rc < 0 || t.failed) ? 1 : 0;
}

static void show_cb(const struct nladdr_info *i, void *arg)
{
	char b[INET6_ADDRSTRLEN], name[IF_NAMESIZE] = "?";
	(void)arg;

	if (i->proto != NLADDR_PROTO_MT6D)
		return;
	if_indextoname(i->ifindex, name);
	printf("%s/%u dev %s proto 0x%02x%s%s%s valid_lft %u preferred_lft %u\n",
	       fmt(&i->addr, b), i->prefix_len, name, i->proto,
	       i->flags & IFA_F_NODAD ? " nodad" : "",
	       i->flags & IFA_F_NOPREFIXROUTE ? " noprefixroute" : "",
	       i->flags & IFA_F_DEPRECATED ? " deprecated" : "", i->valid_s, i->preferred_s);
}

static int cmd_show(int argc, char **argv)
{
	struct tally t = { 0 };
	struct nladdr *nl;
	int rc;

	if (argc < 1)
		return 2;
	nl = open_engine(&t);
	rc = nladdr_dump(nl, strcmp(argv[0], "all") ? ifindex_of(argv[0]) : 0, show_cb, NULL);
	nladdr_free(nl);
	return rc < 0;
}

static int cmd_purge(int argc, char **argv)
{
	struct tally t = { 0 };
	struct nladdr *nl;
	char msg[NLADDR_MSG_LEN];
	int rc;

	if (argc < 1)
		return 2;
	nl = open_engine(&t);
	rc = nladdr_purge(nl, strcmp(argv[0], "all") ? ifindex_of(argv[0]) : 0, 60000, msg, sizeof(msg));
	if (rc < 0)
		printf("purge failed: %s (kernel: %s)\n", strerror(-rc), msg);
	else
		printf("purged=%d\n", rc);
	nladdr_free(nl);
	if (rc >= 0 && argc > 1 && !strcmp(argv[1], "routes")) {
		struct nllink *link = NULL;

		rc = nllink_new(&link);
		if (rc == 0)
			rc = nllink_purge_routes(link, msg, sizeof(msg));
		if (rc < 0)
			printf("route purge failed: %s (kernel: %s)\n", strerror(-rc), msg);
		else
			printf("purged_routes=%d\n", rc);
		nllink_free(link);
	}
	return rc < 0;
}

/* ---- measurements -------------------------------------------------------- */

/* The interfaces addresses go on: IF itself, or K macvlan children of it
 * (per-interface address and multicast lists stay K times shorter). */
struct layout {
	struct nllink *link;
	unsigned ifx[MAX_CHILDREN];
	unsigned n;
};

static void layout_init(struct layout *l, const char *ifname, unsigned k)
{
	unsigned parent = ifindex_of(ifname);
	char msg[128];

	memset(l, 0, sizeof(*l));
	if (k == 0) {
		l->ifx[0] = parent;
		l->n = 1;
		return;
	}
	if (k > MAX_CHILDREN || nllink_new(&l->link) < 0)
		exit(2);
	for (unsigned i = 0; i < k; i++) {
		char name[IF_NAMESIZE];
		int rc;

		snprintf(name, sizeof(name), "mv%u", i);
		rc = nllink_add_macvlan(l->link, parent, name, &l->ifx[i], msg, sizeof(msg));
		if (rc < 0) {
			fprintf(stderr, "bench_addr_bind: macvlan %s: %s (%s)\n", name, strerror(-rc), msg);
			exit(2);
		}
	}
	l->n = k;
}

static void layout_fini(struct layout *l)
{
	if (l->link) {
		nllink_cleanup(l->link, NULL, 0);
		nllink_free(l->link);
	}
}

static int cmd_bind_remove(int argc, char **argv)
{
	struct tally t = { 0 };
	struct layout lay;
	struct nladdr *nl;
	struct in6_addr *v = NULL;
	size_t n = 0, cap = 0;
	char line[128];
	double t0, t1, t2, c0, c1, c2;
	FILE *f;
	int rc;

	if (argc < 2)
		return 2;
	f = fopen(argv[1], "r");
	if (!f)
		return 2;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			void *grown = realloc(v, cap * sizeof(*v));
			if (!grown)
				return 3;
			v = grown;
		}
		if (parse_addr(line, &v[n]) < 0)
			return 2;
		n++;
	}
	fclose(f);
	layout_init(&lay, argv[0], argc > 2 ? (unsigned)atoi(argv[2]) : 0);
	nl = open_engine(&t);

	c0 = cpu_s();
	t0 = now_s();
	for (size_t i = 0; i < n; i++)
		nladdr_batch_add(nl, lay.ifx[i % lay.n], &v[i], 600, NULL);
	rc = nladdr_sync(nl, 3600 * 1000);
	t1 = now_s();
	c1 = cpu_s();
	if (rc < 0 || t.failed || nladdr_registry_count(nl) != n) {
		fprintf(stderr, "bench_addr_bind: bind failed (%u failures)\n", t.failed);
		return 1;
	}
	rc = nladdr_remove_all(nl, 3600 * 1000, NULL, 0);
	t2 = now_s();
	c2 = cpu_s();
	if (rc != (int)n) {
		fprintf(stderr, "bench_addr_bind: remove returned %d\n", rc);
		return 1;
	}
	printf("n=%zu children=%u bind_s=%.3f remove_s=%.3f bind_cpu_s=%.3f remove_cpu_s=%.3f\n",
	       n, argc > 2 ? (unsigned)atoi(argv[2]) : 0, t1 - t0, t2 - t1, c1 - c0, c2 - c1);
	nladdr_free(nl);
	layout_fini(&lay);
	free(v);
	return 0;
}

/* Sessions rotate together: slots are wall-clock aligned (docs/ARCHITECTURE.md), so
 * every session's tick falls on the same boundary, the worst case. */
static int cmd_rotate(int argc, char **argv)
{
	struct tally t = { 0 };
	struct layout lay;
	struct nladdr *nl;
	unsigned s, k, seconds, rot, ticks = 0;
	struct in6_addr (*live)[3];
	double start, c0, max_tick = 0, sum_tick = 0, c_setup0, setup_s;
	int rc;

	if (argc < 4)
		return 2;
	s = (unsigned)atoi(argv[1]);
	seconds = (unsigned)atoi(argv[2]);
	rot = (unsigned)atoi(argv[3]);
	k = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
	if (s == 0 || rot == 0)
		return 2;
	live = calloc(s, sizeof(*live));
	if (!live)
		return 3;
	layout_init(&lay, argv[0], k);
	nl = open_engine(&t);

	/* Initial state: previous, current and next slot bound per session. */
	c_setup0 = now_s();
	for (unsigned i = 0; i < s; i++)
		for (unsigned j = 0; j < 3; j++) {
			live[i][j] = random_addr();
			nladdr_batch_add(nl, lay.ifx[i % lay.n], &live[i][j], 4 * rot, NULL);
		}
	rc = nladdr_sync(nl, 3600 * 1000);
	setup_s = now_s() - c_setup0;
	if (rc < 0 || t.failed) {
		fprintf(stderr, "bench_addr_bind: initial bind failed\n");
		return 1;
	}

	c0 = cpu_s();
	start = now_s();
	for (double next = start; next < start + seconds; next += rot) {
		double t0, dt;

		while (now_s() < next) {
			double left = next - now_s();
			struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };
			nanosleep(&ts, NULL);
		}
		t0 = now_s();
		/* One tick: bind the next slot's address, drop the expired one. */
		for (unsigned i = 0; i < s; i++) {
			unsigned ifx = lay.ifx[i % lay.n];
			nladdr_batch_del(nl, ifx, &live[i][0], NULL);
			live[i][0] = live[i][1];
			live[i][1] = live[i][2];
			live[i][2] = random_addr();
			nladdr_batch_add(nl, ifx, &live[i][2], 4 * rot, NULL);
		}
		nladdr_batch_send(nl);
		/* What an event loop does: wait for the fd, process acks. */
		while (nladdr_pending(nl) > 0) {
			struct pollfd p = { .fd = nladdr_fd(nl), .events = POLLIN };
			if (poll(&p, 1, 1000) < 0 && errno != EINTR)
				return 1;
			if (nladdr_process_acks(nl) < 0)
				return 1;
		}
		dt = now_s() - t0;
		ticks++;
		sum_tick += dt;
		if (dt > max_tick)
			max_tick = dt;
		if (dt > rot) /* cannot keep up: stop, the verdict is clear */
			break;
	}
	/* CPU over the whole window, idle time between ticks included. */
	while (max_tick <= rot && now_s() < start + seconds) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	{
		double elapsed = now_s() - start, cpu = cpu_s() - c0;
		printf("sessions=%u children=%u live=%zu ticks=%u setup_s=%.2f mean_tick_s=%.4f "
		       "max_tick_s=%.4f cpu_s=%.3f elapsed_s=%.1f cpu_pct=%.1f failed=%u sustained=%s\n",
		       s, k, nladdr_registry_count(nl), ticks, setup_s, sum_tick / ticks, max_tick, cpu,
		       elapsed, 100.0 * cpu / elapsed, t.failed, max_tick <= rot ? "yes" : "no");
	}
	nladdr_remove_all(nl, 3600 * 1000, NULL, 0);
	nladdr_free(nl);
	layout_fini(&lay);
	free(live);
	return 0;
}

/* ---- scale mode ---------------------------------------------------------- */

struct claim {
	struct nllink *link;
	struct ndresp *resp;
	struct in6_addr prefix;
	unsigned prefix_len;
};

static int parse_prefix(const char *s, struct in6_addr *a, unsigned *len)
{
	char buf[INET6_ADDRSTRLEN + 4], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	*len = (unsigned)atoi(slash + 1);
	return *len <= 128 ? parse_addr(buf, a) : -1;
}

/* Exception first, then the claim: the gateway never becomes local. */
static void claim_init(struct claim *c, const char *ifname, const char *prefix, const char *gw)
{
	unsigned ifx = ifindex_of(ifname);
	char msg[128] = "";
	int rc;

	memset(c, 0, sizeof(*c));
	if (parse_prefix(prefix, &c->prefix, &c->prefix_len) < 0)
		exit(2);
	rc = nllink_new(&c->link);
	if (rc == 0 && gw) {
		struct in6_addr g;
		if (parse_addr(gw, &g) < 0)
			exit(2);
		rc = nllink_add_local_exception(c->link, ifx, &g, msg, sizeof(msg));
	}
	if (rc == 0)
		rc = nllink_add_local_prefix(c->link, ifx, &c->prefix, c->prefix_len, msg, sizeof(msg));
	if (rc == 0)
		rc = ndresp_new(ifx, &c->resp);
	if (rc < 0) {
		fprintf(stderr, "bench_addr_bind: claiming %s on %s: %s (%s)\n", prefix, ifname,
			strerror(-rc), msg);
		if (c->link)
			nllink_cleanup(c->link, NULL, 0);
		exit(1);
	}
}

static void claim_fini(struct claim *c)
{
	struct ndresp_stats st;

	ndresp_get_stats(c->resp, &st);
	printf("answered=%llu not_ours=%llu malformed=%llu\n", (unsigned long long)st.answered,
	       (unsigned long long)st.not_ours, (unsigned long long)st.malformed);
	ndresp_free(c->resp);
	nllink_cleanup(c->link, NULL, 0);
	nllink_free(c->link);
}

static int cmd_scale_hold(int argc, char **argv)
{
	struct claim c;
	char line[128];
	size_t used = 0;

	if (argc < 2)
		return 2;
	claim_init(&c, argv[0], argv[1], argc > 2 ? argv[2] : NULL);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	while (!stop_requested) {
		struct pollfd p[2] = {
			{ .fd = ndresp_fd(c.resp), .events = POLLIN },
			{ .fd = 0, .events = POLLIN },
		};
		if (poll(p, 2, 1000) < 0)
			continue;
		if (p[0].revents & POLLIN)
			ndresp_process(c.resp);
		if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, line + used, sizeof(line) - 1 - used);
			char *nl;

			if (n <= 0)
				break;
			used += (size_t)n;
			line[used] = '\0';
			while ((nl = strchr(line, '\n'))) {
				struct in6_addr a;
				int rc = -EINVAL;

				*nl = '\0';
				if ((line[0] == '+' || line[0] == '-') && parse_addr(line + 1, &a) == 0)
					rc = line[0] == '+' ? ndresp_add(c.resp, &a) : ndresp_del(c.resp, &a);
				printf("%s %s%s%s\n", rc ? "err" : "ok", line, rc ? ": " : "",
				       rc ? strerror(-rc) : "");
				used -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, used + 1);
			}
			if (used == sizeof(line) - 1)
				used = 0; /* an overlong line: dropped */
		}
	}
	claim_fini(&c);
	return 0;
}

/* A random address inside the claimed prefix (prefix_len <= 64). */
static struct in6_addr random_in(const struct claim *c)
{
	struct in6_addr a = c->prefix;

	if (getrandom(&a.s6_addr[8], 8, 0) != 8)
		exit(3);
	return a;
}

/* One slot's socket: UDP bound with IPV6_FREEBIND to an address nobody
 * bound on any interface (the local route delivers to it). */
static int freebind_socket(const struct in6_addr *a, uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = *a, .sin6_port = htons(port) };
	int one = 1, fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Per session and tick: the expired slot's responder entry and socket go,
 * the next slot's come. One socket per session is kept open, not three:
 * 45,000 fds exceed this machine's hard limit (20,000, no CAP_SYS_RESOURCE
 * to raise it), and the per-tick work (one close, one socket and bind) is
 * the same. */
static int cmd_scale_rotate(int argc, char **argv)
{
	struct claim c;
	unsigned s, seconds, rot, ticks = 0, failed = 0;
	struct in6_addr (*live)[3];
	int *fds;
	double start, c0, max_tick = 0, sum_tick = 0, setup0, setup_s;
	struct rlimit rl;

	if (argc < 5)
		return 2;
	s = (unsigned)atoi(argv[2]);
	seconds = (unsigned)atoi(argv[3]);
	rot = (unsigned)atoi(argv[4]);
	if (s == 0 || rot == 0)
		return 2;
	claim_init(&c, argv[0], argv[1], NULL);
	if (c.prefix_len > 64)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	live = calloc(s, sizeof(*live));
	fds = calloc(s, sizeof(*fds));
	if (!live || !fds)
		return 3;
	setup0 = now_s();
	for (unsigned i = 0; i < s; i++) {
		for (unsigned j = 0; j < 3; j++) {
			live[i][j] = random_in(&c);
			if (ndresp_add(c.resp, &live[i][j]) < 0)
				return 1;
		}
		fds[i] = freebind_socket(&live[i][2], (uint16_t)(1024 + i % 60000));
		if (fds[i] < 0) {
			fprintf(stderr, "bench_addr_bind: session %u socket: %s\n", i, strerror(-fds[i]));
			return 1;
		}
	}
	setup_s = now_s() - setup0;

	c0 = cpu_s();
	start = now_s();
	for (double next = start; next < start + seconds; next += rot) {
		double t0, dt;

		while (now_s() < next) {
			struct pollfd p = { .fd = ndresp_fd(c.resp), .events = POLLIN };
			int ms = (int)((next - now_s()) * 1000) + 1;

			if (poll(&p, 1, ms) > 0)
				ndresp_process(c.resp);
		}
		t0 = now_s();
		for (unsigned i = 0; i < s; i++) {
			ndresp_del(c.resp, &live[i][0]);
			live[i][0] = live[i][1];
			live[i][1] = live[i][2];
			live[i][2] = random_in(&c);
			close(fds[i]);
			fds[i] = freebind_socket(&live[i][2], (uint16_t)(1024 + (i + ticks) % 60000));
			if (fds[i] < 0 || ndresp_add(c.resp, &live[i][2]) < 0)
				failed++;
		}
		dt = now_s() - t0;
		ticks++;
		sum_tick += dt;
		if (dt > max_tick)
			max_tick = dt;
	}
	while (now_s() < start + seconds) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	{
		double elapsed = now_s() - start, cpu = cpu_s() - c0;
		printf("sessions=%u live=%zu ticks=%u setup_s=%.2f mean_tick_s=%.4f max_tick_s=%.4f "
		       "cpu_s=%.3f elapsed_s=%.1f cpu_pct=%.1f failed=%u sustained=%s\n",
		       s, ndresp_count(c.resp), ticks, setup_s, sum_tick / ticks, max_tick, cpu, elapsed,
		       100.0 * cpu / elapsed, failed, max_tick <= rot && !failed ? "yes" : "no");
	}
	for (unsigned i = 0; i < s; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	claim_fini(&c);
	free(live);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "gen", cmd_gen },     { "hold", cmd_hold },   { "step", cmd_step },
		{ "show", cmd_show },   { "purge", cmd_purge }, { "bind-remove", cmd_bind_remove },
		{ "rotate", cmd_rotate },
		{ "scale-hold", cmd_scale_hold }, { "scale-rotate", cmd_scale_rotate },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2)
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[1], cmds[i].name)) {
				int rc = cmds[i].fn(argc - 2, argv + 2);
				if (rc == 2)
					fprintf(stderr, "bench_addr_bind %s: bad arguments\n", argv[1]);
				return rc;
			}
	fprintf(stderr, "usage: bench_addr_bind gen|hold|step|show|purge|bind-remove|rotate|scale-hold|scale-rotate ...\n"
			"       (see the comment at the top of bench/bench_addr_bind.c)\n");
	return 2;
}
