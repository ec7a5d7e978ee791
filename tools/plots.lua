-- plots.lua [--results DIR] [--out DIR] [--export DIR] [--scripts DIR] [--data DIR]
--           [--gnuplot CMD] [--no-gnuplot]
-- Exports plain-text tables from the HDF5 results (the runs harness/lua/report.lua chooses for
-- each cell and scale) and draws them with the gnuplot scripts in plots/ (PNG and SVG):
--   <out>/<experiment>_<scale>_curves_<dataset>_<net>.{png,svg}   test error per epoch, ERM and
--       mixup, mean over seeds with a min-max band (the paper's Figure 3b style), from
--       <export>/<experiment>_<scale>_<dataset>_<net>_<method>.dat
--       (columns: epoch mean min max n, then one column per seed)
--   <out>/<experiment>_<scale>_published.{png,svg}   published versus reproduced per cell, from
--       <export>/<experiment>_<scale>_published.dat
--       (columns: index published mean std n replacement "label"; '?' for a missing value)
-- Every number the figures show is computed here; the .gp scripts only draw.
-- Defaults: DIR = $MIXUP_RESULTS or "results", out = "plots", export = <out>/data,
-- scripts = "plots", data = "data" (for the report's "not run" reasons). `make plots` runs this.
local cli = require "harness.lua.cli"
local plot_tool = require "harness.lua.plot_tool"
local report = require "harness.lua.report"

local MISSING = "?" -- plots/published.gp: set datafile missing '?'

local CLI = {
  tool = "plots.lua",
  command = "mixup tools/plots.lua",
  options = plot_tool.options{{"data", "DIR", default = "data"}},
}
local opts = cli.parse(CLI, {...})
if not opts then return end
opts.export = opts.export or opts.out .. "/data"

-- "CIFAR-10" -> "cifar10", "PreAct ResNet-18" -> "preact_resnet_18": a file-name part.
local function slug(s)
  return (s:lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", ""):gsub("(%a)_(%d)", "%1%2"))
end

local function mkdir(dir) plot_tool.mkdir(dir, "plots") end

local function write_lines(path, lines) plot_tool.write_lines(path, lines, "plots") end

local function num(x)
  return x == nil and MISSING or string.format("%.6g", x)
end

-- Draws out.png and out.svg with a gnuplot script; returns their names.
local function gnuplot(script, vars, out)
  plot_tool.gnuplot(opts, "plots", script, vars)
  return {out .. ".png", out .. ".svg"}
end

-- {==================================================================================
-- Exports
-- ===================================================================================

-- Per-epoch mean, min and max of test_error over the runs of one cell.
local function export_curves(path, row, what)
  local lines = {
    "# test error (%) per epoch: " .. what,
    "# runs: " .. #row.runs .. " (seeds " .. table.concat(row.seeds, ", ") .. ")",
  }
  for _, run in ipairs(row.runs) do lines[#lines + 1] = "#   " .. run.path end
  local seed_cols = {}
  for k = 1, #row.seeds do seed_cols[k] = "seed_" .. tostring(row.seeds[k]) end
  lines[#lines + 1] = "# epoch mean min max n " .. table.concat(seed_cols, " ")
  local epochs = 0
  for _, run in ipairs(row.runs) do epochs = math.max(epochs, #run.curves.test_error) end
  for e = 1, epochs do
    local sum, lo, hi, n, cols = 0.0, math.huge, -math.huge, 0, {}
    for k, run in ipairs(row.runs) do
      local v = run.curves.test_error[e]
      cols[k] = num(v)
      if v then
        sum, n = sum + v, n + 1
        lo, hi = math.min(lo, v), math.max(hi, v)
      end
    end
    lines[#lines + 1] = string.format("%d %s %s %s %d %s", e, num(sum / n), num(lo), num(hi), n,
                                      table.concat(cols, " "))
  end
  write_lines(path, lines)
end

-- Epochs after which the learning rate went down (from the first run's lr curve).
local function lr_drops(row)
  local lr = row.runs[1].curves.lr
  local drops = {}
  for e = 2, #lr do
    if lr[e] < lr[e - 1] then drops[#drops + 1] = tostring(e - 1) end
  end
  return table.concat(drops, " ")
end

local function short_label(row)
  return string.format("%s %s %s", row.dataset:gsub("^CIFAR%-", "C"), row.net, row.method)
end

local function export_published(path, sec, what)
  local lines = {
    "# published versus reproduced test error (%): " .. what,
    "# reproduced: mean and sample std over n seeds of the median of the last 5 % of epochs",
    "# index published mean std n replacement label",
  }
  for k, row in ipairs(sec.rows) do
    local std = row.std or (row.n == 1 and 0 or nil)
    lines[#lines + 1] = string.format("%d %s %s %s %d %s %q", k, num(row.published),
                                      num(row.mean), num(std), row.n, num(row.replacement),
                                      short_label(row))
  end
  write_lines(path, lines)
end

-- mixup - ERM per pair of cells: the rows that carry a published difference (the mixup rows).
local function export_differences(path, sec, what)
  local lines = {
    "# mixup - ERM test error (percentage points): " .. what,
    "# reproduced: mean over seeds of the per-run statistic's difference, 95 % interval "
    .. "(harness/lua/stats.lua)",
    "# index published_delta reproduced_delta lo hi n_mixup n_erm label verdict",
  }
  local k = 0
  for _, row in ipairs(sec.rows) do
    if row.delta_published then
      k = k + 1
      local d = row.delta_interval or {}
      lines[#lines + 1] = string.format("%d %s %s %s %s %s %s %q %q", k,
                                        num(row.delta_published), num(d.mean), num(d.lo),
                                        num(d.hi), num(d.n_a), num(d.n_b),
                                        short_label(row):gsub(" mixup$", ""),
                                        row.verdict or "not run")
    end
  end
  write_lines(path, lines)
end

-- }==================================================================================

local model = report.collect{results = opts.results, data = opts.data}
mkdir(opts.export)
if not opts.no_gnuplot then mkdir(opts.out) end
local exported, drawn = {}, {}

for _, t in ipairs(model.tables) do
  local exp = t.spec.experiment
  for _, sec in ipairs(t.sections) do
    if sec.scale then
      local stem = exp .. "_" .. slug(sec.scale)
      local note = sec.comparable and "" or " (" .. sec.scale .. ": not comparable in magnitude)"
      -- curves: one figure per dataset and net with runs
      local pairs_order, by_pair = {}, {}
      for _, row in ipairs(sec.rows) do
        if row.n > 0 then
          local key = slug(row.dataset) .. "_" .. slug(row.net)
          if not by_pair[key] then
            by_pair[key] = {}
            pairs_order[#pairs_order + 1] = key
          end
          table.insert(by_pair[key], row)
        end
      end
      for _, key in ipairs(pairs_order) do
        local rows = by_pair[key]
        local out = string.format("%s/%s_curves_%s", opts.out, stem, key)
        local vars = {n = #rows, out = out,
                      ttl = string.format("%s %s: test error per epoch, scale %s%s",
                                          rows[1].dataset, rows[1].net, sec.scale, note),
                      sub = "net run: " .. rows[1].net_run}
        for k, row in ipairs(rows) do
          local path = string.format("%s/%s_%s_%s.dat", opts.export, stem, key, slug(row.method))
          export_curves(path, row, string.format("%s, %s, %s, scale %s, net run %s", row.dataset,
                                                 row.net, row.method, sec.scale, row.net_run))
          exported[#exported + 1] = path
          vars["file" .. k] = path
          vars["title" .. k] = string.format("%s (n=%d)", row.method, row.n)
        end
        if not opts.no_gnuplot then
          local drops = lr_drops(rows[1])
          if drops ~= "" then vars.drops = drops end
          for _, f in ipairs(gnuplot("curves.gp", vars, out)) do drawn[#drawn + 1] = f end
        end
      end
      -- published versus reproduced
      local path = string.format("%s/%s_published.dat", opts.export, stem)
      export_published(path, sec, string.format("%s, scale %s", t.spec.title, sec.scale))
      exported[#exported + 1] = path
      if not opts.no_gnuplot and #sec.runs > 0 then
        local out = string.format("%s/%s_published", opts.out, stem)
        local vars = {file = path, out = out,
                      ttl = string.format("%s: published vs reproduced, scale %s", t.spec.title,
                                          sec.scale),
                      sub = sec.comparable and "reproduced: mean of the per-run median of the "
                            .. "last 5 % of epochs" or sec.scale .. ": " .. report.NOT_COMPARABLE}
        for _, f in ipairs(gnuplot("published.gp", vars, out)) do
          drawn[#drawn + 1] = f
        end
      end
      -- mixup - ERM: the claim, with its interval
      path = string.format("%s/%s_differences.dat", opts.export, stem)
      export_differences(path, sec, string.format("%s, scale %s", t.spec.title, sec.scale))
      exported[#exported + 1] = path
      if not opts.no_gnuplot and #sec.runs > 0 then
        local out = string.format("%s/%s_differences", opts.out, stem)
        local vars = {file = path, out = out,
                      ttl = string.format("%s: mixup - ERM, scale %s", t.spec.title, sec.scale),
                      sub = sec.comparable and "published vs reproduced (mean over seeds, 95 % "
                            .. "interval)" or sec.scale .. ": only the side of zero compares "
                            .. "with the paper"}
        for _, f in ipairs(gnuplot("differences.gp", vars, out)) do
          drawn[#drawn + 1] = f
        end
      end
    end
  end
end

for _, b in ipairs(model.bad) do io.stderr:write("plots: skipped ", b.reason, "\n") end
for _, t in ipairs(model.tables) do
  for _, sec in ipairs(t.sections) do
    for _, row in ipairs(sec.rows) do
      if (row.diverged or 0) > 0 then
        print(("plots: %s %s %s, scale %s: %d diverged run%s not drawn (results/REPORT.md "
               .. "lists them)"):format(row.dataset, row.net, row.method, sec.scale,
               row.diverged, row.diverged == 1 and "" or "s"))
      end
    end
  end
end
for _, p in ipairs(exported) do print("exported " .. p) end
for _, p in ipairs(drawn) do print("drew " .. p) end
if #exported == 0 then print("plots: no complete runs under " .. opts.results) end
