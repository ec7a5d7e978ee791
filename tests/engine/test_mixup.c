/*
 * test_mixup.c: mixup_batch (harness/train/mixup.c).
 *   - reconstruction: lambda and the permutation redrawn from a copy of the same rng (draw
 *     order: lambda, then permutation) give x~ and t~ computed here in double; the rng ends in
 *     the same state, so mixup consumes exactly those draws;
 *   - a small example written out by hand (N = 2, the only non-identity permutation);
 *   - soft targets: rows sum to 1, at most two non-zeros, the own label gets lambda;
 *   - alpha = 0 is ERM: x~ = x bit for bit, one-hot targets, lambda 1, no draws;
 *   - per-example lambdas;
 *   - bad labels, shapes, aliasing and parameters are rejected with their messages.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/mixup.h"
#include "testlib.h"

/* x~ is formed in float32 from float32-rounded coefficients; the reference is in double:
 * a few float ulps of the largest input. */
#define MIXUP_RTOL 1e-6
/* Target rows: lambda and 1 - lambda rounded to float separately, summed in double. */
#define TARGET_SUM_TOL 1e-6

enum { MAXN = 32, MAXD = 60, MAXK = 12 };

typedef struct Batch {
    Tensor x, xm, t;
    int label[MAXN];
    int perm[MAXN];
    double lam[MAXN];
    int n, k;
} Batch;

/* x: (n, 3, 4, 5) uniform in [-2, 2); random labels in [0, k); t: (n, k). */
static int batch_new(Batch *b, int n, int k, Rng *r)
{
    Err err;
    memset(b, 0, sizeof *b);
    int xs[4] = {n, 3, 4, 5}, ts[2] = {n, k};
    if (tensor_alloc(&b->x, 4, xs, &err) || tensor_alloc(&b->xm, 4, xs, &err) ||
        tensor_alloc(&b->t, 2, ts, &err))
        return tl_fail("%s", err.msg);
    tl_fill_uniform(b->x.data, b->x.size, -2.0f, 2.0f, r);
    for (int i = 0; i < n; i++)
        b->label[i] = (int)rng_below(r, (uint64_t)k);
    b->n = n;
    b->k = k;
    return 0;
}

static void batch_free(Batch *b)
{
    tensor_free(&b->x);
    tensor_free(&b->xm);
    tensor_free(&b->t);
}

/* Recomputes x~ and t~ in double from lam[] and perm[] and compares. */
static int check_mix(const char *what, const Batch *b, const double *lam, const int *perm)
{
    static double want_x[MAXN * MAXD], got_x[MAXN * MAXD], want_t[MAXN * MAXK],
        got_t[MAXN * MAXK];
    size_t d = b->x.size / (size_t)b->n;
    for (int i = 0; i < b->n; i++) {
        for (size_t j = 0; j < d; j++) {
            size_t o = (size_t)i * d + j;
            want_x[o] = lam[i] * b->x.data[o] + (1.0 - lam[i]) * b->x.data[(size_t)perm[i] * d + j];
            got_x[o] = b->xm.data[o];
        }
        for (int c = 0; c < b->k; c++) {
            size_t o = (size_t)i * b->k + c;
            want_t[o] = (c == b->label[i] ? lam[i] : 0.0) +
                        (c == b->label[perm[i]] ? 1.0 - lam[i] : 0.0);
            got_t[o] = b->t.data[o];
        }
    }
    char name[96];
    snprintf(name, sizeof name, "%s x~", what);
    if (tl_close_d(name, got_x, want_x, b->x.size, MIXUP_RTOL))
        return 1;
    snprintf(name, sizeof name, "%s t~", what);
    return tl_close_d(name, got_t, want_t, b->t.size, MIXUP_RTOL);
}

static int test_reconstruct(void)
{
    const double alphas[] = {0.2, 1.0, 8.0};
    Rng data;
    rng_seed(&data, tl_seed, 201);
    int rc = 0;
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0] && !rc; a++) {
        for (int per_example = 0; per_example <= 1 && !rc; per_example++) {
            Batch b;
            if (batch_new(&b, 9, 10, &data))
                return 1;
            MixupParams p = {alphas[a], per_example, 10};
            Rng r, copy;
            rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
            copy = r;
            Err err;
            if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label, &p, &r, &err)) {
                batch_free(&b);
                return tl_fail("%s", err.msg);
            }
            /* Redraw: lambda(s) first, then the permutation. */
            double lam[MAXN];
            int perm[MAXN];
            if (per_example) {
                for (int i = 0; i < b.n; i++)
                    lam[i] = rng_beta(&copy, p.alpha, p.alpha);
            } else {
                double l = rng_beta(&copy, p.alpha, p.alpha);
                for (int i = 0; i < b.n; i++)
                    lam[i] = l;
            }
            rng_permutation(&copy, perm, b.n);
            char what[64];
            snprintf(what, sizeof what, "alpha %g%s", p.alpha, per_example ? " per example" : "");
            if (memcmp(lam, b.lam, (size_t)b.n * sizeof lam[0]) ||
                memcmp(perm, b.perm, (size_t)b.n * sizeof perm[0]))
                rc = tl_fail("%s: lambda or permutation differs from the redrawn ones", what);
            else if (memcmp(&r, &copy, sizeof r))
                rc = tl_fail("%s: mixup consumed a different number of draws", what);
            else
                rc = check_mix(what, &b, lam, perm);
            if (!rc && per_example && lam[0] == lam[1])
                rc = tl_fail("%s: examples 0 and 1 share lambda %g", what, lam[0]);
            batch_free(&b);
        }
    }
    return rc;
}

/* N = 2 has one non-identity permutation; find a stream that draws it and check by hand. */
static int test_hand_example(void)
{
    float xd[4] = {1.0f, 2.0f, 3.0f, 5.0f};
    float xmd[4], td[6];
    int xs[2] = {2, 2}, ts[2] = {2, 3};
    Tensor x = tensor_view(xd, 2, xs), xm = tensor_view(xmd, 2, xs), t = tensor_view(td, 2, ts);
    int label[2] = {0, 2}, perm[2];
    double lam[2];
    MixupParams p = {0.5, 0, 3};
    Err err;
    for (uint64_t stream = 1; stream < 100; stream++) {
        Rng r, copy;
        rng_seed(&r, tl_seed, stream);
        copy = r;
        if (mixup_batch(&xm, &t, lam, perm, &x, label, &p, &r, &err))
            return tl_fail("%s", err.msg);
        if (perm[0] != 1)
            continue;
        double l = rng_beta(&copy, 0.5, 0.5), m = 1.0 - l;
        /* Row 0 mixes (1, 2) with (3, 5); row 1 the other way round. */
        double want_x[4] = {l * 1 + m * 3, l * 2 + m * 5, l * 3 + m * 1, l * 5 + m * 2};
        /* Row 0: label 0 with weight l, label 2 with 1 - l; row 1 mirrored. */
        double want_t[6] = {l, 0, m, m, 0, l};
        double got_x[4], got_t[6];
        for (int i = 0; i < 4; i++)
            got_x[i] = xmd[i];
        for (int i = 0; i < 6; i++)
            got_t[i] = td[i];
        if (lam[0] != l || lam[1] != l)
            return tl_fail("lambda %g, expected %g", lam[0], l);
        return tl_close_d("hand x~", got_x, want_x, 4, MIXUP_RTOL) ||
               tl_close_d("hand t~", got_t, want_t, 6, MIXUP_RTOL);
    }
    return tl_fail("no stream in 1..99 swapped two examples");
}

static int test_targets(void)
{
    Rng data, r;
    rng_seed(&data, tl_seed, 202);
    rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
    for (int trial = 0; trial < 20; trial++) {
        Batch b;
        if (batch_new(&b, 17, 10, &data))
            return 1;
        MixupParams p = {trial % 2 ? 0.2 : 1.0, trial % 4 >= 2, 10};
        Err err;
        int rc = 0;
        if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label, &p, &r, &err))
            rc = tl_fail("%s", err.msg);
        for (int i = 0; i < b.n && !rc; i++) {
            const float *row = b.t.data + (size_t)i * b.k;
            double sum = 0.0;
            int nonzero = 0;
            for (int c = 0; c < b.k; c++) {
                sum += row[c];
                nonzero += row[c] != 0.0f;
                if (!(row[c] >= 0.0f && row[c] <= 1.0f))
                    rc = tl_fail("trial %d row %d: target %g outside [0, 1]", trial, i,
                                 (double)row[c]);
            }
            if (!rc && fabs(sum - 1.0) > TARGET_SUM_TOL)
                rc = tl_fail("trial %d row %d: targets sum to %.9g", trial, i, sum);
            if (!rc && nonzero > 2)
                rc = tl_fail("trial %d row %d: %d non-zero targets", trial, i, nonzero);
            int own = b.label[i], other = b.label[b.perm[i]];
            double want_own = own == other ? 1.0 : (double)(float)b.lam[i];
            if (!rc && row[own] != (float)want_own)
                rc = tl_fail("trial %d row %d: own label weight %g, expected %g", trial, i,
                             (double)row[own], want_own);
        }
        batch_free(&b);
        if (rc)
            return 1;
    }
    return 0;
}

static int test_erm(void)
{
    Rng data, r;
    rng_seed(&data, tl_seed, 203);
    rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
    Rng before = r;
    for (int per_example = 0; per_example <= 1; per_example++) {
        Batch b;
        if (batch_new(&b, 7, 5, &data))
            return 1;
        MixupParams p = {0.0, per_example, 5};
        Err err;
        int rc = 0;
        for (int i = 0; i < b.n; i++)
            b.perm[i] = -1;
        if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label, &p, &r, &err))
            rc = tl_fail("%s", err.msg);
        else if (memcmp(b.xm.data, b.x.data, b.x.size * sizeof(float)))
            rc = tl_fail("alpha = 0 changed x");
        else if (memcmp(&r, &before, sizeof r))
            rc = tl_fail("alpha = 0 drew from the rng");
        for (int i = 0; i < b.n && !rc; i++) {
            if (b.lam[i] != 1.0 || b.perm[i] != i)
                rc = tl_fail("example %d: lambda %g, partner %d; expected 1 and itself", i,
                             b.lam[i], b.perm[i]);
            for (int c = 0; c < b.k && !rc; c++)
                if (b.t.data[(size_t)i * b.k + c] != (c == b.label[i] ? 1.0f : 0.0f))
                    rc = tl_fail("example %d: target is not one-hot at class %d", i, c);
        }
        /* perm and lam are optional without mixing. */
        if (!rc && mixup_batch(&b.xm, &b.t, NULL, NULL, &b.x, b.label, &p, &r, &err))
            rc = tl_fail("alpha = 0 without perm/lam: %s", err.msg);
        batch_free(&b);
        if (rc)
            return 1;
    }
    return 0;
}

static int test_errors(void)
{
    Rng data, r;
    rng_seed(&data, tl_seed, 204);
    rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
    Batch b;
    if (batch_new(&b, 5, 10, &data))
        return 1;
    Err err;
    MixupParams p = {1.0, 0, 10};
    int rc = 0;
    b.label[3] = 12;
    rc = tl_expect_error("label 12", mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label, &p,
                                                 &r, &err) != 0,
                         &err, "mixup_batch: example 3 has label 12, expected 0..9");
    b.label[3] = -1;
    rc = rc || tl_expect_error("label -1", mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label,
                                                       &p, &r, &err) != 0,
                               &err, "mixup_batch: example 3 has label -1, expected 0..9");
    b.label[3] = 0;
    MixupParams wrong_k = {1.0, 0, 7};
    rc = rc || tl_expect_error("classes", mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label,
                                                      &wrong_k, &r, &err) != 0,
                               &err, "mixup_batch: targets are (5, 10), expected (5, 7)");
    MixupParams neg = {-0.5, 0, 10};
    rc = rc || tl_expect_error("alpha", mixup_batch(&b.xm, &b.t, b.lam, b.perm, &b.x, b.label,
                                                    &neg, &r, &err) != 0,
                               &err, "mixup_batch: alpha is -0.5, expected a finite value >= 0");
    rc = rc || tl_expect_error("perm", mixup_batch(&b.xm, &b.t, b.lam, NULL, &b.x, b.label, &p,
                                                   &r, &err) != 0,
                               &err, "mixup_batch: perm is NULL, expected 5 ints when alpha > 0");
    MixupParams pe = {1.0, 1, 10};
    rc = rc || tl_expect_error("lam", mixup_batch(&b.xm, &b.t, NULL, b.perm, &b.x, b.label, &pe,
                                                  &r, &err) != 0,
                               &err, "mixup_batch: lam is NULL, expected 5 doubles with "
                                     "per_example");
    rc = rc || tl_expect_error("overlap", mixup_batch(&b.x, &b.t, b.lam, b.perm, &b.x, b.label,
                                                      &p, &r, &err) != 0,
                               &err, "mixup_batch: output overlaps the input, expected separate "
                                     "buffers");
    int small[4] = {5, 3, 4, 4};
    Tensor xm2 = tensor_view(b.xm.data, 4, small);
    rc = rc || tl_expect_error("shape", mixup_batch(&xm2, &b.t, b.lam, b.perm, &b.x, b.label, &p,
                                                    &r, &err) != 0,
                               &err, "mixup_batch: output is (5, 3, 4, 4), expected the input's "
                                     "shape (5, 3, 4, 5)");
    batch_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"reconstruct", test_reconstruct},
        {"hand_example", test_hand_example},
        {"targets", test_targets},
        {"erm", test_erm},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
