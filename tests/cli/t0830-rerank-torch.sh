#!/bin/sh
# rerank against the rank head of the independent PyTorch reference
# (tests/ref/bert_ref.py, float64) and against llama.cpp's ranking
# (node-llama-cpp LlamaRankingContext, tests/ref/llama_ref.mjs), on
# MiniLM-shaped random bert cross-encoders (scripts/make-model --classifier 1).
#
# Hits: 3 SciFact claims x 8 abstracts (title + text under 900 characters),
# as search writes them (qid, id, rank, score, query, title, text).  The pair
# is [CLS] query [SEP] title text [SEP] (ids of tok --no-special), segment B
# of type 1 (Hugging Face's pair encoding); the score is the rank head on the
# CLS row: cls + bias -> tanh -> cls.output + bias.
#  - torch: scores within a relative error of 1e-5 (max |ours - ref| over
#    all pairs / max |ref|), hits re-sorted best first per qid, rank
#    renumbered, --sigmoid, -k.
#  - llama.cpp gives every token type 0 and adds no closing SEP on its own
#    (llama_ref.mjs passes the document ids with it), so it is compared on a
#    model with one token type: the same order per qid, except that two hits
#    whose llama.cpp logits are within 2e-3 of each other (its tanh GELU and
#    F16 GELU table move logits by ~1e-3) may swap; --sigmoid scores within
#    2e-3 of its probabilities.
. "$(dirname "$0")/lib.sh"
skip_under_sanitizers "comparison with the reference"

have_shared || skip_all "../shared is absent"
[ -f "$SHARED/data/scifact/corpus.jsonl" ] || skip_all "../shared has no SciFact corpus"
command -v rerank >/dev/null 2>&1 || skip_all "rerank is not built"
command -v tok >/dev/null 2>&1 || skip_all "tok is not built"
ref_torch_setup

MM=$TEST_ROOT/scripts/make-model
REF=$TEST_ROOT/tests/ref/bert_ref.py
LLAMA_REF=$TEST_ROOT/tests/ref/llama_ref.mjs
export MM REF LLAMA_REF

"$PYREF" - "$SHARED/data/scifact" >hits.ndjson <<'EOF' || skip_all "cannot read SciFact"
import json, sys
d = sys.argv[1]
docs = []
for line in open(d + "/corpus.jsonl"):
    r = json.loads(line)
    if 150 < len(r["title"]) + len(r["text"]) < 900:
        docs.append(r)
        if len(docs) == 24:
            break
queries = [json.loads(l) for l in open(d + "/queries.jsonl")][:3]
for qi, q in enumerate(queries):
    for k, r in enumerate(docs[qi * 8:qi * 8 + 8]):
        print(json.dumps({"qid": q["_id"], "id": r["_id"], "rank": k + 1, "score": 10.0 - k,
                          "query": q["text"], "title": r["title"], "text": r["text"]}))
EOF

# pairs.py MODEL HITS QTOK DTOK: reference input records, one per hit:
# [CLS] q [SEP] d [SEP], types 0 then 1 when the model has 2 token types.
cat >pairs.py <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[5])
from gguf_model import GgufModel
m = GgufModel(sys.argv[1])
cls, sep = m.meta["tokenizer.ggml.cls_token_id"], m.meta["tokenizer.ggml.seperator_token_id"]
two = m.meta["tokenizer.ggml.token_type_count"] >= 2
qt = [json.loads(l)["tokens"] for l in open(sys.argv[3])]
dt = [json.loads(l)["tokens"] for l in open(sys.argv[4])]
for h, q, d in zip([json.loads(l) for l in open(sys.argv[2])], qt, dt):
    a, b = [cls] + q + [sep], d + [sep]
    print(json.dumps({"id": h["qid"] + "\t" + h["id"], "tokens": a + b,
                      "types": [0] * len(a) + [1 if two else 0] * len(b)}))
EOF

# check.py OURS REF MODE [ARG]: OURS = rerank output, REF = bert_ref.py run
# output (ids "qid<TAB>id", logit = embedding[0]) or llama_ref.mjs rank output.
cat >check.py <<'EOF'
import json, math, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
mode = sys.argv[3]
ref = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    if "embedding" in r:
        ref[tuple(r["id"].split("\t"))] = r["embedding"][0]
    else:
        ref[(r["qid"], r["id"])] = r["logit"]
sig = lambda x: 1 / (1 + math.exp(-x))
by_q = {}
for h in ours:
    by_q.setdefault(h["qid"], []).append(h)
bad = 0
for qid, hs in by_q.items():
    if [h["rank"] for h in hs] != list(range(1, len(hs) + 1)):
        print("qid %s: ranks %s" % (qid, [h["rank"] for h in hs])); bad += 1
    s = [h["score"] for h in hs]
    if s != sorted(s, reverse=True):
        print("qid %s: not best first: %s" % (qid, s)); bad += 1
    want = sorted((k[1] for k in ref if k[0] == qid), key=lambda i: -ref[(qid, i)])
    got = [h["id"] for h in hs]
    if mode in ("torch", "sigmoid"):
        if got != want:
            print("qid %s: order %s, reference %s" % (qid, got, want)); bad += 1
    elif mode == "top":
        if got != want[:int(sys.argv[4])]:
            print("qid %s: %s, reference top %s" % (qid, got, want)); bad += 1
    elif mode == "llama":
        if len(got) != len(want):
            print("qid %s: %d hits, reference %d" % (qid, len(got), len(want))); bad += 1
        tie = float(sys.argv[4])
        for i in range(len(got)):
            for j in range(i + 1, len(got)):
                a, b = ref[(qid, got[i])], ref[(qid, got[j])]
                if b > a:
                    print("qid %s: %s before %s, llama.cpp logits %.6f < %.6f%s" % (
                        qid, got[i], got[j], a, b, "" if b - a > tie else " (near tie, allowed)"))
                    bad += b - a > tie
if mode == "torch" or mode == "sigmoid":
    f = sig if mode == "sigmoid" else (lambda x: x)
    big = max(abs(f(v)) for v in ref.values())
    err = max(abs(h["score"] - f(ref[(h["qid"], h["id"])])) for h in ours) / big
    print("rel err %.3g over %d scores" % (err, len(ours)))
    if len(ours) != len(ref) or not err <= 1e-5:
        bad += 1
if mode == "llama":
    d = max(abs(h["score"] - sig(ref[(h["qid"], h["id"])])) for h in ours)
    print("max |score - llama.cpp probability| %.3g" % d)
    bad += d > 2e-3
sys.exit(1 if bad else 0)
EOF

# reference MODEL NAME: NAME.ref, the torch logits of every hit.
reference() {
	"$PYREF" -c '
import json, sys
for l in sys.stdin:
    h = json.loads(l)
    print(json.dumps({"id": h["id"], "text": h["query"]}))
' <hits.ndjson >q.ndjson &&
	"$PYREF" -c '
import json, sys
for l in sys.stdin:
    h = json.loads(l)
    print(json.dumps({"id": h["id"], "text": h["title"] + " " + h["text"]}))
' <hits.ndjson >d.ndjson &&
	tok -m "$1" --no-special <q.ndjson >"$2.qtok" &&
	tok -m "$1" --no-special <d.ndjson >"$2.dtok" &&
	"$PYREF" pairs.py "$1" hits.ndjson "$2.qtok" "$2.dtok" "$TEST_ROOT/tests/ref" >"$2.pairs" &&
	"$PYREF" "$REF" run "$1" <"$2.pairs" >"$2.ref"
}

if ! "$MM" --arch bert --shape minilm --classifier 1 --seed 5 -o rr2.gguf 2>rr2.err; then
	test_skip "reranker with 2 token types" "make-model failed: $(tail -1 rr2.err)"
elif ! reference rr2.gguf rr2; then
	test_skip "reranker with 2 token types" "tok or the reference failed"
else
	test_expect_success "scores within 1e-5 of torch's rank head, best first per qid" '
		rerank -m rr2.gguf <hits.ndjson >rr2.out &&
		"$PYREF" check.py rr2.out rr2.ref torch
	'
	test_expect_success "--sigmoid gives 1 / (1 + exp(-logit))" '
		rerank -m rr2.gguf --sigmoid <hits.ndjson >rr2.sig &&
		"$PYREF" check.py rr2.sig rr2.ref sigmoid
	'
	test_expect_success "-k 3 keeps the reference top 3 of each qid" '
		rerank -m rr2.gguf -k 3 <hits.ndjson >rr2.k3 &&
		"$PYREF" check.py rr2.k3 rr2.ref top 3
	'
fi

if ! ref_node_available; then
	test_skip "llama.cpp ranking order" "$REF_NODE_WHY"
elif ! "$MM" --arch bert --shape minilm --classifier 1 --token-types 1 --seed 5 -o rr1.gguf 2>rr1.err; then
	test_skip "llama.cpp ranking order" "make-model failed: $(tail -1 rr1.err)"
else
	LLAMA_REF_MODULES=$REF_NODE_MODULES
	export LLAMA_REF_MODULES
	test_expect_success "the ranking order of llama.cpp (one token type)" '
		node "$LLAMA_REF" rank rr1.gguf 2 <hits.ndjson >rr1.llama &&
		rerank -m rr1.gguf --sigmoid <hits.ndjson >rr1.out &&
		"$PYREF" check.py rr1.out rr1.llama llama 2e-3
	'
	if reference rr1.gguf rr1; then
		test_expect_success "one token type: scores within 1e-5 of torch too" '
			rerank -m rr1.gguf <hits.ndjson >rr1.raw &&
			"$PYREF" check.py rr1.raw rr1.ref torch
		'
	fi
fi

test_done
