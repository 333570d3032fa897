#!/bin/bash
# mt6d-peer under attack, Rot = 1 s (topology in peer-lib.sh). The router
# namespace plays a host that sees every MT6D address and port but has no key
# (peer_attack.py): its forgeries, its replays (in the same slot and in a
# later one) and its empty datagrams are dropped and counted by B, and the
# tunnel keeps working.
PEER_ROT=1s
# shellcheck source=tests/netns/peer-lib.sh
source "$(dirname "$0")/peer-lib.sh"
N=20

peer_lab_up
peer_start A
peer_start B
in_ns A ping -6 -n -q -i 0.05 -c 80 -W 2 "$TUN_B" >"$work/ping.out" 2>&1 &
ping_pid=$!
in_ns r /usr/bin/python3 "$top/tests/netns/peer_attack.py" br0 2001:db8:1:1:: $N \
	>"$work/attack.out" 2>&1
attack_rc=$?
wait $ping_pid
cat "$work/attack.out"
grep -E "packets transmitted" "$work/ping.out"
auth=$(peer_stat B drops_auth)
replay=$(peer_stat B drops_replay)
malformed=$(peer_stat B drops_malformed)
echo "B: drops_auth=$auth drops_replay=$replay drops_malformed=$malformed"
check "attacker saw and sent $N of each"   test $attack_rc -eq 0
# The replay window is checked before the tag, so a replay in a later slot
# counts as a replay too (its slot would fail authentication anyway).
check "replays, same slot and later: dropped and counted" test "${replay:-0}" -ge $((2 * N))
check "forgeries: dropped and counted as authentication failures" test "${auth:-0}" -ge $N
check "empty datagrams: dropped and counted as malformed" test "${malformed:-0}" -ge $N
check "no forged or replayed packet reached the TUN" \
	test "$(peer_stat B rx_packets)" -le 80
check "the tunnel kept working: 80 of 80 pings" \
	grep -q "80 packets transmitted, 80 received" "$work/ping.out"
# A second mt6d-peer on A's config finds A's instance lock: it exits 1
# naming A, and A's tunnel is untouched (the purge it would have run first
# removed A's MT6D addresses).
rc=0
timeout 10 "$lab" exec "$(ns_of A)" "$build/mt6d-peer" -d -c "$work/A.conf" -u root \
	>"$work/A2.log" 2>&1 || rc=$?
cat "$work/A2.log"
check "a second peer on A's config exits 1" test "$rc" = 1
check "... naming the running one" grep -q "another mt6d-peer (pid ${PEER_PID[A]}) is running on config '$work/A.conf'" "$work/A2.log"
check "... and A's tunnel still carries traffic" in_ns A ping -6 -n -q -c 3 -i 0.2 -W 2 "$TUN_B"
check "A exits 0 on SIGTERM"            peer_stop A
check "B exits 0 on SIGTERM"            peer_stop B
check "A: nothing of ours left"         peer_nothing_left A
check "B: nothing of ours left"         peer_nothing_left B
peer_finish
