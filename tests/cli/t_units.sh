#!/bin/bash
# The systemd units in systemd/: the hardening they promise is there (every
# required key with its exact value, nothing but CAP_NET_ADMIN and
# CAP_NET_RAW anywhere), systemd-analyze verify finds nothing to say about
# them (unknown keys, bad values, missing executables or man pages), their
# offline exposure score stays at most 2.5, and the sysusers.d entry makes a
# system user mt6d in a scratch root. No systemd is needed as PID 1.
set -eu
b=$MT6D_BUILD
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'
fails=0
FAIL_GOES_ON=1

command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze missing (scripts/install-deps.sh test)" >&2; exit 1; }

# The value of a key in a unit (the last assignment, as systemd reads it;
# SystemCallFilter= is checked by its first line below).
value() { sed -n "s/^$2=//p" "$1" | tail -n 1; }

required=(
	"User=mt6d" "Group=mt6d"
	"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW"
	"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW"
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes"
	"StateDirectory=mt6d" "RuntimeDirectory=mt6d" "RuntimeDirectoryPreserve=yes"
	"DevicePolicy=closed" "DeviceAllow=/dev/net/tun rw"
	"ProtectKernelTunables=yes" "ProtectKernelModules=yes" "ProtectKernelLogs=yes"
	"ProtectControlGroups=yes" "ProtectClock=yes" "ProtectHostname=yes"
	"RestrictNamespaces=yes" "RestrictRealtime=yes" "RestrictSUIDSGID=yes"
	"LockPersonality=yes" "MemoryDenyWriteExecute=yes" "SystemCallArchitectures=native"
	"UMask=0077" "Restart=on-failure"
	"LimitCORE=0" "LimitMEMLOCK=infinity" "LimitNOFILE=262144"
)
units="mt6d-server.service mt6d-client@.service"
for u in $units; do
	f=$top/systemd/$u.in
	[ -f "$f" ] || { fail "$u.in missing"; continue; }
	for kv in "${required[@]}"; do
		[ "$(value "$f" "${kv%%=*}")" = "${kv#*=}" ] || fail "$u: want $kv, have '$(value "$f" "${kv%%=*}")'"
	done
	[ "$(grep -m1 '^SystemCallFilter=' "$f")" = "SystemCallFilter=@system-service" ] ||
		fail "$u: the first SystemCallFilter= must be the @system-service allow list"
	grep -q '^SystemCallFilter=~@privileged' "$f" || fail "$u: @privileged not denied"
	# The server's scale mode needs a packet socket (its ND responder); the
	# client needs none.
	families="AF_INET AF_INET6 AF_NETLINK AF_UNIX"
	[ "$u" = mt6d-server.service ] && families="$families AF_PACKET"
	[ "$(value "$f" RestrictAddressFamilies)" = "$families" ] ||
		fail "$u: want RestrictAddressFamilies=$families, have '$(value "$f" RestrictAddressFamilies)'"
	# No capability but the two, in any key; no privileged user.
	caps=$(grep -v '^#' "$f" | grep -o 'CAP_[A-Z_]*' | sort -u | tr '\n' ' ')
	[ "$caps" = "CAP_NET_ADMIN CAP_NET_RAW " ] || fail "$u: capabilities named: $caps"
	grep -qE '^(User|Group)=(root|0)$' "$f" && fail "$u: runs as root"
	grep -qE '^(PrivateDevices|PrivateNetwork|PrivateUsers)=yes' "$f" &&
		fail "$u: hides /dev/net/tun, the host's network or its capabilities"
	grep -q '^ExecStart=@SBINDIR@/mt6d-' "$f" || fail "$u: ExecStart not under @SBINDIR@"
	grep -q -- ' -d ' "$f" || fail "$u: the daemon must stay in the foreground (-d)"
done
grep -q '^ExecStart=.* -c @SYSCONFDIR@/mt6d/%i.conf -s %i$' "$top/systemd/mt6d-client@.service.in" ||
	fail "mt6d-client@: config /etc/mt6d/%i.conf and socket %i expected"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$top/systemd/mt6d-server.service.in" ||
	fail "mt6d-server: ExecReload must send SIGHUP"

# systemd-analyze verify: the units with their paths pointing into this
# build, the man pages they name findable, and not one line of complaint.
mkdir -p "$tmp/units" "$tmp/man/man5" "$tmp/man/man8" "$tmp/etc/mt6d"
cp "$top"/docs/man/*.8 "$tmp/man/man8/"
cp "$top"/docs/man/*.5 "$tmp/man/man5/"
for u in $units; do
	sed -e "s|@SBINDIR@|$b|g" -e "s|@SYSCONFDIR@|$tmp/etc|g" "$top/systemd/$u.in" >"$tmp/units/$u"
done
cp "$tmp/units/mt6d-client@.service" "$tmp/units/mt6d-client@home.service"
for u in mt6d-server.service mt6d-client@home.service; do
	(cd "$tmp/units" && MANPATH=$tmp/man systemd-analyze verify "./$u") >"$tmp/verify" 2>&1 ||
		fail "systemd-analyze verify $u failed"
	[ -s "$tmp/verify" ] && { fail "systemd-analyze verify $u:"; cat "$tmp/verify" >&2; }
	(cd "$tmp/units" && systemd-analyze security --offline=yes --threshold=25 "./$u") \
		>"$tmp/security" 2>&1 ||
		{ fail "$u: exposure above 2.5:"; grep 'Overall' "$tmp/security" >&2; }
done
# The check above can fail: an unknown key is reported.
printf '[Service]\nExecStart=/bin/true\nProtectSystm=strict\n' >"$tmp/units/typo.service"
(cd "$tmp/units" && systemd-analyze verify ./typo.service) >"$tmp/verify" 2>&1 || true
grep -q "Unknown key" "$tmp/verify" || fail "systemd-analyze verify does not report unknown keys here"

# mt6d-metrics.service and its timer: root with CAP_DAC_OVERRIDE alone (the
# daemons' 0600 sockets, node_exporter's directory), no network at all
# (the sockets are files), writing only node_exporter's textfile directory.
m=$top/systemd/mt6d-metrics.service.in
for kv in "Type=oneshot" "CapabilityBoundingSet=CAP_DAC_OVERRIDE" "NoNewPrivileges=yes" \
	"ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "PrivateDevices=yes" \
	"PrivateNetwork=yes" "IPAddressDeny=any" "RestrictAddressFamilies=AF_UNIX" \
	"ReadWritePaths=-/var/lib/prometheus/node-exporter" \
	"ConditionPathIsDirectory=/var/lib/prometheus/node-exporter" \
	"Environment=MT6D_TEXTFILE_DIR=/var/lib/prometheus/node-exporter" \
	"ExecStart=@BINDIR@/mt6d metrics -o \${MT6D_TEXTFILE_DIR}/mt6d.prom" \
	"MemoryDenyWriteExecute=yes" "SystemCallArchitectures=native"; do
	[ "$(value "$m" "${kv%%=*}")" = "${kv#*=}" ] || fail "mt6d-metrics: want $kv, have '$(value "$m" "${kv%%=*}")'"
done
grep -q '^SystemCallFilter=~@privileged' "$m" || fail "mt6d-metrics: @privileged not denied"
grep -qE '^(AmbientCapabilities|ListenStream|ListenDatagram)=' "$m" && fail "mt6d-metrics: capabilities or a listening socket"
for u in mt6d-metrics.service mt6d-metrics.timer; do
	sed -e "s|@BINDIR@|$b|g" "$top/systemd/$u.in" >"$tmp/units/$u"
done
(cd "$tmp/units" && MANPATH=$tmp/man systemd-analyze verify ./mt6d-metrics.service ./mt6d-metrics.timer) \
	>"$tmp/verify" 2>&1 || fail "systemd-analyze verify mt6d-metrics failed"
[ -s "$tmp/verify" ] && { fail "systemd-analyze verify mt6d-metrics:"; cat "$tmp/verify" >&2; }
(cd "$tmp/units" && systemd-analyze security --offline=yes --threshold=15 ./mt6d-metrics.service) \
	>"$tmp/security" 2>&1 || { fail "mt6d-metrics: exposure above 1.5:"; grep 'Overall' "$tmp/security" >&2; }
grep -qx 'OnUnitActiveSec=15s' "$top/systemd/mt6d-metrics.timer.in" || fail "mt6d-metrics.timer: not every 15 s"
grep -qx 'WantedBy=timers.target' "$top/systemd/mt6d-metrics.timer.in" || fail "mt6d-metrics.timer: not in timers.target"

# sysusers.d: a system user mt6d with no login, in a scratch root.
mkdir -p "$tmp/root/etc"
systemd-sysusers --root="$tmp/root" "$top/systemd/mt6d.sysusers" >/dev/null 2>&1 ||
	fail "systemd-sysusers refused mt6d.sysusers"
line=$(grep '^mt6d:' "$tmp/root/etc/passwd" || true)
IFS=: read -r name _ uid gid _ home shell <<<"$line"
[ "$name" = mt6d ] || fail "no user mt6d made: '$line'"
[ -n "${uid:-}" ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "mt6d is not a system user: uid '${uid:-}'"
grep -q "^mt6d:x:$gid:" "$tmp/root/etc/group" || fail "no group mt6d with gid $gid"
[ "$home" = /var/lib/mt6d ] || fail "home '$home'"
[ "$shell" = /usr/sbin/nologin ] || fail "shell '$shell'"

[ "$fails" -eq 0 ] || { echo "t_units: $fails failed"; exit 1; }
echo "ok"
