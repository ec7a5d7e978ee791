-- provenance.lua: where a result came from, for the "provenance" group of a results file
-- (README "Results files"): project version, git commit and dirtiness, compiler, flags and
-- BLAS (engine.sys.build_info), thread and rank counts, the convolution algorithm setting
-- (engine.nn's conv_algo) and the conv layers that ran Winograd, host, start and end time
-- (ISO 8601 UTC), seed, scale and the command line.
--
--   local provenance = require "harness.lua.provenance"
--   local p = provenance.collect{threads = 2, seed = 1, scale = "cpu", command = "...",
--                                start_time = provenance.now()}
--   p.end_time = provenance.now()
--
-- git is asked with `git -C <dir>` where dir is the current directory (runs start from the
-- repository root: the Makefile and the tests do); outside a checkout, or without git, the
-- commit reads "unknown" and git_dirty false, which a reader can tell from a real commit.
-- Non-goals: anything that changes the numbers (that is the config's job).

local nn = require "engine.nn"
local sys = require "engine.sys"

local M = {}

-- The harness version (0.4: the experiment harness of issue 4); bumped by hand when the
-- harness changes what a run computes or writes.
M.PROJECT_VERSION = "0.4.0"
local UNKNOWN = "unknown"

-- s quoted for a POSIX shell, unless it is plain enough to stand alone.
local function shell_quote(s)
  if s:match("^[%w%._/=,:%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- The first line printed by a command (git: the only commands the Lua side runs), or nil.
local function first_line(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  if not p then return nil end
  local line = p:read("l")
  p:close()
  if line == nil or line == "" then return nil end
  return line
end

-- ISO 8601 UTC, second resolution: "2026-11-26T08:15:00Z".
function M.now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

local function host()
  local h = sys.hostname()
  if h == nil or h == "" then return UNKNOWN end
  return h
end

-- git commit and whether tracked files differ from it (untracked files, e.g. results/, do not
-- count).
function M.git()
  local commit = first_line("git rev-parse HEAD")
  if not commit then return UNKNOWN, false end
  local dirty = first_line("git status --porcelain --untracked-files=no") ~= nil
  return commit, dirty
end

-- o: {threads =, ranks =, seed =, scale =, command =, start_time =, winograd =}; returns the
-- attribute table (ranks: the MPI ranks that trained the run together, default 1; winograd:
-- the paths of the conv layers that ran Winograd, comma-separated, default "none"; neither
-- they nor conv_algo are in results.PROVENANCE, since files written before them lack them).
function M.collect(o)
  local info = sys.build_info()
  local commit, dirty = M.git()
  return {
    project_version = M.PROJECT_VERSION,
    git_commit = commit,
    git_dirty = dirty,
    compiler = info.compiler,
    cflags = info.cflags,
    blas = sys.blas_info(),
    threads = math.tointeger(o.threads),
    ranks = math.tointeger(o.ranks or 1),
    conv_algo = nn.conv_algo(),
    winograd = o.winograd or "none",
    host = host(),
    start_time = o.start_time or M.now(),
    end_time = o.end_time or M.now(),
    seed = math.tointeger(o.seed),
    scale = o.scale,
    command = o.command,
  }
end

-- The command line of this process, as a shell would read it back: the host, its options,
-- the script and its arguments (arg as lua.c builds it).
function M.command_line(arg)
  local parts = {}
  local lo = 0
  while arg[lo - 1] ~= nil do lo = lo - 1 end
  for i = lo, #arg do parts[#parts + 1] = shell_quote(tostring(arg[i])) end
  return table.concat(parts, " ")
end

return M
