#!/bin/bash
# The one-command demo as a smoke test (make check): scripts/demo.sh
# --duration runs the whole system unattended (lab, DHT swarm of our nodes
# and libtorrent nodes, server, two clients, HTTP through the tunnels while
# addresses rotate) and must exit 0, print every step as [ok], and leave
# nothing behind: no namespace of its lab, no process, no work directory.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp /tmp/t_demo.XXXXXX)
demo=
fails=0

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# The demo tears itself down on SIGTERM; only if this test is cut short.
at_exit '[ -n "$demo" ] && stop_pids "$demo"; rm -f "$out"'

# MT6D_BUILD (from tests/run.sh) is the build to use: nothing is built or
# installed here.
MT6D_BUILD=${MT6D_BUILD:-$top/build} "$top/scripts/demo.sh" --duration "${DEMO_DURATION:-30}" >"$out" 2>&1 &
demo=$!
wait "$demo"
rc=$?
demo=
cat "$out"
echo "---"
lab=demo$(grep -o -m1 'lab demo[0-9]* up' "$out" | grep -o '[0-9]*')
work=$(grep -o -m1 'work dir /tmp/mt6d-demo\.[A-Za-z0-9]*' "$out" | sed 's/^work dir //')

check "the demo exits 0" test "$rc" = 0
check "it says PASS" grep -qx 'demo: PASS' "$out"
check "no step failed" bash -c "! grep -q '^\[FAIL\]' '$out'"
# Every step of the issue, as an [ok] line.
for step in 'lab demo[0-9]* up' 'DHT swarm: ' 'mt6d-server up' 'server published both clients' \
	'mt6d-client 1 up' 'mt6d-client 2 up' 'client 1 found its config in the DHT and established' \
	'client 2 found its config in the DHT and established' 'client 1: [0-9]* rotations' \
	'client 2: [0-9]* rotations' 'client 1: [0-9]* transfers of demo.bin' \
	'client 2: [0-9]* transfers of demo.bin' 'teardown: no namespace'; do
	check "step: $step" grep -q "^\[ok\] .*$step" "$out"
done
check "the demo's lab name was found" test "$lab" != demo
left_ns() { ! ip netns list 2>/dev/null | awk '{print $1}' | grep -q "^$lab-"; }
check "no namespace of lab $lab is left" left_ns
check "no lab state file is left" test ! -e "/tmp/mt6d-lab-$lab.state"
check "the work dir was named" test -n "$work"
check "the work dir $work is gone" test ! -e "${work:-/nonexistent}"
no_procs() { # no process runs with the work dir on its command line
	local p
	for p in /proc/[0-9]*; do
		grep -qF "$work" "$p/cmdline" 2>/dev/null && { echo "left: $(tr '\0' ' ' <"$p/cmdline")"; return 1; }
	done
	return 0
}
check "no process of the demo is left" no_procs

finish
