/*
 * h5io_internal.h: what the files of io/h5io share and nothing else includes; the public API
 * and the file contract are in h5io.h.
 *
 *   h5io_types.c   errors (HDF5's innermost reason), stored and in-memory types, H5Value
 *   h5io_write.c   h5io_create, groups, attributes, datasets
 *   h5io_commit.c  the checksum block, h5io_commit (close, checksum, fsync, rename), h5io_close
 *   h5io_read.c    h5io_open, h5io_is_complete, listings, attribute and dataset readers
 *
 * Every HDF5 call is checked; on failure the innermost message of HDF5's error stack is taken
 * (h5io_detail) before any cleanup call clears it, and the handles opened so far are closed.
 * Files are opened with H5F_CLOSE_STRONG, so closing the file also closes anything a failed
 * path left open, and the bytes on disk are complete when h5io_commit renames them.
 */
#ifndef H5IO_INTERNAL_H
#define H5IO_INTERNAL_H

#include <stddef.h>

#include <hdf5.h>

#include "io/h5io.h"

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "H5Out stores hid_t as int64_t");

#define DETAIL_MAX 160 /* room for HDF5's reason inside ERR_MSG_MAX */
#define CORRUPT_MSG "not a valid HDF5 file (truncated or corrupt); delete it to rerun"

/* ---- errors (h5io_types.c) ---- */

/* The innermost (most specific) description on HDF5's current error stack, into buf (out). */
const char *h5io_detail(char *buf, size_t len);
/* The file name errors give: the .tmp while f is being written, else the path. */
const char *h5io_fname(const H5Out *f);
/* "fn: file: <what> (HDF5: reason)" into err; returns -1. Call right after the failing HDF5
 * call. f: in, the file (its .tmp while being written). */
int h5io_fail(Err *err, const char *fn, const H5Out *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 0 when f is open (and, with writing = 1, being written); else -1 and the reason. */
int h5io_check_open(const H5Out *f, int writing, const char *fn, Err *err);
/* "" and "/" (and NULL) name the root. */
const char *h5io_obj_path(const char *p);

/* ---- types (h5io_types.c) ---- */

/* A variable-length string type of character set cset (a new handle; close it). */
hid_t h5io_vlen_str_type(H5T_cset_t cset);
/* The type stored in the file for kind k (a new handle; close it). */
hid_t h5io_file_type(H5Kind k);
/* The in-memory type matching H5Value's pointer for kind k (a new handle). */
hid_t h5io_mem_type(H5Kind k);
/* Classifies a stored type. Attribute readers map F32 to F64 and BYTES to I64. */
H5Kind h5io_classify(hid_t t);
H5Kind h5io_attr_kind(H5Kind k);

/* ---- values (h5io_types.c) ---- */

/* The one pointer of v that its kind uses (NULL for other kinds). */
const void *h5io_value_data(const H5Value *v);
/* Allocates the pointer that kind k uses, n entries (at least one byte); 0 or -1. */
int h5io_value_alloc(H5Value *v, H5Kind k, size_t n, int is_array);

/* ---- checksum block (h5io_commit.c) ---- */

/* 1: the checksum block matches; 0: there is none (a file from another writer); -1: it does
 * not match or cannot be parsed (corrupt); -2: I/O error, errno set. */
int h5io_sum_check(const char *path);

#endif
