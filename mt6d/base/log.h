/* One small log API for the daemons and the CLI (never for dht/, tun/,
 * netlink/ or the pure core, which return errors instead).
 *
 * Foreground: lines go to stderr, which journald captures with their level
 * prefix ("<N>" priority prefix when JOURNAL_STREAM is set).
 * Background: syslog(3), facility daemon. */
#ifndef MT6D_LOG_H
#define MT6D_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_ERR = 3, LOG_LEVEL_WARN = 4, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

/* verbosity: 0 = warnings and errors, 1 = +info, 2 = +debug. ident names the
 * program in syslog and in stderr lines. */
void log_init(const char *ident, bool foreground, int verbosity);

/* Appends ": strerror(-rc)" to the message; rc is a negative errno code. */
void log_err(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether a debug line would be printed: check it before costly formatting. */
bool log_is_debug(void);

/* Start-up only: log the error and exit(1). */
void fatal(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
