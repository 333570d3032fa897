/* The simulated DHT network of the tests and bench_rendezvous (simnet.h). */
#include "tests/simnet.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIMNET_MTU 1500

struct simnet_pkt {
	uint32_t next_free;
	int to;
	struct sockaddr_in6 from;
	size_t len;
	uint8_t data[SIMNET_MTU];
};

/* The heap moves these, not the datagrams. */
struct simnet_qent {
	int64_t at_ms;
	uint64_t seq;               /* ties in at_ms are delivered in sending order */
	uint32_t pkt;
};

#define NO_PKT UINT32_MAX

uint64_t simnet_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void simnet_addr(int i, struct sockaddr_in6 *a)
{
	memset(a, 0, sizeof(*a));
	a->sin6_family = AF_INET6;
	a->sin6_addr.s6_addr[0] = 0x20;
	a->sin6_addr.s6_addr[1] = 0x01;
	a->sin6_addr.s6_addr[2] = 0x0d;
	a->sin6_addr.s6_addr[3] = 0xb8;
	a->sin6_addr.s6_addr[14] = (uint8_t)((i + 1) >> 8);
	a->sin6_addr.s6_addr[15] = (uint8_t)(i + 1);
	a->sin6_port = htons(6881);
}

static int node_of(const struct simnet *net, const struct sockaddr *to, socklen_t to_len)
{
	if (to_len != sizeof(struct sockaddr_in6) || to->sa_family != AF_INET6)
		return -1;
	const struct sockaddr_in6 *t6 = (const struct sockaddr_in6 *)(const void *)to;
	int i = (t6->sin6_addr.s6_addr[14] << 8 | t6->sin6_addr.s6_addr[15]) - 1;
	if (i < 0 || i >= net->n_nodes)
		return -1;
	const struct sockaddr_in6 *a = &net->n[i].addr;
	if (memcmp(&a->sin6_addr, &t6->sin6_addr, 16) != 0 || a->sin6_port != t6->sin6_port)
		return -1;
	return i;
}

static bool q_before(const struct simnet_qent *a, const struct simnet_qent *b)
{
	return a->at_ms < b->at_ms || (a->at_ms == b->at_ms && a->seq < b->seq);
}

static void q_swap(struct simnet_qent *a, struct simnet_qent *b)
{
	struct simnet_qent t = *a;
	*a = *b;
	*b = t;
}

static void heap_pop(struct simnet *net)
{
	struct simnet_qent *q = net->q;
	q[0] = q[--net->n_q];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < net->n_q && q_before(&q[l], &q[m]))
			m = l;
		if (r < net->n_q && q_before(&q[r], &q[m]))
			m = r;
		if (m == i)
			break;
		q_swap(&q[i], &q[m]);
		i = m;
	}
}

/* A free datagram from the pool (grown by doubling), or NULL. */
static struct simnet_pkt *pkt_alloc(struct simnet *net, uint32_t *idx)
{
	if (net->free_pkt == NO_PKT) {
		size_t cap = net->cap_pool ? net->cap_pool * 2 : 256;
		if (cap >= NO_PKT)
			return NULL;
		struct simnet_pkt *pool = realloc(net->pool, cap * sizeof(*pool));
		if (!pool)
			return NULL;
		for (size_t i = net->cap_pool; i < cap; i++)
			pool[i].next_free = i + 1 < cap ? (uint32_t)(i + 1) : NO_PKT;
		net->pool = pool;
		net->free_pkt = (uint32_t)net->cap_pool;
		net->cap_pool = cap;
	}
	*idx = net->free_pkt;
	struct simnet_pkt *p = &net->pool[*idx];
	net->free_pkt = p->next_free;
	return p;
}

static void pkt_free(struct simnet *net, uint32_t idx)
{
	net->pool[idx].next_free = net->free_pkt;
	net->free_pkt = idx;
}

int simnet_send(struct simnet_node *from, const uint8_t *buf, size_t len, const struct sockaddr *to,
		socklen_t to_len)
{
	struct simnet *net = from->net;
	int dest = node_of(net, to, to_len);
	net->sent++;
	from->tx++;
	from->tx_bytes += len;
	if (net->on_send && !net->on_send(net->ctx, from, dest, buf, len))
		return 0;
	if (dest < 0)
		return -EHOSTUNREACH;
	if (len > SIMNET_MTU)
		return -EMSGSIZE;
	if (net->n_q == net->cap_q) {
		size_t cap = net->cap_q ? net->cap_q * 2 : 1024;
		struct simnet_qent *q = realloc(net->q, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		net->q = q;
		net->cap_q = cap;
	}
	uint32_t pi;
	struct simnet_pkt *p = pkt_alloc(net, &pi);
	if (!p)
		return -ENOMEM;
	p->to = dest;
	p->from = from->addr;
	p->len = len;
	memcpy(p->data, buf, len);
	size_t i = net->n_q++;
	struct simnet_qent *e = &net->q[i];
	e->at_ms = net->now + 5 + (int64_t)(simnet_xorshift(&net->rng) % 30) + from->delay_ms;
	e->seq = net->seq++;
	e->pkt = pi;
	while (i > 0 && q_before(&net->q[i], &net->q[(i - 1) / 2])) {
		q_swap(&net->q[i], &net->q[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

static int sim_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
		    socklen_t to_len)
{
	return simnet_send(ctx, buf, len, to, to_len);
}

static void sim_random(void *ctx, uint8_t *buf, size_t len)
{
	struct simnet_node *n = ctx;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(simnet_xorshift(&n->rng) >> 24);
}

static void sim_debug(void *ctx, const char *line)
{
	struct simnet_node *n = ctx;
	if (n->idx == n->net->debug_node)
		fprintf(stderr, "[%d] %s\n", n->idx, line);
}

const struct dht_ops simnet_ops = { sim_send, sim_random, sim_debug };

int simnet_init(struct simnet *net, int n_nodes, int64_t now_ms)
{
	return simnet_init_models(net, n_nodes, 0, now_ms);
}

int simnet_init_models(struct simnet *net, int n_nodes, int n_models, int64_t now_ms)
{
	memset(net, 0, sizeof(*net));
	if (n_nodes < 1 || n_nodes > 0xfffe || n_models < 0 || n_models > n_nodes)
		return -EINVAL;
	net->n = calloc((size_t)n_nodes, sizeof(*net->n));
	if (!net->n)
		return -ENOMEM;
	net->n_nodes = n_nodes;
	net->n_models = n_models;
	net->free_pkt = NO_PKT;
	net->now = now_ms;
	net->rng = 0x9e3779b97f4a7c15ull;
	net->measure_rng = 0x2545f4914f6cdd1dull;
	net->debug_node = -1;
	net->step_deadline = INT64_MAX;
	for (int i = 0; i < n_nodes; i++) {
		struct simnet_node *n = &net->n[i];
		n->net = net;
		n->idx = i;
		n->is_alive = true;
		n->rng = 0x1234567ull * (uint64_t)(i + 1) + 99;
		n->deadline = i < n_models ? INT64_MAX : now_ms;
		simnet_addr(i, &n->addr);
		if (i < n_models)
			continue;
		int rc = dht_new(&simnet_ops, n, NULL, now_ms, &n->d);
		if (rc < 0) {
			net->n_nodes = i;
			simnet_fini(net);
			return rc;
		}
	}
	return 0;
}

void simnet_fini(struct simnet *net)
{
	for (int i = 0; i < net->n_nodes; i++)
		dht_free(net->n[i].d);
	free(net->n);
	free(net->q);
	free(net->pool);
	memset(net, 0, sizeof(*net));
}

/* Whether this measured call is timed; its time then counts `scale` calls. */
static bool measure_this(struct simnet *net, const struct simnet_node *n, double *scale)
{
	if (!n->is_measured)
		return false;
	*scale = net->measure_every > 1 ? net->measure_every : 1;
	/* Drawn at random: a fixed stride would time the same nodes' ticks. */
	return *scale == 1 || simnet_xorshift(&net->measure_rng) % (uint64_t)*scale == 0;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void simnet_run(struct simnet *net, int64_t until, const bool *stop)
{
	while (net->now < until && !(stop && *stop)) {
		int64_t next = until;
		if (net->n_q && net->q[0].at_ms < next)
			next = net->q[0].at_ms;
		for (int i = net->n_models; i < net->n_nodes; i++)
			if (net->n[i].is_alive && net->n[i].d && net->n[i].deadline < next)
				next = net->n[i].deadline;
		if (net->step && net->step_deadline < next)
			next = net->step_deadline;
		if (next > net->now)
			net->now = next;
		/* Delivery only queues datagrams at least 5 ms ahead. */
		while (net->n_q && net->q[0].at_ms <= net->now) {
			uint32_t pi = net->q[0].pkt;
			heap_pop(net);
			/* Copied out: an answer sent from here may grow the pool. */
			struct simnet_pkt p;
			memcpy(&p, &net->pool[pi], offsetof(struct simnet_pkt, data) + net->pool[pi].len);
			pkt_free(net, pi);
			struct simnet_node *n = &net->n[p.to];
			if (!n->is_alive)
				continue;
			n->rx++;
			if (!n->d) {
				if (net->model_input)
					net->model_input(net->model_ctx, n, p.data, p.len, &p.from);
				continue;
			}
			double scale;
			bool timed = measure_this(net, n, &scale);
			double c0 = timed ? cpu_now() : 0;
			dht_input(n->d, p.data, p.len, (const struct sockaddr *)&p.from, sizeof(p.from),
				  net->now);
			if (timed)
				n->cpu_s += (cpu_now() - c0) * scale;
			if (net->on_input)
				net->on_input(net->ctx, n);
		}
		for (int i = net->n_models; i < net->n_nodes; i++) {
			struct simnet_node *n = &net->n[i];
			if (!n->is_alive || !n->d || n->deadline > net->now)
				continue;
			double scale;
			bool timed = measure_this(net, n, &scale);
			double c0 = timed ? cpu_now() : 0;
			n->deadline = dht_tick(n->d, net->now);
			if (timed)
				n->cpu_s += (cpu_now() - c0) * scale;
			if (n->deadline <= net->now) {
				net->bad_deadlines++;
				n->deadline = net->now + 1;
			}
		}
		if (net->step)
			net->step_deadline = net->step(net->ctx, net->now);
		/* Operations started from the hooks want their nodes ticked soon. */
		if (net->tick_within_ms > 0)
			for (int i = net->n_models; i < net->n_nodes; i++)
				if (net->n[i].deadline > net->now + net->tick_within_ms)
					net->n[i].deadline = net->now + net->tick_within_ms;
	}
}

void simnet_bootstrap(struct simnet *net, int64_t for_ms)
{
	for (int i = 1; i < net->n_nodes; i++) {
		if (!net->n[i].d)
			continue;
		dht_add_node(net->n[i].d, (const struct sockaddr *)&net->n[0].addr,
			     sizeof(net->n[0].addr), net->now);
		net->n[i].deadline = net->now;
	}
	simnet_run(net, net->now + for_ms, NULL);
}
