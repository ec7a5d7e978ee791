/*
 * lua_layers.h: the layer registry and the network-description parser (lua_layers.c) that
 * nn.build (lua_nn.c) runs in two phases:
 *   1. lua_layers_parse validates a description of nested Lua tables strictly (unknown keys,
 *      types, required keys: a Lua error naming the path) into a flat, pre-order spec array
 *      held by a userdata it leaves on the stack; nothing is malloc'ed, so an error leaks none.
 *   2. lua_layers_build constructs the modules from that array in plain C; its errors come
 *      back in err, to be raised once no un-owned memory is live.
 */
#ifndef LUA_LAYERS_H
#define LUA_LAYERS_H

#include <lua.h>

#include "nn/conv.h"
#include "nn/module.h"

typedef struct NodeSpec NodeSpec;

/* The validated description: n entries in pre-order. */
typedef struct LayerSpecs {
    const NodeSpec *v;
    int n;
} LayerSpecs;

/* Phase 1: validates the description at stack index desc; pushes the userdata that holds the
 * specs (keep it on the stack until phase 2 is done). conv_algo: the algorithm of every conv
 * layer that names none; algos: stack index of a {[path] = algorithm name} table for single
 * conv layers (0 for none; an entry that names no conv layer is an error). */
LayerSpecs lua_layers_parse(lua_State *L, int desc, ConvAlgo conv_algo, int algos);
/* Phase 2: the module tree (paths set), or NULL with err filled (prefixed with the path). */
Module *lua_layers_build(LayerSpecs s, Err *err);

#endif
