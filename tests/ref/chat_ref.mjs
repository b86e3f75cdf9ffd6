// chat_ref.mjs - independent reference for chat template rendering: the
// @huggingface/jinja engine (what transformers.js renders chat templates
// with) on the same template, messages and variables as tests/helpers/chat-render.
//
//   node chat_ref.mjs [-g] [-b BOS] [-e EOS] [-x VARS.json] TEMPLATE MESSAGES.json
//
// Needs @huggingface/jinja in NODE_PATH or build/ref-node/node_modules.
// Prints the rendered text unchanged; a template error goes to stderr, exit 1.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bases = [path.join(here, "../../build/ref-node/"), process.cwd() + "/"];
let jinja = null;
for (const b of bases) {
	try {
		jinja = createRequire(b).resolve("@huggingface/jinja");
		break;
	} catch {}
}
if (!jinja) {
	process.stderr.write("chat_ref: @huggingface/jinja not installed\n");
	process.exit(3);
}
const { Template } = await import(jinja.startsWith("/") ? "file://" + jinja : jinja);

const args = process.argv.slice(2);
const vars = { add_generation_prompt: false, bos_token: "", eos_token: "" };
const files = [];
for (let i = 0; i < args.length; i++) {
	const a = args[i];
	if (a === "-g") vars.add_generation_prompt = true;
	else if (a === "-b") vars.bos_token = args[++i];
	else if (a === "-e") vars.eos_token = args[++i];
	else if (a === "-x") Object.assign(vars, JSON.parse(readFileSync(args[++i], "utf8")));
	else files.push(a);
}
if (files.length !== 2) {
	process.stderr.write("usage: chat_ref.mjs [-g] [-b BOS] [-e EOS] [-x VARS.json] TEMPLATE MESSAGES.json\n");
	process.exit(2);
}
try {
	const tmpl = new Template(readFileSync(files[0], "utf8"));
	const messages = JSON.parse(readFileSync(files[1], "utf8"));
	const { add_generation_prompt, bos_token, eos_token, ...extra } = vars;
	process.stdout.write(tmpl.render({ messages, add_generation_prompt, bos_token, eos_token, ...extra }));
} catch (e) {
	process.stderr.write(`chat_ref: ${e.message}\n`);
	process.exit(1);
}
