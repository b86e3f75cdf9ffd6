/* unigram.c - Viterbi segmentation over the piece lattice (see unigram.h). */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokenizer_impl.h"
#include "tokenize/unigram.h"
#include "utf8.h"

struct unigram {
	const struct vocab *vocab;
	double *scores;
	size_t n_scores;
	double unk_score;
	int32_t unk_id;
	int byte_fallback, fuse_unk;
	size_t max_len;           /* longest piece in bytes: bounds the prefix search */
	int32_t byte_id[256];
};

/* Best path ending at a byte position: where its last token starts. */
struct node {
	double score;
	size_t start;
	int32_t id;
	int reached;
};

/* sentencepiece unigram_model.cc kUnkPenalty */
#define UNK_PENALTY 10.0

int unigram_new(struct unigram **up, const struct vocab *vocab, const double *scores,
		size_t n_scores, int32_t unk_id, int byte_fallback, int fuse_unk,
		struct lm_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	struct unigram *u;
	double min = 0;

	*up = NULL;
	if (unk_id < 0 || (size_t)unk_id >= n_scores)
		return lm_fail(err, LM_EINVAL, "unigram: unk_id %d is not a piece", (int)unk_id);
	u = calloc(1, sizeof *u);
	if (!u || !(u->scores = malloc((n_scores ? n_scores : 1) * sizeof *u->scores))) {
		free(u);
		return lm_fail(err, LM_ENOMEM, "unigram: out of memory");
	}
	memcpy(u->scores, scores, n_scores * sizeof *scores);
	for (size_t i = 0; i < n_scores; i++) {
		size_t len;

		if (i == 0 || scores[i] < min)
			min = scores[i];
		vocab_text(vocab, (int32_t)i, &len);
		if (len > u->max_len)
			u->max_len = len;
	}
	u->vocab = vocab;
	u->n_scores = n_scores;
	u->unk_score = min - UNK_PENALTY;
	u->unk_id = unk_id;
	u->byte_fallback = byte_fallback;
	u->fuse_unk = fuse_unk;
	for (int b = 0; b < 256; b++) {
		char name[6] = { '<', '0', 'x', hex[b >> 4], hex[b & 15], '>' };

		u->byte_id[b] = vocab_find(vocab, name, 6);
	}
	*up = u;
	return 0;
}

void unigram_free(struct unigram *u)
{
	if (!u)
		return;
	free(u->scores);
	free(u);
}

static size_t char_len(const char *s, size_t n)
{
	uint32_t cp;
	int k = utf8_decode(s, n, &cp);

	return k ? (size_t)k : 1;
}

/* HF Unigram::tokenize: a string that is not a piece becomes its <0xNN>
 * bytes when byte_fallback and all exist, else the unknown token. */
static int emit(const struct unigram *u, const char *s, size_t n, int32_t id, struct tok_ids *out,
		struct lm_error *err)
{
	if (id == u->unk_id)
		id = vocab_find(u->vocab, s, n);
	if (id >= 0)
		return tok_ids_push(out, id, err);
	if (u->byte_fallback) {
		size_t j;

		for (j = 0; j < n && u->byte_id[(unsigned char)s[j]] >= 0; j++)
			;
		if (j == n) {
			for (j = 0; j < n; j++)
				if (tok_ids_push(out, u->byte_id[(unsigned char)s[j]], err))
					return LM_ENOMEM;
			return 0;
		}
	}
	return tok_ids_push(out, u->unk_id, err);
}

int unigram_encode(const struct unigram *u, const char *piece, size_t len, struct tok_ids *out,
		   struct lm_error *err)
{
	struct node *best;
	size_t *ends = NULL, n_ends = 0, n0 = out->n, k;
	int rc = 0;

	if (!len)
		return 0;
	best = calloc(len + 1, sizeof *best);
	ends = malloc((len + 1) * sizeof *ends);
	if (!best || !ends) {
		rc = lm_fail(err, LM_ENOMEM, "unigram: out of memory");
		goto out;
	}
	best[0].reached = 1;
	for (size_t at = 0; at < len; at += k) {
		double base = best[at].score;
		int single = 0;

		k = char_len(piece + at, len - at);
		/* Every entry that is a prefix of the rest, shortest first, at
		 * character boundaries (entries are well-formed text). */
		for (size_t e = at + k, step; e <= len && e - at <= u->max_len; e += step) {
			int32_t id = vocab_find(u->vocab, piece + at, e - at);

			if (id >= 0 && (size_t)id < u->n_scores) {
				double sc = base + u->scores[id];

				if (!best[e].reached || sc > best[e].score) {
					best[e].score = sc;
					best[e].start = at;
					best[e].id = id;
					best[e].reached = 1;
				}
				if (e - at == k)
					single = 1;
			}
			if (e == len)
				break;
			step = char_len(piece + e, len - e);
		}
		if (!single) {
			double sc = base + u->unk_score;
			struct node *t = &best[at + k];

			if (!t->reached || sc > t->score) {
				t->score = sc;
				t->start = at;
				t->id = u->unk_id;
				t->reached = 1;
			}
		}
	}
	/* Backtrack, then emit left to right. */
	for (size_t e = len; e > 0; e = best[e].start)
		ends[n_ends++] = e;
	for (size_t i = n_ends; i-- > 0;) {
		size_t e = ends[i], s = best[e].start;
		int32_t id = best[e].id;

		if (id == u->unk_id && u->fuse_unk) {
			/* Fuse the run of unknown tokens into one string. */
			while (i > 0 && best[ends[i - 1]].id == u->unk_id)
				e = ends[--i];
			rc = emit(u, piece + s, e - s, u->unk_id, out, err);
		} else {
			rc = emit(u, piece + s, e - s, id, out, err);
		}
		if (rc)
			goto out;
	}
out:
	if (rc)
		out->n = n0;
	free(best);
	free(ends);
	return rc;
}

static int unigram_run(const void *state, const char *piece, size_t len, struct tok_ids *out,
		       struct lm_error *err)
{
	return unigram_encode(state, piece, len, out, err);
}

static void unigram_release(void *state)
{
	unigram_free(state);
}

void unigram_attach(struct tokenizer *tok, struct unigram *u)
{
	tok->model.run = unigram_run;
	tok->model.free = unigram_release;
	tok->model.state = u;
}
