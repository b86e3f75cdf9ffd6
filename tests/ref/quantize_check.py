#!/usr/bin/python3
"""quantize_check.py - independent checks of quantize(1) output (numpy).

    quantize_check.py errors IN.gguf OUT.gguf NAME
        Dequantizes tensor NAME of OUT (F32, F16, BF16, Q8_0 or Q4_0, decoded
        here from the block layouts of ggml-common.h) and prints
        "rmse R max M" (%.3e) of it against tensor NAME of IN (F32).
    quantize_check.py same IN.gguf OUT.gguf NAME
        Exits 0 when tensor NAME has the same type, shape and bytes in both.

The GGUF reader follows ggml docs/gguf.md (version 3, little-endian).
"""
import struct
import sys

import numpy as np

SIZES = {0: 1, 1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
# type id: (block elements, block bytes)
BLOCKS = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18), 3: (32, 20),
          6: (32, 22), 7: (32, 24), 10: (256, 84), 11: (256, 110), 12: (256, 144),
          13: (256, 176), 14: (256, 210)}


def read_tensors(path):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def skip_value(t):
        nonlocal pos
        if t == 8:
            n = take("<Q")
            pos += n
        elif t == 9:
            et, n = take("<I"), take("<Q")
            for _ in range(n):
                skip_value(et)
        else:
            pos += SIZES[t]

    magic, _version, n_tensors, n_kv = take("<4sIQQ")
    assert magic == b"GGUF"
    alignment = 32
    for _ in range(n_kv):
        n = take("<Q")
        key = data[pos:pos + n].decode()
        pos += n
        t = take("<I")
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", data, pos)[0]
        skip_value(t)
    infos = []
    for _ in range(n_tensors):
        n = take("<Q")
        name = data[pos:pos + n].decode()
        pos += n
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        t, off = take("<I"), take("<Q")
        infos.append((name, ne, t, off))
    base = (pos + alignment - 1) // alignment * alignment
    out = {}
    for name, ne, t, off in infos:
        be, bb = BLOCKS[t]
        n = int(np.prod(ne))
        out[name] = (t, ne, data[base + off:base + off + n // be * bb])
    return out


def f16(b):
    return np.frombuffer(b, dtype="<f2").astype(np.float32)


def dequantize(t, raw):
    if t == 0:
        return np.frombuffer(raw, dtype="<f4")
    if t == 1:
        return f16(raw)
    if t == 30:
        return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    if t == 8:   # block_q8_0: f16 d, int8 qs[32]; x = d * q
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
        d = f16(b[:, :2].tobytes()).reshape(-1, 1)
        return (d * b[:, 2:].view(np.int8).astype(np.float32)).ravel()
    if t == 2:   # block_q4_0: f16 d, qs[16]; x[j] = d*((qs[j]&15)-8), x[j+16] = d*((qs[j]>>4)-8)
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
        d = f16(b[:, :2].tobytes()).reshape(-1, 1)
        q = b[:, 2:]
        x = np.concatenate([(q & 15).astype(np.float32) - 8, (q >> 4).astype(np.float32) - 8], axis=1)
        return (d * x).ravel()
    raise SystemExit("type %d not decoded here" % t)


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    cmd, a, b, name = sys.argv[1:]
    ta, tb = read_tensors(a)[name], read_tensors(b)[name]
    if cmd == "same":
        return 0 if ta == tb else 1
    x = dequantize(ta[0], ta[2]).astype(np.float64)
    y = dequantize(tb[0], tb[2]).astype(np.float64)
    d = np.abs(x - y)
    print("rmse %.3e max %.3e" % (np.sqrt(np.mean(d * d)), d.max()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
