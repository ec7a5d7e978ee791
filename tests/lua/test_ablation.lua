-- test_ablation.lua: the ablation's variants of mixup through Lua (harness/lua/tasks/
-- ablation_classifier.lua and engine.train's mixup options; harness/train/mixup.h's semantics
-- are tested in C, tests/engine/test_mixup.c): the schema (the classifier's untouched, typos and
-- out-of-range values named), the binding's options reach the engine (targets of label
-- smoothing and of the heavier label, same-class partners, input noise, partners given from
-- outside the batch, latent mixing through a net's mix layer), plain ERM and mixup configs
-- train bit for bit as the classifier's, each variant (nearest-neighbour partners and latent
-- mixing included) trains a tiny net to a results file and to weights different from plain
-- mixup's, and contradictory configs are refused. Synthetic data: no files needed.
-- Run as `./mixup tests/lua/test_ablation.lua [filter]`.
local check = require "tests.lua.check"
local config = require "harness.lua.config"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local tasks = require "harness.lua.tasks"
local ablation = require "harness.lua.tasks.ablation_classifier"
local classifier = require "harness.lua.tasks.classifier"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"

local suite = check.suite(...)

local PLAIN = {partner = "random", knn_k = 200, labels = "mixed", smoothing = 0.0, noise = 0.0}

local function cfg_of(mix, schema, mix_at)
  local m = {alpha = 1.0, per_example = false}
  for k, v in pairs(PLAIN) do m[k] = v end
  for k, v in pairs(mix or {}) do m[k] = v end
  if schema then for k in pairs(PLAIN) do m[k] = nil end end
  return config.validate({
    scale = "test", dataset = "cifar10", seed = 3, epochs = 1, batch = 16, eval_batch = 20,
    net = {family = "preact_resnet", variant = "official", depth = 18, width = 2,
           num_classes = 10, init = "torch_default", mix_at = mix_at},
    data = {source = "synthetic", train_examples = 48, test_examples = 20, subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = {0.5, 0.5, 0.5},
            std = {0.25, 0.25, 0.25}},
    mixup = m,
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.05, factor = 0.1, milestones = {}, lr_drop_late = false},
  }, schema or ablation.schema)
end

suite:test("schema", function()
  check.eq(tasks.get("image_classification_ablation"), ablation, "the schema's task")
  check.eq(classifier.schema.fields.mixup.fields.partner, nil, "classifier schema untouched")
  check.raises(function() cfg_of{partner = "nearest"} end,
               "option 'mixup.partner' is string \"nearest\"", "an unknown partner rule")
  check.raises(function() cfg_of{smoothing = 1.0} end,
               "expected a finite number >= 0 and < 1", "smoothing 1")
  check.raises(function() cfg_of{knn_k = 0} end, "option 'mixup.knn_k' is", "knn_k 0")
  check.raises(function()
    local c = cfg_of()
    c.mixup.noise = nil
    config.validate(c, ablation.schema)
  end, "missing required option 'mixup.noise'", "every key stated")
  check.eq(ablation.method_name(cfg_of().mixup), "mixup AC + RP (alpha 1)", "name")
  check.eq(ablation.method_name(cfg_of{partner = "same_class", labels = "heavier",
                                       smoothing = 0.1, noise = 0.2}.mixup),
           "inputs only SC + RP (alpha 1) + label smoothing 0.1 + noise 0.2", "name")
  check.eq(ablation.method_name(cfg_of{partner = "knn_same_class", labels = "heavier",
                                       knn_k = 10}.mixup),
           "inputs only SC + KNN k 10 (alpha 1)", "SMOTE's name")
  check.eq(ablation.method_name(cfg_of().mixup, 3), "mixup layer 3 (alpha 1)", "latent name")
end)

-- The binding passes the options: ERM with smoothing eps gives 1 - eps + eps/K and eps/K.
suite:test("binding_options", function()
  local n, k = 6, 4
  local flat = {}
  for i = 1, n * 4 do flat[i] = i / 7 end
  local x = tensor.from_table(flat, {n, 1, 2, 2})
  local y = {0, 1, 2, 3, 0, 1}
  local xm, t = tensor.new{n, 1, 2, 2}, tensor.new{n, k}
  local rng = train.rng(1, train.stream.mixup)
  train.mixup(xm, t, x, y, {alpha = 0, n_classes = k, smoothing = 0.2}, rng)
  for i = 1, n do
    for c = 1, k do
      local want = (c - 1 == y[i]) and 1 - 0.2 + 0.05 or 0.05
      check.near(t:get(i, c), want, 1e-7, ("smoothed target %d,%d"):format(i, c))
    end
  end
  check.same_bits(xm, x, "no mixing, no noise: x~ = x")
  -- heavier label: every row one-hot
  train.mixup(xm, t, x, y, {alpha = 1, n_classes = k, labels = "heavier"}, rng)
  for i = 1, n do
    local ones, sum = 0, 0
    for c = 1, k do
      sum = sum + t:get(i, c)
      if t:get(i, c) == 1 then ones = ones + 1 end
    end
    check.eq(ones, 1, "one-hot row " .. i)
    check.eq(sum, 1.0, "row sums to 1")
  end
  -- same class: x~ mixes only rows of one class (classes 0 and 1 have two rows each)
  local lam = train.mixup(xm, t, x, y, {alpha = 1, n_classes = k, partner = "same_class"}, rng)
  for i = 1, n do check.eq(t:get(i, y[i] + 1), 1.0, "same-class partner keeps the label") end
  check.truthy(lam > 0 and lam < 1, "lambda drawn")
  -- noise alone changes x
  train.mixup(xm, t, x, y, {alpha = 0, n_classes = k, noise = 0.5}, rng)
  check.truthy(xm:data_string() ~= x:data_string(), "noise added")
  check.raises(function() train.mixup(xm, t, x, y, {alpha = 0, n_classes = k, partner = "knn"},
                                      rng) end, "partner", "unknown partner")
  -- partners given: t~ = lambda onehot(y) + (1 - lambda) onehot(y2), x~ from x and x2
  local y2 = {1, 2, 3, 0, 1, 2}
  local x2 = tensor.from_table((function()
    local f = {}
    for i = 1, n * 4 do f[i] = -i / 5 end
    return f
  end)(), {n, 1, 2, 2})
  lam = train.mixup(xm, t, x, y, {alpha = 1, n_classes = k}, rng, x2, y2)
  for i = 1, n do
    check.near(t:get(i, y[i] + 1), lam, 1e-6, "own label weight " .. i)
    check.near(t:get(i, y2[i] + 1), 1 - lam, 1e-6, "partner label weight " .. i)
    check.near(xm:get(i, 1, 1, 2), lam * x:get(i, 1, 1, 2) + (1 - lam) * x2:get(i, 1, 1, 2),
               1e-6, "x~ from the partner batch " .. i)
  end
  check.raises(function() train.mixup(xm, t, x, y, {alpha = 1, n_classes = k, latent = 3},
                                      rng) end, "option 'latent' is", "latent must be a net")
end)

-- Latent mixing through train.mixup: x~ is x, the net's mix layer mixes in training only,
-- and alpha = 0 clears the plan (the net is then the plain one).
suite:test("latent_binding", function()
  local desc = require("nets.preact_resnet"){width = 2, num_classes = 4, mix_at = 2}
  local net = nn.build(desc, {c = 3, h = 32, w = 32}, {batch = 4, threads = 1})
  net:init(train.rng(5, train.stream.init))
  local x = tensor.new{4, 3, 32, 32}
  for i = 1, 4 do for c = 1, 3 do x:set((i * 7 + c) % 5 / 4 - 0.5, i, c, 3, 4) end end
  local y = {0, 1, 2, 3}
  local xm, t = tensor.new{4, 3, 32, 32}, tensor.new{4, 4}
  local rng = train.rng(2, train.stream.mixup)
  train.mixup(xm, t, x, y, {alpha = 0, n_classes = 4, latent = net}, rng)
  local plain = net:forward(xm, true):data_string()
  local lam = train.mixup(xm, t, x, y, {alpha = 1, n_classes = 4, latent = net}, rng)
  check.same_bits(xm, x, "latent: inputs unmixed")
  check.truthy(lam > 0 and lam < 1, "lambda drawn")
  check.truthy(net:forward(xm, true):data_string() ~= plain, "the mix layer mixes in training")
  local ev = net:forward(xm, false):data_string()
  train.mixup(xm, t, x, y, {alpha = 0, n_classes = 4, latent = net}, rng)
  check.eq(net:forward(xm, false):data_string(), ev, "evaluation ignores the plan")
  check.eq(net:forward(xm, true):data_string(), plain, "alpha 0 clears the plan")
end)

local function run(task, cfg, out, id)
  local status = lifecycle.run(task, {id = id, config = cfg},
                               {experiment = "abl", out = out, threads = nn.get_threads(),
                                command = "test", log = function() end})
  check.eq(status, "done", id .. " status")
  return assert(results.read_run((lifecycle.paths(out, "abl", id))))
end

suite:test("plain_configs_match_the_classifier", function()
  local out = os.tmpname()
  os.remove(out)
  for _, alpha in ipairs{0.0, 1.0} do
    local cfg = cfg_of()
    cfg.mixup.alpha = alpha
    local plain = cfg_of(nil, classifier.schema)
    plain.mixup.alpha = alpha
    local a = run(ablation, cfg, out, "abl-" .. alpha)
    local b = run(classifier, plain, out, "cls-" .. alpha)
    check.same_bits(a.weights.params, b.weights.params, "alpha " .. alpha .. ": same weights")
  end
  sys.remove_tree(out)
end)

suite:test("variants_train", function()
  local out = os.tmpname()
  os.remove(out)
  local base = run(ablation, cfg_of(), out, "plain").weights.params:data_string()
  for i, v in ipairs{
    {mix = {partner = "same_class"}},
    {mix = {labels = "heavier"}},
    {mix = {smoothing = 0.1}},
    {mix = {noise = 0.1}},
    {mix = {partner = "knn", knn_k = 3}},
    {mix = {partner = "knn_same_class", knn_k = 2, labels = "heavier"}},
    {mix = {}, mix_at = 3},
    {mix = {}, mix_at = 5},
  } do
    local r = run(ablation, cfg_of(v.mix, nil, v.mix_at), out, "v" .. i)
    check.truthy(r.weights.params:data_string() ~= base, "variant " .. i .. " trains differently")
    check.eq(r.config.mixup.partner, v.mix.partner or "random", "config recorded")
    if (v.mix.partner or ""):match "^knn" then
      check.truthy(tostring(r.summary.knn_md5):match "^%x+$" and #r.summary.knn_md5 == 32,
                   "variant " .. i .. ": the table's md5 recorded")
      check.eq(r.summary.knn_k, v.mix.knn_k, "variant " .. i .. ": k recorded")
    end
  end
  -- the same KNN run twice: the same table and the same bits
  local a = run(ablation, cfg_of{partner = "knn", knn_k = 3}, out, "again")
  check.same_bits(a.weights.params, results.read_run((lifecycle.paths(out, "abl", "v5")))
                  .weights.params, "nearest-neighbour mixup repeats")
  sys.remove_tree(out)
end)

suite:test("contradictions", function()
  local out = os.tmpname()
  os.remove(out)
  local env = {experiment = "abl", out = out, threads = 1, command = "test",
               log = function() end}
  check.raises(function() ablation.build(cfg_of({partner = "same_class"}, nil, 2), env) end,
               "latent mixing takes its partners from the batch", "latent with SC")
  check.raises(function() ablation.build(cfg_of{partner = "knn", knn_k = 3, alpha = 0.0}, env)
               end, "draws partners it never uses", "KNN with alpha 0")
  check.raises(function() ablation.build(cfg_of{partner = "knn", knn_k = 48}, env) end,
               "k must be in 1 .. (images - 1)", "k too large")
  sys.remove_tree(out)
end)

suite:finish()
