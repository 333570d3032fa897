#!/bin/bash
# bench/dht: our DHT node in a private swarm of 100 nodes (90 mt6d-dhtnode +
# 10 libtorrent), one network namespace, every node on its own /64 of
# 2001:db8::/32. Measures, for ours and, in the same run, for libtorrent's
# own DHT client as the baseline:
#   - lookup latency: 100 sequential get_peers lookups of random info_hashes
#     (median, p95) and messages per lookup;
#   - publication of a 100-byte port-stuffed message (5 chunks of 20 ports,
#     each under its own info_hash; fewer than 25 per chunk, so that a single
#     libtorrent reply shows a chunk complete): time and messages sent;
#   - collection: 100 trials (all 5 chunks at once), success = every chunk
#     exactly; time and messages per trial; then again with 30 % of all nodes
#     killed.
# The publication baseline is one announce per port (each its own lookup),
# as a client announcing ports one by one would do, run by our node (the
# Python bindings of libtorrent 2.0.8 cannot call dht_announce).
# Prints a table (markdown) with ratios ours/baseline, and writes every
# figure to $BENCH_OUT/dht.tsv (bench/results.sh). Root; ~25 minutes.
#
#   DHT_BENCH_OURS=90 DHT_BENCH_LT=10 DHT_BENCH_TRIALS=100
#   DHT_BENCH_LT_TRIALS=20 (libtorrent's collection trials are slower)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 1
B=${MT6D_BUILD:-$(pwd)/build}
NODE=$B/mt6d-dhtnode
PY=/usr/bin/python3
LAB=$(pwd)/tests/netns/dht_lab.py
N_OURS=${DHT_BENCH_OURS:-90}
N_LT=${DHT_BENCH_LT:-10}
TRIALS=${DHT_BENCH_TRIALS:-100}
LT_TRIALS=${DHT_BENCH_LT_TRIALS:-20}
NS=mt6dbdht$$
W=$(mktemp -d /tmp/mt6d-bench-dht.XXXXXX)
PIDS=()
T0=$(date +%s)
# shellcheck source=bench/results.sh
. bench/results.sh dht

log() { echo "[$(($(date +%s) - T0))s] $*" >&2; }
die() {
	echo "bench/dht: $*" >&2
	exit 1
}
# shellcheck source=tests/lib.sh
. tests/lib.sh
at_exit 'stop_pids "${PIDS[@]}"; ns_purge "$NS"; [ "${DHT_BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"'

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
[ -x "$NODE" ] || die "no $NODE (make first)"
$PY -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent missing"

ours_addr() { echo "2001:db8:2:$1::2"; }
lt_addr() { echo "2001:db8:4:$1::2"; }
cli_addr() { echo "2001:db8:3:$1::2"; }
NSX=(ip netns exec "$NS")

ip netns add "$NS" || die "ip netns add"
ip -n "$NS" link set lo up
ip -n "$NS" link add va type veth peer name vb || die veth
ip -n "$NS" link set va up
ip -n "$NS" link set vb up
{
	for i in $(seq "$N_OURS"); do echo "addr add $(ours_addr "$i")/64 dev va nodad"; done
	for j in $(seq "$N_LT"); do echo "addr add $(lt_addr "$j")/64 dev va nodad"; done
	for k in $(seq 8); do echo "addr add $(cli_addr "$k")/64 dev va nodad"; done
} | ip -n "$NS" -6 -batch - || die "adding addresses"
ip -n "$NS" -6 route add default dev va || die "default route"

declare -A PID_OF
for j in $(seq "$N_LT"); do
	boot="[$(ours_addr $((j % N_OURS + 1)))]:6881,[$(ours_addr $(((j * 7) % N_OURS + 1)))]:6881"
	"${NSX[@]}" $PY "$LAB" lt-node --addr "$(lt_addr "$j")" --boot "$boot" \
		--out "$W/lt$j.state" --max-s 3600 >"$W/lt$j.log" 2>&1 &
	PIDS+=($!)
	PID_OF[$(lt_addr "$j")]=$!
done
for i in $(seq "$N_OURS"); do
	boot="[$(lt_addr $((i % N_LT + 1)))]:6881"
	[ "$i" -gt 1 ] && boot="$boot,[$(ours_addr $(((i * 13) % (i - 1) + 1)))]:6881"
	"${NSX[@]}" "$NODE" -l "$(ours_addr "$i")" -p 6881 -b "$boot" >"$W/o$i.log" 2>&1 &
	PIDS+=($!)
	PID_OF[$(ours_addr "$i")]=$!
done
log "started $N_OURS of ours and $N_LT libtorrent nodes"
for _ in $(seq 90); do
	sleep 1
	ok=1
	for j in $(seq "$N_LT"); do
		e=$(awk '/^ext/ {print $2}' "$W/lt$j.state" 2>/dev/null)
		n=$(awk '/^nodes/ {print $2}' "$W/lt$j.state" 2>/dev/null)
		[ "${e:--1}" -ge 3 ] && [ "${n:-0}" -ge 8 ] || ok=0
	done
	[ $ok = 1 ] && break
done
[ "$ok" = 1 ] || die "libtorrent nodes did not join"
# Let the tables settle (our nodes refresh their buckets after joining).
sleep 15
log "joined"

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# Two messages of 100 bytes, 5 chunks of 20 each, under random info_hashes:
# one for ours, one for libtorrent's baseline (so neither sees the other's).
msg=$(rand_hex 100)
# shellcheck disable=SC2046
$PY "$LAB" chunks "$msg" 20 $(for _ in 1 2 3 4 5; do rand_hex 20; echo; done) >"$W/chunks"
# shellcheck disable=SC2046
$PY "$LAB" chunks "$(rand_hex 100)" 20 $(for _ in 1 2 3 4 5; do rand_hex 20; echo; done) >"$W/chunks.lt"
announce_args=() collect_args=() lt_want=() naive_args=()
while IFS=: read -r ih ports; do
	announce_args+=(--announce "$ih:$ports")
	collect_args+=(--collect "$ih")
	lt_want+=(--want "$ih:$ports")
done <"$W/chunks"
while IFS=: read -r ih ports; do
	for p in ${ports//,/ }; do naive_args+=(--announce "$ih:$p"); done
done <"$W/chunks.lt"
lookup_args=()
for _ in $(seq 100); do lookup_args+=(--get-peers "$(rand_hex 20)"); done

client() { # n out args... (BOOT= overrides the bootstrap nodes)
	local n=$1 out=$2
	shift 2
	"${NSX[@]}" "$NODE" -l "$(cli_addr "$n")" -p 6881 \
		-b "${BOOT:-[$(ours_addr $((n * 11 % N_OURS + 1)))]:6881,[$(lt_addr $((n % N_LT + 1)))]:6881}" \
		--wait-ms 3000 "$@" >"$out" 2>"$out.err" &
	PIDS+=($!)
	wait $!
}

# Ours: lookups, publication, collection.
client 1 "$W/lookups.out" "${lookup_args[@]}" --sequential --timeout-ms 300000
log "ours: lookups $($PY "$LAB" ops get_peers "$W/lookups.out")"
client 2 "$W/announce.out" "${announce_args[@]}" --timeout-ms 120000 ||
	die "announce failed: $(cat "$W/announce.out" "$W/announce.out.err")"
log "ours: publication $($PY "$LAB" ops announce "$W/announce.out")"
# Baseline: the same 100 ports, one announce (lookup + 8 announces) each,
# one after the other, under the other message's info_hashes.
t=$(date +%s%N)
client 6 "$W/naive.out" "${naive_args[@]}" --sequential --timeout-ms 900000
echo $((($(date +%s%N) - t) / 1000000)) >"$W/naive.ms"
log "one port per announce: $($PY "$LAB" ops announce "$W/naive.out"), $(cat "$W/naive.ms") ms in all"
client 3 "$W/collect.out" "${collect_args[@]}" --rounds "$TRIALS" --timeout-ms 900000
log "ours: collection $($PY "$LAB" rounds --chunks "$W/chunks" --out "$W/collect.out")"

# libtorrent's baseline, same swarm, same sizes.
"${NSX[@]}" $PY "$LAB" lt-bench --addr "$(cli_addr 4)" \
	--boot "[$(ours_addr 4)]:6881,[$(lt_addr 4)]:6881" "${lt_want[@]}" \
	--lookups 100 --trials "$LT_TRIALS" --max-rounds 10 --timeout-s 900 >"$W/lt.out" 2>&1 &
PIDS+=($!)
wait $!
log "libtorrent: $(tr '\n' ';' <"$W/lt.out")"

# 30 % of all nodes killed: every third libtorrent node (3, 6, ...), then of
# ours 2, 5, 8, ... and 3, 6, 9, ...; ours 1 and libtorrent 1 stay up and
# bootstrap the collector.
total=$((N_OURS + N_LT))
want_kill=$(((total * 3 + 9) / 10))
killed=0
for j in $(seq 3 3 "$N_LT"); do
	kill -KILL "${PID_OF[$(lt_addr "$j")]}" 2>/dev/null && killed=$((killed + 1))
done
for i in $(seq 2 3 "$N_OURS") $(seq 3 3 "$N_OURS"); do
	[ "$killed" -ge "$want_kill" ] && break
	kill -KILL "${PID_OF[$(ours_addr "$i")]}" 2>/dev/null && killed=$((killed + 1))
done
log "killed $killed of $total nodes"
BOOT="[$(ours_addr 1)]:6881,[$(lt_addr 1)]:6881" \
	client 5 "$W/collect-killed.out" "${collect_args[@]}" --rounds "$TRIALS" --timeout-ms 1800000
log "ours, 30 % killed: $($PY "$LAB" rounds --chunks "$W/chunks" --out "$W/collect-killed.out")"

# The table.
$PY - "$W" "$N_OURS" "$N_LT" "$killed" "$RESULTS_FILE" "$TRIALS" "$LT_TRIALS" <<'EOF'
import subprocess, sys
w, n_ours, n_lt, killed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
results, trials, lt_trials = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
lab = sys.argv[0]
def kv(line):
    t = line.split()
    return dict(zip(t[1::2], t[2::2])) | {'_': t[0]}
def run(*a):
    return subprocess.run(['/usr/bin/python3', 'tests/netns/dht_lab.py'] + list(a),
                          capture_output=True, text=True).stdout.strip()
lk = kv(run('ops', 'get_peers', w + '/lookups.out'))
an = kv(run('ops', 'announce', w + '/announce.out'))
na = kv(run('ops', 'announce', w + '/naive.out'))
na_ms = open(w + '/naive.ms').read().strip()
# Our client's own time: from the first operation's start to the last end;
# sequential, so the sum of the operations' times.
na_ops_ms = sum(int(l.split()[l.split().index('ms') + 1]) for l in open(w + '/naive.out')
                if l.startswith('announce '))
co = kv('x ' + run('rounds', '--chunks', w + '/chunks', '--out', w + '/collect.out'))
ck = kv('x ' + run('rounds', '--chunks', w + '/chunks', '--out', w + '/collect-killed.out'))
lt = {}
for line in open(w + '/lt.out'):
    t = line.split()
    if t and t[0].startswith('lt_'):
        lt[t[0]] = dict(zip(t[1::2], t[2::2]))
def f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float('nan')
def ratio(a, b):
    a, b = f(a), f(b)
    return '%.2f' % (a / b) if b == b and b and a == a else '-'
ll, lc = lt.get('lt_lookup_ms', {}), lt.get('lt_collect', {})
rows = [
    ('lookup latency, median (ms)', lk['ms_median'], ll.get('median')),
    ('lookup latency, p95 (ms)', lk['ms_p95'], ll.get('p95')),
    ('messages per lookup', lk['queries_mean'], ll.get('msgs_per_lookup')),
    ('publication of 100 bytes: time (ms)', None, str(na_ops_ms)),
    ('publication of 100 bytes: messages sent', an['queries_sum'], na['queries_sum']),
    ('collection: success rate', '%s/%s' % (co['complete'], co['trials']),
     '%s/%s' % (lc.get('complete', '-'), lc.get('trials', '-'))),
    ('collection: time, median (ms)', co['ms_median'], lc.get('ms_median')),
    ('collection: time, p95 (ms)', co['ms_p95'], lc.get('ms_p95')),
    ('collection: messages per trial', co['msgs_per_trial'], lc.get('msgs_per_trial')),
    ('collection, %d of %d nodes killed: success rate' % (killed, n_ours + n_lt),
     '%s/%s' % (ck['complete'], ck['trials']), '-'),
    ('collection, %d killed: time, median (ms)' % killed, ck['ms_median'], '-'),
    ('collection, %d killed: messages per trial' % killed, ck['msgs_per_trial'], '-'),
]
# Publication time: the slowest of the concurrent announces.
ms = [int(l.split()[l.split().index('ms') + 1]) for l in open(w + '/announce.out')
      if l.startswith('announce ')]
rows[3] = (rows[3][0], str(max(ms)) if ms else '-', rows[3][2])
# Machine-readable: one record per measure, with a stable key.
keys = ['lookup_ms_median', 'lookup_ms_p95', 'lookup_msgs', 'publish_ms', 'publish_msgs',
        'collect_success', 'collect_ms_median', 'collect_ms_p95', 'collect_msgs',
        'killed_success', 'killed_ms_median', 'killed_msgs']
with open(results, 'a') as out:
    out.write('param\tours=%d\tlt=%d\ttrials=%d\tlt_trials=%d\tkilled=%d\ttotal=%d\tlookups=100\n'
              % (n_ours, n_lt, trials, lt_trials, killed, n_ours + n_lt))
    out.write('extra\tkilled_ms_p95=%s\tnaive_wall_ms=%s\n' % (ck.get('ms_p95', '-'), na_ms))
    for k, (name, a, b) in zip(keys, rows):
        out.write('metric\tkey=%s\tours=%s\tbase=%s\n' % (k, a, b if b is not None else '-'))
print('Swarm: %d mt6d-dhtnode + %d libtorrent 2.0.8 nodes, one namespace, '
      'no added delay; message: 100 bytes = 5 chunks of 20 ports.' % (n_ours, n_lt))
print()
print('Baseline: libtorrent 2.0.8 (lookups, collection with dht_get_peers); for the')
print('publication, one announce per port (lookup + 8 announces each), by our node.')
print()
print('| measure | mt6d dht | baseline | ratio |')
print('|---|---:|---:|---:|')
for name, a, b in rows:
    r = ratio(a, b) if '/' not in str(a) else '-'
    print('| %s | %s | %s | %s |' % (name, a, b if b is not None else '-', r))
EOF
