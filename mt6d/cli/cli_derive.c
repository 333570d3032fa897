/* mt6d derive: the protocol's derivations, offline, so that an operator can
 * check what the daemons will compute and bind:
 *
 *   mt6d derive descriptor --key PRIVFILE --peer PUBKEY [--time T] [--period N]
 *   mt6d derive client-iid --key PRIVFILE --peer PUBKEY --intro-key HEX
 *   mt6d derive address --seed ADDR --rotation-key HEX [--time T]
 *                       [--rotation ROT] [--count N]
 *
 * T is UNIX seconds (fractions allowed: 1790000000.250) or an ISO 8601 UTC
 * date; the default is now. The output is "name value" lines, one fact a
 * line, stable for scripts. Secrets (s, private keys) are never printed. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt6d/base/clock.h"
#include "mt6d/core/config.h"
#include "mt6d/core/derive.h"
#include "mt6d/core/keys.h"
#include "mt6d/cli/subcommands.h"

#define DEFAULT_PERIOD_MS (15 * 60 * 1000)
#define DEFAULT_ROTATION_MS 3000
#define MAX_ROTATION_KEY_LEN 64
#define MAX_COUNT 1000

struct derive_args {
	const char *key_file, *peer, *intro_key, *seed, *rotation_key, *time;
	uint64_t period_ms, rotation_ms;
	unsigned long count;
};

static void derive_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s derive descriptor --key PRIVFILE --peer PUBKEY [--time T] [--period N]\n"
		"       %s derive client-iid --key PRIVFILE --peer PUBKEY --intro-key HEX\n"
		"       %s derive address --seed ADDR --rotation-key HEX [--time T] [--rotation ROT]\n"
		"                         [--count N]\n"
		"\n"
		"T: UNIX seconds (1790000000 or 1790000000.250) or YYYY-MM-DDTHH:MM:SSZ; default now.\n"
		"N, ROT: durations (900, 15min, 3s, 500ms); defaults 15min and 3s.\n"
		"ADDR: a seed address (the /64 prefix and the seed IID).\n"
		"HEX: a key in hexadecimal (16 or 32 bytes).\n",
		prog_name, prog_name, prog_name);
}

/* Milliseconds since the epoch. */
static int parse_time_ms(const char *value, int64_t *ms_out)
{
	char *end;
	int64_t s;

	if (!value) {
		*ms_out = wall_now_ms();
		return 0;
	}
	if (value[0] && value[strspn(value, "0123456789.")] == '\0') {
		long long whole;
		int64_t frac = 0, scale = 100;

		errno = 0;
		whole = strtoll(value, &end, 10);
		if (errno || whole > INT64_MAX / 1000 - 1)
			return -EINVAL;
		if (*end == '.') {
			for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10)
				frac += scale * (*end - '0');
		}
		if (*end)
			return -EINVAL;
		*ms_out = (int64_t)whole * 1000 + frac;
		return 0;
	}
	if (config_parse_date(value, &s, NULL, 0) < 0)
		return -EINVAL;
	*ms_out = s * 1000;
	return 0;
}

static int parse_hex_key(const char *value, uint8_t *key, size_t *len_out)
{
	size_t len = 0;

	if (sodium_hex2bin(key, MAX_ROTATION_KEY_LEN, value, strlen(value), NULL, &len, NULL) != 0 ||
	    (len != 16 && len != 32))
		return -EINVAL;
	*len_out = len;
	return 0;
}

static void format_time(char *buf, size_t len, int64_t t_ms)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (t_ms % 1000)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(t_ms % 1000));
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_hex(const char *name, const uint8_t *p, size_t len)
{
	char hex[2 * 64 + 1];

	sodium_bin2hex(hex, sizeof(hex), p, len);
	printf("%-13s %s\n", name, hex);
}

/* s from --key and --peer; prints its own error. */
static int load_shared_secret(const struct derive_args *a, uint8_t s[static MT6D_KEY_LEN])
{
	uint8_t priv[MT6D_KEY_LEN], pub[MT6D_KEY_LEN];
	char msg[160];
	int rc;

	if (!a->key_file || !a->peer) {
		fprintf(stderr, "%s derive: --key and --peer are required\n", prog_name);
		return -EINVAL;
	}
	if (keys_from_base64(pub, a->peer) < 0) {
		fprintf(stderr, "%s derive: --peer: not a public key (44 characters of base64)\n",
			prog_name);
		return -EINVAL;
	}
	rc = keys_load_private_file(a->key_file, priv, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "%s derive: %s: %s\n", prog_name, a->key_file, msg);
		return rc;
	}
	rc = keys_shared_secret(s, priv, pub);
	sodium_memzero(priv, sizeof(priv));
	if (rc < 0)
		fprintf(stderr, "%s derive: --peer: not a usable public key (low order)\n",
			prog_name);
	return rc;
}

static int derive_descriptor_cmd(const struct derive_args *a)
{
	uint8_t s[MT6D_KEY_LEN], d[DERIVE_DESCRIPTOR_LEN];
	char when[96];
	int64_t t_ms;
	uint64_t window;

	if (a->period_ms < 1000 || a->period_ms % 1000 || a->period_ms / 1000 > UINT32_MAX) {
		fprintf(stderr, "%s derive: --period must be a whole number of seconds, at least 1s\n",
			prog_name);
		return 1;
	}
	if (parse_time_ms(a->time, &t_ms) < 0) {
		fprintf(stderr, "%s derive: --time: not a time: '%s'\n", prog_name, a->time);
		return 1;
	}
	if (load_shared_secret(a, s) < 0)
		return 1;
	window = derive_window_start(t_ms / 1000, (uint32_t)(a->period_ms / 1000));
	derive_descriptor(d, s, window);
	sodium_memzero(s, sizeof(s));
	format_time(when, sizeof(when), (int64_t)window * 1000);
	printf("%-13s %" PRIu64 " (%s)\n", "window", window, when);
	printf("%-13s %" PRIu64 "\n", "period", a->period_ms / 1000);
	print_hex("descriptor", d, sizeof(d));
	return fflush(stdout) == 0 ? 0 : 1;
}

static int derive_client_iid_cmd(const struct derive_args *a)
{
	uint8_t s[MT6D_KEY_LEN], key[MAX_ROTATION_KEY_LEN], iid[DERIVE_IID_LEN];
	size_t key_len;

	if (!a->intro_key || parse_hex_key(a->intro_key, key, &key_len) < 0) {
		fprintf(stderr, "%s derive: --intro-key: 16 or 32 bytes in hexadecimal expected\n",
			prog_name);
		return 1;
	}
	if (load_shared_secret(a, s) < 0)
		return 1;
	derive_client_iid(iid, s, key, key_len);
	sodium_memzero(s, sizeof(s));
	sodium_memzero(key, sizeof(key));
	print_hex("client-iid", iid, sizeof(iid));
	return fflush(stdout) == 0 ? 0 : 1;
}

static int derive_address_cmd(const struct derive_args *a)
{
	uint8_t key[MAX_ROTATION_KEY_LEN];
	struct in6_addr seed;
	size_t key_len;
	int64_t t_ms;
	uint64_t slot;
	unsigned long i;

	if (!a->seed || inet_pton(AF_INET6, a->seed, &seed) != 1) {
		fprintf(stderr, "%s derive: --seed: an IPv6 address expected\n", prog_name);
		return 1;
	}
	if (!a->rotation_key || parse_hex_key(a->rotation_key, key, &key_len) < 0) {
		fprintf(stderr, "%s derive: --rotation-key: 16 or 32 bytes in hexadecimal expected\n",
			prog_name);
		return 1;
	}
	if (a->rotation_ms == 0 || a->rotation_ms > UINT32_MAX) {
		fprintf(stderr, "%s derive: --rotation must be between 1ms and 49 days\n", prog_name);
		return 1;
	}
	if (a->count == 0 || a->count > MAX_COUNT) {
		fprintf(stderr, "%s derive: --count must be 1-%d\n", prog_name, MAX_COUNT);
		return 1;
	}
	if (parse_time_ms(a->time, &t_ms) < 0) {
		fprintf(stderr, "%s derive: --time: not a time: '%s'\n", prog_name, a->time);
		return 1;
	}
	slot = derive_slot(t_ms, (uint32_t)a->rotation_ms);
	for (i = 0; i < a->count; i++) {
		char addr[INET6_ADDRSTRLEN], when[96];
		struct in6_addr ep;
		uint16_t port;

		derive_slot_endpoint(seed.s6_addr, key, key_len, slot + i, &ep, &port);
		inet_ntop(AF_INET6, &ep, addr, sizeof(addr));
		format_time(when, sizeof(when), (int64_t)((slot + i) * a->rotation_ms));
		printf("slot %" PRIu64 " %s address %s port %u\n", slot + i, when, addr, port);
	}
	sodium_memzero(key, sizeof(key));
	return fflush(stdout) == 0 ? 0 : 1;
}

int derive_main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "peer", required_argument, NULL, 'p' },
		{ "intro-key", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 's' },
		{ "rotation-key", required_argument, NULL, 'K' },
		{ "time", required_argument, NULL, 't' },
		{ "period", required_argument, NULL, 'n' },
		{ "rotation", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct derive_args a = { .period_ms = DEFAULT_PERIOD_MS, .rotation_ms = DEFAULT_ROTATION_MS,
				 .count = 1 };
	const char *what;
	char msg[128];
	int opt;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		derive_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	what = argv[1];
	optind = 1;
	while ((opt = getopt_long(argc - 1, argv + 1, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'k': a.key_file = optarg; break;
		case 'p': a.peer = optarg; break;
		case 'i': a.intro_key = optarg; break;
		case 's': a.seed = optarg; break;
		case 'K': a.rotation_key = optarg; break;
		case 't': a.time = optarg; break;
		case 'n':
		case 'r':
			if (config_parse_duration_ms(optarg, opt == 'n' ? &a.period_ms : &a.rotation_ms,
						     msg, sizeof(msg)) < 0) {
				fprintf(stderr, "%s derive: --%s: %s: '%s'\n", prog_name,
					opt == 'n' ? "period" : "rotation", msg, optarg);
				return 1;
			}
			break;
		case 'c': {
			char *end;

			errno = 0;
			a.count = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-')
				a.count = 0;
			break;
		}
		case 'h':
			derive_usage(stdout);
			return 0;
		default:
			derive_usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s derive: unexpected argument '%s'\n", prog_name, argv[optind + 1]);
		return 1;
	}
	if (!strcmp(what, "descriptor"))
		return derive_descriptor_cmd(&a);
	if (!strcmp(what, "client-iid"))
		return derive_client_iid_cmd(&a);
	if (!strcmp(what, "address"))
		return derive_address_cmd(&a);
	fprintf(stderr, "%s derive: unknown computation '%s'\n", prog_name, what);
	derive_usage(stderr);
	return 1;
}
