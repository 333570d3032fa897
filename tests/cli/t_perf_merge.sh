#!/bin/bash
# scripts/perf-report.py --merge: a run of some benchmarks (bench/run.sh with
# BENCH_ONLY_SCRIPTS) merged into the results behind the report replaces
# those benchmarks' results and keeps every other one's, each section saying
# which run its figures come from; a run left without a benchmark goes, a
# quick run is refused, and the merged report is still the report of its
# results (--check). Synthetic runs made from the fixture of t_perf_report
# (tests/cli/perf-report/); runs no benchmark.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
gen=$top/scripts/perf-report.py
fx=$top/tests/cli/perf-report
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'
into=$tmp/into

# mkrun DIR COMMIT DATE NAME...: the results of one run of bench/run.sh that
# ran the benchmarks NAME: its run.tsv (the fixture's machine and sizes, this
# commit and date) and their <name>.tsv from the fixture.
mkrun() {
	local dir=$1 commit=$2 date=$3 n
	shift 3
	mkdir -p "$dir"
	{
		grep '^run' "$fx/run.tsv" | sed "s/commit=[^\t]*/commit=$commit/; s/date=[^\t]*/date=$date/"
		grep '^sizes' "$fx/run.tsv"
		for n in "$@"; do grep "^bench	name=$n	" "$fx/run.tsv"; done
		grep '^end' "$fx/run.tsv"
	} >"$dir/run.tsv"
	for n in "$@"; do cp "$fx/$n.tsv" "$dir/"; done
}
merge() { # SRC [OUT]: merge SRC into $into, the report to OUT
	/usr/bin/python3 "$gen" --merge "$1" --into "$into" ${2:+--out "$2"} --no-charts >"$tmp/log" 2>&1
}
# section NAME FILE: the lines of one benchmark's section of a report
section() { awk -v n="## $1:" 'index($0, n) == 1 {on = 1; next} on && /^## / {exit} on' "$2"; }
in_section() { section "$1" "$3" | grep -qF -- "$2" || fail "section $1 of $3 lacks: $2"; }
not_in_section() { ! section "$1" "$3" | grep -qF -- "$2" || fail "section $1 of $3 should not contain: $2"; }
runs_in() { grep -c '^run	' "$into/run.tsv"; }

# The results behind the report: one run, in the format bench/run.sh writes
# (a single block), read as before.
mkrun "$into" aaa1111 2026-11-01T00:00Z tunnel tun_cost
/usr/bin/python3 "$gen" --results "$into" --out "$tmp/P0.md" --no-charts >/dev/null 2>&1 ||
	fail "generator failed on a single run"
grep -qx '## The run' "$tmp/P0.md" || fail "a single run: no section 'The run'"
in_section tunnel '*Figures from the run: 2026-11-01T00:00Z, commit aaa1111.*' "$tmp/P0.md"
[ "$(grep -c '^\*Not measured in this run.\*$' "$tmp/P0.md")" = 4 ] || fail "single run: not 4 sections 'not measured'"

# A run of dht alone merged: dht's section from it, the others kept from
# theirs. Without --out the report goes next to results that are not the
# committed ones.
mkrun "$tmp/r1" bbb2222 2026-11-02T00:00Z dht
merge "$tmp/r1" || fail "merging a run of dht failed: $(cat "$tmp/log")"
grep -qF 'merged dht from' "$tmp/log" || fail "the merge does not say what it merged: $(cat "$tmp/log")"
[ -f "$into/PERFORMANCE.md" ] || fail "without --out, the report is not next to the results merged into"
[ "$(runs_in)" = 2 ] || fail "after one merge run.tsv has $(runs_in) runs, not 2"
[ -f "$into/dht.tsv" ] || fail "dht.tsv was not copied"
P=$into/PERFORMANCE.md
grep -qx '## The runs' "$P" || fail "two runs: no section 'The runs'"
grep -qF '### Run 1: 2026-11-01T00:00Z, commit aaa1111' "$P" || fail "run 1 not listed"
grep -qF '### Run 2: 2026-11-02T00:00Z, commit bbb2222' "$P" || fail "run 2 not listed"
grep -qF -- '- benchmarks from this run: tunnel, tun_cost (11 min 20 s of wall time)' "$P" || fail "run 1's benchmarks"
grep -qF -- '- benchmarks from this run: dht (25 min 00 s of wall time)' "$P" || fail "run 2's benchmarks"
grep -qF '| dht | 25 min 00 s | ok | 4.50 / 4.20 | run 2 |' "$P" || fail "dht's row does not name run 2"
grep -qF '| tunnel | 8 min 00 s | ok | 3.90 / 4.00 | run 1 |' "$P" || fail "tunnel's row does not name run 1"
in_section dht '*Figures from run 2: 2026-11-02T00:00Z, commit bbb2222.*' "$P"
in_section dht '| lookup latency, p95 (ms) | 334 | 33 (libtorrent) | 10.12x |' "$P"
in_section tunnel '*Figures from run 1: 2026-11-01T00:00Z, commit aaa1111.*' "$P"
in_section tunnel '3.8x the faster baseline' "$P"
in_section tun_cost '| 5,000 | 14.9 | 2.98 | 432 |' "$P"
in_section rendezvous '*Not measured in any of these runs.*' "$P"
grep -qF 'sudo BENCH_ONLY_SCRIPTS=rendezvous RDV_SIM_CLIENTS=' "$P" || fail "no line to measure rendezvous alone"
/usr/bin/python3 "$gen" --results "$into" --out "$P" --check >/dev/null 2>&1 || fail "--check rejects the merged report"

# A later run of tunnel and tun_cost, with other figures: both replaced,
# their old run (left without a benchmark) dropped, dht's kept.
mkrun "$tmp/r2" ccc3333 2026-11-03T00:00Z tunnel tun_cost
sed -i 's/^tun\tn=5000\topen_s=1.0\tconfigure_s=13.9\tcreate_s=14.9/tun\tn=5000\topen_s=1.0\tconfigure_s=11.5\tcreate_s=12.5/' \
	"$tmp/r2/tun_cost.tsv"
merge "$tmp/r2" "$tmp/P2.md" || fail "merging a run of tunnel and tun_cost failed: $(cat "$tmp/log")"
[ "$(runs_in)" = 2 ] || fail "run.tsv has $(runs_in) runs, not 2 (the run left without a benchmark stays?)"
! grep -q aaa1111 "$into/run.tsv" "$tmp/P2.md" || fail "the run all of whose benchmarks were replaced is still there"
in_section tun_cost '*Figures from run 2: 2026-11-03T00:00Z, commit ccc3333.*' "$tmp/P2.md"
in_section tun_cost '| 5,000 | 12.5 |' "$tmp/P2.md"
not_in_section tun_cost '| 5,000 | 14.9 |' "$tmp/P2.md"
in_section tunnel '*Figures from run 2: 2026-11-03T00:00Z, commit ccc3333.*' "$tmp/P2.md"
in_section dht '*Figures from run 1: 2026-11-02T00:00Z, commit bbb2222.*' "$tmp/P2.md"
in_section dht '| lookup latency, p95 (ms) | 334 | 33 (libtorrent) | 10.12x |' "$tmp/P2.md"
# Each benchmark in exactly one run's block, every block with one at least.
dups=$(awk -F'\t' '$1 == "bench" {print $2}' "$into/run.tsv" | sort | uniq -d)
[ -z "$dups" ] || fail "benchmarks in two runs' blocks: $dups"
awk -F'\t' '$1 == "run" {if (n && !b) bad = 1; n++; b = 0} $1 == "bench" {b++} END {exit (bad || !b)}' "$into/run.tsv" ||
	fail "run.tsv keeps a run without a benchmark: $(cat "$into/run.tsv")"
/usr/bin/python3 "$gen" --results "$into" --out "$tmp/P2.md" --check >/dev/null 2>&1 || fail "--check rejects the merged report"
sed 's/| 5,000 | 12.5 |/| 5,000 | 12.4 |/' "$tmp/P2.md" >"$tmp/P2e.md"
if /usr/bin/python3 "$gen" --results "$into" --out "$tmp/P2e.md" --check >/dev/null 2>&1; then
	fail "--check accepts a merged report edited by hand"
fi

# The same run merged again: nothing changes.
cp "$into/run.tsv" "$tmp/run.before"
merge "$tmp/r2" "$tmp/P3.md" || fail "merging the same run again failed: $(cat "$tmp/log")"
cmp -s "$into/run.tsv" "$tmp/run.before" || fail "merging the same run twice changed run.tsv: $(diff "$tmp/run.before" "$into/run.tsv")"
cmp -s "$tmp/P2.md" "$tmp/P3.md" || fail "merging the same run twice changed the report"

# A run whose dht failed before writing any result: the older figures are
# not shown as that run's, they go; the section says it failed.
mkrun "$tmp/r3" ddd4444 2026-11-04T00:00Z dht
sed -i 's/^\(bench\tname=dht\t.*\)rc=0/\1rc=1/' "$tmp/r3/run.tsv"
rm "$tmp/r3/dht.tsv"
merge "$tmp/r3" "$tmp/P4.md" || fail "merging a failed run failed: $(cat "$tmp/log")"
[ ! -e "$into/dht.tsv" ] || fail "dht.tsv of the older run left behind a run that wrote none"
! grep -q bbb2222 "$into/run.tsv" || fail "dht's older run is still in run.tsv"
in_section dht '*Figures from run 2: 2026-11-04T00:00Z, commit ddd4444.*' "$tmp/P4.md"
in_section dht '**This benchmark failed in this run (exit 1)**' "$tmp/P4.md"
in_section dht '*Not measured in this run.*' "$tmp/P4.md"
not_in_section dht '10.12x' "$tmp/P4.md"

# Refused, and nothing changed: a quick run (small sizes), a run.tsv that
# lists no benchmark, a directory without run.tsv.
cp -r "$into" "$tmp/into.before"
mkrun "$tmp/q" eee5555 2026-11-05T00:00Z tunnel
sed -i 's/mode=full/mode=quick/' "$tmp/q/run.tsv"
if merge "$tmp/q" "$tmp/P5.md"; then fail "a quick run was merged"; fi
grep -qF 'not a full run' "$tmp/log" || fail "no clear error for a quick run: $(cat "$tmp/log")"
mkrun "$tmp/empty" fff6666 2026-11-06T00:00Z
if merge "$tmp/empty" "$tmp/P5.md"; then fail "a run without benchmarks was merged"; fi
grep -qF 'lists no benchmark' "$tmp/log" || fail "no clear error for a run without benchmarks: $(cat "$tmp/log")"
if merge "$tmp/none" "$tmp/P5.md"; then fail "a directory without run.tsv was merged"; fi
grep -q 'no .*run.tsv' "$tmp/log" || fail "no clear error without run.tsv: $(cat "$tmp/log")"
diff -r "$tmp/into.before" "$into" >/dev/null || fail "a refused merge changed the results"
[ ! -e "$tmp/P5.md" ] || fail "a refused merge wrote a report"

# make bench-merge merges build/bench-results/, or BENCH_RESULTS.
make -s -n -C "$top" bench-merge | grep -qF -- '--merge build/bench-results' ||
	fail "make bench-merge does not merge build/bench-results"
make -s -n -C "$top" bench-merge BENCH_RESULTS=/elsewhere | grep -qF -- '--merge /elsewhere' ||
	fail "make bench-merge BENCH_RESULTS=DIR does not merge DIR"
echo "ok: perf-report --merge"
