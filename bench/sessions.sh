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
# that its own addresses cost nothing), against the real mt6d-server,
# every session rotating. Then, as real clients do, every session kept
# alive (keepalives, its sockets following the slots) for a soak of
# BENCH_SOAK s with a sample of pings every BENCH_PING_INTERVAL s (lost: two
# pings in a row unanswered, or 35 s without a word from the server), then
# a re-key storm: `mt6d rekey` on the server, and every client handshakes
# again within BENCH_STORM_JITTER_MS, make-before-break. The server's CPU
# and memory over the soak and the storm, the generator's own CPU and memory.
#
#   sudo bench/sessions.sh
#   BENCH_CLIENTS="10 50 100" BENCH_ROT=1s sudo bench/sessions.sh
#   BENCH_CLIENTS="" BENCH_SESSIONS="100 1000 2000" BENCH_GEN_TIMEOUT=600 sudo bench/sessions.sh
#   BENCH_MODE=scale BENCH_CLIENTS="" BENCH_SESSIONS="200 1000" BENCH_SOAK=60 BENCH_PING_INTERVAL=20 sudo bench/sessions.sh
#   BENCH_MODE=routed BENCH_IFACE=shared BENCH_CLIENTS="" BENCH_SESSIONS="1000 5000 15000" sudo bench/sessions.sh
#
# BENCH_MODE (default per-address) is the server's AddressMode
# (mt6d.conf(5)): per-address binds every live MT6D address on eth0; scale
# claims the /64 with one local route and answers neighbour discovery
# itself; routed takes its MT6D addresses from a /64 the lab's router routes
# to it (Prefix = 2001:db8:0:f1::/64, a static route on r), without
# neighbour discovery. BENCH_IFACE, when set, is the server's
# SessionInterface (per-client, shared, auto); unset, the server's default
# (recorded as "default").
#
# Soak: BENCH_SOAK s (default 600) for the largest N of the run, BENCH_SOAK_SHORT
# (default 60) for the others; BENCH_PING_INTERVAL (60), BENCH_PING_SAMPLE
# (0: all). Storm: BENCH_STORM=0 skips it; BENCH_STORM_JITTER_MS (2000),
# BENCH_STORM_TIMEOUT (60). BENCH_ARRIVAL_MS spreads the first requests over
# that window (default 0: all at once).
#
# Every figure also goes to $BENCH_OUT/sessions.tsv (bench/results.sh): the
# daemon rows as "sessions" records, the generator rows as "gen" records with
# the server's address mode and session interface.
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
per-address | scale | routed) ;;
*) echo "BENCH_MODE must be per-address, scale or routed" >&2; exit 2 ;;
esac
BENCH_IFACE=${BENCH_IFACE:-}
case $BENCH_IFACE in
'' | per-client | shared | auto) ;;
*) echo "BENCH_IFACE must be per-client, shared or auto" >&2; exit 2 ;;
esac
# BENCH_SLOTS, when set, is the server's SlotSockets (per-session, shared,
# auto): the shared slot sockets in scale mode.
BENCH_SLOTS=${BENCH_SLOTS:-}
case $BENCH_SLOTS in
'' | per-session | shared | auto) ;;
*) echo "BENCH_SLOTS must be per-session, shared or auto" >&2; exit 2 ;;
esac
GEN_MODE=$BENCH_MODE
GEN_IFACE=${BENCH_IFACE:-default}
BENCH_SOAK=${BENCH_SOAK:-600}
BENCH_SOAK_SHORT=${BENCH_SOAK_SHORT:-60}
BENCH_PING_INTERVAL=${BENCH_PING_INTERVAL:-60}
BENCH_PING_SAMPLE=${BENCH_PING_SAMPLE:-0}
BENCH_STORM=${BENCH_STORM:-1}
BENCH_STORM_JITTER_MS=${BENCH_STORM_JITTER_MS:-2000}
BENCH_STORM_TIMEOUT=${BENCH_STORM_TIMEOUT:-60}
BENCH_ARRIVAL_MS=${BENCH_ARRIVAL_MS:-0}
export BENCH_PING_INTERVAL BENCH_PING_SAMPLE BENCH_STORM BENCH_STORM_JITTER_MS BENCH_STORM_TIMEOUT BENCH_ARRIVAL_MS
# The routed prefix of the lab (BENCH_MODE=routed): the router sends it to
# the server's address on the lab link.
ROUTED_PREFIX=2001:db8:0:f1::
export SESS_ROT=${BENCH_ROT:-3s}
result param rot="$SESS_ROT" seconds="$BENCH_SECONDS" soak="$BENCH_SOAK" soak_short="$BENCH_SOAK_SHORT" \
	ping_interval="$BENCH_PING_INTERVAL" ping_sample="$BENCH_PING_SAMPLE" storm="$BENCH_STORM" \
	storm_jitter_ms="$BENCH_STORM_JITTER_MS" storm_timeout="$BENCH_STORM_TIMEOUT" arrival_ms="$BENCH_ARRIVAL_MS" \
	gen_timeout="$BENCH_GEN_TIMEOUT"

percentile() { # p, values on stdin (ms) -> value
	sort -n | awk -v p="$1" '{v[NR] = $1} END {if (NR == 0) {print "-"; exit}
		i = int((NR - 1) * p / 100 + 0.5) + 1; print v[i]}'
}

now_ms() { date +%s%3N; }

set_mode() { # server.conf: AddressMode (and its Prefix), SessionInterface in [Server]
	sed -i "/^TunnelPrefix/a AddressMode = $BENCH_MODE" "$1"
	if [ "$BENCH_MODE" = routed ]; then
		sed -i "/^AddressMode/a Prefix = $ROUTED_PREFIX/64" "$1"
	fi
	if [ -n "$BENCH_IFACE" ]; then
		sed -i "/^AddressMode/a SessionInterface = $BENCH_IFACE" "$1"
	fi
	if [ -n "$BENCH_SLOTS" ]; then
		sed -i "/^AddressMode/a SlotSockets = $BENCH_SLOTS" "$1"
	fi
}

# The lab router's static route for the routed prefix (an operator's
# configuration of the upstream router), unless the lab made it already.
routed_route() {
	[ "$BENCH_MODE" = routed ] || return 0
	in_ns r ip -6 route show "$ROUTED_PREFIX/64" | grep -q . ||
		in_ns r ip -6 route add "$ROUTED_PREFIX/64" via 2001:db8:0:1::2
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
				up=0
				for _ in $(seq 1 1200); do
					if [ -s "$work/c$i/state/mt6d0.server" ]; then
						up=1
						break
					fi
					sleep 0.05
				done
				# Only a client that came up counts as up.
				if [ "$up" = 0 ]; then
					echo "client $i: no session" >&2
					exit 1
				fi
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
		cat "$work/gen.err" >&2
		cleanup >/dev/null 2>&1
	)
}

# N clients from one bench_sessions process in c1 (ids 1000..), soak $2 s.
run_gen() { # N soak_s
	local n=$1 soak=$2 pid gen out
	(
		export LAB_CLIENTS=1
		# shellcheck source=tests/netns/sessions-lib.sh
		. "$(dirname "$0")/../tests/netns/sessions-lib.sh"
		gen=${BENCH_GEN:-$build/bench/bench_sessions}
		sess_lab_up
		seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
		"$gen" keys "$n" 1000 "$seed" >>"$work/s/server.conf"
		set_mode "$work/s/server.conf"
		routed_route
		in_ns r ip -6 route add 2001:db8:3::/48 via 2001:db8:1:1::2 dev br0
		in_ns c1 ip -6 route add local 2001:db8:3::/48 dev lo table local
		# 4 descriptors per session (its TUN or none, 3 slot sockets) and
		# the introduction's: what LimitNOFILE= gives the unit.
		ulimit -n $((5 * n + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
		# The server's own idle timeout (120 s): the clients keep their
		# sessions alive as mt6d-client does.
		# Started in 10 s with 1,000 clients, not with 5,000 (2026-12-07).
		# shellcheck disable=SC2086 # BENCH_SERVER_OPTS: options, e.g. -vv
		SESS_START_TIMEOUT=$((10 + n / 50)) server_start ${BENCH_SERVER_OPTS:-}
		wait_for 10 test -s "$work/intro.conf" || exit 1
		pid=${PID[s]}
		out=$work/gen.out
		BENCH_SERVER_PID=$pid BENCH_SOAK=$soak BENCH_SESSIONS_HOLD=1 "$lab" exec c1 "$gen" run "$n" 1000 \
			"$seed" "$work/s/server.pub" "$work/intro.conf" 2001:db8:3:: "$BENCH_GEN_TIMEOUT" \
			>"$out" 2>"$work/gen.err" &
		EXTRA_PIDS=$!
		v() { awk -v k="$1" '$1 == k {print $2}' "$out"; }
		wait_line() { # key seconds
			local _
			for _ in $(seq 1 $(($2 * 10))); do
				grep -q "^$1 " "$out" && return 0
				kill -0 "$EXTRA_PIDS" 2>/dev/null || return 1
				sleep 0.1
			done
			return 1
		}
		wait_line first_ms_p99 $((BENCH_GEN_TIMEOUT + 120)) || { cat "$work/gen.err" >&2; exit 1; }
		# The server's view right after the arrival.
		srv_sessions=$(field s sessions)
		srv_fds=$(field s process_fds)
		if [ "$soak" -gt 0 ]; then
			wait_line soak_s $((soak + 120)) || { cat "$work/gen.err" >&2; exit 1; }
		fi
		if [ "$BENCH_STORM" != 0 ]; then
			"$build/mt6d" rekey -s "$work/s/ctl.sock" >/dev/null || echo "mt6d rekey failed" >&2
			wait_line end $((BENCH_STORM_TIMEOUT + 180)) || echo "the storm did not end" >&2
		fi
		local rate srate up
		up=$(v up)
		rate=$(awk -v n="$up" -v ms="$(v last_up_ms)" 'BEGIN {printf "%.1f", (ms > 0) ? n * 1000 / ms : 0}')
		srate=$(v storm_rate)
		rss=$(v server_rss_kib)
		[ -n "$rss" ] && [ "$rss" -ge 0 ] 2>/dev/null ||
			rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
		printf '| %s | %s | %d | %s/%s/%s | %s | %s | %s | %s | %s | %s/%s | %s | %s | %s | %d | %s %% | %s %% | %s %% |\n' \
			"$GEN_MODE" "$GEN_IFACE" "$n" "$up" "$(v first)" "$(v lost)" \
			"$(v up_ms_p50)" "$(v up_ms_p95)" "$(v first_ms_p95)" "$rate" "$(v soak_s)" \
			"$(v pings_answered)" "$(v pings_sent)" "$(v storm_up_ms_p50)" "$(v storm_up_ms_p95)" \
			"${srate:--}" "$((rss / 1024))" "$(v server_cpu_pct)" "$(v storm_server_cpu_pct)" "$(v gen_cpu_pct)"
		rotations=$(show s | awk -F= '$1 == "rotations" {print $2; exit}')
		echo "sessions on the server after the arrival: $srv_sessions, now: $(field s sessions), rotations of one: $rotations, requests sent: $(v requests), server addr_errors: $(field s addr_errors), address mode: $(field s address_mode), nd_addrs: $(field s nd_addrs), nd_answered: $(field s nd_answered), nd_socket_drops: $(field s nd_socket_drops), slot sockets: $(field s slot_sockets_mode), server descriptors after the arrival: $srv_fds" >&2
		# The server's counters, its sessions' summed (those that are not 0).
		show s | awk -F= '$1 ~ /^(drops_|rx_|tx_packets|intro_rx|rekeys|mux_(rx|tx|drops|endpoints))/ && $2 ~ /^[0-9]+$/ {t[$1] += $2}
			END {for (k in t) if (t[k]) printf "%s=%d ", k, t[k]; print ""}' >&2
		# Every "key value" of the generator, then ours.
		# shellcheck disable=SC2046 # pairs, one word each
		result gen mode="$GEN_MODE" iface="$GEN_IFACE" sessions="$n" rate="$rate" \
			$(awk 'NF == 2 && $1 != "end" {print $1 "=" $2}' "$out") \
			rss_mib="$((rss / 1024))" rss_kib="$rss" cpu_pct="$(v server_cpu_pct)" \
			server_sessions="$srv_sessions" slots="$(field s slot_sockets_mode)" server_fds="$srv_fds" rotations="$rotations" addr_errors="$(field s addr_errors)" \
			timeout_s="$BENCH_GEN_TIMEOUT" soak_planned_s="$soak" \
			server_nofile="$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits" 2>/dev/null)"
		trap - EXIT
		cat "$work/gen.err" >&2
		cleanup >/dev/null 2>&1
	)
}

header() {
	echo "| clients | up/pinged | session p50 | session p95 | first ping p50 | first ping p95 | sessions/s | server RSS (MiB) | server CPU |"
	echo "|---|---|---|---|---|---|---|---|---|"
}

gen_header() {
	echo "| mode | iface | sessions | up/first byte/lost | set-up p50 | set-up p95 | first byte p95 | sessions/s | soak s | pings answered/sent | storm set-up p50 | storm set-up p95 | storm sessions/s | server RSS (MiB) | server CPU soak | server CPU storm | generator CPU |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
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
	echo "Sessions from one load-generating process (bench_sessions; AddressMode $BENCH_MODE; SessionInterface $GEN_IFACE; Rot $SESS_ROT; times in ms from the start, storm times from the change of K; first byte = first echo answered through the session)"
	echo
	gen_header
	# shellcheck disable=SC2086 # a list of sizes
	largest=$(printf '%s\n' $BENCH_SESSIONS | sort -n | tail -n 1)
	for n in $BENCH_SESSIONS; do
		if [ "$n" = "$largest" ]; then run_gen "$n" "$BENCH_SOAK"; else run_gen "$n" "$BENCH_SOAK_SHORT"; fi
	done
fi
