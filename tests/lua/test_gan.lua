-- test_gan.lua: Figure 5's GAN (harness/lua/tasks/gan.lua run by harness/lua/lifecycle.lua,
-- engine.gan, nets/gan_small.lua): one
-- discriminator step (ERM and the demo's mixed batch) and one generator step (minimax, and the
-- paper's mixed form) against PyTorch with the same weights and batch (gan.h5, made by
-- tests/fixtures/gen_gan.py), the gradient that flows from D into G included; the nets' layout;
-- repeatability from the seed; a whole tiny run written, read back and skipped when complete;
-- the denormal switch; and the error messages of the config, the nets and the bindings.
local config = require "harness.lua.config"
local egan = require "engine.gan"
local gan = require "harness.lua.tasks.gan"
local lifecycle = require "harness.lua.lifecycle"
local provenance = require "harness.lua.provenance"
local diverged = require "harness.lua.diverged"
local results = require "harness.lua.results"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"
local check = require "tests.lua.check"
local gan_small = require "nets.gan_small"

local suite = check.suite(...)
local fx = check.fixture("gan")

-- float32 nets of width 32 against float64 PyTorch on the same float32 inputs: sums of <= 33
-- products per layer, four layers, so a few float32 ulps of the largest value
local STEP_RTOL = 1e-5
-- gradients: the same, but dividing by the batch mean makes small entries relative to their
-- largest one, where cancellation in float32 costs a few more ulps
local GRAD_RTOL = 5e-5
-- Adam's first step moves every weight by ~lr g / (|g| + eps); entries with |g| near eps
-- (1e-8) turn float32 gradient noise (~1e-11) into ~1e-3 of lr: so the updates are compared
-- to lr with this tolerance
local UPDATE_RTOL = 1e-2
local LR = 1e-3
local HIDDEN, N_LATENT, B = 32, 3, 8 -- gen_gan.py's sizes

-- A valid config of schema gan_toy for the fixture's nets (scale "test").
local function test_config(over)
  local cfg = {
    scale = "test", seed = 1, shape = "ring", data_std = 0.01, n_latent = N_LATENT,
    iterations = 3, d_steps = 2, batch = B, snapshots = {0, 2}, snapshot_points = 50,
    net = {family = "gan_small", hidden = HIDDEN, layers = 3, init = "torch_default"},
    mixup = {variant = "demo", alpha = 0.0},
    optim = {kind = "adam", lr = LR, beta1 = 0.9, beta2 = 0.999, eps = 1e-8},
    flush_denormals = false,
  }
  return config.validate(config.merge(cfg, over or {}), gan.schema)
end

-- (w1 - w0) against (want - w0), relative to lr.
local function check_update(w1, w0, want, what)
  local n = w0:size()
  local worst = 0.0
  for i = 1, n do
    local got_step, want_step = w1:get(i) - w0:get(i), want:get(i) - w0:get(i)
    worst = math.max(worst, math.abs(got_step - want_step))
  end
  check.truthy(worst <= UPDATE_RTOL * LR, ("%s: update differs by %.3g, more than %.3g of lr")
               :format(what, worst, UPDATE_RTOL))
end

suite:test("nets_layout", function()
  local nn = require "engine.nn"
  local d = nn.build(gan_small{role = "discriminator", hidden = HIDDEN},
                     {c = 2, h = 1, w = 1}, {batch = 4})
  local g = nn.build(gan_small{role = "generator", hidden = HIDDEN, n_latent = N_LATENT},
                     {c = N_LATENT, h = 1, w = 1}, {batch = 4})
  check.eq(d:num_params(), fx.d0:size(), "D parameters = PyTorch's")
  check.eq(g:num_params(), fx.g0:size(), "G parameters = PyTorch's")
  local info = d:param_info()
  check.eq(#info, 4, "four linear layers")
  check.eq(info[1].path, "gan_d.net.0", "first layer path")
  check.eq(info[4].path, "gan_d.net.6", "last layer path (ReLUs are numbered too)")
  check.eq(info[2].offset, 2 * HIDDEN + HIDDEN, "net.0.weight then net.0.bias")
  check.eq(g:out_shape().c, 2, "generator output")
  local paper = nn.build(gan_small{role = "generator"}, {c = 2, h = 1, w = 1}, {batch = 1})
  -- 2*512+512 + 2*(512*512+512) + 512*2+2 = PyTorch's count for the demo's generator
  check.eq(paper:num_params(), 2 * 512 + 512 + 2 * (512 * 512 + 512) + 512 * 2 + 2, "paper G")
  check.raises(function() gan_small{role = "critic"} end, "gan_small: option 'role' is string "
               .. "\"critic\", expected one of discriminator, generator", "role")
  check.raises(function() gan_small{width = 3} end, "unknown option 'width'", "unknown")
  check.raises(function() gan_small{hidden = 0} end,
               "gan_small: option 'hidden' is integer 0, expected an integer >= 1", "hidden")
end)

-- A fresh run state whose nets hold the fixture's initial weights.
local function state_from_fixture(over)
  local st = gan.build(test_config(over), {threads = 1})
  st.d:params():copy(fx.d0)
  st.g:params():copy(fx.g0)
  return st
end

suite:test("d_step_vs_torch", function()
  for _, name in ipairs{"d_erm", "d_demo"} do
    local st = state_from_fixture()
    local loss = gan.d_update(st, fx[name .. ".x"], fx[name .. ".t"])
    check.near(loss, fx[name .. ".loss"]:get(1), STEP_RTOL, name .. " loss")
    check.close(st.d:grads(), fx[name .. ".dgrad"], GRAD_RTOL, name .. " D gradient")
    check.close(st.d:params(), fx[name .. ".d1"], STEP_RTOL, name .. " D after Adam")
    check_update(st.d:params(), fx.d0, fx[name .. ".d1"], name .. " D update")
  end
end)

suite:test("g_step_vs_torch", function()
  -- minimax on the unmixed batch [real; G(z)]
  local st = state_from_fixture()
  local real = fx["g.real"]
  local loss = gan.g_update(st, fx["g.z"], function(fake)
    egan.join(st.x, st.t, real, fake, nil)
    return st.x, st.t, B, nil
  end)
  check.near(loss, fx["g.loss"]:get(1), STEP_RTOL, "g loss")
  check.close(st.dg, fx["g.dfake"], GRAD_RTOL, "g: gradient from D into G")
  check.close(st.g:grads(), fx["g.ggrad"], GRAD_RTOL, "g: G gradient")
  check.close(st.g:params(), fx["g.g1"], STEP_RTOL, "g: G after Adam")
  check_update(st.g:params(), fx.g0, fx["g.g1"], "g: G update")
  check.same_bits(st.d:params(), fx.d0, "g: D untouched by the generator step")

  -- the paper's form: D sees lam real + (1 - lam) G(z) against lam
  st = state_from_fixture()
  real = fx["gp.real"]
  local lam = fx["gp.lam"]
  loss = gan.g_update(st, fx["gp.z"], function(fake)
    local f = fake:view(0, {B, 2})
    for i = 1, B do
      local l = lam:get(i)
      for j = 1, 2 do st.xb:set(l * real:get(i, j) + (1 - l) * f:get(i, j), i, j) end
      st.tb:set(l, i)
    end
    return st.xb, st.tb, 0, lam
  end)
  check.near(loss, fx["gp.loss"]:get(1), STEP_RTOL, "gp loss")
  check.close(st.dg, fx["gp.dfake"], GRAD_RTOL, "gp: gradient from D into G")
  check.close(st.g:grads(), fx["gp.ggrad"], GRAD_RTOL, "gp: G gradient")
  check.close(st.g:params(), fx["gp.g1"], STEP_RTOL, "gp: G after Adam")
end)

suite:test("metrics_vs_torch", function()
  check.near(egan.energy_distance(fx["metrics.a"], fx["metrics.b"]),
             fx["metrics.energy"]:get(1), 1e-6, "energy distance") -- float32-stored reference
  check.near(egan.mmd2(fx["metrics.a"], fx["metrics.b"], egan.MMD_BANDWIDTH),
             fx["metrics.mmd2"]:get(1), 1e-6, "mmd2")
  -- all points on one centre of the ring: one mode covered, every point high quality
  local c = egan.centres("ring")
  local gen = tensor.new(100, 2)
  for i = 1, 100 do gen:set(c:get(3, 1), i, 1); gen:set(c:get(3, 2), i, 2) end
  local m = egan.metrics(gen, c, "ring", 0.01)
  check.eq(m.modes_covered, 1, "one mode covered")
  check.eq(m.high_quality, 1.0, "all high quality")
  check.eq(m.n_modes, 8, "ring modes")
  check.eq(m.outside, 0, "inside the frame")
  check.near(m.frame_hi, 1 + egan.FRAME_MARGIN, 1e-6, "frame: real range + margin")
end)

suite:test("data_binding", function()
  local x, modes = tensor.new(400, 2), tensor.new(400)
  egan.sample_real(x, "grid", 0.01, train.rng(3, train.stream.gan), modes)
  local c = egan.centres("grid")
  check.eq(c:get(1, 1), -1, "grid centre 0 is (-1, -1)")
  check.eq(c:get(7, 2), -0.5, "grid centre 6 is (-0.5, -0.5)")
  for i = 1, 400 do
    local k = math.tointeger(modes:get(i))
    check.truthy(k and k >= 0 and k < 25, "mode index")
    local dx, dy = x:get(i, 1) - c:get(k + 1, 1), x:get(i, 2) - c:get(k + 1, 2)
    check.truthy(dx * dx + dy * dy < (6 * 0.01) ^ 2, "point near its centre (6 std)")
  end
  local y = tensor.new(400, 2)
  egan.sample_real(y, "grid", 0.01, train.rng(3, train.stream.gan))
  check.same_bits(y, x, "with or without modes: the same draws")
end)

suite:test("repeatable", function()
  for _, variant in ipairs{{"demo", 0.2}, {"paper", 0.2}, {"paper_joint", 0.2}, {"demo", 0.0}} do
    local over = {mixup = {variant = variant[1], alpha = variant[2]}}
    local a = gan.build(test_config(over), {threads = 1})
    local b = gan.build(test_config(over), {threads = 1})
    local la = {gan.iteration(a)}
    local lb = {gan.iteration(b)}
    check.eq(la[1], lb[1], variant[1] .. " d_loss repeats")
    check.eq(la[2], lb[2], variant[1] .. " g_loss repeats")
    check.same_bits(a.g:params(), b.g:params(), variant[1] .. " G repeats")
    check.same_bits(a.d:params(), b.d:params(), variant[1] .. " D repeats")
    local c = gan.build(test_config(config.merge(over, {seed = 2})), {threads = 1})
    check.truthy(c.g:params():max_abs_diff(a.g:params()) > 0, "another seed differs")
  end
  -- ERM and mixup of one seed start from the same nets and snapshot points
  local e = gan.build(test_config(), {threads = 1})
  local m = gan.build(test_config{mixup = {alpha = 0.2}}, {threads = 1})
  check.same_bits(e.g:params(), m.g:params(), "same initial G")
  check.same_bits(e.snap_real, m.snap_real, "same snapshot points")
end)

suite:test("run_roundtrip", function()
  local dir = os.tmpname()
  os.remove(dir)
  local cfg = test_config{mixup = {alpha = 0.2}, flush_denormals = true}
  local run = {id = "test-ring-mixup-s1", config = cfg}
  local o = {experiment = "gan_test", out = dir, threads = 1, command = "test_gan.lua"}
  check.eq(lifecycle.run(gan, run, o), "done", "first run")
  local path = dir .. "/gan_test/test-ring-mixup-s1.h5"
  local r = assert(gan.read_run(path))
  check.eq(r.run_id, run.id, "run id")
  check.eq(#r.curves.d_loss, cfg.iterations, "one curve entry per iteration")
  check.eq(#r.snapshots, 2, "snapshots")
  check.eq(r.snapshots[2].iteration, 2, "snapshot iteration")
  check.eq(r.snapshots[2].generated:shape()[1], cfg.snapshot_points, "snapshot points")
  local m = egan.metrics(r.snapshots[2].generated, r.snap_real, "ring", 0.01)
  check.eq(m.energy, r.snapshots[2].metrics.energy, "stored metrics = recomputed")
  check.eq(r.summary.final_energy, m.energy, "summary = last snapshot")
  check.eq(r.config.mixup.alpha, 0.2, "config round trip")
  -- the same run again from the seed: bit-identical snapshot
  local st = gan.build(cfg, {threads = 1})
  for _ = 0, 2 do gan.iteration(st) end
  local points = gan.snapshot(st)
  check.same_bits(points, r.snapshots[2].generated, "rerun from the seed")
  check.eq(lifecycle.run(gan, run, o), "skipped", "complete runs are skipped")
  local runs, bad = gan.scan(dir)
  check.eq(#runs, 1, "scan finds the run")
  check.eq(#bad, 0, "no bad files")
  -- a damaged file is moved aside and the run redone
  local f = assert(io.open(path, "r+b"))
  f:seek("set", f:seek("end") // 2) -- past the 512-byte checksum block, into the data
  f:write("garbage")
  f:close()
  check.eq(lifecycle.run(gan, run, o), "done", "damaged file: rerun")
  check.truthy(io.open(path .. ".damaged", "rb") ~= nil, "damaged file kept aside")
  assert(sys.remove_tree(dir))
end)

suite:test("checkpoint_resume", function()
  local dir = os.tmpname()
  os.remove(dir)
  local cfg = test_config{iterations = 7, snapshots = {1, 4, 6}, mixup = {alpha = 0.2}}
  local o = {experiment = "a", out = dir, threads = 1, command = "test", checkpoint_every = 2}
  check.eq(lifecycle.run(gan, {id = "r", config = cfg}, o), "done", "uninterrupted")
  local whole = assert(gan.read_run(dir .. "/a/r.h5"))
  -- stopped after 3 iterations (checkpoint after 2), then after 2 more (checkpoint after 4)
  local ob = {experiment = "b", out = dir, threads = 1, command = "test", checkpoint_every = 2,
              stop_after = 3}
  check.eq(lifecycle.run(gan, {id = "r", config = cfg}, ob), "stopped", "first session")
  check.truthy(io.open(dir .. "/b/r.ckpt.h5", "rb") ~= nil, "checkpoint left behind")
  ob.stop_after = 2
  check.eq(lifecycle.run(gan, {id = "r", config = cfg}, ob), "stopped", "second session")
  ob.stop_after = nil
  check.raises(function()
    lifecycle.run(gan, {id = "r", config = cfg}, {experiment = "b", out = dir, threads = 2,
                                                  checkpoint_every = 2, log = function() end})
  end, "the checkpoint was written with 1 threads, this run has 2", "thread count checked")
  check.eq(lifecycle.run(gan, {id = "r", config = cfg}, ob), "done", "resumed to the end")
  check.truthy(io.open(dir .. "/b/r.ckpt.h5", "rb") == nil, "checkpoint removed")
  local resumed = assert(gan.read_run(dir .. "/b/r.h5"))
  for i = 1, 3 do
    check.same_bits(resumed.snapshots[i].generated, whole.snapshots[i].generated,
                    "snapshot " .. i .. " bit-identical after resuming")
  end
  for i = 1, 7 do
    check.eq(resumed.curves.d_loss[i], whole.curves.d_loss[i], "d_loss " .. i)
    check.eq(resumed.curves.g_loss[i], whole.curves.g_loss[i], "g_loss " .. i)
  end
  assert(sys.remove_tree(dir))
end)

-- A GAN checkpoint of schema 1 (its own layout, optimiser state as host-byte-order blobs) is
-- refused, not misread and not dropped as damaged.
suite:test("old_checkpoint_refused", function()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sys.mkdir_p(dir .. "/a"))
  local ckpt = dir .. "/a/r.ckpt.h5"
  require("engine.h5").write(ckpt, {
    attrs = {format_version = 1, schema = "mixup-repro/gan-checkpoint", run_id = "r"},
    datasets = {optim_d = "ADM1\0\0\0\0", optim_g = "ADM1\0\0\0\0"}})
  check.raises(function()
    lifecycle.run(gan, {id = "r", config = test_config{iterations = 3, snapshots = {1}}},
                  {experiment = "a", out = dir, threads = 1, command = "test",
                   log = function() end})
  end, ckpt .. ": checkpoint schema 1, this build reads 2: delete it or rerun with --force",
  "old GAN checkpoint")
  check.truthy(sys.exists(ckpt), "the refused checkpoint is left in place")
  assert(sys.remove_tree(dir))
end)

suite:test("report_export", function()
  local gr = require "harness.lua.gan_report"
  local st = gr.stats{1, 2, 3}
  check.eq(st.mean, 2.0, "mean")
  check.eq(st.sd, 1.0, "sample sd")
  check.eq(st.min + st.max, 4, "min and max")
  check.eq(gr.stats{5}.sd, nil, "no sd of one value")
  -- the sign test against binomial sums by hand: P(X >= k), X ~ Bin(n, 1/2)
  check.eq(gr.sign_p(5, 5), 1 / 32, "sign test, 5 of 5")
  check.eq(gr.sign_p(4, 5), 6 / 32, "sign test, 4 of 5")
  check.eq(gr.sign_p(3, 5), 16 / 32, "sign test, 3 of 5")
  check.eq(gr.sign_p(0, 4), 1.0, "sign test, 0 of 4")
  check.eq(gr.sign_p(0, 0), 1.0, "sign test, every pair tied")
  check.eq(gr.method_of{mixup = {variant = "demo", alpha = 0}}, "erm", "erm")
  check.eq(gr.method_of{mixup = {variant = "paper", alpha = 0.2}}, "mixup_paper", "paper")
  check.eq(gr.method_of{mixup = {variant = "paper_joint", alpha = 0.2}}, "mixup_paper_joint",
           "paper_joint")
  check.eq(gr.method_of{mixup = {variant = "demo", alpha = 0.5}}, "mixup_a0.5", "other alpha")
  local dir = os.tmpname()
  os.remove(dir)
  for _, seed in ipairs{1, 2} do
    for _, alpha in ipairs{0.0, 0.2} do
      local cfg = test_config{seed = seed, mixup = {alpha = alpha}}
      lifecycle.run(gan, {id = ("t-%g-s%d"):format(alpha, seed), config = cfg},
              {experiment = "gan_test", out = dir, threads = 1, command = "test"})
    end
  end
  local model = gr.collect{results = dir}
  check.eq(#model.sections, 1, "one scale")
  local cells = model.sections[1].cells
  check.eq(#cells, 2, "erm and mixup cells")
  check.eq(cells[1].method, "erm", "erm first")
  check.eq(table.concat(cells[2].seeds, ","), "1,2", "seeds of a cell")
  local md = gr.render(model)
  check.truthy(md:find("| 2 | erm | 2 |", 1, true), "a row per iteration and method")
  check.truthy(md:find("Paired by seed, mixup versus erm", 1, true), "paired comparison")
  check.truthy(md:find("Summary at iteration 2: mixup covered ", 1, true),
               "a summary at the last snapshot")
  -- a diverged GAN run (harness/lua/lifecycle.lua's record) is named, never in a metric
  local dcfg = test_config{seed = 3, mixup = {alpha = 0.2}}
  diverged.write(dir .. "/gan_test/t-div.h5", {
    experiment = "gan_test", run_id = "t-div", task = gan.name, unit = "iteration", at = 2,
    total = 2, detail = "d_loss nan, g_loss nan", fix = "lower the learning rates",
    config = dcfg, provenance = provenance.collect{threads = 1,
      seed = dcfg.seed, scale = dcfg.scale, command = "test"},
    curves = {}})
  local with_div = gr.collect{results = dir}
  check.eq(table.concat(with_div.sections[1].cells[2].seeds, ","), "1,2", "not a seed of a cell")
  check.truthy(gr.render(with_div):find("- note: t-div diverged at iteration 2/2 (d_loss nan, "
                                        .. "g_loss nan): not in the metrics", 1, true),
               "the note: " .. gr.render(with_div))
  os.remove(dir .. "/gan_test/t-div.h5")
  local figs = gr.export(model, dir)
  check.eq(#figs, 1, "one figure")
  check.eq(figs[1].seed, 1, "the smallest common seed is drawn")
  check.eq(gr.export(model, dir, nil, 2)[1].seed, 2, "a chosen seed is drawn")
  check.eq(#gr.export(model, dir, nil, 3), 0, "no figure for a seed without runs")
  local inc = assert(io.open(figs[1].panels)):read("a")
  check.truthy(inc:find("lo_ring = ", 1, true) and inc:find("out_ring_mixup_2 = ", 1, true),
               "panel include")
  local pts = assert(io.open(figs[1].stem .. "_ring_erm_2.dat")):read("a")
  local rows = 0
  for _ in pts:gmatch("\n%-?%d") do rows = rows + 1 end
  check.eq(rows, 50, "one line per generated point")
  assert(sys.remove_tree(dir))
end)

suite:test("flush_denormals", function()
  local tiny = tonumber("1e-310") -- a double denormal, computed at run time
  local was = egan.flush_denormals(true)
  check.eq(tiny * 0.5, 0.0, "flushed")
  check.eq(egan.flush_denormals(false), true, "previous setting returned")
  check.truthy(tiny * 0.5 > 0, "not flushed after turning it off")
  egan.flush_denormals(was)
end)

suite:test("errors", function()
  check.raises(function() test_config{snapshots = {0, 3}} end,
               "config: option 'snapshots[2]' is integer 3, expected an iteration index below "
               .. "iterations (3; snapshots are 0-based)", "snapshot past the end")
  check.raises(function() test_config{mixup = {alpha = 1.5}} end,
               "config: option 'mixup.alpha' is float 1.5, expected a number <= 1 for the demo "
               .. "variant", "demo alpha")
  check.raises(function() test_config{net = {role = "generator"}} end,
               "config: option 'net.role' is string \"generator\", expected no value", "role")
  check.raises(function() test_config{shape = "spiral"} end,
               "config: option 'shape' is string \"spiral\", expected one of ring, grid", "shape")
  check.raises(function() test_config{lr = 1} end, "config: unknown option 'lr'", "unknown key")
  local x, t = tensor.new(16, 2), tensor.new(16)
  check.raises(function() egan.join(x, t, tensor.new(8, 3), tensor.new(8, 2)) end,
               "gan.join: real is (8, 3), expected (N, 2) or (N, 2, 1, 1) points", "join shape")
  check.raises(function() egan.join(x, t, tensor.new(8, 2), tensor.new(7, 2)) end,
               "gan.join: x has 16 rows, expected 15", "join rows")
  check.raises(function() egan.join(x, tensor.new(15), tensor.new(8, 2), tensor.new(8, 2)) end,
               "gan.join: t has 15 elements, expected 16 (one per row)", "join targets")
  check.raises(function() egan.mix_uniform(x, t, x, t, x, t, 2, train.rng(1, 1)) end,
               "gan.mix_uniform: alpha is 2, expected a number in [0, 1]", "alpha")
  check.raises(function() egan.mix_beta(tensor.new(8, 2), tensor.new(8), tensor.new(8, 2),
                                        tensor.new(8, 2), 0, train.rng(1, 1)) end,
               "gan.mix_beta: alpha is 0, expected a number in (0, inf]", "beta alpha")
  check.raises(function() egan.sample_real(x, "spiral", 0.01, train.rng(1, 1)) end,
               "invalid option 'spiral'", "shape option")
  check.raises(function() egan.sample_real(x, "ring", -1, train.rng(1, 1)) end,
               "gan_sample_real: std is -1, expected a finite number >= 0", "std")
  check.raises(function() egan.generator_grad(tensor.new(8, 2), x, 9) end,
               "gan.generator_grad: rows 9..16 of dx do not exist (dx has 16 rows)", "rows")
  local bad = tensor.new(4, 2)
  bad:set(0 / 0, 3, 2)
  check.raises(function() egan.metrics(bad, x, "ring", 0.01) end,
               "gan_metrics: generated point 2 is (0, nan), expected finite coordinates",
               "nan point")
end)

suite:finish()
