-- test_resnet.lua: the Table 1 nets (nets/resnet.lua) against torchvision 0.14 through the
-- fixtures of tests/fixtures/gen_resnet.py: parameter counts of ResNet-50/101 and ResNeXt-101
-- 32x4d/64x4d; options and their errors; parameter order and sizes of three reduced nets
-- (blocks 2, 1, 1, 1, width 2: ResNet, ResNeXt with 2 groups, and the stride on the 1x1) and
-- their training-mode logits, loss, dx, gradients, BN running statistics and evaluation
-- logits at batch 4; the two initialisations (Goyal et al.'s, fb.resnet.torch's); and batch
-- norm in groups.
local tensor = require "engine.tensor"
local nn = require "engine.nn"
local train = require "engine.train"
local resnet = require "nets.resnet"
local check = require "tests.lua.check"

local suite = check.suite(...)

-- 32x32 suffices for any count: the stem and stages take it to 1x1, and no parameter depends
-- on the size.
local INPUT = {c = 3, h = 32, w = 32}
-- The fixtures' reduced nets (gen_resnet.py WIDTH, BLOCKS, groups).
local SMALL = {width = 2, blocks = {2, 1, 1, 1}, num_classes = 10}
local FIXTURES = {
  resnet = {},
  resnext = {groups = 2, width_per_group = 64},
  resnet_1x1 = {stride_on = "1x1"},
}

-- The reference is float64 from the same float32 inputs and parameters; we run float32.
-- layer4's batch norms see 4 values per channel (batch 4 at 1x1), whose small variances
-- amplify float32 rounding in training mode: observed (1 and 2 threads alike) logits 1.3e-5,
-- dx 3.8e-5, grads 4.2e-5 at most over the three nets, 20 to 60 times test_wrn_densenet.lua's;
-- evaluation mode (running statistics) stays at 6e-7 and the running statistics at 7e-7.
-- The bounds are about 5 times the worst observation; a misplaced stride, group or shortcut
-- moves every quantity by order 1.
local LOGITS_RTOL = 1e-4
local LOSS_RTOL = 1e-5
local DX_RTOL = 2e-4
local GRADS_RTOL = 2e-4
local BUFFERS_RTOL = 5e-6
local EVAL_RTOL = 5e-6
-- Groups of 2 against halves: the same arithmetic but for the GEMM kernels, which depend on
-- the batch at layer4's 1x1 maps.
local GROUPS_RTOL = 1e-5
-- He-normal: the sample std of m weights has relative standard error 1/sqrt(2 m); m >= 9,216
-- gives <= 0.74 %, so 4 % is over 5 standard errors. The fc's N(0, 0.01) over 20,480 weights
-- likewise.
local INIT_STD_RTOL = 0.04

local function small(name, extra)
  local o = {}
  for k, v in pairs(SMALL) do o[k] = v end
  for k, v in pairs(FIXTURES[name] or {}) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return resnet(o)
end

suite:test("parameter_counts", function()
  -- torchvision's published counts (resnet50, resnet101, resnext101_64x4d) and 32x4d by the
  -- same rule (gen_resnet.py prints them from torchvision)
  for _, case in ipairs{
    {{depth = 50}, 25557032, "ResNet-50"},
    {{depth = 101}, 44549160, "ResNet-101"},
    {{depth = 101, groups = 32, width_per_group = 4}, 44177704, "ResNeXt-101 32x4d"},
    {{depth = 101, groups = 64, width_per_group = 4}, 83455272, "ResNeXt-101 64x4d"},
    {{depth = 50, groups = 32, width_per_group = 4}, 25028904, "ResNeXt-50 32x4d"},
  } do
    local net = nn.build(resnet(case[1]), INPUT, {batch = 1})
    check.eq(net:num_params(), case[2], case[3])
    net = nil
    collectgarbage()
  end
end)

suite:test("options_are_strict", function()
  check.raises(function() resnet{widht = 4} end, "resnet: unknown option 'widht' (known: "
               .. "blocks, bn_group, depth, groups, init, num_classes, stride_on, width, "
               .. "width_per_group)", "unknown option")
  check.raises(function() resnet{depth = 34} end,
               "resnet: depth is 34, valid depths: 50, 101, 152", "depth")
  check.raises(function() resnet{groups = 0} end,
               "resnet: option 'groups' is integer 0, expected an integer >= 1", "groups")
  check.raises(function() resnet{init = "xavier"} end,
               "resnet: option 'init' is string \"xavier\", expected one of fb_resnet, goyal",
               "init")
  check.raises(function() resnet{stride_on = "3"} end, "option 'stride_on' is string \"3\"",
               "stride_on")
  check.raises(function() resnet{blocks = {1, 2}} end,
               "expected 4 integers >= 1 (blocks per stage)", "blocks")
end)

for _, name in ipairs{"resnet", "resnext", "resnet_1x1"} do
  suite:test(name .. ".parameter_order", function()
    local fx, names = check.fixture(name)
    check.param_order(nn.build(small(name), INPUT, {batch = 1}), fx, names, "resnet.")
  end)

  suite:test(name .. ".forward_backward_vs_torchvision", function()
    local input = check.fixture("wrn_densenet_input")
    local fx = check.fixture(name)
    local net = nn.build(small(name), INPUT, {batch = input.x:shape()[1]})
    net:init(train.rng(1, train.stream.init)) -- BN buffers: mean 0, var 1
    net:params():copy(fx.params0)
    net:zero_grad()
    local z = net:forward(input.x, true)
    local seen = {check.close(z, fx.logits0, LOGITS_RTOL, "logits")}
    local dz = tensor.new(z:shape())
    local loss = train.softmax_xent(z, input.t, dz)
    check.near(loss, fx.loss0:get(1), LOSS_RTOL, "loss")
    seen[6] = math.abs(loss - fx.loss0:get(1)) / math.abs(fx.loss0:get(1))
    seen[2] = check.close(net:backward(dz), fx.dx0, DX_RTOL, "dx")
    seen[3] = check.close(net:grads(), fx.grads0, GRADS_RTOL, "grads")
    seen[4] = check.close(net:buffers(), fx.buffers1, BUFFERS_RTOL, "BN running stats")
    seen[5] = check.close(net:forward(input.x, false), fx.logits_eval1, EVAL_RTOL, "eval logits")
    print(("  %s: logits %.2g, dx %.2g, grads %.2g, buffers %.2g, eval %.2g, loss %.2g")
          :format(name,
          table.unpack(seen)))
  end)
end

-- Goyal et al.: convs N(0, sqrt(2 / (k^2 out))), bn3 gamma 0 and every other gamma 1, betas
-- 0, fc N(0, 0.01) with bias 0. fb.resnet.torch: every gamma 1, fc within U(-1/sqrt(in),
-- 1/sqrt(in)).
suite:test("initialisations", function()
  for _, init in ipairs{"goyal", "fb_resnet"} do
    local desc = resnet{depth = 50, init = init, num_classes = 10}
    local by_path = check.leaves(desc)
    local net = nn.build(desc, INPUT, {batch = 1})
    net:init(train.rng(3, train.stream.init))
    local params = net:params()
    local convs, zeros, ones = 0, 0, 0
    for _, p in ipairs(net:param_info()) do
      local d, v = by_path[p.path], params:view(p.offset, {p.count})
      local what = init .. " " .. p.path
      if p.kind == "conv" and p.count >= 9216 then
        local s2 = 0
        for i = 1, p.count do s2 = s2 + v:get(i) ^ 2 end
        check.near(math.sqrt(s2 / p.count), math.sqrt(2 / (d.k * d.k * d.out_c)),
                   INIT_STD_RTOL, what .. " weight std")
        convs = convs + 1
      elseif p.kind == "batchnorm" then
        local half = p.count // 2
        local gamma = v:view(0, {half}):sum() / half
        local want = (init == "goyal" and p.path:match("%.bn3$")) and 0 or 1
        check.eq(gamma, want, what .. " gamma")
        check.eq(check.max_abs(v:view(half, {half})), 0, what .. " beta is 0")
        if want == 0 then zeros = zeros + 1 else ones = ones + 1 end
      elseif p.kind == "linear" then
        local w = v:view(0, {d.in_f * d.out_f})
        if init == "goyal" then
          local s2 = 0
          for i = 1, w:size() do s2 = s2 + w:get(i) ^ 2 end
          check.near(math.sqrt(s2 / w:size()), 0.01, INIT_STD_RTOL, what .. " weight std")
          check.eq(check.max_abs(v:view(d.in_f * d.out_f, {d.out_f})), 0, what .. " bias")
        else
          check.truthy(check.max_abs(w) <= 1 / math.sqrt(d.in_f), what .. " weight bound")
        end
      end
    end
    check.truthy(convs >= 20, init .. ": large convs sampled: " .. convs)
    check.eq(zeros, init == "goyal" and 16 or 0, init .. ": zero gammas (one per block)")
    check.eq(ones, init == "goyal" and 37 or 53, init .. ": gammas at 1")
  end
end)

-- bn_group = G: every batch norm gets group G; groups of 2 equal the two halves on their own.
suite:test("bn_group_normalises_per_group", function()
  check.raises(function() resnet{bn_group = -1} end, "option 'bn_group' is integer -1", "-1")
  local function build(group)
    local net = nn.build(small("resnet", {bn_group = group}), INPUT, {batch = 4})
    net:init(train.rng(7, train.stream.init))
    return net
  end
  check.groups_equal_halves(build(2), build(0), GROUPS_RTOL)
end)

suite:finish()
