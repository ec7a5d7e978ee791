-- resnet.lua: the ImageNet ResNets and ResNeXts of Table 1 (PAPER_FACTS sections 2 and 14):
-- ResNet-50 and -101 as fb.resnet.torch and Goyal et al. 2017 build them, and ResNeXt-101
-- 32x4d and 64x4d (Xie et al. 2017), with torchvision's module names (models/resnet.py) so
-- that the flat parameter vector lines up with its parameters():
--   - stem: conv1 7x7/2 (3 -> width), bn1, relu, maxpool 3x3/2 pad 1;
--   - layer1..layer4: blocks[s] bottleneck blocks of planes p = width (1, 2, 4, 8) and output
--     4 p; the first block of layers 2-4 has stride 2; a block is conv1 1x1 (-> m) - bn1 -
--     relu - conv2 3x3 (m, groups, stride) - bn2 - relu - conv3 1x1 (-> 4 p) - bn3, plus the
--     shortcut, then relu; m = floor(p width_per_group / 64) groups (torchvision's rule: m = p
--     for ResNet, 2 p for 32x4d, 4 p for 64x4d); the shortcut is "downsample" (conv 1x1 with
--     the block's stride, then BN) where the shape changes, else the identity;
--   - avgpool (global), fc (4 * 8 width -> num_classes).
-- stride_on = "3x3" puts a block's stride on conv2 (fb.resnet.torch, Goyal et al.,
-- torchvision: "ResNet v1.5"); "1x1" on conv1 (the original Caffe ResNet). Which one the
-- mixup authors' Caffe2 code used is not stated (PAPER_FACTS section 2: unverified); "3x3" is
-- the default because Goyal et al., whose recipe Table 1 follows, state it.
-- Initialisation (init):
--   "goyal" (default, Goyal et al. section 5.1): convs N(0, sqrt(2 / (k^2 out))) (He, fan-out),
--           fc N(0, 0.01) with bias 0, BN gamma 1 and beta 0 except gamma = 0 on bn3 of every
--           block, so that each block starts as its shortcut;
--   "fb_resnet" (fb.resnet.torch models/resnet.lua): the same convs, every gamma 1, fc as
--           torch's nn.Linear default, U(-1/sqrt(in), 1/sqrt(in)); fb.resnet.torch zeroes the
--           fc bias, which the engine's scheme does not (at most 0.022 for in = 2048: the one
--           known deviation, as in nets/wrn.lua).
-- Weight decay on BN parameters is the optimiser's choice (optim.decay_all_params: Goyal et
-- al. exempt gamma and beta, fb.resnet.torch decays everything).
-- bn_group = G > 0 normalises every batch norm over groups of G examples in training
-- (Goyal et al.'s 32 per worker; harness/nn/batchnorm.c); 0, the whole batch.
-- Parameters: ResNet-50 25,557,032; ResNet-101 44,549,160; ResNeXt-101 32x4d 44,177,704;
-- 64x4d 83,455,272 (1,000 classes; tests/lua/test_resnet.lua).
--
-- Usage: require("nets.resnet"){depth = 50, groups = 1, width_per_group = 64,
-- num_classes = 1000, init = "goyal", stride_on = "3x3", bn_group = 0} returns a description
-- for engine.nn.build with input {c = 3, h = 224, w = 224} (any size the stride-32 stem and
-- stages reduce to at least 1x1). width (64) and blocks (a list of 4 counts replacing depth's)
-- exist so that tests can build a narrow, short net.

local c = require "nets.containers"
local options = require "harness.lua.options"

local DEFAULTS = {depth = 50, groups = 1, width_per_group = 64, num_classes = 1000,
                  init = "goyal", stride_on = "3x3", bn_group = 0, width = 64, blocks = {}}
-- Bottleneck blocks per stage for each depth (torchvision's and fb.resnet.torch's cfg).
local BLOCKS = {[50] = {3, 4, 6, 3}, [101] = {3, 4, 23, 3}, [152] = {3, 8, 36, 3}}
local EXPANSION = 4
local STAGE_PLANES = {1, 2, 4, 8}
-- Engine init schemes: the convolutions', the classifier's, and whether bn3 starts at 0.
local INITS = {goyal = {conv = "he_normal", fc = "normal_0.01", zero_gamma = true},
               fb_resnet = {conv = "he_normal", fc = "torch_default", zero_gamma = false}}

local function conv(name, in_c, out_c, k, stride, o, groups)
  return c.conv{name = name, in_c = in_c, out_c = out_c, k = k, stride = stride,
                pad = (k - 1) // 2, groups = groups or 1, bias = false,
                init = INITS[o.init].conv}
end

local function bn(name, channels, o, zero_gamma)
  return c.bn{name = name, channels = channels, group = o.bn_group,
              zero_gamma = zero_gamma or false}
end

-- One bottleneck block (torchvision's Bottleneck): y = relu(main(x) + shortcut(x)).
local function block(o, name, in_c, planes, stride)
  local m = (planes * o.width_per_group // 64) * o.groups
  local out_c = planes * EXPANSION
  local s1, s3 = 1, stride
  if o.stride_on == "1x1" then s1, s3 = stride, 1 end
  local main = c.sequential("", {
    conv("conv1", in_c, m, 1, s1, o), bn("bn1", m, o), c.relu{name = "relu1"},
    conv("conv2", m, m, 3, s3, o, o.groups), bn("bn2", m, o), c.relu{name = "relu2"},
    conv("conv3", m, out_c, 1, 1, o), bn("bn3", out_c, o, INITS[o.init].zero_gamma),
  })
  local shortcut = nil
  if stride ~= 1 or in_c ~= out_c then
    shortcut = c.sequential("downsample", {conv("0", in_c, out_c, 1, stride, o), bn("1", out_c, o)})
  end
  return c.sequential(name, {c.residual("", main, shortcut), c.relu{name = "relu"}})
end

local function check_options(opts)
  local o = c.merge_options("resnet", opts, DEFAULTS)
  c.check_counts("resnet", o, {"groups", "width_per_group", "num_classes", "width"})
  c.check_bn_group("resnet", o)
  if not INITS[o.init] then
    options.fail("resnet", "init", o.init, "one of " .. table.concat(c.sorted_keys(INITS), ", "))
  end
  if o.stride_on ~= "3x3" and o.stride_on ~= "1x1" then
    options.fail("resnet", "stride_on", o.stride_on, "\"3x3\" or \"1x1\"")
  end
  if #o.blocks == 0 then
    if not BLOCKS[o.depth] then
      error(("resnet: depth is %s, valid depths: %s"):format(tostring(o.depth),
            table.concat(c.sorted_keys(BLOCKS), ", ")), 0)
    end
    o.blocks = BLOCKS[o.depth]
  else
    local ok = #o.blocks == 4
    for _, n in ipairs(o.blocks) do ok = ok and math.type(n) == "integer" and n >= 1 end
    if not ok then
      options.fail("resnet", "blocks", o.blocks, "4 integers >= 1 (blocks per stage)")
    end
  end
  return o
end

return function(opts)
  local o = check_options(opts or {})
  local w = o.width
  local layers = {conv("conv1", 3, w, 7, 2, o), bn("bn1", w, o), c.relu{name = "relu"},
                  c.maxpool{name = "maxpool", k = 3, stride = 2, pad = 1}}
  local in_c = w
  for s, n in ipairs(o.blocks) do
    local planes = w * STAGE_PLANES[s]
    local blocks = {}
    for b = 1, n do
      blocks[b] = block(o, tostring(b - 1), in_c, planes, (b == 1 and s > 1) and 2 or 1)
      in_c = planes * EXPANSION
    end
    layers[#layers + 1] = c.sequential("layer" .. s, blocks)
  end
  layers[#layers + 1] = c.global_avgpool{name = "avgpool"}
  layers[#layers + 1] = c.flatten{name = "flatten"}
  layers[#layers + 1] = c.linear{name = "fc", in_f = in_c, out_f = o.num_classes,
                                 init = INITS[o.init].fc}
  return c.sequential("resnet", layers)
end
