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
