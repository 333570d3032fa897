/* libFuzzer harness for the rendezvous reader: unstuffing and opening of
 * whatever the DHT returns, with the keys and window of the known-answer
 * vectors so the seeds (tests/fuzz/corpus/rendezvous/) reach the
 * authenticated path.
 *
 * Input: byte 0 is the message length for rendezvous_unstuff (0 means a
 * config, 63); then records of 3 bytes, each one peer: chunk = b0 mod
 * chunks, announcing IP = one of 8 addresses chosen by b0 / chunks, port =
 * b1 << 8 | b2. The whole input is also opened as a sealed config and as a
 * generic message, and its first bytes seed a seal -> stuff -> unstuff ->
 * find round trip that must give the config back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/rendezvous.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KAT_WINDOW UINT64_C(1767225600)
#define MAX_RECORDS 2048

static uint8_t c_priv[32], c_pub[32], s_priv[32], s_pub[32];
static struct rendezvous_peer peers[RENDEZVOUS_MAX_CHUNKS][MAX_RECORDS];

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

static void init(void)
{
	if (sodium_init() < 0)
		abort();
	fill(c_priv, 32, 0x10);
	fill(s_priv, 32, 0x40);
	crypto_scalarmult_base(c_pub, c_priv);
	crypto_scalarmult_base(s_pub, s_priv);
}

static void peer_addr(uint8_t addr[16], unsigned which)
{
	memset(addr, 0, 16);
	addr[0] = 0x20;
	addr[1] = 0x01;
	addr[2] = 0x0d;
	addr[3] = 0xb8;
	addr[14] = which ? 0xba : 0x5e;
	addr[15] = which ? (uint8_t)which : 0xed;
}

/* The input's first bytes as a config; sealing, stuffing and reading it back
 * must give it back from the announcing IP. */
static void round_trip(const uint8_t *data, size_t size)
{
	static struct rendezvous_peer rt[3][RENDEZVOUS_CHUNK_MAX_PORTS];
	struct rendezvous_chunk_peers chunks[3];
	struct rendezvous_config cfg, got;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN], addr[16], from[16];
	uint16_t ports[RENDEZVOUS_CHUNK_MAX_PORTS];
	size_t j;
	int n, i;

	if (size < 38)
		return;
	memcpy(cfg.server_seed_addr, data, 16);
	memcpy(cfg.intro_key, data + 16, 16);
	cfg.rotation_ms = ((uint32_t)data[32] << 16 | (uint32_t)data[33] << 8 | data[34]) | 1;
	cfg.period_s = ((uint32_t)data[35] << 16 | (uint32_t)data[36] << 8 | data[37]) | 1;
	if (rendezvous_config_seal(sealed, sizeof(sealed), &cfg, s_priv, c_pub, KAT_WINDOW, data[0],
				   NULL) != RENDEZVOUS_CONFIG_LEN)
		abort();
	peer_addr(addr, 0);
	for (j = 0; j < 3; j++) {
		n = rendezvous_stuff_chunk(ports, sealed, sizeof(sealed), j, NULL);
		if (n != 21)
			abort();
		for (i = 0; i < n; i++) {
			/* Reversed: the reader must sort. */
			memcpy(rt[j][n - 1 - i].addr, addr, 16);
			rt[j][n - 1 - i].port = ports[i];
		}
		chunks[j].peers = rt[j];
		chunks[j].n_peers = (size_t)n;
	}
	if (rendezvous_find_config(chunks, 3, c_priv, s_pub, KAT_WINDOW, data[0], &got, from) != 0 ||
	    memcmp(&got, &cfg, sizeof(cfg)) != 0 || memcmp(from, addr, 16) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct rendezvous_chunk_peers chunks[RENDEZVOUS_MAX_CHUNKS];
	struct rendezvous_config cfg;
	uint8_t plain[RENDEZVOUS_MAX_MSG_LEN], cand[RENDEZVOUS_MAX_MSG_LEN], addr[16];
	uint8_t out[4 * RENDEZVOUS_MAX_MSG_LEN];
	size_t msg_len, n_chunks, i, cursor = 0, n_cand = 0;
	int rc;

	if (!ready) {
		init();
		ready = 1;
	}
	/* The raw input as a sealed config and as a generic message. */
	rc = rendezvous_config_open(&cfg, data, size, c_priv, s_pub, KAT_WINDOW, 0);
	if (rc == 0 && (cfg.rotation_ms == 0 || cfg.period_s == 0))
		abort();
	rc = rendezvous_message_open(plain, data, size, c_priv, s_pub, KAT_WINDOW, 0);
	if (rc > 0 && (size_t)rc != size - RENDEZVOUS_OVERHEAD)
		abort();

	if (size < 1)
		return 0;
	msg_len = data[0] ? data[0] : RENDEZVOUS_CONFIG_LEN;
	n_chunks = rendezvous_chunk_count(msg_len);
	if (n_chunks == 0)
		abort();                /* every length 1..255 takes a chunk or more */
	memset(chunks, 0, sizeof(chunks));
	for (i = 0; i < n_chunks; i++)
		chunks[i].peers = peers[i];
	for (i = 1; i + 3 <= size && i / 3 < MAX_RECORDS; i += 3) {
		size_t j = data[i] % n_chunks;
		struct rendezvous_peer *p;

		if (chunks[j].n_peers == RENDEZVOUS_MAX_PEERS_PER_CHUNK)
			continue;
		p = &peers[j][chunks[j].n_peers++];
		peer_addr(p->addr, (unsigned)(data[i] / n_chunks) % 8);
		p->port = (uint16_t)(data[i + 1] << 8 | data[i + 2]);
	}
	/* Every candidate comes from a distinct IP: at most 8. */
	while ((rc = rendezvous_unstuff_next(chunks, n_chunks, msg_len, &cursor, cand, addr)) == 1)
		if (++n_cand > 8)
			abort();
	if (rc != 0)
		abort();
	if (rendezvous_unstuff(chunks, n_chunks, msg_len, out, 4) != (int)(n_cand < 4 ? n_cand : 4))
		abort();
	if (msg_len == RENDEZVOUS_CONFIG_LEN) {
		rc = rendezvous_find_config(chunks, n_chunks, c_priv, s_pub, KAT_WINDOW, 0, &cfg, addr);
		if ((rc == -ENOENT) != (n_cand == 0))
			abort();
	}
	round_trip(data, size);
	return 0;
}
