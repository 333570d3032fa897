/* bench_aead: the per-packet cost of sealing and opening tunnel packets
 * (mt6d/core/wire.h) against libsodium's own AEADs, by hand (not part of
 * make bench; docs/perf/analysis/tunnel-cpu.md).
 *
 *   bench_aead [PACKETS]      (default 200000 per size and row)
 *
 * For an inner packet of 72 bytes (a TCP ACK) and 1420 bytes (a full
 * segment, the TUN MTU of a 1500-byte link), the best of 5 runs, in ns per
 * packet:
 *   wire_seal, wire_open          the tunnel's path: header protection and
 *                                 the AEAD as wire.c makes it, with
 *                                 ChaCha20-Poly1305 and (Cipher =
 *                                 aes-256-gcm) with AES-256-GCM;
 *   libsodium chacha20-poly1305   crypto_aead_chacha20poly1305_ietf_
 *                                 encrypt_detached on the same plaintext
 *                                 (what wire.c called until 2026-12-07);
 *   libsodium aes256gcm           crypto_aead_aes256gcm_encrypt_detached_
 *                                 afternm, where the CPU has AES-NI: the
 *                                 AEAD alone, without header protection. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "mt6d/core/wire.h"

#define RUNS 5
#define BUF_LEN 2048

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BATCH 64

static uint8_t bufs[2][BUF_LEN], batch[BATCH][BUF_LEN];
static int sealed[BATCH];

/* ns per packet of wire_seal and wire_open (best of RUNS) into best[0..1]. */
static int time_wire(struct wire_tx *tx, struct wire_rx *rx, size_t len, long n, double best[2])
{
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_s(), t;

		for (long i = 0; i < n; i++)
			(void)wire_seal(tx, 1, bufs[i & 1], len, BUF_LEN);
		t = (now_s() - t0) / (double)n * 1e9;
		best[0] = t < best[0] ? t : best[0];
		/* Opening: batches of packets sealed untimed, then opened. */
		t = 0;
		for (long i = 0; i < n; i += BATCH) {
			for (int j = 0; j < BATCH; j++)
				sealed[j] = wire_seal(tx, 1, batch[j], len, BUF_LEN);
			t0 = now_s();
			for (int j = 0; j < BATCH; j++)
				if (wire_open(rx, 1, batch[j], (size_t)sealed[j]) != (int)len)
					return -1;
			t += now_s() - t0;
		}
		t = t / (double)n * 1e9;
		best[1] = t < best[1] ? t : best[1];
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 72, 1420 };
	long n = argc > 1 ? atol(argv[1]) / BATCH * BATCH : 200000;
	uint8_t key[WIRE_KEY_LEN], nonce[12] = { 0 }, ad[24] = { 0 }, tag[16];
	crypto_aead_aes256gcm_state gcm;
	struct wire_tx tx, tx_aes;
	struct wire_rx rx, rx_aes;
	bool has_aes;

	if (sodium_init() < 0 || n <= 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	wire_tx_init(&tx, key);
	wire_rx_init(&rx, key);
	wire_tx_init(&tx_aes, key);
	wire_rx_init(&rx_aes, key);
	(void)wire_tx_set_padding(&tx, 0, WIRE_INNER_MTU);
	(void)wire_tx_set_padding(&tx_aes, 0, WIRE_INNER_MTU);
	has_aes = wire_tx_set_aead(&tx_aes, WIRE_AEAD_AES256_GCM) == 0;
	if (has_aes)
		crypto_aead_aes256gcm_beforenm(&gcm, key);
	printf("| inner bytes | wire_seal ns | wire_open ns | wire_seal AES-256-GCM ns | "
	       "wire_open AES-256-GCM ns | libsodium chacha20-poly1305 ns | "
	       "libsodium aes256gcm ns |\n|---|---|---|---|---|---|---|\n");
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		size_t len = sizes[z];
		double best[6] = { 1e9, 1e9, 1e9, 1e9, 1e9, 1e9 };

		if (time_wire(&tx, &rx, len, n, best) < 0 ||
		    (has_aes && time_wire(&tx_aes, &rx_aes, len, n, best + 2) < 0))
			return 1;
		for (int r = 0; r < RUNS; r++) {
			double t0 = now_s(), t;

			for (long i = 0; i < n; i++) {
				nonce[0] = (uint8_t)i;
				crypto_aead_chacha20poly1305_ietf_encrypt_detached(
					bufs[0], tag, NULL, bufs[0], len, ad, sizeof(ad), NULL, nonce, key);
			}
			t = (now_s() - t0) / (double)n * 1e9;
			best[4] = t < best[4] ? t : best[4];
			if (!has_aes)
				continue;
			t0 = now_s();
			for (long i = 0; i < n; i++) {
				nonce[0] = (uint8_t)i;
				crypto_aead_aes256gcm_encrypt_detached_afternm(
					bufs[1], tag, NULL, bufs[1], len, ad, sizeof(ad), NULL, nonce, &gcm);
			}
			t = (now_s() - t0) / (double)n * 1e9;
			best[5] = t < best[5] ? t : best[5];
		}
		if (has_aes)
			printf("| %zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", len, best[0],
			       best[1], best[2], best[3], best[4], best[5]);
		else
			printf("| %zu | %.0f | %.0f | no AES-NI | no AES-NI | %.0f | no AES-NI |\n",
			       len, best[0], best[1], best[4]);
	}
	wire_tx_fini(&tx);
	wire_rx_fini(&rx);
	wire_tx_fini(&tx_aes);
	wire_rx_fini(&rx_aes);
	return 0;
}
