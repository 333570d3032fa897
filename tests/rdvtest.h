/* Keys and configs for the rendezvous tests (test_publish, test_itempub,
 * test_pubsched): deterministic, from one seed byte. */
#ifndef MT6D_TESTS_RDVTEST_H
#define MT6D_TESTS_RDVTEST_H

#include <stdint.h>

#include "mt6d/core/rendezvous.h"

struct rdvtest_keypair {
	uint8_t priv[32], pub[32];
};

/* The X25519 key pair of the seed bytes seed x 32. */
void rdvtest_keypair(struct rdvtest_keypair *k, uint8_t seed);

/* A config for windows of period_s: server 2001:db8::77, K = k x 16,
 * Rot 3 s. */
void rdvtest_config(struct rendezvous_config *c, uint8_t k, uint32_t period_s);

#endif
