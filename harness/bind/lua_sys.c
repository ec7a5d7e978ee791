/*
 * lua_sys.c: the "engine.sys" Lua module: the few operating-system services the Lua side needs,
 * so that no Lua file starts a shell for them (os.execute / io.popen).
 *
 *   sys.clock()          monotonic wall-clock seconds (os.clock is CPU time)
 *   sys.sleep(seconds)   waits that long (nanosleep; a signal ends it early), for a worker
 *                        that waits on another worker's run
 *   sys.mkdir_p(path)    creates path and its missing parents (mode 0777 less the umask);
 *                        true, or nil and "mkdir_p: <path>: <reason>"
 *   sys.exists(path)     true when path names anything (file, folder, link target)
 *   sys.isdir(path)      true when path is a folder
 *   sys.file_size(path)  the size in bytes of the file path names (links followed); nil and
 *                        "file_size: <path>: <reason>" when it cannot be read
 *   sys.isatty(fd)       true when file descriptor fd (0, 1, 2) is a terminal
 *   sys.listdir(path)    sorted array of the entry names in a folder, "." and ".." left out;
 *                        nil and a message when it cannot be read
 *   sys.remove_tree(p)   removes a file or a folder with everything below it (no link is
 *                        followed); true, or nil and a message
 *   sys.hostname(), sys.pid()
 *   sys.create_exclusive(path, text)
 *                        creates path with text in it only if nothing is there, the primitive
 *                        of run locks; true, or nil, a message and "exists" when path already
 *                        exists. The text goes into a private file first, which is then
 *                        hard-linked to path: link() is atomic and fails on an existing name,
 *                        also on NFS, so a reader never sees path empty or half written (an
 *                        O_EXCL create followed by a write would show it empty in between)
 *   sys.pid_alive(pid)   whether a process pid exists on this host (kill(pid, 0); a process
 *                        of another user counts as alive, a zombie as gone)
 *   sys.blas_info()      "OpenBLAS 0.3.21 ... (core Haswell, OpenMP)", for provenance
 *   sys.build_info()     {compiler, cflags, blas} for results' provenance
 *   sys.md5(s)           the MD5 of the string's bytes, 32 lowercase hex digits (core/md5.h)
 *   sys.md5_file(path)   the MD5 of a file's bytes (as `md5sum` prints it), read in blocks;
 *                        nil and "md5_file: <path>: <reason>" when it cannot be read
 *
 * Errors of the filesystem calls are returned (nil, message) as io.open does, for the caller
 * to word for its user; argument errors raise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bind/lua_engine.h"
#include "core/md5.h"
#include "core/blas.h"

static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + 1e-9 * (lua_Number)ts.tv_nsec);
    return 1;
}

static int l_sleep(lua_State *L)
{
    lua_Number s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s <= 86400, 1, "seconds in [0, 86400]");
    struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* a signal ends it early: main.c's SIGINT hook then stops Lua */
    return 0;
}

static int fail(lua_State *L, const char *what, const char *path, int e)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s: %s", what, path, strerror(e));
    return 2;
}

static int l_mkdir_p(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n > 0 && n < PATH_MAX, 1, "path is empty or too long");
    char buf[PATH_MAX];
    memcpy(buf, path, n + 1);
    /* Each prefix ending before a '/', then the whole path; EEXIST on a folder is success. */
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0) {
            int e = errno;
            if (e != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
                return fail(L, "mkdir_p", buf, e == EEXIST ? ENOTDIR : e);
        }
        buf[i] = c;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_exists(lua_State *L)
{
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0);
    return 1;
}

static int l_isdir(lua_State *L)
{
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

static int l_file_size(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(L, "file_size", path, errno);
    if (!S_ISREG(st.st_mode))
        return fail(L, "file_size", path, EISDIR);
    lua_pushinteger(L, (lua_Integer)st.st_size);
    return 1;
}

static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    luaL_argcheck(L, fd >= 0 && fd <= INT_MAX, 1, "not a file descriptor");
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names are read into a Lua table first (so no C memory can leak on a Lua error), then
 * sorted through an array of pointers into those strings, held by a userdata, and copied in
 * order into the table returned. */
static int l_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d)
        return fail(L, "listdir", path, errno);
    lua_newtable(L);
    int found = lua_gettop(L);
    lua_Integer k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        lua_pushstring(L, e->d_name);
        lua_seti(L, found, ++k);
    }
    closedir(d);
    const char **names = lua_newuserdatauv(L, (size_t)(k ? k : 1) * sizeof *names, 0);
    for (lua_Integer i = 0; i < k; i++) {
        lua_geti(L, found, i + 1);
        names[i] = lua_tostring(L, -1); /* the table keeps the string alive */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)k, sizeof *names, cmp_str);
    lua_createtable(L, (int)k, 0);
    for (lua_Integer i = 0; i < k; i++) {
        lua_pushstring(L, names[i]);
        lua_seti(L, -2, i + 1);
    }
    return 1;
}

/* Depth-first removal without following links (lstat). Returns 0 or an errno value and leaves
 * the failing path in bad. */
static int remove_tree(char *path, size_t cap, char *bad)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            strcpy(bad, path);
            return errno;
        }
        size_t n = strlen(path);
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            size_t m = strlen(e->d_name);
            if (n + 1 + m + 1 > cap) {
                rc = ENAMETOOLONG;
                strcpy(bad, path);
                break;
            }
            path[n] = '/';
            memcpy(path + n + 1, e->d_name, m + 1);
            rc = remove_tree(path, cap, bad);
            path[n] = '\0';
        }
        closedir(d);
        if (rc)
            return rc;
        if (rmdir(path) != 0) {
            strcpy(bad, path);
            return errno;
        }
        return 0;
    }
    if (unlink(path) != 0) {
        strcpy(bad, path);
        return errno;
    }
    return 0;
}

static int l_remove_tree(lua_State *L)
{
    size_t n;
    const char *path = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n > 0 && n < PATH_MAX && strcmp(path, "/") != 0, 1, "refusing this path");
    char buf[PATH_MAX], bad[PATH_MAX];
    memcpy(buf, path, n + 1);
    strcpy(bad, path);
    int e = remove_tree(buf, sizeof buf, bad);
    if (e)
        return fail(L, "remove_tree", bad, e);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_hostname(lua_State *L)
{
    char buf[256];
    if (gethostname(buf, sizeof buf) != 0)
        strcpy(buf, "unknown");
    buf[sizeof buf - 1] = '\0';
    lua_pushstring(L, buf);
    return 1;
}

static int l_pid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* Writes all n bytes of text to a new file at path; 0 or an errno (nothing left behind). */
static int write_new_file(const char *path, const char *text, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0)
        return errno;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(path);
            return e;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(path);
        return e;
    }
    return 0;
}

static int l_create_exclusive(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *text = luaL_checklstring(L, 2, &n);
    char host[64], tmp[PATH_MAX];
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    if (snprintf(tmp, sizeof tmp, "%s.%s.%d.new", path, host, (int)getpid()) >= (int)sizeof tmp)
        return luaL_argerror(L, 1, "path too long");
    unlink(tmp); /* a leftover of this pid's predecessor, killed between write and unlink */
    int e = write_new_file(tmp, text, n);
    if (e) {
        fail(L, "create_exclusive", path, e);
        lua_pushstring(L, "error");
        return 3;
    }
    e = link(tmp, path) == 0 ? 0 : errno;
    if (e && e != EEXIST) {
        /* NFS may lose link()'s reply after doing it: two links on the private file say so */
        struct stat st;
        if (stat(tmp, &st) == 0 && st.st_nlink == 2)
            e = 0;
    }
    unlink(tmp);
    if (e) {
        fail(L, "create_exclusive", path, e);
        lua_pushstring(L, e == EEXIST ? "exists" : "error");
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* A zombie (killed, not yet reaped by its parent) counts as gone: Linux's /proc/<pid>/stat
 * gives the state after the command name in parentheses, which may itself hold ") ". */
static int is_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close = strrchr(buf, ')');
    return close && close[1] == ' ' && close[2] == 'Z';
}

static int l_pid_alive(lua_State *L)
{
    lua_Integer pid = luaL_checkinteger(L, 1);
    luaL_argcheck(L, pid > 0 && pid <= INT_MAX, 1, "not a process id");
    int exists = kill((pid_t)pid, 0) == 0 || errno == EPERM;
    lua_pushboolean(L, exists && !is_zombie((pid_t)pid));
    return 1;
}

static int l_blas_info(lua_State *L)
{
    char buf[256];
    lua_pushstring(L, blas_describe(buf, sizeof buf));
    return 1;
}

#ifndef MIXUP_CFLAGS
#define MIXUP_CFLAGS "unknown"
#endif

/* The compiler as it names itself: clang defines __GNUC__ too, so test it first. */
#if defined(__clang__)
#define MIXUP_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define MIXUP_COMPILER "gcc " __VERSION__
#else
#define MIXUP_COMPILER "unknown C11 compiler"
#endif

static int l_build_info(lua_State *L)
{
    char buf[256];
    lua_createtable(L, 0, 3);
    lua_pushstring(L, MIXUP_COMPILER);
    lua_setfield(L, -2, "compiler");
    lua_pushstring(L, MIXUP_CFLAGS);
    lua_setfield(L, -2, "cflags");
    lua_pushstring(L, blas_describe(buf, sizeof buf));
    lua_setfield(L, -2, "blas");
    return 1;
}

static int l_md5(lua_State *L)
{
    size_t n;
    const char *p = luaL_checklstring(L, 1, &n);
    char hex[33];
    md5_hex(p, n, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_md5_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        lua_pushnil(L);
        lua_pushfstring(L, "md5_file: %s: %s", path, strerror(errno));
        return 2;
    }
    Md5 m;
    md5_init(&m);
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        md5_update(&m, buf, got);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        lua_pushnil(L);
        lua_pushfstring(L, "md5_file: %s: read error", path);
        return 2;
    }
    char hex[33];
    md5_final_hex(&m, hex);
    lua_pushstring(L, hex);
    return 1;
}

static const luaL_Reg sys_funcs[] = {
    {"clock", l_clock},         {"mkdir_p", l_mkdir_p},
    {"exists", l_exists},       {"isdir", l_isdir},
    {"isatty", l_isatty},       {"listdir", l_listdir},
    {"remove_tree", l_remove_tree}, {"hostname", l_hostname},
    {"pid", l_pid},             {"blas_info", l_blas_info},
    {"build_info", l_build_info}, {"create_exclusive", l_create_exclusive},
    {"pid_alive", l_pid_alive}, {"md5", l_md5},
    {"md5_file", l_md5_file},   {"file_size", l_file_size},
    {"sleep", l_sleep},
    {NULL, NULL},
};

int luaopen_engine_sys(lua_State *L)
{
    luaL_newlib(L, sys_funcs);
    return 1;
}
