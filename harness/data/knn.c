/*
 * knn.c: exact k nearest neighbours of byte images (see knn.h).
 *
 * d(i, j) = |x_i|^2 + |x_j|^2 - 2 x_i . x_j with the dot products from a double-precision
 * GEMM over blocks of 256 rows against all n images: every term is an integer below
 * 3072 * 255^2 < 2^28, so each sum is exact in any order and d is an exact integer. Each row
 * keeps its k best (d, j) in a bounded max-heap (lexicographic: smaller d, then smaller j, is
 * better), sorted at the end. Cost: n^2 * 3072 multiply-adds (2,500 images: 19 G, well under
 * a second; 50,000: 7.7 T, minutes on a few cores).
 */
#include "data/knn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"

#define KNN_BLOCK 256

typedef struct Cand {
    int64_t d;
    int j;
} Cand;

static int worse(Cand a, Cand b) { return a.d > b.d || (a.d == b.d && a.j > b.j); }

/* Max-heap on `worse` of size m <= k: h[0] is the worst kept candidate. */
static void heap_push(Cand *h, int *m, int k, Cand c)
{
    if (*m == k) {
        if (!worse(h[0], c))
            return;
        int i = 0; /* replace the root and sift down */
        for (;;) {
            int l = 2 * i + 1, r = l + 1, w = i;
            Cand cw = c;
            if (l < k && worse(h[l], cw)) {
                w = l;
                cw = h[l];
            }
            if (r < k && worse(h[r], cw))
                w = r;
            if (w == i)
                break;
            h[i] = h[w];
            i = w;
        }
        h[i] = c;
        return;
    }
    int i = (*m)++; /* sift up */
    while (i > 0 && worse(c, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static int cand_cmp(const void *a, const void *b)
{
    Cand x = *(const Cand *)a, y = *(const Cand *)b;
    return worse(x, y) - worse(y, x);
}

int data_knn(int *nbr, const CifarSet *s, int k, int same_class, int nthreads, Err *err)
{
    const int n = s->n, dim = CIFAR_PIXELS;
    if (k < 1)
        return err_set(err, "data_knn: k is %d, expected >= 1", k);
    int counts[256] = {0};
    for (int i = 0; i < n; i++)
        counts[s->noisy[i]]++;
    if (!same_class && n - 1 < k)
        return err_set(err, "data_knn: k is %d but the set has %d images (%d candidates "
                       "each); use a smaller k", k, n, n - 1);
    for (int c = 0; same_class && c < 256; c++)
        if (counts[c] > 0 && counts[c] - 1 < k)
            return err_set(err, "data_knn: k is %d but class %d has %d images (%d same-class "
                           "candidates each); use a smaller k", k, c, counts[c], counts[c] - 1);
    double *x = malloc((size_t)n * dim * sizeof *x);
    double *sq = malloc((size_t)n * sizeof *sq);
    double *g = malloc((size_t)KNN_BLOCK * n * sizeof *g);
    Cand *heap = malloc((size_t)KNN_BLOCK * k * sizeof *heap);
    if (!x || !sq || !g || !heap) {
        free(x);
        free(sq);
        free(g);
        free(heap);
        return err_set(err, "data_knn: out of memory for %d images (%zu MB)", n,
                       ((size_t)n * dim * 8 + (size_t)KNN_BLOCK * n * 8) >> 20);
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *p = s->pixels + (size_t)i * dim;
        double *xi = x + (size_t)i * dim;
        int64_t q = 0;
        for (int e = 0; e < dim; e++) {
            xi[e] = p[e];
            q += (int64_t)p[e] * p[e];
        }
        sq[i] = (double)q;
    }
    for (int r0 = 0; r0 < n; r0 += KNN_BLOCK) {
        const int rb = n - r0 < KNN_BLOCK ? n - r0 : KNN_BLOCK;
        /* g (rb, n) = x[r0 .. r0 + rb) x^T */
        blas_dgemm(0, 1, rb, n, dim, 1.0, x + (size_t)r0 * dim, dim, x, dim, 0.0, g, n);
#pragma omp parallel for num_threads(nthreads) schedule(static)
        for (int r = 0; r < rb; r++) {
            const int i = r0 + r;
            const double *gi = g + (size_t)r * n;
            Cand *h = heap + (size_t)r * k;
            int m = 0;
            for (int j = 0; j < n; j++) {
                if (j == i || (same_class && s->noisy[j] != s->noisy[i]))
                    continue;
                Cand c = {(int64_t)(sq[i] + sq[j] - 2.0 * gi[j]), j};
                heap_push(h, &m, k, c);
            }
            qsort(h, (size_t)k, sizeof *h, cand_cmp);
            for (int t = 0; t < k; t++)
                nbr[(size_t)i * k + t] = h[t].j;
        }
    }
    free(x);
    free(sq);
    free(g);
    free(heap);
    return 0;
}
