-- gan.lua (tasks/): Figure 5 of the mixup paper: a GAN on the 2-D ring and grid toy data,
-- ERM versus mixup on the discriminator, as a task of harness/lua/lifecycle.lua (which
-- documents the task table and runs, checkpoints, resumes and writes it): config schema
-- "gan_toy", one unit = one iteration, results schema "mixup-repro/gan-run".
--
--   local gan = require "harness.lua.tasks.gan"
--   gan.build(cfg, {threads = n}) -> st;  gan.d_update(st, x, t) -> loss
--   gan.g_update(st, z, assemble) -> loss;  gan.iteration(st) -> d_loss, g_loss
--   gan.snapshot(st) -> points, metrics;  gan.read_run(path) -> run or nil, reason
--   gan.scan(dir) -> runs, bad
--
-- One iteration (hongyi-zhang/mixup gan/example_gan.py; PAPER_FACTS.md section 8):
--   * d_steps discriminator steps, each on fresh data: a real batch (batch points of the toy
--     data), a noise batch (batch x n_latent, N(0, 1)), generated points G(z), joined with
--     labels 1 / 0 and shuffled (engine.gan.join); then, by mixup.variant when alpha > 0:
--       demo:  a second such batch and a per-row lambda ~ U(0, alpha); D trains on
--              lambda x1 + (1 - lambda) x2 against lambda t1 + (1 - lambda) t2 (2 batch rows);
--       paper, paper_joint: no join: row i is lambda_i real_i + (1 - lambda_i) G(z_i), target
--              lambda_i, lambda_i ~ Beta(alpha, alpha) (batch rows; the paper's section 3.7);
--     alpha = 0 is the plain GAN for every variant. D minimises BCE with logits (mean over
--     rows), one Adam step.
--   * one generator step on fresh data, the minimax form (the demo's lossG = -bce): G ascends
--     the discriminator's loss on an unmixed batch [real; G(z)] (demo, paper and the plain
--     GAN: mixup acts on the discriminator only; rows are not shuffled, which changes no
--     gradient), or for paper_joint on the mixed batch, the paper's formula taken literally,
--     max_G min_D E l(D(lambda x + (1 - lambda) G(z)), lambda); the gradient into G is then
--     -(1 - lambda) dL_D/dx on G's rows (engine.gan.generator_grad). D's gradients from this
--     step are discarded (d_update zeroes them), as the demo's are.
--   * snapshots after the generator step of iterations in cfg.snapshots (0-based, as the demo's
--     `iteration in [10, 100, 1000, 10000, 20000]`): G of snapshot_points fixed noise vectors,
--     the fixed real points, and their metrics (engine.gan.metrics).
-- Randomness from the run seed: stream init (D then G, parameters() order), stream gan (first
-- the snapshot's real points then its noise, then every training batch: real then noise),
-- stream order (the joins' permutations), stream mixup (lambdas). The same seed gives ERM and
-- mixup the same initial nets and snapshot points.
--
-- Results file (format_version 1, schema "mixup-repro/gan-run"), through engine.h5:
--   root attrs   format_version, schema, experiment, run_id, status = "complete"
--   config       attrs: flattened config plus "lua" (results.flatten / results.serialize)
--   provenance   attrs: harness/lua/provenance.lua
--   curves       f64 datasets, one entry per iteration: iteration (0-based), d_loss (mean of
--                the iteration's d_steps losses), g_loss (-BCE of the generator step)
--   snapshots    datasets real (P, 2) and noise (P, n_latent), float32; a group per snapshot
--                named by its iteration ("10", "100", ...) with dataset generated (P, 2) and the
--                metrics as attrs
--   gan_metrics  f64 datasets over the snapshots in order: iteration, modes_covered,
--                high_quality, energy, mmd2, outside; attrs: n_modes, std, cover_percent,
--                quality_stds, mmd_bandwidth, frame_margin, frame_lo, frame_hi
--   summary      attrs: the last snapshot's metrics (final_*), seconds, seconds_per_iteration,
--                n_params_d, n_params_g
--   weights      float32 datasets d_params and g_params (parameters() order)
-- Checkpoint state (the lifecycle's checkpoint, every CHECKPOINT_EVERY iterations): datasets
-- d_params, g_params and rng_gan, rng_order, rng_mixup (rng:state()); groups optim_d, optim_g
-- (optim:state(): attrs kind and step, float32 datasets) and snapshots (those taken so far).
-- The fixed snapshot points are redrawn
-- from the seed by build.
-- Non-goals: other GAN losses (non-saturating, WGAN).

local nn = require "engine.nn"
local tensor = require "engine.tensor"
local train = require "engine.train"
local egan = require "engine.gan"
local h5 = require "engine.h5"
local config = require "harness.lua.config"
local results = require "harness.lua.results"

local M = {}

M.SCHEMA_NAME = "gan_toy"
M.FORMAT_VERSION = results.FORMAT_VERSION
M.SCHEMA_RUN = "mixup-repro/gan-run"
M.STATUS_COMPLETE = results.STATUS_COMPLETE
M.CHECKPOINT_EVERY = 1000 -- iterations: ~1 min at cpu scale; a write is ~13 MB at width 512
M.METRICS = {"modes_covered", "high_quality", "energy", "mmd2", "outside"}
M.CURVES = {"iteration", "d_loss", "g_loss"}
local DATA_DIM = 2
local LOG_EVERY = 1000 -- iterations between progress lines (snapshots are always printed)
local RNG_NAMES = {"gan", "order", "mixup"}

-- The task table (harness/lua/lifecycle.lua).
M.name = "gan"
M.unit = "iteration"
M.curves = M.CURVES
M.checkpoint_every = M.CHECKPOINT_EVERY
M.divergence_fix = "lower optim.lr (or check mixup.alpha) in the experiment's recipe"

-- ============================================================================================
-- Config schema.

local I, N, S, B, L, R = config.integer, config.number, config.string, config.boolean,
                         config.list, config.record

-- What the fields cannot say alone (config.record's check).
local function check_config(cfg, fail)
  local n = #cfg.snapshots
  if n > 0 and cfg.snapshots[n] >= cfg.iterations then
    fail(("snapshots[%d]"):format(n), cfg.snapshots[n], ("an iteration index below "
         .. "iterations (%d; snapshots are 0-based)"):format(cfg.iterations))
  end
  if cfg.mixup.variant == "demo" and cfg.mixup.alpha > 1 then
    fail("mixup.alpha", cfg.mixup.alpha, "a number <= 1 for the demo variant (it draws "
         .. "lambda ~ U(0, alpha))")
  end
  for _, k in ipairs{"role", "n_latent"} do
    if cfg.net[k] ~= nil then
      fail("net." .. k, cfg.net[k], "no value (each net's role is set here and the "
           .. "generator's n_latent is the config's)")
    end
  end
end

M.schema = R({
  scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
  seed = I{min = 0},
  shape = S{one_of = {"ring", "grid"}},
  data_std = N{above = 0},           -- per-mode standard deviation (0.01)
  n_latent = I{min = 1},             -- the generator's noise size (paper 2; demo 2, 5, 10)
  iterations = I{min = 1},           -- generator steps (the demo's n_iterations = 20001)
  d_steps = I{min = 1},              -- discriminator steps per generator step (5)
  batch = I{min = 1},                -- real and generated points per batch, each (128)
  snapshots = L{increasing = true, integers = true, min = 0},
  snapshot_points = I{min = 1},      -- fixed real points and noise vectors (1000)
  net = config.net{"gan_small"},     -- hidden, layers, init; role and n_latent come from here
  mixup = R{variant = S{one_of = {"demo", "paper", "paper_joint"}}, alpha = N{min = 0}},
  optim = R{kind = S{one_of = {"adam"}}, lr = N{above = 0}, beta1 = N{min = 0, max = 1},
            beta2 = N{min = 0, max = 1}, eps = N{min = 0}},
  -- x86 flush-to-zero for the run (engine.gan.flush_denormals): a saturated ERM
  -- discriminator's denormal gradients otherwise slow its GEMMs ~3x, while Adam moves no
  -- weight measurably for them (lr g / (|g| + eps) < 1e-33 for g < 1e-38)
  flush_denormals = B(),
}, check_config)


-- ============================================================================================
-- Training state.

local function net_opts(cfg, role)
  local o = {role = role, n_latent = cfg.n_latent}
  for k, v in pairs(cfg.net) do if k ~= "family" then o[k] = v end end
  return o
end

-- Nets, optimisers, generators and batch buffers of a run; nothing else allocates later.
-- env: {threads =} (the lifecycle's; other fields are ignored).
function M.build(cfg, env)
  local threads = env.threads
  egan.flush_denormals(cfg.flush_denormals)
  local ctor = require("nets." .. cfg.net.family)
  local b, p = cfg.batch, cfg.snapshot_points
  local st = {cfg = cfg, mixed = cfg.mixup.alpha > 0}
  st.d = nn.build(ctor(net_opts(cfg, "discriminator")), {c = DATA_DIM, h = 1, w = 1},
                  {batch = 2 * b, threads = threads})
  st.g = nn.build(ctor(net_opts(cfg, "generator")), {c = cfg.n_latent, h = 1, w = 1},
                  {batch = math.max(b, p), threads = threads})
  local init = train.rng(cfg.seed, train.stream.init)
  st.d:init(init)
  st.g:init(init)
  local o = cfg.optim
  local function adam(net)
    return train.adam{params = net:params(), grads = net:grads(), beta1 = o.beta1,
                      beta2 = o.beta2, eps = o.eps}
  end
  st.opt_d, st.opt_g = adam(st.d), adam(st.g)
  st.rng = {gan = train.rng(cfg.seed, train.stream.gan),
            order = train.rng(cfg.seed, train.stream.order),
            mixup = train.rng(cfg.seed, train.stream.mixup)}
  -- the fixed snapshot points come first from the gan stream
  st.snap_real = tensor.new(p, DATA_DIM)
  st.snap_noise = tensor.new(p, cfg.n_latent)
  egan.sample_real(st.snap_real, cfg.shape, cfg.data_std, st.rng.gan)
  egan.sample_noise(st.snap_noise, st.rng.gan)
  st.real, st.z = tensor.new(b, DATA_DIM), tensor.new(b, cfg.n_latent)
  st.x1, st.t1 = tensor.new(2 * b, DATA_DIM), tensor.new(2 * b)
  st.x2, st.t2 = tensor.new(2 * b, DATA_DIM), tensor.new(2 * b)
  st.x, st.t = tensor.new(2 * b, DATA_DIM), tensor.new(2 * b)
  st.xb, st.tb = st.x:view(0, {b, DATA_DIM}), st.t:view(0, {b}) -- the paper variant's rows
  st.dz = tensor.new(2 * b, 1)
  st.dg = tensor.new(b, DATA_DIM)
  st.snaps = {} -- {iteration =, generated = Tensor, metrics = {...}} per snapshot taken
  st.want = {}
  for _, it in ipairs(cfg.snapshots) do st.want[it] = true end
  return st
end

-- One discriminator step on the batch x (rows, 2) with soft targets t (rows): loss.
function M.d_update(st, x, t)
  st.opt_d:zero_grad()
  local y = st.d:forward(x, true)
  local loss = train.bce_logits(y, t, st.dz)
  st.d:backward(st.dz, false)
  st.opt_d:step(st.cfg.optim.lr)
  return loss
end

-- One generator step: fake = G(z); assemble(fake) -> x, t, first, lambda gives the
-- discriminator's batch, the first row of G's points in it and the mixing weights (nil when
-- unmixed); G ascends D's loss. Returns -BCE, the demo's lossG.
function M.g_update(st, z, assemble)
  st.opt_g:zero_grad()
  local fake = st.g:forward(z, true)
  local x, t, first, lambda = assemble(fake)
  local y = st.d:forward(x, true)
  local loss = train.bce_logits(y, t, st.dz)
  local dx = st.d:backward(st.dz)
  egan.generator_grad(st.dg, dx, first, lambda)
  st.g:backward(st.dg, false)
  st.opt_g:step(st.cfg.optim.lr)
  return -loss
end

-- Fresh real points and noise from the gan stream (real first, as the demo's one_batch).
local function draw(st)
  egan.sample_real(st.real, st.cfg.shape, st.cfg.data_std, st.rng.gan)
  egan.sample_noise(st.z, st.rng.gan)
end

-- The demo's one_batch: [real; G(z)] shuffled, into (x, t).
local function one_batch(st, x, t)
  draw(st)
  egan.join(x, t, st.real, st.g:forward(st.z, true), st.rng.order)
end

-- The discriminator's training batch of the config's variant.
local function d_batch(st)
  local mix = st.cfg.mixup
  if not st.mixed then
    one_batch(st, st.x, st.t)
    return st.x, st.t
  end
  if mix.variant == "demo" then
    one_batch(st, st.x1, st.t1)
    one_batch(st, st.x2, st.t2)
    egan.mix_uniform(st.x, st.t, st.x1, st.t1, st.x2, st.t2, mix.alpha, st.rng.mixup)
    return st.x, st.t
  end
  draw(st)
  egan.mix_beta(st.xb, st.tb, st.real, st.g:forward(st.z, true), mix.alpha, st.rng.mixup)
  return st.xb, st.tb
end

-- The generator step's batch assembly of the config's variant (see g_update).
local function g_assemble(st)
  if st.mixed and st.cfg.mixup.variant == "paper_joint" then
    return function(fake)
      egan.mix_beta(st.xb, st.tb, st.real, fake, st.cfg.mixup.alpha, st.rng.mixup)
      return st.xb, st.tb, 0, st.tb
    end
  end
  return function(fake)
    egan.join(st.x, st.t, st.real, fake, nil)
    return st.x, st.t, st.cfg.batch, nil
  end
end

-- One iteration: d_steps discriminator steps, then one generator step. Returns the mean
-- discriminator loss and the generator's loss.
function M.iteration(st)
  st.assemble = st.assemble or g_assemble(st)
  local d_sum = 0.0
  for _ = 1, st.cfg.d_steps do
    local x, t = d_batch(st)
    d_sum = d_sum + M.d_update(st, x, t)
  end
  draw(st)
  local g_loss = M.g_update(st, st.z, st.assemble)
  return d_sum / st.cfg.d_steps, g_loss
end

-- The generator's points for the fixed noise, with their metrics.
function M.snapshot(st)
  local gen = st.g:forward(st.snap_noise, true)
  local points = tensor.new(st.cfg.snapshot_points, DATA_DIM):copy(gen)
  return points, egan.metrics(points, st.snap_real, st.cfg.shape, st.cfg.data_std)
end

-- ============================================================================================
-- The task's step.

function M.units(cfg) return cfg.iterations end

function M.describe(st, cfg)
  return ("%s, mixup %s alpha %g, %d iterations x %d D steps, batch %d, %d + %d params")
         :format(cfg.shape, cfg.mixup.variant, cfg.mixup.alpha, cfg.iterations, cfg.d_steps,
                 cfg.batch, st.d:num_params(), st.g:num_params())
end

local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

local function metrics_line(m)
  return ("modes %d/%d, high-quality %.1f%%, energy %.4f, mmd2 %.4f, outside %d"):format(
         m.modes_covered, m.n_modes, 100 * m.high_quality, m.energy, m.mmd2, m.outside)
end

function M.step(st, it, ctx)
  -- the losses refuse non-finite logits: their message is the detail
  local ok, d_loss, g_loss = pcall(M.iteration, st)
  if not ok then ctx.diverged(tostring(d_loss)) end
  if not (finite(d_loss) and finite(g_loss)) then
    ctx.diverged(("d_loss %s, g_loss %s"):format(tostring(d_loss), tostring(g_loss)))
  end
  local row = {iteration = it, d_loss = d_loss, g_loss = g_loss}
  if st.want[it] then
    local points, m = M.snapshot(st)
    st.snaps[#st.snaps + 1] = {iteration = it, generated = points, metrics = m}
    return row, ("  iteration %d: d_loss %.4f g_loss %.4f; %s"):format(it, d_loss, g_loss,
                                                                     metrics_line(m))
  elseif (it + 1) % LOG_EVERY == 0 then
    return row, ("  iteration %d: d_loss %.4f g_loss %.4f"):format(it, d_loss, g_loss)
  end
  return row
end

-- ============================================================================================
-- Results files.

local function f64(values)
  local v = {}
  for i, x in ipairs(values) do v[i] = x + 0.0 end
  return {kind = "f64", values = v}
end

-- One group per snapshot, named by its iteration.
local function snapshot_groups(snapshots)
  local groups = {}
  for _, s in ipairs(snapshots) do
    groups[tostring(s.iteration)] = {attrs = s.metrics, datasets = {generated = s.generated}}
  end
  return groups
end

-- The snapshots listed in iterations (in order) that the tree's snapshot groups hold.
local function read_snapshots(groups, iterations, need_all)
  local snaps = {}
  for _, it in ipairs(iterations) do
    local g = groups[tostring(it)]
    if g and g.datasets.generated then
      snaps[#snaps + 1] = {iteration = it, generated = g.datasets.generated, metrics = g.attrs}
    elseif need_all then
      results.bad("snapshots/%d is missing", it)
    end
  end
  return snaps
end

local function summarize(snapshots, seconds, iterations, n_d, n_g)
  local s = {seconds = seconds + 0.0, seconds_per_iteration = seconds / iterations,
             n_params_d = n_d, n_params_g = n_g, iterations = iterations}
  local last = snapshots[#snapshots]
  if last then
    s.final_iteration = last.iteration
    for _, k in ipairs(M.METRICS) do s["final_" .. k] = last.metrics[k] end
  end
  return s
end

-- The HDF5 tree of a finished run (see the header); r as the lifecycle's task.result.
function M.result(st, r)
  local cfg = r.config
  local snaps = st.snaps
  local gm = {iteration = {}}
  for _, k in ipairs(M.METRICS) do gm[k] = {} end
  for i, s in ipairs(snaps) do
    gm.iteration[i] = s.iteration
    for _, k in ipairs(M.METRICS) do gm[k][i] = s.metrics[k] end
  end
  local gm_ds = {}
  for k, v in pairs(gm) do gm_ds[k] = f64(v) end
  local first = snaps[1] and snaps[1].metrics or {}
  return {
    attrs = {format_version = M.FORMAT_VERSION, schema = M.SCHEMA_RUN,
             experiment = r.experiment, run_id = r.run_id, status = M.STATUS_COMPLETE},
    groups = {
      config = results.config_tree(cfg),
      provenance = {attrs = r.provenance},
      curves = results.curves_tree(r.curves),
      snapshots = {datasets = {real = st.snap_real, noise = st.snap_noise},
                   groups = snapshot_groups(snaps)},
      gan_metrics = {
        attrs = {n_modes = egan.num_modes(cfg.shape), std = cfg.data_std,
                 cover_percent = egan.COVER_PERCENT, quality_stds = egan.QUALITY_STDS,
                 mmd_bandwidth = egan.MMD_BANDWIDTH, frame_margin = egan.FRAME_MARGIN,
                 frame_lo = first.frame_lo or 0.0, frame_hi = first.frame_hi or 0.0},
        datasets = gm_ds},
      summary = {attrs = summarize(snaps, r.seconds, cfg.iterations, st.d:num_params(),
                                   st.g:num_params())},
      weights = {datasets = {d_params = st.d:params(), g_params = st.g:params()}},
    },
  }
end

-- Reads a GAN results file: the run, or nil and "<path>: <what>; <fix>".
function M.read_run(path)
  return results.read_checked(path, M.SCHEMA_RUN, "a GAN results file", function(tree)
    local a = tree.attrs
    if a.status ~= M.STATUS_COMPLETE then
      results.bad("status is %s, expected %q", tostring(a.status), M.STATUS_COMPLETE)
    end
    for _, g in ipairs{"config", "provenance", "curves", "snapshots", "gan_metrics", "summary"}
    do
      if not tree.groups[g] then results.bad("group '%s' is missing", g) end
    end
    local cfg = results.read_config(tree.groups.config)
    local sg = tree.groups.snapshots
    local snaps = read_snapshots(sg.groups, cfg.snapshots, true)
    return {path = path, experiment = a.experiment, run_id = a.run_id, config = cfg,
            provenance = tree.groups.provenance.attrs, curves = tree.groups.curves.datasets,
            snapshots = snaps, snap_real = sg.datasets.real, snap_noise = sg.datasets.noise,
            gan_metrics = tree.groups.gan_metrics, summary = tree.groups.summary.attrs}
  end)
end
M.read_result = M.read_run

function M.summary_line(s)
  return ("final modes %d, high-quality %.1f%%, energy %.4f, mmd2 %.4f, outside %d"):format(
         s.final_modes_covered, 100 * s.final_high_quality, s.final_energy, s.final_mmd2,
         s.final_outside)
end

-- Every GAN results file under dir (other schemas are left out, not reported): runs sorted
-- by path, and the unreadable ones {path =, reason =}.
function M.scan(dir)
  local runs, bad = {}, {}
  for _, path in ipairs(results.list_h5(dir)) do
    local ok, attrs = pcall(h5.read_attrs, path)
    if not ok or attrs.schema == M.SCHEMA_RUN then
      local r, why = M.read_run(path)
      if r then runs[#runs + 1] = r else bad[#bad + 1] = {path = path, reason = why} end
    end
  end
  return runs, bad
end

-- ============================================================================================
-- Checkpoint state.

function M.state(st)
  local ds = {d_params = st.d:params(), g_params = st.g:params()}
  for _, name in ipairs(RNG_NAMES) do
    ds["rng_" .. name] = {kind = "bytes", value = st.rng[name]:state()}
  end
  -- each optimiser's group: attrs kind and step, float32 datasets (portable; lua_train.c)
  return {datasets = ds, groups = {snapshots = {groups = snapshot_groups(st.snaps)},
                                   optim_d = st.opt_d:state(), optim_g = st.opt_g:state()}}
end

function M.restore(st, tree)
  local ds = tree.datasets
  st.d:params():copy(ds.d_params)
  st.g:params():copy(ds.g_params)
  st.opt_d:load_state(tree.groups.optim_d)
  st.opt_g:load_state(tree.groups.optim_g)
  for _, name in ipairs(RNG_NAMES) do st.rng[name]:set_state(ds["rng_" .. name]) end
  st.snaps = read_snapshots(tree.groups.snapshots.groups or {}, st.cfg.snapshots, false)
end

return M
