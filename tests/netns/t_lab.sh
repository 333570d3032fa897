#!/bin/bash
# scripts/lab.sh: up is idempotent, down always leaves nothing (also after a
# failed up), hosts reach each other across the router, netem applies, a
# fenced lab (-F) sends nothing outside 2001:db8::/32, and two labs coexist.
#
#   c1, c2 (clients), s (server), d1 (DHT host) --- br0 in r (router)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
lab=$top/scripts/lab.sh
A=tlaba$$
B=tlabb$$
fails=0

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'LAB=$A "$lab" down >/dev/null 2>&1; LAB=$B "$lab" down >/dev/null 2>&1'
count_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -c "^$1-" ; }
no_ns() { [ "$(count_ns "$1")" -eq 0 ]; }
ping6() { LAB=$A "$lab" exec "$1" ping -6 -c 1 -W 2 "$2"; }

check "up"                       env LAB=$A "$lab" -n 2 -m 1 up
check "5 namespaces"             test "$(count_ns $A)" -eq 5
check "up again is a no-op"      sh -c "LAB=$A '$lab' -n 2 -m 1 up | grep -q 'already up'"
check "still 5 namespaces"       test "$(count_ns $A)" -eq 5
check "c1 -> server"             ping6 c1 2001:db8:0:1::2
check "server -> c2"             ping6 s "$(LAB=$A "$lab" addr c2)"
check "d1 -> c1"                 ping6 d1 2001:db8:1:1::2
check "c2 -> its gateway"        ping6 c2 2001:db8:1:2::1
check "path crosses the router"  sh -c "LAB=$A '$lab' exec c1 ip -6 route get 2001:db8:0:1::2 | grep -q 'via 2001:db8:1:1::1'"
check "unknown host refused"     not env LAB=$A "$lab" exec c9 true
check "bad option refused"       not env LAB=$A "$lab" -n x up

# A second lab with other options coexists with the first.
check "second lab up, 100% loss" env LAB=$B "$lab" -n 1 -p 100 up
check "100% loss drops"          not env LAB=$B "$lab" exec c1 ping -6 -c 1 -W 1 2001:db8:0:1::2
check "status shows the loss"    sh -c "LAB=$B '$lab' status | grep -q 'loss 100%'"
check "first lab unaffected"     ping6 c1 2001:db8:0:1::2
check "loss removed at run time" sh -c "LAB=$B '$lab' netem c1 --loss 0 && LAB=$B '$lab' netem s --loss 0"
check "link works again"         env LAB=$B "$lab" exec c1 ping -6 -c 1 -W 2 2001:db8:0:1::2
check "30% loss loses some of 40" sh -c "LAB=$B '$lab' netem c1 --loss 30 && ! LAB=$B '$lab' exec c1 ping -6 -q -c 40 -i 0.01 -W 1 2001:db8:0:1::2 | grep -q ' 0% packet loss'"
if ip netns exec "$B-r" tc qdisc add dev lo root netem delay 0ms 2>/dev/null; then
	ip netns exec "$B-r" tc qdisc del dev lo root
	check "netem delay applied" sh -c "LAB=$B '$lab' netem c1 --delay 5 && LAB=$B '$lab' exec c1 ping -6 -c 1 -W 3 2001:db8:0:1::2 | awk -F'[=/ ]' '/^rtt/ {ok = (\$8 >= 18)} END {exit !ok}'"
else
	# This kernel has no sch_netem: a delay is refused with a clear reason.
	check "delay refused without netem" sh -c "LAB=$B '$lab' netem c1 --delay 5 2>&1 | grep -q 'sch_netem'"
fi
check "second lab down"          env LAB=$B "$lab" down
check "second lab gone"          no_ns $B

# A fenced lab (-F): the lab is reachable, nothing else is, yet a route
# lookup outside still yields a lab source in 2000::/3 (what Transmission's
# DHT asks before it opens its IPv6 socket).
sendto_out() { # host address: a UDP datagram to address; fails if refused
	LAB=$B "$lab" exec "$1" /usr/bin/python3 -c 'import socket, sys
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"x", (sys.argv[1], 6881))' "$2"
}
check "fenced lab up"            env LAB=$B "$lab" -n 1 -F up
check "status says fenced"       sh -c "LAB=$B '$lab' status | grep -q fenced"
check "fenced: c1 -> server"     env LAB=$B "$lab" exec c1 ping -6 -c 1 -W 2 2001:db8:0:1::2
check "fenced: UDP in the lab"   sendto_out c1 2001:db8:0:1::2
check "fenced: UDP outside refused" not sendto_out c1 2001:1890:1112:1::20
check "fenced: probe lookup gives a lab source" sh -c \
	"LAB=$B '$lab' exec c1 ip -6 route get 2001:1890:1112:1::20 | grep -q 'src 2001:db8:1:1::2'"
check "fenced lab down"          env LAB=$B "$lab" down

# Changed options rebuild the lab.
check "up with 3 clients"        env LAB=$A "$lab" -n 3 up
check "now 5 namespaces (s,c1-3,r)" test "$(count_ns $A)" -eq 5
check "c3 -> server"             ping6 c3 2001:db8:0:1::2

# A process left running inside the lab does not keep it alive.
LAB=$A "$lab" exec s sleep 300 2>/dev/null &
disown
sleep 0.3
check "down with a process inside" env LAB=$A "$lab" down
check "nothing left"             no_ns $A
check "down again"               env LAB=$A "$lab" down
wait 2>/dev/null

# A failed up cleans itself; a failed up kept half-built is cleaned by down.
check "failed up reports failure" not env LAB=$A LAB_FAIL_AFTER=c1 "$lab" -n 2 up
check "failed up left nothing"   no_ns $A
check "kept failed up fails"     not env LAB=$A LAB_FAIL_AFTER=c1 LAB_KEEP_ON_FAIL=1 "$lab" -n 2 up
check "half-built lab exists"    test "$(count_ns $A)" -ge 2
check "status of a partial lab"  sh -c "LAB=$A '$lab' status | grep -q partial"
check "down after failed up"     env LAB=$A "$lab" down
check "nothing left after that"  no_ns $A
check "no state file left"       test ! -e /tmp/mt6d-lab-$A.state

echo "t_lab: $fails failure(s)"
[ "$fails" -eq 0 ]
