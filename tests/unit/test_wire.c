#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mt6d/core/hash.h"
#include "mt6d/core/wire.h"
#include "tests/unit/scripted_random.h"
#include "tests/unit/error_table.h"

/* Known-answer vectors: docs/PROTOCOL.md, "Test vectors: session" (the
 * client -> server direction key c2s of the session vectors). */
static const char kat_c2s_hex[] = "6328064e69d61300d85a31fbe8719d49bdb70b298a7188b27e0191661d6466c9";
static const char kat_s2c_hex[] = "18510b3cfd45e602a795b59f21418bf0d79fa56e75dccec1fa0531425a98779d";
static const char kat_packet_key_hex[] =
	"59cc743f10fca011c3b3a0d18533f653f99d2bbafb5088f42dc3995d0be15f5d";
static const char kat_header_key_hex[] = "5eff70a5b44de514bd3055aa6df6bff24b9959dda0fdaf6a9859ef4010899b42";
/* Counter 0, padding off: 16 inner bytes padded to 72. */
static const char kat_packet_hex[] = 
	"101978e7c4bd1d2035312ff4d10b6f939eb6deee5a2dff9f3070a2be1d57d7a07e608bc0d4dd40ca"
	"bc8b6a5b90a6e1d0a0f0d38a9937d68c2ce29561f2b9634f9019f4c7b09cdcb5d33eed880e5a7294"
	"9b9c5b995a20ace71d8d8e2243ea33c06898ebfaff936b9d";
/* Counter 1, Padding = 128. */
static const char kat_packet_padded_hex[] = 
	"86a737476b53ad48e191c2b1764183de7967575d70d49b21e414485447098dbf8c9dadc413fa5b40"
	"c10d7d0beed4d17cdbaa643afdbdd83dfc474a3c2040efc49c2e2937c49d0630713caa4d4272a891"
	"75709c763614878aa75ddb12cbe248051d623682dec871ad85b1f0eaf7bbfcbb1b3d2d2567bf153f"
	"9f9905c1c16e6ac2425204be8c1535450cfcbe86d1da93afccdad80c54187c3104a47438b9ba3937";
static const char kat_psk_c2s_hex[] =
	"929b64b495f556c4e479f5f8f9c5ec411345ff83ca807eac2bd4ed93f240e22c";
static const char kat_psk_s2c_hex[] =
	"794d3468f287ac8a2f686655d17b63de32ae8c4dfbe4fb60b2cc810801ff9280";
#define KAT_SLOT UINT64_C(589075200) /* 1767225600000 ms / 3000 ms */
/* The smallest plaintext: smaller inner packets are padded to it. */
#define SMALL WIRE_MIN_PADDED_LEN
#define PKT (SMALL + WIRE_OVERHEAD)

static uint8_t dir_key[WIRE_KEY_LEN], other_key[WIRE_KEY_LEN];

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static void assert_hex(const uint8_t *p, size_t len, const char *hex)
{
	uint8_t want[256];

	assert_true(len <= sizeof(want));
	unhex(hex, want, len);
	assert_memory_equal(p, want, len);
}

static int setup(void **state)
{
	(void)state;
	unhex(kat_c2s_hex, dir_key, sizeof(dir_key));
	unhex(kat_s2c_hex, other_key, sizeof(other_key));
	return 0;
}

/* Seals a packet whose inner bytes encode the counter, into buf. */
static int seal_marked(struct wire_tx *tx, uint64_t slot, uint8_t *buf, size_t buf_len,
		       size_t inner_len)
{
	for (size_t i = 0; i < inner_len; i++)
		buf[WIRE_HEADER_LEN + i] = (uint8_t)(tx->counter + i);
	return wire_seal(tx, slot, buf, inner_len, buf_len);
}

/* The header in clear of a sealed datagram, as a receiver with the
 * direction key recovers it (docs/PROTOCOL.md section 9, computed here with
 * libsodium's ChaCha20 block function, apart from wire.c). */
static void unprotect(const uint8_t *dgram, size_t len, const uint8_t key[static WIRE_KEY_LEN],
		      uint8_t header_out[static WIRE_HEADER_LEN])
{
	static const uint8_t zero[WIRE_HEADER_LEN];
	uint8_t hp[32], block[64];
	const uint8_t *tag = dgram + len - WIRE_TAG_LEN;
	uint32_t ic = (uint32_t)tag[0] | (uint32_t)tag[1] << 8 | (uint32_t)tag[2] << 16 |
		      (uint32_t)tag[3] << 24;
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 wire header key");
	hash_add(&ctx, key, WIRE_KEY_LEN);
	hash_end(&ctx, hp);
	crypto_stream_chacha20_ietf_xor_ic(block, zero, WIRE_HEADER_LEN, tag + 4, ic, hp);
	for (size_t i = 0; i < WIRE_HEADER_LEN; i++)
		header_out[i] = dgram[i] ^ block[i];
}

static uint64_t header_counter(const uint8_t *h)
{
	uint64_t v = 0;

	for (int i = 9; i < 16; i++)
		v = v << 8 | h[i];
	return v;
}

static void test_known_answer_vector(void **state)
{
	(void)state;
	static const uint8_t instance[WIRE_INSTANCE_LEN] = { 1, 2, 3, 4, 5, 6 };
	uint8_t buf[256] = { 0 }, header[WIRE_HEADER_LEN];
	struct wire_tx tx;
	struct wire_rx rx;

	scripted_random_push(instance, sizeof(instance));
	wire_tx_init(&tx, dir_key);
	assert_hex(tx.key, 32, kat_packet_key_hex);
	assert_hex(tx.hp_key, 32, kat_header_key_hex);
	memcpy(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	assert_int_equal(wire_seal(&tx, KAT_SLOT, buf, 16, sizeof(buf)), SMALL + WIRE_OVERHEAD);
	assert_hex(buf, SMALL + WIRE_OVERHEAD, kat_packet_hex);
	/* The header in clear: type 1, 56 bytes of padding, the instance,
	 * counter 0. */
	unprotect(buf, SMALL + WIRE_OVERHEAD, dir_key, header);
	assert_hex(header, WIRE_HEADER_LEN, "01003801020304050600000000000000");

	wire_rx_init(&rx, dir_key);
	assert_int_equal(wire_open(&rx, KAT_SLOT, buf, SMALL + WIRE_OVERHEAD), 16);
	assert_memory_equal(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);

	assert_int_equal(wire_tx_set_padding(&tx, 128, WIRE_INNER_MTU), 0);
	memcpy(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	assert_int_equal(wire_seal(&tx, KAT_SLOT, buf, 16, sizeof(buf)), 128 + WIRE_OVERHEAD);
	assert_hex(buf, 128 + WIRE_OVERHEAD, kat_packet_padded_hex);
	assert_int_equal(wire_open(&rx, KAT_SLOT, buf, 128 + WIRE_OVERHEAD), 16);
	assert_memory_equal(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
}

static void test_round_trip_sizes(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_INNER_LEN + WIRE_OVERHEAD];
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 40, 71, 72, 73, 1280, WIRE_INNER_MTU,
					9000, WIRE_MAX_INNER_LEN };
	uint8_t header[WIRE_HEADER_LEN];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], plain = n < SMALL ? SMALL : n;
		int len = seal_marked(&tx, 7, buf, sizeof(buf), n);

		assert_int_equal(len, (int)(plain + WIRE_OVERHEAD));
		unprotect(buf, (size_t)len, dir_key, header);
		assert_int_equal(header[0], WIRE_TYPE_DATA);
		assert_int_equal(header[1] << 8 | header[2], (int)(plain - n));
		assert_memory_equal(header + 3, tx.instance, WIRE_INSTANCE_LEN);
		assert_true(header_counter(header) == tx.counter - 1);
		assert_int_equal(wire_open(&rx, 7, buf, (size_t)len), (int)n);
		for (size_t j = 0; j < n; j++)
			assert_int_equal(buf[WIRE_HEADER_LEN + j], (uint8_t)(i + j));
	}
	/* The documented budget: 40 + 8 + overhead + inner MTU = 1500. */
	assert_int_equal(40 + 8 + WIRE_OVERHEAD + WIRE_INNER_MTU, 1500);
	assert_int_equal(WIRE_INNER_MTU, 1420);
}

/* Padding: buckets, the floor, the cap at the MTU, the bucket limits. */
static void test_padding(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_INNER_LEN + WIRE_OVERHEAD];
	static const struct {
		size_t bucket, inner, plain;
	} cases[] = {
		{ 0, 0, 72 }, { 0, 40, 72 }, { 0, 72, 72 }, { 0, 73, 73 }, { 0, 1420, 1420 },
		{ 256, 0, 256 }, { 256, 40, 256 }, { 256, 256, 256 }, { 256, 257, 512 },
		{ 256, 1200, 1280 }, { 256, 1281, 1420 }, { 256, 1420, 1420 },
		{ 256, 2000, 2000 }, /* above the cap: unpadded */
		{ 16, 40, 80 }, { 16, 73, 80 }, { 1420, 1, 1420 }, { 1420, 1419, 1420 },
		{ 65535, 5, 1420 },
	};
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int len;

		assert_int_equal(wire_tx_set_padding(&tx, cases[i].bucket, WIRE_INNER_MTU), 0);
		assert_int_equal(wire_padded_len(&tx, cases[i].inner), cases[i].plain);
		memset(buf + WIRE_HEADER_LEN + cases[i].inner, 0xee, cases[i].plain);
		len = seal_marked(&tx, 7, buf, sizeof(buf), cases[i].inner);
		assert_int_equal(len, (int)(cases[i].plain + WIRE_OVERHEAD));
		/* Too small a buffer for the padding: refused, no counter used. */
		assert_int_equal(wire_seal(&tx, 7, buf, cases[i].inner, (size_t)len - 1), -EMSGSIZE);
		assert_int_equal(wire_open(&rx, 7, buf, (size_t)len), (int)cases[i].inner);
		/* The padding is zeros, whatever the buffer held. */
		for (size_t j = cases[i].inner; j < cases[i].plain; j++)
			assert_int_equal(buf[WIRE_HEADER_LEN + j], 0);
	}
	/* A keepalive (a bare IPv6 header, 40 bytes) has the size of the
	 * smallest data packet, with and without a bucket. */
	assert_int_equal(wire_tx_set_padding(&tx, 0, WIRE_INNER_MTU), 0);
	assert_int_equal(wire_padded_len(&tx, 40), wire_padded_len(&tx, 72));
	assert_int_equal(wire_tx_set_padding(&tx, 256, WIRE_INNER_MTU), 0);
	assert_int_equal(wire_padded_len(&tx, 40), wire_padded_len(&tx, 60));
	assert_int_equal(wire_padded_len(&tx, 40), wire_padded_len(&tx, 200));
	assert_int_equal(wire_tx_set_padding(&tx, 15, WIRE_INNER_MTU), -EINVAL);
	assert_int_equal(wire_tx_set_padding(&tx, 65536, WIRE_INNER_MTU), -EINVAL);
	assert_int_equal(wire_tx_set_padding(&tx, 16, WIRE_INNER_MTU), 0);
	/* The cap never exceeds what one datagram carries. */
	assert_int_equal(wire_tx_set_padding(&tx, 65535, SIZE_MAX), 0);
	assert_int_equal(wire_padded_len(&tx, 1), WIRE_MAX_INNER_LEN);
	assert_int_equal(seal_marked(&tx, 8, buf, sizeof(buf), 1), (int)sizeof(buf));
	assert_int_equal(wire_open(&rx, 8, buf, sizeof(buf)), 1);
}

static void test_seal_limits(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct wire_tx tx;

	wire_tx_init(&tx, dir_key);
	assert_int_equal(wire_seal(&tx, 1, buf, 97, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(wire_seal(&tx, 1, buf, 10, PKT - 1), -EMSGSIZE);
	assert_int_equal(wire_seal(&tx, 1, buf, WIRE_MAX_INNER_LEN + 1, SIZE_MAX), -EMSGSIZE);
	assert_true(tx.counter == 0); /* failures consume no counter */
	assert_int_equal(wire_seal(&tx, 1, buf, 96, sizeof(buf)), 128);
	assert_int_equal(wire_seal(&tx, 1, buf, 10, PKT), PKT);
	tx.counter = WIRE_COUNTER_LIMIT - 1;
	assert_int_equal(wire_seal(&tx, 1, buf, 10, sizeof(buf)), PKT);
	assert_int_equal(wire_seal(&tx, 1, buf, 10, sizeof(buf)), -EOVERFLOW);
}

/* Truncated, extended and garbage datagrams: refused with a counted code,
 * never accepted, buffer and receiver unchanged. */
static void test_malformed_and_garbage(void **state)
{
	(void)state;
	uint8_t buf[512], copy[512];
	struct wire_tx tx;
	struct wire_rx rx;
	int len;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	len = seal_marked(&tx, 3, buf, sizeof(buf), 100);
	memcpy(copy, buf, sizeof(buf));
	for (size_t n = 0; n < WIRE_OVERHEAD; n++)
		assert_int_equal(wire_open(&rx, 3, buf, n), WIRE_ERR_MALFORMED);
	assert_int_equal(wire_open(&rx, 3, buf, WIRE_MAX_INNER_LEN + WIRE_OVERHEAD + 1),
			 WIRE_ERR_MALFORMED);
	/* Every truncation and extension moves the tag, hence the mask:
	 * refused before or at the tag. */
	for (size_t n = WIRE_OVERHEAD; n < sizeof(buf); n++) {
		if (n == (size_t)len)
			continue;
		assert_int_equal(wire_open(&rx, 3, buf, n), WIRE_ERR_AUTH);
	}
	assert_memory_equal(buf, copy, sizeof(buf));
	/* Random bytes of every length: never accepted. */
	for (size_t n = 0; n < sizeof(buf); n++) {
		int rc;

		randombytes_buf(buf, n);
		rc = wire_open(&rx, 3, buf, n);
		assert_true(rc == (n < WIRE_OVERHEAD ? WIRE_ERR_MALFORMED : WIRE_ERR_AUTH));
	}
	/* All ones (the mask's block counter at its top, 2^32 - 1) and all
	 * zeros. */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, PKT), WIRE_ERR_AUTH);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, PKT), WIRE_ERR_AUTH);
	assert_int_equal(rx.n_instances, 0);
	memcpy(buf, copy, sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, (size_t)len), 100);
}

/* What libsodium's AEAD, the reference here, makes of the same input. */
typedef int (*aead_encrypt_fn)(unsigned char *c, unsigned char *mac, unsigned long long *maclen_p,
			       const unsigned char *m, unsigned long long mlen,
			       const unsigned char *ad, unsigned long long adlen,
			       const unsigned char *nsec, const unsigned char *npub,
			       const unsigned char *k);

struct aead_reference {
	enum wire_aead aead;
	uint8_t type;              /* of the header in clear */
	const char *key_label;     /* the AEAD key is H_label(packet key); NULL: the packet key */
	aead_encrypt_fn encrypt;
	size_t first, last, step;  /* inner lengths: every one up to 1600, then every step-th */
};

#define REF_MAX_INNER 9000

/* Seals every inner length of ref with wire.c and checks the bytes against
 * libsodium's AEAD under the key computed here apart from wire.c, the
 * header in clear, and that wire_open gives the packet back. */
static void check_against_libsodium(const struct aead_reference *ref)
{
	static uint8_t buf[REF_MAX_INNER + WIRE_OVERHEAD], plain[REF_MAX_INNER], want[REF_MAX_INNER];
	uint8_t header[WIRE_HEADER_LEN], nonce[12] = { 0 }, ad[WIRE_HEADER_LEN + 8];
	uint8_t tag[WIRE_TAG_LEN], key[32];
	struct hash_ctx ctx;
	struct wire_tx tx;
	struct wire_rx rx;
	const uint64_t slot = 0x0102030405060708u;

	assert_true(ref->last <= REF_MAX_INNER);
	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(wire_tx_set_aead(&tx, ref->aead), 0);
	memcpy(key, tx.key, sizeof(key));
	if (ref->key_label) {
		hash_begin(&ctx, ref->key_label);
		hash_add(&ctx, tx.key, WIRE_KEY_LEN);
		hash_end(&ctx, key);
	}
	assert_int_equal(wire_tx_set_padding(&tx, 0, ref->last), 0);
	for (size_t inner = ref->first; inner <= ref->last; inner += inner < 1600 ? 1 : ref->step) {
		size_t plain_len;
		int len;

		randombytes_buf(buf + WIRE_HEADER_LEN, inner);
		memcpy(plain, buf + WIRE_HEADER_LEN, inner);
		len = wire_seal(&tx, slot, buf, inner, sizeof(buf));
		assert_true(len > 0);
		plain_len = (size_t)len - WIRE_OVERHEAD;
		memset(plain + inner, 0, plain_len - inner);
		unprotect(buf, (size_t)len, dir_key, header);
		assert_int_equal(header[0], ref->type);
		memcpy(nonce + 5, header + 9, 7);
		memcpy(ad, header, WIRE_HEADER_LEN);
		for (int i = 0; i < 8; i++)
			ad[WIRE_HEADER_LEN + i] = (uint8_t)(slot >> (56 - 8 * i));
		ref->encrypt(want, tag, NULL, plain, plain_len, ad, sizeof(ad), NULL, nonce, key);
		assert_memory_equal(buf + WIRE_HEADER_LEN, want, plain_len);
		assert_memory_equal(buf + WIRE_HEADER_LEN + plain_len, tag, WIRE_TAG_LEN);
		assert_int_equal(wire_open(&rx, slot, buf, (size_t)len), (int)inner);
		assert_memory_equal(buf + WIRE_HEADER_LEN, plain, inner);
	}
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
}

/* The AEAD is RFC 8439's, byte for byte, whatever the length: wire.c makes
 * the key stream of block 0 and of the payload in one call (and takes
 * libsodium's AEAD for packets too large for that). Lengths around every
 * 64-byte block and 512-byte run, and past the largest packet of the
 * one-call path. */
static void test_aead_matches_libsodium(void **state)
{
	static const struct aead_reference chacha = {
		WIRE_AEAD_CHACHA20_POLY1305, WIRE_TYPE_DATA, NULL,
		crypto_aead_chacha20poly1305_ietf_encrypt_detached, 1, 5000, 61,
	};

	(void)state;
	check_against_libsodium(&chacha);
}

/* Each single-bit flip of a sealed datagram of slot 3 is refused by rx and
 * leaves buf as it came (a caller may try another receiver). known: rx has
 * seen its sender already, so a flip of the counter's bits may name a
 * counter seen before and be refused as a replay. */
static void assert_every_flip_refused(struct wire_rx *rx, uint8_t buf[static PKT], bool known)
{
	uint8_t copy[PKT];

	memcpy(copy, buf, PKT);
	for (size_t bit = 0; bit < 8 * PKT; bit++) {
		int rc;

		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = wire_open(rx, 3, buf, PKT);
		if (known && bit / 8 >= 9 && bit / 8 < WIRE_HEADER_LEN && rc == WIRE_ERR_REPLAY)
			rc = WIRE_ERR_AUTH;
		assert_int_equal(rc, WIRE_ERR_AUTH);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_memory_equal(buf, copy, PKT);
	}
}

/* Every single-bit flip is refused, leaves buf and the receiver unchanged. */
static void test_every_bit_flip_fails(void **state)
{
	(void)state;
	uint8_t buf[PKT];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 20), (int)sizeof(buf));
	assert_every_flip_refused(&rx, buf, false);
	assert_int_equal(rx.n_instances, 0);
	assert_int_equal(wire_open(&rx, 3, buf, sizeof(buf)), 20);
}

/* The same for a sender the receiver already knows (its key and replay
 * window found, not derived): a forgery is refused and its bytes left as
 * they came (a caller may try another receiver). */
static void test_bit_flip_of_known_instance_fails(void **state)
{
	(void)state;
	uint8_t first[PKT], buf[PKT], copy[sizeof(buf)];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, 3, first, sizeof(first), 20), (int)sizeof(first));
	assert_int_equal(wire_open(&rx, 3, first, sizeof(first)), 20);
	assert_int_equal(rx.n_instances, 1);
	assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 20), (int)sizeof(buf));
	assert_every_flip_refused(&rx, buf, true);
	assert_int_equal(rx.n_instances, 1);
	memcpy(copy, buf, sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, sizeof(buf)), 20);
	assert_int_equal(wire_open(&rx, 3, copy, sizeof(copy)), WIRE_ERR_REPLAY);
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
}

/* A forger who knows the header in clear (here: it has the direction key's
 * header protection undone for it) and changes a field fails: the clear
 * header is associated data. */
static void test_header_fields_are_authenticated(void **state)
{
	(void)state;
	uint8_t buf[PKT], copy[PKT], mask[WIRE_HEADER_LEN], header[WIRE_HEADER_LEN];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 30), PKT);
	memcpy(copy, buf, PKT);
	unprotect(buf, PKT, dir_key, header);
	for (int i = 0; i < WIRE_HEADER_LEN; i++)
		mask[i] = buf[i] ^ header[i];
	for (int i = 0; i < WIRE_HEADER_LEN; i++) {
		uint8_t h[WIRE_HEADER_LEN];

		memcpy(h, header, sizeof(h));
		h[i] ^= 0x01; /* pad 42 -> 43, counter 0 -> 1, another instance... */
		for (int j = 0; j < WIRE_HEADER_LEN; j++)
			buf[j] = h[j] ^ mask[j];
		assert_int_equal(wire_open(&rx, 3, buf, PKT), WIRE_ERR_AUTH);
	}
	memcpy(buf, copy, PKT);
	assert_int_equal(wire_open(&rx, 3, buf, PKT), 30);
}

static void test_wrong_key_and_direction(void **state)
{
	(void)state;
	uint8_t buf[PKT], copy[PKT];
	struct wire_tx tx;
	struct wire_rx rx_wrong, rx_reflect, rx;
	int len;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx_wrong, other_key);
	len = seal_marked(&tx, 9, buf, sizeof(buf), 8);
	memcpy(copy, buf, sizeof(buf));
	assert_int_equal(wire_open(&rx_wrong, 9, buf, (size_t)len), WIRE_ERR_AUTH);

	/* Peer-to-peer: each host's tx key is the other's rx key, and a packet
	 * reflected back to its sender does not open. */
	uint8_t psk[32], a_tx[32], a_rx[32], b_tx[32], b_rx[32], id_a[16], id_b[16];

	for (int i = 0; i < 32; i++)
		psk[i] = (uint8_t)(0x80 + i);
	inet_pton(AF_INET6, "2001:db8:c:1:1122:3344:5566:7788", id_a);
	inet_pton(AF_INET6, "2001:db8:5:1::5eed", id_b);
	assert_int_equal(wire_derive_direction_keys(psk, id_a, id_b, a_tx, a_rx), 0);
	assert_int_equal(wire_derive_direction_keys(psk, id_b, id_a, b_tx, b_rx), 0);
	assert_hex(a_tx, 32, kat_psk_c2s_hex);
	assert_hex(a_rx, 32, kat_psk_s2c_hex);
	assert_memory_equal(a_tx, b_rx, 32);
	assert_memory_equal(a_rx, b_tx, 32);
	assert_memory_not_equal(a_tx, a_rx, 32);
	assert_int_equal(wire_derive_direction_keys(psk, id_a, id_a, a_tx, a_rx), -EINVAL);
	assert_int_equal(wire_derive_direction_keys(psk, id_a, id_b, a_tx, a_rx), 0);

	wire_tx_init(&tx, a_tx);
	wire_rx_init(&rx_reflect, a_rx);
	wire_rx_init(&rx, b_rx);
	len = seal_marked(&tx, 9, buf, sizeof(buf), 8);
	assert_int_equal(wire_open(&rx_reflect, 9, buf, (size_t)len), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 9, buf, (size_t)len), 8);
}

/* The slot is bound: a packet captured in one slot fails in any other. */
static void test_other_slot_fails(void **state)
{
	(void)state;
	uint8_t buf[PKT];
	struct wire_tx tx;
	struct wire_rx rx;
	int len;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	len = seal_marked(&tx, 1000, buf, sizeof(buf), 8);
	assert_int_equal(wire_open(&rx, 1001, buf, (size_t)len), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 999, buf, (size_t)len), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 1000 + (UINT64_C(1) << 32), buf, (size_t)len),
			 WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 1000, buf, (size_t)len), 8);
	/* ... and once accepted, the same packet again is a replay. */
	assert_int_equal(wire_open(&rx, 1000, buf, (size_t)len), WIRE_ERR_REPLAY);
}

/* Clock skew of one slot either way: the receiver, at slot 100, opens what
 * a peer one slot behind (99) and one ahead (101) send on those slots'
 * sockets, interleaved; the newest slot seen is then 101, and a packet
 * three slots below it is too old. */
static void test_skew_one_slot(void **state)
{
	(void)state;
	uint8_t buf[PKT];
	struct wire_tx behind, ahead, same;
	struct wire_rx rx;

	wire_tx_init(&behind, dir_key);
	wire_tx_init(&ahead, dir_key);
	wire_tx_init(&same, dir_key);
	wire_rx_init(&rx, dir_key);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(seal_marked(&same, 100, buf, PKT, 60), PKT);
		assert_int_equal(wire_open(&rx, 100, buf, PKT), 60);
		assert_int_equal(seal_marked(&ahead, 101, buf, PKT, 60), PKT);
		assert_int_equal(wire_open(&rx, 101, buf, PKT), 60);
		assert_int_equal(seal_marked(&behind, 99, buf, PKT, 60), PKT);
		assert_int_equal(wire_open(&rx, 99, buf, PKT), 60);
	}
	/* A packet sealed for 99 that arrives on the socket of 100: refused. */
	assert_int_equal(seal_marked(&behind, 99, buf, PKT, 60), PKT);
	assert_int_equal(wire_open(&rx, 100, buf, PKT), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 99, buf, PKT), 60);
	assert_int_equal(seal_marked(&behind, 98, buf, PKT, 60), PKT);
	assert_int_equal(wire_open(&rx, 98, buf, PKT), WIRE_ERR_TOO_OLD);
	assert_int_equal(rx.n_instances, 3);
}

/* Slot arithmetic at the top of the range does not wrap. */
static void test_slot_extremes(void **state)
{
	(void)state;
	uint8_t buf[PKT];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, UINT64_MAX, buf, sizeof(buf), 8), PKT);
	assert_int_equal(wire_open(&rx, UINT64_MAX, buf, PKT), 8);
	assert_int_equal(seal_marked(&tx, UINT64_MAX - 2, buf, sizeof(buf), 8), PKT);
	assert_int_equal(wire_open(&rx, UINT64_MAX - 2, buf, PKT), 8);
	assert_int_equal(seal_marked(&tx, UINT64_MAX - 3, buf, sizeof(buf), 8), PKT);
	assert_int_equal(wire_open(&rx, UINT64_MAX - 3, buf, PKT), WIRE_ERR_TOO_OLD);
	assert_int_equal(wire_open(&rx, 0, buf, PKT), WIRE_ERR_TOO_OLD);
}

/* A new rotation period renumbers the slots, maybe lower than before: the
 * receiver restarts (same key), accepts the new numbering, and a packet of
 * the old numbering still fails on the new slots. */
static void test_restart_for_new_numbering(void **state)
{
	(void)state;
	uint8_t buf[PKT], old[PKT];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, 3000, old, sizeof(old), 8), PKT);
	assert_int_equal(wire_open(&rx, 3000, old, PKT), 8);
	assert_int_equal(seal_marked(&tx, 1000, buf, sizeof(buf), 8), PKT);
	assert_int_equal(wire_open(&rx, 1000, buf, PKT), WIRE_ERR_TOO_OLD);
	wire_rx_restart(&rx);
	assert_int_equal(wire_open(&rx, 1000, buf, PKT), 8);
	assert_int_equal(wire_open(&rx, 1000, buf, PKT), WIRE_ERR_REPLAY);
	assert_int_equal(seal_marked(&tx, 3000, old, sizeof(old), 8), PKT);
	assert_int_equal(wire_open(&rx, 1001, old, PKT), WIRE_ERR_AUTH);
	wire_rx_fini(&rx);
	wire_tx_fini(&tx);
}

/* Replayed and reordered packets around the window's edge. */
static void test_replay_and_reorder(void **state)
{
	(void)state;
	enum { N = REPLAY_WINDOW + 200 };
	static uint8_t pkts[N][PKT];
	uint8_t buf[PKT];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	for (int i = 0; i < N; i++)
		assert_int_equal(seal_marked(&tx, 5, pkts[i], PKT, 8), PKT);

	/* Deliver 100 first, then the newest, then the rest backwards. */
	for (int i = 0; i < 100; i++) {
		memcpy(buf, pkts[i], PKT);
		assert_int_equal(wire_open(&rx, 5, buf, PKT), 8);
		assert_int_equal(buf[WIRE_HEADER_LEN], (uint8_t)i);
	}
	memcpy(buf, pkts[N - 1], PKT);
	assert_int_equal(wire_open(&rx, 5, buf, PKT), 8);
	for (int i = N - 2; i >= 100; i--) {
		uint64_t behind = (uint64_t)(N - 1 - i);

		memcpy(buf, pkts[i], PKT);
		assert_int_equal(wire_open(&rx, 5, buf, PKT),
				 behind <= REPLAY_WINDOW ? 8 : WIRE_ERR_TOO_OLD);
	}
	/* Everything again: duplicates within the window, too old below it;
	 * in the next slot too (the replay window is checked before the tag). */
	for (int i = 0; i < N; i++) {
		uint64_t behind = (uint64_t)(N - 1 - i);

		memcpy(buf, pkts[i], PKT);
		assert_int_equal(wire_open(&rx, 5 + (uint64_t)(i & 1), buf, PKT),
				 behind <= REPLAY_WINDOW ? WIRE_ERR_REPLAY : WIRE_ERR_TOO_OLD);
	}
	/* New packets still flow. */
	assert_int_equal(seal_marked(&tx, 5, buf, PKT, 8), PKT);
	assert_int_equal(wire_open(&rx, 5, buf, PKT), 8);
}

/* A restarted sender (new instance, counter back at 0) is accepted, uses a
 * different packet key (no nonce is used twice under one key: same counter,
 * same plaintext, same slot, different ciphertext), and the old instance's
 * packets stay replay-checked. */
static void test_restart_gets_fresh_key(void **state)
{
	(void)state;
	uint8_t old0[PKT], old1[PKT], new0[PKT], buf[PKT], h_old[WIRE_HEADER_LEN],
		h_new[WIRE_HEADER_LEN];
	struct wire_tx tx1, tx2;
	struct wire_rx rx;

	wire_rx_init(&rx, dir_key);
	wire_tx_init(&tx1, dir_key);
	assert_int_equal(seal_marked(&tx1, 20, old0, sizeof(old0), 8), PKT);
	assert_int_equal(seal_marked(&tx1, 20, old1, sizeof(old1), 8), PKT);
	wire_tx_init(&tx2, dir_key); /* the peer restarts */
	assert_memory_not_equal(tx1.instance, tx2.instance, WIRE_INSTANCE_LEN);
	assert_memory_not_equal(tx1.key, tx2.key, WIRE_KEY_LEN);
	assert_memory_equal(tx1.hp_key, tx2.hp_key, WIRE_KEY_LEN);
	assert_int_equal(seal_marked(&tx2, 20, new0, sizeof(new0), 8), PKT);
	unprotect(old0, PKT, dir_key, h_old);
	unprotect(new0, PKT, dir_key, h_new);
	assert_true(header_counter(h_old) == 0 && header_counter(h_new) == 0);
	assert_memory_not_equal(old0 + WIRE_HEADER_LEN, new0 + WIRE_HEADER_LEN,
				PKT - WIRE_HEADER_LEN);
	assert_memory_not_equal(old0, new0, WIRE_HEADER_LEN);

	memcpy(buf, old0, PKT);
	assert_int_equal(wire_open(&rx, 20, buf, PKT), 8);
	memcpy(buf, new0, PKT);
	assert_int_equal(wire_open(&rx, 20, buf, PKT), 8);
	memcpy(buf, old0, PKT);
	assert_int_equal(wire_open(&rx, 20, buf, PKT), WIRE_ERR_REPLAY);
	memcpy(buf, new0, PKT);
	assert_int_equal(wire_open(&rx, 20, buf, PKT), WIRE_ERR_REPLAY);
	memcpy(buf, old1, PKT);
	assert_int_equal(wire_open(&rx, 21, buf, PKT), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 20, buf, PKT), 8);
	assert_int_equal(rx.n_instances, 2);
}

/* The instance table: full of live instances, a new one is refused (BUSY,
 * buffer untouched); once they are more than two slots old it is accepted,
 * and the forgotten instances' packets are then too old to replay. */
static void test_instance_table_eviction(void **state)
{
	(void)state;
	struct wire_tx tx[WIRE_RX_INSTANCES + 1];
	uint8_t first[WIRE_RX_INSTANCES + 1][PKT], buf[PKT];
	struct wire_rx rx;

	wire_rx_init(&rx, dir_key);
	for (int i = 0; i < WIRE_RX_INSTANCES; i++) {
		wire_tx_init(&tx[i], dir_key);
		assert_int_equal(seal_marked(&tx[i], 10, first[i], PKT, 8), PKT);
		memcpy(buf, first[i], PKT);
		assert_int_equal(wire_open(&rx, 10, buf, PKT), 8);
	}
	wire_tx_init(&tx[WIRE_RX_INSTANCES], dir_key);
	for (uint64_t slot = 10; slot <= 12; slot++) {
		assert_int_equal(seal_marked(&tx[WIRE_RX_INSTANCES], slot, buf, PKT, 8), PKT);
		memcpy(first[WIRE_RX_INSTANCES], buf, PKT);
		assert_int_equal(wire_open(&rx, slot, buf, PKT), WIRE_ERR_BUSY);
		assert_memory_equal(buf, first[WIRE_RX_INSTANCES], PKT);
	}
	/* Instance 0 stays live in slot 12. */
	assert_int_equal(seal_marked(&tx[0], 12, buf, PKT, 8), PKT);
	assert_int_equal(wire_open(&rx, 12, buf, PKT), 8);
	/* Slot 13: instances 1..7 (last seen in 10) may go. */
	assert_int_equal(seal_marked(&tx[WIRE_RX_INSTANCES], 13, buf, PKT, 8), PKT);
	assert_int_equal(wire_open(&rx, 13, buf, PKT), 8);
	assert_int_equal(rx.n_instances, WIRE_RX_INSTANCES);
	/* Replays of every old first packet: refused whatever entry was evicted. */
	for (int i = 0; i < WIRE_RX_INSTANCES; i++) {
		memcpy(buf, first[i], PKT);
		assert_true(wire_open(&rx, 10, buf, PKT) == WIRE_ERR_TOO_OLD);
	}
	/* Slot older than two before the newest: too old, even when authentic. */
	assert_int_equal(seal_marked(&tx[0], 10, buf, PKT, 8), PKT);
	assert_int_equal(wire_open(&rx, 10, buf, PKT), WIRE_ERR_TOO_OLD);
	assert_int_equal(seal_marked(&tx[0], 11, buf, PKT, 8), PKT);
	assert_int_equal(wire_open(&rx, 11, buf, PKT), 8);
	/* Instance 0, seen in 12, was not evicted: its replay is a replay. */
	assert_int_equal(wire_open(&rx, 11, buf, PKT), WIRE_ERR_REPLAY);
}

/* Two senders sharing one direction key (two threads, two instances)
 * interleave freely. */
static void test_concurrent_instances(void **state)
{
	(void)state;
	uint8_t buf[PKT];
	struct wire_tx a, b;
	struct wire_rx rx;

	wire_tx_init(&a, dir_key);
	wire_tx_init(&b, dir_key);
	wire_rx_init(&rx, dir_key);
	for (int i = 0; i < 1000; i++) {
		struct wire_tx *t = (i * 7) % 3 ? &a : &b;

		assert_int_equal(seal_marked(t, 40 + i / 300, buf, PKT, 8), PKT);
		assert_int_equal(wire_open(&rx, 40 + i / 300, buf, PKT), 8);
	}
	assert_int_equal(rx.n_instances, 2);
}

/* AES-256-GCM (type 2): the bytes of libsodium's AEAD under the key
 * H_"mt6d/1 wire aes-256-gcm key"(packet key), at every length up to 1600
 * bytes and beyond the stack copy of wire_open (4096 bytes). */
static void test_aes_matches_libsodium(void **state)
{
	static const struct aead_reference aes = {
		WIRE_AEAD_AES256_GCM, WIRE_TYPE_DATA_AES, "mt6d/1 wire aes-256-gcm key",
		crypto_aead_aes256gcm_encrypt_detached, 0, 9000, 97,
	};

	(void)state;
	if (!wire_aes_is_available())
		skip();
	check_against_libsodium(&aes);
}

/* The AES vector of docs/PROTOCOL.md section 10 (the ChaCha20 one's
 * inputs: instance 010203040506, counter 0, padding off). */
static const char kat_aes_packet_hex[] =
	"533a72432c9971d8b75a456e972869eef8a5a886fd26f3edd0d2984bcf5ba873f2bf910d06f87b49"
	"fd2d62a66fbaae54ec1b45ef94697059ac1dfdae5c1443a156ba02be3e7bf00ec7e59fa556772916"
	"fec68d38ff426f4da2a889e720d4c9b48317dcc3481e280e";

static void test_aes_known_answer_vector(void **state)
{
	(void)state;
	static const uint8_t instance[WIRE_INSTANCE_LEN] = { 1, 2, 3, 4, 5, 6 };
	uint8_t buf[256] = { 0 }, header[WIRE_HEADER_LEN];
	struct wire_tx tx;
	struct wire_rx rx;

	if (!wire_aes_is_available())
		skip();
	scripted_random_push(instance, sizeof(instance));
	wire_tx_init(&tx, dir_key);
	assert_int_equal(wire_tx_set_aead(&tx, WIRE_AEAD_AES256_GCM), 0);
	memcpy(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	assert_int_equal(wire_seal(&tx, KAT_SLOT, buf, 16, sizeof(buf)), PKT);
	assert_hex(buf, PKT, kat_aes_packet_hex);
	unprotect(buf, PKT, dir_key, header);
	assert_hex(header, WIRE_HEADER_LEN, "02003801020304050600000000000000");
	wire_rx_init(&rx, dir_key);
	assert_int_equal(wire_open(&rx, KAT_SLOT, buf, PKT), 16);
	assert_memory_equal(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
}

/* AES packets: every bit flip is refused and leaves buf as it came, for a
 * sender not known yet and for a known one; a sender that changes its AEAD
 * mid-stream (same instance, same counter sequence) is opened either way;
 * a packet of one slot fails in another. */
static void test_aes_flips_and_mix(void **state)
{
	(void)state;
	uint8_t buf[PKT], copy[sizeof(buf)];
	struct wire_tx tx;
	struct wire_rx rx;

	if (!wire_aes_is_available())
		skip();
	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(wire_tx_set_aead(&tx, WIRE_AEAD_AES256_GCM), 0);
	for (int known = 0; known < 2; known++) {
		assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 20), (int)sizeof(buf));
		assert_every_flip_refused(&rx, buf, known);
		assert_int_equal(rx.n_instances, known);
		memcpy(copy, buf, sizeof(buf));
		assert_int_equal(wire_open(&rx, 4, buf, sizeof(buf)), WIRE_ERR_AUTH);
		assert_memory_equal(buf, copy, sizeof(buf));
		assert_int_equal(wire_open(&rx, 3, buf, sizeof(buf)), 20);
		assert_int_equal(wire_open(&rx, 3, copy, sizeof(copy)), WIRE_ERR_REPLAY);
	}
	assert_int_equal(wire_tx_set_aead(&tx, WIRE_AEAD_CHACHA20_POLY1305), 0);
	assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 20), (int)sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, sizeof(buf)), 20);
	assert_int_equal(wire_tx_set_aead(&tx, WIRE_AEAD_AES256_GCM), 0);
	assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 20), (int)sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, sizeof(buf)), 20);
	assert_int_equal(rx.n_instances, 1);
	assert_int_equal(wire_tx_set_aead(&tx, (enum wire_aead)7), -EINVAL);
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
}

/* The audit trail and the logs say what went wrong in the protocol's words
 * (the errno values the codes alias would say "Stale file handle"). */
static void test_error_messages(void **state)
{
	static const int codes[] = { WIRE_ERR_MALFORMED, WIRE_ERR_AUTH, WIRE_ERR_REPLAY, WIRE_ERR_TOO_OLD, WIRE_ERR_BUSY };

	(void)state;
	check_error_table(wire_strerror, codes, sizeof(codes) / sizeof(codes[0]));
}

/* ---- nothing linkable in the header (issue 13, docs/PROTOCOL.md 9) ---- */

enum { N_DGRAMS = 10000, PER_SLOT = 700 };

/* Pearson's chi-square of 256 byte counts against uniform. */
static double chi_square(const unsigned counts[256], unsigned n)
{
	double e = n / 256.0, x = 0;

	for (int v = 0; v < 256; v++)
		x += (counts[v] - e) * (counts[v] - e) / e;
	return x;
}

/* 255 degrees of freedom: mean 255, standard deviation sqrt(510) ~ 22.6.
 * The bounds are 6 deviations away (a false alarm about once in 10^9 per
 * statistic; the test's random stream is fixed anyway). A constant byte
 * scores ~2.5 million, a counter's low byte ~0 (too even), its higher
 * bytes ~ millions. */
#define CHI_LO 119.0
#define CHI_HI 391.0

/* For every header byte position, over n datagrams in send order: the
 * values, and the difference (XOR) of consecutive datagrams, are each
 * uniform. Returns the number of statistics out of bounds. */
static int header_stats_failures(const uint8_t (*h)[WIRE_HEADER_LEN], unsigned n, bool verbose)
{
	int failures = 0;

	for (int pos = 0; pos < WIRE_HEADER_LEN; pos++) {
		unsigned vals[256] = { 0 }, diffs[256] = { 0 };
		double xv, xd;

		for (unsigned i = 0; i < n; i++) {
			vals[h[i][pos]]++;
			if (i)
				diffs[h[i][pos] ^ h[i - 1][pos]]++;
		}
		xv = chi_square(vals, n);
		xd = chi_square(diffs, n - 1);
		failures += xv < CHI_LO || xv > CHI_HI;
		failures += xd < CHI_LO || xd > CHI_HI;
		if (verbose && (xv < CHI_LO || xv > CHI_HI || xd < CHI_LO || xd > CHI_HI))
			print_message("byte %d: chi2 values %.0f, differences %.0f\n", pos, xv, xd);
	}
	return failures;
}

/* Bytes 0..15 of 10,000 datagrams of one direction, as an observer sees
 * them: 700 per slot across 15 slot boundaries, a sender restart in the
 * middle, sizes of data and keepalives mixed, padding on for half. */
static void capture_headers(uint8_t (*h)[WIRE_HEADER_LEN], uint8_t (*clear)[WIRE_HEADER_LEN])
{
	static uint8_t buf[WIRE_INNER_MTU + WIRE_OVERHEAD];
	static const size_t sizes[] = { 40, 60, 72, 1420, 1420, 1420, 120, 1420 };
	struct wire_tx tx;

	wire_tx_init(&tx, dir_key);
	for (unsigned i = 0; i < N_DGRAMS; i++) {
		int len;

		if (i == N_DGRAMS / 2) {
			wire_tx_fini(&tx);
			wire_tx_init(&tx, dir_key);
			assert_int_equal(wire_tx_set_padding(&tx, 256, WIRE_INNER_MTU), 0);
			/* The restarted sender seals type 2 (AES-256-GCM) where
			 * it can: its headers must look the same. */
			if (wire_aes_is_available())
				assert_int_equal(wire_tx_set_aead(&tx, WIRE_AEAD_AES256_GCM), 0);
		}
		len = seal_marked(&tx, 5000 + i / PER_SLOT, buf, sizeof(buf), sizes[i % 8]);
		assert_true(len > 0);
		memcpy(h[i], buf, WIRE_HEADER_LEN);
		unprotect(buf, (size_t)len, dir_key, clear[i]);
	}
	wire_tx_fini(&tx);
}

static void test_header_bytes_uniform(void **state)
{
	(void)state;
	static uint8_t h[N_DGRAMS][WIRE_HEADER_LEN], clear[N_DGRAMS][WIRE_HEADER_LEN];
	static uint8_t broken[N_DGRAMS][WIRE_HEADER_LEN];
	unsigned same_at_boundary = 0;

	capture_headers(h, clear);
	assert_int_equal(header_stats_failures((const uint8_t (*)[WIRE_HEADER_LEN])h, N_DGRAMS,
					       true), 0);
	/* Across each slot boundary: the last datagram of one slot and the
	 * first of the next share no more bytes at equal positions than chance
	 * (16/256 per pair on average). */
	for (unsigned i = PER_SLOT; i < N_DGRAMS; i += PER_SLOT)
		for (int pos = 0; pos < WIRE_HEADER_LEN; pos++)
			same_at_boundary += h[i][pos] == h[i - 1][pos];
	assert_true(same_at_boundary <= 6);

	/* The statistic catches what it must. The headers in clear (the old
	 * format's fields: constant type and instance, a counter): */
	assert_true(header_stats_failures((const uint8_t (*)[WIRE_HEADER_LEN])clear, N_DGRAMS,
					  false) >= 16);
	/* A broken variant that protects everything but leaves the counter in
	 * clear (bytes 9..15): fails on the counter's bytes. */
	memcpy(broken, h, sizeof(broken));
	for (unsigned i = 0; i < N_DGRAMS; i++)
		memcpy(broken[i] + 9, clear[i] + 9, 7);
	assert_true(header_stats_failures((const uint8_t (*)[WIRE_HEADER_LEN])broken, N_DGRAMS,
					  false) >= 7);
	/* ... and one that leaves only the type byte in clear. */
	memcpy(broken, h, sizeof(broken));
	for (unsigned i = 0; i < N_DGRAMS; i++)
		broken[i][0] = clear[i][0];
	assert_true(header_stats_failures((const uint8_t (*)[WIRE_HEADER_LEN])broken, N_DGRAMS,
					  false) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_known_answer_vector, setup),
		cmocka_unit_test_setup(test_round_trip_sizes, setup),
		cmocka_unit_test_setup(test_padding, setup),
		cmocka_unit_test_setup(test_seal_limits, setup),
		cmocka_unit_test_setup(test_malformed_and_garbage, setup),
		cmocka_unit_test_setup(test_aead_matches_libsodium, setup),
		cmocka_unit_test_setup(test_every_bit_flip_fails, setup),
		cmocka_unit_test_setup(test_bit_flip_of_known_instance_fails, setup),
		cmocka_unit_test_setup(test_header_fields_are_authenticated, setup),
		cmocka_unit_test_setup(test_wrong_key_and_direction, setup),
		cmocka_unit_test_setup(test_other_slot_fails, setup),
		cmocka_unit_test_setup(test_skew_one_slot, setup),
		cmocka_unit_test_setup(test_slot_extremes, setup),
		cmocka_unit_test_setup(test_restart_for_new_numbering, setup),
		cmocka_unit_test_setup(test_replay_and_reorder, setup),
		cmocka_unit_test_setup(test_restart_gets_fresh_key, setup),
		cmocka_unit_test_setup(test_instance_table_eviction, setup),
		cmocka_unit_test_setup(test_concurrent_instances, setup),
		cmocka_unit_test_setup(test_header_bytes_uniform, setup),
		cmocka_unit_test_setup(test_aes_matches_libsodium, setup),
		cmocka_unit_test_setup(test_aes_known_answer_vector, setup),
		cmocka_unit_test_setup(test_aes_flips_and_mix, setup),
		cmocka_unit_test(test_error_messages),
	};

	scripted_random_install();
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
