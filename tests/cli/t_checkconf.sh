#!/bin/bash
# mt6d checkconf: the example configs pass; every bad input the foundation
# issue names (a key file others can read, a malformed key, an unknown
# section or option, a duplicate client id or key, a period of zero) fails
# with the file and line, and a non-zero exit; and what only the running
# system can tell (in a namespace of its own, tests/cli/in-netns.sh).
set -eu
# shellcheck source=tests/cli/in-netns.sh
. "$(dirname "$0")/in-netns.sh"
mt6d=$MT6D_BUILD/mt6d
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'

umask 077
"$mt6d" genkey >"$tmp/server.key"
"$mt6d" genkey >"$tmp/client.key"
sed "s|^PrivateKeyFile = .*|PrivateKeyFile = server.key|" "$top/docs/examples/server.conf" >"$tmp/server.conf"
sed -e "s|^PrivateKeyFile = .*|PrivateKeyFile = $tmp/client.key|" \
    -e "s|^PublicKey = .*|PublicKey = $("$mt6d" pubkey <"$tmp/server.key")|" \
    "$top/docs/examples/client.conf" >"$tmp/client.conf"

"$mt6d" checkconf server "$tmp/server.conf" | grep -q "2 registered clients, 6 DHT identities" ||
    fail "server example"
"$mt6d" checkconf client "$tmp/client.conf" | grep -q "client id 1" || fail "client example"

expect_error() { # role file pattern
    if "$mt6d" checkconf "$1" "$2" >/dev/null 2>"$tmp/err"; then
        fail "accepted $(basename "$2"): $(grep -v "^#" "$2" | head -12 | tr "\n" " ")"
    fi
    grep -Eq "$3" "$tmp/err" || fail "$(basename "$2"): wanted /$3/, got: $(cat "$tmp/err")"
}
line_of() { grep -n "$2" "$1" | head -n1 | cut -d: -f1; }

chmod 640 "$tmp/server.key"
expect_error server "$tmp/server.conf" \
    "server.conf:$(line_of "$tmp/server.conf" '^PrivateKeyFile'): PrivateKeyFile: .*server.key: .*accessible by group or others \(mode 0640\)"
chmod 600 "$tmp/server.key"

echo "not a key" >"$tmp/garbage.key"
sed "s|^PrivateKeyFile = .*|PrivateKeyFile = garbage.key|" "$tmp/server.conf" >"$tmp/s1.conf"
expect_error server "$tmp/s1.conf" "s1.conf:[0-9]+: PrivateKeyFile: .*not a private key"

sed "s|^PrivateKeyFile = .*|PrivateKeyFile = missing.key|" "$tmp/server.conf" >"$tmp/s2.conf"
expect_error server "$tmp/s2.conf" "s2.conf:[0-9]+: PrivateKeyFile: .*No such file"

sed "0,/^PublicKey = .*/s||PublicKey = mGxW3Qk4kqV8cIsv0Q6cVl3rOaH6kJ0m4FGYyQvVnW|" "$tmp/server.conf" >"$tmp/s3.conf"
expect_error server "$tmp/s3.conf" "s3.conf:$(line_of "$tmp/s3.conf" 'QvVnW$'): PublicKey: .*not a key"

{ cat "$tmp/server.conf"; printf '\n[Frobnicator]\nA = b\n'; } >"$tmp/s4.conf"
expect_error server "$tmp/s4.conf" "s4.conf:$(line_of "$tmp/s4.conf" Frobnicator): .*Frobnicator"

sed "s|^ConfigPeriod = .*|&\nColour = blue|" "$tmp/server.conf" >"$tmp/s5.conf"
expect_error server "$tmp/s5.conf" "s5.conf:$(line_of "$tmp/s5.conf" Colour): Colour"

sed "s|^ConfigPeriod = .*|&\nDHTNodes = 5|" "$tmp/server.conf" >"$tmp/s5n.conf"
"$mt6d" checkconf server "$tmp/s5n.conf" | grep -q "2 registered clients, 5 DHT identities" ||
    fail "DHTNodes = 5"
sed "s|^ConfigPeriod = .*|&\nDHTNodes = 0|" "$tmp/server.conf" >"$tmp/s5z.conf"
expect_error server "$tmp/s5z.conf" "s5z.conf:$(line_of "$tmp/s5z.conf" DHTNodes): DHTNodes: must be auto or a number of DHT nodes from 1 to 32: '0'"

sed "s|^Id = 2|Id = 1|" "$tmp/server.conf" >"$tmp/s6.conf"
expect_error server "$tmp/s6.conf" "s6.conf:$(line_of "$tmp/s6.conf" '^Id = 1' | tail -n1)?[0-9]*: Id: .*1"

first_key=$(grep -m1 '^PublicKey' "$tmp/server.conf")
awk -v k="$first_key" '/^PublicKey/ { n++; if (n == 2) { print k; next } } { print }' "$tmp/server.conf" >"$tmp/s7.conf"
expect_error server "$tmp/s7.conf" "s7.conf:[0-9]+: PublicKey: "

sed "s|^RotationPeriod = .*|RotationPeriod = 0|" "$tmp/server.conf" >"$tmp/s8.conf"
expect_error server "$tmp/s8.conf" "s8.conf:$(line_of "$tmp/s8.conf" '^RotationPeriod'): RotationPeriod: "
sed "s|^ConfigPeriod = .*|ConfigPeriod = 0|" "$tmp/client.conf" >"$tmp/c1.conf"
expect_error client "$tmp/c1.conf" "c1.conf:$(line_of "$tmp/c1.conf" '^ConfigPeriod'): ConfigPeriod: "

# The server's own key registered as a client's.
own=$("$mt6d" pubkey <"$tmp/server.key")
sed "0,/^PublicKey = .*/s||PublicKey = $own|" "$tmp/server.conf" >"$tmp/s9.conf"
expect_error server "$tmp/s9.conf" "s9.conf:[0-9]+: PublicKey: is this server's own public key"

# What only the running system can tell (tests/cli/in-netns.sh made eth0
# and wlan0 with 2001:db8:1::/64 and 2001:db8:2::/64): the daemon would
# refuse these at start, so checkconf and -n refuse them too, and say that
# the system was looked at.
set_key() { # file key value: replaces or adds key in the file's first section
    if grep -q "^$2 = " "$1"; then sed -i "s|^$2 = .*|$2 = $3|" "$1"
    else sed -i "0,/^\\[/{/^\\[.*\\]$/a $2 = $3
}" "$1"; fi
}
sys_case() { # role key value pattern
    local f=$tmp/sys.conf
    cp "$tmp/$1.conf" "$f"
    set_key "$f" "$2" "$3"
    grep -q "^$2 = $3\$" "$f" || fail "test set-up: $2 not set in $f"
    expect_error "$1" "$f" "$4"
    if "$MT6D_BUILD/mt6d-$1" -n -c "$f" >/dev/null 2>&1; then
        fail "mt6d-$1 -n accepted $2 = $3"
    fi
}
sys_case server Interface nosuch0 "Interface 'nosuch0': no such interface \(checked on this system\)"
sys_case client Interface nosuch0 "Interface 'nosuch0': no such interface"
sys_case server Interface lo "Interface 'lo': is the loopback interface"
sys_case client Interface lo "Interface 'lo': is the loopback interface"
sys_case server TunnelName eth0 "TunnelName 'eth0': is the Interface"
sys_case server TunnelName wlan0 "TunnelName 'wlan0': .*not a TUN interface \(checked on this system\)"
sys_case client TunnelName eth0 "TunnelName 'eth0': .*not a TUN interface"
sys_case server StateDirectory /proc/mt6d "StateDirectory '/proc/mt6d': is on a virtual filesystem"
sys_case client StateDirectory /proc/self/mt6d "StateDirectory '/proc/self/mt6d': is on a virtual filesystem"
sys_case server StateDirectory /sys/mt6d "StateDirectory '/sys/mt6d': is on a virtual filesystem"
sys_case server TunnelPrefix 2001:db8:ffff::1/64 "TunnelPrefix '2001:db8:ffff::1/64': has bits set after the first 64"
sys_case server TunnelPrefix 2001:db8:1::/64 "TunnelPrefix '2001:db8:1::/64': overlaps the /64 of Interface 'eth0'"
sys_case server TunnelPrefix 2001:db8:1::/48 "TunnelPrefix '2001:db8:1::/48': overlaps the /64 of Interface 'eth0'"
sys_case server TunnelPrefix fe80::/64 "TunnelPrefix 'fe80::/64': link-local or multicast"
# A good prefix, and a TUN of the tunnel's name left by a previous run,
# pass.
cp "$tmp/server.conf" "$tmp/ok.conf"
set_key "$tmp/ok.conf" TunnelPrefix 2001:db8:ffff::/64
set_key "$tmp/ok.conf" TunnelName mt6dck0
ip tuntap add dev mt6dck0 mode tun
"$mt6d" checkconf server "$tmp/ok.conf" >/dev/null || fail "a good TunnelPrefix and a TUN TunnelName refused"
ip link del mt6dck0
# The interface without a global /64 (its address removed): refused.
ip addr del 2001:db8:2::1/64 dev wlan0
expect_error client "$tmp/client.conf" "Interface 'wlan0': no global /64 prefix"
ip addr add 2001:db8:2::1/64 dev wlan0 nodad

expect_error server "$tmp/nonexistent.conf" "nonexistent.conf"
if "$mt6d" checkconf banana "$tmp/server.conf" 2>/dev/null; then fail "accepted role banana"; fi
echo "ok"
