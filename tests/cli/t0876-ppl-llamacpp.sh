#!/bin/sh
# evaluate ppl against llama.cpp itself (issue 6: "perplexity equals
# llama.cpp's for the same model, text and context within 0.1%"): the
# oracle tests/ref/llama_ppl.py runs node-llama-cpp's libllama through
# ctypes with llama-perplexity's method, on wikitext-2 test text, for
# stories260K (imported from llama2.c) and a random llama in F32 and Q8_0,
# with llama-perplexity's defaults (flash attention on for the CPU).
. "$(dirname "$0")/lib.sh"

command -v evaluate >/dev/null 2>&1 || skip_all "evaluate is not built"
have_shared || skip_all "no ../shared (models and wikitext-2)"
PY=/usr/bin/python3
"$PY" -c 'import numpy' 2>/dev/null || skip_all "$PY lacks numpy (scripts/deps)"
ref_node_available || skip_all "$REF_NODE_WHY"
LIBDIR=$REF_NODE_MODULES/@node-llama-cpp/linux-x64/bins/linux-x64
ls "$LIBDIR"/libllama*.so >/dev/null 2>&1 || skip_all "no libllama in $LIBDIR (node-llama-cpp's x64 build)"
LMPIPE_BIN=${LMPIPE_BIN:-$BUILD/bin}
export LMPIPE_BIN

quantize --import llama2c --tokenizer "$SHARED/models/tok512.bin" "$SHARED/models/stories260K.bin" \
	"$TRASH/s.gguf" 2>/dev/null || skip_all "cannot import stories260K"
"$PY" "$TEST_ROOT/scripts/make-model" --arch llama --shape tiny --seed 3 -o "$TRASH/r-f32.gguf" &&
	quantize -q -t q8_0 "$TRASH/r-f32.gguf" "$TRASH/r-q8_0.gguf" || skip_all "cannot make the random llama"
# whole lines, so the slice ends with the newline llama-perplexity's -f drops
head -n 24 "$SHARED/data/wikitext-2/wiki.test.raw" >"$TRASH/wiki.txt"

# agree MODEL CTX [ORACLE OPTION...]: our estimate, its stderr and the
# tokens scored against llama.cpp's, 0.1% on the estimate (the issue's
# bound), 1% on its stderr
agree() {
	evaluate ppl -m "$1" -c "$2" -t 2 "$TRASH/wiki.txt" >ours &&
	m=$1 c=$2 &&
	shift 2 &&
	"$PY" "$TEST_ROOT/tests/ref/llama_ppl.py" --threads 1 "$@" "$LIBDIR" "$m" "$TRASH/wiki.txt" "$c" >ref &&
	"$PY" - ours ref <<-\EOF
	import sys
	ours = {l.split()[0]: float(l.split()[2]) for l in open(sys.argv[1])}
	ref = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[2])}
	rel = abs(ours["ppl"] - ref["ppl"]) / ref["ppl"]
	print("ours %.4f +/- %.4f, llama.cpp %.4f +/- %.4f, %d tokens scored, relative difference %.2e"
	      % (ours["ppl"], ours["ppl_stderr"], ref["ppl"], ref["ppl_stderr"], ref["tokens_scored"], rel))
	assert ours["tokens_scored"] == ref["tokens_scored"], (ours["tokens_scored"], ref["tokens_scored"])
	assert ours["chunks"] == ref["chunks"]
	assert rel < 1e-3
	assert abs(ours["ppl_stderr"] - ref["ppl_stderr"]) / ref["ppl_stderr"] < 1e-2
	EOF
}

test_expect_success 'stories260K, context 128: within 0.1% of llama.cpp' '
	agree "$TRASH/s.gguf" 128
'

test_expect_success 'stories260K, context 512 (its training context): within 0.1%' '
	agree "$TRASH/s.gguf" 512
'

test_expect_success 'random llama F32, context 64: within 0.1% of llama.cpp' '
	agree "$TRASH/r-f32.gguf" 64
'

test_expect_success 'random llama Q8_0, context 256: within 0.1% of llama.cpp' '
	agree "$TRASH/r-q8_0.gguf" 256
'

test_done
