#!/bin/bash
# The product end to end, with the real rendezvous: mt6d-server publishes
# every registered client's config in a mixed DHT swarm of our nodes and
# libtorrent nodes (lab hosts d1..d8: four mt6d-dhtnode and one libtorrent
# node, python3-libtorrent, each); each mt6d-client knows only its key pair
# and the server's public key, fetches its config, establishes a session and
# keeps a TCP stream to the server's tunnel address alive across a config
# period boundary (ConfigPeriod 60 s: a new K each window, the client
# establishes again under it without losing a byte). Revoking client 2 ends
# its session and it cannot come back. Clean shutdown leaves nothing behind.
#
#   s (server)   c1, c2 (clients)   d1..d8 (DHT: ours 2001:db8:2:<j>::10-13,
#                                    libtorrent 2001:db8:2:<j>::20, port 6881)
#       all behind the router r, each in its own /64 (scripts/lab.sh)
#
# The libtorrent nodes take their share of the storage and of the fetches
# (their own counters say so), so the configs travel through an independent
# implementation too.
#
# Why 32 of our DHT nodes and 60 s: every announce carries one port and a node
# paces each destination to one message per DHT_PACE_MS (333 ms); a config
# is 63 ports stored at the 8 closest nodes, so a swarm of a few nodes would
# take minutes to store two windows of two clients (docs/LAB.md).
export LAB_DHT=8
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
SESS_PERIOD=60s
sess_lab_up
sess_swarm_start 8
sess_dht_configs
sleep 3

t_start=$(date +%s%N)
dht_server_start
dht_client_start 1
dht_client_start 2

check "client 1 finds the server in the DHT and establishes a session" wait_for 90 has_session 1
check "client 2 finds the server in the DHT and establishes a session" wait_for 60 has_session 2
# Server and clients started together (a fresh server's first clients):
# reported, the target (30 s) is checked by the foreign-node tests.
echo "info first sessions within $(( ($(date +%s%N) - t_start) / 1000000 )) ms of the server's start"
check "client 1 fetched its config" test "$(field c1 fetches_ok)" -ge 1
check "ping through client 1's session" in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"
lt_sum() { # key: summed over the libtorrent nodes' state files
	awk -v k="$1" '$1 == k {n += $2} END {print n + 0}' "$work"/lt*.state
}
check "every libtorrent node has at least 4 nodes in its routing table" swarm_lt_joined 8
lt_stores() { [ "$(lt_sum torrents)" -ge 1 ]; }
# (Evaluated at every try: the port-stuffing announces begin once the items'
# catch-up is over, a few seconds after the first sessions.)
wait_for 30 lt_stores
check "libtorrent nodes store part of the published configs ($(lt_sum torrents) info_hashes, $(lt_sum peers) peers)" \
	lt_stores
check "libtorrent nodes answered get_peers ($(lt_sum get_peers_in))" test "$(lt_sum get_peers_in)" -ge 1

# A TCP stream across a config period boundary (a new K).
gen=$(field s key_generation)
stream=$top/tests/netns/peer_stream.py
in_ns s /usr/bin/python3 "$stream" recv "$(server_tun 1)" 5001 >"$work/recv1.out" 2>&1 &
r1=$!
EXTRA_PIDS=$r1
sleep 0.5
in_ns c1 /usr/bin/python3 "$stream" send "$(server_tun 1)" 5001 70 100000 c1mark >"$work/send1.out" 2>&1
wait $r1
EXTRA_PIDS=
check "client 1's TCP stream survived the config periods intact" bash -c \
	"test -s '$work/send1.out' && diff '$work/send1.out' '$work/recv1.out'"
check "the server drew a new key meanwhile" test "$(field s key_generation)" -ge $((gen + 1))
# The client fetches the new window at a random time in its first half
# (docs/PROTOCOL.md 11), so the re-establishment may come after the stream.
check "client 1 established again under the new key" wait_for 45 \
	bash -c "[ \$('$build/mt6d' show -s '$work/c1/ctl.sock' dump | sed -n 's/^reestablish_k=//p') -ge 1 ]"
check "client 1 has a session now" wait_for 10 has_session 1

# Revoke client 2, once it has established again under the new key too:
# its periodic fetch, hence that re-establishment, falls at a random time in
# the first half of the window (docs/PROTOCOL.md 11), and a revocation that
# crosses a re-establishment in flight is another test's matter.
check "client 2 established again under the new key" wait_for 40 \
	bash -c "[ \$('$build/mt6d' show -s '$work/c2/ctl.sock' dump | sed -n 's/^reestablish_k=//p') -ge 1 ]"
check "client 2 has a session now" wait_for 10 has_session 2
# Revoke client 2.
sed -i '/^Name = client-2$/,$d' "$work/s/server.conf"
sed -i '$d' "$work/s/server.conf" # its [Client] header
check "mt6d reload" "$build/mt6d" reload -s "$work/s/ctl.sock"
check "revocation ends client 2's session" wait_for 3 bash -c "'$build/mt6d' show -s '$work/c2/ctl.sock' dump | grep -qx 'teardowns_rx=1'"
sleep 10
not_2() { ! has_session 2; }
check "client 2 cannot establish again" not_2
# Client 1 keeps its session, or, if the revocation caught it establishing
# under the K it replaced, finds the new K in the DHT and establishes again.
check "client 1 has a session" wait_for 40 has_session 1
check "ping through client 1's session after the revocation" \
	in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"

stop c1
stop c2
stop s
for h in s c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done

finish
