/* The life of an mt6d daemon, shared by mt6d-server, mt6d-client and
 * mt6d-peer: the common options (-c FILE, -d, -v, -n, -s SOCKET, -u USER,
 * -V, -h), libsodium and the log, the instance lock, detaching, signals, the
 * control socket, the state directory and the privilege drop, in the order
 * that keeps a failed start from touching anything. What differs lives in
 * the hooks, which bin/ fills in (daemon/ never includes engine/). */
#ifndef MT6D_SKELETON_H
#define MT6D_SKELETON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ev.h>

#include "mt6d/core/ctlproto.h"

/* What a started daemon offers the skeleton. */
struct skeleton_started {
	ctl_handler_fn *ctl_handler;   /* control requests; NULL: no control socket */
	void *ctl_ctx;
	const char *state_dir;         /* made (state_dir_mode) and given to the user; NULL: none */
	mode_t state_dir_mode;
};

struct skeleton_hooks {
	const char *name;          /* "server": program mt6d-server, socket <run>/server.sock */
	const char *default_conf;  /* NULL: -c is required */
	const char *usage;         /* the whole usage text */
	const char *extra_opts;    /* getopt letters of the daemon's own options ("T:I:") */
	bool has_ctl;              /* -s SOCKET and a control socket */
	void *ctx;                 /* the daemon's, passed to every hook */
	/* A daemon option: returns 0, or 2 after printing why on stderr. */
	int (*option)(void *ctx, int opt, const char *arg);
	/* Every check of conf_path that needs no change to the system: run for
	 * -n ("configuration OK" or the reason) and before a start, on the
	 * terminal. Returns 0 or -errno with the reason in msg. */
	int (*preflight)(void *ctx, const char *conf_path, char *msg, size_t msg_len);
	/* Starts the daemon on loop from conf_path (the instance lock is held,
	 * privileges not yet dropped); fills *out. Returns 0 or -errno with the
	 * reason in msg; on failure nothing is left to stop or free. */
	int (*start)(void *ctx, struct ev_loop *loop, const char *conf_path,
		     struct skeleton_started *out, char *msg, size_t msg_len);
	/* SIGINT/SIGTERM: begin an orderly stop that ends the loop; NULL: end
	 * the loop at once. A second signal always ends it at once. */
	void (*stop)(void *ctx);
	/* SIGHUP; NULL: ignored. */
	void (*reload)(void *ctx);
	/* After the loop or a failed start past start(): undo everything. */
	void (*free)(void *ctx);
};

/* A daemon option that takes a duration in milliseconds (1 ms to a day),
 * for the option hook. Returns 0 with *ms_out, or 2 after saying why on
 * stderr. */
int skeleton_parse_ms(const char *prog, int opt, const char *arg, uint32_t *ms_out);

/* The whole main of a daemon. Returns its exit status: 0 after a clean
 * stop, 1 for a failed start (another instance running included), 2 for a
 * usage error. */
int skeleton_main(const struct skeleton_hooks *hooks, int argc, char *argv[]);

#endif
