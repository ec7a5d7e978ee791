-- test_imagenet_index.lua: harness/lua/imagenet.lua on folders the test writes (engine.imagenet
-- write_jpeg): the scan of train/<wnid>/ and of val/ flat with val_labels.txt or in class
-- folders (labels by sorted wnid, files sorted), what is extra or missing, the check against
-- expected counts, the index file's round trip (file sizes included) and its errors, class
-- subsets and per-class caps, and the loader on the scanned set (labels as the index gives
-- them; a file whose size changed since the index is named).
local check = require "tests.lua.check"
local imagenet = require "harness.lua.imagenet"
local engine_imagenet = require "engine.imagenet"
local sys = require "engine.sys"

local suite = check.suite(...)
local ROOT = os.tmpname()
os.remove(ROOT)

local WNIDS = {"n02", "n01", "n03"} -- written out of order: labels follow the sorted names

-- A folder: 3 classes of `per` training images; val flat (labels file) or in folders.
local function make(dir, per, val_folders)
  for c, w in ipairs(WNIDS) do
    assert(sys.mkdir_p(dir .. "/train/" .. w))
    for i = 1, per do
      engine_imagenet.write_jpeg(("%s/train/%s/%s_%d.JPEG"):format(dir, w, w, i), 40 + i, 30,
                                 {seed = c})
    end
  end
  local lines = {}
  for c, w in ipairs(WNIDS) do
    local vdir = val_folders and dir .. "/val/" .. w or dir .. "/val"
    assert(sys.mkdir_p(vdir))
    local name = ("v%d.JPEG"):format(c)
    engine_imagenet.write_jpeg(vdir .. "/" .. name, 32, 32, {seed = c})
    lines[#lines + 1] = name .. " " .. w
  end
  if not val_folders then
    check.spit(dir .. "/val_labels.txt", table.concat(lines, "\n") .. "\n")
  end
end

suite:test("scan_flat_val", function()
  local dir = ROOT .. "/flat"
  make(dir, 2, false)
  check.spit(dir .. "/train/n01/notes.txt", "x")          -- extra: not an image
  engine_imagenet.write_jpeg(dir .. "/val/stray.JPEG", 8, 8) -- extra: not in the labels file
  local idx = imagenet.scan(dir)
  check.eq(table.concat(idx.wnids, ","), "n01,n02,n03", "sorted wnids")
  check.eq(#idx.train.paths, 6, "train images")
  check.eq(idx.train.paths[1], "train/n01/n01_1.JPEG", "first path, relative")
  check.eq(idx.train.labels[1], 0, "n01 is class 0")
  check.eq(idx.train.labels[3], 1, "n02 is class 1")
  check.eq(idx.val_layout, "flat", "layout")
  check.eq(#idx.val.paths, 3, "val images")
  check.eq(idx.val.labels[1], 1, "v1.JPEG is n02: class 1")
  check.eq(#idx.extra, 2, "two extras: " .. table.concat(idx.extra, "; "))
  local problems = imagenet.check(idx, {classes = 3, train = 6, val = 3})
  check.eq(#problems, 2, "only the extras: " .. table.concat(problems, "; "))
  problems = imagenet.check(idx, imagenet.FULL)
  check.truthy(problems[1]:find("3 class folders in train/, expected 1000", 1, true),
               "full ImageNet expected: " .. problems[1])
  -- a labels-file entry whose file is gone
  os.remove(dir .. "/val/v2.JPEG")
  idx = imagenet.scan(dir)
  check.eq(idx.missing[1], "val/v2.JPEG", "missing")
end)

suite:test("scan_val_folders_and_errors", function()
  local dir = ROOT .. "/folders"
  make(dir, 1, true)
  local idx = imagenet.scan(dir)
  check.eq(idx.val_layout, "folders", "layout")
  check.eq(#idx.val.paths, 3, "val images")
  check.eq(idx.val.paths[1], "val/n01/v2.JPEG", "val/n01 holds v2")
  check.eq(idx.val.labels[1], 0, "its label")
  check.raises(function() imagenet.scan(ROOT .. "/none") end, "is not a folder", "no folder")
  local bad = ROOT .. "/bad"
  make(bad, 1, false)
  check.spit(bad .. "/val_labels.txt", "v1.JPEG\n")
  check.raises(function() imagenet.scan(bad) end, "val_labels.txt line 1 is \"v1.JPEG\"",
               "a line without a wnid")
  check.spit(bad .. "/val_labels.txt", "v1.JPEG n99\n")
  check.raises(function() imagenet.scan(bad) end, "names wnid n99, which train/ has no folder",
               "unknown wnid")
  os.remove(bad .. "/val_labels.txt")
  check.raises(function() imagenet.scan(bad) end, "val_labels.txt is missing", "no labels file")
end)

suite:test("index_round_trip_and_subsets", function()
  local dir = ROOT .. "/rt"
  make(dir, 3, false)
  local idx = imagenet.scan(dir)
  local path = ROOT .. "/index/index.tsv"
  imagenet.write(path, idx)
  local back = imagenet.read(path)
  check.eq(back.root, dir, "root")
  check.eq(table.concat(back.wnids, ","), table.concat(idx.wnids, ","), "wnids")
  for _, split in ipairs{"train", "val"} do
    check.eq(table.concat(back[split].paths, ","), table.concat(idx[split].paths, ","), split)
    check.eq(table.concat(back[split].labels, ","), table.concat(idx[split].labels, ","),
             split .. " labels")
    for i, p in ipairs(back[split].paths) do
      check.eq(back[split].bytes[i], sys.file_size(dir .. "/" .. p), p .. " size")
    end
  end
  check.truthy(imagenet.total_bytes(back.train) > 9 * 300, "total size of 9 JPEGs")
  local s = imagenet.subset(back, "train", {"n03", "n01"}, 2)
  check.eq(s.num_classes, 2, "two classes")
  check.eq(#s.paths, 4, "2 per class")
  check.eq(s.paths[1], dir .. "/train/n01/n01_1.JPEG", "absolute paths")
  check.eq(s.labels[1], 1, "n01 relabelled 1 (second in the list)")
  check.eq(s.labels[3], 0, "n03 relabelled 0")
  check.raises(function() imagenet.subset(back, "train", {"n09"}, "all") end,
               "class n09 is not in the index", "unknown class")
  -- the loader on the scanned set: labels come from the index
  local set = engine_imagenet.set(s)
  local ld = engine_imagenet.loader(set, {batch = 4, train = false, out = 16})
  local _, y = ld:next()
  check.eq(y:get(1), 1, "first label through the loader")
  -- a file replaced after the index was written: named, with the fix
  engine_imagenet.write_jpeg(dir .. "/train/n01/n01_1.JPEG", 90, 70, {seed = 9})
  ld = engine_imagenet.loader(engine_imagenet.set(s), {batch = 4, train = false, out = 16})
  check.raises(function() ld:next() end, "n01_1.JPEG: " .. sys.file_size(dir
               .. "/train/n01/n01_1.JPEG") .. " bytes, the index says " .. s.bytes[1]
               .. ": the file changed since the index was written; rerun `make data-imagenet`",
               "changed file")
  check.raises(function() engine_imagenet.set{paths = s.paths, labels = s.labels,
                                              bytes = {1}, num_classes = 2} end,
               "4 paths and 1 sizes", "sizes of another length")
  -- damaged index files
  check.spit(path, "something else\n")
  check.raises(function() imagenet.read(path) end, "is not a version 2 index", "header")
  check.spit(path, imagenet.HEADER .. "\nroot\t" .. dir .. "\nwnids\t1\nn01\ntrain\t1\n"
             .. "0\ttrain/n01/a.JPEG\n")
  check.raises(function() imagenet.read(path) end,
               "line 6: expected \"<label>\\t<bytes>\\t<path>\"", "a version 1 line")
  check.spit(path, imagenet.HEADER .. "\nroot\t" .. dir .. "\nwnids\t3\nn01\n")
  check.raises(function() imagenet.read(path) end, "ends early at line 5", "truncated")
  check.raises(function() imagenet.read(ROOT .. "/nothing.tsv") end,
               "run `make data-imagenet IMAGENET=", "absent")
end)

sys.remove_tree(ROOT)
suite:finish()
