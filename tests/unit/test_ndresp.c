/* The scale-mode neighbour responder against the real kernel, in a private
 * network namespace (unshare(CLONE_NEWNET)) holding one veth pair: the
 * responder listens on mt6dn0; solicitations are written, and advertisements
 * read, as raw IPv6 packets on a packet socket on the peer mt6dn1. Needs
 * root.
 *
 *   [responder] mt6dn0 ==veth== mt6dn1 [packet socket of the test] */
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
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "netlink/ndresp.h"

static unsigned ifx_resp, ifx_peer;
static uint8_t mac_resp[6], mac_peer[6];
static int peer_fd = -1; /* packet socket on mt6dn1, ETH_P_IPV6 */

static void get_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (fd >= 0)
		close(fd);
}

static int setup_netns(void **state)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6) };

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_ndresp needs root (CAP_NET_RAW, CAP_NET_ADMIN)\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	/* No DAD, so the peer's own traffic does not disturb the counts. */
	if (system("sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 && "
		   "ip link add mt6dn0 type veth peer name mt6dn1 && "
		   "ip link set mt6dn0 up && ip link set mt6dn1 up") != 0)
		return -1;
	ifx_resp = if_nametoindex("mt6dn0");
	ifx_peer = if_nametoindex("mt6dn1");
	get_mac("mt6dn0", mac_resp);
	get_mac("mt6dn1", mac_peer);
	peer_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_IPV6));
	sll.sll_ifindex = (int)ifx_peer;
	if (peer_fd < 0 || bind(peer_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -1;
	return ifx_resp && ifx_peer ? 0 : -1;
}

static int teardown_netns(void **state)
{
	(void)state;
	close(peer_fd);
	return 0;
}

static struct in6_addr a6(const char *s)
{
	struct in6_addr a;
	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static uint16_t checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *m, size_t len)
{
	uint32_t sum = 58 + (uint32_t)len;

	for (size_t i = 0; i < 16; i += 2)
		sum += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(m[i] << 8 | (i + 1 < len ? m[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A neighbour solicitation, RFC 4861 4.3, with a source link-layer address
 * option unless src is ::. Returns its length. */
static size_t make_ns(uint8_t *p, const char *src, const struct in6_addr *target)
{
	struct in6_addr s = a6(src), d = a6("ff02::1:ff00:0");
	bool is_dad = IN6_IS_ADDR_UNSPECIFIED(&s);
	size_t icmp_len = is_dad ? 24 : 32;
	uint16_t ck;

	memcpy(&d.s6_addr[13], &target->s6_addr[13], 3);
	memset(p, 0, 40 + icmp_len);
	p[0] = 0x60;
	p[5] = (uint8_t)icmp_len;
	p[6] = 58;
	p[7] = 255;
	memcpy(p + 8, &s, 16);
	memcpy(p + 24, &d, 16);
	p[40] = 135;
	memcpy(p + 48, target, 16);
	if (!is_dad) {
		p[64] = 1;
		p[65] = 1;
		memcpy(p + 66, mac_peer, 6);
	}
	ck = checksum(p + 8, p + 24, p + 40, icmp_len);
	p[42] = (uint8_t)(ck >> 8);
	p[43] = (uint8_t)ck;
	return 40 + icmp_len;
}

static void send_from_peer(const uint8_t *p, size_t len, const uint8_t *dst_ip)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6),
		.sll_ifindex = (int)ifx_peer, .sll_halen = 6,
	};
	/* Multicast IPv6 maps to 33:33 + its last 32 bits (RFC 2464 7). */
	to.sll_addr[0] = 0x33;
	to.sll_addr[1] = 0x33;
	memcpy(&to.sll_addr[2], dst_ip + 12, 4);
	assert_int_equal(sendto(peer_fd, p, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

static void drain_peer(void)
{
	uint8_t buf[2048];

	while (recv(peer_fd, buf, sizeof(buf), 0) >= 0)
		;
}

/* Lets the responder handle what arrived (up to wait_ms for the first
 * packet); returns the total ndresp_process gave. */
static int run_responder(struct ndresp *r, int wait_ms)
{
	struct pollfd p = { .fd = ndresp_fd(r), .events = POLLIN };
	int total = 0;

	while (poll(&p, 1, wait_ms) > 0) {
		int n = ndresp_process(r);
		assert_true(n >= 0);
		total += n;
		wait_ms = 50;
	}
	return total;
}

/* The next neighbour advertisement the peer receives within wait_ms, into
 * na (IPv6 packet); returns its length, 0 if none came. */
static size_t recv_na(uint8_t *na, size_t cap, int wait_ms, struct sockaddr_ll *from)
{
	struct pollfd p = { .fd = peer_fd, .events = POLLIN };

	while (poll(&p, 1, wait_ms) > 0) {
		socklen_t fl = sizeof(*from);
		memset(from, 0, sizeof(*from));
		ssize_t n = recvfrom(peer_fd, na, cap, 0, (struct sockaddr *)from, &fl);

		if (n >= 72 && na[6] == 58 && na[40] == 136 && from->sll_pkttype != PACKET_OUTGOING)
			return (size_t)n;
	}
	return 0;
}

static void test_set_operations(void **state)
{
	struct ndresp *r = NULL;
	struct in6_addr a = a6("2001:db8:7::a"), m = a6("ff02::1"), z = a6("::");

	(void)state;
	assert_int_equal(ndresp_new(ifx_resp, &r), 0);
	assert_int_equal(ndresp_add(r, &a), 0);
	assert_int_equal(ndresp_add(r, &a), 0);
	assert_int_equal(ndresp_count(r), 1);
	assert_int_equal(ndresp_add(r, &m), -EINVAL);
	assert_int_equal(ndresp_add(r, &z), -EINVAL);
	assert_int_equal(ndresp_del(r, &m), -ENOENT);
	/* Enough entries to grow the table several times, then half removed:
	 * every lookup must still find exactly the remaining half. */
	for (unsigned i = 0; i < 20000; i++) {
		struct in6_addr x = a;
		x.s6_addr32[3] = htonl(i * 2654435761u);
		x.s6_addr32[2] = htonl(i);
		assert_int_equal(ndresp_add(r, &x), 0);
	}
	assert_int_equal(ndresp_count(r), 20001);
	for (unsigned i = 0; i < 20000; i += 2) {
		struct in6_addr x = a;
		x.s6_addr32[3] = htonl(i * 2654435761u);
		x.s6_addr32[2] = htonl(i);
		assert_int_equal(ndresp_del(r, &x), 0);
	}
	assert_int_equal(ndresp_count(r), 10001);
	for (unsigned i = 0; i < 20000; i++) {
		struct in6_addr x = a;
		x.s6_addr32[3] = htonl(i * 2654435761u);
		x.s6_addr32[2] = htonl(i);
		assert_int_equal(ndresp_has(r, &x), i % 2 == 1);
	}
	assert_true(ndresp_has(r, &a));
	assert_int_equal(ndresp_del(r, &a), 0);
	assert_int_equal(ndresp_del(r, &a), -ENOENT);
	ndresp_free(r);
	ndresp_free(NULL);
}

static void test_bad_interface(void **state)
{
	struct ndresp *r = NULL;

	(void)state;
	assert_int_equal(ndresp_new(0, &r), -EINVAL);
	assert_int_equal(ndresp_new(99999, &r), -ENODEV);
	assert_null(r);
}

/* A solicitation for a current address is answered as RFC 4861 7.2.4 says;
 * once the address is removed (its slot expired), or for one never added,
 * nothing answers. */
static void test_answers_current_only(void **state)
{
	struct ndresp *r = NULL;
	struct in6_addr a = a6("2001:db8:7::5eed:a"), never = a6("2001:db8:7::5eed:b");
	struct in6_addr peer = a6("2001:db8:7::1");
	struct ndresp_stats st;
	struct sockaddr_ll from;
	uint8_t ns[128], na[256];
	size_t len, n;

	(void)state;
	assert_int_equal(ndresp_new(ifx_resp, &r), 0);
	assert_int_equal(ndresp_add(r, &a), 0);
	drain_peer();

	len = make_ns(ns, "2001:db8:7::1", &a);
	send_from_peer(ns, len, ns + 24);
	assert_int_equal(run_responder(r, 1000), 1);
	n = recv_na(na, sizeof(na), 1000, &from);
	assert_int_equal(n, 72);
	assert_int_equal(from.sll_pkttype, PACKET_HOST);      /* unicast to the solicitor */
	assert_memory_equal(from.sll_addr, mac_resp, 6);
	assert_int_equal(na[7], 255);                          /* hop limit */
	assert_memory_equal(na + 8, &a, 16);                   /* from the target */
	assert_memory_equal(na + 24, &peer, 16);               /* to the solicitor */
	assert_int_equal(na[41], 0);
	assert_int_equal(na[44], 0x60);                        /* solicited, override */
	assert_memory_equal(na + 48, &a, 16);                  /* target */
	assert_int_equal(na[64], 2);                           /* target link-layer address */
	assert_int_equal(na[65], 1);
	assert_memory_equal(na + 66, mac_resp, 6);
	assert_int_equal(checksum(na + 8, na + 24, na + 40, 32), 0);

	len = make_ns(ns, "2001:db8:7::1", &never);
	send_from_peer(ns, len, ns + 24);
	assert_int_equal(run_responder(r, 1000), 0);
	assert_int_equal(recv_na(na, sizeof(na), 200, &from), 0);

	assert_int_equal(ndresp_del(r, &a), 0);
	len = make_ns(ns, "2001:db8:7::1", &a);
	send_from_peer(ns, len, ns + 24);
	assert_int_equal(run_responder(r, 1000), 0);
	assert_int_equal(recv_na(na, sizeof(na), 200, &from), 0);

	ndresp_get_stats(r, &st);
	assert_int_equal(st.answered, 1);
	assert_int_equal(st.not_ours, 2);
	assert_int_equal(st.malformed, 0);
	ndresp_free(r);
}

/* Duplicate address detection probes (source ::) get an unsolicited answer
 * to all nodes, so the prober learns the address is taken. */
static void test_dad_probe_answered_to_all_nodes(void **state)
{
	struct ndresp *r = NULL;
	struct in6_addr a = a6("2001:db8:7::5eed:c"), all = a6("ff02::1");
	struct sockaddr_ll from;
	uint8_t ns[128], na[256];
	size_t len;

	(void)state;
	assert_int_equal(ndresp_new(ifx_resp, &r), 0);
	assert_int_equal(ndresp_add(r, &a), 0);
	drain_peer();
	len = make_ns(ns, "::", &a);
	send_from_peer(ns, len, ns + 24);
	assert_int_equal(run_responder(r, 1000), 1);
	assert_int_equal(recv_na(na, sizeof(na), 1000, &from), 72);
	assert_int_equal(from.sll_pkttype, PACKET_MULTICAST);
	assert_memory_equal(na + 24, &all, 16);
	assert_int_equal(na[44], 0x20); /* override, not solicited */
	ndresp_free(r);
}

/* Every way RFC 4861 7.1.1 makes a solicitation invalid: counted, dropped,
 * never answered, never a crash. */
static void test_invalid_solicitations_dropped(void **state)
{
	struct ndresp *r = NULL;
	struct in6_addr a = a6("2001:db8:7::5eed:d");
	struct ndresp_stats st;
	struct sockaddr_ll from;
	uint8_t ns[128], bad[128], na[256];
	size_t len;
	unsigned sent = 0;

	(void)state;
	assert_int_equal(ndresp_new(ifx_resp, &r), 0);
	assert_int_equal(ndresp_add(r, &a), 0);
	drain_peer();
	len = make_ns(ns, "2001:db8:7::1", &a);

	/* Each edit breaks one rule; the checksum is made right again
	 * (is_fixed) so that it is that rule which rejects the packet. */
#define SEND_BAD(edit, blen, is_fixed)                                        \
	do {                                                                  \
		memcpy(bad, ns, len);                                         \
		edit;                                                         \
		if (is_fixed) {                                               \
			uint16_t ck_;                                         \
			bad[42] = bad[43] = 0;                                \
			ck_ = checksum(bad + 8, bad + 24, bad + 40, len - 40); \
			bad[42] = (uint8_t)(ck_ >> 8);                        \
			bad[43] = (uint8_t)ck_;                               \
		}                                                             \
		send_from_peer(bad, (blen), ns + 24);                         \
		sent++;                                                       \
	} while (0)

	SEND_BAD(bad[7] = 254, len, true);                   /* hop limit: not on-link */
	SEND_BAD(bad[42] ^= 0x55, len, false);               /* checksum */
	SEND_BAD(bad[41] = 1, len, true);                    /* code */
	SEND_BAD(bad[5] = 16, len, false);                   /* ICMP shorter than an NS */
	SEND_BAD((void)0, 56, false);                        /* truncated packet */
	SEND_BAD(bad[5] = 200, len, false);                  /* payload length beyond packet */
	SEND_BAD(bad[65] = 0, len, true);                    /* option of length 0 */
	SEND_BAD(bad[65] = 4, len, true);                    /* option past the end */
	SEND_BAD(bad[0] = 0x40, len, false);                 /* not IPv6 */
	{
		/* a multicast target, with a correct checksum */
		struct in6_addr m = a6("ff02::1:ff00:d");
		len = make_ns(bad, "2001:db8:7::1", &m);
		send_from_peer(bad, len, bad + 24);
		sent++;
		/* a DAD probe (source ::) sent to a unicast destination */
		len = make_ns(bad, "::", &a);
		memcpy(bad + 24, &a, 16);
		bad[42] = bad[43] = 0;
		{
			uint16_t ck = checksum(bad + 8, bad + 24, bad + 40, 24);
			bad[42] = (uint8_t)(ck >> 8);
			bad[43] = (uint8_t)ck;
		}
		send_from_peer(bad, len, ns + 24);
		sent++;
		len = make_ns(ns, "2001:db8:7::1", &a);
	}
#undef SEND_BAD
	assert_int_equal(run_responder(r, 1000), 0);
	assert_int_equal(recv_na(na, sizeof(na), 200, &from), 0);
	ndresp_get_stats(r, &st);
	assert_int_equal(st.malformed, sent);
	assert_int_equal(st.answered, 0);

	/* and the responder still answers a valid one afterwards */
	send_from_peer(ns, len, ns + 24);
	assert_int_equal(run_responder(r, 1000), 1);
	assert_int_equal(recv_na(na, sizeof(na), 1000, &from), 72);
	ndresp_free(r);
}

static void test_not_permitted_is_eperm(void **state)
{
	(void)state;
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct ndresp *r = NULL;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		_exit(ndresp_new(ifx_resp, &r) == -EPERM ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_operations),
		cmocka_unit_test(test_bad_interface),
		cmocka_unit_test(test_answers_current_only),
		cmocka_unit_test(test_dad_probe_answered_to_all_nodes),
		cmocka_unit_test(test_invalid_solicitations_dropped),
		cmocka_unit_test(test_not_permitted_is_eperm),
	};
	return cmocka_run_group_tests(tests, setup_netns, teardown_netns);
}
