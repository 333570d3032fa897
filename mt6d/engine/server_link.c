/* mt6d-server: the physical link (its index, MTU, /64 and our seed),
 * AddressMode = scale (the /64 claimed, neighbour discovery answered) and
 * routed (Prefix claimed, no neighbour discovery), the
 * introduction interface, and netlink acknowledgements. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <net/if.h>

#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/inner.h"
#include "mt6d/engine/server_int.h"
#include "mt6d/engine/tunnel.h"
#include "netlink/ndresp.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"
#include "tun/tun.h"

void server_link_on_addr_result(const struct nladdr_result *res, void *arg)
{
	struct server *srv = arg;
	char a[INET6_ADDRSTRLEN];
	int64_t now_ms;

	if (res->cookie == srv) {
		if (!res->err || (res->op == NLADDR_DEL && (res->err == -EADDRNOTAVAIL ||
							    res->err == -ENOENT)))
			return;
		srv->stats.addr_errors++;
		/* Counted always, said at most every 10 s: a lost batch of acks
		 * (ENOBUFS) is one event, not a screen of lines. */
		now_ms = mono_now_ms();
		if (srv->addr_err_logged_mono_ms && now_ms - srv->addr_err_logged_mono_ms < 10000)
			return;
		srv->addr_err_logged_mono_ms = now_ms;
		log_err(res->err, "introduction address: %s %s on ifindex %u%s%s",
			res->op == NLADDR_ADD ? "binding" : "removing",
			inet_ntop(AF_INET6, &res->addr, a, sizeof(a)), res->ifindex,
			res->msg[0] ? " (kernel: " : "", res->msg[0] ? res->msg : "");
		return;
	}
	if (res->cookie)
		tunnel_handle_addr_result(res->cookie, res);
}

int server_link_setup(struct server *srv, char *msg, size_t msg_len)
{
	struct in6_addr prefixes[4];
	uint8_t iid[INTRO_IID_LEN];
	int rc;

	rc = nllink_ifindex(srv->nllink, srv->cfg.interface);
	if (rc < 0) {
		set_msg(msg, msg_len, "%s: Interface '%s': %s", srv->cfg.source, srv->cfg.interface,
			strerror(-rc));
		return rc;
	}
	srv->link_ifindex = (unsigned)rc;
	rc = inner_link_mtu(srv->cfg.interface, &srv->link_mtu);
	if (rc < 0) {
		set_msg(msg, msg_len, "reading the MTU of '%s': %s", srv->cfg.interface,
			strerror(-rc));
		return rc;
	}
	if (srv->cfg.is_routed_mode) {
		/* The router routes Prefix to us: Interface needs no address in it. */
		memcpy(srv->seed.s6_addr, srv->cfg.prefix, 16);
		goto seed;
	}
	rc = nllink_get_prefixes(srv->nllink, srv->link_ifindex, prefixes, 4);
	if (rc <= 0) {
		set_msg(msg, msg_len, "no global /64 prefix on '%s' (%s)", srv->cfg.interface,
			rc < 0 ? strerror(-rc) : "none");
		return rc < 0 ? rc : -EADDRNOTAVAIL;
	}
	if (rc > 1)
		log_warnx("'%s' has %d global /64 prefixes: using the first", srv->cfg.interface, rc);
	srv->seed = prefixes[0];
seed:
	intro_random_iid(iid);
	memcpy(srv->seed.s6_addr + 8, iid, INTRO_IID_LEN);
	return 0;
}

static void ndresp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = container_of(w, struct server, ndresp_io);
	int rc;

	(void)loop;
	(void)revents;
	rc = ndresp_process(srv->ndresp);
	/* At most one line per 10 s: a link going down must not flood the log. */
	if (rc < 0 && rc != -EAGAIN && rc != -EINTR &&
	    (srv->ndresp_logged_mono_ms == 0 || mono_now_ms() - srv->ndresp_logged_mono_ms >= 10000)) {
		srv->ndresp_logged_mono_ms = mono_now_ms();
		log_err(rc, "neighbour responder on %s", srv->cfg.interface);
	}
}

static bool is_in_prefix64(const struct in6_addr *a, const struct in6_addr *prefix)
{
	return memcmp(a->s6_addr, prefix->s6_addr, 8) == 0;
}

/* Scale and routed modes (docs/running.md): removes the claim of a previous run
 * (routes tagged 0x6d), keeps the gateways of Interface in our /64 as
 * exceptions (before the claim, so that they never turn local), claims the
 * /64 with one local route and starts the neighbour responder. */
int server_link_setup_scale(struct server *srv, char *msg, size_t msg_len)
{
	struct in6_addr prefix = srv->seed, gws[16];
	char why[128] = "", a[INET6_ADDRSTRLEN];
	int rc, n, i;

	memset(prefix.s6_addr + 8, 0, 8);
	rc = nllink_purge_routes(srv->nllink, why, sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D routes of a previous run%s%s", why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D routes of a previous run", rc);
	n = nllink_get_gateways(srv->nllink, srv->link_ifindex, gws, 16);
	if (n < 0) {
		set_msg(msg, msg_len, "reading the gateways of '%s': %s", srv->cfg.interface,
			strerror(-n));
		return n;
	}
	for (i = 0; i < n && i < 16; i++) {
		if (!is_in_prefix64(&gws[i], &prefix))
			continue;
		rc = nllink_add_local_exception(srv->nllink, srv->link_ifindex, &gws[i], why,
						sizeof(why));
		if (rc < 0) {
			set_msg(msg, msg_len, "keeping the gateway %s out of the claim: %s%s%s",
				server_addr_str(&gws[i], a), strerror(-rc), why[0] ? " (kernel: " : "",
				why[0] ? why : "");
			return rc;
		}
	}
	rc = nllink_add_local_prefix(srv->nllink, srv->link_ifindex, &prefix, 64, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "claiming %s/64 on '%s': %s%s%s", server_addr_str(&prefix, a),
			srv->cfg.interface, strerror(-rc), why[0] ? " (kernel: " : "",
			why[0] ? why : "");
		return rc;
	}
	if (srv->cfg.is_routed_mode) {
		/* Routed: the router reaches the /64 through our fixed address;
		 * answering solicitations would only invite per-address entries,
		 * so there is no responder and nothing to keep per address. */
		log_info("address mode routed: %s/64 claimed on %s, no neighbour discovery",
			 server_addr_str(&prefix, a), srv->cfg.interface);
		return 0;
	}
	rc = ndresp_new(srv->link_ifindex, &srv->ndresp);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the neighbour responder on '%s': %s",
			srv->cfg.interface, strerror(-rc));
		return rc;
	}
	ev_io_init(&srv->ndresp_io, ndresp_cb, ndresp_fd(srv->ndresp), EV_READ);
	ev_io_start(srv->loop, &srv->ndresp_io);
	log_info("address mode scale: %s/64 claimed on %s", server_addr_str(&prefix, a),
		 srv->cfg.interface);
	return 0;
}

int server_link_setup_intro_tun(struct server *srv, char *msg, size_t msg_len)
{
	struct tun_config tc = {
		.name = srv->cfg.tunnel_name, .queues = 1, .mtu = 1280, .is_up = true,
	};
	char why[NLADDR_MSG_LEN] = "", a[INET6_ADDRSTRLEN];
	int rc;

	rc = tun_new(&tc, &srv->intro_tun);
	if (rc < 0) {
		set_msg(msg, msg_len, "creating the introduction interface '%s': %s",
			srv->cfg.tunnel_name, strerror(-rc));
		return rc;
	}
	rc = nllink_add_addr(srv->nllink, tun_ifindex(srv->intro_tun), &srv->seed, 128, why,
			     sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "adding %s to %s: %s%s%s", server_addr_str(&srv->seed, a),
			tun_name(srv->intro_tun), strerror(-rc), why[0] ? " (kernel: " : "",
			why[0] ? ")" : "");
		return rc;
	}
	rc = guard_protect(srv->guard, &srv->seed, 128, false, why, sizeof(why)); /* guard */
	if (rc < 0)
		set_msg(msg, msg_len, "guarding the seed address: %s", why);
	return rc;
}

/* Every client's tunnel address, registered or revoked, refused whenever no
 * session carries it: one unreachable route for the whole tunnel prefix. */
int server_link_setup_guard(struct server *srv, char *msg, size_t msg_len)
{
	struct in6_addr prefix = srv->seed;
	char why[256] = "";
	int rc;

	rc = guard_new(srv->loop, srv->nllink, "server", srv->cfg.interface, &srv->guard, why,
		       sizeof(why));
	if (rc == 0)
		rc = guard_protect(srv->guard, &srv->tunnel_prefix, srv->tunnel_prefix_len, true,
				   why, sizeof(why));
	memset(prefix.s6_addr + 8, 0, 8);
	if (rc == 0 && srv->cfg.is_scale_mode)
		rc = guard_claim(srv->guard, srv->nladdr, srv->link_ifindex, &prefix, 64, why,
				 sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "setting up the guard (nftables table, routes): %s",
			why[0] ? why : strerror(-rc));
	return rc;
}
