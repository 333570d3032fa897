#!/bin/bash
# make deb: the Debian package mt6d_<version>_<arch>.deb, built with
# `dpkg-buildpackage -us -uc -b` in a copy of the tree (its tracked files and
# new ones not ignored, never build/ or .git), so the worktree stays clean,
# then checked by lintian: no error, and no warning that
# debian/*.lintian-overrides does not justify.
#
#   scripts/build-deb.sh [-o OUTDIR] [-v VERSION] [-L]
#     -o OUTDIR   where the .deb, .buildinfo and .changes go (default build/deb)
#     -v VERSION  build as VERSION: a changelog entry is put first in the copy
#                 (tests/system/t_deb.sh: an upgrade over the package)
#     -L          no lintian (the upgrade build of the test: same files)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/deb
version=
lint=1
while getopts o:v:L opt; do
	case $opt in
	o) out=$OPTARG ;;
	v) version=$OPTARG ;;
	L) lint=0 ;;
	*) echo "usage: $0 [-o OUTDIR] [-v VERSION] [-L]" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

[ -n "$version" ] || version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$stage/mt6d-$version
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked and new files as they are in the worktree (uncommitted changes
	# included), minus the ones deleted there.
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && while IFS= read -r -d '' f; do
			[ -e "$f" ] && printf '%s\0' "$f"; done) |
		tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
	tar -C "$top" --exclude=./build --exclude=./build-san --exclude=./build-fuzz \
		--exclude=./.git -cf - . | tar -C "$src" -xf -
fi

if [ "$version" != "$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)" ]; then
	maint=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Maintainer)
	{
		printf 'mt6d (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Rebuilt as %s.\n\n' "$version"
		printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
		cat "$src/debian/changelog"
	} >"$stage/changelog" && mv "$stage/changelog" "$src/debian/changelog"
fi

# The source package too, from the clean copy, only for lintian's source
# checks (debian/).
if [ "$lint" = 1 ]; then
	(cd "$stage" && dpkg-source -b "mt6d-$version") >"$stage/source.log" 2>&1 || {
		cat "$stage/source.log" >&2
		exit 1
	}
fi
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$stage/build.log" 2>&1 || {
	tail -n 40 "$stage/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log above)" >&2
	exit 1
}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
changes=mt6d_${version}_$arch.changes
# The .changes lists what was made: the package, its -dbgsym companion, the
# .buildinfo.
sed -n '/^Files:/,/^[^ ]/s/^ [0-9a-f]* [0-9]* [^ ]* [^ ]* //p' "$stage/$changes" |
	while read -r f; do mv "$stage/$f" "$out/"; done
mv "$stage/$changes" "$out/"

if [ "$lint" = 1 ]; then
	lintian --fail-on error,warning --tag-display-limit 0 \
		"$out/$changes" "$stage/mt6d_$version.dsc"
fi
echo "$out/mt6d_${version}_$arch.deb"
