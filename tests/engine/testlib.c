/*
 * testlib.c: see testlib.h.
 */
#include "testlib.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5io.h"

uint64_t tl_seed = 20171025; /* arXiv v1 date; any fixed value */

static char fail_msg[1024];
static char skip_msg[1024];

int tl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
    va_end(ap);
    return 1;
}

int tl_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(skip_msg, sizeof skip_msg, fmt, ap);
    va_end(ap);
    return TL_SKIPPED;
}

int tl_expect_msg(const char *what, const char *msg, const char *want)
{
    if (!strstr(msg, want))
        return tl_fail("%s: error \"%s\", expected it to contain \"%s\"", what, msg, want);
    return 0;
}

int tl_expect_error(const char *what, int failed, const Err *err, const char *want)
{
    if (!failed)
        return tl_fail("%s: succeeded, expected an error containing \"%s\"", what, want);
    return tl_expect_msg(what, err->msg, want);
}

int tl_main(int argc, char **argv, const TestCase *tests, size_t n)
{
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            char *end;
            tl_seed = strtoull(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "bad --seed '%s'\n", argv[i]);
                return 2;
            }
        } else {
            filter = argv[i];
        }
    }
    printf("seed %" PRIu64 " (rerun with --seed %" PRIu64 ")\n", tl_seed, tl_seed);
    int pass = 0, fail = 0, skip = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        fail_msg[0] = 0;
        skip_msg[0] = 0;
        int rc = tests[i].fn();
        if (rc == 0) {
            printf("ok %s\n", tests[i].name);
            pass++;
        } else if (rc == TL_SKIPPED && !fail_msg[0]) {
            printf("skip %s: %s\n", tests[i].name, skip_msg);
            skip++;
        } else {
            printf("FAIL %s: %s\n", tests[i].name, fail_msg[0] ? fail_msg : "(no reason)");
            fail++;
        }
        fflush(stdout);
    }
    if (filter && pass + fail + skip == 0) {
        printf("FAIL filter '%s': it selects no test\n", filter);
        fail++;
    }
    printf("%d passed, %d failed, %d skipped\n", pass, fail, skip);
    return fail ? 1 : 0;
}

#define TL_FLOOR 1e-6

int tl_close_d(const char *what, const double *got, const double *want, size_t n, double rtol)
{
    double scale = TL_FLOOR, maxerr = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale)
            scale = fabs(want[i]);
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (!(e <= maxerr)) { /* NaN counts as the worst */
            maxerr = isnan(e) ? INFINITY : e;
            worst = i;
        }
    }
    double rel = maxerr / scale;
    if (rel <= rtol)
        return 0;
    printf("  %s: relative error %.3g > %.3g (max abs %.3g at %zu, scale %.3g)\n", what, rel,
           rtol, maxerr, worst, scale);
    int shown = 0;
    for (size_t i = 0; i < n && shown < 5; i++) {
        if (fabs(got[i] - want[i]) / scale > rtol || isnan(got[i])) {
            printf("    [%zu] got %.8g want %.8g\n", i, got[i], want[i]);
            shown++;
        }
    }
    tl_fail("%s: relative error %.3g > %.3g", what, rel, rtol);
    return 1;
}

int tl_close(const char *what, const float *got, const float *want, size_t n, double rtol)
{
    double *g = malloc(n * sizeof *g), *w = malloc(n * sizeof *w);
    if (!g || !w) {
        free(g);
        free(w);
        return tl_fail("%s: out of memory", what);
    }
    for (size_t i = 0; i < n; i++) {
        g[i] = got[i];
        w[i] = want[i];
    }
    int rc = tl_close_d(what, g, w, n, rtol);
    free(g);
    free(w);
    return rc;
}

void tl_fill_uniform(float *p, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * rng_uniform_f(r);
}

void tl_fill_away_from_zero(float *p, size_t n, float lo, float hi, Rng *r)
{
    for (size_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * rng_uniform_f(r);
        p[i] = (rng_next(r) & 1) ? v : -v;
    }
}

/* ---- fixtures ------------------------------------------------------------------------- */

#define FIXTURE_DIR "tests/fixtures/"
#define FIXTURE_FIX "regenerate with `make fixtures`"

/* Adds the fix to a reader's message: "fixture <path>: <why>; regenerate with ...". */
static int fixture_error(Err *err, const char *path, const char *why)
{
    return err_set(err, "fixture %s: %s; " FIXTURE_FIX, path, why);
}

int fixture_load(Fixture *fx, const char *name, Err *err)
{
    char path[512];
    snprintf(path, sizeof path, FIXTURE_DIR "%s.h5", name);
    memset(fx, 0, sizeof *fx);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return err_set(err, "fixture %s: %s (run the tests from the repository root; "
                            FIXTURE_FIX ")", path, strerror(errno));
    fclose(probe);
    H5Out f = {0};
    H5Value names = {0};
    H5List list = {0};
    Err why;
    int rc = -1;
    if (h5io_open(&f, path, &why) || h5io_read_attr(&f, "", "entries", &names, &why) ||
        h5io_list(&f, "", &list, &why)) {
        fixture_error(err, path, why.msg);
        goto done;
    }
    if (f.format_version != FIXTURE_FORMAT_VERSION)
        err_set(&why, "format_version %lld, expected %d", (long long)f.format_version,
                FIXTURE_FORMAT_VERSION);
    else if (names.kind != H5IO_STR)
        err_set(&why, "attribute 'entries' is %s, expected str", h5io_kind_name(names.kind));
    else if (names.n != (size_t)list.n)
        err_set(&why, "attribute 'entries' names %zu entries, the file holds %d datasets",
                names.n, list.n);
    else
        why.msg[0] = 0;
    if (why.msg[0]) {
        fixture_error(err, path, why.msg);
        goto done;
    }
    fx->e = calloc(names.n ? names.n : 1, sizeof *fx->e);
    if (!fx->e) {
        err_set(err, "fixture %s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < names.n; i++) {
        FixtureEntry *e = &fx->e[i];
        if (strlen(names.str[i]) >= sizeof e->name) {
            err_set(&why, "entry name '%.40s...' is longer than %zu bytes", names.str[i],
                    sizeof e->name - 1);
            fixture_error(err, path, why.msg);
            goto done;
        }
        strcpy(e->name, names.str[i]);
        fx->n = (int)i + 1;
        if (h5io_read_tensor(&f, e->name, &e->t, &why)) {
            fixture_error(err, path, why.msg);
            goto done;
        }
    }
    rc = 0;
done:
    h5io_list_free(&list);
    h5io_value_free(&names);
    h5io_close(&f);
    if (rc)
        fixture_free(fx);
    return rc;
}

const Tensor *fixture_get(const Fixture *fx, const char *name)
{
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->e[i].name, name))
            return &fx->e[i].t;
    printf("  fixture has no entry '%s' (%d entries)\n", name, fx->n);
    return NULL;
}

void fixture_free(Fixture *fx)
{
    for (int i = 0; i < fx->n; i++)
        tensor_free(&fx->e[i].t);
    free(fx->e);
    memset(fx, 0, sizeof *fx);
}

/* ---- finite differences --------------------------------------------------------------- */

static double probe_loss(Net *net, const Tensor *x, const float *r, int train, Rng *rng0,
                         Err *err, int *rc)
{
    Rng rng = *rng0; /* same dropout mask on every evaluation */
    const Tensor *y;
    *rc = net_forward(net, x, train, &rng, &y, err);
    if (*rc)
        return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < y->size; i++)
        s += (double)y->data[i] * (double)r[i];
    return s;
}

/* Picks up to k distinct-ish indices in [0, n) (all when k == 0 or k >= n). */
static size_t pick(size_t *idx, size_t n, int k, Rng *r)
{
    if (k <= 0 || (size_t)k >= n) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        return n;
    }
    for (int i = 0; i < k; i++)
        idx[i] = (size_t)rng_below(r, n);
    return (size_t)k;
}

static int fd_tensor(const char *what, Net *net, Tensor *x, float *target, const float *analytic,
                     size_t n, const float *r, const FdOptions *o, Rng *rng0, Rng *pr)
{
    size_t *idx = malloc(n * sizeof *idx);
    double *num = malloc(n * sizeof *num), *ana = malloc(n * sizeof *ana);
    int rc = 0;
    Err err;
    if (!idx || !num || !ana) {
        rc = tl_fail("%s: out of memory", what);
        goto done;
    }
    size_t k = pick(idx, n, o->max_checks, pr);
    for (size_t j = 0; j < k; j++) {
        size_t i = idx[j];
        float save = target[i];
        int e1, e2;
        target[i] = (float)(save + o->eps);
        double lp = probe_loss(net, x, r, o->train, rng0, &err, &e1);
        target[i] = (float)(save - o->eps);
        double lm = probe_loss(net, x, r, o->train, rng0, &err, &e2);
        /* use the perturbation actually representable in float32 */
        double h = (double)(float)(save + o->eps) - (double)(float)(save - o->eps);
        target[i] = save;
        if (e1 || e2) {
            rc = tl_fail("%s: forward failed: %s", what, err.msg);
            goto done;
        }
        num[j] = (lp - lm) / h;
        ana[j] = analytic[i];
    }
    rc = tl_close_d(what, ana, num, k, o->rtol);
done:
    free(idx);
    free(num);
    free(ana);
    return rc;
}

int tl_fd_check(const char *what, Module *m, const FdOptions *o)
{
    Err err;
    Net *net = NULL;
    Tensor x = {0}, dyt = {0};
    float *saved_w = NULL;
    int rc = 1;
    if (net_build(&net, m, o->in, 2, o->n, &err)) {
        tl_fail("%s: net_build: %s", what, err.msg);
        return 1;
    }
    Rng r, rng0;
    rng_seed(&r, tl_seed, 99);
    rng_seed(&rng0, tl_seed, RNG_STREAM_DROPOUT);
    net_init(net, &r);
    if (o->fill_w)
        o->fill_w(net->params, net->n_params, &r);
    int shape[4] = {o->n, o->in.c, o->in.h, o->in.w};
    if (tensor_alloc(&x, 4, shape, &err))
        goto out;
    if (o->fill_x)
        o->fill_x(x.data, x.size, &r);
    else
        tl_fill_uniform(x.data, x.size, -1.0f, 1.0f, &r);
    int oshape[4] = {o->n, net->out.c, net->out.h, net->out.w};
    if (tensor_alloc(&dyt, 4, oshape, &err))
        goto out;
    tl_fill_uniform(dyt.data, dyt.size, -1.0f, 1.0f, &r);

    /* Analytic gradients. BN in train mode updates its running statistics on each forward,
     * which does not change the train-mode output; eval mode never changes them. */
    const Tensor *y, *dx;
    Rng rng = rng0;
    net_zero_grad(net);
    if (net_forward(net, &x, o->train, &rng, &y, &err) || net_backward(net, &dyt, &dx, &err)) {
        tl_fail("%s: %s", what, err.msg);
        goto out;
    }
    float *dxa = malloc(x.size * sizeof(float));
    saved_w = malloc((net->n_params + 1) * sizeof(float));
    if (!dxa || !saved_w) {
        free(dxa);
        tl_fail("%s: out of memory", what);
        goto out;
    }
    memcpy(dxa, dx->data, x.size * sizeof(float));
    memcpy(saved_w, net->grads, net->n_params * sizeof(float));

    Rng pr;
    rng_seed(&pr, tl_seed, 98);
    char name[256];
    snprintf(name, sizeof name, "%s dx", what);
    rc = fd_tensor(name, net, &x, x.data, dxa, x.size, dyt.data, o, &rng0, &pr);
    if (rc == 0 && net->n_params) {
        snprintf(name, sizeof name, "%s dw", what);
        rc = fd_tensor(name, net, &x, net->params, saved_w, net->n_params, dyt.data, o, &rng0,
                       &pr);
    }
    free(dxa);
out:
    if (rc && !fail_msg[0])
        tl_fail("%s: %s", what, err.msg);
    free(saved_w);
    tensor_free(&x);
    tensor_free(&dyt);
    net_free(net);
    return rc;
}

/* ---- temporary files ------------------------------------------------------------------ */

int tl_tmpdir(char *dir, size_t len, const char *name)
{
    int n = snprintf(dir, len, "/tmp/%s.XXXXXX", name);
    if (n < 0 || (size_t)n >= len || !mkdtemp(dir))
        return tl_fail("tl_tmpdir: cannot create /tmp/%s.XXXXXX: %s", name, strerror(errno));
    return 0;
}

void tl_tmpdir_remove(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("tl_tmpdir_remove: could not remove %s\n", dir);
}

const char *tl_path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

long tl_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

int tl_exists(const char *path) { return tl_file_size(path) >= 0; }
