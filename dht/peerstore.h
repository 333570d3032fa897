/* What our node stores for others (internal to dht/): peers announced per
 * info_hash, the write tokens that guard announces, and the per-source rate
 * limiter that keeps the node from being exhausted or used as an amplifier.
 *
 * Peers are kept per (address, port), so several ports from one address are
 * separate entries, as libtorrent and jech/dht keep them (port stuffing relies
 * on it). Port 0 is refused (as jech/dht does: it is not a reachable peer).
 *
 * Tokens: 8 bytes of keyed BLAKE2b over (asker IP, info_hash) with a 32-byte
 * secret rotated every 5 min; the previous secret stays valid, so a token is
 * accepted for 5 to 10 min (BEP 5). Bound to the IP and the info_hash, like
 * libtorrent, and deliberately not to the UDP port: a NAT may rebind the
 * asker's port between get_peers and announce_peer, and binding the IP is
 * what stops a third party from announcing for someone else. */
#ifndef DHT_PEERSTORE_H
#define DHT_PEERSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/krpc.h"

#define PEERSTORE_MAX_PER_HASH 500          /* libtorrent's cap too */
#define PEERSTORE_MAX_HASHES 2048
#define PEERSTORE_MAX_TOTAL 16384           /* peers over all info_hashes */
#define PEERSTORE_TTL_MS (30 * 60 * 1000)   /* BEP 5 suggests 30 min */
#define PEERSTORE_ROTATE_MS (5 * 60 * 1000)
#define PEERSTORE_SECRET_LEN 32
#define PEERSTORE_TOKEN_LEN 8
#define PEERSTORE_MAX_VALUES 50             /* per reply: 50 x 18 B + 8 nodes6 < 1,400 B */

/* Rate limits per source address and for all sources together, in queries
 * per second and burst size. libtorrent bans at 50 per 10 s; we answer up to
 * 10/s per source so that our own collectors are never starved, and cap the
 * node at 400 answers/s (about 0.5 MB/s of replies at most). */
#define PEERSTORE_RATE_PER_SOURCE 10
#define PEERSTORE_BURST_PER_SOURCE 40
#define PEERSTORE_RATE_GLOBAL 400
#define PEERSTORE_BURST_GLOBAL 800
#define PEERSTORE_RATE_SLOTS 1024

struct peerstore_peer {
	struct krpc_addr addr;
	int64_t expires_ms;
};

struct peerstore_entry {
	uint8_t info_hash[KRPC_ID_LEN];
	struct peerstore_peer *peers;   /* heap, grows to PEERSTORE_MAX_PER_HASH */
	uint16_t n, cap;
};

struct peerstore_rate {
	struct krpc_addr src;          /* port ignored (zero) */
	int64_t last_ms;
	int32_t milli_tokens;
};

struct peerstore {
	struct peerstore_entry *entries;  /* heap, PEERSTORE_MAX_HASHES */
	size_t n_entries;
	size_t n_peers;
	uint8_t secret[2][PEERSTORE_SECRET_LEN];  /* [0] current, [1] previous */
	int64_t rotated_ms;
	struct peerstore_rate *rates;     /* heap, PEERSTORE_RATE_SLOTS */
	struct peerstore_rate global;
	uint64_t rate_limited;            /* queries refused by the limiter */
	uint64_t refused_full;            /* announces refused by a cap */
};

/* secret: 32 random bytes (copied). Returns 0 or -ENOMEM. */
int peerstore_init(struct peerstore *ps, const uint8_t secret[PEERSTORE_SECRET_LEN], int64_t now_ms);
/* Frees storage and wipes the secrets. */
void peerstore_fini(struct peerstore *ps);

/* Whether the secret is due for rotation (every PEERSTORE_ROTATE_MS). */
bool peerstore_is_rotation_due(const struct peerstore *ps, int64_t now_ms);
/* The current secret becomes the previous one; secret is copied. */
void peerstore_rotate(struct peerstore *ps, const uint8_t secret[PEERSTORE_SECRET_LEN], int64_t now_ms);

void peerstore_token(const struct peerstore *ps, const struct krpc_addr *asker,
		     const uint8_t info_hash[KRPC_ID_LEN], uint8_t token_out[PEERSTORE_TOKEN_LEN]);
bool peerstore_is_token_valid(const struct peerstore *ps, const struct krpc_addr *asker,
			      const uint8_t info_hash[KRPC_ID_LEN], const uint8_t *token, size_t len);

/* Stores or refreshes peer under info_hash. Returns 0, -EINVAL (port 0) or
 * -ENOSPC (a cap is reached; counted in refused_full). */
int peerstore_add(struct peerstore *ps, const uint8_t info_hash[KRPC_ID_LEN],
		  const struct krpc_addr *peer, int64_t now_ms);

/* Up to max peers of family stored under info_hash (a random subset chosen
 * with rnd when there are more). Returns how many were written to out. */
size_t peerstore_get(const struct peerstore *ps, const uint8_t info_hash[KRPC_ID_LEN],
		     int family, int64_t now_ms, uint32_t rnd, struct krpc_addr *out, size_t max);

/* Drops expired peers and empty info_hashes. */
void peerstore_expire(struct peerstore *ps, int64_t now_ms);

/* Token bucket per source address and a global one: true if a query from
 * src may be answered now (and charges it). */
bool peerstore_rate_allow(struct peerstore *ps, const struct krpc_addr *src, int64_t now_ms);

#endif
