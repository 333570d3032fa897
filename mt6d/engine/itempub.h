/* itempub: the server's publication on the BEP 44 item channel
 * (docs/PROTOCOL.md, "BEP 44 mutable items"): for every registered client
 * and every window, one mutable item holding the sealed config, signed
 * under the server's key blinded for that client and window, put to the k
 * closest nodes of its target with one "get" lookup and one "put" each.
 *
 * The schedule is the port-stuffing publisher's (publish.h, whose params
 * it takes): a round spread over the period and finished lead_s before
 * the window, catch-up spread for late starts, retry_s after a put too few
 * nodes took. What differs: an epoch change is a new seq under the same
 * target, which storing nodes take in place of the old one, so only the
 * window's current epoch is ever put (no contiguity to keep); and items
 * live 2 h on our nodes and until displaced on libtorrent's, so a window
 * is refreshed only if it outlasts ITEMPUB_REFRESH_S.
 *
 * Event-loop-agnostic like publish.h: itempub_tick at the deadline it
 * returns and after the nodes' input; nodes are borrowed. */
#ifndef MT6D_ITEMPUB_H
#define MT6D_ITEMPUB_H

#include <stddef.h>
#include <stdint.h>

#include "mt6d/core/rendezvous.h"
#include "mt6d/engine/publish.h"

#define ITEMPUB_REFRESH_S 3600

struct dht;
struct itempub;

struct itempub_stats {
	size_t clients;
	size_t publications;     /* items stored (refreshes included) */
	size_t refreshes;
	size_t failures;         /* puts too few nodes took (retried) */
	size_t puts_started;
	size_t puts_acked;       /* put queries acknowledged, over all nodes */
	size_t ops_in_flight;
	size_t pending;          /* due but waiting for room on a node */
};

int itempub_new(const struct publish_params *params, const uint8_t server_priv[static RENDEZVOUS_KEY_LEN],
		struct dht *const *nodes, size_t n_nodes, struct itempub **out);
void itempub_free(struct itempub *p);
int itempub_add_client(struct itempub *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN]);
int itempub_remove_client(struct itempub *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN]);
/* As publish_set_config and publish_resume_window: epochs move the same
 * way, so a server running both channels keeps them equal. */
int itempub_set_config(struct itempub *p, uint64_t window_start, const struct rendezvous_config *cfg,
		       int64_t unix_ms);
int itempub_resume_window(struct itempub *p, uint64_t window_start, uint8_t epoch,
			  const struct rendezvous_config *cfg, int64_t unix_ms);
int itempub_get_epoch(const struct itempub *p, uint64_t window_start);
int itempub_is_window_done(const struct itempub *p, uint64_t window_start);
int64_t itempub_tick(struct itempub *p, int64_t now_ms, int64_t unix_ms);
int itempub_replace_node(struct itempub *p, const struct dht *old, struct dht *node);
size_t itempub_ops_on(const struct itempub *p, const struct dht *node);
void itempub_drop_node(struct itempub *p, const struct dht *node);
void itempub_get_stats(const struct itempub *p, struct itempub_stats *out);

#endif
