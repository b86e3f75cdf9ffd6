#!/usr/bin/python3
"""llama_ref - an independent PyTorch forward pass for llama.cpp's "llama",
"qwen2" and "qwen3" GGUF decoders, in float64: the reference generate(1)'s
logits are checked against (tests/cli/t0870).  Debian's /usr/bin/python3
with python3-torch and python3-numpy; the file is read by gguf_model.py.

  llama_ref.py logits MODEL OUT.npy TOKEN...
      Logits of every position of the token sequence, [T, n_vocab] float64.
  llama_ref.py compare OURS.npy REF.npy [--rel TOL]
      max|ours - ref| / max|ref| over the whole array must be <= TOL
      (default 1e-4).  Prints it; exit 1 on a miss.

The model (src/models/llama.cpp, qwen2.cpp, qwen3.cpp, llama-graph.cpp):
  x = token_embd[t]
  per layer: h = RMSNorm(x) * attn_norm  (x / sqrt(mean(x^2) + eps));
  q, k, v = h W^T (+ bias when present); qwen3: q and k RMS-normed per head
  with attn_q_norm / attn_k_norm; rotary positions on the first n_rot
  dimensions of each head, angle pos * base^(-2i/n_rot), pairs (2i, 2i+1)
  for llama (ggml's normal layout) and (i, i + n_rot/2) for qwen2/qwen3
  (NeoX); causal attention with scale 1/sqrt(head size), KV head
  h // (n_head / n_head_kv) for query head h; x += attn_output(att);
  x += ffn_down(silu(ffn_gate(h2)) * ffn_up(h2)) with h2 = RMSNorm(x) *
  ffn_norm; logits = RMSNorm(x) * output_norm, times output (token_embd
  when absent), + output.bias when present.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_model import GgufModel  # noqa: E402


def run(path, tokens):
    m = GgufModel(path)
    arch = m.meta["general.architecture"]
    if arch not in ("llama", "qwen2", "qwen3"):
        raise SystemExit("llama_ref: %s: architecture %s is not llama/qwen2/qwen3" % (path, arch))

    def hp(key, default=None):
        v = m.meta.get(arch + "." + key, default)
        if v is None:
            raise SystemExit("llama_ref: %s: missing %s.%s" % (path, arch, key))
        return v

    def t(name):
        return torch.from_numpy(np.asarray(m.tensor(name), dtype=np.float64))

    def opt(name):
        return t(name) if m.has(name) else None

    n_embd = hp("embedding_length")
    n_layer = hp("block_count")
    n_head = hp("attention.head_count")
    n_head_kv = hp("attention.head_count_kv", n_head)
    hd = hp("attention.key_length", n_embd // n_head)
    n_rot = hp("rope.dimension_count", hd)
    base = float(hp("rope.freq_base", 10000.0))
    eps = float(hp("attention.layer_norm_rms_epsilon"))
    neox = arch != "llama"

    def rms(x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w

    T = len(tokens)
    pos = torch.arange(T, dtype=torch.float64)
    inv = base ** (-torch.arange(0, n_rot, 2, dtype=torch.float64) / n_rot)
    ang = pos[:, None] * inv[None, :]            # [T, n_rot/2]
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]

    def rope(x):                                 # [T, heads, hd]
        r, rest = x[..., :n_rot], x[..., n_rot:]
        if neox:
            a, b = r[..., : n_rot // 2], r[..., n_rot // 2:]
            r = torch.cat([a * cos - b * sin, a * sin + b * cos], -1)
        else:
            a, b = r[..., 0::2], r[..., 1::2]
            r = torch.stack([a * cos - b * sin, a * sin + b * cos], -1).reshape(r.shape)
        return torch.cat([r, rest], -1)

    def lin(x, name):
        y = x @ t(name + ".weight").T
        b = opt(name + ".bias")
        return y + b if b is not None else y

    x = t("token_embd.weight")[torch.tensor(tokens)]
    mask = torch.triu(torch.full((T, T), float("-inf"), dtype=torch.float64), 1)
    rep = n_head // n_head_kv
    for il in range(n_layer):
        p = "blk.%d." % il
        h = rms(x, t(p + "attn_norm.weight"))
        q = lin(h, p + "attn_q").reshape(T, n_head, hd)
        k = lin(h, p + "attn_k").reshape(T, n_head_kv, hd)
        v = lin(h, p + "attn_v").reshape(T, n_head_kv, hd)
        if arch == "qwen3":
            q = rms(q, t(p + "attn_q_norm.weight"))
            k = rms(k, t(p + "attn_k_norm.weight"))
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = torch.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        a = torch.einsum("hts,shd->thd", torch.softmax(s, -1), v).reshape(T, n_head * hd)
        x = x + lin(a, p + "attn_output")
        h = rms(x, t(p + "ffn_norm.weight"))
        g = lin(h, p + "ffn_gate")
        x = x + lin(torch.nn.functional.silu(g) * lin(h, p + "ffn_up"), p + "ffn_down")
    x = rms(x, t("output_norm.weight"))
    w = t("output.weight") if m.has("output.weight") else t("token_embd.weight")
    y = x @ w.T
    b = opt("output.bias")
    return (y + b if b is not None else y).numpy()


def main():
    ap = argparse.ArgumentParser(prog="llama_ref")
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("logits")
    a.add_argument("model")
    a.add_argument("out")
    a.add_argument("tokens", nargs="+", type=int)
    c = sub.add_parser("compare")
    c.add_argument("ours")
    c.add_argument("ref")
    c.add_argument("--rel", type=float, default=1e-4)
    args = ap.parse_args()
    if args.cmd == "logits":
        torch.set_num_threads(2)
        np.save(args.out, run(args.model, args.tokens))
        return 0
    ours, ref = np.load(args.ours).astype(np.float64), np.load(args.ref)
    if ours.shape != ref.shape:
        print("shape %s != %s" % (ours.shape, ref.shape))
        return 1
    rel = np.abs(ours - ref).max() / np.abs(ref).max()
    print("max rel error %.3g (tolerance %g); arg max agrees at %d of %d positions" % (
        rel, args.rel, int((ours.argmax(-1) == ref.argmax(-1)).sum()), ref.shape[0]))
    return 0 if rel <= args.rel else 1


if __name__ == "__main__":
    sys.exit(main())
