#!/bin/bash
# debian/ agrees with the rest of the tree, without building anything (the
# build and the package's life are tests/system/t_deb.sh, make
# check-system): Build-Depends are exactly the build set of
# scripts/install-deps.sh (build-essential is implied) plus debhelper's
# parts, whose package the deb set installs; the changelog parses; the
# maintainer scripts are POSIX shell; every lintian override carries its
# justification on the line before it.
set -eu
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib.sh
. tests/lib.sh
FAIL_GOES_ON=1
list_of() { # NAME: the words of NAME="..." in install-deps.sh (over lines)
	awk -v n="$1" 'index($0, n "=\"") == 1 {on = 1; sub(/^[^"]*"/, "")}
		on {l = $0; if (sub(/".*/, "", l)) {print l; exit} print l}' scripts/install-deps.sh
}
words() { tr -s ' \t' '\n' | sed '/^$/d' | sort -u; }

bdeps=$(awk '/^Build-Depends:/ {on = 1; sub(/^Build-Depends:/, "")}
	on && /^[A-Z][-A-Za-z]*:/ && !/^Build-Depends:/ {exit}
	on {print}' debian/control | tr ',' '\n' | sed 's/([^)]*)//; s/^[ \t]*//; s/[ \t]*$//' | sed '/^$/d')
ours=$(grep -v -e '^debhelper-compat$' -e '^dh-sequence-' <<<"$bdeps" | sort -u)
want=$(list_of BUILD | words | grep -vx build-essential)
[ "$ours" = "$want" ] ||
	fail "debian/control Build-Depends differ from install-deps.sh BUILD: $(diff <(echo "$want") <(echo "$ours") | grep '^[<>]' | tr '\n' ' ')"
grep -qx 'debhelper-compat' <<<"$bdeps" || fail "no debhelper-compat in Build-Depends"
list_of DEB | words | grep -qx debhelper || fail "install-deps.sh DEB lacks debhelper"

v=$(dpkg-parsechangelog -l debian/changelog -S Version) || fail "debian/changelog does not parse"
[ -n "$v" ] || fail "no version in debian/changelog"
[ -x debian/rules ] || fail "debian/rules is not executable"
for s in debian/postinst debian/postrm debian/prerm; do
	[ -x "$s" ] || fail "$s is not executable"
	head -n 1 "$s" | grep -qx '#!/bin/sh' || fail "$s: not #!/bin/sh"
	grep -q '^#DEBHELPER#$' "$s" || fail "$s: no #DEBHELPER#"
	sh -n "$s" || fail "$s: sh -n"
done
for o in debian/*.lintian-overrides debian/source/lintian-overrides; do
	[ -f "$o" ] || continue
	awk -v f="$o" '/^[ \t]*$/ {prev = ""; next}
		/^#/ {prev = $0; next}
		prev == "" {print f ": override without a justification: " $0; bad = 1}
		{prev = ""}
		END {exit bad}' "$o" || fail "$o: an override without its one-line justification"
done
[ "$fails" -eq 0 ] || exit 1
echo "ok: debian/ agrees with install-deps.sh, its scripts and overrides are sound ($v)"
