#!/bin/bash
# Fail closed, both ends (topology: sessions-lib.sh; docs/running.md "Silent
# to probes and fail closed"). Client 1 pings the server's tunnel address
# and the server pings client 1's, each at 10/s, for the whole test, across
# every way a session ends or is replaced: three `mt6d rekey` (the client
# makes a new session beside the old one), revocation of the client by
# reload (and its return), SIGTERM of the client, SIGKILL of the server,
# SIGKILL of the client. A capture on the router counts every packet whose
# outer source or destination is in the tunnel prefix: each would be tunnel
# traffic in clear. Zero in every phase.
# (Before the guard, two runs of this test counted: rekey 2 and 0,
# revocation 168 and 197, client SIGTERM 92 and 94, server SIGKILL 44 and
# 45, client SIGKILL 78 and 82.)
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

LAB_CLIENTS=1
SESS_ROT=1s
sess_lab_up
server_start
client_start 1
check "client 1 establishes a session" wait_for 20 has_session 1

# "$lab" exec execs: $! is the PID of tcpdump or ping itself.
"$lab" exec r tcpdump -i br0 -n -U -w "$work/clear.pcap" "ip6 net ${TPREFIX}/64" \
	2>"$work/tcpdump.log" &
td=$!
EXTRA_PIDS="$td"
sleep 1
# Not ping(8), which stops sending at the first "No route to host".
"$lab" exec c1 python3 "$top/tests/netns/guard_probe.py" ping "$(server_tun 1)" 150 \
	>"$work/ping-c1.out" 2>&1 &
pc=$!
"$lab" exec s python3 "$top/tests/netns/guard_probe.py" ping "$(client_tun 1)" 150 \
	>"$work/ping-s.out" 2>&1 &
ps=$!
EXTRA_PIDS="$td $pc $ps"

phases=()
mark() { phases+=("$1 $(date +%s.%N)"); }

mark rekey
for _ in 1 2 3; do
	"$build/mt6d" rekey -s "$work/s/ctl.sock" >/dev/null
	sleep 3
done
check "client 1 has a session after the rekeys" wait_for 15 has_session 1
# Each new K gives the client a new seed (C_IID): those of introductions
# gone leave its table, which would otherwise grow by one every window.
seeds() { # the client's own seeds in its tun6 set (its /64, not its fixed ::2)
	local p
	p=$("$lab" prefix c1)
	in_ns c1 nft list set inet mt6d-client-eth0 tun6 | grep -o "${p%::}:[0-9a-f][0-9a-f:]*" | wc -l
}
check "the client's table holds only live seeds after 4 introductions ($(seeds))" \
	test "$(seeds)" -le 2

mark revocation
cp "$work/s/server.conf" "$work/s/server.conf.all"
sed -i '/^\[Client\]$/,$d' "$work/s/server.conf"
check "mt6d reload (client 1 revoked)" "$build/mt6d" reload -s "$work/s/ctl.sock"
sleep 6
cp "$work/s/server.conf.all" "$work/s/server.conf"
check "mt6d reload (client 1 back)" "$build/mt6d" reload -s "$work/s/ctl.sock"
check "client 1 establishes a session again" wait_for 40 has_session 1

mark client-sigterm
stop c1
sleep 4
client_start 1
check "client 1 establishes a session after its restart" wait_for 20 has_session 1

mark server-sigkill
kill -KILL "${PID[s]}"
wait "${PID[s]}" 2>/dev/null
unset "PID[s]"
sleep 4
rm -f "$work/s/ctl.sock"
server_start
check "client 1 establishes a session with the restarted server" wait_for 45 has_session 1

echo "     (server $(show s | grep '^guard_' | tr '\n' ' '))"
mark client-sigkill
kill -KILL "${PID[c1]}"
wait "${PID[c1]}" 2>/dev/null
unset "PID[c1]"
sleep 4
mark end

kill "$pc" "$ps" 2>/dev/null
wait "$pc" "$ps" 2>/dev/null
sleep 0.5
kill -INT "$td"
wait "$td" 2>/dev/null
EXTRA_PIDS=""
tcpdump -r "$work/clear.pcap" -n -tt 2>/dev/null >"$work/clear.txt"
for ((i = 0; i + 1 < ${#phases[@]}; i++)); do
	read -r name from <<<"${phases[$i]}"
	read -r _ to <<<"${phases[$((i + 1))]}"
	n=$(awk -v a="$from" -v b="$to" '$1 >= a && $1 < b' "$work/clear.txt" | wc -l)
	replies=$(awk -v a="$from" -v b="$to" '$2 == "reply" && $1 >= a && $1 < b' \
		"$work/ping-c1.out" | wc -l)
	expected=$(awk -v a="$from" -v b="$to" 'BEGIN { printf "%d", (b - a) * 10 }')
	check "$name: no tunnel packet in clear on the wire ($n; $replies of ~$expected pings answered)" \
		test "$n" = 0
done
# The pings answered are shown, not checked: this test is about what
# leaves in clear (t_sessions_rekey.sh checks the traffic across changes
# of K).
check "no tunnel packet in clear over the whole test ($(wc -l <"$work/clear.txt"))" \
	test "$(wc -l <"$work/clear.txt")" = 0
[ "$fails" -gt 0 ] && head -n 20 "$work/clear.txt"
exit $((fails > 0))
