/*
 * gan_metrics.c: mode coverage, high-quality fraction, energy distance, Gaussian-kernel MMD and
 * the plotting frame for a GAN snapshot on the toy data (definitions in gan_metrics.h).
 *
 * References: Szekely and Rizzo, "Energy statistics" (2013) for the energy distance; Gretton
 * et al., "A kernel two-sample test" (JMLR 2012) for the MMD; Srivastava et al., "VEEGAN"
 * (2017) for modes and high-quality samples within 3 standard deviations.
 * Non-goals: sample-size corrections (U-statistics), tests of significance.
 */
#include "metrics/gan_metrics.h"

#include <math.h>
#include <string.h>

int gan_mode_counts(int *counts, const float *x, int n, GanShape s, double radius)
{
    double c[2 * GAN_MAX_MODES];
    int k = gan_num_modes(s), near = 0;
    double r2 = radius * radius;
    gan_centres(s, c);
    memset(counts, 0, (size_t)k * sizeof *counts);
    for (int i = 0; i < n; i++) {
        int hit = 0;
        for (int m = 0; m < k; m++) {
            double dx = (double)x[2 * i] - c[2 * m];
            double dy = (double)x[2 * i + 1] - c[2 * m + 1];
            if (dx * dx + dy * dy <= r2) {
                counts[m]++;
                hit = 1;
            }
        }
        near += hit;
    }
    return near;
}

/* Mean of f(|a_i - b_j|) over all pairs, f = identity (p = 1) or exp(-d^2 / (2 h^2)). */
static double pair_mean(const float *a, int na, const float *b, int nb, int gauss, double h)
{
    double total = 0.0, inv2h2 = gauss ? 1.0 / (2.0 * h * h) : 0.0;
    for (int i = 0; i < na; i++) {
        double ax = (double)a[2 * i], ay = (double)a[2 * i + 1];
        double row = 0.0;
        for (int j = 0; j < nb; j++) {
            double dx = ax - (double)b[2 * j];
            double dy = ay - (double)b[2 * j + 1];
            double d2 = dx * dx + dy * dy;
            row += gauss ? exp(-d2 * inv2h2) : sqrt(d2);
        }
        total += row;
    }
    return total / ((double)na * (double)nb);
}

double gan_energy_distance(const float *a, int na, const float *b, int nb)
{
    double e = 2.0 * pair_mean(a, na, b, nb, 0, 0.0) - pair_mean(a, na, a, na, 0, 0.0) -
               pair_mean(b, nb, b, nb, 0, 0.0);
    /* exactly >= 0 in real arithmetic; keep rounding from showing -1e-17 for equal sets */
    return e > 0.0 ? e : 0.0;
}

double gan_mmd2(const float *a, int na, const float *b, int nb, double bandwidth)
{
    double m = pair_mean(a, na, a, na, 1, bandwidth) + pair_mean(b, nb, b, nb, 1, bandwidth) -
               2.0 * pair_mean(a, na, b, nb, 1, bandwidth);
    return m > 0.0 ? m : 0.0;
}

static int check_points(const char *what, const float *x, int n, Err *err)
{
    if (n < 1)
        return err_set(err, "gan_metrics: %s has %d points, expected >= 1", what, n);
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[2 * i]) || !isfinite(x[2 * i + 1])) {
            /* a NaN's sign bit is noise: print every NaN as "nan" */
            double a = isnan(x[2 * i]) ? NAN : (double)x[2 * i];
            double b = isnan(x[2 * i + 1]) ? NAN : (double)x[2 * i + 1];
            return err_set(err, "gan_metrics: %s point %d is (%g, %g), expected finite "
                                "coordinates (did training diverge?)", what, i, a, b);
        }
    }
    return 0;
}

int gan_metrics(GanMetrics *m, const float *gen, int n_gen, const float *real, int n_real,
                GanShape s, double std, Err *err)
{
    int counts[GAN_MAX_MODES];
    memset(m, 0, sizeof *m);
    if (!isfinite(std) || !(std > 0.0))
        return err_set(err, "gan_metrics: std is %g, expected a finite number > 0", std);
    if (check_points("generated", gen, n_gen, err) || check_points("real", real, n_real, err))
        return -1;
    m->n_modes = gan_num_modes(s);
    int near = gan_mode_counts(counts, gen, n_gen, s, GAN_QUALITY_STDS * std);
    for (int k = 0; k < m->n_modes; k++)
        /* integer comparison: 10 of 1,000 points is exactly 1% */
        m->modes_covered += 100L * counts[k] >= (long)GAN_COVER_PERCENT * n_gen;
    m->high_quality = (double)near / (double)n_gen;
    m->energy = gan_energy_distance(gen, n_gen, real, n_real);
    m->mmd2 = gan_mmd2(gen, n_gen, real, n_real, GAN_MMD_BANDWIDTH);

    double lo = (double)real[0], hi = (double)real[0];
    for (int i = 0; i < 2 * n_real; i++) {
        lo = fmin(lo, (double)real[i]);
        hi = fmax(hi, (double)real[i]);
    }
    m->frame_lo = lo - GAN_FRAME_MARGIN;
    m->frame_hi = hi + GAN_FRAME_MARGIN;
    for (int i = 0; i < n_gen; i++) {
        double x = (double)gen[2 * i], y = (double)gen[2 * i + 1];
        m->outside += x < m->frame_lo || x > m->frame_hi || y < m->frame_lo || y > m->frame_hi;
    }
    return 0;
}
