-- bench.lua WIDTH THREADS BATCH STEPS [ALGO]: one training step (forward, backward, SGD
-- momentum 0.9, weight decay 1e-4) of the official PreAct ResNet-18 on random 32x32 inputs,
-- its convolutions under ALGO (harness/nn/conv.h; default: the process's, "default"). Prints
--   mixup images_per_s=<f> peak_rss_mib=<f> threads=<n> width=<w> winograd=<layers>
--   blas=<description>
-- Run one configuration per process so that the peak resident memory is that config's.
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local preact_resnet = require "nets.preact_resnet"

local width, threads, batch, steps, algo = ...
width, threads = math.tointeger(tonumber(width)), math.tointeger(tonumber(threads))
batch, steps = math.tointeger(tonumber(batch)), math.tointeger(tonumber(steps))
assert(width and threads and batch and steps,
       "usage: mixup tools/bench.lua WIDTH THREADS BATCH STEPS")

local function peak_rss_mib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) / 1024
end

nn.set_threads(threads)
if algo then nn.set_conv_algo(algo) end
local net = nn.build(preact_resnet{variant = "official", width = width, num_classes = 10},
                     {c = 3, h = 32, w = 32}, {batch = batch, threads = threads})
net:init(train.rng(0, train.stream.init))
local opt = train.sgd{params = net:params(), grads = net:grads(), momentum = 0.9,
                      weight_decay = 1e-4, nesterov = false}
local rng = train.rng(1, train.stream.augment)
local x = tensor.new{batch, 3, 32, 32}
for i = 1, batch do
  for c = 1, 3 do
    for h = 1, 32 do
      for w = 1, 32 do x:set(rng:normal(), i, c, h, w) end
    end
  end
end
local t = tensor.new{batch, 10}
for i = 1, batch do t:set(1, i, rng:below(10) + 1) end
local dy = tensor.new{batch, 10}

local function step()
  net:zero_grad()
  local y = net:forward(x, true)
  train.softmax_xent(y, t, dy)
  net:backward(dy, false)
  opt:step(0.1)
end

step() -- warm-up: first touch of every buffer
local t0 = sys.clock()
for _ = 1, steps do step() end
local dt = sys.clock() - t0
print(string.format("mixup images_per_s=%.1f peak_rss_mib=%.0f threads=%d width=%d "
                    .. "winograd=%d blas=%s", batch * steps / dt, peak_rss_mib(), threads,
                    width, #net:winograd(), sys.blas_info()))
