#include "index/ann.h"

#include <stdlib.h>

#include "index/idxfile.h"

static int hit_cmp(const void *pa, const void *pb)
{
	const struct ann_hit *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return (a->doc > b->doc) - (a->doc < b->doc);
}

void ann_sort_hits(struct ann_hit *hits, size_t n)
{
	if (n > 1)
		qsort(hits, n, sizeof(*hits), hit_cmp);
}

int ann_idxfile_put(void *writer, const char *name, const void *data, size_t size, struct lm_error *err)
{
	return idxfile_add_section(writer, name, data, size, err);
}

int ann_idxfile_get(void *idxfile, const char *name, const void **data, size_t *size, struct lm_error *err)
{
	uint64_t sz = 0;
	int r = idxfile_require(idxfile, name, data, &sz, err);

	if (r)
		return r;
	if (sz > SIZE_MAX)
		return lm_fail(err, LM_EFORMAT, "%s: section %s too large", ((const struct idxfile *)idxfile)->path, name);
	*size = (size_t)sz;
	return 0;
}
