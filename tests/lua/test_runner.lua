-- test_runner.lua: the experiment harness with the classifier task (harness/lua/config.lua,
-- grid.lua, lifecycle.lua, tasks/classifier.lua, provenance.lua, experiments/run.lua). Run as
-- `./mixup tests/lua/test_runner.lua [filter]`. (The loop with a toy task: test_lifecycle.lua.)
--   config_*      validation errors name the key; types are exact; numbers are normalised
--   grid_*        product order, ids, hashes, per-level overrides, filters and their errors
--   median_*      the paper's statistic on known arrays
--   tiny_*        in-process runs on synthetic data: repeatable bits, skip when complete,
--                 damaged or truncated results reported and rerun, a NaN loss recorded
--   grid_*        experiments/run.lua as child processes on a synthetic grid: diverged runs
--                 recorded while the grid goes on (exit status 1), two workers on one
--                 results folder training each run once, bit-identical to one worker
--   resume_kill9  a smoke run of table2_cifar as a child process, killed with kill -9
--                 mid-epoch after its first checkpoint, then rerun: the results must be
--                 bit-identical (curves and weights) to an uninterrupted run (needs
--                 `make data`)
local check = require "tests.lua.check"
local config = require "harness.lua.config"
local grid = require "harness.lua.grid"
local provenance = require "harness.lua.provenance"
local diverged = require "harness.lua.diverged"
local results = require "harness.lua.results"
local checkpoint = require "harness.lua.checkpoint"
local lifecycle = require "harness.lua.lifecycle"
local sources = require "harness.lua.sources"
local classifier = require "harness.lua.tasks.classifier"
local sys = require "engine.sys"

local suite = check.suite(...)

local SCHEMA = classifier.schema
local EXE = check.host_exe(arg)
local THREADS = 2           -- both sides of every bit comparison use the same count
local POLL_S = 0.02         -- polling interval while waiting for the child's checkpoint
local CHILD_TIMEOUT_S = 300 -- a smoke run takes seconds; this only stops a hung test

local tmp_root = os.tmpname()
os.remove(tmp_root)
assert(sys.mkdir_p(tmp_root))

local function sh(cmd) return os.execute(cmd) == true end

local exists, slurp, spit = check.exists, check.slurp, check.spit

-- A complete, valid config on synthetic data, small enough to train in a fraction of a second.
local function tiny_config(over)
  local c = {
    scale = "test", dataset = "cifar10", seed = 3, epochs = 2, batch = 16, eval_batch = 16,
    net = {family = "preact_resnet", variant = "official", depth = 18, width = 2,
           num_classes = 10, init = "torch_default"},
    data = {source = "synthetic", train_examples = 40, test_examples = 24, subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = {0.5, 0.5, 0.5},
            std = {0.25, 0.25, 0.25}},
    mixup = {alpha = 1, per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.05, factor = 0.1, milestones = {1}, lr_drop_late = false},
  }
  return config.merge(c, over)
end

-- ============================================================================================
-- config

suite:test("config_valid", function()
  local c = config.validate(tiny_config(), SCHEMA)
  check.eq(math.type(c.mixup.alpha), "float", "numbers become floats (1 -> 1.0)")
  check.eq(math.type(c.seed), "integer", "integers stay integers")
  check.eq(c.schedule.milestones[1], 1, "milestone")
  check.eq(math.type(c.schedule.milestones[1]), "integer", "integer list")
  local a = config.validate(tiny_config{data = {train_examples = "all"}}, SCHEMA)
  check.eq(a.data.train_examples, "all", "the 'all' sentinel")
  -- 1 and 1.0 spell the same config, hence the same id
  check.eq(grid.config_hash(config.validate(tiny_config{mixup = {alpha = 1.0}}, SCHEMA)),
           grid.config_hash(c), "hash of 1 vs 1.0")
end)

suite:test("config_errors", function()
  local function bad(over, needle, what)
    check.raises(function() config.validate(tiny_config(over), SCHEMA) end, needle, what)
  end
  bad({optim = {lr = 0.1}}, "config: unknown option 'optim.lr' (known: decay_all_params, kind, "
      .. "momentum, nesterov, weight_decay)", "unknown nested key")
  bad({epochz = 3}, "config: unknown option 'epochz'", "unknown top-level key")
  bad({epochs = "10"}, "config: option 'epochs' is string \"10\", expected an integer >= 1",
      "string for integer")
  bad({epochs = 10.0}, "config: option 'epochs' is float 10.0, expected an integer >= 1",
      "float for integer")
  bad({epochs = 0}, "config: option 'epochs' is integer 0, expected an integer >= 1", "range")
  bad({schedule = {lr_drop_late = 0}}, "config: option 'schedule.lr_drop_late' is integer 0, "
      .. "expected a boolean (true or false)", "0 for a boolean")
  bad({data = {flip = "yes"}}, "option 'data.flip' is string \"yes\", expected a boolean",
      "string for a boolean")
  bad({optim = {momentum = 0 / 0}}, "option 'optim.momentum' is float nan, expected a finite "
      .. "number", "NaN")
  bad({data = {train_examples = 0}}, "option 'data.train_examples' is integer 0, expected an "
      .. "integer >= 1 or \"all\"", "no magic 0")
  bad({data = {train_examples = "everything"}}, "is string \"everything\"", "bad sentinel")
  bad({schedule = {milestones = {8, 4}}}, "option 'schedule.milestones[2]' is integer 4, "
      .. "expected a list of integers >= 1, strictly increasing", "milestone order")
  bad({data = {mean = {0.5, 0.5}}}, "option 'data.mean' is a table, expected a list of 3 "
      .. "numbers", "length")
  bad({dataset = "mnist"}, "option 'dataset' is string \"mnist\", expected one of cifar10, "
      .. "cifar100", "enum")
  bad({net = {family = "vgg"}}, "option 'net.family' is string \"vgg\", expected one of "
      .. "preact_resnet", "family")
  bad({net = {widht = 3}}, "config: option 'net': preact_resnet: unknown option 'widht'",
      "net options are checked by the net's constructor")
  bad({net = {width = {"x"}}}, "option 'net.width' is a table, expected a non-empty list of "
      .. "finite numbers", "net type")
  bad({net = {width = {1}}}, "preact_resnet: option 'width' is a table", "a list the net refuses")
  local c = tiny_config()
  c.mixup = nil
  check.raises(function() config.validate(c, SCHEMA) end,
               "config: missing required option 'mixup'", "missing")
end)

suite:test("config_merge", function()
  local base = {a = {b = 1, c = {1, 2, 3}}, d = "x"}
  local m = config.merge(base, {a = {c = {9}}, e = true})
  check.eq(m.a.b, 1, "kept")
  check.eq(#m.a.c, 1, "lists are replaced, not merged")
  check.eq(m.e, true, "added")
  check.eq(#base.a.c, 3, "base untouched")
end)

-- ============================================================================================
-- grid

-- A two-axis experiment over tiny_config.
local function tiny_experiment()
  return {
    name = "tiny", schema = "image_classification", base = tiny_config(),
    axes = {
      {name = "method", levels = {{id = "erm", set = {mixup = {alpha = 0}}},
                                  {id = "mixup_a1", set = {mixup = {alpha = 1}}}}},
      {name = "width", levels = {{id = "w2", set = {net = {width = 2}}},
                                 {id = "w3", set = {net = {width = 3}}}}},
    },
    scales = {
      test = {seeds = {1, 2}, set = {epochs = 2},
              per_level = {["width=w3"] = {batch = 8}}},
    },
  }
end

suite:test("grid_expand", function()
  local exp = tiny_experiment()
  local runs = grid.expand(exp, "test")
  check.eq(#runs, 8, "2 x 2 x 2 runs")
  local want = {"erm-w2-s1", "erm-w2-s2", "erm-w3-s1", "erm-w3-s2", "mixup_a1-w2-s1"}
  for i, w in ipairs(want) do
    local prefix = runs[i].id:match("^test%-(.*)%-%x%x%x%x%x%x%x%x$")
    check.eq(prefix, w, "run " .. i .. " id " .. runs[i].id)
  end
  check.eq(runs[1].config.mixup.alpha, 0.0, "level set")
  check.eq(runs[6].config.seed, 2, "seed axis")
  check.eq(runs[3].config.batch, 8, "per-level override")
  check.eq(runs[1].config.batch, 16, "base value elsewhere")
  check.eq(runs[1].config.scale, "test", "scale in the config")
  check.eq(runs[1].levels.method, "erm", "levels")
  -- stable: the same grid gives the same ids; the hash is that of the resolved config
  local again = grid.expand(tiny_experiment(), "test")
  for i = 1, #runs do check.eq(again[i].id, runs[i].id, "stable id " .. i) end
  check.eq(runs[1].id:sub(-8), grid.config_hash(runs[1].config), "hash suffix")
  -- a changed recipe keeps the readable part and changes the hash
  local exp2 = tiny_experiment()
  exp2.base.schedule.base_lr = 0.2
  local runs2 = grid.expand(exp2, "test")
  check.eq(runs2[1].id:sub(1, -9), runs[1].id:sub(1, -9), "readable part")
  check.truthy(runs2[1].id ~= runs[1].id, "changed recipe, new id")
  -- all ids distinct
  local seen = {}
  for _, r in ipairs(runs) do
    check.truthy(not seen[r.id], "distinct id " .. r.id)
    seen[r.id] = true
  end
end)

suite:test("grid_only", function()
  local exp = tiny_experiment()
  exp.scales.test.only = {{method = "erm", width = {"w2", "w3"}}, {method = "mixup_a1",
                                                                  width = "w3"}}
  local runs = grid.expand(exp, "test")
  local ids = {}
  for i, r in ipairs(runs) do ids[i] = r.id:match("^test%-(.*)%-%x+$") end
  check.eq(table.concat(ids, " "), "erm-w2-s1 erm-w2-s2 erm-w3-s1 erm-w3-s2 mixup_a1-w3-s1 "
           .. "mixup_a1-w3-s2", "kept: every entry's product, in grid order")
  -- a kept run has the same id as in the full grid (only selects, it changes no config)
  local full = grid.expand(tiny_experiment(), "test")
  check.eq(runs[5].id, full[7].id, "same id as unrestricted")
  exp.scales.test.only = {{method = "erm", widht = "w2"}}
  check.raises(function() grid.expand(exp, "test") end,
               "experiment tiny: scale 'test': only[1]: unknown option 'widht'", "axis typo")
  exp.scales.test.only = {{method = "mixup_a2"}}
  check.raises(function() grid.expand(exp, "test") end,
               "experiment tiny: scale 'test': only[1]: option 'method' is string "
               .. "\"mixup_a2\", expected a level id of axis 'method'", "level typo")
  exp.scales.test.only = {}
  check.raises(function() grid.expand(exp, "test") end, "option 'only'", "empty list")
end)

suite:test("grid_filters", function()
  local exp = tiny_experiment()
  local f = grid.parse_filters({"method=mixup_a1", "seed=2"}, exp, "test")
  local runs = grid.expand(exp, "test", f)
  check.eq(#runs, 2, "filtered runs")
  check.truthy(runs[1].id:find("^test%-mixup_a1%-w2%-s2%-"), "filtered id " .. runs[1].id)
  check.eq(#grid.expand(exp, "test", grid.parse_filters({"width=w2,w3", "seed=1"}, exp,
                                                        "test")), 4, "value lists")
  check.raises(function() grid.parse_filters({"net=resnet"}, exp, "test") end,
               "grid: filter 'net=resnet': no axis 'net' (axes: method, width, seed)",
               "unknown axis")
  check.raises(function() grid.parse_filters({"seed=7"}, exp, "test") end,
               "axis 'seed' has no level '7' at scale test (levels: 1, 2)", "unknown level")
  check.raises(function() grid.parse_filters({"seed"}, exp, "test") end,
               "grid: filter 'seed' is not axis=id", "syntax")
  check.raises(function() grid.expand(exp, "paper") end,
               "tiny: no scale 'paper' (scales: test)", "unknown scale")
  local broken = tiny_experiment()
  broken.scales.test.set = {optim = {momentun = 0.9}}
  check.raises(function() grid.expand(broken, "test") end,
               "config: unknown option 'optim.momentun'", "recipe typo")
  broken = tiny_experiment()
  broken.scales.test.per_level = {["width=w9"] = {}}
  check.raises(function() grid.expand(broken, "test") end,
               "experiment tiny: scale 'test': per_level: unknown option 'width=w9' (known: "
               .. "method=erm, method=mixup_a1, width=w2, width=w3)", "per_level typo")
  broken = tiny_experiment()
  broken.axes[2].levels[2].id = "w2"
  check.raises(function() grid.expand(broken, "test") end,
               "experiment tiny: axis 2 (width) level 2: option 'id' is string \"w2\", "
               .. "expected a unique string of letters, digits and _", "duplicate level id")
  broken = tiny_experiment()
  broken.scales.test.seeds = {1, -2}
  check.raises(function() grid.expand(broken, "test") end,
               "experiment tiny: scale 'test': option 'seeds[2]' is integer -2, expected an "
               .. "integer >= 0", "bad seed")
  broken = tiny_experiment()
  broken.schema = "image_clasification"
  check.raises(function() grid.expand(broken, "test") end,
               "experiment tiny: option 'schema' is string \"image_clasification\", expected "
               .. "one of adversarial_eval, gan_toy, image_classification, "
               .. "image_classification_ablation, image_classification_noisy, "
               .. "imagenet_classification, interpolation_eval", "unknown schema")
end)

suite:test("grid_table2", function()
  local exp = require "experiments.table2_cifar"
  for _, scale in ipairs{"paper", "cpu", "smoke"} do
    local runs = grid.expand(exp, scale)
    check.truthy(#runs >= 24, scale .. ": CIFAR-10 and -100 x 3 nets x ERM and mixup x >= 2 "
                 .. "seeds, got " .. #runs)
    for _, r in ipairs(runs) do
      check.truthy(r.id:find("^" .. scale .. "%-cifar10?0?%-[%w_]+%-") and
                   (r.id:find("preact_resnet18", 1, true) or r.id:find("wrn28_10", 1, true) or
                    r.id:find("densenet_bc190", 1, true)), r.id)
    end
  end
  local paper = grid.expand(exp, "paper", grid.parse_filters({"dataset=cifar10",
                            "net=preact_resnet18", "method=mixup_a1", "seed=1"}, exp,
                            "paper"))[1].config
  local wrn = grid.expand(exp, "paper", grid.parse_filters({"dataset=cifar10", "net=wrn28_10",
                          "method=erm", "seed=1"}, exp, "paper"))[1].config
  check.eq(table.concat(wrn.schedule.milestones, ","), "60,120,180", "WRN drops")
  check.eq(paper.epochs, 200, "paper epochs")
  check.eq(paper.batch, 128, "paper batch")
  check.eq(paper.schedule.base_lr, 0.1, "paper lr")
  check.eq(paper.schedule.milestones[1] .. "," .. paper.schedule.milestones[2], "100,150",
           "paper drops")
  check.eq(paper.schedule.lr_drop_late, false, "on-time drops by default")
  check.eq(paper.optim.momentum, 0.9, "momentum")
  check.eq(paper.optim.weight_decay, 1e-4, "weight decay")
  check.eq(paper.optim.decay_all_params, true, "decay on every parameter")
  check.eq(paper.mixup.alpha, 1.0, "alpha")
  check.eq(paper.net.width, 64, "full width")
  check.eq(paper.net.variant, "official", "official PreAct ResNet-18")
  check.eq(paper.data.augment and paper.data.flip and paper.data.pad == 4, true, "crop+flip")
end)

-- ============================================================================================
-- statistics

suite:test("median_last10", function()
  local up = {}
  for i = 1, 20 do up[i] = i + 0.0 end
  check.eq(results.median_last(up, 10), 15.5, "last 10 of 1..20: mean of 15 and 16")
  check.eq(results.median_last({5.0, 1.0, 3.0}, 10), 3.0, "fewer than 10: all, odd")
  check.eq(results.median_last({4.0, 1.0}, 10), 2.5, "two values")
  check.eq(results.median_last({9.0, 9.0, 9.0, 2.0, 7.0, 1.0, 8.0, 3.0, 6.0, 4.0, 5.0, 0.0},
                               10), 4.5, "unsorted, only the last 10 count")
  local curves = {test_error = {50.0, 40.0, 30.0, 35.0}, train_error = {60.0, 50.0, 45.0, 44.0}}
  local s = results.summarize(curves, 7)
  check.eq(s.test_error_median_last10, 37.5, "summary median")
  check.eq(s.test_error_best, 30.0, "best")
  check.eq(s.test_error_last, 35.0, "last")
  check.eq(s.train_error_last, 44.0, "train last")
  check.eq(s.epochs, 4, "epochs")
end)

suite:test("sources", function()
  local sh = sources.shape("cifar100")
  check.eq(sh.c * 10000 + sh.h * 100 + sh.w, 33232, "CIFAR-100 images are 3 x 32 x 32")
  check.eq(sources.DATASETS.cifar100.classes, 100, "classes")
  check.truthy(sources.dir("cifar10"):find("/cifar%-10%-batches%-bin$"), "folder")
  check.truthy(sources.available{dataset = "cifar10", data = {source = "synthetic"}},
               "a synthetic source needs no files")
  check.raises(function() sources.shape("mnist") end,
               "sources: unknown dataset 'mnist' (known: cifar10, cifar100)", "unknown")
end)

suite:test("duration", function()
  check.eq(lifecycle.duration(42), "42s", "duration s")
  check.eq(lifecycle.duration(125 * 60), "2h05m", "duration h")
end)

-- ============================================================================================
-- in-process runs

local function tiny_run(cfg_over, out, opts)
  local cfg = config.validate(tiny_config(cfg_over), SCHEMA)
  local id = "tiny-" .. grid.config_hash(cfg)
  local lines = {}
  local o = {experiment = "tiny", out = out, threads = THREADS, force = false,
             command = "test_runner", progress = false,
             log = function(l) lines[#lines + 1] = l end}
  for k, v in pairs(opts or {}) do o[k] = v end
  local ok, status = pcall(lifecycle.run, classifier, {id = id, config = cfg}, o)
  local path, ckpt = lifecycle.paths(out, "tiny", id)
  return {ok = ok, status = status, log = table.concat(lines, "\n"), path = path, ckpt = ckpt}
end

local function same_run(a, b, what)
  for _, name in ipairs(results.CURVES) do
    if name ~= "seconds" then
      local x, y = a.curves[name], b.curves[name]
      check.eq(#x, #y, what .. ": " .. name .. " length")
      for i = 1, #x do
        -- bit equality of doubles (NaN never appears: a NaN loss stops a run)
        check.truthy(string.pack("<d", x[i]) == string.pack("<d", y[i]),
                     ("%s: %s[%d] differs: %.17g vs %.17g"):format(what, name, i, x[i], y[i]))
      end
    end
  end
  check.same_bits(a.weights.params, b.weights.params, what .. ": params")
  check.same_bits(a.weights.buffers, b.weights.buffers, what .. ": buffers")
end

-- A checkpoint of schema 1 (optimiser state as a host-byte-order blob) is refused, not misread
-- and not silently dropped; --force removes it and reruns.
suite:test("old_checkpoint_refused", function()
  local out = tmp_root .. "/oldck"
  local cfg = config.validate(tiny_config{}, SCHEMA)
  local _, ckpt = lifecycle.paths(out, "tiny", "tiny-" .. grid.config_hash(cfg))
  assert(sys.mkdir_p(out .. "/tiny"))
  require("engine.h5").write(ckpt, {
    attrs = {format_version = 1, schema = results.SCHEMA_CHECKPOINT, run_id = "x",
             epochs_done = 1},
    datasets = {optim_state = "SGD1\0\0\0\0"}})
  local r = tiny_run({}, out)
  check.eq(tostring(r.status), ckpt .. ": checkpoint schema 1, this build reads 2: delete it "
           .. "or rerun with --force", "refusal")
  check.truthy(not r.ok and exists(ckpt), "the refused checkpoint is left in place")
  r = tiny_run({}, out, {force = true})
  check.truthy(r.ok and r.status == "done", "--force reruns: " .. tostring(r.status))
end)

suite:test("tiny_run_repeat_and_skip", function()
  local out = tmp_root .. "/tiny1"
  local r1 = tiny_run({}, out)
  check.truthy(r1.ok, "first run: " .. tostring(r1.status))
  check.eq(r1.status, "done", "status")
  check.truthy(not exists(r1.ckpt), "checkpoint removed once the results file is written")
  local a = assert(results.read_run(r1.path))
  check.eq(#a.curves.epoch, 2, "epochs recorded")
  check.eq(a.curves.lr[2], 0.05 * 0.1, "schedule drop at epoch 1 (0-based)")
  check.eq(a.provenance.threads, THREADS, "provenance threads")
  check.eq(a.provenance.scale, "test", "provenance scale")
  check.eq(a.provenance.seed, 3, "provenance seed")
  check.truthy(a.provenance.start_time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"),
               "ISO 8601 start time")
  check.eq(a.config.mixup.alpha, 1.0, "config round trip")
  local again = tiny_run({}, out)
  check.eq(again.status, "skipped", "a complete run is skipped")
  check.truthy(again.log:find("skip tiny%-"), "skip reported: " .. again.log)
  local forced = tiny_run({}, out, {force = true})
  check.eq(forced.status, "done", "--force reruns")
  same_run(assert(results.read_run(forced.path)), a, "forced rerun, same bits")
  -- ERM: alpha = 0 gives integral error counts
  local erm = tiny_run({mixup = {alpha = 0}}, out)
  check.truthy(erm.ok, "erm run: " .. tostring(erm.status))
  local e = assert(results.read_run(erm.path))
  local wrong = e.curves.train_error[1] * 40 / 100
  check.near(wrong, math.floor(wrong + 0.5), 1e-9, "ERM train error is a count of 40")
end)

suite:test("tiny_damaged_results_rerun", function()
  local out = tmp_root .. "/tiny2"
  local r1 = tiny_run({}, out)
  check.truthy(r1.ok, "first run: " .. tostring(r1.status))
  local want = assert(results.read_run(r1.path))
  local bytes = slurp(r1.path)
  for _, damage in ipairs{
    {"truncated", bytes:sub(1, #bytes // 2)},
    {"bit-flipped", bytes:sub(1, #bytes // 2) .. string.char(bytes:byte(#bytes // 2 + 1) ~ 0x10)
                    .. bytes:sub(#bytes // 2 + 2)},
    {"empty", ""},
  } do
    spit(r1.path, damage[2])
    check.eq(results.read_run(r1.path), nil, damage[1] .. " file is not read")
    local r = tiny_run({}, out)
    check.truthy(r.ok, damage[1] .. ": rerun failed: " .. tostring(r.status))
    check.eq(r.status, "done", damage[1] .. ": rerun, not skipped")
    check.truthy(r.log:find("is damaged", 1, true) and r.log:find("rerunning", 1, true),
                 damage[1] .. ": reported: " .. r.log)
    check.truthy(exists(r1.path .. ".damaged"), damage[1] .. ": moved aside")
    same_run(assert(results.read_run(r1.path)), want, damage[1] .. ": rerun")
  end
end)

suite:test("tiny_nan_recorded", function()
  local out = tmp_root .. "/tiny3"
  -- Epoch 1 trains normally; the drop "factor" then multiplies the rate by 1e37 and the
  -- weights overflow in epoch 2.
  local r = tiny_run({epochs = 3, schedule = {factor = 1e37}}, out)
  check.truthy(r.ok, "a diverged run is a result, not an error: " .. tostring(r.status))
  check.eq(r.status, "diverged", "status")
  check.truthy(r.log:find("the training loss is not finite at epoch 2/3", 1, true),
               "names the loss and the epoch: " .. r.log)
  check.truthy(r.log:find("lower schedule.base_lr", 1, true), "gives the fix: " .. r.log)
  check.eq(exists(r.ckpt), false, "the checkpoint goes")
  local d = assert(diverged.read(r.path))
  check.eq(d.at, 2, "diverged in epoch 2")
  check.eq(d.task, "classifier", "the record names its task")
  check.eq(#d.curves.test_error, 1, "the curves of epoch 1")
  check.truthy(d.detail:find("^step %d+ of %d+: "), "the step: " .. d.detail)
  check.eq(results.read_run(r.path), nil, "not a complete run")
end)
suite:test("tiny_provenance", function()
  local p = provenance.collect{threads = 2, seed = 1, scale = "test", command = "x"}
  for name, kind in pairs(results.PROVENANCE) do
    local got = math.type(p[name]) or type(p[name])
    check.eq(got == kind or (kind == "number" and got == "float"), true,
             "provenance." .. name .. " is " .. got)
  end
  check.eq(provenance.command_line({[-1] = "./mixup", [0] = "run.lua", "a b", "x=1"}),
           "./mixup run.lua 'a b' x=1", "command line quoting")
end)

-- ============================================================================================
-- kill -9 and resume (a child process; needs the CIFAR-10 files)

local proc_alive = check.proc_alive

suite:test("resume_kill9", function()
  local have, why = sources.available{data = {source = "cifar"}, dataset = "cifar10"}
  check.truthy(have, "this test trains on real CIFAR-10: " .. tostring(why))
  local filters = "dataset=cifar10 net=preact_resnet18 method=mixup_a1 seed=1"
  local function cmd(out)
    return ("%s --threads %d experiments/run.lua table2_cifar --scale smoke --out %s %s")
           :format(EXE, THREADS, out, filters)
  end
  local ref_out, cut_out = tmp_root .. "/ref", tmp_root .. "/cut"
  local ref_log, cut_log = tmp_root .. "/ref.log", tmp_root .. "/cut.log"
  check.truthy(sh(cmd(ref_out) .. " > " .. ref_log .. " 2>&1"),
               "uninterrupted run failed:\n" .. (exists(ref_log) and slurp(ref_log) or ""))
  local id = slurp(ref_log):match("done (smoke%-%S+):")
  check.truthy(id, "run id in the log")
  local path, ckpt = lifecycle.paths(cut_out, "table2_cifar", id)

  local p = assert(io.popen(cmd(cut_out) .. " > " .. cut_log .. " 2>&1 & echo $!"))
  local pid = math.tointeger(tonumber(p:read("l")))
  p:close()
  check.truthy(pid, "child pid")
  local waited = 0
  while not exists(ckpt) and proc_alive(pid) and waited < CHILD_TIMEOUT_S do
    sh("sleep " .. POLL_S)
    waited = waited + POLL_S
  end
  check.truthy(exists(ckpt), "the child wrote no checkpoint:\n" .. slurp(cut_log))
  sh("kill -9 " .. pid)
  while proc_alive(pid) do sh("sleep " .. POLL_S) end
  check.truthy(not exists(path), "the child finished before it was killed; the test needs "
               .. "a longer smoke run")
  local ck = assert(checkpoint.read(ckpt))
  local total = #assert(results.read_run(lifecycle.paths(ref_out, "table2_cifar", id))).curves.epoch
  check.truthy(ck.done >= 1 and ck.done < total, "killed mid-run: done " .. ck.done)

  check.truthy(sh(cmd(cut_out) .. " > " .. cut_log .. " 2>&1"),
               "resumed run failed:\n" .. slurp(cut_log))
  local log = slurp(cut_log)
  check.truthy(log:find(("resuming %s: %d of %d epochs done"):format(id, ck.done, total), 1,
                        true), "resumed from the checkpoint:\n" .. log)
  check.truthy(log:find(("taking over %s: its lock "):format(id), 1, true),
               "the killed worker's lock taken over:\n" .. log)
  check.truthy(not exists(ckpt), "checkpoint removed after the results file")
  local got = assert(results.read_run(path))
  local want = assert(results.read_run(lifecycle.paths(ref_out, "table2_cifar", id)))
  same_run(got, want, "killed and resumed vs uninterrupted")
  check.eq(got.summary.test_error_median_last10, want.summary.test_error_median_last10,
           "summary")

  -- The same command once more: complete, so skipped.
  check.truthy(sh(cmd(cut_out) .. " > " .. cut_log .. " 2>&1"), "third run failed")
  check.truthy(slurp(cut_log):find("0 done, 1 already complete", 1, true),
               "complete run skipped:\n" .. slurp(cut_log))
end)

suite:test("run_lua_errors", function()
  local log = tmp_root .. "/err.log"
  local function fails(args, needle, what)
    local ok = sh(EXE .. " experiments/run.lua " .. args .. " > " .. log .. " 2>&1")
    check.truthy(not ok, what .. ": must exit non-zero")
    local s = slurp(log)
    check.truthy(s:find(needle, 1, true), what .. ": " .. s)
  end
  fails("table2_cifar", "run.lua: --scale is required", "no scale")
  fails("table2_cifar --scale huge", "experiment table2_cifar has no scale 'huge' "
        .. "(scales: cpu, paper, smoke)", "bad scale")
  fails("table2_cifar --scale smoke net=vgg", "axis 'net' has no level 'vgg'", "bad filter")
  fails("nosuch --scale smoke", "cannot load experiments/nosuch.lua", "bad experiment")
  fails("table2_cifar --scale smoke --threads 0", "--threads is '0'", "bad threads")
  fails("table2_cifar --scale smoke --conv-algo fast", "--conv-algo is 'fast', expected "
        .. "default, direct, im2col, winograd or auto", "bad convolution algorithm")
  fails("table2_cifar --scale smoke --conv-algo auto --data-parallel", "--conv-algo auto times "
        .. "each rank's layers on its own", "auto over ranks")
  check.truthy(sh(EXE .. " experiments/run.lua table2_cifar --scale smoke --list > " .. log
                  .. " 2>&1"), "--list")
  check.truthy(slurp(log):find("smoke-cifar100-preact_resnet18-mixup_a1-s2-", 1, true),
               "--list prints ids")
end)

-- ============================================================================================
-- run.lua on a synthetic grid, as child processes (an experiment file in a scratch folder:
-- the host looks for modules in the repository, then in the current folder)

local REPO = (EXE:match("^(.*)/[^/]*$") or ".")
if REPO:sub(1, 1) ~= "/" then
  local p = assert(io.popen("pwd"))
  REPO = p:read("l") .. "/" .. REPO
  p:close()
end
local EXE_ABS = REPO .. "/" .. EXE:match("[^/]*$")

-- A grid of 2 methods x 2 learning-rate recipes ("blowup" overflows in epoch 2) x 2 seeds.
local function grid_dir()
  local dir = tmp_root .. "/grid"
  if exists(dir .. "/experiments/tiny_grid.lua") then return dir end
  assert(sys.mkdir_p(dir .. "/experiments"))
  local base = tiny_config{}
  base.scale, base.seed = nil, nil
  spit(dir .. "/experiments/tiny_grid.lua", ([[
return {
  name = "tiny_grid", schema = "image_classification",
  base = %s,
  axes = {
    {name = "method", levels = {{id = "erm", set = {mixup = {alpha = 0}}},
                                {id = "mixup_a1", set = {mixup = {alpha = 1}}}}},
    {name = "lr", levels = {{id = "fine", set = {}},
                            {id = "blowup", set = {epochs = 3, schedule = {factor = 1e37}}}}},
  },
  scales = {test = {seeds = {1, 2}, set = {}}},
}
]]):format(results.serialize(base)))
  return dir
end

-- `run.lua tiny_grid` in the grid folder; returns ok (exit status 0) and the output.
local function grid_cmd(out, filters, log)
  return ("cd %s && %s --threads 1 %s/experiments/run.lua tiny_grid --scale test --out %s %s "
          .. "> %s 2>&1"):format(grid_dir(), EXE_ABS, REPO, out, filters or "", log)
end

suite:test("grid_diverged_runs_recorded", function()
  local out, log = tmp_root .. "/grid_div", tmp_root .. "/grid_div.log"
  check.eq(sh(grid_cmd(out, "", log)), false, "exit status non-zero when runs diverged")
  local text = slurp(log)
  check.truthy(text:find("4 done, 0 already complete, 4 diverged, 0 failed", 1, true),
               "closing line:\n" .. text)
  check.truthy(text:find("harness: tiny_grid at scale test: 4 runs diverged and 0 failed", 1,
               true), "one error line at the end:\n" .. text)
  local _, div_count = text:gsub("%] diverged test%-", "")
  check.eq(div_count, 4, "a line per diverged run")
  check.eq(text:find("stack traceback", 1, true), nil, "no traceback")
  local runs, bad, records = results.scan(out)
  check.eq(#runs, 4, "the 4 other runs complete")
  check.eq(#bad, 0, "no bad file")
  check.eq(#records, 4, "4 diverged records")
  for _, d in ipairs(records) do
    check.truthy(d.run_id:find("blowup", 1, true), "the blowup runs diverged: " .. d.run_id)
  end
  -- again: nothing trains, the records stand
  check.eq(sh(grid_cmd(out, "", log)), false, "still non-zero")
  check.truthy(slurp(log):find("0 done, 4 already complete, 4 diverged", 1, true), slurp(log))
end)

suite:test("grid_two_workers_one_folder", function()
  local ref, out = tmp_root .. "/grid_one", tmp_root .. "/grid_two"
  local log = tmp_root .. "/grid_one.log"
  check.truthy(sh(grid_cmd(ref, "lr=fine", log)), "one worker:\n" .. slurp(log))
  local l1, l2 = tmp_root .. "/w1.log", tmp_root .. "/w2.log"
  check.truthy(sh(("(%s) & (%s) & wait"):format(grid_cmd(out, "lr=fine", l1),
                                                 grid_cmd(out, "lr=fine", l2))), "two workers")
  local both = slurp(l1) .. "\n" .. slurp(l2)
  local runs = results.scan(ref)
  check.eq(#runs, 4, "4 runs")
  for _, want in ipairs(runs) do
    local _, n = both:gsub("done " .. want.run_id:gsub("%-", "%%-") .. ":", "")
    check.eq(n, 1, want.run_id .. " trained exactly once:\n" .. both)
    local got = assert(results.read_run(lifecycle.paths(out, "tiny_grid", want.run_id)))
    same_run(got, assert(results.read_run(want.path)), "two workers vs one: " .. want.run_id)
  end
  check.eq(#sys.listdir(out .. "/tiny_grid"), 4, "4 files, no lock or checkpoint left")
  check.truthy(both:find("claimed by ", 1, true) or both:find("already complete", 1, true),
               "the workers met:\n" .. both)
end)

-- A truncated data file: each run that needs it prints one "failed" line naming the file and
-- the fix, the grid goes on (the CIFAR-100 runs are skipped for missing data), and the command
-- ends with status 1 and no traceback.
suite:test("grid_failed_runs_one_line_each", function()
  local data_dir = tmp_root .. "/bad_data/cifar-10-batches-bin"
  assert(sys.mkdir_p(data_dir))
  for _, name in ipairs{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                        "data_batch_5", "test_batch"} do
    spit(data_dir .. "/" .. name .. ".bin", ("x"):rep(1000)) -- far short of 10,000 records
  end
  local log = tmp_root .. "/bad_data.log"
  local ok = sh(("MIXUP_DATA=%s %s --threads 1 experiments/run.lua table2_cifar --scale smoke "
                 .. "--out %s/bad_out seed=1 net=preact_resnet18 > %s 2>&1")
                :format(tmp_root .. "/bad_data", EXE, tmp_root, log))
  local text = slurp(log)
  check.eq(ok, false, "exit status 1:\n" .. text)
  local _, failed = text:gsub("%] failed smoke%-cifar10%-", "")
  check.eq(failed, 2, "one failed line per CIFAR-10 run:\n" .. text)
  check.truthy(text:find("data_batch_1.bin", 1, true), "names the file:\n" .. text)
  check.truthy(text:find("0 done, 0 already complete, 0 diverged, 2 failed, 0 claimed by other "
               .. "workers, 2 skipped for missing data", 1, true), "closing line:\n" .. text)
  check.eq(text:find("stack traceback", 1, true), nil, "no traceback:\n" .. text)
  for line in text:gmatch("[^\n]*failed smoke[^\n]*") do
    check.eq(line:find("%.lua:%d+:"), nil, "no source position in a user's error: " .. line)
  end
end)

if os.getenv("KEEP_TMP") ~= "1" then assert(sys.remove_tree(tmp_root)) end
suite:finish()
