#!/bin/bash
# mt6d-peer, silent to probes and failing closed (topology: peer-lib.sh;
# docs/running.md "Silent to probes and fail closed"). While A pings B's
# tunnel address through the tunnel, the router probes every global address
# of A and B but their fixed ones (MT6D addresses) and their tunnel
# addresses (through the host's link address, as an on-link attacker
# would): no answer. Then A keeps pinging fd6d::b while B is stopped, A is
# stopped with SIGTERM, restarted, and killed with SIGKILL: a capture on the
# router sees no packet to or from fd6d::/64 (tunnel traffic in clear).
# (Before the guard: 39 answers to the probes of 12 addresses, and 122
# packets in clear after A stopped.)
# shellcheck source=tests/netns/peer-lib.sh
. "$(dirname "$0")/peer-lib.sh"

PEER_ROT=2s
PROBE_SRC=2001:db8:ff00::99
peer_lab_up
in_ns r ip -6 addr add "$PROBE_SRC/128" dev lo
peer_start A
peer_start B
check "ping fd6d::b through the tunnel" in_ns A ping -c 3 -i 0.2 -W 2 "$TUN_B"

"$lab" exec r tcpdump -i br0 -n -U -w "$work/clear.pcap" "ip6 net fd6d::/64 and not host $PROBE_SRC" 2>/dev/null &
EXTRA_PIDS=$!
"$lab" exec r tcpdump -i br0 -n -U -w "$work/answers.pcap" \
	"ip6 dst $PROBE_SRC and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)" 2>/dev/null &
EXTRA_PIDS="$EXTRA_PIDS $!"
sleep 1
: >"$work/routes"
: >"$work/targets"
for h in A B; do
	host=$(ns_of "$h")
	via=$("$lab" addr "$host")
	for t in $(in_ns "$h" ip -6 -o addr show scope global | awk '{print $4}' | sed 's|/.*||' |
		grep -v -x "$via"); do
		echo "route replace $t/128 via $via dev br0" >>"$work/routes"
		echo "$t" >>"$work/targets"
	done
done
in_ns r ip -6 -batch "$work/routes"
# shellcheck disable=SC2046
in_ns r python3 "$top/tests/netns/guard_probe.py" "$PROBE_SRC" $(cat "$work/targets") >"$work/probe"
echo "     ($(wc -l <"$work/targets") targets: $(tr '\n' ';' <"$work/probe"))"
check "A and B: at least 4 targets (MT6D and tunnel addresses)" test "$(wc -l <"$work/targets")" -ge 4
check "the tunnel still passes pings" in_ns A ping -c 3 -i 0.2 -W 2 "$TUN_B"

"$lab" exec s python3 "$top/tests/netns/guard_probe.py" ping "$TUN_B" 30 >"$work/ping" 2>&1 &
pinger=$!
EXTRA_PIDS="$EXTRA_PIDS $pinger"
sleep 2
peer_stop B
sleep 3
peer_stop A
sleep 3
peer_start A
sleep 3
kill -KILL "${PEER_PID[A]}"
wait "${PEER_PID[A]}" 2>/dev/null
unset "PEER_PID[A]"
sleep 3
# shellcheck disable=SC2086 # a list of PIDs
kill $EXTRA_PIDS 2>/dev/null
# shellcheck disable=SC2086 # a list of PIDs
wait $EXTRA_PIDS 2>/dev/null
EXTRA_PIDS=""
answers=$(tcpdump -r "$work/answers.pcap" -n 2>/dev/null | wc -l)
clear=$(tcpdump -r "$work/clear.pcap" -n 2>/dev/null | wc -l)
check "no answer to the probes ($answers captured)" test "$answers" = 0
check "no tunnel packet in clear across B's stop, A's SIGTERM and SIGKILL ($clear)" \
	test "$clear" = 0
[ "$clear" = 0 ] || tcpdump -r "$work/clear.pcap" -n 2>/dev/null | head -n 5
peer_finish
