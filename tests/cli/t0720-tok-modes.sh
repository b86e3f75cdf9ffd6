#!/bin/sh
# tok's modes on a tiny WordPiece tokenizer.json whose ids are known by
# hand, plus cl100k (from ../shared, ids from its rank file) for bytes:
# encode, --count, --decode, --chunk/--overlap, --raw, --no-special,
# --parse-special, order with threads, and bad input.
. "$(dirname "$0")/lib.sh"

command -v tok >/dev/null 2>&1 || skip_all "tok is not built"

# [UNK]=0 [CLS]=1 [SEP]=2 hello=3 world=4 !=5 .=6 the=7 cat=8 sat=9 ##s=10
# dog=11 ran=12; BERT normalizer (lowercase) and pre-tokenizer.
cat >"$TRASH/tiny.json" <<'EOF'
{"added_tokens":[{"id":0,"content":"[UNK]","special":true,"normalized":false},
{"id":1,"content":"[CLS]","special":true,"normalized":false},
{"id":2,"content":"[SEP]","special":true,"normalized":false}],
"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
"pre_tokenizer":{"type":"BertPreTokenizer"},
"post_processor":{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[CLS]",1]},
"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
"vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"hello":3,"world":4,"!":5,".":6,"the":7,"cat":8,"sat":9,"##s":10,"dog":11,"ran":12}}}
EOF
M=$TRASH/tiny.json
export M

# encode and --chunk name the tokenizer of their ids in "tokenizer" (for
# embed); the exact comparisons below leave it out
drop_tokenizer () {
	sed 's/,"tokenizer":"[^"]*"//' "$@"
}

test_expect_success 'encode and --chunk name the tokenizer; the same file gives the same name' '
	echo "{\"id\":\"d1\",\"text\":\"hi\"}" | tok -m "$M" >a &&
	echo "{\"id\":\"d1\",\"text\":\"hi\"}" | tok -m "$M" --chunk 8 >b &&
	sed -n "s/.*,\"tokenizer\":\"\\([^\"]*\\)\"}\$/\\1/p" a >name_a &&
	sed -n "s/.*,\"tokenizer\":\"\\([^\"]*\\)\"}\$/\\1/p" b >name_b &&
	test -s name_a && cmp name_a name_b &&
	echo "{\"id\":\"d1\",\"text\":\"hi\"}" | tok -m "$M" --count >c &&
	! grep -q tokenizer c
'

test_expect_success 'encode adds tokens and n_tokens, keeps other fields' '
	echo "{\"id\":\"d1\",\"text\":\"Hello worlds!\",\"meta\":{\"k\":1}}" | tok -m "$M" | drop_tokenizer >out &&
	echo "{\"id\":\"d1\",\"text\":\"Hello worlds!\",\"meta\":{\"k\":1},\"tokens\":[1,3,4,10,5,2],\"n_tokens\":6}" >want &&
	cmp want out
'

test_expect_success '--no-special leaves out CLS and SEP' '
	echo "{\"id\":\"d1\",\"text\":\"Hello worlds!\"}" | tok -m "$M" --no-special | drop_tokenizer >out &&
	grep -q "\"tokens\":\[3,4,10,5\],\"n_tokens\":4}" out
'

test_expect_success '--count adds n_tokens only; -v prints the total' '
	printf "hello world\nthe cat sat\n" | tok -m "$M" --count -v >out 2>err &&
	printf "{\"id\":\"1\",\"text\":\"hello world\",\"n_tokens\":4}\n{\"id\":\"2\",\"text\":\"the cat sat\",\"n_tokens\":5}\n" >want &&
	cmp want out &&
	grep -q "2 records.* 9 tokens" err
'

test_expect_success 'title and text are joined' '
	echo "{\"_id\":\"x\",\"title\":\"Hello\",\"text\":\"world\"}" | tok -m "$M" --no-special | drop_tokenizer >out &&
	grep -q "\"tokens\":\[3,4\]" out
'

test_expect_success '--decode reads tokens and adds text' '
	echo "{\"id\":\"q\",\"tokens\":[3,4,10]}" | tok -m "$M" --decode >out &&
	echo "{\"id\":\"q\",\"tokens\":[3,4,10],\"text\":\"hello worlds\"}" >want &&
	cmp want out
'

test_expect_success '--raw: all of the input is one text' '
	printf "the cat\n\nsat" | tok -m "$M" --raw --no-special | drop_tokenizer >out &&
	echo "{\"id\":\"stdin\",\"tokens\":[7,8,9],\"n_tokens\":3}" >want &&
	cmp want out
'

test_expect_success 'threads keep input order' '
	i=0; while [ $i -lt 3000 ]; do
		case $((i % 3)) in 0) t="the cat sat";; 1) t="hello";; 2) t="the dog ran. the cat sat!";; esac
		echo "{\"id\":\"r$i\",\"text\":\"$t\"}"; i=$((i + 1))
	done >in &&
	tok -m "$M" -t 1 <in >one && tok -m "$M" -t 4 <in >four && cmp one four &&
	test $(wc -l <four) = 3000 &&
	sed -n "3000p" four | grep -q "^{\"id\":\"r2999\",.*\"n_tokens\":10,\"tokenizer\":\"[^\"]*\"}$"
'

test_expect_success '--chunk cuts at sentence ends and paragraphs' '
	printf "The cat sat. The dog ran.\n\nThe cat ran. The dog sat." | tok -m "$M" --raw --chunk 8 | drop_tokenizer >out &&
	cat >want <<-\EOF &&
	{"id":"stdin#0","text":"The cat sat.","tokens":[1,7,8,9,6,2],"n_tokens":6}
	{"id":"stdin#1","text":"The dog ran.","tokens":[1,7,11,12,6,2],"n_tokens":6}
	{"id":"stdin#2","text":"The cat ran.","tokens":[1,7,8,12,6,2],"n_tokens":6}
	{"id":"stdin#3","text":"The dog sat.","tokens":[1,7,11,9,6,2],"n_tokens":6}
	EOF
	cmp want out
'

test_expect_success '--chunk --overlap: neighbours share M tokens, CLS/SEP counted in N only' '
	echo "{\"id\":\"d\",\"text\":\"the cat sat the dog ran the cat ran the dog sat\",\"meta\":1}" |
		tok -m "$M" --chunk 8 --overlap 2 | drop_tokenizer >out &&
	cat >want <<-\EOF &&
	{"id":"d#0","text":"the cat sat the dog ran","meta":1,"tokens":[1,7,8,9,7,11,12,2],"n_tokens":8}
	{"id":"d#1","text":"dog ran the cat ran the","meta":1,"tokens":[1,11,12,7,8,12,7,2],"n_tokens":8}
	{"id":"d#2","text":"ran the dog sat","meta":1,"tokens":[1,12,7,11,9,2],"n_tokens":6}
	EOF
	cmp want out
'

test_expect_success 'a short text is one chunk, title dropped into the text' '
	echo "{\"id\":\"d\",\"title\":\"Hello\",\"text\":\"world\"}" | tok -m "$M" --chunk 100 | drop_tokenizer >out &&
	echo "{\"id\":\"d#0\",\"text\":\"Hello world\",\"tokens\":[1,3,4,2],\"n_tokens\":4}" >want &&
	cmp want out
'

test_expect_success 'usage errors exit 2' '
	expect_exit 2 tok </dev/null &&
	expect_exit 2 tok -m "$M" --overlap 2 </dev/null &&
	expect_exit 2 tok -m "$M" --chunk 4 --overlap 4 </dev/null &&
	expect_exit 2 tok -m "$M" --count --decode </dev/null &&
	expect_exit 2 tok -m "$M" --chunk 0 </dev/null
'

test_expect_success 'a missing or garbage model file: exit 1 naming it' '
	expect_exit 1 tok -m nosuch.json </dev/null 2>err && grep -q "nosuch.json" err &&
	printf "{\"model\": 3" >bad.json &&
	expect_exit 1 tok -m bad.json </dev/null 2>err && grep -q "bad.json" err &&
	printf "not a rank file\n" >bad.tiktoken &&
	expect_exit 1 tok -m bad.tiktoken </dev/null 2>err && grep -q "bad.tiktoken" err
'

test_expect_success 'malformed JSON: exit 1 with file:line, earlier records written' '
	printf "{\"id\":\"a\",\"text\":\"hello\"}\n{\"id\": \"b\", text}\n" >in &&
	expect_exit 1 tok -m "$M" in >out 2>err &&
	grep -q "^tok: in:2:" err && test $(wc -l <out) = 1
'

test_expect_success 'invalid UTF-8: exit 1 with file:line' '
	printf "hello\nbad \377 byte\n" >in &&
	expect_exit 1 tok -m "$M" in >out 2>err &&
	grep -q "^tok: in:2:.*UTF-8" err
'

test_expect_success '--skip-bad reports, goes on, exits 1' '
	printf "hello\n{oops\nworld\n" >in &&
	expect_exit 1 tok -m "$M" --skip-bad in >out 2>err &&
	test $(wc -l <out) = 2 && grep -q "in:2:" err && grep -q "1 bad record" err
'

test_expect_success '--decode of a record without tokens: exit 1 with file:line' '
	echo "{\"id\":\"a\",\"text\":\"x\"}" >in &&
	expect_exit 1 tok -m "$M" --decode in 2>err && grep -q "in:1:.*tokens" err
'

test_expect_success '--raw --decode: bad id text is an error naming the byte' '
	printf "3 4 x" | expect_exit 1 tok -m "$M" --decode --raw 2>err && grep -q "byte 5" err
'

if have_shared; then
	CL=$SHARED/tokenizers/cl100k_base.tiktoken
	export CL
	# Ranks from cl100k_base.tiktoken: "YQ==" (a) 64, "4g==" (byte 0xE2) 158,
	# "gA==" (0x80) 222; <|endoftext|> is 100257 in cl100k_base.json.
	test_expect_success 'cl100k: --parse-special turns <|endoftext|> into 100257' '
		echo "<|endoftext|>" | tok -m "$CL" --parse-special >out &&
		grep -q "\"tokens\":\[100257\]" out &&
		echo "<|endoftext|>" | tok -m "$CL" >out &&
		! grep -q 100257 out
	'
	test_expect_success 'cl100k: --decode replaces broken UTF-8 by U+FFFD' '
		echo "{\"id\":\"a\",\"tokens\":[158,64]}" | tok -m "$CL" --decode >out &&
		printf "{\"id\":\"a\",\"tokens\":[158,64],\"text\":\"\357\277\275a\"}\n" >want &&
		cmp want out
	'
	test_expect_success 'cl100k: --raw --decode streams bytes, joining split sequences' '
		printf "158 222 222 64" | tok -m "$CL" --decode --raw >out &&
		printf "\342\200\200a" >want && cmp want out
	'
	test_expect_success 'cl100k: --raw encode then --raw --decode gives the text back' '
		printf "na\303\257ve caf\303\251 \360\237\230\200 \344\270\255\346\226\207\n\ttabs  " >text &&
		tok -m "$CL" --raw --no-special <text | sed "s/.*\"tokens\":\[//; s/\].*//; s/,/ /g" >ids &&
		tok -m "$CL" --decode --raw <ids >back && cmp text back
	'
fi

test_done
