/*
 * blas.c: the only file that includes cblas.h. See blas.h.
 */
#include "core/blas.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>

/* OpenBLAS extensions (declared in its cblas.h on Debian, repeated to be explicit). */
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_parallel(void);
void openblas_set_num_threads(int);

void blas_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
               int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

void blas_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc)
{
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

void blas_gemm_naive(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++) {
                double av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += av * bv;
            }
            float *cij = &c[(size_t)i * ldc + j];
            /* beta == 0 ignores C, as BLAS does (C may hold garbage or NaN). */
            *cij = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *cij));
        }
    }
}

void blas_set_threads(int n)
{
    if (n < 1)
        n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int blas_get_threads(void) { return omp_get_max_threads(); }

const char *blas_describe(char *buf, unsigned len)
{
    static const char *const par[] = {"sequential", "pthreads", "OpenMP"};
    int p = openblas_get_parallel();
    snprintf(buf, len, "%s (core %s, %s)", openblas_get_config(), openblas_get_corename(),
             (p >= 0 && p <= 2) ? par[p] : "unknown");
    return buf;
}
