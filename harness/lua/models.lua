-- models.lua: trained models of one experiment, found and loaded for another (Table 5's attacks,
-- Figure 2's pairs): the source run of a method and seed from the source experiment's grid,
-- trained first through the one lifecycle when its results file is absent (never retrained
-- when present), and built as an engine net with its weights, with the MD5 of its results file
-- so that a measurement names the exact weights.
--
--   local models = require "harness.lua.models"
--   models.source_run(src, method, seed)  -> {id =, config =}, the source experiment table
--   models.load(src, method, seed, env, batch) -> {net =, id =, md5 =, config =}
--   models.available(src, method, seed)   -> true, or false and why (script or data absent)
--   models.prepare(task, runs, env, part) -> trains the source models that the runs of a task
--                                            with sources(cfg) read and that are absent, part
--                                            {k =, n =} of them (run.lua, before the runs)
--   models.file_md5(path)                 -> the MD5 of a file, as md5sum prints it
--   models.result_tree(task, st, r, summary) / models.read_result(task, path, what)
--                                         the results file of a measurement on loaded models
--                                         (root attrs, config, provenance, curves, a models
--                                         group naming each role's run id and file MD5, and
--                                         summary), for a task with SCHEMA_RUN, FORMAT_VERSION,
--                                         STATUS_COMPLETE, curves and MODEL_ROLES (st[role] is
--                                         a models.load result)
-- src = {experiment =, scale =, dataset =, net =} (the dataset, and the level id of the source
-- grid's net axis; its other axes: source_filters); a seed outside the source scale's list is
-- the same recipe at that seed (the run the source grid would have with it in its list: Table
-- 5 attacks 5 seeds of Table 2's cpu models, whose grid has 3); env = {out =, threads =, command =,
-- data_cache =, log =} (a task's build env). The source task says whether the data are there
-- (task.available) and what shape its nets take (task.input_shape).

local nn = require "engine.nn"
local sys = require "engine.sys"
local grid = require "harness.lua.grid"
local results = require "harness.lua.results"

local M = {}

-- The filters of the source run: the source spec names the dataset (matched against the
-- run's config when the grid has no dataset axis, e.g. Table 1's) and the net, the method and
-- the seed are given; any other axis of the source grid is pinned at its first level (Table
-- 1's epochs: e90, the 90-epoch models Table 5 attacks).
local function source_filters(src, method, seed, exp)
  local filters = {"net=" .. src.net, "method=" .. method, "seed=" .. seed}
  for _, axis in ipairs(exp.axes) do
    if axis.name == "dataset" then
      filters[#filters + 1] = "dataset=" .. src.dataset
    elseif axis.name ~= "net" and axis.name ~= "method" then
      filters[#filters + 1] = axis.name .. "=" .. axis.levels[1].id
    end
  end
  return filters
end

-- exp, or a copy whose scale lists seed when its list lacks it (the run ids stay those of
-- the source grid: an id hashes the run's config, not the list).
local function with_seed(exp, scale, seed)
  local recipe = exp.scales[scale]
  if type(recipe) ~= "table" or type(recipe.seeds) ~= "table" then return exp end
  for _, s in ipairs(recipe.seeds) do if s == seed then return exp end end
  local r, scales, e = {}, {}, {}
  for k, v in pairs(recipe) do r[k] = v end
  r.seeds = {seed}
  for k, v in pairs(exp.scales) do scales[k] = v end
  scales[scale] = r
  for k, v in pairs(exp) do e[k] = v end
  e.scales = scales
  return e
end

function M.source_run(src, method, seed, exp)
  exp = exp or require("experiments." .. src.experiment)
  local ex = with_seed(exp, src.scale, seed)
  local runs = grid.expand(ex, src.scale, grid.parse_filters(source_filters(src, method, seed,
                                                                            ex), ex, src.scale))
  if #runs ~= 1 or runs[1].config.dataset ~= src.dataset then
    error(("models: %s at scale %s has %d runs for dataset=%s net=%s method=%s seed=%d, "
           .. "expected 1"):format(src.experiment, src.scale,
           #runs == 1 and 0 or #runs, src.dataset, src.net, method, seed), 0)
  end
  return runs[1], exp
end

-- The task that trains the source experiment's runs (its schema's).
local function source_task(exp)
  return require("harness.lua.tasks").get(exp.schema)
end

-- The source run and its experiment, or nil and why it cannot be had (script or data absent).
local function available_run(src, method, seed)
  local file = "experiments/" .. src.experiment .. ".lua"
  if not sys.exists(file) then
    return nil, ("the source models' experiment %s is not written yet"):format(file)
  end
  local ok, run, exp = pcall(M.source_run, src, method, seed)
  if not ok then return nil, tostring(run) end
  local task = source_task(exp)
  if task.available then
    local have, why = task.available(run.config)
    if not have then return nil, why end
  end
  return run, exp
end

function M.available(src, method, seed)
  local run, why = available_run(src, method, seed)
  if not run then return false, why end
  return true
end

function M.file_md5(path)
  local h, why = sys.md5_file(path)
  if not h then error("models: " .. why, 0) end
  return h
end

local function copy_opts(t, skip)
  local o = {}
  for k, v in pairs(t) do if k ~= skip then o[k] = v end end
  return o
end

-- The lifecycle status of training the source run (of experiment exp) into env.out.
local function train_run(src, run, exp, env)
  local lifecycle = require "harness.lua.lifecycle"
  return lifecycle.run(source_task(exp), run, {experiment = src.experiment, out = env.out,
                                               threads = env.threads, command = env.command,
                                               data_cache = env.data_cache, log = env.log})
end

local function fail_status(run, status)
  error(("models: the source model %s ended %s; its results file is needed"):format(run.id,
        status), 0)
end


M.WAIT_POLL = 10 -- seconds between looks at a source model another worker is training

function M.load(src, method, seed, env, batch)
  local run, exp = M.source_run(src, method, seed)
  local lifecycle = require "harness.lua.lifecycle"
  local path = lifecycle.paths(env.out, src.experiment, run.id)
  local said = false
  while not sys.exists(path) do
    local status = train_run(src, run, exp, env)
    if status == "claimed" then
      -- another worker trains it (a part of this grid, or a worker of the source grid): wait
      -- for its file; a lock whose holder died on this host is taken over by the next try
      if not said then
        print(("  waiting for the source model %s, which another worker is training (its "
               .. "lock: %s%s)"):format(run.id, path, lifecycle.LOCK_EXT))
        io.stdout:flush()
        said = true
      end
      sys.sleep(M.WAIT_POLL)
    elseif status ~= "done" and status ~= "skipped" then
      fail_status(run, status)
    elseif not sys.exists(path) then
      error(("models: the source model %s ended %s but %s is absent"):format(run.id, status,
            path), 0)
    end
  end
  local r, why = results.read_run(path)
  if not r then error("models: " .. why, 0) end
  local mc = r.config
  local desc = require("nets." .. mc.net.family)(copy_opts(mc.net, "family"))
  local net = nn.build(desc, source_task(exp).input_shape(mc),
                       {batch = batch, threads = env.threads})
  net:params():copy(r.weights.params)
  net:buffers():copy(r.weights.buffers)
  return {net = net, id = run.id, md5 = M.file_md5(path), config = mc}
end

-- The absent source models that the runs read (task.sources(cfg) -> {{src, method, seed},
-- ...}), in the runs' order, each once; part {k =, n =} trains models k, k + n, ... of them,
-- so that the processes of one grid (run.lua --part, MPI ranks) train them side by side
-- before any evaluation waits for one. A model that another worker holds is left to it (the
-- evaluation that reads it waits). Returns the number trained here and the number absent.
function M.prepare(task, runs, env, part)
  if not task.sources then return 0, 0 end
  local lifecycle = require "harness.lua.lifecycle"
  local absent, seen = {}, {}
  for _, r in ipairs(runs) do
    for _, s in ipairs(task.sources(r.config)) do
      local run, exp = available_run(s[1], s[2], s[3])
      if run and not seen[run.id] then
        seen[run.id] = true
        if not sys.exists(lifecycle.paths(env.out, s[1].experiment, run.id)) then
          absent[#absent + 1] = {src = s[1], run = run, exp = exp}
        end
      end
    end
  end
  local trained = 0
  for i, a in ipairs(absent) do
    if (i - 1) % part.n == part.k - 1 then
      local status = train_run(a.src, a.run, a.exp, env)
      if status ~= "done" and status ~= "skipped" and status ~= "claimed" then
        fail_status(a.run, status)
      end
      if status == "done" then trained = trained + 1 end
    end
  end
  return trained, #absent
end

function M.result_tree(task, st, r, summary)
  local named = {}
  for _, role in ipairs(task.MODEL_ROLES) do
    named[role .. "_run_id"] = st[role].id
    named[role .. "_file_md5"] = st[role].md5
  end
  return {
    attrs = {format_version = task.FORMAT_VERSION, schema = task.SCHEMA_RUN,
             experiment = r.experiment, run_id = r.run_id, status = task.STATUS_COMPLETE},
    groups = {
      config = results.config_tree(r.config),
      provenance = {attrs = r.provenance},
      curves = results.curves_tree(r.curves),
      models = {attrs = named},
      summary = {attrs = summary},
    },
  }
end

function M.read_result(task, path, what)
  return results.read_checked(path, task.SCHEMA_RUN, what, function(tree)
    local a = tree.attrs
    if a.status ~= task.STATUS_COMPLETE then
      results.bad("status is %s, expected %q", tostring(a.status), task.STATUS_COMPLETE)
    end
    for _, g in ipairs{"config", "provenance", "curves", "models", "summary"} do
      if not tree.groups[g] then results.bad("group '%s' is missing", g) end
    end
    local curves = tree.groups.curves.datasets
    for _, name in ipairs(task.curves) do
      if not curves[name] then results.bad("curve '%s' is missing", name) end
    end
    return {path = path, experiment = a.experiment, run_id = a.run_id,
            config = results.read_config(tree.groups.config),
            provenance = tree.groups.provenance.attrs, curves = curves,
            models = tree.groups.models.attrs, summary = tree.groups.summary.attrs}
  end)
end

return M
