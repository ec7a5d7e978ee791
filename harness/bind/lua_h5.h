/*
 * lua_h5.h: the Lua module "engine.h5" (harness/bind/lua_h5.c) over io/h5io.h. Declared here
 * rather than in lua_engine.h so that the binding can land on its own; main.c preloads it with
 * luaL_requiref(L, "engine.h5", luaopen_engine_h5, 0) next to the other engine modules.
 */
#ifndef LUA_H5_H
#define LUA_H5_H

#include <lua.h>

/* Userdata type names (shown by __name in error messages). */
#define ENGINE_H5FILE_T "engine.H5File"       /* an open file, closed by __close / __gc */
#define ENGINE_H5SCRATCH_T "engine.H5Scratch" /* C buffers of a read, freed by __gc */

int luaopen_engine_h5(lua_State *L);

#endif
