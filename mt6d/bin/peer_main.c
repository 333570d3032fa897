/* mt6d-peer: the original peer-to-peer MT6D (2011), two hosts with a static
 * configuration each (docs/peer-to-peer.md, docs/mt6d.conf.5.md "[Host]"):
 * one tunnel whose outer addresses and ports rotate every slot.
 *
 * Start-up: config, keys, the physical interface (index, MTU, /64 prefix),
 * purge of MT6D addresses left by a previous run, the tunnel. Shutdown
 * (SIGINT, SIGTERM, or a start-up error) undoes it in reverse: tunnel
 * sockets and MT6D addresses, then the TUN with its address and route. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <ev.h>
#include <sodium.h>

#include "mt6d/core/config.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/core/hash.h"
#include "mt6d/core/keys.h"
#include "mt6d/base/log.h"
#include "mt6d/engine/guard.h"
#include "mt6d/engine/tunnel.h"
#include "mt6d/core/wire.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"

#define PEER_NETLINK_TIMEOUT_MS 5000
#define PEER_MAX_CLOCK_OFFSET_MS (24LL * 3600 * 1000)

struct peer {
	struct ev_loop *loop;
	struct nladdr *nladdr;
	struct nllink *nllink;
	struct tunnel *tunnel;
	struct guard *guard;             /* silent to probes, fail closed (guard.h) */
	ev_io nladdr_io;
	struct daemon_signals signals;   /* SIGINT, SIGTERM: stop; SIGHUP ignored */
	ev_signal sigusr1;
	const char *stats_path;          /* -S: counters written here on SIGUSR1 and exit */
};

/* Messages for the caller to log; truncation is fine (paths can be long). */
static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mt6d-peer -c FILE [-d] [-v]... [-n] [-S FILE] [-u USER] [-V]\n"
		"  -c FILE  peer configuration ([Host] and [Peer], see mt6d.conf(5))\n"
		"  -d       stay in the foreground, log to stderr\n"
		"  -v       more verbose (twice: debug, one line per rotation)\n"
		"  -n       check the configuration and the key files, then exit\n"
		"  -S FILE  write the tunnel counters to FILE on SIGUSR1 and at exit\n"
		"           (as USER: its directory must be writable by USER)\n"
		"  -u USER  run as USER once set up, with only CAP_NET_ADMIN (default\n"
		"           " DAEMON_DEFAULT_USER " if it exists; root: stay uid 0)\n"
		"  -O MS    testing only: add MS milliseconds to this host's clock\n"
		"  -X LIST  benchmarks only: LIST of nogso,nogro (offloads off),\n"
		"           poll=US (busy polling after packets, e.g. 200)\n"
		"  -V       print the version\n");
}

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

static int link_mtu(const char *ifname, unsigned *mtu_out)
{
	struct ifreq ifr;
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		rc = -errno;
	else
		*mtu_out = (unsigned)ifr.ifr_mtu;
	close(fd);
	return rc;
}

static void write_stats(const struct peer *p)
{
	struct tunnel_stats st;
	char line[1024], tmp[PATH_MAX];
	FILE *f;
	char *w;

	if (!p->tunnel)
		return;
	tunnel_get_stats(p->tunnel, &st);
	tunnel_format_stats(&st, line, sizeof(line));
	log_info("tunnel %s: %s", tunnel_tun_name(p->tunnel), line);
	if (!p->stats_path)
		return;
	/* One key=value per line, replaced atomically so a reader never sees
	 * half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->stats_path);
	f = fopen(tmp, "w");
	if (!f) {
		log_err(-errno, "writing counters to '%s'", tmp);
		return;
	}
	fprintf(f, "slot=%" PRIu64 "\n", tunnel_current_slot(p->tunnel));
	for (w = strtok(line, " "); w; w = strtok(NULL, " "))
		fprintf(f, "%s\n", w);
	if (fclose(f) != 0 || rename(tmp, p->stats_path) != 0)
		log_err(-errno, "writing counters to '%s'", p->stats_path);
}

static void on_addr_result(const struct nladdr_result *res, void *arg)
{
	(void)arg;
	tunnel_handle_addr_result(res->cookie, res);
}

static void nladdr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct peer *p = w->data;
	int rc;

	(void)loop;
	(void)revents;
	rc = nladdr_process_acks(p->nladdr);
	if (rc < 0 && rc != -EAGAIN)
		log_err(rc, "reading netlink acknowledgements");
}

static void on_stop(struct ev_loop *loop, void *ctx)
{
	(void)ctx;
	log_info("shutting down");
	ev_break(loop, EVBREAK_ALL);
}

static void usr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	write_stats(w->data);
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
	rc = link_mtu(cfg->interface, &tc->link_mtu);
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

int main(int argc, char *argv[])
{
	struct peer p = { .stats_path = NULL };
	struct tunnel_config tc;
	struct config cfg;
	const char *conf_path = NULL, *user_opt = NULL, *user = NULL;
	bool foreground = false, check_only = false;
	int64_t clock_offset_ms = 0;
	unsigned tunnel_flags = 0, busy_poll_us = 0;
	int verbosity = 0, opt, rc, status = 1;
	char msg[512] = "", a[INET6_ADDRSTRLEN];

	while ((opt = getopt(argc, argv, "c:dvnS:u:O:X:Vh")) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'v':
			verbosity++;
			break;
		case 'n':
			check_only = true;
			break;
		case 'S':
			p.stats_path = optarg;
			break;
		case 'u':
			user_opt = optarg;
			break;
		case 'O': {
			char *end;
			long long v = strtoll(optarg, &end, 10);

			if (*end || end == optarg || v < -PEER_MAX_CLOCK_OFFSET_MS ||
			    v > PEER_MAX_CLOCK_OFFSET_MS) {
				fprintf(stderr, "mt6d-peer: -O: not a clock offset in ms: '%s'\n",
					optarg);
				return 2;
			}
			clock_offset_ms = v;
			break;
		}
		case 'X':
			if (strstr(optarg, "nogso"))
				tunnel_flags |= TUNNEL_NO_UDP_GSO;
			if (strstr(optarg, "nogro"))
				tunnel_flags |= TUNNEL_NO_UDP_GRO;
			if (strstr(optarg, "poll="))
				busy_poll_us = (unsigned)strtoul(strstr(optarg, "poll=") + 5, NULL, 10);
			break;
		case 'V':
			printf("mt6d-peer %s\n", MT6D_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!conf_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "mt6d-peer: libsodium failed to initialise\n");
		return 1;
	}
	log_init("mt6d-peer", foreground || check_only, verbosity);
	rc = config_load(CONFIG_PEER, conf_path, &cfg, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("%s", msg);
		return 1;
	}
	if (check_only) {
		uint8_t shared[32];

		rc = peer_derive_shared(&cfg, shared, msg, sizeof(msg));
		sodium_memzero(shared, sizeof(shared));
		if (rc < 0)
			log_warnx("%s", msg);
		else
			printf("configuration OK\n");
		config_fini(&cfg);
		return rc < 0 ? 1 : 0;
	}
	/* Before detaching: a user that does not exist is said on the terminal. */
	rc = daemon_select_user(user_opt, &user, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("-u: %s", msg);
		config_fini(&cfg);
		return 1;
	}
	if (msg[0])
		log_warnx("%s", msg);
	if (!foreground && daemon(0, 0) < 0) {
		log_err(-errno, "detaching from the terminal");
		config_fini(&cfg);
		return 1;
	}

	p.loop = ev_default_loop(EVFLAG_AUTO);
	/* Signal watchers only stop the loop; the work is done after it. A
	 * signal during start-up is held until ev_run, which then stops at
	 * once, and the same shutdown path undoes what was made. */
	p.signals.on_stop = on_stop;
	p.signals.ctx = &p;
	daemon_signals_start(p.loop, &p.signals);
	ev_signal_init(&p.sigusr1, usr1_cb, SIGUSR1);
	p.sigusr1.data = &p;
	ev_signal_start(p.loop, &p.sigusr1);
	rc = nllink_new(&p.nllink);
	if (rc < 0) {
		log_err(rc, "opening a netlink route socket");
		goto cleanup;
	}
	rc = nladdr_new(on_addr_result, &p, &p.nladdr);
	if (rc < 0) {
		log_err(rc, "opening the netlink address socket");
		goto cleanup;
	}
	rc = peer_prepare(&p, &cfg, clock_offset_ms, &tc, msg, sizeof(msg));
	if (rc < 0) {
		log_warnx("%s", msg);
		goto cleanup;
	}
	rc = nladdr_purge(p.nladdr, tc.link_ifindex, PEER_NETLINK_TIMEOUT_MS, msg, sizeof(msg));
	if (rc < 0)
		log_err(rc, "removing MT6D addresses of a previous run on %s%s%s", cfg.interface,
			msg[0] ? ": " : "", msg);
	else if (rc > 0)
		log_info("removed %d MT6D addresses of a previous run on %s", rc, cfg.interface);
	ev_io_init(&p.nladdr_io, nladdr_cb, nladdr_fd(p.nladdr), EV_READ);
	p.nladdr_io.data = &p;
	ev_io_start(p.loop, &p.nladdr_io);

	rc = guard_new(p.loop, p.nllink, "peer", cfg.interface, &p.guard, msg, sizeof(msg));
	if (rc < 0) {
		log_err(rc, "setting up the guard (nftables table): %s", msg);
		goto cleanup;
	}
	tc.guard = p.guard;
	tc.flags = tunnel_flags;
	tc.busy_poll_us = busy_poll_us;
	rc = tunnel_new(p.loop, p.nladdr, p.nllink, &tc, &p.tunnel, msg, sizeof(msg));
	sodium_memzero(&tc.slot_key, sizeof(tc.slot_key));
	sodium_memzero(&tc.tx_key, sizeof(tc.tx_key));
	sodium_memzero(&tc.rx_key, sizeof(tc.rx_key));
	if (rc < 0) {
		log_err(rc, "starting the tunnel: %s", msg);
		goto cleanup;
	}
	/* Everything that needed root is done; rotation and clean-up need
	 * CAP_NET_ADMIN only. */
	rc = daemon_drop_privileges(user, false, msg, sizeof(msg));
	if (rc < 0) {
		log_err(rc, "dropping privileges: %s", msg);
		goto cleanup;
	}
	log_info("tunnel %s up: %s/%u, MTU %u, peer %s, rotation %u ms on %s",
		 tunnel_tun_name(p.tunnel), inet_ntop(AF_INET6, cfg.tunnel_address, a, sizeof(a)),
		 cfg.tunnel_prefix_len, tunnel_tun_mtu(p.tunnel),
		 inet_ntop(AF_INET6, cfg.peer_tunnel_address, msg, sizeof(msg)), cfg.rotation_ms,
		 cfg.interface);

	ev_run(p.loop, 0);
	status = 0;
cleanup:
	peer_shutdown(&p);
	if (p.loop) {
		daemon_signals_stop(p.loop, &p.signals);
		ev_signal_stop(p.loop, &p.sigusr1);
	}
	config_fini(&cfg);
	return status;
}
