/*
 * test_h5_files.c: what the HDF5 results layer (harness/io/h5io_*.c) leaves on disk: commits
 * are atomic (no final file before h5io_commit, none after a failed write); truncated,
 * bit-flipped, garbage, empty and missing files give the documented messages without crashing
 * (the checksum block catches damage before HDF5 parses the file); files of foreign types are
 * refused; the same content gives the same bytes; h5dump reads what we write (skipped with a
 * message when h5dump is not installed). The round trips are test_h5.c's.
 *
 * Files go to a fresh mkdtemp directory under /tmp, removed at the end.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/h5io.h"
#include "testlib.h"

#define FORMAT_VERSION 3 /* any value >= 1; checked on read */
#define BIG_ROWS 512      /* 512 x 1024 floats = 2 MiB: over H5IO_AUTO_MIN_FLOATS and */
#define BIG_COLS 1024     /* two H5IO_CHUNK_BYTES chunks */

static char tdir[64];

/* Values with few significant bits, like trained weights' leading bits: compressible. */
static void fill_weights(float *p, size_t n, Rng *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((int)(rng_uniform(r) * 256.0) - 128) / 1024.0f;
}

/* Writes a file holding a compressible 2 MiB tensor and some attributes; returns its size. */
static long write_sample(const char *path, Err *e)
{
    H5Out f;
    Rng rng;
    rng_seed(&rng, tl_seed, 3);
    const int shape[2] = {BIG_ROWS, BIG_COLS};
    Tensor w = {0};
    if (tensor_alloc(&w, 2, shape, e))
        return -1;
    fill_weights(w.data, w.size, &rng);
    int rc = h5io_create(&f, path, FORMAT_VERSION, e);
    rc = rc ? rc : h5io_attr_str(&f, "", "run", "table2/preact18-mixup-s1", e);
    rc = rc ? rc : h5io_write_tensor(&f, "weights", &w, 0, e);
    rc = rc ? rc : h5io_attr_i64(&f, "weights", "epoch", 200, e);
    rc = rc ? rc : h5io_commit(&f, e);
    tensor_free(&w);
    return rc ? -1 : tl_file_size(path);
}

static int test_atomic_commit(void)
{
    char path[128], tmp[140];
    Err e;
    H5Out f;
    tl_path(path, sizeof path, tdir, "atomic.h5");
    snprintf(tmp, sizeof tmp, "%s%s", path, H5IO_TMP_SUFFIX);
    TL_OK(h5io_create(&f, path, 1, &e), e);
    TL_OK(h5io_attr_str(&f, "", "which", "first", &e), e);
    TL_CHECK(!tl_exists(path) && tl_exists(tmp), "before commit: final %d tmp %d", tl_exists(path),
             tl_exists(tmp));
    TL_OK(h5io_commit(&f, &e), e);
    TL_CHECK(tl_exists(path) && !tl_exists(tmp), "after commit: final %d tmp %d", tl_exists(path),
             tl_exists(tmp));
    /* a rewrite leaves the old file readable until its own commit */
    TL_OK(h5io_create(&f, path, 2, &e), e);
    TL_OK(h5io_attr_str(&f, "", "which", "second", &e), e);
    H5Out g;
    TL_OK(h5io_open(&g, path, &e), e);
    H5Value r;
    TL_OK(h5io_read_attr(&g, "", "which", &r, &e), e);
    int old = !strcmp(r.str[0], "first") && g.format_version == 1;
    h5io_value_free(&r);
    h5io_close(&g);
    TL_CHECK(old, "the committed file changed before the rewrite was committed");
    TL_OK(h5io_commit(&f, &e), e);
    TL_OK(h5io_open(&g, path, &e), e);
    TL_OK(h5io_read_attr(&g, "", "which", &r, &e), e);
    int now = !strcmp(r.str[0], "second") && g.format_version == 2;
    h5io_value_free(&r);
    h5io_close(&g);
    TL_CHECK(now, "the rewrite is not visible after its commit");
    unlink(path);
    return 0;
}

static int test_failed_write_leaves_nothing(void)
{
    char path[128], tmp[140];
    Err e;
    H5Out f;
    tl_path(path, sizeof path, tdir, "failed.h5");
    snprintf(tmp, sizeof tmp, "%s%s", path, H5IO_TMP_SUFFIX);
    const double x = 1.0;
    H5Value v = h5io_value_f64(&x, 1);
    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    TL_OK(h5io_write_array(&f, "loss", &v, &e), e);
    if (tl_expect_error("duplicate dataset", h5io_write_array(&f, "loss", &v, &e), &e,
                        "cannot create dataset 'loss'"))
        return 1;
    h5io_close(&f); /* the caller gives up */
    TL_CHECK(!tl_exists(path) && !tl_exists(tmp), "after a failed write: final %d tmp %d",
             tl_exists(path), tl_exists(tmp));
    /* no directory: nothing is created and the message names the path */
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.h5", tdir);
    if (tl_expect_error("missing directory", h5io_create(&f, nodir, FORMAT_VERSION, &e), &e,
                        "x.h5.tmp: No such file or directory"))
        return 1;
    TL_CHECK(!f.open, "file open after a failed create");
    return 0;
}

static int test_errors(void)
{
    char path[128];
    Err e;
    H5Out f;
    tl_path(path, sizeof path, tdir, "errors.h5");
    const int s[2] = {2, 3}, s2[2] = {3, 2};
    Tensor t = {0}, u = {0};
    TL_OK(tensor_alloc(&t, 2, s, &e), e);
    TL_OK(tensor_alloc(&u, 2, s2, &e), e);
    int rc = 0;
    rc |= tl_expect_error("format_version 0", h5io_create(&f, path, 0, &e), &e,
                          "format_version is 0, expected >= 1");
    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    rc |= tl_expect_error("bad deflate", h5io_write_tensor(&f, "w", &t, 12, &e), &e,
                          "deflate is 12, expected -1 (auto) or 0..9");
    H5Value v = h5io_value_f64(NULL, 0);
    v.kind = H5IO_STR;
    rc |= tl_expect_error("string dataset", h5io_write_array(&f, "s", &v, &e), &e,
                          "kind is str, expected f64, i64 or bytes");
    rc |= tl_expect_error("attribute on nothing", h5io_attr_i64(&f, "nope", "x", 1, &e), &e,
                          "no object 'nope' for attribute 'x'");
    TL_OK(h5io_write_tensor(&f, "w", &t, 0, &e), e);
    TL_OK(h5io_commit(&f, &e), e);
    rc |= tl_expect_error("write after commit", h5io_write_tensor(&f, "w2", &t, 0, &e), &e,
                          "h5io_write_tensor: file is not open");
    TL_OK(h5io_open(&f, path, &e), e);
    rc |= tl_expect_error("write to a file open for reading", h5io_attr_i64(&f, "", "x", 1, &e),
                          &e, "is open for reading");
    rc |= tl_expect_error("shape mismatch", h5io_read_tensor(&f, "w", &u, &e), &e,
                          "dataset 'w' has shape (2, 3), tensor has (3, 2)");
    H5Value r;
    rc |= tl_expect_error("tensor as array", h5io_read_array(&f, "w", &r, &e), &e,
                          "dataset 'w' is f32 of rank 2, expected 1-D f64, i64 or bytes");
    rc |= tl_expect_error("missing dataset", h5io_read_array(&f, "nope", &r, &e), &e,
                          "no dataset 'nope'");
    rc |= tl_expect_error("missing attribute", h5io_read_attr(&f, "", "nope", &r, &e), &e,
                          "no attribute 'nope' on '/'");
    h5io_close(&f);
    tensor_free(&t);
    tensor_free(&u);
    unlink(path);
    return rc;
}

static int test_truncated(void)
{
    char path[128], want[200];
    Err e;
    tl_path(path, sizeof path, tdir, "trunc.h5");
    long size = write_sample(path, &e);
    TL_CHECK(size > 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s: not a valid HDF5 file (truncated or corrupt); "
             "delete it to rerun", path);
    /* cut everywhere interesting: inside the signature, the superblock, the root's header,
     * at half and just short of the end */
    const long cuts[] = {0, 4, 8, 40, 100, 800, 2048, size / 2, size - 100, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        TL_OK(write_sample(path, &e) == size ? 0 : -1, e);
        TL_CHECK(truncate(path, cuts[k]) == 0, "truncate");
        H5Out f;
        char what[64];
        snprintf(what, sizeof what, "cut at %ld of %ld", cuts[k], size);
        if (tl_expect_error(what, h5io_open(&f, path, &e), &e, want))
            return 1;
        TL_CHECK(!f.open, "open after an error");
        if (tl_expect_error(what, h5io_is_complete(path, &e), &e, want))
            return 1;
    }
    unlink(path);
    return 0;
}

/* One damaged byte anywhere hashed (the checksum text, the superblock, data, the metadata at
 * the end) is caught before HDF5 reads the file. */
static int test_bit_flips(void)
{
    char path[128], want[200];
    Err e;
    tl_path(path, sizeof path, tdir, "flip.h5");
    long size = write_sample(path, &e);
    TL_CHECK(size > 0, "%s", e.msg);
    H5Out f;
    TL_OK(h5io_open(&f, path, &e), e);
    int verified = f.verified;
    h5io_close(&f);
    TL_CHECK(verified, "our own file did not verify");
    snprintf(want, sizeof want, "%s: not a valid HDF5 file (truncated or corrupt); "
             "delete it to rerun", path);
    const long at[] = {20, 30, H5IO_SUM_BLOCK + 8, size / 2, size - 1};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        TL_OK(write_sample(path, &e) == size ? 0 : -1, e);
        FILE *fp = fopen(path, "r+b");
        TL_CHECK(fp, "cannot open %s", path);
        fseek(fp, at[k], SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, at[k], SEEK_SET);
        fputc(c ^ 0x10, fp);
        fclose(fp);
        char what[64];
        snprintf(what, sizeof what, "byte %ld of %ld flipped", at[k], size);
        if (tl_expect_error(what, h5io_open(&f, path, &e), &e, want))
            return 1;
        if (tl_expect_error(what, h5io_is_complete(path, &e), &e, want))
            return 1;
    }
    unlink(path);
    return 0;
}

static int test_garbage_and_missing(void)
{
    char path[128], want[200];
    Err e;
    Rng rng;
    rng_seed(&rng, tl_seed, 4);
    tl_path(path, sizeof path, tdir, "garbage.h5");
    snprintf(want, sizeof want, "%s: not a valid HDF5 file (truncated or corrupt); "
             "delete it to rerun", path);
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (int k = 0; k < 2; k++) {
        FILE *fp = fopen(path, "wb");
        TL_CHECK(fp, "cannot write %s", path);
        unsigned char buf[4096];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)rng_below(&rng, 256);
        if (k == 1)
            memcpy(buf, sig, sizeof sig); /* a valid signature followed by garbage */
        fwrite(buf, 1, sizeof buf, fp);
        fclose(fp);
        H5Out f;
        if (tl_expect_error(k ? "signature + garbage" : "garbage", h5io_open(&f, path, &e), &e,
                            want))
            return 1;
    }
    unlink(path);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.h5", tdir);
    H5Out f;
    if (tl_expect_error("missing", h5io_open(&f, missing, &e), &e,
                        "missing.h5: No such file or directory"))
        return 1;
    if (tl_expect_error("missing", h5io_is_complete(missing, &e), &e, "No such file or directory"))
        return 1;
    /* a valid HDF5 file without format_version (not ours, or a foreign tool's) */
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    TL_CHECK(file >= 0, "H5Fcreate");
    H5Fclose(file);
    if (tl_expect_error("no format_version", h5io_is_complete(path, &e), &e,
                        "no format_version attribute at the root"))
        return 1;
    TL_OK(h5io_open(&f, path, &e), e); /* opens; the reader sees version 0, unverified */
       TL_CHECK(f.format_version == 0 && !f.verified, "format_version %" PRId64 ", verified %d",
             f.format_version, f.verified);
    h5io_close(&f);
    /* format_version but no checksum block: another writer's, or a damaged first line */
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file, H5IO_FORMAT_ATTR, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int64_t one = 1;
    H5Awrite(a, H5T_NATIVE_INT64, &one);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(file);
    if (tl_expect_error("no checksum block", h5io_is_complete(path, &e), &e,
                        "no checksum block (not written by h5io"))
        return 1;
    unlink(path);
    return 0;
}

/* Files from other writers: h5py's fixed-length strings (numpy.bytes_), big-endian int32, and
 * an attribute with a null dataspace. */
static int test_foreign_types(void)
{
    char path[128];
    Err e;
    tl_path(path, sizeof path, tdir, "foreign.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t st = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(st, 5);
    H5Tset_strpad(st, H5T_STR_NULLPAD);
    hid_t a = H5Acreate2(file, "fixed", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, st, "abcde");
    H5Aclose(a);
    int32_t i32 = -7;
    a = H5Acreate2(file, "i32", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT32, &i32);
    H5Aclose(a);
    H5Sclose(sp);
    sp = H5Screate(H5S_NULL); /* an attribute with no value at all */
    a = H5Acreate2(file, "null", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
    H5Fclose(file);
    H5Out f;
    TL_OK(h5io_open(&f, path, &e), e);
    H5Value r;
    TL_OK(h5io_read_attr(&f, "", "fixed", &r, &e), e);
    int ok = r.kind == H5IO_STR && !strcmp(r.str[0], "abcde");
    h5io_value_free(&r);
    TL_CHECK(ok, "fixed-length string");
    TL_OK(h5io_read_attr(&f, "", "null", &r, &e), e);
    ok = r.kind == H5IO_F64 && r.is_array && r.n == 0;
    h5io_value_free(&r);
    TL_CHECK(ok, "null dataspace");
    int64_t v;
    TL_OK(h5io_read_attr_i64(&f, "", "i32", &v, &e), e);
    TL_CHECK(v == -7, "i32 read as %" PRId64, v);
    h5io_close(&f);
    unlink(path);
    return 0;
}

/* Same content, same order: same bytes (no timestamps in object headers). */
static int test_reproducible_bytes(void)
{
    char p1[128], p2[128];
    Err e;
    tl_path(p1, sizeof p1, tdir, "same1.h5");
    tl_path(p2, sizeof p2, tdir, "same2.h5");
    long s1 = write_sample(p1, &e);
    TL_CHECK(s1 > 0, "%s", e.msg);
    sleep(1); /* a recorded timestamp would now differ */
    long s2 = write_sample(p2, &e);
    TL_CHECK(s2 == s1, "sizes %ld and %ld", s1, s2);
    FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
    int same = a && b;
    for (int c1 = 0, c2 = 0; same && c1 != EOF;) {
        c1 = fgetc(a);
        c2 = fgetc(b);
        same = c1 == c2;
    }
    if (a) fclose(a);
    if (b) fclose(b);
    unlink(p1);
    unlink(p2);
    TL_CHECK(same, "two writes of the same content differ");
    return 0;
}

static int test_h5dump_reads_it(void)
{
    if (system("command -v h5dump >/dev/null 2>&1") != 0) {
        return tl_skip("h5dump not installed (apt-get install hdf5-tools)");
    }
    char path[128], out[160], cmd[400];
    Err e;
    tl_path(path, sizeof path, tdir, "dump.h5");
    snprintf(out, sizeof out, "%s/dump.txt", tdir);
    H5Out f;
    const int64_t m[2] = {100, 150};
    const uint8_t state[4] = {0, 1, 2, 255};
    H5Value v = h5io_value_i64(m, 2);
    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    TL_OK(h5io_attr(&f, "", "milestones", &v, &e), e);
    TL_OK(h5io_attr_bool(&f, "", "nesterov", 1, &e), e);
    TL_OK(h5io_attr_str(&f, "", "net", "preact_resnet18", &e), e);
    v = h5io_value_bytes(state, 4);
    TL_OK(h5io_write_array(&f, "ckpt/rng", &v, &e), e);
    TL_OK(h5io_commit(&f, &e), e);
    snprintf(cmd, sizeof cmd, "h5dump '%s' > '%s' 2>&1", path, out);
    int rc = system(cmd);
    FILE *fp = fopen(out, "r");
    TL_CHECK(fp, "no h5dump output");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    TL_CHECK(rc == 0, "h5dump exited %d:\n%s", rc, text);
    static const char *const want[] = {"ATTRIBUTE \"format_version\"", "(0): 3", "100, 150",
                                       "(0): TRUE", "\"preact_resnet18\"", "DATASET \"rng\"",
                                       "0, 1, 2, 255"};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++)
        TL_CHECK(strstr(text, want[k]), "h5dump output lacks '%s':\n%s", want[k], text);
    unlink(out);
    unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (tl_tmpdir(tdir, sizeof tdir, "test_h5_files")) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    static const TestCase tests[] = {
        {"atomic_commit", test_atomic_commit},
        {"failed_write_leaves_nothing", test_failed_write_leaves_nothing},
        {"errors", test_errors},
        {"truncated", test_truncated},
        {"bit_flips", test_bit_flips},
        {"garbage_and_missing", test_garbage_and_missing},
        {"foreign_types", test_foreign_types},
        {"reproducible_bytes", test_reproducible_bytes},
        {"h5dump_reads_it", test_h5dump_reads_it},
    };
    int rc = tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    tl_tmpdir_remove(tdir);
    return rc;
}
