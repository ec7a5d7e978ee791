"""bench_imagenet.py: the PyTorch peers of tools/bench_imagenet.lua for `make bench` (issue 15).

  decode DIR                  Pillow decode + torchvision's RandomResizedCrop(224) (bilinear),
                              RandomHorizontalFlip, ToTensor, Normalize on every file of DIR,
                              one thread, after a warm-up pass:
                              torch decode_images_per_s=<f> threads=1 version=<v>
(ResNet-50's training step is tools/bench_nets.py's.)
Never a dependency of the harness: `make bench` runs it only when python3-torch and
python3-torchvision are installed.
"""
import os
import sys
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def decode(folder):
    torch.set_num_threads(1)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def one_pass():
        for path in files:
            with open(path, "rb") as f:
                tf(Image.open(f).convert("RGB"))

    one_pass()
    t0 = time.perf_counter()
    one_pass()
    print(f"torch decode_images_per_s={len(files) / (time.perf_counter() - t0):.1f} threads=1 "
          f"version={torchvision.__version__}")


if __name__ == "__main__":
    decode(sys.argv[2])
