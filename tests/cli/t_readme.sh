#!/bin/bash
# The README's set-up section names the Debian release and exactly the
# packages scripts/install-deps.sh installs, set by set.
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
FAIL_GOES_ON=1
list_of() { # NAME: the words of NAME="..." in install-deps.sh (over lines)
	awk -v n="$1" 'index($0, n "=\"") == 1 {on = 1; sub(/^[^"]*"/, "")}
		on {l = $0; if (sub(/".*/, "", l)) {print l; exit} print l}' scripts/install-deps.sh
}
section=$(awk '/^### Set-up: what it installs/ {on = 1; next} on && /^### / {exit} on' README.md)
[ -n "$section" ] || fail "README.md has no section \"Set-up: what it installs\""
grep -q 'Debian 12' <<<"$section" || fail "the set-up section does not name Debian 12"
for set in BUILD TEST BENCH DEB; do
	# The package lists of install-deps.sh, a shell assignment over lines.
	pkgs=$(list_of "$set")
	[ -n "$pkgs" ] || fail "no $set list in scripts/install-deps.sh"
	for p in $pkgs; do
		grep -qw -- "$p" <<<"$section" || fail "README.md set-up section misses $p ($set)"
	done
done
# And nothing the README promises that the script would not install.
all=$(list_of BUILD; list_of TEST; list_of BENCH; list_of DEB)
listed=$(perl -0ne 'while (/(?:`\)|in addition):\s+([^;]*?)(?:;|\.\n)/gs) { print "$1\n" }' <<<"$section")
[ -n "$listed" ] || fail "no package list found in the set-up section"
for p in $listed; do
	grep -qxF -- "$p" <<<"$(tr ' ' '\n' <<<"$all")" ||
		fail "README.md lists $p, which install-deps.sh does not install"
done
[ "$fails" -eq 0 ] || exit 1
echo "ok: README set-up section and scripts/install-deps.sh agree"
