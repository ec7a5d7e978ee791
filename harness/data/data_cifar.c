/*
 * data_cifar.c: CIFAR-10/100 binary records into memory, subsets, label corruption and batch
 * assembly with random crop, flip and normalisation. See data_cifar.h for the file layout, the
 * augmentation and the derivation of every random draw from the run seed.
 *
 * Non-goals: decoding the PNG/JSON of the npm copy (tools/cifar_png2bin.c does that once, at
 * `make data`), background prefetching (a 128-image batch takes about 0.4 ms here, well
 * under 5% of a training step), other augmentations.
 */
#include "data/data_cifar.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_PLANE (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_READ_CHUNK 1000 /* records per read: 3 MB of buffer, whatever the file size */
#define CIFAR_NOISY_CHOSEN 255 /* marks a chosen example during corruption; no label is 255 */

static const char *const CIFAR10_TRAIN_NAMES[CIFAR10_TRAIN_FILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
    "data_batch_5.bin"};

size_t data_cifar_record_size(CifarKind kind)
{
    return (kind == CIFAR_100 ? 2u : 1u) + CIFAR_PIXELS;
}

static int check_kind(CifarKind kind, const char *fn, Err *err)
{
    if (kind != CIFAR_10 && kind != CIFAR_100)
        return err_set(err, "%s: kind is %d, expected CIFAR_10 (10) or CIFAR_100 (100)", fn,
                       (int)kind);
    return 0;
}

int data_cifar_alloc(CifarSet *s, CifarKind kind, int n, Err *err)
{
    memset(s, 0, sizeof *s);
    if (check_kind(kind, "data_cifar_alloc", err))
        return -1;
    if (n < 1)
        return err_set(err, "data_cifar_alloc: n is %d, expected >= 1", n);
    s->kind = kind;
    s->n = n;
    s->num_classes = kind == CIFAR_100 ? CIFAR100_CLASSES : CIFAR10_CLASSES;
    s->pixels = calloc((size_t)n, CIFAR_PIXELS);
    s->label = calloc((size_t)n, 1);
    s->noisy = calloc((size_t)n, 1);
    if (kind == CIFAR_100)
        s->coarse = calloc((size_t)n, 1);
    if (!s->pixels || !s->label || !s->noisy || (kind == CIFAR_100 && !s->coarse)) {
        data_cifar_free(s);
        return err_set(err, "data_cifar_alloc: out of memory for %d images", n);
    }
    return 0;
}

void data_cifar_free(CifarSet *s)
{
    if (!s)
        return;
    free(s->pixels);
    free(s->label);
    free(s->noisy);
    free(s->coarse);
    memset(s, 0, sizeof *s);
}

int data_cifar_parse(CifarSet *s, int first, const uint8_t *buf, size_t len, const char *name,
                     size_t rec0, Err *err)
{
    const char *what = name ? name : "buffer";
    size_t rec = data_cifar_record_size(s->kind);
    if (!s->pixels)
        return err_set(err, "data_cifar_parse: the set is not allocated");
    if (len % rec)
        return err_set(err, "data_cifar_parse: %s has %zu bytes, not a whole number of %zu-byte "
                       "records", what, len, rec);
    size_t k = len / rec;
    if (first < 0 || (size_t)first > (size_t)s->n || k > (size_t)(s->n - first))
        return err_set(err, "data_cifar_parse: %s holds %zu records, which do not fit at %d in "
                       "a set of %d", what, k, first, s->n);
    int coarse_classes = CIFAR100_COARSE_CLASSES;
    for (size_t i = 0; i < k; i++) {
        const uint8_t *r = buf + i * rec;
        size_t e = (size_t)first + i;
        if (s->kind == CIFAR_100) {
            if (r[0] >= coarse_classes)
                return err_set(err, "data_cifar_parse: %s record %zu has coarse label %d, "
                               "expected 0..%d", what, rec0 + i, r[0], coarse_classes - 1);
            s->coarse[e] = r[0];
            r++;
        }
        if (r[0] >= s->num_classes)
            return err_set(err, "data_cifar_parse: %s record %zu has label %d, expected 0..%d",
                           what, rec0 + i, r[0], s->num_classes - 1);
        s->label[e] = r[0];
        s->noisy[e] = r[0];
        memcpy(s->pixels + e * CIFAR_PIXELS, r + 1, CIFAR_PIXELS);
    }
    return 0;
}

/* Reads one file of exactly `records` records into examples first.. of s. buf holds
 * CIFAR_READ_CHUNK records. */
static int load_file(CifarSet *s, int first, int records, const char *path, const char *hint,
                     uint8_t *buf, Err *err)
{
    size_t rec = data_cifar_record_size(s->kind);
    size_t want = (size_t)records * rec;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "data_cifar_load: cannot open %s: %s; %s", path, strerror(errno),
                       hint);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return err_set(err, "data_cifar_load: %s is not a regular file; %s", path, hint);
    }
    if ((size_t)st.st_size != want) {
        fclose(f);
        return err_set(err, "data_cifar_load: %s is %s: %lld bytes, expected %zu (%d records of "
                       "%zu bytes); %s", path, (size_t)st.st_size < want ? "truncated" : "too long",
                       (long long)st.st_size, want, records, rec, hint);
    }
    for (int done = 0; done < records;) {
        int k = records - done < CIFAR_READ_CHUNK ? records - done : CIFAR_READ_CHUNK;
        size_t bytes = (size_t)k * rec;
        if (fread(buf, 1, bytes, f) != bytes) {
            const char *why = ferror(f) ? "I/O error" : "file shrank";
            fclose(f);
            return err_set(err, "data_cifar_load: %s: read failed after %d records (%s); %s",
                           path, done, why, hint);
        }
        if (data_cifar_parse(s, first + done, buf, bytes, path, (size_t)done, err)) {
            fclose(f);
            char msg[ERR_MSG_MAX];
            memcpy(msg, err->msg, sizeof msg);
            return err_set(err, "%.*s; %s", ERR_MSG_MAX / 2, msg, hint);
        }
        done += k;
    }
    fclose(f);
    return 0;
}

int data_cifar_load(CifarSet *s, const char *dir, CifarKind kind, CifarSplit split, Err *err)
{
    memset(s, 0, sizeof *s);
    if (check_kind(kind, "data_cifar_load", err))
        return -1;
    if (split != CIFAR_TRAIN && split != CIFAR_TEST)
        return err_set(err, "data_cifar_load: split is %d, expected CIFAR_TRAIN or CIFAR_TEST",
                       (int)split);
    const char *hint = kind == CIFAR_10 ? "run `make data` to fetch and verify CIFAR-10"
                                        : "run `make data-cifar100` to fetch and verify CIFAR-100";
    const char *names[CIFAR10_TRAIN_FILES];
    int files, per_file;
    if (kind == CIFAR_10 && split == CIFAR_TRAIN) {
        files = CIFAR10_TRAIN_FILES;
        per_file = CIFAR_BATCH_RECORDS;
        for (int i = 0; i < files; i++)
            names[i] = CIFAR10_TRAIN_NAMES[i];
    } else {
        files = 1;
        names[0] = kind == CIFAR_10 ? "test_batch.bin" : split == CIFAR_TRAIN ? "train.bin"
                                                                              : "test.bin";
        per_file = kind == CIFAR_100 && split == CIFAR_TRAIN
                       ? CIFAR10_TRAIN_FILES * CIFAR_BATCH_RECORDS
                       : CIFAR_BATCH_RECORDS;
    }
    if (data_cifar_alloc(s, kind, files * per_file, err))
        return -1;
    uint8_t *buf = malloc((size_t)CIFAR_READ_CHUNK * data_cifar_record_size(kind));
    if (!buf) {
        data_cifar_free(s);
        return err_set(err, "data_cifar_load: out of memory for the read buffer");
    }
    for (int i = 0; i < files; i++) {
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof path) {
            free(buf);
            data_cifar_free(s);
            return err_set(err, "data_cifar_load: directory name too long (%zu chars)",
                           strlen(dir));
        }
        if (load_file(s, i * per_file, per_file, path, hint, buf, err)) {
            free(buf);
            data_cifar_free(s);
            return -1;
        }
    }
    free(buf);
    return 0;
}

int data_cifar_subset(CifarSet *dst, const CifarSet *src, const int *idx, int n, Err *err)
{
    if (dst == src)
        return err_set(err, "data_cifar_subset: dst and src are the same set");
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return err_set(err, "data_cifar_subset: idx[%d] is %d, expected 0..%d", i, idx[i],
                           src->n - 1);
    if (data_cifar_alloc(dst, src->kind, n, err))
        return -1;
    dst->corrupt_p = src->corrupt_p;
    for (int i = 0; i < n; i++) {
        size_t j = (size_t)idx[i];
        memcpy(dst->pixels + (size_t)i * CIFAR_PIXELS, src->pixels + j * CIFAR_PIXELS,
               CIFAR_PIXELS);
        dst->label[i] = src->label[j];
        dst->noisy[i] = src->noisy[j];
        if (src->coarse)
            dst->coarse[i] = src->coarse[j];
    }
    return 0;
}

void data_cifar_class_counts(const CifarSet *s, int *counts)
{
    for (int c = 0; c < s->num_classes; c++)
        counts[c] = 0;
    for (int i = 0; i < s->n; i++)
        counts[s->label[i]]++;
}

int data_cifar_balanced_indices(int *idx, const CifarSet *s, int n, uint64_t seed, Err *err)
{
    int classes = s->num_classes;
    int counts[CIFAR100_CLASSES];
    if (n < 1 || n > s->n)
        return err_set(err, "data_cifar_balanced_indices: n is %d, expected 1..%d", n, s->n);
    data_cifar_class_counts(s, counts);
    for (int c = 0; c < classes; c++) {
        int need = n / classes + (c < n % classes);
        if (counts[c] < need)
            return err_set(err, "data_cifar_balanced_indices: class %d has %d examples, a "
                           "balanced subset of %d needs %d", c, counts[c], n, need);
    }
    int *members = malloc((size_t)s->n * sizeof *members);
    uint8_t *chosen = calloc((size_t)s->n, 1);
    if (!members || !chosen) {
        free(members);
        free(chosen);
        return err_set(err, "data_cifar_balanced_indices: out of memory for %d examples", s->n);
    }
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_SUBSET);
    for (int c = 0; c < classes; c++) {
        int m = 0;
        for (int i = 0; i < s->n; i++)
            if (s->label[i] == c)
                members[m++] = i;
        int need = n / classes + (c < n % classes);
        /* Partial Fisher-Yates: the first `need` slots become a uniform draw without
         * replacement. */
        for (int j = 0; j < need; j++) {
            int k = j + (int)rng_below(&r, (uint64_t)(m - j));
            int t = members[j];
            members[j] = members[k];
            members[k] = t;
            chosen[members[j]] = 1;
        }
    }
    int k = 0;
    for (int i = 0; i < s->n; i++)
        if (chosen[i])
            idx[k++] = i;
    free(members);
    free(chosen);
    return 0;
}

int data_cifar_corrupt(CifarSet *s, double p, uint64_t seed, int *changed, Err *err)
{
    if (!(p >= 0.0 && p <= 1.0))
        return err_set(err, "data_cifar_corrupt: p is %g, expected 0 <= p <= 1", p);
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_LABELS);
    /* pluskid/fitting-random-labels: mask = rand(n) <= p; labels[mask] = choice(C, mask.sum()).
     * All mask draws come first, then the new labels; noisy doubles as the mask. */
    for (int i = 0; i < s->n; i++)
        s->noisy[i] = rng_uniform(&r) < p ? CIFAR_NOISY_CHOSEN : s->label[i];
    int diff = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->noisy[i] == CIFAR_NOISY_CHOSEN)
            s->noisy[i] = (uint8_t)rng_below(&r, (uint64_t)s->num_classes);
        diff += s->noisy[i] != s->label[i];
    }
    s->corrupt_p = p;
    if (changed)
        *changed = diff;
    return 0;
}

/* ---- batches ---------------------------------------------------------------------------- */

CifarAug data_cifar_draw_aug(Rng *r, int pad, int flip)
{
    CifarAug a = {pad, pad, 0};
    if (pad > 0) {
        a.top = (int)rng_below(r, (uint64_t)(2 * pad + 1));
        a.left = (int)rng_below(r, (uint64_t)(2 * pad + 1));
    }
    if (flip)
        a.flip = (int)rng_below(r, 2);
    return a;
}

void data_cifar_norm_lut(float *lut, const float *mean, const float *std)
{
    for (int c = 0; c < CIFAR_CHANNELS; c++)
        for (int v = 0; v < 256; v++)
            lut[c * 256 + v] = ((float)v / 255.0f - mean[c]) / std[c];
}

/* One example: out (3, 32, 32) from img (3, 32, 32) bytes, cropped at (top - pad, left - pad)
 * of the original image coordinates and optionally mirrored; outside the image is byte 0. */
static void assemble_one(float *out, const uint8_t *img, CifarAug a, int pad, const float *lut)
{
    int dy = a.top - pad, dx = a.left - pad;
    for (int c = 0; c < CIFAR_CHANNELS; c++) {
        const float *lc = lut + c * 256;
        const uint8_t *plane = img + c * CIFAR_PLANE;
        for (int y = 0; y < CIFAR_SIDE; y++) {
            float *o = out + c * CIFAR_PLANE + y * CIFAR_SIDE;
            int sy = y + dy;
            if (sy < 0 || sy >= CIFAR_SIDE) {
                for (int x = 0; x < CIFAR_SIDE; x++)
                    o[x] = lc[0];
                continue;
            }
            const uint8_t *row = plane + sy * CIFAR_SIDE;
            for (int x = 0; x < CIFAR_SIDE; x++) {
                /* Crop first, then flip the cropped window (RandomCrop before
                 * RandomHorizontalFlip). */
                int sx = (a.flip ? CIFAR_SIDE - 1 - x : x) + dx;
                o[x] = sx >= 0 && sx < CIFAR_SIDE ? lc[row[sx]] : lc[0];
            }
        }
    }
}

int data_cifar_assemble(Tensor *x, const CifarSet *s, const int *idx, int n,
                        const CifarAug *aug, int pad, const float *lut, Err *err)
{
    if (n < 1)
        return err_set(err, "data_cifar_assemble: n is %d, expected >= 1", n);
    if (pad < 0 || pad > CIFAR_PAD_MAX)
        return err_set(err, "data_cifar_assemble: pad is %d, expected 0..%d", pad,
                       CIFAR_PAD_MAX);
    size_t limit = x->owner ? x->cap : x->size;
    size_t need = (size_t)n * CIFAR_PIXELS;
    if (!x->data || limit < need)
        return err_set(err, "data_cifar_assemble: x holds %zu floats, a batch of %d needs %zu; "
                       "reserve batch * %d", x->data ? limit : 0, n, need, CIFAR_PIXELS);
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= s->n)
            return err_set(err, "data_cifar_assemble: idx[%d] is %d, expected 0..%d", i, idx[i],
                           s->n - 1);
        if (aug && (aug[i].top < 0 || aug[i].top > 2 * pad || aug[i].left < 0 ||
                    aug[i].left > 2 * pad))
            return err_set(err, "data_cifar_assemble: aug[%d] offsets (%d, %d), expected "
                           "0..%d", i, aug[i].top, aug[i].left, 2 * pad);
    }
    Shape sh = {CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE};
    if (tensor_set_nchw(x, n, sh, err))
        return -1;
    CifarAug plain = {pad, pad, 0};
    for (int i = 0; i < n; i++)
        assemble_one(x->data + (size_t)i * CIFAR_PIXELS,
                     s->pixels + (size_t)idx[i] * CIFAR_PIXELS, aug ? aug[i] : plain, pad, lut);
    return 0;
}

void data_cifar_loader_defaults(CifarLoaderOptions *o, int train)
{
    static const float mean[3] = {CIFAR10_MEAN_R, CIFAR10_MEAN_G, CIFAR10_MEAN_B};
    static const float std[3] = {CIFAR10_STD_R, CIFAR10_STD_G, CIFAR10_STD_B};
    memset(o, 0, sizeof *o);
    o->batch = 128; /* the official code's batch size */
    o->shuffle = train != 0;
    o->augment = train != 0;
    o->pad = CIFAR_PAD_DEFAULT;
    o->flip = 1;
    o->drop_last = 0;
    o->seed = 0;
    memcpy(o->mean, mean, sizeof mean);
    memcpy(o->std, std, sizeof std);
}

int data_cifar_loader_init(CifarLoader *ld, const CifarSet *s, const CifarLoaderOptions *o,
                           Err *err)
{
    memset(ld, 0, sizeof *ld);
    if (!s || !s->pixels || s->n < 1)
        return err_set(err, "data_cifar_loader_init: the dataset is empty or not loaded");
    if (o->batch < 1)
        return err_set(err, "data_cifar_loader_init: batch is %d, expected >= 1", o->batch);
    if (o->drop_last && o->batch > s->n)
        return err_set(err, "data_cifar_loader_init: batch %d exceeds the %d examples, so "
                       "drop_last leaves no batch", o->batch, s->n);
    if (o->pad < 0 || o->pad > CIFAR_PAD_MAX)
        return err_set(err, "data_cifar_loader_init: pad is %d, expected 0..%d", o->pad,
                       CIFAR_PAD_MAX);
    for (int c = 0; c < CIFAR_CHANNELS; c++) {
        if (!isfinite(o->mean[c]))
            return err_set(err, "data_cifar_loader_init: mean[%d] is %g, expected finite", c,
                           (double)o->mean[c]);
        if (!(o->std[c] > 0.0f) || !isfinite(o->std[c]))
            return err_set(err, "data_cifar_loader_init: std[%d] is %g, expected > 0", c,
                           (double)o->std[c]);
    }
    ld->order = malloc((size_t)s->n * sizeof *ld->order);
    ld->aug = malloc(2 * (size_t)o->batch * sizeof *ld->aug); /* the batch's, its partners' */
    ld->partner = malloc((size_t)o->batch * sizeof *ld->partner);
    if (!ld->order || !ld->aug || !ld->partner) {
        data_cifar_loader_free(ld);
        return err_set(err, "data_cifar_loader_init: out of memory for %d examples", s->n);
    }
    ld->set = s;
    ld->o = *o;
    ld->o.shuffle = o->shuffle != 0;
    ld->o.augment = o->augment != 0;
    ld->o.flip = o->flip != 0;
    ld->o.drop_last = o->drop_last != 0;
    ld->epoch = -1;
    data_cifar_norm_lut(ld->lut, o->mean, o->std);
    return 0;
}

void data_cifar_loader_free(CifarLoader *ld)
{
    if (!ld)
        return;
    free(ld->order);
    free(ld->aug);
    free(ld->partner);
    memset(ld, 0, sizeof *ld);
}

int data_cifar_loader_epoch(CifarLoader *ld, int epoch, Err *err)
{
    if (!ld->order)
        return err_set(err, "data_cifar_loader_epoch: the loader is not initialised");
    if (epoch < 0)
        return err_set(err, "data_cifar_loader_epoch: epoch is %d, expected >= 0", epoch);
    for (int i = 0; i < ld->set->n; i++)
        ld->order[i] = i;
    if (ld->o.shuffle) {
        Rng r;
        rng_seed(&r, ld->o.seed, data_cifar_epoch_stream(RNG_STREAM_ORDER, epoch));
        rng_shuffle(&r, ld->order, ld->set->n);
    }
    rng_seed(&ld->aug_rng, ld->o.seed, data_cifar_epoch_stream(RNG_STREAM_AUGMENT, epoch));
    ld->epoch = epoch;
    ld->pos = 0;
    ld->last_n = 0;
    return 0;
}

int data_cifar_loader_batches(const CifarLoader *ld)
{
    int n = ld->set ? ld->set->n : 0, b = ld->o.batch;
    if (b < 1)
        return 0;
    return ld->o.drop_last ? n / b : (n + b - 1) / b;
}

int data_cifar_loader_next(CifarLoader *ld, Tensor *x, int *label, int *clean, int *n, Err *err)
{
    *n = 0;
    if (!ld->order)
        return err_set(err, "data_cifar_loader_next: the loader is not initialised");
    if (ld->epoch < 0)
        return err_set(err, "data_cifar_loader_next: no epoch started; call "
                       "data_cifar_loader_epoch first");
    const CifarSet *s = ld->set;
    int nb = s->n - ld->pos < ld->o.batch ? s->n - ld->pos : ld->o.batch;
    if (nb <= 0 || (ld->o.drop_last && nb < ld->o.batch))
        return 0;
    const int *idx = ld->order + ld->pos;
    Rng before = ld->aug_rng; /* a failed call must not shift later batches' draws */
    for (int i = 0; i < nb; i++)
        ld->aug[i] = ld->o.augment ? data_cifar_draw_aug(&ld->aug_rng, ld->o.pad, ld->o.flip)
                                   : (CifarAug){ld->o.pad, ld->o.pad, 0};
    if (data_cifar_assemble(x, s, idx, nb, ld->aug, ld->o.pad, ld->lut, err)) {
        ld->aug_rng = before;
        return err_prefix(err, "data_cifar_loader_next");
    }
    for (int i = 0; i < nb; i++) {
        label[i] = s->noisy[idx[i]];
        if (clean)
            clean[i] = s->label[idx[i]];
    }
    ld->pos += nb;
    ld->last_n = nb;
    *n = nb;
    return 0;
}

int data_cifar_loader_partners(CifarLoader *ld, Tensor *x2, int *label2, const int *nbr, int k,
                               Rng *rng, Err *err)
{
    if (!ld->order || ld->epoch < 0 || ld->last_n < 1 || ld->pos < ld->last_n)
        return err_set(err, "data_cifar_loader_partners: no batch yet; call "
                            "data_cifar_loader_next first");
    if (k < 1)
        return err_set(err, "data_cifar_loader_partners: k is %d, expected >= 1", k);
    const CifarSet *s = ld->set;
    const int nb = ld->last_n;
    const int *idx = ld->order + ld->pos - nb;
    int *pidx = ld->partner;
    CifarAug *aug = ld->aug + ld->o.batch;
    for (int i = 0; i < nb; i++) {
        int j = nbr[(size_t)idx[i] * k + rng_below(rng, (uint64_t)k)];
        if (j < 0 || j >= s->n)
            return err_set(err, "data_cifar_loader_partners: example %d has neighbour %d, "
                           "expected 0..%d (a table for another set?)", idx[i], j, s->n - 1);
        pidx[i] = j;
        aug[i] = ld->o.augment ? data_cifar_draw_aug(rng, ld->o.pad, ld->o.flip)
                               : (CifarAug){ld->o.pad, ld->o.pad, 0};
    }
    if (data_cifar_assemble(x2, s, pidx, nb, aug, ld->o.pad, ld->lut, err))
        return err_prefix(err, "data_cifar_loader_partners");
    for (int i = 0; i < nb; i++)
        label2[i] = s->noisy[pidx[i]];
    return 0;
}
