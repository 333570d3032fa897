/* The cost of keeping MT6D addresses silent (mt6d/engine/guard.h): one
 * libnftables transaction per slot boundary that adds the endpoints of the
 * new slot of every tunnel of a daemon. Prints, for batches of N endpoints,
 * the median time of a commit over ROUNDS rounds and its cost per endpoint.
 *
 *   ip netns add gb && ip netns exec gb build/bench/bench_guard [ROUNDS]
 *
 * Needs CAP_NET_ADMIN; run it in a scratch namespace (it makes and removes
 * table inet mt6d-bench-lo). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ev.h>
#include <sodium.h>

#include "mt6d/engine/guard.h"
#include "netlink/nllink.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char *argv[])
{
	static const size_t sizes[] = { 1, 10, 100, 1000, 5000 };
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	struct nllink *nl = NULL;
	struct guard *g = NULL;
	uint64_t us[64];
	char msg[256] = "";
	size_t i, k;
	int r;

	if (rounds < 1 || rounds > 64 || sodium_init() < 0)
		return 2;
	if (nllink_new(&nl) < 0 ||
	    guard_new(ev_default_loop(0), nl, "bench", "lo", &g, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "bench_guard: %s (root, in a scratch namespace?)\n", msg);
		nllink_free(nl);
		return 1;
	}
	printf("%-10s %12s %16s\n", "endpoints", "commit_ms", "us_per_endpoint");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (r = 0; r < rounds; r++) {
			struct timespec t0, t1;

			for (k = 0; k < sizes[i]; k++) {
				struct in6_addr a = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8 } };

				randombytes_buf(a.s6_addr + 8, 8);
				guard_add_endpoint(g, &a, (uint16_t)(1024 + randombytes_uniform(64000)),
						   5000);
			}
			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (guard_flush(g) < 0) {
				fprintf(stderr, "bench_guard: commit of %zu refused\n", sizes[i]);
				guard_free(g);
				nllink_free(nl);
				return 1;
			}
			clock_gettime(CLOCK_MONOTONIC, &t1);
			us[r] = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
					   (t1.tv_nsec - t0.tv_nsec) / 1000);
		}
		qsort(us, (size_t)rounds, sizeof(us[0]), cmp_u64);
		printf("%-10zu %12.2f %16.2f\n", sizes[i], us[rounds / 2] / 1000.0,
		       (double)us[rounds / 2] / (double)sizes[i]);
	}
	guard_free(g);
	nllink_free(nl);
	return 0;
}
