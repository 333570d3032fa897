#!/bin/bash
# make analyze: the static analyzers over the whole tree, zero findings
# expected (each suppression is justified in one line where it is made).
#
#   scripts/analyze.sh BUILD_DIR "CPPFLAGS"
#
#   1. clang's static analyzer: clang-tidy with the clang-analyzer-* checks
#      over BUILD_DIR/compile_commands.json, written here from the Makefile's
#      flags (every C file the Makefile builds: library, programs, unit
#      tests, fuzzers, benchmarks)
#   2. cppcheck (warning, portability, performance) over the same files
#   3. shellcheck over every shell script git knows (.shellcheckrc)
#
# ANALYZE_ONLY=tidy|cppcheck|shellcheck runs one of them.
set -u
cd "$(dirname "$0")/.." || exit 1
build=${1:-build}
cppflags=${2:-"-I. -D_GNU_SOURCE"}
only=${ANALYZE_ONLY:-}
mkdir -p "$build"
status=0

c_files() {
	ls mt6d/*/*.c dht/*.c tun/*.c netlink/*.c tests/*.c tests/unit/*.c tests/fuzz/*.c bench/*.c 2>/dev/null
}

shell_files() { # tracked .sh and .bash files, and tracked files whose first line names sh or bash
	local f
	git ls-files | while read -r f; do
		case $f in
		*.sh | *.bash) echo "$f" ;;
		*.*) ;;
		*) [ -f "$f" ] && head -n 1 "$f" | grep -qE '^#!.*/(env )?(ba)?sh( |$)' && echo "$f" ;;
		esac
	done
}

json_str() { sed 's/\\/\\\\/g; s/"/\\"/g'; }

compile_commands() { # the flags of the Makefile, one entry per file
	local f sep="" top args a
	top=$(pwd | json_str)
	echo "["
	for f in $(c_files); do
		args="\"cc\", \"-std=c11\""
		# shellcheck disable=SC2086 # the flags are a word list on purpose
		for a in $cppflags -DMT6D_VERSION=\"analyze\" $(case $f in tests/fuzz/*) echo -DMT6D_FUZZING;; esac); do
			args="$args, \"$(printf '%s' "$a" | json_str)\""
		done
		printf '%s{"directory": "%s", "file": "%s", "arguments": [%s, "-c", "%s"]}' \
			"$sep" "$top" "$f" "$args" "$f"
		sep=$',\n'
	done
	printf '\n]\n'
}

if [ -z "$only" ] || [ "$only" = tidy ]; then
	compile_commands >"$build/compile_commands.json"
	# The checks, and each one left out with its reason: .clang-tidy (and
	# bench/.clang-tidy).
	out=$build/analyze-tidy.log
	start=$(date +%s)
	run-clang-tidy -quiet -p "$build" -j "$(nproc)" \
		-header-filter="^$(pwd)/" >"$out.color" 2>&1
	sed 's/\x1b\[[0-9;]*m//g' "$out.color" >"$out" && rm -f "$out.color"
	n=$(grep -cE ': (warning|error):' "$out")
	echo "analyze: clang-tidy (clang analyzer): $n finding(s) in $(( $(date +%s) - start )) s"
	if [ "$n" -ne 0 ]; then
		grep -E -A3 ': (warning|error):' "$out"
		status=1
	fi
fi

if [ -z "$only" ] || [ "$only" = cppcheck ]; then
	out=$build/analyze-cppcheck.log
	start=$(date +%s)
	# shellcheck disable=SC2046,SC2086 # word lists on purpose
	cppcheck -q -j "$(nproc)" --std=c11 --enable=warning,portability,performance \
		--inline-suppr --error-exitcode=1 $cppflags -DMT6D_VERSION='"analyze"' \
		--template='{file}:{line}: {severity}: {message} [{id}]' $(c_files) >"$out" 2>&1
	rc=$?
	n=$(grep -c ': \(error\|warning\|portability\|performance\|style\): ' "$out")
	echo "analyze: cppcheck: $n finding(s) in $(( $(date +%s) - start )) s"
	if [ "$rc" -ne 0 ] || [ "$n" -ne 0 ]; then
		cat "$out"
		status=1
	fi
fi

if [ -z "$only" ] || [ "$only" = shellcheck ]; then
	out=$build/analyze-shellcheck.log
	start=$(date +%s)
	mapfile -t scripts < <(shell_files)
	shellcheck -x "${scripts[@]}" >"$out" 2>&1
	rc=$?
	n=$(grep -c '^In .* line [0-9]*:' "$out")
	echo "analyze: shellcheck: $n finding(s) in ${#scripts[@]} scripts in $(( $(date +%s) - start )) s"
	if [ "$rc" -ne 0 ]; then
		cat "$out"
		status=1
	fi
fi

exit $status
