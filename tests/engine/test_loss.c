/*
 * test_loss.c: soft-target softmax cross-entropy and BCE with logits against PyTorch fixtures
 * (tests/fixtures/gen_loss.py: one-hot, mixup-mixed and soft targets, logits up to ~300 and
 * BCE logits up to +-1000), against central finite differences of the loss itself, the
 * classification error count, and the error messages (non-finite loss names the example).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/loss.h"
#include "testlib.h"

/* the losses run in double on float32 inputs; the float64 references are stored as float32,
 * so both sides differ by the float32 rounding of the reference (6e-8 relative) */
#define LOSS_FIXTURE_RTOL 1e-6
/* loss evaluated in double: central differences err by the truncation eps^2 f''' / 6 (~1e-7
 * at eps 1e-3) plus double rounding of the loss over the step */
#define LOSS_FD_RTOL 1e-5
#define LOSS_FD_EPS 1e-3

typedef int (*LossFn)(double *, Tensor *, const Tensor *, const Tensor *, Err *);

/* ---- PyTorch fixtures ----------------------------------------------------------------- */

static int run_fixture(const Fixture *fx, const char *name, LossFn fn)
{
    char key[64], what[80];
    const Tensor *e[4];
    static const char *const part[] = {"z", "t", "loss", "dz"};
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "%s.%s", name, part[i]);
        if (!(e[i] = fixture_get(fx, key)))
            return tl_fail("%s: missing fixture entry %s", name, key);
    }
    Tensor dz = {0};
    Err err;
    double loss, loss_nodz;
    int rc = 1;
    if (tensor_alloc(&dz, e[0]->ndim, e[0]->shape, &err) || fn(&loss, &dz, e[0], e[1], &err) ||
        fn(&loss_nodz, NULL, e[0], e[1], &err)) {
        tl_fail("%s: %s", name, err.msg);
        goto out;
    }
    double want = e[2]->data[0];
    snprintf(what, sizeof what, "%s loss", name);
    if (tl_close_d(what, &loss, &want, 1, LOSS_FIXTURE_RTOL))
        goto out;
    snprintf(what, sizeof what, "%s dz", name);
    if (tl_close(what, dz.data, e[3]->data, e[3]->size, LOSS_FIXTURE_RTOL))
        goto out;
    if (loss_nodz != loss) {
        tl_fail("%s: loss without dz %.17g differs from %.17g", name, loss_nodz, loss);
        goto out;
    }
    rc = 0;
out:
    tensor_free(&dz);
    return rc;
}

static int test_fixtures(void)
{
    Fixture fx;
    Err err;
    if (fixture_load(&fx, "loss", &err))
        return tl_fail("%s", err.msg);
    int rc = run_fixture(&fx, "ce_onehot", loss_softmax_xent) ||
             run_fixture(&fx, "ce_mixup", loss_softmax_xent) ||
             run_fixture(&fx, "ce_soft", loss_softmax_xent) ||
             run_fixture(&fx, "ce_large", loss_softmax_xent) ||
             run_fixture(&fx, "bce_small", loss_bce_logits) ||
             run_fixture(&fx, "bce_large", loss_bce_logits);
    if (!rc) {
        /* (N, K, 1, 1) logits read the same as (N, K) */
        const Tensor *z = fixture_get(&fx, "ce_mixup.z"), *t = fixture_get(&fx, "ce_mixup.t");
        int s4[4] = {z->shape[0], z->shape[1], 1, 1};
        Tensor z4 = tensor_view(z->data, 4, s4);
        double l2, l4;
        if (loss_softmax_xent(&l2, NULL, z, t, &err) || loss_softmax_xent(&l4, NULL, &z4, t, &err))
            rc = tl_fail("%s", err.msg);
        else if (l2 != l4)
            rc = tl_fail("(N, K, 1, 1) logits give %.17g, (N, K) give %.17g", l4, l2);
    }
    fixture_free(&fx);
    return rc;
}

/* ---- finite differences of the loss --------------------------------------------------- */

static int fd_loss(const char *what, LossFn fn, int n, int k, float zlo, float zhi, int normalise)
{
    Tensor z = {0}, t = {0}, dz = {0};
    Err err;
    int shape[2] = {n, k}, rc = 1;
    double *num = NULL, *ana = NULL;
    if (tensor_alloc(&z, 2, shape, &err) || tensor_alloc(&t, 2, shape, &err) ||
        tensor_alloc(&dz, 2, shape, &err))
        goto fail;
    Rng r;
    rng_seed(&r, tl_seed, 11);
    tl_fill_uniform(z.data, z.size, zlo, zhi, &r);
    tl_fill_uniform(t.data, t.size, 0.0f, 1.0f, &r);
    if (normalise) {
        for (int i = 0; i < n; i++) {
            double s = 0.0;
            for (int j = 0; j < k; j++)
                s += t.data[i * k + j];
            for (int j = 0; j < k; j++)
                t.data[i * k + j] = (float)(t.data[i * k + j] / s);
        }
    }
    double loss;
    if (fn(&loss, &dz, &z, &t, &err))
        goto fail;
    num = malloc(z.size * sizeof *num);
    ana = malloc(z.size * sizeof *ana);
    if (!num || !ana) {
        tl_fail("%s: out of memory", what);
        goto out;
    }
    for (size_t i = 0; i < z.size; i++) {
        float save = z.data[i];
        double lp, lm;
        z.data[i] = (float)(save + LOSS_FD_EPS);
        if (fn(&lp, NULL, &z, &t, &err))
            goto fail;
        z.data[i] = (float)(save - LOSS_FD_EPS);
        if (fn(&lm, NULL, &z, &t, &err))
            goto fail;
        double h = (double)(float)(save + LOSS_FD_EPS) - (double)(float)(save - LOSS_FD_EPS);
        z.data[i] = save;
        num[i] = (lp - lm) / h;
        ana[i] = dz.data[i];
    }
    rc = tl_close_d(what, ana, num, z.size, LOSS_FD_RTOL);
    goto out;
fail:
    tl_fail("%s: %s", what, err.msg);
out:
    free(num);
    free(ana);
    tensor_free(&z);
    tensor_free(&t);
    tensor_free(&dz);
    return rc;
}

static int test_fd(void)
{
    /* unnormalised targets exercise the sum_k t term of dz; normalised ones the usual case */
    return fd_loss("xent n=1 k=7", loss_softmax_xent, 1, 7, -3.0f, 3.0f, 1) ||
           fd_loss("xent n=5 k=7", loss_softmax_xent, 5, 7, -3.0f, 3.0f, 1) ||
           fd_loss("xent n=5 k=3 unnormalised", loss_softmax_xent, 5, 3, -3.0f, 3.0f, 0) ||
           fd_loss("xent n=4 k=11 large", loss_softmax_xent, 4, 11, -40.0f, 40.0f, 1) ||
           fd_loss("bce n=1 k=5", loss_bce_logits, 1, 5, -4.0f, 4.0f, 0) ||
           fd_loss("bce n=5 k=3", loss_bce_logits, 5, 3, -4.0f, 4.0f, 0);
}

/* Mixed one-hot targets (the mixup case) give lam CE(y_a) + (1 - lam) CE(y_b) exactly. */
static int test_mixup_decomposes(void)
{
    enum { N = 3, K = 4 };
    float zv[N * K] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, 0.0f, 0.0f, 0.0f, -5.0f, 2.0f, 7.0f, 1.0f};
    int ya[N] = {3, 0, 2}, yb[N] = {1, 0, 0};
    float ta[N * K] = {0}, tb[N * K] = {0}, tm[N * K];
    double lam = 0.3;
    for (int i = 0; i < N; i++) {
        ta[i * K + ya[i]] = 1.0f;
        tb[i * K + yb[i]] = 1.0f;
    }
    for (int i = 0; i < N * K; i++)
        tm[i] = (float)(lam * ta[i] + (1.0 - lam) * tb[i]);
    int s[2] = {N, K};
    Tensor z = tensor_view(zv, 2, s), a = tensor_view(ta, 2, s), b = tensor_view(tb, 2, s),
           m = tensor_view(tm, 2, s);
    double la, lb, lm;
    Err err;
    if (loss_softmax_xent(&la, NULL, &z, &a, &err) || loss_softmax_xent(&lb, NULL, &z, &b, &err) ||
        loss_softmax_xent(&lm, NULL, &z, &m, &err))
        return tl_fail("%s", err.msg);
    double want = lam * la + (1.0 - lam) * lb;
    return tl_close_d("mixed targets", &lm, &want, 1, LOSS_FIXTURE_RTOL);
}

/* ---- classification errors ------------------------------------------------------------ */

static int test_count_errors(void)
{
    enum { N = 5, K = 3 };
    /* row 2 ties classes 0 and 2 (first maximum wins), row 4 holds a NaN */
    float zv[N * K] = {0.1f, 0.9f, 0.0f, 2.0f, -1.0f, 0.0f, 1.0f, 0.0f, 1.0f,
                       -3.0f, -2.0f, -1.0f, 0.0f, NAN, 5.0f};
    int label[N] = {1, 2, 0, 2, 2};
    int s[2] = {N, K};
    Tensor z = tensor_view(zv, 2, s);
    int errors;
    Err err;
    if (loss_count_errors(&errors, &z, label, &err))
        return tl_fail("%s", err.msg);
    if (errors != 2)
        return tl_fail("counted %d errors, expected 2 (row 1 wrong, row 4 NaN)", errors);
    label[3] = 3;
    if (!loss_count_errors(&errors, &z, label, &err) ||
        strcmp(err.msg, "loss_count_errors: label[3] is 3, expected 0..2"))
        return tl_fail("bad label: got \"%s\"", err.msg);
    return 0;
}

/* ---- errors --------------------------------------------------------------------------- */

static int test_errors(void)
{
    enum { N = 5, K = 4 };
    float zv[N * K], tv[N * K] = {0};
    for (int i = 0; i < N * K; i++)
        zv[i] = (float)(i % 3) - 1.0f;
    for (int i = 0; i < N; i++)
        tv[i * K + i % K] = 1.0f;
    int s[2] = {N, K};
    Tensor z = tensor_view(zv, 2, s), t = tensor_view(tv, 2, s);
    Err err;
    double loss;

    zv[3 * K + 1] = NAN;
    if (!loss_softmax_xent(&loss, NULL, &z, &t, &err) ||
        strcmp(err.msg, "loss_softmax_xent: loss is nan at example 3 (logits not finite); "
                        "lower the learning rate or check the input"))
        return tl_fail("NaN logit: got \"%s\"", err.msg);
    zv[3 * K + 1] = (float)((3 * K + 1) % 3) - 1.0f;
    zv[1 * K + 2] = INFINITY;
    if (!loss_softmax_xent(&loss, NULL, &z, &t, &err) ||
        !strstr(err.msg, "at example 1 (logits not finite)"))
        return tl_fail("inf logit: got \"%s\"", err.msg);
    zv[1 * K + 2] = (float)((1 * K + 2) % 3) - 1.0f;
    tv[2 * K] = NAN;
    if (!loss_softmax_xent(&loss, NULL, &z, &t, &err) ||
        !strstr(err.msg, "loss is nan at example 2 (targets not finite)"))
        return tl_fail("NaN target: got \"%s\"", err.msg);
    tv[2 * K] = 0.0f;
    zv[4 * K] = -INFINITY;
    if (!loss_bce_logits(&loss, NULL, &z, &t, &err) ||
        strcmp(err.msg, "loss_bce_logits: loss is inf at example 4 (logits not finite); "
                        "lower the learning rate or check the input"))
        return tl_fail("BCE -inf logit: got \"%s\"", err.msg);
    zv[4 * K] = (float)((4 * K) % 3) - 1.0f;

    /* size mismatches */
    int s3[2] = {N, K - 1};
    Tensor t3 = tensor_view(tv, 2, s3);
    if (!loss_softmax_xent(&loss, NULL, &z, &t3, &err) ||
        strcmp(err.msg, "loss_softmax_xent: targets are (5, 3) with 15 elements, logits (5, 4) "
                        "have 20"))
        return tl_fail("target size: got \"%s\"", err.msg);
    int s5[3] = {N, K, 1};
    Tensor z3 = tensor_view(zv, 3, s5);
    if (!loss_softmax_xent(&loss, NULL, &z3, &t, &err) ||
        !strstr(err.msg, "logits are (5, 4, 1), expected (N, K) or (N, K, 1, 1)"))
        return tl_fail("3-D logits: got \"%s\"", err.msg);

    /* dz: reshaped within its capacity, refused beyond it */
    Tensor dz = {0};
    int big[2] = {8, K}, small[2] = {2, K};
    if (tensor_alloc(&dz, 2, big, &err) || tensor_reshape(&dz, 2, small, &err))
        return tl_fail("%s", err.msg);
    int rc = 0;
    if (loss_softmax_xent(&loss, &dz, &z, &t, &err))
        rc = tl_fail("dz with room for 32: %s", err.msg);
    else if (dz.size != (size_t)(N * K) || dz.shape[0] != N)
        rc = tl_fail("dz was not reshaped to (5, 4): size %zu", dz.size);
    tensor_free(&dz);
    int tiny[2] = {1, K};
    if (!rc && (tensor_alloc(&dz, 2, tiny, &err) || !loss_bce_logits(&loss, &dz, &z, &t, &err) ||
                !strstr(err.msg, "loss_bce_logits: dz is (1, 4) with room for 4 elements")))
        rc = tl_fail("small dz: got \"%s\"", err.msg);
    tensor_free(&dz);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"loss_fixtures", test_fixtures},
        {"loss_fd", test_fd},
        {"loss_mixup_decomposes", test_mixup_decomposes},
        {"loss_count_errors", test_count_errors},
        {"loss_errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
