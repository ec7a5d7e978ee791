-- cli.lua: the one command-line parser of the Lua tools (experiments/run.lua, tools/report.lua,
-- tools/plots.lua, tools/figure5.lua). A tool declares its command line once; the parser, the
-- usage line and every error message come from that declaration.
--
--   local cli = require "harness.lua.cli"
--   local SPEC = {
--     tool = "run.lua",                             -- names the tool in messages
--     command = "mixup experiments/run.lua",        -- starts the usage line
--     positional = {{"experiment", "EXPERIMENT", pattern = "^[%w_]+$",
--                    expect = "a name of letters, digits and _"}},
--     options = {
--       {"scale", "paper|cpu|smoke", required = true},  -- --scale VALUE (a string)
--       {"threads", "N", type = "integer", min = 1},     -- --threads N, an integer >= 1
--       {"out", "DIR", default = "results"},
--       {"force"},                                       -- a flag: true when given, else false
--     },
--     filters = "axis=id",  -- arguments with '=' are collected in order into opts.filters
--   }
--   local opts = cli.parse(SPEC, {...})   -- nil after --help/-h printed the usage
--
-- Options are "--name VALUE" (the value is the next argument) or flags "--name". The key in
-- opts is the name with '-' turned into '_' ("--no-gnuplot" -> opts.no_gnuplot). Value types:
-- "string" (default), "integer" (with optional min), or a function s -> value | nil (custom:
-- the option's `expect` says what was wanted). Positionals fill in order; a positional may be
-- optional (required = false).
--
-- Strict: an unknown option, a missing value, a value of the wrong type, an option given twice,
-- a surplus argument or a missing required one raises one line "<tool>: <what is wrong>"
-- followed by the usage line. The error is an object whose __tostring gives that text, so the
-- host (harness/main.c's msghandler) prints it without a traceback; tostring(err) in tests.

local M = {}

local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(e) return e.msg end

-- The usage line of a spec: command, positionals, then options ([--x] when optional).
function M.usage(spec)
  local words = {"usage: " .. spec.command}
  for _, p in ipairs(spec.positional or {}) do
    words[#words + 1] = p.required == false and "[" .. p[2] .. "]" or p[2]
  end
  for _, o in ipairs(spec.options or {}) do
    local w = "--" .. o[1] .. (o[2] and " " .. o[2] or "")
    words[#words + 1] = o.required and w or "[" .. w .. "]"
  end
  if spec.filters then words[#words + 1] = "[" .. spec.filters .. " ...]" end
  return table.concat(words, " ")
end

-- Raises the usage error of spec: "<tool>: <msg>\n<usage line>".
function M.fail(spec, msg)
  error(setmetatable({msg = ("%s: %s\n%s"):format(spec.tool, msg, M.usage(spec))}, Usage))
end

-- True when err is a usage error raised by this module.
function M.is_usage_error(err)
  return getmetatable(err) == Usage
end

local function key_of(name) return (name:gsub("-", "_")) end

-- Converts and checks one option value; raises the usage error when it does not fit.
local function convert(spec, o, s)
  local t = o.type or "string"
  if t == "string" then return s end
  if t == "integer" then
    local v = math.tointeger(tonumber(s))
    local min = o.min
    if not v or (min and v < min) then
      M.fail(spec, ("--%s is '%s', expected an integer%s"):format(o[1], s,
                                                                 min and " >= " .. min or ""))
    end
    return v
  end
  assert(type(t) == "function", "cli: option type must be 'string', 'integer' or a function")
  local v = t(s)
  if v == nil then
    M.fail(spec, ("--%s is '%s', expected %s"):format(o[1], s, o.expect or "a valid value"))
  end
  return v
end

-- Parses argv (an array of strings) by spec; returns the options table, or nil when --help
-- (or -h) printed the usage line.
function M.parse(spec, argv)
  local by_name, opts, seen = {}, {}, {}
  for _, o in ipairs(spec.options or {}) do
    by_name[o[1]] = o
    if o[2] then
      opts[key_of(o[1])] = o.default
    else
      opts[key_of(o[1])] = false
    end
  end
  if spec.filters then opts.filters = {} end
  local positional, npos = spec.positional or {}, 0
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      print(M.usage(spec))
      return nil
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local o = by_name[a:match("^%-%-(.+)$") or ""]
      if not o then M.fail(spec, ("unknown option '%s'"):format(a)) end
      if seen[o[1]] then M.fail(spec, ("option %s given twice"):format(a)) end
      seen[o[1]] = true
      if o[2] then
        local v = argv[i + 1]
        if v == nil or v:sub(1, 2) == "--" then
          M.fail(spec, ("option %s needs a value (%s)"):format(a, o[2]))
        end
        opts[key_of(o[1])] = convert(spec, o, v)
        i = i + 1
      else
        opts[key_of(o[1])] = true
      end
    elseif spec.filters and a:find("=", 1, true) then
      opts.filters[#opts.filters + 1] = a
    elseif npos < #positional then
      npos = npos + 1
      local p = positional[npos]
      if p.pattern and not a:match(p.pattern) then
        M.fail(spec, ("%s is '%s', expected %s"):format(p[2], a, p.expect or p.pattern))
      end
      opts[p[1]] = a
    else
      M.fail(spec, ("unexpected argument '%s'"):format(a))
    end
    i = i + 1
  end
  for k = npos + 1, #positional do
    if positional[k].required ~= false then
      M.fail(spec, ("no %s given"):format(positional[k][2]))
    end
  end
  for _, o in ipairs(spec.options or {}) do
    if o.required and not seen[o[1]] then M.fail(spec, ("--%s is required"):format(o[1])) end
  end
  return opts
end

return M
