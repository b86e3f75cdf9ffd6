#!/bin/sh
# search: end to end with index(1).  Hand-checked dense scores, filters
# (selective ones still give k hits from HNSW, and agree with --exact),
# shards merged exactly as one index, trec output scored by evaluate, BM25
# and hybrid when the index program builds them, and the error paths
# (wrong dimension, other model, unknown filter field, bad syntax, -m).
# Queries embedded with -m: tests/cli/t0860-embed.sh.
. "$(dirname "$0")/lib.sh"

[ -x "$BUILD/bin/search" ] && [ -x "$BUILD/bin/index" ] || skip_all "search or index not built"

# Three 2-d documents; cosine scores against q = (1, 0):
#   a (1,0) -> 1,  c (1,1) -> 1/sqrt(2) = 0.70710677 (float),  b (0,1) -> 0
cat >docs.jsonl <<'EOF2'
{"id":"a","text":"red apple pie","embedding":[1,0],"meta":{"year":2019,"lang":"en","tags":["fruit","red"]}}
{"id":"b","text":"green pear","embedding":[0,1],"meta":{"year":2021,"lang":"de","tags":["fruit"]}}
{"id":"c","text":"red cherry jam","embedding":[1,1],"meta":{"year":2021,"lang":"en","tags":["red"]},"title":"cherry"}
EOF2
cp docs.jsonl "$TRASH/docs3.jsonl"
index -w "$TRASH/fruit.idx" <docs.jsonl || exit 1

test_expect_success 'dense hits, hand-checked scores, text and meta' '
	echo "{\"id\":\"q1\",\"text\":\"fruit\",\"embedding\":[1,0]}" |
		search -i "$TRASH/fruit.idx" -k 2 >out &&
	cat >want <<-\EOF3 &&
	{"qid":"q1","id":"a","rank":1,"score":1,"query":"fruit","text":"red apple pie","meta":{"year":2019,"lang":"en","tags":["fruit","red"]}}
	{"qid":"q1","id":"c","rank":2,"score":0.70710677,"query":"fruit","text":"cherry red cherry jam","meta":{"year":2021,"lang":"en","tags":["red"]}}
	EOF3
	diff -u want out
'

test_expect_success 'default k is 10 (all 3 documents), --no-text' '
	echo "{\"id\":\"q1\",\"embedding\":[0,2]}" | search -i "$TRASH/fruit.idx" --no-text >out &&
	printf "%s\n" "{\"qid\":\"q1\",\"id\":\"b\",\"rank\":1,\"score\":1}" \
		"{\"qid\":\"q1\",\"id\":\"c\",\"rank\":2,\"score\":0.70710677}" \
		"{\"qid\":\"q1\",\"id\":\"a\",\"rank\":3,\"score\":0}" >want &&
	diff -u want out
'

test_expect_success 'filters: equality, range, set, array membership, not' '
	q="{\"id\":\"q1\",\"embedding\":[1,0]}" &&
	echo "$q" | search -i "$TRASH/fruit.idx" -f trec --filter "lang = \"en\"" | cut -d" " -f3 | tr "\n" " " >out &&
	echo "$q" | search -i "$TRASH/fruit.idx" -f trec --filter "year in 2020..2021" | cut -d" " -f3 | tr "\n" " " >>out &&
	echo "$q" | search -i "$TRASH/fruit.idx" -f trec --filter "lang in [\"de\", \"fr\"]" | cut -d" " -f3 | tr "\n" " " >>out &&
	echo "$q" | search -i "$TRASH/fruit.idx" -f trec --filter "tags = \"red\" and not year < 2020" | cut -d" " -f3 | tr "\n" " " >>out &&
	echo "$q" | search -i "$TRASH/fruit.idx" -f trec --filter "meta.year != 2019 or lang = \"fr\"" | cut -d" " -f3 | tr "\n" " " >>out &&
	echo "$q" | search -i "$TRASH/fruit.idx" -f trec --filter "has tags and lang = \"x\"" | cut -d" " -f3 | tr "\n" " " >>out &&
	printf "a c c b b c c b " >want &&
	diff -u want out
'

test_expect_success 'unknown filter field is an error (exit 1)' '
	echo "{\"id\":\"q1\",\"embedding\":[1,0]}" >q.jsonl &&
	expect_exit 1 search -i "$TRASH/fruit.idx" --filter "yaer = 2020" <q.jsonl 2>err &&
	grep "unknown filter field .yaer." err
'

test_expect_success 'filter syntax error names the column (exit 2)' '
	echo "{\"id\":\"q1\",\"embedding\":[1,0]}" >q.jsonl &&
	expect_exit 2 search -i "$TRASH/fruit.idx" --filter "year >= " <q.jsonl 2>err &&
	grep "at column 9" err
'

test_expect_success 'wrong-dimension query: exit 1 naming the query' '
	echo "{\"id\":\"q7\",\"embedding\":[1,0,0]}" >q.jsonl &&
	expect_exit 1 search -i "$TRASH/fruit.idx" <q.jsonl >out 2>err &&
	grep "q7.*3 dimensions, the index 2" err
'

test_expect_success '--skip-bad reports the bad query and answers the others' '
	printf "%s\n" "{\"id\":\"q1\",\"embedding\":[1]}" "{\"id\":\"q2\",\"embedding\":[1,0]}" >q.jsonl &&
	search -i "$TRASH/fruit.idx" --skip-bad -k 1 -f trec <q.jsonl >out 2>err &&
	grep "q1" err && grep "1 bad query record skipped" err &&
	echo "q2 Q0 a 1 1 lmpipe" >want && diff -u want out
'

test_expect_success 'query from another model: exit 1' '
	sed "s/}\$/,\"model\":\"m-one\"}/" docs.jsonl >m.jsonl &&
	index -w m.idx <m.jsonl &&
	echo "{\"id\":\"q1\",\"embedding\":[1,0],\"model\":\"m-one\"}" | search -i m.idx -k 1 -f trec >out &&
	echo "q1 Q0 a 1 1 lmpipe" >want && diff -u want out &&
	echo "{\"id\":\"q1\",\"embedding\":[1,0],\"model\":\"m-two\"}" >q.jsonl &&
	expect_exit 1 search -i m.idx <q.jsonl 2>err &&
	grep "model .m-two." err
'

test_expect_success '-m with a model file that does not exist: exit 1 naming it' '
	expect_exit 1 search -i "$TRASH/fruit.idx" -m model.gguf </dev/null 2>err &&
	grep "model.gguf" err
'

test_expect_success 'missing -i is a usage error' '
	expect_exit 2 search </dev/null
'

# 300 documents on a 4-d lattice with meta {"g": i % 20}: a filter on g
# keeps 15 of them.
awk "BEGIN { for (i = 0; i < 300; i++) printf \"{\\\"id\\\":\\\"d%d\\\",\\\"embedding\\\":[%d,%d,%d,%d],\\\"meta\\\":{\\\"g\\\":%d}}\\n\", i, i % 7 + 1, i % 11 - 5, i % 13 - 6, i % 3, i % 20 }" >"$TRASH/many.jsonl"
awk "BEGIN { for (i = 0; i < 12; i++) printf \"{\\\"id\\\":\\\"q%d\\\",\\\"embedding\\\":[%d,%d,%d,1]}\\n\", i, i % 5 - 2, i % 4 - 1, 3 - i % 6 }" >"$TRASH/manyq.jsonl"

test_expect_success 'HNSW with a selective filter returns k hits, all passing' '
	index -w h.idx --type hnsw <"$TRASH/many.jsonl" &&
	search -i h.idx -k 10 --filter "g = 7" --ef 16 -f trec <"$TRASH/manyq.jsonl" >out &&
	test $(wc -l <out) = 120 &&
	cut -d" " -f3 out | sed "s/^d//" | awk "\$1 % 20 != 7 { bad = 1 } END { exit bad }"
'

test_expect_success 'IVF with a selective filter returns k hits, all passing' '
	index -w i.idx --type ivf <"$TRASH/many.jsonl" &&
	search -i i.idx -k 10 --filter "g = 11" --nprobe 1 -f trec <"$TRASH/manyq.jsonl" >out &&
	test $(wc -l <out) = 120 &&
	cut -d" " -f3 out | sed "s/^d//" | awk "\$1 % 20 != 11 { bad = 1 } END { exit bad }"
'

test_expect_success 'flat --exact with a filter equals brute force by hand (awk)' '
	index -w f.idx <"$TRASH/many.jsonl" &&
	search -i f.idx -k 5 --exact --filter "g in [3, 4]" -f trec <"$TRASH/manyq.jsonl" | cut -d" " -f1,3 >got &&
	awk -v want=5 "
		NR == FNR { if (match(\$0, /\"g\":[0-9]+/)) { g = substr(\$0, RSTART + 4, RLENGTH - 4) + 0 }
			match(\$0, /\\[[^]]*\\]/); v = substr(\$0, RSTART + 1, RLENGTH - 2)
			if (g == 3 || g == 4) { nd++; split(v, x, \",\"); n = 0
				for (j = 1; j <= 4; j++) { d[nd, j] = x[j]; n += x[j] * x[j] }
				for (j = 1; j <= 4; j++) d[nd, j] /= sqrt(n)
				match(\$0, /\"id\":\"[^\"]*\"/); id[nd] = substr(\$0, RSTART + 6, RLENGTH - 7) }
			next }
		{ match(\$0, /\\[[^]]*\\]/); split(substr(\$0, RSTART + 1, RLENGTH - 2), q, \",\")
		  match(\$0, /\"id\":\"[^\"]*\"/); qid = substr(\$0, RSTART + 6, RLENGTH - 7)
		  for (i = 1; i <= nd; i++) { s[i] = 0; for (j = 1; j <= 4; j++) s[i] += q[j] * d[i, j]; used[i] = 0 }
		  for (r = 1; r <= want; r++) { b = 0
			for (i = 1; i <= nd; i++) if (!used[i] && (b == 0 || s[i] > s[b] + 1e-6)) b = i
			used[b] = 1; print qid, id[b] } }
	" "$TRASH/many.jsonl" "$TRASH/manyq.jsonl" >want &&
	diff -u want got
'

test_expect_success 'shards merged equal one big index (exact, ids and scores)' '
	head -n 130 "$TRASH/many.jsonl" >s1.jsonl &&
	tail -n +131 "$TRASH/many.jsonl" >s2.jsonl &&
	index -w s1.idx <s1.jsonl && index -w s2.idx <s2.jsonl &&
	index -w all.idx <"$TRASH/many.jsonl" &&
	search -i all.idx -k 20 --exact --no-text <"$TRASH/manyq.jsonl" >one &&
	search -i s1.idx -i s2.idx -k 20 --exact --no-text <"$TRASH/manyq.jsonl" >two &&
	test $(wc -l <one) = 240 &&
	diff -u one two &&
	search -i all.idx -k 7 --filter "g >= 15" --no-text <"$TRASH/manyq.jsonl" >one &&
	search -i s1.idx -i s2.idx -k 7 --filter "g >= 15" --no-text <"$TRASH/manyq.jsonl" >two &&
	diff -u one two
'

test_expect_success 'shards of different dimensions are refused' '
	expect_exit 1 search -i "$TRASH/fruit.idx" -i all.idx </dev/null 2>err &&
	grep "dimension 4.*dimension 2" err
'

test_expect_success 'trec output scored by evaluate' '
	printf "%s\n" "q1 0 c 1" "q1 0 b 1" >qrels &&
	echo "{\"id\":\"q1\",\"embedding\":[1,0]}" | search -i "$TRASH/fruit.idx" -f trec --tag myrun >run &&
	printf "%s\n" "q1 Q0 a 1 1 myrun" "q1 Q0 c 2 0.70710677 myrun" "q1 Q0 b 3 0 myrun" >want &&
	diff -u want run &&
	evaluate -m map -m recip_rank qrels run >got &&
	printf "map                   \tall\t0.5833\nrecip_rank            \tall\t0.5000\n" >want &&
	diff -u want got
'

test_expect_success 'NDJSON hits scored by evaluate equal the trec run' '
	printf "%s\n" "q1 0 c 1" >qrels &&
	echo "{\"id\":\"q1\",\"embedding\":[1,0]}" | search -i "$TRASH/fruit.idx" >hits.jsonl &&
	evaluate -m recip_rank qrels hits.jsonl >got &&
	printf "recip_rank            \tall\t0.5000\n" >want &&
	diff -u want got
'

test_expect_success 'binary vector stream queries (lmpipe cat -f bin)' '
	printf "%s\n" "{\"id\":\"q1\",\"embedding\":[0,1],\"text\":\"pear?\"}" \
		"{\"id\":\"q2\",\"embedding\":[1,0]}" | lmpipe cat -f bin >q.bin &&
	search -i "$TRASH/fruit.idx" -k 1 --no-text <q.bin >out &&
	printf "%s\n" "{\"qid\":\"q1\",\"id\":\"b\",\"rank\":1,\"score\":1,\"query\":\"pear?\"}" \
		"{\"qid\":\"q2\",\"id\":\"a\",\"rank\":1,\"score\":1}" >want &&
	diff -u want out &&
	printf "%s\n" "{\"id\":\"q1\",\"embedding\":[0,1,0]}" | lmpipe cat -f bin >q3.bin &&
	expect_exit 1 search -i "$TRASH/fruit.idx" <q3.bin 2>err &&
	grep "3 dimensions, the index 2" err
'

if index -w "$TRASH/b.idx" --type bm25 <docs.jsonl 2>/dev/null; then
	test_expect_success 'bm25: query text ranks the documents holding its terms' '
		echo "{\"id\":\"q1\",\"text\":\"cherry\"}" | search -i "$TRASH/b.idx" -f trec | cut -d" " -f3 >out &&
		echo c >want && diff -u want out
	'
	test_expect_success 'bm25 is the default for text-only queries; filters apply' '
		echo "{\"id\":\"q1\",\"text\":\"red\"}" | search -i "$TRASH/b.idx" -f trec --filter "year = 2019" | cut -d" " -f3 >out &&
		echo a >want && diff -u want out
	'
else
	test_skip 'bm25 search' 'index cannot build bm25 yet'
fi

if index -w "$TRASH/y.idx" --type hybrid <docs.jsonl 2>/dev/null; then
	# dense ranks a c b; bm25 for "green" ranks b only.
	# rrf:60: a 1/61, b 1/63 + 1/61, c 1/62  ->  b a c
	test_expect_success 'hybrid rrf fuses dense and bm25 ranks' '
		echo "{\"id\":\"q1\",\"text\":\"green\",\"embedding\":[1,0]}" |
			search -i "$TRASH/y.idx" --mode hybrid -f trec | cut -d" " -f3 | tr "\n" " " >out &&
		printf "b a c " >want && diff -u want out
	'
	# alpha:0.9: dense norm a 1, c 0.7071, b 0; bm25 b 1 (single hit)
	# a 0.9, c 0.6364, b 0.1  ->  a c b
	test_expect_success 'hybrid alpha weights the normalised scores' '
		echo "{\"id\":\"q1\",\"text\":\"green\",\"embedding\":[1,0]}" |
			search -i "$TRASH/y.idx" --mode hybrid --fusion alpha:0.9 -f trec >out &&
		cut -d" " -f3 out | tr "\n" " " >ids && printf "a c b " >want && diff -u want ids &&
		test "$(sed -n 3p out | cut -d" " -f5)" = 0.1
	'
else
	test_skip 'hybrid search' 'index cannot build hybrid yet'
fi

test_expect_success '--mode bm25 on an index without BM25: exit 1' '
	echo "{\"id\":\"q1\",\"text\":\"x\"}" >q.jsonl &&
	expect_exit 1 search -i "$TRASH/fruit.idx" --mode bm25 <q.jsonl 2>err &&
	grep -i bm25 err
'

test_done
