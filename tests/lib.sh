# shellcheck shell=bash
# The helpers every shell test and benchmark shares (sourced, not run; bash).
# Topology libraries (tests/netns/peer-lib.sh, sessions-lib.sh) build on it.
#
#   fail MSG...         a failed step: "FAIL: MSG", then the script's on_fail
#                       (if it defines one) and exit 1; with FAIL_GOES_ON=1 it
#                       is counted in $fails instead and the script goes on
#   check DESC CMD...   runs CMD with its output kept: "ok   DESC", or
#                       "FAIL DESC" and the output's last 30 lines, counted
#   not CMD...          succeeds when CMD fails (for check)
#   in_ns NS CMD...     CMD inside network namespace NS (the topology
#                       libraries redefine it with their host names)
#   wait_for S CMD...   polls CMD every 0.2 s for up to S seconds; then the
#                       status of one last try
#   stop_pids PID...    SIGTERM, up to 5 s to exit, then SIGKILL: only the
#                       PIDs given, never processes found by name
#   ns_purge NS...      SIGKILL to every process in namespace NS (ours: we
#                       created it), then deletes it
#   at_exit CMD         a clean-up step (a shell string, expanded when it
#                       runs), run at exit, the last registered first
#   finish              "all checks passed" or "N check(s) failed"; exits 1
#                       if any check failed
#
# The EXIT trap runs the at_exit steps (cleanup); SIGINT and SIGTERM exit 1,
# so they run on ^C and on tests/run.sh's timeout too.

fails=${fails:-0}
_lib_out=$(mktemp /tmp/mt6d-test-out.XXXXXX)
_lib_exit_steps=()

fail() {
	echo "FAIL: $*" >&2
	if [ "${FAIL_GOES_ON:-0}" = 1 ]; then
		fails=$((fails + 1))
		return 0
	fi
	declare -F on_fail >/dev/null && on_fail
	exit 1
}

check() { # description command...
	local what=$1
	shift
	if "$@" >"$_lib_out" 2>&1; then
		echo "ok   $what"
	else
		echo "FAIL $what"
		sed 's/^/     | /' "$_lib_out" | tail -n 30
		fails=$((fails + 1))
	fi
}

not() { ! "$@"; }

in_ns() { # namespace command...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

wait_for() { # seconds command...
	local n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
		n=$((n - 1))
	done
	"$@"
}

stop_pids() { # pid...
	local p alive i
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	for i in $(seq 50); do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null
	for p in "$@"; do wait "$p" 2>/dev/null; done
	return 0
}

ns_purge() { # namespace...
	local ns p
	for ns in "$@"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

at_exit() { # command (a string)
	_lib_exit_steps+=("$1")
}

cleanup() {
	local i
	for ((i = ${#_lib_exit_steps[@]} - 1; i >= 0; i--)); do
		eval "${_lib_exit_steps[$i]}"
	done
	_lib_exit_steps=()
	rm -f "$_lib_out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

finish() {
	if [ "$fails" -eq 0 ]; then
		echo "all checks passed"
		exit 0
	fi
	echo "$fails check(s) failed"
	exit 1
}
