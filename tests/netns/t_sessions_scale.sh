#!/bin/bash
# mt6d-server in AddressMode = scale with two mt6d-client hosts
# (tests/netns/sessions-lib.sh has the topology): the server claims its /64
# with one local route tagged 0x6d (the router, its gateway, stays an
# exception), binds no MT6D address and answers neighbour solicitations for
# the live slots itself; sessions come up, ping and TCP go through across
# rotations, a SIGKILL leaves the claim that a restart purges, and a clean
# shutdown leaves no address, interface or route in any table.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
sess_lab_up
sed -i '/^TunnelPrefix/a AddressMode = scale' "$work/s/server.conf"
server_start
client_start 1
client_start 2

claim_routes() { in_ns s ip -6 route show table local proto 0x6d; }
# Global addresses of the server other than the lab's eth0 address and the
# introduction seed on mt6d0 (MT6D addresses in per-address mode).
mt6d_addrs() {
	in_ns s ip -6 addr show dev eth0 scope global | grep inet6 | grep -v ' 2001:db8:0:1::2/64 ' || true
}

check "the server runs in scale mode" field_is s address_mode scale
check "the /64 is claimed with one local route" \
	bash -c "'$lab' exec s ip -6 route show table local proto 0x6d | grep -q '^local 2001:db8:0:1::/64 dev eth0'"
check "the gateway 2001:db8:0:1::1 is an exception" \
	bash -c "'$lab' exec s ip -6 route show table local proto 0x6d | grep -q '^2001:db8:0:1::1 dev eth0'"
check "client 1 establishes a session" wait_for 10 has_session 1
check "client 2 establishes a session" wait_for 10 has_session 2
check "server shows two sessions" test "$(field s sessions)" = 2
check "ping from client 1 to its server tunnel address" \
	in_ns c1 ping -c 5 -i 0.2 -W 2 "$(server_tun 1)"
check "ping from client 2 to its server tunnel address" \
	in_ns c2 ping -c 5 -i 0.2 -W 2 "$(server_tun 2)"
check "the server reaches its gateway through the exception" \
	in_ns s ping -c 1 -W 2 2001:db8:0:1::1

stream=$top/tests/netns/peer_stream.py
in_ns s /usr/bin/python3 "$stream" recv "$(server_tun 1)" 5001 >"$work/recv1.out" 2>&1 &
r1=$!
in_ns s /usr/bin/python3 "$stream" recv "$(server_tun 2)" 5002 >"$work/recv2.out" 2>&1 &
r2=$!
EXTRA_PIDS="$r1 $r2"
sleep 0.5
ep1=$(field c1 own_endpoint)
in_ns c1 /usr/bin/python3 "$stream" send "$(server_tun 1)" 5001 8 200000 c1mark >"$work/send1.out" 2>&1 &
s1=$!
in_ns c2 /usr/bin/python3 "$stream" send "$(server_tun 2)" 5002 8 200000 c2mark >"$work/send2.out" 2>&1 &
s2=$!
addrs_during=$(mt6d_addrs)
wait $s1 $s2
wait $r1 $r2
EXTRA_PIDS=
ep2=$(field c1 own_endpoint)
check "client 1's TCP stream arrived intact" bash -c \
	"test -s '$work/send1.out' && diff '$work/send1.out' '$work/recv1.out'"
check "client 2's TCP stream arrived intact" bash -c \
	"test -s '$work/send2.out' && diff '$work/send2.out' '$work/recv2.out'"
check "client 1's MT6D endpoint rotated during the stream ($ep1 -> $ep2)" test "$ep1" != "$ep2"
check "the session rotated at least 6 times" test "$(field c1 rotations)" -ge 6
check "no MT6D address bound on the server's eth0 ($addrs_during)" test -z "$addrs_during$(mt6d_addrs)"
# 3 introduction slots + 2 sessions x 3 slots (one slot may be moving).
nd=$(field s nd_addrs)
check "the responder answers for the live slots only ($nd addresses)" \
	bash -c "test '$nd' -ge 8 && test '$nd' -le 10"
check "the responder answered the router's solicitations" test "$(field s nd_answered)" -gt 0
check "no session address error" test "$(field s addr_errors)" = 0
check "mt6d show --json is JSON in scale mode" bash -c \
	"'$build/mt6d' show -s '$work/s/ctl.sock' --json | /usr/bin/python3 -m json.tool | grep -q '\"nd_addrs\"'"

# SIGKILL leaves the claim behind; the next start purges it.
kill -KILL "${PID[s]}"
wait "${PID[s]}" 2>/dev/null
unset "PID[s]"
check "SIGKILL leaves the claim" bash -c "'$lab' exec s ip -6 route show table all proto 0x6d | grep -q local"
for l in $(in_ns s ip -o link show | awk -F': ' '{print $2}' | grep '^mt6d'); do
	in_ns s ip link del "$l" 2>/dev/null
done
rm -f "$work/s/ctl.sock"
server_start
check "the restarted server purged the old claim (one claim, one exception)" \
	test "$(claim_routes | wc -l)" = 2
check "the restarted server logged the purge" grep -q "removed 2 MT6D routes of a previous run" "$work/s/log"
check "client 1 establishes a session with the restarted server" wait_for 20 has_session 1
check "ping from client 1 after the restart" \
	wait_for 10 in_ns c1 ping -c 2 -i 0.2 -W 2 "$(server_tun 1)"

stop c1
stop c2
stop s
check "clean shutdown removed the claim and the exception" \
	test -z "$(in_ns s ip -6 route show table all proto 0x6d)"
for h in s c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done
check "the server's log has no error" bash -c "! grep -iE 'error|refused' '$work/s/log'"

finish
