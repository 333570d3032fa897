#include "mt6d/core/flowq.h"

#include <string.h>

#define IP6_HDR_LEN 40
#define NH_TCP 6
#define NH_UDP 17

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

unsigned flowq_pick(const uint8_t *pkt, size_t len, unsigned n_queues)
{
	uint64_t h;

	if (n_queues <= 1 || len < IP6_HDR_LEN || (pkt[0] >> 4) != 6)
		return 0;
	/* XOR: the same value with source and destination swapped. */
	h = load64(pkt + 8) ^ load64(pkt + 16) ^ load64(pkt + 24) ^ load64(pkt + 32);
	if ((pkt[6] == NH_TCP || pkt[6] == NH_UDP) && len >= IP6_HDR_LEN + 4) {
		uint16_t sport = (uint16_t)(pkt[IP6_HDR_LEN] << 8 | pkt[IP6_HDR_LEN + 1]);
		uint16_t dport = (uint16_t)(pkt[IP6_HDR_LEN + 2] << 8 | pkt[IP6_HDR_LEN + 3]);

		h ^= (uint64_t)(sport ^ dport) << 16 | pkt[6];
	}
	/* Fibonacci hashing: the high bits mix every input bit. */
	h *= UINT64_C(0x9E3779B97F4A7C15);
	return (unsigned)((h >> 32) % n_queues);
}
