#include "mt6d/core/msg.h"

#include <string.h>
#include <sodium.h>

#include "mt6d/core/hash.h"

/* Request: version, type, client id (u24), E_c | sealed payload | tag. */
#define REQ_HDR_LEN MSG_REQUEST_HEADER_LEN
#define REQ_OFF_ID 2
#define REQ_OFF_EPH 5
#define REQ_PAYLOAD_LEN 56
#define REQ_P_NONCE 0
#define REQ_P_TIME 16
#define REQ_P_SEED 24
#define REQ_P_TUNNEL 40

/* Response: version, type, E_s | sealed payload | tag. */
#define RESP_HDR_LEN 34
#define RESP_OFF_EPH 2
#define RESP_PAYLOAD_LEN 68
#define RESP_P_NONCE 0
#define RESP_P_ROT 16
#define RESP_P_RESERVED 19
#define RESP_P_SERVER_SEED 20
#define RESP_P_SERVER_TUNNEL 36
#define RESP_P_CLIENT_TUNNEL 52

/* Teardown: version, type, random nonce | sealed reason | tag. */
#define TD_HDR_LEN 26
#define TD_OFF_NONCE 2
#define TD_PAYLOAD_LEN 1

/* Rotation change: version, type, random nonce | sealed (Rot u24,
 * reserved, at_ms u64, seq u32) | tag. */
#define ROT_HDR_LEN 26
#define ROT_OFF_NONCE 2
#define ROT_PAYLOAD_LEN 16
#define ROT_P_ROT 0
#define ROT_P_AT 4
#define ROT_P_SEQ 12

#define TAG_LEN crypto_aead_chacha20poly1305_ietf_ABYTES

_Static_assert(REQ_HDR_LEN + REQ_PAYLOAD_LEN + TAG_LEN == MSG_REQUEST_LEN, "request size");
_Static_assert(RESP_HDR_LEN + RESP_PAYLOAD_LEN + TAG_LEN == MSG_RESPONSE_LEN, "response size");
_Static_assert(TD_HDR_LEN + TD_PAYLOAD_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
		       MSG_TEARDOWN_LEN, "teardown size");
_Static_assert(TD_HDR_LEN - TD_OFF_NONCE == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "teardown nonce");
_Static_assert(ROT_HDR_LEN + ROT_PAYLOAD_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
		       MSG_ROTATION_LEN, "rotation change size");
_Static_assert(sizeof(((struct msg_handshake *)0)->request_header) == REQ_HDR_LEN, "header");

/* The request and response keys are used for exactly one message each (they
 * depend on a fresh ephemeral key), so their AEAD nonce is constant zero. */
static const uint8_t zero_nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

static size_t expected_len(int type)
{
	switch (type) {
	case MSG_TYPE_REQUEST:
		return MSG_REQUEST_LEN;
	case MSG_TYPE_RESPONSE:
		return MSG_RESPONSE_LEN;
	case MSG_TYPE_ROTATION:
		return MSG_ROTATION_LEN;
	default:
		return MSG_TEARDOWN_LEN;
	}
}

int msg_type(const uint8_t *msg, size_t len)
{
	if (len < 2)
		return MSG_ERR_LENGTH;
	if (msg[0] != MT6D_PROTO_VERSION)
		return MSG_ERR_VERSION;
	if (msg[1] > MSG_TYPE_ROTATION)
		return MSG_ERR_TYPE;
	if (len != expected_len(msg[1]))
		return MSG_ERR_LENGTH;
	return msg[1];
}

static int expect_type(const uint8_t *msg, size_t len, int type)
{
	int rc = msg_type(msg, len);

	if (rc < 0)
		return rc;
	return rc == type ? 0 : MSG_ERR_TYPE;
}

/* X25519 that refuses a low-order peer key (all-zero shared secret). */
static int dh(uint8_t out[static MSG_KEY_LEN], const uint8_t priv[static MSG_KEY_LEN],
	      const uint8_t pub[static MSG_KEY_LEN])
{
	return crypto_scalarmult(out, priv, pub) == 0 ? 0 : MSG_ERR_AUTH;
}

static void derive_request_key(const struct msg_handshake *hs, uint8_t key_out[static 32])
{
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 request");
	hash_add(&ctx, hs->es, MSG_KEY_LEN);
	hash_add(&ctx, hs->ss, MSG_KEY_LEN);
	hash_add(&ctx, hs->client_pub, MSG_KEY_LEN);
	hash_add(&ctx, hs->server_pub, MSG_KEY_LEN);
	hash_add(&ctx, hs->request_header, REQ_HDR_LEN);
	hash_end(&ctx, key_out);
}

static void derive_label(const char *label, const uint8_t k[static MSG_KEY_LEN],
			 uint8_t out[static MSG_KEY_LEN])
{
	struct hash_ctx ctx;

	hash_begin(&ctx, label);
	hash_add(&ctx, k, MSG_KEY_LEN);
	hash_end(&ctx, out);
}

/* K_s and the response key from the four DH values; keys_out from K_s in the
 * point of view of hs's side. */
static void derive_session(const struct msg_handshake *hs, const uint8_t ee[static 32],
			   const uint8_t se[static 32], const uint8_t server_eph[static 32],
			   struct msg_session_keys *keys_out, uint8_t resp_key_out[static 32])
{
	struct msg_session_keys k;
	uint8_t c2s[MSG_KEY_LEN], s2c[MSG_KEY_LEN], td_c2s[MSG_KEY_LEN], td_s2c[MSG_KEY_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 session");
	hash_add(&ctx, ee, MSG_KEY_LEN);
	hash_add(&ctx, hs->es, MSG_KEY_LEN);
	hash_add(&ctx, se, MSG_KEY_LEN);
	hash_add(&ctx, hs->ss, MSG_KEY_LEN);
	hash_add(&ctx, hs->client_pub, MSG_KEY_LEN);
	hash_add(&ctx, hs->server_pub, MSG_KEY_LEN);
	hash_add(&ctx, hs->request_header, REQ_HDR_LEN);
	hash_add(&ctx, server_eph, MSG_KEY_LEN);
	hash_add(&ctx, hs->nonce, MSG_NONCE_LEN);
	hash_end(&ctx, k.session);

	derive_label("mt6d/1 response", k.session, resp_key_out);
	derive_label("mt6d/1 tunnel c2s", k.session, c2s);
	derive_label("mt6d/1 tunnel s2c", k.session, s2c);
	derive_label("mt6d/1 teardown c2s", k.session, td_c2s);
	derive_label("mt6d/1 teardown s2c", k.session, td_s2c);
	memcpy(k.tx, hs->is_client ? c2s : s2c, MSG_KEY_LEN);
	memcpy(k.rx, hs->is_client ? s2c : c2s, MSG_KEY_LEN);
	memcpy(k.teardown_tx, hs->is_client ? td_c2s : td_s2c, MSG_KEY_LEN);
	memcpy(k.teardown_rx, hs->is_client ? td_s2c : td_c2s, MSG_KEY_LEN);
	memcpy(keys_out, &k, sizeof(k));
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(c2s, sizeof(c2s));
	sodium_memzero(s2c, sizeof(s2c));
	sodium_memzero(td_c2s, sizeof(td_c2s));
	sodium_memzero(td_s2c, sizeof(td_s2c));
}

int msg_request_seal(struct msg_handshake *hs, const uint8_t client_priv[static MSG_KEY_LEN],
		     const uint8_t client_pub[static MSG_KEY_LEN],
		     const uint8_t server_pub[static MSG_KEY_LEN], const struct msg_request *req,
		     uint64_t now_ms, uint8_t *out, size_t out_len)
{
	struct msg_handshake h;
	uint8_t payload[REQ_PAYLOAD_LEN], key[MSG_KEY_LEN];
	int rc = -EINVAL;

	if (req->client_id > MSG_CLIENT_ID_MAX)
		return -EINVAL;
	if (out_len < MSG_REQUEST_LEN)
		return -EMSGSIZE;

	memset(&h, 0, sizeof(h));
	h.is_client = true;
	/* Order of random draws (test vectors rely on it): e_c, then N_c. */
	randombytes_buf(h.e_priv, MSG_KEY_LEN);
	randombytes_buf(h.nonce, MSG_NONCE_LEN);
	memcpy(h.client_pub, client_pub, MSG_KEY_LEN);
	memcpy(h.server_pub, server_pub, MSG_KEY_LEN);
	h.request_header[0] = MT6D_PROTO_VERSION;
	h.request_header[1] = MSG_TYPE_REQUEST;
	h.request_header[REQ_OFF_ID] = (uint8_t)(req->client_id >> 16);
	put_be16(h.request_header + REQ_OFF_ID + 1, (uint16_t)req->client_id);
	if (crypto_scalarmult_base(h.request_header + REQ_OFF_EPH, h.e_priv) != 0)
		goto cleanup;
	if (dh(h.es, h.e_priv, server_pub) < 0 || dh(h.ss, client_priv, server_pub) < 0)
		goto cleanup;
	derive_request_key(&h, key);

	memcpy(payload + REQ_P_NONCE, h.nonce, MSG_NONCE_LEN);
	put_be64(payload + REQ_P_TIME, now_ms);
	memcpy(payload + REQ_P_SEED, req->seed_addr, MSG_ADDR_LEN);
	memcpy(payload + REQ_P_TUNNEL, req->tunnel_addr, MSG_ADDR_LEN);
	memcpy(out, h.request_header, REQ_HDR_LEN);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + REQ_HDR_LEN, NULL, payload,
						  REQ_PAYLOAD_LEN, out, REQ_HDR_LEN, NULL,
						  zero_nonce, key);
	h.is_pending = true;
	memcpy(hs, &h, sizeof(h));
	rc = MSG_REQUEST_LEN;
cleanup:
	sodium_memzero(&h, sizeof(h));
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(key, sizeof(key));
	return rc;
}

int msg_request_peek_id(const uint8_t *msg, size_t len, uint32_t *client_id_out)
{
	int rc = expect_type(msg, len, MSG_TYPE_REQUEST);

	if (rc < 0)
		return rc;
	*client_id_out = (uint32_t)msg[REQ_OFF_ID] << 16 | get_be16(msg + REQ_OFF_ID + 1);
	return 0;
}

int msg_request_open(struct msg_replay *cache, const uint8_t server_priv[static MSG_KEY_LEN],
		     const uint8_t server_pub[static MSG_KEY_LEN],
		     const uint8_t client_pub[static MSG_KEY_LEN], uint64_t now_ms,
		     const uint8_t *msg, size_t len, struct msg_request *req_out,
		     struct msg_handshake *hs_out)
{
	struct msg_handshake h;
	struct msg_request req;
	uint8_t payload[REQ_PAYLOAD_LEN], key[MSG_KEY_LEN];
	int rc;

	rc = msg_request_peek_id(msg, len, &req.client_id);
	if (rc < 0)
		return rc;

	memset(&h, 0, sizeof(h));
	memcpy(h.client_pub, client_pub, MSG_KEY_LEN);
	memcpy(h.server_pub, server_pub, MSG_KEY_LEN);
	memcpy(h.request_header, msg, REQ_HDR_LEN);
	rc = MSG_ERR_AUTH;
	if (dh(h.es, server_priv, msg + REQ_OFF_EPH) < 0 || dh(h.ss, server_priv, client_pub) < 0)
		goto cleanup;
	derive_request_key(&h, key);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(payload, NULL, NULL, msg + REQ_HDR_LEN,
						      len - REQ_HDR_LEN, msg, REQ_HDR_LEN,
						      zero_nonce, key) != 0)
		goto cleanup;

	memcpy(req.nonce, payload + REQ_P_NONCE, MSG_NONCE_LEN);
	req.timestamp_ms = get_be64(payload + REQ_P_TIME);
	memcpy(req.seed_addr, payload + REQ_P_SEED, MSG_ADDR_LEN);
	memcpy(req.tunnel_addr, payload + REQ_P_TUNNEL, MSG_ADDR_LEN);
	/* Only authentic requests reach the cache, so forgeries cannot fill it. */
	rc = msg_replay_check_and_add(cache, req.timestamp_ms, now_ms);
	if (rc < 0)
		goto cleanup;

	memcpy(h.nonce, req.nonce, MSG_NONCE_LEN);
	h.is_pending = true;
	memcpy(hs_out, &h, sizeof(h));
	memcpy(req_out, &req, sizeof(req));
	rc = 0;
cleanup:
	sodium_memzero(&h, sizeof(h));
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(key, sizeof(key));
	return rc;
}

int msg_response_seal(struct msg_handshake *hs, const struct msg_response *resp,
		      uint8_t *out, size_t out_len, struct msg_session_keys *keys_out)
{
	uint8_t e_priv[MSG_KEY_LEN], e_pub[MSG_KEY_LEN], ee[MSG_KEY_LEN], se[MSG_KEY_LEN];
	uint8_t payload[RESP_PAYLOAD_LEN], key[MSG_KEY_LEN];
	struct msg_session_keys keys;
	int rc = -EINVAL;

	if (!hs->is_pending || hs->is_client || resp->rotation_ms == 0 ||
	    resp->rotation_ms > MSG_ROTATION_MAX_MS)
		return -EINVAL;
	if (out_len < MSG_RESPONSE_LEN)
		return -EMSGSIZE;

	randombytes_buf(e_priv, MSG_KEY_LEN);
	if (crypto_scalarmult_base(e_pub, e_priv) != 0 ||
	    dh(ee, e_priv, hs->request_header + REQ_OFF_EPH) < 0 ||
	    dh(se, e_priv, hs->client_pub) < 0)
		goto cleanup;
	derive_session(hs, ee, se, e_pub, &keys, key);

	memcpy(payload + RESP_P_NONCE, hs->nonce, MSG_NONCE_LEN);
	payload[RESP_P_ROT] = (uint8_t)(resp->rotation_ms >> 16);
	put_be16(payload + RESP_P_ROT + 1, (uint16_t)resp->rotation_ms);
	payload[RESP_P_RESERVED] = 0;
	memcpy(payload + RESP_P_SERVER_SEED, resp->server_seed_addr, MSG_ADDR_LEN);
	memcpy(payload + RESP_P_SERVER_TUNNEL, resp->server_tunnel_addr, MSG_ADDR_LEN);
	memcpy(payload + RESP_P_CLIENT_TUNNEL, resp->client_tunnel_addr, MSG_ADDR_LEN);
	out[0] = MT6D_PROTO_VERSION;
	out[1] = MSG_TYPE_RESPONSE;
	memcpy(out + RESP_OFF_EPH, e_pub, MSG_KEY_LEN);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + RESP_HDR_LEN, NULL, payload,
						  RESP_PAYLOAD_LEN, out, RESP_HDR_LEN, NULL,
						  zero_nonce, key);
	memcpy(keys_out, &keys, sizeof(keys));
	msg_handshake_wipe(hs);
	rc = MSG_RESPONSE_LEN;
cleanup:
	sodium_memzero(e_priv, sizeof(e_priv));
	sodium_memzero(ee, sizeof(ee));
	sodium_memzero(se, sizeof(se));
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&keys, sizeof(keys));
	return rc;
}

int msg_response_open(struct msg_handshake *hs, const uint8_t client_priv[static MSG_KEY_LEN],
		      const uint8_t *msg, size_t len, struct msg_response *resp_out,
		      struct msg_session_keys *keys_out)
{
	uint8_t ee[MSG_KEY_LEN], se[MSG_KEY_LEN], payload[RESP_PAYLOAD_LEN], key[MSG_KEY_LEN];
	struct msg_session_keys keys;
	struct msg_response resp;
	int rc;

	rc = expect_type(msg, len, MSG_TYPE_RESPONSE);
	if (rc < 0)
		return rc;
	if (!hs->is_pending || !hs->is_client)
		return -EINVAL;

	rc = MSG_ERR_AUTH;
	if (dh(ee, hs->e_priv, msg + RESP_OFF_EPH) < 0 || dh(se, client_priv, msg + RESP_OFF_EPH) < 0)
		goto cleanup;
	derive_session(hs, ee, se, msg + RESP_OFF_EPH, &keys, key);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(payload, NULL, NULL, msg + RESP_HDR_LEN,
						      len - RESP_HDR_LEN, msg, RESP_HDR_LEN,
						      zero_nonce, key) != 0)
		goto cleanup;
	/* N_c is in K_s already, so a response to another request cannot
	 * authenticate; the echo is checked as well, as the format promises. */
	if (sodium_memcmp(payload + RESP_P_NONCE, hs->nonce, MSG_NONCE_LEN) != 0)
		goto cleanup;

	resp.rotation_ms = (uint32_t)payload[RESP_P_ROT] << 16 | get_be16(payload + RESP_P_ROT + 1);
	memcpy(resp.server_seed_addr, payload + RESP_P_SERVER_SEED, MSG_ADDR_LEN);
	memcpy(resp.server_tunnel_addr, payload + RESP_P_SERVER_TUNNEL, MSG_ADDR_LEN);
	memcpy(resp.client_tunnel_addr, payload + RESP_P_CLIENT_TUNNEL, MSG_ADDR_LEN);
	if (resp.rotation_ms == 0) {
		rc = -EINVAL;
		goto cleanup;
	}
	memcpy(resp_out, &resp, sizeof(resp));
	memcpy(keys_out, &keys, sizeof(keys));
	msg_handshake_wipe(hs);
	rc = 0;
cleanup:
	sodium_memzero(ee, sizeof(ee));
	sodium_memzero(se, sizeof(se));
	sodium_memzero(payload, sizeof(payload));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&keys, sizeof(keys));
	return rc;
}

int msg_teardown_seal(const struct msg_session_keys *keys, uint8_t reason, uint8_t *out,
		      size_t out_len)
{
	if (out_len < MSG_TEARDOWN_LEN)
		return -EMSGSIZE;
	out[0] = MT6D_PROTO_VERSION;
	out[1] = MSG_TYPE_TEARDOWN;
	/* A random 192-bit nonce: unique under the session's teardown key however
	 * many teardowns are sent, with no state to keep. */
	randombytes_buf(out + TD_OFF_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + TD_HDR_LEN, NULL, &reason, 1, out,
						   TD_HDR_LEN, NULL, out + TD_OFF_NONCE,
						   keys->teardown_tx);
	return MSG_TEARDOWN_LEN;
}

int msg_teardown_open(const struct msg_session_keys *keys, const uint8_t *msg, size_t len,
		      uint8_t *reason_out)
{
	uint8_t reason;
	int rc = expect_type(msg, len, MSG_TYPE_TEARDOWN);

	if (rc < 0)
		return rc;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(&reason, NULL, NULL, msg + TD_HDR_LEN,
						       len - TD_HDR_LEN, msg, TD_HDR_LEN,
						       msg + TD_OFF_NONCE, keys->teardown_rx) != 0)
		return MSG_ERR_AUTH;
	*reason_out = reason;
	return 0;
}

int msg_rotation_seal(const struct msg_session_keys *keys, const struct msg_rotation *rot,
		      uint8_t *out, size_t out_len)
{
	uint8_t p[ROT_PAYLOAD_LEN] = { 0 };

	if (out_len < MSG_ROTATION_LEN)
		return -EMSGSIZE;
	if (rot->rotation_ms == 0 || rot->rotation_ms > MSG_ROTATION_MAX_MS || rot->seq == 0)
		return -EINVAL;
	p[ROT_P_ROT] = (uint8_t)(rot->rotation_ms >> 16);
	put_be16(p + ROT_P_ROT + 1, (uint16_t)rot->rotation_ms);
	put_be64(p + ROT_P_AT, rot->at_ms);
	put_be32(p + ROT_P_SEQ, rot->seq);
	out[0] = MT6D_PROTO_VERSION;
	out[1] = MSG_TYPE_ROTATION;
	/* Random 192-bit nonce, as for teardowns under the same key; the type
	 * byte in the associated data keeps the two apart. */
	randombytes_buf(out + ROT_OFF_NONCE, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + ROT_HDR_LEN, NULL, p, sizeof(p), out,
						   ROT_HDR_LEN, NULL, out + ROT_OFF_NONCE,
						   keys->teardown_tx);
	return MSG_ROTATION_LEN;
}

int msg_rotation_open(const struct msg_session_keys *keys, const uint8_t *msg, size_t len,
		      struct msg_rotation *rot_out)
{
	uint8_t p[ROT_PAYLOAD_LEN];
	struct msg_rotation r;
	int rc = expect_type(msg, len, MSG_TYPE_ROTATION);

	if (rc < 0)
		return rc;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, msg + ROT_HDR_LEN,
						       len - ROT_HDR_LEN, msg, ROT_HDR_LEN,
						       msg + ROT_OFF_NONCE, keys->teardown_rx) != 0)
		return MSG_ERR_AUTH;
	r.rotation_ms = (uint32_t)p[ROT_P_ROT] << 16 | get_be16(p + ROT_P_ROT + 1);
	r.at_ms = get_be64(p + ROT_P_AT);
	r.seq = get_be32(p + ROT_P_SEQ);
	if (r.rotation_ms == 0)
		return -EINVAL;
	*rot_out = r;
	return 0;
}

int msg_rotation_check(uint32_t last_seq, const struct msg_rotation *rot, uint64_t now_ms,
		       uint64_t max_skew_ms)
{
	/* Strictly newer: the server numbers its changes, so a captured older
	 * change (or one applied already) can never switch Rot again, whatever
	 * its instant (issue 13: a replay within +-60 s used to be applied). */
	if (rot->seq <= last_seq)
		return MSG_ERR_REPLAY;
	if ((rot->at_ms < now_ms && now_ms - rot->at_ms > max_skew_ms) ||
	    (rot->at_ms > now_ms && rot->at_ms - now_ms > max_skew_ms))
		return MSG_ERR_STALE;
	return 0;
}

void msg_handshake_wipe(struct msg_handshake *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

void msg_session_keys_wipe(struct msg_session_keys *keys)
{
	sodium_memzero(keys, sizeof(*keys));
}

void msg_replay_init(struct msg_replay *cache, uint64_t max_skew_ms)
{
	cache->max_skew_ms = max_skew_ms;
	cache->latest_ms = 0;
}

int msg_replay_check_and_add(struct msg_replay *cache, uint64_t timestamp_ms, uint64_t now_ms)
{
	/* Written to avoid unsigned wrap: |timestamp - now| <= max_skew. */
	if ((timestamp_ms < now_ms && now_ms - timestamp_ms > cache->max_skew_ms) ||
	    (timestamp_ms > now_ms && timestamp_ms - now_ms > cache->max_skew_ms))
		return MSG_ERR_STALE;
	/* WireGuard's rule for its TAI64N timestamps: only a request newer than
	 * every one accepted from this client. The client seals each attempt
	 * afresh with its clock in ms, so its own retries always pass. */
	if (timestamp_ms <= cache->latest_ms)
		return MSG_ERR_REPLAY;
	cache->latest_ms = timestamp_ms;
	return 0;
}

const char *msg_strerror(int rc)
{
	switch (rc) {
	case 0: return "valid";
	case MSG_ERR_LENGTH: return "truncated or oversized message";
	case MSG_ERR_VERSION: return "protocol version not ours";
	case MSG_ERR_TYPE: return "unknown or unexpected message type";
	case MSG_ERR_AUTH: return "not authentic (wrong key, forged or modified)";
	case MSG_ERR_STALE: return "timestamp outside the accepted clock skew";
	case MSG_ERR_REPLAY: return "replayed or older (not newer than the latest accepted)";
	default: return strerror(-rc);
	}
}
