-- tasks/adversarial.lua: Table 5's protocol (the mixup paper, section 3.5; PAPER_FACTS.md
-- section 6) on models another experiment trained: config schema "adversarial_eval", results
-- schema "mixup-repro/attack-eval". One run evaluates one triple of models of one recipe: ERM
-- seed a (the attacker), ERM seed b (a second ERM model) and mixup seed a.
--   white box   ERM a attacks itself; mixup a attacks itself
--   black box   the examples made on ERM a are fed to ERM b and to mixup a
-- for FGSM and I-FGSM (harness/metrics/attack.h: untargeted, on the true label, evaluation
-- mode, eps in 0-255 pixel units through the models' normalisation, I-FGSM `ifgsm_iters`
-- steps of eps / iters projected onto the eps-ball and the pixel range) at every eps of the
-- config, on the models' own test set, with top-1 and top-5 error.
--
-- The models are the source experiment's runs (source.experiment at source.scale, its grid
-- filtered by source.dataset, source.net, the method ids source.erm / source.mixup and the
-- seeds), read from the results folder of this run; a model that is not there is trained
-- first through the one lifecycle (harness/lua/models.lua; so `make reproduce-table5` after
-- `make reproduce-table2` retrains nothing). The results file names each model's run id and
-- the MD5 of its results file (as `md5sum` prints it), so an evaluation is tied to the exact
-- weights.
--
-- Units: 2 per eps, in config order, FGSM then I-FGSM. Curves (one entry per unit): unit, eps,
-- iters, then the percent errors <where>_top1 / <where>_top5 for where in CLEAN (clean_erm,
-- clean_erm_b, clean_mixup: the same every unit, kept per unit so that a curve is complete) and
-- ATTACKED (white_erm, white_mixup, black_erm_b, black_mixup), and seconds.
-- Checkpoints hold only the curves: every unit is a deterministic function of the models.
-- Non-goals: the report's ratios and verdicts (harness/lua/table5_report.lua, to come), Figure 2.

local data = require "engine.data"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local config = require "harness.lua.config"
local models = require "harness.lua.models"
local results = require "harness.lua.results"
local sources = require "harness.lua.sources"

local M = {}

M.name = "adversarial"
M.unit = "attack"
M.checkpoint_every = 1
M.divergence_fix = "none: an attack evaluation cannot diverge"
M.SCHEMA_RUN = "mixup-repro/attack-eval"
M.FORMAT_VERSION = 1
M.STATUS_COMPLETE = "complete"
M.CLEAN = {"clean_erm", "clean_erm_b", "clean_mixup"}
M.ATTACKED = {"white_erm", "white_mixup", "black_erm_b", "black_mixup"}
M.curves = {"unit", "eps", "iters"}
for _, group in ipairs{M.CLEAN, M.ATTACKED} do
  for _, w in ipairs(group) do
    M.curves[#M.curves + 1] = w .. "_top1"
    M.curves[#M.curves + 1] = w .. "_top5"
  end
end
M.curves[#M.curves + 1] = "seconds"

local I, N, S, B, L, R = config.integer, config.number, config.string, config.boolean,
                         config.list, config.record

M.schema = R{
  scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
  seed = I{min = 0},        -- the grid's seed axis; unused: an evaluation draws nothing
  seed_a = I{min = 0},      -- the attacker's seed (ERM a and mixup a)
  seed_b = I{min = 0},      -- the second ERM model's seed (b)
  source = R{
    experiment = S(),       -- e.g. "table2_cifar"
    scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
    dataset = S(), net = S(), -- the source grid's level ids
    erm = S(), mixup = S(),   -- its method level ids
  },
  eps = L{min = 0},         -- pixel units of the 0-255 image
  ifgsm_iters = I{min = 1},
  quantize = B(),
  eval_batch = I{min = 1},
}

-- {==================================================================================
-- Models (harness/lua/models.lua)
-- ===================================================================================

function M.available(cfg)
  return models.available(cfg.source, cfg.source.erm, cfg.seed_a)
end

-- the models a run reads: {source, method, seed} each (models.prepare trains absent ones)
function M.sources(cfg)
  local src = cfg.source
  return {{src, src.erm, cfg.seed_a}, {src, src.erm, cfg.seed_b}, {src, src.mixup, cfg.seed_a}}
end

function M.units(cfg) return 2 * #cfg.eps end

function M.build(cfg, env)
  local st = {cfg = cfg}
  if cfg.seed_a == cfg.seed_b then
    error(("adversarial: seed_a and seed_b are both %d; the black box needs a second ERM "
           .. "model"):format(cfg.seed_a), 0)
  end
  st.erm = models.load(cfg.source, cfg.source.erm, cfg.seed_a, env, cfg.eval_batch)
  st.erm_b = models.load(cfg.source, cfg.source.erm, cfg.seed_b, env, cfg.eval_batch)
  st.mixup = models.load(cfg.source, cfg.source.mixup, cfg.seed_a, env, cfg.eval_batch)
  local mc = st.erm.config
  local imagenet = mc.dataset == "imagenet"
  -- the keys of the data config that fix the test images
  local same = imagenet and {"index", "classes", "val_per_class", "crop"}
               or {"test_examples", "subset_seed"}
  for _, m in ipairs{st.erm_b, st.mixup} do
    local differs = m.config.dataset ~= mc.dataset
    for _, k in ipairs(same) do differs = differs or m.config.data[k] ~= mc.data[k] end
    if differs then
      error(("adversarial: model %s was tested on other data than %s"):format(m.id, st.erm.id),
            0)
    end
  end
  st.mean, st.std = mc.data.mean, mc.data.std
  local test
  if imagenet then
    -- ImageNet models (Table 1): the validation set, centre crops
    local ic = require "harness.lua.tasks.imagenet_classifier"
    test = select(2, ic.load_sets(mc, env.data_cache))
    st.ld = require("engine.imagenet").loader(test, {batch = cfg.eval_batch, train = false,
                                                     out = mc.data.crop, mean = st.mean,
                                                     std = st.std, threads = env.threads})
  else
    test = select(2, sources.load(mc, env.data_cache))
    st.ld = data.loader(test, {batch = cfg.eval_batch, train = false, mean = st.mean,
                               std = st.std})
  end
  st.n_test = test:size()
  local shape = require("harness.lua.tasks").get(imagenet and "imagenet_classification"
                                                 or "image_classification").input_shape(mc)
  st.xa = tensor.new{cfg.eval_batch, shape.c, shape.h, shape.w}
  st.xb = tensor.new{cfg.eval_batch, shape.c, shape.h, shape.w}
  st.views = {}
  return st
end

function M.describe(st, cfg)
  return ("white and black box FGSM / I-FGSM (%d steps) at eps %s on %d test images: ERM %s "
          .. "(attacker), ERM %s, mixup %s"):format(cfg.ifgsm_iters,
          table.concat((function()
            local t = {}
            for i, e in ipairs(cfg.eps) do t[i] = ("%g"):format(e) end
            return t
          end)(), ", "), st.n_test, st.erm.id, st.erm_b.id, st.mixup.id)
end

-- {==================================================================================
-- One unit
-- ===================================================================================

-- A view of the first n rows of buffer t (made once per size).
local function rows(st, t, n)
  if n == t:shape()[1] then return t end
  st.views[t] = st.views[t] or {}
  local v = st.views[t][n]
  if not v then
    local s = t:shape()
    v = t:view(0, {n, s[2], s[3], s[4]})
    st.views[t][n] = v
  end
  return v
end

-- Top-1 and top-5 errors (counts) of logits z against labels y: the label's logit must be the
-- first maximum (top-1) / have fewer than 5 logits strictly above it (top-5).
-- (The engine's counts, harness/nn/loss.c; n, the batch, is y's length.)
function M.count_top(z, y, _)
  return train.count_errors(z, y), train.count_errors(z, y, 5)
end

function M.step(st, u, _)
  local cfg = st.cfg
  local t0 = sys.clock()
  local eps = cfg.eps[u // 2 + 1]
  local iters = (u % 2 == 0) and 1 or cfg.ifgsm_iters
  local opts = {eps = eps, iters = iters, step = eps / iters, quantize = cfg.quantize,
                mean = st.mean, std = st.std}
  local count = {}
  for _, w in ipairs(M.CLEAN) do count[w] = {0, 0} end
  for _, w in ipairs(M.ATTACKED) do count[w] = {0, 0} end
  local function add(w, net, x, y, n)
    local a, b = M.count_top(net:forward(x, false), y, n)
    count[w][1], count[w][2] = count[w][1] + a, count[w][2] + b
  end
  local seen = 0
  st.ld:epoch(0)
  for x, y in st.ld:each() do
    local n = x:shape()[1]
    add("clean_erm", st.erm.net, x, y, n)
    add("clean_erm_b", st.erm_b.net, x, y, n)
    add("clean_mixup", st.mixup.net, x, y, n)
    local xa, xb = rows(st, st.xa, n), rows(st, st.xb, n)
    st.erm.net:attack(xa, x, y, opts)
    add("white_erm", st.erm.net, xa, y, n)
    add("black_erm_b", st.erm_b.net, xa, y, n)
    add("black_mixup", st.mixup.net, xa, y, n)
    st.mixup.net:attack(xb, x, y, opts)
    add("white_mixup", st.mixup.net, xb, y, n)
    seen = seen + n
  end
  local row = {unit = u + 1.0, eps = eps, iters = iters + 0.0}
  for w, c in pairs(count) do
    row[w .. "_top1"] = 100.0 * c[1] / seen
    row[w .. "_top5"] = 100.0 * c[2] / seen
  end
  row.seconds = sys.clock() - t0
  return row, ("%s eps %g: top-1 error clean %.1f / %.1f, white box ERM %.1f mixup %.1f, black "
               .. "box ERM %.1f mixup %.1f, %.1fs"):format(iters == 1 and "FGSM" or "I-FGSM",
               eps, row.clean_erm_top1, row.clean_mixup_top1, row.white_erm_top1,
               row.white_mixup_top1, row.black_erm_b_top1, row.black_mixup_top1, row.seconds)
end

-- {==================================================================================
-- State and results
-- ===================================================================================

function M.state(_) return {datasets = {}} end
function M.restore(_, _) end

M.MODEL_ROLES = {"erm", "erm_b", "mixup"}

function M.result(st, r)
  return models.result_tree(M, st, r, {units = #r.curves.unit, test_images = st.n_test,
                                       seconds = r.seconds})
end

function M.read_result(path)
  return models.read_result(M, path, "an attack-evaluation file")
end

function M.summary_line(s)
  return ("%d attacks on %d test images"):format(s.units, s.test_images)
end

-- Every attack-evaluation file under dir: runs sorted by path, and the unreadable ones.
function M.scan(dir) return results.scan_schema(dir, M.SCHEMA_RUN, M.read_result) end

return M
