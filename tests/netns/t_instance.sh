#!/bin/bash
# One daemon per instance (topology: sessions-lib.sh). With a server and a
# client running and a ping every 0.1 s through their session, a second
# mt6d-server and a second mt6d-client on the same configs and the same
# control sockets exit non-zero at once with a message naming the running
# one, and change nothing: no gap in the ping (the old behaviour purged the
# running daemon's MT6D addresses first: 3.7-4.5 s of silence), the
# running daemons' MT6D addresses still there, no "removed" line. A second
# instance on the default socket (no -s) takes the lock of the default
# socket, and a start once the first has stopped works (the lock went with
# it).
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
LAB_CLIENTS=1
sess_lab_up
server_start
client_start 1
check "client 1 establishes a session" wait_for 10 has_session 1

mt6d_addrs() { # host: its addresses other than the lab's, sorted
	in_ns "$1" ip -6 addr show dev eth0 scope global | awk '$1 == "inet6" {print $2}' |
		grep -v -E '^2001:db8:[0-9]+:[0-9]+::2/64$' | sort
}
in_ns c1 ping -6 -n -D -i 0.1 -c 80 -W 1 "$(server_tun 1)" >"$work/ping.out" 2>&1 &
ping_pid=$!
EXTRA_PIDS=$ping_pid
sleep 1.5
s_before=$(mt6d_addrs s | wc -l)
c_before=$(mt6d_addrs c1 | wc -l)

second() { # host log daemon args...: runs a second instance, at most 10 s
	local h=$1 log=$2
	shift 2
	timeout 10 "$lab" exec "$h" "$@" >"$log" 2>&1
}
second s "$work/s2.log" "$build/mt6d-server" -d -c "$work/s/server.conf" \
	-s "$work/s/ctl.sock" -T "$work/intro2.conf" -u root
s2_rc=$?
s_during=$(mt6d_addrs s | wc -l)
second c1 "$work/c2.log" "$build/mt6d-client" -d -c "$work/c1/client.conf" \
	-s "$work/c1/ctl.sock" -T "$work/intro.conf" -u root
c2_rc=$?
c_during=$(mt6d_addrs c1 | wc -l)
cat "$work/s2.log" "$work/c2.log"
check "a second server exits 1" test "$s2_rc" = 1
check "a second client exits 1" test "$c2_rc" = 1
check "the second server names the running one" \
	grep -q "another mt6d-server (pid ${PID[s]}) is running on control socket '$work/s/ctl.sock'" "$work/s2.log"
check "the second client names the running one" \
	grep -q "another mt6d-client (pid ${PID[c1]}) is running on control socket '$work/c1/ctl.sock'" "$work/c2.log"
check "neither second instance removed an address" bash -c \
	"! grep -q 'removed\|introduction interface\|DHT' '$work/s2.log' '$work/c2.log'"
check "the server's MT6D addresses stayed ($s_before, then $s_during)" test "$s_during" -ge "$s_before"
check "the client's MT6D addresses stayed ($c_before, then $c_during)" test "$c_during" -ge "$c_before"
check "the running server's control socket still answers" wait_for 2 has_session 1
check "the second server left no introduction file" test ! -e "$work/intro2.conf"
wait $ping_pid
EXTRA_PIDS=
# ping -D: "[epoch] 64 bytes from ...": the largest gap between replies.
gap=$(awk -F'[][]' '/bytes from/ { if (last) { g = $2 - last; if (g > max) max = g } last = $2 }
	END { printf "%.2f", max }' "$work/ping.out")
grep "packets transmitted" "$work/ping.out"
echo "     largest gap between replies: $gap s"
check "the ping through the session never stopped (gap <= 1 s)" awk -v g="$gap" 'BEGIN { exit !(g > 0 && g <= 1.0) }'

stop c1
stop s
# The default control socket: the lock follows it (/run/mt6d/server.lock).
if [ ! -e /run/mt6d/server.sock ] && [ ! -e /run/mt6d/server.lock ]; then
	"$lab" exec s "$build/mt6d-server" -d -c "$work/s/server.conf" -T "$work/intro3.conf" \
		-u root >"$work/s3.log" 2>&1 &
	PID[s3]=$!
	EXTRA_PIDS=
	check "a server on the default socket starts" wait_for 10 test -S /run/mt6d/server.sock
	second s "$work/s4.log" "$build/mt6d-server" -d -c "$work/s/server.conf" -T "$work/intro4.conf" -u root
	check "a second one on the default socket exits 1" test $? = 1
	check "... naming /run/mt6d/server.sock" grep -q "on control socket '/run/mt6d/server.sock'" "$work/s4.log"
	stop s3
	check "the first removed its lock file" test ! -e /run/mt6d/server.lock
else
	echo "skip the default socket: /run/mt6d/server.sock or .lock is in use on this machine"
fi

second s "$work/s5.log" timeout -s INT 3 "$build/mt6d-server" -d -v -c "$work/s/server.conf" \
	-s "$work/s/ctl.sock" -T "$work/intro5.conf" -u root
check "a server starts again once the first has stopped" grep -q "introduction interface" "$work/s5.log"
check "server: nothing of ours left" nothing_left s
check "client: nothing of ours left" nothing_left c1
finish
