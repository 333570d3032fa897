/* The port-stuffing channel of the publication scheduler (pubsched.h): a
 * config's sealed bytes as the ports of three chunks, each announced under
 * its chunk infohash of d_T and the epoch (docs/PROTOCOL.md 6.4, 6.5). */
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/pubsched_int.h"

static void peers_prepare(union pubsched_payload *out, const uint8_t sealed[RENDEZVOUS_CONFIG_LEN],
			  rendezvous_random_fn *random)
{
	for (size_t j = 0; j < PUBSCHED_MAX_PARTS; j++) {
		int n = rendezvous_stuff_chunk(out->peers.ports[j], sealed, RENDEZVOUS_CONFIG_LEN, j, random);
		out->peers.n_ports[j] = (uint8_t)(n > 0 ? n : 0);
	}
}

static int peers_start(const struct pubsched_run *r)
{
	uint8_t d[DERIVE_DESCRIPTOR_LEN];
	uint8_t ih[RENDEZVOUS_INFOHASH_LEN];

	derive_descriptor(d, r->secret, r->window);
	rendezvous_chunk_infohash(ih, d, r->epoch, (uint8_t)r->part);
	sodium_memzero(d, sizeof(d));
	return dht_announce(r->dht, ih, r->family, r->payload->peers.ports[r->part],
			    r->payload->peers.n_ports[r->part], r->cb, r->closure, r->now_ms);
}

/* Announces cannot be withdrawn: every epoch 0..e is announced in turn, so
 * a reader stepping through them finds something in each (PROTOCOL.md 6.6). */
const struct pubsched_backend pubsched_peers_backend = {
	.n_parts = PUBSCHED_MAX_PARTS,
	.steps_epochs = true,
	.max_short_runs = 3,
	.prepare = peers_prepare,
	.start = peers_start,
};
