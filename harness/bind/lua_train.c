/*
 * lua_train.c: the "engine.train" Lua module: optimisers, the learning-rate schedule, mixup and
 * the losses; train.rng and train.stream come from lua_rng.c.
 *
 *   train.sgd{params=, grads=, decay_mask=, momentum=, weight_decay=, nesterov=}
 *   train.adam{params=, grads=, decay_mask=, beta1=, beta2=, eps=, weight_decay=}
 *                                      -> Optim: :step(lr) :zero_grad() :steps()
 *                                         :state() -> tree, :load_state(tree)
 *   train.schedule{base_lr=, factor=, milestones={...}, late=, warmup_epochs=, warmup_from=}
 *                                      -> Schedule: :lr(epoch, step, steps_per_epoch), also
 *                                         callable as sched(epoch, step, steps_per_epoch)
 *   train.mixup(xm, t, x, labels, {alpha=, per_example=, n_classes=, partner = "random" |
 *               "same_class", labels = "mixed" | "heavier", smoothing=, noise=, latent = net},
 *               rng [, x2, labels2]) -> lambda
 *                                      (with per_example, the batch mean of the lambdas;
 *                                      partner to noise default to plain mixup,
 *                                      train/mixup.h); xm (N, ...) and t (N, n_classes) are
 *                                      overwritten. latent: a Net with a mix layer (nn/mix.h):
 *                                      xm is x unmixed and the pairs go to the net
 *                                      (net_set_mix; cleared when alpha = 0). x2, labels2:
 *                                      example n's partner (a loader's :partners), mixed by
 *                                      mixup_partners instead of partners from the batch
 *   train.softmax_xent(z, t, dz or nil) -> loss;  train.bce_logits(z, t, dz or nil) -> loss
 *   train.count_errors(z, labels[, k]) -> number of rows whose argmax is not the label; with
 *                      k, rows with k or more logits above the label's (top-k error)
 *
 * Conventions: epochs and steps count from 0, as in schedule.h. Labels are either a Lua
 * sequence of integers or an engine.Tensor of N floats holding integers (a dataset's label
 * tensor), 0-based classes in both (Rng:state() is described in lua_rng.c);
 * Optim:state() is an engine.h5 group tree {attrs = {kind = "sgd"|"adam", step = integer},
 * datasets = {momentum_buffer = tensor} (SGD) or {m =, v =} (Adam)}, copies of n floats each,
 * so a checkpoint stores them as float32 datasets readable on any byte order; :load_state
 * takes that tree back (as h5.read returns it) and refuses another kind, a missing or
 * non-tensor dataset, another length, a negative step or v. Required options: sgd's momentum
 * and weight_decay; schedule's base_lr, factor and milestones (warmup_from with
 * warmup_epochs > 0). Optional ones and their defaults: nesterov false, decay_mask nil (all
 * decay), Adam's PyTorch defaults (adam.h), late false, warmup_epochs 0, per_example false.
 * Booleans must be booleans and unknown option keys are errors (lua_opt.c's readers).
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
#include "nn/net.h"
#include "train/mixup.h"
#include "train/schedule.h"
#include "train/sgd.h"

/* Type names private to this file (the shared ones are in lua_engine.h). */
#define ENGINE_SCHEDULE_T "engine.Schedule"
#define ENGINE_SCRATCH_T "engine.TrainScratch"

/* optim:state()'s tree: attributes and float32 datasets of the flat parameter length, named
 * after adam.h / PyTorch's state_dict entries (portable: HDF5 stores them little-endian). */
#define OPTIM_ATTR_KIND "kind"          /* "sgd" or "adam" */
#define OPTIM_ATTR_STEP "step"          /* steps taken (Adam's bias correction needs it) */
#define OPTIM_SGD_BUF "momentum_buffer" /* SGD: buf (sgd.h) */
#define OPTIM_ADAM_M "m"                /* Adam: first moment (adam.h) */
#define OPTIM_ADAM_V "v"                /* Adam: second moment */

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

/* Pushes a new 1-D tensor holding a copy of the n floats at src. */
static void push_floats(lua_State *L, const float *src, size_t n)
{
    if (n > INT_MAX)
        lua_raisef(L, "optim:state: %zu parameters do not fit one tensor dimension", n);
    int shape[1] = {(int)n};
    Tensor *t = lua_tensor_new(L, 1, shape);
    memcpy(t->data, src, n * sizeof(float));
}

/* optim:state() -> {attrs = {kind =, step =}, datasets = {...}}: an engine.h5 tree (a group). */
static int l_train_optim_state(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    int sgd = o->kind == OPTIM_SGD;
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, optim_name(o));
    lua_setfield(L, -2, OPTIM_ATTR_KIND);
    lua_pushinteger(L, (lua_Integer)(sgd ? o->sgd_state.step : o->adam_state.step));
    lua_setfield(L, -2, OPTIM_ATTR_STEP);
    lua_setfield(L, -2, "attrs");
    lua_createtable(L, 0, 2);
    if (sgd) {
        push_floats(L, o->sgd_state.buf, o->n);
        lua_setfield(L, -2, OPTIM_SGD_BUF);
    } else {
        push_floats(L, o->adam_state.m, o->n);
        lua_setfield(L, -2, OPTIM_ADAM_M);
        push_floats(L, o->adam_state.v, o->n);
        lua_setfield(L, -2, OPTIM_ADAM_V);
    }
    lua_setfield(L, -2, "datasets");
    return 1;
}

/* Pushes tree[key] (tree at index 2), which must be a table; raises otherwise. */
static void state_table(lua_State *L, const char *key)
{
    if (lua_getfield(L, 2, key) != LUA_TTABLE)
        lua_raisef(L, "optim:load_state: %s is %s, expected a table (optim:state()'s tree)", key,
                   luaL_typename(L, -1));
}

/* The tensor datasets[name] (datasets at index ds), checked to be an open engine.Tensor. */
static const Tensor *state_tensor(lua_State *L, int ds, const char *name)
{
    lua_getfield(L, ds, name);
    if (!luaL_testudata(L, -1, ENGINE_TENSOR_T))
        lua_raisef(L, "optim:load_state: dataset '%s' is %s, expected a float32 tensor "
                   "(garbled, or saved by another version)", name, luaL_typename(L, -1));
    const Tensor *t = lua_tensor_check(L, -1);
    lua_pop(L, 1); /* the tree still holds it */
    return t;
}

/* optim:load_state(tree): tree as optim:state() returns it (or h5.read gives it back). */
static int l_train_optim_load_state(lua_State *L)
{
    LuaOptim *o = optim_check(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    state_table(L, "attrs");
    int attrs = lua_gettop(L);
    lua_getfield(L, attrs, OPTIM_ATTR_KIND);
    const char *kind = lua_tostring(L, -1);
    if (!kind || strcmp(kind, optim_name(o)))
        return lua_raisef(L, "optim:load_state: state is of kind %s, this optimiser is %s",
                          kind ? kind : "(missing)", optim_name(o));
    lua_getfield(L, attrs, OPTIM_ATTR_STEP);
    int is_int = 0;
    lua_Integer step = lua_tointegerx(L, -1, &is_int);
    if (!is_int || step < 0 || step > LONG_MAX)
        return lua_raisef(L, "optim:load_state: step is %s, expected an integer >= 0",
                          luaL_tolstring(L, -1, NULL));
    state_table(L, "datasets");
    int ds = lua_gettop(L);
    Err err;
    int rc;
    if (o->kind == OPTIM_SGD) {
        const Tensor *buf = state_tensor(L, ds, OPTIM_SGD_BUF);
        rc = sgd_state_set(&o->sgd_state, buf->data, buf->size, (long)step, &err);
    } else {
        const Tensor *m = state_tensor(L, ds, OPTIM_ADAM_M);
        const Tensor *v = state_tensor(L, ds, OPTIM_ADAM_V);
        rc = adam_state_set(&o->adam_state, m->data, m->size, v->data, v->size, (long)step, &err);
    }
    if (rc)
        return luaL_error(L, "optim:load_state: %s", err.msg);
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
    Tensor *w = lua_opt_tensor(L, 1, where, "params", LUA_OPT_REQUIRED);
    Tensor *dw = lua_opt_tensor(L, 1, where, "grads", LUA_OPT_REQUIRED);
    Tensor *mask = lua_opt_tensor(L, 1, where, "decay_mask", LUA_OPT_DEFAULT);
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
    const char *where = "train.sgd";
    lua_opt_known(L, 1, where, known);
    SgdParams p;
    p.momentum = lua_opt_num(L, 1, where, "momentum", LUA_OPT_REQUIRED, 0.0, LUA_OPT_ANY_NUM);
    p.weight_decay = lua_opt_num(L, 1, where, "weight_decay", LUA_OPT_REQUIRED, 0.0,
                                 LUA_OPT_ANY_NUM);
    p.nesterov = lua_opt_bool(L, 1, where, "nesterov", LUA_OPT_DEFAULT, 0);
    Err err;
    if (sgd_check(&p, &err))
        return luaL_error(L, "train.%s", err.msg);
    LuaOptim *o = optim_push(L, where, OPTIM_SGD);
    o->sgd = p;
    if (sgd_state_init(&o->sgd_state, o->n, &err))
        return lua_raisef(L, "%s", err.msg);
    return 1;
}

static int l_train_adam(lua_State *L)
{
    static const char *const known[] = {"params", "grads", "decay_mask",   "beta1",
                                        "beta2",  "eps",   "weight_decay", NULL};
    const char *where = "train.adam";
    lua_opt_known(L, 1, where, known);
    AdamParams p;
    p.beta1 = lua_opt_num(L, 1, where, "beta1", LUA_OPT_DEFAULT, ADAM_BETA1_DEFAULT,
                          LUA_OPT_ANY_NUM);
    p.beta2 = lua_opt_num(L, 1, where, "beta2", LUA_OPT_DEFAULT, ADAM_BETA2_DEFAULT,
                          LUA_OPT_ANY_NUM);
    p.eps = lua_opt_num(L, 1, where, "eps", LUA_OPT_DEFAULT, ADAM_EPS_DEFAULT, LUA_OPT_ANY_NUM);
    p.weight_decay = lua_opt_num(L, 1, where, "weight_decay", LUA_OPT_DEFAULT, 0.0,
                                 LUA_OPT_ANY_NUM);
    Err err;
    if (adam_check(&p, &err))
        return luaL_error(L, "train.%s", err.msg);
    LuaOptim *o = optim_push(L, where, OPTIM_ADAM);
    o->adam = p;
    if (adam_state_init(&o->adam_state, o->n, &err))
        return lua_raisef(L, "%s", err.msg);
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
    lua_opt_known(L, 1, where, known);
    Schedule s;
    memset(&s, 0, sizeof s);
    s.base_lr = lua_opt_num(L, 1, where, "base_lr", LUA_OPT_REQUIRED, 0.0, LUA_OPT_ANY_NUM);
    s.factor = lua_opt_num(L, 1, where, "factor", LUA_OPT_REQUIRED, 0.0, LUA_OPT_ANY_NUM);
    lua_Integer n = lua_opt_list(L, 1, where, "milestones", 0, "integer epochs");
    if (n > SCHEDULE_MAX_MILESTONES)
        return lua_raisef(L, "%s: option 'milestones' is a list of %lld, expected at most %d "
                          "epochs", where, (long long)n, SCHEDULE_MAX_MILESTONES);
    for (int i = 1; i <= (int)n; i++) {
        int isint = 0;
        lua_Integer m = lua_geti(L, -1, i) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || m < INT_MIN || m > INT_MAX) {
            char key[32];
            snprintf(key, sizeof key, "milestones[%d]", i);
            return lua_opt_bad(L, -1, where, key, "an integer epoch");
        }
        lua_pop(L, 1);
        s.milestones[i - 1] = (int)m;
    }
    lua_pop(L, 1);
    s.n_milestones = (int)n;
    s.late = lua_opt_bool(L, 1, where, "late", LUA_OPT_DEFAULT, 0);
    s.warmup_epochs = (int)lua_opt_int(L, 1, where, "warmup_epochs", LUA_OPT_DEFAULT, 0,
                                       LUA_OPT_ANY_INT);
    if (s.warmup_epochs == 0)
        lua_opt_none(L, 1, where, "warmup_from", "warmup_epochs = 0");
    else if (!lua_opt_has(L, 1, "warmup_from"))
        return lua_opt_missing(L, where, "warmup_from", "with warmup_epochs > 0");
    s.warmup_from = lua_opt_num(L, 1, where, "warmup_from", LUA_OPT_DEFAULT, 0.0,
                                LUA_OPT_ANY_NUM);
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
    int *ints;       /* labels (cap), permutation (cap), mixup's work (2 cap), labels2 (cap) */
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
    int *ints = malloc(5 * n * sizeof *ints);
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

static int l_train_mixup(lua_State *L)
{
    static const char *const known[] = {"alpha", "per_example", "n_classes", "partner", "labels",
                                        "smoothing", "noise", "latent", NULL};
    static const char *const partners[] = {"random", "same_class", NULL};
    static const char *const label_modes[] = {"mixed", "heavier", NULL};
    const char *where = "train.mixup";
    Tensor *xm = lua_tensor_check(L, 1);
    Tensor *t = lua_tensor_check(L, 2);
    Tensor *x = lua_tensor_check(L, 3);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_opt_known(L, 5, where, known);
    Rng *rng = lua_rng_check(L, 6);
    Tensor *x2 = lua_isnoneornil(L, 7) ? NULL : lua_tensor_check(L, 7);
    MixupParams p = {0};
    p.alpha = lua_opt_num(L, 5, where, "alpha", LUA_OPT_REQUIRED, 0.0, LUA_OPT_ANY_NUM);
    p.per_example = lua_opt_bool(L, 5, where, "per_example", LUA_OPT_DEFAULT, 0);
    p.n_classes = (int)lua_opt_int(L, 5, where, "n_classes", LUA_OPT_REQUIRED, 0,
                                   LUA_OPT_ANY_INT);
    p.partner = lua_opt_enum(L, 5, where, "partner", LUA_OPT_DEFAULT, MIXUP_PARTNER_RANDOM,
                             partners);
    p.labels = lua_opt_enum(L, 5, where, "labels", LUA_OPT_DEFAULT, MIXUP_LABELS_MIXED,
                            label_modes);
    p.smoothing = lua_opt_num(L, 5, where, "smoothing", LUA_OPT_DEFAULT, 0.0, LUA_OPT_ANY_NUM);
    p.noise = lua_opt_num(L, 5, where, "noise", LUA_OPT_DEFAULT, 0.0, LUA_OPT_ANY_NUM);
    Net *net = NULL;
    if (lua_getfield(L, 5, "latent") != LUA_TNIL) {
        if (!luaL_testudata(L, -1, ENGINE_NET_T))
            lua_opt_bad(L, -1, where, "latent", "a net (engine.Net) with a mix layer");
        net = lua_net_check(L, lua_gettop(L));
        p.latent = 1;
    }
    lua_pop(L, 1);
    if (x->ndim < 1 || x->shape[0] < 1)
        return lua_raisef(L, "%s: input has %d dimensions and batch %d, expected a batch", where,
                          x->ndim, x->ndim ? x->shape[0] : 0);
    int n = x->shape[0];
    Scratch *s = scratch_get(L, (size_t)n);
    lua_labels_arg(L, 4, n, s->ints, where);
    Err err;
    int rc;
    if (x2) {
        if (net)
            return lua_raisef(L, "%s: both latent and a partner batch, expected one", where);
        lua_labels_arg(L, 8, n, s->ints + 4 * n, where);
        rc = mixup_partners(xm, t, s->lam, x, s->ints, x2, s->ints + 4 * n, &p, rng, &err);
    } else {
        rc = mixup_batch(xm, t, s->lam, s->ints + n, s->ints + 2 * n, x, s->ints, &p, rng, &err);
    }
    if (!rc && net)
        rc = net_set_mix(net, s->lam, s->ints + n, p.alpha > 0.0 ? n : 0, &err);
    if (rc)
        return lua_raisef(L, "%s", err.msg);
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
        return lua_raisef(L, "%s", err.msg);
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
    lua_labels_arg(L, 2, n, s->ints, "train.count_errors");
    int errors;
    Err err;
    int rc = lua_isnoneornil(L, 3) ? loss_count_errors(&errors, z, s->ints, &err)
                                   : loss_count_topk_errors(&errors, z, s->ints,
                                                            (int)luaL_checkinteger(L, 3), &err);
    if (rc)
        return lua_raisef(L, "%s", err.msg);
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
    optim_meta(L);
    schedule_meta(L);
    if (luaL_newmetatable(L, ENGINE_SCRATCH_T)) {
        lua_pushcfunction(L, l_train_scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, (int)(sizeof fns / sizeof fns[0]) + 2);
    Scratch *s = lua_newuserdatauv(L, sizeof(Scratch), 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, ENGINE_SCRATCH_T);
    luaL_setfuncs(L, fns, 1);
    lua_rng_setfuncs(L);
    return 1;
}
