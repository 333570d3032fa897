/* bench_sessions: many mt6d clients in one process, for bench/sessions.sh.
 *
 * Each client speaks the real protocol to a real mt6d-server: its own key
 * pair, its own /64 (PREFIX48:<i>::/64), its introduction endpoint of the
 * slot (formula 5 under K_slot, C_IID from s and K), a sealed request inside
 * a tunnel packet, the response opened with its handshake, then an ICMPv6
 * echo through the session tunnel (sealed under the session's direction
 * key, to the server's session endpoint of the slot), whose answer is the
 * first byte through the session. What it leaves out of mt6d-client: the
 * TUN and the kernel's addresses (its sockets bind the endpoints with
 * IPV6_FREEBIND inside a prefix the host claims with one local route), so
 * that one process on this 2-core machine can stand for thousands of
 * clients; the server side is exactly the daemon's.
 *
 *   bench_sessions keys N FIRST_ID SEEDHEX
 *       prints the [Client] sections of N clients (ids FIRST_ID..) whose
 *       keys derive from SEEDHEX, for the server's config
 *   bench_sessions run N FIRST_ID SEEDHEX SERVER_PUB_FILE INTRO_FILE PREFIX48 [TIMEOUT_S]
 *       starts all N at once; INTRO_FILE is what mt6d-server -T writes.
 *       Prints "key value" lines: up (sessions established), first (echo
 *       answered), the median and p95 of the times from start to the
 *       response (up_ms_p50, up_ms_p95) and to the echo answer
 *       (first_ms_p50, first_ms_p95), last_up_ms, requests. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <ev.h>
#include <sodium.h>

#include "mt6d/core/derive.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/core/msg.h"
#include "mt6d/core/rotate.h"
#include "mt6d/core/wire.h"
#include "mt6d/core/util.h"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define BUF_LEN 2048
#define ECHO_LEN (40 + 8 + 16)

struct bc;

struct bsock {
	ev_io io;
	struct bc *c;
	int i;
};

struct bc {
	uint32_t id;
	uint8_t priv[32], pub[32], s[32];
	struct in6_addr seed;            /* its /64 || C_IID */
	uint8_t itx_key[32], irx_key[32];
	struct wire_tx itx;
	struct msg_handshake hs;
	int fd_intro;
	uint64_t intro_slot;
	ev_io io_intro;
	struct msg_session_keys keys;
	struct in6_addr server_seed, server_tun, client_tun;
	uint32_t rot;
	struct wire_tx stx;
	struct wire_rx srx;
	int fd_sess[3];                  /* the previous, current and next slots */
	uint64_t sess_slot[3];
	struct bsock io_sess[3];
	ev_timer retry;
	double backoff_s;
	unsigned requests;
	int state;                       /* 0 introduction, 1 echo, 2 done */
	int64_t up_ms, first_ms;
};

static struct ev_loop *loop;
static struct bc *cl;
static size_t n_cl, n_up, n_first;
static uint8_t server_pub[32], intro_key[INTRO_KEY_LEN], intro_slot_key_[INTRO_SLOT_KEY_LEN];
static struct in6_addr server_seed;
static uint32_t intro_rot;
static int64_t t0_ms;
static uint64_t total_requests;

static int64_t now_ms(void)
{
	return llround(ev_time() * 1000.0);
}

static void derive_key(uint8_t priv[32], const uint8_t seed[32], uint32_t id)
{
	uint8_t in[36];

	memcpy(in, seed, 32);
	in[32] = (uint8_t)(id >> 24);
	in[33] = (uint8_t)(id >> 16);
	in[34] = (uint8_t)(id >> 8);
	in[35] = (uint8_t)id;
	crypto_generichash(priv, 32, in, sizeof(in), NULL, 0);
}

static int open_sock(const struct rotate_endpoint *own)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	int one = 1, fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	sa.sin6_addr = own->addr;
	sa.sin6_port = htons(own->port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void send_to(int fd, const struct rotate_endpoint *peer, const uint8_t *buf, size_t len)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };

	sa.sin6_addr = peer->addr;
	sa.sin6_port = htons(peer->port);
	sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
}

static void close_io(ev_io *io, int *fd)
{
	if (*fd < 0)
		return;
	ev_io_stop(loop, io);
	close(*fd);
	*fd = -1;
}

static void intro_cb(struct ev_loop *l, ev_io *w, int revents);
static void sess_cb(struct ev_loop *l, ev_io *w, int revents);

static void send_request(struct bc *c)
{
	struct rotate_endpoint own, peer;
	struct msg_request req;
	uint8_t m[MSG_REQUEST_LEN], buf[BUF_LEN];
	int len;

	c->intro_slot = rotate_slot_at(intro_rot, now_ms());
	rotate_endpoint_for(&c->seed, intro_slot_key_, c->intro_slot, &own);
	rotate_endpoint_for(&server_seed, intro_slot_key_, c->intro_slot, &peer);
	close_io(&c->io_intro, &c->fd_intro);
	c->fd_intro = open_sock(&own);
	if (c->fd_intro < 0)
		return;
	ev_io_init(&c->io_intro, intro_cb, c->fd_intro, EV_READ);
	ev_io_start(loop, &c->io_intro);
	memset(&req, 0, sizeof(req));
	req.client_id = c->id;
	memcpy(req.seed_addr, c->seed.s6_addr, 16);
	if (msg_request_seal(&c->hs, c->priv, c->pub, server_pub, &req, (uint64_t)now_ms(), m,
			     sizeof(m)) < 0)
		return;
	len = intro_inner_build(buf + WIRE_HEADER_LEN, sizeof(buf) - WIRE_HEADER_LEN, &c->seed,
				&server_seed, m, sizeof(m));
	if (len > 0)
		len = wire_seal(&c->itx, c->intro_slot, buf, (size_t)len, sizeof(buf));
	if (len > 0)
		send_to(c->fd_intro, &peer, buf, (size_t)len);
	c->requests++;
	total_requests++;
}

static uint16_t icmp6_sum(const uint8_t *pkt, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 8; i < 40; i += 2) /* source and destination */
		sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
	sum += (uint32_t)(len - 40) + 58;
	for (i = 40; i + 1 < len; i += 2)
		sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An ICMPv6 echo request from the client's tunnel address to the server's,
 * sealed for the current slot of the session, from our endpoint of that
 * slot; sockets of the previous, current and next slots wait for the
 * answer (a busy server may still be in the previous one). */
static void send_echo(struct bc *c)
{
	uint64_t slot = rotate_slot_at(c->rot, now_ms());
	struct rotate_endpoint own, peer;
	uint8_t buf[BUF_LEN], *p = buf + WIRE_HEADER_LEN;
	uint16_t sum;
	int i, len;

	for (i = 0; i < 3; i++) {
		uint64_t si = slot + (uint64_t)i - 1;

		if (c->fd_sess[i] >= 0 && c->sess_slot[i] == si)
			continue;
		close_io(&c->io_sess[i].io, &c->fd_sess[i]);
		rotate_endpoint_for(&c->seed, c->keys.session, si, &own);
		c->fd_sess[i] = open_sock(&own);
		c->sess_slot[i] = si;
		if (c->fd_sess[i] >= 0) {
			c->io_sess[i].c = c;
			c->io_sess[i].i = i;
			ev_io_init(&c->io_sess[i].io, sess_cb, c->fd_sess[i], EV_READ);
			ev_io_start(loop, &c->io_sess[i].io);
		}
	}
	if (c->fd_sess[1] < 0)
		return;
	memset(p, 0, ECHO_LEN);
	p[0] = 0x60;
	p[4] = 0;
	p[5] = ECHO_LEN - 40;
	p[6] = 58;
	p[7] = 64;
	memcpy(p + 8, c->client_tun.s6_addr, 16);
	memcpy(p + 24, c->server_tun.s6_addr, 16);
	p[40] = 128;
	p[44] = (uint8_t)(c->id >> 8);
	p[45] = (uint8_t)c->id;
	p[47] = 1;
	sum = icmp6_sum(p, ECHO_LEN);
	p[42] = (uint8_t)(sum >> 8);
	p[43] = (uint8_t)sum;
	len = wire_seal(&c->stx, slot, buf, ECHO_LEN, sizeof(buf));
	rotate_endpoint_for(&c->server_seed, c->keys.session, slot, &peer);
	if (len > 0)
		send_to(c->fd_sess[1], &peer, buf, (size_t)len);
}

static void arm_retry(struct bc *c, double after_s)
{
	ev_timer_stop(loop, &c->retry);
	ev_timer_set(&c->retry, after_s, 0);
	ev_timer_start(loop, &c->retry);
}

static void retry_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct bc *c = container_of(w, struct bc, retry);
	double jitter = 0.75 + 0.5 * randombytes_uniform(1000) / 1000.0;

	(void)l;
	(void)revents;
	if (c->state == 0) {
		/* As mt6d-client: a new request, backoff x1.5 up to 15 s. */
		send_request(c);
		arm_retry(c, c->backoff_s * jitter);
		c->backoff_s = fmin(c->backoff_s * 1.5, 15.0);
	} else if (c->state == 1) {
		send_echo(c);
		arm_retry(c, 1.0);
	}
}

static void intro_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct bc *c = container_of(w, struct bc, io_intro);
	uint8_t buf[BUF_LEN];
	struct msg_response resp;
	struct wire_rx rx;
	struct in6_addr src, dst;
	const uint8_t *payload;
	size_t payload_len;
	ssize_t n;
	int inner;

	(void)l;
	(void)revents;
	while ((n = recv(c->fd_intro, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		if (c->state != 0)
			break;
		wire_rx_init(&rx, c->irx_key);
		inner = wire_open(&rx, c->intro_slot, buf, (size_t)n);
		wire_rx_fini(&rx);
		if (inner < 0 || intro_inner_parse(buf + WIRE_HEADER_LEN, (size_t)inner, &src, &dst,
						   &payload, &payload_len) < 0)
			continue;
		if (msg_response_open(&c->hs, c->priv, payload, payload_len, &resp, &c->keys) < 0)
			continue;
		c->up_ms = now_ms() - t0_ms;
		n_up++;
		memcpy(c->server_seed.s6_addr, resp.server_seed_addr, 16);
		memcpy(c->server_tun.s6_addr, resp.server_tunnel_addr, 16);
		memcpy(c->client_tun.s6_addr, resp.client_tunnel_addr, 16);
		c->rot = resp.rotation_ms;
		wire_tx_init(&c->stx, c->keys.tx);
		wire_rx_init(&c->srx, c->keys.rx);
		c->state = 1;
		close_io(&c->io_intro, &c->fd_intro);
		send_echo(c);
		arm_retry(c, 1.0);
		return;
	}
}

static void sess_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct bsock *bs = container_of(w, struct bsock, io);
	struct bc *c = bs->c;
	uint8_t buf[BUF_LEN];
	ssize_t n;
	int i = bs->i, inner;

	(void)l;
	(void)revents;
	if (c->state != 1)
		return;
	while ((n = recv(c->fd_sess[i], buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		inner = wire_open(&c->srx, c->sess_slot[i], buf, (size_t)n);
		if (inner < 48 || buf[WIRE_HEADER_LEN + 6] != 58 || buf[WIRE_HEADER_LEN + 40] != 129)
			continue;
		c->first_ms = now_ms() - t0_ms;
		n_first++;
		c->state = 2;
		ev_timer_stop(loop, &c->retry);
		for (i = 0; i < 3; i++)
			close_io(&c->io_sess[i].io, &c->fd_sess[i]);
		if (n_first == n_cl)
			ev_break(loop, EVBREAK_ALL);
		return;
	}
}

static void timeout_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, size_t n, double p)
{
	if (!n)
		return -1;
	return v[(size_t)((double)(n - 1) * p / 100.0 + 0.5)];
}

static int read_intro(const char *path)
{
	char line[256], val[200];
	FILE *f = fopen(path, "r");
	int got = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "seed=%199s", val) == 1 && inet_pton(AF_INET6, val, &server_seed) == 1)
			got |= 1;
		else if (sscanf(line, "key=%199s", val) == 1 &&
			 sodium_hex2bin(intro_key, sizeof(intro_key), val, strlen(val), NULL, NULL,
					NULL) == 0)
			got |= 2;
		else if (sscanf(line, "rotation_ms=%" SCNu32, &intro_rot) == 1)
			got |= 4;
	}
	fclose(f);
	return got == 7 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	uint8_t seed[32];
	uint32_t first_id;
	size_t i;

	if (sodium_init() < 0)
		return 1;
	if (argc < 5 || sodium_hex2bin(seed, sizeof(seed), argv[4], strlen(argv[4]), NULL, NULL,
				       NULL) != 0) {
		fprintf(stderr, "usage: bench_sessions keys N FIRST_ID SEEDHEX\n"
				"       bench_sessions run N FIRST_ID SEEDHEX SERVER_PUB_FILE "
				"INTRO_FILE PREFIX48 [TIMEOUT_S]\n");
		return 2;
	}
	n_cl = strtoul(argv[2], NULL, 10);
	first_id = (uint32_t)strtoul(argv[3], NULL, 10);
	if (!strcmp(argv[1], "keys")) {
		for (i = 0; i < n_cl; i++) {
			uint8_t priv[32], pub[32];
			char b64[MT6D_KEY_B64_LEN];

			derive_key(priv, seed, first_id + (uint32_t)i);
			keys_public_from_private(pub, priv);
			keys_to_base64(b64, pub);
			printf("\n[Client]\nName = bench-%zu\nPublicKey = %s\nId = %zu\n", i,
			       b64, first_id + i);
		}
		return 0;
	}
	if (strcmp(argv[1], "run") || argc < 8)
		return 2;
	{
		char b64[128] = "";
		FILE *f = fopen(argv[5], "r");
		struct in6_addr prefix;
		struct rlimit rl = { 5 * n_cl + 256, 5 * n_cl + 256 };
		double timeout_s = argc > 8 ? atof(argv[8]) : 300;
		int64_t *up, *first;
		size_t nu = 0, nf = 0;
		ev_timer to;

		if (!f || !fgets(b64, sizeof(b64), f)) {
			fprintf(stderr, "reading %s\n", argv[5]);
			return 1;
		}
		fclose(f);
		b64[strcspn(b64, "\r\n")] = '\0';
		if (keys_from_base64(server_pub, b64) < 0 || read_intro(argv[6]) < 0 ||
		    inet_pton(AF_INET6, argv[7], &prefix) != 1) {
			fprintf(stderr, "bad server key, intro file or prefix\n");
			return 1;
		}
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			perror("setrlimit");
		intro_slot_key(intro_slot_key_, intro_key);
		loop = EV_DEFAULT;
		cl = calloc(n_cl, sizeof(*cl));
		up = calloc(n_cl + 1, sizeof(*up));
		first = calloc(n_cl + 1, sizeof(*first));
		if (!cl || !up || !first)
			return 1;
		/* Keys and seeds first, so that the start is one instant. */
		for (i = 0; i < n_cl; i++) {
			struct bc *c = &cl[i];
			uint8_t iid[INTRO_IID_LEN];

			c->id = first_id + (uint32_t)i;
			derive_key(c->priv, seed, c->id);
			keys_public_from_private(c->pub, c->priv);
			if (keys_shared_secret(c->s, c->priv, server_pub) < 0)
				return 1;
			derive_client_iid(iid, c->s, intro_key, INTRO_KEY_LEN);
			c->seed = prefix;
			c->seed.s6_addr[6] = (uint8_t)(i >> 8);
			c->seed.s6_addr[7] = (uint8_t)i;
			memcpy(c->seed.s6_addr + 8, iid, INTRO_IID_LEN);
			wire_derive_direction_keys(c->s, c->seed.s6_addr, server_seed.s6_addr,
						   c->itx_key, c->irx_key);
			wire_tx_init(&c->itx, c->itx_key);
			c->fd_intro = c->fd_sess[0] = c->fd_sess[1] = c->fd_sess[2] = -1;
			c->backoff_s = 1.0;
			ev_init(&c->retry, retry_cb);
		}
		ev_now_update(loop);
		t0_ms = now_ms();
		for (i = 0; i < n_cl; i++) {
			send_request(&cl[i]);
			arm_retry(&cl[i], cl[i].backoff_s * (0.75 + 0.5 * randombytes_uniform(1000) / 1000.0));
			cl[i].backoff_s = 1.5;
		}
		ev_timer_init(&to, timeout_cb, timeout_s, 0);
		ev_timer_start(loop, &to);
		ev_run(loop, 0);
		for (i = 0; i < n_cl; i++) {
			if (cl[i].state >= 1)
				up[nu++] = cl[i].up_ms;
			if (cl[i].state == 2)
				first[nf++] = cl[i].first_ms;
		}
		qsort(up, nu, sizeof(*up), cmp_i64);
		qsort(first, nf, sizeof(*first), cmp_i64);
		printf("clients %zu\nup %zu\nfirst %zu\nrequests %" PRIu64 "\n", n_cl, nu, nf,
		       total_requests);
		printf("up_ms_p50 %" PRId64 "\nup_ms_p95 %" PRId64 "\nlast_up_ms %" PRId64 "\n",
		       pct(up, nu, 50), pct(up, nu, 95), nu ? up[nu - 1] : -1);
		printf("first_ms_p50 %" PRId64 "\nfirst_ms_p95 %" PRId64 "\n", pct(first, nf, 50),
		       pct(first, nf, 95));
		fflush(stdout);
		/* The sessions stay on the server until its idle timeout: the
		 * caller measures them, then ends this process. */
		if (getenv("BENCH_SESSIONS_HOLD"))
			pause();
	}
	return 0;
}
