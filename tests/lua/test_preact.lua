-- test_preact.lua: the PreAct ResNet-18 nets (nets/preact_resnet.lua) against the PyTorch
-- reference models of tests/fixtures/gen_preact.py (facebookresearch/mixup-cifar10 ResNet18
-- and kuangliu PreActResNet18, width 2, batch 4, 32x32): parameter counts of the full nets,
-- parameter order and sizes, training-mode forward, loss, dx and the gradient vector, three
-- SGD steps (momentum 0.9, weight decay 5e-4), BN running statistics, evaluation-mode forward,
-- and bit-identical repeats from one seed.
local tensor = require "engine.tensor"
local nn = require "engine.nn"
local train = require "engine.train"
local preact = require "nets.preact_resnet"
local check = require "tests.lua.check"

local suite = check.suite(...)

local INPUT = {c = 3, h = 32, w = 32}
local FIXTURE_WIDTH = 2
local ROOT = "preact_resnet." -- our path prefix; PyTorch names start below the root

-- The reference is float64 from the same float32 inputs; we run float32. Observed errors
-- (threads 1 to 4) are ~30 to 100 times below each bound.
local LOGITS_RTOL = 1e-5  -- float32 forward through ~20 layers: observed 3e-7
local LOSS_RTOL = 1e-6    -- mean log-softmax of those logits: observed 4e-8
local DX_RTOL = 1e-4      -- backward through 17 train-mode BNs, whose mean subtraction cancels
                          -- most of the gradient and amplifies rounding: observed 7e-7
local GRADS_RTOL = 1e-4   -- same path as dx; relative to the largest entry: observed 5e-7
local PARAMS_RTOL = 2e-6  -- 3 steps of lr 0.1 carry the grad errors diluted: observed 1.2e-7
local BUFFERS_RTOL = 2e-6 -- running means and variances of float32 activations: observed 7e-8
local EVAL_RTOL = 1e-5    -- eval-mode logits after the 3 steps: observed 1.5e-7

local load_fixture = check.fixture

suite:test("parameter_counts", function()
  -- the mixup paper's model sizes (PAPER_FACTS.md 3b; gen_preact.py prints them)
  for _, case in ipairs{
    {{variant = "official", num_classes = 10}, 11171274},
    {{variant = "official", num_classes = 100}, 11217444},
    {{variant = "kuangliu", num_classes = 10}, 11171146},
    {{variant = "official", width = 16}, 700794},
  } do
    local net = nn.build(preact(case[1]), INPUT, {batch = 1})
    check.eq(net:num_params(), case[2], ("%s %s classes width %s"):format(case[1].variant,
             case[1].num_classes, case[1].width))
    net = nil
    collectgarbage()
  end
end)

suite:test("options_are_strict", function()
  check.raises(function() preact{widht = 4} end, "preact_resnet: unknown option 'widht' " ..
               "(known: bn_group, depth, dropout, init, mix_at, num_classes, variant, width)",
               "unknown option")
  check.raises(function() preact{depth = 34} end, "depth is 34, valid depths: 18", "depth")
  check.raises(function() preact{variant = "v2"} end, "preact_resnet: option 'variant' is "
               .. "string \"v2\", expected one of kuangliu, official", "variant")
  check.raises(function() preact{width = 2.5} end,
               "preact_resnet: option 'width' is float 2.5, expected an integer >= 1", "width")
  check.raises(function() preact{num_classes = "10"} end,
               "option 'num_classes' is string \"10\", expected a number", "type")
  check.raises(function() nn.build(preact{init = "xavier"}, INPUT, {batch = 1}) end,
               "preact_resnet.conv1: option 'init' is \"xavier\", expected one of torch_default, "
               .. "he_normal, he_normal_fan_in, zero", "init")
end)

-- The leaves of a net description of one kind, in tree order.
local function nodes_of_kind(desc, kind)
  local found = {}
  local function walk(node)
    if node.kind == kind then found[#found + 1] = node end
    for _, ch in ipairs(node.children or {}) do walk(ch) end
    if node.main then walk(node.main) end
    if node.shortcut then walk(node.shortcut) end
  end
  walk(desc)
  return found
end

-- mix_at = k: one mix layer, right before stage k (1-4) or before the pooling (5), no
-- parameters; without a plan it is the identity, so the outputs equal the plain net's.
suite:test("mix_at_places_one_mix_layer", function()
  check.raises(function() preact{mix_at = 6} end, "preact_resnet: option 'mix_at' is integer 6, "
               .. "expected an integer in 0..5", "mix_at 6")
  local plain = nn.build(preact{width = FIXTURE_WIDTH}, INPUT, {batch = 2})
  plain:init(train.rng(7, train.stream.init))
  local x = tensor.new{2, 3, 32, 32}
  local r = train.rng(4, train.stream.init)
  for i = 1, 2 do for c = 1, 3 do x:set(r:normal(), i, c, 5, 6) end end
  local want = plain:forward(x, true):data_string()
  local before = {"layer1", "layer2", "layer3", "layer4", "avgpool"}
  for k = 0, 5 do
    local d = preact{width = FIXTURE_WIDTH, mix_at = k}
    local names, found = {}, 0
    for i, node in ipairs(d.children) do
      names[i] = node.name
      if node.kind == "mix" then
        found = found + 1
        check.eq(d.children[i + 1].name, before[k], "mix_at " .. k .. " comes before")
      end
    end
    check.eq(found, k == 0 and 0 or 1, "mix_at " .. k .. ": " .. table.concat(names, " "))
    local net = nn.build(d, INPUT, {batch = 2})
    check.eq(net:num_params(), plain:num_params(), "no parameters added")
    net:init(train.rng(7, train.stream.init))
    check.eq(net:forward(x, true):data_string(), want, "mix_at " .. k .. " without a plan")
  end
end)

-- bn_group = G: every batch norm gets group G; a batch of 2 G in training equals the two halves
-- run one after the other (each half's statistics its own) when nothing else couples them
-- (the linear head and the convolutions are per example).
suite:test("bn_group_normalises_per_group", function()
  check.raises(function() preact{bn_group = -1} end, "option 'bn_group' is integer -1", "-1")
  local d = preact{width = FIXTURE_WIDTH, bn_group = 2}
  local bns = nodes_of_kind(d, "batchnorm")
  for _, node in ipairs(bns) do check.eq(node.group, 2, "group") end
  check.truthy(#bns >= 17, "every batch norm has the group: " .. #bns)
  local grouped = nn.build(d, INPUT, {batch = 4})
  local plain = nn.build(preact{width = FIXTURE_WIDTH}, INPUT, {batch = 4})
  grouped:init(train.rng(7, train.stream.init))
  plain:init(train.rng(7, train.stream.init))
  check.groups_equal_halves(grouped, plain)
end)

-- dropout = p: a layer in each of the 8 blocks between relu2 and conv2, no parameters; the
-- same weights give bit-identical evaluation-mode outputs, and training mode drops units.
suite:test("dropout_in_every_block", function()
  check.raises(function() preact{dropout = 1} end, "preact_resnet: option 'dropout' is "
               .. "integer 1, expected a number in [0, 1)", "p = 1")
  local plain = nn.build(preact{width = FIXTURE_WIDTH}, INPUT, {batch = 2})
  local drop = nn.build(preact{width = FIXTURE_WIDTH, dropout = 0.5}, INPUT, {batch = 2})
  check.eq(drop:num_params(), plain:num_params(), "no parameters added")
  local drops = nodes_of_kind(preact{width = FIXTURE_WIDTH, dropout = 0.5}, "dropout")
  for _, node in ipairs(drops) do check.eq(node.p, 0.5, "p") end
  check.eq(#drops, 8, "one dropout per block")
  plain:init(train.rng(7, train.stream.init))
  drop:init(train.rng(7, train.stream.init))
  check.same_bits(drop:params(), plain:params(), "the same init")
  local flat = tensor.new{2 * 3 * 32 * 32}
  local r = train.rng(3, train.stream.init)
  for i = 1, flat:size() do flat:set(r:normal(), i) end
  local x = flat:view(0, {2, 3, 32, 32})
  check.same_bits(drop:forward(x, false), plain:forward(x, false), "evaluation mode")
  local a = tensor.new{2, 10, 1, 1} -- the logits' shape (the linear layer keeps 4 dimensions)
  a:copy(plain:forward(x, true, train.rng(5, train.stream.dropout)))
  local b = drop:forward(x, true, train.rng(5, train.stream.dropout))
  local diff = 0
  for i = 1, 2 do
    for j = 1, 10 do diff = math.max(diff, math.abs(a:get(i, j, 1, 1) - b:get(i, j, 1, 1))) end
  end
  check.truthy(diff > 1e-3, "training mode drops units: max difference " .. diff)
end)

for _, variant in ipairs{"official", "kuangliu"} do
  local function build(batch)
    return nn.build(preact{variant = variant, width = FIXTURE_WIDTH}, INPUT, {batch = batch})
  end

  suite:test(variant .. ".parameter_order", function()
    local fx, names = load_fixture("preact_" .. variant)
    check.param_order(build(1), fx, names, ROOT)
  end)

  suite:test(variant .. ".train_steps_vs_pytorch", function()
    local input = load_fixture("preact_input")
    local fx = load_fixture("preact_" .. variant)
    local hp = fx.hp:to_table()
    local lr, momentum, wd, steps = hp[1], hp[2], hp[3], math.tointeger(hp[4])
    local n = input.x:shape()[1]
    local net = build(n)
    net:init(train.rng(1, train.stream.init)) -- BN buffers: mean 0, var 1
    net:params():copy(fx.params0)
    -- torch.optim.SGD: dampening 0, no Nesterov, L2 decay on every parameter (official code)
    local sgd = train.sgd{params = net:params(), grads = net:grads(), momentum = momentum,
                          weight_decay = wd, nesterov = false}
    local dz
    for step = 1, steps do
      net:zero_grad()
      local z = net:forward(input.x, true)
      dz = dz or tensor.new(z:shape())
      local loss = train.softmax_xent(z, input.t, dz)
      check.near(loss, fx.loss:get(step), LOSS_RTOL, "loss before step " .. step)
      local dx = net:backward(dz)
      if step == 1 then
        check.close(z, fx.logits0, LOGITS_RTOL, "logits")
        check.close(dx, fx.dx0, DX_RTOL, "dx")
        check.close(net:grads(), fx.grads0, GRADS_RTOL, "grads")
      end
      sgd:step(lr)
    end
    check.close(net:params(), fx.params3, PARAMS_RTOL, "params after 3 steps")
    check.close(net:buffers(), fx.buffers3, BUFFERS_RTOL, "BN running stats")
    check.close(net:forward(input.x, false), fx.logits_eval3, EVAL_RTOL, "eval logits")
  end)
end

suite:test("same_seed_same_bits", function()
  local input = load_fixture("preact_input")
  local function run(seed)
    local net = nn.build(preact{width = FIXTURE_WIDTH}, INPUT, {batch = 4})
    net:init(train.rng(seed, train.stream.init))
    local z = net:forward(input.x, true)
    local dz = tensor.new(z:shape())
    train.softmax_xent(z, input.t, dz)
    net:backward(dz)
    return net:params():clone(), z:clone(), net:grads():clone()
  end
  local p1, z1, g1 = run(42)
  local p2, z2, g2 = run(42)
  check.same_bits(p1, p2, "init")
  check.same_bits(z1, z2, "logits")
  check.same_bits(g1, g2, "grads")
  local p3 = run(43)
  check.truthy(p1:max_abs_diff(p3) > 0, "another seed gives other weights")
end)

suite:finish()
