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
peer_stream_check 5003 3 200000000 "$MARKER" 5000000
peer_counters_check "A -> B (AES)" "B -> A (ChaCha20)"
check "over 12 rotations"              test "$(peer_stat A rotations)" -ge 12
check "A seals with AES-256-GCM"        test "$(peer_stat A aead)" = aes-256-gcm
check "B seals with ChaCha20-Poly1305"  test "$(peer_stat B aead)" = chacha20-poly1305
check "A's log does not say it fell back" sh -c "! grep -q 'no AES-NI' '$work/A.log'"
check "A exits 0 on SIGTERM"            peer_stop A
check "B exits 0 on SIGTERM"            peer_stop B
check "A: nothing of ours left"         peer_nothing_left A
check "B: nothing of ours left"         peer_nothing_left B
peer_finish
