-- diverged.lua: the record of a run whose loss stopped being finite, written by
-- harness/lua/lifecycle.lua in place of the results file (a result, not an error: the grid goes
-- on, the run is not rerun unless forced, the report counts it; results.scan lists it).
--
-- File results/<experiment>/<run-id>.h5: root attrs format_version = 1,
-- schema = "mixup-repro/diverged", experiment, run_id, status = "diverged", task (the task's
-- name), unit ("epoch", "iteration"), at (the 1-based unit that diverged), total (the units asked
-- for), detail (the step and the loss), fix (the task's advice); groups config (as a run file's),
-- provenance (results.PROVENANCE) and curves (the task's curves over the at - 1 units
-- completed, f64).
--
--   local diverged = require "harness.lua.diverged"
--   diverged.write(path, d)  d = {experiment =, run_id =, task =, unit =, at =, total =, detail =,
--                            fix =, config =, provenance =, curves =}; raises on a bad field
--   diverged.read(path)      -> d (path, status and config_flat added), or nil and a reason
--                            naming the file and the fix

local results = require "harness.lua.results"

local M = {}

M.SCHEMA = results.SCHEMA_DIVERGED
M.STATUS = "diverged"

-- Root attrs besides format_version, schema, experiment, run_id and status.
local ATTRS = {task = "string", unit = "string", at = "integer", total = "integer",
               detail = "string", fix = "string"}
local ATTR_NAMES = {"at", "detail", "fix", "task", "total", "unit"}

local function need(cond, fmt, ...)
  if not cond then error(string.format(fmt, ...), 0) end
end

local function kind(v)
  return type(v) == "number" and (math.type(v) == "integer" and "integer" or "number") or type(v)
end

function M.write(path, d)
  local fn = "diverged.write"
  need(type(path) == "string" and path ~= "", "%s: path is %s, expected a non-empty string", fn,
       kind(path))
  need(type(d) == "table", "%s: record is %s, expected a table", fn, kind(d))
  local attrs = {format_version = results.FORMAT_VERSION, schema = M.SCHEMA,
                 status = M.STATUS}
  for _, name in ipairs{"experiment", "run_id"} do
    need(type(d[name]) == "string" and d[name] ~= "", "%s: %s is %s, expected a non-empty string",
         fn, name, kind(d[name]))
    attrs[name] = d[name]
  end
  for _, name in ipairs(ATTR_NAMES) do
    need(kind(d[name]) == ATTRS[name], "%s: %s is %s, expected %s", fn, name, kind(d[name]),
         ATTRS[name])
    attrs[name] = d[name]
  end
  need(d.at >= 1 and d.at <= d.total, "%s: at is %d, expected 1 to total (%d)", fn, d.at,
       d.total)
  need(type(d.config) == "table", "%s: config is %s, expected a table", fn, kind(d.config))
  results.check_provenance(fn .. ": provenance", d.provenance)
  need(type(d.curves) == "table", "%s: curves is %s, expected a table", fn, kind(d.curves))
  for name, c in pairs(d.curves) do
    need(type(c) == "table" and #c == d.at - 1, "%s: curves.%s has %s entries, expected %d "
         .. "(the units completed)", fn, tostring(name), type(c) == "table" and #c or "no",
         d.at - 1)
  end
  local prov = {}
  for k, v in pairs(d.provenance) do prov[k] = v end
  results.write_tree(path, {attrs = attrs, groups = {config = results.config_tree(d.config),
                                                     provenance = {attrs = prov},
                                                     curves = results.curves_tree(d.curves)}})
end

function M.read(path)
  local bad = results.bad
  return results.read_checked(path, M.SCHEMA, "a diverged record", function(tree)
    local a = tree.attrs
    if a.status ~= M.STATUS then bad("status is %s, expected %q", tostring(a.status), M.STATUS) end
    for _, name in ipairs{"experiment", "run_id"} do
      if type(a[name]) ~= "string" then bad("root attribute %s is missing", name) end
    end
    results.check_attrs(a, ATTRS, "root")
    local config, flat = results.read_config(results.check_group(tree, "config"))
    local prov = results.check_group(tree, "provenance").attrs
    results.check_attrs(prov, results.PROVENANCE, "provenance")
    local curves = {}
    for name, v in pairs(results.check_group(tree, "curves").datasets or {}) do
      if type(v) ~= "table" or #v ~= a.at - 1 then
        bad("curves.%s has %s entries, expected %d", name, type(v) == "table" and #v or "no",
            a.at - 1)
      end
      curves[name] = v
    end
    local d = {path = path, status = a.status, experiment = a.experiment, run_id = a.run_id,
               config = config, config_flat = flat, provenance = prov, curves = curves}
    for _, name in ipairs(ATTR_NAMES) do d[name] = a[name] end
    return d
  end)
end

return M
