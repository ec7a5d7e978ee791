/*
 * lua_nn.c: the "engine.nn" Lua module: builds a Net (net.h) from a network description made
 * of nested plain Lua tables (nets/containers.lua writes them) and exposes its passes and flat
 * buffers.
 *
 * Description: every table has a `kind` and an optional `name`; see KINDS below for each
 * kind's options and their defaults (PyTorch's where PyTorch has one). Containers:
 *   {kind = "sequential", children = {...}}, {kind = "residual", main = d, shortcut = d|nil},
 *   {kind = "concat", branches = {...}}.
 * Paths: a module's path is its ancestors' components and its own, joined by dots. The
 * component is `name` when given (name = "" adds none: a structural container such as a
 * block's residual), else the 1-based position in the parent (residual: main 1, shortcut 2).
 * Nets name their layers as the PyTorch reference does, so that paths read
 * "preact_resnet.layer2.0.conv2".
 *
 * Building runs in two phases so that no error can leak C memory: (1) the Lua tree is
 * validated strictly (unknown keys, types, required keys: a Lua error naming the path) into a
 * flat, pre-order array of NodeSpec held by a userdata; (2) the modules are constructed from
 * that array in plain C and handed to net_build, whose errors are raised afterwards.
 *
 * Net userdata user values: 1 = weak table of the activation views handed out (invalidated when
 * net:reserve reallocates activations); 2 = the last forward's input and 3 = the last
 * backward's dy (kept alive because the net's saved state and alias layers point into them).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/act.h"
#include "nn/batchnorm.h"
#include "core/blas.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "bind/lua_engine.h"
#include "nn/net.h"
#include "nn/pool.h"

#define NN_MAX_DEPTH 64 /* nesting limit; also catches a description that contains itself */

enum {
    UV_VIEWS = 1, /* weak-keyed table: activation views */
    UV_X = 2,     /* input of the last forward */
    UV_DY = 3,    /* dy of the last backward */
    UV_COUNT = 3
};

typedef enum {
    K_CONV, K_BN, K_RELU, K_LEAKY_RELU, K_TANH, K_SIGMOID, K_MAXPOOL, K_AVGPOOL, K_GAP,
    K_LINEAR, K_DROPOUT, K_FLATTEN, K_IDENTITY, K_DENSE, K_SEQUENTIAL, K_RESIDUAL, K_CONCAT,
    K_COUNT
} NodeKind;

/* ---- the kinds and their options ------------------------------------------------------ */

#define COMMON "kind", "name"
static const char *const conv_opts[] = {COMMON, "in_c", "out_c", "k", "kh", "kw", "stride",
                                        "stride_h", "stride_w", "pad", "pad_h", "pad_w",
                                        "groups", "bias", "init", NULL};
static const char *const bn_opts[] = {COMMON, "channels", "eps", "momentum", "affine", NULL};
static const char *const plain_opts[] = {COMMON, NULL};
static const char *const leaky_opts[] = {COMMON, "slope", NULL};
static const char *const pool_opts[] = {COMMON, "k", "kh", "kw", "stride", "stride_h",
                                        "stride_w", "pad", "pad_h", "pad_w", NULL};
static const char *const linear_opts[] = {COMMON, "in_f", "out_f", "bias", "init", NULL};
static const char *const dropout_opts[] = {COMMON, "p", NULL};
static const char *const dense_opts[] = {COMMON, "in_c", "layers", "growth", "bottleneck",
                                         "eps", "momentum", "init", NULL};
static const char *const seq_opts[] = {COMMON, "children", NULL};
static const char *const res_opts[] = {COMMON, "main", "shortcut", NULL};
static const char *const cat_opts[] = {COMMON, "branches", NULL};

typedef struct KindInfo {
    const char *name;
    const char *const *opts;
} KindInfo;

static const KindInfo KINDS[K_COUNT] = {
    [K_CONV] = {"conv", conv_opts},
    [K_BN] = {"batchnorm", bn_opts},
    [K_RELU] = {"relu", plain_opts},
    [K_LEAKY_RELU] = {"leaky_relu", leaky_opts},
    [K_TANH] = {"tanh", plain_opts},
    [K_SIGMOID] = {"sigmoid", plain_opts},
    [K_MAXPOOL] = {"maxpool", pool_opts},
    [K_AVGPOOL] = {"avgpool", pool_opts},
    [K_GAP] = {"global_avgpool", plain_opts},
    [K_LINEAR] = {"linear", linear_opts},
    [K_DROPOUT] = {"dropout", dropout_opts},
    [K_FLATTEN] = {"flatten", plain_opts},
    [K_IDENTITY] = {"identity", plain_opts},
    [K_DENSE] = {"dense_block", dense_opts},
    [K_SEQUENTIAL] = {"sequential", seq_opts},
    [K_RESIDUAL] = {"residual", res_opts},
    [K_CONCAT] = {"concat", cat_opts},
};

/* PyTorch defaults (torch.nn.BatchNorm2d, LeakyReLU, Dropout). */
#define BN_EPS_DEFAULT 1e-5
#define BN_MOMENTUM_DEFAULT 0.1
#define LEAKY_SLOPE_DEFAULT 0.01
#define DROPOUT_P_DEFAULT 0.5

/* One node of the validated description, in pre-order: a container's children follow it,
 * each child's subtree taking n_sub entries. */
typedef struct NodeSpec {
    NodeKind kind;
    int n_sub;   /* entries in this subtree, itself included */
    int n_child;
    char path[MODULE_PATH_MAX];
    union {
        ConvParams conv;
        BatchNormParams bn;
        PoolParams pool;
        LinearParams linear;
        DenseParams dense;
        double slope;
        double p;
    } u;
} NodeSpec;

/* The spec array lives in a plain userdata at stack slot `slot`; growing replaces it, so a
 * raised error leaves nothing to free. */
typedef struct SpecList {
    NodeSpec *v;
    int n, cap, slot;
} SpecList;

static NodeSpec *spec_push(lua_State *L, SpecList *s)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        NodeSpec *v = lua_newuserdatauv(L, (size_t)cap * sizeof *v, 0);
        if (s->n)
            memcpy(v, s->v, (size_t)s->n * sizeof *v);
        lua_replace(L, s->slot);
        s->v = v;
        s->cap = cap;
    }
    NodeSpec *sp = &s->v[s->n++];
    memset(sp, 0, sizeof *sp);
    return sp;
}

/* ---- phase 1: validation -------------------------------------------------------------- */

static const char *where(const char *path) { return path[0] ? path : "(root)"; }

/* Pushes field `key` of the table at idx; returns 0 (and pushes nil) when absent. */
static int field(lua_State *L, int idx, const char *key)
{
    return lua_getfield(L, idx, key) != LUA_TNIL;
}

static int opt_int(lua_State *L, int idx, const char *path, const char *key, int dflt,
                   int required)
{
    int isint = 0;
    if (!field(L, idx, key)) {
        lua_pop(L, 1);
        if (required)
            lua_raisef(L, "%s: missing required option '%s'", where(path), key);
        return dflt;
    }
    lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
    if (!isint)
        lua_raisef(L, "%s: option '%s' must be an integer, got %s", where(path), key,
                   luaL_tolstring(L, -1, NULL));
    if (v < INT_MIN || v > INT_MAX)
        lua_raisef(L, "%s: option '%s' is %lld, out of range", where(path), key, (long long)v);
    lua_pop(L, 1);
    return (int)v;
}

static double opt_num(lua_State *L, int idx, const char *path, const char *key, double dflt)
{
    if (!field(L, idx, key)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TNUMBER)
        lua_raisef(L, "%s: option '%s' must be a number, got %s", where(path), key,
                   luaL_typename(L, -1));
    double v = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static int opt_bool(lua_State *L, int idx, const char *path, const char *key, int dflt)
{
    if (!field(L, idx, key)) {
        lua_pop(L, 1);
        return dflt;
    }
    if (lua_type(L, -1) != LUA_TBOOLEAN)
        lua_raisef(L, "%s: option '%s' must be a boolean, got %s", where(path), key,
                   luaL_typename(L, -1));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static InitScheme opt_init(lua_State *L, int idx, const char *path)
{
    InitScheme s = INIT_TORCH_DEFAULT;
    if (!field(L, idx, "init")) {
        lua_pop(L, 1);
        return s;
    }
    if (lua_type(L, -1) != LUA_TSTRING)
        lua_raisef(L, "%s: option 'init' must be a string, got %s", where(path),
                   luaL_typename(L, -1));
    if (init_scheme_parse(lua_tostring(L, -1), &s))
        lua_raisef(L, "%s: option 'init' is '%s' (known: torch_default, he_normal, "
                   "he_normal_fan_in, zero)", where(path), lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

/* A size given either as `one` or as the pair `a`, `b` (e.g. k or kh, kw); *pa, *pb get it.
 * dflt < 0 makes it required. */
static void opt_pair(lua_State *L, int idx, const char *path, const char *one, const char *a,
                     const char *b, int dflt_a, int dflt_b, int *pa, int *pb)
{
    int has_one = field(L, idx, one);
    int has_a = field(L, idx, a);
    int has_b = field(L, idx, b);
    lua_pop(L, 3);
    if (has_one && (has_a || has_b))
        lua_raisef(L, "%s: give '%s' or '%s'/'%s', not both", where(path), one, a, b);
    if (has_a != has_b)
        lua_raisef(L, "%s: '%s' and '%s' go together", where(path), a, b);
    if (has_one) {
        *pa = *pb = opt_int(L, idx, path, one, 0, 1);
    } else if (has_a) {
        *pa = opt_int(L, idx, path, a, 0, 1);
        *pb = opt_int(L, idx, path, b, 0, 1);
    } else if (dflt_a < 0) {
        lua_raisef(L, "%s: missing required option '%s' (or '%s' and '%s')", where(path), one,
                   a, b);
    } else {
        *pa = dflt_a;
        *pb = dflt_b;
    }
}

/* Checks that the field `key` of the table at idx is a list of tables; returns its length
 * and leaves it pushed. */
static int opt_list(lua_State *L, int idx, const char *path, const char *key, int min)
{
    if (!field(L, idx, key))
        lua_raisef(L, "%s: missing required option '%s'", where(path), key);
    if (!lua_istable(L, -1))
        lua_raisef(L, "%s: option '%s' must be a list of layer tables, got %s", where(path),
                   key, luaL_typename(L, -1));
    int list = lua_gettop(L);
    lua_Integer n = luaL_len(L, list);
    if (n < min || n > INT_MAX / 2)
        lua_raisef(L, "%s: option '%s' has %lld entries, expected at least %d", where(path), key,
                   (long long)n, min);
    int count = 0;
    lua_pushnil(L);
    while (lua_next(L, list)) {
        int isint = 0;
        lua_Integer k = lua_type(L, -2) == LUA_TNUMBER ? lua_tointegerx(L, -2, &isint) : 0;
        if (!isint || k < 1 || k > n)
            lua_raisef(L, "%s: option '%s' must be a plain list (found key %s)", where(path),
                       key, luaL_tolstring(L, -2, NULL));
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        lua_raisef(L, "%s: option '%s' has holes", where(path), key);
    return (int)n;
}

static void parse_node(lua_State *L, int idx, const char *parent, const char *dflt_name,
                       SpecList *s, int depth);

/* Parses the child description at the top of the stack (popping it); pos is its default
 * path component. */
static void parse_child(lua_State *L, const char *parent, int pos, SpecList *s, int depth)
{
    char name[16];
    snprintf(name, sizeof name, "%d", pos);
    parse_node(L, lua_gettop(L), parent, name, s, depth + 1);
    lua_pop(L, 1);
}

static NodeKind parse_kind(lua_State *L, int idx, const char *path)
{
    if (lua_getfield(L, idx, "kind") != LUA_TSTRING)
        lua_raisef(L, "%s: layer table needs a string 'kind', got %s", where(path),
                   luaL_typename(L, -1));
    const char *k = lua_tostring(L, -1);
    for (int i = 0; i < K_COUNT; i++) {
        if (!strcmp(k, KINDS[i].name)) {
            lua_pop(L, 1);
            return (NodeKind)i;
        }
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < K_COUNT; i++) {
        luaL_addstring(&b, i ? ", " : "");
        luaL_addstring(&b, KINDS[i].name);
    }
    luaL_pushresult(&b);
    return (NodeKind)lua_raisef(L, "%s: unknown kind '%s' (known: %s)", where(path), k,
                                lua_tostring(L, -1));
}

static void parse_node(lua_State *L, int idx, const char *parent, const char *dflt_name,
                       SpecList *s, int depth)
{
    char path[MODULE_PATH_MAX];
    const char *comp = dflt_name;
    luaL_checkstack(L, 8, "network description");
    if (!lua_istable(L, idx)) {
        snprintf(path, sizeof path, "%s%s%s", parent, parent[0] ? "." : "", dflt_name);
        lua_raisef(L, "%s: layer description is a %s, expected a table", where(path),
                   luaL_typename(L, idx));
    }
    if (depth > NN_MAX_DEPTH)
        lua_raisef(L, "%s: nested more than %d levels deep (does the description contain "
                   "itself?)", where(parent), NN_MAX_DEPTH);
    int t = lua_getfield(L, idx, "name");
    if (t == LUA_TSTRING)
        comp = lua_tostring(L, -1);
    else if (t != LUA_TNIL)
        lua_raisef(L, "%s: option 'name' must be a string, got %s", where(parent),
                   luaL_typename(L, -1));
    int len = snprintf(path, sizeof path, "%s%s%s", parent, parent[0] && comp[0] ? "." : "",
                       comp);
    if (len < 0 || len >= (int)sizeof path)
        lua_raisef(L, "%s.%s: path longer than %d characters", where(parent), comp,
                   MODULE_PATH_MAX - 1);
    lua_pop(L, 1);

    NodeKind kind = parse_kind(L, idx, path);
    lua_check_options(L, idx, where(path), KINDS[kind].opts);
    int self = s->n;
    NodeSpec *sp = spec_push(L, s);
    sp->kind = kind;
    memcpy(sp->path, path, sizeof path);
    switch (kind) {
    case K_CONV: {
        ConvParams p;
        p.in_c = opt_int(L, idx, path, "in_c", 0, 1);
        p.out_c = opt_int(L, idx, path, "out_c", 0, 1);
        opt_pair(L, idx, path, "k", "kh", "kw", -1, -1, &p.kh, &p.kw);
        opt_pair(L, idx, path, "stride", "stride_h", "stride_w", 1, 1, &p.stride_h,
                 &p.stride_w);
        opt_pair(L, idx, path, "pad", "pad_h", "pad_w", 0, 0, &p.pad_h, &p.pad_w);
        p.groups = opt_int(L, idx, path, "groups", 1, 0);
        p.bias = opt_bool(L, idx, path, "bias", 1);
        p.init = opt_init(L, idx, path);
        s->v[self].u.conv = p;
        break;
    }
    case K_BN: {
        BatchNormParams p;
        p.channels = opt_int(L, idx, path, "channels", 0, 1);
        p.eps = opt_num(L, idx, path, "eps", BN_EPS_DEFAULT);
        p.momentum = opt_num(L, idx, path, "momentum", BN_MOMENTUM_DEFAULT);
        p.affine = opt_bool(L, idx, path, "affine", 1);
        s->v[self].u.bn = p;
        break;
    }
    case K_LEAKY_RELU:
        s->v[self].u.slope = opt_num(L, idx, path, "slope", LEAKY_SLOPE_DEFAULT);
        break;
    case K_MAXPOOL:
    case K_AVGPOOL: {
        PoolParams p;
        p.mode = kind == K_MAXPOOL ? POOL_MAX : POOL_AVG;
        opt_pair(L, idx, path, "k", "kh", "kw", -1, -1, &p.kh, &p.kw);
        /* PyTorch: the stride defaults to the kernel size */
        opt_pair(L, idx, path, "stride", "stride_h", "stride_w", p.kh, p.kw, &p.stride_h,
                 &p.stride_w);
        opt_pair(L, idx, path, "pad", "pad_h", "pad_w", 0, 0, &p.pad_h, &p.pad_w);
        s->v[self].u.pool = p;
        break;
    }
    case K_LINEAR: {
        LinearParams p;
        p.in = opt_int(L, idx, path, "in_f", 0, 1);
        p.out = opt_int(L, idx, path, "out_f", 0, 1);
        p.bias = opt_bool(L, idx, path, "bias", 1);
        p.init = opt_init(L, idx, path);
        s->v[self].u.linear = p;
        break;
    }
    case K_DROPOUT:
        s->v[self].u.p = opt_num(L, idx, path, "p", DROPOUT_P_DEFAULT);
        break;
    case K_DENSE: {
        /* dense.h: a DenseNet-BC block with one shared feature buffer */
        DenseParams p;
        p.in_c = opt_int(L, idx, path, "in_c", 0, 1);
        p.layers = opt_int(L, idx, path, "layers", 0, 1);
        p.growth = opt_int(L, idx, path, "growth", 0, 1);
        p.bottleneck = opt_int(L, idx, path, "bottleneck", 0, 1);
        p.eps = opt_num(L, idx, path, "eps", BN_EPS_DEFAULT);
        p.momentum = opt_num(L, idx, path, "momentum", BN_MOMENTUM_DEFAULT);
        p.init = opt_init(L, idx, path);
        s->v[self].u.dense = p;
        break;
    }
    case K_SEQUENTIAL:
    case K_CONCAT: {
        const char *key = kind == K_SEQUENTIAL ? "children" : "branches";
        int n = opt_list(L, idx, path, key, kind == K_CONCAT ? 1 : 0);
        int list = lua_gettop(L);
        for (int i = 1; i <= n; i++) {
            lua_geti(L, list, i);
            parse_child(L, path, i, s, depth);
        }
        lua_pop(L, 1);
        s->v[self].n_child = n;
        break;
    }
    case K_RESIDUAL: {
        if (!field(L, idx, "main"))
            lua_raisef(L, "%s: missing required option 'main'", where(path));
        parse_child(L, path, 1, s, depth);
        s->v[self].n_child = 1;
        if (field(L, idx, "shortcut")) {
            parse_child(L, path, 2, s, depth);
            s->v[self].n_child = 2;
        } else {
            lua_pop(L, 1);
        }
        break;
    }
    default:
        break;
    }
    s->v[self].n_sub = s->n - self; /* s->v may have moved: index, never a saved pointer */
}

/* ---- phase 2: construction (plain C; errors come back in err) ------------------------- */

static Module *build_module(const SpecList *s, int i, Err *err);

static Module *build_container(const SpecList *s, int i, Err *err)
{
    const NodeSpec *sp = &s->v[i];
    Module *kids[2] = {NULL, NULL};
    Module **k = sp->n_child > 2 ? calloc((size_t)sp->n_child, sizeof *k) : kids;
    if (!k) {
        err_set(err, "%s: out of memory", where(sp->path));
        return NULL;
    }
    Module *m = NULL;
    int j = i + 1, c;
    for (c = 0; c < sp->n_child; c++) {
        if (!(k[c] = build_module(s, j, err)))
            break;
        j += s->v[j].n_sub;
    }
    if (c < sp->n_child) {
        for (int d = 0; d < c; d++)
            module_free(k[d]);
    } else if (sp->kind == K_SEQUENTIAL) {
        m = sequential_module_new(k, sp->n_child, err);
    } else if (sp->kind == K_CONCAT) {
        m = concat_module_new(k, sp->n_child, err);
    } else {
        m = residual_module_new(k[0], sp->n_child > 1 ? k[1] : NULL, err);
    }
    if (k != kids)
        free(k);
    return m;
}

static Module *build_module(const SpecList *s, int i, Err *err)
{
    const NodeSpec *sp = &s->v[i];
    Module *m = NULL;
    switch (sp->kind) {
    case K_CONV: m = conv_module_new(&sp->u.conv, err); break;
    case K_BN: m = batchnorm_module_new(&sp->u.bn, err); break;
    case K_RELU: m = act_module_new(ACT_RELU, 0.0, err); break;
    case K_LEAKY_RELU: m = act_module_new(ACT_LEAKY_RELU, sp->u.slope, err); break;
    case K_TANH: m = act_module_new(ACT_TANH, 0.0, err); break;
    case K_SIGMOID: m = act_module_new(ACT_SIGMOID, 0.0, err); break;
    case K_MAXPOOL:
    case K_AVGPOOL: m = pool_module_new(&sp->u.pool, err); break;
    case K_GAP: m = global_avgpool_module_new(err); break;
    case K_LINEAR: m = linear_module_new(&sp->u.linear, err); break;
    case K_DROPOUT: m = dropout_module_new(sp->u.p, err); break;
    case K_FLATTEN: m = flatten_module_new(err); break;
    case K_IDENTITY: m = identity_module_new(err); break;
    case K_DENSE: m = dense_module_new(&sp->u.dense, err); break;
    case K_SEQUENTIAL:
    case K_RESIDUAL:
    case K_CONCAT:
        /* a failing child has prefixed its own path already */
        if (!(m = build_container(s, i, err)))
            return NULL;
        break;
    default: break;
    }
    if (!m) {
        err_prefix(err, where(sp->path));
        return NULL;
    }
    memcpy(m->path, sp->path, sizeof m->path);
    return m;
}

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

static void shape_fields(lua_State *L, const char *where_, int idx, int *c, int *h, int *w)
{
    static const char *const keys[] = {"c", "h", "w", NULL};
    int *out[3] = {c, h, w};
    lua_check_options(L, idx, where_, keys);
    for (int i = 0; i < 3; i++) {
        *out[i] = opt_int(L, idx, where_, keys[i], 0, 1);
        if (*out[i] < 1)
            lua_raisef(L, "%s: '%s' is %d, expected >= 1", where_, keys[i], *out[i]);
    }
}

/* nn.build(desc, {c=, h=, w=}, {batch=, threads=}) -> Net */
static int l_nn_build(lua_State *L)
{
    static const char *const opt_keys[] = {"batch", "threads", NULL};
    Err err;
    Shape in;
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    shape_fields(L, "nn.build: input shape", 2, &in.c, &in.h, &in.w);
    lua_check_options(L, 3, "nn.build: options", opt_keys);
    int batch = opt_int(L, 3, "nn.build: options", "batch", 0, 1);
    int threads = opt_int(L, 3, "nn.build: options", "threads", blas_get_threads(), 0);
    if (batch < 1)
        return lua_raisef(L, "nn.build: options: batch is %d, expected >= 1", batch);
    if (threads < 1)
        return lua_raisef(L, "nn.build: options: threads is %d, expected >= 1", threads);

    lua_pushnil(L); /* slot 4: the spec array */
    SpecList s = {NULL, 0, 0, 4};
    parse_node(L, 1, "", "", &s, 0);

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

    Module *root = build_module(&s, 0, &err);
    if (!root)
        return luaL_error(L, "%s", err.msg);
    if (net_build(&ln->net, root, in, threads, batch, &err))
        return luaL_error(L, "%s", err.msg);
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
        return luaL_error(L, "%s", err.msg);
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

/* net:backward(dy) -> dx, a view valid until the next backward; accumulates into grads. */
static int l_net_backward(lua_State *L)
{
    Err err;
    const Tensor *dx;
    Net *net = check_net(L, 1);
    Tensor *dy = lua_tensor_check(L, 2);
    lua_getiuservalue(L, 1, UV_X);
    if (net->last_x && !tensor_alive(L, lua_gettop(L)))
        return lua_raisef(L, "net_backward: the input of the last forward was closed");
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 1, UV_DY);
    if (net_backward(net, dy, &dx, &err))
        return luaL_error(L, "%s", err.msg);
    push_activation(L, dx);
    return 1;
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
        return luaL_error(L, "%s", err.msg);
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
        return luaL_error(L, "%s", err.msg);
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
    for (int i = 0; i < m->n_child; i++)
        push_profile(L, m->child[i], k);
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
    push_profile(L, net->root, &k);
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

static const luaL_Reg net_methods[] = {
    {"init", l_net_init},
    {"forward", l_net_forward},
    {"backward", l_net_backward},
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
