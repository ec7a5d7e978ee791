/*
 * lua_engine.h: what the Lua binding files share. One binding mechanism: hand-written luaL_Reg
 * arrays, one per file, opened by luaopen_engine_<area> and preloaded by main.c as the Lua
 * modules "engine.tensor", "engine.nn", "engine.train" and "engine.data".
 *
 * Userdata type names are the constants below (shown by __name in error messages).
 * A Tensor userdata is either owning (its data freed by __gc / __close) or a view whose owner
 * (another userdata: a Tensor, a Net, a dataset) is kept alive through the view's user value.
 *
 * Errors: bindings check every argument with luaL_check* / luaL_argcheck and raise engine
 * errors with luaL_error(L, "%s", err.msg) only after freeing anything they malloc'ed.
 */
#ifndef LUA_ENGINE_H
#define LUA_ENGINE_H

#include <lauxlib.h>
#include <lua.h>

#include "core/rng.h"
#include "core/tensor.h"

#define ENGINE_TENSOR_T "engine.Tensor"
#define ENGINE_NET_T "engine.Net"
#define ENGINE_RNG_T "engine.Rng"
#define ENGINE_OPTIM_T "engine.Optim"
#define ENGINE_DATASET_T "engine.Dataset"
#define ENGINE_LOADER_T "engine.Loader"

/* Pushes a new owning, zero-filled tensor userdata; raises a Lua error on bad shape or OOM. */
Tensor *lua_tensor_new(lua_State *L, int ndim, const int *shape);
/* Pushes a view userdata sharing src's data and shape; the value at stack index owner_idx is
 * kept alive as long as the view is. */
Tensor *lua_tensor_push_view(lua_State *L, const Tensor *src, int owner_idx);
/* Checks that stack index idx is an engine.Tensor and returns it. */
Tensor *lua_tensor_check(lua_State *L, int idx);
/* Reads a shape from the Lua table at idx ({2, 3, 32, 32}); raises on bad entries. */
int lua_tensor_shape_arg(lua_State *L, int idx, int *shape);

/* Pushes a new Rng userdata seeded with (seed, stream). */
Rng *lua_rng_new(lua_State *L, uint64_t seed, uint64_t stream);
Rng *lua_rng_check(lua_State *L, int idx);

/* luaL_error with printf formats (lua_pushfstring knows no %zu, %u or %g); never returns. */
int lua_raisef(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict option tables: raises "<where>: unknown option 'x' (known: a, b, c)" when the table
 * at idx has a key outside known (NULL-terminated). */
void lua_check_options(lua_State *L, int idx, const char *where, const char *const *known);

int luaopen_engine_tensor(lua_State *L);
int luaopen_engine_nn(lua_State *L);
int luaopen_engine_train(lua_State *L);
int luaopen_engine_data(lua_State *L);
int luaopen_engine_sys(lua_State *L);

#endif
