#!/bin/sh
# quantize(1): GGUF -> GGUF weights and llama2.c imports.
#
# References: llama.cpp's own quantizer (llama_model_quantize from
# node-llama-cpp's libllama, tests/ref/llama_quantize.py) for whole-file
# byte identity on every type and mixture; numpy decoding of Q8_0/Q4_0/F16/
# BF16 blocks (tests/ref/quantize_check.py) for the reported errors; the
# type rules of llama.cpp's llama-quant.cpp worked out by hand for the
# mixture checks; llama.cpp's greedy output for the imported stories260K
# (its known text, ../shared/README.md); the scalar reference quantizers
# (LMPIPE_CPU=scalar) for the SIMD ones.  Parts whose reference is absent
# are skipped with the reason.
. "$(dirname "$0")/lib.sh"

command -v quantize >/dev/null 2>&1 || skip_all "quantize is not built"

PY=/usr/bin/python3
REF=$TEST_ROOT/tests/ref
LIBDIR=$TEST_ROOT/build/ref-node/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
MODULES=$TEST_ROOT/build/ref-node/node_modules
have_numpy() { [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; }
have_llama_lib() { have_numpy && ls "$LIBDIR"/libllama*.so >/dev/null 2>&1; }
have_node_llama() { command -v node >/dev/null 2>&1 && [ -d "$MODULES/node-llama-cpp" ]; }

# A toy checkpoint (dim 32, hidden 32, 1 layer, 1 head, vocab 4, seq 1), all
# zeros, and its tokenizer, written with printf as in quantize(1).
toy() {
	printf '\040\0\0\0\040\0\0\0\001\0\0\0\001\0\0\0\001\0\0\0\004\0\0\0\001\0\0\0' >toy.bin &&
	head -c 29696 /dev/zero >>toy.bin &&
	printf '\001\0\0\0' >toy-tok.bin &&
	for c in a b c d; do printf '\0\0\0\0\001\0\0\0%s' $c; done >>toy-tok.bin &&
	quantize --import llama2c --tokenizer toy-tok.bin toy.bin toy.gguf
}

# tensor type as gguf_dump.py (an independent reader) lists it
ttype() { "$PY" "$REF/gguf_dump.py" "$1" | sed -n "s/^tensor \"$2\" \([A-Z0-9_]*\) .*/\1/p"; }
kv() { "$PY" "$REF/gguf_dump.py" "$1" | sed -n "s/^kv \"$2\" [a-z0-9]* //p"; }

test_expect_success 'usage errors exit 2' '
	expect_exit 2 quantize toy.gguf out.gguf 2>err && grep -q "missing -t" err &&
	expect_exit 2 quantize -t q9_9 a b 2>err && grep -q "unknown type .q9_9." err &&
	expect_exit 2 quantize -t q8_0 a 2>/dev/null &&
	expect_exit 2 quantize --import foo a b 2>/dev/null &&
	expect_exit 2 quantize --import llama2c a b 2>err && grep -q tokenizer err
'

test_expect_success '--help-types lists the types with llama_ftype numbers' '
	quantize --help-types >types &&
	grep -q "^Q4_K_M  q4_K  ftype 15" types &&
	grep -q "^Q8_0    q8_0  ftype  7" types &&
	grep -q "^BF16    bf16  ftype 32" types
'

test_expect_success 'toy import: sizes by hand (q8_0: 34 bytes per 32 weights)' '
	toy &&
	quantize -q --dry-run --report -t Q8_0 toy.gguf >rep &&
	grep -q "^blk.0.attn_q.weight  *\[32, 32\]  *f32 -> q8_0  *4096 ->  *1088 bytes" rep &&
	grep -q "^output_norm.weight  *\[32\]  *f32 -> f32  *128 ->  *128 bytes" rep &&
	tail -n 1 rep | grep -q "30080 -> 8272 bytes"
'

test_expect_success '--dry-run writes nothing' '
	toy && mkdir d && cd d &&
	quantize -q --dry-run -t q4_0 ../toy.gguf && test -z "$(ls -A)"
'

test_expect_success 'type names are case-insensitive; same bytes' '
	toy && quantize -q -t q5_1 toy.gguf a.gguf && quantize -q -t Q5_1 toy.gguf b.gguf &&
	cmp a.gguf b.gguf
'

test_expect_success 'truncated GGUF: exit 1, message, no output or temporary' '
	toy && head -c 20000 toy.gguf >bad.gguf && mkdir o &&
	expect_exit 1 quantize -t q8_0 bad.gguf o/out.gguf 2>err &&
	grep -q "bad.gguf: .*past end of file" err && test -z "$(ls -A o)"
'

test_expect_success 'an existing output survives a failed run' '
	toy && head -c 20000 toy.gguf >bad.gguf && echo keep >out.gguf &&
	expect_exit 1 quantize -q -t q8_0 bad.gguf out.gguf 2>/dev/null &&
	test "$(cat out.gguf)" = keep
'

test_expect_success 'truncated llama2.c checkpoint and tokenizer are refused' '
	toy && head -c 1000 toy.bin >t.bin &&
	expect_exit 1 quantize --import llama2c --tokenizer toy-tok.bin t.bin x.gguf 2>err &&
	grep -q "t.bin: truncated: .* needs 29724 bytes, the file has 1000" err &&
	head -c 20 toy-tok.bin >tt.bin &&
	expect_exit 1 quantize --import llama2c --tokenizer tt.bin toy.bin x.gguf 2>err &&
	grep -q "tt.bin: truncated at token 1 of 4" err && ! test -e x.gguf
'

test_expect_success 'fallback rows are reported (Q4_K_M on rows of 32)' '
	toy && quantize -t Q4_K_M toy.gguf q.gguf 2>err &&
	grep -q "warning: blk.0.attn_q.weight: row length 32 is not a multiple of q4_K.s block of 256: using q5_0" err &&
	grep -q "needed a fallback type" err
'

if ! have_numpy; then
	test_skip 'random models' "no numpy in $PY"
	test_done
	exit
fi

# 8 layers, rows of 256 (K blocks fit), structured rows (zeros, constants,
# outliers, ties); a second one whose ffn_down rows (80) fit no block.
rand() {
	"$PY" "$REF/llama2c_random.py" r.bin --unshared "$@" &&
	quantize --import llama2c --tokenizer toy-tok.bin r.bin r.gguf
}
toktok() { printf '\001\0\0\0' >toy-tok.bin && i=0 && while [ $i -lt 512 ]; do printf '\0\0\0\0\001\0\0\0x'; i=$((i + 1)); done >>toy-tok.bin; }

test_expect_success 'Q4_K_M picks llama.cpp types (rules worked by hand)' '
	toktok && rand && quantize -q -t q4_k_m r.gguf q.gguf &&
	# use_more_bits(i, 8): i < 1, i >= 7, (i - 1) % 3 == 2 -> layers 0 3 6 7
	for l in 0 3 6 7; do test "$(ttype q.gguf blk.$l.attn_v.weight)" = Q6_K &&
		test "$(ttype q.gguf blk.$l.ffn_down.weight)" = Q6_K || exit 1; done &&
	for l in 1 2 4 5; do test "$(ttype q.gguf blk.$l.attn_v.weight)" = Q4_K &&
		test "$(ttype q.gguf blk.$l.ffn_down.weight)" = Q4_K || exit 1; done &&
	test "$(ttype q.gguf output.weight)" = Q6_K &&
	test "$(ttype q.gguf token_embd.weight)" = Q4_K &&
	test "$(ttype q.gguf blk.0.attn_norm.weight)" = F32 &&
	test "$(kv q.gguf general.file_type)" = 15 &&
	test "$(kv q.gguf general.quantization_version)" = 2
'

test_expect_success '--pure: every weight of the type, output included' '
	toktok && rand && quantize -q --pure -t q4_k_m r.gguf q.gguf &&
	test "$(ttype q.gguf blk.0.attn_v.weight)" = Q4_K &&
	test "$(ttype q.gguf output.weight)" = Q4_K
'

test_expect_success 'rows that fit no block: Q6_K -> Q8_0 -> F16 fallback' '
	toktok && rand --dim 64 --hidden 80 --heads 4 --kv-heads 2 --layers 2 &&
	quantize -q -t q6_k r.gguf q.gguf &&
	test "$(ttype q.gguf blk.0.attn_q.weight)" = Q8_0 &&
	test "$(ttype q.gguf blk.0.ffn_down.weight)" = F16
'

test_expect_success 'reported errors equal numpy decoding of the written blocks' '
	toktok && rand --layers 2 &&
	for t in q8_0 q4_0 f16 bf16; do
		quantize --pure -t $t r.gguf q.gguf 2>err &&
		grep "^blk.1.ffn_up.weight " err | sed "s/.*rmse/rmse/; s/  max/ max/" >ours &&
		"$PY" "$REF/quantize_check.py" errors r.gguf q.gguf blk.1.ffn_up.weight >theirs &&
		cmp ours theirs || exit 1
	done
'

test_expect_success 'round trips: F32 -> F16 -> F32 -> F16 is stable, threads do not matter' '
	toktok && rand --layers 2 &&
	quantize -q -t f16 r.gguf a.gguf && quantize -q -t f32 a.gguf b.gguf &&
	quantize -q -t f16 b.gguf c.gguf && cmp a.gguf c.gguf &&
	quantize -q --threads 1 -t q4_k_m r.gguf t1.gguf &&
	quantize -q --threads 7 -t q4_k_m r.gguf t7.gguf && cmp t1.gguf t7.gguf
'

test_expect_success 'requantizing works and warns' '
	toktok && rand --layers 2 && quantize -q -t q8_0 r.gguf q8.gguf &&
	quantize -t q4_0 q8.gguf q4.gguf 2>err && grep -q "requantizing from q8_0" err &&
	test "$(ttype q4.gguf blk.0.attn_q.weight)" = Q4_0
'

test_expect_success 'NaN weight refused naming the tensor; no output' '
	toktok && rand --layers 2 --nan w2 &&
	expect_exit 1 quantize -t q4_0 r.gguf nan.gguf 2>err &&
	grep -q "tensor .blk.0.ffn_down.weight.: NaN weight at row 255, column 767" err &&
	! test -e nan.gguf &&
	expect_exit 1 quantize -t f32 r.gguf nan.gguf 2>/dev/null && ! test -e nan.gguf
'

test_expect_success 'the SIMD quantizers write the scalar reference.s bytes (LMPIPE_CPU=scalar)' '
	toktok && rand --layers 2 &&
	for t in q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k_m q4_k_m q5_k_m q6_k; do
		quantize -q --pure -t $t r.gguf simd.gguf &&
		LMPIPE_CPU=scalar quantize -q --pure -t $t r.gguf scalar.gguf &&
		cmp simd.gguf scalar.gguf || exit 1
	done
'

# llama.cpp byte identity: every type and mixture on F32, F16 and BF16
# inputs with rows of 256 (every K quantizer runs), and on rows of 64
# (the fallbacks).
types="Q4_0:2 Q4_1:3 Q8_0:7 Q5_0:8 Q5_1:9 Q2_K:10 Q3_K_S:11 Q3_K_M:12 Q3_K_L:13 Q4_K_S:14
	Q4_K_M:15 Q5_K_S:16 Q5_K_M:17 Q6_K:18 F32:0 F16:1 BF16:32"
same_as_llama() {
	# $1 input, $2 extra option
	for spec in $types; do
		t=${spec%:*} f=${spec#*:}
		quantize -q ${2-} -t $t "$1" ours.gguf &&
		"$PY" "$REF/llama_quantize.py" "$LIBDIR" "$1" ref.gguf $f ${2-} || return 1
		cmp ours.gguf ref.gguf || { echo "differs from llama.cpp: $t ${2-} on $1"; return 1; }
	done
}
if have_llama_lib; then
	test_expect_success 'whole files byte-identical to llama.cpp (F32/F16/BF16 input, rows of 256)' '
		toktok && rand && quantize -q -t f16 r.gguf r16.gguf && quantize -q -t bf16 r.gguf rb.gguf &&
		same_as_llama r.gguf && same_as_llama r16.gguf && same_as_llama rb.gguf &&
		same_as_llama r.gguf --pure
	'
	test_expect_success 'whole files byte-identical to llama.cpp (rows of 64 and 80: fallbacks)' '
		toktok && rand --dim 64 --hidden 80 --heads 4 --kv-heads 2 --layers 3 &&
		same_as_llama r.gguf && same_as_llama r.gguf --pure
	'
else
	test_skip 'byte identity with llama.cpp' "no libllama in $LIBDIR (t0710 installs node-llama-cpp)"
fi

if ! have_shared; then
	test_skip 'stories260K' 'no ../shared'
	test_done
	exit
fi
M=$SHARED/models
test_expect_success 'stories260K imports with llama.cpp converter metadata' '
	quantize --import llama2c --tokenizer "$M/tok512.bin" "$M/stories260K.bin" s.gguf &&
	test "$(kv s.gguf general.architecture)" = "\"llama\"" &&
	test "$(kv s.gguf llama.embedding_length)" = 64 &&
	test "$(kv s.gguf llama.feed_forward_length)" = 172 &&
	test "$(kv s.gguf llama.block_count)" = 5 &&
	test "$(kv s.gguf llama.attention.head_count)" = 8 &&
	test "$(kv s.gguf llama.attention.head_count_kv)" = 4 &&
	test "$(kv s.gguf llama.rope.dimension_count)" = 8 &&
	test "$(kv s.gguf tokenizer.ggml.model)" = "\"llama\"" &&
	"$PY" "$REF/gguf_dump.py" s.gguf >dump &&
	grep -q "^tensor \"blk.4.ffn_down.weight\" F32 \[172, 64\]" dump &&
	grep -q "^tensor \"blk.0.attn_k.weight\" F32 \[64, 32\]" dump &&
	grep -q "^tensor \"output.weight\" F32 \[64, 512\]" dump
'

if have_node_llama; then
	story="Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
	test_expect_success 'llama.cpp generates the known story from the import and its Q8_0' '
		quantize --import llama2c --tokenizer "$M/tok512.bin" "$M/stories260K.bin" s.gguf &&
		LLAMA_MODULES="$MODULES" node "$REF/llama_generate.mjs" s.gguf 40 >f32.txt &&
		case "$(cat f32.txt)" in "$story"*) ;; *) cat f32.txt; exit 1 ;; esac &&
		quantize -q -t q8_0 s.gguf s8.gguf &&
		LLAMA_MODULES="$MODULES" node "$REF/llama_generate.mjs" s8.gguf 40 >q8.txt &&
		case "$(cat q8.txt)" in "Once upon a time"*) ;; *) cat q8.txt; exit 1 ;; esac
	'
else
	test_skip 'llama.cpp greedy output of stories260K' "no node or node-llama-cpp in $MODULES"
fi

if have_llama_lib; then
	test_expect_success 'stories260K: byte-identical to llama.cpp for every type' '
		quantize --import llama2c --tokenizer "$M/tok512.bin" "$M/stories260K.bin" s.gguf &&
		same_as_llama s.gguf
	'
fi

test_done
