/* The screen of `mt6d watch`: control reply -> snapshot -> lines. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt6d/cli/watch.h"

#define WATCH_LINE_LEN 512   /* a line before it is cut to the width */

static void copy_value(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	if (src_len >= dst_len)
		src_len = dst_len - 1;
	memcpy(dst, src, src_len);
	dst[src_len] = '\0';
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno ? 0 : (uint64_t)v;
}

/* Times may be printed with decimals ("%.0f" today). */
static int64_t parse_i64(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v != v || v > 9.2e18 || v < -9.2e18)
		return 0;
	return (int64_t)v;
}

#define KEY_IS(k) (key_len == sizeof(k) - 1 && !memcmp(key, k, key_len))
#define SET_STR(field) copy_value(field, sizeof(field), value, value_len)

static void parse_session_pair(struct watch_session *s, bool is_client, const char *key,
			       size_t key_len, const char *value, size_t value_len,
			       const char *num)
{
	if (KEY_IS("session_interface"))
		SET_STR(s->iface);
	else if ((KEY_IS("server_tunnel_address") && !is_client) ||
		 (KEY_IS("client_tunnel_address") && is_client))
		SET_STR(s->own_tunnel);
	else if (KEY_IS("server_tunnel_address") || KEY_IS("client_tunnel_address"))
		SET_STR(s->peer_tunnel);
	else if (KEY_IS("own_endpoint"))
		SET_STR(s->own_ep);
	else if (KEY_IS("own_endpoint_next"))
		SET_STR(s->own_ep_next);
	else if (KEY_IS("peer_endpoint"))
		SET_STR(s->peer_ep);
	else if (KEY_IS("peer_endpoint_next"))
		SET_STR(s->peer_ep_next);
	else if (KEY_IS("rotation_ms"))
		s->rotation_ms = (uint32_t)parse_u64(num);
	else if (KEY_IS("next_rotation_ms"))
		s->next_rotation_ms = parse_i64(num);
	else if (KEY_IS("last_rx"))
		s->last_rx_s = parse_i64(num);
	else if (KEY_IS("rx_bytes"))
		s->rx_bytes = parse_u64(num);
	else if (KEY_IS("rx_packets"))
		s->rx_packets = parse_u64(num);
	else if (KEY_IS("tx_bytes"))
		s->tx_bytes = parse_u64(num);
	else if (KEY_IS("tx_packets"))
		s->tx_packets = parse_u64(num);
	else if (KEY_IS("drops_auth"))
		s->drops_auth = parse_u64(num);
	else if (KEY_IS("drops_replay"))
		s->drops_replay = parse_u64(num);
	else if (KEY_IS("rx_prev_slot"))
		s->rx_prev_slot = parse_u64(num);
	else if (KEY_IS("rx_next_slot"))
		s->rx_next_slot = parse_u64(num);
	else if (KEY_IS("rx_far_slot"))
		s->rx_far_slot = parse_u64(num);
	else if (KEY_IS("rotations"))
		s->rotations = parse_u64(num);
}

static void parse_daemon_pair(struct watch_snapshot *snap, const char *key, size_t key_len,
			      const char *value, size_t value_len, const char *num)
{
	if (KEY_IS("role"))
		SET_STR(snap->role);
	else if (KEY_IS("interface"))
		SET_STR(snap->iface);
	else if (KEY_IS("link"))
		SET_STR(snap->link);
	else if (KEY_IS("state"))
		SET_STR(snap->state);
	else if (KEY_IS("threat"))
		SET_STR(snap->threat);
	else if (KEY_IS("threat_set"))
		SET_STR(snap->threat_set);
	else if (KEY_IS("intro_endpoint"))
		SET_STR(snap->intro_ep);
	else if (KEY_IS("intro_endpoint_next"))
		SET_STR(snap->intro_ep_next);
	else if (KEY_IS("rotation_ms") || KEY_IS("intro_rotation_ms"))
		snap->rotation_ms = (uint32_t)parse_u64(num);
	else if (KEY_IS("next_rotation_ms"))
		snap->next_rotation_ms = parse_i64(num);
	else if (KEY_IS("key_generation"))
		snap->key_generation = parse_u64(num);
	else if (KEY_IS("drops_auth"))
		snap->drops_auth = parse_u64(num);
	else if (KEY_IS("drops_replay"))
		snap->drops_replay = parse_u64(num);
	else if (KEY_IS("drops_unknown_iid"))
		snap->drops_unknown_iid = parse_u64(num);
	else if (KEY_IS("drops_rate"))
		snap->drops_rate = parse_u64(num);
	else if (KEY_IS("requests_sent"))
		snap->requests_sent = parse_u64(num);
}

static struct watch_session *session_add(struct watch_snapshot *snap, size_t *cap, int *rc)
{
	struct watch_session *s;

	if (snap->n_sessions == WATCH_MAX_SESSIONS) {
		*rc = -E2BIG;
		return NULL;
	}
	if (snap->n_sessions == *cap) {
		size_t n = *cap ? 2 * *cap : 8;
		struct watch_session *grown = realloc(snap->sessions, n * sizeof(*grown));

		if (!grown) {
			*rc = -ENOMEM;
			return NULL;
		}
		snap->sessions = grown;
		*cap = n;
	}
	s = &snap->sessions[snap->n_sessions++];
	memset(s, 0, sizeof(*s));
	s->next_rotation_ms = -1;
	return s;
}

int watch_parse(const char *reply, struct watch_snapshot *snap_out)
{
	struct watch_snapshot snap;
	struct watch_session *s = NULL;
	const char *line = reply;
	size_t cap = 0;
	bool is_client = false;
	int rc = 0;

	memset(&snap, 0, sizeof(snap));
	snap.next_rotation_ms = -1;
	while (*line) {
		size_t line_len = strcspn(line, "\n");
		const char *eq = memchr(line, '=', line_len);
		char num[32];

		if (eq && eq != line) {
			const char *key = line, *value = eq + 1;
			size_t key_len = (size_t)(eq - line);
			size_t value_len = line_len - key_len - 1;

			copy_value(num, sizeof(num), value, value_len);
			/* The server's sessions begin at "client="; the
			 * client's own session follows its daemon lines. */
			if (KEY_IS("client") || (is_client && !s && KEY_IS("session_interface"))) {
				s = session_add(&snap, &cap, &rc);
				if (!s)
					goto fail;
				if (is_client)
					snprintf(s->name, sizeof(s->name), "%s",
						 strcmp(snap.role, "peer") ? "server" : "peer");
				else
					SET_STR(s->name);
			}
			if (s) {
				parse_session_pair(s, is_client, key, key_len, value, value_len,
						   num);
			} else {
				parse_daemon_pair(&snap, key, key_len, value, value_len, num);
				/* mt6d-peer's one tunnel is shown as a client's. */
				is_client = !strcmp(snap.role, "client") ||
					    !strcmp(snap.role, "peer");
			}
		}
		line += line_len;
		if (*line == '\n')
			line++;
	}
	/* The client's rotation is its session's once there is one. */
	if (is_client && snap.n_sessions) {
		snap.rotation_ms = snap.sessions[0].rotation_ms;
		snap.next_rotation_ms = snap.sessions[0].next_rotation_ms;
	}
	*snap_out = snap;
	return 0;
fail:
	free(snap.sessions);
	return rc;
}

#undef KEY_IS
#undef SET_STR

void watch_snapshot_fini(struct watch_snapshot *snap)
{
	if (!snap)
		return;
	free(snap->sessions);
	memset(snap, 0, sizeof(*snap));
}

const struct watch_session *watch_find_session(const struct watch_snapshot *snap,
					       const struct watch_session *s)
{
	size_t i;

	if (!snap)
		return NULL;
	for (i = 0; i < snap->n_sessions; i++)
		if (!strcmp(snap->sessions[i].name, s->name) &&
		    !strcmp(snap->sessions[i].iface, s->iface))
			return &snap->sessions[i];
	return NULL;
}

double watch_rate(uint64_t before, uint64_t after, int64_t elapsed_ms)
{
	if (elapsed_ms <= 0 || after < before)
		return -1;
	return (double)(after - before) * 1000.0 / (double)elapsed_ms;
}

void watch_format_bytes(double n, const char *suffix, char *buf, size_t buf_len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	size_t u = 0;

	if (n < 0) {
		snprintf(buf, buf_len, "-");
		return;
	}
	if (n < 1024) {
		snprintf(buf, buf_len, "%.0f B%s", n, suffix);
		return;
	}
	n /= 1024;
	while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	/* 1023.96 would print as "1024.0": say 1.0 of the next unit. */
	if (n >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	snprintf(buf, buf_len, "%.1f %s%s", n, units[u], suffix);
}

void watch_format_count(double n, const char *suffix, char *buf, size_t buf_len)
{
	static const char units[] = "kMGTPE";
	size_t u = 0;

	if (n < 0) {
		snprintf(buf, buf_len, "-");
		return;
	}
	if (n < 999.5) {
		/* Rates below 10 keep a decimal: 0.5 packets/s is not 0. */
		snprintf(buf, buf_len, n < 9.95 && n != (double)(uint64_t)n ? "%.1f%s" : "%.0f%s",
			 n, suffix);
		return;
	}
	n /= 1000;
	while (n >= 999.95 && u + 1 < sizeof(units) - 1) {
		n /= 1000;
		u++;
	}
	snprintf(buf, buf_len, "%.1f%c%s", n, units[u], suffix);
}

void watch_format_duration(int64_t ms, char *buf, size_t buf_len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, buf_len, "-");
	else if (ms < 9950)
		snprintf(buf, buf_len, "%.1f s", (double)ms / 1000.0);
	else if (s < 60)
		snprintf(buf, buf_len, "%" PRId64 " s", s);
	else if (s < 3600)
		snprintf(buf, buf_len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, buf_len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(buf, buf_len, "%" PRId64 "d%" PRId64 "h", s / 86400, s / 3600 % 24);
}

/* ---------- drawing ---------- */

struct out {
	char *buf;
	size_t buf_len, len;   /* len: bytes needed so far */
	unsigned width, lines, max_lines;
};

static void out_bytes(struct out *o, const char *p, size_t n)
{
	if (o->len < o->buf_len) {
		size_t room = o->buf_len - o->len - 1;

		memcpy(o->buf + o->len, p, n < room ? n : room);
		o->buf[o->len + (n < room ? n : room)] = '\0';
	}
	o->len += n;
}

static bool out_has_room(const struct out *o, unsigned lines)
{
	return !o->max_lines || o->lines + lines <= o->max_lines;
}

/* One line, cut to the width with a '>' where it was cut. */
static void out_line(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_line(struct out *o, const char *fmt, ...)
{
	char line[WATCH_LINE_LEN];
	va_list ap;
	int n;

	if (!out_has_room(o, 1))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* Trailing blanks would only be cut or wrapped. */
	while (n > 0 && line[n - 1] == ' ')
		n--;
	if ((unsigned)n > o->width) {
		n = (int)o->width;
		line[n - 1] = '>';
	}
	out_bytes(o, line, (size_t)n);
	out_bytes(o, "\n", 1);
	o->lines++;
}

static const char *or_dash(const char *s)
{
	return *s ? s : "-";
}

/* Current and next endpoint of one side: one line when wide, two when not. */
static void draw_endpoints(struct out *o, const char *label, const char *now, const char *next)
{
	if (o->width >= WATCH_WIDE_WIDTH) {
		out_line(o, "  %-5s now  %-48s next %s", label, or_dash(now), or_dash(next));
	} else {
		out_line(o, "  %-5s now  %s", label, or_dash(now));
		out_line(o, "  %-5s next %s", "", or_dash(next));
	}
}

static unsigned session_lines(const struct out *o)
{
	return o->width >= WATCH_WIDE_WIDTH ? 8 : 10;
}

static void draw_traffic(struct out *o, const char *dir, uint64_t bytes, uint64_t packets,
			 double bytes_per_s, double packets_per_s, const char *tail)
{
	char b[32], br[32], pr[32];

	watch_format_bytes((double)bytes, "", b, sizeof(b));
	watch_format_bytes(bytes_per_s, "/s", br, sizeof(br));
	watch_format_count(packets_per_s, " pkt/s", pr, sizeof(pr));
	out_line(o, "  %s %10s %10" PRIu64 " pkts %12s %12s  %s", dir, b, packets, br, pr, tail);
}

/* A session whose counters went back is a new one under the same name: no
 * rates across it. */
static bool is_same_session(const struct watch_session *before, const struct watch_session *s)
{
	return before && s->rx_bytes >= before->rx_bytes && s->rx_packets >= before->rx_packets &&
	       s->tx_bytes >= before->tx_bytes && s->tx_packets >= before->tx_packets;
}

/* The age of the last packet: the daemon gives whole seconds, so no false
 * precision. */
static void format_age(int64_t last_rx_s, int64_t now_s, char *buf, size_t buf_len)
{
	int64_t age_s = now_s > last_rx_s ? now_s - last_rx_s : 0;
	char d[32];

	if (last_rx_s <= 0) {
		snprintf(buf, buf_len, "never");
	} else if (age_s < 60) {
		snprintf(buf, buf_len, "%" PRId64 " s ago", age_s);
	} else {
		watch_format_duration(age_s * 1000, d, sizeof(d));
		snprintf(buf, buf_len, "%s ago", d);
	}
}

static void draw_session_line(struct out *o, const struct watch_session *s,
			      const struct watch_session *before, int64_t elapsed_ms,
			      int64_t now_s)
{
	char rx[32], tx[32], age[40];
	int64_t e = is_same_session(before, s) ? elapsed_ms : 0;
	const struct watch_session *p = e ? before : s;

	watch_format_bytes(watch_rate(p->rx_bytes, s->rx_bytes, e), "/s", rx, sizeof(rx));
	watch_format_bytes(watch_rate(p->tx_bytes, s->tx_bytes, e), "/s", tx, sizeof(tx));
	format_age(s->last_rx_s, now_s, age, sizeof(age));
	out_line(o, "%-14s %-8s %11s %11s  %-10s %5" PRIu64 " %6" PRIu64 " %4" PRIu64, s->name,
		 or_dash(s->iface), rx, tx, age, s->drops_auth, s->drops_replay, s->rx_far_slot);
}

static void draw_session(struct out *o, const struct watch_session *s,
			 const struct watch_session *before, int64_t elapsed_ms, int64_t now_s)
{
	char rot[32], next[32], age[40], tail[64];
	int64_t e = is_same_session(before, s) ? elapsed_ms : 0;
	const struct watch_session *p = e ? before : s;

	watch_format_duration(s->rotation_ms ? (int64_t)s->rotation_ms : -1, rot, sizeof(rot));
	watch_format_duration(s->next_rotation_ms, next, sizeof(next));
	out_line(o, "%s on %s  Rot %s, next in %s", s->name, or_dash(s->iface), rot, next);
	out_line(o, "  tunnel %s <-> %s", or_dash(s->own_tunnel), or_dash(s->peer_tunnel));
	draw_endpoints(o, "own", s->own_ep, s->own_ep_next);
	draw_endpoints(o, "peer", s->peer_ep, s->peer_ep_next);
	format_age(s->last_rx_s, now_s, age, sizeof(age));
	snprintf(tail, sizeof(tail), "last packet %s", age);
	draw_traffic(o, "rx", s->rx_bytes, s->rx_packets, watch_rate(p->rx_bytes, s->rx_bytes, e),
		     watch_rate(p->rx_packets, s->rx_packets, e), tail);
	draw_traffic(o, "tx", s->tx_bytes, s->tx_packets, watch_rate(p->tx_bytes, s->tx_bytes, e),
		     watch_rate(p->tx_packets, s->tx_packets, e), "");
	out_line(o,
		 "  auth failures %" PRIu64 "  replays %" PRIu64 "  skew: prev %" PRIu64
		 " next %" PRIu64 " far %" PRIu64 "  rotations %" PRIu64,
		 s->drops_auth, s->drops_replay, s->rx_prev_slot, s->rx_next_slot, s->rx_far_slot,
		 s->rotations);
}

static void draw_daemon(struct out *o, const struct watch_snapshot *c)
{
	char rot[32], next[32], threat[48] = "";
	bool is_client = !strcmp(c->role, "client");

	watch_format_duration(c->rotation_ms ? (int64_t)c->rotation_ms : -1, rot, sizeof(rot));
	watch_format_duration(c->next_rotation_ms, next, sizeof(next));
	/* The operator's level differs while a burst keeps it raised. */
	if (*c->threat && strcmp(c->threat, c->threat_set) && *c->threat_set)
		snprintf(threat, sizeof(threat), "  threat %s (set %s)", c->threat, c->threat_set);
	else if (*c->threat)
		snprintf(threat, sizeof(threat), "  threat %s", c->threat);
	out_line(o, "%s %s on %s%s%s%s  Rot %s, next in %s", or_dash(c->role), or_dash(c->iface),
		 or_dash(c->link), is_client ? "  state " : "", is_client ? or_dash(c->state) : "",
		 threat, rot, next);
	if (is_client) {
		out_line(o, "sessions %zu  requests sent %" PRIu64, c->n_sessions,
			 c->requests_sent);
	} else {
		out_line(o,
			 "sessions %zu  key generation %" PRIu64 "  drops: auth %" PRIu64
			 " replay %" PRIu64 " unknown %" PRIu64 " rate %" PRIu64,
			 c->n_sessions, c->key_generation, c->drops_auth, c->drops_replay,
			 c->drops_unknown_iid, c->drops_rate);
		draw_endpoints(o, "intro", c->intro_ep, c->intro_ep_next);
	}
}

size_t watch_render(const struct watch_snapshot *prev, const struct watch_snapshot *cur,
		    const struct watch_frame *frame, char *buf, size_t buf_len)
{
	struct out o = {
		.buf = buf,
		.buf_len = buf_len,
		.width = frame->width < WATCH_MIN_WIDTH ? WATCH_MIN_WIDTH : frame->width,
		.max_lines = frame->max_lines,
	};
	int64_t elapsed_ms = prev ? cur->taken_ms - prev->taken_ms : 0;
	size_t i;

	if (buf && buf_len)
		buf[0] = '\0';
	draw_daemon(&o, cur);
	if (!cur->n_sessions)
		out_line(&o, "(no session)");
	/* Whole blocks while they fit (with a line for "more" if any is left
	 * after them), then one line per session, then a count. */
	for (i = 0; i < cur->n_sessions; i++) {
		const struct watch_session *s = &cur->sessions[i];

		if (!out_has_room(&o, session_lines(&o) + (i + 1 < cur->n_sessions)))
			break;
		out_line(&o, "%s", "");
		draw_session(&o, s, watch_find_session(prev, s), elapsed_ms, frame->now_s);
	}
	if (i < cur->n_sessions && out_has_room(&o, 3)) {
		out_line(&o, "%s", "");
		out_line(&o, "%-14s %-8s %11s %11s  %-10s %5s %6s %4s", "peer", "iface", "rx/s",
			 "tx/s", "last rx", "auth", "replay", "far");
	}
	for (; i < cur->n_sessions; i++) {
		const struct watch_session *s = &cur->sessions[i];

		if (!out_has_room(&o, 1 + (i + 1 < cur->n_sessions)))
			break;
		draw_session_line(&o, s, watch_find_session(prev, s), elapsed_ms, frame->now_s);
	}
	if (i < cur->n_sessions)
		out_line(&o, "... %zu more session%s (mt6d show lists them all)",
			 cur->n_sessions - i, cur->n_sessions - i == 1 ? "" : "s");
	return o.len;
}
