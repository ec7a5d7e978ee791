-- run.lua: the command-line entry of every experiment grid.
--
--   ./mixup experiments/run.lua EXPERIMENT --scale SCALE [--threads N] [--force]
--           [--out DIR] [--list] [axis=id[,id...] ...]
--
--   EXPERIMENT   a script experiments/<EXPERIMENT>.lua (e.g. table2_cifar)
--   --scale      paper | cpu | smoke (the experiment's recipes; no default: the Makefile's
--                SCALE ?= cpu chooses for `make reproduce-table2`)
--   --threads N  OpenMP/OpenBLAS threads (default: the host's --threads / MIXUP_THREADS)
--   --force      rerun runs whose results file is complete, from scratch
--   --out DIR    results root (default "results"): files go to DIR/<experiment>/<run-id>.h5
--   --list       print the run ids the grid expands to and stop
--   axis=id      filters, e.g. net=preact_resnet18 seed=1 method=erm,mixup_a1
--
-- Runs go in grid order, one at a time, each through the one run lifecycle
-- (harness/lua/lifecycle.lua) with the task of the experiment's schema (harness/lua/tasks.lua);
-- complete ones are skipped, interrupted ones resume from their checkpoint. A run whose data
-- are absent (e.g. CIFAR-100 before `make data-cifar100`) is skipped with a message saying
-- so (task.available); any other error stops everything with a non-zero exit status
-- (rerunning the same command picks up where it stopped).

local nn = require "engine.nn"
local sys = require "engine.sys"
local grid = require "harness.lua.grid"
local provenance = require "harness.lua.provenance"
local lifecycle = require "harness.lua.lifecycle"
local tasks = require "harness.lua.tasks"

local USAGE = "usage: mixup experiments/run.lua EXPERIMENT --scale paper|cpu|smoke "
              .. "[--threads N] [--force] [--out DIR] [--list] [axis=id ...]"
local DEFAULT_OUT = "results"

local function usage_error(msg)
  error(("run.lua: %s\n%s"):format(msg, USAGE), 0)
end

local function parse(argv)
  local o = {filters = {}, force = false, list = false, out = DEFAULT_OUT}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local function value()
      if argv[i + 1] == nil then usage_error(("option %s needs a value"):format(a)) end
      i = i + 1
      return argv[i]
    end
    if a == "--scale" then
      o.scale = value()
    elseif a == "--threads" then
      local v = value()
      o.threads = math.tointeger(tonumber(v))
      if not o.threads or o.threads < 1 then
        usage_error(("--threads is '%s', expected an integer >= 1"):format(v))
      end
    elseif a == "--force" then
      o.force = true
    elseif a == "--list" then
      o.list = true
    elseif a == "--out" then
      o.out = value()
    elseif a == "--help" or a == "-h" then
      print(USAGE)
      os.exit(0)
    elseif a:sub(1, 1) == "-" then
      usage_error(("unknown option '%s'"):format(a))
    elseif a:find("=", 1, true) then
      o.filters[#o.filters + 1] = a
    elseif o.experiment == nil then
      o.experiment = a
    else
      usage_error(("unexpected argument '%s'"):format(a))
    end
    i = i + 1
  end
  if not o.experiment then usage_error("no experiment given") end
  if not o.experiment:match("^[%w_]+$") then
    usage_error(("experiment '%s' is not a name of letters, digits and _"):format(o.experiment))
  end
  if not o.scale then usage_error("--scale is required") end
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
local filters = grid.parse_filters(o.filters, exp, o.scale)
local runs = grid.expand(exp, o.scale, filters)
if o.list then
  for _, r in ipairs(runs) do print(r.id) end
  return
end

local threads = o.threads or nn.get_threads()
nn.set_threads(threads)
local progress = lifecycle.stdout_is_tty()
local command = provenance.command_line(arg)
local note = exp.scales[o.scale].note
print(("%s at scale %s: %d runs, %d threads, results in %s/%s"):format(exp.name, o.scale,
      #runs, threads, o.out, exp.name))
if note then print("  " .. note) end

local task = tasks.get(exp.schema)
local counts = {done = 0, skipped = 0, no_data = 0}
local data_cache = {}
local t0 = sys.clock()
for i, r in ipairs(runs) do
  local status = lifecycle.run(task, r, {experiment = exp.name, out = o.out, threads = threads,
                                         force = o.force, command = command,
                                         progress = progress, index = i, total = #runs,
                                         data_cache = data_cache})
  counts[status] = (counts[status] or 0) + 1
  collectgarbage()
end
print(("%s at scale %s: %d done, %d already complete, %d skipped for missing data (%s)")
      :format(exp.name, o.scale, counts.done, counts.skipped, counts.no_data,
              lifecycle.duration(sys.clock() - t0)))
