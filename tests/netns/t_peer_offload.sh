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
peer_stream_check 5002 6 400000000 "$MARKER" 20000000
peer_counters_check "A -> B" "B -> A" rx_far_slot
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
