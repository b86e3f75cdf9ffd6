#!/bin/sh
# embed's behaviour around the model: normalisation and --dims against the
# un-normalised vector (computed here with numpy), -f bin, tokens from tok
# used only when they name the model's tokenizer, --prefix, truncation to
# the context, batching and threads not changing results, bad input and bad
# models, and search -m over an index built from embed's output.  The
# model's numbers themselves are checked against PyTorch in t0810 and
# llama.cpp in t0820.
. "$(dirname "$0")/lib.sh"

command -v embed >/dev/null 2>&1 || skip_all "embed not built"
test -x "$TEST_ROOT/scripts/make-model" && /usr/bin/python3 -c "import numpy" 2>/dev/null ||
	skip_all "needs scripts/make-model and /usr/bin/python3 with numpy"
have_shared || skip_all "../shared is absent (make-model copies its BERT vocabulary)"

M=$TRASH/m.gguf
"$TEST_ROOT/scripts/make-model" --arch bert --shape tiny -o "$M" || skip_all "make-model failed"
export M

# vec.py A B [--dims N] [--normalize]: max |A - f(B)| over records' embeddings
cat >"$TRASH/vec.py" <<'EOF'
import json, sys
import numpy as np
args = sys.argv[1:]
a = [json.loads(l) for l in open(args[0])]
b = [json.loads(l) for l in open(args[1])]
dims = int(args[args.index("--dims") + 1]) if "--dims" in args else None
worst = 0.0
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    u = np.array(x["embedding"], dtype=np.float64)
    v = np.array(y["embedding"], dtype=np.float64)
    if dims:
        v = v[:dims]
    if "--normalize" in args:
        v = v / np.linalg.norm(v)
    assert u.shape == v.shape, (u.shape, v.shape)
    worst = max(worst, float(np.abs(u - v).max()))
print(worst)
sys.exit(0 if worst < float(args[args.index("--tol") + 1]) else 1)
EOF
vec () { /usr/bin/python3 "$TRASH/vec.py" "$@"; }

printf '%s\n' '{"id":"a","text":"The cat sat on the mat.","meta":{"k":1}}' \
	'{"id":"b","title":"Photons","text":"Quantum entanglement, measured twice."}' \
	'plain text line' >"$TRASH/in.jsonl"

test_expect_success 'unit vectors by default, equal to the normalised raw vector' '
	embed -m "$M" "$TRASH/in.jsonl" >out &&
	embed -m "$M" --no-normalize "$TRASH/in.jsonl" >raw &&
	test $(wc -l <out) = 3 &&
	vec out raw --normalize --tol 1e-6 &&
	! vec out raw --tol 1e-3 &&
	grep -q "\"id\":\"a\",\"text\":\"The cat sat on the mat.\",\"meta\":{\"k\":1},\"embedding\":\[" out &&
	grep -q "\"id\":\"3\",\"text\":\"plain text line\"" out
'

test_expect_success '--dims keeps the first N components, normalised' '
	embed -m "$M" --dims 16 "$TRASH/in.jsonl" >d16 &&
	vec d16 raw --dims 16 --normalize --tol 1e-6 &&
	expect_exit 2 embed -m "$M" --dims 65 "$TRASH/in.jsonl" 2>err && grep -q "65" err
'

test_expect_success 'records name the model; -f bin carries the same vectors' '
	grep -q "\"model\":\"lmpipe-random-bert-tiny-seed1\",\"model_hash\":\"[0-9a-f]\{8\}\"" out &&
	embed -m "$M" -f bin "$TRASH/in.jsonl" >out.bin &&
	lmpipe cat out.bin >bin.jsonl &&
	vec bin.jsonl out --tol 1e-7
'

test_expect_success '-f bin --dtype f16 carries the vectors rounded to half precision' '
	embed -m "$M" -f bin --dtype f16 "$TRASH/in.jsonl" >out16.bin &&
	lmpipe cat out16.bin >bin16.jsonl &&
	vec bin16.jsonl out --tol 1e-3 &&
	! vec bin16.jsonl out --tol 1e-7
'

test_expect_success 'tokens naming the model tokenizer are used as they are' '
	tok -m "$M" "$TRASH/in.jsonl" >tok.jsonl &&
	sed "s/\"text\":\"[^\"]*\"/\"text\":\"something else entirely\"/" tok.jsonl >tok2.jsonl &&
	embed -m "$M" tok2.jsonl >fromtok &&
	vec fromtok out --tol 1e-6
'

test_expect_success 'tokens from another tokenizer: the text is used, or exit 1 without text' '
	sed "s/\"tokenizer\":\"[^\"]*\"/\"tokenizer\":\"other\"/" tok.jsonl >other.jsonl &&
	embed -m "$M" other.jsonl >fromtext &&
	vec fromtext out --tol 1e-6 &&
	echo "{\"id\":\"x\",\"tokens\":[101,102],\"tokenizer\":\"other\"}" >notext.jsonl &&
	expect_exit 1 embed -m "$M" notext.jsonl 2>err &&
	grep -q "notext.jsonl:1: .*tokenizer other" err
'

test_expect_success '--prefix embeds PREFIX + text' '
	echo "{\"id\":\"q\",\"text\":\"query: hello there\"}" | embed -m "$M" >p1 &&
	echo "{\"id\":\"q\",\"text\":\"hello there\"}" | embed -m "$M" --prefix "query: " >p2 &&
	vec p1 p2 --tol 1e-7
'

test_expect_success 'batching and threads do not change the vectors' '
	head -40 "$SHARED/data/scifact/corpus.jsonl" >docs.jsonl &&
	embed -m "$M" -t 1 docs.jsonl >one 2>/dev/null &&
	embed -m "$M" -t 3 --batch-tokens 300 docs.jsonl >three 2>/dev/null &&
	test $(wc -l <one) = 40 &&
	vec one three --tol 1e-6
'

test_expect_success 'texts longer than the context are cut, with a warning' '
	embed -m "$M" docs.jsonl >long 2>err &&
	grep -q "records were longer than the model.s context and were cut to 128 tokens" err &&
	grep -c "\"n_tokens\":128," long >n && test $(cat n) -gt 0 &&
	! grep -q "\"n_tokens\":129" long
'

# cos.py A B MIN: every record's embeddings have cosine >= MIN
cat >"$TRASH/cos.py" <<'EOF'
import json, sys
import numpy as np
a = [np.array(json.loads(l)["embedding"]) for l in open(sys.argv[1])]
b = [np.array(json.loads(l)["embedding"]) for l in open(sys.argv[2])]
assert len(a) == len(b)
worst = min(float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)) for x, y in zip(a, b))
print(worst)
sys.exit(0 if worst >= float(sys.argv[3]) else 1)
EOF

test_expect_success 'quantized weights: a 3-token text (dot products in Q8_0) agrees with it in a batch' '
	LMPIPE_BIN=$BUILD/bin "$TEST_ROOT/scripts/make-model" --arch bert --shape tiny --type q8_0 -o q8.gguf &&
	echo "{\"id\":\"s\",\"text\":\"hello\"}" >short.jsonl &&
	embed -m q8.gguf short.jsonl >alone &&
	grep -q "\"n_tokens\":3," alone &&
	{ cat short.jsonl; head -5 docs.jsonl; } | embed -m q8.gguf 2>/dev/null | head -1 >batched &&
	/usr/bin/python3 "$TRASH/cos.py" alone batched 0.999
'

test_expect_success 'bad records: exit 1 naming the line; earlier records written; --skip-bad' '
	printf "%s\n" "{\"id\":\"a\",\"text\":\"fine\"}" "{\"id\": \"b\", text}" \
		"{\"id\":\"c\",\"text\":\"fine too\"}" >bad.jsonl &&
	expect_exit 1 embed -m "$M" bad.jsonl >out 2>err &&
	grep -q "^embed: bad.jsonl:2:" err && test $(wc -l <out) = 1 &&
	expect_exit 1 embed -m "$M" --skip-bad bad.jsonl >out 2>err &&
	test $(wc -l <out) = 2 && grep -q "1 bad record skipped" err &&
	echo "{\"id\":\"n\",\"meta\":{}}" | expect_exit 1 embed -m "$M" 2>err &&
	grep -q "<stdin>:1: the record has no \"text\"" err
'

test_expect_success 'bad models: missing tensors, truncated files, rerankers, unknown pooling' '
	expect_exit 1 embed -m "$SHARED/tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf" \
		</dev/null 2>err &&
	grep -q "token_embd.weight" err &&
	head -c 100000 "$M" >trunc.gguf &&
	expect_exit 1 embed -m trunc.gguf </dev/null 2>err && grep -q "trunc.gguf" err &&
	"$TEST_ROOT/scripts/make-model" --arch bert --shape tiny --classifier 1 -o rr.gguf &&
	expect_exit 2 embed -m rr.gguf </dev/null 2>err && grep -q "reranker" err &&
	expect_exit 2 embed -m "$M" --pooling max </dev/null
'

test_expect_success 'search -m embeds query text with the index model (--prefix too); another model is refused' '
	embed -m "$M" docs.jsonl 2>/dev/null | index -w docs.idx &&
	sed -n 7p docs.jsonl | search -i docs.idx -m "$M" -k 1 --no-text >hit &&
	id=$(sed -n 7p docs.jsonl | sed "s/^{\"_id\": \"\([^\"]*\)\".*/\1/") &&
	grep -q "\"id\":\"$id\",\"rank\":1" hit &&
	sed -n 7p docs.jsonl | sed "s/\"title\": \"/\"title\": \"query: /" |
		search -i docs.idx -m "$M" -k 3 --no-text | grep -o "\"id\":.*\"score\":[^,]*" >with_text &&
	sed -n 7p docs.jsonl | search -i docs.idx -m "$M" -k 3 --no-text --prefix "query: " |
		grep -o "\"id\":.*\"score\":[^,]*" >with_prefix &&
	test $(wc -l <with_prefix) = 3 && cmp with_text with_prefix &&
	sed -n 7p docs.jsonl | search -i docs.idx -m "$M" -k 3 --no-text |
		grep -o "\"id\":.*\"score\":[^,]*" >without &&
	! cmp -s without with_prefix &&
	"$TEST_ROOT/scripts/make-model" --arch bert --shape tiny --seed 2 -o other.gguf &&
	echo "{\"id\":\"q\",\"text\":\"hello\"}" | expect_exit 1 search -i docs.idx -m other.gguf 2>err &&
	grep -q "the index was built with .lmpipe-random-bert-tiny-seed1" err
'

test_done
