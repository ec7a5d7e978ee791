-- results.lua: the results schema (format_version 1): one HDF5 file per run,
-- results/<experiment>/<run-id>.h5, plus a checkpoint results/<experiment>/<run-id>.ckpt.h5,
-- both written through engine.h5 (write to <path>.tmp, rename on success; harness/bind/lua_h5.c
-- gives the tree format). Readers check format_version and schema before anything else.
--
-- Run file:
--   root attrs   format_version = 1, schema = "mixup-repro/run", experiment, run_id,
--                status = "complete"
--   config       attrs: the resolved run config flattened ("a.b.c" keys; numbers, strings,
--                booleans, arrays of one scalar kind) plus attr "lua", the config as a Lua table
--                constructor with sorted keys (exact round trip, M.serialize)
--   provenance   attrs: PROVENANCE below (ISO 8601 UTC times)
--   curves       f64 datasets of one entry per epoch, equal lengths: CURVES below; errors are
--                percentages (mixup's train error is lambda-weighted against the two labels)
--   summary      attrs: SUMMARY below; the statistics are recomputed from the curves on write and
--                checked on read, so a file can never disagree with itself
--   weights      float32 datasets params (flat, parameters() order) and buffers (BN running
--                statistics)
-- Diverged records (schema "mixup-repro/diverged", in place of a run file):
-- harness/lua/diverged.lua.
-- Checkpoint file (every task's, written by harness/lua/lifecycle.lua): root attrs
-- format_version = CHECKPOINT_VERSION (another version is refused, never misread:
-- M.check_checkpoint_version), schema = "mixup-repro/checkpoint", task (the task's name),
-- run_id, done (the units done: epochs, iterations); groups config, curves (one entry per unit
-- done, the task's curve names), provenance (start_time, threads, ranks, seconds: the training
-- time so far) and state (the task's tree: weights, optimiser groups, Rng states as bytes,
-- anything it needs). harness/lua/checkpoint.lua writes and reads them.
--
-- API (Lua tables in, Lua tables out):
--   M.write_run(path, run)          run = {experiment =, run_id =, config =, provenance =,
--                                   curves =, summary = {n_params =, ...}, weights = {params =,
--                                   buffers =}}; raises on a missing or mistyped field; makes
--                                   path's directory when absent
--   M.read_run(path[, opts])        -> run (the same fields plus path, format_version, status,
--                                   config_flat), or nil and a reason naming the file and the fix;
--                                   opts.weights = false drops the weights after reading
--   M.scan(dir)                     -> runs (complete, sorted by path), bad ({path =, reason =}),
--                                   diverged (harness/lua/diverged.lua's records, by path)
--   M.run_tree(run)                 the tree write_run writes (checked the same way)
--   M.summarize(curves, n_params)   -> the summary table; M.median_last(values, k)
--   M.median_final(curves)          -> the report's statistic (median over the last 5 % of the
--                                   epochs, M.final_window) and its window
--   M.serialize(v), M.deserialize(s), M.flatten(config)
-- Shared with the other tasks' files (harness/lua/tasks/): M.config_tree(config),
-- M.curves_tree(curves), M.read_config(group), M.write_tree(path, tree) (makes the folder),
-- M.read_checked(path, schema, what, body) with M.bad(fmt, ...), M.check_group(tree, name) and
-- M.check_attrs(attrs, spec, group) (a reader's checks, every problem as nil,
-- "<path>: <what>; <fix>"), M.check_provenance(where, prov) (a writer's), M.list_h5(dir)
-- (results files under dir, sorted), and a writer's checks M.need(cond, fmt, ...),
-- M.check_string(v, what), M.kind_of(v).
-- Non-goals: choosing paths and run ids (grid.lua), training (lifecycle.lua and the tasks),
-- provenance values (provenance.lua).

local h5 = require "engine.h5"
local sys = require "engine.sys"
local options = require "harness.lua.options"

local M = {}

M.FORMAT_VERSION = 1
-- Checkpoints (every task's, one layout) have their own version. 2: the lifecycle's layout
-- (task, done, a state group), optimiser state as float32 datasets (portable); 1: per-kind
-- layouts with the optimiser state as a host-byte-order blob, which this build refuses.
M.CHECKPOINT_VERSION = 2
M.SCHEMA_RUN = "mixup-repro/run"
M.SCHEMA_CHECKPOINT = "mixup-repro/checkpoint"
-- Checkpoint schemas of earlier builds (version 1 had one per kind): refused like an old
-- version of the current one, never taken for a damaged file and silently dropped.
M.OLD_CHECKPOINT_SCHEMAS = {["mixup-repro/gan-checkpoint"] = true}
M.STATUS_COMPLETE = "complete"
M.SCHEMA_DIVERGED = "mixup-repro/diverged" -- harness/lua/diverged.lua's records
M.MEDIAN_LAST = 10 -- the paper's statistic: median test error of the last 10 epochs
-- ... of 200: the last 5 % of training, all at the final learning rate. At a reduced scale the
-- same fraction is taken (never fewer than one epoch), so that the statistic never reaches back
-- into an earlier learning-rate phase: 16 epochs give 1, 100 give 5, 200 give the paper's 10.
M.FINAL_FRACTION = 0.05
M.FIX = "delete it to rerun"
M.RUN_EXT = ".h5"
M.CKPT_EXT = ".ckpt.h5"
M.CONFIG_LUA_ATTR = "lua"
M.TENSOR_T = "engine.Tensor"

-- Per-epoch curves, in the order the exports print them.
M.CURVES = {"epoch", "lr", "train_loss", "train_error", "test_loss", "test_error", "seconds"}

-- Provenance attributes and their types ("integer" is math.type; others are Lua types).
M.PROVENANCE = {
  project_version = "string", git_commit = "string", git_dirty = "boolean",
  compiler = "string", cflags = "string", blas = "string", threads = "integer",
  host = "string", start_time = "string", end_time = "string", seed = "integer",
  scale = "string", command = "string",
}

M.SUMMARY = {
  test_error_median_last10 = "number", test_error_best = "number", test_error_last = "number",
  train_error_last = "number", epochs = "integer", n_params = "integer",
}

-- Summary statistics derived from the curves; n_params is the caller's.
local DERIVED = {"test_error_median_last10", "test_error_best", "test_error_last",
                 "train_error_last", "epochs"}

-- {==================================================================================
-- Small helpers
-- ===================================================================================

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta == "number" end -- integer keys first, then strings
    return a < b
  end)
  return keys
end

local function is_tensor(v)
  local mt = type(v) == "userdata" and getmetatable(v)
  return mt and mt.__name == M.TENSOR_T or false
end

-- "integer", "number" (a float), or type(v).
local function kind_of(v)
  if type(v) == "number" then
    return math.type(v) == "integer" and "integer" or "number"
  end
  return type(v)
end

-- True when v has type want; "number" accepts integers too.
local function has_type(v, want)
  local k = kind_of(v)
  return k == want or (want == "number" and k == "integer")
end

-- True for a table whose keys are exactly 1..#t.
local function is_sequence(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- }==================================================================================

-- {==================================================================================
-- Statistics
-- ===================================================================================

-- Median of the last min(k, #values) values (the mean of the middle two for an even count).
function M.median_last(values, k)
  local n = #values
  assert(n >= 1, "results.median_last: no values")
  local m = math.min(k, n)
  local tail = {}
  for i = n - m + 1, n do tail[#tail + 1] = values[i] end
  table.sort(tail)
  if m % 2 == 1 then return tail[(m + 1) // 2] end
  return (tail[m // 2] + tail[m // 2 + 1]) / 2
end

-- The summary attrs of a run from its curves (non-empty, already validated).
-- The number of final epochs the statistic takes from a run of `epochs` epochs.
function M.final_window(epochs)
  return math.max(1, math.floor(M.FINAL_FRACTION * epochs + 0.5))
end

-- The statistic of a run: the median test error over its final window; returns it and k.
function M.median_final(curves)
  local k = M.final_window(#curves.test_error)
  return M.median_last(curves.test_error, k), k
end

function M.summarize(curves, n_params)
  local te = curves.test_error
  local best = math.huge
  for _, v in ipairs(te) do best = math.min(best, v) end
  return {
    test_error_median_last10 = M.median_last(te, M.MEDIAN_LAST),
    test_error_best = best,
    test_error_last = te[#te],
    train_error_last = curves.train_error[#curves.train_error],
    epochs = #te,
    n_params = n_params,
  }
end

-- }==================================================================================

-- {==================================================================================
-- Config: Lua constructor and flattened attributes
-- ===================================================================================

local LUA_KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat "
          .. "return then true until while"):gmatch("%a+") do
  LUA_KEYWORDS[w] = true
end

-- A number literal that loads back to exactly x, with its integer/float subtype.
local function number_literal(x)
  if math.type(x) == "integer" then
    if x == math.mininteger then return "(-9223372036854775807 - 1)" end
    return string.format("%d", x)
  end
  if x ~= x then return "(0/0)" end
  if x == math.huge then return "(1/0)" end
  if x == -math.huge then return "(-1/0)" end
  local s
  for digits = 15, 17 do -- the shortest that round-trips
    s = string.format("%." .. digits .. "g", x)
    if tonumber(s) == x then break end
  end
  if not s:find("[%.eEn]") then s = s .. ".0" end -- keep the float subtype
  return s
end

local function serialize_into(v, out, where, seen)
  local t = type(v)
  if t == "number" then
    out[#out + 1] = number_literal(v)
  elseif t == "string" then
    out[#out + 1] = string.format("%q", v)
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "table" then
    if seen[v] then error("results.serialize: " .. where .. " is a cycle", 0) end
    seen[v] = true
    out[#out + 1] = "{"
    local seq = is_sequence(v)
    for i, k in ipairs(sorted_keys(v)) do
      if i > 1 then out[#out + 1] = ", " end
      if not seq then
        if type(k) == "string" and k:match("^[%a_][%w_]*$") and not LUA_KEYWORDS[k] then
          out[#out + 1] = k .. " = "
        elseif type(k) == "string" then
          out[#out + 1] = string.format("[%q] = ", k)
        elseif math.type(k) == "integer" then
          out[#out + 1] = string.format("[%d] = ", k)
        else
          error(string.format("results.serialize: %s has a key of type %s (expected strings "
                              .. "or integers)", where, kind_of(k)), 0)
        end
      end
      serialize_into(v[k], out, where .. "." .. tostring(k), seen)
    end
    out[#out + 1] = "}"
    seen[v] = nil
  else
    error(string.format("results.serialize: %s is a %s (expected a number, string, boolean "
                        .. "or table)", where, t), 0)
  end
end

-- The value as a Lua expression; tables with sorted keys, so equal values give equal strings.
function M.serialize(v)
  local out = {}
  serialize_into(v, out, "config", {})
  return table.concat(out)
end

-- The value of a string made by M.serialize, or nil and a reason. It runs in an empty
-- environment: a constructor of constants needs nothing else.
function M.deserialize(s)
  local chunk, err = load("return " .. s, "=config", "t", {})
  if not chunk then return nil, "config.lua does not parse: " .. err end
  local ok, v = pcall(chunk)
  if not ok then return nil, "config.lua does not evaluate: " .. tostring(v) end
  return v
end

-- A sequence whose values are all numbers, all strings or all booleans (or empty): one attr.
local function scalar_array(t)
  if not is_sequence(t) then return false end
  local kind = nil
  for _, v in ipairs(t) do
    local k = type(v)
    if k ~= "number" and k ~= "string" and k ~= "boolean" then return false end
    if kind and k ~= kind then return false end
    kind = k
  end
  return true
end

local function flatten_into(t, prefix, out)
  for _, k in ipairs(sorted_keys(t)) do
    local ks = tostring(k)
    if ks == "" or ks:find("[%./]") then
      error(string.format("results.flatten: key %q under '%s' contains '.' or '/' (the "
                          .. "flattened names join keys with '.')", ks, prefix ~= "" and prefix
                          or "config"), 0)
    end
    local name = prefix == "" and ks or prefix .. "." .. ks
    local v = t[k]
    if type(v) == "table" and not scalar_array(v) then
      flatten_into(v, name, out)
    elseif type(v) == "table" or type(v) == "number" or type(v) == "string"
        or type(v) == "boolean" then
      out[name] = v
    else
      error(string.format("results.flatten: config.%s is a %s", name, type(v)), 0)
    end
  end
end

-- The config as flat attributes: {["optim.lr"] = 0.1, ["schedule.milestones"] = {100, 150}}.
function M.flatten(config)
  local out = {}
  flatten_into(config, "", out)
  if out[M.CONFIG_LUA_ATTR] ~= nil then
    error("results.flatten: config has a key '" .. M.CONFIG_LUA_ATTR .. "', which the config "
          .. "group reserves for the serialised config", 0)
  end
  return out
end

local function values_equal(a, b)
  if type(a) == "table" and type(b) == "table" then
    if #a ~= #b then return false end
    for i = 1, #a do
      if not values_equal(a[i], b[i]) then return false end
    end
    return true
  end
  return a == b or (a ~= a and b ~= b)
end

-- }==================================================================================

-- {==================================================================================
-- Validation (write side: a mistake in the caller raises)
-- ===================================================================================

local function need(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 0) end
end

local function check_string(v, what)
  need(type(v) == "string" and v ~= "", "%s is %s, expected a non-empty string", what,
       type(v) == "string" and '""' or kind_of(v))
end

-- Curves: the required sequences of numbers, equal lengths, epoch = 1..n. min_len 0 for a
-- checkpoint written before any epoch. Returns the length.
local function check_curves(fn, curves, min_len)
  need(type(curves) == "table", "%s: curves is %s, expected a table", fn, kind_of(curves))
  local n = nil
  for _, name in ipairs(M.CURVES) do
    local c = curves[name]
    need(type(c) == "table", "%s: curves.%s is %s, expected a sequence of numbers", fn, name,
         kind_of(c))
    n = n or #c
    need(#c == n, "%s: curves.%s has %d entries, curves.%s has %d (expected one per epoch)",
         fn, name, #c, M.CURVES[1], n)
    for i = 1, #c do
      need(type(c[i]) == "number", "%s: curves.%s[%d] is %s, expected a number", fn, name, i,
           kind_of(c[i]))
    end
  end
  need(n >= min_len, "%s: curves have %d epochs, expected at least %d", fn, n, min_len)
  for i = 1, n do
    need(curves.epoch[i] == i, "%s: curves.epoch[%d] is %s, expected %d (epochs are 1-based "
         .. "and consecutive)", fn, i, tostring(curves.epoch[i]), i)
  end
  for name, c in pairs(curves) do
    need(type(name) == "string", "%s: curves has a key of type %s", fn, kind_of(name))
    need(type(c) == "table" and #c == n, "%s: curves.%s is not a sequence of %d numbers", fn,
         name, n)
  end
  return n
end

local function check_weights(fn, w)
  need(type(w) == "table", "%s: weights is %s, expected {params = Tensor, buffers = Tensor}",
       fn, kind_of(w))
  for _, name in ipairs{"params", "buffers"} do
    need(is_tensor(w[name]), "%s: weights.%s is %s, expected an %s", fn, name,
         kind_of(w[name]), M.TENSOR_T)
  end
  options.known_keys(fn .. ": weights", w, {"buffers", "params"})
end

local function curves_tree(curves)
  local ds = {}
  for name, c in pairs(curves) do
    local v = {}
    for i = 1, #c do v[i] = c[i] + 0.0 end
    ds[name] = {kind = "f64", values = v}
  end
  return {datasets = ds}
end

M.curves_tree = curves_tree
M.need, M.check_string, M.kind_of = need, check_string, kind_of

-- The config group: the flattened config plus its Lua constructor (attr "lua").
local function config_tree(config)
  local attrs = M.flatten(config)
  attrs[M.CONFIG_LUA_ATTR] = M.serialize(config)
  return {attrs = attrs}
end
M.config_tree = config_tree

-- Writes an engine.h5 tree to path (through <path>.tmp), making path's folder first.
function M.write_tree(path, tree)
  local dir = dirname(path)
  if dir ~= "." and not sys.isdir(dir) then
    local ok, why = sys.mkdir_p(dir)
    need(ok, "results: cannot create directory %s (%s; check permissions and free space)",
         dir, tostring(why))
  end
  h5.write(path, tree)
end

-- }==================================================================================

-- {==================================================================================
-- Run files
-- ===================================================================================

-- Raises "<where> is ..." / "<where>.<attr> is missing, expected a string" unless prov is a
-- table with every PROVENANCE attribute of its type.
function M.check_provenance(where, prov)
  need(type(prov) == "table", "%s is %s, expected a table", where, kind_of(prov))
  for _, name in ipairs(sorted_keys(M.PROVENANCE)) do
    local want = M.PROVENANCE[name]
    need(kind_of(prov[name]) == want, "%s.%s is %s, expected %s %s", where, name,
         prov[name] == nil and "missing" or kind_of(prov[name]),
         want == "integer" and "an" or "a", want)
  end
end

function M.run_tree(run)
  local fn = "results.write_run"
  need(type(run) == "table", "%s: run is %s, expected a table", fn, kind_of(run))
  check_string(run.experiment, fn .. ": run.experiment")
  check_string(run.run_id, fn .. ": run.run_id")
  need(type(run.config) == "table", "%s: run.config is %s, expected a table", fn,
       kind_of(run.config))
  local prov = run.provenance
  M.check_provenance(fn .. ": run.provenance", prov)
  check_curves(fn, run.curves, 1)
  check_weights(fn, run.weights)
  local given = run.summary
  need(type(given) == "table", "%s: run.summary is %s, expected a table with n_params", fn,
       kind_of(given))
  need(math.type(given.n_params) == "integer" and given.n_params >= 0,
       "%s: run.summary.n_params is %s, expected an integer >= 0", fn, tostring(given.n_params))
  local summary = M.summarize(run.curves, given.n_params)
  for name, v in pairs(given) do
    if summary[name] ~= nil then
      need(values_equal(v, summary[name]), "%s: run.summary.%s is %s but the curves give %s",
           fn, name, tostring(v), tostring(summary[name]))
    else
      need(type(name) == "string" and (type(v) == "number" or type(v) == "string"
           or type(v) == "boolean"), "%s: run.summary.%s is %s, expected a number, string "
           .. "or boolean", fn, tostring(name), kind_of(v))
      summary[name] = v -- extra statistics are kept
    end
  end

  local prov_attrs = {}
  for k, v in pairs(prov) do prov_attrs[k] = v end
  local tree = {
    attrs = {format_version = M.FORMAT_VERSION, schema = M.SCHEMA_RUN,
             experiment = run.experiment, run_id = run.run_id, status = M.STATUS_COMPLETE},
    groups = {
      config = config_tree(run.config),
      provenance = {attrs = prov_attrs},
      curves = curves_tree(run.curves),
      summary = {attrs = summary},
      weights = {datasets = {params = run.weights.params, buffers = run.weights.buffers}},
    },
  }
  return tree
end

function M.write_run(path, run)
  check_string(path, "results.write_run: path")
  M.write_tree(path, M.run_tree(run))
end

-- Read side: every problem becomes (nil, "<path>: <what>; <fix>").
local Invalid = {}

local function bad(fmt, ...)
  error(setmetatable({msg = string.format(fmt, ...)}, Invalid), 0)
end
M.bad = bad

-- The schema is checked before the version: run files and checkpoints have their own versions
-- (FORMAT_VERSION, CHECKPOINT_VERSION), so one given for the other is named by its schema.
local function check_root(attrs, schema, what, version)
  local v = attrs.format_version
  if v == nil then bad("no format_version attribute (not a mixup-repro file)") end
  if attrs.schema ~= schema then
    bad("schema is %s, expected %q (%s)", attrs.schema == nil and "missing"
        or string.format("%q", tostring(attrs.schema)), schema, what)
  end
  if v ~= version then
    bad("format_version is %s, this harness reads %d (written by another version)",
        tostring(v), version)
  end
end

local function check_group(tree, name)
  local g = tree.groups[name]
  if not g then bad("group '%s' is missing", name) end
  return g
end

M.check_group = check_group

local function check_attrs(attrs, spec, group)
  for _, name in ipairs(sorted_keys(spec)) do
    local want = spec[name]
    if not has_type(attrs[name], want) then
      bad("%s.%s is %s, expected %s", group, name,
          attrs[name] == nil and "missing" or kind_of(attrs[name]), want)
    end
  end
end
M.check_attrs = check_attrs

local function read_config(g)
  local s = g.attrs[M.CONFIG_LUA_ATTR]
  if type(s) ~= "string" then bad("config.%s is missing", M.CONFIG_LUA_ATTR) end
  local config, err = M.deserialize(s)
  if not config then bad("%s", err) end
  if type(config) ~= "table" then bad("config.lua is a %s, expected a table", type(config)) end
  local flat = {}
  for k, v in pairs(g.attrs) do
    if k ~= M.CONFIG_LUA_ATTR then flat[k] = v end
  end
  local ok, want = pcall(M.flatten, config)
  if not ok then bad("%s", tostring(want)) end
  for k, v in pairs(want) do
    if not values_equal(flat[k], v) then
      bad("config attribute '%s' disagrees with config.lua", k)
    end
  end
  for k in pairs(flat) do
    if want[k] == nil then bad("config attribute '%s' is not in config.lua", k) end
  end
  return config, flat
end
M.read_config = read_config

local function read_curves(g, min_len)
  local curves = {}
  for name, v in pairs(g.datasets) do curves[name] = v end
  local ok, err = pcall(check_curves, "curves", curves, min_len)
  if not ok then bad("%s", tostring(err)) end
  return curves
end

local function read_weights(tree)
  local g = check_group(tree, "weights")
  for _, name in ipairs{"params", "buffers"} do
    if not is_tensor(g.datasets[name]) then bad("weights.%s is missing or not float32", name) end
  end
  return {params = g.datasets.params, buffers = g.datasets.buffers}
end

-- Runs body(path) with the file's root attrs checked; turns every failure into nil, reason.
local function read_checked(path, schema, what, body)
  if type(path) ~= "string" then
    return nil, "path is " .. kind_of(path) .. ", expected a string"
  end
  if not sys.exists(path) then return nil, path .. ": missing" end
  local complete, why = h5.is_complete(path)
  if not complete then
    why = tostring(why):gsub("^h5io_open: ", "")
    if not why:find(M.FIX, 1, true) then why = path .. ": " .. why .. "; " .. M.FIX end
    return nil, why
  end
  local ok, res = pcall(function()
    local ok_attrs, attrs = pcall(h5.read_attrs, path)
    if not ok_attrs then bad("%s", tostring(attrs)) end
    local version = M.FORMAT_VERSION
    if schema == M.SCHEMA_CHECKPOINT then
      version = M.CHECKPOINT_VERSION
      if attrs.schema == schema or M.OLD_CHECKPOINT_SCHEMAS[attrs.schema] then
        M.check_checkpoint_version(path, attrs)
      end
    end
    check_root(attrs, schema, what, version)
    local ok_tree, tree = pcall(h5.read, path)
    if not ok_tree then bad("%s", tostring(tree)) end
    return body(tree)
  end)
  if ok then return res end
  if getmetatable(res) == Invalid then
    return nil, string.format("%s: %s; %s", path, res.msg, M.FIX)
  end
  error(res, 0) -- a bug here, not a bad file
end
M.read_checked = read_checked

function M.read_run(path, opts)
  opts = opts or {}
  return read_checked(path, M.SCHEMA_RUN, "a results file", function(tree)
    local a = tree.attrs
    if a.status ~= M.STATUS_COMPLETE then
      bad("status is %s, expected %q", tostring(a.status), M.STATUS_COMPLETE)
    end
    for _, name in ipairs{"experiment", "run_id"} do
      if type(a[name]) ~= "string" then bad("root attribute %s is missing", name) end
    end
    local config, flat = read_config(check_group(tree, "config"))
    local prov = check_group(tree, "provenance").attrs
    check_attrs(prov, M.PROVENANCE, "provenance")
    local curves = read_curves(check_group(tree, "curves"), 1)
    local summary = check_group(tree, "summary").attrs
    check_attrs(summary, M.SUMMARY, "summary")
    local want = M.summarize(curves, summary.n_params)
    for _, name in ipairs(DERIVED) do
      if not values_equal(summary[name], want[name]) then
        bad("summary.%s is %s but the curves give %s", name, tostring(summary[name]),
            tostring(want[name]))
      end
    end
    local weights = read_weights(tree)
    return {
      path = path, format_version = a.format_version, schema = a.schema, status = a.status,
      experiment = a.experiment, run_id = a.run_id, config = config, config_flat = flat,
      provenance = prov, curves = curves, summary = summary,
      weights = opts.weights ~= false and weights or nil,
    }
  end)
end

-- The files under dir whose root schema is `schema` (or unreadable ones), each through read:
-- runs sorted by path, and the unreadable ones {path =, reason =}. For the tasks' own schemas.
function M.scan_schema(dir, schema, read)
  local runs, bad_files = {}, {}
  for _, path in ipairs(M.list_h5(dir)) do
    local ok, attrs = pcall(h5.read_attrs, path)
    if not ok or attrs.schema == schema then
      local r, why = read(path)
      if r then runs[#runs + 1] = r else bad_files[#bad_files + 1] = {path = path, reason = why} end
    end
  end
  return runs, bad_files
end

-- Every *.h5 under dir except checkpoints (and the .tmp of an unfinished write), sorted by
-- path; links are not followed into folders.
function M.list_h5(dir)
  local paths = {}
  local function walk(d)
    local names = sys.listdir(d)
    for _, name in ipairs(names or {}) do
      local p = d .. "/" .. name
      if sys.isdir(p) then
        walk(p)
      elseif name:sub(-3) == ".h5" and name:sub(-#M.CKPT_EXT) ~= M.CKPT_EXT then
        paths[#paths + 1] = p
      end
    end
  end
  if sys.isdir(dir) then walk(dir) end
  table.sort(paths)
  return paths
end
local list_h5 = M.list_h5

function M.scan(dir)
  local runs, bad_files, diverged = {}, {}, {}
  for _, path in ipairs(list_h5(dir)) do
    -- Another experiment kind's complete file (the GAN's "mixup-repro/gan-run") is not a bad
    -- run: its own report reads it. Unreadable files still go through read_run's checks.
    local ok, attrs = pcall(h5.read_attrs, path)
    local schema = ok and type(attrs) == "table" and attrs.schema
    local other = type(schema) == "string" and schema ~= M.SCHEMA_RUN and
                  schema ~= M.SCHEMA_CHECKPOINT and schema:find("^mixup%-repro/") ~= nil
    if schema == M.SCHEMA_DIVERGED then
      local d, reason = require("harness.lua.diverged").read(path)
      if d then
        diverged[#diverged + 1] = d
      else
        bad_files[#bad_files + 1] = {path = path, reason = reason}
      end
    elseif not other then
      local run, reason = M.read_run(path, {weights = false})
      if run then
        runs[#runs + 1] = run
      else
        bad_files[#bad_files + 1] = {path = path, reason = reason}
      end
    end
  end
  return runs, bad_files, diverged
end

-- }==================================================================================

-- {==================================================================================
-- Checkpoints
-- ===================================================================================

function M.check_checkpoint_version(path, attrs)
  local v = attrs.format_version
  if math.type(v) == "integer" and v ~= M.CHECKPOINT_VERSION then
    error(("%s: checkpoint schema %d, this build reads %d: delete it or rerun with --force")
          :format(path, v, M.CHECKPOINT_VERSION), 0)
  end
end

-- }==================================================================================

return M
