/* The libnl set-up path against the real kernel, in a private network
 * namespace (unshare(CLONE_NEWNET)). Needs root. */
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
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netlink/nllink.h"
#include "tun/tun.h"

static unsigned veth;

static int setup_netns(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_nllink needs root (CAP_NET_ADMIN)\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (system("ip link add mt6dl0 type veth peer name mt6dl1 && ip link set mt6dl1 up") != 0)
		return -1;
	veth = if_nametoindex("mt6dl0");
	return veth ? 0 : -1;
}

static struct in6_addr a6(const char *s)
{
	struct in6_addr a;
	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static unsigned link_flags(const char *name, int *mtu_out)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	unsigned flags = (unsigned short)ifr.ifr_flags;
	assert_int_equal(ioctl(fd, SIOCGIFMTU, &ifr), 0);
	*mtu_out = ifr.ifr_mtu;
	close(fd);
	return flags;
}

/* Exit status of a shell command: 0 when grep found the text. */
static int sh(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_link_up_down_and_mtu(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	char msg[128];
	int mtu;

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_ifindex(nl, "mt6dl0"), (int)veth);
	assert_int_equal(nllink_ifindex(nl, "nosuchif"), -ENODEV);
	assert_int_equal(nllink_set_mtu(nl, veth, 1400, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_set_up(nl, veth, true, msg, sizeof(msg)), 0);
	assert_true(link_flags("mt6dl0", &mtu) & IFF_UP);
	assert_int_equal(mtu, 1400);
	assert_int_equal(nllink_set_up(nl, veth, false, msg, sizeof(msg)), 0);
	assert_false(link_flags("mt6dl0", &mtu) & IFF_UP);
	assert_int_equal(nllink_set_up(nl, veth, true, msg, sizeof(msg)), 0);
	/* Out-of-range MTU: the kernel refuses and says why. */
	assert_int_equal(nllink_set_mtu(nl, veth, 100000, msg, sizeof(msg)), -EINVAL);
	assert_true(strlen(msg) > 0);
	assert_true(nllink_set_up(nl, 99999, true, msg, sizeof(msg)) < 0);
	nllink_free(nl);
	nllink_free(NULL);
}

static void test_tun_address_and_route_then_cleanup(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dlt", .is_up = true };
	struct tun *tun = NULL;
	struct nllink *nl = NULL;
	struct in6_addr mine = a6("2001:db8:70::1"), peer = a6("2001:db8:70::2");
	char msg[128];
	unsigned t;

	assert_int_equal(tun_new(&cfg, &tun), 0);
	t = tun_ifindex(tun);
	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_add_addr(nl, t, &mine, 128, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_add_route(nl, t, &peer, 128, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_registry_count(nl), 2);
	assert_int_equal(sh("ip -6 addr show dev mt6dlt | grep -q '2001:db8:70::1/128.*nodad'"), 0);
	assert_int_equal(sh("ip -6 route show dev mt6dlt | grep -q '2001:db8:70::2 proto 109'"), 0);

	/* Duplicates and missing objects: clear errors. */
	assert_int_equal(nllink_add_addr(nl, t, &mine, 128, msg, sizeof(msg)), -EEXIST);
	assert_int_equal(nllink_add_route(nl, t, &peer, 128, msg, sizeof(msg)), -EEXIST);
	assert_int_equal(nllink_add_addr(nl, 99999, &mine, 128, msg, sizeof(msg)), -ENODEV);
	assert_true(strlen(msg) > 0);
	assert_int_equal(nllink_del_addr(nl, t, &peer, 128, msg, sizeof(msg)), -EADDRNOTAVAIL);
	assert_int_equal(nllink_add_addr(nl, t, &mine, 129, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(nllink_registry_count(nl), 2);

	assert_int_equal(nllink_cleanup(nl, msg, sizeof(msg)), 2);
	assert_int_equal(nllink_registry_count(nl), 0);
	assert_int_equal(sh("ip -6 addr show dev mt6dlt | grep -q '2001:db8:70::1'"), 1);
	assert_int_equal(sh("ip -6 route show dev mt6dlt | grep -q '2001:db8:70::2'"), 1);
	nllink_free(nl);
	tun_free(tun);
}

/* Scale mode's claim: one local route makes every address of the /64
 * deliverable to a socket bound with IPV6_FREEBIND, with no address bound;
 * the exception keeps the gateway on the link; cleanup undoes both. */
static void test_local_prefix_claim(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	struct in6_addr pfx = a6("2001:db8:71::"), gw = a6("2001:db8:71::1");
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(4000),
				   .sin6_addr = a6("2001:db8:71::abcd:1") };
	struct pollfd p;
	char msg[128], buf[8];
	int one = 1, rx, tx;

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_set_up(nl, veth, true, msg, sizeof(msg)), 0);
	assert_int_equal(sh("ip link set lo up"), 0);
	/* Exception first: the gateway never becomes local. */
	assert_int_equal(nllink_add_local_exception(nl, veth, &gw, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_add_local_prefix(nl, veth, &pfx, 64, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_registry_count(nl), 2);
	assert_int_equal(sh("ip -6 route show table local | grep -q '^local 2001:db8:71::/64 dev mt6dl0 proto 109'"), 0);
	assert_int_equal(sh("ip -6 route get 2001:db8:71::abcd:1 | grep -q '^local '"), 0);
	assert_int_equal(sh("ip -6 route get 2001:db8:71::1 | grep -q '^2001:db8:71::1 .*dev mt6dl0'"), 0);
	assert_int_equal(sh("ip -6 addr show | grep -q 2001:db8:71"), 1); /* nothing bound */

	rx = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	tx = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(rx >= 0 && tx >= 0);
	assert_int_equal(setsockopt(rx, SOL_IPV6, IPV6_FREEBIND, &one, sizeof(one)), 0);
	assert_int_equal(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(sendto(tx, "hi", 2, 0, (struct sockaddr *)&sa, sizeof(sa)), 2);
	p = (struct pollfd){ .fd = rx, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(recv(rx, buf, sizeof(buf), 0), 2);
	close(rx);
	close(tx);

	assert_int_equal(nllink_add_local_prefix(nl, veth, &pfx, 64, msg, sizeof(msg)), -EEXIST);
	assert_int_equal(nllink_add_local_prefix(nl, veth, &pfx, 129, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(nllink_add_local_prefix(nl, 99999, &pfx, 64, msg, sizeof(msg)), -ENODEV);
	assert_int_equal(nllink_registry_count(nl), 2);

	assert_int_equal(nllink_cleanup(nl, msg, sizeof(msg)), 2);
	assert_int_equal(nllink_registry_count(nl), 0);
	assert_int_equal(sh("ip -6 route show table local | grep -q 2001:db8:71"), 1);
	assert_int_equal(sh("ip -6 route get 2001:db8:71::abcd:1 2>/dev/null | grep -q '^local '"), 1);
	nllink_free(nl);
}

/* Leftovers of a killed run (tagged routes in the main and local tables)
 * go; routes of anybody else stay. */
static void test_purge_routes_removes_ours_only(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	char msg[128];

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_set_up(nl, veth, true, msg, sizeof(msg)), 0);
	assert_int_equal(sh("ip -6 route add local 2001:db8:72::/64 dev mt6dl0 table local proto 109 && "
			    "ip -6 route add 2001:db8:72::1/128 dev mt6dl0 table local proto 109 && "
			    "ip -6 route add 2001:db8:73::5/128 dev mt6dl0 proto 109 && "
			    "ip -6 route add 2001:db8:74::/64 dev mt6dl0 && "
			    "ip -6 route add 2001:db8:75::/64 dev mt6dl0 proto 108"), 0);
	assert_int_equal(nllink_purge_routes(nl, msg, sizeof(msg)), 3);
	assert_int_equal(sh("ip -6 route show table all | grep -q 'proto 109'"), 1);
	assert_int_equal(sh("ip -6 route show | grep -q '^2001:db8:74::/64'"), 0);
	assert_int_equal(sh("ip -6 route show | grep -q '^2001:db8:75::/64'"), 0);
	assert_int_equal(nllink_purge_routes(nl, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_registry_count(nl), 0);
	assert_int_equal(sh("ip -6 route del 2001:db8:74::/64 dev mt6dl0 && "
			    "ip -6 route del 2001:db8:75::/64 dev mt6dl0"), 0);
	nllink_free(nl);
}

/* The fail-closed route: beside a route into a link with a lower metric,
 * taken over when added again, left by cleanup and purge (it outlives the
 * daemon on purpose), and it catches what the link route no longer carries. */
static void test_unreachable_route_stays(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	struct in6_addr p = a6("2001:db8:76::"), h = a6("2001:db8:76::9");
	char msg[128];

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_set_up(nl, veth, true, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_add_route(nl, veth, &h, 128, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_add_unreachable(nl, &p, 64, 2000000, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_add_unreachable(nl, &p, 64, 2000000, msg, sizeof(msg)), 0);
	assert_int_equal(sh("ip -6 route show proto 110 | grep -q "
			    "'^unreachable 2001:db8:76::/64 dev lo metric 2000000'"), 0);
	assert_int_equal(sh("ip -6 route get 2001:db8:76::9 | grep -q 'dev mt6dl0'"), 0);
	assert_true(nllink_cleanup(nl, msg, sizeof(msg)) >= 1);
	assert_int_equal(nllink_purge_routes(nl, msg, sizeof(msg)), 0);
	assert_int_equal(sh("ip -6 route get 2001:db8:76::9 2>&1 | grep -q 'No route to host'"), 0);
	assert_int_equal(sh("ip -6 route del unreachable 2001:db8:76::/64 metric 2000000"), 0);
	nllink_free(nl);
}

static void test_prefixes_of_interface(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	struct in6_addr p[4], want1 = a6("2001:db8:a:1::"), want2 = a6("2001:db8:a:2::");
	int n;

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_get_prefixes(nl, veth, p, 4), 0);
	assert_int_equal(sh("ip -6 addr add 2001:db8:a:1::5/64 dev mt6dl0 nodad && "
			    "ip -6 addr add 2001:db8:a:1::6/64 dev mt6dl0 nodad && "
			    "ip -6 addr add 2001:db8:a:2::5/64 dev mt6dl0 nodad && "
			    "ip -6 addr add 2001:db8:b::7/128 dev mt6dl0 nodad"), 0);
	n = nllink_get_prefixes(nl, veth, p, 4);
	assert_int_equal(n, 2);
	assert_true((!memcmp(&p[0], &want1, 16) && !memcmp(&p[1], &want2, 16)) ||
		    (!memcmp(&p[0], &want2, 16) && !memcmp(&p[1], &want1, 16)));
	/* Fewer slots than prefixes: the count says how many there are. */
	assert_int_equal(nllink_get_prefixes(nl, veth, p, 1), 2);
	assert_int_equal(nllink_get_prefixes(nl, 99999, p, 4), -ENODEV);
	assert_int_equal(sh("ip -6 addr flush dev mt6dl0 scope global"), 0);
	nllink_free(nl);
}

/* The gateways a scale mode claim keeps as exceptions: distinct, of routes
 * through this interface only, link-local ones included. */
static void test_gateways_of_interface(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	struct in6_addr g[4], want1 = a6("2001:db8:c::1"), want2 = a6("fe80::9");
	char msg[128];
	int n;

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_set_up(nl, veth, true, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_get_gateways(nl, veth, g, 4), 0);
	assert_int_equal(sh("ip -6 addr add 2001:db8:c::2/64 dev mt6dl0 nodad && "
			    "ip -6 route add default via 2001:db8:c::1 dev mt6dl0 && "
			    "ip -6 route add 2001:db8:d::/64 via 2001:db8:c::1 dev mt6dl0 && "
			    "ip -6 route add 2001:db8:e::/64 via fe80::9 dev mt6dl0 && "
			    "ip -6 route add 2001:db8:f::/64 dev mt6dl0 && "
			    "ip -6 route add 2001:db8:10::/64 via fe80::7 dev mt6dl1"), 0);
	n = nllink_get_gateways(nl, veth, g, 4);
	assert_int_equal(n, 2);
	assert_true((!memcmp(&g[0], &want1, 16) && !memcmp(&g[1], &want2, 16)) ||
		    (!memcmp(&g[0], &want2, 16) && !memcmp(&g[1], &want1, 16)));
	assert_int_equal(nllink_get_gateways(nl, veth, g, 1), 2);
	assert_int_equal(nllink_get_gateways(nl, 0, g, 4), -EINVAL);
	assert_int_equal(sh("ip -6 route flush dev mt6dl1 && ip -6 route del default dev mt6dl0 && "
			    "ip -6 route del 2001:db8:d::/64 dev mt6dl0 && "
			    "ip -6 route del 2001:db8:e::/64 dev mt6dl0 && "
			    "ip -6 route del 2001:db8:f::/64 dev mt6dl0 && "
			    "ip -6 addr flush dev mt6dl0 scope global"), 0);
	nllink_free(nl);
}

static void test_macvlan_children_and_link_delete(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	struct in6_addr a = a6("2001:db8:a:3::9");
	unsigned child = 0, child2 = 0;
	char msg[128];

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_add_macvlan(nl, veth, "mt6dmv0", &child, msg, sizeof(msg)), 0);
	assert_true(child > 0);
	assert_int_equal(nllink_add_macvlan(nl, veth, "mt6dmv1", &child2, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_add_macvlan(nl, veth, "mt6dmv0", &child, msg, sizeof(msg)), -EEXIST);
	assert_int_equal(nllink_add_addr(nl, child, &a, 128, msg, sizeof(msg)), 0);
	assert_int_equal(nllink_registry_count(nl), 3);
	/* Deleting the link forgets what lived on it. */
	assert_int_equal(nllink_del_link(nl, child, msg, sizeof(msg)), 0);
	assert_int_equal(if_nametoindex("mt6dmv0"), 0);
	assert_int_equal(nllink_registry_count(nl), 1);
	assert_int_equal(nllink_del_link(nl, child, msg, sizeof(msg)), -ENODEV);
	assert_int_equal(nllink_cleanup(nl, msg, sizeof(msg)), 1);
	assert_int_equal(if_nametoindex("mt6dmv1"), 0);
	nllink_free(nl);
}

static void test_not_permitted_is_eperm(void **state)
{
	(void)state;
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct nllink *nl = NULL;
		char msg[128];

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (nllink_new(&nl) < 0)
			_exit(11);
		_exit(nllink_set_mtu(nl, veth, 1300, msg, sizeof(msg)) == -EPERM ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Sessions made and ended for days: each TUN's address and route are
 * forgotten with it, the dead entries of deleted objects are compacted
 * away, and the array stays near its peak of live entries. */
static void test_registry_stays_bounded(void **state)
{
	(void)state;
	struct nllink *nl = NULL;
	struct in6_addr keep = a6("2001:db8:71::1"), peer = a6("2001:db8:71::2");
	char msg[128], cmd[128];
	unsigned i;

	assert_int_equal(nllink_new(&nl), 0);
	assert_int_equal(nllink_forget_ifindex(NULL, 1), 0);
	/* One object that outlives the churn, recorded first. */
	assert_int_equal(nllink_add_addr(nl, veth, &keep, 128, msg, sizeof(msg)), 0);
	for (i = 0; i < 150; i++) {
		struct tun_config cfg = { .name = "mt6dlr%d", .is_up = true };
		struct tun *tun = NULL;
		struct in6_addr mine = keep;
		unsigned t;

		mine.s6_addr[15] = (uint8_t)(3 + i % 200);
		assert_int_equal(tun_new(&cfg, &tun), 0);
		t = tun_ifindex(tun);
		assert_int_equal(nllink_add_addr(nl, t, &mine, 128, msg, sizeof(msg)), 0);
		assert_int_equal(nllink_add_route(nl, t, &peer, 128, msg, sizeof(msg)), 0);
		assert_int_equal(nllink_registry_count(nl), 3);
		tun_free(tun);
		assert_int_equal(nllink_forget_ifindex(nl, t), 2);
		assert_int_equal(nllink_forget_ifindex(nl, t), 0);
		assert_int_equal(nllink_registry_count(nl), 1);
	}
	assert_true(nllink_registry_capacity(nl) <= 16);
	/* Objects deleted one by one leave dead entries that compaction
	 * reclaims: 1,200 adds on the veth, three in four deleted. */
	for (i = 0; i < 1200; i++) {
		struct in6_addr a = a6("2001:db8:72::");

		a.s6_addr[14] = (uint8_t)(i >> 8);
		a.s6_addr[15] = (uint8_t)i;
		assert_int_equal(nllink_add_addr(nl, veth, &a, 128, msg, sizeof(msg)), 0);
		if (i % 4 != 0)
			assert_int_equal(nllink_del_addr(nl, veth, &a, 128, msg, sizeof(msg)), 0);
	}
	assert_int_equal(nllink_registry_count(nl), 1 + 300);
	assert_true(nllink_registry_capacity(nl) <= 1024);
	/* Compaction kept every live entry: cleanup finds them all. */
	assert_int_equal(nllink_cleanup(nl, msg, sizeof(msg)), 301);
	assert_int_equal(nllink_registry_count(nl), 0);
	snprintf(cmd, sizeof(cmd), "ip -6 addr show dev mt6dl0 | grep -q '2001:db8:7[12]::'");
	assert_int_equal(sh(cmd), 1);
	nllink_free(nl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_up_down_and_mtu),
		cmocka_unit_test(test_tun_address_and_route_then_cleanup),
		cmocka_unit_test(test_local_prefix_claim),
		cmocka_unit_test(test_purge_routes_removes_ours_only),
		cmocka_unit_test(test_unreachable_route_stays),
		cmocka_unit_test(test_prefixes_of_interface),
		cmocka_unit_test(test_gateways_of_interface),
		cmocka_unit_test(test_macvlan_children_and_link_delete),
		cmocka_unit_test(test_not_permitted_is_eperm),
		cmocka_unit_test(test_registry_stays_bounded),
	};
	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
