#!/bin/bash
# mt6d metrics on real daemons (topology: sessions-lib.sh with four client
# hosts): mt6d-server with two sessions (c1, c2), those two mt6d-clients,
# and a pair of mt6d-peer on c3 and c4 (c3's counters from its -S file,
# c4's from its control socket, -s), Rot 1 s. promtool (Debian's
# prometheus) accepts the output of `mt6d metrics` and of `mt6d show
# --format prometheus`; its values are the ones `mt6d show dump` and the
# peer's counters file give; no label holds an address or a port, and the
# set of series stays the same across rotations (a label that rotated would
# make new ones); a daemon that does not answer is mt6d_up 0 and the exit
# status 1; -o replaces its file atomically, readable by node_exporter.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

command -v promtool >/dev/null || { echo "FAIL: promtool missing (scripts/install-deps.sh test: prometheus)"; exit 1; }
SESS_ROT=1s
LAB_CLIENTS=4
sess_lab_up
server_start
client_start 1
client_start 2

# The peers: c3 <-> c4, a pre-shared key.
head -c 32 /dev/urandom | base64 >"$work/psk"
chmod 600 "$work/psk"
peer_conf() { # host seed tunnel peer_seed peer_tunnel
	cat >"$work/$1.peer.conf" <<EOF
[Host]
Interface = eth0
TunnelName = mt6dP
TunnelAddress = $3/128
SeedAddress = $2
RotationPeriod = 1s

[Peer]
PresharedKeyFile = psk
SeedAddress = $4
TunnelAddress = $5
EOF
}
peer_conf c3 2001:db8:1:3:5eed:a:a:a fd6d::a 2001:db8:1:4:5eed:b:b:b fd6d::b
peer_conf c4 2001:db8:1:4:5eed:b:b:b fd6d::b 2001:db8:1:3:5eed:a:a:a fd6d::a
# c3's counters are read from its file (-S), c4's from its control socket (-s).
"$lab" exec c3 "$build/mt6d-peer" -d -v -c "$work/c3.peer.conf" -S "$work/c3.stats" \
	-u root >>"$work/c3.peer.log" 2>&1 &
PID[pc3]=$!
"$lab" exec c4 "$build/mt6d-peer" -d -v -c "$work/c4.peer.conf" -s "$work/c4.sock" \
	-u root >>"$work/c4.peer.log" 2>&1 &
PID[pc4]=$!

check "client 1 establishes a session" wait_for 10 has_session 1
check "client 2 establishes a session" wait_for 10 has_session 2
check "peer c3 reaches peer c4 through its tunnel" wait_for 10 in_ns c3 ping -c 1 -W 1 fd6d::b
check "traffic through client 1's session" in_ns c1 ping -c 5 -i 0.2 -W 2 "$(server_tun 1)"
# The peer writes its counters file on SIGUSR1.
kill -USR1 "${PID[pc3]}"
check "peer c3 wrote its counters" wait_for 5 test -s "$work/c3.stats"

metrics() { # extra args...
	"$build/mt6d" metrics -s "server=$work/s/ctl.sock" -s "c1=$work/c1/ctl.sock" \
		-s "c2=$work/c2/ctl.sock" -p "peer=$work/c3.stats" -s "$work/c4.sock" "$@"
}
c4_rx() { "$build/mt6d" show -s "$work/c4.sock" dump | sed -n 's/^rx_packets=//p'; }
mkdir -p "$work/textfile"
before_rx=$(session_field client-1 rx_packets)
before_tx=$(field c1 tx_packets)
before_c4=$(c4_rx)
check "mt6d metrics -o writes the textfile" metrics -o "$work/textfile/mt6d.prom"
after_rx=$(session_field client-1 rx_packets)
after_tx=$(field c1 tx_packets)
after_c4=$(c4_rx)
prom=$work/textfile/mt6d.prom
check "promtool check metrics accepts it" promtool check metrics <"$prom"
check "promtool accepts mt6d show --format prometheus" \
	bash -c "'$build/mt6d' show -s '$work/s/ctl.sock' --format prometheus | promtool check metrics"
check "it is 0644 and no temporary file is left" \
	bash -c "test \"\$(stat -c %a '$prom')\" = 644 && test \"\$(ls -A '$work/textfile')\" = mt6d.prom"

sample() { # metric label-regex: the value of the one sample that matches
	awk -v m="$1" -v l="$2" '$1 ~ "^" m "\\{" && $1 ~ l {print $2}' "$prom"
}
between() { # low value high
	[ -n "$2" ] && [ "$1" -le "$2" ] && [ "$2" -le "$3" ]
}
v=$(sample mt6d_session_rx_packets_total 'daemon="server",peer="client-1"')
check "server's rx packets of client-1 ($v) are show dump's ($before_rx..$after_rx)" \
	between "$before_rx" "$v" "$after_rx"
v=$(sample mt6d_session_tx_packets_total 'daemon="c1",peer="server"')
check "c1's tx packets ($v) are show dump's ($before_tx..$after_tx)" between "$before_tx" "$v" "$after_tx"
for k in rx_packets tx_bytes rotations; do
	want=$(sed -n "s/^$k=//p" "$work/c3.stats")
	case $k in rotations) m=mt6d_session_rotations_total ;; *) m=mt6d_session_${k}_total ;; esac
	v=$(sample "$m" 'daemon="peer",peer="peer"')
	check "peer's $k is its counters file's ($want)" test "$v" = "$want"
done
check "the peer's tunnel counted packets" test "$(sample mt6d_session_rx_packets_total 'daemon="peer"')" -gt 0
v=$(sample mt6d_session_rx_packets_total 'daemon="c4",peer="peer"')
check "peer c4's rx packets through its socket ($v) are show dump's ($before_c4..$after_c4)" \
	between "$before_c4" "$v" "$after_c4"
check "peer c4 is a peer with its interfaces" grep -qx 'mt6d_info{daemon="c4",role="peer",interface="mt6dP",link="eth0"} 1' "$prom"
check "server has 2 sessions, 4 registered clients" \
	test "$(sample mt6d_sessions 'daemon="server"')/$(sample mt6d_registered_clients 'daemon="server"')" = 2/4
check "threat level normal (1)" test "$(sample mt6d_threat_level 'daemon="server"')" = 1
check "rotation period 1 s" test "$(sample mt6d_rotation_period_seconds 'daemon="server"')" = 1.000
check "client state is a label" grep -qx 'mt6d_client_state{daemon="c1",state="session"} 1' "$prom"
check "drops by reason" grep -q '^mt6d_intro_drops_total{daemon="server",reason="unknown_iid"} ' "$prom"
check "every daemon is up" test "$(grep -c '^mt6d_up{.*} 1$' "$prom")" = 5

# Bounded labels: no value that looks like an address, no address or
# endpoint of the dumps anywhere, and the same series after rotations.
labels=$(grep -v '^#' "$prom" | sed -n 's/^[^{]*{\(.*\)} .*/\1/p' | grep -o '="[^"]*"' | sort -u)
check "no label value holds ':' or a port (labels: $(echo "$labels" | tr '\n' ' '))" \
	not grep -qE ':|^="[0-9]+"$' <<<"$labels"
n_addr=0
for who in s c1 c2; do
	# Every address and endpoint the dump shows (the values with a ':').
	for a in $(show "$who" | sed -n 's/^[^=]*=\[\{0,1\}\([0-9a-f:]*:[0-9a-f:]*\).*/\1/p'); do
		grep -qF -- "$a" "$prom" && check "address $a of $who is not in the metrics" false
		n_addr=$((n_addr + 1))
	done
done
check "none of the $n_addr addresses and endpoints of the dumps is in the metrics" test "$n_addr" -ge 20
series() { metrics | grep -v '^#' | sed 's/ [^ ]*$//' | sort; }
series >"$work/series1"
sleep 2.5
series >"$work/series2"
check "the same $(wc -l <"$work/series1") series after 2 rotations" diff "$work/series1" "$work/series2"

# A daemon that does not answer.
metrics -s "gone=$work/none.sock" >"$work/down.prom" 2>"$work/down.err"
rc=$?
check "a silent daemon: exit 1" test "$rc" = 1
check "... mt6d_up 0 for it, the others still there" \
	bash -c "grep -qx 'mt6d_up{daemon=\"gone\"} 0' '$work/down.prom' && grep -q 'daemon=\"c2\"' '$work/down.prom'"
check "... said on stderr" grep -q "none.sock" "$work/down.err"
check "the same daemon name twice is refused (exit 2)" \
	bash -c "'$build/mt6d' metrics -s 'x=$work/s/ctl.sock' -s 'x=$work/c1/ctl.sock' >/dev/null 2>&1; test \$? = 2"

check "mt6d watch shows peer c4's tunnel" bash -c "'$build/mt6d' watch -s '$work/c4.sock' --count 1 | grep -q 'peer'"
# mt6d-peer's control socket goes with it.
stop pc4
check "peer c4's socket is gone after SIGTERM" not test -e "$work/c4.sock"

finish
