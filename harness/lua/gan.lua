-- gan.lua: Figure 5 of the mixup paper: a GAN on the 2-D ring and grid toy data, ERM versus
-- mixup on the discriminator, trained and measured from a validated config (schema "gan_toy",
-- registered in config.schemas by this file), with the results file written here.
--
--   local gan = require "harness.lua.gan"
--   gan.run({id = ..., config = ...}, {experiment =, out =, threads =, force =, command =,
--           index =, total =})                      -- -> "done" | "skipped" (runner.run's API)
--   gan.build(cfg, threads) -> st;  gan.d_update(st, x, t) -> loss
--   gan.g_update(st, z, assemble) -> loss;  gan.iteration(st) -> d_loss, g_loss
--   gan.read_run(path) -> run or nil, reason;  gan.scan(dir) -> runs, bad
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
-- Checkpoint <run-id>.ckpt.h5 (schema "mixup-repro/gan-checkpoint") every CHECKPOINT_EVERY
-- iterations: root attrs format_version = results.CHECKPOINT_VERSION (another is refused),
-- run_id, iterations_done, threads, seconds; groups config, curves, snapshots (those taken so
-- far), weights, optim_d, optim_g (optim:state(): float32 datasets and a step attribute);
-- datasets rng_gan, rng_order, rng_mixup (rng:state()). A run killed anywhere resumes from it and
-- ends bit-identical to an uninterrupted run at the same thread count (another count is refused);
-- the fixed snapshot points are redrawn from the seed. It is removed when the run completes.
-- Non-goals: other GAN losses (non-saturating, WGAN).

local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local egan = require "engine.gan"
local h5 = require "engine.h5"
local config = require "harness.lua.config"
local provenance = require "harness.lua.provenance"
local results = require "harness.lua.results"

local M = {}

M.SCHEMA_NAME = "gan_toy"
M.FORMAT_VERSION = 1
M.SCHEMA_RUN = "mixup-repro/gan-run"
M.STATUS_COMPLETE = "complete"
M.RUN_EXT = ".h5"
M.CKPT_EXT = ".ckpt.h5"
M.SCHEMA_CHECKPOINT = "mixup-repro/gan-checkpoint"
M.CHECKPOINT_EVERY = 1000 -- iterations: ~1 min at cpu scale; a write is ~13 MB at width 512
M.FIX = "delete it to rerun"
M.METRICS = {"modes_covered", "high_quality", "energy", "mmd2", "outside"}
M.CURVES = {"iteration", "d_loss", "g_loss"}
local DATA_DIM = 2
local DAMAGED_SUFFIX = ".damaged"
local LOG_EVERY = 1000 -- iterations between progress lines (snapshots are always printed)
local RNG_NAMES = {"gan", "order", "mixup"}

-- ============================================================================================
-- Config schema.

local I, N, S, B, L, R = config.integer, config.number, config.string, config.boolean,
                         config.list, config.record

config.schemas[M.SCHEMA_NAME] = R{
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
}

-- What the schema cannot say.
local function check_config(cfg)
  local last = cfg.snapshots[#cfg.snapshots]
  if last and last >= cfg.iterations then
    error(("gan: snapshot at iteration %d, but iterations is %d (snapshots are 0-based "
           .. "iteration indices below it)"):format(last, cfg.iterations), 0)
  end
  if cfg.mixup.variant == "demo" and cfg.mixup.alpha > 1 then
    error(("gan: mixup.alpha is %g, the demo variant draws lambda ~ U(0, alpha) and needs "
           .. "alpha <= 1"):format(cfg.mixup.alpha), 0)
  end
  if cfg.net.role ~= nil or cfg.net.n_latent ~= nil then
    error("gan: net must not set role or n_latent (the config's n_latent is the generator's)",
          0)
  end
end
M.check_config = check_config

-- ============================================================================================
-- Training state.

local function net_opts(cfg, role)
  local o = {role = role, n_latent = cfg.n_latent}
  for k, v in pairs(cfg.net) do if k ~= "family" then o[k] = v end end
  return o
end

-- Nets, optimisers, generators and batch buffers of a run; nothing else allocates later.
function M.build(cfg, threads)
  check_config(cfg)
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
  return st
end

-- One discriminator step on the batch x (rows, 2) with soft targets t (rows): loss.
function M.d_update(st, x, t)
  st.opt_d:zero_grad()
  local y = st.d:forward(x, true)
  local loss = train.bce_logits(y, t, st.dz)
  st.d:backward(st.dz)
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
  st.g:backward(st.dg)
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
-- Results files.

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function ensure_dir(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and not file_exists(dir) and not os.execute("mkdir -p " .. shell_quote(dir)) then
    error(("gan: cannot create directory %s (check permissions and free space)"):format(dir), 0)
  end
end

local function say(fmt, ...)
  io.stdout:write(fmt:format(...), "\n")
  io.stdout:flush()
end

local function f64(values)
  local v = {}
  for i, x in ipairs(values) do v[i] = x + 0.0 end
  return {kind = "f64", values = v}
end

local function config_tree(cfg)
  local attrs = results.flatten(cfg)
  attrs[results.CONFIG_LUA_ATTR] = results.serialize(cfg)
  return {attrs = attrs}
end

local function curves_tree(curves)
  local ds = {}
  for _, k in ipairs(M.CURVES) do ds[k] = f64(curves[k]) end
  return {datasets = ds}
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
      error(("snapshots/%d is missing"):format(it), 0)
    end
  end
  return snaps
end

-- The HDF5 tree of a finished run (see the header).
local function run_tree(r)
  local cfg = r.config
  local gm = {iteration = {}}
  for _, k in ipairs(M.METRICS) do gm[k] = {} end
  for i, s in ipairs(r.snapshots) do
    gm.iteration[i] = s.iteration
    for _, k in ipairs(M.METRICS) do gm[k][i] = s.metrics[k] end
  end
  local gm_ds = {}
  for k, v in pairs(gm) do gm_ds[k] = f64(v) end
  local first = r.snapshots[1] and r.snapshots[1].metrics or {}
  return {
    attrs = {format_version = M.FORMAT_VERSION, schema = M.SCHEMA_RUN,
             experiment = r.experiment, run_id = r.run_id, status = M.STATUS_COMPLETE},
    groups = {
      config = config_tree(cfg),
      provenance = {attrs = r.provenance},
      curves = curves_tree(r.curves),
      snapshots = {datasets = {real = r.snap_real, noise = r.snap_noise},
                   groups = snapshot_groups(r.snapshots)},
      gan_metrics = {
        attrs = {n_modes = egan.num_modes(cfg.shape), std = cfg.data_std,
                 cover_percent = egan.COVER_PERCENT, quality_stds = egan.QUALITY_STDS,
                 mmd_bandwidth = egan.MMD_BANDWIDTH, frame_margin = egan.FRAME_MARGIN,
                 frame_lo = first.frame_lo or 0.0, frame_hi = first.frame_hi or 0.0},
        datasets = gm_ds},
      summary = {attrs = r.summary},
      weights = {datasets = {d_params = r.d_params, g_params = r.g_params}},
    },
  }
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

-- Reads a GAN results file: the run, or nil and "<path>: <what>; <fix>".
function M.read_run(path)
  if not file_exists(path) then return nil, path .. ": missing" end
  local ok_c, why = h5.is_complete(path)
  if not ok_c then
    why = tostring(why):gsub("^h5io_open: ", "")
    if not why:find(M.FIX, 1, true) then why = ("%s: %s; %s"):format(path, why, M.FIX) end
    return nil, why
  end
  local ok, res = pcall(function()
    local tree = h5.read(path)
    local a = tree.attrs
    if a.format_version ~= M.FORMAT_VERSION then
      error(("format_version is %s, this harness reads %d"):format(tostring(a.format_version),
            M.FORMAT_VERSION), 0)
    end
    if a.schema ~= M.SCHEMA_RUN then
      error(("schema is %s, expected %q"):format(tostring(a.schema), M.SCHEMA_RUN), 0)
    end
    if a.status ~= M.STATUS_COMPLETE then
      error(("status is %s, expected %q"):format(tostring(a.status), M.STATUS_COMPLETE), 0)
    end
    for _, g in ipairs{"config", "provenance", "curves", "snapshots", "gan_metrics", "summary"}
    do
      if not tree.groups[g] then error(("group '%s' is missing"):format(g), 0) end
    end
    local cfg, err = results.deserialize(tree.groups.config.attrs[results.CONFIG_LUA_ATTR] or "")
    if type(cfg) ~= "table" then error("config.lua: " .. tostring(err), 0) end
    local sg = tree.groups.snapshots
    local snaps = read_snapshots(sg.groups, cfg.snapshots, true)
    return {path = path, experiment = a.experiment, run_id = a.run_id, config = cfg,
            provenance = tree.groups.provenance.attrs, curves = tree.groups.curves.datasets,
            snapshots = snaps, snap_real = sg.datasets.real, snap_noise = sg.datasets.noise,
            gan_metrics = tree.groups.gan_metrics, summary = tree.groups.summary.attrs}
  end)
  if ok then return res end
  return nil, ("%s: %s; %s"):format(path, tostring(res), M.FIX)
end

-- Every GAN results file under dir (other schemas are left out, not reported): runs sorted
-- by path, and the unreadable ones {path =, reason =}.
function M.scan(dir)
  local p = assert(io.popen("find " .. shell_quote(dir) .. " -type f -name '*"
                            .. M.RUN_EXT .. "' 2>/dev/null | LC_ALL=C sort"))
  local runs, bad = {}, {}
  for path in p:lines() do
    local ok, attrs = pcall(h5.read_attrs, path)
    if not ok or attrs.schema == M.SCHEMA_RUN then
      local r, why = M.read_run(path)
      if r then runs[#runs + 1] = r else bad[#bad + 1] = {path = path, reason = why} end
    end
  end
  p:close()
  return runs, bad
end

-- ============================================================================================
-- Checkpoints.

local function save_checkpoint(path, st, run, p)
  local ds = {}
  for _, name in ipairs(RNG_NAMES) do
    ds["rng_" .. name] = {kind = "bytes", value = st.rng[name]:state()}
  end
  h5.write(path, {
    attrs = {format_version = results.CHECKPOINT_VERSION, schema = M.SCHEMA_CHECKPOINT,
             run_id = run.id,
             iterations_done = p.done, threads = p.threads, seconds = p.seconds + 0.0},
    datasets = ds,
    groups = {config = config_tree(run.config), curves = curves_tree(p.curves),
              snapshots = {groups = snapshot_groups(p.snaps)},
              weights = {datasets = {d_params = st.d:params(), g_params = st.g:params()}},
              optim_d = st.opt_d:state(), optim_g = st.opt_g:state()},
  })
end

-- Restores st from the checkpoint at path when it belongs to this run; returns {done =,
-- seconds =, curves =, snaps =}, or nil (no usable checkpoint: a damaged one is removed).
local function resume(path, st, run, threads)
  if not file_exists(path) then return nil end
  local ok, res = pcall(function()
    local tree = h5.read(path)
    if tree.attrs.schema ~= M.SCHEMA_CHECKPOINT then error("not a GAN checkpoint", 0) end
    return tree
  end)
  if ok then results.check_checkpoint_version(path, res.attrs) end
  if ok and res.attrs.format_version ~= results.CHECKPOINT_VERSION then
    ok, res = false, "format_version is missing"
  end
  if not ok then
    say("checkpoint %s is unusable (%s); starting %s from iteration 0", path, tostring(res),
        run.id)
    os.remove(path)
    return nil
  end
  local tree, a = res, res.attrs
  local cfg = results.deserialize(tree.groups.config.attrs[results.CONFIG_LUA_ATTR] or "")
  if a.run_id ~= run.id or type(cfg) ~= "table"
     or results.serialize(cfg) ~= results.serialize(run.config) then
    error(("gan: %s: the checkpoint %s belongs to another config (run id %s); delete it or "
           .. "rerun with --force"):format(run.id, path, tostring(a.run_id)), 0)
  end
  if a.threads ~= threads then
    error(("gan: %s: the checkpoint was written with %s threads, this run has %d; resume with "
           .. "--threads %s (the bits depend on the thread count) or rerun with --force")
          :format(run.id, tostring(a.threads), threads, tostring(a.threads)), 0)
  end
  local w = tree.groups.weights.datasets
  st.d:params():copy(w.d_params)
  st.g:params():copy(w.g_params)
  for _, o in ipairs{{name = "optim_d", opt = st.opt_d}, {name = "optim_g", opt = st.opt_g}} do
    local opt_ok, why = pcall(o.opt.load_state, o.opt, tree.groups[o.name])
    if not opt_ok then
      error(("gan: %s: the checkpoint %s: %s; delete it or rerun with --force")
            :format(run.id, path, tostring(why)), 0)
    end
  end
  for _, name in ipairs(RNG_NAMES) do st.rng[name]:set_state(tree.datasets["rng_" .. name]) end
  local curves = {}
  for _, k in ipairs(M.CURVES) do curves[k] = tree.groups.curves.datasets[k] end
  if #curves.iteration ~= a.iterations_done then
    error(("gan: %s: the checkpoint %s has %d curve entries for %d iterations; delete it")
          :format(run.id, path, #curves.iteration, a.iterations_done), 0)
  end
  say("resuming %s after iteration %d of %d (checkpoint %s)", run.id, a.iterations_done - 1,
      run.config.iterations, path)
  return {done = a.iterations_done, seconds = a.seconds, curves = curves,
          snaps = read_snapshots(tree.groups.snapshots.groups, run.config.snapshots, false)}
end

-- ============================================================================================
-- A run.

local function check_existing(run, path, force)
  if not file_exists(path) then return "run" end
  if force then
    os.remove(path)
    return "run"
  end
  local r, why = M.read_run(path)
  if not r then
    os.rename(path, path .. DAMAGED_SUFFIX)
    say("results file %s is damaged (%s); moved to %s%s, rerunning %s", path, why, path,
        DAMAGED_SUFFIX, run.id)
    return "run"
  end
  if results.serialize(r.config) ~= results.serialize(run.config) then
    error(("gan: %s holds another config under the same run id; delete it or rerun with "
           .. "--force"):format(path), 0)
  end
  return "skip", r
end

local function metrics_line(m)
  return ("modes %d/%d, high-quality %.1f%%, energy %.4f, mmd2 %.4f, outside %d"):format(
         m.modes_covered, m.n_modes, 100 * m.high_quality, m.energy, m.mmd2, m.outside)
end

-- o: {experiment =, out =, threads =, force =, command =, index =, total =,
-- checkpoint_every = (default M.CHECKPOINT_EVERY), stop_after = (tests: return "stopped"
-- after this many iterations of this session, as a kill would, leaving the checkpoint)}.
function M.run(run, o)
  local cfg = run.config
  local base = ("%s/%s/%s"):format(o.out, o.experiment, run.id)
  local path, ckpt = base .. M.RUN_EXT, base .. M.CKPT_EXT
  local tag = ("[%d/%d]"):format(o.index or 1, o.total or 1)
  local action, done = check_existing(run, path, o.force)
  if action == "skip" then
    say("%s skip %s: complete (final %s); --force reruns it", tag, run.id,
        metrics_line(done.snapshots[#done.snapshots].metrics))
    return "skipped"
  end
  if o.force then os.remove(ckpt) end
  local start_time = provenance.now()
  local st = M.build(cfg, o.threads)
  local every = o.checkpoint_every or M.CHECKPOINT_EVERY
  say("%s run %s: %s, mixup %s alpha %g, %d iterations x %d D steps, batch %d, %d threads",
      tag, run.id, cfg.shape, cfg.mixup.variant, cfg.mixup.alpha, cfg.iterations, cfg.d_steps,
      cfg.batch, o.threads)
  local p = resume(ckpt, st, run, o.threads)
        or {done = 0, seconds = 0.0, curves = {iteration = {}, d_loss = {}, g_loss = {}},
            snaps = {}}
  local curves, snaps, first = p.curves, p.snaps, p.done
  local want = {}
  for _, it in ipairs(cfg.snapshots) do want[it] = true end
  local t0 = sys.clock()
  for it = first, cfg.iterations - 1 do
    local ok, d_loss, g_loss = pcall(M.iteration, st)
    if not ok then
      error(("gan: %s: iteration %d: %s; the run is stopped (a changed recipe gets a new run "
             .. "id)"):format(run.id, it, tostring(d_loss)), 0)
    end
    curves.iteration[it + 1], curves.d_loss[it + 1], curves.g_loss[it + 1] = it, d_loss, g_loss
    if want[it] then
      local points, m = M.snapshot(st)
      snaps[#snaps + 1] = {iteration = it, generated = points, metrics = m}
      say("  iteration %d: d_loss %.4f g_loss %.4f; %s", it, d_loss, g_loss, metrics_line(m))
    elseif (it + 1) % LOG_EVERY == 0 then
      local rate = (sys.clock() - t0) / (it + 1 - first)
      say("  iteration %d: d_loss %.4f g_loss %.4f (%.3f s/iteration, ETA %ds)", it, d_loss,
          g_loss, rate, math.floor(rate * (cfg.iterations - it - 1)))
    end
    local done_now = it + 1
    if done_now % every == 0 and done_now < cfg.iterations then
      ensure_dir(ckpt)
      save_checkpoint(ckpt, st, run, {done = done_now, threads = o.threads, curves = curves,
                                      snaps = snaps, seconds = p.seconds + sys.clock() - t0})
    end
    if o.stop_after and done_now - first >= o.stop_after and done_now < cfg.iterations then
      return "stopped"
    end
  end
  local seconds = p.seconds + sys.clock() - t0
  ensure_dir(path)
  local prov = provenance.collect{threads = o.threads, seed = cfg.seed, scale = cfg.scale,
                                  command = o.command or "", start_time = start_time}
  h5.write(path, run_tree{
    config = cfg, experiment = o.experiment, run_id = run.id, provenance = prov,
    curves = curves, snapshots = snaps, snap_real = st.snap_real, snap_noise = st.snap_noise,
    summary = summarize(snaps, seconds, cfg.iterations, st.d:num_params(), st.g:num_params()),
    d_params = st.d:params(), g_params = st.g:params(),
  })
  os.remove(ckpt)
  say("%s done %s in %.0fs (%.4f s/iteration) -> %s", tag, run.id, seconds,
      seconds / cfg.iterations, path)
  return "done"
end

return M
