/* The endpoint table of the shared slot sockets (mt6d/engine/slotmux.h):
 * (MT6D address, UDP port) -> (owner, slot), the tunnel and slot a datagram
 * that arrived at that endpoint belongs to. Every live slot of every
 * session is one entry (3 per session: 45,000 at 15,000 sessions), added
 * and removed at each rotation: O(1) both ways.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so a table under constant churn never degrades), at most half
 * full, grown by doubling. The hash is SipHash under a key chosen by the
 * caller (random per process): the addresses asked about come from the
 * network, and an unkeyed hash would let a prober aim at one probe run. */
#ifndef MT6D_EPTAB_H
#define MT6D_EPTAB_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define EPTAB_KEY_LEN 16

struct eptab_entry {
	struct in6_addr addr;
	uint16_t port;                /* host order */
	uint64_t slot;
	void *owner;                  /* NULL: free */
};

struct eptab {
	struct eptab_entry *slots;
	size_t cap;                   /* a power of two */
	size_t len;
	uint8_t key[EPTAB_KEY_LEN];
};

/* An empty table for about hint entries, hashed under key. Returns 0 or
 * -ENOMEM. */
int eptab_init(struct eptab *t, size_t hint, const uint8_t key[static EPTAB_KEY_LEN]);
void eptab_fini(struct eptab *t);

/* Adds addr/port for (owner, slot), or replaces the owner and slot of an
 * entry already there (a slot rebound by the same or a newer session).
 * Returns 0 or -ENOMEM (the table is unchanged), -EINVAL for a NULL owner. */
int eptab_add(struct eptab *t, const struct in6_addr *addr, uint16_t port, void *owner,
	      uint64_t slot);

/* Removes addr/port if owner holds it (another owner's entry stays: a new
 * session took the endpoint over). Returns 1 when removed, 0 otherwise. */
int eptab_remove(struct eptab *t, const struct in6_addr *addr, uint16_t port, const void *owner);

/* The entry of addr/port, or NULL. */
const struct eptab_entry *eptab_lookup(const struct eptab *t, const struct in6_addr *addr,
				       uint16_t port);

size_t eptab_count(const struct eptab *t);

#endif
