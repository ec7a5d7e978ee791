-- report.lua [--results DIR] [--out FILE] [--data DIR] [--quiet]: writes the comparison of the
-- reproduced runs with the published numbers (harness/lua/report.lua) to FILE, default
-- DIR/REPORT.md, and prints it unless --quiet. DIR defaults to $MIXUP_RESULTS, else "results";
-- DIR is only read, so a test can point it at a temporary directory. `make report` runs this.
local report = require "harness.lua.report"

local USAGE = "usage: mixup tools/report.lua [--results DIR] [--out FILE] [--data DIR] [--quiet]"

local opts = {results = os.getenv("MIXUP_RESULTS") or "results", data = "data"}
local quiet = false
local args = {...}
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--quiet" then
    quiet = true
  elseif a == "--results" or a == "--out" or a == "--data" then
    if not args[i + 1] then error(a .. " needs a value\n" .. USAGE, 0) end
    opts[a:sub(3)] = args[i + 1]
    i = i + 1
  else
    error("unknown argument '" .. a .. "'\n" .. USAGE, 0)
  end
  i = i + 1
end
opts.out = opts.out or opts.results .. "/REPORT.md"

local dir = opts.out:match("^(.*)/[^/]*$")
if dir and not os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'") then
  error("report: cannot create " .. dir .. " (check permissions)", 0)
end
local text = report.write(opts)
if not quiet then io.write(text, "\n") end
io.stderr:write("report: wrote ", opts.out, "\n")
