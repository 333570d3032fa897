#!/bin/bash
# The daemons' DHT traffic ties nothing to their hosts (docs/security-dht.md):
# mt6d-server and one mt6d-client rendezvous through a small private swarm
# (lab hosts d1..d6: four mt6d-dhtnode and one libtorrent node each) with a
# ConfigPeriod of 20 s (the shortest that leaves the publication, 7 s and more
# per announce here, done before the clients ask), while the router captures everything. Then
# tests/netns/dht_anon_check.py reads the capture: no KRPC message from the
# server's or the client's stable address; a new source address, port and
# BEP 42-valid node id at every window (three identities at least, each used
# no longer than a window and the linger); every client query read-only
# (BEP 43 "ro": 1), the server's too. The session still comes up through the rendezvous, and
# the daemons' own view (mt6d show) agrees with the wire. The server runs
# DHTNodes = 3 identities side by side: three addresses of its /64 bound
# with a lifetime, each endpoint served by the guard, each changed at every
# boundary, none left after shutdown.
export LAB_DHT=6
LAB_CLIENTS=1
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
SESS_PERIOD=20s
PERIOD_S=20
LINGER_S=10 # dhtident_default_linger_s(20)
sess_lab_up
sess_swarm_start 6 180
sess_dht_configs
LANES=3
sed -i "0,/^StateDirectory/s||DHTNodes = $LANES\n&|" "$work/s/server.conf"

rns=$("$lab" ns r)
(exec ip netns exec "$rns" tcpdump -i br0 -s 0 -U -n -w "$work/cap.pcap" udp 2>"$work/tcpdump.log") &
EXTRA_PIDS=$!
for _ in $(seq 50); do grep -q listening "$work/tcpdump.log" && break; sleep 0.1; done
sleep 2

# Start the daemons away from a boundary, so that each one's first identity
# is clearly its start-up window's (the checker counts identities per window).
for _ in $(seq 40); do
	sec=$(($(date +%s) % PERIOD_S))
	[ "$sec" -ge 1 ] && [ "$sec" -le $((PERIOD_S - 8)) ] && break
	sleep 0.5
done
"$lab" exec s "$build/mt6d-server" -d -v -c "$work/s/server.conf" -s "$work/s/ctl.sock" -u root \
	>>"$work/s/log" 2>&1 &
PID[s]=$!
wait_for 10 test -S "$work/s/ctl.sock" || { cat "$work/s/log"; exit 1; }
"$lab" exec c1 "$build/mt6d-client" -d -v -c "$work/c1/client.conf" -s "$work/c1/ctl.sock" \
	-u root >>"$work/c1/log" 2>&1 &
PID[c1]=$!
wait_for 10 test -S "$work/c1/ctl.sock"

check "client 1 finds the server in the DHT and establishes a session" wait_for 60 has_session 1
stable_s=$("$lab" addr s)
stable_c=$("$lab" addr c1)
dht_addr_s=$(field s dht_addr)
check "the server's DHT node is in its /64 ($dht_addr_s), not on its stable address" \
	bash -c "[ '${dht_addr_s%:*:*:*:*}' = '${stable_s%::*}' ] && [ '$dht_addr_s' != '$stable_s' ]"
check "the DHT address is bound on the server's eth0" \
	bash -c "'$lab' exec s ip -6 addr show dev eth0 | grep -q ' $dht_addr_s/128 '"
check "the server runs $LANES DHT identities" test "$(field s dht_lanes)" = "$LANES"
lanes_bound() { # every endpoint in dht_endpoints: a distinct address of the
	# /64 bound /128 with a finite lifetime (a SIGKILL leaves nothing for
	# long: a window, the linger and 30 s), its endpoint in the guard's set
	local eps ep a p n=0 seen=" " addrs table elems
	eps=$(field s dht_endpoints)
	addrs=$("$lab" exec s ip -6 addr show dev eth0)
	table=$(field s guard_table)
	elems=$("$lab" exec s nft list set inet "$table" ep)
	for ep in ${eps//,/ }; do
		a=${ep%]:*}
		a=${a#[}
		p=${ep##*:}
		[ "${a%:*:*:*:*}" = "${stable_s%::*}" ] || { echo "$a: not in the /64"; return 1; }
		[[ $seen != *" $a "* ]] || { echo "$a: twice"; return 1; }
		seen="$seen$a "
		grep -A1 " $a/128 " <<<"$addrs" | grep -Eq 'valid_lft ([0-9]+)sec' ||
			{ echo "$a: not bound with a lifetime"; return 1; }
		[ "$(grep -A1 " $a/128 " <<<"$addrs" | sed -nE 's/.*valid_lft ([0-9]+)sec.*/\1/p')" -le $((PERIOD_S + LINGER_S + 30)) ] ||
			{ echo "$a: lifetime too long"; return 1; }
		grep -q "$a . $p " <<<"$elems" || { echo "[$a]:$p: not in the guard's endpoints"; return 1; }
		n=$((n + 1))
	done
	[ "$n" = "$LANES" ] || { echo "$n endpoints listed"; return 1; }
}
check "each DHT identity: its own address of the /64, bound with a lifetime, served by the guard" lanes_bound
# Two more boundaries at least (three identities each, in every lane).
n0=$(field s dht_identities)
check "the server changed its DHT identities at two boundaries" wait_for 45 \
	bash -c "[ \$('$build/mt6d' show -s '$work/s/ctl.sock' dump | sed -n 's/^dht_identities=//p') -ge $((n0 + 2 * LANES)) ]"
check "each DHT identity, changed, still bound and served" lanes_bound
check "the client changed its DHT identity too" test "$(field c1 dht_identities)" -ge 3
# (A fetch early in the window may find nothing yet: with n = 20 s here the
# publication ends near the boundary; the client tries again within seconds.)
check "the client fetched its config again in a new window" wait_for 20 \
	bash -c "[ \$('$build/mt6d' show -s '$work/c1/ctl.sock' dump | sed -n 's/^fetches_ok=//p') -ge 2 ]"
check "client 1 has a session" wait_for 20 has_session 1
check "ping through client 1's session" in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"
sleep 1
kill "$EXTRA_PIDS" 2>/dev/null
wait "$EXTRA_PIDS" 2>/dev/null
EXTRA_PIDS=
check "the capture: no DHT message from a stable address, one BEP 42 identity per window and lane, ro queries" \
	/usr/bin/python3 "$top/tests/netns/dht_anon_check.py" "$work/cap.pcap" "$PERIOD_S" "$LINGER_S" \
	"s=$stable_s,$LANES" "c1=$stable_c"
sed 's/^/     | /' "$_lib_out" | tail -n 24

stop c1
stop s
for h in s c1; do
	check "clean shutdown left nothing in $h (DHT addresses included)" nothing_left "$h"
done

finish
