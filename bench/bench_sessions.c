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
 * After the first byte a client lives as mt6d-client does: its sockets
 * follow the slots, a keepalive every 10 s (the server ends a session after
 * 120 s without an authentic packet); after 35 s without a word from the
 * server it would establish again: here it counts as lost.
 *
 *   bench_sessions keys N FIRST_ID SEEDHEX
 *       prints the [Client] sections of N clients (ids FIRST_ID..) whose
 *       keys derive from SEEDHEX, for the server's config
 *   bench_sessions run N FIRST_ID SEEDHEX SERVER_PUB_FILE INTRO_FILE PREFIX48 [TIMEOUT_S]
 *       INTRO_FILE is what mt6d-server -T writes. Phases, each ending with
 *       "key value" lines on stdout:
 *       1. arrival: all N start at once (or spread over BENCH_ARRIVAL_MS);
 *          up (response opened), first (echo answered), set-up and
 *          first-byte percentiles from the start, last_up_ms, requests;
 *          ends when every client has its first byte or after TIMEOUT_S.
 *       2. soak (BENCH_SOAK s, default 600): every BENCH_PING_INTERVAL s
 *          (60) an echo through the session of BENCH_PING_SAMPLE clients
 *          (default all; the same ones every round); a client whose echo
 *          went unanswered in two rounds in a row, or that heard nothing
 *          from the server for 35 s, is lost. soak_s, pings_sent,
 *          pings_answered, lost, keepalives, keepalives_answered.
 *       3. storm (unless BENCH_STORM=0): waits up to BENCH_STORM_WAIT s
 *          (120) for INTRO_FILE to change (a new K: `mt6d rekey`), then
 *          every client with a session makes a new one within
 *          BENCH_STORM_JITTER_MS (2000) of it, beside the old session
 *          (make-before-break); storm_up, storm_first, set-up percentiles
 *          from the change, storm_rate; ends when all have their first byte
 *          through the new session or after BENCH_STORM_TIMEOUT s (60).
 *       With BENCH_SERVER_PID, the server's CPU (share of one core) over
 *       the soak and the storm and its resident memory; always the
 *       generator's own CPU over the soak (gen_cpu_pct) and its peak
 *       resident memory (gen_rss_mib). Last line: "end 1". */
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
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
#define KEEPALIVE_MS 10000
#define SILENCE_MS 35000
#define TICK_S 0.05
#define FIRST_SEQ 0xffff

struct bc;

struct bsock {
	ev_io io;
	struct bc *c;
	int i;
};

struct bc {
	uint32_t id;
	uint8_t priv[32], pub[32], s[32];
	/* The introduction, for the K of generation kgen. */
	struct in6_addr iseed;           /* its /64 || C_IID(s, K) */
	unsigned kgen;
	uint8_t irx_key[32];
	struct wire_tx itx;
	struct msg_handshake hs;
	int fd_intro;
	uint64_t intro_slot;
	ev_io io_intro;
	bool intro_on;
	/* The session. */
	bool has_sess;
	struct msg_session_keys keys;
	struct in6_addr seed, server_seed, server_tun, client_tun;
	uint32_t rot;
	struct wire_tx stx;
	struct wire_rx srx;
	int fd_sess[3];                  /* slot % 3: previous, current, next */
	uint64_t sess_slot[3];
	struct bsock io_sess[3];
	ev_timer retry;
	double backoff_s;
	int state;                       /* 0 no session, 1 echo pending, 2 live */
	bool storm;                      /* its first byte is the storm's */
	int64_t up_ms, first_ms, storm_up_ms, storm_first_ms, last_rx_ms;
	uint16_t ping_sent, ping_ans;
	int misses;
	bool lost, pinged;
};

static struct ev_loop *loop;
static struct bc *cl;
static size_t n_cl, n_up, n_first, n_storm_first, n_storm;
static uint8_t server_pub[32], intro_key[INTRO_KEY_LEN], intro_slot_key_[INTRO_SLOT_KEY_LEN];
static struct in6_addr server_seed, prefix;
static uint32_t intro_rot;
static unsigned kgen = 1;
static int64_t t0_ms, storm_t0_ms;
static uint64_t tx_errors, no_sock, rx_auth, rx_bad, total_requests, pings_sent, pings_answered, ka_sent, ka_answered;
static int phase;                        /* 1 arrival, 2 soak, 3 wait for K, 4 storm */
static size_t rot_cursor, ka_cursor, ping_cursor, ping_stride = 1;
static uint16_t ping_round;
static const char *intro_path;
/* Where the phases' results go: stdout, or in a child (several processes,
 * see run_split) a file per phase that the parent merges. */
static FILE *out;
static bool is_child;
static double storm_up_total;
static struct stat intro_st;

static int64_t now_ms(void)
{
	return llround(ev_time() * 1000.0);
}

static double env_num(const char *name, double def)
{
	const char *s = getenv(name);

	return s && *s ? atof(s) : def;
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
	if (sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		tx_errors++;
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

/* The client's introduction seed and keys follow K (C_IID derives from it). */
static void intro_keys(struct bc *c)
{
	uint8_t iid[INTRO_IID_LEN], itx_key[32];

	if (c->kgen == kgen)
		return;
	derive_client_iid(iid, c->s, intro_key, INTRO_KEY_LEN);
	c->iseed = prefix;
	c->iseed.s6_addr[6] = (uint8_t)(c->id >> 8);
	c->iseed.s6_addr[7] = (uint8_t)c->id;
	memcpy(c->iseed.s6_addr + 8, iid, INTRO_IID_LEN);
	wire_derive_direction_keys(c->s, c->iseed.s6_addr, server_seed.s6_addr, itx_key, c->irx_key);
	if (c->kgen)
		wire_tx_fini(&c->itx);
	wire_tx_init(&c->itx, itx_key);
	sodium_memzero(itx_key, sizeof(itx_key));
	c->kgen = kgen;
}

static void send_request(struct bc *c)
{
	struct rotate_endpoint own, peer;
	struct msg_request req;
	uint8_t m[MSG_REQUEST_LEN], buf[BUF_LEN];
	int len;

	intro_keys(c);
	c->intro_slot = rotate_slot_at(intro_rot, now_ms());
	rotate_endpoint_for(&c->iseed, intro_slot_key_, c->intro_slot, &own);
	rotate_endpoint_for(&server_seed, intro_slot_key_, c->intro_slot, &peer);
	close_io(&c->io_intro, &c->fd_intro);
	c->fd_intro = open_sock(&own);
	if (c->fd_intro < 0)
		return;
	ev_io_init(&c->io_intro, intro_cb, c->fd_intro, EV_READ);
	ev_io_start(loop, &c->io_intro);
	memset(&req, 0, sizeof(req));
	req.client_id = c->id;
	memcpy(req.seed_addr, c->iseed.s6_addr, 16);
	if (msg_request_seal(&c->hs, c->priv, c->pub, server_pub, &req, (uint64_t)now_ms(), m,
			     sizeof(m)) < 0)
		return;
	len = intro_inner_build(buf + WIRE_HEADER_LEN, sizeof(buf) - WIRE_HEADER_LEN, &c->iseed,
				&server_seed, m, sizeof(m));
	if (len > 0)
		len = wire_seal(&c->itx, c->intro_slot, buf, (size_t)len, sizeof(buf));
	if (len > 0)
		send_to(c->fd_intro, &peer, buf, (size_t)len);
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

/* The sockets of the previous, current and next slots of the session, as
 * the client's tunnel keeps them: a busy server may still be in the
 * previous slot, and the next one is bound before its time comes. */
static void sess_window(struct bc *c, uint64_t slot)
{
	struct rotate_endpoint own;
	int k;

	for (k = 0; k < 3; k++) {
		uint64_t si = slot + (uint64_t)k - 1;
		int i = (int)(si % 3);

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
}

/* Through the session, from our endpoint of the current slot: an ICMPv6
 * echo request (seq) from the client's tunnel address to the server's, or
 * with keepalive, an empty data packet. */
static void send_sess(struct bc *c, bool keepalive, uint16_t seq)
{
	uint64_t slot = rotate_slot_at(c->rot, now_ms());
	struct rotate_endpoint peer;
	uint8_t buf[BUF_LEN], *p = buf + WIRE_HEADER_LEN;
	uint16_t sum;
	int len;

	sess_window(c, slot);
	if (c->fd_sess[slot % 3] < 0) {
		no_sock++;
		return;
	}
	if (keepalive) {
		/* As mt6d-client: an empty session message (next header 253)
		 * from our tunnel address to the server's, which it answers. */
		memset(p, 0, 40);
		p[0] = 0x60;
		p[6] = 253;
		p[7] = 64;
		memcpy(p + 8, c->client_tun.s6_addr, 16);
		memcpy(p + 24, c->server_tun.s6_addr, 16);
		len = wire_seal(&c->stx, slot, buf, 40, sizeof(buf));
	} else {
		memset(p, 0, ECHO_LEN);
		p[0] = 0x60;
		p[5] = ECHO_LEN - 40;
		p[6] = 58;
		p[7] = 64;
		memcpy(p + 8, c->client_tun.s6_addr, 16);
		memcpy(p + 24, c->server_tun.s6_addr, 16);
		p[40] = 128;
		p[44] = (uint8_t)(c->id >> 8);
		p[45] = (uint8_t)c->id;
		p[46] = (uint8_t)(seq >> 8);
		p[47] = (uint8_t)seq;
		sum = icmp6_sum(p, ECHO_LEN);
		p[42] = (uint8_t)(sum >> 8);
		p[43] = (uint8_t)sum;
		len = wire_seal(&c->stx, slot, buf, ECHO_LEN, sizeof(buf));
	}
	rotate_endpoint_for(&c->server_seed, c->keys.session, slot, &peer);
	if (len > 0)
		send_to(c->fd_sess[slot % 3], &peer, buf, (size_t)len);
}

static void arm_retry(struct bc *c, double after_s)
{
	ev_timer_stop(loop, &c->retry);
	ev_timer_set(&c->retry, after_s, 0);
	ev_timer_start(loop, &c->retry);
}

static double jitter(void)
{
	return 0.75 + 0.5 * randombytes_uniform(1000) / 1000.0;
}

static void retry_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct bc *c = container_of(w, struct bc, retry);

	(void)l, (void)revents;
	if (c->intro_on) {
		/* As mt6d-client: a new request, backoff x1.5 up to 15 s. */
		send_request(c);
		arm_retry(c, c->backoff_s * jitter());
		c->backoff_s = fmin(c->backoff_s * 1.5, 15.0);
	} else if (c->state == 1) {
		send_sess(c, false, FIRST_SEQ);
		arm_retry(c, 1.0);
	}
}

static void close_session(struct bc *c)
{
	int i;

	for (i = 0; i < 3; i++)
		close_io(&c->io_sess[i].io, &c->fd_sess[i]);
	if (c->has_sess) {
		wire_tx_fini(&c->stx);
		wire_rx_fini(&c->srx);
	}
	c->has_sess = false;
}

static void intro_cb(struct ev_loop *l, ev_io *w, int revents)
{
	struct bc *c = container_of(w, struct bc, io_intro);
	uint8_t buf[BUF_LEN];
	struct msg_response resp;
	struct msg_session_keys keys;
	struct wire_rx rx;
	struct in6_addr src, dst;
	const uint8_t *payload;
	size_t payload_len;
	ssize_t n;
	int inner;

	(void)l, (void)revents;
	while ((n = recv(c->fd_intro, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		if (!c->intro_on)
			break;
		wire_rx_init(&rx, c->irx_key);
		inner = wire_open(&rx, c->intro_slot, buf, (size_t)n);
		wire_rx_fini(&rx);
		if (inner < 0 || intro_inner_parse(buf + WIRE_HEADER_LEN, (size_t)inner, &src, &dst,
						   &payload, &payload_len) < 0)
			continue;
		if (msg_response_open(&c->hs, c->priv, payload, payload_len, &resp, &keys) < 0)
			continue;
		/* The new session replaces the old one only now. */
		close_session(c);
		c->keys = keys;
		if (c->storm) {
			c->storm_up_ms = now_ms() - storm_t0_ms;
		} else {
			c->up_ms = now_ms() - t0_ms;
			n_up++;
		}
		c->seed = c->iseed;
		memcpy(c->server_seed.s6_addr, resp.server_seed_addr, 16);
		memcpy(c->server_tun.s6_addr, resp.server_tunnel_addr, 16);
		memcpy(c->client_tun.s6_addr, resp.client_tunnel_addr, 16);
		c->rot = resp.rotation_ms;
		wire_tx_init(&c->stx, c->keys.tx);
		wire_rx_init(&c->srx, c->keys.rx);
		c->has_sess = true;
		c->state = 1;
		c->intro_on = false;
		c->last_rx_ms = now_ms();
		close_io(&c->io_intro, &c->fd_intro);
		send_sess(c, false, FIRST_SEQ);
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

	(void)l, (void)revents;
	while (c->fd_sess[i] >= 0 && (n = recv(c->fd_sess[i], buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		const uint8_t *p = buf + WIRE_HEADER_LEN;
		uint16_t seq;

		inner = wire_open(&c->srx, c->sess_slot[i], buf, (size_t)n);
		if (inner < 0) {
			rx_bad++;
			continue;
		}
		rx_auth++;
		c->last_rx_ms = now_ms();
		if (inner == 40 && p[6] == 253) {
			ka_answered++;
			continue;
		}
		if (inner < 48 || p[6] != 58 || p[40] != 129)
			continue;
		seq = (uint16_t)(p[46] << 8 | p[47]);
		if (c->state == 1) {
			c->state = 2;
			ev_timer_stop(loop, &c->retry);
			if (c->storm) {
				c->storm_first_ms = now_ms() - storm_t0_ms;
				n_storm_first++;
				if (n_storm_first == n_storm && phase == 4)
					ev_break(loop, EVBREAK_ALL);
			} else {
				c->first_ms = now_ms() - t0_ms;
				n_first++;
				if (n_first == n_cl && phase == 1)
					ev_break(loop, EVBREAK_ALL);
			}
		} else if (c->pinged && seq == c->ping_sent && c->ping_ans != seq) {
			c->ping_ans = seq;
			pings_answered++;
		}
	}
}

/* How many clients a tick visits so that all are visited once per
 * period_s: whole ones, the fraction carried over to the next tick. */
static size_t quota(double *credit, double period_s)
{
	size_t q;

	*credit += (double)n_cl * TICK_S / period_s;
	q = (size_t)*credit;
	*credit -= (double)q;
	return q;
}

/* One ping of the round to client c: first the verdict on its last one. */
static void ping_one(struct bc *c)
{
	if (c->pinged && c->ping_ans != c->ping_sent && ++c->misses >= 2)
		c->lost = true;
	else if (c->pinged && c->ping_ans == c->ping_sent)
		c->misses = 0;
	if (c->state != 2 || c->lost)
		return;
	c->ping_sent = ping_round;
	c->pinged = true;
	pings_sent++;
	send_sess(c, false, ping_round);
}

/* Spread over time so that no second carries them all: the slot sockets
 * of every client (each visited within 0.8 Rot), its keepalive every 10 s,
 * and the pings of a round within a quarter of the interval. */
static void tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	static double ping_s, rot_credit, ka_credit, ping_credit;
	int64_t now = now_ms();
	size_t k, q;

	(void)l, (void)w, (void)revents;
	q = quota(&rot_credit, fmax(intro_rot * 0.8 / 1000.0, TICK_S));
	for (k = 0; k < q; k++) {
		struct bc *c = &cl[rot_cursor++ % n_cl];

		if (c->has_sess)
			sess_window(c, rotate_slot_at(c->rot, now));
	}
	q = quota(&ka_credit, KEEPALIVE_MS / 1000.0);
	for (k = 0; k < q; k++) {
		struct bc *c = &cl[ka_cursor++ % n_cl];

		if (c->state == 2) {
			ka_sent++;
			send_sess(c, true, 0);
		}
	}
	if (!ping_s)
		ping_s = env_num("BENCH_PING_INTERVAL", 60);
	if (phase == 2 && ping_cursor < n_cl) {
		q = quota(&ping_credit, ping_s / 4) + 1;
		for (k = 0; k < q && ping_cursor < n_cl; k++, ping_cursor += ping_stride)
			ping_one(&cl[ping_cursor]);
	}
}

static void ping_round_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	ping_round++;
	ping_cursor = 0;
}

static void break_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w, (void)revents;
	ev_break(l, EVBREAK_ALL);
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

/* A new K: every client with a session asks for a new one within the
 * jitter window, keeping the old one until the response. */
static void intro_poll_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	uint8_t old[INTRO_KEY_LEN];
	struct stat st;
	double jit_s = env_num("BENCH_STORM_JITTER_MS", 2000) / 1000.0;
	size_t i;

	(void)revents;
	if (stat(intro_path, &st) < 0 || (st.st_mtim.tv_sec == intro_st.st_mtim.tv_sec &&
					  st.st_mtim.tv_nsec == intro_st.st_mtim.tv_nsec &&
					  st.st_ino == intro_st.st_ino))
		return;
	memcpy(old, intro_key, sizeof(old));
	if (read_intro(intro_path) < 0 || !memcmp(old, intro_key, sizeof(old)))
		return;
	intro_st = st;
	storm_t0_ms = now_ms();
	kgen++;
	intro_slot_key(intro_slot_key_, intro_key);
	phase = 4;
	ev_timer_stop(l, w);
	for (i = 0; i < n_cl; i++) {
		struct bc *c = &cl[i];

		if (!c->has_sess || c->lost)
			continue;
		c->storm = true;
		c->intro_on = true;
		c->backoff_s = 1.0;
		n_storm++;
		arm_retry(c, jit_s * randombytes_uniform(1000) / 1000.0);
	}
	ev_break(l, EVBREAK_ALL);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t pct(const int64_t *v, size_t n, double p)
{
	if (!n)
		return -1;
	return v[(size_t)((double)(n - 1) * p / 100.0 + 0.5)];
}

/* Prints "<name>_p50", p95, p99 of the values, sorted in place; a child
 * also every value, "r_<name> v", for the parent to merge. */
static void print_pcts(const char *name, int64_t *v, size_t n)
{
	size_t i;

	if (n)
		qsort(v, n, sizeof(*v), cmp_i64);
	for (i = 0; is_child && i < n; i++)
		fprintf(out, "r_%s %" PRId64 "\n", name, v[i]);
	fprintf(out, "%s_p50 %" PRId64 "\n%s_p95 %" PRId64 "\n%s_p99 %" PRId64 "\n", name, pct(v, n, 50),
	       name, pct(v, n, 95), name, pct(v, n, 99));
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (user + system) of a process, -1 without it. */
static double proc_cpu_s(long pid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *f;
	int ok;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	p = p ? strrchr(line, ')') : NULL;
	/* After the command: state and 10 fields, then utime and stime. */
	ok = p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2;
	return ok ? (double)(ut + st) / (double)sysconf(_SC_CLK_TCK) : -1;
}

/* A "Vm..." line of /proc/PID/status in KiB, -1 without it. */
static long proc_kib(const char *pid, const char *key)
{
	char path[64], line[256];
	long v = -1;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

static void print_cpu(const char *name, double cpu0, double cpu1, double wall_s)
{
	if (cpu0 >= 0 && cpu1 >= 0 && wall_s > 0)
		fprintf(out, "%s %.2f\n", name, 100.0 * (cpu1 - cpu0) / wall_s);
	else
		fprintf(out, "%s -\n", name);
}

static int run_for(double s)
{
	ev_timer t;

	ev_timer_init(&t, break_cb, s, 0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
	return 0;
}

static void arrival(double timeout_s)
{
	double spread_s = env_num("BENCH_ARRIVAL_MS", 0) / 1000.0;
	int64_t *up = calloc(n_cl + 1, sizeof(*up)), *first = calloc(n_cl + 1, sizeof(*first));
	size_t i, nu = 0, nf = 0;

	if (!up || !first)
		exit(1);
	ev_now_update(loop);
	t0_ms = now_ms();
	for (i = 0; i < n_cl; i++) {
		double at = spread_s * (double)i / (double)n_cl;

		cl[i].intro_on = true;
		if (at == 0) {
			send_request(&cl[i]);
			arm_retry(&cl[i], cl[i].backoff_s * jitter());
			cl[i].backoff_s = 1.5;
		} else {
			arm_retry(&cl[i], at);
		}
	}
	phase = 1;
	run_for(timeout_s);
	for (i = 0; i < n_cl; i++) {
		if (cl[i].has_sess)
			up[nu++] = cl[i].up_ms;
		if (cl[i].state == 2)
			first[nf++] = cl[i].first_ms;
	}
	fprintf(out, "clients %zu\narrival_ms %.0f\nup %zu\nfirst %zu\nrequests %" PRIu64 "\n", n_cl,
	       spread_s * 1000, nu, nf, total_requests);
	print_pcts("up_ms", up, nu);
	fprintf(out, "last_up_ms %" PRId64 "\n", nu ? up[nu - 1] : -1);
	print_pcts("first_ms", first, nf);
	fflush(out);
	free(up);
	free(first);
}

static void soak(long srv_pid)
{
	double soak_s = env_num("BENCH_SOAK", 600), ping_s = env_num("BENCH_PING_INTERVAL", 60);
	size_t sample = (size_t)env_num("BENCH_PING_SAMPLE", 0), i, lost = 0, silent = 0, ping_lost = 0;
	double c0 = self_cpu_s(), s0 = proc_cpu_s(srv_pid), w0 = ev_time(), w1;
	ev_timer rounds;
	char pid[24];

	ping_stride = sample && sample < n_cl ? n_cl / sample : 1;
	phase = 2;
	ping_round = 0;
	ping_cursor = n_cl; /* the first round at the first interval */
	ev_timer_init(&rounds, ping_round_cb, ping_s, ping_s);
	ev_timer_start(loop, &rounds);
	run_for(soak_s);
	ev_timer_stop(loop, &rounds);
	/* The last round's answers, then its verdict. */
	phase = 0;
	run_for(fmin(5.0, ping_s / 2));
	w1 = ev_time();
	for (i = 0; i < n_cl; i += ping_stride)
		if (cl[i].pinged && cl[i].ping_ans != cl[i].ping_sent && cl[i].misses + 1 >= 2)
			cl[i].lost = true;
	for (i = 0; i < n_cl; i++) {
		struct bc *c = &cl[i];

		if (c->state == 2 && now_ms() - c->last_rx_ms > SILENCE_MS && !c->lost) {
			c->lost = true;
			silent++;
		}
		if (c->lost) {
			lost++;
			ping_lost += c->pinged;
		}
	}
	snprintf(pid, sizeof(pid), "%ld", srv_pid);
	fprintf(out, "soak_clients %zu\nping_sample %zu\nping_interval_s %.0f\npings_sent %" PRIu64
	       "\npings_answered %" PRIu64 "\nkeepalives %" PRIu64 "\nkeepalives_answered %" PRIu64
	       "\nlost %zu\nlost_ping %zu\nlost_silent %zu\n",
	       n_first, (n_cl + ping_stride - 1) / ping_stride, ping_s, pings_sent, pings_answered,
	       ka_sent, ka_answered, lost, ping_lost, silent);
	fprintf(out, "rx_auth %" PRIu64 "\nrx_bad %" PRIu64 "\ntx_errors %" PRIu64 "\nno_socket %" PRIu64 "\n",
	       rx_auth, rx_bad, tx_errors, no_sock);
	print_cpu("server_cpu_pct", s0, proc_cpu_s(srv_pid), w1 - w0);
	fprintf(out, "server_rss_kib %ld\n", srv_pid > 0 ? proc_kib(pid, "VmRSS") : -1L);
	print_cpu("gen_cpu_pct", c0, self_cpu_s(), w1 - w0);
	fprintf(out, "gen_rss_mib %ld\n", proc_kib("self", "VmHWM") / 1024);
	fprintf(out, "soak_s %.0f\n", w1 - w0);
	fflush(out);
}

static void storm(long srv_pid)
{
	double wait_s = env_num("BENCH_STORM_WAIT", 120), to_s = env_num("BENCH_STORM_TIMEOUT", 60);
	int64_t *up = calloc(n_cl + 1, sizeof(*up)), *first = calloc(n_cl + 1, sizeof(*first)), last;
	size_t i, nu = 0, nf = 0;
	double s0, g0, w0;
	ev_timer poll;

	if (!up || !first)
		exit(1);
	phase = 3;
	ev_timer_init(&poll, intro_poll_cb, 0.1, 0.1);
	ev_timer_start(loop, &poll);
	run_for(wait_s);
	ev_timer_stop(loop, &poll);
	if (phase != 4) {
		fprintf(out, "storm_seen 0\n");
		free(up);
		free(first);
		return;
	}
	s0 = proc_cpu_s(srv_pid);
	g0 = self_cpu_s();
	w0 = ev_time();
	if (n_storm)
		run_for(to_s);
	for (i = 0; i < n_cl; i++) {
		if (!cl[i].storm)
			continue;
		if (cl[i].intro_on) /* still on its old session */
			continue;
		up[nu++] = cl[i].storm_up_ms;
		if (cl[i].state == 2)
			first[nf++] = cl[i].storm_first_ms;
	}
	fprintf(out, "storm_seen 1\nstorm_clients %zu\nstorm_jitter_ms %.0f\nstorm_up %zu\nstorm_first %zu\n",
	       n_storm, env_num("BENCH_STORM_JITTER_MS", 2000), nu, nf);
	print_cpu("storm_server_cpu_pct", s0, proc_cpu_s(srv_pid), ev_time() - w0);
	print_cpu("storm_gen_cpu_pct", g0, self_cpu_s(), ev_time() - w0);
	print_pcts("storm_up_ms", up, nu);
	last = nu ? up[nu - 1] : -1;
	fprintf(out, "storm_last_up_ms %" PRId64 "\nstorm_rate %.1f\n", last, last > 0 ? nu * 1000.0 / last : 0);
	print_pcts("storm_first_ms", first, nf);
	fflush(out);
	free(up);
	free(first);
}

/* Phases' results of a child go to <split_dir>/<phase>.<k>, written under
 * another name and renamed when whole. */
static char split_dir[64], phase_tmp[96];
static unsigned child_k;

static void phase_open(const char *ph)
{
	if (!is_child)
		return;
	snprintf(phase_tmp, sizeof(phase_tmp), "%s/.%s.%u", split_dir, ph, child_k);
	out = fopen(phase_tmp, "w");
	if (!out)
		exit(1);
}

static void phase_close(const char *ph)
{
	char path[96];

	if (!is_child)
		return;
	fclose(out);
	snprintf(path, sizeof(path), "%s/%s.%u", split_dir, ph, child_k);
	rename(phase_tmp, path);
	out = stdout;
}

/* Waits until every child's file of a ph is there (or the deadline, or
 * a child gone); returns how many there are. */
static unsigned phase_wait(const char *ph, unsigned procs, double deadline_s, bool any)
{
	double end = ev_time() + deadline_s;
	unsigned k, n;

	for (;;) {
		char path[96];
		struct stat st;

		for (k = n = 0; k < procs; k++) {
			snprintf(path, sizeof(path), "%s/%s.%u", split_dir, ph, k);
			n += stat(path, &st) == 0;
		}
		/* A child that died without its file costs the deadline. */
		if (n == procs || (any && n) || ev_time() > end)
			return n;
		usleep(100000);
	}
}

struct merged {
	char key[48];
	double v;
	int64_t *raw;
	size_t n_raw;
};

/* The children's results of a ph, merged: counts summed (and the
 * generator's CPU shares, of processes running side by side), the latest
 * time, the percentiles again from every value; then ours. */
static void phase_merge(const char *ph, unsigned procs)
{
	static const char *const sums[] = { "clients", "up", "first", "requests", "soak_clients",
		"ping_sample", "pings_sent", "pings_answered", "keepalives", "keepalives_answered", "lost",
		"lost_ping", "lost_silent", "rx_auth", "rx_bad", "tx_errors", "no_socket", "gen_cpu_pct",
		"gen_rss_mib", "storm_clients", "storm_up", "storm_first", "storm_gen_cpu_pct", NULL };
	static const char *const p1[] = { "up_ms", "first_ms", NULL }, *const p2[] = { NULL },
				 *const p3[] = { "storm_up_ms", "storm_first_ms", NULL };
	const char *const *pcts = *ph == '1' ? p1 : *ph == '3' ? p3 : p2;
	struct merged m[64];
	size_t nm = 0, i;
	unsigned k;

	memset(m, 0, sizeof(m));
	for (k = 0; k < procs; k++) {
		char path[96], line[128], key[48], val[48];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.%u", split_dir, ph, k);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			bool raw, sum = false;
			size_t j;

			if (sscanf(line, "%47s %47s", key, val) != 2 || strstr(key, "_p50") ||
			    strstr(key, "_p95") || strstr(key, "_p99") || !strncmp(key, "server_", 7) ||
			    !strncmp(key, "storm_server_", 13) || !strcmp(key, "storm_rate"))
				continue;
			raw = !strncmp(key, "r_", 2);
			for (i = 0; i < nm && strcmp(m[i].key, key + (raw ? 2 : 0)); i++)
				;
			if (i == nm) {
				if (nm == 64)
					continue;
				snprintf(m[nm].key, sizeof(m[nm].key), "%s", key + (raw ? 2 : 0));
				m[nm].v = raw ? 0 : atof(val);
				nm++;
				if (!raw)
					continue;
			}
			if (raw) {
				int64_t *r = realloc(m[i].raw, (m[i].n_raw + 1) * sizeof(*r));

				if (!r)
					exit(1);
				m[i].raw = r;
				r[m[i].n_raw++] = strtoll(val, NULL, 10);
				continue;
			}
			for (j = 0; sums[j]; j++)
				sum |= !strcmp(sums[j], key);
			if (sum)
				m[i].v += atof(val);
			else if (strstr(key, "last") || !strcmp(key, "soak_s"))
				m[i].v = fmax(m[i].v, atof(val));
		}
		if (f)
			fclose(f);
		unlink(path);
	}
	for (i = 0; i < nm; i++) {
		if (m[i].raw)
			continue;
		if (strstr(m[i].key, "cpu_pct"))
			printf("%s %.2f\n", m[i].key, m[i].v);
		else
			printf("%s %.0f\n", m[i].key, m[i].v);
		if (!strcmp(m[i].key, "storm_up"))
			storm_up_total = m[i].v;
		if (!strcmp(m[i].key, "storm_last_up_ms") && m[i].v > 0)
			printf("storm_rate %.1f\n", storm_up_total * 1000.0 / m[i].v);
	}
	/* The percentiles last, whether any child had a value or not. */
	for (k = 0; pcts[k]; k++) {
		for (i = 0; i < nm && strcmp(m[i].key, pcts[k]); i++)
			;
		print_pcts(pcts[k], i < nm ? m[i].raw : NULL, i < nm ? m[i].n_raw : 0);
	}
	for (i = 0; i < nm; i++)
		free(m[i].raw);
}

/* No process here may hold more descriptors than RLIMIT_NOFILE allows (a
 * container without CAP_SYS_RESOURCE cannot raise its hard limit): the
 * clients are then shared among several processes, each its own slice of
 * ids, whose results this parent merges into one set. */
static int run_split(unsigned procs, double timeout_s, long srv_pid, uint32_t first_id)
{
	double soak_s = env_num("BENCH_SOAK", 600), s0 = 0, w0 = 0;
	size_t total = n_cl;
	unsigned k;
	char pid[24];

	snprintf(split_dir, sizeof(split_dir), "/tmp/bench_sessions.XXXXXX");
	if (!mkdtemp(split_dir))
		return 1;
	for (k = 0; k < procs; k++) {
		size_t lo = total * k / procs, hi = total * (k + 1) / procs;
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			is_child = true;
			child_k = k;
			n_cl = hi - lo;
			return -(int)(first_id + lo) - 1; /* go on as a child */
		}
	}
	out = stdout;
	snprintf(pid, sizeof(pid), "%ld", srv_pid);
	printf("procs %u\n", procs);
	phase_wait("1", procs, timeout_s + 120, false);
	phase_merge("1", procs);
	fflush(stdout);
	if (soak_s > 0) {
		s0 = proc_cpu_s(srv_pid);
		w0 = ev_time();
		/* The server over the soak: until the first child ends its own. */
		phase_wait("2", procs, soak_s + 120, true);
		print_cpu("server_cpu_pct", s0, proc_cpu_s(srv_pid), ev_time() - w0);
		printf("server_rss_kib %ld\n", srv_pid > 0 ? proc_kib(pid, "VmRSS") : -1L);
		phase_wait("2", procs, 120, false);
		phase_merge("2", procs);
		fflush(stdout);
	}
	if (env_num("BENCH_STORM", 1) > 0) {
		struct stat st;
		double end = ev_time() + env_num("BENCH_STORM_WAIT", 120);

		while (ev_time() < end && stat(intro_path, &st) == 0 &&
		       st.st_mtim.tv_sec == intro_st.st_mtim.tv_sec &&
		       st.st_mtim.tv_nsec == intro_st.st_mtim.tv_nsec && st.st_ino == intro_st.st_ino)
			usleep(100000);
		s0 = proc_cpu_s(srv_pid);
		w0 = ev_time();
		phase_wait("3", procs, env_num("BENCH_STORM_WAIT", 120) + env_num("BENCH_STORM_TIMEOUT", 60) + 120,
			   false);
		print_cpu("storm_server_cpu_pct", s0, proc_cpu_s(srv_pid), ev_time() - w0);
		phase_merge("3", procs);
	}
	rmdir(split_dir);
	printf("end 1\n");
	fflush(stdout);
	if (getenv("BENCH_SESSIONS_HOLD"))
		pause();
	return 0;
}

static int run(char **argv, int argc, const uint8_t seed[32], uint32_t first_id)
{
	char b64[128] = "";
	FILE *f = fopen(argv[5], "r");
	struct rlimit rl;
	double timeout_s = argc > 8 ? atof(argv[8]) : 300;
	long srv_pid = (long)env_num("BENCH_SERVER_PID", 0);
	unsigned procs = (unsigned)env_num("BENCH_GEN_PROCS", 0);
	ev_timer tick;
	size_t i;

	out = stdout;
	if (!f || !fgets(b64, sizeof(b64), f)) {
		fprintf(stderr, "reading %s\n", argv[5]);
		return 1;
	}
	fclose(f);
	b64[strcspn(b64, "\r\n")] = '\0';
	intro_path = argv[6];
	if (keys_from_base64(server_pub, b64) < 0 || stat(intro_path, &intro_st) < 0 ||
	    read_intro(intro_path) < 0 || inet_pton(AF_INET6, argv[7], &prefix) != 1) {
		fprintf(stderr, "bad server key, intro file or prefix\n");
		return 1;
	}
	/* 4 descriptors per client (an introduction socket, 3 slot sockets)
	 * and a few of our own: the limit raised as far as we may, then as
	 * many processes as that needs. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * n_cl + 64) {
		rl.rlim_cur = 4 * n_cl + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1;
	if (!procs)
		procs = (unsigned)((4 * n_cl + 64 + rl.rlim_cur - 129) / (rl.rlim_cur - 128));
	if (procs > 1) {
		int rc = run_split(procs, timeout_s, srv_pid, first_id);

		if (rc >= 0)
			return rc;
		first_id = (uint32_t)(-rc - 1);
	}
	intro_slot_key(intro_slot_key_, intro_key);
	loop = ev_default_loop(EVBACKEND_EPOLL);
	cl = calloc(n_cl, sizeof(*cl));
	if (!cl)
		return 1;
	/* Keys and seeds first, so that the start is one instant. */
	for (i = 0; i < n_cl; i++) {
		struct bc *c = &cl[i];

		c->id = first_id + (uint32_t)i;
		derive_key(c->priv, seed, c->id);
		keys_public_from_private(c->pub, c->priv);
		if (keys_shared_secret(c->s, c->priv, server_pub) < 0)
			return 1;
		c->kgen = 0;
		intro_keys(c);
		c->fd_intro = c->fd_sess[0] = c->fd_sess[1] = c->fd_sess[2] = -1;
		c->backoff_s = 1.0;
		ev_init(&c->retry, retry_cb);
	}
	ev_timer_init(&tick, tick_cb, TICK_S, TICK_S);
	ev_timer_start(loop, &tick);
	phase_open("1");
	arrival(timeout_s);
	phase_close("1");
	if (env_num("BENCH_SOAK", 600) > 0) {
		phase_open("2");
		soak(srv_pid);
		phase_close("2");
	}
	if (env_num("BENCH_STORM", 1) > 0) {
		phase_open("3");
		storm(srv_pid);
		phase_close("3");
	}
	if (!is_child) {
		printf("end 1\n");
		fflush(stdout);
	}
	/* The sessions stay on the server until its idle timeout: the
	 * caller measures them, then ends this process (and its children,
	 * PR_SET_PDEATHSIG). */
	if (getenv("BENCH_SESSIONS_HOLD"))
		pause();
	return 0;
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
	if (strcmp(argv[1], "run") || argc < 8 || !n_cl || n_cl > 65536)
		return 2;
	return run(argv, argc, seed, first_id);
}
