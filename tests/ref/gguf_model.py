"""gguf_model - read a GGUF model's metadata and tensors with numpy, for the
independent references in tests/ref (bert_ref.py).  Written from ggml's
docs/gguf.md (file layout) and the block structs and dequantize_row_*
functions of ggml-common.h / ggml-quants.c (their definitions, not their
code); it shares nothing with libcommon.

    m = GgufModel(path)
    m.meta["bert.embedding_length"]        # scalars and arrays as Python values
    m.tensor_info("token_embd.weight")     # (ggml type name, dims ne0..)
    m.tensor("blk.0.attn_q.weight")        # float32 ndarray, numpy shape = dims
                                           # reversed ([n_out, n_in] for a matrix)

F32, F16 and BF16 tensors come back as their exact float values (F16/BF16
widen to float32 exactly); Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and
Q6_K are dequantised as ggml's dequantize_row_* does, in float32 (the same
products and sums, so the same floats).
"""
import mmap
import struct

import numpy as np

QK_K = 256
# ggml type id -> (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", QK_K, 84), 11: ("Q3_K", QK_K, 110),
    12: ("Q4_K", QK_K, 144), 13: ("Q5_K", QK_K, 176),
    14: ("Q6_K", QK_K, 210), 15: ("Q8_K", QK_K, 292),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8),
    28: ("F64", 1, 8), 30: ("BF16", 1, 2),
}
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}


class GgufError(Exception):
    pass


class GgufModel:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._buf = memoryview(self._map)
        self._pos = 0
        self.meta = {}
        self.tensors = {}
        self._parse()

    def _take(self, n):
        if n > len(self._buf) - self._pos:
            raise GgufError("%s: truncated at offset %d" % (self.path, self._pos))
        b = self._buf[self._pos:self._pos + n]
        self._pos += n
        return b

    def _unpack(self, fmt):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _string(self):
        return bytes(self._take(self._unpack("<Q"))).decode("utf-8", "surrogateescape")

    def _value(self, t):
        if t == 8:
            return self._string()
        if t == 9:
            et = self._unpack("<I")
            n = self._unpack("<Q")
            if et in SCALARS:
                dt = np.dtype(SCALARS[et])
                return np.frombuffer(self._take(n * dt.itemsize), dtype=dt).tolist()
            return [self._value(et) for _ in range(n)]
        if t in SCALARS:
            return self._unpack(SCALARS[t])
        raise GgufError("%s: bad value type %d at offset %d" % (self.path, t, self._pos))

    def _parse(self):
        if bytes(self._take(4)) != b"GGUF":
            raise GgufError("%s: not a GGUF file" % self.path)
        version = self._unpack("<I")
        if version not in (2, 3):
            raise GgufError("%s: unsupported GGUF version %d" % (self.path, version))
        n_tensors = self._unpack("<Q")
        n_kv = self._unpack("<Q")
        for _ in range(n_kv):
            key = self._string()
            self.meta[key] = self._value(self._unpack("<I"))
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._unpack("<I")
            dims = [self._unpack("<Q") for _ in range(n_dims)]
            t = self._unpack("<I")
            off = self._unpack("<Q")
            if t not in GGML_TYPES:
                raise GgufError("%s: tensor %s: unknown ggml type %d" % (self.path, name, t))
            infos.append((name, dims, t, off))
        align = self.meta.get("general.alignment", 32)
        base = (self._pos + align - 1) // align * align
        for name, dims, t, off in infos:
            tname, block, size = GGML_TYPES[t]
            n = 1
            for d in dims:
                n *= d
            if dims[0] % block:
                raise GgufError("%s: tensor %s: rows are not whole %s blocks" % (self.path, name, tname))
            nbytes = n // block * size
            if base + off + nbytes > len(self._buf):
                raise GgufError("%s: tensor %s: data past the end of the file" % (self.path, name))
            self.tensors[name] = (tname, dims, base + off, nbytes)

    def has(self, name):
        return name in self.tensors

    def tensor_info(self, name):
        tname, dims, _, _ = self.tensors[name]
        return tname, list(dims)

    def raw(self, name):
        tname, dims, start, nbytes = self.tensors[name]
        return np.frombuffer(self._buf[start:start + nbytes], dtype=np.uint8)

    def tensor(self, name):
        """The tensor as float32, numpy shape = GGUF dims reversed."""
        if name not in self.tensors:
            raise GgufError("%s: no tensor %s" % (self.path, name))
        tname, dims, _, _ = self.tensors[name]
        raw = self.raw(name)
        if tname not in DEQUANT:
            raise GgufError("%s: tensor %s: type %s not supported here" % (self.path, name, tname))
        return DEQUANT[tname](raw).reshape(tuple(reversed(dims)))


def _f16(b):
    return b.view("<f2").astype(np.float32)


def _blocks(raw, size):
    return raw.reshape(-1, size)


def _deq_f32(raw):
    return raw.view("<f4").astype(np.float32)


def _deq_bf16(raw):
    return (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)


def _deq_q8_0(raw):
    b = _blocks(raw, 34)
    d = _f16(b[:, 0:2].copy())
    q = b[:, 2:].view(np.int8).astype(np.float32)
    return (q * d).reshape(-1)


def _nibbles(qs):
    # Element j of a 32-block is the low nibble of qs[j], element j + 16 the high one.
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)


def _high_bits(qh_bytes):
    qh = qh_bytes.copy().view("<u4").reshape(-1, 1).astype(np.uint32)
    return (((qh >> np.arange(32, dtype=np.uint32)) & 1) << 4).astype(np.int32)


def _deq_q4_0(raw):
    b = _blocks(raw, 18)
    d = _f16(b[:, 0:2].copy())
    return ((_nibbles(b[:, 2:]) - 8).astype(np.float32) * d).reshape(-1)


def _deq_q4_1(raw):
    b = _blocks(raw, 20)
    d = _f16(b[:, 0:2].copy())
    m = _f16(b[:, 2:4].copy())
    return (_nibbles(b[:, 4:]).astype(np.float32) * d + m).reshape(-1)


def _deq_q5_0(raw):
    b = _blocks(raw, 22)
    d = _f16(b[:, 0:2].copy())
    q = _nibbles(b[:, 6:]) | _high_bits(b[:, 2:6])
    return ((q - 16).astype(np.float32) * d).reshape(-1)


def _deq_q5_1(raw):
    b = _blocks(raw, 24)
    d = _f16(b[:, 0:2].copy())
    m = _f16(b[:, 2:4].copy())
    q = _nibbles(b[:, 8:]) | _high_bits(b[:, 4:8])
    return (q.astype(np.float32) * d + m).reshape(-1)


def _k_scales(sc):
    """The 8 six-bit (scale, min) pairs of a Q4_K/Q5_K super-block (12 bytes)."""
    sc = sc.astype(np.uint8)
    s = np.empty((sc.shape[0], 8), np.uint8)
    m = np.empty((sc.shape[0], 8), np.uint8)
    s[:, :4] = sc[:, 0:4] & 63
    m[:, :4] = sc[:, 4:8] & 63
    s[:, 4:] = (sc[:, 8:12] & 0x0F) | ((sc[:, 0:4] >> 6) << 4)
    m[:, 4:] = (sc[:, 8:12] >> 4) | ((sc[:, 4:8] >> 6) << 4)
    return s.astype(np.float32), m.astype(np.float32)


def _deq_q4_k(raw):
    b = _blocks(raw, 144)
    d = _f16(b[:, 0:2].copy())
    dmin = _f16(b[:, 2:4].copy())
    s, m = _k_scales(b[:, 4:16])
    qs = b[:, 16:].reshape(-1, 4, 32)
    # Sub-block 2k: low nibbles of the k-th 32 bytes; 2k + 1: their high nibbles.
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.float32)
    d1 = (d * s).astype(np.float32)[:, :, None]
    m1 = (dmin * m).astype(np.float32)[:, :, None]
    return (d1 * q - m1).reshape(-1)


def _deq_q5_k(raw):
    b = _blocks(raw, 176)
    d = _f16(b[:, 0:2].copy())
    dmin = _f16(b[:, 2:4].copy())
    s, m = _k_scales(b[:, 4:16])
    qh = b[:, 16:48]
    qs = b[:, 48:].reshape(-1, 4, 32)
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.int32)
    # Sub-block i takes its fifth bit from bit i of qh[l].
    hi = ((qh[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1).astype(np.int32) << 4
    q = (q + hi).astype(np.float32)
    d1 = (d * s).astype(np.float32)[:, :, None]
    m1 = (dmin * m).astype(np.float32)[:, :, None]
    return (d1 * q - m1).reshape(-1)


def _deq_q6_k(raw):
    b = _blocks(raw, 210)
    ql = b[:, 0:128].reshape(-1, 2, 64)
    qh = b[:, 128:192].reshape(-1, 2, 32)
    sc = b[:, 192:208].view(np.int8).astype(np.float32).reshape(-1, 2, 8)
    d = _f16(b[:, 208:210].copy()).reshape(-1, 1, 1)
    # Per half (128 values): four runs of 32 built from ql[0:32], ql[32:64]
    # (low then high nibbles) and the 2-bit fields of qh.
    lo = np.concatenate([ql[:, :, 0:32] & 0x0F, ql[:, :, 32:64] & 0x0F,
                         ql[:, :, 0:32] >> 4, ql[:, :, 32:64] >> 4], axis=2).astype(np.int32)
    hi = np.concatenate([(qh >> s) & 3 for s in (0, 2, 4, 6)], axis=2).astype(np.int32)
    q = ((lo | (hi << 4)) - 32).astype(np.float32).reshape(-1, 2, 8, 16)
    scale = (d[:, :, :, None] * sc[:, :, :, None]).astype(np.float32)
    return (scale * q).reshape(-1)


DEQUANT = {
    "F32": _deq_f32, "F16": lambda r: _f16(r), "BF16": _deq_bf16,
    "Q8_0": _deq_q8_0, "Q4_0": _deq_q4_0, "Q4_1": _deq_q4_1,
    "Q5_0": _deq_q5_0, "Q5_1": _deq_q5_1,
    "Q4_K": _deq_q4_k, "Q5_K": _deq_q5_k, "Q6_K": _deq_q6_k,
}
