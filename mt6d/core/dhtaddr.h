/* dhtaddr: where a daemon's DHT node sends from during one config window
 * (docs/PROTOCOL.md, "The DHT identity"): an address drawn at random in the
 * host's /64 and a random UDP port, fresh every window, so that the DHT sees
 * neither the host's stable address nor anything that links two windows.
 *
 * Pure: the randomness comes from the caller (libsodium in the daemons, a
 * script in tests). The node id that goes with the address is BEP 42's,
 * computed by dht/ (dht_id_for_address): one implementation of CRC32-C. */
#ifndef MT6D_DHTADDR_H
#define MT6D_DHTADDR_H

#include <stddef.h>
#include <stdint.h>

#define DHTADDR_LEN 16
#define DHTADDR_PORT_MIN 1024   /* drawn ports lie in 1024..65535 */
#define DHTADDR_MAX_DRAWS 16    /* draws before giving up (a broken generator) */

typedef void dhtaddr_random_fn(void *buf, size_t len);

/* Writes prefix[0..8) || a random IID to out: never a reserved IID
 * (docs/PROTOCOL.md 4.4) and never one of avoid[0..n_avoid) (every
 * address the host holds now: stable, MT6D, seed). rng NULL:
 * libsodium. Returns 0, or -EAGAIN when DHTADDR_MAX_DRAWS draws all failed. */
int dhtaddr_draw(const uint8_t prefix[static 8], const uint8_t (*avoid)[DHTADDR_LEN], size_t n_avoid,
		 dhtaddr_random_fn *rng, uint8_t out[static DHTADDR_LEN]);

/* A UDP port drawn uniformly in DHTADDR_PORT_MIN..65535 (rng NULL: libsodium). */
uint16_t dhtaddr_draw_port(dhtaddr_random_fn *rng);

#endif
