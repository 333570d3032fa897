/* The slot schedule of one tunnel (docs/PROTOCOL.md formulas 5 and 7): for the
 * slots around the current one, our own and the peer's MT6D address and UDP
 * port, and at each move of the current slot the difference to apply (what to
 * bind, what to drop).
 *
 * Pure: no clock reads (time is a parameter), no sockets, no netlink. Slots
 * follow the wall clock: slot = floor(t_ms / Rot_ms), so every move is
 * computed from the slot number and a clock step simply re-aligns.
 *
 * The window holds cur-reach .. cur+reach. reach 1 is the protocol's overlap
 * (previous, current, next: packets in flight at a boundary and a peer one
 * slot off both arrive); reach 2 also tracks the slots two away, where a peer
 * two slots off lands, so the tunnel can detect and report it. Because the
 * window always holds cur+1, the address of a slot is bound one whole slot
 * before that slot starts (bind ahead). */
#ifndef MT6D_ROTATE_H
#define MT6D_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define ROTATE_KEY_LEN 32
#define ROTATE_MAX_REACH 2
#define ROTATE_MAX_SLOTS (2 * ROTATE_MAX_REACH + 1)

/* One end of the encapsulation in one slot. */
struct rotate_endpoint {
	struct in6_addr addr;   /* the host's /64 prefix || IID'(slot) */
	uint16_t port;          /* UDP port, host order, 1024..65535 */
};

struct rotate_slot {
	uint64_t slot;          /* t_i = floor(t_ms / Rot_ms) */
	struct rotate_endpoint own, peer;
};

struct rotate {
	struct in6_addr own_seed;   /* our /64 prefix || seed IID */
	struct in6_addr peer_seed;  /* the peer's */
	uint8_t key[ROTATE_KEY_LEN]; /* K of formula 5 (secret) */
	uint32_t rotation_ms;       /* Rot */
	unsigned reach;             /* 1 or 2: slots tracked each side of cur */
	bool has_slot;              /* false until the first rotate_move */
	uint64_t cur;               /* current slot */
	struct rotate_slot slots[ROTATE_MAX_SLOTS]; /* by slot % ROTATE_MAX_SLOTS */
};

/* What a move changes: slots that left the window (drop their binding) and
 * slots that entered it (bind them), each in increasing slot order. */
struct rotate_diff {
	size_t del_len, add_len;
	struct rotate_slot del[ROTATE_MAX_SLOTS];
	struct rotate_slot add[ROTATE_MAX_SLOTS];
};

/* Sets up an empty schedule (nothing bound). rotation_ms must be > 0 and
 * reach 1..ROTATE_MAX_REACH (-EINVAL otherwise). The key is copied. */
int rotate_init(struct rotate *r, const struct in6_addr *own_seed,
		const struct in6_addr *peer_seed, const uint8_t key[static ROTATE_KEY_LEN],
		uint32_t rotation_ms, unsigned reach);

/* Wipes the key. */
void rotate_fini(struct rotate *r);

/* Changes Rot (> 0, else -EINVAL). Slot numbers of the new period are
 * unrelated to the old ones: the window keeps the old slots until the next
 * rotate_move, which (to a slot of the new numbering) is a jump. */
int rotate_set_rotation(struct rotate *r, uint32_t rotation_ms);

/* Slot of wall-clock time t_ms (ms since the UNIX epoch; before it is 0). */
uint64_t rotate_slot_at(uint32_t rotation_ms, int64_t t_ms);

/* Wall-clock time (ms) at which slot starts. */
int64_t rotate_slot_start_ms(uint32_t rotation_ms, uint64_t slot);

/* The MT6D endpoint of a host with seed address seed (its /64 prefix and seed
 * IID) under key in slot: formula 5, addresses and ports from one hash. */
void rotate_endpoint_for(const struct in6_addr *seed, const uint8_t key[static ROTATE_KEY_LEN],
			 uint64_t slot, struct rotate_endpoint *ep_out);

/* Makes slot the current one and writes what changed into *diff_out: a move
 * by one slot drops one slot and adds one; a jump (clock step, first call)
 * drops and adds whole windows, keeping any slot in both. Moving to the
 * current slot changes nothing. Slots below reach are clamped (never
 * negative). */
void rotate_move(struct rotate *r, uint64_t slot, struct rotate_diff *diff_out);

/* The slot's entry if it is in the window, else NULL. */
const struct rotate_slot *rotate_get(const struct rotate *r, uint64_t slot);

/* Whether slot is in the window (cur-reach .. cur+reach). */
bool rotate_has(const struct rotate *r, uint64_t slot);

#endif
