#include "mt6d/core/hash.h"

#include <stdlib.h>
#include <string.h>

void hash_begin(struct hash_ctx *ctx, const char *label)
{
	size_t len = strlen(label);

	/* Labels are compile-time constants; a long one is a programming error. */
	if (len > 255)
		abort();
	crypto_hash_sha256_init(&ctx->state);
	hash_add_u8(ctx, (uint8_t)len);
	hash_add(ctx, label, len);
}

void hash_add(struct hash_ctx *ctx, const void *data, size_t len)
{
	crypto_hash_sha256_update(&ctx->state, data, len);
}

void hash_add_u8(struct hash_ctx *ctx, uint8_t value)
{
	hash_add(ctx, &value, 1);
}

void hash_add_u16(struct hash_ctx *ctx, uint16_t value)
{
	uint8_t b[2];

	put_be16(b, value);
	hash_add(ctx, b, sizeof(b));
}

void hash_add_u64(struct hash_ctx *ctx, uint64_t value)
{
	uint8_t b[8];

	put_be64(b, value);
	hash_add(ctx, b, sizeof(b));
}

void hash_end(struct hash_ctx *ctx, uint8_t out[static MT6D_HASH_LEN])
{
	crypto_hash_sha256_final(&ctx->state, out);
	sodium_memzero(ctx, sizeof(*ctx));
}
