/* KRPC messages of BEP 5 with the IPv6 extensions of BEP 32, the "ip"
 * field of BEP 42, the "ro" flag of BEP 43 and the get/put of BEP 44
 * mutable items (internal to dht/).
 *
 * One fixed-size struct serves both directions: krpc_parse fills it from a
 * datagram, krpc_encode writes it. Everything an attacker can grow has a cap;
 * entries beyond a cap are counted in *_dropped, not stored. */
#ifndef DHT_KRPC_H
#define DHT_KRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KRPC_ID_LEN 20
#define KRPC_MAX_TID 16       /* bytes; real clients use 2-4 */
#define KRPC_MAX_TOKEN 32     /* bytes; libtorrent 4, jech 8 */
#define KRPC_MAX_NODES 16     /* per family per reply; BEP 5 sends k = 8 */
#define KRPC_MAX_VALUES 128   /* compact peers per reply we keep */
#define KRPC_MAX_ERRMSG 64
#define KRPC_MAX_VERSION 8
#define KRPC_NODE4_LEN 26     /* id(20) ipv4(4) port(2) */
#define KRPC_NODE6_LEN 38     /* id(20) ipv6(16) port(2) */
#define KRPC_ITEM_KEY_LEN 32
#define KRPC_ITEM_SIG_LEN 64
#define KRPC_ITEM_MAX_V 1000  /* bencoded value, BEP 44 */
#define KRPC_ITEM_MAX_SALT 64

/* BEP 5 error codes, then BEP 44's. */
#define KRPC_ERR_GENERIC 201
#define KRPC_ERR_SERVER 202
#define KRPC_ERR_PROTOCOL 203
#define KRPC_ERR_METHOD 204
#define KRPC_ERR_V_TOO_BIG 205
#define KRPC_ERR_BAD_SIG 206
#define KRPC_ERR_SALT_TOO_BIG 207
#define KRPC_ERR_CAS 301
#define KRPC_ERR_SEQ 302

enum krpc_type { KRPC_QUERY = 1, KRPC_RESPONSE, KRPC_ERROR };
enum krpc_method { KRPC_PING = 1, KRPC_FIND_NODE, KRPC_GET_PEERS,
		   KRPC_ANNOUNCE_PEER, KRPC_GET, KRPC_PUT, KRPC_UNKNOWN };

#define KRPC_WANT_N4 0x1u   /* BEP 32 want "n4" */
#define KRPC_WANT_N6 0x2u   /* BEP 32 want "n6" */

/* An IPv4 or IPv6 UDP endpoint; family is AF_INET or AF_INET6, an IPv4
 * address sits in ip[0..4). Zero the struct before filling it, so that
 * memcmp on whole structs compares endpoints. */
struct krpc_addr {
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;     /* host order */
};

struct krpc_node {
	uint8_t id[KRPC_ID_LEN];
	struct krpc_addr addr;
};

struct krpc_msg {
	uint8_t type;                  /* enum krpc_type */
	uint8_t method;                /* enum krpc_method; queries only */
	uint8_t tid[KRPC_MAX_TID];
	uint8_t tid_len;
	uint8_t version[KRPC_MAX_VERSION]; /* "v", optional */
	uint8_t version_len;
	bool has_ip;                   /* BEP 42 "ip": the receiver as seen by the sender */
	bool is_read_only;             /* BEP 43 "ro" = 1 in a query: do not add the sender */
	struct krpc_addr ip;
	bool has_id;
	uint8_t id[KRPC_ID_LEN];       /* sender's node id */
	/* Queries. */
	uint8_t target[KRPC_ID_LEN];   /* find_node target, get_peers/announce info_hash */
	uint16_t port;                 /* announce_peer */
	bool implied_port;             /* announce_peer: use the UDP source port */
	uint8_t want;                  /* KRPC_WANT_* bits; 0 when absent */
	/* Queries (announce) and responses (get_peers). */
	uint8_t token[KRPC_MAX_TOKEN];
	uint8_t token_len;
	/* Responses. */
	struct krpc_node nodes[KRPC_MAX_NODES];   /* "nodes", IPv4 */
	uint8_t n_nodes;
	struct krpc_node nodes6[KRPC_MAX_NODES];  /* "nodes6", IPv6 */
	uint8_t n_nodes6;
	struct krpc_addr values[KRPC_MAX_VALUES]; /* compact peers */
	uint16_t n_values;
	uint16_t n_dropped;            /* nodes/values over the caps or malformed */
	/* BEP 44: get queries ("target", optional "seq"), put queries (k, sig,
	 * seq, v, optional salt and cas) and get responses (k, sig, seq, v). */
	bool has_k, has_sig, has_seq, has_cas, has_v;
	bool is_v_too_big;             /* put: v over KRPC_ITEM_MAX_V (not kept) */
	bool is_salt_too_big;          /* put: salt over KRPC_ITEM_MAX_SALT */
	uint8_t k[KRPC_ITEM_KEY_LEN];
	uint8_t sig[KRPC_ITEM_SIG_LEN];
	int64_t seq, cas;
	uint8_t salt[KRPC_ITEM_MAX_SALT];
	uint8_t salt_len;
	uint16_t v_len;
	uint8_t v[KRPC_ITEM_MAX_V];    /* bencoded, exactly as received */
	/* Errors. */
	int error_code;
	char error_msg[KRPC_MAX_ERRMSG]; /* NUL-terminated, truncated */
};

/* Parses one datagram into *out. Returns 0; -EINVAL for anything that is not
 * a KRPC message (nothing to answer); -EPROTO for a query whose transaction
 * id is valid (out->tid filled) but whose arguments are missing or wrong,
 * which deserves error 203. */
int krpc_parse(const uint8_t *buf, size_t len, struct krpc_msg *out);

/* Encodes m into buf[0..cap). Returns the length or -ENOBUFS / -EINVAL. */
int krpc_encode(const struct krpc_msg *m, uint8_t *buf, size_t cap);

/* Compact forms: 6/18-byte peers and 26/38-byte nodes. Return bytes written
 * (or read), or 0 when the length does not match a family. */
size_t krpc_addr_put(uint8_t *out, const struct krpc_addr *a);
size_t krpc_addr_get(const uint8_t *in, size_t len, struct krpc_addr *out);

#endif
