#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mt6d/core/guardrules.h"

struct text {
	char *buf;
	size_t len, cap;
	bool is_full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->is_full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len) {
		t->is_full = true;
		return;
	}
	t->len += (size_t)n;
}

static int done(const struct text *t)
{
	return t->is_full ? -ENOSPC : (int)t->len;
}

static struct text text_init(char *buf, size_t buf_len)
{
	struct text t = { .buf = buf, .cap = buf_len, .is_full = buf_len == 0 };

	if (buf_len)
		buf[0] = '\0';
	return t;
}

int guardrules_table_name(const char *role, const char *ifname, char out[static GUARDRULES_NAME_LEN])
{
	int n = snprintf(out, GUARDRULES_NAME_LEN, "mt6d-%s-%s", role, ifname);
	char *p;

	if (n < 0 || n >= GUARDRULES_NAME_LEN)
		return -ENAMETOOLONG;
	for (p = out + strlen("mt6d-") + strlen(role) + 1; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			*p = '_';
	}
	return 0;
}

int guardrules_table(const char *table, char *buf, size_t buf_len)
{
	struct text t = text_init(buf, buf_len);

	/* "add" then "delete" then the definition, in one transaction: a
	 * table left by a crashed run goes, and no instant passes unguarded. */
	put(&t, "add table inet %s\ndelete table inet %s\n", table, table);
	put(&t, "table inet %s {\n", table);
	put(&t, "\tset tun6 { type ipv6_addr; flags interval; auto-merge; }\n");
	put(&t, "\tset claim { type ipv6_addr; flags interval; auto-merge; }\n");
	put(&t, "\tset host { type ipv6_addr; }\n");
	put(&t, "\tset mt6d { type ipv6_addr; flags timeout; }\n");
	put(&t, "\tset ep { type ipv6_addr . inet_service; flags timeout; }\n");
	put(&t, "\tset mux { type ipv6_addr . inet_service; flags timeout; }\n");
	/* Packet too big must reach the sockets of the tunnel (path MTU). */
	put(&t, "\tchain in_mt6d {\n"
		"\t\tip6 daddr . udp dport @ep accept\n"
		"\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, packet-too-big } accept\n"
		"\t\tdrop\n\t}\n");
	put(&t, "\tchain out_mt6d {\n"
		"\t\tip6 saddr . udp sport @ep accept\n"
		"\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n"
		"\t\tdrop\n\t}\n");
	/* Linux is a weak host: an address on a TUN answers on every
	 * interface unless told otherwise. */
	put(&t, "\tchain input {\n"
		"\t\ttype filter hook input priority filter - 5; policy accept;\n"
		"\t\tiif lo accept\n"
		"\t\tip6 daddr @tun6 meta iifkind \"tun\" accept\n"
		"\t\tip6 daddr @tun6 drop\n"
		"\t\tip6 daddr @mt6d jump in_mt6d\n"
		"\t\tip6 daddr @claim ip6 daddr != @host jump in_mt6d\n"
		"\t}\n");
	/* Fail closed: nothing to or from a tunnel address leaves but through
	 * a TUN (the unreachable routes catch it first; this is the second
	 * lock, e.g. against a policy route). */
	put(&t, "\tchain output {\n"
		"\t\ttype filter hook output priority filter - 5; policy accept;\n"
		"\t\toif lo accept\n"
		"\t\tip6 daddr @tun6 meta oifkind != \"tun\" drop\n"
		"\t\tip6 saddr @tun6 meta oifkind != \"tun\" drop\n"
		"\t\tip6 saddr @mt6d jump out_mt6d\n"
		"\t\tip6 saddr @claim ip6 saddr != @host jump out_mt6d\n"
		"\t}\n}\n");
	return done(&t);
}

int guardrules_delete(const char *table, char *buf, size_t buf_len)
{
	struct text t = text_init(buf, buf_len);

	put(&t, "delete table inet %s\n", table);
	return done(&t);
}

int guardrules_tproxy(const char *table, uint16_t port, char *buf, size_t buf_len)
{
	struct text t = text_init(buf, buf_len);

	/* Prerouting: tproxy only acts there. The endpoints stay governed by
	 * the input chain (ep), which every muxed endpoint is also in. */
	put(&t, "add chain inet %s mux_pre { type filter hook prerouting priority mangle; "
		"policy accept; }\n", table);
	put(&t, "add rule inet %s mux_pre meta l4proto udp ip6 daddr . udp dport @mux "
		"tproxy ip6 to [::1]:%u\n", table, port);
	return done(&t);
}

static void put_elements(struct text *t, const char *table, const char *set,
			 const struct guardrules_ep *eps, size_t n, bool with_port, bool muxed_only)
{
	char a[INET6_ADDRSTRLEN];
	size_t i, k = 0;

	put(t, "add element inet %s %s { ", table, set);
	for (i = 0; i < n; i++) {
		if (muxed_only && !eps[i].is_muxed)
			continue;
		inet_ntop(AF_INET6, &eps[i].addr, a, sizeof(a));
		if (with_port)
			put(t, "%s%s . %u timeout %" PRIu32 "ms", k ? ", " : "", a, eps[i].port,
			    eps[i].lifetime_ms);
		else
			put(t, "%s%s timeout %" PRIu32 "ms", k ? ", " : "", a, eps[i].lifetime_ms);
		k++;
	}
	put(t, " }\n");
}

int guardrules_endpoints(const char *table, const struct guardrules_ep *eps, size_t n,
			 char *buf, size_t buf_len)
{
	struct text t = text_init(buf, buf_len);
	size_t i, muxed = 0;

	if (n == 0)
		return done(&t);
	for (i = 0; i < n; i++)
		muxed += eps[i].is_muxed;
	/* ep before mt6d: an address is never in mt6d without its port; mux
	 * last: nothing is handed to the mux socket that input would drop. */
	put_elements(&t, table, "ep", eps, n, true, false);
	put_elements(&t, table, "mt6d", eps, n, false, false);
	if (muxed)
		put_elements(&t, table, "mux", eps, n, true, true);
	return done(&t);
}

static int prefix_op(const char *verb, const char *table, const char *set_name,
		     const struct in6_addr *addr, unsigned prefix_len, char *buf, size_t buf_len)
{
	struct text t = text_init(buf, buf_len);
	char a[INET6_ADDRSTRLEN];

	if (prefix_len > 128)
		return -EINVAL;
	inet_ntop(AF_INET6, addr, a, sizeof(a));
	if (prefix_len == 128)
		put(&t, "%s element inet %s %s { %s }\n", verb, table, set_name, a);
	else
		put(&t, "%s element inet %s %s { %s/%u }\n", verb, table, set_name, a, prefix_len);
	return done(&t);
}

int guardrules_prefix(const char *table, const char *set_name, const struct in6_addr *addr,
		      unsigned prefix_len, char *buf, size_t buf_len)
{
	return prefix_op("add", table, set_name, addr, prefix_len, buf, buf_len);
}

int guardrules_prefix_delete(const char *table, const char *set_name, const struct in6_addr *addr,
			     unsigned prefix_len, char *buf, size_t buf_len)
{
	return prefix_op("delete", table, set_name, addr, prefix_len, buf, buf_len);
}
