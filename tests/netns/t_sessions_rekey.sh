#!/bin/bash
# Traffic across changes of K (topology: sessions-lib.sh): with a
# ConfigPeriod of 10 s the server draws a new introduction key every 10 s
# and the clients establish their sessions again; a ping at 10/s through
# client 1's session runs across three changes, and the longest time
# without a reply must stay under 1 Rot: the old session carries the
# traffic while the client asks for the new one (make-before-break), and the
# first request waits until the kernel can answer neighbour solicitations
# for the introduction address. (Before: 1.06-1.52 s at every change; now
# about 0.2 s, the switch of the client's TUN.)
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
SESS_PERIOD=10s
LAB_CLIENTS=1
sess_lab_up
server_start
client_start 1

check "client 1 establishes a session" wait_for 15 has_session 1
k0=$(field c1 reestablish_k)
# Three boundaries of the 10 s window, whatever the phase now (-c, not
# -w: with a deadline ping stops at the first error, "No route").
in_ns c1 ping -D -n -i 0.1 -W 1 -c 320 "$(server_tun 1)" >"$work/ping.out" 2>&1
k1=$(field c1 reestablish_k)
check "client 1 established again at least twice for a new K ($k0 -> $k1)" \
	test "$((k1 - k0))" -ge 2
# The longest time between two replies, in ms.
gap=$(awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (p && t - p > g) g = t - p; p = t }
	END { printf "%d\n", g }' "$work/ping.out")
replies=$(grep -c 'bytes from' "$work/ping.out")
echo "     (ping: $replies replies, longest gap $gap ms)"
check "ping replies all through (at least 250 of 320)" test "$replies" -ge 250
check "the longest gap in the ping ($gap ms) is below 1 Rot" test "$gap" -lt 1000
check "client 1 has its session" has_session 1
check "the new introductions ran beside the session (make-before-break)" \
	test "$(grep -c 'up beside the session' "$work/c1/log")" -ge 2

stop c1
stop s
check "client 1 left nothing behind" nothing_left c1
check "the server left nothing behind" nothing_left s
exit $((fails > 0))
