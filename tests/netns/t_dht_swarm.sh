#!/bin/bash
# Interop of our DHT node with real libtorrent nodes (python3-libtorrent), in a
# private IPv6 swarm inside one network namespace, every node on its own /64
# of 2001:db8::/32 (docs/LAB.md: "Private swarms of real nodes").
#
#   30 long-running mt6d-dhtnode + 5 libtorrent nodes, bootstrapped only among
#   themselves (ours from libtorrent nodes, libtorrent nodes from ours);
#   one of ours announces a 120-byte port-stuffed message: 5 chunks of 24
#   ports, chunk j under an info_hash next to libtorrent node j's id;
#   another of ours, joining through libtorrent nodes only, collects it:
#   complete in the union, from one libtorrent node alone for at least 3 of
#   the 5 chunks (a libtorrent node that was busy or slow may return a subset:
#   the union still holds), and from one of ours
#   alone; libtorrent's own dht_get_peers, joining through our nodes only,
#   finds every port; malformed KRPC, a bad token and a ping flood are
#   counted and dropped and the node still answers; a node restarted from its
#   state file with no bootstrap is back in one round trip; 30 % of all nodes
#   are killed (among them every node of ours holding chunk J, the first chunk
#   a libtorrent node holds, and one libtorrent node) and a fresh node of
#   ours still collects the whole message, chunk J from libtorrent nodes only.
#
# DHT_SWARM_OURS / DHT_SWARM_LT change the swarm size (not below 30 / 5 in
# make check). Cleans up on exit: only the PIDs it started, its namespace.
set -u

B=${MT6D_BUILD:-$(pwd)/build}
NODE=$B/mt6d-dhtnode
PY=/usr/bin/python3
LAB=$(cd "$(dirname "$0")" && pwd)/dht_lab.py
N_OURS=${DHT_SWARM_OURS:-30}
N_LT=${DHT_SWARM_LT:-5}
CHUNK=24
MSG_LEN=120
NS=mt6ddht$$
W=$(mktemp -d /tmp/mt6d-dht-swarm.XXXXXX)
PIDS=()
T0=$(date +%s)

log() { echo "[$(($(date +%s) - T0))s] $*"; }
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
# Anything still inside our private namespace was started by us.
at_exit 'stop_pids "${PIDS[@]}"; ns_purge "$NS"; [ "${DHT_SWARM_KEEP:-0}" = 1 ] || rm -rf "$W"'
[ "${DHT_SWARM_KEEP:-0}" = 1 ] && echo "work directory $W (kept)"

[ -x "$NODE" ] || fail "no $NODE (build it first)"
$PY -c 'import libtorrent' 2>/dev/null || fail "python3-libtorrent missing (scripts/install-deps.sh)"

ours_addr() { echo "2001:db8:2:$1::2"; }
lt_addr() { echo "2001:db8:4:$1::2"; }
cli_addr() { echo "2001:db8:3:$1::2"; }

ip netns add "$NS" || fail "ip netns add"
ip -n "$NS" link set lo up
ip -n "$NS" link add va type veth peer name vb || fail "veth"
ip -n "$NS" link set va up
ip -n "$NS" link set vb up
{
	for i in $(seq "$N_OURS"); do echo "addr add $(ours_addr "$i")/64 dev va nodad"; done
	for j in $(seq "$N_LT"); do echo "addr add $(lt_addr "$j")/64 dev va nodad"; done
	for k in $(seq 6); do echo "addr add $(cli_addr "$k")/64 dev va nodad"; done
} | ip -n "$NS" -6 -batch - || fail "adding addresses"
ip -n "$NS" -6 route add default dev va || fail "default route"

# An array, not a function: `"${NSX[@]}" cmd &` makes $! the PID of cmd itself.
NSX=(ip netns exec "$NS")

# libtorrent nodes first (they start slower); each is given three of ours.
declare -A PID_OF
for j in $(seq "$N_LT"); do
	boot="[$(ours_addr $((j % N_OURS + 1)))]:6881,[$(ours_addr $(((j + 10) % N_OURS + 1)))]:6881,[$(ours_addr $(((j + 20) % N_OURS + 1)))]:6881"
	"${NSX[@]}" $PY "$LAB" lt-node --addr "$(lt_addr "$j")" --boot "$boot" --out "$W/lt$j.state" \
		--max-s 600 >"$W/lt$j.log" 2>&1 &
	PIDS+=($!)
	PID_OF[$(lt_addr "$j")]=$!
done
# Ours: node 1 from libtorrent nodes only; the others from one libtorrent
# node and node 1.
for i in $(seq "$N_OURS"); do
	boot="[$(lt_addr $((i % N_LT + 1)))]:6881"
	[ "$i" -gt 1 ] && boot="$boot,[$(ours_addr 1)]:6881"
	[ "$i" -eq 1 ] && boot="[$(lt_addr 1)]:6881,[$(lt_addr 2)]:6881"
	"${NSX[@]}" "$NODE" -l "$(ours_addr "$i")" -p 6881 -b "$boot" -s "$W/state$i" >"$W/o$i.log" 2>&1 &
	PIDS+=($!)
	PID_OF[$(ours_addr "$i")]=$!
done
log "started $N_OURS of ours and $N_LT libtorrent nodes"

# Ours print their status on SIGUSR1; returns the line's "good" count.
status_of() { # i
	local pid=${PID_OF[$(ours_addr "$1")]}
	: >"$W/o$1.log.mark"
	kill -USR1 "$pid" 2>/dev/null || return 1
	sleep 0.2
	grep '^routing ipv6' "$W/o$1.log" | tail -n 1 | awk '{print $4}'
}

# Wait (bounded) until every node has at least 8 nodes in its table.
joined=0
for _ in $(seq 60); do
	sleep 1
	ok=1
	for j in $(seq "$N_LT"); do
		n=$(awk '/^nodes/ {print $2}' "$W/lt$j.state" 2>/dev/null)
		[ "${n:-0}" -ge 8 ] || ok=0
	done
	if [ $ok = 1 ]; then
		for i in 1 $((N_OURS / 2)) "$N_OURS"; do
			[ "$(status_of "$i")" -ge 8 ] 2>/dev/null || ok=0
		done
	fi
	[ $ok = 1 ] && { joined=1; break; }
done
[ $joined = 1 ] || fail "swarm did not join in 60 s"
# BEP 42: libtorrent changes its id once it learns its external address
# (from the "ip" field of our replies): wait for that, then read the ids.
for _ in $(seq 30); do
	ok=1
	for j in $(seq "$N_LT"); do
		e=$(awk '/^ext/ {print $2}' "$W/lt$j.state" 2>/dev/null)
		[ "${e:--1}" -ge 3 ] || ok=0
	done
	[ $ok = 1 ] && break
	sleep 1
done
[ "$ok" = 1 ] || fail "libtorrent nodes did not learn their external address"
ids=$(for j in $(seq "$N_LT"); do awk '/^id/ {print $2}' "$W/lt$j.state"; done | tr '\n' ' ')
[ "$(echo "$ids" | wc -w)" -eq "$N_LT" ] || fail "libtorrent ids unknown: '$ids'"
# The fewest good nodes in any of our tables (all asked at once).
good_min_of_ours() {
	local i g min=99
	for i in $(seq "$N_OURS"); do kill -USR1 "${PID_OF[$(ours_addr "$i")]}" 2>/dev/null; done
	sleep 0.5
	for i in $(seq "$N_OURS"); do
		g=$(grep '^routing ipv6' "$W/o$i.log" | tail -n 1 | awk '{print $4}')
		[ "${g:-0}" -lt "$min" ] && min=${g:-0}
	done
	echo "$min"
}
for _ in $(seq 20); do
	good_min=$(good_min_of_ours)
	[ "$good_min" -ge 8 ] && break
	sleep 1
done
log "joined; libtorrent ids $ids; fewest good nodes in our tables: $good_min"
[ "$good_min" -ge 8 ] || fail "one of our nodes has only $good_min good nodes after 20 s more"
lt_list=""
for j in $(seq "$N_LT"); do lt_list="$lt_list,$(lt_addr "$j")"; done

# The message: 120 random bytes, 5 chunks of 24 ports.
msg=$(head -c $MSG_LEN /dev/urandom | od -An -tx1 | tr -d ' \n')
# shellcheck disable=SC2086
$PY "$LAB" chunks "$msg" $CHUNK $ids >"$W/chunks" || fail "chunks"
announce_args=() collect_args=() want_args=()
while IFS=: read -r ih ports; do
	announce_args+=(--announce "$ih:$ports")
	collect_args+=(--collect "$ih")
	want_args+=(--want "$ih:$ports")
done <"$W/chunks"

# 1. One of ours announces (joining through our node 5).
"${NSX[@]}" "$NODE" -l "$(cli_addr 1)" -p 6881 -b "[$(ours_addr 5)]:6881" \
	"${announce_args[@]}" --timeout-ms 90000 >"$W/announce.out" 2>"$W/announce.err" &
pid=$!
PIDS+=("$pid")
wait $pid || { cat "$W/announce.out" "$W/announce.err"; fail "announce client failed"; }
log "announced: $(grep -c '^announce .* status 0' "$W/announce.out") chunks"
grep '^announce' "$W/announce.out"
# Every chunk went to 8 nodes, all ports to at least 6, among them at least
# one libtorrent node (its info_hash lies next to a libtorrent node's id).
j=0
while IFS=: read -r ih ports; do
	j=$((j + 1))
	n=$(grep -c "^stored $ih .* $CHUNK\$" "$W/announce.out")
	[ "$n" -ge 6 ] || fail "chunk $j: only $n nodes stored all ports"
	grep -q "^stored $ih \[2001:db8:4:[0-9]*::2\]:6881 $CHUNK\$" "$W/announce.out" ||
		{ grep "$ih" "$W/announce.out"; fail "chunk $j: no libtorrent node stored all $CHUNK ports"; }
done <"$W/chunks"

# 2. In parallel: one of ours collects, joining through libtorrent nodes only;
# libtorrent's own get_peers, joining through our nodes only; malformed KRPC.
"${NSX[@]}" "$NODE" -l "$(cli_addr 2)" -p 6881 -b "[$(lt_addr 1)]:6881,[$(lt_addr 2)]:6881" \
	"${collect_args[@]}" --timeout-ms 90000 >"$W/collect1.out" 2>"$W/collect1.err" &
pid_c=$!
PIDS+=("$pid_c")
"${NSX[@]}" $PY "$LAB" lt-get --addr "$(cli_addr 3)" \
	--boot "[$(ours_addr 3)]:6881,[$(ours_addr 13)]:6881" "${want_args[@]}" \
	--timeout-s 80 >"$W/ltget.out" 2>&1 &
pid_g=$!
PIDS+=("$pid_g")
"${NSX[@]}" $PY "$LAB" bad "$(ours_addr 7)" 6881 --src "$(cli_addr 5)" --flood 100 >"$W/bad.out" 2>&1 &
pid_b=$!
PIDS+=("$pid_b")

wait $pid_b || { cat "$W/bad.out"; fail "our node did not answer after malformed input"; }
cat "$W/bad.out"
kill -USR1 "${PID_OF[$(ours_addr 7)]}"
sleep 0.3
traffic=$(grep '^traffic' "$W/o7.log" | tail -n 1)
echo "node 7: $traffic"
malformed=$(echo "$traffic" | sed -n 's/.* malformed \([0-9]*\).*/\1/p')
limited=$(echo "$traffic" | sed -n 's/.* rate_limited \([0-9]*\).*/\1/p')
badtok=$(echo "$traffic" | sed -n 's/.* bad_token \([0-9]*\).*/\1/p')
[ "${malformed:-0}" -ge 10 ] || fail "malformed datagrams counted: ${malformed:-?} (want >= 10)"
[ "${limited:-0}" -ge 40 ] || fail "flood: ${limited:-?} rate-limited (want >= 40 of 100)"
[ "${badtok:-0}" -ge 1 ] || fail "announce with a bad token not counted"
flood_replies=$(awk '/^flood_replies/ {print $2}' "$W/bad.out")
[ "${flood_replies:-999}" -le 50 ] || fail "flood: $flood_replies replies (an amplifier?)"

wait $pid_c || { cat "$W/collect1.out" "$W/collect1.err"; fail "collect client failed"; }
$PY "$LAB" check --chunks "$W/chunks" --out "$W/collect1.out" --lt "$lt_list" \
	--lt-complete-min 3 --ours-complete >"$W/check1" || { cat "$W/check1"; fail "first collection"; }
cat "$W/check1"
[ "$(awk '/^message/ {print $2}' "$W/check1")" = "$msg" ] || fail "collected message differs"
log "collected through libtorrent nodes: complete, from libtorrent nodes alone and from ours alone"

wait $pid_g || { cat "$W/ltget.out"; fail "libtorrent's get_peers did not find every port"; }
cut -c1-80 "$W/ltget.out"
n=$(awk '/^lt_nodes/ {print $2}' "$W/ltget.out")
[ "${n:-0}" -ge 8 ] || fail "libtorrent joined through our nodes with only ${n:-0} nodes"
log "libtorrent (joined through ours) found every announced port"

# Restart from the state file alone: node 9 stops (saving its id and its
# table) and comes back with no bootstrap node; one round trip later its
# table is full again.
a9=$(ours_addr 9)
id_before=$(kill -USR1 "${PID_OF[$a9]}"; sleep 0.2; awk '/^id/ {print $2}' "$W/o9.log" | tail -n 1)
kill -TERM "${PID_OF[$a9]}"
wait "${PID_OF[$a9]}"
[ -s "$W/state9" ] || fail "node 9 wrote no state file"
"${NSX[@]}" "$NODE" -l "$a9" -p 6881 -b none -s "$W/state9" >"$W/o9.log" 2>&1 &
PIDS+=($!)
PID_OF[$a9]=$!
sleep 1
g=$(status_of 9)
id_after=$(awk '/^id/ {print $2}' "$W/o9.log" | tail -n 1)
[ "$id_after" = "$id_before" ] || fail "node 9 restarted as $id_after, was $id_before"
[ "${g:-0}" -ge 8 ] || fail "node 9, restarted from its state file, has ${g:-0} good nodes after 1 s"
log "node 9 restarted from its state file alone: same id, $g good nodes after 1 s"

# 3. Kill 30 % of all nodes: every one of ours that holds chunk J (the first
# chunk a libtorrent node holds), one libtorrent node that does not hold it,
# then more of ours.
total=$((N_OURS + N_LT))
want_kill=$(((total * 3 + 9) / 10))
stored_by() { # ih prefix: addresses that took all ports
	awk -v ih="$1" -v n=$CHUNK '$1 == "stored" && $2 == ih && $4 == n {print $3}' "$W/announce.out" |
		sed 's/^\[\(.*\)\]:.*/\1/' | grep "^$2"
}
J=-1
j=0
while IFS=: read -r ih ports; do
	if stored_by "$ih" 2001:db8:4: >/dev/null; then J=$j; ihJ=$ih; break; fi
	j=$((j + 1))
done <"$W/chunks"
[ "$J" -ge 0 ] || fail "no chunk on a libtorrent node"
kill_list=$(awk -v ih="$ihJ" '$1 == "stored" && $2 == ih && $4 > 0 {print $3}' "$W/announce.out" |
	sed 's/^\[\(.*\)\]:.*/\1/' | grep '^2001:db8:2:' | tr '\n' ' ')
ltJ=$(stored_by "$ihJ" 2001:db8:4: | head -n 1)
for j in $(seq "$N_LT"); do
	[ "$(lt_addr "$j")" != "$ltJ" ] || continue
	stored_by "$ihJ" "$(lt_addr "$j")" >/dev/null && continue
	kill_list="$kill_list $(lt_addr "$j")"
	break
done
for i in $(seq "$N_OURS" -1 1); do
	[ "$(echo "$kill_list" | wc -w)" -ge "$want_kill" ] && break
	a=$(ours_addr "$i")
	case " $kill_list " in *" $a "*) continue ;; esac
	kill_list="$kill_list $a"
done
killed=0
for a in $kill_list; do
	kill -KILL "${PID_OF[$a]}" 2>/dev/null && killed=$((killed + 1))
done
log "killed $killed of $total nodes ($(echo "$kill_list" | tr ' ' '\n' | grep -c '^2001:db8:4:') libtorrent)"
[ "$killed" -ge "$want_kill" ] || fail "killed only $killed (want $want_kill)"

for i in $(seq "$N_OURS"); do
	alive=$(ours_addr "$i")
	case " $kill_list " in *" $alive "*) continue ;; esac
	break
done
"${NSX[@]}" "$NODE" -l "$(cli_addr 4)" -p 6881 -b "[$ltJ]:6881,[$alive]:6881" \
	"${collect_args[@]}" --timeout-ms 120000 >"$W/collect2.out" 2>"$W/collect2.err" &
pid_c=$!
PIDS+=("$pid_c")
wait $pid_c || { cat "$W/collect2.out" "$W/collect2.err"; fail "collect after kills failed"; }
$PY "$LAB" check --chunks "$W/chunks" --out "$W/collect2.out" --lt "$lt_list" \
	--lt-only "$J" >"$W/check2" || { cat "$W/check2"; fail "collection after 30 % killed"; }
cat "$W/check2"
[ "$(awk '/^message/ {print $2}' "$W/check2")" = "$msg" ] || fail "collected message differs"
log "after killing $killed of $total nodes: message complete; chunk $J from libtorrent nodes only"
echo "PASS"
