/* Links, tunnel addresses and routes through libnl-route-3. */
#include "netlink/nllink.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>

enum reg_kind { REG_ADDR = 1, REG_ROUTE, REG_LINK };

struct reg_entry {
	enum reg_kind kind;
	unsigned ifindex;
	struct in6_addr addr;    /* address or route destination */
	unsigned prefix_len;
	uint8_t table, type;     /* routes: RT_TABLE_*, RTN_* */
	bool is_live;            /* false once deleted */
};

struct nllink {
	struct nl_sock *sock;
	int kernel_err;                  /* -errno of the last kernel error ack */
	char kernel_msg[128];            /* its extack text */
	struct reg_entry *reg;
	size_t reg_len, reg_cap, reg_live;
};

/* libnl knows only its own codes for errors it raised itself (allocation,
 * parsing); the kernel's errno comes from the error callback below. */
static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_BUSY: return -EBUSY;
	case NLE_RANGE: return -ERANGE;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_MSGSIZE: return -EMSGSIZE;
	case NLE_INTR: return -EINTR;
	case NLE_MISSING_ATTR:
	case NLE_INVAL: return -EINVAL;
	default: return -EIO;
	}
}

/* Keeps the kernel's own errno and extack text (libnl 3.7 has no API for
 * extended acks): the error header sits right after the netlink header. */
static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nllink *nl = arg;
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	(void)nla;

	nl->kernel_err = e->error;
	nl->kernel_msg[0] = '\0';
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = NLMSG_HDRLEN + sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		while (off + sizeof(struct nlattr) <= nlh->nlmsg_len) {
			const struct nlattr *a = (const struct nlattr *)((const char *)nlh + off);
			size_t alen = a->nla_len;

			if (alen < sizeof(*a) || off + alen > nlh->nlmsg_len)
				break;
			if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && alen > sizeof(*a)) {
				const char *s = (const char *)a + NLA_HDRLEN;
				snprintf(nl->kernel_msg, sizeof(nl->kernel_msg), "%.*s",
					 (int)(alen - NLA_HDRLEN), s);
			}
			off += NLA_ALIGN(alen);
		}
	}
	return NL_STOP;
}

/* Turns a libnl return into -errno and fills msg. */
static int finish(struct nllink *nl, int rc, char *msg, size_t msg_len)
{
	if (rc >= 0) {
		if (msg && msg_len)
			msg[0] = '\0';
		return 0;
	}
	if (nl->kernel_err < 0) {
		rc = nl->kernel_err;
		if (msg && msg_len)
			snprintf(msg, msg_len, "%s", nl->kernel_msg);
	} else {
		if (msg && msg_len)
			snprintf(msg, msg_len, "libnl: %s", nl_geterror(rc));
		rc = nle_to_errno(rc);
	}
	return rc;
}

static void begin(struct nllink *nl)
{
	nl->kernel_err = 0;
	nl->kernel_msg[0] = '\0';
}

int nllink_new(struct nllink **nl_out)
{
	struct nllink *nl;
	struct nl_cb *cb;
	int one = 1, rc;

	if (!nl_out)
		return -EINVAL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = nl_connect(nl->sock, NETLINK_ROUTE);
	if (rc < 0) {
		rc = nle_to_errno(rc);
		goto fail;
	}
	setsockopt(nl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	cb = nl_socket_get_cb(nl->sock);
	nl_cb_err(cb, NL_CB_CUSTOM, err_cb, nl);
	nl_cb_put(cb);
	*nl_out = nl;
	return 0;
fail:
	nllink_free(nl);
	return rc;
}

void nllink_free(struct nllink *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		nl_socket_free(nl->sock);
	free(nl->reg);
	free(nl);
}

size_t nllink_registry_count(const struct nllink *nl)
{
	return nl->reg_live;
}

size_t nllink_registry_capacity(const struct nllink *nl)
{
	return nl->reg_cap;
}

/* Drops the entries of deleted objects, keeping the order of the others
 * (cleanup deletes newest first). */
static void reg_compact(struct nllink *nl)
{
	size_t i, j = 0;

	for (i = 0; i < nl->reg_len; i++)
		if (nl->reg[i].is_live)
			nl->reg[j++] = nl->reg[i];
	nl->reg_len = j;
}

static int reg_add(struct nllink *nl, enum reg_kind kind, unsigned ifindex,
		   const struct in6_addr *addr, unsigned prefix_len, uint8_t table, uint8_t type)
{
	struct reg_entry *e;

	/* A full array that is at least half dead is compacted rather than
	 * grown: sessions made and ended for days leave the array at twice
	 * its peak of live entries, and compaction stays amortised O(1). */
	if (nl->reg_len == nl->reg_cap && nl->reg_live <= nl->reg_cap / 2)
		reg_compact(nl);
	if (nl->reg_len == nl->reg_cap) {
		size_t cap = nl->reg_cap ? nl->reg_cap * 2 : 16;
		struct reg_entry *r = realloc(nl->reg, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		nl->reg = r;
		nl->reg_cap = cap;
	}
	e = &nl->reg[nl->reg_len++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ifindex = ifindex;
	if (addr)
		e->addr = *addr;
	e->prefix_len = prefix_len;
	e->table = table;
	e->type = type;
	e->is_live = true;
	nl->reg_live++;
	return 0;
}

static void reg_forget(struct nllink *nl, enum reg_kind kind, unsigned ifindex,
		       const struct in6_addr *addr, unsigned prefix_len, uint8_t table)
{
	for (size_t i = nl->reg_len; i-- > 0;) {
		struct reg_entry *e = &nl->reg[i];

		if (!e->is_live || e->kind != kind || e->ifindex != ifindex)
			continue;
		if (kind != REG_LINK && (e->prefix_len != prefix_len || memcmp(&e->addr, addr, 16)))
			continue;
		if (kind == REG_ROUTE && e->table != table)
			continue;
		e->is_live = false;
		nl->reg_live--;
		if (kind != REG_LINK)
			return;
		break;
	}
	/* Deleting a link takes its addresses and routes with it. */
	if (kind == REG_LINK)
		for (size_t i = 0; i < nl->reg_len; i++)
			if (nl->reg[i].is_live && nl->reg[i].ifindex == ifindex) {
				nl->reg[i].is_live = false;
				nl->reg_live--;
			}
}

size_t nllink_forget_ifindex(struct nllink *nl, unsigned ifindex)
{
	size_t i, n = 0;

	if (!nl)
		return 0;
	for (i = 0; i < nl->reg_len; i++)
		if (nl->reg[i].is_live && nl->reg[i].ifindex == ifindex) {
			nl->reg[i].is_live = false;
			nl->reg_live--;
			n++;
		}
	if (nl->reg_live == 0)
		nl->reg_len = 0;
	return n;
}

int nllink_ifindex(struct nllink *nl, const char *name)
{
	unsigned i;

	(void)nl;
	if (!name)
		return -EINVAL;
	i = if_nametoindex(name);
	return i ? (int)i : -ENODEV;
}

static int link_change(struct nllink *nl, unsigned ifindex, struct rtnl_link *changes,
		       char *msg, size_t msg_len)
{
	struct rtnl_link *orig = NULL;
	int rc;

	begin(nl);
	rc = rtnl_link_get_kernel(nl->sock, (int)ifindex, NULL, &orig);
	if (rc >= 0)
		rc = rtnl_link_change(nl->sock, orig, changes, 0);
	rc = finish(nl, rc, msg, msg_len);
	if (orig)
		rtnl_link_put(orig);
	return rc;
}

int nllink_set_up(struct nllink *nl, unsigned ifindex, bool is_up, char *msg, size_t msg_len)
{
	struct rtnl_link *ch = rtnl_link_alloc();
	int rc;

	if (!ch)
		return -ENOMEM;
	if (is_up)
		rtnl_link_set_flags(ch, IFF_UP);
	else
		rtnl_link_unset_flags(ch, IFF_UP);
	rc = link_change(nl, ifindex, ch, msg, msg_len);
	rtnl_link_put(ch);
	return rc;
}

int nllink_set_mtu(struct nllink *nl, unsigned ifindex, unsigned mtu, char *msg, size_t msg_len)
{
	struct rtnl_link *ch;
	int rc;

	if (mtu == 0)
		return -EINVAL;
	ch = rtnl_link_alloc();
	if (!ch)
		return -ENOMEM;
	rtnl_link_set_mtu(ch, mtu);
	rc = link_change(nl, ifindex, ch, msg, msg_len);
	rtnl_link_put(ch);
	return rc;
}

static struct nl_addr *make_addr(const struct in6_addr *a, unsigned prefix_len)
{
	struct nl_addr *na = nl_addr_build(AF_INET6, a, 16);

	if (na)
		nl_addr_set_prefixlen(na, (int)prefix_len);
	return na;
}

static int addr_op(struct nllink *nl, bool is_add, unsigned ifindex, const struct in6_addr *addr,
		   unsigned prefix_len, char *msg, size_t msg_len)
{
	struct rtnl_addr *ra;
	struct nl_addr *local;
	int rc;

	if (!addr || ifindex == 0 || prefix_len > 128)
		return -EINVAL;
	ra = rtnl_addr_alloc();
	local = make_addr(addr, prefix_len);
	if (!ra || !local) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rtnl_addr_set_family(ra, AF_INET6);
	rtnl_addr_set_ifindex(ra, (int)ifindex);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, (int)prefix_len);
	begin(nl);
	if (is_add) {
		/* Tunnel addresses must be usable at once: no DAD on a TUN. */
		unsigned flags = IFA_F_NODAD;
		if (prefix_len == 128)
			flags |= IFA_F_NOPREFIXROUTE;
		rtnl_addr_set_flags(ra, flags);
		rc = rtnl_addr_add(nl->sock, ra, NLM_F_EXCL);
	} else {
		rc = rtnl_addr_delete(nl->sock, ra, 0);
	}
	rc = finish(nl, rc, msg, msg_len);
	if (rc == 0 && is_add)
		rc = reg_add(nl, REG_ADDR, ifindex, addr, prefix_len, 0, 0);
	else if (!is_add && (rc == 0 || rc == -EADDRNOTAVAIL))
		reg_forget(nl, REG_ADDR, ifindex, addr, prefix_len, 0);
cleanup:
	if (local)
		nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	return rc;
}

int nllink_add_addr(struct nllink *nl, unsigned ifindex, const struct in6_addr *addr,
		    unsigned prefix_len, char *msg, size_t msg_len)
{
	return addr_op(nl, true, ifindex, addr, prefix_len, msg, msg_len);
}

int nllink_del_addr(struct nllink *nl, unsigned ifindex, const struct in6_addr *addr,
		    unsigned prefix_len, char *msg, size_t msg_len)
{
	return addr_op(nl, false, ifindex, addr, prefix_len, msg, msg_len);
}

/* An IPv6 route dst/prefix_len of our protocol proto, or NULL (-ENOMEM). */
static struct rtnl_route *route_alloc(const struct in6_addr *dst, unsigned prefix_len,
				      uint8_t table, uint8_t type, uint8_t proto)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *d = make_addr(dst, prefix_len);

	if (rt && d) {
		rtnl_route_set_family(rt, AF_INET6);
		rtnl_route_set_table(rt, table);
		rtnl_route_set_dst(rt, d);
		/* As iproute2 sets it: host scope for local routes. */
		rtnl_route_set_scope(rt, type == RTN_LOCAL ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE);
		rtnl_route_set_protocol(rt, proto);
		rtnl_route_set_type(rt, type);
	} else if (rt) {
		rtnl_route_put(rt);
		rt = NULL;
	}
	if (d)
		nl_addr_put(d); /* the route holds its own reference */
	return rt;
}

static int route_op(struct nllink *nl, bool is_add, unsigned ifindex, const struct in6_addr *dst,
		    unsigned prefix_len, uint8_t table, uint8_t type, char *msg, size_t msg_len)
{
	struct rtnl_route *rt;
	struct rtnl_nexthop *nh = NULL;
	int rc;

	if (!dst || ifindex == 0 || prefix_len > 128)
		return -EINVAL;
	rt = route_alloc(dst, prefix_len, table, type, NLLINK_PROTO_MT6D);
	if (!rt)
		return -ENOMEM;
	nh = rtnl_route_nh_alloc();
	if (!nh) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rtnl_route_nh_set_ifindex(nh, (int)ifindex);
	rtnl_route_add_nexthop(rt, nh); /* the route owns nh from here */
	begin(nl);
	if (is_add)
		rc = rtnl_route_add(nl->sock, rt, NLM_F_EXCL);
	else
		rc = rtnl_route_delete(nl->sock, rt, 0);
	rc = finish(nl, rc, msg, msg_len);
	if (rc == 0 && is_add)
		rc = reg_add(nl, REG_ROUTE, ifindex, dst, prefix_len, table, type);
	else if (!is_add && (rc == 0 || rc == -ESRCH))
		reg_forget(nl, REG_ROUTE, ifindex, dst, prefix_len, table);
cleanup:
	rtnl_route_put(rt);
	return rc;
}

int nllink_add_route(struct nllink *nl, unsigned ifindex, const struct in6_addr *dst,
		     unsigned prefix_len, char *msg, size_t msg_len)
{
	return route_op(nl, true, ifindex, dst, prefix_len, RT_TABLE_MAIN, RTN_UNICAST, msg, msg_len);
}

int nllink_del_route(struct nllink *nl, unsigned ifindex, const struct in6_addr *dst,
		     unsigned prefix_len, char *msg, size_t msg_len)
{
	return route_op(nl, false, ifindex, dst, prefix_len, RT_TABLE_MAIN, RTN_UNICAST, msg, msg_len);
}

int nllink_add_unreachable(struct nllink *nl, const struct in6_addr *dst, unsigned prefix_len,
			   uint32_t metric, char *msg, size_t msg_len)
{
	struct rtnl_route *rt;
	int rc;

	if (!dst || prefix_len > 128)
		return -EINVAL;
	rt = route_alloc(dst, prefix_len, RT_TABLE_MAIN, RTN_UNREACHABLE,
			 NLLINK_PROTO_MT6D_FAILCLOSED);
	if (!rt)
		return -ENOMEM;
	rtnl_route_set_priority(rt, metric);
	begin(nl);
	/* Replace: the same route left by an earlier run is taken over. */
	rc = rtnl_route_add(nl->sock, rt, NLM_F_REPLACE);
	rc = finish(nl, rc, msg, msg_len);
	rtnl_route_put(rt);
	return rc;
}

int nllink_add_local_prefix(struct nllink *nl, unsigned ifindex, const struct in6_addr *prefix,
			    unsigned prefix_len, char *msg, size_t msg_len)
{
	return route_op(nl, true, ifindex, prefix, prefix_len, RT_TABLE_LOCAL, RTN_LOCAL, msg, msg_len);
}

int nllink_del_local_prefix(struct nllink *nl, unsigned ifindex, const struct in6_addr *prefix,
			    unsigned prefix_len, char *msg, size_t msg_len)
{
	return route_op(nl, false, ifindex, prefix, prefix_len, RT_TABLE_LOCAL, RTN_LOCAL, msg, msg_len);
}

int nllink_add_local_exception(struct nllink *nl, unsigned ifindex, const struct in6_addr *addr,
			       char *msg, size_t msg_len)
{
	return route_op(nl, true, ifindex, addr, 128, RT_TABLE_LOCAL, RTN_UNICAST, msg, msg_len);
}

int nllink_add_macvlan(struct nllink *nl, unsigned parent, const char *name,
		       unsigned *ifindex_out, char *msg, size_t msg_len)
{
	struct rtnl_link *link;
	unsigned idx;
	int rc;

	if (!name || !*name || strlen(name) >= IFNAMSIZ || parent == 0)
		return -EINVAL;
	link = rtnl_link_macvlan_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	rtnl_link_set_link(link, (int)parent);
	rtnl_link_macvlan_set_mode(link, (uint32_t)rtnl_link_macvlan_str2mode("bridge"));
	rtnl_link_set_flags(link, IFF_UP);
	begin(nl);
	rc = rtnl_link_add(nl->sock, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(link);
	rc = finish(nl, rc, msg, msg_len);
	if (rc < 0)
		return rc;
	idx = if_nametoindex(name);
	if (idx == 0)
		return -ENODEV;
	rc = reg_add(nl, REG_LINK, idx, NULL, 0, 0, 0);
	if (rc == 0 && ifindex_out)
		*ifindex_out = idx;
	return rc;
}

int nllink_del_link(struct nllink *nl, unsigned ifindex, char *msg, size_t msg_len)
{
	struct rtnl_link *link;
	int rc;

	if (ifindex == 0)
		return -EINVAL;
	link = rtnl_link_alloc();
	if (!link)
		return -ENOMEM;
	rtnl_link_set_ifindex(link, (int)ifindex);
	begin(nl);
	rc = rtnl_link_delete(nl->sock, link);
	rtnl_link_put(link);
	rc = finish(nl, rc, msg, msg_len);
	if (rc == 0 || rc == -ENODEV)
		reg_forget(nl, REG_LINK, ifindex, NULL, 0, 0);
	return rc;
}

struct prefix_ctx {
	unsigned ifindex;
	struct in6_addr *all;   /* every distinct prefix seen (heap) */
	size_t n, cap;
	bool is_oom;
};

static void prefix_cb(struct nl_object *obj, void *arg)
{
	struct prefix_ctx *p = arg;
	struct rtnl_addr *ra = (struct rtnl_addr *)obj;
	struct nl_addr *local;
	struct in6_addr pfx;

	if (rtnl_addr_get_family(ra) != AF_INET6 || (unsigned)rtnl_addr_get_ifindex(ra) != p->ifindex)
		return;
	if (rtnl_addr_get_scope(ra) != RT_SCOPE_UNIVERSE || rtnl_addr_get_prefixlen(ra) > 64)
		return;
	local = rtnl_addr_get_local(ra);
	if (!local || nl_addr_get_len(local) != 16)
		return;
	memcpy(&pfx, nl_addr_get_binary_addr(local), 16);
	memset(&pfx.s6_addr[8], 0, 8);
	for (size_t i = 0; i < p->n; i++)
		if (memcmp(&p->all[i], &pfx, 16) == 0)
			return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct in6_addr *v = realloc(p->all, cap * sizeof(*v));
		if (!v) {
			p->is_oom = true;
			return;
		}
		p->all = v;
		p->cap = cap;
	}
	p->all[p->n++] = pfx;
}

int nllink_get_prefixes(struct nllink *nl, unsigned ifindex, struct in6_addr *prefixes_out,
			size_t max)
{
	struct nl_cache *cache = NULL;
	struct prefix_ctx p = { .ifindex = ifindex };
	int rc;

	if (ifindex == 0 || (max && !prefixes_out))
		return -EINVAL;
	begin(nl);
	rc = rtnl_addr_alloc_cache(nl->sock, &cache);
	if (rc < 0)
		return finish(nl, rc, NULL, 0);
	nl_cache_foreach(cache, prefix_cb, &p);
	nl_cache_free(cache);
	if (p.n && max)
		memcpy(prefixes_out, p.all, (p.n < max ? p.n : max) * sizeof(*p.all));
	free(p.all);
	if (p.is_oom)
		return -ENOMEM;
	/* An interface index that names nothing is an error, not "no prefix". */
	if (p.n == 0) {
		char name[IF_NAMESIZE];
		if (!if_indextoname(ifindex, name))
			return -ENODEV;
	}
	return (int)p.n;
}

struct gw_ctx {
	unsigned ifindex;
	struct in6_addr *out;
	size_t max, n;
};

static void gw_nh_cb(struct rtnl_nexthop *nh, void *arg)
{
	struct gw_ctx *g = arg;
	struct nl_addr *gw = rtnl_route_nh_get_gateway(nh);
	struct in6_addr a;

	if ((unsigned)rtnl_route_nh_get_ifindex(nh) != g->ifindex || !gw ||
	    nl_addr_get_family(gw) != AF_INET6 || nl_addr_get_len(gw) != 16)
		return;
	memcpy(&a, nl_addr_get_binary_addr(gw), 16);
	for (size_t i = 0; i < g->n && i < g->max; i++)
		if (memcmp(&g->out[i], &a, 16) == 0)
			return;
	if (g->n < g->max)
		g->out[g->n] = a;
	g->n++;
}

static void gw_cb(struct nl_object *obj, void *arg)
{
	struct rtnl_route *rt = (struct rtnl_route *)obj;

	if (rtnl_route_get_family(rt) == AF_INET6)
		rtnl_route_foreach_nexthop(rt, gw_nh_cb, arg);
}

int nllink_get_gateways(struct nllink *nl, unsigned ifindex, struct in6_addr *gws_out, size_t max)
{
	struct nl_cache *cache = NULL;
	struct gw_ctx g = { .ifindex = ifindex, .out = gws_out, .max = max };
	int rc;

	if (ifindex == 0 || (max && !gws_out))
		return -EINVAL;
	begin(nl);
	rc = rtnl_route_alloc_cache(nl->sock, AF_INET6, 0, &cache);
	if (rc < 0)
		return finish(nl, rc, NULL, 0);
	nl_cache_foreach(cache, gw_cb, &g);
	nl_cache_free(cache);
	return (int)g.n;
}

struct purge_ctx {
	struct rtnl_route **v;  /* referenced routes of ours */
	size_t n, cap;
	bool is_oom;
};

static void purge_cb(struct nl_object *obj, void *arg)
{
	struct purge_ctx *p = arg;
	struct rtnl_route *rt = (struct rtnl_route *)obj;

	if (rtnl_route_get_family(rt) != AF_INET6 || rtnl_route_get_protocol(rt) != NLLINK_PROTO_MT6D)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct rtnl_route **v = realloc(p->v, cap * sizeof(*v));
		if (!v) {
			p->is_oom = true;
			return;
		}
		p->v = v;
		p->cap = cap;
	}
	nl_object_get(obj);
	p->v[p->n++] = rt;
}

int nllink_purge_routes(struct nllink *nl, char *msg, size_t msg_len)
{
	struct nl_cache *cache = NULL;
	struct purge_ctx p = { 0 };
	int rc, removed = 0, first_err = 0;

	if (msg && msg_len)
		msg[0] = '\0';
	begin(nl);
	rc = rtnl_route_alloc_cache(nl->sock, AF_INET6, 0, &cache);
	if (rc < 0)
		return finish(nl, rc, msg, msg_len);
	nl_cache_foreach(cache, purge_cb, &p);
	for (size_t i = 0; i < p.n; i++) {
		char m[128];

		begin(nl);
		rc = finish(nl, rtnl_route_delete(nl->sock, p.v[i], 0), m, sizeof(m));
		if (rc == 0)
			removed++;
		else if (rc != -ESRCH && first_err == 0) {
			first_err = rc;
			if (msg && msg_len)
				snprintf(msg, msg_len, "%s", m);
		}
		rtnl_route_put(p.v[i]);
	}
	free(p.v);
	nl_cache_free(cache);
	if (p.is_oom)
		return -ENOMEM;
	return first_err ? first_err : removed;
}

int nllink_cleanup(struct nllink *nl, char *msg, size_t msg_len)
{
	int removed = 0, first_err = 0;

	if (msg && msg_len)
		msg[0] = '\0';
	for (size_t i = nl->reg_len; i-- > 0;) {
		struct reg_entry e = nl->reg[i];
		char m[128];
		int rc;

		if (!e.is_live)
			continue;
		switch (e.kind) {
		case REG_ROUTE:
			rc = route_op(nl, false, e.ifindex, &e.addr, e.prefix_len, e.table, e.type,
				      m, sizeof(m));
			if (rc == -ESRCH || rc == -ENODEV)
				rc = 1;
			break;
		case REG_ADDR:
			rc = nllink_del_addr(nl, e.ifindex, &e.addr, e.prefix_len, m, sizeof(m));
			if (rc == -EADDRNOTAVAIL || rc == -ENODEV)
				rc = 1;
			break;
		default:
			rc = nllink_del_link(nl, e.ifindex, m, sizeof(m));
			if (rc == -ENODEV)
				rc = 1;
			break;
		}
		if (rc == 0) {
			removed++;
		} else if (rc == 1) {
			/* already gone: forget it */
			if (nl->reg[i].is_live) {
				nl->reg[i].is_live = false;
				nl->reg_live--;
			}
		} else if (first_err == 0) {
			first_err = rc;
			if (msg && msg_len)
				snprintf(msg, msg_len, "%s", m);
		}
	}
	if (nl->reg_live == 0)
		nl->reg_len = 0;
	return first_err ? first_err : removed;
}
