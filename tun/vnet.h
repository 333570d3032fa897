/* Offloads of a TUN with IFF_VNET_HDR: the virtio-net header in front of
 * every packet, the split of a TCP or UDP super-packet the kernel hands us
 * (TSO, USO) into packets of at most one MTU, and the coalescing of in-order
 * TCP segments of one flow into one super-packet the kernel takes back
 * (GRO). Pure: bytes in, bytes out, no system call.
 *
 * Only IPv6 is handled (the tunnel carries nothing else): a super-packet of
 * another kind, or with extension headers, is refused with -EPROTONOSUPPORT
 * and the caller drops it.
 *
 * Checksums as the kernel leaves them (Documentation/networking/
 * checksum-offloads.rst): a packet read with VNET_F_NEEDS_CSUM carries, at
 * csum_start + csum_offset, the folded sum of its pseudo-header; the split
 * writes every segment's full checksum, so what leaves the tunnel is a
 * valid packet whatever the receiver does. A coalesced packet goes back
 * with VNET_F_NEEDS_CSUM and its pseudo-header sum: the stack delivering it
 * locally trusts it, and a forwarding one computes each segment's. */
#ifndef MT6D_TUN_VNET_H
#define MT6D_TUN_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun/tun.h"

#define VNET_HDR_LEN 10          /* struct virtio_net_hdr, the TUN default size */
#define VNET_F_NEEDS_CSUM 1
#define VNET_F_DATA_VALID 2
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_UDP 3
#define VNET_GSO_TCPV6 4
#define VNET_GSO_UDP_L4 5
#define VNET_GSO_ECN 0x80
/* Largest packet a TUN hands over or takes with a GSO header. */
#define VNET_MAX_PKT_LEN 65535

struct vnet_hdr {
	uint8_t flags;        /* VNET_F_* */
	uint8_t gso_type;     /* VNET_GSO_* */
	uint16_t hdr_len;     /* bytes of headers (a hint, not trusted) */
	uint16_t gso_size;    /* payload bytes per segment */
	uint16_t csum_start;  /* where the checksummed part starts */
	uint16_t csum_offset; /* where, from csum_start, the checksum goes */
};

/* The header at b (VNET_HDR_LEN bytes, little-endian as on the TUN of a
 * little-endian host). Returns 0, or -EINVAL for flags or a GSO type this
 * code does not know. */
int vnet_hdr_parse(const uint8_t *b, size_t len, struct vnet_hdr *h);
void vnet_hdr_write(uint8_t b[VNET_HDR_LEN], const struct vnet_hdr *h);

/* Internet checksum (RFC 1071) helpers: a running 64-bit sum of bytes taken
 * as big-endian 16-bit words (an odd length pads with a zero byte), and its
 * fold to 16 bits (not complemented). */
uint64_t vnet_csum_add(uint64_t sum, const uint8_t *p, size_t len);
uint16_t vnet_csum_fold(uint64_t sum);
/* The IPv6 pseudo-header sum for an upper-layer packet of len bytes. */
uint64_t vnet_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len);

/* Completes the checksum of a packet the kernel left partial (csum_start,
 * csum_offset inside it). Returns 0 or -EINVAL. */
int vnet_csum_complete(const struct vnet_hdr *h, uint8_t *pkt, size_t len);

/* The packet pkt (len bytes, the vnet header already parsed into h) as
 * packets of at most max_len bytes each, checksums complete, from segment
 * *pos on: written to out[i].buf + offset (out[i].cap bytes there, headroom
 * included), lengths in out[i].len, at most n of them; *pos moves past the
 * last one written (a caller short of room sends what it has and calls
 * again until *pos reaches vnet_split_count). A packet without GSO is one
 * segment, copied as it is (its checksum completed when partial). Returns
 * the number written, or -EMSGSIZE (a segment above max_len or its
 * buffer), -EINVAL (a header that does not match the packet),
 * -EPROTONOSUPPORT (not IPv6 TCP or UDP without extension headers). */
int vnet_split(const struct vnet_hdr *h, const uint8_t *pkt, size_t len, size_t max_len,
	       size_t *pos, struct tun_pkt *out, size_t n, size_t offset);

/* Segments vnet_split makes of pkt: 1 when the header asks for no GSO, 0
 * when the packet does not match the header. */
size_t vnet_split_count(const struct vnet_hdr *h, const uint8_t *pkt, size_t len);

/* GRO: a run of in-order TCP/IPv6 segments of one flow that will go to the
 * TUN as one packet: the first segment's headers (rewritten by
 * vnet_gro_finish) followed by every segment's payload. */
struct vnet_gro {
	uint8_t *head;        /* the first segment, rewritten in place at the end */
	size_t hlen;          /* IPv6 + TCP header bytes, equal in every segment */
	size_t seg_len;       /* payload bytes of the first segment: the GSO size */
	size_t total;         /* bytes of the coalesced packet */
	uint32_t next_seq;    /* sequence number the next segment must have */
	unsigned segs;        /* segments in the run */
	bool is_closed;       /* a short or PSH segment ended it */
};

/* Starts a run at the segment pkt (len bytes, writable). Returns false when
 * it cannot start one (not TCP/IPv6, no payload, flags other than ACK and
 * PSH): the caller writes pkt as it is. */
bool vnet_gro_start(struct vnet_gro *g, uint8_t *pkt, size_t len);

/* Appends the segment pkt if it follows the run in sequence, in the same
 * flow with the same headers (flags and options equal, ACK number equal),
 * no longer than the first and within VNET_MAX_PKT_LEN. Returns whether it
 * did; its payload is then pkt + g->hlen. */
bool vnet_gro_append(struct vnet_gro *g, const uint8_t *pkt, size_t len);

/* Ends the run: with one segment, h says "no offload" and the packet is
 * untouched; with more, the head's lengths, PSH flag and checksum become
 * those of the coalesced packet and h its GSO header. */
void vnet_gro_finish(struct vnet_gro *g, const uint8_t *last_seg, struct vnet_hdr *h);

#endif
