-- report.lua: the comparison of reproduced runs with the paper's numbers (results/REPORT.md).
--
-- For every cell of every table in TABLES (Table 2 now: dataset x net x method, the cells being
-- the rows of experiments/published.lua with the table's tag), and for every scale that has
-- runs, a row gives: the published value (marked when unverified or superseded; a superseded
-- value also shows its replacement when one published row matches it cleanly, e.g. the author's
-- README 4.24 for the v1 3.9), the reproduced mean +- sample std over n seeds of each run's
-- statistic (results.median_final: the median test error over the last 5 % of its epochs, the
-- paper's last 10 of 200), the scale, the net actually run
-- (name and options from the run config), reproduced - published, and mixup - ERM over seeds
-- with its 95 % interval and a verdict against the published difference (harness/lua/stats.lua:
-- "reproduced" when the interval lies on the paper's side of zero, "contradicted" on the other
-- side, else "inconclusive"; paired by seed when both methods ran the same seeds). Cells
-- without runs say "not run" and why when the reason is known (net not
-- written yet or not in the experiment's grid, data absent). Scales other than "paper" are
-- labelled as not comparable in magnitude.
--
-- A run is matched to a cell from its config (dataset, net.family through the table's
-- `families`, mixup.alpha: 0 is ERM, else it must equal the published alpha) and its
-- provenance.scale; names are compared case- and punctuation-blind ("cifar10" = "CIFAR-10").
-- A net of any width or depth stands for its family's published net. Runs of one cell and
-- scale with different configs (apart from the seed) are different recipes: the recipe with
-- the most runs (then the newest) is the cell's, and the others are counted in a note.
--
-- API: M.collect(opts) -> model (tables, rows, bad files; plots.lua reuses it);
--      M.render(model) -> markdown; M.write(opts) -> markdown, after writing opts.out.
-- opts: results (directory, default "results"), data (data directory for "not run" reasons,
-- default "data"), root (repository root for the nets/ check, default "."), published (rows,
-- default experiments/published.lua), experiments ({name = experiment table}, default
-- require("experiments.<name>"): its grid explains "not run", its scale notes are quoted),
-- now (a fixed time string, for tests).
-- Non-goals: reading curves for plots (plots.lua), any statistic other than the paper's.

local grid = require "harness.lua.grid"
local results = require "harness.lua.results"
local stats = require "harness.lua.stats"
local sources = require "harness.lua.sources"
local sys = require "engine.sys"

local M = {}

-- The statistic (harness/lua/results.lua median_final): the median test error over the last
-- 5 % of a run's epochs, the paper's last 10 of 200.
M.STAT = "median test error over the last 5 % of epochs"
M.SCALE_ORDER = {"paper", "cpu", "smoke"}
M.COMPARABLE_SCALE = "paper" -- the only scale that runs the published recipe
M.NOT_COMPARABLE = "not comparable in magnitude with the paper (reduced data, width or "
                   .. "schedule); only mixup - ERM, its interval and its verdict are"
-- Scales whose verdicts say nothing about the paper: they check that the pipeline runs.
M.PIPELINE_ONLY = {smoke = "its runs are too short to learn anything: its verdicts check the "
                           .. "pipeline only, not the paper's claim"}
M.NOT_RUN = "not run"
M.DIVERGED = "diverged" -- a cell whose every run diverged (harness/lua/lifecycle.lua)
M.DAGGER = "\u{2020}" -- marks numbers that are not comparable in magnitude
-- Experiments whose runs have their own section (appended by M.write), not "unmatched" here.
M.OWN_REPORT = {table1_imagenet = "harness/lua/table1_report.lua",
                table4_noisy = "harness/lua/table4_report.lua",
                ablation_cifar = "harness/lua/ablation_report.lua"}

-- Tables of the paper the harness reproduces. net_files: the nets/ file a net needs (a
-- dataset's folder and the command that fetches it come from harness/lua/sources.lua).
M.TABLES = {
  {tag = "T2", experiment = "table2_cifar", metric = "test_err_pct",
   command = "make reproduce-table2",
   title = "Table 2: CIFAR-10 and CIFAR-100 test error (%)",
   net_files = {["PreAct ResNet-18"] = "nets/preact_resnet.lua", ["WRN-28-10"] = "nets/wrn.lua",
                ["DenseNet-BC-190"] = "nets/densenet.lua"},
   -- config.net.family -> the published net it stands for, at any width or depth
   families = {preact_resnet = "PreAct ResNet-18", wrn = "WRN-28-10",
               densenet = "DenseNet-BC-190"},
   data = {["CIFAR-10"] = {dir = "cifar-10-batches-bin", fetch = "make data"},
           ["CIFAR-100"] = {dir = "cifar-100-binary", fetch = "make data-cifar100"}}},
}

-- {==================================================================================
-- Helpers
-- ===================================================================================

-- "PreAct ResNet-18" -> "preactresnet18"
local function norm(s)
  return (tostring(s):lower():gsub("[^%w]", ""))
end

-- The data source (harness/lua/sources.lua) whose published name is dataset ("CIFAR-10").
local function source_of(dataset)
  for _, d in pairs(sources.DATASETS) do
    if d.name == dataset then return d end
  end
  return nil
end

local function sign(x)
  return x > 0 and 1 or (x < 0 and -1 or 0)
end

local function fmt(x, signed)
  if x == nil then return "\u{2013}" end
  return string.format(signed and "%+.2f" or "%.2f", x)
end

local function method_of_alpha(alpha)
  return alpha > 0 and "mixup" or "ERM"
end

-- }==================================================================================

-- {==================================================================================
-- What a run is: dataset, net, method and scale from its config
-- ===================================================================================

-- The net's family and its options as "family (k=v, ...)": the net that stands for the
-- published one (e.g. "preact_resnet (depth=18, init=torch_default, variant=official,
-- width=16)" at the cpu scale).
local NET_DESC_SKIP = {family = true, num_classes = true} -- num_classes follows from the dataset

local function net_desc(net)
  local keys = {}
  for k, v in pairs(net) do
    if not NET_DESC_SKIP[k] and type(v) ~= "table" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(net[k]) end
  if #parts == 0 then return net.family end
  return net.family .. " (" .. table.concat(parts, ", ") .. ")"
end

-- {dataset =, net =, method =, alpha =, scale =, seed =, net_desc =} from a run's config
-- (harness/lua/config.lua schema image_classification: dataset, net.family, mixup.alpha;
-- alpha 0 is ERM) and provenance; a field is nil when the config does not have it.
function M.identify(run)
  local c = run.config
  local net = type(c.net) == "table" and type(c.net.family) == "string" and c.net or nil
  local alpha = type(c.mixup) == "table" and type(c.mixup.alpha) == "number" and c.mixup.alpha
                or nil
  return {dataset = type(c.dataset) == "string" and c.dataset or nil,
          net = net and net.family, net_desc = net and net_desc(net), alpha = alpha,
          method = alpha and method_of_alpha(alpha), scale = run.provenance.scale,
          seed = run.provenance.seed}
end

-- }==================================================================================

-- {==================================================================================
-- Published cells
-- ===================================================================================

-- A published row that replaces a superseded one: same dataset, the model named first, the
-- same method family and alpha, and a setting with the paper's weight decay (1e-4). Exactly
-- one such row, or none.
local PAPER_WD = "wd=1e-4"

local function replacement_of(row, rows)
  if not (row.note or ""):find("superseded", 1, true) then return nil end
  local found = {}
  for _, r in ipairs(rows) do
    if r ~= row and r.tag ~= row.tag and r.dataset == row.dataset and r.metric == row.metric
        and norm(r.model):sub(1, #norm(row.model)) == norm(row.model)
        and norm(r.method):sub(1, #norm(row.method)) == norm(row.method)
        and r.alpha == row.alpha and (r.setting or ""):find(PAPER_WD, 1, true)
        and not (r.note or ""):find("superseded", 1, true) then
      found[#found + 1] = r
    end
  end
  return #found == 1 and found[1] or nil
end

-- The cells of a table in published order: {dataset, net, method, alpha, row, replacement}.
function M.cells(spec, rows)
  local cells = {}
  for _, r in ipairs(rows) do
    if r.tag == spec.tag and r.metric == spec.metric then
      cells[#cells + 1] = {dataset = r.dataset, net = r.model, method = r.method,
                           alpha = r.alpha, row = r, replacement = replacement_of(r, rows)}
    end
  end
  return cells
end

local function cell_matches(spec, cell, id)
  if not (id.dataset and id.net and id.method) then return false end
  local net = spec.families and spec.families[id.net] or id.net
  if norm(id.dataset) ~= norm(cell.dataset) or norm(net) ~= norm(cell.net) then
    return false
  end
  if norm(id.method) ~= norm(cell.method) then return false end
  -- a mixup run at another alpha is not the published cell
  if cell.alpha and id.alpha and cell.alpha > 0 and id.alpha ~= cell.alpha then return false end
  return true
end

-- }==================================================================================

-- {==================================================================================
-- Collecting
-- ===================================================================================

-- The config minus the seed: equal strings mean one recipe.
local function recipe_key(run)
  local c = {}
  for k, v in pairs(run.config) do
    if k ~= "seed" then c[k] = v end
  end
  return results.serialize(c)
end

-- Splits a cell's runs by recipe; returns the chosen recipe's runs and the number of others.
local function choose_recipe(runs)
  local groups, order = {}, {}
  for _, run in ipairs(runs) do
    local k = recipe_key(run)
    if not groups[k] then
      groups[k] = {}
      order[#order + 1] = k
    end
    table.insert(groups[k], run)
  end
  local function newest(g)
    local t = ""
    for _, r in ipairs(g) do
      if r.provenance.end_time > t then t = r.provenance.end_time end
    end
    return t
  end
  table.sort(order, function(a, b)
    if #groups[a] ~= #groups[b] then return #groups[a] > #groups[b] end
    return newest(groups[a]) > newest(groups[b])
  end)
  local chosen = groups[order[1]]
  table.sort(chosen, function(a, b)
    return (a.provenance.seed or 0) < (b.provenance.seed or 0)
  end)
  return chosen, #order - 1
end

-- The experiment script of a table (opts.experiments[name], else experiments/<name>.lua), or
-- false when it cannot be loaded.
local function experiment_of(spec, opts)
  local exp = opts.experiments and opts.experiments[spec.experiment]
  if exp == nil then exp = grid.load_experiment(spec.experiment) end
  return exp or false
end

-- Whether the experiment's grid has a level setting `key` (e.g. "dataset", or "net" for
-- set.net.family) to one of `values`; nil when no level sets that key at all.
local function grid_has(exp, key, values)
  if not exp or type(exp.axes) ~= "table" then return nil end
  local seen = false
  for _, axis in ipairs(exp.axes) do
    for _, level in ipairs(type(axis.levels) == "table" and axis.levels or {}) do
      local set = type(level.set) == "table" and level.set or {}
      local v = key == "net" and type(set.net) == "table" and set.net.family or set[key]
      if v ~= nil then
        seen = true
        if values[v] then return true end
      end
    end
  end
  if seen then return false end
  return nil
end

local function not_run_reason(spec, cell, scale, opts)
  local file = spec.net_files and spec.net_files[cell.net]
  if file and not sys.exists(opts.root .. "/" .. file) then
    return string.format("%s is not implemented yet (%s absent)", cell.net, file)
  end
  local exp = experiment_of(spec, opts)
  local families = {}
  for family, net in pairs(spec.families or {}) do
    if net == cell.net then families[family] = true end
  end
  if grid_has(exp, "net", families) == false then
    return string.format("%s is not in the grid of experiments/%s.lua yet", cell.net,
                         spec.experiment)
  end
  local datasets = {[cell.dataset] = true, [norm(cell.dataset)] = true}
  if grid_has(exp, "dataset", datasets) == false then
    return string.format("%s is not in the grid of experiments/%s.lua", cell.dataset,
                         spec.experiment)
  end
  local d = source_of(cell.dataset)
  if d and not sys.exists(opts.data .. "/" .. d.dir .. "/" .. d.probe) then
    return string.format("%s data absent (`%s`)", cell.dataset, d.fix)
  end
  if not scale then
    return spec.command and string.format("no results yet (`%s`)", spec.command) or nil
  end
  return "no run of this cell at this scale"
end

-- The lr drop option in the recipe, as a sentence, or nil.
local function lr_drop_sentence(flat)
  for k, v in pairs(flat) do
    if k:match("lr_drop_late$") and type(v) == "boolean" then
      return v and "LR drops one epoch late, as the official code does (lr_drop_late = true)"
             or "LR drops at the milestones, as the paper states (lr_drop_late = false)"
    end
  end
  return nil
end

local IDENTITY_KEYS = {seed = true}

-- Flattened config keys with one value in every run of the section.
local function common_config(runs)
  local common = nil
  for _, run in ipairs(runs) do
    if not common then
      common = {}
      for k, v in pairs(run.config_flat) do
        if not IDENTITY_KEYS[k] then common[k] = v end
      end
    else
      for k, v in pairs(common) do
        local w = run.config_flat[k]
        local same = results.serialize(v) == (w ~= nil and results.serialize(w) or nil)
        if not same then common[k] = nil end
      end
    end
  end
  return common or {}
end

local function scale_rank(s)
  for i, name in ipairs(M.SCALE_ORDER) do
    if name == s then return i end
  end
  return #M.SCALE_ORDER + 1
end

-- One section: the rows of every cell of spec at one scale.
-- Diverged records count per cell (row.diverged, row.diverged_runs) and never enter a mean.
local function section(spec, cells, runs_of, scale, opts, diverged_of)
  local sec = {scale = scale, comparable = scale == M.COMPARABLE_SCALE, rows = {}, runs = {}}
  local by_pair = {}
  for _, cell in ipairs(cells) do
    local runs = scale and runs_of[cell] and runs_of[cell][scale] or {}
    local div = scale and diverged_of[cell] and diverged_of[cell][scale] or {}
    local row = {dataset = cell.dataset, net = cell.net, method = cell.method,
                 published = cell.row.value, verified = cell.row.verified,
                 note = cell.row.note ~= "" and cell.row.note or nil,
                 source = cell.row.source, n = 0, scale = scale, diverged = #div,
                 diverged_runs = div}
    if cell.replacement then
      row.replacement = cell.replacement.value
      row.replacement_source = cell.replacement.source
    end
    if #runs > 0 then
      local chosen, others = choose_recipe(runs)
      local values, seeds = {}, {}
      for _, run in ipairs(chosen) do
        local v, k = results.median_final(run.curves)
        values[#values + 1] = v
        row.window = k
        seeds[#seeds + 1] = run.provenance.seed
        sec.runs[#sec.runs + 1] = run
      end
      row.mean, row.std = stats.mean_sd(values)
      row.n, row.values, row.seeds, row.runs = #values, values, seeds, chosen
      row.other_recipes = others
      row.net_run = M.identify(chosen[1]).net_desc
      row.epochs = chosen[1].summary.epochs
      row.diff = row.mean - row.published
      if row.replacement then row.replacement_diff = row.mean - row.replacement end
    elseif #div > 0 then
      row.status = M.DIVERGED
    else
      row.status = M.NOT_RUN
      row.reason = not_run_reason(spec, cell, scale, opts)
    end
    sec.rows[#sec.rows + 1] = row
    local key = cell.dataset .. "\0" .. cell.net
    by_pair[key] = by_pair[key] or {}
    by_pair[key][norm(cell.method)] = row
  end
  -- mixup - ERM, published and reproduced, shown on the mixup row
  for _, pair in pairs(by_pair) do
    local erm, mix = pair.erm, pair.mixup
    if erm and mix then
      mix.delta_published = mix.published - erm.published
      if mix.replacement then mix.delta_replacement = mix.replacement - erm.published end
      if mix.mean and erm.mean then
        mix.delta_reproduced = mix.mean - erm.mean
        mix.delta_interval = stats.difference({values = mix.values, seeds = mix.seeds},
                                              {values = erm.values, seeds = erm.seeds})
        mix.verdict = stats.verdict(mix.delta_interval, sign(mix.delta_published))
      end
    end
  end
  local flat = common_config(sec.runs)
  sec.recipe = flat
  sec.lr_drop = lr_drop_sentence(flat)
  local exp = experiment_of(spec, opts)
  local recipe = scale and exp and type(exp.scales) == "table" and exp.scales[scale]
  sec.scale_note = type(recipe) == "table" and type(recipe.note) == "string" and recipe.note
                   or nil
  return sec
end

function M.collect(opts)
  opts = opts or {}
  local o = {results = opts.results or "results", data = opts.data or "data",
             root = opts.root or ".", published = opts.published or
             require "experiments.published", now = opts.now, experiments = opts.experiments}
  local runs, bad, diverged = results.scan(o.results)
  local model = {results = o.results, n_runs = #runs, n_diverged = #diverged, bad = bad,
                 tables = {}, unmatched = {}, now = o.now or os.date("!%Y-%m-%dT%H:%M:%SZ")}
  local matched = {}
  for _, spec in ipairs(M.TABLES) do
    local cells = M.cells(spec, o.published)
    local runs_of, diverged_of, scales, scale_list = {}, {}, {}, {}
    local function place(list, into)
      for _, run in ipairs(list) do
        if run.experiment == spec.experiment then
          local id = M.identify(run)
          for _, cell in ipairs(cells) do
            if cell_matches(spec, cell, id) then
              into[cell] = into[cell] or {}
              into[cell][id.scale] = into[cell][id.scale] or {}
              table.insert(into[cell][id.scale], run)
              matched[run] = true
              if not scales[id.scale] then
                scales[id.scale] = true
                scale_list[#scale_list + 1] = id.scale
              end
              break
            end
          end
        end
      end
    end
    place(runs, runs_of)
    place(diverged, diverged_of)
    table.sort(scale_list, function(a, b)
      if scale_rank(a) ~= scale_rank(b) then return scale_rank(a) < scale_rank(b) end
      return a < b
    end)
    local t = {spec = spec, sections = {}}
    if #scale_list == 0 then scale_list = {false} end -- one section of "not run" rows
    for _, scale in ipairs(scale_list) do
      t.sections[#t.sections + 1] = section(spec, cells, runs_of, scale or nil, o, diverged_of)
    end
    model.tables[#model.tables + 1] = t
  end
  for _, run in ipairs(runs) do
    if not matched[run] and not M.OWN_REPORT[run.experiment] then
      local id = M.identify(run)
      model.unmatched[#model.unmatched + 1] = {path = run.path, id = id}
    end
  end
  return model
end

-- }==================================================================================

-- {==================================================================================
-- Rendering
-- ===================================================================================

-- Published values as printed in their source (5.6, 4.24).
local function pub(x)
  return x and string.format("%g", x) or "\u{2013}"
end

local function published_text(row)
  local s = pub(row.published)
  local marks = {}
  if row.note then marks[#marks + 1] = row.note end
  if not row.verified and not row.note then marks[#marks + 1] = "unverified" end
  if row.replacement then
    marks[#marks + 1] = "author's README: " .. pub(row.replacement)
  end
  if #marks > 0 then s = s .. " (" .. table.concat(marks, "; ") .. ")" end
  return s
end

local function reproduced_text(row, comparable)
  if row.status == M.NOT_RUN then
    return M.NOT_RUN .. (row.reason and ": " .. row.reason or "")
  end
  if row.status == M.DIVERGED then
    return string.format("%s (%d of %d seeds)", M.DIVERGED, row.diverged, row.diverged)
  end
  local s = fmt(row.mean) .. " \u{b1} " .. fmt(row.std)
  if not comparable then s = s .. " " .. M.DAGGER end
  if row.diverged > 0 then
    s = s .. string.format("; %s (%d of %d seeds, left out of the mean)", M.DIVERGED,
                           row.diverged, row.diverged + row.n)
  end
  if row.other_recipes > 0 then
    s = s .. string.format(" (%d other recipe%s not shown)", row.other_recipes,
                           row.other_recipes > 1 and "s" or "")
  end
  return s
end

local function diff_text(row)
  if not row.diff then return "\u{2013}" end
  local s = fmt(row.diff, true)
  if row.replacement_diff then
    s = s .. " (vs README: " .. fmt(row.replacement_diff, true) .. ")"
  end
  return s
end

local function delta_text(row)
  if not row.delta_published then return "" end
  local pub = fmt(row.delta_published, true)
  if row.delta_replacement then
    pub = pub .. " (README: " .. fmt(row.delta_replacement, true) .. ")"
  end
  return pub .. " / " .. fmt(row.delta_reproduced, true)
end

local function interval_text(row)
  if not row.delta_interval then return row.delta_published and "\u{2013}" or "" end
  local d = row.delta_interval
  return string.format("%s (%s, n = %d + %d)", stats.format(d),
                       d.method == "paired" and "paired by seed" or "Welch", d.n_a, d.n_b)
end

local function verdict_text(row)
  if not row.verdict then return row.delta_published and "\u{2013}" or "" end
  return row.verdict
end

local function recipe_line(flat)
  local keys = {}
  for k in pairs(flat) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = flat[k]
    local s = type(v) == "table" and results.serialize(v) or tostring(v)
    parts[#parts + 1] = "`" .. k .. "=" .. s .. "`"
  end
  return table.concat(parts, ", ")
end

local function render_section(out, t, sec)
  local spec = t.spec
  out[#out + 1] = string.format("## %s, scale %s", spec.title,
                                sec.scale and "`" .. sec.scale .. "`" or "(no runs yet)")
  out[#out + 1] = ""
  if sec.scale and not sec.comparable then
    out[#out + 1] = string.format("> **Scale `%s`: %s %s.**", sec.scale, M.DAGGER,
                                  M.NOT_COMPARABLE)
    out[#out + 1] = ""
  end
  if sec.scale and M.PIPELINE_ONLY[sec.scale] then
    out[#out + 1] = string.format("> **Scale `%s`: %s.**", sec.scale, M.PIPELINE_ONLY[sec.scale])
    out[#out + 1] = ""
  end
  out[#out + 1] = "| dataset | net | method | published | reproduced (mean \u{b1} std) | n "
                  .. "| scale | net run | reproduced \u{2212} published "
                  .. "| mixup \u{2212} ERM (published / reproduced) "
                  .. "| reproduced mixup \u{2212} ERM, 95 % interval | verdict |"
  out[#out + 1] = "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for _, row in ipairs(sec.rows) do
    out[#out + 1] = string.format("| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |",
      row.dataset, row.net, row.method, published_text(row),
      reproduced_text(row, sec.comparable), row.n, sec.scale or "\u{2013}",
      row.net_run or "\u{2013}", diff_text(row), delta_text(row), interval_text(row),
      verdict_text(row))
  end
  out[#out + 1] = ""
  if sec.scale then
    local seeds = {}
    for _, row in ipairs(sec.rows) do
      if row.n > 0 or row.diverged > 0 then
        local s = {}
        for i, v in ipairs(row.values or {}) do
          local tr = row.runs[i].summary.train_error_last
          s[#s + 1] = string.format("seed %s: %.2f (training %.1f %%)", tostring(row.seeds[i]),
                                    v, tr)
        end
        for _, d in ipairs(row.diverged_runs) do
          s[#s + 1] = string.format("seed %s: diverged at %s %d/%d", tostring(d.provenance.seed),
                                    d.unit, d.at, d.total)
        end
        local epochs = row.epochs or row.diverged_runs[1].total
        seeds[#seeds + 1] = string.format("- %s %s %s (%d epochs, median of the last %d; the "
                                          .. "last epoch's training error in brackets): %s",
                                          row.dataset, row.net, row.method, epochs,
                                          row.window or results.final_window(epochs),
                                          table.concat(s, ", "))
      end
    end
    out[#out + 1] = "Per-seed values:"
    out[#out + 1] = ""
    for _, l in ipairs(seeds) do out[#out + 1] = l end
    out[#out + 1] = ""
    if sec.scale_note then
      out[#out + 1] = string.format("Scale note (experiments/%s.lua): %s.", spec.experiment,
                                    sec.scale_note)
      out[#out + 1] = ""
    end
    if sec.lr_drop then
      out[#out + 1] = sec.lr_drop .. "."
      out[#out + 1] = ""
    end
    out[#out + 1] = "Recipe shared by every run at this scale: " .. recipe_line(sec.recipe)
    out[#out + 1] = ""
  end
end

function M.render(model)
  local out = {}
  out[#out + 1] = "# Reproduction report"
  out[#out + 1] = ""
  out[#out + 1] = string.format("Generated %s from `%s`: %d complete run%s, %d diverged, %d "
                                .. "unreadable file%s.", model.now, model.results, model.n_runs,
                                model.n_runs == 1 and "" or "s", model.n_diverged or 0,
                                #model.bad, #model.bad == 1 and "" or "s")
  out[#out + 1] = ""
  out[#out + 1] = "Statistic: each run's median test error over its last 5 % of epochs (the "
                  .. "paper's last 10 of 200, all at the final learning rate; at a reduced "
                  .. "scale the same fraction, at least one epoch: each section names its "
                  .. "window), then the mean \u{b1} sample standard deviation over n seeds, and "
                  .. "mixup \u{2212} ERM with its 95 % interval and verdict. Published values "
                  .. "are from experiments/published.lua (shared/paper/published.tsv)."
  out[#out + 1] = ""
  local notes = {}
  for _, t in ipairs(model.tables) do
    for _, sec in ipairs(t.sections) do render_section(out, t, sec) end
    for _, row in ipairs(t.sections[1].rows) do
      if row.note or not row.verified then
        notes[#notes + 1] = string.format("- %s %s %s = %s: %s. Source: %s", row.dataset,
                                          row.net, row.method, pub(row.published),
                                          row.note or "unverified", row.source)
        if row.replacement then
          notes[#notes + 1] = string.format("  Compared also with %s: %s", pub(row.replacement),
                                            row.replacement_source)
        end
      end
    end
  end
  if #notes > 0 then
    out[#out + 1] = "## Notes on published values"
    out[#out + 1] = ""
    for _, l in ipairs(notes) do out[#out + 1] = l end
    out[#out + 1] = ""
  end
  if #model.unmatched > 0 then
    out[#out + 1] = "## Runs that match no published cell"
    out[#out + 1] = ""
    for _, u in ipairs(model.unmatched) do
      out[#out + 1] = string.format("- `%s`: dataset %s, net %s, method %s, scale %s", u.path,
                                    tostring(u.id.dataset), tostring(u.id.net),
                                    tostring(u.id.method), tostring(u.id.scale))
    end
    out[#out + 1] = ""
  end
  if #model.bad > 0 then
    out[#out + 1] = "## Unreadable results files (not counted; rerunning the experiment "
                    .. "replaces them)"
    out[#out + 1] = ""
    for _, b in ipairs(model.bad) do out[#out + 1] = "- " .. b.reason end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

function M.write(opts)
  local text = M.render(M.collect(opts))
  -- Tables 1 (ImageNet), 4 (corrupted labels) and 5 (adversarial examples) and Figures 2
  -- (between pairs) and 5 (GAN) have their own layouts; each says "not run" when it has no
  -- runs.
  local t1 = require "harness.lua.table1_report"
  text = text .. "\n" .. t1.render(t1.collect{results = opts.results or "results",
                                              published = opts.published})
  local t4 = require "harness.lua.table4_report"
  text = text .. "\n" .. t4.render(t4.collect{results = opts.results or "results",
                                              published = opts.published, now = opts.now})
  local t5 = require "harness.lua.table5_report"
  text = text .. "\n" .. t5.render(t5.collect{results = opts.results or "results",
                                              published = opts.published})
  local f2 = require "harness.lua.figure2_report"
  text = text .. "\n" .. f2.render(f2.collect{results = opts.results or "results"})
  local abl = require "harness.lua.ablation_report"
  text = text .. "\n" .. abl.render(abl.collect{results = opts.results or "results",
                                                published = opts.published})
  local gan_report = require "harness.lua.gan_report"
  text = text .. "\n" .. gan_report.render(gan_report.collect{results = opts.results or "results"})
  if opts.out then
    local tmp = opts.out .. ".tmp"
    local f = assert(io.open(tmp, "w"))
    f:write(text)
    f:close()
    assert(os.rename(tmp, opts.out))
  end
  return text
end

-- }==================================================================================

return M
