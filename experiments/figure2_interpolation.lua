-- figure2_interpolation.lua: Figure 2 of the mixup paper (v1 p.4): an ERM and a mixup model
-- between random pairs of training images, x~ = lambda x_i + (1 - lambda) x_j: (a) the rate of
-- predictions that are neither y_i nor y_j, (b) the norm of the loss's input gradient
-- (harness/lua/tasks/interpolation.lua has the measurements and the unverified choices, which
-- are options here). One run per model seed, on the models of Table 2 (PreAct ResNet-18,
-- CIFAR-10, ERM and mixup alpha = 1), found in the results folder or trained first.
-- Run with `make reproduce-figure2 [SCALE=cpu|smoke|paper]`.
--
-- `paper`: Table 2's paper-scale models, 1,000 pairs, lambda in steps of 0.05.
-- `cpu`: Table 2's cpu models (3 seeds), 1,000 pairs, lambda in steps of 0.1. Measured
-- 2026-12-05 (`make reproduce-figure2` on the models of the Table 2 cpu run, 2 min 30 s wall):
-- at lambda = 0.5 miss ERM 40.5 +- 2.5 %, mixup 24.4 +- 0.7 % (-16.1 [-23.7, -8.4], paired t,
-- reproduced); gradient norm ERM 7.47 +- 0.36, mixup 1.51 +- 0.10 (-5.95 [-6.94, -4.97],
-- reproduced). The norms are ~40 x the paper's read-off ones (its units are unverified).
-- `smoke`: Table 2's smoke model of seed 1, 50 pairs, lambda 0, 0.5 and 1.

local function grid_of(step)
  local l = {}
  for i = 0, math.floor(1 / step + 0.5) do l[#l + 1] = math.min(1.0, i * step) end
  return l
end

return {
  name = "figure2_interpolation",
  schema = "interpolation_eval",

  base = {
    source = {experiment = "table2_cifar", scale = "paper", dataset = "cifar10",
              net = "preact_resnet18", erm = "erm", mixup = "mixup_a1"},
    lambdas = grid_of(0.05), pairs = 1000, pair_seed = 0, target = "mixed", eval_batch = 100,
  },

  axes = {},

  scales = {
    paper = {seeds = {1}, set = {}},
    cpu = {seeds = {1, 2, 3},
           set = {source = {scale = "cpu"}, lambdas = grid_of(0.1)},
           note = "cpu scale: Table 2's cpu PreAct ResNet-18 models (width 16, 2,500 training "
                  .. "images), 1,000 pairs of their training images"},
    smoke = {seeds = {1},
             set = {source = {scale = "smoke"}, lambdas = {0, 0.5, 1}, pairs = 50},
             note = "smoke scale: Table 2's smoke models: checks the pipeline, not the paper"},
  },
}
