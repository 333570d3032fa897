#!/bin/sh
# Dependencies point one way (STYLE.md, "Dependency direction"):
#   dht/, tun/, netlink/ include nothing of mt6d/ and nothing of each other;
#   the pure core of mt6d/ includes neither libev nor dht/, tun/, netlink/.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0

fail() { echo "layering: $*" >&2; status=1; }

for d in dht tun netlink; do
    for other in mt6d dht tun netlink; do
        [ "$other" = "$d" ] && continue
        hits=$(grep -nE "#[[:space:]]*include[[:space:]]*[\"<](\.\./)?$other/" $d/*.[ch] 2>/dev/null)
        [ -n "$hits" ] && fail "$d/ includes $other/: $hits"
    done
    hits=$(grep -nE '#[[:space:]]*include[[:space:]]*<ev\.h>' $d/*.[ch] 2>/dev/null)
    [ -n "$hits" ] && fail "$d/ uses libev (it must expose fds and deadlines): $hits"
done

# The pure protocol core: no I/O libraries, no kernel plumbing, no DHT.
CORE="derive wire replay msg rendezvous keys keystore config"
for m in $CORE; do
    for f in mt6d/$m.c mt6d/$m.h; do
        [ -f "$f" ] || continue
        hits=$(grep -nE '#[[:space:]]*include[[:space:]]*([<"](dht|tun|netlink)/|<ev\.h>|<libmnl|<netlink/|<sys/socket\.h>)' "$f")
        [ -n "$hits" ] && fail "pure core $f includes I/O: $hits"
    done
done

# Internal dht headers are for dht/ and its tests only.
hits=$(grep -nE '#[[:space:]]*include[[:space:]]*"dht/(bencode|krpc|routing|search|peerstore)\.h"' mt6d/*.[ch] bench/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "dht internals used outside dht/: $hits"

[ $status -eq 0 ] && echo "layering: OK"
exit $status
