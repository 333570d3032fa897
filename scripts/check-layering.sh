#!/bin/sh
# Dependencies point one way (docs/ARCHITECTURE.md, "Layers"). The rules are
# read off the tree, not a list kept by hand: every folder of mt6d/ is a
# layer, every .c/.h pair in it a module.
#
#   dht/, tun/, netlink/   include nothing of mt6d/ and nothing of each other,
#                          never libev (they expose fds and deadlines)
#   mt6d/core/             pure: only core/ headers, libc, libsodium, libinih;
#                          no sockets, no libev, no kernel plumbing, no DHT
#   mt6d/base/             log and nothing else: includes nothing of mt6d/
#   mt6d/engine/           core/, base/, dht/dht.h, tun/, netlink/, libev;
#                          never daemon/, cli/, bin/
#   mt6d/daemon/           core/, base/, libev; never engine/, cli/, bin/
#   mt6d/cli/, mt6d/bin/   anything (they wire the layers together); bin/
#                          never includes cli/ and the other way round
#   dht's internal headers are for dht/, its tests and the DHT fuzzers only.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
fail() { echo "layering: $*" >&2; status=1; }
inc() { # file: the quoted and bracketed includes of a file, one per line
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p' "$1"
}

known_layers="core base engine daemon cli bin"
for d in mt6d/*/; do
    layer=$(basename "$d")
    case " $known_layers " in *" $layer "*) ;; *) fail "mt6d/$layer/ is not a known layer (add its rules here and in docs/ARCHITECTURE.md)";; esac
done
for f in mt6d/*.c mt6d/*.h; do
    [ -e "$f" ] && fail "$f lies outside every layer folder"
done

# A module's header must exist where its includers say it is.
for f in mt6d/*/*.[ch] dht/*.[ch] tun/*.[ch] netlink/*.[ch] tests/unit/*.c tests/fuzz/*.c bench/*.c; do
    for h in $(inc "$f" | sed -n 's/^"\(.*\)"$/\1/p'); do
        case $h in mt6d/*|dht/*|tun/*|netlink/*) [ -f "$h" ] || fail "$f includes \"$h\", which does not exist";; esac
    done
done

for d in dht tun netlink; do
    for f in "$d"/*.[ch]; do
        for h in $(inc "$f"); do
            case $h in
            \"mt6d/*) fail "$f ($d/) includes $h";;
            \"dht/*|\"tun/*|\"netlink/*) case $h in \"$d/*) ;; *) fail "$f ($d/) includes $h";; esac;;
            "<ev.h>") fail "$f ($d/) uses libev (it must expose fds and deadlines)";;
            esac
        done
    done
done

for f in mt6d/*/*.[ch]; do
    layer=$(basename "$(dirname "$f")")
    for h in $(inc "$f"); do
        case $layer in
        core)
            case $h in
            \"mt6d/core/*) ;;
            \"*) fail "pure core $f includes $h";;
            "<ev.h>"|"<sys/socket.h>"|"<libmnl"*|"<netlink/"*|"<linux/"*|"<sys/ioctl.h>"|"<syslog.h>"|"<poll.h>")
                fail "pure core $f includes I/O: $h";;
            esac;;
        base)
            case $h in \"mt6d/base/*) ;; \"*) fail "$f (base/) includes $h";; esac;;
        engine)
            case $h in
            \"mt6d/core/*|\"mt6d/base/*|\"mt6d/engine/*|\"dht/dht.h\"|\"tun/*|\"netlink/*) ;;
            \"*) fail "engine $f includes $h";;
            esac;;
        daemon)
            case $h in
            \"mt6d/core/*|\"mt6d/base/*|\"mt6d/daemon/*) ;;
            \"*) fail "daemon $f includes $h";;
            esac;;
        cli)
            case $h in \"mt6d/bin/*) fail "cli $f includes $h";; esac;;
        bin)
            case $h in \"mt6d/cli/*) fail "bin $f includes $h";; esac;;
        esac
        case $h in
        \"dht/dht.h\") ;;
        \"dht/*) fail "dht internals used outside dht/: $f includes $h";;
        esac
    done
done
# A module's internal header (<module>_int.h: the struct its files share)
# is for that module's files only, and its own unit test (tests/unit/
# test_<module>.c, which may drive it through seams the header declares).
for f in mt6d/*/*.[ch] tests/unit/*.c tests/fuzz/*.c bench/*.c; do
    for h in $(inc "$f" | sed -n 's/^"\(.*_int\.h\)"$/\1/p'); do
        m=$(basename "$h" _int.h)
        case $f in "$(dirname "$h")/$m"*|"tests/unit/test_$m.c") ;; *) fail "$f includes $h, internal to $m";; esac
    done
done
# Time is a parameter of the core: it never reads a clock (<time.h> is
# there for date parsing only).
hits=$(grep -nE '\b(clock_gettime|gettimeofday|time\(NULL\)|time\(0\)|ev_now|ev_time)\b' mt6d/core/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "pure core reads a clock: $hits"
for f in bench/*.[ch]; do
    for h in $(inc "$f"); do
        case $h in \"dht/dht.h\") ;; \"dht/*) fail "dht internals used outside dht/: $f includes $h";; esac
    done
done

[ $status -eq 0 ] && echo "layering: OK ($(find mt6d -mindepth 2 -maxdepth 2 -name '*.c' | wc -l) modules in $(find mt6d -mindepth 1 -maxdepth 1 -type d | wc -l) layers)"
exit $status
