-- table2_cifar.lua: Table 2 of the mixup paper (Zhang et al., ICLR 2018): CIFAR-10 and
-- CIFAR-100 test error of ERM and mixup (alpha = 1), as a grid dataset x net x method x seed.
-- Run it with `make reproduce-table2 [SCALE=cpu|smoke|paper]` or
-- `./mixup experiments/run.lua table2_cifar --scale cpu [net=... seed=...]`.
--
-- `paper` is the published recipe (/work/shared/paper/PAPER_FACTS.md section 3): 200 epochs,
-- batch 128, SGD lr 0.1, momentum 0.9 (official code), weight decay 1e-4 on every parameter
-- (the official code passes all parameters to SGD), lr / 10 at epochs 100 and 150, random
-- crop (pad 4) + flip, the official normalisation, PreAct ResNet-18 as
-- facebookresearch/mixup-cifar10 builds it, test batch 100. The official code's
-- one-epoch-late drop is schedule.lr_drop_late, false here (the paper's wording); results and
-- report carry the flag. The statistic (median test error of the last 10 epochs) is computed
-- by harness/lua/results.lua for every scale.
-- `cpu` and `smoke` keep every setting but width, data size and schedule: see their notes
-- below. Their numbers are not comparable in magnitude with the paper's.
-- CIFAR-100 cells are in the grid; without the data (`make data-cifar100`) they are skipped
-- with a message. WRN-28-10 and DenseNet-BC-190 are levels of the net axis; at the reduced
-- scales smaller members of the same families stand for them (the report names them).

-- facebookresearch/mixup-cifar10 train.py: transforms.Normalize((0.4914, 0.4822, 0.4465),
-- (0.2023, 0.1994, 0.2010)) (harness/data/data_cifar.h CIFAR10_MEAN/STD).
local CIFAR10_MEAN = {0.4914, 0.4822, 0.4465}
local CIFAR10_STD = {0.2023, 0.1994, 0.2010}
-- The official code has no CIFAR-100 path (PAPER_FACTS 3b); these are the per-channel mean
-- and standard deviation of the 50k CIFAR-100 training images, the values common CIFAR-100
-- codes (e.g. weiaicunzai/pytorch-cifar100) use.
local CIFAR100_MEAN = {0.5071, 0.4865, 0.4409}
local CIFAR100_STD = {0.2673, 0.2564, 0.2762}

local PAPER_EPOCHS = 200

return {
  name = "table2_cifar",
  schema = "image_classification",

  base = {
    epochs = PAPER_EPOCHS,
    batch = 128,
    eval_batch = 100,
    data = {source = "cifar", train_examples = "all", test_examples = "all", subset_seed = 0,
            augment = true, pad = 4, flip = true},
    mixup = {per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.1, factor = 0.1, milestones = {100, 150}, lr_drop_late = false},
  },

  axes = {
    {name = "dataset", levels = {
      {id = "cifar10", set = {dataset = "cifar10", net = {num_classes = 10},
                              data = {mean = CIFAR10_MEAN, std = CIFAR10_STD}}},
      {id = "cifar100", set = {dataset = "cifar100", net = {num_classes = 100},
                               data = {mean = CIFAR100_MEAN, std = CIFAR100_STD}}},
    }},
    {name = "net", levels = {
      {id = "preact_resnet18", set = {net = {family = "preact_resnet", variant = "official",
                                             depth = 18, width = 64,
                                             init = "torch_default"}}},
      -- szagoruyko/wide-residual-networks: its own schedule (drops at 60, 120, 180)
      {id = "wrn28_10", set = {net = {family = "wrn", depth = 28, widen_factor = 10,
                                      dropout = 0.0, init = "he_normal"},
                               schedule = {milestones = {60, 120, 180}}}},
      -- andreasveit/densenet-pytorch with growth 40 (the paper's DenseNet-BC-190)
      {id = "densenet_bc190", set = {net = {family = "densenet", depth = 190, growth = 40,
                                            compression = 0.5, init = "he_normal"}}},
    }},
    {name = "method", levels = {
      {id = "erm", set = {mixup = {alpha = 0}}},
      {id = "mixup_a1", set = {mixup = {alpha = 1}}},
    }},
  },

  scales = {
    -- The number of seeds behind the published cells is not stated (PAPER_FACTS 3a).
    paper = {seeds = {1, 2, 3}, set = {},
             per_level = {["net=wrn28_10"] = {schedule = {milestones = {60, 120, 180}}}}},

    -- cpu: the regime the paper is about, on 2 cores. ERM must fit its training set well
    -- before the end and then overfit, or a regulariser has nothing to do (issue 12). So:
    -- real CIFAR-10 images, a class-balanced subset of 2,500 training images and 2,000 test
    -- images (the same for every run), many epochs over them, drops at 1/2 and 3/4 of
    -- training (the paper's 100 and 150 of 200), 3 seeds per cell (ERM and mixup of one seed
    -- share data order and initial weights: the report pairs them).
    --   PreAct ResNet-18 at width 16 (700,794 parameters), WRN-16-1 (175,066) for WRN-28-10
    --   and DenseNet-BC-16 with growth 12 (44,410) for DenseNet-BC-190; 100 epochs, drops at
    --   50 and 75 for all three (WRN's own 60/120/180 of 200 would be 30/60/90: the paper's
    --   two-drop schedule is kept so that the three families share one recipe).
    -- The statistic is the median test error of the last 5 % of epochs (5 epochs).
    --
    -- What was tried (issue 12), all on the 2-core VM, mixup alpha = 1:
    -- 1. The first cpu recipe, 10k training images, the full test set, 16 epochs (drops at 8
    --    and 12), 2 seeds: ERM 34.01 / 33.30, mixup 35.67 / 36.85, the wrong sign. ERM ends at
    --    ~30 % training error: it underfits, so mixup only slows it down. An independent
    --    PyTorch trainer gave the same flip, and in two other short regimes at width 16 (all
    --    50k images for 20 epochs: ERM 12.6, mixup 15.0; 5k images for 60 epochs, drops at
    --    30 and 45: ERM 25.4 with 5 % training error, mixup 26.8); with 2.5k images for 200
    --    epochs it gave ERM 32.6 (training error 0.0 %) against mixup 27.4.
    -- 2. In the engine (2026-12-05, 1 thread per run, two runs side by side), 2,500 / 2,000
    --    images, 100 epochs, drops at 50 and 75:
    --      PreAct width 16, seeds 1-3: ERM 34.90 / 34.80 / 35.80 (training error 1.8-1.9 %
    --      on the augmented batches at the end: memorised), mixup 30.90 / 32.20 / 30.75;
    --      mixup - ERM -3.88, 95 % interval [-6.94, -0.83] (paired t, df 2): reproduced.
    --      9.5 s per epoch, ~950 s per run.
    --      WRN-16-2 (691,674 parameters), seed 1: ERM 32.20 (training error 0.56 %), mixup
    --      30.40: -1.80, the paper's side; 24 s per epoch, ~2,430 s per run: its 6 runs alone
    --      would take ~2 h on 2 workers.
    -- 3. Seconds per epoch on this data (1 thread, two runs side by side, 2 epochs):
    --    WRN-16-1 7.4, WRN-10-2 11.4, WRN-16-2 24.2, DenseNet-BC-16 (k 12) 8.5-9.3,
    --    DenseNet-BC-22 14.0, DenseNet-BC-40 32. With PreAct as in 2., 100 epochs for all three
    --    families take ~2 h 8 min on 2 workers (80 epochs for the two stand-ins would save
    --    16 min at the risk of ERM not fitting its training set). The stand-ins are the
    --    cheapest members of their families that still hold 40-170k parameters for 2,500
    --    images; WRN-16-2 and DenseNet-BC-40 would each add about 1.5 h.
    -- 4. This recipe in full (`make reproduce-table2` from a fresh clone, 2026-12-05, 2 h 16 min
    --    wall on the 2-core VM), mixup - ERM over 3 seeds, paired t, 95 % interval:
    --      PreAct width 16: ERM 35.17 +- 0.55, mixup 31.28 +- 0.80: -3.88 [-6.94, -0.83],
    --      reproduced (the engine probe of 2. gave the same bits).
    --      WRN-16-1: ERM 33.32 +- 1.13 (training error 2.9-3.8 %), mixup 32.07 +- 1.23:
    --      -1.25 [-7.06, +4.56], inconclusive (the paper's side on 2 of 3 seeds).
    --      DenseNet-BC-16: ERM 37.32 +- 0.16, mixup 38.33 +- 0.90: +1.02 [-1.45, +3.48],
    --      inconclusive. ERM ends at 12 % training error: 44k parameters do not memorise
    --      2,500 images in 100 epochs, so this stand-in is outside the regime the claim is
    --      about; a larger DenseNet (BC-22, 14 s per epoch; BC-40, 32 s) is the next thing to
    --      measure, at about +1 h and +3.5 h of the table.
    -- Table 5's cpu scale attacks PreAct seeds 1-5 of this recipe and trains seeds 4 and 5
    -- when absent (harness/lua/models.lua); with them in the results folder the report's PreAct
    -- cells count 5 seeds (measured 2026-12-05: ERM 35.29 +- 1.16, mixup 31.78 +- 0.97,
    -- -3.51 [-5.74, -1.28], reproduced; seeds 4 and 5 ran with the Winograd kernels).
    -- `make reproduce-table2` runs the grid as 2 processes of 1 thread (mk/table2.mk): on 2
    -- cores that beats one process of 2 threads, the GEMMs of width-16 nets being too small.
    -- With CIFAR-100 present (`make data-cifar100`) its 18 runs add the same time again.
    cpu = {
      seeds = {1, 2, 3},
      set = {epochs = 100, data = {train_examples = 2500, test_examples = 2000},
             schedule = {milestones = {50, 75}}},
      per_level = {["net=preact_resnet18"] = {net = {width = 16}},
                   ["net=wrn28_10"] = {net = {depth = 16, widen_factor = 1},
                                       schedule = {milestones = {50, 75}}},
                   ["net=densenet_bc190"] = {net = {depth = 16, growth = 12}}},
      note = "cpu scale: 2,500 training and 2,000 test images of CIFAR-10, PreAct ResNet-18 "
             .. "at width 16, WRN-16-1 and DenseNet-BC-16 (k = 12), 100 epochs, 3 seeds (PreAct "
             .. "5 once Table 5's cpu scale has trained seeds 4 and 5): not comparable in "
             .. "magnitude with the paper. DenseNet-BC-16 (44k parameters) ends "
             .. "ERM at 12 % training error: it does not memorise, so its verdict says little "
             .. "about the claim",
    },

    -- smoke: 500 training and 500 test images (class-balanced, the same for every run),
    -- width 8, 3 epochs with one drop; the 4 CIFAR-10 runs took 49 s on the shared VM (load
    -- ~2), well under the 3-minute bound. CI runs it (tests/e2e/test_table2_smoke.lua).
    smoke = {
      seeds = {1, 2},
      set = {epochs = 3, data = {train_examples = 500, test_examples = 500},
             schedule = {milestones = {2}}},
      per_level = {["net=preact_resnet18"] = {net = {width = 8}},
                   ["net=wrn28_10"] = {net = {depth = 10, widen_factor = 1},
                                       schedule = {milestones = {2}}},
                   ["net=densenet_bc190"] = {net = {depth = 10, growth = 4}}},
      note = "smoke scale: 500 images, 3 epochs: checks the pipeline, not the paper",
    },
  },
}
