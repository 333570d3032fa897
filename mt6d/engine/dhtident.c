/* dhtident: one DHT identity per config window (see dhtident.h). */
#include "mt6d/engine/dhtident.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/base/log.h"
#include "mt6d/core/ctlproto.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/dhtaddr.h"
#include "mt6d/engine/guard.h"
#include "netlink/nladdr.h"

#define NETLINK_TIMEOUT_MS 2000
#define RETRY_S 5.0             /* a change that failed is tried again after this */
#define CHECK_S 1.0             /* how often a lingering node is asked about */
#define PORT_TRIES 8            /* random ports tried when one is taken */
#define MAX_AVOID 65536         /* addresses of the interface read to avoid them */
/* Nodes of the previous table the new node starts from (pinged at once):
 * a few, drawn at random, so that the set does not mark the change. */
#define RESTORE_NODES 16
/* Kept bound this long past the window and the linger: the kernel drops a
 * forgotten address (SIGKILL) by itself soon after. */
#define VALID_MARGIN_S 30
/* A new node that knows nobody this long after its start (every node of
 * the sample gone) asks the bootstrap routers after all. */
#define JOIN_CHECK_S 15.0

struct ident {
	struct dhtev *ev;
	struct in6_addr addr;
	uint16_t port;
	uint8_t id[DHT_ID_LEN];
	bool is_bound;
};

struct dhtident {
	struct dhtident_params prm;
	char *bootstrap;
	struct nladdr *nl;
	struct ident *cur, *old;
	uint64_t cur_window;    /* the window (UNIX s) in which cur was made */
	ev_tstamp old_since;
	ev_tstamp failed_at;    /* the last change that failed */
	ev_periodic window;
	ev_timer check;         /* the lingering node; also the retry of a failed change */
	ev_timer join_check;
	bool is_bootstrap_deferred; /* the first node asks the routers at stagger_ms */
	bool is_stagger_armed;      /* ... counted from the loop's first iteration */
	uint64_t changes, failures;
};

struct avoid_list {
	uint8_t (*a)[DHTADDR_LEN];
	size_t n, cap;
};

uint32_t dhtident_default_linger_s(uint32_t period_s)
{
	uint32_t half = period_s / 2;
	return half < 60 ? (half ? half : 1) : 60;
}

static void on_dump(const struct nladdr_info *info, void *arg)
{
	struct avoid_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *na;
		if (cap > MAX_AVOID || !(na = realloc(l->a, cap * sizeof(*l->a))))
			return;
		l->a = na;
		l->cap = cap;
	}
	memcpy(l->a[l->n++], info->addr.s6_addr, DHTADDR_LEN);
}

static uint64_t window_of(const struct dhtident *di, ev_tstamp t)
{
	return derive_window_start((int64_t)t, di->prm.period_s);
}

static void ident_free(struct dhtident *di, struct ident *id)
{
	char msg[NLADDR_MSG_LEN] = "", a[INET6_ADDRSTRLEN];
	int rc;

	if (!id)
		return;
	dhtev_free(id->ev);
	if (id->is_bound) {
		rc = nladdr_del_sync(di->nl, di->prm.ifindex, &id->addr, msg, sizeof(msg));
		if (rc < 0 && rc != -EADDRNOTAVAIL)
			log_err(rc, "removing the DHT address %s%s%s",
				inet_ntop(AF_INET6, &id->addr, a, sizeof(a)), msg[0] ? ": " : "", msg);
	}
	sodium_memzero(id, sizeof(*id));
	free(id);
}

/* Opens the node on id->addr: a random port (a few tries if taken) or the
 * fixed one, the id BEP 42's for the address, the routing table of from. */
static int ident_open(struct dhtident *di, struct ident *id, const struct ident *from, char *msg,
		      size_t msg_len)
{
	struct dht_config cfg;
	struct sockaddr_in6 sa;
	uint8_t rnd[DHT_ID_LEN], *state = NULL;
	char a[INET6_ADDRSTRLEN];
	size_t n_known = 0;
	int rc = -EADDRINUSE, state_len = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_addr = id->addr;
	randombytes_buf(rnd, sizeof(rnd));
	rc = dht_id_for_address((struct sockaddr *)&sa, sizeof(sa), rnd, id->id);
	sodium_memzero(rnd, sizeof(rnd));
	if (rc < 0) {
		snprintf(msg, msg_len, "deriving a BEP 42 node id");
		return rc;
	}
	if (from) {
		struct dht_stats st;
		dht_get_stats(dhtev_dht(from->ev), dhtev_now_ms(), &st);
		n_known = st.good6 + st.questionable6;
		state = malloc(DHT_STATE_MAX_LEN);
		if (state && n_known)
			state_len = dht_save_sample(dhtev_dht(from->ev), dhtev_now_ms(), RESTORE_NODES,
					    state, DHT_STATE_MAX_LEN);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = id->id;
	cfg.is_read_only = di->prm.is_read_only;
	if (state_len > 0) {
		cfg.state = state;
		cfg.state_len = (size_t)state_len;
	}
	inet_ntop(AF_INET6, &id->addr, a, sizeof(a));
	for (int i = 0; i < PORT_TRIES; i++) {
		id->port = di->prm.fixed_port ? di->prm.fixed_port : dhtaddr_draw_port(NULL);
		rc = dhtev_new(di->prm.loop, a, id->port, &cfg, &id->ev, msg, msg_len);
		if (rc != -EADDRINUSE || di->prm.fixed_port)
			break;
	}
	free(state);
	if (rc < 0)
		return rc;
	if (di->prm.hook)
		dhtev_set_hook(id->ev, di->prm.hook, di->prm.ctx);
	/* The routing table moves from node to node; the bootstrap routers are
	 * asked only when there is none (the first node, or a table lost). */
	if (state_len <= 0 && di->bootstrap[0] && !di->is_bootstrap_deferred) {
		char why[256] = "";
		if (dhtev_add_bootstrap(id->ev, di->bootstrap, why, sizeof(why)) < 0)
			log_warnx("DHT bootstrap: %s", why);
	}
	dhtev_kick(id->ev);
	return 0;
}

/* Draws, binds and opens a new identity. */
static int ident_make(struct dhtident *di, const struct ident *from, struct ident **out, char *msg,
		      size_t msg_len)
{
	struct avoid_list avoid = { 0 };
	char nlmsg[NLADDR_MSG_LEN] = "", a[INET6_ADDRSTRLEN];
	uint32_t valid_s = di->prm.period_s + di->prm.linger_s + VALID_MARGIN_S;
	struct ident *id;
	int rc;

	id = calloc(1, sizeof(*id));
	if (!id) {
		snprintf(msg, msg_len, "allocating a DHT identity");
		return -ENOMEM;
	}
	/* Never an address the host has now on any interface: its stable
	 * ones, MT6D ones, the seed addresses of the TUNs. */
	rc = nladdr_dump(di->nl, 0, on_dump, &avoid);
	if (rc >= 0)
		rc = dhtaddr_draw(di->prm.prefix.s6_addr, (const uint8_t(*)[DHTADDR_LEN])avoid.a, avoid.n,
				  NULL, id->addr.s6_addr);
	free(avoid.a);
	if (rc < 0) {
		snprintf(msg, msg_len, "drawing a DHT address");
		goto fail;
	}
	rc = nladdr_add_sync(di->nl, di->prm.ifindex, &id->addr, valid_s, nlmsg, sizeof(nlmsg));
	/* A failed add may still have happened (a timeout, an ack lost or
	 * misread under load): remove the address anyway, unless it is
	 * somebody else's (EEXIST: ours never existed). */
	if (rc < 0 && rc != -EEXIST)
		id->is_bound = true;
	if (rc < 0) {
		snprintf(msg, msg_len, "binding the DHT address %s%s%s",
			 inet_ntop(AF_INET6, &id->addr, a, sizeof(a)), nlmsg[0] ? ": " : "", nlmsg);
		goto fail;
	}
	id->is_bound = true;
	rc = ident_open(di, id, from, msg, msg_len);
	if (rc < 0)
		goto fail;
	guard_add_endpoint(di->prm.guard, &id->addr, id->port, valid_s * 1000u); /* guard */
	*out = id;
	return 0;
fail:
	ident_free(di, id);
	return rc;
}

static void retire_old(struct dhtident *di, bool is_forced)
{
	if (!di->old)
		return;
	if (di->prm.release)
		di->prm.release(di->prm.ctx, di->old->ev, is_forced);
	ident_free(di, di->old);
	di->old = NULL;
}

static int change(struct dhtident *di, bool is_old_dead, char *msg, size_t msg_len)
{
	struct ident *id;
	char a[INET6_ADDRSTRLEN];
	int rc;

	rc = ident_make(di, di->cur, &id, msg, msg_len);
	if (rc < 0) {
		di->failures++;
		return rc;
	}
	/* At most two nodes: one still lingering at the next change goes now. */
	retire_old(di, true);
	di->old = di->cur;
	di->cur = id;
	di->cur_window = window_of(di, ev_time());
	di->changes++;
	di->old_since = ev_now(di->prm.loop);
	if (di->prm.switched)
		di->prm.switched(di->prm.ctx, di->old ? di->old->ev : NULL, id->ev);
	if (is_old_dead)
		retire_old(di, true);
	log_debug("DHT identity %" PRIu64 ": [%s]:%u", di->changes,
		  inet_ntop(AF_INET6, &id->addr, a, sizeof(a)), id->port);
	ev_timer_stop(di->prm.loop, &di->join_check);
	ev_timer_set(&di->join_check, JOIN_CHECK_S, 0);
	ev_timer_start(di->prm.loop, &di->join_check);
	ev_timer_stop(di->prm.loop, &di->check);
	if (di->old) {
		ev_timer_set(&di->check, CHECK_S, CHECK_S);
		ev_timer_start(di->prm.loop, &di->check);
	}
	return 0;
}

/* Every CHECK_S while a previous node lingers or a change is owed (one that
 * failed): frees the previous node once its user is done with it or the
 * linger is over, then tries the owed change again. */
static void check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhtident *di = (struct dhtident *)(void *)((char *)w - offsetof(struct dhtident, check));
	char msg[256] = "";

	(void)revents;
	if (di->old) {
		bool is_over = ev_now(loop) - di->old_since >= di->prm.linger_s;
		if (is_over)
			retire_old(di, true);
		else if (!di->prm.release || di->prm.release(di->prm.ctx, di->old->ev, false)) {
			ident_free(di, di->old);
			di->old = NULL;
		}
	}
	if (!di->old && window_of(di, ev_time()) != di->cur_window &&
	    ev_now(loop) - di->failed_at >= RETRY_S) {
		if (change(di, false, msg, sizeof(msg)) < 0) {
			di->failed_at = ev_now(loop);
			log_warnx("new DHT identity: %s (the current one stays)", msg);
		}
		return; /* change() re-armed the timer, or it still runs for the retry */
	}
	if (!di->old && window_of(di, ev_time()) == di->cur_window)
		ev_timer_stop(loop, w);
}

static void join_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhtident *di = (struct dhtident *)(void *)((char *)w - offsetof(struct dhtident, join_check));
	struct dht_stats st;
	char why[256] = "";

	(void)revents;
	if (di->is_bootstrap_deferred && !di->is_stagger_armed) {
		/* The daemon's set-up after dhtident_new may hold the loop for
		 * longer than every lane's stagger (CI: all three began in one
		 * iteration): the stagger counts from the loop's first run. */
		di->is_stagger_armed = true;
		ev_timer_set(w, di->prm.stagger_ms / 1000.0, 0);
		ev_timer_start(loop, w);
		return;
	}
	if (di->is_bootstrap_deferred) {
		/* Its stagger is over: a first join like any other, checked
		 * again after JOIN_CHECK_S. */
		di->is_bootstrap_deferred = false;
		ev_timer_set(w, JOIN_CHECK_S, 0);
		ev_timer_start(loop, w);
	}
	dht_get_stats(dhtev_dht(di->cur->ev), dhtev_now_ms(), &st);
	if (st.good6 + st.questionable6 > 0 || !di->bootstrap[0])
		return;
	if (dhtev_add_bootstrap(di->cur->ev, di->bootstrap, why, sizeof(why)) < 0)
		log_warnx("DHT bootstrap: %s", why);
	dhtev_kick(di->cur->ev);
}

static void window_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct dhtident *di = (struct dhtident *)(void *)((char *)w - offsetof(struct dhtident, window));
	char msg[256] = "";

	(void)revents;
	/* The first firing can come at once after start, from the loop's
	 * cached time: the identity made then is this window's already. */
	if (window_of(di, ev_time()) == di->cur_window)
		return;
	if (change(di, false, msg, sizeof(msg)) < 0) {
		log_warnx("new DHT identity at the window boundary: %s (the current one stays)", msg);
		di->failed_at = ev_now(loop);
		/* check_cb tries again (after the linger of a previous node). */
		if (!ev_is_active(&di->check)) {
			ev_timer_set(&di->check, CHECK_S, CHECK_S);
			ev_timer_start(loop, &di->check);
		}
	}
}

int dhtident_new(const struct dhtident_params *params, struct dhtident **out, char *msg,
		 size_t msg_len)
{
	struct dhtident *di;
	int rc;

	if (!params || !params->loop || !params->ifindex || !params->period_s) {
		snprintf(msg, msg_len, "bad DHT identity parameters");
		return -EINVAL;
	}
	di = calloc(1, sizeof(*di));
	if (!di) {
		snprintf(msg, msg_len, "allocating the DHT identity");
		return -ENOMEM;
	}
	di->prm = *params;
	if (!di->prm.linger_s)
		di->prm.linger_s = dhtident_default_linger_s(di->prm.period_s);
	di->bootstrap = strdup(params->bootstrap ? params->bootstrap : "");
	ev_timer_init(&di->check, check_cb, CHECK_S, CHECK_S);
	ev_timer_init(&di->join_check, join_check_cb, JOIN_CHECK_S, 0);
	di->prm.stagger_ms %= di->prm.period_s * 1000u;
	ev_periodic_init(&di->window, window_cb, di->prm.stagger_ms / 1000.0, di->prm.period_s, NULL);
	di->is_bootstrap_deferred = di->prm.stagger_ms > 0;
	if (!di->bootstrap) {
		rc = -ENOMEM;
		snprintf(msg, msg_len, "allocating the DHT identity");
		goto fail;
	}
	rc = nladdr_new(NULL, NULL, &di->nl);
	if (rc < 0) {
		snprintf(msg, msg_len, "opening a netlink socket for the DHT address");
		goto fail;
	}
	rc = change(di, false, msg, msg_len);
	if (rc < 0)
		goto fail;
	if (di->is_bootstrap_deferred) {
		ev_timer_stop(di->prm.loop, &di->join_check);
		ev_timer_set(&di->join_check, 0, 0);
		ev_timer_start(di->prm.loop, &di->join_check);
	}
	if (di->prm.fixed_port)
		log_warnx("DHTPort = %u: every window's DHT identity of this host sends from that "
			  "port, which links them for a DHT observer (0: a random port per window)",
			  di->prm.fixed_port);
	ev_periodic_start(di->prm.loop, &di->window);
	*out = di;
	return 0;
fail:
	dhtident_free(di);
	return rc;
}

void dhtident_free(struct dhtident *di)
{
	if (!di)
		return;
	ev_periodic_stop(di->prm.loop, &di->window);
	ev_timer_stop(di->prm.loop, &di->check);
	ev_timer_stop(di->prm.loop, &di->join_check);
	retire_old(di, true);
	ident_free(di, di->cur);
	di->cur = NULL;
	nladdr_free(di->nl);
	free(di->bootstrap);
	free(di);
}

struct dhtev *dhtident_current(struct dhtident *di)
{
	return di->cur->ev;
}

int dhtident_set_prefix(struct dhtident *di, const struct in6_addr *prefix)
{
	char msg[256] = "";
	struct in6_addr was = di->prm.prefix;
	int rc;

	if (!memcmp(prefix->s6_addr, was.s6_addr, 8))
		return 0;
	di->prm.prefix = *prefix;
	rc = change(di, true, msg, sizeof(msg));
	if (rc < 0) {
		di->prm.prefix = was;
		log_warnx("new DHT identity in the new prefix: %s", msg);
	}
	return rc;
}

void dhtident_get_info(const struct dhtident *di, struct dhtident_info *out)
{
	memset(out, 0, sizeof(*out));
	if (di->cur) {
		out->addr = di->cur->addr;
		out->port = di->cur->port;
		memcpy(out->id, di->cur->id, sizeof(out->id));
	}
	out->changes = di->changes;
	out->failures = di->failures;
	out->is_lingering = di->old != NULL;
}

void dhtident_show_lanes(const struct dhtident *const *lanes, size_t n, struct ctl_reply *r)
{
	struct dhtident_info in, first;
	char a[INET6_ADDRSTRLEN], id[2 * DHT_ID_LEN + 1];
	uint64_t changes = 0, failures = 0;
	unsigned lingering = 0;

	memset(&first, 0, sizeof(first));
	for (size_t i = 0; i < n; i++) {
		dhtident_get_info(lanes[i], &in);
		if (i == 0)
			first = in;
		changes += in.changes;
		failures += in.failures;
		lingering += in.is_lingering;
	}
	sodium_bin2hex(id, sizeof(id), first.id, sizeof(first.id));
	ctl_reply_printf(r, "dht_addr=%s\ndht_port=%u\ndht_id=%s\ndht_lanes=%zu\ndht_endpoints=",
			 inet_ntop(AF_INET6, &first.addr, a, sizeof(a)), first.port, id, n);
	for (size_t i = 0; i < n; i++) {
		dhtident_get_info(lanes[i], &in);
		ctl_reply_printf(r, "%s[%s]:%u", i ? "," : "", inet_ntop(AF_INET6, &in.addr, a, sizeof(a)),
				 in.port);
	}
	ctl_reply_printf(r, "\ndht_identities=%" PRIu64 "\ndht_identity_failures=%" PRIu64
			 "\ndht_lingering=%u\n", changes, failures, lingering);
}

void dhtident_show(const struct dhtident *di, struct ctl_reply *r)
{
	dhtident_show_lanes(&di, 1, r);
}
