#!/bin/bash
# mt6d-server in AddressMode = routed (docs/running.md "Choosing an address
# mode") with two mt6d-client hosts (topology: sessions-lib.sh). The lab's
# router r routes 2001:db8:0:f1::/64 to the server's fixed address
# 2001:db8:0:1::2 (lab.sh -R), as an operator's router would with a static
# route; the server claims that /64 with one local route and answers no
# neighbour discovery. Checked: a bad configuration fails at start with its
# reason and exit code 1; sessions come up and carry pings across many slot
# boundaries while r's neighbour table holds the server's fixed address and
# nothing of the routed /64; a prober on a client host gets no answer from
# the routed /64 (live session addresses, the seed, never-used addresses);
# no neighbour solicitation for it is answered; a SIGKILL leaves the claim
# (and the guard's table: still silent) until the next start purges it; a
# clean stop removes the route and leaves nothing.
# shellcheck source=tests/netns/sessions-lib.sh
SESS_ROUTED_PREFIX=2001:db8:0:f1::/64
. "$(dirname "$0")/sessions-lib.sh"

SESS_ROT=1s
RPFX=2001:db8:0:f1:
sess_lab_up

# ---- configuration errors: refused before anything is touched ----
bad_start() { # name sed-expression: exit status and log of a start with that change
	sed "$2" "$work/s/server.conf" >"$work/s/$1.conf"
	"$lab" exec s "$build/mt6d-server" -d -c "$work/s/$1.conf" -s "$work/s/$1.sock" -u root \
		>"$work/s/$1.log" 2>&1
	echo $?
}
check "routed without Prefix: exit 1" test "$(bad_start noprefix '/^Prefix/d')" = 1
check "routed without Prefix: the reason" \
	grep -q "Prefix: missing in \[Server\]: AddressMode = routed needs" "$work/s/noprefix.log"
check "a Prefix of /48: exit 1" test "$(bad_start p48 's|^Prefix = .*|Prefix = 2001:db8:0:f1::/48|')" = 1
check "a Prefix of /48: the reason" grep -q "p48.conf:[0-9]*: Prefix: must be a /64.*2001:db8:0:f1::/48" "$work/s/p48.log"
check "Prefix without routed: exit 1" test "$(bad_start scale 's/^AddressMode = routed/AddressMode = scale/')" = 1
check "Prefix without routed: the reason" grep -q "Prefix: only with AddressMode = routed" "$work/s/scale.log"
check "Prefix = the /64 of Interface: exit 1" \
	test "$(bad_start onlink 's|^Prefix = .*|Prefix = 2001:db8:0:1::/64|')" = 1
check "Prefix = the /64 of Interface: the reason" grep -q "is the /64 of Interface 'eth0'" "$work/s/onlink.log"
check "no failed start left a route" test -z "$(in_ns s ip -6 route show table all proto 0x6d)"

# ---- sessions through the routed /64 ----
server_start
client_start 1
client_start 2
check "the server runs in routed mode" field_is s address_mode routed
check "the routed /64 is claimed with one local route" \
	bash -c "'$lab' exec s ip -6 route show table local proto 0x6d | grep -q '^local 2001:db8:0:f1::/64 dev eth0'"
check "the seed address is in the routed /64 ($(field s seed_address))" \
	bash -c "'$build/mt6d' show -s '$work/s/ctl.sock' dump | grep -q '^seed_address=$RPFX'"
# 30 s: the clients bind their addresses through rtnetlink, whose lock is
# the whole machine's; other namespaces busy with thousands of interfaces
# delay a request by many seconds.
check "client 1 establishes a session" wait_for 30 has_session 1
check "client 2 establishes a session" wait_for 30 has_session 2
live() { show s | sed -n 's/^own_endpoint\(_next\)\{0,1\}=\[\(.*\)\]:.*/\2/p' | sort -u; }
check "the server's session endpoints are in the routed /64 ($(live | tr '\n' ' '))" \
	bash -c "test -n \"\$1\" && ! grep -v '^$RPFX' <<<\"\$1\"" _ "$(live)"

in_ns c1 ping -n -i 0.2 -c 30 -W 2 "$(server_tun 1)" >"$work/ping1" 2>&1 &
p1=$!
in_ns c2 ping -n -i 0.2 -c 30 -W 2 "$(server_tun 2)" >"$work/ping2" 2>&1 &
p2=$!
EXTRA_PIDS="$p1 $p2"
r0=$(field c1 rotations)
: >"$work/neigh"
for _ in $(seq 12); do
	in_ns r ip -6 neigh show >>"$work/neigh"
	sleep 0.5
done
wait "$p1" "$p2"
EXTRA_PIDS=
r1=$(field c1 rotations)
check "client 1's pings went through ($(grep -c 'bytes from' "$work/ping1")/30)" \
	test "$(grep -c 'bytes from' "$work/ping1")" -ge 27
check "client 2's pings went through ($(grep -c 'bytes from' "$work/ping2")/30)" \
	test "$(grep -c 'bytes from' "$work/ping2")" -ge 27
check "the sessions crossed several slot boundaries meanwhile ($r0 -> $r1)" test "$((r1 - r0))" -ge 4
check "r's neighbour table held the server's fixed address" grep -q '^2001:db8:0:1::2 ' "$work/neigh"
check "r's neighbour table held nothing of the routed /64 ($(grep -c "^$RPFX" "$work/neigh"))" \
	not grep -q "^$RPFX" "$work/neigh"
check "no session address error" test "$(field s addr_errors)" = 0

# ---- a prober on client host 1 ----
PROBE_SRC=$("$lab" addr c1)
probe() { # tag: every live MT6D address, the seed and never-used addresses of the routed /64
	local tag=$1 answers
	{ live; field s seed_address; echo "${RPFX}:dead:beef:1"; echo "${RPFX}:1"; echo "${RPFX}ffff:ffff:ffff:fffe"; } |
		grep . | sort -u >"$work/targets.$tag"
	in_ns c1 timeout 8 tcpdump -i eth0 -n -U -w "$work/probe.$tag.pcap" \
		"ip6 dst $PROBE_SRC and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)" \
		2>"$work/tcpdump.$tag.log" &
	local td=$!
	sleep 1
	# shellcheck disable=SC2046
	in_ns c1 python3 "$top/tests/netns/guard_probe.py" "$PROBE_SRC" $(cat "$work/targets.$tag") \
		>"$work/probe.$tag" 2>&1
	sleep 0.5
	kill -INT "$td" 2>/dev/null
	wait "$td" 2>/dev/null
	answers=$(tcpdump -r "$work/probe.$tag.pcap" -n 2>/dev/null | wc -l)
	echo "     ([$tag] $(wc -l <"$work/targets.$tag") targets: $(tr '\n' ';' <"$work/probe.$tag"))"
	check "[$tag] no answer to $(($(wc -l <"$work/targets.$tag") * 6)) probes ($answers captured)" \
		test "$answers" = 0
	check "[$tag] the prober saw no answer" grep -q '^answers 0$' "$work/probe.$tag"
}
probe running

# Neighbour solicitations from r straight onto br0 (as if the prefix were
# on-link): for a live address and a never-used one, no advertisement.
na=0
for t in $(live | head -n 2) "${RPFX}:dead:beef:2"; do
	in_ns r ndisc6 -1 -r 2 -w 300 "$t" br0 </dev/null >/dev/null 2>&1 && na=$((na + 1))
done
check "no neighbour advertisement for the routed /64 ($na)" test "$na" = 0
check "the server answered no solicitation" test "$(field s nd_answered)" = 0

# ---- SIGKILL: the claim and the guard's table stay; the next start purges ----
kill -KILL "${PID[s]}"
wait "${PID[s]}" 2>/dev/null
unset "PID[s]"
check "SIGKILL leaves the claim" \
	bash -c "'$lab' exec s ip -6 route show table local proto 0x6d | grep -q '^local 2001:db8:0:f1::/64'"
check "SIGKILL leaves the guard's nftables table" bash -c "'$lab' exec s nft list tables | grep -q mt6d-server"
probe killed
rm -f "$work/s/ctl.sock"
server_start
check "the restarted server purged the old claim (one claim)" \
	test "$(in_ns s ip -6 route show table all proto 0x6d | wc -l)" = 1
check "the restarted server logged the purge" grep -q "removed 1 MT6D routes of a previous run" "$work/s/log"
check "client 1 establishes a session with the restarted server" wait_for 20 has_session 1
check "ping from client 1 after the restart" \
	wait_for 10 in_ns c1 ping -c 2 -i 0.2 -W 2 "$(server_tun 1)"

stop c1
stop c2
stop s
check "clean shutdown removed the claim" test -z "$(in_ns s ip -6 route show table all proto 0x6d)"
for h in s c1 c2; do
	check "clean shutdown left nothing in $h" nothing_left "$h"
done
check "the server's log has no error" bash -c "! grep -iE 'error|refused' '$work/s/log'"

finish
