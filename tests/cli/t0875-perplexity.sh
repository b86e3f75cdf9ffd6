#!/bin/sh
# evaluate ppl: llama-perplexity's method (non-overlapping chunks of CTX
# tokens, BOS in front of each, the second half of each chunk scored)
# recomputed here in Python from the float64 PyTorch logits of
# tests/ref/llama_ref.py, on stories260K over wikitext-2 text; plus usage
# and data errors.
. "$(dirname "$0")/lib.sh"

command -v evaluate >/dev/null 2>&1 || skip_all "evaluate not built"

test_expect_success 'usage errors exit 2, a missing model exits 1' '
	expect_exit 2 evaluate ppl </dev/null 2>err && grep -q "missing -m MODEL" err &&
	expect_exit 2 evaluate ppl -m x.gguf -c 2 </dev/null &&
	echo hello | expect_exit 1 evaluate ppl -m nosuch.gguf 2>err && grep -q "nosuch.gguf" err
'

if ! have_shared; then
	test_skip 'perplexity against the reference' '../shared is absent'
	test_done
fi
quantize --import llama2c --tokenizer "$SHARED/models/tok512.bin" "$SHARED/models/stories260K.bin" \
	"$TRASH/s.gguf" 2>/dev/null || skip_all "cannot import stories260K"
head -c 3000 "$SHARED/data/wikitext-2/wiki.test.raw" >"$TRASH/text.txt"

test_expect_success 'a text shorter than two contexts is refused (exit 1)' '
	echo "Once upon a time" | expect_exit 1 evaluate ppl -m "$TRASH/s.gguf" -c 64 2>err &&
	grep -q "needs at least 128" err
'

if ! /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
	test_skip 'perplexity against the reference' '/usr/bin/python3 lacks torch or numpy'
	test_done
fi

test_expect_success 'equals the method applied to PyTorch float64 logits (0.1%)' '
	evaluate ppl -m "$TRASH/s.gguf" -c 64 --kv-type f32 "$TRASH/text.txt" >ours &&
	tok -m "$TRASH/s.gguf" --raw "$TRASH/text.txt" >ids.jsonl &&
	/usr/bin/python3 - "$TEST_ROOT/tests/ref" "$TRASH/s.gguf" ids.jsonl 64 ours <<-\EOF
	import json, math, sys
	import numpy as np
	sys.path.insert(0, sys.argv[1])
	import llama_ref
	model, ctx = sys.argv[2], int(sys.argv[4])
	ids = json.loads(open(sys.argv[3]).readline())["tokens"]
	bos = ids[0]                       # the vocabulary adds BOS (llama2.c: 1)
	nll = nll2 = 0.0
	count = 0
	for c in range(len(ids) // ctx):
	    chunk = ids[c * ctx:(c + 1) * ctx]
	    inp = [bos] + chunk[1:]
	    logits = llama_ref.run(model, inp)
	    for j in range(ctx // 2, ctx - 1):
	        row = logits[j]
	        m = row.max()
	        lp = row[chunk[j + 1]] - m - math.log(np.exp(row - m).sum())
	        nll -= lp
	        nll2 += lp * lp
	        count += 1
	ppl = math.exp(nll / count)
	err = math.sqrt((nll2 / count - (nll / count) ** 2) / (count - 1)) * ppl
	got = {l.split()[0]: float(l.split()[2]) for l in open(sys.argv[5])}
	print("ours", got["ppl"], "+/-", got["ppl_stderr"], "reference", ppl, "+/-", err)
	assert got["tokens_scored"] == count, (got["tokens_scored"], count)
	assert abs(got["ppl"] - ppl) / ppl < 1e-3
	assert abs(got["ppl_stderr"] - err) / err < 1e-2
	EOF
'

test_done
