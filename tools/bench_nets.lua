-- bench_nets.lua NET BATCH STEPS: training steps (forward, backward, SGD momentum 0.9, weight
-- decay 1e-4) of a paper-size net on random inputs, for `make bench` (issues 15 and 17):
-- Table 2's wrn28_10 (WRN-28-10), densenet100 (DenseNet-BC-100, k = 12), densenet190
-- (DenseNet-BC-190, k = 40) on 32x32 with 10 classes, and Table 1's resnet50 and resnext101
-- (ResNeXt-101 32x4d: grouped 3x3 convolutions) on 224x224 with 1,000 classes. Prints
--   mixup images_per_s=<f> peak_rss_mib=<f> threads=<n> net=<NET>
-- One configuration per process, so that the peak resident memory is that config's. The
-- PyTorch peer is tools/bench_nets.py (the reference classes of the fixtures).
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"

-- name -> the description, the input side and the class count
local NETS = {
  wrn28_10 = {function() return require("nets.wrn"){depth = 28, widen_factor = 10} end, 32, 10},
  densenet100 = {function() return require("nets.densenet"){depth = 100, growth = 12} end, 32,
                 10},
  densenet190 = {function() return require("nets.densenet"){depth = 190, growth = 40} end, 32,
                 10},
  resnet50 = {function() return require("nets.resnet"){depth = 50} end, 224, 1000},
  resnext101 = {function()
    return require("nets.resnet"){depth = 101, groups = 32, width_per_group = 4}
  end, 224, 1000},
}
local name, batch, steps = ...
batch, steps = math.tointeger(tonumber(batch)), math.tointeger(tonumber(steps))
assert(NETS[name] and batch and steps, "usage: mixup tools/bench_nets.lua "
       .. "wrn28_10|densenet100|densenet190|resnet50|resnext101 BATCH STEPS")
local build, side, classes = table.unpack(NETS[name])
local threads = nn.get_threads()
local net = nn.build(build(), {c = 3, h = side, w = side}, {batch = batch, threads = threads})
net:init(train.rng(0, train.stream.init))
local opt = train.sgd{params = net:params(), grads = net:grads(), momentum = 0.9,
                      weight_decay = 1e-4, nesterov = false}
local rng = train.rng(1, train.stream.augment)
local x = tensor.new{batch, 3, side, side}
for i = 1, batch do for c = 1, 3 do for h = 1, side do
  x:set(rng:normal(), i, c, h, 1 + (i + h) % side)
end end end
local t, dy = tensor.new{batch, classes}, tensor.new{batch, classes}
for i = 1, batch do t:set(1, i, rng:below(classes) + 1) end
local function step()
  net:zero_grad()
  train.softmax_xent(net:forward(x, true), t, dy)
  net:backward(dy, false)
  opt:step(0.1)
end
step()
local t0 = sys.clock()
for _ = 1, steps do step() end
local f = assert(io.open("/proc/self/status"))
local rss = tonumber(f:read("a"):match("VmHWM:%s*(%d+)")) / 1024
f:close()
print(("mixup images_per_s=%.2f peak_rss_mib=%.0f threads=%d net=%s"):format(
      batch * steps / (sys.clock() - t0), rss, threads, name))
