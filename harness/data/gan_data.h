/*
 * gan_data.h: the GAN toy data of the mixup paper's Figure 5 and the discriminator's batches.
 *
 * Data (/work/shared/paper/PAPER_FACTS.md section 8; hongyi-zhang/mixup gan/example_gan.py):
 *   ring: 8 isotropic Gaussians centred at (sin t, cos t), t = 0, 2 pi / 8, ..., 7 2 pi / 8;
 *   grid: 25 isotropic Gaussians centred at {-1, -0.5, 0, 0.5, 1}^2, the first coordinate
 *         outer (centre k = 5 i + j is ((i - 2) / 2, (j - 2) / 2), as the demo's loops);
 *   the mode is chosen uniformly, the standard deviation is GAN_STD (0.01) unless told.
 * Points are rows of 2 floats: x is (N, 2) row-major (an (N, 2, 1, 1) tensor has the same
 * layout). Generator noise z is (N, n_latent), i.i.d. N(0, 1).
 *
 * Batches (the demo's mixup_batch): a discriminator batch joins nr real points (label 1) and
 * nf generated points (label 0) and shuffles the rows with one permutation. Mixing:
 *   gan_mix_uniform: the demo's mixup, two joined batches, a per-row lambda ~ U(0, alpha),
 *                    x = lambda x1 + (1 - lambda) x2 against t = lambda t1 + (1 - lambda) t2;
 *   gan_mix_beta:    the paper's formula (section 3.7), row i of x is
 *                    lambda_i real_i + (1 - lambda_i) fake_i with target lambda_i and a
 *                    per-row lambda_i ~ Beta(alpha, alpha).
 * The mixing weights are computed in double and rounded once to float.
 *
 * Randomness comes only from the Rng arguments; the draw order is documented per function so
 * that a run is reproducible from its seed. Nothing here allocates.
 */
#ifndef GAN_DATA_H
#define GAN_DATA_H

#include <stddef.h>

#include "core/rng.h"
#include "core/tensor.h"

#define GAN_DIM 2             /* the data are points in the plane */
#define GAN_STD 0.01          /* per-mode standard deviation of the paper and the demo */
#define GAN_RING_MODES 8      /* the demo's means_circle(k = 8) */
#define GAN_GRID_SIDE 5       /* the demo's means_grid(k = 25): 5 x 5 */
#define GAN_GRID_SPACING 0.5  /* integers -2..2 divided by 2 */
#define GAN_MAX_MODES 25

typedef enum { GAN_RING = 0, GAN_GRID = 1 } GanShape;

/* "ring" | "grid"; -1 (and *out untouched) when unknown. */
int gan_shape_parse(const char *name, GanShape *out);
const char *gan_shape_name(GanShape s);
int gan_num_modes(GanShape s);
/* c: (gan_num_modes(s), 2) out, the centres in double, in the order above. */
void gan_centres(GanShape s, double *c);

/* x: (n, 2) out; mode: (n) out or NULL, the index of each point's centre. Per point draws
 * the mode (rng_below), then the two coordinates' noise (rng_normal, x first). Fails on n < 1
 * or std not finite or < 0. */
int gan_sample_real(float *x, int *mode, int n, GanShape s, double std, Rng *r, Err *err);
/* z: (n) out, i.i.d. standard normal floats in element order. */
void gan_sample_noise(float *z, size_t n, Rng *r);

/* x: (nr + nf, 2) out; t: (nr + nf) out, labels 1 then 0 before shuffling; real: (nr, 2) in;
 * fake: (nf, 2) in; perm: (nr + nf) scratch, or NULL for no shuffle (rows stay real first).
 * With perm, row i of x is row perm[i] of [real; fake] (torch's data[perm]), perm drawn by
 * rng_permutation. x must not overlap real or fake. */
void gan_join(float *x, float *t, const float *real, int nr, const float *fake, int nf,
              int *perm, Rng *r);

/* x, t: (n, 2), (n) out; x1, x2: (n, 2) in; t1, t2: (n) in; lambda: (n) out or NULL. One
 * lambda = alpha U[0, 1) per row, in row order. alpha in [0, 1]; alpha = 0 copies x2, t2. */
void gan_mix_uniform(float *x, float *t, float *lambda, const float *x1, const float *t1,
                     const float *x2, const float *t2, int n, double alpha, Rng *r);

/* x: (n, 2) out; t: (n) out, the mixing weights lambda (the soft target of each row);
 * real, fake: (n, 2) in. One lambda ~ Beta(alpha, alpha) per row, in row order; alpha > 0. */
void gan_mix_beta(float *x, float *t, const float *real, const float *fake, int n,
                  double alpha, Rng *r);

/* The generator's gradient from the discriminator's input gradient, for the minimax game in
 * which the generator maximises the discriminator's loss (the demo's lossG = -bce):
 *   dg[i] = -w_i dx[first + i], w_i = 1 - lambda[i] with lambda (the paper's mixed input
 *   lambda real + (1 - lambda) g), else 1 (unmixed rows first .. first + n - 1).
 * dg: (n, 2) out; dx: (>= first + n, 2) in; lambda: (n) or NULL. */
void gan_generator_grad(float *dg, const float *dx, int first, int n, const float *lambda);

#endif
