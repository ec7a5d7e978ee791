/*
 * lua_opt.c: the one option reader of the Lua bindings (lua_engine.h declares it). Every
 * binding reads its option tables (train.sgd{...}, data.loader(ds, {...}), a layer
 * description, an h5 dataset description) with these calls, so every message has one grammar:
 *
 *   <where>: option 'k' is <got>, expected <what>        wrong type, out of range, bad name
 *   <where>: unknown option 'x' (known: a, b, c)         a key the reader does not know
 *   <where>: missing required option 'k'                 a required key is absent
 *
 * <got> shows the value: a number as Lua prints it (1.5, 1001), a string in double quotes
 * ("yes"), true / false, or the type with its article for anything else (a table,
 * an engine.Tensor). <what> names the type and, for bounded numbers, the range: "an integer",
 * "an integer >= 1", "an integer in 0..9", "a number in [0, 1]", "one of max, avg".
 *
 * Readers take the table at stack index idx and never leave anything on the stack (except
 * lua_opt_list, which leaves the list). `need` is LUA_OPT_REQUIRED (absent or nil raises the
 * missing message) or LUA_OPT_DEFAULT (absent gives dflt). A present value is always checked:
 * booleans must be booleans, integers integers (1.0 is accepted, 1.5 is not), and bounds
 * apply to given values only. The messages are raised with lua_raisef (a longjmp), so callers
 * read their options before they malloc anything (STYLE section 4).
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bind/lua_engine.h"

#define OPT_GOT_MAX 64  /* characters of a value shown in a message */
#define OPT_WHAT_MAX 192 /* characters of an expectation */

int lua_raisef(lua_State *L, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* no "file:line:" prefix: the message names the thing and the fix itself, and the host
     * prints it as one line (harness/main.c; --debug adds the traceback) */
    lua_pushstring(L, msg);
    return lua_error(L);
}

/* ---- messages ------------------------------------------------------------------------- */

/* The value at vidx as a message shows it (see the file comment). */
static const char *got_str(lua_State *L, int vidx, char *buf, size_t size)
{
    int t = lua_type(L, vidx);
    const char *name = NULL;
    switch (t) {
    case LUA_TNUMBER:
        lua_pushvalue(L, vidx); /* a copy: lua_tostring converts in place */
        snprintf(buf, size, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return buf;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, vidx, &len);
        int n = len > size - 8 ? (int)(size - 8) : (int)len;
        snprintf(buf, size, "\"%.*s%s\"", n, s, (size_t)n < len ? "..." : "");
        return buf;
    }
    case LUA_TBOOLEAN:
        return lua_toboolean(L, vidx) ? "true" : "false";
    case LUA_TNIL:
        return "nil";
    case LUA_TUSERDATA: {
        int mt = luaL_getmetafield(L, vidx, "__name");
        if (mt == LUA_TSTRING) {
            snprintf(buf, size, "%s", lua_tostring(L, -1));
            name = buf;
        }
        if (mt != LUA_TNIL)
            lua_pop(L, 1);
        break;
    }
    default:
        break;
    }
    if (!name)
        name = lua_typename(L, t);
    char tmp[OPT_GOT_MAX - 4];
    snprintf(tmp, sizeof tmp, "%s", name);
    snprintf(buf, size, "%s %s", strchr("aeiou", tmp[0]) ? "an" : "a", tmp);
    return buf;
}

int lua_opt_missing(lua_State *L, const char *where, const char *key, const char *note)
{
    if (note)
        return lua_raisef(L, "%s: missing required option '%s' (%s)", where, key, note);
    return lua_raisef(L, "%s: missing required option '%s'", where, key);
}

int lua_opt_bad(lua_State *L, int vidx, const char *where, const char *key, const char *what)
{
    char got[OPT_GOT_MAX];
    return lua_raisef(L, "%s: option '%s' is %s, expected %s", where, key,
                      got_str(L, lua_absindex(L, vidx), got, sizeof got), what);
}

/* Appends names[0], names[1], ... joined by ", " to buf. */
static void join_names(char *buf, size_t size, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
    }
}

/* ---- keys ----------------------------------------------------------------------------- */

void lua_opt_known(lua_State *L, int idx, const char *where, const char *const *known)
{
    char bad[OPT_GOT_MAX];
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    bad[0] = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int ok = 0;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (int i = 0; known[i] && !ok; i++)
                ok = !strcmp(k, known[i]);
            if (!ok)
                snprintf(bad, sizeof bad, "'%s'", k);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            /* lua_tostring would turn the key into a string in place and break lua_next */
            snprintf(bad, sizeof bad, "[%g]", (double)lua_tonumber(L, -2));
        } else {
            snprintf(bad, sizeof bad, "of type %s", luaL_typename(L, -2));
        }
        lua_pop(L, 1);
        if (!ok) {
            lua_pop(L, 1);
            break;
        }
    }
    if (!bad[0])
        return;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; known[i]; i++) {
        if (i)
            luaL_addstring(&b, ", ");
        luaL_addstring(&b, known[i]);
    }
    luaL_pushresult(&b);
    lua_raisef(L, "%s: unknown option %s (known: %s)", where, bad, lua_tostring(L, -1));
}

int lua_opt_has(lua_State *L, int idx, const char *key)
{
    int t = lua_getfield(L, idx, key);
    lua_pop(L, 1);
    return t != LUA_TNIL;
}

void lua_opt_none(lua_State *L, int idx, const char *where, const char *key, const char *with)
{
    char what[OPT_WHAT_MAX];
    if (lua_getfield(L, idx, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    snprintf(what, sizeof what, "none with %s", with);
    lua_opt_bad(L, -1, where, key, what);
}

/* Pushes t[key]; returns 0 (nothing pushed) when it is absent and optional. */
static int opt_get(lua_State *L, int idx, const char *where, const char *key, int need)
{
    if (lua_getfield(L, idx, key) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    if (need == LUA_OPT_REQUIRED)
        lua_opt_missing(L, where, key, NULL);
    return 0;
}

/* ---- scalars -------------------------------------------------------------------------- */

lua_Integer lua_opt_int(lua_State *L, int idx, const char *where, const char *key, int need,
                        lua_Integer dflt, lua_Integer lo, lua_Integer hi)
{
    if (!opt_get(L, idx, where, key, need))
        return dflt;
    int isint = 0;
    lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
    if (!isint || v < lo || v > hi) {
        /* bounds at the C int limits are only mentioned when they are what was broken */
        int say_lo = lo > INT_MIN || (isint && v < lo);
        int say_hi = hi < INT_MAX || (isint && v > hi);
        char what[OPT_WHAT_MAX];
        if (say_lo && say_hi)
            snprintf(what, sizeof what, "an integer in %lld..%lld", (long long)lo,
                     (long long)hi);
        else if (say_lo)
            snprintf(what, sizeof what, "an integer >= %lld", (long long)lo);
        else if (say_hi)
            snprintf(what, sizeof what, "an integer <= %lld", (long long)hi);
        else
            snprintf(what, sizeof what, "an integer");
        lua_opt_bad(L, -1, where, key, what);
    }
    lua_pop(L, 1);
    return v;
}

double lua_opt_num(lua_State *L, int idx, const char *where, const char *key, int need,
                   double dflt, double lo, double hi)
{
    if (!opt_get(L, idx, where, key, need))
        return dflt;
    int isnum = lua_type(L, -1) == LUA_TNUMBER;
    double v = isnum ? (double)lua_tonumber(L, -1) : 0.0;
    int bounded = isfinite(lo) || isfinite(hi);
    if (!isnum || (bounded && !(v >= lo && v <= hi))) {
        char what[OPT_WHAT_MAX];
        if (isfinite(lo) && isfinite(hi))
            snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
        else if (isfinite(lo))
            snprintf(what, sizeof what, "a number >= %g", lo);
        else if (isfinite(hi))
            snprintf(what, sizeof what, "a number <= %g", hi);
        else
            snprintf(what, sizeof what, "a number");
        lua_opt_bad(L, -1, where, key, what);
    }
    lua_pop(L, 1);
    return v;
}

int lua_opt_bool(lua_State *L, int idx, const char *where, const char *key, int need, int dflt)
{
    if (!opt_get(L, idx, where, key, need))
        return dflt;
    if (lua_type(L, -1) != LUA_TBOOLEAN)
        lua_opt_bad(L, -1, where, key, "a boolean");
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

const char *lua_opt_str(lua_State *L, int idx, const char *where, const char *key, int need,
                        const char *dflt)
{
    if (!opt_get(L, idx, where, key, need))
        return dflt;
    if (lua_type(L, -1) != LUA_TSTRING)
        lua_opt_bad(L, -1, where, key, "a string");
    const char *s = lua_tostring(L, -1); /* the table keeps it alive */
    lua_pop(L, 1);
    return s;
}

int lua_opt_enum(lua_State *L, int idx, const char *where, const char *key, int need, int dflt,
                 const char *const *names)
{
    if (!opt_get(L, idx, where, key, need))
        return dflt;
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *s = lua_tostring(L, -1);
        for (int i = 0; names[i]; i++) {
            if (!strcmp(s, names[i])) {
                lua_pop(L, 1);
                return i;
            }
        }
    }
    char what[OPT_WHAT_MAX] = "one of ";
    join_names(what, sizeof what, names);
    return lua_opt_bad(L, -1, where, key, what);
}

Tensor *lua_opt_tensor(lua_State *L, int idx, const char *where, const char *key, int need)
{
    if (!opt_get(L, idx, where, key, need))
        return NULL;
    if (!luaL_testudata(L, -1, ENGINE_TENSOR_T))
        lua_opt_bad(L, -1, where, key, "an " ENGINE_TENSOR_T);
    Tensor *t = lua_tensor_check(L, lua_gettop(L)); /* raises for a closed tensor */
    lua_pop(L, 1);
    return t;
}

/* ---- lists ---------------------------------------------------------------------------- */

int lua_opt_list(lua_State *L, int idx, const char *where, const char *key, int min,
                 const char *of)
{
    char what[OPT_WHAT_MAX], got[OPT_GOT_MAX];
    if (min > 0)
        snprintf(what, sizeof what, "a list of at least %d %s", min, of);
    else
        snprintf(what, sizeof what, "a list of %s", of);
    opt_get(L, idx, where, key, LUA_OPT_REQUIRED);
    if (!lua_istable(L, -1))
        lua_opt_bad(L, -1, where, key, what);
    int list = lua_gettop(L);
    lua_Integer n = luaL_len(L, list), count = 0;
    lua_pushnil(L);
    while (lua_next(L, list)) {
        int isint = 0;
        lua_Integer k = lua_type(L, -2) == LUA_TNUMBER ? lua_tointegerx(L, -2, &isint) : 0;
        if (!isint || k < 1 || k > n) {
            char kb[OPT_GOT_MAX];
            lua_raisef(L, "%s: option '%s' is a table with key %s, expected %s", where, key,
                       got_str(L, -2, kb, sizeof kb), what);
        }
        lua_pop(L, 1);
        count++;
    }
    if (count != n)
        lua_raisef(L, "%s: option '%s' is a table with holes, expected %s", where, key, what);
    if (n < min || n > INT_MAX / 2) {
        snprintf(got, sizeof got, "a list of %lld", (long long)n);
        lua_raisef(L, "%s: option '%s' is %s, expected %s", where, key, got, what);
    }
    return (int)n;
}

/* Labels at idx (a sequence of integers or a Tensor of integer-valued floats) into out[n]. */
void lua_labels_arg(lua_State *L, int idx, int n, int *out, const char *where)
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
