/* TUN devices against the real kernel, inside a private network namespace
 * (unshare(CLONE_NEWNET)), so nothing is visible to the rest of the machine
 * and everything vanishes with the process. Needs root (CAP_NET_ADMIN). */
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
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun/tun.h"
#include "tun/vnet.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static int setup_netns(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_tun needs root (CAP_NET_ADMIN) for TUN devices\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static void test_create_names_and_destroys(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dt%d", .mtu = 1400, .is_up = true };
	struct tun *tun = NULL;
	char name[TUN_NAME_LEN];

	assert_int_equal(tun_new(&cfg, &tun), 0);
	assert_string_equal(tun_name(tun), "mt6dt0");
	assert_int_equal(tun_ifindex(tun), if_nametoindex("mt6dt0"));
	assert_int_equal(tun_queue_count(tun), 1);
	assert_true(tun_fd(tun, 0) >= 0);
	assert_int_equal(tun_fd(tun, 1), -EINVAL);
	snprintf(name, sizeof(name), "%s", tun_name(tun));
	tun_free(tun);
	/* Not persistent: gone with its fd. */
	assert_int_equal(if_nametoindex(name), 0);
	tun_free(NULL);
}

static void test_bad_configs_are_refused(void **state)
{
	(void)state;
	struct tun *tun = NULL;
	struct tun_config cfg = { .name = "this-name-is-too-long" };

	assert_int_equal(tun_new(&cfg, &tun), -EINVAL);
	cfg = (struct tun_config){ .name = "mt6dq", .queues = 2 };
	assert_int_equal(tun_new(&cfg, &tun), -EINVAL);
	/* Offloads without the header that carries them. */
	cfg = (struct tun_config){ .name = "mt6dv", .offloads = TUN_OFFLOAD_CSUM };
	assert_int_equal(tun_new(&cfg, &tun), -EINVAL);
	cfg = (struct tun_config){ .name = "mt6dm", .mtu = 70000 };
	assert_int_equal(tun_new(&cfg, &tun), -EINVAL);
	assert_null(tun);
	assert_int_equal(if_nametoindex("mt6dm"), 0);
	assert_int_equal(tun_set_mtu("mt6dnone", 1280), -ENODEV);
	assert_int_equal(tun_set_up("mt6dnone", true), -ENODEV);
	assert_int_equal(tun_set_txqlen("mt6dnone", 64), -ENODEV);
	assert_int_equal(tun_set_txqlen("mt6dnone", 0), -EINVAL);
	assert_int_equal(tun_destroy("mt6dnone"), -ENODEV);
}

static void test_name_in_use_is_busy(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dbusy" };
	struct tun *a = NULL, *b = NULL;

	assert_int_equal(tun_new(&cfg, &a), 0);
	assert_int_equal(tun_new(&cfg, &b), -EBUSY);
	assert_null(b);
	tun_free(a);
}

static void test_multi_queue_opens_one_fd_per_queue(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dmq", .flags = TUN_IS_MULTI_QUEUE, .queues = 3 };
	struct tun *tun = NULL;

	assert_int_equal(tun_new(&cfg, &tun), 0);
	assert_int_equal(tun_queue_count(tun), 3);
	assert_true(tun_fd(tun, 2) >= 0);
	assert_true(tun_fd(tun, 0) != tun_fd(tun, 2));
	tun_free(tun);
	assert_int_equal(if_nametoindex("mt6dmq"), 0);
}

static void test_destroy_removes_persistent_tun(void **state)
{
	(void)state;
	assert_int_equal(system("ip tuntap add dev mt6dpers mode tun"), 0);
	assert_true(if_nametoindex("mt6dpers") > 0);
	assert_int_equal(tun_destroy("mt6dpers"), 0);
	assert_int_equal(if_nametoindex("mt6dpers"), 0);
}

static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 2000);
}

/* Brings dev up with 2001:db8:<net>::1/64 and returns a UDP socket bound
 * to it at local's port; remote becomes ::2 of that /64. */
static int link_up_with_socket(const char *dev, unsigned net, struct sockaddr_in6 *local,
			       struct sockaddr_in6 *remote)
{
	char cmd[128];
	int s;

	assert_int_equal(tun_set_up(dev, true), 0);
	snprintf(cmd, sizeof(cmd), "ip -6 addr add 2001:db8:%x::1/64 dev %s nodad", net, dev);
	assert_int_equal(system(cmd), 0);
	local->sin6_addr = (struct in6_addr){ .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, 0, (uint8_t)net,
							   [15] = 1 } };
	remote->sin6_addr = local->sin6_addr;
	remote->sin6_addr.s6_addr[15] = 2;
	s = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)local, sizeof(*local)), 0);
	return s;
}

/* An IPv6/UDP packet turned into its answer: addresses and ports swapped
 * (the UDP checksum is a sum: it stays valid). */
static void swap_ends(uint8_t *ip)
{
	uint8_t tmp[16];

	memcpy(tmp, ip + 8, 16);
	memcpy(ip + 8, ip + 24, 16);
	memcpy(ip + 24, tmp, 16);
	memcpy(tmp, ip + 40, 2);
	memcpy(ip + 40, ip + 42, 2);
	memcpy(ip + 42, tmp, 2);
}

/* A UDP datagram leaves a socket through the TUN (tun_read sees it at the
 * headroom offset); the same packet with addresses and ports swapped, written
 * back with tun_write, reaches the socket (the UDP checksum is a sum, so the
 * swap keeps it valid). */
static void test_packet_round_trips_through_kernel(void **state)
{
	(void)state;
	enum { HEADROOM = 64 };
	struct tun_config cfg = { .name = "mt6drt", .mtu = 1280 };
	struct tun *tun = NULL;
	uint8_t storage[2][HEADROOM + 1500];
	struct tun_pkt pkts[2] = {
		{ .buf = storage[0], .cap = sizeof(storage[0]) },
		{ .buf = storage[1], .cap = sizeof(storage[1]) },
	};
	struct sockaddr_in6 local = { .sin6_family = AF_INET6, .sin6_port = htons(4000) };
	struct sockaddr_in6 remote = { .sin6_family = AF_INET6, .sin6_port = htons(5000) };
	char rx[64];
	int s, n;

	assert_int_equal(tun_new(&cfg, &tun), 0);
	/* Nothing pending yet. Checked while the link is down: once up, the
	 * kernel may send its own packets (router solicitation, MLD) at once. */
	assert_int_equal(tun_read(tun, 0, pkts, 2, HEADROOM, NULL), -EAGAIN);
	s = link_up_with_socket("mt6drt", 0x77, &local, &remote);
	assert_int_equal(sendto(s, "ping-through-tun", 16, 0, (struct sockaddr *)&remote, sizeof(remote)), 16);

	/* The kernel may also emit its own packets (MLD reports): skip them. */
	uint8_t *ip = NULL;
	for (int tries = 0; tries < 20 && !ip; tries++) {
		assert_true(wait_readable(tun_fd(tun, 0)) > 0);
		n = tun_read(tun, 0, pkts, 2, HEADROOM, NULL);
		assert_true(n >= 1);
		for (int i = 0; i < n; i++) {
			uint8_t *p = pkts[i].buf + HEADROOM;
			if (pkts[i].len == 40 + 8 + 16 && (p[0] >> 4) == 6 && p[6] == 17) {
				memmove(storage[0] + HEADROOM, p, pkts[i].len);
				pkts[0].len = pkts[i].len;
				ip = storage[0] + HEADROOM;
			}
		}
	}
	assert_non_null(ip);
	assert_memory_equal(ip + 8, &local.sin6_addr, 16);
	assert_memory_equal(ip + 24, &remote.sin6_addr, 16);
	assert_memory_equal(ip + 48, "ping-through-tun", 16);
	/* The headroom is left alone: a marker there survives. */
	memset(storage[0], 0xAB, HEADROOM);

	swap_ends(ip);
	assert_int_equal(tun_write(tun, 0, pkts, 1, HEADROOM), 1);
	assert_int_equal(storage[0][0], 0xAB);

	assert_true(wait_readable(s) > 0);
	assert_int_equal(recv(s, rx, sizeof(rx), 0), 16);
	assert_memory_equal(rx, "ping-through-tun", 16);
	close(s);
	tun_free(tun);
}

struct collected {
	uint8_t bufs[8][1400];
	size_t lens[8];
	size_t n;
};

static void collect(void *ctx, struct tun_pkt *pkts, size_t n)
{
	struct collected *c = ctx;

	for (size_t i = 0; i < n && c->n < 8; i++) {
		/* the kernel's own packets (MLD, router solicitations) aside */
		if (pkts[i].len < 48 || pkts[i].buf[6] != 17)
			continue;
		memcpy(c->bufs[c->n], pkts[i].buf, pkts[i].len);
		c->lens[c->n++] = pkts[i].len;
	}
}

/* With the offloads: a UDP_SEGMENT send leaves as one read (a USO
 * super-packet where the kernel grants USO), split here into datagrams with
 * valid checksums; written back (vnet header, one by one: UDP is never
 * coalesced) the socket receives each. */
static void test_offloads_split_and_write_back(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dvo", .mtu = 1280, .flags = TUN_HAS_VNET_HDR,
				  .offloads = TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO6 | TUN_OFFLOAD_USO };
	static uint8_t big[VNET_HDR_LEN + VNET_MAX_PKT_LEN + 1], storage[8][1400];
	static struct collected c;
	struct tun_pkt pkts[8];
	struct tun_split_stats st = { 0 };
	struct tun_gro_stats gst = { 0 };
	struct sockaddr_in6 local = { .sin6_family = AF_INET6, .sin6_port = htons(4001) };
	struct sockaddr_in6 remote = { .sin6_family = AF_INET6, .sin6_port = htons(5001) };
	struct tun *tun = NULL;
	uint8_t data[3500], rx[1500];
	bool ok[8];
	int s, seg = 1000, tries;
	size_t i;

	for (i = 0; i < 8; i++)
		pkts[i] = (struct tun_pkt){ .buf = storage[i], .cap = sizeof(storage[i]) };
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	assert_int_equal(tun_new(&cfg, &tun), 0);
	assert_int_equal(tun_flags(tun), TUN_HAS_VNET_HDR);
	assert_true(tun_offloads(tun) & TUN_OFFLOAD_CSUM);
	assert_true(tun_offloads(tun) & TUN_OFFLOAD_TSO6);
	assert_int_equal(tun_set_txqlen("mt6dvo", 64), 0);
	s = link_up_with_socket("mt6dvo", 0x78, &local, &remote);
	assert_int_equal(setsockopt(s, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof(seg)), 0);
	assert_int_equal(sendto(s, data, sizeof(data), 0, (struct sockaddr *)&remote,
				sizeof(remote)), (ssize_t)sizeof(data));
	for (tries = 0; tries < 20 && c.n < 4; tries++) {
		assert_true(wait_readable(tun_fd(tun, 0)) > 0);
		assert_true(tun_read_split(tun, 0, big, sizeof(big), pkts, 8, 0, 1280, 8, collect,
					   &c, &st) >= 1);
	}
	assert_int_equal(c.n, 4);
	if (tun_offloads(tun) & TUN_OFFLOAD_USO)
		assert_true(st.supers >= 1);
	for (i = 0; i < 4; i++) {
		uint8_t *p = c.bufs[i];
		size_t plen = i < 3 ? 1000 : 500;

		assert_int_equal(c.lens[i], 48 + plen);
		assert_memory_equal(p + 48, data + i * 1000, plen);
		assert_int_equal(vnet_csum_fold(vnet_csum_add(
			vnet_csum_pseudo6(p + 8, p + 24, 17, (uint32_t)(8 + plen)), p + 40, 8 + plen)),
			0xffff);
		swap_ends(p);
		pkts[i] = (struct tun_pkt){ .buf = p, .cap = sizeof(c.bufs[i]), .len = c.lens[i] };
	}
	tun_write_gro(tun, 0, pkts, 4, 0, ok, &gst);
	assert_int_equal(gst.writes, 4);
	assert_int_equal(gst.coalesced, 0);
	for (i = 0; i < 4; i++) {
		assert_true(ok[i]);
		assert_true(wait_readable(s) > 0);
		assert_int_equal(recv(s, rx, sizeof(rx), 0), i < 3 ? 1000 : 500);
		assert_memory_equal(rx, data + i * 1000, i < 3 ? 1000 : 500);
	}
	close(s);
	tun_free(tun);
}

/* Datagrams of our UDP flow in each flush (the kernel's own packets aside). */
struct flushes {
	size_t udp[16];
	size_t n, total;
};

static void count_flush(void *ctx, struct tun_pkt *pkts, size_t n)
{
	struct flushes *f = ctx;
	size_t udp = 0;

	for (size_t i = 0; i < n; i++)
		udp += pkts[i].len >= 48 && pkts[i].buf[6] == 17;
	if (f->n < 16 && udp > 0) {
		f->udp[f->n++] = udp;
		f->total += udp;
	}
}

/* A super-packet that fits in one flush is never cut across two: two USO
 * sends of 4 datagrams each, read with room for 6 per flush, come out as
 * two flushes of 4 (not 6 and 2), so that the tunnel sends each whole. */
static void test_offloads_flush_keeps_supers_whole(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dvw", .mtu = 1280, .flags = TUN_HAS_VNET_HDR,
				  .offloads = TUN_OFFLOAD_CSUM | TUN_OFFLOAD_TSO6 | TUN_OFFLOAD_USO };
	static uint8_t big[VNET_HDR_LEN + VNET_MAX_PKT_LEN + 1], storage[6][1400];
	static struct flushes f;
	struct tun_pkt pkts[6];
	struct tun_split_stats st = { 0 };
	struct sockaddr_in6 local = { .sin6_family = AF_INET6, .sin6_port = htons(4002) };
	struct sockaddr_in6 remote = { .sin6_family = AF_INET6, .sin6_port = htons(5002) };
	struct tun *tun = NULL;
	uint8_t data[3500] = { 0 };
	int s, seg = 1000, tries;
	size_t i;

	for (i = 0; i < 6; i++)
		pkts[i] = (struct tun_pkt){ .buf = storage[i], .cap = sizeof(storage[i]) };
	assert_int_equal(tun_new(&cfg, &tun), 0);
	if (!(tun_offloads(tun) & TUN_OFFLOAD_USO)) {
		tun_free(tun);
		skip(); /* the kernel segments before the TUN: nothing to keep whole */
	}
	s = link_up_with_socket("mt6dvw", 0x79, &local, &remote);
	assert_int_equal(setsockopt(s, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof(seg)), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(sendto(s, data, sizeof(data), 0, (struct sockaddr *)&remote,
					sizeof(remote)), (ssize_t)sizeof(data));
	for (tries = 0; tries < 20 && f.total < 8; tries++) {
		assert_true(wait_readable(tun_fd(tun, 0)) > 0);
		assert_true(tun_read_split(tun, 0, big, sizeof(big), pkts, 6, 0, 1280, 8, count_flush,
					   &f, &st) >= 1);
	}
	assert_int_equal(f.total, 8);
	for (i = 0; i < f.n; i++)
		assert_int_equal(f.udp[i], 4);
	close(s);
	tun_free(tun);
}

static void test_short_buffers_and_bad_writes(void **state)
{
	(void)state;
	struct tun_config cfg = { .name = "mt6dbad", .is_up = true };
	struct tun *tun = NULL;
	uint8_t junk[8] = { 0x60 };
	struct tun_pkt p = { .buf = junk, .cap = sizeof(junk), .len = 8 };

	assert_int_equal(tun_new(&cfg, &tun), 0);
	/* Headroom larger than the buffer. */
	assert_int_equal(tun_read(tun, 0, &p, 1, 16, NULL), -EINVAL);
	p.len = 9;
	assert_int_equal(tun_write(tun, 0, &p, 1, 0), -EINVAL);
	assert_int_equal(tun_write(tun, 5, &p, 1, 0), -EINVAL);
	tun_free(tun);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_names_and_destroys),
		cmocka_unit_test(test_bad_configs_are_refused),
		cmocka_unit_test(test_name_in_use_is_busy),
		cmocka_unit_test(test_multi_queue_opens_one_fd_per_queue),
		cmocka_unit_test(test_destroy_removes_persistent_tun),
		cmocka_unit_test(test_packet_round_trips_through_kernel),
		cmocka_unit_test(test_short_buffers_and_bad_writes),
		cmocka_unit_test(test_offloads_split_and_write_back),
		cmocka_unit_test(test_offloads_flush_keeps_supers_whole),
	};
	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
