#!/bin/bash
# mt6d watch without a daemon of ours: its arguments and help, plain output
# when not on a terminal, and the terminal itself through a pseudo-terminal
# against a stand-in for the control socket (tests/cli/watch_tty.py). The
# real daemons are watched in tests/netns/t_watch.sh.
set -eu
b=$MT6D_BUILD
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'

"$b/mt6d" help | grep -q "^  watch " || fail "watch not in the help"
"$b/mt6d" watch --help >"$tmp/help" || fail "--help exit status"
for w in "Usage: mt6d watch" "-s SOCKET" "--interval SECONDS" "--count N" "TERM is dumb" "Ctrl-C"; do
	grep -qF -- "$w" "$tmp/help" || fail "help lacks '$w'"
done
for bad in "--interval 0" "--interval abc" "--interval 1e9" "--interval" "--count 0" \
	"--count -3" "--count x" "-x" "a b"; do
	# shellcheck disable=SC2086
	if "$b/mt6d" watch -s "$tmp/none.sock" $bad >"$tmp/out" 2>&1; then fail "accepted: $bad"; fi
	grep -qE "Usage: mt6d watch|--interval: |--count: " "$tmp/out" || fail "no reason for '$bad': $(cat "$tmp/out")"
done
if "$b/mt6d" watch -s "$tmp/none.sock" --count 1 >"$tmp/out" 2>&1; then fail "watch without a daemon"; fi
grep -q "cannot talk to '$tmp/none.sock'" "$tmp/out" || fail "watch message: $(cat "$tmp/out")"

/usr/bin/python3 "$top/tests/cli/watch_tty.py" "$b/mt6d" "$tmp"
