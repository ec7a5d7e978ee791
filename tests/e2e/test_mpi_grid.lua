-- test_mpi_grid.lua: a grid spread over MPI ranks (issue 16), as `mpirun -np 2 ./mixup
-- --threads 1 experiments/run.lua table2_cifar --scale smoke` runs it: engine.mpi's all-reduce
-- sums over 2 ranks, every CIFAR-10 run of the smoke grid is trained by exactly one rank (the
-- claims of harness/lua/lifecycle.lua; the two closing lines' "done" add up to the grid), and
-- a run's weights equal, bit for bit, those of one process at the same thread count. Skips
-- (counted) when the binary was built without MPI or mpirun is absent (`make setup` installs
-- OpenMPI). Needs the CIFAR-10 files (`make data`). Run as `./mixup tests/e2e/test_mpi_grid.lua`.
local check = require "tests.lua.check"
local grid = require "harness.lua.grid"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local EXPERIMENT = "table2_cifar"
local SCALE = "smoke"
local FILTER = "dataset=cifar10" -- the cells whose data `make data` fetches
local OUT = os.tmpname()
os.remove(OUT)
local LOG = OUT .. ".log"
local slurp = check.slurp

-- mpirun refuses root unless told; --oversubscribe: more ranks than free cores is fine here
local MPIRUN = check.mpirun(2)
local usable = check.mpi_usable

suite:test("allreduce_over_two_ranks", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local probe = OUT .. ".probe.lua"
  check.spit(probe, [[
local mpi = require "engine.mpi"
local tensor = require "engine.tensor"
local r, n = mpi.rank(), mpi.size()
local t = tensor.from_table({r + 1, 0.5 * r, -2}, {3})
mpi.allreduce(t)
mpi.barrier()
print(("rank %d of %d: %g %g %g"):format(r, n, t:get(1), t:get(2), t:get(3)))
]])
  local ran = os.execute(("%s %s --threads 1 %s > %s 2>&1"):format(MPIRUN, EXE, probe, LOG))
  local text = slurp(LOG)
  os.remove(probe)
  check.truthy(ran == true, "mpirun failed:\n" .. text)
  for r = 0, 1 do
    check.truthy(text:find(("rank %d of 2: 3 0.5 -4"):format(r), 1, true),
                 "rank " .. r .. " has the sums:\n" .. text)
  end
end)

suite:test("grid_over_two_ranks", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local exp = require("experiments." .. EXPERIMENT)
  local runs = grid.expand(exp, SCALE, grid.parse_filters({FILTER}, exp, SCALE))
  local ran = os.execute(("%s %s --threads 1 experiments/run.lua %s --scale %s --out %s %s > "
                          .. "%s 2>&1"):format(MPIRUN, EXE, EXPERIMENT, SCALE, OUT, FILTER, LOG))
  local text = slurp(LOG)
  check.truthy(ran == true, "mpirun run.lua failed:\n" .. text)
  check.truthy(text:find("MPI rank 0 of 2", 1, true) and text:find("MPI rank 1 of 2", 1, true),
               "both ranks are workers:\n" .. text)
  local done, seen = 0, 0
  for d in text:gmatch(": (%d+) done, ") do
    done = done + tonumber(d)
    seen = seen + 1
  end
  check.eq(seen, 2, "two closing lines")
  check.eq(done, #runs, "every run trained exactly once:\n" .. text)
  local trained = 0
  for _ in text:gmatch("%] done ") do trained = trained + 1 end
  check.eq(trained, #runs, "one \"done\" line per run over both ranks:\n" .. text)
  for _, r in ipairs(runs) do
    check.truthy(results.read_run(lifecycle.paths(OUT, EXPERIMENT, r.id), {weights = false}),
                 r.id .. " is complete")
  end
  -- the last run of the grid again, in one process at 1 thread: the same bits
  local r = runs[#runs]
  local filters = {}
  for axis, id in pairs(r.levels) do filters[#filters + 1] = axis .. "=" .. id end
  local one = OUT .. "/one"
  ran = os.execute(("%s --threads 1 experiments/run.lua %s --scale %s --out %s %s > %s 2>&1")
                   :format(EXE, EXPERIMENT, SCALE, one, table.concat(filters, " "), LOG))
  check.truthy(ran == true, "one process failed:\n" .. slurp(LOG))
  local a = results.read_run(lifecycle.paths(OUT, EXPERIMENT, r.id))
  local b = results.read_run(lifecycle.paths(one, EXPERIMENT, r.id))
  check.same_bits(a.weights.params, b.weights.params, r.id .. ": MPI rank = one process")
end)

sys.remove_tree(OUT)
os.remove(LOG)
suite:finish()
