#!/bin/bash
# The BEP 44 item channel (docs/PROTOCOL.md 12) in a mixed swarm of our DHT
# nodes and libtorrent nodes (python3-libtorrent): lab hosts d1, d2 with two
# mt6d-dhtnode and three libtorrent nodes each (scripts/lab.sh,
# tests/netns/sessions-lib.sh), so that libtorrent nodes are most of any
# item's 8 closest nodes and ours some of them:
#
#   - libtorrent puts a config item (blinded and sealed in Python, signed by
#     libtorrent with the blinded scalar): our nodes store and serve it (a
#     direct "get" to each) and `mt6d rendezvous fetch --channel items`
#     opens it;
#   - `mt6d rendezvous put --channel items` (our put) is stored by
#     libtorrent nodes (their counters) and read back by libtorrent's own
#     dht_get_mutable_item, opened in Python;
#   - mt6d-server and mt6d-client with RendezvousChannel = items alone: the
#     client finds its config in an item, establishes a session and pings
#     through it; no port is announced;
#   - with every DHT node of ours stopped, our get still reads our item from
#     libtorrent nodes alone.
#
# ~35 s; up to 20 s more when a libtorrent traversal meets a node id that
# changed (BEP 42) and waits out libtorrent's timeout (the put's --wait-s).
# Cleans up on exit (sessions-lib.sh): only the PIDs it started, its lab.
export LAB_DHT=2
export LAB_CLIENTS=1
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

PY=/usr/bin/python3
ILAB=$top/tests/netns/items_lab.py
$PY -c 'import libtorrent, nacl' 2>/dev/null || fail "python3-libtorrent or python3-nacl missing"
SESS_ROT=1s
SESS_PERIOD=60s
T0=$(date +%s)
log() { echo "[$(($(date +%s) - T0))s] $*"; }

sess_lab_up
log "lab up"
# The swarm: on each of d1, d2 three libtorrent nodes (::20-22) and two of
# ours (::10-11), port 6881; libtorrent nodes are most of every item's 8
# closest nodes. (ip netns exec directly: lab.sh exec per process is slow.)
lt_a() { echo "2001:db8:2:$1::2$2"; } # host j, k
our_a() { echo "2001:db8:2:$1::1$2"; }
lt_boot="" ours_boot="" ours_list=""
for j in 1 2; do
	for k in 0 1 2; do
		ip -n "$LAB-d$j" -6 addr add "$(lt_a "$j" "$k")/64" dev eth0 nodad
		lt_boot="$lt_boot${lt_boot:+,}[$(lt_a "$j" "$k")]:6881"
	done
	for k in 0 1; do
		ip -n "$LAB-d$j" -6 addr add "$(our_a "$j" "$k")/64" dev eth0 nodad
		ours_list="$ours_list${ours_list:+,}$(our_a "$j" "$k")"
		ours_boot="$ours_boot${ours_boot:+,}[$(our_a "$j" "$k")]:6881"
	done
	for k in 0 1 2 3; do ip -n "$LAB-d$j" -6 addr add "2001:db8:2:$j::3$k/64" dev eth0 nodad; done
done
for j in 1 2; do
	for k in 0 1 2; do
		ip netns exec "$LAB-d$j" $PY "$top/tests/netns/dht_lab.py" lt-node --addr "$(lt_a "$j" "$k")" \
			--boot "$ours_boot" --out "$work/lt$j$k.state" --max-s 120 >"$work/lt$j$k.log" 2>&1 &
		PID[lt$j$k]=$!
	done
	for k in 0 1; do
		ip netns exec "$LAB-d$j" "$build/mt6d-dhtnode" -l "$(our_a "$j" "$k")" -p 6881 \
			-b "$lt_boot,[$(our_a 1 0)]:6881" >"$work/d$j$k.log" 2>&1 &
		PID[d$j$k]=$!
	done
done
DHT_BOOT="$ours_boot,[$(lt_a 1 0)]:6881,[$(lt_a 2 0)]:6881"  # a config line holds 198 characters
sess_dht_configs
for f in "$work/s/server.conf" "$work/c1/client.conf"; do
	sed -i "0,/^StateDirectory/s||RendezvousChannel = items\n&|" "$f"
done

# --- The CLI and libtorrent, both ways (first: libtorrent's traversals wait
# 15 s for a departed node, and the daemons' DHT identities come and go) ------
lt_items() { # BEP 44 items the libtorrent nodes store, from their state files
	awk '$1 == "mutable_data" {n += $2} END {print n + 0}' "$work"/lt*.state
}
lt_items_over() { [ "$(lt_items)" -gt "$1" ]; }
# Joined: 4 nodes in each table, and the external address learnt 3 s ago
# at least (libtorrent then takes a BEP 42 id: a traversal that meets the
# old id in a table waits out libtorrent's 15 s timeout).
lt_joined() {
	local f
	for f in "$work"/lt*.state; do
		[ "$(awk '$1 == "nodes" {print $2}' "$f")" -ge 4 ] 2>/dev/null || return 1
		[ "$(awk '$1 == "ext" {print $2}' "$f")" -ge 3 ] 2>/dev/null || return 1
	done
}
check "the libtorrent nodes joined the swarm" wait_for 20 lt_joined
(umask 077 && "$build/mt6d" genkey >"$work/a.key" && "$build/mt6d" genkey >"$work/b.key" &&
	"$build/mt6d" genkey >"$work/srv2.key")
for k in a b srv2; do "$build/mt6d" pubkey <"$work/$k.key" >"$work/$k.pub"; done
intro=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
# One window for every put and get of this part: the current one, or the
# next when less than 2 min of it are left (a boundary must not fall between
# a put and its get).
now=$(date +%s)
W=$((now - now % 900))
[ $((W + 900 - now)) -lt 120 ] && W=$((W + 900))
before=$(lt_items)
check "our put stores a message item" in_ns d1 "$build/mt6d" rendezvous put --channel items \
	-k "$work/a.key" --to "$(cat "$work/b.pub")" -b "$ours_boot,$lt_boot" -l 2001:db8:2:1::30 -w "$W" -t 20s \
	"hello over items"
check "libtorrent nodes store it" wait_for 5 lt_items_over "$before"
check "libtorrent's own get reads it and it opens" bash -c "'$lab' exec d2 $PY '$ILAB' lt-get-message --addr 2001:db8:2:2::30 --boot '$lt_boot' \
	--reader-key '$work/b.key' --writer-pub '$(cat "$work/a.pub")' --period 900 --window $W | tee '$work/ltget.out' | \
	grep -q '^message seq 0 hello over items$'"

# --- The daemons over items alone -------------------------------------------
"$lab" exec s "$build/mt6d-server" -d -v -c "$work/s/server.conf" -s "$work/s/ctl.sock" -u root \
	>>"$work/s/log" 2>&1 &
PID[s]=$!
wait_for 10 test -S "$work/s/ctl.sock" || { cat "$work/s/log"; exit 1; }
log "server up"
check "the server stored the client's config item" \
	wait_for 20 bash -c "[ \"\$('$build/mt6d' show -s '$work/s/ctl.sock' dump | sed -n 's/^item_publications=//p')\" -ge 1 ]"
check "the server announces no port (no port-stuffing publisher)" test -z "$(field s announces_acked)"
log "published"
"$lab" exec c1 "$build/mt6d-client" -d -v -c "$work/c1/client.conf" -s "$work/c1/ctl.sock" -u root \
	>>"$work/c1/log" 2>&1 &
PID[c1]=$!
check "the client finds its config item and establishes a session" wait_for 20 has_session 1
log "session"
check "the config came from a BEP 44 item" field_is c1 config_channel items
check "ping through the session" in_ns c1 ping -c 2 -i 0.2 -W 2 "$(server_tun 1)"


# libtorrent puts, later in the test: its traversals wait out node ids that
# changed (BEP 42) at the start, which the swarm has aged out by now.
log "lt put"
out_to() { local f=$1; shift; "$@" >"$f" 2>&1; local rc=$?; cat "$f"; return "$rc"; }
lt_put() { # libtorrent puts srv2's config item for client b
	out_to "$work/ltput.out" in_ns d1 "$PY" "$ILAB" lt-put-config \
		--addr 2001:db8:2:1::31 --boot "$lt_boot,$ours_boot" --server-key "$work/srv2.key" \
		--client-pub "$(cat "$work/b.pub")" --period 900 --window "$W" --intro-key "$intro" \
		--seed-address 2001:db8:5::5eed --wait-s 20 --timeout-s 30
}
ours_serve() { # a direct get to each of our nodes: at least one serves it
	in_ns d2 "$PY" "$ILAB" raw-get --server-pub "$(cat "$work/srv2.pub")" --client-key "$work/b.key" \
		--period 900 --window "$W" --nodes "$ours_list"
}
# libtorrent stores on the 8 nodes closest to the target it knows, of 17:
# none of our 4 is among them for about 1 target in 19. So a target that
# took no node of ours is drawn again (a new second server's key), at most
# 6 times (CI once saw 3 in a row miss); the item must then be on ours and
# served by them.
check "libtorrent puts a config item of a second server" lt_put
log "libtorrent: $(tr '\n' ' ' <"$work/ltput.out")"
for _ in 1 2 3 4 5; do
	ours_serve >"$work/ours_serve.out" 2>&1 && break
	log "no node of ours among the put's closest: another target ($(tail -n 1 "$work/ours_serve.out"))"
	"$build/mt6d" genkey >"$work/srv2.key"
	"$build/mt6d" pubkey <"$work/srv2.key" >"$work/srv2.pub"
	check "libtorrent puts a config item of a second server (another target)" lt_put
done
check "our nodes store and serve it (a direct get to each)" ours_serve
check "our fetch opens it" bash -c "'$lab' exec d2 '$build/mt6d' rendezvous fetch --channel items \
	-k '$work/b.key' --server '$(cat "$work/srv2.pub")' -b '$ours_boot' -l 2001:db8:2:2::31 -w $W \
	--show-keys -t 20s >'$work/fetch.out' && grep -q '^intro-key $intro\$' '$work/fetch.out' && \
	grep -q '^epoch 1\$' '$work/fetch.out'"

# Our nodes gone (the server's too): our get reads our item from
# libtorrent nodes alone.
stop c1
stop s
for j in 1 2; do for k in 0 1; do stop "d$j$k"; done; done
check "with our nodes stopped, our get reads the item from libtorrent nodes" bash -c \
	"'$lab' exec d1 '$build/mt6d' rendezvous get --channel items -k '$work/b.key' \
	--from '$(cat "$work/a.pub")' -b '$lt_boot' -l 2001:db8:2:1::32 -w $W -t 20s | grep -qx 'hello over items'"
log "done"
finish
