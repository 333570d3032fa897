/* mt6d-client: the client of client/server MT6D (MISSION.md "The client";
 * docs/PROTOCOL.md section 11). It finds the server from its public key
 * alone, establishes a session and keeps it: applications reach the server
 * at the session tunnel address it prints (and writes to
 * StateDirectory/<interface>.server). SIGINT/SIGTERM send a teardown and
 * remove everything. */
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
#include "mt6d/engine/client.h"

struct client_main {
	struct client *cl;
	struct daemon_signals sig;
	bool is_stopping;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mt6d-client [-c FILE] [-d] [-v]... [-n] [-s SOCKET] [-u USER] [-V]\n"
		"  -c FILE    client configuration (default /etc/mt6d/client.conf)\n"
		"  -d         stay in the foreground, log to stderr\n"
		"  -v         more verbose (twice: debug)\n"
		"  -n         check the configuration and the key file, then exit\n"
		"  -s SOCKET  control socket: a path, or a NAME for " CTL_RUN_DIR "/NAME.sock\n"
		"             (default " CTL_RUN_DIR "/client.sock)\n"
		"  -u USER    run as USER once set up, with only CAP_NET_ADMIN (default\n"
		"             " DAEMON_DEFAULT_USER " if it exists; root: stay uid 0)\n"
		"  -T FILE    testing only: read the introduction config from FILE\n"
		"             (written by mt6d-server -T) instead of the DHT\n"
		"  -K MS      testing only: keepalive interval (silence = 3.5 x MS)\n"
		"  -V         print the version\n");
}

static void on_stop(struct ev_loop *loop, void *ctx)
{
	struct client_main *m = ctx;

	if (m->is_stopping) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	m->is_stopping = true;
	log_info("shutting down");
	client_stop(m->cl);
}

static int check_config(const char *path)
{
	struct config cfg;
	uint8_t priv[CONFIG_KEY_LEN];
	char msg[512] = "";
	int rc;

	rc = config_load(CONFIG_CLIENT, path, &cfg, msg, sizeof(msg));
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
	struct client_main m = { .cl = NULL };
	struct client_options opt = { .intro_file = NULL };
	struct ctl_server *ctl = NULL;
	struct ev_loop *loop;
	const char *conf_path = "/etc/mt6d/client.conf";
	const char *user_opt = NULL, *user = NULL;
	char sock_path[256] = "", msg[512] = "";
	bool foreground = false, check_only = false;
	int verbosity = 0, opt_c, rc, status = 1;

	while ((opt_c = getopt(argc, argv, "c:dvns:u:T:K:Vh")) != -1) {
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
		case 'K': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || end == optarg || v == 0 || v > 86400000ul) {
				fprintf(stderr, "mt6d-client: -K: not a duration in ms: '%s'\n", optarg);
				return 2;
			}
			opt.keepalive_ms = (uint32_t)v;
			opt.silence_ms = (uint32_t)(v * 7 / 2);
			break;
		}
		case 'V':
			printf("mt6d-client %s\n", MT6D_VERSION);
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
		fprintf(stderr, "mt6d-client: libsodium failed to initialise\n");
		return 1;
	}
	log_init("mt6d-client", foreground || check_only, verbosity);
	if (check_only)
		return check_config(conf_path);
	if (ctl_resolve_socket_arg(sock_path, sizeof(sock_path), "client") < 0) {
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
	m.sig.on_reload = NULL;
	m.sig.ctx = &m;
	daemon_signals_start(loop, &m.sig);
	rc = client_new(loop, conf_path, &opt, &m.cl, msg, sizeof(msg));
	if (rc < 0) {
		log_err(rc, "starting: %s", msg);
		goto cleanup;
	}
	if (strncmp(sock_path, CTL_RUN_DIR "/", strlen(CTL_RUN_DIR) + 1) == 0)
		mkdir(CTL_RUN_DIR, 0755);
	rc = ctl_server_new(loop, sock_path, client_handle_ctl, m.cl, &ctl);
	if (rc < 0) {
		log_err(rc, "listening on the control socket '%s'", sock_path);
		goto cleanup;
	}
	/* Everything that needed more than CAP_NET_ADMIN is done (the raw
	 * socket, the control socket): keep only that, to rotate addresses and
	 * remake the interface. */
	if (user) {
		if (mkdir(client_state_dir(m.cl), 0755) < 0 && errno != EEXIST)
			log_err(-errno, "creating '%s'", client_state_dir(m.cl));
		give_paths(user, client_state_dir(m.cl), sock_path);
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
	client_free(m.cl);
	daemon_signals_stop(loop, &m.sig);
	return status;
}
