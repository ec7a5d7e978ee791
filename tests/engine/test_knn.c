/*
 * test_knn.c: the nearest-neighbour table (harness/data/knn.c) and the loader's partners
 * (data_cifar_loader_partners):
 *   - the table equals a brute-force reference (integer squared distances, sorted by distance
 *     then index) on a set with clusters and exact duplicates, for all classes and for the same
 *     class only, on 1 and 3 threads; a duplicate is its twin's nearest neighbour;
 *   - partners replayed from a copy of the rng: each is one of its anchor's k neighbours, its
 *     pixels are the assembled image with the replayed augmentation, its label the set's; the
 *     loader's next batch is the same with or without the partners call;
 *   - k too large for the set or for a class, k < 1, a call before any batch and a table for
 *     another set are refused with their messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/knn.h"
#include "testlib.h"

enum { NSET = 90, NCLASS_IMG = 9 };

/* 90 images: 6 cluster centres, each image a centre plus small noise, labels i % 10; images
 * 10 and 11 are copies of image 3 (exact ties). */
static int make_set(CifarSet *s)
{
    Err err;
    memset(s, 0, sizeof *s);
    if (data_cifar_alloc(s, CIFAR_10, NSET, &err))
        return tl_fail("%s", err.msg);
    Rng r;
    rng_seed(&r, tl_seed, 41);
    uint8_t centre[6][CIFAR_PIXELS];
    for (int c = 0; c < 6; c++)
        for (int e = 0; e < CIFAR_PIXELS; e++)
            centre[c][e] = (uint8_t)(40 + rng_below(&r, 176));
    for (int i = 0; i < NSET; i++) {
        int c = (int)rng_below(&r, 6);
        uint8_t *p = s->pixels + (size_t)i * CIFAR_PIXELS;
        for (int e = 0; e < CIFAR_PIXELS; e++)
            p[e] = (uint8_t)(centre[c][e] + (int)rng_below(&r, 41) - 20);
        s->label[i] = s->noisy[i] = (uint8_t)(i % 10);
    }
    memcpy(s->pixels + 10 * CIFAR_PIXELS, s->pixels + 3 * CIFAR_PIXELS, CIFAR_PIXELS);
    memcpy(s->pixels + 11 * CIFAR_PIXELS, s->pixels + 3 * CIFAR_PIXELS, CIFAR_PIXELS);
    return 0;
}

typedef struct Ref {
    long long d;
    int j;
} Ref;

static int ref_cmp(const void *a, const void *b)
{
    const Ref *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

static int check_table(const CifarSet *s, int k, int same, int nthreads)
{
    Err err;
    int *nbr = malloc((size_t)s->n * k * sizeof *nbr);
    Ref *cand = malloc((size_t)s->n * sizeof *cand);
    int rc = 0;
    if (!nbr || !cand)
        rc = tl_fail("out of memory");
    if (!rc && data_knn(nbr, s, k, same, nthreads, &err))
        rc = tl_fail("data_knn: %s", err.msg);
    for (int i = 0; !rc && i < s->n; i++) {
        int m = 0;
        for (int j = 0; j < s->n; j++) {
            if (j == i || (same && s->noisy[j] != s->noisy[i]))
                continue;
            long long d = 0;
            for (int e = 0; e < CIFAR_PIXELS; e++) {
                int v = s->pixels[(size_t)i * CIFAR_PIXELS + e] -
                        s->pixels[(size_t)j * CIFAR_PIXELS + e];
                d += (long long)v * v;
            }
            cand[m++] = (Ref){d, j};
        }
        qsort(cand, (size_t)m, sizeof *cand, ref_cmp);
        for (int t = 0; t < k; t++)
            if (nbr[(size_t)i * k + t] != cand[t].j) {
                rc = tl_fail("k %d same_class %d threads %d: neighbour %d of image %d is %d, "
                             "expected %d (distance %lld)", k, same, nthreads, t, i,
                             nbr[(size_t)i * k + t], cand[t].j, cand[t].d);
                break;
            }
    }
    /* the duplicates of image 3 (10 and 11) are at distance 0: 3's nearest is 10, then 11 */
    if (!rc && !same && (nbr[3 * k] != 10 || (k > 1 && nbr[3 * k + 1] != 11)))
        rc = tl_fail("image 3's nearest are %d, %d, expected its copies 10, 11", nbr[3 * k],
                     k > 1 ? nbr[3 * k + 1] : -1);
    free(nbr);
    free(cand);
    return rc;
}

static int test_brute_force(void)
{
    CifarSet s;
    if (make_set(&s))
        return 1;
    int rc = check_table(&s, 1, 0, 1) || check_table(&s, 7, 0, 1) ||
             check_table(&s, 7, 0, 3) || check_table(&s, 89, 0, 2) ||
             check_table(&s, 5, 1, 2) || check_table(&s, NCLASS_IMG - 1, 1, 1);
    data_cifar_free(&s);
    return rc;
}

static int test_partners(void)
{
    enum { K = 5, B = 16 };
    CifarSet s;
    CifarLoader a = {0}, b = {0};
    Tensor x = {0}, x2 = {0}, want = {0}, xb = {0};
    Err err;
    int nbr[NSET * K], label[B], label2[B], rc = 0;
    if (make_set(&s))
        return 1;
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, 1);
    o.batch = B;
    o.seed = 7;
    int xs[4] = {B, 3, 32, 32};
    if (data_knn(nbr, &s, K, 0, 1, &err) || data_cifar_loader_init(&a, &s, &o, &err) ||
        data_cifar_loader_init(&b, &s, &o, &err) || tensor_alloc(&x, 4, xs, &err) ||
        tensor_alloc(&x2, 4, xs, &err) || tensor_alloc(&want, 4, xs, &err) ||
        tensor_alloc(&xb, 4, xs, &err))
        rc = tl_fail("%s", err.msg);
    Rng r, replay;
    rng_seed(&r, tl_seed, 42);
    replay = r;
    int n = 0;
    if (!rc)
        rc = tl_expect_error("before a batch", data_cifar_loader_partners(&a, &x2, label2, nbr,
                                                                          K, &r, &err),
                             &err, "no batch yet");
    if (!rc && (data_cifar_loader_epoch(&a, 0, &err) || data_cifar_loader_epoch(&b, 0, &err) ||
                data_cifar_loader_next(&a, &x, label, NULL, &n, &err) ||
                data_cifar_loader_partners(&a, &x2, label2, nbr, K, &r, &err)))
        rc = tl_fail("%s", err.msg);
    if (!rc) {
        const int *idx = a.order + a.pos - n;
        int pidx[B];
        CifarAug aug[B];
        for (int i = 0; i < n; i++) {
            uint64_t t = rng_below(&replay, K);
            pidx[i] = nbr[idx[i] * K + (int)t];
            aug[i] = data_cifar_draw_aug(&replay, o.pad, o.flip);
            if (label2[i] != s.noisy[pidx[i]])
                rc = tl_fail("partner %d has label %d, expected %d", i, label2[i],
                             s.noisy[pidx[i]]);
        }
        if (!rc && memcmp(&r, &replay, sizeof r))
            rc = tl_fail("the partners drew a different number of values than replayed");
        if (!rc && data_cifar_assemble(&want, &s, pidx, n, aug, o.pad, a.lut, &err))
            rc = tl_fail("%s", err.msg);
        if (!rc && memcmp(want.data, x2.data, want.size * sizeof(float)))
            rc = tl_fail("the partners' pixels differ from the replayed neighbours");
    }
    /* the loader's own stream is untouched: its second batch equals b's */
    if (!rc && (data_cifar_loader_next(&b, &xb, label, NULL, &n, &err) ||
                data_cifar_loader_next(&a, &x, label, NULL, &n, &err) ||
                data_cifar_loader_next(&b, &xb, label, NULL, &n, &err)))
        rc = tl_fail("%s", err.msg);
    if (!rc && memcmp(x.data, xb.data, x.size * sizeof(float)))
        rc = tl_fail("the partners call changed the loader's next batch");
    int bad[NSET * K];
    memcpy(bad, nbr, sizeof bad);
    bad[a.order[a.pos - n] * K + 0] = NSET + 3;
    for (int t = 1; t < K; t++)
        bad[a.order[a.pos - n] * K + t] = NSET + 3;
    if (!rc)
        rc = tl_expect_error("a table for another set",
                             data_cifar_loader_partners(&a, &x2, label2, bad, K, &r, &err), &err,
                             "a table for another set?");
    data_cifar_loader_free(&a);
    data_cifar_loader_free(&b);
    tensor_free(&x);
    tensor_free(&x2);
    tensor_free(&want);
    tensor_free(&xb);
    data_cifar_free(&s);
    return rc;
}

static int test_errors(void)
{
    CifarSet s;
    Err err;
    static int nbr[NSET * NSET];
    if (make_set(&s))
        return 1;
    int rc = tl_expect_error("k 0", data_knn(nbr, &s, 0, 0, 1, &err), &err,
                             "k is 0, expected >= 1");
    if (!rc)
        rc = tl_expect_error("k = n", data_knn(nbr, &s, NSET, 0, 1, &err), &err,
                             "k is 90 but the set has 90 images (89 candidates each)");
    if (!rc)
        rc = tl_expect_error("k = class size", data_knn(nbr, &s, NCLASS_IMG, 1, 1, &err), &err,
                             "k is 9 but class 0 has 9 images (8 same-class candidates each)");
    data_cifar_free(&s);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"brute_force", test_brute_force},
        {"partners", test_partners},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
