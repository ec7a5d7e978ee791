-- bench_imagenet.lua (issue 15), for `make bench`; one measurement per process:
--   mixup tools/bench_imagenet.lua jpegs DIR N        writes N JPEGs of 500 x 375 (ImageNet's
--                                                     typical size, quality 90) into DIR
--   mixup --threads 1 tools/bench_imagenet.lua decode DIR
--        decode + fb.resnet.torch's training augmentation (random-sized crop to 224, flip,
--        normalise; harness/data/imagenet.c) of every JPEG in DIR, one thread, after one
--        warm-up pass:  mixup decode_images_per_s=<f> threads=1
--   mixup --threads T tools/bench_imagenet.lua resnet50 BATCH STEPS
--        training steps (forward, backward, SGD) of ResNet-50 on random 224 x 224 inputs:
--        mixup images_per_s=<f> peak_rss_mib=<f> threads=<T>
-- The generated images are smooth colour fields: they decode faster than photographs (less
-- entropy to decode), so the decode figure is an upper bound for real ImageNet files; the
-- torchvision line of tools/bench_imagenet.py reads the same files.
local imagenet = require "engine.imagenet"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local resnet = require "nets.resnet"

local what = ...
if what == "jpegs" then
  local dir, n = select(2, ...)
  assert(sys.mkdir_p(dir))
  for i = 1, math.tointeger(tonumber(n)) do
    imagenet.write_jpeg(("%s/img%04d.JPEG"):format(dir, i), 500, 375,
                        {seed = i, quality = 90})
  end
elseif what == "decode" then
  local dir = select(2, ...)
  local paths, labels = {}, {}
  for _, f in ipairs(assert(sys.listdir(dir))) do
    paths[#paths + 1], labels[#labels + 1] = dir .. "/" .. f, 0
  end
  local set = imagenet.set{paths = paths, labels = labels, num_classes = 1}
  local ld = imagenet.loader(set, {batch = 32, train = true, seed = 1, out = 224, threads = 1})
  local function pass(e)
    ld:epoch(e)
    for _ in ld:each() do end
  end
  pass(0)
  local t0 = sys.clock()
  pass(1)
  print(("mixup decode_images_per_s=%.1f threads=1"):format(#paths / (sys.clock() - t0)))
elseif what == "resnet50" then
  local batch, steps = math.tointeger(tonumber((select(2, ...)))),
                       math.tointeger(tonumber((select(3, ...))))
  local threads = nn.get_threads()
  local net = nn.build(resnet{depth = 50}, {c = 3, h = 224, w = 224},
                       {batch = batch, threads = threads})
  net:init(train.rng(0, train.stream.init))
  local opt = train.sgd{params = net:params(), grads = net:grads(), momentum = 0.9,
                        weight_decay = 1e-4, nesterov = true}
  local rng = train.rng(1, train.stream.augment)
  local x = tensor.new{batch, 3, 224, 224}
  for i = 1, batch do for c = 1, 3 do for h = 1, 224, 7 do
    x:set(rng:normal(), i, c, h, 1 + (i * 31 + h) % 224)
  end end end
  local t, dy = tensor.new{batch, 1000}, tensor.new{batch, 1000}
  for i = 1, batch do t:set(1, i, rng:below(1000) + 1) end
  local function step()
    net:zero_grad()
    train.softmax_xent(net:forward(x, true), t, dy)
    net:backward(dy)
    opt:step(0.1)
  end
  step()
  local t0 = sys.clock()
  for _ = 1, steps do step() end
  local f = assert(io.open("/proc/self/status"))
  local rss = tonumber(f:read("a"):match("VmHWM:%s*(%d+)")) / 1024
  f:close()
  print(("mixup images_per_s=%.2f peak_rss_mib=%.0f threads=%d"):format(
        batch * steps / (sys.clock() - t0), rss, threads))
else
  io.stderr:write("usage: mixup tools/bench_imagenet.lua jpegs DIR N | decode DIR | "
                  .. "resnet50 BATCH STEPS\n")
  os.exit(2)
end
