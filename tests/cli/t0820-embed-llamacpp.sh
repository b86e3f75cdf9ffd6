#!/bin/sh
# embed against llama.cpp (node-llama-cpp 3.22.1, LlamaEmbeddingContext,
# via tests/ref/llama_ref.mjs) on the same GGUF files: MiniLM-shaped random
# bert and nomic-bert models (scripts/make-model) in F32 and F16, 20 SciFact
# abstracts (title + text, under 1,500 characters so that they fit the 512
# context).  Each side tokenizes the text itself (CLS ... SEP).
#
# Conventions (read from node-llama-cpp and llama.cpp): the vector is
# llama_get_embeddings_seq, pooled by the file's {arch}.pooling_type (mean
# over every token, CLS and SEP included; cls = first token; last = last
# token) and NOT normalised; every token has type 0.  llama.cpp's GELU is the
# tanh approximation (through an F16 table) and its F16 matrix products
# round the activations to F16, so agreement is by cosine: > 0.9999 for
# every record, between our --no-normalize output and llama.cpp's, and the
# same token counts.
. "$(dirname "$0")/lib.sh"
skip_under_sanitizers "comparison with the reference"

have_shared || skip_all "../shared is absent"
[ -f "$SHARED/data/scifact/corpus.jsonl" ] || skip_all "../shared has no SciFact corpus"
command -v embed >/dev/null 2>&1 || skip_all "embed is not built"
ref_torch_setup
ref_node_setup

MM=$TEST_ROOT/scripts/make-model
REF=$TEST_ROOT/tests/ref/bert_ref.py
LLAMA_REF=$TEST_ROOT/tests/ref/llama_ref.mjs
LLAMA_REF_MODULES=$REF_NODE_MODULES
export MM REF LLAMA_REF LLAMA_REF_MODULES

"$PYREF" - "$SHARED/data/scifact/corpus.jsonl" >docs.ndjson <<'EOF' || skip_all "cannot read SciFact"
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    t = (r["title"] + " " + r["text"]).strip()
    if 200 < len(t) < 1500:
        print(json.dumps({"id": r["_id"], "text": t}))
        n += 1
        if n == 20:
            break
EOF

# MODEL-NAME  make-model arguments
while read -r name args; do
	# shellcheck disable=SC2086
	if ! "$MM" $args --seed 3 -o "$name.gguf" 2>"$name.err"; then
		test_skip "$name" "make-model failed: $(tail -1 "$name.err")"
		continue
	fi
	if ! node "$LLAMA_REF" embed "$name.gguf" 2 <docs.ndjson >"$name.llama" 2>"$name.llama.err"; then
		test_skip "$name" "llama.cpp failed: $(tail -1 "$name.llama.err")"
		continue
	fi
	test_expect_success "$name: cosine > 0.9999 with llama.cpp on 20 SciFact abstracts" "
		embed -m $name.gguf --no-normalize <docs.ndjson >$name.ours &&
		\"\$PYREF\" \"\$REF\" compare $name.ours $name.llama --cos 0.9999
	"
	test_expect_success "$name: the same token counts as llama.cpp" "
		\"\$PYREF\" -c '
import json, sys
a = [json.loads(l)[\"n_tokens\"] for l in open(sys.argv[1])]
b = [json.loads(l)[\"n_tokens\"] for l in open(sys.argv[2])]
assert a == b, (a, b)
' $name.ours $name.llama
	"
	test_expect_success "$name: normalised output is llama.cpp's vector scaled to unit length" "
		embed -m $name.gguf <docs.ndjson >$name.norm &&
		\"\$PYREF\" \"\$REF\" compare $name.norm $name.llama --normalize --cos 0.9999 &&
		\"\$PYREF\" -c '
import json, sys, math
for l in open(sys.argv[1]):
    v = json.loads(l)[\"embedding\"]
    assert abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5
' $name.norm
	"
done <<EOF
bert-minilm-f32 --arch bert --shape minilm --type f32
bert-minilm-f16 --arch bert --shape minilm --type f16
nomic-minilm-f32 --arch nomic-bert --shape minilm --type f32
nomic-minilm-f16 --arch nomic-bert --shape minilm --type f16
bert-minilm-cls --arch bert --shape minilm --type f32 --pooling cls
bert-minilm-last --arch bert --shape minilm --type f32 --pooling last
EOF

test_done
