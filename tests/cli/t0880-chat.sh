#!/bin/sh
# Chat templates: the Jinja subset (libcommon/model/jinja.c) against
# @huggingface/jinja, the engine transformers.js renders chat templates with
# (tests/ref/chat_ref.mjs), byte for byte, on the template of the Phi-3 GGUF
# in ../shared, the built-in templates, templates written here, and (when a
# llama.cpp checkout is around) every template in its models/templates.
. "$(dirname "$0")/lib.sh"

RENDER=$BUILD/helpers/chat-render
REF=$TEST_ROOT/tests/ref/chat_ref.mjs
[ -x "$RENDER" ] || skip_all "chat-render helper not built (make tests)"

have_ref=
if command -v node >/dev/null 2>&1 && echo '[]' >"$TRASH/probe.json" &&
   echo x >"$TRASH/probe.jinja" && node "$REF" "$TRASH/probe.jinja" "$TRASH/probe.json" >/dev/null 2>&1; then
	have_ref=1
fi

# Conversations: system + multi-turn, a single unicode user turn, an empty
# system prompt with a reasoning block and escapes, and whitespace.
cat >"$TRASH/conv1.json" <<'JSON'
[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"},{"role":"assistant","content":"Hi there, how can I help?"},{"role":"user","content":"  What is 2+2?  \n"}]
JSON
cat >"$TRASH/conv2.json" <<'JSON'
[{"role":"user","content":"Bonjour, ça va? 日本語 🎉"}]
JSON
cat >"$TRASH/conv3.json" <<'JSON'
[{"role":"system","content":""},{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"},{"role":"assistant","content":"<think>\nhmm\n</think>\n\na2"},{"role":"user","content":"q3 \"quoted\" \\ back"}]
JSON
cat >"$TRASH/conv4.json" <<'JSON'
[{"role":"user","content":"tab\there\nnewline"},{"role":"assistant","content":"ok"}]
JSON
echo '{"enable_thinking": false}' >"$TRASH/nothink.json"

# Templates written for this test: Llama-2 style with strip() and a system
# block, and a Qwen3-like one with namespace, reversed iteration, split and
# the enable_thinking switch.
cat >"$TRASH/hand-llama2.jinja" <<'JINJA'
{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set sys = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set sys = false %}{% endif %}
{% for message in loop_messages %}
    {% if loop.index0 == 0 and sys != false %}{% set content = '<<SYS>>\n' + sys + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}
    {% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}
{% endfor %}
JINJA
cat >"$TRASH/hand-think.jinja" <<'JINJA'
{%- set ns = namespace(last_user=-1) %}
{%- for m in messages[::-1] %}
    {%- if ns.last_user == -1 and m.role == 'user' %}{% set ns.last_user = messages|length - 1 - loop.index0 %}{% endif %}
{%- endfor %}
{%- for m in messages %}
    {%- set content = m.content %}
    {%- if m.role == 'assistant' and '</think>' in content %}
        {%- set content = content.split('</think>')[-1].lstrip('\n') %}
    {%- endif %}
    {{- '<|im_start|>' ~ m.role ~ '\n' ~ content ~ '<|im_end|>\n' }}
    {%- if loop.index0 == ns.last_user %}{{ '<!-- last user turn ' ~ loop.index ~ ' of ' ~ loop.length ~ ' -->\n' }}{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{% endif %}
{%- endif %}
JINJA

# phi-3's template from the GGUF (tokenizer.chat_template) via the
# independent GGUF reader tests/ref/gguf_dump.py.
PHI3=$SHARED/tokenizers/llama.cpp-vocab/ggml-vocab-phi-3.gguf
have_phi3=
if have_shared && [ -f "$PHI3" ] && command -v python3 >/dev/null 2>&1; then
	python3 "$TEST_ROOT/tests/ref/gguf_dump.py" "$PHI3" |
		sed -n 's/^kv "tokenizer.chat_template" string //p' |
		python3 -c 'import json,sys; sys.stdout.write(json.loads(sys.stdin.read()))' \
		>"$TRASH/phi3.jinja" && [ -s "$TRASH/phi3.jinja" ] && have_phi3=1
fi

if [ -n "$have_phi3" ]; then
	# Worked out by hand from the template: BOS, then per user turn
	# "<|user|>\n" content "<|end|>\n<|assistant|>\n", per assistant turn
	# content "<|end|>\n"; the system turn is dropped.
	test_expect_success 'phi-3 GGUF template renders the documented layout' '
		"$RENDER" -b "<s>" "$TRASH/phi3.jinja" "$TRASH/conv1.json" >out &&
		printf "<s><|user|>\nHello!<|end|>\n<|assistant|>\nHi there, how can I help?<|end|>\n<|user|>\n  What is 2+2?  \n<|end|>\n<|assistant|>\n" >want &&
		cmp out want
	'
else
	test_skip 'phi-3 GGUF template renders the documented layout' '../shared or python3 missing'
fi

test_expect_success 'Qwen3-like template: thinking stripped, last user turn found' '
	"$RENDER" -g -x "$TRASH/nothink.json" "$TRASH/hand-think.jinja" "$TRASH/conv3.json" >out &&
	printf "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\na2<|im_end|>\n<|im_start|>user\nq3 \"quoted\" \\\\ back<|im_end|>\n<!-- last user turn 6 of 6 -->\n<|im_start|>assistant\n<think>\n\n</think>\n\n" >want &&
	cmp out want
'

test_expect_success 'unknown filter: exit 1, error names line and column' '
	printf "line one\n{{ messages | frob }}\n" >bad.jinja &&
	expect_exit 1 "$RENDER" bad.jinja "$TRASH/conv2.json" 2>err &&
	grep -q "template line 2, column 15: unknown filter .frob." err
'

test_expect_success 'syntax error: exit 1, error names line and column' '
	printf "{%% for m in messages %%}\n{{ m.content }\n{%% endfor %%}" >bad.jinja &&
	expect_exit 1 "$RENDER" bad.jinja "$TRASH/conv2.json" 2>err &&
	grep -q "template line 2, column 14:" err
'

test_expect_success 'raise_exception in a template is an error' '
	echo "[{\"role\":\"assistant\",\"content\":\"x\"}]" >asst.json &&
	expect_exit 1 "$RENDER" @mistral asst.json 2>err &&
	grep -q "raise_exception: mistral: roles must alternate" err
'

test_expect_success 'malformed messages are refused with the element named' '
	echo "[{\"role\":\"user\",\"content\":1}]" >m.json &&
	expect_exit 1 "$RENDER" @chatml m.json 2>err &&
	grep -q "messages\[0\]: \"content\" is number" err
'

# compare TEMPLATE [options]: every conversation, with and without the
# generation prompt; both engines must give the same bytes, or both fail.
compare() {
	t=$1
	shift
	for c in ${CONVS:-conv1 conv2 conv3 conv4}; do
		for g in ${GENS:-"" -g}; do
			"$RENDER" $g -b "<s>" -e "</s>" "$@" "$t" "$TRASH/$c.json" >ours 2>/dev/null
			ro=$?
			node "$REF" $g -b "<s>" -e "</s>" "$@" "$t" "$TRASH/$c.json" >ref 2>/dev/null
			rr=$?
			if [ $ro != 0 ] || [ $rr != 0 ]; then
				if [ $ro = 0 ] || [ $rr = 0 ]; then
					echo "$t $c $g: exit $ro here, $rr in the reference"
					return 1
				fi
			elif ! cmp -s ours ref; then
				echo "$t $c $g: output differs"
				diff ours ref | head -20
				return 1
			fi
		done
	done
}

if [ -n "$have_ref" ]; then
	if [ -n "$have_phi3" ]; then
		test_expect_success 'phi-3 GGUF template matches @huggingface/jinja' '
			compare "$TRASH/phi3.jinja"
		'
	fi
	for b in llama2 llama3 chatml mistral phi3 gemma; do
		test_expect_success "built-in $b matches @huggingface/jinja" '
			"$RENDER" -B '$b' >'$b'.jinja && compare "$TRASH/'$b'.jinja"
		'
	done
	test_expect_success 'hand-written templates match @huggingface/jinja' '
		compare "$TRASH/hand-llama2.jinja" &&
		compare "$TRASH/hand-think.jinja" &&
		compare "$TRASH/hand-think.jinja" -x "$TRASH/nothink.json"
	'
	LLAMA_TEMPLATES=${LLAMA_CPP_TEMPLATES:-/tmp/llama.cpp/models/templates}
	if [ -d "$LLAMA_TEMPLATES" ]; then
		test_expect_success 'llama.cpp models/templates/*.jinja match @huggingface/jinja' '
			n=0 &&
			for t in "$LLAMA_TEMPLATES"/*.jinja; do
				CONVS=conv3 GENS=-g compare "$t" -x "$TRASH/nothink.json" || exit 1
				n=$((n + 1))
			done &&
			echo "$n templates compared"
		'
	else
		test_skip 'llama.cpp models/templates/*.jinja match @huggingface/jinja' 'no llama.cpp checkout'
	fi
else
	test_skip 'templates match @huggingface/jinja' 'node or @huggingface/jinja missing'
fi

test_done
