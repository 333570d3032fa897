/* Everything a server or client checks before it touches anything, in one
 * place, so that `mt6d checkconf`, `-n` and the start of the daemon make
 * the same checks: the file and its values and the private key file
 * (mt6d/core/config.h), then what only the running system can tell: that
 * Interface exists, is not the loopback and has a global /64; that
 * TunnelName is not an interface of another kind; that StateDirectory is not
 * on a virtual filesystem; that TunnelPrefix is a real prefix outside the
 * link's /64 and link-local space. */
#ifndef MT6D_PREFLIGHT_H
#define MT6D_PREFLIGHT_H

#include <stddef.h>

#include "mt6d/core/config.h"

/* Runs every check on the file at path for role. cfg_out NULL: the config is
 * freed; else it is left there for the caller (config_fini). Returns 0, or
 * -errno with the first failure in msg ("FILE:LINE: Key: reason" for the
 * file, "FILE: Key 'value': reason (on this system)" for the system). */
int preflight_run(enum config_role role, const char *path, struct config *cfg_out, char *msg,
		  size_t msg_len);

#endif
