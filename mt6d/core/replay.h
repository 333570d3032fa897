/* Sliding-window anti-replay filter for the per-packet counters of the tunnel
 * (RFC 6479 bitmap; the same shape as WireGuard's): constant memory, O(1) per
 * packet, accepts reordering within the window.
 *
 * The window remembers the highest counter accepted so far ("top") and one
 * bit for each of the REPLAY_WINDOW counters below it. A counter is accepted
 * once; a counter seen before is a replay; a counter more than REPLAY_WINDOW
 * below top is too old to tell and is refused too.
 *
 * Use replay_check before authenticating a packet (cheap, no state change) and
 * replay_update only after it authenticated, so forged packets can never move
 * the window. replay_check_and_update does both for callers that already
 * know the counter is authentic. */
#ifndef MT6D_REPLAY_H
#define MT6D_REPLAY_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BITMAP_BITS 2048
#define REPLAY_WORD_BITS 64
#define REPLAY_WORDS (REPLAY_BITMAP_BITS / REPLAY_WORD_BITS)
/* Counters top - REPLAY_WINDOW .. top are always decided exactly; one word of
 * the ring is the one being recycled, hence the 64 less (RFC 6479, 2). */
#define REPLAY_WINDOW (REPLAY_BITMAP_BITS - REPLAY_WORD_BITS)

/* Return codes (negative errno values, distinct so the caller can count). */
#define REPLAY_ACCEPT 0
#define REPLAY_DUPLICATE (-EALREADY) /* this counter was accepted before */
#define REPLAY_TOO_OLD (-ESTALE)     /* below the window: cannot tell, refused */

struct replay {
	uint64_t top;                    /* highest counter accepted */
	bool has_top;                    /* false until the first accept */
	uint64_t bitmap[REPLAY_WORDS];   /* bit c % 2048 set: counter c seen */
};

/* Empty window: every counter is acceptable once. */
void replay_init(struct replay *r);

/* REPLAY_ACCEPT if counter would be accepted now, else REPLAY_DUPLICATE or
 * REPLAY_TOO_OLD. Does not change the window. */
int replay_check(const struct replay *r, uint64_t counter);

/* Records counter as seen (slides the window when it is above top). Call only
 * after replay_check returned REPLAY_ACCEPT and the packet authenticated. */
void replay_update(struct replay *r, uint64_t counter);

/* replay_check, then replay_update when it accepts; returns the check result. */
int replay_check_and_update(struct replay *r, uint64_t counter);

#endif
