#!/bin/sh
# index: building, appending, deleting, compacting and merging index files;
# --info and --verify; bad records and damaged files give exit 1 and never
# touch the file on disk; a reader holding the old file keeps it; a signal
# leaves no partial file.  Expected values come from the input written here
# (counts, dimensions), not from earlier runs.
. "$(dirname "$0")/lib.sh"

INDEX="$BUILD/bin/index"
[ -x "$INDEX" ] || skip_all "index not built"

# vectors N DIM [PREFIX]: N NDJSON records, ids PREFIXi, DIM-dim embeddings
# with distinct values, text and meta.
vectors() {
	awk -v n="$1" -v d="$2" -v p="${3:-d}" 'BEGIN {
		for (i = 0; i < n; i++) {
			printf "{\"id\":\"%s%d\",\"embedding\":[", p, i
			for (j = 0; j < d; j++)
				printf "%s%g", (j ? "," : ""), ((i * 31 + j * 17) % 97) / 97 - 0.5
			printf "],\"text\":\"document %d about %s\",\"meta\":{\"n\":%d}}\n", i,
				(i % 2 ? "cats" : "dogs"), i
		}
	}'
}

no_temps() {
	set -- *.tmp.*
	if [ -e "$1" ]; then
		echo "temporary left behind: $*" >&2
		return 1
	fi
}

json_field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

test_expect_success 'build a flat index and describe it' '
	vectors 50 8 | index -w a.idx &&
	index --info --json a.idx >info &&
	test "$(json_field documents <info)" = 50 &&
	test "$(json_field deleted <info)" = 0 &&
	test "$(json_field dim <info)" = 8 &&
	test "$(json_field metric <info)" = "\"cosine\"" &&
	test "$(json_field type <info)" = "\"flat\"" &&
	index --info a.idx >text &&
	grep "^documents:  50 (0 deleted)" text &&
	grep "^vectors:    8 dimensions, metric cosine" text &&
	index --verify a.idx &&
	no_temps
'

test_expect_success 'every index type builds and verifies' '
	vectors 200 8 >in &&
	for t in flat hnsw ivf bm25 hybrid; do
		index -w $t.idx --type $t <in &&
		index --verify $t.idx &&
		index --info --json $t.idx >info &&
		test "$(json_field type <info)" = "\"$t\"" &&
		test "$(json_field documents <info)" = 200 || return 1
	done
'

if [ -x "$BUILD/bin/lmpipe" ]; then
	test_expect_success 'the binary vector stream gives the same file as NDJSON' '
		vectors 40 6 >in.ndjson &&
		lmpipe cat -f bin <in.ndjson >in.bin &&
		index -w from-ndjson.idx <in.ndjson &&
		index -w from-bin.idx in.bin &&
		cmp from-ndjson.idx from-bin.idx
	'
else
	test_skip 'binary vector stream input' 'lmpipe not built'
fi

test_expect_success '--metric and --model-name are recorded' '
	vectors 5 4 | index -w l2.idx --metric l2 --model-name mini &&
	index --info --json l2.idx >info &&
	test "$(json_field metric <info)" = "\"l2\"" &&
	test "$(json_field model <info)" = "\"mini\""
'

test_expect_success 'the model of the records is recorded, and must not change' '
	printf "%s\n" "{\"id\":\"a\",\"embedding\":[1,0],\"model\":\"m1\",\"model_hash\":\"h1\"}" |
		index -w m.idx &&
	index --info --json m.idx >info &&
	test "$(json_field model <info)" = "\"m1\"" &&
	test "$(json_field model_hash <info)" = "\"h1\"" &&
	cp m.idx m.orig &&
	printf "%s\n" "{\"id\":\"b\",\"embedding\":[0,1],\"model\":\"m2\"}" >other &&
	expect_exit 1 index -a m.idx <other 2>err &&
	grep "m2" err && grep "m1" err &&
	cmp m.idx m.orig
'

test_expect_success 'append, delete, compact' '
	vectors 30 8 | index -w b.idx &&
	vectors 10 8 x | index -a b.idx &&
	test "$(index --info --json b.idx | json_field documents)" = 40 &&
	index -a b.idx --delete d3,x7 &&
	index --info --json b.idx >info &&
	test "$(json_field documents <info)" = 38 &&
	test "$(json_field deleted <info)" = 2 &&
	printf "d4\nd5\n" >ids &&
	index -a b.idx --delete @ids --compact &&
	index --info --json b.idx >info &&
	test "$(json_field documents <info)" = 36 &&
	test "$(json_field deleted <info)" = 0 &&
	index --verify b.idx
'

test_expect_success 'a deleted id can be added again' '
	vectors 3 4 | index -w c.idx &&
	index -a c.idx --delete d1 &&
	vectors 2 4 | sed -n 2p | index -a c.idx &&
	test "$(index --info --json c.idx | json_field documents)" = 3
'

test_expect_success 'hnsw: append extends, delete and compact rebuild' '
	vectors 100 8 | index -w h.idx --type hnsw &&
	vectors 20 8 y | index -a h.idx &&
	index -a h.idx --delete y1,d2 --compact &&
	index --verify h.idx &&
	test "$(index --info --json h.idx | json_field documents)" = 118
'

test_expect_success 'merge shards' '
	vectors 20 8 s | index -w s1.idx &&
	vectors 15 8 t | index -w s2.idx &&
	index -a s2.idx --delete t0 &&
	index --merge all.idx s1.idx s2.idx &&
	test "$(index --info --json all.idx | json_field documents)" = 34 &&
	test "$(index --info --json all.idx | json_field deleted)" = 0 &&
	index --verify all.idx
'

test_expect_success 'merge refuses duplicate ids and leaves OUT alone' '
	vectors 5 8 | index -w u1.idx &&
	vectors 5 8 | index -w u2.idx &&
	echo keep >out.idx &&
	expect_exit 1 index --merge out.idx u1.idx u2.idx 2>err &&
	grep "duplicate" err &&
	test "$(cat out.idx)" = keep
'

test_expect_success 'bad records: exit 1, message names the record, file untouched' '
	vectors 10 8 | index -w e.idx &&
	cp e.idx e.orig &&
	vectors 1 8 | index -a e.idx 2>/dev/null; test $? = 1 &&
	vectors 2 8 | sed -n 2p | sed "s/d1/dup1/" >one &&
	cat one one >dup &&
	expect_exit 1 index -a e.idx <dup 2>err &&
	grep "<stdin>:2: record .dup1.: duplicate id" err &&
	vectors 3 5 z | sed -n 3p >short &&
	expect_exit 1 index -a e.idx <short 2>err &&
	grep "record .z2.: embedding has 5 dimensions, index has 8" err &&
	printf "{\"id\":\"q\",\"text\":\"no vector\"}\n" >novec &&
	expect_exit 1 index -a e.idx <novec 2>err &&
	grep "record .q.: missing embedding" err &&
	printf "{\"id\":\"q\",\"embedding\":[1,2,3,4,5,6,7,8],\"meta\":[1]}\n" >badmeta &&
	expect_exit 1 index -a e.idx <badmeta 2>err &&
	grep "meta is a array" err &&
	printf "{\"id\":\"q\",\"embedding\":[1,2,\n" >broken &&
	expect_exit 1 index -a e.idx <broken 2>err &&
	grep "<stdin>:1" err &&
	expect_exit 1 index -a e.idx --delete nosuch 2>err &&
	grep "nosuch" err &&
	cmp e.idx e.orig &&
	no_temps
'

test_expect_success 'bm25 needs text' '
	printf "{\"id\":\"a\",\"embedding\":[1]}\n" >notext &&
	expect_exit 1 index -w t.idx --type bm25 <notext 2>err &&
	grep "no text" err &&
	test ! -e t.idx
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 index &&
	expect_exit 2 index -w x.idx --type nosuch &&
	expect_exit 2 index -w x.idx --metric hamming &&
	expect_exit 2 index --info &&
	expect_exit 2 index -w x.idx --delete a
'

# flip FILE OFFSET: invert one byte in place.
flip() {
	printf "$(printf "\\\\%03o" $(( $(od -An -tu1 -j "$2" -N1 "$1") ^ 255 )))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

test_expect_success 'a flipped byte in the vectors: --verify fails naming the section' '
	vectors 300 32 | index -w f.idx &&
	size=$(wc -c <f.idx) &&
	flip f.idx $((size / 2)) &&
	expect_exit 1 index --verify f.idx 2>err &&
	grep "f.idx: section flat.vectors: checksum mismatch" err
'

test_expect_success 'appending to a damaged file fails and leaves it as it was' '
	cp f.idx f.bad &&
	vectors 1 32 new | expect_exit 1 index -a f.idx 2>err &&
	grep checksum err &&
	cmp f.idx f.bad &&
	no_temps
'

test_expect_success 'a flipped byte in the header or table: refused at open' '
	vectors 5 4 | index -w g.idx &&
	size=$(wc -c <g.idx) &&
	cp g.idx g2.idx &&
	flip g.idx $((size - 600)) &&
	expect_exit 1 index --info g.idx 2>err &&
	grep "g.idx: .*checksum mismatch" err &&
	flip g2.idx $((size - 100)) &&
	expect_exit 1 index --info g2.idx 2>err &&
	grep "g2.idx: header checksum mismatch" err
'

test_expect_success 'truncated and foreign files are refused' '
	vectors 20 4 | index -w tr.idx &&
	size=$(wc -c <tr.idx) &&
	head -c $((size - 1)) tr.idx >cut.idx &&
	expect_exit 1 index --info cut.idx 2>err &&
	grep "cut.idx: truncated" err &&
	head -c 100 tr.idx >cut2.idx &&
	expect_exit 1 index --verify cut2.idx 2>err &&
	grep "cut2.idx: truncated" err &&
	: >empty.idx &&
	expect_exit 1 index --info empty.idx 2>err &&
	grep "empty.idx: not an lmpipe index" err &&
	echo hello >text.idx &&
	expect_exit 1 index --info text.idx &&
	expect_exit 1 index --info nosuch.idx 2>err &&
	grep "nosuch.idx" err
'

test_expect_success 'a reader holding the old file keeps reading it' '
	vectors 10 4 | index -w r.idx &&
	cp r.idx r.orig &&
	exec 3<r.idx &&
	vectors 5 4 w | index -a r.idx &&
	cmp r.orig /dev/fd/3 &&
	exec 3<&- &&
	! cmp -s r.orig r.idx &&
	test "$(index --info --json r.idx | json_field documents)" = 15
'

# A background job of a non-interactive shell starts with SIGINT ignored;
# env --default-signal gives index the default action, as a terminal's
# Ctrl-C would find it.
if env --default-signal=INT true 2>/dev/null; then
	test_expect_success 'SIGINT while reading input: old file intact, no temporary' '
		vectors 10 4 | index -w i.idx &&
		cp i.idx i.orig &&
		rm -f fifo && mkfifo fifo &&
		{ env --default-signal=INT index -a i.idx <fifo & } &&
		pid=$! &&
		exec 4>fifo &&
		vectors 3 4 k >&4 &&
		sleep 0.3 &&
		kill -INT $pid &&
		exec 4>&- &&
		{ wait $pid; rc=$?; } ;
		test "$rc" = 130 &&
		cmp i.idx i.orig &&
		no_temps
	'
else
	test_skip 'SIGINT while reading input' 'env --default-signal not available'
fi

test_done
