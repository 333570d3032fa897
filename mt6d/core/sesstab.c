#include "mt6d/core/sesstab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Live sessions per bucket stay near one at the limit: ids are dense small
 * integers in practice, and the hash spreads them anyway. */
static size_t bucket_of(const struct sesstab *t, uint32_t client_id)
{
	uint32_t h = client_id * UINT32_C(2654435761); /* Knuth's multiplicative hash */

	return (size_t)(h ^ (h >> 16)) & (t->n_buckets - 1);
}

int sesstab_init(struct sesstab *t, size_t max)
{
	size_t n = 16;

	memset(t, 0, sizeof(*t));
	if (max == 0)
		return -EINVAL;
	while (n < max && n < ((size_t)1 << 24))
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->n_buckets = n;
	t->max = max;
	return 0;
}

void sesstab_fini(struct sesstab *t)
{
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

struct sesstab_entry *sesstab_lookup(const struct sesstab *t, uint32_t client_id)
{
	struct sesstab_entry *e;

	for (e = t->buckets[bucket_of(t, client_id)]; e; e = e->hnext)
		if (e->client_id == client_id && !e->is_closing)
			return e;
	return NULL;
}

struct sesstab_entry *sesstab_lookup_any(const struct sesstab *t, uint32_t client_id)
{
	struct sesstab_entry *e, *closing = NULL;

	for (e = t->buckets[bucket_of(t, client_id)]; e; e = e->hnext) {
		if (e->client_id != client_id)
			continue;
		if (!e->is_closing)
			return e;
		if (!closing)
			closing = e;
	}
	return closing;
}

int sesstab_add(struct sesstab *t, struct sesstab_entry *e, uint32_t client_id, int64_t now_ms)
{
	size_t b = bucket_of(t, client_id);

	if (sesstab_lookup(t, client_id))
		return -EEXIST;
	if (t->n >= t->max)
		return -ENOSPC;
	memset(e, 0, sizeof(*e));
	e->client_id = client_id;
	e->last_rx_ms = now_ms;
	e->hnext = t->buckets[b];
	t->buckets[b] = e;
	e->next = t->head;
	if (t->head)
		t->head->prev = e;
	t->head = e;
	t->n++;
	t->n_live++;
	return 0;
}

static void unindex(struct sesstab *t, struct sesstab_entry *e)
{
	struct sesstab_entry **p = &t->buckets[bucket_of(t, e->client_id)];

	for (; *p; p = &(*p)->hnext)
		if (*p == e) {
			*p = e->hnext;
			e->hnext = NULL;
			return;
		}
}

void sesstab_close(struct sesstab *t, struct sesstab_entry *e)
{
	if (e->is_closing)
		return;
	e->is_closing = true;
	t->n_live--;
}

void sesstab_remove(struct sesstab *t, struct sesstab_entry *e)
{
	sesstab_close(t, e);
	unindex(t, e);
	if (e->prev)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	t->n--;
}

struct sesstab_entry *sesstab_first(const struct sesstab *t)
{
	return t->head;
}

struct sesstab_entry *sesstab_next(const struct sesstab_entry *e)
{
	return e->next;
}

void sesstab_note_rx(struct sesstab_entry *e, uint64_t rx_packets, int64_t now_ms)
{
	if (rx_packets == e->rx_packets)
		return;
	e->rx_packets = rx_packets;
	e->last_rx_ms = now_ms;
}

bool sesstab_is_idle(const struct sesstab_entry *e, int64_t now_ms, int64_t idle_ms)
{
	return !e->is_closing && now_ms - e->last_rx_ms > idle_ms;
}

size_t sesstab_count(const struct sesstab *t)
{
	return t->n;
}

size_t sesstab_count_live(const struct sesstab *t)
{
	return t->n_live;
}
