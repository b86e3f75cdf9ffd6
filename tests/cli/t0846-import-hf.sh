#!/bin/sh
# quantize --import hf: Hugging Face directories (config.json, safetensors,
# tokenizer.json) to GGUF.
#
# Models: random weights in the real layouts (tests/ref/hf_random.py) with
# the real tokenizers of ../shared/tokenizers: BertModel (all-MiniLM-L6-v2's
# tokenizer and mean pooling config), BertForSequenceClassification,
# LlamaForCausalLM (Llama-3 tokenizer, llama3 rope scaling, own lm_head),
# LlamaForCausalLM "llama2" (a Llama-2 style byte-fallback BPE tokenizer.json
# made from llama.cpp's ggml-vocab-llama-spm.gguf as transformers'
# LlamaConverter makes one),
# Qwen2ForCausalLM (BF16, two shards, tied) and Qwen3ForCausalLM (F16, q/k
# norms, head_dim 32 != hidden/heads, tied).
#
# References, all independent of our GGUF writer:
#  - PyTorch from the SAME safetensors + config.json (hf_random.py embed /
#    logits: transformers' forward passes, rotate-half RoPE on the stored q/k,
#    so a wrong name, transpose or llama q/k permutation shows): embeddings,
#    rerank logits and decoder logits within a relative error of 1e-4
#    (max |ours - ref| / max |ref|).
#  - llama.cpp's ggml-vocab-bert-bge.gguf: the BERT tokenizer keys we write
#    from all-MiniLM-L6-v2's tokenizer.json are the same, value for value;
#    the llama2 import's tokens and types are ggml-vocab-llama-spm.gguf's and
#    it tokenizes llama.cpp's conformance inputs to the expected ids.
#  - llama.cpp itself (node-llama-cpp): the llama import loads and gives the
#    same 48 greedy tokens; the bert import's embeddings, cosine > 0.9999.
#  - tok on tokenizer.json: the same ids as tok on the imported vocabulary.
#  - quantize -t q8_0 in one step = import then quantize, byte for byte.
# Bad input: exit 1, a message naming the file and tensor, nothing written.
. "$(dirname "$0")/lib.sh"

command -v quantize >/dev/null 2>&1 || skip_all "quantize is not built"
have_shared || skip_all "../shared is absent (tokenizers)"
ref_torch_setup

HF=$TEST_ROOT/tests/ref/hf_random.py
REF=$TEST_ROOT/tests/ref
export HF REF

# the models, made once; each test imports what it needs
for m in "bert" "bert-cls" "llama" "llama2" "qwen2 --dtype bf16 --shards 2" "qwen3 --dtype f16"; do
	# shellcheck disable=SC2086
	"$PYREF" "$HF" make $m "$(echo $m | cut -d" " -f1)" || skip_all "hf_random.py make $m failed"
done
# kv KEY FILE: the value column of a key in gguf_dump.py's listing
kv() { "$PYREF" "$REF/gguf_dump.py" "$2" | awk -v k="\"$1\"" '$1 == "kv" && $2 == k { $1 = $2 = ""; print substr($0, 3) }'; }
tensors() { "$PYREF" "$REF/gguf_dump.py" "$1" | awk '$1 == "tensor" { print $2, $3 }' | tr -d '"'; }

test_expect_success 'every model imports (F32)' '
	for m in bert bert-cls llama llama2 qwen2 qwen3; do
		quantize --import hf $m $m.gguf || exit 1
	done
'

test_expect_success 'bert: tokenizer keys equal llama.cpp ggml-vocab-bert-bge.gguf' '
	"$PYREF" "$REF/gguf_dump.py" bert.gguf >ours.dump &&
	"$PYREF" "$REF/gguf_dump.py" "$SHARED/tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf" >bge.dump &&
	"$PYREF" - <<-\EOF
	def kvs(f):
	    out, cur = {}, None
	    for l in open(f):
	        if l.startswith("kv \""):
	            cur = l.split("\"")[1]
	            out[cur] = [l.split(" ", 2)[2]]
	        elif l.startswith("\t") and cur:
	            out[cur].append(l)
	        else:
	            cur = None
	    return out
	a, b = kvs("ours.dump"), kvs("bge.dump")
	bad = [k for k in b if k.startswith("tokenizer.") and a.get(k) != b[k]]
	assert not bad, bad
	assert a["bert.pooling_type"] == ["uint32 1\n"], a["bert.pooling_type"]
	assert a["bert.context_length"] == ["uint32 128\n"]
	assert a["general.architecture"] == ["string \"bert\"\n"]
	EOF
'

test_expect_success 'bert: mean-pooled embeddings within 1e-4 of torch on the HF tensors' '
	printf "%s\n" "{\"id\":\"a\",\"text\":\"Hello world! The quick brown fox, 12345 times.\"}" \
		"{\"id\":\"b\",\"text\":\"Caf\\u00e9 cr\\u00e8me, na\\u00efve r\\u00e9sum\\u00e9 and rain\"}" \
		"{\"id\":\"c\",\"text\":\"a\"}" >texts.ndjson &&
	tok -m bert.gguf <texts.ndjson >bert.tok &&
	"$PYREF" "$HF" embed bert --pooling mean <bert.tok >ref.ndjson &&
	embed -m bert.gguf --no-normalize <texts.ndjson >ours.ndjson &&
	"$PYREF" "$REF/bert_ref.py" compare ours.ndjson ref.ndjson --rel 1e-4
'

test_expect_success 'bert-cls: cls + cls.output, rank pooling; rerank scores within 1e-4 of torch' '
	cp bert-cls.gguf rr.gguf &&
	test "$(kv bert.pooling_type rr.gguf)" = "uint32 4" &&
	tensors rr.gguf | grep -qx "cls.weight F32" && tensors rr.gguf | grep -qx "cls.output.weight F32" &&
	"$PYREF" -c "
import json
qs = [\"how do cells divide\", \"what causes rain\"]
ds = [\"Mitosis is the process by which a cell divides into two.\", \"Rain forms when water vapour condenses.\",
      \"The stock market fell sharply today.\", \"Clouds are made of tiny droplets.\"]
for qi, q in enumerate(qs):
    for di, d in enumerate(ds):
        print(json.dumps({\"qid\": \"q%d\" % qi, \"id\": \"d%d\" % di, \"query\": q, \"text\": d}))
" >hits.ndjson &&
	"$PYREF" -c "
import json, sys
for l in open(\"hits.ndjson\"):
    h = json.loads(l)
    print(json.dumps({\"id\": h[\"qid\"] + \"/\" + h[\"id\"], \"text\": h[sys.argv[1]]}))
" query >q.ndjson &&
	"$PYREF" -c "
import json
for l in open(\"hits.ndjson\"):
    h = json.loads(l)
    print(json.dumps({\"id\": h[\"qid\"] + \"/\" + h[\"id\"], \"text\": h[\"text\"]}))
" >d.ndjson &&
	tok -m rr.gguf --no-special <q.ndjson >q.tok && tok -m rr.gguf --no-special <d.ndjson >d.tok &&
	"$PYREF" -c "
import json
for a, b in zip(open(\"q.tok\"), open(\"d.tok\")):
    a, b = json.loads(a), json.loads(b)
    x, y = [101] + a[\"tokens\"] + [102], b[\"tokens\"] + [102]
    print(json.dumps({\"id\": a[\"id\"], \"tokens\": x + y, \"types\": [0] * len(x) + [1] * len(y)}))
" >pairs.ndjson &&
	"$PYREF" "$HF" embed bert-cls --pooling rank <pairs.ndjson >rr.ref &&
	rerank -m rr.gguf <hits.ndjson >rr.out &&
	"$PYREF" -c "
import json
ref = {json.loads(l)[\"id\"]: json.loads(l)[\"embedding\"][0] for l in open(\"rr.ref\")}
ours = [json.loads(l) for l in open(\"rr.out\")]
big = max(abs(v) for v in ref.values())
err = max(abs(h[\"score\"] - ref[h[\"qid\"] + \"/\" + h[\"id\"]]) for h in ours) / big
print(\"rel err %.3g over %d scores\" % (err, len(ours)))
assert len(ours) == len(ref) == 8 and err <= 1e-4
"
'

for arch in llama llama2 qwen2 qwen3; do
	toks="1 450 4996 17354 1701 29916 432 3262 975 278 17366 11203 29889 13 4 11 99 7 7 7 1000"
	[ $arch = llama ] && toks="128000 $toks 128001 100000"
	test_expect_success "$arch: logits within 1e-4 of torch on the HF tensors" '
		cp '$arch'.gguf m.gguf && toks="'"$toks"'" &&
		"$PYREF" "$HF" logits '$arch' ref.npy $toks &&
		echo "{\"tokens\":[$(echo $toks | tr " " ",")]}" >t.ndjson &&
		rm -rf d && mkdir d &&
		generate -m m.gguf -n 0 --kv-type f32 --dump-logits d <t.ndjson >/dev/null &&
		"$PYREF" "$REF/llama_ref.py" compare d/r0_logits.npy ref.npy --rel 1e-4
	'
done

test_expect_success 'decoders: output.weight only when untied, rope_freqs, q/k norms, biases, keys' '
	cp llama.gguf l.gguf && cp qwen2.gguf q2.gguf && cp qwen3.gguf q3.gguf &&
	tensors l.gguf >l.t && tensors q2.gguf >q2.t && tensors q3.gguf >q3.t &&
	grep -qx "output.weight F32" l.t && ! grep -q "^output.weight" q2.t && ! grep -q "^output.weight" q3.t &&
	grep -qx "rope_freqs.weight F32" l.t && grep -qx "blk.1.attn_q.bias F32" q2.t &&
	grep -qx "blk.1.attn_k_norm.weight F32" q3.t && ! grep -q attn_q.bias q3.t &&
	test "$(kv tokenizer.ggml.pre l.gguf)" = "string \"llama-bpe\"" &&
	test "$(kv tokenizer.ggml.pre q3.gguf)" = "string \"qwen2\"" &&
	test "$(kv tokenizer.ggml.bos_token_id l.gguf)" = "uint32 128000" &&
	test "$(kv tokenizer.ggml.add_bos_token l.gguf)" = "bool true" &&
	test "$(kv tokenizer.ggml.add_bos_token q2.gguf)" = "bool false" &&
	test "$(kv tokenizer.ggml.eos_token_id q2.gguf)" = "uint32 151645" &&
	test "$(kv tokenizer.ggml.token_type q2.gguf | cut -d" " -f2)" = 151936 &&
	test "$(kv qwen3.attention.key_length q3.gguf)" = "uint32 32" &&
	test "$(kv qwen2.rope.freq_base q2.gguf)" = "float32 1000000" &&
	kv tokenizer.chat_template l.gguf | grep -q start_header_id
'

test_expect_success 'tokens: tok on the imported vocabulary = tok on tokenizer.json' '
	printf "%s\n" "{\"id\":\"a\",\"text\":\"Hello world! The quick brown fox, 12345 times.\"}" \
		"{\"id\":\"b\",\"text\":\"Caf\\u00e9 cr\\u00e8me \\u2014 na\\u00efve\\n\\n  spaces   and\\ttabs <|im_start|>\"}" \
		"{\"id\":\"c\",\"text\":\"I have been told he is there 3.14159\"}" >texts.ndjson &&
	for a in bert llama qwen3; do
		tok -m $a.gguf --no-special <texts.ndjson | "$PYREF" -c "import json, sys
for l in sys.stdin: print(json.loads(l)[\"tokens\"])" >g.ids &&
		tok -m $a/tokenizer.json --no-special <texts.ndjson | "$PYREF" -c "import json, sys
for l in sys.stdin: print(json.loads(l)[\"tokens\"])" >j.ids &&
		cmp g.ids j.ids || exit 1
	done
'

test_expect_success 'llama2: vocabulary = ggml-vocab-llama-spm.gguf, conformance ids as expected' '
	V=$SHARED/tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf &&
	"$PYREF" - "$V" <<-\EOF &&
	import json, os, sys
	sys.path.insert(0, os.environ["REF"])
	from gguf_model import GgufModel
	a, b = GgufModel("llama2.gguf"), GgufModel(sys.argv[1])
	for k in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id",
	          "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"):
	    assert list(a.meta[k]) == list(b.meta[k]) if k.endswith("s") or k.endswith("type") else a.meta[k] == b.meta[k], k
	assert a.meta["tokenizer.ggml.add_bos_token"] is True and a.meta["tokenizer.ggml.add_space_prefix"] is True
	cases = open(sys.argv[1] + ".inp", encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")
	n = sum(1 for _ in open(sys.argv[1] + ".out"))
	with open("spm.ndjson", "w") as f:
	    for i, c in enumerate(cases[:n]):
	        f.write(json.dumps({"id": str(i), "text": c}) + "\n")
	EOF
	tok -m llama2.gguf --no-special <spm.ndjson >spm.got &&
	"$PYREF" - "$V.out" <<-\EOF
	import json, sys
	got = [json.loads(l)["tokens"] for l in open("spm.got")]
	want = [[int(x) for x in l.split()] for l in open(sys.argv[1])]
	bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
	print("%d cases, %d differ %s" % (len(want), len(bad), bad[:5]))
	assert len(got) == len(want) and not bad
	EOF
'

test_expect_success '-t bf16 / f16: matrices converted, norms F32, file_type set, values rounded' '
	cp llama.gguf f32.gguf &&
	quantize --import hf -t bf16 llama bf.gguf && quantize --import hf -t F16 qwen3 h.gguf &&
	test "$(kv general.file_type bf.gguf)" = "uint32 32" && test "$(kv general.file_type h.gguf)" = "uint32 1" &&
	tensors bf.gguf | grep -qx "blk.0.attn_q.weight BF16" && tensors bf.gguf | grep -qx "blk.0.attn_norm.weight F32" &&
	tensors h.gguf | grep -qx "token_embd.weight F16" && tensors h.gguf | grep -qx "blk.0.attn_q_norm.weight F32" &&
	"$PYREF" - <<-\EOF
	import sys
	sys.path.insert(0, __import__("os").environ["REF"])
	import numpy as np
	from gguf_model import GgufModel
	a, b = GgufModel("f32.gguf"), GgufModel("bf.gguf")
	for n in ("blk.0.attn_q.weight", "token_embd.weight", "output.weight"):
	    x = np.asarray(a.tensor(n), dtype=np.float32)
	    u = x.view(np.uint32).astype(np.uint64)
	    r = (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
	    assert np.array_equal(np.asarray(b.tensor(n), dtype=np.float32), r), n
	EOF
'

test_expect_success '-t q8_0 in one step = import, then quantize -t q8_0 (byte for byte)' '
	quantize -q -t q8_0 llama.gguf two.gguf &&
	quantize -q --import hf -t q8_0 llama one.gguf &&
	cmp one.gguf two.gguf &&
	test "$(kv general.file_type one.gguf)" = "uint32 7" &&
	test -z "$(ls -A . | grep hfimport)"
'

test_expect_success '-t q8_0 --report: the per-tensor report on stdout' '
	quantize --import hf -t q8_0 --report qwen2 q.gguf >rep.txt &&
	grep -q "^blk.0.attn_q.weight" rep.txt && tail -1 rep.txt | grep -q "^total:"
'

if ref_node_available; then
	LLAMA_MODULES=$REF_NODE_MODULES
	LLAMA_REF_MODULES=$REF_NODE_MODULES
	export LLAMA_MODULES LLAMA_REF_MODULES
	for m in llama llama2; do
		test_expect_success "llama.cpp: the $m import gives the same 48 greedy tokens" '
			node "$REF/llama_generate.mjs" '$m'.gguf 48 --tokens >want &&
			generate -m '$m'.gguf -p "" -n 48 --temp 0 --ids |
				"$PYREF" -c "import json, sys; print(\" \".join(map(str, json.load(sys.stdin)[\"completion_ids\"])))" >got &&
			test -s want && cmp want got
		'
	done
	test_expect_success 'llama.cpp: the bert import embeds alike (cosine > 0.9999)' '
		cp bert.gguf b.gguf &&
		printf "%s\n" "{\"id\":\"a\",\"text\":\"Hello world, this is a test.\"}" \
			"{\"id\":\"b\",\"text\":\"Another sentence about cells and rain.\"}" >docs.ndjson &&
		node "$REF/llama_ref.mjs" embed b.gguf 2 <docs.ndjson >b.llama &&
		embed -m b.gguf --no-normalize <docs.ndjson >b.ours &&
		"$PYREF" "$REF/bert_ref.py" compare b.ours b.llama --cos 0.9999
	'
else
	test_skip 'llama.cpp loads the imports' "$REF_NODE_WHY"
fi

# bad DIR WHAT PATTERN: quantize --import hf DIR out.gguf exits 1 with a
# message matching PATTERN and leaves no file behind.
bad() {
	expect_exit 1 quantize --import hf "$1" out.gguf 2>err || { cat err; return 1; }
	grep -q "$2" err || { cat err; return 1; }
	! ls -A | grep -q -e "^out\.gguf" -e hfimport || { ls -A; return 1; }
}

test_expect_success 'bad input: missing config.json, directory, unknown architecture' '
	mkdir empty && bad empty "empty/config.json: No such file" &&
	bad nowhere "nowhere: No such file" &&
	cp -r bert gpt && sed -i "s/\"BertModel\"/\"GPT2LMHeadModel\"/" gpt/config.json &&
	bad gpt "architecture \"GPT2LMHeadModel\" is not supported" &&
	cp -r bert noarch && sed -i "s/\"architectures\"/\"archs\"/" noarch/config.json &&
	bad noarch "noarch/config.json: no \"architectures\""
'

# edit DIR PYTHON: rewrite DIR/model.safetensors through hf_random's reader/writer
edit() {
	"$PYREF" - "$1" "$2" <<-\EOF
	import os, sys
	sys.path.insert(0, os.environ["REF"])
	import numpy as np
	import hf_random as h
	d = sys.argv[1]
	p = os.path.join(d, "model.safetensors")
	w = h.read_safetensors(p)
	t = [(k, v.astype(np.float32)) for k, v in w.items()]
	exec(sys.argv[2])
	h.write_safetensors(p, t, "f32")
	EOF
}

test_expect_success 'bad input: a missing tensor, a wrong shape, an unknown tensor' '
	cp -r bert miss && edit miss "t = [x for x in t if x[0] != \"encoder.layer.1.attention.self.key.weight\"]" &&
	bad miss "tensor \"encoder.layer.1.attention.self.key.weight\" is missing" &&
	cp -r llama shape && edit shape "t = [(k, v[:, :32] if k == \"model.layers.0.mlp.up_proj.weight\" else v) for k, v in t]" &&
	bad shape "shape/model.safetensors: tensor \"model.layers.0.mlp.up_proj.weight\": shape \[128, 32\], config.json implies \[128, 64\]" &&
	cp -r bert extra && edit extra "t.append((\"encoder.layer.2.output.dense.bias\", np.zeros(64, np.float32)))" &&
	bad extra "tensor \"encoder.layer.2.output.dense.bias\" is not part of a BertModel"
'

test_expect_success 'bad input: truncated or corrupt safetensors, missing shard, bad tokenizer' '
	cp -r bert trunc && head -c 4000000 bert/model.safetensors >trunc/model.safetensors &&
	bad trunc "trunc/model.safetensors: tensor \"[^\"]*\": data_offsets \[[0-9]*, [0-9]*\] run past the end" &&
	cp -r bert hdr && printf "\377\377\377\377\0\0\0\0{}" >hdr/model.safetensors &&
	bad hdr "hdr/model.safetensors: header size 4294967295 is impossible" &&
	cp -r qwen2 shard && rm shard/model-00002-of-00002.safetensors &&
	bad shard "shard/model-00002-of-00002.safetensors: No such file" &&
	cp -r qwen3 tk && echo "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}" >tk/tokenizer.json &&
	bad tk "tk/tokenizer.json: model type \"Unigram\" is not supported"
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 quantize --import hf bert 2>err && grep -q "MODEL_DIR OUT.gguf" err &&
	expect_exit 2 quantize --import hf --tokenizer x bert o.gguf 2>err && grep -q tokenizer err &&
	expect_exit 2 quantize --import hf -t q9_9 bert o.gguf 2>err &&
	expect_exit 2 quantize --import hf --dry-run bert o.gguf 2>err &&
	expect_exit 2 quantize --import hf --pure bert o.gguf 2>err &&
	test ! -e o.gguf
'

test_done
