/*
 * test_imagenet.c: harness/data/imagenet.c on JPEG files the test writes (jpeg_encode):
 *   - evaluation of a 256 x 256 image at out 224 is its centre crop, pixel for pixel (scale 1,
 *     integer offsets: the bilinear sampler must land on pixel centres), normalised;
 *   - a training batch is the same bits at 1 and 3 threads, and the same for a loader made
 *     again with the same seed and epoch; another epoch changes it; every example is finite
 *     and within the range normalisation allows;
 *   - a corrupt file fails the batch with its path; with skip_bad it is left out and counted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/imagenet.h"
#include "data/jpeg.h"
#include "testlib.h"

#define N_FILES 5

static char g_dir[256];
static char g_path[N_FILES][320];

/* Smooth RGB content of w x h, different per file. */
static int write_image(const char *path, int w, int h, int seed, int channels)
{
    Err err;
    uint8_t *px = malloc((size_t)w * (size_t)h * (size_t)channels);
    if (!px)
        return tl_fail("out of memory");
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++)
                px[((size_t)y * (size_t)w + (size_t)x) * (size_t)channels + (size_t)c] =
                    (uint8_t)(128 + 100 * sin(seed + c + x / 9.0 + y / 13.0));
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = jpeg_encode(px, w, h, channels, 95, &buf, &len, &err);
    free(px);
    if (rc)
        return tl_fail("%s", err.msg);
    FILE *f = fopen(path, "wb");
    size_t put = f ? fwrite(buf, 1, len, f) : 0;
    if (f)
        fclose(f);
    jpeg_free_buf(buf);
    return put == len ? 0 : tl_fail("cannot write %s", path);
}

/* A folder of N_FILES images: varied sizes, one grayscale, one CMYK. */
static int make_files(void)
{
    static const int size[N_FILES][3] = {
        {256, 256, 3}, {300, 200, 3}, {120, 180, 1}, {97, 61, 4}, {400, 333, 3}};
    if (tl_tmpdir(g_dir, sizeof g_dir, "test_imagenet"))
        return 1;
    for (int i = 0; i < N_FILES; i++) {
        snprintf(g_path[i], sizeof g_path[i], "%s/img%d.JPEG", g_dir, i);
        if (write_image(g_path[i], size[i][0], size[i][1], i, size[i][2]))
            return 1;
    }
    return 0;
}

static int make_set(ImagenetSet *s)
{
    const char *paths[N_FILES];
    int labels[N_FILES];
    for (int i = 0; i < N_FILES; i++) {
        paths[i] = g_path[i];
        labels[i] = i % 2;
    }
    Err err;
    if (imagenet_set_init(s, N_FILES, paths, labels, NULL, 2, &err))
        return tl_fail("%s", err.msg);
    return 0;
}

static ImagenetOptions options(int train, int out, int threads)
{
    ImagenetOptions o;
    memset(&o, 0, sizeof o);
    o.batch = N_FILES;
    o.out = out;
    o.train = train;
    o.seed = 7;
    o.jitter = 0.4;
    o.lighting = 0.1;
    o.nthreads = threads;
    memcpy(o.mean, IMAGENET_MEAN, sizeof o.mean);
    memcpy(o.std, IMAGENET_STD, sizeof o.std);
    return o;
}

static int test_eval_is_the_centre_crop(void)
{
    ImagenetSet s;
    ImagenetLoader ld;
    Err err;
    if (make_files() || make_set(&s))
        return 1;
    ImagenetOptions o = options(0, IMAGENET_CROP, 1);
    int rc = 0;
    if (imagenet_loader_init(&ld, &s, &o, &err))
        rc = tl_fail("%s", err.msg);
    size_t plane = (size_t)IMAGENET_CROP * IMAGENET_CROP;
    float *got = malloc(3 * plane * sizeof(float));
    JpegDecoder *d = jpeg_decoder_new(&err);
    FILE *f = fopen(g_path[0], "rb");
    uint8_t file[1 << 17];
    size_t len = f ? fread(file, 1, sizeof file, f) : 0;
    if (f)
        fclose(f);
    JpegImage img;
    if (!rc && (!got || !d || !len || jpeg_decode(d, file, len, 0, 0, &img, &err)))
        rc = tl_fail("set-up: %s", err.msg);
    if (!rc && imagenet_example(&ld, 0, got, &err))
        rc = tl_fail("%s", err.msg);
    int off = (256 - IMAGENET_CROP) / 2;
    for (int c = 0; !rc && c < 3; c++)
        for (int y = 0; !rc && y < IMAGENET_CROP; y++)
            for (int x = 0; x < IMAGENET_CROP; x++) {
                uint8_t v = img.rgb[((size_t)(y + off) * 256 + (size_t)(x + off)) * 3 +
                                    (size_t)c];
                float want = ((float)v / 255.0f - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
                float g = got[(size_t)c * plane + (size_t)y * IMAGENET_CROP + (size_t)x];
                if (fabsf(g - want) > 1e-5f) {
                    rc = tl_fail("channel %d (%d, %d): %g, expected %g (byte %d)", c, y, x,
                                 (double)g, (double)want, v);
                    break;
                }
            }
    jpeg_decoder_free(d);
    free(got);
    if (ld.set)
        imagenet_loader_free(&ld);
    imagenet_set_free(&s);
    tl_tmpdir_remove(g_dir);
    return rc;
}

/* The first batch of epoch e with `threads` threads into x (N_FILES x 3 x 64 x 64). */
static int batch(const ImagenetSet *s, int epoch, int threads, Tensor *x, float *labels)
{
    ImagenetLoader ld;
    Err err;
    ImagenetOptions o = options(1, 64, threads);
    int n = 0, rc = imagenet_loader_init(&ld, s, &o, &err);
    if (!rc) {
        imagenet_loader_epoch(&ld, epoch);
        rc = imagenet_loader_next(&ld, x, labels, &n, &err);
        imagenet_loader_free(&ld);
    }
    if (rc || n != N_FILES)
        return tl_fail("batch: %d rows (%s)", n, rc ? err.msg : "");
    return 0;
}

static int test_train_batches_are_deterministic(void)
{
    ImagenetSet s;
    Err err;
    if (make_files() || make_set(&s))
        return 1;
    int shape[4] = {N_FILES, 3, 64, 64};
    Tensor a = {0}, b = {0}, c = {0};
    float la[N_FILES], lb[N_FILES], lc[N_FILES];
    int rc = tensor_alloc(&a, 4, shape, &err) || tensor_alloc(&b, 4, shape, &err) ||
             tensor_alloc(&c, 4, shape, &err);
    if (rc)
        tl_fail("%s", err.msg);
    rc = rc || batch(&s, 3, 1, &a, la) || batch(&s, 3, 3, &b, lb) || batch(&s, 4, 2, &c, lc);
    if (!rc && (memcmp(a.data, b.data, a.size * sizeof(float)) || memcmp(la, lb, sizeof la)))
        rc = tl_fail("epoch 3: 1 and 3 threads differ");
    if (!rc && !memcmp(a.data, c.data, a.size * sizeof(float)))
        rc = tl_fail("epochs 3 and 4 give the same batch");
    /* normalised [0, 1] values plus lighting stay within a few units */
    for (size_t i = 0; !rc && i < a.size; i++)
        if (!isfinite(a.data[i]) || fabsf(a.data[i]) > 4.0f)
            rc = tl_fail("value %zu is %g", i, (double)a.data[i]);
    tensor_free(&a);
    tensor_free(&b);
    tensor_free(&c);
    imagenet_set_free(&s);
    tl_tmpdir_remove(g_dir);
    return rc;
}

static int test_bad_file(void)
{
    ImagenetSet s;
    ImagenetLoader ld;
    Err err;
    if (make_files())
        return 1;
    FILE *f = fopen(g_path[2], "wb"); /* example 2 becomes text */
    if (f) {
        fputs("not an image", f);
        fclose(f);
    }
    if (make_set(&s))
        return 1;
    int shape[4] = {N_FILES, 3, 64, 64};
    Tensor x = {0};
    float labels[N_FILES];
    int n = 0, rc = tensor_alloc(&x, 4, shape, &err);
    ImagenetOptions o = options(0, 64, 2);
    if (!rc)
        rc = imagenet_loader_init(&ld, &s, &o, &err);
    if (!rc) {
        rc = tl_expect_error("bad file", imagenet_loader_next(&ld, &x, labels, &n, &err) != 0,
                             &err, g_path[2]);
        imagenet_loader_free(&ld);
    } else {
        tl_fail("%s", err.msg);
    }
    o.skip_bad = 1;
    if (!rc && imagenet_loader_init(&ld, &s, &o, &err))
        rc = tl_fail("%s", err.msg);
    if (!rc) {
        if (imagenet_loader_next(&ld, &x, labels, &n, &err) || n != N_FILES - 1 ||
            ld.skipped != 1 || labels[2] != (float)(3 % 2))
            rc = tl_fail("skip_bad: %d rows, %lld skipped, labels[2] %g", n, ld.skipped,
                         (double)labels[2]);
        imagenet_loader_free(&ld);
    }
    tensor_free(&x);
    imagenet_set_free(&s);
    tl_tmpdir_remove(g_dir);
    return rc;
}

int main(int argc, char **argv)
{
    static const TestCase tests[] = {
        {"eval_is_the_centre_crop", test_eval_is_the_centre_crop},
        {"train_batches_are_deterministic", test_train_batches_are_deterministic},
        {"bad_file", test_bad_file},
    };
    return tl_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
