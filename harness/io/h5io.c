/*
 * h5io.c: HDF5 results and checkpoint files; see h5io.h for the layout and the contract.
 *
 * Every HDF5 call is checked; on failure the innermost message of HDF5's error stack is taken
 * (h5_detail) before any cleanup call clears it, and the handles opened so far are closed.
 * Files are opened with H5F_CLOSE_STRONG, so closing the file also closes anything a failed
 * path left open, and the bytes on disk are complete when h5io_commit renames them.
 */
#include "io/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "H5Out stores hid_t as int64_t");

#define DETAIL_MAX 160 /* room for HDF5's reason inside ERR_MSG_MAX */
#define CORRUPT_MSG "not a valid HDF5 file (truncated or corrupt); delete it to rerun"

/* ---------------------------------------------------------------------------------------- */
/* errors */

typedef struct Detail {
    char *buf;
    size_t len;
    int got;
} Detail;

static herr_t detail_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    Detail *d = data;
    (void)n;
    if (!d->got && e->desc && e->desc[0]) {
        snprintf(d->buf, d->len, "%s", e->desc);
        d->got = 1;
    }
    return 0;
}

/* The innermost (most specific) description on HDF5's current error stack. */
static const char *h5_detail(char *buf, size_t len)
{
    Detail d = {buf, len, 0};
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_walk, &d);
    if (!d.got)
        snprintf(buf, len, "no reason given");
    return buf;
}

static const char *fname(const H5Out *f) { return f->writing ? f->tmp : f->path; }

/* "fn: file: <what> (HDF5: reason)". Call right after the failing HDF5 call. */
static int h5_fail(Err *err, const char *fn, const H5Out *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int h5_fail(Err *err, const char *fn, const H5Out *f, const char *fmt, ...)
{
    char what[ERR_MSG_MAX / 2], detail[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(err, "%s: %s: %s (HDF5: %s)", fn, fname(f), what,
                   h5_detail(detail, sizeof detail));
}

static int check_open(const H5Out *f, int writing, const char *fn, Err *err)
{
    if (!f || !f->open)
        return err_set(err, "%s: file is not open", fn);
    if (writing && !f->writing)
        return err_set(err, "%s: %s is open for reading, expected a file being written", fn,
                       f->path);
    return 0;
}

/* "" and "/" name the root. */
static const char *obj_path(const char *p) { return (!p || !p[0]) ? "/" : p; }

/* ---------------------------------------------------------------------------------------- */
/* types */

static hid_t bool_type(void)
{
    /* h5py's bool: an int8 enum with members FALSE = 0 and TRUE = 1 */
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t no = 0, yes = 1;
    if (t < 0)
        return -1;
    if (H5Tenum_insert(t, "FALSE", &no) < 0 || H5Tenum_insert(t, "TRUE", &yes) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static hid_t vlen_str_type(H5T_cset_t cset)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, cset) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* The type stored in the file for kind k (a new handle; close it). */
static hid_t file_type(H5Kind k)
{
    switch (k) {
    case H5IO_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case H5IO_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case H5IO_I64: return H5Tcopy(H5T_STD_I64LE);
    case H5IO_BYTES: return H5Tcopy(H5T_STD_U8LE);
    case H5IO_STR: return vlen_str_type(H5T_CSET_UTF8);
    case H5IO_BOOL: return bool_type();
    default: return -1;
    }
}

/* The in-memory type matching H5Value's pointer for kind k (a new handle). */
static hid_t mem_type(H5Kind k)
{
    switch (k) {
    case H5IO_F32: return H5Tcopy(H5T_NATIVE_FLOAT);
    case H5IO_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case H5IO_I64: return H5Tcopy(H5T_NATIVE_INT64);
    case H5IO_BYTES: return H5Tcopy(H5T_NATIVE_UINT8);
    case H5IO_STR: return vlen_str_type(H5T_CSET_UTF8);
    case H5IO_BOOL: return bool_type();
    default: return -1;
    }
}

static int is_bool_enum(hid_t t)
{
    hid_t super = H5Tget_super(t);
    if (super < 0)
        return 0;
    size_t size = H5Tget_size(super);
    H5Tclose(super);
    return size == 1 && H5Tget_nmembers(t) == 2 && H5Tget_member_index(t, "FALSE") >= 0 &&
           H5Tget_member_index(t, "TRUE") >= 0;
}

/* Classifies a stored type. Attribute readers map F32 to F64 and BYTES to I64. */
static H5Kind classify(hid_t t)
{
    size_t size = H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_FLOAT: return size == 4 ? H5IO_F32 : size == 8 ? H5IO_F64 : H5IO_OTHER;
    case H5T_INTEGER: {
        H5T_sign_t sign = H5Tget_sign(t);
        if (size == 1 && sign == H5T_SGN_NONE)
            return H5IO_BYTES;
        if (size > 8 || (size == 8 && sign == H5T_SGN_NONE))
            return H5IO_OTHER; /* would not fit int64 */
        return H5IO_I64;
    }
    case H5T_STRING: return H5IO_STR;
    case H5T_ENUM: return is_bool_enum(t) ? H5IO_BOOL : H5IO_OTHER;
    default: return H5IO_OTHER;
    }
}

static H5Kind attr_kind(H5Kind k)
{
    return k == H5IO_F32 ? H5IO_F64 : k == H5IO_BYTES ? H5IO_I64 : k;
}

const char *h5io_kind_name(H5Kind k)
{
    static const char *const names[] = {"none", "group", "f32", "f64", "i64",
                                        "bytes", "str", "bool", "other"};
    return (k >= H5IO_NONE && k <= H5IO_OTHER) ? names[k] : "other";
}

/* ---------------------------------------------------------------------------------------- */
/* values */

H5Value h5io_value_f64(const double *v, size_t n)
{
    H5Value r = {.kind = H5IO_F64, .is_array = 1, .n = n, .f64 = (double *)v};
    return r;
}

H5Value h5io_value_i64(const int64_t *v, size_t n)
{
    H5Value r = {.kind = H5IO_I64, .is_array = 1, .n = n, .i64 = (int64_t *)v};
    return r;
}

H5Value h5io_value_str(const char *const *v, size_t n)
{
    H5Value r = {.kind = H5IO_STR, .is_array = 1, .n = n, .str = (char **)v};
    return r;
}

H5Value h5io_value_bool(const uint8_t *v, size_t n)
{
    H5Value r = {.kind = H5IO_BOOL, .is_array = 1, .n = n, .u8 = (uint8_t *)v};
    return r;
}

H5Value h5io_value_bytes(const uint8_t *v, size_t n)
{
    H5Value r = {.kind = H5IO_BYTES, .is_array = 1, .n = n, .u8 = (uint8_t *)v};
    return r;
}

static const void *value_data(const H5Value *v)
{
    switch (v->kind) {
    case H5IO_F64: return v->f64;
    case H5IO_I64: return v->i64;
    case H5IO_STR: return v->str;
    case H5IO_BYTES:
    case H5IO_BOOL: return v->u8;
    default: return NULL;
    }
}

void h5io_value_free(H5Value *v)
{
    if (!v)
        return;
    if (v->str)
        for (size_t i = 0; i < v->n; i++)
            free(v->str[i]);
    free(v->f64);
    free(v->i64);
    free(v->str);
    free(v->u8);
    memset(v, 0, sizeof *v);
}

/* Allocates the pointer that kind k uses, n entries (at least one byte). */
static int value_alloc(H5Value *v, H5Kind k, size_t n, int is_array)
{
    size_t m = n ? n : 1;
    memset(v, 0, sizeof *v);
    v->kind = k;
    v->n = n;
    v->is_array = is_array;
    switch (k) {
    case H5IO_F64: v->f64 = malloc(m * sizeof *v->f64); return v->f64 ? 0 : -1;
    case H5IO_I64: v->i64 = malloc(m * sizeof *v->i64); return v->i64 ? 0 : -1;
    case H5IO_STR: v->str = calloc(m, sizeof *v->str); return v->str ? 0 : -1;
    case H5IO_BYTES:
    case H5IO_BOOL: v->u8 = malloc(m); return v->u8 ? 0 : -1;
    default: return -1;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* writing */

int h5io_create(H5Out *f, const char *path, int64_t format_version, Err *err)
{
    const char *fn = "h5io_create";
    memset(f, 0, sizeof *f);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!path || !path[0])
        return err_set(err, "%s: path is empty", fn);
    if (strlen(path) >= H5IO_PATH_MAX)
        return err_set(err, "%s: path has %zu characters, at most %d allowed", fn, strlen(path),
                       H5IO_PATH_MAX - 1);
    if (format_version < 1)
        return err_set(err, "%s: %s: format_version is %lld, expected >= 1", fn, path,
                       (long long)format_version);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s%s", path, H5IO_TMP_SUFFIX);

    /* open(2) first, for errno: HDF5 only says "unable to open file" */
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return err_set(err, "%s: %s: %s (does the directory exist and is it writable?)", fn,
                       f->tmp, strerror(errno));
    close(fd);

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t file = -1;
    if (fapl >= 0 && fcpl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
        H5Pset_obj_track_times(fcpl, 0) >= 0 && H5Pset_userblock(fcpl, H5IO_SUM_BLOCK) >= 0)
        file = H5Fcreate(f->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (file < 0) {
        char detail[DETAIL_MAX];
        h5_detail(detail, sizeof detail);
        H5Pclose(fapl);
        H5Pclose(fcpl);
        unlink(f->tmp);
        return err_set(err, "%s: %s: cannot create HDF5 file (HDF5: %s)", fn, f->tmp, detail);
    }
    H5Pclose(fapl);
    H5Pclose(fcpl);
    f->file = file;
    f->open = 1;
    f->writing = 1;
    f->format_version = format_version;
    if (h5io_attr_i64(f, "", H5IO_FORMAT_ATTR, format_version, err)) {
        h5io_close(f);
        return -1;
    }
    return 0;
}

static hid_t group_cpl(void)
{
    hid_t p = H5Pcreate(H5P_GROUP_CREATE);
    if (p >= 0 && H5Pset_obj_track_times(p, 0) < 0) {
        H5Pclose(p);
        return -1;
    }
    return p;
}

/* Creates every missing group along path; with last = 0 the final component is left out. */
static int make_groups(H5Out *f, const char *path, int last, const char *fn, Err *err)
{
    char buf[H5IO_PATH_MAX];
    if (strlen(path) >= sizeof buf)
        return err_set(err, "%s: %s: object path has %zu characters, at most %d allowed", fn,
                       fname(f), strlen(path), H5IO_PATH_MAX - 1);
    snprintf(buf, sizeof buf, "%s", path);
    hid_t gcpl = group_cpl();
    if (gcpl < 0)
        return h5_fail(err, fn, f, "cannot make a group property list");
    size_t len = strlen(buf);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && !(last && i == len))
            continue;
        char saved = buf[i];
        buf[i] = 0;
        if (buf[i - 1] != '/') {
            htri_t ex = H5Lexists(f->file, buf, H5P_DEFAULT);
            hid_t g = ex > 0 ? 0 : ex == 0 ? H5Gcreate2(f->file, buf, H5P_DEFAULT, gcpl,
                                                         H5P_DEFAULT) : -1;
            if (g < 0) {
                h5_fail(err, fn, f, "cannot create group '%s'", buf);
                H5Pclose(gcpl);
                return -1;
            }
            if (g > 0)
                H5Gclose(g);
        }
        buf[i] = saved;
    }
    H5Pclose(gcpl);
    return 0;
}

int h5io_group(H5Out *f, const char *group, Err *err)
{
    const char *fn = "h5io_group";
    if (check_open(f, 1, fn, err))
        return -1;
    const char *p = obj_path(group);
    if (!strcmp(p, "/"))
        return 0;
    if (make_groups(f, p, 1, fn, err))
        return -1;
    hid_t g = H5Gopen2(f->file, p, H5P_DEFAULT);
    if (g < 0)
        return h5_fail(err, fn, f, "'%s' exists and is not a group", p);
    H5Gclose(g);
    return 0;
}

static int check_value(const H5Value *v, int dataset, const char *fn, const char *file,
                       const char *name, Err *err)
{
    if (!v)
        return err_set(err, "%s: %s: '%s': value is NULL", fn, file, name);
    int ok = dataset ? (v->kind == H5IO_F64 || v->kind == H5IO_I64 || v->kind == H5IO_BYTES)
                     : (v->kind == H5IO_F64 || v->kind == H5IO_I64 || v->kind == H5IO_STR ||
                        v->kind == H5IO_BOOL);
    if (!ok)
        return err_set(err, "%s: %s: '%s': kind is %s, expected %s", fn, file, name,
                       h5io_kind_name(v->kind),
                       dataset ? "f64, i64 or bytes" : "f64, i64, str or bool");
    if (!v->is_array && v->n != 1)
        return err_set(err, "%s: %s: '%s': scalar with n = %zu, expected 1", fn, file, name,
                       v->n);
    if (dataset && !v->is_array)
        return err_set(err, "%s: %s: '%s': datasets are 1-D, got a scalar", fn, file, name);
    if (v->n && !value_data(v))
        return err_set(err, "%s: %s: '%s': %zu entries but a NULL pointer", fn, file, name,
                       v->n);
    if (v->kind == H5IO_STR)
        for (size_t i = 0; i < v->n; i++)
            if (!v->str[i])
                return err_set(err, "%s: %s: '%s': string %zu is NULL", fn, file, name, i);
    return 0;
}

int h5io_attr(H5Out *f, const char *obj, const char *name, const H5Value *v, Err *err)
{
    const char *fn = "h5io_attr";
    if (check_open(f, 1, fn, err))
        return -1;
    if (!name || !name[0])
        return err_set(err, "%s: %s: attribute name is empty", fn, f->tmp);
    if (strlen(name) >= H5IO_NAME_MAX)
        return err_set(err, "%s: %s: attribute name has %zu characters, at most %d allowed", fn,
                       f->tmp, strlen(name), H5IO_NAME_MAX - 1);
    if (check_value(v, 0, fn, f->tmp, name, err))
        return -1;
    const char *p = obj_path(obj);
    int rc = -1;
    hsize_t n = (hsize_t)v->n;
    hid_t o = -1, ft = -1, mt = -1, sp = -1, a = -1;
    if ((o = H5Oopen(f->file, p, H5P_DEFAULT)) < 0) {
        h5_fail(err, fn, f, "no object '%s' for attribute '%s'", p, name);
        goto done;
    }
    ft = file_type(v->kind);
    mt = mem_type(v->kind);
    sp = v->is_array ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (ft < 0 || mt < 0 || sp < 0) {
        h5_fail(err, fn, f, "cannot make the type of attribute '%s'", name);
        goto done;
    }
    if ((a = H5Acreate2(o, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        h5_fail(err, fn, f, "cannot create attribute '%s' on '%s'", name, p);
        goto done;
    }
    if (v->n && H5Awrite(a, mt, value_data(v)) < 0) {
        h5_fail(err, fn, f, "cannot write attribute '%s' on '%s'", name, p);
        goto done;
    }
    rc = 0;
done:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (o >= 0) H5Oclose(o);
    return rc;
}

int h5io_attr_i64(H5Out *f, const char *obj, const char *name, int64_t v, Err *err)
{
    H5Value x = {.kind = H5IO_I64, .n = 1, .i64 = &v};
    return h5io_attr(f, obj, name, &x, err);
}

int h5io_attr_f64(H5Out *f, const char *obj, const char *name, double v, Err *err)
{
    H5Value x = {.kind = H5IO_F64, .n = 1, .f64 = &v};
    return h5io_attr(f, obj, name, &x, err);
}

int h5io_attr_str(H5Out *f, const char *obj, const char *name, const char *v, Err *err)
{
    H5Value x = {.kind = H5IO_STR, .n = 1, .str = (char **)&v};
    return h5io_attr(f, obj, name, &x, err);
}

int h5io_attr_bool(H5Out *f, const char *obj, const char *name, int v, Err *err)
{
    uint8_t b = v != 0;
    H5Value x = {.kind = H5IO_BOOL, .n = 1, .u8 = &b};
    return h5io_attr(f, obj, name, &x, err);
}

/* Chunk shape of about H5IO_CHUNK_BYTES: whole inner dimensions first. */
static void chunk_dims(int rank, const hsize_t *dims, size_t elem, hsize_t *chunk)
{
    hsize_t budget = H5IO_CHUNK_BYTES / elem;
    for (int i = rank - 1; i >= 0; i--) {
        hsize_t c = dims[i] < budget ? dims[i] : budget;
        chunk[i] = c ? c : 1;
        budget = budget / chunk[i] ? budget / chunk[i] : 1;
    }
}

/* Creates dataset `path` of kind k and shape dims, then writes data (NULL only when empty). */
static int write_dataset(H5Out *f, const char *fn, const char *path, H5Kind k, int rank,
                         const hsize_t *dims, int level, const void *data, Err *err)
{
    const char *p = obj_path(path);
    if (!strcmp(p, "/"))
        return err_set(err, "%s: %s: dataset path is empty", fn, f->tmp);
    if (make_groups(f, p, 0, fn, err))
        return -1;
    int rc = -1;
    hsize_t total = 1, chunk[TENSOR_MAX_DIM];
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    hid_t ft = file_type(k), mt = mem_type(k), sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    if (ft < 0 || mt < 0 || sp < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        h5_fail(err, fn, f, "cannot make the type of dataset '%s'", p);
        goto done;
    }
    if (level > 0 && total > 0) {
        if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) {
            err_set(err, "%s: %s: dataset '%s': this HDF5 library has no deflate filter", fn,
                    f->tmp, p);
            goto done;
        }
        chunk_dims(rank, dims, H5Tget_size(mt), chunk);
        /* shuffle groups the bytes of each float by significance, which deflate needs */
        if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
            H5Pset_deflate(dcpl, (unsigned)level) < 0) {
            h5_fail(err, fn, f, "cannot set chunking of dataset '%s'", p);
            goto done;
        }
    }
    if ((d = H5Dcreate2(f->file, p, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        h5_fail(err, fn, f, "cannot create dataset '%s'", p);
        goto done;
    }
    if (total > 0 && H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        h5_fail(err, fn, f, "cannot write dataset '%s'", p);
        goto done;
    }
    rc = 0;
done:
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    return rc;
}

int h5io_write_tensor(H5Out *f, const char *path, const Tensor *t, int deflate, Err *err)
{
    const char *fn = "h5io_write_tensor";
    if (check_open(f, 1, fn, err))
        return -1;
    if (!t)
        return err_set(err, "%s: %s: '%s': tensor is NULL", fn, f->tmp, obj_path(path));
    if (t->ndim < 1 || t->ndim > TENSOR_MAX_DIM)
        return err_set(err, "%s: %s: '%s': tensor has %d dimensions, expected 1..%d", fn,
                       f->tmp, obj_path(path), t->ndim, TENSOR_MAX_DIM);
    if (t->size && !t->data)
        return err_set(err, "%s: %s: '%s': tensor has no data", fn, f->tmp, obj_path(path));
    if (deflate < H5IO_DEFLATE_AUTO || deflate > H5IO_DEFLATE_MAX)
        return err_set(err, "%s: %s: '%s': deflate is %d, expected %d (auto) or 0..%d", fn,
                       f->tmp, obj_path(path), deflate, H5IO_DEFLATE_AUTO, H5IO_DEFLATE_MAX);
    hsize_t dims[TENSOR_MAX_DIM];
    for (int i = 0; i < t->ndim; i++)
        dims[i] = (hsize_t)t->shape[i];
    int level = deflate;
    if (deflate == H5IO_DEFLATE_AUTO)
        level = t->size >= H5IO_AUTO_MIN_FLOATS ? H5IO_AUTO_LEVEL : 0;
    return write_dataset(f, fn, path, H5IO_F32, t->ndim, dims, level, t->data, err);
}

int h5io_write_array(H5Out *f, const char *path, const H5Value *v, Err *err)
{
    const char *fn = "h5io_write_array";
    if (check_open(f, 1, fn, err))
        return -1;
    if (check_value(v, 1, fn, f->tmp, obj_path(path), err))
        return -1;
    hsize_t n = (hsize_t)v->n;
    return write_dataset(f, fn, path, v->kind, 1, &n, 0, value_data(v), err);
}

/* ---------------------------------------------------------------------------------------- */
/* checksum block */

#define SUM_MAGIC "h5io checksum v1\n"
#define FNV_OFFSET 0xcbf29ce484222325ULL /* FNV-1a 64 (Fowler, Noll, Vo; draft-eastlake-fnv) */
#define FNV_PRIME 0x100000001b3ULL
#define SUM_READ_BYTES ((size_t)1 << 20)

/* FNV-1a 64 of fd's bytes from H5IO_SUM_BLOCK to the end. 0, or -1 with errno. */
static int sum_fd(int fd, uint64_t *sum)
{
    unsigned char *buf = malloc(SUM_READ_BYTES);
    if (!buf) {
        errno = ENOMEM;
        return -1;
    }
    uint64_t h = FNV_OFFSET;
    off_t off = H5IO_SUM_BLOCK;
    for (;;) {
        ssize_t n = pread(fd, buf, SUM_READ_BYTES, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            if (n == 0)
                *sum = h;
            return n == 0 ? 0 : -1;
        }
        for (ssize_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= FNV_PRIME;
        }
        off += n;
    }
}

/* Writes the checksum block of a closed HDF5 file and fsyncs it. */
static int sum_write(const char *path, const char *fn, Err *err)
{
    char block[H5IO_SUM_BLOCK];
    struct stat st;
    uint64_t h;
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return err_set(err, "%s: %s: %s", fn, path, strerror(errno));
    if (fstat(fd, &st) < 0 || sum_fd(fd, &h) < 0) {
        err_set(err, "%s: %s: reading back for the checksum: %s", fn, path, strerror(errno));
        close(fd);
        return -1;
    }
    memset(block, 0, sizeof block);
    snprintf(block, sizeof block, SUM_MAGIC "size %lld\nfnv1a64 %016llx\n",
             (long long)st.st_size, (unsigned long long)h);
    if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fsync(fd) < 0) {
        err_set(err, "%s: %s: writing the checksum block: %s", fn, path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* 1: the checksum block matches; 0: there is none (a file from another writer); -1: it does
 * not match or cannot be parsed (corrupt); -2: I/O error, errno set. */
static int sum_check(const char *path)
{
    char block[H5IO_SUM_BLOCK + 1];
    struct stat st;
    long long size;
    unsigned long long want;
    uint64_t h;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -2;
    ssize_t n = pread(fd, block, H5IO_SUM_BLOCK, 0);
    int rc;
    if (n < 0) {
        rc = -2;
    } else if (n < H5IO_SUM_BLOCK || memcmp(block, SUM_MAGIC, strlen(SUM_MAGIC))) {
        rc = 0;
    } else {
        block[H5IO_SUM_BLOCK] = 0;
        rc = -1;
        if (sscanf(block + strlen(SUM_MAGIC), "size %lld\nfnv1a64 %16llx", &size, &want) == 2 &&
            fstat(fd, &st) == 0 && st.st_size == size)
            rc = sum_fd(fd, &h) < 0 ? -2 : h == want ? 1 : -1;
    }
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* commit */

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int h5io_commit(H5Out *f, Err *err)
{
    const char *fn = "h5io_commit";
    if (check_open(f, 1, fn, err))
        return -1;
    f->open = 0;
    if (H5Fclose(f->file) < 0) {
        h5_fail(err, fn, f, "cannot close the file");
        unlink(f->tmp);
        f->writing = 0;
        return -1;
    }
    f->writing = 0;
    if (sum_write(f->tmp, fn, err)) {
        unlink(f->tmp);
        return -1;
    }
    if (rename(f->tmp, f->path) < 0) {
        err_set(err, "%s: rename %s to %s: %s", fn, f->tmp, f->path, strerror(errno));
        unlink(f->tmp);
        return -1;
    }
    /* the rename itself is durable only once the directory entry is on disk */
    char dir[H5IO_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", f->path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = 0; /* "/x.h5" keeps "/" */
    if (fsync_path(dir, O_RDONLY | O_DIRECTORY) < 0 && errno != EINVAL)
        return err_set(err, "%s: %s: fsync of directory %s: %s", fn, f->path, dir,
                       strerror(errno));
    return 0;
}

void h5io_close(H5Out *f)
{
    if (!f || !f->open)
        return;
    H5Fclose(f->file);
    if (f->writing)
        unlink(f->tmp);
    f->open = 0;
    f->writing = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* reading */

int h5io_open(H5Out *f, const char *path, Err *err)
{
    const char *fn = "h5io_open";
    memset(f, 0, sizeof *f);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!path || !path[0])
        return err_set(err, "%s: path is empty", fn);
    if (strlen(path) >= H5IO_PATH_MAX)
        return err_set(err, "%s: path has %zu characters, at most %d allowed", fn, strlen(path),
                       H5IO_PATH_MAX - 1);
    snprintf(f->path, sizeof f->path, "%s", path);
    struct stat st;
    if (stat(path, &st) < 0)
        return err_set(err, "%s: %s: %s", fn, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, "%s: %s: not a regular file", fn, path);
    /* the whole file is checked before HDF5 parses any of it: HDF5 1.10 can crash on
     * damaged metadata, and damaged data would be read silently */
    int sum = sum_check(path);
    if (sum == -2)
        return err_set(err, "%s: %s: %s", fn, path, strerror(errno));
    if (sum == -1)
        return err_set(err, "%s: %s: " CORRUPT_MSG, fn, path);
    f->verified = sum == 1;

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file = -1;
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0)
        file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    /* HDF5 checks the signature, the superblock and the stored end-of-file address against
     * the file size, which catches truncation */
    if (file < 0)
        return err_set(err, "%s: %s: " CORRUPT_MSG, fn, path);
    f->file = file;
    f->open = 1;
    htri_t has = H5Aexists(file, H5IO_FORMAT_ATTR);
    if (has < 0) {
        h5io_close(f);
        return err_set(err, "%s: %s: " CORRUPT_MSG, fn, path);
    }
    if (has > 0 && h5io_read_attr_i64(f, "", H5IO_FORMAT_ATTR, &f->format_version, err)) {
        h5io_close(f);
        return -1;
    }
    return 0;
}

int h5io_is_complete(const char *path, Err *err)
{
    H5Out f;
    if (h5io_open(&f, path, err))
        return -1;
    int64_t v = f.format_version;
    int verified = f.verified;
    h5io_close(&f);
    if (v < 1)
        return err_set(err, "h5io_is_complete: %s: no " H5IO_FORMAT_ATTR
                       " attribute at the root (incomplete or not written by h5io); "
                       "delete it to rerun", path);
    if (!verified)
        return err_set(err, "h5io_is_complete: %s: no checksum block (not written by h5io, "
                       "or its first bytes are damaged); delete it to rerun", path);
    return 0;
}

void h5io_list_free(H5List *l)
{
    if (!l)
        return;
    free(l->e);
    l->e = NULL;
    l->n = 0;
}

/* Shape of a dataspace into e (kind left alone); -1 for a rank over TENSOR_MAX_DIM. */
static int entry_shape(H5Entry *e, hid_t sp)
{
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Sget_simple_extent_dims(sp, dims, NULL);
    if (rank < 0)
        return -1;
    e->ndim = rank;
    for (int i = 0; i < rank && i < TENSOR_MAX_DIM; i++)
        e->dims[i] = (int64_t)dims[i];
    return rank <= TENSOR_MAX_DIM ? 0 : 1;
}

int h5io_list(H5Out *f, const char *group, H5List *out, Err *err)
{
    const char *fn = "h5io_list";
    memset(out, 0, sizeof *out);
    if (check_open(f, 0, fn, err))
        return -1;
    const char *p = obj_path(group);
    H5G_info_t info;
    hid_t g = H5Gopen2(f->file, p, H5P_DEFAULT);
    if (g < 0)
        return h5_fail(err, fn, f, "no group '%s'", p);
    if (H5Gget_info(g, &info) < 0) {
        h5_fail(err, fn, f, "cannot read group '%s'", p);
        H5Gclose(g);
        return -1;
    }
    out->e = calloc(info.nlinks ? info.nlinks : 1, sizeof *out->e);
    if (!out->e) {
        H5Gclose(g);
        return err_set(err, "%s: %s: out of memory listing '%s'", fn, f->path, p);
    }
    for (hsize_t i = 0; i < info.nlinks; i++) {
        H5Entry *e = &out->e[out->n];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, e->name,
                                         sizeof e->name, H5P_DEFAULT);
        if (len < 0 || (size_t)len >= sizeof e->name) {
            if (len < 0)
                h5_fail(err, fn, f, "cannot read entry %llu of group '%s'",
                        (unsigned long long)i, p);
            else
                err_set(err, "%s: %s: a name in '%s' has %zd characters, at most %d allowed",
                        fn, f->path, p, len, H5IO_NAME_MAX - 1);
            goto fail;
        }
        hid_t o = H5Oopen(g, e->name, H5P_DEFAULT);
        if (o < 0) {
            h5_fail(err, fn, f, "cannot open '%s' in group '%s'", e->name, p);
            goto fail;
        }
        H5I_type_t type = H5Iget_type(o);
        e->kind = H5IO_OTHER;
        if (type == H5I_GROUP) {
            e->kind = H5IO_GROUP;
        } else if (type == H5I_DATASET) {
            hid_t t = H5Dget_type(o), sp = H5Dget_space(o);
            int shape = sp >= 0 ? entry_shape(e, sp) : -1;
            if (t < 0 || shape < 0) {
                h5_fail(err, fn, f, "cannot read dataset '%s' in group '%s'", e->name, p);
                if (t >= 0) H5Tclose(t);
                if (sp >= 0) H5Sclose(sp);
                H5Oclose(o);
                goto fail;
            }
            H5Kind k = classify(t);
            if (shape == 0 && (k == H5IO_F32 ? e->ndim >= 1
                                              : (k == H5IO_F64 || k == H5IO_I64 ||
                                                 k == H5IO_BYTES) && e->ndim == 1))
                e->kind = k;
            H5Tclose(t);
            H5Sclose(sp);
        }
        H5Oclose(o);
        out->n++;
    }
    H5Gclose(g);
    return 0;
fail:
    H5Gclose(g);
    h5io_list_free(out);
    return -1;
}

typedef struct AttrNames {
    H5List *l;
    int cap;
    int too_long, oom;
} AttrNames;

static herr_t attr_name_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    AttrNames *a = data;
    (void)loc;
    (void)info;
    if (strlen(name) >= H5IO_NAME_MAX) {
        a->too_long = 1;
        return 1;
    }
    if (a->l->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        H5Entry *e = realloc(a->l->e, (size_t)cap * sizeof *e);
        if (!e) {
            a->oom = 1;
            return 1;
        }
        a->l->e = e;
        a->cap = cap;
    }
    H5Entry *e = &a->l->e[a->l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    return 0;
}

int h5io_list_attrs(H5Out *f, const char *obj, H5List *out, Err *err)
{
    const char *fn = "h5io_list_attrs";
    memset(out, 0, sizeof *out);
    if (check_open(f, 0, fn, err))
        return -1;
    const char *p = obj_path(obj);
    hid_t o = H5Oopen(f->file, p, H5P_DEFAULT);
    if (o < 0)
        return h5_fail(err, fn, f, "no object '%s'", p);
    AttrNames names = {out, 0, 0, 0};
    hsize_t idx = 0;
    herr_t rc = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_name_cb, &names);
    if (rc < 0 || names.too_long || names.oom) {
        if (rc < 0)
            h5_fail(err, fn, f, "cannot list the attributes of '%s'", p);
        else
            err_set(err, "%s: %s: '%s': %s", fn, f->path, p,
                    names.oom ? "out of memory" : "an attribute name is too long");
        goto fail;
    }
    for (int i = 0; i < out->n; i++) {
        H5Entry *e = &out->e[i];
        hid_t a = H5Aopen(o, e->name, H5P_DEFAULT);
        hid_t t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
        int shape = sp >= 0 ? entry_shape(e, sp) : -1;
        if (shape < 0 || t < 0) {
            h5_fail(err, fn, f, "cannot read attribute '%s' of '%s'", e->name, p);
            if (t >= 0) H5Tclose(t);
            if (sp >= 0) H5Sclose(sp);
            if (a >= 0) H5Aclose(a);
            goto fail;
        }
        H5Kind k = attr_kind(classify(t));
        e->kind = (e->ndim <= 1) ? k : H5IO_OTHER;
        H5Tclose(t);
        H5Sclose(sp);
        H5Aclose(a);
    }
    H5Oclose(o);
    return 0;
fail:
    H5Oclose(o);
    h5io_list_free(out);
    return -1;
}

/* Reads n strings of attribute a (stored type t) into v->str as malloc'ed copies. */
static int read_strings(hid_t a, hid_t t, H5Value *v)
{
    H5T_cset_t cset = H5Tget_cset(t);
    int rc = -1;
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = vlen_str_type(cset);
        char **tmp = calloc(v->n, sizeof *tmp);
        if (mt >= 0 && tmp && H5Aread(a, mt, tmp) >= 0) {
            rc = 0;
            for (size_t i = 0; i < v->n; i++) {
                v->str[i] = strdup(tmp[i] ? tmp[i] : "");
                if (!v->str[i])
                    rc = -1;
                if (tmp[i])
                    H5free_memory(tmp[i]);
            }
        }
        free(tmp);
        if (mt >= 0)
            H5Tclose(mt);
        return rc;
    }
    /* fixed-length strings (h5py's numpy.bytes_): read NUL-terminated, one byte longer */
    size_t size = H5Tget_size(t) + 1;
    hid_t mt = H5Tcopy(H5T_C_S1);
    char *buf = malloc(v->n * size);
    if (mt >= 0 && buf && H5Tset_size(mt, size) >= 0 && H5Tset_cset(mt, cset) >= 0 &&
        H5Tset_strpad(mt, H5T_STR_NULLTERM) >= 0 && H5Aread(a, mt, buf) >= 0) {
        rc = 0;
        for (size_t i = 0; i < v->n; i++)
            if (!(v->str[i] = strndup(buf + i * size, size)))
                rc = -1;
    }
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    return rc;
}

int h5io_read_attr(H5Out *f, const char *obj, const char *name, H5Value *v, Err *err)
{
    const char *fn = "h5io_read_attr";
    memset(v, 0, sizeof *v);
    if (check_open(f, 0, fn, err))
        return -1;
    const char *p = obj_path(obj);
    int rc = -1;
    hid_t o = -1, a = -1, t = -1, sp = -1, mt = -1;
    if ((o = H5Oopen(f->file, p, H5P_DEFAULT)) < 0) {
        h5_fail(err, fn, f, "no object '%s'", p);
        goto done;
    }
    if ((a = H5Aopen(o, name, H5P_DEFAULT)) < 0) {
        h5_fail(err, fn, f, "no attribute '%s' on '%s'", name, p);
        goto done;
    }
    if ((t = H5Aget_type(a)) < 0 || (sp = H5Aget_space(a)) < 0) {
        h5_fail(err, fn, f, "cannot read attribute '%s' of '%s'", name, p);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(sp);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Kind k = attr_kind(classify(t));
    if (rank < 0 || rank > 1 || n < 0 || k == H5IO_OTHER) {
        err_set(err, "%s: %s: attribute '%s' of '%s' is not a scalar or 1-D int, float, "
                "string or bool", fn, f->path, name, p);
        goto done;
    }
    /* a null dataspace (rank 0, no points) reads as an empty array */
    if (value_alloc(v, k, (size_t)n, rank == 1 || n == 0)) {
        err_set(err, "%s: %s: out of memory for attribute '%s' of '%s'", fn, f->path, name, p);
        goto done;
    }
    int bad;
    if (n == 0) {
        bad = 0;
    } else if (k == H5IO_STR) {
        bad = read_strings(a, t, v);
    } else {
        bad = (mt = mem_type(k)) < 0 || H5Aread(a, mt, (void *)value_data(v)) < 0;
    }
    if (bad) {
        h5_fail(err, fn, f, "cannot read attribute '%s' of '%s'", name, p);
        goto done;
    }
    rc = 0;
done:
    if (rc)
        h5io_value_free(v);
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    if (o >= 0) H5Oclose(o);
    return rc;
}

int h5io_read_attr_i64(H5Out *f, const char *obj, const char *name, int64_t *v, Err *err)
{
    H5Value x;
    if (h5io_read_attr(f, obj, name, &x, err))
        return -1;
    int ok = x.kind == H5IO_I64 && !x.is_array;
    if (ok)
        *v = x.i64[0];
    h5io_value_free(&x);
    if (!ok)
        return err_set(err, "h5io_read_attr_i64: %s: attribute '%s' of '%s' is not a scalar "
                       "integer", f->path, name, obj_path(obj));
    return 0;
}

/* Opens dataset `path`, classifies it and reads its shape into e. */
static hid_t open_dataset(H5Out *f, const char *fn, const char *p, H5Entry *e, Err *err)
{
    memset(e, 0, sizeof *e);
    hid_t d = H5Dopen2(f->file, p, H5P_DEFAULT);
    if (d < 0) {
        h5_fail(err, fn, f, "no dataset '%s'", p);
        return -1;
    }
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int shape = sp >= 0 ? entry_shape(e, sp) : -1;
    if (t < 0 || shape < 0)
        h5_fail(err, fn, f, "cannot read dataset '%s'", p);
    e->kind = (t >= 0 && shape == 0) ? classify(t) : H5IO_OTHER;
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (t < 0 || shape < 0) {
        H5Dclose(d);
        return -1;
    }
    return d;
}

int h5io_read_tensor(H5Out *f, const char *path, Tensor *t, Err *err)
{
    const char *fn = "h5io_read_tensor";
    if (check_open(f, 0, fn, err))
        return -1;
    const char *p = obj_path(path);
    H5Entry e;
    hid_t d = open_dataset(f, fn, p, &e, err);
    if (d < 0)
        return -1;
    int rc = -1, allocated = 0;
    int shape[TENSOR_MAX_DIM];
    if (e.kind != H5IO_F32 || e.ndim < 1) {
        err_set(err, "%s: %s: dataset '%s' is %s of rank %d, expected f32 of rank 1..%d", fn,
                f->path, p, h5io_kind_name(e.kind), e.ndim, TENSOR_MAX_DIM);
        goto done;
    }
    for (int i = 0; i < e.ndim; i++) {
        if (e.dims[i] > INT32_MAX) {
            err_set(err, "%s: %s: dataset '%s' dimension %d is %lld, too large", fn, f->path,
                    p, i + 1, (long long)e.dims[i]);
            goto done;
        }
        shape[i] = (int)e.dims[i];
    }
    if (!t->data && !t->cap && t->ndim == 0) {
        if (tensor_alloc(t, e.ndim, shape, err)) {
            err_prefix(err, fn);
            goto done;
        }
        allocated = 1;
    } else {
        int same = t->ndim == e.ndim;
        for (int i = 0; same && i < e.ndim; i++)
            same = t->shape[i] == shape[i];
        if (!same) {
            char want[64];
            Tensor s = tensor_view(NULL, e.ndim, shape);
            char got[64];
            err_set(err, "%s: %s: dataset '%s' has shape %s, tensor has %s", fn, f->path, p,
                    tensor_shape_str(&s, want, sizeof want),
                    tensor_shape_str(t, got, sizeof got));
            goto done;
        }
    }
    if (t->size && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        h5_fail(err, fn, f, "cannot read dataset '%s' (corrupt file?)", p);
        goto done;
    }
    rc = 0;
done:
    if (rc && allocated)
        tensor_free(t);
    H5Dclose(d);
    return rc;
}

int h5io_read_array(H5Out *f, const char *path, H5Value *v, Err *err)
{
    const char *fn = "h5io_read_array";
    memset(v, 0, sizeof *v);
    if (check_open(f, 0, fn, err))
        return -1;
    const char *p = obj_path(path);
    H5Entry e;
    hid_t d = open_dataset(f, fn, p, &e, err);
    if (d < 0)
        return -1;
    int rc = -1;
    hid_t mt = -1;
    if ((e.kind != H5IO_F64 && e.kind != H5IO_I64 && e.kind != H5IO_BYTES) || e.ndim != 1) {
        err_set(err, "%s: %s: dataset '%s' is %s of rank %d, expected 1-D f64, i64 or bytes",
                fn, f->path, p, h5io_kind_name(e.kind), e.ndim);
        goto done;
    }
    if (value_alloc(v, e.kind, (size_t)e.dims[0], 1)) {
        err_set(err, "%s: %s: out of memory for dataset '%s'", fn, f->path, p);
        goto done;
    }
    if (v->n && ((mt = mem_type(e.kind)) < 0 ||
                 H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, (void *)value_data(v)) < 0)) {
        h5_fail(err, fn, f, "cannot read dataset '%s' (corrupt file?)", p);
        goto done;
    }
    rc = 0;
done:
    if (rc)
        h5io_value_free(v);
    if (mt >= 0)
        H5Tclose(mt);
    H5Dclose(d);
    return rc;
}
