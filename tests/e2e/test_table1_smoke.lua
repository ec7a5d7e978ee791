-- test_table1_smoke.lua: the Table 1 smoke reproduction end to end (issue 15), as `make
-- reproduce-table1 SCALE=smoke` runs it, in a data root of its own: tools/imagenet_smoke.lua
-- writes the generated JPEG folder (varied sizes, grayscale and CMYK files),
-- tools/imagenet_index.lua checks it (a full-ImageNet check refuses it, --expect own accepts
-- it) and writes the index, and experiments/run.lua trains the grid's ERM and mixup runs
-- (ResNet of width 4, micro-batches of 8, warm-up, top-5, 2 seeds). Each results file has the
-- top-5 curve and summary; a second invocation skips them all; Table 5's attacks run on these
-- ImageNet models; a training image replaced by bytes that are not a JPEG makes a forced rerun
-- fail with one line naming that file.
local check = require "tests.lua.check"
local grid = require "harness.lua.grid"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local sys = require "engine.sys"

local suite = check.suite(...)

local EXE = check.host_exe(arg)
local EXPERIMENT, SCALE = "table1_imagenet", "smoke"
local ROOT = os.tmpname()
os.remove(ROOT)
assert(sys.mkdir_p(ROOT))
local DATA, OUT, LOG = ROOT .. "/data", ROOT .. "/results", ROOT .. "/log"
local FOLDER = DATA .. "/imagenet-smoke"

local function sh(cmd)
  local ok = os.execute(("MIXUP_DATA=%s %s > %s 2>&1"):format(DATA, cmd, LOG))
  return ok == true, check.slurp(LOG)
end

local function run_table(extra)
  return sh(("%s --threads 2 experiments/run.lua %s --scale %s --out %s %s"):format(EXE,
            EXPERIMENT, SCALE, OUT, extra or ""))
end

local exp = require("experiments." .. EXPERIMENT)
local runs = grid.expand(exp, SCALE)

suite:test("generated_folder_and_index", function()
  local ok, text = sh(("%s tools/imagenet_smoke.lua %s"):format(EXE, FOLDER))
  check.truthy(ok, "generator:\n" .. text)
  ok, text = sh(("%s tools/imagenet_index.lua %s --out %s/index.tsv"):format(EXE, FOLDER,
                FOLDER))
  check.truthy(not ok and text:find("4 class folders in train/, expected 1000", 1, true),
               "not ILSVRC-2012:\n" .. text)
  check.truthy(not sys.exists(FOLDER .. "/index.tsv"), "no index after a failed check")
  ok, text = sh(("%s tools/imagenet_index.lua %s --expect own --out %s/index.tsv"):format(EXE,
                FOLDER, FOLDER))
  check.truthy(ok and text:find("48 training (0.3 MB) and 16 validation images (0.1 MB;", 1,
               true), "index:\n" .. text)
end)

suite:test("smoke_table_runs", function()
  local ok, text = run_table()
  check.truthy(ok, "run.lua:\n" .. text)
  check.truthy(text:find("batch 16 in passes of 8", 1, true), "micro-batches:\n" .. text)
  check.eq(#runs, 4, "ERM and mixup, 2 seeds")
  for _, r in ipairs(runs) do
    local got = assert(results.read_run(lifecycle.paths(OUT, EXPERIMENT, r.id)))
    local top5 = got.curves.test_error_top5
    check.eq(#top5, r.config.epochs, r.id .. ": a top-5 error per epoch")
    check.eq(got.summary.test_error_top5_last, top5[#top5], r.id .. ": summary")
    check.eq(got.curves.lr[1], r.config.schedule.warmup_from, r.id .. ": warm-up start")
    check.eq(#got.curves.test_error, r.config.epochs, r.id .. ": top-1 curve")
  end
  ok, text = run_table()
  local _, skipped = text:gsub("%] skip ", "")
  check.truthy(ok and skipped == #runs, "a second run skips both:\n" .. text)
end)

-- Table 5's attacks on these ImageNet models (tasks/adversarial.lua through
-- harness/lua/models.lua): the validation images at their centre crops, ERM seed 1 attacking
-- itself and seed 2, mixup seed 1 attacking itself; FGSM and 2-step I-FGSM at eps 8.
suite:test("table5_attacks_on_imagenet_models", function()
  local adversarial = require "harness.lua.tasks.adversarial"
  local config = require "harness.lua.config"
  local cfg = config.validate({
    scale = "test", seed = 0, seed_a = 1, seed_b = 2,
    source = {experiment = EXPERIMENT, scale = SCALE, dataset = "imagenet", net = "resnet50",
              erm = "erm", mixup = "mixup"},
    eps = {8}, ifgsm_iters = 2, quantize = false, eval_batch = 8,
  }, adversarial.schema)
  -- the models' data are found through MIXUP_DATA's index: run in a child with it set
  local driver = ROOT .. "/t5.lua"
  check.spit(driver, ([[
local lifecycle = require "harness.lua.lifecycle"
local adversarial = require "harness.lua.tasks.adversarial"
local config = require "harness.lua.config"
local cfg = config.validate(%s, adversarial.schema)
print(lifecycle.run(adversarial, {id = "t5", config = cfg}, {experiment = "t5", out = %q,
                    threads = 1, command = "test"}))
]]):format(results.serialize(cfg), OUT))
  local ok, text = sh(("%s %s"):format(EXE, driver))
  check.truthy(ok and text:find("done t5", 1, true), "attacks:\n" .. text)
  check.truthy(text:find("on 16 test images", 1, true), "the 16 validation images:\n" .. text)
  local r = assert(adversarial.read_result(lifecycle.paths(OUT, "t5", "t5")))
  for _, w in ipairs{"clean_erm", "white_erm", "black_mixup", "white_mixup"} do
    local v = r.curves[w .. "_top1"][1]
    check.truthy(v >= 0 and v <= 100, w .. " top-1 is a percentage: " .. v)
  end
  check.eq(r.curves.clean_erm_top1[1], r.curves.clean_erm_top1[2], "clean error in both units")
end)

-- A file that is not a JPEG (of the size the index holds, so that the decoder meets it), then
-- one whose size changed since the index was written: each named with its reason.
suite:test("bad_jpeg_named", function()
  local bad = FOLDER .. "/train/n00000002/n00000002_3.JPEG"
  local bytes = assert(sys.file_size(bad))
  check.spit(bad, ("this is not a JPEG "):rep(bytes):sub(1, bytes))
  local ok, text = run_table("--force")
  check.truthy(not ok, "a forced rerun fails")
  check.truthy(text:find(bad .. ": jpeg: not a JPEG file", 1, true),
               "the file and the reason:\n" .. text)
  check.truthy(not text:find("stack traceback", 1, true), "no traceback:\n" .. text)
  check.spit(bad, "short")
  ok, text = run_table("--force")
  check.truthy(not ok and text:find(bad .. ": 5 bytes, the index says " .. bytes, 1, true),
               "a changed file:\n" .. text)
end)

sys.remove_tree(ROOT)
suite:finish()
