#!/bin/bash
# docs/PERFORMANCE.md is the report of the raw results committed beside it
# (docs/perf/results/*.tsv, copied there by `make bench` from a full run):
# scripts/perf-report.py regenerates it from them byte for byte, so that no
# figure in it was typed by hand or left from another run. Runs no benchmark.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
results=$top/docs/perf/results
if [ ! -f "$results/run.tsv" ]; then
	# Until the first full run with this machinery is committed.
	echo "skip: no committed results in docs/perf/results/ (make bench writes them)"
	exit 0
fi
/usr/bin/python3 "$top/scripts/perf-report.py" --results "$results" --out "$top/docs/PERFORMANCE.md" --check ||
	fail "docs/PERFORMANCE.md is not the report of docs/perf/results/ (make bench-report regenerates it)"
echo "ok: docs/PERFORMANCE.md is the report of docs/perf/results/"
