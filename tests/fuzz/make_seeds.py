"""make_seeds.py: writes the fuzzers' seed corpora (committed; rerun only to change them):
  seeds_png/      PNGs for fuzz_png: a valid 1024 x 2 RGB file and one of each rejected kind
  seeds_records/  inputs for fuzz_records: 2 header bytes, then CIFAR-10/100 records
  seeds_labels/   JSON label arrays for fuzz_labels
  regress/        hostile inputs that every fuzzer and tests/engine/test_data_files.c
                  (fuzz_regressions) run: hand-made edge cases, plus any crash input that
                  `make fuzz` finds (copied here by hand, named after the bug)
Run: cd tests/fuzz && /usr/bin/python3 make_seeds.py   (python3-pil, python3-numpy)
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image


def png(path, arr, mode):
    Image.fromarray(arr, mode=mode).save(path, optimize=True)


def main():
    rng = np.random.default_rng(3)
    for d in ("seeds_png", "seeds_records", "seeds_labels"):
        os.makedirs(d, exist_ok=True)
    # Low-entropy pixels (few distinct values) keep the files small.
    rgb = (rng.integers(0, 4, (2, 1024, 3)) * 60).astype(np.uint8)
    png("seeds_png/valid_rgb.png", rgb, "RGB")
    png("seeds_png/one_row.png", rgb[:1], "RGB")
    png("seeds_png/narrow.png", rgb[:, :1000], "RGB")
    png("seeds_png/rgba.png", np.concatenate([rgb, rgb[:, :, :1]], axis=2), "RGBA")
    png("seeds_png/gray.png", rgb[:, :, 0], "L")
    Image.fromarray(rgb, mode="RGB").quantize(4).save("seeds_png/palette.png")

    def record(kind, label, coarse=0):
        head = bytes([coarse, label]) if kind == 100 else bytes([label])
        return head + bytes(rng.integers(0, 256, 3072, dtype=np.uint8))

    with open("seeds_records/c10_one.bin", "wb") as f:
        f.write(bytes([0x00, 0x84]) + record(10, 6))
    with open("seeds_records/c10_two.bin", "wb") as f:
        f.write(bytes([0x02, 0x04]) + record(10, 3) + record(10, 9))
    with open("seeds_records/c100_two.bin", "wb") as f:
        f.write(bytes([0x03, 0x88]) + record(100, 99, 19) + record(100, 0, 0))
    with open("seeds_labels/small.json", "w") as f:
        f.write("[6,9,9,4,1,1,2,7,8,3]")
    with open("seeds_labels/spaced.json", "w") as f:
        f.write(" [ 0 ,\n 1 ]\n")
    with open("seeds_labels/empty.json", "w") as f:
        f.write("[]")
    regress()


def set_ihdr(data, width, height):
    """Rewrites the IHDR size fields of a PNG and fixes the chunk's CRC."""
    ihdr = bytearray(data[8:8 + 25])
    ihdr[8:16] = struct.pack(">II", width, height)
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return data[:8] + bytes(ihdr) + data[33:]


def regress():
    os.makedirs("regress", exist_ok=True)
    valid = open("seeds_png/valid_rgb.png", "rb").read()
    # Headers that would ask for huge buffers if the size were checked after allocating.
    open("regress/png_huge_height.png", "wb").write(set_ihdr(valid, 1024, 0x7FFFFFFF))
    open("regress/png_huge_width.png", "wb").write(set_ihdr(valid, 0x7FFFFFFF, 2))
    open("regress/png_zero_height.png", "wb").write(set_ihdr(valid, 1024, 0))
    open("regress/png_truncated.png", "wb").write(valid[: len(valid) // 2])
    open("regress/png_signature_only.png", "wb").write(valid[:8])
    rec = bytes([255]) + bytes(3072)
    open("regress/records_label_255.bin", "wb").write(bytes([0x00, 0xFF]) + rec)
    open("regress/records_partial.bin", "wb").write(bytes([0x01, 0x00]) + rec[:100])
    open("regress/labels_deep.json", "w").write("[" * 2000)
    open("regress/labels_big_number.json", "w").write("[99999999999999999999]")


if __name__ == "__main__":
    main()
