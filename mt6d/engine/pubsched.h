/* pubsched: the server side of the blind rendezvous (docs/PROTOCOL.md,
 * "Rendezvous publication" and "BEP 44 mutable items"). For every
 * registered client and every window T it seals the window's config
 * (rendezvous_config_seal) and publishes it on one channel:
 *
 * - PUBSCHED_PEERS, port stuffing: the sealed bytes as the ports of three
 *   chunks, each announced with dht_announce under the chunk infohashes of
 *   d_T and the window's epoch (pubsched_peers.c);
 * - PUBSCHED_ITEMS, one BEP 44 mutable item signed under the server's key
 *   blinded for that client and window, put to the k closest nodes of its
 *   target (pubsched_items.c).
 *
 * One scheduler serves both (pubsched.c): the client registry, the current
 * and next window, the round (spread over the period with random times and
 * finished lead_s before T, so that the DHT sees neither bursts nor
 * per-client sizes: every sealed config is RENDEZVOUS_CONFIG_LEN bytes),
 * the catch-up of a late start, the order in which due clients are taken,
 * the store quorum and the retries, refreshes before stored copies expire.
 *
 * Epochs: a window's config may change before the window ends (a new K on
 * revocation), which moves the window to the next epoch. On the peers
 * channel a second message under the same infohashes from the same IP would
 * mix with the first (announces cannot be withdrawn), so each epoch has
 * unrelated infohashes and epochs are contiguous for every client: a client
 * added in epoch e is published in epochs 0..e. On the items channel an
 * epoch is a new seq under the same target, which storing nodes take in
 * place of the old one, so only the current epoch is ever put.
 *
 * Event-loop-agnostic on top of struct dht: the caller feeds time through
 * pubsched_tick (a monotonic now_ms, the one given to the nodes, and the
 * UNIX time) and calls it again at the deadline it returns and after the
 * nodes' dht_input (operations end there). All operations of one client's
 * publication leave from one node (the reader groups ports by IP); several
 * nodes (each on its own source address) multiply the rate, since every
 * node paces each destination to DHT_PACE_MS and runs at most DHT_MAX_OPS
 * operations. The nodes are borrowed and must outlive p, or be replaced
 * (pubsched_replace_node) and dropped (pubsched_drop_node) first. A server
 * running both channels runs two schedulers; their epochs move the same way,
 * so one saved epoch serves both. */
#ifndef MT6D_PUBSCHED_H
#define MT6D_PUBSCHED_H

#include <stddef.h>
#include <stdint.h>

#include "mt6d/core/rendezvous.h"

struct dht;
struct pubsched;

enum pubsched_channel {
	PUBSCHED_PEERS = 0, /* port stuffing: three chunk announces */
	PUBSCHED_ITEMS,     /* one BEP 44 put */
};

/* Items live 2 h on our nodes and until displaced on libtorrent's: an item
 * is put again only if its window outlasts this (refresh_s is for peers). */
#define PUBSCHED_ITEM_REFRESH_S 3600

struct pubsched_params {
	uint32_t period_s;        /* n, the window length */
	uint32_t lead_s;          /* every config of a window is out this long before it starts */
	uint32_t spread_s;        /* a full round is spread over this long, ending lead_s before T */
	uint32_t urgent_spread_s; /* a catch-up or an epoch change is spread over this long */
	uint32_t refresh_s;       /* peers: announce the same ports again after this long while the window lasts */
	uint32_t retry_s;         /* what is short of its quorum (dht_store_quorum) is tried again after this long */
	uint32_t max_ops_per_node; /* DHT operations in flight per node (< DHT_MAX_OPS) */
	int family;               /* AF_INET6 or AF_INET */
	rendezvous_random_fn *random; /* NULL: libsodium (seals, stuffing and timing) */
};

/* Defaults for a window of period_s seconds: spread over half the period,
 * finished a tenth of the period before the window (at most 60 s, at least
 * 20 s, the time announces take, unless that is over a third), refreshed
 * every 20 min (stored peers live 30 min on our nodes, 32-38 on jech's,
 * 45 on libtorrent: docs/LAB.md). */
void pubsched_params_default(struct pubsched_params *out, uint32_t period_s);

struct pubsched_stats {
	size_t clients;
	size_t publications;     /* client configs stored (every epoch, refreshes included) */
	size_t refreshes;        /* of which refreshes */
	size_t failures;         /* runs that left a chunk or the item short of its quorum (retried) */
	size_t partial;          /* peers: publications accepted after MAX_SHORT_RUNS with a chunk short */
	size_t ops_started;      /* chunk announces or item puts started */
	size_t ops_in_flight;
	size_t acked;            /* announce_peer or put queries acknowledged, over all nodes */
	size_t pending;          /* client publications due now but waiting for a free slot */
};

/* Creates a scheduler publishing on channel ch for the server key
 * server_priv (copied, wiped by pubsched_free) over nodes[0..n_nodes).
 * Returns 0 and *out, or -EINVAL / -ENOMEM. */
int pubsched_new(enum pubsched_channel ch, const struct pubsched_params *params,
		 const uint8_t server_priv[static RENDEZVOUS_KEY_LEN], struct dht *const *nodes, size_t n_nodes,
		 struct pubsched **out);

/* Cancels the scheduler's operations and frees it. NULL is fine. */
void pubsched_free(struct pubsched *p);

/* Registers a client: it is published from the next tick on (in every epoch
 * of the windows that have a config). Returns 0, -EEXIST, -EINVAL (a
 * low-order key) or -ENOMEM. */
int pubsched_add_client(struct pubsched *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN]);

/* Unregisters a client: its pending operations are cancelled, nothing more
 * is published for it (what is stored expires). Returns 0 or -ENOENT. The
 * caller normally changes K as well (pubsched_set_config). */
int pubsched_remove_client(struct pubsched *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN]);

/* Sets the config every client gets for the window starting at window_start
 * (a multiple of the period). The first config of a window is epoch 0; a
 * different config for a window that already has one moves it to the next
 * epoch and republishes every client (-ERANGE after epoch 255); the same
 * config again changes nothing. A window already over, or more than one
 * window ahead of unix_ms, is -EINVAL. Returns the window's epoch. */
int pubsched_set_config(struct pubsched *p, uint64_t window_start, const struct rendezvous_config *cfg,
			int64_t unix_ms);

/* After a restart within a window: the earlier process published epochs
 * below `epoch` (the server persists the highest epoch it used, before
 * publishing), so this process starts the window at `epoch` with cfg. On
 * the peers channel every client is announced in epochs 0..epoch (below
 * epoch its new ports mix with the old ones, which keeps the epochs
 * contiguous for readers; at epoch it is alone); on the items channel the
 * higher seq replaces what nodes hold. Returns epoch, or -EINVAL as
 * pubsched_set_config. */
int pubsched_resume_window(struct pubsched *p, uint64_t window_start, uint8_t epoch,
			   const struct rendezvous_config *cfg, int64_t unix_ms);

/* Starts due publications (as many as the nodes have room for), drops
 * windows that are over. Returns the next time (now_ms clock) it wants to be
 * called; call it after the nodes' dht_input too (operations end there). */
int64_t pubsched_tick(struct pubsched *p, int64_t now_ms, int64_t unix_ms);

/* Two schedulers on the same nodes, first before then: while first
 * publishes the window in force now (a fresh server's catch-up, a new
 * epoch) and has operations in flight or due within its catch-up spread,
 * then starts nothing (it still reaps and expires). Over both channels the
 * items go first: a fresh server's first clients read them, and the
 * port-stuffing announces share the nodes' pacing and the foreign nodes'
 * budgets (docs/PROTOCOL.md 12.4). Rounds for the next window run side by
 * side, and items that failed and wait for their retry hold nothing.
 * Either may be NULL. Returns the next time to be called. */
int64_t pubsched_tick_ordered(struct pubsched *first, struct pubsched *then, int64_t now_ms,
			      int64_t unix_ms);

/* The epoch of a window, or -ENOENT when it has no config. */
int pubsched_get_epoch(const struct pubsched *p, uint64_t window_start);

/* Whether every registered client's config for that window (at its current
 * epoch) has been stored at least once. */
int pubsched_is_window_done(const struct pubsched *p, uint64_t window_start);

/* A new DHT identity (engine/dhtident.h): publications started from now on
 * leave from node instead of old; those in flight finish on old. Returns 0
 * or -ENOENT (old is none of p's nodes). */
int pubsched_replace_node(struct pubsched *p, const struct dht *old, struct dht *node);

/* Operations still running on node (a replaced node can go when 0). */
size_t pubsched_ops_on(const struct pubsched *p, const struct dht *node);

/* Before node is freed: cancels what still runs on it; those publications
 * start again (the same ports or item) from their current node at the next
 * tick. */
void pubsched_drop_node(struct pubsched *p, const struct dht *node);

void pubsched_get_stats(const struct pubsched *p, struct pubsched_stats *out);

#endif
