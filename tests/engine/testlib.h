/*
 * testlib.h: the small test framework of the C tests, fixtures reader and the generic
 * finite-difference checker for modules.
 *
 * A test file defines `static int test_x(void)` functions (0 = pass) and ends with
 *     int main(int argc, char **argv) {
 *         static const TestCase tests[] = {{"x", test_x}, ...};
 *         return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
 *     }
 * tl_main prints "ok name" / "FAIL name: reason" / "skip name: reason", then "N passed, M
 * failed, K skipped", and returns non-zero on any failure; a test that cannot run here (an
 * optional tool or data set absent) returns tl_skip("why; how to get it"), never 0. `--seed S`
 * sets tl_seed (printed in every run), `name` filters; a filter that selects no test fails.
 *
 * Tolerances are relative: max|got - want| / max(max|want|, floor) <= rtol, with floor 1e-6
 * so an all-zero reference is compared absolutely at that scale. Each call site names its
 * tolerance with a one-line reason.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "nn/module.h"
#include "nn/net.h"
#include "core/rng.h"
#include "core/tensor.h"

typedef struct TestCase {
    const char *name;
    int (*fn)(void);
} TestCase;

extern uint64_t tl_seed;

int tl_main(int argc, char **argv, const TestCase *tests, size_t n);
/* Records why the running test cannot run here; returns TL_SKIPPED for
 * `return tl_skip(...)`, counted as a skip, never as a pass. */
#define TL_SKIPPED 77
int tl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records a failure reason for the running test; returns 1 so `return tl_fail(...)` works. */
int tl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Relative max-error comparison; prints the first mismatches and the max error on failure.
 * Returns 0 when close. */
int tl_close(const char *what, const float *got, const float *want, size_t n, double rtol);
int tl_close_d(const char *what, const double *got, const double *want, size_t n, double rtol);
/* Error paths: passes (returns 0) when the call failed (`failed` non-zero: rc != 0, or a NULL
 * result) and err->msg contains want; otherwise records a failure naming `what`, the message
 * and want, and returns 1. The one helper of every test's error cases. */
int tl_expect_error(const char *what, int failed, const Err *err, const char *want);
/* Temporary folders: tl_tmpdir makes a fresh /tmp/<name>.XXXXXX, writes its path into dir
 * (len >= 64) and returns 0, or records a failure and returns 1; tl_tmpdir_remove removes it
 * with everything in it. tl_path writes "<dir>/<name>" into buf and returns buf. */
int tl_tmpdir(char *dir, size_t len, const char *name);
void tl_tmpdir_remove(const char *dir);
const char *tl_path(char *buf, size_t len, const char *dir, const char *name);
/* A file's size in bytes; -1 when it does not exist. tl_exists: 1 when path names anything. */
long tl_file_size(const char *path);
int tl_exists(const char *path);
/* Early returns for tests: TL_CHECK(cond, fmt, ...) fails with the message when cond is false;
 * TL_OK(call, err) fails with the call's text and err.msg when call returns non-zero. */
#define TL_CHECK(cond, ...)                                                                     \
    do {                                                                                        \
        if (!(cond))                                                                            \
            return tl_fail(__VA_ARGS__);                                                        \
    } while (0)
#define TL_OK(call, e)                                                                          \
    do {                                                                                        \
        if ((call) != 0)                                                                        \
            return tl_fail("%s: %s", #call, (e).msg);                                           \
    } while (0)
/* The message half of tl_expect_error, for tests that checked the failure themselves. */
int tl_expect_msg(const char *what, const char *msg, const char *want);
/* Fills with uniform values in [lo, hi). */
void tl_fill_uniform(float *p, size_t n, float lo, float hi, Rng *r);
/* Fills with values whose magnitude is in [lo, hi) and random sign (keeps away from 0). */
void tl_fill_away_from_zero(float *p, size_t n, float lo, float hi, Rng *r);

/* ---- fixtures: tests/fixtures/<name>.h5, written by tests/fixtures/fixture.py ----
 * HDF5 read through io/h5io.h: root attributes format_version (FIXTURE_FORMAT_VERSION) and
 * entries (the entry names in the generator's order), one float32 dataset per entry. */
#define FIXTURE_FORMAT_VERSION 1

typedef struct FixtureEntry {
    char name[128];
    Tensor t;
} FixtureEntry;

typedef struct Fixture {
    FixtureEntry *e; /* in the file's entries order */
    int n;
} Fixture;

/* Loads tests/fixtures/<name>.h5 (relative to the repository root): every entry. A missing
 * or malformed file gives one line naming the file and the fix (`make fixtures`). */
int fixture_load(Fixture *f, const char *name, Err *err);
/* Entry by name, or NULL (and a message naming the file's entries' count). */
const Tensor *fixture_get(const Fixture *f, const char *name);
void fixture_free(Fixture *f);

/* ---- finite differences ----
 * Builds a Net around module m (taking ownership) for input shape (n, in) and checks the
 * backward pass against central differences of L = <y, R> (accumulated in double) with a
 * fixed random R: dx on up to max_checks input entries and dw on up to max_checks parameters,
 * sampled with the test seed. x is filled by the caller-supplied filler (or uniform [-1,1)).
 * eps: perturbation; rtol: relative tolerance. train selects the mode. Returns 0 on pass. */
typedef struct FdOptions {
    int n;              /* batch */
    Shape in;
    int train;
    double eps;         /* e.g. 1e-2 for float32 layers */
    double rtol;
    int max_checks;     /* entries checked per tensor (0 = all) */
    void (*fill_x)(float *x, size_t n, Rng *r);   /* optional */
    void (*fill_w)(float *w, size_t n, Rng *r);   /* optional; default: keep init */
} FdOptions;

int tl_fd_check(const char *what, Module *m, const FdOptions *o);

#endif
