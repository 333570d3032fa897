/* mt6d-server's engine (docs/PROTOCOL.md section 11):
 * the introduction interface and its multi-client tunnel under K, the
 * validation of configuration requests, one session tunnel (mt6d/engine/tunnel.h)
 * per client, K rotation every config period, reload and revocation, and the
 * answers of the control socket. Everything runs on one libev loop. */
#ifndef MT6D_SERVER_H
#define MT6D_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "mt6d/core/ctlproto.h"
#include "mt6d/core/threat.h"

/* Named limits (docs/ARCHITECTURE.md, "Conventions"); the request rate and the other
 * timings of the server's decisions are in mt6d/core/server_fsm.h, the
 * threat levels and their triggers in mt6d/core/threat.h. */
#define SERVER_MAX_SESSIONS 16384
/* Descriptors a session holds: its TUN and one UDP socket per live slot
 * (three). The bound for RLIMIT_NOFILE (daemon_nofile_need). */
#define SERVER_FDS_PER_SESSION 4
#define SERVER_DEFAULT_IDLE_TIMEOUT_MS 120000

struct server_options {
	/* Testing only, until the DHT publisher is wired: write the
	 * introduction config (seed address, K, Rot, n) to this file (mode 0600)
	 * at every new K, for mt6d-client -T. NULL: none. */
	const char *intro_file;
	uint32_t idle_timeout_ms;        /* 0: SERVER_DEFAULT_IDLE_TIMEOUT_MS */
};

struct server_stats {
	uint64_t intro_rx;               /* datagrams on the introduction sockets */
	uint64_t drops_unknown_iid;      /* source IID of no registered client */
	uint64_t drops_wire;             /* did not authenticate as the client it named */
	uint64_t drops_inner;            /* authentic, not IPv6 with next header 253 */
	uint64_t drops_rate;             /* over the per-client request rate */
	uint64_t drops_client_id;        /* request for another client id */
	uint64_t drops_msg;              /* malformed request (length, version, type) */
	uint64_t drops_auth;             /* request did not authenticate */
	uint64_t drops_stale;            /* request timestamp out of range */
	uint64_t drops_replay;           /* request not newer than the client's latest */
	uint64_t drops_intro_replay;     /* copy of an authentic introduction datagram */
	uint64_t intro_replayed;         /* authentic introduction datagrams copied (once each) */
	uint64_t drops_ciid;             /* seed IID is not C_IID */
	uint64_t drops_superseded;       /* valid, but older than the session's request */
	uint64_t session_errors;         /* valid request, session could not be made */
	uint64_t sessions_started;
	uint64_t sessions_ended;
	uint64_t rekeys;
	uint64_t addr_errors;            /* introduction addresses the kernel refused */
};

struct server;

/* Starts everything: reads config_path (and the private key it names),
 * purges leftovers of a previous run, creates the introduction interface
 * with the seed address, draws K and binds the introduction addresses.
 * Returns 0 or -errno with one line in msg. */
int server_new(struct ev_loop *loop, const char *config_path, const struct server_options *opt,
	       struct server **out, char *msg, size_t msg_len);

/* Ends every session with a teardown message, lets the tunnels send them,
 * then breaks the loop (about 200 ms later). */
void server_stop(struct server *srv);

/* Removes every session interface, address and route, the introduction
 * interface, and wipes the keys. Accepts NULL. */
void server_free(struct server *srv);

/* Reads the config file again. Clients removed (or whose key changed, or
 * expired) lose their session at once and K is replaced, so that a revoked
 * key can no longer find or reach the server. Returns 0 or -errno with the
 * reason in msg (the running config is then kept). */
int server_reload(struct server *srv, char *msg, size_t msg_len);

/* Draws a new K now (the previous one is dropped at once when is_revocation,
 * else kept for a grace period). */
void server_rekey(struct server *srv, bool is_revocation, const char *why);

/* Sets the operator's threat level (is_auto: raised on signs of attack).
 * A change applies to the introduction from the next config window (its
 * config, published ahead, is published again with the new Rot), to every
 * session made from then on, and to running sessions at a boundary a few
 * seconds ahead (the client is told with a rotation change message; the
 * session goes on). Logged and audited. */
void server_set_threat(struct server *srv, enum threat_level level, bool is_auto,
		       const char *why);

void server_get_stats(const struct server *srv, struct server_stats *stats_out);
unsigned server_session_count(const struct server *srv);
/* Registered clients ([Client] sections), each at most one session. */
size_t server_client_count(const struct server *srv);
/* Descriptors a session holds in the configured modes: SERVER_FDS_PER_SESSION
 * with its own TUN and slot sockets, 0 with the shared TUN and shared slot
 * sockets (SessionInterface, SlotSockets). */
unsigned server_fds_per_session(const struct server *srv);

/* The configured StateDirectory (the audit trail, publish.state), which the
 * daemon must still be able to write after dropping privileges. */
const char *server_state_dir(const struct server *srv);

/* The control socket's handler (ctl.h): get=1 shows the server; set=1 with
 * reload=1, rekey=1 or threat=low|normal|high acts. */
int server_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *reply);

#endif
