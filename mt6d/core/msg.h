/* Session-establishment messages (docs/PROTOCOL.md, "Session messages"):
 * 0 request (client -> server), 1 response (server -> client), 2 teardown
 * (either way), 3 rotation change (server -> client, inside a session). Encoded and decoded in caller buffers, fixed sizes, no
 * allocation, no clock reads (time is a parameter).
 *
 * The handshake, in one line: the client sends a fresh ephemeral E_c and a
 * fresh nonce N_c, sealed under a key from X25519(E_c, S) and X25519(C, S);
 * the server answers with its ephemeral E_s and N_c echoed, sealed under a
 * key derived from the session key
 *   K_s = H_"mt6d/1 session"(ee || es || se || ss || C || S || R0 || E_s || N_c)
 * which mixes both ephemeral secrets: a later theft of a static private key
 * reveals no past K_s (forward secrecy). Per-direction tunnel keys for wire.h
 * and teardown keys are derived from K_s.
 *
 * Server flow: msg_type -> msg_request_peek_id -> (look up the client's
 * public key by id) -> msg_request_open -> msg_response_seal. Any error: send
 * nothing at all. Client flow: msg_request_seal -> send -> msg_response_open
 * on every candidate reply (a failure leaves the handshake usable). */
#ifndef MT6D_MSG_H
#define MT6D_MSG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_KEY_LEN 32
#define MSG_NONCE_LEN 16
#define MSG_ADDR_LEN 16 /* IPv6 address, network byte order */

#define MSG_TYPE_REQUEST 0
#define MSG_TYPE_RESPONSE 1
#define MSG_TYPE_TEARDOWN 2
#define MSG_TYPE_ROTATION 3

/* Every message has exactly this length; anything else is refused. */
#define MSG_REQUEST_LEN 109
#define MSG_RESPONSE_LEN 118
#define MSG_TEARDOWN_LEN 43
#define MSG_ROTATION_LEN 58
#define MSG_MAX_LEN MSG_RESPONSE_LEN
#define MSG_REQUEST_HEADER_LEN 37 /* clear part of a request: R0 */

#define MSG_CLIENT_ID_MAX 0xffffffu   /* 24-bit wire field */
#define MSG_ROTATION_MAX_MS 0xffffffu /* 24-bit wire field, about 4.6 hours */

/* Teardown reasons (any value is carried; these are the defined ones). */
#define MSG_TEARDOWN_SHUTDOWN 0
#define MSG_TEARDOWN_REVOKED 1
#define MSG_TEARDOWN_IDLE 2
#define MSG_TEARDOWN_REPLACED 3
#define MSG_TEARDOWN_ROAMING 4

/* Decoder results, negative errno values, distinct so each can be counted
 * and audited: */
#define MSG_ERR_LENGTH (-EMSGSIZE)          /* truncated or oversized */
#define MSG_ERR_VERSION (-EPROTONOSUPPORT)  /* version byte is not ours */
#define MSG_ERR_TYPE (-ENOMSG)              /* unknown type, or not the one expected */
#define MSG_ERR_AUTH (-EBADMSG)             /* not authentic (wrong key, forged, modified) */
#define MSG_ERR_STALE (-ESTALE)             /* timestamp or instant outside the accepted range */
#define MSG_ERR_REPLAY (-EALREADY)          /* not newer than the last accepted one */
/* -EINVAL: bad argument to an encoder, or an authentic message whose content
 * is invalid (rotation period 0). */

/* The server's memory of one client's requests (WireGuard's TAI64N rule,
 * per client): a request is accepted only if its timestamp is within
 * max_skew_ms of the server's clock and strictly greater than the greatest
 * timestamp accepted from that client so far. 16 bytes per client, no
 * shared state: a storm of other clients' requests cannot push a lagging
 * client out of anything (the 4,096-entry global cache it replaces made
 * clients a few seconds behind STALE during a 15,000-client re-key). A
 * replay is never newer than its original, so it is always refused. */
#define MSG_DEFAULT_MAX_SKEW_MS 30000

struct msg_replay {
	uint64_t max_skew_ms;       /* accepted |client clock - server clock| */
	uint64_t latest_ms;         /* greatest timestamp accepted (0: none yet) */
};

/* Content of a request (msg 0). */
struct msg_request {
	uint32_t client_id;                 /* registered id, 24 bits */
	uint64_t timestamp_ms;              /* client clock, Unix time in ms */
	uint8_t nonce[MSG_NONCE_LEN];       /* N_c; drawn by msg_request_seal */
	uint8_t seed_addr[MSG_ADDR_LEN];    /* client's /64 prefix || C_IID */
	uint8_t tunnel_addr[MSG_ADDR_LEN];  /* tunnel address the client asks for */
};

/* Content of a response (msg 1). */
struct msg_response {
	uint32_t rotation_ms;                     /* Rot of the session, 1..2^24-1 */
	uint8_t server_seed_addr[MSG_ADDR_LEN];   /* server side's seed address */
	uint8_t server_tunnel_addr[MSG_ADDR_LEN]; /* what applications connect to */
	uint8_t client_tunnel_addr[MSG_ADDR_LEN]; /* granted to the client */
};

/* Keys of one established session, from the point of view of one side. */
struct msg_session_keys {
	uint8_t session[MSG_KEY_LEN];     /* K_s: rotation key of the session's addresses */
	uint8_t tx[MSG_KEY_LEN];          /* wire.h direction key of what we send */
	uint8_t rx[MSG_KEY_LEN];          /* wire.h direction key of what we receive */
	uint8_t teardown_tx[MSG_KEY_LEN];
	uint8_t teardown_rx[MSG_KEY_LEN];
};

/* Handshake state between a request and its response (secret; wipe it). */
struct msg_handshake {
	uint8_t e_priv[MSG_KEY_LEN];      /* client: its ephemeral secret */
	uint8_t es[MSG_KEY_LEN];          /* X25519(e_c, S) */
	uint8_t ss[MSG_KEY_LEN];          /* X25519(c, S) */
	uint8_t client_pub[MSG_KEY_LEN];
	uint8_t server_pub[MSG_KEY_LEN];
	uint8_t request_header[MSG_REQUEST_HEADER_LEN]; /* R0: version, type, client id, E_c */
	uint8_t nonce[MSG_NONCE_LEN];     /* N_c */
	bool is_client;
	bool is_pending;                  /* a response may still be sealed/opened */
};

/* Type of a message (MSG_TYPE_*), or MSG_ERR_LENGTH (shorter than 2 bytes or
 * not the length of its type), MSG_ERR_VERSION, MSG_ERR_TYPE. */
int msg_type(const uint8_t *msg, size_t len);

/* Client: draws a fresh ephemeral key and N_c (randombytes), seals a request
 * with req->client_id, seed_addr, tunnel_addr and now_ms as timestamp into
 * out (out_len >= MSG_REQUEST_LEN). hs receives what msg_response_open needs
 * (a previous handshake in it is replaced: only the latest request counts).
 * Returns MSG_REQUEST_LEN, or -EINVAL (client id over 24 bits, bad key),
 * -EMSGSIZE. Never resend with a new timestamp without calling it again. */
int msg_request_seal(struct msg_handshake *hs, const uint8_t client_priv[static MSG_KEY_LEN],
		     const uint8_t client_pub[static MSG_KEY_LEN],
		     const uint8_t server_pub[static MSG_KEY_LEN], const struct msg_request *req,
		     uint64_t now_ms, uint8_t *out, size_t out_len);

/* Server: the client id in a request, so the caller can look up its public
 * key. Returns 0, or MSG_ERR_LENGTH, MSG_ERR_VERSION, MSG_ERR_TYPE. Nothing
 * is authentic yet. */
int msg_request_peek_id(const uint8_t *msg, size_t len, uint32_t *client_id_out);

/* Server: authenticates and decrypts a request from the client whose public
 * key is client_pub, then checks freshness and replay against cache, that
 * client's own (raising its latest timestamp on success). On success returns 0 and fills req_out and hs_out (for
 * msg_response_seal); else MSG_ERR_* and nothing is written or cached. */
int msg_request_open(struct msg_replay *cache, const uint8_t server_priv[static MSG_KEY_LEN],
		     const uint8_t server_pub[static MSG_KEY_LEN],
		     const uint8_t client_pub[static MSG_KEY_LEN], uint64_t now_ms,
		     const uint8_t *msg, size_t len, struct msg_request *req_out,
		     struct msg_handshake *hs_out);

/* Server: draws its ephemeral key, derives the session keys and seals the
 * response to hs's request into out (out_len >= MSG_RESPONSE_LEN). Wipes hs.
 * Returns MSG_RESPONSE_LEN, or -EINVAL (no pending server handshake, rotation
 * period 0 or over 24 bits), -EMSGSIZE. */
int msg_response_seal(struct msg_handshake *hs, const struct msg_response *resp,
		      uint8_t *out, size_t out_len, struct msg_session_keys *keys_out);

/* Client: opens a response to the request in hs. On success returns 0, fills
 * resp_out and keys_out and wipes hs; on failure (MSG_ERR_*, -EINVAL for
 * rotation 0 or no pending client handshake) hs stays usable. */
int msg_response_open(struct msg_handshake *hs, const uint8_t client_priv[static MSG_KEY_LEN],
		      const uint8_t *msg, size_t len, struct msg_response *resp_out,
		      struct msg_session_keys *keys_out);

/* Either side: seals a teardown of the session into out (out_len >=
 * MSG_TEARDOWN_LEN) with a random nonce. Returns MSG_TEARDOWN_LEN or -EMSGSIZE. */
int msg_teardown_seal(const struct msg_session_keys *keys, uint8_t reason, uint8_t *out,
		      size_t out_len);

/* Either side: opens a teardown from the peer of this session. Returns 0 and
 * the reason, or MSG_ERR_*. A teardown is valid only under this session's
 * keys; the receiver ends the session (wiping its keys) on the first one, so
 * a replayed copy has no session left to open under. */
int msg_teardown_open(const struct msg_session_keys *keys, const uint8_t *msg, size_t len,
		      uint8_t *reason_out);

/* A rotation change (msg 3). */
struct msg_rotation {
	uint32_t seq;               /* 1, 2, ... per session, one per change (copies share it) */
	uint32_t rotation_ms;       /* the new Rot, 1..2^24-1 */
	uint64_t at_ms;             /* UNIX ms from which it applies */
};

/* Server: seals rotation change rot of the session into out (out_len >=
 * MSG_ROTATION_LEN): from the wall-clock instant rot->at_ms (a slot
 * boundary of the current period) on, the session's addresses rotate every
 * rot->rotation_ms. rot->seq numbers the session's changes from 1; copies of
 * one change resent carry the same seq. Random nonce, under the server's
 * teardown key. Returns MSG_ROTATION_LEN, -EINVAL (rotation 0 or over 24
 * bits, seq 0) or -EMSGSIZE. */
int msg_rotation_seal(const struct msg_session_keys *keys, const struct msg_rotation *rot,
		      uint8_t *out, size_t out_len);

/* Client: opens a rotation change from the server of this session. Returns 0
 * and the change, MSG_ERR_*, or -EINVAL (authentic, period 0). Authentic is
 * not enough to apply it: see msg_rotation_check. */
int msg_rotation_open(const struct msg_session_keys *keys, const uint8_t *msg, size_t len,
		      struct msg_rotation *rot_out);

/* Client: whether to apply an authentic rotation change rot at now_ms, given
 * last_seq, the seq of the last change applied in this session (0: none).
 * Returns 0 (apply it, then remember rot->seq), MSG_ERR_REPLAY (seq not
 * above last_seq: a copy of the change applied, or an older change replayed,
 * which must never switch Rot on its own) or MSG_ERR_STALE (an instant more
 * than max_skew_ms from now_ms). */
int msg_rotation_check(uint32_t last_seq, const struct msg_rotation *rot, uint64_t now_ms,
		       uint64_t max_skew_ms);

void msg_handshake_wipe(struct msg_handshake *hs);
void msg_session_keys_wipe(struct msg_session_keys *keys);

/* A client's replay state with no request seen; max_skew_ms is the
 * accepted clock difference. */
void msg_replay_init(struct msg_replay *cache, uint64_t max_skew_ms);

/* The verdict on a request of this client with timestamp_ms at now_ms: 0
 * (and latest_ms becomes timestamp_ms), MSG_ERR_STALE (more than
 * max_skew_ms from now_ms) or MSG_ERR_REPLAY (not greater than latest_ms).
 * msg_request_open calls it after authentication, so forgeries never move
 * it; exposed for tests and tools. */
int msg_replay_check_and_add(struct msg_replay *cache, uint64_t timestamp_ms, uint64_t now_ms);

/* What a MSG_ERR_* result means, for logs and the audit trail (the errno
 * values they alias would say "Stale file handle"); other values (system
 * errors) get strerror's text. Never NULL. */
const char *msg_strerror(int rc);

#endif
