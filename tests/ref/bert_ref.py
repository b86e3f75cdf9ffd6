#!/usr/bin/python3
"""bert_ref - an independent PyTorch forward pass for llama.cpp's "bert" and
"nomic-bert" GGUF encoders, in float64: the reference embed(1) and rerank(1)
are checked against (tests/cli/t0810, t0830).  Debian's /usr/bin/python3
with python3-torch and python3-numpy.

  bert_ref.py run MODEL [--pooling none|mean|cls|last|rank] [--dump DIR]
          [--all-pooling] < in.ndjson > out.ndjson
      Records {"id", "tokens": [...], "types": [...] (optional, default 0)};
      writes {"id", "n_tokens", "embedding"} per record in input order: the
      pooled vector, NOT normalised (the rank head's logits under rank
      pooling); --all-pooling adds the vectors of every pooling as fields
      "mean", "cls" and "last".  With --dump, record i (0-based) also gets DIR/r{i}_inp.npy
      (after the embedding LayerNorm) and DIR/r{i}_l{NN}.npy (output of
      layer NN), [T, n_embd] float64: the naming of embed --dump-layers.
  bert_ref.py compare-dumps OURS REF [--rel TOL] [--cos MIN]
      Every r*.npy of REF must exist in OURS with the same shape and
      max|ours - ref| / max|ref| <= TOL over the whole tensor (--rel), or a
      cosine >= MIN for every row (--cos).  Prints the worst; exit 1 on a miss.
  bert_ref.py compare OURS REF [--field F] [--ref-field F] [--rel TOL] [--cos MIN]
          [--normalize] [--dims N]
      NDJSON files with the same ids in the same order: the vector field of
      OURS against REF's, REF first cut to N dims and L2-normalised when
      asked.  --rel: max|a - b| / max|b| per record; --cos: cosine per record.

The model (llama.cpp src/models/bert.cpp, nomic-bert.cpp, llama-graph.cpp;
semantics HF-exact where llama.cpp approximates):
  x = token_embd[t] + token_types[type] (+ position_embd[pos] for bert);
  x = LayerNorm(x) (token_embd_norm, eps = {arch}.attention.layer_norm_epsilon)
  per layer: q, k, v = x W^T + b (nomic: one fused attn_qkv, rows Q, K, V,
  no biases); nomic: rotary positions, NeoX layout (dimension i paired with
  i + n_rot/2, angle pos * base^(-2i/n_rot), base {arch}.rope.freq_base);
  attention per head, scale 1/sqrt(head_dim), each sequence attending to all
  of itself; attn_output; x = LayerNorm(x + attn) (attn_output_norm);
  FFN bert: down(GELU(up(x))) with the exact erf GELU; nomic:
  down(silu(gate(x)) * up(x)); x = LayerNorm(x + ffn) (layer_output_norm).
  Pooling mean (all tokens), cls (first), last; rank: CLS row -> cls + bias
  -> tanh -> cls.output + bias.
Weights of any type gguf_model.py reads (F16/BF16 as their exact values,
quantized ones dequantised as ggml does), computed in float64.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_model import GgufError, GgufModel  # noqa: E402

POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3, "rank": 4}


class RefError(Exception):
    pass


class Encoder:
    def __init__(self, path, torch):
        self.torch = torch
        m = GgufModel(path)
        self.arch = arch = m.meta.get("general.architecture")
        if arch not in ("bert", "nomic-bert"):
            raise RefError("%s: architecture %r is not bert or nomic-bert" % (path, arch))

        def key(k, default=None):
            v = m.meta.get(arch + "." + k, default)
            if v is None:
                raise RefError("%s: no %s.%s" % (path, arch, k))
            return v

        self.n_embd = key("embedding_length")
        self.n_layer = key("block_count")
        self.n_head = key("attention.head_count")
        self.n_ctx = key("context_length")
        self.eps = key("attention.layer_norm_epsilon")
        self.pooling = key("pooling_type", 0)
        self.head_dim = self.n_embd // self.n_head
        self.n_rot = key("rope.dimension_count", self.head_dim)
        self.rope_base = key("rope.freq_base", 10000.0)
        self.m = m
        self.w = {}

    def t(self, name, required=True):
        if name not in self.w:
            if not self.m.has(name):
                if required:
                    raise RefError("%s: no tensor %s" % (self.m.path, name))
                return None
            a = self.m.tensor(name).astype(np.float64)
            self.w[name] = self.torch.from_numpy(a)
        return self.w[name]

    def linear(self, x, name):
        y = x @ self.t(name + ".weight").T
        b = self.t(name + ".bias", False)
        return y if b is None else y + b

    def norm(self, x, name):
        F = self.torch.nn.functional
        return F.layer_norm(x, (x.shape[-1],), self.t(name + ".weight"), self.t(name + ".bias", False),
                            eps=self.eps)

    def rope(self, x):
        """NeoX rotary on [T, H, hd]: dims i and i + n_rot/2 rotate together."""
        torch = self.torch
        T = x.shape[0]
        half = self.n_rot // 2
        inv = self.rope_base ** (-torch.arange(0, half, dtype=torch.float64) * 2.0 / self.n_rot)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        cos = torch.cos(ang)[:, None, :]
        sin = torch.sin(ang)[:, None, :]
        x1 = x[..., :half]
        x2 = x[..., half:self.n_rot]
        out = x.clone()
        out[..., :half] = x1 * cos - x2 * sin
        out[..., half:self.n_rot] = x2 * cos + x1 * sin
        return out

    def forward(self, tokens, types, dump=None):
        """Hidden states [T, n_embd] after the last layer; DUMP(name, array) per stage."""
        torch = self.torch
        F = torch.nn.functional
        T = len(tokens)
        n_vocab = self.m.tensor_info("token_embd.weight")[1][1]
        if T < 1 or T > self.n_ctx:
            raise RefError("sequence of %d tokens (the model takes 1..%d)" % (T, self.n_ctx))
        if min(tokens) < 0 or max(tokens) >= n_vocab:
            raise RefError("token id outside the vocabulary (0..%d)" % (n_vocab - 1))
        tok = torch.tensor(tokens, dtype=torch.long)
        x = self.t("token_embd.weight")[tok]
        tt = self.t("token_types.weight", False)
        if min(types) < 0 or max(types) >= (tt.shape[0] if tt is not None else 1):
            raise RefError("token type id outside the model's %d" % (tt.shape[0] if tt is not None else 1))
        if tt is not None:
            x = x + tt[torch.tensor(types, dtype=torch.long)]
        if self.arch == "bert":
            x = x + self.t("position_embd.weight")[:T]
        x = self.norm(x, "token_embd_norm")
        if dump:
            dump("inp", x)
        H, hd, E = self.n_head, self.head_dim, self.n_embd
        for il in range(self.n_layer):
            p = "blk.%d." % il
            if self.m.has(p + "attn_qkv.weight"):
                qkv = self.linear(x, p + "attn_qkv")
                q, k, v = qkv[:, :E], qkv[:, E:2 * E], qkv[:, 2 * E:3 * E]
            else:
                q = self.linear(x, p + "attn_q")
                k = self.linear(x, p + "attn_k")
                v = self.linear(x, p + "attn_v")
            q = q.reshape(T, H, hd)
            k = k.reshape(T, H, hd)
            v = v.reshape(T, H, hd)
            if self.arch == "nomic-bert":
                q = self.rope(q)
                k = self.rope(k)
            s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd)
            a = torch.softmax(s, dim=-1)
            o = torch.einsum("hts,shd->thd", a, v).reshape(T, E)
            o = self.linear(o, p + "attn_output")
            x = self.norm(x + o, p + "attn_output_norm")
            if self.m.has(p + "ffn_gate.weight"):
                h = F.silu(self.linear(x, p + "ffn_gate")) * self.linear(x, p + "ffn_up")
            else:
                u = self.linear(x, p + "ffn_up")
                h = 0.5 * u * (1.0 + torch.erf(u / math.sqrt(2.0)))
            h = self.linear(h, p + "ffn_down")
            x = self.norm(x + h, p + "layer_output_norm")
            if dump:
                dump("l%02d" % il, x)
        return x

    def pool(self, x, pooling):
        torch = self.torch
        if pooling == POOLING["mean"]:
            return x.mean(dim=0)
        if pooling == POOLING["cls"]:
            return x[0]
        if pooling == POOLING["last"]:
            return x[-1]
        if pooling == POOLING["rank"]:
            c = x[0]
            if self.t("cls.weight", False) is not None:
                c = torch.tanh(self.linear(c, "cls"))
            return self.linear(c, "cls.output")
        raise RefError("pooling %d does not give one vector per sequence" % pooling)


def read_ndjson(f, what):
    recs = []
    for n, line in enumerate(f, 1):
        if line.strip():
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                raise RefError("%s:%d: %s" % (what, n, e))
    return recs


def cmd_run(args):
    import torch
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    enc = Encoder(args.model, torch)
    pooling = enc.pooling if args.pooling is None else POOLING[args.pooling]
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
    out = sys.stdout
    for i, r in enumerate(read_ndjson(sys.stdin, "<stdin>")):
        tokens = r.get("tokens")
        if not isinstance(tokens, list):
            raise RefError("record %d: no \"tokens\"" % (i + 1))
        types = r.get("types") or [0] * len(tokens)
        if len(types) != len(tokens):
            raise RefError("record %d: %d types for %d tokens" % (i + 1, len(types), len(tokens)))

        def dump(name, a, i=i):
            np.save(os.path.join(args.dump, "r%d_%s.npy" % (i, name)), a.numpy())
        try:
            x = enc.forward(tokens, types, dump if args.dump else None)
        except RefError as e:
            raise RefError("record %d: %s" % (i + 1, e))
        rec = {"id": r.get("id"), "n_tokens": len(tokens),
               "embedding": [float(f) for f in enc.pool(x, pooling).numpy()]}
        if args.all_pooling:
            for name in ("mean", "cls", "last"):
                rec[name] = [float(f) for f in enc.pool(x, POOLING[name]).numpy()]
        out.write(json.dumps(rec) + "\n")
    return 0


def rel_err(a, b):
    den = np.abs(b).max()
    return float(np.abs(a - b).max() / den) if den > 0 else float(np.abs(a - b).max())


def cosine(a, b):
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else (1.0 if na == nb else 0.0)


def cmd_compare_dumps(args):
    ref_files = sorted(f for f in os.listdir(args.ref) if f.startswith("r") and f.endswith(".npy"))
    if not ref_files:
        raise RefError("%s: no r*.npy reference dumps" % args.ref)
    worst, worst_name, bad = (0.0 if args.rel is not None else 1.0), None, 0
    for f in ref_files:
        b = np.load(os.path.join(args.ref, f)).astype(np.float64)
        p = os.path.join(args.ours, f)
        if not os.path.exists(p):
            print("%s: missing" % p)
            bad += 1
            continue
        a = np.load(p).astype(np.float64)
        if a.shape != b.shape:
            print("%s: shape %s, reference %s" % (f, a.shape, b.shape))
            bad += 1
            continue
        if args.rel is not None:
            e = rel_err(a, b)
            miss = not e <= args.rel
            if e > worst or worst_name is None:
                worst, worst_name = e, f
        else:
            e = min(cosine(a[j], b[j]) for j in range(b.shape[0]))
            miss = not e >= args.cos
            if e < worst or worst_name is None:
                worst, worst_name = e, f
        if miss:
            print("%s: %s %.3g" % (f, "rel err" if args.rel is not None else "min row cosine", e))
            bad += 1
    print("%d tensors, worst %s %.9g (%s), %d bad" % (
        len(ref_files), "rel err" if args.rel is not None else "row cosine", worst, worst_name, bad))
    return 1 if bad else 0


def cmd_compare(args):
    with open(args.ours) as f:
        ours = read_ndjson(f, args.ours)
    with open(args.ref) as f:
        ref = read_ndjson(f, args.ref)
    if len(ours) != len(ref) or not ref:
        print("%d records, reference %d" % (len(ours), len(ref)))
        return 1
    bad, worst = 0, None
    for i, (o, r) in enumerate(zip(ours, ref)):
        if o.get("id") != r.get("id"):
            print("record %d: id %r, reference %r" % (i + 1, o.get("id"), r.get("id")))
            bad += 1
            continue
        a = np.asarray(o.get(args.field), dtype=np.float64)
        b = np.asarray(r.get(args.ref_field or args.field), dtype=np.float64)
        if args.dims:
            b = b[:args.dims]
        if args.normalize:
            b = b / np.linalg.norm(b)
        if a.shape != b.shape:
            print("record %d (%s): %d values, reference %d" % (i + 1, o.get("id"), a.size, b.size))
            bad += 1
            continue
        if args.rel is not None:
            e = rel_err(a, b)
            miss = not e <= args.rel
            worse = worst is None or e > worst
        else:
            e = cosine(a, b)
            miss = not e >= args.cos
            worse = worst is None or e < worst
        if worse:
            worst = e
        if miss:
            print("record %d (%s): %s %.3g" % (i + 1, o.get("id"), "rel err" if args.rel is not None else "cosine", e))
            bad += 1
    print("%d records, worst %s %.9g, %d bad" % (len(ref), "rel err" if args.rel is not None else "cosine",
                                                  worst if worst is not None else float("nan"), bad))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(prog="bert_ref.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    p.add_argument("model")
    p.add_argument("--pooling", choices=sorted(POOLING, key=POOLING.get))
    p.add_argument("--dump", metavar="DIR")
    p.add_argument("--all-pooling", action="store_true")
    for name in ("compare-dumps", "compare"):
        p = sub.add_parser(name)
        p.add_argument("ours")
        p.add_argument("ref")
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--rel", type=float)
        g.add_argument("--cos", type=float)
        if name == "compare":
            p.add_argument("--field", default="embedding")
            p.add_argument("--ref-field")
            p.add_argument("--normalize", action="store_true")
            p.add_argument("--dims", type=int)
    args = ap.parse_args()
    try:
        return {"run": cmd_run, "compare-dumps": cmd_compare_dumps, "compare": cmd_compare}[args.cmd](args)
    except (RefError, GgufError) as e:
        sys.stderr.write("bert_ref.py: %s\n" % e)
        return 1
    except OSError as e:
        sys.stderr.write("bert_ref.py: %s: %s\n" % (e.filename, e.strerror))
        return 1


if __name__ == "__main__":
    sys.exit(main())
