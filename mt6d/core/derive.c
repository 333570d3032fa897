#include "mt6d/core/derive.h"

#include <string.h>
#include <sodium.h>

#include "mt6d/core/hash.h"

bool derive_iid_is_reserved(const uint8_t iid[static DERIVE_IID_LEN])
{
	static const uint8_t anycast[7] = { 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t iana[5] = { 0x02, 0x00, 0x5e, 0xff, 0xfe };
	static const uint8_t ones[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (sodium_is_zero(iid, DERIVE_IID_LEN))
		return true; /* subnet-router anycast (RFC 4291) */
	if (memcmp(iid, ones, sizeof(ones)) == 0)
		return true;
	if (memcmp(iid, anycast, sizeof(anycast)) == 0 && iid[7] >= 0x80)
		return true; /* reserved subnet anycast (RFC 2526) */
	/* 0200:5EFF:FE00:0000-0200:5EFF:FEFF:FFFF (RFC 5453, incl. proxy MIPv6) */
	return memcmp(iid, iana, sizeof(iana)) == 0;
}

/* The first of h[0..7], h[8..15] that is not reserved. Both reserved has a
 * probability near 2^-100; a fixed, valid IID keeps the function total. */
static void pick_iid(uint8_t iid_out[static DERIVE_IID_LEN], const uint8_t h[static MT6D_HASH_LEN])
{
	static const uint8_t fallback[DERIVE_IID_LEN] = { 0, 0, 0, 0, 0, 0, 0, 1 };

	if (!derive_iid_is_reserved(h))
		memcpy(iid_out, h, DERIVE_IID_LEN);
	else if (!derive_iid_is_reserved(h + 8))
		memcpy(iid_out, h + 8, DERIVE_IID_LEN);
	else
		memcpy(iid_out, fallback, DERIVE_IID_LEN);
}

uint64_t derive_window_start(int64_t t_s, uint32_t period_s)
{
	if (t_s <= 0 || period_s == 0)
		return 0;
	return (uint64_t)t_s - (uint64_t)t_s % period_s;
}

void derive_descriptor(uint8_t d_out[static DERIVE_DESCRIPTOR_LEN],
		       const uint8_t s[static DERIVE_SECRET_LEN], uint64_t window_start)
{
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 descriptor");
	hash_add(&ctx, s, DERIVE_SECRET_LEN);
	hash_add_u64(&ctx, window_start);
	hash_end(&ctx, h);
	memcpy(d_out, h, DERIVE_DESCRIPTOR_LEN);
	sodium_memzero(h, sizeof(h));
}

void derive_client_iid(uint8_t iid_out[static DERIVE_IID_LEN], const uint8_t s[static DERIVE_SECRET_LEN],
		       const uint8_t *key, size_t key_len)
{
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 client-iid");
	hash_add(&ctx, s, DERIVE_SECRET_LEN);
	hash_add(&ctx, key, key_len);
	hash_end(&ctx, h);
	pick_iid(iid_out, h);
	sodium_memzero(h, sizeof(h));
}

uint64_t derive_slot(int64_t t_ms, uint32_t rotation_ms)
{
	if (t_ms <= 0 || rotation_ms == 0)
		return 0;
	return (uint64_t)t_ms / rotation_ms;
}

void derive_slot_endpoint(const uint8_t seed[static 16], const uint8_t *key, size_t key_len,
			  uint64_t slot, struct in6_addr *addr_out, uint16_t *port_out)
{
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 slot");
	hash_add(&ctx, seed + 8, DERIVE_IID_LEN);
	hash_add(&ctx, key, key_len);
	hash_add_u64(&ctx, slot);
	hash_end(&ctx, h);
	if (addr_out) {
		memcpy(addr_out->s6_addr, seed, 8);
		pick_iid(addr_out->s6_addr + 8, h);
	}
	if (port_out)
		*port_out = (uint16_t)(DERIVE_PORT_MIN + get_be16(h + 16) % (65536 - DERIVE_PORT_MIN));
	sodium_memzero(h, sizeof(h));
}
