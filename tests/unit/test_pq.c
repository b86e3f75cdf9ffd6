#include <math.h>
#include <stdlib.h>

#include "index/pq.h"
#include "tap.h"
#include "ann_testutil.h"

#define N 4000
#define DIM 16
#define M 8

int main(void)
{
	struct kmeans_params kp = { .iters = 10, .seed = 5 };
	struct pq_codebook pq;
	struct lm_error err = { 0 };
	float *x, dec[DIM], *table = malloc(M * PQ_K * sizeof(float)), var = 0, mean[DIM] = { 0 };
	uint8_t code[M];
	double errsum = 0, want, got;
	uint32_t i, j, c, bad = 0, best;
	int adc_ok = 1, ip_ok = 1;

	tu_seed(9);
	x = tu_clustered(N + 10, DIM, 50, 0.3);
	ok(pq_init(&pq, DIM, 5, &err) == LM_EINVAL, "m=5 does not divide 16: %s", err.msg);
	ok(!pq_init(&pq, DIM, M, &err), "m=8 over 16 dims");
	ok(pq_train(&pq, x, 100, &kp, &err) == LM_EINVAL, "100 vectors refused for 256 centroids: %s", err.msg);
	ok(!pq_train(&pq, x, N, &kp, &err), "trained on 4000 vectors");

	for (i = 0; i < N; i++)
		for (j = 0; j < DIM; j++)
			mean[j] += x[i * DIM + j] / N;
	for (i = 0; i < N; i++) {
		pq_encode(&pq, x + i * DIM, code);
		pq_decode(&pq, code, dec);
		for (j = 0; j < DIM; j++) {
			errsum += (x[i * DIM + j] - dec[j]) * (x[i * DIM + j] - dec[j]);
			var += (x[i * DIM + j] - mean[j]) * (x[i * DIM + j] - mean[j]);
		}
		/* each byte names the nearest sub-centroid (checked by brute force) */
		if (i < 50)
			for (j = 0; j < M; j++) {
				double bd = 1e30;

				best = 0;
				for (c = 0; c < PQ_K; c++) {
					double d = 0;
					uint32_t t;

					for (t = 0; t < DIM / M; t++) {
						double e = x[i * DIM + j * 2 + t] - pq.centroids[(j * PQ_K + c) * 2 + t];

						d += e * e;
					}
					if (d < bd) {
						bd = d;
						best = c;
					}
				}
				bad += best != code[j];
			}
	}
	is_int(bad, 0, "encode picks the nearest sub-centroid");
	diag("relative squared reconstruction error %.4f", errsum / var);
	ok(errsum / var < 0.05, "reconstruction error %.4f of the variance (< 0.05)", errsum / var);

	/* ADC equals the distance to the decoded vector */
	for (i = 0; i < 10; i++) {
		const float *q = x + (N + i) * DIM;

		pq_encode(&pq, x + i * DIM, code);
		pq_decode(&pq, code, dec);
		pq_table_l2(&pq, q, table);
		want = -tu_score(q, dec, DIM, ANN_L2);
		got = pq_adc(table, code, M);
		adc_ok &= fabs(got - want) <= 1e-4 * (1 + want);
		pq_table_ip(&pq, q, table);
		want = tu_score(q, dec, DIM, ANN_IP);
		got = pq_adc(table, code, M);
		ip_ok &= fabs(got - want) <= 1e-4 * (1 + fabs(want));
	}
	ok(adc_ok, "l2 ADC = ||q - decode(code)||^2");
	ok(ip_ok, "ip ADC = q . decode(code)");
	pq_free(&pq);
	free(table);
	free(x);
	return tap_done();
}
