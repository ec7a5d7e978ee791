-- tasks/ablation_classifier.lua: the image classifier with the ablation's variants of mixup
-- (the ICLR version's ablation table, /work/shared/paper/PAPER_FACTS.md section 9): config
-- schema "image_classification_ablation", the classifier's (tasks/classifier.lua) with more
-- keys in its mixup record (harness/train/mixup.h documents each, with its draw order):
--   mixup.partner     "random" (RP: a random permutation of the batch) | "same_class" (SC: a
--                     random permutation within each class of the batch) | "knn" (AC + KNN:
--                     one of the knn_k nearest images of the training set, in pixel space) |
--                     "knn_same_class" (SC + KNN: the same among images of the same class)
--   mixup.knn_k       neighbours per image (the paper's 200 of 50,000 images)
--   mixup.labels      "mixed" (the paper's mixup) | "heavier" (the one-hot label of the input
--                     with the larger weight: mixing inputs only; with SC + KNN, SMOTE)
--   mixup.smoothing   label smoothing eps in [0, 1) (1 - eps + eps/K on the true class), alone
--                     with alpha = 0 or after mixing
--   mixup.noise       Gaussian input noise sigma >= 0 (alone with alpha = 0, or after mixing),
--                     in the units of the normalised input
-- and latent mixing through the net: net.mix_at = k (nets/preact_resnet.lua) puts a mix layer
-- before stage k (1-4) or before the pooling (5); the inputs then stay unmixed and the net
-- mixes its hidden representation with the batch's lambda and pairs (harness/nn/mix.h).
--
-- Nearest neighbours (harness/data/knn.h): exact squared Euclidean distance between the raw
-- training images, computed once at build on the set the run trains on; the partner of an
-- example is drawn uniformly among its knn_k neighbours and augmented on its own, both from
-- the mixup stream (before lambda), so the anchors are the batches of every other method of
-- the seed. The table's MD5 is in the results file (summary attributes knn_md5, knn_k).
-- ERM is alpha = 0 with smoothing 0, noise 0 and no mix layer; mixup AC + RP is alpha > 0 with
-- "random" and "mixed": both are bit for bit the classifier's runs. Everything else (the
-- epoch, checkpoints, curves, the results file) is the classifier's.

local data = require "engine.data"
local train = require "engine.train"
local config = require "harness.lua.config"
local classifier = require "harness.lua.tasks.classifier"

local M = classifier.derive("ablation_classifier")

M.schema = config.copy(classifier.schema)
local mix = M.schema.fields.mixup.fields
mix.partner = config.string{one_of = {"random", "same_class", "knn", "knn_same_class"}}
mix.knn_k = config.integer{min = 1}
mix.labels = config.string{one_of = {"mixed", "heavier"}}
mix.smoothing = config.number{min = 0, below = 1}
mix.noise = config.number{min = 0}

local KNN = {knn = false, knn_same_class = true} -- partner -> same class only

-- Partners from the neighbour table, then mixing with them (replaces classifier.mix).
local function mix_knn(st, xm, t, x, y)
  local x2, y2 = st.train_ld:partners(st.knn, st.rng.mixup)
  train.mixup(xm, t, x, y, st.mix_opts, st.rng.mixup, x2, y2)
end

function M.build(cfg, env)
  local st = classifier.build(cfg, env)
  local m, o = cfg.mixup, st.mix_opts
  o.labels, o.smoothing, o.noise = m.labels, m.smoothing, m.noise
  local mix_at = cfg.net.mix_at or 0
  if mix_at > 0 then
    if m.partner ~= "random" then
      error(("ablation_classifier: net.mix_at = %d with mixup.partner = %q: latent mixing "
             .. "takes its partners from the batch; use partner = \"random\""):format(
             mix_at, m.partner), 0)
    end
    o.latent = st.net
  end
  if KNN[m.partner] ~= nil then
    if m.alpha == 0 then
      error("ablation_classifier: mixup.partner = " .. m.partner .. " with alpha = 0 draws "
            .. "partners it never uses; set alpha > 0 or partner = \"random\"", 0)
    end
    st.knn = data.neighbours(st.train_set, m.knn_k, {same_class = KNN[m.partner],
                                                      threads = env.threads})
    st.knn_md5 = st.knn:md5()
    st.mix = mix_knn
  else
    o.partner = m.partner
  end
  return st
end

-- "mixup AC + RP (alpha 1)", "ERM + label smoothing 0.1", "inputs only SC + KNN (alpha 1)",
-- "mixup layer 3 (alpha 1)": the method a config describes.
function M.method_name(m, mix_at)
  local parts = {}
  if m.alpha == 0 then
    parts[1] = "ERM"
  elseif (mix_at or 0) > 0 then
    parts[1] = ("mixup layer %d (alpha %g)"):format(mix_at, m.alpha)
  else
    local sc = m.partner == "same_class" or m.partner == "knn_same_class"
    local knn = KNN[m.partner] ~= nil
    parts[1] = ("%s %s + %s (alpha %g)"):format(m.labels == "heavier" and "inputs only"
               or "mixup", sc and "SC" or "AC", knn and ("KNN k " .. m.knn_k) or "RP", m.alpha)
  end
  if m.smoothing > 0 then parts[#parts + 1] = ("label smoothing %g"):format(m.smoothing) end
  if m.noise > 0 then parts[#parts + 1] = ("noise %g"):format(m.noise) end
  return table.concat(parts, " + ")
end

function M.describe(st, cfg)
  local s = classifier.describe(st, cfg) .. ", " .. M.method_name(cfg.mixup, cfg.net.mix_at)
  if st.knn then s = s .. (", neighbour table md5 %s"):format(st.knn_md5) end
  return s
end

function M.result(st, r)
  local tree = classifier.result(st, r)
  if st.knn then
    local a = tree.groups.summary.attrs
    a.knn_md5, a.knn_k = st.knn_md5, st.knn:k()
  end
  return tree
end

return M
