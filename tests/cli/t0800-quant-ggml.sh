#!/bin/sh
# kernels/quant.h against llama.cpp's ggml, bit for bit: for F32, F16,
# BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K and Q8_K, our
# reference quantiser gives ggml's bytes (ggml_quantize_chunk without an
# importance matrix, i.e. quantize_row_*_ref), our dequantisation of
# ggml's blocks gives ggml's floats at every SIMD level, and our
# activation conversions (from_float) give ggml's bytes at every level.
# Inputs: normal, uniform, one-signed, zero-filled, constant, outlier,
# tiny, huge, rounding-tie and step rows; many rows; rows of many blocks.
#
# The reference is the libggml-base.so that node-llama-cpp ships, which
# t0710 installs into build/ref-node; it is driven from Python (numpy +
# ctypes) by tests/ref/ggml_quant.py.  Without it, or without numpy in
# /usr/bin/python3, the test is skipped.
. "$(dirname "$0")/lib.sh"

GGML=$TEST_ROOT/build/ref-node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so
TOOL=$BUILD/helpers/quant-tool
PY=/usr/bin/python3

[ -x "$TOOL" ] || skip_all "quant-tool is not built (make tests)"
[ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null || skip_all "/usr/bin/python3 with numpy is not installed"
[ -f "$GGML" ] || skip_all "llama.cpp's libggml-base.so is absent (t0710 installs node-llama-cpp into build/ref-node)"
[ "$(uname -m)" = x86_64 ] || skip_all "the ggml reference build is x86-64"

"$PY" "$TEST_ROOT/tests/ref/ggml_quant.py" "$GGML" "$TOOL" >"$TRASH/ggml.tap" 2>"$TRASH/ggml.err"
echo "$?" >"$TRASH/ggml.rc"

test_expect_success 'the ggml comparison ran to the end' '
	test "$(cat ggml.rc)" = 0 || grep -q "^1\.\." ggml.tap || { cat ggml.err; false; }
'

# One test per comparison the reference script made (its TAP lines).
grep '^\(not \)\{0,1\}ok ' "$TRASH/ggml.tap" >"$TRASH/lines"
while IFS= read -r line; do
	desc=${line#* - }
	case $line in
	*"# SKIP"*) test_skip "${desc%% # SKIP*}" "${desc#*# SKIP }" ;;
	"not ok"*)
		num=${line#not ok }
		num=${num%% *}
		test_expect_success "$desc" "sed -n '/^not ok $num /,/^\(not \)\{0,1\}ok /p' ggml.tap; false" ;;
	*) test_expect_success "$desc" 'true' ;;
	esac
done <"$TRASH/lines"

test_done
