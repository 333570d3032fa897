/* libFuzzer harness for the session messages: every decoder on arbitrary
 * bytes, with the keys of the known-answer vectors so the seeds
 * (tests/fuzz/corpus/msg/: the vector request, response and teardown) reach
 * the authenticated paths; and a seal/open round trip of fields taken from
 * the input, which must give them back unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/core/msg.h"
#include "tests/unit/scripted_random.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KAT_NOW_MS UINT64_C(1767225600000)

static uint8_t c_priv[32], c_pub[32], s_priv[32], s_pub[32];
static struct msg_handshake client_hs;
static struct msg_session_keys client_keys, server_keys;
static struct msg_replay cache;
static struct msg_request kat_req;

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* The client's handshake of the vectors (e_c = 70.., N_c = d0..). */
static void kat_client_handshake(void)
{
	uint8_t e_c[32], n_c[16], rq[MSG_REQUEST_LEN];

	fill(e_c, 32, 0x70);
	fill(n_c, 16, 0xd0);
	scripted_random_push(e_c, 32);
	scripted_random_push(n_c, 16);
	if (msg_request_seal(&client_hs, c_priv, c_pub, s_pub, &kat_req, KAT_NOW_MS, rq,
			     sizeof(rq)) != MSG_REQUEST_LEN)
		abort();
}

static void init(void)
{
	struct msg_handshake hsv;
	struct msg_request got;
	struct msg_response resp = { .rotation_ms = 3000 }, rgot;
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN], e_c[32], n_c[16], e_s[32];

	scripted_random_install();
	if (sodium_init() < 0)
		abort();
	fill(c_priv, 32, 0x10);
	fill(s_priv, 32, 0x40);
	crypto_scalarmult_base(c_pub, c_priv);
	crypto_scalarmult_base(s_pub, s_priv);
	kat_req.client_id = 0x00abcd;
	msg_replay_init(&cache, MSG_DEFAULT_MAX_SKEW_MS);

	fill(e_c, 32, 0x70);
	fill(n_c, 16, 0xd0);
	fill(e_s, 32, 0xa0);
	scripted_random_push(e_c, 32);
	scripted_random_push(n_c, 16);
	if (msg_request_seal(&client_hs, c_priv, c_pub, s_pub, &kat_req, KAT_NOW_MS, rq,
			     sizeof(rq)) != MSG_REQUEST_LEN ||
	    msg_request_open(&cache, s_priv, s_pub, c_pub, KAT_NOW_MS, rq, sizeof(rq),
			     &got, &hsv) != 0)
		abort();
	scripted_random_push(e_s, 32);
	if (msg_response_seal(&hsv, &resp, rs, sizeof(rs), &server_keys) != MSG_RESPONSE_LEN ||
	    msg_response_open(&client_hs, c_priv, rs, sizeof(rs), &rgot, &client_keys) != 0)
		abort();
	kat_client_handshake();
}

static void round_trip(const uint8_t *data, size_t size)
{
	struct msg_request req, got;
	struct msg_response resp, rgot;
	struct msg_handshake hc, hsv;
	struct msg_session_keys kc, ks;
	uint8_t rq[MSG_REQUEST_LEN], rs[MSG_RESPONSE_LEN], td[MSG_TEARDOWN_LEN], reason;
	uint64_t now;

	if (size < 3 + 32 + 3 + 48 + 8 + 1)
		return;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.client_id = (uint32_t)data[0] << 16 | (uint32_t)data[1] << 8 | data[2];
	memcpy(req.seed_addr, data + 3, 16);
	memcpy(req.tunnel_addr, data + 19, 16);
	resp.rotation_ms = ((uint32_t)data[35] << 16 | (uint32_t)data[36] << 8 | data[37]) | 1;
	memcpy(resp.server_seed_addr, data + 38, 16);
	memcpy(resp.server_tunnel_addr, data + 54, 16);
	memcpy(resp.client_tunnel_addr, data + 70, 16);
	memcpy(&now, data + 86, 8);
	now = now % (UINT64_MAX / 2) + MSG_DEFAULT_MAX_SKEW_MS;
	msg_replay_init(&cache, MSG_DEFAULT_MAX_SKEW_MS);
	if (msg_request_seal(&hc, c_priv, c_pub, s_pub, &req, now, rq, sizeof(rq)) !=
		    MSG_REQUEST_LEN ||
	    msg_request_open(&cache, s_priv, s_pub, c_pub, now, rq, sizeof(rq), &got, &hsv) != 0 ||
	    got.client_id != req.client_id || got.timestamp_ms != now ||
	    memcmp(got.seed_addr, req.seed_addr, 16) || memcmp(got.tunnel_addr, req.tunnel_addr, 16))
		abort();
	if (msg_request_open(&cache, s_priv, s_pub, c_pub, now, rq, sizeof(rq), &got, &hsv) !=
	    MSG_ERR_REPLAY)
		abort();
	if (msg_response_seal(&hsv, &resp, rs, sizeof(rs), &ks) != MSG_RESPONSE_LEN ||
	    msg_response_open(&hc, c_priv, rs, sizeof(rs), &rgot, &kc) != 0 ||
	    rgot.rotation_ms != resp.rotation_ms ||
	    memcmp(rgot.server_seed_addr, resp.server_seed_addr, 16) ||
	    memcmp(rgot.server_tunnel_addr, resp.server_tunnel_addr, 16) ||
	    memcmp(rgot.client_tunnel_addr, resp.client_tunnel_addr, 16) ||
	    memcmp(kc.session, ks.session, 32) || memcmp(kc.tx, ks.rx, 32))
		abort();
	if (msg_teardown_seal(&kc, data[94], td, sizeof(td)) != MSG_TEARDOWN_LEN ||
	    msg_teardown_open(&ks, td, sizeof(td), &reason) != 0 || reason != data[94])
		abort();
	msg_replay_init(&cache, MSG_DEFAULT_MAX_SKEW_MS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct msg_handshake hsv;
	struct msg_request got;
	struct msg_response rgot;
	struct msg_session_keys keys;
	uint32_t id;
	uint8_t reason;
	int type, rc;

	if (!ready) {
		init();
		ready = 1;
	}
	type = msg_type(data, size);
	rc = msg_request_peek_id(data, size, &id);
	if ((rc == 0) != (type == MSG_TYPE_REQUEST))
		abort();

	/* Fresh cache, so the vector request authenticates every time. */
	msg_replay_init(&cache, MSG_DEFAULT_MAX_SKEW_MS);
	rc = msg_request_open(&cache, s_priv, s_pub, c_pub, KAT_NOW_MS, data, size, &got, &hsv);
	if (rc == 0)
		msg_handshake_wipe(&hsv);
	else if (rc > 0)
		abort();

	rc = msg_response_open(&client_hs, c_priv, data, size, &rgot, &keys);
	if (rc == 0)
		kat_client_handshake(); /* success wiped it */
	else if (rc > 0)
		abort();

	rc = msg_teardown_open(&server_keys, data, size, &reason);
	if (rc > 0)
		abort();
	rc = msg_teardown_open(&client_keys, data, size, &reason);
	if (rc == 0)
		abort(); /* our own teardown direction never opens our teardowns */

	{
		struct msg_rotation rot;

		rc = msg_rotation_open(&client_keys, data, size, &rot);
		if (rc > 0 || (rc == 0 && (rot.rotation_ms == 0 || rot.rotation_ms > MSG_ROTATION_MAX_MS)))
			abort();
		/* A rotation change never opens in the direction it is not sent. */
		if (msg_rotation_open(&server_keys, data, size, &rot) == 0 && rc == 0)
			abort();
	}

	round_trip(data, size);
	return 0;
}
