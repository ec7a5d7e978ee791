-- config.lua: run configurations: strict validation against a declarative schema and deep
-- merge (fb.resnet opts.lua, with darknet's warnings turned into errors).
--
--   local config = require "harness.lua.config"
--   local cfg = config.validate(t, task.schema)  -- a resolved copy (harness/lua/tasks/*.lua)
--   config.merge(base, over)    -> a new table: `over` laid over `base`, recursively
--
-- Rules (STYLE.md section 7): every key of a record must be known and present; there are no
-- defaults, so a config states every value that changes the numbers. Types are exact: an
-- "integer" must be a Lua integer (10.0 is refused), a "number" may be written 1 or 1.0 and is
-- stored as a float (so both spell the same config and the same run id), numbers are finite,
-- booleans are true or false (never 0/1 or "yes"). The only non-numeric sentinel is the
-- string "all" where a spec says so (e.g. data.train_examples), never 0 or -1.
-- Errors are harness/lua/options.lua's, under "config" with the key's path:
-- "config: option 'optim.momentum' is string \"0.9\", expected a finite number >= 0 ...".
-- A record may carry a `check(cfg, fail)` for what its fields cannot say alone (e.g. the GAN's
-- snapshots below its iterations); fail(key, got, what) raises in the same grammar.
--
-- Non-goals: command-line parsing (experiments/run.lua), run ids (harness/lua/grid.lua), the
-- serialised and flattened forms stored in results files (harness/lua/results.lua), the
-- schemas themselves (one per task, harness/lua/tasks/).

local options = require "harness.lua.options"

local M = {}

-- ============================================================================================
-- Spec constructors. A spec is a table {kind = ..., ...}; describe(spec) says what it accepts.

function M.integer(o) o = o or {}; return {kind = "integer", min = o.min, max = o.max,
                                           or_all = o.or_all} end
function M.number(o) o = o or {}; return {kind = "number", min = o.min, max = o.max,
                                          above = o.above, below = o.below} end
function M.string(o) o = o or {}; return {kind = "string", one_of = o.one_of} end
function M.boolean() return {kind = "boolean"} end
-- A list of numbers: len (exact length), increasing (strictly), integers (each an integer),
-- min (each >= min), may_be_empty.
function M.list(o) o = o or {}; return {kind = "list", len = o.len, increasing = o.increasing,
                                        integers = o.integers, min = o.min,
                                        may_be_empty = o.may_be_empty} end
-- A record: exactly these fields; check (optional): function(record, fail) for constraints
-- across fields, run after the fields are checked.
function M.record(fields, check) return {kind = "record", fields = fields, check = check} end
-- A copy of a schema whose records are new tables (leaf specs are shared, never changed), so a
-- task built on another's schema can add fields without touching the original.
function M.copy(spec)
  if spec.kind ~= "record" then return spec end
  local fields = {}
  for k, v in pairs(spec.fields) do fields[k] = M.copy(v) end
  return M.record(fields, spec.check)
end
-- A network: {family = <name of nets/<family>.lua>, ...the constructor's options}; the
-- options are checked by the constructor itself (nets/*.lua are strict), here only their
-- types (numbers, strings, booleans).
function M.net(families) return {kind = "net", families = families} end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function describe(spec)
  local k = spec.kind
  if k == "integer" then
    local s = "an integer"
    if spec.min and spec.max then s = ("%s in %d..%d"):format(s, spec.min, spec.max)
    elseif spec.min then s = ("%s >= %d"):format(s, spec.min) end
    if spec.or_all then s = s .. ' or "all"' end
    return s
  elseif k == "number" then
    local s = "a finite number"
    if spec.above then s = ("%s > %g"):format(s, spec.above) end
    if spec.min and spec.max then return ("%s in [%g, %g]"):format(s, spec.min, spec.max) end
    if spec.min then s = ("%s >= %g"):format(s, spec.min) end
    if spec.max then s = ("%s <= %g"):format(s, spec.max) end
    if spec.below then
      s = ("%s%s < %g"):format(s, s == "a finite number" and "" or " and", spec.below)
    end
    return s
  elseif k == "string" then
    if spec.one_of then return "one of " .. table.concat(spec.one_of, ", ") end
    return "a string"
  elseif k == "boolean" then
    return "a boolean (true or false)"
  elseif k == "list" then
    local s = spec.len and ("a list of %d"):format(spec.len) or "a list of"
    s = s .. (spec.integers and " integers" or " numbers")
    if spec.min then s = ("%s >= %g"):format(s, spec.min) end
    if spec.increasing then s = s .. ", strictly increasing" end
    return s
  elseif k == "record" then
    return "a table with keys " .. table.concat(sorted_keys(spec.fields), ", ")
  else
    return "a net table {family = " .. table.concat(spec.families, " | ") .. ", ...}"
  end
end
M.describe = describe

local WHERE = "config"
local function fail(path, spec, v)
  options.fail(WHERE, path, v, describe(spec))
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

local function is_sequence(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return true, n
end

local check -- forward

local function check_record(path, spec, v)
  if type(v) ~= "table" then fail(path, spec, v) end
  local out = {}
  local prefix = path == "" and "" or path .. "."
  for _, k in ipairs(sorted_keys(v)) do
    if type(k) ~= "string" or spec.fields[k] == nil then
      options.unknown(WHERE, prefix .. tostring(k), spec.fields)
    end
  end
  for _, k in ipairs(sorted_keys(spec.fields)) do
    if v[k] == nil then options.missing(WHERE, prefix .. k) end
    out[k] = check(prefix .. k, spec.fields[k], v[k])
  end
  if spec.check then
    spec.check(out, function(key, got, what) options.fail(WHERE, prefix .. key, got, what) end)
  end
  return out
end

local function check_net(path, spec, v)
  if type(v) ~= "table" then fail(path, spec, v) end
  local family = v.family
  local known = false
  for _, f in ipairs(spec.families) do known = known or f == family end
  if not known then
    options.fail(WHERE, path .. ".family", family, "one of " .. table.concat(spec.families, ", "))
  end
  local out, opts = {}, {}
  for _, k in ipairs(sorted_keys(v)) do
    local x = v[k]
    if type(k) ~= "string" then
      options.fail(WHERE, ("%s[%s]"):format(path, tostring(k)), x, "named options only")
    end
    local t = type(x)
    if t == "table" then -- a list of numbers (e.g. nets/resnet.lua's blocks), copied
      local list, ok = {}, #x > 0
      for i, e in pairs(x) do
        ok = ok and math.type(i) == "integer" and i >= 1 and i <= #x and type(e) == "number"
             and finite(e)
        list[i] = e
      end
      if not ok then
        options.fail(WHERE, path .. "." .. k, x, "a non-empty list of finite numbers")
      end
      x = list
    elseif not (t == "string" or t == "boolean" or (t == "number" and finite(x))) then
      options.fail(WHERE, path .. "." .. k, x, "a finite number, a string, a boolean or a list "
                   .. "of numbers")
    end
    out[k] = x
    if k ~= "family" then opts[k] = x end
  end
  -- The constructor is the authority on its options (unknown keys, ranges, valid depths).
  local ctor = require("nets." .. family)
  local ok, err = pcall(ctor, opts)
  if not ok then error(("%s: option '%s': %s"):format(WHERE, path, tostring(err)), 0) end
  return out
end

check = function(path, spec, v)
  local k = spec.kind
  if k == "record" then return check_record(path, spec, v) end
  if k == "net" then return check_net(path, spec, v) end
  if k == "integer" then
    if spec.or_all and v == "all" then return v end
    if math.type(v) ~= "integer" or (spec.min and v < spec.min) or (spec.max and v > spec.max)
    then fail(path, spec, v) end
    return v
  elseif k == "number" then
    if type(v) ~= "number" or not finite(v) or (spec.min and v < spec.min)
       or (spec.max and v > spec.max) or (spec.above and not (v > spec.above))
       or (spec.below and not (v < spec.below)) then
      fail(path, spec, v)
    end
    return v + 0.0
  elseif k == "string" then
    if type(v) ~= "string" then fail(path, spec, v) end
    if spec.one_of then
      local ok = false
      for _, s in ipairs(spec.one_of) do ok = ok or s == v end
      if not ok then fail(path, spec, v) end
    end
    return v
  elseif k == "boolean" then
    if type(v) ~= "boolean" then fail(path, spec, v) end
    return v
  elseif k == "list" then
    if type(v) ~= "table" then fail(path, spec, v) end
    local seq, n = is_sequence(v)
    if not seq or (spec.len and n ~= spec.len) or (n == 0 and not spec.may_be_empty) then
      fail(path, spec, v)
    end
    local out = {}
    for i = 1, n do
      local x = v[i]
      local bad = type(x) ~= "number" or not finite(x)
          or (spec.integers and math.type(x) ~= "integer") or (spec.min and x < spec.min)
          or (spec.increasing and i > 1 and not (x > v[i - 1]))
      if bad then options.fail(WHERE, ("%s[%d]"):format(path, i), x, describe(spec)) end
      out[i] = spec.integers and x or x + 0.0
    end
    return out
  end
  error("config: unknown spec kind " .. tostring(k))
end

-- Returns a validated, resolved copy of cfg (numbers normalised as described above).
function M.validate(cfg, schema)
  return check("", schema, cfg)
end

-- ============================================================================================
-- Merge.

-- `over` laid over `base`: records merge key by key, everything else (numbers, strings,
-- lists) is replaced. Neither input is modified.
function M.merge(base, over)
  local function copy(v)
    if type(v) ~= "table" then return v end
    local c = {}
    for k, x in pairs(v) do c[k] = copy(x) end
    return c
  end
  local out = copy(base or {})
  for k, v in pairs(over or {}) do
    local b = out[k]
    if type(v) == "table" and type(b) == "table" and not is_sequence(v) and not is_sequence(b)
    then
      out[k] = M.merge(b, v)
    else
      out[k] = copy(v)
    end
  end
  return out
end

return M
