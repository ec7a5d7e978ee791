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

    -- cpu: real CIFAR-10 images: a class-balanced 10k subset of the training set (the same
    -- for every run), the full 10k test set; PreAct ResNet-18 at width 16 (1/4 of the
    -- channels, 700,794 parameters instead of 11.2 M); 16 epochs with the drops at epochs 8
    -- and 12, the paper's 100 and 150 of 200 scaled by 16/200; 2 seeds per cell.
    -- Cost, measured on the 2-core development VM (2026-11): one-epoch variants of this
    -- recipe run under /usr/bin/time with 1 thread take 5.0 ms of CPU per training image and
    -- 1.7 ms per test image; tools/bench.lua scales width 16 from 210 to ~415 images/s on 2
    -- threads, so an epoch costs ~25 s of training plus ~9 s of testing: ~34 s, ~9 min per
    -- run, ~37 min for the 4 PreAct CIFAR-10 runs (the budget is ~40 of the 2 hours; WRN and
    -- DenseNet get the rest). The VM was shared while this was measured, and wall-clock epochs
    -- of the same recipe took 53 to 280 s under a load of 3 to 6: run it on an idle machine.
    -- Full 50k epochs would cost ~130 s, i.e. only ~4 epochs per run; width 8 would be ~2.5x
    -- faster but leaves 176k parameters, far from the paper's regime. With CIFAR-100 present
    -- its 4 runs add about the same time again.
    cpu = {
      seeds = {1, 2},
      set = {epochs = 16, data = {train_examples = 10000}, schedule = {milestones = {8, 12}}},
      -- WRN-16-2 stands for WRN-28-10 (drops at 5, 10, 14: 60/120/180 scaled by 16/200) and
      -- DenseNet-BC-40 with growth 12 for DenseNet-BC-190 (k = 40). Timed on the idle VM
      -- (2026-11-26, 2 threads, mixup, seed 1, training plus testing, from the first 3, 2 and
      -- 1 epochs): PreAct width 16 ~27 s per epoch (~7 min per run), WRN-16-2 ~64 s (~17 min),
      -- DenseNet-BC-40 ~94 s (~25 min): ~49 min per method and seed, ~3.3 h for the 8
      -- CIFAR-10 runs, over the 2-hour budget that the table was meant to fit; cutting it
      -- (smaller WRN/DenseNet variants or fewer of their epochs) is still open.
      -- This recipe leaves ERM underfitting (issue 12: ~30 % training error after 16 epochs)
      -- and gives mixup the wrong sign. Measured in the engine for its replacement (2026-12-05,
      -- 1 thread per run, two runs side by side on the 2-core VM, an experiment file with
      -- these settings; the statistic is the median test error of the last 5 % of epochs):
      --   PreAct width 16, 2,500 balanced training images, 2,000 balanced test images, 100
      --   epochs, drops at 50 and 75, alpha 1, seeds 1-3: ERM 34.90 / 34.80 / 35.80 (training
      --   error 1.8-1.9 % on the augmented batches at the end: memorised), mixup 30.90 / 32.20 /
      --   30.75; mixup - ERM -3.88, 95 % interval [-6.94, -0.83] (paired t, df 2):
      --   "reproduced". ~950 s per run (9.5 s per epoch), so 6 runs take ~48 min on 2 workers.
      --   WRN-16-2 on the same data, seed 1 only: ERM 32.20 (training error 0.56 %), mixup
      --   30.40: -1.80, the paper's side, no interval from one seed; 24 s per epoch, ~2,430 s
      --   per run. DenseNet-BC-40 was not probed (~3.5x PreAct's cost per image at 10k).
      per_level = {["net=preact_resnet18"] = {net = {width = 16}},
                   ["net=wrn28_10"] = {net = {depth = 16, widen_factor = 2},
                                       schedule = {milestones = {5, 10, 14}}},
                   ["net=densenet_bc190"] = {net = {depth = 40, growth = 12}}},
      note = "cpu scale: 10k training images, PreAct width 16, WRN-16-2, DenseNet-BC-40 "
             .. "(k = 12), 16 epochs: not comparable in magnitude with the paper",
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
