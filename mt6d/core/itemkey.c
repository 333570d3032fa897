/* Blinded ed25519 keys for BEP 44 items (itemkey.h). libsodium has the
 * scalar and point operations but no map from a Montgomery u to an Edwards
 * point, so the one field division that needs, y = (u - 1) / (u + 1) mod
 * 2^255 - 19, is done here in radix 2^51 (public input only: no constant
 * time needed). */
#include "mt6d/core/itemkey.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/hash.h"

#define MASK51 ((UINT64_C(1) << 51) - 1)

struct fe {
	uint64_t v[5];
};

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t r = 0;
	for (int i = 7; i >= 0; i--)
		r = r << 8 | p[i];
	return r;
}

static void store64_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* RFC 7748: the top bit of a u-coordinate is ignored. */
static void fe_frombytes(struct fe *h, const uint8_t s[32])
{
	uint64_t w0 = load64_le(s), w1 = load64_le(s + 8), w2 = load64_le(s + 16);
	uint64_t w3 = load64_le(s + 24) & UINT64_C(0x7fffffffffffffff);
	h->v[0] = w0 & MASK51;
	h->v[1] = (w0 >> 51 | w1 << 13) & MASK51;
	h->v[2] = (w1 >> 38 | w2 << 26) & MASK51;
	h->v[3] = (w2 >> 25 | w3 << 39) & MASK51;
	h->v[4] = w3 >> 12;
}

static void fe_carry(struct fe *h)
{
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 4; i++) {
			h->v[i + 1] += h->v[i] >> 51;
			h->v[i] &= MASK51;
		}
		h->v[0] += 19 * (h->v[4] >> 51);
		h->v[4] &= MASK51;
	}
}

static void fe_add_small(struct fe *h, const struct fe *f, uint64_t c)
{
	*h = *f;
	h->v[0] += c;
	fe_carry(h);
}

/* f - c for a small c: adds 2p first so no limb goes negative. */
static void fe_sub_small(struct fe *h, const struct fe *f, uint64_t c)
{
	h->v[0] = f->v[0] + UINT64_C(0xfffffffffffda) - c;
	for (int i = 1; i < 5; i++)
		h->v[i] = f->v[i] + UINT64_C(0xffffffffffffe);
	fe_carry(h);
}

static void fe_mul(struct fe *h, const struct fe *f, const struct fe *g)
{
	typedef unsigned __int128 u128;
	const uint64_t *a = f->v, *b = g->v;
	uint64_t b1 = 19 * b[1], b2 = 19 * b[2], b3 = 19 * b[3], b4 = 19 * b[4];
	u128 t[5];
	t[0] = (u128)a[0] * b[0] + (u128)a[1] * b4 + (u128)a[2] * b3 + (u128)a[3] * b2 + (u128)a[4] * b1;
	t[1] = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b4 + (u128)a[3] * b3 + (u128)a[4] * b2;
	t[2] = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] + (u128)a[3] * b4 + (u128)a[4] * b3;
	t[3] = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] + (u128)a[3] * b[0] + (u128)a[4] * b4;
	t[4] = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] + (u128)a[3] * b[1] + (u128)a[4] * b[0];
	for (int i = 0; i < 4; i++) {
		t[i + 1] += t[i] >> 51;
		h->v[i] = (uint64_t)t[i] & MASK51;
	}
	h->v[4] = (uint64_t)t[4] & MASK51;
	h->v[0] += 19 * (uint64_t)(t[4] >> 51);
	fe_carry(h);
}

/* Canonical little-endian bytes (fully reduced mod p). */
static void fe_tobytes(uint8_t s[32], const struct fe *f)
{
	struct fe h = *f;
	fe_carry(&h);
	uint64_t q = (h.v[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h.v[i] + q) >> 51;
	h.v[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h.v[i + 1] += h.v[i] >> 51;
		h.v[i] &= MASK51;
	}
	h.v[4] &= MASK51;
	store64_le(s, h.v[0] | h.v[1] << 51);
	store64_le(s + 8, h.v[1] >> 13 | h.v[2] << 38);
	store64_le(s + 16, h.v[2] >> 26 | h.v[3] << 25);
	store64_le(s + 24, h.v[3] >> 39 | h.v[4] << 12);
}

/* z^(p-2): p - 2 = 2^255 - 21 has every bit of 0..254 set but bits 2 and 4. */
static void fe_invert(struct fe *out, const struct fe *z)
{
	struct fe r = { { 1, 0, 0, 0, 0 } };
	for (int i = 254; i >= 0; i--) {
		fe_mul(&r, &r, &r);
		if (i != 2 && i != 4)
			fe_mul(&r, &r, z);
	}
	*out = r;
}

int itemkey_identity_public(uint8_t A_out[static ITEMKEY_LEN],
			    const uint8_t x25519_pub[static ITEMKEY_LEN])
{
	static const uint8_t zero[32];
	struct fe u, num, den, inv, y;
	uint8_t check[32];

	fe_frombytes(&u, x25519_pub);
	fe_add_small(&den, &u, 1);
	fe_tobytes(check, &den);
	if (sodium_memcmp(check, zero, 32) == 0)
		return -EINVAL;              /* u = -1: no Edwards point */
	fe_sub_small(&num, &u, 1);
	fe_invert(&inv, &den);
	fe_mul(&y, &num, &inv);
	fe_tobytes(A_out, &y);           /* sign bit 0: top bit of y is 0 */
	if (!crypto_core_ed25519_is_valid_point(A_out))
		return -EINVAL;
	return 0;
}

int itemkey_identity_private(uint8_t a_out[static ITEMKEY_LEN], uint8_t A_out[static ITEMKEY_LEN],
			     const uint8_t x25519_priv[static ITEMKEY_LEN])
{
	uint8_t wide[64] = { 0 }, a[32], A[32];
	int rc = 0;

	/* The X25519 scalar as crypto_scalarmult uses it (RFC 7748 clamping). */
	memcpy(wide, x25519_priv, 32);
	wide[0] &= 248;
	wide[31] &= 127;
	wide[31] |= 64;
	crypto_core_ed25519_scalar_reduce(a, wide);
	if (crypto_scalarmult_ed25519_base_noclamp(A, a) != 0) {
		rc = -EINVAL;
		goto out;
	}
	if (A[31] & 0x80) {
		/* -a gives -A: the same y with the sign bit cleared. */
		crypto_core_ed25519_scalar_negate(a, a);
		A[31] &= 0x7f;
	}
	memcpy(a_out, a, 32);
	memcpy(A_out, A, 32);
out:
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(a, sizeof(a));
	return rc;
}

int itemkey_blind_factor(uint8_t h_out[static ITEMKEY_LEN], const uint8_t A[static ITEMKEY_LEN],
			 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start,
			 enum itemkey_kind kind)
{
	static const uint8_t zero[32];
	uint8_t wide[64];
	struct hash_ctx ctx;

	/* 512 bits reduced mod L: uniform to 2^-259, where 256 would be
	 * visibly biased (2^256 is not close to a multiple of L). */
	for (uint8_t half = 0; half < 2; half++) {
		hash_begin(&ctx, kind == ITEMKEY_MESSAGE ? "mt6d/1 item message blind"
							  : "mt6d/1 item blind");
		hash_add_u8(&ctx, half);
		hash_add(&ctx, A, ITEMKEY_LEN);
		hash_add(&ctx, s, ITEMKEY_LEN);
		hash_add_u64(&ctx, window_start);
		hash_end(&ctx, wide + 32 * half);
	}
	crypto_core_ed25519_scalar_reduce(h_out, wide);
	sodium_memzero(wide, sizeof(wide));
	return sodium_memcmp(h_out, zero, 32) == 0 ? -EINVAL : 0;
}

int itemkey_blind_public(uint8_t pub_out[static ITEMKEY_LEN],
			 const uint8_t server_pub[static ITEMKEY_LEN],
			 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start,
			 enum itemkey_kind kind)
{
	uint8_t A[32], h[32];
	int rc = itemkey_identity_public(A, server_pub);
	if (rc == 0)
		rc = itemkey_blind_factor(h, A, s, window_start, kind);
	if (rc == 0 && crypto_scalarmult_ed25519_noclamp(pub_out, h, A) != 0)
		rc = -EINVAL;
	sodium_memzero(h, sizeof(h));
	return rc;
}

int itemkey_blind_secret(struct itemkey_secret *out, const uint8_t server_priv[static ITEMKEY_LEN],
			 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start,
			 enum itemkey_kind kind)
{
	uint8_t a[32], A[32], h[32];
	struct hash_ctx ctx;
	int rc = itemkey_identity_private(a, A, server_priv);
	if (rc == 0)
		rc = itemkey_blind_factor(h, A, s, window_start, kind);
	if (rc == 0) {
		crypto_core_ed25519_scalar_mul(out->scalar, h, a);
		if (crypto_scalarmult_ed25519_base_noclamp(out->pub, out->scalar) != 0)
			rc = -EINVAL;
		hash_begin(&ctx, "mt6d/1 item nonce");
		hash_add(&ctx, a, sizeof(a));
		hash_add(&ctx, h, sizeof(h));
		hash_end(&ctx, out->prefix);
	}
	if (rc != 0)
		sodium_memzero(out, sizeof(*out));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(h, sizeof(h));
	return rc;
}

/* SHA-512(p1 || p2 || msg) mod L; p2 may be empty (l2 = 0). */
static void sha512_reduce(uint8_t out[32], const uint8_t *p1, size_t l1, const uint8_t *p2,
			  size_t l2, const uint8_t *msg, size_t len)
{
	crypto_hash_sha512_state st;
	uint8_t wide[64];
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, p1, l1);
	crypto_hash_sha512_update(&st, p2, l2);
	crypto_hash_sha512_update(&st, msg, len);
	crypto_hash_sha512_final(&st, wide);
	crypto_core_ed25519_scalar_reduce(out, wide);
	sodium_memzero(wide, sizeof(wide));
	sodium_memzero(&st, sizeof(st));
}

int itemkey_sign(uint8_t sig_out[static ITEMKEY_SIG_LEN], const struct itemkey_secret *k,
		 const uint8_t *msg, size_t len)
{
	uint8_t r[32], kh[32], ka[32];
	int rc = 0;

	sha512_reduce(r, k->prefix, 32, k->prefix, 0, msg, len);
	if (crypto_scalarmult_ed25519_base_noclamp(sig_out, r) != 0) {
		rc = -EINVAL;                    /* r = 0: probability 2^-252 */
		goto out;
	}
	sha512_reduce(kh, sig_out, 32, k->pub, 32, msg, len);
	crypto_core_ed25519_scalar_mul(ka, kh, k->scalar);
	crypto_core_ed25519_scalar_add(sig_out + 32, r, ka);
out:
	if (rc != 0)
		sodium_memzero(sig_out, ITEMKEY_SIG_LEN);
	sodium_memzero(r, sizeof(r));
	sodium_memzero(ka, sizeof(ka));
	return rc;
}

int itemkey_verify(const uint8_t sig[static ITEMKEY_SIG_LEN], const uint8_t pub[static ITEMKEY_LEN],
		   const uint8_t *msg, size_t len)
{
	return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? 0 : -EBADMSG;
}
