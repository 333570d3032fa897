/* The server's window of one client's latest authentic introduction
 * datagrams (docs/PROTOCOL.md section 11, issue 13): an exact copy of one of
 * them (a replay: nobody but the holder of s_i can make a new authentic
 * datagram) is refused before anything else is spent on it, in particular
 * before the client's request token is charged, so replays cannot starve
 * the real client's retries.
 *
 * An introduction datagram authenticates only on the socket of the slot it
 * was sealed for (the slot is in its associated data), and that socket
 * lives for three slots: an entry is kept until then (expires_ms, given by
 * the caller), so INTROWIN_LEN entries cover every datagram a client can
 * send in that time at the request rate the server allows (4 at once, then
 * 1 per second: 12 in 3 slots of 3 s; the window holds 16).
 *
 * Pure: no clock (time is a parameter), no I/O, no allocation. */
#ifndef MT6D_INTROWIN_H
#define MT6D_INTROWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTROWIN_LEN 16
#define INTROWIN_FP_LEN 8  /* 64-bit fingerprints: the attacker copies, never chooses */

struct introwin {
	uint8_t fp[INTROWIN_LEN][INTROWIN_FP_LEN];
	int64_t expires_ms[INTROWIN_LEN];  /* when the datagram can no longer open (0: free) */
	bool is_replayed[INTROWIN_LEN];    /* a copy of it came already */
	uint64_t evicted;                  /* live entries pushed out by a full window */
};

/* introwin_check results. */
#define INTROWIN_NEW 0           /* not a copy of a live entry */
#define INTROWIN_REPLAY_FIRST 1  /* the first copy of that datagram */
#define INTROWIN_REPLAY_AGAIN 2  /* another copy of a datagram replayed before */

/* An empty window. */
void introwin_init(struct introwin *w);

/* The fingerprint of a datagram as received (before it is opened in place). */
void introwin_fingerprint(uint8_t fp_out[static INTROWIN_FP_LEN], const uint8_t *dgram,
			  size_t len);

/* Whether fp is one of the live entries at now_ms (a replay), and whether
 * that datagram was replayed before: INTROWIN_NEW, INTROWIN_REPLAY_FIRST or
 * INTROWIN_REPLAY_AGAIN. A signal of attack should count each replayed
 * datagram once (REPLAY_FIRST): then a thousand copies of one captured
 * datagram weigh as one, and replays alone are bounded by the real
 * client's own sending rate. */
int introwin_check(struct introwin *w, const uint8_t fp[static INTROWIN_FP_LEN], int64_t now_ms);

/* Remembers fp, of a datagram that authenticated, until expires_ms. A free
 * or expired entry is taken first; when all are live, the one expiring first
 * is replaced (counted in evicted). Call only after authentication, so that
 * forgeries never push out the client's own datagrams. */
void introwin_add(struct introwin *w, const uint8_t fp[static INTROWIN_FP_LEN],
		  int64_t expires_ms, int64_t now_ms);

#endif
