/*
 * rng.c: xoshiro256** with splitmix64 seeding; uniform, normal, gamma, beta and permutations.
 * References: Blackman and Vigna, "Scrambled linear pseudorandom number generators" (2018);
 * Marsaglia and Tsang, "A simple method for generating gamma variables" (2000).
 */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t mix = stream;
    uint64_t x = seed ^ splitmix64(&mix);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    /* xoshiro's only bad state is all zeros; splitmix64 cannot produce four zero words, but
     * make the invariant explicit. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(Rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

float rng_uniform_f(Rng *r) { return (float)(rng_next(r) >> 40) * 0x1.0p-24f; }

uint64_t rng_below(Rng *r, uint64_t n)
{
    /* Lemire (2019): multiply-shift with rejection of the biased low range. */
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n;
        while (lo < threshold) {
            m = (unsigned __int128)rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rng_normal(Rng *r)
{
    /* Box-Muller; 1 - U keeps the log argument in (0, 1]. */
    double u1 = 1.0 - rng_uniform(r);
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double rng_log_gamma(Rng *r, double shape)
{
    double boost = 0.0;
    if (shape < 1.0) {
        /* G(a) = G(a + 1) * U^(1/a), kept in log space: log U / a can be -1000 for a = 0.001. */
        double u = 1.0 - rng_uniform(r);
        boost = log(u) / shape;
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = 1.0 - rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return log(d * v) + boost;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return log(d * v) + boost;
    }
}

double rng_gamma(Rng *r, double shape) { return exp(rng_log_gamma(r, shape)); }

double rng_beta(Rng *r, double a, double b)
{
    /* X / (X + Y) = 1 / (1 + exp(log Y - log X)): finite even when both gammas underflow. */
    double lx = rng_log_gamma(r, a);
    double ly = rng_log_gamma(r, b);
    return 1.0 / (1.0 + exp(ly - lx));
}

void rng_shuffle(Rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void rng_permutation(Rng *r, int *perm, int n)
{
    for (int i = 0; i < n; i++)
        perm[i] = i;
    rng_shuffle(r, perm, n);
}
