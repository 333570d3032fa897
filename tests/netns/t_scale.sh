#!/bin/bash
# Scale mode on a real link: the server host's /64 is claimed with one local
# route and nothing is bound; our responder answers neighbour solicitations
# from the router for the addresses in its set (the current slots) and for
# nothing else, so a current address is reachable across the router and an
# expired or never-valid one is not; the gateway stays reachable through its
# exception; SIGTERM removes the claim, SIGKILL silences every address at once.
#
#   s: eth0 2001:db8:0:1::2/64, local route 2001:db8:0:1::/64 (+ exception ::1)
#      |                         bench_addr_bind scale-hold (responder)
#   r: br0 2001:db8:0:1::1/64 ... ndisc6 from here
#      |
#   c1: eth0 2001:db8:1:1::2/64 ... ping from here
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
lab=$top/scripts/lab.sh
build=${MT6D_BUILD:-$top/build}
tool=$build/bench/bench_addr_bind
export LAB=tscale$$
tmp=/tmp/t_scale.$$
fails=0
holder=

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit '[ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null; exec 7>&- 2>/dev/null; "$lab" down >/dev/null 2>&1; rm -f "$tmp".*'

if [ ! -x "$tool" ]; then
	make -C "$top" -s "BUILD=$build" "$tool" >/dev/null || { echo "cannot build $tool"; exit 1; }
fi

R() { ip netns exec "$LAB-r" "$@"; }
answered() { R ndisc6 -1 -q -r 3 -w 300 "$1" br0; }
reachable() { ip netns exec "$LAB-c1" ping -6 -c 1 -W 2 "$1"; }
wait_line() { # file pattern: up to 10 s
	for _ in $(seq 100); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
send() { echo "$1" >&7; wait_line "$tmp.hold" "^ok $1\$"; }

"$lab" -n 1 up >/dev/null || { echo "lab up failed"; exit 1; }
P=2001:db8:0:1
A=$P:a1:5eed:1:1 B=$P:b2:5eed:2:2 D=$P:d4:5eed:4:4 N=$P:e5:5eed:5:5

mkfifo "$tmp.in"
# No shell function in between: $! is the holder (ip netns exec execs it).
ip netns exec "$LAB-s" "$tool" scale-hold eth0 $P::/64 $P::1 <"$tmp.in" >"$tmp.hold" 2>&1 &
holder=$!
exec 7>"$tmp.in"
check "responder ready"               wait_line "$tmp.hold" '^ready$'
check "add A"                         send "+$A"
check "add B"                         send "+$B"
check "one local route claims the /64" sh -c "ip -n $LAB-s -6 route show table local | grep -q '^local $P::/64 dev eth0 proto 109'"
check "nothing is bound on eth0"      not sh -c "ip -n $LAB-s -6 addr show dev eth0 | grep -q '$P:a1'"
check "NS for current A answered"     answered $A
check "NS for current B answered"     answered $B
check "NS for never-valid N silent"   not answered $N
check "c1 reaches A across router"    reachable $A
check "c1 cannot reach never-valid N" not reachable $N
check "s still reaches c1 (gateway exception)" ip netns exec "$LAB-s" ping -6 -c 1 -W 2 2001:db8:1:1::2

# One rotation step: D in, A out.
check "add D"                         send "+$D"
check "remove A"                      send "-$A"
check "NS for expired A silent"       not answered $A
check "NS for new D answered"         answered $D
check "c1 reaches D"                  reachable $D

# Bad input to the holder: clear errors, it carries on.
echo "+ff02::1" >&7
check "multicast refused clearly"     wait_line "$tmp.hold" '^err +ff02::1: Invalid argument'
echo "-$N" >&7
check "removing an absent one: clear" wait_line "$tmp.hold" "^err -$N: No such file or directory"
check "still answering D"             answered $D

# Orderly stop removes the claim and its exception.
exec 7>&-
wait "$holder"
holder=
check "stats printed"                 grep -q '^answered=[1-9]' "$tmp.hold"
check "claim removed on exit"         not sh -c "ip -n $LAB-s -6 route show table all | grep -q 'proto 109'"
check "NS for D silent after exit"    not answered $D

# SIGKILL: nothing answers any more, at once.
ip netns exec "$LAB-s" "$tool" scale-hold eth0 $P::/64 $P::1 <"$tmp.in" >"$tmp.hold" 2>&1 &
holder=$!
exec 7>"$tmp.in"
check "responder ready again"         wait_line "$tmp.hold" '^ready$'
check "add B again"                   send "+$B"
check "NS for B answered"             answered $B
kill -KILL "$holder"
wait "$holder" 2>/dev/null
holder=
exec 7>&-
check "NS for B silent after SIGKILL" not answered $B
check "the claim is left, tagged 0x6d (109) for the next start's purge" \
	sh -c "ip -n $LAB-s -6 route show table local | grep -q '^local $P::/64 dev eth0 proto 109'"
# The operator's own route must survive the purge.
ip -n "$LAB-s" -6 route add 2001:db8:ff::/64 via $P::1 dev eth0
check "purge at start removes claim and exception" sh -c "ip netns exec $LAB-s '$tool' purge all routes | grep -q 'purged_routes=2'"
check "no route of ours left"         not sh -c "ip -n $LAB-s -6 route show table all | grep -q 'proto 109'"
check "the operator's route kept"     sh -c "ip -n $LAB-s -6 route show | grep -q '^2001:db8:ff::/64 via $P::1'"
check "kernel routes kept (host reaches c1)" ip netns exec "$LAB-s" ping -6 -c 1 -W 2 2001:db8:1:1::2

echo "t_scale: $fails failure(s)"
[ "$fails" -eq 0 ]
