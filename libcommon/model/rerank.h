/* rerank.h - re-ranking search hits per query: cross-encoder scores,
 * maximal marginal relevance, reciprocal rank fusion, edge ordering.
 *
 * Input is search's output (SPEC "search"): hit records with qid, id,
 * rank, score, query, text (title prepended as SPEC says), meta, any other
 * field.  The hits of one query are consecutive records with the same qid;
 * a qid that comes back after another query's hits is an error (the stream
 * is not grouped, and re-ranking half a list would be wrong without a word).
 * Several streams given to rerank_read one after the other read as their
 * concatenation, unless they are fused (below).
 *
 * For each query, in the order the queries come:
 *
 *  1. fuse (rerank_options.fuse): the streams are merged per qid with
 *     fusion.h's method, rrf[:K] by default: score(d) = sum over the streams
 *     holding d of 1 / (K + rank), rank = d's 1-based place among that
 *     query's hits in that stream, K = 60.  alpha:A takes exactly two
 *     streams, min-max normalised, the first weighted A.  The record kept
 *     for a document is the one of the first stream holding it; equal fused
 *     scores rank the document seen first first.  A document twice in one
 *     stream's list for a query is an error.  Fusing holds every stream in
 *     memory until the last is read (queries may come in any order in each).
 *  2. score (a scorer given): each hit becomes the pair of its `query` and
 *     its text, framed as llama.cpp's format_prompt_rerank and Hugging
 *     Face's BERT pair template do: PREFIX query SUFFIX text SUFFIX, where
 *     PREFIX and SUFFIX are what the tokenizer's post-processor puts around
 *     one text (for BERT WordPiece: [CLS] q [SEP] d [SEP]); a tokenizer that
 *     adds nothing after a text separates and ends with its EOS, else SEP
 *     token.  Segment ids are 0 up to and including the first SUFFIX, 1
 *     after it, when the model has two or more token types (else all 0).
 *     A pair longer than n_ctx has its text cut (then, if the query alone
 *     does not fit, the query too) and is counted in stats.truncated.
 *     Pairs are batched across queries into scorer calls of at most
 *     batch_tokens tokens.  The score is output 0 of the model (label 0),
 *     as a raw logit or, with sigmoid, 1 / (1 + exp(-logit)).
 *  3. order: by score, highest first; equal scores keep input order
 *     (the fused order when fusing).  Without scorer and fusion the
 *     record's own `score` is used (it must be a number).
 *  4. mmr (rerank_options.mmr, Carbonell and Goldstein, SIGIR 1998): hits
 *     are picked one at a time, each time the one maximising
 *         LAMBDA * rel(d) - (1 - LAMBDA) * max over picked p of cos(d, p)
 *     (no penalty for the first pick), rel(d) = (s(d) - min s) /
 *     (max s - min s) over the query's hits (1 when all are equal), s the
 *     score of step 3, cos the cosine of the hits' `embedding` fields (0
 *     for a zero vector).  Equal values go to the hit earlier in step 3's
 *     order.  Every hit needs an embedding of the same dimension.
 *  5. k: the first k hits are kept (k = 0 keeps all).
 *  6. edges (rerank_options.order_edges): the kept hits are written best
 *     first, second best last, third second, fourth second to last...
 *     (against "lost in the middle", Liu et al. 2023).  `rank` keeps the
 *     order of step 5, so a reader can restore it.
 *
 * Output: each kept hit's record with `rank` renumbered from 1 per query,
 * and, when the score changed (scorer or fusion), `score` replaced and the
 * score it came in with kept as `retrieval_score` right after it (unless
 * the record has a retrieval_score already: the first stage's score is
 * kept through several re-rankings).  Other fields are untouched.
 *
 * Bad records (not JSON, no qid, no query or text for a scorer, no score
 * where one is needed, no embedding for mmr) are errors naming FILE:LINE;
 * with skip_bad each is handed to `report` and left out, and stats.bad
 * counts them.
 */
#ifndef LMPIPE_MODEL_RERANK_H
#define LMPIPE_MODEL_RERANK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/fusion.h"
#include "input.h"
#include "model/encoder.h"
#include "output.h"
#include "tokenize/tokenizer.h"

/* The cross-encoder as rerank sees it; bin/rerank.c wraps encoder.h, tests
 * give a function of their own. */
struct rerank_scorer {
	const struct tokenizer *tok;
	int n_ctx;              /* longest pair in tokens */
	int n_types;            /* token types the model has (>= 1) */
	int n_out;              /* floats per row of run's output (>= 1) */
	int (*run)(void *arg, const struct encoder_seq *seqs, int n_seq, float *out,
		   struct lm_error *err);
	void *arg;
};

struct rerank_options {
	size_t k;               /* hits kept per query; 0 = all */
	int sigmoid;            /* scores through the logistic function */
	int mmr;                /* step 4 with mmr_lambda in [0, 1] */
	double mmr_lambda;
	int fuse;               /* step 1 with fusion */
	struct fusion fusion;
	int order_edges;        /* step 6 */
	int skip_bad;
	size_t batch_tokens;    /* tokens per scorer call; 0 = 8192 */
	/* With skip_bad: told about each bad record (ERR names it). */
	void (*report)(const struct lm_error *err, void *arg);
	void *report_arg;
};

struct rerank_stats {
	uint64_t queries;       /* queries written */
	uint64_t hits;          /* hit records written */
	uint64_t pairs;         /* pairs scored */
	uint64_t truncated;     /* pairs cut to n_ctx */
	uint64_t scorer_calls;
	uint64_t bad;           /* records skipped (skip_bad) */
};

struct reranker;

/* SCORER may be NULL (no model: fusion, mmr, k and edges only).  Records go
 * to OUT, which stays the caller's. */
int rerank_new(struct reranker **rr, const struct rerank_options *opt,
	       const struct rerank_scorer *scorer, struct output *out, struct lm_error *err);
void rerank_free(struct reranker *rr);

/* Read one stream of hits (IN is not closed).  Queries are written as they
 * complete, so a stream's last query (and, when fusing, everything) waits
 * for rerank_finish. */
int rerank_read(struct reranker *rr, struct input *in, struct lm_error *err);
/* Write what is left.  Call once, after the last rerank_read. */
int rerank_finish(struct reranker *rr, struct lm_error *err);
const struct rerank_stats *rerank_get_stats(const struct reranker *rr);

/* Building blocks, public for the tests. */

/* The tokens a tokenizer's post-processor puts before and after one text,
 * found by encoding a probe text with and without TOK_ADD_SPECIAL. */
struct rerank_frame {
	int32_t prefix[8], suffix[8];
	int n_prefix, n_suffix;
};
int rerank_frame_probe(const struct tokenizer *tok, struct rerank_frame *f, struct lm_error *err);

/* Append the pair of Q (NQ ids) and D (ND ids) to TOKENS and its segment
 * ids to TYPES (both grow together), cut to N_CTX tokens as step 2 says.
 * *TRUNCATED is set to 1 when something was cut, else 0.  LM_EINVAL when
 * N_CTX cannot hold even the special tokens; LM_ENOMEM. */
int rerank_pair(const struct rerank_frame *f, const int32_t *q, size_t nq, const int32_t *d,
		size_t nd, int n_ctx, int n_types, struct tok_ids *tokens, struct tok_ids *types,
		int *truncated, struct lm_error *err);

/* ORDER[0..N) = 0..N-1 sorted by SCORE, highest first, equal scores in
 * index order. */
void rerank_sort(const double *score, size_t n, uint32_t *order);

/* Step 4 over N hits: SCORE[i] and EMB[i * DIM ..] belong to hit i; ORDER
 * holds the hits in step 3's order on entry and the picks on return, of
 * which there are min(K, N) (K = 0: N).  LM_ENOMEM or 0. */
int rerank_mmr(const double *score, const float *emb, size_t dim, size_t n, double lambda,
	       size_t k, uint32_t *order, struct lm_error *err);

/* Step 6: OUT = IN (N hits, best first) placed from both ends inwards. */
void rerank_edges(const uint32_t *in, size_t n, uint32_t *out);

#endif
