#!/usr/bin/env python3
"""Independent reference for eval(1): trec_eval's retrieval measures written
straight from their definitions, sharing no code or structure with
libcommon/metrics.c.  Used by tests/cli/t0400-eval.sh to compare outputs
byte for byte.

    trec_eval_ref.py [-q] [-c] [-l LEVEL] [-m MEASURE]... QRELS RUN

Definitions (trec_eval 9; see its m_*.c for the measures):
  * ranking: a query's retrieved documents sorted by score, highest first,
    ties broken by docno, greatest (byte order) first; the rank column is
    ignored;
  * relevant: judged with rel >= LEVEL; R = number of relevant judged docs;
  * AP = sum over relevant retrieved docs at rank k of (relevant in top k)/k,
    divided by R;  gm_map = exp(mean(log(max(AP, 1e-5))));
  * P@k = (relevant in top k) / k;  recall@k = (relevant in top k) / R;
    Rprec = (relevant in top R) / R;  recip_rank = 1 / rank of first relevant;
    success@k = 1 if any relevant in top k;
  * bpref = 1/R * sum over relevant retrieved r of
        1 - min(n_r, R) / min(N, R)   (n_r > 0; else 1),
    n_r = judged nonrelevant (0 <= rel < LEVEL) ranked above r, N = judged
    nonrelevant;  unjudged documents are ignored;
  * iprec_at_recall@x: c = int(x * R + 0.9) relevant docs needed;
    max of P@k over the ranks k with at least c relevant in the top k
    (0 when fewer than c relevant were retrieved);
  * ndcg: DCG = sum of max(rel, 0) / log2(k + 1) over ranks k, divided by the
    DCG of all judged docs sorted by rel (no cutoff); ndcg_cut@k cuts both at k;
    the relevance level plays no part;
  * queries: those in both files; with -c all qrels queries, a missing one
    scoring 0 with num_ret 0; summary = mean over queries, sums for the counts.
"""
import json
import math
import sys

DEFAULT_RANKS = [5, 10, 15, 20, 30, 100, 200, 500, 1000]
DEFAULTS = {
    "P": DEFAULT_RANKS, "recall": DEFAULT_RANKS, "ndcg_cut": DEFAULT_RANKS,
    "success": [1, 5, 10],
    "iprec_at_recall": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
}
ORDER = ["runid", "num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map",
         "Rprec", "bpref", "recip_rank", "iprec_at_recall", "P", "recall", "ndcg",
         "ndcg_cut", "success"]
OFFICIAL = ORDER[:12]
COUNTS = {"num_ret", "num_rel", "num_rel_ret"}


def read_lines(path):
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    with f:
        for raw in f:
            line = raw.rstrip(b"\r\n")
            if not line.strip() or line.lstrip().startswith(b"#"):
                continue
            yield line


def read_qrels(path):
    qrels = {}
    first = True
    for line in read_lines(path):
        f = line.split()
        if len(f) == 4:
            qid, doc, rel = f[0], f[2], f[3]
        else:
            qid, doc, rel = f
            if first and not rel.lstrip(b"+-").isdigit():
                first = False
                continue  # BEIR header
        first = False
        qrels.setdefault(qid, {})[doc] = int(rel)
    return qrels


def read_run(path):
    run, runid = {}, None
    for line in read_lines(path):
        if line.lstrip().startswith(b"{"):
            hit = json.loads(line)
            qid = str(hit["qid"]).encode()
            doc = str(hit.get("id", hit.get("_id"))).encode()
            score = float(hit["score"]) if "score" in hit else -float(hit["rank"])
            runid = path.rsplit("/", 1)[-1].encode()
        else:
            f = line.split()
            qid, doc, score, runid = f[0], f[2], float(f[4]), f[5]
        run.setdefault(qid, []).append((score, doc))
    return run, runid


def measures_for(qrel, docs, level, ranks):
    """Every measure for one query; docs = ranked list of docnos."""
    rels = [qrel.get(d) for d in docs]          # None: not in the pool
    judged_rel = [r for r in qrel.values() if r >= level]
    judged_non = [r for r in qrel.values() if 0 <= r < level]
    R, N = len(judged_rel), len(judged_non)
    is_rel = [r is not None and r >= level for r in rels]
    cum = [0]
    for x in is_rel:
        cum.append(cum[-1] + x)

    def top(k):
        return cum[min(k, len(docs))]

    v = {}
    v["num_ret"] = len(docs)
    v["num_rel"] = R
    v["num_rel_ret"] = cum[-1]
    ap = 0.0
    for k, x in enumerate(is_rel, 1):
        if x:
            ap += cum[k] / k
    ap = ap / R if cum[-1] else 0.0
    v["map"] = ap
    v["gm_map"] = math.log(max(ap, 0.00001))
    v["Rprec"] = top(R) / R if R and docs else 0.0
    first = next((k for k, x in enumerate(is_rel, 1) if x), None)
    v["recip_rank"] = 1.0 / first if first else 0.0
    b, above = 0.0, 0
    for r in rels:
        if r is None or r < 0:
            continue
        if r < level:
            above += 1
        else:
            b += 1.0 - min(above, R) / min(N, R) if above else 1.0
    v["bpref"] = b / R if R else b
    for x in ranks["iprec_at_recall"]:
        need = int(x * R + 0.9)
        cands = [cum[k] / k for k in range(1, len(docs) + 1) if cum[k] >= need]
        v["iprec_at_recall_%3.2f" % x] = max(cands) if need <= cum[-1] and cands else 0.0
    for k in ranks["P"]:
        v["P_%d" % k] = top(k) / k
    for k in ranks["recall"]:
        v["recall_%d" % k] = top(k) / R if R else 0.0
    for k in ranks["success"]:
        v["success_%d" % k] = 1.0 if top(k) else 0.0
    gains = [max(r, 0) if r is not None else 0 for r in rels]
    ideal = sorted((r for r in qrel.values() if r > 0), reverse=True)

    def dcg(g, k=None):
        s = 0.0
        for i, x in enumerate(g[:k] if k else g):
            if x > 0:
                s += x / math.log2(i + 2)
        return s

    def ndcg(k=None):
        i = dcg(ideal, k)
        return dcg(gains, k) / i if i > 0 else 0.0

    v["ndcg"] = ndcg()
    for k in ranks["ndcg_cut"]:
        v["ndcg_cut_%d" % k] = ndcg(k)
    return v


def plain_sum(values):
    """Left-to-right sum as C does it (Python 3.12's sum() compensates)."""
    s = 0.0
    for x in values:
        s += x
    return s


def main(argv):
    per_query = complete = False
    level = 1
    wanted, params = set(), {}
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-q":
            per_query = True
        elif a == "-c":
            complete = True
        elif a == "-l":
            i += 1
            level = int(argv[i])
        elif a == "-m":
            i += 1
            name, _, p = argv[i].partition(".")
            if name == "official":
                wanted.update(OFFICIAL)
            else:
                wanted.add(name)
                if p:
                    conv = float if name == "iprec_at_recall" else int
                    params.setdefault(name, set()).update(conv(x) for x in p.split(","))
        else:
            args.append(a)
        i += 1
    if not wanted:
        wanted = set(OFFICIAL)
    ranks = {m: sorted(params.get(m, DEFAULTS[m])) for m in DEFAULTS}
    qrels = read_qrels(args[0])
    run, runid = read_run(args[1])

    names = []
    for m in ORDER:
        if m not in wanted:
            continue
        if m in DEFAULTS:
            fmt = "%s_%3.2f" if m == "iprec_at_recall" else "%s_%d"
            names += [fmt % (m, k) for k in ranks[m]]
        else:
            names.append(m)

    rows = []
    for qid in sorted(qrels):
        if qid in run:
            docs = [d for _, d in sorted(run[qid], reverse=True)]
            v = measures_for(qrels[qid], docs, level, ranks)
        elif complete:
            v = measures_for(qrels[qid], [], level, ranks)
        else:
            continue
        rows.append((qid.decode(), v))

    out = []

    def line(name, qid, value):
        if name == "runid":
            out.append("%-22s\t%s\t%s" % (name, qid, value))
        elif name in COUNTS or name == "num_q":
            out.append("%-22s\t%s\t%d" % (name, qid, value))
        else:
            out.append("%-22s\t%s\t%6.4f" % (name, qid, value))

    if per_query:
        for qid, v in rows:
            for n in names:
                if n not in ("runid", "num_q", "gm_map"):
                    line(n, qid, v[n])
    for n in names:
        if n == "runid":
            line(n, "all", runid.decode())
        elif n == "num_q":
            line(n, "all", len(rows))
        elif n in COUNTS:
            line(n, "all", sum(v[n] for _, v in rows))
        elif n == "gm_map":
            line(n, "all", math.exp(plain_sum(v[n] for _, v in rows) / len(rows)))
        else:
            line(n, "all", plain_sum(v[n] for _, v in rows) / len(rows))
    sys.stdout.write("".join(s + "\n" for s in out))


if __name__ == "__main__":
    main(sys.argv[1:])
