-- imagenet.lua: ILSVRC-2012 on disk (issue 15): the folder layout, its checks, and the index
-- file that `make data-imagenet IMAGENET=DIR` writes once and every run reads.
--
-- Layout (the standard one; nothing is moved or converted):
--   DIR/train/<wnid>/*.JPEG           one folder per class; labels are the wnids' positions in
--                                     sorted order (torchvision's ImageFolder and
--                                     fb.resnet.torch's rule), 0-based
--   DIR/val/<wnid>/*.JPEG             validation in class folders (valprep.sh's layout), or
--   DIR/val/*.JPEG + DIR/val_labels.txt  flat, with one "<file name> <wnid>" line per image
--                                     (the devkit's ground truth gives numeric ids, whose wnids
--                                     are in its meta.mat: convert once to this file)
-- Files are images when their name ends in .JPEG, .jpeg or .jpg; anything else in a class
-- folder is listed as extra and left out. ILSVRC-2012 has 1,000 classes, 1,281,167 training
-- and 50,000 validation images (M.FULL); a subset (Imagenette's 10 wnids, a generated smoke
-- folder) is checked against its own counts.
--
--   local imagenet = require "harness.lua.imagenet"
--   local idx = imagenet.scan(dir)          -- or raises one line naming what is wrong
--   idx = {root =, wnids = {...}, train = {paths = {...}, labels = {...}, bytes = {...}},
--          val = {paths, labels, bytes}, extra = {...}, missing = {...},
--          val_layout = "folders"|"flat"}          -- bytes: each file's size
--   local problems = imagenet.check(idx, imagenet.FULL)   -- {} when it is ILSVRC-2012
--   imagenet.write(path, idx); idx = imagenet.read(path)  -- the index file
--   imagenet.subset(idx, "train", wnids, per_class) -- {paths, labels, bytes, num_classes}
--   imagenet.total_bytes(idx.train)                -- the split's size on disk
--
-- Index file (text, tab-separated): a first line "mixup-repro imagenet index <version>", then
-- "root\t<DIR>", "wnids\t<n>" and n wnid lines, "train\t<n>" and n "<label>\t<bytes>\t<path
-- relative to root>" lines, "val\t<n>" and its lines. Paths are relative, so a moved folder
-- only needs its root line changed (or the index rewritten). The sizes go to the loader, which
-- names a file whose size changed since the index was written (a copy cut short, a file
-- replaced) instead of training on it.
-- Non-goals: decoding (engine.imagenet), per-file checks of JPEG validity (the loader names a
-- bad file when it meets it; `skip_bad` skips and counts).

local sys = require "engine.sys"

local M = {}

M.VERSION = 2
M.HEADER = "mixup-repro imagenet index " .. M.VERSION
M.FULL = {classes = 1000, train = 1281167, val = 50000}
M.VAL_LABELS = "val_labels.txt"

local function fail(fmt, ...)
  error("imagenet: " .. fmt:format(...), 0)
end

local function is_image(name)
  local ext = name:match("%.([^.]+)$")
  return ext == "JPEG" or ext == "jpeg" or ext == "jpg"
end

local function list(dir)
  local names, why = sys.listdir(dir)
  if not names then fail("cannot read %s (%s)", dir, tostring(why)) end
  return names
end

-- The size of an image file, or raises naming it.
local function size_of(path)
  local n, why = sys.file_size(path)
  if not n then fail("cannot read the size of %s (%s)", path, tostring(why)) end
  return n
end

local function add_image(split, root, rel, label)
  local i = #split.paths + 1
  split.paths[i], split.labels[i], split.bytes[i] = rel, label, size_of(root .. "/" .. rel)
end

-- Images of the class folders under dir (sorted wnids, sorted files) into split.
local function scan_folders(root, dir, class_of, split, extra, sub)
  for _, wnid in ipairs(list(dir)) do
    local folder = dir .. "/" .. wnid
    if sys.isdir(folder) then
      local label = class_of[wnid]
      if not label then
        extra[#extra + 1] = ("%s/%s: a class folder that %s lacks"):format(sub, wnid,
                            "train/")
      else
        for _, f in ipairs(list(folder)) do
          local rel = ("%s/%s/%s"):format(sub, wnid, f)
          if is_image(f) then
            add_image(split, root, rel, label)
          else
            extra[#extra + 1] = rel
          end
        end
      end
    else
      extra[#extra + 1] = sub .. "/" .. wnid
    end
  end
end

function M.scan(root)
  if not sys.isdir(root) then
    fail("%s is not a folder; give the ILSVRC-2012 folder holding train/ and val/", root)
  end
  for _, sub in ipairs{"train", "val"} do
    if not sys.isdir(root .. "/" .. sub) then
      fail("%s has no %s/ folder (expected %s/train/<wnid>/*.JPEG and %s/val/)", root, sub,
           root, root)
    end
  end
  local idx = {root = root, wnids = {}, train = {paths = {}, labels = {}, bytes = {}},
               val = {paths = {}, labels = {}, bytes = {}}, extra = {}, missing = {}}
  local class_of = {}
  for _, wnid in ipairs(list(root .. "/train")) do
    if sys.isdir(root .. "/train/" .. wnid) then
      idx.wnids[#idx.wnids + 1] = wnid
      class_of[wnid] = #idx.wnids - 1
    else
      idx.extra[#idx.extra + 1] = "train/" .. wnid
    end
  end
  if #idx.wnids == 0 then fail("%s/train has no class folders", root) end
  scan_folders(root, root .. "/train", class_of, idx.train, idx.extra, "train")
  local val_dir = root .. "/val"
  local entries = list(val_dir)
  local folders = false
  for _, e in ipairs(entries) do if sys.isdir(val_dir .. "/" .. e) then folders = true end end
  if folders then
    idx.val_layout = "folders"
    scan_folders(root, val_dir, class_of, idx.val, idx.extra, "val")
  else
    idx.val_layout = "flat"
    local labels_path = root .. "/" .. M.VAL_LABELS
    local f = io.open(labels_path, "r")
    if not f then
      fail("%s/val holds no class folders and %s is missing: give one \"<file> <wnid>\" line "
           .. "per validation image, or move val/ into class folders", root, labels_path)
    end
    local listed = {}
    local line_no = 0
    for line in f:lines() do
      line_no = line_no + 1
      local name, wnid = line:match("^(%S+)%s+(%S+)%s*$")
      if not name then
        f:close()
        fail("%s line %d is %q, expected \"<file> <wnid>\"", labels_path, line_no, line)
      end
      if not class_of[wnid] then
        f:close()
        fail("%s line %d names wnid %s, which train/ has no folder for", labels_path,
             line_no, wnid)
      end
      listed[name] = class_of[wnid]
    end
    f:close()
    local present = {}
    for _, e in ipairs(entries) do
      if is_image(e) and listed[e] then
        add_image(idx.val, root, "val/" .. e, listed[e])
        present[e] = true
      else
        idx.extra[#idx.extra + 1] = "val/" .. e .. (is_image(e) and " (not in "
                                                    .. M.VAL_LABELS .. ")" or "")
      end
    end
    local gone = {}
    for name in pairs(listed) do if not present[name] then gone[#gone + 1] = "val/" .. name end end
    table.sort(gone)
    for _, g in ipairs(gone) do idx.missing[#idx.missing + 1] = g end
  end
  return idx
end

-- The ways idx differs from `want` ({classes =, train =, val =}), one line each; {} when none.
function M.check(idx, want)
  local problems = {}
  local function add(fmt, ...) problems[#problems + 1] = fmt:format(...) end
  if #idx.wnids ~= want.classes then
    add("%d class folders in train/, expected %d", #idx.wnids, want.classes)
  end
  for _, split in ipairs{"train", "val"} do
    local n = #idx[split].paths
    if n ~= want[split] then add("%d %s images, expected %d", n, split, want[split]) end
    local per = {}
    for _, l in ipairs(idx[split].labels) do per[l] = (per[l] or 0) + 1 end
    for c, wnid in ipairs(idx.wnids) do
      if not per[c - 1] then add("class %s has no %s images", wnid, split) end
    end
  end
  for _, m in ipairs(idx.missing) do add("missing: %s", m) end
  for _, e in ipairs(idx.extra) do add("extra: %s", e) end
  return problems
end

function M.write(path, idx)
  local tmp = path .. ".tmp"
  local dir = path:match("^(.*)/[^/]*$")
  if dir and not sys.isdir(dir) then
    local ok, why = sys.mkdir_p(dir)
    if not ok then fail("cannot create %s (%s)", dir, tostring(why)) end
  end
  local f, why = io.open(tmp, "w")
  if not f then fail("cannot write %s (%s)", tmp, tostring(why)) end
  local out = {M.HEADER, "root\t" .. idx.root, "wnids\t" .. #idx.wnids}
  for _, w in ipairs(idx.wnids) do out[#out + 1] = w end
  for _, split in ipairs{"train", "val"} do
    local s = idx[split]
    out[#out + 1] = ("%s\t%d"):format(split, #s.paths)
    for i, p in ipairs(s.paths) do
      out[#out + 1] = ("%d\t%d\t%s"):format(s.labels[i], s.bytes[i], p)
    end
  end
  out[#out + 1] = ""
  local ok = f:write(table.concat(out, "\n"))
  ok = f:close() and ok
  if not ok or not os.rename(tmp, path) then fail("cannot write %s (disk full?)", path) end
end

function M.read(path)
  local f = io.open(path, "r")
  if not f then
    fail("no index at %s: run `make data-imagenet IMAGENET=<ILSVRC-2012 folder>`", path)
  end
  local lines = f:lines()
  local n_line = 0
  local function line()
    n_line = n_line + 1
    local l = lines()
    if not l then fail("%s ends early at line %d; rerun `make data-imagenet`", path, n_line) end
    return l
  end
  local function counted(key)
    local k, n = line():match("^(%w+)\t(%d+)$")
    if k ~= key then fail("%s line %d: expected \"%s\\t<count>\"", path, n_line, key) end
    return math.tointeger(tonumber(n))
  end
  if line() ~= M.HEADER then
    f:close()
    fail("%s is not a version %d index; rerun `make data-imagenet`", path, M.VERSION)
  end
  local root = line():match("^root\t(.*)$")
  if not root then fail("%s line 2: expected \"root\\t<folder>\"", path) end
  local idx = {root = root, wnids = {}, train = {paths = {}, labels = {}, bytes = {}},
               val = {paths = {}, labels = {}, bytes = {}}}
  for i = 1, counted("wnids") do idx.wnids[i] = line() end
  for _, split in ipairs{"train", "val"} do
    local s = idx[split]
    for i = 1, counted(split) do
      local l, b, p = line():match("^(%d+)\t(%d+)\t(.+)$")
      l, b = math.tointeger(tonumber(l)), math.tointeger(tonumber(b))
      if not l or not b or l >= #idx.wnids then
        f:close()
        fail("%s line %d: expected \"<label>\\t<bytes>\\t<path>\" with a label below %d", path,
             n_line, #idx.wnids)
      end
      s.labels[i], s.bytes[i], s.paths[i] = l, b, p
    end
  end
  f:close()
  return idx
end

-- The examples of `split` whose classes are in `wnids` (a list, or "all"), at most per_class of
-- each (the first in index order; "all" for every one), relabelled 0..#wnids-1 in the order
-- given: {paths = absolute, labels =, bytes =, num_classes =}.
function M.subset(idx, split, wnids, per_class)
  local new_label, order = {}, wnids
  if wnids == "all" then order = idx.wnids end
  local pos = {}
  for i, w in ipairs(idx.wnids) do pos[w] = i - 1 end
  for i, w in ipairs(order) do
    if not pos[w] then fail("class %s is not in the index (%s)", w, idx.root) end
    new_label[pos[w]] = i - 1
  end
  local out = {paths = {}, labels = {}, bytes = {}, num_classes = #order}
  local taken = {}
  local s = idx[split]
  for i, p in ipairs(s.paths) do
    local l = new_label[s.labels[i]]
    if l and (per_class == "all" or (taken[l] or 0) < per_class) then
      taken[l] = (taken[l] or 0) + 1
      out.paths[#out.paths + 1] = idx.root .. "/" .. p
      out.labels[#out.labels + 1] = l
      out.bytes[#out.bytes + 1] = s.bytes[i]
    end
  end
  for i, w in ipairs(order) do
    if not taken[i - 1] then fail("class %s has no %s images in %s", w, split, idx.root) end
  end
  return out
end

function M.total_bytes(split)
  local n = 0
  for _, b in ipairs(split.bytes) do n = n + b end
  return n
end

return M
