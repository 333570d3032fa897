#include "mt6d/engine/sessiontun.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mt6d/core/util.h"
#include "mt6d/core/wire.h"
#include "mt6d/engine/tunnel.h"

/* Batches per event before returning to the loop (fairness with the
 * sessions' sockets and timers), as a tunnel's own TUN. */
#define SESSIONTUN_ROUNDS 8

struct sessiontun {
	struct ev_loop *loop;
	struct tun *tun;
	ev_io io;
	sessiontun_lookup_fn lookup;
	void *arg;
	struct sessiontun_stats stats;
	size_t buf_len;                  /* bytes per packet buffer */
	uint8_t *bufs;                   /* TUNNEL_BATCH of them */
	struct tun_pkt pkts[TUNNEL_BATCH];
};

/* Runs of consecutive packets of one session go to its tunnel together
 * (one sendmmsg, UDP GSO): a bulk transfer to one client reads as such. */
static void sessiontun_dispatch(struct sessiontun *st, size_t n)
{
	size_t i = 0;

	while (i < n) {
		struct tunnel *t = st->lookup(st->arg, st->pkts[i].buf + WIRE_HEADER_LEN,
					      st->pkts[i].len);
		size_t j = i + 1;

		if (!t) {
			st->stats.drops_no_session++;
			i++;
			continue;
		}
		while (j < n && st->lookup(st->arg, st->pkts[j].buf + WIRE_HEADER_LEN,
					   st->pkts[j].len) == t)
			j++;
		tunnel_transmit(t, st->pkts + i, j - i);
		st->stats.handed += j - i;
		i = j;
	}
}

static void sessiontun_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sessiontun *st = container_of(w, struct sessiontun, io);
	unsigned round;

	(void)loop;
	(void)revents;
	for (round = 0; round < SESSIONTUN_ROUNDS; round++) {
		unsigned dropped = 0;
		int n = tun_read(st->tun, 0, st->pkts, TUNNEL_BATCH, WIRE_HEADER_LEN, &dropped);

		st->stats.drops_read += dropped;
		if (n <= 0)
			break;
		st->stats.rx_packets += (uint64_t)n;
		sessiontun_dispatch(st, (size_t)n);
		if (n < TUNNEL_BATCH)
			break;
	}
}

int sessiontun_new(struct ev_loop *loop, const struct sessiontun_config *cfg,
		   struct sessiontun **out, char *msg, size_t msg_len)
{
	struct tun_config tc = { .name = cfg->name, .queues = 1, .mtu = cfg->mtu, .is_up = true };
	struct sessiontun *st;
	size_t i;
	int rc;

	if (!cfg->lookup || cfg->mtu < TUNNEL_MIN_INNER_MTU || cfg->mtu > WIRE_MAX_INNER_LEN) {
		set_msg(msg, msg_len, "invalid shared session interface configuration");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->loop = loop;
	st->lookup = cfg->lookup;
	st->arg = cfg->arg;
	/* Room to seal in place (header, padding up to the MTU, tag), and one
	 * byte to tell a packet that filled the buffer from a truncated one. */
	st->buf_len = (WIRE_OVERHEAD + cfg->mtu + 1 + 63) & ~(size_t)63;
	st->bufs = malloc(TUNNEL_BATCH * st->buf_len);
	if (!st->bufs) {
		free(st);
		set_msg(msg, msg_len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < TUNNEL_BATCH; i++) {
		st->pkts[i].buf = st->bufs + i * st->buf_len;
		st->pkts[i].cap = st->buf_len;
	}
	rc = tun_new(&tc, &st->tun);
	if (rc < 0) {
		set_msg(msg, msg_len, "creating the shared session interface '%s': %s",
			cfg->name ? cfg->name : "", strerror(-rc));
		sessiontun_free(st);
		return rc;
	}
	ev_io_init(&st->io, sessiontun_cb, tun_fd(st->tun, 0), EV_READ);
	ev_io_start(loop, &st->io);
	*out = st;
	return 0;
}

void sessiontun_free(struct sessiontun *st)
{
	if (!st)
		return;
	if (st->tun) {
		ev_io_stop(st->loop, &st->io);
		tun_free(st->tun);
	}
	sodium_memzero(st->bufs, TUNNEL_BATCH * st->buf_len);
	free(st->bufs);
	sodium_memzero(st, sizeof(*st));
	free(st);
}

struct tun *sessiontun_tun(const struct sessiontun *st)
{
	return st->tun;
}

void sessiontun_get_stats(const struct sessiontun *st, struct sessiontun_stats *out)
{
	*out = st->stats;
}
