#!/bin/bash
# bench/tunnel.sh: the MT6D tunnel against other tunnels, in one run, on the
# lab topology (scripts/lab.sh: hosts s and c1, each in its own /64, with the
# router namespace r between them; every path crosses two veth links and the
# router's bridge).
#
#   (a) plain    the hosts' own addresses, no tunnel
#   (b) wg-go    wireguard-go (userspace WireGuard, Debian's wireguard-go)
#       wg-kern  kernel WireGuard, where the kernel has it (said when not)
#   (c) openvpn  OpenVPN 2.6 over UDP, static-key point-to-point
#   (d) mt6d     mt6d-peer, rotating every BENCH_ROT (default 1s: the
#                most rotations per second our tests use)
#   mt6d-nooff   mt6d-peer without the TUN offloads (Offloads = off: one
#                packet per TUN read and write; the lever of issue 16)
#   mt6d-nogso   mt6d-peer without UDP GSO and GRO (the lever, measured)
#   mt6d-q1      mt6d-peer with one TUN queue (Queues = 1: one thread)
#   mt6d-q2      mt6d-peer with two TUN queues (Queues = 2: queue 1 read,
#                sealed and sent by a thread of its own; the lever of issue
#                16 that picks the default, Queues = auto)
#   mt6d-nopad   mt6d-peer with Padding = off ((d) runs the default,
#                Padding = 256: the difference is the cost of padding)
#   mt6d-aes     mt6d-peer with Cipher = aes-256-gcm at both ends ((d) runs
#                the default, ChaCha20-Poly1305; needs AES-NI)
#
# For each: TCP throughput with 1 and 4 streams (iperf3), UDP at a fixed
# offered rate (packets per second received, loss), ping RTT at idle, the
# RTT of a ping every 10 ms beside the 1-stream TCP run (p50 and p99 of the
# samples of every run), and the CPU time of the tunnel daemons (both ends)
# during that run, as cores per Gbit/s. Medians of BENCH_RUNS runs of
# BENCH_SECONDS each. The targets of issue 16 (share of the plain path, CPU
# per Gbit/s against mt6d-nooff, RTT under load against the baselines) are
# computed from the run: "met" or "MISSED" with the numbers, and verdict
# records in tunnel.tsv.
#
#   sudo bench/tunnel.sh            (make bench runs it)
#   BENCH_RUNS=5 BENCH_SECONDS=10 BENCH_UDP_MBPS=500 sudo bench/tunnel.sh
#   BENCH_TESTS=tcp1 BENCH_ONLY="plain mt6d" BENCH_RUNS=3 BENCH_SECONDS=4 sudo bench/tunnel.sh
#                                   (a quick look at the one-stream ratio)
#
# Needs iperf3, wireguard-go, wireguard-tools, openvpn (scripts/install-deps.sh
# bench). Prints a Markdown table and the ratios of mt6d to (a), (b), (c);
# every figure also goes to $BENCH_OUT/tunnel.tsv (bench/results.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
lab=$top/scripts/lab.sh
build=${MT6D_BUILD:-$top/build}
export LAB=bt$$
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-5}
UDP_MBPS=${BENCH_UDP_MBPS:-300}
ROT=${BENCH_ROT:-1s}
ONLY=${BENCH_ONLY:-plain wg-go wg-kern openvpn mt6d mt6d-aes mt6d-nooff mt6d-nogso mt6d-nopad mt6d-q1 mt6d-q2}
# BENCH_TESTS: which measurements each path gets (quick runs while tuning:
# BENCH_TESTS=tcp1 BENCH_ONLY="plain mt6d"); the 1-stream run always goes.
TESTS=" ${BENCH_TESTS:-tcp1 tcp4 udp ping} "
work=$(mktemp -d /tmp/mt6d-bench-tunnel.XXXXXX)
pids=()
A_ADDR=2001:db8:0:1::2
B_ADDR=2001:db8:1:1::2
# shellcheck source=bench/results.sh
. "$top/bench/results.sh" tunnel
result param runs="$RUNS" seconds="$SECS" udp_mbps="$UDP_MBPS" rot="$ROT" \
	date="$(date -u +%Y-%m-%dT%H:%MZ)" kernel="$(uname -r)" cores="$(nproc)"

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
at_exit 'stop_pids "${pids[@]}"; "$lab" down >/dev/null 2>&1; rm -rf "$work"'

for tool in iperf3 ping /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "bench/tunnel: $tool is missing" >&2; exit 1; }
done
[ -x "$build/mt6d-peer" ] || { echo "bench/tunnel: build $build/mt6d-peer first" >&2; exit 1; }

nsA() { ip netns exec "$LAB-s" "$@"; }
nsB() { ip netns exec "$LAB-c1" "$@"; }
bg_in() { # ns cmd...: start in the background, remember the PID (the command's own)
	local ns=$1
	shift
	(exec ip netns exec "$ns" "$@") &
	pids+=($!)
	LAST_PID=$!
}
stop_all() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
cpu_ticks() { # pids...: utime + stime, clock ticks
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo $t
}
pct() { # P: the P-th percentile (nearest rank) of numbers on stdin
	sort -g | awk -v p="$1" '{v[NR]=$1} END {if (NR == 0) {print "nan"; exit} r = int((p * NR + 99) / 100); if (r < 1) r = 1; print v[r]}'
}
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
json() { # file python-expression-on-j
	/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"
}
wait_ping() { # ns-fn addr: until the path answers (tunnels need a handshake)
	local i
	for i in $(seq 50); do
		"$1" ping -6 -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# One configuration: run the measurements against DST (B's address through
# that path) with DAEMONS the PIDs whose CPU is counted. Appends a row.
measure() { # name dst daemon-pids...
	local name=$1 dst=$2
	shift 2
	local daemons=("$@") t0 t1
	: >"$work/tcp1" ; : >"$work/tcp4"; : >"$work/udp_pps"; : >"$work/udp_loss"
	: >"$work/rtt"; : >"$work/cpu"; : >"$work/retr"; : >"$work/rtt_load"; : >"$work/rtt_load_sent"
	if ! wait_ping nsA "$dst"; then
		echo "| $name | no path | | | | | | | |" >>"$work/table"
		result path cfg="$CFG" name="$name" ok=0
		return
	fi
	for _ in $(seq "$RUNS"); do
		nsB iperf3 -s -1 -D -I "$work/srv.pid" >/dev/null 2>&1; sleep 0.3
		# RTT under load: a ping every 10 ms beside the stream, from its
		# second half-second to its last (the samples of every run pooled).
		(sleep 0.5; exec ip netns exec "$LAB-s" ping -6 -n -i 0.01 -W 1 \
			-c $(( (SECS * 1000 - 1000) / 10 )) "$dst") >"$work/ping_load" 2>/dev/null &
		local ping_pid=$!
		t0=$(cpu_ticks "${daemons[@]}")
		nsA iperf3 -c "$dst" -t "$SECS" -J >"$work/j" 2>/dev/null
		t1=$(cpu_ticks "${daemons[@]}")
		wait "$ping_pid"
		sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$work/ping_load" | awk '{print $1 * 1000}' >>"$work/rtt_load"
		echo $(( (SECS * 1000 - 1000) / 10 )) >>"$work/rtt_load_sent"
		json "$work/j" "j['end']['sum_received']['bits_per_second']/1e9" >>"$work/tcp1" 2>/dev/null
		json "$work/j" "j['end']['sum_sent'].get('retransmits', 0)" >>"$work/retr" 2>/dev/null
		echo "$t0 $t1 $(getconf CLK_TCK) $SECS" | awk '{print ($2-$1)/$3/$4}' >>"$work/cpu"

		if [[ $TESTS == *" tcp4 "* ]]; then
			nsB iperf3 -s -1 -D >/dev/null 2>&1; sleep 0.3
			nsA iperf3 -c "$dst" -t "$SECS" -P 4 -J >"$work/j" 2>/dev/null
			json "$work/j" "j['end']['sum_received']['bits_per_second']/1e9" >>"$work/tcp4" 2>/dev/null
		fi
		if [[ $TESTS == *" udp "* ]]; then
			nsB iperf3 -s -1 -D >/dev/null 2>&1; sleep 0.3
			nsA iperf3 -c "$dst" -u -b "${UDP_MBPS}M" -l 1200 -w 4M -t "$SECS" -J >"$work/j" 2>/dev/null
			json "$work/j" "(j['end']['sum']['packets']-j['end']['sum']['lost_packets'])/j['end']['sum']['seconds']" >>"$work/udp_pps" 2>/dev/null
			json "$work/j" "j['end']['sum']['lost_percent']" >>"$work/udp_loss" 2>/dev/null
		fi
		if [[ $TESTS == *" ping "* ]]; then
			nsA ping -6 -n -q -c 100 -i 0.01 "$dst" 2>/dev/null |
				awk -F/ '/^rtt/ {print $5 * 1000}' >>"$work/rtt"
		fi
	done
	local p50 p99 lost
	p50=$(pct 50 <"$work/rtt_load"); p99=$(pct 99 <"$work/rtt_load")
	lost=$(awk -v got="$(wc -l <"$work/rtt_load")" '{s += $1} END {printf "%.1f", s ? 100 * (s - got) / s : 0}' "$work/rtt_load_sent")
	printf '| %s | %.3f | %.3f | %.0f | %.2f | %.0f | %.0f / %.0f (%s %%) | %.2f | %s |\n' "$name" \
		"$(median <"$work/tcp1")" "$(median <"$work/tcp4")" "$(median <"$work/udp_pps")" \
		"$(median <"$work/udp_loss")" "$(median <"$work/rtt")" "$p50" "$p99" "$lost" \
		"$(paste "$work/cpu" "$work/tcp1" | awk '$2 > 0 {print $1 / $2}' | median)" \
		"$(median <"$work/retr")" >>"$work/table"
	echo "$name $(median <"$work/tcp1") $(median <"$work/rtt")" >>"$work/summary"
	result path cfg="$CFG" name="$name" ok=1 tcp1_gbps="$(median <"$work/tcp1")" tcp4_gbps="$(median <"$work/tcp4")" \
		udp_pps="$(median <"$work/udp_pps")" udp_loss_pct="$(median <"$work/udp_loss")" rtt_us="$(median <"$work/rtt")" \
		rtt_load_p50_us="$p50" rtt_load_p99_us="$p99" rtt_load_lost_pct="$lost" \
		cores_per_gbps="$(paste "$work/cpu" "$work/tcp1" | awk '$2 > 0 {print $1 / $2}' | median)" \
		retransmits="$(median <"$work/retr")" runs="$(wc -l <"$work/tcp1")"
}

setup_wg_go() {
	local ka kb pa pb
	ka=$(wg genkey); kb=$(wg genkey)
	pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)
	echo "$ka" >"$work/wga.key"; echo "$kb" >"$work/wgb.key"
	# wireguard-go's control socket is /var/run/wireguard/<name>.sock, which
	# namespaces share: each end needs its own interface name.
	local wa=wga$$ wb=wgb$$
	bg_in "$LAB-s" env WG_PROCESS_FOREGROUND=1 wireguard-go -f $wa
	local pa_pid=$LAST_PID
	bg_in "$LAB-c1" env WG_PROCESS_FOREGROUND=1 wireguard-go -f $wb
	local pb_pid=$LAST_PID
	sleep 1
	nsA wg set $wa private-key "$work/wga.key" listen-port 51820 peer "$pb" \
		allowed-ips fd77::2/128 endpoint "[$B_ADDR]:51820"
	nsB wg set $wb private-key "$work/wgb.key" listen-port 51820 peer "$pa" \
		allowed-ips fd77::1/128 endpoint "[$A_ADDR]:51820"
	nsA ip -6 addr add fd77::1/128 dev $wa; nsA ip link set $wa mtu 1420 up
	nsB ip -6 addr add fd77::2/128 dev $wb; nsB ip link set $wb mtu 1420 up
	nsA ip -6 route add fd77::2/128 dev $wa
	nsB ip -6 route add fd77::1/128 dev $wb
	WG_PIDS="$pa_pid $pb_pid"
}

has_kernel_wg() {
	nsA ip link add wgk0 type wireguard 2>/dev/null && { nsA ip link del wgk0; return 0; }
	return 1
}

setup_wg_kern() {
	local ka kb pa pb x
	ka=$(wg genkey); kb=$(wg genkey)
	pa=$(echo "$ka" | wg pubkey); pb=$(echo "$kb" | wg pubkey)
	echo "$ka" >"$work/wka.key"; echo "$kb" >"$work/wkb.key"
	for x in A B; do
		local fn=ns$x
		$fn ip link add wgk0 type wireguard
	done
	nsA wg set wgk0 private-key "$work/wka.key" listen-port 51821 peer "$pb" \
		allowed-ips fd79::2/128 endpoint "[$B_ADDR]:51821"
	nsB wg set wgk0 private-key "$work/wkb.key" listen-port 51821 peer "$pa" \
		allowed-ips fd79::1/128 endpoint "[$A_ADDR]:51821"
	nsA ip -6 addr add fd79::1/128 dev wgk0; nsA ip link set wgk0 mtu 1420 up
	nsB ip -6 addr add fd79::2/128 dev wgk0; nsB ip link set wgk0 mtu 1420 up
	nsA ip -6 route add fd79::2/128 dev wgk0
	nsB ip -6 route add fd79::1/128 dev wgk0
}

setup_openvpn() {
	openvpn --genkey secret "$work/ovpn.key" >/dev/null 2>&1
	local common=(--dev ovpnb0 --dev-type tun --proto udp6 --port 1194 --secret "$work/ovpn.key"
		--cipher AES-256-CBC --auth SHA256 --tun-mtu 1420 --verb 1 --ping 1
		--sndbuf 4194304 --rcvbuf 4194304 --txqueuelen 1000)
	bg_in "$LAB-s" openvpn "${common[@]}" --local "$A_ADDR" --remote "$B_ADDR" \
		--ifconfig-ipv6 fd78::1/64 fd78::2 --log "$work/ovpn-a.log"
	local oa=$LAST_PID
	bg_in "$LAB-c1" openvpn "${common[@]}" --local "$B_ADDR" --remote "$A_ADDR" \
		--ifconfig-ipv6 fd78::2/64 fd78::1 --log "$work/ovpn-b.log"
	OVPN_PIDS="$oa $LAST_PID"
	sleep 2
}

setup_mt6d() { # extra mt6d-peer options; PADDING, CIPHER: the Padding, Cipher lines' values (default: none)
	head -c 32 /dev/urandom | base64 >"$work/psk"
	chmod 600 "$work/psk"
	local who seed tun pseed ptun
	for who in A B; do
		if [ $who = A ]; then
			seed=2001:db8:0:1:5eed::a tun=fd6d::a pseed=2001:db8:1:1:5eed::b ptun=fd6d::b
		else
			seed=2001:db8:1:1:5eed::b tun=fd6d::b pseed=2001:db8:0:1:5eed::a ptun=fd6d::a
		fi
		cat >"$work/$who.conf" <<EOF
[Host]
Interface = eth0
TunnelName = mt6db
TunnelAddress = $tun
SeedAddress = $seed
RotationPeriod = $ROT
${PADDING:+Padding = $PADDING}
${CIPHER:+Cipher = $CIPHER}
[Peer]
PresharedKeyFile = psk
SeedAddress = $pseed
TunnelAddress = $ptun
EOF
	done
	bg_in "$LAB-s" "$build/mt6d-peer" -d -c "$work/A.conf" -S "$work/A.stats" -u root "$@"
	local ma=$LAST_PID
	bg_in "$LAB-c1" "$build/mt6d-peer" -d -c "$work/B.conf" -S "$work/B.stats" -u root "$@"
	MT6D_PIDS="$ma $LAST_PID"
	sleep 1
}

mt6d_counters() { # label: the daemons' counters after a run (drops, rotations)
	local p
	for p in $MT6D_PIDS; do kill -USR1 "$p"; done
	sleep 0.3
	echo "$1 A: $(tr '\n' ' ' <"$work/A.stats")" >>"$work/counters"
	echo "$1 B: $(tr '\n' ' ' <"$work/B.stats")" >>"$work/counters"
	# shellcheck disable=SC2046
	result counters cfg="$CFG" $(sed -n 's/^\([a-z_]*\)=\([0-9]*\)$/A_\1=\2/p' "$work/A.stats") \
		$(sed -n 's/^\([a-z_]*\)=\([0-9]*\)$/B_\1=\2/p' "$work/B.stats")
	echo "$1: sealed and sent by A $(sed -n 's/^tx_packets=//p' "$work/A.stats"), delivered by B $(sed -n 's/^rx_packets=//p' "$work/B.stats") (the difference is lost in the tunnel, rotations included)" >>"$work/counters"
}

"$lab" -n 1 up >/dev/null || { echo "bench/tunnel: lab up failed" >&2; exit 1; }
{
	echo "| path | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP pps received | UDP loss % | ping RTT us | RTT under load p50 / p99 us (lost) | tunnel CPU cores per Gbit/s | TCP retransmits |"
	echo "|---|---|---|---|---|---|---|---|---|"
} >"$work/table"
: >"$work/summary"
: >"$work/counters"
notes=()

for cfg in $ONLY; do
	CFG=$cfg
	case $cfg in
	plain)
		measure "(a) plain veth path" "$B_ADDR" ;;
	wg-go)
		if command -v wireguard-go >/dev/null && command -v wg >/dev/null; then
			setup_wg_go
			# shellcheck disable=SC2086
			measure "(b) wireguard-go" fd77::2 $WG_PIDS
			stop_all
		else
			notes+=("wireguard-go or wg missing: (b) skipped (scripts/install-deps.sh bench)")
		fi ;;
	wg-kern)
		if command -v wg >/dev/null && has_kernel_wg; then
			setup_wg_kern
			measure "(b') kernel WireGuard" fd79::2
			nsA ip link del wgk0; nsB ip link del wgk0
		else
			notes+=("this kernel has no WireGuard module: kernel WireGuard not measured")
		fi ;;
	openvpn)
		if command -v openvpn >/dev/null; then
			setup_openvpn
			# shellcheck disable=SC2086
			measure "(c) OpenVPN UDP" fd78::2 $OVPN_PIDS
			stop_all
		else
			notes+=("openvpn missing: (c) skipped")
		fi ;;
	mt6d)
		# shellcheck disable=SC2086 # BENCH_MT6D_X: -X options of (d), for experiments
		setup_mt6d ${BENCH_MT6D_X:+-X $BENCH_MT6D_X}
		# shellcheck disable=SC2086
		measure "(d) mt6d-peer, Rot $ROT" fd6d::b $MT6D_PIDS
		mt6d_counters "(d)"
		stop_all ;;
	mt6d-nogso)
		setup_mt6d -X nogso,nogro
		# shellcheck disable=SC2086
		measure "mt6d-peer without UDP GSO/GRO" fd6d::b $MT6D_PIDS
		mt6d_counters "nogso"
		stop_all ;;
	mt6d-nooff)
		setup_mt6d -X nooffload
		# shellcheck disable=SC2086
		measure "mt6d-peer without TUN offloads" fd6d::b $MT6D_PIDS
		mt6d_counters "nooff"
		stop_all ;;
	mt6d-q1 | mt6d-q2)
		setup_mt6d -X "queues=${cfg#mt6d-q}"
		# shellcheck disable=SC2086
		measure "mt6d-peer with Queues = ${cfg#mt6d-q}" fd6d::b $MT6D_PIDS
		mt6d_counters "q${cfg#mt6d-q}"
		stop_all ;;
	mt6d-aes)
		CIPHER=aes-256-gcm setup_mt6d
		# shellcheck disable=SC2086
		measure "mt6d-peer with Cipher = aes-256-gcm" fd6d::b $MT6D_PIDS
		mt6d_counters "aes"
		stop_all ;;
	mt6d-nopad)
		PADDING=off setup_mt6d
		# shellcheck disable=SC2086
		measure "mt6d-peer with Padding = off" fd6d::b $MT6D_PIDS
		mt6d_counters "nopad"
		stop_all ;;
	esac
done

echo "## bench/tunnel: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r), runs $RUNS x ${SECS}s, UDP offered ${UDP_MBPS} Mbit/s of 1200-byte datagrams"
echo
cat "$work/table"
echo
for n in "${notes[@]}"; do echo "- $n"; result note text="$n"; done
/usr/bin/python3 - "$work/summary" "$RESULTS_FILE" "$(uptime | sed 's/.*load average: //')" \
	"$top/mt6d/engine/tunnel.h" <<'EOF'
import os
import sys
vals = {}
for line in open(sys.argv[1]):
    *name, tcp, rtt = line.split()
    vals[" ".join(name)] = (float(tcp) if tcp != "nan" else 0.0, float(rtt) if rtt != "nan" else 0.0)
ours = [k for k in vals if k.startswith("(d)")]
if ours:
    m_tcp, m_rtt = vals[ours[0]]
    print()
    print("Ratios of (d) mt6d-peer:")
    for k, (tcp, rtt) in vals.items():
        if k.startswith("(d)") or tcp == 0:
            continue
        print("- vs %s: TCP 1 stream x%.2f, RTT %+.0f us" % (k, m_tcp / tcp, m_rtt - rtt))
    best = max([v[0] for k, v in vals.items() if k.startswith("(b)") or k.startswith("(c)")] or [0])
    if best > 0:
        print("- vs the faster of wireguard-go and OpenVPN: x%.2f (target x2)" % (m_tcp / best))

# The targets of issue 16, each computed from the paths of this run.
paths = {}
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    if f[0] == "path":
        d = dict(x.split("=", 1) for x in f[1:] if "=" in x)
        if d.get("ok") == "1":
            paths[d["cfg"]] = d
def num(cfg, k):
    try:
        v = float(paths[cfg][k])
        return None if v != v else v
    except (KeyError, ValueError):
        return None
verdicts = []
def verdict(name, value, target, ok, text):
    verdicts.append((name, value, target, ok, text))
m1, p1 = num("mt6d", "tcp1_gbps"), num("plain", "tcp1_gbps")
m4, p4 = num("mt6d", "tcp4_gbps"), num("plain", "tcp4_gbps")
if m1 is not None and p1:
    verdict("tcp1_share_of_plain", m1 / p1, 0.25, m1 / p1 >= 0.25,
            "one TCP stream at %.0f %% of the plain veth path (%.3f of %.3f Gbit/s; target >= 25 %%)" % (100 * m1 / p1, m1, p1))
if m4 is not None and p4:
    verdict("tcp4_share_of_plain", m4 / p4, 0.25, m4 / p4 >= 0.25,
            "four TCP streams at %.0f %% of the plain path's four (%.3f of %.3f Gbit/s; target >= 25 %%)" % (100 * m4 / p4, m4, p4))
cm, cn = num("mt6d", "cores_per_gbps"), num("mt6d-nooff", "cores_per_gbps")
if cm is not None and cn:
    verdict("cpu_per_gbps_vs_no_offload", cm / cn, 2 / 3, cm / cn <= 2 / 3,
            "CPU per Gbit/s %.2f cores with the TUN offloads, %.2f without: x%.2f (target <= x0.67)" % (cm, cn, cm / cn))
n1 = num("mt6d-nooff", "tcp1_gbps")
if m1 is not None and n1:
    print("- TUN offloads: one TCP stream x%.2f (%.3f Gbit/s without them)" % (m1 / n1, n1))
a1, ca = num("mt6d-aes", "tcp1_gbps"), num("mt6d-aes", "cores_per_gbps")
if m1 and a1 is not None and p1:
    print("- Cipher = aes-256-gcm: one TCP stream %.3f Gbit/s, %.0f %% of the plain path, x%.2f of (d)%s" % (
        a1, 100 * a1 / p1, a1 / m1,
        ", CPU per Gbit/s %.2f cores against %.2f" % (ca, cm) if ca is not None and cm is not None else ""))
# Queues = auto must be the better of one and two queues on this machine:
# two win when they carry four streams faster by more than the 10 % that
# runs of one path differ by here, at no more CPU per Gbit/s.
q1, q2 = num("mt6d-q1", "tcp4_gbps"), num("mt6d-q2", "tcp4_gbps")
if q1 and q2 is not None:
    s1, s2 = num("mt6d-q1", "tcp1_gbps"), num("mt6d-q2", "tcp1_gbps")
    c1, c2 = num("mt6d-q1", "cores_per_gbps"), num("mt6d-q2", "cores_per_gbps")
    r1, r2 = num("mt6d-q1", "rtt_load_p50_us"), num("mt6d-q2", "rtt_load_p50_us")
    def f(v, fmt):
        return fmt % v if v is not None else "n/a"
    print("- Queues 2 against 1: four TCP streams %.3f against %.3f Gbit/s (x%.2f), one stream %s against %s, "
          "CPU per Gbit/s %s against %s cores, RTT p50 under load %s against %s us" % (
              q2, q1, q2 / q1, f(s2, "%.3f"), f(s1, "%.3f"), f(c2, "%.2f"), f(c1, "%.2f"),
              f(r2, "%.0f"), f(r1, "%.0f")))
    auto = 1
    for line in open(sys.argv[4]):
        if line.startswith("#define TUNNEL_AUTO_QUEUES"):
            auto = int(line.split()[2])
    auto = min(auto, len(os.sched_getaffinity(0)))  # tunnel_auto_queues
    best = 2 if q2 > 1.1 * q1 and (c1 is None or c2 is None or c2 <= c1) else 1
    verdict("queues_auto_is_best", q2 / q1, 1.1, auto == best,
            "Queues = auto is %d here; two queues carry four TCP streams at x%.2f of one (%.3f against %.3f Gbit/s), "
            "and CPU per Gbit/s %s against %s cores, so the better here is %d (two win above x1.10 at no more CPU per Gbit/s)" % (
                auto, q2 / q1, q2, q1, f(c2, "%.2f"), f(c1, "%.2f"), best))
for q in ("p50", "p99"):
    mq = num("mt6d", "rtt_load_%s_us" % q)
    base = {c: num(c, "rtt_load_%s_us" % q) for c in ("wg-go", "openvpn")}
    base = {c: v for c, v in base.items() if v is not None}
    if mq is not None and base:
        ok = all(mq < v for v in base.values())
        verdict("rtt_load_%s_below_baselines" % q, mq, min(base.values()), ok,
                "RTT %s under load %.0f us; %s (target: below every baseline)" % (
                    q, mq, ", ".join("%s %.0f us" % (c, v) for c, v in base.items())))
mi = num("mt6d", "rtt_us")
base = {c: num(c, "rtt_us") for c in ("wg-go", "openvpn")}
base = {c: v for c, v in base.items() if v is not None}
if mi is not None and base:
    verdict("rtt_idle_below_baselines", mi, min(base.values()), all(mi < v for v in base.values()),
            "idle RTT %.0f us; %s (target: below every user-space tunnel)" % (
                mi, ", ".join("%s %.0f us" % (c, v) for c, v in base.items())))
if verdicts:
    print()
    print("Targets (issue 16), computed from this run (load average at the end: %s; other jobs share the cores):" % sys.argv[3])
    with open(sys.argv[2], "a") as out:
        for name, value, target, ok, text in verdicts:
            print("- %s: %s" % ("met" if ok else "MISSED", text))
            out.write("verdict\tname=%s\tvalue=%.4g\ttarget=%.4g\tstatus=%s\ttext=%s\n" % (
                name, value, target, "met" if ok else "missed", text))
EOF
echo
echo "mt6d-peer counters after the runs (drops during rotations under load):"
sed 's/^/    /' "$work/counters"
