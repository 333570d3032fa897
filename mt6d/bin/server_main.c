/* mt6d-server: the server of client/server MT6D (MISSION.md "The server";
 * docs/PROTOCOL.md section 11). Start-up: config and key, leftovers of
 * a previous run purged, the introduction interface, K and the rotating
 * introduction addresses, the control socket; then one libev loop serves
 * every client. SIGINT/SIGTERM end every session (with a teardown) and
 * remove everything; SIGHUP or `mt6d reload` reloads the config. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <ev.h>
#include <sodium.h>

#include "mt6d/core/config.h"
#include "mt6d/daemon/ctl.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/server.h"

struct server_main {
	struct server *srv;
	struct daemon_signals sig;
	bool is_stopping;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mt6d-server [-c FILE] [-d] [-v]... [-n] [-s SOCKET] [-u USER] [-V]\n"
		"  -c FILE    server configuration (default /etc/mt6d/server.conf)\n"
		"  -d         stay in the foreground, log to stderr\n"
		"  -v         more verbose (twice: debug)\n"
		"  -n         check the configuration and the key file, then exit\n"
		"  -s SOCKET  control socket: a path, or a NAME for " CTL_RUN_DIR "/NAME.sock\n"
		"             (default " CTL_RUN_DIR "/server.sock)\n"
		"  -u USER    run as USER once set up, with only CAP_NET_ADMIN (default\n"
		"             " DAEMON_DEFAULT_USER " if it exists; root: stay uid 0)\n"
		"  -T FILE    testing only: write the introduction config to FILE for\n"
		"             mt6d-client -T (instead of the DHT)\n"
		"  -I MS      testing only: idle timeout of a session\n"
		"  -V         print the version\n");
}

static void on_stop(struct ev_loop *loop, void *ctx)
{
	struct server_main *m = ctx;

	if (m->is_stopping) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	m->is_stopping = true;
	log_info("shutting down");
	server_stop(m->srv);
}

static void on_reload(struct ev_loop *loop, void *ctx)
{
	struct server_main *m = ctx;
	char msg[512] = "";

	(void)loop;
	if (server_reload(m->srv, msg, sizeof(msg)) < 0)
		log_warnx("reload refused, keeping the running configuration: %s", msg);
}

static int check_config(const char *path)
{
	struct config cfg;
	uint8_t priv[CONFIG_KEY_LEN];
	char msg[512] = "";
	int rc;

	rc = config_load(CONFIG_SERVER, path, &cfg, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("%s", msg);
		return 1;
	}
	rc = config_load_private_key(&cfg, priv, msg, sizeof(msg));
	sodium_memzero(priv, sizeof(priv));
	config_fini(&cfg);
	if (rc < 0) {
		log_warnx("%s", msg);
		return 1;
	}
	printf("configuration OK\n");
	return 0;
}

/* The user the daemon becomes must still write its state directory and
 * remove its control socket (and may own the run directory that holds it). */
static void give_paths(const char *user, const char *state_dir, const char *sock_path)
{
	const char *failed = NULL;
	int rc = daemon_give_paths(user, state_dir, sock_path, CTL_RUN_DIR, &failed);

	if (rc < 0)
		log_err(rc, "giving '%s' to user '%s'", failed, user);
}

int main(int argc, char *argv[])
{
	struct server_main m = { .srv = NULL };
	struct server_options opt = { .intro_file = NULL };
	struct ctl_server *ctl = NULL;
	struct ev_loop *loop;
	const char *conf_path = "/etc/mt6d/server.conf";
	const char *user_opt = NULL, *user = NULL;
	char sock_path[256] = "", msg[512] = "";
	bool foreground = false, check_only = false;
	int verbosity = 0, opt_c, rc, status = 1;

	while ((opt_c = getopt(argc, argv, "c:dvns:u:T:I:Vh")) != -1) {
		switch (opt_c) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'v':
			verbosity++;
			break;
		case 'n':
			check_only = true;
			break;
		case 's':
			snprintf(sock_path, sizeof(sock_path), "%s", optarg);
			break;
		case 'u':
			user_opt = optarg;
			break;
		case 'T':
			opt.intro_file = optarg;
			break;
		case 'I': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v == 0 || v > 86400000ul) {
				fprintf(stderr, "mt6d-server: -I: not a duration in ms: '%s'\n", optarg);
				return 2;
			}
			opt.idle_timeout_ms = (uint32_t)v;
			break;
		}
		case 'V':
			printf("mt6d-server %s\n", MT6D_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "mt6d-server: libsodium failed to initialise\n");
		return 1;
	}
	log_init("mt6d-server", foreground || check_only, verbosity);
	if (check_only)
		return check_config(conf_path);
	if (ctl_resolve_socket_arg(sock_path, sizeof(sock_path), "server") < 0) {
		log_warnx("control socket name '%s' is too long", sock_path);
		return 1;
	}
	/* Before detaching: a user that does not exist is said on the terminal. */
	rc = daemon_select_user(user_opt, &user, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("-u: %s", msg);
		return 1;
	}
	if (msg[0])
		log_warnx("%s", msg);
	if (!foreground && daemon(0, 0) < 0) {
		log_err(-errno, "detaching from the terminal");
		return 1;
	}
	/* issue 13: no core dump; keys locked in memory (after the fork). */
	if (daemon_protect_memory(msg, sizeof(msg)) < 0)
		log_warnx("%s", msg);
	loop = ev_default_loop(EVFLAG_AUTO);
	m.sig.on_stop = on_stop;
	m.sig.on_reload = on_reload;
	m.sig.ctx = &m;
	daemon_signals_start(loop, &m.sig);
	rc = server_new(loop, conf_path, &opt, &m.srv, msg, sizeof(msg));
	if (rc < 0) {
		log_err(rc, "starting: %s", msg);
		goto cleanup;
	}
	if (strncmp(sock_path, CTL_RUN_DIR "/", strlen(CTL_RUN_DIR) + 1) == 0)
		mkdir(CTL_RUN_DIR, 0755);
	rc = ctl_server_new(loop, sock_path, server_handle_ctl, m.srv, &ctl);
	if (rc < 0) {
		log_err(rc, "listening on the control socket '%s'", sock_path);
		goto cleanup;
	}
	/* Everything that needed more than CAP_NET_ADMIN is done (the raw
	 * socket, the control socket): keep only that, to rotate addresses and
	 * make session interfaces. */
	if (user) {
		if (mkdir(server_state_dir(m.srv), 0700) < 0 && errno != EEXIST)
			log_err(-errno, "creating '%s'", server_state_dir(m.srv));
		give_paths(user, server_state_dir(m.srv), sock_path);
	}
	rc = daemon_drop_privileges(user, false, msg, sizeof(msg));
	if (rc < 0) {
		/* Going on with more than was asked for is not an option. */
		log_warnx("dropping privileges: %s", msg);
		goto cleanup;
	}
	ev_run(loop, 0);
	status = 0;
cleanup:
	ctl_server_free(ctl);
	server_free(m.srv);
	daemon_signals_stop(loop, &m.sig);
	return status;
}
