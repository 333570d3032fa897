/* Configuration files of mt6d-server and mt6d-client (docs/mt6d.conf.5.md).
 *
 * INI in WireGuard's voice, parsed by libinih from memory through a push-style
 * context, so the same code serves files, tests and the fuzzer. Keys are
 * CamelCase, matched case-insensitively; every error names the source, the
 * line, the key and the value: "server.conf:7: RotationPeriod: must be
 * between 100ms and 60s: '0'".
 *
 *   server file: [Server] (this host) and one [Client] per registered client
 *   client file: [Client] (this host) and one [Server] (whom to find)
 *   peer file:   [Host] (this host) and one [Peer] (the other end of a static
 *                peer-to-peer MT6D tunnel, mt6d-peer; docs/peer-to-peer.md) */
#ifndef MT6D_CONFIG_H
#define MT6D_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_KEY_LEN 32
#define CONFIG_ADDR_LEN 16            /* an IPv6 address, network order */
#define CONFIG_IFNAME_LEN 16          /* IFNAMSIZ, NUL included */
#define CONFIG_PATH_LEN 256
#define CONFIG_NAME_LEN 33            /* client names: 1..32 of [A-Za-z0-9._-] */
#define CONFIG_HOSTPORT_LEN 262       /* "[" host "]:" port, host up to 253 */
#define CONFIG_MAX_BOOTSTRAP 16
#define CONFIG_MAX_CLIENTS 65536      /* registered clients in one server file */
#define CONFIG_MAX_FILE_LEN (8u << 20)
#define CONFIG_CLIENT_ID_MAX 0xffffffu /* ids are 24 bits on the wire; 0 is reserved */
#define CONFIG_MAX_QUEUES 4u           /* Queues of the peer's TUN (tunnel.h TUNNEL_MAX_QUEUES) */

#define CONFIG_DEFAULT_ROTATION_MS 3000u
#define CONFIG_DEFAULT_CONFIG_PERIOD_S 900u
#define CONFIG_DEFAULT_DHT_PORT 0u  /* a random port for every window */
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/mt6d"
#define CONFIG_MIN_ROTATION_MS 100u
#define CONFIG_MAX_ROTATION_MS 60000u
#define CONFIG_MIN_CONFIG_PERIOD_S 10u
#define CONFIG_MAX_CONFIG_PERIOD_S 86400u
/* Padding = off | bucket bytes (docs/mt6d.conf.5.md: why this default). */
#define CONFIG_DEFAULT_PADDING 256u
#define CONFIG_MIN_PADDING 16u        /* wire.h WIRE_MIN_PAD_BUCKET */
#define CONFIG_MAX_PADDING 65535u     /* wire.h WIRE_MAX_PAD_BUCKET */

enum config_role {
	CONFIG_SERVER,
	CONFIG_CLIENT,
	CONFIG_PEER,
};

/* Server: SessionInterface. */
enum config_session_interface {
	CONFIG_SESSION_IF_AUTO,          /* per-client up to CONFIG_SHARED_AUTO_CLIENTS clients */
	CONFIG_SESSION_IF_PER_CLIENT,    /* one TUN per session */
	CONFIG_SESSION_IF_SHARED,        /* one TUN for every session */
};

/* Server: SlotSockets. */
enum config_slot_sockets {
	CONFIG_SLOT_SOCKETS_AUTO,        /* shared with a shared session interface, scale or routed */
	CONFIG_SLOT_SOCKETS_PER_SESSION, /* one UDP socket per slot of each session */
	CONFIG_SLOT_SOCKETS_SHARED,      /* one transparent and one raw socket (scale mode) */
};

/* Server and client: RendezvousChannel, where configs are published and
 * looked for (docs/PROTOCOL.md sections 6 and 12). */
enum config_rdv_channel {
	CONFIG_RDV_BOTH = 0,             /* port stuffing and BEP 44 items (default) */
	CONFIG_RDV_PEERS,                /* port stuffing only */
	CONFIG_RDV_ITEMS,                /* BEP 44 mutable items only */
};

struct config_client {
	char name[CONFIG_NAME_LEN];
	uint32_t id;                          /* 1..CONFIG_CLIENT_ID_MAX */
	uint8_t public_key[CONFIG_KEY_LEN];
	int64_t added_s;                      /* UNIX time, 0 = not recorded */
	int64_t expires_s;                    /* UNIX time, 0 = never */
	unsigned line;                        /* where its section starts */
};

struct config {
	enum config_role role;
	char source[CONFIG_PATH_LEN];         /* file name for messages */

	/* This host. */
	char interface[CONFIG_IFNAME_LEN];    /* physical interface with the /64 */
	char private_key_file[CONFIG_PATH_LEN];
	unsigned private_key_file_line;
	char state_dir[CONFIG_PATH_LEN];
	uint32_t rotation_ms;                 /* Rot (server and peer; clients learn it) */
	uint32_t config_period_s;             /* n: window of the DHT descriptor */
	uint16_t dht_port;                    /* UDP port of our DHT node; 0: random per window */
	uint32_t padding;                     /* bucket of the tunnels' padding, bytes; 0: off */
	bool offloads_off;                    /* Offloads = off: TUNs without virtio-net header */
	bool is_cipher_aes;                   /* Cipher = aes-256-gcm: the tunnels seal with it */
	size_t dht_bootstrap_len;
	char dht_bootstrap[CONFIG_MAX_BOOTSTRAP][CONFIG_HOSTPORT_LEN];

	/* Server: the registered clients, in file order. */
	struct config_client *clients;
	size_t clients_len;

	/* Client: its id at the server, and the server's public key. */
	uint32_t client_id;
	uint8_t server_public_key[CONFIG_KEY_LEN];

	/* Peer, [Host]: the tunnel interface and this host's seed. Either
	 * SeedAddress (prefix and IID) or SeedIID (the prefix is then the global
	 * /64 of Interface, found at start). */
	char tunnel_name[CONFIG_IFNAME_LEN];  /* TUN name, may hold one "%d" */
	uint8_t tunnel_address[CONFIG_ADDR_LEN];
	uint8_t tunnel_prefix_len;            /* 1..128, 128 when not given */
	unsigned tunnel_queues;               /* Queues: TUN queues, 1..CONFIG_MAX_QUEUES; 0: auto */
	/* Server: TunnelPrefix (tunnel_address/tunnel_prefix_len, at most /64)
	 * from which session tunnel addresses are numbered; when absent, a ULA
	 * derived from the server's public key. Server and client: TunnelName. */
	bool has_tunnel_prefix;
	/* Server: AddressMode. Scale claims the /64 of Interface with one local
	 * route and answers neighbour discovery itself (docs/PERFORMANCE.md).
	 * Routed (is_scale_mode too: the same claim, the same sockets) claims
	 * Prefix, a /64 the upstream router routes to this server, and answers
	 * no neighbour discovery at all (docs/running.md). */
	bool is_scale_mode;
	bool is_routed_mode;
	bool has_prefix;
	uint8_t prefix[CONFIG_ADDR_LEN];      /* Prefix, IID zero; only with routed */
	uint8_t seed_address[CONFIG_ADDR_LEN]; /* prefix all zero when !has_seed_prefix */
	bool has_seed_prefix;
	/* Peer, [Peer]: the other end. Keys: PrivateKeyFile ([Host]) with the
	 * peer's PublicKey, or a PresharedKeyFile, or both (mixed). */
	bool has_peer_public_key;
	uint8_t peer_public_key[CONFIG_KEY_LEN];
	char preshared_key_file[CONFIG_PATH_LEN];
	unsigned preshared_key_file_line;
	uint8_t peer_seed_address[CONFIG_ADDR_LEN];
	uint8_t peer_tunnel_address[CONFIG_ADDR_LEN];
	/* Server: SessionInterface (docs/running.md, "Session interfaces"). */
	enum config_session_interface session_interface;
	/* Server: SlotSockets (docs/running.md, "Session interfaces"). */
	enum config_slot_sockets slot_sockets;
	enum config_rdv_channel rdv_channel;
	/* Server: DHTNodes, the DHT identities run side by side; 0: auto
	 * (config_dht_nodes). */
	uint32_t dht_nodes;
};

#define CONFIG_DEFAULT_TUNNEL_NAME "mt6d%d"
/* The server's one session interface in SessionInterface = shared. */
#define CONFIG_SHARED_TUNNEL_NAME "mt6ds%d"
/* SessionInterface = auto: one TUN per client up to this many registered
 * clients, one shared TUN above (a TUN device costs the kernel memory and
 * every `ip link` and netlink dump a line: docs/running.md). */
#define CONFIG_SHARED_AUTO_CLIENTS 1000

/* DHTNodes: at most this many identities side by side, each a random
 * address of the /64 (docs/PROTOCOL.md 6.5). auto: three per registered
 * client (one per chunk of a config) up to CONFIG_AUTO_DHT_NODES_MAX. In an
 * 8-node swarm every node stores every chunk, and one identity puts a
 * chunk's 21 announces into each of them in 7 s (one message per 333 ms
 * per destination): a client's three chunks from three identities are out
 * in 7 s, the three from one in 21 s, which left no margin under a fresh
 * server's 30 s target. The auto cap: every identity adds 3 messages a
 * second to each node of such a swarm, and 12 put 7,913-9,824 B into one
 * node in its busiest second (bench/rendezvous.sh, 12 clients), over the
 * 8,000 B/s libtorrent allows itself for all its askers; 8 put two thirds
 * of that. */
#define CONFIG_MAX_DHT_NODES 32u
#define CONFIG_AUTO_DHT_NODES_MAX 8u
#define CONFIG_AUTO_DHT_NODES_PER_CLIENT 3u

/* The server's DHT identities: DHTNodes, auto resolved against the
 * registered clients of cfg (at least 1). */
uint32_t config_dht_nodes(const struct config *cfg);

/* Whether the server's sessions share the slot sockets (mt6d/engine/
 * slotmux.h): SlotSockets, auto resolved; only in AddressMode = scale or
 * routed (is_scale_mode), where the /64 is local (per-address mode:
 * per-session sockets). */
bool config_is_slot_sockets_shared(const struct config *cfg);

/* Whether the server's sessions share one TUN: SessionInterface, auto
 * resolved against the registered clients of cfg. */
bool config_is_session_interface_shared(const struct config *cfg);

/* Parses an INI text of the given role into *out (which the caller releases
 * with config_fini, on success only). source names the text in messages. On
 * error returns -EINVAL (or -ENOMEM) and writes one message into msg. */
int config_parse(enum config_role role, const char *text, size_t text_len,
		 const char *source, struct config *out, char *msg, size_t msg_len);

/* Reads a file (at most CONFIG_MAX_FILE_LEN bytes) and parses it. */
int config_load(enum config_role role, const char *path, struct config *out,
		char *msg, size_t msg_len);

void config_fini(struct config *cfg);

/* The value parsers shared by config files and command-line options. Each
 * returns 0 or -EINVAL and writes the reason (without the value) to msg. */
int config_parse_duration_ms(const char *value, uint64_t *ms_out, char *msg, size_t msg_len);
/* A decimal u64 at s (no sign, no overflow); *end_out after its digits. */
int config_parse_u64(const char *s, const char **end_out, uint64_t *out);
int config_parse_port(const char *value, uint16_t *port_out, char *msg, size_t msg_len);
/* "off" (0) or a bucket of CONFIG_MIN_PADDING..CONFIG_MAX_PADDING bytes. */
int config_parse_padding(const char *value, uint32_t *bytes_out, char *msg, size_t msg_len);
int config_parse_key(const char *value, uint8_t key_out[static CONFIG_KEY_LEN],
		     char *msg, size_t msg_len);
int config_parse_hostport(const char *value, char *msg, size_t msg_len);
int config_parse_date(const char *value, int64_t *unix_s_out, char *msg, size_t msg_len);
/* An IPv6 address with an optional "/prefix" (prefix_out may be NULL, which
 * refuses a prefix; without one *prefix_out is 128). */
int config_parse_address(const char *value, uint8_t addr_out[static CONFIG_ADDR_LEN],
			 uint8_t *prefix_out, char *msg, size_t msg_len);

/* Looks up a registered client by id or by public key (constant-time
 * comparison of keys). NULL when absent. */
const struct config_client *config_client_by_id(const struct config *cfg, uint32_t id);
const struct config_client *config_client_by_key(const struct config *cfg,
						 const uint8_t key[static CONFIG_KEY_LEN]);

/* Loads the private key that PrivateKeyFile names (a relative path is taken
 * from the config file's directory), with the checks of
 * keys_load_private_file, and checks it against the rest of the file: a
 * server's own public key may not be registered as a client's. Errors name
 * the file and line of PrivateKeyFile: "server.conf:4: PrivateKeyFile:
 * /etc/mt6d/server.key: private key file is accessible by ...". */
int config_load_private_key(const struct config *cfg, uint8_t priv_out[static CONFIG_KEY_LEN],
			    char *msg, size_t msg_len);

#endif
