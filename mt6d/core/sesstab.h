/* The server's table of sessions (docs/PROTOCOL.md section 11): at most one
 * live session per client id, found by id in O(1); sessions that are
 * closing (a teardown on its way out) stay in the table, counted against
 * the limit, until their owner removes them; per session the time of the
 * last authentic packet, for the idle timeout.
 *
 * Pure: no clock reads (time is a parameter, ms), no I/O. The owner embeds
 * a struct sesstab_entry in its session struct and recovers it with
 * container_of; the table never allocates or frees entries. */
#ifndef MT6D_SESSTAB_H
#define MT6D_SESSTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sesstab_entry {
	uint32_t client_id;
	bool is_closing;                 /* not found by sesstab_lookup, still in the table */
	uint64_t rx_packets;             /* tunnel counter when last seen to change */
	int64_t last_rx_ms;              /* when it last changed (or the session began) */
	struct sesstab_entry *prev, *next; /* every entry, newest first */
	struct sesstab_entry *hnext;     /* by-id bucket chain (closing ones too) */
};

struct sesstab {
	size_t max;                      /* entries allowed, closing ones included */
	size_t n, n_live;
	size_t n_buckets;                /* power of two */
	struct sesstab_entry **buckets;
	struct sesstab_entry *head;
};

/* An empty table for at most max (>= 1) sessions. Returns 0, -EINVAL or
 * -ENOMEM. */
int sesstab_init(struct sesstab *t, size_t max);

/* Frees the index; the entries are the owner's. */
void sesstab_fini(struct sesstab *t);

/* Adds e as the live session of client_id, begun at now_ms. Returns 0,
 * -EEXIST (client_id has a live session: close it first) or -ENOSPC (max
 * entries, closing ones included). e is the owner's and must stay put
 * until sesstab_remove. */
int sesstab_add(struct sesstab *t, struct sesstab_entry *e, uint32_t client_id, int64_t now_ms);

/* The live session of client_id, or NULL. */
struct sesstab_entry *sesstab_lookup(const struct sesstab *t, uint32_t client_id);

/* The live session of client_id, else a closing one, or NULL: whose tunnel
 * a packet to the client's tunnel address still takes (a teardown on its
 * way out). */
struct sesstab_entry *sesstab_lookup_any(const struct sesstab *t, uint32_t client_id);

/* e is closing: no longer found by sesstab_lookup (a new session of the client may be
 * added), still in the table until removed. Idempotent. */
void sesstab_close(struct sesstab *t, struct sesstab_entry *e);

/* Takes e out of the table (live or closing). */
void sesstab_remove(struct sesstab *t, struct sesstab_entry *e);

/* Every entry, newest first (closing ones too); NULL at the end. An entry
 * may be closed or removed while iterating if next was read before. */
struct sesstab_entry *sesstab_first(const struct sesstab *t);
struct sesstab_entry *sesstab_next(const struct sesstab_entry *e);

/* The tunnel's count of authentic packets at now_ms: a change is activity. */
void sesstab_note_rx(struct sesstab_entry *e, uint64_t rx_packets, int64_t now_ms);

/* Whether e is live and nothing authentic arrived for more than idle_ms. */
bool sesstab_is_idle(const struct sesstab_entry *e, int64_t now_ms, int64_t idle_ms);

size_t sesstab_count(const struct sesstab *t);      /* every entry */
size_t sesstab_count_live(const struct sesstab *t); /* live ones */

#endif
