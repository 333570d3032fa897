#!/bin/sh
# Install, with apt-get, the Debian packages mt6d needs to build, test and run
# its demo. Idempotent: asks dpkg first and installs only what is missing, so a
# machine that has everything runs no apt-get at all.
set -eu

BUILD="build-essential pkg-config libsodium-dev libev-dev libmnl-dev
       libnl-3-dev libnl-route-3-dev libinih-dev libcap-ng-dev libnftables-dev"
TEST="libcmocka-dev clang python3 python3-nacl iproute2 iputils-ping nftables ndisc6
      tcpdump procps python3-libtorrent transmission-daemon mandoc groff-base systemd
      gnuplot-nox curl clang-tidy cppcheck shellcheck git prometheus"
# python3-libtorrent and transmission-daemon: the foreign DHT nodes of the
# lab swarms (tests/netns/sessions-lib.sh), run by the tests in their own
# fenced namespaces; the package's own service would join the public DHT,
# so it is neither started on installation nor enabled (below).
# clang-tidy (clang's analyzer), cppcheck and shellcheck: make analyze, part
# of make check (scripts/analyze.sh); git lists the scripts it checks.
# prometheus brings promtool, which checks `mt6d metrics` (t_metrics.sh).
# bench/tunnel.sh compares against these tunnels (make bench); gnuplot draws
# the charts of docs/PERFORMANCE.md (scripts/perf-report.py).
BENCH="iperf3 wireguard-go wireguard-tools openvpn gnuplot-nox"
# make deb (dpkg-buildpackage, lintian) and make check-system (a debootstrapped
# Debian 12 root, systemd booted in it by systemd-nspawn), which make bench
# runs too. debian/control's Build-Depends are BUILD (build-essential
# implied) plus debhelper.
DEB="debhelper dpkg-dev fakeroot devscripts lintian debootstrap systemd-container
     iproute2"

packages=$BUILD
case "${1:-all}" in
    build) ;;
    all|test) packages="$BUILD $TEST" ;;
    bench) packages="$BUILD $TEST $BENCH $DEB" ;;
    deb) packages="$BUILD $DEB" ;;
    system) packages="$BUILD $TEST $DEB" ;;
    *) echo "usage: $0 [build|test|all|bench|deb|system]" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing" >&2
    echo "install-deps: run as root (or: sudo $0)" >&2
    exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No service of a package installed here starts now (policy-rc.d: 101, the
# Debian way), unless this machine already has its own policy.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Their services are not wanted either: transmission-daemon would join the
# public DHT, prometheus would listen on :9090 (we need only its promtool).
for svc in transmission-daemon prometheus; do
    case " $missing " in
    *" $svc "*)
        if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
            systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
        fi
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
        ;;
    esac
done
