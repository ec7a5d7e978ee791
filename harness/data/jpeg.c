/*
 * jpeg.c: one ImageNet file to 8-bit RGB through TurboJPEG (see jpeg.h for the scale and
 * colour rules). Non-goals: PNG and other formats (named in the error), resampling and crops
 * (the loader's), EXIF orientation (ImageNet's pipelines ignore it too).
 */
#include "data/jpeg.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

struct JpegDecoder {
    tjhandle tj;
    uint8_t *buf;  /* the decoded pixels (CMYK and gray files: 4 or 1 bytes a pixel first) */
    size_t cap;    /* bytes buf holds */
};

static const uint8_t PNG_MAGIC[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

JpegDecoder *jpeg_decoder_new(Err *err)
{
    JpegDecoder *d = calloc(1, sizeof *d);
    if (d)
        d->tj = tjInitDecompress();
    if (!d || !d->tj) {
        free(d);
        err_set(err, "jpeg: cannot create a TurboJPEG decoder (out of memory)");
        return NULL;
    }
    return d;
}

void jpeg_decoder_free(JpegDecoder *d)
{
    if (!d)
        return;
    tjDestroy(d->tj);
    free(d->buf);
    free(d);
}

/* Whether the last TurboJPEG failure was a warning that leaves the image whole (e.g.
 * "extraneous bytes before marker", which a few ImageNet files have and Pillow accepts): not
 * an error, and not the data ending early ("Premature end of JPEG file"). ok: the call's own
 * results are usable. */
static int tolerable(JpegDecoder *d, int ok)
{
    return ok && tjGetErrorCode(d->tj) == TJERR_WARNING &&
           !strstr(tjGetErrorStr2(d->tj), "Premature end");
}

/* The header, or an error that says what the bytes are when they are not a JPEG. */
static int read_header(JpegDecoder *d, const uint8_t *buf, size_t len, int *w, int *h,
                       int *cs, Err *err)
{
    if (len >= sizeof PNG_MAGIC && !memcmp(buf, PNG_MAGIC, sizeof PNG_MAGIC))
        return err_set(err, "jpeg: a PNG file, not a JPEG (convert it to JPEG, or skip it)");
    if (len < 3 || buf[0] != 0xff || buf[1] != 0xd8)
        return err_set(err, "jpeg: not a JPEG file (it does not start with the SOI marker)");
    int subsamp = 0;
    *w = *h = 0;
    if (tjDecompressHeader3(d->tj, buf, (unsigned long)len, w, h, &subsamp, cs) &&
        !tolerable(d, *w > 0 && *h > 0))
        return err_set(err, "jpeg: bad header: %s", tjGetErrorStr2(d->tj));
    return 0;
}

int jpeg_size(JpegDecoder *d, const uint8_t *buf, size_t len, int *w, int *h, Err *err)
{
    int cs = 0;
    return read_header(d, buf, len, w, h, &cs, err);
}

/* The smallest TurboJPEG scaling factor whose output covers min_w x min_h (1/1 for 0 x 0,
 * and when even the full size does not cover it). */
static tjscalingfactor pick_scale(int w, int h, int min_w, int min_h)
{
    int n = 0;
    const tjscalingfactor *f = tjGetScalingFactors(&n);
    tjscalingfactor best = {1, 1};
    if (min_w <= 0 && min_h <= 0)
        return best; /* no size asked for: the full image */
    for (int i = 0; f && i < n; i++) {
        if (f[i].num > f[i].denom)
            continue; /* never upscale */
        int sw = TJSCALED(w, f[i]), sh = TJSCALED(h, f[i]);
        if (sw >= min_w && sh >= min_h &&
            (long long)f[i].num * best.denom < (long long)best.num * f[i].denom)
            best = f[i];
    }
    return best;
}

/* PIL's MULDIV255: round(a b / 255) in integers. */
static inline int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

int jpeg_decode(JpegDecoder *d, const uint8_t *buf, size_t len, int min_w, int min_h,
                JpegImage *img, Err *err)
{
    int w = 0, h = 0, cs = 0;
    if (read_header(d, buf, len, &w, &h, &cs, err))
        return -1;
    tjscalingfactor f = pick_scale(w, h, min_w, min_h);
    int sw = TJSCALED(w, f), sh = TJSCALED(h, f);
    size_t pixels = (size_t)sw * (size_t)sh;
    if (sw < 1 || sh < 1 || pixels > JPEG_MAX_PIXELS)
        return err_set(err, "jpeg: %d x %d pixels at scale %d/%d, expected 1 to %zu", sw, sh,
                       f.num, f.denom, JPEG_MAX_PIXELS);
    int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK, gray = cs == TJCS_GRAY;
    int pf = cmyk ? TJPF_CMYK : gray ? TJPF_GRAY : TJPF_RGB;
    int in_bytes = cmyk ? 4 : gray ? 1 : 3;
    /* the decode goes to the end of a buffer of 3 bytes a pixel (4 for CMYK) so that gray and
     * CMYK can expand into RGB from the front without overlap */
    size_t need = pixels * (size_t)(cmyk ? 4 : 3);
    if (need > d->cap) {
        uint8_t *nb = realloc(d->buf, need);
        if (!nb)
            return err_set(err, "jpeg: out of memory for %d x %d pixels", sw, sh);
        d->buf = nb;
        d->cap = need;
    }
    uint8_t *dst = d->buf + (need - pixels * (size_t)in_bytes);
    if (tjDecompress2(d->tj, buf, (unsigned long)len, dst, sw, 0, sh, pf, TJFLAG_ACCURATEDCT) &&
        !tolerable(d, 1))
        return err_set(err, "jpeg: cannot decode: %s", tjGetErrorStr2(d->tj));
    uint8_t *rgb = d->buf;
    if (gray) {
        for (size_t i = 0; i < pixels; i++) {
            uint8_t v = dst[i];
            rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
        }
    } else if (cmyk) {
        /* stored (inverted) C' M' Y' K'; PIL: c = 255 - C', nk = K', R = nk - c nk / 255 */
        for (size_t i = 0; i < pixels; i++) {
            /* read the pixel whole before writing: its RGB overlaps its own CMYK bytes */
            const uint8_t *p = dst + 4 * i;
            int cmy[3] = {p[0], p[1], p[2]}, nk = p[3];
            for (int ch = 0; ch < 3; ch++) {
                int v = nk - muldiv255(255 - cmy[ch], nk);
                rgb[3 * i + (size_t)ch] = (uint8_t)(v < 0 ? 0 : v);
            }
        }
    }
    *img = (JpegImage){rgb, sw, sh, w, h, f.num, f.denom};
    return 0;
}

int jpeg_encode(const uint8_t *px, int w, int h, int channels, int quality, uint8_t **out,
                size_t *len, Err *err)
{
    int pf = channels == 1 ? TJPF_GRAY : channels == 3 ? TJPF_RGB : channels == 4 ? TJPF_CMYK
                                                                                   : -1;
    *out = NULL;
    *len = 0;
    if (pf < 0 || w < 1 || h < 1 || quality < 1 || quality > 100)
        return err_set(err, "jpeg_encode: %d x %d, %d channels, quality %d: expected a size "
                            ">= 1, 1, 3 or 4 channels, quality 1..100", w, h, channels, quality);
    tjhandle tj = tjInitCompress();
    if (!tj)
        return err_set(err, "jpeg_encode: cannot create a TurboJPEG compressor");
    unsigned char *buf = NULL;
    unsigned long n = 0;
    int rc = tjCompress2(tj, px, w, 0, h, pf, &buf, &n, channels == 1 ? TJSAMP_GRAY : TJSAMP_444,
                         quality, TJFLAG_ACCURATEDCT);
    if (rc)
        err_set(err, "jpeg_encode: %s", tjGetErrorStr2(tj));
    tjDestroy(tj);
    if (rc) {
        tjFree(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

void jpeg_free_buf(uint8_t *buf) { tjFree(buf); }
