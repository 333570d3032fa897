#!/bin/bash
# lab.sh: a lab of network namespaces for mt6d tests, benchmarks and the demo.
#
#   scripts/lab.sh [options] up          build the lab (idempotent)
#   scripts/lab.sh [options] down        remove everything of the lab (always safe)
#   scripts/lab.sh status                namespaces, addresses, netem settings
#   scripts/lab.sh exec HOST CMD...      run CMD inside HOST's namespace
#   scripts/lab.sh ns HOST               print HOST's namespace name
#   scripts/lab.sh addr HOST             print HOST's fixed address
#   scripts/lab.sh prefix HOST           print HOST's /64 (e.g. 2001:db8:1:3::)
#   scripts/lab.sh hosts                 list the lab's hosts
#   scripts/lab.sh netem HOST [--delay MS] [--loss PCT] [--jitter MS]
#                                        change HOST's link at run time (0 = off)
#   scripts/lab.sh route PREFIX [HOST]   route PREFIX (a /64) on r to HOST's fixed
#                                        address (default s), as for AddressMode = routed
#
# Options (before the command; environment variables in brackets):
#   -l NAME  lab name, prefix of every namespace    [LAB, default mt6dlab]
#   -n N     client hosts c1..cN                     [LAB_CLIENTS, default 2]
#   -m M     DHT hosts d1..dM                        [LAB_DHT, default 0]
#   -d MS    one-way delay on every host link        [LAB_DELAY_MS, default 0]
#   -j MS    jitter on that delay                    [LAB_JITTER_MS, default 0]
#   -p PCT   packet loss on every host link, %       [LAB_LOSS_PCT, default 0]
#   -R PFX   a /64 routed by r to s's fixed address   [LAB_ROUTED_PREFIX, default none]
#            (AddressMode = routed; the lab's is 2001:db8:0:f1::/64)
#   -F       fence every host: an nftables output policy that drops all but
#            lo, 2001:db8::/32, fd00::/8, fe80::/10, ff02::/16 [LAB_FENCE=1]
#            (for foreign programs, e.g. transmission-daemon, that try
#            routers on the internet: nothing they send can leave the lab)
# Several labs coexist when their names differ: tests use LAB=t<name>$$.
#
# Topology (one router, one bridge, every host in its own /64):
#
#      s (server)      c1 ... cN (clients)      d1 ... dM (DHT hosts)
#        eth0            eth0       eth0          eth0       eth0
#         |               |          |             |          |
#     +---p-s------------p-c1------p-cN-----------p-d1-------p-dM---+
#     |                      br0  (namespace r: router)              |
#     +--------------------------------------------------------------+
#
# Addressing plan (all inside 2001:db8::/32, the documentation prefix):
#
#   host        namespace     its /64                  host address        router (gateway)
#   s           $LAB-s        2001:db8:0:1::/64        2001:db8:0:1::2     2001:db8:0:1::1
#   c<i>        $LAB-c<i>     2001:db8:1:<i>::/64      2001:db8:1:<i>::2   2001:db8:1:<i>::1
#   d<j>        $LAB-d<j>     2001:db8:2:<j>::/64      2001:db8:2:<j>::2   2001:db8:2:<j>::1
#   r           $LAB-r        every gateway address above, on br0; forwards between /64s
#   (routed)    -             2001:db8:0:f1::/64       none on a link: r routes it via 2001:db8:0:1::2
#
#   <i> and <j> are written with their decimal digits (client 12 is
#   2001:db8:1:12::/64), so i, j <= 9999. Each host's default route points at
#   its gateway; host-to-host traffic always crosses the router. The rest of
#   each /64 (any IID but ::1 and ::2) is free for MT6D addresses, which the
#   router finds by neighbour discovery on br0.
#   2001:db8:0:f0::/60 (2001:db8:0:f1::/64 first) is kept for routed
#   prefixes (-R, `route`): the router reaches them through the host's fixed
#   address, one neighbour entry however many MT6D addresses live there.
#
# Each host link is a veth pair: eth0 in the host, p-<host> in the router on
# br0. Delay and jitter (tc netem, on both ends of a host link: a host-to-host
# path crosses two links, one-way delay 2*MS) need CONFIG_NET_SCH_NETEM, which
# the kernel of our build machine lacks: there `-d` fails with a clear error.
# Loss uses nftables in the host (both directions, neighbour discovery exempt)
# and works everywhere (package nftables).
# DAD is off everywhere (addresses are usable at once), router advertisements
# and redirects are ignored, bridge multicast snooping is off (neighbour
# solicitations reach every port).
#
# Test hooks: LAB_FAIL_AFTER=<host> makes `up` fail right after creating that
# host; LAB_KEEP_ON_FAIL=1 leaves a failed `up` half-built (for `down` to clean).
set -u

LAB=${LAB:-mt6dlab}
NCLIENTS=${LAB_CLIENTS:-2}
NDHT=${LAB_DHT:-0}
DELAY_MS=${LAB_DELAY_MS:-0}
JITTER_MS=${LAB_JITTER_MS:-0}
LOSS_PCT=${LAB_LOSS_PCT:-0}
ROUTED_PREFIX=${LAB_ROUTED_PREFIX:-}
FENCE=${LAB_FENCE:-0}

usage() {
	sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die() {
	echo "lab.sh: $*" >&2
	exit 1
}

while getopts "l:n:m:d:j:p:R:Fh" opt; do
	case $opt in
	l) LAB=$OPTARG ;;
	n) NCLIENTS=$OPTARG ;;
	m) NDHT=$OPTARG ;;
	d) DELAY_MS=$OPTARG ;;
	j) JITTER_MS=$OPTARG ;;
	p) LOSS_PCT=$OPTARG ;;
	R) ROUTED_PREFIX=$OPTARG ;;
	F) FENCE=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
CMD=$1
shift

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
[[ $LAB =~ ^[A-Za-z0-9_.]+$ ]] || die "lab name '$LAB': letters, digits, '_' and '.' only"
[ ${#LAB} -le 40 ] || die "lab name '$LAB': at most 40 characters"
is_uint "$NCLIENTS" && [ "$NCLIENTS" -le 9999 ] || die "clients '$NCLIENTS': 0..9999"
is_uint "$NDHT" && [ "$NDHT" -le 9999 ] || die "DHT hosts '$NDHT': 0..9999"
is_num "$DELAY_MS" || die "delay '$DELAY_MS': milliseconds"
is_num "$JITTER_MS" || die "jitter '$JITTER_MS': milliseconds"
is_num "$LOSS_PCT" || die "loss '$LOSS_PCT': percent"
# A /64 inside 2001:db8::/32, written with its "::" (the lab's own hosts'
# /64s are refused: those are reached by neighbour discovery).
is_routed_prefix() {
	[[ $1 =~ ^2001:db8:([0-9a-f]{1,4}:){0,2}[0-9a-f]{0,4}::/64$ ]] || return 1
	case ${1%::/64} in
	2001:db8:0:1 | 2001:db8:1:* | 2001:db8:2:*) return 1 ;;
	esac
}
[ -z "$ROUTED_PREFIX" ] || is_routed_prefix "$ROUTED_PREFIX" ||
	die "routed prefix '$ROUTED_PREFIX': a /64 of 2001:db8::/32 the lab does not use, e.g. 2001:db8:0:f1::/64"

STATE=/tmp/mt6d-lab-$LAB.state
ROUTER=$LAB-r

# Host name -> /64 prefix (without the trailing ::).
host_net() {
	case $1 in
	s) echo 2001:db8:0:1 ;;
	c[0-9]*) echo "2001:db8:1:${1#c}" ;;
	d[0-9]*) echo "2001:db8:2:${1#d}" ;;
	*) return 1 ;;
	esac
}

host_list() {
	local i
	echo s
	for ((i = 1; i <= NCLIENTS; i++)); do echo "c$i"; done
	for ((i = 1; i <= NDHT; i++)); do echo "d$i"; done
}

# Every namespace of this lab that exists now, router last.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' |
		grep -E "^${LAB//./\\.}-(s|c[0-9]+|d[0-9]+)$"
	ip netns list 2>/dev/null | awk '{print $1}' | grep -Fx "$ROUTER"
}

valid_host() {
	case $1 in
	r | s) return 0 ;;
	c[0-9]* | d[0-9]*) [[ ${1:1} =~ ^[1-9][0-9]*$ ]] ;;
	*) return 1 ;;
	esac
}

has_netem() { # whether this kernel has sch_netem (some build none: see below)
	ip netns exec "$ROUTER" tc qdisc add dev lo root netem delay 0ms 2>/dev/null || return 1
	ip netns exec "$ROUTER" tc qdisc del dev lo root 2>/dev/null
	return 0
}

# Delay and jitter: netem on both ends of the host link. Loss: an nftables
# rule in the host (numgen random) on input and output, so each direction of
# the link drops PCT % of packets; neighbour discovery is exempt so that a
# lossy link stays a link. Loss does not need netem, which some kernels lack
# (CONFIG_NET_SCH_NETEM unset): there, asking for a delay is an error.
apply_link() { # host delay_ms jitter_ms loss_pct
	local h=$1 d=$2 j=$3 l=$4 ns=$LAB-$1 a per10k
	if [ "$d" != 0 ] || [ "$j" != 0 ]; then
		has_netem || { echo "lab.sh: delay/jitter need sch_netem, which this kernel lacks" >&2; return 1; }
		a="delay ${d}ms"
		[ "$j" != 0 ] && a="$a ${j}ms"
		# shellcheck disable=SC2086
		ip netns exec "$ns" tc qdisc replace dev eth0 root netem $a &&
			ip netns exec "$ROUTER" tc qdisc replace dev "p-$h" root netem $a || return 1
	else
		ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null
		ip netns exec "$ROUTER" tc qdisc del dev "p-$h" root 2>/dev/null
	fi
	ip netns exec "$ns" nft delete table inet lablink 2>/dev/null
	if [ "$l" != 0 ]; then
		per10k=$(awk -v l="$l" 'BEGIN { printf "%d", l * 100 + 0.5 }')
		[ "$per10k" -le 10000 ] || { echo "lab.sh: loss $l% is over 100%" >&2; return 1; }
		[ "$per10k" -ge 1 ] || per10k=1
		ip netns exec "$ns" nft -f - <<NFT || return 1
table inet lablink {
	chain lossy_in {
		type filter hook prerouting priority -300; policy accept;
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept
		numgen random mod 10000 <= $((per10k - 1)) counter drop comment "loss $l%"
	}
	chain lossy_out {
		type filter hook output priority -300; policy accept;
		icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept
		numgen random mod 10000 <= $((per10k - 1)) counter drop comment "loss $l%"
	}
}
NFT
	fi
	return 0
}

quiet_sysctls() { # namespace: no DAD, no RA, no redirects
	ip netns exec "$1" sh -c '
		for k in all default; do
			sysctl -qw net.ipv6.conf.$k.accept_dad=0
			sysctl -qw net.ipv6.conf.$k.dad_transmits=0
			sysctl -qw net.ipv6.conf.$k.accept_ra=0
			sysctl -qw net.ipv6.conf.$k.accept_redirects=0
		done' >/dev/null 2>&1
}

# The fence: whatever a program in the host sends goes to the lab or
# nowhere. Transmission's DHT, for one, looks up its routers by name and
# pings them; the default route leads to r, which would answer "unreachable",
# but the fence drops such datagrams before they leave the host.
fence() { # namespace
	ip netns exec "$1" nft -f - <<'NFT'
table inet labfence {
	chain out {
		type filter hook output priority -310; policy drop;
		oif "lo" accept
		ip6 daddr { 2001:db8::/32, fd00::/8, fe80::/10, ff02::/16 } accept
		counter comment "left the lab"
	}
}
NFT
}

add_host() { # host
	local h=$1 ns=$LAB-$1 net
	net=$(host_net "$h") || return 1
	ip netns add "$ns" || return 1
	quiet_sysctls "$ns"
	ip -n "$ns" link set lo up || return 1
	if [ "$FENCE" = 1 ]; then fence "$ns" || return 1; fi
	ip -n "$ROUTER" link add "p-$h" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$ROUTER" link set "p-$h" master br0 up || return 1
	ip -n "$ROUTER" -6 addr add "$net::1/64" dev br0 nodad || return 1
	ip -n "$ns" link set eth0 up || return 1
	ip -n "$ns" -6 addr add "$net::2/64" dev eth0 nodad || return 1
	ip -n "$ns" -6 route add default via "$net::1" dev eth0 || return 1
	apply_link "$h" "$DELAY_MS" "$JITTER_MS" "$LOSS_PCT" || return 1
	if [ "${LAB_FAIL_AFTER:-}" = "$h" ]; then
		echo "lab.sh: failing after host $h (LAB_FAIL_AFTER)" >&2
		return 1
	fi
}

build() {
	local h
	ip netns add "$ROUTER" || return 1
	quiet_sysctls "$ROUTER"
	ip netns exec "$ROUTER" sysctl -qw net.ipv6.conf.all.forwarding=1 >/dev/null || return 1
	ip -n "$ROUTER" link set lo up || return 1
	ip -n "$ROUTER" link add br0 type bridge stp_state 0 mcast_snooping 0 || return 1
	ip -n "$ROUTER" link set br0 up || return 1
	for h in $(host_list); do
		add_host "$h" || return 1
	done
	if [ -n "$ROUTED_PREFIX" ]; then
		add_route "$ROUTED_PREFIX" s || return 1
	fi
}

add_route() { # prefix host: a static route on r, as an operator's router has
	ip -n "$ROUTER" -6 route replace "$1" via "$(host_net "$2")::2" dev br0
}

config_line() {
	echo "clients=$NCLIENTS dht=$NDHT delay=$DELAY_MS jitter=$JITTER_MS loss=$LOSS_PCT${ROUTED_PREFIX:+ routed=$ROUTED_PREFIX}$([ "$FENCE" = 1 ] && echo " fenced")"
}

is_complete() { # the lab exists as the state file says, and matches the options
	local h
	[ -f "$STATE" ] && [ "$(cat "$STATE")" = "$(config_line)" ] || return 1
	ip -n "$ROUTER" link show br0 >/dev/null 2>&1 || return 1
	for h in $(host_list); do
		ip -n "$LAB-$h" link show eth0 >/dev/null 2>&1 || return 1
	done
	# No stray hosts of a larger earlier lab.
	[ "$(lab_namespaces | wc -l)" -eq $(($(host_list | wc -l) + 1)) ]
}

cmd_down() {
	local ns pid n=0
	for ns in $(lab_namespaces); do
		# Processes started inside the lab keep a namespace alive after
		# `ip netns del`; they are the lab's, so end them first.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null && n=$((n + 1))
	done
	rm -f "$STATE"
	# Deleting a namespace destroys its interfaces asynchronously: wait (bounded)
	# until none of ours is listed any more.
	for _ in $(seq 50); do
		[ -z "$(lab_namespaces)" ] && break
		sleep 0.1
	done
	[ -z "$(lab_namespaces)" ] || die "down: namespaces left: $(lab_namespaces | tr '\n' ' ')"
	echo "lab $LAB: down ($n namespaces removed)"
	return 0
}

cmd_up() {
	[ "$(id -u)" -eq 0 ] || die "up needs root"
	if is_complete; then
		echo "lab $LAB: already up ($(config_line))"
		return 0
	fi
	cmd_down >/dev/null
	if ! build; then
		if [ "${LAB_KEEP_ON_FAIL:-0}" = 1 ]; then
			die "up failed; left half-built for inspection (run: LAB=$LAB $0 down)"
		fi
		cmd_down >/dev/null
		die "up failed; cleaned up"
	fi
	config_line >"$STATE"
	echo "lab $LAB: up ($(config_line))"
}

cmd_status() {
	local ns h
	if [ -z "$(lab_namespaces)" ]; then
		echo "lab $LAB: down"
		return 0
	fi
	echo "lab $LAB: $( [ -f "$STATE" ] && cat "$STATE" || echo "no state file (partial?)")"
	for ns in $(lab_namespaces | sort -V); do
		h=${ns#"$LAB"-}
		if [ "$h" = r ]; then
			printf '  %-6s %-16s router, %s ports on br0\n' "$h" "$ns" \
				"$(ip -n "$ns" -o link show master br0 2>/dev/null | wc -l)"
		else
			printf '  %-6s %-16s %s %s\n' "$h" "$ns" \
				"$(ip -n "$ns" -6 -o addr show dev eth0 scope global 2>/dev/null | awk '{print $4}' | head -n 3 | tr '\n' ' ')" \
				"$(ip netns exec "$ns" tc qdisc show dev eth0 2>/dev/null | grep -o 'netem.*' || true)$(
				ip netns exec "$ns" nft list table inet lablink 2>/dev/null | grep -m1 -o 'loss [0-9.]*%' | sed 's/^/ /' || true)"
		fi
	done
}

need_host() {
	[ -n "${1:-}" ] && valid_host "$1" || die "unknown host '${1:-}' (r, s, c<i>, d<j>)"
}

case $CMD in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
hosts) host_list ;;
ns)
	need_host "${1:-}"
	echo "$LAB-$1"
	;;
addr)
	need_host "${1:-}"
	[ "$1" = r ] && die "the router has one gateway address per /64"
	echo "$(host_net "$1")::2"
	;;
prefix)
	need_host "${1:-}"
	[ "$1" = r ] && die "the router has no /64 of its own"
	echo "$(host_net "$1")::"
	;;
exec)
	need_host "${1:-}"
	h=$1
	shift
	[ $# -ge 1 ] || die "exec $h: no command"
	# The namespace file, not `ip netns list`: listing reads every namespace's id
	# and writes "Peer netns reference is invalid" into the command's stderr
	# when another lab deletes one meanwhile (tests run side by side).
	[ -e "/run/netns/$LAB-$h" ] || die "lab $LAB has no host $h"
	exec ip netns exec "$LAB-$h" "$@"
	;;
route)
	[ -n "${1:-}" ] && is_routed_prefix "$1" ||
		die "route: '${1:-}': a /64 of 2001:db8::/32 the lab does not use, e.g. 2001:db8:0:f1::/64"
	p=$1
	h=${2:-s}
	need_host "$h"
	[ "$h" = r ] && die "route: a prefix is routed to a host (s, c<i>, d<j>)"
	add_route "$p" "$h" || die "route $p via $h failed"
	;;
netem)
	need_host "${1:-}"
	h=$1
	shift
	[ "$h" = r ] && die "netem applies to host links (s, c<i>, d<j>)"
	d=0 j=0 l=0
	while [ $# -gt 0 ]; do
		case $1 in
		--delay) d=${2:-}; shift 2 ;;
		--jitter) j=${2:-}; shift 2 ;;
		--loss) l=${2:-}; shift 2 ;;
		*) die "netem: unknown option '$1'" ;;
		esac
	done
	is_num "$d" && is_num "$j" && is_num "$l" || die "netem: numbers expected"
	apply_link "$h" "$d" "$j" "$l" || die "netem on $h failed"
	;;
*) usage ;;
esac
