/* One running daemon per instance: an flock(2) on a lock file, taken before
 * the daemon touches the kernel, so that a second instance started on the
 * same control socket (or, for mt6d-peer, the same config) fails without
 * purging the addresses of the first. The lock holds the pid of its owner,
 * to name it in the second instance's message. */
#ifndef MT6D_INSTANCE_H
#define MT6D_INSTANCE_H

#include <stddef.h>
#include <sys/types.h>

struct instance_lock {
	int fd;            /* the locked file, -1: none */
	char path[256];    /* where it lies, unlinked by instance_unlock */
};

/* The lock file of a daemon's instance: the control socket's path with
 * ".sock" replaced by ".lock" (or ".lock" appended). Returns 0 or
 * -ENAMETOOLONG. */
int instance_lock_path(const char *sock_path, char *path_out, size_t path_len);

/* Creates path (0644) and takes an exclusive lock on it, without waiting.
 * Returns 0 and fills lock_out; -EWOULDBLOCK when another process holds it,
 * with its pid in *holder_out (0 if unknown); or -errno. A lock file
 * unlinked by its owner between our open and flock is opened again, so two
 * instances never hold locks on different files of the same path. */
int instance_lock(const char *path, struct instance_lock *lock_out, pid_t *holder_out);

/* Writes the caller's pid into the lock (after daemon(3), which changes it).
 * Returns 0 or -errno. */
int instance_lock_set_pid(struct instance_lock *lock);

/* Unlinks the lock file (best effort: after a privilege drop the directory
 * may no longer be ours, and a stale file locks nothing) and releases it.
 * A lock with fd -1 is fine. */
void instance_unlock(struct instance_lock *lock);

#endif
