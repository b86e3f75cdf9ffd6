#!/bin/sh
# lmpipe cat: NDJSON <-> binary stream <-> .npy / fvecs, checked against
# numpy (tests/ref/npy_roundtrip.py) and against the layout in lmpipe(7).
. "$(dirname "$0")/lib.sh"

command -v lmpipe >/dev/null 2>&1 || skip_all "lmpipe not built"
PY=/usr/bin/python3
REF="$TEST_ROOT/tests/ref/npy_roundtrip.py"
have_numpy=
if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
	have_numpy=1
	mkdir -p "$TRASH/np" && "$PY" "$REF" make "$TRASH/np" || exit 1
fi
NP="$TRASH/np"

# numpy-based checks run only when numpy is there.
test_numpy() {
	if [ -n "$have_numpy" ]; then
		test_expect_success "$1" "$2"
	else
		test_skip "$1" "numpy not installed"
	fi
}

printf '%s\n' '{"id":"a","text":"first","embedding":[1,-2.5,0.1]}' \
	'{"_id":"b","meta":{"lang":"en"},"embedding":[0,3e-8,-0]}' \
	'{"embedding":[65504,1e-45,-1]}' >"$TRASH/v.jsonl"

test_expect_success 'NDJSON -> bin -> NDJSON keeps ids, fields and floats' '
	lmpipe cat -f bin "$TRASH/v.jsonl" >v.bin &&
	lmpipe cat v.bin >back.jsonl &&
	printf "%s\n" "{\"id\":\"a\",\"text\":\"first\",\"embedding\":[1,-2.5,0.1]}" \
		"{\"id\":\"b\",\"meta\":{\"lang\":\"en\"},\"embedding\":[0,3e-8,-0]}" \
		"{\"id\":\"3\",\"embedding\":[65504,1e-45,-1]}" >want &&
	cmp want back.jsonl
'

test_expect_success 'the binary stream starts with the documented header' '
	lmpipe cat -f bin "$TRASH/v.jsonl" | od -An -tx1 -N16 | tr -d " \n" >hdr &&
	echo 894c4d505645431a0100000103000000 >want &&
	printf "\n" >>hdr && cmp want hdr
'

test_expect_success 'input format is sniffed: bin and NDJSON on stdin' '
	lmpipe cat -f bin <"$TRASH/v.jsonl" >v.bin &&
	lmpipe cat <v.bin | lmpipe cat -f bin | cmp - v.bin
'

test_expect_success 'a truncated stream is an error naming the record' '
	lmpipe cat -f bin "$TRASH/v.jsonl" | head -c 60 >cut.bin &&
	expect_exit 1 lmpipe cat cut.bin 2>err &&
	grep "cut.bin: record 2: truncated" err
'

test_expect_success 'garbage after a good record is an error' '
	lmpipe cat -f bin "$TRASH/v.jsonl" >v.bin &&
	printf "\377\377\377\377" >>v.bin &&
	expect_exit 1 lmpipe cat v.bin 2>err &&
	grep "record 4" err
'

test_expect_success 'a record without embedding cannot become a vector' '
	printf "%s\n" "{\"id\":\"x\",\"embedding\":[1]}" "plain text" >t.jsonl &&
	expect_exit 1 lmpipe cat -f bin t.jsonl >/dev/null 2>err &&
	grep "t.jsonl:2" err && grep embedding err
'

test_expect_success 'mixed dimensions are refused' '
	printf "%s\n" "{\"embedding\":[1,2]}" "{\"embedding\":[1,2,3]}" >m.jsonl &&
	expect_exit 1 lmpipe cat -f bin m.jsonl >/dev/null 2>err &&
	grep "m.jsonl:2" err
'

test_expect_success 'npy output needs a seekable file' '
	{ lmpipe cat -f npy "$TRASH/v.jsonl" 2>err; echo $? >rc; } | cat >/dev/null &&
	test "$(cat rc)" != 0 && grep seekable err
'

test_expect_success 'NDJSON -> npy -> NDJSON: ids become row numbers' '
	lmpipe cat -f npy -o v.npy "$TRASH/v.jsonl" &&
	lmpipe cat v.npy >back &&
	printf "%s\n" "{\"id\":\"0\",\"embedding\":[1,-2.5,0.1]}" \
		"{\"id\":\"1\",\"embedding\":[0,3e-8,-0]}" \
		"{\"id\":\"2\",\"embedding\":[65504,1e-45,-1]}" >want &&
	cmp want back
'

test_expect_success 'fvecs round trip through the binary stream' '
	lmpipe cat -f fvecs "$TRASH/v.jsonl" >v.fvecs &&
	test $(wc -c <v.fvecs) = 48 &&
	lmpipe cat -f bin v.fvecs | lmpipe cat -f fvecs | cmp - v.fvecs &&
	lmpipe cat --from fvecs <v.fvecs | head -1 | grep -q "^{\"id\":\"0\","
'

test_expect_success 'a truncated fvecs record is an error naming it' '
	lmpipe cat -f fvecs "$TRASH/v.jsonl" | head -c 40 >cut.fvecs &&
	expect_exit 1 lmpipe cat cut.fvecs 2>err &&
	grep "cut.fvecs: record 3: truncated" err
'

test_expect_success 'empty input gives empty output' '
	: >empty &&
	lmpipe cat -f bin empty >out && test ! -s out &&
	lmpipe cat empty >out && test ! -s out
'

test_numpy 'numpy .npy -> NDJSON: ids 0.. and floats that read back exactly' '
	lmpipe cat "$NP/x.npy" >x.jsonl &&
	"$PY" "$REF" ndjson "$NP/x.npy" x.jsonl
'

test_numpy 'numpy .npy -> NDJSON -> bin -> .npy is bit-exact' '
	lmpipe cat "$NP/x.npy" | lmpipe cat -f bin >x.bin &&
	lmpipe cat -f npy -o y.npy x.bin &&
	"$PY" "$REF" same "$NP/x.npy" y.npy
'

test_numpy 'npy format versions 2.0 and 3.0 are read' '
	lmpipe cat -f npy -o y2.npy "$NP/x_v2.npy" &&
	"$PY" "$REF" same "$NP/x.npy" y2.npy &&
	lmpipe cat -f npy -o y3.npy "$NP/x_v3.npy" &&
	"$PY" "$REF" same "$NP/x.npy" y3.npy
'

test_numpy 'f32 -> f16 rounds like numpy astype(float16)' '
	lmpipe cat -f npy --dtype f16 -o h.npy "$NP/x.npy" &&
	"$PY" "$REF" f16 "$NP/x.npy" h.npy &&
	lmpipe cat -f bin --dtype f16 "$NP/x.npy" >h.bin &&
	"$PY" "$REF" bin f16 "$NP/x.npy" h.bin
'

test_numpy 'numpy float16 .npy -> bin f16 -> .npy is bit-exact' '
	lmpipe cat -f bin --dtype f16 "$NP/h.npy" | lmpipe cat -f npy --dtype f16 -o h2.npy &&
	"$PY" "$REF" same "$NP/h.npy" h2.npy
'

test_numpy 'float64 .npy narrows like astype(float32)' '
	lmpipe cat -f npy -o d.npy "$NP/d.npy" &&
	"$PY" "$REF" f32 "$NP/d.npy" d.npy
'

test_numpy 'i8 records: scale = max|x|/127, q rounded half to even' '
	lmpipe cat -f bin --dtype i8 "$NP/x.npy" >q.bin &&
	"$PY" "$REF" bin i8 "$NP/x.npy" q.bin &&
	lmpipe cat -f npy -o q.npy q.bin &&
	"$PY" "$REF" i8 "$NP/x.npy" q.npy
'

test_numpy 'bit records equal numpy packbits(x > 0, bitorder=little)' '
	lmpipe cat -f bin --dtype bit "$NP/x.npy" >b.bin &&
	"$PY" "$REF" bin bit "$NP/x.npy" b.bin
'

test_numpy 'f32 binary stream matches the byte layout of lmpipe(7)' '
	lmpipe cat -f bin "$NP/x.npy" >f.bin &&
	"$PY" "$REF" bin f32 "$NP/x.npy" f.bin
'

test_numpy 'NDJSON fields travel in the meta JSON' '
	lmpipe cat "$NP/x.npy" | "$PY" -c "
import json, sys
for i, line in enumerate(sys.stdin):
    r = json.loads(line, parse_int=float)
    r[\"id\"] = \"doc-%d\" % i
    r[\"text\"] = \"t\\u00e9xt %d\" % i
    if i % 2:
        r[\"meta\"] = {\"n\": i}
    print(json.dumps(r))
" >m.jsonl &&
	lmpipe cat -f bin m.jsonl >m.bin &&
	"$PY" "$REF" bin f32 "$NP/x.npy" m.bin m.jsonl
'

test_numpy 'numpy .fvecs -> .npy, and .npy -> fvecs bytes' '
	lmpipe cat -f npy -o v.npy "$NP/x.fvecs" &&
	"$PY" "$REF" same "$NP/x.npy" v.npy &&
	lmpipe cat --from fvecs -f npy -o v2.npy <"$NP/x.fvecs" &&
	"$PY" "$REF" same "$NP/x.npy" v2.npy &&
	lmpipe cat -f fvecs "$NP/x.npy" >w.fvecs &&
	"$PY" "$REF" fvecs "$NP/x.npy" w.fvecs
'

test_numpy 'a 1-D .npy is one vector' '
	lmpipe cat "$NP/one.npy" >one.jsonl &&
	test $(wc -l <one.jsonl) = 1 && grep -q "^{\"id\":\"0\",\"embedding\":\[" one.jsonl
'

test_numpy 'Fortran-order and big-endian .npy are refused clearly' '
	expect_exit 1 lmpipe cat "$NP/f.npy" 2>err && grep Fortran err &&
	expect_exit 1 lmpipe cat "$NP/big.npy" 2>err && grep "'\''>f4'\''" err
'

test_done
