/* dhtaddr: the per-window source address and port of a DHT node (see
 * dhtaddr.h). */
#include "mt6d/core/dhtaddr.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/derive.h"

static void draw(dhtaddr_random_fn *rng, void *buf, size_t len)
{
	if (rng)
		rng(buf, len);
	else
		randombytes_buf(buf, len);
}

int dhtaddr_draw(const uint8_t prefix[static 8], const uint8_t (*avoid)[DHTADDR_LEN], size_t n_avoid,
		 dhtaddr_random_fn *rng, uint8_t out[static DHTADDR_LEN])
{
	uint8_t a[DHTADDR_LEN];

	memcpy(a, prefix, 8);
	for (int i = 0; i < DHTADDR_MAX_DRAWS; i++) {
		bool is_taken = false;

		draw(rng, a + 8, 8);
		if (derive_iid_is_reserved(a + 8))
			continue;
		for (size_t j = 0; j < n_avoid && !is_taken; j++)
			is_taken = memcmp(avoid[j], a, DHTADDR_LEN) == 0;
		if (is_taken)
			continue;
		memcpy(out, a, DHTADDR_LEN);
		return 0;
	}
	return -EAGAIN;
}

uint16_t dhtaddr_draw_port(dhtaddr_random_fn *rng)
{
	uint64_t v;

	/* 64 bits modulo 64,512: the bias (below 2^-47) is no signal. */
	draw(rng, &v, sizeof(v));
	return (uint16_t)(DHTADDR_PORT_MIN + v % (65536u - DHTADDR_PORT_MIN));
}
