-- test_ablation_smoke.lua: the ablation's smoke reproduction end to end, as `make
-- reproduce-ablation SCALE=smoke` runs it: experiments/run.lua trains one row of each family
-- (ERM and mixup at both decays; nearest-neighbour mixup, latent mixing at layer 3, SMOTE,
-- label smoothing, mix + label smoothing, input noise at 1e-4) on real CIFAR-10; the
-- neighbour tables are checked across the grid (one per partner rule, the same for every seed,
-- different between all-class and same-class), every run lands in its paper row of the report
-- with the sourced and recalled values marked, the conclusions get verdicts, and the plot table
-- is made from the files. Needs the CIFAR-10 files (`make data`). Run as
-- `./mixup tests/e2e/test_ablation_smoke.lua`.
local check = require "tests.lua.check"
local grid = require "harness.lua.grid"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local sources = require "harness.lua.sources"
local abl = require "harness.lua.ablation_report"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local EXPERIMENT = "ablation_cifar"
local SCALE = "smoke"

local OUT = os.tmpname()
os.remove(OUT)
local LOG = OUT .. ".log"

local slurp = check.slurp

local exp = require("experiments." .. EXPERIMENT)
local runs = grid.expand(exp, SCALE)
local read = {}

suite:test("smoke_grid", function()
  check.eq(#runs, 20, "(4 cells at both decays + 6 at 1e-4) x 2 seeds")
  local want = {}
  for _, r in ipairs(runs) do
    local id = abl.row_of(r.config)
    check.truthy(id, r.id .. " is a paper row")
    want[id .. "@" .. r.config.optim.weight_decay] = true
  end
  for _, k in ipairs{"erm@0.0001", "erm@0.0005", "mixup@0.0001", "mixup@0.0005",
                     "mixup_knn@0.0001", "layer3@0.0001", "in_sc_knn@0.0001", "ls0.1@0.0001",
                     "mixls0.1@0.0001", "noise0.05@0.0001"} do
    check.truthy(want[k], "the smoke grid has " .. k)
  end
end)

suite:test("smoke_runs", function()
  local have, why = sources.available{data = {source = "cifar"}, dataset = "cifar10"}
  check.truthy(have, "the smoke ablation trains on real CIFAR-10: " .. tostring(why))
  local ok = os.execute(("%s --threads 2 experiments/run.lua %s --scale %s --out %s > %s 2>&1")
                        :format(EXE, EXPERIMENT, SCALE, OUT, LOG)) == true
  check.truthy(ok, "experiments/run.lua failed:\n" .. slurp(LOG))
  for _, r in ipairs(runs) do
    local run, why2 = results.read_run(lifecycle.paths(OUT, EXPERIMENT, r.id), {weights = false})
    check.truthy(run, tostring(why2))
    read[r.id] = run
  end
end)

suite:test("smoke_neighbour_tables", function()
  local md5 = {}
  for _, r in ipairs(runs) do
    local s, p = read[r.id].summary, r.config.mixup.partner
    if p == "knn" or p == "knn_same_class" then
      check.eq(s.knn_k, 3, r.id .. ": k")
      check.truthy(md5[p] == nil or md5[p] == s.knn_md5, r.id .. ": one table per rule")
      md5[p] = s.knn_md5
    else
      check.eq(s.knn_md5, nil, r.id .. ": no table without nearest-neighbour partners")
    end
  end
  check.truthy(md5.knn and md5.knn_same_class and md5.knn ~= md5.knn_same_class,
               "all-class and same-class tables differ")
end)

suite:test("smoke_report_section", function()
  local model = abl.collect{results = OUT}
  check.eq(#model.sections, 1, "one scale")
  local sec = model.sections[1]
  check.eq(sec.scale, SCALE, "scale")
  local placed = 0
  for _, r in ipairs(sec.rows) do
    for i = 1, 2 do if r.cells[i] then placed = placed + r.cells[i].n end end
  end
  check.eq(placed, #runs, "every run placed in a row")
  check.eq(sec.cells.erm[2].n, 2, "ERM at 5e-4 has both seeds")
  local md = abl.render(model)
  check.truthy(md:find("| ERM | 5.53 (README) | ", 1, true), "ERM row sourced:\n" .. md)
  check.truthy(md:find("| mixup AC + KNN | 4.98 (recalled, unverified) | ", 1, true),
               "recalled value marked:\n" .. md)
  check.truthy(md:find("| mixup, layer 4 | 5.95 (recalled, unverified) | not in the grid |",
                       1, true), "a row outside the grid:\n" .. md)
  local names = {}
  for _, c in ipairs(sec.claims) do
    names[#names + 1] = c.name
    check.truthy(c.verdict == "reproduced" or c.verdict == "inconclusive"
                 or c.verdict == "contradicted", c.name .. ": a verdict")
  end
  check.eq(#sec.claims, 6, "best, two decay claims, three small-gain claims: "
           .. table.concat(names, "; "))
  check.eq(#sec.claims[1].lines, 7, "mixup against the 7 other rows at 1e-4")
end)

-- A scale whose grid leaves out the 5e-4 rows (as the cpu scale does) names that in the decay
-- claims instead of "not run".
suite:test("smoke_report_decays_outside_the_grid", function()
  local dir = OUT .. "/only1em4"
  check.truthy(sys.mkdir_p(dir .. "/" .. EXPERIMENT))
  local kept = 0
  for _, r in ipairs(runs) do
    if r.config.optim.weight_decay == 1e-4 then
      local from = lifecycle.paths(OUT, EXPERIMENT, r.id)
      local to = lifecycle.paths(dir, EXPERIMENT, r.id)
      check.truthy(os.execute(("cp %s %s"):format(from, to)) == true, "copy " .. from)
      kept = kept + 1
    end
  end
  check.eq(kept, 16, "8 cells at 1e-4 x 2 seeds")
  local e = {name = exp.name, schema = exp.schema, base = exp.base, axes = exp.axes,
             scales = {smoke = {seeds = exp.scales.smoke.seeds, set = exp.scales.smoke.set,
                                only = {{wd = "wd1em4"}}}}}
  local sec = abl.collect{results = dir, experiment = e}.sections[1]
  check.eq(sec.claims[2].verdict, "not in this scale's grid", sec.claims[2].name)
  check.eq(sec.claims[3].verdict, "not in this scale's grid", sec.claims[3].name)
  check.truthy(sec.claims[1].verdict, "mixup best still has a verdict")
  local full = abl.collect{results = OUT}.sections[1]
  check.truthy(full.claims[2].d and full.claims[2].verdict ~= "not in this scale's grid",
               "with the 5e-4 runs the decay claim is measured")
end)

suite:test("smoke_plot_table", function()
  local dir = OUT .. "/plots"
  local ok = os.execute(("%s tools/ablation.lua --results %s --out %s --no-gnuplot > %s 2>&1")
                        :format(EXE, OUT, dir, LOG)) == true
  check.truthy(ok, "tools/ablation.lua failed:\n" .. slurp(LOG))
  local text = slurp(dir .. "/data/ablation_smoke.dat")
  local rows = 0
  for _ in text:gmatch("\n%d+ \"") do rows = rows + 1 end
  check.eq(rows, 8, "one line per row that ran:\n" .. text)
  check.truthy(text:find('"ERM" ', 1, true) and text:find(" 5.53 5.18", 1, true),
               "ERM with the sourced values:\n" .. text)
end)

sys.remove_tree(OUT)
os.remove(LOG)
suite:finish()
