-- test_noisy.lua: the corrupted-label classifier (harness/lua/tasks/noisy_classifier.lua, Table
-- 4): the noisy label set changes 0.9 p of the labels within binomial noise at each level, is
-- the same for every method and every rerun (and differs between seeds), never touches the
-- test set nor the cached clean set; a whole tiny run records the noise and the final training
-- errors against the real and the corrupted labels. Synthetic data, so no files are needed.
-- Run as `./mixup tests/lua/test_noisy.lua [filter]`.
local check = require "tests.lua.check"
local config = require "harness.lua.config"
local lifecycle = require "harness.lua.lifecycle"
local results = require "harness.lua.results"
local tasks = require "harness.lua.tasks"
local noisy = require "harness.lua.tasks.noisy_classifier"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tensor = require "engine.tensor"

local suite = check.suite(...)

local N_TRAIN = 3000 -- labels enough for a binomial check at 4 sd

local function cfg_of(over)
  return config.validate(config.merge({
    scale = "test", dataset = "cifar10", seed = 1, epochs = 2, batch = 16, eval_batch = 50,
    train_eval_every = 2,
    net = {family = "preact_resnet", variant = "official", depth = 18, width = 2,
           num_classes = 10, init = "torch_default"},
    data = {source = "synthetic", train_examples = N_TRAIN, test_examples = 40, subset_seed = 0,
            augment = true, pad = 4, flip = true, mean = {0.5, 0.5, 0.5},
            std = {0.25, 0.25, 0.25}, label_noise = {p = 0.5, seed = 11}},
    mixup = {alpha = 0, per_example = false},
    optim = {kind = "sgd", momentum = 0.9, weight_decay = 1e-4, nesterov = false,
             decay_all_params = true},
    schedule = {base_lr = 0.05, factor = 0.1, milestones = {1}, lr_drop_late = false},
  }, over or {}), noisy.schema)
end

local function build(over, cache)
  return noisy.build(cfg_of(over), {threads = nn.get_threads(), data_cache = cache or {}})
end

suite:test("schema", function()
  check.eq(tasks.get("image_classification_noisy"), noisy, "the schema's task")
  check.raises(function() cfg_of{data = {label_noise = {p = 1.5}}} end,
               "option 'data.label_noise.p' is float 1.5", "p above 1")
  local c = cfg_of()
  c.data.label_noise = nil
  check.raises(function() config.validate(c, noisy.schema) end,
               "missing required option 'data.label_noise'", "label_noise required")
  -- the classifier's own schema is not changed by the copy
  check.eq(require("harness.lua.tasks.classifier").schema.fields.data.fields.label_noise, nil,
           "classifier schema untouched")
end)

suite:test("md5", function()
  local t = tensor.new{3}
  check.eq(noisy.labels_md5(tensor.new{0}), "d41d8cd98f00b204e9800998ecf8427e", "no labels")
  t:set(0, 1); t:set(1, 2); t:set(2, 3)
  -- Python: hashlib.md5(bytes([0, 1, 2])).hexdigest()
  check.eq(noisy.labels_md5(t), "b95f67f61ebb03619622d798f45fc2d3", "bytes 00 01 02")
  -- more than one 4096-byte chunk: the same as the file of those bytes
  local big = tensor.new{10000}
  local bytes = {}
  for i = 1, 10000 do
    big:set((i * 7) % 10, i)
    bytes[i] = string.char((i * 7) % 10)
  end
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(bytes))
  f:close()
  check.eq(noisy.labels_md5(big), sys.md5_file(path), "as md5sum of the label bytes")
  os.remove(path)
end)

suite:test("fraction_per_level", function()
  for _, p in ipairs{0.2, 0.5, 0.8} do
    local st = build{data = {label_noise = {p = p}}}
    local q = 0.9 * p -- a redrawn label keeps its class with probability 1/10
    local sd = math.sqrt(q * (1 - q) / N_TRAIN)
    check.truthy(math.abs(st.noise.changed - q) <= 4 * sd,
                 ("p = %g: %.4f changed, expected %.4f +- 4 x %.4f"):format(p, st.noise.changed,
                 q, sd))
    -- the count agrees with the labels themselves
    local clean, dirty = st.train_set:labels("clean"), st.train_set:labels("noisy")
    local diff = 0
    for i = 1, clean:size() do
      if clean:get(i) ~= dirty:get(i) then diff = diff + 1 end
    end
    check.eq(diff / N_TRAIN, st.noise.changed, "p = " .. p .. ": the recorded fraction")
  end
  check.eq(build{data = {label_noise = {p = 0}}}.noise.changed, 0, "p = 0 changes nothing")
end)

suite:test("same_for_methods_and_reruns", function()
  local cache = {}
  local erm = build({}, cache)
  local mix = build({mixup = {alpha = 8}, seed = 2}, cache)
  local drop = build({net = {dropout = 0.7}}, cache)
  local again = build({}, {})
  check.eq(mix.noise.md5, erm.noise.md5, "mixup (another run seed) trains on the same labels")
  check.eq(drop.noise.md5, erm.noise.md5, "dropout: the same labels")
  check.eq(again.noise.md5, erm.noise.md5, "a rerun: the same labels")
  check.truthy(build{data = {label_noise = {seed = 12}}}.noise.md5 ~= erm.noise.md5,
               "another noise seed: other labels")
  -- the cached clean set and the test set are untouched
  local c_train, c_test = cache.train, cache.test
  check.truthy(c_train and c_test, "the cache holds the clean sets")
  for _, set in ipairs{c_train, c_test, erm.test_set} do
    local a, b = set:labels("clean"), set:labels("noisy")
    check.same_bits(b, a, "labels equal their clean ones")
  end
end)

suite:test("train_errors_one_pass", function()
  -- the one-pass evaluation equals the classifier's two separate passes
  local st = build{data = {train_examples = 200}}
  local classifier = require "harness.lua.tasks.classifier"
  local real, corrupted = noisy.train_errors(st)
  local _, want_real = classifier.evaluate(st, st.train_eval_ld, true)
  local _, want_corrupted = classifier.evaluate(st, st.train_eval_ld, false)
  check.eq(real, want_real, "real labels")
  check.eq(corrupted, want_corrupted, "corrupted labels")
  check.truthy(real ~= corrupted, "the two label sets give different errors at p = 0.5")
end)

suite:test("tiny_run_records_noise", function()
  local out = os.tmpname()
  os.remove(out)
  local lines = {}
  for _, p in ipairs{0.8, 0.0} do
    local cfg = cfg_of{epochs = 3, data = {train_examples = 64, label_noise = {p = p}}}
    local id = "noisy-" .. p
    local status = lifecycle.run(noisy, {id = id, config = cfg},
                                 {experiment = "t4", out = out, threads = nn.get_threads(),
                                  command = "test",
                                  log = function(l) lines[#lines + 1] = l end})
    check.eq(status, "done", "status")
    local r = assert(results.read_run((lifecycle.paths(out, "t4", id))))
    local s = r.summary
    check.eq(r.config.data.label_noise.p, p, "config carries the noise")
    check.truthy(s.train_error_real_labels >= 0 and s.train_error_real_labels <= 100, "real")
    check.truthy(s.train_error_corrupted_labels >= 0 and s.train_error_corrupted_labels <= 100,
                 "corrupted")
    check.eq(#s.label_noise_md5, 32, "md5 recorded")
    -- measured after every 2nd epoch and after the last: epochs 2 and 3, NaN at 1
    local real = r.curves.train_error_real
    check.eq(#real, 3, "one entry per epoch")
    check.truthy(real[1] ~= real[1], "epoch 1 not measured (NaN)")
    check.truthy(real[2] == real[2] and real[3] == real[3], "epochs 2 and 3 measured")
    check.eq(s.train_error_real_labels, real[3], "summary = the last entry")
    check.eq(s.train_error_corrupted_labels, r.curves.train_error_corrupted[3], "corrupted")
    if p == 0 then
      check.eq(s.label_noise_changed, 0, "nothing changed")
      check.eq(s.train_error_real_labels, s.train_error_corrupted_labels, "p = 0: one error")
    else
      check.truthy(s.label_noise_changed > 0.5, "most labels changed at p = 0.8")
    end
  end
  local log = table.concat(lines, "\n")
  check.truthy(log:find("labels corrupted with p = 0.8", 1, true), "described: " .. log)
  check.truthy(log:find("on corrupted ones", 1, true), "summary line: " .. log)
  sys.remove_tree(out)
end)

suite:finish()
