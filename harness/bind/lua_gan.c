/*
 * lua_gan.c: the "engine.gan" Lua module: Figure 5's toy data, discriminator batches, the two
 * mixup variants, the generator's gradient and the snapshot metrics (gan_data.h,
 * gan_metrics.h). The training loop itself is Lua (harness/lua/tasks/gan.lua); every per-element
 * loop it needs is here.
 *
 *   gan.num_modes(shape) -> 8 | 25;  gan.centres(shape) -> Tensor (K, 2)
 *   gan.sample_real(x, shape, std, rng[, modes])   x (N, 2) filled; modes: Tensor of N floats
 *                                                  (0-based centre indices), optional
 *   gan.sample_noise(z, rng)                       z filled with N(0, 1)
 *   gan.join(x, t, real, fake, rng | nil)          x (nr + nf, 2), t (nr + nf): [real; fake]
 *                                                  with labels 1 / 0, rows shuffled with rng
 *   gan.mix_uniform(x, t, x1, t1, x2, t2, alpha, rng[, lambda])   the demo's mixup
 *   gan.mix_beta(x, t, real, fake, alpha, rng)     the paper's; t gets the lambdas
 *   gan.generator_grad(dg, dx, first, lambda | nil)
 *   gan.metrics(gen, real, shape, std) -> {n_modes =, modes_covered =, high_quality =,
 *                                          energy =, mmd2 =, outside =, frame_lo =, frame_hi =}
 *   gan.energy_distance(a, b), gan.mmd2(a, b, bandwidth) -> number
 *   gan.flush_denormals(on) -> previous: x86 FTZ/DAZ for this thread and the OpenMP pool
 *   gan.STD, gan.COVER_PERCENT, gan.QUALITY_STDS, gan.MMD_BANDWIDTH, gan.FRAME_MARGIN
 * Shapes: "ring" | "grid". Points are tensors of N rows of 2 floats: (N, 2) or (N, 2, 1, 1),
 * what a net with input {c = 2, h = 1, w = 1} takes and gives; labels, targets and lambdas are
 * tensors of N floats of any shape. Outputs must not overlap inputs.
 * Memory: the permutation scratch of join lives in one userdata shared by the module's
 * functions as an upvalue; it only grows, so a steady-state step allocates nothing.
 */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/gan_data.h"
#include "metrics/gan_metrics.h"
#include "bind/lua_engine.h"
#include "bind/lua_gan.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#define GAN_HAVE_MXCSR 1
#define MXCSR_FTZ 0x8000u /* flush results that would be denormal to zero */
#define MXCSR_DAZ 0x0040u /* read denormal inputs as zero */
#else
#define GAN_HAVE_MXCSR 0
#endif

typedef struct GanScratch {
    int *perm;
    size_t cap;
} GanScratch;

static GanShape check_shape(lua_State *L, int idx)
{
    static const char *const names[] = {"ring", "grid", NULL}; /* GanShape's order */
    return (GanShape)luaL_checkoption(L, idx, NULL, names);
}

/* Tensor at idx holding rows of 2 floats: (N, 2) or (N, 2, 1, 1); returns N. rows >= 0
 * demands exactly that many. */
static int check_points(lua_State *L, int idx, const char *fn, const char *what, int rows,
                        Tensor **out)
{
    char buf[64];
    Tensor *t = lua_tensor_check(L, idx);
    int ok = t->ndim >= 2 && t->shape[0] >= 1 && t->size == 2 * (size_t)t->shape[0] &&
             t->shape[1] == GAN_DIM;
    if (!ok)
        lua_raisef(L, "%s: %s is %s, expected (N, 2) or (N, 2, 1, 1) points", fn, what,
                   tensor_shape_str(t, buf, sizeof buf));
    if (rows >= 0 && t->shape[0] != rows)
        lua_raisef(L, "%s: %s has %d rows, expected %d", fn, what, t->shape[0], rows);
    *out = t;
    return t->shape[0];
}

/* Tensor at idx holding exactly n floats (labels, targets, lambdas). */
static Tensor *check_vector(lua_State *L, int idx, const char *fn, const char *what, int n)
{
    Tensor *t = lua_tensor_check(L, idx);
    if (t->size != (size_t)n)
        lua_raisef(L, "%s: %s has %zu elements, expected %d (one per row)", fn, what, t->size, n);
    return t;
}

static double check_alpha(lua_State *L, int idx, const char *fn, double max, int zero_ok)
{
    double a = luaL_checknumber(L, idx);
    if (!isfinite(a) || a < 0.0 || a > max || (!zero_ok && a == 0.0))
        lua_raisef(L, "%s: alpha is %g, expected a number in %s0, %g]", fn, a, zero_ok ? "[" : "(",
                   max);
    return a;
}

/* ---- data --------------------------------------------------------------------------------- */

static int l_gan_num_modes(lua_State *L)
{
    lua_pushinteger(L, gan_num_modes(check_shape(L, 1)));
    return 1;
}

static int l_gan_centres(lua_State *L)
{
    double c[2 * GAN_MAX_MODES];
    GanShape s = check_shape(L, 1);
    int k = gan_num_modes(s);
    gan_centres(s, c);
    int shape[2] = {k, GAN_DIM};
    Tensor *t = lua_tensor_new(L, 2, shape);
    for (int i = 0; i < 2 * k; i++)
        t->data[i] = (float)c[i];
    return 1;
}

static int l_gan_sample_real(lua_State *L)
{
    static const char fn[] = "gan.sample_real";
    Tensor *x;
    int n = check_points(L, 1, fn, "x", -1, &x);
    GanShape s = check_shape(L, 2);
    double std = luaL_checknumber(L, 3);
    Rng *r = lua_rng_check(L, 4);
    Tensor *modes = lua_isnoneornil(L, 5) ? NULL : check_vector(L, 5, fn, "modes", n);
    Err err;
    if (!modes) {
        if (gan_sample_real(x->data, NULL, n, s, std, r, &err))
            return lua_raisef(L, "%s", err.msg);
        return 0;
    }
    /* one point per call: the same draws as one call for all n, with each mode recorded */
    for (int i = 0; i < n; i++) {
        int m;
        if (gan_sample_real(x->data + 2 * i, &m, 1, s, std, r, &err))
            return lua_raisef(L, "%s", err.msg);
        modes->data[i] = (float)m;
    }
    return 0;
}

static int l_gan_sample_noise(lua_State *L)
{
    Tensor *z = lua_tensor_check(L, 1);
    gan_sample_noise(z->data, z->size, lua_rng_check(L, 2));
    return 0;
}

static GanScratch *scratch_perm(lua_State *L, size_t n)
{
    GanScratch *s = luaL_checkudata(L, lua_upvalueindex(1), ENGINE_GAN_SCRATCH_T);
    if (n <= s->cap)
        return s;
    int *p = malloc(n * sizeof *p);
    if (!p)
        lua_raisef(L, "gan.join: out of memory for a batch of %zu", n);
    free(s->perm);
    s->perm = p;
    s->cap = n;
    return s;
}

static int l_gan_scratch_gc(lua_State *L)
{
    GanScratch *s = luaL_checkudata(L, 1, ENGINE_GAN_SCRATCH_T);
    free(s->perm);
    memset(s, 0, sizeof *s);
    return 0;
}

static int l_gan_join(lua_State *L)
{
    static const char fn[] = "gan.join";
    Tensor *x, *real, *fake;
    int nr = check_points(L, 3, fn, "real", -1, &real);
    int nf = check_points(L, 4, fn, "fake", -1, &fake);
    if (nr > INT_MAX / 2 - nf)
        return lua_raisef(L, "%s: %d + %d rows are too many", fn, nr, nf);
    check_points(L, 1, fn, "x", nr + nf, &x);
    Tensor *t = check_vector(L, 2, fn, "t", nr + nf);
    Rng *r = lua_isnoneornil(L, 5) ? NULL : lua_rng_check(L, 5);
    if (x->data == real->data || x->data == fake->data)
        return lua_raisef(L, "%s: x must not be real or fake (the join copies rows)", fn);
    int *perm = r ? scratch_perm(L, (size_t)(nr + nf))->perm : NULL;
    gan_join(x->data, t->data, real->data, nr, fake->data, nf, perm, r);
    return 0;
}

static int l_gan_mix_uniform(lua_State *L)
{
    static const char fn[] = "gan.mix_uniform";
    Tensor *x, *x1, *x2;
    int n = check_points(L, 3, fn, "x1", -1, &x1);
    check_points(L, 1, fn, "x", n, &x);
    Tensor *t = check_vector(L, 2, fn, "t", n);
    Tensor *t1 = check_vector(L, 4, fn, "t1", n);
    check_points(L, 5, fn, "x2", n, &x2);
    Tensor *t2 = check_vector(L, 6, fn, "t2", n);
    double alpha = check_alpha(L, 7, fn, 1.0, 1);
    Rng *r = lua_rng_check(L, 8);
    Tensor *lam = lua_isnoneornil(L, 9) ? NULL : check_vector(L, 9, fn, "lambda", n);
    gan_mix_uniform(x->data, t->data, lam ? lam->data : NULL, x1->data, t1->data, x2->data,
                    t2->data, n, alpha, r);
    return 0;
}

static int l_gan_mix_beta(lua_State *L)
{
    static const char fn[] = "gan.mix_beta";
    Tensor *x, *real, *fake;
    int n = check_points(L, 3, fn, "real", -1, &real);
    check_points(L, 1, fn, "x", n, &x);
    Tensor *t = check_vector(L, 2, fn, "t", n);
    check_points(L, 4, fn, "fake", n, &fake);
    double alpha = check_alpha(L, 5, fn, HUGE_VAL, 0);
    Rng *r = lua_rng_check(L, 6);
    gan_mix_beta(x->data, t->data, real->data, fake->data, n, alpha, r);
    return 0;
}

static int l_gan_generator_grad(lua_State *L)
{
    static const char fn[] = "gan.generator_grad";
    Tensor *dg, *dx;
    int n = check_points(L, 1, fn, "dg", -1, &dg);
    int rows = check_points(L, 2, fn, "dx", -1, &dx);
    lua_Integer first = luaL_checkinteger(L, 3);
    if (first < 0 || first > rows - n)
        return lua_raisef(L, "%s: rows %lld..%lld of dx do not exist (dx has %d rows)", fn,
                          (long long)first, (long long)first + n - 1, rows);
    Tensor *lam = lua_isnoneornil(L, 4) ? NULL : check_vector(L, 4, fn, "lambda", n);
    gan_generator_grad(dg->data, dx->data, (int)first, n, lam ? lam->data : NULL);
    return 0;
}

/* ---- metrics ------------------------------------------------------------------------------ */

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, int v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static int l_gan_metrics(lua_State *L)
{
    static const char fn[] = "gan.metrics";
    Tensor *gen, *real;
    int ng = check_points(L, 1, fn, "gen", -1, &gen);
    int nr = check_points(L, 2, fn, "real", -1, &real);
    GanShape s = check_shape(L, 3);
    double std = luaL_checknumber(L, 4);
    GanMetrics m;
    Err err;
    if (gan_metrics(&m, gen->data, ng, real->data, nr, s, std, &err))
        return lua_raisef(L, "%s", err.msg);
    lua_createtable(L, 0, 8);
    set_int(L, "n_modes", m.n_modes);
    set_int(L, "modes_covered", m.modes_covered);
    set_num(L, "high_quality", m.high_quality);
    set_num(L, "energy", m.energy);
    set_num(L, "mmd2", m.mmd2);
    set_int(L, "outside", m.outside);
    set_num(L, "frame_lo", m.frame_lo);
    set_num(L, "frame_hi", m.frame_hi);
    return 1;
}

static int l_gan_energy_distance(lua_State *L)
{
    Tensor *a, *b;
    int na = check_points(L, 1, "gan.energy_distance", "a", -1, &a);
    int nb = check_points(L, 2, "gan.energy_distance", "b", -1, &b);
    lua_pushnumber(L, gan_energy_distance(a->data, na, b->data, nb));
    return 1;
}

static int l_gan_mmd2(lua_State *L)
{
    Tensor *a, *b;
    int na = check_points(L, 1, "gan.mmd2", "a", -1, &a);
    int nb = check_points(L, 2, "gan.mmd2", "b", -1, &b);
    double h = luaL_checknumber(L, 3);
    luaL_argcheck(L, isfinite(h) && h > 0.0, 3, "bandwidth must be finite and > 0");
    lua_pushnumber(L, gan_mmd2(a->data, na, b->data, nb, h));
    return 1;
}

/* ---- denormals ----------------------------------------------------------------------------- */

/* gan.flush_denormals(on) -> previous setting: turns x86 flush-to-zero and denormals-are-zero
 * on (true) or off for the calling thread and every thread of the OpenMP pool (which OpenBLAS
 * shares), by running one parallel region over omp_get_max_threads() threads; threads the
 * pool adds later are created by this thread and inherit its setting. Why: once an ERM GAN's
 * discriminator saturates (loss ~ 1e-30) its gradients are denormal floats, and every GEMM
 * touching them runs several times slower (measured: a width-256 run went from 0.019 to 0.070
 * CPU s per iteration by iteration 900). Flushing them changes no update that matters: Adam's
 * step for a gradient g < 1e-38 is lr g / (|g| + eps) < 1e-33. Raises on non-x86 builds. */
static int l_gan_flush_denormals(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TBOOLEAN);
#if GAN_HAVE_MXCSR
    int on = lua_toboolean(L, 1);
    unsigned int mask = MXCSR_FTZ | MXCSR_DAZ;
    int was = (_mm_getcsr() & mask) == mask;
    int n = omp_get_max_threads();
#pragma omp parallel num_threads(n)
    {
        unsigned int csr = _mm_getcsr();
        _mm_setcsr(on ? (csr | mask) : (csr & ~mask));
    }
    unsigned int csr = _mm_getcsr(); /* the calling thread, whether or not it joined the team */
    _mm_setcsr(on ? (csr | mask) : (csr & ~mask));
    lua_pushboolean(L, was);
    return 1;
#else
    return luaL_error(L, "gan.flush_denormals: not supported on this CPU (x86 SSE only)");
#endif
}

/* ---- module ------------------------------------------------------------------------------- */

int luaopen_engine_gan(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"num_modes", l_gan_num_modes},
        {"centres", l_gan_centres},
        {"sample_real", l_gan_sample_real},
        {"sample_noise", l_gan_sample_noise},
        {"join", l_gan_join},
        {"mix_uniform", l_gan_mix_uniform},
        {"mix_beta", l_gan_mix_beta},
        {"generator_grad", l_gan_generator_grad},
        {"metrics", l_gan_metrics},
        {"energy_distance", l_gan_energy_distance},
        {"mmd2", l_gan_mmd2},
        {"flush_denormals", l_gan_flush_denormals},
        {NULL, NULL},
    };
    /* Tensors and Rngs must have their metatables even if their modules were never required. */
    luaL_requiref(L, "engine.tensor", luaopen_engine_tensor, 0);
    lua_pop(L, 1);
    luaL_requiref(L, "engine.train", luaopen_engine_train, 0);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, ENGINE_GAN_SCRATCH_T)) {
        lua_pushcfunction(L, l_gan_scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) + 5);
    GanScratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, ENGINE_GAN_SCRATCH_T);
    luaL_setfuncs(L, fns, 1);
    lua_pushnumber(L, GAN_STD);
    lua_setfield(L, -2, "STD");
    lua_pushinteger(L, GAN_COVER_PERCENT);
    lua_setfield(L, -2, "COVER_PERCENT");
    lua_pushnumber(L, GAN_QUALITY_STDS);
    lua_setfield(L, -2, "QUALITY_STDS");
    lua_pushnumber(L, GAN_MMD_BANDWIDTH);
    lua_setfield(L, -2, "MMD_BANDWIDTH");
    lua_pushnumber(L, GAN_FRAME_MARGIN);
    lua_setfield(L, -2, "FRAME_MARGIN");
    return 1;
}
