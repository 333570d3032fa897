# shellcheck shell=bash
# Shared set-up of the mt6d-peer namespace tests (sourced, not run).
#
#   peer A (lab host s, 2001:db8:0:1::/64)      peer B (lab host c1, 2001:db8:1:1::/64)
#     mt6dA: fd6d::a  -- encrypted, rotating --  mt6dB: fd6d::b
#        eth0 ------------- br0 (router ns r) ------------- eth0
#
# The caller sets PEER_ROT (e.g. 1s), then calls peer_lab_up, peer_start A|B
# [extra mt6d-peer options], and relies on the EXIT trap for clean-up.
# MT6D_TEST_OFFLOADS=off|on writes "Offloads = ..." into both configs (the
# data-plane tests run both ways; unset: the default, on). PEER_CIPHER_A and
# PEER_CIPHER_B write "Cipher = ..." into that peer's config (unset: none).
# MT6D_TEST_QUEUES=N writes "Queues = N" into both (unset: the default).
# Every name carries $$: parallel runs cannot collide.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lab=$top/scripts/lab.sh
build=${MT6D_BUILD:-$top/build}
export LAB=tdp$$
work=$(mktemp -d /tmp/mt6d-peer-test.XXXXXX)
PEER_ROT=${PEER_ROT:-1s}
TUN_A=fd6d::a
TUN_B=fd6d::b
SEED_A=2001:db8:0:1:5eed:a:a:a
SEED_B=2001:db8:1:1:5eed:b:b:b
declare -A PEER_PID=()

peer_cleanup() {
	local who
	for who in "${!PEER_PID[@]}"; do
		kill -TERM "${PEER_PID[$who]}" 2>/dev/null
	done
	for who in "${!PEER_PID[@]}"; do
		wait "${PEER_PID[$who]}" 2>/dev/null
	done
	# shellcheck disable=SC2086 # a list of PIDs
	[ -n "${EXTRA_PIDS:-}" ] && kill $EXTRA_PIDS 2>/dev/null
	"$lab" down >/dev/null 2>&1
	rm -rf "$work"
}
at_exit peer_cleanup

ns_of() { # A|B -> lab host
	case $1 in A) echo s ;; B) echo c1 ;; esac
}

in_ns() { # A|B|r cmd...: run in that peer's namespace (r: the router)
	local h=$1
	shift
	case $h in A | B) h=$(ns_of "$h") ;; esac
	"$lab" exec "$h" "$@"
}

peer_lab_up() {
	"$lab" -n 2 up >/dev/null || { echo "FAIL lab up"; exit 1; }
	head -c 32 /dev/urandom | base64 >"$work/psk"
	chmod 600 "$work/psk"
	peer_write_conf A "$SEED_A" "$TUN_A" "$SEED_B" "$TUN_B"
	peer_write_conf B "$SEED_B" "$TUN_B" "$SEED_A" "$TUN_A"
}

cipher_line() { # A|B: the Cipher line of that peer's config, if PEER_CIPHER_<who> is set
	local v
	v=PEER_CIPHER_$1
	[ -n "${!v:-}" ] && echo "Cipher = ${!v}"
	return 0
}

peer_write_conf() { # who seed tunnel peer_seed peer_tunnel
	cat >"$work/$1.conf" <<EOF
[Host]
Interface = eth0
TunnelName = mt6d$1
TunnelAddress = $3/128
SeedAddress = $2
RotationPeriod = $PEER_ROT
${MT6D_TEST_OFFLOADS:+Offloads = $MT6D_TEST_OFFLOADS}
${MT6D_TEST_QUEUES:+Queues = $MT6D_TEST_QUEUES}
$(cipher_line "$1")

[Peer]
PresharedKeyFile = psk
SeedAddress = $4
TunnelAddress = $5
EOF
}

peer_start() { # A|B [options...]: starts mt6d-peer, waits for its TUN
	local who=$1 i
	shift
	local ns
	ns=$("$lab" ns "$(ns_of "$who")")
	# ip netns exec execs the daemon: $! is its PID, which signals reach.
	(exec ip netns exec "$ns" "$build/mt6d-peer" -d -v -c "$work/$who.conf" \
		-S "$work/$who.stats" -u root "$@" >"$work/$who.log" 2>&1) &
	PEER_PID[$who]=$!
	for i in $(seq 50); do
		in_ns "$who" ip link show "mt6d$who" >/dev/null 2>&1 && return 0
		kill -0 "${PEER_PID[$who]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL mt6d-peer $who did not start"
	sed 's/^/     | /' "$work/$who.log"
	exit 1
}

peer_stop() { # A|B: SIGTERM and wait; returns the exit status
	local who=$1 rc
	kill -TERM "${PEER_PID[$who]}"
	wait "${PEER_PID[$who]}"
	rc=$?
	unset "PEER_PID[$who]"
	return $rc
}

peer_stat() { # A|B key: a counter, fresh (SIGUSR1, then read the stats file)
	local who=$1 key=$2
	rm -f "$work/$who.stats"
	kill -USR1 "${PEER_PID[$who]}"
	for _ in $(seq 50); do
		[ -f "$work/$who.stats" ] && break
		sleep 0.02
	done
	sed -n "s/^$key=//p" "$work/$who.stats"
}

# Nothing of ours left in a peer's namespace: no TUN, no MT6D address (tagged
# proto 0x6d or inside the MT6D part of its /64), no route into a TUN (the
# unreachable route of the guard stays on purpose), no nftables table.
peer_nothing_left() { # A|B
	local who=$1 prefix
	prefix=$("$lab" prefix "$(ns_of "$who")")
	! in_ns "$who" ip link show | grep -q "mt6d" &&
		! in_ns "$who" ip -6 addr show | grep "inet6 ${prefix%::}:" | grep -v "${prefix%::}::2/" |
			grep -q . &&
		! in_ns "$who" ip -6 route show | grep -v '^unreachable ' | grep -q "fd6d::" &&
		! in_ns "$who" nft list tables | grep -q 'mt6d-'
}

peer_up_both() { # the lab, A and B started, until A reaches B through the tunnel
	peer_lab_up
	peer_start A
	peer_start B
	for _ in $(seq 30); do
		in_ns A ping -6 -c 1 -W 1 "$TUN_B" >/dev/null 2>&1 && return 0
	done
}

# A TCP stream A -> B through the tunnel (peer_stream.py: RATE bytes/s for
# SECONDS, MARKER in every chunk): it ends without error at both ends,
# arrives whole (the same SHA-256 at both ends) and carries over MIN bytes.
peer_stream_check() { # port seconds rate marker min_bytes
	local port=$1 seconds=$2 rate=$3 marker=$4 min=$5 recv_pid send_rc recv_rc
	in_ns B /usr/bin/python3 "$top/tests/netns/peer_stream.py" recv "$TUN_B" "$port" \
		>"$work/recv.out" 2>&1 &
	recv_pid=$!
	sleep 0.5
	in_ns A /usr/bin/python3 "$top/tests/netns/peer_stream.py" send "$TUN_B" "$port" "$seconds" \
		"$rate" "$marker" >"$work/send.out" 2>&1
	send_rc=$?
	wait "$recv_pid"
	recv_rc=$?
	echo "stream: sent $(cat "$work/send.out"), received $(cat "$work/recv.out")"
	check "TCP stream ended without error"  test "$send_rc" -eq 0 -a "$recv_rc" -eq 0
	check "TCP stream: same SHA-256 at both ends" \
		sh -c "test -s '$work/send.out' && cmp '$work/send.out' '$work/recv.out'"
	check "TCP stream: over $(awk -v b="$min" 'BEGIN { printf "%g", b / 1e6 }') MB" \
		test "$(cut -d' ' -f1 "$work/send.out")" -gt "$min"
}

# No datagram lost either way, even at rotation boundaries under load: what
# one end had sent at a first look <= what the other end delivered or
# refused as not from its peer (drops_inner: MLD and the like) <= what it
# had sent at a second look. And no drop at either end: drops_auth,
# drops_replay, drops_malformed, drops_tx, drops_tun and every COUNTER
# named are 0.
peer_counters_check() { # "A -> B label" "B -> A label" [COUNTER...]
	local ab=$1 ba=$2 a_tx1 b_tx1 a_rx b_rx a_tx2 b_tx2 who c
	shift 2
	sleep 0.5
	a_tx1=$(peer_stat A tx_packets); b_tx1=$(peer_stat B tx_packets)
	sleep 0.5
	a_rx=$(( $(peer_stat A rx_packets) + $(peer_stat A drops_inner) ))
	b_rx=$(( $(peer_stat B rx_packets) + $(peer_stat B drops_inner) ))
	a_tx2=$(peer_stat A tx_packets); b_tx2=$(peer_stat B tx_packets)
	echo "A sent $a_tx1..$a_tx2, B took $b_rx; B sent $b_tx1..$b_tx2, A took $a_rx"
	check "$ab: no datagram lost"      test "$a_tx1" -le "$b_rx" -a "$b_rx" -le "$a_tx2"
	check "$ba: no datagram lost"      test "$b_tx1" -le "$a_rx" -a "$a_rx" -le "$b_tx2"
	for who in A B; do
		for c in drops_auth drops_replay drops_malformed drops_tx drops_tun "$@"; do
			check "$who: $c = 0"            test "$(peer_stat "$who" "$c")" -eq 0
		done
	done
}

peer_finish() {
	if [ "$fails" -ne 0 ]; then
		for who in A B; do
			[ -f "$work/$who.log" ] && { echo "--- log of $who"; tail -n 20 "$work/$who.log"; }
		done
		echo "$fails check(s) failed"
		exit 1
	fi
	echo "all checks passed"
}
