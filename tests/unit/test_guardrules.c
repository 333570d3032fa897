#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mt6d/core/guardrules.h"

static struct in6_addr addr(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

static void test_table_name_is_an_identifier(void **state)
{
	char name[GUARDRULES_NAME_LEN];

	(void)state;
	assert_int_equal(guardrules_table_name("server", "eth0", name), 0);
	assert_string_equal(name, "mt6d-server-eth0");
	/* Interface names may hold what nft reads as syntax. */
	assert_int_equal(guardrules_table_name("client", "en p0.5;{x}", name), 0);
	assert_string_equal(name, "mt6d-client-en_p0_5__x_");
	assert_int_equal(guardrules_table_name("peer", "0123456789abcdef0123456789abcdef0123456789",
					       name), -ENAMETOOLONG);
}

static void test_table_replaces_a_leftover_and_drops(void **state)
{
	char buf[4096];
	int n;

	(void)state;
	n = guardrules_table("mt6d-server-eth0", buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n == strlen(buf));
	/* A table left by a crash is replaced in the same transaction. */
	assert_non_null(strstr(buf, "add table inet mt6d-server-eth0\n"
				    "delete table inet mt6d-server-eth0\n"
				    "table inet mt6d-server-eth0 {"));
	/* Drop, never reject: a reject is an answer. */
	assert_null(strstr(buf, "reject"));
	assert_non_null(strstr(buf, "ip6 daddr @tun6 meta iifkind \"tun\" accept\n"
				    "\t\tip6 daddr @tun6 drop"));
	assert_non_null(strstr(buf, "ip6 daddr @tun6 meta oifkind != \"tun\" drop"));
	assert_non_null(strstr(buf, "ip6 daddr . udp dport @ep accept"));
	assert_non_null(strstr(buf, "ip6 saddr . udp sport @ep accept"));
	assert_non_null(strstr(buf, "ip6 daddr @claim ip6 daddr != @host jump in_mt6d"));
	/* Loopback before everything: the host talks to itself. */
	assert_true(strstr(buf, "iif lo accept") < strstr(buf, "@tun6"));
	assert_int_equal(guardrules_table("mt6d-server-eth0", buf, 100), -ENOSPC);
	assert_int_equal(guardrules_table("mt6d-server-eth0", buf, 0), -ENOSPC);
}

static void test_endpoints_in_one_command_per_set(void **state)
{
	struct guardrules_ep eps[2] = {
		{ .addr = addr("2001:db8::1"), .port = 4000, .lifetime_ms = 5000 },
		{ .addr = addr("2001:db8::2"), .port = 65535, .lifetime_ms = 9000 },
	};
	char buf[1024];

	(void)state;
	assert_int_equal(guardrules_endpoints("t", eps, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_true(guardrules_endpoints("t", eps, 2, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
			    "add element inet t ep { 2001:db8::1 . 4000 timeout 5000ms, "
			    "2001:db8::2 . 65535 timeout 9000ms }\n"
			    "add element inet t mt6d { 2001:db8::1 timeout 5000ms, "
			    "2001:db8::2 timeout 9000ms }\n");
	assert_int_equal(guardrules_endpoints("t", eps, 2, buf, 60), -ENOSPC);
}

/* Muxed endpoints also join the mux set, after ep; the tproxy chain sends
 * that set to [::1]:port in prerouting. */
static void test_mux_elements_and_tproxy(void **state)
{
	struct guardrules_ep eps[2] = {
		{ .addr = addr("2001:db8::1"), .port = 4000, .lifetime_ms = 5000 },
		{ .addr = addr("2001:db8::2"), .port = 5000, .lifetime_ms = 5000, .is_muxed = true },
	};
	char buf[1024], table[4096];

	(void)state;
	assert_true(guardrules_endpoints("t", eps, 2, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "add element inet t mux { 2001:db8::2 . 5000 timeout 5000ms }\n"));
	assert_null(strstr(buf, "mux { 2001:db8::1"));
	assert_true(strstr(buf, "t ep {") < strstr(buf, "t mux {"));
	assert_true(guardrules_endpoints("t", eps, 1, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "mux"));
	assert_true(guardrules_tproxy("t", 41000, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "hook prerouting priority mangle"));
	assert_non_null(strstr(buf, "ip6 daddr . udp dport @mux tproxy ip6 to [::1]:41000\n"));
	assert_int_equal(guardrules_tproxy("t", 41000, buf, 40), -ENOSPC);
	assert_true(guardrules_table("t", table, sizeof(table)) > 0);
	assert_non_null(strstr(table, "set mux { type ipv6_addr . inet_service; flags timeout; }"));
}

static void test_prefix_elements(void **state)
{
	struct in6_addr a = addr("2001:db8:ffff::");
	char buf[256];

	(void)state;
	assert_true(guardrules_prefix("t", "tun6", &a, 64, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "add element inet t tun6 { 2001:db8:ffff::/64 }\n");
	assert_true(guardrules_prefix("t", "host", &a, 128, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "add element inet t host { 2001:db8:ffff:: }\n");
	assert_int_equal(guardrules_prefix("t", "tun6", &a, 129, buf, sizeof(buf)), -EINVAL);
	assert_true(guardrules_prefix_delete("t", "tun6", &a, 128, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "delete element inet t tun6 { 2001:db8:ffff:: }\n");
	assert_int_equal(guardrules_delete("t", buf, sizeof(buf)), (int)strlen("delete table inet t\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_name_is_an_identifier),
		cmocka_unit_test(test_table_replaces_a_leftover_and_drops),
		cmocka_unit_test(test_endpoints_in_one_command_per_set),
		cmocka_unit_test(test_mux_elements_and_tproxy),
		cmocka_unit_test(test_prefix_elements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
