#!/bin/bash
# The bash completion (completion/mt6d.bash) sourced into this shell and
# asked as bash asks it (COMP_WORDS, COMP_CWORD): the subcommands are
# exactly those `mt6d --help` lists; every option it offers for a
# subcommand is one that subcommand's --help names; daemon names come from
# the sockets of the run directory (not from other files there); config
# files from the config directory; the fixed words (threat levels, show
# formats, derive and rendezvous subcommands) and the daemons' options.
set -u
b=$MT6D_BUILD
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
tmp=$(mktemp -d)
at_exit 'rm -rf "$tmp"'

# A run directory with two daemons' sockets, a stale regular file named
# like one, and a lock; a config directory with two configs.
export MT6D_RUN_DIR=$tmp/run MT6D_CONF_DIR=$tmp/etc
mkdir -p "$MT6D_RUN_DIR" "$MT6D_CONF_DIR"
for n in server home; do
	/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$MT6D_RUN_DIR/$n.sock"
done
touch "$MT6D_RUN_DIR/stale.sock" "$MT6D_RUN_DIR/home.lock" "$MT6D_CONF_DIR/server.conf" \
	"$MT6D_CONF_DIR/home.conf" "$MT6D_CONF_DIR/server.key"

# shellcheck source=completion/mt6d.bash
. "$top/completion/mt6d.bash"
check "mt6d, mt6d-server, mt6d-client and mt6d-peer have completions" \
	bash -c ". '$top/completion/mt6d.bash'; complete -p mt6d mt6d-server mt6d-client mt6d-peer"

comp() { # words...: the completions of the last word, sorted, one line
	local fn=_mt6d
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	case $1 in mt6d-*) fn=_mt6d_daemon ;; esac
	"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
is() { # want words...
	local want=$1 have
	shift
	have=$(comp "$@")
	[ "$have" = "$want" ] || { echo "'$*': have '$have', want '$want'"; return 1; }
}
has() { # word words...: the completions include word
	local word=$1
	shift
	comp "$@" | tr ' ' '\n' | grep -qxF -- "$word" || { echo "'$*' offers no '$word': $(comp "$@")"; return 1; }
}
lacks() { not has "$@"; }

subs=$("$b/mt6d" --help | awk '/^Available subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | sort | tr '\n' ' ')
check "the subcommands of mt6d --help ($subs)" \
	bash -c "test '$(comp mt6d '' | tr ' ' '\n' | grep -v -e '^-' -e '^help$' -e '^version$' | tr '\n' ' ')' = '$subs'"
check "a prefix: sh" is "show" mt6d sh
check "a prefix: re" is "rekey reload rendezvous" mt6d re
check "daemon names: the sockets, not the stale file or the lock" is "home server" mt6d show -s ''
check "... as the positional NAME" has home mt6d show ''
check "... not after one is named" lacks home mt6d show server ''
names_for_all() {
	local c
	for c in metrics watch reload rekey; do is "home server" mt6d "$c" -s '' || return 1; done
}
check "... for metrics, watch, reload, rekey" names_for_all
check "a socket path" is "$MT6D_RUN_DIR/home.sock" mt6d show -s "$MT6D_RUN_DIR/ho"
check "show --format" is "dump json pretty prometheus" mt6d show --format ''
check "show's options" has --format mt6d show --
check "threat levels" is "--help high low normal" mt6d threat ''
check "threat: then the daemon" is "-s home server" mt6d threat high ''
check "checkconf roles" is "--help client server" mt6d checkconf ''
check "checkconf: the configs" is "$MT6D_CONF_DIR/home.conf $MT6D_CONF_DIR/server.conf" mt6d checkconf server ''
check "derive subcommands" is "--help address client-iid descriptor" mt6d derive ''
check "derive address options" is "--count --help --rotation --rotation-key --seed --time" mt6d derive address --
check "derive: no value offered for --seed" is "" mt6d derive address --seed ''
check "rendezvous subcommands" is "--help fetch get publish put" mt6d rendezvous ''
check "rendezvous get: --from" has --from mt6d rendezvous get --
check "... not --to" lacks --to mt6d rendezvous get --
check "rendezvous --window" is "next prev" mt6d rendezvous get --window ''
check "metrics -o: files" is "$tmp/etc" mt6d metrics -o "$tmp/e"
check "mt6d-server -c: the configs" is "$MT6D_CONF_DIR/home.conf $MT6D_CONF_DIR/server.conf" mt6d-server -c ''
check "mt6d-client -s: daemon names" is "home server" mt6d-client -s ''
check "mt6d-peer has -S" has -S mt6d-peer -
check "... mt6d-server has not" lacks -S mt6d-server -

# Every option offered is one the subcommand's --help names (a renamed or
# removed option fails here); -h and --help every command takes.
for c in show watch metrics reload rekey; do
	for o in $(comp mt6d "$c" - | sed "s/--help//"); do
		check "$c: $o is in 'mt6d $c --help'" grep -qw -e "$o" <("$b/mt6d" "$c" --help 2>&1)
	done
done
for c in "derive descriptor" "derive client-iid" "derive address" "rendezvous put" \
	"rendezvous get" "rendezvous fetch" "rendezvous publish"; do
	# shellcheck disable=SC2086 # two words
	for o in $(comp mt6d $c - | sed "s/--help//"); do
		check "$c: $o is in 'mt6d ${c%% *} --help'" grep -qw -e "$o" <("$b/mt6d" "${c%% *}" --help 2>&1)
	done
done
for d in server client peer; do
	for o in $(comp "mt6d-$d" - | sed "s/-h//"); do
		check "mt6d-$d: $o is in its usage" grep -qw -e "$o" <("$b/mt6d-$d" -h 2>&1)
	done
done
finish
