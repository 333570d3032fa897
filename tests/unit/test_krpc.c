#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dht/krpc.h"

static int parse(const char *s, struct krpc_msg *m)
{
	return krpc_parse((const uint8_t *)s, strlen(s), m);
}

/* The examples of BEP 5, byte for byte. */
static void test_bep5_examples_parse(void **state)
{
	(void)state;
	static struct krpc_msg m;
	assert_int_equal(parse("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", &m), 0);
	assert_int_equal(m.type, KRPC_QUERY);
	assert_int_equal(m.method, KRPC_PING);
	assert_int_equal(m.tid_len, 2);
	assert_memory_equal(m.id, "abcdefghij0123456789", 20);

	assert_int_equal(parse("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re", &m), 0);
	assert_int_equal(m.type, KRPC_RESPONSE);
	assert_memory_equal(m.id, "mnopqrstuvwxyz123456", 20);

	assert_int_equal(parse("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee", &m), 0);
	assert_int_equal(m.type, KRPC_ERROR);
	assert_int_equal(m.error_code, 201);
	assert_string_equal(m.error_msg, "A Generic Error Ocurred");

	assert_int_equal(parse("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe", &m), 0);
	assert_int_equal(m.method, KRPC_FIND_NODE);
	assert_memory_equal(m.target, "mnopqrstuvwxyz123456", 20);

	assert_int_equal(parse("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe", &m), 0);
	assert_int_equal(m.method, KRPC_GET_PEERS);

	assert_int_equal(parse("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re", &m), 0);
	assert_int_equal(m.n_values, 2);
	assert_int_equal(m.values[0].family, AF_INET);
	assert_memory_equal(m.values[0].ip, "axje", 4);
	assert_int_equal(m.values[0].port, ('.' << 8) | 'u');
	assert_int_equal(m.token_len, 8);

	assert_int_equal(parse("d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe", &m), 0);
	assert_int_equal(m.method, KRPC_ANNOUNCE_PEER);
	assert_true(m.implied_port);
	assert_int_equal(m.port, 6881);
	assert_memory_equal(m.token, "aoeusnth", 8);
}

static void test_bad_queries_get_eproto_or_einval(void **state)
{
	(void)state;
	static struct krpc_msg m;
	/* No id: a protocol error worth answering, tid known. */
	assert_int_equal(parse("d1:ade1:q4:ping1:t2:aa1:y1:qe", &m), -EPROTO);
	assert_int_equal(m.tid_len, 2);
	/* announce without token or without port. */
	assert_int_equal(parse("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881ee1:q13:announce_peer1:t2:aa1:y1:qe", &m), -EPROTO);
	assert_int_equal(parse("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe", &m), -EPROTO);
	assert_int_equal(parse("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti65536e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe", &m), -EPROTO);
	/* Short target. */
	assert_int_equal(parse("d1:ad2:id20:abcdefghij01234567896:target3:abce1:q9:find_node1:t2:aa1:y1:qe", &m), -EPROTO);
	/* Unknown method parses, to be answered with 204. */
	assert_int_equal(parse("d1:ad2:id20:abcdefghij0123456789e1:q3:foo1:t2:aa1:y1:qe", &m), 0);
	assert_int_equal(m.method, KRPC_UNKNOWN);
	/* No tid, unknown y, not a dict, nodes not a multiple of 26. */
	assert_int_equal(parse("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe", &m), -EINVAL);
	assert_int_equal(parse("d1:t2:aa1:y1:xe", &m), -EINVAL);
	assert_int_equal(parse("li1ee", &m), -EINVAL);
	assert_int_equal(parse("d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re", &m), -EINVAL);
	/* Response without id. */
	assert_int_equal(parse("d1:rde1:t2:aa1:y1:re", &m), -EINVAL);
}

static void fill_addr(struct krpc_addr *a, int fam, uint8_t seed, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)fam;
	a->ip[0] = 0x20; a->ip[1] = 0x01; a->ip[2] = 0x0d; a->ip[3] = 0xb8;
	if (fam == AF_INET6)
		a->ip[15] = seed;
	else
		a->ip[3] = seed;
	a->port = port;
}

static void test_encode_parse_round_trip(void **state)
{
	(void)state;
	static struct krpc_msg m, back;
	uint8_t buf[1500];
	const uint8_t methods[] = { KRPC_PING, KRPC_FIND_NODE, KRPC_GET_PEERS, KRPC_ANNOUNCE_PEER };

	for (size_t k = 0; k < sizeof(methods); k++) {
		memset(&m, 0, sizeof(m));
		m.type = KRPC_QUERY;
		m.method = methods[k];
		memcpy(m.tid, "\x01\x02\x03", 3);
		m.tid_len = 3;
		memset(m.id, 0xab, 20);
		m.has_id = true;
		if (m.method != KRPC_PING)
			memset(m.target, (int)k, 20);
		if (m.method == KRPC_ANNOUNCE_PEER) {
			m.port = 51413;
			m.implied_port = true;
			memcpy(m.token, "tok", 3);
			m.token_len = 3;
		}
		if (m.method == KRPC_FIND_NODE || m.method == KRPC_GET_PEERS)
			m.want = KRPC_WANT_N4 | KRPC_WANT_N6;
		memcpy(m.version, "MT01", 4);
		m.version_len = 4;
		int n = krpc_encode(&m, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(krpc_parse(buf, (size_t)n, &back), 0);
		assert_memory_equal(&m, &back, sizeof(m));
	}

	memset(&m, 0, sizeof(m));
	m.type = KRPC_RESPONSE;
	m.tid_len = 2;
	m.has_id = true;
	m.has_ip = true;
	fill_addr(&m.ip, AF_INET6, 9, 6881);
	for (int i = 0; i < 8; i++) {
		memset(m.nodes[i].id, i, 20);
		fill_addr(&m.nodes[i].addr, AF_INET, (uint8_t)i, (uint16_t)(1000 + i));
		memset(m.nodes6[i].id, 0x80 + i, 20);
		fill_addr(&m.nodes6[i].addr, AF_INET6, (uint8_t)i, (uint16_t)(2000 + i));
	}
	m.n_nodes = m.n_nodes6 = 8;
	for (int i = 0; i < 25; i++)
		fill_addr(&m.values[i], i % 2 ? AF_INET : AF_INET6, (uint8_t)i, (uint16_t)(i + 1));
	m.n_values = 25;
	m.token_len = 8;
	memset(m.token, 7, 8);
	int n = krpc_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(krpc_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	/* Too small a buffer. */
	assert_int_equal(krpc_encode(&m, buf, 100), -ENOBUFS);

	memset(&m, 0, sizeof(m));
	m.type = KRPC_ERROR;
	m.error_code = KRPC_ERR_PROTOCOL;
	strcpy(m.error_msg, "bad token");
	n = krpc_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(krpc_parse(buf, (size_t)n, &back), 0);
	assert_memory_equal(&m, &back, sizeof(m));
}

static void test_values_caps_and_bad_lengths_counted(void **state)
{
	(void)state;
	static struct krpc_msg m;
	static char buf[8192];
	size_t n = (size_t)sprintf(buf, "d1:rd2:id20:abcdefghij01234567896:valuesl");
	for (int i = 0; i < KRPC_MAX_VALUES + 10; i++)
		n += (size_t)sprintf(buf + n, "6:abcd%c%c", 'a' + i % 20, 'b');
	n += (size_t)sprintf(buf + n, "5:shorti7e");
	sprintf(buf + n, "ee1:t2:aa1:y1:re");
	assert_int_equal(parse(buf, &m), 0);
	assert_int_equal(m.n_values, KRPC_MAX_VALUES);
	assert_int_equal(m.n_dropped, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bep5_examples_parse),
		cmocka_unit_test(test_bad_queries_get_eproto_or_einval),
		cmocka_unit_test(test_encode_parse_round_trip),
		cmocka_unit_test(test_values_caps_and_bad_lengths_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
