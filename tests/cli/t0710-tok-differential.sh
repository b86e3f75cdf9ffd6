#!/bin/sh
# tok against the reference tokenizers on large real text: every wikitext-2
# test line, every SciFact document (title and text) and generated
# adversarial Unicode, white space and code strings, for every vocabulary
# in ../shared.  References (SPEC.md, tok): tiktoken for .tiktoken files,
# Hugging Face tokenizers logic (@lenml/tokenizers, with its \s and its
# BertNormalizer brought back to the Rust library's definitions: see
# tests/ref/tok_oracle.mjs) for tokenizer.json,
# llama.cpp (node-llama-cpp, vocabulary only) for GGUF.  100% of the ids
# must agree, and decode(encode(x)) == x for the byte-level BPE ones
# (x in the normal form of the tokenizer's normalizer, NFC for Qwen; not
# Falcon, whose vocabulary has no token for U+000B, which llama.cpp
# therefore drops).
#
# The oracles are npm packages installed here on first use into
# build/ref-node (pinned versions); without node, npm or the registry the
# test is skipped with a message.
. "$(dirname "$0")/lib.sh"

have_shared || skip_all "../shared is absent"
command -v tok >/dev/null 2>&1 || skip_all "tok is not built"
ref_node_setup
# Reference ids are kept in build/ref-node/cache, keyed by model, texts,
# oracle script and package versions: only the first run pays for them.
TOK_ORACLE_MODULES=$REF_NODE_MODULES
TOK_ORACLE_CACHE=$REF_NODE/cache
ORACLE=$TEST_ROOT/tests/ref/tok_oracle.mjs
export TOK_ORACLE_MODULES TOK_ORACLE_CACHE ORACLE

node "$ORACLE" corpus "$SHARED" >"$TRASH/corpus.ndjson" || skip_all "cannot build the corpus"
node "$ORACLE" special >"$TRASH/special.ndjson" || skip_all "cannot build the special corpus"
n=$(wc -l <"$TRASH/corpus.ndjson")

# MODEL  byte-level-BPE (decode round trip)  name
while read -r model bytelevel; do
	m=$SHARED/tokenizers/$model
	name=$(basename "$model")
	[ -f "$m" ] || { test_skip "$name" "$m is absent"; continue; }
	test_expect_success "$name: ids equal the reference's on $n texts" "
		tok -m '$m' --no-special -t 2 <corpus.ndjson >'$name.tok' &&
		node \"\$ORACLE\" compare '$m' '$name.tok' <corpus.ndjson
	"
	test_expect_success "$name: --parse-special ids equal the reference's" "
		tok -m '$m' --no-special --parse-special <special.ndjson >'$name.sp' &&
		node \"\$ORACLE\" compare '$m' '$name.sp' --parse-special <special.ndjson
	"
	[ "$bytelevel" = yes ] || continue
	test_expect_success "$name: decode(encode(x)) == x on $n texts" "
		tok -m '$m' --decode -t 2 <'$name.tok' >'$name.dec' &&
		node \"\$ORACLE\" roundtrip '$name.dec' '$m' <corpus.ndjson
	"
done <<EOF
cl100k_base.tiktoken yes
o200k_base.tiktoken yes
llama3-tokenizer.json yes
qwen3-tokenizer.json yes
all-MiniLM-L6-v2/tokenizer.json no
llama.cpp-vocab/ggml-vocab-gpt-2.gguf yes
llama.cpp-vocab/ggml-vocab-llama-spm.gguf no
llama.cpp-vocab/ggml-vocab-phi-3.gguf no
llama.cpp-vocab/ggml-vocab-bert-bge.gguf no
llama.cpp-vocab/ggml-vocab-falcon.gguf no
llama.cpp-vocab/ggml-vocab-starcoder.gguf yes
llama.cpp-vocab/ggml-vocab-mpt.gguf yes
llama.cpp-vocab/ggml-vocab-gpt-neox.gguf yes
llama.cpp-vocab/ggml-vocab-refact.gguf yes
llama.cpp-vocab/ggml-vocab-deepseek-coder.gguf yes
llama.cpp-vocab/ggml-vocab-deepseek-llm.gguf yes
llama.cpp-vocab/ggml-vocab-baichuan.gguf no
EOF

test_done
