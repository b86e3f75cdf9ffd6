#!/bin/bash
# Every program has a man page that lints cleanly, and the examples in each
# page's EXAMPLES section run and print what the page says they print.
#
# An example is a `.Bd -literal` block: lines starting with "$ " are
# commands (a trailing backslash continues one), the other lines are the
# output the block's commands print, in order.  Blocks of a page run in one
# scratch directory, one after the other, so later ones can use earlier files.
. "$(dirname "$0")/lib.sh"

# examples may make a random-weight model with scripts/make-model
PATH=$PATH:$TEST_ROOT/scripts
progs=$(ls "$BUILD/bin" 2>/dev/null)
[ -n "$progs" ] || skip_all "no programs built"

for p in $progs; do
	[ -L "$BUILD/bin/$p" ] && continue  # an alias (evaluate) shares its page
	test_expect_success "$p has a man page" "test -f '$TEST_ROOT/man/$p.1'"
done

# Split PAGE's examples into N.sh (commands) and N.out (expected output).
split_examples() {
	awk -v dir="$2" '
		/^\.Sh / { inex = ($2 == "EXAMPLES") }
		inex && /^\.Bd -literal/ { n++; inblk = 1; cont = 0
			sh = dir "/" n ".sh"; out = dir "/" n ".out"
			printf "" > sh; printf "" > out; next }
		inblk && /^\.Ed/ { inblk = 0; close(sh); close(out); next }
		inblk {
			gsub(/\\e/, "\\"); gsub(/\\-/, "-"); gsub(/\\&/, "")
			if (cont) { print > sh; cont = /\\$/; next }
			if (sub(/^\$ /, "")) { print > sh; cont = /\\$/ }
			else print > out
		}' "$1"
}

for page in "$TEST_ROOT"/man/*.[1-9]; do
	name=$(basename "$page")
	if command -v mandoc >/dev/null 2>&1; then
		test_expect_success "$name: mandoc -Tlint is clean" \
			"mandoc -Tlint -Wwarning '$page'"
	fi
	ex="$TRASH/ex-$name"
	mkdir -p "$ex/run"
	split_examples "$page" "$ex"
	blocks=$(ls "$ex"/*.sh 2>/dev/null | wc -l)
	case "$name" in
	*.1) test_expect_success "$name has examples" "test $blocks -gt 0" ;;
	esac
	for i in $(seq 1 "$blocks"); do
		first=$(head -n 1 "$ex/$i.sh")
		test_expect_success "$name example $i: $first" "
			cd '$ex/run' &&
			bash -e -o pipefail '$ex/$i.sh' >'$ex/$i.got' &&
			diff -u '$ex/$i.out' '$ex/$i.got'
		"
	done
done

test_done
