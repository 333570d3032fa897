# shellcheck shell=bash
# Sourced first by the CLI tests that check configs against the running
# system (mt6d checkconf, -n): the example configs name eth0 and wlan0, and
# the checks want them to exist with a global /64. The script runs itself
# again inside a network namespace of its own where they do (a veth pair,
# 2001:db8:1::/64 and 2001:db8:2::/64), then removes it. Needs root.
if [ -z "${MT6D_CLI_NETNS:-}" ]; then
	cli_ns=mt6dcli$$
	trap 'ip netns del "$cli_ns" 2>/dev/null' EXIT
	ip netns add "$cli_ns" || { echo "FAIL: cannot make a network namespace (root?)" >&2; exit 1; }
	ip -n "$cli_ns" link set lo up
	ip -n "$cli_ns" link add eth0 type veth peer name wlan0
	ip -n "$cli_ns" link set eth0 up
	ip -n "$cli_ns" link set wlan0 up
	ip -n "$cli_ns" addr add 2001:db8:1::1/64 dev eth0 nodad
	ip -n "$cli_ns" addr add 2001:db8:2::1/64 dev wlan0 nodad
	MT6D_CLI_NETNS=$cli_ns ip netns exec "$cli_ns" bash "$0" "$@"
	exit $?
fi
