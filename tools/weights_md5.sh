#!/bin/sh
# weights_md5.sh RESULTS_DIR: one line per results file (RESULTS_DIR/<experiment>/<run-id>.h5),
# sorted: the run id, then name=md5 (first 12 hex digits) of the values of each dataset under
# /weights, as h5dump prints them. Two trees that should hold the same trained bits (before and
# after a refactor, one worker against two) must give identical output:
#   sh tools/weights_md5.sh results_a > a.txt; sh tools/weights_md5.sh results_b | diff a.txt -
for f in "$1"/*/*.h5; do
    case $f in *.ckpt.h5) continue ;; esac
    [ -f "$f" ] || continue
    line=$(basename "$f")
    for d in $(h5ls "$f/weights" 2>/dev/null | awk '{print $1}'); do
        sum=$(h5dump -d "/weights/$d" -y -w 0 "$f" | sed -n '/DATA {/,/}/p' | md5sum | cut -c1-12)
        line="$line $d=$sum"
    done
    echo "$line"
done | sort
