-- figure2.lua [--results DIR] [--out DIR] [--export DIR] [--scripts DIR] [--gnuplot CMD]
--             [--no-gnuplot]
-- Figure 2 from the interpolation evaluations (harness/lua/figure2_report.lua), per scale, ERM
-- against mixup as a function of lambda (mean over the model seeds, band min-max), drawn by
-- plots/curves.gp:
--   <out>/figure2_<scale>_miss.{png,svg}    (a) the miss rate
--   <out>/figure2_<scale>_gnorm.{png,svg}   (b) the input-gradient norm
-- from <export>/figure2_<scale>_<panel>_<method>.dat (columns: lambda mean min max n, then one
-- column per seed). Defaults: DIR = $MIXUP_RESULTS or "results", out = "plots", export =
-- <out>/data, scripts = "plots". `make plots-figure2` (part of `make plots`) runs this.
local cli = require "harness.lua.cli"
local plot_tool = require "harness.lua.plot_tool"
local f2 = require "harness.lua.figure2_report"

local CLI = {tool = "figure2.lua", command = "mixup tools/figure2.lua",
             options = plot_tool.options{}}
local opts = cli.parse(CLI, {...})
if not opts then return end
opts.export = opts.export or opts.out .. "/data"

local PANELS = {
  {name = "miss", ylab = "miss: prediction neither y_i nor y_j (%)", title = "(a) miss rate"},
  {name = "gnorm", ylab = "norm of the loss gradient w.r.t. the input",
   title = "(b) input-gradient norm"},
}
local TITLES = {erm = "ERM", mixup = "mixup"}

local function num(x) return ("%.6g"):format(x) end

local model = f2.collect{results = opts.results}
plot_tool.mkdir(opts.export, "figure2")
if not opts.no_gnuplot then plot_tool.mkdir(opts.out, "figure2") end
local n_files = 0
for _, sec in ipairs(model.sections) do
  for _, panel in ipairs(PANELS) do
    local stem = ("figure2_%s_%s"):format(sec.scale, panel.name)
    local out = opts.out .. "/" .. stem
    local vars = {out = out, n = 0, xlab = "lambda (x = lambda x_i + (1 - lambda) x_j)",
                  ylab = panel.ylab,
                  ttl = ("Figure 2 %s between training pairs, scale %s"):format(panel.title,
                        sec.scale),
                  sub = ("%d model seed%s; mean, band min-max"):format(sec.n,
                        sec.n == 1 and "" or "s")}
    for _, m in ipairs{"erm", "mixup"} do
      local series = sec.series[m .. "_" .. panel.name]
      local path = ("%s/%s_%s.dat"):format(opts.export, stem, m)
      local cols = {}
      for i, s in ipairs(sec.seeds) do cols[i] = "seed_" .. s end
      local lines = {("# Figure 2 %s, %s, scale %s"):format(panel.title, TITLES[m], sec.scale),
                     "# lambda mean min max n " .. table.concat(cols, " ")}
      for _, p in ipairs(series) do
        local vals = {}
        for i, v in ipairs(p.values) do vals[i] = num(v) end
        lines[#lines + 1] = ("%s %s %s %s %d %s"):format(num(p.lambda), num(p.mean), num(p.min),
                                                       num(p.max), #p.values,
                                                       table.concat(vals, " "))
      end
      plot_tool.write_lines(path, lines, "figure2")
      n_files = n_files + 1
      vars.n = vars.n + 1
      vars["file" .. vars.n] = path
      vars["title" .. vars.n] = ("%s (n=%d)"):format(TITLES[m], sec.n)
    end
    if not opts.no_gnuplot then
      plot_tool.gnuplot(opts, "figure2", "curves.gp", vars)
      print(("figure2: %s.png, %s.svg"):format(out, out))
    end
  end
end
print(("figure2: %d tables in %s"):format(n_files, opts.export))
