#!/bin/bash
# t_sessions_shared_sockets.sh in AddressMode = routed: the shared slot
# sockets serve MT6D addresses of a /64 the lab's router routes to the
# server (no neighbour discovery per address).
SOCKETS_MODE=routed exec "$(dirname "$0")/t_sessions_shared_sockets.sh"
