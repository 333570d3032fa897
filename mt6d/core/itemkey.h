/* Blinded ed25519 keys for the BEP 44 rendezvous channel (docs/PROTOCOL.md,
 * "BEP 44 mutable items").
 *
 * A server's X25519 key pair doubles as an ed25519 identity (A, a): the
 * Edwards form of its X25519 public key with the sign bit cleared, the
 * private scalar negated when needed (as XEdDSA does), so a client derives
 * A from the X25519 public key it already has. For one client and one
 * window T both derive the blinding factor
 *
 *   h  = reduce( H_L(u8(0) || A || s || u64(T)) || H_L(u8(1) || A || s || u64(T)) )
 *        L = "mt6d/1 item blind" (configs) or "mt6d/1 item message blind"
 *   A' = h * A            (both sides; s is the pair's shared secret)
 *   a' = h * a mod L      (server only)
 *
 * the way Tor v3 blinds onion-service keys, but with s inside h: only the
 * client and the server find A', only the server signs under it, and A' of
 * two windows or two clients look unrelated to anyone without s.
 *
 * Signing with a' (not an RFC 8032 seed) uses the ed25519 equation over
 * libsodium's scalar and point primitives: r = SHA-512(prefix || M) mod L,
 * R = rB, S = r + SHA-512(R || A' || M) a' mod L, with
 * prefix = H_"mt6d/1 item nonce"(a || h). Signatures verify with
 * crypto_sign_verify_detached like any ed25519 signature.
 *
 * Pure: no clock, no I/O. */
#ifndef MT6D_ITEMKEY_H
#define MT6D_ITEMKEY_H

#include <stddef.h>
#include <stdint.h>

#define ITEMKEY_LEN 32       /* points, scalars, X25519 keys */
#define ITEMKEY_SIG_LEN 64

/* What the item holds: a config (label "mt6d/1 item blind") or a generic
 * message of `mt6d rendezvous put` ("mt6d/1 item message blind"), so that
 * the two never share a key, hence a DHT target. */
enum itemkey_kind { ITEMKEY_CONFIG = 0, ITEMKEY_MESSAGE = 1 };

/* A blinded signing key: a', its nonce prefix and A' = a'B. Secret. */
struct itemkey_secret {
	uint8_t scalar[ITEMKEY_LEN];
	uint8_t prefix[ITEMKEY_LEN];
	uint8_t pub[ITEMKEY_LEN];
};

/* The ed25519 identity A of an X25519 public key (Edwards y of u, sign 0).
 * -EINVAL if it is not a point of the prime-order subgroup. */
int itemkey_identity_public(uint8_t A_out[static ITEMKEY_LEN],
			    const uint8_t x25519_pub[static ITEMKEY_LEN]);

/* The identity pair (a, A) of an X25519 private key; A equals
 * itemkey_identity_public of its public key. -EINVAL for a degenerate key. */
int itemkey_identity_private(uint8_t a_out[static ITEMKEY_LEN], uint8_t A_out[static ITEMKEY_LEN],
			     const uint8_t x25519_priv[static ITEMKEY_LEN]);

/* h for identity A, shared secret s and window start T. */
int itemkey_blind_factor(uint8_t h_out[static ITEMKEY_LEN], const uint8_t A[static ITEMKEY_LEN],
			 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start,
			 enum itemkey_kind kind);

/* Client (or anyone holding s): A' for the server's X25519 public key. */
int itemkey_blind_public(uint8_t pub_out[static ITEMKEY_LEN],
			 const uint8_t server_pub[static ITEMKEY_LEN],
			 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start,
			 enum itemkey_kind kind);

/* Server: a', its prefix and A'. Wipe *out after use. */
int itemkey_blind_secret(struct itemkey_secret *out, const uint8_t server_priv[static ITEMKEY_LEN],
			 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start,
			 enum itemkey_kind kind);

/* Deterministic ed25519 signature of msg under k. 0 or -EINVAL. */
int itemkey_sign(uint8_t sig_out[static ITEMKEY_SIG_LEN], const struct itemkey_secret *k,
		 const uint8_t *msg, size_t len);

/* 0 if sig is a valid signature of msg under pub, else -EBADMSG. */
int itemkey_verify(const uint8_t sig[static ITEMKEY_SIG_LEN], const uint8_t pub[static ITEMKEY_LEN],
		   const uint8_t *msg, size_t len);

#endif
