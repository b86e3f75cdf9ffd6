#!/bin/sh
# lmpipe gguf: the listing of every llama.cpp vocabulary file equals the
# independent Python reader's (tests/ref/gguf_dump.py), and damaged files
# exit 1 with a message naming the file.
. "$(dirname "$0")/lib.sh"

VOCAB=$SHARED/tokenizers/llama.cpp-vocab
REF="/usr/bin/python3 $TEST_ROOT/tests/ref/gguf_dump.py"

command -v lmpipe >/dev/null 2>&1 || skip_all "lmpipe not built"
have_shared || skip_all "no shared data"
ls "$VOCAB"/*.gguf >/dev/null 2>&1 || skip_all "no GGUF files in $VOCAB"
[ -x /usr/bin/python3 ] || skip_all "no /usr/bin/python3"

for f in "$VOCAB"/*.gguf; do
	name=$(basename "$f")
	test_expect_success "$name: listing equals the Python reader's" "
		lmpipe gguf '$f' >got &&
		$REF '$f' >want &&
		cmp want got
	"
done

# Helpers for the test bodies (each runs in its own subshell).
cat >"$TRASH/helpers.sh" <<'EOF'
# bad FILE FRAGMENT: lmpipe gguf exits 1, prints nothing on stdout, and its
# message names FILE and contains FRAGMENT.
bad() {
	expect_exit 1 lmpipe gguf "$1" >out 2>err || return 1
	test ! -s out || { echo "unexpected output"; return 1; }
	grep -F "$1" err >/dev/null || { echo "message does not name $1:"; cat err; return 1; }
	grep -F "$2" err >/dev/null || { echo "message lacks '$2':"; cat err; return 1; }
}
# put OFFSET BYTES FILE: overwrite bytes (printf escapes) in place.
put() {
	printf "$2" | dd of="$3" bs=1 seek="$1" conv=notrunc 2>/dev/null
}
# tensor_file TYPE OFFSET NDATA: header (v3, 1 tensor, 0 kvs); tensor info
# "t" with one dimension of 8, TYPE and OFFSET (printf escapes for the low
# byte); zero padding from byte 57 to the data section at 64; NDATA bytes.
tensor_file() {
	printf 'GGUF\003\000\000\000\001\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000'
	printf '\001\000\000\000\000\000\000\000t\001\000\000\000\010\000\000\000\000\000\000\000'
	printf "$1\\000\\000\\000$2\\000\\000\\000\\000\\000\\000\\000"
	head -c 7 /dev/zero
	head -c "$3" /dev/zero
}
EOF

GPT2=$VOCAB/ggml-vocab-gpt-2.gguf
if [ -f "$GPT2" ]; then
	size=$(wc -c <"$GPT2")
	for cut in 0 3; do
		test_expect_success "gpt-2 cut to $cut bytes is not a GGUF file" "
			. ./helpers.sh && head -c $cut '$GPT2' >cut$cut.gguf &&
			bad cut$cut.gguf 'not a GGUF file'
		"
	done
	# Cuts in the version, the counts, before the key/values can fit, in
	# the token array's count check, in a token, and in the last value.
	for cut in 7 20 24 40 200 5000 800000 $((size - 1)); do
		test_expect_success "gpt-2 truncated to $cut bytes is refused" "
			. ./helpers.sh && head -c $cut '$GPT2' >cut$cut.gguf &&
			bad cut$cut.gguf truncated
		"
	done
	test_expect_success 'bad magic' "
		. ./helpers.sh && cp '$GPT2' m.gguf && chmod u+w m.gguf &&
		put 0 'GGML' m.gguf && bad m.gguf 'not a GGUF file'
	"
	test_expect_success 'version 1 is refused clearly' "
		. ./helpers.sh && cp '$GPT2' v.gguf && chmod u+w v.gguf &&
		put 4 '\\001' v.gguf && bad v.gguf 'version 1 is not supported'
	"
	test_expect_success 'absurd key/value count' "
		. ./helpers.sh && cp '$GPT2' n.gguf && chmod u+w n.gguf &&
		put 16 '\\377\\377\\377\\377\\377\\377\\377\\177' n.gguf && bad n.gguf 'key/values'
	"
	test_expect_success 'absurd tensor count' "
		. ./helpers.sh && cp '$GPT2' t.gguf && chmod u+w t.gguf &&
		put 8 '\\000\\000\\000\\000\\000\\000\\001\\000' t.gguf && bad t.gguf 'tensors'
	"
	test_expect_success 'first key length beyond the file' "
		. ./helpers.sh && cp '$GPT2' k.gguf && chmod u+w k.gguf &&
		put 24 '\\377\\377\\377\\377\\377\\377\\377\\377' k.gguf && bad k.gguf 'kv 0: truncated'
	"
	test_expect_success 'unknown value type' "
		. ./helpers.sh && cp '$GPT2' u.gguf && chmod u+w u.gguf &&
		klen=\$(od -An -tu8 -j24 -N8 u.gguf | tr -d ' ') &&
		put \$((32 + klen)) '\\015' u.gguf && bad u.gguf 'unknown value type 13'
	"
	test_expect_success 'string length beyond the file' "
		. ./helpers.sh && cp '$GPT2' s.gguf && chmod u+w s.gguf &&
		klen=\$(od -An -tu8 -j24 -N8 s.gguf | tr -d ' ') &&
		type=\$(od -An -tu4 -j\$((32 + klen)) -N4 s.gguf | tr -d ' ') &&
		test \"\$type\" = 8 &&
		put \$((36 + klen)) '\\000\\000\\000\\000\\000\\001\\000\\000' s.gguf &&
		bad s.gguf 'truncated: string value'
	"
fi

test_expect_success 'hand-made tensor file lists its tensor' "
	. ./helpers.sh &&
	tensor_file '\\000' '\\000' 32 >ok.gguf &&
	lmpipe gguf ok.gguf >got &&
	$REF ok.gguf >want && cmp want got &&
	grep -F 'tensor \"t\" F32 [8] offset 0 size 32' got
"
test_expect_success 'unknown ggml type' "
	. ./helpers.sh &&
	tensor_file '\\143' '\\000' 32 >ty.gguf && bad ty.gguf 'unknown ggml type 99'
"
test_expect_success 'tensor data past the end of the file' "
	. ./helpers.sh &&
	tensor_file '\\000' '\\000' 31 >short.gguf &&
	bad short.gguf 'tensor 0 (t): data extends past end of file (offset 64, size 32, file 95)'
"
test_expect_success 'unaligned tensor offset' "
	. ./helpers.sh &&
	tensor_file '\\000' '\\004' 64 >un.gguf &&
	bad un.gguf 'offset 4 is not a multiple of the alignment 32'
"

test_done
