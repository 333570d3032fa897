#!/bin/bash
# A multi-queue TUN (Queues = 2) under load, Rot = 200 ms (topology in
# peer-lib.sh): three TCP streams each way for 5 s (over 20 rotations) each
# arrive whole (same SHA-256 at both ends); both queues of both TUNs carried
# packets out (queue_tx: queue 0 on the main loop, queue 1 on its thread,
# the flows picked by their ports to land on both, mt6d/core/flowq.h); the
# two senders shared one counter space (no replay or too-old drop at the
# other end); nothing is lost at the rotation boundaries (every datagram one
# end had sent when asked was delivered, or refused as not from the peer, by
# the other); and the threads go with the daemon on SIGTERM.
PEER_ROT=200ms
export MT6D_TEST_QUEUES=2
# shellcheck source=tests/netns/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
MARKER="MT6D-QUEUES-$$"
SECONDS_RUN=5
RATE=12000000

# Source ports chosen so that each direction's flows hash to both queues
# (flowq.h, addresses fd6d::a and fd6d::b): A -> B 41000, 41011, 41002 to
# 5100..5102 (queues 0, 1, 0); B -> A 42010, 42001, 42012 to 5200..5202
# (queues 1, 0, 1).
SPORT_A=(41000 41011 41002)
SPORT_B=(42010 42001 42012)
peer_up_both
pids=()
for i in 0 1 2; do
	in_ns B /usr/bin/python3 "$top/tests/netns/peer_stream.py" recv "$TUN_B" "510$i" \
		>"$work/recvB$i.out" 2>&1 &
	pids+=($!)
	in_ns A /usr/bin/python3 "$top/tests/netns/peer_stream.py" recv "$TUN_A" "520$i" \
		>"$work/recvA$i.out" 2>&1 &
	pids+=($!)
done
sleep 0.5
for i in 0 1 2; do
	in_ns A /usr/bin/python3 "$top/tests/netns/peer_stream.py" send "$TUN_B" "510$i" \
		"$SECONDS_RUN" "$RATE" "$MARKER-A$i" "${SPORT_A[$i]}" >"$work/sendA$i.out" 2>&1 &
	pids+=($!)
	in_ns B /usr/bin/python3 "$top/tests/netns/peer_stream.py" send "$TUN_A" "520$i" \
		"$SECONDS_RUN" "$RATE" "$MARKER-B$i" "${SPORT_B[$i]}" >"$work/sendB$i.out" 2>&1 &
	pids+=($!)
done
stream_fails=0
for pid in "${pids[@]}"; do
	wait "$pid" || stream_fails=$((stream_fails + 1))
done
check "six TCP streams ended without error" test "$stream_fails" -eq 0
for i in 0 1 2; do
	echo "A -> B $i: sent $(cat "$work/sendA$i.out"), received $(cat "$work/recvB$i.out")"
	echo "B -> A $i: sent $(cat "$work/sendB$i.out"), received $(cat "$work/recvA$i.out")"
	check "A -> B stream $i: same SHA-256 at both ends" \
		sh -c "test -s '$work/sendA$i.out' && cmp '$work/sendA$i.out' '$work/recvB$i.out'"
	check "B -> A stream $i: same SHA-256 at both ends" \
		sh -c "test -s '$work/sendB$i.out' && cmp '$work/sendB$i.out' '$work/recvA$i.out'"
	check "A -> B stream $i: over 20 MB" test "$(cut -d' ' -f1 "$work/sendA$i.out")" -gt 20000000
done

peer_counters_check "A -> B" "B -> A" drops_busy rx_far_slot
for who in A B; do
	qtx=$(peer_stat $who queue_tx)
	echo "$who: packets out of each TUN queue: $qtx"
	check "$who: both queues carried over 1,000 packets" \
		sh -c 'IFS=,; set -- $1; test $# -eq 2 -a "$1" -gt 1000 -a "$2" -gt 1000' _ "$qtx"
	check "$who: the queues sum to tx_packets" \
		test "$(( ${qtx%,*} + ${qtx#*,} ))" -eq "$(peer_stat $who tx_packets)"
	check "$who: a thread for queue 1" \
		grep -q "2 TUN queues, 1 with a thread of their own" "$work/$who.log"
	check "$who: two threads (or more: a sanitizer's own)" \
		test "$(find "/proc/${PEER_PID[$who]}/task" -mindepth 1 -maxdepth 1 | wc -l)" -ge 2
done
check "over 20 rotations"              test "$(peer_stat A rotations)" -ge 20
check "A exits 0 on SIGTERM"            peer_stop A
check "B exits 0 on SIGTERM"            peer_stop B
check "A: nothing of ours left"         peer_nothing_left A
check "B: nothing of ours left"         peer_nothing_left B
peer_finish
