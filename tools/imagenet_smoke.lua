-- imagenet_smoke.lua DIR: writes the generated ImageNet-like folder of the smoke scale
-- (experiments/table1_imagenet.lua, issue 15) into DIR: 4 classes with made-up wnids, 12
-- training and 4 validation images each, sizes from 40 x 30 to 300 x 200 (some taller than
-- wide), every fifth one grayscale and every seventh CMYK, as ILSVRC-2012 has both; val/ is
-- flat with val_labels.txt. The images of a class share a colour pattern (engine.imagenet
-- write_jpeg's seed), so a net can learn them. Writes DIR only when DIR/train is absent.
local imagenet = require "engine.imagenet"
local sys = require "engine.sys"

local dir = ...
if not dir then
  io.stderr:write("usage: mixup tools/imagenet_smoke.lua DIR\n")
  os.exit(2)
end
if sys.isdir(dir .. "/train") then
  print("imagenet_smoke: " .. dir .. " exists; left as it is")
  return
end
local WNIDS = {"n00000001", "n00000002", "n00000003", "n00000004"}
local TRAIN, VAL = 12, 4
local SIZES = {{40, 30}, {64, 64}, {120, 90}, {75, 110}, {300, 200}, {96, 128}, {160, 120}}
local k = 0
local function image(path, class)
  k = k + 1
  local s = SIZES[k % #SIZES + 1]
  local colour = k % 7 == 0 and "cmyk" or k % 5 == 0 and "gray" or "rgb"
  imagenet.write_jpeg(path, s[1], s[2], {colour = colour, seed = class, quality = 90})
end
assert(sys.mkdir_p(dir .. "/val"))
local labels = {}
for c, wnid in ipairs(WNIDS) do
  assert(sys.mkdir_p(dir .. "/train/" .. wnid))
  for i = 1, TRAIN do image(("%s/train/%s/%s_%d.JPEG"):format(dir, wnid, wnid, i), c) end
  for i = 1, VAL do
    local name = ("ILSVRC2012_val_%08d.JPEG"):format((c - 1) * VAL + i)
    image(dir .. "/val/" .. name, c)
    labels[#labels + 1] = name .. " " .. wnid
  end
end
local f = assert(io.open(dir .. "/val_labels.txt", "w"))
f:write(table.concat(labels, "\n"), "\n")
f:close()
print(("imagenet_smoke: %d classes, %d training and %d validation images in %s"):format(
      #WNIDS, #WNIDS * TRAIN, #WNIDS * VAL, dir))
