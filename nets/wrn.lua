-- wrn.lua: Wide Residual Networks for 32x32 CIFAR inputs (Zagoruyko and Komodakis 2016,
-- "Wide Residual Networks"), WRN-d-k as szagoruyko/wide-residual-networks implements it (the
-- mixup paper cites that code, /work/shared/paper/PAPER_FACTS.md section 3a):
--   - 3x3 conv stem to base_width (16) channels;
--   - three groups of n = (depth - 4) / 6 pre-activation basic blocks, widths 16k, 32k, 64k,
--     strides 1, 2, 2; a block is bn1-relu1-conv1(3x3, stride)-bn2-relu2-[dropout]-conv2(3x3);
--   - where the width changes, the shortcut is a 1x1 conv (stride as conv1, no BN) that reads
--     the pre-activated input relu1(bn1(x)); otherwise it is the identity on the raw x;
--   - final bn-relu, 8x8 average pooling (global here: the last maps are 8x8), linear.
-- Structure and names: the PyTorch port xternalz/WideResNet-pytorch wideresnet.py (conv1,
-- block<g>.layer.<i>.{bn1, conv1, bn2, conv2, convShortcut}, bn1, fc), whose BasicBlock is
-- the Lua original's wide_basic; so the flat parameter vector lines up with parameters().
-- Dropout sits where the Lua original puts it (models/wide-resnet.lua: BN-ReLU-Dropout-Conv);
-- the PyTorch port drops after conv1 instead. Table 2 runs without dropout.
-- Convolutions have no bias in both codes (utils.DisableBias; bias=False).
-- Initialisation (init = "he_normal", the reference's): convs N(0, sqrt(2 / (kh kw out_c)))
-- (utils.MSRinit, fan-out), BN weight 1 and bias 0 (the engine's BN init), linear weight
-- U(-1/sqrt(in), 1/sqrt(in)) (the default both codes keep) and bias 0 (utils.FCinit). The
-- engine has no scheme "default weight, zero bias" for a linear layer yet, so the classifier
-- bias here starts at PyTorch's default U(-1/sqrt(in), 1/sqrt(in)) (at most 0.04 for
-- in = 640), the one known deviation. init = "torch_default" keeps PyTorch's defaults
-- everywhere.
-- Parameters: WRN-28-10 has 36,479,194 (10 classes) and 36,536,884 (100 classes).
-- bn_group = G > 0 normalises every batch norm over groups of G examples in training
-- (harness/nn/batchnorm.c; data-parallel runs need it: harness/lua/data_parallel.lua); 0, the
-- default, the whole batch.
--
-- Usage: require("nets.wrn"){depth = 28, widen_factor = 10, num_classes = 10, dropout = 0,
-- init = "he_normal", bn_group = 0} returns a description for engine.nn.build with input
-- {c = 3, h = 32, w = 32}. base_width (16 in the reference) exists so that tests can build a
-- narrow net.

local c = require "nets.containers"
local options = require "harness.lua.options"

local DEFAULTS = {depth = 28, widen_factor = 10, num_classes = 10, dropout = 0.0,
                  init = "he_normal", base_width = 16, bn_group = 0}
-- Engine init scheme of the convolutions and of the classifier for each init option.
local INITS = {he_normal = {conv = "he_normal", linear = "torch_default"},
               torch_default = {conv = "torch_default", linear = "torch_default"}}
-- Blocks per group for each depth (depth = 6 n + 4); 10 is the smallest (tests), 16 to 40
-- are the depths of the WRN paper's tables.
local BLOCKS = {[10] = 1, [16] = 2, [22] = 3, [28] = 4, [34] = 5, [40] = 6}
local GROUP_WIDTH = {1, 2, 4}  -- multiples of base_width * widen_factor
local GROUP_STRIDE = {1, 2, 2}

local function conv3x3(name, in_c, out_c, stride, init)
  return c.conv{name = name, in_c = in_c, out_c = out_c, k = 3, stride = stride, pad = 1,
                bias = false, init = init}
end

-- One wide_basic block, modules in parameters() order: bn1, conv1, bn2, conv2, convShortcut.
local function block(o, name, in_c, out_c, stride)
  local init = INITS[o.init].conv
  local bn1 = c.bn{name = "bn1", channels = in_c, group = o.bn_group}
  local relu1 = c.relu{name = "relu1"}
  local convs = {conv3x3("conv1", in_c, out_c, stride, init),
                 c.bn{name = "bn2", channels = out_c, group = o.bn_group},
                 c.relu{name = "relu2"}}
  if o.dropout > 0 then convs[#convs + 1] = c.dropout{name = "dropout", p = o.dropout} end
  convs[#convs + 1] = conv3x3("conv2", out_c, out_c, 1, init)
  if in_c == out_c then
    -- y = conv2(relu2(bn2(conv1(relu1(bn1(x)))))) + x
    assert(stride == 1, "wrn: an identity shortcut needs stride 1")
    table.insert(convs, 1, relu1)
    table.insert(convs, 1, bn1)
    return c.residual(name, c.sequential("", convs), nil)
  end
  -- a = relu1(bn1(x)); y = conv2(relu2(bn2(conv1(a)))) + convShortcut(a)
  local shortcut = c.conv{name = "convShortcut", in_c = in_c, out_c = out_c, k = 1,
                          stride = stride, pad = 0, bias = false, init = init}
  return c.sequential(name, {bn1, relu1, c.residual("", c.sequential("", convs), shortcut)})
end

-- NetworkBlock: n blocks, the first one changing width and stride.
local function group(o, index, in_c, out_c, n)
  local blocks = {}
  for b = 1, n do
    blocks[b] = block(o, tostring(b - 1), b == 1 and in_c or out_c, out_c,
                      b == 1 and GROUP_STRIDE[index] or 1)
  end
  return c.sequential("block" .. index, {c.sequential("layer", blocks)})
end

local function check_options(opts)
  local o = c.merge_options("wrn", opts, DEFAULTS)
  c.check_counts("wrn", o, {"widen_factor", "num_classes", "base_width"})
  c.check_bn_group("wrn", o)
  if not (o.dropout >= 0 and o.dropout < 1) then
    options.fail("wrn", "dropout", o.dropout, "a number in [0, 1)")
  end
  if not INITS[o.init] then
    options.fail("wrn", "init", o.init, "one of " .. table.concat(c.sorted_keys(INITS), ", "))
  end
  local depths = c.sorted_keys(BLOCKS)
  if not BLOCKS[o.depth] then
    error(("wrn: depth is %s, valid depths: %s"):format(tostring(o.depth),
          table.concat(depths, ", ")), 0)
  end
  return o
end

return function(opts)
  local o = check_options(opts or {})
  local layers = {conv3x3("conv1", 3, o.base_width, 1, INITS[o.init].conv)}
  local in_c = o.base_width
  for g = 1, #GROUP_WIDTH do
    local out_c = o.base_width * o.widen_factor * GROUP_WIDTH[g]
    layers[#layers + 1] = group(o, g, in_c, out_c, BLOCKS[o.depth])
    in_c = out_c
  end
  layers[#layers + 1] = c.bn{name = "bn1", channels = in_c, group = o.bn_group}
  layers[#layers + 1] = c.relu{name = "relu"}
  layers[#layers + 1] = c.global_avgpool{name = "avgpool"}
  layers[#layers + 1] = c.flatten{name = "flatten"}
  layers[#layers + 1] = c.linear{name = "fc", in_f = in_c, out_f = o.num_classes,
                                 init = INITS[o.init].linear}
  return c.sequential("wrn", layers)
end
