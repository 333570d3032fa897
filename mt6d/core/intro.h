/* The pure part of the client/server introduction and sessions
 * (docs/PROTOCOL.md section 11): the introduction slot key, the map
 * from a client's introduction IID of one slot to the client, the inner IPv6
 * packets that carry session messages (next header 253), the order in which
 * the server validates a request, and the plan of session tunnel addresses.
 *
 * No clock reads, no sockets, no libev: mt6d/engine/server.c and mt6d/engine/client.c wire
 * it to the kernel. */
#ifndef MT6D_INTRO_H
#define MT6D_INTRO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "mt6d/core/msg.h"

#define INTRO_KEY_LEN 16          /* K, as the config message carries it */
#define INTRO_SLOT_KEY_LEN 32     /* the slot key of the tunnel layer */
#define INTRO_IID_LEN 8
#define INTRO_NEXT_HEADER 253     /* RFC 3692 experimental value */
#define INTRO_IPV6_HEADER_LEN 40
#define INTRO_HOP_LIMIT 64

/* Results of the server's checks, each counted under its own name. The
 * msg.h results (MSG_ERR_*) pass through unchanged. */
#define INTRO_ERR_INNER (-EPROTOTYPE)     /* not IPv6 with next header 253 */
#define INTRO_ERR_CLIENT_ID (-EPERM)      /* id differs from the client the source IID names */
#define INTRO_ERR_CIID (-EADDRNOTAVAIL)   /* seed IID is not C_IID, or inner source is not the seed */

/* Slot key of the introduction tunnel: K is 16 bytes, the tunnel layer's
 * slot keys 32, so the introduction addresses rotate under
 * K_slot = H_"mt6d/1 intro slot key"(K). */
void intro_slot_key(uint8_t out[static INTRO_SLOT_KEY_LEN], const uint8_t k[static INTRO_KEY_LEN]);

/* The IID of a host with seed IID seed_iid in slot under slot_key (formula
 * 5): what the server expects as the source IID of client i's datagrams. */
void intro_slot_iid(uint8_t iid_out[static INTRO_IID_LEN], const uint8_t seed_iid[static INTRO_IID_LEN],
		    const uint8_t slot_key[static INTRO_SLOT_KEY_LEN], uint64_t slot);

/* Introduction IID of one slot -> index of the registered client. Open
 * addressing over the IIDs (hash outputs, uniform): O(1) per lookup, about
 * 24 bytes per client. Key 0 marks an empty cell (a reserved IID, which
 * derive never produces). */
struct intro_map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap;          /* cells, a power of two, at least twice max_entries */
	size_t len;          /* entries */
	size_t collisions;   /* puts refused because two clients share an IID */
};

/* Allocates room for max_entries. Returns 0 or -ENOMEM. */
int intro_map_init(struct intro_map *m, size_t max_entries);
void intro_map_fini(struct intro_map *m);
void intro_map_clear(struct intro_map *m);

/* Returns 0, -EEXIST (another client has this IID in this slot: both keep
 * their first mapping, the newcomer is unreachable for the slot) or -ENOSPC. */
int intro_map_put(struct intro_map *m, const uint8_t iid[static INTRO_IID_LEN], uint32_t val);

/* The value of iid, or -ENOENT. */
int64_t intro_map_get(const struct intro_map *m, const uint8_t iid[static INTRO_IID_LEN]);

/* Fills the map for one slot: for each i < n with is_active[i] (NULL: all),
 * intro_slot_iid(c_iids[i]) -> i. Returns the number mapped. */
size_t intro_map_build(struct intro_map *m, const uint8_t (*c_iids)[INTRO_IID_LEN],
		       const bool *is_active, size_t n,
		       const uint8_t slot_key[static INTRO_SLOT_KEY_LEN], uint64_t slot);

/* An inner packet: IPv6, next header 253, payload length equal to what
 * follows the header. Returns 0 and the addresses and payload (borrowed),
 * or INTRO_ERR_INNER. */
int intro_inner_parse(const uint8_t *pkt, size_t len, struct in6_addr *src_out,
		      struct in6_addr *dst_out, const uint8_t **payload_out, size_t *payload_len_out);

/* Writes an inner packet (header, then payload) into out. Returns its
 * length or -EMSGSIZE. */
int intro_inner_build(uint8_t *out, size_t out_len, const struct in6_addr *src,
		      const struct in6_addr *dst, const uint8_t *payload, size_t payload_len);

/* The server's checks of a request from the client that the datagram's
 * source IID selected (its id expected_id, public key client_pub, C_IID
 * c_iid), in this order, stopping at the first failure:
 *   1. msg_request_peek_id: a request (MSG_ERR_LENGTH/VERSION/TYPE);
 *   2. its id is expected_id (INTRO_ERR_CLIENT_ID): one client cannot speak
 *      for another;
 *   3. msg_request_open: authentic, fresh, not a replay (MSG_ERR_AUTH,
 *      MSG_ERR_STALE, MSG_ERR_REPLAY);
 *   4. its seed address has IID c_iid and is the inner source address
 *      (INTRO_ERR_CIID).
 * Returns 0 and fills req_out and hs_out (wipe hs_out) on success. */
int intro_check_request(struct msg_replay *cache, const uint8_t server_priv[static MSG_KEY_LEN],
			const uint8_t server_pub[static MSG_KEY_LEN], uint32_t expected_id,
			const uint8_t client_pub[static MSG_KEY_LEN],
			const uint8_t c_iid[static INTRO_IID_LEN], const struct in6_addr *inner_src,
			uint64_t now_ms, const uint8_t *msg, size_t len,
			struct msg_request *req_out, struct msg_handshake *hs_out);

/* Session tunnel addresses of client id under a tunnel prefix (at most /64):
 *   server side: prefix || 0000:0001:00ii:iiii
 *   client side: prefix || 0000:0002:00ii:iiii
 * Stable per client, so that a re-established session keeps the transport
 * connections between the same two addresses. */
void intro_tunnel_addrs(const struct in6_addr *prefix, uint32_t id, struct in6_addr *server_out,
			struct in6_addr *client_out);

/* The client id of a server-side session tunnel address of this plan, or
 * -ENOENT when addr is not one. */
int64_t intro_tunnel_addr_id(const struct in6_addr *prefix, unsigned prefix_len,
			     const struct in6_addr *addr);
/* The same for a client-side address. */
int64_t intro_client_tunnel_addr_id(const struct in6_addr *prefix, unsigned prefix_len,
				    const struct in6_addr *addr);
/* The client id whose client-side address is the destination of an IPv6
 * packet of len bytes (a shared session interface finds the session of what
 * it reads), or -ENOENT (not IPv6, too short, not an address of the plan). */
int64_t intro_packet_client_id(const struct in6_addr *prefix, unsigned prefix_len,
			       const uint8_t *pkt, size_t len);

/* Default tunnel prefix: the ULA /64 fdXX:XXXX:XXXX::/64 with the 40-bit
 * global id H_"mt6d/1 tunnel prefix"(S)[0..4] (RFC 4193 asks for a random
 * one; a hash of the server's key is as unpredictable and stable). */
void intro_default_tunnel_prefix(const uint8_t server_pub[static MSG_KEY_LEN],
				 struct in6_addr *prefix_out);

/* A fresh random seed IID that is not reserved (RFC 5453). */
void intro_random_iid(uint8_t iid_out[static INTRO_IID_LEN]);

/* What a result of intro_check_request means (INTRO_ERR_* and the MSG_ERR_*
 * it passes through), for logs and the audit trail. Never NULL. */
const char *intro_strerror(int rc);

#endif
