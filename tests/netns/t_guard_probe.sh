#!/bin/bash
# Silent to probes (topology: sessions-lib.sh; docs/running.md "Silent to
# probes"). While client 1 has its session and pings the server through it,
# the router probes, from an address of its own, every global address of
# the server and of the client other than their fixed lab addresses: the
# MT6D addresses of the introduction and of the session, the seed
# addresses and the tunnel addresses. Each gets an ICMPv6 echo request, UDP
# to random ports and TCP SYNs; the tunnel and seed addresses, which live
# on TUNs, are reached as an on-link attacker would (a route through the
# host's link address: Linux is a weak host). A capture on the router counts
# every answer: zero. Then MT6D addresses that left their window get
# neighbour solicitations: no advertisement. Run once per address mode of
# the server (per-address, scale).
# (Before the guard, this test counted 39 answers in per-address mode and
# 27 in scale mode, where the server's session addresses were not probed.)
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

LAB_CLIENTS=1
SESS_ROT=3s
PROBE_SRC=2001:db8:ff00::99
sess_lab_up
in_ns r ip -6 addr add "$PROBE_SRC/128" dev lo

# Global addresses of a host but its fixed one; for the server also the
# MT6D addresses of its sessions (in scale mode none is bound: the /64 is
# claimed as a whole).
targets() { # host
	{
		in_ns "$1" ip -6 -o addr show scope global | awk '{print $4}' | sed 's|/.*||'
		[ "$1" = s ] && show s | sed -n 's/^own_endpoint\(_next\)\{0,1\}=\[\(.*\)\]:.*/\2/p'
	} | grep -v -x "$("$lab" addr "$1")" | sort -u
}
mt6d_addrs() { # host: the MT6D addresses on eth0 now (deprecated: preferred lifetime 0)
	in_ns "$1" ip -6 -o addr show dev eth0 scope global deprecated | awk '{print $4}' | sed 's|/.*||'
}

probe_round() { # mode
	local mode=$1 t h n answers na
	server_start
	client_start 1
	check "[$mode] client 1 establishes a session" wait_for 20 has_session 1
	in_ns c1 ping -n -i 0.1 -c 60 -W 1 "$(server_tun 1)" >"$work/ping.$mode" 2>&1 &
	local ping_pid=$!
	in_ns r timeout 10 tcpdump -i br0 -n -U -w "$work/probe.$mode.pcap" \
		"ip6 dst $PROBE_SRC and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)" \
		2>"$work/tcpdump.$mode.log" &
	local td=$!
	sleep 1
	# Collected just before the probes: an MT6D address lives 3 Rot.
	: >"$work/targets.$mode"
	: >"$work/routes.$mode"
	for h in s c1; do
		local via
		via=$("$lab" addr "$h")
		for t in $(targets "$h"); do
			echo "route replace $t/128 via $via dev br0" >>"$work/routes.$mode"
			echo "$t" >>"$work/targets.$mode"
		done
	done
	in_ns r ip -6 -batch "$work/routes.$mode"
	# In scale mode any address of the claimed /64 is local: one never used.
	echo "$("$lab" prefix s)dead:beef:1" >>"$work/targets.$mode"
	n=$(wc -l <"$work/targets.$mode")
	# shellcheck disable=SC2046
	in_ns r python3 "$top/tests/netns/guard_probe.py" "$PROBE_SRC" $(cat "$work/targets.$mode") \
		>"$work/probe.$mode" 2>&1
	sleep 0.5
	kill -INT "$td" 2>/dev/null
	wait "$td" 2>/dev/null
	answers=$(tcpdump -r "$work/probe.$mode.pcap" -n 2>/dev/null | wc -l)
	echo "     ([$mode] $n targets: $(tr '\n' ';' <"$work/probe.$mode"))"
	check "[$mode] at least 6 targets (MT6D, seed and tunnel addresses of both ends)" test "$n" -ge 6
	check "[$mode] no answer to $((n * 6)) probes ($answers captured)" test "$answers" = 0

	# Neighbour discovery for MT6D addresses out of their slots.
	mt6d_addrs s >"$work/old.$mode"
	mt6d_addrs c1 >>"$work/old.$mode"
	sleep 10
	na=0
	while read -r t; do
		in_ns r ndisc6 -1 -r 1 -w 300 "$t" br0 </dev/null >/dev/null 2>&1 && na=$((na + 1))
	done <"$work/old.$mode"
	check "[$mode] no neighbour advertisement for $(wc -l <"$work/old.$mode") addresses out of their slots ($na)" \
		test "$na" = 0
	echo "     ([$mode] server $(show s | grep '^guard_' | tr '\n' ' '))"
	echo "     ([$mode] client $(show c1 | grep '^guard_' | tr '\n' ' '))"
	check "[$mode] the guard's transactions all went through" \
		test "$(field s guard_errors)/$(field c1 guard_errors)" = 0/0
	wait "$ping_pid"
	check "[$mode] the tunnel passed pings meanwhile" \
		test "$(grep -c 'bytes from' "$work/ping.$mode")" -ge 50
	stop c1
	stop s
	sed 's/^route replace/route del/' "$work/routes.$mode" >"$work/unroutes.$mode"
	in_ns r ip -6 -batch "$work/unroutes.$mode" 2>/dev/null
}

probe_round per-address
sed -i 's/^\[Server\]$/&\nAddressMode = scale/' "$work/s/server.conf"
probe_round scale
check "the server left nothing behind" nothing_left s
check "the client left nothing behind" nothing_left c1
exit $((fails > 0))
