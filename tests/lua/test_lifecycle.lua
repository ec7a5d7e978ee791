-- test_lifecycle.lua: the one run lifecycle (harness/lua/lifecycle.lua) with a toy task
-- defined here, as a new experiment kind would be (e.g. training with noisy labels and extra
-- metrics): the loop runs it, writes its results file, skips it when complete, checkpoints,
-- resumes after a stop or a crash bit-identically, refuses checkpoints that do not fit,
-- records a divergence as a result, and claims each run with a lock (left to a live holder,
-- taken over from a dead one), all without a line of the loop knowing the task. Also the option reader's grammar (harness/lua/options.lua).
-- Run as `./mixup tests/lua/test_lifecycle.lua [filter]`.
local check = require "tests.lua.check"
local config = require "harness.lua.config"
local lifecycle = require "harness.lua.lifecycle"
local options = require "harness.lua.options"
local diverged = require "harness.lua.diverged"
local results = require "harness.lua.results"
local checkpoint = require "harness.lua.checkpoint"
local h5 = require "engine.h5"
local nn = require "engine.nn"
local nets = require "nets.containers"
local sys = require "engine.sys"
local tensor = require "engine.tensor"
local train = require "engine.train"

local suite = check.suite(...)

local tmp_root = os.tmpname()
os.remove(tmp_root)
assert(sys.mkdir_p(tmp_root))

-- ============================================================================================
-- The toy task: a vector w pulled towards 0 and pushed by Gaussian noise from the run's Rng;
-- per step the curves step, loss (|w|^2) and flips (an extra metric: signs changed). Hooks
-- for the tests: toy.crash_at (raise in that step, as a crash would), toy.diverge_at (a
-- non-finite loss there).
local TOY_SCHEMA_RUN = "mixup-repro/toy-run"
local toy = {
  name = "toy", unit = "step", curves = {"step", "loss", "flips"}, checkpoint_every = 2,
  divergence_fix = "lower noise",
  schema = config.record{scale = config.string{}, seed = config.integer{min = 0},
                         steps = config.integer{min = 1}, size = config.integer{min = 1},
                         noise = config.number{min = 0}},
}

function toy.units(cfg) return cfg.steps end

function toy.build(cfg)
  local st = {cfg = cfg, w = tensor.new(cfg.size), rng = train.rng(cfg.seed, train.stream.labels)}
  for i = 1, cfg.size do st.w:set(i, i) end
  return st
end

function toy.describe(st, cfg)
  return ("toy of %d values, %d steps"):format(st.w:size(), cfg.steps)
end

function toy.step(st, u, ctx)
  if toy.crash_at == u then error("toy: crashed in step " .. u, 0) end
  local loss, flips = 0.0, 0
  for i = 1, st.w:size() do
    local old = st.w:get(i)
    local new = 0.9 * old + st.cfg.noise * st.rng:normal()
    if (old < 0) ~= (new < 0) then flips = flips + 1 end
    st.w:set(new, i)
    loss = loss + new * new
  end
  if toy.diverge_at == u then loss = 0 / 0 end
  if loss ~= loss then ctx.diverged("loss " .. tostring(loss)) end
  return {step = u + 1, loss = loss, flips = flips}, ("step %d loss %.4f"):format(u + 1, loss)
end

function toy.state(st)
  return {datasets = {w = st.w, rng = {kind = "bytes", value = st.rng:state()}}}
end

function toy.restore(st, tree)
  st.w:copy(tree.datasets.w)
  st.rng:set_state(tree.datasets.rng)
end

function toy.result(st, r)
  local last = #r.curves.loss
  return {
    attrs = {format_version = results.FORMAT_VERSION, schema = TOY_SCHEMA_RUN,
             experiment = r.experiment, run_id = r.run_id, status = results.STATUS_COMPLETE},
    groups = {config = results.config_tree(r.config), provenance = {attrs = r.provenance},
              curves = results.curves_tree(r.curves),
              summary = {attrs = {final_loss = r.curves.loss[last], steps = last}},
              weights = {datasets = {w = st.w}}},
  }
end

function toy.read_result(path)
  return results.read_checked(path, TOY_SCHEMA_RUN, "a toy results file", function(tree)
    if not tree.groups.summary then results.bad("group 'summary' is missing") end
    return {config = results.read_config(tree.groups.config), summary = tree.groups.summary.attrs,
            curves = tree.groups.curves.datasets, w = tree.groups.weights.datasets.w}
  end)
end

function toy.summary_line(s) return ("final loss %.4f"):format(s.final_loss) end

-- ============================================================================================

local function toy_config(over)
  return config.validate(config.merge({scale = "test", seed = 5, steps = 6, size = 4,
                                       noise = 0.5}, over or {}), toy.schema)
end

-- Runs the toy through the lifecycle; returns ok, status (or the error), the log.
local function run_toy(task, cfg, out, opts)
  local lines = {}
  local o = {experiment = "toy", out = out, threads = 1, force = false, command = "test",
             log = function(l) lines[#lines + 1] = l end}
  for k, v in pairs(opts or {}) do o[k] = v end
  local ok, status = pcall(lifecycle.run, task, {id = "toy-run", config = cfg}, o)
  return ok, status, table.concat(lines, "\n")
end

local function same_result(a, b, what)
  for _, name in ipairs(toy.curves) do
    check.eq(#a.curves[name], #b.curves[name], what .. ": " .. name .. " length")
    for i = 1, #a.curves[name] do
      check.eq(a.curves[name][i], b.curves[name][i], ("%s: %s[%d]"):format(what, name, i))
    end
  end
  check.same_bits(a.w, b.w, what .. ": w")
end

local ref -- the uninterrupted run's results

suite:test("toy_runs_writes_skips", function()
  local out = tmp_root .. "/whole"
  local ok, status, log = run_toy(toy, toy_config(), out)
  check.truthy(ok, "run: " .. tostring(status))
  check.eq(status, "done", "status")
  local path, ckpt = lifecycle.paths(out, "toy", "toy-run")
  check.truthy(not sys.exists(ckpt), "checkpoint removed at the end")
  ref = assert(toy.read_result(path))
  check.eq(#ref.curves.loss, 6, "one curve entry per step")
  check.eq(ref.summary.steps, 6, "summary")
  check.truthy(log:find("step 6 loss", 1, true) and log:find("ETA", 1, true), "step lines")
  local attrs = h5.read_attrs(path)
  check.eq(attrs.schema, TOY_SCHEMA_RUN, "the task's schema")
  ok, status, log = run_toy(toy, toy_config(), out)
  check.eq(status, "skipped", "complete: skipped")
  check.truthy(log:find("skip toy-run: complete (final loss", 1, true), "skip line: " .. log)
  check.eq(select(2, run_toy(toy, toy_config(), out, {force = true})), "done", "--force")
  same_result(assert(toy.read_result(path)), ref, "forced rerun")
  ok, status = run_toy(toy, toy_config{noise = 0.25}, out)
  check.truthy(not ok and tostring(status):find("holds another config under the same run id",
               1, true), "another config under the id: " .. tostring(status))
end)

suite:test("toy_stop_and_resume", function()
  local out = tmp_root .. "/stopped"
  local cfg = toy_config()
  local path, ckpt = lifecycle.paths(out, "toy", "toy-run")
  check.eq(select(2, run_toy(toy, cfg, out, {stop_after = 3})), "stopped", "first session")
  local ck = assert(checkpoint.read(ckpt))
  check.eq(ck.done, 2, "checkpoint after step 2 (every 2)")
  check.eq(ck.task, "toy", "task attr")
  check.eq(#ck.curves.flips, 2, "the extra curve is checkpointed")
  local ok, status, log = run_toy(toy, cfg, out)
  check.truthy(ok, "resumed: " .. tostring(status))
  check.truthy(log:find("resuming toy-run: 2 of 6 steps done", 1, true), "resume line: " .. log)
  same_result(assert(toy.read_result(path)), ref, "stopped and resumed")
end)

suite:test("toy_crash_and_resume", function()
  local out = tmp_root .. "/crashed"
  local cfg = toy_config()
  local path, ckpt = lifecycle.paths(out, "toy", "toy-run")
  toy.crash_at = 4
  local ok, status = run_toy(toy, cfg, out)
  toy.crash_at = nil
  check.truthy(not ok and tostring(status):find("crashed in step 4", 1, true), "crash raised")
  check.truthy(not sys.exists(path), "no results file")
  check.eq(assert(checkpoint.read(ckpt)).done, 4, "the last checkpoint is kept")
  ok, status = run_toy(toy, cfg, out)
  check.truthy(ok, "resumed: " .. tostring(status))
  same_result(assert(toy.read_result(path)), ref, "crashed and resumed")
end)

suite:test("toy_resume_checks", function()
  local out = tmp_root .. "/checks"
  local cfg = toy_config()
  local _, ckpt = lifecycle.paths(out, "toy", "toy-run")
  local function stopped()
    os.remove(ckpt)
    check.eq(select(2, run_toy(toy, cfg, out, {stop_after = 2})), "stopped", "stopped")
  end
  local function refused(task, needle, what, opts)
    local ok, status = run_toy(task, cfg, out, opts)
    check.truthy(not ok and tostring(status):find(needle, 1, true), what .. ": "
                 .. tostring(status))
    check.truthy(sys.exists(ckpt), what .. ": the checkpoint is left for the user")
  end
  local function variant(fields)
    local t = {}
    for k, v in pairs(toy) do t[k] = v end
    for k, v in pairs(fields) do t[k] = v end
    return t
  end
  local no_state = variant{}
  no_state.state = nil
  check.raises(function() lifecycle.run(no_state, {id = "x", config = cfg}, {}) end,
               "lifecycle: task toy: missing required option 'state'", "incomplete task")
  check.raises(function() lifecycle.check_task(variant{checkpoint_every = 0}) end,
               "lifecycle: task toy: option 'checkpoint_every' is integer 0, expected an "
               .. "integer >= 1", "bad task field")
  stopped()
  refused(toy, "the checkpoint was written with 1 threads, this run has 2", "threads",
          {threads = 2})
  -- a run whose net's convolutions would run Winograd, against a checkpoint of a run with none
  -- (only where the build has AVX-512, without which no layer runs it)
  local function with_wino(st)
    st.net = nn.build(nets.sequential("s", {nets.conv{name = "c", in_c = 16, out_c = 16, k = 3,
                                                      pad = 1}}),
                      {c = 16, h = 4, w = 4}, {batch = 1, conv_algo = "winograd"})
    return st
  end
  if #with_wino({}).net:winograd() > 0 then
    refused(variant{build = function(c) return with_wino(toy.build(c)) end},
            "the checkpoint's convolutions ran Winograd on none, this run's on s.c; resume with "
            .. "the --conv-algo of the run that wrote it (direct", "convolution algorithm")
  end
  refused(variant{name = "toy2"}, "belongs to another run", "another task")
  refused(variant{units = function() return 1 end}, "has 2 steps done, the config asks for 1",
          "more done than asked")
  refused(variant{build = function(c)
            local st = toy.build(c)
            st.w = tensor.new(5)
            return st
          end}, "does not fit this run: state/w holds 4 values, the run has 5", "state size")
  refused(variant{state = function(st)
            local tree = toy.state(st)
            tree.datasets.momentum = {kind = "bytes", value = "x"}
            return tree
          end}, "does not fit this run: state/momentum is missing or not bytes", "state entry")
  -- a damaged checkpoint is reported, removed, and the run starts over (same bits)
  local f = assert(io.open(ckpt, "r+b"))
  f:seek("set", f:seek("end") // 2)
  f:write("garbage")
  f:close()
  local ok, status, log = run_toy(toy, cfg, out)
  check.truthy(ok, "damaged checkpoint: " .. tostring(status))
  check.truthy(log:find("is damaged", 1, true) and log:find("from the beginning", 1, true),
               "reported: " .. log)
  same_result(assert(toy.read_result((lifecycle.paths(out, "toy", "toy-run")))), ref,
              "after a damaged checkpoint")
end)

suite:test("toy_diverges", function()
  local out = tmp_root .. "/diverged"
  local path, ckpt = lifecycle.paths(out, "toy", "toy-run")
  toy.diverge_at = 4
  local ok, status, log = run_toy(toy, toy_config(), out)
  toy.diverge_at = nil
  check.truthy(ok, "a diverged run is a result, not an error: " .. tostring(status))
  check.eq(status, "diverged", "status")
  check.truthy(log:find("diverged toy-run: the training loss is not finite at step 5/6 (loss ",
               1, true), "names the unit: " .. log)
  check.truthy(log:find("Fix: lower noise", 1, true), "the task's fix: " .. log)
  check.eq(sys.exists(ckpt), false, "the checkpoint goes")
  check.eq(sys.exists(path .. lifecycle.LOCK_EXT), false, "the lock goes")
  local d = assert(diverged.read(path))
  check.eq(d.status, "diverged", "record status")
  check.eq(d.at, 5, "the unit that diverged")
  check.eq(d.total, 6, "units asked for")
  check.eq(d.unit, "step", "unit name")
  check.eq(d.task, "toy", "task")
  check.truthy(d.detail:find("^loss "), "detail: " .. d.detail)
  check.eq(d.fix, "lower noise", "fix")
  check.eq(#d.curves.loss, 4, "the curves of the 4 units completed")
  check.eq(d.curves.step[4], 4.0, "last completed unit")
  check.eq(d.provenance.seed, 5, "provenance")
  check.eq(results.serialize(d.config), results.serialize(toy_config()), "config")
  local runs, bad, records = results.scan(out)
  check.eq(#runs + #bad, 0, "not a complete run, not a bad file")
  check.eq(#records, 1, "scan lists the record")
  -- deterministic: the same command skips it; --force reruns it
  ok, status, log = run_toy(toy, toy_config(), out)
  check.eq(status, "diverged", "skipped as diverged: " .. tostring(status))
  check.truthy(log:find("skip toy-run: diverged at step 5/6", 1, true), "skip line: " .. log)
  ok, status = run_toy(toy, toy_config(), out, {force = true})
  check.eq(status, "done", "forced: rerun (no divergence this time)")
  check.truthy(toy.read_result(path), "a complete results file replaces the record")
  -- before the first checkpoint too: nothing completed, an empty curve
  toy.diverge_at = 0
  ok, status = run_toy(toy, toy_config(), tmp_root .. "/diverged0")
  toy.diverge_at = nil
  check.eq(status, "diverged", "first unit: " .. tostring(status))
  d = assert(diverged.read((lifecycle.paths(tmp_root .. "/diverged0", "toy",
                                                    "toy-run"))))
  check.eq(d.at, 1, "at the first unit")
  check.eq(#d.curves.loss, 0, "no unit completed")
  -- another config under the same id is refused, as for complete files
  ok, status = run_toy(toy, toy_config{noise = 0.25}, tmp_root .. "/diverged0")
  check.truthy(not ok and tostring(status):find("holds another config", 1, true),
               "another config: " .. tostring(status))
end)

suite:test("toy_crash_releases_lock", function()
  local out = tmp_root .. "/crash_lock"
  local path = lifecycle.paths(out, "toy", "toy-run")
  toy.crash_at = 3
  local ok, err = run_toy(toy, toy_config(), out)
  toy.crash_at = nil
  check.truthy(not ok and tostring(err):find("crashed in step 3", 1, true), tostring(err))
  check.eq(sys.exists(path .. lifecycle.LOCK_EXT), false, "an error releases the lock")
end)

-- Writes a lock file as another worker would.
local function plant_lock(path, host, pid, age_s)
  assert(sys.mkdir_p(path:match("^(.*)/[^/]*$")))
  check.spit(path .. lifecycle.LOCK_EXT, ("host=%s\npid=%d\nstart=2026-01-01T00:00:00Z\n"
             .. "epoch=%d\n"):format(host, pid, os.time() - age_s))
end

suite:test("toy_locks", function()
  local out = tmp_root .. "/locks"
  local path = lifecycle.paths(out, "toy", "toy-run")
  -- a live holder on this host (this very process stands for the other worker)
  plant_lock(path, sys.hostname(), sys.pid(), 65)
  local ok, status, log = run_toy(toy, toy_config(), out)
  check.eq(status, "claimed", "left to the live holder: " .. tostring(status))
  check.truthy(log:find("claimed by " .. sys.hostname() .. " pid " .. sys.pid(), 1, true)
               and log:find("(1m ago)", 1, true), "names holder and age: " .. log)
  check.eq(sys.exists(path), false, "not trained")
  check.truthy(sys.exists(path .. lifecycle.LOCK_EXT), "the holder's lock stays")
  -- another host: left alone, with its age and how to clear it
  plant_lock(path, "elsewhere.invalid", 4242, 7200)
  ok, status, log = run_toy(toy, toy_config(), out)
  check.eq(status, "claimed", "another host's lock: " .. tostring(status))
  check.truthy(log:find("elsewhere.invalid pid 4242", 1, true) and log:find("2h00m ago", 1, true)
               and log:find("another host", 1, true) and log:find("delete ", 1, true),
               "another host: " .. log)
  -- a holder that is gone on this host: taken over, then the run trains
  local p = assert(io.popen("sh -c 'echo $$'"))
  local dead = math.tointeger(tonumber(p:read("l")))
  p:close()
  os.remove(path .. lifecycle.LOCK_EXT)
  plant_lock(path, sys.hostname(), dead, 30)
  ok, status, log = run_toy(toy, toy_config(), out)
  check.eq(status, "done", "stale lock taken over: " .. tostring(status) .. "\n" .. log)
  check.truthy(log:find("taking over toy-run", 1, true), "said so: " .. log)
  check.eq(sys.exists(path .. lifecycle.LOCK_EXT), false, "released at the end")
  same_result(assert(toy.read_result(path)), ref, "after a take-over")
  -- an empty lock (its writer died between creating and writing it) is taken over too
  os.remove(path)
  check.spit(path .. lifecycle.LOCK_EXT, "")
  ok, status, log = run_toy(toy, toy_config(), out)
  check.eq(status, "done", "empty lock taken over: " .. tostring(status))
  check.truthy(log:find("held by nobody (it is empty)", 1, true), "said so: " .. log)
end)

suite:test("options_grammar", function()
  local spec = {k = function(v, key)
    if math.type(v) ~= "integer" then options.fail("toy", key, v, "an integer") end
    return v
  end, name = function(v) return v end}
  check.raises(function() options.read("toy", {k = 1.5, name = "a"}, spec) end,
               "toy: option 'k' is float 1.5, expected an integer", "bad value")
  check.raises(function() options.read("toy", {k = 1, name = "a", x = 1}, spec) end,
               "toy: unknown option 'x' (known: k, name)", "unknown")
  check.raises(function() options.read("toy", {name = "a"}, spec) end,
               "toy: missing required option 'k'", "missing")
  check.eq(options.read("toy", {k = 2, name = "a"}, spec).k, 2, "read")
  check.eq(options.show("0.9"), 'string "0.9"', "show string")
  check.eq(options.show(0 / 0), "float nan", "show nan")
  check.eq(options.show(true), "boolean true", "show boolean")
  check.raises(function() options.known_keys("grid", {zz = 1}, {"a", "b"}) end,
               "grid: unknown option 'zz' (known: a, b)", "known_keys with a list")
end)

assert(sys.remove_tree(tmp_root))
suite:finish()
