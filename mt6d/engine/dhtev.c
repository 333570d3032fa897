/* dhtev: the libev adapter of a dht node (see dhtev.h). */
#include "mt6d/engine/dhtev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"

#define RX_BATCH 64 /* datagrams per wake-up before timers get a turn */

struct dhtev {
	struct ev_loop *loop;
	ev_io io;
	ev_timer timer;
	int fd;
	int family;
	struct dht *dht;
	dhtev_hook_fn *hook;
	void *hook_ctx;
};

int64_t dhtev_now_ms(void)
{
	return mono_now_ms();
}

int64_t dhtev_unix_ms(void)
{
	return wall_now_ms();
}

static int op_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to, socklen_t tl)
{
	struct dhtev *n = ctx;
	struct sockaddr_in6 mapped;

	/* An IPv6 socket reaches IPv4 nodes through mapped addresses. */
	if (n->family == AF_INET6 && to->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)to;
		memset(&mapped, 0, sizeof(mapped));
		mapped.sin6_family = AF_INET6;
		mapped.sin6_port = s4->sin_port;
		mapped.sin6_addr.s6_addr[10] = 0xff;
		mapped.sin6_addr.s6_addr[11] = 0xff;
		memcpy(mapped.sin6_addr.s6_addr + 12, &s4->sin_addr, 4);
		to = (const struct sockaddr *)&mapped;
		tl = sizeof(mapped);
	} else if (n->family != to->sa_family) {
		return -EAFNOSUPPORT;
	}
	if (sendto(n->fd, buf, len, MSG_DONTWAIT, to, tl) < 0)
		return -errno;
	return 0;
}

static void op_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	randombytes_buf(buf, len);
}

static void op_debug(void *ctx, const char *line)
{
	(void)ctx;
	log_debug("dht: %s", line);
}

static void rearm(struct dhtev *n, int64_t t)
{
	int64_t next = dht_tick(n->dht, t);
	if (n->hook) {
		int64_t h = n->hook(n->hook_ctx, t);
		if (h < next)
			next = h;
	}
	double after = (double)(next - t) / 1000.0;
	ev_timer_stop(n->loop, &n->timer);
	ev_timer_set(&n->timer, after > 0.001 ? after : 0.001, 0.);
	ev_timer_start(n->loop, &n->timer);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dhtev *n = (struct dhtev *)(void *)((char *)w - offsetof(struct dhtev, io));
	uint8_t buf[2048];
	(void)loop;
	(void)revents;
	for (int i = 0; i < RX_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(n->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (r < 0)
			break;
		dht_input(n->dht, buf, (size_t)r, (struct sockaddr *)&from, fl, dhtev_now_ms());
	}
	rearm(n, dhtev_now_ms());
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhtev *n = (struct dhtev *)(void *)((char *)w - offsetof(struct dhtev, timer));
	(void)loop;
	(void)revents;
	rearm(n, dhtev_now_ms());
}

int dhtev_new(struct ev_loop *loop, const char *listen_addr, uint16_t port,
	      const struct dht_config *cfg, struct dhtev **out, char *msg, size_t msg_len)
{
	static const struct dht_ops ops = { op_send, op_random, op_debug };
	struct sockaddr_storage ss;
	socklen_t sl;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct dht_config none = { 0 };
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET6, listen_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else if (inet_pton(AF_INET, listen_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else {
		snprintf(msg, msg_len, "listen address '%s' is not an IP address", listen_addr);
		return -EINVAL;
	}
	struct dhtev *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(msg, msg_len, "allocating the DHT node");
		return -ENOMEM;
	}
	n->loop = loop;
	n->family = ss.ss_family;
	n->fd = socket(n->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "creating a UDP socket");
		goto fail;
	}
	if (bind(n->fd, (struct sockaddr *)&ss, sl) < 0) {
		rc = -errno;
		snprintf(msg, msg_len, "binding '%s' port %u", listen_addr, port);
		goto fail;
	}
	rc = dht_new(&ops, n, cfg ? cfg : &none, dhtev_now_ms(), &n->dht);
	if (rc < 0) {
		snprintf(msg, msg_len, "creating the DHT node%s", cfg && cfg->state ? " (state)" : "");
		goto fail;
	}
	ev_io_init(&n->io, on_readable, n->fd, EV_READ);
	ev_io_start(loop, &n->io);
	ev_timer_init(&n->timer, on_timer, 0.001, 0.);
	ev_timer_start(loop, &n->timer);
	*out = n;
	return 0;
fail:
	if (n->fd >= 0)
		close(n->fd);
	free(n);
	return rc;
}

void dhtev_free(struct dhtev *n)
{
	if (!n)
		return;
	ev_io_stop(n->loop, &n->io);
	ev_timer_stop(n->loop, &n->timer);
	dht_free(n->dht);
	close(n->fd);
	free(n);
}

struct dht *dhtev_dht(struct dhtev *n)
{
	return n->dht;
}

int dhtev_family(const struct dhtev *n)
{
	return n->family;
}

/* host:port or [v6]:port, resolved for family; 0 and *res, or -errno. */
static int resolve(int family, const char *spec, struct addrinfo **res)
{
	char host[256];
	const char *port;
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = 0;
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = 0;
		port = colon + 1;
	}
	struct addrinfo hints = { 0 };
	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = family == AF_INET6 ? AI_V4MAPPED : 0;
	if (getaddrinfo(host, port, &hints, res) != 0)
		return -EHOSTUNREACH;
	return 0;
}

static int add_one(struct dhtev *n, const char *spec, int64_t t)
{
	struct addrinfo *res, *ai;
	int rc = resolve(n->family, spec, &res);
	if (rc < 0)
		return rc;
	int added = 0;
	for (ai = res; ai; ai = ai->ai_next)
		if (dht_add_node(n->dht, ai->ai_addr, ai->ai_addrlen, t) == 0)
			added++;
	freeaddrinfo(res);
	return added ? added : -EINVAL;
}

int dhtev_add_bootstrap(struct dhtev *n, const char *list, char *msg, size_t msg_len)
{
	char *copy = strdup(list), *save = NULL;
	int total = 0, rc = 0;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int r = add_one(n, tok, dhtev_now_ms());
		if (r < 0) {
			snprintf(msg, msg_len, "bootstrap node '%s'", tok);
			rc = r;
			continue;
		}
		total += r;
	}
	free(copy);
	if (total == 0) {
		if (rc == 0) {
			snprintf(msg, msg_len, "empty bootstrap list");
			rc = -EINVAL;
		}
		return rc;
	}
	return total;
}

int dhtev_source_address(int family, const char *list, struct sockaddr_storage *out,
			 socklen_t *out_len)
{
	char *copy = strdup(list), *save = NULL;
	int rc = -EHOSTUNREACH;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok && rc < 0; tok = strtok_r(NULL, ",", &save)) {
		struct addrinfo *res;
		if (resolve(family, tok, &res) < 0)
			continue;
		for (struct addrinfo *ai = res; ai && rc < 0; ai = ai->ai_next) {
			/* A connected UDP socket sends nothing: the kernel only
			 * picks the route and the source address. */
			int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				break;
			*out_len = sizeof(*out);
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    getsockname(fd, (struct sockaddr *)out, out_len) == 0)
				rc = 0;
			close(fd);
		}
		freeaddrinfo(res);
	}
	free(copy);
	return rc;
}

void dhtev_set_hook(struct dhtev *n, dhtev_hook_fn *hook, void *ctx)
{
	n->hook = hook;
	n->hook_ctx = ctx;
}

void dhtev_kick(struct dhtev *n)
{
	rearm(n, dhtev_now_ms());
}
