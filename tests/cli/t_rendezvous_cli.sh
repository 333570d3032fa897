#!/bin/bash
# mt6d rendezvous: usage, argument and key checks, all refused before any
# socket is opened (the DHT side runs in tests/netns/t_rendezvous.sh). No
# datagram leaves: every case fails before bootstrapping.
set -u
mt6d=$MT6D_BUILD/mt6d
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'

umask 077
"$mt6d" genkey >"$tmp/a.key"
b=$("$mt6d" genkey | "$mt6d" pubkey)

"$mt6d" rendezvous --help >"$tmp/out" || fail "--help"
grep -q "at most 230 bytes" "$tmp/out" || fail "usage does not say how many bytes a message holds"
grep -q "2 nothing found, 3 found but not" "$tmp/out" || fail "usage does not list the exit codes"
"$mt6d" help | grep -q rendezvous || fail "rendezvous missing from the subcommand table"

expect() { # want_exit want_text cmd...
    local want=$1 text=$2; shift 2
    "$@" >"$tmp/o" 2>"$tmp/e"
    local rc=$?
    [ $rc -eq "$want" ] || fail "'$*': exit $rc, want $want ($(cat "$tmp/e"))"
    grep -q -- "$text" "$tmp/e" || fail "'$*': no '$text' in: $(cat "$tmp/e")"
}
expect 1 "unknown command" "$mt6d" rendezvous fly
expect 1 "are required" "$mt6d" rendezvous get --key "$tmp/a.key"
expect 1 "are required" "$mt6d" rendezvous put --to "$b" hello
expect 1 "one MESSAGE" "$mt6d" rendezvous put --key "$tmp/a.key" --to "$b"
expect 1 "not a public key" "$mt6d" rendezvous get --key "$tmp/a.key" --from nonsense
long=$(head -c 231 /dev/zero | tr '\0' x)
expect 1 "at most 230 fit" "$mt6d" rendezvous put --key "$tmp/a.key" --to "$b" "$long"
head -c 300 /dev/zero | tr '\0' y >"$tmp/long"
expect 1 "message too long" sh -c "'$mt6d' rendezvous put --key '$tmp/a.key' --to '$b' - <'$tmp/long'"
expect 1 "at least 20s" "$mt6d" rendezvous get --key "$tmp/a.key" --from "$b" --period 5s
expect 1 "epoch" "$mt6d" rendezvous put --key "$tmp/a.key" --to "$b" --epoch 300 hi
expect 1 "window" "$mt6d" rendezvous get --key "$tmp/a.key" --from "$b" --window yesterday
chmod 644 "$tmp/a.key"
expect 1 "a.key" "$mt6d" rendezvous get --key "$tmp/a.key" --from "$b"
chmod 600 "$tmp/a.key"
expect 1 "listen address" "$mt6d" rendezvous get --key "$tmp/a.key" --from "$b" -l not-an-address -b "[2001:db8::1]:6881"
expect 1 "none: No such file" "$mt6d" rendezvous publish --key "$tmp/a.key" --clients "$tmp/none" -l ::1 -b "[2001:db8::1]:6881"
echo "bogus" >"$tmp/clients"
expect 1 "clients:1: not a public key" "$mt6d" rendezvous publish --key "$tmp/a.key" --clients "$tmp/clients" -l ::1 -b "[2001:db8::1]:6881"
echo "PASS"
