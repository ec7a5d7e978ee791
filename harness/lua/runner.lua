-- runner.lua: trains and evaluates one run of an image-classification grid (Tables 1 and 2 of
-- the mixup paper) from its validated config (harness/lua/config.lua), with a checkpoint after
-- every epoch, exact resume, and the results file written through harness/lua/results.lua.
--
--   local runner = require "harness.lua.runner"
--   local status = runner.run({id = ..., config = ...}, {experiment = "table2_cifar",
--       out = "results", threads = 2, force = false, command = "...", progress = false,
--       index = 1, total = 4, data_cache = {}, log = nil})  -- -> "done" | "skipped"
--   (log: a function receiving each line; default: print to stdout)
--   runner.paths(out, experiment, id) -> results path, checkpoint path
--   runner.data_available(cfg)        -> true, or false and a message naming the fix
--   runner.stdout_is_tty()            -> whether a live progress bar makes sense
--
-- One epoch e (0-based; printed and stored 1-based), as facebookresearch/mixup-cifar10
-- train.py does it: the loader shuffles and augments from (seed, e); each batch is mixed with
-- train.mixup (alpha = 0: ERM, the batch unchanged and one-hot targets), forwarded in training
-- mode, and trained on the soft-target cross-entropy with SGD at the schedule's lr(e, step);
-- then the whole test set is evaluated in inference mode (BN running statistics).
-- Per-epoch numbers: train_loss is the mean over the epoch's examples of the batch losses
-- (each batch weighted by its size); train_error is 100 (1 - sum_n t~[n, argmax z_n] / N),
-- i.e. for mixup lambda [pred = y_a] + (1 - lambda) [pred = y_b] as the official code counts
-- it, and the plain error for ERM; test_loss and test_error are over the test set; seconds is
-- the wall time of training plus evaluation (not the checkpoint write); lr is the rate of the
-- epoch's first step.
--
-- Randomness, all from the run seed (harness/core/rng.h streams): net init (stream init), data
-- order and augmentation (the loader: seed and epoch), mixup's lambda and partners (stream
-- mixup), dropout (stream dropout). The checkpoint after epoch e holds the weights, BN
-- buffers, optimiser state (momentum and step count), the mixup and dropout generators and the
-- curves; the loader needs only the epoch number. So a run killed anywhere (kill -9 included)
-- resumes from its last checkpoint and ends bit-identical to an uninterrupted run at the same
-- thread count. The runner hands the checkpoint its start time and thread count
-- (ckpt.provenance); where results.lua stores them, a resume keeps the original start time
-- and refuses another thread count (reductions are fixed-order per thread count, so the bits
-- would change).
-- A finished run's results file is read back first (results.read_run checks everything); a
-- complete one is skipped unless forced; a damaged one is reported, moved to <path>.damaged
-- and the run starts again. A NaN or infinite loss stops the run with an error naming the
-- epoch, keeping the last checkpoint.
--
-- Non-goals: grids and ids (grid.lua), the command line (experiments/run.lua), the file
-- format (results.lua).

local data = require "engine.data"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local provenance = require "harness.lua.provenance"
local results = require "harness.lua.results"

local M = {}

local IMAGE_SHAPE = {c = 3, h = 32, w = 32}
local DATA_ROOT_ENV, DATA_ROOT_DEFAULT = "MIXUP_DATA", "data" -- as engine.data (lua_data.c)
-- What must exist for each dataset, and how to get it (mk/data.mk).
local DATA_FILES = {
  cifar10 = {dir = "cifar-10-batches-bin", probe = "data_batch_1.bin", name = "CIFAR-10",
             fix = "make data"},
  cifar100 = {dir = "cifar-100-binary", probe = "train.bin", name = "CIFAR-100",
              fix = "make data-cifar100"},
}
local DAMAGED_SUFFIX = ".damaged"
local PROGRESS_WIDTH = 30       -- characters of the bar
local PROGRESS_INTERVAL = 0.25  -- seconds between redraws of the bar
local RNG_NAMES = {"mixup", "dropout"} -- the generators a checkpoint carries (stream names)

-- ============================================================================================
-- Small helpers.

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function print_line(line)
  io.stdout:write(line, "\n")
  io.stdout:flush()
end

-- "45s", "12m", "2h05m": a duration for ETAs.
local function duration(s)
  if s < 60 then return ("%ds"):format(math.floor(s + 0.5)) end
  if s < 3600 then return ("%dm"):format(math.floor(s / 60 + 0.5)) end
  local m = math.floor(s / 60 + 0.5)
  return ("%dh%02dm"):format(m // 60, m % 60)
end
M.duration = duration

function M.paths(out, experiment, id)
  local base = ("%s/%s/%s"):format(out, experiment, id)
  return base .. results.RUN_EXT, base .. results.CKPT_EXT
end

-- Whether stdout is a terminal that can redraw a line: TERM set (and not "dumb") and
-- `test -t 1` true for the shell os.execute starts, which inherits our stdout.
function M.stdout_is_tty()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  return os.execute("test -t 1") == true
end

function M.data_available(cfg)
  if cfg.data.source == "synthetic" then return true end
  local d = DATA_FILES[cfg.dataset]
  local root = os.getenv(DATA_ROOT_ENV)
  if root == nil or root == "" then root = DATA_ROOT_DEFAULT end
  local dir = root .. "/" .. d.dir
  if file_exists(dir .. "/" .. d.probe) then return true end
  return false, ("%s not found in %s (run `%s`)"):format(d.name, dir, d.fix)
end

-- ============================================================================================
-- Data.

local function subset(set, n, seed)
  if n == "all" then return set end
  return set:subset{balanced = n, seed = seed}
end

-- The train and test sets of cfg; cache (optional) keeps the last pair, so that the runs of a
-- grid that share their data load it once.
local function load_data(cfg, cache)
  local d = cfg.data
  local key = table.concat({cfg.dataset, d.source, tostring(d.train_examples),
                            tostring(d.test_examples), tostring(d.subset_seed)}, "/")
  if cache and cache.key == key then return cache.train, cache.test end
  if cache then cache.key, cache.train, cache.test = nil, nil, nil end
  collectgarbage()
  local tr, te
  if d.source == "synthetic" then
    -- Random images with cycling labels: deterministic stand-ins for tests; the test set uses
    -- the next seed so that it differs from the training set.
    local function count(n, what)
      if n == "all" then
        error(("runner: data.%s is \"all\", which a synthetic source cannot size; give a "
               .. "number"):format(what), 0)
      end
      return n
    end
    tr = data.synthetic(cfg.dataset, count(d.train_examples, "train_examples"), d.subset_seed)
    te = data.synthetic(cfg.dataset, count(d.test_examples, "test_examples"),
                        d.subset_seed + 1)
  else
    tr = subset(data.load_cifar(cfg.dataset, "train"), d.train_examples, d.subset_seed)
    te = subset(data.load_cifar(cfg.dataset, "test"), d.test_examples, d.subset_seed)
  end
  if cache then cache.key, cache.train, cache.test = key, tr, te end
  return tr, te
end

-- ============================================================================================
-- The training state.

local function copy_opts(t, skip)
  local o = {}
  for k, v in pairs(t) do if k ~= skip then o[k] = v end end
  return o
end

-- Batch tensors of capacity `cap` rows and views of them for n rows, made once per size.
local function batch_buffers(cap, shape_tail)
  local full_shape = {cap}
  for i, s in ipairs(shape_tail) do full_shape[i + 1] = s end
  local full = tensor.new(full_shape)
  local views = {[cap] = full}
  return function(n)
    local v = views[n]
    if not v then
      local shape = {n}
      for i, s in ipairs(shape_tail) do shape[i + 1] = s end
      v = full:view(0, shape)
      views[n] = v
    end
    return v
  end
end

local function build(cfg, threads, data_cache)
  local st = {cfg = cfg}
  st.train_set, st.test_set = load_data(cfg, data_cache)
  local k = st.train_set:num_classes()
  if cfg.net.num_classes ~= k then
    error(("runner: net.num_classes is %s but %s has %d classes"):format(
          tostring(cfg.net.num_classes), cfg.dataset, k), 0)
  end
  st.k = k
  local desc = require("nets." .. cfg.net.family)(copy_opts(cfg.net, "family"))
  st.net = nn.build(desc, IMAGE_SHAPE, {batch = math.max(cfg.batch, cfg.eval_batch),
                                        threads = threads})
  st.net:init(train.rng(cfg.seed, train.stream.init))
  st.n_params = st.net:num_params()
  local o = cfg.optim
  st.opt = train.sgd{params = st.net:params(), grads = st.net:grads(), momentum = o.momentum,
                     weight_decay = o.weight_decay, nesterov = o.nesterov,
                     decay_mask = (not o.decay_all_params) and st.net:decay_mask() or nil}
  local s = cfg.schedule
  st.sched = train.schedule{base_lr = s.base_lr, factor = s.factor, milestones = s.milestones,
                            late = s.lr_drop_late}
  st.rng = {}
  for _, name in ipairs(RNG_NAMES) do st.rng[name] = train.rng(cfg.seed, train.stream[name]) end
  local d = cfg.data
  st.train_ld = data.loader(st.train_set, {batch = cfg.batch, train = true, seed = cfg.seed,
                                           shuffle = true, augment = d.augment, pad = d.pad,
                                           flip = d.flip, drop_last = false, mean = d.mean,
                                           std = d.std})
  st.test_ld = data.loader(st.test_set, {batch = cfg.eval_batch, train = false, mean = d.mean,
                                         std = d.std})
  st.mix_opts = {alpha = cfg.mixup.alpha, per_example = cfg.mixup.per_example, n_classes = k}
  local img = {IMAGE_SHAPE.c, IMAGE_SHAPE.h, IMAGE_SHAPE.w}
  st.xm = batch_buffers(cfg.batch, img)
  st.t = batch_buffers(math.max(cfg.batch, cfg.eval_batch), {k})
  st.dz = batch_buffers(cfg.batch, {k})
  st.curves = {}
  for _, name in ipairs(results.CURVES) do st.curves[name] = {} end
  return st
end

-- sum over rows n of t[n, argmax_j z[n, j]] (first maximum): the examples' weight on the
-- predicted class, i.e. the number of correct predictions for one-hot t.
local function soft_correct(z, t, n, k)
  local zs, ts = z:to_table(), t:to_table()
  local s = 0.0
  for i = 0, n - 1 do
    local base = i * k
    local best, arg = zs[base + 1], 1
    for j = 2, k do
      local v = zs[base + j]
      if v > best then best, arg = v, j end
    end
    s = s + ts[base + arg]
  end
  return s
end
M.soft_correct = soft_correct

-- ============================================================================================
-- Progress.

local function progress_bar(p, step, steps, loss, t0)
  if not p.on then return end
  local now = sys.clock()
  if step < steps and now - p.last < PROGRESS_INTERVAL then return end
  p.last = now
  local filled = math.floor(PROGRESS_WIDTH * step / steps)
  io.stdout:write(("\r  [%s%s] %d/%d loss %.3f %s"):format(("="):rep(filled),
                  (" "):rep(PROGRESS_WIDTH - filled), step, steps, loss,
                  duration(now - t0)))
  io.stdout:flush()
end

local function progress_clear(p)
  if not p.on then return end
  io.stdout:write("\r\27[2K")
  io.stdout:flush()
end

-- ============================================================================================
-- One epoch.

-- what: the engine's message (loss_softmax_xent refuses non-finite logits) or the loss.
local function diverged(st, o, e, step, steps, what)
  local kept = #st.curves.epoch
  local where = kept > 0
      and ("the checkpoint after epoch %d is kept in %s and the same command resumes from "
           .. "it"):format(kept, o.ckpt_path)
      or "no checkpoint exists yet (it diverged in the first epoch)"
  error(("runner: %s: the training loss is not finite at epoch %d/%d (step %d of %d: %s); "
         .. "the run is stopped: %s. Fix: lower schedule.base_lr (or check data.mean/std and "
         .. "mixup) in the experiment's recipe; a changed recipe gets a new run id"):format(
         o.id, e + 1, st.cfg.epochs, step, steps, what, where), 0)
end

local function train_epoch(st, o, e)
  local ld, net, k = st.train_ld, st.net, st.k
  ld:epoch(e)
  local steps = ld:batches()
  local loss_sum, correct, seen, step = 0.0, 0.0, 0, 0
  local t0 = sys.clock()
  local p = {on = o.progress, last = -math.huge}
  for x, y in ld:each() do
    local n = x:shape()[1]
    local xm, t, dz = st.xm(n), st.t(n), st.dz(n)
    train.mixup(xm, t, x, y, st.mix_opts, st.rng.mixup)
    st.opt:zero_grad()
    local z = net:forward(xm, true, st.rng.dropout)
    local ok, loss = pcall(train.softmax_xent, z, t, dz)
    if not ok or loss ~= loss or loss == math.huge or loss == -math.huge then
      progress_clear(p)
      diverged(st, o, e, step + 1, steps, ok and ("loss " .. tostring(loss)) or tostring(loss))
    end
    correct = correct + soft_correct(z, t, n, k)
    net:backward(dz)
    st.opt:step(st.sched:lr(e, step, steps))
    loss_sum = loss_sum + loss * n
    seen = seen + n
    step = step + 1
    progress_bar(p, step, steps, loss_sum / seen, t0)
  end
  progress_clear(p)
  return loss_sum / seen, 100.0 * (1.0 - correct / seen)
end

local function evaluate(st)
  local ld, net, k = st.test_ld, st.net, st.k
  ld:epoch(0)
  local loss_sum, errors, seen = 0.0, 0, 0
  for x, y in ld:each() do
    local n = x:shape()[1]
    local z = net:forward(x, false)
    local t = st.t(n)
    t:fill(0)
    for i = 1, n do t:set(1, i, math.tointeger(y:get(i)) + 1) end
    loss_sum = loss_sum + train.softmax_xent(z, t) * n
    errors = errors + train.count_errors(z, y)
    seen = seen + n
  end
  return loss_sum / seen, 100.0 * errors / seen
end

-- ============================================================================================
-- Checkpoints.

local function weights(st)
  return {params = st.net:params(), buffers = st.net:buffers()}
end

local function rng_states(st)
  local r = {}
  for _, name in ipairs(RNG_NAMES) do r[name] = st.rng[name]:state() end
  return r
end

local function save_checkpoint(st, o)
  local prov = {start_time = st.start_time, threads = o.threads}
  results.write_checkpoint(o.ckpt_path, {
    run_id = o.id, epochs_done = #st.curves.epoch, config = st.cfg, curves = st.curves,
    weights = weights(st), optim_state = st.opt:state(), rng = rng_states(st),
    provenance = prov,
  })
end

-- Restores st from the checkpoint at o.ckpt_path when there is a usable one; reports and
-- removes a damaged one. Returns the number of epochs done.
local function resume(st, o)
  if not file_exists(o.ckpt_path) then return 0 end
  local ck, why = results.read_checkpoint(o.ckpt_path)
  if not ck then
    o.say("checkpoint %s is damaged (%s); starting %s from epoch 1", o.ckpt_path, why, o.id)
    os.remove(o.ckpt_path)
    return 0
  end
  if ck.run_id ~= o.id or results.serialize(ck.config) ~= results.serialize(st.cfg) then
    error(("runner: %s: the checkpoint %s belongs to another config (run id %s); delete it "
           .. "or rerun with --force"):format(o.id, o.ckpt_path, tostring(ck.run_id)), 0)
  end
  if ck.epochs_done > st.cfg.epochs then
    error(("runner: %s: the checkpoint has %d epochs done, the config asks for %d; delete it "
           .. "or rerun with --force"):format(o.id, ck.epochs_done, st.cfg.epochs), 0)
  end
  local ck_threads = ck.provenance and ck.provenance.threads
  if ck_threads and ck_threads ~= o.threads then
    error(("runner: %s: the checkpoint was written with %d threads, this run has %d; resume "
           .. "with --threads %d (the bits depend on the thread count) or rerun with --force")
          :format(o.id, ck_threads, o.threads, ck_threads), 0)
  end
  local p, b = st.net:params(), st.net:buffers()
  if ck.weights.params:size() ~= p:size() or ck.weights.buffers:size() ~= b:size() then
    error(("runner: %s: the checkpoint holds %d params and %d buffers, the net %d and %d")
          :format(o.id, ck.weights.params:size(), ck.weights.buffers:size(), p:size(),
                  b:size()), 0)
  end
  p:copy(ck.weights.params)
  b:copy(ck.weights.buffers)
  local ok, why = pcall(st.opt.load_state, st.opt, ck.optim_state)
  if not ok then
    error(("runner: %s: the checkpoint %s: %s; delete it or rerun with --force")
          :format(o.id, o.ckpt_path, tostring(why)), 0)
  end
  for _, name in ipairs(RNG_NAMES) do
    if not ck.rng[name] then
      error(("runner: %s: the checkpoint has no rng_%s; delete it or rerun with --force")
            :format(o.id, name), 0)
    end
    st.rng[name]:set_state(ck.rng[name])
  end
  for _, name in ipairs(results.CURVES) do st.curves[name] = ck.curves[name] end
  if ck.provenance and ck.provenance.start_time then st.start_time = ck.provenance.start_time end
  o.say("resuming %s after epoch %d of %d (checkpoint %s)", o.id, ck.epochs_done, st.cfg.epochs,
      o.ckpt_path)
  return ck.epochs_done
end

-- ============================================================================================
-- A run.

-- What to do with an existing results file: "skip", or "run" (after reporting and moving a
-- damaged one aside, or removing it when forced).
local function check_existing(run, o)
  if not file_exists(o.path) then return "run" end
  if o.force then
    os.remove(o.path)
    return "run"
  end
  local r, why = results.read_run(o.path, {weights = false})
  if not r then
    local aside = o.path .. DAMAGED_SUFFIX
    os.rename(o.path, aside)
    o.say("results file %s is damaged (%s); moved to %s, rerunning %s", o.path, why, aside,
        run.id)
    return "run"
  end
  if results.serialize(r.config) ~= results.serialize(run.config) then
    error(("runner: %s holds another config under the same run id; delete it or rerun with "
           .. "--force"):format(o.path), 0)
  end
  return "skip", r
end

function M.run(run, o)
  local cfg = run.config
  local opts = {}
  for k, v in pairs(o) do opts[k] = v end
  o = opts
  local log = o.log or print_line
  o.say = function(fmt, ...) log(fmt:format(...)) end
  o.id = run.id
  o.path, o.ckpt_path = M.paths(o.out, o.experiment, run.id)
  local tag = ("[%d/%d]"):format(o.index or 1, o.total or 1)
  local action, done = check_existing(run, o)
  if action == "skip" then
    o.say("%s skip %s: complete (median test error of the last %d epochs %.2f%%); --force "
        .. "reruns it", tag, run.id, math.min(results.MEDIAN_LAST, done.summary.epochs),
        done.summary.test_error_median_last10)
    return "skipped"
  end
  if o.force then os.remove(o.ckpt_path) end

  local st = build(cfg, o.threads, o.data_cache)
  st.start_time = provenance.now()
  o.say("%s run %s: %s %s, %d params, %d train / %d test images, batch %d, %d epochs, %d threads",
      tag, run.id, cfg.dataset, cfg.net.family, st.n_params, st.train_set:size(),
      st.test_set:size(), cfg.batch, cfg.epochs, o.threads)
  local first = resume(st, o)
  local session = {}
  for e = first, cfg.epochs - 1 do
    local t0 = sys.clock()
    local lr = st.sched:lr(e, 0, st.train_ld:batches())
    local train_loss, train_error = train_epoch(st, o, e)
    local test_loss, test_error = evaluate(st)
    local secs = sys.clock() - t0
    local c = st.curves
    local row = {epoch = e + 1.0, lr = lr, train_loss = train_loss, train_error = train_error,
                 test_loss = test_loss, test_error = test_error, seconds = secs}
    for _, name in ipairs(results.CURVES) do c[name][#c[name] + 1] = row[name] + 0.0 end
    session[#session + 1] = secs
    local mean = 0.0
    for _, s in ipairs(session) do mean = mean + s end
    mean = mean / #session
    o.say("epoch %d/%d loss %.3f err %.1f%% test %.1f%% lr %g %.1fs ETA %s", e + 1, cfg.epochs,
        train_loss, train_error, test_error, lr, secs, duration(mean * (cfg.epochs - e - 1)))
    save_checkpoint(st, o)
  end

  local prov = provenance.collect{threads = o.threads, seed = cfg.seed, scale = cfg.scale,
                                  command = o.command, start_time = st.start_time}
  results.write_run(o.path, {
    experiment = o.experiment, run_id = run.id, config = cfg, provenance = prov,
    curves = st.curves, summary = results.summarize(st.curves, st.n_params),
    weights = weights(st),
  })
  os.remove(o.ckpt_path)
  local summary = results.summarize(st.curves, st.n_params)
  o.say("%s done %s: median test error of the last %d epochs %.2f%% -> %s", tag, run.id,
      math.min(results.MEDIAN_LAST, summary.epochs), summary.test_error_median_last10, o.path)
  return "done"
end

return M
