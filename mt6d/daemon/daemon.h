/* What every mt6d daemon does around its loop: signal watchers that only
 * request work from the loop, and least privilege once the set-up that needs
 * root is done. */
#ifndef MT6D_DAEMON_H
#define MT6D_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* The user a daemon started as root runs as once set-up is done. */
#define DAEMON_DEFAULT_USER "mt6d"
#define DAEMON_TUN_PATH "/dev/net/tun"

/* Picks the user for daemon_drop_privileges from the -u option (NULL: the
 * default, DAEMON_DEFAULT_USER). *user_out is NULL when nothing is to be
 * switched: "root" asked for; not running as root (systemd's User= chose
 * already); or the default user missing, which msg then explains for a
 * warning (the daemon stays uid 0 with only CAP_NET_ADMIN), as it does when
 * the default user could not open DAEMON_TUN_PATH. Returns 0, or -ENOENT (a
 * named user that does not exist), -EACCES (a named user that cannot open
 * DAEMON_TUN_PATH) or -EPERM (not root, asked for another user) with the
 * reason in msg. */
int daemon_select_user(const char *requested, const char **user_out, char *msg,
		       size_t msg_len);

/* Gives path, a directory or socket this daemon made as root (its state
 * directory, its control socket and the run directory holding it), to user,
 * so that after the drop it can still write, rename and unlink there; for a
 * directory, also the root-owned regular files in it (left by a run as
 * root). Only paths of root or user change; symlinks and world-writable
 * directories (/tmp) never. user NULL: nothing to do. Returns 0 or -errno. */
int daemon_give_path(const char *user, const char *path);

/* daemon_give_path for what a daemon made as root: its state directory, its
 * control socket and, when the socket lies in it, the run directory
 * (run_dir); a NULL state_dir is skipped. Tries every one; returns 0 or the
 * first error, with the path that failed in *failed_out. */
int daemon_give_paths(const char *user, const char *state_dir, const char *sock_path,
		      const char *run_dir, const char **failed_out);

/* Drops every capability but CAP_NET_ADMIN (kept to rotate addresses, make
 * and remove session interfaces and clean up; plus CAP_NET_RAW if
 * keep_net_raw) and sets no_new_privs. As root it also clears the bounding
 * set and, if user is not NULL, switches to that user's uid and gid and
 * drops supplementary groups. Not root (started by systemd with User= and
 * AmbientCapabilities=), it drops the other permitted and ambient
 * capabilities (the unit's CapabilityBoundingSet= bounds the rest) and user
 * must be NULL or this user. Returns 0 or -errno with the reason in msg. */
int daemon_drop_privileges(const char *user, bool keep_net_raw, char *msg, size_t msg_len);

/* Keeps secrets (private key, K, session keys, everything derived) out of
 * core dumps and swap (issue 13); call it first thing after detaching, before
 * any key is read (locks are not inherited across fork). The process is made
 * not dumpable (PR_SET_DUMPABLE 0: no core dump, no ptrace or /proc/PID/mem
 * by the same uid; daemon_drop_privileges says it again, since a uid change
 * resets it) with RLIMIT_CORE 0, and every page is locked in memory as it is
 * touched (mlockall MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT). Locking future
 * pages needs RLIMIT_MEMLOCK unlimited after the privilege drop: raised here
 * when root (the systemd units set LimitMEMLOCK=infinity); under a finite
 * limit locking every future page would make later allocations fail, so
 * then only the structures that hold keys are locked, by their owners
 * (sodium_mlock: the server, its introduction generations, client table and
 * sessions; the client; the peer's tunnel config). Returns 0, or -errno
 * with the reason in msg when not everything is locked (the caller warns);
 * the dump protections hold either way. */
int daemon_protect_memory(char *msg, size_t msg_len);

/* Descriptors beyond the sessions': netlink, the introduction interface and
 * its sockets, the guard, the control socket and its clients, the log. */
#define DAEMON_NOFILE_MARGIN 256

/* What RLIMIT_NOFILE must be for sessions sessions of fds_per_session
 * descriptors each. */
uint64_t daemon_nofile_need(size_t sessions, unsigned fds_per_session);

/* The limits (soft, hard) to ask for given the current ones: the soft limit
 * up to need (never lowered), and the hard limit too when it is below need
 * and can_raise_hard (CAP_SYS_RESOURCE). RLIM_INFINITY is the largest. */
void daemon_nofile_plan(uint64_t need, uint64_t cur, uint64_t max, bool can_raise_hard,
			uint64_t *cur_out, uint64_t *max_out);

/* Raises RLIMIT_NOFILE to need (daemon_nofile_plan; call it before
 * daemon_drop_privileges, which drops CAP_SYS_RESOURCE; after it only the
 * soft limit can move, up to the hard one). setrlimit refused (a seccomp
 * filter: the systemd units forbid @resources and set LimitNOFILE=
 * instead) is not an error. Returns the soft limit now in *limit_out and 0
 * when it covers need, -EMFILE when it does not, -errno if it cannot be read. */
int daemon_raise_nofile(uint64_t need, uint64_t *limit_out);

/* The effective capability mask of this process, from /proc/self/status
 * (for `mt6d show` and the tests). Returns 0 or -errno. */
int daemon_effective_caps(unsigned long long *caps_out);

#endif
