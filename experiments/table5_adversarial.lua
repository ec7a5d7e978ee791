-- table5_adversarial.lua: Table 5 of the mixup paper (section 3.5; PAPER_FACTS.md section 6):
-- FGSM and I-FGSM, white box and black box, top-1 and top-5 error, on models another
-- experiment trained (harness/lua/tasks/adversarial.lua runs the protocol). One run is one
-- triple of models of one recipe: ERM seed a attacks itself and mixup seed a attacks itself
-- (white box); ERM a's examples go to ERM seed b and to mixup a (black box). The grid's
-- `pair` axis names (a, b); its seed axis has one level and means nothing (an evaluation draws
-- nothing). Run with `make reproduce-table5 [SCALE=cpu|smoke|paper]`.
--
-- `paper`: the ImageNet ResNet-101 models of Table 1, eps = 4 (pixel units), 10 I-FGSM steps
-- of eps / 10, on the 50,000 validation images (centre crops); the models are Table 1's
-- 90-epoch ResNet-101s (experiments/table1_imagenet.lua, trained first when absent: that needs
-- `make data-imagenet`, else the run is skipped with that message). The attack on ImageNet
-- models is tested on Table 1's smoke models (tests/e2e/test_table1_smoke.lua).
-- `cpu`: the CIFAR-10 PreAct ResNet-18 (width 16) models of Table 2's cpu recipe, reused from
-- the results folder (trained first if absent), an eps sweep {1, 2, 4, 8} beside the paper's 4,
-- five triples (a1b2, a2b3, a3b4, a4b5, a5b1): seeds 1-5 of each model kind. Table 2's grid has
-- seeds 1-3; seeds 4 and 5 are the same recipe (harness/lua/models.lua), trained here.
-- What was tried (issue 14): three triples (a1b2, a2b3, a3b1; 22 min 16 s wall on the models
-- of Table 2's run): every difference on the paper's side, but at eps 2, 4 and 8 every verdict
-- inconclusive (FGSM white box at eps 4: -4.25 [-8.52, +0.02]). Five triples, measured in full
-- (2026-12-05, `make reproduce-table5` from a fresh clone with seeds 1-3 present: seeds 4 and 5
-- trained first, 53 min 7 s wall as 2 x 1 thread): top-1 error ERM / mixup at eps 4 FGSM white
-- box 92.2 / 88.3 (-3.88 [-5.56, -2.20], reproduced), black box 57.2 / 50.0 (-7.14 [-10.56,
-- -3.72], reproduced), I-FGSM black box 57.9 / 51.8 (-6.09 [-12.34, +0.16], inconclusive),
-- white box 96.9 / 97.1 (clean 35.3 / 31.6); FGSM white and black box reproduced at every eps,
-- I-FGSM black box at eps 1 and 2. Net of each model's clean error the white-box difference is
-- nil (-0.18 [-3.71, +3.35] at eps 4) and the black-box one leans mixup's way without
-- excluding 0 (-3.44 [-8.02, +1.14]): at this scale mixup's lower white-box error under attack
-- is its lower clean error.
-- `smoke`: Table 2's smoke models, eps 4, 3 I-FGSM steps: checks the pipeline.

local function pair(a, b)
  return {id = ("a%db%d"):format(a, b), set = {seed_a = a, seed_b = b}}
end

return {
  name = "table5_adversarial",
  schema = "adversarial_eval",

  base = {
    seed_a = 1, seed_b = 2,
    source = {experiment = "table1_imagenet", scale = "paper", dataset = "imagenet",
              net = "resnet101", erm = "erm", mixup = "mixup"},
    eps = {4}, ifgsm_iters = 10, quantize = false, eval_batch = 100,
  },

  axes = {
    {name = "pair", levels = {pair(1, 2), pair(2, 3), pair(3, 4), pair(4, 5), pair(5, 1),
                              pair(2, 1)}},
  },

  scales = {
    paper = {seeds = {0}, only = {{pair = "a1b2"}}, set = {}},
    cpu = {
      seeds = {0},
      only = {{pair = {"a1b2", "a2b3", "a3b4", "a4b5", "a5b1"}}},
      set = {source = {experiment = "table2_cifar", scale = "cpu", dataset = "cifar10",
                       net = "preact_resnet18", erm = "erm", mixup = "mixup_a1"},
             eps = {1, 2, 4, 8}},
      note = "cpu scale: Table 2's cpu PreAct ResNet-18 models (width 16, 2,500 training "
             .. "images), seeds 1-5; not comparable in magnitude with the paper's ImageNet "
             .. "numbers. Mixup's clean error is about 4 points lower than ERM's here, so read "
             .. "each verdict with the net-of-clean-error column",
    },
    smoke = {
      seeds = {0},
      only = {{pair = {"a1b2", "a2b1"}}},
      set = {source = {experiment = "table2_cifar", scale = "smoke", dataset = "cifar10",
                       net = "preact_resnet18", erm = "erm", mixup = "mixup_a1"},
             eps = {4}, ifgsm_iters = 3},
      note = "smoke scale: Table 2's smoke models: checks the pipeline, not the paper",
    },
  },
}
