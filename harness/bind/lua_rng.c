/*
 * lua_rng.c: the engine.Rng userdata (core/rng.h's xoshiro256** with its seed and stream) that
 * engine.train, engine.nn (dropout) and engine.gan share; engine.train exposes its
 * constructor and the stream ids:
 *
 *   train.rng(seed, stream)   -> Rng: :uniform() :normal() :gamma(k) :beta(a, b) :below(n)
 *                                (0..n-1) :copy() :state() :set_state(s)
 *   train.stream.<purpose>    RNG_STREAM_* ids: init, order, augment, mixup, dropout, labels,
 *                             subset, gan
 *
 * Rng:state() is 32 bytes, the four state words little-endian. An Rng is a plain userdata
 * (no __gc: it owns no memory).
 */
#include <math.h>
#include <stdint.h>

#include "bind/lua_engine.h"

#define RNG_STATE_BYTES 32

/* ---- Rng -------------------------------------------------------------------------------- */

Rng *lua_rng_check(lua_State *L, int idx) { return luaL_checkudata(L, idx, ENGINE_RNG_T); }

static int l_rng_uniform(lua_State *L)
{
    lua_pushnumber(L, rng_uniform(lua_rng_check(L, 1)));
    return 1;
}

static int l_rng_normal(lua_State *L)
{
    lua_pushnumber(L, rng_normal(lua_rng_check(L, 1)));
    return 1;
}

static int l_rng_gamma(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    double k = luaL_checknumber(L, 2);
    luaL_argcheck(L, k > 0.0 && isfinite(k), 2, "shape must be finite and > 0");
    lua_pushnumber(L, rng_gamma(r, k));
    return 1;
}

static int l_rng_beta(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    double a = luaL_checknumber(L, 2), b = luaL_checknumber(L, 3);
    luaL_argcheck(L, a > 0.0 && isfinite(a), 2, "a must be finite and > 0");
    luaL_argcheck(L, b > 0.0 && isfinite(b), 3, "b must be finite and > 0");
    lua_pushnumber(L, rng_beta(r, a, b));
    return 1;
}

static int l_rng_below(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1, 2, "n must be >= 1");
    lua_pushinteger(L, (lua_Integer)rng_below(r, (uint64_t)n));
    return 1;
}

static int l_rng_copy(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    Rng *c = lua_rng_new(L, 0, 0);
    *c = *r;
    return 1;
}

static int l_rng_state(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    unsigned char b[RNG_STATE_BYTES];
    for (int w = 0; w < 4; w++)
        for (int k = 0; k < 8; k++)
            b[8 * w + k] = (unsigned char)(r->s[w] >> (8 * k));
    lua_pushlstring(L, (const char *)b, sizeof b);
    return 1;
}

static int l_rng_set_state(lua_State *L)
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

static int l_rng_tostring(lua_State *L)
{
    Rng *r = lua_rng_check(L, 1);
    lua_pushfstring(L, "%s (%p)", ENGINE_RNG_T, (void *)r);
    return 1;
}

static void rng_meta(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"uniform", l_rng_uniform}, {"normal", l_rng_normal},
        {"gamma", l_rng_gamma},     {"beta", l_rng_beta},
        {"below", l_rng_below},     {"copy", l_rng_copy},
        {"state", l_rng_state},     {"set_state", l_rng_set_state},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, ENGINE_RNG_T)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_rng_tostring);
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

static int l_rng_new(lua_State *L)
{
    lua_Integer seed = luaL_checkinteger(L, 1);
    lua_Integer stream = luaL_checkinteger(L, 2);
    luaL_argcheck(L, seed >= 0, 1, "seed must be >= 0");
    luaL_argcheck(L, stream >= 0, 2, "stream must be >= 0");
    lua_rng_new(L, (uint64_t)seed, (uint64_t)stream);
    return 1;
}

void lua_rng_setfuncs(lua_State *L)
{
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
    lua_pushcfunction(L, l_rng_new);
    lua_setfield(L, -2, "rng");
    lua_createtable(L, 0, (int)(sizeof streams / sizeof streams[0]));
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
        lua_pushinteger(L, streams[i].id);
        lua_setfield(L, -2, streams[i].name);
    }
    lua_setfield(L, -2, "stream");
}
