/*
 * lua_tensor.c: the "engine.tensor" Lua module: the Tensor userdata shared by every binding
 * file and its raw-byte and table conversions.
 *
 * A Tensor userdata holds a Tensor struct (tensor.h) and one user value:
 *   - owning: data was allocated into the userdata after it was created (io_open's order, so a
 *     raised error never leaks); __gc and __close free it. The user value is nil.
 *   - view: shares another object's memory (a Tensor, a Net, a dataset); the user value is that
 *     object, which the view keeps alive. A view of a view records the first view's owner.
 * A closed tensor (after __close, or an activation view invalidated by net:reserve) has data
 * NULL; using it, or a view of a closed owner, raises "tensor is closed". Indices are 1-based
 * in Lua (get/set); offsets, like param_info's, count elements skipped and start at 0.
 *
 * Arithmetic: only t:scale(w) and t:axpy(w, x), the weighted sums of data-parallel and
 * micro-batched steps (harness/lua/tasks/classifier.lua); no broadcasting (the engine does its
 * math in C on flat buffers).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind/lua_engine.h"

/* Largest tensor Lua may create: 2^34 floats (64 GiB), far above any run here, so that a
 * typo in a shape fails cleanly instead of asking the allocator for exabytes. */
#define TENSOR_MAX_ELEMS ((size_t)1 << 34)

/* ---- the userdata --------------------------------------------------------------------- */

static Tensor *push_raw(lua_State *L)
{
    Tensor *t = lua_newuserdatauv(L, sizeof(Tensor), 1);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, ENGINE_TENSOR_T);
    return t;
}

/* Product of a shape with overflow and size limits; raises on bad entries. */
static size_t checked_size(lua_State *L, int ndim, const int *shape)
{
    if (ndim < 1 || ndim > TENSOR_MAX_DIM)
        lua_raisef(L, "tensor: %d dimensions, expected 1 to %d", ndim, TENSOR_MAX_DIM);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            lua_raisef(L, "tensor: dimension %d is %d, expected >= 0", i + 1, shape[i]);
        if (shape[i] && n > TENSOR_MAX_ELEMS / (size_t)shape[i])
            lua_raisef(L, "tensor: shape has more than %zu elements", TENSOR_MAX_ELEMS);
        n *= (size_t)shape[i];
    }
    return n;
}

Tensor *lua_tensor_new(lua_State *L, int ndim, const int *shape)
{
    Err err;
    checked_size(L, ndim, shape);
    Tensor *t = push_raw(L);
    if (tensor_alloc(t, ndim, shape, &err))
        lua_raisef(L, "%s", err.msg);
    return t;
}

/* The object that owns the memory behind the tensor at idx: itself when owning, else its
 * user value. Pushes it. */
static void push_memory_owner(lua_State *L, int idx)
{
    Tensor *t = lua_touserdata(L, idx);
    if (t->owner)
        lua_pushvalue(L, idx);
    else if (lua_getiuservalue(L, idx, 1) == LUA_TNIL)
        lua_pushvalue(L, idx);
}

Tensor *lua_tensor_push_view(lua_State *L, const Tensor *src, int owner_idx)
{
    owner_idx = lua_absindex(L, owner_idx);
    Tensor *v = push_raw(L);
    *v = *src;
    v->owner = 0;
    v->cap = 0;
    /* A view of a Tensor userdata records that tensor's own memory owner, so that a closed
     * owner is detected however long the chain of views is. */
    if (luaL_testudata(L, owner_idx, ENGINE_TENSOR_T))
        push_memory_owner(L, owner_idx);
    else
        lua_pushvalue(L, owner_idx);
    lua_setiuservalue(L, -2, 1);
    return v;
}

/* Raises when the tensor at idx (known to be a Tensor) is closed or views a closed tensor. */
static void check_open(lua_State *L, int idx, const Tensor *t)
{
    if (!t->data)
        luaL_argerror(L, idx, "tensor is closed");
    if (!t->owner) {
        int type = lua_getiuservalue(L, idx, 1);
        Tensor *o = type == LUA_TUSERDATA ? luaL_testudata(L, -1, ENGINE_TENSOR_T) : NULL;
        lua_pop(L, 1);
        if (o && !o->data)
            luaL_argerror(L, idx, "tensor is a view of a closed tensor");
    }
}

Tensor *lua_tensor_check(lua_State *L, int idx)
{
    Tensor *t = luaL_checkudata(L, idx, ENGINE_TENSOR_T);
    check_open(L, idx, t);
    return t;
}

int lua_tensor_shape_arg(lua_State *L, int idx, int *shape)
{
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    if (n < 1 || n > TENSOR_MAX_DIM)
        lua_raisef(L, "shape has %d entries, expected 1 to %d", (int)n, TENSOR_MAX_DIM);
    for (int i = 1; i <= (int)n; i++) {
        int isint = 0;
        lua_Integer d = lua_geti(L, idx, i) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || d < 0 || d > INT_MAX)
            lua_raisef(L, "shape entry %d is %s, expected an integer >= 0", i,
                       luaL_tolstring(L, -1, NULL));
        lua_pop(L, 1);
        shape[i - 1] = (int)d;
    }
    checked_size(L, (int)n, shape);
    return (int)n;
}

/* Shape from either a table at idx or the integers idx..top (tensor.new(2, 3)). */
static int shape_args(lua_State *L, int idx, int *shape)
{
    if (lua_istable(L, idx))
        return lua_tensor_shape_arg(L, idx, shape);
    int n = lua_gettop(L) - idx + 1;
    luaL_argcheck(L, n >= 1 && n <= TENSOR_MAX_DIM, idx, "expected a shape table or 1 to 4 sizes");
    for (int i = 0; i < n; i++) {
        lua_Integer d = luaL_checkinteger(L, idx + i);
        luaL_argcheck(L, d >= 0 && d <= INT_MAX, idx + i, "size must be >= 0");
        shape[i] = (int)d;
    }
    checked_size(L, n, shape);
    return n;
}

/* ---- constructors --------------------------------------------------------------------- */

/* tensor.new{2, 3, 32, 32} or tensor.new(2, 3, 32, 32): zero-filled. */
static int l_tensor_new(lua_State *L)
{
    int shape[TENSOR_MAX_DIM];
    int ndim = shape_args(L, 1, shape);
    lua_tensor_new(L, ndim, shape);
    return 1;
}

/* tensor.from_string(str, shape): str holds size * 4 bytes of little-endian float32. */
static int l_tensor_from_string(lua_State *L)
{
    size_t len;
    int shape[TENSOR_MAX_DIM];
    const char *s = luaL_checklstring(L, 1, &len);
    int ndim = lua_tensor_shape_arg(L, 2, shape);
    size_t n = checked_size(L, ndim, shape);
    if (len != n * sizeof(float))
        lua_raisef(L, "from_string: string has %zu bytes, shape needs %zu", len,
                   n * sizeof(float));
    Tensor *t = lua_tensor_new(L, ndim, shape);
    memcpy(t->data, s, len);
    return 1;
}

/* tensor.from_table(flat, shape): flat is a sequence of size numbers in row-major order. */
static int l_tensor_from_table(lua_State *L)
{
    int shape[TENSOR_MAX_DIM];
    luaL_checktype(L, 1, LUA_TTABLE);
    int ndim = lua_tensor_shape_arg(L, 2, shape);
    size_t n = checked_size(L, ndim, shape);
    lua_Integer len = luaL_len(L, 1);
    if ((size_t)len != n)
        lua_raisef(L, "from_table: table has %d entries, shape needs %zu", (int)len, n);
    Tensor *t = lua_tensor_new(L, ndim, shape);
    for (size_t i = 0; i < n; i++) {
        if (lua_geti(L, 1, (lua_Integer)i + 1) != LUA_TNUMBER)
            lua_raisef(L, "from_table: entry %d is %s, expected a number", (int)i + 1,
                       luaL_typename(L, -1));
        t->data[i] = (float)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return 1;
}

/* ---- methods -------------------------------------------------------------------------- */

static int l_tensor_shape(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

static int l_tensor_size(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushinteger(L, (lua_Integer)t->size);
    return 1;
}

static int l_tensor_ndim(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushinteger(L, t->ndim);
    return 1;
}

/* Flat offset of the 1-based indices at first..first+ndim-1; raises naming the bad one. */
static size_t flat_index(lua_State *L, const Tensor *t, int first, const char *fn)
{
    int given = lua_gettop(L) - first + 1;
    if (given != t->ndim)
        lua_raisef(L, "%s: %d indices for a %d-dimensional tensor", fn, given, t->ndim);
    size_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        lua_Integer k = luaL_checkinteger(L, first + i);
        if (k < 1 || k > t->shape[i])
            lua_raisef(L, "%s: index %d is %d, expected 1 to %d", fn, i + 1, (int)k,
                       t->shape[i]);
        off = off * (size_t)t->shape[i] + (size_t)(k - 1);
    }
    return off;
}

/* t:get(i, j, ...) with 1-based indices, one per dimension. */
static int l_tensor_get(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushnumber(L, (lua_Number)t->data[flat_index(L, t, 2, "get")]);
    return 1;
}

/* t:set(v, i, j, ...) */
static int l_tensor_set(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    float v = (float)luaL_checknumber(L, 2);
    t->data[flat_index(L, t, 3, "set")] = v;
    return 0;
}

/* t:fill(v) -> t */
static int l_tensor_fill(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    float v = (float)luaL_checknumber(L, 2);
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = v;
    lua_settop(L, 1);
    return 1;
}

static void check_same_size(lua_State *L, const Tensor *a, const Tensor *b, const char *fn)
{
    char sa[64], sb[64];
    if (a->size != b->size)
        lua_raisef(L, "%s: sizes differ: %s has %zu elements, %s has %zu", fn,
                   tensor_shape_str(a, sa, sizeof sa), a->size,
                   tensor_shape_str(b, sb, sizeof sb), b->size);
}

/* t:scale(w) -> t: t <- w t, in float32. */
static int l_tensor_scale(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    float w = (float)luaL_checknumber(L, 2);
    for (size_t i = 0; i < t->size; i++)
        t->data[i] *= w;
    lua_settop(L, 1);
    return 1;
}

/* t:axpy(w, x) -> t: t <- t + w x, element by element in float32; same element count. */
static int l_tensor_axpy(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    float w = (float)luaL_checknumber(L, 2);
    Tensor *x = lua_tensor_check(L, 3);
    check_same_size(L, t, x, "axpy");
    for (size_t i = 0; i < t->size; i++)
        t->data[i] += w * x->data[i];
    lua_settop(L, 1);
    return 1;
}

/* t:copy(src) -> t; same element count, shapes may differ. */
static int l_tensor_copy(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    Tensor *s = lua_tensor_check(L, 2);
    check_same_size(L, t, s, "copy");
    memmove(t->data, s->data, t->size * sizeof(float));
    lua_settop(L, 1);
    return 1;
}

static int l_tensor_data_string(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushlstring(L, (const char *)t->data, t->size * sizeof(float));
    return 1;
}

/* t:to_table() -> flat sequence in row-major order. */
static int l_tensor_to_table(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    luaL_argcheck(L, t->size <= INT_MAX, 1, "too large for a table");
    lua_createtable(L, (int)t->size, 0);
    for (size_t i = 0; i < t->size; i++) {
        lua_pushnumber(L, (lua_Number)t->data[i]);
        lua_seti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* t:sum() -> double, summed in element order. */
static int l_tensor_sum(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    double s = 0.0;
    for (size_t i = 0; i < t->size; i++)
        s += (double)t->data[i];
    lua_pushnumber(L, s);
    return 1;
}

/* t:max_abs_diff(other) -> max |t - other| in double; NaN if either holds a NaN. */
static int l_tensor_max_abs_diff(lua_State *L)
{
    Tensor *a = lua_tensor_check(L, 1);
    Tensor *b = lua_tensor_check(L, 2);
    check_same_size(L, a, b, "max_abs_diff");
    double m = 0.0;
    for (size_t i = 0; i < a->size; i++) {
        double d = fabs((double)a->data[i] - (double)b->data[i]);
        if (isnan(d)) {
            m = d;
            break;
        }
        if (d > m)
            m = d;
    }
    lua_pushnumber(L, m);
    return 1;
}

/* t:clone() -> an owning copy. */
static int l_tensor_clone(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    Tensor *c = lua_tensor_new(L, t->ndim, t->shape);
    memcpy(c->data, t->data, t->size * sizeof(float));
    return 1;
}

/* t:view(offset, shape) -> a view of elements offset .. offset + size(shape) - 1 of t (all
 * tensors are contiguous), e.g. one layer's slice of the flat parameter vector. */
static int l_tensor_view(lua_State *L)
{
    int shape[TENSOR_MAX_DIM];
    Tensor *t = lua_tensor_check(L, 1);
    lua_Integer off = luaL_checkinteger(L, 2);
    int ndim = lua_tensor_shape_arg(L, 3, shape);
    size_t n = checked_size(L, ndim, shape);
    if (off < 0 || (size_t)off > t->size || n > t->size - (size_t)off)
        lua_raisef(L, "view: %zu elements at offset %d exceed the tensor's %zu", n, (int)off,
                   t->size);
    Tensor v = tensor_view(t->data + off, ndim, shape);
    lua_tensor_push_view(L, &v, 1);
    return 1;
}

static int l_tensor_is_view(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushboolean(L, !t->owner);
    return 1;
}

static int l_tensor_tostring(lua_State *L)
{
    char buf[64];
    Tensor *t = luaL_checkudata(L, 1, ENGINE_TENSOR_T);
    if (!t->data)
        lua_pushstring(L, "Tensor(closed)");
    else
        lua_pushfstring(L, "Tensor%s%s", tensor_shape_str(t, buf, sizeof buf),
                        t->owner ? "" : " view");
    return 1;
}

/* #t is the element count. */
static int l_tensor_len(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushinteger(L, (lua_Integer)t->size);
    return 1;
}

/* __gc and __close: free owning data; a view just forgets its pointer. Idempotent. */
static int l_tensor_gc(lua_State *L)
{
    Tensor *t = luaL_checkudata(L, 1, ENGINE_TENSOR_T);
    tensor_free(t);
    return 0;
}

static const luaL_Reg tensor_methods[] = {
    {"shape", l_tensor_shape},
    {"size", l_tensor_size},
    {"ndim", l_tensor_ndim},
    {"get", l_tensor_get},
    {"set", l_tensor_set},
    {"fill", l_tensor_fill},
    {"copy", l_tensor_copy},
    {"scale", l_tensor_scale},
    {"axpy", l_tensor_axpy},
    {"data_string", l_tensor_data_string},
    {"to_table", l_tensor_to_table},
    {"sum", l_tensor_sum},
    {"max_abs_diff", l_tensor_max_abs_diff},
    {"clone", l_tensor_clone},
    {"view", l_tensor_view},
    {"is_view", l_tensor_is_view},
    {NULL, NULL},
};

static const luaL_Reg tensor_meta[] = {
    {"__tostring", l_tensor_tostring},
    {"__len", l_tensor_len},
    {"__gc", l_tensor_gc},
    {"__close", l_tensor_gc},
    {"__index", NULL},
    {NULL, NULL},
};

static const luaL_Reg tensor_funcs[] = {
    {"new", l_tensor_new},
    {"from_string", l_tensor_from_string},
    {"from_table", l_tensor_from_table},
    {NULL, NULL},
};

int luaopen_engine_tensor(lua_State *L)
{
    if (luaL_newmetatable(L, ENGINE_TENSOR_T)) {
        luaL_setfuncs(L, tensor_meta, 0);
        luaL_newlib(L, tensor_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, tensor_funcs);
    return 1;
}
