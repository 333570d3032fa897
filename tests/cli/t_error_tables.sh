#!/bin/bash
# Every module error code (#define MOD_ERR_X in a header of mt6d/) has a
# case in its module's MOD_strerror, so no protocol failure reaches a log
# as the errno text the code aliases. The unit tests check the messages
# themselves (tests/unit/error_table.h).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
# shellcheck source=tests/lib.sh
. tests/lib.sh
n=0
for h in mt6d/*/*.h; do
	c=${h%.h}.c
	mod=$(basename "${h%.h}")
	# shellcheck disable=SC2013 # the codes are single words
	for code in $(sed -n 's/^#define \([A-Z]*_ERR_[A-Z_]*\) .*/\1/p' "$h"); do
		grep -q "^const char \*${mod}_strerror(int" "$c" || fail "$h defines $code but $c has no ${mod}_strerror"
		sed -n "/^const char \*${mod}_strerror(int/,/^}/p" "$c" | grep -q "case $code:" ||
			fail "$code ($h) has no message in ${mod}_strerror ($c)"
		n=$((n + 1))
	done
done
[ "$n" -ge 20 ] || fail "only $n error codes found: is the pattern still right?"
echo "ok ($n codes)"
