-- test_attack.lua: net:attack (harness/bind/lua_nn.c over harness/metrics/attack.c; the C side
-- is tested in tests/engine/test_attack.c): FGSM through the binding equals FGSM rebuilt in Lua
-- from net:forward, train.softmax_xent and net:backward (x' = clip(x + eps_c sign(dx)) with
-- eps_c = eps / (255 std_c), clipped to the pixel range), the defaults (iters 1, step
-- eps / iters), I-FGSM staying in the eps-ball, and option errors named. Run as
-- `./mixup tests/lua/test_attack.lua [filter]`.
local check = require "tests.lua.check"
local nn = require "engine.nn"
local tensor = require "engine.tensor"
local train = require "engine.train"

local suite = check.suite(...)

local N, C, S, K = 4, 3, 32, 10
local MEAN, STD = {0.4914, 0.4822, 0.4465}, {0.2023, 0.1994, 0.2010}

local function setup()
  local net = nn.build(require("nets.preact_resnet"){depth = 18, width = 2, num_classes = K,
                       variant = "official", init = "torch_default", dropout = 0.0},
                       {c = C, h = S, w = S}, {batch = N})
  net:init(train.rng(5, train.stream.init))
  local flat, i = {}, 0
  for n = 1, N do
    for c = 1, C do
      for _ = 1, S * S do
        i = i + 1
        flat[i] = (((i * 7919) % 256) / 255 - MEAN[c]) / STD[c]
      end
    end
  end
  return net, tensor.from_table(flat, {N, C, S, S}), {3, 1, 4, 1}
end

suite:test("fgsm_equals_lua_rebuild", function()
  local net, x, y = setup()
  local eps = 6
  local xa = tensor.new{N, C, S, S}
  net:attack(xa, x, y, {eps = eps, mean = MEAN, std = STD})
  -- the same step through the Lua bindings
  local z = net:forward(x, false)
  local t, dz = tensor.new{N, K}, tensor.new{N, K}
  for n = 1, N do t:set(1, n, y[n] + 1) end
  train.softmax_xent(z, t, dz)
  net:zero_grad()
  local dx = net:backward(dz)
  local moved = 0
  for n = 1, N do
    for c = 1, C do
      local e = tensor.new{1}
      e:set(eps / (255 * STD[c]), 1) -- eps_c rounded to float as the engine does
      local ec = e:get(1)
      local lo, hi = -MEAN[c] / STD[c], (1 - MEAN[c]) / STD[c]
      for h = 1, S do
        for w = 1, S do
          local g = dx:get(n, c, h, w)
          local s = g > 0 and 1 or (g < 0 and -1 or 0)
          local want = math.min(math.max(x:get(n, c, h, w) + s * ec, lo), hi)
          local got = xa:get(n, c, h, w)
          check.near(got, want, 1e-6 * math.max(1, math.abs(want)),
                     ("x'[%d,%d,%d,%d]"):format(n, c, h, w))
          if got ~= x:get(n, c, h, w) then moved = moved + 1 end
        end
      end
    end
  end
  check.truthy(moved > N * C * S * S / 2, "most pixels moved")
end)

suite:test("ifgsm_ball_and_errors", function()
  local net, x, y = setup()
  local xa = tensor.new{N, C, S, S}
  local clean = net:attack(xa, x, y, {eps = 4, mean = MEAN, std = STD})
  local loss = net:attack(xa, x, y, {eps = 4, iters = 10, mean = MEAN, std = STD})
  check.truthy(loss > clean, ("the last step's loss %g above the clean loss %g"):format(loss,
               clean))
  for n = 1, N do
    for c = 1, C do
      local ec = 4 / (255 * STD[c]) * (1 + 1e-6)
      for h = 1, S do
        local d = math.abs(xa:get(n, c, h, 1) - x:get(n, c, h, 1))
        check.truthy(d <= ec, ("moved %g > eps_c %g"):format(d, ec))
      end
    end
  end
  check.raises(function() net:attack(xa, x, y, {eps = 4, mean = {0.5, 0.5}, std = STD}) end,
               "net:attack: option 'mean' is a table, expected a list of 3 finite numbers",
               "channel count")
  check.raises(function() net:attack(xa, x, y, {eps = 4, iter = 2, mean = MEAN, std = STD}) end,
               "unknown option 'iter'", "typo")
  check.raises(function() net:attack(xa, x, {1, 2, 3, 10}, {eps = 4, mean = MEAN, std = STD}) end,
               "attack: example 3 has label 10, expected 0..9", "label")
  check.raises(function() net:attack(xa, x, y, {eps = -1, mean = MEAN, std = STD}) end,
               "attack: eps is -1", "eps")
end)

-- Table 5's counts (harness/lua/tasks/adversarial.lua): top-1 needs the label's logit to be
-- the first maximum, top-5 fewer than 5 logits strictly above it.
suite:test("count_top", function()
  local adv = require "harness.lua.tasks.adversarial"
  local z = tensor.from_table({
    9, 1, 2, 3, 4, 5, 6, 7,   -- label 0: the maximum -> right, right
    1, 9, 9, 3, 4, 5, 6, 7,   -- label 2: tied with an earlier maximum -> top-1 wrong, top-5 right
    8, 7, 6, 5, 4, 3, 2, 1,   -- label 5 (logit 3): 5 above -> both wrong
    8, 7, 6, 5, 4, 3, 2, 1,   -- label 4 (logit 4): 4 above -> top-1 wrong, top-5 right
  }, {4, 8, 1, 1})
  local y = tensor.from_table({0, 2, 5, 4}, {4})
  local e1, e5 = adv.count_top(z, y, 4)
  check.eq(e1, 3, "top-1 errors")
  check.eq(e5, 1, "top-5 errors")
  -- a generated batch against a reference count written here: top-1 wrong unless the label's
  -- logit is the first maximum, top-5 wrong when 5 or more logits are strictly above it
  local flat = {}
  for i = 1, 6 * 10 do flat[i] = ((i * 37) % 17) / 3 end
  local z2 = tensor.from_table(flat, {6, 10})
  local labels = {3, 0, 9, 4, 4, 7}
  local r1, r5 = 0, 0
  for i = 1, 6 do
    local zl, above, first = flat[(i - 1) * 10 + labels[i] + 1], 0, true
    for c = 1, 10 do
      local v = flat[(i - 1) * 10 + c]
      if v > zl then above = above + 1 end
      if c <= labels[i] and v >= zl then first = false end
    end
    if above > 0 or not first then r1 = r1 + 1 end
    if above >= 5 then r5 = r5 + 1 end
  end
  local g1, g5 = adv.count_top(z2, tensor.from_table(labels, {6}), 6)
  check.eq(g1, r1, "top-1, the generated batch")
  check.eq(g5, r5, "top-5, the generated batch")
  check.truthy(r1 > 0 and r5 > 0 and r5 < 6, "the batch exercises both counts")
  -- all logits equal: top-1 counts the tie (the first maximum wins), top-k does not
  local ties = tensor.from_table({1, 1, 1, 1}, {1, 4})
  check.eq(train.count_errors(ties, {2}), 1, "tie: top-1 error")
  check.eq(train.count_errors(ties, {2}, 1), 0, "tie: no logit above the label")
  check.raises(function() train.count_errors(ties, {2}, 0) end, "k is 0, expected >= 1", "k")
end)

-- net:interpolate (Figure 2; harness/metrics/interp.c, tested in C against a closed form):
-- through the binding, the miss flags equal a Lua recount from net:forward at the mixed
-- inputs, and the gradient norms equal N times the row norms of net:backward's dx.
suite:test("interpolate_equals_lua_rebuild", function()
  local net, x, y = setup()
  local flat = {}
  for i = 1, N * C * S * S do flat[i] = ((i * 613) % 97) / 40 - 1.2 end
  local x2 = tensor.from_table(flat, {N, C, S, S})
  local y2 = {2, 2, 0, 9}
  local xm = tensor.new{N, C, S, S}
  local lam = 0.3
  local miss, gnorm = net:interpolate(xm, x, x2, y, y2, lam, {target = "mixed"})
  check.eq(#miss, N, "one flag per pair")
  local z = net:forward(xm, false)
  local t, dz = tensor.new{N, K}, tensor.new{N, K}
  for n = 1, N do
    local best = 1
    for c = 2, K do if z:get(n, c, 1, 1) > z:get(n, best, 1, 1) then best = c end end
    check.eq(miss[n], best - 1 ~= y[n] and best - 1 ~= y2[n], "miss " .. n)
    if y[n] == y2[n] then
      t:set(1, n, y[n] + 1)
    else
      t:set(lam, n, y[n] + 1)
      t:set(1 - lam, n, y2[n] + 1)
    end
  end
  train.softmax_xent(z, t, dz)
  net:zero_grad()
  local dx = net:backward(dz)
  for n = 1, N do
    local s2 = 0
    for c = 1, C do
      for h = 1, S do
        for w = 1, S do s2 = s2 + dx:get(n, c, h, w) ^ 2 end
      end
    end
    check.near(gnorm[n], N * math.sqrt(s2), 1e-5 * gnorm[n], "gradient norm " .. n)
  end
  check.raises(function() net:interpolate(xm, x, x2, y, y2, 0.5, {target = "soft"}) end,
               "target", "unknown target")
end)

suite:finish()
