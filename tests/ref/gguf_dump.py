#!/usr/bin/python3
"""Independent GGUF reader (from ggml docs/gguf.md), printing the listing of
gguf_dump() in libcommon/gguf.h.  Plain Python 3, struct module only.

usage: gguf_dump.py FILE
"""
import math
import struct
import sys

VALUE_TYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
               "bool", "string", "array", "uint64", "int64", "float64"]
SCALAR_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f",
              7: "<B", 10: "<Q", 11: "<q", 12: "<d"}

# ggml type id: (name, elements per block, bytes per block), from the block
# structs in ggml-common.h.
QK_K = 256
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2),
    2: ("Q4_0", 32, 2 + 16), 3: ("Q4_1", 32, 4 + 16),
    6: ("Q5_0", 32, 2 + 4 + 16), 7: ("Q5_1", 32, 4 + 4 + 16),
    8: ("Q8_0", 32, 2 + 32), 9: ("Q8_1", 32, 4 + 32),
    10: ("Q2_K", QK_K, QK_K // 16 + QK_K // 4 + 4),
    11: ("Q3_K", QK_K, QK_K // 8 + QK_K // 4 + 12 + 2),
    12: ("Q4_K", QK_K, 4 + 12 + QK_K // 2),
    13: ("Q5_K", QK_K, 4 + 12 + QK_K // 8 + QK_K // 2),
    14: ("Q6_K", QK_K, QK_K // 2 + QK_K // 4 + QK_K // 16 + 2),
    15: ("Q8_K", QK_K, 4 + QK_K + 2 * (QK_K // 16)),
    16: ("IQ2_XXS", QK_K, 2 + 2 * (QK_K // 8)),
    17: ("IQ2_XS", QK_K, 2 + 2 * (QK_K // 8) + QK_K // 32),
    18: ("IQ3_XXS", QK_K, 2 + 3 * (QK_K // 8)),
    19: ("IQ1_S", QK_K, 2 + QK_K // 8 + QK_K // 16),
    20: ("IQ4_NL", 32, 2 + 16),
    21: ("IQ3_S", QK_K, 2 + QK_K // 4 + QK_K // 32 + QK_K // 8 + QK_K // 64),
    22: ("IQ2_S", QK_K, 2 + QK_K // 4 + QK_K // 32 + QK_K // 32),
    23: ("IQ4_XS", QK_K, 2 + 2 + QK_K // 64 + QK_K // 2),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", QK_K, (QK_K - 4 * QK_K // 64) // 5 + QK_K // 64 + 2),
    35: ("TQ2_0", QK_K, QK_K // 4 + 2),
    39: ("MXFP4", 32, 1 + 16),
}

ESCAPES = {'"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r',
           '\b': '\\b', '\f': '\\f'}


class Bad(Exception):
    pass


def escape_chars(text):
    out = []
    for ch in text:
        if ch in ESCAPES:
            out.append(ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def quote(raw):
    """JSON-style string; bytes outside well-formed UTF-8 become \\xHH."""
    try:
        return '"' + escape_chars(raw.decode("utf-8")) + '"'
    except UnicodeDecodeError:
        pass
    out = []
    i = 0
    while i < len(raw):
        for n in (1, 2, 3, 4):
            try:
                ch = raw[i:i + n].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.append(escape_chars(ch))
                i += n
                break
        else:
            out.append("\\x%02x" % raw[i])
            i += 1
    return '"' + "".join(out) + '"'


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n > len(self.data) - self.pos:
            raise Bad("truncated at offset %d" % self.pos)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.unpack("<Q"))


def fmt_float(v, digits):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    return "%.*g" % (digits, v)


def fmt_scalar(r, t):
    if t == 8:
        return quote(r.string())
    v = r.unpack(SCALAR_FMT[t])
    if t == 7:
        if v > 1:
            raise Bad("bad bool")
        return "true" if v else "false"
    if t == 6:
        return fmt_float(v, 9)
    if t == 12:
        return fmt_float(v, 17)
    return "%d" % v


def dump(data, write):
    r = Reader(data)
    if r.take(4) != b"GGUF":
        raise Bad("bad magic")
    version = r.unpack("<I")
    if version not in (2, 3):
        raise Bad("unsupported version %d" % version)
    n_tensors = r.unpack("<Q")
    n_kv = r.unpack("<Q")
    lines = []
    alignment = 32
    for _ in range(n_kv):
        key = r.string()
        t = r.unpack("<I")
        if t == 9:
            et = r.unpack("<I")
            count = r.unpack("<Q")
            if et not in SCALAR_FMT and et != 8:
                raise Bad("bad array element type")
            lines.append("kv %s array[%s] %d\n" % (quote(key), VALUE_TYPES[et], count))
            for i in range(count):
                lines.append("\t%d %s\n" % (i, fmt_scalar(r, et)))
        elif t in SCALAR_FMT or t == 8:
            start = r.pos
            lines.append("kv %s %s %s\n" % (quote(key), VALUE_TYPES[t], fmt_scalar(r, t)))
            if key == b"general.alignment":
                if t != 4:
                    raise Bad("bad alignment type")
                alignment = struct.unpack_from("<I", data, start)[0]
        else:
            raise Bad("bad value type")
    if alignment == 0 or alignment & (alignment - 1):
        raise Bad("bad alignment")
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.unpack("<I")
        if not 1 <= n_dims <= 4:
            raise Bad("bad n_dims")
        dims = [r.unpack("<Q") for _ in range(n_dims)]
        gt = r.unpack("<I")
        offset = r.unpack("<Q")
        if gt not in GGML_TYPES:
            raise Bad("bad ggml type")
        tname, block, size = GGML_TYPES[gt]
        if dims[0] % block:
            raise Bad("partial block")
        nbytes = dims[0] // block * size
        for d in dims[1:]:
            nbytes *= d
        lines.append("tensor %s %s [%s] offset %d size %d\n" % (
            quote(name), tname, ", ".join("%d" % d for d in dims), offset, nbytes))
    data_offset = (r.pos + alignment - 1) // alignment * alignment
    write("gguf version %d\nalignment %d\ndata_offset %d\nkv_count %d\ntensor_count %d\n"
          % (version, alignment, data_offset, n_kv, n_tensors))
    for line in lines:
        write(line)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: gguf_dump.py FILE\n")
        return 2
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    out = []
    try:
        dump(data, out.append)
    except Bad as e:
        sys.stderr.write("gguf_dump.py: %s: %s\n" % (sys.argv[1], e))
        return 1
    sys.stdout.buffer.write("".join(out).encode("utf-8", "surrogateescape"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
