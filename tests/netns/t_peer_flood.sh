#!/bin/bash
# A UDP flood through mt6d-peer across rotations (Rot = 200 ms, topology in
# peer-lib.sh): the receiver falls behind, so after each rotation the
# previous slot's socket still holds a backlog while the new slot's socket
# fills. The sender seals with one counter across slots, so the receiver
# must read the older socket first: read after the newer one, a backlog
# deeper than the replay window (1,984 packets) was refused as too old
# (drops_replay), though nothing had been replayed. Asserts that packets
# did arrive on the previous slot (the case happened) and that none was
# refused as a replay or lost in the tunnel.
PEER_ROT=200ms
# shellcheck source=tests/netns/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"

peer_up_both
rcvbuf_errors() { in_ns B awk '$1 == "Udp6RcvbufErrors" {print $2}' /proc/net/snmp6; }
# Nothing listens on the port: B's stack drops the datagrams (its ICMP
# errors are rate-limited), only the tunnel's counters matter.
overflow0=$(rcvbuf_errors)
sent=$(in_ns A /usr/bin/python3 "$top/tests/netns/udp_flood.py" "$TUN_B" 5003 "${FLOOD_S:-6}")
echo "flood: $sent datagrams sent"
sleep 1
a_tx=$(peer_stat A tx_packets)
b_rx=$(( $(peer_stat B rx_packets) + $(peer_stat B drops_inner) ))
# The flood has no congestion control: B's slot sockets overflow, which
# the kernel counts (per buffer: a GRO train of many datagrams is one), so
# datagrams may go missing only when it counted overflows.
overflow=$(( $(rcvbuf_errors) - overflow0 ))
echo "A sealed $a_tx, B took $b_rx, B's sockets overflowed $overflow; B: rx_prev_slot=$(peer_stat B rx_prev_slot) drops_replay=$(peer_stat B drops_replay) drops_tun=$(peer_stat B drops_tun)"
check "over 100,000 datagrams sent"     test "${sent:-0}" -gt 100000
check "B read packets of the previous slot after rotations" test "$(peer_stat B rx_prev_slot)" -gt 0
check "B: drops_replay = 0"             test "$(peer_stat B drops_replay)" -eq 0
check "B: drops_auth = 0"               test "$(peer_stat B drops_auth)" -eq 0
check "A -> B: datagrams missing only with overflows counted" \
	test "$overflow" -gt 0 -o "$a_tx" -le "$b_rx"
check "A exits 0 on SIGTERM"            peer_stop A
check "B exits 0 on SIGTERM"            peer_stop B
check "A: nothing of ours left"         peer_nothing_left A
check "B: nothing of ours left"         peer_nothing_left B
peer_finish
