#!/bin/sh
# The one-command demo (issue 8) does not exist yet. Say so and fail: a demo
# that pretends would hide that the system is not there.
echo "make demo: not implemented yet: the demo (lab, DHT swarm, server, clients) comes with issue 8" >&2
exit 1
