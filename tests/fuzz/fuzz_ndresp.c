/* libFuzzer harness for the scale-mode neighbour responder: ndresp_input on
 * arbitrary bytes as a received IPv6 packet. The responder's socket lives in
 * a private network namespace on lo (the fuzzer needs root); its set holds
 * the targets of the seed solicitations in tests/fuzz/corpus/ndresp/. Every
 * input must be counted exactly once, and an answer must be a well-formed
 * advertisement for an address of the set. */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "netlink/ndresp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const members[] = {
	"2001:db8:7::5eed:a", "2001:db8:7::5eed:c", "2001:db8:0:1:a1:5eed:1:1",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ndresp *r;
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	struct ndresp_stats before, after;
	uint8_t na[NDRESP_NA_LEN], dst_mac[6];
	struct in6_addr target;
	int rc;

	if (!r) {
		if (unshare(CLONE_NEWNET) < 0 || ndresp_new(1, &r) < 0) {
			fprintf(stderr, "fuzz_ndresp: needs root (private netns, packet socket)\n");
			abort();
		}
		for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
			struct in6_addr a;
			if (inet_pton(AF_INET6, members[i], &a) != 1 || ndresp_add(r, &a) != 0)
				abort();
		}
	}
	ndresp_get_stats(r, &before);
	rc = ndresp_input(r, data, size, mac, na, dst_mac);
	ndresp_get_stats(r, &after);
	if (rc != 0 && rc != 1)
		abort();
	if ((after.malformed - before.malformed) + (after.not_ours - before.not_ours) != (rc == 0 ? 1u : 0u))
		abort();
	if (rc == 1) {
		memcpy(&target, na + 48, 16);
		if (na[0] != 0x60 || na[6] != 58 || na[7] != 255 || na[40] != 136 ||
		    !ndresp_has(r, &target) || memcmp(na + 8, &target, 16) != 0)
			abort();
	}
	return 0;
}
