/*
 * lua_mpi.c: the "engine.mpi" Lua module over harness/train/dist.h (the world of processes a
 * job runs on; MPI underneath, in dist.c only).
 *
 *   mpi.built()     -> true when this binary links MPI (`make MPI=1`)
 *   mpi.launched()  -> true when an MPI launcher (mpirun, srun) started this process
 *   mpi.rank(), mpi.size() -> this process's rank and the world's size (initialising MPI on
 *                      the first call when built and launched): 0 and 1 otherwise
 *   mpi.allreduce(t) -> t: the element-wise sum over the ranks, in place, float32
 *   mpi.barrier()
 *   mpi.abort([code]) ends every rank of the job (code default 1) when the world has more
 *                      than one rank; returns otherwise (the caller then ends its own)
 */
#include "bind/lua_engine.h"
#include "train/dist.h"

static void init_or_raise(lua_State *L)
{
    Err err;
    if (dist_init(&err))
        lua_raisef(L, "%s", err.msg);
}

static int l_built(lua_State *L)
{
    lua_pushboolean(L, dist_built());
    return 1;
}

static int l_launched(lua_State *L)
{
    lua_pushboolean(L, dist_launched());
    return 1;
}

static int l_rank(lua_State *L)
{
    init_or_raise(L);
    lua_pushinteger(L, dist_rank());
    return 1;
}

static int l_size(lua_State *L)
{
    init_or_raise(L);
    lua_pushinteger(L, dist_size());
    return 1;
}

static int l_allreduce(lua_State *L)
{
    Tensor *t = lua_tensor_check(L, 1);
    Err err;
    init_or_raise(L);
    if (dist_allreduce_sum(t->data, t->size, &err))
        return lua_raisef(L, "%s", err.msg);
    lua_settop(L, 1);
    return 1;
}

static int l_barrier(lua_State *L)
{
    Err err;
    init_or_raise(L);
    if (dist_barrier(&err))
        return lua_raisef(L, "%s", err.msg);
    return 0;
}

static int l_abort(lua_State *L)
{
    int code = (int)luaL_optinteger(L, 1, 1);
    init_or_raise(L);
    dist_abort(code);
    return 0;
}

static const luaL_Reg mpi_funcs[] = {
    {"built", l_built},   {"launched", l_launched},   {"rank", l_rank},
    {"size", l_size},     {"allreduce", l_allreduce}, {"barrier", l_barrier},
    {"abort", l_abort},
    {NULL, NULL}};

int luaopen_engine_mpi(lua_State *L)
{
    luaL_newlib(L, mpi_funcs);
    return 1;
}
