/* ivf.h - inverted file index (Sivic & Zisserman's "Video Google" lists,
 * as in Jegou et al. 2011 section IV and FAISS's IndexIVF*).
 *
 * k-means (kmeans.h) on a sample places nlist centroids; each vector goes
 * to the list of its nearest centroid (squared L2, also for ip) and is
 * stored there as a code:
 *   flat  the dim floats;
 *   sq8   one byte per dimension, (x - lo[d]) / step[d] rounded, where lo
 *         and lo + 255 step are the training sample's per-dimension min and
 *         max (values outside are clamped); decoding errs by at most step/2
 *         inside that range;
 *   pq    m bytes: the product quantization (pq.h) of the residual x - c.
 * Search ranks the centroids by the metric, scans the nprobe best lists and
 * scores every code against the query; when a filter leaves fewer than k
 * accepted hits in those lists it keeps scanning the next lists in order,
 * so k hits come back whenever k documents pass.
 *
 * Lists are kept as one block sorted by list (offsets, doc ids, codes), the
 * same layout in memory and on disk, so a loaded index is used in place.
 * Searching is thread-safe; adding is not safe against concurrent searches.
 */
#ifndef LMPIPE_IVF_H
#define LMPIPE_IVF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/ann.h"
#include "index/kmeans.h"

enum ivf_codec {
	IVF_FLAT = 0,
	IVF_SQ8 = 1,
	IVF_PQ = 2,
};

struct ivf_params {
	uint32_t nlist;                 /* lists (centroids); 0 = 256 */
	enum ivf_codec codec;
	uint32_t pq_m;                  /* pq bytes per vector; must divide dim; 0 = dim / 4 */
	struct kmeans_params kmeans;    /* for the centroids and the PQ codebooks */
};

struct ivf_index;

struct ivf_index *ivf_new(uint32_t dim, enum ann_metric metric, const struct ivf_params *params,
	struct lm_error *err);
void ivf_free(struct ivf_index *ivf);

/* Learns centroids (and SQ ranges / PQ codebooks) from n >= nlist vectors;
 * required once before ivf_add. */
int ivf_train(struct ivf_index *ivf, const float *x, size_t n, struct lm_error *err);
/* Adds count vectors as documents n..n+count-1. */
int ivf_add(struct ivf_index *ivf, const float *x, uint32_t count, struct lm_error *err);

uint32_t ivf_count(const struct ivf_index *ivf);
uint32_t ivf_nlist(const struct ivf_index *ivf);
/* bytes per stored vector's code */
uint32_t ivf_code_size(const struct ivf_index *ivf);
size_t ivf_memory(const struct ivf_index *ivf);
const char *ivf_codec_name(enum ivf_codec codec);
/* "flat", "sq8", "pq" -> enum ivf_codec; LM_EINVAL otherwise. */
int ivf_codec_parse(const char *name, enum ivf_codec *codec, struct lm_error *err);

/* The vector doc's code decodes to (flat: itself; sq8: lo + code * step;
 * pq: its centroid plus the decoded residual).  Linear in n: for tests and
 * tools, not for search.  LM_EINVAL when doc >= n. */
int ivf_reconstruct(const struct ivf_index *ivf, uint32_t doc, float *out, struct lm_error *err);

/* The k best accepted documents, best first (ties by doc): scores are the
 * metric's (ann.h) computed on the codes.  Returns the number of hits or
 * LM_ENOMEM. */
int ivf_search(const struct ivf_index *ivf, const float *query, uint32_t k, uint32_t nprobe,
	ann_accept_fn *accept, void *arg, struct ann_hit *hits);

/* Sections ivf.hdr, ivf.cent, ivf.off, ivf.ids, ivf.codes, and ivf.sq or
 * ivf.pq. */
int ivf_write(const struct ivf_index *ivf, ann_put_fn *put, void *arg, struct lm_error *err);
/* In place, every size and offset checked (LM_EFORMAT naming the section). */
int ivf_load(struct ivf_index **out, ann_get_fn *get, void *arg, struct lm_error *err);

#endif
