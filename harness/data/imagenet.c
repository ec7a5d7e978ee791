/*
 * imagenet.c: ILSVRC-2012 batches (see imagenet.h for the pipeline, the draws and their
 * order). Non-goals: the folder index (harness/lua/imagenet.lua), decoding ahead of the
 * training step on other threads (a batch is decoded when asked for, in parallel), EXIF.
 */
#include "data/imagenet.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_cifar.h"
#include "data/jpeg.h"

const float IMAGENET_MEAN[3] = {0.485f, 0.456f, 0.406f};
const float IMAGENET_STD[3] = {0.229f, 0.224f, 0.225f};
const float IMAGENET_PCA_EIGVAL[3] = {0.2175f, 0.0188f, 0.0045f};
const float IMAGENET_PCA_EIGVEC[3][3] = {
    {-0.5675f, 0.7192f, 0.4009f}, {-0.5808f, -0.0045f, -0.8140f}, {-0.5836f, -0.6948f, 0.4203f}};

struct ImagenetDecodeSlot {
    JpegDecoder *dec;
    uint8_t *file;  /* the file's bytes */
    size_t cap;     /* bytes file holds */
};

/* ---- the set ------------------------------------------------------------------------------ */

int imagenet_set_init(ImagenetSet *s, int n, const char *const *path, const int *label,
                      const long long *bytes,
                      int num_classes, Err *err)
{
    memset(s, 0, sizeof *s);
    if (n < 1 || num_classes < 1)
        return err_set(err, "imagenet: %d examples of %d classes, expected >= 1 of each", n,
                       num_classes);
    s->path = calloc((size_t)n, sizeof *s->path);
    s->label = malloc((size_t)n * sizeof *s->label);
    s->bytes = bytes ? malloc((size_t)n * sizeof *s->bytes) : NULL;
    if (!s->path || !s->label || (bytes && !s->bytes)) {
        imagenet_set_free(s);
        return err_set(err, "imagenet: out of memory for %d examples", n);
    }
    s->n = n;
    s->num_classes = num_classes;
    for (int i = 0; i < n; i++) {
        if (label[i] < 0 || label[i] >= num_classes) {
            err_set(err, "imagenet: %s has label %d, expected 0..%d", path[i], label[i],
                    num_classes - 1);
            imagenet_set_free(s);
            return -1;
        }
        if (bytes && bytes[i] < 0) {
            err_set(err, "imagenet: %s has size %lld bytes, expected >= 0", path[i], bytes[i]);
            imagenet_set_free(s);
            return -1;
        }
        s->label[i] = label[i];
        if (bytes)
            s->bytes[i] = bytes[i];
        s->path[i] = strdup(path[i]);
        if (!s->path[i]) {
            imagenet_set_free(s);
            return err_set(err, "imagenet: out of memory for the paths");
        }
    }
    return 0;
}

void imagenet_set_free(ImagenetSet *s)
{
    for (int i = 0; s->path && i < s->n; i++)
        free(s->path[i]);
    free(s->path);
    free(s->label);
    free(s->bytes);
    memset(s, 0, sizeof *s);
}

/* ---- one example -------------------------------------------------------------------------- */

/* The file's bytes into the slot's buffer; *len its size, which must be `want` unless want < 0. */
static int read_file(ImagenetDecodeSlot *sl, const char *path, long long want, size_t *len,
                     Err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "cannot open it");
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return err_set(err, "cannot read its size");
    }
    if (want >= 0 && size != want) {
        fclose(f);
        return err_set(err, "%ld bytes, the index says %lld: the file changed since the index "
                       "was written; rerun `make data-imagenet`", size, want);
    }
    if ((size_t)size > sl->cap) {
        uint8_t *nb = realloc(sl->file, (size_t)size);
        if (!nb) {
            fclose(f);
            return err_set(err, "out of memory for %ld bytes", size);
        }
        sl->file = nb;
        sl->cap = (size_t)size;
    }
    size_t got = fread(sl->file, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size)
        return err_set(err, "read %zu of %ld bytes", got, size);
    *len = got;
    return 0;
}

/* A crop of the full image: x0, y0, w, h in full-size pixels. */
typedef struct Crop {
    double x0, y0, w, h;
} Crop;

/* fb.resnet.torch's RandomSizedCrop draws (imagenet.h step 1) on a W x H image. */
static Crop draw_crop(Rng *r, int W, int H)
{
    for (int t = 0; t < IMAGENET_TRIES; t++) {
        double area = (double)W * H * (IMAGENET_AREA_MIN + (1.0 - IMAGENET_AREA_MIN) *
                                                               rng_uniform(r));
        double ratio = IMAGENET_RATIO_MIN +
                       (IMAGENET_RATIO_MAX - IMAGENET_RATIO_MIN) * rng_uniform(r);
        int w = (int)lround(sqrt(area * ratio)), h = (int)lround(sqrt(area / ratio));
        if (rng_uniform(r) < 0.5) {
            int tmp = w;
            w = h;
            h = tmp;
        }
        if (w >= 1 && h >= 1 && w <= W && h <= H) {
            int x0 = (int)rng_below(r, (uint64_t)(W - w + 1));
            int y0 = (int)rng_below(r, (uint64_t)(H - h + 1));
            return (Crop){x0, y0, w, h};
        }
    }
    int s = W < H ? W : H;
    return (Crop){(W - s) / 2, (H - s) / 2, s, s};
}

/* The evaluation crop: the shorter side scaled to `resize`, its centre out x out, as a region
 * of the full image. */
static Crop eval_crop(int W, int H, int resize, int out)
{
    double k = (double)resize / (W < H ? W : H); /* full -> resized */
    double w = out / k, h = out / k;
    return (Crop){(W - w) / 2.0, (H - h) / 2.0, w, h};
}

/* Where output sample i of `out` over [pos, pos + len) falls on an axis of `size` pixels:
 * pixel centres aligned (pos + (i + 0.5) len / out - 0.5), clamped to the edge; the two
 * neighbouring pixels and the weight of the second. */
static void sample_at(double pos, double len, int i, int out, int size, int *a, int *b,
                      float *frac)
{
    double s = pos + (i + 0.5) * len / out - 0.5;
    if (s < 0)
        s = 0;
    if (s > size - 1)
        s = size - 1;
    *a = (int)s;
    *b = *a + 1 < size ? *a + 1 : *a;
    *frac = (float)(s - *a);
}

/* Bilinear resize of the region c (in img's pixels) of an interleaved RGB image to out x out
 * planes in [0, 1] (sample_at on each axis). dst: 3 x out x out. */
static void resize_bilinear(float *dst, const JpegImage *img, Crop c, int out)
{
    size_t plane = (size_t)out * (size_t)out;
    for (int i = 0; i < out; i++) {
        int y0, y1, x0, x1;
        float fy, fx;
        sample_at(c.y0, c.h, i, out, img->h, &y0, &y1, &fy);
        for (int j = 0; j < out; j++) {
            sample_at(c.x0, c.w, j, out, img->w, &x0, &x1, &fx);
            const uint8_t *p00 = img->rgb + ((size_t)y0 * (size_t)img->w + (size_t)x0) * 3;
            const uint8_t *p01 = img->rgb + ((size_t)y0 * (size_t)img->w + (size_t)x1) * 3;
            const uint8_t *p10 = img->rgb + ((size_t)y1 * (size_t)img->w + (size_t)x0) * 3;
            const uint8_t *p11 = img->rgb + ((size_t)y1 * (size_t)img->w + (size_t)x1) * 3;
            for (int ch = 0; ch < 3; ch++) {
                float top = p00[ch] + fx * (float)(p01[ch] - p00[ch]);
                float bot = p10[ch] + fx * (float)(p11[ch] - p10[ch]);
                dst[(size_t)ch * plane + (size_t)i * (size_t)out + (size_t)j] =
                    (top + fy * (bot - top)) / 255.0f;
            }
        }
    }
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

/* Grayscale of pixel k of planes x (weights 0.299, 0.587, 0.114). */
static float gray_at(const float *x, size_t plane, size_t k)
{
    return 0.299f * x[k] + 0.587f * x[plane + k] + 0.114f * x[2 * plane + k];
}

/* fb.resnet.torch's ColorJitter: brightness, contrast, saturation in a random order. */
static void color_jitter(float *x, int out, double jitter, Rng *r)
{
    size_t plane = (size_t)out * (size_t)out;
    int order[3];
    rng_permutation(r, order, 3);
    for (int t = 0; t < 3; t++) {
        float a = (float)(1.0 + jitter * (2.0 * rng_uniform(r) - 1.0));
        if (order[t] == 0) { /* brightness: blend with black */
            for (size_t k = 0; k < 3 * plane; k++)
                x[k] = clamp01(x[k] * a);
        } else if (order[t] == 1) { /* contrast: blend with the mean gray */
            double m = 0.0;
            for (size_t k = 0; k < plane; k++)
                m += gray_at(x, plane, k);
            float g = (float)(m / (double)plane);
            for (size_t k = 0; k < 3 * plane; k++)
                x[k] = clamp01(a * x[k] + (1.0f - a) * g);
        } else { /* saturation: blend with each pixel's gray */
            for (size_t k = 0; k < plane; k++) {
                float g = gray_at(x, plane, k);
                for (int ch = 0; ch < 3; ch++)
                    x[(size_t)ch * plane + k] = clamp01(a * x[(size_t)ch * plane + k] +
                                                        (1.0f - a) * g);
            }
        }
    }
}

/* Lighting: every pixel + eigvec (alpha * eigval), alpha ~ N(0, std). */
static void lighting(float *x, int out, double std, Rng *r)
{
    size_t plane = (size_t)out * (size_t)out;
    float alpha[3], add[3];
    for (int i = 0; i < 3; i++)
        alpha[i] = (float)(std * rng_normal(r));
    for (int ch = 0; ch < 3; ch++) {
        add[ch] = 0.0f;
        for (int i = 0; i < 3; i++)
            add[ch] += IMAGENET_PCA_EIGVEC[ch][i] * alpha[i] * IMAGENET_PCA_EIGVAL[i];
    }
    for (int ch = 0; ch < 3; ch++)
        for (size_t k = 0; k < plane; k++)
            x[(size_t)ch * plane + k] += add[ch];
}

/* Example `index` of the set (epoch ld->epoch) into dst, with slot's decoder. */
static int make_example(ImagenetLoader *ld, ImagenetDecodeSlot *sl, int index, float *dst,
                        Err *err)
{
    const ImagenetOptions *o = &ld->o;
    const char *path = ld->set->path[index];
    size_t len = 0;
    int W = 0, H = 0;
    Err e;
    long long want = ld->set->bytes ? ld->set->bytes[index] : -1;
    if (read_file(sl, path, want, &len, &e) || jpeg_size(sl->dec, sl->file, len, &W, &H, &e))
        return err_set(err, "%s: %s", path, e.msg);
    Rng r;
    rng_seed(&r, o->seed, imagenet_example_stream(ld->epoch, index));
    int out = o->out;
    Crop c = o->train ? draw_crop(&r, W, H)
                      : eval_crop(W, H, (int)lround(out * (double)IMAGENET_EVAL_RESIZE /
                                                    IMAGENET_CROP), out);
    /* decode at the smallest scale that keeps the crop >= out pixels a side */
    int min_w = (int)ceil(out * (double)W / c.w), min_h = (int)ceil(out * (double)H / c.h);
    JpegImage img;
    if (jpeg_decode(sl->dec, sl->file, len, min_w, min_h, &img, &e))
        return err_set(err, "%s: %s", path, e.msg);
    double kx = (double)img.w / W, ky = (double)img.h / H;
    resize_bilinear(dst, &img, (Crop){c.x0 * kx, c.y0 * ky, c.w * kx, c.h * ky}, out);
    if (o->train && o->jitter > 0)
        color_jitter(dst, out, o->jitter, &r);
    if (o->train && o->lighting > 0)
        lighting(dst, out, o->lighting, &r);
    size_t plane = (size_t)out * (size_t)out;
    for (int ch = 0; ch < 3; ch++) {
        float *p = dst + (size_t)ch * plane;
        for (size_t k = 0; k < plane; k++)
            p[k] = (p[k] - o->mean[ch]) / o->std[ch];
    }
    if (o->train && rng_below(&r, 2)) {
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < out; i++) {
                float *row = dst + (size_t)ch * plane + (size_t)i * (size_t)out;
                for (int a = 0, b = out - 1; a < b; a++, b--) {
                    float t = row[a];
                    row[a] = row[b];
                    row[b] = t;
                }
            }
    }
    return 0;
}

/* ---- the loader --------------------------------------------------------------------------- */

int imagenet_loader_init(ImagenetLoader *ld, const ImagenetSet *s, const ImagenetOptions *o,
                         Err *err)
{
    memset(ld, 0, sizeof *ld);
    if (o->batch < 1 || o->out < 8 || o->nthreads < 1)
        return err_set(err, "imagenet_loader: batch %d, out %d, threads %d, expected >= 1, "
                            ">= 8 and >= 1", o->batch, o->out, o->nthreads);
    if (!(o->jitter >= 0 && o->jitter < 1) || !(o->lighting >= 0))
        return err_set(err, "imagenet_loader: jitter %g, lighting %g, expected 0 <= jitter < 1 "
                            "and lighting >= 0", o->jitter, o->lighting);
    for (int ch = 0; ch < 3; ch++)
        if (!(o->std[ch] > 0))
            return err_set(err, "imagenet_loader: std[%d] is %g, expected > 0", ch,
                           (double)o->std[ch]);
    ld->set = s;
    ld->o = *o;
    ld->order = malloc((size_t)s->n * sizeof *ld->order);
    ld->slot = calloc((size_t)o->nthreads, sizeof *ld->slot);
    ld->ok = malloc((size_t)o->batch * sizeof *ld->ok);
    ld->errs = malloc((size_t)o->batch * sizeof *ld->errs);
    if (!ld->order || !ld->slot || !ld->ok || !ld->errs) {
        imagenet_loader_free(ld);
        return err_set(err, "imagenet_loader: out of memory");
    }
    for (int t = 0; t < o->nthreads; t++) {
        ld->slot[t].dec = jpeg_decoder_new(err);
        if (!ld->slot[t].dec) {
            imagenet_loader_free(ld);
            return -1;
        }
    }
    imagenet_loader_epoch(ld, 0);
    return 0;
}

void imagenet_loader_free(ImagenetLoader *ld)
{
    for (int t = 0; ld->slot && t < ld->o.nthreads; t++) {
        jpeg_decoder_free(ld->slot[t].dec);
        free(ld->slot[t].file);
    }
    free(ld->slot);
    free(ld->order);
    free(ld->ok);
    free(ld->errs);
    memset(ld, 0, sizeof *ld);
}

void imagenet_loader_epoch(ImagenetLoader *ld, int epoch)
{
    ld->epoch = epoch;
    ld->pos = 0;
    if (ld->o.train) {
        Rng r;
        rng_seed(&r, ld->o.seed, data_cifar_epoch_stream(RNG_STREAM_ORDER, epoch));
        rng_permutation(&r, ld->order, ld->set->n);
    } else {
        for (int i = 0; i < ld->set->n; i++)
            ld->order[i] = i;
    }
}

int imagenet_loader_batches(const ImagenetLoader *ld)
{
    int n = ld->set->n, b = ld->o.batch;
    return ld->o.drop_last ? n / b : (n + b - 1) / b;
}

int imagenet_loader_next(ImagenetLoader *ld, Tensor *x, float *labels, int *n, Err *err)
{
    int out = ld->o.out;
    size_t ex = (size_t)3 * (size_t)out * (size_t)out;
    size_t limit = x->owner ? x->cap : x->size;
    *n = 0;
    if (!x->data || limit < (size_t)ld->o.batch * ex)
        return err_set(err, "imagenet_loader: the batch tensor holds %zu floats, a batch of %d "
                            "x 3 x %d x %d needs %zu", x->data ? limit : 0, ld->o.batch, out,
                       out, (size_t)ld->o.batch * ex);
    int rows = 0;
    while (rows == 0) { /* a batch whose files were all skipped is passed over */
        int left = ld->set->n - ld->pos;
        int m = left < ld->o.batch ? left : ld->o.batch;
        if (m <= 0 || (ld->o.drop_last && m < ld->o.batch))
            return 0;
        const int *idx = ld->order + ld->pos;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ld->o.nthreads)
        for (int k = 0; k < m; k++)
            ld->ok[k] = make_example(ld, &ld->slot[omp_get_thread_num()], idx[k],
                                     x->data + (size_t)k * ex, &ld->errs[k]) == 0;
        /* the first failure in batch order (deterministic), or the rows past the skipped */
        for (int k = 0; k < m; k++) {
            if (!ld->ok[k]) {
                if (!ld->o.skip_bad) {
                    *err = ld->errs[k];
                    return -1;
                }
                ld->skipped++;
                continue;
            }
            if (rows != k)
                memmove(x->data + (size_t)rows * ex, x->data + (size_t)k * ex,
                        ex * sizeof(float));
            labels[rows++] = (float)ld->set->label[idx[k]];
        }
        ld->pos += m;
    }
    if (tensor_set_nchw(x, rows, (Shape){3, out, out}, err))
        return -1;
    *n = rows;
    return 0;
}

int imagenet_example(ImagenetLoader *ld, int index, float *dst, Err *err)
{
    if (index < 0 || index >= ld->set->n)
        return err_set(err, "imagenet_example: index %d, expected 0..%d", index, ld->set->n - 1);
    return make_example(ld, &ld->slot[0], index, dst, err);
}
