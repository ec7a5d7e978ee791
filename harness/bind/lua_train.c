/*
 * lua_train.c: the "engine.train" Lua module: random generators, optimisers, the learning-rate
 * schedule, mixup and the losses.
 *
 *   train.rng(seed, stream)            -> Rng: :uniform() :normal() :gamma(k) :beta(a, b)
 *                                         :below(n) (0..n-1) :copy() :state() :set_state(s)
 *   train.stream.<purpose>             RNG_STREAM_* ids: init, order, augment, mixup, dropout,
 *                                      labels, subset, gan
 *   train.sgd{params=, grads=, decay_mask=, momentum=, weight_decay=, nesterov=}
 *   train.adam{params=, grads=, decay_mask=, beta1=, beta2=, eps=, weight_decay=}
 *                                      -> Optim: :step(lr) :zero_grad() :steps()
 *                                         :state() -> string, :load_state(string)
 *   train.schedule{base_lr=, factor=, milestones={...}, late=, warmup_epochs=, warmup_from=}
 *                                      -> Schedule: :lr(epoch, step, steps_per_epoch), also
 *                                         callable as sched(epoch, step, steps_per_epoch)
 *   train.mixup(xm, t, x, labels, {alpha=, per_example=, n_classes=}, rng) -> lambda
 *                                      (with per_example, the batch mean of the lambdas);
 *                                      xm (N, ...) and t (N, n_classes) are overwritten
 *   train.softmax_xent(z, t, dz or nil) -> loss;  train.bce_logits(z, t, dz or nil) -> loss
 *   train.count_errors(z, labels) -> number of rows whose argmax is not the label
 *
 * Conventions: epochs and steps count from 0, as in schedule.h. Labels are either a Lua
 * sequence of integers or an engine.Tensor of N floats holding integers (a dataset's label
 * tensor), 0-based classes in both. Rng:state() is 32 bytes, the four state words little-endian;
 * Optim:state() is a binary string (magic "SGD1"/"ADM1", n, step, then the float buffers in host
 * order) for checkpoints written on the same kind of machine. Required options: sgd's momentum
 * and weight_decay; schedule's base_lr, factor and milestones (warmup_from with
 * warmup_epochs > 0). Optional ones and their defaults: nesterov false, decay_mask nil (all
 * decay), Adam's PyTorch defaults (adam.h), late false, warmup_epochs 0, per_example false.
 * Booleans must be booleans and unknown option keys are errors (lua_check_options).
 * Memory: the optimiser state is malloc'ed into its userdata after the userdata exists (freed
 * by __gc/__close); label, permutation and lambda scratch for mixup and count_errors lives in
 * one userdata shared by the module's functions as an upvalue and only grows.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/adam.h"
#include "nn/loss.h"
#include "bind/lua_engine.h"
#include "train/mixup.h"
#include "train/schedule.h"
#include "train/sgd.h"

/* Type names private to this file (the shared ones are in lua_engine.h). */
#define ENGINE_SCHEDULE_T "engine.Schedule"
#define ENGINE_SCRATCH_T "engine.TrainScratch"

#define RNG_STATE_BYTES 32
#define OPTIM_MAGIC_SGD "SGD1"
#define OPTIM_MAGIC_ADAM "ADM1"
#define OPTIM_HEADER_BYTES 24 /* magic, u32 zero, u64 n, i64 step */

/* ---- option tables -------------------------------------------------------------------- */

/* Pushes t[key] and returns its type; the caller pops. */
static int opt_push(lua_State *L, int t, const char *key) { return lua_getfield(L, t, key); }

static double opt_number(lua_State *L, int t, const char *where, const char *key, int required,
                         double def)
{
    int type = opt_push(L, t, key);
    double v = def;
    if (type == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else if (type != LUA_TNIL || required)
        lua_raisef(L, "%s: option '%s' must be a number (got %s)", where, key,
                   lua_typename(L, type));
    lua_pop(L, 1);
    return v;
}

static int opt_boolean(lua_State *L, int t, const char *where, const char *key, int def)
{
    int type = opt_push(L, t, key);
    int v = def;
    if (type == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (type != LUA_TNIL)
        lua_raisef(L, "%s: option '%s' must be a boolean (got %s)", where, key,
                   lua_typename(L, type));
    lua_pop(L, 1);
    return v;
}

static int opt_int(lua_State *L, int t, const char *where, const char *key, int required,
                   int def)
{
    int type = opt_push(L, t, key), isint = 0;
    lua_Integer v = def;
    if (type == LUA_TNUMBER)
        v = lua_tointegerx(L, -1, &isint);
    if ((type == LUA_TNUMBER && (!isint || v < INT_MIN || v > INT_MAX)) ||
        (type != LUA_TNUMBER && (type != LUA_TNIL || required)))
        lua_raisef(L, "%s: option '%s' must be an integer (got %s)", where, key,
                   type == LUA_TNUMBER ? "a non-integer number" : lua_typename(L, type));
    lua_pop(L, 1);
    return (int)v;
}

/* t[key] as a Tensor (NULL when absent and optional); the table keeps it alive. */
static Tensor *opt_tensor(lua_State *L, int t, const char *where, const char *key, int required)
{
    int type = opt_push(L, t, key);
    Tensor *x = NULL;
    if (type == LUA_TNIL && !required) {
        lua_pop(L, 1);
        return NULL;
    }
    if (!luaL_testudata(L, -1, ENGINE_TENSOR_T))
        lua_raisef(L, "%s: option '%s' must be an %s (got %s)", where, key, ENGINE_TENSOR_T,
                   luaL_typename(L, -1));
    x = lua_tensor_check(L, lua_gettop(L));
    lua_pop(L, 1);
    return x;
}

/* ---- Rng -------------------------------------------------------------------------------- */

Rng *lua_rng_check(lua_State *L, int idx) { return luaL_checkudata(L, idx, ENGINE_RNG_T); }

static int l_train_rng_uniform(lua_State *L)
{
    lua_pushnumber(L, rng_uniform(lua_rng_check(L, 1)));
    return 1;
}

static int l_train_rng_normal(lua_State *L)
{
    lua_pushnumber(L, rng_normal(lua_rng_check(L, 1)));
    return 1;
}

static int l_train_rng_gamma(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    double k = luaL_checknumber(L, 2);
    luaL_argcheck(L, k > 0.0 && isfinite(k), 2, "shape must be finite and > 0");
    lua_pushnumber(L, rng_gamma(r, k));
    return 1;
}

static int l_train_rng_beta(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    double a = luaL_checknumber(L, 2), b = luaL_checknumber(L, 3);
    luaL_argcheck(L, a > 0.0 && isfinite(a), 2, "a must be finite and > 0");
    luaL_argcheck(L, b > 0.0 && isfinite(b), 3, "b must be finite and > 0");
    lua_pushnumber(L, rng_beta(r, a, b));
    return 1;
}

static int l_train_rng_below(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1, 2, "n must be >= 1");
    lua_pushinteger(L, (lua_Integer)rng_below(r, (uint64_t)n));
    return 1;
}

static int l_train_rng_copy(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    Rng *c = lua_rng_new(L, 0, 0);
    *c = *r;
    return 1;
}

static int l_train_rng_state(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    unsigned char b[RNG_STATE_BYTES];
    for (int w = 0; w < 4; w++)
        for (int k = 0; k < 8; k++)
            b[8 * w + k] = (unsigned char)(r->s[w] >> (8 * k));
    lua_pushlstring(L, (const char *)b, sizeof b);
    return 1;
}

static int l_train_rng_set_state(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    size_t len;
    const unsigned char *b = (const unsigned char *)luaL_checklstring(L, 2, &len);
    if (len != RNG_STATE_BYTES)
        return lua_raisef(L, "rng:set_state: state is %zu bytes, expected %d", len,
                          RNG_STATE_BYTES);
    Rng t;
    for (int w = 0; w < 4; w++) {
        t.s[w] = 0;
        for (int k = 0; k < 8; k++)
            t.s[w] |= (uint64_t)b[8 * w + k] << (8 * k);
    }
    if (!(t.s[0] | t.s[1] | t.s[2] | t.s[3]))
        return lua_raisef(L, "rng:set_state: state is all zeros, which xoshiro256** never leaves");
    *r = t;
    return 0;
}

static int l_train_rng_tostring(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    lua_pushfstring(L, "%s (%p)", ENGINE_RNG_T, (void *)r);
    return 1;
}

static void rng_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"uniform", l_train_rng_uniform}, {"normal", l_train_rng_normal},
        {"gamma", l_train_rng_gamma},     {"beta", l_train_rng_beta},
        {"below", l_train_rng_below},     {"copy", l_train_rng_copy},
        {"state", l_train_rng_state},     {"set_state", l_train_rng_set_state},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, ENGINE_RNG_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_train_rng_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

Rng *lua_rng_new(lua_State *L, uint64_t seed, uint64_t stream)
{
    rng_meta(L); /* other bindings may push an Rng before engine.train is required */
    Rng *r = lua_newuserdatauv(L, sizeof(Rng), 0);
    rng_seed(r, seed, stream);
    luaL_setmetatable(L, ENGINE_RNG_T);
    return r;
}

static int l_train_rng(lua_State *L)
{
    lua_Integer seed = luaL_checkinteger(L, 1);
    lua_Integer stream = luaL_checkinteger(L, 2);
    luaL_argcheck(L, seed >= 0, 1, "seed must be >= 0");
    luaL_argcheck(L, stream >= 0, 2, "stream must be >= 0");
    lua_rng_new(L, (uint64_t)seed, (uint64_t)stream);
    return 1;
}

/* ---- optimisers ------------------------------------------------------------------------- */

typedef enum { OPTIM_SGD, OPTIM_ADAM } OptimKind;

/* User values: 1 params, 2 grads, 3 decay_mask (or nil): kept alive and re-checked per step
 * (a tensor can be closed from Lua). */
typedef struct LuaOptim {
    OptimKind kind;
    size_t n;
    SgdParams sgd;
    SgdState sgd_state;
    AdamParams adam;
    AdamState adam_state;
} LuaOptim;

static LuaOptim *optim_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, ENGINE_OPTIM_T);
}

static const char *optim_name(const LuaOptim *o) { return o->kind == OPTIM_SGD ? "sgd" : "adam"; }

/* Fetches the three tensors of optimiser o (at stack index 1) and checks their sizes. */
static void optim_tensors(lua_State *L, const LuaOptim *o, const char *where, Tensor **w,
                          Tensor **dw, Tensor **mask)
{
    static const char *const names[3] = {"params", "grads", "decay_mask"};
    Tensor *t[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        int type = lua_getiuservalue(L, 1, i + 1);
        if (type != LUA_TNIL) {
            t[i] = lua_tensor_check(L, lua_gettop(L));
            if (t[i]->size != o->n)
                lua_raisef(L, "%s: %s has %zu floats, expected %zu", where, names[i], t[i]->size,
                           o->n);
        }
        lua_pop(L, 1);
    }
    *w = t[0];
    *dw = t[1];
    *mask = t[2];
}

static int l_train_optim_step(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    double lr = luaL_checknumber(L, 2);
    luaL_argcheck(L, lr >= 0.0 && isfinite(lr), 2, "lr must be finite and >= 0");
    Tensor *w, *dw, *mask;
    optim_tensors(L, o, "optim:step", &w, &dw, &mask);
    const float *m = mask ? mask->data : NULL;
    if (o->kind == OPTIM_SGD)
        sgd_step(w->data, dw->data, m, &o->sgd_state, &o->sgd, lr);
    else
        adam_step(w->data, dw->data, m, &o->adam_state, &o->adam, lr);
    return 0;
}

/* Zeroing the gradients is the optimiser's job (tensor.h); step does not do it. */
static int l_train_optim_zero_grad(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    Tensor *w, *dw, *mask;
    optim_tensors(L, o, "optim:zero_grad", &w, &dw, &mask);
    memset(dw->data, 0, o->n * sizeof(float));
    return 0;
}

static int l_train_optim_steps(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    lua_pushinteger(L, o->kind == OPTIM_SGD ? o->sgd_state.step : o->adam_state.step);
    return 1;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static int l_train_optim_state(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    int sgd = o->kind == OPTIM_SGD;
    size_t nbuf = sgd ? 1 : 2, payload = nbuf * o->n * sizeof(float);
    luaL_Buffer b;
    unsigned char *p = (unsigned char *)luaL_buffinitsize(L, &b, OPTIM_HEADER_BYTES + payload);
    memcpy(p, sgd ? OPTIM_MAGIC_SGD : OPTIM_MAGIC_ADAM, 4);
    memset(p + 4, 0, 4);
    put_u64(p + 8, (uint64_t)o->n);
    put_u64(p + 16, (uint64_t)(sgd ? o->sgd_state.step : o->adam_state.step));
    if (sgd) {
        memcpy(p + OPTIM_HEADER_BYTES, o->sgd_state.buf, payload);
    } else {
        memcpy(p + OPTIM_HEADER_BYTES, o->adam_state.m, o->n * sizeof(float));
        memcpy(p + OPTIM_HEADER_BYTES + o->n * sizeof(float), o->adam_state.v,
               o->n * sizeof(float));
    }
    luaL_pushresultsize(&b, OPTIM_HEADER_BYTES + payload);
    return 1;
}

static int l_train_optim_load_state(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    size_t len;
    const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 2, &len);
    int sgd = o->kind == OPTIM_SGD;
    const char *magic = sgd ? OPTIM_MAGIC_SGD : OPTIM_MAGIC_ADAM;
    size_t payload = (sgd ? 1 : 2) * o->n * sizeof(float);
    if (len < OPTIM_HEADER_BYTES || memcmp(p, magic, 4))
        return lua_raisef(L, "optim:load_state: not a saved %s state (expected magic %s)",
                          optim_name(o), magic);
    uint64_t n = get_u64(p + 8), step = get_u64(p + 16);
    if (n != o->n || len != OPTIM_HEADER_BYTES + payload)
        return lua_raisef(L, "optim:load_state: state is for %llu parameters (%zu bytes), "
                         "expected %zu", (unsigned long long)n, len, o->n);
    if (step > (uint64_t)LONG_MAX)
        return lua_raisef(L, "optim:load_state: step count %llu is out of range",
                          (unsigned long long)step);
    if (sgd) {
        memcpy(o->sgd_state.buf, p + OPTIM_HEADER_BYTES, payload);
        o->sgd_state.step = (long)step;
    } else {
        memcpy(o->adam_state.m, p + OPTIM_HEADER_BYTES, o->n * sizeof(float));
        memcpy(o->adam_state.v, p + OPTIM_HEADER_BYTES + o->n * sizeof(float),
               o->n * sizeof(float));
        o->adam_state.step = (long)step;
    }
    return 0;
}

static int l_train_optim_gc(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    sgd_state_free(&o->sgd_state);
    adam_state_free(&o->adam_state);
    return 0;
}

static int l_train_optim_tostring(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    char buf[96];
    snprintf(buf, sizeof buf, "%s (%s, %zu parameters)", ENGINE_OPTIM_T, optim_name(o), o->n);
    lua_pushstring(L, buf);
    return 1;
}

static void optim_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"step", l_train_optim_step},   {"zero_grad", l_train_optim_zero_grad},
        {"steps", l_train_optim_steps}, {"state", l_train_optim_state},
        {"load_state", l_train_optim_load_state}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, ENGINE_OPTIM_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_train_optim_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, l_train_optim_gc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_train_optim_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

/* Reads params/grads/decay_mask from the option table at 1, checks them, and pushes a new
 * Optim userdata holding them as user values. The caller fills the kind-specific fields and
 * allocates the state. */
static LuaOptim *optim_push(lua_State *L, const char *where, OptimKind kind)
{
    Tensor *w = opt_tensor(L, 1, where, "params", 1);
    Tensor *dw = opt_tensor(L, 1, where, "grads", 1);
    Tensor *mask = opt_tensor(L, 1, where, "decay_mask", 0);
    if (dw->size != w->size)
        lua_raisef(L, "%s: grads has %zu floats, params %zu", where, dw->size, w->size);
    if (mask && mask->size != w->size)
        lua_raisef(L, "%s: decay_mask has %zu floats, params %zu", where, mask->size, w->size);
    if (w->data == dw->data)
        lua_raisef(L, "%s: params and grads are the same buffer", where);
    LuaOptim *o = lua_newuserdatauv(L, sizeof(LuaOptim), 3);
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->n = w->size;
    optim_meta(L);
    luaL_setmetatable(L, ENGINE_OPTIM_T);
    static const char *const keys[3] = {"params", "grads", "decay_mask"};
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, 1, keys[i]);
        lua_setiuservalue(L, -2, i + 1);
    }
    return o;
}

static int l_train_sgd(lua_State *L)
{
    static const char *const known[] = {"params",       "grads",    "decay_mask", "momentum",
                                        "weight_decay", "nesterov", NULL};
    lua_check_options(L, 1, "train.sgd", known);
    SgdParams p;
    p.momentum = opt_number(L, 1, "train.sgd", "momentum", 1, 0.0);
    p.weight_decay = opt_number(L, 1, "train.sgd", "weight_decay", 1, 0.0);
    p.nesterov = opt_boolean(L, 1, "train.sgd", "nesterov", 0);
    Err err;
    if (sgd_check(&p, &err))
        return luaL_error(L, "train.%s", err.msg);
    LuaOptim *o = optim_push(L, "train.sgd", OPTIM_SGD);
    o->sgd = p;
    if (sgd_state_init(&o->sgd_state, o->n, &err))
        return luaL_error(L, "%s", err.msg);
    return 1;
}

static int l_train_adam(lua_State *L)
{
    static const char *const known[] = {"params", "grads", "decay_mask",   "beta1",
                                        "beta2",  "eps",   "weight_decay", NULL};
    lua_check_options(L, 1, "train.adam", known);
    AdamParams p;
    p.beta1 = opt_number(L, 1, "train.adam", "beta1", 0, ADAM_BETA1_DEFAULT);
    p.beta2 = opt_number(L, 1, "train.adam", "beta2", 0, ADAM_BETA2_DEFAULT);
    p.eps = opt_number(L, 1, "train.adam", "eps", 0, ADAM_EPS_DEFAULT);
    p.weight_decay = opt_number(L, 1, "train.adam", "weight_decay", 0, 0.0);
    Err err;
    if (adam_check(&p, &err))
        return luaL_error(L, "train.%s", err.msg);
    LuaOptim *o = optim_push(L, "train.adam", OPTIM_ADAM);
    o->adam = p;
    if (adam_state_init(&o->adam_state, o->n, &err))
        return luaL_error(L, "%s", err.msg);
    return 1;
}

/* ---- schedule --------------------------------------------------------------------------- */

/* sched:lr(epoch, step, steps_per_epoch) and sched(epoch, step, steps_per_epoch). */
static int l_train_schedule_lr(lua_State *L)
{
    const Schedule *s = luaL_checkudata(L, 1, ENGINE_SCHEDULE_T);
    lua_Integer epoch = luaL_checkinteger(L, 2);
    lua_Integer step = luaL_checkinteger(L, 3);
    lua_Integer spe = luaL_checkinteger(L, 4);
    luaL_argcheck(L, epoch >= 0 && epoch <= INT_MAX, 2, "epoch must be >= 0");
    luaL_argcheck(L, spe >= 1 && spe <= INT_MAX, 4, "steps_per_epoch must be >= 1");
    luaL_argcheck(L, step >= 0 && step < spe, 3, "step must be in 0..steps_per_epoch-1");
    lua_pushnumber(L, schedule_lr(s, (int)epoch, (int)step, (int)spe));
    return 1;
}

static void schedule_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {{"lr", l_train_schedule_lr}, {NULL, NULL}};
    if (luaL_newmetatable(L, ENGINE_SCHEDULE_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_train_schedule_lr);
        lua_setfield(L, -2, "__call");
    }
    lua_pop(L, 1);
}

static int l_train_schedule(lua_State *L)
{
    static const char *const known[] = {"base_lr", "factor",        "milestones",
                                        "late",    "warmup_epochs", "warmup_from", NULL};
    const char *where = "train.schedule";
    lua_check_options(L, 1, where, known);
    Schedule s;
    memset(&s, 0, sizeof s);
    s.base_lr = opt_number(L, 1, where, "base_lr", 1, 0.0);
    s.factor = opt_number(L, 1, where, "factor", 1, 0.0);
    if (opt_push(L, 1, "milestones") != LUA_TTABLE)
        return lua_raisef(L, "%s: option 'milestones' must be a table of epochs (got %s)", where,
                          luaL_typename(L, -1));
    lua_Integer n = luaL_len(L, -1);
    if (n > SCHEDULE_MAX_MILESTONES)
        return lua_raisef(L, "%s: %lld milestones, expected at most %d", where, (long long)n,
                          SCHEDULE_MAX_MILESTONES);
    for (int i = 1; i <= (int)n; i++) {
        int isint = 0;
        lua_Integer m = lua_geti(L, -1, i) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || m < INT_MIN || m > INT_MAX)
            return lua_raisef(L, "%s: milestones[%d] must be an integer epoch", where, i);
        lua_pop(L, 1);
        s.milestones[i - 1] = (int)m;
    }
    lua_pop(L, 1);
    s.n_milestones = (int)n;
    s.late = opt_boolean(L, 1, where, "late", 0);
    s.warmup_epochs = opt_int(L, 1, where, "warmup_epochs", 0, 0);
    s.warmup_from = opt_number(L, 1, where, "warmup_from", s.warmup_epochs > 0, 0.0);
    if (opt_push(L, 1, "warmup_from") != LUA_TNIL && s.warmup_epochs == 0)
        return lua_raisef(L, "%s: warmup_from is set but warmup_epochs is 0", where);
    lua_pop(L, 1);
    Err err;
    if (schedule_check(&s, &err))
        return luaL_error(L, "train.%s", err.msg);
    Schedule *u = lua_newuserdatauv(L, sizeof(Schedule), 0);
    *u = s;
    schedule_meta(L);
    luaL_setmetatable(L, ENGINE_SCHEDULE_T);
    return 1;
}

/* ---- scratch, labels, mixup, losses ----------------------------------------------------- */

/* Grows only; freed by __gc. Shared by the module's functions as upvalue 1. */
typedef struct Scratch {
    int *ints;       /* labels (cap) then permutation (cap) */
    double *lam;     /* cap */
    size_t cap;
} Scratch;

static int l_train_scratch_gc(lua_State *L)
{
    Scratch *s = luaL_checkudata(L, 1, ENGINE_SCRATCH_T);
    free(s->ints);
    free(s->lam);
    memset(s, 0, sizeof *s);
    return 0;
}

static Scratch *scratch_get(lua_State *L, size_t n)
{
    Scratch *s = luaL_checkudata(L, lua_upvalueindex(1), ENGINE_SCRATCH_T);
    if (n <= s->cap)
        return s;
    int *ints = malloc(2 * n * sizeof *ints);
    double *lam = malloc(n * sizeof *lam);
    if (!ints || !lam) {
        free(ints);
        free(lam);
        lua_raisef(L, "train: out of memory for a batch of %zu", n);
    }
    free(s->ints);
    free(s->lam);
    s->ints = ints;
    s->lam = lam;
    s->cap = n;
    return s;
}

/* Labels at idx (a sequence of integers or a Tensor of integer-valued floats) into out[n]. */
static void labels_arg(lua_State *L, int idx, int n, int *out, const char *where)
{
    if (luaL_testudata(L, idx, ENGINE_TENSOR_T)) {
        const Tensor *t = lua_tensor_check(L, idx);
        if (t->size != (size_t)n)
            lua_raisef(L, "%s: labels tensor has %zu elements, expected %d", where, t->size, n);
        for (int i = 0; i < n; i++) {
            float v = t->data[i];
            if (!(v == floorf(v) && (double)v >= INT_MIN && (double)v <= INT_MAX))
                lua_raisef(L, "%s: labels tensor element %d is %g, expected an integer", where, i,
                           (double)v);
            out[i] = (int)v;
        }
        return;
    }
    if (!lua_istable(L, idx))
        luaL_typeerror(L, idx, "engine.Tensor or table of integer labels");
    lua_Integer len = luaL_len(L, idx);
    if (len != n)
        lua_raisef(L, "%s: %lld labels, expected %d", where, (long long)len, n);
    for (int i = 0; i < n; i++) {
        int isint = 0;
        lua_Integer v = lua_geti(L, idx, i + 1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || v < INT_MIN || v > INT_MAX)
            lua_raisef(L, "%s: labels[%d] is %s, expected an integer", where, i + 1,
                       luaL_tolstring(L, -1, NULL));
        lua_pop(L, 1);
        out[i] = (int)v;
    }
}

static int l_train_mixup(lua_State *L)
{
    static const char *const known[] = {"alpha", "per_example", "n_classes", NULL};
    const char *where = "train.mixup";
    Tensor *xm = lua_tensor_check(L, 1);
    Tensor *t = lua_tensor_check(L, 2);
    Tensor *x = lua_tensor_check(L, 3);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_check_options(L, 5, where, known);
    Rng *rng = lua_rng_check(L, 6);
    MixupParams p;
    p.alpha = opt_number(L, 5, where, "alpha", 1, 0.0);
    p.per_example = opt_boolean(L, 5, where, "per_example", 0);
    p.n_classes = opt_int(L, 5, where, "n_classes", 1, 0);
    if (x->ndim < 1 || x->shape[0] < 1)
        return lua_raisef(L, "%s: input has %d dimensions and batch %d, expected a batch", where,
                          x->ndim, x->ndim ? x->shape[0] : 0);
    int n = x->shape[0];
    Scratch *s = scratch_get(L, (size_t)n);
    labels_arg(L, 4, n, s->ints, where);
    Err err;
    if (mixup_batch(xm, t, s->lam, s->ints + n, x, s->ints, &p, rng, &err))
        return luaL_error(L, "%s", err.msg);
    double mean = 0.0;
    for (int i = 0; i < n; i++)
        mean += s->lam[i];
    lua_pushnumber(L, mean / n);
    return 1;
}

static int loss_common(lua_State *L, int bce)
{
    Tensor *z = lua_tensor_check(L, 1);
    Tensor *t = lua_tensor_check(L, 2);
    Tensor *dz = lua_isnoneornil(L, 3) ? NULL : lua_tensor_check(L, 3);
    double loss;
    Err err;
    int rc = bce ? loss_bce_logits(&loss, dz, z, t, &err)
                 : loss_softmax_xent(&loss, dz, z, t, &err);
    if (rc)
        return luaL_error(L, "%s", err.msg);
    lua_pushnumber(L, loss);
    return 1;
}

static int l_train_softmax_xent(lua_State *L) { return loss_common(L, 0); }

static int l_train_bce_logits(lua_State *L) { return loss_common(L, 1); }

static int l_train_count_errors(lua_State *L)
{
    Tensor *z = lua_tensor_check(L, 1);
    if (z->ndim < 2 || z->shape[0] < 1)
        return lua_raisef(L, "train.count_errors: logits have %d dimensions, expected (N, K)",
                          z->ndim);
    int n = z->shape[0];
    Scratch *s = scratch_get(L, (size_t)n);
    labels_arg(L, 2, n, s->ints, "train.count_errors");
    int errors;
    Err err;
    if (loss_count_errors(&errors, z, s->ints, &err))
        return luaL_error(L, "%s", err.msg);
    lua_pushinteger(L, errors);
    return 1;
}

/* ---- count_correct ---------------------------------------------------------------------- */

/* train.count_correct(z, t) -> number: sum over rows n of t[n, argmax_j z[n, j]], the
 * examples' weight on the predicted class: the number of correct predictions for one-hot t,
 * lambda [pred = y_a] + (1 - lambda) [pred = y_b] for mixup's soft targets. z (N, K) logits
 * (or (N, K, 1, 1)), t soft targets of the same size. Ties: the first maximum (lowest j)
 * wins, as a strict `>` scan from j = 0 gives; a NaN logit never wins over an earlier value
 * (a NaN in column 0 keeps column 0). The sum is in double, row by row in order. */
static int l_train_count_correct(lua_State *L)
{
    const Tensor *z = lua_tensor_check(L, 1);
    const Tensor *t = lua_tensor_check(L, 2);
    if (z->ndim < 2 || z->shape[0] < 1 || z->size % (size_t)z->shape[0] != 0)
        return lua_raisef(L, "train.count_correct: logits have %d dimensions, expected (N, K)",
                          z->ndim);
    if (t->size != z->size)
        return lua_raisef(L, "train.count_correct: targets have %zu values, logits %zu "
                          "(expected the same (N, K))", t->size, z->size);
    size_t n = (size_t)z->shape[0], k = z->size / n;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        const float *row = z->data + i * k;
        size_t arg = 0;
        float best = row[0];
        for (size_t j = 1; j < k; j++) {
            if (row[j] > best) {
                best = row[j];
                arg = j;
            }
        }
        sum += (double)t->data[i * k + arg];
    }
    lua_pushnumber(L, sum);
    return 1;
}

/* ---- module ----------------------------------------------------------------------------- */

int luaopen_engine_train(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"rng", l_train_rng},
        {"sgd", l_train_sgd},
        {"adam", l_train_adam},
        {"schedule", l_train_schedule},
        {"mixup", l_train_mixup},
        {"softmax_xent", l_train_softmax_xent},
        {"bce_logits", l_train_bce_logits},
        {"count_errors", l_train_count_errors},
        {"count_correct", l_train_count_correct},
        {NULL, NULL},
    };
    static const struct {
        const char *name;
        int id;
    } streams[] = {
        {"init", RNG_STREAM_INIT},       {"order", RNG_STREAM_ORDER},
        {"augment", RNG_STREAM_AUGMENT}, {"mixup", RNG_STREAM_MIXUP},
        {"dropout", RNG_STREAM_DROPOUT}, {"labels", RNG_STREAM_LABELS},
        {"subset", RNG_STREAM_SUBSET},   {"gan", RNG_STREAM_GAN},
    };
    rng_meta(L);
    optim_meta(L);
    schedule_meta(L);
    if (luaL_newmetatable(L, ENGINE_SCRATCH_T)) {
        lua_pushcfunction(L, l_train_scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) + 1);
    Scratch *s = lua_newuserdatauv(L, sizeof(Scratch), 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, ENGINE_SCRATCH_T);
    luaL_setfuncs(L, fns, 1);
    lua_createtable(L, 0, (int)(sizeof streams / sizeof streams[0]));
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
        lua_pushinteger(L, streams[i].id);
        lua_setfield(L, -2, streams[i].name);
    }
    lua_setfield(L, -2, "stream");
    return 1;
}
