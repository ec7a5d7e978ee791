/*
 * test_data.c: the CIFAR loader (harness/data/data_cifar.c) on synthetic sets: augmentation, epoch
 * shuffles, subsets, label corruption and the cost of a batch. Reading files and the PNG
 * converter are tested in test_data_files.c.
 *
 *   - crops and flips against a PIL/torch fixture (tests/fixtures/gen_data.py) and against the
 *     explicitly padded image, for every offset and both flips;
 *   - offsets, flips and epoch orders uniform (chi-square), reproducible from the seed, and a
 *     loader resumed at an epoch boundary identical to an uninterrupted one;
 *   - evaluation batches plain and in order, partial and dropped last batches, noisy versus
 *     clean labels, and the errors of bad options;
 *   - subsets (first N, class-balanced) and corruption (changed fraction ~ 0.9 p, seeded);
 *   - one training batch of 128 within 5% of a training step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/data_cifar.h"
#include "testlib.h"


/* Chi-square critical values at significance 0.001 (tables, e.g. NIST/SEMATECH e-Handbook
 * 1.3.6.7.4): a correct generator fails 1 run in 1000 per statistic; the default seed passes. */
#define CHI2_CRIT_DF8 26.124
#define CHI2_CRIT_DF1 10.828
#define CHI2_CRIT_DF80 124.839
#define CHI2_CRIT_DF36 67.985
/* Corruption: allowed deviation of the changed fraction from 0.9 p, in binomial standard
 * deviations (5 sigma: a false alarm about once in 3.5 million runs). */
#define CORRUPT_SIGMAS 5.0
/* Assembly vs the PIL/torch fixture: the same float32 operations (byte / 255, - mean, / std),
 * so the results agree to the last bit. */
#define DATA_PIXEL_RTOL 0.0
/* Budget for one training batch of 128: 5% of a PreAct ResNet-18 (width 16) training step of
 * about 190 ms on this machine (issue 3). */
#define DATA_BATCH_BUDGET_MS 9.5

/* A small synthetic set with random pixels and labels cycling through the classes. */
static int make_set(CifarSet *s, CifarKind kind, int n, uint64_t seed)
{
    Err err;
    if (data_cifar_alloc(s, kind, n, &err))
        return tl_fail("%s", err.msg);
    Rng r;
    rng_seed(&r, seed, 99);
    for (size_t i = 0; i < (size_t)n * CIFAR_PIXELS; i++)
        s->pixels[i] = (uint8_t)rng_below(&r, 256);
    for (int i = 0; i < n; i++) {
        s->label[i] = s->noisy[i] = (uint8_t)(i % s->num_classes);
        if (s->coarse)
            s->coarse[i] = (uint8_t)(i % CIFAR100_COARSE_CLASSES);
    }
    return 0;
}

static double chi2_uniform(const long *count, int bins)
{
    long total = 0;
    for (int i = 0; i < bins; i++)
        total += count[i];
    double e = (double)total / bins, chi2 = 0.0;
    for (int i = 0; i < bins; i++)
        chi2 += ((double)count[i] - e) * ((double)count[i] - e) / e;
    return chi2;
}


/* ---- augmentation --------------------------------------------------------------------------- */

static int test_crop_fixture(void)
{
    Fixture f = {0};
    Err err;
    if (fixture_load(&f, "data", &err))
        return tl_fail("%s", err.msg);
    const Tensor *img = fixture_get(&f, "images"), *aug = fixture_get(&f, "aug");
    const Tensor *want = fixture_get(&f, "out"), *plain = fixture_get(&f, "plain");
    int rc = 0;
    if (!img || !aug || !want || !plain) {
        fixture_free(&f);
        return tl_fail("data.h5 lacks an entry");
    }
    int n_img = img->shape[0], k = aug->shape[0];
    CifarSet s = {0};
    Tensor x = {0};
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    float lut[3 * 256];
    data_cifar_norm_lut(lut, o.mean, o.std);
    int idx[16];
    CifarAug a[16];
    if (k > 16 || data_cifar_alloc(&s, CIFAR_10, n_img, &err) ||
        tensor_reserve(&x, (size_t)k * CIFAR_PIXELS, &err))
        rc = tl_fail("setup failed");
    for (size_t i = 0; !rc && i < img->size; i++)
        s.pixels[i] = (uint8_t)img->data[i];
    for (int i = 0; !rc && i < k; i++) {
        idx[i] = (int)aug->data[4 * i];
        a[i] = (CifarAug){(int)aug->data[4 * i + 1], (int)aug->data[4 * i + 2],
                          (int)aug->data[4 * i + 3]};
    }
    if (!rc && data_cifar_assemble(&x, &s, idx, k, a, CIFAR_PAD_DEFAULT, lut, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && (x.ndim != 4 || x.shape[0] != k || x.shape[1] != 3 || x.shape[3] != 32))
        rc = tl_fail("x has the wrong shape");
    if (!rc && tl_close("augmented", x.data, want->data, want->size, DATA_PIXEL_RTOL))
        rc = tl_fail("augmented batch differs from the PIL/torch fixture");
    int pidx[2] = {0, 1};
    if (!rc && data_cifar_assemble(&x, &s, pidx, plain->shape[0], NULL, 0, lut, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && tl_close("plain", x.data, plain->data, plain->size, DATA_PIXEL_RTOL))
        rc = tl_fail("evaluation batch differs from the fixture");
    tensor_free(&x);
    data_cifar_free(&s);
    fixture_free(&f);
    return rc;
}

/* The crop of the explicitly padded image: builds the 40x40 padded image in bytes, cuts the
 * window, mirrors it, and compares with assembly, over every offset pair and both flips. */
static int test_crop_padded(void)
{
    enum { P = CIFAR_PAD_DEFAULT, S = CIFAR_SIDE + 2 * P };
    CifarSet s;
    Tensor x = {0};
    Err err;
    if (make_set(&s, CIFAR_10, 1, tl_seed))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    float lut[3 * 256];
    data_cifar_norm_lut(lut, o.mean, o.std);
    int rc = tensor_reserve(&x, CIFAR_PIXELS, &err) ? tl_fail("%s", err.msg) : 0;
    static uint8_t padded[3][S][S];
    memset(padded, 0, sizeof padded);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int xx = 0; xx < 32; xx++)
                padded[c][y + P][xx + P] = s.pixels[(c * 32 + y) * 32 + xx];
    int idx = 0;
    for (int top = 0; top <= 2 * P && !rc; top++)
        for (int left = 0; left <= 2 * P && !rc; left++)
            for (int flip = 0; flip < 2 && !rc; flip++) {
                CifarAug a = {top, left, flip};
                if (data_cifar_assemble(&x, &s, &idx, 1, &a, P, lut, &err)) {
                    rc = tl_fail("%s", err.msg);
                    break;
                }
                for (int c = 0; c < 3 && !rc; c++)
                    for (int y = 0; y < 32 && !rc; y++)
                        for (int xx = 0; xx < 32 && !rc; xx++) {
                            int sx = flip ? 31 - xx : xx;
                            uint8_t v = padded[c][top + y][left + sx];
                            float want = ((float)v / 255.0f - o.mean[c]) / o.std[c];
                            if (x.data[(c * 32 + y) * 32 + xx] != want)
                                rc = tl_fail("offset (%d, %d) flip %d: channel %d (%d, %d) is "
                                             "%g, expected %g", top, left, flip, c, y, xx,
                                             (double)x.data[(c * 32 + y) * 32 + xx],
                                             (double)want);
                        }
            }
    tensor_free(&x);
    data_cifar_free(&s);
    return rc;
}

/* Runs `epochs` epochs of a training loader; counts crop offsets and flips. */
static int test_aug_uniform(void)
{
    CifarSet s;
    Err err;
    if (make_set(&s, CIFAR_10, 1000, tl_seed))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    o.batch = 100;
    o.seed = tl_seed;
    CifarLoader ld;
    Tensor x = {0};
    int label[100], n, rc = 0;
    long top[9] = {0}, left[9] = {0}, flip[2] = {0}, pair[81] = {0};
    if (data_cifar_loader_init(&ld, &s, &o, &err) ||
        tensor_reserve(&x, (size_t)o.batch * CIFAR_PIXELS, &err))
        rc = tl_fail("%s", err.msg);
    for (int e = 0; e < 20 && !rc; e++) {
        if (data_cifar_loader_epoch(&ld, e, &err))
            rc = tl_fail("%s", err.msg);
        while (!rc) {
            if (data_cifar_loader_next(&ld, &x, label, NULL, &n, &err)) {
                rc = tl_fail("%s", err.msg);
                break;
            }
            if (!n)
                break;
            for (int i = 0; i < n; i++) {
                top[ld.aug[i].top]++;
                left[ld.aug[i].left]++;
                flip[ld.aug[i].flip]++;
                pair[ld.aug[i].top * 9 + ld.aug[i].left]++;
            }
        }
    }
    double ct = chi2_uniform(top, 9), cl = chi2_uniform(left, 9), cf = chi2_uniform(flip, 2);
    printf("  20000 draws: chi2 top %.2f, left %.2f (df 8, crit %.2f), flip %.2f (df 1, crit "
           "%.2f)\n", ct, cl, CHI2_CRIT_DF8, cf, CHI2_CRIT_DF1);
    if (!rc && (ct > CHI2_CRIT_DF8 || cl > CHI2_CRIT_DF8 || cf > CHI2_CRIT_DF1))
        rc = tl_fail("offsets or flips not uniform");
    /* Joint (top, left) pairs too: independent offsets fill 81 cells evenly. */
    double cp = chi2_uniform(pair, 81);
    printf("  chi2 of (top, left) pairs %.2f (df 80, crit %.2f)\n", cp, CHI2_CRIT_DF80);
    if (!rc && cp > CHI2_CRIT_DF80)
        rc = tl_fail("offset pairs not uniform");
    data_cifar_loader_free(&ld);
    tensor_free(&x);
    data_cifar_free(&s);
    return rc;
}

/* Epoch shuffles: over 7000 epochs of 7 examples, each example lands in each position equally
 * often. Each epoch adds a permutation matrix P, whose covariance is C (x) C / (N - 1) with
 * C = I - J / N (a projection of rank (N - 1)^2), so Pearson's statistic on the N x N counts is
 * N / (N - 1) times a chi-square with (N - 1)^2 = 36 degrees of freedom. */
static int test_shuffle_uniform(void)
{
    enum { N = 7, EPOCHS = 7000 };
    CifarSet s;
    Err err;
    if (make_set(&s, CIFAR_10, N, tl_seed))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    o.seed = tl_seed;
    CifarLoader ld;
    long count[N * N] = {0};
    int rc = data_cifar_loader_init(&ld, &s, &o, &err) ? tl_fail("%s", err.msg) : 0;
    for (int e = 0; e < EPOCHS && !rc; e++) {
        if (data_cifar_loader_epoch(&ld, e, &err))
            rc = tl_fail("%s", err.msg);
        for (int pos = 0; pos < N && !rc; pos++)
            count[ld.order[pos] * N + pos]++;
    }
    double chi2 = chi2_uniform(count, N * N) * (N - 1) / N;
    printf("  positions of %d examples over %d epochs: scaled chi2 %.2f (df 36, crit %.2f)\n", N,
           EPOCHS, chi2, CHI2_CRIT_DF36);
    if (!rc && chi2 > CHI2_CRIT_DF36)
        rc = tl_fail("epoch orders are not uniform permutations");
    data_cifar_loader_free(&ld);
    data_cifar_free(&s);
    return rc;
}

/* All batches of one epoch of a loader, concatenated: x and labels (room for cap examples). */
static int run_epoch(CifarLoader *ld, int epoch, float *xs, int *ys, int cap, int *total)
{
    Err err;
    Tensor x = {0};
    int n;
    *total = 0;
    if (tensor_reserve(&x, (size_t)ld->o.batch * CIFAR_PIXELS, &err) ||
        data_cifar_loader_epoch(ld, epoch, &err)) {
        tensor_free(&x);
        return tl_fail("%s", err.msg);
    }
    for (;;) {
        if (data_cifar_loader_next(ld, &x, ys + *total, NULL, &n, &err)) {
            tensor_free(&x);
            return tl_fail("%s", err.msg);
        }
        if (!n)
            break;
        if (*total + n > cap) {
            tensor_free(&x);
            return tl_fail("an epoch gave more than %d examples", cap);
        }
        memcpy(xs + (size_t)*total * CIFAR_PIXELS, x.data, x.size * sizeof(float));
        *total += n;
    }
    tensor_free(&x);
    return 0;
}

static int test_aug_reproducible(void)
{
    enum { N = 203, B = 32 };
    CifarSet s;
    Err err;
    if (make_set(&s, CIFAR_10, N, tl_seed))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    o.batch = B;
    o.seed = tl_seed;
    CifarLoader a, b, c;
    size_t fl = (size_t)N * CIFAR_PIXELS;
    float *xa = malloc(fl * sizeof(float)), *xb = malloc(fl * sizeof(float));
    int ya[N + B], yb[N + B], na, nb, rc = 0; /* + B: room for one batch too many */
    CifarLoaderOptions oc = o;
    oc.seed = tl_seed + 1;
    if (!xa || !xb || data_cifar_loader_init(&a, &s, &o, &err) ||
        data_cifar_loader_init(&b, &s, &o, &err) || data_cifar_loader_init(&c, &s, &oc, &err))
        rc = tl_fail("setup failed");
    /* Uninterrupted: epochs 0, 1, 2. Resumed: a fresh loader starting at epoch 2. */
    for (int e = 0; e < 3 && !rc; e++)
        rc = run_epoch(&a, e, xa, ya, N, &na);
    if (!rc)
        rc = run_epoch(&b, 2, xb, yb, N, &nb);
    if (!rc && (na != N || nb != N))
        rc = tl_fail("epoch has %d and %d examples, expected %d", na, nb, N);
    if (!rc && (memcmp(xa, xb, fl * sizeof(float)) || memcmp(ya, yb, N * sizeof(int))))
        rc = tl_fail("a loader resumed at epoch 2 differs from an uninterrupted one");
    /* Different epoch and different seed: different batches. */
    if (!rc)
        rc = run_epoch(&b, 1, xb, yb, N, &nb);
    if (!rc && !memcmp(xa, xb, fl * sizeof(float)))
        rc = tl_fail("epochs 1 and 2 gave the same batches");
    if (!rc)
        rc = run_epoch(&c, 2, xb, yb, N, &nb);
    if (!rc && !memcmp(xa, xb, fl * sizeof(float)))
        rc = tl_fail("seeds %llu and %llu gave the same batches", (unsigned long long)tl_seed,
                     (unsigned long long)oc.seed);
    /* The epoch's order is a permutation; labels follow their images. */
    if (!rc) {
        int seen[N] = {0};
        for (int i = 0; i < N; i++)
            seen[a.order[i]]++;
        for (int i = 0; i < N && !rc; i++)
            if (seen[i] != 1)
                rc = tl_fail("example %d appears %d times in an epoch", i, seen[i]);
        for (int i = 0; i < N && !rc; i++)
            if (ya[i] != s.label[a.order[i]])
                rc = tl_fail("label %d is %d, expected %d", i, ya[i], s.label[a.order[i]]);
    }
    data_cifar_loader_free(&a);
    data_cifar_loader_free(&b);
    data_cifar_loader_free(&c);
    free(xa);
    free(xb);
    data_cifar_free(&s);
    return rc;
}

static int test_eval_loader(void)
{
    enum { N = 70, B = 32 };
    CifarSet s;
    Err err;
    if (make_set(&s, CIFAR_10, N, tl_seed))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 0);
    o.batch = B;
    CifarLoader ld;
    Tensor x = {0};
    int y[B], yc[B], n, rc = 0, seen = 0;
    if (data_cifar_loader_init(&ld, &s, &o, &err) ||
        tensor_reserve(&x, (size_t)B * CIFAR_PIXELS, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && data_cifar_loader_batches(&ld) != 3)
        rc = tl_fail("%d batches, expected 3", data_cifar_loader_batches(&ld));
    if (!rc && (!data_cifar_loader_next(&ld, &x, y, yc, &n, &err) ||
                !strstr(err.msg, "no epoch started")))
        rc = tl_fail("next before an epoch: %s", err.msg);
    if (!rc && data_cifar_loader_epoch(&ld, 0, &err))
        rc = tl_fail("%s", err.msg);
    const float *lut = ld.lut;
    while (!rc) {
        if (data_cifar_loader_next(&ld, &x, y, yc, &n, &err)) {
            rc = tl_fail("%s", err.msg);
            break;
        }
        if (!n)
            break;
        if (n != (seen + B <= N ? B : N - seen) || x.shape[0] != n)
            rc = tl_fail("batch of %d at %d", n, seen);
        for (int i = 0; i < n && !rc; i++) {
            const uint8_t *p = s.pixels + (size_t)(seen + i) * CIFAR_PIXELS;
            if (y[i] != s.label[seen + i] || yc[i] != y[i])
                rc = tl_fail("label of example %d", seen + i);
            for (int j = 0; j < CIFAR_PIXELS && !rc; j++)
                if (x.data[(size_t)i * CIFAR_PIXELS + (size_t)j] != lut[(j / 1024) * 256 + p[j]])
                    rc = tl_fail("example %d pixel %d not the plain image", seen + i, j);
        }
        seen += n;
    }
    if (!rc && seen != N)
        rc = tl_fail("epoch gave %d examples, expected %d", seen, N);
    /* After corruption, y carries the noisy labels and the clean ones come separately. */
    int changed;
    if (!rc && (data_cifar_corrupt(&s, 1.0, tl_seed, &changed, &err) || changed == 0 ||
                data_cifar_loader_epoch(&ld, 0, &err) ||
                data_cifar_loader_next(&ld, &x, y, yc, &n, &err)))
        rc = tl_fail("corrupted epoch: %s", err.msg);
    for (int i = 0; i < n && !rc; i++)
        if (y[i] != s.noisy[i] || yc[i] != s.label[i])
            rc = tl_fail("example %d: labels %d/%d, expected noisy %d, clean %d", i, y[i], yc[i],
                         s.noisy[i], s.label[i]);
    /* drop_last: two full batches, no partial one. */
    data_cifar_loader_free(&ld);
    o.drop_last = 1;
    seen = 0;
    if (!rc && (data_cifar_loader_init(&ld, &s, &o, &err) ||
                data_cifar_loader_epoch(&ld, 0, &err)))
        rc = tl_fail("%s", err.msg);
    while (!rc && !data_cifar_loader_next(&ld, &x, y, NULL, &n, &err) && n)
        seen += n;
    if (!rc && (seen != 2 * B || data_cifar_loader_batches(&ld) != 2))
        rc = tl_fail("drop_last gave %d examples", seen);
    /* A too-small output tensor is an error that does not advance the loader. */
    Tensor small = {0};
    if (!rc && tensor_reserve(&small, CIFAR_PIXELS, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && (data_cifar_loader_epoch(&ld, 0, &err) ||
                !data_cifar_loader_next(&ld, &small, y, NULL, &n, &err) ||
                !strstr(err.msg, "x holds 3072 floats, a batch of 32 needs 98304") || ld.pos))
        rc = tl_fail("small x: %s", err.msg);
    tensor_free(&small);
    data_cifar_loader_free(&ld);
    /* Option errors. */
    CifarLoaderOptions bad = o;
    bad.batch = 0;
    if (!rc && (!data_cifar_loader_init(&ld, &s, &bad, &err) ||
                !strstr(err.msg, "batch is 0, expected >= 1")))
        rc = tl_fail("batch 0: %s", err.msg);
    bad = o;
    bad.std[1] = 0.0f;
    if (!rc && (!data_cifar_loader_init(&ld, &s, &bad, &err) ||
                !strstr(err.msg, "std[1] is 0, expected > 0")))
        rc = tl_fail("std 0: %s", err.msg);
    bad = o;
    bad.batch = N + 1;
    if (!rc && (!data_cifar_loader_init(&ld, &s, &bad, &err) ||
                !strstr(err.msg, "drop_last leaves no batch")))
        rc = tl_fail("drop_last: %s", err.msg);
    tensor_free(&x);
    data_cifar_free(&s);
    return rc;
}

/* ---- subsets and corruption ---------------------------------------------------------------- */

static int test_subsets(void)
{
    CifarSet s, sub = {0};
    Err err;
    enum { N = 1000, K = 95 };
    if (make_set(&s, CIFAR_100, N, tl_seed))
        return 1;
    int idx[K], idx2[K], rc = 0, counts[100];
    /* first N */
    for (int i = 0; i < K; i++)
        idx[i] = i;
    if (data_cifar_subset(&sub, &s, idx, K, &err))
        return tl_fail("%s", err.msg);
    if (sub.n != K || memcmp(sub.pixels, s.pixels, (size_t)K * CIFAR_PIXELS) ||
        sub.coarse[K - 1] != s.coarse[K - 1] || sub.label[K - 1] != s.label[K - 1])
        rc = tl_fail("first-%d subset differs from the first records", K);
    data_cifar_free(&sub);
    /* Class-balanced, on a CIFAR-10 set with random labels (so the classes are uneven). */
    CifarSet t;
    Rng r;
    rng_seed(&r, tl_seed, 7);
    if (!rc && make_set(&t, CIFAR_10, N, tl_seed))
        rc = 1;
    for (int i = 0; i < N && !rc; i++)
        t.label[i] = t.noisy[i] = (uint8_t)rng_below(&r, 10);
    if (!rc && data_cifar_balanced_indices(idx, &t, K, tl_seed, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && data_cifar_balanced_indices(idx2, &t, K, tl_seed, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && memcmp(idx, idx2, sizeof idx))
        rc = tl_fail("same seed, different subsets");
    if (!rc && data_cifar_subset(&sub, &t, idx, K, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc) {
        data_cifar_class_counts(&sub, counts);
        for (int c = 0; c < 10 && !rc; c++)
            if (counts[c] != K / 10 + (c < K % 10))
                rc = tl_fail("class %d has %d, expected %d", c, counts[c], K / 10 + (c < K % 10));
        for (int i = 1; i < K && !rc; i++)
            if (idx[i] <= idx[i - 1])
                rc = tl_fail("indices not ascending at %d", i);
        data_cifar_free(&sub);
    }
    if (!rc && data_cifar_balanced_indices(idx2, &t, K, tl_seed + 1, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && !memcmp(idx, idx2, sizeof idx))
        rc = tl_fail("different seeds, same subset");
    /* Errors: too many of one class, bad index. */
    for (int i = 0; i < N && !rc; i++)
        t.label[i] = (uint8_t)(i < 5 ? 3 : 0);
    if (!rc && (!data_cifar_balanced_indices(idx, &t, 20, 1, &err) ||
                !strstr(err.msg, "class 1 has 0 examples, a balanced subset of 20 needs 2")))
        rc = tl_fail("short class: %s", err.msg);
    idx[3] = N;
    if (!rc && (!data_cifar_subset(&sub, &t, idx, 5, &err) ||
                !strstr(err.msg, "idx[3] is 1000, expected 0..999")))
        rc = tl_fail("bad index: %s", err.msg);
    data_cifar_free(&t);
    data_cifar_free(&s);
    return rc;
}

static int test_corrupt(void)
{
    enum { N = 50000 };
    CifarSet s;
    Err err;
    if (make_set(&s, CIFAR_10, N, tl_seed))
        return 1;
    Rng r;
    rng_seed(&r, tl_seed, 8);
    for (int i = 0; i < N; i++)
        s.label[i] = s.noisy[i] = (uint8_t)rng_below(&r, 10);
    uint8_t *clean = malloc(N), *first = malloc(N);
    int rc = !clean || !first ? tl_fail("out of memory") : 0;
    if (!rc)
        memcpy(clean, s.label, N);
    static const double ps[] = {0.2, 0.4, 0.6, 0.8, 1.0};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0] && !rc; k++) {
        int changed, again;
        if (data_cifar_corrupt(&s, ps[k], tl_seed, &changed, &err))
            rc = tl_fail("%s", err.msg);
        double q = 0.9 * ps[k], got = (double)changed / N, sd = sqrt(q * (1 - q) / N);
        printf("  p = %.1f: %.4f of the labels changed (expected %.2f +- %.4f)\n", ps[k], got, q,
               sd);
        if (!rc && fabs(got - q) > CORRUPT_SIGMAS * sd)
            rc = tl_fail("p = %.1f: changed fraction %.4f, expected %.4f", ps[k], got, q);
        if (!rc && memcmp(s.label, clean, N))
            rc = tl_fail("corruption touched the clean labels");
        memcpy(first, s.noisy, N);
        if (!rc && data_cifar_corrupt(&s, ps[k], tl_seed, &again, &err))
            rc = tl_fail("%s", err.msg);
        if (!rc && (again != changed || memcmp(first, s.noisy, N)))
            rc = tl_fail("p = %.1f: same seed, different noisy labels", ps[k]);
        if (!rc && data_cifar_corrupt(&s, ps[k], tl_seed + 1, &again, &err))
            rc = tl_fail("%s", err.msg);
        if (!rc && !memcmp(first, s.noisy, N))
            rc = tl_fail("p = %.1f: different seeds, same noisy labels", ps[k]);
        for (int i = 0; i < N && !rc; i++)
            if (s.noisy[i] >= 10)
                rc = tl_fail("noisy label %d out of range", s.noisy[i]);
    }
    int changed = -1;
    if (!rc && (data_cifar_corrupt(&s, 0.0, tl_seed, &changed, &err) || changed ||
                memcmp(s.noisy, clean, N)))
        rc = tl_fail("p = 0 changed %d labels", changed);
    if (!rc && (!data_cifar_corrupt(&s, 1.5, 1, NULL, &err) ||
                !strstr(err.msg, "p is 1.5, expected 0 <= p <= 1")))
        rc = tl_fail("p = 1.5: %s", err.msg);
    if (!rc && (!data_cifar_corrupt(&s, NAN, 1, NULL, &err) || !strstr(err.msg, "p is nan")))
        rc = tl_fail("p = nan: %s", err.msg);
    free(clean);
    free(first);
    data_cifar_free(&s);
    return rc;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* One training batch of 128 (shuffled, cropped, flipped, normalised), single-threaded. */
static int test_batch_cost(void)
{
    enum { N = 5000, B = 128, REPS = 200 };
    CifarSet s;
    Err err;
    if (make_set(&s, CIFAR_10, N, tl_seed))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    CifarLoader ld;
    Tensor x = {0};
    int y[B], n, rc = 0;
    if (data_cifar_loader_init(&ld, &s, &o, &err) ||
        tensor_reserve(&x, (size_t)B * CIFAR_PIXELS, &err) ||
        data_cifar_loader_epoch(&ld, 0, &err))
        rc = tl_fail("%s", err.msg);
    double best = 1e30, sum = 0.0;
    for (int i = 0; i < REPS && !rc; i++) {
        if (ld.pos + B > N && data_cifar_loader_epoch(&ld, ld.epoch + 1, &err))
            rc = tl_fail("%s", err.msg);
        double t0 = now_ms();
        if (!rc && data_cifar_loader_next(&ld, &x, y, NULL, &n, &err))
            rc = tl_fail("%s", err.msg);
        double t = now_ms() - t0;
        best = t < best ? t : best;
        sum += t;
    }
    printf("  one batch of %d: best %.3f ms, mean %.3f ms over %d (budget %.1f ms)\n", B, best,
           sum / REPS, REPS, DATA_BATCH_BUDGET_MS);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__OPTIMIZE_SIZE__) && defined(__OPTIMIZE__)
    if (!rc && sum / REPS > DATA_BATCH_BUDGET_MS)
        rc = tl_fail("a batch takes %.3f ms on average, over the budget of %.1f ms", sum / REPS,
                     DATA_BATCH_BUDGET_MS);
#endif
    data_cifar_loader_free(&ld);
    tensor_free(&x);
    data_cifar_free(&s);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"crop_fixture", test_crop_fixture},
        {"crop_padded", test_crop_padded},
        {"aug_uniform", test_aug_uniform},
        {"shuffle_uniform", test_shuffle_uniform},
        {"aug_reproducible", test_aug_reproducible},
        {"eval_loader", test_eval_loader},
        {"subsets", test_subsets},
        {"corrupt", test_corrupt},
        {"batch_cost", test_batch_cost},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
