#!/usr/bin/python3
"""ggml_quant.py - our quantisers and decoders against llama.cpp's ggml.

    /usr/bin/python3 tests/ref/ggml_quant.py LIBGGML_BASE QUANT_TOOL

Calls ggml itself through ctypes (libggml-base.so as node-llama-cpp ships
it): ggml_quantize_chunk with no importance matrix (which for every type
here runs quantize_row_*_ref; Q8_1 and Q8_K, which ggml_quantize_chunk does
not take, call quantize_row_q8_1_ref / quantize_row_q8_K_ref directly) and
the exported dequantize_row_* / ggml_*_to_fp32_row.  QUANT_TOOL is
build/helpers/quant-tool.  For every type and input set it checks, bitwise:

  - our reference quantiser's bytes == ggml's bytes;
  - our decoding of ggml's bytes == ggml's decoding, at every SIMD level;
  - for the activation types, our from_float at every SIMD level == ggml's
    reference bytes.

Prints TAP; exits 1 on any difference.
"""
import ctypes
import os
import subprocess
import sys

import numpy as np

TYPES = {  # name: (ggml type id, block elements, block bytes)
    "f32": (0, 1, 4), "f16": (1, 1, 2), "bf16": (30, 1, 2),
    "q4_0": (2, 32, 18), "q4_1": (3, 32, 20), "q5_0": (6, 32, 22), "q5_1": (7, 32, 24),
    "q8_0": (8, 32, 34), "q8_1": (9, 32, 36),
    "q2_K": (10, 256, 84), "q3_K": (11, 256, 110), "q4_K": (12, 256, 144),
    "q5_K": (13, 256, 176), "q6_K": (14, 256, 210), "q8_K": (15, 256, 292),
}
ACTIVATION = ("f32", "f16", "bf16", "q8_0", "q8_1", "q8_K")
LEVELS = ("scalar", "avx2", "avx512", "avx512_vnni")


def inputs():
    """(name, rows x n float32 array); n is a multiple of 256 so every
    type takes every set."""
    rng = np.random.default_rng(20240805)
    f = np.float32
    sets = []
    sets.append(("normal", rng.standard_normal((16, 1024)).astype(f)))
    sets.append(("uniform", rng.uniform(-1, 1, (8, 512)).astype(f)))
    sets.append(("positive", rng.uniform(0.5, 3, (4, 512)).astype(f)))
    sets.append(("negative", -rng.uniform(0.1, 2, (4, 512)).astype(f)))
    z = rng.standard_normal((6, 768)).astype(f)
    z[0] = 0
    z[1, :256] = 0          # a whole super-block
    z[2, 32:64] = 0         # a whole small block
    z[3, ::2] = 0           # every other element
    z[4, 5:27] = 0          # part of a block
    z[5, 100:300] = -0.0
    sets.append(("zeros", z))
    sets.append(("constants", np.stack([np.full(512, v, f) for v in
                                        (0.0, 1.0, -2.5, 7.0, 1e-20, -3e4)])))
    o = rng.standard_normal((8, 1024)).astype(f)
    o[:, rng.integers(0, 1024, 40)] *= 100
    o[3, 17] = 5000
    sets.append(("outliers", o))
    sets.append(("tiny", (rng.standard_normal((4, 512)) * 1e-8).astype(f)))
    sets.append(("tinier", (rng.standard_normal((4, 512)) * 1e-30).astype(f)))
    sets.append(("huge", (rng.standard_normal((4, 512)) * 1e4).astype(f)))
    sets.append(("huger", (rng.standard_normal((4, 512)) * 1e6).astype(f)))
    # rounding ties: half-integers under an absmax of 127 meet x * id == k + 0.5
    t = np.tile(np.arange(-64.0, 64.0, 0.5, dtype=f), (2, 2))
    t[:, ::32] = 127
    sets.append(("ties", t.astype(f)))
    sets.append(("steps", np.tile(np.linspace(-1, 1, 512, dtype=f), (2, 1))))
    sets.append(("many-rows", rng.standard_normal((256, 256)).astype(f)))
    sets.append(("long-row", rng.standard_normal((2, 8192)).astype(f)))
    return sets


class Ggml:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        self.lib = lib
        lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]

    def fn(self, name):
        f = getattr(self.lib, name)
        f.restype = None
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        return f

    def quantize(self, name, x):
        tid, bs, bb = TYPES[name]
        rows, n = x.shape
        out = np.zeros(rows * n // bs * bb, np.uint8)
        src = np.ascontiguousarray(x)
        if name in ("q8_1", "q8_K"):
            self.fn("quantize_row_%s_ref" % name)(src.ctypes.data, out.ctypes.data, rows * n)
        else:
            self.lib.ggml_quantize_chunk(tid, src.ctypes.data, out.ctypes.data, 0, rows, n, None)
        return out.tobytes()

    def dequantize(self, name, data, count):
        """ggml's floats for DATA, or None where ggml has no decoder."""
        if name == "q8_1":
            return None
        if name == "f32":
            return np.frombuffer(data, np.float32).copy()
        fname = {"f16": "ggml_fp16_to_fp32_row", "bf16": "ggml_bf16_to_fp32_row"}.get(
            name, "dequantize_row_" + name)
        src = np.frombuffer(data, np.uint8).copy()
        out = np.zeros(count, np.float32)
        self.fn(fname)(src.ctypes.data, out.ctypes.data, count)
        return out


def tool(path, mode, name, n, data, level="scalar"):
    env = dict(os.environ, LMPIPE_CPU=level)
    p = subprocess.run([path, mode, name, str(n)], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env)
    if p.returncode:
        raise RuntimeError("quant-tool %s %s: %s" % (mode, name, p.stderr.decode()))
    return p.stdout


def first_diff(a, b, unit, bb):
    a = np.frombuffer(a, np.uint8)
    b = np.frombuffer(b, np.uint8)
    if len(a) != len(b):
        return "lengths %d vs %d" % (len(a), len(b))
    i = int(np.nonzero(a != b)[0][0])
    return "byte %d (%s %d, offset %d): ours %02x ggml %02x; %d bytes differ" % (
        i, unit, i // bb, i % bb, a[i], b[i], int((a != b).sum()))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ggml_quant.py LIBGGML_BASE QUANT_TOOL")
    g = Ggml(sys.argv[1])
    qtool = sys.argv[2]
    sets = inputs()
    n_test = 0
    failed = 0

    def report(ok, desc, detail=""):
        nonlocal n_test, failed
        n_test += 1
        if not ok:
            failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", n_test, desc))
        if detail:
            print("#   " + detail)

    for name in TYPES:
        tid, bs, bb = TYPES[name]
        nq = nd = 0
        qbad = dbad = None
        for sname, x in sets:
            rows, n = x.shape
            theirs = g.quantize(name, x)
            ours = tool(qtool, "quantize", name, n, x.tobytes())
            nq += 1
            if ours != theirs and qbad is None:
                qbad = "%s: %s" % (sname, first_diff(ours, theirs, "block", bb))
            want = g.dequantize(name, theirs, rows * n)
            if want is not None:
                for level in LEVELS:
                    got = tool(qtool, "dequantize", name, n, theirs, level)
                    nd += 1
                    if got != want.tobytes() and dbad is None:
                        gf = np.frombuffer(got, np.float32)
                        i = int(np.nonzero(gf.view(np.uint32) != want.view(np.uint32))[0][0])
                        dbad = "%s at %s: element %d ours %r ggml %r" % (sname, level, i, gf[i], want[i])
            if name in ACTIVATION:
                for level in LEVELS:
                    got = tool(qtool, "from-float", name, n, x.tobytes(), level)
                    nq += 1
                    if got != theirs and qbad is None:
                        qbad = "%s from_float at %s: %s" % (sname, level, first_diff(got, theirs, "block", bb))
        report(qbad is None, "%s: quantized bytes identical to ggml (%d comparisons)" % (name, nq), qbad or "")
        if name == "q8_1":
            report(True, "q8_1: ggml has no decoder # SKIP dequantize_row_q8_1 does not exist")
        else:
            report(dbad is None, "%s: decoded floats bitwise identical to ggml (%d comparisons)" % (name, nd),
                   dbad or "")
    print("1..%d" % n_test)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
