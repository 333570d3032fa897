/* Keys and configs for the rendezvous tests (rdvtest.h). */
#include "tests/rdvtest.h"

#include <string.h>
#include <sodium.h>

void rdvtest_keypair(struct rdvtest_keypair *k, uint8_t seed)
{
	uint8_t s[crypto_box_SEEDBYTES];
	memset(s, seed, sizeof(s));
	crypto_box_seed_keypair(k->pub, k->priv, s);
}

void rdvtest_config(struct rendezvous_config *c, uint8_t k, uint32_t period_s)
{
	static const uint8_t addr[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x77 };
	memset(c, 0, sizeof(*c));
	memcpy(c->server_seed_addr, addr, sizeof(addr));
	memset(c->intro_key, k, sizeof(c->intro_key));
	c->rotation_ms = 3000;
	c->period_s = period_s;
}
