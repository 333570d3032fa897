/* The blind rendezvous (docs/PROTOCOL.md formulas 2 and 3; byte layouts in
 * docs/PROTOCOL.md, "Config message" and "Port stuffing"): the config message
 * a server seals for one client and one window, and the port stuffing that
 * stores such a message in the DHT as (IP, port) peers under a few infohashes
 * derived from the descriptor d_T.
 *
 * Pure functions: no clock reads (the window start T and the epoch are
 * parameters), no I/O, no allocation. Randomness comes from a caller-chosen
 * function (NULL: libsodium's randombytes_buf), so tests are reproducible.
 *
 * Publisher: rendezvous_config_seal -> for j < rendezvous_chunk_count(len):
 * rendezvous_chunk_infohash + rendezvous_stuff_chunk -> announce each port.
 * Fetcher: get_peers on every chunk infohash -> rendezvous_find_config. */
#ifndef MT6D_RENDEZVOUS_H
#define MT6D_RENDEZVOUS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define RENDEZVOUS_VERSION 1
#define RENDEZVOUS_KEY_LEN 32         /* X25519 keys */
#define RENDEZVOUS_ADDR_LEN 16        /* IPv6 address, network byte order */
#define RENDEZVOUS_DESCRIPTOR_LEN 20  /* d_T */
#define RENDEZVOUS_INFOHASH_LEN 20    /* a chunk's DHT key */
#define RENDEZVOUS_RANDOM_LEN 8       /* r, random bytes sent in clear */
#define RENDEZVOUS_MAC_LEN 16         /* Poly1305 tag of crypto_box */
#define RENDEZVOUS_OVERHEAD (1 + RENDEZVOUS_RANDOM_LEN + RENDEZVOUS_MAC_LEN) /* 25 */
#define MT6D_INTRO_KEY_LEN 16         /* introduction key K */

/* Config plaintext: seed address, K, Rot (u24 ms), n (u24 s). Fixed, so that
 * every client's sealed config has the same size. */
#define RENDEZVOUS_CONFIG_PLAIN_LEN (RENDEZVOUS_ADDR_LEN + MT6D_INTRO_KEY_LEN + 3 + 3) /* 38 */
#define RENDEZVOUS_CONFIG_LEN (RENDEZVOUS_OVERHEAD + RENDEZVOUS_CONFIG_PLAIN_LEN)     /* 63 */
#define RENDEZVOUS_U24_MAX 0xffffffu

/* Port stuffing: one port per byte, at most 25 ports per chunk (a libtorrent
 * node returns 25 values per get_peers reply to an IPv6 asker: docs/LAB.md),
 * at most 255 bytes per message (one distinct high byte 1..255 per byte). */
#define RENDEZVOUS_CHUNK_MAX_PORTS 25
#define RENDEZVOUS_MAX_MSG_LEN 255
#define RENDEZVOUS_MAX_CHUNKS 11      /* ceil(255 / 25) */
/* Generic messages (rendezvous_message_*): what fits in 255 stuffed bytes. */
#define RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN (RENDEZVOUS_MAX_MSG_LEN - RENDEZVOUS_OVERHEAD) /* 230 */
/* Readers refuse longer peer lists (-E2BIG): unstuffing costs
 * O(groups x peers) and the caller collects peers, so it must bound them. */
#define RENDEZVOUS_MAX_PEERS_PER_CHUNK 1024

/* Results of opening, negative errno values, distinct so each can be counted
 * and reported (the same values as msg.h): */
#define RENDEZVOUS_ERR_LENGTH (-EMSGSIZE)         /* not the length of the format */
#define RENDEZVOUS_ERR_VERSION (-EPROTONOSUPPORT) /* version byte is not ours */
#define RENDEZVOUS_ERR_AUTH (-EBADMSG) /* not authentic: another server, another
					* client, another window or epoch, modified */
/* -EINVAL: bad argument, or an authentic config with a period of 0. */

/* Where randomness comes from: fill buf with len uniformly random bytes.
 * NULL wherever one is asked for means randombytes_buf. */
typedef void rendezvous_random_fn(void *buf, size_t len);

struct rendezvous_config {
	uint8_t server_seed_addr[RENDEZVOUS_ADDR_LEN]; /* SeedIPv6_S: /64 prefix || seed IID */
	uint8_t intro_key[MT6D_INTRO_KEY_LEN];         /* K of this config period */
	uint32_t rotation_ms;                          /* Rot, 1..2^24-1 ms */
	uint32_t period_s;                             /* n, 1..2^24-1 s */
};

/* Server: seals cfg for the client client_pub, for the window starting at
 * window_start (T, UNIX seconds) and publication epoch, into out
 * (out_len >= RENDEZVOUS_CONFIG_LEN). T and epoch are not sent: the client
 * knows them from where it found the message. Draws r with rng.
 * Returns RENDEZVOUS_CONFIG_LEN, -EMSGSIZE (out too small) or -EINVAL
 * (a period of 0 or over 24 bits, a low-order client key). */
int rendezvous_config_seal(uint8_t *out, size_t out_len, const struct rendezvous_config *cfg,
			   const uint8_t server_priv[static RENDEZVOUS_KEY_LEN],
			   const uint8_t client_pub[static RENDEZVOUS_KEY_LEN],
			   uint64_t window_start, uint8_t epoch, rendezvous_random_fn *rng);

/* Client: opens a config sealed by server_pub for this client, window and
 * epoch. Returns 0 and fills cfg_out; else RENDEZVOUS_ERR_LENGTH,
 * RENDEZVOUS_ERR_VERSION, RENDEZVOUS_ERR_AUTH or -EINVAL (authentic, but a
 * period is 0), and cfg_out is untouched. */
int rendezvous_config_open(struct rendezvous_config *cfg_out, const uint8_t *sealed, size_t len,
			   const uint8_t client_priv[static RENDEZVOUS_KEY_LEN],
			   const uint8_t server_pub[static RENDEZVOUS_KEY_LEN],
			   uint64_t window_start, uint8_t epoch);

/* A generic short message (plain_len <= RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN)
 * from sender to receiver for a window and epoch, the same layout as a config
 * but with a nonce that also hashes the sender's public key (label
 * "mt6d/1 message-nonce"): a message cannot be reflected to its sender
 * (the box key is symmetric), nor read as a config. Returns the sealed
 * length (plain_len + RENDEZVOUS_OVERHEAD), -EMSGSIZE or -EINVAL. */
int rendezvous_message_seal(uint8_t *out, size_t out_len, const uint8_t *plain, size_t plain_len,
			    const uint8_t sender_priv[static RENDEZVOUS_KEY_LEN],
			    const uint8_t receiver_pub[static RENDEZVOUS_KEY_LEN],
			    uint64_t window_start, uint8_t epoch, rendezvous_random_fn *rng);

/* Opens a generic message; plain_out needs len - RENDEZVOUS_OVERHEAD bytes.
 * Returns the plaintext length, or RENDEZVOUS_ERR_* (length outside
 * RENDEZVOUS_OVERHEAD..RENDEZVOUS_MAX_MSG_LEN: RENDEZVOUS_ERR_LENGTH). */
int rendezvous_message_open(uint8_t *plain_out, const uint8_t *sealed, size_t len,
			    const uint8_t receiver_priv[static RENDEZVOUS_KEY_LEN],
			    const uint8_t sender_pub[static RENDEZVOUS_KEY_LEN],
			    uint64_t window_start, uint8_t epoch);

/* Number of chunks of a stuffed message of msg_len bytes: ceil(msg_len / 25);
 * 0 if msg_len is 0 or over RENDEZVOUS_MAX_MSG_LEN. Chunks are as even as
 * possible (the first msg_len mod count chunks hold one byte more): a
 * 63-byte config is 3 chunks of 21. */
size_t rendezvous_chunk_count(size_t msg_len);

/* Length of chunk j of a message of msg_len bytes (0 if there is none). */
size_t rendezvous_chunk_len(size_t msg_len, size_t j);

/* ih_{e,j} = H_"mt6d/1 chunk"(d_T || u8 epoch || u8 j)[0..19]: the infohash
 * under which chunk j of the epoch's message is announced. */
void rendezvous_chunk_infohash(uint8_t ih_out[static RENDEZVOUS_INFOHASH_LEN],
			       const uint8_t descriptor[static RENDEZVOUS_DESCRIPTOR_LEN],
			       uint8_t epoch, uint8_t j);

/* The ports that store chunk j of msg: for its bytes b_i, distinct random
 * p_i in 1..255, ascending, port_i = p_i << 8 | b_i (never 0, never below
 * 256). Writes rendezvous_chunk_len(msg_len, j) ports to ports_out and
 * returns their number, or -EINVAL (no such chunk). */
int rendezvous_stuff_chunk(uint16_t ports_out[static RENDEZVOUS_CHUNK_MAX_PORTS], const uint8_t *msg,
			   size_t msg_len, size_t j, rendezvous_random_fn *rng);

/* A peer value returned by the DHT. */
struct rendezvous_peer {
	uint8_t addr[RENDEZVOUS_ADDR_LEN]; /* IPv6 (IPv4 as ::ffff:a.b.c.d) */
	uint16_t port;                     /* host byte order */
};

/* Every peer collected for one chunk infohash, in any order, borrowed. */
struct rendezvous_chunk_peers {
	const struct rendezvous_peer *peers;
	size_t n_peers;                    /* <= RENDEZVOUS_MAX_PEERS_PER_CHUNK */
};

/* Candidate messages of msg_len bytes in the peers of its chunks (n_chunks
 * must be rendezvous_chunk_count(msg_len)): peers are grouped by IP address,
 * then (a second pass, IPv6 only) by /64, so that a publication whose chunks
 * left from several addresses of one /64 is read too; each group's ports
 * deduplicated and sorted by high byte (ports below 256
 * ignored); a group yields a candidate only if, in every chunk, it has
 * exactly the chunk's length of distinct high bytes and no two different
 * ports sharing one. *cursor starts at 0. Writes the next candidate
 * (msg_out, msg_len bytes; addr_out may be NULL: the address of the group's
 * first port in chunk 0) and returns 1; returns 0 when
 * there is none left; -EINVAL or -E2BIG for bad arguments. */
int rendezvous_unstuff_next(const struct rendezvous_chunk_peers *chunks, size_t n_chunks,
			    size_t msg_len, size_t *cursor, uint8_t *msg_out,
			    uint8_t addr_out[RENDEZVOUS_ADDR_LEN]);

/* All candidates at once, at most max_out of them, candidate i at
 * msgs_out + i * msg_len. Returns how many were written, or -EINVAL/-E2BIG. */
int rendezvous_unstuff(const struct rendezvous_chunk_peers *chunks, size_t n_chunks, size_t msg_len,
		       uint8_t *msgs_out, size_t max_out);

/* Client: unstuffs the RENDEZVOUS_CONFIG_LEN-byte candidates of the chunk
 * peers (n_chunks = 3) and returns 0 with the first that opens as a config
 * of server_pub for this client, window and epoch (addr_out, may be NULL:
 * the IP that announced it). Every candidate is tried, so junk announced
 * from other IPs cannot hide the real one. Else -ENOENT (no candidate),
 * RENDEZVOUS_ERR_VERSION (a candidate of another version and none opened),
 * RENDEZVOUS_ERR_AUTH (candidates, none authentic), -EINVAL, -E2BIG. */
int rendezvous_find_config(const struct rendezvous_chunk_peers *chunks, size_t n_chunks,
			   const uint8_t client_priv[static RENDEZVOUS_KEY_LEN],
			   const uint8_t server_pub[static RENDEZVOUS_KEY_LEN],
			   uint64_t window_start, uint8_t epoch, struct rendezvous_config *cfg_out,
			   uint8_t addr_out[RENDEZVOUS_ADDR_LEN]);

/* What a RENDEZVOUS_ERR_* result means, for logs; other values (system
 * errors) get strerror's text. Never NULL. */
const char *rendezvous_strerror(int rc);

#endif
