#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"

/* trec_eval form_res_rels.c: a retrieved document absent from the qrels,
 * and one in the qrels with a negative judgement. */
#define REL_NONPOOL (-1L)
#define REL_UNJUDGED (-2L)

/* trec_eval common.h MIN_GEO_MEAN, the floor of gm_map. */
#define MIN_GEO_MEAN 0.00001

enum param_type { PARAM_NONE, PARAM_RANK, PARAM_LEVEL };

struct measure_def {
	const char *name;
	enum param_type param;
	enum eval_kind kind;
	int per_query;
	const double *defaults;
	size_t n_defaults;
};

/* Default cutoffs of m_P.c, m_recall.c, m_ndcg_cut.c, m_success.c and
 * m_iprec_at_recall.c. */
static const double rank_cutoffs[] = { 5, 10, 15, 20, 30, 100, 200, 500, 1000 };
static const double success_cutoffs[] = { 1, 5, 10 };
static const double recall_levels[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct measure_def measures[EVAL_N_MEASURES] = {
	[EVAL_RUNID] = { "runid", PARAM_NONE, EVAL_KIND_TEXT, 0, NULL, 0 },
	[EVAL_NUM_Q] = { "num_q", PARAM_NONE, EVAL_KIND_COUNT, 0, NULL, 0 },
	[EVAL_NUM_RET] = { "num_ret", PARAM_NONE, EVAL_KIND_COUNT, 1, NULL, 0 },
	[EVAL_NUM_REL] = { "num_rel", PARAM_NONE, EVAL_KIND_COUNT, 1, NULL, 0 },
	[EVAL_NUM_REL_RET] = { "num_rel_ret", PARAM_NONE, EVAL_KIND_COUNT, 1, NULL, 0 },
	[EVAL_MAP] = { "map", PARAM_NONE, EVAL_KIND_REAL, 1, NULL, 0 },
	[EVAL_GM_MAP] = { "gm_map", PARAM_NONE, EVAL_KIND_REAL, 0, NULL, 0 },
	[EVAL_RPREC] = { "Rprec", PARAM_NONE, EVAL_KIND_REAL, 1, NULL, 0 },
	[EVAL_BPREF] = { "bpref", PARAM_NONE, EVAL_KIND_REAL, 1, NULL, 0 },
	[EVAL_RECIP_RANK] = { "recip_rank", PARAM_NONE, EVAL_KIND_REAL, 1, NULL, 0 },
	[EVAL_IPREC_AT_RECALL] = { "iprec_at_recall", PARAM_LEVEL, EVAL_KIND_REAL, 1,
				   recall_levels, N(recall_levels) },
	[EVAL_P] = { "P", PARAM_RANK, EVAL_KIND_REAL, 1, rank_cutoffs, N(rank_cutoffs) },
	[EVAL_RECALL] = { "recall", PARAM_RANK, EVAL_KIND_REAL, 1, rank_cutoffs, N(rank_cutoffs) },
	[EVAL_NDCG] = { "ndcg", PARAM_NONE, EVAL_KIND_REAL, 1, NULL, 0 },
	[EVAL_NDCG_CUT] = { "ndcg_cut", PARAM_RANK, EVAL_KIND_REAL, 1, rank_cutoffs, N(rank_cutoffs) },
	[EVAL_SUCCESS] = { "success", PARAM_RANK, EVAL_KIND_REAL, 1, success_cutoffs,
			   N(success_cutoffs) },
};

/* trec_eval measures.c off_names. */
static const enum eval_measure official[] = {
	EVAL_RUNID, EVAL_NUM_Q, EVAL_NUM_RET, EVAL_NUM_REL, EVAL_NUM_REL_RET, EVAL_MAP,
	EVAL_GM_MAP, EVAL_RPREC, EVAL_BPREF, EVAL_RECIP_RANK, EVAL_IPREC_AT_RECALL, EVAL_P,
};

void eval_config_init(struct eval_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->relevance_level = 1;
}

void eval_config_free(struct eval_config *cfg)
{
	size_t m;

	for (m = 0; m < EVAL_N_MEASURES; m++)
		free(cfg->params[m]);
	memset(cfg, 0, sizeof *cfg);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Parse "5,10,100" (ranks: positive integers) or "0,.5,1" (recall levels),
 * sorted ascending; duplicates within one argument are refused, as
 * trec_eval meas_init.c does. */
static int parse_params(const char *spec, const char *s, enum param_type type, double **out,
			size_t *n_out, struct lm_error *err)
{
	size_t n = 1, i;
	double *v;
	const char *p;

	for (p = s; *p; p++)
		n += *p == ',';
	v = malloc(n * sizeof *v);
	if (!v)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (i = 0, p = s; i < n; i++) {
		char *end;

		errno = 0;
		if (type == PARAM_RANK) {
			long x = strtol(p, &end, 10);

			if (end == p || (*end && *end != ',') || errno || x <= 0)
				goto bad;
			v[i] = (double)x;
		} else {
			double x = strtod(p, &end);

			if (end == p || (*end && *end != ',') || !isfinite(x))
				goto bad;
			v[i] = x;
		}
		p = end + (*end == ',');
	}
	qsort(v, n, sizeof *v, cmp_double);
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1]) {
			free(v);
			return lm_fail(err, LM_EINVAL, "measure '%s': duplicate cutoff", spec);
		}
	*out = v;
	*n_out = n;
	return LM_OK;
bad:
	free(v);
	return lm_fail(err, LM_EINVAL, "measure '%s': cutoffs must be %s separated by commas",
		       spec, type == PARAM_RANK ? "positive integers" : "numbers");
}

/* Merge sorted NEW into the measure's cutoffs (union, ascending). */
static int merge_params(struct eval_config *cfg, enum eval_measure m, const double *v, size_t n,
			struct lm_error *err)
{
	size_t na = cfg->n_params[m], i = 0, j = 0, k = 0;
	const double *a = cfg->params[m];
	double *u = malloc((na + n) * sizeof *u);

	if (!u)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	while (i < na || j < n) {
		if (j == n || (i < na && a[i] < v[j]))
			u[k++] = a[i++];
		else if (i == na || v[j] < a[i])
			u[k++] = v[j++];
		else {
			u[k++] = a[i++];
			j++;
		}
	}
	free(cfg->params[m]);
	cfg->params[m] = u;
	cfg->n_params[m] = k;
	return LM_OK;
}

int eval_config_add(struct eval_config *cfg, const char *spec, struct lm_error *err)
{
	const char *dot = strchr(spec, '.');
	size_t len = dot ? (size_t)(dot - spec) : strlen(spec);
	double *v = NULL;
	size_t n = 0, i;
	int m, rc;

	if (len == 8 && !strncmp(spec, "official", len)) {
		if (dot)
			return lm_fail(err, LM_EINVAL, "measure set 'official' takes no parameters");
		for (i = 0; i < N(official); i++)
			cfg->wanted[official[i]] = 1;
		return LM_OK;
	}
	for (m = 0; m < EVAL_N_MEASURES; m++)
		if (strlen(measures[m].name) == len && !strncmp(spec, measures[m].name, len))
			break;
	if (m == EVAL_N_MEASURES)
		return lm_fail(err, LM_EINVAL,
			       "unknown measure '%s' (known: official runid num_q num_ret num_rel "
			       "num_rel_ret map gm_map Rprec bpref recip_rank iprec_at_recall P "
			       "recall ndcg ndcg_cut success)", spec);
	if (dot) {
		if (measures[m].param == PARAM_NONE)
			return lm_fail(err, LM_EINVAL, "measure '%s' takes no parameters", spec);
		if (!dot[1])
			return lm_fail(err, LM_EINVAL, "measure '%s': empty parameter list", spec);
		rc = parse_params(spec, dot + 1, measures[m].param, &v, &n, err);
		if (rc)
			return rc;
		rc = merge_params(cfg, m, v, n, err);
		free(v);
		if (rc)
			return rc;
	}
	cfg->wanted[m] = 1;
	return LM_OK;
}

/* ---- one query ---- */

/* The retrieved list as trec_eval form_res_rels.c builds it: for each rank
 * the judgement (or REL_NONPOOL / REL_UNJUDGED), plus the number of judged
 * documents at each level >= 0. */
struct ranked_rels {
	long *rel;
	size_t n_ret;
	long *levels;
	long n_levels;    /* highest judged level + 1, 0 when nothing judged >= 0 */
	long num_rel;
	long num_rel_ret;
};

static long judgement_of(const struct trec_qrels_query *q, const char *docno)
{
	size_t lo = 0, hi = q->n_judged;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(docno, q->judged[mid].docno);

		if (!c)
			return q->judged[mid].rel < 0 ? REL_UNJUDGED : q->judged[mid].rel;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return REL_NONPOOL;
}

static int ranked_rels_build(struct ranked_rels *rr, const struct eval_config *cfg,
			     const struct trec_qrels_query *q, const struct trec_run_query *r,
			     struct lm_error *err)
{
	long max_rel = -1;
	size_t i, n;

	for (i = 0; i < q->n_judged; i++)
		if (q->judged[i].rel > max_rel)
			max_rel = q->judged[i].rel;
	/* A query missing from the run (-c): trec_eval.c evaluates one
	 * retrieved document that is in no qrels. */
	n = r ? r->n_docs : 1;
	if (cfg->max_docs > 0 && n > (size_t)cfg->max_docs)
		n = (size_t)cfg->max_docs;
	rr->rel = malloc((n ? n : 1) * sizeof *rr->rel);
	rr->levels = calloc((size_t)max_rel + 2, sizeof *rr->levels);
	if (!rr->rel || !rr->levels)
		return lm_fail(err, LM_ENOMEM, "query '%s': out of memory", q->qid);
	rr->n_ret = n;
	rr->num_rel_ret = 0;
	for (i = 0; i < n; i++) {
		rr->rel[i] = r ? judgement_of(q, r->docs[i].docno) : REL_NONPOOL;
		if (rr->rel[i] >= 0 && rr->rel[i] >= cfg->relevance_level)
			rr->num_rel_ret++;
	}
	for (i = 0; i < q->n_judged; i++)
		if (q->judged[i].rel >= 0)
			rr->levels[q->judged[i].rel]++;
	rr->n_levels = 0;
	rr->num_rel = 0;
	for (long l = 0; l <= max_rel; l++) {
		if (rr->levels[l])
			rr->n_levels = l + 1;
		if (l >= cfg->relevance_level)
			rr->num_rel += rr->levels[l];
	}
	return LM_OK;
}

static void ranked_rels_free(struct ranked_rels *rr)
{
	free(rr->rel);
	free(rr->levels);
}

/* Number of relevant documents in the top K ranks. */
static long rel_in_top(const struct ranked_rels *rr, const struct eval_config *cfg, size_t k)
{
	long n = 0;
	size_t i;

	if (k > rr->n_ret)
		k = rr->n_ret;
	for (i = 0; i < k; i++)
		n += rr->rel[i] >= cfg->relevance_level;
	return n;
}

/* m_map.c: sum of the precision at each relevant retrieved document,
 * divided by the number of relevant documents. */
static double average_precision(const struct ranked_rels *rr, const struct eval_config *cfg)
{
	double sum = 0.0;
	long so_far = 0;
	size_t i;

	for (i = 0; i < rr->n_ret; i++)
		if (rr->rel[i] >= cfg->relevance_level) {
			so_far++;
			sum += (double)so_far / (double)(i + 1);
		}
	return so_far ? sum / (double)rr->num_rel : 0.0;
}

/* m_bpref.c: for each judged relevant retrieved document, 1 - (judged
 * nonrelevant ranked above it, capped at R) / min(R, judged nonrelevant);
 * summed and divided by R.  Documents not in the pool are skipped. */
static double bpref(const struct ranked_rels *rr, const struct eval_config *cfg)
{
	long num_nonrel = 0, nonrel_so_far = 0, l;
	double sum = 0.0;
	size_t i;

	for (l = 0; l < cfg->relevance_level && l < rr->n_levels; l++)
		num_nonrel += rr->levels[l];
	for (i = 0; i < rr->n_ret; i++) {
		long rel = rr->rel[i];

		if (rel == REL_NONPOOL || rel == REL_UNJUDGED)
			continue;
		if (rel >= 0 && rel < cfg->relevance_level) {
			nonrel_so_far++;
		} else if (nonrel_so_far > 0) {
			long a = nonrel_so_far < rr->num_rel ? nonrel_so_far : rr->num_rel;
			long b = num_nonrel < rr->num_rel ? num_nonrel : rr->num_rel;

			sum += 1.0 - (double)a / (double)b;
		} else {
			sum += 1.0;
		}
	}
	return rr->num_rel ? sum / (double)rr->num_rel : sum;
}

/* m_iprec_at_recall.c: interpolated precision (the best precision at this
 * or any later rank) at the rank where the number of relevant documents
 * retrieved reaches (long)(level * R + 0.9). */
static void iprec_at_recall(const struct ranked_rels *rr, const struct eval_config *cfg,
			    const double *levels, size_t n_levels, double *out)
{
	size_t c;

	for (c = 0; c < n_levels; c++) {
		long want = (long)(levels[c] * (double)rr->num_rel + 0.9);
		double best = 0.0;
		long so_far = 0;
		size_t i, start = rr->n_ret;

		out[c] = 0.0;
		if (want > rr->num_rel_ret || rr->n_ret == 0)
			continue;
		/* The rank of the want-th relevant document (want 0: rank 1). */
		if (want <= 0) {
			start = 0;
		} else {
			for (i = 0; i < rr->n_ret; i++)
				if (rr->rel[i] >= cfg->relevance_level && ++so_far == want) {
					start = i;
					break;
				}
		}
		so_far = rel_in_top(rr, cfg, start);
		for (i = start; i < rr->n_ret; i++) {
			double p;

			so_far += rr->rel[i] >= cfg->relevance_level;
			p = (double)so_far / (double)(i + 1);
			if (p > best)
				best = p;
		}
		out[c] = best;
	}
}

/* Gain of a retrieved document for ndcg (m_ndcg.c, m_ndcg_cut.c): its
 * judgement when positive, else 0.  Discount log2(rank + 1).  K = 0 means
 * no cutoff. */
static double dcg_at(const struct ranked_rels *rr, size_t k)
{
	double sum = 0.0;
	size_t i;

	if (!k || k > rr->n_ret)
		k = rr->n_ret;
	for (i = 0; i < k; i++)
		if (rr->rel[i] > 0)
			sum += (double)rr->rel[i] / log2((double)(i + 2));
	return sum;
}

/* The ideal ranking: every judged document, highest level first.  K = 0
 * means no cutoff. */
static double ideal_dcg_at(const struct ranked_rels *rr, size_t k)
{
	double sum = 0.0;
	size_t pos = 0;
	long l;

	for (l = rr->n_levels - 1; l > 0; l--) {
		long c;

		for (c = 0; c < rr->levels[l]; c++, pos++) {
			if (k && pos >= k)
				return sum;
			sum += (double)l / log2((double)(pos + 2));
		}
	}
	return sum;
}

static double ndcg_at(const struct ranked_rels *rr, size_t k)
{
	double ideal = ideal_dcg_at(rr, k);

	return ideal > 0.0 ? dcg_at(rr, k) / ideal : 0.0;
}

static const double *params_of(const struct eval_config *cfg, enum eval_measure m, size_t *n)
{
	if (cfg->params[m]) {
		*n = cfg->n_params[m];
		return cfg->params[m];
	}
	*n = measures[m].n_defaults;
	return measures[m].defaults;
}

/* Fill ROW (one value per column) for one query. */
static void eval_query(const struct eval_config *cfg, const struct ranked_rels *rr, int missing,
		       double *row)
{
	size_t col = 0;
	int m;

	for (m = 0; m < EVAL_N_MEASURES; m++) {
		size_t n, i;
		const double *p;

		if (!cfg->wanted[m])
			continue;
		p = params_of(cfg, m, &n);
		switch ((enum eval_measure)m) {
		case EVAL_RUNID:
			row[col] = 0;
			break;
		case EVAL_NUM_Q:
			row[col] = 1;
			break;
		case EVAL_NUM_RET:
			/* trec_eval.c resets num_ret of a missing query to 0. */
			row[col] = missing ? 0 : (double)rr->n_ret;
			break;
		case EVAL_NUM_REL:
			row[col] = (double)rr->num_rel;
			break;
		case EVAL_NUM_REL_RET:
			row[col] = (double)rr->num_rel_ret;
			break;
		case EVAL_MAP:
			row[col] = average_precision(rr, cfg);
			break;
		case EVAL_GM_MAP:
			row[col] = log(fmax(average_precision(rr, cfg), MIN_GEO_MEAN));
			break;
		case EVAL_RPREC: {
			/* m_Rprec.c: precision at rank R (R = relevant docs). */
			size_t k = rr->n_ret < (size_t)rr->num_rel ? rr->n_ret : (size_t)rr->num_rel;

			row[col] = k ? (double)rel_in_top(rr, cfg, k) / (double)rr->num_rel : 0.0;
			break;
		}
		case EVAL_BPREF:
			row[col] = bpref(rr, cfg);
			break;
		case EVAL_RECIP_RANK:
			row[col] = 0.0;
			for (i = 0; i < rr->n_ret; i++)
				if (rr->rel[i] >= cfg->relevance_level) {
					row[col] = 1.0 / (double)(i + 1);
					break;
				}
			break;
		case EVAL_IPREC_AT_RECALL:
			iprec_at_recall(rr, cfg, p, n, &row[col]);
			break;
		case EVAL_P:
			/* m_P.c: the denominator is the cutoff even when fewer
			 * documents were retrieved. */
			for (i = 0; i < n; i++)
				row[col + i] = (double)rel_in_top(rr, cfg, (size_t)p[i]) / p[i];
			break;
		case EVAL_RECALL:
			for (i = 0; i < n; i++)
				row[col + i] = rr->num_rel ?
					(double)rel_in_top(rr, cfg, (size_t)p[i]) / (double)rr->num_rel : 0.0;
			break;
		case EVAL_NDCG:
			row[col] = ndcg_at(rr, 0);
			break;
		case EVAL_NDCG_CUT:
			for (i = 0; i < n; i++)
				row[col + i] = ndcg_at(rr, (size_t)p[i]);
			break;
		case EVAL_SUCCESS:
			for (i = 0; i < n; i++)
				row[col + i] = rel_in_top(rr, cfg, (size_t)p[i]) ? 1.0 : 0.0;
			break;
		case EVAL_N_MEASURES:
			break;
		}
		col += measures[m].param == PARAM_NONE ? 1 : n;
	}
}

/* ---- the report ---- */

static int build_columns(struct eval_report *rep, const struct eval_config *cfg,
			 struct lm_error *err)
{
	size_t n = 0, i;
	int m;

	for (m = 0; m < EVAL_N_MEASURES; m++)
		if (cfg->wanted[m]) {
			size_t k;

			params_of(cfg, m, &k);
			n += measures[m].param == PARAM_NONE ? 1 : k;
		}
	rep->cols = calloc(n, sizeof *rep->cols);
	if (!rep->cols)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rep->n_cols = n;
	n = 0;
	for (m = 0; m < EVAL_N_MEASURES; m++) {
		const struct measure_def *d = &measures[m];
		const double *p;
		size_t k;

		if (!cfg->wanted[m])
			continue;
		p = params_of(cfg, m, &k);
		if (d->param == PARAM_NONE)
			k = 1;
		for (i = 0; i < k; i++, n++) {
			struct eval_column *c = &rep->cols[n];

			/* meas_init.c append_long "%s_%ld", append_double "%s_%3.2f". */
			if (d->param == PARAM_RANK)
				snprintf(c->name, sizeof c->name, "%s_%ld", d->name, (long)p[i]);
			else if (d->param == PARAM_LEVEL)
				snprintf(c->name, sizeof c->name, "%s_%3.2f", d->name, p[i]);
			else
				snprintf(c->name, sizeof c->name, "%s", d->name);
			c->measure = m;
			c->kind = d->kind;
			c->per_query = d->per_query;
		}
	}
	return LM_OK;
}

/* trec_eval.c: with no -m, the "official" set. */
static void effective_config(const struct eval_config *cfg, struct eval_config *eff)
{
	int m;
	size_t i;

	*eff = *cfg;
	for (m = 0; m < EVAL_N_MEASURES && !cfg->wanted[m]; m++)
		;
	if (m == EVAL_N_MEASURES)
		for (i = 0; i < N(official); i++)
			eff->wanted[official[i]] = 1;
}

int eval_run(struct eval_report *rep, const struct eval_config *cfg,
	     const struct trec_qrels *qrels, const struct trec_run *run, struct lm_error *err)
{
	struct eval_config eff;
	size_t q, c, nq = 0;
	int rc;

	memset(rep, 0, sizeof *rep);
	effective_config(cfg, &eff);
	rc = build_columns(rep, &eff, err);
	if (rc)
		goto out;
	rep->runid = strdup(run->runid ? run->runid : "");
	rep->qids = calloc(qrels->n_queries ? qrels->n_queries : 1, sizeof *rep->qids);
	rep->values = calloc((qrels->n_queries ? qrels->n_queries : 1) * rep->n_cols,
			     sizeof *rep->values);
	rep->summary = calloc(rep->n_cols ? rep->n_cols : 1, sizeof *rep->summary);
	if (!rep->runid || !rep->qids || !rep->values || !rep->summary) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	/* trec_eval.c: queries in qrels order; those without results are
	 * skipped unless -c. */
	for (q = 0; q < qrels->n_queries; q++) {
		const struct trec_qrels_query *qq = &qrels->queries[q];
		const struct trec_run_query *rq = trec_run_find(run, qq->qid);
		struct ranked_rels rr = { 0 };

		if (!rq && !eff.complete)
			continue;
		rc = ranked_rels_build(&rr, &eff, qq, rq, err);
		if (!rc) {
			rep->qids[nq] = strdup(qq->qid);
			if (!rep->qids[nq])
				rc = lm_fail(err, LM_ENOMEM, "out of memory");
		}
		if (rc) {
			ranked_rels_free(&rr);
			goto out;
		}
		eval_query(&eff, &rr, !rq, &rep->values[nq * rep->n_cols]);
		ranked_rels_free(&rr);
		nq++;
	}
	rep->n_queries = nq;
	if (!nq) {
		rc = lm_fail(err, LM_EFORMAT, "no queries with both results and relevance judgements");
		goto out;
	}
	/* meas_acc.c sums in query order; meas_avg.c divides by the number of
	 * queries (gm_map: exp of the mean log). */
	for (c = 0; c < rep->n_cols; c++) {
		double sum = 0.0;

		for (q = 0; q < nq; q++)
			sum += rep->values[q * rep->n_cols + c];
		switch (rep->cols[c].measure) {
		case EVAL_NUM_Q:
			rep->summary[c] = (double)nq;
			break;
		case EVAL_NUM_RET:
		case EVAL_NUM_REL:
		case EVAL_NUM_REL_RET:
		case EVAL_RUNID:
			rep->summary[c] = sum;
			break;
		case EVAL_GM_MAP:
			rep->summary[c] = exp(sum / (double)nq);
			break;
		default:
			rep->summary[c] = sum / (double)nq;
			break;
		}
	}
	rc = LM_OK;
out:
	if (rc)
		eval_report_free(rep);
	return rc;
}

static int write_value(struct output *out, const struct eval_column *c, const char *qid,
		       double v, const char *runid, struct lm_error *err)
{
	/* meas_print_single.c / meas_print_final.c / m_runid.c layouts. */
	switch (c->kind) {
	case EVAL_KIND_TEXT:
		return output_printf(out, err, "%-22s\t%s\t%s\n", c->name, qid, runid);
	case EVAL_KIND_COUNT:
		return output_printf(out, err, "%-22s\t%s\t%ld\n", c->name, qid, (long)v);
	case EVAL_KIND_REAL:
		break;
	}
	return output_printf(out, err, "%-22s\t%s\t%6.4f\n", c->name, qid, v);
}

int eval_report_write(const struct eval_report *rep, struct output *out, int per_query,
		      int summary, struct lm_error *err)
{
	size_t q, c;
	int rc;

	if (per_query)
		for (q = 0; q < rep->n_queries; q++)
			for (c = 0; c < rep->n_cols; c++) {
				if (!rep->cols[c].per_query)
					continue;
				rc = write_value(out, &rep->cols[c], rep->qids[q],
						 rep->values[q * rep->n_cols + c], rep->runid, err);
				if (rc)
					return rc;
			}
	if (summary)
		for (c = 0; c < rep->n_cols; c++) {
			rc = write_value(out, &rep->cols[c], "all", rep->summary[c], rep->runid, err);
			if (rc)
				return rc;
		}
	return LM_OK;
}

void eval_report_free(struct eval_report *rep)
{
	size_t q;

	if (rep->qids)
		for (q = 0; q < rep->n_queries; q++)
			free(rep->qids[q]);
	free(rep->qids);
	free(rep->cols);
	free(rep->values);
	free(rep->summary);
	free(rep->runid);
	memset(rep, 0, sizeof *rep);
}

const double *eval_report_summary(const struct eval_report *rep, const char *name)
{
	size_t c;

	for (c = 0; c < rep->n_cols; c++)
		if (!strcmp(rep->cols[c].name, name))
			return &rep->summary[c];
	return NULL;
}

/* ---- baseline comparison ---- */

static int add_regression(struct eval_regression **regs, size_t *n, const char *name,
			  size_t name_len, double base, double cur, int missing, struct lm_error *err)
{
	struct eval_regression *v = realloc(*regs, (*n + 1) * sizeof *v), *r;

	if (!v)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	*regs = v;
	r = &v[(*n)++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%.*s", (int)name_len, name);
	r->baseline = base;
	r->current = cur;
	r->missing = missing;
	return LM_OK;
}

int eval_check_baseline(const struct eval_report *rep, const char *path, double max_drop,
			struct eval_regression **regs, size_t *n_regs, struct lm_error *err)
{
	struct input in;
	size_t len, compared = 0;
	char *line;
	int rc;

	*regs = NULL;
	*n_regs = 0;
	rc = input_open(&in, path, err);
	if (rc)
		return rc;
	while ((rc = input_line(&in, &line, &len, 1 << 20, err)) == LM_OK) {
		char name[64], qid[64], value[64], *end;
		size_t c;
		double base, cur;
		int k;

		k = sscanf(line, "%63s %63s %63s", name, qid, value);
		if (k <= 0 || name[0] == '#')
			continue;
		if (k != 3) {
			rc = lm_fail(err, LM_EFORMAT,
				     "%s:%llu: expected 'measure qid value' as eval prints it",
				     in.name, (unsigned long long)in.line);
			goto out;
		}
		if (strcmp(qid, "all"))
			continue;
		base = strtod(value, &end);
		/* Counts ("%ld") and runid are not quality measures. */
		if (*end || !strchr(value, '.'))
			continue;
		for (c = 0; c < rep->n_cols; c++)
			if (!strcmp(rep->cols[c].name, name))
				break;
		compared++;
		if (c == rep->n_cols) {
			rc = add_regression(regs, n_regs, name, strlen(name), base, 0.0, 1, err);
			if (rc)
				goto out;
			continue;
		}
		/* Compare what is printed, so equal output never regresses. */
		snprintf(value, sizeof value, "%6.4f", rep->summary[c]);
		cur = strtod(value, NULL);
		if (base - cur > max_drop + 1e-9) {
			rc = add_regression(regs, n_regs, name, strlen(name), base, cur, 0, err);
			if (rc)
				goto out;
		}
	}
	if (rc == LM_ENOMEM) {
		rc = lm_fail(err, LM_EFORMAT, "%s:%llu: line too long", in.name,
			     (unsigned long long)in.line + 1);
		goto out;
	}
	if (rc != LM_EOF)
		goto out;
	rc = LM_OK;
	if (!compared)
		rc = lm_fail(err, LM_EFORMAT, "%s: no 'all' measures to compare", in.name);
out:
	input_close(&in);
	if (rc) {
		free(*regs);
		*regs = NULL;
		*n_regs = 0;
	}
	return rc;
}
