/* virtio-net header offloads of a TUN (include/uapi/linux/virtio_net.h,
 * Documentation/networking/segmentation-offloads.rst). */
#include "tun/vnet.h"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#define IP6_HLEN 40
#define UDP_HLEN 8
#define TCP_MIN_HLEN 20
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_OFF_SEQ 4
#define TCP_OFF_ACK 8
#define TCP_OFF_DOFF 12
#define TCP_OFF_FLAGS 13
#define TCP_OFF_CSUM 16
#define UDP_OFF_LEN 4
#define UDP_OFF_CSUM 6
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int vnet_hdr_parse(const uint8_t *b, size_t len, struct vnet_hdr *h)
{
	uint8_t gso;

	if (len < VNET_HDR_LEN)
		return -EINVAL;
	h->flags = b[0];
	h->gso_type = b[1];
	h->hdr_len = le16(b + 2);
	h->gso_size = le16(b + 4);
	h->csum_start = le16(b + 6);
	h->csum_offset = le16(b + 8);
	if (h->flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID))
		return -EINVAL;
	gso = h->gso_type & (uint8_t)~VNET_GSO_ECN;
	if (gso != VNET_GSO_NONE && gso != VNET_GSO_TCPV4 && gso != VNET_GSO_UDP &&
	    gso != VNET_GSO_TCPV6 && gso != VNET_GSO_UDP_L4)
		return -EINVAL;
	if (gso != VNET_GSO_NONE && h->gso_size == 0)
		return -EINVAL;
	if (gso == VNET_GSO_NONE && h->gso_type != VNET_GSO_NONE) /* ECN of no segmentation */
		return -EINVAL;
	return 0;
}

void vnet_hdr_write(uint8_t b[VNET_HDR_LEN], const struct vnet_hdr *h)
{
	b[0] = h->flags;
	b[1] = h->gso_type;
	put_le16(b + 2, h->hdr_len);
	put_le16(b + 4, h->gso_size);
	put_le16(b + 6, h->csum_start);
	put_le16(b + 8, h->csum_offset);
}

/* Words are added in host order: the one's complement sum of byte-swapped
 * words is the byte-swapped sum (RFC 1071, 2(B)), so vnet_csum_fold swaps
 * once at the end, and 32-bit loads halve the additions. */
uint64_t vnet_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint32_t w[8];
	uint16_t h;
	size_t i;

	while (len >= sizeof(w)) {
		memcpy(w, p, sizeof(w));
		for (i = 0; i < 8; i++)
			sum += w[i];
		p += sizeof(w);
		len -= sizeof(w);
	}
	while (len >= 4) {
		memcpy(w, p, 4);
		sum += w[0];
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		const uint8_t last[2] = { p[0], 0 };

		memcpy(&h, last, 2);
		sum += h;
	}
	return sum;
}

uint16_t vnet_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	sum = (sum & 0xffffu) + (sum >> 16);
	return ntohs((uint16_t)sum);
}

uint64_t vnet_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len)
{
	uint8_t ph[40];

	memcpy(ph, src, 16);
	memcpy(ph + 16, dst, 16);
	put32(ph + 32, len);
	memset(ph + 36, 0, 3);
	ph[39] = proto;
	return vnet_csum_add(0, ph, sizeof(ph));
}

int vnet_csum_complete(const struct vnet_hdr *h, uint8_t *pkt, size_t len)
{
	size_t at = (size_t)h->csum_start + h->csum_offset;
	uint16_t v;

	if (!(h->flags & VNET_F_NEEDS_CSUM))
		return 0;
	if (h->csum_start >= len || at + 2 > len)
		return -EINVAL;
	v = (uint16_t)~vnet_csum_fold(vnet_csum_add(0, pkt + h->csum_start, len - h->csum_start));
	/* UDP: 0 means "no checksum", which IPv6 forbids (RFC 8200, 8.1). */
	if (v == 0 && h->csum_offset == UDP_OFF_CSUM)
		v = 0xffff;
	put16(pkt + at, v);
	return 0;
}

/* The headers of an IPv6 super-packet of the kind h says: 0 and their
 * length in *hlen_out, or -errno. */
static int super_hlen(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t *hlen_out)
{
	uint8_t gso = h->gso_type & (uint8_t)~VNET_GSO_ECN;
	size_t hlen;

	if (len < IP6_HLEN || pkt[0] >> 4 != 6)
		return -EPROTONOSUPPORT;
	if ((size_t)get16(pkt + 4) + IP6_HLEN != len)
		return -EINVAL;
	if (gso == VNET_GSO_TCPV6 && pkt[6] == PROTO_TCP) {
		if (len < IP6_HLEN + TCP_MIN_HLEN)
			return -EINVAL;
		hlen = IP6_HLEN + (size_t)(pkt[IP6_HLEN + TCP_OFF_DOFF] >> 4) * 4;
		if (hlen < IP6_HLEN + TCP_MIN_HLEN)
			return -EINVAL;
	} else if (gso == VNET_GSO_UDP_L4 && pkt[6] == PROTO_UDP) {
		hlen = IP6_HLEN + UDP_HLEN;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (hlen > len)
		return -EINVAL;
	*hlen_out = hlen;
	return 0;
}

size_t vnet_split_count(const struct vnet_hdr *h, const uint8_t *pkt, size_t len)
{
	size_t hlen;

	if ((h->gso_type & (uint8_t)~VNET_GSO_ECN) == VNET_GSO_NONE)
		return 1;
	if (super_hlen(h, pkt, len, &hlen) < 0 || h->gso_size == 0)
		return 0;
	if (len == hlen)
		return 1;
	return (len - hlen + h->gso_size - 1) / h->gso_size;
}

/* Segment i of a super-packet: headers copied, lengths, sequence number,
 * flags and checksum its own. */
static void write_segment(const struct vnet_hdr *h, const uint8_t *pkt, size_t hlen,
			  size_t i, size_t nseg, size_t plen, uint8_t *d)
{
	size_t ulen = hlen - IP6_HLEN + plen; /* upper-layer bytes */
	uint8_t *l4 = d + IP6_HLEN;
	uint16_t v;

	memcpy(d, pkt, hlen);
	memcpy(d + hlen, pkt + hlen + i * h->gso_size, plen);
	put16(d + 4, (uint16_t)ulen);
	if (pkt[6] == PROTO_TCP) {
		put32(l4 + TCP_OFF_SEQ, get32(l4 + TCP_OFF_SEQ) + (uint32_t)(i * h->gso_size));
		/* FIN and PSH end the whole; CWR marks only its start
		 * (what the kernel's tcp_gso_segment does). */
		if (i + 1 < nseg)
			l4[TCP_OFF_FLAGS] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			l4[TCP_OFF_FLAGS] &= (uint8_t)~TCP_CWR;
		put16(l4 + TCP_OFF_CSUM, 0);
		v = (uint16_t)~vnet_csum_fold(vnet_csum_add(
			vnet_csum_pseudo6(d + 8, d + 24, PROTO_TCP, (uint32_t)ulen), l4, ulen));
		put16(l4 + TCP_OFF_CSUM, v);
	} else {
		put16(l4 + UDP_OFF_LEN, (uint16_t)ulen);
		put16(l4 + UDP_OFF_CSUM, 0);
		v = (uint16_t)~vnet_csum_fold(vnet_csum_add(
			vnet_csum_pseudo6(d + 8, d + 24, PROTO_UDP, (uint32_t)ulen), l4, ulen));
		put16(l4 + UDP_OFF_CSUM, v ? v : 0xffff);
	}
}

int vnet_split(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t max_len,
	       size_t *pos, struct tun_pkt *out, size_t n, size_t offset)
{
	size_t hlen, nseg, payload, i, k = 0;
	int rc;

	if (len == 0 || len > VNET_MAX_PKT_LEN)
		return -EINVAL;
	if ((h->gso_type & (uint8_t)~VNET_GSO_ECN) == VNET_GSO_NONE) {
		if (*pos > 0)
			return 0;
		if (len > max_len)
			return -EMSGSIZE;
		if (n == 0)
			return 0;
		if (!out[0].buf || out[0].cap < offset || out[0].cap - offset < len)
			return -EMSGSIZE;
		memcpy(out[0].buf + offset, pkt, len);
		rc = vnet_csum_complete(h, out[0].buf + offset, len);
		if (rc < 0)
			return rc;
		out[0].len = len;
		*pos = 1;
		return 1;
	}
	rc = super_hlen(h, pkt, len, &hlen);
	if (rc < 0)
		return rc;
	payload = len - hlen;
	nseg = vnet_split_count(h, pkt, len);
	if (hlen + (payload < h->gso_size ? payload : h->gso_size) > max_len)
		return -EMSGSIZE;
	for (i = *pos; i < nseg && k < n; i++, k++) {
		size_t plen = payload - i * h->gso_size;

		if (plen > h->gso_size)
			plen = h->gso_size;
		if (!out[k].buf || out[k].cap < offset || out[k].cap - offset < hlen + plen)
			return -EMSGSIZE;
		write_segment(h, pkt, hlen, i, nseg, plen, out[k].buf + offset);
		out[k].len = hlen + plen;
	}
	*pos = i;
	return (int)k;
}

/* The header fields of a TCP/IPv6 segment that GRO may coalesce: 0 and the
 * header length, or -1. */
static int tcp6_hlen(const uint8_t *pkt, size_t len, size_t *hlen_out)
{
	size_t hlen;

	if (len < IP6_HLEN + TCP_MIN_HLEN || pkt[0] >> 4 != 6 || pkt[6] != PROTO_TCP ||
	    (size_t)get16(pkt + 4) + IP6_HLEN != len)
		return -1;
	hlen = IP6_HLEN + (size_t)(pkt[IP6_HLEN + TCP_OFF_DOFF] >> 4) * 4;
	if (hlen < IP6_HLEN + TCP_MIN_HLEN || hlen >= len)
		return -1;
	*hlen_out = hlen;
	return 0;
}

bool vnet_gro_start(struct vnet_gro *g, uint8_t *pkt, size_t len)
{
	size_t hlen;
	uint8_t flags;

	if (tcp6_hlen(pkt, len, &hlen) < 0)
		return false;
	flags = pkt[IP6_HLEN + TCP_OFF_FLAGS];
	if ((flags & ~TCP_PSH) != TCP_ACK)
		return false;
	g->head = pkt;
	g->hlen = hlen;
	g->seg_len = len - hlen;
	g->total = len;
	g->next_seq = get32(pkt + IP6_HLEN + TCP_OFF_SEQ) + (uint32_t)g->seg_len;
	g->segs = 1;
	g->is_closed = flags & TCP_PSH;
	return true;
}

bool vnet_gro_append(struct vnet_gro *g, const uint8_t *pkt, size_t len)
{
	const uint8_t *a = g->head + IP6_HLEN, *b = pkt + IP6_HLEN;
	size_t hlen, payload;

	if (g->is_closed || tcp6_hlen(pkt, len, &hlen) < 0 || hlen != g->hlen)
		return false;
	payload = len - hlen;
	if (payload > g->seg_len || g->total + payload > VNET_MAX_PKT_LEN)
		return false;
	/* IPv6: version, class, flow label, next header, hop limit, addresses. */
	if (memcmp(pkt, g->head, 4) != 0 || memcmp(pkt + 6, g->head + 6, 34) != 0)
		return false;
	/* TCP: ports, ack, data offset, window, options; flags but PSH. */
	if (memcmp(b, a, 4) != 0 || get32(b + TCP_OFF_SEQ) != g->next_seq ||
	    memcmp(b + TCP_OFF_ACK, a + TCP_OFF_ACK, 5) != 0 ||
	    (b[TCP_OFF_FLAGS] & ~TCP_PSH) != a[TCP_OFF_FLAGS] ||
	    memcmp(b + 14, a + 14, 2) != 0 ||
	    memcmp(b + TCP_MIN_HLEN, a + TCP_MIN_HLEN, hlen - IP6_HLEN - TCP_MIN_HLEN) != 0)
		return false;
	g->total += payload;
	g->next_seq += (uint32_t)payload;
	g->segs++;
	if (payload < g->seg_len || (b[TCP_OFF_FLAGS] & TCP_PSH))
		g->is_closed = true;
	return true;
}

void vnet_gro_finish(struct vnet_gro *g, const uint8_t *last_seg, struct vnet_hdr *h)
{
	uint8_t *l4 = g->head + IP6_HLEN;
	size_t ulen = g->total - IP6_HLEN;

	memset(h, 0, sizeof(*h));
	if (g->segs < 2)
		return;
	put16(g->head + 4, (uint16_t)ulen);
	l4[TCP_OFF_FLAGS] |= last_seg[IP6_HLEN + TCP_OFF_FLAGS] & TCP_PSH;
	/* The partial checksum: the pseudo-header's sum, not complemented. */
	put16(l4 + TCP_OFF_CSUM,
	      vnet_csum_fold(vnet_csum_pseudo6(g->head + 8, g->head + 24, PROTO_TCP, (uint32_t)ulen)));
	h->flags = VNET_F_NEEDS_CSUM;
	h->gso_type = VNET_GSO_TCPV6;
	h->hdr_len = (uint16_t)g->hlen;
	h->gso_size = (uint16_t)g->seg_len;
	h->csum_start = IP6_HLEN;
	h->csum_offset = TCP_OFF_CSUM;
}
