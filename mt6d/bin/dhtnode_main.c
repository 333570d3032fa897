/* mt6d-dhtnode: a standalone Mainline DHT node (dht/) on one UDP socket, for
 * labs and bootstrapping, and a one-shot client for tests (--announce,
 * --collect). The socket and timers are mt6d/engine/dhtev.c's; signal watchers
 * only stop the loop or print.
 *
 *   mt6d-dhtnode [-l ADDR] [-p PORT] [-b HOST:PORT,...|none] [-s STATEFILE]
 *                [-e ADDR] [-v]
 *                [--announce IH:PORT,PORT,...]... [--collect IH]...
 *                [--get-peers IH]... [--wait-ms MS] [--timeout-ms MS] [--status]
 *                [--rounds N] [--sequential]
 *
 * Without -b the public routers of DHT_DEFAULT_BOOTSTRAP are used; "-b none"
 * starts a node with no bootstrap (the first node of a private swarm).
 * Client mode prints one line per operation ("announce IH status S tokens N
 * acked A of B queries Q ms T", "collect IH status S nodes N values V
 * queries Q ms T PORT,...", "get_peers ..." likewise), "stored IH NODE N"
 * per node an announce reached and "node IH NODE N PORT,..." per node a
 * collection heard from. Its options are its own (-s is the state file, no
 * config, no control socket), so it shares the daemons' signal handling
 * (mt6d/daemon/daemon.h) but not their skeleton.
 * SIGUSR1 prints the id, a routing-table summary and storage counts to
 * stdout; SIGINT/SIGTERM save the state file (if any) and exit. */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/base/clock.h"
#include "mt6d/base/log.h"
#include "mt6d/core/util.h"
#include "mt6d/daemon/daemon.h"
#include "mt6d/engine/dhtev.h"

#define MAX_JOBS 512
#define STARTUP_MAX_MS 20000   /* client mode: start ops by then even if the table is thin */

enum job_kind { JOB_ANNOUNCE = 1, JOB_COLLECT, JOB_GET_PEERS };

struct job {
	enum job_kind kind;
	uint8_t ih[DHT_ID_LEN];
	uint16_t ports[DHT_MAX_PORTS];
	size_t n_ports;
	bool is_started, is_done;
	int64_t started_ms;
	struct node *node;
};

struct node {
	struct ev_loop *loop;
	struct daemon_signals signals;  /* SIGINT, SIGTERM: save and exit; SIGHUP ignored */
	ev_signal sig_usr1;
	struct dhtev *ev;
	int family;
	struct dht *dht;
	const char *state_path;
	struct job jobs[MAX_JOBS];
	size_t n_jobs;
	int64_t started_ms, wait_ms, timeout_ms;
	unsigned rounds, round;        /* client mode: run the job list this often */
	bool is_client, is_status_at_exit, is_sequential, is_wake_due;
	int exit_code;
};

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) < 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return s[2 * n] == 0 || s[2 * n] == ':' ? 0 : -EINVAL;
}

static void peer_str(const struct dht_peer *p, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(out, len, p->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, p->port);
}

/* --- Status and state ---------------------------------------------------- */

static void print_status(struct node *n)
{
	struct dht_stats st;
	char id[2 * DHT_ID_LEN + 1];
	dht_get_stats(n->dht, mono_now_ms(), &st);
	hex(st.id, DHT_ID_LEN, id);
	printf("id %s\n", id);
	printf("routing ipv4 good %zu questionable %zu bad %zu buckets %zu\n",
	       st.good4, st.questionable4, st.bad4, st.buckets4);
	printf("routing ipv6 good %zu questionable %zu bad %zu buckets %zu\n",
	       st.good6, st.questionable6, st.bad6, st.buckets6);
	printf("storage infohashes %zu peers %zu items %zu refused %" PRIu64 "\n",
	       st.stored_hashes, st.stored_peers, st.stored_items, st.store_refused);
	printf("traffic rx %" PRIu64 " malformed %" PRIu64 " rate_limited %" PRIu64
	       " bad_token %" PRIu64 " tx %" PRIu64 " tx_errors %" PRIu64 " timeouts %" PRIu64
	       " ops %zu\n", st.rx, st.rx_malformed, st.rx_rate_limited, st.rx_bad_token,
	       st.tx, st.tx_errors, st.queries_timed_out, st.ops_active);
	fflush(stdout);
}

static int save_state(struct node *n)
{
	static uint8_t buf[DHT_STATE_MAX_LEN];
	char tmp[4096];
	int len = dht_save(n->dht, mono_now_ms(), buf, sizeof(buf));
	if (len < 0)
		return len;
	snprintf(tmp, sizeof(tmp), "%s.tmp", n->state_path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, buf, (size_t)len);
	int rc = w == len ? 0 : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, n->state_path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int load_state(const char *path, uint8_t *buf, size_t cap, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, buf, cap);
	int rc = r < 0 ? -errno : 0;
	close(fd);
	if (rc == 0)
		*len_out = (size_t)r;
	return rc;
}

/* --- Jobs (client mode) ---------------------------------------------------- */

/* Client mode, from the timer: when every job of the round is done, the
 * next round starts, or the loop ends after the last. Results only mark jobs
 * done (and wake the timer): new operations never start inside a dht
 * callback. */
static bool is_round_over(const struct node *n)
{
	for (size_t i = 0; i < n->n_jobs; i++)
		if (!n->jobs[i].is_done)
			return false;
	return true;
}

static void on_result(void *closure, const struct dht_result *r)
{
	struct job *j = closure;
	char ih[2 * DHT_ID_LEN + 1], s[64];
	int64_t took_ms = mono_now_ms() - j->started_ms;
	hex(r->target, DHT_ID_LEN, ih);
	if (r->event == DHT_EVENT_STORED) {
		peer_str(&r->node->addr, s, sizeof(s));
		printf("stored %s %s %zu\n", ih, s, r->n_announced);
		fflush(stdout);
		return;
	}
	if (r->event == DHT_EVENT_VALUES) {
		peer_str(&r->node->addr, s, sizeof(s));
		printf("node %s %s %zu", ih, s, r->n_peers);
		for (size_t i = 0; i < r->n_peers; i++)
			printf("%c%u", i ? ',' : ' ', r->peers[i].port);
		printf("\n");
		fflush(stdout);
		return;
	}
	if (j->kind == JOB_ANNOUNCE) {
		printf("announce %s status %d tokens %zu acked %zu of %zu queries %zu ms %" PRId64 "\n",
		       ih, r->status, r->n_tokens, r->n_announced, r->n_tokens * j->n_ports,
		       r->n_queries, took_ms);
	} else {
		printf("%s %s status %d nodes %zu values %zu queries %zu ms %" PRId64,
		       j->kind == JOB_COLLECT ? "collect" : "get_peers", ih, r->status,
		       r->n_nodes, r->n_peers, r->n_queries, took_ms);
		for (size_t i = 0; i < r->n_peers; i++)
			printf("%c%u", i ? ',' : ' ', r->peers[i].port);
		printf("\n");
		for (size_t i = 0; i < r->n_peers; i++) {
			peer_str(&r->peers[i], s, sizeof(s));
			printf("peer %s %s\n", ih, s);
		}
	}
	if (r->status != 0)
		j->node->exit_code = 1;
	fflush(stdout);
	j->is_done = true;
	j->node->is_wake_due = true;
}

static void start_jobs(struct node *n, int64_t t)
{
	struct dht_stats st;
	dht_get_stats(n->dht, t, &st);
	size_t good = n->family == AF_INET ? st.good4 : st.good6;
	int64_t elapsed = t - n->started_ms;
	if (elapsed < n->wait_ms || (good < DHT_K && elapsed < STARTUP_MAX_MS))
		return;
	for (size_t i = 0; i < n->n_jobs; i++) {
		struct job *j = &n->jobs[i];
		int rc;
		if (j->is_started && !j->is_done && n->is_sequential)
			return;
		if (j->is_started)
			continue;
		j->is_started = true;
		j->started_ms = t;
		if (j->kind == JOB_ANNOUNCE)
			rc = dht_announce(n->dht, j->ih, n->family, j->ports, j->n_ports, on_result, j, t);
		else if (j->kind == JOB_COLLECT)
			rc = dht_collect(n->dht, j->ih, n->family, on_result, j, t);
		else
			rc = dht_get_peers(n->dht, j->ih, n->family, on_result, j, t);
		if (rc < 0) {
			log_err(rc, "starting operation %zu", i);
			j->is_done = true;
			n->exit_code = 1;
			n->is_wake_due = true;
			continue;
		}
		if (n->is_sequential)
			return;
	}
}

/* --- libev callbacks --------------------------------------------------------- */

/* Client mode: start the jobs once the table is ready, enforce the timeout. */
static int64_t on_tick(void *ctx, int64_t t)
{
	struct node *n = ctx;
	if (!n->is_client)
		return INT64_MAX;
	n->is_wake_due = false;
	if (is_round_over(n)) {
		if (++n->round >= n->rounds) {
			ev_break(n->loop, EVBREAK_ALL);
			return INT64_MAX;
		}
		for (size_t i = 0; i < n->n_jobs; i++)
			n->jobs[i].is_started = n->jobs[i].is_done = false;
	}
	start_jobs(n, t);
	if (n->timeout_ms && t - n->started_ms > n->timeout_ms) {
		log_warnx("client operations timed out after %" PRId64 " ms", n->timeout_ms);
		n->exit_code = 1;
		ev_break(n->loop, EVBREAK_ALL);
		return INT64_MAX;
	}
	/* A result marked a job done: come back at once for the next one. */
	return n->is_wake_due ? t : t + 100;
}

static void on_stop(struct ev_loop *loop, void *ctx)
{
	(void)ctx;
	ev_break(loop, EVBREAK_ALL);
}

static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct node *n = container_of(w, struct node, sig_usr1);
	(void)loop;
	(void)revents;
	print_status(n);
}

/* --- Set-up ---------------------------------------------------------------- */

static int add_job(struct node *n, enum job_kind kind, const char *arg)
{
	if (n->n_jobs >= MAX_JOBS)
		return -ENOSPC;
	struct job *j = &n->jobs[n->n_jobs];
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->node = n;
	if (unhex(arg, j->ih, DHT_ID_LEN) < 0)
		return -EINVAL;
	if (kind == JOB_ANNOUNCE) {
		const char *p = arg + 2 * DHT_ID_LEN;
		if (*p != ':')
			return -EINVAL;
		p++;
		while (*p) {
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (end == p || v == 0 || v > 65535 || j->n_ports >= DHT_MAX_PORTS)
				return -EINVAL;
			j->ports[j->n_ports++] = (uint16_t)v;
			p = *end == ',' ? end + 1 : end;
			if (*end && *end != ',')
				return -EINVAL;
		}
		if (!j->n_ports)
			return -EINVAL;
	}
	n->n_jobs++;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mt6d-dhtnode [-l ADDR] [-p PORT] [-b HOST:PORT,...|none] [-s STATEFILE]\n"
		"                    [-e ADDR] [-v]\n"
		"                    [--announce IH:PORT,...] [--collect IH] [--get-peers IH]\n"
		"                    [--wait-ms MS] [--timeout-ms MS] [--rounds N] [--sequential]\n"
		"                    [--status]\n"
		"  -l ADDR     listen address (default ::)\n"
		"  -p PORT     UDP port (default 6881)\n"
		"  -b LIST     bootstrap nodes, host:port or [v6]:port, comma-separated;\n"
		"              'none' for none; default %s\n"
		"  -s FILE     state file: id and nodes, loaded at start, saved on exit\n"
		"  -e ADDR     our address as other nodes see it, for a BEP 42 node id\n"
		"              (default: the listen address unless it is :: or 0.0.0.0)\n"
		"  --announce IH:PORTS  announce ports under the 40-hex-digit info_hash, exit when done\n"
		"  --collect IH         collect every value under IH, print them, exit\n"
		"  --get-peers IH       one get_peers lookup, print values, exit\n"
		"  --wait-ms MS         client mode: wait at least MS before the operations\n"
		"  --timeout-ms MS      client mode: give up after MS (exit 1)\n"
		"  --rounds N           client mode: run the list of operations N times\n"
		"  --sequential         client mode: one operation at a time, in order\n"
		"  --status             print the status on exit\n"
		"SIGUSR1 prints id, routing table and storage; SIGINT/SIGTERM save and exit.\n",
		DHT_DEFAULT_BOOTSTRAP);
}

int main(int argc, char **argv)
{
	static struct node n;
	static uint8_t state[DHT_STATE_MAX_LEN];
	const char *listen_addr = "::", *boot = NULL, *external = NULL;
	unsigned long port = 6881;
	int verbosity = 0, c;
	static const struct option longopts[] = {
		{ "announce", required_argument, NULL, 'A' },
		{ "collect", required_argument, NULL, 'C' },
		{ "get-peers", required_argument, NULL, 'G' },
		{ "wait-ms", required_argument, NULL, 'W' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "status", no_argument, NULL, 'S' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "sequential", no_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	log_init("mt6d-dhtnode", true, 0);
	while ((c = getopt_long(argc, argv, "l:p:b:s:e:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			if (port == 0 || port > 65535)
				fatal(-EINVAL, "port '%s'", optarg);
			break;
		case 'b': boot = optarg; break;
		case 's': n.state_path = optarg; break;
		case 'e': external = optarg; break;
		case 'v': verbosity++; break;
		case 'A':
			if (add_job(&n, JOB_ANNOUNCE, optarg) < 0)
				fatal(-EINVAL, "--announce '%s' (want 40 hex digits:port,port,...)", optarg);
			break;
		case 'C':
			if (add_job(&n, JOB_COLLECT, optarg) < 0)
				fatal(-EINVAL, "--collect '%s'", optarg);
			break;
		case 'G':
			if (add_job(&n, JOB_GET_PEERS, optarg) < 0)
				fatal(-EINVAL, "--get-peers '%s'", optarg);
			break;
		case 'W': n.wait_ms = strtoll(optarg, NULL, 10); break;
		case 'T': n.timeout_ms = strtoll(optarg, NULL, 10); break;
		case 'S': n.is_status_at_exit = true; break;
		case 'R':
			n.rounds = (unsigned)strtoul(optarg, NULL, 10);
			if (n.rounds == 0 || n.rounds > 100000)
				fatal(-EINVAL, "--rounds '%s'", optarg);
			break;
		case 'Q': n.is_sequential = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("mt6d-dhtnode", true, verbosity);
	if (sodium_init() < 0)
		fatal(-EIO, "initialising libsodium");
	/* issue 13: as every daemon, nothing of its memory in a core dump. */
	{
		char why[160];

		if (daemon_protect_memory(why, sizeof(why)) < 0)
			log_debug("%s", why);
	}
	n.is_client = n.n_jobs > 0;
	if (!n.rounds)
		n.rounds = 1;

	struct dht_config cfg = { 0 };
	/* A one-shot client leaves soon: BEP 43 keeps it out of others' tables. */
	cfg.is_read_only = n.is_client;
	/* BEP 42: an id derived from the address others see (-e, else the
	 * listen address when it is a specific one). */
	struct sockaddr_storage ext_ss;
	memset(&ext_ss, 0, sizeof(ext_ss));
	const char *ext_str = external ? external : listen_addr;
	struct sockaddr_in6 *e6 = (struct sockaddr_in6 *)&ext_ss;
	struct sockaddr_in *e4 = (struct sockaddr_in *)&ext_ss;
	if (inet_pton(AF_INET6, ext_str, &e6->sin6_addr) == 1 &&
	    !IN6_IS_ADDR_UNSPECIFIED(&e6->sin6_addr)) {
		e6->sin6_family = AF_INET6;
		cfg.external = (struct sockaddr *)&ext_ss;
		cfg.external_len = sizeof(*e6);
	} else if (inet_pton(AF_INET, ext_str, &e4->sin_addr) == 1 &&
		   e4->sin_addr.s_addr != htonl(INADDR_ANY)) {
		e4->sin_family = AF_INET;
		cfg.external = (struct sockaddr *)&ext_ss;
		cfg.external_len = sizeof(*e4);
	} else if (external) {
		fatal(-EINVAL, "external address '%s'", external);
	}
	size_t state_len = 0;
	if (n.state_path) {
		int rc = load_state(n.state_path, state, sizeof(state), &state_len);
		if (rc == 0) {
			cfg.state = state;
			cfg.state_len = state_len;
		} else if (rc != -ENOENT) {
			fatal(rc, "reading state file '%s'", n.state_path);
		}
	}
	char msg[256];
	n.loop = ev_default_loop(EVFLAG_AUTO);
	int rc = dhtev_new(n.loop, listen_addr, (uint16_t)port, &cfg, &n.ev, msg, sizeof(msg));
	if (rc == -EINVAL && cfg.state) {
		log_warnx("state file '%s' is not valid, starting afresh", n.state_path);
		cfg.state = NULL;
		rc = dhtev_new(n.loop, listen_addr, (uint16_t)port, &cfg, &n.ev, msg, sizeof(msg));
	}
	if (rc < 0)
		fatal(rc, "%s", msg);
	n.dht = dhtev_dht(n.ev);
	n.family = dhtev_family(n.ev);
	int64_t t = mono_now_ms();
	n.started_ms = t;

	if (!boot)
		boot = DHT_DEFAULT_BOOTSTRAP;
	if (strcmp(boot, "none") != 0) {
		rc = dhtev_add_bootstrap(n.ev, boot, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "%s", msg);
	}

	dhtev_set_hook(n.ev, on_tick, &n);
	n.signals.on_stop = on_stop;
	n.signals.ctx = &n;
	daemon_signals_start(n.loop, &n.signals);
	ev_signal_init(&n.sig_usr1, on_usr1, SIGUSR1);
	ev_signal_start(n.loop, &n.sig_usr1);
	char idhex[2 * DHT_ID_LEN + 1];
	struct dht_stats st;
	dht_get_stats(n.dht, t, &st);
	hex(st.id, DHT_ID_LEN, idhex);
	log_info("node %s listening on %s port %lu", idhex, listen_addr, port);

	ev_run(n.loop, 0);

	if (n.is_status_at_exit)
		print_status(&n);
	if (n.state_path) {
		rc = save_state(&n);
		if (rc < 0)
			log_err(rc, "saving state file '%s'", n.state_path);
	}
	dhtev_free(n.ev);
	return n.exit_code;
}
