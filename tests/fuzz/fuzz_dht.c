/* libFuzzer target for the DHT's whole input path: one node (dht/dht.h) fed
 * arbitrary datagrams from arbitrary sources (good, IPv4, martian, port 0),
 * with clock steps and dht_tick between them, and operations started on the
 * way so that replies meet pending queries. Whatever arrives, the node must
 * not crash, leak or send a datagram it could not have built.
 *
 * Like a node on the Internet, it lives on across inputs: a new one (its
 * 400 kB zeroed and mapped, ~2 ms under ASan) is made every NODE_INPUTS
 * inputs only, which keeps this target as fast as the others. The first
 * input a process runs always meets a fresh node, so a crash that needs
 * one input alone reproduces with `fuzz_dht crash-file`. A live node keeps
 * allocations from one input to the next (operations, stored peers), which
 * libFuzzer's per-input leak check would take for leaks and rescan the heap
 * after each: it is off (LLVMFuzzerInitialize), and LeakSanitizer's check
 * at exit still reports any block the node lost track of.
 *
 * Input: a sequence of records, each one op byte then its operands:
 *   op & 7 in 0..3  datagram: u16 length (big-endian), bytes; source
 *                   SOURCES[op >> 3]
 *   op & 7 == 4     the same, but the first "1:t<n>:" value in it is
 *                   replaced by the transaction id of our last query, so a
 *                   reply can be matched without guessing it
 *   op & 7 == 5     time: now += next byte * 50 ms, then every due dht_tick
 *   op & 7 == 6     operation: kind byte, 20-byte target (find_node,
 *                   get_peers, announce, collect; IPv4 or IPv6; with kind
 *                   bit 3: a BEP 44 get of the target, or a put of a fixed
 *                   signed item)
 *   op & 7 == 7     dht_add_node of SOURCES[op >> 3] (a bootstrap address) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dht/dht.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

const char *__asan_default_options(void);

/* An operation is a block of tens of kB; with ASan's default 256 MB quarantine every
 * new one lands on pages never touched before, and page faults take a third
 * of the time. 16 MB still holds the last few hundred freed blocks, for
 * use-after-free detection within and across inputs. */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char *args[256];
	static char no_leak_check[] = "-detect_leaks=0";
	if (*argc < 1 || *argc > 254)
		return 0;
	/* The flag goes before the corpus directories, after the program. */
	args[0] = (*argv)[0];
	args[1] = no_leak_check;
	for (int i = 1; i < *argc; i++)
		args[i + 1] = (*argv)[i];
	*argc += 1;
	*argv = args;
	return 0;
}

#define N_SOURCES 32
#define NODE_INPUTS 64

static struct sockaddr_storage sources[N_SOURCES];
static socklen_t source_lens[N_SOURCES];

static struct {
	uint64_t rng;
	uint8_t tid[16];            /* of our last query */
	size_t tid_len;
} F;

static void add6(int i, const char *a, uint16_t port)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&sources[i];
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	if (inet_pton(AF_INET6, a, &s->sin6_addr) != 1)
		abort();
	source_lens[i] = sizeof(*s);
}

static void add4(int i, const char *a, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)(void *)&sources[i];
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	if (inet_pton(AF_INET, a, &s->sin_addr) != 1)
		abort();
	source_lens[i] = sizeof(*s);
}

static void sources_init(void)
{
	static const char *const good6[] = {
		"2001:db8::1", "2001:db8::2", "2001:db8:0:1::3", "2001:db8:1::4",
		"2001:db8:2::5", "2001:db8:3::6", "2001:db8:4::7", "2001:db8:5::8",
		"2001:db8:6::9", "2001:db8:7::a", "2001:db8:8::b", "2001:db8:9::c",
		"2001:db8:a::d", "2001:db8:b::e", "2001:db8:c::f", "2001:db8:d::10",
	};
	for (int i = 0; i < 16; i++)
		add6(i, good6[i], (uint16_t)(6881 + i % 3));
	add6(16, "2001:db8::1", 6999);      /* a known address, another port */
	add6(17, "2001:db8::1", 0);         /* port 0 */
	add6(18, "::1", 6881);              /* martians */
	add6(19, "fe80::1", 6881);
	add6(20, "ff02::1", 6881);
	add6(21, "::", 6881);
	add6(22, "::ffff:192.0.2.1", 6881); /* IPv4-mapped */
	for (int i = 23; i < 30; i++) {
		char a[32];
		memcpy(a, "192.0.2.", 8);
		a[8] = (char)('1' + (i - 23));
		a[9] = 0;
		add4(i, a, 6881);
	}
	add4(30, "127.0.0.1", 6881);
	add4(31, "0.0.0.0", 6881);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Finds the value of the first "1:t<n>:" in buf: its offset and length. */
static bool find_tid(const uint8_t *buf, size_t len, size_t *off, size_t *n)
{
	for (size_t i = 0; i + 5 <= len; i++) {
		if (memcmp(buf + i, "1:t", 3) != 0)
			continue;
		size_t j = i + 3, v = 0;
		while (j < len && buf[j] >= '0' && buf[j] <= '9' && v < 100)
			v = v * 10 + (size_t)(buf[j++] - '0');
		if (j < len && buf[j] == ':' && v > 0 && j + 1 + v <= len) {
			*off = j + 1;
			*n = v;
			return true;
		}
	}
	return false;
}

static int fz_send(void *ctx, const uint8_t *buf, size_t len, const struct sockaddr *to,
		   socklen_t to_len)
{
	size_t off, n;
	if (len > 1500)
		abort();                /* no datagram we build exceeds a packet */
	/* A query (y=q) sets the id a reply must carry. */
	if (memmem(buf, len, "1:y1:q", 6) && find_tid(buf, len, &off, &n) && n <= sizeof(F.tid)) {
		memcpy(F.tid, buf + off, n);
		F.tid_len = n;
	}
	return 0;
}

static void fz_random(void *ctx, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(xorshift(&F.rng) >> 24);
}

static void on_result(void *closure, const struct dht_result *r)
{
}

/* One signed item, made once from a fixed seed: puts must be valid to get
 * past the node's own check and reach the put phase. */
static const struct dht_item *fixed_item(void)
{
	static struct dht_item it;
	static bool is_made;
	uint8_t seed[32] = { 1 }, sk[64], buf[128];
	if (is_made)
		return &it;
	crypto_sign_seed_keypair(it.k, sk, seed);
	memcpy(it.v, "5:hello", 7);
	it.v_len = 7;
	it.seq = 3;
	int n = dht_item_signed_data(buf, sizeof(buf), NULL, 0, it.seq, it.v, it.v_len);
	if (n < 0)
		abort();
	crypto_sign_detached(it.sig, NULL, buf, (size_t)n, sk);
	is_made = true;
	return &it;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool is_ready;
	static uint8_t pkt[1500];
	static struct dht *d;
	static unsigned n_inputs;
	static int64_t now, deadline;
	if (!is_ready) {
		sources_init();
		is_ready = true;
	}
	if (!d || n_inputs++ % NODE_INPUTS == 0) {
		static const struct dht_ops ops = { fz_send, fz_random, NULL };
		dht_free(d);
		memset(&F, 0, sizeof(F));
		F.rng = 0x9e3779b97f4a7c15ull;
		now = deadline = 1000000;
		if (dht_new(&ops, NULL, NULL, now, &d) < 0)
			abort();
	}
	size_t at = 0;
	while (at < size) {
		uint8_t op = data[at++];
		const struct sockaddr *src = (const struct sockaddr *)&sources[op >> 3];
		socklen_t src_len = source_lens[op >> 3];
		switch (op & 7) {
		case 0: case 1: case 2: case 3: case 4: {
			if (size - at < 2)
				goto done;
			size_t len = (size_t)data[at] << 8 | data[at + 1];
			at += 2;
			if (len > size - at)
				len = size - at;
			if (len > sizeof(pkt))
				len = sizeof(pkt);
			memcpy(pkt, data + at, len);
			at += len;
			size_t off, n;
			if ((op & 7) == 4 && F.tid_len && find_tid(pkt, len, &off, &n))
				memcpy(pkt + off, F.tid, n < F.tid_len ? n : F.tid_len);
			dht_input(d, pkt, len, src, src_len, now);
			break;
		}
		case 5:
			if (at < size)
				now += 50 * (int64_t)data[at++];
			/* Bounded: each call moves the deadline past now. */
			for (int i = 0; i < 64 && deadline <= now; i++)
				deadline = dht_tick(d, now);
			break;
		case 6: {
			if (size - at < 1 + DHT_ID_LEN)
				goto done;
			uint8_t kind = data[at];
			const uint8_t *target = data + at + 1;
			at += 1 + DHT_ID_LEN;
			int family = kind & 4 ? AF_INET : AF_INET6;
			uint16_t ports[3] = { 0x0161, 0x0262, 0x0363 };
			if (kind & 8) {
				if (kind & 1)
					(void)dht_put_item(d, fixed_item(), family, on_result, NULL, now);
				else
					(void)dht_get_item(d, target, NULL, 0, family, on_result, NULL, now);
				break;
			}
			switch (kind & 3) {
			case 0: (void)dht_find_node(d, target, family, on_result, NULL, now); break;
			case 1: (void)dht_get_peers(d, target, family, on_result, NULL, now); break;
			case 2: (void)dht_announce(d, target, family, ports, 3, on_result, NULL, now); break;
			case 3: (void)dht_collect(d, target, family, on_result, NULL, now); break;
			}
			break;
		}
		case 7:
			(void)dht_add_node(d, src, src_len, now);
			break;
		}
	}
done:;
	static uint8_t state[DHT_STATE_MAX_LEN];
	struct dht_stats st;
	dht_get_stats(d, now, &st);
	if (dht_save(d, now, state, sizeof(state)) < 0)
		abort();                /* the buffer is sized for a full table */
	return 0;
}
