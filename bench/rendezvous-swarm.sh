#!/bin/bash
# bench/rendezvous-swarm.sh KIND: one row of bench/rendezvous.sh part 4, the
# rendezvous and the real daemons over one kind of 8-node swarm
# (tests/netns/sessions-lib.sh sess_foreign_swarm_start: libtorrent,
# libtorrent-strict, transmission, mixed, or mt6d: our own nodes), one node
# per lab host, no other DHT node anywhere:
#   - `mt6d rendezvous put` of a 230-byte message, then GETS (default 5)
#     `get`s of it from another host (wall time of each process, fork to
#     exit: sessions-lib.sh in_ns_timed; 20 s at most);
#   - mt6d-server and two mt6d-clients started together: each client's time
#     from the server's start to its session;
#   - once the server's publication is complete, FRESH (default 10)
#     mt6d-clients started one after the other (each stopped once up):
#     time from its start to its session (60 s at most);
#   - from a capture of all our hosts sent to the swarm: the most messages
#     one source address sent one node in any 10 s, the most bytes one node
#     got from us in any 1 s.
#   - the channel: KIND/items or KIND/peers sets RendezvousChannel (and
#     `--channel`) to that channel alone; KIND alone: both (the default);
#     the datagrams and bytes our hosts sent to the swarm, and the server's
#     CPU time, are then that channel's.
#   - RDV_SWARM_ONLY_RDV=1: the rendezvous part alone (no daemons, no fresh
#     clients), its capture's rates included; for iterating on put/get.
# Prints key=value lines (bench/rendezvous.sh makes the row and verdicts).
# Root; cleans up its lab and work directory (sessions-lib.sh).
set -u
ROW=${1:?usage: $0 KIND[/CHANNEL]}
KIND=${ROW%%/*}
CHANNEL=both
[ "$ROW" = "$KIND" ] || CHANNEL=${ROW#*/}
case $CHANNEL in both | items | peers) ;; *) echo "unknown channel '$CHANNEL'" >&2; exit 2 ;; esac
FRESH=${FRESH:-10}
GETS=${GETS:-5}
export LAB_DHT=8 LAB_CLIENTS=$((2 + FRESH))
SWARM_KIND=$KIND
SESS_LAB=rsw$$
SESS_WORK=mt6d-rdv-swarm
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/../tests/netns/sessions-lib.sh"
SESS_ROT=1s
N=8

kv() { echo "$1=$2"; }
pct() { # p file-of-numbers (nearest rank)
	sort -n "$2" | awk -v p="$1" '{v[NR] = $1} END {i = int(p / 100 * NR + 0.999); if (i < 1) i = 1; print v[i]}'
}

sess_lab_up
sess_swarm_start $N 1800
sess_dht_configs
for f in "$work/s/server.conf" "$work"/c*/client.conf; do
	sed -i "0,/^StateDirectory/s||RendezvousChannel = $CHANNEL\n&|" "$f"
done
kv channel "$CHANNEL"
t=$(now_ms)
wait_for 60 sess_foreign_joined $N "$KIND" || { kv error "the swarm did not form in 60 s"; exit 1; }
kv join_ms $(($(now_ms) - t))
BOOT=${DHT_BOOT// /}
sess_capture_start

# The rendezvous alone.
umask 077
"$build/mt6d" genkey >"$work/a.key"
"$build/mt6d" genkey >"$work/r.key"
APUB=$("$build/mt6d" pubkey <"$work/a.key")
RPUB=$("$build/mt6d" pubkey <"$work/r.key")
msg=$(head -c 115 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The put takes about 90 s and the gets follow, all in one window: the
# libtorrent/both row of 2026-12-07 21:01 lost 4 of 5 gets (each refused
# in 0.4 s) when its put began 10 s before a boundary.
rdv_window_room 180
t=$(now_ms)
in_ns c1 "$build/mt6d" rendezvous put --channel "$CHANNEL" --key "$work/a.key" --to "$RPUB" -b "$BOOT" \
	"$msg" >"$work/put.out" 2>&1
kv put_rc $?
kv put_ms $(($(now_ms) - t))
ok=0
get_error=none
: >"$work/get_ms"
for _ in $(seq "$GETS"); do
	rm -f "$work/get.ms"
	out=$(in_ns_timed c2 "$work/get.ms" "$build/mt6d" rendezvous get --channel "$CHANNEL" --key "$work/r.key" \
		--from "$APUB" -b "$BOOT" -t 20s 2>"$work/get.err")
	cat "$work/get.ms" >>"$work/get_ms" 2>/dev/null || echo 20000 >>"$work/get_ms"
	if [ "$out" = "$msg" ]; then
		ok=$((ok + 1))
	else # what the last failed get said, for the report
		get_error=$(tr '\t\n' '  ' <"$work/get.err" | cut -c1-300)
		[ -n "$out" ] && get_error="$get_error (printed ${#out} characters, not the message)"
	fi
done
kv gets "$GETS"
kv gets_ok $ok
kv get_error "$get_error"
kv get_p50 "$(pct 50 "$work/get_ms")"
kv get_all "$(paste -sd, "$work/get_ms")"

# RDV_SWARM_ONLY_RDV=1: the rendezvous alone (no daemons), for iterating.
if [ "${RDV_SWARM_ONLY_RDV:-0}" = 1 ]; then
	sess_rates 2001:db8:0:1:,2001:db8:1:
	kv datagrams "$(rate datagrams)"
	kv max_msgs_10s "$(rate max_msgs_10s)"
	kv max_bytes_1s "$(rate max_bytes_1s)"
	exit 0
fi

# The daemons: a fresh server and its first two clients.
t0=$(now_ms)
dht_server_start >&2
dht_client_start 1
dht_client_start 2
kv first1_ms "$(session_ms 1 "$t0" 240 || echo none)"
kv first2_ms "$(session_ms 2 "$t0" $((240 - ($(now_ms) - t0) / 1000)) || echo none)"
t=$(now_ms)
wait_for 240 sess_published || kv error "publication not complete in 240 s"
kv published_ms $(($(now_ms) - t0))

# Fresh clients, one after the other; a client that had none in 60 s
# counts as 60,000 ms.
ok=0
: >"$work/fresh_ms"
for i in $(seq 3 $((FRESH + 2))); do
	t=$(now_ms)
	dht_client_start "$i"
	if ms=$(session_ms "$i" "$t" 60); then ok=$((ok + 1)); else ms=60000; fi
	echo "$ms" >>"$work/fresh_ms"
	stop "c$i"
done
kv fresh "$FRESH"
kv fresh_ok $ok
kv fresh_p50 "$(pct 50 "$work/fresh_ms")"
kv fresh_p95 "$(pct 95 "$work/fresh_ms")"
kv fresh_all "$(paste -sd, "$work/fresh_ms")"

# The server's CPU over its whole life so far (publication, sessions).
kv server_cpu_s "$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/${PID[s]}/stat")"
sess_rates 2001:db8:0:1:,2001:db8:1:
kv datagrams "$(rate datagrams)"
kv bytes "$(rate bytes)"
kv max_msgs_10s "$(rate max_msgs_10s)"
kv max_bytes_1s "$(rate max_bytes_1s)"
