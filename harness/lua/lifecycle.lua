-- lifecycle.lua: the one run lifecycle of every experiment kind. A run is {id =, config =}
-- (harness/lua/grid.lua); its kind is a task table (harness/lua/tasks.lua maps the config
-- schema to one: the image classifier, the toy GAN, ...). This loop owns everything that is
-- not the task's own numbers: the existing-result check, resume and its checks, checkpoints,
-- divergence, the results file and the log.
--
--   local lifecycle = require "harness.lua.lifecycle"
--   local status = lifecycle.run(task, {id = ..., config = ...}, {experiment = "table2_cifar",
--       out = "results", threads = 2, force = false, command = "...", progress = false,
--       index = 1, total = 4, data_cache = {}, log = nil, checkpoint_every = nil,
--       stop_after = nil, dp = nil})
--     -> "done" | "skipped" | "diverged" | "claimed" | "no_data" | "stopped"
--   (log: a function receiving each line, default: print to stdout; checkpoint_every:
--   units between checkpoints, default the task's; stop_after: tests only, return "stopped"
--   after that many units of this session, as a kill would, leaving the last checkpoint;
--   dp: harness/lua/data_parallel.lua's world, every rank of which calls run with the same
--   run, to train it together: see "Over ranks" below)
--   lifecycle.paths(out, experiment, id) -> results path, checkpoint path
--   lifecycle.stdout_is_tty()            -> whether a live progress bar makes sense
--   lifecycle.duration(seconds)          -> "45s", "12m", "2h05m"
--
-- The task table (fields and signatures; st is the task's own state, u a 0-based unit):
--   name              "classifier": the checkpoint's task attr and the messages' prefix
--   schema            the config spec a run config is validated against (config.lua)
--   unit              "epoch" | "iteration" | ...: one step of the loop, for messages
--   curves            {"epoch", "lr", ...}: the names of the numbers step returns per unit
--   checkpoint_every  units between checkpoints
--   divergence_fix    what to change when ctx.diverged is called, for the message
--   data_parallel     true when the task trains over ranks (optional; env.dp in build)
--   units(cfg)        -> the number of units of the run
--   available(cfg)    -> true, or false and why (optional: e.g. data files absent)
--   sources(cfg)      -> {{src, method, seed}, ...}: the trained models of another experiment
--                        that a run reads (optional; harness/lua/models.lua)
--   build(cfg, env)   -> st; env = {threads =, data_cache =, out =, command =, log =} (the
--                        last three for a task that runs other runs first: tasks/adversarial)
--   describe(st, cfg) -> the text after "run <id>: " (sizes, method)
--   step(st, u, ctx)  -> row {curve = number}, line (optional, logged with an ETA);
--                        ctx = {progress = bool, diverged = function(detail)}: diverged
--                        raises the run's "not finite" error and does not return
--   state(st)         -> the engine.h5 tree of everything a resume needs besides the
--                        curves (weights, optimiser and Rng states as bytes, ...)
--   restore(st, tree) loads a state tree that the loop checked against state(st)
--   result(st, r)     -> the results file's engine.h5 tree, with a summary group;
--                        r = {experiment =, run_id =, config =, provenance =, curves =,
--                        seconds = training time over all sessions}
--   read_result(path) -> r with r.config and r.summary, or nil and why (a complete file)
--   summary_line(s)   -> a short text of a summary group's attrs (the skip and done lines)
--
-- A run: the results file is read back first (task.read_result checks it): a complete one
-- with the same config is skipped unless forced, another config under the same id is an
-- error, a damaged file is reported, moved to <path>.damaged and the run starts again; a
-- diverged record (below) is a result too, skipped unless forced. Then the run is claimed:
-- <path>.lock is created atomically (harness/lua/runlock.lua) holding host, pid and start
-- time, so that any number of workers, on one host or on several sharing the results folder,
-- can run one grid: a run claimed by another live worker is left to it ("claimed"); a lock
-- whose holder is gone on this host is taken over with a message; a lock from another host is
-- reported with its age and left alone (delete it if that worker is gone). The lock goes when
-- the run ends, also by an error. Then
-- the task builds its state and the checkpoint, if any, is checked and restored: it must be
-- this task's and this run's (id and config), have at most units(cfg) units done, come from
-- the same thread count (reductions are fixed-order per thread count, so the bits would
-- change), and hold every dataset of state(st) with the same kind and size; a damaged one
-- is reported and removed; the run's start time and training seconds carry over. Each unit
-- is a step; every checkpoint_every units (not after the last) a checkpoint is written (by
-- <path>.tmp and rename, as every file). When the step calls ctx.diverged (a loss that is not
-- finite), the run stops and its diverged record takes the results file's place
-- (harness/lua/diverged.lua: the unit, the detail, the fix, the curves of the units completed);
-- the checkpoint goes, and the grid goes on: divergence is deterministic, so the record is a
-- result (Table 4 and Figure 5 show divergence), rerun only when forced. At the end the
-- results file is written and the checkpoint removed. So a run
-- killed anywhere (kill -9 included) resumes from its last checkpoint and ends bit-identical
-- to an uninterrupted run at the same thread count, for every task.
--
-- Over ranks (o.dp): rank 0 leads. It alone checks the existing result, claims, resumes,
-- logs and writes (checkpoints, results, the diverged record); its decisions (the status, the
-- units a checkpoint holds) reach the others through dp:share, and they restore the checkpoint
-- it validated. Every rank builds and steps; a run whose data are missing on any rank is
-- skipped by all. The rank count joins the thread count in the provenance and the checks of
-- a resume. An error on one rank leaves the others in a collective: the caller ends the job
-- (experiments/run.lua: mpi.abort).
-- Non-goals: grids and ids (grid.lua), the command line (experiments/run.lua), file formats
-- (results.lua and the tasks).

local sys = require "engine.sys"
local options = require "harness.lua.options"
local provenance = require "harness.lua.provenance"
local checkpoint = require "harness.lua.checkpoint"
local diverged = require "harness.lua.diverged"
local results = require "harness.lua.results"
local runlock = require "harness.lua.runlock"

local M = {}

M.LOCK_EXT = ".lock"

M.DAMAGED_SUFFIX = ".damaged"
local TENSOR_T = "engine.Tensor"

-- The task table's fields and their types (M.check_task); `available` and `sources` are
-- optional.
M.TASK_FIELDS = {
  name = "string", schema = "table", unit = "string", curves = "table",
  checkpoint_every = "integer", divergence_fix = "string", units = "function",
  build = "function", describe = "function", step = "function", state = "function",
  restore = "function", result = "function", read_result = "function",
  summary_line = "function",
}

-- Raises "lifecycle: task <name>: missing required option 'state'" (or a wrong type) for a
-- task table that lacks a field, before anything runs.
function M.check_task(task)
  if type(task) ~= "table" then options.fail("lifecycle", "task", task, "a task table") end
  local where = "lifecycle: task " .. tostring(task.name)
  local names = {}
  for k in pairs(M.TASK_FIELDS) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local want, v = M.TASK_FIELDS[k], task[k]
    if v == nil then options.missing(where, k) end
    if (want == "integer" and (math.type(v) ~= "integer" or v < 1))
       or (want ~= "integer" and type(v) ~= want) then
      options.fail(where, k, v, want == "integer" and "an integer >= 1" or "a " .. want)
    end
  end
  for _, k in ipairs{"available", "sources"} do
    if task[k] ~= nil and type(task[k]) ~= "function" then
      options.fail(where, k, task[k], "a function or nil")
    end
  end
end

local function print_line(line)
  io.stdout:write(line, "\n")
  io.stdout:flush()
end

M.duration = runlock.duration

function M.paths(out, experiment, id)
  local base = ("%s/%s/%s"):format(out, experiment, id)
  return base .. results.RUN_EXT, base .. results.CKPT_EXT
end

-- Whether stdout is a terminal that can redraw a line: TERM set (and not "dumb") and fd 1 a tty.
function M.stdout_is_tty()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  return sys.isatty(1)
end

-- ============================================================================================
-- The existing result and the checkpoint.

local function other_config(task, o)
  error(("%s: %s holds another config under the same run id; delete it or rerun with "
         .. "--force"):format(task.name, o.path), 0)
end

-- "skip" and the complete run, "diverged" and its record, or "run" (after reporting and moving
-- a damaged file aside, or removing it when forced).
local function check_existing(task, run, o)
  if not sys.exists(o.path) then return "run" end
  if o.force then
    os.remove(o.path)
    return "run"
  end
  local d = diverged.read(o.path)
  if d then
    if results.serialize(d.config) ~= results.serialize(run.config) then other_config(task, o) end
    return "diverged", d
  end
  local r, why = task.read_result(o.path)
  if not r then
    local aside = o.path .. M.DAMAGED_SUFFIX
    os.rename(o.path, aside)
    o.say("results file %s is damaged (%s); moved to %s, rerunning %s", o.path, why, aside,
          run.id)
    return "run"
  end
  if results.serialize(r.config) ~= results.serialize(run.config) then other_config(task, o) end
  return "skip", r
end

-- Claims the run (harness/lua/runlock.lua) after creating its folder: true, or false and why.
local function claim(o, run_id)
  local dir = o.path:match("^(.*)/[^/]*$")
  if dir and not sys.isdir(dir) then
    local made, why = sys.mkdir_p(dir)
    if not made then
      error(("lifecycle: cannot create the results folder of %s (%s); check permissions and "
             .. "free space"):format(run_id, tostring(why)), 0)
    end
  end
  return runlock.claim(o.path .. M.LOCK_EXT, run_id, o.say)
end

local function is_tensor(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name == TENSOR_T or false
end

-- The first way the saved state tree differs from the run's own (fresh) one: every dataset
-- of fresh present with the same kind (and size, for tensors), every group of fresh present.
-- Returns nil when it fits.
local function state_misfit(fresh, saved, where)
  for name, v in pairs(fresh.datasets or {}) do
    local got, p = (saved.datasets or {})[name], where .. name
    if is_tensor(v) then
      if not is_tensor(got) then return p .. " is missing or not float32" end
      if got:size() ~= v:size() then
        return ("%s holds %d values, the run has %d"):format(p, got:size(), v:size())
      end
    elseif type(v) == "table" and v.kind == "bytes" then
      if type(got) ~= "string" then return p .. " is missing or not bytes" end
    elseif type(got) ~= "table" then
      return p .. " is missing or not a list of numbers"
    end
  end
  for name, g in pairs(fresh.groups or {}) do
    local sg = (saved.groups or {})[name]
    if type(sg) ~= "table" then return ("group %s%s is missing"):format(where, name) end
    local why = state_misfit(g, sg, where .. name .. "/")
    if why then return why end
  end
  return nil
end

-- Restores st and prog from the checkpoint when there is a usable one; reports and removes a
-- damaged one. Returns the number of units done.
local function resume(task, st, run, o, prog)
  if not sys.exists(o.ckpt_path) then return 0 end
  local ck, why = checkpoint.read(o.ckpt_path)
  if not ck then
    o.say("checkpoint %s is damaged (%s); starting %s from the beginning", o.ckpt_path, why,
          run.id)
    os.remove(o.ckpt_path)
    return 0
  end
  local function refuse(fmt, ...)
    error(("%s: %s: the checkpoint %s %s; delete it or rerun with --force"):format(task.name,
          run.id, o.ckpt_path, fmt:format(...)), 0)
  end
  if ck.task ~= task.name or ck.run_id ~= run.id
     or results.serialize(ck.config) ~= results.serialize(run.config) then
    refuse("belongs to another run (task %s, run id %s, or another config)", ck.task, ck.run_id)
  end
  local total = task.units(run.config)
  if ck.done > total then
    refuse("has %d %ss done, the config asks for %d", ck.done, task.unit, total)
  end
  if ck.provenance.threads ~= o.threads then
    error(("%s: %s: the checkpoint was written with %d threads, this run has %d; resume with "
           .. "--threads %d (the bits depend on the thread count) or rerun with --force")
          :format(task.name, run.id, ck.provenance.threads, o.threads, ck.provenance.threads), 0)
  end
  if ck.provenance.winograd ~= prog.winograd then
    error(("%s: %s: the checkpoint's convolutions ran Winograd on %s, this run's on %s; resume "
           .. "with the --conv-algo of the run that wrote it (%s; the bits depend on it) or "
           .. "rerun with --force"):format(task.name, run.id, ck.provenance.winograd,
           prog.winograd, ck.provenance.winograd == "none" and "direct" or "winograd or "
           .. "default"), 0)
  end
  if ck.provenance.ranks ~= o.ranks then
    error(("%s: %s: the checkpoint was written by %d rank%s, this job has %d; resume with "
           .. "the same number of ranks (mpirun -np %d%s; the bits depend on it) or rerun "
           .. "with --force"):format(task.name, run.id, ck.provenance.ranks,
           ck.provenance.ranks == 1 and "" or "s", o.ranks, ck.provenance.ranks,
           ck.provenance.ranks > 1 and " ... --data-parallel" or ", or without mpirun"), 0)
  end
  for _, name in ipairs(task.curves) do
    if not ck.curves[name] then refuse("has no curve %s", name) end
  end
  local misfit = state_misfit(task.state(st), ck.state, "state/")
  if misfit then refuse("does not fit this run: %s", misfit) end
  local restored, err = pcall(task.restore, st, ck.state)
  if not restored then refuse("cannot be restored: %s", tostring(err)) end
  for _, name in ipairs(task.curves) do prog.curves[name] = ck.curves[name] end
  prog.start_time, prog.seconds = ck.provenance.start_time, ck.provenance.seconds
  prog.ckpt_done = ck.done
  o.say("resuming %s: %d of %d %ss done (checkpoint %s)", run.id, ck.done, total, task.unit,
        o.ckpt_path)
  return ck.done
end

-- A follower rank: the state of the checkpoint the leader validated and resumed from.
local function follow(task, st, o, prog)
  local ck = assert(checkpoint.read(o.ckpt_path))
  task.restore(st, ck.state)
  for _, name in ipairs(task.curves) do prog.curves[name] = ck.curves[name] end
  prog.start_time, prog.seconds = ck.provenance.start_time, ck.provenance.seconds
end

-- The conv layers of the task's net (st.net, when it has one) that run Winograd: their paths,
-- comma-separated, or "none".
local function winograd_of(st)
  local net = type(st) == "table" and st.net
  local paths = type(net) == "userdata" and net:winograd() or {}
  return #paths > 0 and table.concat(paths, ",") or "none"
end

local function save_checkpoint(task, st, run, o, prog, done)
  checkpoint.write(o.ckpt_path, {
    task = task.name, run_id = run.id, done = done, config = run.config,
    curves = prog.curves, curve_names = task.curves, state = task.state(st),
    provenance = {start_time = prog.start_time, threads = o.threads, ranks = o.ranks,
                  seconds = prog.seconds, winograd = prog.winograd},
  })
  prog.ckpt_done = done
end

-- ============================================================================================
-- A run.

-- The error object of ctx.diverged: caught around the step, never seen by the caller.
local Diverged = {}

-- Writes the diverged record in place of the results file and removes the checkpoint.
local function record_diverged(task, run, o, prog, at, total, detail, tag)
  local cfg = run.config
  local prov = provenance.collect{threads = o.threads, ranks = o.ranks, seed = cfg.seed,
                                  scale = cfg.scale, command = o.command or "",
                                  start_time = prog.start_time, winograd = prog.winograd}
  diverged.write(o.path, {
    experiment = o.experiment, run_id = run.id, task = task.name, unit = task.unit, at = at,
    total = total, detail = detail, fix = task.divergence_fix, config = cfg,
    provenance = prov, curves = prog.curves,
  })
  os.remove(o.ckpt_path)
  o.say("%s diverged %s: the training loss is not finite at %s %d/%d (%s); recorded in %s, "
        .. "not rerun unless forced. Fix: %s; a changed recipe gets a new run id", tag, run.id,
        task.unit, at, total, detail, o.path, task.divergence_fix)
  return "diverged"
end

-- An error as text for an xpcall handler, with the traceback when MIXUP_DEBUG=1 (the host's
-- --debug sets it); experiments/run.lua uses it around each run.
function M.error_text(e)
  if os.getenv("MIXUP_DEBUG") == "1" then return debug.traceback(tostring(e), 2) end
  return tostring(e)
end

-- A step's error: the Diverged object as it is, anything else as M.error_text.
local function step_error(e)
  if getmetatable(e) == Diverged then return e end
  return M.error_text(e)
end

-- The statuses a leader shares with the other ranks, by number (0: train the run).
local SHARED = {"skipped", "diverged", "claimed"}

-- "skipped" or "diverged" (said) when the results file settles the run, else nil.
local function settled(task, run, o, tag)
  local action, done = check_existing(task, run, o)
  if action == "skip" then
    o.say("%s skip %s: complete (%s); --force reruns it", tag, run.id,
          task.summary_line(done.summary))
    return "skipped"
  elseif action == "diverged" then
    o.say("%s skip %s: diverged at %s %d/%d (%s); --force reruns it", tag, run.id, done.unit,
          done.at, done.total, done.detail)
    return "diverged"
  end
  return nil
end

function M.run(task, run, o)
  M.check_task(task)
  local cfg = run.config
  local opts = {}
  for k, v in pairs(o) do opts[k] = v end
  o = opts
  local dp = o.dp
  local lead = not dp or dp.leader
  o.ranks = dp and dp.size or 1
  if dp and not task.data_parallel then
    error(("%s: this task cannot train one run over %d ranks (--data-parallel); run it "
           .. "without that flag"):format(task.name, dp.size), 0)
  end
  local log = o.log or print_line
  if not lead then log = function() end end
  o.say = function(fmt, ...) log(fmt:format(...)) end
  o.path, o.ckpt_path = M.paths(o.out, o.experiment, run.id)
  local tag = ("[%d/%d]"):format(o.index or 1, o.total or 1)
  if task.available then
    local have, why = task.available(cfg)
    if dp and dp:any(not have) and have then
      have, why = false, "its data are missing on another rank"
    end
    if not have then
      o.say("%s skip %s: %s", tag, run.id, why)
      return "no_data"
    end
  end
  local status, release
  if lead then
    status = settled(task, run, o, tag)
    if not status then
      local claimed, holder = claim(o, run.id)
      if claimed then
        release = setmetatable({}, {__close = function() runlock.release(o.path .. M.LOCK_EXT) end})
      else
        o.say("%s skip %s: %s", tag, run.id, holder)
        status = "claimed"
      end
    end
  end
  local _ <close> = release
  if release then
    -- another worker may have finished it between the check and the claim
    status = settled(task, run, o, tag)
    if not status and o.force then os.remove(o.ckpt_path) end
  end
  if dp then
    local code = 0
    for i, name in ipairs(SHARED) do if status == name then code = i end end
    status = SHARED[dp:share(code)]
  end
  if status then return status end

  local st = task.build(cfg, {threads = o.threads, data_cache = o.data_cache, out = o.out,
                             command = o.command, log = log, dp = dp})
  local total = task.units(cfg)
  -- ckpt_done: the units done in the last checkpoint written or restored
  local prog = {start_time = provenance.now(), seconds = 0.0, curves = {}, ckpt_done = 0,
                winograd = winograd_of(st)}
  for _, name in ipairs(task.curves) do prog.curves[name] = {} end
  o.say("%s run %s: %s, %d threads%s", tag, run.id, task.describe(st, cfg), o.threads,
        dp and (" on each of %d ranks"):format(dp.size) or "")
  local first = lead and resume(task, st, run, o, prog) or 0
  if dp then
    first = dp:share(first)
    if not lead and first > 0 then follow(task, st, o, prog) end
  end
  local every = o.checkpoint_every or task.checkpoint_every
  local ctx = {progress = lead and o.progress or false}
  local session_s = 0.0
  for u = first, total - 1 do
    ctx.diverged = function(detail)
      error(setmetatable({detail = tostring(detail)}, Diverged), 0)
    end
    local t0 = sys.clock()
    local ok, row, line = xpcall(task.step, step_error, st, u, ctx)
    if not ok then
      if getmetatable(row) == Diverged then
        if not lead then return "diverged" end
        return record_diverged(task, run, o, prog, u + 1, total, row.detail, tag)
      end
      error(row, 0)
    end
    local secs = sys.clock() - t0
    for _, name in ipairs(task.curves) do
      local c = prog.curves[name]
      c[#c + 1] = row[name] + 0.0
    end
    prog.seconds = prog.seconds + secs
    session_s = session_s + secs
    if line then
      local mean = session_s / (u + 1 - first)
      o.say("%s ETA %s", line, M.duration(mean * (total - u - 1)))
    end
    local n = u + 1
    if lead and n < total and n % every == 0 then save_checkpoint(task, st, run, o, prog, n) end
    if o.stop_after and n - first >= o.stop_after and n < total then return "stopped" end
  end
  if not lead then return "done" end

  local prov = provenance.collect{threads = o.threads, ranks = o.ranks, seed = cfg.seed,
                                  scale = cfg.scale, command = o.command or "",
                                  start_time = prog.start_time, winograd = prog.winograd}
  local tree = task.result(st, {experiment = o.experiment, run_id = run.id, config = cfg,
                                provenance = prov, curves = prog.curves,
                                seconds = prog.seconds})
  results.write_tree(o.path, tree)
  os.remove(o.ckpt_path)
  o.say("%s done %s: %s -> %s", tag, run.id, task.summary_line(tree.groups.summary.attrs),
        o.path)
  return "done"
end

return M
