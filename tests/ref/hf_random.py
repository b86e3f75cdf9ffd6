#!/usr/bin/python3
"""hf_random - random-weight Hugging Face model directories and an
independent PyTorch forward pass computed from their safetensors and
config.json (not from any GGUF), for quantize --import hf (tests/cli/t0846).
Debian's /usr/bin/python3 with python3-torch and python3-numpy; safetensors
files are written and read here directly (huggingface/safetensors "Format":
u64 little-endian header size, JSON header, row-major little-endian data).

  hf_random.py make ARCH DIR [--dtype f32|f16|bf16] [--shards N] [--seed S]
      ARCH: bert (BertModel, all-MiniLM-L6-v2's tokenizer and mean pooling
      config), bert-cls (BertForSequenceClassification, 1 label, a pooler),
      llama (LlamaForCausalLM, Llama-3 tokenizer, llama3 rope scaling,
      untied output), llama2 (LlamaForCausalLM, a Llama-2 style tokenizer.json
      made from llama.cpp's ggml-vocab-llama-spm.gguf, default rope), qwen2 (Qwen2ForCausalLM, q/k/v biases, tied), qwen3
      (Qwen3ForCausalLM, q/k norms, head_dim 32 != hidden/heads, tied).
      Tokenizers come from ../shared/tokenizers.  --shards N > 1 writes
      model-0000i-of-0000N.safetensors and model.safetensors.index.json.
  hf_random.py embed DIR [--pooling mean|cls|rank] < records > out
      BERT forward (transformers' BertModel: embeddings + LayerNorm, post-norm
      layers, exact erf GELU), records {"id", "tokens", "types"?}, output
      {"id", "embedding"} un-normalised; rank = BertForSequenceClassification
      logits (pooler dense + tanh on [CLS], then classifier).
  hf_random.py logits DIR OUT.npy TOKEN...
      Decoder forward (transformers' LlamaForCausalLM / Qwen2 / Qwen3:
      RMSNorm, rotate-half RoPE on q/k as stored, llama3 rope scaling, GQA,
      SwiGLU) in float64: logits [T, n_vocab].
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("LMPIPE_SHARED", os.path.join(ROOT, "..", "shared"))
TOK = os.path.join(SHARED, "tokenizers")

ST_DTYPES = {"F32": "<f4", "F16": "<f2"}


def to_bf16_bits(a):
    """float32 -> bfloat16 bit patterns, round to nearest even."""
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, tensors, dtype):
    """tensors: [(name, float32 array)] in file order, stored as DTYPE."""
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        if dtype == "bf16":
            raw, st = to_bf16_bits(a).tobytes(), "BF16"
        elif dtype == "f16":
            raw, st = a.astype("<f2").tobytes(), "F16"
        else:
            raw, st = a.astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": st, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """{name: float64 array} of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[base + b:base + end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype=ST_DTYPES[e["dtype"]])
        out[name] = a.astype(np.float64).reshape(e["shape"])
    return out


def read_model(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for fn in files:
        w.update(read_safetensors(os.path.join(d, fn)))
    return cfg, w


def spm_tokenizer_json(path):
    """A Llama-2 style tokenizer.json (BPE with byte fallback) from llama.cpp's
    ggml-vocab-llama-spm.gguf, the way transformers' LlamaConverter builds one
    from a SentencePiece model: merges from SentencePieceExtractor (every split
    of a piece into two pieces, by the piece's score, best first, then by the
    ids of the halves), Prepend + Replace normalizer, <s> template."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gguf_model import GgufModel
    m = GgufModel(os.path.join(TOK, "llama.cpp-vocab", "ggml-vocab-llama-spm.gguf"))
    toks, scores, types = m.meta["tokenizer.ggml.tokens"], m.meta["tokenizer.ggml.scores"], \
        m.meta["tokenizer.ggml.token_type"]
    vocab = {t: i for i, t in enumerate(toks)}
    merges = []
    for i, t in enumerate(toks):
        local = [(t[:k], t[k:], scores[i]) for k in range(1, len(t)) if t[:k] in vocab and t[k:] in vocab]
        merges.extend(sorted(local, key=lambda x: (vocab[x[0]], vocab[x[1]])))
    merges.sort(key=lambda x: x[2], reverse=True)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(toks) if types[i] in (2, 3)]
    tpl = [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None,
            "post_processor": {"type": "TemplateProcessing", "single": tpl, "pair": tpl + tpl[1:],
                               "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                      "ignore_merges": False, "vocab": vocab, "merges": [a + " " + b for a, b, _ in merges]}}


# ---- make ----

def make(args):
    rng = np.random.default_rng(args.seed)
    out = []

    def normal(shape, std):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def lin(name, n_out, n_in, bias=True, scale=1.0):
        out.append((name + ".weight", normal((n_out, n_in), scale / np.sqrt(n_in))))
        if bias:
            out.append((name + ".bias", normal((n_out,), 0.02)))

    def norm(name, n, bias=True):
        out.append((name + ".weight", (1.0 + normal((n,), 0.05)).astype(np.float32)))
        if bias:
            out.append((name + ".bias", normal((n,), 0.02)))

    d = args.dir
    os.makedirs(d, exist_ok=True)
    a = args.arch
    if a in ("bert", "bert-cls"):
        E, L, H, F, C, V, TT = 64, 2, 4, 128, 128, 30522, 2
        src = os.path.join(TOK, "all-MiniLM-L6-v2")
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(src, fn), os.path.join(d, fn))
        cfg = {"architectures": ["BertModel" if a == "bert" else "BertForSequenceClassification"],
               "model_type": "bert", "hidden_size": E, "num_hidden_layers": L, "num_attention_heads": H,
               "intermediate_size": F, "max_position_embeddings": C, "type_vocab_size": TT,
               "vocab_size": V, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0,
               "position_embedding_type": "absolute", "_name_or_path": "lmpipe/random-" + a}
        p = "" if a == "bert" else "bert."
        out.append((p + "embeddings.word_embeddings.weight", normal((V, E), 0.5)))
        out.append((p + "embeddings.position_embeddings.weight", normal((C, E), 0.2)))
        out.append((p + "embeddings.token_type_embeddings.weight", normal((TT, E), 0.2)))
        norm(p + "embeddings.LayerNorm", E)
        for i in range(L):
            q = p + "encoder.layer.%d." % i
            lin(q + "attention.self.query", E, E)
            lin(q + "attention.self.key", E, E)
            lin(q + "attention.self.value", E, E)
            lin(q + "attention.output.dense", E, E, scale=0.2)
            norm(q + "attention.output.LayerNorm", E)
            lin(q + "intermediate.dense", F, E)
            lin(q + "output.dense", E, F, scale=0.2)
            norm(q + "output.LayerNorm", E)
        lin(p + "pooler.dense", E, E)
        if a == "bert":
            with open(os.path.join(d, "modules.json"), "w") as f:
                json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                           {"idx": 1, "name": "1", "path": "1_Pooling",
                            "type": "sentence_transformers.models.Pooling"}], f)
            os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
            shutil.copyfile(os.path.join(src, "1_Pooling", "config.json"), os.path.join(d, "1_Pooling", "config.json"))
        else:
            cfg["id2label"] = {"0": "LABEL_0"}
            cfg["label2id"] = {"LABEL_0": 0}
            lin("classifier", 1, E, scale=2.0)
    else:
        E, L, H, KV, F, C = 64, 2, 4, 2, 128, 256
        hd = 32 if a == "qwen3" else E // H
        tied = a not in ("llama", "llama2")
        if a == "llama2":
            with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
                json.dump(spm_tokenizer_json(TOK), f, ensure_ascii=False)
            V = 32000
            tc = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                  "add_eos_token": False}
            cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "rms_norm_eps": 1e-6,
                   "bos_token_id": 1, "eos_token_id": 2}
        elif a == "llama":
            shutil.copyfile(os.path.join(TOK, "llama3-tokenizer.json"), os.path.join(d, "tokenizer.json"))
            V = 128256
            tc = {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "add_bos_token": True,
                  "chat_template": "{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
                                   "<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"}
            cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "rope_theta": 500000.0,
                   "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                    "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                   "rms_norm_eps": 1e-5, "bos_token_id": 128000, "eos_token_id": 128001}
        else:
            shutil.copyfile(os.path.join(TOK, "qwen3-tokenizer.json"), os.path.join(d, "tokenizer.json"))
            V = 151936
            tc = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": None,
                  "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                                   "<|im_end|>\n{% endfor %}"}
            cfg = {"architectures": ["Qwen2ForCausalLM" if a == "qwen2" else "Qwen3ForCausalLM"],
                   "model_type": a, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "eos_token_id": 151645}
            if a == "qwen3":
                cfg["head_dim"] = hd
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(tc, f)
        cfg.update({"hidden_size": E, "num_hidden_layers": L, "num_attention_heads": H,
                    "num_key_value_heads": KV, "intermediate_size": F, "max_position_embeddings": C,
                    "vocab_size": V, "hidden_act": "silu", "tie_word_embeddings": tied,
                    "_name_or_path": "lmpipe/random-" + a})
        out.append(("model.embed_tokens.weight", normal((V, E), 0.5)))
        for i in range(L):
            q = "model.layers.%d." % i
            norm(q + "input_layernorm", E, False)
            lin(q + "self_attn.q_proj", H * hd, E, bias=a == "qwen2")
            lin(q + "self_attn.k_proj", KV * hd, E, bias=a == "qwen2")
            lin(q + "self_attn.v_proj", KV * hd, E, bias=a == "qwen2")
            lin(q + "self_attn.o_proj", E, H * hd, bias=False)
            if a == "qwen3":
                norm(q + "self_attn.q_norm", hd, False)
                norm(q + "self_attn.k_norm", hd, False)
            norm(q + "post_attention_layernorm", E, False)
            lin(q + "mlp.gate_proj", F, E, bias=False)
            lin(q + "mlp.up_proj", F, E, bias=False)
            lin(q + "mlp.down_proj", E, F, bias=False)
        norm("model.norm", E, False)
        if not tied:
            lin("lm_head", V, E, bias=False)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if args.shards <= 1:
        write_safetensors(os.path.join(d, "model.safetensors"), out, args.dtype)
        return 0
    n = args.shards
    per = (len(out) + n - 1) // n
    wmap = {}
    for k in range(n):
        fn = "model-%05d-of-%05d.safetensors" % (k + 1, n)
        part = out[k * per:(k + 1) * per]
        write_safetensors(os.path.join(d, fn), part, args.dtype)
        wmap.update({name: fn for name, _ in part})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wmap}, f, indent=1)
    return 0


# ---- references ----

def bert_forward(torch, cfg, w, tokens, types, pooling):
    F = torch.nn.functional
    p = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
    t = lambda n: torch.from_numpy(w[p + n])
    E, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = E // H
    T = len(tokens)

    def ln(x, n):
        return F.layer_norm(x, (E,), t(n + ".weight"), t(n + ".bias"), eps=eps)

    def dense(x, n):
        return x @ t(n + ".weight").T + t(n + ".bias")

    x = t("embeddings.word_embeddings.weight")[torch.tensor(tokens)]
    x = x + t("embeddings.position_embeddings.weight")[:T]
    x = x + t("embeddings.token_type_embeddings.weight")[torch.tensor(types)]
    x = ln(x, "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        q = "encoder.layer.%d." % i
        Q = dense(x, q + "attention.self.query").reshape(T, H, hd).transpose(0, 1)
        K = dense(x, q + "attention.self.key").reshape(T, H, hd).transpose(0, 1)
        V = dense(x, q + "attention.self.value").reshape(T, H, hd).transpose(0, 1)
        a = torch.softmax(Q @ K.transpose(1, 2) / math.sqrt(hd), -1) @ V
        a = a.transpose(0, 1).reshape(T, E)
        x = ln(dense(a, q + "attention.output.dense") + x, q + "attention.output.LayerNorm")
        h = dense(x, q + "intermediate.dense")
        h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
        x = ln(dense(h, q + "output.dense") + x, q + "output.LayerNorm")
    if pooling == "mean":
        return x.mean(0)
    if pooling == "cls":
        return x[0]
    pooled = torch.tanh(dense(x[0], "pooler.dense"))
    return pooled @ torch.from_numpy(w["classifier.weight"]).T + torch.from_numpy(w["classifier.bias"])


def embed(args):
    import torch
    torch.set_num_threads(2)
    cfg, w = read_model(args.dir)
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        toks = r["tokens"]
        types = r.get("types") or [0] * len(toks)
        v = bert_forward(torch, cfg, w, toks, types, args.pooling)
        print(json.dumps({"id": r.get("id"), "embedding": [float(f) for f in v.reshape(-1)]}))
    return 0


def decoder_logits(torch, cfg, w, tokens):
    arch = cfg["architectures"][0]
    t = lambda n: torch.from_numpy(w[n])
    E, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or E // H
    eps = cfg["rms_norm_eps"]
    T = len(tokens)

    def rms(x, wt):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * wt

    # transformers modeling_rope_utils: default and llama3 inverse frequencies
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type") == "llama3":
        f, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], \
            rs["original_max_position_embeddings"]
        wave = 2 * math.pi / inv
        scaled = torch.where(wave > old / lo, inv / f, inv)
        smooth = (old / wave - lo) / (hi - lo)
        mid = (1 - smooth) * scaled / f + smooth * scaled
        medium = (wave >= old / hi) & (wave <= old / lo)
        inv = torch.where(medium, mid, scaled)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = torch.cos(emb)[:, None, :], torch.sin(emb)[:, None, :]

    def rot(x):                                   # rotate_half on [T, heads, hd]
        return torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)

    def proj(x, n):
        y = x @ t(n + ".weight").T
        return y + t(n + ".bias") if n + ".bias" in w else y

    x = t("model.embed_tokens.weight")[torch.tensor(tokens)]
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), 1)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms(x, t(p + "input_layernorm.weight"))
        q = proj(h, p + "self_attn.q_proj").reshape(T, H, hd)
        k = proj(h, p + "self_attn.k_proj").reshape(T, KV, hd)
        v = proj(h, p + "self_attn.v_proj").reshape(T, KV, hd)
        if arch == "Qwen3ForCausalLM":
            q = rms(q, t(p + "self_attn.q_norm.weight"))
            k = rms(k, t(p + "self_attn.k_norm.weight"))
        q = q * cos + rot(q) * sin
        k = k * cos + rot(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        a = torch.einsum("hts,shd->thd", torch.softmax(s, -1), v).reshape(T, H * hd)
        x = x + proj(a, p + "self_attn.o_proj")
        h = rms(x, t(p + "post_attention_layernorm.weight"))
        g = torch.nn.functional.silu(proj(h, p + "mlp.gate_proj")) * proj(h, p + "mlp.up_proj")
        x = x + proj(g, p + "mlp.down_proj")
    x = rms(x, t("model.norm.weight"))
    head = "lm_head.weight" if not cfg.get("tie_word_embeddings") else "model.embed_tokens.weight"
    return (x @ t(head).T).numpy()


def logits(args):
    import torch
    torch.set_num_threads(2)
    cfg, w = read_model(args.dir)
    np.save(args.out, decoder_logits(torch, cfg, w, args.tokens))
    return 0


def main():
    ap = argparse.ArgumentParser(prog="hf_random.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("arch", choices=("bert", "bert-cls", "llama", "llama2", "qwen2", "qwen3"))
    m.add_argument("dir")
    m.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32")
    m.add_argument("--shards", type=int, default=1)
    m.add_argument("--seed", type=int, default=1)
    e = sub.add_parser("embed")
    e.add_argument("dir")
    e.add_argument("--pooling", choices=("mean", "cls", "rank"), default="mean")
    lg = sub.add_parser("logits")
    lg.add_argument("dir")
    lg.add_argument("out")
    lg.add_argument("tokens", nargs="+", type=int)
    args = ap.parse_args()
    return {"make": make, "embed": embed, "logits": logits}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
