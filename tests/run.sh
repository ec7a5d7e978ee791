#!/bin/sh
# run.sh BUILD EXE: runs every C test binary and every Lua test, sums their closing
# "N passed, M failed[, K skipped]" lines and prints the total as "N passed, M failed, K skipped"
# after the list of skipped tests with their reasons (a skip is never counted as a pass).
# Exits non-zero on any failure, and counts a binary that crashed or printed no closing line as
# one failure.
build=$1
exe=$2
total_pass=0
total_fail=0
total_skip=0
log=$(mktemp)
skips=$(mktemp)
run_one() {
    name=$1; shift
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    grep -E '^skip ' "$log" | sed "s|^skip |skip $name: |" >>"$skips"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name: exited $rc without a closing line"
        total_fail=$((total_fail + 1))
        return
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -E -n 's/^[0-9]+ passed, [0-9]+ failed, ([0-9]+) skipped.*/\1/p')
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited $rc"
        total_fail=$((total_fail + 1))
    fi
}
echo "== tests/check_layers.sh"
run_one check_layers sh tests/check_layers.sh
for t in "$build"/tests/test_*; do
    case $t in *.o) continue;; esac
    [ -x "$t" ] || continue
    echo "== $(basename "$t")"
    run_one "$(basename "$t")" "$t"
done
for t in tests/lua/test_*.lua tests/e2e/test_*.lua; do
    [ -f "$t" ] || continue
    echo "== $t"
    run_one "$t" "./$exe" "$t"
done
echo
if [ -s "$skips" ]; then
    echo "Skipped (not counted as passed):"
    cat "$skips"
    echo
fi
rm -f "$log" "$skips"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
