/* mt6d-client's engine, inside: the struct client, shared by the files of
 * the engine and by nothing else (internal: only mt6d/engine/client*.c
 * include it). The public interface is mt6d/engine/client.h; the decisions
 * are in mt6d/core/client_fsm.h, which these files execute:
 *
 *   client.c       start, stop, the tunnels, messages from the server, the
 *                  state machine's tick and actions
 *   client_rdv.c   the server's config: from the DHT (fetch) or the test file
 *   client_show.c  the control socket
 *
 * Clocks (mt6d/base/clock.h): *_wall_ms UNIX time, *_mono_ms monotonic. */
#ifndef MT6D_CLIENT_INT_H
#define MT6D_CLIENT_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <ev.h>

#include "mt6d/core/client_fsm.h"
#include "mt6d/core/config.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/msg.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/client.h"
#include "mt6d/engine/guard.h"

struct tunnel;
struct nladdr;
struct nllink;
struct dhtev;
struct dhtident;
struct fetch;
struct itemfetch;

#define CLIENT_NETLINK_TIMEOUT_MS 5000
#define CLIENT_CLOSE_DELAY_S 0.25
/* A rotation change names an instant within this of our clock (the
 * server's lead is a few seconds; farther is a stale or skewed message). */
#define CLIENT_ROTATION_SKEW_MS 60000

/* What the server publishes (the config message's fields). */
struct intro_config {
	struct in6_addr server_seed;      /* SeedIPv6_S */
	uint8_t key[INTRO_KEY_LEN];       /* K (secret) */
	uint32_t rotation_ms;
	uint32_t period_s;
};

struct client {
	struct ev_loop *loop;
	char config_path[CONFIG_PATH_LEN];
	struct config cfg;
	struct client_options opt;
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	uint8_t s[MT6D_KEY_LEN];          /* shared secret with the server (secret) */
	struct nladdr *nladdr;
	struct nllink *nllink;
	struct guard *guard;             /* silent to probes, fail closed (guard.h) */
	ev_io nladdr_io;
	unsigned link_ifindex, link_mtu;
	struct in6_addr prefix;           /* our /64, as last seen on Interface */
	int raw_fd;
	ev_io raw_io;

	/* The decisions (session state, retries, fetch times, silence):
	 * driven by the tick timer and the events below. */
	struct client_fsm fsm;
	bool has_intro;
	struct intro_config intro;
	int64_t intro_changed_wall_ms;
	uint8_t c_iid[INTRO_IID_LEN];
	struct in6_addr own_seed;         /* prefix || C_IID */
	struct tunnel *tunnel;            /* introduction or session tunnel */
	char tun_name[CONFIG_IFNAME_LEN]; /* kept across tunnels once the kernel named it */
	/* Make-before-break: while a session is up and a new one is being
	 * established (new K), the introduction runs on a second TUN and the
	 * session keeps carrying traffic until the response arrives. */
	struct tunnel *renew_tunnel;
	struct in6_addr session_seed;     /* own seed of the session tunnel */
	bool is_session_tunnel;           /* tunnel is the session's (else the introduction's) */
	bool is_stopping;                 /* no more ticks */

	struct msg_handshake hs;          /* the latest request (secret) */
	uint64_t requests_sent;

	struct msg_session_keys keys;     /* secret */
	struct in6_addr server_tunnel, client_tunnel, server_session_seed;
	uint32_t session_rotation_ms;     /* Rot of the session, or the one it changes to */
	uint32_t rotation_seq;            /* seq of the latest rotation change applied (0: none) */
	uint64_t rotation_changes, rotations_refused;
	int64_t session_started_wall_ms;
	uint64_t sessions, teardowns_rx, responses_bad;

	ev_timer tick;                    /* at the state machine's next deadline */
	ev_timer stop_timer;
	/* The rendezvous (none with opt.intro_file): our DHT node and the
	 * fetch in progress. */
	struct dhtev *dht;               /* dhtident's current node (a new one every window) */
	struct dhtident *ident;
	struct fetch *fetch;             /* port stuffing (RendezvousChannel peers, both) */
	struct itemfetch *ifetch;        /* BEP 44 items (RendezvousChannel items, both) */
	struct dhtev *fetch_dht;         /* the node the fetches run on */
	/* The attempt in progress: channels asked and failed, and the config
	 * taken (window, epoch) if any. */
	uint8_t rdv_channels, rdv_failed;
	bool rdv_taken;
	uint64_t rdv_window;
	uint8_t rdv_epoch;
	const char *rdv_from;            /* the channel of the config in use: "items", "peers" */
	ev_timer fetch_reap;              /* frees a finished fetch outside its callback */
	uint64_t fetches_ok, fetches_failed;
	int last_fetch_status;
	char state_file[PATH_MAX];
};

/* client.c */
const char *client_addr_str(const struct in6_addr *a, char *buf);
/* Does what the state machine asks (a set of enum client_fsm_action). */
void client_execute(struct client *c, unsigned acts);
/* Arms the tick timer at the state machine's next deadline. */
void client_reschedule(struct client *c);
/* A config from the rendezvous: the first one starts the introduction; a
 * different one (new K, new seed) makes the client establish again. */
void client_on_config(struct client *c, struct intro_config *ic);
void client_send_teardown(struct client *c, uint8_t reason);

/* client_rdv.c: gets the introduction config, from the test file at once
 * or from the DHT (client_on_config is called when it arrives). */
void client_rdv_fetch(struct client *c);
int client_rdv_setup(struct client *c, char *msg, size_t msg_len);
void client_rdv_set_prefix(struct client *c);
void client_rdv_fetch_reap_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* Cancels and frees the fetches in progress. */
void client_rdv_stop(struct client *c);

#endif
