#!/bin/bash
# t_peer_offload.sh with `Offloads = off` at both ends: the data plane of
# one packet per TUN read and write, under the same load and rotations (the
# representative of the data-plane tests run without offloads in make
# check; MT6D_TEST_OFFLOADS=off tests/run.sh netns runs them all so).
MT6D_TEST_OFFLOADS=off exec bash "$(dirname "$0")/t_peer_offload.sh"
