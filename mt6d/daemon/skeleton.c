/* The life of an mt6d daemon (skeleton.h). Order matters: everything that
 * can be refused without touching the system (options, the config check of
 * -n, the user, the instance lock) comes before detaching, so it is said on
 * the terminal; the lock comes before the daemon's start hook, which is the
 * first to touch the kernel (it purges the MT6D addresses of a previous
 * run, which would be those of a running twin). */
#include "mt6d/daemon/skeleton.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>

#include "mt6d/base/log.h"
#include "mt6d/daemon/ctl.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/daemon/instance.h"

/* The options every daemon shares (tests/cli/t_man.sh reads these two). */
#define SKELETON_OPTS "c:dvnu:Vh"
#define SKELETON_CTL_OPTS "s:"

struct skeleton {
	const struct skeleton_hooks *h;
	struct daemon_signals sig;
	bool is_stopping;
};

static void on_stop(struct ev_loop *loop, void *ctx)
{
	struct skeleton *sk = ctx;

	if (sk->is_stopping || !sk->h->stop) {
		if (!sk->h->stop)
			log_info("shutting down");
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	sk->is_stopping = true;
	log_info("shutting down");
	sk->h->stop(sk->h->ctx);
}

static void on_reload(struct ev_loop *loop, void *ctx)
{
	struct skeleton *sk = ctx;

	(void)loop;
	sk->h->reload(sk->h->ctx);
}

/* A daemon without a control socket (mt6d-peer) is one instance per config
 * file: its lock is named after a hash of the file's real path. */
static int lock_path_of_conf(const char *name, const char *conf_path, char *path_out,
			     size_t path_len)
{
	char real[PATH_MAX], hex[17];
	uint8_t h[8];
	int w;

	if (!realpath(conf_path, real))
		return -errno;
	crypto_generichash(h, sizeof(h), (const uint8_t *)real, strlen(real), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	w = snprintf(path_out, path_len, CTL_RUN_DIR "/%s-%s.lock", name, hex);
	return w < 0 || (size_t)w >= path_len ? -ENAMETOOLONG : 0;
}

static int take_lock(const struct skeleton_hooks *h, const char *prog, const char *conf_path,
		     const char *sock_path, struct instance_lock *lock)
{
	char path[256];
	pid_t holder = 0;
	int rc;

	rc = h->has_ctl ? instance_lock_path(sock_path, path, sizeof(path)) :
			  lock_path_of_conf(h->name, conf_path, path, sizeof(path));
	if (rc < 0) {
		log_err(rc, "naming the instance lock of '%s'", h->has_ctl ? sock_path : conf_path);
		return rc;
	}
	if (strncmp(path, CTL_RUN_DIR "/", strlen(CTL_RUN_DIR) + 1) == 0)
		mkdir(CTL_RUN_DIR, 0755);
	rc = instance_lock(path, lock, &holder);
	if (rc == -EWOULDBLOCK) {
		char who[32] = "";

		if (holder > 0)
			snprintf(who, sizeof(who), " (pid %ld)", (long)holder);
		log_warnx("another %s%s is running on %s '%s' (lock '%s'): not starting, "
			  "nothing was changed", prog, who, h->has_ctl ? "control socket" : "config",
			  h->has_ctl ? sock_path : conf_path, path);
		return rc;
	}
	if (rc < 0)
		log_err(rc, "taking the instance lock '%s'", path);
	return rc;
}

/* The user the daemon becomes must still write its state directory and
 * remove its control socket (and may own the run directory that holds it). */
static void give_paths(const char *user, const struct skeleton_started *st,
		       const char *sock_path)
{
	const char *failed = NULL;
	int rc;

	if (st->state_dir && mkdir(st->state_dir, st->state_dir_mode) < 0 && errno != EEXIST)
		log_err(-errno, "creating '%s'", st->state_dir);
	rc = daemon_give_paths(user, st->state_dir, sock_path, CTL_RUN_DIR, &failed);
	if (rc < 0)
		log_err(rc, "giving '%s' to user '%s'", failed, user);
}

int skeleton_parse_ms(const char *prog, int opt, const char *arg, uint32_t *ms_out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (*end || end == arg || v == 0 || v > 86400000ul) {
		fprintf(stderr, "%s: -%c: not a duration in ms: '%s'\n", prog, opt, arg);
		return 2;
	}
	*ms_out = (uint32_t)v;
	return 0;
}

int skeleton_main(const struct skeleton_hooks *h, int argc, char *argv[])
{
	struct skeleton sk = { .h = h };
	struct skeleton_started st = { .ctl_handler = NULL };
	struct instance_lock lock = { .fd = -1 };
	struct ctl_server *ctl = NULL;
	struct ev_loop *loop;
	const char *conf_path = h->default_conf, *user_opt = NULL, *user = NULL;
	char prog[64], opts[64], sock_path[256] = "", msg[512] = "";
	bool foreground = false, check_only = false, is_started = false;
	int verbosity = 0, c, rc, status = 1;

	snprintf(prog, sizeof(prog), "mt6d-%s", h->name);
	snprintf(opts, sizeof(opts), SKELETON_OPTS "%s%s", h->has_ctl ? SKELETON_CTL_OPTS : "",
		 h->extra_opts ? h->extra_opts : "");
	while ((c = getopt(argc, argv, opts)) != -1) {
		switch (c) {
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
		case 'V':
			printf("%s %s\n", prog, MT6D_VERSION);
			return 0;
		case 'h':
			fputs(h->usage, stdout);
			return 0;
		case '?':
			fputs(h->usage, stderr);
			return 2;
		default:
			rc = h->option ? h->option(h->ctx, c, optarg) : 2;
			if (rc)
				return rc;
			break;
		}
	}
	if (!conf_path || optind != argc) {
		fputs(h->usage, stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialise\n", prog);
		return 1;
	}
	log_init(prog, foreground || check_only, verbosity);
	rc = h->preflight(h->ctx, conf_path, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("%s", msg);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}
	/* A daemon without a socket of its own may still be given one (-s in
	 * its extra options: mt6d-peer). */
	if ((h->has_ctl || sock_path[0]) &&
	    ctl_resolve_socket_arg(sock_path, sizeof(sock_path), h->name) < 0) {
		log_warnx("control socket name '%s' is too long", sock_path);
		return 1;
	}
	/* Before detaching: a bad config, a user that does not exist, or a twin
	 * already running, is said on the terminal. */
	msg[0] = '\0';
	rc = daemon_select_user(user_opt, &user, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("-u: %s", msg);
		return 1;
	}
	if (msg[0])
		log_warnx("%s", msg);
	if (take_lock(h, prog, conf_path, sock_path, &lock) < 0)
		return 1;
	if (!foreground) {
		if (daemon(0, 0) < 0) {
			log_err(-errno, "detaching from the terminal");
			instance_unlock(&lock);
			return 1;
		}
		instance_lock_set_pid(&lock);
	}
	/* issue 13: no core dump; keys locked in memory (after the fork, before
	 * the engine reads any key). */
	msg[0] = '\0';
	if (daemon_protect_memory(msg, sizeof(msg)) < 0)
		log_warnx("%s", msg);
	loop = ev_default_loop(EVFLAG_AUTO);
	/* Signal watchers only ask the loop to stop; a signal during start-up
	 * is held until ev_run, which then stops at once. */
	sk.sig.on_stop = on_stop;
	sk.sig.on_reload = h->reload ? on_reload : NULL;
	sk.sig.ctx = &sk;
	daemon_signals_start(loop, &sk.sig);
	msg[0] = '\0';
	rc = h->start(h->ctx, loop, conf_path, &st, msg, sizeof(msg));
	if (rc < 0) {
		log_err(rc, "starting: %s", msg);
		goto cleanup;
	}
	is_started = true;
	if (st.ctl_handler && sock_path[0]) {
		if (strncmp(sock_path, CTL_RUN_DIR "/", strlen(CTL_RUN_DIR) + 1) == 0)
			mkdir(CTL_RUN_DIR, 0755);
		rc = ctl_server_new(loop, sock_path, st.ctl_handler, st.ctl_ctx, &ctl);
		if (rc < 0) {
			log_err(rc, "listening on the control socket '%s'", sock_path);
			goto cleanup;
		}
	}
	/* Everything that needed more than CAP_NET_ADMIN is done (raw sockets,
	 * the control socket): keep only that, to rotate addresses and make
	 * and remove interfaces. */
	if (user && ctl)
		give_paths(user, &st, sock_path);
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
	if (is_started)
		h->free(h->ctx);
	daemon_signals_stop(loop, &sk.sig);
	instance_unlock(&lock);
	return status;
}
