#!/bin/bash
# Three clients at once (topology: sessions-lib.sh, with c3 in
# 2001:db8:1:3::/64): they establish their sessions concurrently, and each
# moves a TCP stream through its own session interface for 36 s (Rot 1 s,
# then 333 ms, then 1 s: more than 30 rotations), verified byte for byte
# (SHA-256 at both ends). Meanwhile:
#   - isolation: client 1 routing client 2's and client 3's tunnel addresses
#     into its own session gets nothing delivered (the server's session
#     tunnel accepts only packets to its own tunnel address: drops_inner);
#     datagrams shaped like tunnel packets sent to client 2's server-side
#     endpoint, from client 1's address and from client 2's own current
#     endpoint address (spoofed), get no reply and are counted as
#     authentication failures of client 2's session; a capture of each
#     session interface on the server shows only that client's traffic
#     (its tunnel addresses, its stream's marker, never another's);
#   - threat level: `mt6d threat high` and then `normal` change Rot of the
#     three running sessions at the next boundary (the server tells each
#     client; both ends move together) without a new session and without
#     losing a byte of the streams.
export LAB_CLIENTS=3
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
sess_lab_up
server_start
for i in 1 2 3; do client_start "$i"; done
for i in 1 2 3; do
	check "client $i establishes a session (three at once)" wait_for 15 has_session "$i"
done
check "server shows three sessions" field_is s sessions 3
declare -A IFN=()
for i in 1 2 3; do IFN[$i]=$(session_field "client-$i" session_interface); done
check "three distinct session interfaces (${IFN[1]}, ${IFN[2]}, ${IFN[3]})" bash -c \
	"test -n '${IFN[1]}' && test -n '${IFN[2]}' && test -n '${IFN[3]}' &&
	 test \$(printf '%s\n' '${IFN[1]}' '${IFN[2]}' '${IFN[3]}' | sort -u | wc -l) = 3"

# Captures of the three session interfaces on the server (inner packets).
for i in 1 2 3; do
	in_ns s tcpdump -i "${IFN[$i]}" -U -nn -Z root -w "$work/cap$i.pcap" >"$work/tcpdump$i.log" 2>&1 &
	CAP[i]=$!
done
EXTRA_PIDS="${CAP[*]}"
sleep 1

stream=$top/tests/netns/peer_stream.py
for i in 1 2 3; do
	in_ns s /usr/bin/python3 "$stream" recv "$(server_tun "$i")" 5001 >"$work/recv$i.out" 2>&1 &
	R[i]=$!
done
EXTRA_PIDS="${CAP[*]} ${R[*]}"
sleep 0.5
for i in 1 2 3; do
	in_ns "c$i" /usr/bin/python3 "$stream" send "$(server_tun "$i")" 5001 36 100000 "c${i}mark" \
		>"$work/send$i.out" 2>&1 &
	S[i]=$!
done
EXTRA_PIDS="${CAP[*]} ${R[*]} ${S[*]}"
sleep 2

# Client 1 routes the others' tunnel addresses into its own session.
probe=$top/tests/netns/sess_probe.py
listen=$top/tests/netns/sess_listen.py
inner=$(session_field client-1 drops_inner)
in_ns s /usr/bin/python3 "$listen" "$(server_tun 2)" 6000 3 >"$work/listen2.out" 2>&1 &
l2=$!
in_ns c3 /usr/bin/python3 "$listen" "$(client_tun 3)" 6000 3 >"$work/listen3.out" 2>&1 &
l3=$!
EXTRA_PIDS="${CAP[*]} ${R[*]} ${S[*]} $l2 $l3"
wait_for 2 grep -q ready "$work/listen2.out"
wait_for 2 grep -q ready "$work/listen3.out"
c1if=$(field c1 session_interface)
in_ns c1 ip -6 route add "$(server_tun 2)/128" dev "$c1if"
in_ns c1 ip -6 route add "$(client_tun 3)/128" dev "$c1if"
check "client 1 sending to client 2's server tunnel address through its own session gets no reply" \
	in_ns c1 /usr/bin/python3 "$probe" "$(server_tun 2)" 6000 20 0.5
check "client 1 sending to client 3's tunnel address through its own session gets no reply" \
	in_ns c1 /usr/bin/python3 "$probe" "$(client_tun 3)" 6000 20 0.5
in_ns c1 ip -6 route del "$(server_tun 2)/128" dev "$c1if"
in_ns c1 ip -6 route del "$(client_tun 3)/128" dev "$c1if"
# Outside the tunnels, the lab's router knows no tunnel address.
in_ns c1 /usr/bin/python3 "$probe" "$(server_tun 2)" 6000 5 0.2 >/dev/null 2>&1
wait $l2 $l3
check "nothing reached client 2's server tunnel address" grep -qx "received 0" "$work/listen2.out"
check "nothing reached client 3's tunnel address" grep -qx "received 0" "$work/listen3.out"
check "client 1's session counted the 40 packets to other destinations (drops_inner)" \
	test "$(session_field client-1 drops_inner)" -ge $((inner + 40))

# Tunnel-shaped datagrams at client 2's server-side endpoint of this slot.
auth=$(session_field client-2 drops_auth)
ep=$(session_field client-2 own_endpoint)
eaddr=${ep%]:*}
eaddr=${eaddr#[}
eport=${ep##*:}
check "client 1's datagrams to client 2's session endpoint get no reply" \
	in_ns c1 /usr/bin/python3 "$probe" "$eaddr" "$eport" 30 0.3 - tunnel
ep=$(session_field client-2 own_endpoint)
eaddr=${ep%]:*}
eaddr=${eaddr#[}
eport=${ep##*:}
peer=$(session_field client-2 peer_endpoint)
paddr=${peer%]:*}
paddr=${paddr#[}
check "client 1 spoofing client 2's current endpoint address gets no reply" \
	in_ns c1 /usr/bin/python3 "$probe" "$eaddr" "$eport" 30 0.3 "$paddr" tunnel
check "client 2's session counted them as authentication failures" \
	wait_for 2 test "$(session_field client-2 drops_auth)" -ge $((auth + 60))

# Threat level changes under the running streams.
rot_is() { # ms: every session on the server and every client at that Rot
	local i
	for i in 1 2 3; do
		test "$(session_field "client-$i" rotation_ms)" = "$1" || return 1
		test "$(field "c$i" rotation_ms)" = "$1" || return 1
	done
}
check "mt6d threat high" "$build/mt6d" threat high -s "$work/s/ctl.sock"
check "the three running sessions rotate every Rot / 3 at the next boundary" wait_for 6 rot_is 333
sleep 8
check "mt6d threat normal" "$build/mt6d" threat normal -s "$work/s/ctl.sock"
check "the three sessions rotate every Rot again" wait_for 6 rot_is 1000

wait "${S[@]}" "${R[@]}"
for i in 1 2 3; do
	check "client $i's stream arrived intact ($(cat "$work/send$i.out" 2>/dev/null))" bash -c \
		"test -s '$work/send$i.out' && diff '$work/send$i.out' '$work/recv$i.out'"
	check "client $i's stream was at least 3 MB" \
		test "$(cut -d' ' -f1 "$work/send$i.out" 2>/dev/null || echo 0)" -ge 3000000
	check "client $i kept its one session" field_is "c$i" sessions 1
	check "client $i changed Rot twice within it" field_is "c$i" rotation_changes 2
	check "client $i's session rotated at least 30 times ($(field "c$i" rotations))" \
		test "$(field "c$i" rotations)" -ge 30
done
check "the server made three sessions in all" field_is s sessions_started 3

kill "${CAP[@]}" 2>/dev/null
wait "${CAP[@]}" 2>/dev/null
EXTRA_PIDS=
for i in 1 2 3; do
	others=$(for j in 1 2 3; do [ "$j" = "$i" ] || echo -n "c${j}mark|"; done)
	others=${others%|}
	check "capture of ${IFN[$i]} holds client $i's stream" bash -c \
		"test \$(tcpdump -r '$work/cap$i.pcap' -nn 2>/dev/null | wc -l) -gt 1000 && grep -qa 'c${i}mark' '$work/cap$i.pcap'"
	check "capture of ${IFN[$i]} holds only client $i's tunnel addresses" bash -c \
		"test \$(tcpdump -r '$work/cap$i.pcap' -nn 'not ((src $(server_tun "$i") and dst $(client_tun "$i")) or (src $(client_tun "$i") and dst $(server_tun "$i")))' 2>/dev/null | wc -l) = 0"
	check "capture of ${IFN[$i]} never shows another client's stream" bash -c \
		"! grep -qaE '$others' '$work/cap$i.pcap'"
done

for i in 1 2 3; do stop "c$i"; done
stop s
for h in s c1 c2 c3; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done
check "the server's log has no error" bash -c "! grep -iE 'error|refused' '$work/s/log'"

finish
