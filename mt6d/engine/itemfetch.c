/* itemfetch: get and open the rendezvous item of each window (itemfetch.h). */
#include "mt6d/engine/itemfetch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"
#include "mt6d/engine/rdvitem.h"

#define MAX_WIN 3
#define RETRY_MS 50           /* an empty table or a full node: ask again */

struct iwin {
	struct itemfetch *f;
	uint64_t start;
	uint8_t target[DHT_ID_LEN];
	int op;
	bool is_started, is_done, has_item, is_open;
	int status;               /* of the lookup: 0 or -ETIMEDOUT */
	int64_t opened_ms;
	uint8_t epoch;
	struct rendezvous_config cfg;
	uint8_t msg[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN];
	size_t msg_len;
	uint8_t from[RENDEZVOUS_ADDR_LEN];
};

struct itemfetch {
	struct dht *dht;
	struct fetch_params prm;
	uint8_t own_priv[RENDEZVOUS_KEY_LEN], peer_pub[RENDEZVOUS_KEY_LEN];
	uint8_t s[DERIVE_SECRET_LEN];
	fetch_done_fn *done;
	void *closure;
	bool is_started, is_done;
	int64_t started_ms, now_ms;
	uint64_t now_s, primary;
	struct iwin w[MAX_WIN];
	size_t n_w;
	struct fetch_result res;
};

int itemfetch_new(struct dht *d, const struct fetch_params *params,
		  const uint8_t own_priv[static RENDEZVOUS_KEY_LEN],
		  const uint8_t peer_pub[static RENDEZVOUS_KEY_LEN], fetch_done_fn *done,
		  void *closure, struct itemfetch **out)
{
	if (!d || !params || !done || !params->period_s ||
	    (params->kind != FETCH_CONFIG && params->kind != FETCH_MESSAGE) ||
	    (params->family != AF_INET && params->family != AF_INET6) ||
	    params->edge_s * 2 >= params->period_s)
		return -EINVAL;
	struct itemfetch *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (keys_shared_secret(f->s, own_priv, peer_pub) < 0) {
		free(f);
		return -EINVAL;
	}
	f->dht = d;
	f->prm = *params;
	memcpy(f->own_priv, own_priv, sizeof(f->own_priv));
	memcpy(f->peer_pub, peer_pub, sizeof(f->peer_pub));
	f->done = done;
	f->closure = closure;
	*out = f;
	return 0;
}

void itemfetch_free(struct itemfetch *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_w; i++)
		if (f->w[i].is_started && !f->w[i].is_done)
			dht_cancel(f->dht, f->w[i].op);
	sodium_memzero(f, sizeof(*f));
	free(f);
}

int itemfetch_is_done(const struct itemfetch *f)
{
	return f->is_done;
}

static void finish(struct itemfetch *f, int status, const struct iwin *w)
{
	if (f->is_done)
		return;
	f->is_done = true;
	for (size_t i = 0; i < f->n_w; i++) {
		if (f->w[i].is_started && !f->w[i].is_done) {
			dht_cancel(f->dht, f->w[i].op);
			f->w[i].is_done = true;
		}
	}
	f->res.status = status;
	if (w) {
		f->res.window_start = w->start;
		f->res.epoch = w->epoch;
		f->res.cfg = w->cfg;
		memcpy(f->res.msg, w->msg, w->msg_len);
		f->res.msg_len = w->msg_len;
		memcpy(f->res.from_addr, w->from, sizeof(w->from));
	}
	f->res.progress.elapsed_ms = f->now_ms - f->started_ms;
	f->done(f->closure, &f->res);
}

/* The verdict of fetch.h, in its order: the window asked for (expired if
 * it is over), the next, the previous (expired); then not authentic,
 * nothing, no node. Waits while a lookup that could change it runs. */
static void maybe_finish(struct itemfetch *f)
{
	bool is_running = false, has_item = false, has_answer = false;
	for (size_t i = 0; i < f->n_w; i++) {
		const struct iwin *w = &f->w[i];
		is_running |= !w->is_done;
		has_item |= w->has_item;
		has_answer |= w->is_done && w->status == 0;
		if (w->start == f->primary && w->is_open &&
		    (w->is_done || f->now_ms - w->opened_ms >= ITEMFETCH_GRACE_MS)) {
			bool is_over = w->start + f->prm.period_s <= f->now_s;
			finish(f, is_over ? FETCH_ERR_EXPIRED : 0, w);
			return;
		}
	}
	if (is_running)
		return;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < f->n_w; i++)
			if (f->w[i].is_open && (pass == 1 || f->w[i].start > f->primary)) {
				finish(f, pass == 0 ? 0 : FETCH_ERR_EXPIRED, &f->w[i]);
				return;
			}
	finish(f, has_item ? FETCH_ERR_NOT_AUTHENTIC : has_answer ? FETCH_ERR_NOTHING
								 : FETCH_ERR_NO_NODES, NULL);
}

/* An authentic item (dht/ checked its signature under A'); opening it
 * checks that it is ours: the seal binds the keys, T and the epoch. */
static void open_item(struct itemfetch *f, struct iwin *w, const struct dht_item *it)
{
	const uint8_t *sealed;
	uint8_t epoch;
	int len = rdvitem_sealed(it, &sealed, &epoch);
	w->has_item = true;
	if (len < 0 || (w->is_open && epoch <= w->epoch))
		return;
	int rc;
	if (f->prm.kind == FETCH_CONFIG) {
		rc = rendezvous_config_open(&w->cfg, sealed, (size_t)len, f->own_priv, f->peer_pub,
					    w->start, epoch);
	} else {
		rc = rendezvous_message_open(w->msg, sealed, (size_t)len, f->own_priv, f->peer_pub,
					     w->start, epoch);
		if (rc >= 0)
			w->msg_len = (size_t)rc;
	}
	if (rc < 0)
		return;
	if (!w->is_open)
		w->opened_ms = f->now_ms;
	w->is_open = true;
	w->epoch = epoch;
}

static void on_get(void *closure, const struct dht_result *r)
{
	struct iwin *w = closure;
	struct itemfetch *f = w->f;
	if (f->is_done)
		return;
	if (r->event == DHT_EVENT_ITEM) {
		open_item(f, w, r->item);
	} else if (r->event == DHT_EVENT_DONE) {
		w->is_done = true;
		w->status = r->status;
		f->res.progress.queries += r->n_queries;
		f->res.progress.lookups_done++;
		f->res.progress.nodes += r->n_nodes;
	} else {
		return;
	}
	maybe_finish(f);
}

static void pump(struct itemfetch *f, int64_t now_ms)
{
	struct dht_stats st;
	dht_get_stats(f->dht, now_ms, &st);
	if ((f->prm.family == AF_INET6 ? st.good6 + st.questionable6 + st.bad6
				       : st.good4 + st.questionable4 + st.bad4) == 0)
		return;                 /* see fetch.c, is_table_empty */
	for (size_t i = 0; i < f->n_w && !f->is_done; i++) {
		struct iwin *w = &f->w[i];
		if (w->is_started)
			continue;
		w->is_started = true;
		int op = dht_get_item(f->dht, w->target, NULL, 0, f->prm.family, on_get, w, now_ms);
		if (op == -EBUSY) {
			w->is_started = false;
			return;
		}
		f->res.progress.lookups_started++;
		if (op < 0) {
			w->is_done = true;
			w->status = op;
		} else if (!w->is_done) {
			w->op = op;
		}
	}
}

int itemfetch_start(struct itemfetch *f, int64_t now_ms, int64_t unix_ms)
{
	if (f->is_started)
		return -EALREADY;
	f->is_started = true;
	f->started_ms = f->now_ms = now_ms;
	f->now_s = unix_ms > 0 ? (uint64_t)(unix_ms / 1000) : 0;
	uint32_t n = f->prm.period_s;
	uint64_t cur = derive_window_start((int64_t)f->now_s, n);
	uint64_t starts[MAX_WIN];
	size_t k = 0;
	if (f->prm.window_start) {
		starts[k++] = f->prm.window_start - f->prm.window_start % n;
	} else {
		starts[k++] = cur;
		if (f->now_s - cur < f->prm.edge_s && cur >= n)
			starts[k++] = cur - n;
		if (cur + n - f->now_s <= f->prm.edge_s)
			starts[k++] = cur + n;
	}
	f->primary = starts[0];
	enum itemkey_kind kind = f->prm.kind == FETCH_CONFIG ? ITEMKEY_CONFIG : ITEMKEY_MESSAGE;
	for (size_t i = 0; i < k; i++) {
		struct iwin *w = &f->w[f->n_w];
		w->f = f;
		w->start = starts[i];
		if (rdvitem_target(w->target, f->peer_pub, f->s, w->start, kind) < 0) {
			/* A server key with no Edwards form: no item can exist. */
			finish(f, FETCH_ERR_NOTHING, NULL);
			return 0;
		}
		f->n_w++;
	}
	pump(f, now_ms);
	return 0;
}

int64_t itemfetch_tick(struct itemfetch *f, int64_t now_ms)
{
	if (!f->is_started || f->is_done)
		return INT64_MAX;
	f->now_ms = now_ms;
	if (f->prm.timeout_ms && now_ms - f->started_ms >= f->prm.timeout_ms) {
		finish(f, f->res.progress.lookups_started ? FETCH_ERR_TIMEOUT : FETCH_ERR_NO_NODES, NULL);
		return INT64_MAX;
	}
	pump(f, now_ms);
	maybe_finish(f);
	return f->is_done ? INT64_MAX : now_ms + RETRY_MS;
}
