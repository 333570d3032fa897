#!/bin/sh
# The module graph of the tree, read off the #include lines: first which
# layer includes which (with the number of include lines), then each
# module and the modules it includes. docs/ARCHITECTURE.md carries its
# output between two marker lines.
#
#   scripts/module-graph.sh                  print the graph
#   scripts/module-graph.sh --check FILE     fail if FILE's copy is stale
#   scripts/module-graph.sh --update FILE    rewrite FILE's copy
set -u
cd "$(dirname "$0")/.." || exit 1

begin='<!-- module-graph: begin (scripts/module-graph.sh --update docs/ARCHITECTURE.md) -->'
end='<!-- module-graph: end -->'

layer_of() { # path -> layer: mt6d/<layer> or the top folder
	case $1 in
	mt6d/*/*) echo "${1%/*}" ;;
	*/*) echo "${1%%/*}" ;;
	esac
}

module_of() { # path -> module: the file name without .c/.h, with its folder
	m=${1%.[ch]}
	echo "$m"
}

edges() { # "from to" per project include of the library and programs
	for f in mt6d/*/*.[ch] dht/*.[ch] tun/*.[ch] netlink/*.[ch]; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
			while read -r h; do
				case $h in mt6d/*|dht/*|tun/*|netlink/*) echo "$f $h" ;; esac
			done
	done
}

graph() {
	echo "Layers (an arrow: includes; the number of #include lines):"
	echo
	edges | while read -r f h; do
		a=$(layer_of "$f") b=$(layer_of "$h")
		[ "$a" = "$b" ] || echo "$a -> $b"
	done | sort | uniq -c | awk '{printf "    %-12s -> %-12s %3d\n", $2, $4, $1}'
	echo
	echo "Modules (each with the modules it includes, own header left out):"
	echo
	edges | while read -r f h; do
		a=$(module_of "$f") b=$(module_of "$h")
		[ "$a" = "$b" ] || echo "$a $b"
	done | sort -u | awk '
		$1 != cur { if (cur != "") print line; cur = $1; line = sprintf("    %-22s", cur ":") }
		{ line = line " " $2 }
		END { if (cur != "") print line }'
}

case ${1:-} in
"")
	graph
	;;
--check | --update)
	file=${2:?usage: $0 --check|--update FILE}
	tmp=$(mktemp)
	trap 'rm -f "$tmp" "$tmp.new"' EXIT
	{ echo '```'; graph; echo '```'; } >"$tmp"
	awk -v b="$begin" -v e="$end" -v g="$tmp" '
		$0 == b { print; while ((getline l < g) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' "$file" >"$tmp.new"
	grep -qxF "$begin" "$file" && grep -qxF "$end" "$file" ||
		{ echo "module-graph: $file has no marker lines" >&2; exit 1; }
	if [ "$1" = --update ]; then
		cat "$tmp.new" >"$file"
	elif ! cmp -s "$file" "$tmp.new"; then
		echo "module-graph: the graph in $file is stale; run scripts/module-graph.sh --update $file" >&2
		diff -u "$file" "$tmp.new" >&2
		exit 1
	fi
	;;
*)
	echo "usage: $0 [--check|--update FILE]" >&2
	exit 2
	;;
esac
