#!/bin/bash
# bench/rendezvous: the blind rendezvous (issue 6), three measurements.
#
#  1. Server cost of one full publication round (bench_rendezvous, a swarm of
#     100 of our nodes simulated in one process, virtual time): CPU time,
#     datagrams and bytes for 1,000 and 15,000 clients.
#  2. A fresh client's time from start to opened config in a 100-node lab
#     swarm (one network namespace, every node on its own /64 of
#     2001:db8::/32): `mt6d rendezvous fetch` started TRIALS times (default
#     50), each a new process with a new DHT node, for a different client.
#  3. A small swarm of libtorrent nodes only (LT_NODES, default 10) and a
#     publisher with ONE source address: how many clients it publishes per
#     second without tripping libtorrent's 50-messages-per-10-s ban.
#  4. One 8-node swarm per kind (RDV_SWARM_KINDS, default: mt6d libtorrent
#     libtorrent-strict transmission mixed; all but mt6d foreign-only, no
#     node of ours), the real daemons over it (bench/rendezvous-swarm.sh):
#     a 230-byte put and its gets, a fresh server's first sessions, and
#     FRESH (default 10) clients started after its publication is complete,
#     with verdicts against issue 15's targets (get median < 1 s, first
#     sessions <= 30 s, fresh client p95 <= 5 s, < 50 messages per 10 s from
#     one source to one node, <= 8,000 B/s to one node). A kind/channel row
#     (mixed/items, mixed/peers) runs the daemons and the tool on that
#     channel alone: its datagrams, bytes and server CPU are the channel's.
#  5. The 15,000-client round (bench_round): RDV_ROUND_NODES (default 10000)
#     simulated foreign nodes, libtorrent-like and jech-like with their
#     limits (tests/simdht.h), RDV_ROUND_CLIENTS (15000) clients, a fresh
#     server's catch-up round, then 200 sampled fetches; verdicts: round
#     inside the window, >= 99 % of fetches open the current config, at most
#     300 datagrams per client, 0 limits tripped; one row per channel of
#     RDV_ROUND_CHANNELS (default "stuffing items": port stuffing, BEP 44
#     mutable items). Runs without root.
#
# Output: tables on stdout, and every figure in $BENCH_OUT/rendezvous.tsv
# (bench/results.sh), from which scripts/perf-report.py writes the section
# "rendezvous" of docs/PERFORMANCE.md.
# RDV_BENCH_SKIP_SIM=1 / _LAB=1 / _LT=1 / _SWARMS=1 / _ROUND=1 skip a part; RDV_SIM_CLIENTS (default
# "1000 15000") sets the sizes of part 1. Needs root for 2 and 3.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${MT6D_BUILD:-$TOP/build}
MT6D=$B/mt6d
NODE=$B/mt6d-dhtnode
BENCH=$B/bench/bench_rendezvous
ROUND=$B/bench/bench_round
ROUND_NODES=${RDV_ROUND_NODES:-10000}
ROUND_CLIENTS=${RDV_ROUND_CLIENTS:-15000}
ROUND_CHANNELS=${RDV_ROUND_CHANNELS:-stuffing items}
PY=/usr/bin/python3
DHTLAB=$TOP/tests/netns/dht_lab.py
TRIALS=${TRIALS:-50}
N_SWARM=${N_SWARM:-100}
LT_NODES=${LT_NODES:-10}
LT_CLIENTS=${LT_CLIENTS:-10}
NS=rdvb$$
SIM_CLIENTS=${RDV_SIM_CLIENTS:-1000 15000}
SWARM_KINDS=${RDV_SWARM_KINDS:-mt6d libtorrent libtorrent-strict transmission mixed mixed/items mixed/peers}
FRESH=${FRESH:-10}
W=$(mktemp -d /tmp/mt6d-rdv-bench.XXXXXX)
# shellcheck source=bench/results.sh
. "$TOP/bench/results.sh" rendezvous
result param trials="$TRIALS" swarm="$N_SWARM" lt_nodes="$LT_NODES" lt_clients="$LT_CLIENTS" \
	swarm_kinds="$SWARM_KINDS" fresh="$FRESH"

# shellcheck source=tests/lib.sh
. "$TOP/tests/lib.sh"
at_exit 'ns_purge "$NS"; rm -rf "$W"'
die() { echo "bench/rendezvous: $*" >&2; exit 1; }
X() { ip netns exec "$NS" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

pct() { # p file-of-numbers
	sort -n "$2" | awk -v p="$1" '{v[NR] = $1} END {i = int(p / 100 * NR + 0.999); if (i < 1) i = 1; print v[i]}'
}

# --- 1. the server's round, simulated ---------------------------------------
if [ "${RDV_BENCH_SKIP_SIM:-0}" != 1 ]; then
	[ -x "$BENCH" ] || die "build $BENCH first (make benches)"
	echo "## 1. One publication round, 100 of our nodes simulated, 48 source addresses (read-only: they store nothing)"
	echo
	echo "| clients | round (virtual s) | publisher CPU s | datagrams | MB sent | per client: datagrams, kB | announces acked | stored / refused by the swarm | busiest node: datagrams/s from us |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for c in $SIM_CLIENTS; do
		"$BENCH" "$c" 100 48 >"$W/sim$c" || die "bench_rendezvous $c"
		# shellcheck disable=SC2046
		result sim $(awk 'NF == 2 {print $1 "=" $2}' "$W/sim$c")
		g() { awk -v k="$1" '$1 == k {print $2}' "$W/sim$c"; }
		printf '| %s | %s%s | %s | %s | %.1f | %s, %.1f | %s | %s / %s | %s |\n' "$c" "$(g round_virtual_s)" \
			"$([ "$(g round_done)" = 1 ] || echo ' (not done)')" "$(g pub_cpu_s)" "$(g pub_datagrams)" \
			"$(echo "$(g pub_bytes) / 1000000" | bc -l)" "$(g per_client_datagrams)" \
			"$(echo "$(g per_client_bytes) / 1000" | bc -l)" "$(g announces_acked)" \
			"$(g swarm_stored_peers)" "$(g swarm_store_refused)" "$(g busiest_node_rate_per_s)"
	done
	echo
fi

# --- 5. the 15,000-client round in a simulated foreign swarm ----------------
# (before parts 2 and 3, which need root; this one does not)
if [ "${RDV_BENCH_SKIP_ROUND:-0}" != 1 ]; then
	[ -x "$ROUND" ] || die "build $ROUND first (make benches)"
	hdr=0
	round_met=
	for ch in $ROUND_CHANNELS; do
		"$ROUND" -C "$ch" -n "$ROUND_NODES" -c "$ROUND_CLIENTS" >"$W/round-$ch" || die "bench_round -C $ch"
		g() { awk -v k="$1" '$1 == k {print $2}' "$W/round-$ch"; }
		# Verdicts, every one from the run.
		if [ "$(g window_done)" = 1 ]; then
			v_win="met ($(g round_s) s of $(g window_s))"
		else
			v_win="missed (not done in $(g window_s) s: $(g publications) of $ROUND_CLIENTS)"
		fi
		v_fetch=$(awk -v o="$(g opened)" -v s="$(g samples)" 'BEGIN {
			p = s ? 100 * o / s : 0
			printf "%s (%d of %d, %.1f %%)", (s && p >= 99) ? "met" : "missed", o, s, p }')
		# The channel's floor (its stores alone) says whether any
		# scheduling could meet the target on that channel.
		v_dg=$(awk -v d="$(g per_client_datagrams)" -v f="$(g floor_datagrams)" 'BEGIN {
			printf "%s (%.0f; floor %d%s)", (d <= 300 ? "met" : "missed"), d, f,
				(f > 300 ? ", above the target" : "") }')
		if [ "$(g trips)" = 0 ]; then
			v_trips="met (0)"
		else
			v_trips="missed ($(g trips): bans $(g lt_bans), lt budget $(g lt_budget_drops), jech budget $(g jech_budget_drops), overflows $(g jech_overflows))"
		fi
		if [ $hdr = 0 ]; then
			hdr=1
			echo "## 5. The $ROUND_CLIENTS-client round: $ROUND_NODES simulated foreign nodes ($(g jech_share) jech-like, $(g dead_share) dead), $(g sources) source addresses"
			echo
			echo "| channel | round inside the window | fetches opened (>= 99 %) | datagrams per client (<= 300) | limits tripped (0) | kB per client | busiest node from us: msgs/10 s per source, queries/s, reply B/s | publisher CPU s | census: clients stored | sim CPU s, RSS MB |"
			echo "|---|---|---|---|---|---|---|---|---|---|"
		fi
		printf '| %s | %s | %s | %s | %s | %.1f | %s, %s, %s | %s | %s | %s, %.0f |\n' "$ch" "$v_win" "$v_fetch" "$v_dg" "$v_trips" \
			"$(echo "$(g per_client_bytes) / 1000" | bc -l)" "$(g peak_src_count_10s)" "$(g peak_node_qps)" "$(g peak_node_out_bps)" \
			"$(g pub_cpu_s)" "$(g clients_stored)" "$(g sim_cpu_s)" "$(echo "$(g max_rss_kb) / 1024" | bc -l)"
		# shellcheck disable=SC2046
		result round verdict_window="$v_win" verdict_fetch="$v_fetch" verdict_datagrams="$v_dg" \
			verdict_trips="$v_trips" $(awk 'NF == 2 {print $1 "=" $2}' "$W/round-$ch")
		case "$v_win$v_fetch$v_dg$v_trips" in *missed*) ;; *) round_met="${round_met:+$round_met, }$ch" ;; esac
	done
	echo
	echo "The round's targets (inside the window, >= 99 % opened, <= 300 datagrams per client, no limit tripped), all on one channel: ${round_met:+met by }${round_met:-missed on every channel}"
	echo
fi

[ "$(id -u)" -eq 0 ] || { echo "(parts 2 and 3 need root)"; exit 0; }
[ -x "$MT6D" ] && [ -x "$NODE" ] || die "build $MT6D and $NODE first"

ip netns add "$NS" || die "ip netns add"
ip -n "$NS" link set lo up
ip -n "$NS" link add va type veth peer name vb || die veth
ip -n "$NS" link set va up
ip -n "$NS" link set vb up
ip -n "$NS" -6 route add default dev va || die route
ours() { echo "2001:db8:2:$1::2"; }
lt() { echo "2001:db8:4:$1::2"; }
pubaddr() { printf '2001:db8:0:1::1%02x\n' "$1"; }
cli() { echo "2001:db8:1:$1::2"; }
{
	for i in $(seq "$N_SWARM"); do echo "addr add $(ours "$i")/64 dev va nodad"; done
	for j in $(seq "$LT_NODES"); do echo "addr add $(lt "$j")/64 dev va nodad"; done
	for k in $(seq 0 63); do echo "addr add $(pubaddr "$k")/64 dev va nodad"; done
	for k in $(seq "$TRIALS"); do echo "addr add $(cli "$k")/64 dev va nodad"; done
} | ip -n "$NS" -6 -batch - || die "addresses"

umask 077
"$MT6D" genkey >"$W/server.key"
"$MT6D" pubkey <"$W/server.key" >"$W/server.pub"
for i in $(seq "$(( TRIALS > LT_CLIENTS ? TRIALS : LT_CLIENTS ))"); do
	"$MT6D" genkey >"$W/c$i.key"
	"$MT6D" pubkey <"$W/c$i.key" >"$W/c$i.pub"
done

# --- 2. fresh clients in a 100-node swarm -----------------------------------
if [ "${RDV_BENCH_SKIP_LAB:-0}" != 1 ]; then
	for i in $(seq "$N_SWARM"); do
		boot="[$(ours 1)]:6881"
		[ "$i" -eq 1 ] && boot=none
		[ "$i" -gt 2 ] && boot="$boot,[$(ours $((i / 2)))]:6881"
		X "$NODE" -l "$(ours "$i")" -p 6881 -b "$boot" >"$W/o$i.log" 2>&1 &
	done
	sleep 20
	for i in $(seq "$TRIALS"); do cat "$W/c$i.pub"; done >"$W/clients"
	BOOT="[$(ours 7)]:6881,[$(ours 33)]:6881,[$(ours 71)]:6881"
	PUBL=$(for k in $(seq 0 $((TRIALS - 1))); do pubaddr "$k"; done | paste -sd,)
	X "$MT6D" rendezvous publish --key "$W/server.key" --clients "$W/clients" -l "$PUBL" -p 6881 \
		-b "$BOOT" -v >"$W/pub.log" 2>&1 &
	PUBPID=$!
	t0=$(date +%s)
	until grep -q '^published window' "$W/pub.log"; do
		kill -0 $PUBPID 2>/dev/null || die "publisher exited: $(tail -n 3 "$W/pub.log")"
		[ $(( $(date +%s) - t0 )) -lt 300 ] || die "not published in 300 s"
		sleep 1
	done
	pub_s=$(( $(date +%s) - t0 ))
	result lab_publish clients="$TRIALS" sources="$TRIALS" seconds="$pub_s"
	echo "## 2. Fresh client, start to opened config, $N_SWARM-node lab swarm of ours"
	echo
	echo "Publisher: $TRIALS clients from $TRIALS source addresses, catch-up round out in ${pub_s} s."
	echo "Each trial is a new process with a new DHT node (new id), for another client."
	echo
	echo "| trials, client address | opened | process wall ms: median, p95 | fetch (from its DHT node's start) ms: median, p95 | queries: median |"
	echo "|---|---|---|---|---|"
	# "same": every trial on one address and port, so the node a trial
	# leaves behind in routing tables is answered by the next one; "new":
	# a new address per trial, so departed nodes pile up (as in the public
	# DHT) and lookups wait out their timeouts.
	for mode in same new; do
		: >"$W/wall"; : >"$W/inner"; : >"$W/queries"; ok=0
		for i in $(seq "$TRIALS"); do
			# (One trial a second from one address: our nodes answer a
			# source at most 10 queries/s, burst 40.)
			if [ $mode = same ]; then a=$(cli 1); p=7000; sleep 1; else a=$(cli "$i"); p=0; fi
			s=$(now_ms)
			X "$MT6D" rendezvous fetch --key "$W/c$i.key" --server "$(cat "$W/server.pub")" -b "$BOOT" \
				-l "$a" -p $p >/dev/null 2>"$W/f.err"
			rc=$?
			e=$(now_ms)
			[ $rc -eq 0 ] && ok=$((ok + 1))
			echo $((e - s)) >>"$W/wall"
			[ $rc -eq 0 ] || echo "trial $i ($mode): exit $rc: $(tail -n 1 "$W/f.err")" >&2
			sed -n 's/.* after \([0-9.]*\) s (\([0-9]*\) queries.*/\1 \2/p' "$W/f.err" >"$W/f.parsed"
			awk '{print $1 * 1000}' "$W/f.parsed" >>"$W/inner"
			awk '{print $2}' "$W/f.parsed" >>"$W/queries"
		done
		echo "| $TRIALS, $mode | $ok | $(pct 50 "$W/wall"), $(pct 95 "$W/wall") | $(pct 50 "$W/inner"), $(pct 95 "$W/inner") | $(pct 50 "$W/queries") |"
		result fetch mode="$mode" trials="$TRIALS" opened="$ok" wall_p50="$(pct 50 "$W/wall")" wall_p95="$(pct 95 "$W/wall")" \
			fetch_p50="$(pct 50 "$W/inner")" fetch_p95="$(pct 95 "$W/inner")" queries_p50="$(pct 50 "$W/queries")"
	done
	echo
	kill $PUBPID 2>/dev/null
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	sleep 1
fi

# --- 3. libtorrent nodes only, one source address ------------------------------
if [ "${RDV_BENCH_SKIP_LT:-0}" != 1 ]; then
	$PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent missing"
	for j in $(seq "$LT_NODES"); do
		boot="[$(lt 1)]:6881,[$(lt $((j % LT_NODES + 1)))]:6881"
		X $PY "$DHTLAB" lt-node --addr "$(lt "$j")" --boot "$boot" --out "$W/lt$j.state" --max-s 900 \
			>"$W/lt$j.log" 2>&1 &
	done
	sleep 25
	for i in $(seq "$LT_CLIENTS"); do cat "$W/c$i.pub"; done >"$W/ltclients"
	LTBOOT="[$(lt 1)]:6881,[$(lt 2)]:6881,[$(lt 3)]:6881"
	t0=$(now_ms)
	X "$MT6D" rendezvous publish --key "$W/server.key" --clients "$W/ltclients" -l "$(pubaddr 63)" -p 6881 \
		-b "$LTBOOT" -v >"$W/ltpub.log" 2>&1 &
	PUBPID=$!
	until grep -q '^published window' "$W/ltpub.log"; do
		kill -0 $PUBPID 2>/dev/null || die "publisher exited"
		[ $(( $(now_ms) - t0 )) -lt 600000 ] || break
		sleep 1
	done
	t1=$(now_ms)
	last=$(grep '^publish: clients' "$W/ltpub.log" | tail -n 1)
	okf=0
	for i in 1 2 3 4 5; do
		if X "$MT6D" rendezvous fetch --key "$W/c$i.key" --server "$(cat "$W/server.pub")" -b "$LTBOOT" \
			-l "$(cli "$i")" >/dev/null 2>"$W/lt-f.err"; then
			okf=$((okf + 1))
		else
			echo "libtorrent-only fetch $i: $(tail -n 1 "$W/lt-f.err")" >&2
		fi
	done
	secs=$(echo "($t1 - $t0) / 1000" | bc -l)
	echo "## 3. $LT_NODES libtorrent nodes only, publisher on one source address"
	echo
	echo "| clients | round s | clients/s | fetches opened (of 5) | publisher status at the end |"
	echo "|---|---|---|---|---|"
	printf '| %s | %.1f | %.2f | %s | %s |\n' "$LT_CLIENTS" "$secs" "$(echo "$LT_CLIENTS / $secs" | bc -l)" "$okf" "${last#publish: }"
	result lt nodes="$LT_NODES" clients="$LT_CLIENTS" seconds="$(printf '%.1f' "$secs")" fetches_opened="$okf" \
		fetches=5 published="$(grep -q '^published window' "$W/ltpub.log" && echo 1 || echo 0)" status="${last#publish: }"
	echo
	kill $PUBPID 2>/dev/null
fi

# --- 4. 8-node swarms of one kind each, foreign-only next to ours ------------
if [ "${RDV_BENCH_SKIP_SWARMS:-0}" != 1 ]; then
	verdict() { # value op limit: "met" or "missed"
		if [ "$1" != none ] && [ -n "$1" ] && test "$1" "$2" "$3"; then echo met; else echo missed; fi
	}
	echo "## 4. 8-node swarms: ours (mt6d-dhtnode) and foreign-only, the real daemons over them"
	echo
	echo "Targets (issue 15): get median < 1 s; a fresh server's first clients <= 30 s; a client started"
	echo "after the publication <= 5 s (p95 over $FRESH starts); < 50 messages in 10 s from one source"
	echo "address to one node; <= 8,000 B in 1 s to one node."
	echo
	echo "| swarm/channel | 230-byte put: exit, s | gets opened, median ms | first sessions ms (server start) | fresh clients: up, median, p95 ms | busiest pair msgs/10 s, node B/1 s | sent to the swarm: datagrams, kB; server CPU s | verdicts: get, first, fresh, rate |"
	echo "|---|---|---|---|---|---|---|---|"
	for kind in $SWARM_KINDS; do
		sw=$W/sw-${kind//\//-}
		bash "$TOP/bench/rendezvous-swarm.sh" "$kind" >"$sw" 2>"$sw.err" ||
			echo "swarm $kind: $(grep '^error=' "$sw" | tail -n 1) $(tail -n 2 "$sw.err")" >&2
		g() { sed -n "s/^$1=//p" "$sw" | tail -n 1; }
		first=none
		if [ "$(g first1_ms)" != none ] && [ "$(g first2_ms)" != none ] && [ -n "$(g first2_ms)" ]; then
			first=$(( $(g first1_ms) > $(g first2_ms) ? $(g first1_ms) : $(g first2_ms) ))
		fi
		v_get=$( [ "$(g gets_ok)" = "$(g gets)" ] && verdict "$(g get_p50)" -lt 1000 || echo missed)
		v_first=$(verdict "$first" -le 30000)
		v_fresh=$( [ "$(g fresh_ok)" = "$(g fresh)" ] && verdict "$(g fresh_p95)" -le 5000 || echo missed)
		v_rate=$( [ "$(verdict "$(g max_msgs_10s)" -lt 50)" = met ] && verdict "$(g max_bytes_1s)" -le 8000 || echo missed)
		printf '| %s/%s | %s, %.1f | %s/%s, %s | %s, %s | %s/%s, %s, %s | %s, %s | %s, %.1f; %s | %s, %s, %s, %s |\n' \
			"${kind%%/*}" "$(g channel)" \
			"$(g put_rc)" "$(awk -v ms="$(g put_ms)" 'BEGIN {print ms / 1000}')" \
			"$(g gets_ok)" "$(g gets)" "$(g get_p50)" "$(g first1_ms)" "$(g first2_ms)" \
			"$(g fresh_ok)" "$(g fresh)" "$(g fresh_p50)" "$(g fresh_p95)" "$(g max_msgs_10s)" "$(g max_bytes_1s)" \
			"$(g datagrams)" "$(awk -v b="$(g bytes)" 'BEGIN {print b / 1000}')" "$(g server_cpu_s)" \
			"$v_get" "$v_first" "$v_fresh" "$v_rate"
		# shellcheck disable=SC2046 # key=value words
		result swarm kind="$kind" $(grep -E '^[a-z0-9_]+=' "$sw" | tr '\n' ' ') \
			verdict_get="$v_get" verdict_first="$v_first" verdict_fresh="$v_fresh" verdict_rate="$v_rate"
	done
	echo
fi
