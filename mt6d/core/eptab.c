#include "mt6d/core/eptab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define EPTAB_MIN_CAP 64

static size_t home(const struct eptab *t, const struct in6_addr *addr, uint16_t port)
{
	uint8_t in[18], h[crypto_shorthash_BYTES];
	uint64_t v;

	memcpy(in, addr->s6_addr, 16);
	in[16] = (uint8_t)(port >> 8);
	in[17] = (uint8_t)port;
	crypto_shorthash(h, in, sizeof(in), t->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (t->cap - 1);
}

static bool is_key(const struct eptab_entry *e, const struct in6_addr *addr, uint16_t port)
{
	return e->port == port && memcmp(&e->addr, addr, sizeof(*addr)) == 0;
}

/* The index holding addr/port, or of the free slot ending its probe run. */
static size_t find(const struct eptab *t, const struct in6_addr *addr, uint16_t port)
{
	size_t i = home(t, addr, port);

	while (t->slots[i].owner && !is_key(&t->slots[i], addr, port))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static size_t cap_for(size_t n)
{
	size_t cap = EPTAB_MIN_CAP;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

int eptab_init(struct eptab *t, size_t hint, const uint8_t key[static EPTAB_KEY_LEN])
{
	memset(t, 0, sizeof(*t));
	memcpy(t->key, key, EPTAB_KEY_LEN);
	t->cap = cap_for(hint);
	t->slots = calloc(t->cap, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void eptab_fini(struct eptab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static int grow(struct eptab *t)
{
	struct eptab old = *t;
	size_t i;

	t->cap = old.cap * 2;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		*t = old;
		return -ENOMEM;
	}
	for (i = 0; i < old.cap; i++) {
		if (old.slots[i].owner)
			t->slots[find(t, &old.slots[i].addr, old.slots[i].port)] = old.slots[i];
	}
	free(old.slots);
	return 0;
}

int eptab_add(struct eptab *t, const struct in6_addr *addr, uint16_t port, void *owner,
	      uint64_t slot)
{
	struct eptab_entry *e;

	if (!owner)
		return -EINVAL;
	e = &t->slots[find(t, addr, port)];
	if (!e->owner) {
		if (2 * (t->len + 1) > t->cap) {
			int rc = grow(t);

			if (rc < 0)
				return rc;
			e = &t->slots[find(t, addr, port)];
		}
		t->len++;
		e->addr = *addr;
		e->port = port;
	}
	e->owner = owner;
	e->slot = slot;
	return 0;
}

int eptab_remove(struct eptab *t, const struct in6_addr *addr, uint16_t port, const void *owner)
{
	size_t mask = t->cap - 1, i = find(t, addr, port), j;

	if (!t->slots[i].owner || t->slots[i].owner != owner)
		return 0;
	/* Backward shift: every entry of the run after the hole whose home is
	 * not between the hole and itself moves into the hole. */
	j = i;
	for (;;) {
		size_t h;

		j = (j + 1) & mask;
		if (!t->slots[j].owner)
			break;
		h = home(t, &t->slots[j].addr, t->slots[j].port);
		if (((j - h) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->len--;
	return 1;
}

const struct eptab_entry *eptab_lookup(const struct eptab *t, const struct in6_addr *addr,
				       uint16_t port)
{
	const struct eptab_entry *e;

	if (!t->slots)
		return NULL;
	e = &t->slots[find(t, addr, port)];
	return e->owner ? e : NULL;
}

size_t eptab_count(const struct eptab *t)
{
	return t->len;
}
