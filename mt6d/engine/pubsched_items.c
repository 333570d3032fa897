/* The BEP 44 item channel of the publication scheduler (pubsched.h): one
 * mutable item per client and window, holding the sealed config, signed
 * under the server's key blinded for that client and window, put to the k
 * closest nodes of its target with one "get" lookup and one "put" each
 * (docs/PROTOCOL.md 12). */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/engine/pubsched_int.h"
#include "mt6d/engine/rdvitem.h"

static void items_prepare(union pubsched_payload *out, const uint8_t sealed[RENDEZVOUS_CONFIG_LEN],
			  rendezvous_random_fn *random)
{
	(void)random;
	memcpy(out->sealed, sealed, RENDEZVOUS_CONFIG_LEN);
}

static int items_start(const struct pubsched_run *r)
{
	static struct dht_item it; /* large: kept off the stack, wiped after use */

	int op = rdvitem_make(&it, r->server_priv, r->secret, r->window, ITEMKEY_CONFIG, r->epoch,
			      r->payload->sealed, sizeof(r->payload->sealed));
	op = op < 0 ? -ECANCELED : dht_put_item(r->dht, &it, r->family, r->cb, r->closure, r->now_ms);
	sodium_memzero(&it, sizeof(it));
	return op;
}

/* A higher seq replaces the stored item: only the window's current epoch is
 * put. A put short of its quorum is always retried (one put costs little),
 * and items outlive a window of the default period. */
const struct pubsched_backend pubsched_items_backend = {
	.n_parts = 1,
	.steps_epochs = false,
	.max_short_runs = 0,
	.refresh_s = PUBSCHED_ITEM_REFRESH_S,
	.prepare = items_prepare,
	.start = items_start,
};
