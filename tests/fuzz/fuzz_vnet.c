/* libFuzzer harness for the TUN offloads (tun/vnet.h): arbitrary bytes as
 * one read from a TUN with a virtio-net header (what a local process can
 * make the kernel hand the daemon). A header that parses is split; every
 * segment must fit the MTU and its buffer, a TCP or UDP segment of a
 * super-packet must carry a valid checksum, and coalescing the segments
 * back must stay within 64 KiB and never take a segment out of order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/vnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MTU 1420
#define NSEG 64

static int l4_csum_ok(const uint8_t *p, size_t len)
{
	return vnet_csum_fold(vnet_csum_add(vnet_csum_pseudo6(p + 8, p + 24, p[6], (uint32_t)(len - 40)),
					    p + 40, len - 40)) == 0xffff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bufs[NSEG][MTU + 16];
	static uint8_t pkt[VNET_MAX_PKT_LEN];
	struct tun_pkt segs[NSEG];
	struct vnet_hdr h;
	struct vnet_gro g;
	size_t pos = 0, len, total = 0, i, nseg;
	int n;

	if (vnet_hdr_parse(data, size, &h) < 0)
		return 0;
	len = size - VNET_HDR_LEN;
	if (len > sizeof(pkt))
		return 0;
	memcpy(pkt, data + VNET_HDR_LEN, len);
	for (i = 0; i < NSEG; i++)
		segs[i] = (struct tun_pkt){ .buf = bufs[i], .cap = sizeof(bufs[i]) };
	nseg = vnet_split_count(&h, pkt, len);
	n = vnet_split(&h, pkt, len, MTU, &pos, segs, NSEG, 16);
	if (n < 0)
		return 0;
	if ((size_t)n > NSEG || pos > nseg)
		abort();
	for (i = 0; i < (size_t)n; i++) {
		if (segs[i].len > MTU || segs[i].len == 0)
			abort();
		if ((h.gso_type & ~VNET_GSO_ECN) != VNET_GSO_NONE &&
		    !l4_csum_ok(bufs[i] + 16, segs[i].len))
			abort();
		total += segs[i].len;
	}
	if (n > 0 && vnet_gro_start(&g, bufs[0] + 16, segs[0].len)) {
		for (i = 1; i < (size_t)n && vnet_gro_append(&g, bufs[i] + 16, segs[i].len); i++)
			;
		if (g.total > VNET_MAX_PKT_LEN || g.segs != i || g.total > total)
			abort();
		vnet_gro_finish(&g, bufs[i - 1] + 16, &h);
		if (g.segs > 1 && (h.gso_type != VNET_GSO_TCPV6 || h.gso_size == 0))
			abort();
	}
	return 0;
}
