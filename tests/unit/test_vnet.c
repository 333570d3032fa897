/* TUN offloads (tun/vnet.h): real TCP and UDP/IPv6 super-packets, built as
 * the kernel hands them over (partial checksum), split, checked segment by
 * segment like a receiver would, and coalesced back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>

#include "tun/vnet.h"

#define MSS 1348
#define SEG_CAP 2048
#define NSEG 64

static const uint8_t src[16] = { 0xfd, 0x6d, [15] = 0x0a };
static const uint8_t dst[16] = { 0xfd, 0x6d, [15] = 0x0b };

static uint8_t super[VNET_MAX_PKT_LEN];
static uint8_t seg_bufs[NSEG][SEG_CAP];
static struct tun_pkt segs[NSEG];

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* The IPv6 header of a packet of ulen upper-layer bytes. */
static void ip6(uint8_t *p, uint8_t proto, size_t ulen)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[1] = 0x02; /* a traffic class, so that it is compared */
	put16(p + 4, (unsigned)ulen);
	p[6] = proto;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
}

/* A TCP super-packet as the kernel's TSO hands it to a TUN: payload bytes
 * of a pattern, timestamps option, partial checksum. */
static size_t tcp_super(size_t payload, uint8_t flags, struct vnet_hdr *h)
{
	size_t hlen = 40 + 32, i;
	uint8_t *t = super + 40;

	ip6(super, 6, hlen - 40 + payload);
	memset(t, 0, 32);
	put16(t, 40000);
	put16(t + 2, 5001);
	t[4] = 0xff; t[5] = 0xff; t[6] = 0xf0; t[7] = 0x00; /* seq near the wrap */
	put16(t + 8, 0x1234);
	t[12] = 8 << 4;
	t[13] = flags;
	put16(t + 14, 512);
	t[20] = 1; t[21] = 1; t[22] = 8; t[23] = 10; /* NOP NOP TS */
	for (i = 24; i < 32; i++)
		t[i] = (uint8_t)i;
	for (i = 0; i < payload; i++)
		super[hlen + i] = (uint8_t)(i * 7 + i / 251);
	put16(t + 16, vnet_csum_fold(vnet_csum_pseudo6(src, dst, 6, (uint32_t)(hlen - 40 + payload))));
	*h = (struct vnet_hdr){ .flags = VNET_F_NEEDS_CSUM, .gso_type = VNET_GSO_TCPV6,
				.hdr_len = (uint16_t)hlen, .gso_size = MSS, .csum_start = 40,
				.csum_offset = 16 };
	return hlen + payload;
}

/* What a receiver checks: the upper-layer checksum of a packet sums to
 * all ones over the pseudo-header. */
static int l4_csum_ok(const uint8_t *p, size_t len)
{
	return vnet_csum_fold(vnet_csum_add(vnet_csum_pseudo6(p + 8, p + 24, p[6], (uint32_t)(len - 40)),
					    p + 40, len - 40)) == 0xffff;
}

static int setup_segs(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NSEG; i++)
		segs[i] = (struct tun_pkt){ .buf = seg_bufs[i], .cap = SEG_CAP };
	return 0;
}

static void test_checksum_of_rfc1071_example(void **state)
{
	/* RFC 1071, 3: the sum of these bytes is ddf2 (odd length too). */
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t odd[] = { 0x01, 0x02, 0x03 };

	(void)state;
	assert_int_equal(vnet_csum_fold(vnet_csum_add(0, b, sizeof(b))), 0xddf2);
	assert_int_equal(vnet_csum_fold(vnet_csum_add(0, odd, sizeof(odd))), 0x0402);
}

static void test_header_parse_and_write(void **state)
{
	struct vnet_hdr h = { .flags = 1, .gso_type = 4, .hdr_len = 72, .gso_size = 1348,
			      .csum_start = 40, .csum_offset = 16 }, back;
	uint8_t b[VNET_HDR_LEN];

	(void)state;
	vnet_hdr_write(b, &h);
	assert_int_equal(b[4] | b[5] << 8, 1348); /* little-endian on the TUN */
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &back), 0);
	assert_memory_equal(&h, &back, sizeof(h));
	assert_int_equal(vnet_hdr_parse(b, sizeof(b) - 1, &back), -EINVAL);
	b[1] = 9; /* unknown GSO type */
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &back), -EINVAL);
	b[1] = 4;
	b[4] = b[5] = 0; /* GSO with no segment size */
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &back), -EINVAL);
	b[1] = VNET_GSO_ECN; /* ECN without segmentation */
	b[4] = 0x44;
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &back), -EINVAL);
	b[1] = 4;
	b[0] = 0x40; /* unknown flag */
	assert_int_equal(vnet_hdr_parse(b, sizeof(b), &back), -EINVAL);
}

static void test_tso_split_makes_valid_segments(void **state)
{
	struct vnet_hdr h;
	size_t payload = 65000, len = tcp_super(payload, 0x18 /* ACK PSH */, &h), pos = 0, i;
	size_t nseg = (payload + MSS - 1) / MSS;
	int n;

	(void)state;
	assert_int_equal(vnet_split_count(&h, super, len), nseg);
	n = vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 16);
	assert_int_equal(n, (int)nseg);
	assert_int_equal(pos, nseg);
	for (i = 0; i < nseg; i++) {
		const uint8_t *p = seg_bufs[i] + 16;
		size_t plen = i + 1 < nseg ? MSS : payload - i * MSS;

		assert_int_equal(segs[i].len, 72 + plen);
		assert_int_equal(get16(p + 4), 32 + plen);
		assert_true(l4_csum_ok(p, segs[i].len));
		/* the sequence number wraps past 2^32 in the middle */
		assert_int_equal(get32(p + 44), (uint32_t)(0xfffff000u + i * MSS));
		assert_int_equal(p[53], i + 1 < nseg ? 0x10 : 0x18); /* PSH on the last only */
		assert_memory_equal(p + 72, super + 72 + i * MSS, plen);
	}
}

static void test_split_in_pieces_when_short_of_room(void **state)
{
	struct vnet_hdr h;
	size_t len = tcp_super(20 * MSS, 0x10, &h), pos = 0;

	(void)state;
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, 8, 0), 8);
	assert_int_equal(pos, 8);
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs + 8, 8, 0), 8);
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs + 16, 8, 0), 4);
	assert_int_equal(pos, 20);
	assert_int_equal(get32(seg_bufs[16] + 44), (uint32_t)(0xfffff000u + 16 * MSS));
	assert_true(l4_csum_ok(seg_bufs[19], segs[19].len));
}

static void test_split_refuses_what_it_cannot_carry(void **state)
{
	struct vnet_hdr h;
	size_t len = tcp_super(4 * MSS, 0x10, &h), pos = 0;

	(void)state;
	/* segments larger than the tunnel MTU */
	assert_int_equal(vnet_split(&h, super, len, 1400, &pos, segs, NSEG, 0), -EMSGSIZE);
	/* a length field that disagrees with the read */
	assert_int_equal(vnet_split(&h, super, len - 1, 1420, &pos, segs, NSEG, 0), -EINVAL);
	/* IPv4 TSO, and IPv6 with an extension header: not ours */
	h.gso_type = VNET_GSO_TCPV4;
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0), -EPROTONOSUPPORT);
	h.gso_type = VNET_GSO_TCPV6;
	super[6] = 0; /* hop-by-hop */
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0), -EPROTONOSUPPORT);
	/* a buffer too small for a segment */
	super[6] = 6;
	segs[0].cap = 100;
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0), -EMSGSIZE);
	segs[0].cap = SEG_CAP;
}

static void test_plain_packet_gets_its_checksum(void **state)
{
	struct vnet_hdr h;
	size_t len = tcp_super(100, 0x10, &h), pos = 0;

	(void)state;
	h.gso_type = VNET_GSO_NONE;
	h.gso_size = 0;
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 16), 1);
	assert_int_equal(segs[0].len, len);
	assert_true(l4_csum_ok(seg_bufs[0] + 16, len));
	/* a checksum position outside the packet */
	pos = 0;
	h.csum_offset = 2000;
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 16), -EINVAL);
	/* longer than the MTU without GSO */
	pos = 0;
	h.flags = 0;
	assert_int_equal(vnet_split(&h, super, len, 100, &pos, segs, NSEG, 16), -EMSGSIZE);
}

static void test_uso_split_makes_valid_datagrams(void **state)
{
	struct vnet_hdr h = { .flags = VNET_F_NEEDS_CSUM, .gso_type = VNET_GSO_UDP_L4,
			      .hdr_len = 48, .gso_size = 1200, .csum_start = 40, .csum_offset = 6 };
	size_t payload = 5000, len = 48 + payload, pos = 0, i;

	(void)state;
	ip6(super, 17, 8 + payload);
	put16(super + 40, 5353);
	put16(super + 42, 9);
	put16(super + 44, (unsigned)(8 + payload));
	for (i = 0; i < payload; i++)
		super[48 + i] = (uint8_t)(i ^ 0x5a);
	put16(super + 46, vnet_csum_fold(vnet_csum_pseudo6(src, dst, 17, (uint32_t)(8 + payload))));
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0), 5);
	for (i = 0; i < 5; i++) {
		size_t plen = i < 4 ? 1200 : 200;

		assert_int_equal(segs[i].len, 48 + plen);
		assert_int_equal(get16(seg_bufs[i] + 44), 8 + plen);
		assert_int_equal(get16(seg_bufs[i] + 4), 8 + plen);
		assert_true(l4_csum_ok(seg_bufs[i], segs[i].len));
		assert_memory_equal(seg_bufs[i] + 48, super + 48 + i * 1200, plen);
	}
}

/* Splits a super-packet, then coalesces the segments as the receiving end
 * does: one packet again, which the kernel would take with the header h. */
static void test_gro_coalesces_what_tso_split(void **state)
{
	struct vnet_hdr h, out;
	struct vnet_gro g;
	size_t payload = 30 * MSS + 77, len = tcp_super(payload, 0x18, &h), pos = 0, i, at;
	int n;
	static uint8_t joined[VNET_MAX_PKT_LEN];

	(void)state;
	n = vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0);
	assert_int_equal(n, 31);
	assert_true(vnet_gro_start(&g, seg_bufs[0], segs[0].len));
	for (i = 1; i < (size_t)n; i++)
		assert_true(vnet_gro_append(&g, seg_bufs[i], segs[i].len));
	assert_true(g.is_closed);
	vnet_gro_finish(&g, seg_bufs[n - 1], &out);
	assert_int_equal(out.gso_type, VNET_GSO_TCPV6);
	assert_int_equal(out.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(out.gso_size, MSS);
	assert_int_equal(out.hdr_len, 72);
	assert_int_equal(out.csum_start, 40);
	assert_int_equal(out.csum_offset, 16);
	/* The head's headers and every payload, in order: the super-packet
	 * again, PSH and its partial checksum included. */
	memcpy(joined, seg_bufs[0], segs[0].len);
	at = segs[0].len;
	for (i = 1; i < (size_t)n; i++) {
		memcpy(joined + at, seg_bufs[i] + 72, segs[i].len - 72);
		at += segs[i].len - 72;
	}
	assert_int_equal(at, len);
	assert_memory_equal(joined, super, len);
	/* and the kernel's checksum completion makes it valid */
	assert_int_equal(vnet_csum_complete(&out, joined, len), 0);
	assert_true(l4_csum_ok(joined, len));
}

static void test_gro_keeps_apart_what_differs(void **state)
{
	struct vnet_hdr h;
	struct vnet_gro g;
	size_t len = tcp_super(4 * MSS, 0x10, &h), pos = 0;

	(void)state;
	assert_int_equal(vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0), 4);
	/* out of order */
	assert_true(vnet_gro_start(&g, seg_bufs[0], segs[0].len));
	assert_false(vnet_gro_append(&g, seg_bufs[2], segs[2].len));
	/* another flow (port), another ACK number, another option, a hop limit */
	seg_bufs[1][41] ^= 1;
	assert_false(vnet_gro_append(&g, seg_bufs[1], segs[1].len));
	seg_bufs[1][41] ^= 1;
	seg_bufs[1][51] ^= 1;
	assert_false(vnet_gro_append(&g, seg_bufs[1], segs[1].len));
	seg_bufs[1][51] ^= 1;
	seg_bufs[1][71] ^= 1;
	assert_false(vnet_gro_append(&g, seg_bufs[1], segs[1].len));
	seg_bufs[1][71] ^= 1;
	seg_bufs[1][7]--;
	assert_false(vnet_gro_append(&g, seg_bufs[1], segs[1].len));
	seg_bufs[1][7]++;
	assert_true(vnet_gro_append(&g, seg_bufs[1], segs[1].len));
	/* a FIN is never coalesced, nor is anything after a short segment */
	seg_bufs[2][53] |= 0x01;
	assert_false(vnet_gro_append(&g, seg_bufs[2], segs[2].len));
	seg_bufs[2][53] &= (uint8_t)~0x01;
	assert_false(vnet_gro_start(&g, super, 60)); /* no payload: a pure ACK */
	seg_bufs[3][53] = 0x02; /* SYN */
	assert_false(vnet_gro_start(&g, seg_bufs[3], segs[3].len));
	/* a run of one is written as it came */
	assert_true(vnet_gro_start(&g, seg_bufs[2], segs[2].len));
	vnet_gro_finish(&g, seg_bufs[2], &h);
	assert_int_equal(h.gso_type, VNET_GSO_NONE);
	assert_int_equal(h.flags, 0);
	assert_true(l4_csum_ok(seg_bufs[2], segs[2].len));
}

static void test_gro_stops_at_64k(void **state)
{
	struct vnet_hdr h;
	struct vnet_gro g;
	size_t len = tcp_super(48 * MSS, 0x10, &h), pos = 0, i;
	int n;

	(void)state;
	n = vnet_split(&h, super, len, 1420, &pos, segs, NSEG, 0);
	assert_int_equal(n, 48);
	assert_true(vnet_gro_start(&g, seg_bufs[0], segs[0].len));
	for (i = 1; i < (size_t)n && vnet_gro_append(&g, seg_bufs[i], segs[i].len); i++)
		;
	assert_true(g.total <= VNET_MAX_PKT_LEN);
	assert_true(g.total + MSS > VNET_MAX_PKT_LEN);
	assert_int_equal(g.segs, i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_of_rfc1071_example),
		cmocka_unit_test(test_header_parse_and_write),
		cmocka_unit_test_setup(test_tso_split_makes_valid_segments, setup_segs),
		cmocka_unit_test_setup(test_split_in_pieces_when_short_of_room, setup_segs),
		cmocka_unit_test_setup(test_split_refuses_what_it_cannot_carry, setup_segs),
		cmocka_unit_test_setup(test_plain_packet_gets_its_checksum, setup_segs),
		cmocka_unit_test_setup(test_uso_split_makes_valid_datagrams, setup_segs),
		cmocka_unit_test_setup(test_gro_coalesces_what_tso_split, setup_segs),
		cmocka_unit_test_setup(test_gro_keeps_apart_what_differs, setup_segs),
		cmocka_unit_test_setup(test_gro_stops_at_64k, setup_segs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
