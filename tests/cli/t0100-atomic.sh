#!/bin/sh
# Output files appear whole or not at all, whatever ends the program (SPEC
# "Command-line conventions"), and the common options behave as in every
# program.  Driven through tests/helpers/test-atomic.c, a minimal program on
# opt.h + diag.h + atomic.h; expected bytes come from yes/tr/head.
. "$(dirname "$0")/lib.sh"

HELPER=$BUILD/helpers/test-atomic
[ -x "$HELPER" ] || skip_all "test helper $HELPER not built"
PATH="$BUILD/helpers:$PATH"

no_temps() {
	set -- *.tmp.*
	if [ -e "$1" ]; then
		echo "temporary left behind: $*" >&2
		return 1
	fi
}

alphabet() { yes abcdefghijklmnopqrstuvwxyz | tr -d '\n' | head -c "$1"; }

# wait_ready FILE: until the helper has written "ready" there (10 s at most).
wait_ready() {
	i=0
	while ! grep -q ready "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "helper never got ready" >&2; return 1; }
		sleep 0.05
	done
}

test_expect_success 'commit: the file has every byte, no temporary' '
	echo old >out.idx &&
	test-atomic -s 1M out.idx &&
	alphabet 1048576 >expect &&
	cmp expect out.idx &&
	no_temps
'

test_expect_success 'mode is 0666 & ~umask as for any new file' '
	(umask 027 && test-atomic -s 10 a.out) &&
	(umask 002 && test-atomic -s 10 b.out) &&
	test "$(ls -l a.out | cut -c1-10)" = "-rw-r-----" &&
	test "$(ls -l b.out | cut -c1-10)" = "-rw-rw-r--"
'

# Status 128 + the signal number (Linux: TERM 15, HUP 1).  The helper is
# started on its own line: "a && b &" would background a subshell.
for sig in TERM:143 HUP:129; do
	test_expect_success "SIG${sig%:*} before commit: old file intact, no temporary" '
		echo old >out.idx
		test-atomic -s 3M --hang out.idx >ready &
		pid=$!
		wait_ready ready || { kill -KILL $pid; exit 1; }
		kill -'${sig%:*}' $pid &&
		{ wait $pid; st=$?; } &&
		test $st = '${sig#*:}' &&
		test "$(cat out.idx)" = old &&
		no_temps
	'
done

# A shell starts background jobs with SIGINT ignored, so Ctrl-C comes from a
# foreground timeout(1) here.
if command -v timeout >/dev/null 2>&1; then
	test_expect_success 'SIGINT (Ctrl-C) before commit: old file intact, no temporary' '
		echo old >out.idx &&
		expect_exit 124 timeout -s INT 0.5 test-atomic -s 3M --hang out.idx >/dev/null &&
		test "$(cat out.idx)" = old &&
		no_temps
	'
else
	test_skip 'SIGINT (Ctrl-C) before commit' 'no timeout(1)'
fi

test_expect_success 'exit without commit: old file intact, no temporary' '
	echo old >out.idx &&
	expect_exit 3 test-atomic --exit 3 out.idx &&
	expect_exit 0 test-atomic --no-commit out.idx &&
	test "$(cat out.idx)" = old &&
	no_temps
'

test_expect_success 'reader gone (SIGPIPE): quiet, status 141, old file intact' '
	echo old >out.idx &&
	alphabet 2000000 >in &&
	{ test-atomic --copy out.idx <in 2>err; echo $? >st; } | head -c 1 >/dev/null &&
	test "$(cat st)" = 141 &&
	test ! -s err &&
	test "$(cat out.idx)" = old &&
	no_temps
'

test_expect_success 'a reader that opened the old file keeps reading it' '
	echo "old version" >shared.idx &&
	exec 3<shared.idx &&
	test-atomic -s 5 shared.idx &&
	test "$(cat <&3)" = "old version" &&
	test "$(cat shared.idx)" = abcde
'

test_expect_success 'through a symlink: the target is replaced, the link kept' '
	mkdir store &&
	echo old >store/m.gguf &&
	ln -s store/m.gguf m.gguf &&
	test-atomic -s 3 m.gguf &&
	test -L m.gguf &&
	test "$(cat store/m.gguf)" = abc
'

test_expect_success 'missing directory: status 1 and the path in the message' '
	expect_exit 1 test-atomic no/such/x.idx 2>err &&
	test "$(cat err)" = "test-atomic: no/such/x.idx: cannot create temporary file: No such file or directory"
'

test_expect_success '--help and --version on stdout, status 0' '
	test-atomic --help >out &&
	head -n 1 out | grep -qx "Usage: test-atomic \[OPTION\]... PATH" &&
	grep -q -- "--threads N" out &&
	test-atomic --version >out &&
	grep -Eqx "test-atomic \(lmpipe\) [0-9]+\.[0-9]+\.[0-9]+" out
'

test_expect_success '--help to a full disk is a write error (status 1)' '
	expect_exit 1 test-atomic --help >/dev/full 2>err &&
	test "$(cat err)" = "test-atomic: write error: No space left on device"
'

test_expect_success 'usage errors: status 2, message and hint' '
	expect_exit 2 test-atomic --bogus x 2>err &&
	printf "%s\n" "test-atomic: unrecognized option '"'"'--bogus'"'"'" \
		"Try '"'"'test-atomic --help'"'"' for more information." >expect &&
	cmp expect err &&
	expect_exit 2 test-atomic -t 0 x 2>err &&
	grep -q "invalid value '"'"'0'"'"' for --threads" err &&
	expect_exit 2 test-atomic -s 1.5G x 2>/dev/null &&
	expect_exit 2 test-atomic 2>err &&
	grep -q "expected one PATH, got 0 operands" err &&
	no_temps && test ! -e x
'

test_done
