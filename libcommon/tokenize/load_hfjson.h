/* load_hfjson.h - Hugging Face tokenizer.json from memory.
 *
 * tok_load_hfjson (tokenizer_impl.h) reads a file and calls this.  Errors
 * name NAME and the JSON path of the fault:
 *   "tokenizer.json: pre_tokenizer.pretokenizers[1].type: unknown pre-tokenizer 'Foo'".
 * The caller still runs tok_finish on success (tokenizer_load does).
 */
#ifndef LMPIPE_TOK_LOAD_HFJSON_H
#define LMPIPE_TOK_LOAD_HFJSON_H

#include <stddef.h>

#include "error.h"

struct tokenizer;

int tok_load_hfjson_memory(struct tokenizer *tok, const char *json, size_t len, const char *name,
			   struct lm_error *err);

#endif
