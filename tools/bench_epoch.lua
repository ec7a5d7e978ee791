-- bench_epoch.lua EXPERIMENT SCALE EPOCHS [axis=id ...]: whole epochs of one run of an
-- experiment's grid, as the run itself does them (the task's step: data order, augmentation,
-- mixup, the training steps and the test-set evaluation), for `make bench` (issue 17): the
-- first run the filters select, built once (data loaded, net initialised: not timed), then
-- EPOCHS epochs timed after a first untimed one. Prints
--   mixup epoch_s=<f> train_images_per_s=<f> images_per_s=<f> threads=<n> run=<id>
-- (train_images_per_s: the training set over an epoch's time; images_per_s: training and test
-- images together). The thread count is mixup's --threads.
local grid = require "harness.lua.grid"
local nn = require "engine.nn"
local sys = require "engine.sys"
local tasks = require "harness.lua.tasks"

local name, scale, epochs = ...
epochs = math.tointeger(tonumber(epochs))
assert(name and scale and epochs and epochs >= 1,
       "usage: mixup tools/bench_epoch.lua EXPERIMENT SCALE EPOCHS [axis=id ...]")
local exp = require("experiments." .. name)
local filters = grid.parse_filters({select(4, ...)}, exp, scale)
local run = assert(grid.expand(exp, scale, filters)[1], "no run matches the filters")
local task = tasks.get(exp.schema)
local threads = nn.get_threads()
local st = task.build(run.config, {threads = threads, data_cache = {}, out = "/tmp",
                                   command = "bench", log = function() end})
local ctx = {progress = false, diverged = function(d) error("diverged: " .. tostring(d)) end}
task.step(st, 0, ctx)
local t0 = sys.clock()
for e = 1, epochs do task.step(st, e, ctx) end
local secs = (sys.clock() - t0) / epochs
local n_train, n_test = st.train_set:size(), st.test_set:size()
print(("mixup epoch_s=%.2f train_images_per_s=%.0f images_per_s=%.0f threads=%d run=%s")
      :format(secs, n_train / secs, (n_train + n_test) / secs, threads, run.id))
