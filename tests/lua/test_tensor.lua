-- test_tensor.lua: engine.tensor: construction, indexing, conversions, views and their
-- lifetime, the fixture loader (check.fixture), and the error messages of bad arguments.
local tensor = require "engine.tensor"
local check = require "tests.lua.check"

local suite = check.suite(...)

suite:test("new_and_shape", function()
  local a = tensor.new{2, 3, 4, 5}
  local b = tensor.new(2, 3, 4, 5)
  check.eq(a:ndim(), 4, "ndim")
  check.eq(a:size(), 120, "size")
  check.eq(#b, 120, "#")
  check.eq(table.concat(b:shape(), ","), "2,3,4,5", "shape")
  check.eq(tostring(a), "Tensor(2, 3, 4, 5)", "tostring")
  check.eq(a:sum(), 0, "zero-filled")
  check.eq(a:is_view(), false, "owning")
  check.eq(tensor.new{0}:size(), 0, "empty tensor")
end)

suite:test("get_set_row_major", function()
  local t = tensor.new{2, 3}
  t:set(7.5, 2, 3)
  t:set(-1, 1, 2)
  check.eq(t:get(2, 3), 7.5, "get")
  local flat = t:to_table()
  check.eq(flat[6], 7.5, "last element is (2, 3)")
  check.eq(flat[2], -1, "(1, 2) is element 2")
  check.eq(t:sum(), 6.5, "sum")
end)

suite:test("bounds_and_arity", function()
  local t = tensor.new{2, 3}
  check.raises(function() t:get(3, 1) end, "get: index 1 is 3, expected 1 to 2", "row")
  check.raises(function() t:get(1, 0) end, "get: index 2 is 0, expected 1 to 3", "col 0")
  check.raises(function() t:set(1, 1) end, "set: 1 indices for a 2-dimensional tensor", "arity")
  check.raises(function() t:get(1, "x") end, "number expected", "type")
  check.raises(function() tensor.new{2, -1} end, "shape entry 2", "negative dim")
  check.raises(function() tensor.new{1, 2, 3, 4, 5} end, "expected 1 to 4", "5 dims")
  check.raises(function() tensor.new{2, "3"} end, "expected an integer", "string dim")
  check.raises(function() tensor.new{2.5} end, "expected an integer", "fractional dim")
end)

suite:test("fill_copy_clone", function()
  local a = tensor.new{2, 2}:fill(3)
  local b = tensor.new{4}
  b:copy(a)
  check.eq(b:sum(), 12, "copy across shapes of one size")
  local c = a:clone()
  a:fill(0)
  check.eq(c:sum(), 12, "clone is independent")
  check.raises(function() b:copy(tensor.new{3}) end, "copy: sizes differ", "copy size")
end)

suite:test("scale_axpy", function()
  local a = tensor.from_table({1, -2, 0.5}, {3})
  local b = tensor.from_table({4, 8, -1}, {3})
  check.eq(a:scale(2):to_table()[2], -4, "scale")
  a:axpy(0.25, b)
  local t = a:to_table()
  check.eq(t[1], 3, "axpy 1")
  check.eq(t[2], -2, "axpy 2")
  check.eq(t[3], 0.75, "axpy 3")
  check.raises(function() a:axpy(1, tensor.new{2}) end, "axpy: sizes differ", "axpy size")
end)

suite:test("string_round_trip", function()
  local a = tensor.from_table({1, -2.5, 3e-8, 1e30, 0, -0.0}, {2, 3})
  local s = a:data_string()
  check.eq(#s, 24, "4 bytes per float")
  local b = tensor.from_string(s, {3, 2})
  check.same_bits(a, b, "round trip")
  check.eq(string.unpack("<f", s, 5), -2.5, "little-endian float32")
  check.raises(function() tensor.from_string(s, {7}) end, "string has 24 bytes, shape needs 28",
               "size")
  check.raises(function() tensor.from_table({1, 2}, {3}) end, "table has 2 entries", "count")
  check.raises(function() tensor.from_table({1, "2"}, {2}) end, "entry 2 is string", "entry")
end)

suite:test("max_abs_diff", function()
  local a = tensor.from_table({1, 2, 3}, {3})
  local b = tensor.from_table({1, 2.5, 1}, {3})
  check.eq(a:max_abs_diff(b), 2, "max")
  local n = tensor.from_table({0 / 0, 0, 0}, {3})
  local d = a:max_abs_diff(n)
  check.truthy(d ~= d, "NaN propagates")
end)

suite:test("views", function()
  local a = tensor.from_table({0, 1, 2, 3, 4, 5, 6, 7}, {8})
  local v = a:view(2, {2, 3})
  check.eq(v:is_view(), true, "is_view")
  check.eq(v:get(1, 1), 2, "offset counts skipped elements")
  v:set(-9, 2, 3)
  check.eq(a:get(8), -9, "views share memory")
  local vv = v:view(3, {3})
  check.eq(vv:get(1), 5, "view of a view")
  check.raises(function() a:view(6, {3}) end, "view: 3 elements at offset 6 exceed", "range")
  check.raises(function() a:view(-1, {1}) end, "view:", "negative offset")
end)

suite:test("view_keeps_owner_alive", function()
  local v
  do
    local a = tensor.new{1000}:fill(4)
    v = a:view(10, {5})
  end
  collectgarbage()
  collectgarbage()
  check.eq(v:sum(), 20, "owner collected too early")
end)

suite:test("close_frees_and_views_notice", function()
  local v
  do
    local a <close> = tensor.new{10}:fill(1)
    v = a:view(0, {10})
    check.eq(v:sum(), 10, "open")
  end
  check.raises(function() v:sum() end, "tensor is a view of a closed tensor", "view of closed")
  local b = tensor.new{3}
  getmetatable(b).__close(b)
  check.raises(function() b:get(1) end, "tensor is closed", "closed")
  check.eq(tostring(b), "Tensor(closed)", "tostring of closed")
end)

suite:test("fixture_load", function()
  local fx, names = check.fixture("preact_input")
  check.eq(table.concat(names, ","), "x,t", "names in file order")
  check.eq(table.concat(fx.x:shape(), ","), "4,3,32,32", "x shape")
  check.eq(table.concat(fx.t:shape(), ","), "4,10", "t shape")
  check.near(fx.t:sum(), 4, 1e-6, "soft targets sum to 1 per row")
end)

suite:test("fixture_errors", function()
  check.raises(function() check.fixture("nonexistent") end,
               "fixture tests/fixtures/nonexistent.h5: No such file or directory (run the "
               .. "tests from the repository root; regenerate with `make fixtures`)", "missing")
end)

suite:finish()
