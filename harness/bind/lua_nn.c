/*
 * lua_nn.c: the "engine.nn" Lua module: nn.build makes a Net (net.h) from a network
 * description (lua_layers.c parses it and holds the layer registry) and the Net userdata
 * exposes its passes and flat buffers.
 *
 *   nn.build(desc, {c =, h =, w =}, {batch =, threads =, conv_algo =, conv_algos =}) -> Net
 *     (conv_algo: the ConvAlgo of every conv that names none, nn.conv_algo()'s by default;
 *     conv_algos: {[path] = name}, per conv layer, before conv_algo; harness/lua/conv_tune.lua
 *     fills it for "auto")
 *   net:init(rng) :forward(x, train, rng|nil) -> y :backward(dy) -> dx :zero_grad()
 *   net:params() :grads() :buffers() :decay_mask() (flat views) :num_params() :num_buffers()
 *   net:param_info() :reserve(n) :capacity() :set_threads(n) :get_threads() :in_shape()
 *   net:out_shape() :profile(on) / :profile() -> per-leaf times :winograd() -> the paths of
 *     the conv layers that run Winograd (conv_wino.h), tree order
 *   net:attack(x_adv, x, labels, {eps =, step =, iters =, quantize =, mean =, std =}) -> the
 *     loss of the last step: FGSM / I-FGSM (metrics/attack.h) in evaluation mode, eps and step
 *     in 0-255 pixel units, mean and std the C-channel normalisation of x; step defaults to
 *     eps / iters, iters to 1 (FGSM), quantize to false
 *   net:interpolate(xm, xi, xj, yi, yj, lambda, {target = "mixed" | "heavier"}) -> misses,
 *     gnorms: Figure 2's measurements at xm = lambda xi + (1 - lambda) xj (metrics/interp.h):
 *     two Lua lists of N entries, miss (true/false) and the input-gradient norm per pair
 *   nn.set_threads(n), nn.get_threads(), nn.set_conv_algo(name), nn.conv_algo() -> name: the
 *     process's default ConvAlgo ("default", "direct", "im2col", "winograd"; conv.h) or
 *     "auto" (measured per layer by harness/lua/conv_tune.lua; a plain nn.build reads it as
 *     "default"), held in the Lua registry
 *
 * Building runs in two phases so that no error can leak C memory (lua_layers.h): the
 * description is validated into a spec array held by a userdata, then the modules are
 * constructed in plain C and handed to net_build, whose errors are raised afterwards.
 *
 * Net userdata user values: 1 = weak table of the activation views handed out (invalidated when
 * net:reserve reallocates activations); 2 = the last forward's input and 3 = the last
 * backward's dy (kept alive because the net's saved state and alias layers point into them).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bind/lua_engine.h"
#include "bind/lua_layers.h"
#include "core/blas.h"
#include "metrics/attack.h"
#include "metrics/interp.h"
#include "nn/dense.h"
#include "nn/net.h"

enum {
    UV_VIEWS = 1, /* weak-keyed table: activation views */
    UV_X = 2,     /* input of the last forward */
    UV_DY = 3,    /* dy of the last backward */
    UV_COUNT = 3
};

/* ---- the Net userdata ----------------------------------------------------------------- */

typedef struct LNet {
    Net *net;
} LNet;

static LNet *check_lnet(lua_State *L, int idx)
{
    LNet *ln = luaL_checkudata(L, idx, ENGINE_NET_T);
    if (!ln->net)
        luaL_argerror(L, idx, "net is not built");
    return ln;
}

static Net *check_net(lua_State *L, int idx) { return check_lnet(L, idx)->net; }

Net *lua_net_check(lua_State *L, int idx) { return check_net(L, idx); }

/* The registry field of nn.set_conv_algo's value. */
#define CONV_ALGO_KEY "engine.nn.conv_algo"

/* The process setting: a ConvAlgo, or CONV_ALGO_COUNT for "auto". */
static int conv_setting(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, CONV_ALGO_KEY);
    int a = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : CONV_ALGO_DEFAULT;
    lua_pop(L, 1);
    return a;
}

/* The ConvAlgo named by the string at idx, or CONV_ALGO_COUNT for "auto" when allowed (a Lua
 * error naming the choices otherwise). */
static int check_conv_algo(lua_State *L, int idx, const char *where, int auto_ok)
{
    const char *s = luaL_checkstring(L, idx);
    for (int a = 0; a < CONV_ALGO_COUNT; a++)
        if (!strcmp(s, conv_algo_name((ConvAlgo)a)))
            return a;
    if (auto_ok && !strcmp(s, "auto"))
        return CONV_ALGO_COUNT;
    return lua_raisef(L, "%s: convolution algorithm '%s', expected default, direct, im2col%s or "
                      "winograd", where, s, auto_ok ? ", auto" : "");
}

/* nn.build(desc, {c=, h=, w=}, {batch=, threads=, conv_algo=}) -> Net */
static int l_nn_build(lua_State *L)
{
    static const char *const shape_keys[] = {"c", "h", "w", NULL};
    static const char *const opt_keys[] = {"batch", "threads", "conv_algo", "conv_algos",
                                           NULL};
    const char *in_where = "nn.build: input shape", *opt_where = "nn.build: options";
    Err err;
    Shape in;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    lua_opt_known(L, 2, in_where, shape_keys);
    in.c = (int)lua_opt_int(L, 2, in_where, "c", LUA_OPT_REQUIRED, 0, 1, INT_MAX);
    in.h = (int)lua_opt_int(L, 2, in_where, "h", LUA_OPT_REQUIRED, 0, 1, INT_MAX);
    in.w = (int)lua_opt_int(L, 2, in_where, "w", LUA_OPT_REQUIRED, 0, 1, INT_MAX);
    lua_opt_known(L, 3, opt_where, opt_keys);
    int batch = (int)lua_opt_int(L, 3, opt_where, "batch", LUA_OPT_REQUIRED, 0, 1, INT_MAX);
    int threads = (int)lua_opt_int(L, 3, opt_where, "threads", LUA_OPT_DEFAULT,
                                   blas_get_threads(), 1, INT_MAX);

    int algo = conv_setting(L);
    if (lua_getfield(L, 3, "conv_algo") != LUA_TNIL)
        algo = check_conv_algo(L, -1, "nn.build: options.conv_algo", 0);
    lua_pop(L, 1);
    if (algo == CONV_ALGO_COUNT) /* "auto" is conv_tune.lua's; without its map, the rule */
        algo = CONV_ALGO_DEFAULT;
    /* slot 4: the per-layer map (or nil), slot 5: the spec array */
    if (lua_getfield(L, 3, "conv_algos") != LUA_TNIL && !lua_istable(L, -1))
        return lua_raisef(L, "nn.build: options.conv_algos is a %s, expected a table of "
                          "path = algorithm", luaL_typename(L, -1));
    LayerSpecs specs = lua_layers_parse(L, 1, (ConvAlgo)algo, lua_istable(L, 4) ? 4 : 0);

    /* The userdata first, so that storing the built net cannot fail. */
    LNet *ln = lua_newuserdatauv(L, sizeof *ln, UV_COUNT);
    ln->net = NULL;
    luaL_setmetatable(L, ENGINE_NET_T);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setiuservalue(L, -2, UV_VIEWS);

    Module *root = lua_layers_build(specs, &err);
    if (!root)
        return lua_raisef(L, "%s", err.msg);
    if (net_build(&ln->net, root, in, threads, batch, &err))
        return lua_raisef(L, "%s", err.msg);
    return 1;
}

/* Pushes a view of an activation tensor owned by the net at idx 1 and records it, so that
 * net:reserve can invalidate it when the activations are reallocated. */
static void push_activation(lua_State *L, const Tensor *t)
{
    lua_tensor_push_view(L, t, 1);
    lua_getiuservalue(L, 1, UV_VIEWS);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_settable(L, -3);
    lua_pop(L, 1);
}

/* net:forward(x, train, rng_or_nil) -> y, a view valid until the next forward. */
static int l_net_forward(lua_State *L)
{
    Err err;
    const Tensor *y;
    Net *net = check_net(L, 1);
    Tensor *x = lua_tensor_check(L, 2);
    luaL_checktype(L, 3, LUA_TBOOLEAN);
    Rng *rng = lua_isnoneornil(L, 4) ? NULL : lua_rng_check(L, 4);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_X);
    if (net_forward(net, x, lua_toboolean(L, 3), rng, &y, &err))
        return lua_raisef(L, "%s", err.msg);
    push_activation(L, y);
    return 1;
}

/* Whether the tensor at idx still has its memory (lua_tensor.c's convention: a closed tensor
 * has data NULL; a view's user value 1 is its memory owner). */
static int tensor_alive(lua_State *L, int idx)
{
    Tensor *t = luaL_testudata(L, idx, ENGINE_TENSOR_T);
    if (!t || !t->data)
        return 0;
    int alive = 1;
    if (lua_getiuservalue(L, idx, 1) == LUA_TUSERDATA) {
        Tensor *o = luaL_testudata(L, -1, ENGINE_TENSOR_T);
        alive = !o || o->data;
    }
    lua_pop(L, 1);
    return alive;
}

/* net:backward(dy [, input_grad]) -> dx, a view valid until the next backward; accumulates
 * into grads. input_grad false: no input gradient (the stem skips it, net_backward with no
 * dx) and nothing is returned; training loops pass it, attacks and Figure 2 read dx. */
static int l_net_backward(lua_State *L)
{
    Err err;
    const Tensor *dx;
    Net *net = check_net(L, 1);
    Tensor *dy = lua_tensor_check(L, 2);
    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TBOOLEAN);
    const int want_dx = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
    lua_getiuservalue(L, 1, UV_X);
    if (net->last_x && !tensor_alive(L, lua_gettop(L)))
        return lua_raisef(L, "net_backward: the input of the last forward was closed");
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_DY);
    if (net_backward(net, dy, want_dx ? &dx : NULL, &err))
        return lua_raisef(L, "%s", err.msg);
    if (!want_dx)
        return 0;
    push_activation(L, dx);
    return 1;
}

/* Reads option `key` of the table at idx as a list of exactly n finite numbers into out. */
static void opt_channels(lua_State *L, int idx, const char *where, const char *key, int n,
                         double *out)
{
    char what[48];
    snprintf(what, sizeof what, "a list of %d finite numbers (one per channel)", n);
    int len = lua_opt_list(L, idx, where, key, 1, "numbers");
    if (len != n)
        lua_opt_bad(L, -1, where, key, what);
    for (int c = 0; c < n; c++) {
        int isnum = 0;
        lua_geti(L, -1, c + 1);
        out[c] = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !isfinite(out[c]))
            lua_opt_bad(L, -2, where, key, what);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* net:attack(x_adv, x, labels, opts) -> loss (see the header comment). */
static int l_net_attack(lua_State *L)
{
    static const char *const known[] = {"eps", "step", "iters", "quantize", "mean", "std", NULL};
    const char *where = "net:attack";
    Net *net = check_net(L, 1);
    Tensor *xa = lua_tensor_check(L, 2);
    Tensor *x = lua_tensor_check(L, 3);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_settop(L, 5);
    lua_opt_known(L, 5, where, known);
    if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] > ATTACK_MAX_CHANNELS)
        return lua_raisef(L, "%s: input has %d dimensions, expected (N, C, H, W) with C <= %d",
                          where, x->ndim, ATTACK_MAX_CHANNELS);
    AttackParams p = {.channels = x->shape[1]};
    p.eps = lua_opt_num(L, 5, where, "eps", LUA_OPT_REQUIRED, 0.0, LUA_OPT_ANY_NUM);
    p.iters = (int)lua_opt_int(L, 5, where, "iters", LUA_OPT_DEFAULT, 1, LUA_OPT_ANY_INT);
    p.step = lua_opt_num(L, 5, where, "step", LUA_OPT_DEFAULT,
                         p.iters > 0 ? p.eps / p.iters : p.eps, LUA_OPT_ANY_NUM);
    p.quantize = lua_opt_bool(L, 5, where, "quantize", LUA_OPT_DEFAULT, 0);
    opt_channels(L, 5, where, "mean", p.channels, p.mean);
    opt_channels(L, 5, where, "std", p.channels, p.std);
    const int n = x->shape[0];
    const int k = (int)((size_t)net->out.c * net->out.h * net->out.w);
    /* scratch in a userdata (collected on any error): labels, then t and dz (N, K) */
    size_t tk = (size_t)n * (size_t)k;
    char *mem = lua_newuserdatauv(L, n * sizeof(int) + 2 * tk * sizeof(float) + 16, 0);
    int *label = (int *)(void *)mem;
    float *tf = (float *)(void *)(mem + ((n * sizeof(int) + 15) / 16) * 16);
    int ts[2] = {n, k};
    Tensor t = tensor_view(tf, 2, ts), dz = tensor_view(tf + tk, 2, ts);
    lua_labels_arg(L, 4, n, label, where);
    lua_pushvalue(L, 2); /* the net's last forward input is x_adv now */
    lua_setiuservalue(L, 1, UV_X);
    Err err;
    double loss = 0.0;
    if (attack_run(net, xa, &t, &dz, &loss, x, label, &p, &err))
        return lua_raisef(L, "%s", err.msg);
    lua_pushnumber(L, loss);
    return 1;
}

/* net:interpolate(xm, xi, xj, yi, yj, lambda, opts) -> misses, gnorms (see the header). */
static int l_net_interpolate(lua_State *L)
{
    static const char *const known[] = {"target", NULL};
    static const char *const targets[] = {"mixed", "heavier", NULL};
    const char *where = "net:interpolate";
    Net *net = check_net(L, 1);
    Tensor *xm = lua_tensor_check(L, 2);
    Tensor *xi = lua_tensor_check(L, 3);
    Tensor *xj = lua_tensor_check(L, 4);
    double lambda = luaL_checknumber(L, 7);
    luaL_checktype(L, 8, LUA_TTABLE);
    lua_settop(L, 8);
    lua_opt_known(L, 8, where, known);
    int target = lua_opt_enum(L, 8, where, "target", LUA_OPT_DEFAULT, INTERP_TARGET_MIXED,
                              targets);
    if (xi->ndim < 1 || xi->shape[0] < 1)
        return lua_raisef(L, "%s: the ends must be a batch (N, ...)", where);
    const int n = xi->shape[0];
    const int k = (int)((size_t)net->out.c * net->out.h * net->out.w);
    size_t tk = (size_t)n * (size_t)k;
    /* scratch in a userdata (collected on any error): gnorm, labels, misses, then t and dz */
    size_t head = ((n * (sizeof(double) + 3 * sizeof(int))) + 15) / 16 * 16;
    char *mem = lua_newuserdatauv(L, head + 2 * tk * sizeof(float), 0);
    double *gnorm = (double *)(void *)mem;
    int *yi = (int *)(void *)(mem + n * sizeof(double)), *yj = yi + n, *miss = yj + n;
    float *tf = (float *)(void *)(mem + head);
    int ts[2] = {n, k};
    Tensor t = tensor_view(tf, 2, ts), dz = tensor_view(tf + tk, 2, ts);
    lua_labels_arg(L, 5, n, yi, where);
    lua_labels_arg(L, 6, n, yj, where);
    lua_pushvalue(L, 2); /* the net's last forward input is xm now */
    lua_setiuservalue(L, 1, UV_X);
    Err err;
    if (interp_eval(net, xm, &t, &dz, miss, gnorm, xi, xj, yi, yj, lambda, target, &err))
        return lua_raisef(L, "%s", err.msg);
    lua_createtable(L, n, 0);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushboolean(L, miss[i]);
        lua_seti(L, -3, i + 1);
        lua_pushnumber(L, gnorm[i]);
        lua_seti(L, -2, i + 1);
    }
    return 2;
}

static int l_net_init(lua_State *L)
{
    Net *net = check_net(L, 1);
    net_init(net, lua_rng_check(L, 2));
    return 0;
}

static int l_net_zero_grad(lua_State *L)
{
    net_zero_grad(check_net(L, 1));
    return 0;
}

static int push_flat(lua_State *L, float *data, size_t n)
{
    luaL_argcheck(L, n <= INT_MAX, 1, "more than INT_MAX floats");
    int shape[1] = {(int)n};
    Tensor v = tensor_view(data, 1, shape);
    lua_tensor_push_view(L, &v, 1);
    return 1;
}

/* Flat views over the net's buffers, in PyTorch parameters() order; stable for the net's
 * lifetime. */
static int l_net_params(lua_State *L)
{
    Net *net = check_net(L, 1);
    return push_flat(L, net->params, net->n_params);
}

static int l_net_grads(lua_State *L)
{
    Net *net = check_net(L, 1);
    return push_flat(L, net->grads, net->n_params);
}

static int l_net_buffers(lua_State *L)
{
    Net *net = check_net(L, 1);
    return push_flat(L, net->buffers, net->n_buffers);
}

static int l_net_decay_mask(lua_State *L)
{
    Net *net = check_net(L, 1);
    return push_flat(L, net->decay_mask, net->n_params);
}

static int l_net_num_params(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_net(L, 1)->n_params);
    return 1;
}

static int l_net_num_buffers(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_net(L, 1)->n_buffers);
    return 1;
}

/* net:param_info() -> {{path=, kind=, offset=, count=}, ...}: one entry per module with
 * parameters or buffers, tree order; offset counts floats before the module's first one. */
static int l_net_param_info(lua_State *L)
{
    Net *net = check_net(L, 1);
    lua_createtable(L, net->n_info, 0);
    for (int i = 0; i < net->n_info; i++) {
        const ParamInfo *p = &net->info[i];
        lua_createtable(L, 0, 4);
        lua_pushstring(L, p->path);
        lua_setfield(L, -2, "path");
        lua_pushstring(L, p->kind);
        lua_setfield(L, -2, "kind");
        lua_pushinteger(L, (lua_Integer)p->offset);
        lua_setfield(L, -2, "offset");
        lua_pushinteger(L, (lua_Integer)p->count);
        lua_setfield(L, -2, "count");
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

/* net:reserve(n): activation memory for batches up to n. Growing reallocates: the activation
 * views handed out are closed, and backward needs a new forward first. */
static int l_net_reserve(lua_State *L)
{
    Err err;
    Net *net = check_net(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1 && n <= INT_MAX, 2, "batch capacity must be >= 1");
    if (n <= net->cap_n)
        return 0;
    net->last_x = NULL; /* alias layers' saved views pointed into the old memory */
    lua_getiuservalue(L, 1, UV_VIEWS);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        Tensor *t = luaL_testudata(L, -2, ENGINE_TENSOR_T);
        if (t)
            memset(t, 0, sizeof *t);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setiuservalue(L, 1, UV_VIEWS);
    if (net_reserve(net, (int)n, &err))
        return lua_raisef(L, "%s", err.msg);
    return 0;
}

static int l_net_capacity(lua_State *L)
{
    lua_pushinteger(L, check_net(L, 1)->cap_n);
    return 1;
}

static int l_net_set_threads(lua_State *L)
{
    Err err;
    Net *net = check_net(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1 && n <= INT_MAX, 2, "thread count must be >= 1");
    if (net_set_threads(net, (int)n, &err))
        return lua_raisef(L, "%s", err.msg);
    return 0;
}

static int l_net_get_threads(lua_State *L)
{
    lua_pushinteger(L, check_net(L, 1)->nthreads);
    return 1;
}

static int push_shape(lua_State *L, Shape s)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, s.c);
    lua_setfield(L, -2, "c");
    lua_pushinteger(L, s.h);
    lua_setfield(L, -2, "h");
    lua_pushinteger(L, s.w);
    lua_setfield(L, -2, "w");
    return 1;
}

/* Calls push(L, m, k) for m and every module below it, in tree order: the pushers of
 * net:profile, net:memory and net:winograd append their entries to the list on the stack's
 * top at index ++*k. */
typedef void (*ModulePusher)(lua_State *L, const Module *m, lua_Integer *k);

static void push_tree(lua_State *L, const Module *m, lua_Integer *k, ModulePusher push)
{
    push(L, m, k);
    for (int i = 0; i < m->n_child; i++)
        push_tree(L, m->child[i], k, push);
}

/* net:profile(on): turns per-layer timing on (true) or off; net:profile() returns the leaves
 * with their accumulated times, {{path =, kind =, forward = s, backward = s}, ...}, in tree
 * order. Timing adds two clock reads per layer and pass. */
static void push_profile(lua_State *L, const Module *m, lua_Integer *k)
{
    if (!m->n_child) {
        lua_createtable(L, 0, 4);
        lua_pushstring(L, m->path);
        lua_setfield(L, -2, "path");
        lua_pushstring(L, m->ops->kind);
        lua_setfield(L, -2, "kind");
        lua_pushnumber(L, m->seconds_fwd);
        lua_setfield(L, -2, "forward");
        lua_pushnumber(L, m->seconds_bwd);
        lua_setfield(L, -2, "backward");
        lua_rawseti(L, -2, ++*k);
    }
}

static int l_net_profile(lua_State *L)
{
    Net *net = check_net(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TBOOLEAN);
        net->profile = lua_toboolean(L, 2);
        return 0;
    }
    lua_Integer k = 0;
    lua_newtable(L);
    push_tree(L, net->root, &k, push_profile);
    return 1;
}

/* net:memory() -> {{path=, kind=, floats=}, ...}: every module owning activation memory (its
 * output, its input gradient: net_module_floats; for a dense block also its state, once a
 * forward has reserved it: dense_reserved_floats), tree order, then {path = "", kind =
 * "gradient buffers", floats =} for the buffers the sequentials share (net_pool_floats), at
 * the net's batch capacity. */
static void push_memory_entry(lua_State *L, const char *path, const char *kind, size_t floats,
                              lua_Integer *k)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, (lua_Integer)floats);
    lua_setfield(L, -2, "floats");
    lua_rawseti(L, -2, ++*k);
}

static void push_memory(lua_State *L, const Module *m, lua_Integer *k)
{
    /* a dense block's also counts its own state, reserved by its first forward */
    size_t floats = strcmp(m->ops->kind, "dense_block") ? net_module_floats(m)
                                                         : dense_reserved_floats(m);
    if (floats)
        push_memory_entry(L, m->path, m->ops->kind, floats, k);
}

static int l_net_memory(lua_State *L)
{
    Net *net = check_net(L, 1);
    lua_Integer k = 0;
    lua_newtable(L);
    push_tree(L, net->root, &k, push_memory);
    push_memory_entry(L, "", "gradient buffers", net_pool_floats(net), &k);
    return 1;
}

static int l_net_out_shape(lua_State *L) { return push_shape(L, check_net(L, 1)->out); }

static int l_net_in_shape(lua_State *L) { return push_shape(L, check_net(L, 1)->in); }

static int l_net_tostring(lua_State *L)
{
    LNet *ln = luaL_checkudata(L, 1, ENGINE_NET_T);
    if (!ln->net) {
        lua_pushstring(L, "Net(unbuilt)");
        return 1;
    }
    Net *n = ln->net;
    lua_pushfstring(L, "Net(%I params, in (%d, %d, %d), out (%d, %d, %d))",
                    (lua_Integer)n->n_params, n->in.c, n->in.h, n->in.w, n->out.c, n->out.h,
                    n->out.w);
    return 1;
}

static int l_net_gc(lua_State *L)
{
    LNet *ln = luaL_checkudata(L, 1, ENGINE_NET_T);
    net_free(ln->net);
    ln->net = NULL;
    return 0;
}

/* nn.set_threads(n): the process-wide OpenMP/OpenBLAS thread count (nets built later use it
 * by default; a built net keeps its own, see net:set_threads). */
static int l_nn_set_threads(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= INT_MAX, 1, "thread count must be >= 1");
    blas_set_threads((int)n);
    return 0;
}

static int l_nn_get_threads(lua_State *L)
{
    lua_pushinteger(L, blas_get_threads());
    return 1;
}

static int l_nn_set_conv_algo(lua_State *L)
{
    lua_pushinteger(L, check_conv_algo(L, 1, "nn.set_conv_algo", 1));
    lua_setfield(L, LUA_REGISTRYINDEX, CONV_ALGO_KEY);
    return 0;
}

static int l_nn_conv_algo(lua_State *L)
{
    const int a = conv_setting(L);
    lua_pushstring(L, a == CONV_ALGO_COUNT ? "auto" : conv_algo_name((ConvAlgo)a));
    return 1;
}

/* net:winograd() -> {path, ...} (see the header comment). */
static void push_winograd(lua_State *L, const Module *m, lua_Integer *k)
{
    if (conv_module_winograd(m)) {
        lua_pushstring(L, m->path);
        lua_rawseti(L, -2, ++*k);
    }
}

static int l_net_winograd(lua_State *L)
{
    Net *net = check_net(L, 1);
    lua_Integer k = 0;
    lua_newtable(L);
    push_tree(L, net->root, &k, push_winograd);
    return 1;
}

static const luaL_Reg net_methods[] = {
    {"init", l_net_init},
    {"forward", l_net_forward},
    {"backward", l_net_backward},
    {"attack", l_net_attack},
    {"interpolate", l_net_interpolate},
    {"zero_grad", l_net_zero_grad},
    {"params", l_net_params},
    {"grads", l_net_grads},
    {"buffers", l_net_buffers},
    {"decay_mask", l_net_decay_mask},
    {"num_params", l_net_num_params},
    {"num_buffers", l_net_num_buffers},
    {"param_info", l_net_param_info},
    {"reserve", l_net_reserve},
    {"capacity", l_net_capacity},
    {"set_threads", l_net_set_threads},
    {"get_threads", l_net_get_threads},
    {"out_shape", l_net_out_shape},
    {"profile", l_net_profile},
    {"memory", l_net_memory},
    {"winograd", l_net_winograd},
    {"in_shape", l_net_in_shape},
    {NULL, NULL},
};

static const luaL_Reg net_meta[] = {
    {"__gc", l_net_gc},
    {"__tostring", l_net_tostring},
    {"__index", NULL},
    {NULL, NULL},
};

static const luaL_Reg nn_funcs[] = {
    {"build", l_nn_build},
    {"set_threads", l_nn_set_threads},
    {"get_threads", l_nn_get_threads},
    {"set_conv_algo", l_nn_set_conv_algo},
    {"conv_algo", l_nn_conv_algo},
    {NULL, NULL},
};

int luaopen_engine_nn(lua_State *L)
{
    if (luaL_newmetatable(L, ENGINE_NET_T)) {
        luaL_setfuncs(L, net_meta, 0);
        luaL_newlib(L, net_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, nn_funcs);
    /* Tensors must have their metatable even if engine.tensor was never required. */
    luaL_requiref(L, "engine.tensor", luaopen_engine_tensor, 0);
    lua_pop(L, 1);
    return 1;
}
