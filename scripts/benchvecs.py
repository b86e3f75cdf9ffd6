"""benchvecs - the vectors of scripts/bench-ann and scripts/bench-flat.

synthetic(n, dim, nq): gaussian clusters (n/100 centres, noise 0.35, numpy
seed 1), the same vectors bench-ann has always used.

text(shared, dim, nq, window): real-text vectors.  Passages are windows of
WINDOW words (the last window of a document is merged into the previous one
when it is shorter than half a window; repeated passages are kept once, so
that exact neighbours are not decided by ties) over SciFact (title + abstract),
msmarco-5k passages and the paragraphs of wikitext-2; the three corpora hold
about 1.7M words, so windows of 16 words give just over 100k passages
(103,604 distinct ones with a term).  Vectors are TF-IDF (log-scaled tf, idf = log(N / df), terms in >= 2
passages) reduced to DIM dimensions by randomized truncated SVD (Halko,
Martinsson & Tropp 2011, algorithm 4.4: oversampling 16, two power
iterations with QR re-orthonormalisation), then scaled to unit length;
passages left without any term (all their words occur once) are dropped.
numpy only: the sparse products are per-column bincounts over the nonzeros.
NQ passages picked at random (seed 2) are held out as the queries; the rest
are the base.  With CACHE (an .npz path) the result is kept between runs.

write_fvecs / write_vecstream write the formats our programs read.
"""
import json
import os
import re

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def synthetic(n, dim, nq):
    rng = np.random.default_rng(1)
    nc = max(1, n // 100)
    ctr = rng.standard_normal((nc, dim)).astype(np.float32)
    allv = ctr[rng.integers(0, nc, n + nq)] + 0.35 * rng.standard_normal((n + nq, dim)).astype(np.float32)
    return allv[:n].copy(), allv[n:].copy()


def _documents(shared):
    for name in ("scifact", "msmarco-5k"):
        with open(os.path.join(shared, "data", name, "corpus.jsonl"), encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                yield (r.get("title") or "") + " " + (r.get("text") or "")
    with open(os.path.join(shared, "data", "wikitext-2", "wiki.test.raw"), encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith("="):
                yield s


def passages(shared, window):
    out, seen = [], set()
    for doc in _documents(shared):
        words = _WORD.findall(doc.lower())
        if not words:
            continue
        chunks = [words[i:i + window] for i in range(0, len(words), window)]
        if len(chunks) > 1 and len(chunks[-1]) < window // 2:
            last = chunks.pop()
            chunks[-1] = chunks[-1] + last
        for c in chunks:
            key = " ".join(c)
            if key not in seen:
                seen.add(key)
                out.append(c)
    return out


def _tfidf(chunks):
    vocab = {}
    rows, cols, tfs = [], [], []
    for r, words in enumerate(chunks):
        ids, counts = np.unique([vocab.setdefault(w, len(vocab)) for w in words], return_counts=True)
        rows.append(np.full(len(ids), r, dtype=np.int64))
        cols.append(ids)
        tfs.append(counts)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    tf = np.concatenate(tfs).astype(np.float64)
    df = np.bincount(cols, minlength=len(vocab))
    keep = df[cols] >= 2
    rows, cols, tf = rows[keep], cols[keep], tf[keep]
    used, cols = np.unique(cols, return_inverse=True)
    val = (1 + np.log(tf)) * np.log(len(chunks) / df[used][cols])
    return rows, cols, val, len(chunks), len(used)


def _svd_rows(rows, cols, val, n, v, dim, seed=3):
    """A ~ U S V^T, return U S (n x dim) by randomized SVD of the sparse A."""
    def a_mul(b):      # A (n x v) @ b (v x l)
        return np.stack([np.bincount(rows, weights=val * b[cols, j], minlength=n)
                         for j in range(b.shape[1])], axis=1)

    def at_mul(b):     # A^T @ b (n x l)
        return np.stack([np.bincount(cols, weights=val * b[rows, j], minlength=v)
                         for j in range(b.shape[1])], axis=1)

    rng = np.random.default_rng(seed)
    y = a_mul(rng.standard_normal((v, dim + 16)))
    for _ in range(2):
        qm, _ = np.linalg.qr(y)
        qm, _ = np.linalg.qr(at_mul(qm))
        y = a_mul(qm)
    qm, _ = np.linalg.qr(y)
    b = at_mul(qm).T                     # l x v = Q^T A
    ub, s, _ = np.linalg.svd(b, full_matrices=False)
    return (qm @ ub[:, :dim]) * s[:dim]


def text(shared, dim, nq, window, cache=None):
    if cache and os.path.exists(cache):
        z = np.load(cache)
        return z["xb"], z["xq"], str(z["info"])
    chunks = passages(shared, window)
    rows, cols, val, n, v = _tfidf(chunks)
    x = _svd_rows(rows, cols, val, n, v, dim).astype(np.float32)
    # a passage made only of words seen once has no terms left: a zero
    # vector, equally far from every query, would only add ties
    x = x[np.bincount(rows, minlength=n) > 0]
    n = len(x)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    perm = np.random.default_rng(2).permutation(n)
    xq, xb = x[perm[:nq]].copy(), x[np.sort(perm[nq:])].copy()
    info = ("%d passages of %d words with a term in >= 2 passages (SciFact + msmarco-5k + "
            "wikitext-2 test), %d terms, "
            "TF-IDF + randomized SVD to %d dims, unit length; %d held-out passages as queries"
            % (n, window, v, dim, nq))
    if cache:
        np.savez(cache, xb=xb, xq=xq, info=info)
    return xb, xq, info


def write_fvecs(path, a, dtype=np.float32):
    a = np.ascontiguousarray(a, dtype=dtype)
    n, d = a.shape
    out = np.empty((n, d + 1), dtype=np.int32)
    out[:, 0] = d
    out[:, 1:] = a.view(np.int32)
    out.tofile(path)


def write_vecstream(path, a, prefix="d"):
    """lmpipe binary vector stream (vecstream.h): f32, no meta, ids PREFIX + row."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    n, d = a.shape
    width = len("%s%d" % (prefix, max(n - 1, 0)))
    rec = np.dtype([("len", "<u4"), ("id", "S%d" % width), ("v", "<f4", (d,))])
    r = np.empty(n, dtype=rec)
    r["len"] = width
    r["id"] = np.char.encode(np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width - len(prefix))))
    r["v"] = a
    with open(path, "wb") as f:
        f.write(b"\x89LMPVEC\x1a" + np.array([1], "<u2").tobytes() + bytes([0, 0]) +
                np.array([d], "<u4").tobytes())
        r.tofile(f)
