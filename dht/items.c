/* BEP 44 mutable items: the get and put queries our node serves, and the
 * item side of our own get and put operations (their lookups and the
 * sending of puts are lookup.c's, shared with get_peers and announce). */
#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "dht/node.h"

void dht_item_target(const uint8_t k[DHT_ITEM_KEY_LEN], const uint8_t *salt, size_t salt_len,
		     uint8_t target_out[DHT_ID_LEN])
{
	itemstore_sha1(k, DHT_ITEM_KEY_LEN, salt, salt_len, target_out);
}

int dht_item_signed_data(uint8_t *buf, size_t cap, const uint8_t *salt, size_t salt_len,
			 int64_t seq, const uint8_t *v, size_t v_len)
{
	return itemstore_signed_data(buf, cap, salt, salt_len, seq, v, v_len);
}

/* --- Serving --------------------------------------------------------------- */

void items_serve_get(struct dht *d, const struct krpc_msg *q, struct krpc_msg *r,
		     const struct krpc_addr *from, int64_t now_ms)
{
	(void)from;
	const struct itemstore_item *it = itemstore_get(&d->items, q->target, now_ms);
	if (!it)
		return;
	r->has_seq = true;
	r->seq = it->seq;
	/* BEP 44: an asker that already has this seq (or a newer one) gets the
	 * number alone. */
	if (q->has_seq && q->seq >= it->seq)
		return;
	r->has_k = r->has_sig = r->has_v = true;
	memcpy(r->k, it->k, DHT_ITEM_KEY_LEN);
	memcpy(r->sig, it->sig, DHT_ITEM_SIG_LEN);
	memcpy(r->v, it->v, it->v_len);
	r->v_len = it->v_len;
}

int items_serve_put(struct dht *d, const struct krpc_msg *q, const struct krpc_addr *from,
		    int64_t now_ms)
{
	uint8_t target[DHT_ID_LEN];
	if (!q->has_k)
		return KRPC_ERR_PROTOCOL;
	/* The token was given for the target, as an announce's for its
	 * info_hash: a writer must have asked from its own address. */
	itemstore_sha1(q->k, DHT_ITEM_KEY_LEN, q->salt, q->salt_len, target);
	if (!peerstore_is_token_valid(&d->ps, from, target, q->token, q->token_len)) {
		d->st.rx_bad_token++;
		return KRPC_ERR_PROTOCOL;
	}
	int code = itemstore_put(&d->items, q, d->id, now_ms);
	if (code)
		d->st.store_refused++;
	return code;
}

/* --- Our operations ---------------------------------------------------------- */

bool op_is_item(const struct op *o)
{
	return o->kind == OP_GET_ITEM || o->kind == OP_PUT_ITEM;
}

/* A get's lookup reply: keeps an authentic item of the target with a seq
 * above the best so far and tells the caller at once (a reader acts on the
 * first config that opens). A reply for another key, or a forgery, is
 * ignored: anyone may answer anything. */
void items_on_reply(struct dht *d, struct op *o, const struct krpc_msg *m)
{
	uint8_t target[DHT_ID_LEN];
	if (o->kind != OP_GET_ITEM || !m->has_k || !m->has_sig || !m->has_seq || !m->has_v)
		return;
	if (o->has_item && m->seq <= o->item.seq)
		return;
	itemstore_sha1(m->k, DHT_ITEM_KEY_LEN, o->item.salt, o->item.salt_len, target);
	if (memcmp(target, o->target, DHT_ID_LEN) != 0 ||
	    !itemstore_is_signed(m, o->item.salt, o->item.salt_len))
		return;
	memcpy(o->item.k, m->k, DHT_ITEM_KEY_LEN);
	memcpy(o->item.sig, m->sig, DHT_ITEM_SIG_LEN);
	o->item.seq = m->seq;
	memcpy(o->item.v, m->v, m->v_len);
	o->item.v_len = m->v_len;
	o->has_item = true;
	dbg(d, "op %d item seq %lld, %zu bytes", o->id, (long long)m->seq, o->item.v_len);
	if (!o->cb || o->is_cancelled)
		return;
	struct dht_result r;
	memset(&r, 0, sizeof(r));
	r.event = DHT_EVENT_ITEM;
	r.op = o->id;
	r.target = o->target;
	r.item = &o->item;
	o->cb(o->closure, &r);
}

void items_fill_put(const struct op *o, struct krpc_msg *q)
{
	q->has_k = q->has_sig = q->has_seq = q->has_v = true;
	memcpy(q->k, o->item.k, DHT_ITEM_KEY_LEN);
	memcpy(q->sig, o->item.sig, DHT_ITEM_SIG_LEN);
	q->seq = o->item.seq;
	memcpy(q->salt, o->item.salt, o->item.salt_len);
	q->salt_len = (uint8_t)o->item.salt_len;
	memcpy(q->v, o->item.v, o->item.v_len);
	q->v_len = (uint16_t)o->item.v_len;
}

static int start_with(struct dht *d, uint8_t kind, const uint8_t *target,
		      const struct dht_item *item, int family, dht_result_fn *cb, void *closure,
		      int64_t now_ms)
{
	static const uint16_t one_put[1] = { 1 };
	d->starting_item = item;
	int rc = op_start(d, kind, target, family, kind == OP_PUT_ITEM ? one_put : NULL,
			  kind == OP_PUT_ITEM ? 1 : 0, cb, closure, now_ms);
	d->starting_item = NULL;
	return rc;
}

int dht_get_item(struct dht *d, const uint8_t target[DHT_ID_LEN], const uint8_t *salt,
		 size_t salt_len, int family, dht_result_fn *cb, void *closure, int64_t now_ms)
{
	struct dht_item want;
	if (salt_len > DHT_ITEM_MAX_SALT || (salt_len && !salt))
		return -EINVAL;
	memset(&want, 0, sizeof(want));
	if (salt_len)
		memcpy(want.salt, salt, salt_len);
	want.salt_len = salt_len;
	want.seq = -1;
	return start_with(d, OP_GET_ITEM, target, &want, family, cb, closure, now_ms);
}

int dht_put_item(struct dht *d, const struct dht_item *item, int family,
		 dht_result_fn *cb, void *closure, int64_t now_ms)
{
	static struct krpc_msg m;     /* large: not on the stack */
	uint8_t target[DHT_ID_LEN];
	if (!item || item->seq < 0 || item->v_len == 0 || item->v_len > DHT_ITEM_MAX_V ||
	    item->salt_len > DHT_ITEM_MAX_SALT)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.has_k = m.has_sig = m.has_seq = m.has_v = true;
	memcpy(m.k, item->k, DHT_ITEM_KEY_LEN);
	memcpy(m.sig, item->sig, DHT_ITEM_SIG_LEN);
	m.seq = item->seq;
	memcpy(m.v, item->v, item->v_len);
	m.v_len = (uint16_t)item->v_len;
	if (!itemstore_is_signed(&m, item->salt, item->salt_len))
		return -EINVAL;
	dht_item_target(item->k, item->salt, item->salt_len, target);
	return start_with(d, OP_PUT_ITEM, target, item, family, cb, closure, now_ms);
}
