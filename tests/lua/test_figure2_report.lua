-- test_figure2_report.lua: Figure 2's report section and plot tables
-- (harness/lua/figure2_report.lua, tools/figure2.lua) from synthetic interpolation evaluations
-- written through the task's own result tree (harness/lua/tasks/interpolation.lua): the series
-- over seeds (mean, min, max), the paired verdicts at lambda = 0.5 against intervals computed
-- here by hand, the paper's read-off values marked approximate, and the exported tables.
-- Run as `./mixup tests/lua/test_figure2_report.lua [filter]`.
local check = require "tests.lua.check"
local sys = require "engine.sys"
local results = require "harness.lua.results"
local interp = require "harness.lua.tasks.interpolation"
local f2 = require "harness.lua.figure2_report"

local suite = check.suite(...)

local tmp = os.tmpname()
os.remove(tmp)

-- seed s: ERM miss 2, 15 + s, 3 at lambda 0, 0.5, 1; mixup 1, 5 + 2 s, 1; norms likewise / 100
local function write(s)
  local c = {unit = {1, 2, 3}, lambda = {0, 0.5, 1}, seconds = {1, 1, 1},
             erm_miss = {2, 15 + s, 3}, mixup_miss = {1, 5 + 2 * s, 1},
             erm_gnorm = {0.01, 0.15 + s / 100, 0.01}, mixup_gnorm = {0.01, 0.03, 0.01},
             erm_gnorm_sd = {0, 0, 0}, mixup_gnorm_sd = {0, 0, 0}}
  local cfg = {scale = "cpu", seed = s, lambdas = {0, 0.5, 1}, pairs = 10, pair_seed = 0,
               target = "mixed", eval_batch = 10,
               source = {experiment = "table2_cifar", scale = "cpu", dataset = "cifar10",
                         net = "preact_resnet18", erm = "erm", mixup = "mixup_a1"}}
  local st = {erm = {id = "e" .. s, md5 = "0"}, mixup = {id = "m" .. s, md5 = "0"}}
  local tree = interp.result(st, {
    experiment = f2.EXPERIMENT, run_id = "cpu-s" .. s, config = cfg, curves = c, seconds = 1,
    provenance = {scale = "cpu", seed = s, threads = 1, command = "test", start_time = "t",
                  end_time = "t", git_commit = "x", git_dirty = false, host = "h",
                  compiler = "cc", cflags = "-O2", blas = "b", project_version = "v"}})
  results.write_tree(("%s/%s/cpu-s%d.h5"):format(tmp, f2.EXPERIMENT, s), tree)
end
for s = 1, 3 do write(s) end

suite:test("series_and_verdicts", function()
  local model = f2.collect{results = tmp}
  local sec = model.sections[1]
  check.eq(sec.n, 3, "three seeds")
  local half = sec.series.erm_miss[2]
  check.eq(half.mean, 17, "ERM miss at 0.5: mean of 16, 17, 18")
  check.eq(half.min .. " " .. half.max, "16.0 18.0", "min and max")
  -- mixup - ERM miss at 0.5: (7 - 16, 9 - 17, 11 - 18) = -9, -8, -7: mean -8, sd 1
  local c = sec.claims[1]
  check.near(c.d.mean, -8, 1e-12, "mean difference")
  check.near(c.d.hi, -8 + 4.302653 / math.sqrt(3), 1e-5, "paired t interval")
  check.eq(c.verdict, "reproduced", "miss claim")
  -- gradient norm: 0.03 - (0.16, 0.17, 0.18)
  check.eq(sec.claims[2].verdict, "reproduced", "gradient norm claim")
  local md = f2.render(model)
  check.truthy(md:find("| 0.5 | \u{2248} 16\u{2013}17 / 17.0 \u{b1} 1.0 | \u{2248} 6 / 9.0 "
                       .. "\u{b1} 2.0 |", 1, true), md)
  check.truthy(md:find("| mixup's miss rate below ERM's | -8.00 [", 1, true), md)
end)

suite:test("plot_tables", function()
  local exe = check.host_exe(arg)
  local out = tmp .. "/plots"
  check.truthy(os.execute(("%s tools/figure2.lua --results %s --out %s --no-gnuplot > %s.log "
                           .. "2>&1"):format(exe, tmp, out, tmp)), "tools/figure2.lua")
  local f = assert(io.open(out .. "/data/figure2_cpu_miss_erm.dat"))
  local text = f:read("a")
  f:close()
  check.truthy(text:find("# lambda mean min max n seed_1 seed_2 seed_3", 1, true), text)
  check.truthy(text:find("\n0.5 17 16 18 3 16 17 18\n", 1, true), text)
end)

sys.remove_tree(tmp)
suite:finish()
