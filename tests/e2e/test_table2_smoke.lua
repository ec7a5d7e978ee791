-- test_table2_smoke.lua: the Table 2 smoke reproduction end to end, as `make reproduce-table2
-- SCALE=smoke` runs it: experiments/run.lua trains every CIFAR-10 cell of the grid (CIFAR-100
-- cells are skipped with a message when its data are absent), and each results file is
-- checked against the schema (README "Results files") with engine.h5 directly, not only
-- through harness/lua/results.lua's reader. A second invocation must skip every run.
-- Needs the CIFAR-10 files (`make data`). Run as `./mixup tests/e2e/test_table2_smoke.lua`.
local check = require "tests.lua.check"
local h5 = require "engine.h5"
local grid = require "harness.lua.grid"
local results = require "harness.lua.results"
local lifecycle = require "harness.lua.lifecycle"
local sources = require "harness.lua.sources"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local THREADS = 2
local EXPERIMENT = "table2_cifar"
local SCALE = "smoke"

local OUT = os.tmpname() -- the results root of this test, removed at the end
os.remove(OUT)
local LOG = OUT .. ".log"

local function slurp(p)
  local f = io.open(p, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

local function run_table()
  return os.execute(("%s --threads %d experiments/run.lua %s --scale %s --out %s > %s 2>&1")
                    :format(EXE, THREADS, EXPERIMENT, SCALE, OUT, LOG)) == true
end

local exp = require("experiments." .. EXPERIMENT)
local runs = grid.expand(exp, SCALE)
local first_log

suite:test("smoke_table_runs", function()
  local have, why = sources.available{data = {source = "cifar"}, dataset = "cifar10"}
  check.truthy(have, "the smoke table trains on real CIFAR-10: " .. tostring(why))
  local ok = run_table()
  first_log = slurp(LOG)
  check.truthy(ok, "experiments/run.lua failed:\n" .. first_log)
  for _, r in ipairs(runs) do
    local path = lifecycle.paths(OUT, EXPERIMENT, r.id)
    if sources.available(r.config) then
      check.truthy(h5.is_complete(path), "results file of " .. r.id)
    else
      check.truthy(first_log:find("skip " .. r.id:gsub("%-", "%%-") .. ": CIFAR%-100 not found"),
                   "skip message for " .. r.id .. ":\n" .. first_log)
    end
  end
end)

suite:test("smoke_files_follow_the_schema", function()
  local n = 0
  for _, r in ipairs(runs) do
    local path, ckpt = lifecycle.paths(OUT, EXPERIMENT, r.id)
    if sources.available(r.config) then
      n = n + 1
      local f = io.open(ckpt, "rb")
      check.truthy(f == nil, "checkpoint removed: " .. ckpt)
      local root = h5.read_attrs(path)
      check.eq(root.format_version, 1, "format_version")
      check.eq(root.schema, "mixup-repro/run", "schema")
      check.eq(root.experiment, EXPERIMENT, "experiment")
      check.eq(root.run_id, r.id, "run_id")
      check.eq(root.status, "complete", "status")

      local cfg = h5.read_attrs(path, "config")
      check.eq(cfg["schedule.lr_drop_late"], false, "boolean attr")
      check.eq(cfg["mixup.alpha"], r.config.mixup.alpha, "mixup.alpha")
      check.eq(cfg.epochs, r.config.epochs, "epochs")
      check.eq(cfg.scale, SCALE, "scale")
      check.eq(#cfg["schedule.milestones"], #r.config.schedule.milestones, "array attr")
      check.eq(cfg.lua, results.serialize(r.config), "config.lua attr")
      check.eq(path:match("%-(%x+)%.h5$"), grid.config_hash(r.config), "id hash = config hash")

      local prov = h5.read_attrs(path, "provenance")
      for name, kind in pairs(results.PROVENANCE) do
        check.eq(math.type(prov[name]) or type(prov[name]), kind, "provenance." .. name)
      end
      check.eq(prov.threads, THREADS, "threads")
      check.eq(prov.seed, r.config.seed, "seed")
      check.eq(prov.scale, SCALE, "provenance scale")
      check.truthy(prov.command:find("experiments/run.lua " .. EXPERIMENT, 1, true), "command")

      local epochs = r.config.epochs
      local listed = {}
      for _, d in ipairs(h5.list(path, "curves")) do listed[d.name] = d end
      for _, name in ipairs(results.CURVES) do
        local d = listed[name]
        check.truthy(d, "curves/" .. name)
        check.eq(d.kind, "f64", "curves/" .. name .. " kind")
        check.eq(d.shape[1], epochs, "curves/" .. name .. " length")
      end
      local tree = h5.read(path)
      local c = tree.groups.curves.datasets
      for e = 1, epochs do
        check.eq(c.epoch[e], e + 0.0, "epoch numbers")
        local want_lr = r.config.schedule.base_lr
        for _, m in ipairs(r.config.schedule.milestones) do
          if e - 1 >= m then want_lr = want_lr * r.config.schedule.factor end
        end
        check.near(c.lr[e], want_lr, 1e-12, "lr of epoch " .. e)
        for _, name in ipairs{"train_error", "test_error"} do
          check.truthy(c[name][e] >= 0 and c[name][e] <= 100, name .. " is a percentage")
        end
        check.truthy(c.train_loss[e] > 0 and c.test_loss[e] > 0, "losses")
        check.truthy(c.seconds[e] > 0, "seconds")
      end

      local s = h5.read_attrs(path, "summary")
      check.eq(s.epochs, epochs, "summary.epochs")
      check.eq(s.test_error_median_last10, results.median_last(c.test_error, 10), "median")
      check.eq(s.test_error_last, c.test_error[epochs], "last")
      check.eq(s.train_error_last, c.train_error[epochs], "train last")

      local w = {}
      for _, d in ipairs(h5.list(path, "weights")) do w[d.name] = d end
      check.eq(w.params.kind, "f32", "params kind")
      check.eq(w.params.shape[1], s.n_params, "params length = n_params")
      check.eq(w.buffers.kind, "f32", "buffers kind")
      check.truthy(w.buffers.shape[1] > 0, "BN buffers present")
      check.truthy(results.read_run(path), "results.read_run accepts it")
    end
  end
  check.eq(n, 12, "every CIFAR-10 run: 3 nets x (ERM, mixup) x 2 seeds")
end)

suite:test("smoke_runs_differ", function()
  local by = {}
  for _, r in ipairs(runs) do
    local path = lifecycle.paths(OUT, EXPERIMENT, r.id)
    if sources.available(r.config) and r.config.dataset == "cifar10" then
      by[r.levels.method .. r.levels.seed] = assert(results.read_run(path))
    end
  end
  check.truthy(by.erm1.weights.params:data_string() ~= by.mixup_a11.weights.params:data_string(),
               "ERM and mixup train differently")
  check.truthy(by.erm1.weights.params:data_string() ~= by.erm2.weights.params:data_string(),
               "seeds differ")
end)

suite:test("smoke_second_invocation_skips", function()
  check.truthy(run_table(), "second invocation failed:\n" .. slurp(LOG))
  check.truthy(slurp(LOG):find(" 0 done, ", 1, true), "nothing retrained:\n" .. slurp(LOG))
end)

-- The report and plot checks (tools/report.lua, tools/plots.lua) read the results under OUT.

sys.remove_tree(OUT)
os.remove(LOG)
suite:finish()
