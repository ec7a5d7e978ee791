-- plot_tool.lua: what the plotting tools (tools/plots.lua, tools/figure5.lua) share: their
-- command line (--key VALUE options plus --no-gnuplot) and the quoting of file names for the
-- shell and for gnuplot. The tools compute every number; gnuplot scripts only draw.

local M = {}

-- Parses args into a copy of defaults: "--key VALUE" for every key in value_keys (a set),
-- "--no-gnuplot" sets draw = false; anything else raises with the usage line.
function M.options(args, defaults, value_keys, usage)
  local opts = {}
  for k, v in pairs(defaults) do opts[k] = v end
  local i = 1
  while i <= #args do
    local a = args[i]
    local key = a:match("^%-%-(%a+)$")
    if a == "--no-gnuplot" then
      opts.draw = false
    elseif key and value_keys[key] then
      if not args[i + 1] then error(a .. " needs a value\n" .. usage, 0) end
      opts[key] = args[i + 1]
      i = i + 1
    else
      error("unknown argument '" .. a .. "'\n" .. usage, 0)
    end
    i = i + 1
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

-- mkdir -p dir, or an error naming the tool and the directory.
function M.mkdir(dir, tool)
  if not os.execute("mkdir -p " .. M.shell_quote(dir)) then
    error(tool .. ": cannot create " .. dir .. " (check permissions)", 0)
  end
end

return M
