/*
 * test_rng.c: statistical and reproducibility tests of harness/core/rng.c.
 *
 *   - reproducibility: xoshiro256** reference vector from state {1, 2, 3, 4}; rng_seed's state
 *     and first outputs for a fixed (seed, stream) frozen from an independent Python model of
 *     splitmix64 + xoshiro256** (recorded runs depend on these never changing); same
 *     (seed, stream) repeats, different streams and seeds differ; a copied state continues
 *     identically (checkpoints).
 *   - moments: uniform (double and float), normal, Gamma(a) for a in {0.2, 0.5, 1, 2, 8, 32},
 *     Beta(a, a) for a in {0.1, 0.2, 0.4, 1, 2, 8, 32} and two asymmetric Betas: the sample
 *     mean and variance within Z_TOL standard errors of the exact values.
 *   - distributions: Kolmogorov-Smirnov against the exact CDF (normal, gamma, beta) at
 *     significance KS_ALPHA; chi-square tests of rng_below and of rng_permutation (all 3! and
 *     4! orders) at significance CHI2_ALPHA, p-values from the regularised incomplete gamma.
 * The reference functions (incomplete beta by Numerical Recipes' continued fraction `betacf`,
 * incomplete gamma by series and continued fraction, section 6.2 and 6.4) are themselves
 * checked against closed forms and table values first.
 * Samples come from streams of the test seed (--seed S reruns with another).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "testlib.h"

/* Moment checks: 5 standard errors, a false alarm about once in 1.7 million per check. */
#define Z_TOL 5.0
/* Significance of the KS and chi-square tests (brief: 0.001). */
#define KS_ALPHA 1e-3
#define CHI2_ALPHA 1e-3
/* Samples per moment check and per KS test. */
#define N_MOMENT 400000
#define N_KS 50000
/* Reference special functions: converged to near double precision. */
#define REF_EPS 1e-14
#define REF_MAXIT 10000
/* Checks of the reference functions against closed forms and 4-digit table values. */
#define REF_RTOL 1e-10
#define TABLE_RTOL 1e-3

/* ---- reference special functions ------------------------------------------------------ */

/* Continued fraction for the incomplete beta (Numerical Recipes betacf, modified Lentz). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= REF_MAXIT; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < REF_EPS)
            break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b): the Beta(a, b) CDF. xc = 1 - x, given separately so
 * that points within an ulp of 1 (where Beta(0.1, 0.1) has 1% of its mass) are exact; 0 for
 * x <= 0 and 1 for xc <= 0. */
static double beta_cdf(double x, double xc, double a, double b)
{
    if (x <= 0.0)
        return 0.0;
    if (xc <= 0.0)
        return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(xc);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lbt) * betacf(a, b, x) / a;
    return 1.0 - exp(lbt) * betacf(b, a, xc) / b;
}

/* Regularised lower incomplete gamma P(a, x): the Gamma(a, 1) CDF. */
static double gamma_p(double a, double x)
{
    if (x <= 0.0)
        return 0.0;
    double lpre = -x + a * log(x) - lgamma(a);
    if (x < a + 1.0) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int n = 0; n < REF_MAXIT; n++) {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * REF_EPS)
                break;
        }
        return sum * exp(lpre);
    }
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
    for (int i = 1; i <= REF_MAXIT; i++) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny)
            d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < REF_EPS)
            break;
    }
    return 1.0 - exp(lpre) * h;
}

/* Upper tail of the chi-square distribution with k degrees of freedom. */
static double chi2_sf(double chi2, int k) { return 1.0 - gamma_p(0.5 * k, 0.5 * chi2); }

static double normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

static int close_rel(const char *what, double got, double want, double rtol)
{
    if (fabs(got - want) <= rtol * fabs(want))
        return 0;
    return tl_fail("%s: %.15g, expected %.15g", what, got, want);
}

static int test_reference_functions(void)
{
    /* Closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b,
     * I_1/2(a, a) = 1/2, P(1, x) = 1 - e^-x. */
    const double xs[] = {1e-6, 0.03, 0.3, 0.5, 0.77, 0.999};
    const double as[] = {0.1, 0.4, 2.0, 32.0};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        double x = xs[i];
        if (close_rel("I_x(1,1)", beta_cdf(x, 1.0 - x, 1, 1), x, REF_RTOL))
            return 1;
        for (size_t j = 0; j < sizeof as / sizeof as[0]; j++) {
            double a = as[j];
            if (close_rel("I_x(a,1)", beta_cdf(x, 1.0 - x, a, 1), pow(x, a), REF_RTOL) ||
                close_rel("I_x(1,b)", beta_cdf(x, 1.0 - x, 1, a), -expm1(a * log1p(-x)),
                          REF_RTOL) ||
                close_rel("I_1/2(a,a)", beta_cdf(0.5, 0.5, a, a), 0.5, REF_RTOL))
                return 1;
        }
        if (close_rel("P(1,x)", gamma_p(1.0, 40 * x), -expm1(-40 * x), REF_RTOL))
            return 1;
    }
    /* Chi-square 0.1% critical values from the usual tables (dof 5, 6, 9, 23). */
    const double crit[][2] = {{5, 20.515}, {6, 22.458}, {9, 27.877}, {23, 49.728}};
    for (size_t i = 0; i < sizeof crit / sizeof crit[0]; i++)
        if (close_rel("chi2 tail at the 0.1% point", chi2_sf(crit[i][1], (int)crit[i][0]), 1e-3,
                      TABLE_RTOL))
            return 1;
    return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov against a continuous CDF F, for samples rounded to doubles: a sample v
 * stands for the cell of reals that round to it, so a block of k ties at v (from i to i + k in
 * sorted order) is compared as F(cell start) against i / n and F(cell end) against
 * (i + k) / n. This matters only where cells carry mass: rng_beta returns exactly 1.0 for the
 * 1.3% of Beta(0.1, 0.1) draws above 1 - 2^-54. The cell edges are passed with their
 * complements 1 - edge, exact for edges in [1/2, 1]. Critical value: Smirnov's asymptotic
 * sqrt(-ln(alpha / 2) / 2) / sqrt(n) (n = N_KS is far in the asymptotic range; conservative
 * for rounded data). */
typedef double (*CdfFn)(double x, double xc, const double *par);

static int ks_check(const char *what, double *xs, size_t n, CdfFn cdf, const double *par)
{
    qsort(xs, n, sizeof *xs, cmp_double);
    double dmax = 0.0, where = 0.0;
    for (size_t i = 0, j; i < n; i = j) {
        double v = xs[i];
        for (j = i + 1; j < n && xs[j] == v; j++)
            ;
        double below = v - nextafter(v, -INFINITY), above = nextafter(v, INFINITY) - v;
        double f_lo = cdf(v - 0.5 * below, (1.0 - v) + 0.5 * below, par);
        double f_hi = cdf(v + 0.5 * above, (1.0 - v) - 0.5 * above, par);
        double lo = f_lo - (double)i / (double)n, hi = (double)j / (double)n - f_hi;
        if (lo > dmax || hi > dmax) {
            dmax = lo > hi ? lo : hi;
            where = v;
        }
    }
    double crit = sqrt(-0.5 * log(KS_ALPHA / 2.0)) / sqrt((double)n);
    if (dmax > crit)
        return tl_fail("%s: KS statistic %.5f > %.5f at %.17g (n %zu, significance %g)", what,
                       dmax, crit, where, n, KS_ALPHA);
    return 0;
}

/* Sample mean and variance (two-pass, double) against exact values; sd_var is the standard
 * error of the sample variance, sqrt((mu4 - sigma^4) / n). */
static int moment_check(const char *what, const double *xs, size_t n, double mean, double var,
                        double mu4)
{
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; i++)
        m += xs[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        v += (xs[i] - m) * (xs[i] - m);
    v /= (double)(n - 1);
    double se_mean = sqrt(var / (double)n), se_var = sqrt((mu4 - var * var) / (double)n);
    if (fabs(m - mean) > Z_TOL * se_mean)
        return tl_fail("%s: mean %.6g, expected %.6g (%.1f standard errors)", what, m, mean,
                       fabs(m - mean) / se_mean);
    if (fabs(v - var) > Z_TOL * se_var)
        return tl_fail("%s: variance %.6g, expected %.6g (%.1f standard errors)", what, v, var,
                       fabs(v - var) / se_var);
    return 0;
}

static int chi2_check(const char *what, const long *counts, int k, double expected_each)
{
    double chi2 = 0.0;
    for (int i = 0; i < k; i++) {
        double d = (double)counts[i] - expected_each;
        chi2 += d * d / expected_each;
    }
    double p = chi2_sf(chi2, k - 1);
    if (p < CHI2_ALPHA)
        return tl_fail("%s: chi-square %.2f with %d dof, p = %.2g < %g", what, chi2, k - 1, p,
                       CHI2_ALPHA);
    return 0;
}

static double *samples(size_t n)
{
    double *xs = malloc(n * sizeof *xs);
    if (!xs)
        tl_fail("out of memory for %zu samples", n);
    return xs;
}

/* ---- reproducibility ------------------------------------------------------------------ */

static int test_reference_vector(void)
{
    /* xoshiro256** from state {1, 2, 3, 4} (the reference C code by Blackman and Vigna). */
    static const uint64_t want[4] = {11520u, 0u, 1509978240u, 1215971899390074240u};
    Rng r = {{1, 2, 3, 4}};
    for (int i = 0; i < 4; i++) {
        uint64_t got = rng_next(&r);
        if (got != want[i])
            return tl_fail("output %d: %llu, expected %llu", i, (unsigned long long)got,
                           (unsigned long long)want[i]);
    }
    return 0;
}

static int test_seed_frozen(void)
{
    /* rng_seed(20180225, RNG_STREAM_MIXUP), from a Python model of rng.c's seeding. Results
     * record (seed, stream); changing rng_seed silently changes every recorded run. */
    static const uint64_t state[4] = {0x145cccdfb2d45394u, 0x8b8a6cb39cbb2894u,
                                      0x43fa7fc8fb54036eu, 0xaa54dafb1482c6e7u};
    static const uint64_t out[3] = {0xaa8dc9467311053cu, 0xf1a7fcbdba15ac56u,
                                    0x45a8cac0a0229b92u};
    Rng r;
    rng_seed(&r, 20180225, RNG_STREAM_MIXUP);
    for (int i = 0; i < 4; i++)
        if (r.s[i] != state[i])
            return tl_fail("state word %d: %016llx, expected %016llx", i,
                           (unsigned long long)r.s[i], (unsigned long long)state[i]);
    for (int i = 0; i < 3; i++) {
        uint64_t got = rng_next(&r);
        if (got != out[i])
            return tl_fail("output %d: %016llx, expected %016llx", i, (unsigned long long)got,
                           (unsigned long long)out[i]);
    }
    return 0;
}

static int test_determinism(void)
{
    enum { K = 1000, STREAMS = 8 };
    Rng a, b;
    rng_seed(&a, tl_seed, RNG_STREAM_INIT);
    rng_seed(&b, tl_seed, RNG_STREAM_INIT);
    for (int i = 0; i < K; i++)
        if (rng_next(&a) != rng_next(&b))
            return tl_fail("same (seed, stream) diverged at draw %d", i);
    /* A copied state (a checkpoint) continues identically, also through the samplers. */
    Rng c = a;
    for (int i = 0; i < K; i++)
        if (rng_beta(&a, 0.2, 0.2) != rng_beta(&c, 0.2, 0.2) || rng_normal(&a) != rng_normal(&c))
            return tl_fail("copied state diverged at draw %d", i);
    /* Streams 1..8 of one seed, and stream 4 of seeds + 1 and + 2^32: first outputs pairwise
     * distinct, and about half the bits differ between any two streams' sequences. */
    uint64_t first[STREAMS + 2];
    Rng rs[STREAMS + 2];
    for (int s = 0; s < STREAMS; s++)
        rng_seed(&rs[s], tl_seed, (uint64_t)s + 1);
    rng_seed(&rs[STREAMS], tl_seed + 1, RNG_STREAM_MIXUP);
    rng_seed(&rs[STREAMS + 1], tl_seed + (1ull << 32), RNG_STREAM_MIXUP);
    for (int s = 0; s < STREAMS + 2; s++) {
        Rng t = rs[s];
        first[s] = rng_next(&t);
    }
    for (int s = 0; s < STREAMS + 2; s++) {
        for (int u = s + 1; u < STREAMS + 2; u++) {
            if (first[s] == first[u])
                return tl_fail("generators %d and %d start with the same output", s, u);
            Rng x = rs[s], y = rs[u];
            long diff = 0;
            for (int i = 0; i < K; i++)
                diff += __builtin_popcountll(rng_next(&x) ^ rng_next(&y));
            /* Binomial(64 K, 1/2): mean 32 K, sd 4 sqrt(K). */
            double z = ((double)diff - 32.0 * K) / (4.0 * sqrt((double)K));
            if (fabs(z) > Z_TOL)
                return tl_fail("generators %d and %d: %ld differing bits of %d (z = %.1f)", s,
                               u, diff, 64 * K, z);
        }
    }
    return 0;
}

/* ---- uniform, below, normal ------------------------------------------------------------ */

static int test_uniform(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 101);
    double *xs = samples(N_MOMENT);
    if (!xs)
        return 1;
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        for (size_t i = 0; i < N_MOMENT && !rc; i++) {
            xs[i] = pass ? (double)rng_uniform_f(&r) : rng_uniform(&r);
            if (!(xs[i] >= 0.0 && xs[i] < 1.0))
                rc = tl_fail("uniform draw %zu is %.17g, outside [0, 1)", i, xs[i]);
        }
        /* U(0,1): mean 1/2, variance 1/12, fourth central moment 1/80. */
        if (!rc)
            rc = moment_check(pass ? "rng_uniform_f" : "rng_uniform", xs, N_MOMENT, 0.5,
                              1.0 / 12.0, 1.0 / 80.0);
    }
    free(xs);
    return rc;
}

static int test_below(void)
{
    enum { DRAWS = 700000 };
    Rng r;
    rng_seed(&r, tl_seed, 102);
    const int ns[] = {2, 7, 10, 33};
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
        long counts[33] = {0};
        for (int i = 0; i < DRAWS; i++) {
            uint64_t v = rng_below(&r, (uint64_t)ns[j]);
            if (v >= (uint64_t)ns[j])
                return tl_fail("rng_below(%d) gave %llu", ns[j], (unsigned long long)v);
            counts[v]++;
        }
        char what[64];
        snprintf(what, sizeof what, "rng_below(%d)", ns[j]);
        if (chi2_check(what, counts, ns[j], (double)DRAWS / ns[j]))
            return 1;
    }
    for (int i = 0; i < 100; i++)
        if (rng_below(&r, 1) != 0)
            return tl_fail("rng_below(1) is not 0");
    /* n = 3 * 2^62 rejects a quarter of the raw draws (Lemire's threshold 2^62): values stay
     * below n and the top third [2^63, n) gets a third of them. */
    const uint64_t big = 3ull << 62;
    long top = 0;
    for (int i = 0; i < DRAWS; i++) {
        uint64_t v = rng_below(&r, big);
        if (v >= big)
            return tl_fail("rng_below(3 * 2^62) gave %llu", (unsigned long long)v);
        top += v >= (1ull << 63);
    }
    double z = ((double)top - DRAWS / 3.0) / sqrt(DRAWS * (1.0 / 3.0) * (2.0 / 3.0));
    if (fabs(z) > Z_TOL)
        return tl_fail("rng_below(3 * 2^62): %ld of %d in the top third (z = %.1f)", top, DRAWS,
                       z);
    return 0;
}

static double cdf_normal(double x, double xc, const double *par)
{
    (void)xc;
    (void)par;
    return normal_cdf(x);
}

static int test_normal(void)
{
    Rng r;
    rng_seed(&r, tl_seed, 103);
    double *xs = samples(N_MOMENT);
    if (!xs)
        return 1;
    for (size_t i = 0; i < N_MOMENT; i++)
        xs[i] = rng_normal(&r);
    /* N(0, 1): fourth central moment 3. */
    int rc = moment_check("rng_normal", xs, N_MOMENT, 0.0, 1.0, 3.0);
    if (!rc)
        rc = ks_check("rng_normal", xs, N_KS, cdf_normal, NULL);
    free(xs);
    return rc;
}

/* ---- gamma and beta --------------------------------------------------------------------- */

static double cdf_gamma(double x, double xc, const double *par)
{
    (void)xc;
    return gamma_p(par[0], x);
}

static double cdf_beta(double x, double xc, const double *par)
{
    return beta_cdf(x, xc, par[0], par[1]);
}

static int test_gamma(void)
{
    const double shapes[] = {0.2, 0.5, 1.0, 2.0, 8.0, 32.0};
    Rng r;
    rng_seed(&r, tl_seed, 104);
    double *xs = samples(N_MOMENT);
    if (!xs)
        return 1;
    int rc = 0;
    for (size_t j = 0; j < sizeof shapes / sizeof shapes[0] && !rc; j++) {
        double a = shapes[j];
        for (size_t i = 0; i < N_MOMENT; i++)
            xs[i] = rng_gamma(&r, a);
        char what[64];
        snprintf(what, sizeof what, "gamma(%g)", a);
        /* Gamma(a, 1): mean a, variance a, fourth central moment 3a(a + 2). */
        rc = moment_check(what, xs, N_MOMENT, a, a, 3.0 * a * (a + 2.0));
        if (!rc)
            rc = ks_check(what, xs, N_KS, cdf_gamma, &a);
    }
    /* Tiny shapes: the log-space boost keeps log G finite where G itself underflows. */
    for (int i = 0; i < 1000 && !rc; i++) {
        double lg = rng_log_gamma(&r, 1e-3);
        if (!isfinite(lg))
            rc = tl_fail("rng_log_gamma(1e-3) is %g", lg);
    }
    free(xs);
    return rc;
}

/* Fourth central moment of Beta(a, b), from its excess kurtosis. */
static double beta_mu4(double a, double b)
{
    double s = a + b, var = a * b / (s * s * (s + 1.0));
    double exkurt = 6.0 * ((a - b) * (a - b) * (s + 1.0) - a * b * (s + 2.0)) /
                    (a * b * (s + 2.0) * (s + 3.0));
    return (exkurt + 3.0) * var * var;
}

static int test_beta(void)
{
    /* Symmetric: the mixup alphas of the paper and around them; then two asymmetric shapes. */
    const double ab[][2] = {{0.1, 0.1}, {0.2, 0.2}, {0.4, 0.4}, {1, 1}, {2, 2}, {8, 8},
                            {32, 32},   {0.5, 2.0}, {3.0, 0.7}};
    Rng r;
    rng_seed(&r, tl_seed, 105);
    double *xs = samples(N_MOMENT);
    if (!xs)
        return 1;
    int rc = 0;
    for (size_t j = 0; j < sizeof ab / sizeof ab[0] && !rc; j++) {
        double a = ab[j][0], b = ab[j][1], s = a + b;
        for (size_t i = 0; i < N_MOMENT && !rc; i++) {
            xs[i] = rng_beta(&r, a, b);
            if (!(xs[i] >= 0.0 && xs[i] <= 1.0))
                rc = tl_fail("beta(%g, %g) draw %zu is %g", a, b, i, xs[i]);
        }
        if (rc)
            break;
        char what[64];
        snprintf(what, sizeof what, "beta(%g, %g)", a, b);
        rc = moment_check(what, xs, N_MOMENT, a / s, a * b / (s * s * (s + 1.0)), beta_mu4(a, b));
        if (!rc)
            rc = ks_check(what, xs, N_KS, cdf_beta, ab[j]);
    }
    free(xs);
    return rc;
}

/* ---- permutations ----------------------------------------------------------------------- */

/* Lehmer code of a permutation of 0..n-1: its rank in 0..n!-1. */
static int perm_rank(const int *p, int n)
{
    int rank = 0;
    for (int i = 0; i < n; i++) {
        int smaller = 0;
        for (int j = i + 1; j < n; j++)
            smaller += p[j] < p[i];
        rank = rank * (n - i) + smaller;
    }
    return rank;
}

static int test_permutation(void)
{
    enum { DRAWS = 240000 };
    Rng r;
    rng_seed(&r, tl_seed, 106);
    for (int n = 3; n <= 4; n++) {
        long counts[24] = {0};
        int fact = n == 3 ? 6 : 24;
        int p[4];
        for (int i = 0; i < DRAWS; i++) {
            rng_permutation(&r, p, n);
            counts[perm_rank(p, n)]++;
        }
        char what[64];
        snprintf(what, sizeof what, "permutations of %d", n);
        if (chi2_check(what, counts, fact, (double)DRAWS / fact))
            return 1;
    }
    /* Valid permutations at odd and trivial sizes; rng_shuffle is the same algorithm. */
    int p[101], q[101], seen[101];
    for (int n = 1; n <= 101; n += 50) {
        Rng a = r;
        rng_permutation(&r, p, n);
        for (int i = 0; i < n; i++)
            q[i] = i;
        rng_shuffle(&a, q, n);
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < n; i++) {
            if (p[i] < 0 || p[i] >= n || seen[p[i]]++)
                return tl_fail("rng_permutation(%d) is not a permutation at %d", n, i);
            if (p[i] != q[i])
                return tl_fail("rng_shuffle of the identity differs from rng_permutation");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"reference_functions", test_reference_functions},
        {"reference_vector", test_reference_vector},
        {"seed_frozen", test_seed_frozen},
        {"determinism", test_determinism},
        {"uniform", test_uniform},
        {"below", test_below},
        {"normal", test_normal},
        {"gamma", test_gamma},
        {"beta", test_beta},
        {"permutation", test_permutation},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
