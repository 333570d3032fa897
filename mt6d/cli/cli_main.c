/* mt6d: the operator's command-line tool, one binary with a subcommand table
 * in the manner of wg(8). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mt6d/cli/subcommands.h"

const char *prog_name;

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *description;
} subcommands[] = {
	{ "genkey", genkey_main, "Generates a new private key and writes it to stdout" },
	{ "pubkey", pubkey_main, "Reads a private key from stdin and writes its public key to stdout" },
	{ "derive", derive_main, "Computes descriptors, seed IIDs, addresses and ports offline" },
	{ "checkconf", checkconf_main, "Checks a server or client configuration file and its key" },
	{ "show", show_main, "Shows a running server's or client's interfaces and sessions" },
	{ "metrics", metrics_main, "Prints the daemons' counters in the Prometheus text format" },
	{ "watch", watch_main, "Shows a running server or client live: sessions, addresses, rates" },
	{ "reload", reload_main, "Makes the server read its configuration again (revocation)" },
	{ "rekey", rekey_main, "Makes the server draw a new introduction key now" },
	{ "threat", threat_main, "Sets the server's threat level (low, normal, high): its rotation period" },
	{ "rendezvous", rendezvous_main, "Leaves or finds a short sealed message in the DHT (put, get, fetch, publish)" },
};

static void show_usage(FILE *file)
{
	size_t i;

	fprintf(file, "Usage: %s <cmd> [<args>]\n\n", prog_name);
	fprintf(file, "Available subcommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(file, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(file, "You may pass `--help' to any of these subcommands to view usage.\n");
}

int main(int argc, char *argv[])
{
	size_t i;

	prog_name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: cannot initialise libsodium\n", prog_name);
		return 1;
	}
	if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version") ||
			  !strcmp(argv[1], "version"))) {
		printf("mt6d %s\n", MT6D_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "help"))) {
		show_usage(stdout);
		return 0;
	}
	if (argc < 2) {
		show_usage(stderr);
		return 1;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "Invalid subcommand: `%s'\n", argv[1]);
	show_usage(stderr);
	return 1;
}
