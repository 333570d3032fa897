#!/bin/bash
# mt6d watch against a real mt6d-server and mt6d-client (topology:
# sessions-lib.sh, one client, Rot 1 s) with a ping running through the
# session: three refreshes a second apart show the session, its tunnel
# addresses, MT6D endpoints that move between refreshes (the "next" one of a
# refresh is the "now" one of the following), packet rates and counters; the
# client's view shows its session to the server; the control reply carries
# the next endpoints and the time to the next rotation; a daemon that stops
# under watch ends it with an error.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

export LAB_CLIENTS=1
SESS_ROT=1s
sess_lab_up
server_start
client_start 1
check "client 1 establishes a session" wait_for 10 has_session 1

in_ns c1 ping -c 60 -i 0.2 -W 1 "$(server_tun 1)" >"$work/ping.out" 2>&1 &
EXTRA_PIDS=$!
sleep 1

# The control reply: next endpoints and the time to the next rotation.
check "the server's reply has the session's next endpoints" \
	bash -c "'$build/mt6d' show -s '$work/s/ctl.sock' dump | grep -qE '^own_endpoint_next=\[2001:db8:0:1:[0-9a-f:]+\]:[0-9]+$'"
check "the server's reply has the introduction's next endpoint" \
	bash -c "'$build/mt6d' show -s '$work/s/ctl.sock' dump | grep -qE '^intro_endpoint_next=\[2001:db8:0:1:'"
next_ok() { local n; n=$(session_field client-1 next_rotation_ms); test -n "$n" && test "$n" -ge 0 && test "$n" -le 1000; }
check "the server's reply has the time to the next rotation (0..Rot)" next_ok
check "the client's reply has its next endpoints" \
	bash -c "'$build/mt6d' show -s '$work/c1/ctl.sock' dump | grep -qE '^peer_endpoint_next=\[2001:db8:0:1:'"

COLUMNS=80 "$build/mt6d" watch -s "$work/s/ctl.sock" --count 3 --interval 1 \
	>"$work/watch.out" 2>"$work/watch.err"
rc=$?
check "mt6d watch --count 3 exits 0" test "$rc" = 0
cat "$work/watch.out"
check "three refreshes, each after its header" \
	test "$(grep -c '^--- mt6d watch: refresh [123] at ' "$work/watch.out")" = 3
check "no line is wider than 80 columns" \
	bash -c "! awk 'length > 80' '$work/watch.out' | grep -q ."
check "the daemon line: server, its interfaces, threat level, Rot" \
	grep -qE '^server mt6d[0-9]* on eth0  threat normal  Rot 1.0 s, next in [0-9.]+ s$' "$work/watch.out"
check "the session with its interface" grep -qE '^client-1 on mt6d[0-9]+  Rot 1.0 s' "$work/watch.out"
check "the session's tunnel addresses" \
	grep -qx "  tunnel $(server_tun 1) <-> $(client_tun 1)" "$work/watch.out"

# Per refresh: the session's own and peer endpoints, now and next, and its
# rx counters.
/usr/bin/python3 - "$work/watch.out" >"$work/watch.parsed" <<'EOF'
import re, sys
refresh, in_s, side = 0, False, None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("--- mt6d watch: refresh"):
        refresh += 1
        in_s = False
    elif line.startswith("client-1 on "):
        in_s = True
    elif in_s and not line:
        in_s = False
    elif in_s:
        m = re.match(r"^  (own|peer|     ) +(now|next) +(\S+)$", line)
        if m:
            side = m.group(1) if m.group(1).strip() else side
            print(refresh, side, m.group(2), m.group(3))
            continue
        m = re.match(r"^  rx +\S+ \S+ +(\d+) pkts +(-|\S+ \S+) +(-|\S+)( pkt/s)? +last packet (.*)$", line)
        if m:
            print(refresh, "rx", m.group(1), m.group(3), m.group(5).replace(" ", "_"))
        m = re.match(r"^  auth failures (\d+)  replays (\d+)  skew: prev (\d+) next (\d+) far (\d+)  rotations (\d+)$", line)
        if m:
            print(refresh, "counters", *m.groups())
EOF
cat "$work/watch.parsed"
ep() { awk -v r="$1" -v s="$2" -v w="$3" '$1 == r && $2 == s && $3 == w {print $4}' "$work/watch.parsed"; }
rx() { awk -v r="$1" -v k="$2" '$1 == r && $2 == "rx" {print $k}' "$work/watch.parsed"; }
check "each refresh shows own and peer endpoints, now and next" \
	test "$(grep -cE '^[123] (own|peer) (now|next) \[2001:db8:[0-9a-f:]+\]:[0-9]+$' "$work/watch.parsed")" = 12
check "our endpoints are in the server's /64, the peer's in the client's" \
	bash -c "test \"\$(grep -c ' own .* \[2001:db8:0:1:' '$work/watch.parsed')\" = 6 &&
		test \"\$(grep -c ' peer .* \[2001:db8:1:1:' '$work/watch.parsed')\" = 6"
check "the endpoints change between refreshes ($(ep 1 own now) $(ep 2 own now) $(ep 3 own now))" \
	bash -c "test '$(ep 1 own now)' != '$(ep 2 own now)' && test '$(ep 2 own now)' != '$(ep 3 own now)'"
check "next is never now" bash -c "test '$(ep 1 own now)' != '$(ep 1 own next)' && test '$(ep 1 peer now)' != '$(ep 1 peer next)'"
# A refresh a second later is normally one slot later (two if it fell
# right on a boundary): one of the two pairs at least shows it.
followed() {
	{ [ "$(ep 1 own next)" = "$(ep 2 own now)" ] && [ "$(ep 1 peer next)" = "$(ep 2 peer now)" ]; } ||
		{ [ "$(ep 2 own next)" = "$(ep 3 own now)" ] && [ "$(ep 2 peer next)" = "$(ep 3 peer now)" ]; }
}
check "the next endpoints are the ones the following refresh shows as now" followed
check "packets counted and growing ($(rx 1 3) $(rx 2 3) $(rx 3 3))" \
	bash -c "test '$(rx 1 3)' -gt 0 && test '$(rx 3 3)' -gt '$(rx 1 3)'"
check "no rate on the first refresh" test "$(rx 1 4)" = "-"
rate_ok() { local r; r=$(rx 3 4); [ "$r" != - ] && awk -v r="$r" 'BEGIN { exit !(r + 0 >= 2 && r + 0 <= 10) }'; }
check "the third refresh has a packet rate near the ping's 5/s ($(rx 3 4))" rate_ok
check "the last packet is recent ($(rx 3 5))" grep -qE '^3 rx .* [0-2]_s_ago$' "$work/watch.parsed"
check "auth failures, replays and skew counters on each refresh" \
	test "$(grep -cE '^[123] counters 0 [0-9]+ [0-9]+ [0-9]+ 0 [0-9]+$' "$work/watch.parsed")" = 3

# Wide: now and next on one line.
COLUMNS=140 "$build/mt6d" watch -s "$work/s/ctl.sock" --count 1 >"$work/wide.out" 2>&1
check "at 140 columns now and next share a line" \
	grep -qE '^  own   now  \[2001:db8:0:1:[0-9a-f:]+\]:[0-9]+ +next \[2001:db8:0:1:' "$work/wide.out"

# The client's view.
"$build/mt6d" watch -s "$work/c1/ctl.sock" --count 2 --interval 0.5 >"$work/cwatch.out" 2>&1
rc=$?
check "the client's watch exits 0" test "$rc" = 0
cat "$work/cwatch.out"
check "the client's daemon line" grep -qE '^client mt6d0 on eth0  state session  Rot 1.0 s' "$work/cwatch.out"
check "the client's session is to the server" grep -qE '^server on mt6d0  Rot 1.0 s' "$work/cwatch.out"
check "the client's tunnel addresses, its own first" \
	grep -qx "  tunnel $(client_tun 1) <-> $(server_tun 1)" "$work/cwatch.out"

# A daemon that goes away under watch.
"$build/mt6d" watch -s "$work/c1/ctl.sock" --count 40 --interval 0.5 >"$work/gone.out" 2>"$work/gone.err" &
wpid=$!
EXTRA_PIDS="$EXTRA_PIDS $wpid"
sleep 1.3
stop c1
wait "$wpid"
rc=$?
EXTRA_PIDS=${EXTRA_PIDS% *}
check "watch ends with an error when the daemon stops (exit $rc)" test "$rc" -ne 0
check "it says which socket it lost" grep -q "cannot talk to '$work/c1/ctl.sock'" "$work/gone.err"
check "it had shown refreshes before" test "$(grep -c '^--- mt6d watch: refresh' "$work/gone.out")" -ge 2
fails_at_once() { ! "$build/mt6d" watch -s "$work/c1/ctl.sock" >"$work/none.out" 2>&1 &&
	grep -q "cannot talk to" "$work/none.out" && ! grep -q "refresh" "$work/none.out"; }
check "watch of a socket nobody serves fails at once" fails_at_once

stop s
finish
