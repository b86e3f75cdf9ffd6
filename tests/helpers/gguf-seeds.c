/* gguf-seeds - write small, valid GGUF files into DIR as seeds for the
 * fuzz_gguf target (make fuzz-smoke), so no binary seed is kept in the
 * repository: metadata of every value type, string and numeric arrays, and
 * tensors of plain and block types with one and several dimensions. */
#include <stdio.h>
#include <stdlib.h>

#include "gguf.h"
#include "output.h"

static void die(const struct lm_error *err)
{
	fprintf(stderr, "gguf-seeds: %s\n", err->msg);
	exit(1);
}

static void save(struct gguf_writer *w, const char *dir, const char *name)
{
	struct lm_error err = { 0 };
	struct output out;
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (output_open(&out, path, &err) || gguf_writer_write(w, &out, &err) || output_close(&out, &err))
		die(&err);
	gguf_writer_free(w);
}

int main(int argc, char **argv)
{
	static const char *const words[] = { "<s>", "</s>", "hello", "w\xc3\xb6rld" };
	static const size_t word_lens[] = { 3, 4, 5, 6 };
	static const int32_t ints[] = { 1, -2, 3 };
	static float f32[64];
	static unsigned char blocks[2 * 34];      /* two Q8_0 blocks */
	const int64_t ne1[1] = { 64 }, ne2[2] = { 8, 8 }, neq[1] = { 64 };
	struct lm_error err = { 0 };
	struct gguf_writer *w;

	if (argc != 2) {
		fprintf(stderr, "usage: gguf-seeds DIR\n");
		return 2;
	}
	for (int i = 0; i < 64; i++)
		f32[i] = (float)i / 8 - 4;
	if (gguf_writer_new(&w, &err) || gguf_writer_add_str(w, "general.architecture", "llama", 5, &err) ||
	    gguf_writer_add_u8(w, "a.u8", 7, &err) || gguf_writer_add_i8(w, "a.i8", -7, &err) ||
	    gguf_writer_add_u16(w, "a.u16", 700, &err) || gguf_writer_add_i16(w, "a.i16", -700, &err) ||
	    gguf_writer_add_u32(w, "a.u32", 70000, &err) || gguf_writer_add_i32(w, "a.i32", -70000, &err) ||
	    gguf_writer_add_f32(w, "a.f32", 0.5f, &err) || gguf_writer_add_bool(w, "a.bool", 1, &err) ||
	    gguf_writer_add_u64(w, "a.u64", 1ull << 40, &err) || gguf_writer_add_i64(w, "a.i64", -1, &err) ||
	    gguf_writer_add_f64(w, "a.f64", 1e-300, &err) ||
	    gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", words, word_lens, 4, &err) ||
	    gguf_writer_add_array(w, "a.ints", GGUF_TYPE_INT32, ints, 3, &err))
		die(&err);
	save(w, argv[1], "metadata.gguf");

	if (gguf_writer_new(&w, &err) || gguf_writer_add_str(w, "general.name", "seed", 4, &err) ||
	    gguf_writer_add_tensor(w, "v.weight", DTYPE_F32, 1, ne1, f32, &err) ||
	    gguf_writer_add_tensor(w, "m.weight", DTYPE_F32, 2, ne2, f32, &err) ||
	    gguf_writer_add_tensor(w, "q.weight", DTYPE_Q8_0, 1, neq, blocks, &err))
		die(&err);
	save(w, argv[1], "tensors.gguf");

	if (gguf_writer_new(&w, &err))
		die(&err);
	gguf_writer_pad_empty(w, 1);
	save(w, argv[1], "empty.gguf");
	return 0;
}
