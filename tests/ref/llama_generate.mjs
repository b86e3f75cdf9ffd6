// llama_generate.mjs - greedy generation with llama.cpp (node-llama-cpp), the
// reference a GGUF model written by quantize(1) must agree with.
//
//   node llama_generate.mjs MODEL N
//       Starts from the BOS token alone, takes the most likely token N
//       times (temperature 0, no repetition penalty), stops early at EOS,
//       and prints the generated text (the tokens detokenized, BOS left
//       out) followed by a newline.
//   node llama_generate.mjs MODEL N --tokens
//       Prints the generated token ids, one line, space-separated.
//
// node-llama-cpp is resolved from LLAMA_MODULES (a node_modules folder).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modules = process.env.LLAMA_MODULES;
const [file, nArg, mode] = process.argv.slice(2);
if (!modules || !file || !nArg) {
	process.stderr.write("usage: LLAMA_MODULES=DIR node llama_generate.mjs MODEL N [--tokens]\n");
	process.exit(2);
}
const require = createRequire(path.join(path.resolve(modules), "..", "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: path.resolve(file), gpuLayers: 0 });
const n = Number(nArg);
const context = await model.createContext({ contextSize: Math.max(64, n + 8), threads: 1 });
const sequence = context.getSequence();
const bos = model.tokens.bos;
const out = [];
for await (const token of sequence.evaluate([bos], { temperature: 0 })) {
	if (token === model.tokens.eos)
		break;
	out.push(token);
	if (out.length >= n)
		break;
}
if (mode === "--tokens")
	process.stdout.write(out.join(" ") + "\n");
else
	process.stdout.write(model.detokenize(out) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
