/* mt6d show, reload, rekey, threat: thin clients of a daemon's control socket
 * (mt6d/daemon/ctl.h), in the manner of `wg show`. A daemon is named by its
 * socket: `-s PATH`, or NAME for CTL_RUN_DIR/NAME.sock; without either,
 * every socket in CTL_RUN_DIR. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt6d/daemon/ctl.h"
#include "mt6d/cli/subcommands.h"

/* In the order of --format's names. */
enum show_mode { SHOW_PRETTY, SHOW_DUMP, SHOW_JSON, SHOW_PROMETHEUS };

static int socket_of(const char *arg, char *path, size_t len)
{
	if (strchr(arg, '/')) {
		snprintf(path, len, "%s", arg);
		return 0;
	}
	return ctl_socket_path(path, len, arg);
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* Lines before the first "client=" describe the daemon; each "client=" line
 * starts one session record. */
static void print_reply(const char *name, char *reply, enum show_mode mode, bool *is_first)
{
	char *line, *save = NULL;
	bool in_session = false, has_field = false;

	if (mode == SHOW_DUMP) {
		fputs(reply, stdout);
		return;
	}
	if (mode == SHOW_JSON) {
		printf("%s{\"socket\":", *is_first ? "" : ",");
		json_string(name);
		has_field = true;
	}
	*is_first = false;
	if (mode == SHOW_PRETTY) {
		/* The interface heads the block, as in `wg show`. */
		const char *iface = strstr(reply, "interface=");

		if (iface && (iface == reply || iface[-1] == '\n'))
			printf("interface: %.*s\n", (int)strcspn(iface + 10, "\n"), iface + 10);
		else
			printf("socket: %s\n", name);
	}
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		const char *key = line, *value;

		if (!eq)
			continue;
		*eq = '\0';
		value = eq + 1;
		if (!strcmp(key, "client")) {
			if (mode == SHOW_JSON) {
				printf("%s{", in_session ? "}," : ",\"clients\":[");
				json_string(key);
				putchar(':');
				json_string(value);
			} else {
				printf("\n  %s: %s\n", key, value);
			}
			in_session = true;
			continue;
		}
		if (mode == SHOW_JSON) {
			printf("%s", has_field || in_session ? "," : "");
			json_string(key);
			putchar(':');
			if (is_number(value))
				fputs(value, stdout);
			else
				json_string(value);
			has_field = true;
		} else if (!strcmp(key, "interface") && !in_session) {
			continue;
		} else {
			printf("  %s%s: %s\n", in_session ? "  " : "", key, value);
		}
	}
	if (mode == SHOW_JSON)
		printf("%s}", in_session ? "}]" : "");
}

static int call(const char *path, const char *request, char **reply_out)
{
	int err = 0, rc;

	rc = ctl_call(path, request, CTL_TIMEOUT_MS, reply_out, &err);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot talk to '%s': %s\n", prog_name, path, strerror(-rc));
		return 1;
	}
	if (err) {
		fprintf(stderr, "%s: '%s' answered: %s\n", prog_name, path, strerror(err));
		if (*reply_out && **reply_out)
			fputs(*reply_out, stderr);
		free(*reply_out);
		*reply_out = NULL;
		return 1;
	}
	return 0;
}

static int show_one(const char *path, enum show_mode mode, bool *is_first)
{
	char *reply = NULL;

	if (call(path, "get=1\n\n", &reply))
		return 1;
	print_reply(path, reply, mode, is_first);
	free(reply);
	return 0;
}

static void show_usage(FILE *f, const char *cmd)
{
	fprintf(f, "Usage: %s %s [-s SOCKET | NAME] [dump | --json | --format "
		"pretty|dump|json|prometheus]\n", prog_name, cmd);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cli_list_sockets(char ***paths_out, size_t *n_out)
{
	DIR *d = opendir(CTL_RUN_DIR);
	const struct dirent *e;
	char **paths = NULL, **grown;
	size_t n = 0;

	*paths_out = NULL;
	*n_out = 0;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		grown = realloc(paths, (n + 1) * sizeof(*paths));
		if (!grown)
			break;
		paths = grown;
		if (asprintf(&paths[n], "%s/%s", CTL_RUN_DIR, e->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(paths, n, sizeof(*paths), by_name);
	*paths_out = paths;
	*n_out = n;
	return 0;
}

void cli_free_sockets(char **paths, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* The mode of --format, or -1. */
static int format_of(const char *name)
{
	static const char *const names[] = { "pretty", "dump", "json", "prometheus" };
	int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

int show_main(int argc, char *argv[])
{
	enum show_mode mode = SHOW_PRETTY;
	char *target = NULL, path[256], **socks = NULL;
	bool is_first = true;
	size_t n_socks = 0, k;
	int i, rc, status = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "dump")) {
			mode = SHOW_DUMP;
		} else if (!strcmp(argv[i], "--json")) {
			mode = SHOW_JSON;
		} else if (!strcmp(argv[i], "--format") && i + 1 < argc && format_of(argv[i + 1]) >= 0) {
			mode = (enum show_mode)format_of(argv[++i]);
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			target = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			show_usage(stdout, argv[0]);
			return 0;
		} else if (argv[i][0] != '-' && !target) {
			target = argv[i];
		} else {
			show_usage(stderr, argv[0]);
			return 1;
		}
	}
	if (mode == SHOW_PROMETHEUS) {
		/* mt6d metrics with the same daemon (or all of them). */
		char *args[] = { argv[0], (char *)"-s", target, NULL };

		return metrics_main(target ? 3 : 1, args);
	}
	if (target && socket_of(target, path, sizeof(path)) < 0) {
		fprintf(stderr, "%s: name too long: '%s'\n", prog_name, target);
		return 1;
	}
	if (!target) {
		rc = cli_list_sockets(&socks, &n_socks);
		if (rc < 0) {
			fprintf(stderr, "%s: no daemon is running (%s: %s)\n", prog_name, CTL_RUN_DIR,
				strerror(-rc));
			return 1;
		}
	}
	if (mode == SHOW_JSON)
		putchar('[');
	if (target)
		status = show_one(path, mode, &is_first);
	for (k = 0; k < n_socks; k++) {
		status |= show_one(socks[k], mode, &is_first);
		if (mode == SHOW_PRETTY)
			putchar('\n');
	}
	cli_free_sockets(socks, n_socks);
	if (mode == SHOW_JSON)
		printf("]\n");
	return status;
}

static int set_main(int argc, char *argv[], const char *request, const char *default_name)
{
	const char *target = default_name;
	char path[256], *reply = NULL;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			target = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fprintf(stdout, "Usage: %s %s [-s SOCKET | NAME]\n", prog_name, argv[0]);
			return 0;
		} else if (argv[i][0] != '-') {
			target = argv[i];
		} else {
			fprintf(stderr, "Usage: %s %s [-s SOCKET | NAME]\n", prog_name, argv[0]);
			return 1;
		}
	}
	if (socket_of(target, path, sizeof(path)) < 0) {
		fprintf(stderr, "%s: name too long: '%s'\n", prog_name, target);
		return 1;
	}
	rc = call(path, request, &reply);
	free(reply);
	return rc;
}

int reload_main(int argc, char *argv[])
{
	return set_main(argc, argv, "set=1\nreload=1\n\n", "server");
}

int rekey_main(int argc, char *argv[])
{
	return set_main(argc, argv, "set=1\nrekey=1\n\n", "server");
}

int threat_main(int argc, char *argv[])
{
	char request[64];

	if (argc < 2 || (strcmp(argv[1], "low") && strcmp(argv[1], "normal") &&
			 strcmp(argv[1], "high"))) {
		fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
			"Usage: %s %s low|normal|high [-s SOCKET | NAME]\n", prog_name, argv[0]);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 1;
	}
	snprintf(request, sizeof(request), "set=1\nthreat=%s\n\n", argv[1]);
	argv[1] = argv[0];
	return set_main(argc - 1, argv + 1, request, "server");
}
