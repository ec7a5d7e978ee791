-- sources.lua: the image data sources a run config can name: what each dataset is (image
-- shape, classes), where its files live and how to get them, and loading a run's train and
-- test sets. The runner and the tasks ask here; nothing else knows a dataset's shape or folder.
--
--   local sources = require "harness.lua.sources"
--   sources.DATASETS.cifar10   -> {name =, shape = {c, h, w}, classes =, dir =, probe =, fix =}
--   sources.root()             -> $MIXUP_DATA, or "data" when unset or empty
--   sources.dir(dataset)       -> root()/<the archive's folder>
--   sources.available(cfg)     -> true, or false and a message naming the fix
--   sources.shape(dataset)     -> {c =, h =, w =} (the input shape for nn.build)
--   sources.load(cfg, cache)   -> train set, test set (engine.data datasets)
--
-- cfg is an image_classification config (harness/lua/tasks/classifier.lua): cfg.dataset and
-- cfg.data = {source = "cifar" | "synthetic", train_examples, test_examples, subset_seed}.
-- The folders are those `make data` / `make data-cifar100` fill (mk/data.mk) and the same as
-- engine.data.load_cifar's default (harness/bind/lua_data.c); the loader is handed the folder
-- from here, so this table is what decides.
-- Non-goals: augmentation and batching (engine.data.loader), the GAN's toy points
-- (engine.gan).

local data = require "engine.data"
local sys = require "engine.sys"

local M = {}

M.ROOT_ENV, M.ROOT_DEFAULT = "MIXUP_DATA", "data"

M.DATASETS = {
  cifar10 = {name = "CIFAR-10", shape = {3, 32, 32}, classes = 10,
             dir = "cifar-10-batches-bin", probe = "data_batch_1.bin", fix = "make data"},
  cifar100 = {name = "CIFAR-100", shape = {3, 32, 32}, classes = 100,
              dir = "cifar-100-binary", probe = "train.bin", fix = "make data-cifar100"},
}

local function dataset(name)
  local d = M.DATASETS[name]
  if not d then
    local known = {}
    for k in pairs(M.DATASETS) do known[#known + 1] = k end
    table.sort(known)
    error(("sources: unknown dataset '%s' (known: %s)"):format(tostring(name),
          table.concat(known, ", ")), 0)
  end
  return d
end

function M.root()
  local root = os.getenv(M.ROOT_ENV)
  if root == nil or root == "" then root = M.ROOT_DEFAULT end
  return root
end

function M.dir(name)
  return M.root() .. "/" .. dataset(name).dir
end

function M.shape(name)
  local s = dataset(name).shape
  return {c = s[1], h = s[2], w = s[3]}
end

function M.available(cfg)
  if cfg.data.source == "synthetic" then return true end
  local d = dataset(cfg.dataset)
  local dir = M.dir(cfg.dataset)
  if sys.exists(dir .. "/" .. d.probe) then return true end
  return false, ("%s not found in %s (run `%s`)"):format(d.name, dir, d.fix)
end

local function subset(set, n, seed)
  if n == "all" then return set end
  return set:subset{balanced = n, seed = seed}
end

-- The train and test sets of cfg; cache (optional) keeps the last pair, so that the runs of a
-- grid that share their data load them once.
function M.load(cfg, cache)
  local d = cfg.data
  local key = table.concat({cfg.dataset, d.source, tostring(d.train_examples),
                            tostring(d.test_examples), tostring(d.subset_seed)}, "/")
  if cache and cache.key == key then return cache.train, cache.test end
  if cache then cache.key, cache.train, cache.test = nil, nil, nil end
  collectgarbage()
  local tr, te
  if d.source == "synthetic" then
    -- Random images with cycling labels: deterministic stand-ins for tests; the test set uses
    -- the next seed so that it differs from the training set.
    local function count(n, what)
      if n == "all" then
        error(("sources: data.%s is \"all\", which a synthetic source cannot size; give a "
               .. "number"):format(what), 0)
      end
      return n
    end
    tr = data.synthetic(cfg.dataset, count(d.train_examples, "train_examples"), d.subset_seed)
    te = data.synthetic(cfg.dataset, count(d.test_examples, "test_examples"),
                        d.subset_seed + 1)
  else
    local dir = M.dir(cfg.dataset)
    tr = subset(data.load_cifar(cfg.dataset, "train", {dir = dir}), d.train_examples,
                d.subset_seed)
    te = subset(data.load_cifar(cfg.dataset, "test", {dir = dir}), d.test_examples,
                d.subset_seed)
  end
  local want = dataset(cfg.dataset).classes
  if tr:num_classes() ~= want then
    error(("sources: %s has %d classes, the sources table says %d"):format(cfg.dataset,
          tr:num_classes(), want), 0)
  end
  if cache then cache.key, cache.train, cache.test = key, tr, te end
  return tr, te
end

return M
