-- preact_resnet.lua: pre-activation ResNet for 32x32 CIFAR inputs (He et al. 2016, "Identity
-- Mappings in Deep Residual Networks"), in the two variants the mixup paper's code uses
-- (/work/shared/paper/PAPER_FACTS.md sections 3b and 3c):
--   official: facebookresearch/mixup-cifar10 models/resnet.py ResNet18: stem conv3x3 + BN +
--             ReLU; each block computes out = relu(bn1(x)) and adds shortcut(out), where the
--             shortcut is a 1x1 projection (no BN) or out itself.
--   kuangliu: kuangliu/pytorch-cifar PreActResNet18 (the paper cites it; hongyi-zhang/mixup
--             uses it): bare conv stem; identity shortcuts add the raw x, projections still
--             read relu(bn1(x)).
-- Both: 4 stages of basic blocks, widths w, 2w, 4w, 8w, strides 1, 2, 2, 2; no final BN-ReLU;
-- 4x4 average pooling; linear(8w -> classes). Convolutions have no bias.
-- Layer names and order follow the PyTorch modules (conv1, bn1, layer1.0.bn1, ...,
-- layer1.0.shortcut.0, linear), so the flat parameter vector lines up with parameters().
-- Initialisation: both codes keep PyTorch's defaults, hence init = "torch_default".
-- dropout = p > 0 puts a dropout layer in every block after the ReLU between its two
-- convolutions (WRN style: bn2-relu2-dropout-conv2), the mixup paper's "ERM + dropout" of the
-- corrupted-label table (PAPER_FACTS section 5); 0 (the default) adds no layer, so Table 2's
-- nets are unchanged.
-- mix_at = k in 1..5 puts a mix layer (latent mixup, harness/nn/mix.h) before residual stage k
-- (1-4) or before the final pooling and linear layer (5): the ICLR ablation's "layer 1" to
-- "layer 5" (PAPER_FACTS section 9; the placement is recalled, not sourced). 0 (the default)
-- adds nothing. A mix layer has no parameters, so the flat vector is unchanged.
-- bn_group = G > 0 normalises every batch norm over groups of G examples in training
-- (harness/nn/batchnorm.h: what G examples per worker give in data-parallel training; Goyal
-- et al.'s 32); 0 (the default) is the whole batch.
--
-- Usage: require("nets.preact_resnet"){variant = "official", num_classes = 10, width = 64,
-- depth = 18, init = "torch_default", dropout = 0, mix_at = 0, bn_group = 0} returns a
-- description for engine.nn.build with input {c = 3, h = 32, w = 32}.

local c = require "nets.containers"
local options = require "harness.lua.options"

local DEFAULTS = {variant = "official", num_classes = 10, width = 64, depth = 18,
                  init = "torch_default", dropout = 0.0, mix_at = 0, bn_group = 0}
local VARIANTS = {official = true, kuangliu = true}
-- Blocks per stage for each depth (fb.resnet's cfg table); the stages' width multipliers and
-- first strides.
local BLOCKS = {[18] = {2, 2, 2, 2}}
local STAGE_WIDTH = {1, 2, 4, 8}
local STAGE_STRIDE = {1, 2, 2, 2}
local POOL = 4 -- F.avg_pool2d(out, 4): the 4x4 maps of the last stage to 1x1

local function conv3x3(name, in_c, out_c, stride, init)
  return c.conv{name = name, in_c = in_c, out_c = out_c, k = 3, stride = stride, pad = 1,
                bias = false, init = init}
end

-- One basic block: bn1, relu, conv1, bn2, relu, conv2 (+ shortcut), in parameters() order.
local function block(o, name, in_c, out_c, stride)
  local bn1 = c.bn{name = "bn1", channels = in_c, group = o.bn_group}
  local convs = {conv3x3("conv1", in_c, out_c, stride, o.init),
                 c.bn{name = "bn2", channels = out_c, group = o.bn_group},
                 c.relu{name = "relu2"}}
  if o.dropout > 0 then convs[#convs + 1] = c.dropout{name = "dropout", p = o.dropout} end
  convs[#convs + 1] = conv3x3("conv2", out_c, out_c, 1, o.init)
  local proj = nil
  if stride ~= 1 or in_c ~= out_c then
    proj = c.sequential("shortcut", {c.conv{name = "0", in_c = in_c, out_c = out_c, k = 1,
                                            stride = stride, pad = 0, bias = false,
                                            init = o.init}})
  elseif o.variant == "kuangliu" then
    -- y = conv2(relu(bn2(conv1(relu(bn1(x)))))) + x
    table.insert(convs, 1, c.relu{name = "relu1"})
    table.insert(convs, 1, bn1)
    return c.residual(name, c.sequential("", convs), nil)
  end
  -- out = relu(bn1(x)); y = conv2(relu(bn2(conv1(out)))) + (proj(out) or out)
  return c.sequential(name, {bn1, c.relu{name = "relu1"},
                             c.residual("", c.sequential("", convs), proj)})
end

local function stage(o, index, in_c, out_c, n_blocks)
  local blocks = {}
  for b = 1, n_blocks do
    local stride = b == 1 and STAGE_STRIDE[index] or 1
    blocks[b] = block(o, tostring(b - 1), b == 1 and in_c or out_c, out_c, stride)
  end
  return c.sequential("layer" .. index, blocks)
end

local function check_options(opts)
  local o = c.merge_options("preact_resnet", opts, DEFAULTS)
  if not VARIANTS[o.variant] then
    options.fail("preact_resnet", "variant", o.variant, "one of kuangliu, official")
  end
  c.check_counts("preact_resnet", o, {"num_classes", "width"})
  if type(o.dropout) ~= "number" or not (o.dropout >= 0 and o.dropout < 1) then
    options.fail("preact_resnet", "dropout", o.dropout, "a number in [0, 1)")
  end
  c.check_bn_group("preact_resnet", o)
  if math.type(o.mix_at) ~= "integer" or o.mix_at < 0 or o.mix_at > 5 then
    options.fail("preact_resnet", "mix_at", o.mix_at,
                 "an integer in 0..5 (0: none; 1-4: before stage k; 5: before the pooling)")
  end
  local depths = c.sorted_keys(BLOCKS)
  if not BLOCKS[o.depth] then
    error(("preact_resnet: depth is %s, valid depths: %s"):format(tostring(o.depth),
          table.concat(depths, ", ")), 0)
  end
  return o
end

return function(opts)
  local o = check_options(opts or {})
  local w = o.width
  local layers = {conv3x3("conv1", 3, w, 1, o.init)}
  if o.variant == "official" then
    layers[#layers + 1] = c.bn{name = "bn1", channels = w, group = o.bn_group}
    layers[#layers + 1] = c.relu{name = "relu"}
  end
  local in_c = w
  for s, n in ipairs(BLOCKS[o.depth]) do
    local out_c = w * STAGE_WIDTH[s]
    if o.mix_at == s then layers[#layers + 1] = c.mix{name = "mix"} end
    layers[#layers + 1] = stage(o, s, in_c, out_c, n)
    in_c = out_c
  end
  if o.mix_at == 5 then layers[#layers + 1] = c.mix{name = "mix"} end
  layers[#layers + 1] = c.avgpool{name = "avgpool", k = POOL}
  layers[#layers + 1] = c.flatten{name = "flatten"}
  layers[#layers + 1] = c.linear{name = "linear", in_f = in_c, out_f = o.num_classes,
                                 init = o.init}
  return c.sequential("preact_resnet", layers)
end
