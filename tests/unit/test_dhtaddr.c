/* The per-window DHT identity's pure parts: the address drawn in the /64,
 * the port, and the BEP 42 id that dht/ derives for that address. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <sodium.h>

#include "dht/dht.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/dhtaddr.h"

/* A generator that serves scripted bytes, then a counter pattern. */
static uint8_t script[256];
static size_t script_len, script_pos;
static uint8_t counter;

static void scripted(void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = script_pos < script_len ? script[script_pos++] : ++counter;
}

static void script_set(const void *b, size_t len)
{
	memcpy(script, b, len);
	script_len = len;
	script_pos = 0;
}

static struct sockaddr_in6 sa6(const uint8_t a[16], uint16_t port)
{
	struct sockaddr_in6 s;
	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(port);
	memcpy(&s.sin6_addr, a, 16);
	return s;
}

static const uint8_t prefix[8] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02 };

static void test_draw_stays_in_the_64_and_differs(void **state)
{
	(void)state;
	uint8_t prev[DHTADDR_LEN] = { 0 }, a[DHTADDR_LEN];
	for (int w = 0; w < 1000; w++) {
		assert_int_equal(dhtaddr_draw(prefix, NULL, 0, NULL, a), 0);
		assert_memory_equal(a, prefix, 8);
		assert_false(derive_iid_is_reserved(a + 8));
		assert_memory_not_equal(a, prev, DHTADDR_LEN);
		memcpy(prev, a, DHTADDR_LEN);
	}
}

/* A generator that draws a reserved IID or the stable address gets another
 * draw; one that never stops doing so is refused, not looped on. */
static void test_draw_skips_reserved_and_stable(void **state)
{
	(void)state;
	uint8_t stable[1][DHTADDR_LEN], a[DHTADDR_LEN];
	static const uint8_t bad[] = {
		0, 0, 0, 0, 0, 0, 0, 0,                           /* subnet-router anycast */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80,   /* RFC 2526 */
		0x02, 0x00, 0x5e, 0xff, 0xfe, 0x12, 0x34, 0x56,   /* RFC 5453 */
		0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55,   /* the stable (EUI-64) one */
		0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,   /* fine */
	};
	memcpy(stable[0], prefix, 8);
	memcpy(stable[0] + 8, bad + 32, 8);
	script_set(bad, sizeof(bad));
	assert_int_equal(dhtaddr_draw(prefix, (const uint8_t(*)[DHTADDR_LEN])stable, 1, scripted, a), 0);
	assert_memory_equal(a + 8, bad + 40, 8);
	assert_int_equal(script_pos, sizeof(bad));

	uint8_t same[8 * DHTADDR_MAX_DRAWS];
	for (size_t i = 0; i < sizeof(same); i += 8)
		memcpy(same + i, bad + 32, 8);
	script_set(same, sizeof(same));
	memset(a, 0xaa, sizeof(a));
	assert_int_equal(dhtaddr_draw(prefix, (const uint8_t(*)[DHTADDR_LEN])stable, 1, scripted, a),
			 -EAGAIN);
	assert_int_equal(a[0], 0xaa); /* nothing written */
	script_len = 0;
}

static void test_ports_in_range_and_spread(void **state)
{
	(void)state;
	unsigned low = 0, high = 0;
	uint16_t prev = 0;
	int same = 0;
	for (int i = 0; i < 20000; i++) {
		uint16_t p = dhtaddr_draw_port(NULL);
		assert_true(p >= DHTADDR_PORT_MIN);
		if (p < 1024 + 32256)
			low++;
		else
			high++;
		same += p == prev;
		prev = p;
	}
	/* Both halves of the range (ports stay clear of 6881 most of the time). */
	assert_true(low > 9000 && high > 9000);
	assert_true(same < 5);
	uint8_t top[8];
	memset(top, 0xff, sizeof(top));
	script_set(top, sizeof(top));
	uint16_t p = dhtaddr_draw_port(scripted);
	assert_true(p >= DHTADDR_PORT_MIN);
	script_len = 0;
}

/* BEP 42's IPv4 test vectors through the public API the daemons use. */
static void test_bep42_vectors_public_api(void **state)
{
	(void)state;
	static const struct { const char *ip; uint8_t r; uint8_t prefix[3]; } v[] = {
		{ "124.31.75.21", 1, { 0x5f, 0xbf, 0xbf } },
		{ "21.75.31.124", 86, { 0x5a, 0x3c, 0xe9 } },
		{ "65.23.51.170", 22, { 0xa5, 0xd4, 0x32 } },
		{ "84.124.73.14", 65, { 0x1b, 0x03, 0x21 } },
		{ "43.213.53.83", 90, { 0xe5, 0x6f, 0x6c } },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sockaddr_in s4;
		uint8_t rnd[DHT_ID_LEN], id[DHT_ID_LEN];
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, v[i].ip, &s4.sin_addr), 1);
		randombytes_buf(rnd, sizeof(rnd));
		rnd[19] = v[i].r;
		assert_int_equal(dht_id_for_address((struct sockaddr *)&s4, sizeof(s4), rnd, id), 0);
		assert_int_equal(id[0], v[i].prefix[0]);
		assert_int_equal(id[1], v[i].prefix[1]);
		assert_int_equal(id[2] & 0xf8, v[i].prefix[2] & 0xf8);
		assert_int_equal(id[19], v[i].r);
		assert_true(dht_id_is_valid_for(id, (struct sockaddr *)&s4, sizeof(s4)));
		id[1] ^= 0x10;
		assert_false(dht_id_is_valid_for(id, (struct sockaddr *)&s4, sizeof(s4)));
	}
}

/* Every window: a new address, a new id valid for it (and for no other
 * /64), no id repeated. */
static void test_window_ids_valid_and_distinct(void **state)
{
	(void)state;
	enum { W = 64 };
	uint8_t ids[W][DHT_ID_LEN], other[8] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x09, 0x00, 0x09 };
	int invalid_elsewhere = 0;
	for (int w = 0; w < W; w++) {
		uint8_t a[DHTADDR_LEN], rnd[DHT_ID_LEN];
		assert_int_equal(dhtaddr_draw(prefix, NULL, 0, NULL, a), 0);
		struct sockaddr_in6 s = sa6(a, dhtaddr_draw_port(NULL));
		randombytes_buf(rnd, sizeof(rnd));
		assert_int_equal(dht_id_for_address((struct sockaddr *)&s, sizeof(s), rnd, ids[w]), 0);
		assert_true(dht_id_is_valid_for(ids[w], (struct sockaddr *)&s, sizeof(s)));
		memcpy(&s.sin6_addr, other, 8);
		invalid_elsewhere += !dht_id_is_valid_for(ids[w], (struct sockaddr *)&s, sizeof(s));
		for (int j = 0; j < w; j++)
			assert_memory_not_equal(ids[w], ids[j], DHT_ID_LEN);
	}
	assert_true(invalid_elsewhere > W - 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draw_stays_in_the_64_and_differs),
		cmocka_unit_test(test_draw_skips_reserved_and_stable),
		cmocka_unit_test(test_ports_in_range_and_spread),
		cmocka_unit_test(test_bep42_vectors_public_api),
		cmocka_unit_test(test_window_ids_valid_and_distinct),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
