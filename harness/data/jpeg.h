/*
 * jpeg.h: decoding one ImageNet file (issue 15) with libjpeg-turbo's TurboJPEG API (Debian
 * libturbojpeg0-dev), to interleaved 8-bit RGB.
 *
 * Size: the decoder can scale in the DCT domain by num/8 (8/8 down to 1/8, and more) at a
 * fraction of the cost of a full decode and resize. jpeg_decode picks the smallest of
 * TurboJPEG's factors whose output is at least min_w x min_h (TJSCALED: ceil(w num / den));
 * 0 x 0, or an image smaller than that, decodes at full size (never upscaled). A loader asks
 * for the size its crop needs at the output resolution (e.g. a 224 crop of a region a quarter
 * of the image wide needs 4 x 224 columns), so that no detail the crop keeps is lost.
 * Colour: YCbCr and RGB JPEGs decode as TurboJPEG converts them; grayscale ones decode to gray
 * and are replicated into R = G = B (as PIL's convert("RGB")); CMYK and YCCK ones (Adobe
 * Photoshop's, with inverted values as stored) decode to the stored C K values and convert as
 * PIL does for such files: R = C' K' / 255, G = M' K' / 255, B = Y' K' / 255 with the stored
 * (inverted) channel values, rounded.
 * Errors: a buffer that is not a JPEG (a PNG under a .JPEG name, which ILSVRC-2012 has, is named
 * as such), a corrupt file, a truncated one (libjpeg's "Premature end of JPEG file" warning: a
 * partly grey image is never returned as if it were whole, as Pillow refuses it too), or an
 * image over JPEG_MAX_PIXELS fails with err's message; the caller adds the path. Other
 * warnings leave the image whole and are accepted, as Pillow accepts them (a few ImageNet files
 * have "extraneous bytes before marker").
 */
#ifndef JPEG_H
#define JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

/* Largest image decoded, in pixels after scaling (ImageNet's largest is about 7,000 x 5,000). */
#define JPEG_MAX_PIXELS ((size_t)1 << 27)

typedef struct JpegImage {
    const uint8_t *rgb; /* h * w * 3 bytes, row-major, interleaved R G B, in the decoder's
                         * buffer: valid until its next decode */
    int w, h;           /* decoded (scaled) size */
    int full_w, full_h; /* the file's size */
    int num, den;       /* the scaling factor used: w = ceil(full_w num / den) */
} JpegImage;

/* A decoder: a TurboJPEG handle and a buffer that grows to the largest image decoded. One per
 * thread (a handle is not thread-safe). */
typedef struct JpegDecoder JpegDecoder;

JpegDecoder *jpeg_decoder_new(Err *err);
void jpeg_decoder_free(JpegDecoder *d);

/* Reads only the header: the file's width and height. */
int jpeg_size(JpegDecoder *d, const uint8_t *buf, size_t len, int *w, int *h, Err *err);

/* Decodes buf (len bytes) at the smallest scale whose output covers min_w x min_h. */
int jpeg_decode(JpegDecoder *d, const uint8_t *buf, size_t len, int min_w, int min_h,
                JpegImage *img, Err *err);

/* Encodes w x h pixels of `channels` interleaved bytes (1: gray, 3: RGB, 4: CMYK, stored as
 * given, which TurboJPEG writes as YCCK) at quality 1..100, 4:4:4, into *out (len bytes,
 * free with jpeg_free_buf). For generated test and smoke data (ImageNet-like folders). */
int jpeg_encode(const uint8_t *px, int w, int h, int channels, int quality, uint8_t **out,
                size_t *len, Err *err);
void jpeg_free_buf(uint8_t *buf);

#endif
