/*
 * test_optim.c: SGD and Adam against torch.optim (tests/fixtures/gen_optim.py, optim.h5).
 * Each case replays T steps with the stored gradients and learning rates on a 37-float vector
 * split into three PyTorch tensors, and compares the parameters after every step. Also: the
 * stored hyperparameters agree with ours, NULL and all-ones decay masks agree, invalid
 * hyperparameters are rejected with the documented messages, and SGD (momentum) and Adam state
 * saved to an HDF5 checkpoint as float32 datasets plus a step attribute (as the Lua checkpoints
 * store optim:state()) continues bit-identically to uninterrupted training, while a truncated
 * or garbled state is refused.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/h5io.h"
#include "train/adam.h"
#include "train/sgd.h"
#include "testlib.h"

/* The engine repeats PyTorch's float32 operations in order and agrees bit for bit here (AVX-512
 * PyTorch); one float32 ulp of the largest parameter leaves room for a PyTorch build or scalar
 * tail that does not fuse its multiply-adds (measured: 1.9e-8 relative), and no more. */
#define OPTIM_RTOL 0x1p-23
/* Stored hyperparameters are float32 copies of our doubles. */
#define HP_RTOL 1e-6

typedef struct SgdCase {
    const char *name;
    SgdParams p;
    int masked;
} SgdCase;

typedef struct AdamCase {
    const char *name;
    AdamParams p;
    int masked;
} AdamCase;

/* Must match gen_optim.py's cases. */
static const SgdCase sgd_cases[] = {
    {"sgd_momentum", {0.9, 1e-4, 0}, 0},
    {"sgd_nesterov", {0.9, 1e-4, 1}, 0},
    {"sgd_masked", {0.9, 5e-4, 0}, 1},
    {"sgd_plain", {0.0, 1e-4, 0}, 0},
};

static const AdamCase adam_cases[] = {
    {"adam_default", {ADAM_BETA1_DEFAULT, ADAM_BETA2_DEFAULT, ADAM_EPS_DEFAULT, 0.0}, 0},
    {"adam_wd_masked", {0.9, 0.999, 1e-8, 1e-2}, 1},
};

typedef struct Common {
    Fixture fx;
    const Tensor *w0, *grads, *lr, *adam_lr, *mask;
    int T;
    size_t n;
} Common;

static int load_common(Common *c)
{
    Err err;
    if (fixture_load(&c->fx, "optim", &err))
        return tl_fail("%s", err.msg);
    c->w0 = fixture_get(&c->fx, "w0");
    c->grads = fixture_get(&c->fx, "grads");
    c->lr = fixture_get(&c->fx, "lr");
    c->adam_lr = fixture_get(&c->fx, "adam_lr");
    c->mask = fixture_get(&c->fx, "mask");
    if (!c->w0 || !c->grads || !c->lr || !c->adam_lr || !c->mask) {
        fixture_free(&c->fx);
        return tl_fail("optim.h5: missing shared entries");
    }
    c->T = c->grads->shape[0];
    c->n = c->w0->size;
    if (c->grads->ndim != 2 || c->grads->size != (size_t)c->T * c->n ||
        c->lr->size != (size_t)c->T || c->adam_lr->size != (size_t)c->T ||
        c->mask->size != c->n) {
        fixture_free(&c->fx);
        return tl_fail("optim.h5: inconsistent shapes");
    }
    return 0;
}

/* Checks the fixture's hyperparameters and returns its (T, n) parameter trajectory. */
static const Tensor *case_entries(const Common *c, const char *name, const double *hp, size_t k)
{
    char key[160];
    snprintf(key, sizeof key, "%s.hp", name);
    const Tensor *fhp = fixture_get(&c->fx, key);
    snprintf(key, sizeof key, "%s.w", name);
    const Tensor *w = fixture_get(&c->fx, key);
    if (!fhp || !w || fhp->size != k || w->size != (size_t)c->T * c->n) {
        tl_fail("%s: missing or malformed fixture entries", name);
        return NULL;
    }
    for (size_t i = 0; i < k; i++) {
        if (fabs(fhp->data[i] - hp[i]) > HP_RTOL * fabs(hp[i])) {
            tl_fail("%s: fixture hyperparameter %zu is %g, the test uses %g (regenerate?)", name,
                    i, (double)fhp->data[i], hp[i]);
            return NULL;
        }
    }
    return w;
}

static int test_sgd_vs_torch(void)
{
    Common c;
    if (load_common(&c))
        return 1;
    int rc = 0;
    float w[64];
    if (c.n > sizeof w / sizeof w[0]) {
        fixture_free(&c.fx);
        return tl_fail("fixture vector too long");
    }
    for (size_t k = 0; k < sizeof sgd_cases / sizeof sgd_cases[0] && !rc; k++) {
        const SgdCase *sc = &sgd_cases[k];
        double hp[4] = {sc->p.momentum, sc->p.weight_decay, sc->p.nesterov, sc->masked};
        const Tensor *want = case_entries(&c, sc->name, hp, 4);
        if (!want) {
            rc = 1;
            break;
        }
        SgdState s;
        Err err;
        if (sgd_check(&sc->p, &err) || sgd_state_init(&s, c.n, &err)) {
            rc = tl_fail("%s: %s", sc->name, err.msg);
            break;
        }
        memcpy(w, c.w0->data, c.n * sizeof(float));
        for (int t = 0; t < c.T && !rc; t++) {
            sgd_step(w, c.grads->data + (size_t)t * c.n, sc->masked ? c.mask->data : NULL, &s,
                     &sc->p, (double)c.lr->data[t]);
            char what[96];
            snprintf(what, sizeof what, "%s step %d", sc->name, t + 1);
            rc = tl_close(what, w, want->data + (size_t)t * c.n, c.n, OPTIM_RTOL);
        }
        if (!rc && s.step != c.T)
            rc = tl_fail("%s: step count %ld, expected %d", sc->name, s.step, c.T);
        sgd_state_free(&s);
    }
    fixture_free(&c.fx);
    return rc;
}

static int test_adam_vs_torch(void)
{
    Common c;
    if (load_common(&c))
        return 1;
    int rc = 0;
    float w[64];
    if (c.n > sizeof w / sizeof w[0]) {
        fixture_free(&c.fx);
        return tl_fail("fixture vector too long");
    }
    for (size_t k = 0; k < sizeof adam_cases / sizeof adam_cases[0] && !rc; k++) {
        const AdamCase *ac = &adam_cases[k];
        double hp[5] = {ac->p.beta1, ac->p.beta2, ac->p.eps, ac->p.weight_decay, ac->masked};
        const Tensor *want = case_entries(&c, ac->name, hp, 5);
        if (!want) {
            rc = 1;
            break;
        }
        AdamState s;
        Err err;
        if (adam_check(&ac->p, &err) || adam_state_init(&s, c.n, &err)) {
            rc = tl_fail("%s: %s", ac->name, err.msg);
            break;
        }
        memcpy(w, c.w0->data, c.n * sizeof(float));
        for (int t = 0; t < c.T && !rc; t++) {
            adam_step(w, c.grads->data + (size_t)t * c.n, ac->masked ? c.mask->data : NULL, &s,
                      &ac->p, (double)c.adam_lr->data[t]);
            char what[96];
            snprintf(what, sizeof what, "%s step %d", ac->name, t + 1);
            rc = tl_close(what, w, want->data + (size_t)t * c.n, c.n, OPTIM_RTOL);
        }
        adam_state_free(&s);
    }
    fixture_free(&c.fx);
    return rc;
}

/* decay_mask = NULL means "all decay": identical to an explicit all-ones mask, bit for bit. */
static int test_null_mask(void)
{
    enum { N = 29, STEPS = 4 };
    float w1[N], w2[N], ones[N], dw[N];
    Rng r;
    rng_seed(&r, tl_seed, 1);
    tl_fill_uniform(w1, N, -1.0f, 1.0f, &r);
    memcpy(w2, w1, sizeof w1);
    for (int i = 0; i < N; i++)
        ones[i] = 1.0f;
    SgdParams sp = {0.9, 1e-3, 1};
    AdamParams ap = {0.9, 0.999, 1e-8, 1e-2};
    SgdState s1, s2;
    AdamState a1, a2;
    Err err;
    if (sgd_state_init(&s1, N, &err) || sgd_state_init(&s2, N, &err) ||
        adam_state_init(&a1, N, &err) || adam_state_init(&a2, N, &err))
        return tl_fail("%s", err.msg);
    for (int t = 0; t < STEPS; t++) {
        tl_fill_uniform(dw, N, -1.0f, 1.0f, &r);
        sgd_step(w1, dw, NULL, &s1, &sp, 0.1);
        sgd_step(w2, dw, ones, &s2, &sp, 0.1);
        adam_step(w1, dw, NULL, &a1, &ap, 1e-3);
        adam_step(w2, dw, ones, &a2, &ap, 1e-3);
    }
    int rc = memcmp(w1, w2, sizeof w1) ? tl_fail("NULL mask and all-ones mask differ") : 0;
    sgd_state_free(&s1);
    sgd_state_free(&s2);
    adam_state_free(&a1);
    adam_state_free(&a2);
    return rc;
}

static int test_errors(void)
{
    Err err;
    SgdParams nest = {0.0, 1e-4, 1}, mom = {1.0, 0.0, 0}, wd = {0.9, -1.0, 0};
    AdamParams b1 = {1.0, 0.999, 1e-8, 0.0}, b2 = {0.9, -0.5, 1e-8, 0.0};
    AdamParams eps = {0.9, 0.999, NAN, 0.0};
    if (tl_expect_error("sgd_check", sgd_check(&nest, &err) != 0, &err,
                        "sgd: nesterov needs momentum > 0, momentum is 0") ||
        tl_expect_error("sgd_check", sgd_check(&mom, &err) != 0, &err,
                        "sgd: momentum is 1, expected 0 <= momentum < 1") ||
        tl_expect_error("sgd_check", sgd_check(&wd, &err) != 0, &err,
                        "sgd: weight_decay is -1, expected a finite value >= 0") ||
        tl_expect_error("adam_check", adam_check(&b1, &err) != 0, &err,
                        "adam: beta1 is 1, expected 0 <= beta1 < 1") ||
        tl_expect_error("adam_check", adam_check(&b2, &err) != 0, &err,
                        "adam: beta2 is -0.5, expected 0 <= beta2 < 1") ||
        tl_expect_error("adam_check", adam_check(&eps, &err) != 0, &err,
                        "adam: eps is nan, expected a finite value >= 0"))
        return 1;
    SgdParams ok = {0.9, 5e-4, 1};
    AdamParams aok = {0.9, 0.999, 1e-8, 0.0};
    if (sgd_check(&ok, &err) || adam_check(&aok, &err))
        return tl_fail("rejected valid parameters: %s", err.msg);
    return 0;
}

/* ---- state through a checkpoint file ---- */

enum { CK_N = 31, CK_STEPS = 7, CK_CUT = 3 }; /* odd length; cut mid-run */
#define CK_STEP_ATTR "step"

/* Writes the named buffers (n floats each) and step to path as a checkpoint would. */
static int ck_write(const char *path, const char *const *names, float *const *bufs, int k,
                    long step, Err *err)
{
    H5Out f;
    if (h5io_create(&f, path, 1, err))
        return -1;
    int shape[1] = {CK_N};
    for (int i = 0; i < k; i++) {
        Tensor t = tensor_view(bufs[i], 1, shape);
        if (h5io_write_tensor(&f, names[i], &t, 0, err)) {
            h5io_close(&f);
            return -1;
        }
    }
    if (h5io_attr_i64(&f, "", CK_STEP_ATTR, step, err)) {
        h5io_close(&f);
        return -1;
    }
    return h5io_commit(&f, err);
}

/* Reads the named datasets back into t[] (zeroed Tensors, allocated here) and the step. */
static int ck_read(const char *path, const char *const *names, Tensor *t, int k, long *step,
                   Err *err)
{
    H5Out f;
    int64_t s = -1;
    if (h5io_open(&f, path, err))
        return -1;
    int rc = h5io_read_attr_i64(&f, "", CK_STEP_ATTR, &s, err);
    for (int i = 0; i < k && !rc; i++)
        rc = h5io_read_tensor(&f, names[i], &t[i], err);
    h5io_close(&f);
    *step = (long)s;
    return rc;
}

/* Runs CK_STEPS steps uninterrupted, then CK_CUT steps, a checkpoint round trip into a fresh
 * state, and the rest; the two weight vectors must agree bit for bit. */
static int test_state_checkpoint(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_optim_%ld.h5", (long)getpid());
    float w0[CK_N], dw[CK_STEPS][CK_N], wa[CK_N], wb[CK_N];
    Rng r;
    rng_seed(&r, tl_seed, 2);
    tl_fill_uniform(w0, CK_N, -1.0f, 1.0f, &r);
    for (int t = 0; t < CK_STEPS; t++)
        tl_fill_uniform(dw[t], CK_N, -1.0f, 1.0f, &r);
    SgdParams sp = {0.9, 5e-4, 0};
    AdamParams ap = {0.5, 0.99, 1e-8, 1e-2}; /* beta2 0.99: v matters within 7 steps */
    static const char *const sgd_names[1] = {"momentum_buffer"};
    static const char *const adam_names[2] = {"m", "v"};
    int rc = 0;
    Err err;
    for (int kind = 0; kind < 2 && !rc; kind++) {
        const char *what = kind == 0 ? "sgd" : "adam";
        SgdState s1 = {0}, s2 = {0}, s3 = {0};
        AdamState a1 = {0}, a2 = {0}, a3 = {0};
        Tensor back[2] = {{0}, {0}};
        long step = -1;
        if (sgd_state_init(&s1, CK_N, &err) || sgd_state_init(&s2, CK_N, &err) ||
            sgd_state_init(&s3, CK_N, &err) || adam_state_init(&a1, CK_N, &err) ||
            adam_state_init(&a2, CK_N, &err) || adam_state_init(&a3, CK_N, &err)) {
            rc = tl_fail("%s", err.msg);
            goto next;
        }
        memcpy(wa, w0, sizeof w0);
        memcpy(wb, w0, sizeof w0);
        for (int t = 0; t < CK_STEPS; t++) {
            if (kind == 0)
                sgd_step(wa, dw[t], NULL, &s1, &sp, 0.1);
            else
                adam_step(wa, dw[t], NULL, &a1, &ap, 1e-2);
        }
        for (int t = 0; t < CK_CUT; t++) {
            if (kind == 0)
                sgd_step(wb, dw[t], NULL, &s2, &sp, 0.1);
            else
                adam_step(wb, dw[t], NULL, &a2, &ap, 1e-2);
        }
        float *bufs[2] = {kind == 0 ? s2.buf : a2.m, a2.v};
        int k = kind == 0 ? 1 : 2;
        if (ck_write(path, kind == 0 ? sgd_names : adam_names, bufs, k,
                     kind == 0 ? s2.step : a2.step, &err) ||
            ck_read(path, kind == 0 ? sgd_names : adam_names, back, k, &step, &err)) {
            rc = tl_fail("%s: %s", what, err.msg);
            goto next;
        }
        if (step != CK_CUT) {
            rc = tl_fail("%s: step read back as %ld, expected %d", what, step, CK_CUT);
            goto next;
        }
        if (kind == 0 ? sgd_state_set(&s3, back[0].data, back[0].size, step, &err)
                      : adam_state_set(&a3, back[0].data, back[0].size, back[1].data,
                                       back[1].size, step, &err)) {
            rc = tl_fail("%s: %s", what, err.msg);
            goto next;
        }
        for (int t = CK_CUT; t < CK_STEPS; t++) {
            if (kind == 0)
                sgd_step(wb, dw[t], NULL, &s3, &sp, 0.1);
            else
                adam_step(wb, dw[t], NULL, &a3, &ap, 1e-2);
        }
        for (int i = 0; i < CK_N && !rc; i++)
            if (memcmp(&wa[i], &wb[i], sizeof wa[i]))
                rc = tl_fail("%s: w[%d] resumed from the checkpoint is %.9g, uninterrupted %.9g",
                             what, i, (double)wb[i], (double)wa[i]);
    next:
        unlink(path);
        tensor_free(&back[0]);
        tensor_free(&back[1]);
        sgd_state_free(&s1);
        sgd_state_free(&s2);
        sgd_state_free(&s3);
        adam_state_free(&a1);
        adam_state_free(&a2);
        adam_state_free(&a3);
    }
    return rc;
}

/* A truncated or garbled state is refused and leaves the state as it was. */
static int test_state_refused(void)
{
    enum { N = 5 };
    float good[N] = {0.5f, -1.0f, 2.0f, 0.25f, -0.125f}, pos[N] = {1, 2, 3, 4, 5};
    float neg[N] = {1, 2, -3, 4, 5};
    SgdState s = {0};
    AdamState a = {0};
    Err err;
    if (sgd_state_init(&s, N, &err) || adam_state_init(&a, N, &err)) {
        sgd_state_free(&s);
        return tl_fail("%s", err.msg);
    }
    int rc =
        tl_expect_error("sgd_state_set", sgd_state_set(&s, good, N - 1, 3, &err) != 0, &err,
                        "sgd_state_set: momentum buffer has 4 floats, expected 5 (truncated, "
                        "or saved for another net)") ||
        tl_expect_error("sgd_state_set", sgd_state_set(&s, good, N, -1, &err) != 0, &err,
                        "sgd_state_set: step is -1, expected >= 0") ||
        tl_expect_error("adam_state_set",
                        adam_state_set(&a, good, N, pos, N - 2, 3, &err) != 0, &err,
                        "adam_state_set: m has 5 floats and v 3, expected 5 each (truncated, "
                        "or saved for another net)") ||
        tl_expect_error("adam_state_set", adam_state_set(&a, good, N, neg, N, 3, &err) != 0,
                        &err, "adam_state_set: v[2] is -3, expected >= 0 (a garbled state)") ||
        tl_expect_error("adam_state_set", adam_state_set(&a, good, N, pos, N, -2, &err) != 0,
                        &err, "adam_state_set: step is -2, expected >= 0");
    if (!rc && (s.step != 0 || a.step != 0 || a.m[0] != 0.0f || a.v[0] != 0.0f))
        rc = tl_fail("a refused state changed the optimiser");
    if (!rc && (adam_state_set(&a, good, N, pos, N, 4, &err) ||
                sgd_state_set(&s, good, N, 2, &err)))
        rc = tl_fail("a valid state was refused: %s", err.msg);
    if (!rc && (a.step != 4 || s.step != 2 || memcmp(a.v, pos, sizeof pos) ||
                memcmp(a.m, good, sizeof good) || memcmp(s.buf, good, sizeof good)))
        rc = tl_fail("a valid state was not restored exactly");
    sgd_state_free(&s);
    adam_state_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"sgd_vs_torch", test_sgd_vs_torch},
        {"adam_vs_torch", test_adam_vs_torch},
        {"null_mask", test_null_mask},
        {"errors", test_errors},
        {"state_checkpoint", test_state_checkpoint},
        {"state_refused", test_state_refused},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
