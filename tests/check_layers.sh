#!/bin/sh
# check_layers.sh: the dependency rule of harness/ (README "Layout"), checked on every include:
#   core <- {nn, data, io} <- {train, metrics} <- bind <- main.c
# A layer may include its own headers and those of the layers it is allowed (below); only bind/
# and main.c include Lua's headers, only io/ includes hdf5.h, only core/blas.c includes
# cblas.h, only train/dist.c mpi.h and only data/jpeg.c turbojpeg.h (STYLE.md section 1). One
# "ok LAYER" or "FAIL LAYER: file: include" line per layer, then "N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
allowed() {
    case $1 in
    core) echo "core" ;;
    nn | data | io) echo "core $1" ;;
    train) echo "core nn data io train" ;;
    metrics) echo "core nn data io metrics" ;;
    bind) echo "core nn data io train metrics bind" ;;
    main) echo "core nn data io train metrics bind" ;;
    esac
}
check() {
    layer=$1; shift
    bad=""
    for f in "$@"; do
        [ -f "$f" ] || continue
        for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
            dir=${inc%%/*}
            [ "$dir" = "$inc" ] && { bad="$bad $f:$inc(no-layer-path)"; continue; }
            case " $(allowed "$layer") " in *" $dir "*) ;; *) bad="$bad $f:$inc" ;; esac
        done
        sys=$(sed -n 's/^#include <\(lua\|lauxlib\|lualib\|hdf5\|cblas\|mpi\|turbojpeg\)[a-z_]*\.h>.*/\1/p' "$f")
        for s in $sys; do
            case "$layer:$s" in
            bind:lua* | bind:lauxlib | bind:lualib | main:lua* | main:lauxlib | main:lualib) ;;
            io:hdf5) ;;
            train:mpi) [ "$f" = harness/train/dist.c ] || bad="$bad $f:<mpi.h>" ;;
            data:turbojpeg) [ "$f" = harness/data/jpeg.c ] || bad="$bad $f:<turbojpeg.h>" ;;
            core:cblas) [ "$f" = harness/core/blas.c ] || bad="$bad $f:<cblas.h>" ;;
            *) bad="$bad $f:<$s.h>" ;;
            esac
        done
    done
    if [ -z "$bad" ]; then
        echo "ok $layer"
        pass=$((pass + 1))
    else
        echo "FAIL $layer:$bad"
        fail=$((fail + 1))
    fi
}
for layer in core nn data io train metrics bind; do
    check "$layer" harness/"$layer"/*.c harness/"$layer"/*.h
done
check main harness/main.c
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
