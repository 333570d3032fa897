/* mt6d-client: the server's introduction config, fetched from the DHT
 * (the rendezvous, mt6d/engine/fetch.h) at the times the state machine
 * says, or read from the test file (-T). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/client_int.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/dhtident.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/engine/itemfetch.h"

/* Testing only: "seed=ADDR", "key=HEX", "rotation_ms=N", "period_s=N". */
static int read_intro_file(const char *path, struct intro_config *out)
{
	struct intro_config ic;
	char line[256];
	unsigned seen = 0;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f)
		return -errno;
	memset(&ic, 0, sizeof(ic));
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		size_t bin_len = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(line, "seed") && inet_pton(AF_INET6, eq, &ic.server_seed) == 1)
			seen |= 1;
		else if (!strcmp(line, "key") &&
			 sodium_hex2bin(ic.key, sizeof(ic.key), eq, strlen(eq), NULL, &bin_len,
					NULL) == 0 && bin_len == sizeof(ic.key))
			seen |= 2;
		else if (!strcmp(line, "rotation_ms"))
			ic.rotation_ms = (uint32_t)strtoul(eq, NULL, 10), seen |= 4;
		else if (!strcmp(line, "period_s"))
			ic.period_s = (uint32_t)strtoul(eq, NULL, 10), seen |= 8;
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (seen != 15 || !ic.rotation_ms || ic.rotation_ms > MSG_ROTATION_MAX_MS)
		rc = -EINVAL;
	else
		*out = ic;
	sodium_memzero(&ic, sizeof(ic));
	return rc;
}

static void schedule_fetch(struct client *c, bool has_failed)
{
	client_fsm_fetch_done(&c->fsm, !has_failed, mono_now_ms(), wall_now_ms());
	client_reschedule(c);
}

/* One attempt asks every channel of RendezvousChannel at once. The first
 * config that opens is taken at once; a later one of the same window and a
 * higher epoch, or of a later window, from the other channel replaces it
 * (a node of one channel may not have the newest epoch yet). The attempt
 * fails only when every channel has failed. */
static void on_result(struct client *c, const struct fetch_result *res, const char *channel,
		      const char *short_name)
{
	struct intro_config ic;
	bool is_first = !c->rdv_taken;

	ev_timer_start(c->loop, &c->fetch_reap);
	if (res->status < 0 || !res->cfg.rotation_ms) {
		if (!c->rdv_taken)
			c->last_fetch_status = res->status;
		if (++c->rdv_failed < c->rdv_channels || c->rdv_taken)
			return;
		c->fetches_failed++;
		log_info("fetching the server's config: %s (%zu DHT queries, %s)",
			 fetch_strerror(res->status), res->progress.queries, channel);
		schedule_fetch(c, true);
		return;
	}
	if (!is_first && (res->window_start < c->rdv_window ||
			  (res->window_start == c->rdv_window && res->epoch <= c->rdv_epoch)))
		return;
	c->rdv_taken = true;
	c->rdv_window = res->window_start;
	c->rdv_epoch = res->epoch;
	c->last_fetch_status = 0;
	c->rdv_from = short_name;
	memset(&ic, 0, sizeof(ic));
	memcpy(ic.server_seed.s6_addr, res->cfg.server_seed_addr, 16);
	memcpy(ic.key, res->cfg.intro_key, INTRO_KEY_LEN);
	ic.rotation_ms = res->cfg.rotation_ms;
	ic.period_s = res->cfg.period_s;
	log_debug("config of window %" PRIu64 " epoch %u fetched in %" PRId64 " ms (%s)",
		  res->window_start, res->epoch, res->progress.elapsed_ms, channel);
	if (is_first) {
		c->fetches_ok++;
		schedule_fetch(c, false);
	}
	client_on_config(c, &ic);
	sodium_memzero(&ic, sizeof(ic));
}

static void on_fetched(void *closure, const struct fetch_result *res)
{
	on_result(closure, res, "port stuffing", "peers");
}

/* A failed item channel ends the port-stuffing fetch's head-start hold
 * (fetch.h, FETCH_PEERS_HOLD_MS). */
static void on_item_fetched(void *closure, const struct fetch_result *res)
{
	struct client *c = closure;

	if (res->status != 0 && c->fetch)
		fetch_release(c->fetch, dhtev_now_ms());
	on_result(c, res, "BEP 44 item", "items");
}

void client_rdv_stop(struct client *c)
{
	fetch_free(c->fetch);
	c->fetch = NULL;
	itemfetch_free(c->ifetch);
	c->ifetch = NULL;
}

void client_rdv_fetch_reap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, fetch_reap);

	(void)loop;
	(void)revents;
	if (c->fetch && fetch_is_done(c->fetch)) {
		fetch_free(c->fetch);
		c->fetch = NULL;
	}
	if (c->ifetch && itemfetch_is_done(c->ifetch)) {
		itemfetch_free(c->ifetch);
		c->ifetch = NULL;
	}
}

static bool is_fetching(const struct client *c)
{
	return (c->fetch && !fetch_is_done(c->fetch)) || (c->ifetch && !itemfetch_is_done(c->ifetch));
}

static int64_t fetch_hook(void *ctx, int64_t now)
{
	struct client *c = ctx;
	int64_t a = c->fetch && !fetch_is_done(c->fetch) ? fetch_tick(c->fetch, now) : INT64_MAX;
	int64_t b = c->ifetch && !itemfetch_is_done(c->ifetch) ? itemfetch_tick(c->ifetch, now)
							       : INT64_MAX;

	return a < b ? a : b;
}

/* Gets the introduction config: from the test file at once, or from the DHT
 * (on_intro is called when it arrives). */
void client_rdv_fetch(struct client *c)
{
	struct fetch_params fp;
	struct intro_config ic;
	int rc;

	if (c->opt.intro_file) {
		if (read_intro_file(c->opt.intro_file, &ic) == 0)
			client_on_config(c, &ic);
		sodium_memzero(&ic, sizeof(ic));
		return;
	}
	if (c->fetch || c->ifetch) {
		if (!c->rdv_taken)
			return;         /* an attempt in progress */
		client_rdv_stop(c);     /* what is left of a finished one */
	}
	memset(&fp, 0, sizeof(fp));
	fp.kind = FETCH_CONFIG;
	fp.period_s = c->cfg.config_period_s;
	fp.edge_s = fp.period_s / 10 < 60 ? fp.period_s / 10 : 60;
	/* The scheduled fetch asks for its window alone: one DHT identity
	 * never looks up the descriptors of two windows. */
	if (c->fsm.fetch_window &&
	    c->fsm.fetch_window == derive_window_start(wall_now_ms() / 1000, fp.period_s))
		fp.window_start = c->fsm.fetch_window;
	c->fetch_dht = c->dht;
	fp.timeout_ms = CLIENT_FSM_FETCH_TIMEOUT_MS;
	fp.family = dhtev_family(c->dht);
	c->rdv_taken = false;
	c->rdv_failed = 0;
	c->rdv_channels = c->cfg.rdv_channel == CONFIG_RDV_BOTH ? 2 : 1;
	/* Items first: their answer usually comes first, and a channel that
	 * cannot start counts as failed at once. */
	if (c->cfg.rdv_channel != CONFIG_RDV_PEERS) {
		rc = itemfetch_new(dhtev_dht(c->dht), &fp, c->priv, c->cfg.server_public_key,
				   on_item_fetched, c, &c->ifetch);
		if (rc == 0)
			rc = itemfetch_start(c->ifetch, dhtev_now_ms(), dhtev_unix_ms());
		if (rc < 0) {
			log_err(rc, "starting a fetch of the server's config item");
			itemfetch_free(c->ifetch);
			c->ifetch = NULL;
			if (++c->rdv_failed == c->rdv_channels) {
				schedule_fetch(c, true);
				return;
			}
		}
	}
	if (c->cfg.rdv_channel != CONFIG_RDV_ITEMS) {
		if (c->ifetch && !itemfetch_is_done(c->ifetch))
			fp.hold_ms = FETCH_PEERS_HOLD_MS;
		rc = fetch_new(dhtev_dht(c->dht), &fp, c->priv, c->cfg.server_public_key, on_fetched,
			       NULL, c, &c->fetch);
		if (rc == 0)
			rc = fetch_start(c->fetch, dhtev_now_ms(), dhtev_unix_ms());
		if (rc < 0) {
			log_err(rc, "starting a fetch of the server's config");
			fetch_free(c->fetch);
			c->fetch = NULL;
			if (++c->rdv_failed == c->rdv_channels && !c->rdv_taken) {
				schedule_fetch(c, true);
				return;
			}
		}
	}
	dhtev_kick(c->dht);
}

/* ---- DHT identity hooks (mt6d/engine/dhtident.h) ---- */
static void dht_switched(void *ctx, struct dhtev *old, struct dhtev *node)
{
	struct client *c = ctx;

	(void)old;
	c->dht = node;
}

/* A fetch still running on the previous node keeps it; forced, the fetch
 * is dropped and tried again soon on the current one. */
static bool dht_release(void *ctx, struct dhtev *old, bool is_forced)
{
	struct client *c = ctx;

	if ((!c->fetch && !c->ifetch) || c->fetch_dht != old)
		return true;
	if (!is_forced && is_fetching(c))
		return false;
	if (is_fetching(c) && !c->rdv_taken)
		schedule_fetch(c, true);
	client_rdv_stop(c);
	return true;
}
/* ---- end of DHT identity hooks ---- */

int client_rdv_setup(struct client *c, char *msg, size_t msg_len)
{
	char list[CONFIG_MAX_BOOTSTRAP * CONFIG_HOSTPORT_LEN], why[256] = "";
	struct dhtident_params ip;
	size_t i, len = 0;
	int rc;

	list[0] = '\0';
	for (i = 0; i < c->cfg.dht_bootstrap_len; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? "," : "",
					c->cfg.dht_bootstrap[i]);
	/* DHT identity hook: a read-only node (BEP 43) on a random address of
	 * our /64, a new one (and port and id) every window. */
	memset(&ip, 0, sizeof(ip));
	ip.loop = c->loop;
	ip.ifindex = c->link_ifindex;
	ip.guard = c->guard; /* guard */
	ip.prefix = c->prefix;
	ip.period_s = c->cfg.config_period_s;
	ip.fixed_port = c->cfg.dht_port;
	ip.is_read_only = true;
	ip.bootstrap = list;
	ip.switched = dht_switched;
	ip.release = dht_release;
	ip.hook = fetch_hook;
	ip.ctx = c;
	rc = dhtident_new(&ip, &c->ident, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "starting the DHT node: %s", why);
		return rc;
	}
	return 0;
}

/* Roaming: the DHT identity moves to the new /64 at once. */
void client_rdv_set_prefix(struct client *c)
{
	if (c->ident)
		dhtident_set_prefix(c->ident, &c->prefix);
}
