#include "mt6d/core/rotate.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/derive.h"

/* Formula 5, as docs/PROTOCOL.md fixes it (mt6d/core/derive.h). */
void rotate_endpoint_for(const struct in6_addr *seed, const uint8_t key[static ROTATE_KEY_LEN],
			 uint64_t slot, struct rotate_endpoint *ep_out)
{
	derive_slot_endpoint(seed->s6_addr, key, ROTATE_KEY_LEN, slot, &ep_out->addr, &ep_out->port);
}

int rotate_init(struct rotate *r, const struct in6_addr *own_seed,
		const struct in6_addr *peer_seed, const uint8_t key[static ROTATE_KEY_LEN],
		uint32_t rotation_ms, unsigned reach)
{
	if (rotation_ms == 0 || reach == 0 || reach > ROTATE_MAX_REACH)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->own_seed = *own_seed;
	r->peer_seed = *peer_seed;
	memcpy(r->key, key, ROTATE_KEY_LEN);
	r->rotation_ms = rotation_ms;
	r->reach = reach;
	return 0;
}

void rotate_fini(struct rotate *r)
{
	sodium_memzero(r, sizeof(*r));
}

int rotate_set_rotation(struct rotate *r, uint32_t rotation_ms)
{
	if (!rotation_ms)
		return -EINVAL;
	r->rotation_ms = rotation_ms;
	return 0;
}

uint64_t rotate_slot_at(uint32_t rotation_ms, int64_t t_ms)
{
	if (rotation_ms == 0)
		return 0;
	return derive_slot(t_ms, rotation_ms);
}

int64_t rotate_slot_start_ms(uint32_t rotation_ms, uint64_t slot)
{
	return (int64_t)(slot * rotation_ms);
}

bool rotate_has(const struct rotate *r, uint64_t slot)
{
	uint64_t lo = r->cur >= r->reach ? r->cur - r->reach : 0;

	return r->has_slot && slot >= lo && slot <= r->cur + r->reach;
}

const struct rotate_slot *rotate_get(const struct rotate *r, uint64_t slot)
{
	if (!rotate_has(r, slot))
		return NULL;
	return &r->slots[slot % ROTATE_MAX_SLOTS];
}

void rotate_move(struct rotate *r, uint64_t slot, struct rotate_diff *diff_out)
{
	uint64_t old_lo = 0, old_hi = 0, lo, hi, s;
	bool had = r->has_slot;

	diff_out->del_len = 0;
	diff_out->add_len = 0;
	if (had && slot == r->cur)
		return;
	if (slot < r->reach)
		slot = r->reach;
	if (had) {
		old_lo = r->cur - r->reach;
		old_hi = r->cur + r->reach;
	}
	lo = slot - r->reach;
	hi = slot + r->reach;
	/* Drops first: an entry's storage (slot % ROTATE_MAX_SLOTS) is reused
	 * by the slot that replaces it. */
	for (s = old_lo; had && s <= old_hi; s++)
		if (s < lo || s > hi)
			diff_out->del[diff_out->del_len++] = r->slots[s % ROTATE_MAX_SLOTS];
	for (s = lo; s <= hi; s++) {
		struct rotate_slot *e = &r->slots[s % ROTATE_MAX_SLOTS];

		if (had && s >= old_lo && s <= old_hi)
			continue;
		e->slot = s;
		rotate_endpoint_for(&r->own_seed, r->key, s, &e->own);
		rotate_endpoint_for(&r->peer_seed, r->key, s, &e->peer);
		diff_out->add[diff_out->add_len++] = *e;
	}
	r->cur = slot;
	r->has_slot = true;
}
