/* Which queue of a multi-queue TUN a flow belongs to. The kernel sends a
 * flow's packets out of the TUN queue it last saw the flow written into
 * (its flow table, drivers/net/tun.c); writing each opened packet into its
 * flow's queue, the same for both directions, keeps a flow on one queue and
 * thread both ways, and spreads the flows over the queues. */
#ifndef MT6D_CORE_FLOWQ_H
#define MT6D_CORE_FLOWQ_H

#include <stddef.h>
#include <stdint.h>

/* The queue (0..n_queues-1) of the IPv6 packet pkt (len bytes): a hash of
 * its two addresses and, for TCP and UDP right after the fixed header, its
 * two ports, symmetric in source and destination. 0 for n_queues <= 1 and
 * for what is not IPv6. */
unsigned flowq_pick(const uint8_t *pkt, size_t len, unsigned n_queues);

#endif
