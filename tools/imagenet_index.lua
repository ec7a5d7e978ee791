-- imagenet_index.lua DIR [--out FILE] [--expect full|own]: `make data-imagenet IMAGENET=DIR`.
-- Scans an ILSVRC-2012 folder (harness/lua/imagenet.lua: train/<wnid>/*.JPEG, val/ in class
-- folders or flat with val_labels.txt), reports what is missing or extra, and writes the index
-- every run reads (default $MIXUP_DATA/imagenet/index.tsv, or data/imagenet/index.tsv).
-- --expect full (the default) wants ILSVRC-2012's 1,000 classes, 1,281,167 training and 50,000
-- validation images and ends with status 1, listing the differences (at most 20), otherwise;
-- --expect own accepts any folder of that layout (a subset, the generated smoke folder) and
-- only lists what is extra or missing. The index is written only when the check passes.
local cli = require "harness.lua.cli"
local imagenet = require "harness.lua.imagenet"
local sources = require "harness.lua.sources"

local EXPECT = {full = true, own = true}
local CLI = {
  tool = "imagenet_index.lua", command = "mixup tools/imagenet_index.lua",
  positional = {{"dir", "DIR"}},
  options = {
    {"out", "FILE", default = sources.root() .. "/imagenet/index.tsv"},
    {"expect", "full|own", default = "full",
     type = function(s) return EXPECT[s] and s or nil end, expect = "full or own"},
  },
}
local opts = cli.parse(CLI, {...})
if not opts then return end
local SHOW = 20

local idx = imagenet.scan(opts.dir)
local function size(bytes)
  if bytes >= 1e9 then return ("%.1f GB"):format(bytes / 1e9) end
  return ("%.1f MB"):format(bytes / 1e6)
end
print(("imagenet: %s: %d classes, %d training (%s) and %d validation images (%s; val in %s)")
      :format(opts.dir, #idx.wnids, #idx.train.paths, size(imagenet.total_bytes(idx.train)),
              #idx.val.paths, size(imagenet.total_bytes(idx.val)),
              idx.val_layout == "flat" and "one folder with " .. imagenet.VAL_LABELS
              or "class folders"))
local problems
if opts.expect == "full" then
  problems = imagenet.check(idx, imagenet.FULL)
else
  problems = {}
  for _, m in ipairs(idx.missing) do problems[#problems + 1] = "missing: " .. m end
  for _, e in ipairs(idx.extra) do problems[#problems + 1] = "extra: " .. e end
end
for i = 1, math.min(#problems, SHOW) do print("  " .. problems[i]) end
if #problems > SHOW then print(("  ... and %d more"):format(#problems - SHOW)) end
if #problems > 0 then
  error(("imagenet: %s is not %s (%d problem%s above); fix the folder, or pass --expect own "
         .. "for a subset"):format(opts.dir, opts.expect == "full" and "ILSVRC-2012"
         or "complete", #problems, #problems == 1 and "" or "s"), 0)
end
imagenet.write(opts.out, idx)
print(("imagenet: index written to %s"):format(opts.out))
