-- run.lua: the command-line entry of every experiment grid.
--
--   ./mixup experiments/run.lua EXPERIMENT --scale SCALE [--threads N] [--conv-algo A] [--force]
--           [--out DIR] [--part K/N] [--data-parallel] [--list] [axis=id[,id...] ...]
--
--   EXPERIMENT   a script experiments/<EXPERIMENT>.lua (e.g. table2_cifar)
--   --scale      paper | cpu | smoke (the experiment's recipes; no default: the Makefile's
--                SCALE ?= cpu chooses for `make reproduce-table2`)
--   --threads N  OpenMP/OpenBLAS threads (default: the host's --threads / MIXUP_THREADS)
--   --conv-algo A  the convolution kernels (harness/nn/conv.h): default (the measured rule),
--                direct, im2col, winograd, or auto (each layer's fastest, timed when the net
--                is built: harness/lua/conv_tune.lua; not with --data-parallel); they change
--                the bits, so a resume refuses a checkpoint whose conv layers ran another
--                (provenance.winograd)
--   --force      rerun runs whose results file is complete, from scratch
--   --out DIR    results root (default "results"): files go to DIR/<experiment>/<run-id>.h5
--   --part K/N   only the runs whose grid index i has (i - 1) % N == K - 1: N processes with
--                K = 1..N share a grid (each run's bits do not depend on which process runs it)
--   --data-parallel  under an MPI launcher, every rank trains every run together: each
--                step's batch split over the ranks, the gradients summed
--                (harness/lua/data_parallel.lua; the recipe needs net.bn_group)
--   --list       print the run ids the grid expands to and stop
--   axis=id      filters, e.g. net=preact_resnet18 seed=1 method=erm,mixup_a1
--
-- Runs go in grid order, one at a time, each through the one run lifecycle
-- (harness/lua/lifecycle.lua) with the task of the experiment's schema (harness/lua/tasks.lua);
-- complete ones are skipped, interrupted ones resume from their checkpoint, and a run claimed
-- by another worker (its lock) is left to it, so any number of these commands can share one
-- results folder. A run whose data are absent (e.g. CIFAR-100 before `make data-cifar100`) is
-- skipped with a message saying so (task.available). A run that diverges is recorded as such
-- and the grid goes on; a run that fails (a truncated data file, a full disk) prints one
-- "failed" line and the grid goes on. The closing line counts done, already complete,
-- diverged, failed, claimed by other workers and skipped for missing data; the command ends
-- with an error (exit status 1) when any run diverged or failed, after every other run.
-- Rerunning the same command picks up where it stopped. An experiment that measures another
-- one's models (Table 5, Figure 2: task.sources) first trains those that are absent, the
-- grid's processes sharing them (each takes every N-th, as --part K/N takes runs); a run that
-- needs a model another worker is still training waits for it.
--
-- Under an MPI launcher (`mpirun -np N ./mixup --threads T experiments/run.lua ...`, or srun),
-- every rank is such a worker on the shared results folder: the claims give each run to one
-- rank, and rank r starts at the grid's (r + 1)-th run and wraps around, so the ranks begin
-- on different runs (engine.mpi; a binary built without MPI still works there, each process
-- then a worker that does not know its rank). With --data-parallel the ranks instead train
-- one run at a time together, rank 0 printing and writing; a run that fails then ends the
-- whole job (mpi.abort), since the other ranks would wait for it forever.

local mpi = require "engine.mpi"
local nn = require "engine.nn"
local sys = require "engine.sys"
local grid = require "harness.lua.grid"
local provenance = require "harness.lua.provenance"
local lifecycle = require "harness.lua.lifecycle"
local tasks = require "harness.lua.tasks"
local models = require "harness.lua.models"
local cli = require "harness.lua.cli"
local data_parallel = require "harness.lua.data_parallel"

-- --conv-algo A: one of the names conv.h gives its ConvAlgo values.
local function conv_algo(s)
  for _, name in ipairs{"default", "direct", "im2col", "winograd", "auto"} do
    if s == name then return s end
  end
  return nil
end

-- --part K/N: {k = K, n = N} with 1 <= K <= N.
local function part(s)
  local k, n = s:match("^(%d+)/(%d+)$")
  k, n = math.tointeger(tonumber(k)), math.tointeger(tonumber(n))
  if k and n and k >= 1 and k <= n then return {k = k, n = n} end
  return nil
end

local CLI = {
  tool = "run.lua",
  command = "mixup experiments/run.lua",
  positional = {{"experiment", "EXPERIMENT", pattern = "^[%w_]+$",
                 expect = "a name of letters, digits and _"}},
  options = {
    {"scale", "paper|cpu|smoke", required = true},
    {"threads", "N", type = "integer", min = 1},
    {"conv-algo", "A", type = conv_algo, expect = "default, direct, im2col, winograd or auto"},
    {"force"},
    {"out", "DIR", default = "results"},
    {"part", "K/N", type = part, expect = "K/N with 1 <= K <= N"},
    {"data-parallel"},
    {"list"},
  },
  filters = "axis=id",
}

local function usage_error(msg) cli.fail(CLI, msg) end

-- The options of the command line; --help prints the usage line and ends the script.
local function parse(argv)
  local o = cli.parse(CLI, argv)
  if not o then os.exit(0, true) end
  return o
end

local o = parse(arg)
local ok, exp = pcall(require, "experiments." .. o.experiment)
if not ok then
  error(("run.lua: cannot load experiments/%s.lua: %s"):format(o.experiment, exp), 0)
end
grid.check_experiment(exp)
if exp.name ~= o.experiment then
  error(("run.lua: experiments/%s.lua names itself '%s'"):format(o.experiment, exp.name), 0)
end
if not exp.scales[o.scale] then
  local names = {}
  for k in pairs(exp.scales) do names[#names + 1] = k end
  table.sort(names)
  usage_error(("experiment %s has no scale '%s' (scales: %s)"):format(exp.name, o.scale,
              table.concat(names, ", ")))
end
if o.conv_algo == "auto" and o.data_parallel then
  usage_error("--conv-algo auto times each rank's layers on its own and ranks could choose "
              .. "apart; with --data-parallel use default, direct, im2col or winograd")
end
local filters = grid.parse_filters(o.filters, exp, o.scale)
local runs = grid.expand(exp, o.scale, filters)
local grid_runs = runs -- every part's (a task's source models are shared out over them)
if o.part then
  local mine = {}
  for i, r in ipairs(runs) do
    if (i - 1) % o.part.n == o.part.k - 1 then mine[#mine + 1] = r end
  end
  runs = mine
end
if o.list then
  for _, r in ipairs(runs) do print(r.id) end
  return
end
local rank, world = mpi.rank(), mpi.size()
local dp = o.data_parallel and data_parallel.new() or nil
local lead = not dp or dp.leader
if world > 1 and not dp then
  local rotated = {}
  for i = 1, #runs do rotated[i] = runs[(i - 1 + rank) % #runs + 1] end
  runs = rotated
end

local threads = o.threads or nn.get_threads()
nn.set_threads(threads)
if o.conv_algo then nn.set_conv_algo(o.conv_algo) end
local progress = lifecycle.stdout_is_tty()
local command = provenance.command_line(arg)
local note = exp.scales[o.scale].note
local function say(line) if lead then print(line) end end
say(("%s at scale %s: %d runs, %d threads, results in %s/%s%s"):format(exp.name, o.scale,
    #runs, threads, o.out, exp.name,
    dp and (", every run over %d MPI ranks (--data-parallel)"):format(world)
    or world > 1 and (", MPI rank %d of %d"):format(rank, world) or ""))
if mpi.launched() and not mpi.built() then
  print("  launched by an MPI launcher, but this mixup was built without MPI (make MPI=1): "
        .. "each process is a worker on its own; the claims still give every run to one")
elseif o.data_parallel and not dp then
  print("  --data-parallel: this is not an MPI job of 2 or more ranks (mpirun -np R ./mixup "
        .. "...): each run trains in this one process")
end
if note then say("  " .. note) end

local task = tasks.get(exp.schema)
if dp then
  -- every refusal before any run starts, said once (rank 0), every rank ending with status 1
  local ok, err = pcall(function()
    if not task.data_parallel then
      error(("%s: task %s cannot train one run over ranks; run it without --data-parallel")
            :format(exp.name, task.name), 0)
    end
    for _, r in ipairs(runs) do dp:check(r.config, exp.name .. ": " .. r.id) end
  end)
  if not ok then
    if lead then io.stderr:write(tostring(err), "\n") end
    os.exit(1, true)
  end
end
local counts = {done = 0, skipped = 0, diverged = 0, failed = 0, claimed = 0, no_data = 0}
local data_cache = {}
local t0 = sys.clock()
if task.sources and not dp then
  -- A task that reads another experiment's models (Table 5, Figure 2): the absent ones are
  -- trained first, shared between this grid's processes, so that no two evaluations wait on
  -- one model (harness/lua/models.lua). Every process looks at the whole grid (the runs of
  -- the other parts read models too).
  local share = o.part or {k = rank + 1, n = world}
  local ok, trained, absent = pcall(models.prepare, task, grid_runs, {
    out = o.out, threads = threads, command = command, data_cache = data_cache}, share)
  if not ok then
    io.stderr:write(("%s: training a source model failed: %s (the runs that read it will "
                     .. "say so)\n"):format(exp.name, trained))
    io.stderr:flush()
  elseif absent > 0 then
    say(("  %d source model%s absent: %d trained by this process%s"):format(absent,
        absent == 1 and " was" or "s were", trained,
        share.n > 1 and ", the others by the other processes of this grid" or ""))
  end
end
for i, r in ipairs(runs) do
  local ok, status = xpcall(lifecycle.run, lifecycle.error_text, task, r, {
    experiment = exp.name, out = o.out, threads = threads, force = o.force, command = command,
    progress = progress, index = i, total = #runs, data_cache = data_cache, dp = dp})
  if not ok then
    io.stdout:flush()
    io.stderr:write(("[%d/%d] failed %s%s: %s\n"):format(i, #runs, r.id,
                    dp and (" on rank %d"):format(dp.rank) or "", status))
    io.stderr:flush()
    if dp then
      io.stderr:write(("%s: a run trained over ranks failed: ending every rank (rerun the "
                       .. "command to resume from the last checkpoint)\n"):format(exp.name))
      io.stderr:flush()
      mpi.abort(1)
    end
    status = "failed"
  end
  counts[status] = (counts[status] or 0) + 1
  collectgarbage()
end
say(("%s at scale %s: %d done, %d already complete, %d diverged, %d failed, %d claimed by "
     .. "other workers, %d skipped for missing data (%s)")
    :format(exp.name, o.scale, counts.done, counts.skipped, counts.diverged, counts.failed,
            counts.claimed, counts.no_data, lifecycle.duration(sys.clock() - t0)))
if counts.diverged + counts.failed > 0 then
  io.stdout:flush()
  if not lead then os.exit(1, true) end -- rank 0 says why
  error(("%s at scale %s: %d run%s diverged and %d failed (the lines above name them; the "
         .. "other runs are complete)"):format(exp.name, o.scale, counts.diverged,
         counts.diverged == 1 and "" or "s", counts.failed), 0)
end
