/* itemfetch: the reader's side of the BEP 44 item channel (docs/PROTOCOL.md,
 * "BEP 44 mutable items"): one "get" lookup per window asked (the windows of
 * fetch.h: T, and a neighbour near a boundary) of the target SHA-1(A'), A'
 * the writer's key blinded for us and the window. Storing nodes return the
 * item with the highest seq they hold; the item's seq is the epoch, so the
 * reader opens the highest one it sees and no epoch stepping is needed.
 *
 * Same parameters, results and statuses as fetch.h. A config of the window
 * asked for is reported as soon as its lookup ends, or ITEMFETCH_GRACE_MS
 * after it first opened (a node that missed a newer seq answers with an
 * older one: the grace lets the closest nodes answer too). A get that
 * holds an item ends once the closest nodes have answered or stayed silent
 * for a round-trip timeout (dht/lookup.c, query_settle_ms): in the lab
 * some 50 ms, the grace is the bound where round trips are long. */
#ifndef MT6D_ITEMFETCH_H
#define MT6D_ITEMFETCH_H

#include <stdint.h>

#include "mt6d/engine/fetch.h"

#define ITEMFETCH_GRACE_MS 300

struct dht;
struct itemfetch;

int itemfetch_new(struct dht *d, const struct fetch_params *params,
		  const uint8_t own_priv[static RENDEZVOUS_KEY_LEN],
		  const uint8_t peer_pub[static RENDEZVOUS_KEY_LEN], fetch_done_fn *done,
		  void *closure, struct itemfetch **out);
/* done is called exactly once, possibly from inside this call. */
int itemfetch_start(struct itemfetch *f, int64_t now_ms, int64_t unix_ms);
int64_t itemfetch_tick(struct itemfetch *f, int64_t now_ms);
int itemfetch_is_done(const struct itemfetch *f);
void itemfetch_free(struct itemfetch *f);

#endif
