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
		# TEST_VERBOSE=1: the output of passing tests too, as TAP comments.
		[ -z "${TEST_VERBOSE:-}" ] || sed 's/^/#   /' "$TRASH/.out"
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

# ref_node_setup: the npm reference implementations (pinned versions:
# tiktoken, @lenml/tokenizers, node-llama-cpp = llama.cpp's CPU build),
# installed on first use into build/ref-node.  Sets REF_NODE (that folder)
# and REF_NODE_MODULES (its node_modules); skips the whole file when node,
# npm or the registry is not there.  ref_node_available does the same but
# returns 1 with the reason in REF_NODE_WHY instead of skipping.
REF_NODE_PKGS="tiktoken@1.0.22 @lenml/tokenizers@3.7.2 node-llama-cpp@3.22.1"
ref_node_available() {
	REF_NODE=$TEST_ROOT/build/ref-node
	REF_NODE_MODULES=$REF_NODE/node_modules
	export REF_NODE REF_NODE_MODULES
	if ! command -v node >/dev/null 2>&1; then
		REF_NODE_WHY="node is not installed (the references are npm packages)"
		return 1
	fi
	if [ -d "$REF_NODE_MODULES/tiktoken" ] && [ -d "$REF_NODE_MODULES/@lenml/tokenizers" ] &&
	   [ -d "$REF_NODE_MODULES/node-llama-cpp" ]; then
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		REF_NODE_WHY="npm is not installed"
		return 1
	fi
	mkdir -p "$REF_NODE"
	# shellcheck disable=SC2086
	if ! npm install --prefix "$REF_NODE" --no-audit --no-fund --loglevel=error \
		--fetch-retries=1 --fetch-timeout=30000 $REF_NODE_PKGS >"$TRASH/npm.log" 2>&1; then
		REF_NODE_WHY="cannot install the references ($REF_NODE_PKGS) with npm: $(tail -1 "$TRASH/npm.log")"
		return 1
	fi
}
ref_node_setup() {
	ref_node_available || skip_all "$REF_NODE_WHY"
}

# ref_torch_setup: Debian's /usr/bin/python3 with numpy and PyTorch (the
# independent transformer reference tests/ref/bert_ref.py).  Sets PYREF;
# skips the whole file when they are not installed (scripts/deps).
ref_torch_setup() {
	PYREF=/usr/bin/python3
	export PYREF
	[ -x "$PYREF" ] || skip_all "$PYREF is absent (scripts/deps installs python3-torch)"
	"$PYREF" -c 'import numpy, torch' >/dev/null 2>&1 ||
		skip_all "$PYREF lacks numpy or torch (scripts/deps installs python3-numpy python3-torch)"
}

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

# skip_under_sanitizers WHAT: numeric comparisons with a reference run once,
# in the normal build; under ASan/UBSan (make test SAN=1, BUILD=build/san)
# they would repeat the same arithmetic several times slower, and the
# programs' memory safety is exercised by the other tests.
skip_under_sanitizers() {
	case $BUILD in
	*/san) skip_all "$1: checked in the normal build (make test)" ;;
	esac
}
