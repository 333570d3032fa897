#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mt6d/core/flowq.h"

/* An IPv6 packet from src to dst (last bytes of 2001:db8::) with next
 * header nh and, after the fixed header, the two ports. */
static void make_pkt(uint8_t *p, uint8_t src, uint8_t dst, uint8_t nh, uint16_t sport,
		     uint16_t dport)
{
	memset(p, 0, 60);
	p[0] = 0x60;
	p[6] = nh;
	p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = src;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = dst;
	p[40] = (uint8_t)(sport >> 8), p[41] = (uint8_t)sport;
	p[42] = (uint8_t)(dport >> 8), p[43] = (uint8_t)dport;
}

/* Both directions of a flow land on one queue, so the kernel's flow table
 * sends the replies out of the queue the flow came in by. */
static void test_symmetric(void **state)
{
	uint8_t a[60], b[60];

	(void)state;
	for (unsigned n = 2; n <= 8; n++) {
		for (uint16_t port = 40000; port < 40200; port++) {
			make_pkt(a, 0xa, 0xb, 6, port, 5001);
			make_pkt(b, 0xb, 0xa, 6, 5001, port);
			assert_int_equal(flowq_pick(a, 60, n), flowq_pick(b, 60, n));
			make_pkt(a, 0xa, 0xb, 17, port, 53);
			make_pkt(b, 0xb, 0xa, 17, 53, port);
			assert_int_equal(flowq_pick(a, 60, n), flowq_pick(b, 60, n));
		}
	}
}

/* Flows that differ only in a port spread over every queue, about evenly. */
static void test_spreads(void **state)
{
	unsigned count[8] = { 0 };
	uint8_t p[60];

	(void)state;
	for (uint16_t port = 40000; port < 41000; port++) {
		unsigned q;

		make_pkt(p, 0xa, 0xb, 6, port, 5001);
		q = flowq_pick(p, 60, 8);
		assert_true(q < 8);
		count[q]++;
	}
	for (unsigned q = 0; q < 8; q++)
		assert_in_range(count[q], 60, 190); /* 125 each if even */
}

/* One queue, and what is not an IPv6 packet: queue 0. */
static void test_degenerate(void **state)
{
	uint8_t p[60];

	(void)state;
	make_pkt(p, 0xa, 0xb, 6, 40001, 5001);
	assert_int_equal(flowq_pick(p, 60, 1), 0);
	assert_int_equal(flowq_pick(p, 60, 0), 0);
	assert_int_equal(flowq_pick(p, 39, 4), 0);
	p[0] = 0x45;
	assert_int_equal(flowq_pick(p, 60, 4), 0);
	/* A TCP header cut short still picks a queue, from the addresses. */
	make_pkt(p, 0xa, 0xb, 6, 40001, 5001);
	assert_true(flowq_pick(p, 41, 4) < 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symmetric),
		cmocka_unit_test(test_spreads),
		cmocka_unit_test(test_degenerate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
