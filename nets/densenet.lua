-- densenet.lua: DenseNet-BC for 32x32 CIFAR inputs (Huang et al. 2017, "Densely Connected
-- Convolutional Networks"), as andreasveit/densenet-pytorch densenet.py (DenseNet3 with
-- bottleneck = True) implements it; the mixup paper cites that code with growth 40 for
-- DenseNet-BC-190 (/work/shared/paper/PAPER_FACTS.md sections 3a and 3b):
--   - 3x3 conv stem to 2k channels (k = growth);
--   - three dense blocks of n = (depth - 4) / 6 bottleneck layers; a layer maps its input x
--     (C channels) to [x, conv2(relu(bn2(conv1(relu(bn1(x))))))], conv1 1x1 to 4k channels,
--     conv2 3x3 (pad 1) to k channels, so a block adds n k channels;
--   - after blocks 1 and 2 a transition: bn1-relu-conv1 (1x1, C to floor(C compression)
--     channels)-2x2 average pooling;
--   - final bn-relu, 8x8 average pooling (global here: the last maps are 8x8), linear.
-- Names follow the PyTorch modules (conv1, block<b>.layer.<i>.{bn1, conv1, bn2, conv2},
-- trans<b>.{bn1, conv1}, bn1, fc), so the flat parameter vector lines up with parameters().
-- Convolutions have no bias. The reference applies F.dropout(p = 1e-7) after each conv of a
-- layer in training (a "cuDNN hot fix" for dropRate 0); it is left out: it rescales by
-- 1 + 1e-7 and drops about one activation in ten million.
-- Initialisation (init = "he_normal", the reference's): convs N(0, sqrt(2 / (kh kw out_c)))
-- (fan-out), BN weight 1 and bias 0, linear weight PyTorch's default U(-1/sqrt(in),
-- 1/sqrt(in)) and bias 0 (the reference zeroes it). The engine has no linear scheme "default
-- weight, zero bias" yet, so the classifier bias starts at PyTorch's default
-- U(-1/sqrt(in), 1/sqrt(in)) (at most 0.021 for BC-190's 2,190 channels), the one known
-- deviation.
-- init = "torch_default" keeps PyTorch's defaults everywhere.
-- Parameters: BC-190 k = 40 has 25,624,430 (10 classes) and 25,821,620 (100); BC-100 k = 12
-- has 769,162 (10 classes).
--
-- Memory (option shared_memory): true (default) makes each dense block one engine
-- dense_block (harness/nn/dense.h), whose layers share one growing feature buffer and recompute
-- bn1-relu in backward, so activation memory grows linearly with the depth; false builds every
-- layer as concat(identity, bottleneck) from the generic containers, which copies each
-- layer's input into its output (memory quadratic in the depth: DenseNet-BC-190 needs about
-- 1.3 GB per example). Both compute the same numbers, bit for bit (tests/engine/test_dense.c).
--
-- Usage: require("nets.densenet"){depth = 190, growth = 40, compression = 0.5,
-- num_classes = 10, init = "he_normal", shared_memory = true} returns a description for
-- engine.nn.build with input {c = 3, h = 32, w = 32}.

local c = require "nets.containers"
local options = require "harness.lua.options"

local DEFAULTS = {depth = 190, growth = 40, compression = 0.5, num_classes = 10,
                  init = "he_normal", shared_memory = true}
local INITS = {he_normal = {conv = "he_normal", linear = "torch_default"},
               torch_default = {conv = "torch_default", linear = "torch_default"}}
-- Bottleneck layers per dense block for each depth (depth = 6 n + 4: 3 blocks of n layers
-- with 2 convs each, the stem, 2 transitions and the classifier). 10 to 22: tests; 100, 190
-- and 250: DenseNet-BC in the DenseNet paper's Table 2.
local LAYERS = {[10] = 1, [16] = 2, [22] = 3, [40] = 6, [100] = 16, [190] = 31, [250] = 41}
local N_BLOCKS = 3
local BOTTLENECK = 4 -- conv1 widens to 4k channels (inter_planes = out_planes * 4)
local POOL = 2       -- transitions: F.avg_pool2d(out, 2)

-- BottleneckBlock: y = [x, conv2(relu(bn2(conv1(relu(bn1(x))))))].
local function dense_layer(o, name, in_c)
  local k, init = o.growth, INITS[o.init].conv
  local inner = BOTTLENECK * k
  local branch = c.sequential("", {
    c.bn{name = "bn1", channels = in_c}, c.relu{name = "relu1"},
    c.conv{name = "conv1", in_c = in_c, out_c = inner, k = 1, pad = 0, bias = false,
           init = init},
    c.bn{name = "bn2", channels = inner}, c.relu{name = "relu2"},
    c.conv{name = "conv2", in_c = inner, out_c = k, k = 3, pad = 1, bias = false,
           init = init},
  })
  return c.concat(name, {c.identity{name = "identity"}, branch})
end

local function dense_block(o, index, in_c, n)
  if o.shared_memory then
    -- the same modules and paths (block<b>.layer.<i>.bn1 ...), created by the engine
    return {kind = "dense_block", name = "block" .. index, in_c = in_c, layers = n,
            growth = o.growth, bottleneck = BOTTLENECK * o.growth,
            init = INITS[o.init].conv}
  end
  local layers = {}
  for i = 1, n do layers[i] = dense_layer(o, tostring(i - 1), in_c + (i - 1) * o.growth) end
  return c.sequential("block" .. index, {c.sequential("layer", layers)})
end

local function transition(o, index, in_c, out_c)
  return c.sequential("trans" .. index, {
    c.bn{name = "bn1", channels = in_c}, c.relu{name = "relu"},
    c.conv{name = "conv1", in_c = in_c, out_c = out_c, k = 1, pad = 0, bias = false,
           init = INITS[o.init].conv},
    c.avgpool{name = "avgpool", k = POOL},
  })
end

local function check_options(opts)
  local o = c.merge_options("densenet", opts, DEFAULTS)
  for _, k in ipairs{"growth", "num_classes"} do
    if math.type(o[k]) ~= "integer" or o[k] < 1 then
      options.fail("densenet", k, o[k], "an integer >= 1")
    end
  end
  if not (o.compression > 0 and o.compression <= 1) then
    options.fail("densenet", "compression", o.compression, "a number in (0, 1]")
  end
  if not INITS[o.init] then
    options.fail("densenet", "init", o.init, "one of " .. table.concat(c.sorted_keys(INITS), ", "))
  end
  local depths = c.sorted_keys(LAYERS)
  if not LAYERS[o.depth] then
    error(("densenet: depth is %s, valid depths: %s"):format(tostring(o.depth),
          table.concat(depths, ", ")), 0)
  end
  return o
end

return function(opts)
  local o = check_options(opts or {})
  local n = LAYERS[o.depth]
  local ch = 2 * o.growth
  local layers = {c.conv{name = "conv1", in_c = 3, out_c = ch, k = 3, pad = 1, bias = false,
                         init = INITS[o.init].conv}}
  for b = 1, N_BLOCKS do
    layers[#layers + 1] = dense_block(o, b, ch, n)
    ch = ch + n * o.growth
    if b < N_BLOCKS then
      -- int(math.floor(in_planes * reduction)), in double as Python computes it
      local out_c = math.floor(ch * o.compression)
      if out_c < 1 then
        error(("densenet: compression %s leaves no channels of %d"):format(
              tostring(o.compression), ch), 2)
      end
      layers[#layers + 1] = transition(o, b, ch, out_c)
      ch = out_c
    end
  end
  layers[#layers + 1] = c.bn{name = "bn1", channels = ch}
  layers[#layers + 1] = c.relu{name = "relu"}
  layers[#layers + 1] = c.global_avgpool{name = "avgpool"}
  layers[#layers + 1] = c.flatten{name = "flatten"}
  layers[#layers + 1] = c.linear{name = "fc", in_f = ch, out_f = o.num_classes,
                                 init = INITS[o.init].linear}
  return c.sequential("densenet", layers)
end
