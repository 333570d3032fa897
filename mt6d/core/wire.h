/* Per-packet tunnel framing (docs/PROTOCOL.md section 9, "Tunnel packets"):
 * every packet of the data plane, sealed and opened in place in caller
 * buffers. Nothing in a datagram is in clear: an observer sees 16 bytes of
 * protected header, the ciphertext and the tag, all pseudo-random per packet.
 *
 *   0                                    16               16+n+p      +16
 *   +------------------------------------+----------------+-----------+
 *   | protected header (16)              | inner || pad   |   tag     |
 *   +------------------------------------+----------------+-----------+
 *   header in clear, before protection:
 *   | type (8) | pad (16, BE) | instance (48) | counter (56, BE) |
 *
 * AEAD: ChaCha20-Poly1305 (IETF, nonce = 0^5 || counter) under a packet key
 * derived from a direction key and the sender's random instance id;
 * associated data = the 16-byte header in clear || the slot number (u64 BE),
 * so a packet captured in one slot fails authentication in any other. Type
 * WIRE_TYPE_DATA_AES: AES-256-GCM instead, same nonce and associated data,
 * under a key derived from the packet key. Then
 * header protection (RFC 9001 5.4, with the tag as the sample): the header
 * is XORed with the first 16 bytes of ChaCha20 under a header key of the
 * direction, block counter and nonce taken from the tag.
 *
 * Padding (`Padding` in mt6d.conf(5)): the plaintext is the inner packet
 * followed by `pad` zero bytes, so that lengths fall on a few buckets; the
 * receiver strips them. The header counts them; the AEAD covers them.
 *
 * Headroom: the caller places the inner packet at buf + WIRE_HEADER_LEN with
 * room after it for the padding and WIRE_TAG_LEN bytes of tag; wire_seal
 * writes the header before it and the padding and tag after it; wire_open
 * leaves the plaintext at the same offset.
 *
 * A direction key is used by exactly one sender: two peers that share a key
 * derive one key per direction (wire_derive_direction_keys, or the session
 * keys of msg.h). The key shared must be secret to the pair: for the
 * introduction tunnel that is the X25519 secret s of server and client (or a
 * key derived from s and K), never K alone, which every client knows.
 *
 * Not thread-safe: one wire_tx per sending thread (each draws its own
 * instance, so threads share no counter); one wire_rx must see every packet
 * of its direction (separate receivers would each accept a replay once), so
 * several receiving threads share it under a lock. A failed wire_open leaves
 * buf as received, so a caller may try another receiver (old and new session
 * during a re-key). */
#ifndef MT6D_WIRE_H
#define MT6D_WIRE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mt6d/core/replay.h"

#define WIRE_KEY_LEN 32
#define WIRE_HEADER_LEN 16
#define WIRE_TAG_LEN 16
#define WIRE_OVERHEAD (WIRE_HEADER_LEN + WIRE_TAG_LEN)
#define WIRE_INSTANCE_LEN 6
#define WIRE_ID_LEN 16 /* host identity for direction keys: its seed address */

/* Outer IPv6 (40) + UDP (8) + WIRE_OVERHEAD (32) in a 1500-byte link MTU:
 * the TUN MTU that never makes an encapsulated packet fragment. */
#define WIRE_OUTER_IP_UDP_LEN 48
#define WIRE_INNER_MTU (1500 - WIRE_OUTER_IP_UDP_LEN - WIRE_OVERHEAD)
/* Largest inner packet one UDP datagram can carry (IPv6 payload limit). */
#define WIRE_MAX_INNER_LEN (65535 - 8 - WIRE_OVERHEAD)

#define WIRE_TYPE_DATA 1 /* inner IPv6 packet; an empty one is a keepalive */
#define WIRE_TYPE_DATA_AES 2 /* the same, sealed with AES-256-GCM (wire_tx_set_aead) */

/* The AEAD a sender seals with (the receiver reads it from the protected
 * header and opens both): ChaCha20-Poly1305 everywhere, AES-256-GCM where
 * the CPU has AES-NI (libsodium's, about 40 % less CPU per packet on x86). */
enum wire_aead {
	WIRE_AEAD_CHACHA20_POLY1305 = 0,
	WIRE_AEAD_AES256_GCM = 1,
};
/* libsodium's crypto_aead_aes256gcm_state (the expanded key), allocated
 * only where AES-256-GCM is used: a server's thousands of ChaCha20 sessions
 * would otherwise carry 4.5 KB more each (wire.c checks the size). */
#define WIRE_AES_STATE_LEN 512

/* The counter is 56 bits on the wire; a sender stops before it can come near
 * wrapping (never in practice: 2^56 packets are 2,000 years at a million
 * packets per second); it must then re-key (wire_tx_init again). */
#define WIRE_COUNTER_LIMIT ((UINT64_C(1) << 56) - REPLAY_WINDOW)

/* Padding: a bucket of at least this many bytes (smaller buckets hide
 * nothing that the 16-byte granularity of a cipher would not). Whatever the
 * bucket, and with padding off, a plaintext shorter than WIRE_MIN_PADDED_LEN
 * is padded to it: the size of a TCP ACK with timestamps (40 + 32 bytes),
 * the most common small packet, so that a keepalive (a bare 40-byte IPv6
 * header) does not stand out by its size. */
#define WIRE_MIN_PAD_BUCKET 16
#define WIRE_MAX_PAD_BUCKET 65535
#define WIRE_MIN_PADDED_LEN 72

/* Authenticated packets of this many distinct sender instances (restarts of
 * the peer, or one per sending thread) are tracked at once per receiver. */
#define WIRE_RX_INSTANCES 8

/* Receiver results, negative errno values, distinct so each is counted:
 *   WIRE_ERR_MALFORMED  too short or too long to be a tunnel packet
 *   WIRE_ERR_AUTH       does not authenticate (wrong key, slot, forged, bit
 *                       flip, or a header that is not valid once unprotected:
 *                       without the key, garbage and forgeries look alike)
 *   WIRE_ERR_REPLAY     counter already accepted from this instance
 *   WIRE_ERR_TOO_OLD    counter below the replay window, or slot more than two
 *                       slots older than the newest authenticated one
 *   WIRE_ERR_BUSY       authentic packet of a new instance while every tracked
 *                       instance is still live (a peer restarting in a loop)
 * Sender results: -EMSGSIZE (inner too long / buffer too small for the inner
 * packet, its padding and the tag), -EOVERFLOW (counter exhausted). */
#define WIRE_ERR_MALFORMED (-EPROTO)
#define WIRE_ERR_AUTH (-EBADMSG)
#define WIRE_ERR_REPLAY REPLAY_DUPLICATE
#define WIRE_ERR_TOO_OLD REPLAY_TOO_OLD
#define WIRE_ERR_BUSY (-EBUSY)

struct wire_tx {
	uint8_t key[WIRE_KEY_LEN];          /* packet key of this instance (secret) */
	uint8_t hp_key[WIRE_KEY_LEN];       /* header key of the direction (secret) */
	uint8_t instance[WIRE_INSTANCE_LEN]; /* random per wire_tx_init */
	uint64_t counter;                   /* next counter to send */
	enum wire_aead aead;
	unsigned char *aes;                 /* with WIRE_AEAD_AES256_GCM, else NULL (secret) */
	size_t pad_bucket;                  /* bytes; 0: off (WIRE_MIN_PADDED_LEN only) */
	size_t pad_max_len;                 /* padding never takes a plaintext above this */
};

struct wire_rx_instance {
	uint8_t key[WIRE_KEY_LEN];          /* packet key of this instance (secret) */
	uint8_t instance[WIRE_INSTANCE_LEN];
	uint64_t last_slot;                 /* newest slot it authenticated in */
	struct replay window;
	unsigned char *aes;                 /* its AES-256-GCM key once it sent type 2 (secret) */
};

struct wire_rx {
	uint8_t dir_key[WIRE_KEY_LEN];      /* peer's sending direction key (secret) */
	uint8_t hp_key[WIRE_KEY_LEN];       /* its header key (secret) */
	uint64_t max_slot;                  /* newest slot of any authentic packet */
	unsigned n_instances;
	struct wire_rx_instance inst[WIRE_RX_INSTANCES];
};

/* Direction keys for two hosts that share a 32-byte key (a pre-shared key, or
 * the X25519 shared secret s of their key pairs): the key of the direction
 * A -> B is H_"mt6d/1 wire direction"(shared || id_A || id_B), with each
 * host's id its 16-byte seed address. Returns -EINVAL when the ids are equal
 * (both directions would share one key stream). */
int wire_derive_direction_keys(const uint8_t shared[static WIRE_KEY_LEN],
			       const uint8_t own_id[static WIRE_ID_LEN],
			       const uint8_t peer_id[static WIRE_ID_LEN],
			       uint8_t tx_key_out[static WIRE_KEY_LEN],
			       uint8_t rx_key_out[static WIRE_KEY_LEN]);

/* Starts a sender on direction key dir_key: draws a fresh random instance id
 * (randombytes) and derives its packet key and the direction's header key,
 * counter 0, padding off. Call at every start and on re-key; a sender state
 * must never be copied or restored from disk. */
void wire_tx_init(struct wire_tx *tx, const uint8_t dir_key[static WIRE_KEY_LEN]);

/* The AEAD of what tx seals from now on (wire_tx_init: ChaCha20-Poly1305).
 * Returns -ENOTSUP for AES-256-GCM on a CPU without AES-NI (libsodium's
 * crypto_aead_aes256gcm_is_available; sodium_init first), or -ENOMEM, tx
 * unchanged. A sender with AES must be wire_tx_fini'ed (which frees it)
 * before wire_tx_init starts it again. */
int wire_tx_set_aead(struct wire_tx *tx, enum wire_aead aead);

/* Whether this CPU can seal and open WIRE_AEAD_AES256_GCM. */
bool wire_aes_is_available(void);

/* Pads every plaintext up to a multiple of bucket bytes (0: off), but never
 * beyond max_len (the inner MTU of the tunnel, so that padding never makes a
 * datagram exceed the path MTU: a full-size packet stays full-size).
 * Returns -EINVAL for a bucket outside WIRE_MIN_PAD_BUCKET..WIRE_MAX_PAD_BUCKET. */
int wire_tx_set_padding(struct wire_tx *tx, size_t bucket, size_t max_len);

/* The plaintext length that wire_seal makes of an inner packet of inner_len
 * bytes (inner and padding), for callers that size buffers. */
size_t wire_padded_len(const struct wire_tx *tx, size_t inner_len);

/* Wipes the keys (and frees the AES state). */
void wire_tx_fini(struct wire_tx *tx);

/* Seals in place: the inner packet (inner_len bytes, may be 0) is at
 * buf + WIRE_HEADER_LEN; buf holds buf_len bytes. slot is the slot number of
 * the MT6D addresses the packet is sent from and to. Returns the datagram
 * length (wire_padded_len(tx, inner_len) + WIRE_OVERHEAD, starting at buf),
 * -EMSGSIZE or -EOVERFLOW. */
int wire_seal(struct wire_tx *tx, uint64_t slot, uint8_t *buf, size_t inner_len,
	      size_t buf_len);

/* Starts a receiver for the peer's direction key (no instance known yet). */
void wire_rx_init(struct wire_rx *rx, const uint8_t dir_key[static WIRE_KEY_LEN]);

/* Wipes every key. */
void wire_rx_fini(struct wire_rx *rx);

/* Forgets every sender instance and the newest slot, keeping the direction
 * key: for a change of the slot numbering (a new rotation period), after
 * which the new slots may be lower than the old ones. Packets of the old
 * numbering carry their slot in the associated data, so they still fail
 * on the sockets of the new slots. */
void wire_rx_restart(struct wire_rx *rx);

/* Opens in place a datagram of len bytes received on the socket of slot
 * `slot`. On success returns the inner length without the padding (plaintext
 * at buf + WIRE_HEADER_LEN) and records the counter; else a WIRE_ERR_* code
 * and neither the receiver state nor buf has changed (the header is
 * unprotected in a copy and the tag verified before anything is decrypted). */
int wire_open(struct wire_rx *rx, uint64_t slot, uint8_t *buf, size_t len);

/* What a WIRE_ERR_* result means, for logs; other values (system errors)
 * get strerror's text. Never NULL. */
const char *wire_strerror(int rc);

#endif
