#!/bin/bash
# docs/ARCHITECTURE.md's module graph is the one the #include lines draw
# (scripts/module-graph.sh), and the layers it names exist.
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
scripts/module-graph.sh --check docs/ARCHITECTURE.md || fail "docs/ARCHITECTURE.md: module graph stale"
for d in mt6d/*/; do
	grep -q "^| \`${d}\` |" docs/ARCHITECTURE.md || fail "docs/ARCHITECTURE.md does not describe layer $d"
done
echo "ok: module graph and layers of docs/ARCHITECTURE.md match the tree"
