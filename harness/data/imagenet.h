/*
 * imagenet.h: ILSVRC-2012 batches from JPEG files (issue 15): a set of (path, label) pairs (the
 * index harness/lua/imagenet.lua builds from the folder) and the batch assembly of
 * fb.resnet.torch's pipeline (datasets/imagenet.lua, datasets/transforms.lua; PAPER_FACTS
 * section 14), decoding through data/jpeg.h.
 *
 * Training example (out = the crop side, 224 in the paper), in this order of draws:
 *   1. RandomSizedCrop: up to 10 tries of area = U(0.08, 1) W H, aspect = U(3/4, 4/3), then
 *      with probability 1/2 w and h swapped (fb.resnet.torch's draw), w = round(sqrt(area
 *      aspect)), h = round(sqrt(area / aspect)); the first try with w <= W and h <= H takes
 *      x0 = below(W - w + 1), y0 = below(H - h + 1). After 10 misses: the centre crop of side
 *      min(W, H) (fb.resnet.torch's Scale + CenterCrop fallback, on the square centre).
 *   2. The file decodes at the smallest DCT scale that keeps the crop at least out pixels on
 *      each side (jpeg.h), and the crop (mapped to that scale) is resized to out x out by
 *      bilinear interpolation (pixel centres aligned, no antialiasing; fb.resnet.torch uses
 *      bicubic: a documented difference, the DCT scale keeps the reduction under 2x).
 *   3. ColorJitter (jitter > 0): brightness, contrast and saturation, each with a factor
 *      1 + U(-jitter, jitter), in a random order (a permutation draw), grayscale weights 0.299,
 *      0.587, 0.114, values clamped to [0, 1] after each.
 *   4. Lighting (lighting > 0): alpha_i ~ N(0, lighting) for the 3 PCA components; every pixel
 *      gets eigvec (alpha * eigval) added (AlexNet's PCA noise, fb.resnet.torch's constants).
 *   5. Normalise: (v - mean[c]) / std[c]; 6. flip left-right with probability 1/2.
 * Evaluation example: the shorter side resized to round(out 256 / 224) (256 for 224), the
 * centre out x out crop; no randomness.
 * Values are in [0, 1] (byte / 255) from step 2 on, float32.
 *
 * Randomness: epoch e shuffles the set with rng_seed(seed, data_cifar_epoch_stream(ORDER, e))
 * (as CIFAR); example i of the set in epoch e draws its augmentation from its own generator
 * rng_seed(seed, imagenet_example_stream(e, i)), so the images depend only on (seed, epoch,
 * index), never on the thread count, the batch or the order of work.
 * Threads: the examples of a batch are decoded and augmented in parallel (OpenMP, one decoder
 * and file buffer per thread, allocated once and grown to the largest file), between training
 * steps, not ahead of them: the engine trains on the same cores through its one thread pool,
 * so decoding ahead would only move the same work onto the cores the step needs, and the work
 * is small (`make bench`, 2026-12-05: 531 images/s per core decoded and augmented against a
 * ResNet-50 step at 6.3 images/s on 2 cores: 0.6 % of the step). A loader thread would pay on
 * a machine whose steps run elsewhere (a GPU), which this engine does not drive.
 * Bad files: a file that cannot be read or decoded, or whose size is not the indexed one (the
 * set's bytes), fails the batch with its path and the reason; with skip_bad, it is left out
 * of the batch instead (the batch is shorter) and counted (ImagenetLoader.skipped), never
 * replaced by another image.
 */
#ifndef IMAGENET_H
#define IMAGENET_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/tensor.h"

#define IMAGENET_TRIES 10          /* RandomSizedCrop's attempts */
#define IMAGENET_AREA_MIN 0.08     /* crop area fraction, U(0.08, 1) */
#define IMAGENET_RATIO_MIN 0.75    /* aspect ratio, U(3/4, 4/3) */
#define IMAGENET_RATIO_MAX (4.0 / 3.0)
#define IMAGENET_EVAL_RESIZE 256   /* shorter side before the 224 centre crop */
#define IMAGENET_CROP 224

/* fb.resnet.torch's constants (datasets/imagenet.lua). */
extern const float IMAGENET_MEAN[3], IMAGENET_STD[3];
extern const float IMAGENET_PCA_EIGVAL[3], IMAGENET_PCA_EIGVEC[3][3];

typedef struct ImagenetSet {
    int n, num_classes;
    char **path;      /* n file paths (owned) */
    int *label;       /* n labels, 0..num_classes - 1 */
    long long *bytes; /* n file sizes as indexed, or NULL: a file of another size is an error
                         (it changed since the index was written) */
} ImagenetSet;

/* Copies n paths, labels and (when bytes is not NULL) file sizes in; s must be zeroed or freed.
 * Labels must lie in 0..classes-1, sizes be >= 0. */
int imagenet_set_init(ImagenetSet *s, int n, const char *const *path, const int *label,
                      const long long *bytes, int num_classes, Err *err);
void imagenet_set_free(ImagenetSet *s);

typedef struct ImagenetOptions {
    int batch, out;        /* batch size; crop side (224) */
    int train;             /* 1: shuffled and augmented; 0: file order, centre crop */
    uint64_t seed;         /* training only */
    int drop_last;         /* 1: the last short batch of an epoch is dropped */
    double jitter;         /* ColorJitter strength; 0: off */
    double lighting;       /* Lighting standard deviation; 0: off */
    float mean[3], std[3]; /* normalisation */
    int skip_bad;          /* 1: leave undecodable files out (counted) */
    int nthreads;          /* decoding threads */
} ImagenetOptions;

typedef struct ImagenetDecodeSlot ImagenetDecodeSlot;

typedef struct ImagenetLoader {
    const ImagenetSet *set;
    ImagenetOptions o;
    int *order;            /* n: the epoch's permutation (identity when not training) */
    int epoch, pos;        /* the epoch and the next position in order */
    long long skipped;     /* files left out by skip_bad since the loader was made */
    ImagenetDecodeSlot *slot; /* nthreads decoders and buffers */
    int *ok;               /* batch flags: example decoded */
    Err *errs;             /* batch: each example's error */
} ImagenetLoader;

/* The generator stream of example i in epoch e (distinct from every CIFAR and plain stream). */
static inline uint64_t imagenet_example_stream(int epoch, int index)
{
    return ((uint64_t)(unsigned)epoch + 1u) << 40 | (uint64_t)(unsigned)index << 8 | 0x11u;
}

int imagenet_loader_init(ImagenetLoader *ld, const ImagenetSet *s, const ImagenetOptions *o,
                         Err *err);
void imagenet_loader_free(ImagenetLoader *ld);
/* Starts epoch e (any integer >= 0): the shuffle, position 0. */
void imagenet_loader_epoch(ImagenetLoader *ld, int epoch);
/* Batches of an epoch. */
int imagenet_loader_batches(const ImagenetLoader *ld);
/* The next batch into x (capacity batch x 3 x out x out, reshaped to the rows made) and labels
 * (batch floats, exact integers); *n receives the rows (0 at the end of the epoch). */
int imagenet_loader_next(ImagenetLoader *ld, Tensor *x, float *labels, int *n, Err *err);

/* One example, for tests and tools: the same path the loader takes (train: augmented with the
 * generator of (seed, epoch, index)). dst: 3 x out x out floats. */
int imagenet_example(ImagenetLoader *ld, int index, float *dst, Err *err);

#endif
