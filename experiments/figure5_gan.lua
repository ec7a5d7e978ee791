-- figure5_gan.lua: Figure 5 of the mixup paper (Zhang et al., ICLR 2018): a GAN on the 2-D
-- ring (8 Gaussians) and grid (25 Gaussians) toy data, ERM GAN versus mixup GAN, snapshots at
-- iterations 10, 100, 1,000, 10,000 and 20,000, as a grid shape x method x seed. Beyond the
-- paper, every snapshot is measured (modes covered, high-quality fraction, energy distance,
-- MMD; harness/metrics/gan_metrics.h) so that "mixup stabilises GAN training" becomes a
-- number with a
-- spread over seeds.
-- Run it with `make reproduce-figure5 [SCALE=cpu|smoke|paper]` or
-- `./mixup experiments/run.lua figure5_gan --scale cpu [shape=ring method=erm seed=1]`.
--
-- `paper` is the published recipe (/work/shared/paper/PAPER_FACTS.md section 8, the demo
-- hongyi-zhang/mixup gan/example_gan.py): std 0.01, 2-D noise, D and G with three hidden
-- layers of 512 ReLU units and PyTorch's default init, Adam defaults (lr 1e-3, betas 0.9 and
-- 0.999, eps 1e-8) for both, 20,001 generator iterations (the demo's range(20001), so that
-- iteration 20,000 exists), 5 discriminator steps per generator step on fresh batches of 128
-- real and 128 generated points, BCE with logits, the generator ascending D's loss (minimax).
-- Methods: erm (alpha 0), mixup (the demo's variant, which made the published figure: a
-- per-pair lambda ~ U(0, 0.2) between two shuffled real+generated batches) and mixup_paper
-- (the paper's formula for the discriminator: lambda ~ Beta(0.2, 0.2), D on
-- lambda x + (1 - lambda) G(z) with target lambda; the generator step unmixed, as the demo's).
-- Not in the grid: variant paper_joint, where G also ascends the mixed loss (the paper's
-- max_G min_D formula read literally); one cpu-scale seed of it diverged on both shapes (the
-- generated points ran off to ~1e5 by iteration 20,000 while D's loss stayed ~0.65). Add a
-- level {id = "mixup_paper_joint", set = {mixup = {variant = "paper_joint", alpha = 0.2}}}
-- to run it.
-- `cpu` and `smoke` keep the nets, data, optimiser and batches; see their notes for the cuts.

local SNAPSHOTS = {10, 100, 1000, 10000, 20000}

return {
  name = "figure5_gan",
  schema = "gan_toy",

  base = {
    data_std = 0.01,
    n_latent = 2,
    iterations = 20001,
    d_steps = 5,
    batch = 128,
    snapshots = SNAPSHOTS,
    snapshot_points = 1000,
    net = {family = "gan_small", hidden = 512, layers = 3, init = "torch_default"},
    mixup = {variant = "demo"},
    optim = {kind = "adam", lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8},
    -- Denormal gradients of a saturated discriminator flushed to zero: the same updates (Adam
    -- moves a weight by < 1e-33 for such a gradient), ~3x faster ERM runs (harness/bind/lua_gan.c).
    flush_denormals = true,
  },

  axes = {
    {name = "shape", levels = {
      {id = "ring", set = {shape = "ring"}},
      {id = "grid", set = {shape = "grid"}},
    }},
    {name = "method", levels = {
      {id = "erm", set = {mixup = {variant = "demo", alpha = 0}}},
      {id = "mixup", set = {mixup = {variant = "demo", alpha = 0.2}}},
      {id = "mixup_paper", set = {mixup = {variant = "paper", alpha = 0.2}}},
    }},
  },

  scales = {
    -- The demo runs one seed per cell; the figure shows one run.
    paper = {seeds = {1}, set = {}},

    -- cpu: the published recipe (all 20,001 iterations and every snapshot) with the hidden
    -- layers cut from 512 to 256 units, 5 seeds, all three methods: 30 runs.
    -- Measured here (2-core VM shared with other jobs, 1 thread per process, CPU seconds per
    -- iteration, flush_denormals on, 2026-11): width 512: erm ~0.065, mixup ~0.073,
    -- mixup_paper ~0.045 (D sees 128 mixed rows instead of 256), so one seed of the three
    -- methods on one shape is ~61 min and the 5-seed figure ~5 h with the two shapes side by
    -- side on the 2 cores (make reproduce-figure5); width 256: erm ~0.020, mixup ~0.022,
    -- mixup_paper ~0.012, i.e. ~18 min per seed and shape, ~1.5 h for the figure. Measured
    -- on the idle VM (2026-11-26, make reproduce-figure5, mean of 10 runs each): erm 0.0199,
    -- mixup 0.0242, mixup_paper 0.0157 s/iteration; the whole figure in 1 h 40 min. Fewer
    -- iterations would drop the 10,000 and 20,000 columns, where the paper's mixup GAN
    -- settles on the modes; fewer seeds would not support a measured claim (>= 5). Without
    -- flush_denormals a saturated ERM discriminator makes its runs ~3x slower.
    cpu = {
      seeds = {1, 2, 3, 4, 5},
      set = {net = {hidden = 256}},
      note = "cpu scale: the published recipe with 256 instead of 512 hidden units, 5 seeds",
    },

    -- smoke: 201 iterations with snapshots at 10, 100 and 200, hidden width 64: checks the
    -- pipeline (training, snapshots, metrics, results files, plots), not the paper.
    smoke = {
      seeds = {1},
      set = {iterations = 201, snapshots = {10, 100, 200},
             net = {hidden = 64}},
      note = "smoke scale: 201 iterations, width 64: checks the pipeline, not the paper",
    },
  },
}
