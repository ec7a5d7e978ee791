/*
 * data_cifar.h: CIFAR-10 and CIFAR-100 in memory, subsets, label corruption, and the batch
 * loader with the mixup paper's augmentation.
 *
 * Files: the official binary versions (https://www.cs.toronto.edu/~kriz/cifar.html), fetched,
 * converted and md5-checked by `make data` (tools/fetch_cifar.sh):
 *   CIFAR-10  <dir>/data_batch_1.bin .. data_batch_5.bin, test_batch.bin: 10000 records each of
 *             1 label byte (0..9) then 3072 pixel bytes;
 *   CIFAR-100 <dir>/train.bin (50000 records), test.bin (10000): 1 coarse label byte (0..19),
 *             1 fine label byte (0..99), then 3072 pixel bytes.
 * The 3072 pixel bytes are three 32x32 planes R, G, B, each row-major: already CHW, so a record
 * maps onto one NCHW example without reordering. A missing, short, long or malformed file is an
 * error naming the file and the fix, never a shorter dataset.
 *
 * Augmentation (Zhang et al. 2018, section 3.2, and the official code facebookresearch/
 * mixup-cifar10 train.py: RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(),
 * Normalize(mean, std)): the image is zero-padded by 4 pixels on every side (black, i.e. byte 0
 * before normalisation), a 32x32 window at offsets (top, left) in 0..8 is cut out, and it is
 * mirrored left-right with probability 1/2. Then x = (byte / 255 - mean[c]) / std[c] in float32.
 * Evaluation batches are the plain normalised images, in file order.
 *
 * Randomness (all from Rng, harness/core/rng.h): epoch e of a loader with seed s shuffles with
 *   rng_seed(r, s, data_cifar_epoch_stream(RNG_STREAM_ORDER, e))
 * and draws crops and flips from a second generator seeded the same way with RNG_STREAM_AUGMENT,
 * per example in batch order: top, then left, then flip. Both are reset at every epoch start,
 * so a run resumed at an epoch boundary sees exactly the order and augmentation of an
 * uninterrupted one.
 *
 * Memory: a CifarSet owns its pixels and labels. A loader owns its permutation and the record of
 * the last batch's crops and flips, allocated once at init; assembling a batch allocates nothing
 * (the output tensor must already have the capacity).
 */
#ifndef DATA_CIFAR_H
#define DATA_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/tensor.h"

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_PIXELS (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE) /* 3072 bytes per image */
#define CIFAR_BATCH_RECORDS 10000                                /* records per official file */
#define CIFAR10_TRAIN_FILES 5
#define CIFAR10_CLASSES 10
#define CIFAR100_CLASSES 100
#define CIFAR100_COARSE_CLASSES 20
#define CIFAR_PAD_DEFAULT 4 /* RandomCrop(32, padding=4) in the official code */
#define CIFAR_PAD_MAX 16    /* a bound for option checks; every crop still overlaps the image */

/* Normalisation constants of the official mixup code (facebookresearch/mixup-cifar10 train.py,
 * transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))), which took them
 * from kuangliu/pytorch-cifar. The "std" is not the pixel standard deviation of the training set
 * (that is about 0.247, 0.243, 0.261) but it is what the paper's runs used. */
#define CIFAR10_MEAN_R 0.4914f
#define CIFAR10_MEAN_G 0.4822f
#define CIFAR10_MEAN_B 0.4465f
#define CIFAR10_STD_R 0.2023f
#define CIFAR10_STD_G 0.1994f
#define CIFAR10_STD_B 0.2010f

typedef enum { CIFAR_10 = 10, CIFAR_100 = 100 } CifarKind;
typedef enum { CIFAR_TRAIN = 0, CIFAR_TEST = 1 } CifarSplit;

typedef struct CifarSet {
    CifarKind kind;
    int n;            /* examples */
    int num_classes;  /* 10 or 100 (CIFAR-100 fine labels) */
    uint8_t *pixels;  /* (n, 3, 32, 32) bytes, as in the files */
    uint8_t *label;   /* n clean labels (CIFAR-100: fine) */
    uint8_t *noisy;   /* n training labels: a copy of label unless data_cifar_corrupt ran */
    uint8_t *coarse;  /* n CIFAR-100 coarse labels (0..19); NULL for CIFAR-10 */
    double corrupt_p; /* corruption probability applied to noisy (0: none) */
} CifarSet;

/* Record size in bytes of one example in the files of this kind (3073 or 3074). */
size_t data_cifar_record_size(CifarKind kind);

/* Allocates an empty set of n examples (all bytes zero). s must be zeroed or freed. */
int data_cifar_alloc(CifarSet *s, CifarKind kind, int n, Err *err);
void data_cifar_free(CifarSet *s);

/* Parses len bytes of whole records into examples first.. of s (the official record layout of
 * s->kind). name (the file, for messages) may be NULL; rec0 is the number of buf's first record
 * within that file (messages count records from it). Fails, naming the file and the record,
 * when len is not a multiple of the record size, the records do not fit, or a label is out of
 * range. noisy is set equal to label for the parsed records. */
int data_cifar_parse(CifarSet *s, int first, const uint8_t *buf, size_t len, const char *name,
                     size_t rec0, Err *err);

/* Loads one split from dir (the directory holding the .bin files). s must be zeroed or freed;
 * on failure s is left zeroed. Every file must have exactly 10000 (CIFAR-10) or 50000/10000
 * (CIFAR-100 train/test) records. */
int data_cifar_load(CifarSet *s, const char *dir, CifarKind kind, CifarSplit split, Err *err);

/* Copies the examples idx[0..n-1] (in that order; repeats allowed) of src into dst, with their
 * clean, noisy and coarse labels. dst must be zeroed or freed and differ from src. */
int data_cifar_subset(CifarSet *dst, const CifarSet *src, const int *idx, int n, Err *err);

/* Writes into idx a class-balanced draw of n examples of s by clean label: class c gets
 * n / C examples plus one when c < n % C, drawn uniformly without replacement with
 * rng_seed(seed, RNG_STREAM_SUBSET), and the result lists them in ascending index order.
 * Fails when a class has too few examples. idx: n ints, out. */
int data_cifar_balanced_indices(int *idx, const CifarSet *s, int n, uint64_t seed, Err *err);

/* Label corruption for the Table 4 experiment, the rule of pluskid/fitting-random-labels
 * (cifar10_data.py, which the paper's code adapted): each example is chosen with probability p
 * (one uniform draw per example, in index order, chosen when u < p), then every chosen example,
 * in index order, gets a class drawn uniformly from all classes, which may equal its true one.
 * So about p (C - 1) / C of the labels change. Draws come from rng_seed(seed, RNG_STREAM_LABELS).
 * Writes s->noisy from s->label (clean labels stay); p = 0 restores the clean labels.
 * *changed (optional) receives the number of noisy labels that differ from the clean ones. */
int data_cifar_corrupt(CifarSet *s, double p, uint64_t seed, int *changed, Err *err);

/* Per-class counts of the clean labels; counts: num_classes ints, out. */
void data_cifar_class_counts(const CifarSet *s, int *counts);

/* ---- batches ---------------------------------------------------------------------------- */

/* Stream id of one purpose in one epoch: distinct for every (stream, epoch >= 0), and never
 * equal to a plain RNG_STREAM_* id, so epoch generators do not collide with other purposes. */
static inline uint64_t data_cifar_epoch_stream(uint64_t stream, int epoch)
{
    return ((uint64_t)(unsigned)epoch + 1u) << 32 | stream;
}

/* The crop offsets (into the padded image, 0..2 pad) and flip of one example. */
typedef struct CifarAug {
    int top, left, flip;
} CifarAug;

/* Draws one example's augmentation: top, then left (rng_below(2 pad + 1) each; pad when
 * pad = 0 draws nothing), then flip (rng_below(2), only when flip is on). */
CifarAug data_cifar_draw_aug(Rng *r, int pad, int flip);

/* lut: 3 x 256 floats, out: lut[c * 256 + v] = (v / 255 - mean[c]) / std[c] in float32,
 * the same operations as ToTensor then Normalize. mean, std: 3 floats, in. */
void data_cifar_norm_lut(float *lut, const float *mean, const float *std);

/* Assembles x = examples idx[0..n-1] of s as a (n, 3, 32, 32) batch. aug: n augmentations
 * (offsets into the image padded by pad), or NULL for none; lut from data_cifar_norm_lut.
 * x must have capacity for n * 3072 floats; it is reshaped. */
int data_cifar_assemble(Tensor *x, const CifarSet *s, const int *idx, int n,
                        const CifarAug *aug, int pad, const float *lut, Err *err);

typedef struct CifarLoaderOptions {
    int batch;      /* examples per batch, >= 1 */
    int shuffle;    /* 1: a new seeded permutation every epoch; 0: file order */
    int augment;    /* 1: random crop (pad) and flip; 0: plain images */
    int pad;        /* crop padding, 0..CIFAR_PAD_MAX; used when augment is on */
    int flip;       /* 1: horizontal flip with probability 1/2 when augment is on */
    int drop_last;  /* 1: skip the final partial batch (the official code keeps it) */
    uint64_t seed;  /* run seed */
    float mean[3];  /* per-channel normalisation */
    float std[3];
} CifarLoaderOptions;

/* Fills o with the paper's settings: train = 1 gives shuffle and augmentation, train = 0 the
 * evaluation loader; batch 128, pad 4, flip on, drop_last off, seed 0, CIFAR10_MEAN/STD. */
void data_cifar_loader_defaults(CifarLoaderOptions *o, int train);

typedef struct CifarLoader {
    const CifarSet *set;  /* not owned; must outlive the loader */
    CifarLoaderOptions o;
    int *order;           /* set->n indices: this epoch's order */
    CifarAug *aug;        /* 2 o.batch entries: the last batch's augmentation, its partners' */
    int *partner;         /* o.batch entries: the last batch's partners (set indices) */
    float lut[3 * 256];
    Rng aug_rng;
    int epoch;            /* -1 before the first data_cifar_loader_epoch */
    int pos;              /* next position in order */
    int last_n;           /* examples in the last batch */
} CifarLoader;

/* Validates o against s and allocates the loader's buffers. ld must be zeroed or freed. */
int data_cifar_loader_init(CifarLoader *ld, const CifarSet *s, const CifarLoaderOptions *o,
                           Err *err);
void data_cifar_loader_free(CifarLoader *ld);
/* Starts epoch (>= 0): resets the order and the augmentation generator for it. */
int data_cifar_loader_epoch(CifarLoader *ld, int epoch, Err *err);
/* Batches per epoch. */
int data_cifar_loader_batches(const CifarLoader *ld);
/* Writes the next batch: x (capacity >= batch * 3072 floats, reshaped to (n, 3, 32, 32)),
 * label: training (noisy) labels, clean: clean labels (optional), both >= batch ints, out.
 * *n receives the batch size, 0 at the end of the epoch. Fails before the first epoch. */
int data_cifar_loader_next(CifarLoader *ld, Tensor *x, int *label, int *clean, int *n, Err *err);
/* Partners of the last batch, for nearest-neighbour mixup: example i of the batch (set index
 * idx_i) gets nbr[idx_i * k + rng_below(rng, k)] (a table of data_knn for this loader's set,
 * rows = set->n), assembled into x2 (as x of data_cifar_loader_next) with an augmentation of
 * its own drawn from rng when the loader augments (data_cifar_draw_aug). Draw order: per
 * example, the neighbour, then its augmentation. The loader's own generators are untouched,
 * so the anchors are the batch every other method of the seed sees. label2: n training
 * labels out. Fails before the first batch or on a neighbour index out of range. */
int data_cifar_loader_partners(CifarLoader *ld, Tensor *x2, int *label2, const int *nbr, int k,
                               Rng *rng, Err *err);

#endif
