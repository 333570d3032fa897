#!/bin/bash
# TUN offloads under load, Rot = 200 ms (topology in peer-lib.sh): a TCP
# stream as fast as the tunnel goes for 6 s (over 25 rotations) arrives
# whole (same SHA-256 at both ends), carried as super-packets split at A
# (tx_super) and coalesced again at B (rx_coalesced); and nothing is lost at
# the rotation boundaries: every datagram one end had sent when asked was
# delivered (or, MLD and the like, refused as not from the peer) by the other
# end, both ways, with no drop anywhere. MT6D_TEST_OFFLOADS=off runs the
# same without offloads (and checks that they are off): make check runs
# both (t_peer_offload_off.sh).
PEER_ROT=200ms
# shellcheck source=tests/netns/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
MARKER="MT6D-OFFLOAD-$$"

peer_up_both
in_ns B /usr/bin/python3 "$top/tests/netns/peer_stream.py" recv "$TUN_B" 5002 >"$work/recv.out" 2>&1 &
recv_pid=$!
sleep 0.5
in_ns A /usr/bin/python3 "$top/tests/netns/peer_stream.py" send "$TUN_B" 5002 6 400000000 "$MARKER" \
	>"$work/send.out" 2>&1
send_rc=$?
wait $recv_pid
recv_rc=$?
echo "stream: sent $(cat "$work/send.out"), received $(cat "$work/recv.out")"
check "TCP stream ended without error"  test $send_rc -eq 0 -a $recv_rc -eq 0
check "TCP stream: same SHA-256 at both ends" \
	sh -c "test -s '$work/send.out' && cmp '$work/send.out' '$work/recv.out'"
check "TCP stream: over 20 MB"          test "$(cut -d' ' -f1 "$work/send.out")" -gt 20000000

# Sent before the first look <= delivered or refused by the peer <= sent
# at the second look: no datagram lost, even at 30 boundaries under load.
sleep 0.5
a_tx1=$(peer_stat A tx_packets); b_tx1=$(peer_stat B tx_packets)
sleep 0.5
a_rx=$(( $(peer_stat A rx_packets) + $(peer_stat A drops_inner) ))
b_rx=$(( $(peer_stat B rx_packets) + $(peer_stat B drops_inner) ))
a_tx2=$(peer_stat A tx_packets); b_tx2=$(peer_stat B tx_packets)
echo "A sent $a_tx1..$a_tx2, B took $b_rx; B sent $b_tx1..$b_tx2, A took $a_rx"
check "A -> B: no datagram lost"       test "$a_tx1" -le "$b_rx" -a "$b_rx" -le "$a_tx2"
check "B -> A: no datagram lost"       test "$b_tx1" -le "$a_rx" -a "$a_rx" -le "$b_tx2"
for who in A B; do
	for c in drops_auth drops_replay drops_malformed drops_tx drops_tun rx_far_slot; do
		check "$who: $c = 0"            test "$(peer_stat $who $c)" -eq 0
	done
done
check "over 25 rotations"              test "$(peer_stat A rotations)" -ge 25
if [ "${MT6D_TEST_OFFLOADS:-on}" = off ]; then
	check "offloads off at both ends" \
		test "$(peer_stat A offloads)" = off -a "$(peer_stat B offloads)" = off
	check "no super-packet"             test "$(peer_stat A tx_super)" -eq 0
else
	for who in A B; do
		check "$who: TUN offloads granted" \
			sh -c 'case $1 in csum,tso*) exit 0 ;; esac; exit 1' _ "$(peer_stat $who offloads)"
	done
	check "A read super-packets"        test "$(peer_stat A tx_super)" -gt 100
	check "B wrote coalesced segments"  test "$(peer_stat B rx_coalesced)" -gt 100
	check "the log says which offloads" grep -q "TUN offloads csum,tso" "$work/A.log"
fi
check "A exits 0 on SIGTERM"            peer_stop A
check "B exits 0 on SIGTERM"            peer_stop B
check "A: nothing of ours left"         peer_nothing_left A
check "B: nothing of ours left"         peer_nothing_left B
peer_finish
