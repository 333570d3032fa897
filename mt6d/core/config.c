#include "mt6d/core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mt6d/core/keys.h"
#include "mt6d/core/util.h"

/* The public Mainline DHT routers, used when a file names none. Tests and the
 * lab always pass their own. */
static const char *const default_bootstrap[] = {
	"router.bittorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"router.utorrent.com:6881",
};

enum section {
	SECTION_NONE,
	SECTION_SELF,   /* [Server] / [Client] / [Host] in a server / client / peer file */
	SECTION_PEER,   /* [Client] / [Server] / [Peer] */
	SECTION_UNKNOWN,
};

/* Keys seen in the current section, to refuse a key given twice. */
enum seen_bit {
	SEEN_INTERFACE = 1u << 0,
	SEEN_PRIVATE_KEY_FILE = 1u << 1,
	SEEN_ROTATION = 1u << 2,
	SEEN_CONFIG_PERIOD = 1u << 3,
	SEEN_DHT_PORT = 1u << 4,
	SEEN_DHT_BOOTSTRAP = 1u << 5,
	SEEN_STATE_DIR = 1u << 6,
	SEEN_NAME = 1u << 7,
	SEEN_PUBLIC_KEY = 1u << 8,
	SEEN_ID = 1u << 9,
	SEEN_ADDED = 1u << 10,
	SEEN_EXPIRES = 1u << 11,
	SEEN_CLIENT_ID = 1u << 12,
	SEEN_TUNNEL_NAME = 1u << 13,
	SEEN_TUNNEL_ADDRESS = 1u << 14,
	SEEN_SEED_ADDRESS = 1u << 15,
	SEEN_SEED_IID = 1u << 16,
	SEEN_PRESHARED_KEY_FILE = 1u << 17,
	SEEN_ADDRESS_MODE = 1u << 18,
	SEEN_PADDING = 1u << 19,
	SEEN_PREFIX = 1u << 20,
	SEEN_CIPHER = 1u << 21,
	SEEN_QUEUES = 1u << 22,
	SEEN_DHT_NODES = 1u << 26,
	SEEN_SESSION_INTERFACE = 1u << 27, /* apart from the bits other keys take next */
	SEEN_SLOT_SOCKETS = 1u << 28,
	SEEN_OFFLOADS = 1u << 29,
	SEEN_RDV_CHANNEL = 1u << 30,
};

static const char *self_section_name(enum config_role role)
{
	return role == CONFIG_SERVER ? "Server" : role == CONFIG_CLIENT ? "Client" : "Host";
}

static const char *peer_section_name(enum config_role role)
{
	return role == CONFIG_SERVER ? "Client" : role == CONFIG_CLIENT ? "Server" : "Peer";
}

static const char *role_name(enum config_role role)
{
	return role == CONFIG_SERVER ? "server" : role == CONFIG_CLIENT ? "client" : "peer";
}

/* The push-style parse context: config_read_line feeds lines to libinih,
 * counting them and opening sections; libinih calls config_entry per key. */
struct config_ctx {
	struct config *cfg;
	const char *text;
	size_t text_len;
	size_t pos;
	unsigned line;           /* line being parsed, 1-based */
	enum section section;
	unsigned seen;           /* enum seen_bit, for the current section */
	unsigned self_sections;
	unsigned peer_sections;
	size_t clients_cap;
	unsigned expires_line;   /* of the current [Client] section's Expires */
	int rc;                  /* first error, 0 if none */
	char *msg;
	size_t msg_len;
};

static void ctx_fail(struct config_ctx *ctx, const char *key, const char *value,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void ctx_fail(struct config_ctx *ctx, const char *key, const char *value,
		     const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	if (ctx->rc)
		return;
	ctx->rc = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (key && value)
		snprintf(ctx->msg, ctx->msg_len, "%s:%u: %s: %s: '%s'", ctx->cfg->source,
			 ctx->line, key, reason, value);
	else if (key)
		snprintf(ctx->msg, ctx->msg_len, "%s:%u: %s: %s", ctx->cfg->source, ctx->line,
			 key, reason);
	else
		snprintf(ctx->msg, ctx->msg_len, "%s:%u: %s", ctx->cfg->source, ctx->line,
			 reason);
}

/* A unicast address a host can own: not ::, not loopback, not multicast,
 * not link-local (MT6D addresses are global: they cross a router). */
static bool is_host_address(const uint8_t *a, bool is_global)
{
	static const uint8_t loopback[CONFIG_ADDR_LEN] = { [15] = 1 };

	if (sodium_is_zero(a, CONFIG_ADDR_LEN) || !memcmp(a, loopback, CONFIG_ADDR_LEN) ||
	    a[0] == 0xff)
		return false;
	return !is_global || !(a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

static bool is_client_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len >= CONFIG_NAME_LEN)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* ---- entries ---- */

static bool take_key(struct config_ctx *ctx, unsigned bit, const char *key, const char *value)
{
	if (ctx->seen & bit) {
		ctx_fail(ctx, key, value, "given twice in this section");
		return false;
	}
	ctx->seen |= bit;
	return true;
}

static void copy_string(struct config_ctx *ctx, char *dst, size_t dst_len, const char *key,
			const char *value)
{
	if (value[0] == '\0') {
		ctx_fail(ctx, key, value, "must not be empty");
		return;
	}
	if (strlen(value) >= dst_len) {
		ctx_fail(ctx, key, value, "longer than %zu characters", dst_len - 1);
		return;
	}
	memcpy(dst, value, strlen(value) + 1);
}

static void parse_period(struct config_ctx *ctx, const char *key, const char *value,
			 uint64_t min_ms, uint64_t max_ms, uint64_t *ms_out)
{
	char why[128];

	if (config_parse_duration_ms(value, ms_out, why, sizeof(why)) < 0) {
		ctx_fail(ctx, key, value, "%s", why);
		return;
	}
	if (*ms_out < min_ms || *ms_out > max_ms)
		ctx_fail(ctx, key, value, "must be between %llums and %llus",
			 (unsigned long long)min_ms, (unsigned long long)(max_ms / 1000));
}

static void parse_bootstrap_list(struct config_ctx *ctx, const char *key, const char *value)
{
	struct config *cfg = ctx->cfg;
	char item[CONFIG_HOSTPORT_LEN + 1], why[128];
	const char *p = value;

	cfg->dht_bootstrap_len = 0;
	while (*p) {
		size_t len;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		len = strcspn(p, ", \t");
		if (len >= sizeof(item)) {
			ctx_fail(ctx, key, value, "entry too long");
			return;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		p += len;
		if (config_parse_hostport(item, why, sizeof(why)) < 0) {
			ctx_fail(ctx, key, item, "%s", why);
			return;
		}
		if (cfg->dht_bootstrap_len == CONFIG_MAX_BOOTSTRAP) {
			ctx_fail(ctx, key, value, "more than %d bootstrap nodes", CONFIG_MAX_BOOTSTRAP);
			return;
		}
		memcpy(cfg->dht_bootstrap[cfg->dht_bootstrap_len++], item, len + 1);
	}
	if (cfg->dht_bootstrap_len == 0)
		ctx_fail(ctx, key, value, "no bootstrap node given");
}

static void parse_client_id(struct config_ctx *ctx, const char *key, const char *value,
			    uint32_t *id_out)
{
	const char *end;
	uint64_t id;

	if (config_parse_u64(value, &end, &id) < 0 || *end || id == 0 || id > CONFIG_CLIENT_ID_MAX)
		ctx_fail(ctx, key, value, "must be a number from 1 to %u", CONFIG_CLIENT_ID_MAX);
	else
		*id_out = (uint32_t)id;
}

static void parse_seed_address(struct config_ctx *ctx, const char *key, const char *value,
			       uint8_t addr_out[static CONFIG_ADDR_LEN])
{
	char why[128];

	if (config_parse_address(value, addr_out, NULL, why, sizeof(why)) < 0)
		ctx_fail(ctx, key, value, "%s", why);
	else if (!is_host_address(addr_out, true) || sodium_is_zero(addr_out, 8))
		ctx_fail(ctx, key, value, "must be a global unicast address (its /64 prefix and seed IID)");
	else if (sodium_is_zero(addr_out + 8, 8))
		ctx_fail(ctx, key, value, "the seed IID (last 64 bits) must not be zero");
}

static void parse_tunnel_address(struct config_ctx *ctx, const char *key, const char *value,
				 uint8_t addr_out[static CONFIG_ADDR_LEN], uint8_t *prefix_out)
{
	char why[128];

	if (config_parse_address(value, addr_out, prefix_out, why, sizeof(why)) < 0)
		ctx_fail(ctx, key, value, "%s", why);
	else if (!is_host_address(addr_out, false))
		ctx_fail(ctx, key, value, "must be a unicast address");
}

/* [Host] of a peer file: the keys that only the peer role has. */
static void host_entry(struct config_ctx *ctx, const char *key, const char *value)
{
	struct config *cfg = ctx->cfg;
	char why[128];

	if (!strcasecmp(key, "TunnelName")) {
		if (take_key(ctx, SEEN_TUNNEL_NAME, key, value)) {
			const char *pct = strchr(value, '%');

			copy_string(ctx, cfg->tunnel_name, sizeof(cfg->tunnel_name), key, value);
			if (!ctx->rc && (strchr(value, '/') || strchr(value, ' ') ||
					 (pct && (pct[1] != 'd' || strchr(pct + 1, '%')))))
				ctx_fail(ctx, key, value,
					 "must be an interface name (at most one '%%d', no '/' or space)");
		}
	} else if (!strcasecmp(key, "TunnelAddress")) {
		if (take_key(ctx, SEEN_TUNNEL_ADDRESS, key, value))
			parse_tunnel_address(ctx, key, value, cfg->tunnel_address,
					     &cfg->tunnel_prefix_len);
	} else if (!strcasecmp(key, "SeedAddress")) {
		if (take_key(ctx, SEEN_SEED_ADDRESS, key, value)) {
			if (ctx->seen & SEEN_SEED_IID)
				ctx_fail(ctx, key, value, "give SeedAddress or SeedIID, not both");
			parse_seed_address(ctx, key, value, cfg->seed_address);
			cfg->has_seed_prefix = true;
		}
	} else if (!strcasecmp(key, "SeedIID")) {
		if (take_key(ctx, SEEN_SEED_IID, key, value)) {
			if (ctx->seen & SEEN_SEED_ADDRESS)
				ctx_fail(ctx, key, value, "give SeedAddress or SeedIID, not both");
			else if (config_parse_address(value, cfg->seed_address, NULL, why,
						      sizeof(why)) < 0)
				ctx_fail(ctx, key, value, "%s (write the IID as ::a:b:c:d)", why);
			else if (!sodium_is_zero(cfg->seed_address, 8) ||
				 sodium_is_zero(cfg->seed_address + 8, 8))
				ctx_fail(ctx, key, value,
					 "must be a non-zero 64-bit IID written as ::a:b:c:d");
		}
	} else if (!strcasecmp(key, "Queues")) {
		if (take_key(ctx, SEEN_QUEUES, key, value)) {
			char *end;
			unsigned long n = strtoul(value, &end, 10);

			if (!strcasecmp(value, "auto"))
				cfg->tunnel_queues = 0;
			else if (end != value && !*end && value[0] != '-' && n >= 1 &&
				 n <= CONFIG_MAX_QUEUES)
				cfg->tunnel_queues = (unsigned)n;
			else
				ctx_fail(ctx, key, value, "must be auto or 1..%u", CONFIG_MAX_QUEUES);
		}
	} else {
		ctx_fail(ctx, key, value, "unknown option in [Host]");
	}
}

/* DHTNodes: auto (0) or 1..CONFIG_MAX_DHT_NODES. */
static void parse_dht_nodes(struct config_ctx *ctx, const char *key, const char *value)
{
	const char *end = NULL;
	uint64_t n = 0;

	if (!strcasecmp(value, "auto")) {
		ctx->cfg->dht_nodes = 0;
		return;
	}
	if (config_parse_u64(value, &end, &n) < 0 || *end || n < 1 || n > CONFIG_MAX_DHT_NODES)
		ctx_fail(ctx, key, value, "must be auto or a number of DHT nodes from 1 to %u",
			 CONFIG_MAX_DHT_NODES);
	else
		ctx->cfg->dht_nodes = (uint32_t)n;
}

static void self_entry(struct config_ctx *ctx, const char *key, const char *value)
{
	struct config *cfg = ctx->cfg;
	char why[128];
	uint64_t ms = 0;          /* parse_period leaves it alone on errors */

	if (!strcasecmp(key, "Interface")) {
		if (take_key(ctx, SEEN_INTERFACE, key, value))
			copy_string(ctx, cfg->interface, sizeof(cfg->interface), key, value);
	} else if (!strcasecmp(key, "PrivateKeyFile")) {
		if (take_key(ctx, SEEN_PRIVATE_KEY_FILE, key, value)) {
			copy_string(ctx, cfg->private_key_file, sizeof(cfg->private_key_file), key,
				    value);
			cfg->private_key_file_line = ctx->line;
		}
	} else if (!strcasecmp(key, "StateDirectory")) {
		if (take_key(ctx, SEEN_STATE_DIR, key, value))
			copy_string(ctx, cfg->state_dir, sizeof(cfg->state_dir), key, value);
	} else if (!strcasecmp(key, "Padding")) {
		if (take_key(ctx, SEEN_PADDING, key, value) &&
		    config_parse_padding(value, &cfg->padding, why, sizeof(why)) < 0)
			ctx_fail(ctx, key, value, "%s", why);
	} else if (!strcasecmp(key, "Cipher")) {
		if (take_key(ctx, SEEN_CIPHER, key, value)) {
			if (!strcasecmp(value, "chacha20-poly1305"))
				cfg->is_cipher_aes = false;
			else if (!strcasecmp(value, "aes-256-gcm"))
				cfg->is_cipher_aes = true;
			else
				ctx_fail(ctx, key, value, "must be chacha20-poly1305 or aes-256-gcm");
		}
	} else if (!strcasecmp(key, "Offloads")) {
		if (take_key(ctx, SEEN_OFFLOADS, key, value)) {
			if (!strcasecmp(value, "on"))
				cfg->offloads_off = false;
			else if (!strcasecmp(value, "off"))
				cfg->offloads_off = true;
			else
				ctx_fail(ctx, key, value, "must be on or off");
		}
	} else if (!strcasecmp(key, "RotationPeriod") && cfg->role != CONFIG_CLIENT) {
		if (take_key(ctx, SEEN_ROTATION, key, value)) {
			parse_period(ctx, key, value, CONFIG_MIN_ROTATION_MS, CONFIG_MAX_ROTATION_MS,
				     &ms);
			cfg->rotation_ms = (uint32_t)ms;
		}
	} else if (cfg->role == CONFIG_PEER) {
		host_entry(ctx, key, value);
	} else if (!strcasecmp(key, "ConfigPeriod")) {
		if (take_key(ctx, SEEN_CONFIG_PERIOD, key, value)) {
			parse_period(ctx, key, value, CONFIG_MIN_CONFIG_PERIOD_S * 1000ull,
				     CONFIG_MAX_CONFIG_PERIOD_S * 1000ull, &ms);
			if (!ctx->rc && ms % 1000)
				ctx_fail(ctx, key, value, "must be a whole number of seconds");
			cfg->config_period_s = (uint32_t)(ms / 1000);
		}
	} else if (!strcasecmp(key, "DHTPort")) {
		/* 0 (the default): a random port per window; a fixed port links
		 * the windows' DHT identities (mt6d.conf(5)). */
		if (take_key(ctx, SEEN_DHT_PORT, key, value)) {
			if (!strcmp(value, "0"))
				cfg->dht_port = 0;
			else if (config_parse_port(value, &cfg->dht_port, why, sizeof(why)) < 0)
				ctx_fail(ctx, key, value, "%s", why);
		}
	} else if (!strcasecmp(key, "DHTBootstrap")) {
		if (take_key(ctx, SEEN_DHT_BOOTSTRAP, key, value))
			parse_bootstrap_list(ctx, key, value);
	} else if (!strcasecmp(key, "RendezvousChannel")) {
		if (take_key(ctx, SEEN_RDV_CHANNEL, key, value)) {
			if (!strcasecmp(value, "both"))
				cfg->rdv_channel = CONFIG_RDV_BOTH;
			else if (!strcasecmp(value, "peers"))
				cfg->rdv_channel = CONFIG_RDV_PEERS;
			else if (!strcasecmp(value, "items"))
				cfg->rdv_channel = CONFIG_RDV_ITEMS;
			else
				ctx_fail(ctx, key, value, "must be both, peers or items");
		}
	} else if (!strcasecmp(key, "TunnelName")) {
		host_entry(ctx, key, value);
	} else if (!strcasecmp(key, "TunnelPrefix") && cfg->role == CONFIG_SERVER) {
		if (take_key(ctx, SEEN_TUNNEL_ADDRESS, key, value)) {
			parse_tunnel_address(ctx, key, value, cfg->tunnel_address,
					     &cfg->tunnel_prefix_len);
			/* The session plan (docs/PROTOCOL.md section 11) puts
			 * the client id in the last 64 bits. */
			if (!ctx->rc && cfg->tunnel_prefix_len > 64)
				ctx_fail(ctx, key, value, "must be a prefix of length 64 or less");
			cfg->has_tunnel_prefix = true;
		}
	} else if (!strcasecmp(key, "AddressMode") && cfg->role == CONFIG_SERVER) {
		if (take_key(ctx, SEEN_ADDRESS_MODE, key, value)) {
			cfg->is_routed_mode = !strcasecmp(value, "routed");
			if (!strcasecmp(value, "scale") || cfg->is_routed_mode)
				cfg->is_scale_mode = true;
			else if (strcasecmp(value, "per-address"))
				ctx_fail(ctx, key, value, "must be per-address, scale or routed");
		}
	} else if (!strcasecmp(key, "Prefix") && cfg->role == CONFIG_SERVER) {
		if (take_key(ctx, SEEN_PREFIX, key, value)) {
			uint8_t len = 0;

			parse_tunnel_address(ctx, key, value, cfg->prefix, &len);
			if (!ctx->rc && (len != 64 || !sodium_is_zero(cfg->prefix + 8, 8)))
				ctx_fail(ctx, key, value, "must be a /64 prefix (such as 2001:db8:0:f1::/64)");
			cfg->has_prefix = true;
		}
	} else if (!strcasecmp(key, "ClientId") && cfg->role == CONFIG_CLIENT) {
		if (take_key(ctx, SEEN_CLIENT_ID, key, value))
			parse_client_id(ctx, key, value, &cfg->client_id);
	} else if (!strcasecmp(key, "SessionInterface") && cfg->role == CONFIG_SERVER) {
		if (take_key(ctx, SEEN_SESSION_INTERFACE, key, value)) {
			if (!strcasecmp(value, "per-client"))
				cfg->session_interface = CONFIG_SESSION_IF_PER_CLIENT;
			else if (!strcasecmp(value, "shared"))
				cfg->session_interface = CONFIG_SESSION_IF_SHARED;
			else if (!strcasecmp(value, "auto"))
				cfg->session_interface = CONFIG_SESSION_IF_AUTO;
			else
				ctx_fail(ctx, key, value, "must be per-client, shared or auto");
		}
	} else if (!strcasecmp(key, "DHTNodes") && cfg->role == CONFIG_SERVER) {
		if (take_key(ctx, SEEN_DHT_NODES, key, value))
			parse_dht_nodes(ctx, key, value);
	} else if (!strcasecmp(key, "SlotSockets") && cfg->role == CONFIG_SERVER) {
		if (take_key(ctx, SEEN_SLOT_SOCKETS, key, value)) {
			if (!strcasecmp(value, "per-session"))
				cfg->slot_sockets = CONFIG_SLOT_SOCKETS_PER_SESSION;
			else if (!strcasecmp(value, "shared"))
				cfg->slot_sockets = CONFIG_SLOT_SOCKETS_SHARED;
			else if (!strcasecmp(value, "auto"))
				cfg->slot_sockets = CONFIG_SLOT_SOCKETS_AUTO;
			else
				ctx_fail(ctx, key, value, "must be per-session, shared or auto");
		}
	} else {
		ctx_fail(ctx, key, value, "unknown option in [%s]", self_section_name(cfg->role));
	}
}

static struct config_client *new_client(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	struct config_client *c;

	if (cfg->clients_len == CONFIG_MAX_CLIENTS) {
		ctx_fail(ctx, NULL, NULL, "more than %d [Client] sections", CONFIG_MAX_CLIENTS);
		return NULL;
	}
	if (cfg->clients_len == ctx->clients_cap) {
		size_t cap = ctx->clients_cap ? ctx->clients_cap * 2 : 16;
		struct config_client *grown = realloc(cfg->clients, cap * sizeof(*grown));

		if (!grown) {
			if (!ctx->rc) {
				ctx->rc = -ENOMEM;
				snprintf(ctx->msg, ctx->msg_len, "%s: out of memory", cfg->source);
			}
			return NULL;
		}
		cfg->clients = grown;
		ctx->clients_cap = cap;
	}
	c = &cfg->clients[cfg->clients_len++];
	memset(c, 0, sizeof(*c));
	c->line = ctx->line;
	return c;
}

static void peer_entry(struct config_ctx *ctx, const char *key, const char *value)
{
	struct config *cfg = ctx->cfg;
	struct config_client *c;
	char why[160];

	if (cfg->role == CONFIG_PEER) {
		if (!strcasecmp(key, "PublicKey")) {
			if (take_key(ctx, SEEN_PUBLIC_KEY, key, value)) {
				if (config_parse_key(value, cfg->peer_public_key, why, sizeof(why)) < 0)
					ctx_fail(ctx, key, value, "%s", why);
				cfg->has_peer_public_key = true;
			}
		} else if (!strcasecmp(key, "PresharedKeyFile")) {
			if (take_key(ctx, SEEN_PRESHARED_KEY_FILE, key, value)) {
				copy_string(ctx, cfg->preshared_key_file,
					    sizeof(cfg->preshared_key_file), key, value);
				cfg->preshared_key_file_line = ctx->line;
			}
		} else if (!strcasecmp(key, "SeedAddress")) {
			if (take_key(ctx, SEEN_SEED_ADDRESS, key, value))
				parse_seed_address(ctx, key, value, cfg->peer_seed_address);
		} else if (!strcasecmp(key, "TunnelAddress")) {
			if (take_key(ctx, SEEN_TUNNEL_ADDRESS, key, value))
				parse_tunnel_address(ctx, key, value, cfg->peer_tunnel_address, NULL);
		} else {
			ctx_fail(ctx, key, value, "unknown option in [Peer]");
		}
		return;
	}
	if (cfg->role == CONFIG_CLIENT) {
		if (!strcasecmp(key, "PublicKey")) {
			if (take_key(ctx, SEEN_PUBLIC_KEY, key, value) &&
			    config_parse_key(value, cfg->server_public_key, why, sizeof(why)) < 0)
				ctx_fail(ctx, key, value, "%s", why);
		} else {
			ctx_fail(ctx, key, value, "unknown option in [Server]");
		}
		return;
	}

	c = &cfg->clients[cfg->clients_len - 1];
	if (!strcasecmp(key, "Name")) {
		if (take_key(ctx, SEEN_NAME, key, value)) {
			if (!is_client_name(value))
				ctx_fail(ctx, key, value,
					 "must be 1-32 characters of letters, digits, '.', '_', '-'");
			else
				memcpy(c->name, value, strlen(value) + 1);
		}
	} else if (!strcasecmp(key, "PublicKey")) {
		if (take_key(ctx, SEEN_PUBLIC_KEY, key, value) &&
		    config_parse_key(value, c->public_key, why, sizeof(why)) < 0)
			ctx_fail(ctx, key, value, "%s", why);
	} else if (!strcasecmp(key, "Id")) {
		if (take_key(ctx, SEEN_ID, key, value))
			parse_client_id(ctx, key, value, &c->id);
	} else if (!strcasecmp(key, "Added")) {
		if (take_key(ctx, SEEN_ADDED, key, value) &&
		    config_parse_date(value, &c->added_s, why, sizeof(why)) < 0)
			ctx_fail(ctx, key, value, "%s", why);
	} else if (!strcasecmp(key, "Expires")) {
		ctx->expires_line = ctx->line;
		if (take_key(ctx, SEEN_EXPIRES, key, value) &&
		    config_parse_date(value, &c->expires_s, why, sizeof(why)) < 0)
			ctx_fail(ctx, key, value, "%s", why);
	} else {
		ctx_fail(ctx, key, value, "unknown option in [Client]");
	}
}

/* Checks what a finished [Client] section of a server file must hold. */
static void finish_client_section(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const struct config_client *c;
	unsigned saved_line = ctx->line;
	size_t i;

	if (ctx->rc || ctx->section != SECTION_PEER || cfg->role != CONFIG_SERVER)
		return;
	c = &cfg->clients[cfg->clients_len - 1];
	ctx->line = c->line;
	if (!(ctx->seen & SEEN_NAME))
		ctx_fail(ctx, "Name", NULL, "missing in this [Client] section");
	else if (!(ctx->seen & SEEN_PUBLIC_KEY))
		ctx_fail(ctx, "PublicKey", NULL, "missing in [Client] '%s'", c->name);
	else if (!(ctx->seen & SEEN_ID))
		ctx_fail(ctx, "Id", NULL, "missing in [Client] '%s'", c->name);
	for (i = 0; !ctx->rc && i + 1 < cfg->clients_len; i++) {
		const struct config_client *o = &cfg->clients[i];

		if (o->id == c->id)
			ctx_fail(ctx, "Id", NULL, "%u is also the id of '%s' (line %u)", c->id,
				 o->name, o->line);
		else if (sodium_memcmp(o->public_key, c->public_key, CONFIG_KEY_LEN) == 0)
			ctx_fail(ctx, "PublicKey", NULL, "'%s' has the same key as '%s' (line %u)",
				 c->name, o->name, o->line);
		else if (!strcmp(o->name, c->name))
			ctx_fail(ctx, "Name", NULL, "'%s' is also the name of the client at line %u",
				 c->name, o->line);
	}
	if (!ctx->rc && c->expires_s && c->added_s && c->expires_s <= c->added_s) {
		ctx->line = ctx->expires_line;
		ctx_fail(ctx, "Expires", NULL, "is not after Added in [Client] '%s'", c->name);
	}
	ctx->line = saved_line;
}

static void begin_section(struct config_ctx *ctx, const char *section)
{
	struct config *cfg = ctx->cfg;
	const char *self = self_section_name(cfg->role);
	const char *peer = peer_section_name(cfg->role);

	finish_client_section(ctx);
	ctx->seen = 0;
	if (!strcasecmp(section, self)) {
		ctx->section = SECTION_SELF;
		if (++ctx->self_sections > 1)
			ctx_fail(ctx, NULL, NULL, "[%s] given twice", self);
	} else if (!strcasecmp(section, peer)) {
		ctx->section = SECTION_PEER;
		ctx->peer_sections++;
		if (cfg->role != CONFIG_SERVER && ctx->peer_sections > 1)
			ctx_fail(ctx, NULL, NULL, "[%s] given twice", peer);
		if (cfg->role == CONFIG_SERVER)
			new_client(ctx);
	} else {
		ctx->section = SECTION_UNKNOWN;
		ctx_fail(ctx, NULL, NULL, "unknown section [%s] (a %s file has [%s] and [%s])",
			 section, role_name(cfg->role), self, peer);
	}
}

/* libinih's handler: one call per "Key = Value". */
static int config_entry(void *user, const char *section, const char *key, const char *value)
{
	struct config_ctx *ctx = user;

	(void)section; /* tracked by config_read_line, which also sees repeats */
	if (ctx->rc)
		return 1;
	switch (ctx->section) {
	case SECTION_NONE:
		ctx_fail(ctx, key, value, "option outside of any section");
		break;
	case SECTION_SELF:
		self_entry(ctx, key, value);
		break;
	case SECTION_PEER:
		peer_entry(ctx, key, value);
		break;
	case SECTION_UNKNOWN:
		break;
	}
	return 1;
}

/* libinih's reader: hands out one line at a time from memory, counting lines
 * and opening sections here, because libinih tells its handler neither the
 * line nor that a section of the same name starts again (repeated [Client]),
 * and never calls it for a section without keys. */
static char *config_read_line(char *str, int num, void *stream)
{
	struct config_ctx *ctx = stream;
	size_t n = 0, max = (size_t)num - 1, i;

	if (ctx->pos >= ctx->text_len)
		return NULL;
	while (ctx->pos < ctx->text_len && n < max) {
		char c = ctx->text[ctx->pos++];
		if (c == '\0')
			c = ' '; /* keep embedded NULs from cutting a line short */
		str[n++] = c;
		if (c == '\n')
			break;
	}
	str[n] = '\0';
	ctx->line++;
	if (n == max && str[n - 1] != '\n' && ctx->pos < ctx->text_len) {
		if (!ctx->rc)
			ctx_fail(ctx, NULL, NULL, "line longer than %zu characters", max - 1);
		while (ctx->pos < ctx->text_len && ctx->text[ctx->pos++] != '\n')
			;
		str[0] = '\0';
		return str;
	}
	for (i = 0; i < n && isspace((unsigned char)str[i]); i++)
		;
	if (str[i] == '[') {
		const char *close = strchr(str + i, ']');
		char name[64];
		size_t len;

		if (!close) {
			ctx_fail(ctx, NULL, NULL, "syntax error (section header without ']')");
		} else {
			const char *start = str + i + 1;

			while (start < close && isspace((unsigned char)*start))
				start++;
			len = (size_t)(close - start);
			while (len && isspace((unsigned char)start[len - 1]))
				len--;
			if (len >= sizeof(name))
				len = sizeof(name) - 1;
			memcpy(name, start, len);
			name[len] = '\0';
			begin_section(ctx, name);
		}
	}
	return str;
}

static void set_defaults(struct config *cfg, enum config_role role, const char *source)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->role = role;
	snprintf(cfg->source, sizeof(cfg->source), "%s", source);
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", CONFIG_DEFAULT_STATE_DIR);
	cfg->rotation_ms = CONFIG_DEFAULT_ROTATION_MS;
	cfg->config_period_s = CONFIG_DEFAULT_CONFIG_PERIOD_S;
	cfg->dht_port = CONFIG_DEFAULT_DHT_PORT;
	cfg->padding = CONFIG_DEFAULT_PADDING;
	for (i = 0; i < sizeof(default_bootstrap) / sizeof(default_bootstrap[0]); i++)
		snprintf(cfg->dht_bootstrap[i], CONFIG_HOSTPORT_LEN, "%s", default_bootstrap[i]);
	cfg->dht_bootstrap_len = i;
	snprintf(cfg->tunnel_name, sizeof(cfg->tunnel_name), "%s", CONFIG_DEFAULT_TUNNEL_NAME);
	cfg->tunnel_prefix_len = 128;
}

/* What a peer file must hold; errors point at the end of the file. */
static void check_peer_complete(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;

	if (!ctx->self_sections)
		ctx_fail(ctx, NULL, NULL, "no [Host] section");
	else if (!cfg->interface[0])
		ctx_fail(ctx, "Interface", NULL, "missing in [Host]");
	else if (sodium_is_zero(cfg->tunnel_address, CONFIG_ADDR_LEN))
		ctx_fail(ctx, "TunnelAddress", NULL, "missing in [Host]");
	else if (sodium_is_zero(cfg->seed_address, CONFIG_ADDR_LEN))
		ctx_fail(ctx, "SeedAddress", NULL, "missing in [Host] (or give SeedIID)");
	else if (!ctx->peer_sections)
		ctx_fail(ctx, NULL, NULL, "no [Peer] section");
	else if (sodium_is_zero(cfg->peer_seed_address, CONFIG_ADDR_LEN))
		ctx_fail(ctx, "SeedAddress", NULL, "missing in [Peer]");
	else if (sodium_is_zero(cfg->peer_tunnel_address, CONFIG_ADDR_LEN))
		ctx_fail(ctx, "TunnelAddress", NULL, "missing in [Peer]");
	else if (cfg->private_key_file[0] && !cfg->has_peer_public_key)
		ctx_fail(ctx, "PublicKey", NULL, "missing in [Peer] (needed with PrivateKeyFile)");
	else if (!cfg->private_key_file[0] && cfg->has_peer_public_key)
		ctx_fail(ctx, "PrivateKeyFile", NULL, "missing in [Host] (needed with the peer's PublicKey)");
	else if (!cfg->private_key_file[0] && !cfg->preshared_key_file[0])
		ctx_fail(ctx, NULL, NULL,
			 "no key: give PrivateKeyFile in [Host] and PublicKey in [Peer], "
			 "or PresharedKeyFile in [Peer]");
	else if (!memcmp(cfg->tunnel_address, cfg->peer_tunnel_address, CONFIG_ADDR_LEN))
		ctx_fail(ctx, "TunnelAddress", NULL, "the two ends have the same tunnel address");
	else if (cfg->has_seed_prefix &&
		 !memcmp(cfg->seed_address, cfg->peer_seed_address, CONFIG_ADDR_LEN))
		ctx_fail(ctx, "SeedAddress", NULL, "the two ends have the same seed address");
}

/* Prefix and AddressMode = routed go together; the routed /64 may not
 * overlap TunnelPrefix (tunnel addresses would turn local). */
static void check_routed(struct config_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	unsigned tl = cfg->tunnel_prefix_len, i;
	bool overlaps = true;

	if (cfg->is_routed_mode && !cfg->has_prefix) {
		ctx_fail(ctx, "Prefix", NULL, "missing in [Server]: AddressMode = routed needs the "
			 "/64 that the router routes to this server");
		return;
	}
	if (!cfg->is_routed_mode && cfg->has_prefix) {
		ctx_fail(ctx, "Prefix", NULL, "only with AddressMode = routed");
		return;
	}
	if (!cfg->has_prefix || !cfg->has_tunnel_prefix)
		return;
	for (i = 0; i < tl && overlaps; i++)
		overlaps = !((cfg->prefix[i / 8] ^ cfg->tunnel_address[i / 8]) & (0x80u >> (i % 8)));
	if (overlaps)
		ctx_fail(ctx, "Prefix", NULL, "overlaps TunnelPrefix");
}

static void check_complete(struct config_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const char *self = self_section_name(cfg->role);

	finish_client_section(ctx);
	if (ctx->rc)
		return;
	if (cfg->role == CONFIG_PEER) {
		check_peer_complete(ctx);
		return;
	}
	/* Errors about what is missing point at the end of the file. */
	if (!ctx->self_sections)
		ctx_fail(ctx, NULL, NULL, "no [%s] section", self);
	else if (!cfg->interface[0])
		ctx_fail(ctx, "Interface", NULL, "missing in [%s]", self);
	else if (!cfg->private_key_file[0])
		ctx_fail(ctx, "PrivateKeyFile", NULL, "missing in [%s]", self);
	else if (cfg->role == CONFIG_CLIENT && !cfg->client_id)
		ctx_fail(ctx, "ClientId", NULL, "missing in [Client]");
	else if (cfg->role == CONFIG_CLIENT && !ctx->peer_sections)
		ctx_fail(ctx, NULL, NULL, "no [Server] section (with the server's PublicKey)");
	else if (cfg->role == CONFIG_CLIENT && sodium_is_zero(cfg->server_public_key,
							      CONFIG_KEY_LEN))
		ctx_fail(ctx, "PublicKey", NULL, "missing in [Server]");
	else if ((uint64_t)cfg->config_period_s * 1000 < 2ull * cfg->rotation_ms)
		ctx_fail(ctx, "ConfigPeriod", NULL, "must be at least two rotation periods");
	else if (cfg->role == CONFIG_SERVER)
		check_routed(ctx);
}

int config_parse(enum config_role role, const char *text, size_t text_len,
		 const char *source, struct config *out, char *msg, size_t msg_len)
{
	struct config cfg;
	struct config_ctx ctx;
	int rc;

	set_defaults(&cfg, role, source);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.text = text;
	ctx.text_len = text_len;
	ctx.msg = msg;
	ctx.msg_len = msg_len;

	rc = ini_parse_stream(config_read_line, &ctx, config_entry, &ctx);
	if (rc < 0 && !ctx.rc) {
		ctx.rc = -ENOMEM;
		snprintf(msg, msg_len, "%s: out of memory", cfg.source);
	} else if (rc > 0 && !ctx.rc) {
		/* libinih's own syntax errors: no '=' or an unclosed '['. */
		ctx.line = (unsigned)rc;
		ctx_fail(&ctx, NULL, NULL, "syntax error (expected [Section] or Key = Value)");
	}
	if (!ctx.rc) {
		ctx.line++;
		check_complete(&ctx);
	}
	if (ctx.rc) {
		config_fini(&cfg);
		return ctx.rc;
	}
	*out = cfg;
	return 0;
}

int config_load(enum config_role role, const char *path, struct config *out,
		char *msg, size_t msg_len)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		snprintf(msg, msg_len, "%s: not a regular file", path);
		goto cleanup;
	}
	if ((uint64_t)st.st_size > CONFIG_MAX_FILE_LEN) {
		rc = -EFBIG;
		snprintf(msg, msg_len, "%s: larger than %u bytes", path, CONFIG_MAX_FILE_LEN);
		goto cleanup;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		rc = -ENOMEM;
		snprintf(msg, msg_len, "%s: out of memory", path);
		goto cleanup;
	}
	while (len < (size_t)st.st_size &&
	       (n = read(fd, text + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
			goto cleanup;
		}
		len += (size_t)n;
	}
	rc = config_parse(role, text, len, path, out, msg, msg_len);
cleanup:
	free(text);
	close(fd);
	return rc;
}

void config_fini(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->clients);
	cfg->clients = NULL;
	cfg->clients_len = 0;
}

const struct config_client *config_client_by_id(const struct config *cfg, uint32_t id)
{
	size_t i;

	for (i = 0; i < cfg->clients_len; i++)
		if (cfg->clients[i].id == id)
			return &cfg->clients[i];
	return NULL;
}

const struct config_client *config_client_by_key(const struct config *cfg,
						 const uint8_t key[static CONFIG_KEY_LEN])
{
	size_t i;

	for (i = 0; i < cfg->clients_len; i++)
		if (sodium_memcmp(cfg->clients[i].public_key, key, CONFIG_KEY_LEN) == 0)
			return &cfg->clients[i];
	return NULL;
}

int config_load_private_key(const struct config *cfg, uint8_t priv_out[static CONFIG_KEY_LEN],
			    char *msg, size_t msg_len)
{
	char path[2 * CONFIG_PATH_LEN], why[200];
	uint8_t priv[CONFIG_KEY_LEN], pub[CONFIG_KEY_LEN];
	const struct config_client *clash;
	const char *slash = strrchr(cfg->source, '/');
	int rc;

	if (cfg->private_key_file[0] == '/' || !slash)
		snprintf(path, sizeof(path), "%s", cfg->private_key_file);
	else
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cfg->source), cfg->source,
			 cfg->private_key_file);
	rc = keys_load_private_file(path, priv, why, sizeof(why));
	if (rc < 0) {
		snprintf(msg, msg_len, "%s:%u: PrivateKeyFile: %s: %s", cfg->source,
			 cfg->private_key_file_line, path, why);
		return rc;
	}
	keys_public_from_private(pub, priv);
	clash = cfg->role == CONFIG_SERVER ? config_client_by_key(cfg, pub) : NULL;
	if (clash) {
		snprintf(msg, msg_len, "%s:%u: PublicKey: is this server's own public key (client %s)",
			 cfg->source, clash->line, clash->name);
		sodium_memzero(priv, sizeof(priv));
		return -EINVAL;
	}
	if (cfg->role == CONFIG_CLIENT &&
	    sodium_memcmp(pub, cfg->server_public_key, CONFIG_KEY_LEN) == 0) {
		snprintf(msg, msg_len, "%s:%u: PrivateKeyFile: %s: is the server's own key pair",
			 cfg->source, cfg->private_key_file_line, path);
		sodium_memzero(priv, sizeof(priv));
		return -EINVAL;
	}
	memcpy(priv_out, priv, CONFIG_KEY_LEN);
	sodium_memzero(priv, sizeof(priv));
	return 0;
}

uint32_t config_dht_nodes(const struct config *cfg)
{
	if (cfg->dht_nodes)
		return cfg->dht_nodes;
	if (cfg->clients_len == 0)
		return 1;
	if (cfg->clients_len >= CONFIG_AUTO_DHT_NODES_MAX)
		return CONFIG_AUTO_DHT_NODES_MAX;
	uint32_t k = (uint32_t)cfg->clients_len * CONFIG_AUTO_DHT_NODES_PER_CLIENT;
	return k < CONFIG_AUTO_DHT_NODES_MAX ? k : CONFIG_AUTO_DHT_NODES_MAX;
}

bool config_is_slot_sockets_shared(const struct config *cfg)
{
	if (!cfg->is_scale_mode)
		return false;
	switch (cfg->slot_sockets) {
	case CONFIG_SLOT_SOCKETS_PER_SESSION:
		return false;
	case CONFIG_SLOT_SOCKETS_SHARED:
		return true;
	case CONFIG_SLOT_SOCKETS_AUTO:
	default:
		return config_is_session_interface_shared(cfg);
	}
}

bool config_is_session_interface_shared(const struct config *cfg)
{
	switch (cfg->session_interface) {
	case CONFIG_SESSION_IF_PER_CLIENT:
		return false;
	case CONFIG_SESSION_IF_SHARED:
		return true;
	case CONFIG_SESSION_IF_AUTO:
	default:
		return cfg->clients_len > CONFIG_SHARED_AUTO_CLIENTS;
	}
}
