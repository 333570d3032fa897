/* mt6d/watch: control replies of a server and a client parsed into
 * snapshots, units, rates between refreshes, and frames that never pass the
 * width or the line budget. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/cli/watch.h"

#define NOW_S 1800000000

/* What mt6d-server answers to get=1 (cut), for two moments one second
 * apart: client-1 received 1 MiB and 1000 packets in between, its endpoints
 * moved one slot. */
static const char server_reply_1[] =
	"role=server\n"
	"interface=mt6d0\n"
	"link=eth0\n"
	"rotation_ms=1000\n"
	"threat=high\n"
	"threat_set=normal\n"
	"key_generation=7\n"
	"slot=1800000000\n"
	"next_rotation_ms=420\n"
	"intro_endpoint=[2001:db8:0:1:aaaa:bbbb:cccc:1]:40000\n"
	"intro_endpoint_next=[2001:db8:0:1:aaaa:bbbb:cccc:2]:40001\n"
	"sessions=2\n"
	"drops_unknown_iid=20\n"
	"drops_rate=4\n"
	"drops_auth=5\n"
	"drops_replay=1\n"
	"client=client-1\n"
	"id=1\n"
	"session_interface=mt6d1\n"
	"server_tunnel_address=2001:db8:ffff::1:0:1\n"
	"client_tunnel_address=2001:db8:ffff::2:0:1\n"
	"rotation_ms=333\n"
	"next_rotation_ms=120\n"
	"own_endpoint=[2001:db8:0:1:1111:2222:3333:4444]:50000\n"
	"peer_endpoint=[2001:db8:1:1:1111:2222:3333:4444]:50001\n"
	"own_endpoint_next=[2001:db8:0:1:5555:6666:7777:8888]:50002\n"
	"peer_endpoint_next=[2001:db8:1:1:5555:6666:7777:8888]:50003\n"
	"started=1799999000\n"
	"last_rx=1799999998\n"
	"tx_packets=2000\n"
	"tx_bytes=3000000\n"
	"rx_packets=1000\n"
	"rx_bytes=1048576\n"
	"drops_auth=0\n"
	"drops_replay=2\n"
	"rx_prev_slot=3\n"
	"rx_next_slot=1\n"
	"rx_far_slot=0\n"
	"rotations=100\n"
	"client=client-2\n"
	"session_interface=mt6d2\n"
	"rx_bytes=10\n";

static const char server_reply_2[] =
	"role=server\n"
	"interface=mt6d0\n"
	"link=eth0\n"
	"rotation_ms=1000\n"
	"threat=normal\n"
	"threat_set=normal\n"
	"client=client-1\n"
	"session_interface=mt6d1\n"
	"server_tunnel_address=2001:db8:ffff::1:0:1\n"
	"client_tunnel_address=2001:db8:ffff::2:0:1\n"
	"rotation_ms=333\n"
	"own_endpoint=[2001:db8:0:1:5555:6666:7777:8888]:50002\n"
	"own_endpoint_next=[2001:db8:0:1:9999:aaaa:bbbb:cccc]:50004\n"
	"last_rx=1800000000\n"
	"tx_packets=2000\n"
	"tx_bytes=3000000\n"
	"rx_packets=2000\n"
	"rx_bytes=2097152\n"
	"client=client-2\n"
	"session_interface=mt6d2\n"
	/* a new session under the same name: its counters start again */
	"rx_bytes=5\n";

static const char client_reply[] =
	"role=client\n"
	"interface=mt6d0\n"
	"link=eth0\n"
	"state=session\n"
	"client_id=1\n"
	"intro_rotation_ms=3000\n"
	"requests_sent=3\n"
	"sessions=1\n"
	"session_interface=mt6d0\n"
	"server_tunnel_address=2001:db8:ffff::1:0:1\n"
	"client_tunnel_address=2001:db8:ffff::2:0:1\n"
	"rotation_ms=1000\n"
	"next_rotation_ms=250\n"
	"own_endpoint=[2001:db8:1:1::9]:1234\n"
	"peer_endpoint=[2001:db8:0:1::8]:5678\n"
	"drops_auth=6\n";

static void test_parse_server(void **state)
{
	struct watch_snapshot s;
	const struct watch_session *c1, *c2;

	(void)state;
	assert_int_equal(watch_parse(server_reply_1, &s), 0);
	assert_string_equal(s.role, "server");
	assert_string_equal(s.iface, "mt6d0");
	assert_string_equal(s.link, "eth0");
	assert_string_equal(s.threat, "high");
	assert_string_equal(s.threat_set, "normal");
	assert_int_equal(s.rotation_ms, 1000);
	assert_int_equal(s.next_rotation_ms, 420);
	assert_int_equal(s.key_generation, 7);
	assert_string_equal(s.intro_ep_next, "[2001:db8:0:1:aaaa:bbbb:cccc:2]:40001");
	/* The daemon's counters, not the sessions' of the same names. */
	assert_int_equal(s.drops_auth, 5);
	assert_int_equal(s.drops_replay, 1);
	assert_int_equal(s.drops_unknown_iid, 20);
	assert_int_equal(s.drops_rate, 4);
	assert_int_equal(s.n_sessions, 2);
	c1 = &s.sessions[0];
	c2 = &s.sessions[1];
	assert_string_equal(c1->name, "client-1");
	assert_string_equal(c1->iface, "mt6d1");
	assert_string_equal(c1->own_tunnel, "2001:db8:ffff::1:0:1");
	assert_string_equal(c1->peer_tunnel, "2001:db8:ffff::2:0:1");
	assert_string_equal(c1->own_ep, "[2001:db8:0:1:1111:2222:3333:4444]:50000");
	assert_string_equal(c1->peer_ep_next, "[2001:db8:1:1:5555:6666:7777:8888]:50003");
	assert_int_equal(c1->rotation_ms, 333);
	assert_int_equal(c1->next_rotation_ms, 120);
	assert_int_equal(c1->last_rx_s, 1799999998);
	assert_int_equal(c1->rx_bytes, 1048576);
	assert_int_equal(c1->tx_packets, 2000);
	assert_int_equal(c1->drops_auth, 0);
	assert_int_equal(c1->drops_replay, 2);
	assert_int_equal(c1->rx_prev_slot, 3);
	assert_int_equal(c1->rx_next_slot, 1);
	assert_int_equal(c1->rotations, 100);
	assert_string_equal(c2->name, "client-2");
	assert_int_equal(c2->rx_bytes, 10);
	assert_int_equal(c2->next_rotation_ms, -1);
	assert_ptr_equal(watch_find_session(&s, c2), c2);
	watch_snapshot_fini(&s);
	assert_null(s.sessions);
	watch_snapshot_fini(NULL);
}

static void test_parse_client(void **state)
{
	struct watch_snapshot s;

	(void)state;
	assert_int_equal(watch_parse(client_reply, &s), 0);
	assert_string_equal(s.role, "client");
	assert_string_equal(s.state, "session");
	assert_string_equal(s.threat, "");
	assert_int_equal(s.requests_sent, 3);
	assert_int_equal(s.n_sessions, 1);
	/* The client's own session: our tunnel address is the client's. */
	assert_string_equal(s.sessions[0].name, "server");
	assert_string_equal(s.sessions[0].own_tunnel, "2001:db8:ffff::2:0:1");
	assert_string_equal(s.sessions[0].peer_tunnel, "2001:db8:ffff::1:0:1");
	assert_string_equal(s.sessions[0].own_ep, "[2001:db8:1:1::9]:1234");
	assert_int_equal(s.sessions[0].drops_auth, 6);
	/* Its rotation is the session's, not the introduction's. */
	assert_int_equal(s.rotation_ms, 1000);
	assert_int_equal(s.next_rotation_ms, 250);
	watch_snapshot_fini(&s);

	/* Before the session: the introduction's period, no session. */
	assert_int_equal(watch_parse("role=client\nstate=introduction\nintro_rotation_ms=3000\n", &s),
			 0);
	assert_int_equal(s.n_sessions, 0);
	assert_int_equal(s.rotation_ms, 3000);
	assert_int_equal(s.next_rotation_ms, -1);
	watch_snapshot_fini(&s);
}

static void test_parse_bad_input(void **state)
{
	struct watch_snapshot s;
	char reply[512];
	size_t i;

	(void)state;
	assert_int_equal(watch_parse("", &s), 0);
	assert_int_equal(s.n_sessions, 0);
	assert_string_equal(s.role, "");
	watch_snapshot_fini(&s);

	/* Lines without '=', empty keys, junk numbers, no final newline. */
	assert_int_equal(watch_parse("junk\n=x\n\nrotation_ms=abc\nkey_generation=-5\n"
				     "client=a\nrx_bytes=99999999999999999999999\nrx_packets=12",
				     &s),
			 0);
	assert_int_equal(s.rotation_ms, 0);
	assert_int_equal(s.key_generation, 0);
	assert_int_equal(s.n_sessions, 1);
	assert_int_equal(s.sessions[0].rx_bytes, 0);
	assert_int_equal(s.sessions[0].rx_packets, 12);
	watch_snapshot_fini(&s);

	/* An over-long value is cut, never overflows. */
	char xs[301];
	memset(xs, 'x', 300);
	xs[300] = '\0';
	snprintf(reply, sizeof(reply), "client=%s\nsession_interface=mt6d1\n", xs);
	assert_int_equal(watch_parse(reply, &s), 0);
	assert_int_equal(strlen(s.sessions[0].name), WATCH_VALUE_LEN - 1);
	assert_string_equal(s.sessions[0].iface, "mt6d1");
	watch_snapshot_fini(&s);

	/* More sessions than the cap: refused, nothing to free. */
	{
		const char rec[] = "client=x\n";
		size_t n = WATCH_MAX_SESSIONS + 1;
		char *big = malloc(n * (sizeof(rec) - 1) + 1);

		assert_non_null(big);
		for (i = 0; i < n; i++)
			memcpy(big + i * (sizeof(rec) - 1), rec, sizeof(rec) - 1);
		big[n * (sizeof(rec) - 1)] = '\0';
		assert_int_equal(watch_parse(big, &s), -E2BIG);
		/* One fewer fits. */
		big[(n - 1) * (sizeof(rec) - 1)] = '\0';
		assert_int_equal(watch_parse(big, &s), 0);
		assert_int_equal(s.n_sessions, WATCH_MAX_SESSIONS);
		watch_snapshot_fini(&s);
		free(big);
	}
}

static void test_rate(void **state)
{
	(void)state;
	assert_true(watch_rate(0, 1000, 1000) == 1000.0);
	assert_true(watch_rate(100, 600, 500) == 1000.0);
	assert_true(watch_rate(5, 5, 1000) == 0.0);
	assert_true(watch_rate(0, 1, 3000) > 0.333 && watch_rate(0, 1, 3000) < 0.334);
	/* No interval, or a counter that went back (a new session). */
	assert_true(watch_rate(0, 1000, 0) < 0);
	assert_true(watch_rate(0, 1000, -5) < 0);
	assert_true(watch_rate(1000, 10, 1000) < 0);
	assert_true(watch_rate(0, UINT64_MAX, 1000) > 1e16);
}

static void test_format_bytes(void **state)
{
	static const struct {
		double n;
		const char *suffix, *want;
	} cases[] = {
		{ 0, "", "0 B" },
		{ 1023, "", "1023 B" },
		{ 1024, "", "1.0 KiB" },
		{ 1536, "/s", "1.5 KiB/s" },
		{ 1048575, "", "1.0 MiB" },
		{ 1048576.0 * 12.25, "", "12.2 MiB" },
		{ 1099511627776.0 * 3, "", "3.0 TiB" },
		{ 1e21, "", "867.4 EiB" },
		{ -1, "/s", "-" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		watch_format_bytes(cases[i].n, cases[i].suffix, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	/* A short buffer is cut and terminated. */
	watch_format_bytes(1536, "/s", buf, 4);
	assert_string_equal(buf, "1.5");
}

static void test_format_count(void **state)
{
	static const struct {
		double n;
		const char *want;
	} cases[] = {
		{ 0, "0" },       { 0.5, "0.5" },     { 3.3333, "3.3" },  { 7, "7" },
		{ 150.7, "151" }, { 999, "999" },     { 999.6, "1.0k" }, { 1000, "1.0k" },
		{ 1234567, "1.2M" }, { 999999, "1.0M" }, { 2.5e9, "2.5G" }, { -1, "-" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		watch_format_count(cases[i].n, "", buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	watch_format_count(1200, " pkt/s", buf, sizeof(buf));
	assert_string_equal(buf, "1.2k pkt/s");
}

static void test_format_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 0, "0.0 s" },         { 420, "0.4 s" },      { 9949, "9.9 s" },
		{ 9950, "9 s" },        { 12000, "12 s" },     { 59999, "59 s" },
		{ 185000, "3m05s" },    { 7800000, "2h10m" },  { 4 * 86400000LL + 3 * 3600000LL, "4d3h" },
		{ -1, "-" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		watch_format_duration(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

/* Renders into a fresh buffer of exactly the size asked for. */
static char *render(const struct watch_snapshot *prev, const struct watch_snapshot *cur,
		    unsigned width, unsigned max_lines)
{
	struct watch_frame f = { .width = width, .max_lines = max_lines, .now_s = NOW_S };
	size_t need = watch_render(prev, cur, &f, NULL, 0);
	char *buf = malloc(need + 1);

	assert_non_null(buf);
	assert_int_equal(watch_render(prev, cur, &f, buf, need + 1), need);
	assert_int_equal(strlen(buf), need);
	return buf;
}

static unsigned count_lines(const char *text, size_t *longest_out)
{
	unsigned n = 0;
	size_t longest = 0;

	while (*text) {
		size_t len = strcspn(text, "\n");

		assert_int_equal(text[len], '\n'); /* every line ends */
		if (len > longest)
			longest = len;
		text += len + 1;
		n++;
	}
	*longest_out = longest;
	return n;
}

static void test_render_fits_the_width(void **state)
{
	static const unsigned widths[] = { 1, 19, 20, 40, 79, 80, 111, 112, 200 };
	struct watch_snapshot a;
	size_t i, longest;

	(void)state;
	assert_int_equal(watch_parse(server_reply_1, &a), 0);
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		char *text = render(NULL, &a, widths[i], 0);
		unsigned limit = widths[i] < WATCH_MIN_WIDTH ? WATCH_MIN_WIDTH : widths[i];

		count_lines(text, &longest);
		assert_true(longest <= limit);
		/* Cut lines say so. */
		if (limit < 60)
			assert_non_null(strstr(text, ">\n"));
		free(text);
	}
	watch_snapshot_fini(&a);
}

static void test_render_contents(void **state)
{
	struct watch_snapshot a, b;
	char *text;

	(void)state;
	assert_int_equal(watch_parse(server_reply_1, &a), 0);
	assert_int_equal(watch_parse(server_reply_2, &b), 0);
	a.taken_ms = 10000;
	b.taken_ms = 11000;

	/* 80 columns: current and next on lines of their own. */
	text = render(NULL, &a, 80, 0);
	assert_non_null(strstr(text, "server mt6d0 on eth0  threat high (set normal)  Rot 1.0 s, next in 0.4 s\n"));
	assert_non_null(strstr(text, "client-1 on mt6d1  Rot 0.3 s, next in 0.1 s\n"));
	assert_non_null(strstr(text, "  tunnel 2001:db8:ffff::1:0:1 <-> 2001:db8:ffff::2:0:1\n"));
	assert_non_null(strstr(text, "  own   now  [2001:db8:0:1:1111:2222:3333:4444]:50000\n"
				     "        next [2001:db8:0:1:5555:6666:7777:8888]:50002\n"));
	assert_non_null(strstr(text, "  peer  now  [2001:db8:1:1:1111:2222:3333:4444]:50001\n"));
	/* First refresh: no rates yet. */
	assert_non_null(strstr(text, "  rx    1.0 MiB       1000 pkts            -            -  last packet 2 s ago\n"));
	assert_non_null(strstr(text, "  auth failures 0  replays 2  skew: prev 3 next 1 far 0  rotations 100\n"));
	assert_non_null(strstr(text, "last packet never"));
	free(text);

	/* Wide: one line each. */
	text = render(NULL, &a, 160, 0);
	assert_non_null(strstr(text, "  own   now  [2001:db8:0:1:1111:2222:3333:4444]:50000"));
	assert_non_null(strstr(text, "next [2001:db8:0:1:5555:6666:7777:8888]:50002\n"));
	assert_null(strstr(text, "\n        next"));
	free(text);

	/* Second refresh, one second later: 1 MiB and 1000 packets received. */
	text = render(&a, &b, 80, 0);
	assert_non_null(strstr(text, "threat normal  Rot"));
	assert_non_null(strstr(text, "  rx    2.0 MiB       2000 pkts    1.0 MiB/s   1.0k pkt/s  last packet 0 s ago\n"));
	assert_non_null(strstr(text, "  tx    2.9 MiB       2000 pkts        0 B/s      0 pkt/s\n"));
	/* client-2's counters went back: a new session, no rate. */
	assert_non_null(strstr(text, "  rx        5 B          0 pkts            -            -"));
	free(text);
	watch_snapshot_fini(&a);
	watch_snapshot_fini(&b);

	assert_int_equal(watch_parse(client_reply, &a), 0);
	text = render(NULL, &a, 80, 0);
	assert_non_null(strstr(text, "client mt6d0 on eth0  state session  Rot 1.0 s, next in 0.2 s\n"));
	assert_non_null(strstr(text, "server on mt6d0  Rot 1.0 s, next in 0.2 s\n"));
	assert_non_null(strstr(text, "  tunnel 2001:db8:ffff::2:0:1 <-> 2001:db8:ffff::1:0:1\n"));
	assert_null(strstr(text, "threat"));
	free(text);
	watch_snapshot_fini(&a);

	assert_int_equal(watch_parse("role=server\ninterface=mt6d0\n", &a), 0);
	text = render(NULL, &a, 80, 0);
	assert_non_null(strstr(text, "(no session)\n"));
	assert_non_null(strstr(text, "Rot -, next in -"));
	free(text);
	watch_snapshot_fini(&a);
}

static void test_render_line_budget(void **state)
{
	struct watch_snapshot s;
	char reply[8192] = "role=server\ninterface=mt6d0\n", *text;
	unsigned budget, lines;
	size_t longest;
	int i;

	(void)state;
	for (i = 0; i < 30; i++)
		snprintf(reply + strlen(reply), sizeof(reply) - strlen(reply),
			 "client=c%d\nsession_interface=mt6d%d\nrx_bytes=%d\n", i, i + 1, i);
	assert_int_equal(watch_parse(reply, &s), 0);

	for (budget = 1; budget <= 120; budget++) {
		text = render(NULL, &s, 80, budget);
		lines = count_lines(text, &longest);
		assert_true(lines <= budget);
		assert_true(longest <= 80);
		free(text);
	}
	/* 24 lines: one whole block, the rest as lines, then a count. */
	text = render(NULL, &s, 80, 24);
	assert_non_null(strstr(text, "c0 on mt6d1"));
	assert_null(strstr(text, "c1 on mt6d2"));
	assert_non_null(strstr(text, "\nc1             mt6d2"));
	assert_non_null(strstr(text, "more sessions (mt6d show lists them all)\n"));
	free(text);
	/* No budget: every session in full. */
	text = render(NULL, &s, 80, 0);
	assert_non_null(strstr(text, "c29 on mt6d30"));
	assert_null(strstr(text, "more session"));
	free(text);
	watch_snapshot_fini(&s);
}

static void test_render_like_snprintf(void **state)
{
	struct watch_snapshot s;
	struct watch_frame f = { .width = 80, .now_s = NOW_S };
	char small[50], *full;
	size_t need;

	(void)state;
	assert_int_equal(watch_parse(server_reply_1, &s), 0);
	full = render(NULL, &s, 80, 0);
	need = strlen(full);
	memset(small, 'Z', sizeof(small));
	assert_int_equal(watch_render(NULL, &s, &f, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, full, sizeof(small) - 1);
	free(full);
	watch_snapshot_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_server),
		cmocka_unit_test(test_parse_client),
		cmocka_unit_test(test_parse_bad_input),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_format_bytes),
		cmocka_unit_test(test_format_count),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_render_fits_the_width),
		cmocka_unit_test(test_render_contents),
		cmocka_unit_test(test_render_line_budget),
		cmocka_unit_test(test_render_like_snprintf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
