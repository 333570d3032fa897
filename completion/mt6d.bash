# shellcheck shell=bash
# bash completion for mt6d(8), mt6d-server(8), mt6d-client(8) and
# mt6d-peer(8): subcommands, their options, the names of running daemons
# (their control sockets in /run/mt6d), config files in /etc/mt6d, and the
# fixed words (threat levels, show formats, derive and rendezvous
# subcommands). Installed by `make install` into the bash-completion
# directory; needs nothing but bash (the bash-completion package loads it on
# demand). MT6D_RUN_DIR and MT6D_CONF_DIR replace the two directories (the
# tests use them).

# The names of running daemons: NAME for every NAME.sock that is a socket.
_mt6d_daemons() {
	local f
	for f in "${MT6D_RUN_DIR:-/run/mt6d}"/*.sock; do
		[ -S "$f" ] || continue
		f=${f##*/}
		printf '%s\n' "${f%.sock}"
	done
}

# COMPREPLY from a word list (and the current word).
_mt6d_words() { # words cur
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# COMPREPLY += files (directories to descend into included).
_mt6d_files() { # cur
	local f
	while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$1")
	compopt -o filenames 2>/dev/null
}

# A daemon: a name of a running one, or, when it has a '/', a path to a
# socket (or a directory on the way).
_mt6d_socket() { # cur
	local f
	_mt6d_words "$(_mt6d_daemons)" "$1"
	case $1 in */*) ;; *) return 0 ;; esac
	while IFS= read -r f; do
		if [ -S "$f" ] || [ -d "$f" ]; then COMPREPLY+=("$f"); fi
	done < <(compgen -f -- "$1")
	compopt -o filenames 2>/dev/null
	return 0
}

# Config files: the ones in /etc/mt6d by full path, and any path being typed.
_mt6d_confs() { # cur
	local f list=""
	for f in "${MT6D_CONF_DIR:-/etc/mt6d}"/*.conf; do [ -f "$f" ] && list="$list $f"; done
	_mt6d_words "$list" "$1"
	[ -n "$1" ] && _mt6d_files "$1"
	return 0
}

# Whether the daemon is named already (-s, or a word that is neither an
# option, an option's value nor a keyword).
_mt6d_has_target() {
	local i w
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[ "$w" = -s ] && return 0
		case ${COMP_WORDS[i - 1]} in --format | --interval | --count) continue ;; esac
		case $w in -* | dump | low | normal | high) ;; *) return 0 ;; esac
	done
	return 1
}

_mt6d() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmd=${COMP_WORDS[1]:-} sub=${COMP_WORDS[2]:-} opts
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		_mt6d_words "genkey pubkey derive checkconf show metrics watch reload rekey threat rendezvous
			help version --help --version" "$cur"
		return 0
	fi
	case $cmd in
	show | watch)
		case $prev in
		-s) _mt6d_socket "$cur"; return 0 ;;
		--format) _mt6d_words "pretty dump json prometheus" "$cur"; return 0 ;;
		--interval | --count) return 0 ;;
		esac
		opts="-s --interval --count --help"
		[ "$cmd" = show ] && opts="-s --format --json dump --help"
		_mt6d_has_target || opts="$opts $(_mt6d_daemons)"
		_mt6d_words "$opts" "$cur" ;;
	metrics)
		case $prev in
		-s) _mt6d_socket "$cur"; return 0 ;;
		-p | --peer-stats | -o | --output) _mt6d_files "$cur"; return 0 ;;
		esac
		_mt6d_words "-s -p --peer-stats -o --output --help $(_mt6d_daemons)" "$cur" ;;
	reload | rekey | threat)
		if [ "$cmd" = threat ] && [ "$COMP_CWORD" -eq 2 ]; then
			_mt6d_words "low normal high --help" "$cur"
			return 0
		fi
		[ "$prev" = -s ] && { _mt6d_socket "$cur"; return 0; }
		opts="-s"
		[ "$cmd" = threat ] || opts="$opts --help"
		_mt6d_has_target || opts="$opts $(_mt6d_daemons)"
		_mt6d_words "$opts" "$cur" ;;
	checkconf)
		case $COMP_CWORD in
		2) _mt6d_words "server client --help" "$cur" ;;
		3) _mt6d_confs "$cur" ;;
		esac ;;
	derive)
		if [ "$COMP_CWORD" -eq 2 ]; then
			_mt6d_words "descriptor client-iid address --help" "$cur"
			return 0
		fi
		case $prev in
		--key) _mt6d_files "$cur"; return 0 ;;
		--peer | --intro-key | --seed | --rotation-key | --time | --period | --rotation | --count) return 0 ;;
		esac
		case $sub in
		descriptor) opts="--key --peer --time --period" ;;
		client-iid) opts="--key --peer --intro-key" ;;
		address) opts="--seed --rotation-key --time --rotation --count" ;;
		*) return 0 ;;
		esac
		_mt6d_words "$opts --help" "$cur" ;;
	rendezvous)
		if [ "$COMP_CWORD" -eq 2 ]; then
			_mt6d_words "put get fetch publish --help" "$cur"
			return 0
		fi
		case $prev in
		--key | -k | --clients) _mt6d_files "$cur"; return 0 ;;
		--window | -w) _mt6d_words "prev next" "$cur"; return 0 ;;
		--to | --from | --server | -b | --bootstrap | -l | --listen | -p | --port | -n | --period | \
			-t | --timeout | -e | --epoch | --seed-address | --rotation | --rekey-at | --lead | --spread)
			return 0 ;;
		esac
		opts="--key --bootstrap --listen --port --period --window --timeout --quiet --help"
		case $sub in
		put) opts="$opts --to --epoch" ;;
		get) opts="$opts --from" ;;
		fetch) opts="$opts --server --show-keys" ;;
		publish) opts="$opts --clients --verbose --seed-address --rotation --rekey-at --no-next --lead --spread" ;;
		*) return 0 ;;
		esac
		_mt6d_words "$opts" "$cur" ;;
	genkey | pubkey)
		_mt6d_words "--help" "$cur" ;;
	esac
	return 0
}

# The daemons: their operator options (not the testing-only ones).
_mt6d_daemon() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} opts="-c -d -v -n -u -V -h"
	COMPREPLY=()
	case $prev in
	-c) _mt6d_confs "$cur"; return 0 ;;
	-s) _mt6d_socket "$cur"; return 0 ;;
	-S) _mt6d_files "$cur"; return 0 ;;
	-u) mapfile -t COMPREPLY < <(compgen -u -- "$cur"); return 0 ;;
	esac
	[ "${COMP_WORDS[0]##*/}" = mt6d-peer ] && opts="$opts -S"
	_mt6d_words "$opts -s" "$cur"
	return 0
}

complete -F _mt6d mt6d
complete -F _mt6d_daemon mt6d-server mt6d-client mt6d-peer
