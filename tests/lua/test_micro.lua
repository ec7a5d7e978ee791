-- test_micro.lua: micro-batches (tasks/classifier.lua's split step, cfg.micro_batch): one step
-- of batch 16 as one pass, as 2 passes of 8 and as 4 of 4 rows, batch norm in groups of 4,
-- mixup on, must give the same weights and running statistics after an epoch of 3 steps (the
-- last batch of 12 splits 8 + 4 and 4 + 4 + 4), to float tolerance: the chunks' gradients add
-- in another order and their GEMMs see other batch sizes. Observed 6e-8 relative; accepted
-- 1e-5. Summing instead of averaging the chunks (no c / n weight: 2.7e-2) or letting each chunk
-- move the running statistics from the last (no restart: 8.6e-2 on them) fails. And the
-- refusals: micro_batch without bn_group, or not a multiple of it, or with dropout.
local check = require "tests.lua.check"
local config = require "harness.lua.config"
local classifier = require "harness.lua.tasks.classifier"

local suite = check.suite(...)
local RTOL = 1e-5

local function cfg_with(micro, net_over)
  local net = {family = "preact_resnet", variant = "official", depth = 18, width = 4,
               num_classes = 10, init = "torch_default", bn_group = 4}
  for k, v in pairs(net_over or {}) do net[k] = v end
  local c = config.validate({
    scale = "test", dataset = "cifar10", seed = 5, epochs = 1, batch = 16, eval_batch = 10,
    net = net,
    data = {source = "synthetic", train_examples = 44, test_examples = 20, subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = {0.5, 0.5, 0.5},
            std = {0.25, 0.25, 0.25}},
    mixup = {alpha = 1, per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.05, factor = 0.1, milestones = {1}, lr_drop_late = false},
  }, classifier.schema)
  c.micro_batch = micro -- not in the CIFAR schema; tasks with the key pass it this way
  return c
end

local function epoch(micro)
  local st = classifier.build(cfg_with(micro), {threads = 1, data_cache = {}})
  local row = classifier.step(st, 0, {progress = false,
                                      diverged = function(d) error("diverged: " .. d) end})
  return st.net:params():clone(), st.net:buffers():clone(), row
end

suite:test("micro_batches_equal_the_whole_batch", function()
  local p0, b0, r0 = epoch(0)
  for _, micro in ipairs{8, 4} do
    local p, b, r = epoch(micro)
    local e = check.close(p, p0, RTOL, micro .. " rows: params")
    check.close(b, b0, RTOL, micro .. " rows: BN running statistics")
    check.near(r.train_loss, r0.train_loss, RTOL, micro .. " rows: train loss")
    check.near(r.test_loss, r0.test_loss, RTOL, micro .. " rows: test loss")
    print(("  micro-batch %d: params differ by %.2g relative"):format(micro, e))
  end
end)

suite:test("refusals", function()
  check.raises(function() classifier.check_micro(cfg_with(8, {bn_group = 0})) end,
               "micro_batch = 8 needs batch norm over groups (net.bn_group) that divide it",
               "no groups")
  check.raises(function() classifier.check_micro(cfg_with(6)) end, "net.bn_group is 4",
               "6 is not a multiple of 4")
  check.raises(function() classifier.check_micro(cfg_with(8, {dropout = 0.1})) end,
               "cannot split dropout's masks", "dropout")
  check.eq(classifier.check_micro(cfg_with(16)), 0, "micro = batch: one pass")
end)

suite:finish()
