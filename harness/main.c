/*
 * main.c: the host program. `mixup [--threads N] SCRIPT.lua [args...]` runs an experiment or
 * test script in an embedded Lua 5.4 with the engine's modules preloaded:
 *   engine.tensor, engine.nn, engine.train, engine.data, engine.h5, engine.gan
 *   (require "engine.nn", ...).
 *
 * Environment of a script: the standard libraries; `...` and a table `arg` as in lua.c
 * (arg[0] the script, arg[1..] its arguments, arg[-1], arg[-2], ... the host and its options),
 * kept in the script's own environment, not in _G. Globals are strict: the script and every
 * module it requires run in their own _ENV whose reads fall back to _G for names that exist
 * there; reading or assigning any other name raises "undeclared global 'x'". A script that
 * really wants a new global declares it with rawset(_ENV, "x", value).
 * Modules: package.path looks in the repository root (the directory of this executable, from
 * /proc/self/exe) and then in the current directory, so require "nets.preact_resnet" finds
 * nets/preact_resnet.lua. Binary chunks and C modules from disk are not loaded.
 * Threads: --threads N, else the environment variable MIXUP_THREADS, else DEFAULT_THREADS;
 * set with blas_set_threads before the script runs (engine.nn.set_threads changes it later).
 * Errors: the script runs under lua_pcall with lua.c's message handler; an error prints one
 * line, "harness: <message>", on stderr, and the exit status is 1 (2 for a usage error). With
 * --debug or MIXUP_DEBUG=1 the Lua traceback follows the message; without it, a message that
 * starts with a source position ("file.lua:12: ...", a slip in the code rather than a user's
 * error, which is raised without one) ends with a hint saying so. Only this file decides the
 * exit status.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "core/blas.h"
#include "bind/lua_engine.h"
#include "bind/lua_gan.h"
#include "bind/lua_h5.h"

#define PROGNAME "harness"
#define DEFAULT_THREADS 2 /* the reference machine's core count (Makefile THREADS ?= 2) */
#define MAX_THREADS 1024
#define STRICT_META "mixup.strict_env" /* registry key of the strict environments' metatable */

#define EXIT_SCRIPT_ERROR 1
#define EXIT_USAGE 2

typedef struct HostArgs {
    int argc;
    char **argv;
    int script; /* index in argv of the script */
    int debug;  /* --debug or MIXUP_DEBUG=1: tracebacks on errors */
} HostArgs;

static void usage(void)
{
    fprintf(stderr,
            "usage: mixup [--threads N] [--debug] SCRIPT.lua [args...]\n"
            "  --threads N      OpenMP/OpenBLAS threads (default: $MIXUP_THREADS, else %d)\n"
            "  --debug          Lua tracebacks on errors (also MIXUP_DEBUG=1)\n",
            DEFAULT_THREADS);
}

/* Parses a thread count; 0 on success. */
static int parse_threads(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > MAX_THREADS)
        return -1;
    *out = (int)v;
    return 0;
}

/* ---- strict environments --------------------------------------------------------------- */

/* Raises msg about key (stack index 2) at the position of the Lua code that touched it. */
static int strict_error(lua_State *L, const char *what)
{
    const char *key = luaL_tolstring(L, 2, NULL);
    luaL_where(L, 1);
    lua_pushfstring(L, "%s '%s'", what, key);
    lua_concat(L, 2);
    return lua_error(L);
}

/* __index(env, key): existing globals of _G (upvalue 1) only. */
static int strict_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    return strict_error(L, "undeclared global");
}

/* __newindex(env, key, value): never; declare with rawset(_ENV, key, value). */
static int strict_newindex(lua_State *L)
{
    return strict_error(L, "assignment to undeclared global");
}

/* Pushes a new, empty strict environment table. */
static void push_strict_env(lua_State *L)
{
    lua_newtable(L);
    if (luaL_getmetatable(L, STRICT_META) == LUA_TNIL) {
        lua_pop(L, 1);
        luaL_newmetatable(L, STRICT_META);
        lua_pushglobaltable(L);
        lua_pushcclosure(L, strict_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, strict_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushliteral(L, "strict environment");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
}

/* A package.searchers entry replacing the standard Lua-file searcher: same search through
 * package.path, text chunks only, each module in its own strict environment. */
static int search_strict(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchpath");
    lua_pushstring(L, name);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 2);
    if (lua_isnil(L, -2))
        return 1; /* searchpath's "no file '...'" list */
    lua_pop(L, 1);
    const char *file = lua_tostring(L, -1);
    if (luaL_loadfilex(L, file, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                          lua_tostring(L, -1));
    push_strict_env(L);
    lua_setupvalue(L, -2, 1);
    lua_pushstring(L, file);
    return 2;
}

/* ---- setup ----------------------------------------------------------------------------- */

/* Sets package.path to the repository root (the executable's directory) and the current
 * directory; empties package.cpath; installs the strict searcher. */
static void setup_package(lua_State *L)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    lua_getglobal(L, "package");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash && slash != exe) {
            *slash = 0;
            lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", exe, exe);
            luaL_addvalue(&b);
        }
    }
    luaL_addstring(&b, "./?.lua;./?/init.lua");
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "searchers");
    lua_pushcfunction(L, search_strict);
    lua_seti(L, -2, 2); /* searchers[2] is the standard Lua-file searcher */
    lua_pop(L, 2);
}

static void preload(lua_State *L)
{
    static const luaL_Reg mods[] = {
        {"engine.tensor", luaopen_engine_tensor},
        {"engine.nn", luaopen_engine_nn},
        {"engine.train", luaopen_engine_train},
        {"engine.data", luaopen_engine_data},
        {"engine.h5", luaopen_engine_h5},
        {"engine.gan", luaopen_engine_gan},
        {"engine.sys", luaopen_engine_sys},
        {"engine.mpi", luaopen_engine_mpi},
        {"engine.imagenet", luaopen_engine_imagenet},
        {NULL, NULL},
    };
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const luaL_Reg *m = mods; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
    /* Registers the Tensor metatable now, so that any binding can push tensors. */
    luaL_requiref(L, "engine.tensor", luaopen_engine_tensor, 0);
    lua_pop(L, 1);
}

/* Whether msg starts with a source position, "<chunk>:<digits>:". */
static int has_position(const char *msg)
{
    const char *colon = strchr(msg, ':');
    if (!colon || colon == msg || colon[1] < '0' || colon[1] > '9')
        return 0;
    const char *p = colon + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == ':';
}

/* lua.c's msghandler; upvalue 1 is the debug flag: with it, the traceback follows the message;
 * without it, a message with a source position gets the hint instead. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    if (lua_toboolean(L, lua_upvalueindex(1)))
        luaL_traceback(L, L, msg, 1);
    else if (has_position(msg))
        lua_pushfstring(L, "%s (--debug or MIXUP_DEBUG=1 shows the traceback)", msg);
    return 1;
}

/* Runs in protected mode (lua.c's pmain): sets up the state, loads and runs the script.
 * Returns true (script succeeded) or false (its error already printed). */
static int pmain(lua_State *L)
{
    const HostArgs *a = lua_touserdata(L, 1);
    const char *script = a->argv[a->script];
    luaL_openlibs(L);
    setup_package(L);
    preload(L);

    /* arg as lua.c builds it: the script at 0, its arguments after, the host before. */
    lua_createtable(L, a->argc - a->script - 1, a->script + 1);
    for (int i = 0; i < a->argc; i++) {
        lua_pushstring(L, a->argv[i]);
        lua_seti(L, -2, i - a->script);
    }
    int arg_idx = lua_gettop(L);

    lua_pushboolean(L, a->debug);
    lua_pushcclosure(L, msghandler, 1);
    int handler = lua_gettop(L);
    int status = luaL_loadfilex(L, script, "t");
    if (status == LUA_OK) {
        push_strict_env(L);
        lua_pushliteral(L, "arg");
        lua_pushvalue(L, arg_idx);
        lua_rawset(L, -3);
        lua_setupvalue(L, -2, 1);
        int nargs = a->argc - a->script - 1;
        luaL_checkstack(L, nargs, "too many script arguments");
        for (int i = a->script + 1; i < a->argc; i++)
            lua_pushstring(L, a->argv[i]);
        status = lua_pcall(L, nargs, 0, handler);
    }
    if (status != LUA_OK) {
        fprintf(stderr, "%s: %s\n", PROGNAME, lua_tostring(L, -1));
        fflush(stderr);
    }
    lua_pushboolean(L, status == LUA_OK);
    return 1;
}

/* OpenBLAS (DYNAMIC_ARCH) picks its kernels from cpuid when the library loads, before main.
 * On the virtual machines here the CPU model is hidden and it falls back to Prescott (SSE3).
 * Measured 2026-11, sgemm 1024^3 on 2 threads: Prescott 10.6 GFLOP/s, Haswell 32.3, SkylakeX
 * 37.3 (machine shared with other jobs); a PreAct ResNet-18 width-16 training step, 2 threads:
 * Haswell 351 images/s, SkylakeX 404. So where OPENBLAS_CORETYPE is unset we name the best
 * core the CPU supports (SkylakeX with AVX-512 F/BW/DQ/VL, else Haswell with AVX2 and FMA) and
 * re-execute once; the GEMM results of either are checked against double-precision
 * references by the conv and linear tests. A value the user or the machine set (these
 * machines are meant to carry OPENBLAS_CORETYPE=Haswell) is never touched, and
 * MIXUP_BLAS_AUTODETECT=1 keeps OpenBLAS's own choice. Provenance records the core in use. */
static void pin_blas_core(char **argv)
{
    const char *auto_env = getenv("MIXUP_BLAS_AUTODETECT");
    if (getenv("OPENBLAS_CORETYPE") || (auto_env && !strcmp(auto_env, "1")))
        return;
    __builtin_cpu_init();
    const char *core = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        core = "Haswell";
    if (core && setenv("OPENBLAS_CORETYPE", core, 1) == 0)
        execv("/proc/self/exe", argv);
    /* no known core or execv failed: carry on with OpenBLAS's choice, which provenance records */
}

int main(int argc, char **argv)
{
    pin_blas_core(argv);
    int threads = DEFAULT_THREADS;
    const char *env = getenv("MIXUP_THREADS");
    if (env && *env && parse_threads(env, &threads)) {
        fprintf(stderr, "%s: MIXUP_THREADS is '%s', expected an integer 1 to %d\n", PROGNAME,
                env, MAX_THREADS);
        return EXIT_USAGE;
    }
    const char *debug_env = getenv("MIXUP_DEBUG");
    int debug = debug_env && !strcmp(debug_env, "1");
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (parse_threads(argv[i + 1], &threads)) {
                fprintf(stderr, "%s: --threads is '%s', expected an integer 1 to %d\n",
                        PROGNAME, argv[i + 1], MAX_THREADS);
                return EXIT_USAGE;
            }
            i += 2;
        } else if (!strcmp(argv[i], "--debug")) {
            debug = 1; /* and for the scripts, which read MIXUP_DEBUG (run.lua, lifecycle) */
            setenv("MIXUP_DEBUG", "1", 1);
            i++;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", PROGNAME, argv[i]);
            usage();
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage();
        return EXIT_USAGE;
    }
    blas_set_threads(threads);

    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "%s: cannot create the Lua state: out of memory\n", PROGNAME);
        return EXIT_SCRIPT_ERROR;
    }
    HostArgs a = {argc, argv, i, debug};
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &a);
    int status = lua_pcall(L, 1, 1, 0);
    int ok = status == LUA_OK && lua_toboolean(L, -1);
    if (status != LUA_OK)
        fprintf(stderr, "%s: %s\n", PROGNAME, lua_tostring(L, -1));
    lua_close(L);
    return ok ? 0 : EXIT_SCRIPT_ERROR;
}
