-- plot_tool.lua: what the plotting tools (tools/plots.lua, tools/figure5.lua) share: their
-- common options (for harness/lua/cli.lua), folder creation through engine.sys, the quoting of
-- file names for the shell and for gnuplot, and running a gnuplot script. The tools compute
-- every number; gnuplot scripts only draw.

local sys = require "engine.sys"

local M = {}

-- The options both plotting tools take (cli.lua option entries), after their own.
function M.options(own)
  local opts = {}
  for _, o in ipairs(own) do opts[#opts + 1] = o end
  for _, o in ipairs{
    {"results", "DIR", default = os.getenv("MIXUP_RESULTS") or "results"},
    {"out", "DIR", default = "plots"},
    {"export", "DIR"},
    {"scripts", "DIR", default = "plots"},
    {"gnuplot", "CMD", default = "gnuplot"},
    {"no-gnuplot"},
  } do
    opts[#opts + 1] = o
  end
  return opts
end

-- A single-quoted shell word.
function M.shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- A gnuplot string literal (single quotes; a quote is doubled).
function M.gp_string(s)
  return "'" .. s:gsub("'", "''") .. "'"
end

-- Creates dir and its parents, or raises an error naming the tool, the folder and the reason.
function M.mkdir(dir, tool)
  local ok, why = sys.mkdir_p(dir)
  if not ok then error(("%s: cannot create %s (%s)"):format(tool, dir, why), 0) end
end

-- Runs `<gnuplot> -e "k1='v1'; k2=..." <scripts>/<script>` with vars (strings are quoted for
-- gnuplot, integers given as numbers, names sorted); raises naming the tool and the command
-- when gnuplot fails.
-- Writes lines (joined by newlines, one at the end) to path through path .. ".tmp" and a
-- rename, so a reader never sees half a table; raises "<tool>: <path>: <reason>".
function M.write_lines(path, lines, tool)
  local tmp = path .. ".tmp"
  local f, why = io.open(tmp, "w")
  if not f then error(("%s: %s"):format(tool or "plots", why), 0) end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  local ok, err = os.rename(tmp, path)
  if not ok then error(("%s: %s"):format(tool or "plots", err), 0) end
end

function M.gnuplot(opts, tool, script, vars)
  local names = {}
  for k in pairs(vars) do names[#names + 1] = k end
  table.sort(names)
  local sets = {}
  for _, k in ipairs(names) do
    local v = vars[k]
    sets[#sets + 1] = k .. "=" .. (math.type(v) == "integer" and tostring(v) or M.gp_string(v))
  end
  local cmd = ("%s -e %s %s"):format(opts.gnuplot, M.shell_quote(table.concat(sets, "; ")),
                                     M.shell_quote(opts.scripts .. "/" .. script))
  if not os.execute(cmd) then
    error(("%s: gnuplot failed drawing %s (command: %s); is gnuplot-nox installed "
           .. "(`make setup`)?"):format(tool, vars.out or script, cmd), 0)
  end
end

return M
