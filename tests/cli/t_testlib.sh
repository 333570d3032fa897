#!/bin/bash
# tests/lib.sh keeps its promises, since every shell test and benchmark
# rests on them: clean-up steps run in reverse order on success, on fail and
# on SIGTERM; check counts and shows what failed; fail exits (or counts with
# FAIL_GOES_ON=1); stop_pids ends a process that ignores SIGTERM.
set -u
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
expect() { # description, then a command that must succeed
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; bad=$((bad + 1)); fi
}
run() { # a script body using the library; its output in $tmp/out
	printf '. tests/lib.sh\n%s\n' "$1" >"$tmp/t.sh"
	bash "$tmp/t.sh" >"$tmp/out" 2>&1
}

run 'at_exit "echo first"; at_exit "echo second"; echo body'
expect "at_exit steps run after the body, last registered first" \
	test "$(tr '\n' ' ' <"$tmp/out")" = "body second first "

run 'at_exit "echo cleaned"; fail "broken step"; echo unreachable'
rc=$?
expect "fail exits 1" test "$rc" = 1
expect "fail says FAIL: and the reason" grep -qx 'FAIL: broken step' "$tmp/out"
expect "fail skips the rest but the clean-up runs" \
	sh -c "! grep -q unreachable '$tmp/out' && grep -qx cleaned '$tmp/out'"

run 'on_fail() { echo "extra diagnostics"; }; fail x'
expect "fail runs the script's on_fail" grep -qx 'extra diagnostics' "$tmp/out"

run 'FAIL_GOES_ON=1; fail one; fail two; echo "fails=$fails"'
expect "FAIL_GOES_ON=1 counts and goes on" grep -qx 'fails=2' "$tmp/out"

run 'check "true passes" true; check "false fails" sh -c "echo why; exit 1"; check "not false" not false; finish'
rc=$?
expect "finish exits 1 after a failed check" test "$rc" = 1
expect "check prints ok for a passing command" grep -qx 'ok   true passes' "$tmp/out"
expect "check prints FAIL and the command's output" \
	sh -c "grep -qx 'FAIL false fails' '$tmp/out' && grep -q '| why' '$tmp/out'"
expect "finish counts the failed checks" grep -qx '1 check(s) failed' "$tmp/out"

run 'check one true; finish'
expect "finish exits 0 when every check passed" test $? = 0

run "at_exit 'echo cleaned'; kill -TERM \$\$; sleep 5; echo unreachable"
expect "SIGTERM exits 1 and runs the clean-up" \
	sh -c "grep -qx cleaned '$tmp/out' && ! grep -q unreachable '$tmp/out'"

run 'n=0; wait_for 2 test -e /nonexistent; echo "rc=$?"; wait_for 2 true; echo "rc=$?"'
expect "wait_for reports the last try's status" test "$(grep -c 'rc=' "$tmp/out")" = 2
expect "wait_for fails when the condition never holds" grep -qx 'rc=1' "$tmp/out"
expect "wait_for succeeds when it holds" grep -qx 'rc=0' "$tmp/out"

run 'bash -c "trap \"\" TERM; while :; do sleep 0.1; done" & p=$!; sleep 0.3; stop_pids "$p"; kill -0 "$p" 2>/dev/null && echo alive || echo gone'
expect "stop_pids ends a process that ignores SIGTERM" grep -qx gone "$tmp/out"

[ "$bad" -eq 0 ] || { echo "t_testlib: $bad failed"; exit 1; }
echo "all checks passed"
