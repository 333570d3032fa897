#include "mt6d/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *log_ident = "mt6d";
static bool log_foreground = true;
static int log_verbosity;

void log_init(const char *ident, bool foreground, int verbosity)
{
	log_ident = ident;
	log_foreground = foreground;
	log_verbosity = verbosity;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static bool level_enabled(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR:
	case LOG_LEVEL_WARN:
		return true;
	case LOG_LEVEL_INFO:
		return log_verbosity >= 1;
	case LOG_LEVEL_DEBUG:
		return log_verbosity >= 2;
	}
	return false;
}

bool log_is_debug(void)
{
	return level_enabled(LOG_LEVEL_DEBUG);
}

static void log_emit(enum log_level level, int rc, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_emit(enum log_level level, int rc, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (!level_enabled(level))
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (rc < 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(-rc));
	if (log_foreground) {
		/* journald reads "<N>" as the syslog priority of the line. */
		if (getenv("JOURNAL_STREAM"))
			fprintf(stderr, "<%d>%s\n", (int)level, line);
		else
			fprintf(stderr, "%s: %s\n", log_ident, line);
	} else {
		syslog((int)level, "%s", line);
	}
}

void log_err(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, rc, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void fatal(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERR, rc, fmt, ap);
	va_end(ap);
	exit(1);
}
