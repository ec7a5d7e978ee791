-- tasks/ablation_classifier.lua: the image classifier with the ablation's variants of mixup
-- (the ICLR version's ablation table, /work/shared/paper/PAPER_FACTS.md section 9): config
-- schema "image_classification_ablation", the classifier's (tasks/classifier.lua) with four
-- more keys in its mixup record, passed to the engine's batch operation (harness/train/mixup.h
-- documents each, with its draw order):
--   mixup.partner     "random" (RP: a random permutation of the batch) | "same_class" (SC: a
--                     random permutation within each class of the batch)
--   mixup.labels      "mixed" (the paper's mixup) | "heavier" (the one-hot label of the input
--                     with the larger weight: mixing inputs only)
--   mixup.smoothing   label smoothing eps in [0, 1) (1 - eps + eps/K on the true class), alone
--                     with alpha = 0 or after mixing
--   mixup.noise       Gaussian input noise sigma >= 0 (alone with alpha = 0, or after mixing),
--                     in the units of the normalised input
-- ERM is alpha = 0 with smoothing 0 and noise 0; mixup AC + RP is alpha > 0 with "random" and
-- "mixed": both are bit for bit the classifier's runs. Everything else (the epoch, checkpoints,
-- curves, the results file) is the classifier's. Not yet here: nearest-neighbour partners
-- (AC + KNN, SMOTE) and latent mixing ("layer 1" to "layer 5").

local config = require "harness.lua.config"
local classifier = require "harness.lua.tasks.classifier"

local M = {}
for k, v in pairs(classifier) do M[k] = v end

M.name = "ablation_classifier"

M.schema = config.copy(classifier.schema)
local mix = M.schema.fields.mixup.fields
mix.partner = config.string{one_of = {"random", "same_class"}}
mix.labels = config.string{one_of = {"mixed", "heavier"}}
mix.smoothing = config.number{min = 0, below = 1}
mix.noise = config.number{min = 0}

function M.build(cfg, env)
  local st = classifier.build(cfg, env)
  local m, o = cfg.mixup, st.mix_opts
  o.partner, o.labels, o.smoothing, o.noise = m.partner, m.labels, m.smoothing, m.noise
  return st
end

-- "mixup AC + RP (alpha 1)", "ERM + label smoothing 0.1", "inputs only SC + RP (alpha 1) +
-- noise 0.1": the method a config describes.
function M.method_name(m)
  local parts = {}
  if m.alpha == 0 then
    parts[1] = "ERM"
  else
    parts[1] = ("%s %s + RP (alpha %g)"):format(m.labels == "heavier" and "inputs only"
               or "mixup", m.partner == "same_class" and "SC" or "AC", m.alpha)
  end
  if m.smoothing > 0 then parts[#parts + 1] = ("label smoothing %g"):format(m.smoothing) end
  if m.noise > 0 then parts[#parts + 1] = ("noise %g"):format(m.noise) end
  return table.concat(parts, " + ")
end

function M.describe(st, cfg)
  return classifier.describe(st, cfg) .. ", " .. M.method_name(cfg.mixup)
end

return M
