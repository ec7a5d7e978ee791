-- table4_noisy.lua: Table 4 of the mixup paper (Zhang et al., ICLR 2018; Table 2 of arXiv v1):
-- CIFAR-10 with corrupted training labels, ERM against ERM + dropout against mixup, as a grid
-- noise x method x seed. Run it with `make reproduce-table4 [SCALE=cpu|smoke|paper]` or
-- `./mixup experiments/run.lua table4_noisy --scale cpu [noise=n50 method=erm ...]`.
--
-- `paper` is the published recipe (/work/shared/paper/PAPER_FACTS.md section 5): PreAct
-- ResNet-18 as kuangliu / facebookresearch/mixup-cifar10 build it, with an optional dropout
-- layer in every block after the ReLU between the two convolutions (nets/preact_resnet.lua),
-- the CIFAR recipe of Table 2 (200 epochs, batch 128, SGD lr 0.1, momentum 0.9, weight decay
-- 1e-4, lr / 10 at 100 and 150, crop + flip), and the whole published grid: dropout p in
-- {0.5, 0.7, 0.8, 0.9}, alpha in {1, 2, 8, 32}. The ICLR version's mixup + dropout rows give
-- neither alpha nor p (unverified, PAPER_FACTS 5); the grid here is alpha 8 and 32 with p in
-- {0.3, 0.5, 0.7} (a third-party note's p grid) plus alpha 4 with p 0.1 (PAPER_FACTS appendix
-- A recalls alpha 4, p 0.1 at 20 % and alpha 8, p 0.3 at 50 and 80 %, low confidence), each an
-- option like every level.
--
-- Label noise (harness/lua/tasks/noisy_classifier.lua): the rule of the paper's source
-- (pluskid/fitting-random-labels): each training label is redrawn with probability p from all
-- 10 classes, so about 0.9 p of them change; the test labels are never touched. One noisy
-- label set per noise level (label seed 12345, pluskid's numpy seed; our generator is the
-- engine's, so the set is not pluskid's bit for bit), shared by every method and every
-- training seed: the seeds vary the initial weights, the data order, the augmentation and
-- mixup's draws, as in Table 2, and ERM and the other methods of one seed share all of them.
-- The results file records the fraction actually changed and a hash of the noisy labels.
--
-- Measurements: test error every epoch (best = lowest over training, last = final epoch) and,
-- every `train_eval_every` epochs and at the end, the training error of the net on the
-- un-augmented training images against the real and against the corrupted labels (the table's
-- last two columns are the final values). The report (harness/lua/table4_report.lua) shows the
-- best setting per method as the paper does; at the reduced scales only the published winners
-- run, so there is nothing to choose.

local CIFAR10_MEAN = {0.4914, 0.4822, 0.4465} -- facebookresearch/mixup-cifar10 train.py
local CIFAR10_STD = {0.2023, 0.1994, 0.2010}
local LABEL_SEED = 12345 -- pluskid/fitting-random-labels cifar10_data.py: np.random.seed(12345)

local function noise(id, p)
  return {id = id, set = {data = {label_noise = {p = p, seed = LABEL_SEED}}}}
end

local function method(id, alpha, dropout)
  return {id = id, set = {mixup = {alpha = alpha}, net = {dropout = dropout}}}
end

-- The published winners (PAPER_FACTS 5, v1 Table 2): dropout 0.7 / 0.8 / 0.8 and alpha
-- 8 / 32 / 32 at 20 / 50 / 80 % noise.
local WINNERS = {
  {noise = "n20", method = {"erm", "dropout_p07", "mixup_a8"}},
  {noise = {"n50", "n80"}, method = {"erm", "dropout_p08", "mixup_a32"}},
}

return {
  name = "table4_noisy",
  schema = "image_classification_noisy",

  base = {
    dataset = "cifar10",
    epochs = 200,
    batch = 128,
    eval_batch = 100,
    train_eval_every = 10,
    net = {family = "preact_resnet", variant = "official", depth = 18, width = 64,
           init = "torch_default", num_classes = 10, dropout = 0.0},
    data = {source = "cifar", train_examples = "all", test_examples = "all", subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = CIFAR10_MEAN, std = CIFAR10_STD},
    mixup = {per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.1, factor = 0.1, milestones = {100, 150}, lr_drop_late = false},
  },

  axes = {
    {name = "noise", levels = {noise("n20", 0.2), noise("n50", 0.5), noise("n80", 0.8)}},
    {name = "method", levels = {
      method("erm", 0, 0.0),
      method("dropout_p05", 0, 0.5), method("dropout_p07", 0, 0.7),
      method("dropout_p08", 0, 0.8), method("dropout_p09", 0, 0.9),
      method("mixup_a1", 1, 0.0), method("mixup_a2", 2, 0.0),
      method("mixup_a8", 8, 0.0), method("mixup_a32", 32, 0.0),
      method("mixdrop_a4_p01", 4, 0.1), method("mixdrop_a8_p03", 8, 0.3),
      method("mixdrop_a8_p05", 8, 0.5),
      method("mixdrop_a8_p07", 8, 0.7),
      method("mixdrop_a32_p03", 32, 0.3), method("mixdrop_a32_p05", 32, 0.5),
      method("mixdrop_a32_p07", 32, 0.7),
    }},
  },

  scales = {
    -- The number of seeds behind the published cells is not stated.
    paper = {seeds = {1, 2}, set = {}},

    -- cpu: the two claims on 2 cores. ERM must memorise its noisy labels (its training error
    -- against them falling towards zero) for its test error to rise from its best, and the
    -- training set must be large enough that the test error at 80 % noise is not at chance.
    -- So: real CIFAR-10, a class-balanced subset of 1,500 training images and 2,000 test
    -- images (the same for every run), PreAct ResNet-18 at width 16, 100 epochs, drops at 50
    -- and 75 (the paper's 100 and 150 of 200), the 50 % and 80 % noise levels, where the issue
    -- asks for both claims, and 3 seeds (with 2, a paired t interval has 1 degree of freedom
    -- and t = 12.7, so almost any difference is "inconclusive"). The published winners only:
    -- dropout p = 0.8 and alpha = 32 at both levels. The 20 % level runs at `paper` and
    -- `smoke`; it would add 9 runs (~50 min).
    --
    -- What was measured (2026-12-05, PreAct width 16, 1 thread per run, two runs side by
    -- side, ERM and mixup alpha = 32 at 80 % noise, seed 1):
    -- 1. 2,500 training images, 60 epochs, drops at 30 and 45: test error 76-88 % before the
    --    drop for both methods; 10 epochs after it ERM still had 75 % training error against
    --    the corrupted labels (loss 2.10): no memorisation, so no rise after the best.
    --    9.7-10 s per epoch; the training-set evaluation 2.5 s.
    -- 2. 1,000 training images, 150 epochs, drops at 75 and 112: ERM memorises already at
    --    lr 0.1 (training error against the corrupted labels 68 % at epoch 30, 28 % at 75)
    --    and its test error sits at 84-87 %, near chance; mixup alpha = 32 at the same epochs
    --    79-81 %. Without augmentation ERM fits the corrupted labels exactly by epoch 25.
    --    5.0-5.2 s per epoch (2,000 test images cost ~2 s of it).
    -- 1,500 images sit between the two: ~6.5 s per epoch, ~680 s per run, 18 runs in ~1 h 45
    -- min on 2 workers.
    -- 3. This recipe in full (`make reproduce-table4` from a fresh clone of dad872a, 2026-12-05,
    --    1 h 57 min 44 s wall on the 2-core VM, with some unit tests run beside it), mean over
    --    3 seeds, test best / test last / train error on real / on corrupted labels (%):
    --      50 %: ERM 67.0 / 73.9 / 48.9 / 7.8; dropout 0.8 76.1 / 78.9 / 77.3 / 81.5;
    --            mixup 32 61.3 / 62.3 / 56.6 / 68.5
    --      80 %: ERM 78.4 / 84.2 / 74.7 / 13.3; dropout 0.8 86.0 / 87.3 / 87.4 / 89.2;
    --            mixup 32 75.7 / 77.2 / 77.2 / 82.1
    --    Verdicts (paired t, 95 %): ERM last - best +6.88 [+4.88, +8.89] at 50 %, +5.85
    --    [+2.35, +9.35] at 80 %; mixup - ERM best -5.65 / -2.63, last -11.57 / -7.05; mixup -
    --    dropout best -14.73 / -10.23, last -16.58 / -10.15: all ten "reproduced".
    --    ERM memorises (7.8 and 13.3 % training error against the corrupted labels) and its test
    --    error rises after the first drop. The caveat: dropout p = 0.8, the paper's winner at
    --    width 64, leaves a width-16 net at 77-89 % training error (near chance at 80 % noise),
    --    so mixup's margin over "ERM + dropout" here says more about dropout at this width than
    --    about the paper's comparison; a dropout p tuned at this width (0.1-0.5) is the next
    --    thing to measure (+6 runs, ~35 min per p).
    cpu = {
      seeds = {1, 2, 3},
      only = {{noise = {"n50", "n80"}, method = {"erm", "dropout_p08", "mixup_a32"}}},
      set = {epochs = 100, train_eval_every = 5, net = {width = 16},
             data = {train_examples = 1500, test_examples = 2000},
             schedule = {milestones = {50, 75}}},
      note = "cpu scale: 1,500 training and 2,000 test images of CIFAR-10, PreAct ResNet-18 "
             .. "at width 16, 100 epochs, 50 % and 80 % noise, the published winners, 3 seeds: "
             .. "not comparable in magnitude with the paper. Dropout p = 0.8 (the paper's "
             .. "winner at width 64) underfits a width-16 net (77-89 % training error), so the "
             .. "mixup vs ERM + dropout verdicts are weak evidence at this scale",
    },

    -- smoke: 500 training and 500 test images, width 8, 3 epochs with one drop, the winners
    -- only, 1 seed: checks the pipeline. CI runs it (tests/e2e/test_table4_smoke.lua).
    smoke = {
      seeds = {1},
      only = WINNERS,
      set = {epochs = 3, train_eval_every = 1, net = {width = 8},
             data = {train_examples = 500, test_examples = 500},
             schedule = {milestones = {2}}},
      note = "smoke scale: 500 images, 3 epochs: checks the pipeline, not the paper",
    },
  },
}
