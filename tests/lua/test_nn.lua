-- test_nn.lua: engine.nn's builder and Net methods on small networks: paths and parameter
-- layout, container wiring (checked against hand-computed values and against central finite
-- differences of a whole net), gradient accumulation, activation memory and view lifetimes,
-- threads.
local tensor = require "engine.tensor"
local nn = require "engine.nn"
local train = require "engine.train"
local c = require "nets.containers"
local check = require "tests.lua.check"

local suite = check.suite(...)

-- Finite differences of a float32 net in double: eps balances truncation (eps^2) against
-- float32 rounding of the loss (~1e-7 * |terms| / eps); 1e-2 keeps both near 1e-4.
local FD_EPS = 1e-2
local FD_RTOL = 5e-3 -- observed up to 5e-4 (float32 loss differences at eps 1e-2)
local FD_CHECKS = 12 -- sampled coordinates per tensor

local function fill_sin(t, phase)
  local v = t:view(0, {t:size()})
  for i = 1, v:size() do v:set(math.sin(i * 0.7 + phase), i) end
  return t
end

local function list(t)
  local out = {}
  for i, v in ipairs(t:to_table()) do out[i] = ("%.9g"):format(v) end
  return table.concat(out, ",")
end

local function paths(net)
  local out = {}
  for _, p in ipairs(net:param_info()) do out[#out + 1] = p.path .. "=" .. p.count end
  return table.concat(out, " ")
end

suite:test("paths_and_layout", function()
  local desc = c.sequential("net", {
    c.conv{name = "conv", in_c = 3, out_c = 4, k = 3, pad = 1, bias = true},
    c.residual("", c.sequential("", {c.bn{name = "bn", channels = 4}, c.relu{}}),
               c.sequential("shortcut", {c.conv{in_c = 4, out_c = 4, k = 1, bias = false}})),
    c.sequential(nil, {c.bn{channels = 4, affine = false}}),
    c.global_avgpool{}, c.flatten{},
    c.linear{name = "fc", in_f = 4, out_f = 5},
  })
  local net = nn.build(desc, {c = 3, h = 5, w = 5}, {batch = 2})
  check.eq(paths(net), "net.conv=112 net.bn=8 net.shortcut.1=16 net.3.1=0 net.fc=25", "paths")
  check.eq(net:num_params(), 112 + 8 + 16 + 25, "num_params")
  check.eq(net:num_buffers(), 16, "BN running mean and var")
  local o = net:out_shape()
  check.eq(o.c .. "x" .. o.h .. "x" .. o.w, "5x1x1", "out_shape")
  -- decay mask: conv weight 108, conv bias 4, bn 8, shortcut 16, fc weight 20, fc bias 5
  local m = net:decay_mask()
  check.eq(m:size(), net:num_params(), "mask size")
  check.eq(m:get(108), 1, "conv weight decays")
  check.eq(m:get(109), 0, "conv bias exempt")
  check.eq(m:get(113), 0, "bn exempt")
  check.eq(m:get(121), 1, "shortcut weight decays")
  check.eq(m:sum(), 108 + 16 + 20, "decayed count")
end)

suite:test("linear_by_hand", function()
  -- y = W x + b with W (2, 3), b (2); dx = W^T dy; dW += dy x^T; db += dy
  local net = nn.build(c.linear{in_f = 3, out_f = 2}, {c = 3, h = 1, w = 1}, {batch = 1})
  net:params():copy(tensor.from_table({1, 2, 3, -1, 0, 2, 0.5, -0.5}, {8}))
  local x = tensor.from_table({1, 1, 2}, {1, 3})
  local y = net:forward(x, true)
  check.eq(list(y), "9.5,2.5", "forward")
  local dy = tensor.from_table({1, 2}, {1, 2})
  local dx = net:backward(dy)
  check.eq(list(dx), "-1,2,7", "dx")
  check.eq(list(net:grads()), "1,1,2,2,2,4,1,2", "grads")
  net:forward(x, true)
  net:backward(dy)
  check.eq(list(net:grads()), "2,2,4,4,4,8,2,4", "accumulates")
  net:zero_grad()
  check.eq(net:grads():sum(), 0, "zero_grad")
end)

suite:test("residual_and_concat_wiring", function()
  -- residual(identity main, nil) doubles; concat of two identities repeats the channels
  local x = fill_sin(tensor.new{2, 3, 2, 2}, 0)
  local net = nn.build(c.residual("r", c.identity{}, nil), {c = 3, h = 2, w = 2}, {batch = 2})
  local y = net:forward(x, false)
  check.near(y:sum(), 2 * x:sum(), 1e-6, "x + x")
  local dx = net:backward(fill_sin(tensor.new{2, 3, 2, 2}, 1))
  check.near(dx:sum(), 2 * fill_sin(tensor.new{2, 3, 2, 2}, 1):sum(), 1e-6, "dy + dy")
  local cat = nn.build(c.concat("cat", {c.identity{}, c.tanh{}}), {c = 3, h = 2, w = 2},
                       {batch = 2})
  local z = cat:forward(x, false)
  check.eq(table.concat(z:shape(), ","), "2,6,2,2", "concat shape")
  check.eq(z:get(2, 3, 2, 1), x:get(2, 3, 2, 1), "branch 1 channels first")
  check.near(z:get(2, 6, 2, 1), math.tanh(x:get(2, 3, 2, 1)), 1e-6, "branch 2 after")
end)

-- Loss <y, r> in double.
local function dot(a, b)
  local s, ta, tb = 0.0, a:to_table(), b:to_table()
  for i = 1, #ta do s = s + ta[i] * tb[i] end
  return s
end

-- Central differences of L = <net(x), r> w.r.t. sampled entries of x and of the parameters,
-- against net:backward(r).
local function fd_check(net, x, train_mode)
  local y = net:forward(x, train_mode)
  local r = fill_sin(tensor.new(y:shape()), 0.3)
  net:zero_grad()
  local dx = net:backward(r):clone()
  local grads = net:grads():clone()
  local function numeric(t, i)
    local v = t:get(i)
    t:set(v + FD_EPS, i)
    local lp = dot(net:forward(x, train_mode), r)
    t:set(v - FD_EPS, i)
    local lm = dot(net:forward(x, train_mode), r)
    t:set(v, i)
    return (lp - lm) / (2 * FD_EPS)
  end
  local xf, p = x:view(0, {x:size()}), net:params()
  for _, case in ipairs{{"dx", xf, dx}, {"dw", p, grads}} do
    local name, t, g = case[1], case[2], case[3]
    local n = t:size()
    local num, ana = tensor.new{FD_CHECKS}, tensor.new{FD_CHECKS}
    for k = 1, FD_CHECKS do
      local i = (k * 7919) % n + 1
      num:set(numeric(t, i), k)
      ana:set(g:view(0, {n}):get(i), k)
    end
    check.close(ana, num, FD_RTOL, name)
  end
end

suite:test("finite_differences_whole_net", function()
  -- smooth layers only (tanh, BN, avg pool) so that no kink falls between x +- eps
  local desc = c.sequential("fd", {
    c.conv{name = "c1", in_c = 3, out_c = 4, k = 3, stride = 2, pad = 1},
    c.bn{name = "bn", channels = 4},
    c.tanh{},
    c.residual("res", c.sequential("", {c.conv{in_c = 4, out_c = 4, k = 3, pad = 1,
                                               groups = 2}, c.tanh{}}), nil),
    c.concat("cat", {c.identity{}, c.conv{in_c = 4, out_c = 2, k = 1}}),
    c.avgpool{k = 2},
    c.linear{name = "fc", in_f = 6 * 2 * 2, out_f = 3},
  })
  for _, batch in ipairs{1, 3} do
    local net = nn.build(desc, {c = 3, h = 9, w = 9}, {batch = batch})
    net:init(train.rng(7, train.stream.init))
    local x = fill_sin(tensor.new{batch, 3, 9, 9}, batch)
    fd_check(net, x, batch > 1) -- batch 1: eval-mode BN
  end
end)

-- The shared gradient buffers (harness/nn/net.c, colour_tree): "a"'s dx lies in its own
-- buffers and escapes to the root, where it is the dy of residual "r", whose identity shortcut
-- reads it after the main branch ran; so the main branch must not take "a"'s colour (it did in
-- a first version, and these gradients were wrong). Colours: root 0, "a" 1, the main branch 2,
-- each a pair of 2 x 5 x 5 floats per example.
suite:test("shared_gradient_buffers", function()
  local function conv() return c.conv{in_c = 2, out_c = 2, k = 3, pad = 1} end
  local desc = c.sequential("root", {
    c.residual("r", c.sequential("", {conv(), c.tanh{}, conv(), c.tanh{}}), nil),
    c.sequential("a", {c.tanh{}, conv()}),
  })
  local batch = 3
  local net = nn.build(desc, {c = 2, h = 5, w = 5}, {batch = batch})
  net:init(train.rng(3, train.stream.init))
  local mem = net:memory()
  check.eq(mem[#mem].kind, "gradient buffers", "the last entry")
  check.eq(mem[#mem].floats, 3 * 2 * 50 * batch, "3 pairs of 50 floats per example")
  fd_check(net, fill_sin(tensor.new{batch, 2, 5, 5}, 0.3), true)
end)

suite:test("reserve_invalidates_activations", function()
  local net = nn.build(c.sequential("s", {c.linear{in_f = 4, out_f = 2}, c.flatten{},
                                          c.tanh{}}),
                       {c = 4, h = 1, w = 1}, {batch = 2})
  net:init(train.rng(1, train.stream.init))
  check.eq(net:capacity(), 2, "capacity")
  local x = fill_sin(tensor.new{3, 4}, 0)
  check.raises(function() net:forward(x, true) end,
               "net_forward: batch 3 exceeds the reserved capacity 2", "over capacity")
  local y = net:forward(x:view(0, {2, 4}), true)
  net:reserve(2)
  check.eq(y:size(), 4, "no-op reserve keeps views")
  net:reserve(3)
  check.eq(net:capacity(), 3, "grown")
  check.raises(function() y:sum() end, "tensor is closed", "old output view closed")
  check.raises(function() net:backward(tensor.new{2, 2}) end,
               "net_backward: no successful forward pass", "backward needs a new forward")
  local y3 = net:forward(x, true)
  check.eq(y3:shape()[1], 3, "batch 3 fits")
end)

suite:test("net_keeps_inputs_alive", function()
  -- an identity net's output is a view of x and its dx a view of dy
  local net = nn.build(c.identity{}, {c = 2, h = 1, w = 1}, {batch = 1})
  local y = net:forward(tensor.from_table({3, 4}, {1, 2}), false)
  local dx = net:backward(tensor.from_table({5, 6}, {1, 2}))
  collectgarbage()
  collectgarbage()
  check.eq(y:sum(), 7, "x alive through the net")
  check.eq(dx:sum(), 11, "dy alive through the net")
  local p = nn.build(c.linear{in_f = 2, out_f = 2}, {c = 2, h = 1, w = 1}, {batch = 1}):params()
  collectgarbage()
  collectgarbage()
  check.eq(p:size(), 6, "params view keeps the net alive")
end)

suite:test("closed_input_before_backward", function()
  local net = nn.build(c.linear{in_f = 2, out_f = 1}, {c = 2, h = 1, w = 1}, {batch = 1})
  do
    local x <close> = tensor.from_table({1, 2}, {1, 2})
    net:forward(x, true)
  end
  check.raises(function() net:backward(tensor.new{1, 1}) end,
               "the input of the last forward was closed", "closed x")
end)

suite:test("dropout_needs_rng", function()
  local net = nn.build(c.dropout{p = 0.5}, {c = 8, h = 1, w = 1}, {batch = 1})
  local x = tensor.new{1, 8}:fill(1)
  local y = net:forward(x, true, train.rng(3, train.stream.dropout))
  local kept = 0
  for _, v in ipairs(y:to_table()) do
    check.truthy(v == 0 or v == 2, "inverted dropout scales survivors by 1 / (1 - p)")
    if v > 0 then kept = kept + 1 end
  end
  check.truthy(kept > 0 and kept < 8, "some dropped, some kept")
  check.eq(net:forward(x, false):sum(), 8, "eval is the identity")
  check.raises(function() net:forward(x, true) end, "dropout", "train without rng")
end)

suite:test("threads", function()
  local before = nn.get_threads()
  nn.set_threads(1)
  check.eq(nn.get_threads(), 1, "set_threads")
  local net = nn.build(c.relu{}, {c = 1, h = 1, w = 1}, {batch = 1})
  check.eq(net:get_threads(), 1, "nets default to the process count")
  net:set_threads(3)
  check.eq(net:get_threads(), 3, "per net")
  check.raises(function() net:set_threads(0) end, "thread count must be >= 1", "zero")
  nn.set_threads(before)
end)

-- The convolution algorithm (harness/nn/conv.h): the process setting, nn.build's conv_algo
-- and per-layer conv_algos, and net:winograd() naming the layers that run Winograd (AVX-512
-- builds; without AVX-512 none can, and the Winograd counts are 0).
suite:test("conv_algorithms", function()
  local before = nn.conv_algo()
  check.eq(before, "default", "the process default")
  local desc = c.sequential("s", {c.conv{name = "a", in_c = 16, out_c = 16, k = 3, pad = 1},
                                  c.conv{name = "b", in_c = 16, out_c = 16, k = 3, pad = 1},
                                  c.conv{name = "p", in_c = 16, out_c = 16, k = 1}})
  local shape = {c = 16, h = 8, w = 8}
  local wino = nn.build(desc, shape, {batch = 2, conv_algo = "winograd"})
  local avx512 = #wino:winograd() > 0
  check.eq(#wino:winograd(), avx512 and 2 or 0, "both 3x3 layers, not the 1x1")
  if avx512 then check.eq(wino:winograd()[1], "s.a", "paths") end
  check.eq(#nn.build(desc, shape, {batch = 2, conv_algo = "direct"}):winograd(), 0, "direct")
  local one = nn.build(desc, shape, {batch = 2, conv_algo = "direct",
                                     conv_algos = {["s.b"] = "winograd"}})
  check.eq(#one:winograd(), avx512 and 1 or 0, "one layer by path")
  nn.set_conv_algo("winograd")
  check.eq(nn.conv_algo(), "winograd", "set")
  check.eq(#nn.build(desc, shape, {batch = 2}):winograd(), avx512 and 2 or 0, "process default")
  nn.set_conv_algo("auto")
  check.eq(nn.conv_algo(), "auto", "auto is a setting")
  nn.set_conv_algo(before)
  -- the same weights give the same outputs to float tolerance under every algorithm
  local direct = nn.build(desc, shape, {batch = 2, conv_algo = "direct"})
  direct:init(train.rng(5, train.stream.init))
  wino:params():copy(direct:params())
  local x = fill_sin(tensor.new{2, 16, 8, 8}, 0.3)
  local yd = direct:forward(x, true):clone()
  local yw = wino:forward(x, true)
  local scale = yd:max_abs_diff(tensor.new(yd:shape())) -- max |yd|
  check.truthy(yw:max_abs_diff(yd) <= 1e-5 * scale, ("winograd output vs direct: %g of %g")
               :format(yw:max_abs_diff(yd), scale))
  check.raises(function() nn.set_conv_algo("fast") end, "convolution algorithm 'fast'",
               "unknown setting")
  check.raises(function() nn.build(desc, shape, {batch = 2, conv_algo = "auto"}) end,
               "expected default, direct, im2col or winograd", "auto is no layer algorithm")
  check.raises(function() nn.build(desc, shape, {batch = 2, conv_algos = {["s.x"] = "direct"}})
               end, "1 entries, 0 of them name conv layers", "a path that is no conv")
  check.raises(function() nn.build(desc, shape, {batch = 2, conv_algos = {["s.a"] = 3}}) end,
               "conv_algos[\"s.a\"] is 3", "a value that is no name")
  check.raises(function() nn.build(desc, shape, {batch = 2, conv_algos = "winograd"}) end,
               "options.conv_algos is a string", "not a table")
end)

-- "auto" (harness/lua/conv_tune.lua): every conv leaf timed under the three algorithms and
-- built with its fastest; the built net runs Winograd exactly on the layers that chose it.
suite:test("conv_tune_auto", function()
  local conv_tune = require "harness.lua.conv_tune"
  local desc = c.sequential("s", {c.conv{name = "a", in_c = 16, out_c = 16, k = 3, pad = 1},
                                  c.relu{},
                                  c.conv{name = "b", in_c = 16, out_c = 32, k = 3, pad = 1}})
  local net, choice = conv_tune.build(desc, {c = 16, h = 8, w = 8}, {batch = 2, threads = 1})
  local wanted = {}
  for _, path in ipairs{"s.a", "s.b"} do
    local ch = choice[path]
    check.truthy(ch, "a choice for " .. path)
    for _, algo in ipairs{"direct", "im2col"} do
      check.truthy(type(ch.seconds[algo]) == "number" and ch.seconds[algo] >= 0,
                   path .. ": timed under " .. algo)
    end
    for algo, t in pairs(ch.seconds) do
      check.truthy(ch.seconds[ch.algo] <= t, path .. ": the fastest, not " .. algo)
    end
    if ch.algo == "winograd" then wanted[#wanted + 1] = path end
  end
  local got = net:winograd()
  check.eq(#got, #wanted, "Winograd layers: " .. table.concat(got, ","))
  for i = 1, #got do check.eq(got[i], wanted[i], "layer " .. i) end
end)

-- net:backward(dy, false): no input gradient (the stem conv or linear skips it, net.c's
-- no_dx), nothing returned, and the parameter gradients the same bits as with it, for a stem
-- under every conv algorithm and for nets whose input goes to a container (its branches skip
-- dx at their first layer only: the second conv of each branch must still compute its own).
suite:test("no_input_gradient", function()
  local stem = {c.conv{name = "stem", in_c = 16, out_c = 16, k = 3, pad = 1}, c.bn{channels = 16},
                c.relu{}, c.conv{in_c = 16, out_c = 16, k = 3, pad = 1}, c.global_avgpool{},
                c.flatten{}, c.linear{in_f = 16, out_f = 4}}
  local branch = c.sequential("", {c.conv{in_c = 16, out_c = 16, k = 3, pad = 1},
                                   c.bn{channels = 16}, c.relu{},
                                   c.conv{in_c = 16, out_c = 16, k = 3, pad = 1}})
  local head = {c.global_avgpool{}, c.flatten{}}
  local cases = {
    {"conv stem, direct", c.sequential("a", stem), "direct"},
    {"conv stem, im2col", c.sequential("a", stem), "im2col"},
    {"conv stem, winograd", c.sequential("a", stem), "winograd"},
    {"linear first", c.sequential("l", {c.flatten{}, c.linear{in_f = 16 * 64, out_f = 8},
                                        c.relu{}, c.linear{in_f = 8, out_f = 4}}), "default"},
    {"residual first", c.sequential("r", {c.residual("res", branch), head[1], head[2],
                                          c.linear{in_f = 16, out_f = 4}}), "default"},
    {"concat first", c.sequential("k", {c.concat("cat", {branch, c.identity{}}), head[1],
                                        head[2], c.linear{in_f = 32, out_f = 4}}), "default"},
  }
  for _, case in ipairs(cases) do
    local name, desc, algo = case[1], case[2], case[3]
    local net = nn.build(desc, {c = 16, h = 8, w = 8}, {batch = 3, conv_algo = algo})
    net:init(train.rng(7, train.stream.init))
    local x = fill_sin(tensor.new{3, 16, 8, 8}, 0.4)
    local dy = fill_sin(tensor.new(net:forward(x, true):shape()), 0.9)
    local dx = net:backward(dy)
    check.eq(dx and dx:size(), 3 * 16 * 64, name .. ": dx by default")
    local g1 = net:grads():clone()
    net:zero_grad()
    net:forward(x, true)
    check.eq(select("#", net:backward(dy, false)), 0, name .. ": nothing returned")
    check.same_bits(net:grads(), g1, name .. ": the same parameter gradients")
  end
  local net = nn.build(c.sequential("a", stem), {c = 16, h = 8, w = 8}, {batch = 3})
  local y = net:forward(fill_sin(tensor.new{3, 16, 8, 8}, 0.4), true)
  check.raises(function() net:backward(tensor.new(y:shape()), "no") end, "boolean expected",
               "input_grad is a boolean")
end)

suite:test("thread_count_determinism", function()
  -- a conv + BN net gives bit-identical results for a given thread count
  local desc = c.sequential("d", {c.conv{in_c = 3, out_c = 8, k = 3, pad = 1}, c.bn{channels = 8},
                                  c.relu{}, c.global_avgpool{}, c.linear{in_f = 8, out_f = 4}})
  local function run(threads)
    local net = nn.build(desc, {c = 3, h = 8, w = 8}, {batch = 5, threads = threads})
    net:init(train.rng(11, train.stream.init))
    local x = fill_sin(tensor.new{5, 3, 8, 8}, 0.1)
    local y = net:forward(x, true):clone()
    net:backward(fill_sin(tensor.new(y:shape()), 0.2))
    return y, net:grads():clone()
  end
  for _, threads in ipairs{1, 2, 3} do
    local y1, g1 = run(threads)
    local y2, g2 = run(threads)
    check.same_bits(y1, y2, threads .. " threads: output")
    check.same_bits(g1, g2, threads .. " threads: grads")
  end
end)

suite:finish()
