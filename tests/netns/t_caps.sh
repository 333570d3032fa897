#!/bin/bash
# Least privilege of the running daemons (topology: sessions-lib.sh, one
# client). Started as root with -u nobody, mt6d-server and mt6d-client keep
# CAP_NET_ADMIN alone (effective, permitted and bounding; nothing
# inheritable or ambient), run as nobody with no supplementary group and
# no_new_privs, and still do everything after the drop: the server rotates
# its addresses, the client establishes a session (both session interfaces
# are made after the drop), the client writes its state file, SIGHUP
# re-reads the config and key, and SIGTERM removes every address, interface,
# route and control socket. Then the way systemd starts them (mt6d-server
# .service: User=, AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW), imitated
# with setpriv: CAP_NET_RAW, needed for the raw socket at start, is gone once
# the daemon runs. A user that does not exist is refused before anything is
# made, and so is a user that could not open /dev/net/tun.
#
# /dev/net/tun: udev makes it 0666, so that an unprivileged daemon with
# CAP_NET_ADMIN can make TUN devices; a container may leave it 0600 root.
# Each daemon here runs in its own mount namespace where a 0666 node of the
# same device (10,200) is bound on /dev/net/tun, as on a normal host; the
# host's node is never changed.
# shellcheck source=tests/netns/sessions-lib.sh
. "$(dirname "$0")/sessions-lib.sh"

LAB_CLIENTS=1
SESS_ROT=1s
NET_ADMIN=0000000000001000      # 1 << CAP_NET_ADMIN (12)
ADMIN_RAW=0000000000003000      # plus 1 << CAP_NET_RAW (13)
nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)

status_field() { # pid field: a line of /proc/PID/status, tabs squeezed
	awk -v f="$2:" '$1 == f {$1 = ""; sub(/^ /, ""); print; exit}' "/proc/$1/status"
}

# The credentials of a running daemon: uid/gid nobody in all four slots, no
# groups, no_new_privs, and exactly the given effective/permitted/bounding.
creds_are() { # pid bounding
	local pid=$1 bnd=$2 ok=0 want
	for f in Uid Gid Groups NoNewPrivs CapInh CapPrm CapEff CapBnd CapAmb; do
		echo "$f: $(status_field "$pid" "$f")"
	done
	want="$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
	[ "$(status_field "$pid" Uid)" = "$want" ] || ok=1
	want="$nobody_gid $nobody_gid $nobody_gid $nobody_gid"
	[ "$(status_field "$pid" Gid)" = "$want" ] || ok=1
	[ -z "$(status_field "$pid" Groups)" ] || ok=1
	[ "$(status_field "$pid" NoNewPrivs)" = 1 ] || ok=1
	[ "$(status_field "$pid" CapEff)" = "$NET_ADMIN" ] || ok=1
	[ "$(status_field "$pid" CapPrm)" = "$NET_ADMIN" ] || ok=1
	[ "$(status_field "$pid" CapInh)" = 0000000000000000 ] || ok=1
	[ "$(status_field "$pid" CapAmb)" = 0000000000000000 ] || ok=1
	[ "$(status_field "$pid" CapBnd)" = "$bnd" ] || ok=1
	return $ok
}

# The server's MT6D addresses on eth0 (everything but the lab's address).
mt6d_addrs() {
	in_ns s ip -6 -o addr show dev eth0 scope global | awk '{print $4}' |
		grep -v -E '^2001:db8:[0-9]+:[0-9]+::2/64$' | sort
}

addrs_rotated() { # file of an earlier mt6d_addrs: none of them left, new ones there
	local now
	now=$(mt6d_addrs)
	[ -n "$now" ] && [ -s "$1" ] && [ -z "$(comm -12 "$1" <(echo "$now"))" ]
}

owner_is_nobody() { [ "$(stat -c %u "$1")" = "$nobody_uid" ]; }

log_has_no_drop_error() { ! grep -E 'dropping privileges|giving .* to user' "$1"; }

# "$lab" exec HOST "${TUN[@]}" CMD...: CMD with /dev/net/tun replaced by the
# node after TUN (each step execs the next, so $! is the daemon's PID; no
# shell function in between, see sessions-lib.sh).
tun_with() { # node
	TUN=(unshare -m --propagation private sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' "$1")
}
# As systemd starts a unit with User=nobody, AmbientCapabilities= and
# CapabilityBoundingSet= CAP_NET_ADMIN CAP_NET_RAW.
# shellcheck disable=SC2054 # the commas belong to setpriv capability lists
AMBIENT=(setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups
	--inh-caps=-all,+net_admin,+net_raw --ambient-caps=-all,+net_admin,+net_raw
	--bounding-set=-all,+net_admin,+net_raw)

daemon_start() { # who(s|c1) [options...]: as root, -u nobody, /dev/net/tun 0666
	local who=$1 prog=mt6d-server
	shift
	[ "$who" = s ] || prog=mt6d-client
	"$lab" exec "$who" "${TUN[@]}" "$build/$prog" -d -v -c "$work/$who/${prog#mt6d-}.conf" \
		-s "$work/$who/ctl.sock" -T "$work/intro.conf" "$@" >>"$work/$who/log" 2>&1 &
	PID[$who]=$!
	[ "$who" = s ] && wait_for 10 test -S "$work/s/ctl.sock"
	return 0
}

sess_lab_up
mknod -m 0666 "$work/devtun" c 10 200
tun_with "$work/devtun"
# Everything the daemons read or write after the drop belongs to nobody, as
# /etc/mt6d/*.key and /var/lib/mt6d do for the mt6d user of an installation.
chown -R nobody:"$(id -gn nobody)" "$work"
chmod 755 "$work"

# --- started as root, switching to nobody ---
daemon_start s -u nobody
# Switching uid, libcap-ng empties the bounding set: stricter than needed.
check "server: only CAP_NET_ADMIN, empty bounding set, uid/gid nobody" creds_are "${PID[s]}" 0000000000000000
check "server: no error while dropping privileges" log_has_no_drop_error "$work/s/log"
check "server: its state directory (made as root) was given to nobody" owner_is_nobody "$work/s/state"
mt6d_addrs >"$work/addrs.before"
check "server: rotates its addresses after the drop (Rot 1 s)" wait_for 5 addrs_rotated "$work/addrs.before"

daemon_start c1 -u nobody
check "client establishes a session after both dropped privileges" wait_for 15 has_session 1
check "client: only CAP_NET_ADMIN, empty bounding set, uid/gid nobody" creds_are "${PID[c1]}" 0000000000000000
check "client: no error while dropping privileges" log_has_no_drop_error "$work/c1/log"
if1=$(session_field client-1 session_interface)
check "server made the session interface '$if1' as nobody" \
	bash -c "test -n '$if1' && '$lab' exec s ip link show '$if1'"
check "client made its interface mt6d0 as nobody" in_ns c1 ip link show mt6d0
check "ping through the session" in_ns c1 ping -c 3 -i 0.2 -W 2 "$(server_tun 1)"
check "client wrote its state file as nobody" \
	bash -c "grep -qx '$(server_tun 1)' '$work/c1/state/mt6d0.server' && test \"\$(stat -c %u '$work/c1/state/mt6d0.server')\" = $nobody_uid"
check "server audited the session start" grep -q "session start: client 'client-1'" "$work/s/state/audit.log"

kill -HUP "${PID[s]}"
check "SIGHUP: config and key re-read by nobody" \
	wait_for 5 grep -q "configuration reloaded" "$work/s/log"
check "SIGHUP: nothing refused" bash -c "! grep -q 'reload refused' '$work/s/log'"
"$build/mt6d" reload -s "$work/s/ctl.sock" >"$work/reload.out" 2>&1
check "mt6d reload (root talking to nobody's socket) accepted" \
	bash -c "test \$(grep -c 'configuration reloaded' '$work/s/log') -ge 2"
check "the session survived the reloads" has_session 1

stop c1
stop s
check "SIGTERM: nothing left on the server" nothing_left s
check "SIGTERM: nothing left on the client" nothing_left c1
check "SIGTERM: control sockets removed by nobody" \
	bash -c "test ! -e '$work/s/ctl.sock' && test ! -e '$work/c1/ctl.sock'"

# --- started as systemd starts it: User=nobody, ambient NET_ADMIN + NET_RAW ---
: >"$work/s/log"
"$lab" exec s "${TUN[@]}" "${AMBIENT[@]}" "$build/mt6d-server" -d -v -c "$work/s/server.conf" -s "$work/s/ctl.sock" \
	-T "$work/intro.conf" >>"$work/s/log" 2>&1 &
PID[s]=$!
wait_for 10 test -S "$work/s/ctl.sock"
# The bounding set cannot shrink without CAP_SETPCAP: it is what the unit's
# CapabilityBoundingSet= made it; with no_new_privs it cannot be regained.
check "ambient start: CAP_NET_RAW dropped once running, nothing ambient" \
	creds_are "${PID[s]}" "$ADMIN_RAW"
check "ambient start: no error while dropping privileges" log_has_no_drop_error "$work/s/log"
mt6d_addrs >"$work/addrs.before"
check "ambient start: the server rotates its addresses" wait_for 5 addrs_rotated "$work/addrs.before"
: >"$work/c1/log"
"$lab" exec c1 "${TUN[@]}" "${AMBIENT[@]}" "$build/mt6d-client" -d -v -c "$work/c1/client.conf" -s "$work/c1/ctl.sock" \
	-T "$work/intro.conf" >>"$work/c1/log" 2>&1 &
PID[c1]=$!
check "ambient start: client establishes a session" wait_for 15 has_session 1
check "ambient start: client keeps only CAP_NET_ADMIN" creds_are "${PID[c1]}" "$ADMIN_RAW"
stop c1
stop s
check "ambient start: SIGTERM leaves nothing on the server" nothing_left s
check "ambient start: SIGTERM leaves nothing on the client" nothing_left c1

# An unprivileged start without the capability: a clear refusal.
"$lab" exec s setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
	--inh-caps=-all --bounding-set=-all "$build/mt6d-server" -d -c "$work/s/server.conf" \
	-s "$work/s/ctl2.sock" >"$work/nocap.out" 2>&1
rc=$?
check "no capability at all: exit 1 with a reason (rc $rc)" \
	bash -c "test $rc = 1 && grep -q \"without CAP_NET_ADMIN: start as root\" '$work/nocap.out'"
check "no capability at all: nothing left" nothing_left s

# A named user that cannot open /dev/net/tun (0600 root, as in a container).
mknod -m 0600 "$work/devtun600" c 10 200
tun_with "$work/devtun600"
"$lab" exec s "${TUN[@]}" "$build/mt6d-server" -d -c "$work/s/server.conf" \
	-s "$work/s/ctl4.sock" -u nobody >"$work/notun.out" 2>&1
rc=$?
check "-u nobody with /dev/net/tun 0600: exit 1 with the reason (rc $rc)" \
	bash -c "test $rc = 1 && grep -q \"user 'nobody' cannot open /dev/net/tun (mode 0600)\" '$work/notun.out'"
check "-u nobody with /dev/net/tun 0600: nothing made" nothing_left s

# A named user that does not exist: refused before anything is made.
"$lab" exec s "$build/mt6d-server" -d -c "$work/s/server.conf" -s "$work/s/ctl3.sock" \
	-u no-such-user-mt6d >"$work/nouser.out" 2>&1
rc=$?
check "-u unknown user: exit 1 naming it (rc $rc)" \
	bash -c "test $rc = 1 && grep -q \"no such user 'no-such-user-mt6d'\" '$work/nouser.out'"
check "-u unknown user: nothing made" \
	bash -c "'$lab' exec s ip link show mt6d0 >/dev/null 2>&1 && exit 1; test ! -e '$work/s/ctl3.sock'"

[ "$fails" -eq 0 ] || { echo "t_caps: $fails failed"; exit 1; }
echo "t_caps: all passed"
