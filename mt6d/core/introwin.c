#include "mt6d/core/introwin.h"

#include <string.h>
#include <sodium.h>

void introwin_init(struct introwin *w)
{
	memset(w, 0, sizeof(*w));
}

void introwin_fingerprint(uint8_t fp_out[static INTROWIN_FP_LEN], const uint8_t *dgram,
			  size_t len)
{
	/* BLAKE2b, libsodium's minimum output of 16 bytes, cut to 8. */
	uint8_t h[crypto_generichash_BYTES_MIN];

	crypto_generichash(h, sizeof(h), dgram, len, NULL, 0);
	memcpy(fp_out, h, INTROWIN_FP_LEN);
}

int introwin_check(struct introwin *w, const uint8_t fp[static INTROWIN_FP_LEN], int64_t now_ms)
{
	size_t i;

	for (i = 0; i < INTROWIN_LEN; i++) {
		if (w->expires_ms[i] <= now_ms || memcmp(w->fp[i], fp, INTROWIN_FP_LEN) != 0)
			continue;
		if (w->is_replayed[i])
			return INTROWIN_REPLAY_AGAIN;
		w->is_replayed[i] = true;
		return INTROWIN_REPLAY_FIRST;
	}
	return INTROWIN_NEW;
}

void introwin_add(struct introwin *w, const uint8_t fp[static INTROWIN_FP_LEN],
		  int64_t expires_ms, int64_t now_ms)
{
	size_t i, pick = 0;

	for (i = 0; i < INTROWIN_LEN; i++) {
		if (w->expires_ms[i] <= now_ms) {
			pick = i;
			break;
		}
		if (w->expires_ms[i] < w->expires_ms[pick])
			pick = i;
	}
	if (i == INTROWIN_LEN)
		w->evicted++;
	memcpy(w->fp[pick], fp, INTROWIN_FP_LEN);
	w->expires_ms[pick] = expires_ms;
	w->is_replayed[pick] = false;
}
