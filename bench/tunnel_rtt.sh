#!/bin/bash
# bench/tunnel_rtt.sh: the round-trip time the MT6D tunnel adds at idle, as
# a distribution (min, median, mean, 90th percentile) rather than
# bench/tunnel.sh's median of ping averages, with and without busy polling.
#
# On the lab topology of bench/tunnel.sh (hosts s and c1, router r between
# them), each round measures, one after the other: the plain path (the
# hosts' own addresses), then for each mt6d-peer variant (restarted per
# round) the path through the tunnel. Rounds interleave the variants so that
# the load of the machine falls on all of them alike.
#
#   sudo bench/tunnel_rtt.sh
#   BENCH_ROUNDS=6 BENCH_PINGS=200 sudo bench/tunnel_rtt.sh
#
# BENCH_VARIANTS: a ';'-separated list of name=mt6d-peer options (default:
# "default=;busy-poll=-X poll=200"). Pings are 10 ms apart, so every
# packet finds the daemons idle.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
lab=$top/scripts/lab.sh
build=${MT6D_BUILD:-$top/build}
export LAB=br$$
ROUNDS=${BENCH_ROUNDS:-4}
PINGS=${BENCH_PINGS:-100}
ROT=${BENCH_ROT:-1s}
VARIANTS=${BENCH_VARIANTS:-default=;busy-poll=-X poll=200}
work=$(mktemp -d /tmp/mt6d-bench-rtt.XXXXXX)
pids=()
B_ADDR=2001:db8:1:1::2

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
at_exit 'stop_pids "${pids[@]}"; "$lab" down >/dev/null 2>&1; rm -rf "$work"'

[ -x "$build/mt6d-peer" ] || { echo "bench/tunnel_rtt: build $build/mt6d-peer first" >&2; exit 1; }

nsA() { ip netns exec "$LAB-s" "$@"; }

write_confs() {
	local who seed tun pseed ptun
	head -c 32 /dev/urandom | base64 >"$work/psk"
	chmod 600 "$work/psk"
	for who in A B; do
		if [ $who = A ]; then
			seed=2001:db8:0:1:5eed::a tun=fd6d::a pseed=2001:db8:1:1:5eed::b ptun=fd6d::b
		else
			seed=2001:db8:1:1:5eed::b tun=fd6d::b pseed=2001:db8:0:1:5eed::a ptun=fd6d::a
		fi
		cat >"$work/$who.conf" <<EOF
[Host]
Interface = eth0
TunnelName = mt6dr
TunnelAddress = $tun
SeedAddress = $seed
RotationPeriod = $ROT
[Peer]
PresharedKeyFile = psk
SeedAddress = $pseed
TunnelAddress = $ptun
EOF
	done
}

start_peers() { # mt6d-peer options (one word list)
	local ns who
	for who in A B; do
		[ $who = A ] && ns=$LAB-s || ns=$LAB-c1
		# shellcheck disable=SC2086
		(exec ip netns exec "$ns" "$build/mt6d-peer" -d -c "$work/$who.conf" $1 2>>"$work/peer.log") &
		pids+=($!)
	done
}

stop_peers() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}

ping_us() { # addr: one RTT in microseconds per line
	nsA ping -6 -n -c "$PINGS" -i 0.01 "$1" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\).*/\1/p' | awk '{print $1 * 1000}'
}

wait_path() { # addr
	local i
	for i in $(seq 50); do
		nsA ping -6 -c 1 -W 1 "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

stats() { # file: n min median mean p90
	sort -g "$1" | awk '{v[NR] = $1; s += $1}
		END {if (NR == 0) {print "0 nan nan nan nan"; exit}
		     i = int(NR * 0.9); if (i < 1) i = 1
		     printf "%d %.0f %.0f %.0f %.0f\n", NR, v[1], v[int((NR + 1) / 2)], s / NR, v[i]}'
}

"$lab" -n 1 up >/dev/null || { echo "bench/tunnel_rtt: lab up failed" >&2; exit 1; }
write_confs
IFS=';' read -ra vs <<<"$VARIANTS"
: >"$work/plain"
for r in $(seq "$ROUNDS"); do
	ping_us "$B_ADDR" >>"$work/plain"
	for v in "${vs[@]}"; do
		name=${v%%=*}
		start_peers "${v#*=}"
		if wait_path fd6d::b; then
			ping_us fd6d::b >>"$work/v.$name"
		else
			echo "bench/tunnel_rtt: no path through the tunnel ($name), round $r" >&2
		fi
		stop_peers
	done
done

read -r pn pmin pmed pavg p90 < <(stats "$work/plain")
echo "## bench/tunnel_rtt: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds x $PINGS pings 10 ms apart"
echo
echo "| path | pings | min us | median us | mean us | p90 us | added min / median / mean us |"
echo "|---|---|---|---|---|---|---|"
echo "| plain veth path | $pn | $pmin | $pmed | $pavg | $p90 | |"
for v in "${vs[@]}"; do
	name=${v%%=*}
	read -r n mn md av p9 < <(stats "$work/v.$name")
	echo "| mt6d-peer $name | $n | $mn | $md | $av | $p9 | $(echo "$mn $md $av $pmin $pmed $pavg" |
		awk '{printf "%+g / %+g / %+g", $1 - $4, $2 - $5, $3 - $6}') |"
done
