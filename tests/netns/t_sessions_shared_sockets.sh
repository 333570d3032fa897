#!/bin/bash
# Shared slot sockets (SlotSockets, mt6d/engine/slotmux.h): mt6d-server in
# AddressMode = scale with SessionInterface = shared serves every session
# through one transparent UDP socket (nft tproxy) and one raw socket. Three
# clients come up and ping across slot boundaries (Rot 1 s); the server's
# descriptors and UDP sockets do not grow from one session to three; an
# attacker on a client host sending UDP to random addresses and ports of the
# server's /64, and garbage to a live endpoint, gets nothing back (no
# ICMPv6); a datagram replayed to a past slot's endpoint is dropped and
# counted; nothing left after stop, the tproxy rule going with the table.
# SOCKETS_MODE=routed (t_sessions_shared_sockets_routed.sh): the same in
# AddressMode = routed, the MT6D addresses in a /64 the router routes.
SOCKETS_MODE=${SOCKETS_MODE:-scale}
MUX_PREFIX=2001:db8:0:1::
if [ "$SOCKETS_MODE" = routed ]; then
	export SESS_ROUTED_PREFIX=2001:db8:0:f1::/64
	MUX_PREFIX=2001:db8:0:f1::
fi
export SESS_WORK=${SESS_WORK:-mt6d-shared-sockets-test}
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

export LAB_CLIENTS=3
SESS_ROT=1s
sess_lab_up
sed -i "/^TunnelPrefix/a SessionInterface = shared\nSlotSockets = ${SLOT_SOCKETS:-auto}" "$work/s/server.conf"
[ "$SOCKETS_MODE" = routed ] || sed -i "/^TunnelPrefix/a AddressMode = scale" "$work/s/server.conf"
server_start
udp_socks() { in_ns s ss -u -a -n -H | wc -l; }

client_start 1
check "client 1 establishes a session" wait_for 15 has_session 1
check "the server runs in $SOCKETS_MODE mode" field_is s address_mode "$SOCKETS_MODE"
check "the server shares its slot sockets" field_is s slot_sockets_mode shared
port=$(field s mux_port)
check "the guard hands the mux set to [::1]:$port (tproxy in prerouting)" bash -c \
	"'$lab' exec s nft list table inet mt6d-server-eth0 | grep -q 'tproxy ip6 to \[::1\]:$port'"
check "ping from client 1 across slot boundaries" in_ns c1 ping -c 12 -i 0.25 -W 2 "$(server_tun 1)"
fds1=$(field s process_fds)
socks1=$(udp_socks)
client_start 2
client_start 3
for i in 2 3; do
	check "client $i establishes a session" wait_for 15 has_session "$i"
done
for i in 1 2 3; do
	check "ping from client $i across slot boundaries" \
		in_ns "c$i" ping -c 12 -i 0.25 -W 2 "$(server_tun "$i")"
done
fds3=$(field s process_fds)
socks3=$(udp_socks)
check "descriptors do not grow with sessions (1: $fds1, 3: $fds3)" test "$fds3" -le "$fds1"
check "UDP sockets do not grow with sessions (1: $socks1, 3: $socks3)" test "$socks3" -le "$socks1"
check "the mux table holds 3 endpoints per session ($(field s mux_endpoints))" \
	test "$(field s mux_endpoints)" -ge 9
rx=$(field s mux_rx)
tx=$(field s mux_tx)
check "datagrams in and out through the mux (rx $rx, tx $tx)" test "$rx" -ge 36 -a "$tx" -ge 36
check "the raw socket refused nothing" field_is s mux_tx_errors 0

# An attacker on client 1's host: random addresses and ports of the /64,
# then garbage to client 2's live server endpoint (port included).
ep=$(field c2 peer_endpoint)
ep_addr=${ep%]:*}
ep_addr=${ep_addr#[}
ep_port=${ep##*]:}
auth=$(session_field client-2 drops_auth)
in_ns c1 /usr/bin/python3 "$top/tests/netns/mux_probe.py" "$MUX_PREFIX/64" 200 \
	"$ep_addr" "$ep_port" >"$work/probe.out" 2>&1
tail -3 "$work/probe.out" | sed 's/^/     /'
check "the attacker got no answer (no ICMPv6, no UDP)" grep -q "answers 0$" "$work/probe.out"
check "the garbage to the live endpoint was dropped as unauthentic" \
	test "$(session_field client-2 drops_auth)" -ge $((auth + 1))

# A datagram of client 1 replayed to its endpoint after the slot ended:
# the endpoint left the table, the mux drops it.
unknown=$(field s mux_drops_unknown)
in_ns r /usr/bin/python3 "$top/tests/netns/sess_replay.py" p-s 2001:db8:1:1:: "$MUX_PREFIX" \
	100-1500 3 0 2.5 >"$work/replay.out" 2>&1 &
rp=$!
EXTRA_PIDS=$rp
sleep 0.3
in_ns c1 ping -c 2 -i 0.3 -s 500 -W 2 "$(server_tun 1)" >/dev/null
wait $rp
EXTRA_PIDS=
check "the recorder replayed a datagram ($(cat "$work/replay.out"))" grep -q replayed "$work/replay.out"
check "the replay to the past slot's endpoint was dropped ($(field s mux_drops_unknown) unknown)" \
	test "$(field s mux_drops_unknown)" -ge $((unknown + 3))
check "client 1 still reaches its server" in_ns c1 ping -c 2 -i 0.2 -W 2 "$(server_tun 1)"

stop s
check "clean shutdown left nothing in s (the tproxy rule went with the table)" nothing_left s
for i in 1 2 3; do
	stop "c$i"
done
check "the server's log has no error" bash -c "! grep -iE 'error|refused' '$work/s/log'"
finish
