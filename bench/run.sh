#!/bin/bash
# Runs every benchmark (bench/*.sh but this one and results.sh) one after the
# other; each prints its own table and writes its figures to
# $BENCH_OUT/<name>.tsv. This script adds $BENCH_OUT/run.tsv: the machine,
# the commit, the sizes, and each benchmark's wall time and exit status, for
# scripts/perf-report.py (make bench-report) to write docs/PERFORMANCE.md.
#
#   sudo bench/run.sh                 the sizes of `make bench` (~50 minutes)
#   sudo BENCH_SCALE=full bench/run.sh  the same, sessions to 15,000 with a
#                                     10-minute soak (~100 minutes)
#   sudo BENCH_QUICK=1 bench/run.sh   small sizes, to try it out (~15 minutes)
#   sudo BENCH_ONLY_SCRIPTS="tunnel sessions" bench/run.sh
#
# One benchmark, then its section of docs/PERFORMANCE.md:
#
#   sudo BENCH_ONLY_SCRIPTS=rendezvous bench/run.sh && make bench-merge
#
# make bench-merge (scripts/perf-report.py --merge) merges the run in
# $BENCH_OUT into the committed results, docs/perf/results/: the benchmarks
# this run.tsv lists replace theirs, every other one keeps its results and
# its run, and the report is written again; commit both. Run a benchmark
# through this script, not bench/<name>.sh alone: its run.tsv names the run
# (date, commit, machine) that the report credits the figures to, and a
# bench/<name>.sh run alone leaves the run.tsv of an earlier run beside it.
# The report's "One benchmark alone" lines give the sizes of the committed
# figures.
#
# Sessions from the load generator run in passes, BENCH_SESS_PASSES: words
# MODE/IFACE/SIZES/SOAK (IFACE empty: the server's default SessionInterface;
# SIZES comma-separated; SOAK: seconds of soak for the largest size of the
# pass, BENCH_SOAK_SHORT for the others).
#
# The sizes below are the defaults of a run; any variable already set in the
# environment wins. A benchmark that fails is recorded as failed and the
# others still run; the exit status is then 1.
set -u
cd "$(dirname "$0")/.." || exit 1
export BENCH_OUT=${BENCH_OUT:-$(pwd)/build/bench-results}
mkdir -p "$BENCH_OUT"

# Sizes. Full: chosen so that the whole run fits in about 40 minutes on a
# 2-core machine (the scripts' own defaults are larger: addr_bind 16,000
# addresses, dht 100 trials, ...).
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	mode=quick
	: "${BIND_N=500 2000}" "${ROT_S=100 1000}" "${ROT_SECONDS:=6}" "${PROXY_N=500 2000}" "${SETTLE_S:=2}"
	: "${BENCH_RUNS:=1}" "${BENCH_SECONDS:=2}"
	: "${DHT_BENCH_OURS:=20}" "${DHT_BENCH_LT:=4}" "${DHT_BENCH_TRIALS:=5}" "${DHT_BENCH_LT_TRIALS:=3}"
	: "${RDV_SIM_CLIENTS:=200}" "${TRIALS:=5}" "${N_SWARM:=30}" "${LT_NODES:=5}" "${LT_CLIENTS:=5}"
	: "${BENCH_CLIENTS:=5}" "${SESS_SECONDS:=5}" "${BENCH_GEN_TIMEOUT:=60}"
	: "${BENCH_SESS_PASSES=per-address//100/30 scale//200/30}" "${BENCH_SOAK_SHORT:=30}" "${BENCH_PING_INTERVAL:=10}"
	: "${BENCH_TUN_N:=1000}"
else
	mode=full
	: "${BIND_N=1000 4000 8000}" "${ROT_S=100 1000 5000 15000}" "${ROT_SECONDS:=20}" "${PROXY_N=1000 4000 8000}"
	: "${SETTLE_S:=5}" "${ROT_ADDR64_MAX:=5000}"
	: "${BENCH_RUNS:=3}" "${BENCH_SECONDS:=5}"
	: "${DHT_BENCH_OURS:=90}" "${DHT_BENCH_LT:=10}" "${DHT_BENCH_TRIALS:=30}" "${DHT_BENCH_LT_TRIALS:=20}"
	: "${RDV_SIM_CLIENTS:=1000 15000}" "${TRIALS:=50}" "${N_SWARM:=100}" "${LT_NODES:=10}" "${LT_CLIENTS:=10}"
	: "${BENCH_CLIENTS:=10 40}" "${SESS_SECONDS:=20}" "${BENCH_SOAK_SHORT:=60}"
	# BENCH_SCALE=full differs in the sessions' passes only: to 15,000,
	# with a 10-minute soak.
	if [ "${BENCH_SCALE:-}" = full ]; then
		: "${BENCH_GEN_TIMEOUT:=300}" "${BENCH_PING_INTERVAL:=60}" "${BENCH_STORM_TIMEOUT:=120}"
		: "${BENCH_SESS_PASSES=per-address//100,1000/60 scale//1000,5000,15000/60 routed/per-client/1000,5000/60 routed/shared/1000,5000,15000/600}"
	else
		: "${BENCH_GEN_TIMEOUT:=180}" "${BENCH_PING_INTERVAL:=30}"
		: "${BENCH_SESS_PASSES=per-address//100,1000/60 scale//100,1000,2000/120}"
	fi
fi
scale=${BENCH_SCALE:-default}
: "${BENCH_TUN_N:=1000 5000}"
export BENCH_TUN_N BIND_N ROT_S ROT_SECONDS PROXY_N SETTLE_S ROT_ADDR64_MAX BENCH_RUNS DHT_BENCH_OURS DHT_BENCH_LT \
	DHT_BENCH_TRIALS DHT_BENCH_LT_TRIALS RDV_SIM_CLIENTS TRIALS N_SWARM LT_NODES LT_CLIENTS \
	BENCH_CLIENTS BENCH_GEN_TIMEOUT BENCH_SOAK_SHORT BENCH_PING_INTERVAL
[ -n "${BENCH_STORM_TIMEOUT:-}" ] && export BENCH_STORM_TIMEOUT
# tunnel.sh and sessions.sh both read BENCH_SECONDS, with different meanings.
tunnel_seconds=$BENCH_SECONDS

meta=$BENCH_OUT/run.tsv
tab() { local IFS=$'\t'; printf '%s\n' "$*"; }
{
	tab run "mode=$mode" "scale=$scale" "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
		"commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		"dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo yes || echo no)" \
		"kernel=$(uname -r)" "cores=$(nproc)" \
		"cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		"mem_gib=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" \
		"os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")" \
		"iproute2=$(ip -V 2>/dev/null | sed 's/.*iproute2-//')" \
		"load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	tab sizes "bind_n=$BIND_N" "rot_s=$ROT_S" "rot_seconds=$ROT_SECONDS" "rot_addr64_max=${ROT_ADDR64_MAX:-}" "proxy_n=$PROXY_N" \
		"tunnel_runs=$BENCH_RUNS" "tunnel_seconds=$tunnel_seconds" \
		"dht_ours=$DHT_BENCH_OURS" "dht_lt=$DHT_BENCH_LT" "dht_trials=$DHT_BENCH_TRIALS" \
		"dht_lt_trials=$DHT_BENCH_LT_TRIALS" "rdv_sim_clients=$RDV_SIM_CLIENTS" "rdv_trials=$TRIALS" \
		"rdv_swarm=$N_SWARM" "rdv_lt_nodes=$LT_NODES" "rdv_lt_clients=$LT_CLIENTS" \
		"sess_clients=$BENCH_CLIENTS" "sess_seconds=$SESS_SECONDS" \
		"sess_gen_timeout=$BENCH_GEN_TIMEOUT" "sess_passes=$BENCH_SESS_PASSES" "tun_n=$BENCH_TUN_N" \
		"sess_soak_short=$BENCH_SOAK_SHORT" "sess_ping_interval=$BENCH_PING_INTERVAL"
} >"$meta"

ran=0 failed=0
for b in bench/*.sh; do
	name=$(basename "$b" .sh)
	# tunnel_rtt.sh is an investigation run by hand (docs/perf/analysis/tunnel.md).
	case $name in run|results|tunnel_rtt) continue ;; esac
	[ -f "$b" ] || continue
	if [ -n "${BENCH_ONLY_SCRIPTS:-}" ] && [[ " $BENCH_ONLY_SCRIPTS " != *" $name "* ]]; then
		continue
	fi
	echo "== $b"
	load=$(cut -d' ' -f1 /proc/loadavg)
	t0=$(date +%s)
	if [ "$name" = sessions ]; then
		# The daemon clients (per-address mode), then one pass of the
		# generator per word of BENCH_SESS_PASSES; all go to
		# sessions.tsv. A pass that fails does not stop the next ones.
		BENCH_SECONDS=$SESS_SECONDS BENCH_SESSIONS="" bash "$b"
		rc=$?
		for pass in $BENCH_SESS_PASSES; do
			IFS=/ read -r pmode piface psizes psoak <<<"$pass"
			RESULTS_APPEND=1 BENCH_MODE=$pmode BENCH_IFACE=$piface BENCH_CLIENTS="" \
				BENCH_SESSIONS="${psizes//,/ }" BENCH_SOAK=$psoak BENCH_SECONDS=$SESS_SECONDS \
				bash "$b" || rc=1
		done
		(exit "$rc")
	else
		BENCH_SECONDS=$tunnel_seconds bash "$b"
	fi
	rc=$?
	t1=$(date +%s)
	tab bench "name=$name" "seconds=$((t1 - t0))" "rc=$rc" "load_before=$load" \
		"load_after=$(cut -d' ' -f1 /proc/loadavg)" >>"$meta"
	echo "== $b: $((t1 - t0)) s, exit $rc"
	ran=$((ran + 1))
	[ "$rc" -eq 0 ] || failed=$((failed + 1))
done
tab end "date=$(date -u +%Y-%m-%dT%H:%MZ)" "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$meta"
if [ "$ran" -eq 0 ]; then
	echo "bench: no benchmarks ran" >&2
	exit 1
fi
[ "$failed" -eq 0 ]
