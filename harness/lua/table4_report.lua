-- table4_report.lua: Table 4 of the mixup paper (CIFAR-10 with corrupted training labels) from
-- the results files of experiments/table4_noisy.lua (harness/lua/tasks/noisy_classifier.lua):
-- per scale, noise level and method the published row beside the reproduced one, and the
-- paper's two claims as verdicts.
--
--   local t4 = require "harness.lua.table4_report"
--   local model = t4.collect{results = "results"}  -- opts.published: rows (default
--                                                   -- experiments/published.lua), opts.now,
--                                                   -- opts.experiment (default
--                                                   -- experiments/table4_noisy.lua: its
--                                                   -- grid explains a "not in the grid")
--   local md = t4.render(model)                     -- the report's Table 4 section
--
-- Rows. A run's method comes from its config: ERM (alpha 0, no dropout), ERM + dropout
-- (alpha 0, net.dropout p > 0), mixup (alpha > 0, no dropout), mixup + dropout (both). Runs of
-- one scale, noise level and method with one config apart from the seed are one setting; the
-- paper shows "the best setting per method", so when a method has several settings (the
-- paper-scale grid: p in {0.5, 0.7, 0.8, 0.9}, alpha in {1, 2, 8, 32}) the row is the setting
-- with the lowest mean best test error over its seeds. That choice looks at the test error it
-- then reports (as "best" itself does, and as the paper's choice presumably did); the report
-- says so and names the setting and the number considered. At the reduced scales only the
-- published winners run, so there is nothing to choose.
-- Columns, mean +- sample sd over the seeds of the row: test error best (the lowest over
-- training) and last (the final epoch); the training error of the final net on the
-- un-augmented training images against the real labels and against the corrupted ones.
--
-- Verdicts (harness/lua/stats.lua, 95 % interval, paired by seed: every method of one seed
-- shares the noisy labels, the initial weights and the data order), per noise level:
--   ERM memorises    ERM last - best (the paper: +3.9, +25.8, +37.4 at 20/50/80 %)
--   mixup vs ERM     mixup - ERM, on best and on last
--   mixup vs dropout mixup - (ERM + dropout), on best and on last
-- each against the sign of the published difference: "reproduced" when the interval lies on
-- the paper's side of zero, "contradicted" on the other side, else "inconclusive".
-- Non-goals: the Table 2 report (report.lua, which appends this section), plots
-- (tools/table4.lua).

local grid = require "harness.lua.grid"
local results = require "harness.lua.results"
local stats = require "harness.lua.stats"

local M = {}

M.EXPERIMENT = "table4_noisy"
M.TAG = "T4"
M.COMMAND = "make reproduce-table4"
M.SCALE_ORDER = {"paper", "cpu", "smoke", "test"}
M.NOISE = {0.2, 0.5, 0.8}
M.METHODS = {"ERM", "ERM + dropout", "mixup", "mixup + dropout"}
M.METRICS = {
  {key = "best", published = "test_err_best_pct", label = "test best"},
  {key = "last", published = "test_err_last_pct", label = "test last"},
  {key = "real", published = "train_err_real_labels_pct", label = "train (real labels)"},
  {key = "corrupted", published = "train_err_corrupted_labels_pct",
   label = "train (corrupted labels)"},
}
M.PIPELINE_ONLY = {smoke = "its runs are too short to learn anything: its verdicts check the "
                           .. "pipeline only, not the paper's claims",
                   test = "a unit test's runs"}
M.SELECTION = "the setting with the lowest mean best test error over its seeds (this looks at "
              .. "the test error it reports, as \"best\" itself does)"

-- {==================================================================================
-- Model
-- ===================================================================================

function M.method_of(cfg)
  local alpha = cfg.mixup and cfg.mixup.alpha or 0
  local p = cfg.net and cfg.net.dropout or 0
  if alpha == 0 then return p > 0 and "ERM + dropout" or "ERM" end
  return p > 0 and "mixup + dropout" or "mixup"
end

-- "alpha = 32", "p = 0.8", "alpha = 8, p = 0.5", "" for ERM.
function M.setting_of(cfg)
  local parts = {}
  local alpha, p = cfg.mixup.alpha, cfg.net.dropout or 0
  if alpha > 0 then parts[#parts + 1] = ("\u{3b1} = %g"):format(alpha) end
  if p > 0 then parts[#parts + 1] = ("p = %g"):format(p) end
  return table.concat(parts, ", ")
end

local function pct(p) return ("%g%%"):format(100 * p) end

-- The published rows of Table 4: out[noise%][method][metric key] = {value =, row =}.
local function published_cells(rows)
  local out = {}
  for _, r in ipairs(rows) do
    if r.tag == M.TAG then
      local level = r.setting:match("corrupt=(%d+)%%")
      for _, m in ipairs(M.METRICS) do
        if level and r.metric == m.published then
          local key = level .. "%"
          out[key] = out[key] or {}
          out[key][r.method] = out[key][r.method] or {}
          local p = r.setting:match("dropout_p=([%d.]+)")
          out[key][r.method][m.key] = {value = r.value, verified = r.verified, row = r,
                                       alpha = r.alpha, p = p and tonumber(p)}
        end
      end
    end
  end
  return out
end

-- The config minus the seed: one setting.
local function setting_key(run)
  local c = {}
  for k, v in pairs(run.config) do if k ~= "seed" then c[k] = v end end
  return results.serialize(c)
end

local function values_of(runs, key)
  local v = {}
  for i, run in ipairs(runs) do
    local s = run.summary
    v[i] = key == "best" and s.test_error_best or key == "last" and s.test_error_last
           or key == "real" and s.train_error_real_labels
           or s.train_error_corrupted_labels
  end
  return v
end

local function seeds_of(runs)
  local s = {}
  for i, run in ipairs(runs) do s[i] = run.provenance.seed end
  return s
end

-- One row: the chosen setting's runs and their statistics.
local function make_row(level, method, settings, published, diverged)
  local row = {noise = level, method = method, published = published or {},
               diverged = diverged or 0, n_settings = 0}
  local best_mean, chosen = math.huge, nil
  for _, runs in pairs(settings or {}) do
    row.n_settings = row.n_settings + 1
    local m = stats.mean_sd(values_of(runs, "best"))
    if m < best_mean or (m == best_mean and #runs > #chosen) then
      best_mean, chosen = m, runs
    end
  end
  if not chosen then return row end
  table.sort(chosen, function(a, b) return a.provenance.seed < b.provenance.seed end)
  row.runs, row.n, row.seeds = chosen, #chosen, seeds_of(chosen)
  row.setting = M.setting_of(chosen[1].config)
  row.epochs = chosen[1].summary.epochs
  row.changed = chosen[1].summary.label_noise_changed
  row.labels_md5 = chosen[1].summary.label_noise_md5
  row.stats = {}
  for _, m in ipairs(M.METRICS) do
    local v = values_of(chosen, m.key)
    local mean, sd = stats.mean_sd(v)
    row.stats[m.key] = {values = v, seeds = row.seeds, mean = mean, sd = sd}
  end
  return row
end

local function claim(name, d, published)
  local sign = published and (published > 0 and 1 or published < 0 and -1 or 0) or 0
  return {name = name, published = published, d = d,
          verdict = published and d and stats.verdict(d, sign) or nil}
end

local function pub_diff(a, b) return a and b and a.value - b.value or nil end

-- The verdicts of one noise level from its rows by method.
local function claims_of(by)
  local out = {}
  local erm, drop, mix = by["ERM"], by["ERM + dropout"], by["mixup"]
  local function diff(a, b, key_a, key_b)
    if not (a and b and a.stats and b.stats) then return nil end
    return stats.difference(a.stats[key_a], b.stats[key_b or key_a])
  end
  out[#out + 1] = claim("ERM memorises: ERM last \u{2212} best", diff(erm, erm, "last", "best"),
                        pub_diff(erm and erm.published.last, erm and erm.published.best))
  for _, key in ipairs{"best", "last"} do
    out[#out + 1] = claim(("mixup \u{2212} ERM, %s"):format(key), diff(mix, erm, key),
                          pub_diff(mix and mix.published[key], erm and erm.published[key]))
  end
  for _, key in ipairs{"best", "last"} do
    out[#out + 1] = claim(("mixup \u{2212} (ERM + dropout), %s"):format(key), diff(mix, drop, key),
                          pub_diff(mix and mix.published[key], drop and drop.published[key]))
  end
  return out
end

local function rank(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return #list + 1
end

-- {["50%\0ERM"] = true, ...}: the rows the experiment's grid runs at a scale (nil when the
-- experiment cannot be expanded there).
local function grid_rows(exp, scale)
  return grid.keys_at(exp, scale, function(c)
    return pct(c.data.label_noise.p) .. "\0" .. M.method_of(c)
  end)
end

function M.collect(opts)
  opts = opts or {}
  local exp = opts.experiment
  if exp == nil then exp = grid.load_experiment(M.EXPERIMENT) end
  local runs, _, diverged = results.scan(opts.results or "results")
  local published = published_cells(opts.published or require "experiments.published")
  local model = {sections = {}, now = opts.now}
  local by_scale, scales = {}, {}
  local function place(run, is_diverged)
    if run.experiment ~= M.EXPERIMENT then return end
    local c = run.config
    if type(c.data) ~= "table" or type(c.data.label_noise) ~= "table" then return end
    local scale = run.provenance.scale
    local level = pct(c.data.label_noise.p)
    local method = M.method_of(c)
    if not by_scale[scale] then
      by_scale[scale] = {}
      scales[#scales + 1] = scale
    end
    local s = by_scale[scale]
    s[level] = s[level] or {}
    s[level][method] = s[level][method] or {settings = {}, diverged = 0}
    local cell = s[level][method]
    if is_diverged then
      cell.diverged = cell.diverged + 1
    else
      local key = setting_key(run)
      cell.settings[key] = cell.settings[key] or {}
      table.insert(cell.settings[key], run)
    end
  end
  for _, run in ipairs(runs) do place(run, false) end
  for _, d in ipairs(diverged) do place(d, true) end
  grid.sort_scales(scales, M.SCALE_ORDER)
  for _, scale in ipairs(scales) do
    local sec = {scale = scale, levels = {}}
    local in_grid = grid_rows(exp, scale)
    local recipe = exp and type(exp.scales) == "table" and exp.scales[scale]
    sec.note = type(recipe) == "table" and type(recipe.note) == "string" and recipe.note or nil
    local levels = {}
    for _, p in ipairs(M.NOISE) do levels[#levels + 1] = pct(p) end
    for level in pairs(by_scale[scale]) do
      if rank(levels, level) > #levels then levels[#levels + 1] = level end
    end
    for _, level in ipairs(levels) do
      local cells = by_scale[scale][level] or {}
      local lv = {noise = level, rows = {}, by = {}}
      for _, method in ipairs(M.METHODS) do
        local pubm = published[level] and published[level][method]
        local cell = cells[method]
        if pubm or cell then
          local row = make_row(level, method, cell and cell.settings, pubm,
                               cell and cell.diverged)
          if not row.runs and row.diverged == 0 then
            row.reason = in_grid and not in_grid[level .. "\0" .. method]
                         and ("not in the %s grid"):format(scale)
                         or ("not run yet: `%s SCALE=%s`"):format(M.COMMAND, scale)
          end
          lv.rows[#lv.rows + 1] = row
          lv.by[method] = row
        end
      end
      lv.claims = claims_of(lv.by)
      sec.levels[#sec.levels + 1] = lv
    end
    model.sections[#model.sections + 1] = sec
  end
  return model
end

-- }==================================================================================

-- {==================================================================================
-- Rendering
-- ===================================================================================

local function num(x) return x and ("%.1f"):format(x) or "\u{2013}" end

local function cell_text(row, key)
  local p = row.published[key]
  local pub_s = p and ("%g"):format(p.value) .. (p.verified and "" or " (unverified)")
                or "\u{2013}"
  local s = row.stats and row.stats[key]
  local here = "\u{2013}"
  if s then here = num(s.mean) .. (s.sd and " \u{b1} " .. num(s.sd) or "") end
  return pub_s .. " / " .. here
end

local function interval_text(d)
  if not d then return "\u{2013}" end
  return ("%s (%s, %d seeds)"):format(stats.format(d), d.method == "paired" and "paired t"
                                      or "Welch", d.n_a)
end

function M.render(model)
  local out = {"## Table 4: CIFAR-10 with corrupted training labels (%)", ""}
  if #model.sections == 0 then
    out[#out + 1] = ("Not run yet (`%s`)."):format(M.COMMAND)
    out[#out + 1] = ""
    return table.concat(out, "\n")
  end
  out[#out + 1] = "Each cell: published / reproduced (mean \u{b1} sample sd over the seeds). "
                  .. "Test best is the lowest test error over training, test last the final "
                  .. "epoch's; the training errors are the final net's on the un-augmented "
                  .. "training images. Where a method ran several settings, its row is "
                  .. M.SELECTION .. ". Verdicts: 95 % interval of the difference over seeds, "
                  .. "against the sign of the published difference."
  out[#out + 1] = ""
  for _, sec in ipairs(model.sections) do
    out[#out + 1] = ("### Scale `%s`"):format(sec.scale)
    out[#out + 1] = ""
    if sec.scale ~= "paper" then
      out[#out + 1] = "Reduced recipe: the reproduced numbers are not comparable in magnitude "
                      .. "with the paper's; only the differences and their verdicts are."
      out[#out + 1] = ""
    end
    if sec.note then
      out[#out + 1] = "Recipe: " .. sec.note .. "."
      out[#out + 1] = ""
    end
    if M.PIPELINE_ONLY[sec.scale] then
      out[#out + 1] = "Scale `" .. sec.scale .. "`: " .. M.PIPELINE_ONLY[sec.scale] .. "."
      out[#out + 1] = ""
    end
    out[#out + 1] = "| noise | method | setting (paper / here) | seeds | epochs | test best "
                    .. "| test last | train (real labels) | train (corrupted labels) |"
    out[#out + 1] = "|---|---|---|---|---|---|---|---|---|"
    for _, lv in ipairs(sec.levels) do
      for _, row in ipairs(lv.rows) do
        local p = row.published.best
        local pset = p and (p.p and ("p = %g"):format(p.p)
                             or (p.alpha and p.alpha > 0 and ("\u{3b1} = %g"):format(p.alpha))
                             or (row.method == "ERM" and "" or "unverified")) or "\u{2013}"
        local here = row.setting or "\u{2013}"
        if row.n_settings > 1 then here = here .. (" (of %d)"):format(row.n_settings) end
        local seeds = row.n and tostring(row.n) or "0"
        if row.diverged > 0 then seeds = seeds .. (" (+%d diverged)"):format(row.diverged) end
        if row.reason then seeds = seeds .. " (" .. row.reason .. ")" end
        out[#out + 1] = ("| %s | %s | %s / %s | %s | %s | %s | %s | %s | %s |"):format(
          lv.noise, row.method, pset ~= "" and pset or "\u{2013}",
          here ~= "" and here or "\u{2013}", seeds, row.epochs or "\u{2013}",
          cell_text(row, "best"), cell_text(row, "last"), cell_text(row, "real"),
          cell_text(row, "corrupted"))
      end
    end
    out[#out + 1] = ""
    out[#out + 1] = "| noise | claim | paper | reproduced (95 % interval) | verdict |"
    out[#out + 1] = "|---|---|---|---|---|"
    for _, lv in ipairs(sec.levels) do
      for _, c in ipairs(lv.claims) do
        if c.published or c.d then
          out[#out + 1] = ("| %s | %s | %s | %s | %s |"):format(lv.noise, c.name,
            c.published and ("%+.1f"):format(c.published) or "\u{2013}", interval_text(c.d),
            c.verdict or "\u{2013}")
        end
      end
    end
    out[#out + 1] = ""
    local changed = {}
    for _, lv in ipairs(sec.levels) do
      for _, row in ipairs(lv.rows) do
        if row.changed then
          changed[#changed + 1] = ("%s: %.1f %%%s"):format(lv.noise, 100 * row.changed,
            row.labels_md5 and (" (labels md5 %s)"):format(row.labels_md5) or "")
          break
        end
      end
    end
    if #changed > 0 then
      out[#out + 1] = "Training labels actually changed (the rule redraws a fraction p from all "
                      .. "10 classes, so about 0.9 p change): " .. table.concat(changed, ", ")
                      .. "."
      out[#out + 1] = ""
    end
  end
  return table.concat(out, "\n")
end

-- }==================================================================================

return M
