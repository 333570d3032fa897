/* What every mt6d daemon does around its loop: signal watchers that only
 * request work from the loop, and least privilege once the set-up that needs
 * root is done. */
#ifndef MT6D_DAEMON_H
#define MT6D_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

struct daemon_signals {
	ev_signal sigint, sigterm, sighup;
	void (*on_stop)(struct ev_loop *loop, void *ctx);   /* SIGINT, SIGTERM */
	void (*on_reload)(struct ev_loop *loop, void *ctx); /* SIGHUP; NULL: ignored */
	void *ctx;
};

/* Starts the watchers (and ignores SIGPIPE: a vanished control client must
 * not kill the daemon). The struct must outlive them; daemon_signals_stop
 * before freeing it. */
void daemon_signals_start(struct ev_loop *loop, struct daemon_signals *sig);
void daemon_signals_stop(struct ev_loop *loop, struct daemon_signals *sig);

/* Drops every capability but CAP_NET_ADMIN (kept to rotate addresses, make
 * and remove session interfaces and clean up; plus CAP_NET_RAW if
 * keep_net_raw), clears the bounding set and, if user is not NULL, switches
 * to that user's uid and gid and drops supplementary groups. Returns 0 or
 * -errno with the reason in msg. Must run as root. */
int daemon_drop_privileges(const char *user, bool keep_net_raw, char *msg, size_t msg_len);

/* The effective capability mask of this process, from /proc/self/status
 * (for `mt6d show` and the tests). Returns 0 or -errno. */
int daemon_effective_caps(unsigned long long *caps_out);

#endif
