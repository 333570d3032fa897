#include "mt6d/core/replay.h"

#include <string.h>

#define WORD_MASK (REPLAY_WORDS - 1)

_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0, "ring of words must be a power of two");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

static uint64_t bit_of(uint64_t counter)
{
	return UINT64_C(1) << (counter % REPLAY_WORD_BITS);
}

static size_t word_of(uint64_t counter)
{
	return (size_t)((counter / REPLAY_WORD_BITS) & WORD_MASK);
}

int replay_check(const struct replay *r, uint64_t counter)
{
	if (!r->has_top || counter > r->top)
		return REPLAY_ACCEPT;
	if (r->top - counter > REPLAY_WINDOW)
		return REPLAY_TOO_OLD;
	if (r->bitmap[word_of(counter)] & bit_of(counter))
		return REPLAY_DUPLICATE;
	return REPLAY_ACCEPT;
}

void replay_update(struct replay *r, uint64_t counter)
{
	if (!r->has_top) {
		/* The ring starts all clear, so any first counter fits without sliding. */
		r->has_top = true;
		r->top = counter;
	} else if (counter > r->top) {
		/* Clear the words between the old top's word and the new one: they
		 * now stand for counters never seen. A jump of a whole ring or more
		 * clears everything (bounded loop). */
		uint64_t old_word = r->top / REPLAY_WORD_BITS;
		uint64_t new_word = counter / REPLAY_WORD_BITS;
		uint64_t n = new_word - old_word;

		if (n > REPLAY_WORDS)
			n = REPLAY_WORDS;
		for (uint64_t i = 1; i <= n; i++)
			r->bitmap[(old_word + i) & WORD_MASK] = 0;
		r->top = counter;
	}
	r->bitmap[word_of(counter)] |= bit_of(counter);
}

int replay_check_and_update(struct replay *r, uint64_t counter)
{
	int rc = replay_check(r, counter);

	if (rc == REPLAY_ACCEPT)
		replay_update(r, counter);
	return rc;
}
