#!/bin/bash
# Descriptors (docs/running.md "Descriptors"): a session holds 4, so at
# start mt6d-server raises RLIMIT_NOFILE to 4 per registered client + 256,
# up to the hard limit (beyond it only with CAP_SYS_RESOURCE), and says once
# when that falls short. Started under `prlimit --nofile=256:512`: with 64
# clients registered it raises the soft limit to 512; with 100 it reaches
# what it can and warns with the numbers. Then, the limit lowered under the
# running server, a session that meets EMFILE is counted and logged (a
# refusal, or a slot missing until the client asks again): the server goes
# on, the control socket still answers, and the client gets its session once
# descriptors are free again.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
sess_lab_up
add_clients() { # conf n: registered clients with fresh keys, ids 1001...
	local i
	for i in $(seq 1001 $((1000 + $2))); do
		printf '\n[Client]\nName = extra-%d\nPublicKey = %s\nId = %d\nAdded = 2026-11-01\n' "$i" \
			"$("$build/mt6d" genkey | "$build/mt6d" pubkey)" "$i" >>"$1"
	done
}
limits() { # pid: soft hard of the running daemon
	awk '/^Max open files/ {print $4, $5}' "/proc/$1/limits"
}
start_limited() { # conf
	"$lab" exec s prlimit --nofile=256:512 "$build/mt6d-server" -d -v -c "$1" -s "$work/s/ctl.sock" \
		-T "$work/intro.conf" -u root >>"$work/s/log" 2>&1 &
	PID[s]=$!
	wait_for 15 test -S "$work/s/ctl.sock" || { cat "$work/s/log"; exit 1; }
}
has_resource=no
grep -q '^CapEff:' /proc/self/status &&
	[ $((0x$(awk '/^CapEff:/ {print $2}' /proc/self/status) >> 24 & 1)) = 1 ] && has_resource=yes

cp "$work/s/server.conf" "$work/s/s64.conf"
add_clients "$work/s/s64.conf" 62
start_limited "$work/s/s64.conf"
check "64 clients: the soft limit raised to 512 ($(limits "${PID[s]}"))" \
	test "$(limits "${PID[s]}")" = "512 512"
check "64 clients: logged" grep -q "RLIMIT_NOFILE 512 for 64 clients (512 needed)" "$work/s/log"
check "64 clients: no warning" not grep -q "descriptors; RLIMIT_NOFILE" "$work/s/log"
stop s
rm -f "$work/s/ctl.sock"

cp "$work/s/server.conf" "$work/s/s100.conf"
add_clients "$work/s/s100.conf" 98
: >"$work/s/log"
start_limited "$work/s/s100.conf"
if [ "$has_resource" = yes ]; then
	check "100 clients, CAP_SYS_RESOURCE: both limits raised ($(limits "${PID[s]}"))" \
		test "$(limits "${PID[s]}")" = "656 656"
else
	check "100 clients, no CAP_SYS_RESOURCE: up to the hard limit ($(limits "${PID[s]}"))" \
		test "$(limits "${PID[s]}")" = "512 512"
	check "100 clients: the warning with the numbers" grep -q \
		"100 clients need 656 descriptors; RLIMIT_NOFILE is 512: sessions beyond ~64 will fail" "$work/s/log"
	check "100 clients: said once" test "$(grep -c 'descriptors; RLIMIT_NOFILE' "$work/s/log")" = 1
fi
stop s
rm -f "$work/s/ctl.sock"

# EMFILE under a running server: room for one session, not two.
: >"$work/s/log"
server_start
pid=${PID[s]}
sleep 2 # the introduction slots' sockets of a few boundaries
nfd=$(find "/proc/$pid/fd" -mindepth 1 | wc -l)
prlimit --pid "$pid" --nofile=$((nfd + 5)):
client_start 1
check "client 1 establishes a session under the lowered limit" wait_for 15 has_session 1
client_start 2
# EMFILE on its TUN: the session is refused (session_errors); on a slot
# socket: that slot is missing (the session's addr_errors) and the client
# asks again. Either way counted, logged, survived.
# Other counted errors (a lost netlink ack under load) may come first: wait
# for EMFILE itself, in the log, before reading the counters.
emfile_logged() { grep -q "Too many open files" "$work/s/log"; }
check "it is logged with its reason" wait_for 15 emfile_logged
emfile_counted() { show s | grep -qE '^(session_errors|addr_errors)=[1-9]'; }
check "client 2's session met EMFILE, counted" emfile_counted
check "the server still runs" kill -0 "$pid"
# Meanwhile every session's rotation competes for the last descriptors (a
# new slot socket each boundary): the limit must cover them all.
prlimit --pid "$pid" --nofile=512:
check "client 1's session carries pings again" \
	wait_for 15 in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"
check "client 2 gets its session once descriptors are free" wait_for 30 has_session 2
stop c1
stop c2
stop s
for h in s c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done
finish
