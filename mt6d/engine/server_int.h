/* mt6d-server's engine, inside: the struct server and its parts, shared by
 * the files of the engine and by nothing else (internal: only
 * mt6d/engine/server*.c include it). The public interface is
 * mt6d/engine/server.h. The decisions are in mt6d/core/server_fsm.h and
 * mt6d/core/threat.h; these files execute them:
 *
 *   server.c           start, stop, the audit trail (wiring of the parts)
 *   server_clients.c   the registered clients, their C_IIDs; reload
 *   server_link.c      the physical link, scale mode, the introduction TUN
 *   server_intro.c     the introduction tunnel under each K (generations)
 *   server_rdv.c       the rendezvous: publication of the configs, new K
 *   server_sessions.c  sessions, their messages, housekeeping, threat level
 *   server_show.c      the control socket
 *
 * Clocks (mt6d/base/clock.h): *_wall_ms UNIX time, *_mono_ms monotonic. */
#ifndef MT6D_SERVER_INT_H
#define MT6D_SERVER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <ev.h>

#include "mt6d/core/config.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/introwin.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/msg.h"
#include "mt6d/core/rotate.h"
#include "mt6d/core/server_fsm.h"
#include "mt6d/core/sesstab.h"
#include "mt6d/core/threat.h"
#include "mt6d/core/wire.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/guard.h"
#include "mt6d/engine/server.h"

#define SERVER_NETLINK_TIMEOUT_MS 5000
#define SERVER_INTRO_SLOTS 3             /* previous, current, next */
#define SERVER_INTRO_BUF 2048
#define SERVER_INTRO_RCVBUF (16 * 1024 * 1024) /* bytes: a storm of 15,000 requests queued */
#define SERVER_HOUSEKEEPING_S 1.0
#define SERVER_CLOSE_DELAY_S 0.2         /* a teardown leaves through the TUN first */
/* A teardown is one datagram: lost, the client would keep a dead session
 * until its silence timeout. Copies spread over the close delay (across a
 * slot boundary at the fastest rotation) make one loss harmless; the
 * client acts on the first and ignores the rest (its session is down). */
#define SERVER_TEARDOWN_COPIES 3
#define SERVER_SHARED_LOCAL_PREFIX_LEN 104 /* prefix::1:0:0/104: every server tunnel address */

struct server;
struct tunnel;
struct tun;
struct nladdr;
struct nllink;
struct ndresp;
struct dhtev;
struct dhtident;
struct pubsched;
struct sessiontun;
struct slotmux;
struct nladdr_result;

struct intro_sock {
	ev_io io;
	struct intro_gen *gen;
	int fd;                          /* -1: not open */
	uint64_t slot;
	struct rotate_endpoint own;
	struct intro_map map;            /* client intro IID of this slot -> client index */
};

/* The introduction under one K: its sockets and addresses for the slots
 * around the current one. */
struct intro_gen {
	struct server *srv;
	uint8_t key[INTRO_KEY_LEN];      /* K (secret) */
	uint8_t slot_key[INTRO_SLOT_KEY_LEN];
	uint64_t number;                 /* 1 for the first K of this run */
	uint32_t rotation_ms;            /* Rot of this K's config */
	ev_periodic tick;                /* its slot boundaries */
	bool is_current;
	struct intro_sock socks[SERVER_INTRO_SLOTS]; /* by slot % SERVER_INTRO_SLOTS */
};

struct server_session {
	struct server *srv;
	uint32_t id;                     /* the client's */
	char name[CONFIG_NAME_LEN];
	struct tunnel *tunnel;
	unsigned ifindex;                /* its TUN */
	struct msg_session_keys keys;    /* secret */
	struct in6_addr server_tunnel, client_tunnel, server_seed, client_seed;
	struct server_fsm_session fsm;   /* Rot and its changes, keepalive answers */
	uint64_t request_wall_ms;        /* timestamp of the request that made it */
	int64_t started_wall_ms;
	ev_timer close_timer;            /* closing: teardown copies, then the free */
	unsigned teardown_copies_sent;
	uint8_t teardown_reason;
	struct sesstab_entry ent;        /* in srv->table: by id, closing, last activity (mono) */
};

struct server_client {
	struct config_client cfg;
	uint8_t s[MT6D_KEY_LEN];          /* X25519 shared secret with the server (secret) */
	struct wire_tx intro_tx;          /* replies into its introduction tunnel */
	uint8_t intro_tx_key[WIRE_KEY_LEN]; /* direction key intro_tx was started with */
	bool has_intro_tx;
	struct server_fsm_bucket bucket;  /* request rate */
	uint64_t requests_ok;
	struct msg_replay replay;         /* greatest request timestamp accepted (issue 13) */
	struct introwin win;              /* its latest authentic intro datagrams (issue 13) */
};

struct server {
	struct ev_loop *loop;
	char config_path[CONFIG_PATH_LEN];
	struct config cfg;
	struct server_options opt;
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	struct nladdr *nladdr;
	struct nllink *nllink;
	ev_io nladdr_io;
	/* AddressMode = scale: the /64 is claimed (nllink) and this responder
	 * answers neighbour discovery for the live MT6D addresses, which are
	 * not bound; NULL in per-address mode. */
	struct ndresp *ndresp;
	struct guard *guard;             /* silent to probes, fail closed (guard.h) */
	ev_io ndresp_io;
	int64_t ndresp_logged_mono_ms;   /* last responder error logged */
	int64_t addr_err_logged_mono_ms; /* last introduction address error logged */
	unsigned link_ifindex, link_mtu;
	struct in6_addr seed;            /* SeedIPv6_S */
	struct in6_addr tunnel_prefix;
	unsigned tunnel_prefix_len;
	struct tun *intro_tun;
	/* SessionInterface = shared: the one TUN of every session; NULL: one
	 * TUN per session. */
	struct sessiontun *stun;
	struct slotmux *mux;             /* SlotSockets = shared; NULL: per-session sockets */
	/* Registered clients, sorted by id; their C_IIDs under the current and
	 * the previous K, and whether each may be served. */
	struct server_client *clients;
	uint8_t (*c_iids)[INTRO_IID_LEN];
	uint8_t (*c_iids_old)[INTRO_IID_LEN];
	bool *is_active;
	size_t n_clients;
	struct intro_gen *gen, *old_gen;
	uint64_t gen_number;
	int64_t k_changed_wall_ms;
	ev_periodic rekey_tick;          /* config period boundaries */
	ev_timer old_gen_timer;
	ev_timer housekeeping;
	ev_timer stop_timer;
	int raw_fd;
	ev_io raw_io;
	struct wire_rx scratch_rx;       /* per datagram (secret) */
	struct sesstab table;            /* every session, closing ones included */
	struct server_stats stats;
	int audit_fd;
	bool is_audit_new, is_state_dir_new; /* made by this start: a failed one removes them */
	/* The rendezvous (none with opt.intro_file): our DHT node and the
	 * publisher of every client's config for the current window (under
	 * gen->key) and the next one (under next_key, published ahead). */
	/* DHTNodes identities side by side (docs/PROTOCOL.md 6.5), each a
	 * new node every window on its own; the schedulers publish each client
	 * from one of their current nodes. */
	struct dhtident *idents[CONFIG_MAX_DHT_NODES];
	size_t n_idents;
	struct pubsched *publisher;      /* port stuffing (RendezvousChannel peers, both) */
	struct pubsched *itempub;        /* BEP 44 items (RendezvousChannel items, both) */
	uint64_t win_start;              /* T of the current window, UNIX s */
	/* Threat level: the operator's, and the one in force (raised
	 * automatically on signs of attack, lowered after a quiet period). */
	struct threat threat;
	uint8_t next_key[INTRO_KEY_LEN]; /* K of the window after it (secret) */
};

/* server.c */
const char *server_addr_str(const struct in6_addr *a, char *buf);
/* The audit trail: one line per event, appended, never rewritten (and
 * logged). */
void server_audit(struct server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* server_clients.c: the client table of a config (shared secrets, sorted
 * by id), its C_IIDs under the current K (and old_key), who is active. */
int server_clients_build(const struct config *cfg, const uint8_t priv[static MT6D_KEY_LEN],
			 struct server_client **out, char *msg, size_t msg_len);
void server_clients_free(struct server_client *clients, size_t n);
void server_clients_derive(struct server *srv, const uint8_t *old_key);
int server_tables_alloc(size_t n, uint8_t (**c_iids)[INTRO_IID_LEN],
			uint8_t (**c_iids_old)[INTRO_IID_LEN], bool **is_active);

/* server_link.c: Interface, its /64 and seed, scale mode, the introduction
 * TUN; netlink acknowledgements. */
int server_link_setup(struct server *srv, char *msg, size_t msg_len);
int server_link_setup_scale(struct server *srv, char *msg, size_t msg_len);
int server_link_setup_intro_tun(struct server *srv, char *msg, size_t msg_len);
/* guard (guard.h): the table, the tunnel prefix's unreachable route, the
 * scale mode claim. After server_link_setup_scale, whose purge of our
 * routes would remove that route. */
int server_link_setup_guard(struct server *srv, char *msg, size_t msg_len);
void server_link_on_addr_result(const struct nladdr_result *res, void *arg);

/* server_intro.c: a generation (K) of the introduction, its slot window. */
int server_intro_gen_new(struct server *srv, const uint8_t *key, uint32_t rotation_ms,
			 struct intro_gen **out);
void server_intro_gen_free(struct server *srv, struct intro_gen *g);
void server_intro_gen_move(struct server *srv, struct intro_gen *g, uint64_t cur);
uint64_t server_intro_slot(const struct intro_gen *g);
void server_intro_write_file(struct server *srv);
void server_intro_old_gen_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* After a change of the client table under the same K. */
void server_intro_rebuild(struct server *srv);

/* server_rdv.c: the DHT node and publisher; the configs of the current and
 * next windows; the K of each window. */
int server_rdv_setup(struct server *srv, char *msg, size_t msg_len);
void server_rdv_publish(struct server *srv);
/* A client registered or revoked: on every channel that publishes. */
void server_rdv_add_client(struct server *srv, const uint8_t *client_pub);
void server_rdv_remove_client(struct server *srv, const uint8_t *client_pub);
/* The publishers, before the DHT node goes. */
void server_rdv_free(struct server *srv);
void server_rdv_rekey_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents);

/* server_sessions.c */
struct server_session *server_session_of_entry(struct sesstab_entry *e);
/* The live (not closing) session of a client, or NULL. */
struct server_session *server_session_of(const struct server *srv, uint32_t id);
void server_session_free(struct server_session *ss);
void server_session_end(struct server_session *ss, uint8_t reason, bool send_teardown);
int server_session_start(struct server *srv, struct server_client *c, const struct msg_request *req,
			 struct msg_handshake *hs, uint8_t resp_out[static MSG_RESPONSE_LEN]);
/* SessionInterface = shared: the shared TUN and the local route of every
 * server-side tunnel address; nothing in per-client mode. */
int server_sessions_setup_shared(struct server *srv, char *msg, size_t msg_len);
void server_sessions_raw_cb(struct ev_loop *loop, ev_io *w, int revents);
void server_sessions_housekeeping_cb(struct ev_loop *loop, ev_timer *w, int revents);

#endif
