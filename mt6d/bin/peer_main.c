/* mt6d-peer: the original peer-to-peer MT6D (2011), two hosts with a static
 * configuration each (docs/peer-to-peer.md, docs/mt6d.conf.5.md "[Host]"):
 * one tunnel whose outer addresses and ports rotate every slot. The engine
 * is mt6d/engine/peer.c; the life around it is the skeleton's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/daemon/ctl.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/daemon/skeleton.h"
#include "mt6d/engine/peer.h"
#include "mt6d/engine/tunnel.h"

struct peer_main {
	struct peer *peer;
	struct peer_options opt;
};

static int option(void *ctx, int opt, const char *arg)
{
	struct peer_main *m = ctx;
	char *end;
	long long v;

	switch (opt) {
	case 'S':
		m->opt.stats_path = arg;
		return 0;
	case 'O':
		v = strtoll(arg, &end, 10);
		if (*end || end == arg || v < -PEER_MAX_CLOCK_OFFSET_MS ||
		    v > PEER_MAX_CLOCK_OFFSET_MS) {
			fprintf(stderr, "mt6d-peer: -O: not a clock offset in ms: '%s'\n", arg);
			return 2;
		}
		m->opt.clock_offset_ms = v;
		return 0;
	case 'X':
		if (strstr(arg, "nogso"))
			m->opt.tunnel_flags |= TUNNEL_NO_UDP_GSO;
		if (strstr(arg, "nogro"))
			m->opt.tunnel_flags |= TUNNEL_NO_UDP_GRO;
		if (strstr(arg, "nooffload"))
			m->opt.tunnel_flags |= TUNNEL_NO_OFFLOAD;
		if (strstr(arg, "txqlen="))
			m->opt.tun_txqlen = (unsigned)strtoul(strstr(arg, "txqlen=") + 7, NULL, 10);
		if (strstr(arg, "queues=")) {
			v = strtoll(strstr(arg, "queues=") + 7, &end, 10);
			if (v < 1 || v > TUNNEL_MAX_QUEUES) {
				fprintf(stderr, "mt6d-peer: -X queues=N: N must be 1..%u\n",
					TUNNEL_MAX_QUEUES);
				return 2;
			}
			m->opt.queues = (unsigned)v;
		}
		if (strstr(arg, "poll="))
			m->opt.busy_poll_us = (unsigned)strtoul(strstr(arg, "poll=") + 5, NULL, 10);
		return 0;
	}
	return 2;
}

static int preflight(void *ctx, const char *conf_path, char *msg, size_t msg_len)
{
	(void)ctx;
	return peer_check(conf_path, msg, msg_len);
}

static int start(void *ctx, struct ev_loop *loop, const char *conf_path,
		 struct skeleton_started *out, char *msg, size_t msg_len)
{
	struct peer_main *m = ctx;

	int rc = peer_new(loop, conf_path, &m->opt, &m->peer, msg, msg_len);

	/* Listened on only with -s (the skeleton knows). */
	out->ctl_handler = peer_handle_ctl;
	out->ctl_ctx = m->peer;
	return rc;
}

static void free_peer(void *ctx)
{
	struct peer_main *m = ctx;

	peer_free(m->peer);
	m->peer = NULL;
}

int main(int argc, char *argv[])
{
	static struct peer_main m;
	static const struct skeleton_hooks hooks = {
		.name = "peer",
		.default_conf = NULL,
		.usage =
		"Usage: mt6d-peer -c FILE [-d] [-v]... [-n] [-S FILE] [-s SOCKET] [-u USER] [-V]\n"
		"  -c FILE  peer configuration ([Host] and [Peer], see mt6d.conf(5))\n"
		"  -d       stay in the foreground, log to stderr\n"
		"  -v       more verbose (twice: debug, one line per rotation)\n"
		"  -n       check the configuration and the key files, then exit\n"
		"  -S FILE  write the tunnel counters to FILE on SIGUSR1 and at exit\n"
		"           (as USER: its directory must be writable by USER)\n"
		"  -s SOCKET  a control socket for mt6d show and metrics: a path, or a NAME\n"
		"           for " CTL_RUN_DIR "/NAME.sock (default: none)\n"
		"  -u USER  run as USER once set up, with only CAP_NET_ADMIN (default\n"
		"           " DAEMON_DEFAULT_USER " if it exists; root: stay uid 0)\n"
		"  -O MS    testing only: add MS milliseconds to this host's clock\n"
		"  -X LIST  benchmarks only: LIST of nogso,nogro (UDP offloads off),\n"
		"           nooffload (TUN offloads off, as Offloads = off),\n"
		"           txqlen=N (TUN queue in packets with offloads),\n"
		"           queues=N (TUN queues and threads, 1..4, as Queues = N),\n"
		"           poll=US (busy polling after packets, e.g. 200)\n"
		"  -V       print the version\n",
		.extra_opts = "S:O:X:s:",
		.has_ctl = false,
		.ctx = &m,
		.option = option,
		.preflight = preflight,
		.start = start,
		.stop = NULL,
		.reload = NULL,
		.free = free_peer,
	};

	return skeleton_main(&hooks, argc, argv);
}
