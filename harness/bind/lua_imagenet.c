/*
 * lua_imagenet.c: the "engine.imagenet" Lua module over harness/data/imagenet.h (ILSVRC-2012
 * from JPEG files: the set, fb.resnet.torch's augmentation, batches decoded in parallel).
 *
 *   local imagenet = require "engine.imagenet"
 *   local set = imagenet.set{paths = {...}, labels = {...}, num_classes = 1000,
 *                            bytes = {...}}  -- optional: the indexed file sizes, checked on
 *                                            -- every read (a changed file is an error)
 *   set:size() set:num_classes() set:path(i) set:label(i)      -- 1-based i, 0-based labels
 *   local ld = imagenet.loader(set, {batch = 256, train = true, seed = 1, out = 224,
 *                                    jitter = 0.4, lighting = 0.1, mean = {...}, std = {...},
 *                                    drop_last = false, skip_bad = false, threads = 4})
 *   ld:epoch(e) ld:batches() ld:skipped()
 *   for x, y, y_clean in ld:each() do ... end    -- y_clean is y (no label noise here)
 *   local x = ld:example(i)                      -- (1, 3, out, out): example i alone
 *   imagenet.write_jpeg(path, w, h, {colour = "rgb" | "gray" | "cmyk", seed = 0,
 *                       quality = 90})   -- a generated image (smoke data and tests):
 *                                        -- smooth colour fields whose hue depends on seed
 *
 * A loader keeps its set alive and owns its batch tensors (x (batch, 3, out, out), y (batch):
 * labels as exact float integers), refilled by every next(), as engine.data's CIFAR loader.
 * Defaults: out 224, jitter 0, lighting 0, mean and std fb.resnet.torch's, drop_last false,
 * skip_bad false, threads 1; `train` and (training) `seed` have none.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/lua_engine.h"
#include "data/imagenet.h"
#include "data/jpeg.h"

#define ENGINE_IMAGENET_SET_T "engine.ImagenetSet"
#define ENGINE_IMAGENET_LOADER_T "engine.ImagenetLoader"

enum { LD_UV_SET = 1, LD_UV_X, LD_UV_Y, LD_UV_COUNT = 3 };

typedef struct LuaImagenetLoader {
    ImagenetLoader ld;
    int ready;
} LuaImagenetLoader;

static ImagenetSet *check_set(lua_State *L, int idx)
{
    ImagenetSet *s = luaL_checkudata(L, idx, ENGINE_IMAGENET_SET_T);
    if (!s->path)
        luaL_error(L, "imagenet set is closed");
    return s;
}

static LuaImagenetLoader *check_loader(lua_State *L, int idx)
{
    LuaImagenetLoader *l = luaL_checkudata(L, idx, ENGINE_IMAGENET_LOADER_T);
    if (!l->ready)
        luaL_error(L, "imagenet loader is closed");
    return l;
}

/* imagenet.set{paths =, labels =, num_classes = [, bytes =]} */
static int l_set(lua_State *L)
{
    static const char *const known[] = {"paths", "labels", "num_classes", "bytes", NULL};
    const char *where = "imagenet.set";
    lua_opt_known(L, 1, where, known);
    int k = (int)lua_opt_int(L, 1, where, "num_classes", LUA_OPT_REQUIRED, 0, 1, 1000000);
    int n = lua_opt_list(L, 1, where, "paths", 1, "file paths");
    int paths_idx = lua_gettop(L);
    if (lua_opt_list(L, 1, where, "labels", 1, "labels") != n)
        return lua_raisef(L, "%s: %d paths and %d labels", where, n, (int)luaL_len(L, -1));
    int labels_idx = lua_gettop(L);
    int bytes_idx = 0;
    if (lua_getfield(L, 1, "bytes") == LUA_TNIL) {
        lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
        if (lua_opt_list(L, 1, where, "bytes", 1, "file sizes") != n)
            return lua_raisef(L, "%s: %d paths and %d sizes", where, n, (int)luaL_len(L, -1));
        bytes_idx = lua_gettop(L);
    }
    const char **path = lua_newuserdatauv(L, (size_t)n * sizeof *path, 0);
    int *label = lua_newuserdatauv(L, (size_t)n * sizeof *label, 0);
    long long *bytes = bytes_idx ? lua_newuserdatauv(L, (size_t)n * sizeof *bytes, 0) : NULL;
    for (int i = 0; i < n; i++) {
        lua_geti(L, paths_idx, i + 1);
        path[i] = lua_tostring(L, -1);
        if (!path[i] || lua_type(L, -1) != LUA_TSTRING)
            return lua_raisef(L, "%s: paths[%d] is a %s, expected a string", where, i + 1,
                              luaL_typename(L, -1));
        lua_pop(L, 1); /* the list keeps the string alive */
        lua_geti(L, labels_idx, i + 1);
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint)
            return lua_raisef(L, "%s: labels[%d] is not an integer", where, i + 1);
        label[i] = (int)v;
        lua_pop(L, 1);
        if (bytes) {
            lua_geti(L, bytes_idx, i + 1);
            v = lua_tointegerx(L, -1, &isint);
            if (!isint || v < 0)
                return lua_raisef(L, "%s: bytes[%d] is not an integer >= 0", where, i + 1);
            bytes[i] = (long long)v;
            lua_pop(L, 1);
        }
    }
    ImagenetSet *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    Err err;
    if (imagenet_set_init(s, n, path, label, bytes, k, &err))
        return lua_raisef(L, "%s", err.msg);
    luaL_setmetatable(L, ENGINE_IMAGENET_SET_T);
    return 1;
}

static int l_set_gc(lua_State *L)
{
    imagenet_set_free(luaL_checkudata(L, 1, ENGINE_IMAGENET_SET_T));
    return 0;
}

static int l_set_size(lua_State *L)
{
    lua_pushinteger(L, check_set(L, 1)->n);
    return 1;
}

static int l_set_num_classes(lua_State *L)
{
    lua_pushinteger(L, check_set(L, 1)->num_classes);
    return 1;
}

static int set_index(lua_State *L, const ImagenetSet *s)
{
    lua_Integer i = luaL_checkinteger(L, 2);
    luaL_argcheck(L, i >= 1 && i <= s->n, 2, "index out of range");
    return (int)i - 1;
}

static int l_set_path(lua_State *L)
{
    ImagenetSet *s = check_set(L, 1);
    lua_pushstring(L, s->path[set_index(L, s)]);
    return 1;
}

static int l_set_label(lua_State *L)
{
    ImagenetSet *s = check_set(L, 1);
    lua_pushinteger(L, s->label[set_index(L, s)]);
    return 1;
}

/* imagenet.loader(set, opts) */
static int l_loader(lua_State *L)
{
    static const char *const known[] = {"batch", "train", "seed", "out", "jitter", "lighting",
                                        "mean", "std", "drop_last", "skip_bad", "threads",
                                        NULL};
    const char *where = "imagenet.loader";
    ImagenetSet *s = check_set(L, 1);
    lua_opt_known(L, 2, where, known);
    ImagenetOptions o;
    memset(&o, 0, sizeof o);
    o.batch = (int)lua_opt_int(L, 2, where, "batch", LUA_OPT_REQUIRED, 0, 1, 1 << 20);
    o.train = lua_opt_bool(L, 2, where, "train", LUA_OPT_REQUIRED, 0);
    o.seed = (uint64_t)lua_opt_int(L, 2, where, "seed", o.train ? LUA_OPT_REQUIRED :
                                   LUA_OPT_DEFAULT, 0, 0, LUA_MAXINTEGER);
    o.out = (int)lua_opt_int(L, 2, where, "out", LUA_OPT_DEFAULT, IMAGENET_CROP, 8, 4096);
    o.jitter = lua_opt_num(L, 2, where, "jitter", LUA_OPT_DEFAULT, 0.0, LUA_OPT_ANY_NUM);
    o.lighting = lua_opt_num(L, 2, where, "lighting", LUA_OPT_DEFAULT, 0.0, LUA_OPT_ANY_NUM);
    o.drop_last = lua_opt_bool(L, 2, where, "drop_last", LUA_OPT_DEFAULT, 0);
    o.skip_bad = lua_opt_bool(L, 2, where, "skip_bad", LUA_OPT_DEFAULT, 0);
    o.nthreads = (int)lua_opt_int(L, 2, where, "threads", LUA_OPT_DEFAULT, 1, 1, 1024);
    memcpy(o.mean, IMAGENET_MEAN, sizeof o.mean);
    memcpy(o.std, IMAGENET_STD, sizeof o.std);
    lua_opt_triple(L, 2, where, "mean", o.mean);
    lua_opt_triple(L, 2, where, "std", o.std);
    LuaImagenetLoader *l = lua_newuserdatauv(L, sizeof *l, LD_UV_COUNT);
    memset(l, 0, sizeof *l);
    luaL_setmetatable(L, ENGINE_IMAGENET_LOADER_T);
    int ud = lua_gettop(L);
    Err err;
    if (imagenet_loader_init(&l->ld, s, &o, &err))
        return lua_raisef(L, "%s", err.msg);
    l->ready = 1;
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, ud, LD_UV_SET);
    int xs[4] = {o.batch, 3, o.out, o.out}, ys[1] = {o.batch};
    lua_tensor_new(L, 4, xs);
    lua_setiuservalue(L, ud, LD_UV_X);
    lua_tensor_new(L, 1, ys);
    lua_setiuservalue(L, ud, LD_UV_Y);
    return 1;
}

static int l_loader_gc(lua_State *L)
{
    LuaImagenetLoader *l = luaL_checkudata(L, 1, ENGINE_IMAGENET_LOADER_T);
    if (l->ready)
        imagenet_loader_free(&l->ld);
    l->ready = 0;
    return 0;
}

static int l_loader_epoch(lua_State *L)
{
    LuaImagenetLoader *l = check_loader(L, 1);
    lua_Integer e = luaL_checkinteger(L, 2);
    luaL_argcheck(L, e >= 0 && e <= INT32_MAX, 2, "epoch must be >= 0");
    imagenet_loader_epoch(&l->ld, (int)e);
    return 0;
}

static int l_loader_batches(lua_State *L)
{
    lua_pushinteger(L, imagenet_loader_batches(&check_loader(L, 1)->ld));
    return 1;
}

static int l_loader_skipped(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_loader(L, 1)->ld.skipped);
    return 1;
}

/* ld:next() -> x, y, y (the loader's own tensors), or nil at the end of the epoch. */
static int l_loader_next(lua_State *L)
{
    LuaImagenetLoader *l = check_loader(L, 1);
    lua_getiuservalue(L, 1, LD_UV_X);
    lua_getiuservalue(L, 1, LD_UV_Y);
    Tensor *x = lua_tensor_check(L, -2), *y = lua_tensor_check(L, -1);
    int n = 0;
    Err err;
    if (imagenet_loader_next(&l->ld, x, y->data, &n, &err))
        return lua_raisef(L, "%s", err.msg);
    if (n == 0) {
        lua_pushnil(L);
        return 1;
    }
    if (tensor_reshape(y, 1, &n, &err))
        return lua_raisef(L, "imagenet loader: %s", err.msg);
    lua_pushvalue(L, -1);
    return 3;
}

static int l_loader_each_step(lua_State *L)
{
    lua_settop(L, 1);
    return l_loader_next(L);
}

static int l_loader_each(lua_State *L)
{
    check_loader(L, 1);
    lua_pushcfunction(L, l_loader_each_step);
    lua_pushvalue(L, 1);
    return 2;
}

/* ld:example(i) -> a new (1, 3, out, out) tensor: example i (1-based) of the set as the
 * loader makes it in its current epoch. */
static int l_loader_example(lua_State *L)
{
    LuaImagenetLoader *l = check_loader(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    luaL_argcheck(L, i >= 1 && i <= l->ld.set->n, 2, "index out of range");
    int shape[4] = {1, 3, l->ld.o.out, l->ld.o.out};
    Tensor *x = lua_tensor_new(L, 4, shape);
    Err err;
    if (imagenet_example(&l->ld, (int)i - 1, x->data, &err))
        return lua_raisef(L, "%s", err.msg);
    return 1;
}

/* imagenet.write_jpeg(path, w, h, opts): pixel (x, y), channel c is 128 + 100 sin(phase_c +
 * x / (7 + c) + y / (11 - c)) with phase_c from the seed: images of one seed look alike (a
 * "class"), and any size or colour kind can be made. */
static int l_write_jpeg(lua_State *L)
{
    static const char *const known[] = {"colour", "seed", "quality", NULL};
    static const char *const colours[] = {"rgb", "gray", "cmyk", NULL};
    static const int channels[] = {3, 1, 4};
    const char *where = "imagenet.write_jpeg";
    const char *path = luaL_checkstring(L, 1);
    lua_Integer w = luaL_checkinteger(L, 2), h = luaL_checkinteger(L, 3);
    luaL_argcheck(L, w >= 1 && h >= 1 && w <= 8192 && h <= 8192, 2, "size 1..8192");
    if (lua_isnoneornil(L, 4))
        lua_newtable(L);
    lua_settop(L, 4);
    lua_opt_known(L, 4, where, known);
    int kind = lua_opt_enum(L, 4, where, "colour", LUA_OPT_DEFAULT, 0, colours);
    lua_Integer seed = lua_opt_int(L, 4, where, "seed", LUA_OPT_DEFAULT, 0, 0, 1 << 30);
    int quality = (int)lua_opt_int(L, 4, where, "quality", LUA_OPT_DEFAULT, 90, 1, 100);
    int ch = channels[kind];
    uint8_t *px = lua_newuserdatauv(L, (size_t)w * (size_t)h * (size_t)ch, 0);
    for (lua_Integer y = 0; y < h; y++)
        for (lua_Integer x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                double phase = 2.399963 * (double)(seed * 4 + c);
                double v = 128.0 + 100.0 * sin(phase + (double)x / (7 + c) +
                                               (double)y / (11 - c));
                px[((size_t)y * (size_t)w + (size_t)x) * (size_t)ch + (size_t)c] = (uint8_t)v;
            }
    uint8_t *buf = NULL;
    size_t len = 0;
    Err err;
    if (jpeg_encode(px, (int)w, (int)h, ch, quality, &buf, &len, &err))
        return lua_raisef(L, "%s", err.msg);
    FILE *f = fopen(path, "wb");
    size_t put = f ? fwrite(buf, 1, len, f) : 0;
    int closed = f ? fclose(f) : -1;
    jpeg_free_buf(buf);
    if (put != len || closed != 0)
        return lua_raisef(L, "%s: cannot write %s", where, path);
    return 0;
}

static const luaL_Reg set_methods[] = {
    {"size", l_set_size}, {"num_classes", l_set_num_classes}, {"path", l_set_path},
    {"label", l_set_label}, {NULL, NULL}};
static const luaL_Reg loader_methods[] = {
    {"epoch", l_loader_epoch}, {"batches", l_loader_batches}, {"skipped", l_loader_skipped},
    {"next", l_loader_next},   {"each", l_loader_each},       {"example", l_loader_example},
    {NULL, NULL}};
static const luaL_Reg funcs[] = {
    {"set", l_set}, {"loader", l_loader}, {"write_jpeg", l_write_jpeg}, {NULL, NULL}};

static void new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
}

int luaopen_engine_imagenet(lua_State *L)
{
    new_type(L, ENGINE_IMAGENET_SET_T, set_methods, l_set_gc);
    new_type(L, ENGINE_IMAGENET_LOADER_T, loader_methods, l_loader_gc);
    luaL_newlib(L, funcs);
    return 1;
}
