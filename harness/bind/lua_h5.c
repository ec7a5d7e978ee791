/*
 * lua_h5.c: the "engine.h5" Lua module: results and checkpoint files as nested Lua tables, over
 * harness/io/h5io_*.c (see h5io.h for what a file can hold).
 *
 *   h5.write(path, tree)          writes path..".tmp" and renames it to path on success; on any
 *                                 error the .tmp is deleted and path is left as it was
 *   h5.read(path) -> tree         the whole file, in the shape below; no schema check
 *   h5.read_attrs(path[, group])  -> the attributes of one group (default the root), no dataset
 *                                 read
 *   h5.list(path[, group])        -> {{name=, kind=, shape={...}}, ...} in name order, no dataset
 *                                 read; kind is "group", "f32", "f64", "i64", "bytes" or "other"
 * Every call that opens a file first verifies its checksum block (h5io.h), which reads the
 * whole file once (~0.15 s per 100 MB).
 *   h5.is_complete(path)          -> true, or false and the reason (missing, truncated, corrupt
 *                                 or damaged per the checksum block, or no format_version)
 *
 * Tree: {attrs = {...}, datasets = {...}, groups = {name = tree, ...}}. On write each key is
 * optional and any other key is an error; on read all three are present. Names are non-empty
 * strings without '/' (and not ".").
 *   attrs.format_version  required at the root on write: an integer >= 1; readers check it first
 *   attrs values   integer -> int64, float -> float64 (math.type decides: 1.0 stays a float);
 *                  string -> UTF-8 string without zero bytes; boolean -> bool, stored as h5py's
 *                  enum {FALSE, TRUE} (h5py reads numpy.bool_, h5dump prints TRUE/FALSE) and
 *                  read back as a Lua boolean; a sequence of numbers -> int64 array when all are
 *                  integers, else float64; of strings or of booleans -> array of those;
 *                  {} -> empty float64 array. Other tables are errors: use a group.
 *   datasets values  engine.Tensor -> float32 (chunked + deflate from H5IO_AUTO_MIN_FLOATS up);
 *                  {kind = "f32", value = tensor, deflate = 0..9} to choose the compression;
 *                  {kind = "f64" | "i64", values = {...}} -> 1-D float64 / int64;
 *                  {kind = "bytes", value = string} or a plain string -> 1-D uint8;
 *                  a plain sequence of numbers -> int64 when all are integers, else float64.
 * On read, float32 datasets become new engine.Tensors, float64 / int64 datasets sequences of
 * floats / integers and uint8 datasets strings, so write(read(x)) keeps every kind (an empty
 * int64 dataset excepted: it comes back as an empty float64 one).
 * Names are written in sorted order, so the same tree gives the same bytes.
 *
 * Memory and errors: the open file is a to-be-closed userdata, so an error anywhere (a bad
 * value, HDF5, out of memory) closes it and deletes the .tmp. Write-side buffers are userdata;
 * read-side C listings and values live in a scratch userdata freed by __gc, so nothing malloc'ed
 * is un-owned when an error is raised.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5io.h"
#include "bind/lua_engine.h"
#include "bind/lua_h5.h"

#define LUA_H5_MAX_DEPTH 64 /* group nesting; a cyclic tree stops here, not on the C stack */
#define LUA_H5_STACK 16     /* Lua stack slots one tree level needs */

typedef struct Scratch {
    H5List list;
    H5Value value;
} Scratch;

/* ---- userdata ----------------------------------------------------------------------------- */

static int l_h5_file_close(lua_State *L)
{
    h5io_close(luaL_checkudata(L, 1, ENGINE_H5FILE_T));
    return 0;
}

static int l_h5_scratch_gc(lua_State *L)
{
    Scratch *s = luaL_checkudata(L, 1, ENGINE_H5SCRATCH_T);
    h5io_list_free(&s->list);
    h5io_value_free(&s->value);
    return 0;
}

/* Pushes a closed H5Out userdata and marks its slot to-be-closed. */
static H5Out *file_push(lua_State *L)
{
    H5Out *f = lua_newuserdatauv(L, sizeof *f, 0);
    memset(f, 0, sizeof *f);
    luaL_setmetatable(L, ENGINE_H5FILE_T);
    lua_toclose(L, -1);
    return f;
}

static Scratch *scratch_push(lua_State *L)
{
    Scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, ENGINE_H5SCRATCH_T);
    return s;
}

/* Opens path for reading into a to-be-closed userdata pushed on the stack. */
static H5Out *file_open(lua_State *L, const char *path)
{
    Err err;
    H5Out *f = file_push(L);
    if (h5io_open(f, path, &err))
        lua_raisef(L, "%s", err.msg);
    return f;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct WriteCtx {
    lua_State *L;
    H5Out *f;
    char group[H5IO_PATH_MAX]; /* the group being written, "" at the root */
    int depth;
    Err err;
} WriteCtx;

/* "h5.write: <path>: <what>" into c->err; returns -1. */
static int wfail(WriteCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wfail(WriteCtx *c, const char *fmt, ...)
{
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(&c->err, "h5.write: %s: %s", c->f->path, what);
}

static const char *where(const WriteCtx *c) { return c->group[0] ? c->group : "/"; }

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pushes a userdata array of table t's keys, sorted, each checked to be a valid name; the
 * strings stay alive as keys of t. Returns the array (n entries), or NULL and pushes nothing. */
static const char **sorted_names(WriteCtx *c, int t, const char *what, size_t *n)
{
    lua_State *L = c->L;
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        size_t len = 0;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (!s || !len || len != strlen(s) || strchr(s, '/') || !strcmp(s, ".") ||
            len >= H5IO_NAME_MAX) {
            char key[64];
            snprintf(key, sizeof key, "%s", s ? s : luaL_typename(L, -1));
            lua_pop(L, 1);
            return wfail(c, "%s of '%s': bad name '%s' (expected a non-empty string without "
                         "'/' or zero bytes, under %d characters)", what, where(c), key,
                         H5IO_NAME_MAX), NULL;
        }
        count++;
    }
    const char **names = lua_newuserdatauv(L, (count ? count : 1) * sizeof *names, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        names[i++] = lua_tostring(L, -1);
    }
    qsort(names, count, sizeof *names, cmp_names);
    *n = count;
    return names;
}

/* "h5.write: <file>: <what>", the <where> of lua_opt.c's messages about table t. */
static const char *opt_where(const WriteCtx *c, const char *what, char *buf, size_t size)
{
    snprintf(buf, size, "h5.write: %.200s: %.200s", c->f->path, what);
    return buf;
}

/* Raises (lua_opt_known's message) when table t has a key outside known (NULL-terminated). The
 * file is to-be-closed and every buffer a userdata, so raising here leaks nothing. */
static void check_keys(WriteCtx *c, int t, const char *const *known, const char *what)
{
    char w[ERR_MSG_MAX];
    lua_opt_known(c->L, t, opt_where(c, what, w, sizeof w), known);
}

/* Converts the sequence at t into x, its data in a userdata pushed on the stack (0), or fails
 * pushing nothing (-1). force: H5IO_NONE infers the kind (numbers, and for attributes strings
 * or booleans); H5IO_F64 / H5IO_I64 require numbers (integers for I64). */
static int array_value(WriteCtx *c, int t, H5Kind force, int attr, const char *what,
                       H5Value *x)
{
    lua_State *L = c->L;
    size_t n = (size_t)lua_rawlen(L, t), count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        return wfail(c, "%s is a table with %zu keys, not a sequence%s", what, count,
                     attr ? " (use a group for nested tables)" : "");
    unsigned types = 0;
    int all_int = 1;
    for (size_t i = 1; i <= n; i++) {
        int type = lua_rawgeti(L, t, (lua_Integer)i);
        types |= 1u << type;
        if (type == LUA_TNUMBER && !lua_isinteger(L, -1)) {
            int isint = 0;
            lua_tointegerx(L, -1, &isint); /* 3.0 fits an i64 dataset; 3.5 does not */
            all_int &= force == H5IO_I64 && isint;
        }
        lua_pop(L, 1);
    }
    H5Kind k = force != H5IO_NONE ? force : H5IO_F64;
    if (n && force == H5IO_NONE)
        k = types == 1u << LUA_TNUMBER ? (all_int ? H5IO_I64 : H5IO_F64)
          : types == 1u << LUA_TSTRING && attr ? H5IO_STR
          : types == 1u << LUA_TBOOLEAN && attr ? H5IO_BOOL : H5IO_NONE;
    if (k == H5IO_NONE || (n && force != H5IO_NONE && types != 1u << LUA_TNUMBER))
        return wfail(c, "%s holds %s, expected %s", what,
                     types & ~(1u << LUA_TNUMBER | 1u << LUA_TSTRING | 1u << LUA_TBOOLEAN)
                         ? "tables or other values" : "mixed types",
                     attr ? "only numbers, only strings or only booleans" : "only numbers");
    if (k == H5IO_I64 && !all_int)
        return wfail(c, "%s holds a number that is not an integer, expected i64 values", what);
    size_t elem = k == H5IO_I64 ? sizeof(int64_t) : k == H5IO_F64 ? sizeof(double)
                : k == H5IO_STR ? sizeof(char *) : 1;
    void *buf = lua_newuserdatauv(L, (n ? n : 1) * elem, 0);
    memset(x, 0, sizeof *x);
    x->kind = k;
    x->is_array = 1;
    x->n = n;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, t, (lua_Integer)i + 1);
        switch (k) {
        case H5IO_I64: ((int64_t *)buf)[i] = (int64_t)lua_tointeger(L, -1); break;
        case H5IO_F64: ((double *)buf)[i] = (double)lua_tonumber(L, -1); break;
        case H5IO_BOOL: ((uint8_t *)buf)[i] = (uint8_t)lua_toboolean(L, -1); break;
        default: {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len); /* kept alive by t */
            if (len != strlen(s)) {
                lua_pop(L, 2);
                return wfail(c, "%s: string %zu has a zero byte", what, i + 1);
            }
            ((const char **)buf)[i] = s;
        }
        }
        lua_pop(L, 1);
    }
    x->i64 = k == H5IO_I64 ? buf : NULL;
    x->f64 = k == H5IO_F64 ? buf : NULL;
    x->str = k == H5IO_STR ? buf : NULL;
    x->u8 = k == H5IO_BOOL ? buf : NULL;
    return 0;
}

/* Writes the value at v as attribute `name` of the current group. */
static int write_attr(WriteCtx *c, int v, const char *name)
{
    lua_State *L = c->L;
    char what[H5IO_PATH_MAX + 64];
    snprintf(what, sizeof what, "attribute '%s' of '%s'", name, where(c));
    switch (lua_type(L, v)) {
    case LUA_TBOOLEAN: return h5io_attr_bool(c->f, c->group, name, lua_toboolean(L, v), &c->err);
    case LUA_TNUMBER:
        if (lua_isinteger(L, v))
            return h5io_attr_i64(c->f, c->group, name, (int64_t)lua_tointeger(L, v), &c->err);
        return h5io_attr_f64(c->f, c->group, name, (double)lua_tonumber(L, v), &c->err);
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, v, &len);
        if (len != strlen(s))
            return wfail(c, "%s has a zero byte (store binary data as a bytes dataset)", what);
        return h5io_attr_str(c->f, c->group, name, s, &c->err);
    }
    case LUA_TTABLE: {
        H5Value x;
        if (array_value(c, v, H5IO_NONE, 1, what, &x))
            return -1;
        int rc = h5io_attr(c->f, c->group, name, &x, &c->err);
        lua_pop(L, 1);
        return rc;
    }
    default:
        return wfail(c, "%s is a %s, expected a string, number, boolean or array of those",
                     what, luaL_typename(L, v));
    }
}

/* Pushes t[key] (raw) and returns its type. */
static int field(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* Writes the tensor at v (an engine.Tensor, checked) at path. */
static int write_tensor(WriteCtx *c, int v, const char *path, int deflate)
{
    Tensor *t = lua_tensor_check(c->L, v); /* raises for a closed tensor; the file closes */
    return h5io_write_tensor(c->f, path, t, deflate, &c->err);
}

/* Writes the dataset description at v as dataset `name` of the current group. */
static int write_dataset(WriteCtx *c, int v, const char *name)
{
    lua_State *L = c->L;
    char path[H5IO_PATH_MAX], what[H5IO_PATH_MAX + 64];
    if ((size_t)snprintf(path, sizeof path, "%s%s%s", c->group, c->group[0] ? "/" : "",
                         name) >= sizeof path)
        return wfail(c, "dataset path '%s/%s' is too long", c->group, name);
    snprintf(what, sizeof what, "dataset '%s'", path);
    if (luaL_testudata(L, v, ENGINE_TENSOR_T))
        return write_tensor(c, v, path, H5IO_DEFLATE_AUTO);
    if (lua_type(L, v) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, v, &len);
        H5Value x = h5io_value_bytes((const uint8_t *)s, len);
        return h5io_write_array(c->f, path, &x, &c->err);
    }
    if (lua_type(L, v) != LUA_TTABLE)
        return wfail(c, "%s is a %s, expected an engine.Tensor, a string, an array of numbers "
                     "or {kind = ...}", what, luaL_typename(L, v));
    H5Value x;
    int rc;
    if (field(L, v, "kind") == LUA_TNIL) { /* a plain array */
        lua_pop(L, 1);
        if (array_value(c, v, H5IO_NONE, 0, what, &x))
            return -1;
        rc = h5io_write_array(c->f, path, &x, &c->err);
        lua_pop(L, 1);
        return rc;
    }
    static const char *const kinds[] = {"f32", "f64", "i64", "bytes", NULL};
    static const char *const keys_f32[] = {"kind", "value", "deflate", NULL};
    static const char *const keys_arr[] = {"kind", "values", NULL};
    static const char *const keys_bytes[] = {"kind", "value", NULL};
    char w[ERR_MSG_MAX];
    opt_where(c, what, w, sizeof w);
    lua_pop(L, 1);
    int ki = lua_opt_enum(L, v, w, "kind", LUA_OPT_REQUIRED, 0, kinds);
    check_keys(c, v, ki == 0 ? keys_f32 : ki == 3 ? keys_bytes : keys_arr, what);
    if (ki == 0) {
        Tensor *t = lua_opt_tensor(L, v, w, "value", LUA_OPT_REQUIRED); /* v keeps it alive */
        int deflate = (int)lua_opt_int(L, v, w, "deflate", LUA_OPT_DEFAULT, H5IO_DEFLATE_AUTO, 0,
                                       H5IO_DEFLATE_MAX);
        return h5io_write_tensor(c->f, path, t, deflate, &c->err);
    }
    int type = field(L, v, ki == 3 ? "value" : "values");
    int fi = lua_gettop(L);
    if (type == LUA_TNIL)
        lua_opt_missing(L, w, ki == 3 ? "value" : "values", NULL);
    if (ki == 3) {
        size_t len = 0;
        if (type != LUA_TSTRING)
            lua_opt_bad(L, fi, w, "value", "a string");
        const char *s = lua_tolstring(L, fi, &len);
        x = h5io_value_bytes((const uint8_t *)s, len);
        rc = h5io_write_array(c->f, path, &x, &c->err);
    } else if (type != LUA_TTABLE) {
        rc = lua_opt_bad(L, fi, w, "values", "an array of numbers");
    } else if (array_value(c, fi, ki == 1 ? H5IO_F64 : H5IO_I64, 0, what, &x)) {
        rc = -1;
    } else {
        rc = h5io_write_array(c->f, path, &x, &c->err);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

static int write_tree(WriteCtx *c, int t);

/* Writes each entry of the table tree[key] with fn (sorted by name). */
static int write_section(WriteCtx *c, int t, const char *key)
{
    lua_State *L = c->L;
    int type = field(L, t, key), s = lua_gettop(L);
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (type != LUA_TTABLE) {
        lua_pop(L, 1);
        return wfail(c, "%s of '%s' is a %s, expected a table", key, where(c),
                     lua_typename(L, type));
    }
    size_t n, len = strlen(c->group);
    const char **names = sorted_names(c, s, key, &n);
    if (!names) {
        lua_pop(L, 1);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        int vt = field(L, s, names[i]), v = lua_gettop(L);
        if (key[0] == 'a') {
            if (!(c->depth == 0 && !strcmp(names[i], H5IO_FORMAT_ATTR))) /* written first */
                rc = write_attr(c, v, names[i]);
        } else if (key[0] == 'd') {
            rc = write_dataset(c, v, names[i]);
        } else if (vt != LUA_TTABLE) {
            rc = wfail(c, "group '%s' of '%s' is a %s, expected a tree table", names[i],
                       where(c), luaL_typename(L, v));
        } else if (len + 1 + strlen(names[i]) >= sizeof c->group) {
            rc = wfail(c, "group path '%s/%s' is too long", c->group, names[i]);
        } else {
            snprintf(c->group + len, sizeof c->group - len, "%s%s", len ? "/" : "", names[i]);
            c->depth++;
            rc = write_tree(c, v);
            c->depth--;
            c->group[len] = 0;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2); /* names, section */
    return rc;
}

static int write_tree(WriteCtx *c, int t)
{
    static const char *const keys[] = {"attrs", "datasets", "groups", NULL};
    char what[H5IO_PATH_MAX + 16];
    if (c->depth > LUA_H5_MAX_DEPTH)
        return wfail(c, "groups nested deeper than %d at '%s' (a cycle in the tree?)",
                     LUA_H5_MAX_DEPTH, c->group);
    if (!lua_checkstack(c->L, LUA_H5_STACK))
        return wfail(c, "out of Lua stack at '%s'", c->group);
    snprintf(what, sizeof what, "tree at '%s'", where(c));
    check_keys(c, t, keys, what);
    if (c->group[0] && h5io_group(c->f, c->group, &c->err))
        return -1;
    if (write_section(c, t, "attrs") || write_section(c, t, "datasets") ||
        write_section(c, t, "groups"))
        return -1;
    return 0;
}

static int l_h5_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    int isint = 0;
    lua_Integer version = 0;
    if (field(L, 2, "attrs") == LUA_TTABLE && field(L, 3, H5IO_FORMAT_ATTR) == LUA_TNUMBER)
        version = lua_tointegerx(L, 4, &isint);
    if (!isint || version < 1 || !lua_isinteger(L, -1))
        return luaL_error(L, "h5.write: %s: tree.attrs." H5IO_FORMAT_ATTR " is %s, expected "
                          "an integer >= 1 (readers check it first)", path,
                          lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
                                                         : luaL_typename(L, -1));
    lua_settop(L, 2);
    WriteCtx c;
    memset(&c, 0, sizeof c);
    c.L = L;
    c.f = file_push(L); /* to be closed: any error from here on deletes the .tmp */
    if (h5io_create(c.f, path, (int64_t)version, &c.err) || write_tree(&c, 2) ||
        h5io_commit(c.f, &c.err))
        return lua_raisef(L, "%s", c.err.msg);
    return 0;
}

/* ---- reading ------------------------------------------------------------------------------ */

static void push_value(lua_State *L, const H5Value *v)
{
    if (v->is_array)
        lua_createtable(L, (int)v->n, 0);
    for (size_t i = 0; i < v->n; i++) {
        switch (v->kind) {
        case H5IO_F64: lua_pushnumber(L, (lua_Number)v->f64[i]); break;
        case H5IO_I64: lua_pushinteger(L, (lua_Integer)v->i64[i]); break;
        case H5IO_STR: lua_pushstring(L, v->str[i]); break;
        case H5IO_BYTES: lua_pushinteger(L, v->u8[i]); break;
        default: lua_pushboolean(L, v->u8[i]); break;
        }
        if (v->is_array)
            lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

/* Pushes a table of the attributes of group. */
static void push_attrs(lua_State *L, H5Out *f, const char *group)
{
    Err err;
    Scratch *s = scratch_push(L);
    int si = lua_gettop(L);
    if (h5io_list_attrs(f, group, &s->list, &err))
        lua_raisef(L, "%s", err.msg);
    lua_createtable(L, 0, s->list.n);
    for (int i = 0; i < s->list.n; i++) {
        const char *name = s->list.e[i].name;
        if (h5io_read_attr(f, group, name, &s->value, &err))
            lua_raisef(L, "%s", err.msg);
        push_value(L, &s->value);
        h5io_value_free(&s->value);
        lua_setfield(L, -2, name);
    }
    h5io_list_free(&s->list);
    lua_remove(L, si);
}

/* Pushes the tree of group (path "" is the root). */
static void push_tree(lua_State *L, H5Out *f, const char *group, int depth)
{
    Err err;
    if (depth > LUA_H5_MAX_DEPTH)
        luaL_error(L, "h5.read: %s: groups nested deeper than %d at '%s'", f->path,
                   LUA_H5_MAX_DEPTH, group);
    luaL_checkstack(L, LUA_H5_STACK, "h5.read: groups nested too deeply");
    lua_createtable(L, 0, 3);
    push_attrs(L, f, group);
    lua_setfield(L, -2, "attrs");
    Scratch *s = scratch_push(L);
    int si = lua_gettop(L);
    if (h5io_list(f, group, &s->list, &err))
        lua_raisef(L, "%s", err.msg);
    lua_newtable(L);
    lua_newtable(L);
    int datasets = si + 1, groups = si + 2;
    for (int i = 0; i < s->list.n; i++) {
        const H5Entry *e = &s->list.e[i];
        char path[H5IO_PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s%s%s", group, group[0] ? "/" : "",
                             e->name) >= sizeof path)
            luaL_error(L, "h5.read: %s: path '%s/%s' is too long", f->path, group, e->name);
        if (e->kind == H5IO_GROUP) {
            push_tree(L, f, path, depth + 1);
            lua_setfield(L, groups, e->name);
            continue;
        }
        if (e->kind == H5IO_F32) {
            int shape[TENSOR_MAX_DIM];
            for (int d = 0; d < e->ndim; d++) {
                if (e->dims[d] > INT_MAX)
                    luaL_error(L, "h5.read: %s: dataset '%s' is too large", f->path, path);
                shape[d] = (int)e->dims[d];
            }
            Tensor *t = lua_tensor_new(L, e->ndim, shape);
            if (t->size && h5io_read_tensor(f, path, t, &err))
                lua_raisef(L, "%s", err.msg);
        } else if (e->kind == H5IO_F64 || e->kind == H5IO_I64 || e->kind == H5IO_BYTES) {
            if (h5io_read_array(f, path, &s->value, &err))
                lua_raisef(L, "%s", err.msg);
            if (e->kind == H5IO_BYTES)
                lua_pushlstring(L, (const char *)s->value.u8, s->value.n);
            else
                push_value(L, &s->value);
            h5io_value_free(&s->value);
        } else {
            luaL_error(L, "h5.read: %s: dataset '%s' has a type or rank engine.h5 does not read "
                       "(it reads float32 of rank 1-%d and 1-D float64, int64 and uint8)",
                       f->path, path, TENSOR_MAX_DIM);
        }
        lua_setfield(L, datasets, e->name);
    }
    lua_setfield(L, si - 1, "groups");
    lua_setfield(L, si - 1, "datasets");
    h5io_list_free(&s->list);
    lua_remove(L, si);
}

static int l_h5_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    H5Out *f = file_open(L, path);
    push_tree(L, f, "", 0);
    return 1;
}

static int l_h5_read_attrs(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *group = luaL_optstring(L, 2, "");
    lua_settop(L, 2);
    H5Out *f = file_open(L, path);
    push_attrs(L, f, group);
    return 1;
}

static int l_h5_list(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const char *group = luaL_optstring(L, 2, "");
    lua_settop(L, 2);
    H5Out *f = file_open(L, path);
    Err err;
    Scratch *s = scratch_push(L);
    if (h5io_list(f, group, &s->list, &err))
        return lua_raisef(L, "%s", err.msg);
    lua_createtable(L, s->list.n, 0);
    for (int i = 0; i < s->list.n; i++) {
        const H5Entry *e = &s->list.e[i];
        lua_createtable(L, 0, 3);
        lua_pushstring(L, e->name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, h5io_kind_name(e->kind));
        lua_setfield(L, -2, "kind");
        if (e->kind != H5IO_GROUP) {
            lua_createtable(L, e->ndim, 0);
            for (int d = 0; d < e->ndim && d < TENSOR_MAX_DIM; d++) {
                lua_pushinteger(L, (lua_Integer)e->dims[d]);
                lua_rawseti(L, -2, d + 1);
            }
            lua_setfield(L, -2, "shape");
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_h5_is_complete(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    Err err;
    if (h5io_is_complete(path, &err)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, err.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- module ------------------------------------------------------------------------------- */

int luaopen_engine_h5(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"write", l_h5_write},
        {"read", l_h5_read},
        {"read_attrs", l_h5_read_attrs},
        {"list", l_h5_list},
        {"is_complete", l_h5_is_complete},
        {NULL, NULL},
    };
    static const luaL_Reg file_meta[] = {
        {"__close", l_h5_file_close},
        {"__gc", l_h5_file_close},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, ENGINE_H5FILE_T))
        luaL_setfuncs(L, file_meta, 0);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, ENGINE_H5SCRATCH_T)) {
        lua_pushcfunction(L, l_h5_scratch_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    lua_pushinteger(L, H5IO_AUTO_MIN_FLOATS);
    lua_setfield(L, -2, "AUTO_MIN_FLOATS");
    return 1;
}
