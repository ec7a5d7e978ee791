-- test_train.lua: engine.train bindings (rng, optimisers vs optim.h5, schedule, mixup, losses,
-- error messages).
local tensor = require "engine.tensor"
local train = require "engine.train"
local check = require "tests.lua.check"

local suite = check.suite(...)

suite:test("rng", function()
  local a, b = train.rng(7, train.stream.mixup), train.rng(7, train.stream.mixup)
  for _ = 1, 10 do check.eq(a:uniform(), b:uniform(), "same seed and stream") end
  local c = train.rng(7, train.stream.order)
  check.truthy(a:uniform() ~= c:uniform(), "different streams differ")
  local s = a:state()
  check.eq(#s, 32, "state bytes")
  local x1, x2 = a:beta(0.2, 0.2), a:normal()
  b:set_state(s)
  check.eq(b:beta(0.2, 0.2), x1, "restored beta")
  check.eq(b:normal(), x2, "restored normal")
  local d = b:copy()
  check.eq(d:below(10), b:below(10), "copy continues identically")
  for _ = 1, 100 do local v = a:below(3); check.truthy(v >= 0 and v < 3, "below range") end
  check.truthy(a:gamma(2) > 0, "gamma")
  check.raises(function() a:set_state("short") end, "state is 5 bytes, expected 32", "set_state")
  check.raises(function() a:beta(0, 1) end, "a must be finite and > 0", "beta arg")
  check.raises(function() a:below(0) end, "n must be >= 1", "below arg")
  check.raises(function() train.rng(-1, 1) end, "seed must be >= 0", "seed")
  check.eq(train.stream.init, 1, "stream ids")
  check.eq(train.stream.gan, 8, "stream ids")
end)

local fx = check.fixture("optim")

local function replay(opt, w, g, lrs, want, name)
  local n = w:size()
  for t = 1, lrs:size() do
    g:copy(fx.grads:view((t - 1) * n, {n}))
    opt:step(lrs:get(t))
    check.close(w, want:view((t - 1) * n, {n}), 2 ^ -23, name .. " step " .. t)
  end
end

suite:test("sgd_vs_torch", function()
  local cases = {
    {"sgd_momentum", {momentum = 0.9, weight_decay = 1e-4}},
    {"sgd_nesterov", {momentum = 0.9, weight_decay = 1e-4, nesterov = true}},
    {"sgd_masked", {momentum = 0.9, weight_decay = 5e-4}, true},
    {"sgd_plain", {momentum = 0, weight_decay = 1e-4}},
  }
  for _, c in ipairs(cases) do
    local w, g = fx.w0:clone(), tensor.new(fx.w0:size())
    local o = c[2]
    o.params, o.grads = w, g
    if c[3] then o.decay_mask = fx.mask end
    local opt = train.sgd(o)
    replay(opt, w, g, fx.lr, fx[c[1] .. ".w"], c[1])
    check.eq(opt:steps(), 6, "steps")
  end
end)

suite:test("adam_vs_torch", function()
  local w, g = fx.w0:clone(), tensor.new(fx.w0:size())
  replay(train.adam{params = w, grads = g}, w, g, fx.adam_lr, fx["adam_default.w"], "adam_default")
  w, g = fx.w0:clone(), tensor.new(fx.w0:size())
  replay(train.adam{params = w, grads = g, decay_mask = fx.mask, weight_decay = 1e-2}, w, g,
         fx.adam_lr, fx["adam_wd_masked.w"], "adam_wd_masked")
end)

suite:test("optim_state_roundtrip", function()
  for _, make in ipairs{
    function(w, g) return train.sgd{params = w, grads = g, momentum = 0.9, weight_decay = 1e-4} end,
    function(w, g) return train.adam{params = w, grads = g} end,
  } do
    local n = fx.w0:size()
    local w1, g1 = fx.w0:clone(), tensor.new(n)
    local o1 = make(w1, g1)
    g1:copy(fx.grads:view(0, {n})); o1:step(0.1)
    local saved, wsaved = o1:state(), w1:clone()
    g1:copy(fx.grads:view(n, {n})); o1:step(0.1)
    local w2, g2 = wsaved, tensor.new(n)
    local o2 = make(w2, g2)
    o2:load_state(saved)
    check.eq(o2:steps(), 1, "restored step count")
    g2:copy(fx.grads:view(n, {n})); o2:step(0.1)
    check.same_bits(w2, w1, "resumed optimiser")
    o2:zero_grad()
    check.eq(check.max_abs(g2), 0, "zero_grad")
    check.raises(function() o2:load_state({attrs = {kind = "none", step = 0}}) end,
                 "state is of kind none", "bad state")
  end
end)

suite:test("optim_errors", function()
  local w, g = tensor.new(5), tensor.new(5)
  check.raises(function() train.sgd{params = w, grads = g, momentum = 0.9} end,
               "train.sgd: missing required option 'weight_decay'", "required")
  check.raises(function() train.sgd{params = w, grads = g, momentum = 0, weight_decay = 0,
                                    nesterov = true} end,
               "train.sgd: nesterov needs momentum > 0", "nesterov")
  check.raises(function() train.sgd{params = w, grads = g, momentum = 0.9, weight_decay = 0,
                                    nesterov = 1} end,
               "train.sgd: option 'nesterov' is 1, expected a boolean", "boolean")
  check.raises(function() train.sgd{params = w, grads = tensor.new(4), momentum = 0.9,
                                    weight_decay = 0} end,
               "train.sgd: grads has 4 floats, params 5", "size")
  check.raises(function() train.adam{params = w, grads = g, lr = 1} end,
               "train.adam: unknown option 'lr'", "unknown")
  check.raises(function() train.adam{params = w, grads = g, beta1 = 1} end,
               "train.adam: beta1 is 1", "beta1")
  check.raises(function() train.adam{params = 3, grads = g} end,
               "train.adam: option 'params' is 3, expected an engine.Tensor", "tensor")
  check.raises(function() train.adam{params = w, grads = g, eps = "small"} end,
               "train.adam: option 'eps' is \"small\", expected a number", "number")
  local opt = train.sgd{params = w, grads = g, momentum = 0.9, weight_decay = 0}
  check.raises(function() opt:step(-1) end, "lr must be finite and >= 0", "lr")
end)

suite:test("schedule", function()
  local s = train.schedule{base_lr = 0.1, factor = 0.1, milestones = {100, 150}}
  check.near(s:lr(99, 390, 391), 0.1, 1e-12, "99")
  check.near(s(100, 0, 391), 0.01, 1e-12, "100")
  check.near(s:lr(150, 0, 391), 0.001, 1e-12, "150")
  local late = train.schedule{base_lr = 0.1, factor = 0.1, milestones = {100, 150}, late = true}
  check.near(late:lr(100, 0, 391), 0.1, 1e-12, "late 100")
  check.near(late:lr(101, 0, 391), 0.01, 1e-12, "late 101")
  local wu = train.schedule{base_lr = 0.4, factor = 0.1, milestones = {30, 60, 80},
                            warmup_epochs = 5, warmup_from = 0.1}
  check.near(wu:lr(0, 0, 100), 0.1, 1e-12, "warm-up start")
  check.near(wu:lr(2, 50, 100), 0.25, 1e-12, "warm-up middle")
  check.near(wu:lr(5, 0, 100), 0.4, 1e-12, "warm-up end")
  check.raises(function() train.schedule{base_lr = 0.1, factor = 0.1, milestones = {150, 100}} end,
               "train.schedule: milestone 2 is epoch 100, expected > 150", "order")
  check.raises(function()
                 train.schedule{base_lr = 0.1, factor = 0.1, milestones = {1}, late = 1}
               end,
               "train.schedule: option 'late' is 1, expected a boolean", "late")
  check.raises(function() train.schedule{base_lr = 0.1, factor = 0.1, milestones = {1, 2.5}} end,
               "train.schedule: option 'milestones[2]' is 2.5, expected an integer epoch",
               "milestone type")
  check.raises(function() train.schedule{base_lr = 0.1, factor = 0.1, milestones = {1},
                                         warmup_from = 0.01} end,
               "train.schedule: option 'warmup_from' is 0.01, expected none with "
               .. "warmup_epochs = 0", "warmup_from alone")
  check.raises(function() train.schedule{base_lr = 0.1, factor = 0.1, milestones = {},
                                         warmup_epochs = 5} end,
               "train.schedule: missing required option 'warmup_from' (with warmup_epochs > 0)",
               "warmup_from")
  check.raises(function() s:lr(0, 5, 5) end, "step must be in 0..steps_per_epoch-1", "step")
end)

suite:test("mixup", function()
  local x = tensor.from_table({1, 2, 3, 5}, {2, 2})
  local xm, t = tensor.new(2, 2), tensor.new(2, 3)
  local lam = train.mixup(xm, t, x, {0, 2}, {alpha = 0, n_classes = 3}, train.rng(1, 4))
  check.eq(lam, 1, "ERM lambda")
  check.same_bits(xm, x, "ERM x")
  check.eq(t:get(1, 1) + t:get(2, 3), 2, "one-hot")
  local r = train.rng(3, train.stream.mixup)
  local r2 = r:copy()
  lam = train.mixup(xm, t, x, tensor.from_table({0, 2}, {2}), {alpha = 1, n_classes = 3}, r)
  check.eq(lam, r2:beta(1, 1), "lambda redrawn")
  for i = 1, 2 do check.near(t:get(i, 1) + t:get(i, 2) + t:get(i, 3), 1, 1e-6, "row sum") end
  local pe = train.mixup(xm, t, x, {0, 2}, {alpha = 1, n_classes = 3, per_example = true}, r)
  check.truthy(pe > 0 and pe < 1, "per-example mean lambda")
  check.raises(function() train.mixup(xm, t, x, {0, 3}, {alpha = 1, n_classes = 3}, r) end,
               "mixup_batch: example 1 has label 3, expected 0..2", "label range")
  check.raises(function() train.mixup(xm, t, x, {0, 1.5}, {alpha = 1, n_classes = 3}, r) end,
               "train.mixup: labels[2] is 1.5, expected an integer", "label integer")
  check.raises(function() train.mixup(xm, t, x, {0}, {alpha = 1, n_classes = 3}, r) end,
               "train.mixup: 1 labels, expected 2", "label count")
  check.raises(function()
                 train.mixup(xm, t, x, {0, 1}, {alpha = 1, n_classes = 3, beta = 2}, r)
               end,
               "train.mixup: unknown option 'beta'", "unknown option")
  check.raises(function() train.mixup(xm, t, x, {0, 1}, {alpha = 1, n_classes = 3}, nil) end,
               "engine.Rng expected", "rng type")
end)

suite:test("losses", function()
  local z = tensor.from_table({2, 0, 0, 0, 3, 0}, {2, 3})
  local t = tensor.from_table({1, 0, 0, 0, 0, 1}, {2, 3})
  local dz = tensor.new(2, 3)
  local loss = train.softmax_xent(z, t, dz)
  local want = 0.5 * ((math.log(math.exp(2) + 2) - 2) + (math.log(math.exp(3) + 2) - 0))
  check.near(loss, want, 1e-6, "softmax_xent")
  check.near(train.softmax_xent(z, t), want, 1e-6, "without dz")
  check.eq(train.count_errors(z, {0, 2}), 1, "count_errors")
  check.eq(train.count_errors(z, tensor.from_table({0, 1}, {2})), 0, "count_errors tensor")
  local b = train.bce_logits(tensor.from_table({0}, {1}), tensor.from_table({1}, {1}))
  check.near(b, math.log(2), 1e-6, "bce")
end)

-- The reference of train.count_correct: sum over rows of t[n, argmax_j z[n, j]], the first
-- maximum winning a tie (a strict `>` scan), summed in double in row order.
local function count_correct_ref(z, t)
  local n = z:shape()[1]
  local k = z:size() // n
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

suite:test("count_correct", function()
  -- argmax of the rows: 2, 1, 3
  local z = tensor.from_table({0, 5, 1, 9, 2, 2, 0, 0, 4}, {3, 3})
  local t = tensor.from_table({0, 0.7, 0.3, 0.4, 0, 0.6, 0, 0, 1}, {3, 3})
  check.eq(train.count_correct(z, t), count_correct_ref(z, t), "weighted hits")
  check.near(train.count_correct(z, t), 0.7 + 0.4 + 1, 1e-7, "weighted hits by hand")
  check.eq(train.count_correct(tensor.from_table({3, 3}, {1, 2}), tensor.from_table({0, 1},
           {1, 2})), 0.0, "the first maximum wins a tie")
  check.eq(train.count_correct(tensor.from_table({0 / 0, 3}, {1, 2}), tensor.from_table({1, 0},
           {1, 2})), 1.0, "a NaN in column 0 keeps column 0, as the Lua scan")
  -- random logits from a few integer levels (many ties) and soft targets (mixup-like rows)
  local seed = 11
  local r = train.rng(seed, train.stream.mixup)
  for _, shape in ipairs{{1, 2}, {7, 10}, {64, 10}, {33, 100}, {5, 3, 1, 1}} do
    local n, k = shape[1], shape[2]
    local zv, tv = {}, {}
    for i = 1, n * k do zv[i] = r:below(4) - 1.5 end
    for i = 1, n do
      local lam, a, b = r:uniform(), r:below(k), r:below(k)
      for j = 1, k do tv[(i - 1) * k + j] = 0 end
      tv[(i - 1) * k + a + 1] = lam
      tv[(i - 1) * k + b + 1] = tv[(i - 1) * k + b + 1] + (1 - lam)
    end
    local zt, tt = tensor.from_table(zv, shape), tensor.from_table(tv, {n, k})
    check.eq(train.count_correct(zt, tt), count_correct_ref(zt, tt),
             ("seed %d, %d x %d: C and Lua agree bit for bit"):format(seed, n, k))
  end
  check.raises(function() train.count_correct(tensor.new(4, 3), tensor.new(4, 2)) end,
               "train.count_correct: targets have 8 values, logits 12", "shapes")
  check.raises(function() train.count_correct(tensor.new(4), tensor.new(4)) end,
               "train.count_correct: logits have 1 dimensions, expected (N, K)", "1-D")
end)

suite:finish()
