-- table4.lua [--results DIR] [--out DIR] [--export DIR] [--scripts DIR] [--gnuplot CMD]
--            [--no-gnuplot]
-- Table 4's figures from the corrupted-label runs (harness/lua/table4_report.lua chooses the
-- runs of each row), per scale and noise level, one line per method (mean over seeds, band
-- min-max), drawn by plots/curves.gp:
--   <out>/table4_noisy_<scale>_test_<noise>.{png,svg}       test error per epoch: ERM's rise
--                                                             after the drops is memorisation
--   <out>/table4_noisy_<scale>_corrupted_<noise>.{png,svg}  training error against the
--                                                             corrupted labels, on the epochs
--                                                             where it was measured
-- from <export>/table4_noisy_<scale>_<curve>_<noise>_<method>.dat (columns: epoch mean min max
-- n, then one column per seed). Defaults: DIR = $MIXUP_RESULTS or "results", out = "plots",
-- export = <out>/data, scripts = "plots". `make plots-table4` (part of `make plots`) runs this.
local cli = require "harness.lua.cli"
local plot_tool = require "harness.lua.plot_tool"
local t4 = require "harness.lua.table4_report"

local CLI = {tool = "table4.lua", command = "mixup tools/table4.lua",
             options = plot_tool.options{}}
local opts = cli.parse(CLI, {...})
if not opts then return end
opts.export = opts.export or opts.out .. "/data"

local CURVES = {
  {name = "test", curve = "test_error", ylab = "test error (%)", what = "test error",
   title = "test error"},
  {name = "corrupted", curve = "train_error_corrupted",
   ylab = "training error on the corrupted labels (%)",
   what = "training error against the corrupted labels (un-augmented training images)",
   title = "training error on the corrupted labels"},
}

local function slug(s) return (s:lower():gsub("[^%w]+", "_"):gsub("_+$", "")) end
local function num(x) return string.format("%.6g", x) end

-- Per-epoch mean, min and max of one curve over a row's runs; epochs where no run measured
-- it (NaN) are left out. Returns false when nothing was measured.
local function export(path, row, c, what)
  local lines = {"# " .. c.what .. " (%) per epoch: " .. what,
                 "# runs: " .. #row.runs .. " (seeds " .. table.concat(row.seeds, ", ") .. ")"}
  for _, run in ipairs(row.runs) do lines[#lines + 1] = "#   " .. run.path end
  local cols = {}
  for k, s in ipairs(row.seeds) do cols[k] = "seed_" .. s end
  lines[#lines + 1] = "# epoch mean min max n " .. table.concat(cols, " ")
  local epochs, rows = 0, 0
  for _, run in ipairs(row.runs) do epochs = math.max(epochs, #run.curves[c.curve]) end
  for e = 1, epochs do
    local sum, lo, hi, n, vals = 0.0, math.huge, -math.huge, 0, {}
    for k, run in ipairs(row.runs) do
      local v = run.curves[c.curve][e]
      if v and v == v then
        sum, n, lo, hi = sum + v, n + 1, math.min(lo, v), math.max(hi, v)
        vals[k] = num(v)
      else
        vals[k] = "?"
      end
    end
    if n > 0 then
      rows = rows + 1
      lines[#lines + 1] = ("%d %s %s %s %d %s"):format(e, num(sum / n), num(lo), num(hi), n,
                                                     table.concat(vals, " "))
    end
  end
  plot_tool.write_lines(path, lines, "table4")
  return rows > 0
end

local function lr_drops(run)
  local lr, drops = run.curves.lr, {}
  for e = 2, #lr do if lr[e] < lr[e - 1] then drops[#drops + 1] = tostring(e - 1) end end
  return table.concat(drops, " ")
end

local model = t4.collect{results = opts.results}
plot_tool.mkdir(opts.export, "table4")
if not opts.no_gnuplot then plot_tool.mkdir(opts.out, "table4") end
local n_files = 0
for _, sec in ipairs(model.sections) do
  for _, lv in ipairs(sec.levels) do
    for _, c in ipairs(CURVES) do
      local stem = ("%s_%s_%s_n%s"):format(t4.EXPERIMENT, slug(sec.scale), c.name,
                                           lv.noise:gsub("%%", ""))
      local out = opts.out .. "/" .. stem
      local vars = {out = out, ylab = c.ylab, n = 0,
                    ttl = ("Table 4, %s label noise: %s per epoch, scale %s"):format(lv.noise,
                          c.title, sec.scale),
                    sub = sec.scale == "paper" and "the published recipe"
                          or "reduced recipe: not comparable in magnitude with the paper"}
      for _, row in ipairs(lv.rows) do
        if row.runs then
          local path = ("%s/%s_%s.dat"):format(opts.export, stem, slug(row.method))
          local what = ("%s, %s %s, scale %s"):format(lv.noise, row.method, row.setting,
                                                      sec.scale)
          if export(path, row, c, what) then
            n_files = n_files + 1
            vars.n = vars.n + 1
            vars["file" .. vars.n] = path
            vars["title" .. vars.n] = ("%s%s (n=%d)"):format(row.method,
              row.setting ~= "" and " " .. row.setting or "", row.n)
            vars.drops = lr_drops(row.runs[1])
          end
        end
      end
      if vars.drops == "" then vars.drops = nil end
      if vars.n > 0 and not opts.no_gnuplot then
        plot_tool.gnuplot(opts, "table4", "curves.gp", vars)
        print(("table4: %s.png, %s.svg"):format(out, out))
      end
    end
  end
end
print(("table4: %d tables in %s"):format(n_files, opts.export))
