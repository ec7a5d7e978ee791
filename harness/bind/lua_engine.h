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
 * Option tables are read with the lua_opt_* family below (lua_opt.c), the only option reader,
 * so that every binding's messages share one grammar.
 */
#ifndef LUA_ENGINE_H
#define LUA_ENGINE_H

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
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

/* ---- lua_nn.c -------------------------------------------------------------------------- */

/* Checks that stack index idx is a built engine.Net and returns its Net (nn/net.h). */
struct Net *lua_net_check(lua_State *L, int idx);

/* ---- lua_rng.c: the Rng userdata (train.rng and train.stream) --------------------------- */

/* Pushes a new Rng userdata seeded with (seed, stream). */
Rng *lua_rng_new(lua_State *L, uint64_t seed, uint64_t stream);
Rng *lua_rng_check(lua_State *L, int idx);
/* Sets rng (the constructor train.rng(seed, stream)) and stream (the RNG_STREAM_* ids) in the
 * table on top of the stack (engine.train's). */
void lua_rng_setfuncs(lua_State *L);

/* ---- lua_opt.c: the one option reader (its file comment has the message grammar) ---------- */

/* Raises the message (printf formats, which lua_pushfstring lacks: %zu, %u, %g) without a
 * "file:line:" prefix; never returns. */
int lua_raisef(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The `need` argument of the readers. */
#define LUA_OPT_DEFAULT 0  /* absent (or nil) gives the default */
#define LUA_OPT_REQUIRED 1 /* absent raises "<where>: missing required option 'k'" */
/* The lo, hi arguments of lua_opt_int / lua_opt_num for "no bound" (the engine's own checks,
 * e.g. sgd_check, then judge the value). */
#define LUA_OPT_ANY_INT INT_MIN, INT_MAX
#define LUA_OPT_ANY_NUM (-HUGE_VAL), HUGE_VAL

/* Raises "<where>: unknown option 'x' (known: a, b, c)" when the table at idx (checked to be
 * a table) has a key outside known (NULL-terminated). */
void lua_opt_known(lua_State *L, int idx, const char *where, const char *const *known);
/* Whether t[key] is present (not nil). */
int lua_opt_has(lua_State *L, int idx, const char *key);
/* Raises "<where>: option 'k' is <got>, expected none with <with>" when t[key] is present
 * (options that exclude each other). */
void lua_opt_none(lua_State *L, int idx, const char *where, const char *key, const char *with);
/* Raise "<where>: missing required option 'k'" (note, when not NULL, follows in parentheses)
 * and "<where>: option 'k' is <the value at vidx>, expected <what>": for the checks that
 * depend on more than one option. Never return. */
int lua_opt_missing(lua_State *L, const char *where, const char *key, const char *note);
int lua_opt_bad(lua_State *L, int vidx, const char *where, const char *key, const char *what);

/* t[key] of the table at idx, type-checked; integers and numbers within [lo, hi] (given values
 * only; LUA_OPT_ANY_INT / LUA_OPT_ANY_NUM for none). */
lua_Integer lua_opt_int(lua_State *L, int idx, const char *where, const char *key, int need,
                        lua_Integer dflt, lua_Integer lo, lua_Integer hi);
double lua_opt_num(lua_State *L, int idx, const char *where, const char *key, int need,
                   double dflt, double lo, double hi);
int lua_opt_bool(lua_State *L, int idx, const char *where, const char *key, int need, int dflt);
/* The string stays valid while the table holds it. */
const char *lua_opt_str(lua_State *L, int idx, const char *where, const char *key, int need,
                        const char *dflt);
/* The index of t[key] in names (NULL-terminated). */
int lua_opt_enum(lua_State *L, int idx, const char *where, const char *key, int need, int dflt,
                 const char *const *names);
/* An open engine.Tensor, or NULL when absent and optional; the table keeps it alive. */
Tensor *lua_opt_tensor(lua_State *L, int idx, const char *where, const char *key, int need);
/* Checks that t[key] (required) is a plain list of at least min entries (`of` names them in
 * messages: "layer tables"); leaves it on the stack and returns its length. */
int lua_opt_list(lua_State *L, int idx, const char *where, const char *key, int min,
                 const char *of);
/* Three finite numbers from t[key] = {r, g, b} into out (left as is when absent): the
 * per-channel mean and std of the data loaders (lua_data.c). */
void lua_opt_triple(lua_State *L, int idx, const char *where, const char *key, float *out);
/* Labels at idx (a sequence of integers or an engine.Tensor of integer-valued floats, as a
 * loader yields them) into out[n]; raises naming `where` and the element otherwise. */
void lua_labels_arg(lua_State *L, int idx, int n, int *out, const char *where);

int luaopen_engine_tensor(lua_State *L);
int luaopen_engine_nn(lua_State *L);
int luaopen_engine_train(lua_State *L);
int luaopen_engine_data(lua_State *L);
int luaopen_engine_sys(lua_State *L);
int luaopen_engine_mpi(lua_State *L);
int luaopen_engine_imagenet(lua_State *L);

#endif
