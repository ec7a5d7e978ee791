-- test_table1_report.lua: Table 1's report section (harness/lua/table1_report.lua) from
-- synthetic run files with known numbers (results.write_run into a fresh folder): the
-- statistic of each run (median of the final window of the top-1 and top-5 curves), mean and
-- sd over seeds, the published cells (the paper's own, or the quoted baseline marked with its
-- source and epochs), mixup - ERM paired by seed against an interval computed here by hand,
-- its verdict, and the "not run yet" table. Run as `./mixup tests/lua/test_table1_report.lua`.
local check = require "tests.lua.check"
local tensor = require "engine.tensor"
local results = require "harness.lua.results"
local stats = require "harness.lua.stats"
local sys = require "engine.sys"
local t1 = require "harness.lua.table1_report"

local suite = check.suite(...)
local tmp = os.tmpname()
os.remove(tmp)
local RES = tmp .. "/results"

-- A complete run of `epochs` epochs whose top-1 and top-5 errors are constant (so every window
-- statistic is that value).
local function write(scale, net, method, seed, top1, top5)
  local n = 4
  local c = {epoch = {}, lr = {}, train_loss = {}, train_error = {}, test_loss = {},
             test_error = {}, seconds = {}, test_error_top5 = {}}
  for e = 1, n do
    c.epoch[e], c.lr[e], c.train_loss[e], c.train_error[e] = e, 0.1, 1.0, 50.0
    c.test_loss[e], c.test_error[e], c.seconds[e], c.test_error_top5[e] = 1.0, top1, 1.0, top5
  end
  local id = ("%s-%s-%s-e90-s%d-00000000"):format(scale, net, method, seed)
  results.write_run(("%s/%s/%s.h5"):format(RES, t1.EXPERIMENT, id), {
    experiment = t1.EXPERIMENT, run_id = id,
    config = {scale = scale, dataset = "imagenet", seed = seed, epochs = n,
              mixup = {alpha = method == "erm" and 0 or 0.2}},
    provenance = {scale = scale, seed = seed, threads = 1, command = "test",
                  start_time = "2026-12-05T00:00:00Z", end_time = "2026-12-05T00:00:01Z",
                  git_commit = "test", git_dirty = false, host = "test", compiler = "cc",
                  cflags = "-O2", blas = "test", project_version = "test"},
    curves = c, summary = {n_params = 1},
    weights = {params = tensor.new{1}, buffers = tensor.new{1}},
  })
end

local ERM1, MIX1 = {30, 32, 31}, {29, 30, 30.5}
for s = 1, 3 do
  write("cpu", "resnet50", "erm", s, ERM1[s], 10 + s)
  write("cpu", "resnet50", "mixup", s, MIX1[s], 9 + s)
end

local function row(sec, model, method)
  for _, r in ipairs(sec.rows) do
    if r.model == model and r.method == method and r.epochs == 90 then return r end
  end
end

suite:test("rows_and_verdicts", function()
  local model = t1.collect{results = RES}
  check.eq(#model.sections, 1, "only the cpu scale ran")
  local sec = model.sections[1]
  check.eq(sec.scale, "cpu", "scale")
  check.eq(#sec.rows, 2, "the block that ran only")
  local erm, mix = row(sec, "ResNet-50", "ERM"), row(sec, "ResNet-50", "mixup")
  check.near(erm.top1.mean, 31, 1e-12, "ERM top-1 mean")
  check.near(erm.top1.sd, 1, 1e-12, "ERM top-1 sd")
  check.near(mix.top5.mean, 11, 1e-12, "mixup top-5 mean")
  check.eq(erm.published.top1, 23.5, "the quoted baseline")
  check.eq(erm.published.quoted, "Goyal et al. 2017", "its source")
  check.eq(mix.published.top5, 6.6, "the paper's own top-5")
  check.near(mix.claim, 23.3 - 23.5, 1e-12, "published difference")
  -- by hand: per-seed differences -1, -2, -0.5; mean -7/6, paired t with 2 df
  local d = {-1, -2, -0.5}
  local mean, sd = stats.mean_sd(d)
  local half = stats.t_quantile(0.975, 2) * sd / math.sqrt(3)
  check.near(mix.d.mean, mean, 1e-12, "mixup - ERM")
  check.near(mix.d.lo, mean - half, 1e-9, "interval low")
  check.near(mix.d.hi, mean + half, 1e-9, "interval high")
  check.eq(mix.verdict, mean + half < 0 and "reproduced" or "inconclusive", "verdict")
  local md = t1.render(model)
  check.truthy(md:find("| ResNet-50 | 90 | ERM | 23.5 (quoted: Goyal et al. 2017, 90 epochs) "
                       .. "| \u{2013} | 31.00 \u{b1} 1.00 | 12.00 \u{b1} 1.00 | 3 |", 1, true),
               "ERM row:\n" .. md)
  check.truthy(md:find("| -0.2 / -1.17 |", 1, true), "difference cell:\n" .. md)
end)

suite:test("not_run_yet", function()
  local model = t1.collect{results = tmp .. "/empty"}
  local md = t1.render(model)
  check.truthy(md:find("Not run yet (`make data-imagenet", 1, true), md)
  check.eq(model.sections[1].scale, "paper", "the published table")
  check.eq(#model.sections[1].rows, 14, "7 blocks of the paper (4 nets at 90, 3 at 200)")
  check.truthy(md:find("| ResNeXt-101 64x4d | 90 | ERM | 20.4 (quoted: Xie et al. 2016, 100 "
                       .. "epochs) | 5.3 (quoted: Xie et al. 2016, 100 epochs) |", 1, true), md)
end)

sys.remove_tree(tmp)
suite:finish()
