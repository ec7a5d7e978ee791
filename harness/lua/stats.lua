-- stats.lua: the statistics behind every verdict of the report: a difference of means over
-- seeds with its 95 % confidence interval, and the verdict that interval gives against the
-- paper's claim. One module for every table (DEVELOPERS.md: "a verdict comes from the mean
-- difference over seeds and its 95 % interval, never from the sign of a mean alone").
--
--   stats.mean_sd(values)                -> mean, sample sd (nil when n < 2), n
--   stats.t_quantile(p, df)              -> q with P(T <= q) = p for Student's t with df > 0
--                                           degrees of freedom (df need not be an integer)
--   stats.difference(a, b)               -> d: mean(a) - mean(b) with its interval, where a and b
--                                           are {values = {...}, seeds = {...}} (seeds optional)
--   stats.verdict(d, claim_sign)         -> "reproduced" | "contradicted" | "inconclusive"
--
-- The interval. When a and b have the same seeds, n >= 2 of them, the runs are paired seed by
-- seed (a seed fixes the data order and the initialisation, which both methods share, so the
-- per-seed differences remove that variance): mean of d_i = a_i - b_i, se = sd(d) / sqrt(n),
-- df = n - 1 (paired t). Otherwise Welch's interval: se^2 = s_a^2/n_a + s_b^2/n_b, df from the
-- Welch-Satterthwaite equation. Both give mean +- t_{0.975, df} se. With fewer than two values
-- on a side (or two but no spread in the paired case, where se = 0 would claim certainty from
-- identical runs) there is no interval: lo and hi are nil and the verdict is "inconclusive".
--
-- The verdict. claim_sign is the sign of the published difference (-1: the paper's mixup has
-- lower error than ERM). "reproduced": the whole interval lies on the claim's side of zero;
-- "contradicted": the whole interval lies on the other side; "inconclusive": it contains zero,
-- or there is no interval. A published difference of exactly 0 claims no direction: the
-- verdict is then "inconclusive" too.
--
-- References: Welch (1947), Biometrika 34; the incomplete beta function by Lentz's continued
-- fraction and the Lanczos log-gamma as in Numerical Recipes, 3rd ed., sections 6.1 and 6.4.
-- Tested against printed t tables in tests/lua/test_stats.lua.

local M = {}

M.LEVEL = 0.95

-- {==================================================================================
-- Student's t
-- ===================================================================================

-- Lanczos approximation, g = 5, n = 6 (Numerical Recipes gammln): |error| < 2e-10 for x > 0.
local LANCZOS = {76.18009172947146, -86.50532032941677, 24.01409824083091,
                 -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5}

local function log_gamma(x)
  local y, tmp = x, x + 5.5
  tmp = tmp - (x + 0.5) * math.log(tmp)
  local ser = 1.000000000190015
  for _, c in ipairs(LANCZOS) do
    y = y + 1
    ser = ser + c / y
  end
  return -tmp + math.log(2.5066282746310005 * ser / x)
end

-- Continued fraction of the incomplete beta function (modified Lentz).
local CF_EPS, CF_TINY, CF_MAX = 1e-15, 1e-300, 1000

local function beta_cf(a, b, x)
  local qab, qap, qam = a + b, a + 1, a - 1
  local c, d = 1, 1 - qab * x / qap
  if math.abs(d) < CF_TINY then d = CF_TINY end
  d = 1 / d
  local h = d
  for m = 1, CF_MAX do
    local m2 = 2 * m
    local aa = m * (b - m) * x / ((qam + m2) * (a + m2))
    d = 1 + aa * d
    if math.abs(d) < CF_TINY then d = CF_TINY end
    c = 1 + aa / c
    if math.abs(c) < CF_TINY then c = CF_TINY end
    d = 1 / d
    h = h * d * c
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
    d = 1 + aa * d
    if math.abs(d) < CF_TINY then d = CF_TINY end
    c = 1 + aa / c
    if math.abs(c) < CF_TINY then c = CF_TINY end
    d = 1 / d
    local del = d * c
    h = h * del
    if math.abs(del - 1) < CF_EPS then return h end
  end
  return h
end

-- Regularised incomplete beta I_x(a, b), 0 <= x <= 1.
local function inc_beta(a, b, x)
  if x <= 0 then return 0 end
  if x >= 1 then return 1 end
  local lbt = log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * math.log(x)
              + b * math.log(1 - x)
  if x < (a + 1) / (a + b + 2) then
    return math.exp(lbt) * beta_cf(a, b, x) / a
  end
  return 1 - math.exp(lbt) * beta_cf(b, a, 1 - x) / b
end

-- P(T <= t) for Student's t with df degrees of freedom.
function M.t_cdf(t, df)
  local tail = 0.5 * inc_beta(df / 2, 0.5, df / (df + t * t)) -- P(T > |t|)
  return t >= 0 and 1 - tail or tail
end

-- The quantile by bisection on the monotone CDF: 200 halvings of [-1e6, 1e6] reach the
-- resolution of a double, far below the 4 decimals a t table prints.
function M.t_quantile(p, df)
  assert(p > 0 and p < 1, "t_quantile: p must lie in (0, 1)")
  assert(df > 0, "t_quantile: df must be > 0")
  local lo, hi = -1e6, 1e6
  for _ = 1, 200 do
    local mid = 0.5 * (lo + hi)
    if M.t_cdf(mid, df) < p then lo = mid else hi = mid end
    if hi - lo <= 1e-12 * math.max(1, math.abs(mid)) then break end
  end
  return 0.5 * (lo + hi)
end

-- }==================================================================================

-- {==================================================================================
-- Differences over seeds and verdicts
-- ===================================================================================

function M.mean_sd(values)
  local n = #values
  if n == 0 then return nil, nil, 0 end
  local sum = 0.0
  for _, v in ipairs(values) do sum = sum + v end
  local mean = sum / n
  if n == 1 then return mean, nil, 1 end
  local ss = 0.0
  for _, v in ipairs(values) do ss = ss + (v - mean) ^ 2 end
  return mean, math.sqrt(ss / (n - 1)), n
end

-- The per-seed differences when a and b hold exactly the same seeds (each once), else nil.
local function paired_differences(a, b)
  if not a.seeds or not b.seeds or #a.seeds ~= #a.values or #b.seeds ~= #b.values
     or #a.values ~= #b.values then
    return nil
  end
  local index = {}
  for i, s in ipairs(b.seeds) do
    if index[s] then return nil end
    index[s] = i
  end
  local d = {}
  for i, s in ipairs(a.seeds) do
    local j = index[s]
    if not j then return nil end
    index[s] = nil
    d[#d + 1] = a.values[i] - b.values[j]
  end
  return d
end

-- d = {mean, lo, hi, se, df, method = "paired" | "welch", n_a, n_b, level}
function M.difference(a, b)
  local d = {n_a = #a.values, n_b = #b.values, level = M.LEVEL}
  local q = 1 - (1 - M.LEVEL) / 2
  local diffs = paired_differences(a, b)
  if diffs and #diffs >= 2 then
    local mean, sd, n = M.mean_sd(diffs)
    d.method, d.mean, d.df = "paired", mean, n - 1
    if sd > 0 then d.se = sd / math.sqrt(n) end
  else
    local ma, sa, na = M.mean_sd(a.values)
    local mb, sb, nb = M.mean_sd(b.values)
    d.method = "welch"
    if ma and mb then d.mean = ma - mb end
    if sa and sb then
      local va, vb = sa * sa / na, sb * sb / nb
      local se2 = va + vb
      if se2 > 0 then
        d.se = math.sqrt(se2)
        d.df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1))
      end
    end
  end
  if d.se then
    local half = M.t_quantile(q, d.df) * d.se
    d.lo, d.hi = d.mean - half, d.mean + half
  end
  return d
end

function M.verdict(d, claim_sign)
  if not d or not d.lo or claim_sign == 0 then return "inconclusive" end
  local side = claim_sign < 0 and -1 or 1
  if side * d.lo > 0 and side * d.hi > 0 then return "reproduced" end
  if side * d.lo < 0 and side * d.hi < 0 then return "contradicted" end
  return "inconclusive"
end

-- "-1.23 [-2.01, -0.45]" (paired t, 3 seeds) for reports.
function M.format(d, digits)
  local f = "%+." .. (digits or 2) .. "f"
  if not d or not d.mean then return "\u{2013}" end
  if not d.lo then return f:format(d.mean) .. " (no interval)" end
  return (f .. " [" .. f .. ", " .. f .. "]"):format(d.mean, d.lo, d.hi)
end

-- }==================================================================================

return M
