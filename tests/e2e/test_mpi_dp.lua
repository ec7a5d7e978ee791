-- test_mpi_dp.lua: one run trained by 2 MPI ranks together (issue 16, --data-parallel;
-- harness/lua/data_parallel.lua), against the same run in one process:
--   - 2 ranks x 8 rows equal one process with batch 16, batch norm in groups of 4 and the
--     same data order and mixup draws, to float tolerance over 3 epochs (9 SGD steps; the last
--     batch of each epoch leaves rank 1 a single group, and the evaluation's odd batch count
--     gives the ranks unequal shares);
--   - a data-parallel run stopped after one epoch resumes to the bits of an uninterrupted one;
--     its checkpoint is refused by one process (another rank count);
--   - rank 1 killed mid-run ends the job, leaves no results file, and the command resumes to
--     the bits of an uninterrupted run;
--   - a diverging run stops every rank at the same step, rank 0 writing the record;
--   - run.lua --data-parallel refuses a recipe without net.bn_group in one line, before any
--     run starts, every rank ending with a non-zero status.
-- Tolerance: the ranks' gradients are summed in another order than one process's GEMMs, and
-- batch norm's running statistics are a weighted sum of the ranks' instead of a mean over
-- groups: float32 rounding (~1e-7 relative) per sum, grown by 9 steps of SGD with momentum.
-- Measured: ~1e-6 relative on the weights (see the log line); accepted: 1e-4. A wrong
-- weighting (gradients summed, not averaged; statistics summed) is off by order 1.
-- Skips (counted) without MPI or mpirun, like test_mpi_grid.lua. Synthetic data: no CIFAR.
local check = require "tests.lua.check"
local checkpoint = require "harness.lua.checkpoint"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local OUT = os.tmpname()
os.remove(OUT)
assert(sys.mkdir_p(OUT))
local LOG = OUT .. "/log"
local PROBE = OUT .. "/probe.lua"
local RTOL = 1e-4
local POLL_S = 0.02 -- seconds between looks at the killed job
local WAIT_S = 60   -- at most this long for each thing it waits for
local slurp = check.slurp

local MPIRUN = check.mpirun(2)
local usable = check.mpi_usable

-- The worker: trains run "dp-run" of a small synthetic recipe through the lifecycle, over
-- the ranks when launched by mpirun (arg: results root, units to stop after or "-", base
-- learning rate or "-" for 0.05, epochs or nothing for 3). Each rank writes its pid to
-- <results root>.pid<rank>.
check.spit(PROBE, [[
local config = require "harness.lua.config"
local data_parallel = require "harness.lua.data_parallel"
local lifecycle = require "harness.lua.lifecycle"
local mpi = require "engine.mpi"
local tasks = require "harness.lua.tasks"
local task = tasks.get("image_classification")
local f = assert(io.open(arg[1] .. ".pid" .. mpi.rank(), "w"))
f:write(require("engine.sys").pid(), "\n")
f:close()
local cfg = config.validate({
  scale = "test", dataset = "cifar10", seed = 5, epochs = tonumber(arg[4]) or 3, batch = 16,
  eval_batch = 10,
  net = {family = "preact_resnet", variant = "official", depth = 18, width = 4,
         num_classes = 10, init = "torch_default", bn_group = 4},
  -- 44 = 16 + 16 + 12: the last batch gives rank 0 two groups and rank 1 one;
  -- 25 test images: evaluation batches 1 and 3 on rank 0, 2 on rank 1
  data = {source = "synthetic", train_examples = 44, test_examples = 25, subset_seed = 0,
          augment = true, pad = 4, flip = true, mean = {0.5, 0.5, 0.5},
          std = {0.25, 0.25, 0.25}},
  mixup = {alpha = 1, per_example = false},
  optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
           decay_all_params = true},
  schedule = {base_lr = tonumber(arg[3]) or 0.05, factor = 0.1, milestones = {2},
              lr_drop_late = false},
}, task.schema)
local dp = data_parallel.new()
local ok, status = xpcall(lifecycle.run, lifecycle.error_text, task, {id = "dp-run",
  config = cfg}, {experiment = "dp", out = arg[1], threads = 1, command = "test_mpi_dp",
  dp = dp, stop_after = tonumber(arg[2])})
if not ok then
  io.stderr:write("failed: ", tostring(status), "\n")
  mpi.abort(1)
  os.exit(1)
end
print(("rank %d: %s"):format(dp and dp.rank or 0, status))
]])

-- Runs the worker (over 2 ranks when mpi), returning whether it succeeded and its output.
local function command(out, mpi_ranks, stop, lr, epochs)
  return ("%s %s --threads 1 %s %s %s %s %s"):format(mpi_ranks and MPIRUN or "", EXE, PROBE,
         out, stop or "-", lr or "-", epochs or "")
end

local function train(out, mpi_ranks, stop, lr, epochs)
  local cmd = command(out, mpi_ranks, stop, lr, epochs) .. " > " .. LOG .. " 2>&1"
  local ok = os.execute(cmd)
  return ok == true, slurp(LOG)
end

local function weights(out)
  return assert(results.read_run(lifecycle.paths(out, "dp", "dp-run")))
end

suite:test("two_ranks_equal_one_process", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local ran, text = train(OUT .. "/serial", false)
  check.truthy(ran, "one process:\n" .. text)
  ran, text = train(OUT .. "/dp", true)
  check.truthy(ran, "two ranks:\n" .. text)
  check.truthy(text:find("rank 0: done", 1, true) and text:find("rank 1: done", 1, true),
               "both ranks trained it:\n" .. text)
  check.truthy(text:find("on each of 2 ranks", 1, true), "rank 0 logs the run:\n" .. text)
  local _, logged = text:gsub("%] run dp%-run", "")
  check.eq(logged, 1, "only rank 0 logs")
  local a, b = weights(OUT .. "/dp"), weights(OUT .. "/serial")
  check.eq(a.provenance.ranks, 2, "provenance: ranks")
  check.eq(b.provenance.ranks, 1, "provenance: one process")
  local err = check.close(a.weights.params, b.weights.params, RTOL, "params")
  check.close(a.weights.buffers, b.weights.buffers, RTOL, "BN running statistics")
  for e = 1, 3 do
    for _, c in ipairs{"train_loss", "train_error", "test_loss", "test_error"} do
      check.near(a.curves[c][e], b.curves[c][e], RTOL, ("epoch %d %s"):format(e, c))
    end
  end
  print(("  2 ranks vs 1 process: weights differ by %.2g relative"):format(err))
end)

suite:test("resume_over_ranks", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local out = OUT .. "/stopped"
  local ran, text = train(out, true, 1)
  check.truthy(ran and text:find("rank 0: stopped", 1, true)
               and text:find("rank 1: stopped", 1, true), "stopped after 1 epoch:\n" .. text)
  local _, ckpt = lifecycle.paths(out, "dp", "dp-run")
  check.truthy(check.exists(ckpt), "checkpoint left")
  -- one process refuses the checkpoint of 2 ranks, and leaves it
  ran, text = train(out, false)
  check.truthy(not ran and text:find("the checkpoint was written by 2 ranks, this job has 1",
                                     1, true), "another rank count refused:\n" .. text)
  check.truthy(check.exists(ckpt), "the refused checkpoint is left in place")
  ran, text = train(out, true)
  check.truthy(ran and text:find("resuming dp-run: 1 of 3 epochs done", 1, true),
               "resumed over 2 ranks:\n" .. text)
  local whole = OUT .. "/dp"
  if not check.exists(lifecycle.paths(whole, "dp", "dp-run")) then
    ran, text = train(whole, true)
    check.truthy(ran, "uninterrupted:\n" .. text)
  end
  check.same_bits(weights(out).weights.params, weights(whole).weights.params,
                  "stopped and resumed = uninterrupted")
  check.same_bits(weights(out).weights.buffers, weights(whole).weights.buffers,
                  "BN running statistics")
end)

-- kill -9 of rank 1 mid-run: mpirun ends rank 0 too, no results file is left, and the same
-- command resumes from rank 0's last checkpoint to the bits of an uninterrupted run.
suite:test("killed_rank_ends_the_job_and_resumes", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local epochs = 200 -- ~4 s on 2 ranks: time to kill after the first checkpoints
  local out, whole = OUT .. "/killed", OUT .. "/whole"
  local path, ckpt = lifecycle.paths(out, "dp", "dp-run")
  local p = assert(io.popen(command(out, true, nil, nil, epochs) .. " > " .. LOG
                            .. " 2>&1 & echo $!"))
  local job = math.tointeger(tonumber(p:read("l")))
  p:close()
  local function wait(cond, what)
    for _ = 1, WAIT_S / POLL_S do
      if cond() then return end
      os.execute("sleep " .. POLL_S)
    end
    error(what .. ":\n" .. slurp(LOG), 0)
  end
  wait(function() return check.exists(ckpt) and check.exists(out .. ".pid1") end,
       "no checkpoint from the job")
  local pids = {math.tointeger(tonumber(slurp(out .. ".pid0"))),
                math.tointeger(tonumber(slurp(out .. ".pid1")))}
  os.execute("kill -9 " .. pids[2])
  wait(function() return not check.proc_alive(job) end, "mpirun did not end")
  check.truthy(not check.proc_alive(pids[1]), "rank 0 ended with the job")
  check.truthy(not check.exists(path), "no results file (the job ended before the last epoch)")
  local done = assert(checkpoint.read(ckpt)).done
  check.truthy(done >= 1 and done < epochs, "killed mid-run: " .. done .. " epochs done")
  print(("  rank 1 killed after %d of %d epochs"):format(done, epochs))
  local ran, text = train(out, true, nil, nil, epochs)
  check.truthy(ran and text:find(("resuming dp-run: %d of %d epochs done"):format(done, epochs),
                                 1, true), "resumed over 2 ranks:\n" .. text)
  ran, text = train(whole, true, nil, nil, epochs)
  check.truthy(ran, "uninterrupted:\n" .. text)
  check.same_bits(weights(out).weights.params, weights(whole).weights.params,
                  "killed and resumed = uninterrupted")
end)

-- A loss that is not finite stops every rank at the same step; rank 0 writes the record.
suite:test("divergence_over_ranks", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local out = OUT .. "/diverged"
  local ran, text = train(out, true, nil, 1e6)
  check.truthy(ran and text:find("rank 0: diverged", 1, true)
               and text:find("rank 1: diverged", 1, true), "both ranks stop:\n" .. text)
  local d = assert(require("harness.lua.diverged").read(lifecycle.paths(out, "dp", "dp-run")))
  check.eq(d.provenance.ranks, 2, "the record names the ranks")
  check.truthy(d.detail:find("not finite", 1, true), "detail: " .. d.detail)
end)

suite:test("recipe_without_bn_group_refused", function()
  local ok, why = usable()
  if not ok then return check.skip(why) end
  local out = OUT .. "/refused"
  local ran = os.execute(("%s %s --threads 1 experiments/run.lua table2_cifar --scale smoke "
                          .. "--out %s --data-parallel dataset=cifar10 > %s 2>&1")
                         :format(MPIRUN, EXE, out, LOG))
  local text = slurp(LOG)
  check.truthy(ran ~= true, "refused with a non-zero status:\n" .. text)
  local _, said = text:gsub("needs batch norm over groups %(net.bn_group", "")
  check.eq(said, 1, "one line, from rank 0 only:\n" .. text)
  check.truthy(not text:find("stack traceback", 1, true), "no traceback:\n" .. text)
  check.truthy(not sys.isdir(out .. "/table2_cifar"), "no run started")
end)

sys.remove_tree(OUT)
suite:finish()
