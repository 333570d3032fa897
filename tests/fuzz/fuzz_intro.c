/* libFuzzer harness for what the server reads from an introduction datagram
 * once it is authentic: the inner packet (intro_inner_parse), the request
 * checks (intro_check_request) with a fixed client, the IID lookup with an
 * attacker-chosen source IID, and the tunnel address plan's reverse lookup.
 * Invariants: a parsed inner packet rebuilds to the same bytes; a lookup
 * finds only what was put. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t c_priv[32], c_pub[32], s_priv[32], s_pub[32], c_iid[INTRO_IID_LEN];
static struct msg_replay cache;
static struct intro_map map;
static int is_ready;

static void setup(void)
{
	uint8_t sk[INTRO_SLOT_KEY_LEN], iid[INTRO_IID_LEN];
	uint32_t i;

	if (sodium_init() < 0)
		abort();
	memset(c_priv, 1, sizeof(c_priv));
	memset(s_priv, 2, sizeof(s_priv));
	keys_public_from_private(c_pub, c_priv);
	keys_public_from_private(s_pub, s_priv);
	memset(c_iid, 0x3c, sizeof(c_iid));
	msg_replay_init(&cache, MSG_DEFAULT_MAX_SKEW_MS);
	if (intro_map_init(&map, 64) < 0)
		abort();
	memset(sk, 9, sizeof(sk));
	for (i = 0; i < 64; i++) {
		memset(iid, (int)i + 1, sizeof(iid));
		intro_slot_iid(iid, iid, sk, 77);
		intro_map_put(&map, iid, i);
	}
	is_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in6_addr src, dst, prefix;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t again[2048];

	if (!is_ready)
		setup();
	if (size >= INTRO_IID_LEN) {
		int64_t v = intro_map_get(&map, data);

		if (v != -ENOENT && (v < 0 || v >= 64))
			abort();
	}
	if (size >= 32) {
		memcpy(&prefix, data, 16);
		memcpy(&dst, data + 16, 16);
		if (intro_tunnel_addr_id(&prefix, data[0] % 129, &dst) > 0xffffff)
			abort();
	}
	if (intro_inner_parse(data, size, &src, &dst, &payload, &payload_len) == 0) {
		struct msg_request req;
		struct msg_handshake hs;
		int n = intro_inner_build(again, sizeof(again), &src, &dst, payload, payload_len);

		if (size <= sizeof(again) && (n != (int)size || memcmp(again + 8, data + 8, 32) != 0 ||
					      memcmp(again + 40, data + 40, payload_len) != 0))
			abort();
		if (intro_check_request(&cache, s_priv, s_pub, 7, c_pub, c_iid, &src,
					UINT64_C(1767225600000), payload, payload_len, &req, &hs) == 0)
			msg_handshake_wipe(&hs);
	}
	return 0;
}
