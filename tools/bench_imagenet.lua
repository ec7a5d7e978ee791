-- bench_imagenet.lua (issue 15), for `make bench`; one measurement per process:
--   mixup tools/bench_imagenet.lua jpegs DIR N        writes N JPEGs of 500 x 375 (ImageNet's
--                                                     typical size, quality 90) into DIR
--   mixup --threads 1 tools/bench_imagenet.lua decode DIR
--        decode + fb.resnet.torch's training augmentation (random-sized crop to 224, flip,
--        normalise; harness/data/imagenet.c) of every JPEG in DIR, one thread, after one
--        warm-up pass:  mixup decode_images_per_s=<f> threads=1
-- (ResNet-50's training step is tools/bench_nets.lua's.)
-- The generated images are smooth colour fields: they decode faster than photographs (less
-- entropy to decode), so the decode figure is an upper bound for real ImageNet files; the
-- torchvision line of tools/bench_imagenet.py reads the same files.
local imagenet = require "engine.imagenet"
local sys = require "engine.sys"

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
else
  io.stderr:write("usage: mixup tools/bench_imagenet.lua jpegs DIR N | decode DIR\n")
  os.exit(2)
end
