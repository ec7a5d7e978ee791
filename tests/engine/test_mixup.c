/*
 * test_mixup.c: mixup_batch (harness/train/mixup.c).
 *   - reconstruction: lambda and the permutation redrawn from a copy of the same rng (draw
 *     order: lambda, then permutation) give x~ and t~ computed here in double; the rng ends in
 *     the same state, so mixup consumes exactly those draws;
 *   - a small example written out by hand (N = 2, the only non-identity permutation);
 *   - soft targets: rows sum to 1, at most two non-zeros, the own label gets lambda;
 *   - alpha = 0 is ERM: x~ = x bit for bit, one-hot targets, lambda 1, no draws;
 *   - per-example lambdas;
 *   - the ablation's variants, each rebuilt here from a copy of the rng: same-class partners
 *     (a permutation within every class, drawn class by class), the heavier input's label,
 *     label smoothing (1 - eps + eps/K on the true class), Gaussian input noise (alone with
 *     alpha = 0, or after mixing);
 *   - partners given from outside the batch (mixup_partners, nearest-neighbour mixup): x~ and
 *     t~ against the partner batch, lambda the only draw, alpha = 0 ERM; latent refused;
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
            MixupParams p = {.alpha = alphas[a], .per_example = per_example, .n_classes = 10};
            Rng r, copy;
            rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
            copy = r;
            Err err;
            if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, NULL, &b.x, b.label, &p, &r, &err)) {
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
    MixupParams p = {.alpha = 0.5, .per_example = 0, .n_classes = 3};
    Err err;
    for (uint64_t stream = 1; stream < 100; stream++) {
        Rng r, copy;
        rng_seed(&r, tl_seed, stream);
        copy = r;
        if (mixup_batch(&xm, &t, lam, perm, NULL, &x, label, &p, &r, &err))
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
        MixupParams p = {.alpha = trial % 2 ? 0.2 : 1.0, .per_example = trial % 4 >= 2,
                         .n_classes = 10};
        Err err;
        int rc = 0;
        if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, NULL, &b.x, b.label, &p, &r, &err))
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
        MixupParams p = {.alpha = 0.0, .per_example = per_example, .n_classes = 5};
        Err err;
        int rc = 0;
        for (int i = 0; i < b.n; i++)
            b.perm[i] = -1;
        if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, NULL, &b.x, b.label, &p, &r, &err))
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
        if (!rc && mixup_batch(&b.xm, &b.t, NULL, NULL, NULL, &b.x, b.label, &p, &r, &err))
            rc = tl_fail("alpha = 0 without perm/lam: %s", err.msg);
        batch_free(&b);
        if (rc)
            return 1;
    }
    return 0;
}

/* The ablation's variants against a reference rebuilt here from a copy of the rng. */
static int test_variants(void)
{
    Rng data;
    rng_seed(&data, tl_seed, 205);
    const int n = 24, k = 4; /* a few examples per class, some classes maybe empty */
    int rc = 0;
    for (int variant = 0; variant < 4 && !rc; variant++) {
        Batch b;
        if (batch_new(&b, n, k, &data))
            return 1;
        b.label[0] = 3; /* class 3 has at least one member */
        MixupParams p = {.alpha = 1.0, .per_example = 0, .n_classes = k};
        const char *what = "";
        switch (variant) {
        case 0: what = "same class"; p.partner = MIXUP_PARTNER_SAME_CLASS; break;
        case 1: what = "heavier label"; p.labels = MIXUP_LABELS_HEAVIER; p.per_example = 1; break;
        case 2: what = "smoothing alone"; p.alpha = 0.0; p.smoothing = 0.2; break;
        case 3: what = "mixup + smoothing + noise"; p.smoothing = 0.1; p.noise = 0.3; break;
        }
        int work[2 * MAXN];
        Rng r, copy;
        rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
        copy = r;
        Err err;
        if (mixup_batch(&b.xm, &b.t, b.lam, b.perm, work, &b.x, b.label, &p, &r, &err)) {
            batch_free(&b);
            return tl_fail("%s: %s", what, err.msg);
        }
        /* Redraw: lambdas, partners, noise. */
        double lam[MAXN];
        int perm[MAXN];
        for (int i = 0; i < n; i++) {
            lam[i] = 1.0;
            perm[i] = i;
        }
        if (p.alpha > 0.0) {
            double l = p.per_example ? 0.0 : rng_beta(&copy, p.alpha, p.alpha);
            for (int i = 0; i < n; i++)
                lam[i] = p.per_example ? rng_beta(&copy, p.alpha, p.alpha) : l;
            if (p.partner == MIXUP_PARTNER_SAME_CLASS) {
                for (int c = 0; c < k; c++) {
                    int members[MAXN], shuffled[MAXN], m = 0;
                    for (int i = 0; i < n; i++)
                        if (b.label[i] == c)
                            members[m++] = i;
                    memcpy(shuffled, members, sizeof members);
                    if (m > 0)
                        rng_shuffle(&copy, shuffled, m);
                    for (int j = 0; j < m; j++)
                        perm[members[j]] = shuffled[j];
                }
            } else {
                rng_permutation(&copy, perm, n);
            }
        }
        size_t d = b.x.size / (size_t)n;
        int moved = 0;
        for (int i = 0; i < n && !rc; i++) {
            if (perm[i] != b.perm[i])
                rc = tl_fail("%s: example %d has partner %d, expected %d", what, i, b.perm[i],
                             perm[i]);
            if (p.partner == MIXUP_PARTNER_SAME_CLASS && b.label[perm[i]] != b.label[i])
                rc = tl_fail("%s: example %d (class %d) paired with class %d", what, i,
                             b.label[i], b.label[perm[i]]);
            moved += perm[i] != i;
            /* targets in double: the weights, the heavier rule, then smoothing */
            double w[MAXK] = {0};
            int ya = b.label[i], yb = b.label[perm[i]];
            if (p.labels == MIXUP_LABELS_HEAVIER)
                w[lam[i] >= 0.5 ? ya : yb] = 1.0;
            else {
                w[ya] += lam[i];
                w[yb] += 1.0 - lam[i];
            }
            double sum = 0.0;
            for (int cc = 0; cc < k && !rc; cc++) {
                double want = (1.0 - p.smoothing) * w[cc] + p.smoothing / k;
                double got = b.t.data[(size_t)i * k + cc];
                sum += got;
                if (fabs(got - want) > TARGET_SUM_TOL)
                    rc = tl_fail("%s: t~[%d][%d] = %.9g, expected %.9g", what, i, cc, got, want);
            }
            if (!rc && fabs(sum - 1.0) > TARGET_SUM_TOL)
                rc = tl_fail("%s: row %d sums to %.9g", what, i, sum);
        }
        if (!rc && p.alpha > 0.0 && moved == 0)
            rc = tl_fail("%s: no example changed partner", what);
        /* x~ in order: mix (or copy), then the noise, element by element */
        static double want_x[MAXN * MAXD], got_x[MAXN * MAXD];
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                size_t o = (size_t)i * d + j;
                const float xb = b.x.data[(size_t)perm[i] * d + j];
                want_x[o] = lam[i] * b.x.data[o] + (1.0 - lam[i]) * xb;
                got_x[o] = b.xm.data[o];
            }
        if (p.noise > 0.0)
            for (size_t o = 0; o < b.x.size; o++)
                want_x[o] += (double)(float)(p.noise * rng_normal(&copy));
        if (!rc)
            rc = tl_close_d(what, got_x, want_x, b.x.size, MIXUP_RTOL);
        if (!rc && memcmp(&r, &copy, sizeof r))
            rc = tl_fail("%s: mixup consumed a different number of draws", what);
        batch_free(&b);
    }
    return rc;
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
    /* the calls below differ only in the output, lam, perm and parameters */
#define MIX(xm, lam, perm, p) mixup_batch(xm, &b.t, lam, perm, NULL, &b.x, b.label, p, &r, &err)
    MixupParams p = {.alpha = 1.0, .per_example = 0, .n_classes = 10};
    int rc = 0;
    b.label[3] = 12;
    rc = tl_expect_error("label 12", MIX(&b.xm, b.lam, b.perm, &p) != 0,
                         &err, "mixup_batch: example 3 has label 12, expected 0..9");
    b.label[3] = -1;
    rc = rc || tl_expect_error("label -1", MIX(&b.xm, b.lam, b.perm, &p) != 0,
                               &err, "mixup_batch: example 3 has label -1, expected 0..9");
    b.label[3] = 0;
    MixupParams wrong_k = {.alpha = 1.0, .per_example = 0, .n_classes = 7};
    rc = rc || tl_expect_error("classes", MIX(&b.xm, b.lam, b.perm, &wrong_k) != 0,
                               &err, "mixup_batch: targets are (5, 10), expected (5, 7)");
    MixupParams neg = {.alpha = -0.5, .per_example = 0, .n_classes = 10};
    rc = rc || tl_expect_error("alpha", MIX(&b.xm, b.lam, b.perm, &neg) != 0,
                               &err, "mixup_batch: alpha is -0.5, expected a finite value >= 0");
    rc = rc || tl_expect_error("perm", MIX(&b.xm, b.lam, NULL, &p) != 0,
                               &err, "mixup_batch: perm is NULL, expected 5 ints when alpha > 0");
    MixupParams pe = {.alpha = 1.0, .per_example = 1, .n_classes = 10};
    rc = rc || tl_expect_error("lam", MIX(&b.xm, NULL, b.perm, &pe) != 0,
                               &err, "mixup_batch: lam is NULL, expected 5 doubles with "
                                     "per_example");
    rc = rc || tl_expect_error("overlap", MIX(&b.x, b.lam, b.perm, &p) != 0,
                               &err, "mixup_batch: output overlaps the input, expected separate "
                                     "buffers");
    int small[4] = {5, 3, 4, 4};
    Tensor xm2 = tensor_view(b.xm.data, 4, small);
    rc = rc || tl_expect_error("shape", MIX(&xm2, b.lam, b.perm, &p) != 0,
                               &err, "mixup_batch: output is (5, 3, 4, 4), expected the input's "
                                     "shape (5, 3, 4, 5)");
    MixupParams sc = {.alpha = 1.0, .n_classes = 10, .partner = MIXUP_PARTNER_SAME_CLASS};
    rc = rc || tl_expect_error("work", MIX(&b.xm, b.lam, b.perm, &sc) != 0,
                               &err, "mixup_batch: work is NULL, expected 10 ints for same-class "
                                     "partners");
    MixupParams bad = {.alpha = 1.0, .n_classes = 10, .partner = 2};
    rc = rc || tl_expect_error("partner", MIX(&b.xm, b.lam, b.perm, &bad) != 0,
                               &err, "mixup_batch: partner is 2, expected 0 (random) or 1 (same "
                                     "class)");
    bad = (MixupParams){.alpha = 1.0, .n_classes = 10, .labels = 5};
    rc = rc || tl_expect_error("labels", MIX(&b.xm, b.lam, b.perm, &bad) != 0,
                               &err, "mixup_batch: labels is 5, expected 0 (mixed) or 1 (heavier)");
    bad = (MixupParams){.alpha = 1.0, .n_classes = 10, .smoothing = 1.0};
    rc = rc || tl_expect_error("smoothing", MIX(&b.xm, b.lam, b.perm, &bad) != 0,
                               &err, "mixup_batch: smoothing is 1, expected a value in [0, 1)");
    bad = (MixupParams){.alpha = 1.0, .n_classes = 10, .noise = -0.1};
    rc = rc || tl_expect_error("noise", MIX(&b.xm, b.lam, b.perm, &bad) != 0,
                               &err, "mixup_batch: noise is -0.1, expected a finite value >= 0");
#undef MIX
    batch_free(&b);
    return rc;
}

/* mixup_partners: x2 and label2 play x[perm] and label[perm] of check_mix (a batch whose
 * second half is the partner batch and perm[i] = n + i). */
static int test_partners(void)
{
    Rng data;
    rng_seed(&data, tl_seed, 205);
    Batch b, two;
    enum { NP = 7 };
    if (batch_new(&b, NP, 6, &data) || batch_new(&two, 2 * NP, 6, &data))
        return 1;
    Err err;
    int rc = 0;
    Tensor x2 = {0};
    int xs[4] = {NP, 3, 4, 5};
    if (tensor_alloc(&x2, 4, xs, &err))
        rc = tl_fail("%s", err.msg);
    memcpy(x2.data, two.x.data + b.x.size, b.x.size * sizeof(float));
    memcpy(two.x.data, b.x.data, b.x.size * sizeof(float));
    int *label2 = two.label + NP;
    memcpy(two.label, b.label, sizeof(int) * NP);
    for (int per_example = 0; per_example <= 1 && !rc; per_example++) {
        MixupParams p = {.alpha = 0.7, .per_example = per_example, .n_classes = 6};
        Rng r, copy;
        rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
        copy = r;
        if (mixup_partners(&b.xm, &b.t, b.lam, &b.x, b.label, &x2, label2, &p, &r, &err)) {
            rc = tl_fail("%s", err.msg);
            break;
        }
        double lam[2 * NP];
        int perm[2 * NP];
        for (int i = 0; i < NP; i++) {
            lam[i] = per_example || i == 0 ? rng_beta(&copy, p.alpha, p.alpha) : lam[0];
            perm[i] = NP + i;
        }
        if (memcmp(&r, &copy, sizeof r) || memcmp(lam, b.lam, NP * sizeof lam[0]))
            rc = tl_fail("per_example %d: draws differ from lambda alone", per_example);
        /* check_mix on the doubled batch: rows 0..NP-1 of two.xm / two.t */
        memcpy(two.xm.data, b.xm.data, b.xm.size * sizeof(float));
        memcpy(two.t.data, b.t.data, b.t.size * sizeof(float));
        two.n = NP;
        two.x.size = two.xm.size = b.x.size;
        two.t.size = b.t.size;
        if (!rc)
            rc = check_mix(per_example ? "partners, per example" : "partners", &two, lam, perm);
        two.n = 2 * NP;
        two.x.size = two.xm.size = 2 * b.x.size;
        two.t.size = 2 * b.t.size;
    }
    MixupParams erm = {.alpha = 0.0, .n_classes = 6};
    Rng r, copy;
    rng_seed(&r, tl_seed, 3);
    copy = r;
    if (!rc && mixup_partners(&b.xm, &b.t, b.lam, &b.x, b.label, &x2, label2, &erm, &r, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && (memcmp(b.xm.data, b.x.data, b.x.size * sizeof(float)) ||
                memcmp(&r, &copy, sizeof r)))
        rc = tl_fail("alpha 0 with partners is not ERM (x~ = x, no draws)");
    for (int i = 0; !rc && i < NP; i++)
        if (b.t.data[i * 6 + b.label[i]] != 1.0f)
            rc = tl_fail("alpha 0: row %d is not one-hot on its own label", i);
    MixupParams lat = {.alpha = 1.0, .n_classes = 6, .latent = 1};
    if (!rc)
        rc = tl_expect_error("latent", mixup_partners(&b.xm, &b.t, b.lam, &b.x, b.label, &x2,
                                                      label2, &lat, &r, &err),
                             &err, "latent is set");
    MixupParams ok = {.alpha = 1.0, .n_classes = 6};
    if (!rc)
        rc = tl_expect_error("partner shape", mixup_partners(&b.xm, &b.t, b.lam, &b.x, b.label,
                                                             &two.x, label2, &ok, &r, &err),
                             &err, "the partner batch is (14, 3, 4, 5)");
    label2[2] = 6;
    if (!rc)
        rc = tl_expect_error("partner label", mixup_partners(&b.xm, &b.t, b.lam, &b.x, b.label,
                                                             &x2, label2, &ok, &r, &err),
                             &err, "partner 2 has label 6, expected 0..5");
    tensor_free(&x2);
    batch_free(&b);
    batch_free(&two);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"reconstruct", test_reconstruct},
        {"hand_example", test_hand_example},
        {"targets", test_targets},
        {"erm", test_erm},
        {"variants", test_variants},
        {"partners", test_partners},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
