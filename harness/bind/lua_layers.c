/*
 * lua_layers.c: the layer registry and the network-description parser behind nn.build
 * (lua_layers.h has the two-phase contract).
 *
 * Description: nested plain Lua tables (nets/containers.lua writes them); every table has a
 * `kind` and an optional `name`. Leaf kinds are the entries of LAYERS below, each with its
 * options and their defaults (the layer header's, which are PyTorch's where PyTorch has one).
 * Containers are the three kinds the parser itself knows:
 *   {kind = "sequential", children = {...}}, {kind = "residual", main = d, shortcut = d|nil},
 *   {kind = "concat", branches = {...}}.
 * Paths: a module's path is its ancestors' components and its own, joined by dots. The
 * component is `name` when given (name = "" adds none: a structural container such as a
 * block's residual), else the 1-based position in the parent (residual: main 1, shortcut 2).
 * Nets name their layers as the PyTorch reference does, so that paths read
 * "preact_resnet.layer2.0.conv2".
 *
 * Adding a layer kind (nothing else changes; the Makefile and tests/run.sh find new files):
 *   1. harness/nn/<kind>.h/.c: <kind>_forward then <kind>_backward (backward overwrites dx and
 *      accumulates into dw), a static <kind>_check called first by both, <kind>_module_new
 *      (const <Kind>Params *, Err *), and PyTorch's defaults as <KIND>_DEFAULT_* in the header.
 *   2. Here: #include "nn/<kind>.h" and one registry entry: the option table (REQ, or OPT with
 *      the header's default), <kind>_parse (rd_* -> params, LAYER_PUT), <kind>_build
 *      (LAYER_GET -> <kind>_module_new) and its line in LAYERS. Option errors then follow
 *      lua_opt.c's grammar by themselves.
 *   3. tests/engine/test_<kind>.c: forward and backward against a double-precision reference
 *      (or PyTorch fixtures), tl_fd_check central differences (batch 1 and > 1, odd shapes,
 *      inputs away from kinks), thread-count independence and the constructor's errors.
 */
#include "bind/lua_layers.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/lua_engine.h"
#include "nn/act.h"
#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/elu.h"
#include "nn/linear.h"
#include "nn/mix.h"
#include "nn/net.h"
#include "nn/pool.h"

#define NN_MAX_DEPTH 64      /* nesting limit; also catches a description that contains itself */
#define LAYER_ARGS_BYTES 128 /* room for the largest kind's params struct */
#define LAYER_MAX_OPTS 24    /* options of one kind, kind and name included */

/* ---- the registry --------------------------------------------------------------------- */

typedef enum { LOPT_INT, LOPT_NUM, LOPT_BOOL, LOPT_INIT, LOPT_ALGO } LayerOptType;

/* One option of a kind: its type and its default (need = LUA_OPT_DEFAULT) or none
 * (LUA_OPT_REQUIRED). Integers, booleans (0/1) and InitScheme values are exact in dflt. */
typedef struct LayerOpt {
    const char *name;
    LayerOptType type;
    int need;
    double dflt;
} LayerOpt;

/* What a kind's parse function reads its options through. */
typedef struct LayerReader {
    lua_State *L;
    int idx;            /* the layer's table */
    const char *where;  /* its path, for messages */
    const LayerOpt *opts;
    ConvAlgo conv_algo; /* the net's default for a conv without `algo` (nn.build's option) */
} LayerReader;

typedef struct LayerKind {
    const char *name;
    const LayerOpt *opts; /* terminated by a NULL name; "kind" and "name" are implied */
    /* Reads the options into the kind's params struct at args (LAYER_ARGS_BYTES). */
    void (*parse)(LayerReader *r, void *args);
    /* Builds the module from those params; NULL with err filled when they are invalid. */
    Module *(*build)(const void *args, Err *err);
} LayerKind;

static const LayerOpt *find_opt(LayerReader *r, const char *key)
{
    for (const LayerOpt *o = r->opts; o->name; o++)
        if (!strcmp(o->name, key))
            return o;
    lua_raisef(r->L, "%s: the layer registry has no option '%s' (lua_layers.c)", r->where, key);
    return NULL;
}

static int rd_int(LayerReader *r, const char *key)
{
    const LayerOpt *o = find_opt(r, key);
    return (int)lua_opt_int(r->L, r->idx, r->where, key, o->need, (lua_Integer)o->dflt,
                            LUA_OPT_ANY_INT);
}

static double rd_num(LayerReader *r, const char *key)
{
    const LayerOpt *o = find_opt(r, key);
    return lua_opt_num(r->L, r->idx, r->where, key, o->need, o->dflt, LUA_OPT_ANY_NUM);
}

static int rd_bool(LayerReader *r, const char *key)
{
    const LayerOpt *o = find_opt(r, key);
    return lua_opt_bool(r->L, r->idx, r->where, key, o->need, o->dflt != 0.0);
}

static InitScheme rd_init(LayerReader *r)
{
    const char *names[] = {init_scheme_name(INIT_TORCH_DEFAULT), init_scheme_name(INIT_HE_NORMAL),
                           init_scheme_name(INIT_HE_NORMAL_FAN_IN), init_scheme_name(INIT_ZERO),
                           init_scheme_name(INIT_NORMAL_001), NULL};
    const LayerOpt *o = find_opt(r, "init");
    return (InitScheme)lua_opt_enum(r->L, r->idx, r->where, "init", o->need, (int)o->dflt,
                                    names);
}

/* A conv's `algo` (conv.h's ConvAlgo names); without it, the net's default. */
static ConvAlgo rd_algo(LayerReader *r)
{
    const char *names[CONV_ALGO_COUNT + 1];
    for (int a = 0; a < CONV_ALGO_COUNT; a++)
        names[a] = conv_algo_name((ConvAlgo)a);
    names[CONV_ALGO_COUNT] = NULL;
    const LayerOpt *o = find_opt(r, "algo");
    return (ConvAlgo)lua_opt_enum(r->L, r->idx, r->where, "algo", o->need, (int)r->conv_algo,
                                  names);
}

/* A size given either as `one` or as the pair `a`, `b` (e.g. k or kh, kw) into *pa, *pb; when
 * none is given, `one`'s default (or its missing message). Returns whether one was given. */
static int rd_pair(LayerReader *r, const char *one, const char *a, const char *b, int *pa,
                   int *pb)
{
    char with[64];
    lua_State *L = r->L;
    int has_one = lua_opt_has(L, r->idx, one);
    int has_a = lua_opt_has(L, r->idx, a), has_b = lua_opt_has(L, r->idx, b);
    if (has_a || has_b) {
        snprintf(with, sizeof with, "'%s'/'%s'", a, b);
        lua_opt_none(L, r->idx, r->where, one, with);
        if (!has_a || !has_b) {
            snprintf(with, sizeof with, "with '%s'", has_a ? a : b);
            lua_opt_missing(L, r->where, has_a ? b : a, with);
        }
        *pa = rd_int(r, a);
        *pb = rd_int(r, b);
        return 1;
    }
    if (!has_one && find_opt(r, one)->need == LUA_OPT_REQUIRED) {
        snprintf(with, sizeof with, "or '%s' and '%s'", a, b);
        lua_opt_missing(L, r->where, one, with);
    }
    *pa = *pb = rd_int(r, one);
    return has_one;
}

/* A kind's params struct into and out of the spec's args bytes. */
#define LAYER_PUT(args, p)                                                                   \
    do {                                                                                     \
        _Static_assert(sizeof(p) <= LAYER_ARGS_BYTES, "LAYER_ARGS_BYTES is too small");      \
        memcpy(args, &(p), sizeof(p));                                                       \
    } while (0)
#define LAYER_GET(p, args) memcpy(&(p), args, sizeof(p))

#define OPT(name, type, dflt) {name, type, LUA_OPT_DEFAULT, dflt}
#define REQ(name, type) {name, type, LUA_OPT_REQUIRED, 0}
#define END {NULL, LOPT_INT, 0, 0}

/* -- conv (nn/conv.h) -- */
static const LayerOpt conv_opts[] = {
    REQ("in_c", LOPT_INT), REQ("out_c", LOPT_INT), REQ("k", LOPT_INT), OPT("kh", LOPT_INT, 0),
    OPT("kw", LOPT_INT, 0), OPT("stride", LOPT_INT, CONV_DEFAULT_STRIDE),
    OPT("stride_h", LOPT_INT, 0), OPT("stride_w", LOPT_INT, 0),
    OPT("pad", LOPT_INT, CONV_DEFAULT_PAD), OPT("pad_h", LOPT_INT, 0), OPT("pad_w", LOPT_INT, 0),
    OPT("groups", LOPT_INT, CONV_DEFAULT_GROUPS), OPT("bias", LOPT_BOOL, CONV_DEFAULT_BIAS),
    OPT("init", LOPT_INIT, INIT_TORCH_DEFAULT), OPT("algo", LOPT_ALGO, CONV_ALGO_DEFAULT),
    END};

static void conv_parse(LayerReader *r, void *args)
{
    ConvParams p;
    p.in_c = rd_int(r, "in_c");
    p.out_c = rd_int(r, "out_c");
    rd_pair(r, "k", "kh", "kw", &p.kh, &p.kw);
    rd_pair(r, "stride", "stride_h", "stride_w", &p.stride_h, &p.stride_w);
    rd_pair(r, "pad", "pad_h", "pad_w", &p.pad_h, &p.pad_w);
    p.groups = rd_int(r, "groups");
    p.bias = rd_bool(r, "bias");
    p.init = rd_init(r);
    p.algo = rd_algo(r);
    LAYER_PUT(args, p);
}

static Module *conv_build(const void *args, Err *err)
{
    ConvParams p;
    LAYER_GET(p, args);
    return conv_module_new(&p, err);
}

/* -- batchnorm (nn/batchnorm.h) -- */
static const LayerOpt bn_opts[] = {
    REQ("channels", LOPT_INT), OPT("eps", LOPT_NUM, BN_DEFAULT_EPS),
    OPT("momentum", LOPT_NUM, BN_DEFAULT_MOMENTUM), OPT("affine", LOPT_BOOL, BN_DEFAULT_AFFINE),
    OPT("group", LOPT_INT, 0), OPT("zero_gamma", LOPT_BOOL, 0), END};

static void bn_parse(LayerReader *r, void *args)
{
    BatchNormParams p;
    p.channels = rd_int(r, "channels");
    p.eps = rd_num(r, "eps");
    p.momentum = rd_num(r, "momentum");
    p.affine = rd_bool(r, "affine");
    p.group = rd_int(r, "group");
    p.zero_gamma = rd_bool(r, "zero_gamma");
    LAYER_PUT(args, p);
}

static Module *bn_build(const void *args, Err *err)
{
    BatchNormParams p;
    LAYER_GET(p, args);
    return batchnorm_module_new(&p, err);
}

/* -- activations (nn/act.h): one build, the kind and leaky ReLU's slope in ActArgs -- */
typedef struct ActArgs {
    ActKind kind;
    double slope;
} ActArgs;

static const LayerOpt no_opts[] = {END};
static const LayerOpt leaky_opts[] = {OPT("slope", LOPT_NUM, ACT_LEAKY_DEFAULT_SLOPE), END};

static void act_put(void *args, ActKind kind, double slope)
{
    ActArgs a = {kind, slope};
    LAYER_PUT(args, a);
}

static void relu_parse(LayerReader *r, void *args) { (void)r, act_put(args, ACT_RELU, 0.0); }
static void tanh_parse(LayerReader *r, void *args) { (void)r, act_put(args, ACT_TANH, 0.0); }
static void sigmoid_parse(LayerReader *r, void *args)
{
    (void)r, act_put(args, ACT_SIGMOID, 0.0);
}
static void leaky_parse(LayerReader *r, void *args)
{
    act_put(args, ACT_LEAKY_RELU, rd_num(r, "slope"));
}

static Module *act_build(const void *args, Err *err)
{
    ActArgs a;
    LAYER_GET(a, args);
    return act_module_new(a.kind, a.slope, err);
}

/* -- pooling (nn/pool.h) -- */
static const LayerOpt pool_opts[] = {
    REQ("k", LOPT_INT), OPT("kh", LOPT_INT, 0), OPT("kw", LOPT_INT, 0),
    OPT("stride", LOPT_INT, 0), /* 0 stands for the kernel size, PyTorch's default */
    OPT("stride_h", LOPT_INT, 0), OPT("stride_w", LOPT_INT, 0),
    OPT("pad", LOPT_INT, POOL_DEFAULT_PAD), OPT("pad_h", LOPT_INT, 0), OPT("pad_w", LOPT_INT, 0),
    END};

static void pool_parse_mode(LayerReader *r, void *args, PoolMode mode)
{
    PoolParams p;
    p.mode = mode;
    rd_pair(r, "k", "kh", "kw", &p.kh, &p.kw);
    if (!rd_pair(r, "stride", "stride_h", "stride_w", &p.stride_h, &p.stride_w)) {
        p.stride_h = p.kh;
        p.stride_w = p.kw;
    }
    rd_pair(r, "pad", "pad_h", "pad_w", &p.pad_h, &p.pad_w);
    LAYER_PUT(args, p);
}

static void maxpool_parse(LayerReader *r, void *args) { pool_parse_mode(r, args, POOL_MAX); }
static void avgpool_parse(LayerReader *r, void *args) { pool_parse_mode(r, args, POOL_AVG); }

static Module *pool_build(const void *args, Err *err)
{
    PoolParams p;
    LAYER_GET(p, args);
    return pool_module_new(&p, err);
}

static void no_parse(LayerReader *r, void *args) { (void)r, (void)args; }

static Module *gap_build(const void *args, Err *err)
{
    (void)args;
    return global_avgpool_module_new(err);
}

static Module *flatten_build(const void *args, Err *err)
{
    (void)args;
    return flatten_module_new(err);
}

static Module *identity_build(const void *args, Err *err)
{
    (void)args;
    return identity_module_new(err);
}

/* -- mix (nn/mix.h): latent mixup; the plan comes from net_set_mix -- */
static Module *mix_build(const void *args, Err *err)
{
    (void)args;
    return mix_module_new(err);
}

/* -- linear (nn/linear.h) -- */
static const LayerOpt linear_opts[] = {
    REQ("in_f", LOPT_INT), REQ("out_f", LOPT_INT), OPT("bias", LOPT_BOOL, LINEAR_DEFAULT_BIAS),
    OPT("init", LOPT_INIT, INIT_TORCH_DEFAULT), END};

static void linear_parse(LayerReader *r, void *args)
{
    LinearParams p;
    p.in = rd_int(r, "in_f");
    p.out = rd_int(r, "out_f");
    p.bias = rd_bool(r, "bias");
    p.init = rd_init(r);
    LAYER_PUT(args, p);
}

static Module *linear_build(const void *args, Err *err)
{
    LinearParams p;
    LAYER_GET(p, args);
    return linear_module_new(&p, err);
}

/* -- dropout (nn/dropout.h) -- */
static const LayerOpt dropout_opts[] = {OPT("p", LOPT_NUM, DROPOUT_DEFAULT_P), END};

static void dropout_parse(LayerReader *r, void *args)
{
    double p = rd_num(r, "p");
    LAYER_PUT(args, p);
}

static Module *dropout_build(const void *args, Err *err)
{
    double p;
    LAYER_GET(p, args);
    return dropout_module_new(p, err);
}

/* -- dense_block (nn/dense.h): a DenseNet-BC block with one shared feature buffer -- */
static const LayerOpt dense_opts[] = {
    REQ("in_c", LOPT_INT), REQ("layers", LOPT_INT), REQ("growth", LOPT_INT),
    REQ("bottleneck", LOPT_INT), OPT("eps", LOPT_NUM, DENSE_DEFAULT_EPS),
    OPT("momentum", LOPT_NUM, DENSE_DEFAULT_MOMENTUM), OPT("init", LOPT_INIT, INIT_TORCH_DEFAULT),
    END};

static void dense_parse(LayerReader *r, void *args)
{
    DenseParams p;
    p.in_c = rd_int(r, "in_c");
    p.layers = rd_int(r, "layers");
    p.growth = rd_int(r, "growth");
    p.bottleneck = rd_int(r, "bottleneck");
    p.eps = rd_num(r, "eps");
    p.momentum = rd_num(r, "momentum");
    p.init = rd_init(r);
    LAYER_PUT(args, p);
}

static Module *dense_build(const void *args, Err *err)
{
    DenseParams p;
    LAYER_GET(p, args);
    return dense_module_new(&p, err);
}

/* -- elu (nn/elu.h) -- */
static const LayerOpt elu_opts[] = {OPT("alpha", LOPT_NUM, ELU_DEFAULT_ALPHA), END};

static void elu_parse(LayerReader *r, void *args)
{
    EluParams p;
    p.alpha = rd_num(r, "alpha");
    LAYER_PUT(args, p);
}

static Module *elu_build(const void *args, Err *err)
{
    EluParams p;
    LAYER_GET(p, args);
    return elu_module_new(&p, err);
}

/* The leaf kinds, in the order messages list them. */
static const LayerKind LAYERS[] = {
    {"conv", conv_opts, conv_parse, conv_build},
    {"batchnorm", bn_opts, bn_parse, bn_build},
    {"relu", no_opts, relu_parse, act_build},
    {"leaky_relu", leaky_opts, leaky_parse, act_build},
    {"tanh", no_opts, tanh_parse, act_build},
    {"sigmoid", no_opts, sigmoid_parse, act_build},
    {"maxpool", pool_opts, maxpool_parse, pool_build},
    {"avgpool", pool_opts, avgpool_parse, pool_build},
    {"global_avgpool", no_opts, no_parse, gap_build},
    {"linear", linear_opts, linear_parse, linear_build},
    {"dropout", dropout_opts, dropout_parse, dropout_build},
    {"flatten", no_opts, no_parse, flatten_build},
    {"identity", no_opts, no_parse, identity_build},
    {"mix", no_opts, no_parse, mix_build},
    {"dense_block", dense_opts, dense_parse, dense_build},
    {"elu", elu_opts, elu_parse, elu_build},
};
#define N_LAYERS ((int)(sizeof LAYERS / sizeof LAYERS[0]))

#undef OPT
#undef REQ
#undef END

/* ---- the containers ------------------------------------------------------------------- */

typedef enum { CONT_NONE = 0, CONT_SEQUENTIAL, CONT_RESIDUAL, CONT_CONCAT, CONT_COUNT } ContKind;

static const struct {
    const char *name;
    const char *const opts[5]; /* kind and name included, NULL-terminated */
} CONTAINERS[CONT_COUNT] = {
    [CONT_SEQUENTIAL] = {"sequential", {"kind", "name", "children", NULL}},
    [CONT_RESIDUAL] = {"residual", {"kind", "name", "main", "shortcut", NULL}},
    [CONT_CONCAT] = {"concat", {"kind", "name", "branches", NULL}},
};

/* ---- phase 1: validation -------------------------------------------------------------- */

/* One node of the validated description, in pre-order: a container's children follow it,
 * each child's subtree taking n_sub entries. */
struct NodeSpec {
    const LayerKind *layer; /* NULL for a container */
    ContKind cont;
    int n_sub;              /* entries in this subtree, itself included */
    int n_child;
    char path[MODULE_PATH_MAX];
    _Alignas(max_align_t) unsigned char args[LAYER_ARGS_BYTES]; /* the kind's params struct */
};

/* The spec array lives in a plain userdata at stack slot `slot`; growing replaces it, so a
 * raised error leaves nothing to free. */
typedef struct SpecList {
    NodeSpec *v;
    int n, cap, slot;
    ConvAlgo conv_algo; /* the net's default for conv layers */
    int algos;          /* stack index of the {[path] = algorithm} map, 0 for none */
    int algos_used;     /* its entries found so far */
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

static const char *where(const char *path) { return path[0] ? path : "(root)"; }

static void parse_node(lua_State *L, int idx, const char *parent, const char *dflt_name,
                       SpecList *s, int depth);

/* The ConvAlgo of the conv_algos entry on the stack's top for the layer at path. */
static ConvAlgo map_algo(lua_State *L, const char *path)
{
    const char *name = lua_tostring(L, -1);
    for (int a = 0; name && lua_type(L, -1) == LUA_TSTRING && a < CONV_ALGO_COUNT; a++)
        if (!strcmp(name, conv_algo_name((ConvAlgo)a)))
            return (ConvAlgo)a;
    return (ConvAlgo)lua_raisef(L, "nn.build: options.conv_algos[\"%s\"] is %s, expected "
                                "default, direct, im2col or winograd", path,
                                name && lua_type(L, -1) == LUA_TSTRING ? name
                                                                      : luaL_typename(L, -1));
}

/* Parses the child description at the top of the stack (popping it); pos is its default
 * path component. */
static void parse_child(lua_State *L, const char *parent, int pos, SpecList *s, int depth)
{
    char name[16];
    snprintf(name, sizeof name, "%d", pos);
    parse_node(L, lua_gettop(L), parent, name, s, depth + 1);
    lua_pop(L, 1);
}

/* The layer table's kind: *layer for a leaf, else the container (the return value). */
static ContKind parse_kind(lua_State *L, int idx, const char *path, const LayerKind **layer)
{
    const char *names[N_LAYERS + CONT_COUNT];
    int n = 0;
    for (int i = 0; i < N_LAYERS; i++)
        names[n++] = LAYERS[i].name;
    for (int c = CONT_SEQUENTIAL; c < CONT_COUNT; c++)
        names[n++] = CONTAINERS[c].name;
    names[n] = NULL;
    int k = lua_opt_enum(L, idx, where(path), "kind", LUA_OPT_REQUIRED, 0, names);
    *layer = k < N_LAYERS ? &LAYERS[k] : NULL;
    return k < N_LAYERS ? CONT_NONE : (ContKind)(k - N_LAYERS + CONT_SEQUENTIAL);
}

/* Checks the table's keys against the kind's options. */
static void check_keys(lua_State *L, int idx, const char *path, const LayerKind *layer,
                       ContKind cont)
{
    const char *known[LAYER_MAX_OPTS + 1];
    if (!layer) {
        lua_opt_known(L, idx, where(path), CONTAINERS[cont].opts);
        return;
    }
    int n = 0;
    known[n++] = "kind";
    known[n++] = "name";
    for (const LayerOpt *o = layer->opts; o->name; o++) {
        if (n == LAYER_MAX_OPTS)
            lua_raisef(L, "%s: kind '%s' has more than %d options (raise LAYER_MAX_OPTS)",
                       where(path), layer->name, LAYER_MAX_OPTS - 2);
        known[n++] = o->name;
    }
    known[n] = NULL;
    lua_opt_known(L, idx, where(path), known);
}

static void parse_node(lua_State *L, int idx, const char *parent, const char *dflt_name,
                       SpecList *s, int depth)
{
    char path[MODULE_PATH_MAX];
    luaL_checkstack(L, 8, "network description");
    if (!lua_istable(L, idx)) {
        snprintf(path, sizeof path, "%s%s%s", parent, parent[0] ? "." : "", dflt_name);
        lua_raisef(L, "%s: layer description is a %s, expected a table", where(path),
                   luaL_typename(L, idx));
    }
    if (depth > NN_MAX_DEPTH)
        lua_raisef(L, "%s: nested more than %d levels deep (does the description contain "
                   "itself?)", where(parent), NN_MAX_DEPTH);
    const char *comp = lua_opt_str(L, idx, where(parent), "name", LUA_OPT_DEFAULT, dflt_name);
    int len = snprintf(path, sizeof path, "%s%s%s", parent, parent[0] && comp[0] ? "." : "",
                       comp);
    if (len < 0 || len >= (int)sizeof path)
        lua_raisef(L, "%s.%s: path longer than %d characters", where(parent), comp,
                   MODULE_PATH_MAX - 1);

    const LayerKind *layer;
    ContKind cont = parse_kind(L, idx, path, &layer);
    check_keys(L, idx, path, layer, cont);
    int self = s->n;
    NodeSpec *sp = spec_push(L, s);
    sp->layer = layer;
    sp->cont = cont;
    memcpy(sp->path, path, sizeof path);
    if (layer) {
        LayerReader r = {L, idx, where(path), layer->opts, s->conv_algo};
        if (s->algos && layer->parse == conv_parse &&
            lua_getfield(L, s->algos, path) != LUA_TNIL) {
            r.conv_algo = map_algo(L, path);
            s->algos_used++;
        }
        if (s->algos && layer->parse == conv_parse)
            lua_pop(L, 1);
        unsigned char args[LAYER_ARGS_BYTES];
        memset(args, 0, sizeof args);
        layer->parse(&r, args);
        memcpy(s->v[self].args, args, sizeof args);
    } else if (cont == CONT_RESIDUAL) {
        if (lua_getfield(L, idx, "main") == LUA_TNIL)
            lua_opt_missing(L, where(path), "main", NULL);
        parse_child(L, path, 1, s, depth);
        s->v[self].n_child = 1;
        if (lua_getfield(L, idx, "shortcut") != LUA_TNIL) {
            parse_child(L, path, 2, s, depth);
            s->v[self].n_child = 2;
        } else {
            lua_pop(L, 1);
        }
    } else {
        const char *key = cont == CONT_SEQUENTIAL ? "children" : "branches";
        int n = lua_opt_list(L, idx, where(path), key, cont == CONT_CONCAT ? 1 : 0,
                             "layer tables");
        int list = lua_gettop(L);
        for (int i = 1; i <= n; i++) {
            lua_geti(L, list, i);
            parse_child(L, path, i, s, depth);
        }
        lua_pop(L, 1);
        s->v[self].n_child = n;
    }
    s->v[self].n_sub = s->n - self; /* s->v may have moved: index, never a saved pointer */
}

LayerSpecs lua_layers_parse(lua_State *L, int desc, ConvAlgo conv_algo, int algos)
{
    desc = lua_absindex(L, desc);
    algos = algos ? lua_absindex(L, algos) : 0;
    lua_pushnil(L); /* the slot of the spec array */
    SpecList s = {NULL, 0, 0, lua_gettop(L), conv_algo, algos, 0};
    parse_node(L, desc, "", "", &s, 0);
    if (algos) {
        /* every entry must have named a conv layer of the net */
        int entries = 0;
        for (lua_pushnil(L); lua_next(L, algos); lua_pop(L, 1))
            entries++;
        if (entries != s.algos_used)
            lua_raisef(L, "nn.build: options.conv_algos has %d entries, %d of them name conv "
                       "layers of this net (keys are layer paths)", entries, s.algos_used);
    }
    LayerSpecs out = {s.v, s.n};
    return out;
}

/* ---- phase 2: construction (plain C; errors come back in err) ------------------------- */

static Module *build_module(LayerSpecs s, int i, Err *err);

static Module *build_container(LayerSpecs s, int i, Err *err)
{
    const NodeSpec *sp = &s.v[i];
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
        j += s.v[j].n_sub;
    }
    if (c < sp->n_child) {
        for (int d = 0; d < c; d++)
            module_free(k[d]);
    } else if (sp->cont == CONT_SEQUENTIAL) {
        m = sequential_module_new(k, sp->n_child, err);
    } else if (sp->cont == CONT_CONCAT) {
        m = concat_module_new(k, sp->n_child, err);
    } else {
        m = residual_module_new(k[0], sp->n_child > 1 ? k[1] : NULL, err);
    }
    if (k != kids)
        free(k);
    return m;
}

static Module *build_module(LayerSpecs s, int i, Err *err)
{
    const NodeSpec *sp = &s.v[i];
    Module *m;
    if (sp->layer) {
        m = sp->layer->build(sp->args, err);
    } else if (!(m = build_container(s, i, err))) {
        return NULL; /* a failing child has prefixed its own path already */
    }
    if (!m) {
        err_prefix(err, where(sp->path));
        return NULL;
    }
    memcpy(m->path, sp->path, sizeof m->path);
    return m;
}

Module *lua_layers_build(LayerSpecs s, Err *err) { return build_module(s, 0, err); }
