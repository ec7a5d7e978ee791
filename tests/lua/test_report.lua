-- test_report.lua: the results schema (harness/lua/results.lua), the comparison report
-- (harness/lua/report.lua, tools/report.lua) and the plots (tools/plots.lua, plots/*.gp).
-- Run as `./mixup tests/lua/test_report.lua [name-filter]` from the repository root.
--
-- Synthetic run files with known curves are written through results.write_run into a fresh
-- temporary directory (the real results/ is never touched), then: read_run round trip, the
-- reader's error paths (truncated, wrong schema, wrong format_version, a summary that disagrees
-- with its curves), scan reporting a truncated file, the report's rows (mean, std, n, sign of
-- mixup - ERM, "not run" with its reason, labels of reduced scales, the superseded 3.9 beside
-- the README's 4.24), and that tools/plots.lua exports the expected tables and draws non-empty
-- PNGs with gnuplot. KEEP_TMP=1 keeps the temporary directory (to look at the figures).
local check = require "tests.lua.check"
local h5 = require "engine.h5"
local tensor = require "engine.tensor"
local diverged = require "harness.lua.diverged"
local results = require "harness.lua.results"
local checkpoint = require "harness.lua.checkpoint"
local report = require "harness.lua.report"

local suite = check.suite(...)

-- Statistics are sums of a few float64 numbers given to 6 digits; 1e-12 is float64 noise.
local STAT_RTOL = 1e-12
local PNG_MAGIC = "\137PNG\r\n\26\n"
local SQRT2 = math.sqrt(2)

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- A fresh temporary directory: results/, a data dir without CIFAR-100, a root without WRN
-- (for the "not run" reasons), and the plots output.
local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. shell_quote(tmp .. "/results/table2_cifar") .. " "
                  .. shell_quote(tmp .. "/data/cifar-10-batches-bin") .. " "
                  .. shell_quote(tmp .. "/root/nets")))
spit(tmp .. "/data/cifar-10-batches-bin/data_batch_1.bin", "") -- the probe sources.lua reads
spit(tmp .. "/root/nets/preact_resnet.lua", "")
spit(tmp .. "/root/nets/densenet.lua", "")
local RES = tmp .. "/results"
local EXP = RES .. "/table2_cifar"
local HOST = arg and arg[-1] or "./mixup"

-- {==================================================================================
-- Synthetic runs
-- ===================================================================================

local function config(o)
  return {
    scale = o.scale, dataset = o.dataset or "cifar10", seed = o.seed, epochs = #o.test_error,
    batch = o.batch or 128, eval_batch = 100,
    net = {family = o.family or "preact_resnet", variant = "official", width = 16, depth = 18,
           num_classes = 10, init = "torch_default"},
    data = {source = "cifar", train_examples = "all", test_examples = "all", subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = {0.4914, 0.4822, 0.4465},
            std = {0.2023, 0.1994, 0.2010}},
    mixup = {alpha = o.alpha, per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.1, factor = 0.1, milestones = {2}, lr_drop_late = false},
  }
end

local function curves(test_error, offset)
  local c = {epoch = {}, lr = {}, train_loss = {}, train_error = {}, test_loss = {},
             test_error = {}, seconds = {}}
  for e, v in ipairs(test_error) do
    c.epoch[e] = e
    c.lr[e] = e <= 2 and 0.1 or 0.01
    c.train_loss[e] = 2.0 / e
    c.train_error[e] = v - 5 + offset
    c.test_loss[e] = 1.5 / e
    c.test_error[e] = v + offset
    c.seconds[e] = 1.25
  end
  return c
end

local PROVENANCE = {project_version = "0.4.0", git_commit = "0123abcd", git_dirty = false,
                    compiler = "gcc 12", cflags = "-O2", blas = "OpenBLAS", threads = 2,
                    host = "test", start_time = "2026-01-01T00:00:00Z",
                    end_time = "2026-01-01T00:01:00Z", command = "test"}

local function run(o)
  local prov = {}
  for k, v in pairs(PROVENANCE) do prov[k] = v end
  prov.seed, prov.scale = o.seed, o.scale
  local params = tensor.new{7}
  for k = 1, 7 do params:set(0.25 * k - 1, k) end
  local buffers = tensor.new{4}
  buffers:fill(0.5)
  local r = {experiment = "table2_cifar", run_id = o.id, config = config(o), provenance = prov,
             curves = curves(o.test_error, o.offset or 0), summary = {n_params = 7},
             weights = {params = params, buffers = buffers}}
  return r
end

-- 12 epochs; the last 10 sorted: 10 12 14 16 20 30 40 50 60 70, median 25 (+ offset): the
-- summary's median_last10. The report's statistic takes the last 5 % of 12 epochs, rounded,
-- at least one: the last epoch, 16 (+ offset).
local LONG = {90, 80, 70, 60, 50, 40, 30, 20, 10, 12, 14, 16}
-- 3 epochs (fewer than 10: the median of all three): median 45 (+ offset).
local SHORT_ERM = {50, 40, 45}
local SHORT_MIX = {60, 50, 55} -- median 55, last 55 (3 epochs: a window of one)

local RUNS = {
  -- smoke: ERM 16, 18 (mean 17, std sqrt 2); mixup 11, 13 (mean 12): mixup - ERM = -5, as
  -- published (-1.7)
  {id = "smoke-erm-s1", scale = "smoke", seed = 1, alpha = 0.0, test_error = LONG, offset = 0},
  {id = "smoke-erm-s2", scale = "smoke", seed = 2, alpha = 0.0, test_error = LONG, offset = 2},
  {id = "smoke-mix-s1", scale = "smoke", seed = 1, alpha = 1.0, test_error = LONG, offset = -5},
  {id = "smoke-mix-s2", scale = "smoke", seed = 2, alpha = 1.0, test_error = LONG, offset = -3},
  -- another recipe (batch 64) in the smoke ERM cell: counted, not averaged
  {id = "smoke-erm-b64-s1", scale = "smoke", seed = 1, alpha = 0.0, test_error = LONG,
   offset = 40, batch = 64},
  -- cpu: ERM 45, 46, 47 (mean 46, std 1); mixup 55, 59, 57 (mean 57, std 2): per seed
  -- mixup - ERM = 10, 13, 10 (mean 11, sd sqrt 3, se 1, df 2): the 95 % interval
  -- 11 +- 4.3027 lies above zero, the paper's difference below: "contradicted"
  {id = "cpu-erm-s1", scale = "cpu", seed = 1, alpha = 0.0, test_error = SHORT_ERM, offset = 0},
  {id = "cpu-erm-s2", scale = "cpu", seed = 2, alpha = 0.0, test_error = SHORT_ERM, offset = 1},
  {id = "cpu-erm-s3", scale = "cpu", seed = 3, alpha = 0.0, test_error = SHORT_ERM, offset = 2},
  {id = "cpu-mix-s1", scale = "cpu", seed = 1, alpha = 1.0, test_error = SHORT_MIX, offset = 0},
  {id = "cpu-mix-s2", scale = "cpu", seed = 2, alpha = 1.0, test_error = SHORT_MIX, offset = 4},
  {id = "cpu-mix-s3", scale = "cpu", seed = 3, alpha = 1.0, test_error = SHORT_MIX, offset = 2},
  -- paper: one WRN ERM run (n = 1: no std)
  {id = "paper-wrn-erm-s1", scale = "paper", seed = 1, alpha = 0.0, family = "wrn",
   test_error = LONG, offset = -12},
}

for _, o in ipairs(RUNS) do results.write_run(EXP .. "/" .. o.id .. ".h5", run(o)) end

-- A truncated copy of a good file, as a kill during a non-atomic copy would leave.
local good = slurp(EXP .. "/smoke-erm-s1.h5")
spit(EXP .. "/truncated.h5", good:sub(1, #good // 3))

-- }==================================================================================

-- {==================================================================================
-- results.lua
-- ===================================================================================

suite:test("read_run_round_trip", function()
  local want = run(RUNS[1])
  local got, why = results.read_run(EXP .. "/smoke-erm-s1.h5")
  check.truthy(got, "read_run: " .. tostring(why))
  check.eq(got.format_version, results.FORMAT_VERSION, "format_version")
  check.eq(got.schema, results.SCHEMA_RUN, "schema")
  check.eq(got.status, "complete", "status")
  check.eq(got.experiment, "table2_cifar", "experiment")
  check.eq(got.run_id, "smoke-erm-s1", "run_id")
  check.eq(results.serialize(got.config), results.serialize(want.config), "config round trip")
  check.eq(math.type(got.config.mixup.alpha), "float", "alpha stays a float")
  check.eq(math.type(got.config.epochs), "integer", "epochs stays an integer")
  check.eq(got.config_flat["schedule.lr_drop_late"], false, "flattened boolean")
  check.eq(got.config_flat["net.width"], 16, "flattened nested key")
  check.eq(got.config_flat["data.mean"][3], 0.4465, "flattened number array")
  for k, v in pairs(want.provenance) do check.eq(got.provenance[k], v, "provenance." .. k) end
  for _, name in ipairs(results.CURVES) do
    check.eq(#got.curves[name], #want.curves[name], "curves." .. name .. " length")
    for e, v in ipairs(want.curves[name]) do
      check.eq(got.curves[name][e], v, ("curves.%s[%d]"):format(name, e))
    end
  end
  check.eq(got.summary.test_error_median_last10, 25, "median of the last 10")
  check.eq(got.summary.test_error_best, 10, "best")
  check.eq(got.summary.test_error_last, 16, "last")
  check.eq(got.summary.train_error_last, 11, "train error last")
  check.eq(got.summary.epochs, 12, "epochs")
  check.eq(got.summary.n_params, 7, "n_params")
  check.eq(got.weights.params:data_string(), want.weights.params:data_string(), "params")
  check.eq(got.weights.buffers:data_string(), want.weights.buffers:data_string(), "buffers")
end)

suite:test("final_window", function()
  -- the paper's 10 of 200 epochs is 5 %; the same fraction at every scale, at least one epoch
  check.eq(results.final_window(200), 10, "paper: 10 of 200")
  check.eq(results.final_window(100), 5, "100 epochs")
  check.eq(results.final_window(16), 1, "16 epochs: 0.8 rounds to 1")
  check.eq(results.final_window(30), 2, "30 epochs: 1.5 rounds up")
  check.eq(results.final_window(3), 1, "never fewer than one")
  local c = {test_error = {}}
  for e = 1, 100 do c.test_error[e] = e <= 95 and 50 or 10 + e - 96 end -- last 5: 10..14
  local v, k = results.median_final(c)
  check.eq(k, 5, "window")
  check.eq(v, 12, "median of 10..14, none of the earlier phase")
  -- the run's closing line names that window, not the paper's 10
  local line = require("harness.lua.tasks.classifier").summary_line{
    epochs = 100, test_error_median_last10 = 12, train_error_last = 1.5}
  check.truthy(line:find("median test error of the last 5 epochs 12.00%", 1, true), line)
  line = require("harness.lua.tasks.classifier").summary_line{
    epochs = 3, test_error_median_last10 = 90, train_error_last = 80}
  check.truthy(line:find("of the last 1 epoch 90.00%", 1, true), line)
end)

suite:test("median_last", function()
  check.eq(results.median_last({3, 1, 2}, 10), 2, "odd count, fewer than k")
  check.eq(results.median_last({9, 9, 4, 1, 3, 2}, 4), 2.5, "even count: last 4 are 4 1 3 2")
  check.eq(results.median_last({5}, 10), 5, "one epoch")
end)

suite:test("serialize_round_trip", function()
  local v = {a = 1, b = 1.0, c = 0.1, d = -0.0, e = 1e300, f = {3, 2, 1}, g = "q\"\n\0",
             h = {x = true, y = false}, ["end"] = math.mininteger, i = 1 / 0, j = {}}
  local s = results.serialize(v)
  local back = assert(results.deserialize(s))
  check.eq(results.serialize(back), s, "serialize(deserialize(s)) == s")
  check.eq(math.type(back.b), "float", "1.0 stays a float")
  check.eq(1 / back.d, -math.huge, "-0.0 keeps its sign")
  check.eq(back["end"], math.mininteger, "mininteger")
  check.eq(back.g, v.g, "string with quotes, newline and a zero byte")
  check.eq(s:find("a = 1, b = 1.0, c = 0.1", 1, true) ~= nil, true, "sorted keys: " .. s)
end)

suite:test("write_run_rejects_bad_runs", function()
  local r = run(RUNS[1])
  r.provenance.threads = nil
  check.raises(function() results.write_run(tmp .. "/x.h5", r) end,
               "results.write_run: run.provenance.threads is missing, expected an integer",
               "missing provenance field")
  r = run(RUNS[1])
  r.curves.test_loss[12] = nil
  check.raises(function() results.write_run(tmp .. "/x.h5", r) end,
               "curves.test_loss has 11 entries, curves.epoch has 12", "ragged curves")
  r = run(RUNS[1])
  r.summary.test_error_best = 3
  check.raises(function() results.write_run(tmp .. "/x.h5", r) end,
               "run.summary.test_error_best is 3 but the curves give 10", "wrong summary")
  r = run(RUNS[1])
  r.weights.params = {}
  check.raises(function() results.write_run(tmp .. "/x.h5", r) end,
               "weights.params is table, expected an engine.Tensor", "weights not a tensor")
  check.eq(slurp(tmp .. "/x.h5"), nil, "a rejected run writes nothing")
end)

suite:test("read_run_reports_bad_files", function()
  local got, why = results.read_run(EXP .. "/truncated.h5")
  check.eq(got, nil, "truncated file read")
  check.truthy(why:find(EXP .. "/truncated.h5", 1, true), "reason names the file: " .. why)
  check.truthy(why:find("truncated or corrupt", 1, true), "reason says truncated: " .. why)
  check.truthy(why:find("delete it to rerun", 1, true), "reason gives the fix: " .. why)

  got, why = results.read_run(tmp .. "/missing.h5")
  check.eq(why, tmp .. "/missing.h5: missing", "missing file")

  local path = tmp .. "/v2.h5"
  h5.write(path, {attrs = {format_version = 2, schema = results.SCHEMA_RUN}})
  got, why = results.read_run(path)
  check.truthy(why and why:find("format_version is 2, this harness reads 1", 1, true),
               "format_version checked first: " .. tostring(why))

  path = tmp .. "/ckpt.h5"
  local r = run(RUNS[1])
  checkpoint.write(path, {task = "classifier", run_id = "c", done = 12,
                                  config = r.config, curves = r.curves,
                                  curve_names = results.CURVES,
                                  state = {datasets = {params = r.weights.params},
                                           groups = {optim = {attrs = {kind = "sgd", step = 3},
                                                              datasets = {momentum_buffer =
                                                                          tensor.new(2)}}}},
                                  provenance = {start_time = "2026-11-26T00:00:00Z",
                                                threads = 2, ranks = 3, seconds = 1.5}})
  got, why = results.read_run(path)
  check.truthy(why and why:find('schema is "mixup-repro/checkpoint", expected '
                                .. '"mixup-repro/run"', 1, true), "schema: " .. tostring(why))
  local ck = assert(checkpoint.read(path))
  check.eq(ck.done, 12, "checkpoint units done")
  check.eq(ck.task, "classifier", "checkpoint task")
  check.eq(ck.state.groups.optim.attrs.step, 3, "checkpoint optimiser step")
  check.eq(ck.state.groups.optim.datasets.momentum_buffer:size(), 2, "checkpoint optimiser buffer")
  check.eq(ck.provenance.threads, 2, "checkpoint thread count")
  check.eq(ck.provenance.ranks, 3, "checkpoint rank count")
  -- a checkpoint written before ranks were recorded: one process
  local tree = h5.read(path)
  tree.groups.provenance.attrs.ranks = nil
  h5.write(path, tree)
  check.eq(assert(checkpoint.read(path)).provenance.ranks, 1, "no ranks attr: 1 rank")
  tree.groups.provenance.attrs.ranks = 0
  h5.write(path, tree)
  local none, why_ranks = checkpoint.read(path)
  check.truthy(not none and why_ranks:find("provenance.ranks is 0, expected an integer >= 1",
                                           1, true), "ranks 0: " .. tostring(why_ranks))
  check.eq(ck.provenance.seconds, 1.5, "checkpoint seconds")
  check.eq(ck.provenance.start_time, "2026-11-26T00:00:00Z", "checkpoint start time")

  -- a file whose summary disagrees with its curves (written around write_run's checks)
  path = tmp .. "/liar.h5"
  local t = h5.read(EXP .. "/smoke-erm-s1.h5")
  t.groups.summary.attrs.test_error_median_last10 = 1.0
  h5.write(path, t)
  got, why = results.read_run(path)
  check.truthy(why and why:find("summary.test_error_median_last10 is 1.0 but the curves give "
                                .. "25", 1, true), "summary checked: " .. tostring(why))
end)

suite:test("scan_lists_good_and_bad", function()
  local runs, bad = results.scan(RES)
  check.eq(#runs, #RUNS, "complete runs")
  check.eq(#bad, 1, "bad files")
  check.eq(bad[1].path, EXP .. "/truncated.h5", "bad path")
  check.truthy(bad[1].reason:find("delete it to rerun", 1, true), "bad reason")
  check.eq(runs[1].weights, nil, "scan drops the weights")
end)

-- }==================================================================================

-- {==================================================================================
-- report.lua
-- ===================================================================================

-- The experiment's grid as far as the report reads it: DenseNet is written (root/nets) but not
-- in the grid; a scale note.
local EXPERIMENT = {
  axes = {{name = "dataset", levels = {{id = "cifar10", set = {dataset = "cifar10"}},
                                       {id = "cifar100", set = {dataset = "cifar100"}}}},
          {name = "net", levels = {{id = "preact_resnet18",
                                    set = {net = {family = "preact_resnet"}}},
                                   {id = "wrn28_10", set = {net = {family = "wrn"}}}}}},
  scales = {smoke = {note = "smoke scale: 500 images"}},
}
local model = report.collect{results = RES, data = tmp .. "/data", root = tmp .. "/root",
                             now = "2026-01-01T00:00:00Z",
                             experiments = {table2_cifar = EXPERIMENT}}

local function section(scale)
  for _, sec in ipairs(model.tables[1].sections) do
    if sec.scale == scale then return sec end
  end
  error("no section for scale " .. tostring(scale))
end

local function row(sec, dataset, net, method)
  for _, r in ipairs(sec.rows) do
    if r.dataset == dataset and r.net == net and r.method == method then return r end
  end
  error(("no row %s %s %s"):format(dataset, net, method))
end

suite:test("report_sections_in_scale_order", function()
  local scales = {}
  for _, sec in ipairs(model.tables[1].sections) do scales[#scales + 1] = sec.scale end
  check.eq(table.concat(scales, ","), "paper,cpu,smoke", "sections")
  for _, sec in ipairs(model.tables[1].sections) do
    check.eq(#sec.rows, 12, "every Table 2 cell in section " .. sec.scale)
  end
end)

suite:test("report_rows_smoke", function()
  local sec = section("smoke")
  local erm = row(sec, "CIFAR-10", "PreAct ResNet-18", "ERM")
  local mix = row(sec, "CIFAR-10", "PreAct ResNet-18", "mixup")
  check.eq(erm.n, 2, "ERM n")
  check.near(erm.mean, 17, STAT_RTOL, "ERM mean (the last epoch: 5 % of 12, rounded)")
  check.eq(erm.window, 1, "window of the statistic")
  check.near(erm.std, SQRT2, STAT_RTOL, "ERM std (sample, n - 1)")
  check.eq(erm.other_recipes, 1, "the batch-64 run is another recipe")
  check.near(erm.diff, 17 - 5.6, STAT_RTOL, "ERM reproduced - published")
  check.eq(mix.n, 2, "mixup n")
  check.near(mix.mean, 12, STAT_RTOL, "mixup mean")
  check.near(mix.delta_reproduced, -5, STAT_RTOL, "mixup - ERM reproduced")
  check.near(mix.delta_published, 3.9 - 5.6, STAT_RTOL, "mixup - ERM published")
  check.eq(mix.delta_interval.method, "paired", "both methods ran seeds 1 and 2: paired")
  check.eq(mix.delta_interval.lo, nil, "per-seed differences -5, -5 have no spread: no interval")
  check.eq(mix.verdict, "inconclusive", "so no verdict but inconclusive")
  check.eq(mix.published, 3.9, "the v1 value is shown")
  check.eq(mix.note, "unverified, superseded", "with its note")
  check.eq(mix.replacement, 4.24, "and the README's value")
  check.near(mix.replacement_diff, 12 - 4.24, STAT_RTOL, "difference to the README value")
  check.eq(erm.net_run, "preact_resnet (depth=18, init=torch_default, variant=official, "
           .. "width=16)", "the net that stands for PreAct ResNet-18")
  check.eq(sec.comparable, false, "smoke is not comparable")
  check.truthy(sec.lr_drop and sec.lr_drop:find("at the milestones", 1, true), "lr drop stated")
end)

suite:test("report_rows_cpu_and_paper", function()
  local sec = section("cpu")
  local erm = row(sec, "CIFAR-10", "PreAct ResNet-18", "ERM")
  local mix = row(sec, "CIFAR-10", "PreAct ResNet-18", "mixup")
  check.eq(erm.n, 3, "ERM n")
  check.near(erm.mean, 46, STAT_RTOL, "ERM mean (median of all 3 epochs)")
  check.near(erm.std, 1, STAT_RTOL, "ERM std")
  check.near(mix.mean, 57, STAT_RTOL, "mixup mean")
  check.near(mix.std, 2, STAT_RTOL, "mixup std")
  check.eq(mix.delta_interval.method, "paired", "paired by seed")
  check.near(mix.delta_interval.lo, 11 - 4.30265, 1e-4, "interval low end (t_0.975(2) = 4.3027)")
  check.near(mix.delta_interval.hi, 11 + 4.30265, 1e-4, "interval high end")
  check.eq(mix.verdict, "contradicted", "mixup worse than ERM over the whole interval")
  local paper = section("paper")
  local wrn = row(paper, "CIFAR-10", "WRN-28-10", "ERM")
  check.eq(wrn.n, 1, "WRN n")
  check.near(wrn.mean, 4, STAT_RTOL, "WRN mean")
  check.eq(wrn.std, nil, "no std from one seed")
  check.eq(paper.comparable, true, "paper is comparable")
  local wmix = row(paper, "CIFAR-10", "WRN-28-10", "mixup")
  check.eq(wmix.verdict, nil, "no verdict without a mixup run")
end)

suite:test("report_not_run_reasons", function()
  local sec = section("smoke")
  local c100 = row(sec, "CIFAR-100", "PreAct ResNet-18", "ERM")
  check.eq(c100.status, "not run", "CIFAR-100 status")
  check.eq(c100.reason, "CIFAR-100 data absent (`make data-cifar100`)", "CIFAR-100 reason")
  local wrn_mix = row(sec, "CIFAR-10", "WRN-28-10", "mixup")
  check.eq(wrn_mix.reason, "WRN-28-10 is not implemented yet (nets/wrn.lua absent)",
           "net file missing")
  local dn = row(sec, "CIFAR-10", "DenseNet-BC-190", "mixup")
  check.eq(dn.reason, "DenseNet-BC-190 is not in the grid of experiments/table2_cifar.lua yet",
           "net not in the grid")
  local wrn = row(section("paper"), "CIFAR-10", "PreAct ResNet-18", "ERM")
  check.eq(wrn.reason, "no run of this cell at this scale", "scale without this cell")
end)

suite:test("report_markdown", function()
  local md = report.render(model)
  local function has(s, what)
    check.truthy(md:find(s, 1, true), what .. ": missing " .. s)
  end
  has("## Table 2: CIFAR-10 and CIFAR-100 test error (%), scale `smoke`", "smoke heading")
  has("> **Scale `cpu`: \u{2020} not comparable in magnitude with the paper", "cpu label")
  check.eq(md:find("Scale `paper`: ", 1, true), nil, "no label on the paper scale")
  has("| CIFAR-10 | PreAct ResNet-18 | ERM | 5.6 | 17.00 \u{b1} 1.41 \u{2020} (1 other recipe "
      .. "not shown) | 2 | smoke |", "smoke ERM row")
  has("| CIFAR-10 | PreAct ResNet-18 | mixup | 3.9 (unverified, superseded; author's README: "
      .. "4.24) | 12.00 \u{b1} 1.41 \u{2020} | 2 | smoke |", "smoke mixup row")
  has("| +8.10 (vs README: +7.76) | -1.70 (README: -1.36) / -5.00 | -5.00 (no interval) "
      .. "(paired by seed, n = 2 + 2) | inconclusive |", "smoke verdict")
  has("| -1.70 (README: -1.36) / +11.00 | +11.00 [+6.70, +15.30] (paired by seed, n = 3 + 3) "
      .. "| contradicted |", "cpu verdict")
  has("> **Scale `smoke`: its runs are too short to learn anything: its verdicts check the "
      .. "pipeline only", "smoke verdicts labelled")
  has("| CIFAR-10 | WRN-28-10 | ERM | 3.8 | 4.00 \u{b1} \u{2013} | 1 | paper |", "paper row")
  has("| not run: CIFAR-100 data absent (`make data-cifar100`) | 0 |", "not run")
  has("seed 1: 16.00 (training 11.0 %), seed 2: 18.00 (training 13.0 %)",
      "per-seed values with the last training error")
  has("(12 epochs, median of the last 1; the last epoch's training error in brackets): seed 1: 16.00",
      "the window named")
  has("Scale note (experiments/table2_cifar.lua): smoke scale: 500 images.", "scale note")
  has("LR drops at the milestones, as the paper states (lr_drop_late = false).", "lr drop")
  has("`optim.weight_decay=0.0001`", "shared recipe")
  has(EXP .. "/truncated.h5: not a valid HDF5 file (truncated or corrupt); delete it to rerun",
      "bad file listed")
end)

-- Diverged records (harness/lua/lifecycle.lua) count per cell and never enter a mean: the cpu
-- ERM cell with 2 complete seeds and 1 diverged, the cpu mixup cell with every seed diverged.
suite:test("report_diverged_cells", function()
  local res = tmp .. "/results_div"
  local exp = res .. "/table2_cifar"
  local function write_diverged(o)
    local r = run(o)
    diverged.write(exp .. "/" .. o.id .. ".h5", {
      experiment = r.experiment, run_id = r.run_id, task = "classifier", unit = "epoch",
      at = 2, total = 3, detail = "step 4 of 20: loss nan", fix = "lower schedule.base_lr",
      config = r.config, provenance = r.provenance,
      curves = {epoch = {1.0}, test_error = {50.0}}})
  end
  for k = 1, 2 do
    results.write_run(exp .. "/cpu-erm-s" .. k .. ".h5", run{id = "cpu-erm-s" .. k,
      scale = "cpu", seed = k, alpha = 0.0, test_error = SHORT_ERM, offset = k})
  end
  write_diverged{id = "cpu-erm-s3", scale = "cpu", seed = 3, alpha = 0.0, test_error = SHORT_ERM}
  for k = 1, 3 do
    write_diverged{id = "cpu-mix-s" .. k, scale = "cpu", seed = k, alpha = 1.0, test_error = SHORT_MIX}
  end
  local m = report.collect{results = res, data = tmp .. "/data", root = tmp .. "/root",
                           now = "2026-01-01T00:00:00Z",
                           experiments = {table2_cifar = EXPERIMENT}}
  check.eq(m.n_runs, 2, "complete runs")
  check.eq(m.n_diverged, 4, "diverged records")
  check.eq(#m.bad, 0, "no bad file")
  local sec = m.tables[1].sections[1]
  check.eq(sec.scale, "cpu", "one section")
  local erm, mix
  for _, r in ipairs(sec.rows) do
    if r.dataset == "CIFAR-10" and r.net == "PreAct ResNet-18" then
      if r.method == "ERM" then erm = r else mix = r end
    end
  end
  check.eq(erm.n, 2, "ERM: 2 seeds averaged")
  check.eq(erm.diverged, 1, "ERM: 1 diverged")
  check.near(erm.mean, 46.5, 1e-12, "ERM mean of the complete seeds (46, 47)")
  check.eq(mix.status, report.DIVERGED, "mixup: every seed diverged")
  check.eq(mix.verdict, nil, "no verdict without mixup values")
  local md = report.render(m)
  local function has(str, what)
    check.truthy(md:find(str, 1, true), what .. ": missing " .. str .. "\n" .. md)
  end
  has("2 complete runs, 4 diverged, 0 unreadable files.", "counts")
  has("46.50 \u{b1} 0.71 \u{2020}; diverged (1 of 3 seeds, left out of the mean)", "ERM cell")
  has("| diverged (3 of 3 seeds) |", "mixup cell")
  has("seed 3: diverged at epoch 2/3", "per-seed line")
  check.eq(md:find("nan", 1, true), nil, "no NaN anywhere")
  -- plots draw the complete runs and name the diverged ones
  local log = tmp .. "/plots_div.log"
  local cmd = ("%s tools/plots.lua --results %s --data %s --out %s --no-gnuplot > %s 2>&1")
              :format(HOST, shell_quote(res), shell_quote(tmp .. "/data"),
                      shell_quote(tmp .. "/plots_div"), shell_quote(log))
  check.truthy(os.execute(cmd), "tools/plots.lua failed: " .. tostring(slurp(log)))
  local text = slurp(log)
  check.truthy(text:find("plots: CIFAR-10 PreAct ResNet-18 mixup, scale cpu: 3 diverged runs "
                         .. "not drawn", 1, true), "the note:\n" .. text)
  check.truthy(text:find("table2_cifar_cpu_cifar10_preact_resnet18_erm.dat", 1, true),
               "the complete ERM runs exported:\n" .. text)
end)

suite:test("report_cli", function()
  local out = tmp .. "/out/REPORT.md"
  local cmd = ("%s tools/report.lua --results %s --data %s --out %s --quiet 2>/dev/null")
              :format(HOST, shell_quote(RES), shell_quote(tmp .. "/data"), shell_quote(out))
  check.truthy(os.execute(cmd), "tools/report.lua failed: " .. cmd)
  local md = slurp(out)
  check.truthy(md and md:find("# Reproduction report", 1, true), "REPORT.md written")
  check.truthy(md:find(#RUNS .. " complete runs, 0 diverged, 1 unreadable file.", 1, true),
               "counts")
end)

-- }==================================================================================

-- {==================================================================================
-- plots
-- ===================================================================================

suite:test("plots_export_and_draw", function()
  local out = tmp .. "/plots"
  local cmd = ("%s tools/plots.lua --results %s --data %s --out %s >/dev/null 2>&1")
              :format(HOST, shell_quote(RES), shell_quote(tmp .. "/data"), shell_quote(out))
  check.truthy(os.execute(cmd), "tools/plots.lua failed: " .. cmd)
  -- the exported mean/min/max of epoch 1 over the smoke ERM seeds (90 and 92)
  local dat = slurp(out .. "/data/table2_cifar_smoke_cifar10_preact_resnet18_erm.dat")
  check.truthy(dat, "smoke ERM curves exported")
  check.truthy(dat:find("\n1 91 90 92 2 90 92\n", 1, true), "epoch 1 row:\n" .. dat)
  local pub = slurp(out .. "/data/table2_cifar_cpu_published.dat")
  check.truthy(pub and pub:find('2 3.9 57 2 3 4.24 "C10 PreAct ResNet-18 mixup"', 1, true),
               "published table row:\n" .. tostring(pub))
  check.truthy(pub:find('7 25.6 ? ? 0 ? "C100 PreAct ResNet-18 ERM"', 1, true),
               "missing values are '?'")
  -- mixup - ERM at cpu: paired, 11 +- t_0.975(2) x 1 (see RUNS), contradicted
  local diff = slurp(out .. "/data/table2_cifar_cpu_differences.dat")
  check.truthy(diff and diff:find('1 -1.7 11 6.69735 15.3027 3 3 "C10 PreAct ResNet-18" '
                                  .. '"contradicted"', 1, true),
               "difference row:\n" .. tostring(diff))
  check.truthy(diff:find('4 -4.5 ? ? ? ? ? "C100 PreAct ResNet-18" "not run"', 1, true),
               "a pair without runs")
  for _, name in ipairs{"smoke_curves_cifar10_preact_resnet18",
                        "cpu_curves_cifar10_preact_resnet18", "paper_curves_cifar10_wrn28_10",
                        "smoke_published", "cpu_published", "paper_published",
                        "smoke_differences", "cpu_differences"} do
    local png = slurp(out .. "/table2_cifar_" .. name .. ".png")
    check.truthy(png and #png > 1000 and png:sub(1, 8) == PNG_MAGIC, name .. ".png is a PNG")
    local svg = slurp(out .. "/table2_cifar_" .. name .. ".svg")
    check.truthy(svg and svg:find("<svg", 1, true), name .. ".svg is an SVG")
  end
end)

-- }==================================================================================

if os.getenv("KEEP_TMP") then
  print("kept " .. tmp)
else
  os.execute("rm -rf " .. shell_quote(tmp))
end
suite:finish()
