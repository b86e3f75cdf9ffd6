// llama_ref.mjs - llama.cpp (node-llama-cpp) as the reference for embed(1)
// and rerank(1) on the same GGUF files.
//
//   node llama_ref.mjs embed MODEL [THREADS] < in.ndjson > out.ndjson
//       Records {"id", "text"} or {"id", "tokens"}; writes {"id", "n_tokens",
//       "tokens", "embedding"} in input order (tokens: the ids evaluated).  A text is tokenized by llama.cpp with
//       its special tokens (CLS ... SEP for a WordPiece vocabulary, added by
//       node-llama-cpp's LlamaEmbeddingContext when missing); tokens are used
//       as given (CLS/SEP added when missing, the same rule).  The embedding
//       is what llama.cpp returns for the sequence (llama_get_embeddings_seq
//       with the file's pooling_type): pooled, NOT normalised.
//   node llama_ref.mjs rank MODEL [THREADS] < hits.ndjson > out.ndjson
//       Search hits {"qid", "id", "query", "text" (after "title" when there
//       is one)}; writes {"qid", "id", "score", "logit"} in input order.
//       node-llama-cpp's LlamaRankingContext builds [BOS] query [EOS] [SEP]
//       document [EOS] from the vocabulary's tokens; a WordPiece vocabulary
//       has BOS = CLS and no EOS, so it would give [CLS] q [SEP] d without
//       the closing [SEP] of Hugging Face's pair encoding: the document is
//       passed as token ids with SEP appended to get [CLS] q [SEP] d [SEP].
//       "score" is what rank() returns, sigmoid of the first output of the
//       rank-pooled head (llama.cpp build_pooling: CLS row -> cls + bias ->
//       tanh -> cls.output + bias); "logit" is that output recovered as
//       log(p / (1 - p)).
//
// llama.cpp gives every token type id 0 (segment A), even in the second
// segment of a pair: compare rerank scores with it on models with one token
// type.  Packages are resolved from LLAMA_REF_MODULES (a node_modules
// folder, e.g. build/ref-node/node_modules).
import { readFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.LLAMA_REF_MODULES;
if (!modules) {
	process.stderr.write("llama_ref: set LLAMA_REF_MODULES to a node_modules folder\n");
	process.exit(2);
}
const require = createRequire(path.join(path.resolve(modules), "..", "package.json"));

function readRecords() {
	const recs = [];
	for (const line of readFileSync(0, "utf8").split("\n")) {
		if (line.trim() !== "")
			recs.push(JSON.parse(line));
	}
	return recs;
}

function writeLines(lines) {
	let buf = Buffer.from(lines.join(""), "utf8");
	while (buf.length)
		buf = buf.subarray(writeSync(1, buf));
}

function recordText(r) {
	const text = typeof r.text === "string" ? r.text : "";
	return typeof r.title === "string" && r.title !== "" ? r.title + " " + text : text;
}

async function openModel(file) {
	const { getLlama, LlamaLogLevel } = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
	const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
	const model = await llama.loadModel({ modelPath: path.resolve(file) });
	return { llama, model };
}

async function embed(file, threads) {
	const recs = readRecords();
	const { llama, model } = await openModel(file);
	// A non-causal model must see a whole sequence in one batch.
	const n = model.trainContextSize;
	const ctx = await model.createEmbeddingContext({ contextSize: n, batchSize: n, threads });
	const out = [];
	const { bos, sep } = model.tokens;
	for (const r of recs) {
		const tokens = Array.isArray(r.tokens) ? r.tokens.slice() : Array.from(model.tokenize(recordText(r), false));
		// LlamaEmbeddingContext's own rule for a WordPiece vocabulary.
		if (bos != null && tokens[0] !== bos)
			tokens.unshift(bos);
		if (sep != null && tokens.at(-1) !== sep)
			tokens.push(sep);
		const e = await ctx.getEmbeddingFor(tokens);
		out.push(JSON.stringify({ id: r.id, n_tokens: tokens.length, tokens, embedding: Array.from(e.vector) }) + "\n");
	}
	await ctx.dispose();
	await model.dispose();
	await llama.dispose();
	writeLines(out);
}

async function rank(file, threads) {
	const recs = readRecords();
	const { llama, model } = await openModel(file);
	const n = model.trainContextSize;
	const ctx = await model.createRankingContext({ contextSize: n, batchSize: n, threads });
	const sep = model.tokens.sep;
	if (sep == null)
		throw new Error(file + ": the vocabulary has no SEP token");
	const out = [];
	for (const r of recs) {
		const q = Array.from(model.tokenize(String(r.query ?? ""), false));
		const d = Array.from(model.tokenize(recordText(r), false));
		d.push(sep);
		const p = await ctx.rank(q, d);
		const logit = Math.log(p) - Math.log1p(-p);
		out.push(JSON.stringify({ qid: r.qid, id: r.id, score: p, logit }) + "\n");
	}
	await ctx.dispose();
	await model.dispose();
	await llama.dispose();
	writeLines(out);
}

const [mode, file, threadsArg] = process.argv.slice(2);
const threads = threadsArg ? Number(threadsArg) : 2;
const modes = { embed, rank };
if (!modes[mode] || !file) {
	process.stderr.write("usage: node llama_ref.mjs embed|rank MODEL [THREADS] < in.ndjson\n");
	process.exit(2);
}
try {
	await modes[mode](file, threads);
} catch (e) {
	process.stderr.write(`llama_ref: ${file}: ${e && e.message ? e.message : e}\n`);
	process.exit(1);
}
