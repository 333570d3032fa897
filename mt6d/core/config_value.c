/* mt6d/core/config: the value parsers (durations, ports, padding, keys,
 * host:port, dates, addresses), shared by the config files and the
 * command-line options; config.c reads the files. */
#include "mt6d/core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mt6d/core/keys.h"
#include "mt6d/core/util.h"

int config_parse_u64(const char *s, const char **end_out, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		p++;
	}
	*end_out = p;
	*out = v;
	return 0;
}

int config_parse_duration_ms(const char *value, uint64_t *ms_out, char *msg, size_t msg_len)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "min", 60000 }, { "m", 60000 },
		{ "h", 3600000 },
	};
	const char *end;
	uint64_t v;
	size_t i;

	if (config_parse_u64(value, &end, &v) < 0) {
		set_msg(msg, msg_len, "not a duration (e.g. 3s, 500ms, 15min)");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].ms) {
				set_msg(msg, msg_len, "duration too large");
				return -EINVAL;
			}
			*ms_out = v * units[i].ms;
			return 0;
		}
	}
	set_msg(msg, msg_len, "unknown unit (use ms, s, min or h)");
	return -EINVAL;
}

int config_parse_port(const char *value, uint16_t *port_out, char *msg, size_t msg_len)
{
	const char *end;
	uint64_t v;

	if (config_parse_u64(value, &end, &v) < 0 || *end || v == 0 || v > 65535) {
		set_msg(msg, msg_len, "not a port number (1-65535)");
		return -EINVAL;
	}
	*port_out = (uint16_t)v;
	return 0;
}

_Static_assert(CONFIG_MIN_PADDING == 16 && CONFIG_MAX_PADDING == 65535, "message of config_parse_padding");

int config_parse_padding(const char *value, uint32_t *bytes_out, char *msg, size_t msg_len)
{
	const char *end;
	uint64_t v;

	if (!strcasecmp(value, "off")) {
		*bytes_out = 0;
		return 0;
	}
	if (config_parse_u64(value, &end, &v) < 0 || *end || v < CONFIG_MIN_PADDING ||
	    v > CONFIG_MAX_PADDING) {
		set_msg(msg, msg_len, "must be off or a bucket of 16 to 65535 bytes");
		return -EINVAL;
	}
	*bytes_out = (uint32_t)v;
	return 0;
}

int config_parse_key(const char *value, uint8_t key_out[static CONFIG_KEY_LEN],
		     char *msg, size_t msg_len)
{
	static const uint8_t zero[CONFIG_KEY_LEN];
	uint8_t key[CONFIG_KEY_LEN];
	size_t bin_len = 0;
	const char *end = NULL;

	/* Base64 of 32 bytes is exactly 44 characters with one '=' of padding. */
	if (strlen(value) != sodium_base64_ENCODED_LEN(CONFIG_KEY_LEN,
						       sodium_base64_VARIANT_ORIGINAL) - 1 ||
	    sodium_base642bin(key, sizeof(key), value, strlen(value), NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != CONFIG_KEY_LEN || (end && *end)) {
		sodium_memzero(key, sizeof(key));
		set_msg(msg, msg_len, "not a key (44 characters of base64, as 'mt6d pubkey' prints)");
		return -EINVAL;
	}
	if (sodium_memcmp(key, zero, sizeof(key)) == 0) {
		set_msg(msg, msg_len, "the all-zero key is not a valid key");
		return -EINVAL;
	}
	memcpy(key_out, key, CONFIG_KEY_LEN);
	sodium_memzero(key, sizeof(key));
	return 0;
}

static bool is_hostname(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '.')
			return false;
	}
	return s[0] != '-' && s[0] != '.';
}

int config_parse_hostport(const char *value, char *msg, size_t msg_len)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *colon;
	uint16_t port;

	if (value[0] == '[') {
		const char *close = strchr(value, ']');
		size_t len;

		if (!close || close[1] != ':') {
			set_msg(msg, msg_len, "expected [IPv6]:port");
			return -EINVAL;
		}
		len = (size_t)(close - value - 1);
		if (len == 0 || len >= sizeof(addr)) {
			set_msg(msg, msg_len, "bad IPv6 address");
			return -EINVAL;
		}
		memcpy(addr, value + 1, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1) {
			set_msg(msg, msg_len, "bad IPv6 address");
			return -EINVAL;
		}
		colon = close + 1;
	} else {
		colon = strrchr(value, ':');
		if (!colon || strchr(value, ':') != colon ||
		    !is_hostname(value, (size_t)(colon - value))) {
			set_msg(msg, msg_len, "expected host:port or [IPv6]:port");
			return -EINVAL;
		}
	}
	if (config_parse_port(colon + 1, &port, msg, msg_len) < 0)
		return -EINVAL;
	if (strlen(value) >= CONFIG_HOSTPORT_LEN) {
		set_msg(msg, msg_len, "too long");
		return -EINVAL;
	}
	return 0;
}

int config_parse_date(const char *value, int64_t *unix_s_out, char *msg, size_t msg_len)
{
	struct tm tm;
	const char *end;
	time_t t;

	/* ISO 8601, UTC: 2026-11-23 or 2026-11-23T08:00:00Z. */
	memset(&tm, 0, sizeof(tm));
	end = strptime(value, "%Y-%m-%d", &tm);
	if (end && *end == 'T')
		end = strptime(end + 1, "%H:%M:%S", &tm);
	if (end && *end == 'Z')
		end++;
	if (!end || *end || tm.tm_year < 70 || tm.tm_year > 1100) {
		set_msg(msg, msg_len, "not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)");
		return -EINVAL;
	}
	t = timegm(&tm);
	if (t == (time_t)-1) {
		set_msg(msg, msg_len, "date out of range");
		return -EINVAL;
	}
	*unix_s_out = (int64_t)t;
	return 0;
}

int config_parse_address(const char *value, uint8_t addr_out[static CONFIG_ADDR_LEN],
			 uint8_t *prefix_out, char *msg, size_t msg_len)
{
	char text[INET6_ADDRSTRLEN];
	uint8_t addr[CONFIG_ADDR_LEN];
	const char *slash = strchr(value, '/');
	size_t len = slash ? (size_t)(slash - value) : strlen(value);
	uint64_t prefix = 128;

	if (len == 0 || len >= sizeof(text)) {
		set_msg(msg, msg_len, "not an IPv6 address");
		return -EINVAL;
	}
	memcpy(text, value, len);
	text[len] = '\0';
	if (inet_pton(AF_INET6, text, addr) != 1) {
		set_msg(msg, msg_len, "not an IPv6 address");
		return -EINVAL;
	}
	if (slash) {
		const char *end;

		if (!prefix_out) {
			set_msg(msg, msg_len, "an address without /prefix is expected here");
			return -EINVAL;
		}
		if (config_parse_u64(slash + 1, &end, &prefix) < 0 || *end || prefix == 0 || prefix > 128) {
			set_msg(msg, msg_len, "prefix length must be 1-128");
			return -EINVAL;
		}
	}
	memcpy(addr_out, addr, CONFIG_ADDR_LEN);
	if (prefix_out)
		*prefix_out = (uint8_t)prefix;
	return 0;
}
