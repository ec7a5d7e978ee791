-- tasks/imagenet_classifier.lua: Table 1's task (issue 15): the image classifier of
-- tasks/classifier.lua on ILSVRC-2012 JPEG files, config schema "imagenet_classification".
-- The training loop, mixup, data-parallel and micro-batched steps, checkpoint state and
-- results file are the classifier's; what differs is the data (the index of
-- harness/lua/imagenet.lua, batches from engine.imagenet with fb.resnet.torch's augmentation),
-- the schedule's warm-up (Goyal et al.: 0.1 -> 0.4 over 5 epochs, per step), micro-batches
-- (micro_batch rows per pass: batch 1,024 on one machine) and the top-5 error beside the top-1.
--
-- Per epoch, besides the classifier's curves: test_error_top5 (percent of validation images
-- whose label has 5 or more logits above it). The summary adds test_error_top5_last.
-- Randomness: as the classifier; each training image's crop, jitter, lighting and flip come
-- from (seed, epoch, index) (harness/data/imagenet.h), so a resumed run sees the same images.
-- Non-goals: the folder scan and its checks (harness/lua/imagenet.lua, make data-imagenet).

local imagenet_data = require "engine.imagenet"
local sys = require "engine.sys"
local config = require "harness.lua.config"
local imagenet = require "harness.lua.imagenet"
local sources = require "harness.lua.sources"
local classifier = require "harness.lua.tasks.classifier"

local M = classifier.derive("imagenet_classifier", {"test_error_top5"})
M.divergence_fix = "lower schedule.base_lr (or lengthen schedule.warmup_epochs) in the "
                   .. "experiment's recipe"
M.TOP = 5

local I, N, S, B, L, R = config.integer, config.number, config.string, config.boolean,
                         config.list, config.record

M.schema = R{
  scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
  dataset = S{one_of = {"imagenet"}},
  seed = I{min = 0},
  epochs = I{min = 1},
  batch = I{min = 1},
  micro_batch = I{min = 0},    -- rows per forward-backward pass; 0: the whole batch
  eval_batch = I{min = 1},
  net = config.net{"resnet"},
  data = R{
    index = S(),               -- the index file, relative to the data root (make data-imagenet)
    classes = S(),             -- "all", or wnids separated by commas (a subset, relabelled)
    train_per_class = I{min = 1, or_all = true},  -- the first n of each class in index order
    val_per_class = I{min = 1, or_all = true},
    crop = I{min = 8},         -- 224: the training crop and evaluation centre crop side
    jitter = N{min = 0, below = 1},   -- ColorJitter strength (fb.resnet.torch: 0.4); 0: off
    lighting = N{min = 0},     -- PCA lighting std (fb.resnet.torch: 0.1); 0: off
    mean = L{len = 3},
    std = L{len = 3, min = 1e-6},
    skip_bad = B(),            -- leave undecodable files out (counted) instead of failing
  },
  mixup = R{alpha = N{min = 0}, per_example = B()},
  optim = R{
    kind = S{one_of = {"sgd"}},
    momentum = N{min = 0, max = 1},
    weight_decay = N{min = 0},
    nesterov = B(),
    decay_all_params = B(),    -- false: no decay on BN gamma/beta and biases (Goyal et al.)
  },
  schedule = R{
    base_lr = N{above = 0},
    factor = N{above = 0},
    milestones = L{increasing = true, integers = true, min = 1, may_be_empty = true},
    lr_drop_late = B(),
    warmup_epochs = I{min = 0},
    warmup_from = N{above = 0},
  },
}

local function index_path(cfg)
  return sources.root() .. "/" .. cfg.data.index
end

function M.available(cfg)
  local path = index_path(cfg)
  if sys.exists(path) then return true end
  return false, ("no ImageNet index at %s (run `make data-imagenet IMAGENET=<folder>`%s)")
                :format(path, cfg.scale == "smoke" and " or `make data-imagenet-smoke`" or "")
end

local function class_list(s)
  if s == "all" then return "all" end
  local out = {}
  for w in s:gmatch("[^,%s]+") do out[#out + 1] = w end
  if #out == 0 then
    error("imagenet_classifier: data.classes is empty; give \"all\" or wnids", 0)
  end
  return out
end

function M.input_shape(cfg) return {c = 3, h = cfg.data.crop, w = cfg.data.crop} end

-- The two sets of cfg (engine.imagenet sets: training, validation), read once per grid
-- through the cache (the index of 1.3 M lines takes a few seconds). Also Table 5's attacks on
-- these models (tasks/adversarial.lua).
function M.load_sets(cfg, cache)
  local d = cfg.data
  local key = table.concat({"imagenet", d.index, d.classes, tostring(d.train_per_class),
                            tostring(d.val_per_class)}, "/")
  if cache and cache.key == key then return cache.train, cache.test end
  local idx = imagenet.read(index_path(cfg))
  local wnids = class_list(d.classes)
  local tr = imagenet.subset(idx, "train", wnids, d.train_per_class)
  local va = imagenet.subset(idx, "val", wnids, d.val_per_class)
  local sets = {}
  for i, s in ipairs{tr, va} do
    sets[i] = imagenet_data.set{paths = s.paths, labels = s.labels, bytes = s.bytes,
                                num_classes = s.num_classes}
  end
  if cache then cache.key, cache.train, cache.test = key, sets[1], sets[2] end
  return sets[1], sets[2]
end

function M.build(cfg, env)
  local st = {cfg = cfg}
  st.train_set, st.test_set = M.load_sets(cfg, env.data_cache)
  local d = cfg.data
  st.k, st.shape = st.train_set:num_classes(), {c = 3, h = d.crop, w = d.crop}
  classifier.build_model(st, cfg, env)
  st.top = M.TOP
  local common = {out = d.crop, mean = d.mean, std = d.std, skip_bad = d.skip_bad,
                  threads = env.threads}
  local function opts(extra)
    local o = {}
    for k, v in pairs(common) do o[k] = v end
    for k, v in pairs(extra) do o[k] = v end
    return o
  end
  st.train_ld = imagenet_data.loader(st.train_set, opts{batch = cfg.batch, train = true,
                                                        seed = cfg.seed, jitter = d.jitter,
                                                        lighting = d.lighting})
  st.test_ld = imagenet_data.loader(st.test_set, opts{batch = cfg.eval_batch, train = false})
  return st
end

function M.describe(st, cfg)
  local d = cfg.data
  return ("ImageNet %s, %s-%d%s, %d params, %d train / %d val images of %d classes, batch "
          .. "%d%s, %d epochs, crop %d"):format(d.index, cfg.net.family, cfg.net.depth or 0,
          (cfg.net.groups or 1) > 1 and (" %dx%dd"):format(cfg.net.groups,
          cfg.net.width_per_group) or "", st.n_params, st.train_set:size(),
          st.test_set:size(), st.k, cfg.batch,
          st.micro > 0 and (" in passes of %d"):format(st.micro) or "", cfg.epochs, d.crop)
end

function M.step(st, e, ctx)
  local row, line = classifier.step(st, e, ctx)
  row.test_error_top5 = st.last_top
  return row, line .. (" top-5 %.1f%%"):format(st.last_top)
end

function M.result(st, r)
  local tree = classifier.result(st, r)
  local c = r.curves.test_error_top5
  tree.groups.summary.attrs.test_error_top5_last = c[#c]
  return tree
end

function M.summary_line(s)
  return classifier.summary_line(s) .. (s.test_error_top5_last and
         (", last top-5 error %.2f%%"):format(s.test_error_top5_last) or "")
end

return M
