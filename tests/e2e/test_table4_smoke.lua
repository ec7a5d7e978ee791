-- test_table4_smoke.lua: the Table 4 smoke reproduction end to end, as `make reproduce-table4
-- SCALE=smoke` runs it: experiments/run.lua trains the published winners (ERM, ERM + dropout,
-- mixup at 20 / 50 / 80 % label noise) on real CIFAR-10; the noisy label sets are checked
-- across the grid (one per level, shared by every method, the fraction changed within binomial
-- noise of 0.9 p), the extra curves and summary attributes are read back with engine.h5, and
-- the report section and the plot tables are made from the files. Needs the CIFAR-10 files
-- (`make data`). Run as `./mixup tests/e2e/test_table4_smoke.lua`.
local check = require "tests.lua.check"
local h5 = require "engine.h5"
local grid = require "harness.lua.grid"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local sources = require "harness.lua.sources"
local t4 = require "harness.lua.table4_report"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local EXPERIMENT = "table4_noisy"
local SCALE = "smoke"

local OUT = os.tmpname()
os.remove(OUT)
local LOG = OUT .. ".log"

local slurp = check.slurp -- the log exists once the shell has redirected into it

local exp = require("experiments." .. EXPERIMENT)
local runs = grid.expand(exp, SCALE)
local read = {}

suite:test("smoke_grid_is_the_published_winners", function()
  check.eq(#runs, 9, "3 noise levels x 3 methods x 1 seed")
  local want = {n20 = {erm = 0, dropout_p07 = 0.7, mixup_a8 = 0},
                n50 = {erm = 0, dropout_p08 = 0.8, mixup_a32 = 0},
                n80 = {erm = 0, dropout_p08 = 0.8, mixup_a32 = 0}}
  for _, r in ipairs(runs) do
    local p = want[r.levels.noise][r.levels.method]
    check.truthy(p, "unexpected run " .. r.id)
    check.eq(r.config.net.dropout, p, r.id .. " dropout")
  end
end)

suite:test("smoke_table_runs", function()
  local have, why = sources.available{data = {source = "cifar"}, dataset = "cifar10"}
  check.truthy(have, "the smoke table trains on real CIFAR-10: " .. tostring(why))
  local ok = os.execute(("%s --threads 2 experiments/run.lua %s --scale %s --out %s > %s 2>&1")
                        :format(EXE, EXPERIMENT, SCALE, OUT, LOG)) == true
  check.truthy(ok, "experiments/run.lua failed:\n" .. slurp(LOG))
  for _, r in ipairs(runs) do
    local path = lifecycle.paths(OUT, EXPERIMENT, r.id)
    local run, why2 = results.read_run(path, {weights = false})
    check.truthy(run, tostring(why2))
    read[r.id] = run
  end
end)

suite:test("smoke_noisy_labels_per_level", function()
  local hash_of, n_train = {}, exp.scales.smoke.set.data.train_examples
  for _, r in ipairs(runs) do
    local s = read[r.id].summary
    local p = r.config.data.label_noise.p
    -- each label is redrawn with probability p and changes with probability 0.9 p
    local q = 0.9 * p
    local sd = math.sqrt(q * (1 - q) / n_train)
    check.truthy(math.abs(s.label_noise_changed - q) <= 4 * sd,
                 ("%s: %.3f changed, expected %.3f +- 4 x %.3f"):format(r.id,
                 s.label_noise_changed, q, sd))
    local h = hash_of[r.levels.noise]
    if h then
      check.eq(s.label_noise_md5, h, r.id .. ": the level's labels are shared by its methods")
    end
    hash_of[r.levels.noise] = s.label_noise_md5
  end
  check.truthy(hash_of.n20 ~= hash_of.n50 and hash_of.n50 ~= hash_of.n80, "levels differ")
end)

suite:test("smoke_train_set_curves", function()
  for _, r in ipairs(runs) do
    local path = lifecycle.paths(OUT, EXPERIMENT, r.id)
    local c = h5.read(path).groups.curves.datasets
    local s = h5.read_attrs(path, "summary")
    local e = r.config.epochs
    for _, name in ipairs{"train_error_real", "train_error_corrupted"} do
      check.eq(#c[name], e, name .. " has one entry per epoch")
      for i = 1, e do
        check.truthy(c[name][i] >= 0 and c[name][i] <= 100, name .. " is a percentage")
      end
    end
    check.eq(s.train_error_real_labels, c.train_error_real[e], "summary real = last entry")
    check.eq(s.train_error_corrupted_labels, c.train_error_corrupted[e], "corrupted")
    check.eq(s.test_error_best, math.min(table.unpack(c.test_error)), "best = min")
  end
end)

suite:test("smoke_report_section", function()
  local model = t4.collect{results = OUT}
  check.eq(#model.sections, 1, "one scale")
  local sec = model.sections[1]
  check.eq(sec.scale, SCALE, "scale")
  local ran = 0
  for _, lv in ipairs(sec.levels) do
    for _, row in ipairs(lv.rows) do
      if row.runs then
        ran = ran + 1
        check.truthy(row.published.best, lv.noise .. " " .. row.method .. " has published")
      end
    end
    check.eq(lv.by["mixup + dropout"].runs, nil, "mixup + dropout not run at smoke")
  end
  check.eq(ran, 9, "every run placed in a row")
  local md = t4.render(model)
  check.truthy(md:find("| 50% | ERM | \u{2013} / \u{2013} | 1 | 3 | 18.8 / ", 1, true),
               "ERM row at 50 %:\n" .. md)
  check.truthy(md:find("| 80% | mixup \u{2212} (ERM + dropout), last | -4.2 |", 1, true),
               "a claim row:\n" .. md)
end)

suite:test("smoke_plot_tables", function()
  local dir = OUT .. "/plots"
  local ok = os.execute(("%s tools/table4.lua --results %s --out %s --no-gnuplot > %s 2>&1")
                        :format(EXE, OUT, dir, LOG)) == true
  check.truthy(ok, "tools/table4.lua failed:\n" .. slurp(LOG))
  local f = dir .. "/data/table4_noisy_smoke_corrupted_n80_erm.dat"
  local text = slurp(f)
  check.truthy(text:find("# epoch mean min max n seed_1", 1, true), f .. ":\n" .. text)
  local rows = 0
  for _ in text:gmatch("\n%d+ ") do rows = rows + 1 end
  check.eq(rows, 3, "one row per measured epoch")
end)

sys.remove_tree(OUT)
os.remove(LOG)
suite:finish()
