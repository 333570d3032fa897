#!/bin/bash
# The address-rotation engine on a real link: MT6D addresses bound on the
# server host's eth0 (and on a macvlan child of it) are answered to neighbour
# solicitations from the router while current, and not once removed or
# expired; a rotation step changes exactly the intended addresses; `ip -6
# addr` shows the flags and lifetimes, our dump shows the tag; SIGKILL leaves
# nothing once the valid lifetime has passed; the purge removes ours only.
#
#   s: eth0 2001:db8:0:1::2/64 (+ MT6D /128s), mv0 (macvlan of eth0)
#      |
#   r: br0 2001:db8:0:1::1/64 ... ndisc6 from here
#      |
#   c1: eth0 2001:db8:1:1::2/64
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
lab=$top/scripts/lab.sh
build=${MT6D_BUILD:-$top/build}
tool=$build/bench/bench_addr_bind
export LAB=tnladdr$$
fails=0
holder=

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit '[ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null; "$lab" down >/dev/null 2>&1; rm -f /tmp/t_nladdr.$$.*'

if [ ! -x "$tool" ]; then
	# `make check` builds programs and tests; this helper is a benchmark.
	make -C "$top" -s "BUILD=$build" "$tool" >/dev/null || { echo "cannot build $tool"; exit 1; }
fi

# Background holders run without a shell function in between, so that $! is
# the holder itself (ip netns exec execs it) and our signals reach it.
S() { ip netns exec "$LAB-s" "$@"; }
R() { ip netns exec "$LAB-r" "$@"; }
# Neighbour solicitation from the router: answered or not (3 tries, 300 ms).
answered() { R ndisc6 -1 -q -r 3 -w 300 "$1" br0; }
ours() { S "$tool" show "${1:-eth0}" | awk '{print $1}' | sort | tr '\n' ' '; }
wait_line() { # file pattern: up to 10 s
	for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

"$lab" -n 1 up >/dev/null || { echo "lab up failed"; exit 1; }
P=2001:db8:0:1
A=$P:a1:5eed:1:1 B=$P:b2:5eed:2:2 C=$P:c3:5eed:3:3 D=$P:d4:5eed:4:4 N=$P:e5:5eed:5:5

# Three live addresses, held by a process as a daemon would.
ip netns exec "$LAB-s" "$tool" hold eth0 30 $A $B $C >/tmp/t_nladdr.$$.hold 2>&1 &
holder=$!
check "hold binds 3"                  wait_line /tmp/t_nladdr.$$.hold 'bound=3 failed=0'
check "ip -6 addr: /128 nodad noprefixroute deprecated" sh -c "ip -n $LAB-s -6 addr show dev eth0 | grep -A1 '$A/128' | grep -q 'nodad deprecated dynamic noprefixroute'"
check "ip -6 addr: preferred 0, valid <= 30" sh -c "ip -n $LAB-s -6 addr show dev eth0 | grep -A1 '$A/128' | grep -Eq 'valid_lft (30|2[0-9])sec preferred_lft 0sec'"
check "dump shows the tag 0x6d"       sh -c "ip netns exec $LAB-s '$tool' show eth0 | grep '^$A/128' | grep -q 'proto 0x6d nodad noprefixroute deprecated'"
check "exactly A B C are ours"        test "$(ours)" = "$(printf '%s/128\n' $A $B $C | sort | tr '\n' ' ')"
check "NS for current A answered"     answered $A
check "NS for never-valid N silent"   not answered $N
check "c1 reaches A across router"    ip netns exec "$LAB-c1" ping -6 -c 1 -W 2 $A

# One rotation step in one batch: bind D, drop A.
check "step +D -A in one sendmsg"     sh -c "ip netns exec $LAB-s '$tool' step eth0 30 +$D -$A | grep -q 'sent=2'"
check "now exactly B C D are ours"    test "$(ours)" = "$(printf '%s/128\n' $B $C $D | sort | tr '\n' ' ')"
check "NS for removed A silent"       not answered $A
check "NS for new D answered"         answered $D
check "the host address is untouched" sh -c "ip -n $LAB-s -6 addr show dev eth0 | grep -q '$P::2/64'"

# Errors come back with the kernel's words, not crashes.
S "$tool" step eth0 30 +$B >/tmp/t_nladdr.$$.step 2>&1
check "adding an existing address fails" test $? -ne 0
check "... with the kernel's words"   grep -q "err +$B: File exists (kernel: ipv6: address already assigned)" /tmp/t_nladdr.$$.step
S "$tool" step eth0 30 -$N >/tmp/t_nladdr.$$.step 2>&1
check "deleting a missing one fails"  test $? -ne 0
check "... clearly"                   grep -q "err -$N: Cannot assign requested address" /tmp/t_nladdr.$$.step
S "$tool" step nosuch0 30 +$N >/tmp/t_nladdr.$$.step 2>&1
check "no such interface fails"       test $? -ne 0
check "... clearly"                   grep -q "no interface 'nosuch0'" /tmp/t_nladdr.$$.step
check "B is still ours after the failed add" sh -c "ip netns exec $LAB-s '$tool' show eth0 | grep -q '^$B/128'"

# Orderly stop: the holder removes what it still owns (B C; A already gone).
kill -TERM "$holder"
wait "$holder"
holder=
check "holder removed its 2"          grep -q 'removed=2' /tmp/t_nladdr.$$.hold
check "only D (the step's) is left"   test "$(ours)" = "$D/128 "

# Purge: leftovers tagged as ours go, the operator's addresses stay.
ip -n "$LAB-s" -6 addr add $N/128 dev eth0 nodad
check "purge removes 1"               sh -c "ip netns exec $LAB-s '$tool' purge all | grep -q 'purged=1'"
check "nothing of ours left"          test -z "$(ours)"
check "operator's /128 kept"          sh -c "ip -n $LAB-s -6 addr show dev eth0 | grep -q '$N/128'"
check "host address kept"             sh -c "ip -n $LAB-s -6 addr show dev eth0 | grep -q '$P::2/64'"
ip -n "$LAB-s" -6 addr del $N/128 dev eth0

# SIGKILL: nothing removes them but their 3 s valid lifetime.
ip netns exec "$LAB-s" "$tool" hold eth0 3 $A $B >/tmp/t_nladdr.$$.hold 2>&1 &
holder=$!
check "short-lived pair bound"        wait_line /tmp/t_nladdr.$$.hold 'bound=2'
kill -KILL "$holder"
wait "$holder" 2>/dev/null
holder=
check "still there right after SIGKILL" test -n "$(ours)"
gone=no
for _ in $(seq 40); do [ -z "$(ours)" ] && { gone=yes; break; }; sleep 0.25; done
check "gone once the lifetime passed" test $gone = yes
check "NS for expired A silent"       not answered $A

# The macvlan layout (addresses spread over children of eth0) is reachable too.
ip -n "$LAB-s" link add mv0 link eth0 type macvlan mode bridge
ip -n "$LAB-s" link set mv0 up
ip netns exec "$LAB-s" "$tool" hold mv0 30 $C >/tmp/t_nladdr.$$.hold 2>&1 &
holder=$!
check "bound on macvlan child"        wait_line /tmp/t_nladdr.$$.hold 'bound=1'
check "NS for C on mv0 answered"      answered $C
check "c1 reaches C on mv0"           ip netns exec "$LAB-c1" ping -6 -c 1 -W 2 $C
kill -TERM "$holder"
wait "$holder"
holder=
check "mv0 holder cleaned up"         test -z "$(ours mv0)"

echo "t_nladdr: $fails failure(s)"
[ "$fails" -eq 0 ]
