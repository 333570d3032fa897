# shellcheck shell=bash
# bench/results.sh: machine-readable results of a benchmark (sourced).
#
#   . bench/results.sh NAME     results go to $BENCH_OUT/NAME.tsv (default
#                               build/bench-results/), emptied first unless
#                               RESULTS_APPEND=1 (a second pass of one bench)
#   result KIND key=value...    appends one record: KIND, then the pairs,
#                               separated by tabs (values may hold spaces)
#
# scripts/perf-report.py reads these files and writes docs/PERFORMANCE.md;
# the human tables the benchmarks print stay as they were.
BENCH_OUT=${BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bench-results}
mkdir -p "$BENCH_OUT"
RESULTS_FILE=$BENCH_OUT/$1.tsv
[ "${RESULTS_APPEND:-0}" = 1 ] || : >"$RESULTS_FILE"

result() {
	local IFS=$'\t'
	# Tabs and newlines inside a value would break the record.
	printf '%s\n' "$(printf '%s\t' "$@" | tr '\n' ' ' | sed 's/\t$//')" >>"$RESULTS_FILE"
}
