/* mt6d/prom: control replies in the Prometheus text format: label escaping,
 * names after the conventions, the mapping of a server's, a client's and a
 * peer's lines (types, units, reasons, scopes), families written once and
 * together, nothing of an address in any label. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/cli/prom.h"

static const char server_reply[] =
	"dumpable=0\n"
	"role=server\n"
	"interface=mt6d0\n"
	"link=eth0\n"
	"address_mode=per-address\n"
	"seed_address=2001:db8:0:1::5eed\n"
	"guard_table=mt6d-server-eth0\n"
	"guard_commits=12\n"
	"guard_commit_us_avg=250\n"
	"tunnel_prefix=2001:db8:ffff::/64\n"
	"session_interface_mode=per-client\n"
	"slot_sockets_mode=per-session\n"
	"process_fds=23\n"
	"rotation_ms=1500\n"
	"threat=high\n"
	"threat_set=normal\n"
	"slot=1800000000\n"
	"intro_endpoint=[2001:db8:0:1:aaaa:bbbb:cccc:1]:40000\n"
	"registered_clients=3\n"
	"sessions=1\n"
	"intro_rx=100\n"
	"drops_unknown_iid=20\n"
	"drops_auth=5\n"
	"addr_errors=1\n"
	"sessions_started=4\n"
	"dht_id=00112233445566778899aabbccddeeff00112233\n"
	"dht_port=6881\n"
	"dht_lanes=4\n"
	"dht_endpoints=[2001:db8:0:1::a]:6881,[2001:db8:0:1::b]:40001\n"
	"client=client \"one\"\\x\n"
	"id=1\n"
	"session_interface=mt6d1\n"
	"own_endpoint=[2001:db8:0:1:1111:2222:3333:4444]:50000\n"
	"rotation_ms=333\n"
	"started=1799999000\n"
	"tx_packets=2000\n"
	"rx_packets=1000\n"
	"rx_bytes=1048576\n"
	"drops_auth=7\n"
	"rx_next_slot=2\n"
	"rotation_late_max_us=42\n"
	"addr_errors=3\n";

static const char client_reply[] =
	"role=client\n"
	"interface=mt6d0\n"
	"state=session\n"
	"fetches_ok=2\n"
	"fetches_failed=1\n"
	"sessions=3\n"
	"reestablish_k=1\n"
	"renew_tx_packets=99\n"
	"session_interface=mt6d0\n"
	"rotation_ms=1000\n"
	"rx_packets=10\n";

/* The whole output of p, malloc'd. */
static char *written(struct prom *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(prom_write(p, f), 0);
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *s;

	for (s = text; (s = strstr(s, line)); s += n)
		if ((s == text || s[-1] == '\n') && s[n] == '\n')
			return true;
	return false;
}

static void test_escape_label(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(prom_escape_label("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(prom_escape_label("a\"b\\c\nd", out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	assert_int_equal(prom_escape_label("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* Exactly full (15 + NUL) fits; one more byte, or an escape that
	 * would straddle the end, does not. */
	assert_int_equal(prom_escape_label("123456789012345", out, sizeof(out)), 15);
	assert_int_equal(prom_escape_label("1234567890123456", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(prom_escape_label("12345678901234\"", out, sizeof(out)), -ENAMETOOLONG);
}

static void test_names(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(prom_is_valid_name("mt6d_up", false));
	assert_true(prom_is_valid_name("a:b_c9", false));
	assert_false(prom_is_valid_name("a:b", true));
	assert_false(prom_is_valid_name("9lives", false));
	assert_false(prom_is_valid_name("has-dash", false));
	assert_false(prom_is_valid_name("", false));
	assert_false(prom_is_valid_name("caf\xc3\xa9", false));
	assert_true(prom_family_count() > 40);
	assert_null(prom_family_at(prom_family_count()));
	for (i = 0; i < prom_family_count(); i++) {
		const struct prom_family *f = prom_family_at(i);
		size_t n = strlen(f->name);
		bool ends_total = n > 6 && !strcmp(f->name + n - 6, "_total");

		assert_true(prom_is_valid_name(f->name, false));
		assert_int_equal(strncmp(f->name, "mt6d_", 5), 0);
		/* Counters and only counters end in _total; help is one line. */
		assert_int_equal(ends_total, f->type == PROM_COUNTER);
		assert_non_null(f->help);
		assert_true(f->help[0] != '\0');
		assert_null(strpbrk(f->help, "\\\n"));
		/* Units in base units: seconds and bytes, never ms or us. */
		assert_null(strstr(f->name, "_ms"));
		assert_null(strstr(f->name, "_us"));
		assert_null(strstr(f->name, "milli"));
		for (j = 0; j < i; j++)
			assert_string_not_equal(prom_family_at(j)->name, f->name);
	}
}

static void test_server(void **state)
{
	struct prom p = { .samples = NULL };
	char *out;

	(void)state;
	assert_int_equal(prom_add_reply(&p, "server", server_reply, false), 0);
	out = written(&p);
	assert_true(has_line(out, "mt6d_up{daemon=\"server\"} 1"));
	assert_true(has_line(out, "mt6d_info{daemon=\"server\",role=\"server\",interface=\"mt6d0\","
				  "link=\"eth0\",address_mode=\"per-address\",session_interface_mode="
				  "\"per-client\",slot_sockets_mode=\"per-session\"} 1"));
	assert_true(has_line(out, "# TYPE mt6d_threat_level gauge"));
	assert_true(has_line(out, "mt6d_threat_level{daemon=\"server\"} 2"));
	assert_true(has_line(out, "mt6d_threat_level_set{daemon=\"server\"} 1"));
	/* ms and us in seconds, exactly. */
	assert_true(has_line(out, "mt6d_rotation_period_seconds{daemon=\"server\"} 1.500"));
	assert_true(has_line(out, "mt6d_guard_commit_avg_seconds{daemon=\"server\"} 0.000250"));
	assert_true(has_line(out, "# TYPE mt6d_intro_drops_total counter"));
	assert_true(has_line(out, "mt6d_intro_drops_total{daemon=\"server\",reason=\"unknown_iid\"} 20"));
	/* The same key is the daemon's before the first client= line and the
	 * session's after it. */
	assert_true(has_line(out, "mt6d_intro_drops_total{daemon=\"server\",reason=\"auth\"} 5"));
	assert_true(has_line(out, "mt6d_address_errors_total{daemon=\"server\"} 1"));
	assert_true(has_line(out, "mt6d_sessions{daemon=\"server\"} 1"));
	assert_true(has_line(out, "mt6d_sessions_started_total{daemon=\"server\"} 4"));
	assert_true(has_line(out, "mt6d_dht_identities{daemon=\"server\"} 4"));
	/* A session: labelled with the client's name, escaped. */
	assert_true(has_line(out, "mt6d_session_drops_total{daemon=\"server\",peer=\"client \\\"one\\\"\\\\x\",reason=\"auth\"} 7"));
	assert_true(has_line(out, "mt6d_session_rx_bytes_total{daemon=\"server\",peer=\"client \\\"one\\\"\\\\x\"} 1048576"));
	assert_true(has_line(out, "mt6d_session_rotation_period_seconds{daemon=\"server\",peer=\"client \\\"one\\\"\\\\x\"} 0.333"));
	assert_true(has_line(out, "mt6d_session_rotation_late_max_seconds{daemon=\"server\",peer=\"client \\\"one\\\"\\\\x\"} 0.000042"));
	assert_true(has_line(out, "mt6d_session_rx_off_slot_packets_total{daemon=\"server\",peer=\"client \\\"one\\\"\\\\x\",slot=\"next\"} 2"));
	assert_true(has_line(out, "mt6d_session_address_errors_total{daemon=\"server\",peer=\"client \\\"one\\\"\\\\x\"} 3"));
	/* Nothing that rotates or identifies: addresses, ports, slot, DHT id. */
	assert_null(strstr(out, "2001:db8"));
	assert_null(strstr(out, "6881"));
	assert_null(strstr(out, "1800000000"));
	assert_null(strstr(out, "00112233"));
	assert_null(strstr(out, "mt6d1"));
	free(out);
	prom_fini(&p);
}

static void test_client_and_peer(void **state)
{
	struct prom p = { .samples = NULL };
	char *out;

	(void)state;
	assert_int_equal(prom_add_reply(&p, "home", client_reply, false), 0);
	assert_int_equal(prom_add_reply(&p, "p", "slot=7\nrx_packets=5\ndrops_replay=1\n", true), 0);
	assert_int_equal(prom_add_reply(&p, "q", "dumpable=0\nrole=peer\nlink=eth0\nguard_commits=4\n"
					"interface=mt6dP\nrotation_ms=1000\nslot=9\nrx_packets=6\n", false), 0);
	out = written(&p);
	assert_true(has_line(out, "mt6d_client_state{daemon=\"home\",state=\"session\"} 1"));
	assert_true(has_line(out, "mt6d_fetches_total{daemon=\"home\",outcome=\"ok\"} 2"));
	assert_true(has_line(out, "mt6d_fetches_total{daemon=\"home\",outcome=\"failed\"} 1"));
	/* A client's "sessions" counts the sessions it made; a server's is a gauge. */
	assert_true(has_line(out, "mt6d_sessions_started_total{daemon=\"home\"} 3"));
	assert_null(strstr(out, "mt6d_sessions{"));
	assert_true(has_line(out, "mt6d_reestablishments_total{daemon=\"home\",reason=\"key\"} 1"));
	assert_true(has_line(out, "mt6d_session_rx_packets_total{daemon=\"home\",peer=\"server\"} 10"));
	assert_true(has_line(out, "mt6d_session_rotation_period_seconds{daemon=\"home\",peer=\"server\"} 1.000"));
	assert_null(strstr(out, "99")); /* the renewal's counters are not the session's */
	assert_true(has_line(out, "mt6d_info{daemon=\"p\",role=\"peer\"} 1"));
	assert_true(has_line(out, "mt6d_session_rx_packets_total{daemon=\"p\",peer=\"peer\"} 5"));
	assert_true(has_line(out, "mt6d_session_drops_total{daemon=\"p\",peer=\"peer\",reason=\"replay\"} 1"));
	/* mt6d-peer's control socket: its daemon's lines and its tunnel's. */
	assert_true(has_line(out, "mt6d_info{daemon=\"q\",role=\"peer\",interface=\"mt6dP\",link=\"eth0\"} 1"));
	assert_true(has_line(out, "mt6d_guard_commits_total{daemon=\"q\"} 4"));
	assert_true(has_line(out, "mt6d_session_rx_packets_total{daemon=\"q\",peer=\"peer\"} 6"));
	assert_true(has_line(out, "mt6d_session_rotation_period_seconds{daemon=\"q\",peer=\"peer\"} 1.000"));
	free(out);
	prom_fini(&p);
}

/* Two daemons' lines interleave by family: each HELP and TYPE once, the
 * family's samples right after them. */
static void test_grouped(void **state)
{
	struct prom p = { .samples = NULL };
	char *out, *line, *save = NULL;
	char seen[128][96];
	size_t n_seen = 0, i;
	const char *current = "";

	(void)state;
	assert_int_equal(prom_add_reply(&p, "a", server_reply, false), 0);
	assert_int_equal(prom_add_reply(&p, "b", server_reply, false), 0);
	assert_int_equal(prom_add_down(&p, "c"), 0);
	out = written(&p);
	assert_true(has_line(out, "mt6d_up{daemon=\"c\"} 0"));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96];

		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%95s", name);
			for (i = 0; i < n_seen; i++)
				assert_string_not_equal(seen[i], name);
			assert_true(n_seen < 128);
			snprintf(seen[n_seen], sizeof(seen[0]), "%s", name);
			current = seen[n_seen++];
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(strncmp(line + 7, current, strlen(current)), 0);
			continue;
		}
		/* A sample of the family just announced. */
		assert_int_equal(strncmp(line, current, strlen(current)), 0);
		assert_int_equal(line[strlen(current)], '{');
	}
	free(out);
	prom_fini(&p);
}

static void test_twins_and_junk(void **state)
{
	struct prom p = { .samples = NULL };
	char *out;

	(void)state;
	assert_int_equal(prom_add_reply(&p, "x", "role=server\nsessions=1\n", false), 0);
	assert_int_equal(prom_add_reply(&p, "x", "role=server\n", false), -EEXIST);
	assert_int_equal(prom_add_down(&p, "x"), -EEXIST);
	/* Values that are not what the key promises are left out; an unknown
	 * role gives mt6d_up alone. */
	assert_int_equal(prom_add_reply(&p, "y", "role=server\nsessions=two\nintro_rx=1e3\n"
					"rotation_ms=-\nthreat=extreme\nintro_rx=\n", false), 0);
	assert_int_equal(prom_add_reply(&p, "z", "role=dhtnode\nsessions=5\n", false), 0);
	assert_int_equal(prom_add_reply(&p, "w", "", false), 0);
	out = written(&p);
	assert_null(strstr(out, "daemon=\"y\"} two"));
	assert_null(strstr(out, "mt6d_intro_rx_packets_total{daemon=\"y\"}"));
	assert_null(strstr(out, "mt6d_threat_level{daemon=\"y\"}"));
	assert_null(strstr(out, "mt6d_sessions{daemon=\"z\"}"));
	assert_true(has_line(out, "mt6d_up{daemon=\"z\"} 1"));
	assert_true(has_line(out, "mt6d_up{daemon=\"w\"} 1"));
	free(out);
	prom_fini(&p);
	prom_fini(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_label),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_server),
		cmocka_unit_test(test_client_and_peer),
		cmocka_unit_test(test_grouped),
		cmocka_unit_test(test_twins_and_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
