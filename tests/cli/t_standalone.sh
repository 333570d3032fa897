#!/bin/bash
# The repository stands alone: no tracked file cites a document that lives
# outside it (the design notes, style guide or lab notes the project began
# from). Formulas are in docs/PROTOCOL.md, measured facts in docs/LAB.md,
# conventions in docs/ARCHITECTURE.md: cite those.
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
# Spelled in pieces so that this file does not match itself.
outside='MISSION[.]md|STYLE[.]md|LAB[-]NOTES|[.][.]/shared'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files() { git ls-files -z; }
else
	files() { find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0; }
fi
hits=$(files | xargs -0 grep -nIE "$outside" -- 2>/dev/null || true)
[ -z "$hits" ] || fail "files cite documents outside the repository (cite docs/ instead):
$hits"
for d in docs/PROTOCOL.md docs/LAB.md docs/ARCHITECTURE.md; do
	[ -f "$d" ] || fail "$d is missing: the formulas, facts and conventions cited live there"
done
grep -q "^## The design's formulas" docs/PROTOCOL.md || fail "docs/PROTOCOL.md lost its formulas section"
echo "ok: no tracked file cites anything outside the repository"
