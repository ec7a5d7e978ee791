-- ablation_cifar.lua: the ablation table of the mixup paper's ICLR version (section 3.8;
-- /work/shared/paper/PAPER_FACTS.md section 9 and Appendix A): what part of mixup matters,
-- PreAct ResNet-18 on CIFAR-10, every method at weight decay 1e-4 and 5e-4, the median test
-- error of the last 10 epochs. Each method is a config of the one training loop
-- (harness/lua/tasks/ablation_classifier.lua documents the keys). Run with
-- `make reproduce-ablation [SCALE=cpu|smoke|paper]`; the report's section is
-- harness/lua/ablation_report.lua, the figure tools/ablation.lua.
--
-- Sources: only ERM (5.53 / 5.18) and mixup AC + RP (4.24 / 4.68) are sourced (hongyi-zhang/
-- mixup README, PreAct ResNet-18 as kuangliu/pytorch-cifar builds it, hence variant
-- "kuangliu" here); every other cell is a value recalled from the ICLR text, unverified, and
-- the report prints it as such. Unverified choices, each an option here: k = 200 neighbours
-- (a third-party note), the metric (exact Euclidean distance between raw pixels:
-- harness/data/knn.h), "layer 1" to "layer 5" = before residual stage 1-4 and before the final
-- pooling (recalled), label smoothing as 1 - eps + eps/K on the true class (the recalled
-- "eps/10 on each wrong class and 1 - 9 eps/10 on the true one" is the same rule), Gaussian
-- noise sigma in the units of the normalised input, one lambda per batch, alpha = 1.
--
-- Methods (axis `method`): erm; mixup (AC + RP); mixup_knn (AC + KNN); mixup_l1 .. mixup_l5
-- (latent); inputs-only (the heavier input's label) smote (SC + KNN), in_ac_knn, in_sc_rp,
-- in_ac_rp; ls005 .. ls02 (label smoothing); mixls005 .. mixls04 (mixup AC + RP + label
-- smoothing); noise005 .. noise02 (Gaussian input noise).

local CIFAR10_MEAN = {0.4914, 0.4822, 0.4465}
local CIFAR10_STD = {0.2023, 0.1994, 0.2010}
local PAPER_K = 200 -- neighbours of each of 50,000 images

local function m(id, mix, mix_at)
  return {id = id, set = {mixup = mix, net = {mix_at = mix_at or 0}}}
end

local A = 1.0 -- alpha of every mixing row (the paper's CIFAR alpha)

local METHODS = {
  m("erm", {alpha = 0.0}),
  m("mixup", {alpha = A}),
  m("mixup_knn", {alpha = A, partner = "knn"}),
  m("mixup_l1", {alpha = A}, 1), m("mixup_l2", {alpha = A}, 2), m("mixup_l3", {alpha = A}, 3),
  m("mixup_l4", {alpha = A}, 4), m("mixup_l5", {alpha = A}, 5),
  m("smote", {alpha = A, partner = "knn_same_class", labels = "heavier"}),
  m("in_ac_knn", {alpha = A, partner = "knn", labels = "heavier"}),
  m("in_sc_rp", {alpha = A, partner = "same_class", labels = "heavier"}),
  m("in_ac_rp", {alpha = A, labels = "heavier"}),
  m("ls005", {alpha = 0.0, smoothing = 0.05}), m("ls01", {alpha = 0.0, smoothing = 0.1}),
  m("ls02", {alpha = 0.0, smoothing = 0.2}),
  m("mixls005", {alpha = A, smoothing = 0.05}), m("mixls01", {alpha = A, smoothing = 0.1}),
  m("mixls02", {alpha = A, smoothing = 0.2}), m("mixls04", {alpha = A, smoothing = 0.4}),
  m("noise005", {alpha = 0.0, noise = 0.05}), m("noise01", {alpha = 0.0, noise = 0.1}),
  m("noise02", {alpha = 0.0, noise = 0.2}),
}

-- The rows the cpu scale's conclusions need, at wd 1e-4: ERM and mixup (mixup best), the
-- runner-up (mix input + label smoothing), label smoothing, input noise and SMOTE. The decay
-- rows (ERM and mixup at 5e-4) are left out at cpu: their claims are beyond its resolution
-- (3. below); the paper scale runs them.
local CONCLUSION_ROWS = {
  {wd = "wd1em4", method = {"erm", "mixup", "mixls01", "ls01", "noise005", "smote"}},
}

return {
  name = "ablation_cifar",
  schema = "image_classification_ablation",

  base = {
    dataset = "cifar10",
    epochs = 200,
    batch = 128,
    eval_batch = 100,
    net = {family = "preact_resnet", variant = "kuangliu", depth = 18, width = 64,
           init = "torch_default", num_classes = 10},
    data = {source = "cifar", train_examples = "all", test_examples = "all", subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = CIFAR10_MEAN, std = CIFAR10_STD},
    mixup = {alpha = A, per_example = false, partner = "random", knn_k = PAPER_K,
             labels = "mixed", smoothing = 0.0, noise = 0.0},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.1, factor = 0.1, milestones = {100, 150}, lr_drop_late = false},
  },

  axes = {
    {name = "wd", levels = {
      {id = "wd1em4", set = {optim = {weight_decay = 1e-4}}},
      {id = "wd5em4", set = {optim = {weight_decay = 5e-4}}},
    }},
    {name = "method", levels = METHODS},
  },

  scales = {
    -- paper: every row at both decays, 200 epochs, k = 200; one seed per cell (the sourced
    -- README numbers are single runs; the number of runs behind the table is not stated).
    paper = {seeds = {1}, set = {}},

    -- cpu: the rows the conclusions need (CONCLUSION_ROWS), Table 4's cpu data sizes and
    -- Table 2's cpu schedule: a class-balanced subset of 1,500 training and 1,000 test images
    -- of CIFAR-10, PreAct ResNet-18 (kuangliu) at width 16, 100 epochs, drops at 50 and 75,
    -- 4 seeds, k = 6 neighbours (200 of 50,000 is 0.4 % of the set; 6 of 1,500 the same). The
    -- statistic is the median of the last 5 epochs (5 % of the run, as Table 2's cpu scale).
    -- Budget: 6 cells x 4 seeds = 24 runs of ~585 s (1 thread, two runs side by side), about
    -- 2 hours on 2 workers. Fewer seeds cannot settle mixup - ERM and no cheaper recipe keeps
    -- ERM memorising its training set (1.-4. below); the decay rows are left out (3.).
    -- What was tried, all on the 2-core VM, 2 x 1 thread:
    -- 1. 3 seeds (2026-12-05, `make reproduce-ablation` from a fresh clone of 93f2e05, 1 h 57
    --    min wall): mixup - ERM -3.67 [-8.84, +1.51], inconclusive, and every line but SMOTE's
    --    inconclusive: with t(2) = 4.30 a paired interval is +-2.5 sd of the difference.
    -- 2. Table 2's 2,500 / 2,000 images at 60 epochs instead of 100 (drops at 30 and 45), to
    --    afford more seeds at Table 2's size, seed 1 (a copy of this file, not kept):
    --    ERM 36.2 with 17 % training error at the end, mixup 39.1: ERM underfits and the sign
    --    flips, as in Table 2's first cpu recipe. At 100 epochs that size costs ~950 s per run
    --    (40 runs: ~5 h 15 min).
    -- 3. Seeds 4 and 5 added to 1. (2026-12-05, `make reproduce-ablation` into the results of
    --    1. at 48ef301: 16 runs, 1 h 18 min wall; short niced builds and unit tests ran beside
    --    it). Median of the last 5 epochs, mean +- sd over 5 seeds, wd 1e-4 (5e-4):
    --      ERM 44.34 +- 0.83 (42.92 +- 2.51), training error 3-5 %: it memorises;
    --      mixup 40.32 +- 1.37 (39.96 +- 0.63); mix + label smoothing 0.1 41.76 +- 0.87;
    --      label smoothing 0.1 43.82 +- 1.26; noise 0.05 44.50 +- 3.82; SMOTE 46.18 +- 3.41.
    --    Verdicts (paired t, 5 seeds, 95 %): mixup - ERM -4.02 [-5.95, -2.09], mixup - label
    --    smoothing -3.50 [-5.30, -1.70], mixup - noise -4.18 [-7.67, -0.69], mixup - SMOTE
    --    -5.86 [-10.26, -1.46]: reproduced; mixup - (mix + label smoothing) -1.44 [-3.34,
    --    +0.46]: inconclusive, so "mixup is best" stays inconclusive. Label smoothing gains
    --    little over ERM (-0.52 [-1.61, +0.57]): reproduced; noise (+0.16 [-4.36, +4.68]) and
    --    SMOTE (+1.84 [-2.42, +6.10]): inconclusive, their intervals reaching below -2.01
    --    (half of mixup's gain). The decay claims stay inconclusive: ERM(5e-4) - ERM(1e-4)
    --    -1.42 [-4.11, +1.27] (the paper's side), mixup(1e-4) - mixup(5e-4) +0.36 [-1.56,
    --    +2.28]. Their published effects are 0.35 and 0.44 points; with this recipe's seed sd
    --    of the paired difference (1.5-2.2 points) a 95 % interval that narrow needs 50-120
    --    seeds: these two claims are beyond the cpu scale's resolution. The 5 seeds of both
    --    decays (40 runs) cost ~3 h 15 min, over the budget; the decay rows were dropped and the
    --    seeds cut to 4 (the same runs, seeds 1-4, give mixup - ERM -3.88 [-6.66, -1.09]).
    -- 4. Is the 1,000-image test set the noise? The final weights of 3.'s runs at 1e-4 measured
    --    on all 10,000 test images (a script, not kept): mixup - ERM per seed -4.60, -3.47,
    --    -3.57, -4.10, -7.18 (sd 1.5), against -4.1, -4.9, -1.6, -5.4, -3.9 on the 1,000 (sd
    --    1.5). No: the spread is the models' own (1,500 training images), so a larger test set
    --    buys nothing and seeds are the only lever.
    -- 5. This recipe in full (2026-12-05, `make reproduce-ablation SCALE=cpu` from a fresh clone
    --    of 9e685eb, idle but for ~60 CPU-seconds of compiles): 1 h 55 min 45 s wall, the 24
    --    runs bit for bit 3.'s seeds 1-4 (tools/weights_md5.sh). mixup - ERM -3.88 [-6.66,
    --    -1.09], - label smoothing -3.38 [-5.98, -0.77], - SMOTE -7.05 [-11.35, -2.75], SMOTE
    --    gains nothing (+3.17 [+0.08, +6.27]): reproduced; the rest inconclusive (README).
    cpu = {
      seeds = {1, 2, 3, 4},
      only = CONCLUSION_ROWS,
      set = {epochs = 100, net = {width = 16}, mixup = {knn_k = 6},
             data = {train_examples = 1500, test_examples = 1000},
             schedule = {milestones = {50, 75}}},
      note = "cpu scale: 1,500 training and 1,000 test images of CIFAR-10, PreAct ResNet-18 "
             .. "(kuangliu) at width 16, 100 epochs, k = 6 neighbours, 4 seeds, wd 1e-4 only: the "
             .. "decay claims (effects of 0.35-0.44 points) need 50-120 seeds at this scale "
             .. "(experiments/ablation_cifar.lua): not comparable in magnitude with the paper",
    },

    -- smoke: 200 training and 200 test images, width 4, 2 epochs, k = 3, one row of each
    -- family at one decay and ERM and mixup at both, 2 seeds: checks the pipeline (CI:
    -- tests/e2e/test_ablation_smoke.lua).
    smoke = {
      seeds = {1, 2},
      only = {{wd = {"wd1em4", "wd5em4"}, method = {"erm", "mixup"}},
              {wd = "wd1em4", method = {"mixup_knn", "mixup_l3", "smote", "ls01", "mixls01",
                                        "noise005"}}},
      set = {epochs = 2, net = {width = 4}, mixup = {knn_k = 3},
             data = {train_examples = 200, test_examples = 200},
             schedule = {milestones = {1}}},
      note = "smoke scale: 200 images, 2 epochs: checks the pipeline, not the paper",
    },
  },
}
