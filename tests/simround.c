/* A publication round in a simulated foreign swarm (simround.h). */
#include "tests/simround.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/engine/itemfetch.h"
#include "mt6d/engine/pubsched.h"
#include "tests/simnet.h"

#define T0 1000
#define FETCHERS 8              /* fetches at once (one simnet node each) */
#define FETCH_JOIN_MS 3000      /* a fresh client's node joins before it fetches */
#define FETCH_TIMEOUT_MS 30000
#define BOOT_NODES 8
/* A window boundary (UNIX ms), as in bench_rendezvous. */
#define UNIX_BOUNDARY_MS 1800000000000LL

/* A publication channel: its scheduler's back end and its reader. */
struct chan {
	const char *name;
	enum pubsched_channel kind;
	int (*fetch_new)(struct dht *d, const struct fetch_params *fp, const uint8_t *own_priv,
			 const uint8_t *peer_pub, fetch_done_fn *done, void *closure, void **out);
	int (*fetch_start)(void *f, int64_t now_ms, int64_t unix_ms);
	void (*fetch_tick)(void *f, int64_t now_ms);
	void (*fetch_free)(void *f);
	/* Stores per client and round, whatever the scheduling: what no
	 * saving of lookups, tokens or refreshes goes below. */
	int floor_datagrams;
};

static void pub_stats(const struct pubsched *p, struct simround_chan_stats *out)
{
	struct pubsched_stats ps;
	pubsched_get_stats(p, &ps);
	*out = (struct simround_chan_stats){ ps.publications, ps.failures, ps.ops_started, ps.acked,
					     ps.ops_in_flight };
}

/* Port stuffing (fetch.h). */
static int st_fnew(struct dht *d, const struct fetch_params *fp, const uint8_t *own, const uint8_t *peer,
		   fetch_done_fn *done, void *closure, void **out)
{
	return fetch_new(d, fp, own, peer, done, NULL, closure, (struct fetch **)out);
}
static int st_fstart(void *f, int64_t now, int64_t unix_ms) { return fetch_start(f, now, unix_ms); }
static void st_ftick(void *f, int64_t now) { fetch_tick(f, now); }
static void st_ffree(void *f) { fetch_free(f); }

static const struct chan chan_stuffing = {
	"stuffing", PUBSCHED_PEERS, st_fnew, st_fstart, st_ftick, st_ffree,
	/* one announce per byte (a port each) to each of the k closest nodes */
	RENDEZVOUS_CONFIG_LEN * DHT_K,
};

/* BEP 44 items (itemfetch.h). */
static int it_fnew(struct dht *d, const struct fetch_params *fp, const uint8_t *own, const uint8_t *peer,
		   fetch_done_fn *done, void *closure, void **out)
{
	return itemfetch_new(d, fp, own, peer, done, closure, (struct itemfetch **)out);
}
static int it_fstart(void *f, int64_t now, int64_t unix_ms) { return itemfetch_start(f, now, unix_ms); }
static void it_ftick(void *f, int64_t now) { itemfetch_tick(f, now); }
static void it_ffree(void *f) { itemfetch_free(f); }

static const struct chan chan_items = {
	"items", PUBSCHED_ITEMS, it_fnew, it_fstart, it_ftick, it_ffree,
	DHT_K,   /* one put to each of the k closest nodes */
};

struct sample {
	int64_t at;               /* virtual ms: the fetcher's node starts */
	int client;
};

struct fetcher {
	int node;                 /* simnet index */
	int sample;               /* -1: idle */
	bool is_started, is_done;
	int64_t fetch_at, started_at;
	void *f;
	struct fetch_result res;
};

struct round {
	struct simround_params prm;
	struct simnet S;
	struct simdht *model;
	int first_pub, first_fetcher;
	const struct chan *ch;
	struct pubsched *pub;
	int64_t pub_deadline;
	double pub_cpu;
	uint64_t pub_tx, pub_tx_bytes;
	int64_t unix_base;        /* UNIX ms at virtual T0 */
	uint64_t window;
	uint8_t (*client_priv)[32];
	uint8_t server_pub[32];
	struct rendezvous_config cfg;
	uint64_t rng;             /* seals, stuffing, timing, sampling */
	struct sample *samples;
	int n_samples, next_sample; /* next_sample == n_samples until they are drawn */
	struct fetcher fet[FETCHERS];
	double *fetch_ms;
	struct simround_result *res;
};

/* pubsched's random function has no context: one round at a time. */
static struct round *R;

static void round_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(simnet_xorshift(&R->rng) >> 24);
}

static double cpu_now(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t unix_now(const struct round *r)
{
	return r->unix_base + (r->S.now - T0);
}

static bool is_pub(const struct round *r, int i)
{
	return i >= r->first_pub && i < r->first_fetcher;
}

void simround_params_default(struct simround_params *p)
{
	memset(p, 0, sizeof(*p));
	p->n_nodes = 10000;
	p->n_clients = 15000;
	p->n_sources = 48;
	p->n_samples = 200;
	p->jech_share = 0.30;
	p->dead_share = 0.05;
	p->min_delay_ms = 10;
	p->max_delay_ms = 150;
	p->seed = 1;
	p->period_s = 900;
	p->join_s = 60;
}

static bool on_send(void *ctx, const struct simnet_node *from, int to, const uint8_t *buf, size_t len)
{
	struct round *r = ctx;
	if (is_pub(r, from->idx)) {
		r->pub_tx++;
		r->pub_tx_bytes += len;
	}
	return true;
}

static void on_input(void *ctx, struct simnet_node *to)
{
	struct round *r = ctx;
	if (is_pub(r, to->idx)) {
		to->deadline = r->S.now;  /* results: tick the publisher soon */
		r->pub_deadline = r->S.now;
	}
}

static void on_fetched(void *closure, const struct fetch_result *res)
{
	struct fetcher *f = closure;
	f->res = *res;
	f->is_done = true;
}

static void boot_node(struct round *r, int i)
{
	for (int k = 0; k < BOOT_NODES; k++) {
		int b = simdht_random_live(r->model);
		dht_add_node(r->S.n[i].d, (const struct sockaddr *)&r->S.n[b].addr, sizeof(r->S.n[b].addr), r->S.now);
	}
	r->S.n[i].deadline = r->S.now;
}

static int fail_index(int status)
{
	switch (status) {
	case FETCH_ERR_NOTHING: return 0;
	case FETCH_ERR_NOT_AUTHENTIC: return 1;
	case FETCH_ERR_EXPIRED: return 2;
	case FETCH_ERR_NO_NODES: return 3;
	case FETCH_ERR_TIMEOUT: return 4;
	default: return 5;
	}
}

/* Starts, runs and ends the sampled fetches; returns the next deadline. */
static int64_t fetchers_step(struct round *r, int64_t now)
{
	int64_t next = INT64_MAX;
	for (int j = 0; j < FETCHERS; j++) {
		struct fetcher *f = &r->fet[j];
		struct simnet_node *n = &r->S.n[f->node];
		if (f->sample < 0 && r->next_sample < r->n_samples && r->samples[r->next_sample].at <= now) {
			/* A fresh client: new node (new id, read-only), bootstrapped. */
			struct dht_config cfg = { .is_read_only = true };
			if (dht_new(&simnet_ops, n, &cfg, now, &n->d) < 0)
				continue;
			f->sample = r->next_sample++;
			f->is_started = false;
			f->is_done = false;
			f->fetch_at = now + FETCH_JOIN_MS;
			boot_node(r, f->node);
		}
		if (f->sample < 0)
			continue;
		if (!f->is_started && now >= f->fetch_at) {
			int c = r->samples[f->sample].client;
			struct fetch_params fp = { .kind = FETCH_CONFIG, .period_s = r->prm.period_s,
						   .window_start = r->window, .timeout_ms = FETCH_TIMEOUT_MS,
						   .family = AF_INET6 };
			f->is_started = true;
			f->started_at = now;
			if (r->ch->fetch_new(n->d, &fp, r->client_priv[c], r->server_pub, on_fetched, f, &f->f) < 0 ||
			    r->ch->fetch_start(f->f, now, unix_now(r)) < 0) {
				f->res.status = -EIO;
				f->is_done = true;
			}
			n->deadline = now;
		}
		if (f->is_started && !f->is_done && f->f)
			r->ch->fetch_tick(f->f, now);
		if (f->is_done) {
			struct simround_result *res = r->res;
			bool ok = f->res.status == 0 && f->res.window_start == r->window &&
				  f->res.epoch == pubsched_get_epoch(r->pub, r->window) &&
				  memcmp(&f->res.cfg, &r->cfg, sizeof(r->cfg)) == 0;
			r->fetch_ms[res->samples] = (double)(now - f->started_at);
			res->samples++;
			if (ok)
				res->opened++;
			else
				res->fetch_fail[f->res.status ? fail_index(f->res.status) : 5]++;
			if (!ok && r->prm.verbose)
				fprintf(stderr, "simround: sample %d (client %d) at %.0f s: %s\n", f->sample,
					r->samples[f->sample].client, (double)(now - T0) / 1000,
					f->res.status ? fetch_strerror(f->res.status) : "another config");
			r->ch->fetch_free(f->f);
			f->f = NULL;
			dht_free(n->d);
			n->d = NULL;
			f->sample = -1;
			continue;
		}
		next = now + 20;
	}
	if (r->next_sample < r->n_samples && r->samples[r->next_sample].at < next)
		next = r->samples[r->next_sample].at > now ? r->samples[r->next_sample].at : now + 20;
	return next;
}

static int64_t on_step(void *ctx, int64_t now)
{
	struct round *r = ctx;
	int64_t next = INT64_MAX;
	if (r->pub) {
		if (r->pub_deadline <= now) {
			struct simround_chan_stats a, b;
			pub_stats(r->pub, &a);
			double c0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
			r->pub_deadline = pubsched_tick(r->pub, now, unix_now(r));
			r->pub_cpu += cpu_now(CLOCK_THREAD_CPUTIME_ID) - c0;
			pub_stats(r->pub, &b);
			/* Operations started: their nodes' deadlines moved (as a
			 * daemon re-arms its timers after pubsched_tick). */
			if (b.ops_started != a.ops_started)
				for (int i = r->first_pub; i < r->first_fetcher; i++)
					r->S.n[i].deadline = now + 1;
		}
		next = r->pub_deadline;
	}
	int64_t nf = fetchers_step(r, now);
	return nf < next ? nf : next;
}

static double pub_cpu_total(const struct round *r)
{
	double c = r->pub_cpu;
	for (int i = r->first_pub; i < r->first_fetcher; i++)
		c += r->S.n[i].cpu_s;
	return c;
}

static int cmp_sample(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	return (x->at > y->at) - (x->at < y->at);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, int n, double p)
{
	if (n <= 0)
		return 0;
	int i = (int)(p / 100.0 * n + 0.999);
	return v[i < 1 ? 0 : i - 1];
}

/* Clients' keys (deterministic from the seed) and the publisher. */
static int setup_publisher(struct round *r)
{
	uint8_t seed[crypto_box_SEEDBYTES], server_priv[32];
	struct dht *nodes[256];
	struct pubsched_params pp;

	round_random(seed, sizeof(seed));
	crypto_box_seed_keypair(r->server_pub, server_priv, seed);
	pubsched_params_default(&pp, r->prm.period_s);
	if (r->prm.urgent_spread_s)
		pp.urgent_spread_s = r->prm.urgent_spread_s;
	pp.random = round_random;
	for (int i = 0; i < r->prm.n_sources; i++)
		nodes[i] = r->S.n[r->first_pub + i].d;
	int rc = pubsched_new(r->ch->kind, &pp, server_priv, nodes, (size_t)r->prm.n_sources, &r->pub);
	sodium_memzero(server_priv, sizeof(server_priv));
	if (rc < 0)
		return rc;
	for (int c = 0; c < r->prm.n_clients; c++) {
		uint8_t cpub[32];
		round_random(seed, sizeof(seed));
		crypto_box_seed_keypair(cpub, r->client_priv[c], seed);
		if ((rc = pubsched_add_client(r->pub, cpub)) < 0)
			return rc;
	}
	r->cfg.server_seed_addr[0] = 0x20;
	r->cfg.server_seed_addr[1] = 0x01;
	r->cfg.server_seed_addr[2] = 0x0d;
	r->cfg.server_seed_addr[3] = 0xb8;
	round_random(r->cfg.intro_key, sizeof(r->cfg.intro_key));
	r->cfg.rotation_ms = 3000;
	r->cfg.period_s = r->prm.period_s;
	return 0;
}

static int cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Every client's chunks of the current epoch: on how many nodes complete. */
static int census(struct round *r)
{
	struct simround_result *res = r->res;
	size_t nc = rendezvous_chunk_count(RENDEZVOUS_CONFIG_LEN), n = (size_t)r->prm.n_clients * nc;
	uint8_t(*ih)[20] = calloc(n, sizeof(*ih));
	uint16_t *minv = calloc(n, sizeof(*minv)), *holders = calloc(n, sizeof(*holders));
	int rc = -ENOMEM, epoch = pubsched_get_epoch(r->pub, r->window);
	if (ih && minv && holders && epoch >= 0) {
		for (int c = 0; c < r->prm.n_clients; c++) {
			uint8_t sec[DERIVE_SECRET_LEN], d[DERIVE_DESCRIPTOR_LEN];
			if (keys_shared_secret(sec, r->client_priv[c], r->server_pub) < 0)
				continue;
			derive_descriptor(d, sec, r->window);
			for (size_t j = 0; j < nc; j++) {
				rendezvous_chunk_infohash(ih[(size_t)c * nc + j], d, (uint8_t)epoch, (uint8_t)j);
				minv[(size_t)c * nc + j] = (uint16_t)rendezvous_chunk_len(RENDEZVOUS_CONFIG_LEN, j);
			}
			sodium_memzero(sec, sizeof(sec));
		}
		rc = simdht_count_holders(r->model, (const uint8_t(*)[20])ih, minv, n, r->first_pub, r->first_fetcher,
					  holders);
	}
	if (rc == 0) {
		for (int c = 0; c < r->prm.n_clients; c++) {
			bool ok = true;
			for (size_t j = 0; j < nc; j++)
				ok &= holders[(size_t)c * nc + j] > 0;
			res->clients_stored += ok;
		}
		qsort(holders, n, sizeof(*holders), cmp_u16);
		res->chunk_holders_min = holders[0];
		res->chunk_holders_p50 = holders[n / 2];
	}
	free(ih);
	free(minv);
	free(holders);
	return rc;
}

static void collect(struct round *r, int64_t t_set, int64_t t_done)
{
	struct simround_result *res = r->res;
	res->window_done = pubsched_is_window_done(r->pub, r->window);
	res->round_s = (double)(t_done - t_set) / 1000.0;
	pub_stats(r->pub, &res->pst);
	simdht_get_stats(r->model, &res->mst);
	const struct simdht_trips *t = &res->mst.trips;
	res->trips = t->lt_bans + t->lt_banned_drops + t->lt_budget_drops + t->jech_budget_drops + t->jech_overflows;
	/* A sample still running at the end counts as failed. */
	for (int j = 0; j < FETCHERS; j++) {
		if (r->fet[j].sample >= 0) {
			res->fetch_fail[4]++;
			r->fetch_ms[res->samples++] = FETCH_TIMEOUT_MS;
		}
	}
	for (int k = r->next_sample; k < r->n_samples && res->samples < r->n_samples; k++) {
		res->fetch_fail[4]++;  /* never started */
		r->fetch_ms[res->samples++] = FETCH_TIMEOUT_MS;
	}
	qsort(r->fetch_ms, (size_t)res->samples, sizeof(double), cmp_double);
	res->fetch_ms_p50 = pct(r->fetch_ms, res->samples, 50);
	res->fetch_ms_p95 = pct(r->fetch_ms, res->samples, 95);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	res->max_rss_kb = ru.ru_maxrss;
}

static int run(struct round *r)
{
	const struct simround_params *p = &r->prm;
	struct simround_result *res = r->res;
	int n_all = p->n_nodes + p->n_sources + FETCHERS;
	int rc = simnet_init_models(&r->S, n_all, p->n_nodes, T0);
	if (rc < 0)
		return rc;
	r->first_pub = p->n_nodes;
	r->first_fetcher = p->n_nodes + p->n_sources;
	struct simdht_params mp = { .n_nodes = p->n_nodes, .jech_share = p->jech_share, .dead_share = p->dead_share,
				    .seed = p->seed, .min_delay_ms = p->min_delay_ms, .max_delay_ms = p->max_delay_ms,
				    .watch_lo = r->first_pub, .watch_hi = r->first_fetcher };
	if ((rc = simdht_new(&r->S, &mp, &r->model)) < 0)
		return rc;
	r->S.ctx = r;
	r->S.measure_every = 16;
	r->S.on_send = on_send;
	r->S.on_input = on_input;
	r->S.step = on_step;
	for (int j = 0; j < FETCHERS; j++) {
		r->fet[j].node = r->first_fetcher + j;
		r->fet[j].sample = -1;
		dht_free(r->S.n[r->fet[j].node].d);
		r->S.n[r->fet[j].node].d = NULL;
	}
	for (int i = r->first_pub; i < r->first_fetcher; i++) {
		r->S.n[i].is_measured = true;
		boot_node(r, i);
	}
	/* The config is set 1 s into its window: UNIX time at T0 follows. */
	int64_t t_set = T0 + (int64_t)p->join_s * 1000;
	r->unix_base = UNIX_BOUNDARY_MS + 1000 - (t_set - T0);
	r->window = (uint64_t)(UNIX_BOUNDARY_MS / 1000);
	int64_t t_end = t_set + (int64_t)p->period_s * 1000 - 1000;
	res->window_s = (double)(t_end - t_set) / 1000.0;
	if (p->verbose)
		fprintf(stderr, "simround: swarm built (%.1f s CPU)\n", cpu_now(CLOCK_PROCESS_CPUTIME_ID));
	simnet_run(&r->S, t_set, NULL);
	res->join_datagrams = r->pub_tx;
	if (p->verbose)
		fprintf(stderr, "simround: publisher joined (%.1f s CPU)\n", cpu_now(CLOCK_PROCESS_CPUTIME_ID));
	if ((rc = setup_publisher(r)) < 0)
		return rc;
	if (p->verbose)
		fprintf(stderr, "simround: clients registered (%.1f s CPU)\n", cpu_now(CLOCK_PROCESS_CPUTIME_ID));
	double c0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
	rc = pubsched_set_config(r->pub, r->window, &r->cfg, unix_now(r));
	r->pub_cpu += cpu_now(CLOCK_THREAD_CPUTIME_ID) - c0;
	if (rc < 0)
		return rc;
	uint64_t tx0 = r->pub_tx, bytes0 = r->pub_tx_bytes;
	double cpu0 = pub_cpu_total(r);
	r->pub_deadline = r->S.now;
	r->S.step_deadline = r->S.now;
	int64_t t_done = t_end;
	while (r->S.now < t_end) {
		simnet_run(&r->S, r->S.now + 1000, NULL);
		if (pubsched_is_window_done(r->pub, r->window)) {
			t_done = r->S.now;
			break;
		}
		if (p->verbose && (r->S.now - t_set) % 60000 < 1000) {
			struct simround_chan_stats ps;
			pub_stats(r->pub, &ps);
			fprintf(stderr, "simround: %s, %.0f s: %zu publications, %zu in flight, %.0f datagrams/client\n",
				r->ch->name, (double)(r->S.now - t_set) / 1000, ps.publications, ps.in_flight,
				(double)(r->pub_tx - tx0) / p->n_clients);
		}
	}
	res->pub_datagrams = r->pub_tx - tx0;
	res->pub_bytes = r->pub_tx_bytes - bytes0;
	res->pub_cpu_s = pub_cpu_total(r) - cpu0;
	/* The samples: over the rest of the window, leaving a fetch its time. */
	int64_t s_lo = r->S.now, s_hi = t_end - FETCH_TIMEOUT_MS - FETCH_JOIN_MS;
	if (p->sample_span_s && s_lo + (int64_t)p->sample_span_s * 1000 < s_hi)
		s_hi = s_lo + (int64_t)p->sample_span_s * 1000;
	if (s_hi <= s_lo)
		s_hi = s_lo + 1;
	for (int i = 0; i < r->n_samples; i++) {
		r->samples[i].at = s_lo + (int64_t)(simnet_xorshift(&r->rng) % (uint64_t)(s_hi - s_lo));
		r->samples[i].client = (int)(simnet_xorshift(&r->rng) % (uint64_t)p->n_clients);
	}
	qsort(r->samples, (size_t)r->n_samples, sizeof(*r->samples), cmp_sample);
	r->next_sample = 0;
	r->S.step_deadline = r->S.now;
	while (res->samples < r->n_samples && r->S.now < t_end + FETCH_TIMEOUT_MS)
		simnet_run(&r->S, r->S.now + 1000, NULL);
	collect(r, t_set, t_done);
	res->channel = r->ch->name;
	res->floor_datagrams = r->ch->floor_datagrams;
	if (r->ch != &chan_stuffing) {
		res->clients_stored = -1;   /* no census of items (yet) */
		return 0;
	}
	return census(r);
}

int simround_run(const struct simround_params *prm, struct simround_result *out)
{
	if (!prm || !out || prm->n_nodes < 16 || prm->n_clients < 1 || prm->n_sources < 1 || prm->n_sources > 256 ||
	    prm->n_samples < 0 || prm->period_s < 120 || prm->channel > SIMROUND_ITEMS || prm->n_nodes + prm->n_sources + FETCHERS > 0xfffe)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	struct round *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	out->prm = *prm;
	r->prm = *prm;
	r->res = out;
	r->ch = prm->channel == SIMROUND_ITEMS ? &chan_items : &chan_stuffing;
	r->rng = prm->seed * 0x9e3779b97f4a7c15ull + 12345;
	r->n_samples = prm->n_samples;
	r->next_sample = prm->n_samples;
	r->client_priv = calloc((size_t)prm->n_clients, sizeof(*r->client_priv));
	r->samples = calloc((size_t)prm->n_samples + 1, sizeof(*r->samples));
	r->fetch_ms = calloc((size_t)prm->n_samples + 1, sizeof(*r->fetch_ms));
	double w0 = cpu_now(CLOCK_MONOTONIC), c0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
	int rc = -ENOMEM;
	R = r;
	if (r->client_priv && r->samples && r->fetch_ms)
		rc = run(r);
	out->sim_wall_s = cpu_now(CLOCK_MONOTONIC) - w0;
	out->sim_cpu_s = cpu_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	for (int j = 0; j < FETCHERS; j++)
		if (r->fet[j].f)
			r->ch->fetch_free(r->fet[j].f);
	if (r->pub)
		pubsched_free(r->pub);
	simdht_free(r->model);
	simnet_fini(&r->S);
	if (r->client_priv)
		sodium_memzero(r->client_priv, (size_t)prm->n_clients * sizeof(*r->client_priv));
	free(r->client_priv);
	free(r->samples);
	free(r->fetch_ms);
	free(r);
	R = NULL;
	return rc;
}

void simround_print(const struct simround_result *r, FILE *f)
{
	const struct simround_params *p = &r->prm;
	const struct simdht_stats *m = &r->mst;
	double n = p->n_clients;
	fprintf(f, "nodes %d\nclients %d\nsources %d\nseed %" PRIu64 "\n", p->n_nodes, p->n_clients, p->n_sources,
		p->seed);
	fprintf(f, "jech_share %.2f\ndead_share %.2f\n", p->jech_share, p->dead_share);
	fprintf(f, "window_done %d\nround_s %.1f\nwindow_s %.1f\n", r->window_done, r->round_s, r->window_s);
	fprintf(f, "channel %s\npublications %zu\nfailures %zu\nops %zu\nacked %zu\n", r->channel,
		r->pst.publications, r->pst.failures, r->pst.ops_started, r->pst.acked);
	fprintf(f, "pub_datagrams %" PRIu64 "\npub_bytes %" PRIu64 "\npub_cpu_s %.2f\n", r->pub_datagrams,
		r->pub_bytes, r->pub_cpu_s);
	fprintf(f, "per_client_datagrams %.1f\nper_client_bytes %.0f\n", (double)r->pub_datagrams / n,
		(double)r->pub_bytes / n);
	fprintf(f, "floor_datagrams %d\n", r->floor_datagrams);
	fprintf(f, "join_datagrams %" PRIu64 "\n", r->join_datagrams);
	fprintf(f, "samples %d\nopened %d\nopened_pct %.2f\n", r->samples, r->opened,
		r->samples ? 100.0 * r->opened / r->samples : 0.0);
	fprintf(f, "fail_nothing %d\nfail_not_authentic %d\nfail_expired %d\nfail_no_nodes %d\nfail_timeout %d\n"
		   "fail_other %d\n",
		r->fetch_fail[0], r->fetch_fail[1], r->fetch_fail[2], r->fetch_fail[3], r->fetch_fail[4],
		r->fetch_fail[5]);
	fprintf(f, "fetch_ms_p50 %.0f\nfetch_ms_p95 %.0f\n", r->fetch_ms_p50, r->fetch_ms_p95);
	fprintf(f, "clients_stored %d\nclients_stored_pct %.2f\nchunk_holders_min %d\nchunk_holders_p50 %d\n",
		r->clients_stored, 100.0 * r->clients_stored / n, r->chunk_holders_min, r->chunk_holders_p50);
	fprintf(f, "trips %" PRIu64 "\nlt_bans %" PRIu64 "\nlt_banned_drops %" PRIu64 "\nlt_budget_drops %" PRIu64
		   "\njech_budget_drops %" PRIu64 "\njech_overflows %" PRIu64 "\n",
		r->trips, m->trips.lt_bans, m->trips.lt_banned_drops, m->trips.lt_budget_drops,
		m->trips.jech_budget_drops, m->trips.jech_overflows);
	fprintf(f, "queries_lt %" PRIu64 "\nqueries_jech %" PRIu64 "\n", m->queries[SIMDHT_LT],
		m->queries[SIMDHT_JECH]);
	fprintf(f, "puts %" PRIu64 "\nitems_stored %" PRIu64 "\nitem_bad_sigs %" PRIu64 "\nitems_evicted %" PRIu64
		   "\nitems_dropped %" PRIu64 "\nitems_now %" PRIu64 "\njech_item_drops %" PRIu64 "\n",
		m->puts, m->items_stored, m->item_bad_sigs, m->items_evicted, m->items_dropped, m->items_now,
		m->jech_item_drops);
	fprintf(f, "announces %" PRIu64 "\nstored %" PRIu64 "\nstore_dropped %" PRIu64 "\nbad_tokens %" PRIu64
		   "\nport0_refused %" PRIu64 "\nexpired %" PRIu64 "\npeers_now %" PRIu64 "\nhashes_now %" PRIu64 "\n",
		m->announces, m->stored, m->store_dropped, m->bad_tokens, m->port0_refused, m->expired, m->peers_now,
		m->hashes_now);
	fprintf(f, "peak_src_count_10s %u\npeak_node_qps %u\npeak_node_out_bps %u\n", m->peak_src_count,
		m->peak_node_qps, m->peak_node_out_bps);
	fprintf(f, "sim_wall_s %.1f\nsim_cpu_s %.1f\nmax_rss_kb %ld\n", r->sim_wall_s, r->sim_cpu_s, r->max_rss_kb);
}
