-- ablation.lua [--results DIR] [--out DIR] [--export DIR] [--scripts DIR] [--gnuplot CMD]
--              [--no-gnuplot]
-- The ablation table as a figure (harness/lua/ablation_report.lua's model), per scale: every
-- paper row that ran, its test error at weight decay 1e-4 and 5e-4 (mean +- sd over seeds)
-- and the paper's values on the right axis, drawn by plots/ablation.gp:
--   <out>/ablation_<scale>.{png,svg}
-- from <export>/ablation_<scale>.dat (columns: index "label" mean_1e-4 sd_1e-4 mean_5e-4
-- sd_5e-4 paper_1e-4 paper_5e-4, '?' for missing). Defaults: DIR = $MIXUP_RESULTS or
-- "results", out = "plots", export = <out>/data, scripts = "plots". `make plots-ablation`
-- (part of `make plots`) runs this.
local cli = require "harness.lua.cli"
local plot_tool = require "harness.lua.plot_tool"
local abl = require "harness.lua.ablation_report"

local CLI = {tool = "ablation.lua", command = "mixup tools/ablation.lua",
             options = plot_tool.options{}}
local opts = cli.parse(CLI, {...})
if not opts then return end
opts.export = opts.export or opts.out .. "/data"

local function num(x) return x and ("%.6g"):format(x) or "?" end

local model = abl.collect{results = opts.results}
plot_tool.mkdir(opts.export, "ablation")
if not opts.no_gnuplot then plot_tool.mkdir(opts.out, "ablation") end
local n_files = 0
for _, sec in ipairs(model.sections) do
  local stem = "ablation_" .. sec.scale
  local path = ("%s/%s.dat"):format(opts.export, stem)
  local lines = {("# ablation, scale %s: test error (%%), mean and sd over seeds; the paper's "
                  .. "values (ERM, mixup AC + RP sourced; the rest recalled, unverified)")
                 :format(sec.scale),
                 "# index label mean_1e-4 sd_1e-4 mean_5e-4 sd_5e-4 paper_1e-4 paper_5e-4"}
  local seeds = 0
  for _, r in ipairs(sec.rows) do
    if r.cells[1] or r.cells[2] then
      local c1, c2 = r.cells[1] or {}, r.cells[2] or {}
      seeds = math.max(seeds, c1.n or 0, c2.n or 0)
      lines[#lines + 1] = ("%d %q %s %s %s %s %s %s"):format(#lines - 1, r.row.label,
                          num(c1.mean), num(c1.sd or (c1.mean and 0)), num(c2.mean),
                          num(c2.sd or (c2.mean and 0)), num(r.paper[1] and r.paper[1].value),
                          num(r.paper[2] and r.paper[2].value))
    end
  end
  plot_tool.write_lines(path, lines, "ablation")
  n_files = n_files + 1
  if not opts.no_gnuplot then
    local out = opts.out .. "/" .. stem
    plot_tool.gnuplot(opts, "ablation", "ablation.gp",
                      {file = path, out = out,
                       ttl = ("Ablation: test error per method, scale %s"):format(sec.scale),
                       sub = ("up to %d seeds per cell; error bars +- one sd"):format(seeds)})
    print(("ablation: %s.png, %s.svg"):format(out, out))
  end
end
print(("ablation: %d tables in %s"):format(n_files, opts.export))
