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
static const char kat_packet_hex[] =
	"010101020304050600000000000000009eb6deee5a2dff9f3070a2be1d57d7a0be149bfbe510cc9d"
	"61d5b59a7c03c3db";
static const char kat_psk_c2s_hex[] =
	"929b64b495f556c4e479f5f8f9c5ec411345ff83ca807eac2bd4ed93f240e22c";
static const char kat_psk_s2c_hex[] =
	"794d3468f287ac8a2f686655d17b63de32ae8c4dfbe4fb60b2cc810801ff9280";
#define KAT_SLOT UINT64_C(589075200) /* 1767225600000 ms / 3000 ms */

static uint8_t dir_key[WIRE_KEY_LEN], other_key[WIRE_KEY_LEN];

static void unhex(const char *hex, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, 2 * len, NULL, NULL, NULL), 0);
}

static void assert_hex(const uint8_t *p, size_t len, const char *hex)
{
	uint8_t want[128];

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

static void test_known_answer_vector(void **state)
{
	(void)state;
	static const uint8_t instance[WIRE_INSTANCE_LEN] = { 1, 2, 3, 4, 5, 6 };
	uint8_t buf[64] = { 0 };
	struct wire_tx tx;
	struct wire_rx rx;

	scripted_random_push(instance, sizeof(instance));
	wire_tx_init(&tx, dir_key);
	assert_hex(tx.key, 32, kat_packet_key_hex);
	memcpy(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	assert_int_equal(wire_seal(&tx, KAT_SLOT, buf, 16, sizeof(buf)), 16 + WIRE_OVERHEAD);
	assert_hex(buf, 16 + WIRE_OVERHEAD, kat_packet_hex);

	wire_rx_init(&rx, dir_key);
	assert_int_equal(wire_open(&rx, KAT_SLOT, buf, 16 + WIRE_OVERHEAD), 16);
	assert_memory_equal(buf + WIRE_HEADER_LEN, "mt6d wire vector", 16);
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
}

static void test_round_trip_sizes(void **state)
{
	(void)state;
	static uint8_t buf[WIRE_MAX_INNER_LEN + WIRE_OVERHEAD];
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 1280, WIRE_INNER_MTU,
					9000, WIRE_MAX_INNER_LEN };
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		int len = seal_marked(&tx, 7, buf, sizeof(buf), n);

		assert_int_equal(len, (int)(n + WIRE_OVERHEAD));
		assert_int_equal(buf[0], MT6D_PROTO_VERSION);
		assert_int_equal(buf[1], WIRE_TYPE_DATA);
		assert_memory_equal(buf + 2, tx.instance, WIRE_INSTANCE_LEN);
		assert_true(get_be64(buf + 8) == tx.counter - 1);
		assert_int_equal(wire_open(&rx, 7, buf, (size_t)len), (int)n);
		for (size_t j = 0; j < n; j++)
			assert_int_equal(buf[WIRE_HEADER_LEN + j], (uint8_t)(i + j));
	}
	/* The documented budget: 40 + 8 + overhead + inner MTU = 1500. */
	assert_int_equal(40 + 8 + WIRE_OVERHEAD + WIRE_INNER_MTU, 1500);
	assert_int_equal(WIRE_INNER_MTU, 1420);
}

static void test_seal_limits(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct wire_tx tx;

	wire_tx_init(&tx, dir_key);
	assert_int_equal(wire_seal(&tx, 1, buf, 100, sizeof(buf) - 1 - (WIRE_OVERHEAD - 28)),
			 -EMSGSIZE);
	assert_int_equal(wire_seal(&tx, 1, buf, 97, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(wire_seal(&tx, 1, buf, WIRE_MAX_INNER_LEN + 1, SIZE_MAX), -EMSGSIZE);
	assert_true(tx.counter == 0); /* failures consume no counter */
	assert_int_equal(wire_seal(&tx, 1, buf, 96, sizeof(buf)), 128);
	tx.counter = WIRE_COUNTER_LIMIT - 1;
	assert_int_equal(wire_seal(&tx, 1, buf, 10, sizeof(buf)), 10 + WIRE_OVERHEAD);
	assert_int_equal(wire_seal(&tx, 1, buf, 10, sizeof(buf)), -EOVERFLOW);
}

static void test_malformed(void **state)
{
	(void)state;
	uint8_t buf[256], copy[256];
	struct wire_tx tx;
	struct wire_rx rx;
	int len;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	len = seal_marked(&tx, 3, buf, sizeof(buf), 40);
	memcpy(copy, buf, sizeof(buf));
	for (size_t n = 0; n < WIRE_OVERHEAD; n++)
		assert_int_equal(wire_open(&rx, 3, buf, n), WIRE_ERR_MALFORMED);
	assert_int_equal(wire_open(&rx, 3, buf, WIRE_MAX_INNER_LEN + WIRE_OVERHEAD + 1),
			 WIRE_ERR_MALFORMED);
	for (unsigned v = 0; v < 256; v++) {
		if (v == MT6D_PROTO_VERSION)
			continue;
		buf[0] = (uint8_t)v;
		assert_int_equal(wire_open(&rx, 3, buf, (size_t)len), WIRE_ERR_MALFORMED);
		buf[0] = MT6D_PROTO_VERSION;
		buf[1] = (uint8_t)v;
		assert_int_equal(wire_open(&rx, 3, buf, (size_t)len),
				 v == WIRE_TYPE_DATA ? WIRE_ERR_AUTH : WIRE_ERR_MALFORMED);
		buf[1] = WIRE_TYPE_DATA;
	}
	/* A counter at the limit is never sent, so it is malformed. */
	put_be64(buf + 8, WIRE_COUNTER_LIMIT);
	assert_int_equal(wire_open(&rx, 3, buf, (size_t)len), WIRE_ERR_MALFORMED);
	put_be64(buf + 8, UINT64_MAX);
	assert_int_equal(wire_open(&rx, 3, buf, (size_t)len), WIRE_ERR_MALFORMED);
	memcpy(buf, copy, sizeof(buf));
	/* Truncated by one byte, or one byte of junk appended: tag mismatch. */
	assert_int_equal(wire_open(&rx, 3, buf, (size_t)len - 1), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 3, buf, (size_t)len + 1), WIRE_ERR_AUTH);
	assert_memory_equal(buf, copy, sizeof(buf));
	assert_int_equal(wire_open(&rx, 3, buf, (size_t)len), 40);
}

/* Every single-bit flip is refused, leaves buf and the receiver unchanged. */
static void test_every_bit_flip_fails(void **state)
{
	(void)state;
	uint8_t buf[WIRE_OVERHEAD + 20], copy[sizeof(buf)];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, 3, buf, sizeof(buf), 20), (int)sizeof(buf));
	memcpy(copy, buf, sizeof(buf));
	for (size_t bit = 0; bit < 8 * sizeof(buf); bit++) {
		int rc;

		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = wire_open(&rx, 3, buf, sizeof(buf));
		if (bit < 16)
			assert_int_equal(rc, WIRE_ERR_MALFORMED);
		else
			assert_int_equal(rc, WIRE_ERR_AUTH);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_memory_equal(buf, copy, sizeof(buf));
	}
	assert_int_equal(rx.n_instances, 0);
	assert_int_equal(wire_open(&rx, 3, buf, sizeof(buf)), 20);
}

static void test_wrong_key_and_direction(void **state)
{
	(void)state;
	uint8_t buf[64], copy[64];
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
	uint8_t buf[64];
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

/* Slot arithmetic at the top of the range does not wrap. */
static void test_slot_extremes(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, UINT64_MAX, buf, sizeof(buf), 8), 8 + WIRE_OVERHEAD);
	assert_int_equal(wire_open(&rx, UINT64_MAX, buf, 8 + WIRE_OVERHEAD), 8);
	assert_int_equal(seal_marked(&tx, UINT64_MAX - 2, buf, sizeof(buf), 8), 8 + WIRE_OVERHEAD);
	assert_int_equal(wire_open(&rx, UINT64_MAX - 2, buf, 8 + WIRE_OVERHEAD), 8);
	assert_int_equal(seal_marked(&tx, UINT64_MAX - 3, buf, sizeof(buf), 8), 8 + WIRE_OVERHEAD);
	assert_int_equal(wire_open(&rx, UINT64_MAX - 3, buf, 8 + WIRE_OVERHEAD), WIRE_ERR_TOO_OLD);
	assert_int_equal(wire_open(&rx, 0, buf, 8 + WIRE_OVERHEAD), WIRE_ERR_TOO_OLD);
}

/* A new rotation period renumbers the slots, maybe lower than before: the
 * receiver restarts (same key), accepts the new numbering, and a packet of
 * the old numbering still fails on the new slots. */
static void test_restart_for_new_numbering(void **state)
{
	(void)state;
	uint8_t buf[64], old[64];
	struct wire_tx tx;
	struct wire_rx rx;

	wire_tx_init(&tx, dir_key);
	wire_rx_init(&rx, dir_key);
	assert_int_equal(seal_marked(&tx, 3000, old, sizeof(old), 8), 8 + WIRE_OVERHEAD);
	assert_int_equal(wire_open(&rx, 3000, old, 8 + WIRE_OVERHEAD), 8);
	assert_int_equal(seal_marked(&tx, 1000, buf, sizeof(buf), 8), 8 + WIRE_OVERHEAD);
	assert_int_equal(wire_open(&rx, 1000, buf, 8 + WIRE_OVERHEAD), WIRE_ERR_TOO_OLD);
	wire_rx_restart(&rx);
	assert_int_equal(wire_open(&rx, 1000, buf, 8 + WIRE_OVERHEAD), 8);
	assert_int_equal(wire_open(&rx, 1000, buf, 8 + WIRE_OVERHEAD), WIRE_ERR_REPLAY);
	assert_int_equal(seal_marked(&tx, 3000, old, sizeof(old), 8), 8 + WIRE_OVERHEAD);
	assert_int_equal(wire_open(&rx, 1001, old, 8 + WIRE_OVERHEAD), WIRE_ERR_AUTH);
	wire_rx_fini(&rx);
	wire_tx_fini(&tx);
}

/* Replayed and reordered packets around the window's edge. */
static void test_replay_and_reorder(void **state)
{
	(void)state;
	enum { N = REPLAY_WINDOW + 200, PKT = 8 + WIRE_OVERHEAD };
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
	/* Everything again: duplicates within the window, too old below it. */
	for (int i = 0; i < N; i++) {
		uint64_t behind = (uint64_t)(N - 1 - i);

		memcpy(buf, pkts[i], PKT);
		assert_int_equal(wire_open(&rx, 5, buf, PKT),
				 behind <= REPLAY_WINDOW ? WIRE_ERR_REPLAY : WIRE_ERR_TOO_OLD);
	}
	/* New packets still flow. */
	assert_int_equal(seal_marked(&tx, 5, buf, PKT, 8), PKT);
	assert_int_equal(wire_open(&rx, 5, buf, PKT), 8);
}

/* A restarted sender (new instance, counter back at 0) is accepted, uses a
 * different packet key, and the old instance's packets stay replay-checked. */
static void test_restart_gets_fresh_key(void **state)
{
	(void)state;
	uint8_t old0[40], old1[40], new0[40], buf[40];
	struct wire_tx tx1, tx2;
	struct wire_rx rx;

	wire_rx_init(&rx, dir_key);
	wire_tx_init(&tx1, dir_key);
	assert_int_equal(seal_marked(&tx1, 20, old0, sizeof(old0), 8), 40);
	assert_int_equal(seal_marked(&tx1, 20, old1, sizeof(old1), 8), 40);
	wire_tx_init(&tx2, dir_key); /* the peer restarts */
	assert_memory_not_equal(tx1.instance, tx2.instance, WIRE_INSTANCE_LEN);
	assert_memory_not_equal(tx1.key, tx2.key, WIRE_KEY_LEN);
	assert_int_equal(seal_marked(&tx2, 20, new0, sizeof(new0), 8), 40);
	/* Same counter, same plaintext, same slot: different ciphertext. */
	assert_memory_not_equal(old0 + WIRE_HEADER_LEN, new0 + WIRE_HEADER_LEN, 24);

	memcpy(buf, old0, 40);
	assert_int_equal(wire_open(&rx, 20, buf, 40), 8);
	memcpy(buf, new0, 40);
	assert_int_equal(wire_open(&rx, 20, buf, 40), 8);
	memcpy(buf, old0, 40);
	assert_int_equal(wire_open(&rx, 20, buf, 40), WIRE_ERR_REPLAY);
	memcpy(buf, new0, 40);
	assert_int_equal(wire_open(&rx, 20, buf, 40), WIRE_ERR_REPLAY);
	memcpy(buf, old1, 40);
	assert_int_equal(wire_open(&rx, 21, buf, 40), WIRE_ERR_AUTH);
	assert_int_equal(wire_open(&rx, 20, buf, 40), 8);
	assert_int_equal(rx.n_instances, 2);
}

/* The instance table: full of live instances, a new one is refused (BUSY,
 * buffer untouched); once they are more than two slots old it is accepted,
 * and the forgotten instances' packets are then too old to replay. */
static void test_instance_table_eviction(void **state)
{
	(void)state;
	enum { PKT = 8 + WIRE_OVERHEAD };
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
	enum { PKT = 8 + WIRE_OVERHEAD };
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

/* The audit trail and the logs say what went wrong in the protocol's words
 * (the errno values the codes alias would say "Stale file handle"). */
static void test_error_messages(void **state)
{
	static const int codes[] = { WIRE_ERR_MALFORMED, WIRE_ERR_AUTH, WIRE_ERR_REPLAY, WIRE_ERR_TOO_OLD, WIRE_ERR_BUSY };

	(void)state;
	check_error_table(wire_strerror, codes, sizeof(codes) / sizeof(codes[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_known_answer_vector, setup),
		cmocka_unit_test_setup(test_round_trip_sizes, setup),
		cmocka_unit_test_setup(test_seal_limits, setup),
		cmocka_unit_test_setup(test_malformed, setup),
		cmocka_unit_test_setup(test_every_bit_flip_fails, setup),
		cmocka_unit_test_setup(test_wrong_key_and_direction, setup),
		cmocka_unit_test_setup(test_other_slot_fails, setup),
		cmocka_unit_test_setup(test_slot_extremes, setup),
		cmocka_unit_test_setup(test_restart_for_new_numbering, setup),
		cmocka_unit_test_setup(test_replay_and_reorder, setup),
		cmocka_unit_test_setup(test_restart_gets_fresh_key, setup),
		cmocka_unit_test_setup(test_instance_table_eviction, setup),
		cmocka_unit_test_setup(test_concurrent_instances, setup),
		cmocka_unit_test(test_error_messages),
	};

	scripted_random_install();
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
