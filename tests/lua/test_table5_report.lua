-- test_table5_report.lua: Table 5's report section (harness/lua/table5_report.lua) from
-- synthetic attack-evaluation files with known errors, written through the task's own result
-- tree (harness/lua/tasks/adversarial.lua): the cells of the paper's layout (mean +- sd over
-- the triples), the top-1 accuracy ratios, the paired verdicts against intervals computed here
-- by hand, the white-box I-FGSM row without a verdict, another scale's evaluation kept in its
-- own section, no ratio where ERM has no accuracy left, and mixup - ERM net of each model's
-- clean error.
-- Run as `./mixup tests/lua/test_table5_report.lua [filter]`.
local check = require "tests.lua.check"
local sys = require "engine.sys"
local results = require "harness.lua.results"
local adv = require "harness.lua.tasks.adversarial"
local t5 = require "harness.lua.table5_report"

local suite = check.suite(...)

local tmp = os.tmpname()
os.remove(tmp)

-- One evaluation file: eps {4}, FGSM then I-FGSM; every error is base + offset by curve.
local function write(scale, a, b, errs)
  local curves = {}
  for _, name in ipairs(adv.curves) do curves[name] = {0.0, 0.0} end
  curves.unit, curves.eps, curves.iters = {1, 2}, {4, 4}, {1, 10}
  for name, v in pairs(errs) do curves[name] = v end
  local cfg = {scale = scale, seed = 0, seed_a = a, seed_b = b,
               source = {experiment = "table2_cifar", scale = scale, dataset = "cifar10",
                         net = "preact_resnet18", erm = "erm", mixup = "mixup_a1"},
               eps = {4}, ifgsm_iters = 10, quantize = false, eval_batch = 100}
  local st = {erm = {id = "e" .. a, md5 = "0"}, erm_b = {id = "e" .. b, md5 = "0"},
              mixup = {id = "m" .. a, md5 = "0"}, n_test = 2000}
  local id = ("%s-a%db%d"):format(scale, a, b)
  local tree = adv.result(st, {
    experiment = t5.EXPERIMENT, run_id = id, config = cfg, curves = curves, seconds = 1.0,
    provenance = {scale = scale, seed = 0, threads = 1, command = "test", start_time = "t",
                  end_time = "t", git_commit = "x", git_dirty = false, host = "h",
                  compiler = "cc", cflags = "-O2", blas = "b", project_version = "v"}})
  results.write_tree(("%s/%s/%s.h5"):format(tmp, t5.EXPERIMENT, id), tree)
end

-- cpu, 3 triples: FGSM white ERM 90, 92, 94 vs mixup 70, 73, 76 (differences -20, -19, -18)
write("cpu", 1, 2, {white_erm_top1 = {90, 99}, white_mixup_top1 = {70, 98},
                    black_erm_b_top1 = {50, 60}, black_mixup_top1 = {45, 50},
                    clean_erm_top1 = {10, 10}, clean_mixup_top1 = {5, 5}})
write("cpu", 2, 3, {white_erm_top1 = {92, 99}, white_mixup_top1 = {73, 99},
                    black_erm_b_top1 = {52, 62}, black_mixup_top1 = {48, 53}})
write("cpu", 3, 1, {white_erm_top1 = {94, 99}, white_mixup_top1 = {76, 97},
                    black_erm_b_top1 = {54, 64}, black_mixup_top1 = {51, 56}})
write("smoke", 1, 2, {white_erm_top1 = {50, 100}})

local model
suite:test("cells_and_ratios", function()
  model = t5.collect{results = tmp}
  check.eq(#model.sections, 2, "cpu and smoke")
  local sec = model.sections[1]
  check.eq(sec.scale, "cpu", "cpu first")
  check.eq(sec.n, 3, "three triples")
  local at = sec.eps[1]
  check.eq(at.eps, 4, "eps")
  local c = at.cells["white-box/top1/ERM/FGSM"]
  check.eq(c.mean, 92, "white-box ERM FGSM mean")
  check.eq(c.sd, 2, "sd")
  check.eq(at.cells["white-box/top1/mixup/I-FGSM"].mean, 98, "I-FGSM from the second unit")
  local fgsm_white = at.claims[1]
  check.eq(fgsm_white.attack .. " " .. fgsm_white.setting, "FGSM white-box", "first claim")
  -- accuracies (30/10, 27/8, 24/6): 3, 3.375, 4
  check.near(fgsm_white.ratio, (3 + 3.375 + 4) / 3, 1e-12, "mean ratio")
  check.near(fgsm_white.published_ratio, 24.8 / 9.3, 1e-12, "published ratio")
end)

suite:test("verdicts", function()
  local claims = model.sections[1].eps[1].claims
  -- FGSM white: -20, -19, -18: mean -19, sd 1, t(0.975, 2) = 4.302653
  local half = 4.302653 / math.sqrt(3)
  check.near(claims[1].d.mean, -19, 1e-12, "mean difference")
  check.near(claims[1].d.hi, -19 + half, 1e-5, "hi")
  check.eq(claims[1].verdict, "reproduced", "FGSM white")
  -- net of clean error: triple 1 (70 - 5) - (90 - 10) = -15, then -19, -18 (clean 0)
  check.near(claims[1].d_net.mean, (-15 - 19 - 18) / 3, 1e-12, "net of clean error")
  -- black box uses ERM b's clean error (0 here) and mixup's (5): (45 - 5) - 50 = -10, -4, -3
  check.near(claims[2].d_net.mean, (-10 - 4 - 3) / 3, 1e-12, "black box net of clean error")
  -- FGSM black: -5, -4, -3
  check.near(claims[2].d.mean, -4, 1e-12, "black mean")
  check.eq(claims[2].verdict, "reproduced", "FGSM black (interval -4 +- 2.48)")
  -- I-FGSM black: -10, -9, -8
  check.eq(claims[3].verdict, "reproduced", "I-FGSM black")
  -- I-FGSM white: no verdict
  check.eq(claims[4].verdict, nil, "I-FGSM white has no verdict")
  check.truthy(claims[4].no_verdict, "and says why")
  local md = t5.render(model)
  check.truthy(md:find("| white-box | top-1 | ERM | 90.7 / 92.0 \u{b1} 2.0 | 99.9 / 99.0 "
                       .. "\u{b1} 0.0 |", 1, true), md)
  check.truthy(md:find("| FGSM | white-box | 2.67 / 3.46 \u{b1} 0.51 | -15.5 | -19.00 [", 1,
                       true), md)
  check.truthy(md:find("| reproduced | -17.33 [", 1, true), "the net column:\n" .. md)
  check.truthy(md:find("### Scale `smoke` (1 triple of models)", 1, true), md)
  -- smoke's ERM has no accuracy left under white-box I-FGSM: no ratio, and the report says why
  local w = model.sections[2].eps[1].claims[4]
  check.eq(w.ratio, nil, "no ratio when ERM's accuracy is 0")
  check.eq(w.ratio_undefined, "1 of 1", "the triples that make it undefined")
  check.truthy(md:find("| I-FGSM | white-box | 4.00 / undefined (ERM accuracy 0 in 1 of 1 "
                       .. "triples) |", 1, true), md)
  check.truthy(t5.render{sections = {}}:find("Not run yet (`make reproduce-table5`)", 1, true),
               "empty")
end)

sys.remove_tree(tmp)
suite:finish()
