#!/usr/bin/python3
"""llama2c_random.py - a random llama2.c checkpoint (run.c's legacy format)
for quantizer tests, with values that stress the block quantizers.

    llama2c_random.py OUT.bin [--dim D] [--hidden H] [--layers L] [--heads N]
                      [--kv-heads K] [--vocab V] [--seq S] [--seed X]
                      [--unshared] [--nan TENSOR]

Weights are normal(0, 0.02) with, in every matrix, a few structured rows:
all zeros, a constant, a single large outlier, a row of tiny values
(1e-30: subnormal-scale scales), alternating signs of equal size, and
values exactly on the quantizers' rounding ties (multiples of 1/16).
Norm weights are 1 + normal(0, 0.1).  --nan puts a NaN into the named
group (wq, w1, ... as run.c names them) of layer 0.
"""
import argparse
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--unshared", action="store_true")
    ap.add_argument("--nan", default=None)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    head = a.dim // a.heads
    kv = head * a.kv_heads

    def mat(rows, cols, layers=1, name=None):
        w = rng.normal(0, 0.02, size=(layers, rows, cols)).astype(np.float32)
        for l in range(layers):
            m = w[l]
            if rows >= 6:
                m[0, :] = 0
                m[1, :] = 0.125
                m[2, cols // 2] = 3.0
                m[3, :] = 1e-30
                m[4, :] = np.where(np.arange(cols) % 2 == 0, 0.05, -0.05)
                m[5, :] = (rng.integers(-16, 17, size=cols) / 16.0).astype(np.float32)
        if name is not None and name == a.nan:
            w[0, rows - 1, cols - 1] = np.nan
        return w

    def norm(n, layers=1):
        return (1 + rng.normal(0, 0.1, size=(layers, n))).astype(np.float32)

    L, D, H, V = a.layers, a.dim, a.hidden, a.vocab
    parts = [mat(V, D, name="tok"), norm(D, L), mat(D, D, L, "wq"), mat(kv, D, L, "wk"),
             mat(kv, D, L, "wv"), mat(D, D, L, "wo"), norm(D, L), mat(H, D, L, "w1"),
             mat(D, H, L, "w2"), mat(H, D, L, "w3"), norm(D),
             np.zeros(a.seq * head, dtype=np.float32)]
    if a.unshared:
        parts.append(mat(V, D, name="wcls"))
    with open(a.out, "wb") as f:
        f.write(struct.pack("<7i", D, H, L, a.heads, a.kv_heads, -V if a.unshared else V, a.seq))
        for p in parts:
            f.write(np.ascontiguousarray(p, dtype="<f4").tobytes())


if __name__ == "__main__":
    main()
