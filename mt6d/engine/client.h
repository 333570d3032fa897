/* mt6d-client's engine (the patent's FIG. 5;
 * docs/PROTOCOL.md section 11): from the server's introduction config
 * (seed address, K, Rot), the introduction tunnel and the request (retried
 * with backoff), then the session tunnel under K_s with the server's
 * session tunnel address routed into it; keepalives; re-establishment when
 * K changes, the server falls silent, the server ends the session, or this
 * host's /64 prefix changes. One libev loop. */
#ifndef MT6D_CLIENT_H
#define MT6D_CLIENT_H

#include <stdint.h>
#include <ev.h>

#include "mt6d/core/ctlproto.h"

#define CLIENT_DEFAULT_KEEPALIVE_MS 10000
#define CLIENT_DEFAULT_SILENCE_MS 35000   /* no packet from the server this long: re-establish */
/* Retries, backoff, renewal of a silent session: mt6d/core/client_fsm.h. */

struct client_options {
	/* Testing only, until the DHT fetcher is wired: read the introduction
	 * config from this file (written by mt6d-server -T) and watch it for
	 * changes of K. */
	const char *intro_file;
	uint32_t keepalive_ms;            /* 0: default */
	uint32_t silence_ms;              /* 0: default */
};

struct client;

/* Reads config_path and its key, purges leftovers of a previous run, opens
 * the sockets, and starts establishing a session. Returns 0 or -errno with
 * one line in msg. */
int client_new(struct ev_loop *loop, const char *config_path, const struct client_options *opt,
	       struct client **out, char *msg, size_t msg_len);

/* Sends a teardown if a session is up, then breaks the loop shortly after. */
void client_stop(struct client *c);

/* Removes the interface, addresses, routes and the state file. NULL is fine. */
void client_free(struct client *c);

/* Whether a session is established now. */
bool client_has_session(const struct client *c);

/* The configured StateDirectory (where <interface>.server is written), which
 * the daemon must still be able to write after dropping privileges. */
const char *client_state_dir(const struct client *c);

/* The control socket's handler (ctl.h): get=1 shows the client; set=1 with
 * reconnect=1 re-establishes the session. */
int client_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *reply);

#endif
