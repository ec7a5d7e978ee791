/*
 * h5io_types.c: the parts of io/h5io that reading and writing share: errors carrying
 * HDF5's innermost reason, the stored and in-memory HDF5 types of each H5Kind (h5py's bool
 * and string conventions), and the H5Value constructors and allocator.
 * See h5io.h for the file contract and h5io_internal.h for how the files divide the work.
 */
#include "io/h5io_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
const char *h5io_detail(char *buf, size_t len)
{
    Detail d = {buf, len, 0};
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_walk, &d);
    if (!d.got)
        snprintf(buf, len, "no reason given");
    return buf;
}

const char *h5io_fname(const H5Out *f) { return f->writing ? f->tmp : f->path; }

int h5io_fail(Err *err, const char *fn, const H5Out *f, const char *fmt, ...)
{
    char what[ERR_MSG_MAX / 2], detail[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(err, "%s: %s: %s (HDF5: %s)", fn, h5io_fname(f), what,
                   h5io_detail(detail, sizeof detail));
}

int h5io_check_open(const H5Out *f, int writing, const char *fn, Err *err)
{
    if (!f || !f->open)
        return err_set(err, "%s: file is not open", fn);
    if (writing && !f->writing)
        return err_set(err, "%s: %s is open for reading, expected a file being written", fn,
                       f->path);
    return 0;
}

/* "" and "/" name the root. */
const char *h5io_obj_path(const char *p) { return (!p || !p[0]) ? "/" : p; }

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

hid_t h5io_vlen_str_type(H5T_cset_t cset)
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
hid_t h5io_file_type(H5Kind k)
{
    switch (k) {
    case H5IO_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case H5IO_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case H5IO_I64: return H5Tcopy(H5T_STD_I64LE);
    case H5IO_BYTES: return H5Tcopy(H5T_STD_U8LE);
    case H5IO_STR: return h5io_vlen_str_type(H5T_CSET_UTF8);
    case H5IO_BOOL: return bool_type();
    default: return -1;
    }
}

/* The in-memory type matching H5Value's pointer for kind k (a new handle). */
hid_t h5io_mem_type(H5Kind k)
{
    switch (k) {
    case H5IO_F32: return H5Tcopy(H5T_NATIVE_FLOAT);
    case H5IO_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case H5IO_I64: return H5Tcopy(H5T_NATIVE_INT64);
    case H5IO_BYTES: return H5Tcopy(H5T_NATIVE_UINT8);
    case H5IO_STR: return h5io_vlen_str_type(H5T_CSET_UTF8);
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
H5Kind h5io_classify(hid_t t)
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

H5Kind h5io_attr_kind(H5Kind k)
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

const void *h5io_value_data(const H5Value *v)
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
int h5io_value_alloc(H5Value *v, H5Kind k, size_t n, int is_array)
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

