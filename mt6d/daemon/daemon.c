#include "mt6d/daemon/daemon.h"
#include "mt6d/core/util.h"

#include <cap-ng.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <linux/capability.h>

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon_signals *sig = w->signum == SIGINT ?
					     container_of(w, struct daemon_signals, sigint) :
					     container_of(w, struct daemon_signals, sigterm);

	(void)revents;
	sig->on_stop(loop, sig->ctx);
}

static void reload_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon_signals *sig = container_of(w, struct daemon_signals, sighup);

	(void)revents;
	if (sig->on_reload)
		sig->on_reload(loop, sig->ctx);
}

void daemon_signals_start(struct ev_loop *loop, struct daemon_signals *sig)
{
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&sig->sigint, stop_cb, SIGINT);
	ev_signal_init(&sig->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sig->sighup, reload_cb, SIGHUP);
	ev_signal_start(loop, &sig->sigint);
	ev_signal_start(loop, &sig->sigterm);
	ev_signal_start(loop, &sig->sighup);
}

void daemon_signals_stop(struct ev_loop *loop, struct daemon_signals *sig)
{
	ev_signal_stop(loop, &sig->sigint);
	ev_signal_stop(loop, &sig->sigterm);
	ev_signal_stop(loop, &sig->sighup);
}

/* Session interfaces are made after the drop, by opening /dev/net/tun: udev
 * makes it 0666, but a container may leave it 0600 root. Supplementary
 * groups are dropped, so only the primary group counts. */
static bool user_can_open_tun(const struct passwd *pw, unsigned *mode_out)
{
	struct stat st;
	mode_t need;

	*mode_out = 0;
	if (stat(DAEMON_TUN_PATH, &st) < 0)
		return true; /* said where a TUN is made, with the real cause */
	*mode_out = (unsigned)(st.st_mode & 07777);
	if (st.st_uid == pw->pw_uid)
		need = S_IRUSR | S_IWUSR;
	else if (st.st_gid == pw->pw_gid)
		need = S_IRGRP | S_IWGRP;
	else
		need = S_IROTH | S_IWOTH;
	return (st.st_mode & need) == need;
}

int daemon_select_user(const char *requested, const char **user_out, char *msg,
		       size_t msg_len)
{
	const char *name = requested ? requested : DAEMON_DEFAULT_USER;
	struct passwd *pw = getpwnam(name);
	unsigned mode;

	*user_out = NULL;
	if (msg_len)
		msg[0] = '\0';
	if (geteuid() != 0) {
		/* Started unprivileged (systemd's User=): nothing to switch, but
		 * an explicit other user cannot be honoured. */
		if (requested && (!pw || pw->pw_uid != geteuid())) {
			snprintf(msg, msg_len, "running as uid %u, not root: cannot switch to user '%s'",
				 (unsigned)geteuid(), requested);
			return -EPERM;
		}
		if (capng_get_caps_process() < 0 ||
		    !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN)) {
			snprintf(msg, msg_len, "running as uid %u without CAP_NET_ADMIN: start as root, "
				 "or with AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
				 (unsigned)geteuid());
			return -EPERM;
		}
		return 0;
	}
	if (!pw) {
		if (requested) {
			snprintf(msg, msg_len, "no such user '%s'", requested);
			return -ENOENT;
		}
		snprintf(msg, msg_len,
			 "user '%s' does not exist: staying uid 0 with only CAP_NET_ADMIN "
			 "(create it with systemd-sysusers, or name another with -u USER)", name);
		return 0;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (!user_can_open_tun(pw, &mode)) {
		if (requested) {
			snprintf(msg, msg_len, "user '%s' cannot open " DAEMON_TUN_PATH
				 " (mode %04o), so no session interface could be made: "
				 "make it 0666 (as udev does) or use -u root", name, mode);
			return -EACCES;
		}
		snprintf(msg, msg_len, "user '%s' cannot open " DAEMON_TUN_PATH " (mode %04o): "
			 "staying uid 0 with only CAP_NET_ADMIN", name, mode);
		return 0;
	}
	*user_out = name;
	return 0;
}

/* The root-owned files directly in a directory now the user's: what an
 * earlier run as root left there (audit.log, publish.state) must stay
 * writable. Links and subdirectories are left alone. */
static int give_files_in(int dir_fd, const struct passwd *pw)
{
	DIR *d = fdopendir(dir_fd);
	struct dirent *e;
	struct stat st;
	int rc = 0;

	if (!d) {
		rc = -errno;
		close(dir_fd);
		return rc;
	}
	while ((e = readdir(d))) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != 0)
			continue;
		if (fchownat(dirfd(d), e->d_name, pw->pw_uid, pw->pw_gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -errno;
	}
	closedir(d);
	return rc;
}

int daemon_give_path(const char *user, const char *path)
{
	struct passwd *pw;
	struct stat st;
	int fd;

	if (!user)
		return 0;
	pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	if (lstat(path, &st) < 0)
		return -errno;
	/* Someone else's already, a link that could point anywhere, or a
	 * shared directory such as /tmp: not ours to give away. */
	if ((st.st_uid != 0 && st.st_uid != pw->pw_uid) || S_ISLNK(st.st_mode) ||
	    (S_ISDIR(st.st_mode) && (st.st_mode & S_IWOTH)))
		return 0;
	if (st.st_uid == 0 && lchown(path, pw->pw_uid, pw->pw_gid) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return give_files_in(fd, pw);
}

int daemon_give_paths(const char *user, const char *state_dir, const char *sock_path,
		      const char *run_dir, const char **failed_out)
{
	const char *paths[] = { state_dir, sock_path, run_dir };
	size_t i, n = 2, run_len = strlen(run_dir);
	int rc, first = 0;

	if (strncmp(sock_path, run_dir, run_len) == 0 && sock_path[run_len] == '/')
		n = 3;
	for (i = 0; i < n; i++) {
		if (!paths[i])
			continue;
		rc = daemon_give_path(user, paths[i]);
		if (rc < 0 && !first) {
			first = rc;
			*failed_out = paths[i];
		}
	}
	return first;
}

/* Started as a user with ambient capabilities: the bounding set cannot be
 * changed without CAP_SETPCAP (systemd's CapabilityBoundingSet= did it), but
 * everything else beyond CAP_NET_ADMIN can still be let go. */
static int drop_unprivileged(const char *user, bool keep_net_raw, char *msg, size_t msg_len)
{
	const capng_type_t sets = CAPNG_EFFECTIVE | CAPNG_PERMITTED;

	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw || pw->pw_uid != geteuid()) {
			snprintf(msg, msg_len, "running as uid %u, not root: cannot switch to user '%s'",
				 (unsigned)geteuid(), user);
			return -EPERM;
		}
	}
	if (capng_get_caps_process() < 0) {
		snprintf(msg, msg_len, "cannot read this process's capabilities");
		return -EINVAL;
	}
	if (!capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN) ||
	    (keep_net_raw && !capng_have_capability(CAPNG_PERMITTED, CAP_NET_RAW))) {
		snprintf(msg, msg_len, "not root and CAP_NET_ADMIN%s not held (systemd: "
			 "AmbientCapabilities=)", keep_net_raw ? " or CAP_NET_RAW" : "");
		return -EPERM;
	}
	capng_clear(CAPNG_SELECT_CAPS);
	if (capng_update(CAPNG_ADD, sets, CAP_NET_ADMIN) < 0 ||
	    (keep_net_raw && capng_update(CAPNG_ADD, sets, CAP_NET_RAW) < 0)) {
		snprintf(msg, msg_len, "cannot build the capability set");
		return -EINVAL;
	}
	if (capng_apply(CAPNG_SELECT_CAPS) < 0) {
		snprintf(msg, msg_len, "cannot drop capabilities");
		return -EPERM;
	}
	/* The inheritable set is empty now, which empties the ambient set
	 * too; say it anyway, the kernel ignores a clear of nothing. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		int rc = -errno;

		snprintf(msg, msg_len, "clearing the ambient capabilities: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

int daemon_drop_privileges(const char *user, bool keep_net_raw, char *msg, size_t msg_len)
{
	const capng_type_t sets = CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET;
	int uid = -1, gid = -1, rc;

	if (geteuid() != 0) {
		rc = drop_unprivileged(user, keep_net_raw, msg, msg_len);
		if (rc < 0)
			return rc;
		goto no_new_privs;
	}
	if (user) {
		struct passwd *pw = getpwnam(user);

		if (!pw) {
			snprintf(msg, msg_len, "no such user '%s'", user);
			return -ENOENT;
		}
		uid = (int)pw->pw_uid;
		gid = (int)pw->pw_gid;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, sets, CAP_NET_ADMIN) < 0 ||
	    (keep_net_raw && capng_update(CAPNG_ADD, sets, CAP_NET_RAW) < 0)) {
		snprintf(msg, msg_len, "cannot build the capability set");
		return -EINVAL;
	}
	if (user)
		rc = capng_change_id(uid, gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	else
		rc = capng_apply(CAPNG_SELECT_BOTH);
	if (rc < 0) {
		snprintf(msg, msg_len, "cannot drop privileges%s%s (libcap-ng error %d)",
			 user ? " to user " : "", user ? user : "", rc);
		return -EPERM;
	}
no_new_privs:
	/* A change of uid resets the dumpable flag to fs.suid_dumpable. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "PR_SET_DUMPABLE: %s", strerror(-rc));
		return rc;
	}
	/* A later execve must not regain what was dropped. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "PR_SET_NO_NEW_PRIVS: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

uint64_t daemon_nofile_need(size_t sessions, unsigned fds_per_session)
{
	return (uint64_t)sessions * fds_per_session + DAEMON_NOFILE_MARGIN;
}

void daemon_nofile_plan(uint64_t need, uint64_t cur, uint64_t max, bool can_raise_hard,
			uint64_t *cur_out, uint64_t *max_out)
{
	*max_out = max;
	if (max < need && can_raise_hard)
		*max_out = need;
	*cur_out = cur >= need ? cur : need < *max_out ? need : *max_out;
}

int daemon_raise_nofile(uint64_t need, uint64_t *limit_out)
{
	struct rlimit lim, want;
	uint64_t cur, max;
	bool can_raise;

	if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return -errno;
	can_raise = capng_get_caps_process() == 0 &&
		    capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_RESOURCE);
	daemon_nofile_plan(need, lim.rlim_cur, lim.rlim_max, can_raise, &cur, &max);
	want.rlim_cur = (rlim_t)cur;
	want.rlim_max = (rlim_t)max;
	if ((want.rlim_cur != lim.rlim_cur || want.rlim_max != lim.rlim_max) &&
	    setrlimit(RLIMIT_NOFILE, &want) < 0 && want.rlim_max != lim.rlim_max) {
		/* The hard limit could not move after all: the soft one can. */
		want.rlim_max = lim.rlim_max;
		want.rlim_cur = lim.rlim_cur >= need ? lim.rlim_cur :
				need < lim.rlim_max ? (rlim_t)need : lim.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &want);
	}
	if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return -errno;
	*limit_out = lim.rlim_cur;
	return lim.rlim_cur >= need ? 0 : -EMFILE;
}

int daemon_effective_caps(unsigned long long *caps_out)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", caps_out) == 1) {
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4 /* linux/mman.h, Linux 4.4 */
#endif

#if defined(__SANITIZE_ADDRESS__)
#define DAEMON_HAS_SHADOW_MEMORY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DAEMON_HAS_SHADOW_MEMORY 1
#endif
#endif

int daemon_protect_memory(char *msg, size_t msg_len)
{
	struct rlimit none = { 0, 0 }, lim;
	int rc;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "PR_SET_DUMPABLE: %s", strerror(-rc));
		return rc;
	}
	/* A seccomp filter may refuse setrlimit: then the unit's LimitCORE=0
	 * must have done it. */
	if (setrlimit(RLIMIT_CORE, &none) < 0 &&
	    (getrlimit(RLIMIT_CORE, &lim) < 0 || lim.rlim_cur != 0)) {
		rc = -errno;
		snprintf(msg, msg_len, "RLIMIT_CORE: %s", strerror(-rc));
		return rc;
	}
#ifdef DAEMON_HAS_SHADOW_MEMORY
	/* ASan reserves terabytes of shadow memory: not a thing to lock. */
	snprintf(msg, msg_len, "memory not locked in a sanitizer build (ASan makes mlock a no-op)");
	return -EOPNOTSUPP;
#else
	/* Root may raise it; otherwise the unit's LimitMEMLOCK= decides. */
	lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
	(void)setrlimit(RLIMIT_MEMLOCK, &lim);
	if (getrlimit(RLIMIT_MEMLOCK, &lim) < 0 || lim.rlim_cur != RLIM_INFINITY) {
		snprintf(msg, msg_len, "memory not all locked: RLIMIT_MEMLOCK is %llu bytes, not "
			 "unlimited (systemd: LimitMEMLOCK=infinity); only the structures holding "
			 "keys are locked", (unsigned long long)lim.rlim_cur);
		return -ENOMEM;
	}
	/* MCL_ONFAULT: pages are locked as they are touched, so reserved but
	 * unused address space (thread stacks, malloc arenas) costs nothing. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "locking memory: %s", strerror(-rc));
		return rc;
	}
	return 0;
#endif
}
