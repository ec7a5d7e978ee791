/*
 * dist.c: the world of processes (see dist.h): MPI_COMM_WORLD, float32 sums, a barrier.
 * Non-goals: other communicators, non-blocking or bucketed all-reduce (on one host the
 * data-parallel step's all-reduce is 0.4 ms of a 221 ms step: README "Beyond one process"),
 * any collective Lua does not need yet.
 */
#include "train/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef MIXUP_MPI
#include <mpi.h>
#endif

static int g_rank, g_size = 1, g_ready;

int dist_built(void)
{
#ifdef MIXUP_MPI
    return 1;
#else
    return 0;
#endif
}

int dist_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }

#ifdef MIXUP_MPI
static int mpi_fail(Err *err, const char *call, int rc)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        strcpy(msg, "unknown MPI error");
    return err_set(err, "dist: %s failed: %s", call, msg);
}

static void finalize(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
}
#endif

int dist_init(Err *err)
{
    if (g_ready || !dist_launched())
        return 0;
    g_ready = 1;
#ifdef MIXUP_MPI
    int provided = 0, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, "MPI_Init_thread", rc);
    atexit(finalize);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
#else
    (void)err;
#endif
    return 0;
}

int dist_allreduce_sum(float *x, size_t n, Err *err)
{
    if (g_size == 1)
        return 0;
#ifdef MIXUP_MPI
    /* MPI counts are ints: sum in chunks below INT_MAX elements */
    for (size_t off = 0; off < n; off += (size_t)INT_MAX) {
        int cnt = n - off > (size_t)INT_MAX ? INT_MAX : (int)(n - off);
        int rc = MPI_Allreduce(MPI_IN_PLACE, x + off, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, "MPI_Allreduce", rc);
    }
    return 0;
#else
    (void)x;
    (void)n;
    return err_set(err, "dist: a world of %d without MPI", g_size);
#endif
}

int dist_barrier(Err *err)
{
    if (g_size == 1)
        return 0;
#ifdef MIXUP_MPI
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, "MPI_Barrier", rc);
#else
    return err_set(err, "dist: a world of %d without MPI", g_size);
#endif
}

void dist_abort(int code)
{
    if (g_size == 1)
        return;
#ifdef MIXUP_MPI
    MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
}
