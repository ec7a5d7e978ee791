/*
 * test_h5.c: the HDF5 results layer (harness/io/h5io_*.c). Every kind is written, read back and
 * compared exactly (storage is lossless, so there is no tolerance anywhere in this file);
 * commits are atomic (no final file before h5io_commit, none after a failed write); truncated,
 * bit-flipped, garbage, empty and missing files give the documented messages without crashing
 * (the checksum block catches damage before HDF5 parses the file); h5dump reads what we write
 * (skipped with a message when h5dump is not installed).
 *
 * Files go to a fresh mkdtemp directory under /tmp, removed at the end.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/h5io.h"
#include "testlib.h"

#define FORMAT_VERSION 3 /* any value >= 1; checked on read */
#define BIG_ROWS 512      /* 512 x 1024 floats = 2 MiB: over H5IO_AUTO_MIN_FLOATS and */
#define BIG_COLS 1024     /* two H5IO_CHUNK_BYTES chunks */

static char tdir[64];

static const char *tpath(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tdir, name);
    return buf;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (!(cond))                                                                            \
            return tl_fail(__VA_ARGS__);                                                        \
    } while (0)
#define OK(call, e)                                                                             \
    do {                                                                                        \
        if ((call) != 0)                                                                        \
            return tl_fail("%s: %s", #call, (e).msg);                                           \
    } while (0)

static int tensor_new_filled(Tensor *t, int ndim, const int *shape, Rng *r)
{
    Err e;
    memset(t, 0, sizeof *t);
    if (tensor_alloc(t, ndim, shape, &e))
        return tl_fail("%s", e.msg);
    tl_fill_uniform(t->data, t->size, -3.0f, 3.0f, r);
    return 0;
}

/* Finds name in a listing; NULL when absent. */
static const H5Entry *find(const H5List *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].name, name))
            return &l->e[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */

static const char *const STRS[] = {"", "ascii", "utf-8: \xce\xbb = 0.5, \xe2\x80\x94 ok",
                                   "a longer string with spaces and \"quotes\"\nand a newline"};
#define NSTRS (sizeof STRS / sizeof STRS[0])

static int test_attrs_round_trip(void)
{
    char path[128];
    Err e;
    H5Out f;
    tpath(path, sizeof path, "attrs.h5");
    const double f64s[] = {0.1, -0.0, 1e-310, 1.7976931348623157e308, -INFINITY, NAN, 3.0};
    const int64_t i64s[] = {INT64_MIN, -1, 0, 1, INT64_MAX, 164};
    const uint8_t bools[] = {1, 0, 0, 1};
    const size_t nf = sizeof f64s / sizeof *f64s, ni = sizeof i64s / sizeof *i64s;
    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    OK(h5io_group(&f, "config", &e), e);
    OK(h5io_attr_i64(&f, "", "seed", INT64_MAX, &e), e);
    OK(h5io_attr_f64(&f, "/", "lr", 0.1, &e), e);
    OK(h5io_attr_str(&f, "config", "net", STRS[2], &e), e);
    OK(h5io_attr_str(&f, "config", "empty", "", &e), e);
    OK(h5io_attr_bool(&f, "config", "nesterov", 0, &e), e);
    OK(h5io_attr_bool(&f, "config", "mixup", 7, &e), e); /* any non-zero is TRUE */
    H5Value v = h5io_value_f64(f64s, nf);
    OK(h5io_attr(&f, "config", "f64s", &v, &e), e);
    v = h5io_value_i64(i64s, ni);
    OK(h5io_attr(&f, "config", "milestones", &v, &e), e);
    v = h5io_value_str(STRS, NSTRS);
    OK(h5io_attr(&f, "config", "strs", &v, &e), e);
    v = h5io_value_bool(bools, 4);
    OK(h5io_attr(&f, "config", "bools", &v, &e), e);
    v = h5io_value_i64(NULL, 0);
    OK(h5io_attr(&f, "config", "empty_i64", &v, &e), e);
    v = h5io_value_str(NULL, 0);
    OK(h5io_attr(&f, "config", "empty_strs", &v, &e), e);
    /* attributes on a dataset too */
    const double one = 1.0;
    v = h5io_value_f64(&one, 1);
    OK(h5io_write_array(&f, "config/x", &v, &e), e);
    OK(h5io_attr_str(&f, "config/x", "unit", "seconds", &e), e);
    OK(h5io_commit(&f, &e), e);

    OK(h5io_open(&f, path, &e), e);
    CHECK(f.format_version == FORMAT_VERSION, "format_version %" PRId64, f.format_version);
    int64_t i;
    OK(h5io_read_attr_i64(&f, "", "seed", &i, &e), e);
    CHECK(i == INT64_MAX, "seed %" PRId64, i);
    H5Value r;
    OK(h5io_read_attr(&f, "", "lr", &r, &e), e);
    CHECK(r.kind == H5IO_F64 && !r.is_array && r.n == 1 && r.f64[0] == 0.1, "lr");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "net", &r, &e), e);
    CHECK(r.kind == H5IO_STR && !r.is_array && !strcmp(r.str[0], STRS[2]), "net");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "empty", &r, &e), e);
    CHECK(r.kind == H5IO_STR && !strcmp(r.str[0], ""), "empty string");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "nesterov", &r, &e), e);
    CHECK(r.kind == H5IO_BOOL && !r.is_array && r.u8[0] == 0, "nesterov");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "mixup", &r, &e), e);
    CHECK(r.kind == H5IO_BOOL && r.u8[0] == 1, "mixup");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "f64s", &r, &e), e);
    /* bitwise, so -0.0 and NaN count */
    CHECK(r.kind == H5IO_F64 && r.is_array && r.n == nf && !memcmp(r.f64, f64s, sizeof f64s),
          "f64s differ");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "milestones", &r, &e), e);
    CHECK(r.kind == H5IO_I64 && r.n == ni && !memcmp(r.i64, i64s, sizeof i64s), "i64s");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "strs", &r, &e), e);
    CHECK(r.kind == H5IO_STR && r.is_array && r.n == NSTRS, "strs kind");
    for (size_t k = 0; k < NSTRS; k++)
        CHECK(!strcmp(r.str[k], STRS[k]), "strs[%zu] '%s'", k, r.str[k]);
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "bools", &r, &e), e);
    CHECK(r.kind == H5IO_BOOL && r.n == 4 && !memcmp(r.u8, bools, 4), "bools");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "empty_i64", &r, &e), e);
    CHECK(r.kind == H5IO_I64 && r.is_array && r.n == 0, "empty_i64");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config", "empty_strs", &r, &e), e);
    CHECK(r.kind == H5IO_STR && r.is_array && r.n == 0, "empty_strs");
    h5io_value_free(&r);
    OK(h5io_read_attr(&f, "config/x", "unit", &r, &e), e);
    CHECK(!strcmp(r.str[0], "seconds"), "dataset attribute");
    h5io_value_free(&r);

    H5List l;
    OK(h5io_list_attrs(&f, "config", &l, &e), e);
    static const char *const names[] = {"bools", "empty", "empty_i64", "empty_strs", "f64s",
                                        "milestones", "mixup", "nesterov", "net", "strs"};
    static const H5Kind kinds[] = {H5IO_BOOL, H5IO_STR, H5IO_I64, H5IO_STR, H5IO_F64,
                                   H5IO_I64, H5IO_BOOL, H5IO_BOOL, H5IO_STR, H5IO_STR};
    static const int ndims[] = {1, 0, 1, 1, 1, 1, 0, 0, 0, 1};
    int n = l.n;
    for (int k = 0; k < n && k < 10; k++)
        if (strcmp(l.e[k].name, names[k]) || l.e[k].kind != kinds[k] || l.e[k].ndim != ndims[k])
            n = -1 - k;
    h5io_list_free(&l);
    CHECK(n == 10, "list_attrs: %d (negative: first bad entry)", n);
    OK(h5io_list_attrs(&f, "", &l, &e), e);
    n = l.n;
    int root_ok = n == 3 && !strcmp(l.e[0].name, H5IO_FORMAT_ATTR) &&
                  !strcmp(l.e[1].name, "lr") && !strcmp(l.e[2].name, "seed");
    h5io_list_free(&l);
    CHECK(root_ok, "root attributes: %d entries", n);
    h5io_close(&f);

    /* h5py's bool convention, checked on the stored type: int8 enum, FALSE = 0, TRUE = 1 */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen_by_name(file, "config", "mixup", H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), base = H5Tget_super(t);
    int8_t no = -1, yes = -1, raw = -1;
    int is_enum = H5Tget_class(t) == H5T_ENUM && H5Tget_size(base) == 1 &&
                  H5Tget_sign(base) == H5T_SGN_2;
    H5Tenum_valueof(t, "FALSE", &no);
    H5Tenum_valueof(t, "TRUE", &yes);
    H5Aread(a, t, &raw);
    H5Tclose(base);
    H5Tclose(t);
    H5Aclose(a);
    H5Fclose(file);
    CHECK(is_enum && no == 0 && yes == 1 && raw == 1, "bool type: enum %d FALSE=%d TRUE=%d "
          "stored %d", is_enum, no, yes, raw);
    return 0;
}

static int test_datasets_round_trip(void)
{
    char path[128];
    Err e;
    H5Out f;
    Rng rng;
    rng_seed(&rng, tl_seed, 1);
    tpath(path, sizeof path, "data.h5");
    static const int shapes[4][4] = {{7}, {3, 5}, {2, 3, 5}, {2, 3, 5, 7}};
    static const char *const names[4] = {"t1", "t2", "t3", "t4"};
    Tensor ts[4];
    for (int k = 0; k < 4; k++)
        if (tensor_new_filled(&ts[k], k + 1, shapes[k], &rng))
            return 1;
    ts[0].data[0] = -0.0f;
    ts[0].data[1] = 1e-40f; /* a float32 denormal */
    const double f64s[] = {2.5, -1e300, 0.0, 1.0 / 3.0};
    const int64_t i64s[] = {INT64_MIN, 0, 42, INT64_MAX};
    uint8_t bytes[300];
    for (size_t k = 0; k < sizeof bytes; k++)
        bytes[k] = (uint8_t)(k * 7); /* every byte value, zeros included */
    const int zshape[2] = {0, 3};
    Tensor tz = {0};
    OK(tensor_alloc(&tz, 2, zshape, &e), e);

    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    for (int k = 0; k < 4; k++)
        OK(h5io_write_tensor(&f, names[k], &ts[k], 0, &e), e);
    OK(h5io_write_tensor(&f, "empty_tensor", &tz, H5IO_DEFLATE_AUTO, &e), e);
    H5Value v = h5io_value_f64(f64s, 4);
    OK(h5io_write_array(&f, "f64", &v, &e), e);
    v = h5io_value_i64(i64s, 4);
    OK(h5io_write_array(&f, "i64", &v, &e), e);
    v = h5io_value_bytes(bytes, sizeof bytes);
    OK(h5io_write_array(&f, "rng_state", &v, &e), e);
    v = h5io_value_f64(NULL, 0);
    OK(h5io_write_array(&f, "empty_f64", &v, &e), e);
    OK(h5io_commit(&f, &e), e);

    OK(h5io_open(&f, path, &e), e);
    H5List l;
    OK(h5io_list(&f, "", &l, &e), e);
    int listed = l.n == 9;
    for (int k = 0; listed && k < 4; k++) {
        const H5Entry *en = find(&l, names[k]);
        listed = en && en->kind == H5IO_F32 && en->ndim == k + 1;
        for (int d = 0; listed && d <= k; d++)
            listed = en->dims[d] == shapes[k][d];
    }
    const H5Entry *en = find(&l, "rng_state");
    listed = listed && en && en->kind == H5IO_BYTES && en->ndim == 1 && en->dims[0] == 300;
    listed = listed && find(&l, "i64") && find(&l, "i64")->kind == H5IO_I64;
    listed = listed && find(&l, "f64") && find(&l, "f64")->kind == H5IO_F64;
    listed = listed && !strcmp(l.e[0].name, "empty_f64"); /* name order */
    h5io_list_free(&l);
    CHECK(listed, "listing of the root is wrong");
    for (int k = 0; k < 4; k++) {
        Tensor t = {0};
        OK(h5io_read_tensor(&f, names[k], &t, &e), e);
        int same = t.ndim == ts[k].ndim && !memcmp(t.shape, ts[k].shape, sizeof t.shape) &&
                   !memcmp(t.data, ts[k].data, t.size * sizeof(float));
        tensor_free(&t);
        CHECK(same, "%s differs after the round trip", names[k]);
    }
    /* in place, into an existing tensor of the right shape (a Net's parameter view) */
    Tensor t = {0};
    OK(tensor_alloc(&t, 3, shapes[2], &e), e);
    float *before = t.data;
    OK(h5io_read_tensor(&f, "t3", &t, &e), e);
    int same = t.data == before && !memcmp(t.data, ts[2].data, t.size * sizeof(float));
    tensor_free(&t);
    CHECK(same, "in-place read");
    OK(h5io_read_tensor(&f, "empty_tensor", &t, &e), e);
    same = t.ndim == 2 && t.shape[0] == 0 && t.shape[1] == 3 && t.size == 0;
    tensor_free(&t);
    CHECK(same, "empty tensor");
    H5Value r;
    OK(h5io_read_array(&f, "f64", &r, &e), e);
    CHECK(r.kind == H5IO_F64 && r.n == 4 && !memcmp(r.f64, f64s, sizeof f64s), "f64");
    h5io_value_free(&r);
    OK(h5io_read_array(&f, "i64", &r, &e), e);
    CHECK(r.kind == H5IO_I64 && r.n == 4 && !memcmp(r.i64, i64s, sizeof i64s), "i64");
    h5io_value_free(&r);
    OK(h5io_read_array(&f, "rng_state", &r, &e), e);
    CHECK(r.kind == H5IO_BYTES && r.n == 300 && !memcmp(r.u8, bytes, 300), "bytes");
    h5io_value_free(&r);
    OK(h5io_read_array(&f, "empty_f64", &r, &e), e);
    CHECK(r.kind == H5IO_F64 && r.n == 0, "empty f64");
    h5io_value_free(&r);
    h5io_close(&f);
    for (int k = 0; k < 4; k++)
        tensor_free(&ts[k]);
    tensor_free(&tz);
    return 0;
}

static int test_nested_groups(void)
{
    char path[128];
    Err e;
    H5Out f;
    tpath(path, sizeof path, "nested.h5");
    const int64_t one = 1, two = 2;
    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    OK(h5io_group(&f, "a/b/c/d", &e), e);
    OK(h5io_group(&f, "a/b", &e), e); /* existing: fine */
    OK(h5io_attr_str(&f, "a/b/c/d", "where", "deep", &e), e);
    H5Value v = h5io_value_i64(&one, 1);
    OK(h5io_write_array(&f, "/a/b/c/d/e/leaf", &v, &e), e); /* creates e */
    v = h5io_value_i64(&two, 1);
    OK(h5io_write_array(&f, "a/mid", &v, &e), e);
    OK(h5io_group(&f, "a/z", &e), e);
    OK(h5io_commit(&f, &e), e);

    OK(h5io_open(&f, path, &e), e);
    H5List l;
    OK(h5io_list(&f, "a", &l, &e), e);
    int ok = l.n == 3 && !strcmp(l.e[0].name, "b") && l.e[0].kind == H5IO_GROUP &&
             !strcmp(l.e[1].name, "mid") && l.e[1].kind == H5IO_I64 &&
             !strcmp(l.e[2].name, "z") && l.e[2].kind == H5IO_GROUP;
    h5io_list_free(&l);
    CHECK(ok, "listing of /a");
    H5Value r;
    OK(h5io_read_array(&f, "a/b/c/d/e/leaf", &r, &e), e);
    ok = r.n == 1 && r.i64[0] == 1;
    h5io_value_free(&r);
    CHECK(ok, "deep leaf");
    OK(h5io_read_attr(&f, "/a/b/c/d", "where", &r, &e), e);
    ok = !strcmp(r.str[0], "deep");
    h5io_value_free(&r);
    CHECK(ok, "deep attribute");
    OK(h5io_list(&f, "a/z", &l, &e), e);
    ok = l.n == 0;
    h5io_list_free(&l);
    CHECK(ok, "empty group");
    h5io_close(&f);
    return 0;
}

/* Values with few significant bits, like trained weights' leading bits: compressible. */
static void fill_weights(float *p, size_t n, Rng *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((int)(rng_uniform(r) * 256.0) - 128) / 1024.0f;
}

static int test_large_chunked(void)
{
    char path[128], path0[128];
    Err e;
    H5Out f;
    Rng rng;
    rng_seed(&rng, tl_seed, 2);
    tpath(path, sizeof path, "big.h5");
    tpath(path0, sizeof path0, "big_raw.h5");
    const int shape[2] = {BIG_ROWS, BIG_COLS}, odd[3] = {301, 37, 29};
    Tensor w = {0}, o = {0};
    OK(tensor_alloc(&w, 2, shape, &e), e);
    OK(tensor_alloc(&o, 3, odd, &e), e);
    fill_weights(w.data, w.size, &rng);
    fill_weights(o.data, o.size, &rng);
    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    OK(h5io_write_tensor(&f, "weights/w", &w, H5IO_DEFLATE_AUTO, &e), e);
    /* explicit level; 301*37*29 floats = 1.3 MB, so the last chunk along dim 0 is partial */
    OK(h5io_write_tensor(&f, "weights/odd", &o, 9, &e), e);
    OK(h5io_commit(&f, &e), e);
    OK(h5io_create(&f, path0, FORMAT_VERSION, &e), e);
    OK(h5io_write_tensor(&f, "weights/w", &w, 0, &e), e);
    OK(h5io_commit(&f, &e), e);
    long raw = (long)(w.size * sizeof(float)), zs = file_size(path), rs = file_size(path0);
    printf("  %ld floats: contiguous file %ld bytes, chunked + deflate %ld bytes\n",
           (long)w.size, rs, zs);
    CHECK(rs >= raw, "contiguous file %ld bytes < data %ld", rs, raw);
    /* the odd tensor adds 1.3 MB raw; compressed both must stay well under w's raw size */
    CHECK(zs > 0 && zs < raw / 2, "chunked file %ld bytes, expected < %ld", zs, raw / 2);

    OK(h5io_open(&f, path, &e), e);
    Tensor r = {0}, r2 = {0};
    OK(h5io_read_tensor(&f, "weights/w", &r, &e), e);
    OK(h5io_read_tensor(&f, "weights/odd", &r2, &e), e);
    h5io_close(&f);
    int same = r.size == w.size && !memcmp(r.data, w.data, w.size * sizeof(float)) &&
               r2.size == o.size && !memcmp(r2.data, o.data, o.size * sizeof(float));
    tensor_free(&r);
    tensor_free(&r2);
    tensor_free(&w);
    tensor_free(&o);
    CHECK(same, "chunked tensors differ after the round trip");

    /* the layout HDF5 reports: chunked with shuffle and deflate */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(file, "weights/w", H5P_DEFAULT), dcpl = H5Dget_create_plist(d);
    hsize_t chunk[2] = {0, 0};
    int layout = H5Pget_layout(dcpl), rank = H5Pget_chunk(dcpl, 2, chunk);
    int nfilters = H5Pget_nfilters(dcpl);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(file);
    CHECK(layout == H5D_CHUNKED && rank == 2 && nfilters == 2, "layout %d rank %d filters %d",
          layout, rank, nfilters);
    CHECK(chunk[1] == BIG_COLS && chunk[0] * chunk[1] * sizeof(float) <= H5IO_CHUNK_BYTES,
          "chunk (%llu, %llu)", (unsigned long long)chunk[0], (unsigned long long)chunk[1]);
    return 0;
}

static int test_atomic_commit(void)
{
    char path[128], tmp[140];
    Err e;
    H5Out f;
    tpath(path, sizeof path, "atomic.h5");
    snprintf(tmp, sizeof tmp, "%s%s", path, H5IO_TMP_SUFFIX);
    OK(h5io_create(&f, path, 1, &e), e);
    OK(h5io_attr_str(&f, "", "which", "first", &e), e);
    CHECK(!exists(path) && exists(tmp), "before commit: final %d tmp %d", exists(path),
          exists(tmp));
    OK(h5io_commit(&f, &e), e);
    CHECK(exists(path) && !exists(tmp), "after commit: final %d tmp %d", exists(path),
          exists(tmp));
    /* a rewrite leaves the old file readable until its own commit */
    OK(h5io_create(&f, path, 2, &e), e);
    OK(h5io_attr_str(&f, "", "which", "second", &e), e);
    H5Out g;
    OK(h5io_open(&g, path, &e), e);
    H5Value r;
    OK(h5io_read_attr(&g, "", "which", &r, &e), e);
    int old = !strcmp(r.str[0], "first") && g.format_version == 1;
    h5io_value_free(&r);
    h5io_close(&g);
    CHECK(old, "the committed file changed before the rewrite was committed");
    OK(h5io_commit(&f, &e), e);
    OK(h5io_open(&g, path, &e), e);
    OK(h5io_read_attr(&g, "", "which", &r, &e), e);
    int now = !strcmp(r.str[0], "second") && g.format_version == 2;
    h5io_value_free(&r);
    h5io_close(&g);
    CHECK(now, "the rewrite is not visible after its commit");
    unlink(path);
    return 0;
}

static int test_failed_write_leaves_nothing(void)
{
    char path[128], tmp[140];
    Err e;
    H5Out f;
    tpath(path, sizeof path, "failed.h5");
    snprintf(tmp, sizeof tmp, "%s%s", path, H5IO_TMP_SUFFIX);
    const double x = 1.0;
    H5Value v = h5io_value_f64(&x, 1);
    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    OK(h5io_write_array(&f, "loss", &v, &e), e);
    if (tl_expect_error("duplicate dataset", h5io_write_array(&f, "loss", &v, &e), &e,
                        "cannot create dataset 'loss'"))
        return 1;
    h5io_close(&f); /* the caller gives up */
    CHECK(!exists(path) && !exists(tmp), "after a failed write: final %d tmp %d", exists(path),
          exists(tmp));
    /* no directory: nothing is created and the message names the path */
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.h5", tdir);
    if (tl_expect_error("missing directory", h5io_create(&f, nodir, FORMAT_VERSION, &e), &e,
                        "x.h5.tmp: No such file or directory"))
        return 1;
    CHECK(!f.open, "file open after a failed create");
    return 0;
}

static int test_errors(void)
{
    char path[128];
    Err e;
    H5Out f;
    tpath(path, sizeof path, "errors.h5");
    const int s[2] = {2, 3}, s2[2] = {3, 2};
    Tensor t = {0}, u = {0};
    OK(tensor_alloc(&t, 2, s, &e), e);
    OK(tensor_alloc(&u, 2, s2, &e), e);
    int rc = 0;
    rc |= tl_expect_error("format_version 0", h5io_create(&f, path, 0, &e), &e,
                          "format_version is 0, expected >= 1");
    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    rc |= tl_expect_error("bad deflate", h5io_write_tensor(&f, "w", &t, 12, &e), &e,
                          "deflate is 12, expected -1 (auto) or 0..9");
    H5Value v = h5io_value_f64(NULL, 0);
    v.kind = H5IO_STR;
    rc |= tl_expect_error("string dataset", h5io_write_array(&f, "s", &v, &e), &e,
                          "kind is str, expected f64, i64 or bytes");
    rc |= tl_expect_error("attribute on nothing", h5io_attr_i64(&f, "nope", "x", 1, &e), &e,
                          "no object 'nope' for attribute 'x'");
    OK(h5io_write_tensor(&f, "w", &t, 0, &e), e);
    OK(h5io_commit(&f, &e), e);
    rc |= tl_expect_error("write after commit", h5io_write_tensor(&f, "w2", &t, 0, &e), &e,
                          "h5io_write_tensor: file is not open");
    OK(h5io_open(&f, path, &e), e);
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
    return rc ? -1 : file_size(path);
}

static int test_truncated(void)
{
    char path[128], want[200];
    Err e;
    tpath(path, sizeof path, "trunc.h5");
    long size = write_sample(path, &e);
    CHECK(size > 0, "%s", e.msg);
    snprintf(want, sizeof want, "%s: not a valid HDF5 file (truncated or corrupt); "
             "delete it to rerun", path);
    /* cut everywhere interesting: inside the signature, the superblock, the root's header,
     * at half and just short of the end */
    const long cuts[] = {0, 4, 8, 40, 100, 800, 2048, size / 2, size - 100, size - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        OK(write_sample(path, &e) == size ? 0 : -1, e);
        CHECK(truncate(path, cuts[k]) == 0, "truncate");
        H5Out f;
        char what[64];
        snprintf(what, sizeof what, "cut at %ld of %ld", cuts[k], size);
        if (tl_expect_error(what, h5io_open(&f, path, &e), &e, want))
            return 1;
        CHECK(!f.open, "open after an error");
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
    tpath(path, sizeof path, "flip.h5");
    long size = write_sample(path, &e);
    CHECK(size > 0, "%s", e.msg);
    H5Out f;
    OK(h5io_open(&f, path, &e), e);
    int verified = f.verified;
    h5io_close(&f);
    CHECK(verified, "our own file did not verify");
    snprintf(want, sizeof want, "%s: not a valid HDF5 file (truncated or corrupt); "
             "delete it to rerun", path);
    const long at[] = {20, 30, H5IO_SUM_BLOCK + 8, size / 2, size - 1};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        OK(write_sample(path, &e) == size ? 0 : -1, e);
        FILE *fp = fopen(path, "r+b");
        CHECK(fp, "cannot open %s", path);
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
    tpath(path, sizeof path, "garbage.h5");
    snprintf(want, sizeof want, "%s: not a valid HDF5 file (truncated or corrupt); "
             "delete it to rerun", path);
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (int k = 0; k < 2; k++) {
        FILE *fp = fopen(path, "wb");
        CHECK(fp, "cannot write %s", path);
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
    CHECK(file >= 0, "H5Fcreate");
    H5Fclose(file);
    if (tl_expect_error("no format_version", h5io_is_complete(path, &e), &e,
                        "no format_version attribute at the root"))
        return 1;
    OK(h5io_open(&f, path, &e), e); /* opens; the reader sees version 0, unverified */
    CHECK(f.format_version == 0 && !f.verified, "format_version %" PRId64 ", verified %d",
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
    tpath(path, sizeof path, "foreign.h5");
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
    OK(h5io_open(&f, path, &e), e);
    H5Value r;
    OK(h5io_read_attr(&f, "", "fixed", &r, &e), e);
    int ok = r.kind == H5IO_STR && !strcmp(r.str[0], "abcde");
    h5io_value_free(&r);
    CHECK(ok, "fixed-length string");
    OK(h5io_read_attr(&f, "", "null", &r, &e), e);
    ok = r.kind == H5IO_F64 && r.is_array && r.n == 0;
    h5io_value_free(&r);
    CHECK(ok, "null dataspace");
    int64_t v;
    OK(h5io_read_attr_i64(&f, "", "i32", &v, &e), e);
    CHECK(v == -7, "i32 read as %" PRId64, v);
    h5io_close(&f);
    unlink(path);
    return 0;
}

/* Same content, same order: same bytes (no timestamps in object headers). */
static int test_reproducible_bytes(void)
{
    char p1[128], p2[128];
    Err e;
    tpath(p1, sizeof p1, "same1.h5");
    tpath(p2, sizeof p2, "same2.h5");
    long s1 = write_sample(p1, &e);
    CHECK(s1 > 0, "%s", e.msg);
    sleep(1); /* a recorded timestamp would now differ */
    long s2 = write_sample(p2, &e);
    CHECK(s2 == s1, "sizes %ld and %ld", s1, s2);
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
    CHECK(same, "two writes of the same content differ");
    return 0;
}

static int test_h5dump_reads_it(void)
{
    if (system("command -v h5dump >/dev/null 2>&1") != 0) {
        printf("  skip: h5dump not installed (apt-get install hdf5-tools)\n");
        return 0;
    }
    char path[128], out[160], cmd[400];
    Err e;
    tpath(path, sizeof path, "dump.h5");
    snprintf(out, sizeof out, "%s/dump.txt", tdir);
    H5Out f;
    const int64_t m[2] = {100, 150};
    const uint8_t state[4] = {0, 1, 2, 255};
    H5Value v = h5io_value_i64(m, 2);
    OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    OK(h5io_attr(&f, "", "milestones", &v, &e), e);
    OK(h5io_attr_bool(&f, "", "nesterov", 1, &e), e);
    OK(h5io_attr_str(&f, "", "net", "preact_resnet18", &e), e);
    v = h5io_value_bytes(state, 4);
    OK(h5io_write_array(&f, "ckpt/rng", &v, &e), e);
    OK(h5io_commit(&f, &e), e);
    snprintf(cmd, sizeof cmd, "h5dump '%s' > '%s' 2>&1", path, out);
    int rc = system(cmd);
    FILE *fp = fopen(out, "r");
    CHECK(fp, "no h5dump output");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;
    CHECK(rc == 0, "h5dump exited %d:\n%s", rc, text);
    static const char *const want[] = {"ATTRIBUTE \"format_version\"", "(0): 3", "100, 150",
                                       "(0): TRUE", "\"preact_resnet18\"", "DATASET \"rng\"",
                                       "0, 1, 2, 255"};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++)
        CHECK(strstr(text, want[k]), "h5dump output lacks '%s':\n%s", want[k], text);
    unlink(out);
    unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    snprintf(tdir, sizeof tdir, "/tmp/test_h5.XXXXXX");
    if (!mkdtemp(tdir)) {
        perror("test_h5: mkdtemp");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    static const TestCase tests[] = {
        {"attrs_round_trip", test_attrs_round_trip},
        {"datasets_round_trip", test_datasets_round_trip},
        {"nested_groups", test_nested_groups},
        {"large_chunked", test_large_chunked},
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
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    if (system(cmd) != 0)
        printf("test_h5: could not remove %s\n", tdir);
    return rc;
}
