/*
 * test_h5.c: the HDF5 results layer (harness/io/h5io_*.c), its round trips: every kind is
 * written, read back and compared exactly (storage is lossless, so there is no tolerance
 * anywhere in this file), nested groups, listings, and a large chunked, compressed tensor.
 * What lands on disk (atomic commits, damaged files, reproducible bytes, h5dump) is
 * test_h5_files.c's.
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
    tl_path(path, sizeof path, tdir, "attrs.h5");
    const double f64s[] = {0.1, -0.0, 1e-310, 1.7976931348623157e308, -INFINITY, NAN, 3.0};
    const int64_t i64s[] = {INT64_MIN, -1, 0, 1, INT64_MAX, 164};
    const uint8_t bools[] = {1, 0, 0, 1};
    const size_t nf = sizeof f64s / sizeof *f64s, ni = sizeof i64s / sizeof *i64s;
    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    TL_OK(h5io_group(&f, "config", &e), e);
    TL_OK(h5io_attr_i64(&f, "", "seed", INT64_MAX, &e), e);
    TL_OK(h5io_attr_f64(&f, "/", "lr", 0.1, &e), e);
    TL_OK(h5io_attr_str(&f, "config", "net", STRS[2], &e), e);
    TL_OK(h5io_attr_str(&f, "config", "empty", "", &e), e);
    TL_OK(h5io_attr_bool(&f, "config", "nesterov", 0, &e), e);
    TL_OK(h5io_attr_bool(&f, "config", "mixup", 7, &e), e); /* any non-zero is TRUE */
       H5Value v = h5io_value_f64(f64s, nf);
    TL_OK(h5io_attr(&f, "config", "f64s", &v, &e), e);
    v = h5io_value_i64(i64s, ni);
    TL_OK(h5io_attr(&f, "config", "milestones", &v, &e), e);
    v = h5io_value_str(STRS, NSTRS);
    TL_OK(h5io_attr(&f, "config", "strs", &v, &e), e);
    v = h5io_value_bool(bools, 4);
    TL_OK(h5io_attr(&f, "config", "bools", &v, &e), e);
    v = h5io_value_i64(NULL, 0);
    TL_OK(h5io_attr(&f, "config", "empty_i64", &v, &e), e);
    v = h5io_value_str(NULL, 0);
    TL_OK(h5io_attr(&f, "config", "empty_strs", &v, &e), e);
    /* attributes on a dataset too */
    const double one = 1.0;
    v = h5io_value_f64(&one, 1);
    TL_OK(h5io_write_array(&f, "config/x", &v, &e), e);
    TL_OK(h5io_attr_str(&f, "config/x", "unit", "seconds", &e), e);
    TL_OK(h5io_commit(&f, &e), e);

    TL_OK(h5io_open(&f, path, &e), e);
    TL_CHECK(f.format_version == FORMAT_VERSION, "format_version %" PRId64, f.format_version);
    int64_t i;
    TL_OK(h5io_read_attr_i64(&f, "", "seed", &i, &e), e);
    TL_CHECK(i == INT64_MAX, "seed %" PRId64, i);
    H5Value r;
    TL_OK(h5io_read_attr(&f, "", "lr", &r, &e), e);
    TL_CHECK(r.kind == H5IO_F64 && !r.is_array && r.n == 1 && r.f64[0] == 0.1, "lr");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "net", &r, &e), e);
    TL_CHECK(r.kind == H5IO_STR && !r.is_array && !strcmp(r.str[0], STRS[2]), "net");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "empty", &r, &e), e);
    TL_CHECK(r.kind == H5IO_STR && !strcmp(r.str[0], ""), "empty string");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "nesterov", &r, &e), e);
    TL_CHECK(r.kind == H5IO_BOOL && !r.is_array && r.u8[0] == 0, "nesterov");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "mixup", &r, &e), e);
    TL_CHECK(r.kind == H5IO_BOOL && r.u8[0] == 1, "mixup");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "f64s", &r, &e), e);
    /* bitwise, so -0.0 and NaN count */
    TL_CHECK(r.kind == H5IO_F64 && r.is_array && r.n == nf && !memcmp(r.f64, f64s, sizeof f64s),
             "f64s differ");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "milestones", &r, &e), e);
    TL_CHECK(r.kind == H5IO_I64 && r.n == ni && !memcmp(r.i64, i64s, sizeof i64s), "i64s");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "strs", &r, &e), e);
    TL_CHECK(r.kind == H5IO_STR && r.is_array && r.n == NSTRS, "strs kind");
    for (size_t k = 0; k < NSTRS; k++)
        TL_CHECK(!strcmp(r.str[k], STRS[k]), "strs[%zu] '%s'", k, r.str[k]);
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "bools", &r, &e), e);
    TL_CHECK(r.kind == H5IO_BOOL && r.n == 4 && !memcmp(r.u8, bools, 4), "bools");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "empty_i64", &r, &e), e);
    TL_CHECK(r.kind == H5IO_I64 && r.is_array && r.n == 0, "empty_i64");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config", "empty_strs", &r, &e), e);
    TL_CHECK(r.kind == H5IO_STR && r.is_array && r.n == 0, "empty_strs");
    h5io_value_free(&r);
    TL_OK(h5io_read_attr(&f, "config/x", "unit", &r, &e), e);
    TL_CHECK(!strcmp(r.str[0], "seconds"), "dataset attribute");
    h5io_value_free(&r);

    H5List l;
    TL_OK(h5io_list_attrs(&f, "config", &l, &e), e);
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
    TL_CHECK(n == 10, "list_attrs: %d (negative: first bad entry)", n);
    TL_OK(h5io_list_attrs(&f, "", &l, &e), e);
    n = l.n;
    int root_ok = n == 3 && !strcmp(l.e[0].name, H5IO_FORMAT_ATTR) &&
                  !strcmp(l.e[1].name, "lr") && !strcmp(l.e[2].name, "seed");
    h5io_list_free(&l);
    TL_CHECK(root_ok, "root attributes: %d entries", n);
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
    TL_CHECK(is_enum && no == 0 && yes == 1 && raw == 1, "bool type: enum %d FALSE=%d TRUE=%d "
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
    tl_path(path, sizeof path, tdir, "data.h5");
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
    TL_OK(tensor_alloc(&tz, 2, zshape, &e), e);

    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    for (int k = 0; k < 4; k++)
        TL_OK(h5io_write_tensor(&f, names[k], &ts[k], 0, &e), e);
    TL_OK(h5io_write_tensor(&f, "empty_tensor", &tz, H5IO_DEFLATE_AUTO, &e), e);
    H5Value v = h5io_value_f64(f64s, 4);
    TL_OK(h5io_write_array(&f, "f64", &v, &e), e);
    v = h5io_value_i64(i64s, 4);
    TL_OK(h5io_write_array(&f, "i64", &v, &e), e);
    v = h5io_value_bytes(bytes, sizeof bytes);
    TL_OK(h5io_write_array(&f, "rng_state", &v, &e), e);
    v = h5io_value_f64(NULL, 0);
    TL_OK(h5io_write_array(&f, "empty_f64", &v, &e), e);
    TL_OK(h5io_commit(&f, &e), e);

    TL_OK(h5io_open(&f, path, &e), e);
    H5List l;
    TL_OK(h5io_list(&f, "", &l, &e), e);
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
    TL_CHECK(listed, "listing of the root is wrong");
    for (int k = 0; k < 4; k++) {
        Tensor t = {0};
        TL_OK(h5io_read_tensor(&f, names[k], &t, &e), e);
        int same = t.ndim == ts[k].ndim && !memcmp(t.shape, ts[k].shape, sizeof t.shape) &&
                   !memcmp(t.data, ts[k].data, t.size * sizeof(float));
        tensor_free(&t);
        TL_CHECK(same, "%s differs after the round trip", names[k]);
    }
    /* in place, into an existing tensor of the right shape (a Net's parameter view) */
    Tensor t = {0};
    TL_OK(tensor_alloc(&t, 3, shapes[2], &e), e);
    float *before = t.data;
    TL_OK(h5io_read_tensor(&f, "t3", &t, &e), e);
    int same = t.data == before && !memcmp(t.data, ts[2].data, t.size * sizeof(float));
    tensor_free(&t);
    TL_CHECK(same, "in-place read");
    TL_OK(h5io_read_tensor(&f, "empty_tensor", &t, &e), e);
    same = t.ndim == 2 && t.shape[0] == 0 && t.shape[1] == 3 && t.size == 0;
    tensor_free(&t);
    TL_CHECK(same, "empty tensor");
    H5Value r;
    TL_OK(h5io_read_array(&f, "f64", &r, &e), e);
    TL_CHECK(r.kind == H5IO_F64 && r.n == 4 && !memcmp(r.f64, f64s, sizeof f64s), "f64");
    h5io_value_free(&r);
    TL_OK(h5io_read_array(&f, "i64", &r, &e), e);
    TL_CHECK(r.kind == H5IO_I64 && r.n == 4 && !memcmp(r.i64, i64s, sizeof i64s), "i64");
    h5io_value_free(&r);
    TL_OK(h5io_read_array(&f, "rng_state", &r, &e), e);
    TL_CHECK(r.kind == H5IO_BYTES && r.n == 300 && !memcmp(r.u8, bytes, 300), "bytes");
    h5io_value_free(&r);
    TL_OK(h5io_read_array(&f, "empty_f64", &r, &e), e);
    TL_CHECK(r.kind == H5IO_F64 && r.n == 0, "empty f64");
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
    tl_path(path, sizeof path, tdir, "nested.h5");
    const int64_t one = 1, two = 2;
    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    TL_OK(h5io_group(&f, "a/b/c/d", &e), e);
    TL_OK(h5io_group(&f, "a/b", &e), e); /* existing: fine */
       TL_OK(h5io_attr_str(&f, "a/b/c/d", "where", "deep", &e), e);
    H5Value v = h5io_value_i64(&one, 1);
    TL_OK(h5io_write_array(&f, "/a/b/c/d/e/leaf", &v, &e), e); /* creates e */
       v = h5io_value_i64(&two, 1);
    TL_OK(h5io_write_array(&f, "a/mid", &v, &e), e);
    TL_OK(h5io_group(&f, "a/z", &e), e);
    TL_OK(h5io_commit(&f, &e), e);

    TL_OK(h5io_open(&f, path, &e), e);
    H5List l;
    TL_OK(h5io_list(&f, "a", &l, &e), e);
    int ok = l.n == 3 && !strcmp(l.e[0].name, "b") && l.e[0].kind == H5IO_GROUP &&
             !strcmp(l.e[1].name, "mid") && l.e[1].kind == H5IO_I64 &&
             !strcmp(l.e[2].name, "z") && l.e[2].kind == H5IO_GROUP;
    h5io_list_free(&l);
    TL_CHECK(ok, "listing of /a");
    H5Value r;
    TL_OK(h5io_read_array(&f, "a/b/c/d/e/leaf", &r, &e), e);
    ok = r.n == 1 && r.i64[0] == 1;
    h5io_value_free(&r);
    TL_CHECK(ok, "deep leaf");
    TL_OK(h5io_read_attr(&f, "/a/b/c/d", "where", &r, &e), e);
    ok = !strcmp(r.str[0], "deep");
    h5io_value_free(&r);
    TL_CHECK(ok, "deep attribute");
    TL_OK(h5io_list(&f, "a/z", &l, &e), e);
    ok = l.n == 0;
    h5io_list_free(&l);
    TL_CHECK(ok, "empty group");
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
    tl_path(path, sizeof path, tdir, "big.h5");
    tl_path(path0, sizeof path0, tdir, "big_raw.h5");
    const int shape[2] = {BIG_ROWS, BIG_COLS}, odd[3] = {301, 37, 29};
    Tensor w = {0}, o = {0};
    TL_OK(tensor_alloc(&w, 2, shape, &e), e);
    TL_OK(tensor_alloc(&o, 3, odd, &e), e);
    fill_weights(w.data, w.size, &rng);
    fill_weights(o.data, o.size, &rng);
    TL_OK(h5io_create(&f, path, FORMAT_VERSION, &e), e);
    TL_OK(h5io_write_tensor(&f, "weights/w", &w, H5IO_DEFLATE_AUTO, &e), e);
    /* explicit level; 301*37*29 floats = 1.3 MB, so the last chunk along dim 0 is partial */
    TL_OK(h5io_write_tensor(&f, "weights/odd", &o, 9, &e), e);
    TL_OK(h5io_commit(&f, &e), e);
    TL_OK(h5io_create(&f, path0, FORMAT_VERSION, &e), e);
    TL_OK(h5io_write_tensor(&f, "weights/w", &w, 0, &e), e);
    TL_OK(h5io_commit(&f, &e), e);
    long raw = (long)(w.size * sizeof(float)), zs = tl_file_size(path), rs = tl_file_size(path0);
    printf("  %ld floats: contiguous file %ld bytes, chunked + deflate %ld bytes\n",
           (long)w.size, rs, zs);
    TL_CHECK(rs >= raw, "contiguous file %ld bytes < data %ld", rs, raw);
    /* the odd tensor adds 1.3 MB raw; compressed both must stay well under w's raw size */
    TL_CHECK(zs > 0 && zs < raw / 2, "chunked file %ld bytes, expected < %ld", zs, raw / 2);

    TL_OK(h5io_open(&f, path, &e), e);
    Tensor r = {0}, r2 = {0};
    TL_OK(h5io_read_tensor(&f, "weights/w", &r, &e), e);
    TL_OK(h5io_read_tensor(&f, "weights/odd", &r2, &e), e);
    h5io_close(&f);
    int same = r.size == w.size && !memcmp(r.data, w.data, w.size * sizeof(float)) &&
               r2.size == o.size && !memcmp(r2.data, o.data, o.size * sizeof(float));
    tensor_free(&r);
    tensor_free(&r2);
    tensor_free(&w);
    tensor_free(&o);
    TL_CHECK(same, "chunked tensors differ after the round trip");

    /* the layout HDF5 reports: chunked with shuffle and deflate */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(file, "weights/w", H5P_DEFAULT), dcpl = H5Dget_create_plist(d);
    hsize_t chunk[2] = {0, 0};
    int layout = H5Pget_layout(dcpl), rank = H5Pget_chunk(dcpl, 2, chunk);
    int nfilters = H5Pget_nfilters(dcpl);
    H5Pclose(dcpl);
    H5Dclose(d);
    H5Fclose(file);
    TL_CHECK(layout == H5D_CHUNKED && rank == 2 && nfilters == 2, "layout %d rank %d filters %d",
             layout, rank, nfilters);
    TL_CHECK(chunk[1] == BIG_COLS && chunk[0] * chunk[1] * sizeof(float) <= H5IO_CHUNK_BYTES,
             "chunk (%llu, %llu)", (unsigned long long)chunk[0], (unsigned long long)chunk[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (tl_tmpdir(tdir, sizeof tdir, "test_h5")) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    static const TestCase tests[] = {
        {"attrs_round_trip", test_attrs_round_trip},
        {"datasets_round_trip", test_datasets_round_trip},
        {"nested_groups", test_nested_groups},
        {"large_chunked", test_large_chunked},
    };
    int rc = tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
    tl_tmpdir_remove(tdir);
    return rc;
}
