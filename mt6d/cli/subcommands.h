/* Entry points of the mt6d CLI's subcommands (internal to the CLI). Each
 * takes the argv that starts with its own name, and returns the exit status. */
#ifndef MT6D_SUBCOMMANDS_H
#define MT6D_SUBCOMMANDS_H

#include <stddef.h>

extern const char *prog_name;

int genkey_main(int argc, char *argv[]);
int pubkey_main(int argc, char *argv[]);
int derive_main(int argc, char *argv[]);
int checkconf_main(int argc, char *argv[]);
int show_main(int argc, char *argv[]);
int watch_main(int argc, char *argv[]);
int reload_main(int argc, char *argv[]);
int rekey_main(int argc, char *argv[]);
int threat_main(int argc, char *argv[]);
int rendezvous_main(int argc, char *argv[]);
int metrics_main(int argc, char *argv[]);

/* The control sockets in CTL_RUN_DIR, sorted (mt6d show and metrics without
 * a daemon named). Returns 0 (n_out may be 0) or -errno of the directory;
 * cli_free_sockets frees the list. */
int cli_list_sockets(char ***paths_out, size_t *n_out);
void cli_free_sockets(char **paths, size_t n);

#endif
