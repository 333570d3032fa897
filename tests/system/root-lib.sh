# shellcheck shell=bash
# Fresh Debian 12 roots for the system tests (sourced, after tests/lib.sh):
# a debootstrapped bookworm minbase tree, made once and cached as a tar file,
# unpacked anew for every test. debootstrap and apt inside the root use the
# Debian mirror this machine's apt uses (the only outside traffic of these
# tests); downloaded packages are kept in the cache too, so a second run
# downloads nothing that did not change.
#
#   root_dir NAME       prints a new empty directory for a root, under the
#                       cache directory (not /tmp: roots are large, and
#                       nothing else there cleans up after them)
#   root_new DIR        DIR: a fresh bookworm minbase root (package lists in)
#   root_apt DIR ARGS.. apt-get ARGS inside DIR (noninteractive, in the host's
#                       network namespace: it reaches the mirror)
#   root_in DIR CMD...  CMD chrooted into DIR
#   root_drop DIR       unmount what root_new mounted, remove DIR
#   root_pair_configs SERVER_CONF CLIENT_CONF SERVER_PUB CLIENT_PUB ROTATION
#                     CONFIG_PERIOD BOOTSTRAP [SERVER_LINE...]
#                       a packaged server's config (keys and state where the
#                       package puts them) with one client, "home" (id 1),
#                       and that client's config; SERVER_LINEs are added to
#                       the [Server] section
#
# MT6D_TEST_CACHE: the cache directory (default /var/cache/mt6d-test).
set -u
ROOT_CACHE=${MT6D_TEST_CACHE:-/var/cache/mt6d-test}
ROOT_SUITE=bookworm

# The first Debian mirror of apt's sources (one-line or deb822 format) that
# serves $ROOT_SUITE main; deb.debian.org if none is found.
root_mirror() {
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$ROOT_SUITE" '$1 == "deb" {u = 2; if ($2 ~ /^\[/) u = 3
			if ($(u + 1) == s) {print $u; exit}}')
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk -v s="$ROOT_SUITE" 'function out() {if (uri != "" && suites ~ "(^| )" s "( |$)") {print uri; exit}}
			/^[ \t]*$/ {out(); uri = ""; suites = ""; next}
			$1 == "URIs:" {uri = $2} $1 == "Suites:" {$1 = ""; suites = $0}
			END {out()}')
	echo "${m:-http://deb.debian.org/debian}"
}

# The cached minbase tar, made under a lock (tests may run side by side).
root_cache_tar() {
	local tar=$ROOT_CACHE/$ROOT_SUITE-minbase.tar tmp
	mkdir -p "$ROOT_CACHE/archives/partial"
	(
		flock 9
		[ -s "$tar" ] && exit 0
		tmp=$(mktemp -d "$ROOT_CACHE/debootstrap.XXXXXX")
		echo "root-lib: debootstrap $ROOT_SUITE from $(root_mirror) (once, cached in $tar)" >&2
		debootstrap --variant=minbase "$ROOT_SUITE" "$tmp" "$(root_mirror)" >"$tmp.log" 2>&1 &&
			cp /etc/resolv.conf "$tmp/etc/resolv.conf" &&
			chroot "$tmp" apt-get update -qq >>"$tmp.log" 2>&1 &&
			rm -f "$tmp/etc/resolv.conf" &&
			tar -C "$tmp" -cf "$tar.new" . && mv "$tar.new" "$tar"
		rc=$?
		[ $rc = 0 ] || tail -n 20 "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log" "$tar.new"
		exit $rc
	) 9>"$ROOT_CACHE/.lock"
}

root_dir() { # name
	mkdir -p "$ROOT_CACHE/roots" && mktemp -d "$ROOT_CACHE/roots/$1.XXXXXX"
}

root_new() { # dir
	local d=$1
	root_cache_tar || return 1
	mkdir -p "$d"
	tar -C "$d" -xf "$ROOT_CACHE/$ROOT_SUITE-minbase.tar" || return 1
	mount -t proc proc "$d/proc" || return 1
	mount --bind "$ROOT_CACHE/archives" "$d/var/cache/apt/archives" || return 1
	# No service starts in a chroot (there is no init to own it).
	printf '#!/bin/sh\nexit 101\n' >"$d/usr/sbin/policy-rc.d"
	chmod 0755 "$d/usr/sbin/policy-rc.d"
}

root_in() { # dir cmd...
	local d=$1
	shift
	chroot "$d" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"
}

root_apt() { # dir apt-get arguments...
	local d=$1 rc
	shift
	cp /etc/resolv.conf "$d/etc/resolv.conf"
	root_in "$d" env DEBIAN_FRONTEND=noninteractive apt-get -y -q \
		-o Dpkg::Options::=--force-confold --no-install-recommends "$@"
	rc=$?
	rm -f "$d/etc/resolv.conf"
	return $rc
}

root_drop() { # dir
	local d=$1
	[ -d "$d" ] || return 0
	# Every mount under the root, deepest first.
	awk -v d="$d/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf --one-file-system "$d"
}

root_pair_configs() { # server.conf home.conf server_pub client_pub rotation period bootstrap [line...]
	local sconf=$1 cconf=$2 spub=$3 cpub=$4 rot=$5 period=$6 boot=$7 line
	shift 7
	{
		printf '[Server]\nInterface = eth0\nPrivateKeyFile = /etc/mt6d/server.key\n'
		printf 'RotationPeriod = %s\nConfigPeriod = %s\nDHTBootstrap = %s\n' "$rot" "$period" "$boot"
		printf 'StateDirectory = /var/lib/mt6d\n'
		for line in "$@"; do printf '%s\n' "$line"; done
		printf '\n[Client]\nName = home\nPublicKey = %s\nId = 1\nAdded = 2026-11-01\n' "$cpub"
	} >"$sconf"
	{
		printf '[Client]\nInterface = eth0\nPrivateKeyFile = /etc/mt6d/home.key\nClientId = 1\n'
		printf 'ConfigPeriod = %s\nDHTBootstrap = %s\nStateDirectory = /var/lib/mt6d\n' "$period" "$boot"
		printf '\n[Server]\nPublicKey = %s\n' "$spub"
	} >"$cconf"
}
