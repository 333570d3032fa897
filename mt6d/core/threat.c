#include "mt6d/core/threat.h"

#include <errno.h>
#include <string.h>

#include "mt6d/core/config.h"

const char *threat_name(enum threat_level level)
{
	switch (level) {
	case THREAT_LOW:
		return "low";
	case THREAT_NORMAL:
		return "normal";
	case THREAT_HIGH:
		return "high";
	}
	return "?";
}

int threat_parse(const char *name, enum threat_level *level_out)
{
	static const enum threat_level all[] = { THREAT_LOW, THREAT_NORMAL, THREAT_HIGH };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, threat_name(all[i]))) {
			*level_out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

uint32_t threat_rotation_ms(uint32_t base_rotation_ms, enum threat_level level)
{
	uint64_t rot = base_rotation_ms;

	if (level == THREAT_HIGH)
		rot /= THREAT_HIGH_DIVISOR;
	else if (level == THREAT_LOW)
		rot *= THREAT_LOW_FACTOR;
	if (rot < CONFIG_MIN_ROTATION_MS)
		rot = CONFIG_MIN_ROTATION_MS;
	if (rot > CONFIG_MAX_ROTATION_MS)
		rot = CONFIG_MAX_ROTATION_MS;
	return (uint32_t)rot;
}

void threat_init(struct threat *t, enum threat_level set)
{
	memset(t, 0, sizeof(*t));
	t->set = t->level = set;
	t->threshold = THREAT_ATTACK_THRESHOLD;
}

void threat_set_clients(struct threat *t, size_t n_clients)
{
	uint64_t per_clients = (uint64_t)n_clients * THREAT_SIGNS_PER_CLIENT;

	t->threshold = per_clients > THREAT_ATTACK_THRESHOLD ? per_clients : THREAT_ATTACK_THRESHOLD;
}

bool threat_set(struct threat *t, enum threat_level level, bool is_auto)
{
	enum threat_level was = t->level;

	if (!is_auto)
		t->set = level;
	t->quiet_since_mono_ms = 0;
	t->level = level;
	return level != was;
}

enum threat_action threat_tick(struct threat *t, int64_t now_mono_ms, uint64_t signs,
			       uint64_t *delta_out)
{
	uint64_t delta;

	if (t->window_mono_ms && now_mono_ms - t->window_mono_ms < THREAT_ATTACK_WINDOW_MS)
		return THREAT_KEEP;
	/* Sessions that ended take their counters along: never negative. */
	delta = signs > t->mark ? signs - t->mark : 0;
	t->mark = signs;
	t->window_mono_ms = now_mono_ms;
	if (delta_out)
		*delta_out = delta;
	if (delta >= t->threshold) {
		t->quiet_since_mono_ms = 0;
		if (t->level >= THREAT_HIGH)
			return THREAT_KEEP;
		t->level = THREAT_HIGH;
		return THREAT_RAISE;
	}
	if (t->level <= t->set || delta >= t->threshold / 10) {
		t->quiet_since_mono_ms = 0;
		return THREAT_KEEP;
	}
	if (!t->quiet_since_mono_ms)
		t->quiet_since_mono_ms = now_mono_ms;
	if (now_mono_ms - t->quiet_since_mono_ms < THREAT_QUIET_MS)
		return THREAT_KEEP;
	t->quiet_since_mono_ms = 0;
	t->level = t->set;
	return THREAT_RETURN;
}
