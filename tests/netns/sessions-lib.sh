# shellcheck shell=bash
# Shared set-up of the mt6d-server / mt6d-client namespace tests (sourced).
#
#   server (lab host s, 2001:db8:0:1::/64)       clients c1, c2 (2001:db8:1:<i>::/64)
#     mt6d0: SeedIPv6_S (introduction)              mt6d0: introduction, then session
#     mt6d1, mt6d2: one session interface per client
#        eth0 ------------------ br0 (router ns r) ------------------ eth0
#
# Tunnel addresses come from TunnelPrefix 2001:db8:ffff::/64: the server side
# of client i's session is 2001:db8:ffff::1:0:<i>, the client side
# 2001:db8:ffff::2:0:<i>.
#
# Until the DHT rendezvous is wired, the server writes its introduction
# config to a file (-T) that the clients read (-T): the test stands in for
# the DHT. Every name carries $$ (parallel runs cannot collide); the EXIT
# trap stops our daemons by PID and removes the lab. scripts/demo.sh uses
# this file too, with its own lab name (SESS_LAB) and work directory prefix
# (SESS_WORK).
#
# SESS_ROUTED_PREFIX=2001:db8:0:f1::/64 (set before sourcing) starts the
# server in AddressMode = routed with that Prefix, and the lab's router r
# routes it to the server's fixed address 2001:db8:0:1::2 (lab.sh -R): no
# neighbour entry per MT6D address on r. SESS_ROUTED_PREFIX_DEFAULT names
# the lab's routed /64 for scripts that want it.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
lab=$top/scripts/lab.sh
build=${MT6D_BUILD:-$top/build}
export LAB=${SESS_LAB:-tsc$$}
export LAB_CLIENTS=${LAB_CLIENTS:-2}
work=$(mktemp -d "/tmp/${SESS_WORK:-mt6d-sessions-test}.XXXXXX")
SESS_ROT=${SESS_ROT:-1s}
# A day: no new K (and re-establishment) in the middle of a test by chance;
# the tests of K changes set their own.
TPREFIX=2001:db8:ffff::
# shellcheck disable=SC2034 # for the scripts that source this file
SESS_ROUTED_PREFIX_DEFAULT=2001:db8:0:f1::/64
SESS_ROUTED_PREFIX=${SESS_ROUTED_PREFIX:-}
export LAB_ROUTED_PREFIX=$SESS_ROUTED_PREFIX
# SWARM_KIND (set before sourcing): the DHT swarm sess_swarm_start builds,
# "ours" (default) or a foreign-only one (see sess_foreign_swarm_start),
# whose lab is fenced (scripts/lab.sh -F: foreign programs try routers on
# the internet).
SWARM_KIND=${SWARM_KIND:-ours}
[ "$SWARM_KIND" = ours ] || export LAB_FENCE=1
declare -A PID=()

sess_cleanup() {
	local who
	for who in "${!PID[@]}"; do
		kill -TERM "${PID[$who]}" 2>/dev/null
	done
	for who in "${!PID[@]}"; do
		wait "${PID[$who]}" 2>/dev/null
	done
	# shellcheck disable=SC2086 # a list of PIDs
	[ -n "${EXTRA_PIDS:-}" ] && kill $EXTRA_PIDS 2>/dev/null
	"$lab" down >/dev/null 2>&1
	# A failure in CI leaves only this output: the daemons' last words.
	if [ "$fails" -gt 0 ]; then
		local log
		for log in "$work"/*/log; do
			[ -s "$log" ] || continue
			echo "---- last lines of ${log#"$work"/}"
			tail -n 25 "$log"
		done
	fi
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
at_exit sess_cleanup

in_ns() { # host cmd...
	local h=$1
	shift
	"$lab" exec "$h" "$@"
}
# in_ns, and the wall time of cmd's own process (fork to exit) in ms into
# MSFILE, taken by the shell inside the namespace ($EPOCHREALTIME, no fork
# of its own): without the lab's wrapper (a bash, ip netns list, awk,
# grep, ip netns exec: 60-150 ms, more under load). Returns cmd's status.
in_ns_timed() { # host msfile cmd...
	local h=$1 f=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_ns "$h" env T="$f" bash -c 's=$EPOCHREALTIME; "$@"; rc=$?; e=$EPOCHREALTIME
		echo $(((${e//[.,]/} - ${s//[.,]/}) / 1000)) >"$T"; exit $rc' timed "$@"
}

# Keys and configs: the server registers clients 1..N (c<i> has id i).
sess_configs() {
	local i
	mkdir -p "$work/s"
	(umask 077 && "$build/mt6d" genkey >"$work/s/server.key")
	"$build/mt6d" pubkey <"$work/s/server.key" >"$work/s/server.pub"
	cat >"$work/s/server.conf" <<EOF
[Server]
Interface = eth0
PrivateKeyFile = server.key
RotationPeriod = $SESS_ROT
ConfigPeriod = ${SESS_PERIOD:-24h}
StateDirectory = $work/s/state
TunnelPrefix = $TPREFIX/64
${MT6D_TEST_OFFLOADS:+Offloads = $MT6D_TEST_OFFLOADS}
EOF
	if [ -n "$SESS_ROUTED_PREFIX" ]; then
		printf 'AddressMode = routed\nPrefix = %s\n' "$SESS_ROUTED_PREFIX" >>"$work/s/server.conf"
	fi
	for i in $(seq 1 "$LAB_CLIENTS"); do
		mkdir -p "$work/c$i"
		(umask 077 && "$build/mt6d" genkey >"$work/c$i/client.key")
		"$build/mt6d" pubkey <"$work/c$i/client.key" >"$work/c$i/client.pub"
		cat >"$work/c$i/client.conf" <<EOF
[Client]
Interface = eth0
PrivateKeyFile = client.key
ClientId = $i
StateDirectory = $work/c$i/state
${SESS_CLIENT_PADDING:+Padding = $SESS_CLIENT_PADDING}
${MT6D_TEST_OFFLOADS:+Offloads = $MT6D_TEST_OFFLOADS}

[Server]
PublicKey = $(cat "$work/s/server.pub")
EOF
		cat >>"$work/s/server.conf" <<EOF

[Client]
Name = client-$i
PublicKey = $(cat "$work/c$i/client.pub")
Id = $i
Added = 2026-11-01
EOF
	done
}

sess_lab_up() {
	"$lab" up >"$work/lab.log" 2>&1 || {
		cat "$work/lab.log"
		exit 1
	}
	sess_configs
}

# The daemons stay uid 0 (-u root, with only CAP_NET_ADMIN like any user):
# the work directory, keys and configs here are root's, and the tests must
# not depend on whether this machine has an mt6d user (t_caps.sh tests the
# switch). The daemons are started with "$lab" exec (which execs ip netns exec, which
# execs the daemon), not through a shell function, so that $! is the
# daemon's own PID.
server_start() { # extra options...
	"$lab" exec s "$build/mt6d-server" -d -v -c "$work/s/server.conf" -s "$work/s/ctl.sock" \
		-T "$work/intro.conf" -u root "$@" >>"$work/s/log" 2>&1 &
	PID[s]=$!
	# SESS_START_TIMEOUT: a server with thousands of registered clients
	# derives every client's introduction secret before it listens.
	wait_for "${SESS_START_TIMEOUT:-10}" test -S "$work/s/ctl.sock" || { cat "$work/s/log"; exit 1; }
}

client_start() { # i extra options...
	local i=$1
	shift
	"$lab" exec "c$i" "$build/mt6d-client" -d -v -c "$work/c$i/client.conf" \
		-s "$work/c$i/ctl.sock" -T "$work/intro.conf" -u root "$@" >>"$work/c$i/log" 2>&1 &
	PID[c$i]=$!
}

stop() { # who: SIGTERM and wait
	local who=$1
	[ -n "${PID[$who]:-}" ] || return 0
	kill -TERM "${PID[$who]}" 2>/dev/null
	wait "${PID[$who]}" 2>/dev/null
	unset "PID[$who]"
}

show() { # who: the daemon's key=value state
	"$build/mt6d" show -s "$work/$1/ctl.sock" dump 2>/dev/null
}

field() { # who key
	show "$1" | sed -n "s/^$2=//p" | head -n 1
}

session_field() { # client-name key: a field of that client's session on the server
	show s | awk -F= -v c="$1" -v k="$2" '$1 == "client" {in_c = ($2 == c)} in_c && $1 == k {print $2; exit}'
}

field_is() { # who key value (for wait_for: evaluated at every try)
	test "$(field "$1" "$2")" = "$3"
}

has_session() { # i
	[ "$(field "c$1" state)" = session ]
}

# The id is written in hex in the address (ids up to 65535 here).
server_tun() { printf '%s1:0:%x\n' "$TPREFIX" "$1"; }
client_tun() { printf '%s2:0:%x\n' "$TPREFIX" "$1"; }

# A private DHT swarm on lab hosts d1..dN: on each, 4 mt6d-dhtnode
# (2001:db8:2:<j>::10-13, port 6881) and one libtorrent node
# (2001:db8:2:<j>::20, tests/netns/dht_lab.py lt-node, state in
# $work/lt<j>.state). Each libtorrent node is given three of ours (on its own
# host and the next two); each of ours joins through two of ours and one
# libtorrent node. DHT_BOOT is then the bootstrap list for the daemons (the
# first node of d1..d4 and the libtorrent nodes of d5 and d6), written into
# every config by sess_dht_configs. N >= 6.
swarm_addr() { echo "2001:db8:2:$1::1$2"; } # j k
swarm_lt_addr() { echo "2001:db8:2:$1::20"; } # j
sess_swarm_start() { # N [lt-node max seconds, default 600]
	local n=$1 max=${2:-600} j k lb
	if [ "$SWARM_KIND" != ours ]; then
		sess_foreign_swarm_start "$n" "$SWARM_KIND" "$max"
		return
	fi
	for j in $(seq 1 "$n"); do
		in_ns "d$j" ip -6 addr add "$(swarm_lt_addr "$j")/64" dev eth0 nodad
		lb="[$(swarm_addr "$j" 1)]:6881,[$(swarm_addr $((j % n + 1)) 2)]:6881,[$(swarm_addr $(((j + 1) % n + 1)) 3)]:6881"
		"$lab" exec "d$j" /usr/bin/python3 "$top/tests/netns/dht_lab.py" lt-node \
			--addr "$(swarm_lt_addr "$j")" --boot "$lb" --out "$work/lt$j.state" \
			--max-s "$max" >"$work/lt$j.log" 2>&1 &
		PID[lt$j]=$!
	done
	DHT_BOOT=""
	for j in $(seq 1 "$n"); do
		for k in 0 1 2 3; do
			in_ns "d$j" ip -6 addr add "$(swarm_addr "$j" "$k")/64" dev eth0 nodad
			"$lab" exec "d$j" "$build/mt6d-dhtnode" -l "$(swarm_addr "$j" "$k")" -p 6881 \
				-b "[$(swarm_addr 1 0)]:6881,[$(swarm_addr 2 1)]:6881,[$(swarm_lt_addr $(((j + k) % n + 1)))]:6881" \
				>"$work/d$j-$k.log" 2>&1 &
			PID[d$j-$k]=$!
			[ "$k" = 0 ] && [ "$j" -le 4 ] && DHT_BOOT="$DHT_BOOT${DHT_BOOT:+, }[$(swarm_addr "$j" "$k")]:6881"
		done
	done
	DHT_BOOT="$DHT_BOOT, [$(swarm_lt_addr 5)]:6881, [$(swarm_lt_addr 6)]:6881"
}

# Whether every libtorrent node of the swarm has at least 4 nodes in its
# routing table.
swarm_lt_nodes() { # j
	awk '$1 == "nodes" {print $2}' "$work/lt$1.state" 2>/dev/null
}
swarm_lt_joined() { # N
	local j
	for j in $(seq 1 "$1"); do
		[ "$(swarm_lt_nodes "$j")" -ge 4 ] 2>/dev/null || return 1
	done
}

# A foreign-only swarm (issue 15): no node of ours, one node per lab host
# d<j> on the host's own address (2001:db8:2:<j>::2, port 6881, a /64 each,
# so libtorrent's default IP restrictions hold). KIND:
#   libtorrent         python3-libtorrent with libtorrent's default settings
#   libtorrent-strict  python3-libtorrent, dht_lab.py's strict profile
#   transmission       transmission-daemon 3.00 (jech/dht 0.25)
#   mixed              d1, d4, d7, ... libtorrent; d2, d5, ... Transmission;
#                      d3, d6, ... libtorrent-strict
#   mt6d               mt6d-dhtnode (ours, for comparison: bench/rendezvous.sh)
# Node j is given nodes j+1, j+2, j+3 (mod N) to start from; DHT_BOOT (for
# sess_dht_configs) names nodes 1, 2 and 3. State: $work/lt<j>.state
# (libtorrent), $work/tr<j>/ (Transmission's config dir); logs $work/f<j>.log.
# FOREIGN_NODES: the nodes' addresses, comma-separated.
foreign_addr() { echo "2001:db8:2:$1::2"; } # j
foreign_kind() { # KIND j: the implementation of node j
	case $1 in
	mixed) case $(($2 % 3)) in 1) echo libtorrent ;; 2) echo transmission ;; 0) echo libtorrent-strict ;; esac ;;
	*) echo "$1" ;;
	esac
}
sess_foreign_swarm_start() { # N KIND [lt-node max seconds, default 600]
	local n=$1 kind=$2 max=${3:-600} j b boot
	FOREIGN_NODES=""
	for j in $(seq 1 "$n"); do
		boot=""
		for b in 1 2 3; do
			boot="$boot${boot:+,}[$(foreign_addr $(((j + b - 1) % n + 1)))]:6881"
		done
		case $(foreign_kind "$kind" "$j") in
		libtorrent | libtorrent-strict)
			"$lab" exec "d$j" /usr/bin/python3 "$top/tests/netns/dht_lab.py" lt-node \
				--addr "$(foreign_addr "$j")" --boot "$boot" --out "$work/lt$j.state" --max-s "$max" \
				--profile "$([ "$(foreign_kind "$kind" "$j")" = libtorrent ] && echo default || echo strict)" \
				>"$work/f$j.log" 2>&1 &
			;;
		transmission)
			"$lab" exec "d$j" /usr/bin/python3 "$top/tests/netns/dht_lab.py" tr-node \
				--addr "$(foreign_addr "$j")" --boot "$boot" --dir "$work/tr$j" --verbose >"$work/f$j.log" 2>&1 &
			;;
		mt6d)
			"$lab" exec "d$j" "$build/mt6d-dhtnode" -l "$(foreign_addr "$j")" -p 6881 -b "$boot" \
				>"$work/f$j.log" 2>&1 &
			;;
		*) echo "sess_foreign_swarm_start: unknown kind '$kind'" >&2; return 1 ;;
		esac
		PID[f$j]=$!
		FOREIGN_NODES="$FOREIGN_NODES${FOREIGN_NODES:+,}$(foreign_addr "$j")"
	done
	DHT_BOOT="[$(foreign_addr 1)]:6881, [$(foreign_addr 2)]:6881, [$(foreign_addr 3)]:6881"
}

# Whether the foreign swarm of N nodes has formed: every libtorrent node has
# at least 3 nodes in its routing table, every Transmission node had a ping
# answered or was queried, either of which puts a node in its table
# (TR_DHT_VERBOSE's log: jech's dht never says "ready" in a swarm of fewer
# than 9 nodes, and its "Finished bootstrapping" waits for DNS lookups of
# its routers that the fence fails; its pings at start are lost when it
# starts before the nodes of its dht.dat).
sess_foreign_joined() { # N KIND
	local j
	for j in $(seq 1 "$1"); do
		case $(foreign_kind "$2" "$j") in
		mt6d) ;;
		transmission)
			grep -q -E '^(Pong!|Ping \(|Find node!|Get_peers!)' "$work/f$j.log" 2>/dev/null || return 1
			;;
		*) [ "$(swarm_lt_nodes "$j")" -ge 3 ] 2>/dev/null || return 1 ;;
		esac
	done
}

# What our hosts send to the swarm's hosts (2001:db8:2::/48), captured where
# r routes it out onto br0 (each datagram once), as `tcpdump -n -tt` text
# in $work/capture.txt; sess_rates stops the capture and measures it
# (dht_lab.py rates) into $work/rates, whose figures rate KEY prints.
sess_capture_start() {
	"$lab" exec r tcpdump -i br0 -Q out -n -tt -l -U 'ip6 dst net 2001:db8:2::/48 and udp' \
		>"$work/capture.txt" 2>"$work/tcpdump.log" &
	PID[cap]=$!
	wait_for 5 grep -q 'listening on' "$work/tcpdump.log"
}
sess_rates() { # our source prefixes (dht_lab.py rates --ours)
	stop cap
	/usr/bin/python3 "$top/tests/netns/dht_lab.py" rates "$work/capture.txt" \
		--ours "$1" --nodes "$FOREIGN_NODES" >"$work/rates"
}
rate() { # key
	awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$work/rates"
}
# The checks of issue 15 on the measured rates: under libtorrent's ban (the
# 50th message in 10 s from one source address) and its 8,000 B/s budget.
sess_rates_check() { # our source prefixes
	sess_rates "$1"
	cat "$work/rates"
	check "the capture saw our DHT traffic ($(rate datagrams) datagrams to $(rate nodes) nodes)" \
		test "$(rate datagrams)" -gt 0
	check "busiest source/node pair: $(rate max_msgs_10s) messages in 10 s (< 50)" \
		test "$(rate max_msgs_10s)" -lt 50
	check "busiest node: $(rate max_bytes_1s) B from us in 1 s (<= 8000)" \
		test "$(rate max_bytes_1s)" -le 8000
}

# The daemons with the real rendezvous (no -T file): the server publishes in
# the DHT, a client fetches from it.
dht_server_start() {
	"$lab" exec s "$build/mt6d-server" -d -v -c "$work/s/server.conf" -s "$work/s/ctl.sock" -u root \
		>>"$work/s/log" 2>&1 &
	PID[s]=$!
	wait_for 10 test -S "$work/s/ctl.sock" || { cat "$work/s/log"; exit 1; }
}
dht_client_start() { # i
	"$lab" exec "c$1" "$build/mt6d-client" -d -v -c "$work/c$1/client.conf" \
		-s "$work/c$1/ctl.sock" -u root >>"$work/c$1/log" 2>&1 &
	PID[c$1]=$!
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Waits up to S s for client i's session; prints the ms from T0 (ms) to it.
session_ms() { # i T0 S
	local end=$(($(now_ms) + $3 * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		has_session "$1" && { echo $(($(now_ms) - $2)); return 0; }
		sleep 0.2
	done
	return 1
}
# The server's publication is complete: on each channel it publishes on
# (RendezvousChannel), every registered client's config stored (LAB_CLIENTS
# of them), none waiting; and at least one channel.
sess_published() {
	local d n=0
	d=$(show s) || return 1
	if grep -q '^publications=' <<<"$d"; then
		[ "$(sed -n 's/^publications=//p' <<<"$d")" -ge "$LAB_CLIENTS" ] &&
			grep -qx 'publish_pending=0' <<<"$d" || return 1
		n=$((n + 1))
	fi
	if grep -q '^item_publications=' <<<"$d"; then
		[ "$(sed -n 's/^item_publications=//p' <<<"$d")" -ge "$LAB_CLIENTS" ] &&
			grep -qx 'item_pending=0' <<<"$d" || return 1
		n=$((n + 1))
	fi
	[ "$n" -gt 0 ]
}

# DHTBootstrap (and, for clients, ConfigPeriod) into the host's own section
# (the first one) of every config.
sess_dht_configs() {
	local f
	for f in "$work/s/server.conf" "$work"/c*/client.conf; do
		sed -i "0,/^StateDirectory/s||DHTBootstrap = $DHT_BOOT\n&|" "$f"
	done
	for f in "$work"/c*/client.conf; do
		sed -i "0,/^StateDirectory/s||ConfigPeriod = ${SESS_PERIOD:-24h}\n&|" "$f"
	done
}

# A put of `mt6d rendezvous` and the gets after it inside one 15-min window
# (the CLI's default): across a boundary the gets read a message of a
# window that is over and refuse it (exit 4). Waits for the next window
# when fewer than $1 seconds of this one are left.
rdv_window_room() { # seconds
	local left=$((900 - $(date +%s) % 900))
	[ "$left" -ge "$1" ] && return 0
	echo "waiting ${left} s for the next 15-min window" >&2
	sleep "$((left + 1))"
}

# Nothing of ours left in a namespace: no MT6D address (IFA_PROTO 0x6d can
# not be printed by iproute2 6.1: we look for addresses other than the
# lab's), no TUN, no route of our protocol, no nftables table of ours. (The
# unreachable routes that keep tunnel addresses from leaving in clear stay
# on purpose, tagged 0x6e: mt6d/engine/guard.h.)
nothing_left() { # host [crashed]
	# After a crash (crashed), the daemon's nftables table stays until its
	# next start replaces it: it keeps the host failing closed meanwhile
	# (docs/running.md). Everything else must be gone by itself.
	local h=$1 crashed=${2:-} out
	out=$(in_ns "$h" ip -6 addr show scope global | grep inet6 | grep -v -E ' 2001:db8:[0-9]+:[0-9]+::2/64 ' || true)
	# with their lifetimes left, which date them (when the daemon added
	# them: valid_lft counts down from what it set)
	[ -z "$out" ] || { echo "$h: addresses left (at $(date +%T.%N | cut -c1-12)):"
		in_ns "$h" ip -6 addr show scope global | grep -v -E ' 2001:db8:[0-9]+:[0-9]+::2/64 ' |
			grep -A1 inet6; return 1; }
	out=$(in_ns "$h" ip link show | grep -E 'mt6d' || true)
	[ -z "$out" ] || { echo "$h: links left: $out"; return 1; }
	out=$(in_ns "$h" ip -6 route show proto 0x6d 2>/dev/null || true)
	[ -z "$out" ] || { echo "$h: routes left: $out"; return 1; }
	[ -n "$crashed" ] && return 0
	out=$(in_ns "$h" nft list tables 2>/dev/null | grep 'mt6d-' || true)
	[ -z "$out" ] || { echo "$h: nftables tables left: $out"; return 1; }
}
