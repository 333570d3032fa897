#!/bin/bash
# bench/addr_bind.sh: binding MT6D addresses, our engine against iproute2.
#
#   bench/addr_bind.sh                   the whole table (about 15 minutes)
#   QUICK=1 bench/addr_bind.sh           small sizes, a few seconds each
#   BIND_N="1000 8000" ROT_S="100 1000" ROT_SECONDS=30 bench/addr_bind.sh
#   BIND_N= PROXY_N= MODES=scale bench/addr_bind.sh   (an empty list skips a part)
#
# Runs as root in two private namespaces joined by one veth pair
#
#   $NS-h: eth0 2001:db8:b::2/64  (the host under test; MT6D addresses here)
#     |
#   $NS-p: eth0 2001:db8:b::1/64  (its gateway)
#
# and prints three tables:
#   1. bind then remove N random-IID /128s (nodad, preferred 0, valid 600 s):
#      build/bench/bench_addr_bind (libmnl batches) on eth0 and spread over 64
#      macvlan children, against `ip -6 -batch` on eth0, in the same run;
#   2. sustained rotation for ROT_SECONDS of S sessions (three live addresses
#      each, one replaced every 3 s, all sessions on the same slot boundary) in
#      per-address mode (netlink, one interface and 64 macvlan children) and in
#      scale mode (claimed /64 + our neighbour responder + IPV6_FREEBIND
#      sockets), with the CPU time of the process doing it (system time
#      included: rtnetlink runs in the sender's context);
#   3. kernel proxy-NDP entries (the alternative to our responder) added and
#      deleted with `ip -6 -batch`.
# Every figure also goes to $BENCH_OUT/addr_bind.tsv (bench/results.sh), from
# which scripts/perf-report.py writes docs/PERFORMANCE.md.
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tool=${MT6D_BUILD:-$top/build}/bench/bench_addr_bind
NS=mt6dbench$$
H=$NS-h
tmp=$(mktemp -d /tmp/addr_bind.XXXXXX)
# shellcheck source=bench/results.sh
. "$top/bench/results.sh" addr_bind

if [ "${QUICK:-0}" = 1 ]; then
	BIND_N=${BIND_N-500 2000}
	ROT_S=${ROT_S-100 1000}
	ROT_SECONDS=${ROT_SECONDS:-6}
	PROXY_N=${PROXY_N-500}
fi
BIND_N=${BIND_N-1000 8000 16000}
ROT_S=${ROT_S-100 1000 5000 15000}
ROT_SECONDS=${ROT_SECONDS:-30}
PROXY_N=${PROXY_N-1000 4000 8000}
MODES=${MODES:-addr-1 addr-64 scale}
ROT=3
CHILDREN=64
# Deleted addresses leave MLDv2 state-change records behind (the kernel
# repeats "left group" reports for a couple of seconds), and while they
# last every add costs many times more: 2,000 adds took 0.5 s on a quiet
# link and 7-11 s right after 2,000 deletes, for ip and for us alike. Every
# measured run starts on a quiet link.
SETTLE_S=${SETTLE_S:-5}
result param rot_seconds="$ROT_SECONDS" rot_s="$ROT" children="$CHILDREN" settle_s="$SETTLE_S"

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
at_exit 'ip netns del "$H" 2>/dev/null; ip netns del "$NS-p" 2>/dev/null; rm -rf "$tmp"'

[ "$(id -u)" -eq 0 ] || { echo "addr_bind: needs root (namespaces, netlink)" >&2; exit 1; }
if [ ! -x "$tool" ]; then
	make -C "$top" -s "$tool" >/dev/null || { echo "addr_bind: cannot build $tool" >&2; exit 1; }
fi

H() { ip netns exec "$H" "$@"; }
settle() { sleep "$SETTLE_S"; }
now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

ip netns add "$H" || exit 1
ip netns add "$NS-p" || exit 1
ip -n "$H" link add eth0 type veth peer name eth0 netns "$NS-p" || exit 1
for ns in "$H" "$NS-p"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	ip -n "$ns" link set lo up
	ip -n "$ns" link set eth0 up
done
ip -n "$H" -6 addr add 2001:db8:b::2/64 dev eth0 nodad
ip -n "$NS-p" -6 addr add 2001:db8:b::1/64 dev eth0 nodad

# ---- 1. bind then remove -------------------------------------------------
ip_batch() { # file: prints seconds
	local t0 t1
	t0=$(now_ns)
	ip -n "$H" -6 -batch "$1" || return 1
	t1=$(now_ns)
	secs "$t0" "$t1"
}

bind_rows=()
for n in $BIND_N; do
	"$tool" gen "$n" >"$tmp/addrs"
	sed 's|.*|addr add &/128 dev eth0 nodad noprefixroute preferred_lft 0 valid_lft 600|' "$tmp/addrs" >"$tmp/add"
	sed 's|.*|addr del &/128 dev eth0|' "$tmp/addrs" >"$tmp/del"
	echo "bind+remove N=$n ..." >&2
	settle
	eng=$(H "$tool" bind-remove eth0 "$tmp/addrs" 0) || { echo "engine failed at N=$n" >&2; exit 1; }
	settle
	mv=$(H "$tool" bind-remove eth0 "$tmp/addrs" $CHILDREN) || { echo "engine (macvlan) failed at N=$n" >&2; exit 1; }
	settle
	ip_add=$(ip_batch "$tmp/add") || { echo "ip -batch add failed at N=$n" >&2; exit 1; }
	ip_del=$(ip_batch "$tmp/del") || { echo "ip -batch del failed at N=$n" >&2; exit 1; }
	bind_rows+=("$n $(field "$eng" bind_s) $(field "$eng" remove_s) $ip_add $ip_del $(field "$mv" bind_s) $(field "$mv" remove_s)")
	result bind n="$n" mt6d_add="$(field "$eng" bind_s)" mt6d_del="$(field "$eng" remove_s)" \
		ip_add="$ip_add" ip_del="$ip_del" mv64_add="$(field "$mv" bind_s)" mv64_del="$(field "$mv" remove_s)"
done

# ---- 2. sustained rotation -------------------------------------------------
rot_rows=()
for s in $ROT_S; do
	for mode in $MODES; do
		echo "rotate S=$s $mode ..." >&2
		settle
		case $mode in
		addr-1)
			# One interface: docs/LAB.md has ~900 s per tick at 5,000
			# sessions; only the sizes it can set up in minutes run.
			if [ "$s" -gt 1000 ]; then
				rot_rows+=("$s $mode - - - - - skipped")
				result rot s="$s" mode="$mode" sustained=skipped
				continue
			fi
			out=$(H "$tool" rotate eth0 "$s" "$ROT_SECONDS" $ROT 0) ;;
		addr-*)
			# ROT_ADDR64_MAX: larger S only in scale mode (shorter runs).
			if [ -n "${ROT_ADDR64_MAX:-}" ] && [ "$s" -gt "$ROT_ADDR64_MAX" ]; then
				rot_rows+=("$s $mode - - - - - skipped")
				result rot s="$s" mode="$mode" sustained=skipped
				continue
			fi
			out=$(H "$tool" rotate eth0 "$s" "$ROT_SECONDS" $ROT $CHILDREN) ;;
		scale)
			# Not head: the tool must live on to remove its claim.
			out=$(H "$tool" scale-rotate eth0 2001:db8:b::/64 "$s" "$ROT_SECONDS" $ROT | grep '^sessions=') ;;
		esac || { echo "rotation failed: S=$s $mode" >&2; exit 1; }
		rot_rows+=("$s $mode $(field "$out" setup_s) $(field "$out" mean_tick_s) $(field "$out" max_tick_s) $(field "$out" cpu_s) $(field "$out" cpu_pct) $(field "$out" sustained)")
		result rot s="$s" mode="$mode" setup="$(field "$out" setup_s)" mean_tick="$(field "$out" mean_tick_s)" \
			max_tick="$(field "$out" max_tick_s)" ticks="$(field "$out" ticks)" cpu="$(field "$out" cpu_s)" cpu_pct="$(field "$out" cpu_pct)" \
			sustained="$(field "$out" sustained)"
	done
done

# ---- 3. proxy-NDP entries ----------------------------------------------------
proxy_rows=()
H sysctl -qw net.ipv6.conf.eth0.proxy_ndp=1
for n in $PROXY_N; do
	echo "proxy entries N=$n ..." >&2
	"$tool" gen "$n" >"$tmp/addrs"
	sed 's|.*|neigh add proxy & dev eth0|' "$tmp/addrs" >"$tmp/add"
	sed 's|.*|neigh del proxy & dev eth0|' "$tmp/addrs" >"$tmp/del"
	settle
	p_add=$(ip_batch "$tmp/add") || exit 1
	p_del=$(ip_batch "$tmp/del") || exit 1
	proxy_rows+=("$n $p_add $p_del")
	result proxy n="$n" add="$p_add" del="$p_del"
done

# ---- tables ----------------------------------------------------------------
if [ ${#bind_rows[@]} -gt 0 ]; then
echo
echo "1. Bind then remove N addresses (random IIDs, /128, nodad, preferred_lft 0)"
printf '%7s | %9s %9s | %9s %9s | %8s %8s | %9s %9s | %7s %7s\n' \
	N "mt6d add" "mt6d del" "ip add" "ip del" "add/ip" "del/ip" "mv64 add" "mv64 del" "us/add" "us@N"
pn=0 pt=0
for r in "${bind_rows[@]}"; do
	read -r n ea ed ia id ma md <<<"$r"
	printf '%7s | %8ss %8ss | %8ss %8ss | %8s %8s | %8ss %8ss | %7s %7s\n' "$n" "$ea" "$ed" "$ia" "$id" \
		"$(ratio "$ia" "$ea")" "$(ratio "$id" "$ed")" "$ma" "$md" \
		"$(awk -v t="$ea" -v n="$n" 'BEGIN { printf "%.0f", t * 1e6 / n }')" \
		"$(awk -v t="$ea" -v n="$n" -v pt="$pt" -v pn="$pn" 'BEGIN { printf "%.0f", (t - pt) * 1e6 / (n - pn) }')"
	pn=$n pt=$ea
done
echo "   add/ip, del/ip: speed of mt6d relative to ip -6 -batch (time of ip / time of mt6d)."
echo "   mv64: mt6d with the addresses spread over $CHILDREN macvlan children of eth0."
echo "   us/add: mean cost of one add by mt6d on eth0 while 0..N addresses are bound;"
echo "   us@N: the same between the previous row's N and this one (marginal cost)."
fi
if [ ${#rot_rows[@]} -gt 0 ]; then
echo
echo "2. Sustained rotation, ${ROT_SECONDS} s, one address per session replaced every ${ROT} s, 3 live"
printf '%6s | %-8s | %8s | %10s %10s | %7s %6s | %s\n' S mode "setup" "mean tick" "max tick" "cpu" "cpu%" sustained
for r in "${rot_rows[@]}"; do
	read -r s mode su mt xt cs cp ok <<<"$r"
	printf '%6s | %-8s | %7ss | %9ss %9ss | %6ss %5s%% | %s\n' "$s" "$mode" "$su" "$mt" "$xt" "$cs" "$cp" "$ok"
done
echo "   addr-1: per-address mode on eth0; addr-$CHILDREN: over $CHILDREN macvlan children;"
echo "   scale: claimed /64, responder set (3 per session) + one IPV6_FREEBIND UDP socket"
echo "   per session, replaced every tick."
echo "   A run stops at its first tick longer than ${ROT} s (sustained=no)."
fi
if [ ${#proxy_rows[@]} -gt 0 ]; then
echo
echo "3. Kernel proxy-NDP entries (ip -6 -batch neigh add/del proxy), for comparison"
printf '%7s | %9s %9s\n' N add del
for r in "${proxy_rows[@]}"; do
	read -r n a d <<<"$r"
	printf '%7s | %8ss %8ss\n' "$n" "$a" "$d"
done
fi
