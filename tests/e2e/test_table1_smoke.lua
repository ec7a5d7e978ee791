-- test_table1_smoke.lua: the Table 1 smoke reproduction end to end (issue 15), as `make
-- reproduce-table1 SCALE=smoke` runs it, in a data root of its own: tools/imagenet_smoke.lua
-- writes the generated JPEG folder (varied sizes, grayscale and CMYK files),
-- tools/imagenet_index.lua checks it (a full-ImageNet check refuses it, --expect own accepts
-- it) and writes the index, and experiments/run.lua trains the grid's ERM and mixup runs
-- (ResNet of width 4, micro-batches of 8, warm-up, top-5). Each results file has the top-5
-- curve and summary; a second invocation skips both; a training image replaced by bytes that
-- are not a JPEG makes a forced rerun fail with one line naming that file.
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
  check.truthy(ok and text:find("48 training and 16 validation images", 1, true),
               "index:\n" .. text)
end)

suite:test("smoke_table_runs", function()
  local ok, text = run_table()
  check.truthy(ok, "run.lua:\n" .. text)
  check.truthy(text:find("batch 16 in passes of 8", 1, true), "micro-batches:\n" .. text)
  check.eq(#runs, 2, "ERM and mixup")
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

suite:test("bad_jpeg_named", function()
  local bad = FOLDER .. "/train/n00000002/n00000002_3.JPEG"
  check.spit(bad, "this is not a JPEG")
  local ok, text = run_table("--force")
  check.truthy(not ok, "a forced rerun fails")
  check.truthy(text:find(bad .. ": jpeg: not a JPEG file", 1, true),
               "the file and the reason:\n" .. text)
  check.truthy(not text:find("stack traceback", 1, true), "no traceback:\n" .. text)
end)

sys.remove_tree(ROOT)
suite:finish()
