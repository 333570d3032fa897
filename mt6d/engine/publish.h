/* publish: the server side of the blind rendezvous (docs/PROTOCOL.md,
 * "Rendezvous publication"). For every registered client and every window T
 * it seals the window's config (rendezvous_config_seal), stuffs it into the
 * ports of three chunks and announces them with dht_announce under the chunk
 * infohashes of d_T and the window's epoch; it republishes the same ports
 * before stored peers expire, publishes the next window before it starts,
 * and spreads the announcements of all clients over the period with random
 * times, so that the DHT sees neither bursts nor per-client sizes (every
 * sealed config is RENDEZVOUS_CONFIG_LEN bytes).
 *
 * Epochs: a window's config may change before the window ends (a new K on
 * revocation). A second message under the same infohashes from the same IP
 * would mix with the first (announces cannot be withdrawn), so a change moves
 * the window to the next epoch, whose infohashes are unrelated; clients step
 * through epochs 0, 1, ... (fetch.h). Epochs of a window are contiguous for
 * every client: a client added in epoch e is published in epochs 0..e.
 *
 * Event-loop-agnostic on top of struct dht: the caller feeds time through
 * publish_tick (a monotonic now_ms, the one given to the nodes, and the UNIX
 * time) and calls it again at the deadline it returns. All chunks of one
 * client's publication leave from one node (the reader groups ports by IP);
 * several nodes (each on its own source address) multiply the rate, since
 * every node paces each destination to DHT_PACE_MS and runs at most
 * DHT_MAX_OPS operations. The nodes are borrowed and must outlive p, or be
 * replaced (publish_replace_node) and dropped (publish_drop_node) first. */
#ifndef MT6D_PUBLISH_H
#define MT6D_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "mt6d/core/rendezvous.h"

struct dht;
struct publish;

struct publish_params {
	uint32_t period_s;        /* n, the window length */
	uint32_t lead_s;          /* every config of a window is out this long before it starts */
	uint32_t spread_s;        /* a full round is spread over this long, ending lead_s before T */
	uint32_t urgent_spread_s; /* a catch-up or an epoch change is spread over this long */
	uint32_t refresh_s;       /* announce the same ports again after this long while the window lasts */
	uint32_t retry_s;         /* a chunk short of its quorum (dht_store_quorum) is tried again after this long */
	uint32_t max_ops_per_node; /* chunk announces in flight per node (< DHT_MAX_OPS) */
	int family;               /* AF_INET6 or AF_INET */
	rendezvous_random_fn *random; /* NULL: libsodium (seals, stuffing and timing) */
};

/* Defaults for a window of period_s seconds: spread over half the period,
 * finished a tenth of the period before the window (at most 60 s, at least
 * 20 s, the time announces take, unless that is over a third), refreshed
 * every 20 min (stored peers live 30 min on our nodes, 32-38 on jech's,
 * 45 on libtorrent: docs/LAB.md). */
void publish_params_default(struct publish_params *out, uint32_t period_s);

struct publish_stats {
	size_t clients;
	size_t publications;     /* client configs announced (every epoch, refreshes included) */
	size_t refreshes;        /* of which refreshes */
	size_t failures;         /* runs that left a chunk short of its quorum (retried) */
	size_t partial;          /* publications accepted after MAX_SHORT_RUNS with a chunk short */
	size_t ops_started;      /* chunk announces started */
	size_t ops_in_flight;
	size_t announces_acked;  /* announce_peer acknowledged, over all nodes and ports */
	size_t pending;          /* client publications due now but waiting for a free slot */
};

/* Creates a publisher for the server key server_priv (copied, wiped by
 * publish_free) over nodes[0..n_nodes). Returns 0 and *out, or -EINVAL /
 * -ENOMEM. */
int publish_new(const struct publish_params *params, const uint8_t server_priv[static RENDEZVOUS_KEY_LEN],
		struct dht *const *nodes, size_t n_nodes, struct publish **out);

/* Cancels the publisher's operations and frees it. NULL is fine. */
void publish_free(struct publish *p);

/* Registers a client: it is published from the next tick on (in every epoch
 * of the windows that have a config). Returns 0, -EEXIST, -EINVAL (a
 * low-order key) or -ENOMEM. */
int publish_add_client(struct publish *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN]);

/* Unregisters a client: its pending operations are cancelled, nothing more
 * is announced for it (what is stored expires). Returns 0 or -ENOENT. The
 * caller normally changes K as well (publish_set_config). */
int publish_remove_client(struct publish *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN]);

/* Sets the config every client gets for the window starting at window_start
 * (a multiple of the period). The first config of a window is epoch 0; a
 * different config for a window that already has one moves it to the next
 * epoch and republishes every client (-ERANGE after epoch 255); the same
 * config again changes nothing. A window already over, or more than one
 * window ahead of unix_ms, is -EINVAL. Returns the window's epoch. */
int publish_set_config(struct publish *p, uint64_t window_start, const struct rendezvous_config *cfg,
		       int64_t unix_ms);

/* After a restart within a window: the earlier process announced epochs
 * below `epoch` (the server persists the highest epoch it used, before
 * announcing), so this process starts the window at `epoch` with cfg. Every
 * client is announced in epochs 0..epoch (below epoch its new ports mix
 * with the old ones, which keeps the epochs contiguous for readers; at
 * epoch it is alone). Returns epoch, or -EINVAL as publish_set_config. */
int publish_resume_window(struct publish *p, uint64_t window_start, uint8_t epoch,
			  const struct rendezvous_config *cfg, int64_t unix_ms);

/* Starts due publications (as many as the nodes have room for), drops
 * windows that are over. Returns the next time (now_ms clock) it wants to be
 * called; call it after the nodes' dht_input too (operations end there). */
int64_t publish_tick(struct publish *p, int64_t now_ms, int64_t unix_ms);

/* The epoch of a window, or -ENOENT when it has no config. */
int publish_get_epoch(const struct publish *p, uint64_t window_start);

/* Whether every registered client's config for that window (at its current
 * epoch) has been announced at least once. */
int publish_is_window_done(const struct publish *p, uint64_t window_start);

/* A new DHT identity (engine/dhtident.h): publications started from now on
 * leave from node instead of old; those in flight finish on old. Returns 0
 * or -ENOENT (old is none of p's nodes). */
int publish_replace_node(struct publish *p, const struct dht *old, struct dht *node);

/* Chunk announces still running on node (a replaced node can go when 0). */
size_t publish_ops_on(const struct publish *p, const struct dht *node);

/* Before node is freed: cancels what still runs on it; those publications
 * start again (same ports) from their current node at the next tick. */
void publish_drop_node(struct publish *p, const struct dht *node);

void publish_get_stats(const struct publish *p, struct publish_stats *out);

#endif
