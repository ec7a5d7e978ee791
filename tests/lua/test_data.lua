-- test_data.lua: engine.data from Lua: datasets (synthetic, and the real CIFAR-10 when
-- `make data` has run), subsets, corruption, loaders (shapes, labels, normalisation, resume at
-- an epoch boundary, no growth per batch) and the error messages of bad arguments.
local data = require "engine.data"
local tensor = require "engine.tensor"
local check = require "tests.lua.check"

local suite = check.suite(...)

-- The official code's normalisation (data_cifar.h CIFAR10_MEAN_* / CIFAR10_STD_*).
local MEAN = {0.4914, 0.4822, 0.4465}
local STD = {0.2023, 0.1994, 0.2010}
-- float32 rounding of (v / 255 - mean) / std against Lua's double evaluation: a few ulps of
-- values up to ~2.8.
local NORM_RTOL = 1e-6

local function real_dir()
  local root = os.getenv("MIXUP_DATA")
  if not root or root == "" then root = "data" end
  local dir = root .. "/cifar-10-batches-bin"
  local f = io.open(dir .. "/test_batch.bin", "rb")
  if not f then
    check.skip(dir .. "/test_batch.bin absent; run `make data` to test on the real CIFAR-10")
  end
  f:close()
  return dir
end

suite:test("real_cifar10", function()
  local dir = real_dir()
  local test = data.load_cifar("cifar10", "test", {dir = dir})
  check.eq(#test, 10000, "test size")
  check.eq(test:num_classes(), 10, "classes")
  local counts = test:class_counts()
  for c = 1, 10 do check.eq(counts[c], 1000, "test images of class " .. (c - 1)) end
  local clean, noisy = test:label(1)
  check.eq(clean, 3, "first test label (cat)")
  check.eq(noisy, 3, "noisy equals clean before corruption")
  local img = test:image(1)
  check.eq(img:get(1, 1, 1), 158, "R")
  check.eq(img:get(2, 1, 1), 112, "G")
  check.eq(img:get(3, 1, 1), 49, "B")
  local train = data.load_cifar("cifar10", "train", {dir = dir})
  check.eq(train:size(), 50000, "train size")
  for c, n in ipairs(train:class_counts()) do check.eq(n, 5000, "train class " .. (c - 1)) end
  check.eq(train:label(1), 6, "first training label (frog)")
  local first = train:image(1)
  check.eq(first:get(1, 1, 1) .. "," .. first:get(2, 1, 1) .. "," .. first:get(3, 1, 1),
           "59.0,62.0,63.0", "first training pixel")
  -- The evaluation loader's first batch is the plain normalised first test image.
  local ld = data.loader(test, {batch = 100, train = false})
  ld:epoch(0)
  local x, y = ld:next()
  check.eq(y:get(1), 3, "label in the batch")
  check.near(x:get(1, 1, 1, 1), (158 / 255 - MEAN[1]) / STD[1], NORM_RTOL, "normalised R")
  check.eq(ld:batches(), 100, "batches of the test set")
end)

suite:test("synthetic_and_labels", function()
  local ds = data.synthetic("cifar100", 250, 7)
  check.eq(#ds, 250, "size")
  check.eq(ds:kind(), "cifar100", "kind")
  check.eq(ds:num_classes(), 100, "classes")
  local clean, noisy, coarse = ds:label(123)
  check.eq(clean, 122 % 100, "fine label")
  check.eq(noisy, clean, "noisy")
  check.eq(coarse, 122 % 20, "coarse label")
  check.eq(ds:labels("coarse"):get(123), coarse, "labels('coarse')")
  check.eq(tostring(ds), "Dataset(cifar100, 250 images)", "tostring")
  check.raises(function() ds:label(251) end, "dataset: example 251, expected 1..250", "range")
  check.raises(function() data.synthetic("cifar10", 5, 1):labels("coarse") end,
               "a CIFAR-10 set has no coarse labels", "no coarse")
end)

suite:test("subset_and_corrupt", function()
  local ds = data.synthetic("cifar10", 1000, 3)
  local first = ds:subset{first = 10}
  check.eq(#first, 10, "first size")
  check.same_bits(first:image(10), ds:image(10), "first keeps order")
  local bal = ds:subset{balanced = 200, seed = 5}
  for c, n in ipairs(bal:class_counts()) do check.eq(n, 20, "balanced class " .. (c - 1)) end
  local again = ds:subset{balanced = 200, seed = 5}
  check.same_bits(again:labels("clean"), bal:labels("clean"), "same seed")
  check.same_bits(again:image(77), bal:image(77), "same seed, same images")
  local changed = ds:corrupt(0.5, 11)
  check.truthy(changed > 0.45 * 1000 - 80 and changed < 0.45 * 1000 + 80,
               "about 0.9 p of the labels change: " .. changed)
  check.eq(ds:corrupt(0.5, 11), changed, "same seed, same count")
  check.eq(ds:labels("clean"):max_abs_diff(data.synthetic("cifar10", 1000, 3):labels("clean")),
           0, "clean labels kept")
  check.eq(ds:corrupt(0, 11), 0, "p = 0 restores")
  check.raises(function() ds:corrupt(2, 1) end, "p is 2, expected 0 <= p <= 1", "bad p")
  check.raises(function() ds:subset{first = 10, balanced = 10} end,
               "subset: option 'balanced' is 10, expected none with 'first'", "both")
  check.raises(function() ds:subset{} end,
               "subset: missing required option 'first' (or 'balanced')", "neither")
  check.raises(function() ds:subset{first = 10, seed = 1} end,
               "subset: option 'seed' is 1, expected none with 'first'", "seed with first")
  check.raises(function() ds:subset{balanced = 10} end,
               "subset: missing required option 'seed'", "seed")
  check.raises(function() ds:subset{first = 1001} end,
               "subset: option 'first' is 1001, expected an integer in 1..1000", "too many")
  check.raises(function() ds:subset{frist = 1} end, "unknown option 'frist'", "typo")
end)

-- All batches of one epoch, as flat Lua strings of x and a table of labels.
local function epoch_bytes(ld, e)
  ld:epoch(e)
  local xs, ys = {}, {}
  for x, y in ld:each() do
    xs[#xs + 1] = x:data_string()
    for i = 1, y:size() do ys[#ys + 1] = y:get(i) end
  end
  return table.concat(xs), ys
end

suite:test("loader_batches_and_resume", function()
  local ds = data.synthetic("cifar10", 300, 9)
  local opts = {batch = 64, train = true, seed = 42}
  local a = data.loader(ds, opts)
  check.eq(a:batches(), 5, "batches")
  a:epoch(0)
  local sizes, x0 = {}, nil
  for x, y, yc in a:each() do
    sizes[#sizes + 1] = x:shape()[1]
    check.eq(y:size(), x:shape()[1], "labels per batch")
    check.eq(yc:size(), y:size(), "clean labels per batch")
    x0 = x0 or x
    check.truthy(rawequal(x, x0), "the same tensor every batch")
  end
  check.eq(table.concat(sizes, ","), "64,64,64,64,44", "batch sizes, last partial")
  check.eq(a:next(), nil, "exhausted")
  check.eq(#a:last_augment(), 44, "last batch's augmentations")
  -- Uninterrupted epochs 0..2 against a fresh loader started at epoch 2.
  epoch_bytes(a, 1)
  local xa, ya = epoch_bytes(a, 2)
  local b = data.loader(ds, opts)
  local xb, yb = epoch_bytes(b, 2)
  check.truthy(xa == xb, "resumed epoch 2 has the same images")
  check.eq(table.concat(ya, ","), table.concat(yb, ","), "resumed epoch 2 has the same labels")
  local xc = epoch_bytes(b, 1)
  check.truthy(xc ~= xb, "epochs differ")
  local other = data.loader(ds, {batch = 64, train = true, seed = 43})
  check.truthy(epoch_bytes(other, 2) ~= xb, "seeds differ")
  -- drop_last, and memory that does not grow with batches.
  local d = data.loader(ds, {batch = 64, train = true, seed = 1, drop_last = true})
  check.eq(d:batches(), 4, "drop_last batches")
  collectgarbage("collect")
  local before = collectgarbage("count")
  for e = 0, 19 do
    d:epoch(e)
    while d:next() do end
  end
  local grown = collectgarbage("count") - before
  check.truthy(grown < 64, ("80 batches grew the Lua heap by %.1f KB"):format(grown))
end)

suite:test("loader_eval_normalisation", function()
  local ds = data.synthetic("cifar10", 10, 2)
  local ld = data.loader(ds, {batch = 4, train = false, mean = {0.5, 0.5, 0.5},
                              std = {0.25, 0.5, 1}})
  ld:epoch(3)
  local x, y = ld:next()
  local img = ds:image(1)
  local stds = {0.25, 0.5, 1}
  for c = 1, 3 do
    for _, p in ipairs{{1, 1}, {17, 5}, {32, 32}} do
      local want = (img:get(c, p[1], p[2]) / 255 - 0.5) / stds[c]
      check.near(x:get(1, c, p[1], p[2]), want, NORM_RTOL, "pixel")
    end
  end
  check.eq(y:get(2), 1, "file order")
  for _, a in ipairs(ld:last_augment()) do
    check.eq(a[1] .. a[2] .. a[3], "440", "evaluation batches are not augmented")
  end
  -- After corruption y carries the noisy labels, y_clean the true ones.
  check.truthy(ds:corrupt(1, 4) > 0, "labels changed")
  local noisy, clean = ds:labels("noisy"), ds:labels("clean")
  ld:epoch(0)
  local _, yn, yc = ld:next()
  for i = 1, yn:size() do
    check.eq(yn:get(i), noisy:get(i), "noisy label " .. i)
    check.eq(yc:get(i), clean:get(i), "clean label " .. i)
  end
end)

-- ds:assemble: chosen examples, as an evaluation loader normalises them, with clean labels.
suite:test("assemble_chosen_examples", function()
  local ds = data.synthetic("cifar10", 12, 3)
  local norm = {mean = {0.5, 0.4, 0.3}, std = {0.25, 0.5, 1}}
  local ld = data.loader(ds, {batch = 12, train = false, mean = norm.mean, std = norm.std})
  ld:epoch(0)
  local all, labels = ld:next()
  local x, y = ds:assemble({7, 2, 7}, norm)
  check.eq(table.concat(x:shape(), "x"), "3x3x32x32", "shape")
  for k, i in ipairs{7, 2, 7} do
    check.eq(y:get(k), labels:get(i), "label of example " .. i)
    for c = 1, 3 do
      for _, p in ipairs{{1, 1}, {9, 30}, {32, 32}} do
        check.eq(x:get(k, c, p[1], p[2]), all:get(i, c, p[1], p[2]), "pixel as the loader's")
      end
    end
  end
  check.raises(function() ds:assemble({1, 13}, norm) end,
               "assemble: indices[2] is 13, expected an integer in 1..12", "index range")
  check.raises(function() ds:assemble({1}, {mean = norm.mean}) end,
               "assemble: missing required option 'std'", "std required")
end)

suite:test("errors", function()
  local ds = data.synthetic("cifar10", 10, 2)
  check.raises(function() data.loader(ds, {batch = 4}) end,
               "loader: missing required option 'train'", "train required")
  check.raises(function() data.loader(ds, {batch = 4, train = true}) end,
               "loader: missing required option 'seed' (a shuffling or augmenting loader",
               "seed required")
  check.raises(function() data.loader(ds, {batch = 4, train = 1}) end,
               "loader: option 'train' is 1, expected a boolean", "boolean")
  check.raises(function() data.loader(ds, {batch = 0, train = false}) end,
               "loader: option 'batch' is 0, expected an integer in 1..", "batch")
  check.raises(function() data.loader(ds, {batch = 2.5, train = false}) end,
               "loader: option 'batch' is 2.5, expected an integer in 1..", "fractional batch")
  check.raises(function() data.loader(ds, {train = false, std = {1, 0, 1}}) end,
               "std[1] is 0, expected > 0", "std")
  check.raises(function() data.loader(ds, {train = false, bacth = 3}) end,
               "loader: unknown option 'bacth'", "typo")
  check.raises(function() data.loader(ds, {train = false, mean = {1, 2}}) end,
               "loader: option 'mean' is a table, expected a list of 3 finite numbers", "mean")
  check.raises(function() data.loader(ds, {train = false, mean = {1, "x", 3}}) end,
               "loader: option 'mean[2]' is \"x\", expected a finite number", "mean entry")
  check.raises(function() data.load_cifar("cifar10", "test", {dir = 3}) end,
               "load_cifar: option 'dir' is 3, expected a string", "dir type")
  local ld = data.loader(ds, {batch = 4, train = false})
  check.raises(function() ld:next() end, "no epoch started", "next before epoch")
  check.raises(function() ld:epoch(-1) end, "epoch must be >= 0", "negative epoch")
  check.raises(function() data.load_cifar("cifar10", "test", {dir = "/nonexistent"}) end,
               "cannot open /nonexistent/test_batch.bin: No such file or directory; run "
               .. "`make data`", "missing file")
  check.raises(function() data.load_cifar("cifar100", "train", {dir = "/nonexistent"}) end,
               "make data-cifar100", "missing CIFAR-100")
  check.raises(function() data.load_cifar("cifar11", "test") end, "invalid option 'cifar11'",
               "kind")
  do
    local closed <close> = data.synthetic("cifar10", 10, 2)
    ld = data.loader(closed, {batch = 4, train = false})
  end
  check.raises(function() ld:epoch(0) end, "dataset is closed", "closed dataset")
end)

suite:finish()
