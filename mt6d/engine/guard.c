#include <errno.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nftables/libnftables.h>

#include "mt6d/base/log.h"
#include "mt6d/core/guardrules.h"
#include "mt6d/core/util.h"
#include "mt6d/engine/guard.h"

/* Text of one transaction: the table, or a batch of set elements (about
 * 130 bytes per endpoint). Grown on demand up to the queue's size. */
#define GUARD_TEXT_MIN 8192
/* Addresses of the host kept out of a scale-mode claim. */
#define GUARD_MAX_HOSTS 64

struct guard_prefix {
	struct in6_addr addr;            /* host bits zero */
	unsigned prefix_len;
	unsigned refs;                   /* tunnels using it (guard_release) */
	bool is_remote;                  /* has its unreachable route: kept for life */
};

struct guard {
	struct ev_loop *loop;
	struct nllink *nllink;           /* borrowed */
	struct nft_ctx *nft;
	char table[GUARDRULES_NAME_LEN];
	bool has_table;
	ev_prepare commit;               /* active while endpoints wait */
	struct guardrules_ep *queue;
	size_t queue_len, queue_cap;
	struct guard_prefix protected[GUARD_MAX_PROTECTED];
	size_t protected_len;
	char *text;
	size_t text_cap;
	ev_tstamp err_logged_at;
	struct guard_stats stats;
};

/* Runs one nft transaction; on failure the first line of libnftables'
 * error text goes to msg (NULL: none). */
static int run(struct guard *g, const char *text, char *msg, size_t msg_len)
{
	struct timespec t0, t1;
	const char *err;
	uint64_t us;
	size_t n;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = nft_run_cmd_from_buffer(g->nft, text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	g->stats.commit_us_total += us;
	if (us > g->stats.commit_us_max)
		g->stats.commit_us_max = us;
	g->stats.commits++;
	if (rc == 0)
		return 0;
	g->stats.errors++;
	err = nft_ctx_get_error_buffer(g->nft);
	n = err ? strcspn(err, "\n") : 0;
	set_msg(msg, msg_len, "nftables: %.*s", (int)(n > 200 ? 200 : n), err ? err : "");
	return -EINVAL;
}

static int text_reserve(struct guard *g, size_t len)
{
	char *p;

	if (len <= g->text_cap)
		return 0;
	p = realloc(g->text, len);
	if (!p)
		return -ENOMEM;
	g->text = p;
	g->text_cap = len;
	return 0;
}

static void commit_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct guard *g = container_of(w, struct guard, commit);
	int rc;

	(void)revents;
	rc = guard_flush(g);
	if (rc < 0 && (g->err_logged_at == 0 || ev_now(loop) - g->err_logged_at >= 10.0)) {
		g->err_logged_at = ev_now(loop);
		log_err(rc, "guard %s: adding slot endpoints", g->table);
	}
}

int guard_new(struct ev_loop *loop, struct nllink *nllink, const char *role, const char *ifname,
	      struct guard **g_out, char *msg, size_t msg_len)
{
	struct guard *g;
	int rc;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->loop = loop;
	g->nllink = nllink;
	ev_prepare_init(&g->commit, commit_cb);
	rc = guardrules_table_name(role, ifname, g->table);
	if (rc < 0) {
		set_msg(msg, msg_len, "nftables table name for '%s' too long", ifname);
		goto fail;
	}
	g->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!g->nft) {
		rc = -ENOMEM;
		set_msg(msg, msg_len, "libnftables: no context");
		goto fail;
	}
	/* Nothing on our stdout or stderr: errors are reported at the edge. */
	nft_ctx_buffer_output(g->nft);
	nft_ctx_buffer_error(g->nft);
	rc = text_reserve(g, GUARD_TEXT_MIN);
	if (rc < 0)
		goto fail;
	rc = guardrules_table(g->table, g->text, g->text_cap);
	if (rc < 0)
		goto fail;
	rc = run(g, g->text, msg, msg_len);
	if (rc < 0)
		goto fail;
	g->has_table = true;
	*g_out = g;
	return 0;
fail:
	guard_free(g);
	return rc;
}

void guard_free(struct guard *g)
{
	char text[128];

	if (!g)
		return;
	if (g->loop)
		ev_prepare_stop(g->loop, &g->commit);
	if (g->has_table && guardrules_delete(g->table, text, sizeof(text)) > 0 &&
	    run(g, text, NULL, 0) < 0)
		log_warnx("guard: deleting table inet %s: %s", g->table,
			  nft_ctx_get_error_buffer(g->nft));
	if (g->nft)
		nft_ctx_free(g->nft);
	free(g->queue);
	free(g->text);
	free(g);
}

static void mask(struct in6_addr *a, unsigned prefix_len)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (prefix_len >= 8 * (i + 1))
			continue;
		if (prefix_len <= 8 * i)
			a->s6_addr[i] = 0;
		else
			a->s6_addr[i] &= (uint8_t)(0xff00u >> (prefix_len - 8 * i));
	}
}

/* The entry for exactly addr/prefix_len, or NULL. */
static struct guard_prefix *find_exact(struct guard *g, const struct in6_addr *addr,
				       unsigned prefix_len)
{
	size_t i;

	for (i = 0; i < g->protected_len; i++) {
		if (g->protected[i].prefix_len == prefix_len &&
		    memcmp(&g->protected[i].addr, addr, sizeof(*addr)) == 0)
			return &g->protected[i];
	}
	return NULL;
}

/* Whether a broader entry than addr/prefix_len already covers it. */
static bool is_covered(const struct guard *g, const struct in6_addr *addr, unsigned prefix_len)
{
	size_t i;

	for (i = 0; i < g->protected_len; i++) {
		const struct guard_prefix *p = &g->protected[i];
		struct in6_addr a = *addr;

		if (p->prefix_len >= prefix_len)
			continue;
		mask(&a, p->prefix_len);
		if (memcmp(&a, &p->addr, sizeof(a)) == 0)
			return true;
	}
	return false;
}

static int add_route(struct guard *g, const struct in6_addr *a, unsigned prefix_len, char *msg,
		     size_t msg_len)
{
	char why[128] = "";
	int rc;

	rc = nllink_add_unreachable(g->nllink, a, prefix_len, GUARD_ROUTE_METRIC, why, sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "unreachable route: %s%s%s%s", strerror(-rc),
			why[0] ? " (kernel: " : "", why, why[0] ? ")" : "");
	return rc;
}

int guard_protect(struct guard *g, const struct in6_addr *addr, unsigned prefix_len,
		  bool is_remote, char *msg, size_t msg_len)
{
	struct guard_prefix *p;
	struct in6_addr a;
	char text[256];
	int rc;

	if (!g)
		return 0;
	if (prefix_len > 128)
		return -EINVAL;
	a = *addr;
	mask(&a, prefix_len);
	p = find_exact(g, &a, prefix_len);
	if (p) {
		if (is_remote && !p->is_remote) {
			rc = add_route(g, &a, prefix_len, msg, msg_len);
			if (rc < 0)
				return rc;
			p->is_remote = true;
		}
		p->refs++;
		return 0;
	}
	if (is_covered(g, &a, prefix_len))
		return 0;
	if (g->protected_len == GUARD_MAX_PROTECTED) {
		set_msg(msg, msg_len, "more than %d tunnel addresses to protect", GUARD_MAX_PROTECTED);
		return -ENOSPC;
	}
	rc = guardrules_prefix(g->table, "tun6", &a, prefix_len, text, sizeof(text));
	if (rc < 0)
		return rc;
	rc = run(g, text, msg, msg_len);
	if (rc < 0)
		return rc;
	if (is_remote) {
		rc = add_route(g, &a, prefix_len, msg, msg_len);
		if (rc < 0)
			return rc;
	}
	p = &g->protected[g->protected_len++];
	p->addr = a;
	p->prefix_len = prefix_len;
	p->refs = 1;
	p->is_remote = is_remote;
	return 0;
}

void guard_release(struct guard *g, const struct in6_addr *addr, unsigned prefix_len)
{
	struct guard_prefix *p;
	struct in6_addr a;
	char text[256];

	if (!g || prefix_len > 128)
		return;
	a = *addr;
	mask(&a, prefix_len);
	p = find_exact(g, &a, prefix_len);
	if (!p || --p->refs > 0 || p->is_remote)
		return;
	/* A seed of an introduction gone for good: out of the set, so that
	 * the set and the list hold what is live, not every K ever seen. */
	if (guardrules_prefix_delete(g->table, "tun6", &a, prefix_len, text, sizeof(text)) > 0 &&
	    run(g, text, NULL, 0) < 0)
		log_debug("guard %s: removing a tunnel address from tun6 failed", g->table);
	*p = g->protected[--g->protected_len];
}

struct host_list {
	struct in6_addr addrs[GUARD_MAX_HOSTS];
	size_t len;
};

static void host_cb(const struct nladdr_info *info, void *arg)
{
	struct host_list *h = arg;

	if (info->proto != NLADDR_PROTO_MT6D && h->len < GUARD_MAX_HOSTS)
		h->addrs[h->len++] = info->addr;
}

int guard_claim(struct guard *g, struct nladdr *nladdr, unsigned ifindex,
		const struct in6_addr *prefix, unsigned prefix_len, char *msg, size_t msg_len)
{
	struct host_list hosts = { .len = 0 };
	struct in6_addr a = *prefix;
	size_t i, len;
	int rc;

	if (!g)
		return 0;
	rc = nladdr_dump(nladdr, ifindex, host_cb, &hosts);
	if (rc < 0) {
		set_msg(msg, msg_len, "listing the addresses of the link: %s", strerror(-rc));
		return rc;
	}
	mask(&a, prefix_len);
	rc = text_reserve(g, 256 * (hosts.len + 1));
	if (rc < 0)
		return rc;
	/* Hosts first: the claim never matches the host's own addresses. */
	len = 0;
	for (i = 0; i < hosts.len; i++) {
		rc = guardrules_prefix(g->table, "host", &hosts.addrs[i], 128, g->text + len,
				       g->text_cap - len);
		if (rc < 0)
			return rc;
		len += (size_t)rc;
	}
	rc = guardrules_prefix(g->table, "claim", &a, prefix_len, g->text + len, g->text_cap - len);
	if (rc < 0)
		return rc;
	return run(g, g->text, msg, msg_len);
}

static void queue_endpoint(struct guard *g, const struct in6_addr *addr, uint16_t port,
			   uint32_t lifetime_ms, bool is_muxed)
{
	if (!g)
		return;
	if (g->queue_len == g->queue_cap) {
		size_t cap = g->queue_cap ? 2 * g->queue_cap : 64;
		struct guardrules_ep *q;

		if (cap > GUARD_MAX_QUEUE || !(q = realloc(g->queue, cap * sizeof(*q)))) {
			g->stats.dropped++;
			return;
		}
		g->queue = q;
		g->queue_cap = cap;
	}
	g->queue[g->queue_len].addr = *addr;
	g->queue[g->queue_len].port = port;
	g->queue[g->queue_len].lifetime_ms = lifetime_ms;
	g->queue[g->queue_len].is_muxed = is_muxed;
	g->queue_len++;
	if (g->loop && !ev_is_active(&g->commit))
		ev_prepare_start(g->loop, &g->commit);
}

void guard_add_endpoint(struct guard *g, const struct in6_addr *addr, uint16_t port,
			uint32_t lifetime_ms)
{
	queue_endpoint(g, addr, port, lifetime_ms, false);
}

void guard_add_mux_endpoint(struct guard *g, const struct in6_addr *addr, uint16_t port,
			    uint32_t lifetime_ms)
{
	queue_endpoint(g, addr, port, lifetime_ms, true);
}

int guard_tproxy(struct guard *g, uint16_t port, char *msg, size_t msg_len)
{
	int rc;

	if (!g)
		return -EINVAL;
	rc = text_reserve(g, 512);
	if (rc < 0)
		return rc;
	rc = guardrules_tproxy(g->table, port, g->text, g->text_cap);
	if (rc < 0)
		return rc;
	return run(g, g->text, msg, msg_len);
}

int guard_flush(struct guard *g)
{
	size_t n;
	int rc;

	if (!g)
		return 0;
	if (g->loop)
		ev_prepare_stop(g->loop, &g->commit);
	n = g->queue_len;
	if (n == 0)
		return 0;
	g->queue_len = 0;
	rc = text_reserve(g, 256 + 256 * n);
	if (rc < 0)
		return rc;
	rc = guardrules_endpoints(g->table, g->queue, n, g->text, g->text_cap);
	if (rc < 0)
		return rc;
	rc = run(g, g->text, NULL, 0);
	if (rc == 0)
		g->stats.endpoints += n;
	return rc;
}

void guard_get_stats(const struct guard *g, struct guard_stats *stats_out)
{
	memset(stats_out, 0, sizeof(*stats_out));
	if (g)
		*stats_out = g->stats;
}

const char *guard_table(const struct guard *g)
{
	return g ? g->table : "";
}

void guard_format_stats(const struct guard *g, char *buf, size_t buf_len)
{
	struct guard_stats s;

	guard_get_stats(g, &s);
	snprintf(buf, buf_len,
		 "guard_table=%s\nguard_commits=%" PRIu64 "\nguard_endpoints=%" PRIu64
		 "\nguard_errors=%" PRIu64 "\nguard_dropped=%" PRIu64
		 "\nguard_commit_us_avg=%" PRIu64 "\nguard_commit_us_max=%" PRIu64 "\n",
		 guard_table(g), s.commits, s.endpoints, s.errors, s.dropped,
		 s.commits ? s.commit_us_total / s.commits : 0, s.commit_us_max);
}
