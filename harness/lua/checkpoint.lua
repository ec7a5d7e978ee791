-- checkpoint.lua: the checkpoint file of every task, results/<experiment>/<run-id>.ckpt.h5,
-- written by harness/lua/lifecycle.lua every checkpoint_every units and removed when the run
-- ends (format in harness/lua/results.lua's header: root attrs format_version =
-- results.CHECKPOINT_VERSION, schema, task, run_id, done; groups config, curves, provenance,
-- state).
--
--   local checkpoint = require "harness.lua.checkpoint"
--   checkpoint.write(path, ckpt)  ckpt = {task =, run_id =, done =, config =, curves =,
--                                 curve_names = {...}, state = tree, provenance =
--                                 {start_time = string, threads = integer, ranks = integer,
--                                 seconds = number, winograd = string|nil}}; raises on a
--                                 missing or mistyped field
--   checkpoint.read(path)         -> ckpt (the same fields, path added) or nil, reason
--
-- provenance.ranks is the number of MPI ranks that trained the run together (1 for one
-- process; harness/lua/data_parallel.lua): like the thread count, it changes the order of the
-- sums and so the bits, and a resume refuses another. A checkpoint written before ranks were
-- recorded reads as 1 rank (every earlier run was one process). provenance.winograd names
-- the conv layers that ran Winograd (net:winograd(), comma-separated, "none" for none): the
-- algorithm changes the roundings too; a checkpoint written before it was recorded reads as
-- "none" (no build before ran Winograd).
-- Non-goals: when to write and what to check on resume (lifecycle.lua), the state tree (the
-- tasks).

local results = require "harness.lua.results"

local M = {}

local need, kind_of = results.need, results.kind_of
local bad = results.bad

-- The unit counts and curves of a checkpoint: every name in names, done entries each.
local function check_curves(fn, curves, names, done)
  need(type(curves) == "table", "%s: curves is %s, expected a table", fn, kind_of(curves))
  for _, name in ipairs(names) do
    local c = curves[name]
    need(type(c) == "table" and #c == done, "%s: curves.%s has %s entries, expected %d (one "
         .. "per unit done)", fn, name, type(c) == "table" and #c or kind_of(c), done)
    for i = 1, done do
      need(type(c[i]) == "number", "%s: curves.%s[%d] is %s, expected a number", fn, name, i,
           kind_of(c[i]))
    end
  end
end

function M.write(path, ckpt)
  local fn = "checkpoint.write"
  results.check_string(path, fn .. ": path")
  need(type(ckpt) == "table", "%s: ckpt is %s, expected a table", fn, kind_of(ckpt))
  results.check_string(ckpt.task, fn .. ": ckpt.task")
  results.check_string(ckpt.run_id, fn .. ": ckpt.run_id")
  need(math.type(ckpt.done) == "integer" and ckpt.done >= 0,
       "%s: ckpt.done is %s, expected an integer >= 0", fn, tostring(ckpt.done))
  need(type(ckpt.config) == "table", "%s: ckpt.config is %s, expected a table", fn,
       kind_of(ckpt.config))
  need(type(ckpt.curve_names) == "table", "%s: ckpt.curve_names is %s, expected a list", fn,
       kind_of(ckpt.curve_names))
  check_curves(fn, ckpt.curves, ckpt.curve_names, ckpt.done)
  need(type(ckpt.state) == "table", "%s: ckpt.state is %s, expected an engine.h5 tree", fn,
       kind_of(ckpt.state))
  local prov = ckpt.provenance
  need(type(prov) == "table" and type(prov.start_time) == "string" and
       math.type(prov.threads) == "integer" and math.type(prov.ranks) == "integer" and
       type(prov.seconds) == "number",
       "%s: ckpt.provenance is %s, expected {start_time = string, threads = integer, ranks = "
       .. "integer, seconds = number}", fn, kind_of(prov))
  local curves = {}
  for _, name in ipairs(ckpt.curve_names) do curves[name] = ckpt.curves[name] end
  results.write_tree(path, {
    attrs = {format_version = results.CHECKPOINT_VERSION, schema = results.SCHEMA_CHECKPOINT,
             task = ckpt.task, run_id = ckpt.run_id, done = ckpt.done},
    groups = {
      config = results.config_tree(ckpt.config),
      curves = results.curves_tree(curves),
      -- a resume keeps the run's start time and refuses another thread or rank count (the
      -- bits depend on both)
      provenance = {attrs = {start_time = prov.start_time, threads = prov.threads,
                             ranks = prov.ranks, seconds = prov.seconds + 0.0,
                             winograd = prov.winograd or "none"}},
      state = ckpt.state,
    },
  })
end

function M.read(path)
  return results.read_checked(path, results.SCHEMA_CHECKPOINT, "a checkpoint", function(tree)
    local a = tree.attrs
    for _, name in ipairs{"task", "run_id"} do
      if type(a[name]) ~= "string" then bad("root attribute %s is missing", name) end
    end
    if math.type(a.done) ~= "integer" then bad("root attribute done is missing") end
    local config = results.read_config(results.check_group(tree, "config"))
    local curves = results.check_group(tree, "curves").datasets
    for name, c in pairs(curves) do
      if type(c) ~= "table" or #c ~= a.done then
        bad("curves.%s has %s entries, done is %d", name, type(c) == "table" and #c or "no",
            a.done)
      end
    end
    local pa = results.check_group(tree, "provenance").attrs
    if type(pa.start_time) ~= "string" or math.type(pa.threads) ~= "integer"
       or type(pa.seconds) ~= "number" then
      bad("group provenance lacks start_time, threads or seconds")
    end
    local ranks = pa.ranks == nil and 1 or pa.ranks
    local winograd = pa.winograd == nil and "none" or pa.winograd
    if type(winograd) ~= "string" then bad("provenance.winograd is not a string") end
    if math.type(ranks) ~= "integer" or ranks < 1 then
      bad("provenance.ranks is %s, expected an integer >= 1", tostring(pa.ranks))
    end
    return {
      path = path, task = a.task, run_id = a.run_id, done = a.done, config = config,
      curves = curves, state = results.check_group(tree, "state"),
      provenance = {start_time = pa.start_time, threads = pa.threads, ranks = ranks,
                    seconds = pa.seconds, winograd = winograd},
    }
  end)
end

return M
