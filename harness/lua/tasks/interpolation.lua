-- tasks/interpolation.lua: Figure 2 of the mixup paper (v1 p.4; PAPER_FACTS.md section 10):
-- an ERM and a mixup model of one recipe and seed evaluated between random pairs of training
-- images, x~ = lambda x_i + (1 - lambda) x_j for lambda on a grid of [0, 1] (harness/metrics/
-- interp.h): (a) the "miss" rate, the fraction of pairs whose prediction at x~ is neither y_i
-- nor y_j; (b) the norm of the input gradient of the loss at x~. Config schema
-- "interpolation_eval", results schema "mixup-repro/interp-eval".
--
-- The models come from another experiment's results (harness/lua/models.lua: found by run id,
-- trained first when absent). The pairs: `pairs` draws of two different examples, uniform over
-- the models' own training set (the un-augmented images, normalised as in training, with their
-- labels), from the engine's generator seeded by `pair_seed` (stream "subset"), the same for
-- every lambda and both models. Unverified in the paper and so options here: the number of
-- pairs, the loss's target in (b) (`target`: "mixed", the mixup target lambda y_i + (1 -
-- lambda) y_j, the default; or "heavier"), and the input units (the net's normalised inputs).
--
-- Units: one per lambda. Curves: unit, lambda, then for m in erm, mixup: m_miss (percent of the
-- pairs), m_gnorm (mean over pairs) and m_gnorm_sd (their sample sd), and seconds.
-- Non-goals: the plot and the report's section (to come, with Table 5's report beside it).

local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local config = require "harness.lua.config"
local models = require "harness.lua.models"
local results = require "harness.lua.results"
local sources = require "harness.lua.sources"
local stats = require "harness.lua.stats"

local M = {}

M.name = "interpolation"
M.unit = "lambda"
M.checkpoint_every = 1
M.divergence_fix = "none: an evaluation cannot diverge"
M.SCHEMA_RUN = "mixup-repro/interp-eval"
M.FORMAT_VERSION = 1
M.STATUS_COMPLETE = "complete"
M.MODELS = {"erm", "mixup"}
M.MODEL_ROLES = M.MODELS
M.curves = {"unit", "lambda"}
for _, m in ipairs(M.MODELS) do
  for _, k in ipairs{"_miss", "_gnorm", "_gnorm_sd"} do M.curves[#M.curves + 1] = m .. k end
end
M.curves[#M.curves + 1] = "seconds"

local I, S, L, R = config.integer, config.string, config.list, config.record

M.schema = R{
  scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
  seed = I{min = 0},          -- the models' seed (ERM and mixup)
  source = R{experiment = S(), scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
             dataset = S(), net = S(), erm = S(), mixup = S()},
  lambdas = L{min = 0},       -- in [0, 1], checked by the engine
  pairs = I{min = 1},
  pair_seed = I{min = 0},
  target = S{one_of = {"mixed", "heavier"}},
  eval_batch = I{min = 1},
}

function M.available(cfg)
  return models.available(cfg.source, cfg.source.erm, cfg.seed)
end

-- the models a run reads: {source, method, seed} each (models.prepare trains absent ones)
function M.sources(cfg)
  local src = cfg.source
  return {{src, src.erm, cfg.seed}, {src, src.mixup, cfg.seed}}
end

function M.units(cfg) return #cfg.lambdas end

function M.build(cfg, env)
  local st = {cfg = cfg}
  st.erm = models.load(cfg.source, cfg.source.erm, cfg.seed, env, cfg.eval_batch)
  st.mixup = models.load(cfg.source, cfg.source.mixup, cfg.seed, env, cfg.eval_batch)
  local mc = st.erm.config
  local train_set = sources.load(mc, env.data_cache)
  local n = train_set:size()
  if n < 2 then error("interpolation: the training set has fewer than 2 images", 0) end
  local rng = train.rng(cfg.pair_seed, train.stream.subset)
  local ia, ib = {}, {}
  for p = 1, cfg.pairs do
    local i, j = rng:below(n) + 1, rng:below(n - 1) + 1
    if j >= i then j = j + 1 end -- two different examples, uniform
    ia[p], ib[p] = i, j
  end
  -- the pairs in batches of eval_batch: {xi, xj, yi, yj}
  local norm = {mean = mc.data.mean, std = mc.data.std}
  st.batches = {}
  for first = 1, cfg.pairs, cfg.eval_batch do
    local last = math.min(first + cfg.eval_batch - 1, cfg.pairs)
    local a, b = table.move(ia, first, last, 1, {}), table.move(ib, first, last, 1, {})
    local xi, yi = train_set:assemble(a, norm)
    local xj, yj = train_set:assemble(b, norm)
    st.batches[#st.batches + 1] = {xi = xi, xj = xj, yi = yi, yj = yj, n = last - first + 1,
                                   xm = tensor.new(xi:shape())}
  end
  return st
end

function M.describe(st, cfg)
  return ("%d training pairs at %d values of lambda (target %s): ERM %s, mixup %s"):format(
         cfg.pairs, #cfg.lambdas, cfg.target, st.erm.id, st.mixup.id)
end

function M.step(st, u, _)
  local cfg = st.cfg
  local t0 = sys.clock()
  local lambda = cfg.lambdas[u + 1]
  local row = {unit = u + 1.0, lambda = lambda}
  for _, m in ipairs(M.MODELS) do
    local net, misses, norms = st[m].net, 0, {}
    for _, b in ipairs(st.batches) do
      local miss, gnorm = net:interpolate(b.xm, b.xi, b.xj, b.yi, b.yj, lambda,
                                          {target = cfg.target})
      for i = 1, b.n do
        if miss[i] then misses = misses + 1 end
        norms[#norms + 1] = gnorm[i]
      end
    end
    local mean, sd = stats.mean_sd(norms)
    row[m .. "_miss"] = 100.0 * misses / cfg.pairs
    row[m .. "_gnorm"] = mean
    row[m .. "_gnorm_sd"] = sd or 0.0
  end
  row.seconds = sys.clock() - t0
  return row, ("lambda %.2f: miss ERM %.1f%% mixup %.1f%%, gradient norm ERM %.4f mixup %.4f, "
               .. "%.1fs"):format(lambda, row.erm_miss, row.mixup_miss, row.erm_gnorm,
               row.mixup_gnorm, row.seconds)
end

function M.state(_) return {datasets = {}} end
function M.restore(_, _) end

function M.result(st, r)
  return models.result_tree(M, st, r, {units = #r.curves.unit, pairs = r.config.pairs,
                                       seconds = r.seconds})
end

function M.read_result(path)
  return models.read_result(M, path, "an interpolation-evaluation file")
end

function M.summary_line(s)
  return ("%d values of lambda over %d pairs"):format(s.units, s.pairs)
end

function M.scan(dir) return results.scan_schema(dir, M.SCHEMA_RUN, M.read_result) end

return M
