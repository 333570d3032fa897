#!/bin/bash
# The shipped units under a real systemd: two Debian 12 roots with systemd
# and the package installed (tests/system/root-lib.sh), each booted by
# systemd-nspawn with systemd as its PID 1, inside the network namespaces
# of a lab (scripts/lab.sh): the server container is host s, the client
# container host c1, joined through the lab's router by veths; a private DHT
# swarm on d1..d8 (tests/netns/sessions-lib.sh, as in the demo). Then, with
# systemctl in the containers:
#
#   enable --now mt6d-server and mt6d-client@home: the client finds the
#   server in the DHT and the session comes up (ping through it);
#   each daemon runs as mt6d (not uid 0) with CapEff = CapPrm = CAP_NET_ADMIN
#   alone, no ambient or inheritable capability (/proc/PID/status);
#   kill -9 of the server: its MT6D addresses stay behind, systemd restarts
#   it (Restart=on-failure), the new one purges them (its journal says so)
#   and the session comes back;
#   reload mt6d-server after the operator removed the client from
#   server.conf: the config is read again, the client is revoked (audit.log,
#   teardown received);
#   stop: nothing of ours left in `ip -6 addr`, `ip link`, the routes or
#   nftables of either namespace, and both units inactive, not failed;
#   the maintainer scripts under systemd: installing the package again (an
#   upgrade) restarts the running server and client instance, dpkg -r stops
#   them, leaving nothing behind.
#
# This machine's PID 1 is not systemd and its cgroups are v1 (a named
# name=systemd hierarchy beside the controllers): systemd-nspawn runs with
# --register=no --keep-unit (no machined, no bus to ask for a scope) and
# SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 (the container's systemd gets the
# legacy hierarchy, as the host has). /dev/net/tun is a node of our own,
# mode 0666 as udev makes it on every Debian host (this machine has no udev:
# its own is 0600 root, which no unprivileged daemon can open), bound in.
# RLIMIT_MEMLOCK is unlimited for the container and its PID 1 keeps
# CAP_SYS_RESOURCE, as a host's PID 1 does, so that the units'
# LimitMEMLOCK=infinity holds (where the host itself may raise it: see the
# check). The container's
# systemd cannot enforce DevicePolicy= here (nspawn mounts the v1 devices
# hierarchy read-only): that part of the sandbox is not tested.
#
# MT6D_DEB: the package (make check-system passes make deb's), else built
# here. Slow (a few minutes): make check-system, not make check.
export LAB_CLIENTS=1 LAB_DHT=8
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/netns/sessions-lib.sh
. "$top/tests/netns/sessions-lib.sh"
# shellcheck source=tests/system/root-lib.sh
. "$top/tests/system/root-lib.sh"

# Rot 3 s (the default): the addresses a kill leaves outlive RestartSec.
SESS_ROT=3s
declare -A CT=() INIT=() ROOT=()
ct_cleanup() {
	local c
	for c in "${!CT[@]}"; do stop_pids "${CT[$c]}"; done
	for c in "${!ROOT[@]}"; do root_drop "${ROOT[$c]}"; done
}
at_exit ct_cleanup

deb=${MT6D_DEB:-}
if [ -z "$deb" ]; then
	"$top/scripts/build-deb.sh" -L -o "$work/deb" >"$work/build.log" 2>&1 ||
		{ cat "$work/build.log"; fail "make deb failed"; }
	deb=$(tail -n 1 "$work/build.log")
fi
[ -f "$deb" ] || fail "no package $deb"

# ---- the roots: systemd, the package; the client's a copy of the server's
t0=$(date +%s)
ROOT[s]=$(root_dir systemd-s) && ROOT[c1]=$(root_dir systemd-c1) || fail "no root directories"
rmdir "${ROOT[c1]}"
root_new "${ROOT[s]}" || fail "no fresh root"
cp "$deb" "${ROOT[s]}/tmp/"
root_apt "${ROOT[s]}" install systemd systemd-sysv dbus iproute2 procps \
	>"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log"; fail "apt: systemd"; }
root_apt "${ROOT[s]}" install "/tmp/$(basename "$deb")" >>"$work/apt.log" 2>&1 ||
	{ tail -n 20 "$work/apt.log"; fail "apt: $(basename "$deb")"; }
umount "${ROOT[s]}/var/cache/apt/archives" "${ROOT[s]}/proc"
# Booted, the roots are hosts: their services may start (no policy-rc.d).
rm -f "${ROOT[s]}/usr/sbin/policy-rc.d"
cp "$deb" "${ROOT[s]}/root/mt6d.deb"
cp -a "${ROOT[s]}" "${ROOT[c1]}"
echo "     (roots ready in $(($(date +%s) - t0)) s)"

# ---- lab, swarm, keys and configs
sess_lab_up
sess_swarm_start 8
ct_in() { # host cmd...: CMD inside that container (all its namespaces)
	local h=$1
	shift
	nsenter -t "${INIT[$h]}" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"
}
uid=$(root_in "${ROOT[s]}" id -u mt6d)
(umask 077 && "$build/mt6d" genkey >"${ROOT[s]}/etc/mt6d/server.key" &&
	"$build/mt6d" genkey >"${ROOT[c1]}/etc/mt6d/home.key") 2>/dev/null
srvpub=$("$build/mt6d" pubkey <"${ROOT[s]}/etc/mt6d/server.key")
clipub=$("$build/mt6d" pubkey <"${ROOT[c1]}/etc/mt6d/home.key")
root_pair_configs "${ROOT[s]}/etc/mt6d/server.conf" "${ROOT[c1]}/etc/mt6d/home.conf" "$srvpub" \
	"$clipub" "$SESS_ROT" 24h "$DHT_BOOT" "TunnelPrefix = $TPREFIX/64"
chown "$uid:$uid" "${ROOT[s]}/etc/mt6d/server.key" "${ROOT[c1]}/etc/mt6d/home.key"

# ---- boot
mknod -m 0666 "$work/tun" c 10 200 || fail "mknod $work/tun"
boot() { # host
	local h=$1 i
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 systemd-nspawn -q -D "${ROOT[$h]}" -b \
		-M "mt6d$h$$" --register=no --keep-unit --console=pipe \
		--network-namespace-path="/run/netns/$("$lab" ns "$h")" \
		--capability=CAP_NET_ADMIN --bind="$work/tun:/dev/net/tun" \
		--rlimit=MEMLOCK=infinity --capability=CAP_SYS_RESOURCE \
		</dev/null >"$work/nspawn-$h.log" 2>&1 &
	CT[$h]=$!
	# The container's PID 1: nspawn's child once it runs systemd (an
	# intermediate child of nspawn comes and goes first).
	for i in $(seq 100); do
		INIT[$h]=$(ps -o pid=,comm= --ppid "${CT[$h]}" | awk '$2 == "systemd" {print $1; exit}')
		[ -n "${INIT[$h]}" ] && return 0
		sleep 0.1
	done
	cat "$work/nspawn-$h.log"
	fail "systemd-nspawn started no PID 1 in $h"
}
booted() { # host
	local st
	st=$(ct_in "$1" systemctl is-system-running 2>/dev/null)
	[ "$st" = running ] || [ "$st" = degraded ]
}
for h in s c1; do
	boot "$h"
done
for h in s c1; do
	check "$h: systemd boots as PID 1 of the container" wait_for 60 booted "$h"
	check "$h: systemd is PID 1 there" test "$(ct_in "$h" cat /proc/1/comm)" = systemd
	ct_in "$h" systemctl --failed --no-legend --no-pager
done
check "the package enabled nothing" not ct_in s systemctl -q is-enabled mt6d-server

# ---- enable --now, the session comes up
show_c() { ct_in c1 mt6d show -s /run/mt6d/home.sock dump 2>/dev/null; }
show_s() { ct_in s mt6d show -s /run/mt6d/server.sock dump 2>/dev/null; }
c_field() { show_c | sed -n "s/^$1=//p" | head -n 1; }
c_session() { [ "$(c_field state)" = session ]; }
check "s: systemctl enable --now mt6d-server" ct_in s systemctl enable --now mt6d-server
check "s: mt6d-server is active" wait_for 10 ct_in s systemctl -q is-active mt6d-server
check "c1: systemctl enable --now mt6d-client@home" ct_in c1 systemctl enable --now mt6d-client@home
check "c1: mt6d-client@home is active" wait_for 10 ct_in c1 systemctl -q is-active mt6d-client@home
sleep 3
for u in s:mt6d-server c1:mt6d-client@home; do
	check "${u%%:*}: ${u#*:} stays up (no restart)" \
		test "$(ct_in "${u%%:*}" systemctl show -p NRestarts --value "${u#*:}")/$(ct_in "${u%%:*}" systemctl is-active "${u#*:}")" = 0/active
done
# Only where the host may raise RLIMIT_MEMLOCK at all: some sandboxes run
# everything, root included, without CAP_SYS_RESOURCE.
if prlimit --memlock=unlimited:unlimited true 2>/dev/null; then
	check "s: memory locked (LimitMEMLOCK=infinity holds)" \
		not bash -c "nsenter -t ${INIT[s]} -a journalctl -q -u mt6d-server --no-pager | grep 'memory not all locked'"
else
	echo "skip s: memory locked: this host cannot raise RLIMIT_MEMLOCK (no CAP_SYS_RESOURCE: CapBnd $(awk '/^CapBnd/ {print $2}' /proc/self/status))"
fi
t0=$(date +%s)
check "the client finds the server in the DHT, the session comes up" wait_for 120 c_session
echo "     (session $(($(date +%s) - t0)) s after the client's start)"
check "ping through the session" in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"

# ---- least privilege, read where the daemon runs
main_pid() { ct_in "$1" systemctl show -p MainPID --value "$2"; }
caps_ok() { # host unit
	local st
	st=$(ct_in "$1" cat "/proc/$(main_pid "$1" "$2")/status")
	echo "$st" | grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)):'
	grep -qx "CapEff:	0000000000001000" <<<"$st" &&
		grep -qx "CapPrm:	0000000000001000" <<<"$st" &&
		grep -qx "CapInh:	0000000000000000" <<<"$st" &&
		grep -qx "CapAmb:	0000000000000000" <<<"$st" &&
		grep -qE "^Uid:	$uid	$uid	$uid	$uid$" <<<"$st"
}
check "s: mt6d-server runs as mt6d ($uid) with CAP_NET_ADMIN alone" caps_ok s mt6d-server
check "c1: mt6d-client@home runs as mt6d ($uid) with CAP_NET_ADMIN alone" caps_ok c1 mt6d-client@home

# ---- kill -9: systemd restarts the server, which purges what was left
# The units log at warning level, so the purge is seen on the wire side:
# netlink deletions, after the kill, of addresses the killed server left
# whose lifetimes had not ended (the kernel's expiry cannot have removed
# them: with Rot 3 s they live 11 s, RestartSec is 5 s).
in_ns s ip -6 monitor address >"$work/monitor" 2>&1 &
EXTRA_PIDS=$!
sleep 1
old=$(main_pid s mt6d-server)
ct_in s kill -KILL "$old"
kill_t=$(date +%s)
mark=$(wc -c <"$work/monitor")
# address valid_lft, of the addresses left behind
in_ns s ip -6 -o addr show dev eth0 | awk '/dynamic/ {split($4, a, "/"); v = ""
	for (i = 1; i <= NF; i++) if ($i == "valid_lft") v = $(i + 1); sub(/sec$/, "", v); print a[1], v}' \
	>"$work/left"
check "s: a killed server leaves MT6D addresses behind for now ($(wc -l <"$work/left"))" test -s "$work/left"
restarted() { # a new main PID, active
	local p
	p=$(main_pid s mt6d-server)
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$old" ] && ct_in s systemctl -q is-active mt6d-server
}
check "s: systemd restarts mt6d-server (Restart=on-failure, RestartSec=5s)" wait_for 20 restarted
check "s: one restart counted" test "$(ct_in s systemctl show -p NRestarts --value mt6d-server)" = 1
sleep 1
elapsed=$(($(date +%s) - kill_t + 1))
purged() { # every leftover still valid now was deleted after the kill; at least one
	local a v n=0
	while read -r a v; do
		[ "$v" -gt "$elapsed" ] 2>/dev/null || continue
		tail -c +"$((mark + 1))" "$work/monitor" | grep -q "^Deleted .* inet6 $a/" || {
			echo "$a (valid ${v}s at the kill) not deleted after $elapsed s"
			return 1
		}
		n=$((n + 1))
	done <"$work/left"
	echo "$n leftover addresses deleted before their lifetime's end"
	[ "$n" -gt 0 ]
}
check "s: the restarted server purged the killed one's addresses before they expired" purged
kill "$EXTRA_PIDS" 2>/dev/null
wait "$EXTRA_PIDS" 2>/dev/null
EXTRA_PIDS=
# The killed server's sessions died with it: any answer is a new session.
check "the session comes back (ping through it)" wait_for 60 in_ns c1 ping -c 1 -W 1 "$(server_tun 1)"
check "c1: in session again" wait_for 10 c_session
check "s: after the restart still CAP_NET_ADMIN alone, as mt6d" caps_ok s mt6d-server

# ---- reload: the operator revokes the client
sed -i '/^\[Client\]$/,$d' "${ROOT[s]}/etc/mt6d/server.conf"
check "s: systemctl reload mt6d-server" ct_in s systemctl reload mt6d-server
check "s: the reloaded config revoked the client (audit.log)" wait_for 5 \
	ct_in s grep -q "client 'home' (id 1) revoked" /var/lib/mt6d/audit.log
told() { [ "$(c_field teardowns_rx)" -ge 1 ] 2>/dev/null; }
check "c1: the client was told (teardown received)" wait_for 5 told
check "s: the server kept running through the reload" test "$(ct_in s systemctl show -p NRestarts --value mt6d-server)" = 1

# ---- stop: nothing left
check "c1: systemctl stop mt6d-client@home" ct_in c1 systemctl stop mt6d-client@home
check "s: systemctl stop mt6d-server" ct_in s systemctl stop mt6d-server
for h in s c1; do
	check "$h: nothing left in ip -6 addr, ip link, routes, nftables" nothing_left "$h"
done
check "s: mt6d-server inactive, not failed" test "$(ct_in s systemctl is-active mt6d-server)" = inactive
check "c1: mt6d-client@home inactive, not failed" test "$(ct_in c1 systemctl is-active mt6d-client@home)" = inactive

# ---- the package's maintainer scripts under systemd: an upgrade (the same
# package again) restarts what runs, a removal stops it
restarted_by() { # host unit cmd...: the unit runs with a new main PID after cmd
	local h=$1 u=$2 p
	shift 2
	p=$(main_pid "$h" "$u")
	ct_in "$h" "$@" >>"$work/dpkg.log" 2>&1 || return 1
	wait_for 10 ct_in "$h" systemctl -q is-active "$u" || return 1
	[ "$(main_pid "$h" "$u")" != "$p" ] && [ "$(main_pid "$h" "$u")" != 0 ]
}
check "s: mt6d-server starts again" ct_in s systemctl start mt6d-server
check "c1: mt6d-client@home starts again" ct_in c1 systemctl start mt6d-client@home
check "s: an upgrade restarts the running mt6d-server" \
	restarted_by s mt6d-server dpkg -i /root/mt6d.deb
check "c1: an upgrade restarts the running mt6d-client@home (postinst)" \
	restarted_by c1 mt6d-client@home dpkg -i /root/mt6d.deb
check "c1: dpkg -r stops mt6d-client@home (prerm)" bash -c \
	"nsenter -t ${INIT[c1]} -a dpkg -r mt6d >>'$work/dpkg.log' 2>&1 &&
	 [ \"\$(nsenter -t ${INIT[c1]} -a systemctl is-active mt6d-client@home)\" != active ]"
check "s: dpkg -r stops mt6d-server" bash -c \
	"nsenter -t ${INIT[s]} -a dpkg -r mt6d >>'$work/dpkg.log' 2>&1 &&
	 [ \"\$(nsenter -t ${INIT[s]} -a systemctl is-active mt6d-server)\" != active ]"
for h in s c1; do
	check "$h: after the removal nothing left in ip -6 addr, ip link, routes, nftables" nothing_left "$h"
done

for h in s c1; do
	ct_in "$h" systemctl poweroff
	check "$h: the container powers off" wait_for 30 not kill -0 "${CT[$h]}"
	wait "${CT[$h]}" 2>/dev/null
	unset "CT[$h]"
done
finish
