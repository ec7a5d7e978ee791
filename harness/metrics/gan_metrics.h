/*
 * gan_metrics.h: numbers for Figure 5, which the paper only shows as pictures. For one
 * snapshot (generated points from fixed noise, fixed real points) of a GAN on the ring or grid
 * toy data (gan_data.h):
 *   modes_covered  modes with at least GAN_COVER_PERCENT (1%) of the generated points within
 *                  GAN_QUALITY_STDS (3) standard deviations (Euclidean) of the mode's centre;
 *   high_quality   the fraction of generated points within 3 standard deviations of some
 *                  centre (the "high-quality samples" of VEEGAN / Srivastava et al. 2017);
 *   energy         the energy distance of Szekely and Rizzo between the generated and the real
 *                  point sets, 2 E|X - Y| - E|X - X'| - E|Y - Y'|, as V-statistics (every pair,
 *                  the zero diagonal included), i.e. exactly the energy distance of the two
 *                  empirical distributions: >= 0, and 0 only for equal sets. Units of length;
 *                  parameter-free;
 *   mmd2           squared maximum mean discrepancy with the Gaussian kernel
 *                  k(a, b) = exp(-|a - b|^2 / (2 h^2)), h = GAN_MMD_BANDWIDTH (0.1: ten mode
 *                  standard deviations, a fifth of the grid's spacing, so a point near a mode
 *                  counts as near it and a point between modes does not), V-statistics;
 *   outside        generated points outside the demo's plotting frame: both axes span
 *                  [min - 0.25, max + 0.25] over all coordinates of the real points
 *                  (GAN_FRAME_MARGIN; example_gan.py's plot()), frame_lo and frame_hi.
 * All sums are in double, single-threaded, in a fixed order, so the numbers are bit-identical
 * across runs and thread counts. O(n^2) pairs: 10^6 for 1,000 points, a few milliseconds.
 */
#ifndef GAN_METRICS_H
#define GAN_METRICS_H

#include "data/gan_data.h"
#include "core/tensor.h"

#define GAN_COVER_PERCENT 1     /* a mode is covered by >= 1% of the generated points */
#define GAN_QUALITY_STDS 3.0    /* "near a mode": within 3 standard deviations */
#define GAN_MMD_BANDWIDTH 0.1   /* Gaussian kernel width h, see above */
#define GAN_FRAME_MARGIN 0.25   /* the demo's plot limits: real range +- 0.25 */

typedef struct GanMetrics {
    int n_modes;         /* 8 (ring) or 25 (grid) */
    int modes_covered;
    double high_quality; /* fraction in [0, 1] */
    double energy;
    double mmd2;
    int outside;         /* generated points outside [frame_lo, frame_hi]^2 */
    double frame_lo, frame_hi;
} GanMetrics;

/* m: out; gen: (n_gen, 2), real: (n_real, 2), both finite; s and std: the data's modes.
 * Fails naming the first non-finite point, or on n < 1 or std not finite and > 0. */
int gan_metrics(GanMetrics *m, const float *gen, int n_gen, const float *real, int n_real,
                GanShape s, double std, Err *err);

/* The parts, for tests and other callers (no checks: n >= 1, finite points):
 * counts: (gan_num_modes(s)) out, the points within radius of each centre (a point within
 * radius of two centres counts for both; radius < half the spacing makes that impossible).
 * Returns the number of points within radius of some centre. */
int gan_mode_counts(int *counts, const float *x, int n, GanShape s, double radius);
double gan_energy_distance(const float *a, int na, const float *b, int nb);
double gan_mmd2(const float *a, int na, const float *b, int nb, double bandwidth);

#endif
