/* mt6d metrics (also `mt6d show --format prometheus`): the daemons' state in
 * the Prometheus text format (mt6d/cli/prom.h), read from their control
 * sockets as `mt6d show` reads it, and from mt6d-peer's counters file (-S).
 * Nothing listens: the output goes to stdout, or with -o to a file replaced
 * atomically, for node_exporter's textfile collector (systemd/mt6d-metrics.*).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mt6d/cli/prom.h"
#include "mt6d/cli/subcommands.h"
#include "mt6d/daemon/ctl.h"

#define METRICS_MAX_TARGETS 256
#define PEER_FILE_MAX (64 * 1024)

struct target {
	char label[128];
	char path[256];
	bool is_peer_file;
};

static void usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"Usage: %s %s [-s [NAME=]SOCKET | NAME]... [-p [NAME=]FILE]... [-o FILE]\n"
		"  -s SOCKET            a daemon's control socket (NAME: " CTL_RUN_DIR "/NAME.sock);\n"
		"                       none: every socket in " CTL_RUN_DIR "\n"
		"  -p, --peer-stats FILE  mt6d-peer's counters file (its -S FILE)\n"
		"  NAME=                the daemon label (default: the file name without its\n"
		"                       suffix)\n"
		"  -o, --output FILE    write to FILE through a temporary file and a rename\n"
		"                       (node_exporter's textfile directory), not stdout\n"
		"Exit status: 0, 1 when a daemon did not answer (it is mt6d_up 0), 2 usage.\n",
		prog_name, cmd);
}

/* "[LABEL=]WHAT": LABEL is taken only when it has no '/' (a path may hold
 * '='). */
static int target_of(const char *arg, bool is_peer_file, struct target *t)
{
	const char *eq = strchr(arg, '='), *what = arg;
	char base[256];
	size_t n;

	memset(t, 0, sizeof(*t));
	t->is_peer_file = is_peer_file;
	if (eq && eq != arg && !memchr(arg, '/', (size_t)(eq - arg))) {
		n = (size_t)(eq - arg);
		if (n >= sizeof(t->label))
			return -ENAMETOOLONG;
		memcpy(t->label, arg, n);
		what = eq + 1;
	}
	if (!*what)
		return -EINVAL;
	if (is_peer_file || strchr(what, '/')) {
		if (strlen(what) >= sizeof(t->path))
			return -ENAMETOOLONG;
		snprintf(t->path, sizeof(t->path), "%s", what);
	} else if (ctl_socket_path(t->path, sizeof(t->path), what) < 0) {
		return -ENAMETOOLONG;
	}
	if (!t->label[0]) {
		const char *slash = strrchr(t->path, '/');
		char *dot;

		snprintf(base, sizeof(base), "%s", slash ? slash + 1 : t->path);
		dot = strrchr(base, '.');
		if (dot && dot != base)
			*dot = '\0';
		if (strlen(base) >= sizeof(t->label))
			return -ENAMETOOLONG;
		snprintf(t->label, sizeof(t->label), "%s", base);
	}
	return 0;
}

static char *read_small_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(PEER_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, PEER_FILE_MAX, f);
	buf[n] = '\0';
	if (ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	return buf;
}

/* One daemon's samples: 0, 1 when it did not answer (it is then mt6d_up
 * 0), 2 when it cannot be written at all (named twice, no memory). */
static int collect(struct prom *p, const struct target *t)
{
	char *text = NULL;
	int err = 0, rc, added;

	if (t->is_peer_file) {
		text = read_small_file(t->path);
		rc = text ? 0 : -errno;
	} else {
		rc = ctl_call(t->path, "get=1\n\n", CTL_TIMEOUT_MS, &text, &err);
		if (rc == 0 && err)
			rc = -err;
	}
	if (rc < 0)
		fprintf(stderr, "%s: '%s': %s\n", prog_name, t->path, strerror(-rc));
	added = rc == 0 ? prom_add_reply(p, t->label, text, t->is_peer_file) :
			  prom_add_down(p, t->label);
	free(text);
	if (added < 0) {
		fprintf(stderr, "%s: daemon '%s': %s\n", prog_name, t->label,
			added == -EEXIST ? "named twice (give one NAME=)" : strerror(-added));
		return 2;
	}
	return rc < 0;
}

/* A reader of the textfile directory sees the old file or the new one,
 * never half of one: written beside it, synced, then renamed over it. */
static int write_atomic(struct prom *p, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], base[PATH_MAX];
	FILE *f;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir), basename(base)) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	/* node_exporter runs as another user. */
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	rc = prom_write(p, f);
	if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int metrics_main(int argc, char *argv[])
{
	static struct target targets[METRICS_MAX_TARGETS];
	struct prom p = { .samples = NULL };
	const char *out = NULL;
	char **socks = NULL;
	size_t n = 0, n_socks = 0, i;
	int status = 0, rc;

	for (i = 1; i < (size_t)argc; i++) {
		const char *a = argv[i];
		bool is_peer = !strcmp(a, "-p") || !strcmp(a, "--peer-stats");

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, argv[0]);
			return 0;
		}
		if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < (size_t)argc) {
			out = argv[++i];
			continue;
		}
		if ((is_peer || !strcmp(a, "-s")) && i + 1 < (size_t)argc)
			a = argv[++i];
		else if (a[0] == '-') {
			usage(stderr, argv[0]);
			return 2;
		}
		if (n == METRICS_MAX_TARGETS || target_of(a, is_peer, &targets[n]) < 0) {
			fprintf(stderr, "%s: cannot take '%s' as a daemon\n", prog_name, a);
			return 2;
		}
		n++;
	}
	if (n == 0) {
		rc = cli_list_sockets(&socks, &n_socks);
		if (rc < 0)
			fprintf(stderr, "%s: no daemon is running (%s: %s)\n", prog_name, CTL_RUN_DIR,
				strerror(-rc));
		for (i = 0; i < n_socks && n < METRICS_MAX_TARGETS; i++)
			if (target_of(socks[i], false, &targets[n]) == 0)
				n++;
		cli_free_sockets(socks, n_socks);
	}
	for (i = 0; i < n && status < 2; i++)
		status |= collect(&p, &targets[i]);
	if (status >= 2) {
		prom_fini(&p);
		return status;
	}
	rc = out ? write_atomic(&p, out) : prom_write(&p, stdout);
	if (rc < 0) {
		fprintf(stderr, "%s: writing '%s': %s\n", prog_name, out ? out : "stdout", strerror(-rc));
		status = 1;
	}
	prom_fini(&p);
	return status;
}
