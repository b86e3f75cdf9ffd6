#!/bin/sh
# eval (evaluate): trec_eval-compatible retrieval measures.  Hand-made cases
# with values worked out below, trec_eval's documented examples, error paths,
# --baseline, and a byte-for-byte comparison with the independent Python
# reference (tests/ref/trec_eval_ref.py) on SciFact qrels with synthetic runs
# full of ties and missing queries.
. "$(dirname "$0")/lib.sh"

EVAL="$BUILD/bin/eval"
DATA="$TEST_ROOT/tests/data/eval"
REF="$TEST_ROOT/tests/ref/trec_eval_ref.py"
[ -x "$EVAL" ] || skip_all "eval not built"

# The hand case (tests/data/eval/qrels-hand.txt, run-hand.txt).
# q1 ranking (score desc, tie d1/d2 broken by greater docno first):
#   1 d2 (rel 0)  2 d1 (rel 1)  3 d5 (not judged)  4 d3 (rel 2)
#   5 d7 (unjudged, -1)  6 d4 (rel 0);   R = 3 (d1 d3 d6), N = 2 (d2 d4)
#   AP = (1/2 + 2/4) / 3 = 1/3;  Rprec = 1/3 (top 3: d1);  recip_rank = 1/2
#   bpref = (1 - 1/2 + 1 - 1/2) / 3 = 1/3;  P_5 = 2/5, P_10 = 2/10
#   ndcg = (1/log2 3 + 2/log2 5) / (2 + 1/log2 3 + 1/log2 4) = 0.476626
#   ndcg_cut_2 = (1/log2 3) / (2 + 1/log2 3) = 0.239812
#   iprec_at_recall_x: needs c = (long)(3x + 0.9) relevant: x <= 0.7 gives
#   c <= 2 (3 * 0.7 + 0.9 is 2.9999999999999996 in doubles), best precision
#   from the c-th relevant on = 1/2; x >= 0.8 needs 3 > 2 retrieved: 0
# q2 ranking: 1 b (rel 0)  2 a (rel 1);  R = 1, N = 1
#   AP = 1/2;  Rprec = 0;  recip_rank = 1/2;  bpref = 1 - 1/1 = 0
#   ndcg = ndcg_cut_2 = 1/log2 3 = 0.630930;  iprec = 1/2 for every x
# q3 is judged but not in the run; q9 is in the run but not judged.
# Means over q1, q2: map 0.416667, gm_map sqrt(1/3 * 1/2) = 0.408248,
# Rprec 1/6, bpref 1/6, ndcg 0.553778, ndcg_cut_2 0.435371.
test_expect_success 'official measures on the hand case' '
	cat >expect <<-\EOF &&
	runid                 	all	hand
	num_q                 	all	2
	num_ret               	all	8
	num_rel               	all	4
	num_rel_ret           	all	3
	map                   	all	0.4167
	gm_map                	all	0.4082
	Rprec                 	all	0.1667
	bpref                 	all	0.1667
	recip_rank            	all	0.5000
	iprec_at_recall_0.00  	all	0.5000
	iprec_at_recall_0.10  	all	0.5000
	iprec_at_recall_0.20  	all	0.5000
	iprec_at_recall_0.30  	all	0.5000
	iprec_at_recall_0.40  	all	0.5000
	iprec_at_recall_0.50  	all	0.5000
	iprec_at_recall_0.60  	all	0.5000
	iprec_at_recall_0.70  	all	0.5000
	iprec_at_recall_0.80  	all	0.2500
	iprec_at_recall_0.90  	all	0.2500
	iprec_at_recall_1.00  	all	0.2500
	P_5                   	all	0.3000
	P_10                  	all	0.1500
	P_15                  	all	0.1000
	P_20                  	all	0.0750
	P_30                  	all	0.0500
	P_100                 	all	0.0150
	P_200                 	all	0.0075
	P_500                 	all	0.0030
	P_1000                	all	0.0015
	EOF
	"$EVAL" "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	diff expect out
'

test_expect_success 'per-query values, ndcg, cutoffs, measure order' '
	cat >expect <<-\EOF &&
	map                   	q1	0.3333
	recip_rank            	q1	0.5000
	P_2                   	q1	0.5000
	ndcg                  	q1	0.4766
	ndcg_cut_2            	q1	0.2398
	success_1             	q1	0.0000
	success_5             	q1	1.0000
	map                   	q2	0.5000
	recip_rank            	q2	0.5000
	P_2                   	q2	0.5000
	ndcg                  	q2	0.6309
	ndcg_cut_2            	q2	0.6309
	success_1             	q2	0.0000
	success_5             	q2	1.0000
	map                   	all	0.4167
	recip_rank            	all	0.5000
	P_2                   	all	0.5000
	ndcg                  	all	0.5538
	ndcg_cut_2            	all	0.4354
	success_1             	all	0.0000
	success_5             	all	1.0000
	EOF
	"$EVAL" -q -m success.5 -m ndcg_cut.2 -m success.1 -m ndcg -m P.2 \
		-m recip_rank -m map "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	diff expect out
'

# -c adds q3 (not retrieved): num_q 3, num_rel 5, num_ret unchanged,
# map (1/3 + 1/2 + 0) / 3, gm_map (1/3 * 1/2 * 0.00001)^(1/3) = 0.011856.
test_expect_success '-c averages over every judged query' '
	cat >expect <<-\EOF &&
	num_q                 	all	3
	num_ret               	all	8
	num_rel               	all	5
	map                   	all	0.2778
	gm_map                	all	0.0119
	EOF
	"$EVAL" -c -m num_q -m num_ret -m num_rel -m map -m gm_map \
		"$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	diff expect out &&
	"$EVAL" -q -c -m num_ret -m map "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	grep -q "^num_ret *	q3	0$" out && grep -q "^map *	q3	0.0000$" out
'

# -l 2: only d3 is relevant for q1 (rank 4): AP 1/4; the other judged docs
# are nonrelevant and two of them rank above d3: bpref 1 - min(2,1)/1 = 0.
# q2 has no relevant document left: 0.
test_expect_success '-l sets the relevance level' '
	cat >expect <<-\EOF &&
	map                   	q1	0.2500
	bpref                 	q1	0.0000
	map                   	q2	0.0000
	bpref                 	q2	0.0000
	map                   	all	0.1250
	bpref                 	all	0.0000
	EOF
	"$EVAL" -q -l 2 -m map -m bpref "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	diff expect out
'

test_expect_success '-n drops the summary, -M cuts the ranking' '
	"$EVAL" -n -q -m map "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	! grep -q all out && test $(wc -l <out) = 2 &&
	"$EVAL" -M 1 -m num_ret -m map "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	grep -q "^num_ret *	all	2$" out && grep -q "^map *	all	0.0000$" out
'

# trec_eval m_P.c documents: "if a method retrieves 15 docs of which 4 are
# relevant, then P20 is 0.2 (4/20)"; recall at 20 with 8 relevant is 4/8.
test_expect_success 'trec_eval documented example: P_20 = 0.2' '
	awk "BEGIN { for (i = 1; i <= 8; i++) print \"7 0 r\" i \" 1\" }" >q &&
	awk "BEGIN { for (i = 1; i <= 15; i++) print \"7 Q0 \" (i % 3 == 0 && i <= 12 ? \"r\" i / 3 : \"n\" i) \" \" i \" \" 100 - i \" x\" }" >r &&
	printf "P_20                  \tall\t0.2000\nrecall_20             \tall\t0.5000\n" >expect &&
	"$EVAL" -m P.20 -m recall.20 q r >out &&
	diff expect out
'

test_expect_success 'BEIR TSV qrels and NDJSON hits give the same numbers' '
	M="-q -m map -m ndcg -m bpref -m P.1,5 -m recall.3 -m Rprec -m recip_rank" &&
	"$EVAL" $M "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >a &&
	"$EVAL" $M "$DATA/qrels-hand.tsv" "$DATA/run-hand.txt" >b &&
	"$EVAL" $M "$DATA/qrels-hand.txt" "$DATA/run-hand.jsonl" >c &&
	tail -n +2 "$DATA/qrels-hand.tsv" >noheader.tsv &&
	"$EVAL" $M noheader.tsv - <"$DATA/run-hand.jsonl" >d &&
	diff a b && diff a c && diff a d &&
	"$EVAL" -m runid "$DATA/qrels-hand.txt" "$DATA/run-hand.jsonl" >out &&
	grep -q "^runid *	all	run-hand.jsonl$" out
'

test_expect_success 'the hand case agrees with the Python reference' '
	command -v python3 >/dev/null || exit 0
	for opts in "" "-q" "-q -c" "-q -l 2" "-q -c -l 0"; do
		A="-m official -m ndcg -m ndcg_cut.1,2,3,10 -m success.1,2 -m recall.2,5"
		"$EVAL" $opts $A "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >a &&
		python3 "$REF" $opts $A "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >b &&
		diff a b || exit 1
	done
'

# ---- errors ----

test_expect_success 'a duplicate document in the run names file and lines' '
	printf "1 Q0 a 1 2 t\n1 Q0 b 2 1 t\n1 Q0 a 3 0.5 t\n" >dup.run &&
	printf "1 0 a 1\n" >q &&
	expect_exit 1 "$EVAL" q dup.run 2>err &&
	grep -q "^eval: dup.run:3: duplicate document for query .1., document .a. (first at line 1)" err
'

test_expect_success 'a duplicate judgement is an error' '
	printf "1 0 a 1\n1 0 a 0\n" >dupq &&
	printf "1 Q0 a 1 2 t\n" >r &&
	expect_exit 1 "$EVAL" dupq r 2>err &&
	grep -q "dupq:2: duplicate judgement" err
'

test_expect_success 'malformed lines are reported with file:line' '
	printf "1 0 a 1\n1 0 b x\n" >bad &&
	printf "1 Q0 a 1 2 t\n" >r &&
	expect_exit 1 "$EVAL" bad r 2>err && grep -q "^eval: bad:2: relevance .x. is not an integer" err &&
	printf "1 0 a 1\n1 0 b\n" >bad &&
	expect_exit 1 "$EVAL" bad r 2>err && grep -q "bad:2: expected 4 fields" err &&
	printf "1 0 a 1\n" >q &&
	printf "1 Q0 a 1 2 t\n1 Q0 b 2\n" >badrun &&
	expect_exit 1 "$EVAL" q badrun 2>err && grep -q "badrun:2: expected .qid Q0 docno rank score tag." err &&
	printf "1 Q0 a 1 high t\n" >badrun &&
	expect_exit 1 "$EVAL" q badrun 2>err && grep -q "badrun:1: score .high. is not a number" err &&
	printf "{\"qid\":\"1\",\"id\":\"a\",\"score\":1}\n{\"qid\":\"1\",\"id\":\"b\",\"score\":}\n" >bad.jsonl &&
	expect_exit 1 "$EVAL" q bad.jsonl 2>err && grep -q "bad.jsonl:2:" err &&
	printf "{\"qid\":\"1\",\"id\":\"a\"}\n" >bad.jsonl &&
	expect_exit 1 "$EVAL" q bad.jsonl 2>err && grep -q "bad.jsonl:1: hit needs a numeric" err
'

test_expect_success 'usage errors exit 2, missing files and empty overlap exit 1' '
	printf "1 0 a 1\n" >q && printf "2 Q0 a 1 2 t\n" >r &&
	expect_exit 2 "$EVAL" -m nosuch q r 2>err && grep -q "unknown measure" err &&
	expect_exit 2 "$EVAL" -m P.0 q r &&
	expect_exit 2 "$EVAL" -m P.5,5 q r &&
	expect_exit 2 "$EVAL" -m map.3 q r &&
	expect_exit 2 "$EVAL" q &&
	expect_exit 2 "$EVAL" - - &&
	expect_exit 2 "$EVAL" --max-drop 0.1 q r &&
	expect_exit 2 "$EVAL" gen q r 2>err && grep -q "not available" err &&
	expect_exit 1 "$EVAL" q nosuchfile 2>err && grep -q "nosuchfile" err &&
	expect_exit 1 "$EVAL" q r 2>err && grep -q "no queries with both" err
'

test_expect_success '--help and --version' '
	"$EVAL" --help >out && grep -q "^Usage: evaluate" out &&
	"$EVAL" --version | grep -q "(lmpipe)"
'

# ---- --baseline ----

test_expect_success '--baseline passes on equal or better runs' '
	"$EVAL" "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >base &&
	"$EVAL" --baseline base "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	diff base out
'

test_expect_success '--baseline exits 1 naming each measure that dropped' '
	"$EVAL" -m map -m P.5 -m recip_rank "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >base &&
	sed "s/^q2 Q0 a 2 1 hand/q2 Q0 a 2 3 hand/" "$DATA/run-hand.txt" >better &&
	"$EVAL" -m map -m P.5 -m recip_rank --baseline base "$DATA/qrels-hand.txt" better &&
	"$EVAL" -m map -m P.5 -m recip_rank "$DATA/qrels-hand.txt" better >base2 &&
	expect_exit 1 "$EVAL" -m map -m P.5 -m recip_rank --baseline base2 \
		"$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out 2>err &&
	grep -q "regression: map dropped from 0.6667 to 0.4167" err &&
	grep -q "regression: recip_rank dropped from 0.7500 to 0.5000" err &&
	! grep -q P_5 err &&
	"$EVAL" -m map -m P.5 -m recip_rank --baseline base2 --max-drop 0.25 \
		"$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out &&
	expect_exit 1 "$EVAL" -m map -m P.5 -m recip_rank --baseline base2 --max-drop 0.2 \
		"$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >out 2>err &&
	grep -q "recip_rank" err
'

test_expect_success '--baseline fails when a baseline measure is not evaluated' '
	"$EVAL" -m map -m ndcg "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" >base &&
	expect_exit 1 "$EVAL" -m map --baseline base "$DATA/qrels-hand.txt" "$DATA/run-hand.txt" \
		>out 2>err &&
	grep -q "ndcg is in base but was not evaluated" err
'

# ---- against the Python reference on SciFact ----

SCIFACT="$SHARED/data/scifact/trec"
if [ -f "$SCIFACT/qrels-graded.txt" ] && command -v python3 >/dev/null 2>&1; then
	# Deterministic synthetic runs: about 15% of the judged queries missing,
	# a few unjudged queries, relevant and random documents, scores drawn
	# from a handful of values so that ties are everywhere, a rank column
	# that contradicts the scores, lines shuffled.
	cat >"$TRASH/gen.py" <<-\EOF
	import random, sys
	qrels, seed, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	rnd = random.Random(seed)
	judged = {}
	for line in open(qrels):
	    f = line.split()
	    judged.setdefault(f[0], []).append(f[2])
	pool = sorted({d for ds in judged.values() for d in ds})
	out = []
	for q in sorted(judged) + ["extra%d" % i for i in range(5)]:
	    if rnd.random() < 0.15:
	        continue
	    n = rnd.choice([1, 3, 10, 40, 120])
	    mine = judged.get(q, [])
	    docs = set(rnd.sample(mine, rnd.randint(0, len(mine))))
	    while len(docs) < n:
	        docs.add(rnd.choice(pool) if rnd.random() < 0.5 else "f%d" % rnd.randrange(10**6))
	    for i, d in enumerate(sorted(docs)):
	        s = rnd.choice([1.0, 0.5, 0.25]) if rnd.random() < 0.4 else round(rnd.random(), 2)
	        if fmt == "trec":
	            out.append("%s Q0 %s %d %s run%d" % (q, d, rnd.randint(1, 1000), s, seed))
	        else:
	            out.append('{"qid":"%s","id":"%s","rank":%d,"score":%s}' % (q, d, i + 1, s))
	rnd.shuffle(out)
	print("\n".join(out))
	EOF
	for seed in 1 2; do
		python3 "$TRASH/gen.py" "$SCIFACT/qrels-graded.txt" $seed trec >"$TRASH/run$seed.txt"
		python3 "$TRASH/gen.py" "$SCIFACT/qrels-graded.txt" $seed ndjson >"$TRASH/run$seed.jsonl"
	done
	ALL="-m official -m recall -m ndcg -m ndcg_cut -m success -m P.1,2,3 -m iprec_at_recall.0.05,0.33,1.5"
	for q in qrels-binary qrels-graded; do
		for opts in "" "-q" "-q -c" "-q -l 2" "-c -l 3" "-q -c -l 0"; do
			test_expect_success "scifact $q '$opts': equals the Python reference" "
				for r in run1.txt run2.txt run1.jsonl; do
					\"\$EVAL\" $opts \$ALL '$SCIFACT/$q.txt' \"\$TRASH/\$r\" >a &&
					python3 \"\$REF\" $opts \$ALL '$SCIFACT/$q.txt' \"\$TRASH/\$r\" >b &&
					diff a b || exit 1
				done
			"
		done
	done
	test_expect_success 'scifact BEIR TSV qrels equal the TREC binary qrels' '
		"$EVAL" -q $ALL "$SCIFACT/../qrels/test.tsv" "$TRASH/run1.txt" >a &&
		"$EVAL" -q $ALL "$SCIFACT/qrels-binary.txt" "$TRASH/run1.txt" >b &&
		diff a b
	'
else
	test_skip 'scifact comparison with the Python reference' 'no $SHARED/data/scifact or python3'
fi

test_done
