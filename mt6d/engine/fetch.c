/* fetch: collect, reassemble and open a rendezvous message (see fetch.h). */
#include "mt6d/engine/fetch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"

#define MAX_WINDOWS 3
#define MAX_PROBES (MAX_WINDOWS * FETCH_MAX_EPOCHS)
#define NODE_ANSWERS 8        /* per chunk, kept apart from the union */
#define NODE_ANSWER_MAX 128   /* values kept per node answer */
#define PUMP_MS 50            /* retry of lookups the node had no room for */
/* A node that knows fewer than DHT_K nodes (it is bootstrapping) waits this
 * long at most for more before its lookups: started with the first answer
 * to a bootstrap, every lookup asked the same 2-3 nodes, whose reply
 * budgets (dht.h, DHT_REPLY_BURST) then held the last chunks back 250 ms a
 * round while the others were still being pinged. */
#define TABLE_WAIT_MS 100

struct fchunk {
	struct fetch *f;
	struct probe *pr;
	int op;
	bool is_started, is_done;
	bool is_paused;           /* its lookup cancelled after a node's full answer */
	int status;
	struct rendezvous_peer *peers;  /* union, heap */
	size_t n_peers;
	struct rendezvous_peer *answers[NODE_ANSWERS];  /* heap */
	size_t n_answer[NODE_ANSWERS];
	size_t n_answers;
};

struct probe {
	bool in_use, is_done;
	int widx;
	uint8_t epoch;
	uint8_t phase;            /* MESSAGE: 0 chunk 0 only, 1 the others */
	size_t n_chunks;          /* chunks to collect (MESSAGE: known after phase 0) */
	struct fchunk ch[RENDEZVOUS_MAX_CHUNKS];
	int status;               /* 0, RENDEZVOUS_ERR_AUTH/VERSION, -ENOENT */
	bool has_peers, has_answer;
	bool is_opened;           /* cfg or msg holds what opened (early or at the end) */
	bool is_full;             /* the answers so far did not open it: every lookup to its end */
	struct rendezvous_config cfg;
	uint8_t msg[RENDEZVOUS_MESSAGE_MAX_PLAIN_LEN];
	size_t msg_len;
	uint8_t addr[RENDEZVOUS_ADDR_LEN];
};

struct fwin {
	uint64_t start;
	bool is_started[FETCH_MAX_EPOCHS];
	uint8_t d[DERIVE_DESCRIPTOR_LEN];
};

struct fetch {
	struct dht *dht;
	struct fetch_params prm;
	uint8_t own_priv[RENDEZVOUS_KEY_LEN];
	uint8_t peer_pub[RENDEZVOUS_KEY_LEN];
	uint8_t s[DERIVE_SECRET_LEN];
	fetch_done_fn *done;
	fetch_progress_fn *progress;
	void *closure;
	bool is_started, is_done, is_released;
	bool is_neighbours_started;
	int64_t started_ms, last_ms;
	uint64_t now_s;
	uint64_t primary;         /* the window asked for */
	struct fwin win[MAX_WINDOWS];
	size_t n_win;
	struct probe probes[MAX_PROBES];
	struct fetch_progress prog;
	struct fetch_result res;
};

const char *fetch_strerror(int status)
{
	switch (status) {
	case 0: return "found";
	case FETCH_ERR_NOTHING: return "nothing found";
	case FETCH_ERR_NOT_AUTHENTIC: return "found, but not authentic (another key, window or epoch)";
	case FETCH_ERR_EXPIRED: return "found, but expired (its window is over)";
	case FETCH_ERR_NO_NODES: return "no DHT node answered";
	case FETCH_ERR_TIMEOUT: return "timed out";
	default: return "failed";
	}
}

int fetch_new(struct dht *d, const struct fetch_params *params,
	      const uint8_t own_priv[static RENDEZVOUS_KEY_LEN],
	      const uint8_t peer_pub[static RENDEZVOUS_KEY_LEN],
	      fetch_done_fn *done, fetch_progress_fn *progress, void *closure, struct fetch **out)
{
	if (!d || !params || !done || params->period_s == 0 ||
	    (params->kind != FETCH_CONFIG && params->kind != FETCH_MESSAGE) ||
	    (params->family != AF_INET && params->family != AF_INET6) ||
	    params->edge_s * 2 >= params->period_s)
		return -EINVAL;
	struct fetch *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (keys_shared_secret(f->s, own_priv, peer_pub) < 0) {
		free(f);
		return -EINVAL;
	}
	f->dht = d;
	f->prm = *params;
	memcpy(f->own_priv, own_priv, RENDEZVOUS_KEY_LEN);
	memcpy(f->peer_pub, peer_pub, RENDEZVOUS_KEY_LEN);
	f->done = done;
	f->progress = progress;
	f->closure = closure;
	*out = f;
	return 0;
}

static void chunk_free(struct fchunk *c)
{
	free(c->peers);
	for (size_t i = 0; i < c->n_answers; i++)
		free(c->answers[i]);
}

void fetch_free(struct fetch *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < MAX_PROBES; i++) {
		struct probe *pr = &f->probes[i];
		for (size_t j = 0; j < RENDEZVOUS_MAX_CHUNKS; j++) {
			struct fchunk *c = &pr->ch[j];
			if (c->is_started && !c->is_done && !c->is_paused)
				dht_cancel(f->dht, c->op);
			chunk_free(c);
		}
	}
	sodium_memzero(f, sizeof(*f));
	free(f);
}

int fetch_is_done(const struct fetch *f)
{
	return f->is_done;
}

static void report_progress(struct fetch *f)
{
	f->prog.elapsed_ms = f->last_ms - f->started_ms;
	if (f->progress)
		f->progress(f->closure, &f->prog);
}

static void copy_peers(struct rendezvous_peer *out, const struct dht_peer *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (in[i].family == AF_INET) {
			out[i].addr[10] = 0xff;
			out[i].addr[11] = 0xff;
			memcpy(out[i].addr + 12, in[i].addr, 4);
		} else {
			memcpy(out[i].addr, in[i].addr, 16);
		}
		out[i].port = in[i].port;
	}
}

static void probe_evaluate(struct fetch *f, struct probe *pr);
static void probe_early(struct fetch *f, struct fchunk *c);
static void probe_resume(struct fetch *f, struct probe *pr);
static void probe_resume_if_stuck(struct fetch *f, struct probe *pr);
static size_t chunks_needed(const struct rendezvous_peer *peers, size_t n_peers);
static void pump(struct fetch *f, int64_t now_ms);
static void maybe_finish(struct fetch *f);

static void on_collect(void *closure, const struct dht_result *r)
{
	struct fchunk *c = closure;
	struct fetch *f = c->f;

	if (c->is_done || f->is_done)
		return;
	if (r->event == DHT_EVENT_VALUES) {
		f->prog.nodes++;
		f->prog.values += r->n_peers;
		report_progress(f);
		if (c->n_answers < NODE_ANSWERS && r->n_peers) {
			size_t n = r->n_peers < NODE_ANSWER_MAX ? r->n_peers : NODE_ANSWER_MAX;
			struct rendezvous_peer *a = calloc(n, sizeof(*a));
			if (a) {
				copy_peers(a, r->peers, n);
				c->answers[c->n_answers] = a;
				c->n_answer[c->n_answers++] = n;
				probe_early(f, c);
			}
		}
		return;
	}
	if (r->event != DHT_EVENT_DONE)
		return;
	c->is_done = true;
	c->status = r->status;
	f->prog.lookups_done++;
	f->prog.queries += r->n_queries;
	size_t n = r->n_peers < RENDEZVOUS_MAX_PEERS_PER_CHUNK ? r->n_peers : RENDEZVOUS_MAX_PEERS_PER_CHUNK;
	if (n) {
		c->peers = calloc(n, sizeof(*c->peers));
		if (c->peers) {
			copy_peers(c->peers, r->peers, n);
			c->n_peers = n;
		}
	}
	report_progress(f);
	struct probe *pr = c->pr;
	if (f->prm.kind == FETCH_MESSAGE && pr->phase == 1 && c == &pr->ch[0]) {
		/* Moved on by an early answer: the union may call for more. */
		size_t need = c->n_peers ? chunks_needed(c->peers, c->n_peers) : 1;
		if (need > pr->n_chunks) {
			pr->n_chunks = need;
			pump(f, f->last_ms);
		}
	}
	probe_resume_if_stuck(f, pr);
	for (size_t j = 0; j < pr->n_chunks; j++)
		if (!pr->ch[j].is_done)
			return;
	probe_evaluate(f, pr);
	pump(f, f->last_ms);
	maybe_finish(f);
}

static struct probe *probe_get(struct fetch *f, int widx, uint8_t epoch)
{
	return &f->probes[(size_t)widx * FETCH_MAX_EPOCHS + epoch];
}

/* A probe first collects chunk 0 only (a scout: one lookup tells whether
 * the epoch holds anything), then the other chunks if it does; epoch 0 of a
 * window, where a config almost always is, collects every chunk at once. */
static void probe_start(struct fetch *f, int widx, uint8_t epoch, bool is_full)
{
	struct fwin *w = &f->win[widx];
	if (epoch >= FETCH_MAX_EPOCHS || w->is_started[epoch])
		return;
	w->is_started[epoch] = true;
	struct probe *pr = probe_get(f, widx, epoch);
	memset(pr, 0, sizeof(*pr));
	pr->in_use = true;
	pr->widx = widx;
	pr->epoch = epoch;
	pr->n_chunks = f->prm.kind == FETCH_CONFIG && is_full ? rendezvous_chunk_count(RENDEZVOUS_CONFIG_LEN) : 1;
	for (size_t j = 0; j < RENDEZVOUS_MAX_CHUNKS; j++) {
		pr->ch[j].f = f;
		pr->ch[j].pr = pr;
	}
}

/* Whether the node knows enough nodes of the family for the lookups: any
 * (dht_collect on a node that knows none, and has no bootstrap address,
 * ends inside the call and then reads the freed operation: dht/dht.c
 * op_start returns o->id after op_run freed o), and DHT_K of them or
 * TABLE_WAIT_MS after the start. */
static bool is_table_ready(const struct fetch *f, int64_t now_ms)
{
	struct dht_stats st;
	dht_get_stats(f->dht, now_ms, &st);
	size_t n = f->prm.family == AF_INET6 ? st.good6 + st.questionable6 + st.bad6
					     : st.good4 + st.questionable4 + st.bad4;
	return n >= DHT_K || (n > 0 && now_ms - f->started_ms >= TABLE_WAIT_MS);
}

/* Starts the lookups of every probe that is waiting, as far as the node
 * has room (it refuses with -EBUSY beyond DHT_MAX_OPS). */
static bool is_held(const struct fetch *f, int64_t now_ms)
{
	return !f->is_released && now_ms - f->started_ms < f->prm.hold_ms;
}

static void pump(struct fetch *f, int64_t now_ms)
{
	if (is_held(f, now_ms) || !is_table_ready(f, now_ms))
		return;
	for (size_t i = 0; i < MAX_PROBES && !f->is_done; i++) {
		struct probe *pr = &f->probes[i];
		if (!pr->in_use || pr->is_done)
			continue;
		for (size_t j = 0; j < pr->n_chunks; j++) {
			struct fchunk *c = &pr->ch[j];
			if (c->is_started)
				continue;
			uint8_t ih[RENDEZVOUS_INFOHASH_LEN];
			rendezvous_chunk_infohash(ih, f->win[pr->widx].d, pr->epoch, (uint8_t)j);
			/* Marked first: a lookup with nobody to ask ends inside
			 * dht_collect, and its callback pumps again. */
			c->is_started = true;
			f->prog.lookups_started++;
			int op = dht_collect(f->dht, ih, f->prm.family, on_collect, c, now_ms);
			if (op == -EBUSY) {
				c->is_started = false;
				f->prog.lookups_started--;
				return;
			}
			if (op < 0) {
				c->is_done = true;
				c->status = op;
				continue;
			}
			if (!c->is_done)
				c->op = op;
		}
	}
}

/* The number of chunks of a message of msg_len bytes whose chunk 0 holds
 * g ports, for every msg_len: a bit set over counts 1..RENDEZVOUS_MAX_CHUNKS. */
static unsigned counts_for_group(size_t g)
{
	unsigned bits = 0;
	for (size_t len = RENDEZVOUS_OVERHEAD; len <= RENDEZVOUS_MAX_MSG_LEN; len++)
		if (rendezvous_chunk_len(len, 0) == g)
			bits |= 1u << rendezvous_chunk_count(len);
	return bits;
}

/* MESSAGE, after chunk 0: how many chunks the groups of chunk 0 call for. */
static size_t chunks_needed(const struct rendezvous_peer *peers, size_t n_peers)
{
	size_t max = 1;
	for (size_t i = 0; peers && i < n_peers; i++) {
		size_t g = 0;
		bool is_first = true;
		for (size_t k = 0; k < n_peers; k++) {
			if (memcmp(peers[k].addr, peers[i].addr, RENDEZVOUS_ADDR_LEN) != 0)
				continue;
			if (k < i) {
				is_first = false;
				break;
			}
			if (peers[k].port >= 256)
				g++;
		}
		if (!is_first || g == 0 || g > RENDEZVOUS_CHUNK_MAX_PORTS)
			continue;
		unsigned bits = counts_for_group(g);
		for (size_t n = RENDEZVOUS_MAX_CHUNKS; n > max; n--)
			if (bits & (1u << n)) {
				max = n;
				break;
			}
	}
	return max;
}

/* Tries one assignment of peers to chunks. Returns 0 (opened), -ENOENT or
 * an authentication error. */
static int try_open(struct fetch *f, struct probe *pr, const struct rendezvous_chunk_peers *cp)
{
	uint64_t window = f->win[pr->widx].start;
	if (f->prm.kind == FETCH_CONFIG)
		return rendezvous_find_config(cp, pr->n_chunks, f->own_priv, f->peer_pub, window, pr->epoch,
					      &pr->cfg, pr->addr);
	int best = -ENOENT;
	for (size_t len = RENDEZVOUS_OVERHEAD; len <= RENDEZVOUS_MAX_MSG_LEN; len++) {
		size_t n = rendezvous_chunk_count(len);
		if (n > pr->n_chunks)
			break;
		uint8_t cand[RENDEZVOUS_MAX_MSG_LEN], addr[RENDEZVOUS_ADDR_LEN];
		size_t cursor = 0;
		for (int guard = 0; guard < 4096; guard++) {
			int rc = rendezvous_unstuff_next(cp, n, len, &cursor, cand, addr);
			if (rc <= 0)
				break;
			int m = rendezvous_message_open(pr->msg, cand, len, f->own_priv, f->peer_pub, window,
							pr->epoch);
			if (m >= 0) {
				pr->msg_len = (size_t)m;
				memcpy(pr->addr, addr, sizeof(addr));
				return 0;
			}
			best = RENDEZVOUS_ERR_AUTH;
		}
	}
	return best;
}

/* The union of each chunk first, then each node's own answer (a node that
 * lies about the announcer's ports can spoil the union, not the others).
 * is_early: a lookup still runs, and a chunk's union is the answers so far.
 * Returns 0 (opened), -ENOENT, -ENOMEM or an authentication error. */
static int open_answers(struct fetch *f, struct probe *pr, bool is_early)
{
	struct rendezvous_chunk_peers uni[RENDEZVOUS_MAX_CHUNKS], cp[RENDEZVOUS_MAX_CHUNKS];
	struct rendezvous_peer *so_far = NULL;
	size_t total = 0, at = 0;

	for (size_t j = 0; j < pr->n_chunks && is_early; j++)
		for (size_t a = 0; a < pr->ch[j].n_answers && !pr->ch[j].is_done; a++)
			total += pr->ch[j].n_answer[a];
	if (total && !(so_far = malloc(total * sizeof(*so_far))))
		return -ENOMEM;
	for (size_t j = 0; j < pr->n_chunks; j++) {
		const struct fchunk *c = &pr->ch[j];
		uni[j].peers = c->peers;
		uni[j].n_peers = c->n_peers;
		if (!is_early || c->is_done)
			continue;
		uni[j].peers = so_far + at;
		for (size_t a = 0; a < c->n_answers; a++) {
			memcpy(so_far + at, c->answers[a], c->n_answer[a] * sizeof(*so_far));
			at += c->n_answer[a];
		}
		uni[j].n_peers = (size_t)(so_far + at - uni[j].peers);
	}
	int rc = -ENOENT;
	for (size_t k = 0; k <= NODE_ANSWERS; k++) {
		bool is_any = k == 0;
		for (size_t j = 0; j < pr->n_chunks; j++) {
			const struct fchunk *c = &pr->ch[j];
			cp[j] = uni[j];
			if (k > 0 && k <= c->n_answers) {
				cp[j].peers = c->answers[k - 1];
				cp[j].n_peers = c->n_answer[k - 1];
				is_any = true;
			}
		}
		if (!is_any)
			break;
		int r = try_open(f, pr, cp);
		if (r == 0) {
			rc = 0;
			break;
		}
		if (rc == -ENOENT || r == RENDEZVOUS_ERR_AUTH)
			rc = r;
	}
	free(so_far);
	return rc;
}

static void probe_evaluate(struct fetch *f, struct probe *pr)
{
	for (size_t j = 0; j < pr->n_chunks; j++) {
		if (pr->ch[j].n_peers)
			pr->has_peers = true;
		if (pr->ch[j].status == 0)
			pr->has_answer = true;
	}
	if (f->prm.kind == FETCH_CONFIG && pr->phase == 0 && pr->n_chunks == 1) {
		if (pr->ch[0].n_peers) {
			pr->phase = 1;
			pr->n_chunks = rendezvous_chunk_count(RENDEZVOUS_CONFIG_LEN);
			return;
		}
	} else if (f->prm.kind == FETCH_MESSAGE && pr->phase == 0) {
		size_t n = pr->ch[0].n_peers ? chunks_needed(pr->ch[0].peers, pr->ch[0].n_peers) : 1;
		if (n > 1) {
			/* Chunk 0 tells the length: collect the others too. */
			pr->phase = 1;
			pr->n_chunks = n;
			return;
		}
	}
	pr->is_done = true;
	if (pr->is_opened) {
		/* Opened early; the next two epochs were started then. */
		pr->status = 0;
		return;
	}
	int rc = open_answers(f, pr, false);
	pr->status = rc;
	pr->is_opened = rc == 0;
	/* Step on: while an epoch holds anything, the next two are asked. */
	if (pr->has_peers) {
		probe_start(f, pr->widx, (uint8_t)(pr->epoch + 1), false);
		probe_start(f, pr->widx, (uint8_t)(pr->epoch + 2), false);
	}
}

/* A chunk's node answered in full before its lookup ended (dht.h,
 * dht_collect): a scout that holds something moves its epoch on at once
 * (the other chunks, the next epochs), and an epoch whose every chunk has
 * an answer tries to open with the answers so far; maybe_finish then
 * decides whether what opened may end the fetch before the lookups do. */
static void probe_early(struct fetch *f, struct fchunk *c)
{
	struct probe *pr = c->pr;
	if (pr->is_done || pr->is_opened)
		return;
	pr->has_peers = true;
	if (!pr->is_full && c->op > 0 && !c->is_paused) {
		/* One node's full answer most likely holds the chunk (each of
		 * the k closest nodes is given every port): the lookup stops
		 * here, and leaves the nodes' pacing and reply budgets to the
		 * other chunks' lookups (in a swarm of 8, each lookup asked
		 * all 8 nodes and the last chunks waited seconds behind). */
		dht_cancel(f->dht, c->op);
		c->is_paused = true;
	}
	if (c == &pr->ch[0]) {
		size_t need = f->prm.kind == FETCH_CONFIG ? rendezvous_chunk_count(RENDEZVOUS_CONFIG_LEN) :
			      chunks_needed(c->answers[c->n_answers - 1], c->n_answer[c->n_answers - 1]);
		if (need > pr->n_chunks) {
			pr->phase = 1;
			pr->n_chunks = need;
			pump(f, f->last_ms);
			if (f->is_done)
				return;
		}
	}
	for (size_t j = 0; j < pr->n_chunks; j++)
		if (!pr->ch[j].n_answers && !(pr->ch[j].is_done && pr->ch[j].n_peers))
			return;
	if (open_answers(f, pr, true) != 0) {
		probe_resume(f, pr);
		return;
	}
	pr->is_opened = true;
	pr->status = 0;
	probe_start(f, pr->widx, (uint8_t)(pr->epoch + 1), false);
	probe_start(f, pr->widx, (uint8_t)(pr->epoch + 2), false);
	pump(f, f->last_ms);
	maybe_finish(f);
}

/* The answers so far did not open the epoch (a node that lost some of
 * the announces, junk from other IPs): the stopped lookups start again,
 * afresh, and every lookup of the epoch runs to its end. */
static void probe_resume(struct fetch *f, struct probe *pr)
{
	bool is_any = false;
	pr->is_full = true;
	for (size_t j = 0; j < pr->n_chunks; j++) {
		struct fchunk *c = &pr->ch[j];
		if (!c->is_paused)
			continue;
		for (size_t a = 0; a < c->n_answers; a++)
			free(c->answers[a]);
		c->n_answers = 0;
		c->is_paused = false;
		c->is_started = false;
		c->op = 0;
		f->prog.lookups_started--;   /* counted again when it starts */
		is_any = true;
	}
	if (is_any)
		pump(f, f->last_ms);
}

/* A chunk's lookup ended without any answer while others were stopped:
 * the epoch cannot open with what it has, and its verdict needs them. */
static void probe_resume_if_stuck(struct fetch *f, struct probe *pr)
{
	bool is_paused = false;
	for (size_t j = 0; j < pr->n_chunks; j++) {
		const struct fchunk *c = &pr->ch[j];
		if (!c->is_done && !c->is_paused)
			return;
		is_paused |= c->is_paused;
	}
	if (is_paused)
		probe_resume(f, pr);
}

static void finish(struct fetch *f, int status, const struct probe *pr)
{
	struct fetch_result *r = &f->res;
	if (f->is_done)
		return;
	f->is_done = true;
	for (size_t i = 0; i < MAX_PROBES; i++) {
		struct probe *p = &f->probes[i];
		for (size_t j = 0; j < RENDEZVOUS_MAX_CHUNKS; j++) {
			struct fchunk *c = &p->ch[j];
			if (c->is_started && !c->is_done && !c->is_paused)
				dht_cancel(f->dht, c->op);
			c->is_done = true;
		}
	}
	r->status = status;
	if (pr) {
		r->window_start = f->win[pr->widx].start;
		r->epoch = pr->epoch;
		r->cfg = pr->cfg;
		memcpy(r->msg, pr->msg, pr->msg_len);
		r->msg_len = pr->msg_len;
		memcpy(r->from_addr, pr->addr, sizeof(r->from_addr));
	}
	f->prog.elapsed_ms = f->last_ms - f->started_ms;
	r->progress = f->prog;
	f->done(f->closure, r);
}

/* The best epoch of a window that opened, or NULL. */
static const struct probe *best_of(const struct fetch *f, int widx)
{
	for (int e = FETCH_MAX_EPOCHS - 1; e >= 0; e--) {
		const struct probe *pr = &f->probes[(size_t)widx * FETCH_MAX_EPOCHS + (size_t)e];
		if (pr->in_use && pr->is_opened)
			return pr;
	}
	return NULL;
}

static bool probe_has_shown_peers(const struct probe *pr)
{
	if (pr->has_peers)
		return true;
	for (size_t j = 0; j < RENDEZVOUS_MAX_CHUNKS; j++)
		if (pr->ch[j].n_answers || pr->ch[j].n_peers)
			return true;
	return false;
}

/* The asked window's highest epoch that opened, if the fetch may end with
 * it while lookups still run (docs/PROTOCOL.md 6.6): a config once every
 * higher epoch started came back (scouts that found nothing, and the
 * epochs after any that held something), since the highest epoch that
 * opens wins; a message (`mt6d rendezvous get`) unless a higher epoch has
 * shown any peers so far (a later put of the window went there: wait for
 * it). Else NULL. */
static const struct probe *early_winner(const struct fetch *f)
{
	for (size_t w = 0; w < f->n_win; w++) {
		if (f->win[w].start != f->primary)
			continue;
		const struct probe *p = &f->probes[w * FETCH_MAX_EPOCHS];
		for (int e = FETCH_MAX_EPOCHS - 1; e >= 0; e--) {
			if (!p[e].in_use || !p[e].is_opened)
				continue;
			for (int h = e + 1; h < FETCH_MAX_EPOCHS; h++)
				if (p[h].in_use && (f->prm.kind == FETCH_CONFIG ? !p[h].is_done :
						     probe_has_shown_peers(&p[h])))
					return NULL;
			return &p[e];
		}
	}
	return NULL;
}

/* The neighbouring windows (win[1..], near a boundary) are asked once
 * epoch 0 of the window asked for (win[0]) has come back without opening:
 * what opens there wins anyway, and asked at once their lookups doubled
 * the queries to a small swarm's nodes, whose reply budgets then held the
 * get back 1 s (gets in the last minute of a window). */
static void start_neighbours(struct fetch *f)
{
	const struct probe *p0 = probe_get(f, 0, 0);
	if (f->is_neighbours_started || f->n_win < 2 || !p0->is_done || p0->is_opened)
		return;
	f->is_neighbours_started = true;
	for (size_t w = 1; w < f->n_win; w++) {
		probe_start(f, (int)w, 0, true);
		probe_start(f, (int)w, 1, false);
		probe_start(f, (int)w, 2, false);
	}
	pump(f, f->last_ms);
}

static void maybe_finish(struct fetch *f)
{
	bool has_candidates = false, has_answer = false;
	if (f->is_done)
		return;
	start_neighbours(f);
	if (f->is_done)
		return;
	const struct probe *early = early_winner(f);
	if (early) {
		bool is_over = f->win[early->widx].start + f->prm.period_s <= f->now_s;
		finish(f, is_over ? FETCH_ERR_EXPIRED : 0, early);
		return;
	}
	for (size_t i = 0; i < MAX_PROBES; i++) {
		const struct probe *pr = &f->probes[i];
		if (!pr->in_use)
			continue;
		if (!pr->is_done && !pr->is_opened)
			return;
		if (pr->status == RENDEZVOUS_ERR_AUTH || pr->status == RENDEZVOUS_ERR_VERSION)
			has_candidates = true;
		if (pr->has_answer)
			has_answer = true;
	}
	/* Preference: the window asked for; the next one (our clock is behind
	 * the publisher's); the previous one, which is over: expired. */
	for (size_t w = 0; w < f->n_win; w++) {
		const struct probe *pr = best_of(f, (int)w);
		if (pr && f->win[w].start == f->primary) {
			bool is_over = (f->win[w].start + f->prm.period_s) <= f->now_s;
			finish(f, is_over ? FETCH_ERR_EXPIRED : 0, pr);
			return;
		}
	}
	for (size_t w = 0; w < f->n_win; w++) {
		const struct probe *pr = best_of(f, (int)w);
		if (pr && f->win[w].start > f->primary) {
			finish(f, 0, pr);
			return;
		}
	}
	for (size_t w = 0; w < f->n_win; w++) {
		const struct probe *pr = best_of(f, (int)w);
		if (pr) {
			finish(f, FETCH_ERR_EXPIRED, pr);
			return;
		}
	}
	finish(f, has_candidates ? FETCH_ERR_NOT_AUTHENTIC :
		  has_answer ? FETCH_ERR_NOTHING : FETCH_ERR_NO_NODES, NULL);
}

int fetch_start(struct fetch *f, int64_t now_ms, int64_t unix_ms)
{
	if (f->is_started)
		return -EALREADY;
	f->is_started = true;
	f->started_ms = f->last_ms = now_ms;
	f->now_s = unix_ms > 0 ? (uint64_t)(unix_ms / 1000) : 0;
	uint32_t n = f->prm.period_s;
	uint64_t cur = derive_window_start((int64_t)f->now_s, n);
	if (f->prm.window_start) {
		f->primary = f->prm.window_start - f->prm.window_start % n;
		f->win[f->n_win++].start = f->primary;
	} else {
		f->primary = cur;
		f->win[f->n_win++].start = cur;
		if (f->now_s - cur < f->prm.edge_s && cur >= n)
			f->win[f->n_win++].start = cur - n;
		if (cur + n - f->now_s <= f->prm.edge_s)
			f->win[f->n_win++].start = cur + n;
	}
	for (size_t w = 0; w < f->n_win; w++)
		derive_descriptor(f->win[w].d, f->s, f->win[w].start);
	probe_start(f, 0, 0, true);
	probe_start(f, 0, 1, false);
	probe_start(f, 0, 2, false);
	pump(f, now_ms);
	if (f->prog.lookups_started == 0 && !is_held(f, now_ms) && is_table_ready(f, now_ms)) {
		/* The node had no room at all. */
		f->is_started = false;
		memset(f->probes, 0, sizeof(f->probes));
		memset(f->win, 0, sizeof(f->win));
		f->n_win = 0;
		return -EBUSY;
	}
	/* Held, or a table still filling: fetch_tick starts the lookups later. */
	maybe_finish(f);
	return 0;
}

int64_t fetch_tick(struct fetch *f, int64_t now_ms)
{
	if (!f->is_started || f->is_done)
		return INT64_MAX;
	f->last_ms = now_ms;
	if (f->prm.timeout_ms && now_ms - f->started_ms >= f->prm.timeout_ms) {
		finish(f, f->prog.lookups_started ? FETCH_ERR_TIMEOUT : FETCH_ERR_NO_NODES, NULL);
		return INT64_MAX;
	}
	pump(f, now_ms);
	maybe_finish(f);
	int64_t next = now_ms + PUMP_MS;
	return next;
}

void fetch_release(struct fetch *f, int64_t now_ms)
{
	if (f->is_done || f->is_released)
		return;
	f->is_released = true;
	if (!f->is_started)
		return;         /* fetch_start will not hold */
	f->last_ms = now_ms;
	pump(f, now_ms);
	maybe_finish(f);
}
