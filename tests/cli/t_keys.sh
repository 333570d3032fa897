#!/bin/bash
# mt6d genkey | pubkey | derive: the operator's key habits, and the offline
# calculator agreeing with itself across both ends of a key pair.
set -eu
mt6d=$MT6D_BUILD/mt6d
tmp=$(mktemp -d)
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
at_exit 'rm -rf "$tmp"'

umask 077
"$mt6d" genkey >"$tmp/a.key"
"$mt6d" genkey >"$tmp/b.key"
[[ $(cat "$tmp/a.key") =~ ^[A-Za-z0-9+/]{43}=$ ]] || fail "genkey output is not one base64 key"
cmp -s "$tmp/a.key" "$tmp/b.key" && fail "two genkey runs gave the same key"
a=$("$mt6d" pubkey <"$tmp/a.key")
b=$("$mt6d" pubkey <"$tmp/b.key")
[[ $a =~ ^[A-Za-z0-9+/]{43}=$ ]] || fail "pubkey output is not one base64 key"
[ "$a" = "$("$mt6d" pubkey <"$tmp/a.key")" ] || fail "pubkey is not deterministic"

# Known answer: RFC 7748 section 6.1, Alice's key pair.
alice_priv=$(printf '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a' | xxd -r -p | base64)
alice_pub=$(printf '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a' | xxd -r -p | base64)
[ "$(echo "$alice_priv" | "$mt6d" pubkey)" = "$alice_pub" ] || fail "pubkey disagrees with RFC 7748"

# Bad private keys on stdin: refused, non-zero.
for bad in "" "not a key" "${alice_priv%?}" "${alice_priv}A" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; do
    if echo "$bad" | "$mt6d" pubkey >/dev/null 2>"$tmp/err"; then fail "pubkey accepted '$bad'"; fi
    grep -q "private key" "$tmp/err" || fail "pubkey error does not say why: $(cat "$tmp/err")"
done

# genkey warns when stdout is a file others can read.
( umask 022; "$mt6d" genkey >"$tmp/open.key" 2>"$tmp/err" )
grep -q "accessible by others" "$tmp/err" || fail "genkey did not warn about a world-readable file"

# The descriptor is the same from both ends of the pair, for any time in a window.
d1=$("$mt6d" derive descriptor --key "$tmp/a.key" --peer "$b" --time 1790000000)
d2=$("$mt6d" derive descriptor --key "$tmp/b.key" --peer "$a" --time 2026-09-21T14:14:59Z)
[ "$d1" = "$d2" ] || fail "descriptor differs between the two ends: $d1 / $d2"
d3=$("$mt6d" derive descriptor --key "$tmp/b.key" --peer "$a" --time 2026-09-21T14:15:00Z)
[ "$d1" != "$d3" ] || fail "descriptor did not change at the window boundary"
echo "$d1" | grep -q '^window  *1789999200 ' || fail "wrong window start: $d1"
grep -q "$(echo "$d1" | sed -n 's/^descriptor *//p')" <<<"$d1" || fail "no descriptor line"
[[ $(echo "$d1" | sed -n 's/^descriptor *//p') =~ ^[0-9a-f]{40}$ ]] || fail "descriptor is not 20 bytes of hex"

# Client IID: same from both ends, changes with K.
k1=000102030405060708090a0b0c0d0e0f
k2=000102030405060708090a0b0c0d0e1f
i1=$("$mt6d" derive client-iid --key "$tmp/a.key" --peer "$b" --intro-key $k1)
i2=$("$mt6d" derive client-iid --key "$tmp/b.key" --peer "$a" --intro-key $k1)
i3=$("$mt6d" derive client-iid --key "$tmp/b.key" --peer "$a" --intro-key $k2)
[ "$i1" = "$i2" ] || fail "client IID differs between the two ends"
[ "$i1" != "$i3" ] || fail "client IID does not depend on K"

# Addresses: inside the seed's /64, one per slot, ports >= 1024, stable per slot.
out=$("$mt6d" derive address --seed 2001:db8:1:2::1234 --rotation-key $k1 --time 1790000000 --count 50)
[ "$(echo "$out" | wc -l)" -eq 50 ] || fail "expected 50 slots"
[ "$(echo "$out" | awk '{print $5}' | sort -u | wc -l)" -eq 50 ] || fail "addresses repeat across slots"
echo "$out" | awk '$5 !~ /^2001:db8:1:2:/ { exit 1 } $7 < 1024 || $7 > 65535 { exit 1 }' ||
    fail "address outside the /64 or port out of range"
one=$("$mt6d" derive address --seed 2001:db8:1:2::1234 --rotation-key $k1 --time 1789999998)
[ "$one" = "$(echo "$out" | head -n1)" ] || fail "same slot gave another address"

# Bad options: non-zero with a reason.
for args in "descriptor --key $tmp/a.key --peer nope" "descriptor --key $tmp/nokey --peer $b" \
            "descriptor --key $tmp/a.key --peer $b --period 0" "address --seed 2001:db8::1" \
            "address --seed nope --rotation-key $k1" "address --seed 2001:db8::1 --rotation-key 0011" \
            "address --seed 2001:db8::1 --rotation-key $k1 --count 0" "frobnicate"; do
    # shellcheck disable=SC2086
    if "$mt6d" derive $args >/dev/null 2>"$tmp/err"; then fail "derive accepted: $args"; fi
    [ -s "$tmp/err" ] || fail "derive $args: no error message"
done
chmod 644 "$tmp/a.key"
if "$mt6d" derive descriptor --key "$tmp/a.key" --peer "$b" 2>"$tmp/err"; then fail "used a 0644 key"; fi
grep -q "accessible by group or others" "$tmp/err" || fail "no reason for the 0644 key"
echo "ok"
