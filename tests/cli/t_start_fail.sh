#!/bin/bash
# A start that fails after the config is loaded (the DHT port is taken, the
# last step of the server's start; a key file others can read) exits 1 and
# leaves nothing
# behind: no state directory or audit log it made, no interface, no MT6D
# address, no lock file, and (under the ASan build, build-san/, when it
# exists) no leak. Runs in a network namespace of its own
# (tests/cli/in-netns.sh).
set -eu
# shellcheck source=tests/cli/in-netns.sh
. "$(dirname "$0")/in-netns.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
port_pid=
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit '[ -n "$port_pid" ] && kill "$port_pid" 2>/dev/null; rm -rf "$tmp"'

umask 077
"$MT6D_BUILD/mt6d" genkey >"$tmp/server.key"
cat >"$tmp/server.conf" <<CONF
[Server]
Interface = eth0
PrivateKeyFile = server.key
DHTPort = 6999
DHTBootstrap = [2001:db8:1::9]:6881
StateDirectory = $tmp/state
TunnelName = mt6dfail%d
CONF
# The DHT port, taken.
/usr/bin/python3 -c 'import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 6999))
time.sleep(60)' &
# shellcheck disable=SC2034 # read by the at_exit step
port_pid=$!
for i in $(seq 1 50); do ss -Hlun | grep -q ':6999 ' && break; sleep 0.1; done

builds=$MT6D_BUILD
[ -x "$top/build-san/mt6d-server" ] && [ "$top/build-san" != "$MT6D_BUILD" ] && builds="$builds $top/build-san"
for b in $builds; do
	rc=0
	ASAN_OPTIONS=detect_leaks=1 "$b/mt6d-server" -d -c "$tmp/server.conf" -s "$tmp/ctl.sock" \
		-u root >"$tmp/log" 2>&1 || rc=$?
	cat "$tmp/log"
	[ "$rc" = 1 ] || fail "$b/mt6d-server: exit $rc, wanted 1"
	grep -q "starting: starting the DHT node.*port 6999: Address already in use" "$tmp/log" || fail "$b: no reason given"
	if grep -q "LeakSanitizer\|AddressSanitizer" "$tmp/log"; then fail "$b: sanitizer report"; fi
	[ ! -e "$tmp/state" ] || fail "$b: left $(find "$tmp/state")"
	[ ! -e "$tmp/ctl.sock" ] && [ ! -e "$tmp/ctl.lock" ] || fail "$b: left the socket or lock"
	if ip link show | grep -q mt6dfail; then fail "$b: left an interface"; fi
	left=$(ip -6 addr show dev eth0 scope global | awk '$1 == "inet6" {print $2}' | grep -v '^2001:db8:1::1/64$' || true)
	[ -z "$left" ] || fail "$b: left addresses: $left"
	echo "ok   $b/mt6d-server: a failed start leaves nothing"
	# A key others can read: refused with the file and line, nothing
	# made, nothing leaked (the config was loaded before the key).
	chmod 644 "$tmp/server.key"
	rc=0
	ASAN_OPTIONS=detect_leaks=1 "$b/mt6d-server" -d -c "$tmp/server.conf" -s "$tmp/ctl.sock" \
		-u root >"$tmp/log" 2>&1 || rc=$?
	chmod 600 "$tmp/server.key"
	cat "$tmp/log"
	[ "$rc" = 1 ] || fail "$b/mt6d-server with a readable key: exit $rc, wanted 1"
	grep -q "server.conf:3: PrivateKeyFile: .*accessible by group or others" "$tmp/log" || fail "$b: no reason given"
	if grep -q "LeakSanitizer\|AddressSanitizer" "$tmp/log"; then fail "$b: sanitizer report"; fi
	[ ! -e "$tmp/state" ] && [ ! -e "$tmp/ctl.lock" ] || fail "$b: a refused key left files"
done
echo "ok"
