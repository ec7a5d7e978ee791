-- ablation_report.lua: the ablation table of the mixup paper's ICLR version (PAPER_FACTS.md
-- section 9 and Appendix A) from the results files of experiments/ablation_cifar.lua
-- (harness/lua/tasks/ablation_classifier.lua): per scale, each method at weight decay 1e-4 and
-- 5e-4 beside the paper's cell, and the paper's conclusions as verdicts.
--
--   local abl = require "harness.lua.ablation_report"
--   local model = abl.collect{results = "results"}  -- opts.published (default
--                                                    -- experiments/published.lua),
--                                                    -- opts.experiment (its grid explains a
--                                                    -- "not in the grid")
--   local md = abl.render(model)                     -- the report's ablation section
--
-- Cells: the statistic of Table 2's report (results.median_final: the median test error over
-- the last 5 % of a run's epochs, the paper's last 10 of 200), mean +- sample sd over seeds.
-- The paper's column: the ERM and mixup AC + RP rows come from published.lua (hongyi-zhang/
-- mixup README; their equality with the table's cells is likely, unverified); every other value
-- is recalled from the ICLR text (PAPER_FACTS Appendix A, RECALLED below) and is printed as
-- "recalled, unverified", never as published.
-- A run's row comes from its config (row_of): alpha, partner, labels, smoothing, noise and the
-- net's mix_at; k and the scale's sizes do not change the row.
--
-- Verdicts (harness/lua/stats.lua, 95 % interval, paired by seed: every method of one seed
-- shares the initial weights and the data order), per scale:
--   mixup best       mixup - X < 0 at wd 1e-4 for every other row X that ran (the paper's
--                    default decay; the summary is "reproduced" only if every line is, and
--                    "contradicted" if any line is)
--   ERM decay        ERM(5e-4) - ERM(1e-4) < 0: ERM prefers the larger decay
--   mixup decay      mixup(1e-4) - mixup(5e-4) < 0: mixup prefers the smaller
--   small gains      label smoothing, input noise and SMOTE, each X - ERM at wd 1e-4, gain
--                    "only a little" / "no noticeable gain": with delta = half of mixup's mean
--                    gain over ERM at this scale, "reproduced" when the interval lies above
--                    -delta, "contradicted" when it lies below, else "inconclusive".
-- Non-goals: the plot (tools/ablation.lua), the other tables (report.lua appends this).

local grid = require "harness.lua.grid"
local results = require "harness.lua.results"
local stats = require "harness.lua.stats"

local M = {}

M.EXPERIMENT = "ablation_cifar"
M.TAG = "ABL"
M.COMMAND = "make reproduce-ablation"
M.SCALE_ORDER = {"paper", "cpu", "smoke", "test"}
M.DECAYS = {1e-4, 5e-4}
M.PIPELINE_ONLY = {smoke = "its runs are too short to learn anything: its verdicts check the "
                           .. "pipeline only, not the paper's claims",
                   test = "a unit test's runs"}
M.RECALLED_SOURCE = "PAPER_FACTS.md Appendix A: recalled from the ICLR text, unverified"

-- The rows in the paper's order: id, label, the paper's values at 1e-4 / 5e-4 when recalled
-- (the sourced ERM and mixup rows come from published.lua: `published` names the method).
M.ROWS = {
  {id = "erm", label = "ERM", published = "ERM"},
  {id = "mixup", label = "mixup AC + RP", published = "mixup (AC + RP)"},
  {id = "mixup_knn", label = "mixup AC + KNN", recalled = {4.98, 5.26}},
  {id = "layer1", label = "mixup, layer 1", recalled = {4.44, 4.51}},
  {id = "layer2", label = "mixup, layer 2", recalled = {4.56, 4.61}},
  {id = "layer3", label = "mixup, layer 3", recalled = {5.39, 5.55}},
  {id = "layer4", label = "mixup, layer 4", recalled = {5.95, 5.43}},
  {id = "layer5", label = "mixup, layer 5", recalled = {5.39, 5.15}},
  {id = "in_sc_knn", label = "inputs only SC + KNN (SMOTE)", recalled = {5.45, 5.52}},
  {id = "in_ac_knn", label = "inputs only AC + KNN", recalled = {5.43, 5.48}},
  {id = "in_sc_rp", label = "inputs only SC + RP", recalled = {5.23, 5.55}},
  {id = "in_ac_rp", label = "inputs only AC + RP", recalled = {5.17, 5.72}},
  {id = "ls0.05", label = "label smoothing 0.05", recalled = {5.25, 5.02}},
  {id = "ls0.1", label = "label smoothing 0.1", recalled = {5.33, 5.17}},
  {id = "ls0.2", label = "label smoothing 0.2", recalled = {5.34, 5.06}},
  {id = "mixls0.05", label = "mix inputs + label smoothing 0.05", recalled = {5.02, 5.40}},
  {id = "mixls0.1", label = "mix inputs + label smoothing 0.1", recalled = {5.08, 5.09}},
  {id = "mixls0.2", label = "mix inputs + label smoothing 0.2", recalled = {4.98, 5.06}},
  {id = "mixls0.4", label = "mix inputs + label smoothing 0.4", recalled = {5.25, 5.39}},
  {id = "noise0.05", label = "Gaussian noise 0.05", recalled = {5.53, 5.04}},
  {id = "noise0.1", label = "Gaussian noise 0.1", recalled = {6.41, 5.86}},
  {id = "noise0.2", label = "Gaussian noise 0.2", recalled = {7.16, 7.24}},
}

-- {==================================================================================
-- Model
-- ===================================================================================

-- The row id of a run's config, or nil for a config no row of the paper describes.
function M.row_of(cfg)
  local m = cfg.mixup
  local mix_at = cfg.net and cfg.net.mix_at or 0
  local sm, nz = m.smoothing or 0, m.noise or 0
  if m.alpha == 0 then
    if sm > 0 and nz == 0 then return ("ls%g"):format(sm) end
    if nz > 0 and sm == 0 then return ("noise%g"):format(nz) end
    return (sm == 0 and nz == 0) and "erm" or nil
  end
  if nz > 0 then return nil end
  local knn = m.partner == "knn" or m.partner == "knn_same_class"
  local sc = m.partner == "same_class" or m.partner == "knn_same_class"
  if mix_at > 0 then return (sm == 0 and m.labels == "mixed") and "layer" .. mix_at or nil end
  if m.labels == "heavier" then
    return sm == 0 and ("in_%s_%s"):format(sc and "sc" or "ac", knn and "knn" or "rp") or nil
  end
  if sm > 0 then return (not knn and not sc) and ("mixls%g"):format(sm) or nil end
  if sc then return nil end
  return knn and "mixup_knn" or "mixup"
end

local function decay_index(wd)
  for i, d in ipairs(M.DECAYS) do if math.abs(wd - d) <= 1e-12 then return i end end
  return nil
end

-- published[method][decay index] = value (the ABL rows of published.lua).
local function published_cells(rows)
  local out = {}
  for _, r in ipairs(rows) do
    if r.tag == M.TAG and r.metric == "test_err_pct" then
      local wd = tonumber(r.setting:match("wd=([%d.e%-]+)"))
      local i = wd and decay_index(wd)
      if i then
        out[r.method] = out[r.method] or {}
        out[r.method][i] = r.value
      end
    end
  end
  return out
end

local function cell_of(runs)
  table.sort(runs, function(a, b) return a.provenance.seed < b.provenance.seed end)
  local v, seeds = {}, {}
  for i, run in ipairs(runs) do
    v[i] = results.median_final(run.curves)
    seeds[i] = run.provenance.seed
  end
  local mean, sd = stats.mean_sd(v)
  return {values = v, seeds = seeds, mean = mean, sd = sd, n = #v}
end

-- {["<row>\0<decay index>"] = true}: what the experiment's grid runs at a scale.
local function grid_cells(exp, scale)
  return grid.keys_at(exp, scale, function(c)
    local id, i = M.row_of(c), decay_index(c.optim.weight_decay)
    return id and i and id .. "\0" .. i or nil
  end)
end

local function claim(name, d, sign)
  return {name = name, d = d, verdict = d and stats.verdict(d, sign) or nil}
end

-- "Only a little": the interval of X - ERM against -delta (see the file comment).
local function small_gain(name, d, delta)
  local c = {name = name, d = d, delta = delta}
  if d and d.lo and delta then
    c.verdict = d.lo > -delta and "reproduced" or d.hi < -delta and "contradicted"
                or "inconclusive"
  elseif d then
    c.verdict = "inconclusive"
  end
  return c
end

-- in_grid (grid_cells, or nil without the experiment): a claim whose cells the scale's grid
-- leaves out says so instead of "not run".
local function claims_of(sec, in_grid)
  local function at(id, i) return sec.cells[id] and sec.cells[id][i] end
  local function diff(a, b) return a and b and stats.difference(a, b) or nil end
  local function decay_claim(name, id, first, second)
    local c = claim(name, diff(at(id, first), at(id, second)), -1)
    if not c.d and in_grid and not (in_grid[id .. "\0" .. first]
                                    and in_grid[id .. "\0" .. second]) then
      c.verdict = "not in this scale's grid"
    end
    return c
  end
  local out = {}
  local mix1 = at("mixup", 1)
  local best = {name = "mixup AC + RP is the best method (wd 1e-4)", lines = {}}
  for _, row in ipairs(M.ROWS) do
    if row.id ~= "mixup" and at(row.id, 1) and mix1 then
      best.lines[#best.lines + 1] = claim(("mixup \u{2212} %s"):format(row.label),
                                          diff(mix1, at(row.id, 1)), -1)
    end
  end
  if #best.lines > 0 then
    local any_c, all_r = false, true
    for _, l in ipairs(best.lines) do
      any_c = any_c or l.verdict == "contradicted"
      all_r = all_r and l.verdict == "reproduced"
    end
    best.verdict = any_c and "contradicted" or all_r and "reproduced" or "inconclusive"
  end
  out[#out + 1] = best
  out[#out + 1] = decay_claim("ERM prefers the larger decay: ERM(5e-4) \u{2212} ERM(1e-4)",
                              "erm", 2, 1)
  out[#out + 1] = decay_claim("mixup prefers the smaller decay: mixup(1e-4) \u{2212} "
                              .. "mixup(5e-4)", "mixup", 1, 2)
  local gain = diff(mix1, at("erm", 1))
  local delta = gain and gain.mean and gain.mean < 0 and -gain.mean / 2 or nil
  sec.delta = delta
  for _, id in ipairs{"ls0.05", "ls0.1", "ls0.2", "noise0.05", "noise0.1", "noise0.2",
                      "in_sc_knn"} do
    if at(id, 1) then
      local label = M.row(id).label
      out[#out + 1] = small_gain(("%s gains little over ERM: %s \u{2212} ERM"):format(label,
                                 label), diff(at(id, 1), at("erm", 1)), delta)
    end
  end
  return out
end

function M.row(id)
  for _, r in ipairs(M.ROWS) do if r.id == id then return r end end
  return nil
end

function M.collect(opts)
  opts = opts or {}
  local exp = opts.experiment
  if exp == nil then exp = grid.load_experiment(M.EXPERIMENT) end
  local runs, _, diverged = results.scan(opts.results or "results")
  local published = published_cells(opts.published or require "experiments.published")
  local by_scale, scales = {}, {}
  local function bucket(run)
    local scale = run.provenance.scale
    if not by_scale[scale] then
      by_scale[scale] = {groups = {}, diverged = {}, other = 0}
      scales[#scales + 1] = scale
    end
    return by_scale[scale]
  end
  for _, run in ipairs(runs) do
    if run.experiment == M.EXPERIMENT then
      local b = bucket(run)
      local id, i = M.row_of(run.config), decay_index(run.config.optim.weight_decay)
      if id and i then
        local key = id .. "\0" .. i
        b.groups[key] = b.groups[key] or {}
        table.insert(b.groups[key], run)
      else
        b.other = b.other + 1
      end
    end
  end
  for _, d in ipairs(diverged) do
    if d.experiment == M.EXPERIMENT and d.config then
      local id, i = M.row_of(d.config), decay_index(d.config.optim.weight_decay)
      if id and i then
        local b = bucket(d)
        local key = id .. "\0" .. i
        b.diverged[key] = (b.diverged[key] or 0) + 1
      end
    end
  end
  grid.sort_scales(scales, M.SCALE_ORDER)
  local model = {sections = {}}
  for _, scale in ipairs(scales) do
    local b = by_scale[scale]
    local recipe = exp and type(exp.scales) == "table" and exp.scales[scale]
    local sec = {scale = scale, cells = {}, rows = {}, other = b.other,
                 note = type(recipe) == "table" and type(recipe.note) == "string"
                        and recipe.note or nil}
    local in_grid = grid_cells(exp, scale)
    for _, row in ipairs(M.ROWS) do
      local r = {row = row, cells = {}, paper = {}, reasons = {}, diverged = {}}
      local pub = row.published and published[row.published]
      for i = 1, #M.DECAYS do
        local key = row.id .. "\0" .. i
        r.paper[i] = pub and pub[i] and {value = pub[i], sourced = true}
                     or row.recalled and {value = row.recalled[i], sourced = false} or nil
        r.diverged[i] = b.diverged[key] or 0
        if b.groups[key] then
          r.cells[i] = cell_of(b.groups[key])
          sec.cells[row.id] = sec.cells[row.id] or {}
          sec.cells[row.id][i] = r.cells[i]
        elseif r.diverged[i] == 0 then
          r.reasons[i] = in_grid and not in_grid[key] and "not in the grid" or "not run yet"
        end
      end
      sec.rows[#sec.rows + 1] = r
    end
    sec.claims = claims_of(sec, in_grid)
    model.sections[#model.sections + 1] = sec
  end
  return model
end

-- }==================================================================================

-- {==================================================================================
-- Rendering
-- ===================================================================================

local function num(x) return x and ("%.2f"):format(x) or "\u{2013}" end

local function paper_text(p)
  if not p then return "\u{2013}" end
  return ("%.2f%s"):format(p.value, p.sourced and " (README)" or " (recalled, unverified)")
end

local function here_text(r, i)
  local c = r.cells[i]
  if c then
    local s = num(c.mean) .. (c.sd and " \u{b1} " .. num(c.sd) or "") .. (" (%d)"):format(c.n)
    if r.diverged[i] > 0 then s = s .. (", %d diverged"):format(r.diverged[i]) end
    return s
  end
  if r.diverged[i] > 0 then return ("diverged (%d)"):format(r.diverged[i]) end
  return r.reasons[i] or "\u{2013}"
end

local function interval_text(d)
  if not d then return "\u{2013}" end
  return ("%s (%s, %d seeds)"):format(stats.format(d), d.method == "paired" and "paired t"
                                      or "Welch", d.n_a)
end

function M.render(model)
  local out = {"## Ablation: what part of mixup matters (CIFAR-10, PreAct ResNet-18, test "
               .. "error %)", ""}
  if #model.sections == 0 then
    out[#out + 1] = ("Not run yet (`%s`)."):format(M.COMMAND)
    out[#out + 1] = ""
    return table.concat(out, "\n")
  end
  out[#out + 1] = "Each cell: the paper's value, then the reproduced mean \u{b1} sample sd of "
                  .. "the median test error over the last 5 % of epochs (seeds in brackets). "
                  .. "Only the ERM and mixup AC + RP values are sourced (the hongyi-zhang/"
                  .. "mixup README); the others are " .. M.RECALLED_SOURCE .. ". Verdicts: "
                  .. "95 % interval of the difference over seeds."
  out[#out + 1] = ""
  for _, sec in ipairs(model.sections) do
    out[#out + 1] = ("### Scale `%s`"):format(sec.scale)
    out[#out + 1] = ""
    if sec.note then out[#out + 1] = "> " .. sec.note; out[#out + 1] = "" end
    if M.PIPELINE_ONLY[sec.scale] then
      out[#out + 1] = ("> Scale `%s`: %s."):format(sec.scale, M.PIPELINE_ONLY[sec.scale])
      out[#out + 1] = ""
    end
    out[#out + 1] = "| method | paper wd 1e-4 | here wd 1e-4 | paper wd 5e-4 | here wd 5e-4 |"
    out[#out + 1] = "|---|---|---|---|---|"
    local ran = {}
    for _, r in ipairs(sec.rows) do
      out[#out + 1] = ("| %s | %s | %s | %s | %s |"):format(r.row.label, paper_text(r.paper[1]),
                      here_text(r, 1), paper_text(r.paper[2]), here_text(r, 2))
      if r.cells[1] or r.cells[2] then ran[#ran + 1] = r.row.label end
    end
    out[#out + 1] = ""
    out[#out + 1] = ("Rows that ran at this scale: %s."):format(#ran > 0
                    and table.concat(ran, ", ") or "none")
    if sec.other > 0 then
      out[#out + 1] = ("%d run(s) of other configs are not in the paper's rows."):format(
                      sec.other)
    end
    out[#out + 1] = ""
    out[#out + 1] = "| conclusion | difference [95 % interval] | verdict |"
    out[#out + 1] = "|---|---|---|"
    for _, c in ipairs(sec.claims) do
      out[#out + 1] = ("| %s | %s | %s |"):format(c.name, c.lines and "see below"
                      or interval_text(c.d), c.verdict or "not run")
      for _, l in ipairs(c.lines or {}) do
        out[#out + 1] = ("| \u{2003}%s | %s | %s |"):format(l.name, interval_text(l.d),
                        l.verdict or "not run")
      end
    end
    out[#out + 1] = ""
    out[#out + 1] = sec.delta and ("\"Gains little\": the interval of X \u{2212} ERM lies above "
                    .. "\u{2212}%.2f points, half of mixup's mean gain over ERM at this "
                    .. "scale."):format(sec.delta)
                    or "\"Gains little\" needs mixup to beat ERM on average at this scale: "
                       .. "inconclusive."
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

-- }==================================================================================

return M
