/* mt6d-server: the rendezvous (every client's sealed config published in
 * the DHT for the current window and the next) and the introduction key K
 * of each window, replaced early on revocation. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/dhtident.h"
#include "mt6d/engine/pubsched.h"
#include "mt6d/engine/server_int.h"

/* DHT identity i starts (and changes at each window boundary) i times this
 * after the first. All 12 at one instant sent every node of an 8-node
 * swarm 31 queries in 250 ms and drew 28 kB of replies from it in one
 * second (libtorrent's output budget is 8,000 B/s); one identity's start
 * costs a node about 1 kB. 12 identities span 2.75 s, well inside the
 * 30 s a fresh server's first clients may wait. */
#define DHT_LANE_STAGGER_MS 250

static void publish_config_of(struct server *srv, const uint8_t *key, uint32_t rotation_ms,
			      struct rendezvous_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->server_seed_addr, srv->seed.s6_addr, 16);
	memcpy(cfg->intro_key, key, INTRO_KEY_LEN);
	cfg->rotation_ms = rotation_ms;
	cfg->period_s = srv->cfg.config_period_s;
}

/* The highest epoch used in the current window, kept on disk before
 * anything is announced, so that a restart within the window moves on to a
 * fresh epoch (pubsched.h). */
static void epoch_save(struct server *srv, uint64_t window, int epoch)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s/publish.state", srv->cfg.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%" PRIu64 " %d\n", window, epoch);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		log_err(-errno, "writing '%s'", path);
}

static int epoch_load(struct server *srv, uint64_t window)
{
	char path[PATH_MAX];
	uint64_t w = 0;
	int epoch = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/publish.state", srv->cfg.state_dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%" SCNu64 " %d", &w, &epoch) != 2 || w != window)
		epoch = -1;
	fclose(f);
	return epoch;
}

/* ---- The channels (RendezvousChannel): port stuffing, BEP 44 items or
 * both, one scheduler each, moving through epochs in step (pubsched.h),
 * so one saved epoch serves both. ---- */
static size_t rdv_channels(struct server *srv, struct pubsched *out[2])
{
	size_t n = 0;

	if (srv->publisher)
		out[n++] = srv->publisher;
	if (srv->itempub)
		out[n++] = srv->itempub;
	return n;
}

static int rdv_get_epoch(struct server *srv, uint64_t window)
{
	struct pubsched *ch[2];
	size_t n = rdv_channels(srv, ch);
	int epoch = -ENOENT;

	for (size_t i = 0; i < n; i++) {
		int e = pubsched_get_epoch(ch[i], window);
		epoch = e > epoch ? e : epoch;
	}
	return epoch;
}

/* The first channel's error, else the highest epoch (they are equal). */
static int rdv_set_config(struct server *srv, uint64_t window, const struct rendezvous_config *cfg,
			  int64_t unix_ms)
{
	struct pubsched *ch[2];
	size_t n = rdv_channels(srv, ch);
	int epoch = -ENOENT;

	for (size_t i = 0; i < n; i++) {
		int e = pubsched_set_config(ch[i], window, cfg, unix_ms);
		if (i == 0 || (epoch >= 0 && e > epoch))
			epoch = e;
	}
	return epoch;
}

void server_rdv_add_client(struct server *srv, const uint8_t *client_pub)
{
	struct pubsched *ch[2];
	size_t n = rdv_channels(srv, ch);

	for (size_t i = 0; i < n; i++)
		pubsched_add_client(ch[i], client_pub);
}

void server_rdv_remove_client(struct server *srv, const uint8_t *client_pub)
{
	struct pubsched *ch[2];
	size_t n = rdv_channels(srv, ch);

	for (size_t i = 0; i < n; i++)
		pubsched_remove_client(ch[i], client_pub);
}

void server_rdv_free(struct server *srv)
{
	pubsched_free(srv->publisher);
	srv->publisher = NULL;
	pubsched_free(srv->itempub);
	srv->itempub = NULL;
}

/* Publishes the current window's config (under the current K) and the
 * next one's (under next_key). */
void server_rdv_publish(struct server *srv)
{
	struct rendezvous_config rc_cfg;
	int64_t unix_ms = wall_now_ms();
	uint64_t n = srv->cfg.config_period_s;
	int epoch;

	if (!srv->publisher && !srv->itempub)
		return;
	publish_config_of(srv, srv->gen->key, srv->gen->rotation_ms, &rc_cfg);
	epoch = rdv_get_epoch(srv, srv->win_start);
	/* Announced before the change: the epoch it may move to is saved first. */
	epoch_save(srv, srv->win_start, epoch < 0 ? 0 : epoch + 1);
	epoch = rdv_set_config(srv, srv->win_start, &rc_cfg, unix_ms);
	if (epoch < 0)
		log_err(epoch, "publishing the config of window %" PRIu64, srv->win_start);
	else
		epoch_save(srv, srv->win_start, epoch);
	/* The next window under the threat level in force now. */
	publish_config_of(srv, srv->next_key, threat_rotation_ms(srv->cfg.rotation_ms, srv->threat.level), &rc_cfg);
	epoch = rdv_set_config(srv, srv->win_start + n, &rc_cfg, unix_ms);
	if (epoch < 0)
		log_err(epoch, "publishing the config of window %" PRIu64, srv->win_start + n);
	sodium_memzero(&rc_cfg, sizeof(rc_cfg));
	for (size_t i = 0; i < srv->n_idents; i++)
		dhtev_kick(dhtident_current(srv->idents[i]));
}

/* Over both channels the items go first (pubsched_tick_ordered): with 12
 * registered clients, the peers channel's announces held the first item
 * puts back 40 s, and the first sessions came at 48 s instead of 8 s
 * (bench/rendezvous-swarm.sh mixed, FRESH=10). */
static int64_t publish_hook(void *ctx, int64_t now)
{
	struct server *srv = ctx;

	return pubsched_tick_ordered(srv->itempub, srv->publisher, now, wall_now_ms());
}

/* ---- DHT identity hooks (mt6d/engine/dhtident.h): a new node every window,
 * in each of the DHTNodes identities on its own ---- */
static void dht_switched(void *ctx, struct dhtev *old, struct dhtev *node)
{
	struct server *srv = ctx;
	struct pubsched *ch[2];
	size_t n = rdv_channels(srv, ch);

	for (size_t i = 0; i < n && old; i++)
		pubsched_replace_node(ch[i], dhtev_dht(old), dhtev_dht(node));
}

static bool dht_release(void *ctx, struct dhtev *old, bool is_forced)
{
	struct server *srv = ctx;
	struct pubsched *ch[2];
	size_t n = rdv_channels(srv, ch), left = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_forced)
			pubsched_drop_node(ch[i], dhtev_dht(old));
		left += pubsched_ops_on(ch[i], dhtev_dht(old));
	}
	return left == 0;
}
/* ---- end of DHT identity hooks ---- */

/* DHTNodes identities side by side, each its own random address of the
 * /64, port and node id, each changed at the window boundaries on its own
 * (docs/PROTOCOL.md 6.5, "One IP per publication"): every one paces each
 * foreign node on its own, which multiplies the publication rate without
 * any source exceeding libtorrent's limit. */
static int start_identities(struct server *srv, const struct dhtident_params *ip, char *msg,
			    size_t msg_len)
{
	uint32_t k = config_dht_nodes(&srv->cfg);
	char why[256] = "";

	for (uint32_t i = 0; i < k; i++) {
		struct dhtident_params lane = *ip;
		int rc;

		lane.stagger_ms = i * DHT_LANE_STAGGER_MS;
		rc = dhtident_new(&lane, &srv->idents[i], why, sizeof(why));

		if (rc < 0) {
			if (k > 1)
				set_msg(msg, msg_len, "starting DHT node %u of %u: %s", i + 1, k, why);
			else
				set_msg(msg, msg_len, "starting the DHT node: %s", why);
			return rc;
		}
		srv->n_idents++;
	}
	if (k > 1)
		log_info("%u DHT identities (DHTNodes%s)", k, srv->cfg.dht_nodes ? "" : " = auto");
	return 0;
}

int server_rdv_setup(struct server *srv, char *msg, size_t msg_len)
{
	struct pubsched_params prm;
	struct dht *nodes[CONFIG_MAX_DHT_NODES];
	struct rendezvous_config rc_cfg;
	char list[CONFIG_MAX_BOOTSTRAP * CONFIG_HOSTPORT_LEN];
	size_t i, len = 0;
	struct dhtident_params ip;
	int rc, epoch;

	list[0] = '\0';
	for (i = 0; i < srv->cfg.dht_bootstrap_len; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? "," : "",
					srv->cfg.dht_bootstrap[i]);
	/* DHT identity hook: the node sends from a random address of our /64,
	 * a new one (and port and id) every window. Read-only (BEP 43): each
	 * identity lives one window and would then linger in foreign routing
	 * tables as a dead node; it only publishes (and serves nobody). */
	memset(&ip, 0, sizeof(ip));
	ip.loop = srv->loop;
	ip.ifindex = srv->link_ifindex;
	ip.guard = srv->guard; /* guard */
	ip.prefix = srv->seed;
	ip.period_s = srv->cfg.config_period_s;
	ip.fixed_port = srv->cfg.dht_port;
	ip.is_read_only = true;
	ip.bootstrap = list;
	ip.switched = dht_switched;
	ip.release = dht_release;
	ip.hook = publish_hook;
	ip.ctx = srv;
	rc = start_identities(srv, &ip, msg, msg_len);
	if (rc < 0)
		return rc;
	for (i = 0; i < srv->n_idents; i++)
		nodes[i] = dhtev_dht(dhtident_current(srv->idents[i]));
	pubsched_params_default(&prm, srv->cfg.config_period_s);
	prm.family = dhtev_family(dhtident_current(srv->idents[0]));
	rc = 0;
	if (srv->cfg.rdv_channel != CONFIG_RDV_ITEMS)
		rc = pubsched_new(PUBSCHED_PEERS, &prm, srv->priv, nodes, srv->n_idents, &srv->publisher);
	if (rc == 0 && srv->cfg.rdv_channel != CONFIG_RDV_PEERS) {
		/* The items' catch-up over 1 s, not 5: it is what a fresh
		 * server's first clients read, a put is one message per node,
		 * and the spread keeps only the order random (docs/PROTOCOL.md
		 * 6.5). Measured in a mixed foreign swarm: a client whose item
		 * was due 4.8 s after the server's start missed it by its fetch
		 * at 3.1 s and had its session at 8.3 s instead of 3.5. */
		struct pubsched_params iprm = prm;
		iprm.urgent_spread_s = 1;
		rc = pubsched_new(PUBSCHED_ITEMS, &iprm, srv->priv, nodes, srv->n_idents, &srv->itempub);
	}
	if (rc < 0) {
		set_msg(msg, msg_len, "starting the publisher: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < srv->n_clients; i++)
		if (srv->is_active[i])
			server_rdv_add_client(srv, srv->clients[i].cfg.public_key);
	/* A restart within a window: the earlier run announced its epochs. */
	epoch = epoch_load(srv, srv->win_start);
	if (epoch >= 0 && epoch < 255) {
		publish_config_of(srv, srv->gen->key, srv->gen->rotation_ms, &rc_cfg);
		epoch_save(srv, srv->win_start, epoch + 1);
		struct pubsched *ch[2];
		size_t n = rdv_channels(srv, ch);

		rc = 0;
		for (i = 0; i < n && rc >= 0; i++)
			rc = pubsched_resume_window(ch[i], srv->win_start, (uint8_t)(epoch + 1), &rc_cfg,
						    wall_now_ms());
		sodium_memzero(&rc_cfg, sizeof(rc_cfg));
		if (rc < 0)
			log_err(rc, "resuming window %" PRIu64 " at epoch %d", srv->win_start,
				epoch + 1);
	}
	server_rdv_publish(srv);
	return 0;
}

/* Makes key (NULL: a fresh one) the current K; the previous one stays
 * reachable for a grace period unless drop_old. */
static void rekey_to(struct server *srv, const uint8_t *key, bool drop_old, const char *why)
{
	struct intro_gen *g;
	uint8_t old_key[INTRO_KEY_LEN];
	bool is_revocation = drop_old;
	int rc;

	rc = server_intro_gen_new(srv, key, threat_rotation_ms(srv->cfg.rotation_ms, srv->threat.level), &g);
	if (rc < 0) {
		log_err(rc, "drawing a new introduction key");
		return;
	}
	ev_timer_stop(srv->loop, &srv->old_gen_timer);
	server_intro_gen_free(srv, srv->old_gen);
	srv->old_gen = NULL;
	memcpy(old_key, srv->gen->key, sizeof(old_key));
	if (is_revocation) {
		server_intro_gen_free(srv, srv->gen);
	} else {
		srv->old_gen = srv->gen;
		srv->old_gen->is_current = false;
	}
	srv->gen = g;
	server_clients_derive(srv, old_key);
	sodium_memzero(old_key, sizeof(old_key));
	/* The old generation's maps hold indexes of the old table: rebuild. */
	if (srv->old_gen) {
		size_t i;

		for (i = 0; i < SERVER_INTRO_SLOTS; i++) {
			struct intro_sock *s = &srv->old_gen->socks[i];

			if (s->fd >= 0)
				intro_map_build(&s->map,
						(const uint8_t(*)[INTRO_IID_LEN])srv->c_iids_old,
						srv->is_active, srv->n_clients,
						srv->old_gen->slot_key, s->slot);
		}
		ev_timer_set(&srv->old_gen_timer, server_fsm_old_k_grace_s(srv->cfg.config_period_s), 0);
		ev_timer_start(srv->loop, &srv->old_gen_timer);
	}
	server_intro_gen_move(srv, srv->gen, server_intro_slot(srv->gen));
	srv->k_changed_wall_ms = wall_now_ms();
	srv->stats.rekeys++;
	server_intro_write_file(srv);
	server_audit(srv, "new introduction key (generation %" PRIu64 "): %s", g->number, why);
}

void server_rekey(struct server *srv, bool is_revocation, const char *why)
{
	/* The next window's K was published already (to everyone registered
	 * then): replace it too. */
	randombytes_buf(srv->next_key, sizeof(srv->next_key));
	rekey_to(srv, NULL, is_revocation, why);
	server_rdv_publish(srv);
}

void server_rdv_rekey_tick_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct server *srv = container_of(w, struct server, rekey_tick);
	uint8_t key[INTRO_KEY_LEN];

	(void)loop;
	(void)revents;
	if (!server_fsm_window_due(&srv->win_start, wall_now_ms(), srv->cfg.config_period_s))
		return;
	/* The new window's K is the one published ahead for it. */
	memcpy(key, srv->next_key, sizeof(key));
	randombytes_buf(srv->next_key, sizeof(srv->next_key));
	rekey_to(srv, key, false, "config period");
	sodium_memzero(key, sizeof(key));
	server_rdv_publish(srv);
}
