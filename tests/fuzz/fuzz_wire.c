/* libFuzzer harness for the tunnel framing: wire_open on arbitrary bytes
 * (with the key and slot of the known-answer vector, so the seed packets in
 * tests/fuzz/corpus/wire/ authenticate), checking that a failure leaves the
 * buffer untouched; and a seal/open round trip of the input as inner packet,
 * with a padding bucket drawn from the input's first bytes and the AEAD
 * from its third (AES-256-GCM where the CPU has AES-NI). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KAT_SLOT UINT64_C(589075200)

static const uint8_t c2s[WIRE_KEY_LEN] = {
	0x63, 0x28, 0x06, 0x4e, 0x69, 0xd6, 0x13, 0x00, 0xd8, 0x5a, 0x31, 0xfb, 0xe8, 0x71, 0x9d, 0x49,
	0xbd, 0xb7, 0x0b, 0x29, 0x8a, 0x71, 0x88, 0xb2, 0x7e, 0x01, 0x91, 0x66, 0x1d, 0x64, 0x66, 0xc9,
};

static uint8_t buf[WIRE_MAX_INNER_LEN + WIRE_OVERHEAD], copy[sizeof(buf)];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static struct wire_tx tx;
	struct wire_rx rx;
	int rc;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		wire_tx_init(&tx, c2s);
		ready = 1;
	}
	if (size > sizeof(buf))
		return 0;

	/* As a received datagram, at the vector's slot and the next one. */
	wire_rx_init(&rx, c2s);
	memcpy(buf, data, size);
	memcpy(copy, data, size);
	rc = wire_open(&rx, KAT_SLOT, buf, size);
	if (rc >= 0) {
		if ((size_t)rc + WIRE_OVERHEAD > size)
			abort();
		/* The same datagram again is a replay; to a fresh receiver in
		 * another slot, a forgery. */
		memcpy(buf, copy, size);
		if (wire_open(&rx, KAT_SLOT, buf, size) != WIRE_ERR_REPLAY)
			abort();
		wire_rx_fini(&rx);
		wire_rx_init(&rx, c2s);
		if (wire_open(&rx, KAT_SLOT + 1, buf, size) != WIRE_ERR_AUTH)
			abort();
	} else if (memcmp(buf, copy, size) != 0) {
		abort();
	} else if (rc != WIRE_ERR_MALFORMED && rc != WIRE_ERR_AUTH && rc != WIRE_ERR_REPLAY &&
		   rc != WIRE_ERR_TOO_OLD && rc != WIRE_ERR_BUSY) {
		abort();
	}

	/* As an inner packet: seal, open, compare. */
	if (size <= WIRE_MAX_INNER_LEN) {
		size_t bucket = size >= 2 ? (size_t)data[0] << 8 | data[1] : 0;

		if (bucket < WIRE_MIN_PAD_BUCKET)
			bucket = 0;
		if (wire_tx_set_padding(&tx, bucket, WIRE_INNER_MTU) < 0)
			abort();
		if (wire_aes_is_available() &&
		    wire_tx_set_aead(&tx, size >= 3 && (data[2] & 1) ? WIRE_AEAD_AES256_GCM
								: WIRE_AEAD_CHACHA20_POLY1305) < 0)
			abort();
		wire_rx_fini(&rx);
		wire_rx_init(&rx, c2s);
		memcpy(buf + WIRE_HEADER_LEN, data, size);
		rc = wire_seal(&tx, KAT_SLOT, buf, size, sizeof(buf));
		if (rc != (int)(wire_padded_len(&tx, size) + WIRE_OVERHEAD) ||
		    (size_t)rc < size + WIRE_OVERHEAD ||
		    (size <= WIRE_INNER_MTU && (size_t)rc > WIRE_INNER_MTU + WIRE_OVERHEAD) ||
		    (size > WIRE_INNER_MTU && (size_t)rc != size + WIRE_OVERHEAD))
			abort();
		if (wire_open(&rx, KAT_SLOT, buf, (size_t)rc) != (int)size ||
		    memcmp(buf + WIRE_HEADER_LEN, data, size) != 0)
			abort();
	}
	wire_rx_fini(&rx);
	return 0;
}
