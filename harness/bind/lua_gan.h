/*
 * lua_gan.h: the Lua module "engine.gan" (harness/bind/lua_gan.c) over gan_data.c and
 * gan_metrics.c: the toy data, batch assembly and mixing of Figure 5's GANs, and the snapshot
 * metrics. Declared here rather than in lua_engine.h so that the binding lands on its own;
 * main.c preloads it next to the other engine modules:
 *     #include "bind/lua_gan.h"                       (with the includes)
 *     {"engine.gan", luaopen_engine_gan},        (in preload()'s mods[])
 */
#ifndef LUA_GAN_H
#define LUA_GAN_H

#include <lua.h>

#define ENGINE_GAN_SCRATCH_T "engine.GanScratch" /* permutation scratch, freed by __gc */

int luaopen_engine_gan(lua_State *L);

#endif
