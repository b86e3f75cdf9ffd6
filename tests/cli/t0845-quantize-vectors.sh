#!/bin/sh
# quantize --vectors: every type through index and search --exact, recall
# against exact float search, codebooks, --dims, and bad input.
. "$(dirname "$0")/lib.sh"

command -v quantize >/dev/null 2>&1 || skip_all "quantize not built"

# 100 clusters of 10 points in 64 dimensions: centres are random unit
# vectors, points add gaussian noise of 0.03 per value (length ~0.24), and
# the queries are the centres.  A point's cosine to its own centre is about
# 1/sqrt(1 + 0.24^2) = 0.97; to another centre that of two random 64-d
# unit vectors, sd 1/8, so below 0.6 even for the closest of the 4950
# pairs.  The exact top 10 of a query is its own cluster with a margin of
# more than 0.35 in cosine: f16 (relative error 2^-11), i8 and i8-dim
# (half a step of 1/127 of the largest value, or of 1/255 of a dimension's
# range: < 0.01 per value, < 0.08 on a cosine even if all 64 add up) cannot
# cross it, so their recall@10 must be 1.  pq (m 16: 4 values per code,
# 256 centroids per sub-space for 100 tight clusters) and bit (the query
# against sign vectors: a member scores ~sqrt(2/pi) = 0.8, a stranger
# ~0.8 times its centre's cosine, plus noise of sd 1/8) keep the clusters
# apart only on average: they must reach 0.95.
awk 'function gauss() { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()) }
BEGIN {
	srand(7); d = 64
	for (c = 0; c < 100; c++) {
		n2 = 0
		for (j = 0; j < d; j++) { g[j] = gauss(); n2 += g[j] * g[j] }
		s = "["
		for (j = 0; j < d; j++) { g[j] /= sqrt(n2); s = s (j ? "," : "") sprintf("%.7g", g[j]) }
		printf "{\"id\":\"q%d\",\"embedding\":%s]}\n", c, s > "queries.jsonl"
		for (p = 0; p < 10; p++) {
			s = "["
			for (j = 0; j < d; j++) s = s (j ? "," : "") sprintf("%.7g", g[j] + 0.03 * gauss())
			printf "{\"id\":\"c%d-%d\",\"text\":\"point %d of cluster %d\",\"meta\":{\"c\":%d},\"embedding\":%s]}\n", c, p, p, c, c, s
		}
	}
}' >"$TRASH/docs.jsonl" || exit 1
D=$TRASH/docs.jsonl
Q=$TRASH/queries.jsonl

# recall GT RUN: fraction of GT's (query, doc) pairs that RUN has (trec).
recall() {
	awk 'NR == FNR { g[$1 " " $3] = 1; n++; next } ($1 " " $3) in g { h++ } END { printf "%.4f\n", h / n }' "$1" "$2"
}
# at_least X Y: X >= Y
at_least() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x + 0 >= y + 0) }'; }

test_expect_success 'exact float search is the ground truth' '
	index -q -w "$TRASH/f32.idx" "$D" &&
	search -i "$TRASH/f32.idx" --exact -k 10 -f trec "$Q" >"$TRASH/gt.trec" &&
	test $(wc -l <"$TRASH/gt.trec") = 1000
'

# check TYPE MIN [OPTIONS]: quantize, index, search, recall >= MIN
check() {
	t=$1 min=$2
	shift 2
	test_expect_success "$t $*: index + search --exact, recall@10 >= $min" "
		quantize -q --vectors $t $* -o $t.bin '$D' &&
		index -q -w $t.idx $t.bin &&
		search -i $t.idx --exact -k 10 -f trec '$Q' >run.trec &&
		r=\$(recall '$TRASH/gt.trec' run.trec) && echo \"recall \$r\" &&
		at_least \$r $min &&
		search -i $t.idx --exact -k 1 '$Q' | head -n 1 >hit &&
		grep '\"id\":\"c0-' hit && grep '\"text\":\"point [0-9] of cluster 0\"' hit &&
		grep '\"meta\":{\"c\":0}' hit
	"
}
check f32 1
check f16 1
check i8 1
check i8-dim 1
check bit 0.95
check pq 0.95 --pq-m 16
check pq 0.95 --pq-m 8

test_expect_success 'bytes per vector: the documented sizes' '
	for t in f32 f16 i8 i8-dim bit; do quantize --vectors $t -o $t.bin "$D" 2>>log || exit 1; done &&
	quantize --vectors pq --pq-m 16 -o pq.bin "$D" 2>>log &&
	cat log &&
	grep "f32: 256 -> 256 bytes" log && grep "f16: 256 -> 128 bytes" log &&
	grep "i8: 256 -> 68 bytes" log && grep "i8-dim: 256 -> 64 bytes" log &&
	grep "bit: 256 -> 8 bytes" log && grep "pq (m 16): 256 -> 16 bytes" log
'

test_expect_success 'the i8-dim and pq headers carry their parameters (lmpipe(7))' '
	quantize -q --vectors i8-dim -o a.bin "$D" &&
	od -An -tu1 -j10 -N1 a.bin | tr -d " " >dt && echo 4 >want && cmp want dt &&
	od -An -tu4 -j16 -N4 a.bin | tr -d " " >len && echo 512 >want && cmp want len &&
	quantize -q --vectors pq --pq-m 16 -o p.bin "$D" &&
	od -An -tu1 -j10 -N1 p.bin | tr -d " " >dt && echo 5 >want && cmp want dt &&
	od -An -tu4 -j16 -N12 p.bin | tr -s " " | sed "s/^ //" >blk &&
	echo "65544 16 256" >want && cmp want blk
'

test_expect_success 'i8 of a hand vector decodes to the values (scale 0.01)' '
	echo "{\"id\":\"a\",\"text\":\"x\",\"embedding\":[1.27,-0.5,0.25,0]}" |
		quantize -q --vectors i8 | lmpipe cat >got &&
	echo "{\"id\":\"a\",\"text\":\"x\",\"embedding\":[1.27,-0.5,0.25,0]}" >want &&
	cmp want got
'

test_expect_success 'bit keeps signs: +1 where > 0, else -1' '
	echo "{\"id\":\"a\",\"embedding\":[0.3,-2,0,1e-9,-0.1]}" | quantize -q --vectors bit | lmpipe cat >got &&
	echo "{\"id\":\"a\",\"embedding\":[1,-1,-1,1,-1]}" >want &&
	cmp want got
'

# Sign vectors of dim d: cosine = (d - 2 * hamming) / d.  Query signs
# +++++---: doc a (all +) differs in 3 places, 0.25; doc b (++++----) in 1,
# 0.75.
test_expect_success 'bit index with bit queries ranks by Hamming distance' '
	printf "%s\n" "{\"id\":\"a\",\"embedding\":[1,2,3,4,5,6,7,8]}" \
		"{\"id\":\"b\",\"embedding\":[1,2,3,4,-5,-6,-7,-8]}" |
		quantize -q --vectors bit -o ham.bin &&
	index -q -w ham.idx ham.bin &&
	echo "{\"id\":\"q\",\"embedding\":[0.1,0.2,0.3,0.4,0.5,-1,-2,-3]}" |
		quantize -q --vectors bit | search -i ham.idx --exact -k 2 --no-text >got &&
	cat got &&
	sed "s/.*\"id\":\"\([ab]\)\",\"rank\":\([12]\),\"score\":\([^}]*\)}/\1 \2 \3/" got |
		awk "{ s[\$1 \$2] = \$3 } END { d = s[\"b1\"] - 0.75; e = s[\"a2\"] - 0.25
			exit !(d * d < 1e-12 && e * e < 1e-12) }"
'

test_expect_success '--dims: unit vectors are cut and renormalised, others only cut' '
	printf "%s\n" "{\"id\":\"u\",\"embedding\":[0.6,0,0.8,0]}" "{\"id\":\"v\",\"embedding\":[3,0,4,0]}" |
		quantize -q --vectors f32 --dims 1 | lmpipe cat >got &&
	printf "%s\n" "{\"id\":\"u\",\"embedding\":[1]}" "{\"id\":\"v\",\"embedding\":[3]}" >want &&
	cmp want got
'

test_expect_success '--dims 32 with f32 and bit: recall of the truncated index' '
	quantize -q --vectors f32 --dims 32 -o q32.bin "$Q" &&
	for t in f32 bit; do
		quantize -q --vectors $t --dims 32 -o d.bin "$D" &&
		index -q -w d.idx d.bin &&
		search -i d.idx --exact -k 10 -f trec q32.bin >run.trec &&
		r=$(recall "$TRASH/gt.trec" run.trec) && echo "$t recall $r" &&
		at_least $r 0.95 || exit 1
	done
'

test_expect_success 'a quantized stream is input too (any dtype, decoded)' '
	quantize -q --vectors pq --pq-m 16 -o p.bin "$D" &&
	quantize -q --vectors f16 --dims 16 -o h.bin p.bin &&
	lmpipe cat h.bin | head -n 1 >first &&
	grep "\"id\":\"c0-0\",\"text\":\"point 0 of cluster 0\",\"meta\":{\"c\":0}" first &&
	test $(sed "s/.*\"embedding\":\[//; s/\].*//; s/,/\n/g" first | wc -l) = 16
'

test_expect_success 'a saved codebook encodes the same codes again' '
	quantize -q --vectors pq --pq-m 16 --codebook cb.bin -o one.bin "$D" &&
	quantize -q --vectors pq --use-codebook cb.bin -o two.bin "$D" &&
	cmp one.bin two.bin &&
	quantize -q --vectors i8-dim --codebook cbd.bin -o one.bin "$D" &&
	quantize -q --vectors i8-dim --use-codebook cbd.bin -o two.bin "$D" &&
	cmp one.bin two.bin &&
	lmpipe cat cb.bin >empty && test ! -s empty
'

test_expect_success 'queries encoded with the documents codebook' '
	quantize -q --vectors pq --pq-m 16 --codebook cb.bin -o docs.bin "$D" &&
	quantize -q --vectors pq --use-codebook cb.bin -o q.bin "$Q" &&
	index -q -w docs.idx docs.bin &&
	search -i docs.idx --exact -k 10 -f trec q.bin >run.trec &&
	r=$(recall "$TRASH/gt.trec" run.trec) && echo "recall $r" && at_least $r 0.95
'

test_expect_success 'lmpipe cat -f bin keeps a trained stream as it is' '
	quantize -q --vectors pq --pq-m 16 -o pq.bin "$D" &&
	lmpipe cat -f bin pq.bin >copy.bin && cmp pq.bin copy.bin &&
	quantize -q --vectors i8-dim -o d.bin "$D" &&
	lmpipe cat -f bin d.bin >copy.bin && cmp d.bin copy.bin
'

test_expect_success 'the decoded stream converts to .npy and fvecs' '
	quantize -q --vectors i8-dim -o a.bin "$D" &&
	lmpipe cat -f npy -o a.npy a.bin && lmpipe cat -f fvecs -o a.fvecs a.bin &&
	test $(wc -c <a.fvecs) = $((1000 * 4 * 65))
'

# bad input: exit status, message, and no output file left behind
test_expect_success 'wrong dimension: exit 1 naming the line, no output' '
	{ head -n 2 "$D"; echo "{\"id\":\"x\",\"embedding\":[1,2]}"; } >bad.jsonl &&
	expect_exit 1 quantize --vectors i8 -o out.bin bad.jsonl 2>err &&
	cat err && grep "bad.jsonl:3: embedding has 2 values, the first record had 64" err &&
	test ! -e out.bin && test -z "$(ls | grep out.bin)"
'

test_expect_success 'malformed JSON: exit 1 naming the line, no output (also when training)' '
	{ head -n 1 "$D"; echo "{\"id\":\"x\",\"embedding\":[1,2"; } >bad.jsonl &&
	expect_exit 1 quantize --vectors f16 -o out.bin bad.jsonl 2>err &&
	cat err && grep "bad.jsonl:2:" err && test ! -e out.bin &&
	expect_exit 1 quantize --vectors pq --codebook cbx.bin -o out.bin bad.jsonl 2>err &&
	grep "bad.jsonl:2:" err && test ! -e out.bin && test ! -e cbx.bin
'

test_expect_success 'a record without an embedding is an error' '
	echo "{\"id\":\"x\",\"text\":\"no vector\"}" >bad.jsonl &&
	expect_exit 1 quantize --vectors f16 -o out.bin bad.jsonl 2>err &&
	grep "bad.jsonl:1: record has no \"embedding\"" err && test ! -e out.bin
'

test_expect_success 'unknown type: usage error (exit 2), no output' '
	expect_exit 2 quantize --vectors q4 -o out.bin "$D" 2>err &&
	grep "unknown dtype .q4." err && test ! -e out.bin
'

test_expect_success 'codebook of another dimension: exit 1, no output' '
	quantize -q --vectors pq --pq-m 16 --codebook cb.bin -o /dev/null "$D" &&
	expect_exit 1 quantize --vectors pq --use-codebook cb.bin --dims 32 -o out.bin "$D" 2>err &&
	cat err && grep "codebook cb.bin is for dimension 64, the vectors have 32 (after --dims)" err &&
	test ! -e out.bin
'

test_expect_success 'codebook of another type, or with records: exit 1' '
	quantize -q --vectors pq --pq-m 16 --codebook cb.bin -o p.bin "$D" &&
	expect_exit 1 quantize --vectors i8-dim --use-codebook cb.bin -o out.bin "$D" 2>err &&
	grep "the codebook is for pq, not i8-dim" err && test ! -e out.bin &&
	expect_exit 1 quantize --vectors pq --use-codebook p.bin -o out.bin "$D" 2>err &&
	grep "not a codebook: it holds records" err && test ! -e out.bin
'

test_expect_success 'pq needs 256 training vectors; --dims beyond the dimension' '
	head -n 100 "$D" >small.jsonl &&
	expect_exit 1 quantize --vectors pq -o out.bin small.jsonl 2>err &&
	grep "need at least 256" err && test ! -e out.bin &&
	expect_exit 1 quantize --vectors f16 --dims 65 -o out.bin small.jsonl 2>err &&
	grep "dims 65 is larger than the vectors. dimension 64" err && test ! -e out.bin
'

test_expect_success 'option misuse is a usage error' '
	expect_exit 2 quantize --vectors f16 --pq-m 4 "$D" &&
	expect_exit 2 quantize --vectors i8 --codebook x "$D" &&
	expect_exit 2 quantize --vectors pq --codebook x --use-codebook y "$D" &&
	expect_exit 2 quantize --vectors pq --codebook - "$D" &&
	expect_exit 2 quantize --dims 4 "$D" &&
	expect_exit 2 quantize --vectors f16 -t q8_0 "$D" &&
	expect_exit 2 quantize --vectors f16 a b
'

test_expect_success 'truncated binary input: exit 1 naming the record' '
	quantize -q --vectors i8 -o a.bin "$D" &&
	head -c 300 a.bin >cut.bin &&
	expect_exit 1 quantize --vectors f16 -o out.bin cut.bin 2>err &&
	grep "cut.bin: record 3: truncated" err && test ! -e out.bin
'

test_done
