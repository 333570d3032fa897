/* The checks of preflight.h. Nothing here changes the system: it reads
 * interfaces (ioctl, netlink dumps, /sys) and file systems (statfs). */
#include "mt6d/engine/preflight.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <sodium.h>

#include "mt6d/core/util.h"
#include "mt6d/engine/inner.h"
#include "netlink/nllink.h"

#define PREFLIGHT_SYSTEM " (checked on this system)"
#define PREFLIGHT_MAX_PREFIXES 8

/* A TUN interface has tun_flags in sysfs; nothing else does. */
static bool is_tun(const char *ifname)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", ifname);
	return access(path, F_OK) == 0;
}

static int check_interface(const struct config *cfg, struct in6_addr *prefixes,
			   int *n_prefixes_out, char *msg, size_t msg_len)
{
	struct nllink *nl = NULL;
	unsigned flags = 0, ifindex = if_nametoindex(cfg->interface);
	int rc;

	if (!ifindex) {
		set_msg(msg, msg_len, "%s: Interface '%s': no such interface" PREFLIGHT_SYSTEM,
			cfg->source, cfg->interface);
		return -ENODEV;
	}
	rc = inner_link_flags(cfg->interface, &flags);
	if (rc == 0 && (flags & IFF_LOOPBACK)) {
		set_msg(msg, msg_len, "%s: Interface '%s': is the loopback interface: MT6D "
			"addresses must be reachable over a link" PREFLIGHT_SYSTEM, cfg->source,
			cfg->interface);
		return -EINVAL;
	}
	if (is_tun(cfg->interface)) {
		set_msg(msg, msg_len, "%s: Interface '%s': is a TUN interface, not a link to the "
			"network" PREFLIGHT_SYSTEM, cfg->source, cfg->interface);
		return -EINVAL;
	}
	rc = nllink_new(&nl);
	if (rc == 0)
		rc = nllink_get_prefixes(nl, ifindex, prefixes, PREFLIGHT_MAX_PREFIXES);
	nllink_free(nl);
	if (rc == 0 && cfg->is_routed_mode) /* Prefix is routed to a fixed address, maybe link-local */
		return 0;
	if (rc <= 0) {
		set_msg(msg, msg_len, "%s: Interface '%s': no global /64 prefix (%s)"
			PREFLIGHT_SYSTEM, cfg->source, cfg->interface,
			rc < 0 ? strerror(-rc) : "none");
		return rc < 0 ? rc : -EADDRNOTAVAIL;
	}
	*n_prefixes_out = rc < PREFLIGHT_MAX_PREFIXES ? rc : PREFLIGHT_MAX_PREFIXES;
	return 0;
}

/* The daemon creates TunnelName as a TUN (a "%d" in it picks a free
 * number); an existing interface of another kind would be refused by the
 * kernel only after the start had purged addresses. */
static int check_tunnel_name(const struct config *cfg, char *msg, size_t msg_len)
{
	const char *name = cfg->tunnel_name;

	if (!name[0] || strchr(name, '%'))
		return 0;
	if (!strcmp(name, cfg->interface)) {
		set_msg(msg, msg_len, "%s: TunnelName '%s': is the Interface", cfg->source, name);
		return -EINVAL;
	}
	if (if_nametoindex(name) && !is_tun(name)) {
		set_msg(msg, msg_len, "%s: TunnelName '%s': an interface of that name exists and "
			"is not a TUN interface" PREFLIGHT_SYSTEM, cfg->source, name);
		return -EEXIST;
	}
	return 0;
}

/* The state directory, or the nearest of its parents that exists, must be
 * a directory on a real filesystem: /proc, /sys and /dev take no state. */
static int check_state_dir(const struct config *cfg, char *msg, size_t msg_len)
{
	static const char *const virtual_roots[] = { "/proc", "/sys", "/dev" };
	char path[PATH_MAX];
	struct statfs fs;
	struct stat st;
	size_t i;

	snprintf(path, sizeof(path), "%s", cfg->state_dir);
	for (i = 0; i < sizeof(virtual_roots) / sizeof(virtual_roots[0]); i++) {
		size_t n = strlen(virtual_roots[i]);

		if (!strncmp(path, virtual_roots[i], n) && (path[n] == '/' || !path[n]))
			goto is_virtual;
	}
	while (stat(path, &st) < 0) {
		char *slash = strrchr(path, '/');

		if (errno != ENOENT || !slash)
			break;
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		set_msg(msg, msg_len, "%s: StateDirectory '%s': '%s' is not a directory"
			PREFLIGHT_SYSTEM, cfg->source, cfg->state_dir, path);
		return -ENOTDIR;
	}
	if (statfs(path, &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC))
		goto is_virtual;
	return 0;
is_virtual:
	set_msg(msg, msg_len, "%s: StateDirectory '%s': is on a virtual filesystem "
		"(/proc, /sys, /dev), which keeps no state", cfg->source, cfg->state_dir);
	return -EINVAL;
}

static bool has_host_bits(const uint8_t a[16], unsigned prefix_len)
{
	unsigned i;

	for (i = prefix_len; i < 128; i++)
		if (a[i / 8] & (0x80u >> (i % 8)))
			return true;
	return false;
}

static bool prefixes_overlap(const uint8_t a[16], unsigned a_len, const uint8_t b[16],
			     unsigned b_len)
{
	unsigned n = a_len < b_len ? a_len : b_len, i;

	for (i = 0; i < n; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80u >> (i % 8)))
			return false;
	return true;
}

/* Session tunnel addresses are numbered from TunnelPrefix: a prefix with
 * host bits is a typo, link-local and multicast space cannot be routed into
 * a tunnel, and the link's own /64 is where the rotating addresses live. */
static int check_tunnel_prefix(const struct config *cfg, const struct in6_addr *prefixes,
			       int n_prefixes, char *msg, size_t msg_len)
{
	static const uint8_t fe80[16] = { 0xfe, 0x80 }, ff00[16] = { 0xff };
	const uint8_t *p = cfg->tunnel_address;
	unsigned len = cfg->tunnel_prefix_len;
	char a[INET6_ADDRSTRLEN];
	int i;

	if (cfg->role != CONFIG_SERVER || !cfg->has_tunnel_prefix)
		return 0;
	inet_ntop(AF_INET6, p, a, sizeof(a));
	if (has_host_bits(p, len)) {
		set_msg(msg, msg_len, "%s: TunnelPrefix '%s/%u': has bits set after the first %u",
			cfg->source, a, len, len);
		return -EINVAL;
	}
	if (prefixes_overlap(p, len, fe80, 10) || prefixes_overlap(p, len, ff00, 8)) {
		set_msg(msg, msg_len, "%s: TunnelPrefix '%s/%u': link-local or multicast space",
			cfg->source, a, len);
		return -EINVAL;
	}
	for (i = 0; i < n_prefixes; i++) {
		if (prefixes_overlap(p, len, prefixes[i].s6_addr, 64)) {
			set_msg(msg, msg_len, "%s: TunnelPrefix '%s/%u': overlaps the /64 of "
				"Interface '%s', where the MT6D addresses rotate" PREFLIGHT_SYSTEM,
				cfg->source, a, len, cfg->interface);
			return -EINVAL;
		}
	}
	return 0;
}

/* A routed Prefix that is also the /64 of Interface would be reached by
 * neighbour discovery, which routed mode does not answer. */
static int check_routed_prefix(const struct config *cfg, const struct in6_addr *prefixes,
			       int n_prefixes, char *msg, size_t msg_len)
{
	char a[INET6_ADDRSTRLEN];
	int i;

	for (i = 0; cfg->is_routed_mode && i < n_prefixes; i++) {
		if (memcmp(prefixes[i].s6_addr, cfg->prefix, 8) != 0)
			continue;
		inet_ntop(AF_INET6, cfg->prefix, a, sizeof(a));
		set_msg(msg, msg_len, "%s: Prefix '%s/64': is the /64 of Interface '%s', which the "
			"router reaches by neighbour discovery: route another /64 to this server "
			"or use AddressMode = scale" PREFLIGHT_SYSTEM, cfg->source, a, cfg->interface);
		return -EINVAL;
	}
	return 0;
}

int preflight_run(enum config_role role, const char *path, struct config *cfg_out, char *msg,
		  size_t msg_len)
{
	struct in6_addr prefixes[PREFLIGHT_MAX_PREFIXES] = { 0 };
	uint8_t priv[CONFIG_KEY_LEN];
	struct config cfg;
	int rc, n_prefixes = 0;

	rc = config_load(role, path, &cfg, msg, msg_len);
	if (rc < 0)
		return rc;
	rc = config_load_private_key(&cfg, priv, msg, msg_len);
	sodium_memzero(priv, sizeof(priv));
	if (rc == 0)
		rc = check_state_dir(&cfg, msg, msg_len);
	if (rc == 0)
		rc = check_tunnel_prefix(&cfg, NULL, 0, msg, msg_len);
	if (rc == 0)
		rc = check_interface(&cfg, prefixes, &n_prefixes, msg, msg_len);
	if (rc == 0)
		rc = check_tunnel_name(&cfg, msg, msg_len);
	if (rc == 0)
		rc = check_tunnel_prefix(&cfg, prefixes, n_prefixes, msg, msg_len);
	if (rc == 0)
		rc = check_routed_prefix(&cfg, prefixes, n_prefixes, msg, msg_len);
	if (rc < 0 || !cfg_out)
		config_fini(&cfg);
	else
		*cfg_out = cfg;
	return rc;
}
