#!/bin/bash
# SessionInterface = shared (docs/running.md "Session interfaces"): mt6d-server
# with three mt6d-client hosts and one TUN for all their sessions. Each
# client reaches its own server tunnel address through its session; as an
# attacker, client 1 sends through its own session to client 2's server and
# client tunnel addresses, to a host address of the server, and from client
# 2's tunnel address: nothing answers and the server counts the drops. Only
# one session TUN exists on the server; a session that ends takes its route
# with it and its client's tunnel address is then refused on the server
# (unreachable), never sent in clear on eth0. A clean stop leaves no TUN and
# no route of ours but the documented fail-closed ones (proto 0x6e).
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

export LAB_CLIENTS=3
SESS_ROT=1s
sess_lab_up
sed -i "/^TunnelPrefix/a SessionInterface = shared" "$work/s/server.conf"
server_start
for i in 1 2 3; do
	client_start "$i"
done
for i in 1 2 3; do
	check "client $i establishes a session" wait_for 15 has_session "$i"
done
check "the server says its sessions share one interface" field_is s session_interface_mode shared
shared=$(field s shared_interface)
check "the shared interface is named ($shared)" test -n "$shared"
for i in 1 2 3; do
	check "client-$i's session is on $shared" test "$(session_field "client-$i" session_interface)" = "$shared"
done
tuns() { in_ns s ip -o link show type tun | wc -l; }
check "two TUNs on the server: the introduction's and the shared one ($(tuns))" test "$(tuns)" = 2
check "no tunnel address on $shared (one local route makes them ours)" \
	test -z "$(in_ns s ip -6 addr show dev "$shared" scope global)"
check "one local route for every server tunnel address" bash -c \
	"'$lab' exec s ip -6 route show table local dev '$shared' | grep -q '^local ${TPREFIX}1:0:0/104'"
for i in 1 2 3; do
	check "a /128 route of client $i's tunnel address into $shared" bash -c \
		"'$lab' exec s ip -6 route show '$(client_tun "$i")' | grep -q 'dev $shared'"
done

for i in 1 2 3; do
	check "ping from client $i to its server tunnel address" \
		in_ns "c$i" ping -c 3 -i 0.2 -W 2 "$(server_tun "$i")"
done
handed=$(field s shared_handed)
check "the answers left through the shared interface ($handed packets)" test "$handed" -ge 9
check "the replies took the sessions' routes (no packet without a session)" \
	field_is s shared_drops_no_session 0

# Client 1 as an attacker: its own session carries what it routes into it.
c1if=$(field c1 session_interface)
host=2001:db8:0:1::2
for dst in "$(server_tun 2)" "$(client_tun 2)" "$host"; do
	in_ns c1 ip -6 route replace "$dst/128" dev "$c1if"
done
inner=$(session_field client-1 drops_inner)
# Whatever got through would reach client 2 as an echo request.
c2if=$(field c2 session_interface)
in_ns c2 timeout 30 tcpdump -n -i "$c2if" -c 1 "icmp6 and ip6[40] == 128" >"$work/c2.out" 2>"$work/c2.err" &
td=$!
EXTRA_PIDS=$td
sleep 1
for dst in "$(server_tun 2)" "$(client_tun 2)" "$host"; do
	check "client 1 gets nothing from $dst through its session" \
		bash -c "! '$lab' exec c1 ping -c 2 -i 0.2 -W 1 '$dst'"
done
# A packet from client 2's tunnel address to client 1's own server tunnel
# address: the source proves nothing but for the session it came from.
in_ns c1 ip -6 addr add "$(client_tun 2)/128" dev "$c1if" nodad
check "client 1 gets nothing as client 2 (source $(client_tun 2))" \
	bash -c "! '$lab' exec c1 ping -c 2 -i 0.2 -W 1 -I '$(client_tun 2)' '$(server_tun 1)'"
in_ns c1 ip -6 addr del "$(client_tun 2)/128" dev "$c1if"
d=$(($(session_field client-1 drops_inner) - inner))
check "the server dropped all 8 inside client 1's session ($d)" test "$d" -ge 8
kill -TERM "$td" 2>/dev/null
wait "$td" 2>/dev/null
EXTRA_PIDS=
check "no echo request reached client 2" \
	bash -c "grep -q 'listening on $c2if' '$work/c2.err' && ! grep -q IP6 '$work/c2.out'"
check "client 2 still reaches its server tunnel address" \
	in_ns c2 ping -c 2 -i 0.2 -W 2 "$(server_tun 2)"

# A session that ends takes its route; its client's address is refused.
stop c3
ended() { test "$(field s sessions)" = 2; }
check "client 3's teardown ended its session" wait_for 5 ended
check "client 3's route left $shared" bash -c \
	"! '$lab' exec s ip -6 route show '$(client_tun 3)' | grep -q 'dev $shared'"
check "client 3's tunnel address is unreachable on the server" bash -c \
	"'$lab' exec s ip -6 route get '$(client_tun 3)' 2>&1 | grep -qiE 'unreachable|no route to host'"
in_ns s timeout 4 tcpdump -n -i eth0 -c 1 "ip6 dst $(client_tun 3)" >"$work/clear.out" 2>"$work/clear.err" &
td=$!
EXTRA_PIDS=$td
sleep 1
check "the server refuses to send to client 3's tunnel address" \
	bash -c "! '$lab' exec s ping -c 3 -i 0.2 -W 1 '$(client_tun 3)'"
nosess=$(field s shared_drops_no_session)
wait $td
EXTRA_PIDS=
check "nothing to client 3's tunnel address went out on eth0 in clear" \
	bash -c "grep -q 'listening on eth0' '$work/clear.err' && ! grep -q IP6 '$work/clear.out'"
check "client 1 still has its session" in_ns c1 ping -c 2 -i 0.2 -W 2 "$(server_tun 1)"
# What the host routes into the shared TUN for no session is dropped and
# counted (an operator's stray route, a session gone between read and send).
in_ns s ip -6 route add "$(client_tun 9)/128" dev "$shared"
check "a packet into $shared for no session goes nowhere" \
	bash -c "! '$lab' exec s ping -c 2 -i 0.2 -W 1 '$(client_tun 9)'"
check "... and is counted" test "$(field s shared_drops_no_session)" -ge $((nosess + 2))
in_ns s ip -6 route del "$(client_tun 9)/128" dev "$shared"
echo "     (shared: rx $(field s shared_rx), handed $(field s shared_handed), no session $nosess)"

# The server's teardowns leave through the shared interface too (the
# closing sessions still have their routes and tunnels).
stop s
torn() { test "$(field c1 teardowns_rx)" -ge 1 && test "$(field c2 teardowns_rx)" -ge 1; }
check "the server's teardowns reached clients 1 and 2" wait_for 5 torn
check "clean shutdown removed the shared TUN" test "$(tuns)" = 0
check "clean shutdown left no route of ours (proto 0x6d, any table)" \
	test -z "$(in_ns s ip -6 route show table all proto 0x6d)"
check "clean shutdown left no route into a TUN of ours" bash -c \
	"! '$lab' exec s ip -6 route show table all | grep -q 'dev mt6d'"
check "what stays is the fail-closed route of the tunnel prefix (proto 0x6e)" bash -c \
	"'$lab' exec s ip -6 route show proto 0x6e | grep -q '^unreachable $TPREFIX/64'"
check "clean shutdown left nothing in s" nothing_left s
stop c2

# A killed server: the TUN and every route into it go with the process.
cp "$work/s/log" "$work/s/log.first"
server_start
check "client 1 establishes a session with the restarted server" wait_for 20 has_session 1
kill -KILL "${PID[s]}"
wait "${PID[s]}" 2>/dev/null
unset "PID[s]"
check "SIGKILL left no TUN" test "$(tuns)" = 0
check "SIGKILL left no route into a TUN of ours" bash -c \
	"! '$lab' exec s ip -6 route show table all | grep -q 'dev mt6d'"
check "SIGKILL left nothing but the guard's table and routes (addresses expire)" wait_for 10 nothing_left s crashed
stop c1
for h in c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done
check "the server's log has no error" bash -c "! grep -iE 'error|refused' '$work/s/log.first'"

finish
