-- conv_tune.lua: the "auto" convolution algorithm (nn.set_conv_algo("auto"), run.lua
-- --conv-algo auto): every conv layer of a net gets the fastest of direct, im2col and winograd
-- (harness/nn/conv.h), measured once when the net is built, on the net's own shapes, batch
-- and thread count: the net is built under each algorithm, STEPS forward + backward passes are
-- timed per layer (net:profile) after one untimed, and the net is built again with each
-- layer's fastest (nn.build's conv_algos). Ties keep the earlier of ALGOS.
--
--   local conv_tune = require "harness.lua.conv_tune"
--   local net, choice = conv_tune.build(desc, shape, {batch =, threads =})
--   -- choice: {[path] = {algo =, seconds = {direct =, im2col =, winograd =}}} (winograd
--   -- only for the layers Winograd can run: 3x3, stride 1, pad 1, C and K multiples of 16)
--
-- The choice rests on timings, so two builds on a busy machine may choose apart and train
-- different bits: the results' provenance names the layers that ran Winograd
-- (provenance.winograd), and a resume refuses a checkpoint whose set differs. The default
-- setting, "default", is a fixed rule measured once (conv.c's wino_pays), so that the bits of a
-- run do not depend on timing noise. A dense block's inner convs are not net leaves and keep
-- the rule. Not for --data-parallel: every rank must choose alike (experiments/run.lua).

local nn = require "engine.nn"
local tensor = require "engine.tensor"
local train = require "engine.train"

local M = {}

M.ALGOS = {"direct", "im2col", "winograd"}
M.STEPS = 2

-- {[path] = seconds of forward + backward over STEPS passes} of the conv leaves of desc built
-- under algo.
local function conv_times(desc, shape, opts, algo)
  local net = nn.build(desc, shape, {batch = opts.batch, threads = opts.threads,
                                     conv_algo = algo})
  net:init(train.rng(1, train.stream.init))
  local x = tensor.new{opts.batch, shape.c, shape.h, shape.w}
  x:fill(0.5) -- the kernels' time does not depend on the values
  local z = net:forward(x, true)
  local dz = tensor.new(z:shape())
  dz:fill(0.01)
  net:backward(dz, false)
  net:profile(true)
  for _ = 1, M.STEPS do
    net:forward(x, true)
    net:backward(dz, false)
  end
  -- under winograd, only the layers that run it (the others ran their direct paths)
  local runs_it = {}
  for _, path in ipairs(net:winograd()) do runs_it[path] = true end
  local times = {}
  for _, leaf in ipairs(net:profile()) do
    if leaf.kind == "conv" and (algo ~= "winograd" or runs_it[leaf.path]) then
      times[leaf.path] = leaf.forward + leaf.backward
    end
  end
  return times
end

function M.build(desc, shape, opts)
  local choice = {}
  for _, algo in ipairs(M.ALGOS) do
    for path, s in pairs(conv_times(desc, shape, opts, algo)) do
      local c = choice[path] or {seconds = {}}
      choice[path] = c
      c.seconds[algo] = s
      if not c.algo or s < c.seconds[c.algo] then c.algo = algo end
    end
    collectgarbage() -- the timing net's memory, before the next is built
  end
  local algos = {}
  for path, c in pairs(choice) do algos[path] = c.algo end
  return nn.build(desc, shape, {batch = opts.batch, threads = opts.threads,
                                conv_algos = algos}), choice
end

return M
