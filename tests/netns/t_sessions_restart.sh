#!/bin/bash
# mt6d-server and mt6d-client under change (topology: sessions-lib.sh):
# a client behind a 20 % lossy link (each way, on every packet of the host)
# establishes by retrying; a client whose
# network is renumbered (its /64 changes) establishes again and its TCP
# stream to the server's tunnel address survives; clients of a server that
# stops answering renew their sessions beside themselves after a few
# unanswered keepalives and establish again when it is back; a server killed
# with SIGKILL leaves no interface, its restart purges the addresses it left,
# both clients establish again and service returns within 15 s; a client whose registration expires loses
# its session at that instant; after a second SIGKILL the addresses expire
# by themselves; SIGTERM leaves nothing.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
sess_lab_up
server_start -I 60000
client_start 1 -K 1000
check "client 1 establishes a session" wait_for 10 has_session 1

"$lab" netem c2 --loss 20 >/dev/null
client_start 2 -K 1000
check "client 2 establishes over a 20 % lossy link" wait_for 60 has_session 2
"$lab" netem c2 --loss 0 >/dev/null
echo "     (client 2 sent $(field c2 requests_sent) requests)"

# Renumbering: c1 moves from 2001:db8:1:1::/64 to 2001:db8:1:101::/64 while
# a TCP stream runs to the server's tunnel address.
stream=$top/tests/netns/peer_stream.py
in_ns s /usr/bin/python3 "$stream" recv "$(server_tun 1)" 5001 >"$work/recv1.out" 2>&1 &
r1=$!
EXTRA_PIDS=$r1
sleep 0.5
in_ns c1 /usr/bin/python3 "$stream" send "$(server_tun 1)" 5001 15 100000 c1mark >"$work/send1.out" 2>&1 &
s1=$!
EXTRA_PIDS="$r1 $s1"
sleep 4
in_ns r ip -6 addr add 2001:db8:1:101::1/64 dev br0 nodad
in_ns c1 ip -6 addr del 2001:db8:1:1::2/64 dev eth0
in_ns c1 ip -6 addr add 2001:db8:1:101::2/64 dev eth0 nodad
in_ns c1 ip -6 route replace default via 2001:db8:1:101::1 dev eth0
renumbered() { test "$(field c1 reestablish_prefix)" = 1 && has_session 1 &&
	session_field client-1 client_seed | grep -q '^2001:db8:1:101:'; }
check "client 1 establishes again from its new /64" wait_for 10 renumbered
# (tunnel_free waits for adds still in flight and deletes them too; the
# wait covers the kernel's acknowledgements of the deletes.)
check "no MT6D address of the old /64 is left on client 1" wait_for 6 bash -c \
	"! '$lab' exec c1 ip -6 addr show | grep ' 2001:db8:1:1:'"
wait $s1 $r1
EXTRA_PIDS=
check "client 1's TCP stream survived the renumbering intact" bash -c \
	"test -s '$work/send1.out' && diff '$work/send1.out' '$work/recv1.out'"

# A server that stops answering (SIGSTOP) for longer than the clients'
# silence limit (-K 1000: keepalive 1 s, silence 3.5 s): they establish
# again once it answers.
kill -STOP "${PID[s]}"
sleep 6
kill -CONT "${PID[s]}"
check "client 1 noticed the silence" wait_for 5 bash -c "'$build/mt6d' show -s '$work/c1/ctl.sock' dump | grep -qx 'reestablish_silence=[1-9]'"
# Before its silence limit, after a few unanswered keepalives, it started
# a new introduction beside the silent session (make-before-break).
check "client 1 renewed its silent session beside it first" \
	bash -c "'$build/mt6d' show -s '$work/c1/ctl.sock' dump | grep -qx 'renew_silence=[1-9][0-9]*'"
check "client 1 establishes again after the silence" wait_for 20 has_session 1
check "ping through client 1's session after the silence" in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"

# SIGKILL: the TUNs go with the process, the MT6D addresses stay until
# their lifetime ends or a restart purges them.
kill -KILL "${PID[s]}"
wait "${PID[s]}" 2>/dev/null
unset "PID[s]"
check "a killed server leaves no interface" bash -c "! '$lab' exec s ip link show | grep -q mt6d"
left=$(in_ns s ip -6 addr show dev eth0 | grep -c 'dynamic')
check "a killed server leaves MT6D addresses for now ($left)" test "$left" -gt 0
rm -f "$work/s/ctl.sock"
# Time from the server's return to the first ping answered through a new
# session (the killed server's sessions are gone, so any answer is one):
# the clients start a new introduction beside their silent sessions
# (make-before-break) instead of waiting for their silence limit.
first_ping_after() { # start (s since epoch, fractional) -> prints seconds, or nothing
	local i
	for i in $(seq 1 150); do
		if in_ns c1 ping -c 1 -W 0.2 "$(server_tun 1)" >/dev/null 2>&1; then
			echo "$(date +%s.%N) - $1" | bc
			return 0
		fi
		sleep 0.1
	done
	return 1
}
restart_at=$(date +%s.%N)
server_start -I 60000
back_s=$(first_ping_after "$restart_at")
echo "     (first ping through a new session ${back_s:-never} s after the restart)"
check "service returns within 15 s of the server's restart" \
	bash -c "test -n '$back_s' && echo '$back_s <= 15' | bc | grep -qx 1"
check "the restarted server purged them" wait_for 5 grep -q "removed [0-9]* MT6D addresses of a previous run" "$work/s/log"
check "client 1 establishes with the restarted server" wait_for 15 has_session 1
check "client 2 establishes with the restarted server" wait_for 15 has_session 2
check "the restarted server has two sessions" wait_for 5 field_is s sessions 2
# (A client may still show its session with the killed server until it
# reads the new config: wait for traffic to flow.)
check "ping through client 2's new session" wait_for 10 in_ns c2 ping -c 1 -W 1 "$(server_tun 2)"

# Expiry: client 2 registered until 3 s from now is revoked then by itself.
expiry=$(date -u -d @$(($(date +%s) + 3)) +%Y-%m-%dT%H:%M:%SZ)
sed -i "/^Name = client-2$/a Expires = $expiry" "$work/s/server.conf"
check "mt6d reload (client 2 expires at $expiry)" "$build/mt6d" reload -s "$work/s/ctl.sock"
check "client 2 is still served until then" wait_for 2 has_session 2
check "at expiry the server ends client 2's session" wait_for 8 field_is c2 teardowns_rx 1
check "the expiry is audited" grep -q "client 'client-2' (id 2) expired: treated as revoked" "$work/s/state/audit.log"
check "client 1 keeps a session" wait_for 10 has_session 1

kill -KILL "${PID[s]}"
wait "${PID[s]}" 2>/dev/null
unset "PID[s]"
stop c1
stop c2
check "the killed server's addresses expire by themselves" wait_for 8 nothing_left s crashed
server_filter_stays() { in_ns s nft list tables | grep -q 'mt6d-server-'; }
check "the killed server's probe filter stays, failing closed until the next start" \
	server_filter_stays
for h in c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done

finish
