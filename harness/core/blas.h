/*
 * blas.h: the engine's only door to BLAS (OpenBLAS, OpenMP build, so that the engine's own
 * parallel loops and OpenBLAS share one thread pool), plus a naive reference GEMM for tests.
 *
 * gemm computes C = alpha op(A) op(B) + beta C, row-major, op(X) = X or X^T, with
 * op(A) (M, K), op(B) (K, N), C (M, N) and leading dimensions lda, ldb, ldc.
 * Called inside a parallel region, OpenBLAS runs single-threaded (what the per-image conv
 * loop wants); called outside, it uses the pool.
 */
#ifndef BLAS_H
#define BLAS_H

void blas_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
               int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* The same in double precision (data/knn.c: exact distances between byte images). */
void blas_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
                int lda, const double *b, int ldb, double beta, double *c, int ldc);
/* Same contract as blas_gemm, plain loops with double accumulation. */
void blas_gemm_naive(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                     int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Sets the thread count of both the engine's OpenMP loops and OpenBLAS. */
void blas_set_threads(int n);
int blas_get_threads(void);
/* "OpenBLAS 0.3.21 ... (core Haswell, OpenMP)" style description for provenance. */
const char *blas_describe(char *buf, unsigned len);

#endif
