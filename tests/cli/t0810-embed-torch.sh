#!/bin/sh
# embed against an independent PyTorch forward pass (tests/ref/bert_ref.py,
# float64) on random-weight models of real shapes (scripts/make-model):
# bert and nomic-bert, tiny and MiniLM-L6 shapes.
#
#  - F32: every layer dump (embed --dump-layers: r{i}_inp.npy after the
#    embedding LayerNorm, r{i}_l{NN}.npy per layer) and the final pooled
#    vector within a relative error of 1e-5, where rel err =
#    max|ours - ref| / max|ref| over one whole tensor [T, n_embd] (layer
#    dumps) or one record's vector (embeddings).
#  - F16 / BF16 (same seed, so the F32 weights rounded): against the
#    reference run on those files' weights as their exact values, 1e-5.
#  - Q8_0 (cosine > 0.999), Q4_0 and Q4_K (> 0.99) against the F32
#    reference: the final vectors, and every row of every layer dump.
#  - pooling mean/cls/last, L2 normalisation (default) and --no-normalize,
#    --dims (Matryoshka cut, then normalised), --prefix, and tokens from tok
#    giving the embedding of the text they came from.
# The reference takes token ids: those of `tok -m MODEL` (CLS ... SEP).
. "$(dirname "$0")/lib.sh"
skip_under_sanitizers "comparison with the reference"

have_shared || skip_all "../shared is absent"
command -v embed >/dev/null 2>&1 || skip_all "embed is not built"
command -v tok >/dev/null 2>&1 || skip_all "tok is not built"
ref_torch_setup

MM=$TEST_ROOT/scripts/make-model
REF=$TEST_ROOT/tests/ref/bert_ref.py
export MM REF
mkdir -p models

# Texts: SciFact titles (a few to 40 tokens) and edge cases for the tiny
# shape (context 128); SciFact title + abstract under 1,500 characters (up
# to ~400 tokens) for the MiniLM shape (context 512).
"$PYREF" - "$SHARED/data/scifact/corpus.jsonl" <<'EOF' || skip_all "cannot read SciFact"
import json, sys
short, long = [], []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if len(short) < 14 and 0 < len(r["title"]) < 160:
        short.append({"id": "s%d" % len(short), "text": r["title"]})
    t = (r["title"] + " " + r["text"]).strip()
    if len(long) < 10 and 200 < len(t) < 1500:
        long.append({"id": r["_id"], "text": t})
    if len(short) == 14 and len(long) == 10:
        break
short += [{"id": "one", "text": "a"}, {"id": "punct", "text": "Hello, world! (x=1; y=2)"},
          {"id": "accents", "text": "Caf\u00e9 cr\u00e8me \u2014 na\u00efve r\u00e9sum\u00e9"}]
with open("short.ndjson", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in short)
with open("long.ndjson", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in long)
EOF

# mk ARCH SHAPE TYPE: models/ARCH-SHAPE-TYPE.gguf, seed 1 (same weights for
# every type); quantized types need build/bin/quantize.
mk() {
	f=models/$1-$2-$3.gguf
	[ -f "$f" ] || "$MM" --arch "$1" --shape "$2" --type "$3" --seed 1 -o "$f" 2>"models/$1-$2-$3.err"
}

for arch in bert nomic-bert; do
	for shape in tiny small minilm; do
		m=$arch-$shape
		texts=long.ndjson
		[ "$shape" = tiny ] && texts=short.ndjson
		if ! mk "$arch" "$shape" f32; then
			test_skip "$m: F32" "make-model failed: $(cat "models/$m-f32.err")"
			continue
		fi
		f32=models/$m-f32.gguf
		# Reference on tok's ids, with layer dumps and every pooling.
		if ! { tok -m "$f32" <"$texts" >"$m.tok" &&
			"$PYREF" "$REF" run "$f32" --dump "ref-$m-f32" --all-pooling <"$m.tok" >"ref-$m-f32.ndjson"; }; then
			test_skip "$m" "tok or the reference failed"
			continue
		fi

		test_expect_success "$m F32: every layer and the pooled vector within 1e-5 of torch" "
			mkdir -p ours-$m-f32 &&
			embed -m $f32 --no-normalize --dump-layers ours-$m-f32 <$texts >ours-$m-f32.ndjson &&
			\"\$PYREF\" \"\$REF\" compare-dumps ours-$m-f32 ref-$m-f32 --rel 1e-5 &&
			\"\$PYREF\" \"\$REF\" compare ours-$m-f32.ndjson ref-$m-f32.ndjson --rel 1e-5
		"
		test_expect_success "$m F32: n_tokens are tok's" "
			\"\$PYREF\" -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) and all(x[\"n_tokens\"] == len(y[\"tokens\"]) for x, y in zip(a, b)), \"n_tokens differ\"
' ours-$m-f32.ndjson $m.tok
		"
		test_expect_success "$m: L2-normalised by default" "
			embed -m $f32 <$texts >norm-$m.ndjson &&
			\"\$PYREF\" \"\$REF\" compare norm-$m.ndjson ref-$m-f32.ndjson --normalize --rel 1e-5
		"
		test_expect_success "$m: --dims 32 cuts, then normalises" "
			embed -m $f32 --dims 32 <$texts >dims-$m.ndjson &&
			\"\$PYREF\" \"\$REF\" compare dims-$m.ndjson ref-$m-f32.ndjson --dims 32 --normalize --rel 1e-5
		"
		test_expect_success "$m: tokens from tok give the text's embedding" "
			embed -m $f32 --no-normalize <$m.tok >fromtok-$m.ndjson &&
			\"\$PYREF\" \"\$REF\" compare fromtok-$m.ndjson ours-$m-f32.ndjson --rel 1e-6
		"
		# The small shape is there for the K types (rows of 256).
		[ "$shape" = small ] || for pool in mean cls last; do
			test_expect_success "$m: --pooling $pool" "
				embed -m $f32 --pooling $pool --no-normalize <$texts >ours-$m-$pool.ndjson &&
				\"\$PYREF\" \"\$REF\" compare ours-$m-$pool.ndjson ref-$m-f32.ndjson --ref-field $pool --rel 1e-5
			"
		done
		[ "$shape" = small ] || test_expect_success "$m: --prefix is embedded as the start of the text" "
			head -4 $texts >few-$m.ndjson &&
			\"\$PYREF\" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    r[\"text\"] = \"query: \" + r[\"text\"]
    print(json.dumps(r))
' few-$m.ndjson >prefixed-$m.ndjson &&
			tok -m $f32 <prefixed-$m.ndjson >prefixed-$m.tok &&
			\"\$PYREF\" \"\$REF\" run $f32 <prefixed-$m.tok >ref-prefixed-$m.ndjson &&
			embed -m $f32 --prefix 'query: ' <few-$m.ndjson >ours-prefixed-$m.ndjson &&
			\"\$PYREF\" \"\$REF\" compare ours-prefixed-$m.ndjson ref-prefixed-$m.ndjson --normalize --rel 1e-5
		"

		ftypes="f16 bf16"
		[ "$shape" = small ] && ftypes=
		for t in $ftypes; do
			if ! mk "$arch" "$shape" "$t"; then
				test_skip "$m ${t}" "make-model failed: $(cat "models/$m-$t.err")"
				continue
			fi
			test_expect_success "$m $t: every layer within 1e-5 of torch on the $t weights" "
				\"\$PYREF\" \"\$REF\" run models/$m-$t.gguf --dump ref-$m-$t <$m.tok >ref-$m-$t.ndjson &&
				mkdir -p ours-$m-$t &&
				embed -m models/$m-$t.gguf --no-normalize --dump-layers ours-$m-$t <$texts >ours-$m-$t.ndjson &&
				\"\$PYREF\" \"\$REF\" compare-dumps ours-$m-$t ref-$m-$t --rel 1e-5 &&
				\"\$PYREF\" \"\$REF\" compare ours-$m-$t.ndjson ref-$m-$t.ndjson --rel 1e-5
			"
		done

		# The K types need rows of 256: none in the tiny shape, only
		# ffn_down in the MiniLM one (the rest falls back, as llama.cpp does).
		case $shape in
		tiny) qtypes="q8_0:0.999 q4_0:0.99" ;;
		small) qtypes="q4_k:0.99 q5_k:0.995 q6_k:0.999" ;;
		*) qtypes="q8_0:0.999 q4_0:0.99 q4_k:0.99" ;;
		esac
		for q in $qtypes; do
			t=${q%%:*}
			c=${q#*:}
			if ! mk "$arch" "$shape" "$t"; then
				test_skip "$m $t" "$(tail -1 "models/$m-$t.err")"
				continue
			fi
			test_expect_success "$m $t: cosine > $c with the F32 reference (vectors and every layer row)" "
				mkdir -p ours-$m-$t &&
				embed -m models/$m-$t.gguf --no-normalize --dump-layers ours-$m-$t <$texts >ours-$m-$t.ndjson &&
				\"\$PYREF\" \"\$REF\" compare ours-$m-$t.ndjson ref-$m-f32.ndjson --cos $c &&
				\"\$PYREF\" \"\$REF\" compare-dumps ours-$m-$t ref-$m-f32 --cos $c
			"
		done
	done
done

test_done
