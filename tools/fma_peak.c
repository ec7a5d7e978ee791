/*
 * fma_peak.c: the FP32 fused-multiply-add ceiling of this machine, for `make bench` (issue
 * 17): every thread runs ACC independent vector FMA chains (acc = acc * a + b) for ITERS
 * rounds, which keeps the FMA units busy without touching memory. Prints
 *   fma_peak gflops=<f> threads=<n> width=<floats per vector>
 * with 2 flops per lane per FMA. The vector width is the widest the compiler targets
 * (-march=native: 16 floats with AVX-512, 8 with AVX2); usage: fma_peak THREADS.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACC 16          /* independent chains (c0..c15): latency 4 x 2 ports, with room */
#define ITERS 100000000L /* rounds per thread: about a second at 2 FMAs a cycle */
#if defined(__AVX512F__)
#define LANES 16
#elif defined(__AVX2__) || defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif

typedef float vec __attribute__((vector_size(LANES * sizeof(float))));

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1) {
        fprintf(stderr, "usage: fma_peak THREADS\n");
        return 2;
    }
    float sink = 0.0f;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
        vec a, b;
        for (int i = 0; i < LANES; i++) {
            a[i] = 0.999999f;
            b[i] = 1e-7f * (float)(omp_get_thread_num() + 1);
        }
        /* named registers, not an array, so that the compiler keeps all chains in registers */
        vec c0 = b, c1 = b * 2, c2 = b * 3, c3 = b * 4, c4 = b * 5, c5 = b * 6, c6 = b * 7,
            c7 = b * 8, c8 = b * 9, c9 = b * 10, c10 = b * 11, c11 = b * 12, c12 = b * 13,
            c13 = b * 14, c14 = b * 15, c15 = b * 16;
        for (long it = 0; it < ITERS; it++) {
            c0 = c0 * a + b, c1 = c1 * a + b, c2 = c2 * a + b, c3 = c3 * a + b;
            c4 = c4 * a + b, c5 = c5 * a + b, c6 = c6 * a + b, c7 = c7 * a + b;
            c8 = c8 * a + b, c9 = c9 * a + b, c10 = c10 * a + b, c11 = c11 * a + b;
            c12 = c12 * a + b, c13 = c13 * a + b, c14 = c14 * a + b, c15 = c15 * a + b;
        }
        vec t = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11 + c12 + c13 +
                c14 + c15;
        for (int i = 0; i < LANES; i++)
            sink += t[i];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    double flops = 2.0 * LANES * ACC * (double)ITERS * threads;
    printf("fma_peak gflops=%.1f threads=%d width=%d (sink %g)\n", flops / s / 1e9, threads,
           LANES, (double)sink);
    return 0;
}
