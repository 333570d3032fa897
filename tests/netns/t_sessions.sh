#!/bin/bash
# mt6d-server with two mt6d-client hosts (tests/netns/sessions-lib.sh has the
# topology): sessions established through the introduction tunnel, ping and
# a TCP stream to each session's server tunnel address while the addresses
# rotate (Rot 1 s), junk at the introduction address and an unregistered key
# get no reply, a client's teardown removes its session interface, revocation
# by `mt6d reload` ends a session at once and for good, `mt6d rekey`, and a
# clean shutdown leaves no address, interface or route in any namespace.
# Issue 13: the daemons are not dumpable, have no core limit and hold locked
# memory; replayed introduction datagrams are refused before any token is
# charged; neither junk nor the copies of one datagram move the threat
# level, authenticated failures do; a replayed older rotation change does
# not switch the client's Rot.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
# The recorder on the router (sess_replay.py) finds a request by its size,
# 181 bytes: the clients do not pad (with the default 256-byte buckets a
# request looks like every other small packet, which is the point). The
# server pads with the default.
SESS_CLIENT_PADDING=off
sess_lab_up
server_start
client_start 1
client_start 2

check "client 1 establishes a session" wait_for 10 has_session 1
check "client 2 establishes a session" wait_for 10 has_session 2
check "server shows two sessions" test "$(field s sessions)" = 2

# Keys out of core dumps and swap (issue 13).
vmlck() { sed -n 's/^VmLck:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"; }
core_limit() { awk '/^Max core file size/ { print $5 }' "/proc/$1/limits"; }
for h in s c1; do
	check "$h is not dumpable (prctl, through its control socket)" field_is "$h" dumpable 0
	check "$h has no core file size" test "$(core_limit "${PID[$h]}")" = 0
	# (ASan makes mlock a no-op: a sanitizer build says so and is not checked.)
	if grep -q "in a sanitizer build" "$work/$h/log"; then
		echo "     ($h: sanitizer build, memory locks not checked)"
	else
		check "$h holds locked memory (VmLck $(vmlck "${PID[$h]}") kB)" test "$(vmlck "${PID[$h]}")" -gt 0
	fi
done
check "server has the introduction interface with its seed address" \
	bash -c "'$lab' exec s ip -6 addr show dev mt6d0 | grep -q '$(field s seed_address)/128'"
if1=$(session_field client-1 session_interface)
if2=$(session_field client-2 session_interface)
check "one session interface per client on the server ($if1, $if2)" \
	bash -c "test -n '$if1' && test -n '$if2' && test '$if1' != '$if2' && '$lab' exec s ip link show '$if1' && '$lab' exec s ip link show '$if2'"
check "client 1 wrote the server's tunnel address to its state file" \
	grep -qx "$(server_tun 1)" "$work/c1/state/mt6d0.server"
check "client 2's log prints the server's tunnel address" \
	grep -q "server tunnel address: $(server_tun 2)" "$work/c2/log"

check "ping from client 1 to its server tunnel address" \
	in_ns c1 ping -c 5 -i 0.2 -W 2 "$(server_tun 1)"
check "ping from client 2 to its server tunnel address" \
	in_ns c2 ping -c 5 -i 0.2 -W 2 "$(server_tun 2)"
check "client 2 cannot reach client 1's session" \
	bash -c "! '$lab' exec c2 ping -c 2 -i 0.2 -W 1 '$(server_tun 1)'"

# A TCP stream through each session across more than 10 rotations.
stream=$top/tests/netns/peer_stream.py
in_ns s /usr/bin/python3 "$stream" recv "$(server_tun 1)" 5001 >"$work/recv1.out" 2>&1 &
r1=$!
in_ns s /usr/bin/python3 "$stream" recv "$(server_tun 2)" 5002 >"$work/recv2.out" 2>&1 &
r2=$!
EXTRA_PIDS="$r1 $r2"
sleep 0.5
ep1=$(field c1 own_endpoint)
in_ns c1 /usr/bin/python3 "$stream" send "$(server_tun 1)" 5001 12 200000 c1mark >"$work/send1.out" 2>&1 &
s1=$!
in_ns c2 /usr/bin/python3 "$stream" send "$(server_tun 2)" 5002 12 200000 c2mark >"$work/send2.out" 2>&1 &
s2=$!
wait $s1 $s2
wait $r1 $r2
EXTRA_PIDS=
ep2=$(field c1 own_endpoint)
check "client 1's TCP stream arrived intact" bash -c \
	"test -s '$work/send1.out' && diff '$work/send1.out' '$work/recv1.out'"
check "client 2's TCP stream arrived intact" bash -c \
	"test -s '$work/send2.out' && diff '$work/send2.out' '$work/recv2.out'"
check "client 1's MT6D endpoint rotated during the stream ($ep1 -> $ep2)" test "$ep1" != "$ep2"
check "the session rotated at least 10 times" \
	test "$(field c1 rotations)" -ge 10
# mt6d show says which TUN offloads the kernel granted (or that they are off).
if [ "${MT6D_TEST_OFFLOADS:-on}" = off ]; then
	check "mt6d show: offloads=off" test "$(field c1 offloads)" = off
else
	check "mt6d show: the TUN offloads granted" \
		sh -c 'case $1 in csum,tso*) exit 0 ;; esac; exit 1' _ "$(field c1 offloads)"
fi

# Junk at the server's introduction endpoint, and a client whose key the
# server does not know: counted, never answered. 400 junk datagrams (twice
# the automatic threshold) leave the threat level as it was (issue 13:
# unauthenticated junk costs nothing to send; it held every session at
# Rot / 3 before).
intro=$(field s intro_endpoint)
iaddr=${intro%]:*}
iaddr=${iaddr#[}
iport=${intro##*:}
before=$(field s drops_unknown_iid)
check "a burst of 400 junk datagrams at the introduction endpoint gets no reply" \
	in_ns c1 /usr/bin/python3 "$top/tests/netns/sess_probe.py" "$iaddr" "$iport" 400 0.5
# (More than the automatic threshold of 200 must arrive for the threat
# check below to mean anything; a loaded machine may drop a few at the socket.)
junk_counted() { test "$(field s drops_unknown_iid)" -ge $((before + 250)); }
check "the junk was counted as unknown sources" wait_for 2 junk_counted
echo "     (unknown sources +$(($(field s drops_unknown_iid) - before)))"

# A request recorded on the router and sent again 400 times from the
# client's own address and port: each copy would open at the tunnel layer
# (a fresh receiver per datagram); the client's window of its latest
# authentic datagrams refuses them first, before any token is charged
# (issue 13), unanswered. (A request is 32 bytes of tunnel framing, a
# 40-byte inner header and 109 bytes of message.)
started=$(field s sessions_started)
sent=$(field c1 requests_sent)
replays=$(field s drops_replay)
ireplays=$(field s drops_intro_replay)
limited=$(field s drops_rate)
in_ns r /usr/bin/python3 "$top/tests/netns/sess_replay.py" p-s 2001:db8:1:1:: 2001:db8:0:1:: 181 400 0.0003 \
	>"$work/replay.out" 2>&1 &
rp=$!
EXTRA_PIDS=$rp
sleep 0.5
reconnect() { /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"set=1\nreconnect=1\n\n"); print(s.recv(4096).decode())' "$1"; }
check "client 1 re-establishes on request" reconnect "$work/c1/ctl.sock"
wait $rp
EXTRA_PIDS=
check "a request was recorded on the router and sent again 400 times" grep -q "^replayed 400 from" "$work/replay.out"
refused() { test $(($(field s drops_intro_replay) - ireplays)) -ge 300; }
check "the copies were refused as replays of authentic datagrams" wait_for 3 refused
echo "     (intro replays +$(($(field s drops_intro_replay) - ireplays)), rate +$(($(field s drops_rate) - limited)), request replays +$(($(field s drops_replay) - replays)))"
check "no copy was charged to the client's request bucket" test "$(field s drops_rate)" = "$limited"
check "no copy reached the request check" test "$(field s drops_replay)" = "$replays"
check "the copies of the one datagram count once as a sign of attack" \
	test "$(field s intro_replayed)" = 1
echo "     (sessions started +$(($(field s sessions_started) - started)), requests sent +$(($(field c1 requests_sent) - sent)))"
# (A retry of the client's may lose its token to the copies: at most one
# session per request the client really sent.)
own_only() { local d=$(($(field s sessions_started) - started))
	test "$d" -ge 1 && test "$d" -le $(($(field c1 requests_sent) - sent)); }
check "only the client's own requests made sessions" own_only
check "the audit trail says it in the protocol's words, not errno's" bash -c \
	"! grep -E 'Operation already in progress|Stale file handle|Bad message' '$work/s/state/audit.log'"
check "client 1 has its session" wait_for 5 has_session 1
sleep 12 # past the end of the attack window (10 s) holding the copies, and a tick
check "the junk and the copies left the threat level normal" field_is s threat normal
# Authenticated failures raise it: client 1 routes a tunnel address that is
# not its server's into its session, and sends 300 datagrams there; the
# server's session tunnel opens them and refuses them (drops_inner).
c1if=$(field c1 session_interface)
inner=$(session_field client-1 drops_inner)
in_ns c1 ip -6 route add "$(server_tun 9)/128" dev "$c1if"
check "client 1 sends 300 datagrams through its session to another tunnel address" \
	in_ns c1 /usr/bin/python3 "$top/tests/netns/sess_probe.py" "$(server_tun 9)" 6000 300 0.3
in_ns c1 ip -6 route del "$(server_tun 9)/128" dev "$c1if"
misdirected() { test "$(session_field client-1 drops_inner)" -ge $((inner + 250)); }
check "the server's session refused them as authentic but misdirected" wait_for 2 misdirected
check "the authenticated failures raised the threat level to high by themselves" \
	wait_for 15 field_is s threat high
check "the raise is audited" grep -q "threat level normal -> high (Rot 333 ms from the next window): automatic" \
	"$work/s/state/audit.log"
if1=$(session_field client-1 session_interface)

stop c2
check "client 2's teardown removes its session interface on the server" \
	wait_for 3 bash -c "! '$lab' exec s ip link show '$if2'"
check "the server shows one session" test "$(field s sessions)" = 1
check "client 2 left nothing behind" nothing_left c2

# An impostor on c2: a fresh key claiming id 2.
(umask 077 && "$build/mt6d" genkey >"$work/c2/client.key")
before=$(field s drops_unknown_iid)
client_start 2
sleep 3
impostor_refused() { ! has_session 2 && test "$(field s sessions)" = 1; }
check "an unregistered key gets no session" impostor_refused
check "its requests were counted and dropped" test "$(field s drops_unknown_iid)" -gt "$before"
check "the impostor sent requests" test "$(field c2 requests_sent)" -ge 2
stop c2

# Threat level (raised above by client 1's misdirected packets): the operator sets it;
# a captured older rotation change replayed at the client does not switch
# its Rot (issue 13); at high, a new K brings Rot / 3 to the introduction
# and to the sessions made under it, without a lost session.
check "client 1 kept its session" has_session 1
if1=$(session_field client-1 session_interface)
in_ns s /usr/bin/python3 "$top/tests/netns/sess_msg3.py" capture "$if1" "$work/msg3.hex" 10 \
	>"$work/msg3.out" 2>&1 &
cp=$!
EXTRA_PIDS=$cp
sleep 0.5
check "mt6d threat normal" "$build/mt6d" threat normal -s "$work/s/ctl.sock"
check "the operator's level is in force" field_is s threat normal
wait $cp
EXTRA_PIDS=
check "the rotation change to client 1 (Rot 1000 ms) was captured on its session interface" \
	grep -q "^captured" "$work/msg3.out"
check "client 1 rotates every Rot again" wait_for 8 field_is c1 rotation_ms 1000
check "mt6d threat high" "$build/mt6d" threat high -s "$work/s/ctl.sock"
check "client 1 follows to Rot / 3" wait_for 8 field_is c1 rotation_ms 333
changes=$(field c1 rotation_changes)
rot_refused=$(field c1 rotations_refused)
check "the older change (to 1000 ms) replayed at client 1" \
	in_ns c1 /usr/bin/python3 "$top/tests/netns/sess_msg3.py" inject "$work/msg3.hex"
refused_one() { test "$(field c1 rotations_refused)" -gt "$rot_refused"; }
check "client 1 refused it (not newer than the change it applied)" wait_for 3 refused_one
sleep 1.5
check "client 1 still rotates every Rot / 3, as the server" \
	bash -c "test '$(field c1 rotation_ms)' = 333 && test '$(field c1 rotation_changes)' = '$changes'"
check "ping through client 1's session after the replay" in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"
check "mt6d rekey under the high level" "$build/mt6d" rekey -s "$work/s/ctl.sock"
check "the introduction rotates every Rot / 3" field_is s rotation_ms 333
check "client 1's new session rotates every Rot / 3" wait_for 10 field_is c1 rotation_ms 333
check "ping through client 1's faster session" in_ns c1 ping -c 5 -i 0.2 -W 2 "$(server_tun 1)"
check "mt6d threat refuses other levels" bash -c "! '$build/mt6d' threat extreme -s '$work/s/ctl.sock'"
if1=$(session_field client-1 session_interface)

# Revocation: client 1 leaves the config; reload ends its session at once.
gen=$(field s key_generation)
sed -i '/^\[Client\]$/,$d' "$work/s/server.conf"
cat >>"$work/s/server.conf" <<EOF
[Client]
Name = client-2
PublicKey = $(cat "$work/c2/client.pub")
Id = 2
EOF
check "mt6d reload" "$build/mt6d" reload -s "$work/s/ctl.sock"
check "revocation removes client 1's session interface within a second" \
	wait_for 1 bash -c "! '$lab' exec s ip link show '$if1'"
check "revocation draws a new K" test "$(field s key_generation)" -gt "$gen"
check "client 1 was told (teardown received)" wait_for 2 field_is c1 teardowns_rx 1
sleep 4
no_session_1() { ! has_session 1; }
check "client 1 cannot establish again" no_session_1
check "the server has no session" test "$(field s sessions)" = 0
check "revocation is in the audit trail" grep -q "client 'client-1' (id 1) revoked" "$work/s/state/audit.log"

gen=$(field s key_generation)
check "mt6d rekey" "$build/mt6d" rekey -s "$work/s/ctl.sock"
check "rekey draws a new K" test "$(field s key_generation)" -gt "$gen"
check "mt6d show --json is JSON" bash -c "'$build/mt6d' show -s '$work/s/ctl.sock' --json | /usr/bin/python3 -m json.tool"

stop c1
stop s
for h in s c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done
check "the server's log has no error" bash -c "! grep -iE 'error|refused' '$work/s/log'"

finish
