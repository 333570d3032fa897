/* rdvitem: a rendezvous message as a BEP 44 mutable item (docs/PROTOCOL.md,
 * "BEP 44 mutable items"): v is the sealed message as a bencoded byte
 * string, seq its epoch, no salt, signed under the writer's key blinded for
 * the reader and the window (mt6d/core/itemkey.h); the item lives at
 * SHA-1(A'), which only the two of them can compute. Shared by the item
 * publisher (pubsched.h), the item fetcher (itemfetch.h) and the CLI. */
#ifndef MT6D_RDVITEM_H
#define MT6D_RDVITEM_H

#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"
#include "mt6d/core/itemkey.h"

/* The item for `sealed` (RENDEZVOUS_OVERHEAD..RENDEZVOUS_MAX_MSG_LEN bytes)
 * from writer_priv, whose shared secret with the reader is s, for window T
 * and epoch. Returns 0 or -EINVAL. */
int rdvitem_make(struct dht_item *out, const uint8_t writer_priv[static ITEMKEY_LEN],
		 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start, enum itemkey_kind kind,
		 uint8_t epoch, const uint8_t *sealed, size_t len);

/* Where the reader looks: SHA-1(A') for the writer's public key. */
int rdvitem_target(uint8_t target_out[static DHT_ID_LEN], const uint8_t writer_pub[static ITEMKEY_LEN],
		   const uint8_t s[static ITEMKEY_LEN], uint64_t window_start, enum itemkey_kind kind);

/* The sealed bytes inside an item's v (a bencoded byte string of
 * RENDEZVOUS_OVERHEAD..RENDEZVOUS_MAX_MSG_LEN bytes, nothing else), and its
 * epoch (seq, 0..255). Returns the length (*sealed_out points into it) or
 * -EINVAL. */
int rdvitem_sealed(const struct dht_item *it, const uint8_t **sealed_out, uint8_t *epoch_out);

#endif
