/* The screen of `mt6d watch`: a daemon's control reply (mt6d/daemon/ctl.h, "get=1")
 * parsed into a snapshot, and two snapshots taken a refresh apart drawn as
 * plain ASCII lines that fit a terminal width, with rates computed between
 * them.
 *
 * Pure: no clock reads (times are parameters), no sockets, no terminal. The
 * CLI (mt6d/cli/cli_watch.c) fetches, times and paints. */
#ifndef MT6D_WATCH_H
#define MT6D_WATCH_H

#include <stddef.h>
#include <stdint.h>

#define WATCH_MAX_SESSIONS 100000  /* a reply is at most CTL_MAX_REPLY_LEN anyway */
#define WATCH_MIN_WIDTH 20         /* narrower terminals are drawn at this width */
#define WATCH_WIDE_WIDTH 112       /* from here current and next share a line */
#define WATCH_VALUE_LEN 64         /* a value kept from the reply, NUL included */

/* One tunnel as the daemon shows it (the server's "client=" records, or the
 * client's own session). Counters are cumulative since the session began. */
struct watch_session {
	char name[WATCH_VALUE_LEN];            /* the peer: client name, or "server" */
	char iface[WATCH_VALUE_LEN];           /* session interface */
	char own_tunnel[WATCH_VALUE_LEN];      /* our tunnel address */
	char peer_tunnel[WATCH_VALUE_LEN];     /* the peer's tunnel address */
	char own_ep[WATCH_VALUE_LEN];          /* "[addr]:port" in the current slot */
	char own_ep_next[WATCH_VALUE_LEN];     /* ... in the next slot */
	char peer_ep[WATCH_VALUE_LEN];
	char peer_ep_next[WATCH_VALUE_LEN];
	uint32_t rotation_ms;                  /* Rot of this session */
	int64_t next_rotation_ms;              /* to the slot's end when fetched; -1 unknown */
	int64_t last_rx_s;                     /* UNIX time of the last packet; 0 unknown */
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
	uint64_t drops_auth, drops_replay;     /* forged or wrong slot; replayed */
	uint64_t rx_prev_slot, rx_next_slot, rx_far_slot; /* clock skew: packets a slot off */
	uint64_t rotations;
};

/* A daemon at one moment. */
struct watch_snapshot {
	int64_t taken_ms;                      /* set by the caller: a monotonic clock */
	char role[16];                         /* "server", "client", "" unknown */
	char iface[WATCH_VALUE_LEN];           /* introduction interface */
	char link[WATCH_VALUE_LEN];            /* physical interface */
	char state[WATCH_VALUE_LEN];           /* the client's: waiting, introduction, session */
	char threat[16];                       /* the server's level; "" when none */
	char threat_set[16];                   /* the operator's level */
	char intro_ep[WATCH_VALUE_LEN];        /* the server's introduction endpoint */
	char intro_ep_next[WATCH_VALUE_LEN];
	uint32_t rotation_ms;                  /* Rot of the introduction (or the session) */
	int64_t next_rotation_ms;              /* -1 unknown */
	uint64_t key_generation;
	uint64_t drops_auth, drops_replay, drops_unknown_iid, drops_rate;
	uint64_t requests_sent;                /* the client's */
	size_t n_sessions;
	struct watch_session *sessions;        /* owned: watch_snapshot_fini */
};

/* What the screen looks like. */
struct watch_frame {
	unsigned width;                        /* columns; below WATCH_MIN_WIDTH, that */
	unsigned max_lines;                    /* 0: no limit (not a terminal) */
	int64_t now_s;                         /* UNIX time, for last packet ages */
};

/* Parses a "get=1" reply (without its errno line). Unknown keys are skipped,
 * over-long values cut. Returns 0 and fills *snap_out (taken_ms 0), or
 * -ENOMEM / -E2BIG (more than WATCH_MAX_SESSIONS); then nothing to free. */
int watch_parse(const char *reply, struct watch_snapshot *snap_out);

/* Frees the sessions and clears the snapshot. NULL is fine. */
void watch_snapshot_fini(struct watch_snapshot *snap);

/* The same session in an earlier snapshot (by name and interface), or NULL. */
const struct watch_session *watch_find_session(const struct watch_snapshot *snap,
					       const struct watch_session *s);

/* Rate per second of a counter that went from before to after in elapsed_ms.
 * Returns -1 when it cannot be known (no interval, or the counter went back:
 * a new session). */
double watch_rate(uint64_t before, uint64_t after, int64_t elapsed_ms);

/* Writes n (bytes, or bytes per second) with a binary unit: "512 B",
 * "1.5 KiB", "12.0 MiB"; suffix is appended ("/s"). A negative n is "-". */
void watch_format_bytes(double n, const char *suffix, char *buf, size_t buf_len);

/* Writes n with a decimal unit: "999", "1.2k", "3.4M"; negative is "-". */
void watch_format_count(double n, const char *suffix, char *buf, size_t buf_len);

/* Writes a duration in ms: "0.4 s", "12 s", "3m05s", "2h10m", "4d3h"; negative
 * is "-". */
void watch_format_duration(int64_t ms, char *buf, size_t buf_len);

/* Draws cur (prev, taken earlier of the same daemon, gives the rates; NULL
 * on the first refresh) as lines ending in '\n', none longer than the
 * frame's width, at most max_lines of them (sessions that do not fit are
 * summed up in the last line). Like snprintf: writes at most buf_len bytes
 * with a NUL and returns the length it needed. */
size_t watch_render(const struct watch_snapshot *prev, const struct watch_snapshot *cur,
		    const struct watch_frame *frame, char *buf, size_t buf_len);

#endif
