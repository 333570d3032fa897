/* The peer-to-peer engine (peer.h), moved out of mt6d-peer's main.
 *
 * Start-up: config, keys, the physical interface (index, MTU, /64 prefix),
 * purge of MT6D addresses left by a previous run, the tunnel. peer_free
 * (SIGINT, SIGTERM, or a start-up error) undoes it in reverse: tunnel
 * sockets and MT6D addresses, then the TUN with its address and route. */
#include "mt6d/engine/peer.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sodium.h>

#include "mt6d/base/log.h"
#include "mt6d/core/config.h"
#include "mt6d/core/hash.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/util.h"
#include "mt6d/core/wire.h"
#include "mt6d/engine/guard.h"
#include "mt6d/engine/inner.h"
#include "mt6d/engine/tunnel.h"
#include "mt6d/engine/nlsockets.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"

#define PEER_NETLINK_TIMEOUT_MS 5000

struct peer {
	struct ev_loop *loop;
	struct config cfg;
	bool has_cfg;
	struct peer_options opt;
	struct nladdr *nladdr;
	struct nllink *nllink;
	struct tunnel *tunnel;
	struct guard *guard;             /* silent to probes, fail closed (guard.h) */
	ev_io nladdr_io;
	ev_signal sigusr1;
};

/* Key files (mt6d/core/keys.h: one base64 key, owner-only mode). A relative path
 * is taken from the directory of the configuration file. */
static int read_key_file(const char *conf_path, const char *path, unsigned line,
			 uint8_t key_out[static CONFIG_KEY_LEN], char *msg, size_t msg_len)
{
	char full[PATH_MAX], why[256] = "";
	int rc;

	if (path[0] != '/' && strchr(conf_path, '/')) {
		int dir_len = (int)(strrchr(conf_path, '/') - conf_path);

		snprintf(full, sizeof(full), "%.*s/%s", dir_len, conf_path, path);
	} else {
		snprintf(full, sizeof(full), "%s", path);
	}
	rc = keys_load_private_file(full, key_out, why, sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "%s:%u: key file '%s': %s", conf_path, line, full,
			why[0] ? why : strerror(-rc));
	return rc;
}

/* The secret both hosts share: the X25519 secret of their key pairs, the
 * pre-shared key, or (both given) H_"mt6d/1 peer psk"(s || psk) so that
 * either alone is not enough. It is the slot key K of formula 5 and the
 * input of the two direction keys (wire.h). */
static int peer_derive_shared(const struct config *cfg, uint8_t shared_out[static 32], char *msg,
			      size_t msg_len)
{
	uint8_t priv[CONFIG_KEY_LEN], psk[CONFIG_KEY_LEN], s[32];
	bool has_pair = cfg->private_key_file[0] != '\0';
	bool has_psk = cfg->preshared_key_file[0] != '\0';
	int rc = 0;

	if (has_pair) {
		rc = read_key_file(cfg->source, cfg->private_key_file, cfg->private_key_file_line,
				   priv, msg, msg_len);
		if (rc < 0)
			goto cleanup;
		if (keys_shared_secret(s, priv, cfg->peer_public_key) < 0) {
			set_msg(msg, msg_len, "%s: [Peer] PublicKey is a weak (low-order) key",
				 cfg->source);
			rc = -EINVAL;
			goto cleanup;
		}
	}
	if (has_psk) {
		rc = read_key_file(cfg->source, cfg->preshared_key_file,
				   cfg->preshared_key_file_line, psk, msg, msg_len);
		if (rc < 0)
			goto cleanup;
	}
	if (has_pair && has_psk) {
		struct hash_ctx h;

		hash_begin(&h, "mt6d/1 peer psk");
		hash_add(&h, s, sizeof(s));
		hash_add(&h, psk, sizeof(psk));
		hash_end(&h, shared_out);
	} else {
		memcpy(shared_out, has_pair ? s : psk, 32);
	}
cleanup:
	sodium_memzero(priv, sizeof(priv));
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(s, sizeof(s));
	return rc;
}

static void write_stats(const struct peer *p)
{
	struct tunnel_stats st;
	char line[2048], tmp[PATH_MAX];
	FILE *f;
	char *w;

	if (!p->tunnel)
		return;
	tunnel_get_stats(p->tunnel, &st);
	tunnel_format_stats(&st, line, sizeof(line));
	log_info("tunnel %s: %s", tunnel_tun_name(p->tunnel), line);
	if (!p->opt.stats_path)
		return;
	/* One key=value per line, replaced atomically so a reader never sees
	 * half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->opt.stats_path);
	f = fopen(tmp, "w");
	if (!f) {
		log_err(-errno, "writing counters to '%s'", tmp);
		return;
	}
	fprintf(f, "slot=%" PRIu64 "\n", tunnel_current_slot(p->tunnel));
	for (w = strtok(line, " "); w; w = strtok(NULL, " "))
		fprintf(f, "%s\n", w);
	if (fclose(f) != 0 || rename(tmp, p->opt.stats_path) != 0)
		log_err(-errno, "writing counters to '%s'", p->opt.stats_path);
}

int peer_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *r)
{
	const struct peer *p = ctx;
	struct tunnel_stats st;
	char line[2048], g[512], *w, *save = NULL;

	if (req->is_set) {
		ctl_reply_printf(r, "error=mt6d-peer takes no settings\n");
		return -EINVAL;
	}
	ctl_reply_printf(r, "role=peer\nlink=%s\n", p->cfg.interface);
	guard_format_stats(p->guard, g, sizeof(g));
	ctl_reply_printf(r, "%s", g);
	if (!p->tunnel)
		return 0;
	ctl_reply_printf(r, "interface=%s\nsession_interface=%s\nrotation_ms=%u\nslot=%" PRIu64
			 "\nnext_rotation_ms=%" PRId64 "\n",
			 tunnel_tun_name(p->tunnel), tunnel_tun_name(p->tunnel), tunnel_rotation_ms(p->tunnel),
			 tunnel_current_slot(p->tunnel), tunnel_next_move_in_ms(p->tunnel));
	tunnel_get_stats(p->tunnel, &st);
	tunnel_format_stats(&st, line, sizeof(line));
	for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save))
		ctl_reply_printf(r, "%s\n", w);
	return 0;
}

static void on_addr_result(const struct nladdr_result *res, void *arg)
{
	(void)arg;
	tunnel_handle_addr_result(res->cookie, res);
}

static void usr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	write_stats(container_of(w, struct peer, sigusr1));
}

/* Everything the tunnel needs from the config and the kernel. */
static int peer_prepare(struct peer *p, const struct config *cfg, int64_t clock_offset_ms,
			struct tunnel_config *tc, char *msg, size_t msg_len)
{
	uint8_t shared[32];
	int ifindex, rc;

	memset(tc, 0, sizeof(*tc));
	ifindex = nllink_ifindex(p->nllink, cfg->interface);
	if (ifindex < 0) {
		set_msg(msg, msg_len, "%s: Interface '%s': %s", cfg->source, cfg->interface,
			 strerror(-ifindex));
		return ifindex;
	}
	tc->link_ifindex = (unsigned)ifindex;
	rc = inner_link_mtu(cfg->interface, &tc->link_mtu);
	if (rc < 0) {
		set_msg(msg, msg_len, "reading the MTU of '%s': %s", cfg->interface, strerror(-rc));
		return rc;
	}
	memcpy(tc->own_seed.s6_addr, cfg->seed_address, 16);
	if (!cfg->has_seed_prefix) {
		struct in6_addr prefixes[4];

		rc = nllink_get_prefixes(p->nllink, tc->link_ifindex, prefixes, 4);
		if (rc <= 0) {
			set_msg(msg, msg_len, "%s: no global /64 prefix on '%s' for SeedIID (%s)",
				 cfg->source, cfg->interface, rc < 0 ? strerror(-rc) : "none");
			return rc < 0 ? rc : -EADDRNOTAVAIL;
		}
		if (rc > 1)
			log_warnx("'%s' has %d global /64 prefixes: using the first", cfg->interface,
				  rc);
		memcpy(tc->own_seed.s6_addr, prefixes[0].s6_addr, 8);
	}
	memcpy(tc->peer_seed.s6_addr, cfg->peer_seed_address, 16);
	if (!memcmp(&tc->own_seed, &tc->peer_seed, 16)) {
		set_msg(msg, msg_len, "%s: the two ends have the same seed address", cfg->source);
		return -EINVAL;
	}
	memcpy(tc->tunnel_addr.s6_addr, cfg->tunnel_address, 16);
	tc->tunnel_prefix_len = cfg->tunnel_prefix_len;
	memcpy(tc->peer_tunnel_addr.s6_addr, cfg->peer_tunnel_address, 16);
	tc->tun_name = cfg->tunnel_name;
	tc->rotation_ms = cfg->rotation_ms;
	tc->reach = 2; /* the slots two away only detect a clock two slots off */
	tc->clock_offset_ms = clock_offset_ms;
	rc = peer_derive_shared(cfg, shared, msg, msg_len);
	if (rc < 0)
		return rc;
	memcpy(tc->slot_key, shared, sizeof(shared));
	/* Each host is identified by its seed address (wire.h). */
	rc = wire_derive_direction_keys(shared, tc->own_seed.s6_addr, tc->peer_seed.s6_addr,
					tc->tx_key, tc->rx_key);
	sodium_memzero(shared, sizeof(shared));
	if (rc < 0)
		set_msg(msg, msg_len, "%s: the two ends have the same seed address", cfg->source);
	return rc;
}

static void peer_shutdown(struct peer *p)
{
	char msg[256] = "";
	int rc;

	if (p->tunnel) {
		write_stats(p);
		tunnel_free(p->tunnel, PEER_NETLINK_TIMEOUT_MS);
		p->tunnel = NULL;
	}
	guard_free(p->guard); /* its unreachable route stays (guard.h) */
	p->guard = NULL;
	if (p->nladdr) {
		ev_io_stop(p->loop, &p->nladdr_io);
		rc = nladdr_remove_all(p->nladdr, PEER_NETLINK_TIMEOUT_MS, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing MT6D addresses%s%s", msg[0] ? ": " : "", msg);
		nladdr_free(p->nladdr);
		p->nladdr = NULL;
	}
	if (p->nllink) {
		rc = nllink_cleanup(p->nllink, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing the tunnel's address and route%s%s", msg[0] ? ": " : "",
				msg);
		nllink_free(p->nllink);
		p->nllink = NULL;
	}
}

int peer_check(const char *conf_path, char *msg, size_t msg_len)
{
	struct config cfg;
	uint8_t shared[32];
	int rc;

	rc = config_load(CONFIG_PEER, conf_path, &cfg, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = peer_derive_shared(&cfg, shared, msg, msg_len);
	sodium_memzero(shared, sizeof(shared));
	config_fini(&cfg);
	return rc;
}

int peer_new(struct ev_loop *loop, const char *conf_path, const struct peer_options *opt,
	     struct peer **out, char *msg, size_t msg_len)
{
	struct tunnel_config tc;
	struct peer *p;
	char why[256] = "", a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	int rc;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	/* issue 13: out of swap and core dumps (the tunnel config carries the
	 * keys to the tunnel). */
	(void)sodium_mlock(p, sizeof(*p));
	(void)sodium_mlock(&tc, sizeof(tc));
	p->loop = loop;
	p->opt = *opt;
	rc = config_load(CONFIG_PEER, conf_path, &p->cfg, msg, msg_len);
	if (rc < 0) {
		sodium_munlock(p, sizeof(*p));
		sodium_munlock(&tc, sizeof(tc));
		free(p);
		return rc;
	}
	p->has_cfg = true;
	ev_signal_init(&p->sigusr1, usr1_cb, SIGUSR1);
	ev_signal_start(loop, &p->sigusr1);
	rc = nllink_new(&p->nllink);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening a netlink route socket");
		goto fail;
	}
	rc = nladdr_new(on_addr_result, p, &p->nladdr);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the netlink address socket");
		goto fail;
	}
	rc = peer_prepare(p, &p->cfg, p->opt.clock_offset_ms, &tc, msg, msg_len);
	if (rc < 0)
		goto fail;
	rc = nladdr_purge(p->nladdr, tc.link_ifindex, PEER_NETLINK_TIMEOUT_MS, why, sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D addresses of a previous run on %s%s%s", p->cfg.interface,
			why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D addresses of a previous run on %s", rc, p->cfg.interface);
	nlsockets_watch_acks(loop, &p->nladdr_io, p->nladdr);

	rc = guard_new(loop, p->nllink, "peer", p->cfg.interface, &p->guard, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "setting up the guard (nftables table): %s", why);
		goto fail;
	}
	tc.guard = p->guard;
	tc.flags = p->opt.tunnel_flags | (p->cfg.offloads_off ? TUNNEL_NO_OFFLOAD : 0);
	tc.busy_poll_us = p->opt.busy_poll_us;
	tc.tun_txqlen = p->opt.tun_txqlen;
	_Static_assert(CONFIG_MAX_QUEUES == TUNNEL_MAX_QUEUES, "Queues: one limit");
	tc.queues = p->opt.queues ? p->opt.queues : p->cfg.tunnel_queues;
	if (!tc.queues)
		tc.queues = tunnel_auto_queues();
	tc.padding = p->cfg.padding;
	tc.aead = p->cfg.is_cipher_aes ? WIRE_AEAD_AES256_GCM : WIRE_AEAD_CHACHA20_POLY1305;
	rc = tunnel_new(loop, p->nladdr, p->nllink, &tc, &p->tunnel, why, sizeof(why));
	sodium_memzero(&tc.slot_key, sizeof(tc.slot_key));
	sodium_memzero(&tc.tx_key, sizeof(tc.tx_key));
	sodium_memzero(&tc.rx_key, sizeof(tc.rx_key));
	sodium_munlock(&tc, sizeof(tc));
	if (rc < 0) {
		set_msg(msg, msg_len, "starting the tunnel: %s: %s", why, strerror(-rc));
		goto fail;
	}
	log_info("tunnel %s up: %s/%u, MTU %u, peer %s, rotation %u ms on %s",
		 tunnel_tun_name(p->tunnel), inet_ntop(AF_INET6, p->cfg.tunnel_address, a, sizeof(a)),
		 p->cfg.tunnel_prefix_len, tunnel_tun_mtu(p->tunnel),
		 inet_ntop(AF_INET6, p->cfg.peer_tunnel_address, b, sizeof(b)), p->cfg.rotation_ms,
		 p->cfg.interface);
	*out = p;
	return 0;
fail:
	sodium_munlock(&tc, sizeof(tc)); /* wipes the keys it may hold */
	peer_free(p);
	return rc;
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	peer_shutdown(p);
	ev_signal_stop(p->loop, &p->sigusr1);
	if (p->has_cfg)
		config_fini(&p->cfg);
	sodium_munlock(p, sizeof(*p)); /* wipes it too */
	free(p);
}
