#!/bin/bash
# demo.sh: the whole system in network namespaces, in one command (make demo).
#
#   scripts/demo.sh [--duration N] [--rot R] [--config-period P]
#
# Builds a lab (scripts/lab.sh: a router, a server host s, two client hosts
# c1 and c2 in their own /64s, DHT hosts d1..d8), starts a private DHT swarm
# (4 mt6d-dhtnode and one libtorrent node on each DHT host), makes the key
# pairs and configs, starts mt6d-server (it publishes each client's config in
# the DHT), an HTTP server in s, and both clients, which find their config in
# the DHT and establish a session. Each client then fetches a file from the
# server's tunnel address with curl, over and over, checking its sha256,
# while the MT6D addresses change every rotation.
#
#   --duration N        unattended: run N seconds after the sessions are up,
#                       print a summary every 5 s, then check everything and
#                       exit 0 only if every step worked (CI, make check)
#   (no --duration)     interactive: a live view refreshed every second,
#                       until Ctrl-C
#   --rot R             RotationPeriod (default 3s)
#   --config-period P   ConfigPeriod (default 60s: the server draws a new
#                       key every minute, the clients follow; 15min is the
#                       product's default, its first publication takes ~1 min)
#
# Environment: MT6D_BUILD, the build directory (default build/); KEEP_WORK=1
# keeps the work directory (logs, configs). Everything else (namespaces,
# processes, files) is removed on exit, Ctrl-C included.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
DURATION=
ROT=3s
# A short ConfigPeriod: the server publishes a window's config within
# seconds of starting (a catch-up is spread over period/15), and the demo
# shows it drawing a new key every minute and the clients following.
PERIOD=60s

usage() {
	sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=${2:-}; shift 2 || usage ;;
	--rot) ROT=${2:-}; shift 2 || usage ;;
	--config-period) PERIOD=${2:-}; shift 2 || usage ;;
	-h | --help) usage ;;
	*) echo "demo.sh: unknown option '$1'" >&2; usage ;;
	esac
done
if [ -n "$DURATION" ]; then
	[[ $DURATION =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 10 ] ||
		{ echo "demo.sh: --duration: whole seconds, at least 10" >&2; exit 2; }
fi
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: needs root (network namespaces, TUN)" >&2; exit 1; }

# Rot in ms, for the rotation count.
case $ROT in
*ms) ROT_MS=${ROT%ms} ;;
*s) ROT_MS=$((${ROT%s} * 1000)) ;;
*) echo "demo.sh: --rot: e.g. 3s or 500ms" >&2; exit 2 ;;
esac
[[ $ROT_MS =~ ^[0-9]+$ ]] && [ "$ROT_MS" -ge 100 ] || { echo "demo.sh: --rot: at least 100ms" >&2; exit 2; }

MT6D_BUILD=$(cd "${MT6D_BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "demo.sh: no build directory ${MT6D_BUILD:-$top/build} (run make)" >&2; exit 1; }
export MT6D_BUILD
# The lab and its work directory: sessions-lib.sh (shared with the tests)
# makes the keys and configs and starts the swarm; demo$$ cannot collide with
# a test's lab (t<name>$$) nor with another demo.
export SESS_LAB=demo$$ SESS_WORK=mt6d-demo LAB_CLIENTS=2 LAB_DHT=8
SESS_ROT=$ROT
SESS_PERIOD=$PERIOD
# shellcheck source=tests/netns/sessions-lib.sh source-path=SCRIPTDIR/..
. "$top/tests/netns/sessions-lib.sh"
PY=/usr/bin/python3
PORT=8080
UNATTENDED=0
[ -n "$DURATION" ] && UNATTENDED=1
failed_steps=0
links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)

T0=$(date +%s)
stamp() { printf '%3ds' $(($(date +%s) - T0)); }
ok() { echo "[ok] $(stamp) $*"; }
fail() { # reason...: a step failed; the demo cannot go on
	echo "[FAIL] $(stamp) $*"
	failed_steps=$((failed_steps + 1))
	exit 1
}
fail_soft() { # a final check failed; the others are still checked
	echo "[FAIL] $(stamp) $*"
	failed_steps=$((failed_steps + 1))
}

# ---------- teardown ----------

# Leaves nothing behind: our processes (by PID), the lab, the work
# directory. In unattended mode it also checks so, and sets the exit status.
demo_cleanup() {
	local rc=$? who left h
	trap '' INT TERM
	rm -f "$work/run"
	echo
	echo "tearing down..."
	# Clients first (they send teardowns), then the server; they remove
	# their interfaces, addresses and routes.
	for who in f1 f2 http c1 c2 s; do
		[ -n "${PID[$who]:-}" ] && stop_pids "${PID[$who]}"
		unset "PID[$who]"
	done
	if [ "$UNATTENDED" = 1 ] && [ "$rc" = 0 ]; then
		for h in s c1 c2; do
			if left=$(nothing_left "$h" 2>&1); then
				ok "$h: the daemon's clean shutdown left no MT6D address, interface or route"
			else
				fail_soft "$h: $left"
			fi
		done
	fi
	for who in "${!PID[@]}"; do stop_pids "${PID[$who]}"; done
	PID=()
	cleanup >/dev/null 2>&1    # tests/lib.sh: sess_cleanup and the rest
	left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$LAB-" | tr '\n' ' ')
	[ -z "$left" ] || left="namespaces $left"
	if [ "${KEEP_WORK:-0}" = 1 ]; then
		echo "work dir kept (KEEP_WORK=1): $work"
	elif [ -e "$work" ]; then
		left="$left work dir $work"
	fi
	[ ! -e "/tmp/mt6d-lab-$LAB.state" ] || left="$left lab state file"
	h=$(comm -13 <(echo "$links_before") <(ip -o link show | awk -F': ' '{print $2}' | sort) |
		grep -E '^(p-|mt6d|br0|eth0)' | tr '\n' ' ')
	[ -z "$h" ] || left="$left root links $h"
	if [ -z "$left" ]; then
		ok "teardown: no namespace, process, interface or file of the demo left"
	else
		echo "[FAIL] $(stamp) teardown: left behind: $left"
		failed_steps=$((failed_steps + 1))
	fi
	if [ "$UNATTENDED" = 1 ]; then
		if [ "$rc" = 0 ] && [ "$failed_steps" = 0 ]; then
			echo "demo: PASS"
			exit 0
		fi
		echo "demo: FAIL ($failed_steps step(s) failed)"
		exit 1
	fi
	# Interactive: Ctrl-C is the normal end.
	[ "$failed_steps" = 0 ] && exit 0
	exit 1
}
trap demo_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------- set-up ----------

for b in mt6d mt6d-server mt6d-client mt6d-dhtnode; do
	[ -x "$build/$b" ] || fail "tools: no $build/$b (run make)"
done
$PY -c 'import libtorrent' 2>/dev/null || fail "tools: python3-libtorrent missing (scripts/install-deps.sh)"
command -v curl >/dev/null || fail "tools: curl missing (scripts/install-deps.sh)"
ok "tools: daemons in $build, python3-libtorrent, curl"

"$lab" up >"$work/lab.log" 2>&1 || fail "lab $LAB: $(tail -n 1 "$work/lab.log")"
ok "lab $LAB up (work dir $work): router r; server s $("$lab" prefix s)/64; clients c1 $("$lab" prefix c1)/64, c2 $("$lab" prefix c2)/64; DHT hosts d1..d8"

sess_configs 2>"$work/keys.err" || fail "key pairs: $(cat "$work/keys.err")"
touch "$work/run"

# The swarm: on each of d1..d8 four of our nodes and one libtorrent node.
sess_swarm_start 8 86400
sess_dht_configs
# The server joins the swarm while the swarm forms: its publication starts
# as soon as its node knows enough of the others.
sleep 1
"$lab" exec s "$build/mt6d-server" -d -v -c "$work/s/server.conf" -s "$work/s/ctl.sock" \
	-u root >>"$work/s/log" 2>&1 &
PID[s]=$!
lt_list() { local j; for j in $(seq 8); do printf '%s ' "$(swarm_lt_nodes "$j")"; done; }
wait_for 60 swarm_lt_joined 8 || fail "DHT swarm: the libtorrent nodes know $(lt_list)nodes after 60 s"
for who in "${!PID[@]}"; do
	[ "$who" = s ] && continue
	kill -0 "${PID[$who]}" 2>/dev/null || fail "DHT swarm: node $who exited: $(tail -n 2 "$work/$who.log" 2>/dev/null)"
done
ok "DHT swarm: 32 mt6d-dhtnode and 8 libtorrent nodes on d1..d8 (the libtorrent nodes know $(lt_list | sed 's/ $//') nodes)"

wait_for 15 test -S "$work/s/ctl.sock" || fail "mt6d-server: no control socket: $(tail -n 3 "$work/s/log")"
ok "mt6d-server up in s: seed $(field s seed_address), RotationPeriod $ROT, ConfigPeriod $PERIOD, 2 clients registered"

# Published: both clients' configs of this window announced and stored by
# DHT nodes (the next window's follow later, spread over the period).
published() {
	local d
	d=$(show s) || return 1
	[ "$(sed -n 's/^published_clients=//p' <<<"$d")" = 2 ] &&
		[ "$(sed -n 's/^publications=//p' <<<"$d")" -ge 2 ] &&
		[ "$(sed -n 's/^announces_acked=//p' <<<"$d")" -gt 0 ]
}
wait_for 120 published ||
	fail "server publication: $(show s | grep -E '^(dht_nodes|publications|publish_failures|announces_acked|publish_pending)=' | tr '\n' ' ')"
ok "server published both clients' configs in the DHT: $(show s | grep -E '^(dht_nodes|publications|announces_acked)=' | tr '\n' ' ')"

# The application: a file served over HTTP in s, on port $PORT of every
# address (the clients use the server's tunnel address, which only their
# session reaches: the router has no route to the tunnel prefix).
mkdir -p "$work/www"
head -c 524288 /dev/urandom >"$work/www/demo.bin"
SHA=$(sha256sum <"$work/www/demo.bin" | cut -d' ' -f1)
"$lab" exec s $PY -m http.server "$PORT" --bind :: --directory "$work/www" >"$work/http.log" 2>&1 &
PID[http]=$!
wait_for 10 bash -c "ip netns exec $LAB-s ss -Hltn 'sport = :$PORT' | grep -q LISTEN" ||
	fail "HTTP server: $(tail -n 3 "$work/http.log")"
ok "HTTP server in s on port $PORT: demo.bin, 512 KiB, sha256 ${SHA:0:16}..."

for i in 1 2; do
	"$lab" exec "c$i" "$build/mt6d-client" -d -v -c "$work/c$i/client.conf" \
		-s "$work/c$i/ctl.sock" -u root >>"$work/c$i/log" 2>&1 &
	PID[c$i]=$!
done
for i in 1 2; do
	wait_for 15 test -S "$work/c$i/ctl.sock" || fail "mt6d-client $i: no control socket: $(tail -n 3 "$work/c$i/log")"
	ok "mt6d-client $i up in c$i: config opened, asking the DHT for the server's config"
done
for i in 1 2; do
	wait_for 90 field_is "c$i" state session ||
		fail "client $i: no session after 90 s: state $(field "c$i" state), fetches_ok $(field "c$i" fetches_ok), fetches_failed $(field "c$i" fetches_failed); $(tail -n 2 "$work/c$i/log" | tr '\n' ' ')"
	[ "$(field "c$i" fetches_ok)" -ge 1 ] || fail "client $i: a session without a fetched config"
	ok "client $i found its config in the DHT and established a session: $(field "c$i" client_tunnel_address) <-> $(field "c$i" server_tunnel_address)"
done

# ---------- the application ----------

# One fetch loop per client, inside its namespace: curl the file from the
# server's tunnel address every second and compare its sha256. STATUS gets
# "ok failed last_ms last_verdict unix_time longest_ms" after every transfer.
# curl may take 60 s (its own default has no limit): a connection opened
# while a client establishes again under a new K waits for SYN retransmits
# (1, 3, 7, 15, 31 s); the longest transfer is shown and reported.
fetch_loop() { # url sha status_file run_file tmp_file
	local url=$1 sha=$2 st=$3 run=$4 tmp=$5 n=0 ok=0 bad=0 t0 t1 ms max=0 verdict got
	while [ -e "$run" ] && [ "$n" -lt 1000000 ]; do
		n=$((n + 1))
		t0=$(date +%s%N)
		if curl -g -sS --max-time 60 -o "$tmp" "$url" 2>"$tmp.err"; then
			got=$(sha256sum <"$tmp" | cut -d' ' -f1)
			if [ "$got" = "$sha" ]; then verdict=sha256-ok; else verdict=sha256-MISMATCH; fi
		else
			verdict="curl-error:$(head -c 60 "$tmp.err" | tr ' \n' '_ ')"
		fi
		t1=$(date +%s%N)
		[ -e "$run" ] || break # stopped during the transfer: not a failure
		if [ "$verdict" = sha256-ok ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
		ms=$(((t1 - t0) / 1000000))
		[ "$ms" -le "$max" ] || max=$ms
		echo "$(date +%T) $verdict ${ms}ms" >>"$st.log"
		echo "$ok $bad $ms $verdict $((t1 / 1000000000)) $max" >"$st.tmp" && mv "$st.tmp" "$st"
		sleep 1
	done
}
for i in 1 2; do
	"$lab" exec "c$i" bash -c "$(declare -f fetch_loop); fetch_loop \"\$@\"" fetch_loop \
		"http://[$(server_tun "$i")]:$PORT/demo.bin" "$SHA" "$work/fetch$i" "$work/run" \
		"$work/c$i/demo.bin" >"$work/fetch$i.err" 2>&1 &
	PID[f$i]=$!
done
fetch_stat() { # i field(1..6)
	awk -v f="$2" '{print $f}' "$work/fetch$1" 2>/dev/null
}
for i in 1 2; do
	wait_for 70 test -s "$work/fetch$i" || fail "client $i: no transfer finished within 70 s"
	[ "$(fetch_stat "$i" 1)" -ge 1 ] || fail "client $i: first transfer: $(fetch_stat "$i" 4)"
	ok "client $i: curl http://[$(server_tun "$i")]:$PORT/demo.bin through the tunnel, sha256 matches"
done

# ---------- running: sample every second ----------

declare -A SEEN=() NADDR=() SLOT0=() SLOT=() SLOT0_MS=() SLOT_MS=() ADDRS=() V=()
mt6d_addrs() { # host: its MT6D addresses on eth0 ("addr valid_s"), newest first
	ip -n "$LAB-$1" -6 -o addr show dev eth0 scope global 2>/dev/null |
		awk '$4 !~ /::2\/64$/ { a = $4; sub(/\/.*/, "", a); v = "?";
			for (i = 5; i < NF; i++) if ($i == "valid_lft") v = $(i + 1);
			sub(/sec$/, "", v); print a, v }' | sort -k2,2nr
}
sample() {
	local h a v d i k
	local -A seen_k=()
	V=()
	for h in s c1 c2; do
		ADDRS[$h]=$(mt6d_addrs "$h")
		while read -r a v; do
			[ -n "$a" ] || continue
			if [ -z "${SEEN[$h $a]:-}" ]; then
				SEEN[$h $a]=1
				NADDR[$h]=$((${NADDR[$h]:-0} + 1))
			fi
		done <<<"${ADDRS[$h]}"
		# key=value into V["host key"], the first value of each key (the
		# server's per-session sections repeat keys).
		while IFS='=' read -r k v; do
			[ -n "$k" ] && [ -z "${seen_k[$h $k]:-}" ] || continue
			seen_k[$h $k]=1
			V[$h $k]=$v
		done < <(show "$h")
		V[$h at_ms]=$(($(date +%s%N) / 1000000))
	done
	for i in 1 2; do
		d=${V[c$i slot]:-}
		[ -n "$d" ] || continue
		[ -n "${SLOT0[$i]:-}" ] || { SLOT0[$i]=$d; SLOT0_MS[$i]=${V[c$i at_ms]}; }
		SLOT[$i]=$d
		SLOT_MS[$i]=${V[c$i at_ms]}
	done
}
val() { # host key
	echo "${V[$1 $2]:-}"
}
rotations() { # i: rotations seen on client i's session so far
	echo $((${SLOT[$1]:-0} - ${SLOT0[$1]:-0}))
}

COLS=$(tput cols 2>/dev/null || echo 100)
[[ $COLS =~ ^[0-9]+$ ]] && [ "$COLS" -ge 60 ] || COLS=100
[ "$COLS" -le 160 ] || COLS=160
render() { # elapsed_s
	local h i n a v total
	printf 'mt6d demo  lab %s  Rot %s  ConfigPeriod %s  %ss   Ctrl-C: stop, clean up\n' \
		"$LAB" "$ROT" "$PERIOD" "$1"
	echo
	echo "MT6D addresses (ip -6 addr show dev eth0; newest first, valid lifetime)"
	for h in s c1 c2; do
		total=$(grep -c . <<<"${ADDRS[$h]}")
		printf '  %-3s %s now, %s different ones since the start\n' "$h" "$total" "${NADDR[$h]:-0}"
		n=0
		while read -r a v; do
			[ -n "$a" ] || continue
			n=$((n + 1))
			[ $n -le 4 ] || { printf '      ... %s more\n' $((total - 4)); break; }
			printf '      %-40s %ss\n' "$a" "$v"
		done <<<"${ADDRS[$h]}"
	done
	echo
	echo "Rendezvous (DHT: 32 mt6d-dhtnode, 8 libtorrent)"
	printf '  s   knows %s nodes; %s clients published: %s publications, %s announces acked\n' \
		"$(val s dht_nodes)" "$(val s published_clients)" "$(val s publications)" "$(val s announces_acked)"
	for i in 1 2; do
		printf '  c%s  %s; configs fetched %s, failed %s; new keys followed %s\n' "$i" \
			"$(val "c$i" state)" "$(val "c$i" fetches_ok)" "$(val "c$i" fetches_failed)" \
			"$(val "c$i" reestablish_k)"
	done
	echo
	echo "Sessions (mt6d show)"
	printf '  s   %s sessions (%s started), key generation %s, threat %s, Rot %s ms\n' \
		"$(val s sessions)" "$(val s sessions_started)" "$(val s key_generation)" \
		"$(val s threat)" "$(val s rotation_ms)"
	for i in 1 2; do
		printf '  c%s  %s %s <-> %s, %s rotations\n' "$i" "$(val "c$i" session_interface)" \
			"$(val "c$i" client_tunnel_address)" "$(val "c$i" server_tunnel_address)" "$(rotations "$i")"
		printf '      slot %s  own    %s\n' "$(val "c$i" slot)" "$(val "c$i" own_endpoint)"
		printf '      %*s  server %s\n' $((5 + ${#V[c$i slot]})) '' "$(val "c$i" peer_endpoint)"
	done
	echo
	echo "HTTP through the tunnel (curl http://[server tunnel address]:$PORT/demo.bin"
	echo "every second, 512 KiB, sha256 checked)"
	for i in 1 2; do
		printf '  c%s  %s ok, %s failed; last %s ms %s; longest %s ms\n' "$i" \
			"$(fetch_stat "$i" 1)" "$(fetch_stat "$i" 2)" "$(fetch_stat "$i" 3)" \
			"$(fetch_stat "$i" 4)" "$(fetch_stat "$i" 6)"
	done
}
summary() { # elapsed_s: one line for logs
	printf 't=%3ss  addrs now/seen s %s/%s c1 %s/%s c2 %s/%s  rotations c1 %s c2 %s  sessions %s  key %s (re-established %s %s)  http c1 %s ok %s failed %s ms max, c2 %s ok %s failed %s ms max\n' \
		"$1" "$(grep -c . <<<"${ADDRS[s]}")" "${NADDR[s]:-0}" \
		"$(grep -c . <<<"${ADDRS[c1]}")" "${NADDR[c1]:-0}" \
		"$(grep -c . <<<"${ADDRS[c2]}")" "${NADDR[c2]:-0}" \
		"$(rotations 1)" "$(rotations 2)" "$(val s sessions)" "$(val s key_generation)" \
		"$(val c1 reestablish_k)" "$(val c2 reestablish_k)" \
		"$(fetch_stat 1 1)" "$(fetch_stat 1 2)" "$(fetch_stat 1 6)" \
		"$(fetch_stat 2 1)" "$(fetch_stat 2 2)" "$(fetch_stat 2 6)"
}

start=$(date +%s)
declare -A F0=([1]=$(fetch_stat 1 1) [2]=$(fetch_stat 2 1))
if [ "$UNATTENDED" = 1 ]; then
	echo "running for $DURATION s (a summary every 5 s)"
fi
last_summary=-5
while :; do
	sample
	# Elapsed at the end of the sample: the rotations counted lie within it.
	el=$(($(date +%s) - start))
	if [ "$UNATTENDED" = 1 ]; then
		if [ $((el - last_summary)) -ge 5 ]; then
			summary "$el"
			last_summary=$el
		fi
		[ "$el" -ge "$DURATION" ] && break
	else
		out=$(render "$el")
		printf '\033[H\033[2J%s\n' "$(cut -c "1-$COLS" <<<"$out")"
	fi
	# A lost process is a failure in both modes.
	for who in s c1 c2 http f1 f2; do
		kill -0 "${PID[$who]}" 2>/dev/null || fail "$who exited during the demo"
	done
	sleep 1
done

# ---------- the verdict (unattended) ----------

# A client caught establishing again under a new K (every ConfigPeriod) is
# given a bounded time to finish; then one last sample.
for i in 1 2; do
	wait_for 30 field_is "c$i" state session
done
sample
for i in 1 2; do
	[ "$(val "c$i" state)" = session ] && ok "client $i: in session at the end" ||
		fail_soft "client $i: state $(val "c$i" state) at the end"
	# Rotations between the first and the last reading of the slot: at
	# least that span / Rot, less 2 (the readings fall anywhere in a slot).
	r=$(rotations "$i")
	span=$(((${SLOT_MS[$i]:-0} - ${SLOT0_MS[$i]:-0}) / 1000))
	want=$((span * 1000 / ROT_MS - 2))
	[ "$r" -ge "$want" ] && [ "$r" -gt 0 ] && ok "client $i: $r rotations in ${span}s (at least $want expected)" ||
		fail_soft "client $i: $r rotations in ${span}s, fewer than $want"
	# Every slot brings new addresses: ip -6 addr must have shown them.
	[ "${NADDR[c$i]:-0}" -ge "$r" ] && ok "c$i: ip -6 addr showed ${NADDR[c$i]} different MT6D addresses" ||
		fail_soft "c$i: ip -6 addr showed only ${NADDR[c$i]:-0} MT6D addresses for $r rotations"
	n=$(($(fetch_stat "$i" 1) - ${F0[$i]:-0}))
	min=$((el / 4))
	if [ "$(fetch_stat "$i" 2)" != 0 ]; then
		fail_soft "client $i: $(fetch_stat "$i" 2) transfers failed: $(grep -v sha256-ok "$work/fetch$i.log" | head -n 3 | tr '\n' ';')"
	elif [ "$n" -lt "$min" ]; then
		fail_soft "client $i: only $n transfers in ${el}s (at least $min expected)"
	else
		ok "client $i: $n transfers of demo.bin through the tunnel while addresses rotated, all sha256-verified, none failed (longest $(fetch_stat "$i" 6) ms)"
	fi
done
[ "${NADDR[s]:-0}" -ge "$(rotations 1)" ] && ok "s: ip -6 addr showed ${NADDR[s]} different MT6D addresses" ||
	fail_soft "s: ip -6 addr showed only ${NADDR[s]:-0} MT6D addresses"
[ "$(val s sessions)" = 2 ] && ok "server: 2 sessions" || fail_soft "server: $(val s sessions) sessions at the end"
[ $failed_steps = 0 ] || exit 1
exit 0
