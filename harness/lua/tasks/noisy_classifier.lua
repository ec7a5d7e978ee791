-- tasks/noisy_classifier.lua: the image classifier trained on corrupted training labels (Table 4
-- of the mixup paper, /work/shared/paper/PAPER_FACTS.md section 5): config schema
-- "image_classification_noisy", the classifier's (tasks/classifier.lua) plus
-- data.label_noise = {p =, seed =}. Everything else is the classifier's: the epoch, the
-- checkpoint state, the curves, the results file (schema "mixup-repro/run").
--
-- The noisy labels: a copy of the training set (the cached clean set is never touched) has its
-- labels rewritten by engine.data's corrupt(p, seed), the rule of the paper's source
-- (Zhang et al. 2017, pluskid/fitting-random-labels): each label is replaced with probability p
-- by a uniform draw over all classes, so about 0.9 p of them change for 10 classes. The draw
-- depends only on (p, seed) and the training set, so every method and every rerun at one noise
-- level trains on the same labels; the test set is never corrupted. build() corrupts before the
-- loader is made (a resume redoes it, identically).
--
-- Extra config key: train_eval_every = k (>= 1): after every k-th epoch and after the last,
-- the net in inference mode is evaluated on the un-augmented, unmixed training images, against
-- the real labels and against the corrupted labels it trains on (one forward pass for both).
-- One pass costs about a third of an epoch's training, so k = 1 adds ~30 % to a run; the paper's
-- columns need only the last epoch.
-- Extra curves (one entry per epoch, NaN on the epochs not evaluated): train_error_real and
-- train_error_corrupted, percent.
-- Extra summary attributes of the results file (the classifier's summary keeps best and last
-- test error):
--   label_noise_changed            fraction of training labels that differ from the real ones
--   label_noise_md5                MD5 of the noisy labels as bytes (one per example, in the
--                                  set's order), 32 hex digits: equal files trained on equal
--                                  labels
--   train_error_real_labels        percent, the final net on the training images against the
--   train_error_corrupted_labels   real labels and against the corrupted ones (Table 4's
--                                  columns): the last entries of the two curves
-- The per-epoch train_error curve is against the labels trained on (corrupted, augmented,
-- mixed), as in the classifier.

local data = require "engine.data"
local sys = require "engine.sys"
local train = require "engine.train"
local config = require "harness.lua.config"
local classifier = require "harness.lua.tasks.classifier"

local M = classifier.derive("noisy_classifier", {"train_error_real", "train_error_corrupted"})

-- The classifier's schema with data.label_noise added (records are copied, not shared).
M.schema = config.copy(classifier.schema)
M.schema.fields.train_eval_every = config.integer{min = 1}
M.schema.fields.data.fields.label_noise = config.record{
  p = config.number{min = 0, max = 1},  -- the probability that a label is redrawn
  seed = config.integer{min = 0},       -- the draw; one per noise level, shared by methods
}

-- MD5 (engine.sys.md5) of the labels tensor as bytes (values 0..255, one per example), as
-- `md5sum` would print it for a file of those bytes.
function M.labels_md5(labels)
  local bytes, n = {}, labels:size()
  for i = 1, n do bytes[i] = math.tointeger(labels:get(i)) end
  local parts = {}
  for i = 1, n, 4096 do
    parts[#parts + 1] = string.char(table.unpack(bytes, i, math.min(i + 4095, n)))
  end
  return sys.md5(table.concat(parts))
end

function M.build(cfg, env)
  local noise = nil
  local ln = cfg.data.label_noise
  local st = classifier.build(cfg, {
    threads = env.threads, data_cache = env.data_cache, dp = env.dp,
    prepare_train = function(clean)
      local set = clean:subset{first = clean:size()} -- a copy: the cached set stays clean
      local changed = set:corrupt(ln.p, ln.seed)
      noise = {changed = changed / set:size(), md5 = M.labels_md5(set:labels("noisy"))}
      return set
    end,
  })
  st.noise = noise
  local d = cfg.data
  st.train_eval_ld = data.loader(st.train_set, {batch = cfg.eval_batch, train = false,
                                                mean = d.mean, std = d.std})
  return st
end

function M.describe(st, cfg)
  return ("%s, labels corrupted with p = %g (%.1f %% changed, md5 %s)"):format(
         classifier.describe(st, cfg), cfg.data.label_noise.p, 100 * st.noise.changed,
         st.noise.md5)
end

-- Error (percent) of st.net in inference mode on the un-augmented training images against the
-- real and against the corrupted labels, in one pass.
function M.train_errors(st)
  local ld, net = st.train_eval_ld, st.net
  ld:epoch(0)
  local wrong_real, wrong_used, seen = 0, 0, 0
  for x, y_used, y_real in ld:each() do
    local z = net:forward(x, false)
    wrong_used = wrong_used + train.count_errors(z, y_used)
    wrong_real = wrong_real + train.count_errors(z, y_real)
    seen = seen + x:shape()[1]
  end
  return 100.0 * wrong_real / seen, 100.0 * wrong_used / seen
end

function M.step(st, e, ctx)
  local row, line = classifier.step(st, e, ctx)
  local every = st.cfg.train_eval_every
  row.train_error_real, row.train_error_corrupted = 0 / 0, 0 / 0
  if (e + 1) % every == 0 or e + 1 == st.cfg.epochs then
    local t0 = sys.clock()
    row.train_error_real, row.train_error_corrupted = M.train_errors(st)
    local secs = sys.clock() - t0
    row.seconds = row.seconds + secs
    line = line .. (" | train set: %.1f%% real, %.1f%% corrupted labels, %.1fs"):format(
           row.train_error_real, row.train_error_corrupted, secs)
  end
  return row, line
end

function M.result(st, r)
  local tree = classifier.result(st, r)
  local a = tree.groups.summary.attrs
  local real, corrupted = r.curves.train_error_real, r.curves.train_error_corrupted
  a.label_noise_changed = st.noise.changed
  a.label_noise_md5 = st.noise.md5
  a.train_error_real_labels = real[#real]
  a.train_error_corrupted_labels = corrupted[#corrupted]
  return tree
end

function M.summary_line(s)
  local line = ("test error best %.2f%%, last %.2f%%, last training error %.1f%%"):format(
               s.test_error_best, s.test_error_last, s.train_error_last)
  if s.train_error_real_labels then
    line = line .. (", training error %.1f%% on real labels, %.1f%% on corrupted ones (%.1f%% "
                    .. "changed)"):format(s.train_error_real_labels,
                    s.train_error_corrupted_labels, 100 * s.label_noise_changed)
  end
  return line
end

return M
