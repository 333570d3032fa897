#!/bin/bash
# scripts/perf-report.py on a fixture of benchmark results (tests/cli/
# perf-report/*.tsv, in the format bench/results.sh writes): the report of
# `make bench` must come out whole, with the ratios computed from the figures,
# the analysis filled in, and no text citing a number the run did not have.
# Runs no benchmark.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
gen=$top/scripts/perf-report.py
fx=$top/tests/cli/perf-report
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'
has() { grep -qF -- "$1" "$tmp/$2" || fail "$2 lacks: $1"; }
lacks() { ! grep -qF -- "$1" "$tmp/$2" || fail "$2 should not contain: $1"; }

charts=--no-charts
command -v gnuplot >/dev/null && charts=
# shellcheck disable=SC2086
/usr/bin/python3 "$gen" --results "$fx" --out "$tmp/out/P.md" --charts "$tmp/out/perf" $charts \
	>"$tmp/log" 2>&1 || fail "generator failed on the fixture: $(cat "$tmp/log")"
cp "$tmp/out/P.md" "$tmp/P.md"

# Header: machine, commit, the per-benchmark table, reproduce commands.
has '- commit: abc1234' P.md
has '2 cores (Test CPU), 24 GiB, Linux 6.18.44-test' P.md
has '| addr_bind | 15 min 05 s | ok |' P.md
has '| sessions | 1 min 35 s | failed (exit 1) |' P.md
has '| all | 63 min 00 s |' P.md
has '| tun_cost | 3 min 20 s | ok |' P.md
has '| 5,000 | 14.9 | 2.98 | 432 |' P.md
has 'deleting them: 636.0 s against a budget of 60 s: **missed**' P.md
has 'sudo BENCH_ONLY_SCRIPTS=tunnel BENCH_RUNS=5 BENCH_SECONDS=5 bench/run.sh' P.md
has 'BIND_N="1000 8000 16000"' P.md
# A failed benchmark says so.
has '**This benchmark failed in this run (exit 1)**' P.md

# Ratios computed against the baseline of the same run.
has '| 1,000 | 0.027 | 0.055 | 0.265 | 0.115 | 9.81x | 2.09x |' P.md   # ip/mt6d
has 'our engine binds 1,000 addresses 9.81x as fast as `ip -6 -batch`' P.md
has 'is met at: 1,000, 8,000;' P.md                                    # 1.09x at 16,000 is not
has '| (b) wireguard-go | 0.250 | 0.232 | 23,848 | 23.63 | 714 | - | 5.22 | 17,450 | 3.85x | -356 us |' P.md   # no RTT under load in the fixture
has '3.8x the faster baseline (wireguard-go, 0.250 Gbit/s)' P.md
has 'Target (2x the faster of wireguard-go and OpenVPN): met.' P.md
has 'UDP GRO add 1.40x here' P.md
has 'The tunnel adds 326 us at idle' P.md
has '(over the 100 us target)' P.md
has '| publication of 100 bytes: time (ms) | 11,719 | 54,200 (one announce per port) | 0.22x |' P.md
has 'one announce per port took 54,200 ms (4.6x longer)' P.md
has '47.0 messages each, 25 % fewer than libtorrent' P.md
has '8.1 ms per client and round, 0.9 % of one core' P.md
has 'Target (under 1 s): not met.' P.md
has '| 40 | 40/40 | 6,290 | 7,172 | 9,681 | 9,946 | 5.3 | 5 | 0.27 % |' P.md
has 'Target of scale mode (15,000 sessions every 3 s in under 25 % of a core): met (6.8 % at 15,000 sessions).' P.md
# Sessions from the load generator: its table (every figure bench/sessions.sh
# prints, by server mode), the reproduce line, and the text computed from it.
has 'BENCH_SESSIONS="100 300 500 1000" BENCH_GEN_TIMEOUT=600 BENCH_SECONDS=20 bench/sessions.sh' P.md
has 'a capture on the generator' P.md   # the late first byte's explanation, with its verdict
has '**The first byte about a second late.** At 100 sessions the first-byte p95 (2,113 ms) came 1.9 s' P.md
has 'needed about 60,000 there' P.md
lacks '4,900' P.md
has '| per-address | default | 500 | 500/500/- | 976 | 5,867 | 22,439 | 70.7 | - | -/- | 77 | 68.25 % | - |' P.md
has '| per-address | default | 1,000 | 497/440/- | 651 | 460,598 | 4,817 | 1.0 | - | -/- | 208 | 59.50 % | - |' P.md
has '| scale | default | 2,000 | 2000/2000/- | 310 | 900 | 1,400 | 1,666.7 | - | -/- | 150 | 9.10 % | - |' P.md
has '| routed | shared | 15,000 | 15000/15000/0 | 20,000 | 50,000 | 52,000 | 250.0 | 600 | 9990/10000 | 500 | 12.50 % | 8.10 %, 40 MiB |' P.md
has '| routed | shared | 15,000 | 15000/15000 | 15000 | 3,000 | 6,000 | 7,000 | 6,500 | 2,000.0 | 95.00 % |' P.md
has 'is pinged through the session every 60 s' P.md
# The verdicts on the targets of 15,000 sessions, computed, the missed ones
# with their number, a soak shorter than 10 minutes never a "met".
has '- routed, shared, 15,000 sessions up: met (15,000 of 15,000 up, every one with its first byte).' P.md
has '- routed, shared, steady-state server CPU under 25 % of one core: met (12.50 % of one core' P.md
has '- routed, shared, no session lost over 10 minutes: met (none of 15,000 lost over 600 s' P.md
has '- routed, shared, re-key storm: met: all 15,000 handshook again and had a first byte (set-up p50 3,000, p95 6,000, p99 7,000 ms' P.md
has '- routed, per-client, no session lost over 10 minutes: not shown: the soak lasted 300 s, not 10 minutes' P.md
has '- routed, per-client, re-key storm: not measured' P.md
has '- scale, default, 15,000 sessions up: missed: 12,345 of 15,000 up, 12,000 with a first byte.' P.md
has '- scale, default, steady-state server CPU under 25 % of one core: missed: 30.20 % of one core' P.md
has '- scale, default, no session lost over 10 minutes: missed: 37 of 12,000 sessions lost over 120 s.' P.md
has '- scale, default, re-key storm: missed: 11,000 of 11,963 sessions of 15,000 re-established' P.md
has 'clients without a session after 600 s count as not up' P.md
has 'all 100 sessions were up within 211 ms of the start (p95), 459 sessions per second' P.md
has 'one process (459 per second for 100) than for the lab of client daemons (5.3-6.3)' P.md
has 'the first-byte p95 (2,113 ms) came 1.9 s after the set-up p95 (211 ms)' P.md
has '500 sessions (1,500 live addresses, 1,000 netlink operations per Rot of 3s) took 68.25 % of a core' P.md
has "(5x the sessions) the server's CPU grew 72x, faster than the sessions" P.md
has 'Where per-address mode stops on this machine: between 500 and 1,000 rotating sessions.' P.md
has 'At 1,000 clients, 497 had a session and 440 their first byte within 600 s' P.md
has 'Memory is not the limit: 208 MiB of resident memory for 797 sessions, 267 KiB per session' P.md
has '**15,000 sessions in scale mode** (the largest scale row): 12345/12000 up/with a first byte' P.md

# Every placeholder filled; text whose figure is absent is left out: the
# fixture has no proxy-NDP rows, and no round with refused announces.
lacks '{' P.md
lacks 'proxy entries took' P.md
lacks 'waste traffic' P.md
has 'The swarm refused none of the announces' P.md

# Charts, when gnuplot is there: real PNGs, referenced relative to the file.
if [ -z "$charts" ]; then
	for c in addr_bind_bind addr_bind_rotation tunnel_throughput tunnel_rtt tunnel_cpu dht_times \
		dht_messages rendezvous_fetch sessions_setup sessions_server_cost sessions_gen_latency; do
		[ "$(head -c 8 "$tmp/out/perf/$c.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
			fail "$c.png is not a PNG"
		has "](perf/$c.png)" P.md
	done
fi

# A chart an earlier run drew and this one did not is removed (make install
# ships every PNG of the directory); the charts drawn stay.
if [ -z "$charts" ]; then
	: >"$tmp/out/perf/stale_chart.png"
	/usr/bin/python3 "$gen" --results "$fx" --out "$tmp/out/P.md" --charts "$tmp/out/perf" >/dev/null 2>&1 ||
		fail "generator failed on the fixture, second time"
	[ ! -e "$tmp/out/perf/stale_chart.png" ] || fail "a stale chart was left in place"
	[ -s "$tmp/out/perf/sessions_gen_latency.png" ] || fail "a chart drawn was removed"
fi

# The report is a function of the results alone (so that the committed
# report can be checked against its committed results): the same again, and
# the same without charts; --check says whether a file is that report.
/usr/bin/python3 "$gen" --results "$fx" --out "$tmp/o2/P2.md" --charts "$tmp/o2/perf" --no-charts >/dev/null 2>&1 ||
	fail "generator failed on the fixture without charts"
cp "$tmp/o2/P2.md" "$tmp/P2.md"
cmp -s "$tmp/P.md" "$tmp/P2.md" || fail "the report differs from one run to the next or with charts: $(diff "$tmp/P.md" "$tmp/P2.md" | head -5)"
/usr/bin/python3 "$gen" --results "$fx" --out "$tmp/P2.md" --check >/dev/null 2>&1 || fail "--check rejects the report of the same results"
sed -i 's/12,345 of 15,000/12,346 of 15,000/' "$tmp/P2.md"
if /usr/bin/python3 "$gen" --results "$fx" --out "$tmp/P2.md" --check >/dev/null 2>&1; then
	fail "--check accepts a report edited by hand"
fi

# A benchmark without results: said, not invented; the others still there.
mkdir "$tmp/partial"
cp "$fx"/run.tsv "$fx"/tunnel.tsv "$tmp/partial/"
/usr/bin/python3 "$gen" --results "$tmp/partial" --out "$tmp/Q.md" --no-charts >/dev/null 2>&1 ||
	fail "generator failed on partial results"
[ "$(grep -c '^\*Not measured in this run.\*$' "$tmp/Q.md")" = 5 ] || fail "partial: not 5 sections 'not measured'"
has '3.8x the faster baseline' Q.md
lacks '{' Q.md

# Sessions without generator rows (a run before them, or BENCH_SESSIONS=""):
# the daemons' part whole, nothing of the generator's, not even its heading.
grep -v '^gen' "$fx/sessions.tsv" >"$tmp/partial/sessions.tsv"
/usr/bin/python3 "$gen" --results "$tmp/partial" --out "$tmp/G.md" --no-charts >/dev/null 2>&1 ||
	fail "generator failed without generator rows"
has '| 40 | 40/40 | 6,290 | 7,172 | 9,681 | 9,946 | 5.3 | 5 | 0.27 % |' G.md
has 'The first ping came at least 1.0 s after the session was up' G.md
lacks 'N clients played by one process** (`bench_sessions`) against' G.md
lacks '| mode | session interface |' G.md
lacks '**Targets**' G.md
lacks 'Reading: many clients' G.md
lacks 'faster for clients played by one process' G.md
lacks 'Where per-address mode stops' G.md
lacks '{' G.md
rm "$tmp/partial/sessions.tsv"

# A fixed sentence gives its verdict for a good and a bad result alike:
# trials after the kills a millisecond faster than before say so, never
# "-1 ms more"; clients that did not come up are counted, never "Every".
cp "$fx"/run.tsv "$tmp/partial/"
sed 's/key=killed_ms_median\tours=6092/key=killed_ms_median\tours=1008/' "$fx/dht.tsv" >"$tmp/partial/dht.tsv"
sed 's/clients=40\tup=40\tpinged=40/clients=40\tup=31\tpinged=29/' "$fx/sessions.tsv" >"$tmp/partial/sessions.tsv"
/usr/bin/python3 "$gen" --results "$tmp/partial" --out "$tmp/V.md" --no-charts >/dev/null 2>&1 ||
	fail "generator failed on the bad results"
has 'The kills cost no measurable time: a trial took 1 ms less after them' V.md
lacks 'ms more per trial' V.md
has '**Not every client of the largest run came up**: of 40 clients, 31 had a session and 29 answered a ping' V.md
lacks 'Every client of the largest run' V.md
rm "$tmp/partial/dht.tsv" "$tmp/partial/sessions.tsv"

# A baseline missing: no ratio against it, and no sentence citing it.
grep -v 'cfg=wg-go\|cfg=openvpn' "$fx/tunnel.tsv" >"$tmp/partial/tunnel.tsv"
/usr/bin/python3 "$gen" --results "$tmp/partial" --out "$tmp/R.md" --no-charts >/dev/null 2>&1 ||
	fail "generator failed without baselines"
lacks 'the faster baseline' R.md
lacks 'wireguard-go adds' R.md
lacks '{' R.md

# A quick run's report never replaces docs/PERFORMANCE.md: without --out it
# goes next to its results.
mkdir "$tmp/quick"
sed 's/mode=full/mode=quick/' "$fx/run.tsv" >"$tmp/quick/run.tsv"
cp "$fx/tunnel.tsv" "$tmp/quick/"
/usr/bin/python3 "$gen" --results "$tmp/quick" --no-charts >/dev/null 2>&1 || fail "generator failed on a quick run"
[ -f "$tmp/quick/PERFORMANCE.md" ] || fail "a quick run's report is not next to its results"
grep -qF 'quick run (BENCH_QUICK=1' "$tmp/quick/PERFORMANCE.md" || fail "a quick run's report does not say so"

# Garbage and absent results: a clear error, not a traceback.
if /usr/bin/python3 "$gen" --results "$tmp/none" --out "$tmp/S.md" --no-charts >/dev/null 2>"$tmp/err"; then
	fail "generator succeeded without results"
fi
grep -q 'no .*run.tsv' "$tmp/err" || fail "no clear error without results: $(cat "$tmp/err")"
printf 'bind\tn=1000\tmt6d_add=abc\tip_add=\n\tjunk\nrot\ts=x\n' >"$tmp/partial/addr_bind.tsv"
/usr/bin/python3 "$gen" --results "$tmp/partial" --out "$tmp/T.md" --no-charts >/dev/null 2>"$tmp/err" ||
	fail "generator crashed on malformed results: $(tail -n 3 "$tmp/err")"
lacks '{' T.md
echo "ok: perf-report on the fixture"
