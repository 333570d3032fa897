#include "mt6d/core/intro.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/hash.h"
#include "mt6d/core/rotate.h"

void intro_slot_key(uint8_t out[static INTRO_SLOT_KEY_LEN], const uint8_t k[static INTRO_KEY_LEN])
{
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 intro slot key");
	hash_add(&ctx, k, INTRO_KEY_LEN);
	hash_end(&ctx, out);
}

void intro_slot_iid(uint8_t iid_out[static INTRO_IID_LEN], const uint8_t seed_iid[static INTRO_IID_LEN],
		    const uint8_t slot_key[static INTRO_SLOT_KEY_LEN], uint64_t slot)
{
	struct in6_addr seed;
	struct rotate_endpoint ep;

	/* The same computation as the client's tunnel (rotate.h), so both ends
	 * agree even on the rare reserved IIDs. */
	memset(&seed, 0, sizeof(seed));
	memcpy(seed.s6_addr + 8, seed_iid, INTRO_IID_LEN);
	rotate_endpoint_for(&seed, slot_key, slot, &ep);
	memcpy(iid_out, ep.addr.s6_addr + 8, INTRO_IID_LEN);
}

static uint64_t iid_key(const uint8_t iid[static INTRO_IID_LEN])
{
	return get_be64(iid);
}

int intro_map_init(struct intro_map *m, size_t max_entries)
{
	size_t cap = 16;

	memset(m, 0, sizeof(*m));
	while (cap < 2 * max_entries)
		cap *= 2;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = calloc(cap, sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		intro_map_fini(m);
		return -ENOMEM;
	}
	m->cap = cap;
	return 0;
}

void intro_map_fini(struct intro_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

void intro_map_clear(struct intro_map *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->len = 0;
	m->collisions = 0;
}

/* IIDs are hash outputs (the attacker chooses only what is looked up, never
 * what is stored), so their low bits index the table directly. */
static size_t map_home(const struct intro_map *m, uint64_t key)
{
	return (size_t)(key ^ (key >> 32)) & (m->cap - 1);
}

int intro_map_put(struct intro_map *m, const uint8_t iid[static INTRO_IID_LEN], uint32_t val)
{
	uint64_t key = iid_key(iid);
	size_t i;

	if (key == 0 || !m->cap)
		return -EINVAL;
	if (m->len + 1 > m->cap / 2)
		return -ENOSPC;
	for (i = map_home(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			m->collisions++;
			return -EEXIST;
		}
		if (m->keys[i] == 0)
			break;
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->len++;
	return 0;
}

int64_t intro_map_get(const struct intro_map *m, const uint8_t iid[static INTRO_IID_LEN])
{
	uint64_t key = iid_key(iid);
	size_t i;

	if (key == 0 || !m->cap)
		return -ENOENT;
	/* At most half full: a probe sequence always ends at an empty cell. */
	for (i = map_home(m, key); m->keys[i] != 0; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i];
	return -ENOENT;
}

size_t intro_map_build(struct intro_map *m, const uint8_t (*c_iids)[INTRO_IID_LEN],
		       const bool *is_active, size_t n,
		       const uint8_t slot_key[static INTRO_SLOT_KEY_LEN], uint64_t slot)
{
	uint8_t iid[INTRO_IID_LEN];
	size_t i;

	intro_map_clear(m);
	for (i = 0; i < n; i++) {
		if (is_active && !is_active[i])
			continue;
		intro_slot_iid(iid, c_iids[i], slot_key, slot);
		intro_map_put(m, iid, (uint32_t)i);
	}
	return m->len;
}

int intro_inner_parse(const uint8_t *pkt, size_t len, struct in6_addr *src_out,
		      struct in6_addr *dst_out, const uint8_t **payload_out, size_t *payload_len_out)
{
	if (len < INTRO_IPV6_HEADER_LEN || (pkt[0] >> 4) != 6 || pkt[6] != INTRO_NEXT_HEADER ||
	    get_be16(pkt + 4) != len - INTRO_IPV6_HEADER_LEN)
		return INTRO_ERR_INNER;
	memcpy(src_out->s6_addr, pkt + 8, 16);
	memcpy(dst_out->s6_addr, pkt + 24, 16);
	*payload_out = pkt + INTRO_IPV6_HEADER_LEN;
	*payload_len_out = len - INTRO_IPV6_HEADER_LEN;
	return 0;
}

int intro_inner_build(uint8_t *out, size_t out_len, const struct in6_addr *src,
		      const struct in6_addr *dst, const uint8_t *payload, size_t payload_len)
{
	if (payload_len > 0xffff || out_len < INTRO_IPV6_HEADER_LEN + payload_len)
		return -EMSGSIZE;
	memset(out, 0, INTRO_IPV6_HEADER_LEN);
	out[0] = 0x60;
	put_be16(out + 4, (uint16_t)payload_len);
	out[6] = INTRO_NEXT_HEADER;
	out[7] = INTRO_HOP_LIMIT;
	memcpy(out + 8, src->s6_addr, 16);
	memcpy(out + 24, dst->s6_addr, 16);
	if (payload_len)
		memmove(out + INTRO_IPV6_HEADER_LEN, payload, payload_len);
	return (int)(INTRO_IPV6_HEADER_LEN + payload_len);
}

int intro_check_request(struct msg_replay *cache, const uint8_t server_priv[static MSG_KEY_LEN],
			const uint8_t server_pub[static MSG_KEY_LEN], uint32_t expected_id,
			const uint8_t client_pub[static MSG_KEY_LEN],
			const uint8_t c_iid[static INTRO_IID_LEN], const struct in6_addr *inner_src,
			uint64_t now_ms, const uint8_t *msg, size_t len,
			struct msg_request *req_out, struct msg_handshake *hs_out)
{
	struct msg_request req;
	struct msg_handshake hs;
	uint32_t id;
	int rc;

	rc = msg_request_peek_id(msg, len, &id);
	if (rc < 0)
		return rc;
	if (id != expected_id)
		return INTRO_ERR_CLIENT_ID;
	rc = msg_request_open(cache, server_priv, server_pub, client_pub, now_ms, msg, len, &req,
			      &hs);
	if (rc < 0)
		return rc;
	if (sodium_memcmp(req.seed_addr + 8, c_iid, INTRO_IID_LEN) != 0 ||
	    memcmp(req.seed_addr, inner_src->s6_addr, 16) != 0) {
		msg_handshake_wipe(&hs);
		return INTRO_ERR_CIID;
	}
	*req_out = req;
	*hs_out = hs;
	msg_handshake_wipe(&hs);
	return 0;
}

static void plan_addr(const struct in6_addr *prefix, uint8_t side, uint32_t id, struct in6_addr *out)
{
	*out = *prefix;
	memset(out->s6_addr + 8, 0, 8);
	out->s6_addr[11] = side;
	out->s6_addr[13] = (uint8_t)(id >> 16);
	out->s6_addr[14] = (uint8_t)(id >> 8);
	out->s6_addr[15] = (uint8_t)id;
}

void intro_tunnel_addrs(const struct in6_addr *prefix, uint32_t id, struct in6_addr *server_out,
			struct in6_addr *client_out)
{
	if (server_out)
		plan_addr(prefix, 1, id, server_out);
	if (client_out)
		plan_addr(prefix, 2, id, client_out);
}

static int64_t plan_addr_id(const struct in6_addr *prefix, unsigned prefix_len, uint8_t side,
			    const struct in6_addr *addr)
{
	const uint8_t head[5] = { 0, 0, 0, side, 0 };
	unsigned full = prefix_len / 8, rest = prefix_len % 8;
	uint32_t id;

	if (prefix_len > 64)
		return -ENOENT;
	if (memcmp(addr->s6_addr, prefix->s6_addr, full) != 0)
		return -ENOENT;
	if (rest && ((addr->s6_addr[full] ^ prefix->s6_addr[full]) & (0xff << (8 - rest))))
		return -ENOENT;
	if (memcmp(addr->s6_addr + 8, head, sizeof(head)) != 0)
		return -ENOENT;
	id = (uint32_t)addr->s6_addr[13] << 16 | (uint32_t)addr->s6_addr[14] << 8 | addr->s6_addr[15];
	return id;
}

int64_t intro_tunnel_addr_id(const struct in6_addr *prefix, unsigned prefix_len,
			     const struct in6_addr *addr)
{
	return plan_addr_id(prefix, prefix_len, 1, addr);
}

int64_t intro_client_tunnel_addr_id(const struct in6_addr *prefix, unsigned prefix_len,
				    const struct in6_addr *addr)
{
	return plan_addr_id(prefix, prefix_len, 2, addr);
}

int64_t intro_packet_client_id(const struct in6_addr *prefix, unsigned prefix_len,
			       const uint8_t *pkt, size_t len)
{
	struct in6_addr dst;

	if (len < 40 || (pkt[0] >> 4) != 6)
		return -ENOENT;
	memcpy(dst.s6_addr, pkt + 24, 16);
	return intro_client_tunnel_addr_id(prefix, prefix_len, &dst);
}

void intro_default_tunnel_prefix(const uint8_t server_pub[static MSG_KEY_LEN],
				 struct in6_addr *prefix_out)
{
	uint8_t h[MT6D_HASH_LEN];
	struct hash_ctx ctx;

	hash_begin(&ctx, "mt6d/1 tunnel prefix");
	hash_add(&ctx, server_pub, MSG_KEY_LEN);
	hash_end(&ctx, h);
	memset(prefix_out, 0, sizeof(*prefix_out));
	prefix_out->s6_addr[0] = 0xfd;
	memcpy(prefix_out->s6_addr + 1, h, 5);
}

void intro_random_iid(uint8_t iid_out[static INTRO_IID_LEN])
{
	do
		randombytes_buf(iid_out, INTRO_IID_LEN);
	while (derive_iid_is_reserved(iid_out));
}

const char *intro_strerror(int rc)
{
	switch (rc) {
	case INTRO_ERR_INNER: return "inner packet not IPv6 with next header 253";
	case INTRO_ERR_CLIENT_ID: return "client id differs from the one the source address names";
	case INTRO_ERR_CIID: return "source address not the client's seed for this window";
	default: return msg_strerror(rc);
	}
}
