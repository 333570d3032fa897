#include "mt6d/daemon/ctl.h"
#include "mt6d/core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mt6d/base/clock.h"

struct ctl_conn {
	ev_io io;                 /* first: the watcher is the connection */
	ev_timer timeout;
	struct ctl_server *srv;
	struct ctl_conn *next;
	char *in;                 /* CTL_REQUEST_MAX + 1 bytes */
	size_t in_len;
	struct ctl_reply out;
	size_t out_sent;
	bool is_replying;
};

struct ctl_server {
	ev_io listen;
	/* Out of descriptors (EMFILE), a listener that cannot accept stays
	 * readable and would spin the loop: a descriptor kept in reserve lets
	 * the operator's `mt6d show` in all the same, and without one the
	 * listener pauses for a second. */
	int spare_fd;
	ev_timer paused;
	struct ev_loop *loop;
	ctl_handler_fn *handler;
	void *ctx;
	struct ctl_conn *conns;
	size_t n_conns;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

int ctl_socket_path(char *path_out, size_t path_len, const char *name)
{
	int n = snprintf(path_out, path_len, "%s/%s.sock", CTL_RUN_DIR, name);

	if (n < 0 || (size_t)n >= path_len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int ctl_resolve_socket_arg(char *path, size_t path_len, const char *default_name)
{
	char name[256];

	if (!path[0] && (size_t)snprintf(path, path_len, "%s", default_name) >= path_len)
		return -ENAMETOOLONG;
	if (strchr(path, '/'))
		return 0;
	if ((size_t)snprintf(name, sizeof(name), "%s", path) >= sizeof(name))
		return -ENAMETOOLONG;
	return ctl_socket_path(path, path_len, name);
}

static void conn_free(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;
	struct ctl_conn **pp;

	ev_io_stop(srv->loop, &c->io);
	ev_timer_stop(srv->loop, &c->timeout);
	close(c->io.fd);
	for (pp = &srv->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	srv->n_conns--;
	free(c->in);
	ctl_reply_fini(&c->out);
	free(c);
	if (srv->spare_fd < 0)
		srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void conn_start_reply(struct ctl_conn *c)
{
	struct ctl_server *srv = c->srv;
	struct ctl_request req;
	int rc;

	c->in[c->in_len] = '\0';
	rc = ctl_request_parse(c->in, &req);
	/* issue 13: the kernel's word that no core dump of this daemon (and no
	 * ptrace by its uid) can show its keys; first, before the handler's
	 * per-session records. */
	if (rc == 0 && !req.is_set)
		ctl_reply_printf(&c->out, "dumpable=%d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	if (rc == 0)
		rc = srv->handler(srv->ctx, &req, &c->out);
	if (c->out.is_truncated) {
		/* Drop a partial reply rather than send half a table. */
		c->out.len = 0;
		c->out.is_truncated = false;
		rc = -EMSGSIZE;
	}
	if (c->out.len && c->out.buf[c->out.len - 1] != '\n')
		ctl_reply_printf(&c->out, "\n");
	c->out.is_truncated = false;
	if (ctl_reply_printf(&c->out, "errno=%d\n\n", rc < 0 ? -rc : 0) < 0) {
		conn_free(c);
		return;
	}
	c->is_replying = true;
	ev_io_stop(srv->loop, &c->io);
	ev_io_set(&c->io, c->io.fd, EV_WRITE);
	ev_io_start(srv->loop, &c->io);
}

static void conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *c = container_of(w, struct ctl_conn, io);
	ssize_t n;

	(void)loop;
	(void)revents;
	if (c->is_replying) {
		n = send(w->fd, c->out.buf + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_free(c);
			return;
		}
		c->out_sent += (size_t)n;
		if (c->out_sent == c->out.len)
			conn_free(c);
		return;
	}
	n = recv(w->fd, c->in + c->in_len, CTL_REQUEST_MAX - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	c->in_len += (size_t)n;
	ev_timer_again(c->srv->loop, &c->timeout);
	if ((c->in_len >= 2 && memcmp(c->in + c->in_len - 2, "\n\n", 2) == 0) ||
	    (c->in_len == 1 && c->in[0] == '\n')) {
		conn_start_reply(c);
		return;
	}
	if (c->in_len == CTL_REQUEST_MAX) {
		c->in_len = 0; /* too long: answered as a malformed request */
		conn_start_reply(c);
	}
}

static void conn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_free(container_of(w, struct ctl_conn, timeout));
}

static bool peer_is_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void paused_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_server *srv = container_of(w, struct ctl_server, paused);

	(void)revents;
	ev_io_start(loop, &srv->listen);
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_server *srv = container_of(w, struct ctl_server, listen);
	struct ctl_conn *c;
	int fd;

	(void)revents;
	fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && srv->spare_fd >= 0) {
		close(srv->spare_fd); /* given back when a connection ends */
		srv->spare_fd = -1;
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	}
	if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
		ev_io_stop(loop, &srv->listen);
		ev_timer_set(&srv->paused, 1.0, 0);
		ev_timer_start(loop, &srv->paused);
		return;
	}
	if (fd < 0)
		return;
	if (srv->n_conns >= CTL_MAX_CONNS || !peer_is_allowed(fd)) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->in = malloc(CTL_REQUEST_MAX + 1);
	if (!c || !c->in) {
		if (c)
			free(c);
		close(fd);
		return;
	}
	c->srv = srv;
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	ev_init(&c->timeout, conn_timeout_cb);
	c->timeout.repeat = CTL_TIMEOUT_MS / 1000.0;
	ev_io_start(loop, &c->io);
	ev_timer_again(loop, &c->timeout);
	c->next = srv->conns;
	srv->conns = c;
	srv->n_conns++;
}

static int fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* A socket file whose daemon is gone refuses connections; a live one
 * accepts. */
static bool socket_is_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

int ctl_server_new(struct ev_loop *loop, const char *path, ctl_handler_fn *handler, void *ctx,
		   struct ctl_server **out)
{
	struct ctl_server *srv;
	struct sockaddr_un sun;
	mode_t old_umask;
	int fd, rc;

	rc = fill_addr(&sun, path);
	if (rc < 0)
		return rc;
	if (socket_is_live(&sun))
		return -EADDRINUSE;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		free(srv);
		return rc;
	}
	unlink(path);
	old_umask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old_umask);
	if (rc == 0 && listen(fd, CTL_MAX_CONNS) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		free(srv);
		return rc;
	}
	srv->loop = loop;
	srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_init(&srv->paused, paused_cb);
	srv->handler = handler;
	srv->ctx = ctx;
	memcpy(srv->path, path, strlen(path) + 1);     /* fits: fill_addr checked it */
	ev_io_init(&srv->listen, listen_cb, fd, EV_READ);
	ev_io_start(loop, &srv->listen);
	*out = srv;
	return 0;
}

void ctl_server_free(struct ctl_server *srv)
{
	if (!srv)
		return;
	while (srv->conns)
		conn_free(srv->conns); /* NOLINT(clang-analyzer-unix.Malloc): conn_free unlinks it first */
	ev_io_stop(srv->loop, &srv->listen);
	ev_timer_stop(srv->loop, &srv->paused);
	close(srv->listen.fd);
	if (srv->spare_fd >= 0)
		close(srv->spare_fd);
	unlink(srv->path);
	free(srv);
}

/* Waits for fd to be ready for events until deadline; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - mono_now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int ctl_call(const char *path, const char *request, int timeout_ms, char **reply_out,
	     int *errno_out)
{
	int64_t deadline = mono_now_ms() + timeout_ms;
	struct sockaddr_un sun;
	size_t len = strlen(request), done = 0, cap = 4096, got = 0;
	char *buf = NULL;
	int fd, rc;

	rc = fill_addr(&sun, path);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		rc = -errno;
		goto cleanup;
	}
	while (done < len) {
		ssize_t n;

		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			goto cleanup;
		n = send(fd, request + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			rc = -errno;
			goto cleanup;
		}
		done += (size_t)n;
	}
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		ssize_t n;

		if (got + 1 == cap) {
			char *more;

			if (cap >= CTL_MAX_REPLY_LEN + 64) {
				rc = -EMSGSIZE;
				goto cleanup;
			}
			more = realloc(buf, cap * 2);
			if (!more) {
				rc = -ENOMEM;
				goto cleanup;
			}
			buf = more;
			cap *= 2;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			goto cleanup;
		n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			rc = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got >= 2 && memcmp(buf + got - 2, "\n\n", 2) == 0)
			break;
	}
	buf[got] = '\0';
	/* The reply ends with the line "errno=N" and an empty line. */
	if (got >= 2 && memcmp(buf + got - 2, "\n\n", 2) == 0) {
		size_t nl = got - 2, start = nl;
		char *stop;
		long e;

		while (start > 0 && buf[start - 1] != '\n')
			start--;
		errno = 0;
		e = strncmp(buf + start, "errno=", 6) == 0 ? strtol(buf + start + 6, &stop, 10) : -1;
		if (!errno && e >= 0 && e < 4096 && stop == buf + nl && nl > start + 6) {
			buf[start] = '\0';
			*errno_out = (int)e;
			*reply_out = buf;
			buf = NULL;
			rc = 0;
			goto cleanup;
		}
	}
	rc = -EBADMSG;
cleanup:
	free(buf);
	close(fd);
	return rc;
}
