#!/bin/sh
# cc-test.sh NAME [SRC...]: builds build/solo/NAME from tests/NAME.c, tests/engine/testlib.c, the core
# engine (tensor, rng, blas, net) and the given extra sources, with the Makefile's flags. For
# working on one layer while other files are being edited; `make test` is the real build.
set -e
name=$1; shift
cflags=$(make -s print-flags | sed -n 's/^CFLAGS=//p')
ldlibs=$(make -s print-flags | sed -n 's/^LDLIBS=//p')
mkdir -p build/solo
# shellcheck disable=SC2086
gcc $cflags -Iharness tests/engine/$name.c tests/engine/testlib.c harness/core/tensor.c harness/core/rng.c \
    harness/core/blas.c harness/nn/net.c "$@" -o build/solo/$name $ldlibs
echo "built build/solo/$name"
