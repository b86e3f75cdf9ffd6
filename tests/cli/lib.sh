# lib.sh - shared helper for the shell-level CLI tests (modelled on git's
# t/test-lib.sh).  Source it from tests/cli/tNNNN-topic.sh, then call
# test_expect_success / test_expect_failure ... and finally test_done.
#
# Each test body runs in a subshell inside a fresh scratch directory; the
# programs under test come first on PATH (build/bin, or LMPIPE_BIN).

set -u
TEST_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LMPIPE_BUILD:-$TEST_ROOT/build}
PATH="${LMPIPE_BIN:-$BUILD/bin}:$PATH"
SHARED=${LMPIPE_SHARED:-$TEST_ROOT/../shared}
export PATH TEST_ROOT BUILD SHARED
unset NO_COLOR

test_count=0
test_failed=0
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/lmpipe-test.XXXXXX")
trap 'rm -rf "$TRASH"' EXIT
cd "$TRASH" || exit 1

_test_run() {
	# $1 = expected outcome (0 success), $2 = description, $3 = body
	test_count=$((test_count + 1))
	if ( cd "$TRASH" && eval "$3" ) >"$TRASH/.out" 2>&1; then
		rc=0
	else
		rc=1
	fi
	if [ "$rc" = "$1" ]; then
		echo "ok $test_count - $2"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $2"
		sed 's/^/#   /' "$TRASH/.out"
	fi
}

# test_expect_success 'description' 'shell body'
test_expect_success() { _test_run 0 "$1" "$2"; }

# test_skip 'description' 'reason'
test_skip() {
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
}

# Whole-file skip (prints a TAP plan of 0 with a reason).
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# have_shared: true when ../shared (or LMPIPE_SHARED) is present.
have_shared() { [ -d "$SHARED/tokenizers" ]; }

# expect_exit CODE CMD...: run CMD, succeed iff it exits with CODE.
expect_exit() {
	want=$1
	shift
	"$@"
	got=$?
	if [ "$got" != "$want" ]; then
		echo "expected exit $want, got $got: $*" >&2
		return 1
	fi
}

test_done() {
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
}
