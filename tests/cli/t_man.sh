#!/bin/bash
# The man pages in docs/man: every page renders without a single warning
# from mandoc (-T lint, every level) and groff (-ww), and none falls behind
# the code: every subcommand in mt6d/cli/cli_main.c's table is in mt6d(8), every
# option letter of a daemon's getopt string is in its page, and every key
# config.c knows is in mt6d.conf(5).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
man=$top/docs/man
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'
fails=0
FAIL_GOES_ON=1

command -v mandoc >/dev/null || { echo "FAIL: mandoc missing (scripts/install-deps.sh test)" >&2; exit 1; }
command -v groff >/dev/null || { echo "FAIL: groff missing" >&2; exit 1; }

pages="mt6d.8 mt6d-server.8 mt6d-client.8 mt6d-peer.8 mt6d-dhtnode.8 mt6d.conf.5"
for p in $pages; do
	[ -f "$man/$p" ] || { fail "$p missing"; continue; }
	mandoc -T lint -W all "$man/$p" >"$tmp/lint" 2>&1 || true
	[ -s "$tmp/lint" ] && { fail "mandoc -T lint $p:"; cat "$tmp/lint" >&2; }
	groff -man -ww -z "$man/$p" >"$tmp/groff" 2>&1 || true
	[ -s "$tmp/groff" ] && { fail "groff -ww $p:"; cat "$tmp/groff" >&2; }
	# It renders to something with the page's own name in its first line.
	mandoc -T utf8 "$man/$p" >"$tmp/out" 2>/dev/null
	name=$(echo "${p%.*}" | tr '[:lower:]' '[:upper:]')
	head -n 1 "$tmp/out" | grep -qF "$name(${p##*.})" || fail "$p renders no header '$name(${p##*.})'"
done
# Only the pages above: a new page is added to this list (and to make install).
for f in "$man"/*.[1-8]; do
	case " $pages " in *" $(basename "$f") "*) ;; *) fail "$(basename "$f") is not checked here" ;; esac
done

# Every subcommand of the table, as a tag of its own in mt6d(8).
subs=$(sed -n 's/^[[:space:]]*{ "\([a-z]*\)", [a-z_]*_main,.*/\1/p' "$top/mt6d/cli/cli_main.c")
[ "$(echo "$subs" | wc -w)" -ge 9 ] || fail "could not read the subcommands of cli_main.c: '$subs'"
for s in $subs; do
	grep -qE "^(\\.B |\\\\fB)$s( |\\\\f|$)" "$man/mt6d.8" || fail "mt6d.8 does not describe '$s'"
done
for s in put get fetch publish; do
	grep -qF "\\fBrendezvous $s " "$man/mt6d.8" || fail "mt6d.8 does not describe 'rendezvous $s'"
done

# Every option letter of each daemon (h: --help, not documented as such):
# mt6d-dhtnode's getopt string, or the skeleton's common options (and -s
# for a daemon with a control socket) with the daemon's own (extra_opts).
skel=$top/mt6d/daemon/skeleton.c
common=$(sed -n 's/^#define SKELETON_OPTS "\(.*\)"/\1/p' "$skel")
ctl=$(sed -n 's/^#define SKELETON_CTL_OPTS "\(.*\)"/\1/p' "$skel")
[ -n "$common" ] && [ -n "$ctl" ] || fail "no option strings in $skel"
for d in server client peer dhtnode; do
	src=$top/mt6d/bin/${d}_main.c
	if grep -q 'skeleton_main' "$src"; then
		letters=$common$(sed -n 's/.*\.extra_opts = "\(.*\)",/\1/p' "$src")
		grep -q '\.has_ctl = true' "$src" && letters=$letters$ctl
		letters=$(echo "$letters" | tr -d ':h')
	else
		letters=$(grep -o 'getopt[_a-z]*(argc, argv, "[^"]*"' "$src" |
			sed 's/.*"\(.*\)"/\1/' | tr -d ':h')
	fi
	[ -n "$letters" ] || { fail "no getopt string in ${d}_main.c"; continue; }
	for ((i = 0; i < ${#letters}; i++)); do
		l=${letters:i:1}
		grep -qE "^\\.(B|BI|BR) \\\\-$l( |$)" "$man/mt6d-$d.8" ||
			fail "mt6d-$d.8 does not describe -$l"
	done
done

# Every key the parser knows (CamelCase strings in config.c that are not
# section names), as a tag in mt6d.conf(5).
keys=$(grep -o '"[A-Z][A-Za-z]*"' "$top/mt6d/core/config.c" | tr -d '"' | sort -u |
	grep -vxE 'Server|Client|Host|Peer')
[ "$(echo "$keys" | wc -w)" -ge 15 ] || fail "could not read the keys of config.c"
for k in $keys; do
	grep -qE "^\\.(B|BI|BR) ([A-Za-z]+, )*\"?$k( |\"|,|$)|^\\.BR .*\" $k\"|^\\.BR $k " "$man/mt6d.conf.5" ||
		fail "mt6d.conf.5 does not describe $k"
done

[ "$fails" -eq 0 ] || { echo "t_man: $fails failed"; exit 1; }
echo "ok: $(echo "$pages" | wc -w) pages, $(echo "$subs" | wc -w) subcommands, $(echo "$keys" | wc -w) keys"
