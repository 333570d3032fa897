#include "mt6d/daemon.h"

#include <cap-ng.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <linux/capability.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

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

int daemon_drop_privileges(const char *user, bool keep_net_raw, char *msg, size_t msg_len)
{
	const capng_type_t sets = CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET;
	int uid = -1, gid = -1, rc;

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
	/* A later execve must not regain what was dropped. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "PR_SET_NO_NEW_PRIVS: %s", strerror(-rc));
		return rc;
	}
	return 0;
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
