#!/bin/sh
# bench_dp.sh EXE: `make bench-mpi`. Data-parallel training (issue 16) on this machine: the
# Table 2 cpu recipes of PreAct ResNet-18 and WRN (batch norm in groups of 64) as one process
# of 2 threads and as 2 MPI ranks of 1 thread (`--data-parallel`), training images per second
# and the all-reduce time per step; then the all-reduce alone of ResNet-50's gradient
# (25,557,032 floats, 97.5 MiB) and of PreAct ResNet-18 width 16's (700,794 floats, 2.7 MiB)
# over 2 ranks. tools/bench_dp.lua says what each figure is. Not a test.
exe=${1:-./mixup}
case "$exe" in */*) ;; *) exe=./$exe ;; esac
command -v mpirun > /dev/null 2>&1 || { echo "bench-mpi: mpirun not found (make setup installs openmpi-bin)"; exit 1; }
mpirun="mpirun -np 2"
[ "$(id -u)" = 0 ] && mpirun="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 $mpirun"
for net in preact_resnet18 wrn28_10; do
    "$exe" --threads 2 tools/bench_dp.lua $net 3 | tail -1 || exit 1
    $mpirun "$exe" --threads 1 tools/bench_dp.lua $net 3 | tail -1 || exit 1
done
$mpirun "$exe" --threads 1 tools/bench_dp.lua allreduce 97.49 || exit 1
$mpirun "$exe" --threads 1 tools/bench_dp.lua allreduce 2.673 || exit 1
