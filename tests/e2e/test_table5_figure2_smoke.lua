-- test_table5_figure2_smoke.lua: the Table 5 and Figure 2 smoke evaluations end to end, as
-- `make reproduce-table5 SCALE=smoke` and `make reproduce-figure2 SCALE=smoke` run them: experiments/run.lua trains the Table 2 smoke models it needs (through
-- the one lifecycle, into the same results folder), attacks them (FGSM and I-FGSM, white and
-- black box) and writes one attack-evaluation file per pair; the file names the models' run ids
-- and file MD5s, its curves hold one entry per attack; a second invocation retrains and
-- re-evaluates nothing; the paper scale is skipped with a message while Table 1 has no
-- experiment script. Figure 2 then measures the same models between training pairs without
-- training anything. Needs the CIFAR-10 files (`make data`). Run as
-- `./mixup tests/e2e/test_table5_figure2_smoke.lua`.
local check = require "tests.lua.check"
local grid = require "harness.lua.grid"
local lifecycle = require "harness.lua.lifecycle"
local adv = require "harness.lua.tasks.adversarial"
local models = require "harness.lua.models"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local OUT = os.tmpname()
os.remove(OUT)
local LOG = OUT .. ".log"

local slurp = check.slurp -- the log exists once the shell has redirected into it

local function run(scale, experiment)
  return os.execute(("%s --threads 2 experiments/run.lua %s --scale %s --out %s > %s 2>&1")
                    :format(EXE, experiment or "table5_adversarial", scale, OUT, LOG)) == true
end

local exp = require "experiments.table5_adversarial"
local runs = grid.expand(exp, "smoke")
local hashes = {}

suite:test("smoke_evaluations_run", function()
  check.truthy(run("smoke"), "experiments/run.lua failed:\n" .. slurp(LOG))
  check.eq(#runs, 2, "two pairs")
  for _, r in ipairs(runs) do
    local e, why = adv.read_result((lifecycle.paths(OUT, "table5_adversarial", r.id)))
    check.truthy(e, tostring(why))
    local m = e.models
    for _, role in ipairs{"erm", "erm_b", "mixup"} do
      local path = lifecycle.paths(OUT, "table2_cifar", m[role .. "_run_id"])
      check.eq(m[role .. "_file_md5"], models.file_md5(path), role .. " md5 names the file")
      hashes[path] = m[role .. "_file_md5"]
    end
    check.truthy(m.erm_run_id:find("%-erm%-s" .. r.config.seed_a .. "%-"), "attacker seed")
    check.truthy(m.erm_b_run_id:find("%-erm%-s" .. r.config.seed_b .. "%-"), "second seed")
    check.truthy(m.mixup_run_id:find("%-mixup_a1%-s" .. r.config.seed_a .. "%-"), "mixup")
    local c = e.curves
    check.eq(#c.unit, 2, "FGSM and I-FGSM at one eps")
    check.eq(c.iters[1], 1, "FGSM first")
    check.eq(c.iters[2], r.config.ifgsm_iters, "then I-FGSM")
    check.eq(c.eps[2], 4, "eps")
    for _, name in ipairs(adv.curves) do
      if name:find("_top") then
        for u = 1, 2 do
          check.truthy(c[name][u] >= 0 and c[name][u] <= 100, name .. " is a percentage")
        end
        check.truthy(c[name:gsub("top1", "top5")][1] <= c[name:gsub("top5", "top1")][1],
                     "top-5 error <= top-1 error")
      end
    end
    check.eq(c.clean_erm_top1[1], c.clean_erm_top1[2], "clean error the same every unit")
  end
end)

suite:test("smoke_second_invocation_retrains_nothing", function()
  check.truthy(run("smoke"), "second invocation failed:\n" .. slurp(LOG))
  check.truthy(slurp(LOG):find(" 0 done, 2 already complete", 1, true), slurp(LOG))
  for path, h in pairs(hashes) do check.eq(models.file_md5(path), h, "model kept: " .. path) end
end)

suite:test("paper_scale_waits_for_table1", function()
  run("paper")
  check.truthy(slurp(LOG):find("no ImageNet index at", 1, true), slurp(LOG))
end)

suite:test("figure2_smoke_on_the_same_models", function()
  local interp = require "harness.lua.tasks.interpolation"
  check.truthy(run("smoke", "figure2_interpolation"), "figure 2 failed:\n" .. slurp(LOG))
  check.truthy(not slurp(LOG):find("] run smoke%-cifar10"), "no model trained:\n" .. slurp(LOG))
  local r = grid.expand(require "experiments.figure2_interpolation", "smoke")[1]
  local e, why = interp.read_result((lifecycle.paths(OUT, "figure2_interpolation", r.id)))
  check.truthy(e, tostring(why))
  check.eq(table.concat(e.curves.lambda, ","), "0.0,0.5,1.0", "one unit per lambda")
  for u = 1, 3 do
    for _, m in ipairs{"erm", "mixup"} do
      check.truthy(e.curves[m .. "_miss"][u] >= 0 and e.curves[m .. "_miss"][u] <= 100, "miss")
      check.truthy(e.curves[m .. "_gnorm"][u] > 0, "gradient norm")
    end
  end
  local path = lifecycle.paths(OUT, "table2_cifar", e.models.erm_run_id)
  check.eq(e.models.erm_file_md5, models.file_md5(path), "the ERM model's md5")
end)

sys.remove_tree(OUT)
os.remove(LOG)
suite:finish()
