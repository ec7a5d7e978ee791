-- options.lua: the one strict option reader of the Lua side. Every table of named options
-- that the harness checks (run configs through config.lua's specs, experiment tables in
-- grid.lua, results trees in results.lua, the nets' options in nets/*.lua) reports a problem
-- in the grammar of the C side (harness/bind/lua_opt.c):
--
--   "<where>: option 'k' is <got>, expected <what>"
--   "<where>: unknown option 'x' (known: a, b, c)"
--   "<where>: missing required option 'k'"
--
-- <got> is the value with its type (M.show): `string "0.9"`, `integer 0`, `float 10.0`,
-- `boolean true`, `nil`, `a table`. Nested options are named by their path ('optim.lr',
-- 'schedule.milestones[2]') under one <where> (e.g. "config").
--
--   local options = require "harness.lua.options"
--   options.fail(where, key, got, what)        -- raises the first form
--   options.unknown(where, key, known)         -- known: a list or a set of names
--   options.missing(where, key)
--   options.known_keys(where, t, known)        -- raises on the first (sorted) unknown key
--   local o = options.read(where, t, spec)     -- spec: {key = check(v, key) -> value};
--                                              -- every key known and present
-- Errors are raised at level 0 (no file position: the message names the option).
-- Non-goals: the config schema language (config.lua builds its specs on this).

local M = {}

-- The names of a list or of a set's keys, sorted.
local function names_of(known)
  local out = {}
  if #known > 0 then
    for i, k in ipairs(known) do out[i] = tostring(k) end
  else
    for k in pairs(known) do out[#out + 1] = tostring(k) end
  end
  table.sort(out)
  return out
end

-- The value with its type, for "is <got>".
function M.show(v)
  local t = type(v)
  if t == "string" then return ("string %q"):format(v) end
  if t == "number" then
    return ("%s %s"):format(math.type(v), v ~= v and "nan" or tostring(v)) -- not "-nan"
  end
  if t == "boolean" then return "boolean " .. tostring(v) end
  if t == "table" then return "a table" end
  if t == "nil" then return "nil" end
  return t
end

function M.fail(where, key, got, what)
  error(("%s: option '%s' is %s, expected %s"):format(where, key, M.show(got), what), 0)
end

function M.unknown(where, key, known)
  error(("%s: unknown option '%s' (known: %s)"):format(where, tostring(key),
        table.concat(names_of(known), ", ")), 0)
end

function M.missing(where, key)
  error(("%s: missing required option '%s'"):format(where, key), 0)
end

-- Raises for the first key of t (in sorted order) that is not in known (a set or a list).
function M.known_keys(where, t, known)
  local set = known
  if #known > 0 then
    set = {}
    for _, k in ipairs(known) do set[k] = true end
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    if type(k) ~= "string" or set[k] == nil then M.unknown(where, k, known) end
  end
end

-- A checked copy of t: every key of spec must be present, no other key may be; each value
-- goes through spec[key](value, key), which returns the stored value or raises (M.fail).
function M.read(where, t, spec)
  if type(t) ~= "table" then
    error(("%s: options are %s, expected a table"):format(where, M.show(t)), 0)
  end
  M.known_keys(where, t, spec)
  local out = {}
  for _, k in ipairs(names_of(spec)) do
    if t[k] == nil then M.missing(where, k) end
    out[k] = spec[k](t[k], k)
  end
  return out
end

return M
