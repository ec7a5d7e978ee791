/*
 * rng.h: the one random generator type. Every random decision of a run (initialisation, data
 * order, crops and flips, mixup's lambda and permutation, dropout masks, label corruption) comes
 * from an Rng passed explicitly; the engine has no hidden global generator.
 *
 * Generator: xoshiro256** (Blackman and Vigna 2018), seeded through splitmix64. A run derives
 * independent streams from its seed with rng_seed(r, seed, stream), one stream per purpose
 * (RNG_STREAM_*), so that adding draws to one purpose never shifts another.
 *
 * The state is a plain struct of four words: checkpoints store and restore it byte for byte.
 */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

typedef struct Rng {
    uint64_t s[4];
} Rng;

/* Stream ids: stable numbers, recorded in results; never renumber. */
enum {
    RNG_STREAM_INIT = 1,    /* parameter initialisation */
    RNG_STREAM_ORDER = 2,   /* epoch shuffles */
    RNG_STREAM_AUGMENT = 3, /* crops and flips */
    RNG_STREAM_MIXUP = 4,   /* lambda and permutation */
    RNG_STREAM_DROPOUT = 5, /* dropout masks */
    RNG_STREAM_LABELS = 6,  /* label corruption */
    RNG_STREAM_SUBSET = 7,  /* class-balanced subsets */
    RNG_STREAM_GAN = 8      /* GAN noise and toy data */
};

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_next(Rng *r);
/* Uniform on [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Uniform on [0, 1) as float with 24 random bits. */
float rng_uniform_f(Rng *r);
/* Uniform integer on [0, n); n >= 1. Unbiased (Lemire's multiply-and-reject). */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call; no cached spare, so the state is 4 words). */
double rng_normal(Rng *r);
/* Gamma(shape, 1), shape > 0: Marsaglia and Tsang (2000), with the shape < 1 boost
 * G(a) = G(a + 1) * U^(1/a). Returns log of the variate, which stays finite for tiny shapes. */
double rng_log_gamma(Rng *r, double shape);
/* Gamma(shape, 1), shape > 0. */
double rng_gamma(Rng *r, double shape);
/* Beta(a, b), a, b > 0, computed from two log-gammas so that small shapes never give 0/0. */
double rng_beta(Rng *r, double a, double b);
/* Writes a uniformly random permutation of 0..n-1 (Fisher-Yates, from the last index down). */
void rng_permutation(Rng *r, int *perm, int n);
/* Shuffles idx[0..n-1] in place (same algorithm as rng_permutation). */
void rng_shuffle(Rng *r, int *idx, int n);

#endif
