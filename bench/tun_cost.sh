#!/bin/bash
# bench/tun_cost.sh: what per-client session interfaces cost the kernel at
# 15,000 clients (issue 14: one TUN per session, SessionInterface =
# per-client).
#
#   sudo bench/tun_cost.sh                       N = 1000 5000 (~3 minutes)
#   sudo BENCH_TUN_N="1000 5000 15000" bench/tun_cost.sh   (~10 minutes)
#   sudo BENCH_QUICK=1 bench/tun_cost.sh         N = 1000 (make bench's quick run)
#
# For each N, in a network namespace of its own (mt6dtun<pid>, deleted at
# the end whatever happens, which also deletes every device left),
# bench/tun_cost.py opens /dev/net/tun N times as the daemon does (IFF_TUN |
# IFF_NO_PI, not persistent), brings each device up with an address /128 and
# a /128 route as a session's set-up does, and measures: creation time (open
# + configure; per 1,000 devices), kernel memory (MemAvailable, Slab and
# Percpu deltas of /proc/meminfo: the machine's, so other load on it shows
# too), the time of `ip -o link`, `ip -6 route` and `ip -6 -o addr` dumps
# with N present, and the time until every device is gone once their
# descriptors close. Closing is what costs: the kernel unregisters each
# device on its own (an RCU grace period each), synchronously in close(),
# so a session's end blocks the daemon's loop for that long.
#
# Budget (the verdict, at 15,000 devices: measured when N includes 15,000,
# else extrapolated from the two largest N, see below): creating 15,000 devices
# under TUN_BUDGET_CREATE_S (60 s), their kernel memory (MemAvailable
# delta) under TUN_BUDGET_MEM_MIB (1024 MiB), and deleting them all (a
# server's stop, or every session ending) under TUN_BUDGET_DELETE_S (60 s).
# Figures go to $BENCH_OUT/tun_cost.tsv (bench/results.sh): records "param",
# "tun" (one per N) and "verdict".
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/results.sh
. "$top/bench/results.sh" tun_cost

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	BENCH_TUN_N=${BENCH_TUN_N:-1000}
fi
BENCH_TUN_N=${BENCH_TUN_N:-1000 5000}
BUDGET_N=15000
BUDGET_CREATE_S=${TUN_BUDGET_CREATE_S:-60}
BUDGET_MEM_MIB=${TUN_BUDGET_MEM_MIB:-1024}
BUDGET_DELETE_S=${TUN_BUDGET_DELETE_S:-60}
NS=mt6dtun$$
[ "$(id -u)" -eq 0 ] || { echo "tun_cost.sh: needs root (namespaces, TUN)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "tun_cost.sh: no /dev/net/tun" >&2; exit 1; }
tmp=$(mktemp -d /tmp/tun_cost.XXXXXX)
cleanup() {
	[ -n "${pypid:-}" ] && kill -KILL "$pypid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

result param n_list="$BENCH_TUN_N" budget_n="$BUDGET_N" budget_create_s="$BUDGET_CREATE_S" \
	budget_mem_mib="$BUDGET_MEM_MIB" budget_delete_s="$BUDGET_DELETE_S" kernel="$(uname -r)" cores="$(nproc)"

printf '%-7s %9s %9s %10s %10s %9s %9s %9s %9s %9s %9s\n' N open_s conf_s create_s per1000_s \
	mem_MiB slab_MiB percpu_MiB link_s route_s delete_s
rc=0 last_n=0 last_create=0 last_mem=0 last_delete=0
prev_n=0 prev_create=0 prev_mem=0 prev_delete=0
for n in $BENCH_TUN_N; do
	ip netns add "$NS" || exit 1
	ip netns exec "$NS" python3 "$top/bench/tun_cost.py" "$n" >"$tmp/out" 2>"$tmp/err" &
	pypid=$!
	wait "$pypid"
	prc=$?
	pypid=
	ip netns del "$NS"
	v() { sed -n "s/^$1=//p" "$tmp/out"; }
	if [ "$prc" -ne 0 ] || [ -z "$(v create_s)" ]; then
		echo "tun_cost.sh: N=$n failed: $(v error)$(tail -n 3 "$tmp/err")" >&2
		result tun n="$n" failed=1
		rc=1
		continue
	fi
	mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
	per1000=$(awk -v s="$(v create_s)" -v n="$n" 'BEGIN { printf "%.2f", s * 1000 / n }')
	printf '%-7s %9s %9s %10s %10s %9s %9s %9s %9s %9s %9s\n' "$n" "$(v open_s)" "$(v configure_s)" \
		"$(v create_s)" "$per1000" "$(mib "$(v mem_available_kib)")" "$(mib "$(v slab_kib)")" \
		"$(mib "$(v percpu_kib)")" "$(v link_dump_s)" "$(v route_dump_s)" "$(v delete_s)"
	result tun n="$n" open_s="$(v open_s)" configure_s="$(v configure_s)" create_s="$(v create_s)" \
		up_s="$(v up_s)" addr_s="$(v addr_s)" route_s="$(v route_s)" \
		create_per_1000_s="$per1000" mem_available_kib="$(v mem_available_kib)" \
		slab_kib="$(v slab_kib)" percpu_kib="$(v percpu_kib)" link_dump_s="$(v link_dump_s)" \
		link_dump_lines="$(v link_dump_lines)" route_dump_s="$(v route_dump_s)" \
		route_dump_lines="$(v route_dump_lines)" addr_dump_s="$(v addr_dump_s)" \
		close_s="$(v close_s)" delete_s="$(v delete_s)"
	prev_n=$last_n prev_create=$last_create prev_mem=$last_mem prev_delete=$last_delete
	last_n=$n last_create=$(v create_s) last_mem=$(v mem_available_kib) last_delete=$(v delete_s)
done
[ "$last_n" -gt 0 ] || { echo "tun_cost.sh: no N measured" >&2; exit 1; }

# The verdict at BUDGET_N, from the largest N measured: beyond it a power
# law through the two largest N (creation grows faster than linearly: link
# up and addresses cost more with every device present), never below linear;
# linear with one N.
read -r create mem delete per_ms how < <(awk -v n="$last_n" -v c="$last_create" -v m="$last_mem" \
	-v d="$last_delete" -v pn="$prev_n" -v pc="$prev_create" -v pm="$prev_mem" -v pd="$prev_delete" \
	-v b="$BUDGET_N" '
	function ext(v, pv) {
		k = 1
		if (pn > 0 && pv > 0 && v > 0 && n > pn) k = log(v / pv) / log(n / pn)
		if (k < 1) k = 1
		return v * exp(k * log(b / n))
	}
	BEGIN {
		how = n == b ? "measured" : (pn > 0 ? "extrapolated from " pn " and " n : "extrapolated from " n)
		if (n == b) printf "%.1f %.0f %.1f %.1f %s\n", c, m / 1024, d, d * 1000 / n, how
		else printf "%.1f %.0f %.1f %.1f %s\n", ext(c, pc), ext(m, pm) / 1024, ext(d, pd), d * 1000 / n, how
	}')
cv=$(awk -v c="$create" -v b="$BUDGET_CREATE_S" 'BEGIN { print (c < b ? "met" : "missed") }')
mv=$(awk -v m="$mem" -v b="$BUDGET_MEM_MIB" 'BEGIN { print (m < b ? "met" : "missed") }')
dv=$(awk -v d="$delete" -v b="$BUDGET_DELETE_S" 'BEGIN { print (d < b ? "met" : "missed") }')
echo
echo "$BUDGET_N per-client TUN devices ($how):"
echo "  creation ${create} s against a budget of ${BUDGET_CREATE_S} s: $cv"
echo "  kernel memory ${mem} MiB against a budget of ${BUDGET_MEM_MIB} MiB: $mv"
echo "  deleting them ${delete} s against a budget of ${BUDGET_DELETE_S} s: $dv" \
	"(${per_ms} ms per device, in close(): each session's end blocks the loop that long)"
result verdict n="$BUDGET_N" how="$how" create_s="$create" create_verdict="$cv" mem_mib="$mem" \
	mem_verdict="$mv" delete_s="$delete" delete_verdict="$dv" delete_per_device_ms="$per_ms"
exit "$rc"
