#!/bin/bash
# mt6d checkconf: the example configs pass; every bad input the foundation
# issue names (a key file others can read, a malformed key, an unknown
# section or option, a duplicate client id or key, a period of zero) fails
# with the file and line, and a non-zero exit.
set -eu
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

"$mt6d" checkconf server "$tmp/server.conf" | grep -q "2 registered clients" || fail "server example"
"$mt6d" checkconf client "$tmp/client.conf" | grep -q "client id 1" || fail "client example"

expect_error() { # role file pattern
    if "$mt6d" checkconf "$1" "$2" >/dev/null 2>"$tmp/err"; then
        fail "accepted $(basename "$2")"
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

expect_error server "$tmp/nonexistent.conf" "nonexistent.conf"
if "$mt6d" checkconf banana "$tmp/server.conf" 2>/dev/null; then fail "accepted role banana"; fi
echo "ok"
