#!/bin/bash
# mt6d-server and mt6d-client flags that need no privilege: -n checks a
# config and its key ("configuration OK", or the file:line error and a
# non-zero exit), -V prints the version, a bad flag prints the usage; and the
# control subcommands of mt6d name what they could not reach.
set -eu
# shellcheck source=tests/cli/in-netns.sh
. "$(dirname "$0")/in-netns.sh"
b=$MT6D_BUILD
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'

umask 077
"$b/mt6d" genkey >"$tmp/server.key"
"$b/mt6d" genkey >"$tmp/client.key"
sed "s|^PrivateKeyFile = .*|PrivateKeyFile = server.key|" "$top/docs/examples/server.conf" >"$tmp/server.conf"
sed -e "s|^PrivateKeyFile = .*|PrivateKeyFile = client.key|" \
    -e "s|^PublicKey = .*|PublicKey = $("$b/mt6d" pubkey <"$tmp/server.key")|" \
    "$top/docs/examples/client.conf" >"$tmp/client.conf"

[ "$("$b/mt6d-server" -n -c "$tmp/server.conf")" = "configuration OK" ] || fail "server -n"
[ "$("$b/mt6d-client" -n -c "$tmp/client.conf")" = "configuration OK" ] || fail "client -n"
"$b/mt6d-server" -V | grep -q '^mt6d-server ' || fail "server -V"
"$b/mt6d-client" -V | grep -q '^mt6d-client ' || fail "client -V"

chmod 644 "$tmp/server.key"
if "$b/mt6d-server" -n -c "$tmp/server.conf" >"$tmp/out" 2>&1; then fail "server -n accepted a readable key"; fi
grep -q "server.conf:[0-9]*: PrivateKeyFile: .*accessible" "$tmp/out" || fail "server -n message: $(cat "$tmp/out")"
chmod 600 "$tmp/server.key"
sed -i 's/^RotationPeriod = .*/RotationPeriod = 0/' "$tmp/server.conf"
if "$b/mt6d-server" -n -c "$tmp/server.conf" >"$tmp/out" 2>&1; then fail "server -n accepted Rot 0"; fi
grep -q "server.conf:[0-9]*: RotationPeriod" "$tmp/out" || fail "server -n message: $(cat "$tmp/out")"
# The client's role refuses the server's options.
if "$b/mt6d-client" -n -c "$tmp/server.conf" >"$tmp/out" 2>&1; then fail "client -n accepted a server file"; fi

if "$b/mt6d-server" -x >"$tmp/out" 2>&1; then fail "bad flag accepted"; fi
grep -q "Usage: mt6d-server" "$tmp/out" || fail "no usage"

if "$b/mt6d" show -s "$tmp/none.sock" >"$tmp/out" 2>&1; then fail "show without a daemon"; fi
grep -q "cannot talk to '$tmp/none.sock'" "$tmp/out" || fail "show message: $(cat "$tmp/out")"
if "$b/mt6d" reload -s "$tmp/none.sock" >"$tmp/out" 2>&1; then fail "reload without a daemon"; fi
"$b/mt6d" help | grep -q "^  show " || fail "show not in the help"
if "$b/mt6d" threat extreme -s "$tmp/none.sock" >"$tmp/out" 2>&1; then fail "threat accepted a bad level"; fi
grep -q "low|normal|high" "$tmp/out" || fail "threat usage"
echo "ok"
