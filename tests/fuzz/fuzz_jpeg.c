/*
 * fuzz_jpeg.c: libFuzzer harness for the ImageNet decode path (harness/data/jpeg.c, over the
 * system libjpeg-turbo): jpeg_size, then jpeg_decode at a requested size, which picks the DCT
 * scale and converts gray and CMYK files. `make fuzz` builds it with clang -fsanitize=fuzzer,
 * address,undefined; tests/fuzz/README.md describes the corpora and the regression inputs.
 *
 * Input: bytes 0-1 the requested minimum width and height (0..255 each, 0 0: full size); the
 * rest is the file.
 */
#include <stdint.h>
#include <stdlib.h>

#include "data/jpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HEADER 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static JpegDecoder *dec;
    Err err;
    if (size < FUZZ_HEADER)
        return 0;
    if (!dec && !(dec = jpeg_decoder_new(&err)))
        abort();
    const uint8_t *file = data + FUZZ_HEADER;
    size_t len = size - FUZZ_HEADER;
    int w = 0, h = 0;
    if (jpeg_size(dec, file, len, &w, &h, &err))
        return 0;
    JpegImage img;
    if (jpeg_decode(dec, file, len, data[0], data[1], &img, &err) == 0) {
        /* touch every pixel: a short buffer shows up under AddressSanitizer */
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)img.w * (size_t)img.h * 3; i++)
            sum += img.rgb[i];
        if (img.w < 1 || img.h < 1 || img.w > img.full_w || img.h > img.full_h)
            abort();
        (void)sum;
    }
    return 0;
}
