-- table5_report.lua: Table 5 of the mixup paper (adversarial examples) from the attack
-- evaluations of experiments/table5_adversarial.lua (harness/lua/tasks/adversarial.lua): per
-- scale and eps, the paper's layout (white and black box, top-1 and top-5, ERM and mixup, FGSM
-- and I-FGSM) with the published value beside the mean +- sample sd over the evaluated pairs,
-- the "N times more robust" ratios, and the claims as verdicts.
--
--   local t5 = require "harness.lua.table5_report"
--   local md = t5.render(t5.collect{results = "results"})  -- opts.published, opts.now
--
-- Where: white box ERM is ERM a attacking itself, white box mixup is mixup a attacking itself;
-- black box ERM is ERM b on ERM a's examples, black box mixup is mixup a on them.
-- Ratio: the paper's "mixup is N times more robust" is a ratio of top-1 accuracies under attack,
-- (100 - err_mixup) / (100 - err_ERM) (FGSM white box: 24.8 / 9.3 = 2.7); here per pair, then
-- mean +- sd.
-- Net of clean error: mixup - ERM of the increase (attacked - clean top-1 error) of the same
-- models, paired, shown beside each verdict without one of its own: where mixup's clean error
-- is lower (the reduced scales), its lower error under attack may be no more than that.
-- Verdicts (harness/lua/stats.lua, 95 % interval of mixup - ERM top-1 error over the pairs,
-- paired: each pair's models share a recipe and a test set), against the paper's sign: FGSM
-- white box, FGSM black box and I-FGSM black box (mixup lower). White-box I-FGSM ("neither is
-- robust": 99.9 against 99.6) is not a difference, so it is shown without a verdict.
-- Non-goals: running attacks (the task), Figure 2.

local stats = require "harness.lua.stats"
local adv = require "harness.lua.tasks.adversarial"

local M = {}

M.EXPERIMENT = "table5_adversarial"
M.TAG = "T5"
M.COMMAND = "make reproduce-table5"
M.PAPER_EPS = 4
M.SCALE_ORDER = {"paper", "cpu", "smoke", "test"}
M.ATTACKS = {"FGSM", "I-FGSM"}
-- rows of the paper's table: setting, metric, method, the curve prefix
M.ROWS = {
  {"white-box", "top1", "ERM", "white_erm"}, {"white-box", "top1", "mixup", "white_mixup"},
  {"white-box", "top5", "ERM", "white_erm"}, {"white-box", "top5", "mixup", "white_mixup"},
  {"black-box", "top1", "ERM", "black_erm_b"}, {"black-box", "top1", "mixup", "black_mixup"},
  {"black-box", "top5", "ERM", "black_erm_b"}, {"black-box", "top5", "mixup", "black_mixup"},
}
-- erm, mixup: the attacked models' curves; clean_erm, clean_mixup: the same models' clean ones
M.CLAIMS = {
  {attack = "FGSM", setting = "white-box", erm = "white_erm", mixup = "white_mixup",
   clean_erm = "clean_erm", clean_mixup = "clean_mixup"},
  {attack = "FGSM", setting = "black-box", erm = "black_erm_b", mixup = "black_mixup",
   clean_erm = "clean_erm_b", clean_mixup = "clean_mixup"},
  {attack = "I-FGSM", setting = "black-box", erm = "black_erm_b", mixup = "black_mixup",
   clean_erm = "clean_erm_b", clean_mixup = "clean_mixup"},
  {attack = "I-FGSM", setting = "white-box", erm = "white_erm", mixup = "white_mixup",
   clean_erm = "clean_erm", clean_mixup = "clean_mixup",
   no_verdict = "the paper's claim is that neither model is robust, not a difference"},
}

-- published[setting][metric][method][attack] = value
local function published_table(rows)
  local out = {}
  for _, r in ipairs(rows) do
    if r.tag == M.TAG then
      local setting = r.setting:match("setting=([%w-]+)")
      local attack = r.setting:match("attack=(I%-FGSM)") or r.setting:match("attack=(FGSM)")
      local metric = r.metric:match("^(top%d)")
      if setting and attack and metric then
        out[setting] = out[setting] or {}
        out[setting][metric] = out[setting][metric] or {}
        out[setting][metric][r.method] = out[setting][metric][r.method] or {}
        out[setting][metric][r.method][attack] = r.value
      end
    end
  end
  return out
end

local function rank(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return #list + 1
end

-- values over the evaluations of one (eps, attack) of a curve name
local function gather(evals, eps, iters_is_one, name)
  local v, seeds = {}, {}
  for _, e in ipairs(evals) do
    for u = 1, #e.curves.unit do
      if e.curves.eps[u] == eps and (e.curves.iters[u] == 1) == iters_is_one then
        v[#v + 1] = e.curves[name][u]
        seeds[#seeds + 1] = e.config.seed_a
      end
    end
  end
  return v, seeds
end

function M.collect(opts)
  opts = opts or {}
  local runs = adv.scan(opts.results or "results")
  local model = {published = published_table(opts.published or require "experiments.published"),
                 sections = {}}
  local by_scale, scales = {}, {}
  for _, e in ipairs(runs) do
    if e.experiment == M.EXPERIMENT then
      local s = e.provenance.scale
      if not by_scale[s] then
        by_scale[s] = {}
        scales[#scales + 1] = s
      end
      table.insert(by_scale[s], e)
    end
  end
  table.sort(scales, function(a, b) return rank(M.SCALE_ORDER, a) < rank(M.SCALE_ORDER, b) end)
  for _, scale in ipairs(scales) do
    local evals = by_scale[scale]
    table.sort(evals, function(a, b) return a.config.seed_a < b.config.seed_a end)
    local eps_list, seen = {}, {}
    for _, e in ipairs(evals) do
      for _, x in ipairs(e.curves.eps) do
        if not seen[x] then seen[x], eps_list[#eps_list + 1] = true, x end
      end
    end
    table.sort(eps_list)
    local sec = {scale = scale, n = #evals, eps = {}, evals = evals}
    for _, eps in ipairs(eps_list) do
      local at = {eps = eps, cells = {}, claims = {}, ratios = {}, clean = {}}
      for _, name in ipairs{"clean_erm_top1", "clean_erm_b_top1", "clean_mixup_top1"} do
        local v = gather(evals, eps, true, name)
        at.clean[name] = {stats.mean_sd(v)}
      end
      for _, attack in ipairs(M.ATTACKS) do
        local one = attack == "FGSM"
        for _, row in ipairs(M.ROWS) do
          local v = gather(evals, eps, one, row[4] .. "_" .. row[2])
          local mean, sd = stats.mean_sd(v)
          local key = table.concat({row[1], row[2], row[3], attack}, "/")
          at.cells[key] = {mean = mean, sd = sd, n = #v}
        end
      end
      for _, c in ipairs(M.CLAIMS) do
        local one = c.attack == "FGSM"
        local ve, seeds = gather(evals, eps, one, c.erm .. "_top1")
        local vm = gather(evals, eps, one, c.mixup .. "_top1")
        local p = model.published[c.setting] and model.published[c.setting].top1 or {}
        local pe = p.ERM and p.ERM[c.attack]
        local pm = p.mixup and p.mixup[c.attack]
        local claim = {attack = c.attack, setting = c.setting, no_verdict = c.no_verdict,
                       published = pe and pm and pm - pe or nil,
                       published_ratio = pe and pm and (100 - pm) / (100 - pe) or nil}
        if #ve > 0 then
          claim.d = stats.difference({values = vm, seeds = seeds}, {values = ve, seeds = seeds})
          local ce = gather(evals, eps, one, c.clean_erm .. "_top1")
          local cm = gather(evals, eps, one, c.clean_mixup .. "_top1")
          local ie, im = {}, {}
          for i = 1, #ve do ie[i], im[i] = ve[i] - ce[i], vm[i] - cm[i] end
          claim.d_net = stats.difference({values = im, seeds = seeds}, {values = ie, seeds = seeds})
          -- a triple whose ERM model has no accuracy left makes the ratio undefined
          local r, zero = {}, 0
          for i = 1, #ve do
            if ve[i] >= 100 then zero = zero + 1 else r[#r + 1] = (100 - vm[i]) / (100 - ve[i]) end
          end
          claim.ratio_undefined = zero > 0 and ("%d of %d"):format(zero, #ve) or nil
          if zero == 0 then claim.ratio, claim.ratio_sd = stats.mean_sd(r) end
          if not c.no_verdict and claim.published then
            claim.verdict = stats.verdict(claim.d, claim.published < 0 and -1 or 1)
          end
        end
        at.claims[#at.claims + 1] = claim
      end
      sec.eps[#sec.eps + 1] = at
    end
    model.sections[#model.sections + 1] = sec
  end
  return model
end

local function num(x) return x and ("%.1f"):format(x) or "\u{2013}" end

local function cell(c)
  if not c or not c.mean then return "\u{2013}" end
  return num(c.mean) .. (c.sd and " \u{b1} " .. num(c.sd) or "")
end

function M.render(model)
  local out = {"## Table 5: adversarial examples (% error)", ""}
  if #model.sections == 0 then
    out[#out + 1] = ("Not run yet (`%s`)."):format(M.COMMAND)
    out[#out + 1] = ""
    return table.concat(out, "\n")
  end
  out[#out + 1] = "White box: ERM model a and mixup model a each attack themselves; black box: "
                  .. "the examples made on ERM model a go to ERM model b and to mixup model a. "
                  .. "eps in 0-255 pixel units; I-FGSM takes equal steps of eps / iterations. "
                  .. "Cells: published / reproduced mean \u{b1} sd over the evaluated triples. "
                  .. "Ratio: top-1 accuracy of mixup over ERM's under attack (the paper's \"N "
                  .. "times more robust\"). Verdicts: 95 % interval of mixup \u{2212} ERM top-1 "
                  .. "error over the triples, paired, against the paper's sign. Net of clean "
                  .. "error: mixup \u{2212} ERM of each model's increase under attack (attacked "
                  .. "\u{2212} clean top-1 error), 95 % interval, no verdict: where mixup's "
                  .. "clean error is lower, its lower error under attack can be that alone."
  out[#out + 1] = ""
  for _, sec in ipairs(model.sections) do
    out[#out + 1] = ("### Scale `%s` (%d triple%s of models)"):format(sec.scale, sec.n,
                                                                    sec.n == 1 and "" or "s")
    out[#out + 1] = ""
    if sec.scale ~= "paper" then
      out[#out + 1] = "Reduced recipe (CIFAR-10 models standing for the paper's ImageNet "
                      .. "ResNet-101): magnitudes are not comparable; the ratios' side of 1 and "
                      .. "the verdicts are."
      out[#out + 1] = ""
    end
    for _, at in ipairs(sec.eps) do
      local pub_ok = at.eps == M.PAPER_EPS
      out[#out + 1] = ("#### eps = %g%s"):format(at.eps, pub_ok and " (the paper's)" or "")
      out[#out + 1] = ""
      out[#out + 1] = ("Clean top-1 error: ERM a %s, ERM b %s, mixup a %s."):format(
        cell{mean = at.clean.clean_erm_top1[1], sd = at.clean.clean_erm_top1[2]},
        cell{mean = at.clean.clean_erm_b_top1[1], sd = at.clean.clean_erm_b_top1[2]},
        cell{mean = at.clean.clean_mixup_top1[1], sd = at.clean.clean_mixup_top1[2]})
      out[#out + 1] = ""
      out[#out + 1] = "| setting | metric | method | FGSM | I-FGSM |"
      out[#out + 1] = "|---|---|---|---|---|"
      for _, row in ipairs(M.ROWS) do
        local p = model.published[row[1]] and model.published[row[1]][row[2]]
                  and model.published[row[1]][row[2]][row[3]] or {}
        local cols = {}
        for i, attack in ipairs(M.ATTACKS) do
          local c = at.cells[table.concat({row[1], row[2], row[3], attack}, "/")]
          cols[i] = (pub_ok and p[attack] and ("%.1f"):format(p[attack]) or "\u{2013}") .. " / "
                    .. cell(c)
        end
        out[#out + 1] = ("| %s | %s | %s | %s | %s |"):format(row[1], row[2]:gsub("top",
                        "top-"), row[3], cols[1], cols[2])
      end
      out[#out + 1] = ""
      out[#out + 1] = "| attack | setting | ratio (paper / here) | mixup \u{2212} ERM top-1, "
                      .. "paper | reproduced (95 % interval) | verdict | net of clean error |"
      out[#out + 1] = "|---|---|---|---|---|---|---|"
      for _, c in ipairs(at.claims) do
        local ratio = (pub_ok and c.published_ratio and ("%.2f"):format(c.published_ratio)
                       or "\u{2013}") .. " / " .. (c.ratio and ("%.2f"):format(c.ratio)
                       .. (c.ratio_sd and (" \u{b1} %.2f"):format(c.ratio_sd) or "")
                       or c.ratio_undefined and ("undefined (ERM accuracy 0 in %s "
                                                 .. "triples)"):format(c.ratio_undefined)
                       or "\u{2013}")
        local d = c.d and ("%s (%s, %d triples)"):format(stats.format(c.d),
                  c.d.method == "paired" and "paired t" or "Welch", c.d.n_a) or "\u{2013}"
        out[#out + 1] = ("| %s | %s | %s | %s | %s | %s | %s |"):format(c.attack, c.setting,
          ratio, c.published and ("%+.1f"):format(c.published) or "\u{2013}", d,
          c.verdict or (c.no_verdict and "no verdict: " .. c.no_verdict) or "\u{2013}",
          stats.format(c.d_net))
      end
      out[#out + 1] = ""
    end
  end
  return table.concat(out, "\n")
end

return M
