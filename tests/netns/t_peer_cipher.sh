#!/bin/bash
# Cipher = aes-256-gcm (docs/PROTOCOL.md section 9, type 2 packets) at one
# end only, Rot 200 ms (topology in peer-lib.sh): A seals with AES-256-GCM,
# B with ChaCha20-Poly1305, and each opens the other's, since the AEAD is
# read from each packet's protected header. A TCP stream A -> B (data in
# AES, ACKs in ChaCha) arrives whole over about 15 rotations, nothing is
# lost at the boundaries, no packet fails to open, and both daemons say
# what they seal with (aead= in the counters, the log where it is AES).
# Skipped (SKIP) on a CPU without AES-NI.
PEER_ROT=200ms
export PEER_CIPHER_A=aes-256-gcm # read by peer-lib.sh (cipher_line)
export PEER_CIPHER_B=chacha20-poly1305
# shellcheck source=tests/netns/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
MARKER="MT6D-CIPHER-$$"

if ! grep -qw aes /proc/cpuinfo || ! grep -qw pclmulqdq /proc/cpuinfo; then
	echo "SKIP this CPU has no AES-NI (Cipher = aes-256-gcm falls back)"
	exit 0
fi
peer_up_both
check "ping B -> A (ChaCha20 out, AES back)" in_ns B ping -6 -c 3 -i 0.2 -W 1 "$TUN_A"
in_ns B /usr/bin/python3 "$top/tests/netns/peer_stream.py" recv "$TUN_B" 5003 >"$work/recv.out" 2>&1 &
recv_pid=$!
sleep 0.5
in_ns A /usr/bin/python3 "$top/tests/netns/peer_stream.py" send "$TUN_B" 5003 3 200000000 "$MARKER" \
	>"$work/send.out" 2>&1
send_rc=$?
wait $recv_pid
recv_rc=$?
echo "stream: sent $(cat "$work/send.out"), received $(cat "$work/recv.out")"
check "TCP stream ended without error"  test $send_rc -eq 0 -a $recv_rc -eq 0
check "TCP stream: same SHA-256 at both ends" \
	sh -c "test -s '$work/send.out' && cmp '$work/send.out' '$work/recv.out'"
check "TCP stream: over 5 MB"           test "$(cut -d' ' -f1 "$work/send.out")" -gt 5000000

sleep 0.5
a_tx1=$(peer_stat A tx_packets); b_tx1=$(peer_stat B tx_packets)
sleep 0.5
a_rx=$(( $(peer_stat A rx_packets) + $(peer_stat A drops_inner) ))
b_rx=$(( $(peer_stat B rx_packets) + $(peer_stat B drops_inner) ))
a_tx2=$(peer_stat A tx_packets); b_tx2=$(peer_stat B tx_packets)
echo "A sent $a_tx1..$a_tx2, B took $b_rx; B sent $b_tx1..$b_tx2, A took $a_rx"
check "A -> B (AES): no datagram lost"     test "$a_tx1" -le "$b_rx" -a "$b_rx" -le "$a_tx2"
check "B -> A (ChaCha20): no datagram lost" test "$b_tx1" -le "$a_rx" -a "$a_rx" -le "$b_tx2"
for who in A B; do
	for c in drops_auth drops_replay drops_malformed drops_tx drops_tun; do
		check "$who: $c = 0"            test "$(peer_stat $who $c)" -eq 0
	done
done
check "over 12 rotations"              test "$(peer_stat A rotations)" -ge 12
check "A seals with AES-256-GCM"        test "$(peer_stat A aead)" = aes-256-gcm
check "B seals with ChaCha20-Poly1305"  test "$(peer_stat B aead)" = chacha20-poly1305
check "A's log does not say it fell back" sh -c "! grep -q 'no AES-NI' '$work/A.log'"
check "A exits 0 on SIGTERM"            peer_stop A
check "B exits 0 on SIGTERM"            peer_stop B
check "A: nothing of ours left"         peer_nothing_left A
check "B: nothing of ours left"         peer_nothing_left B
peer_finish
