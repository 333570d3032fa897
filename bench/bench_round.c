/* bench_round: one publication round of mt6d-server's publisher
 * (mt6d/engine/pubsched.c) for many clients in a simulated swarm that
 * resembles the public DHT: foreign nodes only, libtorrent-like and
 * jech-like, with their limits enforced and counted (tests/simdht.h), then
 * sampled fetches by fresh clients (tests/simround.h).
 *
 *   bench_round [-n NODES] [-c CLIENTS] [-s SOURCES] [-S SAMPLES] [-j JECH_SHARE]
 *               [-d DEAD_SHARE] [-r SEED] [-C stuffing|items] [-v]
 *
 * Prints "key value" lines (simround_print); exit 0 whenever the simulation
 * ran, the verdicts are the caller's (bench/rendezvous.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/simround.h"

int main(int argc, char **argv)
{
	struct simround_params p;
	struct simround_result r;
	int o;

	simround_params_default(&p);
	while ((o = getopt(argc, argv, "n:c:s:S:j:d:r:C:v")) != -1) {
		switch (o) {
		case 'n': p.n_nodes = atoi(optarg); break;
		case 'c': p.n_clients = atoi(optarg); break;
		case 's': p.n_sources = atoi(optarg); break;
		case 'S': p.n_samples = atoi(optarg); break;
		case 'j': p.jech_share = atof(optarg); break;
		case 'd': p.dead_share = atof(optarg); break;
		case 'r': p.seed = strtoull(optarg, NULL, 10); break;
		case 'C': p.channel = strcmp(optarg, "items") == 0 ? SIMROUND_ITEMS : SIMROUND_STUFFING; break;
		case 'v': p.verbose = true; break;
		default:
			fprintf(stderr, "usage: bench_round [-n NODES] [-c CLIENTS] [-s SOURCES] [-S SAMPLES] "
					"[-j JECH_SHARE] [-d DEAD_SHARE] [-r SEED] [-C stuffing|items] [-v]\n");
			return 2;
		}
	}
	int rc = simround_run(&p, &r);
	if (rc < 0) {
		fprintf(stderr, "bench_round: simulation not set up: error %d\n", rc);
		return 1;
	}
	simround_print(&r, stdout);
	return 0;
}
