-- figure5.lua [--results DIR] [--out DIR] [--export DIR] [--scripts DIR] [--report FILE]
--             [--methods erm,mixup] [--seed N] [--gnuplot CMD] [--no-gnuplot]
-- Figure 5 from the GAN results files (harness/lua/tasks/gan.lua, harness/lua/gan_report.lua):
--   <export>/figure5_<scale>_*.dat and _panels.gp   the points of one seed per scale
--   <out>/figure5_<scale>.{png,svg}                 drawn by <scripts>/figure5.gp: rows grid and
--                                                   ring, columns the snapshots, one block per
--                                                   method (default ERM beside mixup)
--   <report>                                        the metrics over seeds, markdown (default
--                                                   <results>/figure5_gan/METRICS.md), printed
-- --seed N draws seed N's runs (default: the smallest seed that every drawn cell has).
-- Defaults: DIR = $MIXUP_RESULTS or "results", out = "plots", export = <out>/data,
-- scripts = "plots". `make plots-figure5` runs this.
local cli = require "harness.lua.cli"
local gr = require "harness.lua.gan_report"
local plot_tool = require "harness.lua.plot_tool"

local TITLES = {erm = "ERM GAN", mixup = "mixup GAN", mixup_paper = "mixup GAN (paper)",
                mixup_paper_joint = "mixup GAN (paper, joint)"}

local CLI = {
  tool = "figure5.lua",
  command = "mixup tools/figure5.lua",
  options = plot_tool.options{
    {"report", "FILE"},
    {"methods", "erm,mixup", default = "erm,mixup"},
    {"seed", "N", type = "integer", min = 0},
  },
}
local opts = cli.parse(CLI, {...})
if not opts then return end
opts.export = opts.export or opts.out .. "/data"
opts.report = opts.report or opts.results .. "/figure5_gan/METRICS.md"

local function mkdir(dir) plot_tool.mkdir(dir, "figure5") end

local methods = {}
for m in opts.methods:gmatch("[^,]+") do methods[#methods + 1] = m end

local model = gr.collect{results = opts.results}
local md = gr.render(model)
mkdir(opts.report:match("^(.*)/[^/]*$") or ".")
local f = assert(io.open(opts.report, "w"))
f:write(md, "\n")
f:close()
io.write(md, "\n")
print("wrote " .. opts.report)

mkdir(opts.export)
local figures = gr.export(model, opts.export, methods, opts.seed)
for _, fig in ipairs(figures) do
  for _, p in ipairs(fig.files) do print("exported " .. p) end
  if not opts.no_gnuplot then
    mkdir(opts.out)
    local out = ("%s/figure5_%s"):format(opts.out, fig.scale)
    local vars = {stem = fig.stem, panels = fig.panels, shapes = table.concat(fig.shapes, " "),
                  methods = table.concat(methods, " "),
                  iters = table.concat(fig.iterations, " "), out = out,
                  ttl = ("Figure 5 (mixup paper), scale %s, seed %d: real points blue, "
                         .. "generated orange; mixup alpha = 0.2 (demo: lambda ~ U(0, 0.2); "
                         .. "paper: Beta(0.2, 0.2))"):format(fig.scale, fig.seed)}
    for k, m in ipairs(methods) do vars["mtitle" .. k] = TITLES[m] or m end
    plot_tool.gnuplot(opts, "figure5", "figure5.gp", vars)
    print("drew " .. out .. ".png and .svg")
  end
end
if #figures == 0 then
  print(("figure5: no scale has runs of every method (%s)%s under %s"):format(opts.methods,
        opts.seed and " for seed " .. opts.seed or "", opts.results))
end
