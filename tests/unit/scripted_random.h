/* A libsodium randombytes implementation for tests: it first serves bytes
 * pushed with scripted_random_push (the ephemeral keys and nonces of the
 * known-answer vectors, in the order the code under test draws them), then a
 * fixed ChaCha20 key stream, so every test run is reproducible. Install it
 * with scripted_random_install() before sodium_init(). */
#ifndef MT6D_TEST_SCRIPTED_RANDOM_H
#define MT6D_TEST_SCRIPTED_RANDOM_H

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static uint8_t scripted_bytes[512];
static size_t scripted_len, scripted_pos;
static uint64_t scripted_block;

static void scripted_buf(void *const buf, const size_t size)
{
	static const uint8_t stream_key[crypto_stream_chacha20_KEYBYTES] = { 0x5e, 0xed };
	uint8_t *p = buf;
	size_t n = 0;

	while (n < size && scripted_pos < scripted_len)
		p[n++] = scripted_bytes[scripted_pos++];
	if (n < size) {
		uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];

		memcpy(nonce, &scripted_block, sizeof(nonce));
		scripted_block++;
		crypto_stream_chacha20(p + n, size - n, nonce, stream_key);
	}
}

static uint32_t scripted_u32(void)
{
	uint32_t v;

	scripted_buf(&v, sizeof(v));
	return v;
}

static const char *scripted_name(void)
{
	return "scripted";
}

static randombytes_implementation scripted_impl = {
	.implementation_name = scripted_name,
	.random = scripted_u32,
	.buf = scripted_buf,
};

static inline void scripted_random_install(void)
{
	randombytes_set_implementation(&scripted_impl);
}

/* The next size bytes drawn will be exactly these. */
static inline void scripted_random_push(const void *data, size_t size)
{
	if (scripted_pos == scripted_len)
		scripted_pos = scripted_len = 0;
	if (scripted_len + size > sizeof(scripted_bytes))
		abort();
	memcpy(scripted_bytes + scripted_len, data, size);
	scripted_len += size;
}

#endif
