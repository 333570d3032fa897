/* mt6d checkconf: everything a daemon checks of its configuration before it
 * starts anything (the file, its values, the private key file, and what
 * only the running system can tell: mt6d/engine/preflight.h), without
 * starting anything. Exit 0 and one summary line, or the first error with
 * the file and line. The daemons run the same checks at start. */
#include <stdio.h>
#include <string.h>

#include "mt6d/core/config.h"
#include "mt6d/engine/preflight.h"
#include "mt6d/cli/subcommands.h"

int checkconf_main(int argc, char *argv[])
{
	struct config cfg;
	enum config_role role;
	char msg[512];
	int rc;

	if (argc != 3 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "Usage: %s %s server|client FILE\n", prog_name, argv[0]);
		return 1;
	}
	role = !strcmp(argv[1], "server") ? CONFIG_SERVER : CONFIG_CLIENT;
	rc = preflight_run(role, argv[2], &cfg, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog_name, msg);
		return 1;
	}
	if (role == CONFIG_SERVER)
		printf("%s: server configuration OK: interface %s, %zu registered client%s, "
		       "%u DHT identit%s\n",
		       argv[2], cfg.interface, cfg.clients_len, cfg.clients_len == 1 ? "" : "s",
		       config_dht_nodes(&cfg), config_dht_nodes(&cfg) == 1 ? "y" : "ies");
	else
		printf("%s: client configuration OK: interface %s, client id %u\n", argv[2],
		       cfg.interface, cfg.client_id);
	config_fini(&cfg);
	return 0;
}
