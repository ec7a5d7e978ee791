-- test_table5_figure2_smoke.lua: the Table 5 and Figure 2 smoke evaluations end to end, as
-- `make reproduce-table5 SCALE=smoke` and `make reproduce-figure2 SCALE=smoke` run them (two
-- processes, --part 1/2 and 2/2, started together): experiments/run.lua trains the Table 2
-- smoke models they need first, each process half of them (through the one lifecycle, into
-- the same results folder), attacks them (FGSM and I-FGSM, white and black box) and writes one
-- attack-evaluation file per pair; the file names the models' run ids
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

-- the grid as make's JOBS=2 runs it: two processes of 1 thread at once; true when both succeed
local function run_parts(scale)
  local cmd = "%s --threads 1 experiments/run.lua table5_adversarial --scale %s --out %s "
              .. "--part %d/2 > %s.%d 2>&1"
  local both = ("( %s & %s & wait $! && wait ) > /dev/null 2>&1"):format(
    cmd:format(EXE, scale, OUT, 1, LOG, 1), cmd:format(EXE, scale, OUT, 2, LOG, 2))
  local ok = os.execute(both) == true
  local f = assert(io.open(LOG, "w"))
  for k = 1, 2 do
    f:write(("-- part %d/2\n"):format(k), slurp(("%s.%d"):format(LOG, k)))
    os.remove(("%s.%d"):format(LOG, k))
  end
  f:close()
  return ok
end

local exp = require "experiments.table5_adversarial"
local runs = grid.expand(exp, "smoke")
local hashes = {}

suite:test("source_seed_outside_the_source_scale", function()
  -- Table 2's smoke scale has seeds 1 and 2; seed 3 is the same recipe at seed 3, with the id
  -- the grid would give it
  local src = exp.scales.smoke.set.source
  local t2 = require "experiments.table2_cifar"
  local r3 = models.source_run(src, "erm", 3)
  check.eq(r3.config.seed, 3, "the config's seed")
  local wide = {}
  for k, v in pairs(t2) do wide[k] = v end
  wide.scales = {smoke = {}}
  for k, v in pairs(t2.scales.smoke) do wide.scales.smoke[k] = v end
  wide.scales.smoke.seeds = {1, 2, 3}
  local want = grid.expand(wide, "smoke", grid.parse_filters(
    {"dataset=cifar10", "net=preact_resnet18", "method=erm", "seed=3"}, wide, "smoke"))[1]
  check.eq(r3.id, want.id, "the run id of seed 3 in a grid listing it")
  check.eq(models.source_run(src, "erm", 1).id, grid.expand(t2, "smoke", grid.parse_filters(
    {"dataset=cifar10", "net=preact_resnet18", "method=erm", "seed=1"}, t2, "smoke"))[1].id,
    "a listed seed: the grid's own run")
  check.eq(#t2.scales.smoke.seeds, 2, "the source experiment is left as it was")
end)

suite:test("smoke_evaluations_run", function()
  check.truthy(run_parts("smoke"), "experiments/run.lua failed:\n" .. slurp(LOG))
  local log = slurp(LOG)
  -- 4 models (ERM and mixup of seeds 1 and 2), 2 trained by each process before any attack
  check.eq(select(2, log:gsub("4 source models were absent: 2 trained by this process", "")),
           2, "each process trains half of the source models:\n" .. log)
  check.eq(select(2, log:gsub("%] run smoke%-cifar10", "")), 4, "each model trained once")
  check.truthy(not log:find("%] failed") and not log:find("source model failed"), log)
  check.eq(select(2, log:gsub(" 1 done, 0 already complete, 0 diverged, 0 failed", "")), 2,
           "each process evaluates its pair:\n" .. log)
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

suite:test("load_waits_for_a_model_another_worker_holds", function()
  -- seed 3's ERM model is claimed by a live process (this one, through its lock); load waits,
  -- and trains it itself once the lock is gone (its holder ended without a result)
  local runlock = require "harness.lua.runlock"
  local src = exp.scales.smoke.set.source
  local run = models.source_run(src, "erm", 3)
  local path = lifecycle.paths(OUT, "table2_cifar", run.id)
  local lock = path .. lifecycle.LOCK_EXT
  check.truthy(runlock.claim(lock, run.id, function() end), "the test holds the lock")
  check.truthy(os.execute(("( sleep 1; rm -f %s ) > /dev/null 2>&1 &"):format(lock)), "timer")
  local lines, print0, poll = {}, print, models.WAIT_POLL
  models.WAIT_POLL = 0.2
  rawset(_G, "print", function(...) lines[#lines + 1] = table.concat({...}, "\t") end)
  local ok, m = pcall(models.load, src, "erm", 3, {out = OUT, threads = 1, command = "test",
                                                    data_cache = {}}, 100)
  rawset(_G, "print", print0)
  models.WAIT_POLL = poll
  check.truthy(ok, tostring(m))
  local said = table.concat(lines, "\n")
  check.truthy(said:find("waiting for the source model " .. run.id, 1, true), said)
  check.eq(select(2, said:gsub("waiting for", "")), 1, "said once")
  check.truthy(sys.exists(path), "trained once the lock was gone")
  check.eq(m.config.seed, 3, "the seed-3 model")
  check.eq(m.md5, models.file_md5(path), "loaded from its file")
end)

sys.remove_tree(OUT)
os.remove(LOG)
suite:finish()
