#!/bin/bash
# Domain labels: every "mt6d/1 ..." label string in the code (mt6d/, dht/,
# tun/, netlink/) and in the independent checkers (tests/vectors/*.py) is in
# the label table of docs/PROTOCOL.md section 2, and every label of the table
# is used somewhere (code, unit tests or checkers): a new derivation cannot
# ship undocumented, and the table cannot name a label nothing uses.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
fails=0
# shellcheck source=tests/lib.sh
. tests/lib.sh
FAIL_GOES_ON=1

# Labels of the table: backquoted `mt6d/1 ...` in section 2's table rows.
table=$(sed -n '/^## 2\. /,/^## 3\. /p' docs/PROTOCOL.md | grep '^|' |
	grep -oE '`mt6d/1 [^`]+`' | tr -d '`' | sort -u)
[ -n "$table" ] || { echo "FAIL: no label table in docs/PROTOCOL.md section 2" >&2; exit 1; }

code=$(grep -rhoE '"mt6d/1 [^"]+"' --include='*.c' --include='*.h' mt6d dht tun netlink;
	grep -hoE '"mt6d/1 [^"]+"' tests/vectors/*.py)
code=$(printf '%s\n' "$code" | tr -d '"' | sort -u)
[ -n "$code" ] || { echo "FAIL: no label found in the code" >&2; exit 1; }

while IFS= read -r l; do
	grep -qxF "$l" <<<"$table" || fail "label '$l' is used in the code but missing from the table of docs/PROTOCOL.md section 2"
done <<<"$code"

used=$(grep -rhoE '"mt6d/1 [^"]+"' mt6d dht tun netlink tests/unit tests/vectors | tr -d '"' | sort -u)
while IFS= read -r l; do
	grep -qxF "$l" <<<"$used" || fail "label '$l' of the table is used nowhere"
done <<<"$table"

echo "$(wc -l <<<"$code") labels in the code, $(wc -l <<<"$table") in the table"
finish
