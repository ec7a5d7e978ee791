-- tasks/classifier.lua: the image-classification task (Tables 1 and 2 of the mixup paper):
-- config schema "image_classification", one unit = one epoch of SGD with mixup then an
-- evaluation of the test set; run by harness/lua/lifecycle.lua (which documents the task
-- table), results file through harness/lua/results.lua (schema "mixup-repro/run").
--
-- One epoch e (0-based; printed and stored 1-based), as facebookresearch/mixup-cifar10
-- train.py does it: the loader shuffles and augments from (seed, e); each batch is mixed with
-- train.mixup (alpha = 0: ERM, the batch unchanged and one-hot targets), forwarded in training
-- mode, and trained on the soft-target cross-entropy with SGD at the schedule's lr(e, step);
-- then the whole test set is evaluated in inference mode (BN running statistics).
-- Per-epoch numbers: train_loss is the mean over the epoch's examples of the batch losses
-- (each batch weighted by its size); train_error is 100 (1 - sum_n t~[n, argmax z_n] / N)
-- (train.count_correct), i.e. for mixup lambda [pred = y_a] + (1 - lambda) [pred = y_b] as
-- the official code counts it, and the plain error for ERM; test_loss and test_error are over
-- the test set; seconds is the wall time of training plus evaluation; lr is the rate of the
-- epoch's first step.
--
-- Randomness, all from the run seed (harness/core/rng.h streams): net init (stream init), data
-- order and augmentation (the loader: seed and epoch), mixup's lambda and partners (stream
-- mixup), dropout (stream dropout). The state a checkpoint holds: the weights, BN buffers,
-- optimiser state (momentum and step count) and the mixup and dropout generators; the loader
-- needs only the epoch number. A loss that is not finite (or logits the loss refuses) stops
-- the run through the lifecycle's ctx.diverged.
-- Non-goals: the data files (harness/lua/sources.lua), the loop (lifecycle.lua).

local data = require "engine.data"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local config = require "harness.lua.config"
local conv_tune = require "harness.lua.conv_tune"
local results = require "harness.lua.results"
local sources = require "harness.lua.sources"

local M = {}

M.name = "classifier"
M.unit = "epoch"
M.curves = results.CURVES
M.checkpoint_every = 1
M.data_parallel = true -- trains over MPI ranks (harness/lua/data_parallel.lua)
M.divergence_fix = "lower schedule.base_lr (or check data.mean/std and mixup) in the "
                   .. "experiment's recipe"

local PROGRESS_WIDTH = 30       -- characters of the bar
local PROGRESS_INTERVAL = 0.25  -- seconds between redraws of the bar
local RNG_NAMES = {"mixup", "dropout"} -- the generators a checkpoint carries (stream names)

-- ============================================================================================
-- Config schema.

local I, N, S, B, L, R = config.integer, config.number, config.string, config.boolean,
                         config.list, config.record

-- An image classifier trained with SGD and (optionally) mixup, evaluated every epoch.
-- mixup.alpha = 0 is ERM (harness/train/mixup.h: lambda = 1, no partner drawn).
M.schema = R{
  scale = S{one_of = {"paper", "cpu", "smoke", "test"}},
  dataset = S{one_of = {"cifar10", "cifar100"}},
  seed = I{min = 0},
  epochs = I{min = 1},
  batch = I{min = 1},
  eval_batch = I{min = 1},
  net = config.net{"preact_resnet", "wrn", "densenet"},
  data = R{
    source = S{one_of = {"cifar", "synthetic"}},   -- synthetic: engine.data.synthetic, tests
    train_examples = I{min = 1, or_all = true},     -- a class-balanced subset, or "all"
    test_examples = I{min = 1, or_all = true},
    subset_seed = I{min = 0},                       -- the subsets' draw, shared by all runs
    augment = B(),                                  -- random crop with `pad`, flip if `flip`
    pad = I{min = 0, max = 16},
    flip = B(),
    mean = L{len = 3},
    std = L{len = 3, min = 1e-6},
  },
  mixup = R{alpha = N{min = 0}, per_example = B()},
  optim = R{
    kind = S{one_of = {"sgd"}},
    momentum = N{min = 0, max = 1},
    weight_decay = N{min = 0},
    nesterov = B(),
    decay_all_params = B(),  -- true: BN and biases decay too, as the official code
  },
  schedule = R{
    base_lr = N{above = 0},
    factor = N{above = 0},
    milestones = L{increasing = true, integers = true, min = 1, may_be_empty = true},
    lr_drop_late = B(),      -- true: facebookresearch/mixup-cifar10's one-epoch-late drops
  },
}

-- ============================================================================================
-- Build.

function M.units(cfg) return cfg.epochs end

-- A task built on this one (tasks/noisy_classifier.lua, ablation_classifier.lua,
-- imagenet_classifier.lua): a copy of every field, renamed, with extra curves appended to the
-- classifier's; the caller then replaces what differs.
function M.derive(name, extra_curves)
  local t = {}
  for k, v in pairs(M) do t[k] = v end
  t.name = name
  t.curves = {}
  for i, c in ipairs(M.curves) do t.curves[i] = c end
  for _, c in ipairs(extra_curves or {}) do t.curves[#t.curves + 1] = c end
  return t
end

-- The input shape {c =, h =, w =} of cfg's nets (harness/lua/models.lua builds trained nets
-- with it).
function M.input_shape(cfg) return sources.shape(cfg.dataset) end

M.available = sources.available

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

-- env = {threads =, data_cache =, prepare_train = nil, dp = nil}: dp, when given, is the
-- data-parallel world (harness/lua/data_parallel.lua) this run is trained over, its
-- refusals checked here; prepare_train(train_set), when given,
-- returns the set to train on (a task built on this one, e.g. tasks/noisy_classifier.lua,
-- corrupts a copy of the labels there); it runs before the loader is made.
-- cfg.micro_batch (schemas that have it, e.g. tasks/imagenet_classifier.lua): rows per
-- forward-backward pass within a step, 0 (or absent) for the whole batch. A split step means
-- the same run only when every chunk is whole batch-norm groups: micro_batch must be a
-- multiple of net.bn_group (> 0), and dropout and latent mixing are refused (their draws are
-- per batch). Returns the micro-batch size (0: none).
function M.check_micro(cfg)
  local m = cfg.micro_batch or 0
  if m == 0 or m >= cfg.batch then return 0 end
  local g = cfg.net.bn_group or 0
  if g < 1 or m % g ~= 0 then
    error(("%s: micro_batch = %d needs batch norm over groups (net.bn_group) that divide it, "
           .. "so that the micro-batches add up to the batch; net.bn_group is %d"):format(
           M.name, m, g), 0)
  end
  if (cfg.net.dropout or 0) > 0 or (cfg.net.mix_at or 0) > 0 then
    error(("%s: micro_batch = %d cannot split dropout's masks or latent mixing; set "
           .. "micro_batch = 0"):format(M.name, m), 0)
  end
  return m
end

function M.build(cfg, env)
  local st = {cfg = cfg}
  st.train_set, st.test_set = sources.load(cfg, env.data_cache)
  if env.prepare_train then st.train_set = env.prepare_train(st.train_set) end
  st.k, st.shape = st.train_set:num_classes(), sources.shape(cfg.dataset)
  M.build_model(st, cfg, env)
  local d = cfg.data
  st.train_ld = data.loader(st.train_set, {batch = cfg.batch, train = true, seed = cfg.seed,
                                           shuffle = true, augment = d.augment, pad = d.pad,
                                           flip = d.flip, drop_last = false, mean = d.mean,
                                           std = d.std})
  st.test_ld = data.loader(st.test_set, {batch = cfg.eval_batch, train = false, mean = d.mean,
                                         std = d.std})
  return st
end

-- What every classifier builds once its data are known (st.k classes, st.shape = {c =, h =,
-- w =}; a task with other data, e.g. tasks/imagenet_classifier.lua, calls it after its own
-- loaders): the data-parallel and micro-batch checks, the net (cfg.net, initialised from the
-- seed), SGD, the schedule (with cfg.schedule.warmup_epochs / warmup_from when the schema has
-- them), the generators, mixup's options and the batch buffers.
function M.build_model(st, cfg, env)
  local k, shape = st.k, st.shape
  if cfg.net.num_classes ~= k then
    error(("%s: net.num_classes is %s but %s has %d classes"):format(M.name,
          tostring(cfg.net.num_classes), cfg.dataset, k), 0)
  end
  st.dp = env.dp
  st.micro = M.check_micro(cfg)
  if st.dp then
    st.dp:check(cfg, M.name)
    st.dp_stats = tensor.new(4)
  end
  local desc = require("nets." .. cfg.net.family)(copy_opts(cfg.net, "family"))
  local rows = math.max(st.micro > 0 and st.micro or cfg.batch, cfg.eval_batch)
  if nn.conv_algo() == "auto" then
    st.net = conv_tune.build(desc, shape, {batch = rows, threads = env.threads})
  else
    st.net = nn.build(desc, shape, {batch = rows, threads = env.threads})
  end
  st.net:init(train.rng(cfg.seed, train.stream.init))
  st.n_params = st.net:num_params()
  if st.dp or st.micro > 0 then
    st.row_views = {}
    local nb = st.net:num_buffers()
    if nb > 0 then st.bn_start, st.bn_sum = tensor.new(nb), tensor.new(nb) end
  end
  local o = cfg.optim
  st.opt = train.sgd{params = st.net:params(), grads = st.net:grads(), momentum = o.momentum,
                     weight_decay = o.weight_decay, nesterov = o.nesterov,
                     decay_mask = (not o.decay_all_params) and st.net:decay_mask() or nil}
  local s = cfg.schedule
  st.sched = train.schedule{base_lr = s.base_lr, factor = s.factor, milestones = s.milestones,
                            late = s.lr_drop_late, warmup_epochs = s.warmup_epochs,
                            warmup_from = s.warmup_from}
  st.rng = {}
  for _, name in ipairs(RNG_NAMES) do st.rng[name] = train.rng(cfg.seed, train.stream[name]) end
  st.mix_opts = {alpha = cfg.mixup.alpha, per_example = cfg.mixup.per_example, n_classes = k}
  st.mix = M.mix
  st.xm = batch_buffers(cfg.batch, {shape.c, shape.h, shape.w})
  st.t = batch_buffers(math.max(cfg.batch, cfg.eval_batch), {k})
  st.dz = batch_buffers(cfg.batch, {k})
end

function M.describe(st, cfg)
  return ("%s %s, %d params, %d train / %d test images, batch %d, %d epochs"):format(
         cfg.dataset, cfg.net.family, st.n_params, st.train_set:size(), st.test_set:size(),
         cfg.batch, cfg.epochs)
end

-- ============================================================================================
-- Progress.

local function progress_bar(p, step, steps, loss, t0)
  if not p.on then return end
  local now = sys.clock()
  if step < steps and now - p.last < PROGRESS_INTERVAL then return end
  p.last = now
  local filled = math.floor(PROGRESS_WIDTH * step / steps)
  io.stdout:write(("\r  [%s%s] %d/%d loss %.3f %ds"):format(("="):rep(filled),
                  (" "):rep(PROGRESS_WIDTH - filled), step, steps, loss,
                  math.floor(now - t0 + 0.5)))
  io.stdout:flush()
end

local function progress_clear(p)
  if not p.on then return end
  io.stdout:write("\r\27[2K")
  io.stdout:flush()
end

-- ============================================================================================
-- One epoch.

-- The batch operation: xm, t from the loader's x, y (train.mixup with st.mix_opts). A task
-- built on this one may replace st.mix (tasks/ablation_classifier.lua: partners from outside
-- the batch).
function M.mix(st, xm, t, x, y)
  train.mixup(xm, t, x, y, st.mix_opts, st.rng.mixup)
end

local function finite(x)
  return x == x and x ~= math.huge and x ~= -math.huge
end

-- The training forward pass of rows x with targets t, the loss's gradient into dz: the mean
-- loss and the correct count, or nil and why the loss is not finite (the engine's loss
-- refuses non-finite logits: its message).
local function forward_loss(st, x, t, dz)
  local z = st.net:forward(x, true, st.rng.dropout)
  local ok, loss = pcall(train.softmax_xent, z, t, dz)
  if not ok or not finite(loss) then
    return nil, ok and ("loss " .. tostring(loss)) or tostring(loss)
  end
  return loss, train.count_correct(z, t)
end

-- One step on the mixed batch in one process: the loss and the correct count, or nil and why.
local function step_serial(st, xm, t, dz)
  st.opt:zero_grad()
  local loss, correct = forward_loss(st, xm, t, dz)
  if loss then st.net:backward(dz, false) end
  return loss, correct
end

-- Rows [first, first + count) of the batch of n (xm, t, dz), views made once per (n, first).
local function rows(st, n, first, count, xm, t, dz)
  local key = n * 65536 + first
  local v = st.row_views[key]
  if v then return v end
  local shape = xm:shape()
  shape[1] = count
  v = {x = xm:view(first * (xm:size() // n), shape), t = t:view(first * st.k, {count, st.k}),
       dz = dz:view(first * st.k, {count, st.k})}
  st.row_views[key] = v
  return v
end

local function groups(rows_n, g)
  return g > 0 and (rows_n + g - 1) // g or 1
end

-- The step split into parts: this rank's rows (harness/lua/data_parallel.lua) in chunks of
-- st.micro rows (micro-batches; all of them at once when 0). Each chunk's loss is the mean over
-- its c rows, and its dz is weighted by c / n before the backward pass accumulates, so the
-- gradient summed over chunks (and ranks) is the serial one's. Batch norm: each chunk starts
-- from the running statistics of the batch's start and its result is weighted by its groups
-- over the batch's K groups, which gives the serial rule (the mean of the groups' updates,
-- harness/nn/batchnorm.c). Over ranks, loss, correct count and a "not finite" flag are summed
-- (every rank then stops at the same step), then the gradients and the statistics.
local function step_split(st, n, xm, t, dz)
  local dp, net = st.dp, st.net
  local first, count = 0, n
  if dp then first, count = dp:rows(n) end
  local micro = st.micro > 0 and st.micro or math.max(count, 1)
  local g = st.cfg.net.bn_group or 0
  local all = groups(n, g)
  local bufs = net:buffers()
  local has_bufs = bufs:size() > 0
  st.opt:zero_grad()
  if has_bufs then
    st.bn_start:copy(bufs)
    st.bn_sum:fill(0)
  end
  local loss_sum, correct, why = 0.0, 0.0, nil
  for a = first, first + count - 1, micro do
    local c = math.min(micro, first + count - a)
    local v = rows(st, n, a, c, xm, t, dz)
    if has_bufs then bufs:copy(st.bn_start) end
    local loss, right = forward_loss(st, v.x, v.t, v.dz)
    if not loss then
      why = dp and ("rank %d: %s"):format(dp.rank, right) or right
      break
    end
    loss_sum = loss_sum + loss * c
    correct = correct + right
    net:backward(v.dz:scale(c / n), false)
    if has_bufs then st.bn_sum:axpy(groups(c, g) / all, bufs) end
  end
  if has_bufs then bufs:copy(st.bn_sum) end
  if not dp then
    if why then return nil, why end
    return loss_sum / n, correct
  end
  local stats = st.dp_stats
  stats:fill(0)
  stats:set(loss_sum, 1)
  stats:set(correct, 2)
  stats:set(why and 1 or 0, 4)
  dp:sum(stats)
  if stats:get(4) > 0 then return nil, why or "the loss is not finite on another rank" end
  dp:sum(net:grads())
  if has_bufs then dp:sum(bufs) end
  return stats:get(1) / n, stats:get(2)
end

local function train_epoch(st, e, ctx)
  local ld = st.train_ld
  ld:epoch(e)
  local steps = ld:batches()
  local loss_sum, correct, seen, step = 0.0, 0.0, 0, 0
  local t0 = sys.clock()
  local p = {on = ctx.progress, last = -math.huge}
  for x, y in ld:each() do
    local n = x:shape()[1]
    local xm, t, dz = st.xm(n), st.t(n), st.dz(n)
    st.mix(st, xm, t, x, y)
    local loss, c
    if st.dp or st.micro > 0 then
      loss, c = step_split(st, n, xm, t, dz)
    else
      loss, c = step_serial(st, xm, t, dz)
    end
    if not loss then
      progress_clear(p)
      ctx.diverged(("step %d of %d: %s"):format(step + 1, steps, c))
    end
    correct = correct + c
    st.opt:step(st.sched:lr(e, step, steps))
    loss_sum = loss_sum + loss * n
    seen = seen + n
    step = step + 1
    progress_bar(p, step, steps, loss_sum / seen, t0)
  end
  progress_clear(p)
  return loss_sum / seen, 100.0 * (1.0 - correct / seen)
end

-- Loss and error (percent) of st.net in inference mode over the loader ld (default the test
-- set's), against its labels (y) or, with clean = true, against the clean labels (y_clean).
-- Over ranks, each evaluates its share of the batches and the sums are summed. The third
-- result is the top-st.top error (percent) when st.top is set (tasks/imagenet_classifier.lua),
-- else 0.
local function evaluate(st, ld, clean)
  ld = ld or st.test_ld
  local net = st.net
  local dp, top = st.dp, st.top
  ld:epoch(0)
  local loss_sum, errors, errors_top, seen, b = 0.0, 0, 0, 0, 0
  for x, y_used, y_clean in ld:each() do
    b = b + 1
    if not dp or dp:mine(b) then
      local y = clean and y_clean or y_used
      local n = x:shape()[1]
      local z = net:forward(x, false)
      local t = st.t(n)
      t:fill(0)
      for i = 1, n do t:set(1, i, math.tointeger(y:get(i)) + 1) end
      loss_sum = loss_sum + train.softmax_xent(z, t) * n
      errors = errors + train.count_errors(z, y)
      if top then errors_top = errors_top + train.count_errors(z, y, top) end
      seen = seen + n
    end
  end
  if dp then
    local sums = st.dp_stats
    sums:fill(0)
    sums:set(loss_sum, 1)
    sums:set(errors, 2)
    sums:set(seen, 3)
    sums:set(errors_top, 4)
    dp:sum(sums)
    loss_sum, errors, seen, errors_top = sums:get(1), sums:get(2), sums:get(3), sums:get(4)
  end
  return loss_sum / seen, 100.0 * errors / seen, 100.0 * errors_top / seen
end
M.evaluate = evaluate

function M.step(st, e, ctx)
  local cfg = st.cfg
  local t0 = sys.clock()
  if st.dp then st.dp.comm_seconds = 0.0 end
  local lr = st.sched:lr(e, 0, st.train_ld:batches())
  local train_loss, train_error = train_epoch(st, e, ctx)
  local test_loss, test_error, test_top = evaluate(st)
  st.last_top = test_top
  local secs = sys.clock() - t0
  local row = {epoch = e + 1.0, lr = lr, train_loss = train_loss, train_error = train_error,
               test_loss = test_loss, test_error = test_error, seconds = secs}
  local comm = ""
  if st.dp then
    comm = (" (all-reduce %.2fs)"):format(st.dp.comm_seconds)
  end
  return row, ("epoch %d/%d loss %.3f err %.1f%% test %.1f%% lr %g %.1fs%s"):format(e + 1,
         cfg.epochs, train_loss, train_error, test_error, lr, secs, comm)
end

-- ============================================================================================
-- Checkpoint state and results.

function M.state(st)
  local ds = {params = st.net:params(), buffers = st.net:buffers()}
  for _, name in ipairs(RNG_NAMES) do
    ds["rng_" .. name] = {kind = "bytes", value = st.rng[name]:state()}
  end
  -- the optimiser's group: attrs kind and step, float32 datasets (portable; lua_train.c)
  return {datasets = ds, groups = {optim = st.opt:state()}}
end

function M.restore(st, tree)
  local ds = tree.datasets
  st.net:params():copy(ds.params)
  st.net:buffers():copy(ds.buffers)
  st.opt:load_state(tree.groups.optim)
  for _, name in ipairs(RNG_NAMES) do st.rng[name]:set_state(ds["rng_" .. name]) end
end

function M.result(st, r)
  return results.run_tree{
    experiment = r.experiment, run_id = r.run_id, config = r.config, provenance = r.provenance,
    curves = r.curves, summary = results.summarize(r.curves, st.n_params),
    weights = {params = st.net:params(), buffers = st.net:buffers()},
  }
end

function M.read_result(path)
  return results.read_run(path, {weights = false})
end

function M.summary_line(s)
  local k = results.final_window(s.epochs) -- the window the statistic took (results.lua)
  return ("median test error of the last %d epoch%s %.2f%%, last training error %.1f%%"):format(
         k, k == 1 and "" or "s", s.test_error_median_last10, s.train_error_last)
end

return M
