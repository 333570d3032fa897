#include "mt6d/engine/client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sodium.h>

#include "mt6d/core/config.h"
#include "mt6d/core/derive.h"
#include "mt6d/engine/dhtev.h"
#include "mt6d/engine/fetch.h"
#include "mt6d/engine/guard.h"
#include "mt6d/engine/inner.h"
#include "mt6d/core/intro.h"
#include "mt6d/core/keys.h"
#include "mt6d/base/log.h"
#include "mt6d/core/msg.h"
#include "mt6d/core/rendezvous.h"
#include "mt6d/core/rotate.h"
#include "mt6d/engine/tunnel.h"
#include "mt6d/core/wire.h"
#include "netlink/nladdr.h"
#include "netlink/nllink.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define CLIENT_NETLINK_TIMEOUT_MS 5000
#define CLIENT_TICK_S 1.0
#define CLIENT_CLOSE_DELAY_S 0.25
#define CLIENT_FETCH_TIMEOUT_MS 30000
#define CLIENT_FETCH_RETRY_MIN_S 2.0
#define CLIENT_FETCH_RETRY_MAX_S 60.0
#define CLIENT_FETCH_AFTER_BOUNDARY_S 2.0 /* the next window's config is out before it starts */
/* Between a new introduction tunnel and its first request. The kernel joins
 * the solicited-node group of a new address (and clears its tentative flag)
 * in a work item a little after the add: a response that comes back before
 * that finds the first neighbour solicitation of the router unanswered and
 * waits for its retransmission, 1 s later (measured in the lab: half of the
 * changes of K took 1.1 s instead of a few ms; 50 ms was not always enough
 * on a loaded machine). Free on a new K: the session carries traffic
 * meanwhile. */
#define CLIENT_FIRST_REQUEST_DELAY_S 0.2
/* A rotation change names an instant within this of our clock (the
 * server's lead is a few seconds; farther is a stale or skewed message). */
#define CLIENT_ROTATION_SKEW_MS 60000

enum client_state {
	CLIENT_WAITING,   /* no introduction config yet */
	CLIENT_INTRO,     /* introduction tunnel up, requesting */
	CLIENT_SESSION,   /* session tunnel up */
};

/* What the server publishes (the config message's fields). */
struct intro_config {
	struct in6_addr server_seed;      /* SeedIPv6_S */
	uint8_t key[INTRO_KEY_LEN];       /* K (secret) */
	uint32_t rotation_ms;
	uint32_t period_s;
};

struct client {
	struct ev_loop *loop;
	char config_path[CONFIG_PATH_LEN];
	struct config cfg;
	struct client_options opt;
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	uint8_t s[MT6D_KEY_LEN];          /* shared secret with the server (secret) */
	struct nladdr *nladdr;
	struct nllink *nllink;
	struct guard *guard;             /* silent to probes, fail closed (guard.h) */
	ev_io nladdr_io;
	unsigned link_ifindex, link_mtu;
	struct in6_addr prefix;           /* our /64, as last seen on Interface */
	int raw_fd;
	ev_io raw_io;

	enum client_state state;
	bool has_intro;
	struct intro_config intro;
	ev_tstamp intro_changed_at;
	uint8_t c_iid[INTRO_IID_LEN];
	struct in6_addr own_seed;         /* prefix || C_IID */
	struct tunnel *tunnel;            /* introduction or session tunnel */
	char tun_name[CONFIG_IFNAME_LEN]; /* kept across tunnels once the kernel named it */
	/* Make-before-break: while a session is up and a new one is being
	 * established (new K), the introduction runs on a second TUN and the
	 * session keeps carrying traffic until the response arrives. */
	struct tunnel *renew_tunnel;
	struct in6_addr session_seed;     /* own seed of the session tunnel */

	struct msg_handshake hs;          /* the latest request (secret) */
	ev_timer retry;
	double backoff_s;
	unsigned attempts;                /* requests since the introduction started */
	bool first_request_due;           /* the retry timer sends the first request */
	uint64_t requests_sent;

	struct msg_session_keys keys;     /* secret */
	struct in6_addr server_tunnel, client_tunnel, server_session_seed;
	uint32_t session_rotation_ms;     /* Rot of the session, or the one it changes to */
	uint64_t rotation_at_ms;          /* instant of the latest rotation change told */
	uint64_t rotation_changes;
	ev_tstamp session_started_at, last_rx_at, last_keepalive_at, last_prefix_check_at;
	uint64_t last_rx_packets;
	uint64_t sessions, teardowns_rx, responses_bad, reestablish_k, reestablish_silence,
		reestablish_prefix;

	ev_timer tick;
	ev_timer stop_timer;
	/* The rendezvous (none with opt.intro_file): our DHT node and the
	 * fetch in progress. */
	struct dhtev *dht;
	struct fetch *fetch;
	ev_timer fetch_reap;              /* frees a finished fetch outside its callback */
	ev_tstamp next_fetch_at;          /* ev_now time of the next fetch */
	double fetch_backoff_s;
	uint64_t fetches_ok, fetches_failed;
	int last_fetch_status;
	char state_file[PATH_MAX];
};

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msg_len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
}

static const char *addr_str(const struct in6_addr *a, char *buf)
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

static int64_t now_ms(void)
{
	return llround(ev_time() * 1000.0);
}

bool client_has_session(const struct client *c)
{
	return c->state == CLIENT_SESSION;
}

const char *client_state_dir(const struct client *c)
{
	return c->cfg.state_dir;
}

/* ---------- introduction config ---------- */

/* Testing only: "seed=ADDR", "key=HEX", "rotation_ms=N", "period_s=N". */
static int read_intro_file(const char *path, struct intro_config *out)
{
	struct intro_config ic;
	char line[256];
	unsigned seen = 0;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f)
		return -errno;
	memset(&ic, 0, sizeof(ic));
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		size_t bin_len = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (!eq)
			continue;
		*eq++ = '\0';
		if (!strcmp(line, "seed") && inet_pton(AF_INET6, eq, &ic.server_seed) == 1)
			seen |= 1;
		else if (!strcmp(line, "key") &&
			 sodium_hex2bin(ic.key, sizeof(ic.key), eq, strlen(eq), NULL, &bin_len,
					NULL) == 0 && bin_len == sizeof(ic.key))
			seen |= 2;
		else if (!strcmp(line, "rotation_ms"))
			ic.rotation_ms = (uint32_t)strtoul(eq, NULL, 10), seen |= 4;
		else if (!strcmp(line, "period_s"))
			ic.period_s = (uint32_t)strtoul(eq, NULL, 10), seen |= 8;
	}
	sodium_memzero(line, sizeof(line));
	fclose(f);
	if (seen != 15 || !ic.rotation_ms || ic.rotation_ms > MSG_ROTATION_MAX_MS)
		rc = -EINVAL;
	else
		*out = ic;
	sodium_memzero(&ic, sizeof(ic));
	return rc;
}

static void on_intro(struct client *c, struct intro_config *ic);

/* Next fetch: a little after the next window starts (its config was
 * published ahead), or sooner after a failure. */
static void schedule_fetch(struct client *c, bool has_failed)
{
	ev_tstamp now = ev_now(c->loop);

	if (has_failed) {
		c->next_fetch_at = now + c->fetch_backoff_s;
		c->fetch_backoff_s *= 2;
		if (c->fetch_backoff_s > CLIENT_FETCH_RETRY_MAX_S)
			c->fetch_backoff_s = CLIENT_FETCH_RETRY_MAX_S;
		return;
	}
	c->fetch_backoff_s = CLIENT_FETCH_RETRY_MIN_S;
	c->next_fetch_at = (double)derive_window_start((int64_t)ev_time(), c->cfg.config_period_s) +
			   c->cfg.config_period_s + CLIENT_FETCH_AFTER_BOUNDARY_S -
			   (ev_time() - now);
}

static void on_fetched(void *closure, const struct fetch_result *res)
{
	struct client *c = closure;
	struct intro_config ic;

	c->last_fetch_status = res->status;
	ev_timer_start(c->loop, &c->fetch_reap);
	if (res->status < 0 || !res->cfg.rotation_ms) {
		c->fetches_failed++;
		log_info("fetching the server's config: %s (%zu DHT queries)",
			 fetch_strerror(res->status), res->progress.queries);
		schedule_fetch(c, true);
		return;
	}
	c->fetches_ok++;
	memset(&ic, 0, sizeof(ic));
	memcpy(ic.server_seed.s6_addr, res->cfg.server_seed_addr, 16);
	memcpy(ic.key, res->cfg.intro_key, INTRO_KEY_LEN);
	ic.rotation_ms = res->cfg.rotation_ms;
	ic.period_s = res->cfg.period_s;
	log_debug("config of window %" PRIu64 " epoch %u fetched in %" PRId64 " ms",
		  res->window_start, res->epoch, res->progress.elapsed_ms);
	schedule_fetch(c, false);
	on_intro(c, &ic);
	sodium_memzero(&ic, sizeof(ic));
}

static void fetch_reap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, fetch_reap);

	(void)loop;
	(void)revents;
	if (c->fetch && fetch_is_done(c->fetch)) {
		fetch_free(c->fetch);
		c->fetch = NULL;
	}
}

static int64_t fetch_hook(void *ctx, int64_t now)
{
	struct client *c = ctx;

	return c->fetch && !fetch_is_done(c->fetch) ? fetch_tick(c->fetch, now) : INT64_MAX;
}

/* Gets the introduction config: from the test file at once, or from the DHT
 * (on_intro is called when it arrives). */
static void start_fetch(struct client *c)
{
	struct fetch_params fp;
	struct intro_config ic;
	int rc;

	if (c->opt.intro_file) {
		if (read_intro_file(c->opt.intro_file, &ic) == 0)
			on_intro(c, &ic);
		sodium_memzero(&ic, sizeof(ic));
		return;
	}
	if (c->fetch)
		return;
	memset(&fp, 0, sizeof(fp));
	fp.kind = FETCH_CONFIG;
	fp.period_s = c->cfg.config_period_s;
	fp.edge_s = fp.period_s / 10 < 60 ? fp.period_s / 10 : 60;
	fp.timeout_ms = CLIENT_FETCH_TIMEOUT_MS;
	fp.family = dhtev_family(c->dht);
	c->next_fetch_at = ev_now(c->loop) + CLIENT_FETCH_TIMEOUT_MS / 1000.0 + 5;
	rc = fetch_new(dhtev_dht(c->dht), &fp, c->priv, c->cfg.server_public_key, on_fetched, NULL,
		       c, &c->fetch);
	if (rc < 0) {
		log_err(rc, "starting a fetch of the server's config");
		schedule_fetch(c, true);
		return;
	}
	rc = fetch_start(c->fetch, dhtev_now_ms(), dhtev_unix_ms());
	if (rc < 0) {
		log_err(rc, "starting the DHT lookups");
		fetch_free(c->fetch);
		c->fetch = NULL;
		schedule_fetch(c, true);
		return;
	}
	dhtev_kick(c->dht);
}

/* ---------- tunnels ---------- */

static void drop_renew_tunnel(struct client *c)
{
	if (!c->renew_tunnel)
		return;
	tunnel_free(c->renew_tunnel, CLIENT_NETLINK_TIMEOUT_MS);
	c->renew_tunnel = NULL;
}

static void drop_tunnel(struct client *c)
{
	drop_renew_tunnel(c);
	if (!c->tunnel)
		return;
	tunnel_free(c->tunnel, CLIENT_NETLINK_TIMEOUT_MS);
	c->tunnel = NULL;
}

/* The main tunnel keeps the TUN name the kernel gave it first; a renewal's
 * introduction tunnel takes the next free name of the pattern. */
static int make_tunnel(struct client *c, struct tunnel_config *tc, bool is_renewal)
{
	char msg[256] = "";
	int rc;

	tc->tun_name = !is_renewal && c->tun_name[0] ? c->tun_name : c->cfg.tunnel_name;
	tc->link_ifindex = c->link_ifindex;
	tc->link_mtu = c->link_mtu;
	tc->tunnel_prefix_len = 128;
	tc->reach = 1;
	tc->guard = c->guard;
	rc = tunnel_new(c->loop, c->nladdr, c->nllink, tc,
			is_renewal ? &c->renew_tunnel : &c->tunnel, msg, sizeof(msg));
	sodium_memzero(tc, sizeof(*tc));
	if (rc < 0) {
		log_err(rc, "starting a tunnel: %s", msg);
		return rc;
	}
	if (!is_renewal)
		snprintf(c->tun_name, sizeof(c->tun_name), "%s", tunnel_tun_name(c->tunnel));
	return 0;
}

/* Whether the introduction is in progress: alone, or beside the session. */
static bool is_introducing(const struct client *c)
{
	return c->state == CLIENT_INTRO || (c->state == CLIENT_SESSION && c->renew_tunnel);
}

static void remove_state_file(struct client *c)
{
	if (c->state_file[0])
		unlink(c->state_file);
}

static void write_state_file(struct client *c)
{
	char tmp[PATH_MAX + 8], a[INET6_ADDRSTRLEN];
	FILE *f;

	if (mkdir(c->cfg.state_dir, 0755) < 0 && errno != EEXIST) {
		log_err(-errno, "creating '%s'", c->cfg.state_dir);
		return;
	}
	snprintf(c->state_file, sizeof(c->state_file), "%s/%s.server", c->cfg.state_dir,
		 c->tun_name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->state_file);
	f = fopen(tmp, "w");
	if (!f) {
		log_err(-errno, "writing '%s'", tmp);
		return;
	}
	fprintf(f, "%s\n", addr_str(&c->server_tunnel, a));
	if (fclose(f) != 0 || rename(tmp, c->state_file) != 0)
		log_err(-errno, "writing '%s'", c->state_file);
}

static void send_request(struct client *c)
{
	struct msg_request req;
	uint8_t buf[MSG_REQUEST_LEN];
	int rc;

	memset(&req, 0, sizeof(req));
	req.client_id = c->cfg.client_id;
	memcpy(req.seed_addr, c->own_seed.s6_addr, 16);
	memcpy(req.tunnel_addr, c->client_tunnel.s6_addr, 16);
	rc = msg_request_seal(&c->hs, c->priv, c->pub, c->cfg.server_public_key, &req,
			      (uint64_t)now_ms(), buf, sizeof(buf));
	if (rc > 0)
		rc = inner_send(c->raw_fd, &c->own_seed, &c->intro.server_seed, buf, (size_t)rc);
	if (rc < 0)
		log_err(rc, "sending a configuration request");
	else
		c->requests_sent++;
}

static void arm_retry(struct client *c)
{
	/* Exponential backoff with +-25 % jitter, so that clients that lost
	 * their sessions together do not retry in step. */
	double jitter = 0.75 + 0.5 * randombytes_uniform(1000) / 1000.0;

	ev_timer_stop(c->loop, &c->retry);
	ev_timer_set(&c->retry, c->backoff_s * jitter, 0);
	ev_timer_start(c->loop, &c->retry);
	c->backoff_s *= CLIENT_RETRY_FACTOR;
	if (c->backoff_s > CLIENT_RETRY_MAX_MS / 1000.0)
		c->backoff_s = CLIENT_RETRY_MAX_MS / 1000.0;
}

static void session_down(struct client *c)
{
	msg_session_keys_wipe(&c->keys);
	remove_state_file(c);
}

/* (Re)starts the introduction: tunnel under K from our current /64 and
 * C_IID, then the first request. With keep_session, a session that is up
 * stays up (and carries traffic) until the new one replaces it: the server
 * keeps it until our new request arrives, so only the response's flight
 * and the new tunnel's set-up interrupt traffic, not the introduction and
 * its retries. That needs a second TUN, so a TunnelName without "%d" falls
 * back to ending the session first. */
static void start_intro_keep(struct client *c, bool keep_session)
{
	struct tunnel_config tc;
	uint8_t slot_key[INTRO_SLOT_KEY_LEN];
	bool is_renewal;
	int rc;

	is_renewal = keep_session && c->state == CLIENT_SESSION && c->has_intro &&
		     strstr(c->cfg.tunnel_name, "%d");
	if (is_renewal) {
		drop_renew_tunnel(c);
	} else {
		if (c->state == CLIENT_SESSION)
			session_down(c);
		drop_tunnel(c);
		c->state = CLIENT_WAITING;
	}
	msg_handshake_wipe(&c->hs);
	c->first_request_due = false;
	c->backoff_s = CLIENT_RETRY_MIN_MS / 1000.0;
	c->attempts = 0;
	if (!c->has_intro)
		return; /* on_intro starts it */
	derive_client_iid(c->c_iid, c->s, c->intro.key, INTRO_KEY_LEN);
	c->own_seed = c->prefix;
	memcpy(c->own_seed.s6_addr + 8, c->c_iid, INTRO_IID_LEN);
	memset(&tc, 0, sizeof(tc));
	tc.own_seed = c->own_seed;
	tc.peer_seed = c->intro.server_seed;
	tc.tunnel_addr = c->own_seed;
	tc.peer_tunnel_addr = c->intro.server_seed;
	intro_slot_key(slot_key, c->intro.key);
	memcpy(tc.slot_key, slot_key, sizeof(slot_key));
	sodium_memzero(slot_key, sizeof(slot_key));
	rc = wire_derive_direction_keys(c->s, c->own_seed.s6_addr, c->intro.server_seed.s6_addr,
					tc.tx_key, tc.rx_key);
	tc.rotation_ms = c->intro.rotation_ms;
	if (rc < 0 || make_tunnel(c, &tc, is_renewal) < 0) {
		sodium_memzero(&tc, sizeof(tc));
		if (is_renewal) {
			start_intro_keep(c, false);
			return;
		}
		arm_retry(c);
		return;
	}
	if (!is_renewal)
		c->state = CLIENT_INTRO;
	log_info("introduction tunnel %s up%s: seed %s, asking the server",
		 tunnel_tun_name(is_renewal ? c->renew_tunnel : c->tunnel),
		 is_renewal ? " beside the session" : "",
		 addr_str(&c->own_seed, (char[INET6_ADDRSTRLEN]){ 0 }));
	c->first_request_due = true;
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_set(&c->retry, CLIENT_FIRST_REQUEST_DELAY_S, 0);
	ev_timer_start(c->loop, &c->retry);
}

static void start_intro(struct client *c)
{
	start_intro_keep(c, false);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, retry);

	(void)loop;
	(void)revents;
	if (c->state == CLIENT_WAITING) {
		if (c->has_intro)
			start_intro(c);
		return;
	}
	if (is_introducing(c) && c->first_request_due) {
		c->first_request_due = false;
		send_request(c);
		arm_retry(c);
		return;
	}
	if (is_introducing(c)) {
		/* Unanswered: the server may have a new K since our last fetch (a
		 * revocation or rekey publishes it in a new epoch of the current
		 * window), so look again without waiting for the next window. */
		if (++c->attempts % CLIENT_REFETCH_ATTEMPTS == 0)
			start_fetch(c);
		send_request(c);
		arm_retry(c);
	}
}

static void start_session(struct client *c, const struct msg_response *resp)
{
	struct tunnel_config tc;
	char a[INET6_ADDRSTRLEN];

	/* The server replaced our session when it answered: the old one is of
	 * no use any more. */
	if (c->state == CLIENT_SESSION)
		remove_state_file(c);
	drop_tunnel(c);
	c->session_seed = c->own_seed;
	memcpy(c->server_tunnel.s6_addr, resp->server_tunnel_addr, 16);
	memcpy(c->client_tunnel.s6_addr, resp->client_tunnel_addr, 16);
	memcpy(c->server_session_seed.s6_addr, resp->server_seed_addr, 16);
	c->session_rotation_ms = resp->rotation_ms;
	c->rotation_at_ms = 0;
	memset(&tc, 0, sizeof(tc));
	tc.own_seed = c->own_seed;
	tc.peer_seed = c->server_session_seed;
	tc.tunnel_addr = c->client_tunnel;
	tc.peer_tunnel_addr = c->server_tunnel;
	memcpy(tc.slot_key, c->keys.session, TUNNEL_KEY_LEN);
	memcpy(tc.tx_key, c->keys.tx, WIRE_KEY_LEN);
	memcpy(tc.rx_key, c->keys.rx, WIRE_KEY_LEN);
	tc.rotation_ms = c->session_rotation_ms;
	if (make_tunnel(c, &tc, false) < 0) {
		msg_session_keys_wipe(&c->keys);
		start_intro(c);
		return;
	}
	ev_timer_stop(c->loop, &c->retry);
	c->first_request_due = false;
	c->state = CLIENT_SESSION;
	c->sessions++;
	c->session_started_at = c->last_rx_at = c->last_keepalive_at = ev_now(c->loop);
	c->last_rx_packets = 0;
	write_state_file(c);
	log_info("session up on %s: server tunnel address %s, rotation %u ms", c->tun_name,
		 addr_str(&c->server_tunnel, a), c->session_rotation_ms);
	printf("server tunnel address: %s\n", a);
	fflush(stdout);
}

static void send_teardown(struct client *c, uint8_t reason)
{
	uint8_t td[MSG_TEARDOWN_LEN];
	int rc;

	if (c->state != CLIENT_SESSION)
		return;
	rc = msg_teardown_seal(&c->keys, reason, td, sizeof(td));
	if (rc > 0)
		rc = inner_send(c->raw_fd, &c->client_tunnel, &c->server_tunnel, td, (size_t)rc);
	if (rc < 0)
		log_err(rc, "sending a teardown");
}

/* ---------- messages from the server ---------- */

/* The server changes the session's Rot (its threat level changed): both
 * ends move to the new period at the instant it names. The server sends
 * each change a few times: copies of the one pending change nothing. */
static void handle_rotation(struct client *c, const uint8_t *buf, size_t len)
{
	uint32_t rot;
	uint64_t at_ms;
	int64_t now = now_ms();

	if (msg_rotation_open(&c->keys, buf, len, &rot, &at_ms) < 0)
		return;
	if (rot < CONFIG_MIN_ROTATION_MS || rot > CONFIG_MAX_ROTATION_MS ||
	    (int64_t)at_ms < now - CLIENT_ROTATION_SKEW_MS ||
	    (int64_t)at_ms > now + CLIENT_ROTATION_SKEW_MS)
		return;
	if (rot == c->session_rotation_ms && at_ms == c->rotation_at_ms)
		return;
	c->session_rotation_ms = rot;
	c->rotation_at_ms = at_ms;
	c->rotation_changes++;
	tunnel_set_rotation(c->tunnel, rot, (int64_t)at_ms);
	log_info("the server changes the session's rotation period to %u ms in %.1f s", rot,
		 ((int64_t)at_ms - now) / 1000.0);
}

static void raw_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, raw_io);
	uint8_t buf[512];
	unsigned i;

	(void)loop;
	(void)revents;
	for (i = 0; i < 64; i++) {
		struct in6_addr src, dst;
		unsigned ifindex;
		ssize_t n = inner_recv(c->raw_fd, buf, sizeof(buf), &src, &dst, &ifindex);
		int type;

		if (n == -EAGAIN)
			break;
		if (n < 0)
			continue;
		type = n > 0 ? msg_type(buf, (size_t)n) : -1;
		if (is_introducing(c) && type == MSG_TYPE_RESPONSE &&
		    !memcmp(&src, &c->intro.server_seed, 16) && !memcmp(&dst, &c->own_seed, 16)) {
			struct msg_response resp;
			struct msg_session_keys keys;

			/* Into a copy: the session still up keeps its keys until
			 * the response is authentic. */
			if (msg_response_open(&c->hs, c->priv, buf, (size_t)n, &resp, &keys) < 0) {
				msg_session_keys_wipe(&keys);
				c->responses_bad++;
				continue;
			}
			msg_session_keys_wipe(&c->keys);
			c->keys = keys;
			msg_session_keys_wipe(&keys);
			start_session(c, &resp);
			continue;
		}
		if (c->state != CLIENT_SESSION || memcmp(&src, &c->server_tunnel, 16) != 0 ||
		    memcmp(&dst, &c->client_tunnel, 16) != 0)
			continue;
		if (type == MSG_TYPE_ROTATION) {
			handle_rotation(c, buf, (size_t)n);
			continue;
		}
		if (type == MSG_TYPE_TEARDOWN) {
			uint8_t reason;

			if (msg_teardown_open(&c->keys, buf, (size_t)n, &reason) < 0)
				continue;
			c->teardowns_rx++;
			log_warnx("the server ended the session (reason %u): establishing again",
				  reason);
			start_intro(c);
			/* Not at once: the server that just ended it may refuse. */
			ev_timer_stop(c->loop, &c->retry);
			c->backoff_s = 1.0;
			arm_retry(c);
		}
	}
}

/* ---------- periodic checks ---------- */

static void check_prefix(struct client *c)
{
	struct in6_addr prefixes[4];
	char a[INET6_ADDRSTRLEN];
	int n;

	n = nllink_get_prefixes(c->nllink, c->link_ifindex, prefixes, 4);
	if (n <= 0 || !memcmp(prefixes[0].s6_addr, c->prefix.s6_addr, 8))
		return;
	log_info("the /64 of %s changed to %s: establishing again", c->cfg.interface,
		 addr_str(&prefixes[0], a));
	send_teardown(c, MSG_TEARDOWN_ROAMING);
	c->prefix = prefixes[0];
	c->reestablish_prefix++;
	start_intro(c);
}

/* A config from the rendezvous: the first one starts the introduction; a
 * different one (new K, new seed) makes the client establish again. */
static void on_intro(struct client *c, struct intro_config *ic)
{
	bool had = c->has_intro;

	if (had && !sodium_memcmp(ic->key, c->intro.key, INTRO_KEY_LEN) &&
	    !memcmp(&ic->server_seed, &c->intro.server_seed, 16) &&
	    ic->rotation_ms == c->intro.rotation_ms)
		return;
	c->intro = *ic;
	c->has_intro = true;
	c->intro_changed_at = ev_now(c->loop);
	if (had && c->state != CLIENT_WAITING) {
		log_info("the server's introduction config changed: establishing again");
		c->reestablish_k++;
	}
	start_intro_keep(c, true);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client *c = container_of(w, struct client, tick);
	ev_tstamp now = ev_now(loop);

	(void)revents;
	if (now - c->last_prefix_check_at >= CLIENT_PREFIX_CHECK_MS / 1000.0) {
		c->last_prefix_check_at = now;
		check_prefix(c);
	}
	if (c->opt.intro_file || now >= c->next_fetch_at)
		start_fetch(c);
	if (c->state != CLIENT_SESSION)
		return;
	{
		struct tunnel_stats st;

		tunnel_get_stats(c->tunnel, &st);
		if (st.rx_packets != c->last_rx_packets) {
			c->last_rx_packets = st.rx_packets;
			c->last_rx_at = now;
		}
	}
	if (now - c->last_rx_at > c->opt.silence_ms / 1000.0) {
		log_warnx("nothing from the server for %.0f s: establishing again",
			  now - c->last_rx_at);
		c->reestablish_silence++;
		start_intro(c);
		return;
	}
	if (now - c->last_keepalive_at >= c->opt.keepalive_ms / 1000.0) {
		c->last_keepalive_at = now;
		inner_send(c->raw_fd, &c->client_tunnel, &c->server_tunnel, NULL, 0);
	}
}

/* ---------- netlink ---------- */

static void on_addr_result(const struct nladdr_result *res, void *arg)
{
	(void)arg;
	if (res->cookie)
		tunnel_handle_addr_result(res->cookie, res);
}

static void nladdr_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, nladdr_io);
	int rc;

	(void)loop;
	(void)revents;
	rc = nladdr_process_acks(c->nladdr);
	if (rc < 0 && rc != -EAGAIN)
		log_err(rc, "reading netlink acknowledgements");
}

/* ---------- start, stop ---------- */

/* guard (mt6d/engine/guard.h): silent to probes, and the server's tunnel
 * addresses refused whenever no session carries them. The default tunnel
 * prefix is known from the server's key before any session; the tunnels
 * add what they learn (a configured TunnelPrefix, the seed addresses). */
static int client_setup_guard(struct client *c, char *msg, size_t msg_len)
{
	struct in6_addr prefix;
	char why[256] = "";
	int rc;

	rc = guard_new(c->loop, c->nllink, "client", c->cfg.interface, &c->guard, why, sizeof(why));
	intro_default_tunnel_prefix(c->cfg.server_public_key, &prefix);
	if (rc == 0)
		rc = guard_protect(c->guard, &prefix, 64, true, why, sizeof(why));
	if (rc < 0)
		set_msg(msg, msg_len, "setting up the guard (nftables table, routes): %s",
			why[0] ? why : strerror(-rc));
	return rc;
}

static int client_setup(struct client *c, char *msg, size_t msg_len)
{
	struct in6_addr prefixes[4];
	char why[256] = "";
	int rc;

	rc = nllink_new(&c->nllink);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening a netlink route socket: %s", strerror(-rc));
		return rc;
	}
	rc = nladdr_new(on_addr_result, c, &c->nladdr);
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the netlink address socket: %s", strerror(-rc));
		return rc;
	}
	ev_io_init(&c->nladdr_io, nladdr_cb, nladdr_fd(c->nladdr), EV_READ);
	ev_io_start(c->loop, &c->nladdr_io);
	rc = nllink_ifindex(c->nllink, c->cfg.interface);
	if (rc < 0) {
		set_msg(msg, msg_len, "%s: Interface '%s': %s", c->cfg.source, c->cfg.interface,
			strerror(-rc));
		return rc;
	}
	c->link_ifindex = (unsigned)rc;
	rc = inner_link_mtu(c->cfg.interface, &c->link_mtu);
	if (rc < 0) {
		set_msg(msg, msg_len, "reading the MTU of '%s': %s", c->cfg.interface,
			strerror(-rc));
		return rc;
	}
	rc = nllink_get_prefixes(c->nllink, c->link_ifindex, prefixes, 4);
	if (rc <= 0) {
		set_msg(msg, msg_len, "no global /64 prefix on '%s' (%s)", c->cfg.interface,
			rc < 0 ? strerror(-rc) : "none");
		return rc < 0 ? rc : -EADDRNOTAVAIL;
	}
	c->prefix = prefixes[0];
	rc = nladdr_purge(c->nladdr, c->link_ifindex, CLIENT_NETLINK_TIMEOUT_MS, why, sizeof(why));
	if (rc < 0)
		log_err(rc, "removing MT6D addresses of a previous run on %s%s%s", c->cfg.interface,
			why[0] ? ": " : "", why);
	else if (rc > 0)
		log_info("removed %d MT6D addresses of a previous run on %s", rc, c->cfg.interface);
	rc = client_setup_guard(c, msg, msg_len); /* guard */
	if (rc < 0)
		return rc;
	rc = inner_socket_open();
	if (rc < 0) {
		set_msg(msg, msg_len, "opening the raw socket for session messages: %s",
			strerror(-rc));
		return rc;
	}
	c->raw_fd = rc;
	ev_io_init(&c->raw_io, raw_cb, c->raw_fd, EV_READ);
	ev_io_start(c->loop, &c->raw_io);
	return 0;
}

static int client_setup_dht(struct client *c, char *msg, size_t msg_len)
{
	char list[CONFIG_MAX_BOOTSTRAP * CONFIG_HOSTPORT_LEN], why[256] = "";
	size_t i, len = 0;
	int rc;

	rc = dhtev_new(c->loop, "::", c->cfg.dht_port, NULL, &c->dht, why, sizeof(why));
	if (rc < 0) {
		set_msg(msg, msg_len, "starting the DHT node on port %u: %s", c->cfg.dht_port, why);
		return rc;
	}
	list[0] = '\0';
	for (i = 0; i < c->cfg.dht_bootstrap_len; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? "," : "",
					c->cfg.dht_bootstrap[i]);
	if (len && dhtev_add_bootstrap(c->dht, list, why, sizeof(why)) < 0)
		log_warnx("DHT bootstrap: %s", why);
	dhtev_set_hook(c->dht, fetch_hook, c);
	return 0;
}

int client_new(struct ev_loop *loop, const char *config_path, const struct client_options *opt,
	       struct client **out, char *msg, size_t msg_len)
{
	struct client *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->raw_fd = -1;
	snprintf(c->config_path, sizeof(c->config_path), "%s", config_path);
	if (opt)
		c->opt = *opt;
	if (!c->opt.keepalive_ms)
		c->opt.keepalive_ms = CLIENT_DEFAULT_KEEPALIVE_MS;
	if (!c->opt.silence_ms)
		c->opt.silence_ms = CLIENT_DEFAULT_SILENCE_MS;
	ev_init(&c->retry, retry_cb);
	ev_init(&c->tick, tick_cb);
	ev_init(&c->stop_timer, NULL);
	ev_timer_init(&c->fetch_reap, fetch_reap_cb, 0, 0);
	rc = config_load(CONFIG_CLIENT, config_path, &c->cfg, msg, msg_len);
	if (rc < 0) {
		free(c);
		return rc;
	}
	rc = config_load_private_key(&c->cfg, c->priv, msg, msg_len);
	if (rc < 0)
		goto fail;
	keys_public_from_private(c->pub, c->priv);
	rc = keys_shared_secret(c->s, c->priv, c->cfg.server_public_key);
	if (rc < 0) {
		set_msg(msg, msg_len, "%s: the server's PublicKey is a weak (low-order) key",
			c->cfg.source);
		goto fail;
	}
	rc = client_setup(c, msg, msg_len);
	if (rc < 0)
		goto fail;
	if (!c->opt.intro_file) {
		rc = client_setup_dht(c, msg, msg_len);
		if (rc < 0)
			goto fail;
	}
	ev_timer_set(&c->tick, CLIENT_TICK_S, CLIENT_TICK_S);
	ev_timer_start(loop, &c->tick);
	c->last_prefix_check_at = ev_now(loop);
	c->fetch_backoff_s = CLIENT_FETCH_RETRY_MIN_S;
	start_fetch(c);
	if (!c->has_intro)
		log_info("waiting for the server's config");
	*out = c;
	return 0;
fail:
	client_free(c);
	return rc;
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

void client_stop(struct client *c)
{
	send_teardown(c, MSG_TEARDOWN_SHUTDOWN);
	ev_timer_stop(c->loop, &c->retry);
	ev_timer_stop(c->loop, &c->tick);
	ev_timer_init(&c->stop_timer, stop_cb, CLIENT_CLOSE_DELAY_S, 0);
	ev_timer_start(c->loop, &c->stop_timer);
}

void client_free(struct client *c)
{
	char msg[256] = "";
	int rc;

	if (!c)
		return;
	if (c->loop) {
		ev_timer_stop(c->loop, &c->retry);
		ev_timer_stop(c->loop, &c->tick);
		ev_timer_stop(c->loop, &c->stop_timer);
	}
	drop_tunnel(c);
	remove_state_file(c);
	if (c->loop)
		ev_timer_stop(c->loop, &c->fetch_reap);
	if (c->dht)
		dhtev_set_hook(c->dht, NULL, NULL);
	fetch_free(c->fetch);
	dhtev_free(c->dht);
	if (c->nladdr) {
		ev_io_stop(c->loop, &c->nladdr_io);
		rc = nladdr_remove_all(c->nladdr, CLIENT_NETLINK_TIMEOUT_MS, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing MT6D addresses%s%s", msg[0] ? ": " : "", msg);
		nladdr_free(c->nladdr);
	}
	if (c->raw_fd >= 0) {
		ev_io_stop(c->loop, &c->raw_io);
		close(c->raw_fd);
	}
	guard_free(c->guard); /* guard: after every tunnel; its routes stay */
	if (c->nllink) {
		rc = nllink_cleanup(c->nllink, msg, sizeof(msg));
		if (rc < 0)
			log_err(rc, "removing tunnel addresses and routes%s%s", msg[0] ? ": " : "",
				msg);
		nllink_free(c->nllink);
	}
	msg_handshake_wipe(&c->hs);
	msg_session_keys_wipe(&c->keys);
	config_fini(&c->cfg);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* ---------- show ---------- */

static void show_endpoint(struct ctl_reply *r, const char *key, const struct in6_addr *seed,
			  const uint8_t slot_key[static 32], uint64_t slot)
{
	struct rotate_endpoint ep;
	char a[INET6_ADDRSTRLEN];

	rotate_endpoint_for(seed, slot_key, slot, &ep);
	ctl_reply_printf(r, "%s=[%s]:%u\n", key, addr_str(&ep.addr, a), ep.port);
}

static const char *state_name(enum client_state s)
{
	switch (s) {
	case CLIENT_WAITING:
		return "waiting";
	case CLIENT_INTRO:
		return "introduction";
	case CLIENT_SESSION:
		return "session";
	}
	return "?";
}

int client_handle_ctl(void *ctx, const struct ctl_request *req, struct ctl_reply *r)
{
	struct client *c = ctx;
	char a[INET6_ADDRSTRLEN], words[1024], *w, *save = NULL;
	size_t i;

	if (req->is_set) {
		for (i = 0; i < req->n_pairs; i++) {
			if (!strcmp(req->pairs[i].key, "reconnect") &&
			    !strcmp(req->pairs[i].value, "1")) {
				send_teardown(c, MSG_TEARDOWN_REPLACED);
				start_intro(c);
			} else {
				ctl_reply_printf(r, "error=unknown key '%s'\n", req->pairs[i].key);
				return -EINVAL;
			}
		}
		return 0;
	}
	ctl_reply_printf(r, "role=client\n");
	ctl_reply_printf(r, "interface=%s\n", c->tun_name);
	ctl_reply_printf(r, "link=%s\n", c->cfg.interface);
	ctl_reply_printf(r, "state=%s\n", state_name(c->state));
	ctl_reply_printf(r, "client_id=%u\n", c->cfg.client_id);
	ctl_reply_printf(r, "prefix=%s/64\n", addr_str(&c->prefix, a));
	{ /* guard */
		char g[512];

		guard_format_stats(c->guard, g, sizeof(g));
		ctl_reply_printf(r, "%s", g);
	}
	if (c->has_intro) {
		ctl_reply_printf(r, "server_seed=%s\n", addr_str(&c->intro.server_seed, a));
		ctl_reply_printf(r, "intro_rotation_ms=%u\n", c->intro.rotation_ms);
		ctl_reply_printf(r, "intro_changed=%.0f\n", c->intro_changed_at);
		ctl_reply_printf(r, "own_seed=%s\n", addr_str(&c->own_seed, a));
	}
	ctl_reply_printf(r, "fetches_ok=%" PRIu64 "\nfetches_failed=%" PRIu64 "\n", c->fetches_ok,
			 c->fetches_failed);
	ctl_reply_printf(r, "requests_sent=%" PRIu64 "\nsessions=%" PRIu64
			 "\nteardowns_rx=%" PRIu64 "\nresponses_bad=%" PRIu64
			 "\nreestablish_k=%" PRIu64 "\nreestablish_silence=%" PRIu64
			 "\nreestablish_prefix=%" PRIu64 "\nrotation_changes=%" PRIu64 "\n",
			 c->requests_sent, c->sessions, c->teardowns_rx, c->responses_bad,
			 c->reestablish_k, c->reestablish_silence, c->reestablish_prefix,
			 c->rotation_changes);
	if (c->renew_tunnel) {
		struct tunnel_stats st;

		/* The introduction beside the session, its counters prefixed. */
		ctl_reply_printf(r, "renewing=1\nrenew_interface=%s\n",
				 tunnel_tun_name(c->renew_tunnel));
		tunnel_get_stats(c->renew_tunnel, &st);
		tunnel_format_stats(&st, words, sizeof(words));
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			ctl_reply_printf(r, "renew_%s\n", w);
	}
	if (c->state == CLIENT_SESSION) {
		struct tunnel_stats st;
		uint64_t slot = tunnel_current_slot(c->tunnel);

		ctl_reply_printf(r, "session_interface=%s\n", c->tun_name);
		ctl_reply_printf(r, "server_tunnel_address=%s\n", addr_str(&c->server_tunnel, a));
		ctl_reply_printf(r, "client_tunnel_address=%s\n", addr_str(&c->client_tunnel, a));
		ctl_reply_printf(r, "server_session_seed=%s\n",
				 addr_str(&c->server_session_seed, a));
		ctl_reply_printf(r, "rotation_ms=%u\n", tunnel_rotation_ms(c->tunnel));
		ctl_reply_printf(r, "slot=%" PRIu64 "\n", slot);
		ctl_reply_printf(r, "next_rotation_ms=%" PRId64 "\n",
				 tunnel_next_move_in_ms(c->tunnel));
		show_endpoint(r, "own_endpoint", &c->session_seed, c->keys.session, slot);
		show_endpoint(r, "peer_endpoint", &c->server_session_seed, c->keys.session, slot);
		show_endpoint(r, "own_endpoint_next", &c->session_seed, c->keys.session, slot + 1);
		show_endpoint(r, "peer_endpoint_next", &c->server_session_seed, c->keys.session,
			      slot + 1);
		ctl_reply_printf(r, "started=%.0f\n", c->session_started_at);
		ctl_reply_printf(r, "last_rx=%.0f\n", c->last_rx_at);
		tunnel_get_stats(c->tunnel, &st);
		tunnel_format_stats(&st, words, sizeof(words));
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			ctl_reply_printf(r, "%s\n", w);
	}
	return 0;
}
