#!/bin/sh
# tok on llama.cpp's tokenizer conformance suite (tests/test-tokenizer-0 in
# llama.cpp): FILE.gguf.inp holds inputs separated by
# "\n__ggml_vocab_test__\n", FILE.gguf.out one line of expected ids per input,
# made by Hugging Face AutoTokenizer with add_special_tokens=False, which is
# tok --no-special.  Every vocabulary with a .gguf beside its suite is
# checked through the GGUF file; the llama-bpe and qwen2 suites, which have
# no .gguf here, through the tokenizer.json of the same family.  One TAP
# line per vocabulary: every case must give exactly the expected ids.
. "$(dirname "$0")/lib.sh"

VOCAB=$SHARED/tokenizers/llama.cpp-vocab

have_shared || skip_all "../shared is absent"
command -v tok >/dev/null 2>&1 || skip_all "tok is not built"
[ -x /usr/bin/python3 ] || skip_all "no /usr/bin/python3 (splits the suites into NDJSON)"

# split INP: the suite as NDJSON records {"id": "N", "text": ...}
cat >split.py <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
cases = text.split("\n__ggml_vocab_test__\n")
n = sum(1 for _ in open(sys.argv[2], encoding="utf-8"))
for i, c in enumerate(cases[:n]):
    print(json.dumps({"id": str(i), "text": c}, ensure_ascii=False))
PY
# compare GOT OUT INP: count the cases whose ids differ; describe the first few
cat >compare.py <<'PY'
import json, sys
got = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    got[r["id"]] = r.get("tokens")
want = [l.split() for l in open(sys.argv[2], encoding="utf-8").read().split("\n")]
cases = open(sys.argv[3], encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")
n = sum(1 for _ in open(sys.argv[2], encoding="utf-8"))
bad = 0
for i in range(n):
    w = [int(x) for x in want[i]]
    g = got.get(str(i))
    if g != w:
        bad += 1
        if bad <= 3:
            print("# case %d %s" % (i, json.dumps(cases[i], ensure_ascii=True)[:120]))
            print("#   want %s" % w[:40])
            print("#   got  %s" % (g if g is None else g[:40]))
print("%d %d" % (n, bad))
PY

check_suite() {
	# check_suite NAME MODEL SUITE
	name=$1 model=$2 suite=$3
	if ! [ -f "$model" ]; then
		test_skip "$name" "$(basename "$model") is absent"
		return
	fi
	/usr/bin/python3 split.py "$suite.inp" "$suite.out" >"$name.ndjson"
	if ! tok -m "$model" --no-special <"$name.ndjson" >"$name.got" 2>"$name.err"; then
		test_expect_success "$name: tok runs" "cat '$TRASH/$name.err'; false"
		return
	fi
	/usr/bin/python3 compare.py "$name.got" "$suite.out" "$suite.inp" >"$name.cmp"
	set -- $(tail -1 "$name.cmp")
	test_expect_success "$name: $(($1 - $2))/$1 cases give the expected ids ($2 mismatches)" "
		grep '^#' '$TRASH/$name.cmp'
		test '$2' = 0
	"
}

for inp in "$VOCAB"/*.gguf.inp; do
	suite=${inp%.inp}
	name=$(basename "$suite" .gguf)
	name=${name#ggml-vocab-}
	case $name in
	llama-bpe) check_suite "$name (llama3-tokenizer.json)" "$SHARED/tokenizers/llama3-tokenizer.json" "$suite" ;;
	qwen2) check_suite "$name (qwen3-tokenizer.json)" "$SHARED/tokenizers/qwen3-tokenizer.json" "$suite" ;;
	*)
		if [ -f "$suite" ]; then
			check_suite "$name" "$suite" "$suite"
		else
			test_skip "$name" "no $(basename "$suite") and no tokenizer.json of the family here"
		fi
		;;
	esac
done

test_done
