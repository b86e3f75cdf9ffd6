#!/bin/sh
# generate(1): chat templates (--chat, --system, "messages") and --rag.
#
# The prompts a template or --rag must produce are written out by hand
# below (the Jinja semantics of trim_blocks, the passage layout and edges
# order of generate(1)); the ids generate evaluates must equal tok's ids of
# that text, BOS added once and special-token text parsed, as llama.cpp
# tokenizes a rendered chat (common_chat_templates_apply + common_tokenize).
. "$(dirname "$0")/lib.sh"

command -v generate >/dev/null 2>&1 || skip_all "generate is not built"

PY=/usr/bin/python3
MAKE_MODEL=$TEST_ROOT/scripts/make-model
LMPIPE_BIN=${LMPIPE_BIN:-$BUILD/bin}
export LMPIPE_BIN

# jf FIELD: that field of each NDJSON record (arrays space-separated)
jf() { "$PY" -c 'import json, sys
for l in sys.stdin:
    v = json.loads(l)[sys.argv[1]]
    print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$1"; }
# tok_ids FILE MODEL: tok's ids of FILE's text (BOS added, specials parsed)
tok_ids() { "$PY" -c 'import json, sys; print(json.dumps({"text": open(sys.argv[1], encoding="utf-8").read()}))' "$1" |
	tok -m "$2" --parse-special | jf tokens; }
test_cmp() {
	cmp -s "$1" "$2" && return 0
	echo "want: $(cat "$1")"
	echo "got:  $(cat "$2")"
	return 1
}
# put FILE: standard input without its last newline into FILE
put() { "$PY" -c 'import sys; s = sys.stdin.read(); sys.stdout.write(s[:-1])' >"$1"; }

test_expect_success 'usage errors exit 2' '
	expect_exit 2 generate -m x.gguf --rag -p hi 2>err && grep -q -- "--rag" err &&
	expect_exit 2 generate -m x.gguf --rag-budget 10 2>err && grep -q -- "--rag-budget needs --rag" err &&
	expect_exit 2 generate -m x.gguf --rag --rag-budget 0 2>err &&
	generate --help >help && grep -q -- "--chat-template NAME" help && grep -q -- "--system" help
'

if ! have_shared; then
	test_skip 'models' "no ../shared (vocabularies)"
	test_done
	exit
fi

# A template in the transformers convention, rendered with trim_blocks:
# the newline after a block tag goes, the one after an expression stays.
cat >tmpl.jinja <<'EOF'
{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>
{{ m['content'] }}{{ eos_token }}
{% endfor %}{% if add_generation_prompt %}<|assistant|>
{% endif %}
EOF
# its rendering of [system "Be brief.", user "Hello there"], less the
# leading <s> that the vocabulary (llama-spm, add_bos) adds as a token
put chat1.txt <<'EOF'
<|system|>
Be brief.</s>
<|user|>
Hello there</s>
<|assistant|>

EOF
put chat2.txt <<'EOF'
<|user|>
Hello there</s>
<|assistant|>

EOF
# the built-in ChatML template (Qwen's format) of the same user message
put chatml.txt <<'EOF'
<|im_start|>user
Hello there<|im_end|>
<|im_start|>assistant

EOF

test_expect_success 'make-model stores a chat template' '
	"$PY" "$MAKE_MODEL" --arch llama --shape tiny --chat-template-file tmpl.jinja -o chat.gguf &&
	"$PY" "$MAKE_MODEL" --arch llama --shape tiny -o plain.gguf
'

test_expect_success 'messages: the template rendered, tokenized as llama.cpp, one BOS' '
	tok_ids chat1.txt chat.gguf >want &&
	test "$(cut -d" " -f1-2 want)" != "1 1" &&
	echo "{\"id\":\"a\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hello there\"}]}" >m.ndjson &&
	generate -m chat.gguf -n 2 --temp 0 --ids <m.ndjson >out.json &&
	jf prompt_ids <out.json >got && test_cmp want got &&
	test "$(jf id <out.json)" = a && test "$(jf finish_reason <out.json)" = length &&
	"$PY" -c "import json, sys; r = json.load(open(\"out.json\")); \
assert r[\"usage\"] == {\"prompt_tokens\": int(sys.argv[1]), \"completion_tokens\": 2}, r" $(wc -w <want)
'

test_expect_success '--chat and --system: a prompt becomes the user message' '
	tok_ids chat1.txt chat.gguf >want1 && tok_ids chat2.txt chat.gguf >want2 &&
	generate -m chat.gguf -n 1 --temp 0 --ids --system "Be brief." -p "Hello there" -f json | jf prompt_ids >got1 &&
	test_cmp want1 got1 &&
	echo "Hello there" | generate -m chat.gguf -n 1 --temp 0 --ids --chat | jf prompt_ids >got2 &&
	test_cmp want2 got2 &&
	echo "{\"prompt\":\"Hello there\"}" | generate -m chat.gguf -n 1 --temp 0 --ids --chat | jf prompt_ids >got3 &&
	test_cmp want2 got3 &&
	echo "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hello there\"}]}" |
		generate -m chat.gguf -n 1 --temp 0 --ids --system "Ignored." | jf prompt_ids >got4 &&
	test_cmp want1 got4
'

test_expect_success '--chat-template NAME: a built-in template, also for a model without one' '
	"$PY" -c "import json, sys; print(json.dumps({\"text\": open(\"chatml.txt\").read()}))" |
		tok -m plain.gguf | jf tokens >want &&
	generate -m plain.gguf -n 1 --temp 0 --ids --chat-template chatml -p "Hello there" | jf prompt_ids >got &&
	test_cmp want got &&
	expect_exit 1 generate -m chat.gguf --chat-template nonesuch -p hi 2>err && grep -q "chatml" err
'

test_expect_success 'no template: --chat and messages are refused' '
	expect_exit 1 generate -m plain.gguf --chat -p hi 2>err && grep -q "plain.gguf has no chat template" err &&
	echo "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" >m.ndjson &&
	expect_exit 1 generate -m plain.gguf -n 1 <m.ndjson 2>err && grep -q "<stdin>:1: .*no chat template" err
'

test_expect_success 'bad messages: exit 1 naming the line; --skip-bad goes on' '
	printf "%s\n" "{\"id\":\"ok\",\"prompt\":\"x\"}" "{\"id\":\"b1\",\"messages\":{\"role\":\"user\"}}" \
		"{\"id\":\"b2\",\"messages\":[{\"content\":\"x\"}]}" \
		"{\"id\":\"ok2\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" >bad.ndjson &&
	expect_exit 1 generate -m chat.gguf -n 1 <bad.ndjson >out.json 2>err &&
	grep -q "<stdin>:2: messages: expected an array" err && test "$(jf id <out.json)" = ok &&
	sed 2d bad.ndjson | expect_exit 1 generate -m chat.gguf -n 1 >/dev/null 2>err &&
	grep -q "<stdin>:2: messages\[0\]: \"role\" is missing" err &&
	expect_exit 1 generate -m chat.gguf -n 1 --skip-bad <bad.ndjson >out.json 2>err &&
	test "$(jf id <out.json | tr "\n" " ")" = "ok ok2 " && grep -q "2 bad records" err
'

# Hits of two queries; q1 comes in rank order 3 1 2 4.
cat >hits.ndjson <<'EOF'
{"qid":"q1","id":"d3","rank":3,"score":0.5,"query":"Who wrote it?","text":"Third passage."}
{"qid":"q1","id":"d1","rank":1,"score":0.9,"query":"Who wrote it?","title":"One","text":"First passage."}
{"qid":"q1","id":"d2","rank":2,"score":0.7,"query":"Who wrote it?","text":"Second passage."}
{"qid":"q1","id":"d4","rank":4,"score":0.2,"query":"Who wrote it?","text":"Fourth passage."}
{"qid":"q2","id":"e1","query":"Why?","text":"Because."}
EOF
INSTR="Answer the question using the numbered passages below. Cite the passages that support your answer by their numbers in square brackets, such as [1] or [2][3]. If the passages do not contain the answer, say so."
# q1 with every passage, in edges order: d1 d3 d4 d2 (ranks 1 3 4 2)
put rag1.txt <<EOF
$INSTR

[1] One
First passage.

[2] Third passage.

[3] Fourth passage.

[4] Second passage.

Question: Who wrote it?
Answer:
EOF
put rag2.txt <<EOF
$INSTR

[1] Because.

Question: Why?
Answer:
EOF
put ragchat.txt <<EOF
<|system|>
Be brief.</s>
<|user|>
$INSTR

[1] Because.

Question: Why?</s>
<|assistant|>

EOF

test_expect_success '--rag: one answer per qid, passages in edges order, citations' '
	generate -m chat.gguf --rag -n 3 --temp 0 --ids <hits.ndjson >out.json &&
	test "$(wc -l <out.json)" = 2 &&
	test "$(jf qid <out.json | tr "\n" " ")" = "q1 q2 " &&
	test "$(jf query <out.json | tr "\n" "|")" = "Who wrote it?|Why?|" &&
	test "$(jf citations <out.json | tr "\n" "|")" = "d1 d3 d4 d2|e1|" &&
	tok_ids rag1.txt chat.gguf >want1 && sed -n 1p out.json | jf prompt_ids >got1 && test_cmp want1 got1 &&
	tok_ids rag2.txt chat.gguf >want2 && sed -n 2p out.json | jf prompt_ids >got2 && test_cmp want2 got2 &&
	test "$(jf finish_reason <out.json | tr "\n" " ")" = "length length " &&
	"$PY" -c "import json, sys
for l in open(\"out.json\"):
    r = json.loads(l)
    assert isinstance(r[\"text\"], str) and r[\"usage\"][\"completion_tokens\"] == 3, r
    assert set(r[\"timings\"]) == {\"ttft_ms\", \"prefill_tok_s\", \"decode_tok_s\", \"total_ms\"}, r"
'

test_expect_success '--rag with --chat and --system: the prompt is the user message' '
	tail -n 1 hits.ndjson | generate -m chat.gguf --rag --system "Be brief." -n 1 --temp 0 --ids | jf prompt_ids >got &&
	tok_ids ragchat.txt chat.gguf >want && test_cmp want got
'

test_expect_success '--rag: scores order the passages when there are no ranks' '
	printf "%s\n" "{\"qid\":\"s\",\"id\":\"a\",\"score\":0.1,\"query\":\"q\",\"text\":\"A.\"}" \
		"{\"qid\":\"s\",\"id\":\"b\",\"score\":2.5,\"query\":\"q\",\"text\":\"B.\"}" \
		"{\"qid\":\"s\",\"id\":\"c\",\"score\":0.7,\"query\":\"q\",\"text\":\"C.\"}" >s.ndjson &&
	generate -m chat.gguf --rag -n 1 --temp 0 <s.ndjson | jf citations >got &&
	test "$(cat got)" = "b a c"
'

test_expect_success '--rag-budget: the most relevant passages that fit, stopping at the first that does not' '
	printf "%s\n" "{\"text\":\"One\nFirst passage.\"}" "{\"text\":\"Second passage.\"}" \
		"{\"text\":\"Third passage.\"}" | tok -m chat.gguf --no-special --count | jf n_tokens >costs &&
	c1=$(sed -n 1p costs) c2=$(sed -n 2p costs) c3=$(sed -n 3p costs) &&
	head -n 4 hits.ndjson >q1.ndjson &&
	generate -m chat.gguf --rag --rag-budget $((c1 + c2)) -n 1 --temp 0 <q1.ndjson | jf citations >got &&
	test "$(cat got)" = "d1 d2" &&
	generate -m chat.gguf --rag --rag-budget $((c1 + c2 + c3 - 1)) -n 1 --temp 0 <q1.ndjson | jf citations >got &&
	test "$(cat got)" = "d1 d2" &&
	generate -m chat.gguf --rag --rag-budget $((c1 + c2 + c3)) -n 1 --temp 0 <q1.ndjson | jf citations >got &&
	test "$(cat got)" = "d1 d3 d2" &&
	generate -m chat.gguf --rag --rag-budget $c1 -n 1 --temp 0 <q1.ndjson | jf citations >got &&
	test "$(cat got)" = d1 &&
	expect_exit 1 generate -m chat.gguf --rag --rag-budget $((c1 - 1)) -n 1 <q1.ndjson 2>err &&
	grep -q "<stdin>:1: qid q1: no room for a passage" err
'

test_expect_success '--rag: by default the prompt and -n fit in the context' '
	n0=$(tok_ids rag2.txt chat.gguf | wc -w) &&
	ctx=$((n0 + 20)) &&
	head -n 4 hits.ndjson | generate -m chat.gguf --rag -c $ctx -n 8 --temp 0 >out.json &&
	"$PY" -c "import json, sys
r = json.loads(open(\"out.json\").read())
c = r[\"citations\"]
k = len(c)
assert 1 <= k < 4, r
# the k best in edges order: best first, second best last, ...
best = [\"d1\", \"d2\", \"d3\", \"d4\"][:k]
want = [None] * k
for i, d in enumerate(best):
    want[i // 2 if i % 2 == 0 else k - 1 - i // 2] = d
assert c == want, (c, want)
assert r[\"usage\"][\"prompt_tokens\"] + 8 <= $ctx, r" &&
	head -n 4 hits.ndjson | expect_exit 1 generate -m chat.gguf --rag -c $((n0 - 2)) -n 1 2>err &&
	grep -q "qid q1: no room" err
'

test_expect_success '--rag: bad hits name their line; --skip-bad goes on' '
	printf "%s\n" "{\"qid\":\"a\",\"id\":\"1\",\"query\":\"q\",\"text\":\"t\"}" "{\"id\":\"2\",\"query\":\"q\",\"text\":\"t\"}" \
		"{\"qid\":\"b\",\"id\":\"3\",\"text\":\"t\"}" "{\"qid\":\"c\",\"id\":\"4\",\"query\":\"q\",\"text\":\"t\"}" >bad.ndjson &&
	expect_exit 1 generate -m chat.gguf --rag -n 1 <bad.ndjson >out.json 2>err &&
	grep -q "<stdin>:2: the hit has no \"qid\"" err &&
	sed 2d bad.ndjson | expect_exit 1 generate -m chat.gguf --rag -n 1 >/dev/null 2>err &&
	grep -q "<stdin>:2: the hit has no \"query\"" err &&
	expect_exit 1 generate -m chat.gguf --rag -n 1 --skip-bad <bad.ndjson >out.json 2>err &&
	test "$(jf qid <out.json | tr "\n" " ")" = "a c " && grep -q "2 bad records" err
'

test_done
