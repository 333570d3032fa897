/* The server's threat policy (docs/PROTOCOL.md, "Threat level"): a higher
 * level shortens Rot; signs of attack raise the level automatically, a quiet
 * period brings back the operator's. Pure: the engine counts the signs and
 * reads the clock, threat_tick decides. */
#ifndef MT6D_THREAT_H
#define MT6D_THREAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rot of each level, from RotationPeriod (Rot): low 2 x Rot, normal Rot,
 * high Rot / 3, within CONFIG_MIN_ROTATION_MS..CONFIG_MAX_ROTATION_MS. The
 * config period n is not changed: clients derive the DHT descriptor from it
 * before they can read anything. */
enum threat_level {
	THREAT_LOW = 0,
	THREAT_NORMAL = 1,
	THREAT_HIGH = 2,
};
#define THREAT_HIGH_DIVISOR 3
#define THREAT_LOW_FACTOR 2
/* Signs of attack (introduction datagrams and requests refused, session
 * packets that fail authentication) over THREAT_ATTACK_WINDOW_MS: at least
 * the threshold raise the level to high; once the rate stays under a tenth
 * of it for THREAT_QUIET_MS the operator's level returns. The threshold is
 * THREAT_ATTACK_THRESHOLD, or THREAT_SIGNS_PER_CLIENT per registered client
 * when that is more: honest clients make some of these signs too (a
 * request retried while the server is busy is refused as a replay), so a
 * fixed count that suits 20 clients raised the level by itself when 5,000
 * arrived at once (633 in 10 s, bench/sessions.sh). */
#define THREAT_ATTACK_WINDOW_MS 10000
#define THREAT_ATTACK_THRESHOLD 200
#define THREAT_SIGNS_PER_CLIENT 2
#define THREAT_QUIET_MS 300000

const char *threat_name(enum threat_level level);
/* "low", "normal" or "high"; 0 or -EINVAL. */
int threat_parse(const char *name, enum threat_level *level_out);
/* Rot of level for a configured RotationPeriod. */
uint32_t threat_rotation_ms(uint32_t base_rotation_ms, enum threat_level level);

struct threat {
	enum threat_level set;           /* the operator's */
	enum threat_level level;         /* in force */
	int64_t window_mono_ms;          /* start of the current count (0: none yet) */
	int64_t quiet_since_mono_ms;     /* 0: not quiet */
	uint64_t mark;                   /* signs counted at window_mono_ms */
	uint64_t threshold;              /* signs per window that raise the level */
};

enum threat_action {
	THREAT_KEEP,                     /* nothing to change */
	THREAT_RAISE,                    /* set THREAT_HIGH: an attack */
	THREAT_RETURN,                   /* back to the operator's level: quiet */
};

void threat_init(struct threat *t, enum threat_level set);

/* The threshold for n_clients registered clients (see above). */
void threat_set_clients(struct threat *t, size_t n_clients);

/* The operator sets a level (is_auto false), or the engine applies an
 * automatic one (is_auto true). Returns whether the level in force changed. */
bool threat_set(struct threat *t, enum threat_level level, bool is_auto);

/* Called often (every second); signs is the running total of signs of
 * attack (it may go down when sessions end: never counted negative). Once
 * per window decides; the action is applied already to t->level, and
 * *delta_out (when not NULL) tells the signs of the window that decided. */
enum threat_action threat_tick(struct threat *t, int64_t now_mono_ms, uint64_t signs,
			       uint64_t *delta_out);

#endif
