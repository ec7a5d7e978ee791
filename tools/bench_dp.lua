-- bench_dp.lua: the speed of data-parallel training over MPI ranks (issue 16), for
-- `make bench-mpi` (tools/bench_dp.sh) or by hand:
--
--   [mpirun -np R] ./mixup --threads T tools/bench_dp.lua NET [EPOCHS]
--   mpirun -np R ./mixup --threads 1 tools/bench_dp.lua allreduce MIB
--
-- NET: a net level of experiments/table2_cifar.lua (preact_resnet18, wrn28_10); its cpu
-- recipe (CIFAR-10, 2,500 training and 2,000 test images, batch 128, mixup) with batch norm in
-- groups of 64 (so that 1 and 2 ranks train the same run), EPOCHS epochs (default 3), nothing
-- written. Per epoch, rank 0 prints the wall seconds of training and of one evaluation of the
-- test set, training images per second, and the seconds spent in the all-reduces (waiting
-- for the slower rank included) per step. The first epoch pays for first touches of memory:
-- read the last. `allreduce MIB` times the float32 sum of MIB MiB over the ranks (5 times,
-- the best kept) and prints the algorithm bandwidth, size / time.
-- Not a test: nothing passes or fails on a number. Needs CIFAR-10 (make data).

local data_parallel = require "harness.lua.data_parallel"
local grid = require "harness.lua.grid"
local mpi = require "engine.mpi"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local classifier = require "harness.lua.tasks.classifier"

local what, count = arg[1], tonumber(arg[2])
if not what then
  io.stderr:write("usage: [mpirun -np R] ./mixup --threads T tools/bench_dp.lua NET [EPOCHS] "
                  .. "| allreduce MIB\n")
  os.exit(2)
end
local rank, ranks = mpi.rank(), mpi.size()

if what == "allreduce" then
  local n = math.floor((count or 100) * 1048576 / 4)
  local t = tensor.new(n)
  t:fill(1)
  local best = math.huge
  for _ = 1, 5 do
    mpi.barrier()
    local t0 = sys.clock()
    mpi.allreduce(t)
    best = math.min(best, sys.clock() - t0)
  end
  if rank == 0 then
    print(("bench_dp allreduce ranks=%d mib=%g seconds=%.4f gb_per_s=%.2f"):format(ranks,
          n * 4 / 1048576, best, n * 4 / best / 1e9))
  end
  return
end

local epochs = math.tointeger(count or 3)
local exp = require "experiments.table2_cifar"
local filters = grid.parse_filters({"dataset=cifar10", "net=" .. what, "method=mixup_a1",
                                    "seed=1"}, exp, "cpu")
local cfg = grid.expand(exp, "cpu", filters)[1].config
cfg.net.bn_group = cfg.batch // 2
cfg.epochs = epochs
local dp = data_parallel.new()
if dp then dp:check(cfg, "bench_dp") end
local threads = nn.get_threads()
local st = classifier.build(cfg, {threads = threads, data_cache = {}, dp = dp})
local steps = st.train_ld:batches()
local ctx = {progress = false, diverged = function(d) error("diverged: " .. d, 0) end}
for e = 0, epochs - 1 do
  local row = classifier.step(st, e, ctx)
  local comm = dp and dp.comm_seconds or 0.0
  local t0 = sys.clock()
  classifier.evaluate(st)
  local eval_s = sys.clock() - t0
  local train_s = row.seconds - eval_s
  if rank == 0 then
    print(("bench_dp net=%s ranks=%d threads=%d epoch=%d train_seconds=%.2f "
           .. "eval_seconds=%.2f train_img_per_s=%.1f allreduce_ms_per_step=%.2f params=%d")
          :format(what, ranks, threads, e + 1, train_s, eval_s, st.train_set:size() / train_s,
                  1000 * comm / steps, st.n_params))
  end
end
