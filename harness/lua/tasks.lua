-- tasks.lua: the experiment kinds: a config schema name (an experiment script's `schema`)
-- and the task module that runs it through the one lifecycle (harness/lua/lifecycle.lua
-- documents the task table). A new kind is one entry here plus its file in harness/lua/tasks/.
--
--   local tasks = require "harness.lua.tasks"
--   tasks.get("image_classification") -> the task table (its .schema validates configs)
--   tasks.names()                      -> the schema names, sorted

local M = {}

M.MODULES = {
  image_classification = "harness.lua.tasks.classifier", -- Table 2 of the paper (CIFAR)
  imagenet_classification = "harness.lua.tasks.imagenet_classifier", -- Table 1 (ImageNet)
  image_classification_noisy = "harness.lua.tasks.noisy_classifier", -- Table 4
  image_classification_ablation = "harness.lua.tasks.ablation_classifier", -- the ablation
  gan_toy = "harness.lua.tasks.gan",                      -- Figure 5
  adversarial_eval = "harness.lua.tasks.adversarial",     -- Table 5
  interpolation_eval = "harness.lua.tasks.interpolation", -- Figure 2
}

function M.names()
  local names = {}
  for k in pairs(M.MODULES) do names[#names + 1] = k end
  table.sort(names)
  return names
end

function M.get(schema)
  local mod = M.MODULES[schema]
  if not mod then
    error(("tasks: no task for schema '%s' (known: %s)"):format(tostring(schema),
          table.concat(M.names(), ", ")), 0)
  end
  return require(mod)
end

return M
