/*
 * h5io.h: HDF5 files for results and checkpoints (STYLE section 7), written atomically and
 * read back with errors instead of crashes. The Lua side is harness/bind/lua_h5.c ("engine.h5").
 *
 * Writing: h5io_create opens "<path>.tmp" (truncating it) and writes the root attribute
 * "format_version" first; groups, attributes and datasets follow; h5io_commit closes the file,
 * writes its checksum block, fsyncs it, renames it to <path> and fsyncs the directory. A file
 * that is never committed (error, crash, kill -9) never appears under its final name;
 * h5io_close on an uncommitted file deletes the .tmp.
 *
 * What a file holds (the whole vocabulary; anything else reads as H5IO_OTHER):
 *   attributes  scalar or 1-D: int64, float64, UTF-8 string (variable length), bool (h5py's
 *               enum {FALSE = 0, TRUE = 1} on int8, so h5py reads numpy.bool_). An attribute
 *               lives in its object's header, at most 64 KiB (8000 numbers, 4000 strings of
 *               any length): large arrays belong in datasets.
 *   datasets    float32 of rank 1-4 (tensors, optionally chunked + shuffle + deflate),
 *               1-D float64, 1-D int64, 1-D uint8 (opaque bytes such as RNG states).
 *   groups      nested to any depth.
 * Object paths are relative to the root ("train/loss"; a leading '/' is accepted; "" or "/" is
 * the root). Listings are in name order. Object modification times are not recorded, so the
 * same content written in the same order gives the same bytes.
 *
 * Checksum: the first H5IO_SUM_BLOCK bytes are HDF5's user block (skipped by HDF5, h5dump and
 * h5py; the superblock follows it). h5io_commit writes there, padded with NULs, the text
 *     h5io checksum v1\nsize <file bytes>\nfnv1a64 <16 hex digits>\n
 * where the hash is FNV-1a 64 of every byte after the block. h5io_open verifies it before
 * HDF5 parses anything, because HDF5 1.10 can crash on damaged metadata and reads damaged data
 * silently. A file without the block (another writer's) opens unverified.
 *
 * Readers check format_version first: h5io_open records it (0 when the root has none) and
 * h5io_is_complete refuses a file without it or without a matching checksum block. A
 * truncated or corrupt file gives
 * "<path>: not a valid HDF5 file (truncated or corrupt); delete it to rerun".
 *
 * Errors: every function that can fail returns 0 or -1 with an Err naming the function, the
 * file, the object and, for library failures, HDF5's innermost reason. HDF5's own printing of
 * its error stack is switched off (H5Eset_auto2) by h5io_create and h5io_open.
 *
 * Non-goals: parallel HDF5, appending to committed files, strings in datasets, compound types.
 * References: HDF5 1.10 user guide; h5py's bool and string conventions (docs.h5py.org).
 */
#ifndef H5IO_H
#define H5IO_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

#define H5IO_PATH_MAX 1024
#define H5IO_NAME_MAX 256                /* longest object or attribute name, with its NUL */
#define H5IO_FORMAT_ATTR "format_version" /* root attribute every reader checks first */
#define H5IO_TMP_SUFFIX ".tmp"            /* STYLE 3: a run writes <run-id>.h5.tmp */
#define H5IO_DEFLATE_MAX 9               /* zlib's highest level */
#define H5IO_DEFLATE_AUTO (-1)           /* h5io_write_tensor: compress only big tensors */
#define H5IO_AUTO_MIN_FLOATS 65536       /* 256 KiB; smaller ones gain little from chunking */
#define H5IO_AUTO_LEVEL 4                /* within 1% of level 9 on float weights, 7x faster */
#define H5IO_CHUNK_BYTES (1u << 20)      /* 1 MiB chunks: HDF5's default chunk cache size */
#define H5IO_SUM_BLOCK 512               /* checksum block: HDF5's smallest user block */

/* What an object or attribute holds. */
typedef enum H5Kind {
    H5IO_NONE = 0,
    H5IO_GROUP,
    H5IO_F32,   /* float32 dataset (a tensor) */
    H5IO_F64,   /* float64 attribute or 1-D dataset */
    H5IO_I64,   /* int64 attribute or 1-D dataset (any integer type but uint8/uint64 reads so) */
    H5IO_BYTES, /* 1-D uint8 dataset */
    H5IO_STR,   /* string attribute */
    H5IO_BOOL,  /* bool attribute */
    H5IO_OTHER  /* anything this file does not write */
} H5Kind;

/* An open file. Zero it (or let h5io_create / h5io_open fill it) before use. */
typedef struct H5Out {
    int64_t file;           /* hid_t of the open file */
    int open;               /* 1 between create/open and commit/close */
    int writing;            /* 1: created by h5io_create, not yet committed */
    int64_t format_version; /* read mode: the root's format_version, 0 when absent */
    int verified;           /* read mode: 1 when the checksum block matched */
    char path[H5IO_PATH_MAX];
    char tmp[H5IO_PATH_MAX + sizeof H5IO_TMP_SUFFIX];
} H5Out;

/* An attribute value or a 1-D dataset. Exactly one pointer is used, chosen by kind:
 * f64 (F64), i64 (I64), str (STR; NUL-terminated UTF-8), u8 (BYTES, and BOOL as 0/1).
 * For writing, the pointers are the caller's (h5io_value_* build one without copying);
 * for reading, they are malloc'ed and freed by h5io_value_free. */
typedef struct H5Value {
    H5Kind kind;
    int is_array; /* 0: scalar, n == 1; 1: one-dimensional with n entries (datasets: always) */
    size_t n;
    double *f64;
    int64_t *i64;
    char **str;
    uint8_t *u8;
} H5Value;

/* One entry of a listing: a group, a dataset (ndim, dims) or an attribute (ndim 0: scalar). */
typedef struct H5Entry {
    char name[H5IO_NAME_MAX];
    H5Kind kind;
    int ndim;
    int64_t dims[TENSOR_MAX_DIM]; /* the first TENSOR_MAX_DIM dimensions */
} H5Entry;

typedef struct H5List {
    H5Entry *e;
    int n;
} H5List;

/* ---- writing ---- */

/* Creates "<path>.tmp" (truncating any old one) and writes the root attribute format_version
 * (>= 1). The final <path> is not touched until h5io_commit. */
int h5io_create(H5Out *f, const char *path, int64_t format_version, Err *err);
/* Creates group `group` and any missing parents; an existing group is fine. */
int h5io_group(H5Out *f, const char *group, Err *err);
/* Writes attribute `name` on object `obj` (a group or dataset that exists; "" is the root).
 * v: in, kind F64, I64, STR or BOOL, scalar or 1-D. */
int h5io_attr(H5Out *f, const char *obj, const char *name, const H5Value *v, Err *err);
int h5io_attr_i64(H5Out *f, const char *obj, const char *name, int64_t v, Err *err);
int h5io_attr_f64(H5Out *f, const char *obj, const char *name, double v, Err *err);
int h5io_attr_str(H5Out *f, const char *obj, const char *name, const char *v, Err *err);
int h5io_attr_bool(H5Out *f, const char *obj, const char *name, int v, Err *err);
/* Writes tensor t (in, rank 1-4, t->size floats) as a float32 dataset at `path`, creating
 * missing parent groups. deflate: 0 contiguous; 1-9 chunked (~H5IO_CHUNK_BYTES per chunk,
 * whole inner dimensions first) with shuffle + deflate at that level; H5IO_DEFLATE_AUTO:
 * level H5IO_AUTO_LEVEL from H5IO_AUTO_MIN_FLOATS floats up, contiguous below. */
int h5io_write_tensor(H5Out *f, const char *path, const Tensor *t, int deflate, Err *err);
/* Writes v (in, kind F64, I64 or BYTES, n entries) as a 1-D dataset at `path`. */
int h5io_write_array(H5Out *f, const char *path, const H5Value *v, Err *err);
/* Closes, writes the checksum block, fsyncs, renames <path>.tmp to <path> and fsyncs the
 * directory. On failure the .tmp is deleted and <path> is left as it was. f is closed either
 * way. */
int h5io_commit(H5Out *f, Err *err);

/* Borrowing constructors for h5io_attr / h5io_write_array (is_array = 1). */
H5Value h5io_value_f64(const double *v, size_t n);
H5Value h5io_value_i64(const int64_t *v, size_t n);
H5Value h5io_value_str(const char *const *v, size_t n);
H5Value h5io_value_bool(const uint8_t *v, size_t n);
H5Value h5io_value_bytes(const uint8_t *v, size_t n);

/* ---- reading ---- */

/* Verifies the checksum block (when there is one), opens the file read-only and records its
 * format_version. A missing file gives the path and strerror; a truncated or corrupt one the
 * documented message above. */
int h5io_open(H5Out *f, const char *path, Err *err);
/* Lists the groups and datasets in `group` (out: malloc'ed, free with h5io_list_free). */
int h5io_list(H5Out *f, const char *group, H5List *out, Err *err);
/* Lists the attributes of object `obj`, kinds as h5io_read_attr returns them. */
int h5io_list_attrs(H5Out *f, const char *obj, H5List *out, Err *err);
void h5io_list_free(H5List *l);
/* Reads attribute `name` of `obj` into v (out; free with h5io_value_free). Integers read
 * as I64, floats as F64. */
int h5io_read_attr(H5Out *f, const char *obj, const char *name, H5Value *v, Err *err);
/* Reads a scalar integer attribute (e.g. format_version, seeds, epoch counters). */
int h5io_read_attr_i64(H5Out *f, const char *obj, const char *name, int64_t *v, Err *err);
/* Reads a float32 dataset. t: zeroed (ndim 0; allocated here with the dataset's shape) or
 * already of the dataset's shape (read in place, e.g. into a Net's parameter view). */
int h5io_read_tensor(H5Out *f, const char *path, Tensor *t, Err *err);
/* Reads a 1-D float64, integer or uint8 dataset into v (out; free with h5io_value_free). */
int h5io_read_array(H5Out *f, const char *path, H5Value *v, Err *err);
void h5io_value_free(H5Value *v);

/* Closes f. A file being written and not committed is deleted. Safe on a closed or zeroed f. */
void h5io_close(H5Out *f);

/* 0 when <path> has a matching checksum block, opens as HDF5 and has a format_version
 * attribute; else -1 and the reason. */
int h5io_is_complete(const char *path, Err *err);
/* "group", "f32", "f64", "i64", "bytes", "str", "bool", "other" or "none". */
const char *h5io_kind_name(H5Kind k);

#endif
