/*
 * fuzz_png.c: libFuzzer harness for the npm PNG converter (tools/cifar_png2bin.c, compiled in
 * with its main left out). The input is the PNG file; it is converted as a file of 2 images
 * (1024 x 2 pixels), so the seeds in tests/fuzz/seeds_png stay a few kilobytes. Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes libpng ignore CRC and Adler-32 errors
 * so that mutated inputs reach the decoder.
 */
#define CIFAR_PNG2BIN_NO_MAIN
#include "../../tools/cifar_png2bin.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ROWS 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[FUZZ_ROWS * P2B_RECORD];
    static const uint8_t labels[FUZZ_ROWS] = {6, 9};
    char msg[512];
    png2bin_convert(data, size, labels, FUZZ_ROWS, out, msg, sizeof msg);
    return 0;
}
