/* fetch: the reader's side of the blind rendezvous (docs/PROTOCOL.md,
 * "Rendezvous publication"): computes d_T from the two keys, collects the
 * chunks of epochs 0, 1, ... under it (near a window boundary also under the
 * neighbouring window's), groups the peers by announcing IP, reassembles and
 * opens: a config sealed by a server (FETCH_CONFIG) or a generic message
 * (FETCH_MESSAGE, rendezvous put/get).
 *
 * Epochs: 0, 1 and 2 are asked at once (1 and 2 by one lookup of their
 * chunk 0, the others only if it holds anything); every epoch that holds
 * any peers has the next two asked in turn, so one empty epoch in between
 * does not stop the stepping (FETCH_MAX_EPOCHS at most). The result is the
 * highest epoch that opens; junk announced from other IPs never hides an
 * authentic message (every candidate is tried).
 *
 * Early open (docs/PROTOCOL.md 6.6): a node's full answer comes with its
 * lookup reply (dht.h, dht_collect); the chunk's lookup then stops, and an
 * epoch whose every chunk has an answer is tried with the answers so far
 * (if they do not open it, its lookups start again and run to their end).
 * What opened in the window asked for ends the fetch at once when no higher
 * epoch can win: a config once every higher epoch started came back, a
 * message unless a higher epoch has shown any peers so far. The
 * neighbouring windows are asked only once epoch 0 of the window asked for
 * came back without opening.
 *
 * Event-loop-agnostic on top of one struct dht (borrowed): results arrive
 * through the node's callbacks (from dht_input/dht_tick), fetch_tick enforces
 * the time limit. Callbacks must not free the fetch; free it afterwards. */
#ifndef MT6D_FETCH_H
#define MT6D_FETCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/core/rendezvous.h"

struct dht;
struct fetch;

enum fetch_kind { FETCH_CONFIG = 1, FETCH_MESSAGE };

/* Outcomes (negative errno values, one per reason a user must tell apart): */
#define FETCH_ERR_NOTHING (-ENOENT)          /* nothing stored under the descriptor */
#define FETCH_ERR_NOT_AUTHENTIC (-EBADMSG)   /* stored messages, none opens with these keys */
#define FETCH_ERR_EXPIRED (-EKEYEXPIRED)     /* authentic, but for a window that is over */
#define FETCH_ERR_NO_NODES (-EHOSTUNREACH)   /* no DHT node answered */
#define FETCH_ERR_TIMEOUT (-ETIMEDOUT)       /* time limit reached before an answer */

#define FETCH_MAX_EPOCHS 16  /* probed per window at most (an attacker can make us step) */

struct fetch_params {
	enum fetch_kind kind;
	uint32_t period_s;       /* n */
	uint64_t window_start;   /* 0: the window of the time at fetch_start, with neighbours */
	uint32_t edge_s;         /* that close to a boundary, also the neighbouring window */
	int64_t timeout_ms;      /* 0: none */
	int family;              /* AF_INET6 or AF_INET */
	int64_t hold_ms;         /* no lookup before this long after fetch_start, unless
				  * fetch_release (0: none) */
};

/* With both channels, the port-stuffing fetch holds its lookups this long
 * (or until the item channel has failed): a BEP 44 get asks ~8 nodes once
 * and opens within a few round trips, while the ~100 get_peers of a
 * message's chunks, sent at the same moment, spend the same nodes' reply
 * budgets (dht.h, DHT_REPLY_RATE) and held the get's queries back for 1.1 s
 * in a mixed foreign swarm. The wait is paid only where no item exists. */
#define FETCH_PEERS_HOLD_MS 500

struct fetch_progress {
	size_t queries;          /* DHT queries sent by finished lookups */
	size_t nodes;            /* node answers with values (a node once per lookup) */
	size_t values;           /* values in those answers */
	size_t lookups_done, lookups_started;
	int64_t elapsed_ms;
};

struct fetch_result {
	int status;              /* 0 or FETCH_ERR_* */
	uint64_t window_start;   /* where it was found (0 + EXPIRED: the old window) */
	uint8_t epoch;
	struct rendezvous_config cfg;                     /* FETCH_CONFIG */
	uint8_t msg[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN];    /* FETCH_MESSAGE */
	size_t msg_len;
	uint8_t from_addr[RENDEZVOUS_ADDR_LEN];           /* IP that announced it */
	struct fetch_progress progress;
};

/* Borrowed for the call; result->msg and cfg are secrets the caller copies
 * or forgets (they are wiped when the fetch is freed). */
typedef void fetch_done_fn(void *closure, const struct fetch_result *result);
typedef void fetch_progress_fn(void *closure, const struct fetch_progress *progress);

/* own_priv: the reader's key; peer_pub: the server's (CONFIG) or the
 * sender's (MESSAGE). Keys are copied. progress may be NULL. Returns 0 and
 * *out, or -EINVAL (bad parameters, a low-order peer key) / -ENOMEM. */
int fetch_new(struct dht *d, const struct fetch_params *params,
	      const uint8_t own_priv[static RENDEZVOUS_KEY_LEN],
	      const uint8_t peer_pub[static RENDEZVOUS_KEY_LEN],
	      fetch_done_fn *done, fetch_progress_fn *progress, void *closure, struct fetch **out);

/* Starts the lookups; unix_ms picks the window (unless params fixed one).
 * done is called exactly once, possibly from inside this call. Returns 0 or
 * -errno (-EBUSY: the node has no room for the lookups). */
int fetch_start(struct fetch *f, int64_t now_ms, int64_t unix_ms);

/* Enforces the time limit; returns when to be called again (now_ms clock). */
int64_t fetch_tick(struct fetch *f, int64_t now_ms);

/* Ends the hold (fetch_params.hold_ms) now, or cancels it before
 * fetch_start: the other channel failed. May be called from another
 * fetch's done callback. */
void fetch_release(struct fetch *f, int64_t now_ms);

/* Whether done has been called. */
int fetch_is_done(const struct fetch *f);

/* Cancels whatever runs, wipes the keys and results. NULL is fine. */
void fetch_free(struct fetch *f);

/* A short reason for a status, for messages ("nothing found", ...). */
const char *fetch_strerror(int status);

#endif
