/* pubsched_int.h: between the publication scheduler (pubsched.c) and its
 * channel back ends (pubsched_peers.c, pubsched_items.c). Private to the
 * pubsched module and its unit test.
 *
 * The back end is a struct of data and function pointers, not a switch on
 * the channel inside the scheduler: what differs between the channels is
 * mostly data (how many operations a publication takes, whether epochs are
 * stepped through, whether a part short of its quorum is ever accepted, how
 * often to refresh) plus two calls (turn a seal into what is published,
 * start one operation). With the pointers the scheduler names no channel,
 * and a unit test drives the real scheduler with a fake back end whose
 * every result it chooses (tests/unit/test_pubsched.c), which a switch
 * could only offer by a third, test-only case in production code. */
#ifndef MT6D_PUBSCHED_INT_H
#define MT6D_PUBSCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dht/dht.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/engine/pubsched.h"

#define PUBSCHED_MAX_PARTS 3 /* rendezvous_chunk_count(RENDEZVOUS_CONFIG_LEN) */

/* What a publication publishes, kept for its retries and refreshes (the
 * same ports, the same sealed bytes). */
union pubsched_payload {
	struct {
		uint8_t n_ports[PUBSCHED_MAX_PARTS];
		uint16_t ports[PUBSCHED_MAX_PARTS][RENDEZVOUS_CHUNK_MAX_PORTS];
	} peers;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
};

/* One operation to start: part `part` of a client's publication. */
struct pubsched_run {
	struct dht *dht;
	int family;
	const uint8_t *server_priv;        /* RENDEZVOUS_KEY_LEN */
	const uint8_t *secret;             /* the client's shared secret, DERIVE_SECRET_LEN */
	uint64_t window;
	uint8_t epoch;
	unsigned part;
	const union pubsched_payload *payload;
	dht_result_fn *cb;                 /* the scheduler's: DONE counts n_stored against n_wanted */
	void *closure;
	int64_t now_ms;
};

struct pubsched_backend {
	unsigned n_parts;          /* operations per publication, each stored at its own quorum */
	bool steps_epochs;         /* every epoch 0..e in turn (peers), or only the window's (items) */
	uint8_t max_short_runs;    /* 0: never accept a part short of its quorum */
	uint32_t refresh_s;        /* 0: the params' refresh_s */
	/* A fresh seal into what the parts publish. */
	void (*prepare)(union pubsched_payload *out, const uint8_t sealed[RENDEZVOUS_CONFIG_LEN],
			rendezvous_random_fn *random);
	/* Starts one operation: its id (>= 0), -EINVAL if it never can (the
	 * publication is given up), another negative errno to try later. */
	int (*start)(const struct pubsched_run *run);
	/* NULL in production: dht_cancel, and "the node knows a node of the
	 * family" (dht_stats). A test back end replaces them. */
	void (*cancel)(struct dht *d, int op);
	bool (*is_ready)(struct dht *d, int family, int64_t now_ms);
};

extern const struct pubsched_backend pubsched_peers_backend;
extern const struct pubsched_backend pubsched_items_backend;

/* pubsched_new with any back end (be is borrowed, it must outlive p). */
int pubsched_new_with(const struct pubsched_backend *be, const struct pubsched_params *params,
		      const uint8_t server_priv[static RENDEZVOUS_KEY_LEN], struct dht *const *nodes,
		      size_t n_nodes, struct pubsched **out);

#endif
