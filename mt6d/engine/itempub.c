/* itempub: one BEP 44 item per client and window (itempub.h). */
#include "mt6d/engine/itempub.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"
#include "mt6d/engine/rdvitem.h"

#define N_WIN 2               /* the current window and the next */
#define IDLE_MS 1000          /* longest sleep */

enum job_state { J_NONE = 0, J_DUE, J_RUNNING, J_DONE };

/* One client's item for one window. */
struct job {
	uint64_t window;
	uint8_t state;
	bool has_sealed, is_refresh;
	int16_t stored;           /* epoch the nodes hold, -1: none yet */
	uint8_t epoch;            /* of sealed */
	int64_t due_unix_ms;
	uint8_t sealed[RENDEZVOUS_CONFIG_LEN];
};

struct member {
	bool in_use;
	uint32_t gen;
	uint16_t node;
	uint8_t pub[RENDEZVOUS_KEY_LEN];
	uint8_t s[DERIVE_SECRET_LEN];
	struct job job[N_WIN];
};

struct win {
	bool in_use;
	uint64_t start;
	uint8_t epoch;
	struct rendezvous_config cfg;
};

/* A put in flight: its dht operation's closure. */
struct put {
	bool in_use, is_done;
	struct itempub *p;
	uint32_t member, gen;
	uint8_t k;
	struct dht *dht;
	int op;
	size_t acked, stored, wanted;
};

struct itempub {
	struct publish_params prm;
	uint8_t priv[RENDEZVOUS_KEY_LEN];
	struct dht **nodes;
	size_t n_nodes;
	struct member *m;
	size_t n_m, cap_m, n_registered;
	struct win w[N_WIN];
	struct put *puts;
	size_t n_puts, n_finished;
	int64_t next_scan_unix_ms;
	struct itempub_stats st;
};

static int64_t draw_below(const struct itempub *p, int64_t range)
{
	uint64_t v;
	if (range <= 1)
		return 0;
	if (p->prm.random)
		p->prm.random(&v, sizeof(v));
	else
		randombytes_buf(&v, sizeof(v));
	return (int64_t)(v % (uint64_t)range);
}

int itempub_new(const struct publish_params *params, const uint8_t server_priv[static RENDEZVOUS_KEY_LEN],
		struct dht *const *nodes, size_t n_nodes, struct itempub **out)
{
	if (!params || !nodes || !n_nodes || n_nodes > UINT16_MAX || !params->period_s ||
	    !params->max_ops_per_node || params->max_ops_per_node >= DHT_MAX_OPS ||
	    (params->family != AF_INET && params->family != AF_INET6))
		return -EINVAL;
	struct itempub *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->prm = *params;
	if (!p->prm.retry_s)
		p->prm.retry_s = 1;
	memcpy(p->priv, server_priv, sizeof(p->priv));
	p->n_nodes = n_nodes;
	p->n_puts = n_nodes * params->max_ops_per_node;
	p->nodes = calloc(n_nodes, sizeof(*p->nodes));
	p->puts = calloc(p->n_puts, sizeof(*p->puts));
	if (!p->nodes || !p->puts) {
		itempub_free(p);
		return -ENOMEM;
	}
	memcpy(p->nodes, nodes, n_nodes * sizeof(*nodes));
	*out = p;
	return 0;
}

static void put_cancel(struct itempub *p, struct put *u)
{
	if (u->in_use && !u->is_done)
		dht_cancel(u->dht, u->op);
	else if (u->in_use && p->n_finished)
		p->n_finished--;
	memset(u, 0, sizeof(*u));
}

/* Cancels the puts of one member (k < 0: of every window). */
static void cancel_member(struct itempub *p, uint32_t mi, int k)
{
	for (size_t i = 0; i < p->n_puts; i++)
		if (p->puts[i].in_use && p->puts[i].member == mi && (k < 0 || p->puts[i].k == k))
			put_cancel(p, &p->puts[i]);
}

void itempub_free(struct itempub *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->puts && i < p->n_puts; i++)
		put_cancel(p, &p->puts[i]);
	if (p->m)
		sodium_memzero(p->m, p->cap_m * sizeof(*p->m));
	sodium_memzero(p->priv, sizeof(p->priv));
	sodium_memzero(p->w, sizeof(p->w));
	free(p->m);
	free(p->puts);
	free(p->nodes);
	free(p);
}

static struct member *member_of(struct itempub *p, const uint8_t *pub)
{
	for (size_t i = 0; i < p->n_m; i++)
		if (p->m[i].in_use && sodium_memcmp(p->m[i].pub, pub, RENDEZVOUS_KEY_LEN) == 0)
			return &p->m[i];
	return NULL;
}

static struct member *member_slot(struct itempub *p)
{
	for (size_t i = 0; i < p->n_m; i++)
		if (!p->m[i].in_use)
			return &p->m[i];
	if (p->n_m == p->cap_m) {
		size_t cap = p->cap_m ? 2 * p->cap_m : 64;
		struct member *nm = calloc(cap, sizeof(*nm));
		if (!nm)
			return NULL;
		if (p->m)
			memcpy(nm, p->m, p->n_m * sizeof(*nm));
		if (p->m)
			sodium_memzero(p->m, p->cap_m * sizeof(*nm));
		free(p->m);
		p->m = nm;
		p->cap_m = cap;
	}
	return &p->m[p->n_m++];
}

int itempub_add_client(struct itempub *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN])
{
	uint8_t s[DERIVE_SECRET_LEN];
	if (member_of(p, client_pub))
		return -EEXIST;
	if (keys_shared_secret(s, p->priv, client_pub) < 0)
		return -EINVAL;
	struct member *m = member_slot(p);
	if (!m) {
		sodium_memzero(s, sizeof(s));
		return -ENOMEM;
	}
	uint32_t gen = m->gen + 1;
	memset(m, 0, sizeof(*m));
	m->in_use = true;
	m->gen = gen;
	m->node = (uint16_t)((size_t)(m - p->m) % p->n_nodes);
	memcpy(m->pub, client_pub, RENDEZVOUS_KEY_LEN);
	memcpy(m->s, s, sizeof(s));
	sodium_memzero(s, sizeof(s));
	p->n_registered++;
	p->next_scan_unix_ms = 0;
	return 0;
}

int itempub_remove_client(struct itempub *p, const uint8_t client_pub[static RENDEZVOUS_KEY_LEN])
{
	struct member *m = member_of(p, client_pub);
	if (!m)
		return -ENOENT;
	cancel_member(p, (uint32_t)(m - p->m), -1);
	uint32_t gen = m->gen;
	sodium_memzero(m, sizeof(*m));
	m->gen = gen;
	p->n_registered--;
	return 0;
}

static int win_index(const struct itempub *p, uint64_t start)
{
	return (int)((start / p->prm.period_s) % N_WIN);
}

int itempub_set_config(struct itempub *p, uint64_t window_start, const struct rendezvous_config *cfg,
		       int64_t unix_ms)
{
	uint64_t n = p->prm.period_s;
	uint64_t cur = derive_window_start(unix_ms / 1000, p->prm.period_s);
	if (!cfg || !cfg->period_s || window_start % n || window_start + n <= (uint64_t)(unix_ms / 1000) ||
	    window_start > cur + n)
		return -EINVAL;
	int k = win_index(p, window_start);
	struct win *w = &p->w[k];
	if (w->in_use && w->start == window_start) {
		if (sodium_memcmp(&w->cfg, cfg, sizeof(*cfg)) == 0)
			return w->epoch;
		if (w->epoch == UINT8_MAX)
			return -ERANGE;
		w->epoch++;
		w->cfg = *cfg;
		/* The new seq replaces the old item wherever it lands: every
		 * member at once, spread over urgent_spread_s. */
		for (size_t i = 0; i < p->n_m; i++) {
			struct job *j = &p->m[i].job[k];
			if (!p->m[i].in_use || j->window != window_start || j->state == J_NONE)
				continue;
			if (j->state == J_RUNNING)
				cancel_member(p, (uint32_t)i, k);
			j->state = J_DUE;
			j->is_refresh = false;
			j->due_unix_ms = unix_ms + draw_below(p, (int64_t)p->prm.urgent_spread_s * 1000);
		}
		p->next_scan_unix_ms = 0;
		return w->epoch;
	}
	for (size_t i = 0; i < p->n_m; i++) {
		struct job *j = &p->m[i].job[k];
		if (j->window && j->window != window_start) {
			if (j->state == J_RUNNING)
				cancel_member(p, (uint32_t)i, k);
			memset(j, 0, sizeof(*j));
		}
	}
	sodium_memzero(w, sizeof(*w));
	w->in_use = true;
	w->start = window_start;
	w->cfg = *cfg;
	p->next_scan_unix_ms = 0;
	return 0;
}

int itempub_resume_window(struct itempub *p, uint64_t window_start, uint8_t epoch,
			  const struct rendezvous_config *cfg, int64_t unix_ms)
{
	const struct win *w = &p->w[win_index(p, window_start)];
	if (w->in_use && w->start == window_start)
		return -EINVAL;
	int rc = itempub_set_config(p, window_start, cfg, unix_ms);
	if (rc < 0)
		return rc;
	p->w[win_index(p, window_start)].epoch = epoch;
	return epoch;
}

int itempub_get_epoch(const struct itempub *p, uint64_t window_start)
{
	const struct win *w = &p->w[win_index(p, window_start)];
	return w->in_use && w->start == window_start ? w->epoch : -ENOENT;
}

int itempub_is_window_done(const struct itempub *p, uint64_t window_start)
{
	int k = win_index(p, window_start);
	const struct win *w = &p->w[k];
	if (!w->in_use || w->start != window_start)
		return 0;
	for (size_t i = 0; i < p->n_m; i++)
		if (p->m[i].in_use && (p->m[i].job[k].window != window_start ||
				       p->m[i].job[k].stored < w->epoch))
			return 0;
	return 1;
}

void itempub_get_stats(const struct itempub *p, struct itempub_stats *out)
{
	*out = p->st;
	out->clients = p->n_registered;
	out->ops_in_flight = 0;
	for (size_t i = 0; i < p->n_puts; i++)
		out->ops_in_flight += p->puts[i].in_use && !p->puts[i].is_done;
}

static void on_put(void *closure, const struct dht_result *r)
{
	struct put *u = closure;
	if (r->event != DHT_EVENT_DONE || !u->in_use || u->is_done)
		return;
	u->is_done = true;
	u->acked = r->n_announced;
	u->stored = r->n_stored;
	u->wanted = r->n_wanted;
	u->p->n_finished++;
}

static size_t puts_on(const struct itempub *p, const struct dht *d)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_puts; i++)
		n += p->puts[i].in_use && !p->puts[i].is_done && p->puts[i].dht == d;
	return n;
}

/* Seals (for a new epoch) and puts one job. False: no room now. */
static bool job_start(struct itempub *p, uint32_t mi, int k, int64_t now_ms)
{
	struct member *m = &p->m[mi];
	struct job *j = &m->job[k];
	const struct win *w = &p->w[k];
	struct dht *d = p->nodes[m->node];
	struct put *u = NULL;
	struct dht_stats ds;

	if (puts_on(p, d) >= p->prm.max_ops_per_node)
		return false;
	dht_get_stats(d, now_ms, &ds);
	if ((p->prm.family == AF_INET6 ? ds.good6 + ds.questionable6 : ds.good4 + ds.questionable4) == 0)
		return false;
	for (size_t i = 0; i < p->n_puts && !u; i++)
		if (!p->puts[i].in_use)
			u = &p->puts[i];
	if (!u)
		return false;
	if (!j->has_sealed || j->epoch != w->epoch) {
		if (rendezvous_config_seal(j->sealed, sizeof(j->sealed), &w->cfg, p->priv, m->pub,
					   w->start, w->epoch, p->prm.random) != RENDEZVOUS_CONFIG_LEN) {
			j->state = J_DONE;
			return true;
		}
		j->epoch = w->epoch;
		j->has_sealed = true;
	}
	static struct dht_item it;
	if (rdvitem_make(&it, p->priv, m->s, w->start, ITEMKEY_CONFIG, j->epoch, j->sealed,
			 sizeof(j->sealed)) < 0) {
		j->state = J_DONE;
		return true;
	}
	int op = dht_put_item(d, &it, p->prm.family, on_put, u, now_ms);
	sodium_memzero(&it, sizeof(it));
	if (op < 0) {
		j->due_unix_ms += IDLE_MS;
		return false;
	}
	*u = (struct put){ .in_use = true, .p = p, .member = mi, .gen = m->gen, .k = (uint8_t)k,
			   .dht = d, .op = op };
	p->st.puts_started++;
	j->state = J_RUNNING;
	return true;
}

/* Finished puts: stored when the nodes that took it reach the store quorum
 * (dht_store_quorum, as for announces), else tried again after retry_s. */
static void reap(struct itempub *p, int64_t unix_ms)
{
	for (size_t i = 0; i < p->n_puts && p->n_finished; i++) {
		struct put *u = &p->puts[i];
		if (!u->in_use || !u->is_done)
			continue;
		struct put done = *u;
		memset(u, 0, sizeof(*u));
		p->n_finished--;
		p->next_scan_unix_ms = 0;
		struct member *m = &p->m[done.member];
		struct job *j = &m->job[done.k];
		const struct win *w = &p->w[done.k];
		if (!m->in_use || m->gen != done.gen || j->state != J_RUNNING)
			continue;
		p->st.puts_acked += done.acked;
		j->state = J_DUE;
		if (!done.wanted || done.stored < done.wanted) {
			p->st.failures++;
			j->due_unix_ms = unix_ms + (int64_t)p->prm.retry_s * 1000;
			continue;
		}
		p->st.publications++;
		p->st.refreshes += j->is_refresh;
		j->is_refresh = false;
		if (j->stored < j->epoch)
			j->stored = j->epoch;
		if (j->stored < w->epoch) {
			j->due_unix_ms = unix_ms;
			continue;
		}
		int64_t again = unix_ms + (int64_t)ITEMPUB_REFRESH_S * 1000;
		if (again < (int64_t)(w->start + p->prm.period_s) * 1000) {
			j->is_refresh = true;
			j->due_unix_ms = again;
		} else {
			j->state = J_DONE;
		}
	}
}

static void drop_old_windows(struct itempub *p, int64_t unix_ms)
{
	for (int k = 0; k < N_WIN; k++) {
		struct win *w = &p->w[k];
		if (!w->in_use || (int64_t)(w->start + p->prm.period_s) * 1000 > unix_ms)
			continue;
		for (size_t i = 0; i < p->n_m; i++) {
			if (p->m[i].job[k].window != w->start)
				continue;
			cancel_member(p, (uint32_t)i, k);
			memset(&p->m[i].job[k], 0, sizeof(p->m[i].job[k]));
		}
		sodium_memzero(w, sizeof(*w));
	}
}

/* A job's first time: uniform in the round [T - lead - spread, T - lead],
 * or, started late, over what is left of it (urgent_spread_s at least). */
static int64_t first_time(const struct itempub *p, const struct win *w, int64_t unix_ms)
{
	int64_t end = ((int64_t)w->start - (int64_t)p->prm.lead_s) * 1000;
	int64_t begin = end - (int64_t)p->prm.spread_s * 1000;
	if (unix_ms > begin) {
		begin = unix_ms;
		if (end < begin + (int64_t)p->prm.urgent_spread_s * 1000)
			end = begin + (int64_t)p->prm.urgent_spread_s * 1000;
	}
	return begin + draw_below(p, end - begin);
}

int64_t itempub_tick(struct itempub *p, int64_t now_ms, int64_t unix_ms)
{
	if (p->n_finished)
		reap(p, unix_ms);
	drop_old_windows(p, unix_ms);
	if (unix_ms < p->next_scan_unix_ms) {
		int64_t wait = p->next_scan_unix_ms - unix_ms;
		return now_ms + (wait < IDLE_MS ? wait : IDLE_MS);
	}
	int64_t next = INT64_MAX;
	size_t waiting = 0;
	for (int k = 0; k < N_WIN; k++) {
		const struct win *w = &p->w[k];
		if (!w->in_use)
			continue;
		int64_t opens = ((int64_t)w->start - (int64_t)p->prm.lead_s - (int64_t)p->prm.spread_s) * 1000;
		if (unix_ms < opens) {
			next = next < opens ? next : opens;
			continue;
		}
		for (size_t i = 0; i < p->n_m; i++) {
			struct job *j = &p->m[i].job[k];
			if (!p->m[i].in_use)
				continue;
			if (j->window != w->start || j->state == J_NONE) {
				memset(j, 0, sizeof(*j));
				j->window = w->start;
				j->stored = -1;
				j->state = J_DUE;
				j->due_unix_ms = first_time(p, w, unix_ms);
			}
			if (j->state == J_DUE && j->due_unix_ms <= unix_ms &&
			    !job_start(p, (uint32_t)i, k, now_ms))
				waiting++;
			if (j->state == J_DUE && j->due_unix_ms < next)
				next = j->due_unix_ms;
		}
	}
	p->st.pending = waiting;
	/* Waiting for room: again when a put ends (reap) or after IDLE_MS. */
	if (waiting && next < unix_ms + IDLE_MS)
		next = unix_ms + IDLE_MS;
	p->next_scan_unix_ms = next;
	int64_t wait = next == INT64_MAX ? IDLE_MS : next - unix_ms;
	return now_ms + (wait < 1 ? 1 : wait < IDLE_MS ? wait : IDLE_MS);
}

int itempub_replace_node(struct itempub *p, const struct dht *old, struct dht *node)
{
	bool is_found = false;
	for (size_t i = 0; i < p->n_nodes; i++) {
		if (p->nodes[i] == old) {
			p->nodes[i] = node;
			is_found = true;
		}
	}
	p->next_scan_unix_ms = 0;
	return is_found ? 0 : -ENOENT;
}

size_t itempub_ops_on(const struct itempub *p, const struct dht *node)
{
	return puts_on(p, node);
}

void itempub_drop_node(struct itempub *p, const struct dht *node)
{
	for (size_t i = 0; i < p->n_puts; i++) {
		struct put *u = &p->puts[i];
		if (!u->in_use || u->is_done || u->dht != node)
			continue;
		struct job *j = &p->m[u->member].job[u->k];
		put_cancel(p, u);
		if (j->state == J_RUNNING)
			j->state = J_DUE;
	}
	p->next_scan_unix_ms = 0;
}
