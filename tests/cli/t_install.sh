#!/bin/bash
# make install DESTDIR=... puts exactly the expected tree in place (every
# file, its mode, nothing else) from the already-built MT6D_BUILD without
# rebuilding anything; the units name the installed programs and SYSCONFDIR;
# the installed programs run and the installed man pages are found by man;
# PREFIX=/usr moves everything; make uninstall leaves no file behind.
set -eu
b=$MT6D_BUILD
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'
fails=0
FAIL_GOES_ON=1
umask 022

# The flags that built MT6D_BUILD, so that make finds it up to date.
case $(basename "$b") in
build) flags=() ;;
build-san) flags=(SAN=1) ;;
build-fuzz) flags=(FUZZ=1) ;;
*) echo "FAIL: unknown build directory '$b'" >&2; exit 1 ;;
esac
[ "$(cd "$b/.." && pwd)" = "$top" ] || { echo "FAIL: $b is not in $top" >&2; exit 1; }
# A make of our own, not a job of a make that may be running this test.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" --no-print-directory "${flags[@]}" "$@"; }

# The expected tree, "mode path" per file, from the sources.
expected() { # prefix sysconfdir
	local p=${1#/} f
	echo "755 $p/bin/mt6d"
	for f in "$top"/mt6d/bin/*_main.c; do
		f=$(basename "$f" _main.c)
		[ "$f" = cli ] || echo "755 $p/sbin/mt6d-$f"
	done
	for f in "$top"/docs/man/*.[1-8]; do
		f=$(basename "$f")
		echo "644 $p/share/man/man${f##*.}/$f"
	done
	for f in "$top"/docs/*.md; do echo "644 $p/share/doc/mt6d/$(basename "$f")"; done
	for f in "$top"/docs/examples/*; do echo "644 $p/share/doc/mt6d/examples/$(basename "$f")"; done
	for f in "$top"/docs/perf/*.png; do
		if [ -f "$f" ]; then echo "644 $p/share/doc/mt6d/perf/$(basename "$f")"; fi
	done
	echo "644 $p/lib/systemd/system/mt6d-server.service"
	echo "644 $p/lib/systemd/system/mt6d-client@.service"
	echo "644 $p/lib/systemd/system/mt6d-metrics.service"
	echo "644 $p/lib/systemd/system/mt6d-metrics.timer"
	echo "644 $p/lib/sysusers.d/mt6d.conf"
	echo "644 $p/share/bash-completion/completions/mt6d"
	for f in server client peer; do echo "777 $p/share/bash-completion/completions/mt6d-$f"; done
}
tree() { (cd "$1" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort); }

# --- default PREFIX=/usr/local ---
root=$tmp/root
mk install DESTDIR="$root" >"$tmp/install.out" 2>&1 || { cat "$tmp/install.out" >&2; fail "make install"; }
if grep -E '^  (CC|LINK|AR) ' "$tmp/install.out" >&2; then
	fail "make install rebuilt something in $b (build it first with the same flags)"
fi
expected /usr/local | sort >"$tmp/want"
# The report's charts go next to it, where its links (perf/*.png) look.
grep -q ' usr/local/share/doc/mt6d/perf/.*\.png$' "$tmp/want" || fail "no docs/perf/*.png to install"
tree "$root" >"$tmp/have"
diff "$tmp/want" "$tmp/have" >&2 || fail "installed tree differs (< expected, > installed)"
for f in mt6d mt6d-server mt6d-client mt6d-peer mt6d-dhtnode; do
	grep -q " usr/local/[s]*bin/$f$" "$tmp/have" || fail "$f not installed"
done
[ "$(wc -l <"$tmp/have")" -ge 20 ] || fail "suspiciously few files: $(wc -l <"$tmp/have")"
[ -d "$root/etc/mt6d" ] && [ "$(stat -c %a "$root/etc/mt6d")" = 755 ] || fail "no $root/etc/mt6d (0755)"

unit=$root/usr/local/lib/systemd/system/mt6d-server.service
grep -q '@[A-Z]*@' "$root"/usr/local/lib/systemd/system/* && fail "unsubstituted @VAR@ in a unit"
grep -qx 'ExecStart=/usr/local/sbin/mt6d-server -d -c /etc/mt6d/server.conf -s server' "$unit" ||
	fail "server unit: ExecStart '$(grep ^ExecStart= "$unit")'"
grep -qx 'ExecStart=/usr/local/sbin/mt6d-client -d -c /etc/mt6d/%i.conf -s %i' \
	"$root/usr/local/lib/systemd/system/mt6d-client@.service" || fail "client unit: ExecStart"
grep -qx 'ExecStart=/usr/local/bin/mt6d metrics -o ${MT6D_TEXTFILE_DIR}/mt6d.prom' \
	"$root/usr/local/lib/systemd/system/mt6d-metrics.service" || fail "metrics unit: ExecStart"
[ "$(readlink "$root/usr/local/share/bash-completion/completions/mt6d-client")" = mt6d ] ||
	fail "the daemons' completion is not a link to mt6d's"
# The installed files are the built ones.
cmp -s "$b/mt6d-server" "$root/usr/local/sbin/mt6d-server" || fail "mt6d-server is not the built one"
"$root/usr/local/bin/mt6d" --version | grep -q '^mt6d ' || fail "installed mt6d does not run"
"$root/usr/local/sbin/mt6d-server" -V | grep -q '^mt6d-server ' || fail "installed mt6d-server does not run"
for p in mt6d.8 mt6d-server.8 mt6d-client.8 mt6d.conf.5; do
	s=${p##*.}
	want=$root/usr/local/share/man/man$s/$p
	have=$(MANPATH=$root/usr/local/share/man man -w "$s" "${p%.*}" 2>/dev/null || true)
	[ "$have" = "$want" ] || fail "man -w $s ${p%.*}: '$have', want '$want'"
done

# make uninstall with the same variables: not one file left.
mk uninstall DESTDIR="$root" >"$tmp/uninstall.out" 2>&1 || { cat "$tmp/uninstall.out" >&2; fail "make uninstall"; }
tree "$root" >"$tmp/left"
[ -s "$tmp/left" ] && { fail "left after uninstall:"; cat "$tmp/left" >&2; }
[ -e "$root/etc/mt6d" ] && fail "$root/etc/mt6d left after uninstall"

# --- a distribution's layout ---
root=$tmp/root2
mk install DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/usr/lib/systemd/system \
	SYSUSERSDIR=/usr/lib/sysusers.d >"$tmp/install2.out" 2>&1 || { cat "$tmp/install2.out" >&2; fail "make install PREFIX=/usr"; }
expected /usr | sort >"$tmp/want"
tree "$root" >"$tmp/have"
diff "$tmp/want" "$tmp/have" >&2 || fail "PREFIX=/usr tree differs"
grep -q '^ExecStart=/usr/sbin/mt6d-server ' "$root/usr/lib/systemd/system/mt6d-server.service" ||
	fail "PREFIX=/usr: ExecStart not in /usr/sbin"
# An operator's config in SYSCONFDIR/mt6d survives uninstall, and so does the directory.
echo "[Server]" >"$root/etc/mt6d/server.conf"
mk uninstall DESTDIR="$root" PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/usr/lib/systemd/system \
	SYSUSERSDIR=/usr/lib/sysusers.d >"$tmp/uninstall2.out" 2>&1 || fail "make uninstall PREFIX=/usr"
[ "$(tree "$root")" = "644 etc/mt6d/server.conf" ] || { fail "PREFIX=/usr uninstall left:"; tree "$root" >&2; }

[ "$fails" -eq 0 ] || { echo "t_install: $fails failed"; exit 1; }
echo "ok: $(wc -l <"$tmp/want") files"
