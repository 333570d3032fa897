/* dhtident: the DHT node of a daemon under a new identity every config
 * window (docs/PROTOCOL.md, "The DHT identity"; docs/security-dht.md), so
 * that the DHT sees neither the host's stable address nor anything that
 * links one window to the next:
 *   - an address drawn at random in the host's /64 (mt6d/core/dhtaddr.h),
 *     bound /128 through netlink like an MT6D address (nodad, deprecated at
 *     once, tagged 0x6d, a valid lifetime of one window and the linger, so
 *     the kernel removes it by itself after a SIGKILL);
 *   - a UDP port drawn at random (or the operator's fixed DHTPort);
 *   - a node id that is BEP 42-valid for that address, fresh each window;
 *   - BEP 43 read-only queries if asked (clients).
 * Make-before-break: at each window boundary (wall clock, ev_periodic) the
 * new node is started from the routing table of the current one (its nodes
 * are pinged from the new address: no bootstrap router sees the change),
 * the user moves its new work to it (switched), and the previous node lives
 * on until the user says it has nothing left there (release) or linger_s
 * passed; then it is freed and its address removed.
 *
 * The user's dhtev hook (dhtev.h) is installed on every node, so work that
 * runs on the previous node still gets its ticks. */
#ifndef MT6D_DHTIDENT_H
#define MT6D_DHTIDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "mt6d/engine/dhtev.h"

struct ev_loop;
struct ctl_reply;
struct dhtident;

/* A new node took over (old is NULL for the first one, at dhtident_new):
 * start new operations on node from now on. */
typedef void dhtident_switched_fn(void *ctx, struct dhtev *old, struct dhtev *node);
/* Whether the user has nothing left running on old (it can be freed). With
 * is_forced the node is freed right after the call whatever the answer: the
 * user must cancel what runs there. */
typedef bool dhtident_release_fn(void *ctx, struct dhtev *old, bool is_forced);

struct dhtident_params {
	struct ev_loop *loop;
	unsigned ifindex;          /* the interface that carries the /64 */
	struct in6_addr prefix;    /* the host's /64 (the low 64 bits are ignored) */
	uint32_t period_s;         /* n: one identity per window */
	uint16_t fixed_port;       /* 0: a random port per window */
	bool is_read_only;         /* BEP 43 */
	const char *bootstrap;     /* host:port list for the first node ("": none) */
	uint32_t linger_s;         /* the previous node lives at most this long */
	dhtident_switched_fn *switched;
	dhtident_release_fn *release;
	dhtev_hook_fn *hook;
	void *ctx;
	/* Silent to probes (guard.h), borrowed; NULL: none. Each identity's
	 * address and port join the guard's served endpoints for its lifetime,
	 * so that the address answers nothing but the DHT, and the claim of a
	 * scale-mode server lets the DHT through. */
	struct guard *guard;
	/* Identities of one host side by side (a server's DHTNodes): this
	 * one's first bootstrap, and its change at every window boundary, come
	 * this long after the boundary (0: at once), so that K fresh nodes of
	 * one /64 neither appear at one instant nor burst into the same
	 * foreign nodes together. Taken modulo the window. */
	uint32_t stagger_ms;
};

/* Defaults that depend on n: the previous node lingers half a window, at
 * most 60 s (a fetch times out after 30 s, a publication round ends well
 * before the boundary). */
uint32_t dhtident_default_linger_s(uint32_t period_s);

/* Binds the first identity and starts its node (switched is called with
 * old NULL before this returns). params is copied (bootstrap too). On
 * failure returns -errno with what failed in msg. */
int dhtident_new(const struct dhtident_params *params, struct dhtident **out, char *msg,
		 size_t msg_len);

/* Frees every node (release is called forced for a lingering one first)
 * and removes their addresses. NULL is fine. */
void dhtident_free(struct dhtident *di);

/* The current node (borrowed). */
struct dhtev *dhtident_current(struct dhtident *di);

/* The host's /64 changed (roaming): a new identity at once in the new
 * prefix; the previous node is released forced (its address is no longer
 * routed to us). Returns 0 or -errno (the old identity stays). */
int dhtident_set_prefix(struct dhtident *di, const struct in6_addr *prefix);

struct dhtident_info {
	struct in6_addr addr;      /* the current node's source address */
	uint16_t port;
	uint8_t id[20];
	uint64_t changes;          /* identities made since start (the first included) */
	uint64_t failures;         /* changes that failed (the old identity stayed) */
	bool is_lingering;         /* a previous node still runs */
};

void dhtident_get_info(const struct dhtident *di, struct dhtident_info *out);

/* Appends the info as lines of `mt6d show dump` (dht_addr=, dht_port=,
 * dht_id=, dht_lanes=1, dht_endpoints=, dht_identities=,
 * dht_identity_failures=, dht_lingering=). */
void dhtident_show(const struct dhtident *di, struct ctl_reply *r);

/* The same for n identities run side by side (a server's DHTNodes, n > 0):
 * dht_addr, dht_port and dht_id are the first one's, dht_lanes is n,
 * dht_endpoints lists every current node as [addr]:port, comma-separated;
 * dht_identities and dht_identity_failures are summed, dht_lingering counts
 * the identities whose previous node still runs. */
void dhtident_show_lanes(const struct dhtident *const *lanes, size_t n, struct ctl_reply *r);

#endif
