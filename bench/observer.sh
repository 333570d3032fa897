#!/bin/bash
# bench/observer.sh: how well a passive observer on the path follows eight
# client/server sessions (client hosts in one /64) across slot boundaries,
# with padding off and with padding buckets: tests/netns/t_observer.sh run
# longer, once per setting, its observer's figures collected.
#
#   sudo bench/observer.sh                 OBS_SECONDS=45; traffic mixed and
#                                          uniform; padding off, 256, 1024
#   sudo OBS_TRAFFICS=mixed OBS_PADDINGS="off 64" bench/observer.sh
#   sudo bench/observer.sh --doc           also rewrites the measured block of
#                                          docs/SECURITY.md from this run
#
# Output: a table on stdout and $BENCH_OUT/observer.tsv (one "observer"
# record per setting). Daemons that have no Padding key (the version 1 wire
# format) are measured once per traffic as they are ("none"). The header
# verdict is the test's assertion; the size/timing figures depend on the
# traffic (t_observer.sh: mixed, pings of distinct sizes and rates and four
# paced TCP streams; uniform, the same pings from every client).
set -u
cd "$(dirname "$0")/.." || exit 1
. bench/results.sh observer
export OBS_SECONDS=${OBS_SECONDS:-45}
paddings=${OBS_PADDINGS:-off 256 1024}
traffics=${OBS_TRAFFICS:-mixed uniform}
doc=0
[ "${1:-}" = --doc ] && doc=1
build=${MT6D_BUILD:-$(pwd)/build}
export MT6D_BUILD=$build
tmp=$(mktemp -d /tmp/mt6d-bench-observer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# The commit of the daemons measured (MT6D_BUILD may be another tree's build).
commit=$(git -C "$build/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
rc=0

get() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
printf '%-8s %-8s %9s %8s %8s %8s %10s %9s %9s %s\n' traffic padding decisions chance header bound size+time size-only time-only verdict
run_setting() { # traffic padding: off, a bucket, or none (no Padding line: the daemons' default)
	local t=$1 p=$2 out=$tmp/$1-$2.out st
	: >"$out"
	OBS_TRAFFIC=$t OBS_PADDING=$([ "$p" = none ] || echo "$p") OBS_REPORT=$out \
		bash tests/netns/t_observer.sh >"$tmp/$t-$p.log" 2>&1
	st=$?
	if [ "$st" = 77 ] || [ ! -s "$out" ]; then
		[ "$st" = 77 ] || { rc=1; tail -n 20 "$tmp/$t-$p.log" >&2; }
		if [ "$st" = 77 ]; then # not recorded: the daemons have no Padding key
			skipped=$((skipped + 1))
			return 0
		fi
		result observer "traffic=$t" "padding=$p" status=failed "commit=$commit"
		printf '%-8s %-8s %s\n' "$t" "$p" failed
		return 0
	fi
	result observer "traffic=$t" "padding=$p" status=ok "commit=$commit" "seconds=$OBS_SECONDS" \
		"decisions=$(get "$out" header_decisions)" "chance=$(get "$out" header_chance)" \
		"header_accuracy=$(get "$out" header_accuracy)" "header_bound=$(get "$out" header_bound)" \
		"header_verdict=$(get "$out" header_verdict)" \
		"size_timing_accuracy=$(get "$out" size_timing_accuracy)" \
		"size_only_accuracy=$(get "$out" size_only_accuracy)" \
		"timing_only_accuracy=$(get "$out" timing_only_accuracy)"
	printf '%-8s %-8s %9s %8s %8s %8s %10s %9s %9s %s\n' "$t" "$p" "$(get "$out" header_decisions)" \
		"$(get "$out" header_chance)" "$(get "$out" header_accuracy)" "$(get "$out" header_bound)" \
		"$(get "$out" size_timing_accuracy)" "$(get "$out" size_only_accuracy)" \
		"$(get "$out" timing_only_accuracy)" "$(get "$out" header_verdict)"
}
for t in $traffics; do
	skipped=0
	for p in $paddings; do run_setting "$t" "$p"; done
	# Daemons without a Padding key (the version 1 wire format): one run
	# as they are.
	[ "$skipped" = "$(echo "$paddings" | wc -w)" ] && run_setting "$t" none
done

# The block of docs/SECURITY.md between the two markers, from this run's
# records only.
if [ "$doc" = 1 ]; then
	block=$tmp/block.md
	{
		echo "<!-- observer:begin (written by bench/observer.sh --doc; do not edit) -->"
		echo "Measured by \`sudo bench/observer.sh --doc\` (daemons of commit $commit), $(date -u +%Y-%m-%d),"
		echo "${OBS_SECONDS} s of traffic at Rot 1 s, 8 sessions, client hosts in one /64:"
		echo
		echo "| traffic | padding | decisions | chance | header linker | its bound | best size/timing linker | sizes only | timing only | header verdict |"
		echo "|---|---|---|---|---|---|---|---|---|---|"
		awk -F'\t' '$1 == "observer" {
			delete v
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = substr($i, length(kv[1]) + 2) }
			if (v["status"] != "ok") { printf "| %s | %s | %s | | | | | | | |\n", v["traffic"], v["padding"], v["status"]; next }
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", v["traffic"], v["padding"], v["decisions"],
				v["chance"], v["header_accuracy"], v["header_bound"], v["size_timing_accuracy"],
				v["size_only_accuracy"], v["timing_only_accuracy"], v["header_verdict"] }' "$RESULTS_FILE"
		echo "<!-- observer:end -->"
	} >"$block"
	if grep -q '^<!-- observer:begin' docs/SECURITY.md && grep -q '^<!-- observer:end' docs/SECURITY.md; then
		awk -v f="$block" '
			/^<!-- observer:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
			/^<!-- observer:end/ { skip = 0; next }
			!skip' docs/SECURITY.md >"$tmp/sec.md" && cat "$tmp/sec.md" >docs/SECURITY.md
		echo "docs/SECURITY.md: measured block rewritten"
	else
		echo "docs/SECURITY.md has no observer markers: not written" >&2
		rc=1
	fi
fi
exit $rc
