/*
 * lua_data.c: the "engine.data" Lua module: CIFAR datasets and batch loaders
 * (harness/data/data_cifar.h has the file formats, the augmentation and the seeding rules).
 *
 *   local data = require "engine.data"
 *   local train = data.load_cifar("cifar10", "train")          -- or {dir = "..."} as 3rd arg
 *   local small = train:subset{balanced = 5000, seed = 1}      -- or {first = 5000}
 *   small:corrupt(0.4, seed)                                   -- Table 4: noisy labels
 *   local x, y = small:assemble({5, 9, 2}, {mean = {...}, std = {...}}) -- chosen examples
 *   local ld = data.loader(small, {batch = 128, train = true, seed = seed})
 *   for epoch = 0, epochs - 1 do
 *     ld:epoch(epoch)
 *     for x, y, y_clean in ld:each() do ... end   -- or: local x, y, yc = ld:next()
 *   end
 *   local nb = data.neighbours(small, 200, {same_class = false, threads = 2}) -- data/knn.h
 *   nb:k() nb:size() nb:get(i, r) (1-based: the r-th nearest of example i) nb:md5()
 *   local x2, y2 = ld:partners(nb, rng)  -- after next(): the last batch's neighbour partners,
 *                                        -- drawn from rng (data_cifar_loader_partners)
 *
 * Userdata: engine.Dataset owns a CifarSet (freed by __gc or __close); engine.Loader owns a
 * CifarLoader and its five batch tensors (x (B, 3, 32, 32), y (B), y_clean (B): labels as
 * exact float integers 0..C-1; x2, y2: the partners), and keeps its dataset alive through a
 * user value; engine.Neighbours owns a neighbour table (its md5 is of the table as
 * little-endian int32, 0-based, row after row). next()
 * refills and returns the same three tensors every time (reshaped to the batch's size), so a
 * batch allocates nothing; copy them to keep a batch past the next call. Indices into a
 * dataset are 1-based in Lua; epochs are any integer >= 0 (the trainer's epoch counter), and
 * the same (seed, epoch) always gives the same order and augmentation.
 *
 * Options tables are strict (lua_opt.c's readers): unknown keys are errors, booleans must be
 * booleans. A loader's `train` and (for a training loader) `seed` have no default.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/lua_engine.h"
#include "core/md5.h"
#include "data/data_cifar.h"
#include "data/knn.h"

#define ENGINE_NEIGHBOURS_T "engine.Neighbours"

/* Where `make data` / `make data-cifar100` put the files: $MIXUP_DATA (the Makefile's DATA)
 * or "data", then the official archive's directory name. */
#define DATA_ROOT_ENV "MIXUP_DATA"
#define DATA_ROOT_DEFAULT "data"
#define CIFAR10_SUBDIR "cifar-10-batches-bin"
#define CIFAR100_SUBDIR "cifar-100-binary"

typedef struct LuaDataset {
    CifarSet set;
} LuaDataset;

/* User values of a loader: its dataset and its five batch tensors. */
enum {
    LOADER_UV_SET = 1, LOADER_UV_X, LOADER_UV_Y, LOADER_UV_YCLEAN, LOADER_UV_X2, LOADER_UV_Y2,
    LOADER_UV_COUNT = 6
};

typedef struct LuaLoader {
    CifarLoader ld;
    int *label;   /* batch ints: training labels of the last batch */
    int *clean;   /* batch ints: clean labels */
    int *label2;  /* batch ints: the partners' training labels */
} LuaLoader;

typedef struct LuaNeighbours {
    int n, k, same_class;
    int *idx;     /* n * k, 0-based */
} LuaNeighbours;

void lua_opt_triple(lua_State *L, int idx, const char *where, const char *key, float *out)
{
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE || luaL_len(L, -1) != 3)
        lua_opt_bad(L, -1, where, key, "a list of 3 finite numbers");
    for (int c = 0; c < 3; c++) {
        int isnum = 0;
        lua_geti(L, -1, c + 1);
        double v = lua_tonumberx(L, -1, &isnum);
        if (!isnum || !isfinite(v)) {
            char k[32];
            snprintf(k, sizeof k, "%s[%d]", key, c + 1);
            lua_opt_bad(L, -1, where, k, "a finite number");
        }
        out[c] = (float)v;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* ---- datasets ---------------------------------------------------------------------------- */

static LuaDataset *push_dataset(lua_State *L)
{
    LuaDataset *d = lua_newuserdatauv(L, sizeof(LuaDataset), 0);
    memset(d, 0, sizeof *d);
    luaL_setmetatable(L, ENGINE_DATASET_T);
    return d;
}

static LuaDataset *check_dataset(lua_State *L, int idx)
{
    LuaDataset *d = luaL_checkudata(L, idx, ENGINE_DATASET_T);
    if (!d->set.pixels)
        luaL_argerror(L, idx, "dataset is closed");
    return d;
}

static CifarKind check_kind(lua_State *L, int idx)
{
    static const char *const kinds[] = {"cifar10", "cifar100", NULL};
    return luaL_checkoption(L, idx, NULL, kinds) == 0 ? CIFAR_10 : CIFAR_100;
}

/* data.load_cifar(kind, split [, {dir = path}]): kind "cifar10" | "cifar100", split "train" |
 * "test"; dir defaults to $MIXUP_DATA/cifar-10-batches-bin (or cifar-100-binary), with
 * MIXUP_DATA defaulting to "data". */
static int l_data_load_cifar(lua_State *L)
{
    static const char *const splits[] = {"train", "test", NULL};
    static const char *const known[] = {"dir", NULL};
    CifarKind kind = check_kind(L, 1);
    CifarSplit split = luaL_checkoption(L, 2, NULL, splits) == 0 ? CIFAR_TRAIN : CIFAR_TEST;
    lua_settop(L, 3); /* the default path string goes above the arguments */
    const char *root = getenv(DATA_ROOT_ENV);
    const char *dir = lua_pushfstring(L, "%s/%s", root && *root ? root : DATA_ROOT_DEFAULT,
                                      kind == CIFAR_10 ? CIFAR10_SUBDIR : CIFAR100_SUBDIR);
    if (!lua_isnoneornil(L, 3)) {
        lua_opt_known(L, 3, "load_cifar", known);
        dir = lua_opt_str(L, 3, "load_cifar", "dir", LUA_OPT_DEFAULT, dir); /* table keeps it */
    }
    LuaDataset *d = push_dataset(L);
    Err err;
    if (data_cifar_load(&d->set, dir, kind, split, &err))
        return lua_raisef(L, "%s", err.msg);
    return 1;
}

/* data.synthetic(kind, n, seed): n random images, labels cycling 0..C-1 (coarse: 0..19), for
 * tests and smoke runs without the real data. */
static int l_data_synthetic(lua_State *L)
{
    CifarKind kind = check_kind(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    lua_Integer seed = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 1 && n <= 1000000, 2, "expected 1..1000000 images");
    LuaDataset *d = push_dataset(L);
    Err err;
    if (data_cifar_alloc(&d->set, kind, (int)n, &err))
        return lua_raisef(L, "%s", err.msg);
    Rng r;
    rng_seed(&r, (uint64_t)seed, RNG_STREAM_GAN + 100); /* a test-only stream */
    CifarSet *s = &d->set;
    for (size_t i = 0; i < (size_t)s->n * CIFAR_PIXELS; i++)
        s->pixels[i] = (uint8_t)rng_below(&r, 256);
    for (int i = 0; i < s->n; i++) {
        s->label[i] = s->noisy[i] = (uint8_t)(i % s->num_classes);
        if (s->coarse)
            s->coarse[i] = (uint8_t)(i % CIFAR100_COARSE_CLASSES);
    }
    return 1;
}

static int l_data_size(lua_State *L)
{
    lua_pushinteger(L, check_dataset(L, 1)->set.n);
    return 1;
}

static int l_data_num_classes(lua_State *L)
{
    lua_pushinteger(L, check_dataset(L, 1)->set.num_classes);
    return 1;
}

static int l_data_kind(lua_State *L)
{
    lua_pushstring(L, check_dataset(L, 1)->set.kind == CIFAR_10 ? "cifar10" : "cifar100");
    return 1;
}

static int check_example(lua_State *L, const CifarSet *s, int idx)
{
    lua_Integer i = luaL_checkinteger(L, idx);
    if (i < 1 || i > s->n)
        lua_raisef(L, "dataset: example %lld, expected 1..%d", (long long)i, s->n);
    return (int)i - 1;
}

/* ds:label(i) -> clean, noisy[, coarse] */
static int l_data_label(lua_State *L)
{
    const CifarSet *s = &check_dataset(L, 1)->set;
    int i = check_example(L, s, 2);
    lua_pushinteger(L, s->label[i]);
    lua_pushinteger(L, s->noisy[i]);
    if (!s->coarse)
        return 2;
    lua_pushinteger(L, s->coarse[i]);
    return 3;
}

/* ds:labels(which): a new (n) tensor of the "clean" | "noisy" | "coarse" labels. */
static int l_data_labels(lua_State *L)
{
    static const char *const which[] = {"clean", "noisy", "coarse", NULL};
    const CifarSet *s = &check_dataset(L, 1)->set;
    int w = luaL_checkoption(L, 2, NULL, which);
    const uint8_t *src = w == 0 ? s->label : w == 1 ? s->noisy : s->coarse;
    if (!src)
        return lua_raisef(L, "labels: a %s set has no coarse labels",
                          s->kind == CIFAR_10 ? "CIFAR-10" : "CIFAR-100");
    int n = s->n;
    Tensor *t = lua_tensor_new(L, 1, &n);
    for (int i = 0; i < n; i++)
        t->data[i] = (float)src[i];
    return 1;
}

/* ds:image(i): a new (3, 32, 32) tensor of the raw bytes 0..255 of example i. */
static int l_data_image(lua_State *L)
{
    const CifarSet *s = &check_dataset(L, 1)->set;
    int i = check_example(L, s, 2);
    int shape[3] = {CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE};
    Tensor *t = lua_tensor_new(L, 3, shape);
    const uint8_t *p = s->pixels + (size_t)i * CIFAR_PIXELS;
    for (int j = 0; j < CIFAR_PIXELS; j++)
        t->data[j] = (float)p[j];
    return 1;
}

/* ds:class_counts(): {count of class 0, ..., count of class C-1} (clean labels). */
static int l_data_class_counts(lua_State *L)
{
    const CifarSet *s = &check_dataset(L, 1)->set;
    int counts[CIFAR100_CLASSES];
    data_cifar_class_counts(s, counts);
    lua_createtable(L, s->num_classes, 0);
    for (int c = 0; c < s->num_classes; c++) {
        lua_pushinteger(L, counts[c]);
        lua_rawseti(L, -2, c + 1);
    }
    return 1;
}

/* ds:assemble(indices, {mean =, std =}) -> x (n, 3, 32, 32), y (n): the examples at the
 * 1-based indices, normalised as a loader normalises them, not augmented; y the clean labels
 * as float integers (a new tensor each; for measurements on chosen examples, e.g. Figure 2's
 * pairs). */
static int l_data_assemble(lua_State *L)
{
    static const char *const known[] = {"mean", "std", NULL};
    const char *where = "assemble";
    const CifarSet *s = &check_dataset(L, 1)->set;
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_opt_known(L, 3, where, known);
    float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
    if (!lua_opt_has(L, 3, "mean") || !lua_opt_has(L, 3, "std"))
        return lua_opt_missing(L, where, lua_opt_has(L, 3, "mean") ? "std" : "mean",
                               "the loader's normalisation");
    lua_opt_triple(L, 3, where, "mean", mean);
    lua_opt_triple(L, 3, where, "std", std);
    lua_Integer n = luaL_len(L, 2);
    if (n < 1 || n > INT_MAX / CIFAR_PIXELS)
        return lua_raisef(L, "%s: %lld indices, expected at least 1", where, (long long)n);
    int *idx = lua_newuserdatauv(L, (size_t)n * sizeof *idx, 0); /* collected on any error */
    for (lua_Integer i = 0; i < n; i++) {
        int isint = 0;
        lua_Integer v = lua_geti(L, 2, i + 1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || v < 1 || v > s->n)
            return lua_raisef(L, "%s: indices[%lld] is %s, expected an integer in 1..%d", where,
                              (long long)i + 1, luaL_tolstring(L, -1, NULL), s->n);
        idx[i] = (int)v - 1;
        lua_pop(L, 1);
    }
    float lut[3 * 256];
    data_cifar_norm_lut(lut, mean, std);
    int shape[4] = {(int)n, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE}, ny = (int)n;
    Tensor *x = lua_tensor_new(L, 4, shape);
    Tensor *y = lua_tensor_new(L, 1, &ny);
    Err err;
    if (data_cifar_assemble(x, s, idx, (int)n, NULL, 0, lut, &err))
        return lua_raisef(L, "%s: %s", where, err.msg);
    for (int i = 0; i < ny; i++)
        y->data[i] = (float)s->label[idx[i]];
    return 2;
}

/* ds:subset{first = N} or ds:subset{balanced = N, seed = S}: a new dataset. */
static int l_data_subset(lua_State *L)
{
    static const char *const known[] = {"first", "balanced", "seed", NULL};
    const char *where = "subset";
    LuaDataset *src = check_dataset(L, 1);
    lua_opt_known(L, 2, where, known);
    int first = lua_opt_has(L, 2, "first"), balanced = lua_opt_has(L, 2, "balanced");
    if (!first && !balanced)
        return lua_opt_missing(L, where, "first", "or 'balanced'");
    if (first) {
        lua_opt_none(L, 2, where, "balanced", "'first'");
        lua_opt_none(L, 2, where, "seed", "'first' (it goes with 'balanced')");
    }
    int n = (int)lua_opt_int(L, 2, where, first ? "first" : "balanced", LUA_OPT_REQUIRED, 0, 1,
                             src->set.n);
    uint64_t seed = balanced ? (uint64_t)lua_opt_int(L, 2, where, "seed", LUA_OPT_REQUIRED, 0,
                                                     0, LUA_MAXINTEGER)
                             : 0;
    /* The index array lives in a Lua-owned buffer, so a raised error cannot leak it. */
    int *idx = lua_newuserdatauv(L, (size_t)n * sizeof(int), 0);
    Err err;
    if (first) {
        for (int i = 0; i < n; i++)
            idx[i] = i;
    } else if (data_cifar_balanced_indices(idx, &src->set, n, seed, &err)) {
        return luaL_error(L, "subset: %s", err.msg);
    }
    LuaDataset *dst = push_dataset(L);
    if (data_cifar_subset(&dst->set, &src->set, idx, n, &err))
        return luaL_error(L, "subset: %s", err.msg);
    return 1;
}

/* ds:corrupt(p, seed) -> number of labels changed. Rewrites the training labels from the clean
 * ones (p = 0 restores them). */
static int l_data_corrupt(lua_State *L)
{
    LuaDataset *d = check_dataset(L, 1);
    double p = luaL_checknumber(L, 2);
    lua_Integer seed = luaL_checkinteger(L, 3);
    luaL_argcheck(L, seed >= 0, 3, "seed must be >= 0");
    int changed;
    Err err;
    if (data_cifar_corrupt(&d->set, p, (uint64_t)seed, &changed, &err))
        return lua_raisef(L, "%s", err.msg);
    lua_pushinteger(L, changed);
    return 1;
}

static int l_data_dataset_gc(lua_State *L)
{
    LuaDataset *d = luaL_checkudata(L, 1, ENGINE_DATASET_T);
    data_cifar_free(&d->set);
    return 0;
}

static int l_data_dataset_tostring(lua_State *L)
{
    LuaDataset *d = luaL_checkudata(L, 1, ENGINE_DATASET_T);
    if (!d->set.pixels)
        lua_pushstring(L, "Dataset(closed)");
    else
        lua_pushfstring(L, "Dataset(%s, %d images)",
                        d->set.kind == CIFAR_10 ? "cifar10" : "cifar100", d->set.n);
    return 1;
}

/* ---- loaders ----------------------------------------------------------------------------- */

static LuaLoader *check_loader(lua_State *L, int idx)
{
    LuaLoader *l = luaL_checkudata(L, idx, ENGINE_LOADER_T);
    if (!l->ld.order)
        luaL_argerror(L, idx, "loader is closed");
    lua_getiuservalue(L, idx, LOADER_UV_SET);
    LuaDataset *d = luaL_testudata(L, -1, ENGINE_DATASET_T);
    if (!d || !d->set.pixels)
        luaL_argerror(L, idx, "the loader's dataset is closed");
    lua_pop(L, 1);
    return l;
}

/* data.loader(ds, {batch =, train =, seed =, shuffle =, augment =, pad =, flip =,
 *                  drop_last =, mean = {r, g, b}, std = {r, g, b}}) */
static int l_data_loader(lua_State *L)
{
    static const char *const known[] = {"batch", "train",     "seed", "shuffle", "augment",
                                        "pad",   "drop_last", "flip", "mean",    "std",
                                        NULL};
    const char *where = "loader";
    LuaDataset *d = check_dataset(L, 1);
    lua_opt_known(L, 2, where, known);
    CifarLoaderOptions o;
    data_cifar_loader_defaults(&o, lua_opt_bool(L, 2, where, "train", LUA_OPT_REQUIRED, 0));
    o.batch = (int)lua_opt_int(L, 2, where, "batch", LUA_OPT_DEFAULT, o.batch, 1, 1 << 20);
    o.shuffle = lua_opt_bool(L, 2, where, "shuffle", LUA_OPT_DEFAULT, o.shuffle);
    o.augment = lua_opt_bool(L, 2, where, "augment", LUA_OPT_DEFAULT, o.augment);
    o.flip = lua_opt_bool(L, 2, where, "flip", LUA_OPT_DEFAULT, o.flip);
    o.drop_last = lua_opt_bool(L, 2, where, "drop_last", LUA_OPT_DEFAULT, o.drop_last);
    o.pad = (int)lua_opt_int(L, 2, where, "pad", LUA_OPT_DEFAULT, o.pad, 0, CIFAR_PAD_MAX);
    if ((o.shuffle || o.augment) && !lua_opt_has(L, 2, "seed"))
        return lua_opt_missing(L, where, "seed", "a shuffling or augmenting loader needs one");
    o.seed = (uint64_t)lua_opt_int(L, 2, where, "seed", LUA_OPT_DEFAULT, 0, 0, LUA_MAXINTEGER);
    lua_opt_triple(L, 2, where, "mean", o.mean);
    lua_opt_triple(L, 2, where, "std", o.std);

    LuaLoader *l = lua_newuserdatauv(L, sizeof(LuaLoader), LOADER_UV_COUNT);
    memset(l, 0, sizeof *l);
    luaL_setmetatable(L, ENGINE_LOADER_T);
    int self = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, self, LOADER_UV_SET);
    int xs[4] = {o.batch, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE};
    lua_tensor_new(L, 4, xs);
    lua_setiuservalue(L, self, LOADER_UV_X);
    lua_tensor_new(L, 1, &o.batch);
    lua_setiuservalue(L, self, LOADER_UV_Y);
    lua_tensor_new(L, 1, &o.batch);
    lua_setiuservalue(L, self, LOADER_UV_YCLEAN);
    lua_tensor_new(L, 4, xs);
    lua_setiuservalue(L, self, LOADER_UV_X2);
    lua_tensor_new(L, 1, &o.batch);
    lua_setiuservalue(L, self, LOADER_UV_Y2);
    Err err;
    if (data_cifar_loader_init(&l->ld, &d->set, &o, &err))
        return lua_raisef(L, "%s", err.msg);
    /* Three label buffers in one allocation, owned by the loader (freed by __gc). */
    l->label = malloc(3 * (size_t)o.batch * sizeof(int));
    if (!l->label)
        return luaL_error(L, "loader: out of memory for %d labels", o.batch);
    l->clean = l->label + o.batch;
    l->label2 = l->clean + o.batch;
    return 1;
}

/* ld:epoch(e): starts epoch e >= 0 (order and augmentation depend only on seed and e). */
static int l_data_epoch(lua_State *L)
{
    LuaLoader *l = check_loader(L, 1);
    lua_Integer e = luaL_checkinteger(L, 2);
    luaL_argcheck(L, e >= 0 && e <= INT32_MAX, 2, "epoch must be >= 0");
    Err err;
    if (data_cifar_loader_epoch(&l->ld, (int)e, &err))
        return lua_raisef(L, "%s", err.msg);
    return 0;
}

/* ld:next() -> x, y, y_clean (the loader's own tensors), or nil at the end of the epoch. */
static int l_data_next(lua_State *L)
{
    LuaLoader *l = check_loader(L, 1);
    lua_getiuservalue(L, 1, LOADER_UV_X);
    lua_getiuservalue(L, 1, LOADER_UV_Y);
    lua_getiuservalue(L, 1, LOADER_UV_YCLEAN);
    Tensor *x = lua_tensor_check(L, -3), *y = lua_tensor_check(L, -2);
    Tensor *yc = lua_tensor_check(L, -1);
    int n;
    Err err;
    if (data_cifar_loader_next(&l->ld, x, l->label, l->clean, &n, &err))
        return lua_raisef(L, "%s", err.msg);
    if (n == 0) {
        lua_pushnil(L);
        return 1;
    }
    if (tensor_reshape(y, 1, &n, &err) || tensor_reshape(yc, 1, &n, &err))
        return luaL_error(L, "loader: %s", err.msg);
    for (int i = 0; i < n; i++) {
        y->data[i] = (float)l->label[i];
        yc->data[i] = (float)l->clean[i];
    }
    return 3;
}

/* for x, y, y_clean in ld:each() do ... end: the rest of the current epoch. */
static int l_data_each_step(lua_State *L)
{
    lua_settop(L, 1);
    return l_data_next(L);
}

static int l_data_each(lua_State *L)
{
    check_loader(L, 1);
    lua_pushcfunction(L, l_data_each_step);
    lua_pushvalue(L, 1);
    return 2;
}

static int l_data_batches(lua_State *L)
{
    lua_pushinteger(L, data_cifar_loader_batches(&check_loader(L, 1)->ld));
    return 1;
}

/* ld:last_augment() -> {{top, left, flip}, ...} of the last batch (offsets into the padded
 * image, 0..2 pad; flip 0 or 1). For tests and logs. */
static int l_data_last_augment(lua_State *L)
{
    LuaLoader *l = check_loader(L, 1);
    lua_createtable(L, l->ld.last_n, 0);
    for (int i = 0; i < l->ld.last_n; i++) {
        lua_createtable(L, 3, 0);
        lua_pushinteger(L, l->ld.aug[i].top);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, l->ld.aug[i].left);
        lua_rawseti(L, -2, 2);
        lua_pushinteger(L, l->ld.aug[i].flip);
        lua_rawseti(L, -2, 3);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_data_loader_gc(lua_State *L)
{
    LuaLoader *l = luaL_checkudata(L, 1, ENGINE_LOADER_T);
    data_cifar_loader_free(&l->ld);
    free(l->label);
    l->label = l->clean = l->label2 = NULL;
    return 0;
}

/* ---- nearest neighbours ------------------------------------------------------------------ */

static LuaNeighbours *check_neighbours(lua_State *L, int idx)
{
    LuaNeighbours *nb = luaL_checkudata(L, idx, ENGINE_NEIGHBOURS_T);
    if (!nb->idx)
        luaL_argerror(L, idx, "neighbour table is closed");
    return nb;
}

/* data.neighbours(ds, k, {same_class = false, threads = 1}) -> the k nearest other images of
 * every image of ds (data/knn.h: exact squared Euclidean distance on the pixel bytes). */
static int l_data_neighbours(lua_State *L)
{
    static const char *const known[] = {"same_class", "threads", NULL};
    const char *where = "neighbours";
    LuaDataset *d = check_dataset(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    luaL_argcheck(L, k >= 1 && k < d->set.n, 2, "k must be in 1 .. (images - 1)");
    int has_opts = !lua_isnoneornil(L, 3);
    if (has_opts)
        lua_opt_known(L, 3, where, known);
    int same = has_opts ? lua_opt_bool(L, 3, where, "same_class", LUA_OPT_DEFAULT, 0) : 0;
    int threads = has_opts ? (int)lua_opt_int(L, 3, where, "threads", LUA_OPT_DEFAULT, 1, 1, 1024)
                           : 1;
    LuaNeighbours *nb = lua_newuserdatauv(L, sizeof *nb, 0);
    memset(nb, 0, sizeof *nb);
    luaL_setmetatable(L, ENGINE_NEIGHBOURS_T);
    nb->idx = malloc((size_t)d->set.n * (size_t)k * sizeof *nb->idx);
    if (!nb->idx)
        return lua_raisef(L, "neighbours: out of memory for %d x %d indices", d->set.n, (int)k);
    Err err;
    if (data_knn(nb->idx, &d->set, (int)k, same, threads, &err)) {
        free(nb->idx);
        nb->idx = NULL;
        return lua_raisef(L, "%s", err.msg);
    }
    nb->n = d->set.n;
    nb->k = (int)k;
    nb->same_class = same;
    return 1;
}

static int l_nb_k(lua_State *L)
{
    lua_pushinteger(L, check_neighbours(L, 1)->k);
    return 1;
}

static int l_nb_size(lua_State *L)
{
    lua_pushinteger(L, check_neighbours(L, 1)->n);
    return 1;
}

/* nb:get(i, r) -> the 1-based index of the r-th nearest neighbour of example i (1-based). */
static int l_nb_get(lua_State *L)
{
    LuaNeighbours *nb = check_neighbours(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2), r = luaL_checkinteger(L, 3);
    luaL_argcheck(L, i >= 1 && i <= nb->n, 2, "example index out of range");
    luaL_argcheck(L, r >= 1 && r <= nb->k, 3, "rank out of range (1 .. k)");
    lua_pushinteger(L, (lua_Integer)nb->idx[(size_t)(i - 1) * nb->k + (size_t)(r - 1)] + 1);
    return 1;
}

/* nb:md5() -> the hex MD5 of the table as little-endian int32, row after row. */
static int l_nb_md5(lua_State *L)
{
    LuaNeighbours *nb = check_neighbours(L, 1);
    Md5 m;
    md5_init(&m);
    size_t count = (size_t)nb->n * (size_t)nb->k;
    for (size_t i = 0; i < count; i++) {
        uint32_t v = (uint32_t)nb->idx[i];
        uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        md5_update(&m, b, 4);
    }
    char hex[33];
    md5_final_hex(&m, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_nb_gc(lua_State *L)
{
    LuaNeighbours *nb = luaL_checkudata(L, 1, ENGINE_NEIGHBOURS_T);
    free(nb->idx);
    nb->idx = NULL;
    return 0;
}

/* ld:partners(nb, rng) -> x2, y2: the last batch's partners (loader-owned tensors, refilled
 * by every call), example i's drawn among the nb:k() nearest of its image. */
static int l_data_partners(lua_State *L)
{
    LuaLoader *l = check_loader(L, 1);
    LuaNeighbours *nb = check_neighbours(L, 2);
    Rng *rng = lua_rng_check(L, 3);
    if (nb->n != l->ld.set->n)
        return lua_raisef(L, "partners: the neighbour table is for %d images but the loader's "
                          "set has %d; build it from the set the loader reads", nb->n,
                          l->ld.set->n);
    lua_getiuservalue(L, 1, LOADER_UV_X2);
    lua_getiuservalue(L, 1, LOADER_UV_Y2);
    Tensor *x2 = lua_tensor_check(L, -2), *y2 = lua_tensor_check(L, -1);
    Err err;
    if (data_cifar_loader_partners(&l->ld, x2, l->label2, nb->idx, nb->k, rng, &err))
        return lua_raisef(L, "%s", err.msg);
    int n = l->ld.last_n;
    if (tensor_reshape(y2, 1, &n, &err))
        return luaL_error(L, "partners: %s", err.msg);
    for (int i = 0; i < n; i++)
        y2->data[i] = (float)l->label2[i];
    return 2;
}

/* ---- module ------------------------------------------------------------------------------ */

static const luaL_Reg data_funcs[] = {
    {"load_cifar", l_data_load_cifar},
    {"synthetic", l_data_synthetic},
    {"loader", l_data_loader},
    {"neighbours", l_data_neighbours},
    {NULL, NULL}};

static const luaL_Reg dataset_methods[] = {
    {"size", l_data_size},
    {"num_classes", l_data_num_classes},
    {"kind", l_data_kind},
    {"label", l_data_label},
    {"labels", l_data_labels},
    {"image", l_data_image},
    {"class_counts", l_data_class_counts},
    {"subset", l_data_subset},
    {"assemble", l_data_assemble},
    {"corrupt", l_data_corrupt},
    {NULL, NULL}};

static const luaL_Reg dataset_meta[] = {
    {"__gc", l_data_dataset_gc},
    {"__close", l_data_dataset_gc},
    {"__len", l_data_size},
    {"__tostring", l_data_dataset_tostring},
    {NULL, NULL}};

static const luaL_Reg loader_methods[] = {
    {"epoch", l_data_epoch},
    {"next", l_data_next},
    {"each", l_data_each},
    {"batches", l_data_batches},
    {"last_augment", l_data_last_augment},
    {"partners", l_data_partners},
    {NULL, NULL}};

static const luaL_Reg neighbours_methods[] = {
    {"k", l_nb_k},
    {"size", l_nb_size},
    {"get", l_nb_get},
    {"md5", l_nb_md5},
    {NULL, NULL}};

static const luaL_Reg neighbours_meta[] = {
    {"__gc", l_nb_gc},
    {"__close", l_nb_gc},
    {NULL, NULL}};

static const luaL_Reg loader_meta[] = {
    {"__gc", l_data_loader_gc},
    {"__close", l_data_loader_gc},
    {NULL, NULL}};

static void new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                      const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

int luaopen_engine_data(lua_State *L)
{
    new_class(L, ENGINE_DATASET_T, dataset_meta, dataset_methods);
    new_class(L, ENGINE_LOADER_T, loader_meta, loader_methods);
    new_class(L, ENGINE_NEIGHBOURS_T, neighbours_meta, neighbours_methods);
    luaL_newlib(L, data_funcs);
    return 1;
}
