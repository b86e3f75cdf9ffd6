#include "index/bm25.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bm25.c reads its little-endian arrays in place: a big-endian port must byte-swap"
#endif

#define BM25_MAGIC "LMPBM25"
#define BM25_VERSION 1u
#define BM25_HEADER_SIZE 64
#define BM25_K1_MAX 1000.0f

/* The 64-byte header of the section (bm25.h). */
struct bm25_header {
	char magic[8];
	uint32_t version;
	uint32_t analyzer;
	uint32_t analyzer_version;
	float k1, b;
	uint32_t n_docs;
	uint32_t n_terms;
	uint32_t reserved0;
	uint64_t total_len;
	uint64_t postings_size;
	uint64_t reserved1;
};

_Static_assert(sizeof(struct bm25_header) == BM25_HEADER_SIZE, "bm25 header is 64 bytes");

/* Where each array starts, from the counts alone. */
struct bm25_layout {
	uint64_t doc_len, df, name_off, post_off, names, postings, size;
};

static uint64_t align8(uint64_t x)
{
	return (x + 7) & ~(uint64_t)7;
}

static void layout(struct bm25_layout *l, uint32_t n_docs, uint32_t n_terms, uint64_t names_size,
		   uint64_t postings_size)
{
	l->doc_len = BM25_HEADER_SIZE;
	l->df = l->doc_len + align8(4 * (uint64_t)n_docs);
	l->name_off = l->df + align8(4 * (uint64_t)n_terms);
	l->post_off = l->name_off + align8(4 * ((uint64_t)n_terms + 1));
	l->names = l->post_off + 8 * ((uint64_t)n_terms + 1);
	l->postings = l->names + align8(names_size);
	l->size = l->postings + postings_size;
}

void bm25_params_default(struct bm25_params *p)
{
	p->k1 = BM25_K1_DEFAULT;
	p->b = BM25_B_DEFAULT;
	p->analyzer = ANALYZER_DEFAULT;
}

static int check_kb(float k1, float b, struct lm_error *err)
{
	if (!(k1 >= 0 && k1 <= BM25_K1_MAX))
		return lm_fail(err, LM_EINVAL, "bm25 k1 must be in [0, %g], not %g",
			       (double)BM25_K1_MAX, (double)k1);
	if (!(b >= 0 && b <= 1))
		return lm_fail(err, LM_EINVAL, "bm25 b must be in [0, 1], not %g", (double)b);
	return 0;
}

int bm25_params_check(const struct bm25_params *p, struct lm_error *err)
{
	if (p->analyzer & ~(unsigned)ANALYZER_ALL_FLAGS)
		return lm_fail(err, LM_EINVAL, "unknown analyzer flags 0x%x", p->analyzer);
	return check_kb(p->k1, p->b, err);
}

float bm25_idf(uint32_t n_docs, uint32_t df)
{
	/* Lucene BM25Similarity.idf: log(1 + (docCount - docFreq + 0.5) /
	 * (docFreq + 0.5)), computed in double and stored as float. */
	return (float)log(1.0 + ((double)n_docs - df + 0.5) / (df + 0.5));
}

/* ---- building --------------------------------------------------------- */

struct build_term {
	uint32_t name_off, name_len;
	uint32_t hash;
	uint32_t df;
	uint32_t last_doc;      /* last document in the postings */
	uint32_t cur_doc, cur_tf; /* the document being added */
	unsigned char *post;
	size_t post_len, post_cap;
};

struct bm25_builder {
	struct bm25_params params;
	uint32_t n_docs;
	uint64_t total_len;
	uint32_t *doc_len;
	size_t doc_len_cap;
	char *names;
	size_t names_len, names_cap;
	struct build_term *terms;
	uint32_t n_terms;
	size_t terms_cap;
	uint32_t *slots;        /* open addressing: term number + 1, 0 = free */
	uint32_t slot_mask;
	uint32_t *doc_terms;    /* terms of the document being added */
	size_t doc_terms_cap;
	struct analyzer_stream stream;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / elem || !(q = realloc(*p, n * elem)))
		return LM_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* FNV-1a, 32 bits. */
static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

int bm25_builder_new(struct bm25_builder **out, const struct bm25_params *p, struct lm_error *err)
{
	struct bm25_builder *b;
	int rc;

	*out = NULL;
	if ((rc = bm25_params_check(p, err)))
		return rc;
	if (!(b = calloc(1, sizeof *b)))
		return lm_fail(err, LM_ENOMEM, "bm25: out of memory");
	b->params = *p;
	b->slot_mask = 1023;
	if (!(b->slots = calloc((size_t)b->slot_mask + 1, sizeof *b->slots))) {
		free(b);
		return lm_fail(err, LM_ENOMEM, "bm25: out of memory");
	}
	*out = b;
	return 0;
}

void bm25_builder_free(struct bm25_builder *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < b->n_terms; i++)
		free(b->terms[i].post);
	free(b->terms);
	free(b->slots);
	free(b->names);
	free(b->doc_len);
	free(b->doc_terms);
	free(b);
}

uint32_t bm25_builder_docs(const struct bm25_builder *b)
{
	return b->n_docs;
}

uint32_t bm25_builder_terms(const struct bm25_builder *b)
{
	return b->n_terms;
}

static int rehash(struct bm25_builder *b)
{
	uint32_t mask = b->slot_mask * 2 + 1;
	uint32_t *slots = calloc((size_t)mask + 1, sizeof *slots);

	if (!slots)
		return LM_ENOMEM;
	for (uint32_t t = 0; t < b->n_terms; t++) {
		uint32_t i = b->terms[t].hash & mask;

		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = t + 1;
	}
	free(b->slots);
	b->slots = slots;
	b->slot_mask = mask;
	return 0;
}

/* The term number of TOK, added when new; -1 when memory or the u32 limits
 * run out. */
static int64_t intern(struct bm25_builder *b, const char *tok, size_t len)
{
	uint32_t h = hash_bytes(tok, len), i = h & b->slot_mask;
	struct build_term *t;

	while (b->slots[i]) {
		t = &b->terms[b->slots[i] - 1];
		if (t->hash == h && t->name_len == len && !memcmp(b->names + t->name_off, tok, len))
			return b->slots[i] - 1;
		i = (i + 1) & b->slot_mask;
	}
	if (b->n_terms >= UINT32_MAX - 1 || b->names_len + len > UINT32_MAX)
		return -1;
	if (grow((void **)&b->terms, &b->terms_cap, (size_t)b->n_terms + 1, sizeof *b->terms) ||
	    grow((void **)&b->names, &b->names_cap, b->names_len + len, 1))
		return -1;
	memcpy(b->names + b->names_len, tok, len);
	t = &b->terms[b->n_terms];
	memset(t, 0, sizeof *t);
	t->name_off = (uint32_t)b->names_len;
	t->name_len = (uint32_t)len;
	t->hash = h;
	t->cur_doc = UINT32_MAX;
	b->names_len += len;
	b->slots[i] = ++b->n_terms;
	if ((uint64_t)b->n_terms * 2 > b->slot_mask && rehash(b))
		return -1;
	return b->n_terms - 1;
}

static size_t put_varint(unsigned char *p, uint32_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static int add_posting(struct build_term *t, uint32_t doc, uint32_t tf)
{
	uint32_t delta = t->df ? doc - t->last_doc : doc;

	if (grow((void **)&t->post, &t->post_cap, t->post_len + 10, 1))
		return LM_ENOMEM;
	t->post_len += put_varint(t->post + t->post_len, delta);
	t->post_len += put_varint(t->post + t->post_len, tf);
	t->df++;
	t->last_doc = doc;
	return 0;
}

int bm25_builder_add(struct bm25_builder *b, uint32_t doc, const char *text, size_t len,
		     struct lm_error *err)
{
	size_t n_doc_terms = 0;
	uint64_t dl = 0;

	if (doc < b->n_docs)
		return lm_fail(err, LM_EINVAL, "bm25: document %u added after document %u",
			       doc, b->n_docs - 1);
	if (doc == UINT32_MAX)
		return lm_fail(err, LM_ENOMEM, "bm25: more than %u documents", UINT32_MAX - 1);
	if (grow((void **)&b->doc_len, &b->doc_len_cap, (size_t)doc + 1, sizeof *b->doc_len))
		goto nomem;
	analyzer_begin(&b->stream, b->params.analyzer, text, len);
	while (analyzer_next(&b->stream)) {
		int64_t id = intern(b, b->stream.tok, b->stream.len);
		struct build_term *t;

		if (id < 0)
			goto nomem;
		t = &b->terms[id];
		if (t->cur_doc != doc) {
			if (grow((void **)&b->doc_terms, &b->doc_terms_cap, n_doc_terms + 1,
				 sizeof *b->doc_terms))
				goto nomem;
			b->doc_terms[n_doc_terms++] = (uint32_t)id;
			t->cur_doc = doc;
			t->cur_tf = 0;
		}
		t->cur_tf++;
		dl++;
	}
	if (dl > UINT32_MAX)
		return lm_fail(err, LM_ENOMEM, "bm25: document %u has more than %u terms", doc,
			       UINT32_MAX);
	for (size_t i = 0; i < n_doc_terms; i++) {
		struct build_term *t = &b->terms[b->doc_terms[i]];

		if (add_posting(t, doc, t->cur_tf))
			goto nomem;
	}
	memset(b->doc_len + b->n_docs, 0, (size_t)(doc - b->n_docs) * sizeof *b->doc_len);
	b->doc_len[doc] = (uint32_t)dl;
	b->n_docs = doc + 1;
	b->total_len += dl;
	return 0;
nomem:
	return lm_fail(err, LM_ENOMEM, "bm25: out of memory indexing document %u", doc);
}

/* ---- serialising ------------------------------------------------------ */

typedef int (*sink_fn)(void *arg, const void *p, size_t n, struct lm_error *err);

struct term_order {
	const char *name;
	uint32_t len, id;
};

static int term_order_cmp(const void *x, const void *y)
{
	const struct term_order *a = x, *b = y;
	int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int put_padding(sink_fn sink, void *arg, uint64_t n, struct lm_error *err)
{
	static const unsigned char zero[8];

	return (n & 7) ? sink(arg, zero, 8 - (n & 7), err) : 0;
}

/* Stream the section through SINK, arrays in the order of bm25.h. */
static int encode(const struct bm25_builder *b, sink_fn sink, void *arg, struct lm_error *err)
{
	uint32_t nt = b->n_terms;
	struct term_order *order = malloc(((size_t)nt + 1) * sizeof *order);
	uint32_t *u32 = malloc(((size_t)nt + 1) * sizeof *u32);
	uint64_t *u64 = malloc(((size_t)nt + 1) * sizeof *u64);
	struct bm25_header h;
	uint64_t postings_size = 0;
	int rc;

	if (!order || !u32 || !u64) {
		rc = lm_fail(err, LM_ENOMEM, "bm25: out of memory writing the index");
		goto out;
	}
	for (uint32_t i = 0; i < nt; i++) {
		order[i].name = b->names + b->terms[i].name_off;
		order[i].len = b->terms[i].name_len;
		order[i].id = i;
		postings_size += b->terms[i].post_len;
	}
	qsort(order, nt, sizeof *order, term_order_cmp);

	memset(&h, 0, sizeof h);
	memcpy(h.magic, BM25_MAGIC, sizeof BM25_MAGIC);
	h.version = BM25_VERSION;
	h.analyzer = b->params.analyzer;
	h.analyzer_version = ANALYZER_VERSION;
	h.k1 = b->params.k1;
	h.b = b->params.b;
	h.n_docs = b->n_docs;
	h.n_terms = nt;
	h.total_len = b->total_len;
	h.postings_size = postings_size;
	if ((rc = sink(arg, &h, sizeof h, err)) ||
	    (rc = sink(arg, b->doc_len, (size_t)b->n_docs * 4, err)) ||
	    (rc = put_padding(sink, arg, (uint64_t)b->n_docs * 4, err)))
		goto out;

	for (uint32_t i = 0; i < nt; i++)
		u32[i] = b->terms[order[i].id].df;
	if ((rc = sink(arg, u32, (size_t)nt * 4, err)) ||
	    (rc = put_padding(sink, arg, (uint64_t)nt * 4, err)))
		goto out;

	u32[0] = 0;
	for (uint32_t i = 0; i < nt; i++)
		u32[i + 1] = u32[i] + order[i].len;
	if ((rc = sink(arg, u32, ((size_t)nt + 1) * 4, err)) ||
	    (rc = put_padding(sink, arg, ((uint64_t)nt + 1) * 4, err)))
		goto out;

	u64[0] = 0;
	for (uint32_t i = 0; i < nt; i++)
		u64[i + 1] = u64[i] + b->terms[order[i].id].post_len;
	if ((rc = sink(arg, u64, ((size_t)nt + 1) * 8, err)))
		goto out;

	for (uint32_t i = 0; i < nt; i++)
		if ((rc = sink(arg, order[i].name, order[i].len, err)))
			goto out;
	if ((rc = put_padding(sink, arg, b->names_len, err)))
		goto out;

	for (uint32_t i = 0; i < nt; i++) {
		const struct build_term *t = &b->terms[order[i].id];

		if ((rc = sink(arg, t->post, t->post_len, err)))
			goto out;
	}
out:
	free(order);
	free(u32);
	free(u64);
	return rc;
}

static int sink_section(void *arg, const void *p, size_t n, struct lm_error *err)
{
	return idxfile_section_write(arg, p, n, err);
}

int bm25_write(const struct bm25_builder *b, struct idxfile_writer *w, struct lm_error *err)
{
	int rc;

	if ((rc = idxfile_section_begin(w, BM25_SECTION, err)) ||
	    (rc = encode(b, sink_section, w, err)) ||
	    (rc = idxfile_section_end(w, err)))
		return rc;
	idxfile_writer_info(w)->flags |= IDXFILE_F_BM25;
	return 0;
}

struct mem_sink {
	unsigned char *p;
	size_t len, cap;
};

static int sink_mem(void *arg, const void *p, size_t n, struct lm_error *err)
{
	struct mem_sink *m = arg;

	if (n > m->cap - m->len)
		return lm_fail(err, LM_EINVAL, "bm25: encoded size mismatch");
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

int bm25_encode(const struct bm25_builder *b, void **data, size_t *size, struct lm_error *err)
{
	struct bm25_layout l;
	struct mem_sink m = { 0 };
	int rc;

	*data = NULL;
	*size = 0;
	layout(&l, b->n_docs, b->n_terms, b->names_len, 0);
	for (uint32_t i = 0; i < b->n_terms; i++)
		l.size += b->terms[i].post_len;
	if (l.size > SIZE_MAX || !(m.p = malloc(l.size)))
		return lm_fail(err, LM_ENOMEM, "bm25: out of memory encoding the index");
	m.cap = l.size;
	if ((rc = encode(b, sink_mem, &m, err))) {
		free(m.p);
		return rc;
	}
	*data = m.p;
	*size = m.len;
	return 0;
}

/* ---- loading ---------------------------------------------------------- */

static int corrupt(struct bm25_index *ix, struct lm_error *err, const char *what)
{
	return lm_fail(err, LM_EFORMAT, "%s: corrupt bm25 index: %s", ix->name, what);
}

/* The document length Lucene scores with: its norm byte holds
 * SmallFloat.intToByte4(length), exact below 24 and above that a float with
 * 4 significant bits, rounded down; BM25Similarity decodes it with
 * byte4ToInt.  Scoring with the same lengths reproduces Lucene's (and so
 * Pyserini's) rankings rather than approximating them. */
static uint32_t lucene_length(uint32_t len)
{
	enum { FREE = 24 };     /* 255 - longToInt4(INT32_MAX) */
	uint32_t v, bits = 0;

	if (len < FREE)
		return len;
	v = len - FREE;
	for (uint32_t x = v; x; x >>= 1)
		bits++;
	if (bits < 4)
		return len;
	return FREE + ((v >> (bits - 4)) << (bits - 4));
}

static void compute_norms(struct bm25_index *ix)
{
	float k1 = ix->params.k1, b = ix->params.b;

	for (uint32_t d = 0; d < ix->n_docs; d++)
		ix->norm[d] = ix->avgdl > 0
			? k1 * (1 - b + b * (float)lucene_length(ix->doc_len[d]) / ix->avgdl)
			: k1;
}

int bm25_open_mem(struct bm25_index *ix, const void *data, size_t size, const char *name,
		  struct lm_error *err)
{
	const unsigned char *base = data;
	struct bm25_header h;
	struct bm25_layout l;
	uint64_t sum = 0;
	uint32_t with_terms = 0, nt;

	memset(ix, 0, sizeof *ix);
	snprintf(ix->name, sizeof ix->name, "%s", name ? name : "bm25");
	if ((uintptr_t)data & 7)
		return lm_fail(err, LM_EINVAL, "%s: bm25 section is not 8-byte aligned", ix->name);
	if (size < sizeof h)
		return corrupt(ix, err, "section shorter than its header");
	memcpy(&h, data, sizeof h);
	if (memcmp(h.magic, BM25_MAGIC, sizeof BM25_MAGIC))
		return corrupt(ix, err, "bad magic");
	if (h.version != BM25_VERSION)
		return lm_fail(err, LM_EFORMAT, "%s: bm25 format version %u, this program reads %u",
			       ix->name, h.version, BM25_VERSION);
	if (h.analyzer_version != ANALYZER_VERSION)
		return lm_fail(err, LM_EFORMAT,
			       "%s: built with analyzer version %u, this program has %u; "
			       "rebuild the index", ix->name, h.analyzer_version, ANALYZER_VERSION);
	ix->params.k1 = h.k1;
	ix->params.b = h.b;
	ix->params.analyzer = h.analyzer;
	if (bm25_params_check(&ix->params, NULL))
		return corrupt(ix, err, "k1, b or analyzer flags out of range");
	nt = h.n_terms;
	if (nt == UINT32_MAX)
		return corrupt(ix, err, "term count");
	layout(&l, h.n_docs, nt, 0, 0);
	if (l.names > size)
		return corrupt(ix, err, "section too short for its counts");
	ix->n_docs = h.n_docs;
	ix->n_terms = nt;
	ix->total_len = h.total_len;
	ix->doc_len = (const uint32_t *)(base + l.doc_len);
	ix->df = (const uint32_t *)(base + l.df);
	ix->name_off = (const uint32_t *)(base + l.name_off);
	ix->post_off = (const uint64_t *)(base + l.post_off);
	layout(&l, h.n_docs, nt, ix->name_off[nt], h.postings_size);
	if (h.postings_size > size || l.size != size)
		return corrupt(ix, err, "section size does not match its counts");
	ix->names = base + l.names;
	ix->postings = base + l.postings;

	for (uint32_t d = 0; d < ix->n_docs; d++) {
		sum += ix->doc_len[d];
		with_terms += ix->doc_len[d] > 0;
	}
	if (sum != h.total_len)
		return corrupt(ix, err, "document lengths do not add up");
	if (ix->name_off[0] != 0 || ix->post_off[0] != 0 || ix->post_off[nt] != h.postings_size)
		return corrupt(ix, err, "term table");
	for (uint32_t t = 0; t < nt; t++) {
		uint32_t len = ix->name_off[t + 1] - ix->name_off[t];
		uint64_t plen = ix->post_off[t + 1] - ix->post_off[t];

		if (ix->name_off[t + 1] < ix->name_off[t] || ix->name_off[t + 1] > ix->name_off[nt] ||
		    len == 0 || len > ANALYZER_TOKEN_MAX)
			return lm_fail(err, LM_EFORMAT, "%s: corrupt bm25 index: name of term %u",
				       ix->name, t);
		if (t > 0) {
			uint32_t plen0 = ix->name_off[t] - ix->name_off[t - 1];
			const unsigned char *a = ix->names + ix->name_off[t - 1];
			const unsigned char *c = ix->names + ix->name_off[t];
			int cmp = memcmp(a, c, plen0 < len ? plen0 : len);

			if (cmp > 0 || (cmp == 0 && plen0 >= len))
				return lm_fail(err, LM_EFORMAT,
					       "%s: corrupt bm25 index: terms out of order at %u",
					       ix->name, t);
		}
		if (ix->post_off[t + 1] < ix->post_off[t] || ix->post_off[t + 1] > h.postings_size ||
		    ix->df[t] == 0 ||
		    ix->df[t] > with_terms || plen < 2 * (uint64_t)ix->df[t] ||
		    plen > 10 * (uint64_t)ix->df[t])
			return lm_fail(err, LM_EFORMAT,
				       "%s: corrupt bm25 index: postings of term %u", ix->name, t);
	}
	ix->avgdl = with_terms ? (float)((double)sum / with_terms) : 0;
	/* Lucene's docCount: documents holding at least one term. */
	ix->n_with_terms = with_terms;
	if (ix->n_docs && !(ix->norm = malloc((size_t)ix->n_docs * sizeof *ix->norm)))
		return lm_fail(err, LM_ENOMEM, "%s: out of memory loading bm25", ix->name);
	compute_norms(ix);
	return 0;
}

int bm25_load(struct bm25_index *ix, const struct idxfile *f, struct lm_error *err)
{
	const void *data;
	uint64_t size;
	char name[sizeof ix->name];
	int rc;

	memset(ix, 0, sizeof *ix);
	if ((rc = idxfile_require(f, BM25_SECTION, &data, &size, err)))
		return rc;
	snprintf(name, sizeof name, "%s: section %s", f->path, BM25_SECTION);
	if ((rc = bm25_open_mem(ix, data, (size_t)size, name, err)))
		return rc;
	if (ix->n_docs > f->info.doc_count) {
		rc = lm_fail(err, LM_EFORMAT, "%s: %u documents, the index has %llu rows",
			     name, ix->n_docs, (unsigned long long)f->info.doc_count);
		bm25_index_free(ix);
	}
	return rc;
}

void bm25_index_free(struct bm25_index *ix)
{
	free(ix->norm);
	ix->norm = NULL;
}

int bm25_index_set_params(struct bm25_index *ix, float k1, float b, struct lm_error *err)
{
	int rc;

	if ((rc = check_kb(k1, b, err)))
		return rc;
	ix->params.k1 = k1;
	ix->params.b = b;
	compute_norms(ix);
	return 0;
}

int64_t bm25_term_find(const struct bm25_index *ix, const char *term, size_t len)
{
	uint32_t lo = 0, hi = ix->n_terms;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t mlen = ix->name_off[mid + 1] - ix->name_off[mid];
		int c = memcmp(term, ix->names + ix->name_off[mid], len < mlen ? len : mlen);

		if (c == 0)
			c = len < mlen ? -1 : len > mlen;
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* ---- searching -------------------------------------------------------- */

struct bm25_searcher {
	const struct bm25_index *ix;
	float *acc;             /* score per document, 0 = not matched */
	uint32_t *touched;      /* documents with a score, in first-seen order */
	uint32_t *qterms;       /* term numbers of the query */
	size_t qterms_cap;
	struct analyzer_stream stream;
};

int bm25_searcher_new(struct bm25_searcher **out, const struct bm25_index *ix,
		      struct lm_error *err)
{
	struct bm25_searcher *s = calloc(1, sizeof *s);
	size_t n = ix->n_docs ? ix->n_docs : 1;

	*out = NULL;
	if (!s || !(s->acc = calloc(n, sizeof *s->acc)) ||
	    !(s->touched = malloc(n * sizeof *s->touched))) {
		bm25_searcher_free(s);
		return lm_fail(err, LM_ENOMEM, "bm25: out of memory for a searcher");
	}
	s->ix = ix;
	*out = s;
	return 0;
}

void bm25_searcher_free(struct bm25_searcher *s)
{
	if (!s)
		return;
	free(s->acc);
	free(s->touched);
	free(s->qterms);
	free(s);
}

static int u32_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static inline int get_varint(const unsigned char **pp, const unsigned char *end, uint32_t *v)
{
	const unsigned char *p = *pp;
	uint32_t x = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		if (p >= end)
			return -1;
		x |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p++ & 0x80)) {
			*pp = p;
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Add W * tf / (tf + norm) of term T to every document holding it. */
static int accumulate(struct bm25_searcher *s, uint32_t t, float w, size_t *n_touched,
		      struct lm_error *err)
{
	const struct bm25_index *ix = s->ix;
	const unsigned char *p = ix->postings + ix->post_off[t];
	const unsigned char *end = ix->postings + ix->post_off[t + 1];
	const float *norm = ix->norm;
	float *acc = s->acc;
	uint32_t df = ix->df[t], doc = 0, delta, tf;

	for (uint32_t i = 0; i < df; i++) {
		if (p + 2 <= end && p[0] < 0x80 && p[1] < 0x80) {
			delta = p[0];
			tf = p[1];
			p += 2;
		} else if (get_varint(&p, end, &delta) || get_varint(&p, end, &tf))
			goto bad;
		if (i == 0)
			doc = delta;
		else if (delta == 0 || delta >= ix->n_docs - doc)
			goto bad;
		else
			doc += delta;
		if (doc >= ix->n_docs || tf == 0)
			goto bad;
		if (acc[doc] == 0)
			s->touched[(*n_touched)++] = doc;
		acc[doc] += w * (float)tf / ((float)tf + norm[doc]);
	}
	if (p != end)
		goto bad;
	return 0;
bad:
	{
		uint32_t len = ix->name_off[t + 1] - ix->name_off[t];

		return lm_fail(err, LM_EFORMAT, "%s: corrupt bm25 postings of term '%.*s'",
			       ix->name, (int)(len > 64 ? 64 : len),
			       (const char *)ix->names + ix->name_off[t]);
	}
}

int bm25_search(struct bm25_searcher *s, const char *query, size_t len,
		int (*accept)(uint32_t doc, void *arg), void *arg, struct topk *top,
		struct lm_error *err)
{
	const struct bm25_index *ix = s->ix;
	size_t nq = 0, n_touched = 0;
	int rc = 0;

	analyzer_begin(&s->stream, ix->params.analyzer, query, len);
	while (analyzer_next(&s->stream)) {
		int64_t t = bm25_term_find(ix, s->stream.tok, s->stream.len);

		if (t < 0)
			continue;
		if (grow((void **)&s->qterms, &s->qterms_cap, nq + 1, sizeof *s->qterms))
			return lm_fail(err, LM_ENOMEM, "bm25: out of memory for a query");
		s->qterms[nq++] = (uint32_t)t;
	}
	if (nq > 1)
		qsort(s->qterms, nq, sizeof *s->qterms, u32_cmp);
	for (size_t i = 0; i < nq;) {
		uint32_t t = s->qterms[i], qtf = 0;
		float w;

		while (i < nq && s->qterms[i] == t) {
			qtf++;
			i++;
		}
		w = (float)qtf * bm25_idf(ix->n_with_terms, ix->df[t]);
		if ((rc = accumulate(s, t, w, &n_touched, err)))
			break;
	}
	for (size_t i = 0; i < n_touched; i++) {
		uint32_t doc = s->touched[i];

		if (!rc && (!accept || accept(doc, arg)))
			topk_push(top, doc, s->acc[doc]);
		s->acc[doc] = 0;
	}
	return rc;
}
