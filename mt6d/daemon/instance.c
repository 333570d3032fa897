/* Instance lock (instance.h). flock, not fcntl locks: flock belongs to the
 * open file description, so the child of daemon(3) keeps it, and it goes
 * away with the process however that ends (kill -9 included). */
#include "mt6d/daemon/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#define INSTANCE_OPEN_TRIES 8

int instance_lock_path(const char *sock_path, char *path_out, size_t path_len)
{
	size_t n = strlen(sock_path);
	int w;

	if (n >= 5 && strcmp(sock_path + n - 5, ".sock") == 0)
		n -= 5;
	w = snprintf(path_out, path_len, "%.*s.lock", (int)n, sock_path);
	return w < 0 || (size_t)w >= path_len ? -ENAMETOOLONG : 0;
}

static pid_t read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 ? (pid_t)v : 0;
}

int instance_lock(const char *path, struct instance_lock *lock_out, pid_t *holder_out)
{
	struct stat st_fd, st_path;
	int fd, tries;

	*holder_out = 0;
	if (strlen(path) >= sizeof(lock_out->path))
		return -ENAMETOOLONG;
	for (tries = 0; tries < INSTANCE_OPEN_TRIES; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int rc = -errno;

			if (rc == -EWOULDBLOCK)
				*holder_out = read_holder(fd);
			close(fd);
			return rc;
		}
		/* The owner may have unlinked it between our open and flock. */
		if (fstat(fd, &st_fd) == 0 && stat(path, &st_path) == 0 &&
		    st_fd.st_ino == st_path.st_ino && st_fd.st_dev == st_path.st_dev)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return -EAGAIN;
	lock_out->fd = fd;
	snprintf(lock_out->path, sizeof(lock_out->path), "%s", path);
	/* The pid only names the holder in a message: the lock works without. */
	(void)instance_lock_set_pid(lock_out);
	return 0;
}

int instance_lock_set_pid(struct instance_lock *lock)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(lock->fd, 0) < 0)
		return -errno;
	return pwrite(lock->fd, buf, (size_t)n, 0) == n ? 0 : -EIO;
}

void instance_unlock(struct instance_lock *lock)
{
	if (lock->fd < 0)
		return;
	unlink(lock->path);
	close(lock->fd);
	lock->fd = -1;
}
