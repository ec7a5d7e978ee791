/*
 * dist.h: the world of processes one job runs on (issue 16), MPI underneath. dist.c is the
 * only file of the engine that includes mpi.h (STYLE.md section 1), and only in a build with
 * MIXUP_MPI (`make MPI=1`, the default where OpenMPI's development files are installed);
 * without it every function describes a world of one process.
 *
 * A process is part of a world when an MPI launcher (mpirun, srun) started it: its
 * environment names one (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK). MPI is initialised on
 * the first dist_init (MPI_THREAD_FUNNELED: only the main thread calls MPI; the engine's
 * OpenMP threads never do) and finalised at exit; a plain `./mixup` never initialises it.
 * Errors return (MPI_ERRORS_RETURN on the world) with MPI's message in err.
 */
#ifndef DIST_H
#define DIST_H

#include <stddef.h>

#include "core/tensor.h"

int dist_built(void);    /* 1 when this binary links MPI */
int dist_launched(void); /* 1 when a launcher's environment names a world */
/* Initialises MPI once when built and launched; later calls return at once. */
int dist_init(Err *err);
int dist_rank(void);     /* 0 before dist_init or outside a world */
int dist_size(void);     /* 1 before dist_init or outside a world */
/* x[0..n) <- the element-wise sum over the world's ranks, in place (a no-op for one). */
int dist_allreduce_sum(float *x, size_t n, Err *err);
int dist_barrier(Err *err);
/* Ends every process of the world (MPI_Abort with `code`) when it has more than one; returns
 * otherwise, leaving the caller to end its own process. For the application (a failed
 * data-parallel run leaves the other ranks waiting in a collective), never for the library. */
void dist_abort(int code);

#endif
