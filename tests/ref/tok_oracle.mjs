// tok_oracle.mjs - the reference tokenizers that tok(1) must agree with.
//
//   node tok_oracle.mjs encode MODEL [--parse-special] < in.ndjson > out.ndjson
//       Reads NDJSON records {"id", "text"} and writes {"id", "tokens"} in
//       input order, without BOS/EOS/CLS/SEP: the contract of
//       `tok -m MODEL --no-special` (SPEC.md, tok).
//   node tok_oracle.mjs bench MODEL < in.ndjson
//       Encodes every record's text and prints "BYTES SECONDS TOKENS" for
//       the encoding alone, best of three passes (model loading and I/O not
//       counted).
//   node tok_oracle.mjs compare MODEL OURS [--parse-special] < in.ndjson
//       Encodes as `encode` does and compares with the "tokens" of each
//       record of OURS (tok's output for the same input): prints the first
//       differences and exits 1 when any record differs.
//   node tok_oracle.mjs roundtrip DECODED [MODEL] < in.ndjson
//       Exits 1 unless every record of DECODED (tok --decode output) has
//       the "text" of the input record with the same id (in the Unicode
//       normal form of MODEL's normalizer when it has one, as Qwen's NFC).
//   node tok_oracle.mjs special > special.ndjson
//       Texts mixing the special-token strings of the families we test.
//   node tok_oracle.mjs corpus SHARED > corpus.ndjson
//       The differential corpus: wikitext-2 test lines, SciFact documents
//       (title and text joined by a space, as ndjson_record_text does) and
//       generated adversarial Unicode, whitespace and code strings.
//
// The reference for each format (SPEC.md, tok): tiktoken for .tiktoken rank
// files (pat_str and special tokens from the .json beside them), Hugging
// Face tokenizers logic (@lenml/tokenizers, a port of transformers.js) for
// tokenizer.json, llama.cpp (node-llama-cpp, vocabulary-only) for GGUF.
// Packages are resolved from TOK_ORACLE_MODULES (a node_modules folder).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modules = process.env.TOK_ORACLE_MODULES;
if (!modules) {
	process.stderr.write("tok_oracle: set TOK_ORACLE_MODULES to a node_modules folder\n");
	process.exit(2);
}
const require = createRequire(path.join(path.resolve(modules), "..", "package.json"));

async function importPackage(name) {
	return import(pathToFileURL(require.resolve(name)).href);
}

// A tokenizer as {encode(text) -> number[], free()}.
async function openTiktoken(file, parseSpecial) {
	const { Tiktoken } = await importPackage("tiktoken");
	const meta = JSON.parse(readFileSync(file.replace(/\.tiktoken$/, ".json"), "utf8"));
	const enc = new Tiktoken(readFileSync(file, "utf8"), meta.special_tokens, meta.pat_str);
	return {
		// encode_ordinary never looks for special-token text; encode with
		// allowed "all" turns it into the special ids.
		encode: parseSpecial ? (t) => enc.encode(t, "all", []) : (t) => enc.encode_ordinary(t),
		free: () => enc.free(),
	};
}

async function openHfJson(file) {
	const { TokenizerLoader } = await importPackage("@lenml/tokenizers");
	const json = JSON.parse(readFileSync(file, "utf8"));
	let config = {};
	try {
		config = JSON.parse(readFileSync(path.join(path.dirname(file), "tokenizer_config.json"), "utf8"));
	} catch {
		// tokenizer.json alone is the whole tokenizer for encoding.
	}
	const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
	patchNormalizer(tok.normalizer);
	patchPreTokenizer(tok.pre_tokenizer);
	// Hugging Face tokenizers always match added tokens, special ones
	// included, so there is no "plain text" mode to choose here.
	return {
		encode: (t) => tok.encode(t, { add_special_tokens: false }),
		free: () => {},
	};
}

// @lenml/tokenizers runs Hugging Face's patterns as JavaScript regexes, whose
// \s is not the one of the Rust library: JavaScript counts U+FEFF and not
// U+0085, while Oniguruma (Split patterns), Rust's char::is_whitespace
// (BertPreTokenizer, WhitespaceSplit) and tiktoken's regex use the Unicode
// White_Space property.  The patterns are rewritten with White_Space spelt
// out, so the port tokenizes as the library it ports.
const WHITE_SPACE = "\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

function unicodeWhiteSpace(source) {
	let out = "", inClass = false;
	for (let i = 0; i < source.length; i++) {
		const c = source[i];
		if (c === "\\" && i + 1 < source.length) {
			const e = source[++i];
			if (e === "s")
				out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
			else if (e === "S" && !inClass)
				out += `[^${WHITE_SPACE}]`;
			else if (e === "S")
				throw new Error(`tok_oracle: cannot rewrite \\S inside a class in ${source}`);
			else
				out += c + e;
			continue;
		}
		if (c === "[" && !inClass)
			inClass = true;
		else if (c === "]" && inClass)
			inClass = false;
		out += c;
	}
	return out;
}

function patchPreTokenizer(p) {
	if (!p)
		return;
	if (Array.isArray(p.tokenizers))
		p.tokenizers.forEach(patchPreTokenizer);
	if (p.pattern instanceof RegExp)
		p.pattern = new RegExp(unicodeWhiteSpace(p.pattern.source), p.pattern.flags);
}

// The port's BertNormalizer departs from tokenizers' normalizers/bert.rs in
// three places: it keeps unassigned code points (bert.rs drops all of
// Other, Cn included), it looks for CJK ideographs one UTF-16 unit at a time
// (so it misses those outside the BMP), and it lowercases the whole string
// (applying the final-sigma rule, which char::to_lowercase does not) before
// stripping accents.  This is bert.rs's order and definitions.
function bertNormalize(config, text) {
	const isChinese = (cp) => (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
		(cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
		(cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
		(cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
	const white = new RegExp(`^[${WHITE_SPACE}]$`, "u");
	let chars = Array.from(text);
	if (config.clean_text)
		chars = chars.filter((c) => c !== "\0" && c !== "\ufffd" &&
			(c === "\t" || c === "\n" || c === "\r" || !/^\p{C}$/u.test(c)))
			.map((c) => (white.test(c) ? " " : c));
	if (config.handle_chinese_chars)
		chars = chars.map((c) => (isChinese(c.codePointAt(0)) ? ` ${c} ` : c));
	text = chars.join("");
	// bert.rs: strip_accents defaults to the value of lowercase.
	const strip = config.strip_accents ?? config.lowercase;
	if (strip)
		text = text.normalize("NFD").replace(/\p{Mn}/gu, "");
	if (config.lowercase)
		text = Array.from(text, (c) => c.toLowerCase()).join("");
	return text;
}

function patchNormalizer(n) {
	if (!n)
		return;
	if (Array.isArray(n.normalizers))
		n.normalizers.forEach(patchNormalizer);
	if (n.config && n.config.type === "BertNormalizer")
		n.normalize = (text) => bertNormalize(n.config, text);
}

async function openGguf(file, parseSpecial) {
	const { getLlama, LlamaLogLevel } = await importPackage("node-llama-cpp");
	const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.disabled });
	const model = await llama.loadModel({ modelPath: path.resolve(file), vocabOnly: true });
	// common_tokenize(vocab, text, add_special = false, parse_special).
	return {
		encode: (t) => Array.from(model.tokenize(t, parseSpecial)),
		free: async () => {
			await model.dispose();
			await llama.dispose();
		},
	};
}

async function openTokenizer(file, parseSpecial) {
	if (file.endsWith(".tiktoken"))
		return openTiktoken(file, parseSpecial);
	if (file.endsWith(".gguf"))
		return openGguf(file, parseSpecial);
	return openHfJson(file);
}

function readRecords() {
	const input = readFileSync(0, "utf8");
	const recs = [];
	for (const line of input.split("\n")) {
		if (line.trim() === "")
			continue;
		recs.push(JSON.parse(line));
	}
	return recs;
}

// Output in blocks: one write(2) per line would dominate the run time.
function writeLines(lines) {
	const s = lines.join("");
	let buf = Buffer.from(s, "utf8");
	while (buf.length) {
		const n = writeSync(1, buf);
		buf = buf.subarray(n);
	}
}

// Deterministic generator (mulberry32), so a failing case can be rerun.
function prng(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

// Strings that stress pre-tokenizer regexes and byte handling: contractions
// in mixed case, digit runs, every kind of white space and line end,
// combining marks, CJK, emoji with ZWJ and skin tones, RTL, private use,
// astral letters and numbers, noncharacters, code.
function adversarial(n) {
	const rnd = prng(20261123);
	const pieces = [
		" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\u00a0", "\u2009", "\u3000",
		"\u2028", "\u200b", "\ufeff", "\u000b", "\u000c", "\u0085",
		"'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'d", "'D", "'x", "\u2019s", "n't",
		"0", "1", "12", "123", "1234", "12345", "3.14159", "1,000,000", "\u0663\u0664", "\u00bd", "\u2167",
		"\ud835\udfd8", "\u2460",
		"a", "A", "the", "The", " the", "Hello", "hello", "WORLD", "x", "\u00e9", "e\u0301", "\u00c5ngstr\u00f6m",
		"\u0130stanbul", "stra\u00dfe", "\ufb01", "\u1e9e",
		"\u4e2d\u6587", "\u65e5\u672c\u8a9e", "\ud55c\uad6d\uc5b4", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
		"\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u05e2\u05d1\u05e8\u05d9\u05ea", "\u0939\u093f\u0928\u094d\u0926\u0940",
		"\u0440\u0443\u0441\u0441\u043a\u0438\u0439", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
		"\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67", "\ud83c\uddfa\ud83c\uddf8",
		"\u2764\ufe0f", "\ud800\udf48", "\ud840\udc0b", "\ue000", "\ufdd0", "\ufffd", "\u0000",
		".", ",", "!", "?", "...", "--", "->", "=>", "::", "(", ")", "[", "]", "{", "}", "<", ">", "/", "\\",
		"\"", "'", "`", "@", "#", "$", "%", "^", "&", "*", "_", "+", "=", "|", "~", ";", ":",
		"def f(x):\n    return x + 1\n", "int main(void) { return 0; }", "for (i = 0; i < n; i++)",
		"\tif (a && b) {\n\t\tfoo();\n\t}", "<div class=\"x\">", "https://example.com/a?b=1&c=2",
		"0x1F", "1e-9", "a_b_c", "camelCaseWord", "SCREAMING_CASE", "    indented", "trailing   ",
	];
	const out = [];
	for (let i = 0; i < n; i++) {
		const len = 1 + Math.floor(rnd() * 24);
		let s = "";
		for (let j = 0; j < len; j++)
			s += pieces[Math.floor(rnd() * pieces.length)];
		out.push(s);
	}
	// Single pieces and runs of them alone, where edge cases hide.
	for (const p of pieces) {
		out.push(p);
		out.push(p + p + p);
	}
	// Every white space run of length 1..8 over a few kinds, between words.
	for (const w of [" ", "\n", "\t", "\r\n", "\u00a0"])
		for (let k = 1; k <= 8; k++)
			out.push("a" + w.repeat(k) + "b" + w.repeat(k));
	return out;
}

function corpus(shared) {
	const lines = [];
	let id = 0;
	const push = (text) => lines.push(JSON.stringify({ id: `c${id++}`, text }) + "\n");
	const wiki = readFileSync(path.join(shared, "data/wikitext-2/wiki.test.raw"), "utf8");
	for (let line of wiki.split("\n")) {
		line = line.replace(/\r$/, "");
		if (line.trim() !== "")
			push(line);
	}
	const scifact = readFileSync(path.join(shared, "data/scifact/corpus.jsonl"), "utf8");
	for (const line of scifact.split("\n")) {
		if (line.trim() === "")
			continue;
		const d = JSON.parse(line);
		const parts = [d.title, d.text].filter((s) => typeof s === "string" && s !== "");
		push(parts.join(" "));
	}
	for (const s of adversarial(3000))
		push(s);
	writeLines(lines);
}

function special() {
	const marks = [
		"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>",
		"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
		"<|end_header_id|>", "<|im_start|>", "<|im_end|>", "<s>", "</s>", "<unk>", "[CLS]",
		"[SEP]", "[MASK]", "[PAD]", "<|endoftext", "<|im_start", "<s", "[CLS", "<pad>",
	];
	const words = ["", " ", "hello", " world", "\n", "x", "<", "|", ">", "  "];
	const rnd = prng(7);
	const lines = [];
	for (let i = 0; i < 400; i++) {
		let s = "";
		const k = 1 + Math.floor(rnd() * 6);
		for (let j = 0; j < k; j++)
			s += words[Math.floor(rnd() * words.length)] + marks[Math.floor(rnd() * marks.length)];
		s += words[Math.floor(rnd() * words.length)];
		lines.push(JSON.stringify({ id: `s${i}`, text: s }) + "\n");
	}
	writeLines(lines);
}

function readNdjsonFile(file) {
	const byId = new Map();
	for (const line of readFileSync(file, "utf8").split("\n"))
		if (line.trim() !== "") {
			const r = JSON.parse(line);
			byId.set(r.id, r);
		}
	return byId;
}

// The reference ids for RECS, from TOK_ORACLE_CACHE when it has them: they
// depend only on the model, the texts, this script and the package
// versions, all of which go into the key.
async function referenceIds(model, parseSpecial, recs) {
	const dir = process.env.TOK_ORACLE_CACHE;
	let file = null;
	if (dir) {
		const h = createHash("sha256");
		h.update(readFileSync(new URL(import.meta.url)));
		for (const pkg of ["tiktoken", "@lenml/tokenizers", "node-llama-cpp"])
			h.update(readFileSync(path.join(modules, pkg, "package.json")));
		h.update(readFileSync(model));
		if (model.endsWith(".tiktoken"))
			h.update(readFileSync(model.replace(/\.tiktoken$/, ".json")));
		h.update(parseSpecial ? "special" : "plain");
		for (const r of recs)
			h.update(r.text + "\u0000");
		file = path.join(dir, h.digest("hex") + ".json");
		if (existsSync(file))
			return JSON.parse(readFileSync(file, "utf8"));
	}
	const tok = await openTokenizer(model, parseSpecial);
	const ids = recs.map((r) => Array.from(tok.encode(r.text)));
	await tok.free();
	if (file) {
		mkdirSync(dir, { recursive: true });
		writeFileSync(file + ".tmp", JSON.stringify(ids));
		renameSync(file + ".tmp", file);
	}
	return ids;
}

// The Unicode normal form a tokenizer.json's normalizer puts text in (a
// byte-level tokenizer then decodes to that form, not to the input), or null.
function normalForm(model) {
	if (!model.endsWith(".json"))
		return null;
	const n = JSON.parse(readFileSync(model, "utf8")).normalizer;
	if (n && ["NFC", "NFD", "NFKC", "NFKD"].includes(n.type))
		return n.type;
	if (n)
		throw new Error(`tok_oracle: roundtrip: normalizer ${n.type} of ${model} is not a normal form`);
	return null;
}

function show(a) {
	return JSON.stringify(a.length > 40 ? a.slice(0, 40).concat(["..."]) : a);
}

async function main() {
	const [cmd, arg, ...rest] = process.argv.slice(2);
	if (cmd === "corpus") {
		corpus(arg);
		return;
	}
	if (cmd === "special") {
		special();
		return;
	}
	if (cmd === "roundtrip") {
		const dec = readNdjsonFile(arg);
		const form = rest[0] ? normalForm(rest[0]) : null;
		let bad = 0, n = 0;
		for (const r of readRecords()) {
			n++;
			const d = dec.get(r.id);
			const want = form ? r.text.normalize(form) : r.text;
			if (!d || d.text !== want) {
				if (++bad <= 5)
					process.stdout.write(`# ${r.id}: ${JSON.stringify(want)} came back as ` +
						`${d ? JSON.stringify(d.text) : "nothing"}\n`);
			}
		}
		process.stdout.write(`# decode(encode(x)) == x for ${n - bad} of ${n} texts\n`);
		process.exit(bad ? 1 : 0);
	}
	if ((cmd !== "encode" && cmd !== "bench" && cmd !== "compare") || !arg) {
		process.stderr.write("usage: tok_oracle.mjs encode|bench|compare MODEL [OURS] [--parse-special] | " +
			"roundtrip DECODED [MODEL] | corpus SHARED | special\n");
		process.exit(2);
	}
	const parseSpecial = rest.includes("--parse-special");
	const recs = readRecords();
	if (cmd === "compare") {
		const ours = readNdjsonFile(rest[0]);
		const ref = await referenceIds(arg, parseSpecial, recs);
		let bad = 0;
		for (const [i, r] of recs.entries()) {
			const want = ref[i];
			const o = ours.get(r.id);
			const got = o && Array.isArray(o.tokens) ? o.tokens : null;
			if (!got || got.length !== want.length || got.some((v, i) => v !== want[i])) {
				if (++bad <= 5)
					process.stdout.write(`# ${r.id}: text ${JSON.stringify(r.text.slice(0, 200))}\n` +
						`#   reference ${show(want)}\n#   tok       ${got ? show(got) : "no tokens"}\n`);
			}
		}
		process.stdout.write(`# ${recs.length - bad} of ${recs.length} texts agree\n`);
		process.exit(bad ? 1 : 0);
	}
	const tok = await openTokenizer(arg, parseSpecial);
	if (cmd === "bench") {
		const texts = recs.map((r) => r.text);
		let bytes = 0;
		for (const t of texts)
			bytes += Buffer.byteLength(t, "utf8");
		// Best of three passes, as scripts/bench-tok times tok.
		let secs = Infinity, n = 0;
		for (let pass = 0; pass < 3; pass++) {
			const t0 = process.hrtime.bigint();
			n = 0;
			for (const t of texts)
				n += tok.encode(t).length;
			secs = Math.min(secs, Number(process.hrtime.bigint() - t0) / 1e9);
		}
		process.stdout.write(`${bytes} ${secs.toFixed(4)} ${n}\n`);
	} else {
		const out = [];
		for (const r of recs)
			out.push(JSON.stringify({ id: r.id, tokens: Array.from(tok.encode(r.text)) }) + "\n");
		writeLines(out);
	}
	await tok.free();
}

main().catch((e) => {
	process.stderr.write(`tok_oracle: ${e && e.stack ? e.stack : e}\n`);
	process.exit(1);
});
