/* fuzz_bm25.c - libFuzzer target for the BM25 section loader and search.
 *
 * Input: the bytes of a bm25 section.  Loading must either succeed or fail
 * with LM_EFORMAT; a loaded index is searched with a few fixed queries,
 * each of which must give hits with valid document numbers or LM_EFORMAT.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/bm25.h"

static const char *const queries[] = {
	"apple", "banana cherry", "date date", "The running dogs", "", "zzz",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_error err = { 0 };
	struct bm25_index ix;
	struct bm25_searcher *s = NULL;
	struct topk top;
	uint64_t *buf = malloc(size + 8);   /* the loader wants 8-byte alignment */
	int rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	rc = bm25_open_mem(&ix, buf, size, "fuzz", &err);
	if (rc) {
		if (rc != LM_EFORMAT)
			abort();
		free(buf);
		return 0;
	}
	if (topk_init(&top, 5) == 0 && bm25_searcher_new(&s, &ix, &err) == 0) {
		for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
			topk_reset(&top);
			rc = bm25_search(s, queries[q], strlen(queries[q]), NULL, NULL, &top, &err);
			if (rc && rc != LM_EFORMAT)
				abort();
			for (uint32_t i = 0; !rc && i < top.n; i++)
				if (top.hits[i].doc >= ix.n_docs || !(top.hits[i].score > 0))
					abort();
		}
	}
	bm25_searcher_free(s);
	topk_free(&top);
	bm25_index_free(&ix);
	free(buf);
	return 0;
}
