-- table1_imagenet.lua: Table 1 of the mixup paper, ImageNet-2012 top-1 and top-5 validation
-- error of ResNet-50, ResNet-101, ResNeXt-101 32x4d and 64x4d, ERM against mixup, 90 and 200
-- epochs (/work/shared/paper/PAPER_FACTS.md sections 2 and 14).
-- Run it with `make reproduce-table1 [SCALE=paper|cpu|smoke]` once `make data-imagenet
-- IMAGENET=<ILSVRC-2012 folder>` has written the index (smoke: `make data-imagenet-smoke`
-- generates its own folder; the Makefile does it on first use).
--
-- `paper` is the published recipe as Goyal et al. 2017 give it (the paper follows them):
-- batch 1,024 with batch norm over groups of 32 (their per-worker statistics), lr 0.1 x 1024 /
-- 256 = 0.4 reached by a linear warm-up from 0.1 over the first 5 epochs (per step), /10 at
-- epochs 30, 60 and 80 of 90 or 60, 120 and 180 of 200, Nesterov momentum 0.9, weight decay
-- 1e-4 on the weights only (none on batch norm's gamma and beta), He-normal convolutions, the
-- fc N(0, 0.01), gamma 0 on each block's last batch norm; fb.resnet.torch's random-sized crop
-- and flip, the 224 centre crop of the 256-pixel resize for evaluation. mixup alpha 0.2 for the
-- ResNets and 0.4 for the ResNeXts (the values the paper reports). One process reaches batch
-- 1,024 in micro-batches of 128 rows (the same run: tasks/classifier.lua), or a job spreads it
-- over MPI ranks (--data-parallel). Choices the paper does not state, each an option here
-- (PAPER_FACTS section 2, "unverified"): the stride on the bottleneck's 3x3 (net.stride_on,
-- Goyal's and fb.resnet.torch's), no colour jitter and no PCA lighting (data.jitter,
-- data.lighting: fb.resnet.torch's 0.4 and 0.1 are there when wanted), one seed.
--
-- `cpu` (defined, not measured: no machine here has ImageNet): the 10 classes of Imagenette
-- (fast.ai's subset, by wnid) from the same index, 128-pixel crops, ResNet-50's bottleneck
-- structure at width 16, batch 128 (groups of 32), 40 epochs, for a workstation with
-- ImageNet. `smoke`: a generated folder (tools/imagenet_smoke.lua: 4 classes, varied sizes,
-- grayscale and CMYK files), a 1-block-per-stage ResNet of width 4 at 32 pixels, 3 epochs in
-- micro-batches, so that CI runs the whole pipeline; its numbers mean nothing.

local MEAN = {0.485, 0.456, 0.406} -- fb.resnet.torch datasets/imagenet.lua
local STD = {0.229, 0.224, 0.225}
-- Imagenette (github.com/fastai/imagenette): tench, English springer, cassette player, chain
-- saw, church, French horn, garbage truck, gas pump, golf ball, parachute.
-- mixup's alpha: 0.2 for the ResNets (base), 0.4 for the ResNeXts; ERM's 0 comes last (the
-- method axis follows the net axis, and per_level overrides apply in axis order).
local function alphas(extra)
  local t = {["net=resnext101_32x4d"] = {mixup = {alpha = 0.4}},
             ["net=resnext101_64x4d"] = {mixup = {alpha = 0.4}},
             ["method=erm"] = {mixup = {alpha = 0}}}
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end
local IMAGENETTE = "n01440764,n02102040,n02979186,n03000684,n03028079,n03394916,n03417042,"
                   .. "n03425413,n03445777,n03888605"

return {
  name = "table1_imagenet",
  schema = "imagenet_classification",

  base = {
    dataset = "imagenet",
    epochs = 90,
    batch = 1024,
    micro_batch = 128,
    eval_batch = 200,
    net = {family = "resnet", depth = 50, groups = 1, width_per_group = 64, num_classes = 1000,
           init = "goyal", stride_on = "3x3", bn_group = 32},
    data = {index = "imagenet/index.tsv", classes = "all", train_per_class = "all",
            val_per_class = "all", crop = 224, jitter = 0, lighting = 0, mean = MEAN,
            std = STD, skip_bad = false},
    mixup = {alpha = 0.2, per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = true,
             decay_all_params = false},
    schedule = {base_lr = 0.4, factor = 0.1, milestones = {30, 60, 80}, lr_drop_late = false,
                warmup_epochs = 5, warmup_from = 0.1},
  },

  axes = {
    {name = "net", levels = {
      {id = "resnet50", set = {net = {depth = 50}}},
      {id = "resnet101", set = {net = {depth = 101}}},
      {id = "resnext101_32x4d", set = {net = {depth = 101, groups = 32, width_per_group = 4}}},
      {id = "resnext101_64x4d", set = {net = {depth = 101, groups = 64, width_per_group = 4}}},
    }},
    {name = "method", levels = {
      {id = "erm", set = {mixup = {alpha = 0}}},
      {id = "mixup", set = {}}, -- alpha per net: alphas() in each scale's per_level
    }},
    {name = "epochs", levels = {
      {id = "e90", set = {epochs = 90, schedule = {milestones = {30, 60, 80}}}},
      {id = "e200", set = {epochs = 200, schedule = {milestones = {60, 120, 180}}}},
    }},
  },

  scales = {
    paper = {
      seeds = {1},
      set = {},
      per_level = alphas(),
      -- the 200-epoch rows of Table 1: ResNet-50, ResNet-101 and ResNeXt-101 32x4d
      only = {{epochs = "e90"},
              {epochs = "e200", net = {"resnet50", "resnet101", "resnext101_32x4d"}}},
    },

    cpu = {
      seeds = {1, 2},
      set = {batch = 128, micro_batch = 0, eval_batch = 100,
             net = {num_classes = 10, width = 16},
             data = {classes = IMAGENETTE, val_per_class = "all", crop = 128},
             schedule = {base_lr = 0.05, warmup_epochs = 0, warmup_from = 0.05}},
      per_level = alphas{["epochs=e90"] = {epochs = 40, schedule = {milestones = {20, 30, 35}}}},
      only = {{epochs = "e90", net = {"resnet50", "resnext101_32x4d"}}},
      note = "cpu scale: the 10 Imagenette classes of ImageNet at 128 pixels, nets at width "
             .. "16, 40 epochs: defined for a workstation with ImageNet, not measured here",
    },

    smoke = {
      seeds = {1, 2}, -- two: an interval, and Table 5's black box (tests/e2e/test_table1_smoke)
      set = {batch = 16, micro_batch = 8, eval_batch = 8,
             net = {num_classes = 4, width = 4, blocks = {1, 1, 1, 1}, groups = 1,
                    width_per_group = 64, bn_group = 4},
             data = {index = "imagenet-smoke/index.tsv", crop = 32, jitter = 0.4,
                     lighting = 0.1},
             schedule = {base_lr = 0.05, warmup_epochs = 1, warmup_from = 0.01}},
      per_level = alphas{["epochs=e90"] = {epochs = 3, schedule = {milestones = {2}}}},
      only = {{epochs = "e90", net = "resnet50"}},
      note = "smoke scale: a generated 4-class JPEG folder and a tiny ResNet; checks the "
             .. "pipeline, not the paper",
    },
  },
}
