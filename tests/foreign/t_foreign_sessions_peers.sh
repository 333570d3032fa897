#!/bin/bash
# tests/foreign/t_foreign_sessions.sh over port stuffing alone
# (RendezvousChannel = peers): a fresh server's first clients within 30 s
# with no BEP 44 item to read first. One DHT identity put a client's 63
# announces into each node of the 8-node swarm in 21 s, three clients in
# over a minute; the server's DHTNodes identities (auto: three per
# registered client, a client's three chunks from three of them) publish
# them side by side (docs/PROTOCOL.md 6.5).
RDV_CHANNEL=peers exec bash "$(dirname "$0")/t_foreign_sessions.sh"
