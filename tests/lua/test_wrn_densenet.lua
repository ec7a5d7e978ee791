-- test_wrn_densenet.lua: the Table 2 nets, WRN (nets/wrn.lua) and DenseNet-BC
-- (nets/densenet.lua), against the PyTorch reference models of
-- tests/fixtures/gen_wrn_densenet.py (xternalz/WideResNet-pytorch and
-- andreasveit/densenet-pytorch): parameter counts of the published nets; options and error
-- messages; parameter order and sizes of a reduced WRN-16-2 (base width 2) and DenseNet-BC-22
-- (growth 4) against parameters(); their training-mode logits, loss, dx and gradient vector,
-- BN running statistics and evaluation-mode logits at batch 4; DenseNet with shared-buffer
-- dense blocks (the default) and with the concat composition, also bit for bit against each
-- other over two SGD steps; the reference initialisation; and bit-identical repeats from one
-- seed.
local tensor = require "engine.tensor"
local nn = require "engine.nn"
local train = require "engine.train"
local wrn = require "nets.wrn"
local densenet = require "nets.densenet"
local check = require "tests.lua.check"

local suite = check.suite(...)

local INPUT = {c = 3, h = 32, w = 32}
-- The fixtures' reduced nets (gen_wrn_densenet.py WRN_* and DN_*).
local NETS = {
  wrn = {make = wrn, opts = {depth = 16, widen_factor = 2, base_width = 2}},
  densenet = {make = densenet, opts = {depth = 22, growth = 4}},
  densenet_concat = {make = densenet, opts = {depth = 22, growth = 4, shared_memory = false}},
}

-- The reference is float64 from the same float32 inputs and parameters; we run float32.
-- Observed errors (1 and 2 threads alike) are 20 to 60 times below each bound.
local LOGITS_RTOL = 1e-5  -- float32 forward through ~20 conv-BN layers: observed 3.4e-7
local LOSS_RTOL = 1e-6    -- mean log-softmax of those logits: observed 3.3e-8
local DX_RTOL = 2e-5      -- backward through ~20 train-mode BNs, whose mean subtraction
                          -- cancels most of the gradient and amplifies rounding: observed 5.7e-7
local GRADS_RTOL = 2e-5   -- same path as dx; relative to the largest entry: observed 3.3e-7
local BUFFERS_RTOL = 2e-6 -- running means and variances of float32 activations: observed 9e-8
local EVAL_RTOL = 1e-5    -- eval-mode logits with those statistics: observed 1.9e-7
-- He-normal init: the sample standard deviation of a conv's m weights has relative standard
-- error 1/sqrt(2 m); with m >= 9,216 that is <= 0.74 %, so 4 % is over 5 standard errors.
local INIT_STD_RTOL = 0.04

-- our path prefix; PyTorch's names start below it
local ROOT = {wrn = "wrn.", densenet = "densenet."}

local load_fixture = check.fixture

local function build(name, batch)
  return nn.build(NETS[name].make(NETS[name].opts), INPUT, {batch = batch})
end

suite:test("parameter_counts", function()
  -- WRN-28-10 and DenseNet-BC-190 as the mixup paper trains them, and DenseNet-BC-100 k = 12
  -- (gen_wrn_densenet.py prints the reference models' counts).
  for _, case in ipairs{
    {wrn, {num_classes = 10}, 36479194, "WRN-28-10, 10 classes"},
    {wrn, {num_classes = 100}, 36536884, "WRN-28-10, 100 classes"},
    {densenet, {num_classes = 10}, 25624430, "DenseNet-BC-190 k=40, 10 classes"},
    {densenet, {num_classes = 100}, 25821620, "DenseNet-BC-190 k=40, 100 classes"},
    {densenet, {depth = 100, growth = 12}, 769162, "DenseNet-BC-100 k=12, 10 classes"},
  } do
    local net = nn.build(case[1](case[2]), INPUT, {batch = 1})
    check.eq(net:num_params(), case[3], case[4])
    net = nil
    collectgarbage()
  end
end)

-- bn_group = G: every batch norm of the WRN gets group G; a training batch of 2 G equals its
-- two halves run alone (what data-parallel ranks compute: harness/lua/data_parallel.lua).
suite:test("wrn_bn_group_normalises_per_group", function()
  check.raises(function() wrn{bn_group = 1.5} end, "wrn: option 'bn_group' is float 1.5",
               "not an integer")
  local opts = {depth = 10, widen_factor = 1, base_width = 4}
  local function build(group)
    local o = {bn_group = group}
    for k, v in pairs(opts) do o[k] = v end
    local net = nn.build(wrn(o), INPUT, {batch = 4})
    net:init(train.rng(7, train.stream.init))
    return net
  end
  check.groups_equal_halves(build(2), build(0))
end)

suite:test("options_are_strict", function()
  check.raises(function() wrn{widen = 4} end, "wrn: unknown option 'widen' (known: " ..
               "base_width, bn_group, depth, dropout, init, num_classes, widen_factor)",
               "unknown option")
  check.raises(function() wrn{depth = 20} end,
               "wrn: depth is 20, valid depths: 10, 16, 22, 28, 34, 40", "wrn depth")
  check.raises(function() wrn{widen_factor = 2.5} end,
               "wrn: option 'widen_factor' is float 2.5, expected an integer >= 1", "widen_factor")
  check.raises(function() wrn{dropout = 1} end,
               "wrn: option 'dropout' is integer 1, expected a number in [0, 1)", "dropout")
  check.raises(function() wrn{init = "xavier"} end,
               "wrn: option 'init' is string \"xavier\", expected one of he_normal, "
               .. "torch_default", "wrn init")
  check.raises(function() densenet{growth_rate = 12} end, "densenet: unknown option " ..
               "'growth_rate' (known: compression, depth, growth, init, num_classes, " ..
               "shared_memory)",
               "densenet unknown option")
  check.raises(function() densenet{depth = 121} end,
               "densenet: depth is 121, valid depths: 10, 16, 22, 40, 100, 190, 250",
               "densenet depth")
  check.raises(function() densenet{compression = 1.5} end,
               "densenet: option 'compression' is float 1.5, expected a number in (0, 1]",
               "compression")
  check.raises(function() densenet{num_classes = "10"} end,
               "densenet: option 'num_classes' is string \"10\", expected a number", "type")
end)

suite:test("wrong_input_is_rejected", function()
  local net = build("wrn", 2)
  check.raises(function() net:forward(tensor.new{2, 1, 32, 32}, true) end,
               "net_forward: input is (2, 1, 32, 32), expected (N, 3, 32, 32)", "channels")
  check.raises(function() net:forward(tensor.new{3, 3, 32, 32}, true) end,
               "batch 3 exceeds the reserved capacity 2", "capacity")
  -- DenseNet descriptions whose layer widths disagree fail at build time with the path
  local desc = densenet{depth = 10, growth = 2, shared_memory = false}
  local bn1 = desc.children[2].children[1].children[1].branches[2].children[1]
  bn1.channels = 5
  check.raises(function() nn.build(desc, INPUT, {batch = 1}) end,
               "densenet.block1.layer.0.bn1: batchnorm: input has 4 channels, expected 5",
               "widths")
  desc = densenet{depth = 10, growth = 2}
  desc.children[2].in_c = 5
  check.raises(function() nn.build(desc, INPUT, {batch = 1}) end,
               "densenet.block1: dense_block: input has 4 channels, expected 5",
               "dense_block widths")
  desc.children[2].in_c, desc.children[2].growth = 4, 0
  check.raises(function() nn.build(desc, INPUT, {batch = 1}) end,
               "densenet.block1: dense_module_new: growth is 0, expected >= 1", "growth")
end)

for _, name in ipairs{"wrn", "densenet", "densenet_concat"} do
  local fixture = name:match("^[^_]+")
  suite:test(name .. ".parameter_order", function()
    local fx, names = load_fixture(fixture)
    check.param_order(build(name, 1), fx, names, ROOT[fixture])
  end)

  suite:test(name .. ".forward_backward_vs_pytorch", function()
    local input = load_fixture("wrn_densenet_input")
    local fx = load_fixture(fixture)
    local n = input.x:shape()[1]
    local net = build(name, n)
    net:init(train.rng(1, train.stream.init)) -- BN buffers: mean 0, var 1
    net:params():copy(fx.params0)
    net:zero_grad()
    local z = net:forward(input.x, true)
    check.close(z, fx.logits0, LOGITS_RTOL, "logits")
    local dz = tensor.new(z:shape())
    local loss = train.softmax_xent(z, input.t, dz)
    check.near(loss, fx.loss0:get(1), LOSS_RTOL, "loss")
    local dx = net:backward(dz)
    check.close(dx, fx.dx0, DX_RTOL, "dx")
    check.close(net:grads(), fx.grads0, GRADS_RTOL, "grads")
    check.close(net:buffers(), fx.buffers1, BUFFERS_RTOL, "BN running stats")
    check.close(net:forward(input.x, false), fx.logits_eval1, EVAL_RTOL, "eval logits")
  end)
end

-- WRN's optional dropout (between the convs of a block, after relu2): no parameters; active in
-- training only, so evaluation matches the net without it.
suite:test("wrn.dropout", function()
  local input = load_fixture("wrn_densenet_input")
  local plain = build("wrn", 4)
  local opts = {dropout = 0.3}
  for k, v in pairs(NETS.wrn.opts) do opts[k] = v end
  local drop = nn.build(wrn(opts), INPUT, {batch = 4})
  check.eq(drop:num_params(), plain:num_params(), "parameters")
  plain:init(train.rng(2, train.stream.init))
  drop:params():copy(plain:params())
  drop:buffers():copy(plain:buffers())
  check.same_bits(drop:forward(input.x, false), plain:forward(input.x, false), "eval")
  local z = drop:forward(input.x, true, train.rng(2, train.stream.dropout)):clone()
  check.truthy(z:max_abs_diff(plain:forward(input.x, true)) > 0, "training drops units")
  check.raises(function() drop:forward(input.x, true) end, "rng", "training needs an rng")
end)

-- The reference initialisation (nets' headers): convs N(0, sqrt(2 / (kh kw out_c))), BN
-- weight 1 and bias 0, linear weight within U(-1/sqrt(in), 1/sqrt(in)).
suite:test("reference_init", function()
  for _, case in ipairs{{"wrn", wrn{depth = 16, widen_factor = 4}},
                        {"densenet", densenet{depth = 40, growth = 24}}} do
    local desc = case[2]
    local by_path = check.leaves(desc)
    local net = nn.build(desc, INPUT, {batch = 1})
    net:init(train.rng(3, train.stream.init))
    local params = net:params()
    local sampled = 0
    for _, p in ipairs(net:param_info()) do
      local d, v = by_path[p.path], params:view(p.offset, {p.count})
      check.truthy(d, p.path .. " found in the description")
      if p.kind == "conv" and p.count >= 9216 then
        local s2 = 0
        for i = 1, p.count do s2 = s2 + v:get(i) ^ 2 end
        local std, want = math.sqrt(s2 / p.count), math.sqrt(2 / (d.k * d.k * d.out_c))
        check.near(std, want, INIT_STD_RTOL, p.path .. " weight std")
        sampled = sampled + 1
      elseif p.kind == "batchnorm" then
        local half = p.count // 2
        check.eq(v:view(0, {half}):sum(), half, p.path .. " weight is 1")
        check.eq(check.max_abs(v:view(half, {half})), 0, p.path .. " bias is 0")
      elseif p.kind == "linear" then
        local w = v:view(0, {d.in_f * d.out_f})
        check.truthy(check.max_abs(w) <= 1 / math.sqrt(d.in_f), p.path .. " weight bound")
      end
    end
    check.truthy(sampled >= 4, case[1] .. ": large convs sampled")
  end
end)

-- The shared-buffer dense blocks (harness/nn/dense.c) compute what the concat composition
-- computes, bit for bit, over a training step, a second step and an eval forward.
suite:test("densenet.shared_equals_concat", function()
  local input = load_fixture("wrn_densenet_input")
  local nets = {build("densenet", 4), build("densenet_concat", 4)}
  local out = {}
  for i, net in ipairs(nets) do
    net:init(train.rng(5, train.stream.init))
    local sgd = train.sgd{params = net:params(), grads = net:grads(), momentum = 0.9,
                          weight_decay = 1e-4, nesterov = false}
    local r = {}
    for step = 1, 2 do
      net:zero_grad()
      local z = net:forward(input.x, true)
      local dz = tensor.new(z:shape())
      train.softmax_xent(z, input.t, dz)
      r["dx" .. step] = net:backward(dz):clone()
      r["logits" .. step] = z:clone()
      sgd:step(0.1)
    end
    r.params, r.buffers = net:params():clone(), net:buffers():clone()
    r.eval = net:forward(input.x, false):clone()
    out[i] = r
  end
  for _, k in ipairs{"logits1", "dx1", "logits2", "dx2", "params", "buffers", "eval"} do
    check.same_bits(out[1][k], out[2][k], k)
  end
end)

suite:test("same_seed_same_bits", function()
  local input = load_fixture("wrn_densenet_input")
  for _, name in ipairs{"wrn", "densenet"} do
    local function run(seed)
      local net = build(name, 4)
      net:init(train.rng(seed, train.stream.init))
      local z = net:forward(input.x, true)
      local dz = tensor.new(z:shape())
      train.softmax_xent(z, input.t, dz)
      net:backward(dz)
      return net:params():clone(), z:clone(), net:grads():clone()
    end
    local p1, z1, g1 = run(42)
    local p2, z2, g2 = run(42)
    check.same_bits(p1, p2, name .. " init")
    check.same_bits(z1, z2, name .. " logits")
    check.same_bits(g1, g2, name .. " grads")
    check.truthy(p1:max_abs_diff(run(43)) > 0, name .. ": another seed gives other weights")
  end
end)

suite:finish()
