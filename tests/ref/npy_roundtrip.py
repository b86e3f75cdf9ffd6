#!/usr/bin/python3
"""Independent reference for tests/cli/t0300-vecconv.sh.

numpy writes the .npy and .fvecs inputs and computes every expected value
(float16 rounding, int8 quantisation, sign bits); the binary stream is parsed
here from its description in lmpipe(7), not with our C code.

    npy_roundtrip.py make DIR          write the inputs into DIR
    npy_roundtrip.py same A.npy B.npy  bit-exact equality of two arrays
    npy_roundtrip.py f16 SRC.npy GOT.npy    GOT == SRC.astype(float16)
    npy_roundtrip.py f32 SRC.npy GOT.npy    GOT == SRC.astype(float32)
    npy_roundtrip.py i8 SRC.npy GOT.npy     GOT == scale * rint(x / scale)
    npy_roundtrip.py fvecs SRC.npy GOT.fvecs   TEXMEX bytes of SRC
    npy_roundtrip.py bin DTYPE SRC.npy GOT.bin [META.jsonl]
                                        parse the stream, check every byte
    npy_roundtrip.py ndjson SRC.npy GOT.jsonl  ids "0".. and exact floats
Exit status 0 when the check holds, 1 (with a message) when not, 77 when
numpy is missing.
"""
import json
import struct
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(77)


def fail(msg):
    print("npy_roundtrip: " + msg, file=sys.stderr)
    sys.exit(1)


def vectors():
    rng = np.random.default_rng(300)
    x = rng.standard_normal((7, 5)).astype(np.float32)
    # Values that stress printing and rounding: -0, the smallest subnormal,
    # the largest float32, f16 ties and overflow, an exact int8 tie.
    x[0] = [-0.0, 1e-45, 3.4028235e38, 1.0 + 2.0 ** -11, 65520.0]
    x[1] = [127.0, -2.5, 2.5, 0.0, -127.0]
    x[2] = [0.1, 1.0 / 3.0, -1e-8, 6.1e-5, 70000.0]
    return x


def make(d):
    x = vectors()
    np.save(d + "/x.npy", x)
    small = x[3:]                       # no values out of float16 range
    np.save(d + "/h.npy", small.astype(np.float16))
    with open(d + "/x_v2.npy", "wb") as f:
        np.lib.format.write_array(f, x, version=(2, 0))
    with open(d + "/x_v3.npy", "wb") as f:
        np.lib.format.write_array(f, x, version=(3, 0))
    np.save(d + "/d.npy", x.astype(np.float64) * 1.0000001)
    np.save(d + "/one.npy", x[4])       # 1-D: one vector
    np.save(d + "/f.npy", np.asfortranarray(x))
    np.save(d + "/big.npy", x.astype(">f4"))
    with open(d + "/x.fvecs", "wb") as f:
        f.write(fvecs_bytes(x))


def fvecs_bytes(x):
    out = b""
    for row in x:
        out += struct.pack("<i", len(row)) + row.astype("<f4").tobytes()
    return out


def same(a, b):
    a, b = np.load(a), np.load(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        fail("shape/dtype %s %s != %s %s" % (a.shape, a.dtype, b.shape, b.dtype))
    if a.tobytes() != b.tobytes():
        fail("contents differ")


def expect_equal(want, got):
    if want.shape != got.shape or want.dtype != got.dtype:
        fail("shape/dtype: want %s %s, got %s %s" % (want.shape, want.dtype, got.shape, got.dtype))
    if want.tobytes() != got.tobytes():
        bad = np.argwhere(want.view(np.uint8) != got.view(np.uint8))
        fail("contents differ, first at byte %s: want %s got %s" % (bad[0], want, got))


def i8_reference(x):
    """lmpipe(7): scale = max|x| / 127 (float32), q = round-half-even(x / scale)."""
    x = x.astype(np.float32)
    scale = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
    q = np.where(scale[:, None] > 0, np.rint(x / np.where(scale > 0, scale, 1)[:, None]), 0)
    q = np.clip(q, -127, 127).astype(np.int8)
    return scale, q


def parse_stream(path):
    """The binary stream, from lmpipe(7) BINARY STREAM."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89LMPVEC\x1a":
        fail("bad magic %r" % data[:8])
    version, dtype, flags, dim = struct.unpack_from("<HBBI", data, 8)
    if version != 1:
        fail("version %d" % version)
    size = {0: 4 * dim, 1: 2 * dim, 2: 4 + dim, 3: (dim + 7) // 8}[dtype]
    pos, records = 16, []
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        rid = data[pos + 4:pos + 4 + n].decode("utf-8")
        pos += 4 + n
        vec = data[pos:pos + size]
        pos += size
        meta = None
        if flags & 1:
            (m,) = struct.unpack_from("<I", data, pos)
            meta = data[pos + 4:pos + 4 + m].decode("utf-8")
            pos += 4 + m
        records.append((rid, vec, meta))
    if pos != len(data):
        fail("stream does not end at a record boundary")
    return dtype, flags, dim, records


def check_bin(dtype_name, src, path, meta_path=None):
    x = np.load(src).astype(np.float32)
    dtype, flags, dim, records = parse_stream(path)
    want_dtype = {"f32": 0, "f16": 1, "i8": 2, "bit": 3}[dtype_name]
    if dtype != want_dtype or dim != x.shape[1] or len(records) != x.shape[0]:
        fail("header dtype %d dim %d records %d" % (dtype, dim, len(records)))
    if dtype == 0:
        want = [r.astype("<f4").tobytes() for r in x]
    elif dtype == 1:
        want = [r.astype("<f2").tobytes() for r in x]
    elif dtype == 2:
        scale, q = i8_reference(x)
        want = [struct.pack("<f", s) + r.tobytes() for s, r in zip(scale, q)]
    else:
        want = [np.packbits(r > 0, bitorder="little").tobytes() for r in x]
    metas = None
    if meta_path:
        metas = [json.loads(line, parse_int=float) for line in open(meta_path)]
    for i, (rid, vec, meta) in enumerate(records):
        if vec != want[i]:
            fail("record %d: vector bytes %s, want %s" % (i + 1, vec.hex(), want[i].hex()))
        if metas is None:
            if rid != str(i):
                fail("record %d: id %r, want %r" % (i + 1, rid, str(i)))
            continue
        src_rec = metas[i]
        if rid != src_rec["id"]:
            fail("record %d: id %r, want %r" % (i + 1, rid, src_rec["id"]))
        rest = {k: v for k, v in src_rec.items() if k not in ("id", "embedding")}
        got = json.loads(meta) if meta else {}
        if got != rest:
            fail("record %d: meta %r, want %r" % (i + 1, got, rest))


def check_ndjson(src, path):
    x = np.load(src).astype(np.float32)
    lines = open(path).read().splitlines()
    if len(lines) != x.shape[0]:
        fail("%d lines for %d rows" % (len(lines), x.shape[0]))
    for i, line in enumerate(lines):
        rec = json.loads(line, parse_int=float)   # keeps "-0" negative
        if rec["id"] != str(i):
            fail("line %d: id %r" % (i + 1, rec["id"]))
        got = np.array(rec["embedding"], dtype=np.float64).astype(np.float32)
        if got.tobytes() != x[i].tobytes():
            fail("line %d: %s does not read back as %s" % (i + 1, rec["embedding"], x[i].tolist()))


def main(argv):
    cmd = argv[1]
    if cmd == "make":
        make(argv[2])
    elif cmd == "same":
        same(argv[2], argv[3])
    elif cmd == "f16":
        expect_equal(np.load(argv[2]).astype(np.float16), np.load(argv[3]))
    elif cmd == "f32":
        expect_equal(np.load(argv[2]).astype(np.float32), np.load(argv[3]))
    elif cmd == "i8":
        scale, q = i8_reference(np.load(argv[2]))
        expect_equal((scale[:, None] * q.astype(np.float32)).astype(np.float32), np.load(argv[3]))
    elif cmd == "fvecs":
        want = fvecs_bytes(np.load(argv[2]).astype(np.float32))
        if open(argv[3], "rb").read() != want:
            fail("fvecs bytes differ")
    elif cmd == "bin":
        check_bin(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else None)
    elif cmd == "ndjson":
        check_ndjson(argv[2], argv[3])
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
