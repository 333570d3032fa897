/* mt6d-server: the registered clients (shared secrets, C_IIDs under the
 * current and the previous K, who may be served) and the reload of the
 * config, which revokes at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/server_int.h"

static int client_cmp(const void *a, const void *b)
{
	const struct server_client *x = a, *y = b;

	return x->cfg.id < y->cfg.id ? -1 : x->cfg.id > y->cfg.id;
}

void server_clients_free(struct server_client *clients, size_t n)
{
	size_t i;

	if (!clients)
		return;
	for (i = 0; i < n; i++)
		if (clients[i].has_intro_tx)
			wire_tx_fini(&clients[i].intro_tx);
	sodium_munlock(clients, (n ? n : 1) * sizeof(*clients)); /* wipes them too */
	free(clients);
}

/* The client table of a config: shared secrets, sorted by id. */
int server_clients_build(const struct config *cfg, const uint8_t priv[static MT6D_KEY_LEN],
			 struct server_client **out, char *msg, size_t msg_len)
{
	struct server_client *c;
	size_t i;

	c = calloc(cfg->clients_len ? cfg->clients_len : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	(void)sodium_mlock(c, (cfg->clients_len ? cfg->clients_len : 1) * sizeof(*c)); /* issue 13: out of swap and core dumps */
	for (i = 0; i < cfg->clients_len; i++) {
		c[i].cfg = cfg->clients[i];
		if (keys_shared_secret(c[i].s, priv, cfg->clients[i].public_key) < 0) {
			set_msg(msg, msg_len, "%s:%u: PublicKey of '%s' is a weak (low-order) key",
				cfg->source, cfg->clients[i].line, cfg->clients[i].name);
			server_clients_free(c, cfg->clients_len);
			return -EINVAL;
		}
		server_fsm_bucket_init(&c[i].bucket);
		msg_replay_init(&c[i].replay, MSG_DEFAULT_MAX_SKEW_MS);
		introwin_init(&c[i].win);
	}
	qsort(c, cfg->clients_len, sizeof(*c), client_cmp);
	*out = c;
	return 0;
}

/* C_IID of every client under the current K (and the previous one), and who
 * is active now. */
void server_clients_derive(struct server *srv, const uint8_t *old_key)
{
	int64_t now_s = wall_now_ms() / 1000;
	size_t i;

	for (i = 0; i < srv->n_clients; i++) {
		struct server_client *c = &srv->clients[i];

		derive_client_iid(srv->c_iids[i], c->s, srv->gen->key, INTRO_KEY_LEN);
		if (old_key)
			derive_client_iid(srv->c_iids_old[i], c->s, old_key, INTRO_KEY_LEN);
		srv->is_active[i] = !server_fsm_is_expired(c->cfg.expires_s, now_s);
	}
}

int server_tables_alloc(size_t n, uint8_t (**c_iids)[INTRO_IID_LEN],
			uint8_t (**c_iids_old)[INTRO_IID_LEN], bool **is_active)
{
	*c_iids = calloc(n ? n : 1, INTRO_IID_LEN);
	*c_iids_old = calloc(n ? n : 1, INTRO_IID_LEN);
	*is_active = calloc(n ? n : 1, sizeof(bool));
	if (!*c_iids || !*c_iids_old || !*is_active) {
		free(*c_iids);
		free(*c_iids_old);
		free(*is_active);
		return -ENOMEM;
	}
	return 0;
}

static bool same_client(const struct config_client *a, const struct config_client *b)
{
	return a->id == b->id && sodium_memcmp(a->public_key, b->public_key, CONFIG_KEY_LEN) == 0;
}

/* Carries the sessions (and request buckets) of the clients that stay over
 * to the new table clients[n]; revokes the others at once. Returns how
 * many were revoked. */
static unsigned clients_carry_over(struct server *srv, struct server_client *clients, size_t n)
{
	unsigned removed = 0;
	size_t i;

	for (i = 0; i < srv->n_clients; i++) {
		struct server_client *old = &srv->clients[i];
		struct server_client *now = NULL;
		size_t j;

		for (j = 0; j < n; j++)
			if (same_client(&clients[j].cfg, &old->cfg))
				now = &clients[j];
		if (now) {
			struct server_session *ss = server_session_of(srv, old->cfg.id);

			now->bucket = old->bucket;
			now->replay = old->replay; /* issue 13: a reload reopens no replay */
			now->win = old->win;
			if (ss)
				snprintf(ss->name, sizeof(ss->name), "%s", now->cfg.name);
			continue;
		}
		removed++;
		server_rdv_remove_client(srv, old->cfg.public_key);
		server_audit(srv, "client '%s' (id %u) revoked", old->cfg.name, old->cfg.id);
		if (server_session_of(srv, old->cfg.id))
			server_session_end(server_session_of(srv, old->cfg.id), MSG_TEARDOWN_REVOKED, true);
	}
	return removed;
}

int server_reload(struct server *srv, char *msg, size_t msg_len)
{
	struct config cfg;
	struct server_client *clients = NULL;
	uint8_t priv[MT6D_KEY_LEN];
	uint8_t (*c_iids)[INTRO_IID_LEN] = NULL, (*c_iids_old)[INTRO_IID_LEN] = NULL;
	bool *is_active = NULL;
	unsigned removed = 0;
	size_t i;
	int rc;

	rc = config_load(CONFIG_SERVER, srv->config_path, &cfg, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = config_load_private_key(&cfg, priv, msg, msg_len);
	if (rc < 0)
		goto out;
	if (sodium_memcmp(priv, srv->priv, MT6D_KEY_LEN) != 0 ||
	    strcmp(cfg.interface, srv->cfg.interface) != 0 ||
	    cfg.is_scale_mode != srv->cfg.is_scale_mode ||
	    cfg.is_routed_mode != srv->cfg.is_routed_mode ||
	    memcmp(cfg.prefix, srv->cfg.prefix, sizeof(cfg.prefix)) != 0) {
		set_msg(msg, msg_len, "the private key, the interface, the address mode or the "
			"prefix changed: "
			"restart the server");
		rc = -EINVAL;
		goto out;
	}
	rc = server_clients_build(&cfg, srv->priv, &clients, msg, msg_len);
	if (rc < 0)
		goto out;
	rc = server_tables_alloc(cfg.clients_len, &c_iids, &c_iids_old, &is_active);
	if (rc < 0) {
		server_clients_free(clients, cfg.clients_len);
		goto out;
	}
	removed = clients_carry_over(srv, clients, cfg.clients_len);
	/* Sessions still closing look their client up by id: detach them. */
	server_clients_free(srv->clients, srv->n_clients);
	free(srv->c_iids);
	free(srv->c_iids_old);
	free(srv->is_active);
	srv->clients = clients;
	srv->n_clients = cfg.clients_len;
	srv->c_iids = c_iids;
	srv->c_iids_old = c_iids_old;
	srv->is_active = is_active;
	/* Config values that apply from now on (new sessions, next K). */
	srv->cfg.rotation_ms = cfg.rotation_ms;
	srv->cfg.config_period_s = cfg.config_period_s;
	config_fini(&srv->cfg);
	srv->cfg = cfg;
	memset(&cfg, 0, sizeof(cfg));
	for (i = 0; i < srv->n_clients; i++)
		if (!server_fsm_is_expired(srv->clients[i].cfg.expires_s, wall_now_ms() / 1000))
			server_rdv_add_client(srv, srv->clients[i].cfg.public_key);
	/* The maps hold indexes into the table: rebuild them, under a new K
	 * if a client was removed. */
	if (removed)
		server_rekey(srv, true, "revocation");
	else
		server_intro_rebuild(srv);
	log_info("configuration reloaded: %zu registered clients, %u revoked", srv->n_clients,
		 removed);
	rc = 0;
out:
	sodium_memzero(priv, sizeof(priv));
	config_fini(&cfg);
	return rc;
}
