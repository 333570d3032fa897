#!/bin/bash
# The Debian package as an operator lives with it, in a fresh Debian 12 root
# (tests/system/root-lib.sh: a debootstrapped bookworm minbase tree):
#
#   install  apt installs it with its dependencies; mt6d --version and the
#            daemons' -V say its version; the user mt6d exists (a system
#            user, home /var/lib/mt6d, no shell); /etc/mt6d is mt6d:mt6d 0700
#            and holds the example configs as conffiles; the units and the
#            sysusers entry are in place, no unit is enabled; the operator's
#            configs pass the daemons' -n checks run as mt6d, as the units
#            run them, and a key readable by others fails them;
#   upgrade  to a second build with a bumped version: the operator's
#            modified conffile, own config and keys are untouched, nothing
#            .dpkg-* appears, /etc/mt6d and the user stay as they were;
#   remove   the programs and units go, every config and key stays;
#   purge    the conffiles and the daemons' state go, the operator's keys and
#            own config stay; with those removed the root is file for file
#            what it was before the installation (the user mt6d stays, on
#            purpose: debian/postrm); a purge right after an installation
#            leaves no /etc/mt6d.
#
# MT6D_DEB: the package to test (make check-system passes make deb's);
# without it the test builds one (scripts/build-deb.sh). The upgrade is
# always built here, as <version>+t1. The -n checks run in a network
# namespace of the test's own (eth0 of a veth pair, 2001:db8::/32): nothing
# they do can leave it.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
# shellcheck source=tests/system/root-lib.sh
. "$top/tests/system/root-lib.sh"

work=$(mktemp -d /tmp/mt6d-deb-test.XXXXXX)
at_exit 'rm -rf "$work"'
root=$(root_dir deb) || fail "no root directory"
at_exit 'root_drop "$root"'
ns=mt6ddeb$$
at_exit 'ns_purge "$ns"'

deb1=${MT6D_DEB:-}
if [ -z "$deb1" ]; then
	"$top/scripts/build-deb.sh" -o "$work/deb1" >"$work/build1.log" 2>&1 ||
		{ cat "$work/build1.log"; fail "make deb failed"; }
	deb1=$(tail -n 1 "$work/build1.log")
fi
[ -f "$deb1" ] || fail "no package $deb1"
v1=$(dpkg-deb -f "$deb1" Version)
v2=$v1+t1
"$top/scripts/build-deb.sh" -L -o "$work/deb2" -v "$v2" >"$work/build2.log" 2>&1 ||
	{ cat "$work/build2.log"; fail "the upgrade's build failed"; }
deb2=$(tail -n 1 "$work/build2.log")
[ "$(dpkg-deb -f "$deb2" Version)" = "$v2" ] || fail "the upgrade's build is not $v2"
echo "packages: $(basename "$deb1"), $(basename "$deb2")"

root_new "$root" || fail "no fresh root"
cp "$deb1" "$deb2" "$root/tmp/"

ip netns add "$ns" || fail "ip netns add $ns"
ip -n "$ns" link set lo up
# A veth pair, both ends ours (this kernel may have no dummy links).
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" -6 addr add 2001:db8:0:1::2/64 dev eth0 nodad
ip -n "$ns" link set eth1 up
ip -n "$ns" link set eth0 up

r() { root_in "$root" "$@"; }
as_mt6d() { # cmd...: as the units run it (User=mt6d), in our namespace
	ip netns exec "$ns" chroot --userspec=mt6d:mt6d "$root" \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"
}
status() { r dpkg-query -W -f='${db:Status-Abbrev}${Version}' mt6d 2>/dev/null; }
# Every path of the root with its type, mode and owner, but for what apt and
# dpkg keep of their own and logs.
listing() {
	r find / -xdev \( -path /proc -o -path /tmp -o -path /var/cache -o -path /var/log \
		-o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /etc/ld.so.cache \) -prune \
		-o -printf '%M %u %g %p\n' | sort
}
sums() { # the operator's files: their checksums
	r sh -c 'cd /etc/mt6d && sha256sum server.conf client.conf home.conf server.key home.key'
}
no_dpkg_files() { ! r find /etc/mt6d -name '*.dpkg-*' | grep .; }
is_absent() { ! r test -e "$1"; }
dir_is() { [ "$(r stat -c '%a %U %G' "$1")" = "$2" ]; }
has_output() { # pattern cmd...
	local pat=$1
	shift
	"$@" 2>&1 | tee /dev/stderr | grep -q -- "$pat"
}

# The dependencies first, so that the listing before the installation
# differs from the one after the purge by mt6d's own doing only.
check "apt installs the package's dependencies in the fresh root" \
	root_apt "$root" satisfy "$(dpkg-deb -f "$deb1" Depends)"
listing >"$work/before"

# ---- install
check "apt installs $(basename "$deb1")" root_apt "$root" install "/tmp/$(basename "$deb1")"
check "dpkg: installed, $v1" test "$(status)" = "ii $v1"
check "mt6d --version says $v1" has_output "mt6d $v1" r mt6d --version
for p in server client peer; do
	check "mt6d-$p -V runs" r "mt6d-$p" -V
done
check "mt6d-dhtnode runs (its usage)" has_output usage r mt6d-dhtnode -h
user=$(r getent passwd mt6d)
check "the user mt6d: a system user, home /var/lib/mt6d, no shell ($user)" \
	awk -F: '$3 < 1000 && $3 > 0 && $6 == "/var/lib/mt6d" && $7 ~ /nologin$/ {ok = 1} END {exit !ok}' <<<"$user"
check "/etc/mt6d is mt6d:mt6d 0700" dir_is /etc/mt6d "700 mt6d mt6d"
conffiles=$(r dpkg-query -W -f='${Conffiles}' mt6d)
for f in server.conf client.conf; do
	check "/etc/mt6d/$f is a conffile" grep -q " /etc/mt6d/$f " <<<"$conffiles "
done
for f in /lib/systemd/system/mt6d-server.service /lib/systemd/system/mt6d-client@.service \
	/usr/lib/sysusers.d/mt6d.conf /usr/share/man/man8/mt6d-server.8.gz \
	/usr/share/man/man5/mt6d.conf.5.gz /usr/share/doc/mt6d/examples/server.conf \
	/usr/share/doc/mt6d/copyright; do
	check "installed: $f" r test -s "$f"
done
check "the units name the installed programs" \
	r grep -qx 'ExecStart=/usr/sbin/mt6d-server -d -c /etc/mt6d/server.conf -s server' \
	/lib/systemd/system/mt6d-server.service
check "no unit enabled by the installation" \
	not r sh -c 'ls /etc/systemd/system/*.wants/ | grep mt6d'

# ---- the operator configures a server and a client (in one root: the
# checks do not care), as README.md says.
r sh -c 'umask 077 && mt6d genkey >/etc/mt6d/server.key && mt6d genkey >/etc/mt6d/home.key &&
	chown mt6d: /etc/mt6d/server.key /etc/mt6d/home.key' 2>/dev/null
srvpub=$(r sh -c 'mt6d pubkey </etc/mt6d/server.key')
clipub=$(r sh -c 'mt6d pubkey </etc/mt6d/home.key')
root_pair_configs "$root/etc/mt6d/server.conf" "$root/etc/mt6d/home.conf" "$srvpub" "$clipub" \
	3s 15min "[2001:db8:2:1::10]:6881"
sed -i '1i # modified by the operator' "$root/etc/mt6d/server.conf"
# What the daemons would have left in their state directory.
r sh -c 'mkdir -p /var/lib/mt6d && echo x >/var/lib/mt6d/audit.log && chown -R mt6d: /var/lib/mt6d'
n_checks() { # when
	check "$1: mt6d-server -n, as mt6d, accepts the operator's server.conf" \
		has_output "configuration OK" as_mt6d mt6d-server -n -c /etc/mt6d/server.conf
	check "$1: mt6d-client -n, as mt6d, accepts the operator's home.conf" \
		has_output "configuration OK" as_mt6d mt6d-client -n -c /etc/mt6d/home.conf
}
n_checks "installed"
r chmod 0644 /etc/mt6d/server.key
refuses_key() {
	local out
	out=$(as_mt6d mt6d-server -n -c /etc/mt6d/server.conf 2>&1) && return 1
	echo "$out"
	grep -q "accessible by group or others" <<<"$out"
}
check "mt6d-server -n refuses a key readable by others" refuses_key
r chmod 0600 /etc/mt6d/server.key
sums >"$work/sums"
uid=$(r id -u mt6d)

# ---- upgrade
check "apt upgrades to $(basename "$deb2")" root_apt "$root" install "/tmp/$(basename "$deb2")"
check "dpkg: installed, $v2" test "$(status)" = "ii $v2"
check "mt6d --version says $v2" has_output "mt6d $v2" r mt6d --version
check "upgrade: the operator's configs and keys are untouched" \
	diff "$work/sums" <(sums)
check "upgrade: no .dpkg-* file in /etc/mt6d" no_dpkg_files
check "upgrade: /etc/mt6d still mt6d:mt6d 0700" dir_is /etc/mt6d "700 mt6d mt6d"
check "upgrade: the user mt6d keeps its uid" test "$(r id -u mt6d)" = "$uid"
check "upgrade: the state is kept" r test -s /var/lib/mt6d/audit.log
n_checks "upgraded"

# ---- remove
check "apt removes mt6d" root_apt "$root" remove mt6d
check "dpkg: removed, configs kept (rc)" test "$(status)" = "rc $v2"
for f in /usr/bin/mt6d /usr/sbin/mt6d-server /usr/sbin/mt6d-client /usr/sbin/mt6d-peer \
	/usr/sbin/mt6d-dhtnode /lib/systemd/system/mt6d-server.service \
	/lib/systemd/system/mt6d-client@.service /usr/lib/sysusers.d/mt6d.conf /usr/share/doc/mt6d; do
	check "remove: $f is gone" is_absent "$f"
done
check "remove: every config and key stays, untouched" diff "$work/sums" <(sums)
check "remove: the state stays" r test -s /var/lib/mt6d/audit.log

# ---- purge
check "apt purges mt6d" root_apt "$root" purge mt6d
check "dpkg: nothing of mt6d known" test -z "$(status)"
for f in /etc/mt6d/server.conf /etc/mt6d/client.conf /var/lib/mt6d /run/mt6d; do
	check "purge: $f is gone" is_absent "$f"
done
check "purge: the operator's keys and home.conf stay, untouched" \
	diff <(grep -E 'home.conf|\.key' "$work/sums") \
	<(r sh -c 'cd /etc/mt6d && sha256sum home.conf server.key home.key')
check "purge: nothing else in /etc/mt6d" \
	test "$(r ls -A /etc/mt6d | tr '\n' ' ')" = "home.conf home.key server.key "
check "purge: the user mt6d stays (debian/postrm)" r getent passwd mt6d
r rm -r /etc/mt6d
listing >"$work/after"
check "purge: the root is what it was before, file for file (the operator's files removed)" \
	diff "$work/before" "$work/after"

# ---- a purge right after an installation
check "apt installs $(basename "$deb2") again" root_apt "$root" install "/tmp/$(basename "$deb2")"
check "apt purges it at once" root_apt "$root" purge mt6d
check "purge: no /etc/mt6d left" is_absent /etc/mt6d
listing >"$work/after2"
check "purge: the root is what it was before, file for file" diff "$work/before" "$work/after2"

finish
