/* mt6d-client: the client of client/server MT6D (docs/PROTOCOL.md section
 * 11). It finds the server from its public key alone, establishes a session
 * and keeps it: applications reach the server at the session tunnel address
 * it prints (and writes to StateDirectory/<interface>.server). SIGINT/SIGTERM
 * send a teardown and remove everything. The life around it is the
 * skeleton's. */
#include "mt6d/daemon/ctl.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/daemon/skeleton.h"
#include "mt6d/engine/client.h"
#include "mt6d/engine/preflight.h"

struct client_main {
	struct client *cl;
	struct client_options opt;
};

static int option(void *ctx, int opt, const char *arg)
{
	struct client_main *m = ctx;
	int rc;

	if (opt == 'T') {
		m->opt.intro_file = arg;
		return 0;
	}
	rc = skeleton_parse_ms("mt6d-client", opt, arg, &m->opt.keepalive_ms);
	m->opt.silence_ms = m->opt.keepalive_ms * 7 / 2;
	return rc;
}

static int preflight(void *ctx, const char *conf_path, char *msg, size_t msg_len)
{
	(void)ctx;
	return preflight_run(CONFIG_CLIENT, conf_path, NULL, msg, msg_len);
}

static int start(void *ctx, struct ev_loop *loop, const char *conf_path,
		 struct skeleton_started *out, char *msg, size_t msg_len)
{
	struct client_main *m = ctx;
	int rc = client_new(loop, conf_path, &m->opt, &m->cl, msg, msg_len);
	if (rc < 0)
		return rc;
	out->ctl_handler = client_handle_ctl;
	out->ctl_ctx = m->cl;
	out->state_dir = client_state_dir(m->cl);
	out->state_dir_mode = 0755;
	return 0;
}

static void stop(void *ctx)
{
	client_stop(((struct client_main *)ctx)->cl);
}

static void free_client(void *ctx)
{
	struct client_main *m = ctx;

	client_free(m->cl);
	m->cl = NULL;
}

int main(int argc, char *argv[])
{
	static struct client_main m;
	static const struct skeleton_hooks hooks = {
		.name = "client",
		.default_conf = "/etc/mt6d/client.conf",
		.usage =
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
		"  -V         print the version\n",
		.extra_opts = "T:K:",
		.has_ctl = true,
		.ctx = &m,
		.option = option,
		.preflight = preflight,
		.start = start,
		.stop = stop,
		.reload = NULL,
		.free = free_client,
	};

	return skeleton_main(&hooks, argc, argv);
}
