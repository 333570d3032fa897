/* BEP 44 mutable items that our node stores for others (internal to dht/),
 * and the SHA-1 and signed-data helpers both the store and our own get/put
 * operations need.
 *
 * Limits follow libtorrent 2.0's defaults, the implementation most storing
 * nodes of the public DHT run: at most 700 items (dht_max_dht_items); when
 * full, a new item displaces the stored one farthest from our node id
 * (libtorrent drops the least important: fewest announcers, then farthest;
 * every item here has one writer). libtorrent keeps items until displaced
 * (dht_item_lifetime = 0) and, when a lifetime is set, never less than
 * 120 min: we expire an item 2 h after its last put, so a writer that
 * refreshes hourly keeps it and an abandoned one does not hold memory.
 * v is at most 1,000 bytes bencoded and salt at most 64 bytes (BEP 44).
 *
 * Items are allocated one by one as they arrive, so that thousands of
 * simulated nodes that store few items stay small. */
#ifndef DHT_ITEMSTORE_H
#define DHT_ITEMSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/krpc.h"

#define ITEMSTORE_MAX_ITEMS 700
#define ITEMSTORE_TTL_MS (2 * 60 * 60 * 1000)

struct itemstore_item {
	uint8_t target[KRPC_ID_LEN];
	uint8_t k[KRPC_ITEM_KEY_LEN];
	uint8_t sig[KRPC_ITEM_SIG_LEN];
	int64_t seq;
	int64_t expires_ms;
	uint8_t salt_len;
	uint16_t v_len;
	uint8_t salt[KRPC_ITEM_MAX_SALT];
	uint8_t v[KRPC_ITEM_MAX_V];
};

struct itemstore {
	struct itemstore_item **items;   /* heap, grows to ITEMSTORE_MAX_ITEMS */
	size_t n, cap;
	uint64_t displaced;              /* items dropped to make room */
};

void itemstore_init(struct itemstore *st);
void itemstore_fini(struct itemstore *st);

/* SHA-1 (FIPS 180-4): BEP 44 names a mutable item by SHA-1(k || salt). */
void itemstore_sha1(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
		    uint8_t out[KRPC_ID_LEN]);

/* What BEP 44 signs: ["4:salt" <len> ":" salt] "3:seqi" seq "e1:v" v.
 * Returns the length, or -ENOBUFS. */
int itemstore_signed_data(uint8_t *buf, size_t cap, const uint8_t *salt, size_t salt_len,
			  int64_t seq, const uint8_t *v, size_t v_len);

/* Whether the item fields of m (k, sig, seq, v) hold a valid signature
 * for this salt (a put carries its salt, a get reply does not). */
bool itemstore_is_signed(const struct krpc_msg *m, const uint8_t *salt, size_t salt_len);

/* Stores the item of a put query m (k, sig, seq, v, salt, cas checked here;
 * the token by the caller). self is our node id (which item to displace).
 * Returns 0 or the BEP 44 error code to answer with (KRPC_ERR_*). */
int itemstore_put(struct itemstore *st, const struct krpc_msg *m, const uint8_t self[KRPC_ID_LEN],
		  int64_t now_ms);

/* The live item stored under target, or NULL. */
const struct itemstore_item *itemstore_get(const struct itemstore *st,
					   const uint8_t target[KRPC_ID_LEN], int64_t now_ms);

/* Drops expired items. */
void itemstore_expire(struct itemstore *st, int64_t now_ms);

#endif
