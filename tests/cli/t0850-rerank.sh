#!/bin/sh
# rerank: per-query sorting, -k, --fuse rrf, --order edges and --mmr (no model
# needed; expected orders and scores worked out by hand below), bad input, and
# a random-weight cross-encoder from scripts/make-model (finite scores, -k and
# ordering per query, the pair truncation warning, an embedding model refused).
. "$(dirname "$0")/lib.sh"

command -v rerank >/dev/null 2>&1 || skip_all "rerank not built"

printf '%s\n' \
	'{"qid":"q1","id":"a","rank":1,"score":1,"meta":{"y":1}}' \
	'{"qid":"q1","id":"b","rank":2,"score":3}' \
	'{"qid":"q1","id":"c","rank":3,"score":3}' \
	'{"qid":"q1","id":"d","rank":4,"score":2}' \
	'{"qid":"q2","id":"x","rank":1,"score":-1}' \
	'{"qid":"q2","id":"y","rank":2,"score":7}' >"$TRASH/hits.jsonl"

test_expect_success 'help and version' '
	rerank --help >out && grep -q "^Usage: rerank" out &&
	rerank --version >out && grep -q "^rerank (lmpipe) " out
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 rerank --mmr 1.5 hits.jsonl 2>err && grep -q "mmr" err &&
	expect_exit 2 rerank --fuse borda a b 2>err && grep -q "unknown fusion" err &&
	expect_exit 2 rerank --sigmoid hits.jsonl 2>err && grep -q "needs -m" err &&
	expect_exit 2 rerank --fuse alpha:0.5 hits.jsonl 2>err && grep -q "two hit streams" err &&
	expect_exit 2 rerank --order middle hits.jsonl &&
	expect_exit 2 rerank -k 0 hits.jsonl
'

# q1: b 3 and c 3 tie (b came first), d 2, a 1; q2: y 7, x -1
test_expect_success 'sorts each query by score, ties in input order, fields kept' '
	rerank hits.jsonl >out &&
	cat >want <<-\EOF &&
	{"qid":"q1","id":"b","rank":1,"score":3}
	{"qid":"q1","id":"c","rank":2,"score":3}
	{"qid":"q1","id":"d","rank":3,"score":2}
	{"qid":"q1","id":"a","rank":4,"score":1,"meta":{"y":1}}
	{"qid":"q2","id":"y","rank":1,"score":7}
	{"qid":"q2","id":"x","rank":2,"score":-1}
	EOF
	diff -u want out
'

test_expect_success '-k keeps the best k per query, standard input' '
	rerank -k 1 <hits.jsonl >out &&
	printf "%s\n" "{\"qid\":\"q1\",\"id\":\"b\",\"rank\":1,\"score\":3}" \
		"{\"qid\":\"q2\",\"id\":\"y\",\"rank\":1,\"score\":7}" >want &&
	diff -u want out
'

# ranked b c d a -> edges b, d, a, c (1st, 3rd, 4th, 2nd); rank keeps 1..4
test_expect_success '--order edges: best first, second best last' '
	rerank --order edges hits.jsonl >out &&
	sed -n "1,4s/.*\"id\":\"\\([a-z]\\)\",\"rank\":\\([0-9]\\).*/\\1\\2/p" out | tr -d "\n" >got &&
	test "$(cat got)" = "b1d3a4c2"
'

# a .9 [1,0], b .8 [1,.1], c .3 [0,1]; lambda .5: rel a 1, b 5/6, c 0.
# pick a; then b: .5*5/6 - .5*cos(b,a)=.4167-.4975 < c: 0 - 0: c; then b.
test_expect_success '--mmr 0.5 picks the diverse hit second' '
	printf "%s\n" \
		"{\"qid\":\"q\",\"id\":\"a\",\"score\":0.9,\"embedding\":[1,0]}" \
		"{\"qid\":\"q\",\"id\":\"b\",\"score\":0.8,\"embedding\":[1,0.1]}" \
		"{\"qid\":\"q\",\"id\":\"c\",\"score\":0.3,\"embedding\":[0,1]}" >emb.jsonl &&
	rerank --mmr 0.5 emb.jsonl | sed "s/.*\"id\":\"\\(.\\)\".*/\\1/" | tr -d "\n" >got &&
	test "$(cat got)" = "acb" &&
	rerank --mmr 1 emb.jsonl | sed "s/.*\"id\":\"\\(.\\)\".*/\\1/" | tr -d "\n" >got &&
	test "$(cat got)" = "abc"
'

test_expect_success '--mmr without embeddings names the record' '
	expect_exit 1 rerank --mmr 0.5 hits.jsonl 2>err &&
	grep -q "hits.jsonl:1: hit .a. of query .q1. has no \"embedding\"" err
'

# run1 q1: a b c; run2 q2: z, then q1: c d.  rrf:60:
#   q1: c 1/63+1/61, a 1/61, b 1/62, d 1/62 (b seen first); q2: z 1/61
test_expect_success '--fuse rrf merges runs per query' '
	printf "%s\n" "{\"qid\":\"q1\",\"id\":\"a\",\"score\":5}" \
		"{\"qid\":\"q1\",\"id\":\"b\",\"score\":4}" \
		"{\"qid\":\"q1\",\"id\":\"c\",\"score\":3}" >run1 &&
	printf "%s\n" "{\"qid\":\"q2\",\"id\":\"z\",\"score\":0.5}" \
		"{\"qid\":\"q1\",\"id\":\"c\",\"score\":0.9}" \
		"{\"qid\":\"q1\",\"id\":\"d\",\"score\":0.8}" >run2 &&
	rerank --fuse rrf run1 run2 >out &&
	awk -F"[:,}]" "
		BEGIN { split(\"q1 c 1 3 q1 a 2 5 q1 b 3 4 q1 d 4 0.8 q2 z 1 0.5\", w, \" \")
			s[1] = 1/63 + 1/61; s[2] = 1/61; s[3] = 1/62; s[4] = 1/62; s[5] = 1/61 }
		# {qid:Q,id:D,score:S,retrieval_score:R,rank:N}: Q \$2, D \$4, S \$6, R \$8, N \$10
		{ gsub(/\"/, \"\"); i = 4 * (NR - 1)
		  if (\$2 != w[i + 1] || \$4 != w[i + 2] || \$10 != w[i + 3] || \$8 != w[i + 4] ||
		      (\$6 - s[NR]) > 1e-8 || (s[NR] - \$6) > 1e-8) { print \"line \" NR \": \" \$0; bad = 1 } }
		END { exit bad || NR != 5 }" out
'

test_expect_success '--fuse rrf:0 gives 1/rank sums' '
	rerank --fuse rrf:0 -k 1 run1 run2 >out &&
	printf "%s\n" "{\"qid\":\"q1\",\"id\":\"c\",\"score\":1.3333334,\"retrieval_score\":3,\"rank\":1}" \
		"{\"qid\":\"q2\",\"id\":\"z\",\"score\":1,\"retrieval_score\":0.5,\"rank\":1}" >want &&
	diff -u want out
'

test_expect_success 'a query split by another is an error naming the line' '
	cat hits.jsonl run1 >split.jsonl &&
	expect_exit 1 rerank split.jsonl >out 2>err &&
	grep -q "split.jsonl:7: query .q1. again" err
'

test_expect_success 'malformed JSON: exit 1 naming the line' '
	printf "%s\n" "{\"qid\":\"q1\",\"id\":\"a\",\"score\":1}" "{\"qid\":\"q1\",\"id\":" \
		"{\"qid\":\"q1\",\"id\":\"c\",\"score\":2}" >bad.jsonl &&
	expect_exit 1 rerank bad.jsonl 2>err &&
	grep -q "^rerank: bad.jsonl:2:" err
'

test_expect_success '--skip-bad reports, counts and goes on' '
	rerank --skip-bad bad.jsonl >out 2>err &&
	grep -q "bad.jsonl:2:.*(skipped)" err &&
	grep -q "1 bad hit record skipped" err &&
	test $(wc -l <out) = 2 && head -n 1 out | grep -q "\"id\":\"c\",\"score\":2,\"rank\":1"
'

test_expect_success 'plain text and records without qid or score are refused' '
	echo "just text" | expect_exit 1 rerank 2>err && grep -q "<stdin>:1: .*qid" err &&
	echo "{\"qid\":\"q\",\"id\":\"a\"}" | expect_exit 1 rerank 2>err &&
	grep -q "no numeric \"score\"" err
'

# --- with a model ------------------------------------------------------
if ! test -x "$TEST_ROOT/scripts/make-model" || ! /usr/bin/python3 -c "import numpy" 2>/dev/null ||
	! have_shared; then
	test_skip 'model tests' 'needs scripts/make-model, /usr/bin/python3 with numpy and ../shared'
	test_done
	exit
fi

LMPIPE_BIN=$(dirname "$(command -v rerank)")
export LMPIPE_BIN
"$TEST_ROOT/scripts/make-model" --arch bert --classifier 1 --shape tiny -o "$TRASH/rr.gguf" \
	>"$TRASH/make.log" 2>&1 &&
"$TEST_ROOT/scripts/make-model" --arch bert --shape tiny -o "$TRASH/emb.gguf" \
	>>"$TRASH/make.log" 2>&1 || { cat "$TRASH/make.log"; exit 1; }

# q1 has 4 hits, q2 3, each with a query; x has a title, no score
/usr/bin/python3 - >"$TRASH/qhits.jsonl" <<\EOF
import json
docs = {"q1": ("how do I rotate log files", ["logrotate rotates and compresses logs",
                "apples are red", "cron runs jobs on a schedule", "rotate the file by hand"]),
        "q2": ("what colour is the sky", ["the sky is blue", "grass is green", "rain"])}
for q, (query, texts) in docs.items():
    for i, t in enumerate(texts):
        print(json.dumps({"qid": q, "id": "%s-%d" % (q, i), "rank": i + 1,
                          "score": 10.0 - i, "query": query, "text": t, "meta": {"n": i}}))
print(json.dumps({"qid": "q3", "id": "x", "query": "q", "title": "T", "text": "body"}))
EOF

check_scores() {
	/usr/bin/python3 -c '
import json, math, sys
k, lo, hi = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
recs = [json.loads(l) for l in open(sys.argv[4])]
ins = {r["id"]: r for r in map(json.loads, open(sys.argv[5]))}
by = {}
for r in recs:
	by.setdefault(r["qid"], []).append(r)
	src = ins[r["id"]]
	assert math.isfinite(r["score"]) and lo <= r["score"] <= hi, r
	assert r.get("retrieval_score") == src.get("score"), r
	assert {x: v for x, v in r.items() if x not in ("score", "rank", "retrieval_score")} == \
		{x: v for x, v in src.items() if x not in ("score", "rank")}, r
want = {"q1": 4, "q2": 3, "q3": 1}
assert list(by) == list(want), list(by)
for q, rs in by.items():
	assert len(rs) == min(k, want[q]), (q, len(rs))
	assert [r["rank"] for r in rs] == list(range(1, len(rs) + 1)), rs
	assert all(a["score"] >= b["score"] for a, b in zip(rs, rs[1:])), rs
' "$@"
}

test_expect_success 'model scores are finite, sorted per query, fields kept' '
	rerank -m rr.gguf -t 2 qhits.jsonl >out &&
	check_scores 100 -1e30 1e30 out qhits.jsonl
'

test_expect_success 'model: -k and --sigmoid' '
	rerank -m rr.gguf -k 2 --sigmoid qhits.jsonl >out &&
	check_scores 2 0 1 out qhits.jsonl
'

test_expect_success 'model: small batches give the same ranking and scores' '
	rerank -m rr.gguf -v qhits.jsonl >big 2>err &&
	grep -q "8 pairs scored in 1 model calls" err &&
	rerank -m rr.gguf --batch-tokens 16 -v qhits.jsonl >small 2>err &&
	calls=$(sed -n "s/.* pairs scored in \([0-9]*\) model calls/\1/p" err) &&
	test "$calls" -ge 4 &&
	/usr/bin/python3 -c "
import json, sys
a = [json.loads(l) for l in open(\"big\")]
b = [json.loads(l) for l in open(\"small\")]
assert [r[\"id\"] for r in a] == [r[\"id\"] for r in b]
assert all(abs(x[\"score\"] - y[\"score\"]) <= 1e-4 * max(1, abs(x[\"score\"])) for x, y in zip(a, b))
"
'

test_expect_success 'model: a pair longer than the context is cut, with one warning' '
	/usr/bin/python3 -c "
import json
print(json.dumps({\"qid\": \"q\", \"id\": \"long\", \"query\": \"logs\", \"text\": \" \".join([\"word\"] * 300)}))
print(json.dumps({\"qid\": \"q\", \"id\": \"long2\", \"query\": \"logs\", \"text\": \" \".join([\"log\"] * 300)}))
print(json.dumps({\"qid\": \"q\", \"id\": \"short\", \"query\": \"logs\", \"text\": \"word\"}))
" >long.jsonl &&
	rerank -m rr.gguf long.jsonl >out 2>err &&
	test $(wc -l <out) = 3 &&
	test $(grep -c warning err) = 1 &&
	grep -q "2 pairs longer than the model.s 128 tokens" err
'

test_expect_success 'model: a hit without query names its line' '
	printf "%s\n" "{\"qid\":\"q\",\"id\":\"a\",\"query\":\"x\",\"text\":\"y\"}" \
		"{\"qid\":\"q\",\"id\":\"b\",\"text\":\"y\"}" >noq.jsonl &&
	expect_exit 1 rerank -m rr.gguf noq.jsonl 2>err &&
	grep -q "noq.jsonl:2: hit .b. of query .q. has no \"query\"" err
'

test_expect_success 'model: an embedding model is refused' '
	expect_exit 1 rerank -m emb.gguf qhits.jsonl 2>err &&
	grep -q "no classification head" err
'

test_expect_success 'model: --fuse then score' '
	rerank --fuse rrf -m rr.gguf qhits.jsonl qhits.jsonl >out &&
	test $(wc -l <out) = 8 &&
	rerank -m rr.gguf qhits.jsonl | sed "s/,\"retrieval_score\":[^,]*//" >want &&
	sed "s/,\"retrieval_score\":[^,]*//" out >got &&
	diff -u want got
'

test_done
