/*
 * h5io_write.c: creating a file ("<path>.tmp", format_version first), groups, attributes
 * and datasets (float32 tensors, optionally chunked + shuffle + deflate; 1-D arrays). The
 * file becomes <path> only through h5io_commit (h5io_commit.c).
 * See h5io.h for the file contract and h5io_internal.h for how the files divide the work.
 */
#include "io/h5io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
        h5io_detail(detail, sizeof detail);
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
                       h5io_fname(f), strlen(path), H5IO_PATH_MAX - 1);
    snprintf(buf, sizeof buf, "%s", path);
    hid_t gcpl = group_cpl();
    if (gcpl < 0)
        return h5io_fail(err, fn, f, "cannot make a group property list");
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
                h5io_fail(err, fn, f, "cannot create group '%s'", buf);
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
    if (h5io_check_open(f, 1, fn, err))
        return -1;
    const char *p = h5io_obj_path(group);
    if (!strcmp(p, "/"))
        return 0;
    if (make_groups(f, p, 1, fn, err))
        return -1;
    hid_t g = H5Gopen2(f->file, p, H5P_DEFAULT);
    if (g < 0)
        return h5io_fail(err, fn, f, "'%s' exists and is not a group", p);
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
    if (v->n && !h5io_value_data(v))
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
    if (h5io_check_open(f, 1, fn, err))
        return -1;
    if (!name || !name[0])
        return err_set(err, "%s: %s: attribute name is empty", fn, f->tmp);
    if (strlen(name) >= H5IO_NAME_MAX)
        return err_set(err, "%s: %s: attribute name has %zu characters, at most %d allowed", fn,
                       f->tmp, strlen(name), H5IO_NAME_MAX - 1);
    if (check_value(v, 0, fn, f->tmp, name, err))
        return -1;
    const char *p = h5io_obj_path(obj);
    int rc = -1;
    hsize_t n = (hsize_t)v->n;
    hid_t o = -1, ft = -1, mt = -1, sp = -1, a = -1;
    if ((o = H5Oopen(f->file, p, H5P_DEFAULT)) < 0) {
        h5io_fail(err, fn, f, "no object '%s' for attribute '%s'", p, name);
        goto done;
    }
    ft = h5io_file_type(v->kind);
    mt = h5io_mem_type(v->kind);
    sp = v->is_array ? H5Screate_simple(1, &n, NULL) : H5Screate(H5S_SCALAR);
    if (ft < 0 || mt < 0 || sp < 0) {
        h5io_fail(err, fn, f, "cannot make the type of attribute '%s'", name);
        goto done;
    }
    if ((a = H5Acreate2(o, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        h5io_fail(err, fn, f, "cannot create attribute '%s' on '%s'", name, p);
        goto done;
    }
    if (v->n && H5Awrite(a, mt, h5io_value_data(v)) < 0) {
        h5io_fail(err, fn, f, "cannot write attribute '%s' on '%s'", name, p);
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
    const char *p = h5io_obj_path(path);
    if (!strcmp(p, "/"))
        return err_set(err, "%s: %s: dataset path is empty", fn, f->tmp);
    if (make_groups(f, p, 0, fn, err))
        return -1;
    int rc = -1;
    hsize_t total = 1, chunk[TENSOR_MAX_DIM];
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    hid_t ft = h5io_file_type(k), mt = h5io_mem_type(k), sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    if (ft < 0 || mt < 0 || sp < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        h5io_fail(err, fn, f, "cannot make the type of dataset '%s'", p);
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
            h5io_fail(err, fn, f, "cannot set chunking of dataset '%s'", p);
            goto done;
        }
    }
    if ((d = H5Dcreate2(f->file, p, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        h5io_fail(err, fn, f, "cannot create dataset '%s'", p);
        goto done;
    }
    if (total > 0 && H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        h5io_fail(err, fn, f, "cannot write dataset '%s'", p);
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
    if (h5io_check_open(f, 1, fn, err))
        return -1;
    if (!t)
        return err_set(err, "%s: %s: '%s': tensor is NULL", fn, f->tmp, h5io_obj_path(path));
    if (t->ndim < 1 || t->ndim > TENSOR_MAX_DIM)
        return err_set(err, "%s: %s: '%s': tensor has %d dimensions, expected 1..%d", fn,
                       f->tmp, h5io_obj_path(path), t->ndim, TENSOR_MAX_DIM);
    if (t->size && !t->data)
        return err_set(err, "%s: %s: '%s': tensor has no data", fn, f->tmp, h5io_obj_path(path));
    if (deflate < H5IO_DEFLATE_AUTO || deflate > H5IO_DEFLATE_MAX)
        return err_set(err, "%s: %s: '%s': deflate is %d, expected %d (auto) or 0..%d", fn,
                       f->tmp, h5io_obj_path(path), deflate, H5IO_DEFLATE_AUTO, H5IO_DEFLATE_MAX);
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
    if (h5io_check_open(f, 1, fn, err))
        return -1;
    if (check_value(v, 1, fn, f->tmp, h5io_obj_path(path), err))
        return -1;
    hsize_t n = (hsize_t)v->n;
    return write_dataset(f, fn, path, v->kind, 1, &n, 0, h5io_value_data(v), err);
}

