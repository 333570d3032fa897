/* The MT6D derivations (docs/PROTOCOL.md formulas 1, 4 and 5; byte encodings in
 * docs/PROTOCOL.md, "Derivations"): the rendezvous window and descriptor, the
 * client's seed IID, and the MT6D address and UDP port of a host in a slot.
 *
 * Pure functions of their inputs: no clock reads, no I/O. Times are passed
 * in: UNIX seconds for windows, UNIX milliseconds for slots. */
#ifndef MT6D_DERIVE_H
#define MT6D_DERIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define DERIVE_DESCRIPTOR_LEN 20 /* a DHT infohash */
#define DERIVE_IID_LEN 8
#define DERIVE_SECRET_LEN 32     /* s, the X25519 shared secret */
#define DERIVE_PORT_MIN 1024     /* slot ports never fall below this */

/* T = t - (t mod n): the start (UNIX seconds) of the window holding t_s.
 * Times before the epoch belong to window 0. period_s must be > 0. */
uint64_t derive_window_start(int64_t t_s, uint32_t period_s);

/* d_T = H_"mt6d/1 descriptor"(s || u64(T))[0..19]. */
void derive_descriptor(uint8_t d_out[static DERIVE_DESCRIPTOR_LEN],
		       const uint8_t s[static DERIVE_SECRET_LEN], uint64_t window_start);

/* C_IID = H_"mt6d/1 client-iid"(s || K)[0..7] (the next 8 bytes if the first
 * are a reserved IID). key_len is K's length in bytes. */
void derive_client_iid(uint8_t iid_out[static DERIVE_IID_LEN], const uint8_t s[static DERIVE_SECRET_LEN],
		       const uint8_t *key, size_t key_len);

/* t_i = floor(t_ms / Rot_ms); times before the epoch are slot 0.
 * rotation_ms must be > 0. */
uint64_t derive_slot(int64_t t_ms, uint32_t rotation_ms);

/* The MT6D endpoint of a host with seed address seed (its /64 prefix and its
 * seed IID) under key in slot:
 *   h = H_"mt6d/1 slot"(IID || key || u64(slot))
 *   address = prefix || IID', IID' = h[0..7] (h[8..15] if reserved)
 *   port = 1024 + (u16(h[16..17]) mod 64512)
 * Either output may be NULL. */
void derive_slot_endpoint(const uint8_t seed[static 16], const uint8_t *key, size_t key_len,
			  uint64_t slot, struct in6_addr *addr_out, uint16_t *port_out);

/* Whether an interface identifier is one RFC 5453 reserves (subnet-router
 * anycast, reserved subnet anycast, the IANA ethernet-derived block), or
 * all ones: a host must never claim one. */
bool derive_iid_is_reserved(const uint8_t iid[static DERIVE_IID_LEN]);

#endif
