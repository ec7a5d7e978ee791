/*
 * gan_data.c: the ring and grid toy distributions of Figure 5, the discriminator's joined and
 * shuffled batches, and the two mixup variants on them (see gan_data.h for the conventions).
 *
 * Reference: hongyi-zhang/mixup gan/example_gan.py (means_circle, means_grid, sample_real,
 * sample_noise, mixup_batch). The demo computes its ring angles with pi = 3.14159265359 in
 * float32; we use M_PI in double: the centres differ by < 1e-6, far below the 0.01 spread.
 * Non-goals: other toy shapes, anisotropic noise.
 */
#include "data/gan_data.h"

#include <math.h>
#include <string.h>

static const char *const gan_shape_names[] = {"ring", "grid"};

int gan_shape_parse(const char *name, GanShape *out)
{
    for (int i = 0; i < 2; i++) {
        if (!strcmp(name, gan_shape_names[i])) {
            *out = (GanShape)i;
            return 0;
        }
    }
    return -1;
}

const char *gan_shape_name(GanShape s) { return gan_shape_names[s]; }

int gan_num_modes(GanShape s)
{
    return s == GAN_RING ? GAN_RING_MODES : GAN_GRID_SIDE * GAN_GRID_SIDE;
}

void gan_centres(GanShape s, double *c)
{
    if (s == GAN_RING) {
        for (int k = 0; k < GAN_RING_MODES; k++) {
            double t = 2.0 * M_PI * (double)k / (double)GAN_RING_MODES;
            c[2 * k] = sin(t);
            c[2 * k + 1] = cos(t);
        }
        return;
    }
    int half = GAN_GRID_SIDE / 2;
    for (int i = 0; i < GAN_GRID_SIDE; i++) {
        for (int j = 0; j < GAN_GRID_SIDE; j++) {
            int k = i * GAN_GRID_SIDE + j;
            c[2 * k] = GAN_GRID_SPACING * (double)(i - half);
            c[2 * k + 1] = GAN_GRID_SPACING * (double)(j - half);
        }
    }
}

int gan_sample_real(float *x, int *mode, int n, GanShape s, double std, Rng *r, Err *err)
{
    double c[2 * GAN_MAX_MODES];
    if (n < 1)
        return err_set(err, "gan_sample_real: n is %d, expected >= 1", n);
    if (!isfinite(std) || std < 0.0)
        return err_set(err, "gan_sample_real: std is %g, expected a finite number >= 0", std);
    gan_centres(s, c);
    int k = gan_num_modes(s);
    for (int i = 0; i < n; i++) {
        int m = (int)rng_below(r, (uint64_t)k);
        double dx = rng_normal(r);
        double dy = rng_normal(r);
        x[2 * i] = (float)(c[2 * m] + std * dx);
        x[2 * i + 1] = (float)(c[2 * m + 1] + std * dy);
        if (mode)
            mode[i] = m;
    }
    return 0;
}

void gan_sample_noise(float *z, size_t n, Rng *r)
{
    for (size_t i = 0; i < n; i++)
        z[i] = (float)rng_normal(r);
}

void gan_join(float *x, float *t, const float *real, int nr, const float *fake, int nf,
              int *perm, Rng *r)
{
    int n = nr + nf;
    if (perm)
        rng_permutation(r, perm, n);
    for (int i = 0; i < n; i++) {
        int src = perm ? perm[i] : i;
        const float *p = src < nr ? real + 2 * src : fake + 2 * (src - nr);
        x[2 * i] = p[0];
        x[2 * i + 1] = p[1];
        t[i] = src < nr ? 1.0f : 0.0f;
    }
}

void gan_mix_uniform(float *x, float *t, float *lambda, const float *x1, const float *t1,
                     const float *x2, const float *t2, int n, double alpha, Rng *r)
{
    for (int i = 0; i < n; i++) {
        /* the demo: torch.randn(n, 1).uniform_(0, mixup), one weight per row */
        double lam = alpha * rng_uniform(r);
        double mu = 1.0 - lam;
        x[2 * i] = (float)(lam * x1[2 * i] + mu * x2[2 * i]);
        x[2 * i + 1] = (float)(lam * x1[2 * i + 1] + mu * x2[2 * i + 1]);
        t[i] = (float)(lam * t1[i] + mu * t2[i]);
        if (lambda)
            lambda[i] = (float)lam;
    }
}

void gan_mix_beta(float *x, float *t, const float *real, const float *fake, int n,
                  double alpha, Rng *r)
{
    for (int i = 0; i < n; i++) {
        double lam = rng_beta(r, alpha, alpha);
        double mu = 1.0 - lam;
        x[2 * i] = (float)(lam * real[2 * i] + mu * fake[2 * i]);
        x[2 * i + 1] = (float)(lam * real[2 * i + 1] + mu * fake[2 * i + 1]);
        t[i] = (float)lam;
    }
}

void gan_generator_grad(float *dg, const float *dx, int first, int n, const float *lambda)
{
    const float *src = dx + 2 * (size_t)first;
    for (int i = 0; i < n; i++) {
        /* minimax: d(-L_D)/dg = -(d xm / dg) dL_D/dxm, with d xm / dg = 1 - lambda */
        float w = lambda ? 1.0f - lambda[i] : 1.0f;
        dg[2 * i] = -w * src[2 * i];
        dg[2 * i + 1] = -w * src[2 * i + 1];
    }
}
