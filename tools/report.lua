-- report.lua [--results DIR] [--out FILE] [--data DIR] [--quiet]: writes the comparison of the
-- reproduced runs with the published numbers (harness/lua/report.lua) to FILE, default
-- DIR/REPORT.md, and prints it unless --quiet. DIR defaults to $MIXUP_RESULTS, else "results";
-- DIR is only read, so a test can point it at a temporary directory. `make report` runs this.
local sys = require "engine.sys"
local cli = require "harness.lua.cli"
local report = require "harness.lua.report"

local CLI = {
  tool = "report.lua",
  command = "mixup tools/report.lua",
  options = {
    {"results", "DIR", default = os.getenv("MIXUP_RESULTS") or "results"},
    {"out", "FILE"},
    {"data", "DIR", default = "data"},
    {"quiet"},
  },
}

local opts = cli.parse(CLI, {...})
if not opts then return end
opts.out = opts.out or opts.results .. "/REPORT.md"

local dir = opts.out:match("^(.*)/[^/]*$")
if dir and dir ~= "" then
  local ok, why = sys.mkdir_p(dir)
  if not ok then error(("report.lua: cannot create %s (%s)"):format(dir, why), 0) end
end
local text = report.write(opts)
if not opts.quiet then io.write(text, "\n") end
io.stderr:write("report: wrote ", opts.out, "\n")
