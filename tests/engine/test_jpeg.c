/*
 * test_jpeg.c: harness/data/jpeg.c on JPEGs the test makes with TurboJPEG's compressor: an RGB
 * image decoded at full size within JPEG's error of the source; the DCT scale picked as the
 * smallest that covers the asked size (1/4, 3/8, full size when nothing smaller covers it)
 * and its pixels near the source's box averages; grayscale files replicated into R = G = B;
 * CMYK (YCCK) files converted with PIL's rule for Adobe's inverted values; a PNG, bytes that
 * are not a JPEG and a truncated file refused with their messages.
 */
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "data/jpeg.h"
#include "testlib.h"

#define W 64
#define H 48
/* JPEG at quality 100 with 4:4:4 sampling on a smooth image: the decoded values stay within a
 * few levels of the source; observed mean abs error 0.40 (RGB), 0.01 (gray), 0.20 (CMYK). */
#define MEAN_ERR_MAX 2.0
/* DCT scaling against the source's 4 x 4 box averages at 1/4: observed mean 0.62. */
#define SCALED_MEAN_ERR_MAX 3.0

/* A smooth test image of `ch` channels: gradients and a slow wave per channel. */
static void fill_image(uint8_t *px, int ch)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < ch; c++) {
                int v = (x * 3 + y * (c + 1) * 2 + 40 * c) % 200 + 20;
                px[((size_t)y * W + (size_t)x) * (size_t)ch + (size_t)c] = (uint8_t)v;
            }
}

/* Compresses px (W x H, pixel format pf) into *jpg (tjFree it), quality 100. */
static int compress(const uint8_t *px, int pf, int subsamp, unsigned char **jpg,
                    unsigned long *len)
{
    tjhandle tj = tjInitCompress();
    *jpg = NULL;
    *len = 0;
    int rc = !tj || tjCompress2(tj, px, W, 0, H, pf, jpg, len, subsamp, 100,
                                TJFLAG_ACCURATEDCT);
    if (rc)
        tl_fail("tjCompress2: %s", tj ? tjGetErrorStr2(tj) : "no handle");
    if (tj)
        tjDestroy(tj);
    return rc;
}

/* Mean absolute difference of n bytes. */
static double mean_abs(const uint8_t *a, const uint8_t *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

static int decode(JpegDecoder *d, const unsigned char *jpg, unsigned long len, int min_w,
                  int min_h, JpegImage *img)
{
    Err err;
    if (jpeg_decode(d, jpg, len, min_w, min_h, img, &err))
        return tl_fail("decode at %d x %d: %s", min_w, min_h, err.msg);
    return 0;
}

static int test_rgb_full_and_scaled(void)
{
    Err err;
    uint8_t *src = malloc((size_t)W * H * 3), *box = malloc((size_t)W * H * 3);
    JpegDecoder *d = jpeg_decoder_new(&err);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    int rc = !src || !box || !d;
    if (rc)
        tl_fail("set-up: out of memory or %s", err.msg);
    if (!rc) {
        fill_image(src, 3);
        rc = compress(src, TJPF_RGB, TJSAMP_444, &jpg, &len);
    }
    JpegImage img;
    int w = 0, h = 0;
    if (!rc && (jpeg_size(d, jpg, len, &w, &h, &err) || w != W || h != H))
        rc = tl_fail("jpeg_size: %d x %d (%s)", w, h, err.msg);
    if (!rc)
        rc = decode(d, jpg, len, 0, 0, &img);
    if (!rc && (img.w != W || img.h != H || img.num != img.den))
        rc = tl_fail("full size: %d x %d at %d/%d", img.w, img.h, img.num, img.den);
    double e = rc ? 0.0 : mean_abs(img.rgb, src, (size_t)W * H * 3);
    if (!rc && e > MEAN_ERR_MAX)
        rc = tl_fail("full size: mean abs error %.2f > %.2f", e, MEAN_ERR_MAX);
    /* the scale: 16 x 12 is covered by 1/4 exactly; 17 x 12 needs 3/8; 100 x 100 nothing */
    static const struct { int mw, mh, w, h, num, den; } cases[] = {
        {16, 12, 16, 12, 1, 4}, {17, 12, 24, 18, 3, 8}, {100, 100, W, H, 1, 1},
        {1, 1, 8, 6, 1, 8}};
    for (size_t c = 0; !rc && c < sizeof cases / sizeof cases[0]; c++) {
        rc = decode(d, jpg, len, cases[c].mw, cases[c].mh, &img);
        if (!rc && (img.w != cases[c].w || img.h != cases[c].h ||
                    img.num * cases[c].den != cases[c].num * img.den))
            rc = tl_fail("min %d x %d: %d x %d at %d/%d, expected %d x %d at %d/%d",
                         cases[c].mw, cases[c].mh, img.w, img.h, img.num, img.den, cases[c].w,
                         cases[c].h, cases[c].num, cases[c].den);
    }
    /* 1/4: each output pixel near the mean of its 4 x 4 source block */
    if (!rc)
        rc = decode(d, jpg, len, 16, 12, &img);
    for (int y = 0; !rc && y < H / 4; y++)
        for (int x = 0; x < W / 4; x++)
            for (int c = 0; c < 3; c++) {
                int s = 0;
                for (int dy = 0; dy < 4; dy++)
                    for (int dx = 0; dx < 4; dx++)
                        s += src[((size_t)(4 * y + dy) * W + (size_t)(4 * x + dx)) * 3 +
                                 (size_t)c];
                box[((size_t)y * (W / 4) + (size_t)x) * 3 + (size_t)c] = (uint8_t)((s + 8) / 16);
            }
    e = rc ? 0.0 : mean_abs(img.rgb, box, (size_t)(W / 4) * (H / 4) * 3);
    if (!rc && e > SCALED_MEAN_ERR_MAX)
        rc = tl_fail("1/4 scale: mean abs error %.2f against box averages > %.2f", e,
                     SCALED_MEAN_ERR_MAX);
    tjFree(jpg);
    jpeg_decoder_free(d);
    free(src);
    free(box);
    return rc;
}

static int test_gray(void)
{
    Err err;
    uint8_t *src = malloc((size_t)W * H), *rep = malloc((size_t)W * H * 3);
    JpegDecoder *d = jpeg_decoder_new(&err);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    JpegImage img;
    int rc = !src || !rep || !d;
    if (rc)
        tl_fail("set-up: out of memory or %s", err.msg);
    if (!rc) {
        fill_image(src, 1);
        rc = compress(src, TJPF_GRAY, TJSAMP_GRAY, &jpg, &len) ||
             decode(d, jpg, len, 0, 0, &img);
    }
    for (size_t i = 0; !rc && i < (size_t)W * H; i++) {
        if (img.rgb[3 * i] != img.rgb[3 * i + 1] || img.rgb[3 * i] != img.rgb[3 * i + 2])
            rc = tl_fail("gray: pixel %zu is %d %d %d, expected R = G = B", i, img.rgb[3 * i],
                         img.rgb[3 * i + 1], img.rgb[3 * i + 2]);
        rep[3 * i] = rep[3 * i + 1] = rep[3 * i + 2] = src[i];
    }
    double e = rc ? 0.0 : mean_abs(img.rgb, rep, (size_t)W * H * 3);
    if (!rc && e > MEAN_ERR_MAX)
        rc = tl_fail("gray: mean abs error %.2f > %.2f", e, MEAN_ERR_MAX);
    tjFree(jpg);
    jpeg_decoder_free(d);
    free(src);
    free(rep);
    return rc;
}

/* PIL's conversion of stored (inverted) CMYK: R = K' - round((255 - C') K' / 255). */
static int test_cmyk(void)
{
    Err err;
    uint8_t *src = malloc((size_t)W * H * 4), *want = malloc((size_t)W * H * 3);
    JpegDecoder *d = jpeg_decoder_new(&err);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    JpegImage img;
    int rc = !src || !want || !d;
    if (rc)
        tl_fail("set-up: out of memory or %s", err.msg);
    if (!rc) {
        fill_image(src, 4);
        rc = compress(src, TJPF_CMYK, TJSAMP_444, &jpg, &len) ||
             decode(d, jpg, len, 0, 0, &img);
    }
    for (size_t i = 0; !rc && i < (size_t)W * H; i++) {
        int nk = src[4 * i + 3];
        for (int c = 0; c < 3; c++) {
            int t = (255 - src[4 * i + (size_t)c]) * nk + 128;
            want[3 * i + (size_t)c] = (uint8_t)(nk - (((t >> 8) + t) >> 8));
        }
    }
    double e = rc ? 0.0 : mean_abs(img.rgb, want, (size_t)W * H * 3);
    if (!rc && e > MEAN_ERR_MAX)
        rc = tl_fail("cmyk: mean abs error %.2f > %.2f", e, MEAN_ERR_MAX);
    tjFree(jpg);
    jpeg_decoder_free(d);
    free(src);
    free(want);
    return rc;
}

static int test_errors(void)
{
    Err err;
    JpegDecoder *d = jpeg_decoder_new(&err);
    uint8_t *src = malloc((size_t)W * H * 3);
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    JpegImage img;
    int rc = !d || !src;
    if (rc)
        return tl_fail("set-up: out of memory");
    static const uint8_t png[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t text[16] = "hello, not jpeg";
    rc = tl_expect_error("png", jpeg_decode(d, png, sizeof png, 0, 0, &img, &err) != 0, &err,
                         "jpeg: a PNG file, not a JPEG") ||
         tl_expect_error("text", jpeg_decode(d, text, sizeof text, 0, 0, &img, &err) != 0,
                         &err, "jpeg: not a JPEG file");
    if (!rc) {
        fill_image(src, 3);
        rc = compress(src, TJPF_RGB, TJSAMP_444, &jpg, &len);
    }
    /* the first half of the file: the header reads, the scan ends early */
    if (!rc)
        rc = tl_expect_error("truncated", jpeg_decode(d, jpg, len / 2, 0, 0, &img, &err) != 0,
                             &err, "jpeg: cannot decode: Premature end of JPEG file");
    /* 2 bytes of junk before the SOS marker: libjpeg warns of extraneous bytes, the image is
     * whole and accepted, equal to the clean file's decode */
    uint8_t *junk = malloc(len + 2);
    const unsigned char *sos = NULL;
    for (unsigned long i = 0; !rc && i + 1 < len && !sos; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xda)
            sos = jpg + i;
    if (!rc && (!junk || !sos))
        rc = tl_fail("set-up: %s", junk ? "no SOS marker" : "out of memory");
    if (!rc) {
        size_t pre = (size_t)(sos - jpg);
        memcpy(junk, jpg, pre);
        junk[pre] = 0x12;
        junk[pre + 1] = 0x34;
        memcpy(junk + pre + 2, sos, len - pre);
        JpegImage clean;
        uint8_t *first = malloc((size_t)W * H * 3);
        if (!first || jpeg_decode(d, jpg, len, 0, 0, &clean, &err))
            rc = tl_fail("clean decode: %s", first ? err.msg : "out of memory");
        if (!rc)
            memcpy(first, clean.rgb, (size_t)W * H * 3);
        if (!rc && jpeg_decode(d, junk, len + 2, 0, 0, &img, &err))
            rc = tl_fail("extraneous bytes refused: %s", err.msg);
        if (!rc && memcmp(first, img.rgb, (size_t)W * H * 3))
            rc = tl_fail("extraneous bytes: the pixels differ from the clean file's");
        free(first);
    }
    free(junk);
    tjFree(jpg);
    free(src);
    jpeg_decoder_free(d);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"rgb_full_and_scaled", test_rgb_full_and_scaled},
        {"gray", test_gray},
        {"cmyk", test_cmyk},
        {"errors", test_errors},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
