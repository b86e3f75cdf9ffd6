#!/usr/bin/python3
"""llama_ppl.py - llama.cpp's perplexity of a GGUF decoder over a text, the
reference `evaluate ppl` must agree with (tests/cli/t0876).

    llama_ppl.py LIBDIR MODEL TEXT CTX [--threads N] [--kv-type f16|f32]
                 [--flash-attn auto|on|off]

Runs llama.cpp itself (libllama from LIBDIR, node-llama-cpp's prebuilt CPU
build) through ctypes and applies the method of llama-perplexity
(tools/perplexity/perplexity.cpp, perplexity() without --ppl-stride):

  - the text is the file as `-f` reads it (common/arg.cpp: one trailing
    newline removed), tokenized once with the vocabulary's special tokens
    added (BOS when llama_vocab_get_add_bos) and special-token text not
    parsed (common_tokenize(ctx, text, true));
  - it is cut into n_chunk = n_tokens / CTX non-overlapping chunks; each runs
    from a cleared KV cache with its first token replaced by BOS when the
    vocabulary adds one;
  - positions first = CTX/2 .. CTX-2 predict tokens first+1 .. CTX-1; each
    contributes -log_softmax (max of the float logits, sum of expf in
    double: perplexity.cpp's log_softmax) to nll and its square to nll2;
  - ppl = exp(nll / count), stderr = ppl * sqrt((nll2/count - (nll/count)^2)
    / (count - 1)).

One chunk is decoded per llama_decode (a context of CTX positions, batch
and micro-batch CTX); llama-perplexity packs several chunks as parallel
sequences into one batch when its batch exceeds CTX, which changes only
the order of floating-point work, not what is computed.

Prints "ppl V", "ppl_stderr V", "tokens_scored N", "chunks N" and
"tokens N" (the whole text), one per line.  Exits 1 when llama.cpp fails,
2 on usage errors.

The context is llama.cpp's default but for the sizes above, the KV cache
type (F16, llama.cpp's default; --kv-type f32 asks for F32, which flash
attention casts to F16 anyway) and --flash-attn (default auto, as
llama-perplexity: on for the CPU).  llama.cpp's CPU flash attention sums
the value rows in F16 (ggml-cpu ops.cpp, VKQ16 for an F16 V), which moves
its perplexity by about 0.1% on a 64-wide model such as stories260K at a
context of 256 against exact float attention; --flash-attn off gives its
float path.

The ctypes structures follow include/llama.h of the llama.cpp release
node-llama-cpp 3.22.1 bundles (llama_model_params 80 bytes,
llama_context_params 160, llama_batch 56 on x86-64; checked below).
"""
import ctypes
import glob
import math
import os
import sys

import numpy as np

GGML_TYPE_F32, GGML_TYPE_F16 = 0, 1


class ModelParams(ctypes.Structure):
    _fields_ = [("devices", ctypes.c_void_p), ("tensor_buft_overrides", ctypes.c_void_p),
                ("n_gpu_layers", ctypes.c_int32), ("split_mode", ctypes.c_int32),
                ("load_mode", ctypes.c_int32), ("lazy_mode", ctypes.c_int32),
                ("main_gpu", ctypes.c_int32), ("tensor_split", ctypes.c_void_p),
                ("progress_callback", ctypes.c_void_p), ("progress_callback_user_data", ctypes.c_void_p),
                ("kv_overrides", ctypes.c_void_p),
                ("vocab_only", ctypes.c_bool), ("check_tensors", ctypes.c_bool),
                ("use_extra_bufts", ctypes.c_bool), ("no_host", ctypes.c_bool),
                ("no_alloc", ctypes.c_bool), ("load_mtp", ctypes.c_bool)]


class ContextParams(ctypes.Structure):
    _fields_ = [("n_ctx", ctypes.c_uint32), ("n_batch", ctypes.c_uint32), ("n_ubatch", ctypes.c_uint32),
                ("n_seq_max", ctypes.c_uint32), ("n_rs_seq", ctypes.c_uint32),
                ("n_outputs_max", ctypes.c_uint32), ("n_outputs_max_per_seq", ctypes.c_uint32),
                ("n_threads", ctypes.c_int32), ("n_threads_batch", ctypes.c_int32),
                ("ctx_type", ctypes.c_int32), ("rope_scaling_type", ctypes.c_int32),
                ("pooling_type", ctypes.c_int32), ("attention_type", ctypes.c_int32),
                ("flash_attn_type", ctypes.c_int32),
                ("rope_freq_base", ctypes.c_float), ("rope_freq_scale", ctypes.c_float),
                ("yarn_ext_factor", ctypes.c_float), ("yarn_attn_factor", ctypes.c_float),
                ("yarn_beta_fast", ctypes.c_float), ("yarn_beta_slow", ctypes.c_float),
                ("yarn_orig_ctx", ctypes.c_uint32), ("defrag_thold", ctypes.c_float),
                ("cb_eval", ctypes.c_void_p), ("cb_eval_user_data", ctypes.c_void_p),
                ("type_k", ctypes.c_int32), ("type_v", ctypes.c_int32),
                ("abort_callback", ctypes.c_void_p), ("abort_callback_data", ctypes.c_void_p),
                ("embeddings", ctypes.c_bool), ("offload_kqv", ctypes.c_bool), ("no_perf", ctypes.c_bool),
                ("op_offload", ctypes.c_bool), ("swa_full", ctypes.c_bool), ("kv_unified", ctypes.c_bool),
                ("samplers", ctypes.c_void_p), ("n_samplers", ctypes.c_size_t),
                ("ctx_other", ctypes.c_void_p)]


class Batch(ctypes.Structure):
    _fields_ = [("n_tokens", ctypes.c_int32), ("token", ctypes.POINTER(ctypes.c_int32)),
                ("embd", ctypes.POINTER(ctypes.c_float)), ("pos", ctypes.POINTER(ctypes.c_int32)),
                ("n_seq_id", ctypes.POINTER(ctypes.c_int32)),
                ("seq_id", ctypes.POINTER(ctypes.POINTER(ctypes.c_int32))),
                ("logits", ctypes.POINTER(ctypes.c_int8))]


assert (ctypes.sizeof(ModelParams), ctypes.sizeof(ContextParams), ctypes.sizeof(Batch)) == (80, 160, 56)


class Fail(Exception):
    pass


def load(libdir):
    for name in ("libggml-base.so", "libggml.so", "libggml.v*.so"):
        for path in sorted(glob.glob(os.path.join(libdir, name))):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    libs = sorted(glob.glob(os.path.join(libdir, "libllama*.so")))
    libs = [p for p in libs if "common" not in os.path.basename(p)]
    if not libs:
        raise Fail("no libllama in %s" % libdir)
    ggml = ctypes.CDLL(sorted(glob.glob(os.path.join(libdir, "libggml.v*.so")) or
                              glob.glob(os.path.join(libdir, "libggml.so")))[-1])
    lib = ctypes.CDLL(libs[-1])
    quiet = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(lambda lv, t, d: None)
    lib.llama_log_set(quiet, None)
    load.keep = quiet
    # the CPU backend is a separate library picked by CPU features
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path(libdir.encode())
    lib.llama_backend_init()

    vp = ctypes.c_void_p
    lib.llama_model_default_params.restype = ModelParams
    lib.llama_context_default_params.restype = ContextParams
    lib.llama_model_load_from_file.argtypes = [ctypes.c_char_p, ModelParams]
    lib.llama_model_load_from_file.restype = vp
    lib.llama_init_from_model.argtypes = [vp, ContextParams]
    lib.llama_init_from_model.restype = vp
    lib.llama_model_get_vocab.argtypes = [vp]
    lib.llama_model_get_vocab.restype = vp
    lib.llama_vocab_get_add_bos.argtypes = [vp]
    lib.llama_vocab_get_add_bos.restype = ctypes.c_bool
    lib.llama_vocab_bos.argtypes = [vp]
    lib.llama_vocab_bos.restype = ctypes.c_int32
    lib.llama_vocab_n_tokens.argtypes = [vp]
    lib.llama_vocab_n_tokens.restype = ctypes.c_int32
    lib.llama_tokenize.argtypes = [vp, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                   ctypes.c_int32, ctypes.c_bool, ctypes.c_bool]
    lib.llama_tokenize.restype = ctypes.c_int32
    lib.llama_batch_init.argtypes = [ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]
    lib.llama_batch_init.restype = Batch
    lib.llama_batch_free.argtypes = [Batch]
    lib.llama_decode.argtypes = [vp, Batch]
    lib.llama_decode.restype = ctypes.c_int32
    lib.llama_get_logits.argtypes = [vp]
    lib.llama_get_logits.restype = ctypes.POINTER(ctypes.c_float)
    lib.llama_get_memory.argtypes = [vp]
    lib.llama_get_memory.restype = vp
    lib.llama_memory_clear.argtypes = [vp, ctypes.c_bool]
    lib.llama_free.argtypes = [vp]
    lib.llama_model_free.argtypes = [vp]
    return lib


def tokenize(lib, vocab, text):
    n = len(text) + 8
    buf = (ctypes.c_int32 * n)()
    got = lib.llama_tokenize(vocab, text, len(text), buf, n, True, False)
    if got < 0:
        n = -got
        buf = (ctypes.c_int32 * n)()
        got = lib.llama_tokenize(vocab, text, len(text), buf, n, True, False)
    if got < 0:
        raise Fail("llama_tokenize failed (%d)" % got)
    return list(buf[:got])


def log_softmax(row, tok):
    """perplexity.cpp log_softmax: float max, double sum of float expf."""
    m = row.max()
    s = np.exp(row - m, dtype=np.float32).astype(np.float64).sum()
    return float(np.float32(row[tok] - m)) - math.log(s)


def perplexity(libdir, model_path, text_path, n_ctx, threads, kv_type, flash_attn="auto"):
    lib = load(libdir)
    with open(text_path, "rb") as f:
        text = f.read()
    if text.endswith(b"\n"):
        text = text[:-1]

    mp = lib.llama_model_default_params()
    mp.n_gpu_layers = 0
    model = lib.llama_model_load_from_file(model_path.encode(), mp)
    if not model:
        raise Fail("llama.cpp cannot load %s" % model_path)
    vocab = lib.llama_model_get_vocab(model)
    n_vocab = lib.llama_vocab_n_tokens(vocab)
    add_bos = lib.llama_vocab_get_add_bos(vocab)
    bos = lib.llama_vocab_bos(vocab)
    tokens = tokenize(lib, vocab, text)
    if len(tokens) < 2 * n_ctx:
        raise Fail("%s tokenizes to %d tokens; a context of %d needs %d" %
                   (text_path, len(tokens), n_ctx, 2 * n_ctx))

    cp = lib.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = n_ctx
    cp.n_ubatch = n_ctx
    cp.n_seq_max = 1
    cp.n_threads = threads
    cp.n_threads_batch = threads
    cp.type_k = cp.type_v = GGML_TYPE_F32 if kv_type == "f32" else GGML_TYPE_F16
    cp.no_perf = True
    cp.flash_attn_type = {"auto": -1, "off": 0, "on": 1}[flash_attn]
    ctx = lib.llama_init_from_model(model, cp)
    if not ctx:
        raise Fail("llama.cpp cannot create a context of %d" % n_ctx)
    batch = lib.llama_batch_init(n_ctx, 0, 1)
    first = n_ctx // 2
    n_chunk = len(tokens) // n_ctx
    nll = nll2 = 0.0
    count = 0
    try:
        for c in range(n_chunk):
            start = c * n_ctx
            lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
            n_out = 0
            for k in range(n_ctx):
                batch.token[k] = bos if (k == 0 and add_bos) else tokens[start + k]
                batch.pos[k] = k
                batch.n_seq_id[k] = 1
                batch.seq_id[k][0] = 0
                batch.logits[k] = 1 if k >= first else 0
                n_out += k >= first
            batch.n_tokens = n_ctx
            if lib.llama_decode(ctx, batch):
                raise Fail("llama_decode failed on chunk %d" % c)
            out = np.ctypeslib.as_array(lib.llama_get_logits(ctx), shape=(n_out * n_vocab,))
            out = out.reshape(n_out, n_vocab)
            for i in range(n_ctx - 1 - first):
                v = -log_softmax(out[i], tokens[start + first + i + 1])
                nll += v
                nll2 += v * v
            count += n_ctx - 1 - first
    finally:
        lib.llama_batch_free(batch)
        lib.llama_free(ctx)
        lib.llama_model_free(model)
    mean = nll / count
    ppl = math.exp(mean)
    var = nll2 / count - mean * mean
    err = math.sqrt(var / (count - 1)) * ppl if var > 0 else 0.0
    return ppl, err, count, n_chunk, len(tokens)


def main():
    args = sys.argv[1:]
    threads, kv_type, fa = 2, "f16", "auto"
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--threads" and i + 1 < len(args):
            threads = int(args[i + 1])
            i += 2
        elif args[i] == "--kv-type" and i + 1 < len(args) and args[i + 1] in ("f16", "f32"):
            kv_type = args[i + 1]
            i += 2
        elif args[i] == "--flash-attn" and i + 1 < len(args) and args[i + 1] in ("auto", "on", "off"):
            fa = args[i + 1]
            i += 2
        else:
            rest.append(args[i])
            i += 1
    if len(rest) != 4 or not rest[3].isdigit() or int(rest[3]) < 4:
        sys.stderr.write(__doc__)
        return 2
    libdir, model, text, n_ctx = rest[0], rest[1], rest[2], int(rest[3])
    try:
        ppl, err, count, n_chunk, n_tok = perplexity(libdir, model, text, n_ctx, threads, kv_type, fa)
    except (Fail, OSError) as e:
        sys.stderr.write("llama_ppl: %s\n" % e)
        return 1
    print("ppl %.6f\nppl_stderr %.6f\ntokens_scored %d\nchunks %d\ntokens %d" % (ppl, err, count, n_chunk, n_tok))
    return 0


if __name__ == "__main__":
    sys.exit(main())
