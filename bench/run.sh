#!/bin/sh
# Runs every benchmark; each prints its own table. Benchmarks arrive with
# their issues (addr_bind, tunnel, dht, rendezvous, sessions).
set -eu
cd "$(dirname "$0")/.."
ran=0
for b in bench/*.sh; do
    [ "$b" = bench/run.sh ] && continue
    [ -f "$b" ] || continue
    echo "== $b"
    bash "$b"
    ran=$((ran + 1))
done
if [ "$ran" -eq 0 ]; then
    echo "bench: no benchmarks yet" >&2
    exit 1
fi
