/* mt6d-server: start and stop (the wiring of the parts, mt6d/engine/server_int.h)
 * and the audit trail. */
#include "mt6d/engine/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/dhtident.h"
#include "mt6d/engine/inner.h"
#include "mt6d/engine/server_int.h"
#include "mt6d/engine/sessiontun.h"
#include "mt6d/engine/slotmux.h"
#include "mt6d/engine/tunnel.h"
#include "mt6d/engine/nlsockets.h"
#include "netlink/ndresp.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"
#include "tun/tun.h"

const char *server_addr_str(const struct in6_addr *a, char *buf)
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

void server_audit(struct server *srv, const char *fmt, ...)
{
	char line[512], stamp[32];
	time_t t = (time_t)(wall_now_ms() / 1000);
	struct tm tm;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s", line);
	if (srv->audit_fd < 0)
		return;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = dprintf(srv->audit_fd, "%s %s\n", stamp, line);
	(void)n;
}

static int open_audit(struct server *srv)
{
	char path[PATH_MAX];

	if (mkdir(srv->cfg.state_dir, 0700) == 0)
		srv->is_state_dir_new = true;
	else if (errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/audit.log", srv->cfg.state_dir);
	srv->audit_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (srv->audit_fd >= 0)
		srv->is_audit_new = true;
	else if (errno == EEXIST)
		srv->audit_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	return srv->audit_fd < 0 ? -errno : 0;
}

/* A start that failed leaves no trail of its own: an audit log it created
 * holds only that start's lines, and the log already said why it failed. */
static void undo_audit(struct server *srv)
{
	char path[PATH_MAX];

	if (srv->is_audit_new) {
		snprintf(path, sizeof(path), "%s/audit.log", srv->cfg.state_dir);
		unlink(path);
	}
	if (srv->is_state_dir_new)
		rmdir(srv->cfg.state_dir);
}

/* Loads the config and the key into srv->cfg and the client tables. */
static int server_load(struct server *srv, char *msg, size_t msg_len)
{
	int rc;

	rc = config_load(CONFIG_SERVER, srv->config_path, &srv->cfg, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = config_load_private_key(&srv->cfg, srv->priv, msg, msg_len);
	if (rc < 0) {
		config_fini(&srv->cfg);
		return rc;
	}
	keys_public_from_private(srv->pub, srv->priv);
	return 0;
}

/* The client tables (with each client's replay state) and the tunnel prefix. */
static int server_open_tables(struct server *srv, char *msg, size_t msg_len)
{
	int rc;

	rc = server_clients_build(&srv->cfg, srv->priv, &srv->clients, msg, msg_len);
	if (rc < 0)
		return rc;
	srv->n_clients = srv->cfg.clients_len;
	rc = server_tables_alloc(srv->n_clients, &srv->c_iids, &srv->c_iids_old, &srv->is_active);
	if (rc < 0)
		return rc;
	if (srv->cfg.has_tunnel_prefix) {
		memcpy(srv->tunnel_prefix.s6_addr, srv->cfg.tunnel_address, 16);
		srv->tunnel_prefix_len = srv->cfg.tunnel_prefix_len;
	} else {
		intro_default_tunnel_prefix(srv->pub, &srv->tunnel_prefix);
		srv->tunnel_prefix_len = 64;
	}
	return 0;
}

/* Netlink, the link and its leftovers, scale mode, the raw socket of the
 * session messages, the introduction interface. */
static int server_open_kernel(struct server *srv, char *msg, size_t msg_len)
{
	char why[256] = "";
	int rc;

	rc = nlsockets_open(srv->loop, server_link_on_addr_result, srv, &srv->nllink, &srv->nladdr,
			    &srv->nladdr_io, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = server_link_setup(srv, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = nladdr_purge(srv->nladdr, srv->link_ifindex, SERVER_NETLINK_TIMEOUT_MS, why,
			  sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D addresses of a previous run on %s%s%s",
			srv->cfg.interface, why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D addresses of a previous run on %s", rc,
			 srv->cfg.interface);
	if (srv->cfg.is_scale_mode) {
		rc = server_link_setup_scale(srv, msg, msg_len);
		if (rc < 0)
			return rc;
	}
	rc = server_link_setup_guard(srv, msg, msg_len); /* guard */
	if (rc < 0)
		return rc;
	rc = server_sessions_setup_shared(srv, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = inner_socket_open();
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the raw socket for session messages: %s",
			       strerror(-rc));
		return rc;
	}
	srv->raw_fd = rc;
	ev_io_init(&srv->raw_io, server_sessions_raw_cb, srv->raw_fd, EV_READ);
	ev_io_start(srv->loop, &srv->raw_io);
	return server_link_setup_intro_tun(srv, msg, msg_len);
}

/* The first K, its introduction addresses, the rendezvous, and the timers:
 * a new K at every window start T = t - (t mod n) (formula 1), the
 * housekeeping. */
static int server_start_intro(struct server *srv, char *msg, size_t msg_len)
{
	int rc;

	srv->win_start = derive_window_start(wall_now_ms() / 1000, srv->cfg.config_period_s);
	randombytes_buf(srv->next_key, sizeof(srv->next_key));
	rc = server_intro_gen_new(srv, NULL, srv->cfg.rotation_ms, &srv->gen);
	if (rc < 0) {
		set_msg(msg, msg_len, "out of memory");
		return rc;
	}
	server_clients_derive(srv, NULL);
	server_intro_gen_move(srv, srv->gen, server_intro_slot(srv->gen));
	rc = nladdr_sync(srv->nladdr, SERVER_NETLINK_TIMEOUT_MS);
	if (rc < 0) {
		set_msg(msg, msg_len, "binding the introduction addresses: %s", strerror(-rc));
		return rc;
	}
	srv->k_changed_wall_ms = wall_now_ms();
	srv->stats.rekeys++;
	server_intro_write_file(srv);
	if (!srv->opt.intro_file) {
		rc = server_rdv_setup(srv, msg, msg_len);
		if (rc < 0)
			return rc;
	}
	ev_periodic_init(&srv->rekey_tick, server_rdv_rekey_tick_cb, 0, srv->cfg.config_period_s,
			 NULL);
	ev_periodic_start(srv->loop, &srv->rekey_tick);
	ev_timer_init(&srv->housekeeping, server_sessions_housekeeping_cb, SERVER_HOUSEKEEPING_S,
		      SERVER_HOUSEKEEPING_S);
	ev_timer_start(srv->loop, &srv->housekeeping);
	return 0;
}

int server_new(struct ev_loop *loop, const char *config_path, const struct server_options *opt,
	       struct server **out, char *msg, size_t msg_len)
{
	struct server *srv;
	char a[INET6_ADDRSTRLEN];
	int rc;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	(void)sodium_mlock(srv, sizeof(*srv)); /* issue 13: out of swap and core dumps */
	srv->loop = loop;
	srv->raw_fd = -1;
	srv->audit_fd = -1;
	threat_init(&srv->threat, THREAT_NORMAL);
	snprintf(srv->config_path, sizeof(srv->config_path), "%s", config_path);
	if (opt)
		srv->opt = *opt;
	if (!srv->opt.idle_timeout_ms)
		srv->opt.idle_timeout_ms = SERVER_DEFAULT_IDLE_TIMEOUT_MS;
	ev_init(&srv->old_gen_timer, server_intro_old_gen_cb);
	rc = sesstab_init(&srv->table, SERVER_MAX_SESSIONS);
	if (rc < 0) {
		free(srv);
		return rc;
	}
	rc = server_load(srv, msg, msg_len);
	if (rc < 0) {
		sodium_memzero(srv->priv, sizeof(srv->priv));
		sesstab_fini(&srv->table);
		free(srv);
		return rc;
	}
	rc = server_open_tables(srv, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = open_audit(srv);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the audit trail in '%s': %s", srv->cfg.state_dir,
			       strerror(-rc));
		goto fail;
	}
	rc = server_open_kernel(srv, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = server_start_intro(srv, msg, msg_len);
	if (rc < 0)
		goto fail;
	log_info("introduction interface %s: seed %s, %zu registered clients, rotation %u ms, "
		 "config period %u s, on %s", tun_name(srv->intro_tun), server_addr_str(&srv->seed, a),
		 srv->n_clients, srv->cfg.rotation_ms, srv->cfg.config_period_s, srv->cfg.interface);
	*out = srv;
	return 0;
fail:
	if (srv->audit_fd >= 0)
		undo_audit(srv);
	server_free(srv);
	return rc;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

void server_stop(struct server *srv)
{
	struct sesstab_entry *e, *next;

	for (e = sesstab_first(&srv->table); e; e = next) {
		next = sesstab_next(e);
		if (!e->is_closing)
			server_session_end(server_session_of_entry(e), MSG_TEARDOWN_SHUTDOWN, true);
	}
	ev_periodic_stop(srv->loop, &srv->rekey_tick);
	ev_timer_stop(srv->loop, &srv->housekeeping);
	ev_timer_init(&srv->stop_timer, stop_cb, SERVER_CLOSE_DELAY_S + 0.05, 0);
	ev_timer_start(srv->loop, &srv->stop_timer);
}

void server_free(struct server *srv)
{
	char msg[256] = "";
	int rc;

	if (!srv)
		return;
	while (sesstab_first(&srv->table))
		server_session_free(server_session_of_entry(sesstab_first(&srv->table)));
	sesstab_fini(&srv->table);
	slotmux_free(srv->mux); /* after the sessions that borrowed it */
	srv->mux = NULL;
	if (srv->stun) { /* after the sessions that borrowed it; its routes go with it */
		unsigned ifindex = tun_ifindex(sessiontun_tun(srv->stun));

		sessiontun_free(srv->stun);
		srv->stun = NULL;
		nllink_forget_ifindex(srv->nllink, ifindex);
	}
	server_rdv_free(srv);
	for (size_t i = 0; i < srv->n_idents; i++) { /* DHT identity hook */
		dhtident_free(srv->idents[i]);
		srv->idents[i] = NULL;
	}
	srv->n_idents = 0;
	if (srv->loop) {
		ev_periodic_stop(srv->loop, &srv->rekey_tick);
		ev_timer_stop(srv->loop, &srv->housekeeping);
		ev_timer_stop(srv->loop, &srv->old_gen_timer);
		ev_timer_stop(srv->loop, &srv->stop_timer);
	}
	if (srv->nladdr) {
		server_intro_gen_free(srv, srv->old_gen);
		server_intro_gen_free(srv, srv->gen);
		ev_io_stop(srv->loop, &srv->nladdr_io);
		rc = nladdr_remove_all(srv->nladdr, SERVER_NETLINK_TIMEOUT_MS, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing MT6D addresses%s%s", msg[0] ? ": " : "", msg);
		nladdr_free(srv->nladdr);
	}
	guard_free(srv->guard); /* guard: after every tunnel; its routes stay */
	/* After every tunnel and introduction socket (they used its set),
	 * before nllink_cleanup removes the claim. */
	if (srv->ndresp) {
		ev_io_stop(srv->loop, &srv->ndresp_io);
		ndresp_free(srv->ndresp);
		srv->ndresp = NULL;
	}
	if (srv->raw_fd >= 0) {
		ev_io_stop(srv->loop, &srv->raw_io);
		close(srv->raw_fd);
	}
	tun_free(srv->intro_tun);
	if (srv->nllink) {
		rc = nllink_cleanup(srv->nllink, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing tunnel addresses and routes%s%s", msg[0] ? ": " : "",
				msg);
		nllink_free(srv->nllink);
	}
	if (srv->opt.intro_file)
		unlink(srv->opt.intro_file);
	if (srv->audit_fd >= 0)
		close(srv->audit_fd);
	server_clients_free(srv->clients, srv->n_clients);
	free(srv->c_iids);
	free(srv->c_iids_old);
	free(srv->is_active);
	config_fini(&srv->cfg);
	sodium_munlock(srv, sizeof(*srv)); /* wipes it too */
	free(srv);
}
