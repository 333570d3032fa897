/* rdvitem: rendezvous messages as BEP 44 items (rdvitem.h). */
#include "mt6d/engine/rdvitem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/rendezvous.h"

int rdvitem_make(struct dht_item *out, const uint8_t writer_priv[static ITEMKEY_LEN],
		 const uint8_t s[static ITEMKEY_LEN], uint64_t window_start, enum itemkey_kind kind,
		 uint8_t epoch, const uint8_t *sealed, size_t len)
{
	struct itemkey_secret k;
	uint8_t buf[DHT_ITEM_MAX_V + 64];
	int n;

	if (len < RENDEZVOUS_OVERHEAD || len > RENDEZVOUS_MAX_MSG_LEN)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	n = snprintf((char *)out->v, sizeof(out->v), "%zu:", len);
	memcpy(out->v + n, sealed, len);
	out->v_len = (size_t)n + len;
	out->seq = epoch;
	n = itemkey_blind_secret(&k, writer_priv, s, window_start, kind);
	if (n == 0) {
		memcpy(out->k, k.pub, ITEMKEY_LEN);
		n = dht_item_signed_data(buf, sizeof(buf), NULL, 0, out->seq, out->v, out->v_len);
		n = n < 0 ? n : itemkey_sign(out->sig, &k, buf, (size_t)n);
	}
	sodium_memzero(&k, sizeof(k));
	return n < 0 ? -EINVAL : 0;
}

int rdvitem_target(uint8_t target_out[static DHT_ID_LEN], const uint8_t writer_pub[static ITEMKEY_LEN],
		   const uint8_t s[static ITEMKEY_LEN], uint64_t window_start, enum itemkey_kind kind)
{
	uint8_t pub[ITEMKEY_LEN];
	int rc = itemkey_blind_public(pub, writer_pub, s, window_start, kind);
	if (rc == 0)
		dht_item_target(pub, NULL, 0, target_out);
	return rc;
}

int rdvitem_sealed(const struct dht_item *it, const uint8_t **sealed_out, uint8_t *epoch_out)
{
	size_t len = 0, i = 0;

	if (it->seq < 0 || it->seq > UINT8_MAX)
		return -EINVAL;
	/* Canonical bencode: digits without a leading zero, then ':'. */
	while (i < it->v_len && i < 4 && it->v[i] >= '0' && it->v[i] <= '9')
		len = len * 10 + (size_t)(it->v[i++] - '0');
	if (i == 0 || i >= it->v_len || it->v[i] != ':' || (it->v[0] == '0' && i > 1) ||
	    len < RENDEZVOUS_OVERHEAD || len > RENDEZVOUS_MAX_MSG_LEN || i + 1 + len != it->v_len)
		return -EINVAL;
	*sealed_out = it->v + i + 1;
	*epoch_out = (uint8_t)it->seq;
	return (int)len;
}
