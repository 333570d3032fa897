#!/bin/bash
# The README's commands on a bare machine, simulated without uninstalling
# anything: a pkg-config first on PATH knows no library until a stand-in for
# scripts/install-deps.sh has run, and that stand-in records which set it was
# asked for. A copy of the tree must then build in ONE make invocation, with
# the right flags (libnl's headers live in /usr/include/libnl3, which only
# pkg-config knows). Without the ordering (pkg-config asked at parse time),
# the compile of netlink/nllink.c fails: the control run below shows the
# simulation can tell the difference.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'

mkdir -p "$tmp/bin" "$tmp/src"
real_pkg_config=$(command -v pkg-config) || fail "no pkg-config on this machine"
cat >"$tmp/bin/pkg-config" <<EOF
#!/bin/sh
[ -f "$tmp/installed" ] || exit 1
exec "$real_pkg_config" "\$@"
EOF
cat >"$tmp/bin/install-deps" <<EOF
#!/bin/sh
echo "\$1" >>"$tmp/asked"
touch "$tmp/installed"
EOF
cat >"$tmp/bin/install-nothing" <<EOF
#!/bin/sh
echo "\$1" >>"$tmp/asked"
EOF
chmod +x "$tmp/bin/"*

# The tree as a fresh clone would see it: tracked files plus this
# checkout's uncommitted changes, no build directories.
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$tmp/src"

run_make() { # install-deps-stand-in goals...
    local deps=$1; shift
    env -u MT6D_DEPS_DONE -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH="$tmp/bin:$PATH" \
        make -C "$tmp/src" --no-print-directory -j2 INSTALL_DEPS="$tmp/bin/$deps" "$@"
}

# Control: if nothing gets installed, the build must fail on missing flags.
if run_make install-nothing all >"$tmp/control.log" 2>&1; then
    fail "built although pkg-config knew no library: the simulation proves nothing"
fi
grep -q 'netlink/netlink.h\|sodium.h\|ev.h' "$tmp/control.log" ||
    fail "control build failed for another reason: $(tail -5 "$tmp/control.log")"
rm -rf "$tmp/src/build" "$tmp/asked"

# The real thing: one `make` installs, then builds every program.
run_make install-deps all >"$tmp/make.log" 2>&1 ||
    fail "make on a bare machine failed: $(tail -20 "$tmp/make.log")"
for p in mt6d mt6d-server mt6d-client mt6d-peer mt6d-dhtnode; do
    [ -x "$tmp/src/build/$p" ] || fail "make built no $p"
done
[ "$(cat "$tmp/asked")" = build ] ||
    fail "make asked install-deps for '$(tr '\n' ' ' <"$tmp/asked")', not once for 'build'"
"$tmp/src/build/mt6d" --version >/dev/null || fail "the built mt6d does not run"

# `make check` and `make demo` ask for the test set, `make bench` for the
# bench set, `make deb` for the deb set, `make check-system` for the system
# set, each once however many sub-makes they start (dry runs: the
# recipes are printed, the stand-in is not run, so read the printed line).
for goal in check:test demo:test bench:bench install:build deb:deb check-system:system; do
    want=${goal#*:}
    out=$(run_make install-deps -n "${goal%%:*}" 2>&1 | grep -c "install-deps $want\$" || true)
    [ "$out" = 1 ] || fail "make -n ${goal%%:*} runs install-deps '$want' $out times"
done
echo "bare machine: one make installed, then built with pkg-config's flags"
