/* The text control socket of a daemon (docs/ARCHITECTURE.md, "Conventions"; after WireGuard's
 * cross-platform UAPI): a client connects to /run/mt6d/<name>.sock, writes a
 * request and reads one reply, in the format of mt6d/core/ctlproto.h.
 * Only root and the daemon's own uid may connect (SO_PEERCRED). The server side runs on the daemon's libev loop; the client
 * side (ctl_call) is blocking with a timeout, for the CLI. */
#ifndef MT6D_CTL_H
#define MT6D_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "mt6d/core/ctlproto.h"

#define CTL_RUN_DIR "/run/mt6d"
#define CTL_MAX_CONNS 16           /* concurrent control connections */
#define CTL_TIMEOUT_MS 5000        /* a connection idle this long is closed */

struct ctl_server;

/* Listens on path (a stale socket there is replaced; a live one, where a
 * daemon still answers, is -EADDRINUSE). The socket is created 0600 under a
 * strict umask. Returns 0 and *out, or -errno. */
int ctl_server_new(struct ev_loop *loop, const char *path, ctl_handler_fn *handler, void *ctx,
		   struct ctl_server **out);

/* Closes every connection, stops listening and unlinks the socket. NULL is
 * fine. */
void ctl_server_free(struct ctl_server *srv);

/* The default socket path of a daemon instance: CTL_RUN_DIR/<name>.sock.
 * Returns 0 or -ENAMETOOLONG. */
int ctl_socket_path(char *path_out, size_t path_len, const char *name);

/* A daemon's -s argument, in place: empty becomes default_name, and a bare
 * name (no '/') CTL_RUN_DIR/<name>.sock, as `mt6d show NAME` takes it; a
 * path stays. Returns 0 or -ENAMETOOLONG. */
int ctl_resolve_socket_arg(char *path, size_t path_len, const char *default_name);

/* Client: sends request (complete, with its final empty line) to the socket
 * at path and reads the reply into a malloc'd NUL-terminated string without
 * its errno line, which goes to *errno_out. Returns 0 (the exchange worked;
 * look at *errno_out) or -errno (cannot connect, timeout, malformed reply). */
int ctl_call(const char *path, const char *request, int timeout_ms, char **reply_out,
	     int *errno_out);

#endif
