#!/bin/sh
# generate --grammar / --json-schema: constrained decoding.
#
# A random-weight model has no idea of JSON or dates, so whatever it emits
# comes from the grammar alone: every output over many prompts and seeds
# must parse and validate.  The checks are independent of lmpipe: the JSON
# Schema validator tests/ref/schema_check.py (written from the
# specification), Python's json module, and regular expressions and a small
# recursive-descent parser written here.
. "$(dirname "$0")/lib.sh"

command -v generate >/dev/null 2>&1 || skip_all "generate is not built"

PY=/usr/bin/python3
CHECK=$TEST_ROOT/tests/ref/schema_check.py
MAKE_MODEL=$TEST_ROOT/scripts/make-model

test_expect_success 'usage: --grammar and --json-schema together' '
	expect_exit 2 generate -m x.gguf --grammar a --json-schema b -p hi 2>err &&
	grep -q "not both" err &&
	generate --help | grep -q -- "--json-schema"
'

test_expect_success 'bad grammars and schemas: file and position, exit 1' '
	printf "root ::= x\n" >undef.gbnf &&
	expect_exit 1 generate -m x.gguf --grammar undef.gbnf -p hi 2>err &&
	grep -q "undef.gbnf:1:10: rule .x. is not defined" err &&
	printf "root ::= \"a\" |\n  [b-\n" >class.gbnf &&
	expect_exit 1 generate -m x.gguf --grammar class.gbnf -p hi 2>err &&
	grep -q "class.gbnf:2:3: unterminated character class" err &&
	printf "{\"properties\": {\"n\": {\"type\": \"number\", \"minimum\": 1}}}" >min.json &&
	expect_exit 1 generate -m x.gguf --json-schema min.json -p hi 2>err &&
	grep -q "min.json: #/properties/n/minimum: \"minimum\" is not supported" err &&
	printf "{\"type\": " >trunc.json &&
	expect_exit 1 generate -m x.gguf --json-schema trunc.json -p hi 2>err &&
	grep -q "trunc.json" err &&
	expect_exit 1 generate -m x.gguf --grammar missing.gbnf -p hi 2>err &&
	grep -q "missing.gbnf" err
'

if ! have_shared || ! [ -x "$PY" ]; then
	test_skip 'models' "no ../shared (vocabularies) or no /usr/bin/python3"
	test_done
	exit
fi

test_expect_success 'a random llama (vocabulary of 32000)' '
	"$PY" "$MAKE_MODEL" --arch llama --shape tiny -o "$TRASH/tiny.gguf"
'

# prompts.ndjson: N different prompts, so that one run gives N samples
prompts() {
	i=0
	while [ $i -lt "$1" ]; do
		echo "{\"prompt\": \"Record $i of the set:\"}"
		i=$((i + 1))
	done
}
prompts 12 >prompts.ndjson

# Run SCHEMA over 12 prompts for each of the seeds 1 2 3 (36 outputs) and
# check them all.  The model's context is 256 tokens: a recursive schema
# must make recursion unlikely enough for a random model to end in time.
check_schema() {
	for seed in 1 2 3; do
		generate -q -m "$TRASH/tiny.gguf" --json-schema "$1" --temp 1 --top-k 0 --top-p 1 --min-p 0 \
			--seed $seed -n 240 prompts.ndjson || return 1
	done >out.ndjson &&
	test $(wc -l <out.ndjson) = 36 &&
	"$PY" "$CHECK" "$1" --finish stop <out.ndjson
}

cat >person.json <<'EOF'
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "person",
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 12},
    "age": {"type": "integer"},
    "height": {"type": "number"},
    "admin": {"type": "boolean"},
    "nick": {"type": ["string", "null"], "maxLength": 4},
    "role": {"enum": ["user", "staff", 7, null]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 1, "maxItems": 3},
    "where": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"const": [1, "b"]}},
              "required": ["y"]}
  },
  "required": ["name", "age", "tags"]
}
EOF
test_expect_success 'json-schema: objects, optional fields, arrays, enums, nesting (36 samples)' '
	check_schema person.json
'

cat >tree.json <<'EOF'
{
  "$defs": {
    "node": {
      "type": "object",
      "properties": {
        "id": {"type": "integer"},
        "kind": {"oneOf": [{"type": "boolean"}, {"type": "string", "maxLength": 2}]},
        "child": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": ["null", "boolean", "integer"]},
                            {"enum": ["a", "b"]}]}
      },
      "required": ["id", "child"]
    }
  },
  "type": "array",
  "items": {"$ref": "#/$defs/node"},
  "maxItems": 2
}
EOF
test_expect_success 'json-schema: $ref recursion, anyOf, oneOf (36 samples)' '
	check_schema tree.json
'

test_expect_success 'json-schema: cut by -n gives finish_reason length' '
	generate -q -m "$TRASH/tiny.gguf" --json-schema person.json --seed 4 -n 3 -p "x" >cut.json &&
	"$PY" -c "import json; r = json.load(open(\"cut.json\")); \
assert r[\"finish_reason\"] == \"length\", r; assert r[\"usage\"][\"completion_tokens\"] == 3, r; \
assert r[\"text\"].startswith(\"{\"), r"
'

test_expect_success 'json-schema: the checker itself refuses invalid records' '
	printf "%s\n" "{\"text\": \"{\\\"name\\\": \\\"x\\\"}\", \"finish_reason\": \"stop\"}" >wrong.ndjson &&
	expect_exit 1 "$PY" "$CHECK" person.json <wrong.ndjson >msg &&
	grep -q "required property .age. missing" msg &&
	printf "%s\n" "{\"text\": \"NaN\", \"finish_reason\": \"stop\"}" >nan.ndjson &&
	expect_exit 1 "$PY" "$CHECK" "{}" <nan.ndjson >msg 2>&1 || true
'

cat >date.gbnf <<'EOF'
# an ISO date with a real month and day range
root  ::= year "-" month "-" day
year  ::= [12] [0-9]{3}
month ::= "0" [1-9] | "1" [0-2]
day   ::= "0" [1-9] | [12] [0-9] | "3" [01]
EOF
test_expect_success 'grammar: dates (36 samples, checked by a regular expression)' '
	for seed in 1 2 3; do
		generate -q -m "$TRASH/tiny.gguf" --grammar date.gbnf --temp 1.5 --top-k 0 --top-p 1 --min-p 0 \
			--seed $seed -n 20 prompts.ndjson || exit 1
	done >dates.ndjson &&
	"$PY" -c "
import json, re, sys
n = 0
for line in open(\"dates.ndjson\"):
    r = json.loads(line)
    assert r[\"finish_reason\"] == \"stop\", r
    assert re.fullmatch(r\"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\", r[\"text\"]), r
    n += 1
assert n == 36, n
"
'

cat >arith.gbnf <<'EOF'
root   ::= expr
expr   ::= term (ws ("+" | "-") ws term){0,3}
term   ::= factor (("*" | "/") factor){0,2}
factor ::= num | "(" inner ")"
inner  ::= num (ws ("+" | "-" | "*" | "/") ws num){0,2}
num    ::= [1-9] [0-9]{0,2}
ws     ::= " "?
EOF
# A recursive-descent parser for the same language, written independently.
cat >arith.py <<'EOF'
import json, sys

def parse(s):
    pos = 0
    def peek():
        return s[pos] if pos < len(s) else ""
    def num():
        nonlocal pos
        start = pos
        while peek().isdigit() and peek().isascii():
            pos += 1
        assert 1 <= pos - start <= 3 and s[start] != "0", s
    def factor(depth):
        nonlocal pos
        if peek() == "(":
            assert depth == 0, s
            pos += 1
            num()
            for _ in range(2):
                save = pos
                if peek() == " ":
                    pos += 1
                if peek() and peek() in "+-*/":
                    pos += 1
                    if peek() == " ":
                        pos += 1
                    num()
                else:
                    pos = save
                    break
            assert peek() == ")", s
            pos += 1
            return
        num()
    def term(depth):
        nonlocal pos
        factor(depth)
        for _ in range(2):
            if peek() in ("*", "/") and peek():
                pos += 1
                factor(depth)
    def expr(depth):
        nonlocal pos
        term(depth)
        for _ in range(3):
            save = pos
            if peek() == " ":
                pos += 1
            if peek() in ("+", "-") and peek():
                pos += 1
                if peek() == " ":
                    pos += 1
                term(depth)
            else:
                pos = save
                break
    expr(0)
    assert pos == len(s), s

n = 0
for line in sys.stdin:
    r = json.loads(line)
    assert r["finish_reason"] == "stop", r
    parse(r["text"])
    n += 1
assert n == 36, n
EOF
test_expect_success 'grammar: arithmetic with nesting (36 samples, checked by a parser)' '
	for seed in 1 2 3; do
		generate -q -m "$TRASH/tiny.gguf" --grammar arith.gbnf --temp 1 --top-k 0 --top-p 1 --min-p 0 \
			--seed $seed -n 200 prompts.ndjson || exit 1
	done >arith.ndjson &&
	"$PY" arith.py <arith.ndjson
'

test_expect_success 'per-record grammar and json_schema fields; a bad one is skipped' '
	printf "%s\n" "{\"prompt\": \"a\", \"grammar\": \"root ::= [xy]{3}\"}" \
		"{\"prompt\": \"b\", \"json_schema\": {\"enum\": [\"on\", \"off\"]}}" \
		"{\"prompt\": \"c\", \"json_schema\": {\"type\": \"number\", \"maximum\": 3}}" \
		"{\"prompt\": \"d\", \"grammar\": \"root ::= [xy]{3}\"}" \
		"{\"prompt\": \"e\"}" >rec.ndjson &&
	expect_exit 1 generate -q -m "$TRASH/tiny.gguf" --grammar date.gbnf --skip-bad --seed 5 -n 30 \
		rec.ndjson >rec.out 2>err &&
	grep -q "rec.ndjson:3: \"json_schema\": #/maximum: \"maximum\" is not supported" err &&
	"$PY" -c "
import json, re
r = [json.loads(l) for l in open(\"rec.out\")]
assert [x[\"prompt\"] for x in r] == [\"a\", \"b\", \"d\", \"e\"], r
assert re.fullmatch(\"[xy]{3}\", r[0][\"text\"]) and re.fullmatch(\"[xy]{3}\", r[2][\"text\"]), r
assert json.loads(r[1][\"text\"]) in (\"on\", \"off\"), r
assert re.fullmatch(r\"[12][0-9]{3}-[01][0-9]-[0-3][0-9]\", r[3][\"text\"]), r
assert all(x[\"finish_reason\"] == \"stop\" for x in r), r
"
'

test_expect_success 'grammar: the end-of-text token only where the grammar can end' '
	printf "root ::= \"ab\" | \"abcd\"\n" >ab.gbnf &&
	for seed in 1 2 3 4 5 6; do
		generate -q -m "$TRASH/tiny.gguf" --grammar ab.gbnf --temp 2 --top-k 0 --top-p 1 --min-p 0 \
			--seed $seed -n 10 -p "x" || exit 1
	done >ab.ndjson &&
	"$PY" -c "
import json
for line in open(\"ab.ndjson\"):
    r = json.loads(line)
    assert r[\"finish_reason\"] == \"stop\" and r[\"text\"] in (\"ab\", \"abcd\"), r
"
'

if [ -f "$SHARED/models/stories260K.bin" ]; then
	test_expect_success 'stories260K (512 tokens, byte fallback): characters split over tokens' '
		quantize --import llama2c --tokenizer "$SHARED/models/tok512.bin" "$SHARED/models/stories260K.bin" \
			s.gguf 2>/dev/null &&
		printf "root ::= \"\\\\u00e9t\\\\u00e9 \" [a-z]{1,6} \" \\\\u20ac\" [0-9]\n" >utf.gbnf &&
		for seed in 1 2 3; do
			generate -q -m s.gguf --grammar utf.gbnf --temp 1 --seed $seed -n 60 prompts.ndjson || exit 1
		done >utf.ndjson &&
		"$PY" -c "
import json, re
n = 0
for line in open(\"utf.ndjson\"):
    r = json.loads(line)
    assert r[\"finish_reason\"] == \"stop\", r
    assert re.fullmatch(\"\\u00e9t\\u00e9 [a-z]{1,6} \\u20ac[0-9]\", r[\"text\"]), r
    n += 1
assert n == 36, n
"
	'
	test_expect_success 'stories260K: json-schema over 36 samples' '
		for seed in 1 2 3; do
			generate -q -m s.gguf --json-schema person.json --temp 1 --seed $seed -n 600 prompts.ndjson ||
				exit 1
		done >sp.ndjson &&
		"$PY" "$CHECK" person.json --finish stop <sp.ndjson
	'
else
	test_skip 'stories260K' "no ../shared/models/stories260K.bin"
fi

test_expect_success 'masking cost on a 32000-token vocabulary (reported)' '
	generate -v -m "$TRASH/tiny.gguf" --json-schema person.json --temp 1 --seed 1 -n 400 \
		prompts.ndjson >/dev/null 2>info &&
	grep "grammar:" info | sed "s/^/# /"
'

test_done
