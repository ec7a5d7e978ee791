-- data_parallel.lua: one run trained by every rank of an MPI job together (issue 16), as
-- `mpirun -np R ./mixup --threads T experiments/run.lua <table> --data-parallel ...` runs it.
--
-- What a step does on R ranks (tasks/classifier.lua), and why it is the serial run:
--   - Every rank loads the whole batch of n examples (the same loader, seed and epoch: the
--     same order and augmentation) and mixes it with the same draws (the same mixup stream), so
--     the mixed batch is the serial one, partners from the whole batch included.
--   - Rank r takes rows [r S, r S + S) of it, S = batch / R (the last batch of an epoch may
--     leave a rank fewer rows or none). Batch norm must run over groups of G examples
--     (net.bn_group, Goyal et al.'s per-worker batch norm) with S a multiple of G: then a
--     rank's rows are whole groups, each normalised exactly as in the serial run, and the run
--     means the same on any number of ranks. Without bn_group (whole-batch statistics) the
--     run is refused: its meaning would change with R.
--   - The loss of a rank is the mean over its m rows; its dz is weighted by m / n before the
--     backward pass and the gradients are summed over the ranks (one all-reduce of the flat
--     gradient), which is the gradient of the serial loss, the mean over n. Every rank then
--     applies the same SGD update.
--   - Batch norm's running statistics move, serially, by the mean of the groups' updates
--     (harness/nn/batchnorm.c); a rank with k of the batch's K groups weights its statistics
--     by k / K, and a second all-reduce (a few thousand floats) sums them into that mean.
--   (tasks/classifier.lua's split step does this, micro-batches included.)
--   - Loss, correct count and a "not finite" flag are summed in a third, 4-float all-reduce,
--     so every rank sees the same loss and a divergence stops every rank at the same step.
--   - Evaluation: rank r evaluates the batches i with (i - 1) % R == r; loss and error counts
--     are summed over the ranks.
-- The sums run in another order than one process's, so the bits differ from the serial run
-- (within float tolerance: tests/e2e/test_mpi_dp.lua) and depend on R, as on the thread
-- count: the rank count is recorded in the provenance and checkpoints, and a resume with
-- another count is refused (harness/lua/lifecycle.lua).
-- The per-worker loader of the issue (each rank mixing within its own shard) was not chosen:
-- its partners would depend on R, so the run would too.
-- Refused: dropout (its masks are drawn per batch from one stream) and latent mixing (the
-- mix layer plans over the whole batch).
--
-- Roles: rank 0 leads. It alone checks the existing result, claims the run, resumes (the
-- others restore the checkpoint it validated), logs, and writes checkpoints and results; its
-- decisions reach the others through M.share. A run that fails on any rank ends the whole
-- job (experiments/run.lua calls mpi.abort): the others would wait in a collective forever.
--
--   local dp = data_parallel.new()        -- nil outside an MPI world of 2 or more ranks
--   dp.rank, dp.size, dp.leader           -- 0-based rank, world size, rank == 0
--   dp:check(cfg, where)                  -- raises the refusals above, one line each, and
--                                         -- sets the run's rows per rank, S = batch / R
--   dp:rows(n) -> first, count            -- this rank's rows of a batch of n (first 0-based)
--   dp:sum(t)                             -- t <- its sum over the ranks (engine.mpi.allreduce)
--   dp:share(x) -> x                      -- rank 0's number (an integer < 2^24) on every rank
--   dp:any(b) -> bool                     -- whether b is true on any rank
--   dp:mine(i) -> bool                    -- whether evaluation batch i (1-based) is this rank's
--   dp.comm_seconds                       -- wall time spent in dp:sum since the last reset
-- Non-goals: MPI itself (harness/train/dist.c), bucketed or overlapped all-reduce (on one host
-- it is 0.4 ms of a 221 ms step: README "Beyond one process", which also models clusters).

local mpi = require "engine.mpi"
local sys = require "engine.sys"
local tensor = require "engine.tensor"

local M = {}

local Dp = {}
Dp.__index = Dp

function M.new()
  if not (mpi.launched() and mpi.built()) or mpi.size() < 2 then return nil end
  local rank = mpi.rank()
  return setmetatable({rank = rank, size = mpi.size(), leader = rank == 0,
                       one = tensor.new(1), comm_seconds = 0.0}, Dp)
end

local function refuse(where, fmt, ...)
  error(("%s: --data-parallel over %s"):format(where, fmt:format(...)), 0)
end

function Dp:check(cfg, where)
  local r, batch, net = self.size, cfg.batch, cfg.net
  local ranks = ("%d ranks"):format(r)
  if batch % r ~= 0 then
    refuse(where, "%s needs a batch that %d divides, the recipe has batch %d; launch a rank "
           .. "count that divides it", ranks, r, batch)
  end
  local s, g = batch // r, net.bn_group
  if math.type(g) ~= "integer" or g < 1 then
    refuse(where, "%s needs batch norm over groups (net.bn_group = G with %d a multiple of G, "
           .. "e.g. %d), so that the run means the same on any number of ranks; this recipe "
           .. "normalises over the whole batch: set net.bn_group in it", ranks, s, s)
  end
  if s % g ~= 0 then
    refuse(where, "%s gives each rank %d examples, not a multiple of net.bn_group = %d; "
           .. "launch a rank count with batch / ranks a multiple of %d", ranks, s, g, g)
  end
  if (net.dropout or 0) > 0 then
    refuse(where, "%s cannot reproduce dropout's masks (net.dropout = %g); run it as one "
           .. "process", ranks, net.dropout)
  end
  if (net.mix_at or 0) > 0 then
    refuse(where, "%s cannot split latent mixing (net.mix_at = %d); run it as one process",
           ranks, net.mix_at)
  end
  self.shard = s
end

function Dp:rows(n)
  local s = assert(self.shard, "data_parallel: rows before check")
  local first = math.min(n, self.rank * s)
  return first, math.min(n, first + s) - first
end

function Dp:sum(t)
  local t0 = sys.clock()
  mpi.allreduce(t)
  self.comm_seconds = self.comm_seconds + (sys.clock() - t0)
  return t
end

function Dp:share(x)
  local one = self.one
  one:set(self.leader and x or 0, 1)
  mpi.allreduce(one)
  return math.tointeger(one:get(1)) or one:get(1)
end

function Dp:any(b)
  local one = self.one
  one:set(b and 1 or 0, 1)
  mpi.allreduce(one)
  return one:get(1) > 0
end

function Dp:mine(i)
  return (i - 1) % self.size == self.rank
end

return M
