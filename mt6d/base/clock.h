/* The two clocks of mt6d, read in one place. Names say which one a value
 * comes from: *_wall_ms is UNIX time (CLOCK_REALTIME, NTP-disciplined), used
 * for MT6D slots, config windows and message timestamps, which both ends
 * compute from their own clocks; *_mono_ms is CLOCK_MONOTONIC, used for
 * timers, timeouts and silences, which a clock step must not stretch or
 * shorten. The pure core never reads either: time is a parameter. */
#ifndef MT6D_CLOCK_H
#define MT6D_CLOCK_H

#include <stdint.h>

/* UNIX time in milliseconds. */
int64_t wall_now_ms(void);

/* Milliseconds since an arbitrary instant before this process started
 * (never 0, so 0 can mean "never"). */
int64_t mono_now_ms(void);

#endif
