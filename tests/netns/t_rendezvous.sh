#!/bin/bash
# The blind rendezvous in a lab swarm (scripts/lab.sh): a server publishes
# sealed configs for 50 registered clients; every client host fetches and
# opens exactly its own; the failures carry the right reason; across a window
# boundary clients get the new config; junk announced under a client's
# descriptor from another IP does not hide the real config; `mt6d rendezvous
# put` on one host is read by `get` on another and not by a third key pair.
#
#      s (server: publisher, 50 source addresses 2001:db8:0:1::100-131)
#      c1 .. c50 (one client each: mt6d rendezvous fetch; c1-c3 also put/get)
#      d1 .. d8  (4 mt6d-dhtnode each, ::10-::13 of their /64)
#      d9 .. d13 (one libtorrent node each, python3-libtorrent, ::2)
#      all behind one router/bridge (namespace r), every host in its own /64
#
# The window is 60 s (the publisher's round: 20 s, ending 30 s before the
# window; clients also look at the neighbouring window 6 s from an edge).
# Cleans up on exit: the lab's namespaces (and with them every process we
# started in them), the work directory.
set -u

B=${MT6D_BUILD:-$(pwd)/build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MT6D=$B/mt6d
NODE=$B/mt6d-dhtnode
PY=/usr/bin/python3
DHTLAB=$TOP/tests/netns/dht_lab.py
CHUNKS=$TOP/tests/netns/rdv_chunks.py
LABSH=$TOP/scripts/lab.sh
export LAB=trdv$$
N_CLIENTS=${RDV_CLIENTS:-50}
N_OURS_HOSTS=8
PER_HOST=4
N_LT=5
N_DHT=$((N_OURS_HOSTS + N_LT))
N_PUB=50
PERIOD=60
W=$(mktemp -d /tmp/mt6d-rdv.XXXXXX)
T0=$(date +%s)

log() { echo "[$(($(date +%s) - T0))s] $*"; }
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
on_fail() { # what fail shows before it exits (tests/lib.sh)
	[ -f "$W/pub.log" ] && { echo "--- publisher log (tail)"; tail -n 20 "$W/pub.log"; }
	[ "${RDV_KEEP:-0}" = 1 ] && { echo "kept: lab $LAB, $W"; trap - EXIT; }
}
at_exit 'LAB_CLIENTS=$N_CLIENTS LAB_DHT=$N_DHT "$LABSH" down >/dev/null 2>&1; rm -rf "$W"'

[ -x "$MT6D" ] && [ -x "$NODE" ] || fail "build $MT6D and $NODE first"
$PY -c 'import libtorrent' 2>/dev/null || fail "python3-libtorrent missing (scripts/install-deps.sh)"

LAB_CLIENTS=$N_CLIENTS LAB_DHT=$N_DHT "$LABSH" up >/dev/null || fail "lab up"
log "lab up: $N_CLIENTS clients, $N_DHT DHT hosts"
X() { local h=$1; shift; ip netns exec "$LAB-$h" "$@"; }

ours_addr() { echo "2001:db8:2:$1::1$2"; }   # host 1..8, node 0..3
lt_addr() { echo "2001:db8:2:$((N_OURS_HOSTS + $1))::2"; }
pub_addr() { printf '2001:db8:0:1::1%02x\n' "$1"; }

for h in $(seq $N_OURS_HOSTS); do
	for k in $(seq 0 $((PER_HOST - 1))); do
		ip -n "$LAB-d$h" -6 addr add "$(ours_addr "$h" "$k")/64" dev eth0 nodad || fail "address"
	done
done
for k in $(seq 0 $((N_PUB - 1))); do
	ip -n "$LAB-s" -6 addr add "$(pub_addr "$k")/64" dev eth0 nodad || fail "address"
done

# Keys (files 0600): the server, 50 clients, a stranger, another server.
umask 077
for k in server other stranger $(seq -f 'c%g' "$N_CLIENTS"); do
	"$MT6D" genkey >"$W/$k.key"
	"$MT6D" pubkey <"$W/$k.key" >"$W/$k.pub"
done
for i in $(seq "$N_CLIENTS"); do cat "$W/c$i.pub"; done >"$W/clients"
SPUB=$(cat "$W/server.pub")

# The swarm: libtorrent nodes boot from three of ours; ours from one
# libtorrent node and the first node of ours.
for j in $(seq $N_LT); do
	boot="[$(ours_addr 1 0)]:6881,[$(ours_addr 4 1)]:6881,[$(ours_addr 7 2)]:6881"
	X "d$((N_OURS_HOSTS + j))" $PY "$DHTLAB" lt-node --addr "$(lt_addr "$j")" --boot "$boot" \
		--out "$W/lt$j.state" --max-s 600 >"$W/lt$j.log" 2>&1 &
done
for h in $(seq $N_OURS_HOSTS); do
	for k in $(seq 0 $((PER_HOST - 1))); do
		boot="[$(lt_addr $(((h + k) % N_LT + 1)))]:6881,[$(ours_addr 1 0)]:6881"
		X "d$h" "$NODE" -l "$(ours_addr "$h" "$k")" -p 6881 -b "$boot" >"$W/o$h-$k.log" 2>&1 &
	done
done
BOOT="[$(ours_addr 2 0)]:6881,[$(ours_addr 5 3)]:6881,[$(lt_addr 1)]:6881"
for _ in $(seq 60); do
	sleep 1
	ok=1
	for j in $(seq $N_LT); do
		n=$(awk '/^nodes/ {print $2}' "$W/lt$j.state" 2>/dev/null)
		[ "${n:-0}" -ge 8 ] || ok=0
	done
	[ $ok = 1 ] && break
done
[ "$ok" = 1 ] || fail "libtorrent nodes did not join in 60 s"
log "swarm joined: $((N_OURS_HOSTS * PER_HOST)) of ours, $N_LT libtorrent nodes"

# The publisher, 50 DHT nodes (one per source address: each paces every
# destination on its own, and libtorrent's limit is per source IP).
PUBL=$(for k in $(seq 0 $((N_PUB - 1))); do pub_addr "$k"; done | paste -sd,)
X s "$MT6D" rendezvous publish --key "$W/server.key" --clients "$W/clients" -l "$PUBL" -p 6881 \
	-b "$BOOT" --period ${PERIOD}s --seed-address 2001:db8:0:1::5eed --lead 30s --spread 20s --show-keys -v >"$W/pub.log" 2>&1 &
PUBPID=$!

now() { date +%s; }
win() { echo $(( $1 - $1 % PERIOD )); }
key_of() { # window -> intro key the publisher printed (latest epoch)
	awk -v w="$1" '$1 == "published" && $3 == w {k = $NF} END {print k}' "$W/pub.log"
}
wait_published() { # window, limit_s
	local end=$(($(now) + $2))
	while [ "$(now)" -lt "$end" ]; do
		[ -n "$(key_of "$1")" ] && return 0
		kill -0 "$PUBPID" 2>/dev/null || fail "the publisher exited"
		sleep 0.5
	done
	return 1
}
fetch() { # host key_name server_pub [extra args]
	local h=$1 k=$2 sp=$3; shift 3
	X "$h" "$MT6D" rendezvous fetch --key "$W/$k.key" --server "$sp" -b "$BOOT" \
		-l "2001:db8:1:${h#c}::2" --period ${PERIOD}s --timeout 20s --show-keys -q "$@"
}

# The current window is published first (a catch-up round), the next one
# in its round: as soon as the current window is out with at least 20 s
# left, every client fetches its own, in parallel.
WIN=
for _ in $(seq 240); do
	kill -0 "$PUBPID" 2>/dev/null || fail "the publisher exited"
	cur=$(win "$(now)")
	if [ -n "$(key_of "$cur")" ] && [ $((cur + PERIOD - $(now))) -ge 20 ]; then
		WIN=$cur
		break
	fi
	sleep 0.5
done
[ -n "$WIN" ] || fail "no window published with 20 s left within 120 s"
log "window $WIN published: $(grep "^published window $WIN" "$W/pub.log" | tail -n 1 | cut -d' ' -f1-10)"
KEY=$(key_of "$WIN")
for i in $(seq "$N_CLIENTS"); do
	fetch "c$i" "c$i" "$SPUB" >"$W/f$i.out" 2>"$W/f$i.err" &
	echo $! >"$W/f$i.pid"
done
bad=0
for i in $(seq "$N_CLIENTS"); do
	wait "$(cat "$W/f$i.pid")"
	rc=$?
	got=$(awk '$1 == "intro-key" {print $2}' "$W/f$i.out")
	if [ $rc -ne 0 ] || [ "$got" != "$KEY" ] || ! grep -qx "window $WIN" "$W/f$i.out" ||
		! grep -qx 'seed-address 2001:db8:0:1::5eed' "$W/f$i.out"; then
		echo "client $i: exit $rc, key '$got' (want '$KEY')"; cat "$W/f$i.err"
		bad=$((bad + 1))
	fi
done
[ $bad -eq 0 ] || fail "$bad of $N_CLIENTS clients did not open their config"
log "all $N_CLIENTS clients opened their own config of window $WIN"

# Three scenarios run side by side while the boundary approaches (each in a
# subshell; its verdict is its exit status, its story in its log).
scenario_negatives() {
	# Wrong server key, unregistered client: another descriptor, nothing there.
	# The same place read as a generic message: found, not authentic. (In
	# parallel: each waits for its lookups to end empty.)
	fetch c1 c1 "$(cat "$W/other.pub")" >"$W/n1.out" 2>&1 &
	P1=$!
	fetch c2 stranger "$SPUB" >"$W/n2.out" 2>&1 &
	P2=$!
	X c3 "$MT6D" rendezvous get --key "$W/c3.key" --from "$SPUB" -b "$BOOT" -l 2001:db8:1:3::2 \
		--period ${PERIOD}s --timeout 20s -q >"$W/n3.out" 2>&1 &
	P3=$!
	wait $P1; rc=$?
	[ $rc -eq 2 ] || { cat "$W/n1.out"; fail "wrong server key: exit $rc, want 2 (nothing found)"; }
	wait $P2; rc=$?
	[ $rc -eq 2 ] || { cat "$W/n2.out"; fail "unregistered client: exit $rc, want 2 (nothing found)"; }
	wait $P3; rc=$?
	[ $rc -eq 3 ] || { cat "$W/n3.out"; fail "config read as a message: exit $rc, want 3 (not authentic)"; }
	log "wrong server key, unregistered client: nothing found; wrong kind: not authentic"
}

scenario_attacker() {
	# An attacker (host c50's neighbour d8, another IP) announces junk ports
	# under client 4's chunk infohashes; client 4 still opens the real config.
	WATT=$(win "$(now)")
	D4=$("$MT6D" derive descriptor --key "$W/c4.key" --peer "$SPUB" --period ${PERIOD}s \
		--time "$WATT" | awk '$1 == "descriptor" {print $2}')
	EPOCH=$(awk -v w="$WATT" '$1 == "published" && $3 == w {e = $5} END {print e}' "$W/pub.log")
	JUNK=()
	while read -r line; do JUNK+=(--announce "$line"); done < <($PY "$CHUNKS" junk "$D4" "$EPOCH" 3 21)
	X d8 "$NODE" -l "$(ours_addr 8 3)" -p 6999 -b "$BOOT" "${JUNK[@]}" --timeout-ms 30000 \
		>"$W/junk.out" 2>&1 || { cat "$W/junk.out"; fail "attacker's announces"; }
	grep -c '^announce .* status 0' "$W/junk.out" | grep -qx 3 || fail "attacker's announces not stored"
	fetch c4 c4 "$SPUB" --window "$WATT" >"$W/x.out" 2>"$W/x.err"
	rc=$?
	# 4: the window ended meanwhile; the config shown must still be the real one.
	{ [ $rc -eq 0 ] || [ $rc -eq 4 ]; } && [ "$(awk '$1 == "intro-key" {print $2}' "$W/x.out")" = "$(key_of "$WATT")" ] ||
		{ cat "$W/x.out" "$W/x.err"; fail "junk under the descriptor: exit $rc"; }
	log "junk from another IP under the same chunk infohashes: the real config still opens"
}

scenario_putget() {
	# put on c1 for c2's key; get on c2 (from c1) reads it; a third key pair (c3)
	# finds nothing; the receiver asking with the wrong sender key neither.
	WPUT=$(win "$(now)")
	MSG="meet at [2001:db8:0:1::5eed]:4242, bring the $(date +%N) ticket"
	X c1 "$MT6D" rendezvous put --key "$W/c1.key" --to "$(cat "$W/c2.pub")" -b "$BOOT" -l 2001:db8:1:1::2 \
		--period ${PERIOD}s --window "$WPUT" --timeout 40s -q "$MSG" >"$W/put.out" 2>&1 || { cat "$W/put.out"; fail "put"; }
	got=$(X c2 "$MT6D" rendezvous get --key "$W/c2.key" --from "$(cat "$W/c1.pub")" -b "$BOOT" \
		-l 2001:db8:1:2::2 --period ${PERIOD}s --window "$WPUT" --timeout 20s -q 2>"$W/get.err")
	rc=$?
	# 4: the window ended in between (slow machine): still the message.
	{ [ $rc -eq 0 ] || [ $rc -eq 4 ]; } && [ "$got" = "$MSG" ] || { cat "$W/get.err"; fail "get: exit $rc, '$got'"; }
	X c3 "$MT6D" rendezvous get --key "$W/c3.key" --from "$(cat "$W/c1.pub")" -b "$BOOT" \
		-l 2001:db8:1:3::2 --period ${PERIOD}s --window "$WPUT" --timeout 20s -q >"$W/x.out" 2>&1
	rc=$?; [ $rc -eq 2 ] || { cat "$W/x.out"; fail "third key pair: exit $rc, want 2"; }
	X c1 "$MT6D" rendezvous get --key "$W/c1.key" --from "$(cat "$W/c2.pub")" -b "$BOOT" \
		-l 2001:db8:1:1::2 --period ${PERIOD}s --window "$WPUT" --timeout 20s -q >"$W/x.out" 2>&1
	rc=$?; [ $rc -eq 3 ] || { cat "$W/x.out"; fail "sender reading its own message: exit $rc, want 3"; }
	log "put on c1, get on c2: '$MSG'; c3: nothing found; c1 itself: not authentic"
}

for sc in negatives attacker putget; do
	( "scenario_$sc" ) >"$W/sc-$sc.log" 2>&1 &
	echo $! >"$W/sc-$sc.pid"
done

# Across the boundary: the next window was published before it started;
# after it, clients get the new key; the old window's config is expired.
NEXT=$(( $(win "$(now)") + PERIOD ))
# (The round ends 30 s before the window; on this shared 2-core machine the
# last announces can take most of that: 5 s of slack, and the margin logged.)
wait_published "$NEXT" $((NEXT - $(now) + 5)) || fail "next window $NEXT not published by its start + 5 s"
OLDKEY=$(key_of $((NEXT - PERIOD)))
NEWKEY=$(key_of "$NEXT")
[ "$OLDKEY" != "$NEWKEY" ] || fail "the same K in two windows"
log "window $NEXT published $((NEXT - $(now))) s before it starts (negative: after); waiting for the boundary"
while [ "$(now)" -lt $((NEXT + 1)) ]; do sleep 0.2; done
for i in $(seq 10); do
	fetch "c$i" "c$i" "$SPUB" >"$W/b$i.out" 2>"$W/b$i.err" &
	echo $! >"$W/b$i.pid"
done
for i in $(seq 10); do
	wait "$(cat "$W/b$i.pid")"
	rc=$?
	got=$(awk '$1 == "intro-key" {print $2}' "$W/b$i.out")
	[ $rc -eq 0 ] && [ "$got" = "$NEWKEY" ] || { cat "$W/b$i.err"; fail "client $i after the boundary: exit $rc"; }
done
fetch c11 c11 "$SPUB" --window prev >"$W/x.out" 2>"$W/x.err"
rc=$?
[ $rc -eq 4 ] && grep -q "which is over" "$W/x.err" || { cat "$W/x.out" "$W/x.err"; fail "previous window: exit $rc, want 4 (expired)"; }
log "after the boundary: 10 clients got the new K; the previous window's config: expired"
grep -q "failures 0" "$W/pub.log" || log "note: the publisher retried some publications"
for sc in negatives attacker putget; do
	wait "$(cat "$W/sc-$sc.pid")"
	rc=$?
	cat "$W/sc-$sc.log"
	[ $rc -eq 0 ] || fail "scenario $sc"
done
echo "PASS"
