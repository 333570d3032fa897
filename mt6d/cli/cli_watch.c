/* mt6d watch: `mt6d show` redrawn every interval, with rates (mt6d/cli/watch.h
 * draws; this file fetches, times and paints).
 *
 * On a terminal the screen is repainted in place with the few escape
 * sequences every VT100 descendant knows (cursor home, erase to the end of
 * line and of screen, cursor hidden while we draw): no alternate screen, no
 * mouse, no terminfo, so it behaves the same over SSH, in tmux and on a
 * serial console. Anywhere else (a pipe, a file, TERM=dumb) each refresh is
 * printed after a header line, for scripts and logs. */
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "mt6d/base/clock.h"
#include "mt6d/daemon/ctl.h"
#include "mt6d/cli/subcommands.h"
#include "mt6d/cli/watch.h"

#define WATCH_MAX_TARGETS 64          /* daemons watched at once (sockets in CTL_RUN_DIR) */
#define WATCH_DEFAULT_WIDTH 80        /* when the width cannot be asked */
#define WATCH_MIN_INTERVAL_S 0.1
#define WATCH_MAX_INTERVAL_S 86400.0

#define ESC_HOME "\033[H"
#define ESC_CLEAR_LINE "\033[K"       /* erase to the end of the line */
#define ESC_CLEAR_BELOW "\033[J"      /* erase to the end of the screen */
#define ESC_CLEAR_ALL "\033[2J"
#define ESC_CURSOR_HIDE "\033[?25l"
#define ESC_CURSOR_SHOW "\033[?25h"

struct target {
	char path[256];
	struct watch_snapshot prev, cur;
	bool has_prev, has_cur;
};

static volatile sig_atomic_t stop_requested, resized;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A resize, or a return from Ctrl-Z: repaint the whole screen. */
static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

/* Ctrl-Z: the shell gets its cursor back while we are stopped. */
static void on_tstp(int sig)
{
	static const char show[] = ESC_CURSOR_SHOW;
	ssize_t n = write(STDOUT_FILENO, show, sizeof(show) - 1);

	(void)n;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"Usage: %s %s [-s SOCKET | NAME] [--interval SECONDS] [--count N]\n"
		"\n"
		"Shows a running mt6d-server's or mt6d-client's state, redrawn every\n"
		"interval: role and interfaces, threat level (with the operator's while a\n"
		"burst keeps it raised), rotation period (Rot) and the time to the next\n"
		"rotation; per session the peer (the client's name, or \"server\" on a\n"
		"client), the session interface, the tunnel addresses (ours first), the\n"
		"current and next MT6D addresses and ports of both ends, the age of the\n"
		"last packet received, rx/tx bytes and packets with their rates per second\n"
		"since the previous refresh (\"-\" on the first), authentication failures,\n"
		"replays and the clock-skew counters (authentic packets that came in the\n"
		"previous slot, the next one, or two slots off). Sessions that do not fit\n"
		"on the screen get one line each, then a count.\n"
		"\n"
		"  -s SOCKET           the daemon's control socket\n"
		"  NAME                the socket %s/NAME.sock; with neither,\n"
		"                      every daemon that has a socket there\n"
		"  --interval SECONDS  time between refreshes, %.1f to %.0f (default 1)\n"
		"  --count N           exit after N refreshes (default: until interrupted)\n"
		"  -h, --help          this text\n"
		"\n"
		"On a terminal the screen is redrawn in place with plain VT100 sequences\n"
		"(no alternate screen, no mouse: it works over SSH), sized to the terminal\n"
		"and to its resizes; from %d columns current and next endpoints share a\n"
		"line. Ctrl-C, SIGTERM or a hang-up end it with the cursor shown. When\n"
		"standard output is not a terminal, or TERM is dumb, each refresh is\n"
		"printed after a line \"--- mt6d watch: refresh N at TIME ---\", %d columns\n"
		"wide unless COLUMNS says otherwise. Exits 1 when a daemon cannot be\n"
		"reached or stops answering, 0 otherwise.\n",
		prog_name, cmd, CTL_RUN_DIR, WATCH_MIN_INTERVAL_S, WATCH_MAX_INTERVAL_S,
		WATCH_WIDE_WIDTH, WATCH_DEFAULT_WIDTH);
}

static int socket_of(const char *arg, char *path, size_t len)
{
	if (strchr(arg, '/')) {
		if (strlen(arg) >= len)
			return -ENAMETOOLONG;
		snprintf(path, len, "%s", arg);
		return 0;
	}
	return ctl_socket_path(path, len, arg);
}

static bool is_screen(void)
{
	const char *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && term && *term && strcmp(term, "dumb");
}

static void screen_size(unsigned *cols_out, unsigned *rows_out)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");

	*cols_out = WATCH_DEFAULT_WIDTH;
	*rows_out = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		*cols_out = ws.ws_col;
		*rows_out = ws.ws_row;
	} else if (cols && atoi(cols) > 0) {
		*cols_out = (unsigned)atoi(cols);
	}
}

/* Fetches one daemon's state into t->cur (t->prev keeps the last one).
 * Returns 0, or 1 with the reason in msg (printed once the screen is ours
 * no more). */
static int fetch(struct target *t, char *msg, size_t msg_len)
{
	struct watch_snapshot snap;
	char *reply = NULL;
	int err = 0, rc;

	rc = ctl_call(t->path, "get=1\n\n", CTL_TIMEOUT_MS, &reply, &err);
	if (rc < 0) {
		snprintf(msg, msg_len, "%s: cannot talk to '%s': %s", prog_name, t->path,
			 strerror(-rc));
		return 1;
	}
	if (err) {
		snprintf(msg, msg_len, "%s: '%s' answered: %s", prog_name, t->path, strerror(err));
		free(reply);
		return 1;
	}
	rc = watch_parse(reply, &snap);
	free(reply);
	if (rc < 0) {
		snprintf(msg, msg_len, "%s: reading the state of '%s': %s", prog_name, t->path,
			 strerror(-rc));
		return 1;
	}
	snap.taken_ms = mono_now_ms();
	if (t->has_cur) {
		watch_snapshot_fini(&t->prev);
		t->prev = t->cur;
		t->has_prev = true;
	}
	t->cur = snap;
	t->has_cur = true;
	return 0;
}

/* Draws every target below a title line, into one malloc'd string. */
static char *draw(struct target *targets, size_t n, unsigned width, unsigned rows, bool is_tty,
		  unsigned refresh, double interval_s)
{
	char title[256], stamp[64], *frame = NULL;
	size_t frame_len = 0, i;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = open_memstream(&frame, &frame_len);
	unsigned lines_left = rows ? rows - 1 : 0;

	if (!f)
		return NULL;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	if (is_tty)
		snprintf(title, sizeof(title), "mt6d watch  %s  every %g s  (Ctrl-C quits)", stamp,
			 interval_s);
	else
		snprintf(title, sizeof(title), "--- mt6d watch: refresh %u at %s ---", refresh,
			 stamp);
	fprintf(f, "%.*s\n", (int)(width < sizeof(title) ? width : sizeof(title)), title);
	for (i = 0; i < n; i++) {
		struct watch_frame fr = { .width = width, .max_lines = lines_left, .now_s = now };
		size_t need;
		char *text;

		if (is_tty && rows && lines_left == 0)
			break;
		if (n > 1) {
			fprintf(f, "%.*s\n", (int)width, targets[i].path);
			if (lines_left)
				lines_left--;
			fr.max_lines = lines_left;
			if (is_tty && rows && lines_left == 0)
				break;
		}
		need = watch_render(targets[i].has_prev ? &targets[i].prev : NULL, &targets[i].cur,
				    &fr, NULL, 0);
		text = malloc(need + 1);
		if (!text)
			break;
		watch_render(targets[i].has_prev ? &targets[i].prev : NULL, &targets[i].cur, &fr,
			     text, need + 1);
		fputs(text, f);
		if (lines_left) {
			unsigned used = 0;
			const char *p;

			for (p = text; *p; p++)
				used += *p == '\n';
			lines_left = used < lines_left ? lines_left - used : 0;
		}
		free(text);
		if (i + 1 < n) {
			fputc('\n', f);
			if (lines_left)
				lines_left--;
		}
	}
	fclose(f);
	return frame;
}

/* Repaints in place: each line ends with an erase of what the last frame
 * left there, and the last one has no newline, so a full screen never
 * scrolls. */
static void paint(const char *frame)
{
	const char *line = frame;

	fputs(ESC_CURSOR_HIDE ESC_HOME, stdout);
	while (*line) {
		size_t len = strcspn(line, "\n");
		bool is_last = line[len] == '\0' || line[len + 1] == '\0';

		fwrite(line, 1, len, stdout);
		fputs(ESC_CLEAR_LINE, stdout);
		if (!is_last)
			fputc('\n', stdout);
		line += len + (line[len] == '\n');
	}
	fputs(ESC_CLEAR_BELOW, stdout);
	fflush(stdout);
}

/* Sleeps until deadline_ms (monotonic), a stop or a resize. The signals are
 * blocked outside ppoll, so none is lost between the check and the wait. */
static void wait_until(int64_t deadline_ms, const sigset_t *waitmask)
{
	while (!stop_requested && !resized) {
		int64_t left = deadline_ms - mono_now_ms();
		struct timespec ts;

		if (left <= 0)
			return;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		ppoll(NULL, 0, &ts, waitmask);
	}
}

static int parse_args(int argc, char *argv[], const char **target_out, double *interval_out,
		      unsigned long *count_out)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		char *end;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, argv[0]);
			return 1;
		}
		if (!strncmp(a, "--interval=", 11) || !strncmp(a, "--count=", 8)) {
			v = strchr(a, '=') + 1;
		} else if ((!strcmp(a, "--interval") || !strcmp(a, "--count") ||
			    !strcmp(a, "-s")) && i + 1 < argc) {
			v = argv[++i];
		} else if (a[0] != '-' && !*target_out) {
			*target_out = a;
			continue;
		} else {
			usage(stderr, argv[0]);
			return -1;
		}
		if (!strcmp(a, "-s")) {
			*target_out = v;
		} else if (!strncmp(a, "--interval", 10)) {
			errno = 0;
			*interval_out = strtod(v, &end);
			if (errno || end == v || *end || !isfinite(*interval_out) ||
			    *interval_out < WATCH_MIN_INTERVAL_S ||
			    *interval_out > WATCH_MAX_INTERVAL_S) {
				fprintf(stderr,
					"%s: --interval: not a number of seconds from %.1f to %.0f: "
					"'%s'\n",
					prog_name, WATCH_MIN_INTERVAL_S, WATCH_MAX_INTERVAL_S, v);
				return -1;
			}
		} else {
			errno = 0;
			*count_out = strtoul(v, &end, 10);
			if (errno || end == v || *end || *v == '-' || *count_out == 0) {
				fprintf(stderr, "%s: --count: not a positive number: '%s'\n",
					prog_name, v);
				return -1;
			}
		}
	}
	return 0;
}

static size_t find_targets(const char *target, struct target *targets, size_t max)
{
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	if (target) {
		if (socket_of(target, targets[0].path, sizeof(targets[0].path)) < 0) {
			fprintf(stderr, "%s: name too long: '%s'\n", prog_name, target);
			return 0;
		}
		return 1;
	}
	d = opendir(CTL_RUN_DIR);
	if (!d) {
		fprintf(stderr, "%s: no daemon is running (%s: %s)\n", prog_name, CTL_RUN_DIR,
			strerror(errno));
		return 0;
	}
	while ((e = readdir(d)) && n < max) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		snprintf(targets[n].path, sizeof(targets[n].path), "%s/%s", CTL_RUN_DIR, e->d_name);
		n++;
	}
	closedir(d);
	if (!n)
		fprintf(stderr, "%s: no daemon is running (no socket in %s)\n", prog_name,
			CTL_RUN_DIR);
	return n;
}

int watch_main(int argc, char *argv[])
{
	static struct target targets[WATCH_MAX_TARGETS];
	char msg[512] = "";
	const char *target = NULL;
	double interval_s = 1.0;
	unsigned long count = 0, refresh = 0;
	struct sigaction sa, tstp;
	sigset_t block, waitmask;
	int64_t deadline;
	size_t n, i;
	bool is_tty, has_painted = false;
	int rc, status = 0;

	rc = parse_args(argc, argv, &target, &interval_s, &count);
	if (rc)
		return rc < 0 ? 1 : 0;
	n = find_targets(target, targets, WATCH_MAX_TARGETS);
	if (!n)
		return 1;
	is_tty = is_screen();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;    /* no SA_RESTART: the wait must end */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGCONT, &sa, NULL);
	tstp = sa;
	tstp.sa_handler = on_tstp;
	if (is_tty)
		sigaction(SIGTSTP, &tstp, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGWINCH);
	sigaddset(&block, SIGCONT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGHUP);
	sigdelset(&waitmask, SIGWINCH);
	sigdelset(&waitmask, SIGCONT);

	deadline = mono_now_ms();
	while (!stop_requested) {
		unsigned cols, rows;
		char *frame;

		if (resized) {
			resized = 0;
			if (is_tty) {
				/* on_tstp went back to the default to stop us. */
				sigaction(SIGTSTP, &tstp, NULL);
				fputs(ESC_HOME ESC_CLEAR_ALL, stdout);
			}
		} else {
			for (i = 0; i < n && !status; i++)
				status = fetch(&targets[i], msg, sizeof(msg));
			if (status)
				break;
			refresh++;
		}
		screen_size(&cols, &rows);
		frame = draw(targets, n, cols, is_tty ? rows : 0, is_tty, (unsigned)refresh,
			     interval_s);
		if (!frame) {
			snprintf(msg, sizeof(msg), "%s: drawing: %s", prog_name, strerror(ENOMEM));
			status = 1;
			break;
		}
		if (is_tty) {
			/* The screen is cleared once the first state is in:
			 * a daemon that cannot be reached leaves it alone. */
			if (!has_painted)
				fputs(ESC_HOME ESC_CLEAR_ALL, stdout);
			has_painted = true;
			paint(frame);
		} else {
			fputs(frame, stdout);
			fflush(stdout);
		}
		free(frame);
		if (count && refresh >= count)
			break;
		/* A fixed cadence; after a stall (a slow daemon, a stopped
		 * terminal), start again from now rather than catch up. */
		deadline += (int64_t)llround(interval_s * 1000.0);
		if (deadline < mono_now_ms())
			deadline = mono_now_ms();
		wait_until(deadline, &waitmask);
	}
	if (has_painted) {
		/* Leave the last frame on screen and the prompt below it. */
		fputs("\n" ESC_CURSOR_SHOW, stdout);
		fflush(stdout);
	}
	if (status)
		fprintf(stderr, "%s\n", msg);
	for (i = 0; i < n; i++) {
		watch_snapshot_fini(&targets[i].prev);
		watch_snapshot_fini(&targets[i].cur);
	}
	return status;
}
