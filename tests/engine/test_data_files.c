/*
 * test_data_files.c: getting CIFAR into memory: the binary files (harness/data/data_cifar.c) and
 * the
 * npm PNG converter (tools/cifar_png2bin.c, compiled in below). The loader, augmentation,
 * subsets and corruption are in test_data.c.
 *
 *   - real data (a counted skip, with its reason, when `make data` has not run): the official
 *     md5s, 5000 train / 1000 test images per class, the first records (frog, cat);
 *   - generated files: CIFAR-10 batch order across five files, CIFAR-100 coarse and fine
 *     labels, and the errors for missing, truncated, too long and malformed files;
 *   - the PNG converter on generated PNGs, its size/format errors, the JSON label parser;
 *   - the fuzzers' regression inputs and seeds (tests/fuzz/) through every parser.
 *
 * Real data are read from $MIXUP_DATA/cifar-10-batches-bin (MIXUP_DATA defaults to "data").
 */
#define CIFAR_PNG2BIN_NO_MAIN
#include "../../tools/cifar_png2bin.c"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_cifar.h"
#include "data/jpeg.h"
#include "testlib.h"

static const char *data_dir(void)
{
    const char *d = getenv("MIXUP_DATA");
    return d && *d ? d : "data";
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = len ? fwrite(buf, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* A file of `size` bytes (sparse zeros) with `len` bytes of buf written at offset at. */
static int write_sparse(const char *path, size_t size, size_t at, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int bad = ftruncate(fileno(f), (off_t)size) != 0;
    if (!bad && len)
        bad = fseek(f, (long)at, SEEK_SET) != 0 || fwrite(buf, 1, len, f) != len;
    return fclose(f) == 0 && !bad ? 0 : -1;
}

static int make_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/test_data.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            remove(path);
        }
    closedir(d);
    rmdir(dir);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}


/* ---- real data (skipped when absent) ------------------------------------------------------ */

/* 1 when the real CIFAR-10 is there; else 0, with the skip reason recorded (tl_skip). */
static int real_present(char *dir, size_t len)
{
    snprintf(dir, len, "%s/cifar-10-batches-bin", data_dir());
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/test_batch.bin", dir);
    if (file_exists(probe))
        return 1;
    tl_skip("%s absent; run `make data` to test on the real CIFAR-10", probe);
    return 0;
}

static int test_real_md5(void)
{
    static const char *const sums[][2] = {
        {"data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25"},
        {"data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692"},
        {"data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421"},
        {"data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb"},
        {"data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d"},
        {"test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d"}};
    char dir[1024];
    if (!real_present(dir, sizeof dir))
        return TL_SKIPPED;
    if (strchr(dir, '\''))
        return tl_fail("data directory %s contains a quote", dir);
    for (size_t i = 0; i < sizeof sums / sizeof sums[0]; i++) {
        char cmd[1200], got[64] = "";
        snprintf(cmd, sizeof cmd, "md5sum '%s/%s'", dir, sums[i][0]);
        FILE *p = popen(cmd, "r");
        if (!p)
            return tl_fail("cannot run %s", cmd);
        int ok = fscanf(p, "%32s", got) == 1;
        pclose(p);
        if (!ok || strcmp(got, sums[i][1]))
            return tl_fail("%s/%s: md5 %s, expected %s", dir, sums[i][0], got, sums[i][1]);
    }
    return 0;
}

static int test_real_contents(void)
{
    char dir[1024];
    if (!real_present(dir, sizeof dir))
        return TL_SKIPPED;
    CifarSet tr, te;
    Err err;
    if (data_cifar_load(&tr, dir, CIFAR_10, CIFAR_TRAIN, &err))
        return tl_fail("%s", err.msg);
    if (data_cifar_load(&te, dir, CIFAR_10, CIFAR_TEST, &err)) {
        data_cifar_free(&tr);
        return tl_fail("%s", err.msg);
    }
    int rc = 0, ctr[CIFAR10_CLASSES], cte[CIFAR10_CLASSES];
    data_cifar_class_counts(&tr, ctr);
    data_cifar_class_counts(&te, cte);
    if (tr.n != 50000 || te.n != 10000)
        rc = tl_fail("sizes %d and %d, expected 50000 and 10000", tr.n, te.n);
    for (int c = 0; c < CIFAR10_CLASSES && !rc; c++)
        if (ctr[c] != 5000 || cte[c] != 1000)
            rc = tl_fail("class %d: %d train, %d test; expected 5000 and 1000", c, ctr[c],
                         cte[c]);
    const uint8_t *p = tr.pixels, *q = te.pixels;
    if (!rc && (tr.label[0] != 6 || p[0] != 59 || p[1024] != 62 || p[2048] != 63))
        rc = tl_fail("first training record: label %d pixel (%d, %d, %d), expected a frog (6) "
                     "with (59, 62, 63)", tr.label[0], p[0], p[1024], p[2048]);
    if (!rc && (te.label[0] != 3 || q[0] != 158 || q[1024] != 112 || q[2048] != 49))
        rc = tl_fail("first test record: label %d pixel (%d, %d, %d), expected a cat (3) with "
                     "(158, 112, 49)", te.label[0], q[0], q[1024], q[2048]);
    data_cifar_free(&tr);
    data_cifar_free(&te);
    return rc;
}

/* ---- generated files ------------------------------------------------------------------- */

/* Record with label lab (and coarse co for CIFAR-100) and pixels all equal to fill, plus a
 * marker byte at pixel 1 so that records are told apart. */
static void make_record(uint8_t *rec, CifarKind kind, int co, int lab, int fill, int mark)
{
    size_t h = 0;
    if (kind == CIFAR_100)
        rec[h++] = (uint8_t)co;
    rec[h++] = (uint8_t)lab;
    memset(rec + h, fill, CIFAR_PIXELS);
    rec[h + 1] = (uint8_t)mark;
}

static int test_cifar10_files(void)
{
    char dir[64], path[128];
    if (make_tmpdir(dir, sizeof dir))
        return tl_fail("mkdtemp failed");
    size_t rsz = data_cifar_record_size(CIFAR_10), fsz = CIFAR_BATCH_RECORDS * rsz;
    uint8_t rec[2][3073];
    int rc = 0;
    /* Batch i: record 0 has label i, record 9999 label 9 - i; everything else zeros. */
    FILE *f;
    for (int i = 1; i <= 5 && !rc; i++) {
        make_record(rec[0], CIFAR_10, 0, i, 10 * i, 1);
        make_record(rec[1], CIFAR_10, 0, 9 - i, 10 * i + 1, 2);
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, i);
        if (write_sparse(path, fsz, 0, rec[0], rsz) || !(f = fopen(path, "r+b")) ||
            fseek(f, (long)(fsz - rsz), SEEK_SET) || fwrite(rec[1], 1, rsz, f) != rsz ||
            fclose(f))
            rc = tl_fail("cannot write %s", path);
    }
    make_record(rec[0], CIFAR_10, 0, 7, 200, 3);
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    if (!rc && write_sparse(path, fsz, 0, rec[0], rsz))
        rc = tl_fail("cannot write %s", path);
    CifarSet s = {0};
    Err err;
    if (!rc && data_cifar_load(&s, dir, CIFAR_10, CIFAR_TRAIN, &err))
        rc = tl_fail("%s", err.msg);
    for (int i = 1; i <= 5 && !rc; i++) {
        size_t a = (size_t)(i - 1) * CIFAR_BATCH_RECORDS, b = a + CIFAR_BATCH_RECORDS - 1;
        const uint8_t *pa = s.pixels + a * CIFAR_PIXELS, *pb = s.pixels + b * CIFAR_PIXELS;
        if (s.label[a] != i || pa[0] != 10 * i || pa[1] != 1 || pa[CIFAR_PIXELS - 1] != 10 * i ||
            s.label[b] != 9 - i || pb[0] != 10 * i + 1 || pb[1] != 2 || s.noisy[a] != i)
            rc = tl_fail("batch %d: records at %zu and %zu not where expected", i, a, b);
        if (!rc && (s.label[a + 1] != 0 || s.pixels[(a + 1) * CIFAR_PIXELS] != 0))
            rc = tl_fail("batch %d: record %zu not zero", i, a + 1);
    }
    data_cifar_free(&s);
    if (!rc && data_cifar_load(&s, dir, CIFAR_10, CIFAR_TEST, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && (s.n != 10000 || s.label[0] != 7 || s.pixels[0] != 200 || s.coarse))
        rc = tl_fail("test split: n %d, label %d, pixel %d", s.n, s.label[0], s.pixels[0]);
    data_cifar_free(&s);
    remove_tmpdir(dir);
    return rc;
}

static int test_cifar100_files(void)
{
    char dir[64], path[128];
    if (make_tmpdir(dir, sizeof dir))
        return tl_fail("mkdtemp failed");
    size_t rsz = data_cifar_record_size(CIFAR_100);
    if (rsz != 3074) {
        remove_tmpdir(dir);
        return tl_fail("CIFAR-100 record size %zu, expected 3074", rsz);
    }
    /* train.bin: records 0, 12345 and 49999 set (sparse file of 50000 records). */
    static const int at[3] = {0, 12345, 49999}, co[3] = {19, 4, 11}, fi[3] = {99, 31, 0};
    int rc = 0;
    snprintf(path, sizeof path, "%s/train.bin", dir);
    uint8_t rec[3074];
    if (write_sparse(path, 50000 * rsz, 0, NULL, 0))
        rc = tl_fail("cannot write %s", path);
    for (int k = 0; k < 3 && !rc; k++) {
        make_record(rec, CIFAR_100, co[k], fi[k], 100 + k, k + 1);
        FILE *f = fopen(path, "r+b");
        if (!f || fseek(f, (long)((size_t)at[k] * rsz), SEEK_SET) ||
            fwrite(rec, 1, rsz, f) != rsz || fclose(f))
            rc = tl_fail("cannot write %s", path);
    }
    snprintf(path, sizeof path, "%s/test.bin", dir);
    make_record(rec, CIFAR_100, 7, 77, 9, 9);
    if (!rc && write_sparse(path, 10000 * rsz, 0, rec, rsz))
        rc = tl_fail("cannot write %s", path);
    CifarSet s = {0};
    Err err;
    if (!rc && data_cifar_load(&s, dir, CIFAR_100, CIFAR_TRAIN, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && (s.n != 50000 || s.num_classes != 100 || !s.coarse))
        rc = tl_fail("train: n %d, classes %d", s.n, s.num_classes);
    for (int k = 0; k < 3 && !rc; k++) {
        const uint8_t *p = s.pixels + (size_t)at[k] * CIFAR_PIXELS;
        if (s.coarse[at[k]] != co[k] || s.label[at[k]] != fi[k] || p[0] != 100 + k ||
            p[1] != k + 1 || p[CIFAR_PIXELS - 1] != 100 + k)
            rc = tl_fail("record %d: coarse %d fine %d pixel %d, expected %d %d %d", at[k],
                         s.coarse[at[k]], s.label[at[k]], p[0], co[k], fi[k], 100 + k);
    }
    data_cifar_free(&s);
    if (!rc && data_cifar_load(&s, dir, CIFAR_100, CIFAR_TEST, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc && (s.n != 10000 || s.coarse[0] != 7 || s.label[0] != 77 || s.pixels[1] != 9))
        rc = tl_fail("test: n %d coarse %d fine %d", s.n, s.coarse[0], s.label[0]);
    data_cifar_free(&s);
    /* A fine label of 100 is out of range; the message names file, record and the fix. */
    make_record(rec, CIFAR_100, 3, 100, 0, 0);
    if (!rc && write_sparse(path, 10000 * rsz, 5 * rsz, rec, rsz))
        rc = tl_fail("cannot write %s", path);
    if (!rc && !data_cifar_load(&s, dir, CIFAR_100, CIFAR_TEST, &err))
        rc = tl_fail("label 100 accepted");
    if (!rc && (!strstr(err.msg, "test.bin record 5 has label 100, expected 0..99") ||
                !strstr(err.msg, "make data-cifar100")))
        rc = tl_fail("unexpected message: %s", err.msg);
    if (!rc && s.pixels)
        rc = tl_fail("failed load left memory in the set");
    make_record(rec, CIFAR_100, 20, 1, 0, 0);
    if (!rc && write_sparse(path, 10000 * rsz, 0, rec, rsz))
        rc = tl_fail("cannot write %s", path);
    if (!rc && (!data_cifar_load(&s, dir, CIFAR_100, CIFAR_TEST, &err) ||
                !strstr(err.msg, "record 0 has coarse label 20, expected 0..19")))
        rc = tl_fail("coarse label 20: %s", err.msg);
    remove_tmpdir(dir);
    return rc;
}

static int expect_load_error(const char *dir, CifarKind kind, CifarSplit split,
                             const char *const *parts)
{
    CifarSet s;
    Err err;
    if (!data_cifar_load(&s, dir, kind, split, &err)) {
        data_cifar_free(&s);
        return tl_fail("load succeeded, expected an error containing '%s'", parts[0]);
    }
    for (int i = 0; parts[i]; i++)
        if (tl_expect_msg("data_cifar_load", err.msg, parts[i]))
            return 1;
    if (s.pixels || s.n)
        return tl_fail("failed load left a non-empty set");
    return 0;
}

static int test_file_errors(void)
{
    char dir[64], path[128], want[320];
    if (make_tmpdir(dir, sizeof dir))
        return tl_fail("mkdtemp failed");
    size_t fsz = CIFAR_BATCH_RECORDS * data_cifar_record_size(CIFAR_10);
    int rc = 0;
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    /* missing */
    snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
    const char *missing[] = {"data_cifar_load: ", want, "run `make data`", NULL};
    rc = expect_load_error(dir, CIFAR_10, CIFAR_TEST, missing);
    /* truncated by one byte */
    snprintf(want, sizeof want, "%s is truncated: %zu bytes, expected %zu (10000 records of "
             "3073 bytes)", path, fsz - 1, fsz);
    const char *truncated[] = {want, "run `make data`", NULL};
    if (!rc && write_sparse(path, fsz - 1, 0, NULL, 0))
        rc = tl_fail("cannot write %s", path);
    if (!rc)
        rc = expect_load_error(dir, CIFAR_10, CIFAR_TEST, truncated);
    /* one record too many */
    snprintf(want, sizeof want, "%s is too long: %zu bytes", path, fsz + 3073);
    const char *longer[] = {want, "run `make data`", NULL};
    if (!rc && write_sparse(path, fsz + 3073, 0, NULL, 0))
        rc = tl_fail("cannot write %s", path);
    if (!rc)
        rc = expect_load_error(dir, CIFAR_10, CIFAR_TEST, longer);
    /* empty */
    const char *empty[] = {"is truncated: 0 bytes", NULL};
    if (!rc && write_file(path, "", 0))
        rc = tl_fail("cannot write %s", path);
    if (!rc)
        rc = expect_load_error(dir, CIFAR_10, CIFAR_TEST, empty);
    /* label 10 in record 9999 */
    uint8_t rec[3073];
    make_record(rec, CIFAR_10, 0, 10, 0, 0);
    const char *label[] = {"test_batch.bin record 9999 has label 10, expected 0..9; run "
                           "`make data`", NULL};
    if (!rc && write_sparse(path, fsz, fsz - 3073, rec, 3073))
        rc = tl_fail("cannot write %s", path);
    if (!rc)
        rc = expect_load_error(dir, CIFAR_10, CIFAR_TEST, label);
    /* a training split with only the first file present names the second */
    snprintf(path, sizeof path, "%s/data_batch_1.bin", dir);
    snprintf(want, sizeof want, "cannot open %s/data_batch_2.bin", dir);
    const char *second[] = {want, NULL};
    if (!rc && write_sparse(path, fsz, 0, NULL, 0))
        rc = tl_fail("cannot write %s", path);
    if (!rc)
        rc = expect_load_error(dir, CIFAR_10, CIFAR_TRAIN, second);
    /* a directory where a file should be */
    snprintf(path, sizeof path, "%s/test.bin", dir);
    const char *notfile[] = {"test.bin is not a regular file", "make data-cifar100", NULL};
    if (!rc && mkdir(path, 0700))
        rc = tl_fail("cannot mkdir %s", path);
    if (!rc)
        rc = expect_load_error(dir, CIFAR_100, CIFAR_TEST, notfile);
    rmdir(path);
    remove_tmpdir(dir);
    /* The parser on its own: partial records and records that do not fit. */
    CifarSet s = {0};
    Err err;
    if (!rc && data_cifar_alloc(&s, CIFAR_10, 2, &err))
        return tl_fail("%s", err.msg);
    uint8_t buf[3 * 3073] = {0};
    if (!rc && (!data_cifar_parse(&s, 0, buf, 3073 + 5, "x.bin", 0, &err) ||
                !strstr(err.msg, "x.bin has 3078 bytes, not a whole number of 3073-byte records")))
        rc = tl_fail("partial record: %s", err.msg);
    if (!rc && (!data_cifar_parse(&s, 0, buf, 3 * 3073, NULL, 0, &err) ||
                !strstr(err.msg, "holds 3 records, which do not fit at 0 in a set of 2")))
        rc = tl_fail("overflow: %s", err.msg);
    if (!rc && (!data_cifar_parse(&s, 2, buf, 3073, NULL, 0, &err) ||
                data_cifar_parse(&s, 1, buf, 3073, NULL, 0, &err) ||
                data_cifar_parse(&s, 2, buf, 0, NULL, 0, &err)))
        rc = tl_fail("placement checks wrong: %s", err.msg);
    data_cifar_free(&s);
    return rc;
}

/* ---- the PNG converter --------------------------------------------------------------------- */

/* PNG bytes of a w x h image with `channels` 8-bit channels (3 RGB, 4 RGBA, 1 gray). */
static uint8_t *encode_png(const uint8_t *px, int w, int h, int channels, size_t *len)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = channels == 4 ? PNG_FORMAT_RGBA : channels == 1 ? PNG_FORMAT_GRAY
                                                                : PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&im, NULL, &size, 0, px, 0, NULL))
        return NULL;
    uint8_t *buf = malloc(size);
    if (buf && !png_image_write_to_memory(&im, buf, &size, 0, px, 0, NULL)) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}

#define PNG_TEST_ROWS 3

static int test_png_convert(void)
{
    const int rows = PNG_TEST_ROWS, w = P2B_WIDTH;
    uint8_t *px = malloc((size_t)rows * w * 4), *out = malloc((size_t)rows * P2B_RECORD);
    uint8_t labels[PNG_TEST_ROWS] = {6, 0, 9};
    if (!px || !out) {
        free(px);
        free(out);
        return tl_fail("out of memory");
    }
    Rng r;
    rng_seed(&r, tl_seed, 1);
    for (size_t i = 0; i < (size_t)rows * w * 4; i++)
        px[i] = (uint8_t)rng_below(&r, 256);
    size_t len = 0;
    char msg[512] = "";
    int rc = 0;
    uint8_t *png = encode_png(px, w, rows, 3, &len);
    if (!png)
        rc = tl_fail("cannot encode a PNG");
    if (!rc && png2bin_convert(png, len, labels, (size_t)rows, out, msg, sizeof msg))
        rc = tl_fail("convert: %s", msg);
    for (int k = 0; k < rows && !rc; k++) {
        const uint8_t *rec = out + (size_t)k * P2B_RECORD;
        if (rec[0] != labels[k])
            rc = tl_fail("record %d label %d, expected %d", k, rec[0], labels[k]);
        for (int p = 0; p < w && !rc; p++)
            for (int c = 0; c < 3 && !rc; c++)
                if (rec[1 + c * P2B_PLANE + p] != px[((size_t)k * w + (size_t)p) * 3 + (size_t)c])
                    rc = tl_fail("record %d channel %d pixel %d differs", k, c, p);
    }
    /* The converted records load as CIFAR-10 records. */
    CifarSet s;
    Err err;
    if (!rc && data_cifar_alloc(&s, CIFAR_10, rows, &err))
        rc = tl_fail("%s", err.msg);
    else if (!rc) {
        if (data_cifar_parse(&s, 0, out, (size_t)rows * P2B_RECORD, "png", 0, &err))
            rc = tl_fail("%s", err.msg);
        else if (s.label[2] != 9 || s.pixels[CIFAR_PIXELS + 1024] != px[(size_t)w * 3 + 1])
            rc = tl_fail("parsed records differ");
        data_cifar_free(&s);
    }
    /* Errors: wrong height, wrong width, RGBA, gray, truncation, bad signature. */
    if (!rc && (!png2bin_convert(png, len, labels, (size_t)rows - 1, out, msg, sizeof msg) ||
                !strstr(msg, "image is 1024 x 3 pixels, expected 1024 x 2")))
        rc = tl_fail("wrong height: %s", msg);
    free(png);
    png = NULL;
    if (!rc && !(png = encode_png(px, w - 1, rows, 3, &len)))
        rc = tl_fail("cannot encode");
    if (!rc && (!png2bin_convert(png, len, labels, (size_t)rows, out, msg, sizeof msg) ||
                !strstr(msg, "image is 1023 x 3 pixels, expected 1024 x 3")))
        rc = tl_fail("wrong width: %s", msg);
    free(png);
    png = NULL;
    if (!rc && !(png = encode_png(px, w, rows, 4, &len)))
        rc = tl_fail("cannot encode");
    if (!rc && (!png2bin_convert(png, len, labels, (size_t)rows, out, msg, sizeof msg) ||
                !strstr(msg, "colour type 6, expected 8-bit RGB")))
        rc = tl_fail("RGBA: %s", msg);
    free(png);
    png = NULL;
    if (!rc && !(png = encode_png(px, w, rows, 1, &len)))
        rc = tl_fail("cannot encode");
    if (!rc && (!png2bin_convert(png, len, labels, (size_t)rows, out, msg, sizeof msg) ||
                !strstr(msg, "colour type 0")))
        rc = tl_fail("gray: %s", msg);
    free(png);
    png = NULL;
    if (!rc && !(png = encode_png(px, w, rows, 3, &len)))
        rc = tl_fail("cannot encode");
    if (!rc && (!png2bin_convert(png, len / 2, labels, (size_t)rows, out, msg, sizeof msg) ||
                !strstr(msg, "PNG error")))
        rc = tl_fail("truncated: %s", msg);
    if (!rc && png)
        png[0] = 'x';
    if (!rc && (!png2bin_convert(png, len, labels, (size_t)rows, out, msg, sizeof msg) ||
                !strstr(msg, "not a PNG file")))
        rc = tl_fail("signature: %s", msg);
    free(png);
    free(px);
    free(out);
    return rc;
}

static int test_png_labels(void)
{
    uint8_t *v = NULL;
    size_t n = 0;
    char msg[512] = "";
    const char *good = " [6, 9,9 ,4,\n1]\n";
    if (png2bin_parse_labels(good, strlen(good), &v, &n, msg, sizeof msg))
        return tl_fail("valid labels rejected: %s", msg);
    int ok = n == 5 && v[0] == 6 && v[1] == 9 && v[3] == 4 && v[4] == 1;
    free(v);
    if (!ok)
        return tl_fail("labels parsed wrong (n = %zu)", n);
    if (png2bin_parse_labels("[]", 2, &v, &n, msg, sizeof msg) || n != 0)
        return tl_fail("empty array: %s", msg);
    free(v);
    static const char *const bad[][2] = {
        {"[1,10]", "entry 1 is 10, expected 0..9"}, {"[1,2", "expected ',' or ']'"},
        {"1,2]", "expected '['"},                   {"[1,2]x", "unexpected data"},
        {"[1,,2]", "expected a class number"},      {"[-1]", "expected a class number"},
        {"[0001]", "number too long"},              {"", "expected '['"},
        {"[1,]", "expected a class number"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = NULL;
        if (!png2bin_parse_labels(bad[i][0], strlen(bad[i][0]), &v, &n, msg, sizeof msg)) {
            free(v);
            return tl_fail("'%s' accepted", bad[i][0]);
        }
        if (v || !strstr(msg, bad[i][1]))
            return tl_fail("'%s': message '%s', expected '%s'", bad[i][0], msg, bad[i][1]);
    }
    return 0;
}

/* ---- fuzz regressions and cost ------------------------------------------------------------- */

/* Every file under tests/fuzz/regress/ (hostile inputs: hand-made edge cases and whatever
 * `make fuzz` found) and the seed corpora go through all three parsers, which must return
 * cleanly (a crash shows here and under `make test-asan`); the regression inputs are all
 * invalid, so every parser must reject them. */
static int test_fuzz_regressions(void)
{
    static const char *const dirs[] = {"tests/fuzz/regress", "tests/fuzz/seeds_png",
                                       "tests/fuzz/seeds_records", "tests/fuzz/seeds_labels",
                                       "tests/fuzz/seeds_jpeg"};
    static uint8_t buf[1 << 20];
    int files = 0, rc = 0;
    uint8_t *out = malloc((size_t)P2B_RECORD * 4);
    Err jerr;
    JpegDecoder *jdec = jpeg_decoder_new(&jerr);
    if (!out || !jdec) {
        free(out);
        jpeg_decoder_free(jdec);
        return tl_fail("out of memory");
    }
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0] && !rc; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) {
            rc = tl_fail("cannot open %s (run from the repository root)", dirs[d]);
            break;
        }
        struct dirent *e;
        while (!rc && (e = readdir(dp))) {
            if (e->d_name[0] == '.')
                continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            FILE *f = fopen(path, "rb");
            if (!f)
                continue;
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            char msg[512];
            uint8_t labels[4] = {0, 1, 2, 3}, *v = NULL;
            size_t n;
            int accepted = 0;
            for (size_t rows = 1; rows <= 4; rows++)
                accepted += !png2bin_convert(buf, len, labels, rows, out, msg, sizeof msg);
            if (!png2bin_parse_labels((const char *)buf, len, &v, &n, msg, sizeof msg)) {
                free(v);
                accepted++;
            }
            CifarSet s;
            Err err;
            for (int k = 0; k < 2; k++)
                if (!data_cifar_alloc(&s, k ? CIFAR_100 : CIFAR_10, 4, &err)) {
                    accepted += !data_cifar_parse(&s, 0, buf, len, path, 0, &err);
                    data_cifar_free(&s);
                }
            /* the JPEG decoder: regression files whole, seeds past their 2 header bytes */
            size_t skip = strstr(dirs[d], "seeds_jpeg") && len >= 2 ? 2 : 0;
            JpegImage img;
            if (jdec && !jpeg_decode(jdec, buf + skip, len - skip, skip ? buf[0] : 0,
                                     skip ? buf[1] : 0, &img, &err))
                accepted++;
            if (d == 0 && accepted)
                rc = tl_fail("regression input %s was accepted by a parser", path);
            files++;
        }
        closedir(dp);
    }
    free(out);
    jpeg_decoder_free(jdec);
    printf("  %d fuzz corpus and regression files parsed\n", files);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"real_md5", test_real_md5},
        {"real_contents", test_real_contents},
        {"cifar10_files", test_cifar10_files},
        {"cifar100_files", test_cifar100_files},
        {"file_errors", test_file_errors},
        {"png_convert", test_png_convert},
        {"png_labels", test_png_labels},
        {"fuzz_regressions", test_fuzz_regressions},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
