/*
 * test_gan.c: Figure 5's toy data and metrics (gan_data.c, gan_metrics.c): the data
 * generator's statistics (per-mode means at the centres, spreads near 0.01, uniform modes),
 * its repeatability; the discriminator batches (join and shuffle, the demo's and the paper's
 * mixing) and the generator's gradient, exactly; the metrics on hand-made point sets with
 * known answers and against PyTorch (tests/fixtures/gen_gan.py); the error messages.
 * The training steps themselves are checked against PyTorch in tests/lua/test_gan.lua.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/gan_data.h"
#include "metrics/gan_metrics.h"
#include "testlib.h"

#define N_STATS 200000 /* points drawn for the statistics: 8,000 to 25,000 per mode */
/* Bounds in standard errors: a sample mean of n draws has sd std / sqrt(n), a sample sd has
 * relative sd ~1 / sqrt(2 n), a mode's count sd sqrt(n p (1 - p)); 6 of them fail by chance
 * ~1e-9 per check */
#define GAN_STAT_SIGMAS 6.0
/* the centres are sin / cos in double, computed as the test does; allow for evaluation order */
#define GAN_CENTRE_TOL 1e-12
/* energy distance and MMD in double against torch.cdist in float64, stored as float32 */
#define GAN_METRIC_RTOL 1e-6
/* hand-made sets: the exact answers in double, up to summation rounding over 10^4 pairs */
#define GAN_EXACT_RTOL 1e-12

static int near_rel(double got, double want, double rtol)
{
    double scale = fabs(want) > 1e-12 ? fabs(want) : 1e-12;
    return fabs(got - want) <= rtol * scale;
}

/* ---- data ------------------------------------------------------------------------------ */

static int test_centres(void)
{
    double c[2 * GAN_MAX_MODES];
    gan_centres(GAN_RING, c);
    if (gan_num_modes(GAN_RING) != 8 || gan_num_modes(GAN_GRID) != 25)
        return tl_fail("mode counts %d, %d, expected 8, 25", gan_num_modes(GAN_RING),
                       gan_num_modes(GAN_GRID));
    for (int k = 0; k < 8; k++) {
        double t = 2.0 * M_PI * k / 8.0;
        if (fabs(c[2 * k] - sin(t)) > GAN_CENTRE_TOL ||
            fabs(c[2 * k + 1] - cos(t)) > GAN_CENTRE_TOL)
            return tl_fail("ring centre %d is (%g, %g)", k, c[2 * k], c[2 * k + 1]);
    }
    if (fabs(c[0]) > GAN_CENTRE_TOL || c[1] != 1.0 || fabs(c[4] - 1.0) > GAN_CENTRE_TOL)
        return tl_fail("ring starts at (0, 1) and goes to (1, 0): (%g, %g), (%g, %g)", c[0],
                       c[1], c[4], c[5]);
    gan_centres(GAN_GRID, c);
    /* the demo's loops: i outer (first coordinate), j inner, both -2..2, divided by 2 */
    static const double want[][3] = {{0, -1, -1}, {1, -1, -0.5}, {5, -0.5, -1},
                                     {12, 0, 0}, {24, 1, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int k = (int)want[i][0];
        if (c[2 * k] != want[i][1] || c[2 * k + 1] != want[i][2])
            return tl_fail("grid centre %d is (%g, %g), expected (%g, %g)", k, c[2 * k],
                           c[2 * k + 1], want[i][1], want[i][2]);
    }
    GanShape s = GAN_RING;
    if (gan_shape_parse("grid", &s) || s != GAN_GRID || gan_shape_parse("spiral", &s) != -1 ||
        strcmp(gan_shape_name(GAN_RING), "ring"))
        return tl_fail("shape names");
    return 0;
}

static int stats_for(GanShape shape)
{
    Err err;
    Rng r;
    double c[2 * GAN_MAX_MODES];
    float *x = malloc(2 * N_STATS * sizeof *x);
    int *mode = malloc(N_STATS * sizeof *mode);
    int rc = 1;
    if (!x || !mode) {
        tl_fail("out of memory");
        goto out;
    }
    rng_seed(&r, tl_seed, RNG_STREAM_GAN);
    if (gan_sample_real(x, mode, N_STATS, shape, GAN_STD, &r, &err)) {
        tl_fail("%s", err.msg);
        goto out;
    }
    int k = gan_num_modes(shape);
    gan_centres(shape, c);
    for (int m = 0; m < k; m++) {
        double n = 0, s[2] = {0, 0}, ss[2] = {0, 0};
        for (int i = 0; i < N_STATS; i++) {
            if (mode[i] != m)
                continue;
            n++;
            for (int d = 0; d < 2; d++) {
                s[d] += x[2 * i + d];
                ss[d] += (double)x[2 * i + d] * x[2 * i + d];
            }
        }
        double p = 1.0 / k, expect = N_STATS * p;
        if (fabs(n - expect) > GAN_STAT_SIGMAS * sqrt(N_STATS * p * (1 - p))) {
            tl_fail("%s mode %d drawn %g times, expected %g", gan_shape_name(shape), m, n,
                    expect);
            goto out;
        }
        for (int d = 0; d < 2; d++) {
            double mean = s[d] / n, sd = sqrt(ss[d] / n - mean * mean);
            if (fabs(mean - c[2 * m + d]) > GAN_STAT_SIGMAS * GAN_STD / sqrt(n)) {
                tl_fail("%s mode %d axis %d: mean %.6f, centre %.6f", gan_shape_name(shape),
                        m, d, mean, c[2 * m + d]);
                goto out;
            }
            if (fabs(sd / GAN_STD - 1.0) > GAN_STAT_SIGMAS / sqrt(2.0 * n)) {
                tl_fail("%s mode %d axis %d: spread %.6f, expected %.6f",
                        gan_shape_name(shape), m, d, sd, GAN_STD);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(x);
    free(mode);
    return rc;
}

static int test_sample_stats(void) { return stats_for(GAN_RING) || stats_for(GAN_GRID); }

static int test_sample_repeat(void)
{
    Err err;
    Rng a, b;
    float x[64], y[64], z1[30], z2[30];
    int m[32];
    rng_seed(&a, 5, RNG_STREAM_GAN);
    rng_seed(&b, 5, RNG_STREAM_GAN);
    if (gan_sample_real(x, m, 32, GAN_GRID, GAN_STD, &a, &err) ||
        gan_sample_real(y, NULL, 32, GAN_GRID, GAN_STD, &b, &err))
        return tl_fail("%s", err.msg);
    if (memcmp(x, y, sizeof x))
        return tl_fail("same seed, different points (modes recorded or not)");
    gan_sample_noise(z1, 30, &a);
    gan_sample_noise(z2, 30, &b);
    if (memcmp(z1, z2, sizeof z1))
        return tl_fail("same seed, different noise");
    rng_seed(&a, 5, RNG_STREAM_GAN);
    if (gan_sample_real(x, m, 32, GAN_GRID, 0.0, &a, &err))
        return tl_fail("%s", err.msg);
    double c[2 * GAN_MAX_MODES];
    gan_centres(GAN_GRID, c);
    for (int i = 0; i < 32; i++)
        if (x[2 * i] != (float)c[2 * m[i]] || x[2 * i + 1] != (float)c[2 * m[i] + 1])
            return tl_fail("std 0: point %d is not its centre", i);
    return 0;
}

/* ---- batches ----------------------------------------------------------------------------- */

static int test_join(void)
{
    enum { NR = 5, NF = 4, N = NR + NF };
    float real[2 * NR], fake[2 * NF], x[2 * N], t[N];
    int perm[N], seen[N] = {0};
    Rng r;
    for (int i = 0; i < 2 * NR; i++)
        real[i] = (float)(i + 1);
    for (int i = 0; i < 2 * NF; i++)
        fake[i] = (float)(-i - 1);
    gan_join(x, t, real, NR, fake, NF, NULL, NULL);
    for (int i = 0; i < N; i++) {
        const float *src = i < NR ? real + 2 * i : fake + 2 * (i - NR);
        if (x[2 * i] != src[0] || x[2 * i + 1] != src[1] || t[i] != (i < NR ? 1.0f : 0.0f))
            return tl_fail("unshuffled row %d", i);
    }
    rng_seed(&r, tl_seed, RNG_STREAM_ORDER);
    gan_join(x, t, real, NR, fake, NF, perm, &r);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        int s = perm[i];
        const float *src = s < NR ? real + 2 * s : fake + 2 * (s - NR);
        if (s < 0 || s >= N || seen[s]++)
            return tl_fail("perm is not a permutation at %d", i);
        if (x[2 * i] != src[0] || x[2 * i + 1] != src[1] || t[i] != (s < NR ? 1.0f : 0.0f))
            return tl_fail("shuffled row %d is not source row %d with its label", i, s);
        moved += s != i;
    }
    if (!moved)
        return tl_fail("the shuffle left every row in place");
    return 0;
}

static int test_mix(void)
{
    enum { N = 400 };
    static float x1[2 * N], x2[2 * N], t1[N], t2[N], x[2 * N], t[N], lam[N];
    Rng r, again;
    rng_seed(&r, tl_seed, 99);
    for (int i = 0; i < 2 * N; i++) {
        x1[i] = (float)rng_normal(&r);
        x2[i] = (float)rng_normal(&r);
    }
    for (int i = 0; i < N; i++) {
        t1[i] = (float)(i % 2);
        t2[i] = (float)((i / 2) % 2);
    }
    rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
    again = r;
    gan_mix_uniform(x, t, lam, x1, t1, x2, t2, N, 0.2, &r);
    for (int i = 0; i < N; i++) {
        double l = 0.2 * rng_uniform(&again);
        if (lam[i] != (float)l || !(l >= 0.0 && l < 0.2))
            return tl_fail("demo: lambda %d is %g, expected %g in [0, 0.2)", i, lam[i], l);
        if (x[2 * i] != (float)(l * x1[2 * i] + (1 - l) * x2[2 * i]) ||
            x[2 * i + 1] != (float)(l * x1[2 * i + 1] + (1 - l) * x2[2 * i + 1]) ||
            t[i] != (float)(l * t1[i] + (1 - l) * t2[i]))
            return tl_fail("demo: row %d is not lambda row1 + (1 - lambda) row2", i);
    }
    gan_mix_uniform(x, t, NULL, x1, t1, x2, t2, N, 0.0, &r);
    if (memcmp(x, x2, sizeof x) || memcmp(t, t2, sizeof t))
        return tl_fail("demo: alpha 0 must give the second batch");

    /* paper: t holds lambda ~ Beta(0.2, 0.2): mean 1/2, mostly near 0 or 1 */
    rng_seed(&r, tl_seed, RNG_STREAM_MIXUP);
    again = r;
    gan_mix_beta(x, t, x1, x2, N, 0.2, &r);
    double mean = 0.0;
    int ends = 0;
    for (int i = 0; i < N; i++) {
        double l = rng_beta(&again, 0.2, 0.2);
        if (t[i] != (float)l ||
            x[2 * i] != (float)(l * x1[2 * i] + (1 - l) * x2[2 * i]))
            return tl_fail("paper: row %d is not lambda real + (1 - lambda) fake", i);
        mean += l / N;
        ends += l < 0.1 || l > 0.9;
    }
    /* Beta(0.2, 0.2): sd of the mean of 400 = sqrt(1 / (4 * 1.4) / 400) = 0.021; P(l < 0.1 or
     * l > 0.9) = 0.63 */
    if (fabs(mean - 0.5) > GAN_STAT_SIGMAS * 0.021 || ends < N / 2)
        return tl_fail("paper: lambda mean %g (want 0.5), %d of %d near the ends", mean, ends,
                       N);
    return 0;
}

static int test_generator_grad(void)
{
    float dx[2 * 6], dg[2 * 4], lam[4] = {0.0f, 0.25f, 0.5f, 1.0f};
    for (int i = 0; i < 12; i++)
        dx[i] = (float)(i + 1);
    gan_generator_grad(dg, dx, 2, 4, NULL);
    for (int i = 0; i < 8; i++)
        if (dg[i] != -dx[4 + i])
            return tl_fail("unmixed: dg[%d] = %g, expected %g", i, dg[i], -dx[4 + i]);
    gan_generator_grad(dg, dx, 0, 4, lam);
    for (int i = 0; i < 4; i++)
        for (int d = 0; d < 2; d++)
            if (dg[2 * i + d] != -(1.0f - lam[i]) * dx[2 * i + d])
                return tl_fail("mixed: dg[%d] = %g, expected -(1 - %g) %g", 2 * i + d,
                               dg[2 * i + d], lam[i], dx[2 * i + d]);
    return 0;
}

/* ---- metrics ----------------------------------------------------------------------------- */

/* Fills n points at centre k of shape s, offset by (dx, dy). */
static void at_centre(float *x, int n, GanShape s, int k, double dx, double dy)
{
    double c[2 * GAN_MAX_MODES];
    gan_centres(s, c);
    for (int i = 0; i < n; i++) {
        x[2 * i] = (float)(c[2 * k] + dx);
        x[2 * i + 1] = (float)(c[2 * k + 1] + dy);
    }
}

static int test_metrics_known(void)
{
    enum { N = 1000 };
    static float gen[2 * N], real[2 * N];
    GanMetrics m;
    Err err;
    Rng r;
    rng_seed(&r, tl_seed, RNG_STREAM_GAN);
    if (gan_sample_real(real, NULL, N, GAN_RING, GAN_STD, &r, &err))
        return tl_fail("%s", err.msg);

    /* all on one centre: 1 mode covered, all high quality, inside the frame */
    at_centre(gen, N, GAN_RING, 3, 0.0, 0.0);
    if (gan_metrics(&m, gen, N, real, N, GAN_RING, GAN_STD, &err))
        return tl_fail("%s", err.msg);
    if (m.modes_covered != 1 || m.high_quality != 1.0 || m.outside != 0 || m.n_modes != 8)
        return tl_fail("one mode: covered %d, quality %g, outside %d", m.modes_covered,
                       m.high_quality, m.outside);

    /* 10 points (exactly 1%) on each ring mode, the other 920 far away */
    for (int k = 0; k < 8; k++)
        at_centre(gen + 2 * 10 * k, 10, GAN_RING, k, 0.0, 0.0);
    for (int i = 80; i < N; i++)
        gen[2 * i] = gen[2 * i + 1] = 5.0f;
    if (gan_metrics(&m, gen, N, real, N, GAN_RING, GAN_STD, &err))
        return tl_fail("%s", err.msg);
    if (m.modes_covered != 8 || !near_rel(m.high_quality, 0.08, GAN_EXACT_RTOL) ||
        m.outside != 920)
        return tl_fail("1%% per mode: covered %d (8), quality %g (0.08), outside %d (920)",
                       m.modes_covered, m.high_quality, m.outside);
    /* 9 points (0.9%) on mode 0: not covered */
    gen[0] = gen[1] = 5.0f;
    if (gan_metrics(&m, gen, N, real, N, GAN_RING, GAN_STD, &err) || m.modes_covered != 7)
        return tl_fail("0.9%% on a mode must not cover it: covered %d", m.modes_covered);

    /* within 3 std is near, beyond is not: 2.9 std and 3.1 std along x */
    at_centre(gen, N / 2, GAN_GRID, 7, 2.9 * GAN_STD, 0.0);
    at_centre(gen + N, N / 2, GAN_GRID, 7, 3.1 * GAN_STD, 0.0);
    if (gan_metrics(&m, gen, N, real, N, GAN_GRID, GAN_STD, &err))
        return tl_fail("%s", err.msg);
    if (m.modes_covered != 1 || m.high_quality != 0.5 || m.n_modes != 25)
        return tl_fail("3 std boundary: covered %d, quality %g", m.modes_covered,
                       m.high_quality);

    /* every grid mode 40 times: all 25 covered */
    for (int k = 0; k < 25; k++)
        at_centre(gen + 2 * 40 * k, 40, GAN_GRID, k, 0.0, 0.01);
    if (gan_metrics(&m, gen, N, real, N, GAN_GRID, GAN_STD, &err) || m.modes_covered != 25 ||
        m.high_quality != 1.0)
        return tl_fail("grid: covered %d of 25, quality %g", m.modes_covered, m.high_quality);

    /* the frame: all coordinates of the real points, +- 0.25 on both axes */
    double lo = real[0], hi = real[0];
    for (int i = 0; i < 2 * N; i++) {
        lo = fmin(lo, real[i]);
        hi = fmax(hi, real[i]);
    }
    if (m.frame_lo != lo - GAN_FRAME_MARGIN || m.frame_hi != hi + GAN_FRAME_MARGIN)
        return tl_fail("frame [%g, %g], expected [%g, %g]", m.frame_lo, m.frame_hi,
                       lo - 0.25, hi + 0.25);
    return 0;
}

static int test_distances_known(void)
{
    float a[4] = {0, 0, 1, 0}, b[2] = {0, 0}, p[2] = {0.3f, 0.4f};
    /* E|X - Y| = 1/2, E|X - X'| = 2/4, E|Y - Y'| = 0: energy 2 (1/2) - 1/2 - 0 = 1/2 */
    double e = gan_energy_distance(a, 2, b, 1);
    if (!near_rel(e, 0.5, GAN_EXACT_RTOL))
        return tl_fail("energy of {0, (1, 0)} and {0}: %.17g, expected 0.5", e);
    /* two single points at distance d = 0.5: energy 2 d, MMD^2 2 - 2 exp(-d^2 / (2 h^2)) */
    double d = sqrt((double)p[0] * p[0] + (double)p[1] * p[1]);
    e = gan_energy_distance(p, 1, b, 1);
    double k = gan_mmd2(p, 1, b, 1, 0.1);
    if (!near_rel(e, 2 * d, GAN_EXACT_RTOL) ||
        !near_rel(k, 2.0 - 2.0 * exp(-d * d / 0.02), GAN_EXACT_RTOL))
        return tl_fail("single points: energy %.17g (%.17g), mmd2 %.17g", e, 2 * d, k);
    /* a set against itself: both zero; and symmetric */
    if (gan_energy_distance(a, 2, a, 2) != 0.0 || gan_mmd2(a, 2, a, 2, 0.1) != 0.0)
        return tl_fail("a set against itself must be 0");
    if (gan_energy_distance(a, 2, p, 1) != gan_energy_distance(p, 1, a, 2))
        return tl_fail("energy distance not symmetric");

    Fixture fx = {0};
    Err err;
    if (fixture_load(&fx, "gan", &err))
        return tl_fail("%s", err.msg);
    const Tensor *fa = fixture_get(&fx, "metrics.a"), *fb = fixture_get(&fx, "metrics.b");
    const Tensor *fe = fixture_get(&fx, "metrics.energy"), *fm = fixture_get(&fx, "metrics.mmd2");
    int rc = 1;
    if (!fa || !fb || !fe || !fm) {
        tl_fail("gan.h5: missing metrics entries");
        goto out;
    }
    e = gan_energy_distance(fa->data, fa->shape[0], fb->data, fb->shape[0]);
    k = gan_mmd2(fa->data, fa->shape[0], fb->data, fb->shape[0], GAN_MMD_BANDWIDTH);
    if (!near_rel(e, fe->data[0], GAN_METRIC_RTOL) || !near_rel(k, fm->data[0], GAN_METRIC_RTOL)) {
        tl_fail("vs torch: energy %.9g (%.9g), mmd2 %.9g (%.9g)", e, (double)fe->data[0], k,
                (double)fm->data[0]);
        goto out;
    }
    rc = 0;
out:
    fixture_free(&fx);
    return rc;
}

static int test_errors(void)
{
    float x[8] = {0, 0, 1, 1, 2, 2, 3, 3};
    GanMetrics m;
    Err err;
    Rng r;
    rng_seed(&r, 1, RNG_STREAM_GAN);
    if (tl_expect_error("n 0", gan_sample_real(x, NULL, 0, GAN_RING, GAN_STD, &r, &err) != 0,
                        &err, "gan_sample_real: n is 0, expected >= 1") ||
        tl_expect_error("std nan", gan_sample_real(x, NULL, 4, GAN_RING, NAN, &r, &err) != 0,
                        &err, "gan_sample_real: std is nan, expected a finite number >= 0"))
        return 1;
    x[5] = INFINITY;
    if (tl_expect_error("inf point", gan_metrics(&m, x, 4, x, 2, GAN_RING, GAN_STD, &err) != 0,
                        &err, "gan_metrics: generated point 2 is (2, inf), expected finite "
                              "coordinates"))
        return 1;
    x[5] = 2;
    if (tl_expect_error("no real", gan_metrics(&m, x, 4, x, 0, GAN_RING, GAN_STD, &err) != 0,
                        &err, "gan_metrics: real has 0 points, expected >= 1") ||
        tl_expect_error("std 0", gan_metrics(&m, x, 4, x, 4, GAN_RING, 0.0, &err) != 0, &err,
                        "gan_metrics: std is 0, expected a finite number > 0"))
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"centres", test_centres},
        {"sample_stats", test_sample_stats},
        {"sample_repeat", test_sample_repeat},
        {"join", test_join},
        {"mix", test_mix},
        {"generator_grad", test_generator_grad},
        {"metrics_known", test_metrics_known},
        {"distances_known", test_distances_known},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
