#!/bin/bash
# The one test runner behind `make check`: runs suites, keeps each test's
# output in a log, shows the log of anything that failed, and ends with one
# line "check: N passed, M failed".
#
#   tests/run.sh all                 every suite, with the default build dirs
#   tests/run.sh unit  BUILD_DIR     cmocka binaries in BUILD_DIR/tests/
#   tests/run.sh vectors BUILD_DIR   independent recomputation of test vectors
#   tests/run.sh cli   BUILD_DIR     command-line tests, tests/cli/t_*.sh
#   tests/run.sh fuzz  BUILD_DIR     every fuzzer for FUZZ_SECONDS (default 10: make check is a
#                                    regression run over the corpus; search longer by hand)
#   tests/run.sh netns BUILD_DIR     namespace tests (root), tests/netns/t_*.sh
#   tests/run.sh foreign BUILD_DIR   issue 15's foreign-swarm tests (root), tests/foreign/
#   tests/run.sh system BUILD_DIR    the Debian package and the units under
#                                    systemd (root, minutes), tests/system/t_*.sh;
#                                    not in all (make check-system)
#
# ONLY=pattern restricts every suite to tests whose name matches it.
# NETNS_JOBS=N runs the namespace tests in N lanes at once (default 2; 1:
# one after the other).
# MT6D_TEST_OFFLOADS=off runs the namespace tests with `Offloads = off` in
# every daemon's configuration (peer-lib.sh, sessions-lib.sh): the data
# plane without TUN offloads.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
logdir=$top/build/test-logs
mkdir -p "$logdir"

passed=0
failed=0
failures=()

run_one() { # suite name timeout_s cmd...
    local suite=$1 name=$2 limit=$3; shift 3
    if [ -n "${ONLY:-}" ] && [[ $name != *$ONLY* ]]; then return; fi
    local log=$logdir/$suite-$name.log start end rc
    start=$(date +%s%N)
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 </dev/null
    rc=$?
    end=$(date +%s%N)
    local tenths=$(( (end - start) / 100000000 ))
    local took=$((tenths / 10)).$((tenths % 10)) report
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        report=$(printf '  PASS  %-7s %-34s %6ss' "$suite" "$name" "$took")
    else
        failed=$((failed + 1))
        failures+=("$suite/$name")
        [ $rc -eq 124 ] && echo "(timed out after ${limit}s)" >>"$log"
        # cmocka's failure lines first: a sanitizer's report after them
        # (the leaks of an aborted test) can be longer than the tail.
        report=$(printf '  FAIL  %-7s %-34s %6ss (exit %d)\n' "$suite" "$name" "$took" "$rc"
            grep -E -m 20 -B 3 '^\[ +(FAILED|ERROR) +\]|: error: |Failure!' "$log" | sed 's/^/        ! /'
            sed 's/^/        | /' "$log" | tail -n 60)
    fi
    if [ -n "${RESULTS:-}" ]; then
        # In a lane (suite_netns): one report at a time on the terminal,
        # and the outcome for the parent's counts.
        flock "$RESULTS.lock" sh -c 'printf "%s\n" "$1"; printf "%s %s %s\n" "$2" "$3" "$4" >>"$5"' \
            _ "$report" "$([ $rc -eq 0 ] && echo PASS || echo FAIL)" "$suite/$name" "$took" "$RESULTS"
    else
        printf '%s\n' "$report"
    fi
}

suite_unit() {
    local dir=$1/tests t
    [ -d "$dir" ] || { echo "no unit tests built in $dir" >&2; failed=$((failed + 1)); return; }
    for t in "$dir"/test_*; do
        [ -x "$t" ] || continue
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            run_one unit "$(basename "$t")" 300 "$t"
    done
}

suite_vectors() {
    local s
    for s in tests/vectors/*.py; do
        [ -f "$s" ] || continue
        # Debian's python3-nacl lives in the system interpreter, not in any
        # other python3 that may come first on PATH.
        MT6D_BUILD=$1 run_one vectors "$(basename "$s" .py)" 120 /usr/bin/python3 "$s"
    done
}

suite_cli() {
    local t limit
    for t in tests/cli/t_*.sh; do
        [ -f "$t" ] || continue
        # t_bare_machine compiles a copy of the whole tree: ~60 s on an
        # idle 2-core machine, past 120 s on a loaded one.
        limit=120
        [ "$(basename "$t")" = t_bare_machine.sh ] && limit=300
        MT6D_BUILD=$top/$1 run_one cli "$(basename "$t" .sh)" $limit bash "$t"
    done
}

suite_fuzz() {
    local f name corpus work
    for f in "$1"/fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        name=$(basename "$f")
        work=$(mktemp -d)
        corpus=tests/fuzz/corpus/${name#fuzz_}
        [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
        run_one fuzz "$name" $(( ${FUZZ_SECONDS:-10} + 60 )) \
            "$f" -max_total_time="${FUZZ_SECONDS:-10}" -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$logdir/$name-" "$work"
        rm -rf "$work"
    done
}

# The namespace tests run in NETNS_JOBS lanes (default 2): each builds its
# own lab (namespace names carry the test's PID, work dirs are mktemp'd, no
# test touches the host's namespace), and most of their time is spent
# waiting for rotations, timeouts and DHT rounds, not computing. Each lane
# takes the next test from a shared queue, the longest of the last run
# first (build/test-logs/netns.durations), so the lanes end together.
# NETNS_JOBS=1 runs them one after the other.
netns_queue() { # tests, longest last time first
    local t name
    for t in tests/netns/t_*.sh; do
        [ -f "$t" ] || continue
        name=$(basename "$t" .sh)
        printf '%s %s\n' "$(awk -v n="$name" '$1 == n {print $2}' "$logdir/netns.durations" \
            2>/dev/null | tail -n 1 | grep . || echo 0)" "$t"
    done | sort -k1,1nr -k2,2 | awk '{print $2}'
}

netns_lane() { # build_dir queue_file results_file
    local t i
    while :; do
        # The next index, taken under a lock shared with the other lanes.
        i=$(flock "$2.lock" sh -c 'n=$(cat "$1"); echo $((n + 1)) >"$1"; echo "$n"' _ "$2.next")
        t=$(sed -n "$((i + 1))p" "$2")
        [ -n "$t" ] || return 0
        MT6D_BUILD=$top/$1 run_one netns "$(basename "$t" .sh)" 900 bash "$t"
    done
}

suite_netns() {
    local t jobs=${NETNS_JOBS:-2} q lane rc
    if [ "$(id -u)" -ne 0 ]; then
        echo "netns tests need root (network namespaces, TUN, netlink)" >&2
        failed=$((failed + 1)); failures+=("netns/not-root"); return
    fi
    if [ "$jobs" -le 1 ]; then
        for t in tests/netns/t_*.sh; do
            [ -f "$t" ] || continue
            MT6D_BUILD=$top/$1 run_one netns "$(basename "$t" .sh)" 900 bash "$t"
        done
        return
    fi
    q=$(mktemp /tmp/mt6d-netns-queue.XXXXXX)
    netns_queue >"$q"
    echo 0 >"$q.next"
    : >"$q.results"
    for ((lane = 0; lane < jobs; lane++)); do
        RESULTS=$q.results netns_lane "$1" "$q" &
    done
    wait
    # The lanes ran in subshells: their counts come back through the file.
    while read -r rc t; do
        if [ "$rc" = PASS ]; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("$t")
        fi
    done <"$q.results"
    # This run's times replace the last ones of the same tests.
    { cat "$logdir/netns.durations" 2>/dev/null
      awk '{split($2, a, "/"); print a[2], $3}' "$q.results"; } |
        awk '{t[$1] = $2} END {for (n in t) print n, t[n]}' | sort >"$logdir/netns.durations.new"
    mv "$logdir/netns.durations.new" "$logdir/netns.durations"
    rm -f "$q" "$q.next" "$q.lock" "$q.results" "$q.results.lock"
}

suite_system() {
    local t
    if [ "$(id -u)" -ne 0 ]; then
        echo "system tests need root (chroot, systemd-nspawn, namespaces)" >&2
        failed=$((failed + 1)); failures+=("system/not-root"); return
    fi
    for t in tests/system/t_*.sh; do
        [ -f "$t" ] || continue
        MT6D_BUILD=$top/$1 run_one system "$(basename "$t" .sh)" 1800 bash "$t"
    done
}

# The rendezvous over foreign DHT nodes only (issue 15): the real daemons
# and `mt6d rendezvous` over libtorrent and Transmission nodes, asserting
# its targets (docs/LAB.md, "Foreign-only swarms"). Eight foreign nodes
# each: they run after the namespace lanes, one at a time.
suite_foreign() {
    local t
    for t in tests/foreign/t_*.sh; do
        [ -f "$t" ] || continue
        MT6D_BUILD=$top/$1 run_one foreign "$(basename "$t" .sh)" 900 bash "$t"
    done
}

case "${1:-all}" in
    system)  suite_system "${2:-build}" ;;
    unit)    suite_unit "${2:-build-san}" ;;
    vectors) suite_vectors "${2:-build}" ;;
    cli)     suite_cli "${2:-build}" ;;
    fuzz)    suite_fuzz "${2:-build-fuzz}" ;;
    netns)   suite_netns "${2:-build}" ;;
    foreign) suite_foreign "${2:-build}" ;;
    all)
        suite_unit build-san
        suite_vectors build
        suite_cli build-san
        suite_fuzz build-fuzz
        suite_netns build
        suite_foreign build
        ;;
    *) echo "usage: $0 all|unit|vectors|cli|fuzz|netns|foreign|system [BUILD_DIR]" >&2; exit 2 ;;
esac

if [ ${#failures[@]} -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
