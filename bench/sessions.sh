#!/bin/bash
# shellcheck disable=SC2030,SC2031 # each size runs in a subshell of its own, on purpose
# bench/sessions.sh: session establishment and the cost of sessions on the
# server, on the lab topology (scripts/lab.sh: server s, clients c1..cN, each
# in its own /64, behind the router r).
#
# For each N in BENCH_CLIENTS (default "10 40"): mt6d-server and N
# mt6d-client daemons started at the same instant (the introduction config
# is handed over by file, -T, so that the DHT's own latency, measured by
# bench/rendezvous.sh, is left out). Reported:
#   - time from client start to session up (its state file written), and to
#     the first ping answered through the session: median and p95;
#   - sessions established per second (N / time to the last one);
#   - the server's resident memory and CPU (share of one core) over
#     BENCH_SECONDS of steady state with N sessions rotating every BENCH_ROT.
#
# For each N in BENCH_SESSIONS (default "100 1000"): the same figures with
# N clients that one process plays (bench/bench_sessions.c: each client its
# own key pair and /64 inside 2001:db8:3::/48, the real introduction,
# request, response, and an ICMPv6 echo through the session tunnel as its
# first byte; the generator's host claims the /48 with one local route, so
# that its own addresses cost nothing), against the real mt6d-server with
# one session interface per client, every session rotating. One client
# daemon per lab host stops near a hundred on this machine (a namespace, a
# veth, a daemon, its TUN and addresses per client); this goes to
# thousands.
#
#   sudo bench/sessions.sh
#   BENCH_CLIENTS="10 50 100" BENCH_ROT=1s sudo bench/sessions.sh
#   BENCH_CLIENTS="" BENCH_SESSIONS="100 1000 2000" BENCH_GEN_TIMEOUT=600 sudo bench/sessions.sh
#   BENCH_MODE=scale BENCH_CLIENTS="" BENCH_SESSIONS="100 1000" sudo bench/sessions.sh
#
# BENCH_MODE (default per-address) is the server's AddressMode
# (mt6d.conf(5)): per-address binds every live MT6D address on eth0; scale
# claims the /64 with one local route and answers neighbour discovery itself.
#
# Every figure also goes to $BENCH_OUT/sessions.tsv (bench/results.sh): the
# daemon rows as "sessions" records, the generator rows as "gen" records with
# the server's address mode (BENCH_MODE, per-address when unset).
set -u
# shellcheck source=bench/results.sh
. "$(dirname "$0")/results.sh" sessions
BENCH_CLIENTS=${BENCH_CLIENTS-"10 40"}
BENCH_SESSIONS=${BENCH_SESSIONS-"100 1000"}
BENCH_SECONDS=${BENCH_SECONDS:-20}
# How long the generator's clients keep trying (s): the ones without a
# session by then count as not up.
BENCH_GEN_TIMEOUT=${BENCH_GEN_TIMEOUT:-120}
BENCH_MODE=${BENCH_MODE:-per-address}
case $BENCH_MODE in
per-address | scale) ;;
*) echo "BENCH_MODE must be per-address or scale" >&2; exit 2 ;;
esac
GEN_MODE=$BENCH_MODE
export SESS_ROT=${BENCH_ROT:-3s}
result param rot="$SESS_ROT" seconds="$BENCH_SECONDS"

percentile() { # p, values on stdin (ms) -> value
	sort -n | awk -v p="$1" '{v[NR] = $1} END {if (NR == 0) {print "-"; exit}
		i = int((NR - 1) * p / 100 + 0.5) + 1; print v[i]}'
}

now_ms() { date +%s%3N; }

set_mode() { # server.conf: AddressMode in [Server] (after TunnelPrefix)
	sed -i "/^TunnelPrefix/a AddressMode = $BENCH_MODE" "$1"
}

run_one() { # N
	local n=$1 t0 i pid ut0 ut1 hz rss
	(
		export LAB_CLIENTS=$n
		# shellcheck source=tests/netns/sessions-lib.sh
		. "$(dirname "$0")/../tests/netns/sessions-lib.sh"
		sess_lab_up
		set_mode "$work/s/server.conf"
		server_start
		t0=$(now_ms)
		for i in $(seq 1 "$n"); do
			client_start "$i"
		done
		: >"$work/up.ms"
		: >"$work/ping.ms"
		# One watcher per client: session up (state file), then the first
		# ping answered through it.
		for i in $(seq 1 "$n"); do
			(
				for _ in $(seq 1 1200); do
					[ -s "$work/c$i/state/mt6d0.server" ] && break
					sleep 0.05
				done
				echo $(($(now_ms) - t0)) >>"$work/up.ms"
				for _ in $(seq 1 300); do
					if "$lab" exec "c$i" ping -c 1 -W 0.2 "$(server_tun "$i")" >/dev/null 2>&1; then
						echo $(($(now_ms) - t0)) >>"$work/ping.ms"
						exit 0
					fi
				done
				echo "client $i: no ping answered" >&2
			) &
		done
		# shellcheck disable=SC2046 # a list of PIDs
		wait $(jobs -p | grep -v -w -e "${PID[s]}" $(for i in $(seq 1 "$n"); do echo "-e ${PID[c$i]}"; done)) 2>/dev/null
		pid=${PID[s]}
		hz=$(getconf CLK_TCK)
		ut0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		sleep "$BENCH_SECONDS"
		ut1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
		local ups pings last
		ups=$(wc -l <"$work/up.ms")
		pings=$(wc -l <"$work/ping.ms")
		last=$(sort -n "$work/up.ms" | tail -n 1)
		printf '| %d | %d/%d | %s | %s | %s | %s | %s | %d | %s %% |\n' "$n" "$ups" "$pings" \
			"$(percentile 50 <"$work/up.ms")" "$(percentile 95 <"$work/up.ms")" \
			"$(percentile 50 <"$work/ping.ms")" "$(percentile 95 <"$work/ping.ms")" \
			"$(awk -v n="$ups" -v ms="${last:-0}" 'BEGIN {printf "%.1f", ms ? n * 1000 / ms : 0}')" \
			"$((rss / 1024))" \
			"$(awk -v d=$((ut1 - ut0)) -v hz="$hz" -v s="$BENCH_SECONDS" 'BEGIN {printf "%.2f", 100 * d / hz / s}')"
		result sessions clients="$n" up="$ups" pinged="$pings" \
			up_p50="$(percentile 50 <"$work/up.ms")" up_p95="$(percentile 95 <"$work/up.ms")" \
			ping_p50="$(percentile 50 <"$work/ping.ms")" ping_p95="$(percentile 95 <"$work/ping.ms")" \
			up_last="${last:-0}" rss_mib="$((rss / 1024))" rss_kib="$rss" \
			cpu_pct="$(awk -v d=$((ut1 - ut0)) -v hz="$hz" -v s="$BENCH_SECONDS" 'BEGIN {printf "%.2f", 100 * d / hz / s}')"
		trap - EXIT
		cleanup >/dev/null 2>&1
	)
}

# N clients from one bench_sessions process in c1 (ids 1000..).
run_gen() { # N
	local n=$1 pid ut0 ut1 hz rss gen out
	(
		export LAB_CLIENTS=1
		# shellcheck source=tests/netns/sessions-lib.sh
		. "$(dirname "$0")/../tests/netns/sessions-lib.sh"
		gen=${BENCH_GEN:-$build/bench/bench_sessions}
		sess_lab_up
		seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		"$gen" keys "$n" 1000 "$seed" >>"$work/s/server.conf"
		set_mode "$work/s/server.conf"
		in_ns r ip -6 route add 2001:db8:3::/48 via 2001:db8:1:1::2 dev br0
		in_ns c1 ip -6 route add local 2001:db8:3::/48 dev lo table local
		server_start -I 3600000
		wait_for 10 test -s "$work/intro.conf" || exit 1
		out=$work/gen.out
		BENCH_SESSIONS_HOLD=1 "$lab" exec c1 "$gen" run "$n" 1000 "$seed" "$work/s/server.pub" \
			"$work/intro.conf" 2001:db8:3:: "$BENCH_GEN_TIMEOUT" >"$out" 2>"$work/gen.err" &
		EXTRA_PIDS=$!
		for _ in $(seq 1 $((BENCH_GEN_TIMEOUT * 10 + 100))); do
			grep -q '^first_ms_p95' "$out" && break
			sleep 0.1
		done
		pid=${PID[s]}
		hz=$(getconf CLK_TCK)
		ut0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		sleep "$BENCH_SECONDS"
		ut1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
		v() { awk -v k="$1" '$1 == k {print $2}' "$out"; }
		local rate cpu srv_sessions rotations
		rate=$(awk -v n="$(v up)" -v ms="$(v last_up_ms)" 'BEGIN {printf "%.1f", (ms > 0) ? n * 1000 / ms : 0}')
		cpu=$(awk -v d=$((ut1 - ut0)) -v hz="$hz" -v s="$BENCH_SECONDS" 'BEGIN {printf "%.2f", 100 * d / hz / s}')
		printf '| %d | %s/%s | %s | %s | %s | %s | %s | %d | %s %% |\n' "$n" "$(v up)" "$(v first)" \
			"$(v up_ms_p50)" "$(v up_ms_p95)" "$(v first_ms_p50)" "$(v first_ms_p95)" \
			"$rate" "$((rss / 1024))" "$cpu"
		srv_sessions=$(field s sessions)
		rotations=$(show s | awk -F= '$1 == "rotations" {print $2; exit}')
		echo "sessions on the server: $srv_sessions, rotations of one: $rotations, requests sent: $(v requests), server addr_errors: $(field s addr_errors), address mode: $(field s address_mode), nd_addrs: $(field s nd_addrs), nd_answered: $(field s nd_answered), nd_socket_drops: $(field s nd_socket_drops)" >&2
		result gen mode="$GEN_MODE" sessions="$n" up="$(v up)" first="$(v first)" \
			up_p50="$(v up_ms_p50)" up_p95="$(v up_ms_p95)" first_p50="$(v first_ms_p50)" \
			first_p95="$(v first_ms_p95)" up_last="$(v last_up_ms)" rate="$rate" \
			rss_mib="$((rss / 1024))" rss_kib="$rss" cpu_pct="$cpu" requests="$(v requests)" \
			server_sessions="$srv_sessions" rotations="$rotations" addr_errors="$(field s addr_errors)" \
			timeout_s="$BENCH_GEN_TIMEOUT"
		trap - EXIT
		cleanup >/dev/null 2>&1
	)
}

header() {
	echo "| clients | up/pinged | session p50 | session p95 | first ping p50 | first ping p95 | sessions/s | server RSS (MiB) | server CPU |"
	echo "|---|---|---|---|---|---|---|---|---|"
}

if [ -n "$BENCH_CLIENTS" ]; then
	echo "Sessions (AddressMode $BENCH_MODE, Rot $SESS_ROT, server and clients on this machine's 2 cores; times from client start, ms)"
	echo
	header
	for n in $BENCH_CLIENTS; do
		run_one "$n"
	done
fi
if [ -n "$BENCH_SESSIONS" ]; then
	[ -n "$BENCH_CLIENTS" ] && echo
	echo "Sessions from one load-generating process (bench_sessions; AddressMode $BENCH_MODE; Rot $SESS_ROT; times from client start, ms; first ping = first echo answered through the session)"
	echo
	header
	for n in $BENCH_SESSIONS; do
		run_gen "$n"
	done
fi
