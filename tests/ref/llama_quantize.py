#!/usr/bin/python3
"""llama_quantize.py - run llama.cpp's own quantizer, the reference that
quantize(1) must reproduce byte for byte.

    llama_quantize.py LIBDIR IN.gguf OUT.gguf FTYPE [--pure]

Calls llama_model_quantize from LIBDIR/libllama*.so (node-llama-cpp's
prebuilt llama.cpp) through ctypes, with llama_model_quantize_default_params
and FTYPE, a llama_ftype number (llama.h: 2 Q4_0, 3 Q4_1, 7 Q8_0, 8 Q5_0,
9 Q5_1, 10 Q2_K, 11-13 Q3_K_S/M/L, 14-15 Q4_K_S/M, 16-17 Q5_K_S/M, 18 Q6_K,
0 F32, 1 F16, 32 BF16).  --pure sets the `pure` field (llama-quantize
--pure).  LLAMA_THREADS sets nthread (default 2).  Exits 1 when llama.cpp
reports a failure.

The parameter struct is only touched at the offsets llama.h gives its first
fields (int32 nthread, int32 ftype, int32 output_tensor_type, int32
token_embedding_type, then the bools allow_requantize,
quantize_output_tensor, only_copy, pure); the rest is passed back as the
library filled it, through a buffer larger than the struct.
"""
import ctypes
import glob
import os
import sys


class Params(ctypes.Structure):
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int32),
                ("output_tensor_type", ctypes.c_int32), ("token_embedding_type", ctypes.c_int32),
                ("allow_requantize", ctypes.c_bool), ("quantize_output_tensor", ctypes.c_bool),
                ("only_copy", ctypes.c_bool), ("pure", ctypes.c_bool),
                ("rest", ctypes.c_uint8 * 256)]


def main():
    args = [a for a in sys.argv[1:] if a != "--pure"]
    if len(args) != 4:
        sys.stderr.write(__doc__)
        return 2
    libdir, inp, out, ftype = args
    # the ggml libraries libllama needs, global so that it finds them
    for name in ("libggml-base.so", "libggml.so", "libggml.v*.so"):
        for path in sorted(glob.glob(os.path.join(libdir, name))):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(sorted(glob.glob(os.path.join(libdir, "libllama*.so")))[-1])
    lib.llama_model_quantize_default_params.restype = Params
    lib.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Params)]
    lib.llama_model_quantize.restype = ctypes.c_uint32
    if hasattr(lib, "llama_backend_init"):
        lib.llama_backend_init()
    params = lib.llama_model_quantize_default_params()
    params.ftype = int(ftype)
    params.nthread = int(os.environ.get("LLAMA_THREADS", "2"))
    params.pure = "--pure" in sys.argv
    if hasattr(lib, "llama_log_set"):
        cb_type = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
        main.quiet = cb_type(lambda level, text, data: None)
        lib.llama_log_set(main.quiet, None)
    rc = lib.llama_model_quantize(inp.encode(), out.encode(), ctypes.byref(params))
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
