-- gan_report.lua: Figure 5's numbers and the figure's data, from the GAN results files
-- (harness/lua/tasks/gan.lua): per scale, shape, method and snapshot iteration the metrics over
-- seeds (mean, sample standard deviation, min, max, n), a paired per-seed comparison of mixup
-- with ERM (the runs of one seed share their initial nets and snapshot points), the markdown
-- section for the report, and plain-text tables for plots/figure5.gp.
--
--   local gr = require "harness.lua.gan_report"
--   local model = gr.collect{results = "results"}       -- every gan-run file under results/
--   local md = gr.render(model)                          -- markdown
--   local files = gr.export(model, "plots/data")         -- tables for plots/figure5.gp
--
-- Methods are named from the run config: "erm" (mixup.alpha = 0), "mixup" (the demo's
-- variant, alpha > 0), "mixup_paper" and "mixup_paper_joint" (the paper's variants), with
-- alpha appended when it is not the figure's 0.2 ("mixup_a0.5").
-- Non-goals: training, reading other schemas.

local gan = require "harness.lua.tasks.gan"
local results = require "harness.lua.results"
local plot_tool = require "harness.lua.plot_tool"

local M = {}

M.SCALE_ORDER = {"paper", "cpu", "smoke", "test"}
M.SHAPE_ORDER = {"grid", "ring"} -- the paper's rows: grid on top, ring below
M.METHOD_ORDER = {"erm", "mixup", "mixup_paper", "mixup_paper_joint"}
local VARIANT_NAMES = {demo = "mixup", paper = "mixup_paper", paper_joint = "mixup_paper_joint"}
M.FIGURE_ALPHA = 0.2
M.METRIC_LABELS = {modes_covered = "modes covered", high_quality = "high quality (%)",
                   energy = "energy distance", mmd2 = "MMD^2", outside = "outside frame"}
M.PERCENT = {high_quality = true} -- shown as percentages

-- {==================================================================================
-- Model
-- ===================================================================================

function M.method_of(cfg)
  local a = cfg.mixup.alpha
  if a == 0 then return "erm" end
  local name = VARIANT_NAMES[cfg.mixup.variant] or "mixup_" .. cfg.mixup.variant
  if a ~= M.FIGURE_ALPHA then name = ("%s_a%g"):format(name, a) end
  return name
end

local function rank(order, v)
  for i, x in ipairs(order) do if x == v then return i end end
  return #order + 1
end

local function stats(values)
  local n, sum, lo, hi = #values, 0.0, math.huge, -math.huge
  for _, v in ipairs(values) do
    sum = sum + v
    lo, hi = math.min(lo, v), math.max(hi, v)
  end
  local mean = sum / n
  local ss = 0.0
  for _, v in ipairs(values) do ss = ss + (v - mean) ^ 2 end
  return {n = n, mean = mean, sd = n > 1 and math.sqrt(ss / (n - 1)) or nil, min = lo, max = hi}
end
M.stats = stats

-- Cells keyed scale/shape/method: {runs = {...} sorted by seed, seeds = {...}}. Runs of one
-- cell must share their recipe apart from the seed; otherwise the newest recipe's runs are
-- kept (by the count of runs, then the path) and the others counted in model.notes.
function M.collect(o)
  local runs, bad = gan.scan(o.results or "results")
  local model = {results = o.results or "results", bad = bad, sections = {}, notes = {},
                 n_runs = #runs}
  -- diverged records (harness/lua/lifecycle.lua) of GAN runs: named, never in a metric
  local _, _, diverged = results.scan(o.results or "results")
  for _, d in ipairs(diverged) do
    if d.task == gan.name then
      model.notes[#model.notes + 1] = ("%s diverged at %s %d/%d (%s): not in the metrics")
                                      :format(d.run_id, d.unit, d.at, d.total, d.detail)
    end
  end
  local cells = {}
  for _, r in ipairs(runs) do
    local cfg = r.config
    local key = table.concat({cfg.scale, cfg.shape, M.method_of(cfg)}, "/")
    cells[key] = cells[key] or {}
    table.insert(cells[key], r)
  end
  local by_scale = {}
  for key, list in pairs(cells) do
    local scale, shape, method = key:match("^([^/]+)/([^/]+)/([^/]+)$")
    table.sort(list, function(a, b)
      if a.config.seed ~= b.config.seed then return a.config.seed < b.config.seed end
      return a.path < b.path
    end)
    local seeds, kept = {}, {}
    for _, r in ipairs(list) do
      if not seeds[r.config.seed] then
        seeds[r.config.seed] = true
        kept[#kept + 1] = r
      else
        model.notes[#model.notes + 1] = ("%s: seed %d has more than one run; kept %s")
                                        :format(key, r.config.seed, kept[#kept].path)
      end
    end
    local seed_list = {}
    for _, r in ipairs(kept) do seed_list[#seed_list + 1] = r.config.seed end
    by_scale[scale] = by_scale[scale] or {}
    table.insert(by_scale[scale], {scale = scale, shape = shape, method = method, runs = kept,
                                   seeds = seed_list})
  end
  local scales = {}
  for s in pairs(by_scale) do scales[#scales + 1] = s end
  table.sort(scales, function(a, b)
    local ra, rb = rank(M.SCALE_ORDER, a), rank(M.SCALE_ORDER, b)
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  for _, s in ipairs(scales) do
    local list = by_scale[s]
    table.sort(list, function(a, b)
      local ka, kb = rank(M.SHAPE_ORDER, a.shape), rank(M.SHAPE_ORDER, b.shape)
      if ka ~= kb then return ka < kb end
      ka, kb = rank(M.METHOD_ORDER, a.method), rank(M.METHOD_ORDER, b.method)
      if ka ~= kb then return ka < kb end
      return a.method < b.method
    end)
    model.sections[#model.sections + 1] = {scale = s, cells = list}
  end
  return model
end

-- The metric's per-seed values at snapshot iteration it of a cell, with their seeds.
local function values_at(cell, it, metric)
  local vals, seeds = {}, {}
  for _, r in ipairs(cell.runs) do
    for _, s in ipairs(r.snapshots) do
      if s.iteration == it then
        local v = s.metrics[metric]
        vals[#vals + 1] = M.PERCENT[metric] and 100 * v or v
        seeds[#seeds + 1] = r.config.seed
      end
    end
  end
  return vals, seeds
end

local function iterations_of(cell)
  local its = {}
  for _, s in ipairs(cell.runs[1].snapshots) do its[#its + 1] = s.iteration end
  return its
end

-- }==================================================================================

-- {==================================================================================
-- Markdown
-- ===================================================================================

local function fmt(v, metric)
  if v == nil then return "-" end
  if metric == "modes_covered" or metric == "outside" then return ("%.1f"):format(v) end
  if metric == "high_quality" then return ("%.1f"):format(v) end
  return ("%.4f"):format(v)
end

local function cell_text(st, metric)
  if not st or st.n == 0 then return "-" end
  local s = fmt(st.mean, metric)
  if st.sd then s = s .. " ± " .. fmt(st.sd, metric) end
  return ("%s [%s, %s]"):format(s, fmt(st.min, metric), fmt(st.max, metric))
end

local function MORE(a, b) return a > b end
local function LESS(a, b) return a < b end

-- Paired comparison at one iteration: in how many seeds is `better` true of mixup vs ERM.
local function paired(erm, mix, it, metric, better)
  local ev, es = values_at(erm, it, metric)
  local mv, ms = values_at(mix, it, metric)
  local by_seed = {}
  for i, s in ipairs(es) do by_seed[s] = ev[i] end
  local wins, ties, n = 0, 0, 0
  for i, s in ipairs(ms) do
    local e = by_seed[s]
    if e then
      n = n + 1
      if mv[i] == e then ties = ties + 1 elseif better(mv[i], e) then wins = wins + 1 end
    end
  end
  return wins, ties, n
end

-- Exact one-sided sign test: the chance of at least `wins` successes in `n` fair coin flips
-- (ties dropped before the call). sign_p(5, 5) = 1/32.
function M.sign_p(wins, n)
  local p, c = 0.0, 1.0 -- c = C(n, k), built up from C(n, 0)
  for k = 0, n do
    if k >= wins then p = p + c end
    c = c * (n - k) / (k + 1)
  end
  return p / 2 ^ n
end

-- The claim at the last snapshot, one line per method against erm: the metric means with
-- their sd, and per-seed wins with the sign test's p (ties dropped).
local function summary(out, cells, n_modes)
  local erm
  for _, c in ipairs(cells) do if c.method == "erm" then erm = c end end
  if not erm then return end
  local its = iterations_of(erm)
  local last = its[#its]
  local function ms(c, metric)
    local vals = values_at(c, last, metric)
    if #vals == 0 then return "-" end
    local st = stats(vals)
    return fmt(st.mean, metric) .. (st.sd and " ± " .. fmt(st.sd, metric) or "")
  end
  for _, c in ipairs(cells) do
    if c ~= erm then
      local w1, t1, n1 = paired(erm, c, last, "modes_covered", MORE)
      local w2, t2, n2 = paired(erm, c, last, "energy", LESS)
      out[#out + 1] = ("Summary at iteration %d: %s covered %s of %d modes against erm's %s "
                       .. "(more in %d of %d seeds, %d tied; one-sided sign test p = %.3g), "
                       .. "high-quality points %s%% against %s%%, energy distance %s against "
                       .. "%s (lower in %d of %d seeds, p = %.3g).")
                      :format(last, c.method, ms(c, "modes_covered"), n_modes,
                              ms(erm, "modes_covered"), w1, n1, t1, M.sign_p(w1, n1 - t1),
                              ms(c, "high_quality"), ms(erm, "high_quality"), ms(c, "energy"),
                              ms(erm, "energy"), w2, n2, M.sign_p(w2, n2 - t2))
      out[#out + 1] = ""
    end
  end
end

function M.render(model)
  local out = {"## Figure 5: GAN on 2-D toy data, ERM versus mixup (measured)", "",
               "Per snapshot of 1,000 generated points from fixed noise against 1,000 fixed "
               .. "real points: modes covered (>= 1% of the points within 3 std of the "
               .. "centre), high-quality points (within 3 std of some centre, %), energy "
               .. "distance (V-statistic, units of the data), Gaussian-kernel MMD^2 (bandwidth "
               .. "0.1), and generated points outside the plotting frame (real range +- 0.25). "
               .. "Cells: mean ± sample sd [min, max] over seeds. The paper reports no number "
               .. "for this figure.", ""}
  if model.n_runs == 0 then
    out[#out + 1] = "No GAN runs under " .. model.results .. " (run `make reproduce-figure5`)."
  end
  for _, sec in ipairs(model.sections) do
    out[#out + 1] = ("### Scale %s"):format(sec.scale)
    out[#out + 1] = ""
    for _, shape in ipairs(M.SHAPE_ORDER) do
      local cells = {}
      for _, c in ipairs(sec.cells) do if c.shape == shape then cells[#cells + 1] = c end end
      if #cells > 0 then
        local n_modes = shape == "ring" and 8 or 25
        out[#out + 1] = ("#### %s (%d modes)"):format(shape, n_modes)
        out[#out + 1] = ""
        summary(out, cells, n_modes)
        local head = {"iteration", "method", "n"}
        for _, m in ipairs(gan.METRICS) do head[#head + 1] = M.METRIC_LABELS[m] end
        out[#out + 1] = "| " .. table.concat(head, " | ") .. " |"
        out[#out + 1] = "|" .. ("---|"):rep(#head)
        for _, it in ipairs(iterations_of(cells[1])) do
          for _, c in ipairs(cells) do
            local row = {tostring(it), c.method, tostring(#c.runs)}
            for _, m in ipairs(gan.METRICS) do
              local vals = values_at(c, it, m)
              row[#row + 1] = cell_text(#vals > 0 and stats(vals) or nil, m)
            end
            out[#out + 1] = "| " .. table.concat(row, " | ") .. " |"
          end
        end
        out[#out + 1] = ""
        local erm
        for _, c in ipairs(cells) do if c.method == "erm" then erm = c end end
        for _, c in ipairs(cells) do
          if erm and c ~= erm then
            local parts = {}
            for _, it in ipairs(iterations_of(c)) do
              local w1, t1, n1 = paired(erm, c, it, "modes_covered", MORE)
              local w2, _, n2 = paired(erm, c, it, "energy", LESS)
              parts[#parts + 1] = ("%d: %d/%d (%d ties), %d/%d"):format(it, w1, n1, t1, w2, n2)
            end
            out[#out + 1] = ("Paired by seed, %s versus erm: seeds with more modes covered, "
                             .. "and with a lower energy distance, per iteration: %s.")
                            :format(c.method, table.concat(parts, "; "))
          end
        end
        out[#out + 1] = ""
      end
    end
  end
  for _, n in ipairs(model.notes) do out[#out + 1] = "- note: " .. n end
  for _, b in ipairs(model.bad) do out[#out + 1] = "- unreadable: " .. b.reason end
  return table.concat(out, "\n")
end

-- }==================================================================================

-- {==================================================================================
-- Tables for the figure
-- ===================================================================================

local function write_lines(path, lines) plot_tool.write_lines(path, lines, "figure5") end

local function write_points(path, t, header)
  local v = t:to_table()
  local lines = {"# " .. header, "# x y"}
  for i = 1, #v, 2 do lines[#lines + 1] = ("%.7g %.7g"):format(v[i], v[i + 1]) end
  write_lines(path, lines)
end

-- For each scale: the points of one seed's runs (want_seed when given and every drawn cell
-- has it, otherwise the smallest seed that every drawn cell has) as
-- <dir>/figure5_<scale>_<shape>_real.dat and <dir>/figure5_<scale>_<shape>_<method>_
-- <iteration>.dat, and <dir>/figure5_<scale>_panels.gp, a gnuplot include with each row's
-- frame and each panel's count of points outside it. Returns {{scale =, seed =, methods =,
-- iterations =, panels =, files = {...}}, ...}.
function M.export(model, dir, methods, want_seed)
  methods = methods or {"erm", "mixup"}
  local figures = {}
  for _, sec in ipairs(model.sections) do
    local cell = {}
    for _, c in ipairs(sec.cells) do cell[c.shape .. "/" .. c.method] = c end
    local shapes, seed = {}, nil
    for _, shape in ipairs(M.SHAPE_ORDER) do
      local ok = true
      for _, m in ipairs(methods) do ok = ok and cell[shape .. "/" .. m] ~= nil end
      if ok then shapes[#shapes + 1] = shape end
    end
    if #shapes > 0 then
      -- the smallest seed present in every drawn cell
      local common = nil
      for _, shape in ipairs(shapes) do
        for _, m in ipairs(methods) do
          local have = {}
          for _, s in ipairs(cell[shape .. "/" .. m].seeds) do have[s] = true end
          if common == nil then common = have
          else for s in pairs(common) do if not have[s] then common[s] = nil end end end
        end
      end
      if want_seed then
        seed = common[want_seed] and want_seed or nil
      else
        for s in pairs(common) do if seed == nil or s < seed then seed = s end end
      end
    end
    if seed then
      local stem = ("%s/figure5_%s"):format(dir, sec.scale)
      local fig = {scale = sec.scale, seed = seed, methods = methods, shapes = shapes,
                   files = {}, panels = stem .. "_panels.gp", stem = stem}
      local inc = {"# figure5 panels, scale " .. sec.scale .. ", seed " .. seed
                   .. " (written by harness/lua/gan_report.lua; read by plots/figure5.gp)"}
      for _, shape in ipairs(shapes) do
        local its
        for _, m in ipairs(methods) do
          local run
          for _, r in ipairs(cell[shape .. "/" .. m].runs) do
            if r.config.seed == seed then run = r end
          end
          if m == methods[1] then
            local path = ("%s_%s_real.dat"):format(stem, shape)
            write_points(path, run.snap_real, ("real points, %s, seed %d"):format(shape, seed))
            fig.files[#fig.files + 1] = path
            local m1 = run.snapshots[1].metrics
            inc[#inc + 1] = ("lo_%s = %.7g; hi_%s = %.7g"):format(shape, m1.frame_lo, shape,
                                                                 m1.frame_hi)
          end
          its = {}
          for _, s in ipairs(run.snapshots) do
            its[#its + 1] = s.iteration
            local path = ("%s_%s_%s_%d.dat"):format(stem, shape, m, s.iteration)
            write_points(path, s.generated, ("generated points, %s, %s, iteration %d, seed %d, "
                                              .. "run %s"):format(shape, m, s.iteration, seed,
                                                                  run.run_id))
            fig.files[#fig.files + 1] = path
            inc[#inc + 1] = ("out_%s_%s_%d = %d"):format(shape, m, s.iteration,
                                                         math.tointeger(s.metrics.outside))
          end
        end
        fig.iterations = its
      end
      write_lines(fig.panels, inc)
      fig.files[#fig.files + 1] = fig.panels
      figures[#figures + 1] = fig
    end
  end
  return figures
end

-- }==================================================================================

return M
