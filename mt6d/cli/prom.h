/* The metrics of `mt6d metrics` (`mt6d show --format prometheus`): the
 * daemons' control replies (mt6d/daemon/ctl.h, "get=1", the lines of `mt6d
 * show dump`) and mt6d-peer's counters file (-S) turned into the Prometheus
 * text exposition format, version 0.0.4.
 *
 * Every exported key is named in one table (prom.c) with its metric family,
 * type (counter or gauge), unit and label; keys that are not in it are not
 * exported, and none of them carries an address, a port or a slot number:
 * those rotate, and a label per value would make a new series every few
 * seconds. Labels are the daemon's name, the peer of a session (the client's
 * name on a server, "server" on a client, "peer" on mt6d-peer) and a bounded
 * word (reason, outcome, slot, state).
 *
 * Pure: no sockets, no clock. The CLI (mt6d/cli/cli_metrics.c) fetches. */
#ifndef MT6D_PROM_H
#define MT6D_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum prom_type { PROM_COUNTER, PROM_GAUGE };

struct prom_family {
	const char *name;
	enum prom_type type;
	const char *help;
};

struct prom_sample;

/* Samples collected from any number of daemons, written grouped by family
 * (the format wants every line of a family together). Zero-initialise. */
struct prom {
	struct prom_sample *samples;
	size_t n, cap;
	char **daemons;                  /* the names added, to refuse a twin */
	size_t n_daemons;
};

/* Adds one daemon's reply (NUL-terminated "key=value" lines; its role= line
 * picks the mapping; mt6d-peer's counters file has none and is read as the
 * peer's when is_peer_file). daemon is its label value. Also adds
 * mt6d_up 1. Returns 0, -EEXIST for a daemon name already added, or
 * -ENOMEM. */
int prom_add_reply(struct prom *p, const char *daemon, const char *reply, bool is_peer_file);

/* A daemon that did not answer: mt6d_up 0. Same returns. */
int prom_add_down(struct prom *p, const char *daemon);

/* Writes every family that has samples: HELP, TYPE, then its samples.
 * Returns 0 or -EIO. */
int prom_write(struct prom *p, FILE *f);

void prom_fini(struct prom *p);

/* A label value in the format's escaping (\\, \" and \n) into out, NUL
 * terminated. Returns its length, or -ENAMETOOLONG if out is too small. */
int prom_escape_label(const char *in, char *out, size_t out_len);

/* Whether name is a valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*;
 * labels without ':'). */
bool prom_is_valid_name(const char *name, bool is_label);

/* The families this module can write, in the order it writes them (for the
 * tests and the docs). */
size_t prom_family_count(void);
const struct prom_family *prom_family_at(size_t i);

#endif
