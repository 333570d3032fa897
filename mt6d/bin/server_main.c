/* mt6d-server: the server of client/server MT6D (docs/PROTOCOL.md section
 * 11). Start-up: config and key, leftovers of a previous run purged, the
 * introduction interface, K and the rotating introduction addresses, the
 * control socket; then one libev loop serves every client. SIGINT/SIGTERM
 * end every session (with a teardown) and remove everything; SIGHUP or
 * `mt6d reload` reloads the config. The life around it is the skeleton's. */
#include <errno.h>
#include <inttypes.h>

#include "mt6d/base/log.h"
#include "mt6d/daemon/ctl.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/daemon/skeleton.h"
#include "mt6d/engine/preflight.h"
#include "mt6d/engine/server.h"

struct server_main {
	struct server *srv;
	struct server_options opt;
};

static int option(void *ctx, int opt, const char *arg)
{
	struct server_main *m = ctx;

	if (opt == 'T') {
		m->opt.intro_file = arg;
		return 0;
	}
	return skeleton_parse_ms("mt6d-server", opt, arg, &m->opt.idle_timeout_ms);
}

static int preflight(void *ctx, const char *conf_path, char *msg, size_t msg_len)
{
	(void)ctx;
	return preflight_run(CONFIG_SERVER, conf_path, NULL, msg, msg_len);
}

/* Every registered client may hold a session: RLIMIT_NOFILE for all of
 * them, said once when it falls short (a session beyond it is refused with
 * EMFILE, counted in session_errors). Before the privilege drop at start,
 * so that root may raise the hard limit too. */
static void raise_nofile(const struct server *srv, bool is_start)
{
	size_t clients = server_client_count(srv);
	unsigned per = server_fds_per_session(srv);
	uint64_t need = daemon_nofile_need(clients, per), limit = 0;
	int rc = daemon_raise_nofile(need, &limit);

	if (rc == -EMFILE)
		log_warnx("%zu clients need %" PRIu64 " descriptors; RLIMIT_NOFILE is %" PRIu64
			  ": sessions beyond ~%" PRIu64 " will fail (systemd: LimitNOFILE=; "
			  "shell: ulimit -n)", clients, need, limit,
			  limit > DAEMON_NOFILE_MARGIN && per ? (limit - DAEMON_NOFILE_MARGIN) / per : 0);
	else if (rc < 0)
		log_err(rc, "reading RLIMIT_NOFILE");
	else if (is_start)
		log_info("RLIMIT_NOFILE %" PRIu64 " for %zu clients (%" PRIu64 " needed)", limit,
			 clients, need);
}

static int start(void *ctx, struct ev_loop *loop, const char *conf_path,
		 struct skeleton_started *out, char *msg, size_t msg_len)
{
	struct server_main *m = ctx;
	int rc = server_new(loop, conf_path, &m->opt, &m->srv, msg, msg_len);
	if (rc < 0)
		return rc;
	raise_nofile(m->srv, true);
	out->ctl_handler = server_handle_ctl;
	out->ctl_ctx = m->srv;
	out->state_dir = server_state_dir(m->srv);
	out->state_dir_mode = 0700;
	return 0;
}

static void stop(void *ctx)
{
	server_stop(((struct server_main *)ctx)->srv);
}

static void reload(void *ctx)
{
	struct server_main *m = ctx;
	char msg[512] = "";

	if (server_reload(m->srv, msg, sizeof(msg)) < 0)
		log_warnx("reload refused, keeping the running configuration: %s", msg);
	else
		raise_nofile(m->srv, false);
}

static void free_server(void *ctx)
{
	struct server_main *m = ctx;

	server_free(m->srv);
	m->srv = NULL;
}

int main(int argc, char *argv[])
{
	static struct server_main m;
	static const struct skeleton_hooks hooks = {
		.name = "server",
		.default_conf = "/etc/mt6d/server.conf",
		.usage =
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
		"  -V         print the version\n",
		.extra_opts = "T:I:",
		.has_ctl = true,
		.ctx = &m,
		.option = option,
		.preflight = preflight,
		.start = start,
		.stop = stop,
		.reload = reload,
		.free = free_server,
	};

	return skeleton_main(&hooks, argc, argv);
}
