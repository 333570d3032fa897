/* Neighbour advertisements for addresses that are claimed, not bound.
 *
 * A packet socket of type SOCK_DGRAM on ETH_P_IPV6 hands us IPv6 packets
 * without the link header and tells us the sender's MAC; replies go out the
 * same way, with the kernel writing the Ethernet header. The address set is
 * an open-addressing hash table with a per-responder random seed, so that
 * targets chosen by whoever sends solicitations cannot make lookups slow. */
#include "netlink/ndresp.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23 /* linux 4.20 */
#endif

#define IP6_HDR_LEN 40
#define ND_NS_LEN 24          /* ICMPv6 header + reserved + target, RFC 4861 4.3 */
#define ND_NA_LEN 32          /* the same + one target link-layer address option */
_Static_assert(IP6_HDR_LEN + ND_NA_LEN == NDRESP_NA_LEN, "advertisement length");
#define ICMP6_NS 135
#define ICMP6_NA 136
#define ND_OPT_SLLAO 1
#define ND_OPT_TLLAO 2
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20
/* Solicitations read per ndresp_process call; the fd stays readable. */
#define NDRESP_MAX_READS 256
/* Room for a burst of solicitations (a router resolving many sessions). */
#define NDRESP_RCVBUF (1024 * 1024)

struct ndresp {
	int fd;
	unsigned ifindex;
	uint8_t mac[6];          /* the interface's, advertised as ours */
	uint64_t seed[2];        /* hash seed, random per responder */
	struct in6_addr *set;    /* open addressing; :: marks an empty slot */
	size_t cap, count;
	struct ndresp_stats stats;
};

/* ---- the address set --------------------------------------------------- */

static bool is_empty(const struct in6_addr *a)
{
	static const struct in6_addr zero;

	return memcmp(a, &zero, 16) == 0;
}

static size_t set_hash(const struct ndresp *r, const struct in6_addr *a)
{
	uint64_t w[2], h;

	memcpy(w, a, 16);
	h = (w[0] ^ r->seed[0]) * 0x9e3779b97f4a7c15ULL;
	h ^= (w[1] ^ r->seed[1]) + (h << 6) + (h >> 2);
	/* murmur3 finaliser: low bits depend on every input bit */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h;
}

static size_t set_find(const struct ndresp *r, const struct in6_addr *a)
{
	size_t mask = r->cap - 1, i;

	if (r->cap == 0)
		return SIZE_MAX;
	for (i = set_hash(r, a) & mask; !is_empty(&r->set[i]); i = (i + 1) & mask)
		if (memcmp(&r->set[i], a, 16) == 0)
			return i;
	return SIZE_MAX;
}

static void set_place(struct in6_addr *set, size_t cap, size_t home, const struct in6_addr *a)
{
	size_t i;

	for (i = home & (cap - 1); !is_empty(&set[i]); i = (i + 1) & (cap - 1))
		;
	set[i] = *a;
}

static int set_grow(struct ndresp *r)
{
	size_t cap = r->cap ? r->cap * 2 : 1024;
	struct in6_addr *set = calloc(cap, sizeof(*set));

	if (!set)
		return -ENOMEM;
	for (size_t i = 0; i < r->cap; i++)
		if (!is_empty(&r->set[i]))
			set_place(set, cap, set_hash(r, &r->set[i]), &r->set[i]);
	free(r->set);
	r->set = set;
	r->cap = cap;
	return 0;
}

int ndresp_add(struct ndresp *r, const struct in6_addr *addr)
{
	if (!r || !addr || is_empty(addr) || addr->s6_addr[0] == 0xff)
		return -EINVAL;
	if (set_find(r, addr) != SIZE_MAX)
		return 0;
	if (r->count >= NDRESP_MAX_ADDRS)
		return -ENOSPC;
	/* Load factor at most 1/2 keeps probe runs short. */
	if ((r->count + 1) * 2 > r->cap) {
		int rc = set_grow(r);
		if (rc < 0)
			return rc;
	}
	set_place(r->set, r->cap, set_hash(r, addr), addr);
	r->count++;
	return 0;
}

/* Backward-shift deletion: no tombstones, lookups stay short. */
int ndresp_del(struct ndresp *r, const struct in6_addr *addr)
{
	size_t mask, i, j;

	if (!r || !addr)
		return -EINVAL;
	i = set_find(r, addr);
	if (i == SIZE_MAX)
		return -ENOENT;
	mask = r->cap - 1;
	memset(&r->set[i], 0, 16);
	r->count--;
	for (j = (i + 1) & mask; !is_empty(&r->set[j]); j = (j + 1) & mask) {
		size_t home = set_hash(r, &r->set[j]) & mask;

		/* Move j into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			r->set[i] = r->set[j];
			memset(&r->set[j], 0, 16);
			i = j;
		}
	}
	return 0;
}

bool ndresp_has(const struct ndresp *r, const struct in6_addr *addr)
{
	return set_find(r, addr) != SIZE_MAX;
}

size_t ndresp_count(const struct ndresp *r)
{
	return r->count;
}

void ndresp_get_stats(const struct ndresp *r, struct ndresp_stats *stats_out)
{
	*stats_out = r->stats;
}

/* ---- the socket -------------------------------------------------------- */

int ndresp_new(unsigned ifindex, struct ndresp **r_out)
{
	/* IPv6 next header ICMPv6 (58) at once (solicitations carry no
	 * extension headers) and ICMPv6 type 135; everything else stays in
	 * the kernel. Offsets are from the IPv6 header (SOCK_DGRAM). */
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, IP6_HDR_LEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_NS, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0x40000),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IPV6),
		.sll_ifindex = (int)ifindex,
	};
	struct packet_mreq mr = { .mr_ifindex = (int)ifindex, .mr_type = PACKET_MR_ALLMULTI };
	struct ifreq ifr = { 0 };
	struct ndresp *r;
	int one = 1, rcvbuf = NDRESP_RCVBUF, rc;
	char junk[64];

	if (!r_out || ifindex == 0)
		return -EINVAL;
	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -ENODEV;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ifindex = ifindex;
	if (getrandom(r->seed, sizeof(r->seed), 0) != sizeof(r->seed)) {
		rc = -EIO;
		goto fail;
	}
	/* Protocol 0 until the filter is attached: nothing unfiltered queues. */
	r->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		rc = -errno;
		goto fail_nofd;
	}
	if (ioctl(r->fd, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		goto fail;
	}
	memcpy(r->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (setsockopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(r->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		rc = -errno;
		goto fail;
	}
	/* Best effort: our own host's solicitations are not for us (the filter
	 * would pass them), and a bigger buffer only absorbs bursts. */
	setsockopt(r->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	while (recv(r->fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0)
		; /* anything queued before the bind */
	*r_out = r;
	return 0;
fail:
	close(r->fd);
fail_nofd:
	free(r);
	return rc;
}

void ndresp_free(struct ndresp *r)
{
	if (!r)
		return;
	close(r->fd); /* drops the all-multicast membership with it */
	free(r->set);
	free(r);
}

int ndresp_fd(const struct ndresp *r)
{
	return r->fd;
}

/* ---- solicitations and advertisements ---------------------------------- */

/* RFC 4443 2.3: one's complement sum over the pseudo-header and the message. */
static uint16_t icmp6_checksum(const uint8_t *src, const uint8_t *dst, const uint8_t *msg,
			       size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < 16; i += 2)
		sum += (uint32_t)(src[i] << 8 | src[i + 1]) + (uint32_t)(dst[i] << 8 | dst[i + 1]);
	sum += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + 58;
	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(msg[i] << 8 | msg[i + 1]);
	if (len & 1)
		sum += (uint32_t)msg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static bool is_solicited_node(const uint8_t *a)
{
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

enum verdict { NS_MALFORMED, NS_NOT_OURS, NS_ANSWER };

/* Checks one packet as RFC 4861 7.1.1 says and, when it solicits an address
 * of the set, builds the advertisement (IPv6 header included) in na and its
 * destination MAC in dst_mac. */
static enum verdict handle_ns(const struct ndresp *r, const uint8_t *p, size_t len,
			      const uint8_t *src_mac, uint8_t na[IP6_HDR_LEN + ND_NA_LEN],
			      uint8_t dst_mac[6])
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	const uint8_t *src = p + 8, *dst = p + 24, *icmp = p + IP6_HDR_LEN, *target;
	bool is_dad;
	size_t plen, off;
	struct in6_addr t;
	uint16_t ck;

	if (len < IP6_HDR_LEN + ND_NS_LEN || (p[0] >> 4) != 6 || p[6] != 58)
		return NS_MALFORMED;
	plen = (size_t)p[4] << 8 | p[5];
	if (plen < ND_NS_LEN || plen > len - IP6_HDR_LEN)
		return NS_MALFORMED;
	/* Hop limit 255 proves the sender is on the link. */
	if (p[7] != 255 || icmp[0] != ICMP6_NS || icmp[1] != 0)
		return NS_MALFORMED;
	if (icmp6_checksum(src, dst, icmp, plen) != 0)
		return NS_MALFORMED;
	target = icmp + 8;
	if (target[0] == 0xff)
		return NS_MALFORMED;
	is_dad = is_empty((const struct in6_addr *)(const void *)src);
	if (is_dad && !is_solicited_node(dst))
		return NS_MALFORMED;
	for (off = ND_NS_LEN; off < plen;) {
		size_t olen;

		if (plen - off < 2 || icmp[off + 1] == 0)
			return NS_MALFORMED;
		olen = (size_t)icmp[off + 1] * 8;
		if (olen > plen - off)
			return NS_MALFORMED;
		if (is_dad && icmp[off] == ND_OPT_SLLAO)
			return NS_MALFORMED;
		off += olen;
	}
	memcpy(&t, target, 16);
	if (!ndresp_has(r, &t))
		return NS_NOT_OURS;

	memset(na, 0, IP6_HDR_LEN + ND_NA_LEN);
	na[0] = 0x60;
	na[5] = ND_NA_LEN;
	na[6] = 58;
	na[7] = 255;
	memcpy(na + 8, target, 16);
	/* A duplicate-address probe is answered to all nodes, unsolicited. */
	memcpy(na + 24, is_dad ? all_nodes : src, 16);
	na[IP6_HDR_LEN] = ICMP6_NA;
	na[IP6_HDR_LEN + 4] = (uint8_t)((is_dad ? 0 : NA_FLAG_SOLICITED) | NA_FLAG_OVERRIDE);
	memcpy(na + IP6_HDR_LEN + 8, target, 16);
	na[IP6_HDR_LEN + 24] = ND_OPT_TLLAO;
	na[IP6_HDR_LEN + 25] = 1;
	memcpy(na + IP6_HDR_LEN + 26, r->mac, 6);
	ck = icmp6_checksum(na + 8, na + 24, na + IP6_HDR_LEN, ND_NA_LEN);
	na[IP6_HDR_LEN + 2] = (uint8_t)(ck >> 8);
	na[IP6_HDR_LEN + 3] = (uint8_t)ck;
	if (is_dad) {
		static const uint8_t mac_all_nodes[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		memcpy(dst_mac, mac_all_nodes, 6);
	} else {
		memcpy(dst_mac, src_mac, 6);
	}
	return NS_ANSWER;
}

int ndresp_input(struct ndresp *r, const uint8_t *pkt, size_t len, const uint8_t src_mac[static 6],
		 uint8_t na_out[static NDRESP_NA_LEN], uint8_t dst_mac_out[static 6])
{
	switch (handle_ns(r, pkt, len, src_mac, na_out, dst_mac_out)) {
	case NS_MALFORMED:
		r->stats.malformed++;
		return 0;
	case NS_NOT_OURS:
		r->stats.not_ours++;
		return 0;
	case NS_ANSWER:
		break;
	}
	return 1;
}

int ndresp_process(struct ndresp *r)
{
	uint8_t buf[1500], na[NDRESP_NA_LEN];
	int answered = 0;

	for (unsigned reads = 0; reads < NDRESP_MAX_READS; reads++) {
		struct sockaddr_ll from = { 0 };
		socklen_t from_len = sizeof(from);
		struct sockaddr_ll to = {
			.sll_family = AF_PACKET,
			.sll_protocol = htons(ETH_P_IPV6),
			.sll_ifindex = (int)r->ifindex,
			.sll_halen = 6,
		};
		ssize_t n = recvfrom(r->fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from,
				     &from_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return answered ? answered : -errno;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if ((size_t)n > sizeof(buf) || from.sll_halen != 6) {
			r->stats.malformed++;
			continue;
		}
		if (ndresp_input(r, buf, (size_t)n, from.sll_addr, na, to.sll_addr) == 0)
			continue;
		if (sendto(r->fd, na, sizeof(na), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			r->stats.send_failed++;
			continue;
		}
		r->stats.answered++;
		answered++;
	}
	/* Solicitations the kernel dropped since the last call because the
	 * socket was full (reading the counters resets them). */
	{
		struct tpacket_stats ps;
		socklen_t ps_len = sizeof(ps);

		if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &ps, &ps_len) == 0)
			r->stats.socket_drops += ps.tp_drops;
	}
	return answered;
}
