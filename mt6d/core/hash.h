/* Domain-separated SHA-256, the one hash construction of the MT6D protocol
 * (docs/PROTOCOL.md, "Conventions"):
 *
 *   H_L(x1, x2, ...) = SHA-256( u8(len(L)) || L || x1 || x2 || ... )
 *
 * L is an ASCII label such as "mt6d/1 descriptor"; its length prefix keeps
 * labels prefix-free, so no input of one derivation can be read as another.
 * Integers are fed big-endian (hash_add_u64 and friends). */
#ifndef MT6D_HASH_H
#define MT6D_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#define MT6D_PROTO_VERSION 1
#define MT6D_HASH_LEN 32

struct hash_ctx {
	crypto_hash_sha256_state state;
};

/* label must be at most 255 bytes (checked: a longer one aborts). */
void hash_begin(struct hash_ctx *ctx, const char *label);
void hash_add(struct hash_ctx *ctx, const void *data, size_t len);
void hash_add_u8(struct hash_ctx *ctx, uint8_t value);
void hash_add_u16(struct hash_ctx *ctx, uint16_t value);
void hash_add_u64(struct hash_ctx *ctx, uint64_t value);
/* Writes the digest and wipes the context (it may hold secret input). */
void hash_end(struct hash_ctx *ctx, uint8_t out[static MT6D_HASH_LEN]);

/* Big-endian helpers shared by every encoder of the protocol. */
static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

#endif
