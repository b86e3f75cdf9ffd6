#include "index/ann.h"

#include <stdlib.h>

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
